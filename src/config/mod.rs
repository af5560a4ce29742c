//! The `config` room (see docs/architecture.md): the Fortran namelist parser and the typed,
//! validated configuration of a landcycle run.
//!
//! [`Config::load`] reads a namelist, fills defaults from [`schema::SCHEMA`] (the single
//! source of truth also behind docs/namelist.md), deserializes each group into a typed
//! struct, resolves relative paths against the namelist's directory and validates the
//! whole. Every error names the file, line and column.

mod coupler;
mod history;
mod image;
pub mod namelist;
mod nrt;
pub mod precheck;
pub mod schema;
mod validate;

pub use coupler::{CouplerConfig, CouplerMode, ExportStat};
pub use image::{
    ImageBScale, ImageBSource, ImageConfig, ImageDeepLayers, ImageDeepShrinkage, ImageGapPolicy,
    ImageMethod, ImageObsSource, ImageOrder, ImageUpdate,
};

pub use history::HistoryNaming;
pub use namelist::{Location, Namelist, NamelistError};

use chrono::NaiveDateTime;
use namelist::{Group, Pos};
use schema::{DefaultValue, GROUPS, SCHEMA};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Errors of loading a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Namelist(#[from] NamelistError),
    #[error("{loc}: invalid `{group}:{key}`: {msg}")]
    Invalid {
        loc: Box<Location>,
        group: String,
        key: String,
        msg: String,
    },
    #[error(
        "{loc}: unknown namelist group `&{group}`: no command reads it (did you mean \
         `&{suggestion}`?)"
    )]
    UnknownGroup {
        loc: Box<Location>,
        group: String,
        suggestion: String,
    },
}

impl ConfigError {
    /// The file:line:column of the error, when it has one.
    pub fn location(&self) -> Option<&Location> {
        match self {
            ConfigError::Namelist(e) => e.location(),
            ConfigError::Invalid { loc, .. } | ConfigError::UnknownGroup { loc, .. } => Some(loc),
        }
    }
}

/// Land-surface model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    /// Noah LSM 3.4.1, four soil layers.
    Noah,
    /// The toy N-layer bucket of `lsm::bucket` (layers from `&bucket`).
    Bucket,
    /// CoLM2014's soil-ground column (`lsm::colm`), ten fixed soil layers.
    Colm,
}

/// Layout of the static file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StaticFormat {
    #[serde(rename = "landcycle")]
    Landcycle,
    #[serde(rename = "geo_em")]
    GeoEm,
}

/// Vegetation classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VegetationDataset {
    #[serde(rename = "USGS")]
    Usgs,
    #[serde(rename = "MODIFIED_IGBP_MODIS_NOAH")]
    ModifiedIgbpModisNoah,
}

impl VegetationDataset {
    /// The name used in namelists, WRF tables and the geo_em `MMINLU` attribute.
    pub fn name(self) -> &'static str {
        match self {
            VegetationDataset::Usgs => "USGS",
            VegetationDataset::ModifiedIgbpModisNoah => "MODIFIED_IGBP_MODIS_NOAH",
        }
    }
    /// Parse a dataset name (case-insensitive; `MODIS` style aliases of geo_em files included).
    pub fn from_name(name: &str) -> Option<Self> {
        let n = name.trim().to_ascii_uppercase();
        match n.as_str() {
            "USGS" => Some(VegetationDataset::Usgs),
            "MODIFIED_IGBP_MODIS_NOAH" | "MODIS" | "IGBP" => {
                Some(VegetationDataset::ModifiedIgbpModisNoah)
            }
            _ => None,
        }
    }
}

/// Remapping of forcing to the land grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Remap {
    Bilinear,
    Nearest,
}

/// A forcing variable (namelist names `tair`, `qair`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForcingVariable {
    Tair,
    Qair,
    Psurf,
    Wind,
    Rainf,
    Swdown,
    Lwdown,
}

impl ForcingVariable {
    pub const ALL: [ForcingVariable; 7] = [
        ForcingVariable::Tair,
        ForcingVariable::Qair,
        ForcingVariable::Psurf,
        ForcingVariable::Wind,
        ForcingVariable::Rainf,
        ForcingVariable::Swdown,
        ForcingVariable::Lwdown,
    ];
    /// Namelist name.
    pub fn name(self) -> &'static str {
        match self {
            ForcingVariable::Tair => "tair",
            ForcingVariable::Qair => "qair",
            ForcingVariable::Psurf => "psurf",
            ForcingVariable::Wind => "wind",
            ForcingVariable::Rainf => "rainf",
            ForcingVariable::Swdown => "swdown",
            ForcingVariable::Lwdown => "lwdown",
        }
    }
}

/// Kind of a forcing perturbation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PerturbationType {
    /// Lognormal with mean 1: value * p.
    Multiplicative,
    /// value + p.
    Additive,
}

