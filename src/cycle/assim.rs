//! Soil-moisture assimilation inside the cycle (SCIENCE.md §3–§5, docs/assimilation.md).
//!
//! Per window every rank reads all observation files of the window (they are small), maps
//! the observations to the model grid (nearest cell centre, or every cell inside the
//! footprint) and groups them by analysis
//! time. Reading and mapping are the same on every rank, so the set of analysis times is
//! too and the collective diagnostics output needs no extra agreement. At the end of each
//! analysis step a rank bias-corrects and model-QCs the observations of its own cells and
//! runs the 1-D EnKF (`da::enkf`) per cell (optionally localised with neighbours' observations,
//! `da:localization_km`): state = total soil moisture of all layers per
//! member, H = top layer. Observation perturbations are keyed normals of (seed, global id
//! of the observed cell, member, sensor, analysis time), so results do not depend on the decomposition
//! or on where a run was restarted.
//!
//! Bad or missing observation files never stop a cycle: they are skipped with a warning and
//! a window without usable observations runs as open loop.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono::{Datelike, Duration, NaiveDateTime, Timelike};

use super::ensemble::CellEnsemble;
use crate::biascorr::{BiasMethod, Climatology};
use crate::config::{DaAnalysisTimes, DaBiasCorrection, DaCombine, DaConfig, DaMode, DaSensor};
use crate::da::enkf::{self, EnkfError, LinearObs, Mode};
use crate::grid::Grid;
use crate::io::climatology::read_climatology;
use crate::io::IoError;
use crate::lsm::noah::{snow, NoahLsm, NoahParams, NoahState};
use crate::lsm::{CellStatics, Forcing, LandModel};
use crate::obs::ascat::{read_ascat, AscatOptions};
use crate::obs::mapping::{map_to_grid, CellObs, Combine, LatLonGrid};
use crate::obs::prepare::{prepare_cells, BiasStep, NO_MODEL_CELL};
use crate::obs::qc::{model_qc, ModelQcInput, ModelQcRules, RULES as MODEL_QC_RULES};
use crate::obs::smap::{read_smap_spl2smp, SmapOptions};
use crate::obs::{read_files, saturation_to_volumetric, Observation, RejectCounts};
use crate::parallel::{merge_by_id, Communicator};
use crate::perturb::{DeviateKey, Purpose};
use crate::time::{epoch_seconds, Window};

/// Random stream of the observation perturbations (forcing = 1, soil moisture = 2).
pub const STREAM_OBSERVATION: u32 = 3;

/// Rules of the per-analysis QC counted in the diagnostics, in application order: the
/// mapping, the bias correction and the model-based rules.
pub const QC_RULES: [&str; 14] = [
    "outside_grid",
    "not_land",
    "bias_insufficient_samples",
    "bias_degenerate_cdf",
    "bias_outside_training_range",
    NO_MODEL_CELL,
    MODEL_QC_RULES[0],
    MODEL_QC_RULES[1],
    MODEL_QC_RULES[2],
    MODEL_QC_RULES[3],
    MODEL_QC_RULES[4],
    MODEL_QC_RULES[5],
    MODEL_QC_RULES[6],
    MODEL_QC_RULES[7],
];

/// Errors of the assimilation (setup and analysis). Observation files are never an error.
#[derive(Debug, thiserror::Error)]
pub enum AssimError {
    #[error("da: {0}")]
    Config(String),
    #[error("da: climatology {path}: {message}")]
    Climatology { path: PathBuf, message: String },
    #[error("da: analysis at {time}, cell {cell_id}: {source}")]
    Enkf {
        time: NaiveDateTime,
        cell_id: u64,
        source: EnkfError,
    },
    #[error("da: diagnostics: {0}")]
    Io(#[from] IoError),
    #[error("da: another rank failed in the analysis (see its error message above)")]
    PeerFailed,
}

/// Index of a sensor in the observation-perturbation key.
pub fn sensor_code(s: DaSensor) -> u32 {
    match s {
        DaSensor::Smap => 0,
        DaSensor::Ascat => 1,
    }
}

/// The sensor of a [`sensor_code`].
fn sensor_of_code(code: u32) -> DaSensor {
    if code == sensor_code(DaSensor::Smap) {
        DaSensor::Smap
    } else {
        DaSensor::Ascat
    }
}

/// Product-QC rule names of a sensor's reader.
pub fn product_rules(s: DaSensor) -> &'static [&'static str] {
    match s {
        DaSensor::Smap => &crate::obs::smap::RULES,
        DaSensor::Ascat => &crate::obs::ascat::RULES,
    }
}

struct SensorSetup {
    sensor: DaSensor,
    directory: PathBuf,
    pattern: String,
    /// Footprint half-width of the mapping (km, 0 = nearest cell).
    footprint_km: f64,
    bias: Option<(BiasMethod, Climatology)>,
    smap: SmapOptions,
    ascat: AscatOptions,
}

/// The assimilation of one run on one rank: configuration, grid and the rank's cells.
pub struct Assimilation {
    sensors: Vec<SensorSetup>,
    lat: Vec<f64>,
    lon: Vec<f64>,
    land: Vec<bool>,
    combine: Combine,
    mode: Mode,
    /// Relaxation-to-prior-spread factor α (0 = off).
    rtps: f64,
    /// Cut-off radius of the observations' influence on other cells (km, 0 = 1-D).
    localization_km: f64,
    analysis_times: DaAnalysisTimes,
    rules: ModelQcRules,
    diagnostics: bool,
    seed: u64,
    dt: i64,
    /// Global id → local cell index.
    local: HashMap<u64, usize>,
    forest: Vec<bool>,
    green_monthly: Vec<[f64; 12]>,
    layer_thickness: Vec<f64>,
}

/// Vegetation classes that count as forest for the model QC.
pub fn is_forest(vegetation_dataset: &str, class: i32) -> bool {
    match vegetation_dataset.to_ascii_uppercase().as_str() {
        // USGS 24-class: deciduous/evergreen broadleaf/needleleaf and mixed forest.
        "USGS" => (11..=15).contains(&class),
        // IGBP (MODIS): evergreen/deciduous needleleaf/broadleaf and mixed forests.
        s if s.contains("IGBP") || s.contains("MODIS") => (1..=5).contains(&class),
        _ => false,
    }
}

