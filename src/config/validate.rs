//! The checks of `&run`, `&forcing` and `&perturbation` that need more than one key (each
//! error names the namelist line of the key it blames).

use super::namelist::NamelistError;
use super::{fmt_time, Config, ConfigError, CouplerMode, ForcingVariable, Model};

impl super::Loader<'_> {
    pub(super) fn validate(&self, c: &Config) -> Result<(), ConfigError> {
        self.validate_period(c)?;
        if c.nrt.max_windows_per_run == 0 {
            return Err(self.err("nrt", "max_windows_per_run", "must be at least 1".into()));
        }
        self.validate_forcing_fallback(c)?;
        let layers = self.validate_cold_start(c)?;
        self.validate_history_keys(c)?;
        self.validate_forcing(c)?;
        self.validate_perturbation(c, layers)?;
        self.validate_da(c)?;
        self.validate_image(c)?;
        self.validate_coupler(c)
    }

    /// Start, end, window, time step and ensemble size fit together.
    fn validate_period(&self, c: &Config) -> Result<(), ConfigError> {
        let r = &c.run;
        if r.end <= r.start {
            return Err(self.err(
                "run",
                "end",
                format!(
                    "end {} is not after start {}",
                    fmt_time(r.end),
                    fmt_time(r.start)
                ),
            ));
        }
        if r.window_hours == 0 {
            return Err(self.err("run", "window_hours", "must be positive".into()));
        }
        if r.timestep == 0 || r.window_seconds() % i64::from(r.timestep) != 0 {
            let key = if self.is_set("run", "timestep") || !self.is_set("run", "window_hours") {
                "timestep"
            } else {
                "window_hours"
            };
            return Err(self.err(
                "run",
                key,
                format!(
                    "time step {} s does not divide the {} h window ({} s)",
                    r.timestep,
                    r.window_hours,
                    r.window_seconds()
                ),
            ));
        }
        let length = (r.end - r.start).num_seconds();
        if length % r.window_seconds() != 0 {
            return Err(self.err(
                "run",
                "end",
                format!(
                    "run length from {} to {} ({} h) is not a whole number of {} h windows",
                    fmt_time(r.start),
                    fmt_time(r.end),
                    length as f64 / 3600.0,
                    r.window_hours
                ),
            ));
        }
        if r.ensemble_size == 0 {
            return Err(self.err("run", "ensemble_size", "must be at least 1".into()));
        }
        Ok(())
    }

    /// Cold-start soil moisture and temperature for the model's layers; returns the layer count.
    fn validate_cold_start(&self, c: &Config) -> Result<usize, ConfigError> {
        let r = &c.run;
        let layers = r.cold_start_soil_moisture.len();
        let (model_layers, model_text) = match r.model {
            Model::Noah => (4, "Noah has 4 soil layers".to_string()),
            Model::Colm => (10, "CoLM has 10 soil layers".to_string()),
            Model::Bucket => {
                let n = self.validate_bucket(c)?;
                let text = format!("the bucket has {n} soil layers (bucket:layer_thickness)");
                (n, text)
            }
        };
        if layers != model_layers {
            return Err(self.err(
                "run",
                "cold_start_soil_moisture",
                format!("{model_text}, {layers} values given"),
            ));
        }
        for (i, &v) in r.cold_start_soil_moisture.iter().enumerate() {
            if !(v > 0.0 && v <= 1.0) {
                return Err(self.err_at(
                    self.loc_item("run", "cold_start_soil_moisture", i),
                    "run",
                    "cold_start_soil_moisture",
                    format!("value {v} of layer {} is outside (0, 1] m3 m-3", i + 1),
                ));
            }
        }
        if let Some(sd) = &r.cold_start_soil_moisture_std {
            if sd.len() != layers {
                return Err(self.err(
                    "run",
                    "cold_start_soil_moisture_std",
                    format!(
                        "{} values, cold_start_soil_moisture has {layers} (one per soil layer)",
                        sd.len()
                    ),
                ));
            }
            for (i, &v) in sd.iter().enumerate() {
                if !(0.0..=0.5).contains(&v) {
                    return Err(self.err_at(
                        self.loc_item("run", "cold_start_soil_moisture_std", i),
                        "run",
                        "cold_start_soil_moisture_std",
                        format!("value {v} of layer {} is outside [0, 0.5] m3 m-3", i + 1),
                    ));
                }
            }
        }
        let corr = r.cold_start_soil_moisture_corr_km;
        if !(corr.is_finite() && corr >= 0.0) {
            return Err(self.err(
                "run",
                "cold_start_soil_moisture_corr_km",
                format!("{corr} km: must be >= 0"),
            ));
        }
        let rho = r.cold_start_layer_correlation;
        if !(0.0..=1.0).contains(&rho) {
            return Err(self.err(
                "run",
                "cold_start_layer_correlation",
                format!(
                    "{rho}: must be in [0, 1] (the correlation of the initial spread between \
                     adjacent soil layers; 1 = one profile-wide error)"
                ),
            ));
        }
        if !(150.0..=350.0).contains(&r.cold_start_temperature) {
            return Err(self.err(
                "run",
                "cold_start_temperature",
                format!(
                    "{} K is not a plausible soil temperature (150 to 350 K)",
                    r.cold_start_temperature
                ),
            ));
        }
        Ok(layers)
    }

    /// History interval and compression.
    fn validate_history_keys(&self, c: &Config) -> Result<(), ConfigError> {
        let r = &c.run;
        if r.history_interval_hours == 0
            || (i64::from(r.history_interval_hours) * 3600) % i64::from(r.timestep) != 0
        {
            return Err(self.err(
                "run",
                "history_interval_hours",
                format!(
                    "must be a positive multiple of the {} s time step",
                    r.timestep
                ),
            ));
        }
        if r.history_compression > 9 {
            return Err(self.err(
                "run",
                "history_compression",
                format!("deflate level {} is outside 0 to 9", r.history_compression),
            ));
        }
        Ok(())
    }

    /// `&forcing`: interval, file template (mode 'files' only), variables and height.
    fn validate_forcing(&self, c: &Config) -> Result<(), ConfigError> {
        let r = &c.run;
        let f = &c.forcing;
        if f.interval_hours == 0 {
            return Err(self.err("forcing", "interval_hours", "must be positive".into()));
        }
        if 24 % f.interval_hours != 0 {
            // The data atmosphere reads files at multiples of the interval since midnight.
            return Err(self.err(
                "forcing",
                "interval_hours",
                format!(
                    "{} h does not divide a day (use 1, 2, 3, 4, 6, 8, 12 or 24)",
                    f.interval_hours
                ),
            ));
        }
        if f.file_template.trim().is_empty() {
            // Only mode 'files' reads the data files of &forcing; the other modes take
            // interval_hours, forcing_height and sw_zenith_weighting from it, or the defaults.
            if c.coupler.mode == CouplerMode::Files {
                if self.nl.group("forcing").is_none() {
                    return Err(NamelistError::MissingGroup {
                        file: self.nl.file.clone(),
                        group: "forcing".into(),
                        available: self.nl.group_names(),
                    }
                    .into());
                }
                return Err(self.err(
                    "forcing",
                    "file_template",
                    "is required with coupler:mode = 'files' (the default): the data files to read"
                        .into(),
                ));
            }
        } else if !f.file_template.contains('%') {
            return Err(self.err(
                "forcing",
                "file_template",
                format!(
                    "'{}' has no strftime field (like %Y%m%d%H), so every time would read the same file",
                    f.file_template
                ),
            ));
        }
        // chrono reports a bad strftime pattern only when formatting; check it here.
        let mut probe = String::new();
        if std::fmt::write(
            &mut probe,
            format_args!("{}", r.start.format(&f.file_template)),
        )
        .is_err()
        {
            return Err(self.err(
                "forcing",
                "file_template",
                format!("'{}' is not a valid strftime pattern", f.file_template),
            ));
        }
        for v in ForcingVariable::ALL {
            let (name, units) = f.variable(v);
            if name.trim().is_empty() {
                return Err(self.err("forcing", &format!("{}_var", v.name()), "is empty".into()));
            }
            if units.trim().is_empty() {
                return Err(self.err("forcing", &format!("{}_units", v.name()), "is empty".into()));
            }
        }
        if !(f.forcing_height > 0.0 && f.forcing_height.is_finite()) {
            return Err(self.err(
                "forcing",
                "forcing_height",
                format!("{} m must be positive", f.forcing_height),
            ));
        }
        Ok(())
    }

    /// `&perturbation` against the time step and the model's `layers`.
    fn validate_perturbation(&self, c: &Config, layers: usize) -> Result<(), ConfigError> {
        let r = &c.run;
        let p = &c.perturbation;
        let g = "perturbation";
        if p.interval_seconds == 0 || !p.interval_seconds.is_multiple_of(r.timestep) {
            return Err(self.err(
                g,
                "interval_seconds",
                format!(
                    "{} s is not a positive multiple of the {} s time step",
                    p.interval_seconds, r.timestep
                ),
            ));
        }
        if p.state_interval_seconds == 0 || !p.state_interval_seconds.is_multiple_of(r.timestep) {
            return Err(self.err(
                g,
                "state_interval_seconds",
                format!(
                    "{} s is not a positive multiple of the {} s time step",
                    p.state_interval_seconds, r.timestep
                ),
            ));
        }
        if !(p.std_normal_max > 0.0 && p.std_normal_max.is_finite()) {
            return Err(self.err(g, "std_normal_max", "must be positive".into()));
        }
        let n = p.forcing_vars.len();
        for (i, v) in p.forcing_vars.iter().enumerate() {
            if p.forcing_vars[..i].contains(v) {
                return Err(self.err_at(
                    self.loc_item(g, "forcing_vars", i),
                    g,
                    "forcing_vars",
                    format!("'{}' appears twice", v.name()),
                ));
            }
        }
        for (key, len) in [
            ("forcing_types", p.forcing_types.len()),
            ("forcing_std", p.forcing_std.len()),
            ("forcing_tau_hours", p.forcing_tau_hours.len()),
        ] {
            if len != n {
                return Err(self.err(
                    g,
                    key,
                    format!("{len} values given, but forcing_vars names {n} variables"),
                ));
            }
        }
        self.check_std(g, "forcing_std", &p.forcing_std)?;
        for (i, &t) in p.forcing_tau_hours.iter().enumerate() {
            if !(t > 0.0 && t.is_finite()) {
                return Err(self.err_at(
                    self.loc_item(g, "forcing_tau_hours", i),
                    g,
                    "forcing_tau_hours",
                    format!("time scale {t} h must be positive"),
                ));
            }
        }
        self.check_corr(g, "forcing_corr", &p.forcing_corr, n, "forcing_vars")?;
        if !(p.spatial_corr_km >= 0.0 && p.spatial_corr_km.is_finite()) {
            return Err(self.err(g, "spatial_corr_km", "must be >= 0".into()));
        }
        if p.state_std.len() != layers {
            return Err(self.err(
                g,
                "state_std",
                format!(
                    "{} values given, but the model has {layers} soil layers",
                    p.state_std.len()
                ),
            ));
        }
        self.check_std(g, "state_std", &p.state_std)?;
        if !(p.state_tau_hours > 0.0 && p.state_tau_hours.is_finite()) {
            return Err(self.err(g, "state_tau_hours", "must be positive".into()));
        }
        self.check_corr(g, "state_corr", &p.state_corr, layers, "state_std")?;
        Ok(())
    }
}