/// `&run`: period, cycling, ensemble, cold start, history output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    #[serde(with = "datetime")]
    pub start: NaiveDateTime,
    #[serde(with = "datetime")]
    pub end: NaiveDateTime,
    pub model: Model,
    /// Model time step (s).
    pub timestep: u32,
    /// Cycle window length (h).
    pub window_hours: u32,
    pub ensemble_size: u32,
    pub seed: u64,
    /// Absolute run directory.
    pub rundir: PathBuf,
    /// Absolute path of the restart to start from; `None` is a cold start.
    pub initial_restart: Option<PathBuf>,
    /// Cold-start volumetric soil moisture per layer (m3 m-3).
    pub cold_start_soil_moisture: Vec<f64>,
    /// Initial ensemble spread at a cold start, per layer (m3 m-3); `None`: all members
    /// start from the same state.
    #[serde(default)]
    pub cold_start_soil_moisture_std: Option<Vec<f64>>,
    /// Correlation length (km) of the initial spread between cells; 0: independent per cell.
    #[serde(default)]
    pub cold_start_soil_moisture_corr_km: f64,
    /// Correlation of the initial spread between adjacent soil layers (AR(1) in the layer
    /// index); 1: one profile-wide wetness error per cell and member.
    pub cold_start_layer_correlation: f64,
    /// Cold-start temperature of soil, skin and canopy (K).
    pub cold_start_temperature: f64,
    pub history_interval_hours: u32,
    pub history_members: bool,
    pub history_compression: u32,
    /// Variables to write (names of `history_naming`); `None`: all of them.
    #[serde(default)]
    pub history_variables: Option<Vec<String>>,
    #[serde(default)]
    pub history_naming: HistoryNaming,
}

impl RunConfig {
    /// Window length (s).
    pub fn window_seconds(&self) -> i64 {
        i64::from(self.window_hours) * 3600
    }
    /// Model steps per window.
    pub fn steps_per_window(&self) -> u32 {
        self.window_hours * 3600 / self.timestep
    }
    /// Number of windows from start to end.
    pub fn window_count(&self) -> u32 {
        let secs = (self.end - self.start).num_seconds();
        (secs / self.window_seconds()) as u32
    }
    /// Number of soil layers (length of the cold-start soil moisture).
    pub fn soil_layers(&self) -> usize {
        self.cold_start_soil_moisture.len()
    }
}

/// `&domain`: static fields and parameter tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainConfig {
    /// Absolute path of the static file.
    pub static_file: PathBuf,
    pub static_format: StaticFormat,
    /// `None`: take it from the static file, else USGS.
    pub vegetation_dataset: Option<VegetationDataset>,
    /// Directory of WRF *.TBL files; `None` uses the built-in tables.
    pub parameter_tables: Option<PathBuf>,
}

impl DomainConfig {
    /// The vegetation dataset to use given the one named in the static file (if any).
    pub fn vegetation_dataset_or(&self, from_file: Option<VegetationDataset>) -> VegetationDataset {
        self.vegetation_dataset
            .or(from_file)
            .unwrap_or(VegetationDataset::Usgs)
    }
}

/// `&forcing`: the data atmosphere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForcingConfig {
    /// Absolute forcing directory (empty in the namelist: unset, which only the coupler
    /// modes that do not read data files allow).
    #[serde(default)]
    pub directory: PathBuf,
    /// strftime pattern of forcing file names (empty: unset, as `directory`).
    #[serde(default)]
    pub file_template: String,
    pub interval_hours: u32,
    pub tair_var: String,
    pub tair_units: String,
    pub qair_var: String,
    pub qair_units: String,
    pub psurf_var: String,
    pub psurf_units: String,
    pub wind_var: String,
    pub wind_units: String,
    pub rainf_var: String,
    pub rainf_units: String,
    pub swdown_var: String,
    pub swdown_units: String,
    pub lwdown_var: String,
    pub lwdown_units: String,
    /// Forcing level above the surface (m).
    pub forcing_height: f64,
    pub sw_zenith_weighting: bool,
    pub remap: Remap,
}

impl ForcingConfig {
    /// (file variable name, expected units) of a forcing variable.
    pub fn variable(&self, v: ForcingVariable) -> (&str, &str) {
        match v {
            ForcingVariable::Tair => (&self.tair_var, &self.tair_units),
            ForcingVariable::Qair => (&self.qair_var, &self.qair_units),
            ForcingVariable::Psurf => (&self.psurf_var, &self.psurf_units),
            ForcingVariable::Wind => (&self.wind_var, &self.wind_units),
            ForcingVariable::Rainf => (&self.rainf_var, &self.rainf_units),
            ForcingVariable::Swdown => (&self.swdown_var, &self.swdown_units),
            ForcingVariable::Lwdown => (&self.lwdown_var, &self.lwdown_units),
        }
    }
    /// Absolute path of the forcing file valid at `time`.
    pub fn file_for(&self, time: NaiveDateTime) -> PathBuf {
        self.directory
            .join(time.format(&self.file_template).to_string())
    }
}