/// Green vegetation fraction at `t` from monthly values valid at mid-month, linear in time.
pub fn green_fraction_at(monthly: &[f64; 12], t: NaiveDateTime) -> f64 {
    let m0 = t.month0() as usize;
    let days_in = |y: i32, m0: usize| -> f64 {
        let (ny, nm) = if m0 == 11 {
            (y + 1, 1)
        } else {
            (y, m0 as u32 + 2)
        };
        let first = chrono::NaiveDate::from_ymd_opt(y, m0 as u32 + 1, 1).expect("valid month");
        let next = chrono::NaiveDate::from_ymd_opt(ny, nm, 1).expect("valid month");
        (next - first).num_days() as f64
    };
    let len = days_in(t.year(), m0);
    let day = f64::from(t.day0()) + f64::from(t.num_seconds_from_midnight()) / 86400.0;
    let mid = 0.5 * len;
    if day >= mid {
        let next = (m0 + 1) % 12;
        let (ny, nm0) = if m0 == 11 {
            (t.year() + 1, 0)
        } else {
            (t.year(), m0 + 1)
        };
        let span = mid + 0.5 * days_in(ny, nm0);
        let w = (day - mid) / span;
        (1.0 - w) * monthly[m0] + w * monthly[next]
    } else {
        let prev = (m0 + 11) % 12;
        let (py, pm0) = if m0 == 0 {
            (t.year() - 1, 11)
        } else {
            (t.year(), m0 - 1)
        };
        let span = mid + 0.5 * days_in(py, pm0);
        let w = (mid - day) / span;
        (1.0 - w) * monthly[m0] + w * monthly[prev]
    }
}

/// `*` matches any text, `?` one character.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = name.chars().collect();
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Files in `dir` whose names match `pattern` with its strftime fields expanded at every
/// hour from 24 h before the window start to the window end (an orbit file named by its
/// start time may hold observations of the next day). Sorted by name; a missing directory
/// gives no file.
pub fn find_observation_files(dir: &Path, pattern: &str, w: &Window) -> Vec<PathBuf> {
    let mut patterns = BTreeSet::new();
    let first = w.start - Duration::hours(24);
    let mut t = first
        .date()
        .and_hms_opt(first.hour(), 0, 0)
        .expect("valid hour");
    while t <= w.end {
        patterns.insert(t.format(pattern).to_string());
        t += Duration::hours(1);
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = rd
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            patterns.iter().any(|p| glob_match(p, &name))
        })
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

/// What reading one sensor's files of a window gave.
#[derive(Debug, Clone, Default)]
pub struct SensorRead {
    /// Files matching the pattern.
    pub files: usize,
    /// Files that could not be read (skipped), with the error.
    pub failed: Vec<(PathBuf, String)>,
    /// Records rejected by the product QC of the reader.
    pub product_rejected: RejectCounts,
    /// Observations accepted by the reader whose time falls in the window.
    pub in_window: usize,
}

/// The observations of one analysis time: per configured sensor, the cells (global ids)
/// with their combined observation, and the mapping rejections.
#[derive(Debug, Clone, Default)]
pub struct AnalysisObs {
    pub cells: Vec<Vec<CellObs>>,
    pub mapping_rejected: Vec<RejectCounts>,
}

/// The observations of one window, grouped by analysis time (identical on every rank).
#[derive(Debug, Clone)]
pub struct WindowObs {
    pub window: Window,
    pub reads: Vec<SensorRead>,
    pub analyses: BTreeMap<NaiveDateTime, AnalysisObs>,
}

impl WindowObs {
    /// Number of mapped observations (cells) over all sensors and analysis times.
    pub fn n_mapped(&self) -> usize {
        self.analyses
            .values()
            .flat_map(|a| a.cells.iter())
            .map(Vec::len)
            .sum()
    }
}

/// One observation of a cell handed to the EnKF (volumetric, bias corrected).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellObsValue {
    pub sensor: DaSensor,
    pub value: f64,
    pub error_sd: f64,
}

/// Result of the analysis of one cell.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CellAnalysis {
    /// Per observation: y − H x̄ (background).
    pub innovation: Vec<f64>,
    /// Per observation: innovation / √(H P Hᵀ + R).
    pub normalized_innovation: Vec<f64>,
    /// Per layer: ensemble-mean increment actually applied (after the bounds).
    pub increment: Vec<f64>,
    /// Per layer: ensemble standard deviation before and after.
    pub spread_before: Vec<f64>,
    pub spread_after: Vec<f64>,
}

/// An accepted, bias-corrected observation of one cell offered to the analyses of nearby cells
/// (`da:localization_km`), with the observed cell's background top-layer ensemble.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedObs {
    pub cell_id: u64,
    pub lat: f64,
    pub lon: f64,
    pub sensor: DaSensor,
    pub value: f64,
    pub error_sd: f64,
    /// Top-layer soil moisture of the observed cell, per member (background).
    pub background: Vec<f64>,
}

/// A neighbour's observation in the analysis of a cell, with its localisation weight ρ in
/// (0, 1]: its error variance enters as R / ρ (R-localisation).
#[derive(Debug, Clone, Copy)]
pub struct NeighbourObs<'a> {
    pub obs: &'a SharedObs,
    pub weight: f64,
}

/// EnKF update of all members of one cell with its own observations (H = top layer) and,
/// with localisation, its neighbours' observations. A neighbour's observation is predicted
/// by the neighbour's top-layer ensemble, carried as extra (not updated) state elements, so
/// the cell's layers move through their ensemble covariance with it. Increments go through
/// [`LandModel::apply_increment`] (bounds, liquid/total consistency). Observation
/// perturbations are keyed by the observed cell, so every analysis that uses an observation
/// perturbs it alike. Without neighbours this is the 1-D EnKF of SCIENCE.md §5.
#[allow(clippy::too_many_arguments)]
pub fn analyse_cell(
    model: &NoahLsm,
    params: &NoahParams,
    states: &mut [NoahState],
    obs: &[CellObsValue],
    neighbours: &[NeighbourObs],
    seed: u64,
    cell_id: u64,
    time: NaiveDateTime,
    mode: Mode,
    rtps: f64,
) -> Result<CellAnalysis, EnkfError> {
    let n = states.len();
    let nl = model.n_soil_layers();
    let na = nl + neighbours.len();
    let mut ens = Vec::with_capacity(n * na);
    for (i, s) in states.iter().enumerate() {
        ens.extend(model.soil_moisture(s));
        for nb in neighbours {
            ens.push(nb.obs.background.get(i).copied().unwrap_or(f64::NAN));
        }
    }
    let before = ens.clone();
    let unit = |k: usize| {
        let mut h = vec![0.0; na];
        h[k] = 1.0;
        h
    };
    let mut lin: Vec<LinearObs> = obs
        .iter()
        .map(|o| LinearObs {
            value: o.value,
            error_var: o.error_sd * o.error_sd,
            weights: unit(0),
        })
        .collect();
    // (observed cell, sensor) of each observation: the key of its perturbations.
    let mut keys: Vec<(u64, u32)> = obs
        .iter()
        .map(|o| (cell_id, sensor_code(o.sensor)))
        .collect();
    for (j, nb) in neighbours.iter().enumerate() {
        lin.push(LinearObs {
            value: nb.obs.value,
            error_var: nb.obs.error_sd * nb.obs.error_sd / nb.weight,
            weights: unit(nl + j),
        });
        keys.push((nb.obs.cell_id, sensor_code(nb.obs.sensor)));
    }
    let m = lin.len();
    let ti = epoch_seconds(time);
    let mut normals = vec![0.0; n * m];
    for i in 0..n {
        for (j, &(point, var)) in keys.iter().enumerate() {
            normals[i * m + j] = DeviateKey {
                seed,
                stream: STREAM_OBSERVATION,
                purpose: Purpose::InnovationCell,
                var,
                point,
                member: i as u64,
                time_index: ti,
            }
            .normal();
        }
    }
    let d = enkf::analyse(&mut ens, n, na, &lin, &normals, mode)?;
    enkf::relax_to_prior_spread(&mut ens, &before, n, na, rtps);
    let mut before_layers = Vec::with_capacity(n * nl);
    let mut after = Vec::with_capacity(n * nl);
    for (i, s) in states.iter_mut().enumerate() {
        let inc: Vec<f64> = (0..nl)
            .map(|k| ens[i * na + k] - before[i * na + k])
            .collect();
        before_layers.extend_from_slice(&before[i * na..i * na + nl]);
        model.apply_increment(params, s, &inc);
        after.extend(model.soil_moisture(s));
    }
    let (mb, _) = enkf::mean_and_spread(&before_layers, n, nl);
    let (ma, spread_after) = enkf::mean_and_spread(&after, n, nl);
    let mut spread_before = d.spread_before;
    spread_before.truncate(nl);
    Ok(CellAnalysis {
        innovation: d.innovation,
        normalized_innovation: d.normalized_innovation,
        increment: ma.iter().zip(&mb).map(|(a, b)| a - b).collect(),
        spread_before,
        spread_after,
    })
}

