//! `&coupler`: where the atmosphere's forcing comes from and where the land state goes
//! (docs/coupling.md, ../shared/docs/COUPLING.md §2–§3). Transport and timing only, so no key
//! enters the fingerprint: the same science run can be fed from files or an exchange
//! directory and continue from the other's restarts.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How the atmosphere is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CouplerMode {
    /// Mode 1: the data files of `&forcing` (valid-time or forecast-archive names).
    Files,
    /// Mode 3: an exchange directory shared with any atmosphere program.
    Exchange,
    /// Mode 2: WRF output files on the WRF domain, and the export into `wrfinput`.
    Wrf,
    /// Mode 4: one MPI world with the atmosphere (`mpirun … : …`), records over MPI.
    Mpmd,
}

impl CouplerMode {
    pub fn name(self) -> &'static str {
        match self {
            CouplerMode::Files => "files",
            CouplerMode::Exchange => "exchange",
            CouplerMode::Wrf => "wrf",
            CouplerMode::Mpmd => "mpmd",
        }
    }
    /// Whether this build can run the mode.
    pub fn is_built(self) -> bool {
        matches!(
            self,
            CouplerMode::Files | CouplerMode::Exchange | CouplerMode::Wrf | CouplerMode::Mpmd
        )
    }
}

/// What statistic of the ensemble is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportStat {
    Mean,
    /// Every member (not built in this version).
    Members,
}

/// `&coupler`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CouplerConfig {
    pub mode: CouplerMode,
    /// The atmosphere cycle forcing land cycle T is T + this (h, ≤ 0).
    pub source_cycle_offset_hours: i32,
    /// The land state is exported at T + this (h, within the window).
    pub export_offset_hours: i32,
    pub export_stat: ExportStat,
    /// Export the land state to the atmosphere (mode 'exchange'; off for a forcing-only run).
    pub export: bool,
    /// Exchange directory (mode 'exchange'), resolved against the namelist's directory.
    pub directory: PathBuf,
    /// Longest wait for the atmosphere's READY of a cycle (s).
    pub deadline_seconds: u32,
    /// Time between looks for READY (ms).
    pub poll_milliseconds: u32,
    /// Atmosphere → land weights (SCRIP or ESMF); resolved like `directory`.
    pub a2l_weights: Option<PathBuf>,
    /// Land → atmosphere conservative weights.
    pub l2a_weights: Option<PathBuf>,
    /// Mode 'wrf': strftime name of a `wrfout` file in `directory` by its valid time.
    pub wrfout_template: String,
    /// Mode 'wrf': WRF's history interval (min).
    pub wrf_interval_minutes: u32,
    /// Mode 'wrf': bucket size of I_RAINC/I_RAINNC (mm); unset: the files' BUCKET_MM.
    pub wrf_bucket_mm: Option<f64>,
    /// Mode 'wrf' with export: strftime paths (export time) of the `wrfinput` read and of
    /// the updated copy written.
    pub wrfinput_in: Option<PathBuf>,
    pub wrfinput_out: Option<PathBuf>,
}

impl super::Loader<'_> {
    /// `&coupler`: modes this build does not have, and timing inside the window.
    pub(super) fn validate_coupler(&self, c: &super::Config) -> Result<(), super::ConfigError> {
        let (k, g) = (&c.coupler, "coupler");
        if !k.mode.is_built() {
            return Err(self.err(
                g,
                "mode",
                format!(
                    "'{}' is not built in this version of landcycle (built: 'files', 'exchange', \
                     'wrf', 'mpmd')",
                    k.mode.name()
                ),
            ));
        }
        if k.export_stat == ExportStat::Members {
            return Err(self.err(
                g,
                "export_stat",
                "'members' is not built in this version of landcycle (built: 'mean')".into(),
            ));
        }
        // The export follows a step of the window: (T − window, T].
        let window_h = c.run.window_seconds() / 3600;
        if !(1 - window_h as i32..=0).contains(&k.export_offset_hours) {
            return Err(self.err(
                g,
                "export_offset_hours",
                format!(
                    "{} h is outside the window (-{window_h} h exclusive to 0 h)",
                    k.export_offset_hours
                ),
            ));
        }
        if k.source_cycle_offset_hours > 0 {
            return Err(self.err(
                g,
                "source_cycle_offset_hours",
                format!(
                    "{} h: the forcing cycle cannot be later than the land cycle",
                    k.source_cycle_offset_hours
                ),
            ));
        }
        if k.poll_milliseconds == 0 {
            return Err(self.err(g, "poll_milliseconds", "must be positive".into()));
        }
        if k.mode == CouplerMode::Wrf {
            self.validate_wrf(c)?;
        }
        if matches!(k.mode, CouplerMode::Exchange | CouplerMode::Mpmd) {
            let mode = k.mode.name();
            if k.a2l_weights.is_none() {
                return Err(self.err(
                    g,
                    "a2l_weights",
                    format!("mode '{mode}' needs the weight file of the atmosphere grid"),
                ));
            }
            if k.export && k.l2a_weights.is_none() {
                return Err(self.err(
                    g,
                    "l2a_weights",
                    format!("mode '{mode}' with export needs land → atmosphere weights"),
                ));
            }
        }
        Ok(())
    }
}

impl super::Loader<'_> {
    /// Mode 'wrf': the WRF domain is the land grid (identity mapping, checked cell by cell
    /// when the files are read), so no weights; the export needs both `wrfinput` paths.
    fn validate_wrf(&self, c: &super::Config) -> Result<(), super::ConfigError> {
        let (k, g) = (&c.coupler, "coupler");
        if k.a2l_weights.is_some() {
            return Err(self.err(
                g,
                "a2l_weights",
                "mode 'wrf' runs on the WRF domain itself (domain:static_format = 'geo_em'); \
                 remapping WRF output through weights is not built in this version"
                    .into(),
            ));
        }
        let minutes = k.wrf_interval_minutes;
        if minutes == 0 || 1440 % minutes != 0 {
            return Err(self.err(
                g,
                "wrf_interval_minutes",
                format!("{minutes} must be positive and divide a day"),
            ));
        }
        if let Some(b) = k.wrf_bucket_mm {
            if !(b.is_finite() && b > 0.0) {
                return Err(self.err(g, "wrf_bucket_mm", format!("{b} must be positive")));
            }
        }
        if k.export && (k.wrfinput_in.is_none() || k.wrfinput_out.is_none()) {
            let key = if k.wrfinput_in.is_none() {
                "wrfinput_in"
            } else {
                "wrfinput_out"
            };
            return Err(self.err(
                g,
                key,
                "mode 'wrf' with export needs wrfinput_in and wrfinput_out".into(),
            ));
        }
        Ok(())
    }
}