/// `&perturbation`: ensemble perturbations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerturbationConfig {
    pub perturb_forcing: bool,
    pub perturb_state: bool,
    /// Perturbation interval (s).
    pub interval_seconds: u32,
    pub std_normal_max: f64,
    pub remove_ensemble_mean: bool,
    pub forcing_vars: Vec<ForcingVariable>,
    pub forcing_types: Vec<PerturbationType>,
    pub forcing_std: Vec<f64>,
    pub forcing_tau_hours: Vec<f64>,
    /// Row-major n x n, n = forcing_vars.len().
    pub forcing_corr: Vec<f64>,
    /// Spatial correlation length (km), 0 = none.
    pub spatial_corr_km: f64,
    /// Per soil layer (m3 m-3).
    pub state_std: Vec<f64>,
    pub state_tau_hours: f64,
    /// Interval of the soil-moisture state perturbations (s).
    pub state_interval_seconds: u32,
    /// Row-major layers x layers.
    pub state_corr: Vec<f64>,
}

impl PerturbationConfig {
    /// The forcing cross-correlation as rows.
    pub fn forcing_correlation(&self) -> Vec<Vec<f64>> {
        rows(&self.forcing_corr, self.forcing_vars.len())
    }
    /// The soil-layer correlation as rows.
    pub fn state_correlation(&self) -> Vec<Vec<f64>> {
        rows(&self.state_corr, self.state_std.len())
    }
}

fn rows(flat: &[f64], n: usize) -> Vec<Vec<f64>> {
    flat.chunks(n.max(1)).map(<[f64]>::to_vec).collect()
}

/// A sensor the assimilation reads (`&da` group).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DaSensor {
    /// SMAP L2 radiometer soil moisture (SPL2SMP HDF5 granules).
    Smap,
    /// ASCAT EUMETSAT Level-2 soil moisture (NetCDF orbits, % saturation).
    Ascat,
}

impl DaSensor {
    pub fn name(self) -> &'static str {
        match self {
            DaSensor::Smap => "smap",
            DaSensor::Ascat => "ascat",
        }
    }
}

/// How several observations of one sensor in one cell and analysis are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DaCombine {
    Average,
    Latest,
}

/// Joint (stacked) or sequential assimilation of several sensors in one cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DaMode {
    Joint,
    Sequential,
}

/// When analyses happen inside a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DaAnalysisTimes {
    /// At the end of the model step containing each observation time (LIS).
    EveryObsTime,
    /// Once, at the end of the window, with all observations of the window.
    WindowEnd,
}

/// Observation bias correction against a model climatology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DaBiasCorrection {
    None,
    /// Monthly CDF matching.
    Cdf,
    /// Monthly mean (anomaly) correction.
    Anomaly,
}

/// `&da`: soil-moisture data assimilation inside the cycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaConfig {
    pub enabled: bool,
    pub sensors: Vec<DaSensor>,
    /// Absolute directory of SMAP granules.
    pub smap_directory: PathBuf,
    /// File-name pattern (strftime fields, then `*`/`?` wildcards).
    pub smap_pattern: String,
    /// m3 m-3.
    pub smap_error_sd: f64,
    pub smap_bias_correction: DaBiasCorrection,
    pub smap_climatology: Option<PathBuf>,
    /// Half-width of the SMAP footprint for the mapping (km, 0 = nearest cell only).
    pub smap_footprint_km: f64,
    /// TCA map (`landcycle tca --maps`) whose error variance replaces `smap_error_sd` per cell.
    pub smap_error_map: Option<PathBuf>,
    /// Variable of `smap_error_map` holding the error variance (m6 m-6).
    pub smap_error_map_variable: String,
    /// Absolute directory of ASCAT orbit files.
    pub ascat_directory: PathBuf,
    pub ascat_pattern: String,
    /// % saturation.
    pub ascat_error_sd: f64,
    pub ascat_bias_correction: DaBiasCorrection,
    pub ascat_climatology: Option<PathBuf>,
    /// Half-width of the ASCAT footprint for the mapping (km, 0 = nearest cell only).
    pub ascat_footprint_km: f64,
    /// TCA map whose error variance replaces the rescaled `ascat_error_sd` per cell.
    pub ascat_error_map: Option<PathBuf>,
    /// Variable of `ascat_error_map` holding the error variance (m6 m-6).
    pub ascat_error_map_variable: String,
    pub combine: DaCombine,
    pub mode: DaMode,
    /// Relaxation to prior spread α (0 = off).
    pub rtps_alpha: f64,
    /// Cut-off radius (km) within which a cell's analysis uses other cells' observations
    /// (0 = 1-D EnKF).
    pub localization_km: f64,
    pub analysis_times: DaAnalysisTimes,
    pub qc_smap_quality: bool,
    pub qc_smap_vegetation: bool,
    pub qc_ascat_error: bool,
    pub qc_ascat_topography: bool,
    pub qc_ascat_wetland: bool,
    pub qc_ascat_snow: bool,
    pub qc_ascat_frozen: bool,
    pub qc_precipitation: bool,
    pub qc_frozen_soil: bool,
    pub qc_temperature: bool,
    pub qc_swe: bool,
    pub qc_snow_cover: bool,
    pub qc_forest: bool,
    pub qc_green_fraction: bool,
    pub qc_near_bounds: bool,
    pub diagnostics: bool,
}

impl DaConfig {
    /// Footprint half-width of a sensor's mapping (km, 0 = nearest cell only).
    pub fn footprint_km(&self, s: DaSensor) -> f64 {
        match s {
            DaSensor::Smap => self.smap_footprint_km,
            DaSensor::Ascat => self.ascat_footprint_km,
        }
    }