/// Gaspari–Cohn (1999) fifth-order compactly supported correlation at distance `d` for
/// cut-off radius `cutoff` (ρ = 1 at 0, 0 from `cutoff` on; half-width c = cutoff / 2).
pub fn gaspari_cohn(d: f64, cutoff: f64) -> f64 {
    if cutoff <= 0.0 || !d.is_finite() {
        return 0.0;
    }
    let z = 2.0 * d.abs() / cutoff;
    if z >= 2.0 {
        0.0
    } else if z <= 1.0 {
        (((-0.25 * z + 0.5) * z + 0.625) * z - 5.0 / 3.0) * z * z + 1.0
    } else {
        ((((z / 12.0 - 0.5) * z + 0.625) * z + 5.0 / 3.0) * z - 5.0) * z + 4.0 - 2.0 / (3.0 * z)
    }
}

/// Great-circle distance (km) on a sphere of radius 6371 km.
pub fn distance_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0 * a.sqrt().min(1.0).asin()
}

/// Neighbour observations with a smaller localisation weight are left out (their error
/// variance would be over 100 times R).
pub const MIN_LOCALIZATION_WEIGHT: f64 = 0.01;

/// All ranks' shared observations on every rank, ordered by (cell id, sensor) so that the
/// result does not depend on the decomposition. Collective.
fn exchange_shared(
    comm: &dyn Communicator,
    mine: &[SharedObs],
    n_members: usize,
) -> Vec<SharedObs> {
    let width = 6 + n_members;
    let mut send = Vec::with_capacity(mine.len() * width);
    for o in mine {
        send.extend([
            o.cell_id as f64,
            f64::from(sensor_code(o.sensor)),
            o.lat,
            o.lon,
            o.value,
            o.error_sd,
        ]);
        send.extend_from_slice(&o.background);
    }
    let mut bytes = Vec::new();
    if let Some(all) = comm.gatherv_f64(&send, 0) {
        for v in all.iter().flatten() {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    comm.broadcast_bytes(&mut bytes, 0);
    let values: Vec<f64> = bytes
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
        .collect();
    let mut out: Vec<SharedObs> = values
        .chunks_exact(width)
        .map(|r| SharedObs {
            cell_id: r[0] as u64,
            sensor: sensor_of_code(r[1] as u32),
            lat: r[2],
            lon: r[3],
            value: r[4],
            error_sd: r[5],
            background: r[6..].to_vec(),
        })
        .collect();
    out.sort_by_key(|o| (o.cell_id, sensor_code(o.sensor)));
    out
}

/// What one rank did at one analysis time.
#[derive(Debug, Clone, Default)]
pub struct LocalAnalysis {
    /// Global ids of the analysed cells, ascending.
    pub ids: Vec<u64>,
    /// Per analysed cell, the diagnostics record (see [`Assimilation::record_width`]).
    pub records: Vec<f64>,
    /// Per sensor: accepted observations and the rejections by rule of this rank.
    pub accepted: Vec<usize>,
    pub rejected: Vec<RejectCounts>,
}

/// Totals of one analysis time over all ranks (complete on the root rank).
#[derive(Debug, Clone, Default)]
pub struct AnalysisSummary {
    pub time: Option<NaiveDateTime>,
    pub accepted: Vec<usize>,
    /// Per sensor, counts in the order of [`QC_RULES`].
    pub rejected: Vec<Vec<usize>>,
    pub analysed_cells: usize,
}

impl Assimilation {
    /// Set up the assimilation for this rank's cells (`ids`, `statics` in the same order).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: &DaConfig,
        grid: &Grid,
        ids: &[u64],
        statics: &[CellStatics],
        vegetation_dataset: &str,
        model: &NoahLsm,
        seed: u64,
        n_members: usize,
        timestep_seconds: i64,
    ) -> Result<Self, AssimError> {
        let (Some(lat), Some(lon)) = (grid.lat_1d(), grid.lon_1d()) else {
            return Err(AssimError::Config(
                "assimilation needs a regular latitude-longitude grid".into(),
            ));
        };
        if n_members < 2 {
            return Err(AssimError::Config(format!(
                "the EnKF needs at least 2 members, run:ensemble_size is {n_members}"
            )));
        }
        let mut sensors = Vec::new();
        for &s in &cfg.sensors {
            let (dir, pattern, sd, bias, clim) = cfg.sensor(s);
            let bias = match (bias, clim) {
                (DaBiasCorrection::None, _) => None,
                (b, Some(path)) => {
                    let c = read_climatology(path).map_err(|e| AssimError::Climatology {
                        path: path.to_path_buf(),
                        message: e.to_string(),
                    })?;
                    if !c.same_grid(lat, lon) {
                        return Err(AssimError::Climatology {
                            path: path.to_path_buf(),
                            message: format!(
                                "grid {}x{} differs from the model grid {}x{}",
                                c.lat.len(),
                                c.lon.len(),
                                lat.len(),
                                lon.len()
                            ),
                        });
                    }
                    let method = if b == DaBiasCorrection::Cdf {
                        BiasMethod::CdfMatching
                    } else {
                        BiasMethod::Anomaly
                    };
                    Some((method, c))
                }
                (_, None) => {
                    return Err(AssimError::Config(format!(
                        "{}_bias_correction needs {}_climatology",
                        s.name(),
                        s.name()
                    )))
                }
            };
            let off = |on: bool, v: f64| if on { v } else { f64::INFINITY };
            let smap_default = SmapOptions::default();
            let ascat_default = AscatOptions::default();
            sensors.push(SensorSetup {
                sensor: s,
                directory: dir.to_path_buf(),
                pattern: pattern.to_string(),
                footprint_km: cfg.footprint_km(s),
                bias,
                smap: SmapOptions {
                    error_sd: sd,
                    max_vegetation_water_content: off(
                        cfg.qc_smap_vegetation,
                        smap_default.max_vegetation_water_content,
                    ),
                    require_recommended: cfg.qc_smap_quality,
                    ..smap_default
                },
                ascat: AscatOptions {
                    error_sd: sd,
                    max_error: off(cfg.qc_ascat_error, ascat_default.max_error),
                    max_topography: off(cfg.qc_ascat_topography, ascat_default.max_topography),
                    max_wetland: off(cfg.qc_ascat_wetland, ascat_default.max_wetland),
                    max_snow_probability: off(
                        cfg.qc_ascat_snow,
                        ascat_default.max_snow_probability,
                    ),
                    max_frozen_probability: off(
                        cfg.qc_ascat_frozen,
                        ascat_default.max_frozen_probability,
                    ),
                    ..ascat_default
                },
            });
        }
        if cfg.localization_km > 0.0 {
            for s in sensors.iter().filter(|s| s.footprint_km > 0.0) {
                // The copies of one retrieval in several cells would enter a localised analysis
                // as independent observations, i.e. with too much weight.
                tracing::warn!(
                    "da:localization_km = {} with {}_footprint_km = {}: each retrieval is copied \
                     into every cell of its footprint and the localised analysis counts the copies \
                     as independent observations; use {}_footprint_km = 0 with localisation",
                    cfg.localization_km,
                    s.sensor.name(),
                    s.footprint_km,
                    s.sensor.name()
                );
            }
        }
        let d = ModelQcRules::default();
        let on = |flag: bool, v: Option<f64>| if flag { v } else { None };
        let rules = ModelQcRules {
            max_precip: on(cfg.qc_precipitation, d.max_precip),
            max_frozen: on(cfg.qc_frozen_soil, d.max_frozen),
            min_temperature: on(cfg.qc_temperature, d.min_temperature),
            max_swe: on(cfg.qc_swe, d.max_swe),
            max_snow_cover: on(cfg.qc_snow_cover, d.max_snow_cover),
            reject_forest: cfg.qc_forest,
            max_green_fraction: on(cfg.qc_green_fraction, d.max_green_fraction),
            bound_margin: on(cfg.qc_near_bounds, d.bound_margin),
        };
        Ok(Assimilation {
            sensors,
            lat: lat.to_vec(),
            lon: lon.to_vec(),
            land: grid.land_mask().to_vec(),
            combine: match cfg.combine {
                DaCombine::Average => Combine::Average,
                DaCombine::Latest => Combine::Latest,
            },
            mode: match cfg.mode {
                DaMode::Joint => Mode::Joint,
                DaMode::Sequential => Mode::Sequential,
            },
            rtps: cfg.rtps_alpha,
            localization_km: cfg.localization_km,
            analysis_times: cfg.analysis_times,
            rules,
            diagnostics: cfg.diagnostics,
            seed,
            dt: timestep_seconds,
            local: ids.iter().enumerate().map(|(i, &id)| (id, i)).collect(),
            forest: statics
                .iter()
                .map(|s| is_forest(vegetation_dataset, s.vegetation_class))
                .collect(),
            green_monthly: statics.iter().map(|s| s.green_fraction_monthly).collect(),
            layer_thickness: model.soil_layer_thickness().to_vec(),
        })
    }

    /// The configured sensors, in order.
    pub fn sensors(&self) -> Vec<DaSensor> {
        self.sensors.iter().map(|s| s.sensor).collect()
    }

    /// Values per analysed cell in the diagnostics record: per sensor (value, error σ,
    /// innovation, normalised innovation), then per layer (increment, spread before, after).
    pub fn record_width(&self) -> usize {
        4 * self.sensors.len() + 3 * self.layer_thickness.len()
    }

    /// Read this window's observation files (all of them, on every rank), keep the
    /// observations in the window and group them by analysis time. Never fails: unreadable
    /// files are skipped with a warning. `log` selects the rank that logs the summary.
    pub fn prepare_window(&self, w: &Window, log: bool) -> WindowObs {
        let mut reads = Vec::new();
        let mut all = Vec::new();
        for s in &self.sensors {
            let files = find_observation_files(&s.directory, &s.pattern, w);
            if files.is_empty() && log {
                tracing::warn!(
                    "window {}: no {} observation file matches {} in {}",
                    w.label(),
                    s.sensor.name(),
                    s.pattern,
                    s.directory.display()
                );
            }
            let got = match s.sensor {
                DaSensor::Smap => read_files(&files, |p| read_smap_spl2smp(p, &s.smap)),
                DaSensor::Ascat => read_files(&files, |p| read_ascat(p, &s.ascat)),
            };
            reads.push(SensorRead {
                files: files.len(),
                failed: got.failed,
                product_rejected: got.batch.rejected,
                in_window: 0,
            });
            all.push(got.batch.observations);
        }
        let mut wo = self.window_obs_from(w, all, reads);
        let n = wo.n_mapped();
        if log {
            let failed: usize = wo.reads.iter().map(|r| r.failed.len()).sum();
            let files: usize = wo.reads.iter().map(|r| r.files).sum();
            if n == 0 {
                tracing::warn!(
                    "window {}: no usable observations ({files} files found, {failed} \
                     unreadable); running open loop",
                    w.label()
                );
            } else {
                tracing::info!(
                    "window {}: {n} observations mapped to land cells at {} analysis times \
                     ({files} files, {failed} unreadable)",
                    w.label(),
                    wo.analyses.len()
                );
            }
        }
        wo.window = *w;
        wo
    }

    /// Group observations given per configured sensor (in memory, e.g. from a test or a
    /// simulator) into the analyses of window `w`. `reads` may be empty.
    pub fn window_obs_from(
        &self,
        w: &Window,
        per_sensor: Vec<Vec<Observation>>,
        mut reads: Vec<SensorRead>,
    ) -> WindowObs {
        reads.resize(self.sensors.len(), SensorRead::default());
        let grid = LatLonGrid {
            lat: &self.lat,
            lon: &self.lon,
            land: &self.land,
        };
        let ns = self.sensors.len();
        let mut analyses: BTreeMap<NaiveDateTime, AnalysisObs> = BTreeMap::new();
        for (si, obs) in per_sensor.into_iter().enumerate().take(ns) {
            // Analysis time of each observation in (start, end].
            let mut groups: BTreeMap<NaiveDateTime, Vec<Observation>> = BTreeMap::new();
            for o in obs {
                if o.time <= w.start || o.time > w.end {
                    continue;
                }
                reads[si].in_window += 1;
                let t = match self.analysis_times {
                    DaAnalysisTimes::WindowEnd => w.end,
                    DaAnalysisTimes::EveryObsTime => {
                        let us = (o.time - w.start).num_microseconds().unwrap_or(i64::MAX);
                        let step = self.dt * 1_000_000;
                        let k = (us + step - 1) / step;
                        (w.start + Duration::seconds(k * self.dt)).min(w.end)
                    }
                };
                groups.entry(t).or_default().push(o);
            }
            for (t, obs) in groups {
                let t0 = match self.analysis_times {
                    DaAnalysisTimes::WindowEnd => w.start,
                    DaAnalysisTimes::EveryObsTime => t - Duration::seconds(self.dt),
                };
                let (cells, rejected) = map_to_grid(
                    &obs,
                    t0,
                    t,
                    &grid,
                    self.combine,
                    self.sensors[si].footprint_km,
                );
                if cells.is_empty() && rejected.total() == 0 {
                    continue;
                }
                let a = analyses.entry(t).or_insert_with(|| AnalysisObs {
                    cells: vec![Vec::new(); ns],
                    mapping_rejected: vec![RejectCounts::default(); ns],
                });
                a.cells[si] = cells;
                a.mapping_rejected[si] = rejected;
            }
        }
        // Times where every observation fell outside the land cells need no analysis.
        analyses.retain(|_, a| a.cells.iter().any(|c| !c.is_empty()));
        WindowObs {
            window: *w,
            reads,
            analyses,
        }
    }

    /// Model-QC input of local cell `c` from the ensemble mean and the step's forcing.
    fn qc_input(
        &self,
        ens: &CellEnsemble<NoahLsm>,
        c: usize,
        forcing: Option<&[Forcing]>,
        t: NaiveDateTime,
    ) -> ModelQcInput {
        let n = ens.n_members;
        let p = &ens.params[c];
        let states = &ens.states[c * n..(c + 1) * n];
        let nl = self.layer_thickness.len();
        let inv = 1.0 / n as f64;
        let mut frozen = vec![0.0; nl];
        let (mut skin, mut tsoil, mut swe, mut cover) = (0.0, 0.0, 0.0, 0.0);
        for s in states {
            for (k, f) in frozen.iter_mut().enumerate() {
                *f += (s.soil_moisture[k] - s.soil_liquid[k]) * inv;
            }
            skin += s.skin_temperature * inv;
            tsoil += s.soil_temperature[0] * inv;
            swe += s.snow_water_equivalent * inv;
            cover += snow::cover_fraction(s.snow_water_equivalent, p.snup, p.salp) * inv;
        }
        ModelQcInput {
            precip: forcing
                .and_then(|f| f.get(c))
                .map_or(0.0, |f| f.precipitation),
            frozen,
            skin_t: skin,
            top_soil_t: tsoil,
            swe,
            snow_cover: cover,
            is_forest: self.forest[c],
            green_fraction: green_fraction_at(&self.green_monthly[c], t),
            wilting: p.smcwlt,
            porosity: p.smcmax,
        }
    }

    /// Bias correction, model QC and the EnKF on this rank's cells at analysis time `t`
    /// (collective: with localisation the accepted observations are exchanged between ranks).
    pub fn analyse_local(
        &self,
        comm: &dyn Communicator,
        obs: &AnalysisObs,
        t: NaiveDateTime,
        model: &NoahLsm,
        ens: &mut CellEnsemble<NoahLsm>,
        forcing: Option<&[Forcing]>,
    ) -> Result<LocalAnalysis, AssimError> {
        let ns = self.sensors.len();
        let mut out = LocalAnalysis {
            accepted: vec![0; ns],
            rejected: vec![RejectCounts::default(); ns],
            ..Default::default()
        };
        // Local cell → observations in sensor order.
        let mut per_cell: BTreeMap<usize, Vec<(usize, CellObsValue)>> = BTreeMap::new();
        for (si, s) in self.sensors.iter().enumerate() {
            let Some(cells) = obs.cells.get(si) else {
                continue;
            };
            let percent_clim = s
                .bias
                .as_ref()
                .is_some_and(|(_, c)| c.obs_units.contains("percent"));
            let mut mine: Vec<CellObs> = Vec::new();
            for c in cells {
                let Some(&lc) = self.local.get(&(c.cell as u64)) else {
                    continue;
                };
                let mut c = *c;
                if s.sensor == DaSensor::Ascat && !percent_clim {
                    // % saturation → m³ m⁻³ between this cell's wilting point and porosity.
                    let p = &ens.params[lc];
                    c.value = saturation_to_volumetric(c.value, p.smcwlt, p.smcmax);
                    c.error_sd *= (p.smcmax - p.smcwlt) / 100.0;
                }
                mine.push(c);
            }
            let bias = s.bias.as_ref().map(|(m, c)| BiasStep {
                climatology: c,
                method: *m,
                rescale_error: s.sensor == DaSensor::Ascat && percent_clim,
            });
            let ens_ref: &CellEnsemble<NoahLsm> = ens;
            let (accepted, rejected) = prepare_cells(&mine, t.month(), bias, &self.rules, |cell| {
                self.local
                    .get(&(cell as u64))
                    .map(|&lc| self.qc_input(ens_ref, lc, forcing, t))
            });
            out.accepted[si] = accepted.len();
            out.rejected[si] = rejected;
            for c in accepted {
                let lc = self.local[&(c.cell as u64)];
                per_cell.entry(lc).or_default().push((
                    si,
                    CellObsValue {
                        sensor: s.sensor,
                        value: c.value,
                        error_sd: c.error_sd,
                    },
                ));
            }
        }
        let n = ens.n_members;
        let w = self.record_width();
        let nl = self.layer_thickness.len();
        let nx = self.lon.len();
        let centre = |id: u64| {
            let k = id as usize;
            (self.lat[k / nx], self.lon[k % nx])
        };
        // With localisation every rank needs the accepted observations of all ranks, with
        // the background top-layer ensemble of the observed cell.
        let shared: Vec<SharedObs> = if self.localization_km > 0.0 {
            let mut mine = Vec::new();
            for (&lc, list) in &per_cell {
                let id = ens.ids[lc];
                let (lat, lon) = centre(id);
                let background: Vec<f64> = ens.states[lc * n..(lc + 1) * n]
                    .iter()
                    .map(|s| s.soil_moisture[0])
                    .collect();
                for (_, v) in list {
                    mine.push(SharedObs {
                        cell_id: id,
                        lat,
                        lon,
                        sensor: v.sensor,
                        value: v.value,
                        error_sd: v.error_sd,
                        background: background.clone(),
                    });
                }
            }
            exchange_shared(comm, &mine, n)
        } else {
            Vec::new()
        };
        // Cells to analyse: those with observations, and with localisation every cell
        // within reach of one whose own state allows an update.
        let state_rules = ModelQcRules {
            max_precip: None,
            reject_forest: false,
            max_green_fraction: None,
            bound_margin: None,
            ..self.rules
        };
        let mut targets: BTreeMap<usize, Vec<NeighbourObs>> = BTreeMap::new();
        if !shared.is_empty() {
            for lc in 0..ens.n_cells() {
                let id = ens.ids[lc];
                let (lat, lon) = centre(id);
                let near: Vec<NeighbourObs> = shared
                    .iter()
                    .filter(|o| o.cell_id != id)
                    .filter_map(|o| {
                        let rho =
                            gaspari_cohn(distance_km(lat, lon, o.lat, o.lon), self.localization_km);
                        (rho >= MIN_LOCALIZATION_WEIGHT).then_some(NeighbourObs {
                            obs: o,
                            weight: rho,
                        })
                    })
                    .collect();
                if near.is_empty() {
                    continue;
                }
                if !per_cell.contains_key(&lc)
                    && model_qc(f64::NAN, &self.qc_input(ens, lc, forcing, t), &state_rules)
                        .is_some()
                {
                    continue;
                }
                targets.insert(lc, near);
            }
        }
        let cells: BTreeSet<usize> = per_cell.keys().chain(targets.keys()).copied().collect();
        for lc in cells {
            let list = per_cell.get(&lc).map(Vec::as_slice).unwrap_or(&[]);
            let near = targets.get(&lc).map(Vec::as_slice).unwrap_or(&[]);
            let id = ens.ids[lc];
            let values: Vec<CellObsValue> = list.iter().map(|(_, v)| *v).collect();
            let states = &mut ens.states[lc * n..(lc + 1) * n];
            let r = analyse_cell(
                model,
                &ens.params[lc],
                states,
                &values,
                near,
                self.seed,
                id,
                t,
                self.mode,
                self.rtps,
            )
            .map_err(|source| AssimError::Enkf {
                time: t,
                cell_id: id,
                source,
            })?;
            let mut rec = vec![f64::NAN; w];
            for (j, (si, v)) in list.iter().enumerate() {
                rec[4 * si] = v.value;
                rec[4 * si + 1] = v.error_sd;
                rec[4 * si + 2] = r.innovation[j];
                rec[4 * si + 3] = r.normalized_innovation[j];
            }
            let base = 4 * ns;
            for k in 0..nl {
                rec[base + k] = r.increment[k];
                rec[base + nl + k] = r.spread_before[k];
                rec[base + 2 * nl + k] = r.spread_after[k];
            }
            out.ids.push(id);
            out.records.extend(rec);
        }
        Ok(out)
    }

    /// The analysis at the end of model step `(t0, t1]` when `t1` is an analysis time of the
    /// window (a collective call on every rank; nothing happens otherwise). The root rank
    /// writes the diagnostics to `diag_dir`.
    #[allow(clippy::too_many_arguments)]
    pub fn analyse_step(
        &self,
        comm: &dyn Communicator,
        wobs: &WindowObs,
        t1: NaiveDateTime,
        model: &NoahLsm,
        ens: &mut CellEnsemble<NoahLsm>,
        forcing: Option<&[Forcing]>,
        diag_dir: &Path,
    ) -> Result<Option<AnalysisSummary>, AssimError> {
        let Some(obs) = wobs.analyses.get(&t1) else {
            return Ok(None);
        };
        // `forcing` is the step's unperturbed forcing (for the precipitation rule), as the
        // driver already read it for the step.
        let forcing = forcing.filter(|_| ens.n_cells() > 0);
        let local = self.analyse_local(comm, obs, t1, model, ens, forcing);
        let ok = comm.all_ok(local.is_ok());
        let local = match local {
            Err(e) => return Err(e),
            Ok(_) if !ok => return Err(AssimError::PeerFailed),
            Ok(l) => l,
        };
        // Counts per sensor: accepted, then the rank's rejections by rule.
        let ns = self.sensors.len();
        let mut counts = Vec::with_capacity(ns * (1 + QC_RULES.len()));
        for si in 0..ns {
            counts.push(local.accepted[si] as f64);
            for r in QC_RULES {
                counts.push(local.rejected[si].get(r) as f64);
            }
        }
        let w = self.record_width();
        let ids = comm.gatherv_u64(&local.ids, 0);
        let recs = comm.gatherv_f64(&local.records, 0);
        let cnts = comm.gatherv_f64(&counts, 0);
        let (Some(ids), Some(recs), Some(cnts)) = (ids, recs, cnts) else {
            return Ok(Some(AnalysisSummary {
                time: Some(t1),
                accepted: local.accepted,
                ..Default::default()
            }));
        };
        let merged = merge_by_id(&ids, &recs, w);
        let mut summary = AnalysisSummary {
            time: Some(t1),
            accepted: vec![0; ns],
            rejected: vec![vec![0; QC_RULES.len()]; ns],
            analysed_cells: merged.len(),
        };
        let stride = 1 + QC_RULES.len();
        for rank_counts in &cnts {
            for si in 0..ns {
                summary.accepted[si] += rank_counts[si * stride] as usize;
                for (k, v) in summary.rejected[si].iter_mut().enumerate() {
                    *v += rank_counts[si * stride + 1 + k] as usize;
                }
            }
        }
        // Mapping rejections are global (the same on every rank): count them once.
        for si in 0..ns {
            for (k, r) in QC_RULES.iter().enumerate() {
                summary.rejected[si][k] += obs.mapping_rejected[si].get(r);
            }
        }
        tracing::info!(
            "analysis at {t1}: {} cells analysed, accepted {:?}, rejected {:?}",
            summary.analysed_cells,
            summary.accepted,
            summary
                .rejected
                .iter()
                .map(|r| r.iter().sum::<usize>())
                .collect::<Vec<_>>()
        );
        if self.diagnostics {
            let path = diag_dir.join(diag_file_name(t1));
            let d = DiagContent {
                time: t1,
                window: &wobs.window,
                sensors: &self.sensors(),
                reads: &wobs.reads,
                lat: &self.lat,
                lon: &self.lon,
                layer_thickness: &self.layer_thickness,
                cells: &merged,
                summary: &summary,
                mode: self.mode,
                combine: self.combine,
            };
            if let Err(e) = write_diagnostics(&path, &d) {
                // Diagnostics are secondary: the analysis stands and the cycle continues.
                tracing::error!("{e}");
            }
        }
        Ok(Some(summary))
    }
}

/// `LC_DA_YYYYMMDDHHMM.nc` for analysis time `t`.
pub fn diag_file_name(t: NaiveDateTime) -> String {
    format!("LC_DA_{}.nc", t.format("%Y%m%d%H%M"))
}

/// Everything one diagnostics file holds (root rank).
pub struct DiagContent<'a> {
    pub time: NaiveDateTime,
    pub window: &'a Window,
    pub sensors: &'a [DaSensor],
    pub reads: &'a [SensorRead],
    pub lat: &'a [f64],
    pub lon: &'a [f64],
    pub layer_thickness: &'a [f64],
    /// (global id, record) of the analysed cells, ascending ids.
    pub cells: &'a [(u64, Vec<f64>)],
    pub summary: &'a AnalysisSummary,
    pub mode: Mode,
    pub combine: Combine,
}

