//! The OSSE truth side (docs/osse.md): a nature run of the same model with its own seed and a
//! forcing bias the ensemble does not know, and an observation simulator that samples it into
//! SMAP-like SPL2SMP granules and ASCAT-like EUMETSAT SSM orbits (written with
//! `synth::obs_sim` in the real product formats).
//!
//! Nature run: the run configuration is copied with one member, the truth seed, no ensemble
//! mean removal (so the single member carries one realisation of the model-error
//! perturbations), member history output, the forcing directory pointing at biased copies of
//! the forcing files (`<truth>/forcing`, precipitation and shortwave scaled) and the run
//! directory `<truth>/run`. The effective namelist of the nature run is kept as
//! `<truth>/truth.nml`.
//!
//! Observation geometry: sun-synchronous orbits whose sub-satellite point at time t lies on
//! the meridian where the local mean solar time equals the overpass time (06:00/18:00 for
//! SMAP, 09:30/21:30 for Metop), orbit periods of the real missions (SMAP 117 orbits in 8
//! days, Metop 412 in 29 days) and uniform motion in latitude along a polar track. This gives
//! the real revisit pattern (SMAP every 2–3 days, ASCAT about daily at mid-latitudes) without
//! orbit propagation.

use std::path::{Path, PathBuf};

use chrono::{Duration, NaiveDateTime, Timelike};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::Deserialize;

use crate::config::{Config, ConfigError, NamelistError, StaticFormat};
use crate::cycle::{self as driver, CycleError, RunOptions, RunSummary};
use crate::grid::statics::StaticFields;
use crate::grid::GridError;
use crate::io::IoError;
use crate::lsm::noah::tables::{ParameterTables, TableError};
use crate::obs::{ease, volumetric_to_saturation};
use crate::parallel::Communicator;
use crate::synth::image_obs::{ImageGaps, ImageSpec};
use crate::synth::obs_sim::{
    average_to_ease_36km, simple_swath_nodes, write_ascat_like_orbit, write_smap_like_granule,
    AscatProduct, ObsSimError, SimAscatOrbit, SimSmapRetrieval,
};
use crate::synth::precip_field;
use crate::verify::{find_history_files, read_field, read_grid, VerifyError};

/// `&osse`: the nature run and the observation simulator.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OsseConfig {
    /// Seed of the nature run's perturbations (must differ from `run:seed`).
    pub truth_seed: u64,
    /// Give the nature run one realisation of the configured model-error perturbations.
    pub perturb_truth: bool,
    /// Factor on the precipitation of the nature run (unknown to the ensemble).
    pub precip_factor: f64,
    /// Factor on the downward shortwave of the nature run.
    pub shortwave_factor: f64,
    /// Standard deviation of the nature run's spatially varying, time-constant precipitation
    /// factor field (lognormal, mean 1; 0 = off). Applied on top of `precip_factor`.
    pub precip_factor_field_sd: f64,
    /// Correlation length of the factor field's Gaussian covariance (km).
    pub precip_factor_field_corr_km: f64,
    /// Seed of the factor field.
    pub precip_factor_field_seed: u64,
    /// Cold-start soil moisture of the nature run per layer (m3 m-3); empty = `run:`'s.
    pub truth_cold_start_soil_moisture: Vec<f64>,
    /// Days the nature run spins up before `run:start` (its cold start is that much earlier,
    /// so the truth has a spatially varying state when the experiments start); observations
    /// and images are simulated from `run:start` only.
    pub truth_spinup_days: u32,
    /// First time observations and images are simulated for (`run:start`; set on load).
    #[serde(skip)]
    pub observe_from: Option<NaiveDateTime>,
    /// Directory of the nature run (biased forcing, run directory, history).
    pub truth_dir: PathBuf,
    /// Directory of the simulated observations (`smap/`, `ascat/`).
    pub obs_dir: PathBuf,
    /// Seed of the observation errors and flags.
    pub obs_seed: u64,
    pub smap: bool,
    /// SMAP retrieval error standard deviation (m3 m-3).
    pub smap_error_sd: f64,
    /// Fraction of SMAP retrievals flagged "not recommended" at random.
    pub smap_not_recommended_fraction: f64,
    /// SMAP swath width (km).
    pub smap_swath_km: f64,
    /// Local solar time of the SMAP descending overpass (h); ascending is 12 h later.
    pub smap_descending_hour: f64,
    pub ascat: bool,
    /// ASCAT random error standard deviation (% saturation).
    pub ascat_error_sd: f64,
    /// ASCAT systematic error: observed = scale × true saturation + offset (%).
    pub ascat_scale: f64,
    pub ascat_offset: f64,
    /// Local solar time of the Metop descending overpass (h); ascending is 12 h later.
    pub ascat_descending_hour: f64,
    /// Nodes per side of the ground track on the 12.5 km swath grid (ASCAT SMR: 41).
    pub ascat_nodes_per_side: usize,
    /// Gap between the two swaths, centred on the ground track (km).
    pub ascat_nadir_gap_km: f64,
    /// Radius of the model cells averaged into one ASCAT node (km).
    pub ascat_footprint_km: f64,
    /// Platform name in file names and metadata.
    pub ascat_platform: String,
    /// Image observations (`osse obs --images`; `osse truth` writes them too when set).
    pub images: bool,
    /// Directory of the image files `LC_IMGOBS_YYYYMMDDHHMM.nc`.
    pub image_dir: PathBuf,
    /// Interval between images (h), on the hour grid from 00 UTC.
    pub image_interval_hours: u32,
    /// Image error standard deviation σ_o (m3 m-3).
    pub image_error_sd: f64,
    /// Correlation length L_o of the image error (km, Gaussian covariance; 0 = white).
    pub image_error_corr_km: f64,
    /// Systematic image error: image = scale × truth + offset + noise.
    pub image_scale: f64,
    pub image_offset: f64,
    /// Seed of the image errors and gaps.
    pub image_seed: u64,
    /// Gaps: 'none', 'random' (cells missing at random) or 'stripes' (north-south swath gaps).
    pub image_gaps: String,
    /// Fraction of land cells with a value when `image_gaps` is not 'none'.
    pub image_coverage: f64,
    /// Period of the stripe pattern (km, east-west).
    pub image_stripe_km: f64,
    /// Leave out cells with snow or frozen top soil in the nature run.
    pub image_mask_frozen: bool,
}