    /// A sensor's error map (`<sensor>_error_map`) and its variable, when given.
    pub fn error_map(&self, s: DaSensor) -> Option<(&Path, &str)> {
        match s {
            DaSensor::Smap => self
                .smap_error_map
                .as_deref()
                .map(|p| (p, &*self.smap_error_map_variable)),
            DaSensor::Ascat => self
                .ascat_error_map
                .as_deref()
                .map(|p| (p, &*self.ascat_error_map_variable)),
        }
    }

    /// (directory, pattern, error σ, bias correction, climatology) of a sensor.
    pub fn sensor(&self, s: DaSensor) -> (&Path, &str, f64, DaBiasCorrection, Option<&Path>) {
        match s {
            DaSensor::Smap => (
                &self.smap_directory,
                &self.smap_pattern,
                self.smap_error_sd,
                self.smap_bias_correction,
                self.smap_climatology.as_deref(),
            ),
            DaSensor::Ascat => (
                &self.ascat_directory,
                &self.ascat_pattern,
                self.ascat_error_sd,
                self.ascat_bias_correction,
                self.ascat_climatology.as_deref(),
            ),
        }
    }
}

/// `&bucket`: layering of the toy bucket model (`lsm::bucket`, docs/bucket.md).
///
/// [`Config::bucket`] is always present, filled with defaults when the group is left out;
/// it is read only when `run.model` is [`Model::Bucket`], and validation guarantees
/// `layer_thickness` is then `Some` with 1 to [`BUCKET_MAX_LAYERS`] positive values.
/// [`Config::layer_thickness`] gives what a model's constructor takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketConfig {
    /// Soil layer thicknesses (m), top first; `None` when the namelist does not give them.
    pub layer_thickness: Option<Vec<f64>>,
}

/// Most layers `bucket:layer_thickness` may give (as `lsm::bucket::MAX_LAYERS`).
pub const BUCKET_MAX_LAYERS: usize = 20;

/// `&nrt`: near-real-time scheduling of `landcycle nrt` (docs/operations.md). Operational
/// settings only: no key enters the fingerprint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NrtConfig {
    /// Minutes after a cycle's end before it may run at all.
    pub obs_latency_minutes: u32,
    /// Minutes after a cycle's end at which its SMAP file list is frozen.
    pub obs_cutoff_minutes_smap: u32,
    /// Minutes after a cycle's end at which its ASCAT file list is frozen.
    pub obs_cutoff_minutes_ascat: u32,
    /// Most cycles one invocation runs.
    pub max_windows_per_run: u32,
    /// Eligible cycles beyond which `nrt` stops for an operator (`--force` overrides).
    pub max_backlog_windows: u32,
    /// No new cycle starts after this many minutes of one invocation.
    pub max_run_minutes: u32,
    /// Failed attempts of one cycle before `nrt` stops for an operator.
    pub max_attempts: u32,
    /// Back-off of the first retry of a transiently failed cycle (doubling per failure).
    pub retry_base_minutes: u32,
    /// Longest back-off between attempts.
    pub retry_max_minutes: u32,
    /// Command receiving the status JSON on a change to WARNING or CRITICAL.
    pub alert_command: Option<String>,
    /// What a cycle does when its forcing is still missing at its deadline.
    pub on_missing_forcing: OnMissingForcing,
    /// Minutes after a cycle's end at which missing forcing is acted on.
    pub forcing_deadline_minutes: u32,
    /// Longest lead (h) of an earlier atmosphere cycle that `previous_cycle` may use.
    pub max_fallback_lead_hours: u32,
    /// Complete cycles (newest first) whose output checksums recovery verifies (0: none).
    pub verify_output_cycles: u32,
}

/// `nrt:on_missing_forcing`: a cycle's forcing is still missing at its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnMissingForcing {
    /// Keep waiting, with a WARNING status naming the missing file.
    Wait,
    /// Use the longer leads of an earlier atmosphere cycle (forecast-archive templates).
    PreviousCycle,
    /// Fail the cycle permanently (an operator decides).
    Fail,
}

/// `&restart`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestartConfig {
    /// Restarts to keep (0 = all).
    pub keep: u32,
}

/// The typed, validated configuration of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub run: RunConfig,
    pub domain: DomainConfig,
    pub forcing: ForcingConfig,
    pub perturbation: PerturbationConfig,
    pub restart: RestartConfig,
    /// `&bucket`, defaults when left out; meaningful only for `model = 'bucket'`.
    pub bucket: BucketConfig,
    pub da: DaConfig,
    /// `&image`, defaults (off) when left out.
    pub image: ImageConfig,
    /// `&nrt`, defaults when left out; read only by `landcycle nrt`.
    pub nrt: NrtConfig,
    /// `&coupler`, defaults (data files, no export) when left out.
    pub coupler: CouplerConfig,
    /// Absolute path of the namelist file.
    pub namelist_file: PathBuf,
    /// The namelist text as read (recorded in output).
    pub namelist_text: String,
    /// The parsed namelist, for groups other rooms read (e.g. `&synth`).
    pub namelist: Namelist,
    fingerprint: String,
}