const FILL: f32 = 1.0e20;

/// Write one diagnostics file (CF-1.8, NetCDF-4) atomically.
pub fn write_diagnostics(path: &Path, d: &DiagContent) -> Result<(), IoError> {
    hdf5::silence_errors(true);
    let final_path = path.to_path_buf();
    crate::io::atomic::atomic_write(path, |tmp| write_diag_netcdf(tmp, &final_path, d))
}

fn write_diag_netcdf(tmp: &Path, final_path: &Path, d: &DiagContent) -> Result<(), IoError> {
    let err = |ctx: String| {
        let path = final_path.to_path_buf();
        move |e: netcdf::Error| IoError::NetCdf {
            path,
            context: ctx,
            msg: e.to_string(),
        }
    };
    let (ny, nx) = (d.lat.len(), d.lon.len());
    let nl = d.layer_thickness.len();
    let ns = d.sensors.len();
    let mut f = netcdf::create_with(tmp, netcdf::Options::NETCDF4).map_err(err("create".into()))?;
    let globals: Vec<(&str, String)> = vec![
        ("Conventions", "CF-1.8".into()),
        (
            "title",
            "landcycle soil-moisture analysis diagnostics".into(),
        ),
        ("institution", "landcycle".into()),
        (
            "source",
            format!("landcycle {} 1-D EnKF", env!("CARGO_PKG_VERSION")),
        ),
        (
            "history",
            format!("landcycle {} run", env!("CARGO_PKG_VERSION")),
        ),
        (
            "analysis_time",
            d.time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ),
        (
            "window_start",
            d.window.start.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ),
        (
            "window_end",
            d.window.end.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ),
        (
            "sensors",
            d.sensors
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(" "),
        ),
        (
            "assimilation_mode",
            match d.mode {
                Mode::Joint => "joint",
                Mode::Sequential => "sequential",
            }
            .into(),
        ),
        (
            "combine",
            match d.combine {
                Combine::Average => "average",
                Combine::Latest => "latest",
            }
            .into(),
        ),
    ];
    for (k, v) in &globals {
        f.add_attribute(k, v.as_str())
            .map_err(err(format!("global attribute {k}")))?;
    }
    f.add_dimension("time", 1).map_err(err("dim time".into()))?;
    f.add_dimension("lat", ny).map_err(err("dim lat".into()))?;
    f.add_dimension("lon", nx).map_err(err("dim lon".into()))?;
    f.add_dimension("soil_layer", nl)
        .map_err(err("dim soil_layer".into()))?;
    f.add_dimension("qc_rule", QC_RULES.len())
        .map_err(err("dim qc_rule".into()))?;
    for s in d.sensors {
        let dim = format!("{}_product_rule", s.name());
        f.add_dimension(&dim, product_rules(*s).len())
            .map_err(err(format!("dim {dim}")))?;
    }

    let put_attrs = |v: &mut netcdf::VariableMut, attrs: &[(&str, &str)]| -> netcdf::Result<()> {
        for (k, val) in attrs {
            v.put_attribute(k, *val)?;
        }
        Ok(())
    };
    {
        let mut v = f
            .add_variable::<f64>("time", &["time"])
            .map_err(err("variable time".into()))?;
        put_attrs(
            &mut v,
            &[
                ("standard_name", "time"),
                ("long_name", "analysis time"),
                ("units", "seconds since 1970-01-01 00:00:00"),
                ("calendar", "standard"),
                ("axis", "T"),
            ],
        )
        .map_err(err("attributes of time".into()))?;
        v.put_values(&[epoch_seconds(d.time) as f64], ..)
            .map_err(err("writing time".into()))?;
    }
    for (name, sn, units, axis, data) in [
        ("lat", "latitude", "degrees_north", "Y", d.lat),
        ("lon", "longitude", "degrees_east", "X", d.lon),
    ] {
        let mut v = f
            .add_variable::<f64>(name, &[name])
            .map_err(err(format!("variable {name}")))?;
        put_attrs(
            &mut v,
            &[
                ("standard_name", sn),
                ("long_name", sn),
                ("units", units),
                ("axis", axis),
            ],
        )
        .map_err(err(format!("attributes of {name}")))?;
        v.put_values(data, ..)
            .map_err(err(format!("writing {name}")))?;
    }
    {
        let mut mid = Vec::with_capacity(nl);
        let mut top = 0.0;
        for &dz in d.layer_thickness {
            mid.push(top + 0.5 * dz);
            top += dz;
        }
        let mut v = f
            .add_variable::<f64>("soil_layer", &["soil_layer"])
            .map_err(err("variable soil_layer".into()))?;
        put_attrs(
            &mut v,
            &[
                ("standard_name", "depth"),
                ("long_name", "depth of soil layer centre"),
                ("units", "m"),
                ("positive", "down"),
                ("axis", "Z"),
            ],
        )
        .map_err(err("attributes of soil_layer".into()))?;
        v.put_values(&mid, ..)
            .map_err(err("writing soil_layer".into()))?;
    }
    let flag_var = |f: &mut netcdf::FileMut, name: &str, rules: &[&str], what: &str| {
        let mut v = f
            .add_variable::<i32>(name, &[name])
            .map_err(err(format!("variable {name}")))?;
        let vals: Vec<i32> = (0..rules.len() as i32).collect();
        let meanings = rules.join(" ");
        put_attrs(&mut v, &[("long_name", what), ("flag_meanings", &meanings)])
            .map_err(err(format!("attributes of {name}")))?;
        v.put_attribute("flag_values", vals.clone())
            .map_err(err(format!("flag_values of {name}")))?;
        v.put_values(&vals, ..)
            .map_err(err(format!("writing {name}")))
    };
    flag_var(
        &mut f,
        "qc_rule",
        &QC_RULES,
        "rule of the mapping, bias-correction and model QC",
    )?;
    for s in d.sensors {
        let name = format!("{}_product_rule", s.name());
        flag_var(
            &mut f,
            &name,
            product_rules(*s),
            &format!("{} product quality rule of the reader", s.name()),
        )?;
    }

    // Land-cell fields on the grid.
    let index: Vec<(usize, &Vec<f64>)> = d.cells.iter().map(|(id, r)| (*id as usize, r)).collect();
    let grid_field = |offset: usize| -> Vec<f32> {
        let mut g = vec![FILL; ny * nx];
        for (id, rec) in &index {
            let v = rec[offset];
            if v.is_finite() && *id < g.len() {
                g[*id] = v as f32;
            }
        }
        g
    };
    let put_field = |f: &mut netcdf::FileMut,
                     name: &str,
                     layered: bool,
                     long_name: &str,
                     units: &str,
                     data: &[f32]|
     -> Result<(), IoError> {
        let dims: Vec<&str> = if layered {
            vec!["time", "soil_layer", "lat", "lon"]
        } else {
            vec!["time", "lat", "lon"]
        };
        let mut v = f
            .add_variable::<f32>(name, &dims)
            .map_err(err(format!("variable {name}")))?;
        v.set_fill_value(FILL)
            .map_err(err(format!("_FillValue of {name}")))?;
        put_attrs(&mut v, &[("long_name", long_name), ("units", units)])
            .map_err(err(format!("attributes of {name}")))?;
        let ext: Vec<Range<usize>> = if layered {
            vec![0..1, 0..nl, 0..ny, 0..nx]
        } else {
            vec![0..1, 0..ny, 0..nx]
        };
        v.put_values(data, ext.as_slice())
            .map_err(err(format!("writing {name}")))
    };
    for (si, s) in d.sensors.iter().enumerate() {
        let n = s.name();
        let up = n.to_uppercase();
        for (k, suffix, long, units) in [
            (
                0,
                "obs",
                format!("{up} observation assimilated (bias corrected, volumetric)"),
                "m3 m-3",
            ),
            (
                1,
                "obs_error",
                format!("{up} observation error standard deviation"),
                "m3 m-3",
            ),
            (
                2,
                "innovation",
                format!("{up} innovation y - H x (background ensemble mean)"),
                "m3 m-3",
            ),
            (
                3,
                "normalized_innovation",
                format!("{up} innovation divided by sqrt(H P H^T + R)"),
                "1",
            ),
        ] {
            put_field(
                &mut f,
                &format!("{n}_{suffix}"),
                false,
                &long,
                units,
                &grid_field(4 * si + k),
            )?;
        }
    }
    let base = 4 * ns;
    for (k, name, long) in [
        (
            0,
            "increment",
            "soil moisture analysis increment (ensemble mean)",
        ),
        (
            1,
            "spread_before",
            "soil moisture ensemble standard deviation before the analysis",
        ),
        (
            2,
            "spread_after",
            "soil moisture ensemble standard deviation after the analysis",
        ),
    ] {
        let mut data = Vec::with_capacity(nl * ny * nx);
        for l in 0..nl {
            data.extend(grid_field(base + k * nl + l));
        }
        put_field(&mut f, name, true, long, "m3 m-3", &data)?;
    }

    // Counts.
    let put_counts = |f: &mut netcdf::FileMut,
                      name: &str,
                      dims: &[&str],
                      long: &str,
                      data: &[i32]|
     -> Result<(), IoError> {
        let mut v = f
            .add_variable::<i32>(name, dims)
            .map_err(err(format!("variable {name}")))?;
        put_attrs(&mut v, &[("long_name", long), ("units", "1")])
            .map_err(err(format!("attributes of {name}")))?;
        let ext: Vec<Range<usize>> = std::iter::once(0..1)
            .chain((dims.len() > 1).then_some(0..data.len()))
            .collect();
        v.put_values(data, ext.as_slice())
            .map_err(err(format!("writing {name}")))
    };
    for (si, s) in d.sensors.iter().enumerate() {
        let n = s.name();
        let acc = d.summary.accepted.get(si).copied().unwrap_or(0) as i32;
        put_counts(
            &mut f,
            &format!("{n}_accepted"),
            &["time"],
            &format!("{n} observations (cells) assimilated at this analysis time"),
            &[acc],
        )?;
        let rej: Vec<i32> = d
            .summary
            .rejected
            .get(si)
            .map(|r| r.iter().map(|&x| x as i32).collect())
            .unwrap_or_else(|| vec![0; QC_RULES.len()]);
        put_counts(
            &mut f,
            &format!("{n}_rejected"),
            &["time", "qc_rule"],
            &format!("{n} observations rejected at this analysis time, by rule"),
            &rej,
        )?;
        let r = d.reads.get(si).cloned().unwrap_or_default();
        let pr: Vec<i32> = product_rules(*s)
            .iter()
            .map(|rule| r.product_rejected.get(rule) as i32)
            .collect();
        let pdim = format!("{n}_product_rule");
        put_counts(
            &mut f,
            &format!("{n}_product_rejected"),
            &["time", &pdim],
            &format!("{n} records rejected by the product QC in the files of this window"),
            &pr,
        )?;
        put_counts(
            &mut f,
            &format!("{n}_files_read"),
            &["time"],
            &format!("{n} files of this window read"),
            &[(r.files - r.failed.len()) as i32],
        )?;
        put_counts(
            &mut f,
            &format!("{n}_files_failed"),
            &["time"],
            &format!("{n} files of this window skipped as unreadable"),
            &[r.failed.len() as i32],
        )?;
    }
    f.close().map_err(err("close".into()))?;
    Ok(())
}