impl Default for OsseConfig {
    fn default() -> Self {
        OsseConfig {
            truth_seed: 20_201_031,
            perturb_truth: true,
            precip_factor: 1.3,
            shortwave_factor: 0.9,
            precip_factor_field_sd: 0.0,
            precip_factor_field_corr_km: 300.0,
            precip_factor_field_seed: 271_828,
            truth_cold_start_soil_moisture: Vec::new(),
            truth_spinup_days: 0,
            observe_from: None,
            truth_dir: PathBuf::from("osse/truth"),
            obs_dir: PathBuf::from("osse/obs"),
            obs_seed: 4_242,
            smap: true,
            smap_error_sd: 0.04,
            smap_not_recommended_fraction: 0.1,
            smap_swath_km: 1000.0,
            smap_descending_hour: 6.0,
            ascat: true,
            ascat_error_sd: 5.0,
            ascat_scale: 0.85,
            ascat_offset: 8.0,
            ascat_descending_hour: 9.5,
            ascat_nodes_per_side: 41,
            ascat_nadir_gap_km: 672.0,
            ascat_footprint_km: 25.0,
            ascat_platform: "METOPB".into(),
            images: false,
            image_dir: PathBuf::from("osse/images"),
            image_interval_hours: 6,
            image_error_sd: 0.04,
            image_error_corr_km: 0.0,
            image_scale: 1.0,
            image_offset: 0.0,
            image_seed: 4_243,
            image_gaps: "none".into(),
            image_coverage: 1.0,
            image_stripe_km: 1000.0,
            image_mask_frozen: false,
        }
    }
}