impl Config {
    /// Read, parse, fill defaults, resolve paths and validate a namelist file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let bytes = std::fs::read(path).map_err(|source| NamelistError::Io {
            file: path.to_path_buf(),
            source,
        })?;
        Config::from_text(&precheck::decode(bytes, path)?, path)
    }

    /// As [`Config::load`] for text already read from `path` (relative paths resolve
    /// against `path`'s directory).
    pub fn from_text(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let nl = namelist::parse_str(text, path)?;
        precheck::check_group_names(&nl)?;
        precheck::check_array_holes(&nl)?;
        let base = resolve(&base_dir(path), Path::new(""));
        let l = Loader { nl: &nl };
        let mut run: RunConfig = l.group("run")?;
        let mut domain: DomainConfig = l.group("domain")?;
        let mut forcing: ForcingConfig = l.group("forcing")?;
        let perturbation: PerturbationConfig = l.group("perturbation")?;
        let restart: RestartConfig = l.group("restart")?;
        let bucket: BucketConfig = l.group("bucket")?;
        let mut da: DaConfig = l.group("da")?;
        let nrt: NrtConfig = l.group("nrt")?;
        let mut image: ImageConfig = l.group("image")?;
        let mut coupler: CouplerConfig = l.group("coupler")?;
        coupler.directory = resolve(&base, &coupler.directory);
        coupler.a2l_weights = coupler.a2l_weights.as_ref().map(|p| resolve(&base, p));
        coupler.l2a_weights = coupler.l2a_weights.as_ref().map(|p| resolve(&base, p));
        coupler.wrfinput_in = coupler.wrfinput_in.as_ref().map(|p| resolve(&base, p));
        coupler.wrfinput_out = coupler.wrfinput_out.as_ref().map(|p| resolve(&base, p));
        image.gridded_directory = resolve(&base, &image.gridded_directory);
        da.smap_directory = resolve(&base, &da.smap_directory);
        da.ascat_directory = resolve(&base, &da.ascat_directory);
        da.smap_climatology = da.smap_climatology.as_ref().map(|p| resolve(&base, p));
        da.ascat_climatology = da.ascat_climatology.as_ref().map(|p| resolve(&base, p));
        da.smap_error_map = da.smap_error_map.as_ref().map(|p| resolve(&base, p));
        da.ascat_error_map = da.ascat_error_map.as_ref().map(|p| resolve(&base, p));
        run.rundir = resolve(&base, &run.rundir);
        run.initial_restart = run.initial_restart.as_ref().map(|p| resolve(&base, p));
        domain.static_file = resolve(&base, &domain.static_file);
        domain.parameter_tables = domain.parameter_tables.as_ref().map(|p| resolve(&base, p));
        forcing.directory = resolve(&base, &forcing.directory);
        let mut cfg = Config {
            run,
            domain,
            forcing,
            perturbation,
            restart,
            bucket,
            da,
            image,
            nrt,
            coupler,
            namelist_file: std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
            namelist_text: text.to_string(),
            namelist: nl.clone(),
            fingerprint: String::new(),
        };
        l.validate(&cfg)?;
        cfg.fingerprint = cfg.compute_fingerprint();
        Ok(cfg)
    }

    /// SHA-256 (hex) over the canonical effective values of the science-relevant keys
    /// (those marked `fingerprint` in the schema): run length, paths, history and restart
    /// retention are excluded so a run can be extended or moved.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Soil layer thicknesses (m, top first) a model with configurable layering is built
    /// with (`lsm::ModelSetup::layer_thickness`): `bucket:layer_thickness` for the bucket,
    /// `None` for Noah, whose layers are fixed.
    pub fn layer_thickness(&self) -> Option<&[f64]> {
        match self.run.model {
            Model::Noah | Model::Colm => None,
            Model::Bucket => self.bucket.layer_thickness.as_deref(),
        }
    }

    fn compute_fingerprint(&self) -> String {
        let mut h = Sha256::new();
        // A model's own group counts only when that model runs, so adding the bucket left
        // every Noah fingerprint (and so every Noah restart) as it was.
        let counts = |g: &str| g != "bucket" || self.run.model == Model::Bucket;
        for spec in SCHEMA.iter().filter(|s| s.fingerprint && counts(s.group)) {
            let v = self.value_text(spec.group, spec.key);
            h.update(format!(
                "{}:{}={}\n",
                spec.group,
                spec.key,
                v.unwrap_or_default()
            ));
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn group_json(&self, group: &str) -> serde_json::Value {
        let v = match group {
            "run" => serde_json::to_value(&self.run),
            "domain" => serde_json::to_value(&self.domain),
            "forcing" => serde_json::to_value(&self.forcing),
            "perturbation" => serde_json::to_value(&self.perturbation),
            "restart" => serde_json::to_value(&self.restart),
            "bucket" => serde_json::to_value(&self.bucket),
            "da" => serde_json::to_value(&self.da),
            "image" => serde_json::to_value(&self.image),
            "nrt" => serde_json::to_value(&self.nrt),
            "coupler" => serde_json::to_value(&self.coupler),
            _ => Ok(serde_json::Value::Null),
        };
        // Serializing plain data with UTF-8 paths cannot fail; a non-UTF-8 path renders as null.
        v.unwrap_or(serde_json::Value::Null)
    }

    /// The effective value of `group:key` in namelist syntax (`None` when unset).
    pub fn value_text(&self, group: &str, key: &str) -> Option<String> {
        let g = self.group_json(group);
        let v = g.get(key)?;
        if v.is_null() {
            return None;
        }
        let n = match key {
            "forcing_corr" => self.perturbation.forcing_vars.len(),
            "state_corr" => self.perturbation.state_std.len(),
            _ => 0,
        };
        Some(json_to_namelist(v, n))
    }

    /// The effective configuration as a namelist, every default filled in and paths
    /// absolute. Loading it again gives the same configuration.
    pub fn effective_namelist(&self) -> String {
        let mut s = String::new();
        for g in GROUPS {
            s.push_str(&format!("&{}\n", g.name));
            let width = schema::group_keys(g.name)
                .map(|k| k.key.len())
                .max()
                .unwrap_or(0);
            for spec in schema::group_keys(g.name) {
                match self.value_text(g.name, spec.key) {
                    Some(v) => s.push_str(&format!(
                        "  {:width$} = {}\n",
                        spec.key,
                        v.replace('\n', &format!("\n  {:width$}   ", ""))
                    )),
                    None => {
                        let what = match spec.default {
                            DefaultValue::Unset(w) => w,
                            _ => "unset",
                        };
                        s.push_str(&format!("  ! {} unset: {}\n", spec.key, what));
                    }
                }
            }
            s.push_str("/\n\n");
        }
        s.pop();
        s
    }
}

/// Namelist text of a serialized value; `n` > 0 breaks a flat n x n matrix into rows.
fn json_to_namelist(v: &serde_json::Value, n: usize) -> String {
    use serde_json::Value as J;
    match v {
        J::Null => String::new(),
        J::Bool(b) => if *b { ".true." } else { ".false." }.to_string(),
        J::Number(num) => {
            if let Some(i) = num.as_i64() {
                i.to_string()
            } else if let Some(u) = num.as_u64() {
                u.to_string()
            } else {
                // Debug of f64 is the shortest text that reads back to the same value.
                format!("{:?}", num.as_f64().unwrap_or(f64::NAN))
            }
        }
        J::String(s) => format!("'{}'", s.replace('\'', "''")),
        J::Array(a) => {
            let parts: Vec<String> = a.iter().map(|x| json_to_namelist(x, 0)).collect();
            if n > 0 && parts.len() == n * n {
                parts
                    .chunks(n)
                    .map(|r| r.join(", "))
                    .collect::<Vec<_>>()
                    .join(",\n")
            } else {
                parts.join(", ")
            }
        }
        J::Object(_) => String::new(),
    }
}

fn base_dir(path: &Path) -> PathBuf {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// `p` made absolute against `base` and lexically normalized (`.` dropped, `..` removes the
/// previous component), without touching the file system.
fn resolve(base: &Path, p: &Path) -> PathBuf {
    use std::path::Component;
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push(c);
                }
            }
            other => out.push(other),
        }
    }
    out
}