// Rule names of the bias rejections must match `QC_RULES` (checked by a test).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::biascorr::BiasRejection;
    use chrono::NaiveDate;

    #[test]
    fn qc_rule_names_cover_bias_rejections() {
        for r in [
            BiasRejection::InsufficientSamples,
            BiasRejection::DegenerateCdf,
            BiasRejection::OutsideTrainingRange,
        ] {
            assert!(QC_RULES.contains(&r.rule()));
        }
    }

    #[test]
    fn glob_matches() {
        assert!(glob_match("SMAP_*_2015*.h5", "SMAP_L2_2015081.h5"));
        assert!(!glob_match("SMAP_*_2015*.h5", "SMAP_L2_2016081.h5"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "abbc"));
        assert!(glob_match("*", ""));
    }

    #[test]
    fn green_fraction_is_monthly_value_mid_month() {
        let mut m = [0.0; 12];
        m[5] = 0.6;
        m[6] = 0.8;
        let t = |d, h| {
            NaiveDate::from_ymd_opt(2020, 6, d)
                .unwrap()
                .and_hms_opt(h, 0, 0)
                .unwrap()
        };
        assert!((green_fraction_at(&m, t(16, 0)) - 0.6).abs() < 1e-12);
        let late = green_fraction_at(&m, t(30, 12));
        assert!(late > 0.6 && late < 0.8);
        let early = green_fraction_at(&m, t(1, 0));
        assert!(early < 0.6 && early > 0.0);
    }
}