/// Errors of the OSSE, naming the file, variable or setting involved.
#[derive(Debug, thiserror::Error)]
pub enum OsseError {
    #[error("{0}")]
    Namelist(#[from] NamelistError),
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{file}: invalid `osse:{key}`: {message}")]
    Invalid {
        file: PathBuf,
        key: &'static str,
        message: String,
    },
    #[error("{path}: {message}")]
    Forcing { path: PathBuf, message: String },
    #[error("nature run: {0}")]
    Cycle(Box<CycleError>),
    #[error("nature-run history: {0}")]
    History(#[from] VerifyError),
    #[error("{0}")]
    ObsSim(#[from] ObsSimError),
    #[error("parameter tables: {0}")]
    Tables(#[from] TableError),
    #[error("static fields: {0}")]
    Grid(#[from] GridError),
    #[error("{0}")]
    Io(#[from] IoError),
    #[error("{path}: {message}")]
    Fs { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    StaticMismatch { path: PathBuf, message: String },
}

impl From<CycleError> for OsseError {
    fn from(e: CycleError) -> Self {
        OsseError::Cycle(Box::new(e))
    }
}

fn fs_err(path: &Path, e: impl std::fmt::Display) -> OsseError {
    OsseError::Fs {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

impl OsseConfig {
    /// The `&osse` group of the configuration's namelist (defaults when absent), paths
    /// resolved against the namelist's directory, validated.
    pub fn from_config(cfg: &Config) -> Result<OsseConfig, OsseError> {
        let mut o: OsseConfig = if cfg.namelist.group("osse").is_some() {
            cfg.namelist.deserialize_group("osse")?
        } else {
            OsseConfig::default()
        };
        let base = cfg
            .namelist_file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        if o.truth_dir.is_relative() {
            o.truth_dir = base.join(&o.truth_dir);
        }
        if o.obs_dir.is_relative() {
            o.obs_dir = base.join(&o.obs_dir);
        }
        o.observe_from = Some(cfg.run.start);
        if o.image_dir.is_relative() {
            o.image_dir = base.join(&o.image_dir);
        }
        let file = cfg.namelist_file.clone();
        let bad = |key: &'static str, message: String| OsseError::Invalid {
            file: file.clone(),
            key,
            message,
        };
        if o.truth_seed == cfg.run.seed {
            return Err(bad(
                "truth_seed",
                format!(
                    "equals run:seed ({}); the nature run needs its own seed",
                    o.truth_seed
                ),
            ));
        }
        for (key, v) in [
            ("precip_factor", o.precip_factor),
            ("shortwave_factor", o.shortwave_factor),
            ("smap_swath_km", o.smap_swath_km),
            ("ascat_scale", o.ascat_scale),
            ("ascat_footprint_km", o.ascat_footprint_km),
            ("precip_factor_field_corr_km", o.precip_factor_field_corr_km),
            ("image_scale", o.image_scale),
            ("image_stripe_km", o.image_stripe_km),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(bad(key, format!("{v} must be positive")));
            }
        }
        for (key, v) in [
            ("smap_error_sd", o.smap_error_sd),
            ("ascat_error_sd", o.ascat_error_sd),
            ("ascat_nadir_gap_km", o.ascat_nadir_gap_km),
            ("precip_factor_field_sd", o.precip_factor_field_sd),
            ("image_error_sd", o.image_error_sd),
            ("image_error_corr_km", o.image_error_corr_km),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(bad(key, format!("{v} must be zero or positive")));
            }
        }
        if !(0.0..=1.0).contains(&o.smap_not_recommended_fraction) {
            return Err(bad(
                "smap_not_recommended_fraction",
                format!("{} is not in [0, 1]", o.smap_not_recommended_fraction),
            ));
        }
        for (key, v) in [
            ("smap_descending_hour", o.smap_descending_hour),
            ("ascat_descending_hour", o.ascat_descending_hour),
        ] {
            if !(0.0..24.0).contains(&v) {
                return Err(bad(key, format!("{v} is not in [0, 24)")));
            }
        }
        let tc = &o.truth_cold_start_soil_moisture;
        if !tc.is_empty() {
            if tc.len() != cfg.run.soil_layers() {
                return Err(bad(
                    "truth_cold_start_soil_moisture",
                    format!(
                        "{} values, run:cold_start_soil_moisture has {}",
                        tc.len(),
                        cfg.run.soil_layers()
                    ),
                ));
            }
            if let Some(v) = tc
                .iter()
                .find(|v| !(v.is_finite() && **v > 0.0 && **v < 1.0))
            {
                return Err(bad(
                    "truth_cold_start_soil_moisture",
                    format!("{v} is not a volumetric fraction in (0, 1)"),
                ));
            }
        }
        if o.ascat_nodes_per_side == 0 {
            return Err(bad("ascat_nodes_per_side", "must be at least 1".into()));
        }
        o.validate_images(&bad)?;
        Ok(o)
    }

    fn validate_images(
        &mut self,
        bad: &dyn Fn(&'static str, String) -> OsseError,
    ) -> Result<(), OsseError> {
        if !self.image_offset.is_finite() {
            return Err(bad(
                "image_offset",
                format!("{} is not finite", self.image_offset),
            ));
        }
        if self.image_interval_hours == 0 || 24 % self.image_interval_hours != 0 {
            return Err(bad(
                "image_interval_hours",
                format!("{} does not divide 24", self.image_interval_hours),
            ));
        }
        self.image_gaps = self.image_gaps.to_ascii_lowercase();
        if ImageGaps::parse(&self.image_gaps).is_none() {
            return Err(bad(
                "image_gaps",
                format!("'{}' is not 'none', 'random' or 'stripes'", self.image_gaps),
            ));
        }
        let c = self.image_coverage;
        if !(c > 0.0 && c <= 1.0) {
            return Err(bad("image_coverage", format!("{c} is not in (0, 1]")));
        }
        if self.image_gaps == "none" && c < 1.0 {
            return Err(bad(
                "image_coverage",
                format!("{c} < 1 needs image_gaps = 'random' or 'stripes'"),
            ));
        }
        Ok(())
    }

    /// The image simulator's settings.
    pub fn image_spec(&self) -> ImageSpec {
        ImageSpec {
            interval_hours: self.image_interval_hours,
            error_sd: self.image_error_sd,
            error_corr_km: self.image_error_corr_km,
            scale: self.image_scale,
            offset: self.image_offset,
            seed: self.image_seed,
            gaps: ImageGaps::parse(&self.image_gaps).unwrap_or(ImageGaps::None),
            coverage: self.image_coverage,
            stripe_km: self.image_stripe_km,
            mask_frozen: self.image_mask_frozen,
        }
    }

    /// Cold start of the nature run: `run:start` less the spin-up days.
    pub fn truth_start(&self, cfg: &Config) -> NaiveDateTime {
        cfg.run.start - Duration::days(i64::from(self.truth_spinup_days))
    }

    /// Directory of the nature run's biased forcing files.
    pub fn forcing_dir(&self) -> PathBuf {
        self.truth_dir.join("forcing")
    }

    /// Run directory of the nature run (history under `<cycle>/output/`).
    pub fn run_dir(&self) -> PathBuf {
        self.truth_dir.join("run")
    }
}

// ---------------------------------------------------------------------------------------
// Nature run
// ---------------------------------------------------------------------------------------

/// The configuration of the nature run: one member, the truth seed, no ensemble-mean removal,
/// member history, biased forcing from `<truth>/forcing`, run directory `<truth>/run`. Its
/// effective namelist is written to `<truth>/truth.nml` and loaded back, so the nature run
/// has its own configuration fingerprint.
pub fn truth_config(cfg: &Config, osse: &OsseConfig) -> Result<Config, OsseError> {
    let mut t = cfg.clone();
    t.run.ensemble_size = 1;
    t.run.seed = osse.truth_seed;
    t.run.history_members = true;
    t.run.rundir = osse.run_dir();
    t.run.initial_restart = None;
    t.run.start = osse.truth_start(cfg);
    if !osse.truth_cold_start_soil_moisture.is_empty() {
        // An explicit initial state of the nature run is taken as it is.
        t.run.cold_start_soil_moisture_std = None;
        t.run.cold_start_soil_moisture = osse.truth_cold_start_soil_moisture.clone();
    }
    t.perturbation.remove_ensemble_mean = false;
    // The truth is a free run: a namelist that also configures the experiments' analyses
    // (one file for the whole case) must not assimilate into its own nature run.
    t.da.enabled = false;
    t.image.enabled = false;
    if !osse.perturb_truth {
        t.perturbation.perturb_forcing = false;
        t.perturbation.perturb_state = false;
        t.run.cold_start_soil_moisture_std = None;
    }
    t.forcing.directory = osse.forcing_dir();
    std::fs::create_dir_all(&osse.truth_dir).map_err(|e| fs_err(&osse.truth_dir, e))?;
    let path = osse.truth_dir.join("truth.nml");
    let text = format!(
        "! landcycle OSSE nature run, derived from {}\n{}",
        cfg.namelist_file.display(),
        t.effective_namelist()
    );
    crate::io::atomic_write(&path, |tmp| {
        std::fs::write(tmp, text.as_bytes()).map_err(|e| fs_err(&path, e))
    })?;
    Ok(Config::from_text(&text, &path)?)
}

/// Forcing times the nature run may read: from its start to one interval past the end.
fn forcing_times(cfg: &Config, start: NaiveDateTime) -> Vec<NaiveDateTime> {
    let dt = Duration::hours(i64::from(cfg.forcing.interval_hours.max(1)));
    let mut t = start;
    let mut v = Vec::new();
    while t <= cfg.run.end + dt {
        v.push(t);
        t += dt;
    }
    v
}

/// Write the biased forcing of the nature run: every forcing file of the run period copied to
/// `<truth>/forcing` with precipitation × `precip_factor` (× the factor field when
/// `precip_factor_field_sd` > 0) and shortwave × `shortwave_factor` (fill and missing values
/// untouched). Files after the run end are copied when present. Returns the number of files
/// written.
pub fn write_biased_forcing(cfg: &Config, osse: &OsseConfig) -> Result<usize, OsseError> {
    let out_dir = osse.forcing_dir();
    std::fs::create_dir_all(&out_dir).map_err(|e| fs_err(&out_dir, e))?;
    let (rain, _) = cfg.forcing.variable(crate::config::ForcingVariable::Rainf);
    let (sw, _) = cfg.forcing.variable(crate::config::ForcingVariable::Swdown);
    let mut field: Option<Vec<f64>> = None;
    let mut n = 0;
    for t in forcing_times(cfg, osse.truth_start(cfg)) {
        let src = cfg.forcing.file_for(t);
        if !src.is_file() {
            if t <= cfg.run.end {
                return Err(OsseError::Forcing {
                    path: src,
                    message: missing_forcing_message(cfg, osse, t),
                });
            }
            continue;
        }
        if field.is_none() && osse.precip_factor_field_sd > 0.0 {
            field = Some(write_factor_field(osse, &src, rain)?);
        }
        let dst = out_dir.join(t.format(&cfg.forcing.file_template).to_string());
        if let Some(d) = dst.parent() {
            std::fs::create_dir_all(d).map_err(|e| fs_err(d, e))?;
        }
        crate::io::atomic_write(&dst, |tmp| {
            std::fs::copy(&src, tmp).map_err(|e| fs_err(&src, e))?;
            scale_in_place(
                tmp,
                &src,
                &[
                    (rain, osse.precip_factor, field.as_deref()),
                    (sw, osse.shortwave_factor, None),
                ],
            )
        })?;
        n += 1;
    }
    Ok(n)
}

/// File of the nature run's precipitation factor field (`precip_factor`, lat × lon).
pub fn factor_field_path(osse: &OsseConfig) -> PathBuf {
    osse.truth_dir.join("precip_factor.nc")
}

/// Draw the factor field on the grid of `rain` in the forcing file `src` and keep it as a CF
/// file next to the nature run (for maps and checks).
fn write_factor_field(osse: &OsseConfig, src: &Path, rain: &str) -> Result<Vec<f64>, OsseError> {
    let ferr = |message: String| OsseError::Forcing {
        path: src.to_path_buf(),
        message,
    };
    let (lat, lon) = precip_field::trailing_lat_lon(src, rain).map_err(ferr)?;
    let f = precip_field::factor_field(
        &lat,
        &lon,
        osse.precip_factor_field_sd,
        osse.precip_factor_field_corr_km,
        osse.precip_factor_field_seed,
    )
    .map_err(|e| ferr(format!("precipitation factor field: {e}")))?;
    let g = crate::io::gridded::GriddedField {
        name: "precip_factor".into(),
        units: Some("1".into()),
        long_name: Some(format!(
            "nature-run precipitation factor field (lognormal, mean 1, sd {}, correlation \
             {} km, seed {}), applied on top of the uniform factor {}",
            osse.precip_factor_field_sd,
            osse.precip_factor_field_corr_km,
            osse.precip_factor_field_seed,
            osse.precip_factor
        )),
        lat_name: "lat".into(),
        lon_name: "lon".into(),
        lat,
        lon,
        values: f.clone(),
    };
    let path = factor_field_path(osse);
    crate::io::gridded::write_field(&path, &g, "landcycle osse truth").map_err(|e| {
        OsseError::Fs {
            path: path.clone(),
            message: e.to_string(),
        }
    })?;
    Ok(f)
}

/// A variable to scale: (name, uniform factor, optional per-cell factor over the trailing
/// lat × lon plane).
type Scaling<'a> = (&'a str, f64, Option<&'a [f64]>);

fn scale_in_place(tmp: &Path, src: &Path, scales: &[Scaling<'_>]) -> Result<(), OsseError> {
    let ferr = |var: &str, e: &dyn std::fmt::Display| OsseError::Forcing {
        path: src.to_path_buf(),
        message: format!("variable {var}: {e}"),
    };
    let mut file = netcdf::append(tmp).map_err(|e| ferr("(file)", &e))?;
    for &(name, factor, field) in scales {
        let (vals, fill, missing) = {
            let v = file
                .variable(name)
                .ok_or_else(|| ferr(name, &"not in the forcing file"))?;
            let vals: Vec<f64> = v.get_values::<f64, _>(..).map_err(|e| ferr(name, &e))?;
            (
                vals,
                crate::obs::ncutil::attr_f64(&v, "_FillValue"),
                crate::obs::ncutil::attr_f64(&v, "missing_value"),
            )
        };
        let is_special = |x: f64| {
            !x.is_finite()
                || [fill, missing]
                    .iter()
                    .flatten()
                    .any(|f| x == *f || x == *f as f32 as f64)
        };
        let scaled: Vec<f64> = match field {
            None => vals
                .iter()
                .map(|&x| if is_special(x) { x } else { x * factor })
                .collect(),
            Some(f) => {
                if f.is_empty() || vals.len() % f.len() != 0 {
                    let msg = format!("{} values, factor field of {}", vals.len(), f.len());
                    return Err(ferr(name, &msg));
                }
                vals.iter()
                    .zip(f.iter().cycle())
                    .map(|(&x, &g)| if is_special(x) { x } else { x * factor * g })
                    .collect()
            }
        };
        let mut v = file
            .variable_mut(name)
            .ok_or_else(|| ferr(name, &"not in the forcing file"))?;
        v.put_values(&scaled, ..).map_err(|e| ferr(name, &e))?;
    }
    file.close().map_err(|e| ferr("(file)", &e))?;
    Ok(())
}

/// Why a forcing file the nature run needs is missing: before `run:start` it is the spin-up's.
fn missing_forcing_message(cfg: &Config, osse: &OsseConfig, t: NaiveDateTime) -> String {
    if t < cfg.run.start {
        format!(
            "forcing file for {t} not found: osse:truth_spinup_days = {} needs forcing from {} \
             (for a synthetic case, set synth:forcing_days_before_start)",
            osse.truth_spinup_days,
            osse.truth_start(cfg)
        )
    } else {
        format!("forcing file for {t} not found")
    }
}

/// Biased forcing (on the root rank), then the nature run with [`driver::run`] on `comm`.
pub fn run_truth(
    cfg: &Config,
    osse: &OsseConfig,
    comm: &dyn Communicator,
    opts: &RunOptions,
) -> Result<RunSummary, OsseError> {
    let prepared = if comm.rank() == 0 {
        write_biased_forcing(cfg, osse).and_then(|_| truth_config(cfg, osse).map(|_| ()))
    } else {
        Ok(())
    };
    let ok = comm.all_ok(prepared.is_ok());
    prepared?;
    if !ok {
        return Err(CycleError::PeerFailed.into());
    }
    // Every rank loads the namelist the root wrote (identical configuration everywhere).
    let path = osse.truth_dir.join("truth.nml");
    let tcfg = Config::load(&path)?;
    let mut o = opts.clone();
    o.rundir = None;
    // The nature run is regenerated as a whole (with its truth.nml) on every call.
    o.existing = crate::cycle::ExistingCycles::Overwrite;
    Ok(driver::run(&tcfg, comm, &o)?)
}

// ---------------------------------------------------------------------------------------
// Nature-run series
// ---------------------------------------------------------------------------------------

/// Top-layer state of the nature run at its history times, for its land cells.
#[derive(Debug, Clone)]
pub struct TruthSeries {
    pub times: Vec<NaiveDateTime>,
    /// Grid shape and the grid index (`j*nx+i`) of every land cell.
    pub ny: usize,
    pub nx: usize,
    pub cells: Vec<usize>,
    pub lat: Vec<f64>,
    pub lon: Vec<f64>,
    /// `[time][land cell]`: top-layer volumetric soil moisture (m3 m-3).
    pub soil_moisture: Vec<Vec<f64>>,
    /// Top-layer soil temperature (K).
    pub soil_temperature: Vec<Vec<f64>>,
    /// Snow water equivalent (kg m-2).
    pub swe: Vec<Vec<f64>>,
    /// Skin temperature (K).
    pub skin_temperature: Vec<Vec<f64>>,
}

impl TruthSeries {
    /// Read the history files of the nature run under `dir`.
    pub fn read(dir: &Path) -> Result<TruthSeries, OsseError> {
        let files = find_history_files(dir)?;
        let Some(first) = files.values().next() else {
            return Err(VerifyError::NoFiles(dir.to_path_buf()).into());
        };
        let g = read_grid(first)?;
        let cells: Vec<usize> = (0..g.ny * g.nx).filter(|&k| g.land_mask[k]).collect();
        let mut s = TruthSeries {
            times: Vec::new(),
            ny: g.ny,
            nx: g.nx,
            lat: cells.iter().map(|&k| g.lat[k]).collect(),
            lon: cells.iter().map(|&k| g.lon[k]).collect(),
            cells,
            soil_moisture: Vec::new(),
            soil_temperature: Vec::new(),
            swe: Vec::new(),
            skin_temperature: Vec::new(),
        };
        for (t, p) in &files {
            let top = |name: &str| -> Result<Vec<f64>, OsseError> {
                let f = read_field(p, name)?;
                if f.ny != s.ny || f.nx != s.nx {
                    return Err(VerifyError::Variable {
                        path: p.clone(),
                        variable: name.into(),
                        message: format!("grid {}×{} differs from {}×{}", f.ny, f.nx, s.ny, s.nx),
                    }
                    .into());
                }
                let l0 = f.layer(0);
                Ok(s.cells.iter().map(|&k| l0[k]).collect())
            };
            s.soil_moisture.push(top("SoilMoistV")?);
            s.soil_temperature.push(top("SoilTemp")?);
            s.swe.push(top("SWE")?);
            s.skin_temperature.push(top("AvgSurfT")?);
            s.times.push(*t);
        }
        Ok(s)
    }

    /// Drop the times before `t0` (the nature run's spin-up is not observed).
    pub fn drop_before(&mut self, t0: Option<NaiveDateTime>) {
        let Some(t0) = t0 else { return };
        let k = self.times.partition_point(|x| *x < t0);
        self.times.drain(..k);
        for f in [
            &mut self.soil_moisture,
            &mut self.soil_temperature,
            &mut self.swe,
            &mut self.skin_temperature,
        ] {
            f.drain(..k);
        }
    }

    /// Linear interpolation in time of `field` (`[time][cell]`) at cell `c`; None outside the
    /// series or where a value is missing.
    pub fn at(&self, field: &[Vec<f64>], c: usize, t: NaiveDateTime) -> Option<f64> {
        let k = self.times.partition_point(|x| *x <= t);
        if k == 0 {
            return None;
        }
        let (t0, v0) = (self.times[k - 1], field[k - 1][c]);
        if t0 == t {
            return v0.is_finite().then_some(v0);
        }
        let (t1, v1) = (*self.times.get(k)?, field[k][c]);
        let w = (t - t0).num_milliseconds() as f64 / (t1 - t0).num_milliseconds() as f64;
        let v = v0 + w * (v1 - v0);
        v.is_finite().then_some(v)
    }
}

// ---------------------------------------------------------------------------------------
// Orbit geometry
// ---------------------------------------------------------------------------------------

/// A sun-synchronous polar orbit reduced to what the simulator needs.
#[derive(Debug, Clone, Copy)]
struct Orbit {
    period_s: f64,
    /// Local solar time of the descending overpass (h).
    descending_hour: f64,
    epoch: NaiveDateTime,
}

/// One half orbit (pass) over the domain.
#[derive(Debug, Clone, Copy)]
struct Pass {
    orbit: i64,
    ascending: bool,
    /// Time the satellite crosses the equator on this pass.
    node_time: NaiveDateTime,
}

const KM_PER_DEG: f64 = 111.195;

fn wrap180(x: f64) -> f64 {
    (x + 180.0).rem_euclid(360.0) - 180.0
}

fn utc_hours(t: NaiveDateTime) -> f64 {
    t.num_seconds_from_midnight() as f64 / 3600.0 + t.nanosecond() as f64 * 1e-9 / 3600.0
}

impl Orbit {
    fn smap(descending_hour: f64) -> Self {
        Orbit {
            period_s: 8.0 * 86_400.0 / 117.0,
            descending_hour,
            epoch: chrono::NaiveDate::from_ymd_opt(2015, 1, 31)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .expect("valid date"),
        }
    }
    fn metop(descending_hour: f64) -> Self {
        Orbit {
            period_s: 29.0 * 86_400.0 / 412.0,
            descending_hour,
            epoch: chrono::NaiveDate::from_ymd_opt(2012, 9, 17)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .expect("valid date"),
        }
    }
    /// Passes whose equator crossing lies within a period around [t0, t1].
    fn passes(&self, t0: NaiveDateTime, t1: NaiveDateTime) -> Vec<Pass> {
        let secs = |t: NaiveDateTime| (t - self.epoch).num_milliseconds() as f64 / 1000.0;
        let n0 = (secs(t0) / self.period_s).floor() as i64 - 1;
        let n1 = (secs(t1) / self.period_s).ceil() as i64 + 1;
        let mut v = Vec::new();
        for n in n0..=n1 {
            let td = self.epoch + ms(n as f64 * self.period_s);
            v.push(Pass {
                orbit: n,
                ascending: false,
                node_time: td,
            });
            v.push(Pass {
                orbit: n,
                ascending: true,
                node_time: td + ms(0.5 * self.period_s),
            });
        }
        v
    }
    /// Time the satellite passes latitude `lat` on `pass` (uniform motion on a polar track:
    /// descending passes reach northern latitudes before the node).
    fn time_at(&self, pass: &Pass, lat: f64) -> NaiveDateTime {
        let dt = lat / 360.0 * self.period_s;
        pass.node_time + ms(if pass.ascending { dt } else { -dt })
    }
    /// Longitude of the sub-satellite point at time `t` of `pass`: where the local mean solar
    /// time is the overpass time.
    fn track_lon(&self, pass: &Pass, t: NaiveDateTime) -> f64 {
        let lst = self.descending_hour + if pass.ascending { 12.0 } else { 0.0 };
        wrap180(15.0 * (lst - utc_hours(t)))
    }
    /// Signed cross-track distance (km) of a point at (lat, lon) on `pass`, and the time.
    fn cross_track(&self, pass: &Pass, lat: f64, lon: f64) -> (f64, NaiveDateTime) {
        let t = self.time_at(pass, lat);
        let d = wrap180(lon - self.track_lon(pass, t));
        (d * KM_PER_DEG * lat.to_radians().cos(), t)
    }
}

fn ms(seconds: f64) -> Duration {
    Duration::milliseconds((seconds * 1000.0).round() as i64)
}

/// A reproducible random stream per (seed, sensor, orbit, direction).
fn pass_rng(seed: u64, sensor: u64, pass: &Pass) -> ChaCha8Rng {
    let mut h = seed ^ 0x9E37_79B9_7F4A_7C15;
    for x in [sensor, pass.orbit as u64, pass.ascending as u64] {
        h = (h ^ x).wrapping_mul(0xBF58_476D_1CE4_E5B9).rotate_left(31);
    }
    ChaCha8Rng::seed_from_u64(h)
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    StandardNormal.sample(rng)
}

// ---------------------------------------------------------------------------------------
// Per-cell land parameters
// ---------------------------------------------------------------------------------------

/// What the simulator needs per land cell beyond the nature run.
#[derive(Debug, Clone)]
struct CellLand {
    porosity: f64,
    wilting_point: f64,
    lai_min: f64,
    lai_max: f64,
    green_fraction_monthly: [f64; 12],
    igbp_class: u8,
}

/// USGS 24-class land use to IGBP (the classification SMAP reports).
fn usgs_to_igbp(c: i32) -> u8 {
    const T: [u8; 27] = [
        0, 13, 12, 12, 12, 14, 14, 10, 7, 7, 9, 4, 3, 2, 1, 5, 17, 11, 11, 16, 7, 7, 10, 16, 15,
        17, 17,
    ];
    T.get(c as usize).copied().unwrap_or(255)
}

fn modis_to_igbp(c: i32) -> u8 {
    match c {
        1..=17 => c as u8,
        18 | 19 => 7,
        20 => 16,
        _ => 255,
    }
}

fn land_parameters(cfg: &Config, series: &TruthSeries) -> Result<Vec<CellLand>, OsseError> {
    let path = &cfg.domain.static_file;
    let s = match cfg.domain.static_format {
        StaticFormat::Landcycle => StaticFields::read_landcycle(path)?,
        StaticFormat::GeoEm => StaticFields::read_geo_em(path)?,
    };
    if s.ny() != series.ny || s.nx() != series.nx {
        return Err(OsseError::StaticMismatch {
            path: path.clone(),
            message: format!(
                "static grid {}×{} differs from the nature run's {}×{}",
                s.ny(),
                s.nx(),
                series.ny,
                series.nx
            ),
        });
    }
    let tables = match &cfg.domain.parameter_tables {
        Some(d) => ParameterTables::from_wrf_dir(d)?,
        None => ParameterTables::builtin(),
    };
    // As the driver: the static file's classification decides.
    let veg = s.vegetation_dataset.name();
    let usgs = veg == crate::config::VegetationDataset::Usgs.name();
    let n = s.ny() * s.nx();
    series
        .cells
        .iter()
        .map(|&k| {
            let soil = tables.soil(&s.soil_dataset, s.soil_class[k])?;
            let v = tables.vegetation(veg, s.vegetation_class[k])?;
            let mut gvf = [0.0; 12];
            for (m, g) in gvf.iter_mut().enumerate() {
                *g = s.green_fraction[m * n + k];
            }
            let vc = s.vegetation_class[k];
            Ok(CellLand {
                porosity: soil.maxsmc,
                wilting_point: soil.wltsmc,
                lai_min: v.laimin,
                lai_max: v.laimax,
                green_fraction_monthly: gvf,
                igbp_class: if usgs {
                    usgs_to_igbp(vc)
                } else {
                    modis_to_igbp(vc)
                },
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Observation simulator
// ---------------------------------------------------------------------------------------

/// What the observation simulator wrote.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObsSummary {
    pub smap_files: Vec<PathBuf>,
    pub smap_retrievals: usize,
    /// Retrievals flagged not recommended (random, snow or frozen).
    pub smap_flagged: usize,
    pub ascat_files: Vec<PathBuf>,
    /// ASCAT nodes with a soil-moisture value.
    pub ascat_values: usize,
}

/// Snow water equivalent above which the simulator flags snow (kg m-2).
const SNOW_SWE: f64 = 1.0;
/// Top-layer soil temperature below which the simulator flags frozen soil (K).
const FREEZING: f64 = 273.15;

/// Simulate SMAP-like and ASCAT-like observations of the nature run whose history lies under
/// `osse.run_dir()`, into `<obs_dir>/smap` and `<obs_dir>/ascat`. Deterministic in
/// `osse.obs_seed`.
pub fn simulate_observations(cfg: &Config, osse: &OsseConfig) -> Result<ObsSummary, OsseError> {
    let mut series = TruthSeries::read(&osse.run_dir())?;
    series.drop_before(osse.observe_from);
    let land = land_parameters(cfg, &series)?;
    let mut out = ObsSummary::default();
    if osse.smap {
        simulate_smap(osse, &series, &land, &mut out)?;
    }
    if osse.ascat {
        simulate_ascat(osse, &series, &land, &mut out)?;
    }
    Ok(out)
}

fn series_span(series: &TruthSeries) -> Option<(NaiveDateTime, NaiveDateTime)> {
    Some((*series.times.first()?, *series.times.last()?))
}

fn simulate_smap(
    osse: &OsseConfig,
    series: &TruthSeries,
    land: &[CellLand],
    out: &mut ObsSummary,
) -> Result<(), OsseError> {
    let Some((t0, t1)) = series_span(series) else {
        return Ok(());
    };
    let dir = osse.obs_dir.join("smap");
    std::fs::create_dir_all(&dir).map_err(|e| fs_err(&dir, e))?;
    let orbit = Orbit::smap(osse.smap_descending_hour);
    for pass in orbit.passes(t0, t1) {
        let seen = smap_cells_seen(osse, &orbit, &pass, series, land);
        if seen.lat.is_empty() {
            continue;
        }
        let rs = smap_retrievals(osse, &orbit, &pass, &seen, out);
        let start = rs.iter().map(|r| r.time).min().unwrap_or(pass.node_time);
        let name = format!(
            "SMAP_L2_SM_P_{:05}_{}_{}_R90000_001.h5",
            pass.orbit.rem_euclid(100_000),
            if pass.ascending { 'A' } else { 'D' },
            start.format("%Y%m%dT%H%M%S")
        );
        let path = dir.join(name);
        write_smap_like_granule(&path, &rs)?;
        out.smap_retrievals += rs.len();
        out.smap_files.push(path);
    }
    Ok(())
}

/// The model cells one SMAP pass sees, with their values at their own overpass time.
#[derive(Default)]
struct SmapCellsSeen {
    lat: Vec<f64>,
    lon: Vec<f64>,
    /// θ, Ts, VWC, snow, frozen.
    fields: [Vec<f64>; 5],
    classes: Vec<u8>,
}

fn smap_cells_seen(
    osse: &OsseConfig,
    orbit: &Orbit,
    pass: &Pass,
    series: &TruthSeries,
    land: &[CellLand],
) -> SmapCellsSeen {
    let half = 0.5 * osse.smap_swath_km;
    let mut seen = SmapCellsSeen::default();
    for (c, l) in land.iter().enumerate() {
        let (x, t) = orbit.cross_track(pass, series.lat[c], series.lon[c]);
        if x.abs() > half {
            continue;
        }
        let (Some(sm), Some(ts), Some(swe), Some(st)) = (
            series.at(&series.soil_moisture, c, t),
            series.at(&series.skin_temperature, c, t),
            series.at(&series.swe, c, t),
            series.at(&series.soil_temperature, c, t),
        ) else {
            continue;
        };
        let m = t.format("%m").to_string().parse::<usize>().unwrap_or(1) - 1;
        let lai = l.lai_min + l.green_fraction_monthly[m] * (l.lai_max - l.lai_min);
        seen.lat.push(series.lat[c]);
        seen.lon.push(series.lon[c]);
        // Vegetation water content ≈ 0.5 kg m-2 per unit LAI (a synthetic stand-in for
        // the NDVI-based SMAP ancillary field).
        for (f, v) in seen.fields.iter_mut().zip([
            sm,
            ts,
            0.5 * lai,
            f64::from(u8::from(swe > SNOW_SWE)),
            f64::from(u8::from(st < FREEZING)),
        ]) {
            f.push(v);
        }
        seen.classes.push(l.igbp_class);
    }
    seen
}

/// Dominant IGBP land-cover class per EASE 36 km cell (row, col).
fn dominant_classes(seen: &SmapCellsSeen) -> std::collections::BTreeMap<(usize, usize), u8> {
    let mut counts: std::collections::BTreeMap<(usize, usize), [usize; 18]> = Default::default();
    for (i, cls) in seen.classes.iter().enumerate() {
        if let Some(rc) = ease::cell_of_36km(seen.lat[i], seen.lon[i]) {
            if (*cls as usize) < 18 {
                counts.entry(rc).or_insert([0; 18])[*cls as usize] += 1;
            }
        }
    }
    counts
        .into_iter()
        .filter_map(|(rc, h)| {
            h.iter()
                .enumerate()
                .max_by_key(|(k, n)| (**n, std::cmp::Reverse(*k)))
                .filter(|(_, n)| **n > 0)
                .map(|(k, _)| (rc, k as u8))
        })
        .collect()
}

/// One retrieval per EASE cell of the pass: the footprint mean plus keyed noise, flagged
/// for snow, frozen soil and a random "not recommended" fraction.
fn smap_retrievals(
    osse: &OsseConfig,
    orbit: &Orbit,
    pass: &Pass,
    seen: &SmapCellsSeen,
    out: &mut ObsSummary,
) -> Vec<SimSmapRetrieval> {
    let means: Vec<_> = seen
        .fields
        .iter()
        .map(|f| average_to_ease_36km(&seen.lat, &seen.lon, f))
        .collect();
    let dominant = dominant_classes(seen);
    let mut rng = pass_rng(osse.obs_seed, 1, pass);
    let mut rs = Vec::with_capacity(means[0].len());
    for (i, cell) in means[0].iter().enumerate() {
        let time = orbit.time_at(pass, cell.lat);
        let z = normal(&mut rng);
        let u: f64 = rng.random();
        let snow = means[3][i].mean > 0.0;
        let frozen = means[4][i].mean > 0.0;
        let surface_flag = (u16::from(snow) << 5) | (u16::from(frozen) << 8);
        let not_recommended = u < osse.smap_not_recommended_fraction || snow || frozen;
        let lc = dominant
            .get(&(cell.row as usize, cell.col as usize))
            .copied()
            .unwrap_or(254);
        rs.push(SimSmapRetrieval {
            lat: cell.lat,
            lon: cell.lon,
            ease_row: cell.row,
            ease_col: cell.col,
            time,
            soil_moisture: (cell.mean + osse.smap_error_sd * z).clamp(0.02, 0.6),
            error: osse.smap_error_sd,
            qual_flag: u16::from(not_recommended),
            surface_flag,
            vwc: means[2][i].mean,
            surface_temperature: means[1][i].mean,
            landcover_class: lc,
        });
        out.smap_flagged += usize::from(not_recommended);
    }
    rs
}

/// Land cells bucketed by 0.5° for footprint searches.
struct CellIndex {
    buckets: std::collections::HashMap<(i64, i64), Vec<usize>>,
}

const BUCKET_DEG: f64 = 0.5;

impl CellIndex {
    fn new(series: &TruthSeries) -> Self {
        let mut buckets: std::collections::HashMap<(i64, i64), Vec<usize>> = Default::default();
        for c in 0..series.cells.len() {
            let key = (
                (series.lat[c] / BUCKET_DEG).floor() as i64,
                (wrap180(series.lon[c]) / BUCKET_DEG).floor() as i64,
            );
            buckets.entry(key).or_default().push(c);
        }
        CellIndex { buckets }
    }
    /// Land cells within `radius_km` of (lat, lon), with their distances (km).
    fn within(&self, s: &TruthSeries, lat: f64, lon: f64, radius_km: f64) -> Vec<(usize, f64)> {
        let coslat = lat.to_radians().cos().max(0.01);
        let dy = (radius_km / KM_PER_DEG / BUCKET_DEG).ceil() as i64 + 1;
        let dx = (radius_km / (KM_PER_DEG * coslat) / BUCKET_DEG).ceil() as i64 + 1;
        let (by, bx) = (
            (lat / BUCKET_DEG).floor() as i64,
            (wrap180(lon) / BUCKET_DEG).floor() as i64,
        );
        let mut v = Vec::new();
        for j in by - dy..=by + dy {
            for i in bx - dx..=bx + dx {
                for &c in self.buckets.get(&(j, i)).into_iter().flatten() {
                    let ddy = (s.lat[c] - lat) * KM_PER_DEG;
                    let ddx = wrap180(s.lon[c] - lon) * KM_PER_DEG * coslat;
                    let d = (ddx * ddx + ddy * ddy).sqrt();
                    if d <= radius_km {
                        v.push((c, d));
                    }
                }
            }
        }
        v.sort_by_key(|a| a.0);
        v
    }
}

fn simulate_ascat(
    osse: &OsseConfig,
    series: &TruthSeries,
    land: &[CellLand],
    out: &mut ObsSummary,
) -> Result<(), OsseError> {
    let Some((t0, t1)) = series_span(series) else {
        return Ok(());
    };
    let dir = osse.obs_dir.join("ascat");
    std::fs::create_dir_all(&dir).map_err(|e| fs_err(&dir, e))?;
    let orbit = Orbit::metop(osse.ascat_descending_hour);
    let index = CellIndex::new(series);
    let spacing = 12.5;
    let per_side = osse.ascat_nodes_per_side;
    let outer = 0.5 * osse.ascat_nadir_gap_km + per_side as f64 * spacing;
    let inner = 0.5 * osse.ascat_nadir_gap_km - osse.ascat_footprint_km;
    let lat_min = series.lat.iter().copied().fold(f64::INFINITY, f64::min);
    let lat_max = series.lat.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let margin = osse.ascat_footprint_km / KM_PER_DEG;
    let n_rows = (((lat_max - lat_min + 2.0 * margin) * KM_PER_DEG / spacing).ceil() as usize) + 1;
    for pass in orbit.passes(t0, t1) {
        // Skip passes whose swaths miss every land cell.
        let seen = (0..series.cells.len()).any(|c| {
            let (x, _) = orbit.cross_track(&pass, series.lat[c], series.lon[c]);
            let a = x.abs();
            a <= outer + osse.ascat_footprint_km && a >= inner
        });
        if !seen {
            continue;
        }
        let mut rng = pass_rng(osse.obs_seed, 2, &pass);
        let n_cells = 2 * per_side;
        let mut o = SimAscatOrbit {
            product: AscatProduct::Smr,
            platform: osse.ascat_platform.clone(),
            n_cells,
            line_times: Vec::with_capacity(n_rows),
            lat: Vec::new(),
            lon: Vec::new(),
            soil_moisture: Vec::new(),
            soil_moisture_error: Vec::new(),
            snow_cover_probability: Vec::new(),
            frozen_soil_probability: Vec::new(),
            wetland_flag: Vec::new(),
            topography_flag: Vec::new(),
            proc_flag1: Vec::new(),
            aggregated_quality_flag: Vec::new(),
        };
        let mut n_valid = 0;
        for r in 0..n_rows {
            // Rows in flight order: northward on ascending, southward on descending passes.
            let k = if pass.ascending { r } else { n_rows - 1 - r };
            let row_lat = lat_min - margin + k as f64 * spacing / KM_PER_DEG;
            let t = orbit.time_at(&pass, row_lat);
            let track = orbit.track_lon(&pass, t);
            let (la, lo) = simple_swath_nodes(
                row_lat,
                track,
                1,
                per_side,
                spacing,
                osse.ascat_nadir_gap_km,
            );
            o.line_times.push(t);
            for (nlat, nlon) in la.into_iter().zip(lo) {
                let nlon = wrap180(nlon);
                let fp = ascat_footprint(osse, series, land, &index, (nlat, nlon), t);
                let z = normal(&mut rng);
                n_valid += usize::from(fp.weight > 0.0);
                push_ascat_node(&mut o, osse, (nlat, nlon), &fp, z);
            }
        }
        if n_valid == 0 {
            continue;
        }
        let start = o.line_times.iter().min().copied().unwrap_or(pass.node_time);
        let name = format!(
            "ASCAT_SMR_125_{}_{}_{:05}_ssm_l2.nc",
            osse.ascat_platform,
            start.format("%Y%m%d%H%M%S"),
            pass.orbit.rem_euclid(100_000)
        );
        let path = dir.join(name);
        write_ascat_like_orbit(&path, &o)?;
        out.ascat_values += n_valid;
        out.ascat_files.push(path);
    }
    Ok(())
}

/// The Gaussian-weighted degree of saturation of the land cells in one ASCAT footprint at
/// time `t`, with whether any of them had snow or frozen soil.
struct AscatFootprint {
    weight: f64,
    saturation_sum: f64,
    snow: bool,
    frozen: bool,
}

fn ascat_footprint(
    osse: &OsseConfig,
    series: &TruthSeries,
    land: &[CellLand],
    index: &CellIndex,
    (lat, lon): (f64, f64),
    t: NaiveDateTime,
) -> AscatFootprint {
    let sigma = 0.5 * osse.ascat_footprint_km;
    let mut fp = AscatFootprint {
        weight: 0.0,
        saturation_sum: 0.0,
        snow: false,
        frozen: false,
    };
    for (c, d) in index.within(series, lat, lon, osse.ascat_footprint_km) {
        let (Some(sm), Some(swe), Some(st)) = (
            series.at(&series.soil_moisture, c, t),
            series.at(&series.swe, c, t),
            series.at(&series.soil_temperature, c, t),
        ) else {
            continue;
        };
        let l = &land[c];
        let sat = volumetric_to_saturation(sm, l.wilting_point, l.porosity);
        let w = (-0.5 * (d / sigma).powi(2)).exp();
        fp.weight += w;
        fp.saturation_sum += w * sat;
        fp.snow |= swe > SNOW_SWE;
        fp.frozen |= st < FREEZING;
    }
    fp
}

/// Appends one swath node: the footprint's value with noise `z` (percent of saturation,
/// scaled and offset as configured), or missing values and 255 flags where no land was seen.
fn push_ascat_node(
    o: &mut SimAscatOrbit,
    osse: &OsseConfig,
    (lat, lon): (f64, f64),
    fp: &AscatFootprint,
    z: f64,
) {
    let known = fp.weight > 0.0;
    let (value, err) = if known {
        let truth = fp.saturation_sum / fp.weight;
        let v = osse.ascat_scale * truth + osse.ascat_offset + osse.ascat_error_sd * z;
        (v.clamp(0.0, 100.0), osse.ascat_error_sd)
    } else {
        (f64::NAN, f64::NAN)
    };
    let probability = |yes: bool| match (known, yes) {
        (false, _) => 255,
        (true, true) => 100,
        (true, false) => 0,
    };
    let unknown = if known { 0 } else { 255 };
    o.lat.push(lat);
    o.lon.push(lon);
    o.soil_moisture.push(value);
    o.soil_moisture_error.push(err);
    o.snow_cover_probability.push(probability(fp.snow));
    o.frozen_soil_probability.push(probability(fp.frozen));
    o.wetland_flag.push(unknown);
    o.topography_flag.push(unknown);
    o.proc_flag1.push(0);
    o.aggregated_quality_flag.push(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32, m: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2020, 6, 1)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap()
    }

    #[test]
    fn overpasses_keep_local_solar_time() {
        let o = Orbit::smap(6.0);
        for p in o.passes(at(0, 0), at(23, 0)) {
            let t = o.time_at(&p, 40.0);
            let lon = o.track_lon(&p, t);
            let lst = (utc_hours(t) + lon / 15.0).rem_euclid(24.0);
            let want = if p.ascending { 18.0 } else { 6.0 };
            assert!((lst - want).abs() < 1e-6, "{lst}");
        }
    }

    #[test]
    fn smap_revisits_a_mid_latitude_point_every_two_to_three_days() {
        let o = Orbit::smap(6.0);
        let t0 = at(0, 0);
        let t1 = t0 + Duration::days(16);
        let mut days: Vec<i64> = o
            .passes(t0, t1)
            .iter()
            .filter(|p| !p.ascending)
            .filter_map(|p| {
                let (x, t) = o.cross_track(p, 38.0, -97.0);
                (x.abs() <= 500.0 && t >= t0 && t < t1).then(|| (t - t0).num_days())
            })
            .collect();
        days.dedup();
        // Morning passes only: a 1000 km swath sees a 38° N point on 5–9 of 16 days.
        assert!((5..=9).contains(&days.len()), "{days:?}");
        for w in days.windows(2) {
            assert!(w[1] - w[0] <= 4, "{days:?}");
        }
    }

    #[test]
    fn igbp_mapping_of_usgs_grassland_and_water() {
        assert_eq!(usgs_to_igbp(7), 10);
        assert_eq!(usgs_to_igbp(16), 17);
        assert_eq!(usgs_to_igbp(99), 255);
    }
}