struct Loader<'a> {
    nl: &'a Namelist,
}

impl Loader<'_> {
    /// Deserialize `name` with schema defaults filled in for keys the file does not set.
    fn group<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, ConfigError> {
        let spec = GROUPS
            .iter()
            .find(|g| g.name == name)
            .expect("group in schema");
        let user = match self.nl.group(name) {
            Some(g) => g.clone(),
            None if spec.required => {
                return Err(NamelistError::MissingGroup {
                    file: self.nl.file.clone(),
                    group: name.to_string(),
                    available: self.nl.group_names(),
                }
                .into())
            }
            None => Group {
                name: name.to_string(),
                pos: Pos { line: 1, col: 1 },
                entries: Vec::new(),
            },
        };
        if self.nl.groups.iter().filter(|g| g.name == name).count() > 1 {
            let dup = self.nl.groups.iter().filter(|g| g.name == name).nth(1);
            return Err(NamelistError::DuplicateGroup {
                loc: Box::new(self.nl.location(dup.map_or(user.pos, |g| g.pos))),
                group: name.to_string(),
            }
            .into());
        }
        let mut merged = user;
        let defaults = default_group(name);
        for e in defaults.entries {
            if merged.entry(&e.name).is_none() {
                merged.entries.push(e);
            }
        }
        let nl = Namelist {
            file: self.nl.file.clone(),
            groups: vec![merged],
        };
        Ok(nl.deserialize_group(name)?)
    }

    /// Location of `group:key` in the file: the key if set there, else the group header,
    /// else the start of the file.
    fn loc(&self, group: &str, key: &str) -> Location {
        let pos = match self.nl.group(group) {
            Some(g) => g.entry(key).map_or(g.pos, |e| e.pos),
            None => Pos { line: 1, col: 1 },
        };
        self.nl.location(pos)
    }

    /// Location of element `index` (0-based) of `group:key` when the file sets it.
    fn loc_item(&self, group: &str, key: &str, index: usize) -> Location {
        let item = self
            .nl
            .group(group)
            .and_then(|g| g.entry(key))
            .and_then(|e| e.values.get(index));
        match item {
            Some(i) => self.nl.location(i.pos),
            None => self.loc(group, key),
        }
    }

    fn is_set(&self, group: &str, key: &str) -> bool {
        self.nl.group(group).and_then(|g| g.entry(key)).is_some()
    }

    fn err(&self, group: &str, key: &str, msg: String) -> ConfigError {
        self.err_at(self.loc(group, key), group, key, msg)
    }

    fn err_at(&self, loc: Location, group: &str, key: &str, msg: String) -> ConfigError {
        let msg = if self.is_set(group, key) {
            msg
        } else {
            format!("{msg} (`{key}` has its default value)")
        };
        ConfigError::Invalid {
            loc: Box::new(loc),
            group: group.to_string(),
            key: key.to_string(),
            msg,
        }
    }

    /// `&bucket` of a bucket run; returns its layer count.
    fn validate_bucket(&self, c: &Config) -> Result<usize, ConfigError> {
        let g = "bucket";
        let Some(dz) = &c.bucket.layer_thickness else {
            return Err(self.err(
                "run",
                "model",
                "'bucket' needs bucket:layer_thickness (the thickness of each soil layer in m, \
                 top first), which is not given"
                    .into(),
            ));
        };
        if dz.is_empty() || dz.len() > BUCKET_MAX_LAYERS {
            return Err(self.err(
                g,
                "layer_thickness",
                format!(
                    "{} layers given, 1 to {BUCKET_MAX_LAYERS} allowed",
                    dz.len()
                ),
            ));
        }
        for (i, &d) in dz.iter().enumerate() {
            if !(d > 0.0 && d.is_finite()) {
                return Err(self.err_at(
                    self.loc_item(g, "layer_thickness", i),
                    g,
                    "layer_thickness",
                    format!("thickness {d} m of layer {} must be positive", i + 1),
                ));
            }
        }
        Ok(dz.len())
    }

    fn validate_da(&self, c: &Config) -> Result<(), ConfigError> {
        let d = &c.da;
        let g = "da";
        if !d.enabled {
            return Ok(());
        }
        if d.sensors.is_empty() {
            return Err(self.err(g, "sensors", "no sensor given".into()));
        }
        for (key, v) in [
            ("smap_footprint_km", d.smap_footprint_km),
            ("ascat_footprint_km", d.ascat_footprint_km),
            ("localization_km", d.localization_km),
        ] {
            if !(0.0..=200.0).contains(&v) {
                return Err(self.err(g, key, format!("{v} km is outside 0 to 200 km")));
            }
        }
        if !(0.0..=1.0).contains(&d.rtps_alpha) {
            return Err(self.err(
                g,
                "rtps_alpha",
                format!("{} is outside 0 to 1", d.rtps_alpha),
            ));
        }
        for (i, s) in d.sensors.iter().enumerate() {
            if d.sensors[..i].contains(s) {
                return Err(self.err_at(
                    self.loc_item(g, "sensors", i),
                    g,
                    "sensors",
                    format!("'{}' appears twice", s.name()),
                ));
            }
        }
        if c.run.ensemble_size < 2 {
            return Err(self.err(
                "run",
                "ensemble_size",
                "the ensemble Kalman filter (da:enabled) needs at least 2 members".into(),
            ));
        }
        for s in &d.sensors {
            let n = s.name();
            let (_, pattern, sd, bias, clim) = d.sensor(*s);
            let pkey = format!("{n}_pattern");
            if pattern.trim().is_empty() {
                return Err(self.err(g, &pkey, "is empty".into()));
            }
            if pattern.contains('/') {
                return Err(self.err(
                    g,
                    &pkey,
                    format!("'{pattern}' is a file-name pattern and must not contain '/'"),
                ));
            }
            let mut probe = String::new();
            if std::fmt::write(&mut probe, format_args!("{}", c.run.start.format(pattern))).is_err()
            {
                return Err(self.err(
                    g,
                    &pkey,
                    format!("'{pattern}' is not a valid strftime pattern"),
                ));
            }
            if !(sd > 0.0 && sd.is_finite()) {
                return Err(self.err(
                    g,
                    &format!("{n}_error_sd"),
                    format!("{sd} must be positive"),
                ));
            }
            if d.error_map(*s).is_some_and(|(_, v)| v.trim().is_empty()) {
                return Err(self.err(
                    g,
                    &format!("{n}_error_map_variable"),
                    format!("is empty but {n}_error_map is given"),
                ));
            }
            if bias != DaBiasCorrection::None && clim.is_none() {
                return Err(self.err(
                    g,
                    &format!("{n}_climatology"),
                    format!("{n}_bias_correction needs a climatology file"),
                ));
            }
        }
        Ok(())
    }

    fn check_std(&self, g: &str, key: &str, v: &[f64]) -> Result<(), ConfigError> {
        for (i, &s) in v.iter().enumerate() {
            if !(s >= 0.0 && s.is_finite()) {
                return Err(self.err_at(
                    self.loc_item(g, key, i),
                    g,
                    key,
                    format!("standard deviation {s} (element {}) must be >= 0", i + 1),
                ));
            }
        }
        Ok(())
    }

    fn check_corr(
        &self,
        g: &str,
        key: &str,
        c: &[f64],
        n: usize,
        size_key: &str,
    ) -> Result<(), ConfigError> {
        if c.len() != n * n {
            return Err(self.err(
                g,
                key,
                format!(
                    "{} values given, but a {n} x {n} matrix (from {size_key}) needs {}",
                    c.len(),
                    n * n
                ),
            ));
        }
        for i in 0..n {
            if (c[i * n + i] - 1.0).abs() > 1e-9 {
                return Err(self.err_at(
                    self.loc_item(g, key, i * n + i),
                    g,
                    key,
                    format!(
                        "diagonal element ({0},{0}) is {1}, not 1",
                        i + 1,
                        c[i * n + i]
                    ),
                ));
            }
            for j in 0..n {
                let v = c[i * n + j];
                if !(-1.0..=1.0).contains(&v) {
                    return Err(self.err_at(
                        self.loc_item(g, key, i * n + j),
                        g,
                        key,
                        format!("element ({},{}) = {v} is outside [-1, 1]", i + 1, j + 1),
                    ));
                }
                if (v - c[j * n + i]).abs() > 1e-9 {
                    return Err(self.err_at(
                        self.loc_item(g, key, i * n + j),
                        g,
                        key,
                        format!(
                            "not symmetric: element ({},{}) = {v} but ({},{}) = {}",
                            i + 1,
                            j + 1,
                            j + 1,
                            i + 1,
                            c[j * n + i]
                        ),
                    ));
                }
            }
        }
        if let Err(k) = cholesky(c, n) {
            return Err(self.err(
                g,
                key,
                format!(
                    "not positive definite (Cholesky factorization fails at row {})",
                    k + 1
                ),
            ));
        }
        Ok(())
    }
}

/// Lower-triangular Cholesky factor (row-major) of a symmetric n x n matrix, or the row
/// at which it is found not positive definite.
pub fn cholesky(a: &[f64], n: usize) -> Result<Vec<f64>, usize> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            if i == j {
                let d = a[i * n + i] - s;
                if d <= 1e-10 {
                    return Err(i);
                }
                l[i * n + i] = d.sqrt();
            } else {
                l[i * n + j] = (a[i * n + j] - s) / l[j * n + j];
            }
        }
    }
    Ok(l)
}

/// The group `name` holding the schema defaults (keys with a default value).
fn default_group(name: &str) -> Group {
    let mut text = format!("&{name}\n");
    for spec in schema::group_keys(name) {
        if let DefaultValue::Value(v) = spec.default {
            text.push_str(&format!("{} = {}\n", spec.key, v));
        }
    }
    text.push_str("/\n");
    let nl = namelist::parse_str(&text, Path::new("<schema defaults>"))
        .expect("schema defaults are valid namelist syntax (tested)");
    nl.groups.into_iter().next().expect("one group")
}

fn fmt_time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d_%H:%M:%S").to_string()
}

/// Parse a namelist date-time: 'YYYY-MM-DD_HH:MM:SS', 'YYYY-MM-DDTHH:MM:SS',
/// 'YYYY-MM-DD HH:MM:SS', 'YYYYMMDDHH' or 'YYYYMMDDHHMM' (UTC; a trailing 'Z' is allowed).
pub fn parse_datetime(s: &str) -> Option<NaiveDateTime> {
    let t = s.trim();
    let t = t.strip_suffix('Z').unwrap_or(t);
    for fmt in [
        "%Y-%m-%d_%H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(t, fmt) {
            return Some(d);
        }
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        let padded = match t.len() {
            10 => format!("{t}0000"),
            12 => format!("{t}00"),
            _ => return None,
        };
        return NaiveDateTime::parse_from_str(&padded, "%Y%m%d%H%M%S").ok();
    }
    None
}

mod datetime {
    use super::*;

    pub fn serialize<S: Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&fmt_time(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDateTime, D::Error> {
        let s = String::deserialize(d)?;
        parse_datetime(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "'{s}' is not a date-time (use 'YYYY-MM-DD_HH:MM:SS', 'YYYY-MM-DDTHH:MM:SS' or 'YYYYMMDDHH')"
            ))
        })
    }
}

/// Field names of a `Deserialize` struct as serde sees them (for schema consistency tests).
pub fn serde_fields<T: serde::de::DeserializeOwned>() -> &'static [&'static str] {
    struct Grab;
    #[derive(Debug)]
    struct Fields(&'static [&'static str]);
    impl std::fmt::Display for Fields {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "fields")
        }
    }
    impl std::error::Error for Fields {}
    impl serde::de::Error for Fields {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Fields(&[])
        }
    }
    impl<'de> Deserializer<'de> for Grab {
        type Error = Fields;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Fields> {
            Err(Fields(&[]))
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Fields> {
            Err(Fields(fields))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    match T::deserialize(Grab) {
        Err(Fields(f)) => f,
        Ok(_) => &[],
    }
}
