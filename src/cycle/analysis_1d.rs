//! The per-cell EnKF stage (SCIENCE.md §3–§5, docs/assimilation.md), generic over the land
//! model: at each analysis time a rank bias-corrects and model-QCs the observations of its
//! own cells and runs the 1-D EnKF (`da::enkf`) per cell, optionally localised with
//! neighbours' observations (`da:localization_km`). State = soil moisture of every layer
//! per member; H = the model's layer weights for the product's sensing depth. Observation
//! perturbations are keyed normals of (seed, observed cell, member, product, analysis
//! time), so results do not depend on the decomposition or on where a run was restarted.
//! An analysis: it changes the ensemble, and it is collective.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use chrono::{Datelike, NaiveDateTime};

use super::ensemble::CellEnsemble;
use super::obs_error_map::{read_obs_error_map, ObsErrorMap};
use super::obs_halo::ObsHalo;
use super::obs_window::{AnalysisObs, ObsWindow, WindowObs};
use crate::biascorr::{BiasMethod, Climatology};
use crate::config::{DaBiasCorrection, DaCombine, DaConfig, DaMode};
use crate::da::enkf::{self, EnkfError, LinearObs, Mode};
use crate::da::localize::{gaspari_cohn, MIN_LOCALIZATION_WEIGHT};
use crate::grid::geo::distance_km;
use crate::grid::nearest::{chord2_of_km, unit_vector, PointIndex};
use crate::grid::Grid;
use crate::io::climatology::read_climatology;
use crate::lsm::{Forcing, LandModel};
use crate::obs::mapping::{CellObs, Combine};
use crate::obs::prepare::{prepare_cells, BiasStep};
use crate::obs::qc::{model_qc, ModelQcInput, ModelQcRules};
use crate::obs::sensor::{configured_sensors, ConfiguredSensor};
use crate::obs::{saturation_to_volumetric, ObsUnits, RejectCounts};
use crate::parallel::{Communicator, ParallelError};
use crate::perturb::{DeviateKey, Purpose};
use crate::time::epoch_seconds;

pub use super::analysis_diag::{AnalysisSummary, QC_RULES};

/// Random stream of the observation perturbations (forcing = 1, soil moisture = 2).
pub const STREAM_OBSERVATION: u32 = 3;

/// Errors of the assimilation (setup and analysis). Observation files are never an error.
#[derive(Debug, thiserror::Error)]
pub enum AssimError {
    #[error("da: {0}")]
    Config(String),
    #[error("da: climatology {path}: {message}")]
    Climatology { path: PathBuf, message: String },
    #[error("da: observation error map {path}: {message}")]
    ErrorMap { path: PathBuf, message: String },
    #[error("da: analysis at {time}, cell {cell_id}: {source}")]
    Enkf {
        time: NaiveDateTime,
        cell_id: u64,
        source: EnkfError,
    },
    #[error("da: exchange of the localised observations at {time}: {source}")]
    Exchange {
        time: NaiveDateTime,
        source: ParallelError,
    },
    #[error("da: another rank failed in the analysis (see its error message above)")]
    PeerFailed,
}

/// One observation of a cell handed to the EnKF (volumetric, bias corrected).
#[derive(Debug, Clone, PartialEq)]
pub struct CellObsValue {
    /// Code of the product ([`crate::obs::sensor::ObsProduct::code`]).
    pub sensor: u32,
    pub value: f64,
    pub error_sd: f64,
    /// Weights of the cell's layers in the observation (the model's surface weights).
    pub layer_weights: Vec<f64>,
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

/// An accepted, bias-corrected observation of one cell offered to the analyses of nearby
/// cells (`da:localization_km`), with the observed cell's background ensemble in
/// observation space (its layers weighted as the observation weighs them).
#[derive(Debug, Clone, PartialEq)]
pub struct SharedObs {
    pub cell_id: u64,
    pub lat: f64,
    pub lon: f64,
    /// Code of the product.
    pub sensor: u32,
    pub value: f64,
    pub error_sd: f64,
    /// H x of the observed cell, per member (background).
    pub background: Vec<f64>,
}

/// A neighbour's observation in the analysis of a cell, with its localisation weight ρ in
/// (0, 1]: its error variance enters as R / ρ (R-localisation).
#[derive(Debug, Clone, Copy)]
pub struct NeighbourObs<'a> {
    pub obs: &'a SharedObs,
    pub weight: f64,
}

/// The observations of one cell's analysis: its own, and its neighbours'.
#[derive(Debug, Clone, Copy)]
pub struct CellObservations<'a> {
    pub own: &'a [CellObsValue],
    pub neighbours: &'a [NeighbourObs<'a>],
}

/// The keys and filter settings of one cell's analysis.
#[derive(Debug, Clone, Copy)]
pub struct CellContext {
    pub seed: u64,
    pub cell_id: u64,
    pub time: NaiveDateTime,
    pub mode: Mode,
    /// Relaxation-to-prior-spread factor α (0 = off).
    pub rtps: f64,
}

/// Keyed standard normals of the observation perturbations, `[member][observation]`;
/// `keys` are (observed cell, product code) per observation.
fn observation_normals(ctx: &CellContext, keys: &[(u64, u32)], n: usize) -> Vec<f64> {
    let m = keys.len();
    let ti = epoch_seconds(ctx.time);
    let mut normals = vec![0.0; n * m];
    for i in 0..n {
        for (j, &(point, var)) in keys.iter().enumerate() {
            normals[i * m + j] = DeviateKey {
                seed: ctx.seed,
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
    normals
}

/// EnKF update of all members of one cell with its own observations and, with
/// localisation, its neighbours' observations. A neighbour's observation is predicted by
/// the neighbour's background ensemble, carried as extra (not updated) state elements, so
/// the cell's layers move through their ensemble covariance with it. Increments go through
/// [`LandModel::apply_increment`] (bounds, liquid/total consistency). Observation
/// perturbations are keyed by the observed cell, so every analysis that uses an observation
/// perturbs it alike. Without neighbours this is the 1-D EnKF of SCIENCE.md §5.
pub fn analyse_cell<M: LandModel>(
    model: &M,
    params: &M::CellParams,
    states: &mut [M::State],
    obs: CellObservations,
    ctx: &CellContext,
) -> Result<CellAnalysis, EnkfError> {
    let (n, nl) = (states.len(), model.n_soil_layers());
    let na = nl + obs.neighbours.len();
    let mut ens = Vec::with_capacity(n * na);
    for (i, s) in states.iter().enumerate() {
        ens.extend(model.soil_moisture(s));
        for nb in obs.neighbours {
            ens.push(nb.obs.background.get(i).copied().unwrap_or(f64::NAN));
        }
    }
    let before = ens.clone();
    let mut lin = Vec::with_capacity(obs.own.len() + obs.neighbours.len());
    let mut keys = Vec::with_capacity(lin.capacity());
    for o in obs.own {
        let mut weights = vec![0.0; na];
        weights[..nl].copy_from_slice(&o.layer_weights[..nl]);
        let error_var = o.error_sd * o.error_sd;
        lin.push(LinearObs {
            value: o.value,
            error_var,
            weights,
        });
        keys.push((ctx.cell_id, o.sensor));
    }
    for (j, nb) in obs.neighbours.iter().enumerate() {
        let mut weights = vec![0.0; na];
        weights[nl + j] = 1.0;
        let error_var = nb.obs.error_sd * nb.obs.error_sd / nb.weight;
        lin.push(LinearObs {
            value: nb.obs.value,
            error_var,
            weights,
        });
        keys.push((nb.obs.cell_id, nb.obs.sensor));
    }
    let normals = observation_normals(ctx, &keys, n);
    let d = enkf::analyse(&mut ens, n, na, &lin, &normals, ctx.mode)?;
    enkf::relax_to_prior_spread(&mut ens, &before, n, na, ctx.rtps);
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

/// What one rank did at one analysis time.
#[derive(Debug, Clone, Default)]
pub struct LocalAnalysis {
    /// Global ids of the analysed cells, ascending.
    pub ids: Vec<u64>,
    /// Per analysed cell, the diagnostics record (see [`Analysis1D::record_width`]).
    pub records: Vec<f64>,
    /// Per sensor: accepted observations and the rejections by rule of this rank.
    pub accepted: Vec<usize>,
    pub rejected: Vec<RejectCounts>,
    /// Every accepted observation of this rank's cells (bias-corrected, m3 m-3), in
    /// product order: what a retrievals image is made of.
    pub retrievals: Vec<AcceptedRetrieval>,
}

/// One accepted, bias-corrected observation of a cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AcceptedRetrieval {
    pub cell_id: u64,
    /// Index of the product in `da:sensors`.
    pub product: usize,
    pub value: f64,
}

/// A configured product's bias correction: the method and the climatology.
type Bias = Option<(BiasMethod, Climatology)>;

/// The per-cell EnKF stage of one run on one rank.
pub struct Analysis1D {
    pub(super) sensors: Arc<[ConfiguredSensor]>,
    bias: Vec<Bias>,
    /// Per product: the model's layer weights for its sensing depth.
    weights: Vec<Vec<f64>>,
    /// The model grid (cell centres for localisation, coordinates of the diagnostics).
    pub(super) grid: Arc<Grid>,
    pub(super) combine: Combine,
    pub(super) mode: Mode,
    rtps: f64,
    /// Cut-off radius of the observations' influence on other cells (km, 0 = 1-D).
    localization_km: f64,
    rules: ModelQcRules,
    pub(super) diagnostics: bool,
    seed: u64,
    /// Global id → local cell index.
    local: HashMap<u64, usize>,
    pub(super) layer_thickness: Vec<f64>,
    /// Per product: factor on the error sd, 1/√s for retrievals whose weight is split with
    /// the image analysis (`image:obs_weight_split`), else 1.
    error_factor: Vec<f64>,
    /// Per product: the per-cell error sd of `da:<sensor>_error_map` (local cells), if given.
    error_maps: Vec<Option<ObsErrorMap>>,
    /// With localisation: where every rank's cells are, planned once per run.
    halo: OnceLock<ObsHalo>,
}

/// The assimilation of a run: the observation stage and the analysis stage, sharing the
/// configured products.
pub struct Assimilation {
    pub obs: ObsWindow,
    pub analysis: Analysis1D,
}

/// The product's bias correction, with its climatology read and checked against the grid.
fn read_bias(s: &ConfiguredSensor, grid: &Grid) -> Result<Bias, AssimError> {
    let name = s.product.name();
    let path = match (s.bias_correction, &s.climatology) {
        (DaBiasCorrection::None, _) => return Ok(None),
        (_, Some(path)) => path,
        (_, None) => {
            return Err(AssimError::Config(format!(
                "{name}_bias_correction needs {name}_climatology"
            )))
        }
    };
    // Climatology files hold 1-D latitude and longitude axes.
    let (Some(lat), Some(lon)) = (grid.lat_1d(), grid.lon_1d()) else {
        return Err(AssimError::Config(format!(
            "{name}_bias_correction needs a regular latitude-longitude grid (climatology \
             files are on regular grids); use {name}_bias_correction = 'none' on this grid"
        )));
    };
    let clim_err = |message: String| AssimError::Climatology {
        path: path.clone(),
        message,
    };
    let c = read_climatology(path).map_err(|e| clim_err(e.to_string()))?;
    if !c.same_grid(lat, lon) {
        return Err(clim_err(format!(
            "grid {}x{} differs from the model grid {}x{}",
            c.lat.len(),
            c.lon.len(),
            lat.len(),
            lon.len()
        )));
    }
    let method = if s.bias_correction == DaBiasCorrection::Cdf {
        BiasMethod::CdfMatching
    } else {
        BiasMethod::Anomaly
    };
    Ok(Some((method, c)))
}

/// Per configured product, its `da:<sensor>_error_map` read for the cells `ids`.
fn error_maps(
    cfg: &DaConfig,
    grid: &Grid,
    ids: &[u64],
) -> Result<Vec<Option<ObsErrorMap>>, AssimError> {
    let mut out = Vec::new();
    for &s in &cfg.sensors {
        let Some((path, variable)) = cfg.error_map(s) else {
            out.push(None);
            continue;
        };
        let m = read_obs_error_map(path, variable, grid, ids)?;
        tracing::info!(
            "da: {} observation errors from {} ({variable}) at {} of {} land cells, {}_error_sd \
             elsewhere",
            s.name(),
            path.display(),
            m.land_from_map,
            m.land,
            s.name()
        );
        out.push(Some(m));
    }
    Ok(out)
}

/// The model-QC thresholds of the `&da` switches.
fn qc_rules(cfg: &DaConfig) -> ModelQcRules {
    let d = ModelQcRules::default();
    let on = |flag: bool, v: Option<f64>| if flag { v } else { None };
    ModelQcRules {
        max_precip: on(cfg.qc_precipitation, d.max_precip),
        max_frozen: on(cfg.qc_frozen_soil, d.max_frozen),
        min_temperature: on(cfg.qc_temperature, d.min_temperature),
        max_swe: on(cfg.qc_swe, d.max_swe),
        max_snow_cover: on(cfg.qc_snow_cover, d.max_snow_cover),
        reject_forest: cfg.qc_forest,
        max_green_fraction: on(cfg.qc_green_fraction, d.max_green_fraction),
        bound_margin: on(cfg.qc_near_bounds, d.bound_margin),
    }
}

/// Warn when footprint copies of one retrieval would enter a localised analysis as
/// independent observations, i.e. with too much weight.
fn warn_footprint_with_localisation(cfg: &DaConfig, sensors: &[ConfiguredSensor]) {
    if cfg.localization_km <= 0.0 {
        return;
    }
    for s in sensors.iter().filter(|s| s.footprint_km > 0.0) {
        let name = s.product.name();
        tracing::warn!(
            "da:localization_km = {} with {name}_footprint_km = {}: each retrieval is copied \
             into every cell of its footprint and the localised analysis counts the copies \
             as independent observations; use {name}_footprint_km = 0 with localisation",
            cfg.localization_km,
            s.footprint_km,
        );
    }
}

impl Assimilation {
    /// Set up the assimilation for this rank's cells `ids` (global ids).
    pub fn new<M: LandModel>(
        cfg: &DaConfig,
        grid: &Grid,
        ids: &[u64],
        model: &M,
        seed: u64,
        n_members: usize,
        timestep_seconds: i64,
    ) -> Result<Self, AssimError> {
        if n_members < 2 {
            return Err(AssimError::Config(format!(
                "the EnKF needs at least 2 members, run:ensemble_size is {n_members}"
            )));
        }
        let sensors: Arc<[ConfiguredSensor]> = configured_sensors(cfg).into();
        let bias = sensors
            .iter()
            .map(|s| read_bias(s, grid))
            .collect::<Result<Vec<_>, _>>()?;
        warn_footprint_with_localisation(cfg, &sensors);
        let error_maps = error_maps(cfg, grid, ids)?;
        let combine = match cfg.combine {
            DaCombine::Average => Combine::Average,
            DaCombine::Latest => Combine::Latest,
        };
        let times = (combine, cfg.analysis_times);
        let grid = Arc::new(grid.clone());
        let obs = ObsWindow::new(Arc::clone(&sensors), &grid, times, timestep_seconds);
        let weights = sensors
            .iter()
            .map(|s| model.surface_weights(s.product.sensing_depth_m()))
            .collect();
        let analysis = Analysis1D {
            sensors,
            bias,
            weights,
            grid,
            combine,
            mode: match cfg.mode {
                DaMode::Joint => Mode::Joint,
                DaMode::Sequential => Mode::Sequential,
            },
            rtps: cfg.rtps_alpha,
            localization_km: cfg.localization_km,
            rules: qc_rules(cfg),
            diagnostics: cfg.diagnostics,
            seed,
            local: ids.iter().enumerate().map(|(i, &id)| (id, i)).collect(),
            layer_thickness: model.soil_layer_thickness().to_vec(),
            error_factor: vec![1.0; cfg.sensors.len()],
            error_maps,
            halo: OnceLock::new(),
        };
        Ok(Assimilation { obs, analysis })
    }
}

/// The accepted observations of one cell: each value with the index of its product.
#[derive(Default)]
struct CellAccepted {
    products: Vec<usize>,
    values: Vec<CellObsValue>,
}

/// The accepted observations of this rank's cells, by local cell.
type Accepted = BTreeMap<usize, CellAccepted>;

impl Analysis1D {
    /// Give the products flagged in `shared` (per product) the share `s` of their weight:
    /// error variance σ²/s. The image analysis gets the rest.
    pub(super) fn split_weight_with_image(&mut self, shared: &[bool], s: f64) {
        for (f, &on) in self.error_factor.iter_mut().zip(shared) {
            *f = if on { 1.0 / s.sqrt() } else { 1.0 };
        }
    }

    /// Error sd of product `si` at local cell `lc`: its error map's where it has one, else
    /// `constant` (the configured error after the bias correction's rescaling).
    fn error_sd(&self, si: usize, lc: usize, constant: f64) -> f64 {
        match &self.error_maps[si] {
            Some(m) => m.error_sd(lc, constant),
            None => constant,
        }
    }

    /// Values per analysed cell in the diagnostics record: per sensor (value, error σ,
    /// innovation, normalised innovation), then per layer (increment, spread before, after).
    pub fn record_width(&self) -> usize {
        4 * self.sensors.len() + 3 * self.layer_thickness.len()
    }

    /// Model-QC input of local cell `c` from the ensemble mean and the step's forcing.
    fn qc_input<M: LandModel>(
        &self,
        (model, ens): (&M, &CellEnsemble<M>),
        c: usize,
        forcing: Option<&[Forcing]>,
        t: NaiveDateTime,
    ) -> ModelQcInput {
        let p = ens.params(c);
        let q = model.qc_state(p, ens.members(c), t);
        let (wilting, porosity) = model.surface_hydraulics(p);
        ModelQcInput {
            precip: forcing
                .and_then(|f| f.get(c))
                .map_or(0.0, |f| f.precipitation),
            frozen: q.frozen,
            skin_t: q.skin_temperature,
            top_soil_t: q.top_soil_temperature,
            swe: q.swe,
            snow_cover: q.snow_cover,
            is_forest: q.is_forest,
            green_fraction: q.green_fraction,
            wilting,
            porosity,
        }
    }

    /// This rank's observations of product `si` in the model's units: a degree of
    /// saturation becomes m³ m⁻³ between each cell's wilting point and porosity, unless the
    /// bias correction works on the product's own units.
    fn own_cells<M: LandModel>(
        &self,
        cells: &[CellObs],
        (model, ens): (&M, &CellEnsemble<M>),
        to_volumetric: bool,
    ) -> Vec<CellObs> {
        let mut mine = Vec::new();
        for c in cells {
            let Some(&lc) = self.local.get(&(c.cell as u64)) else {
                continue;
            };
            let mut c = *c;
            if to_volumetric {
                let (wilting, porosity) = model.surface_hydraulics(ens.params(lc));
                c.value = saturation_to_volumetric(c.value, wilting, porosity);
                c.error_sd *= (porosity - wilting) / 100.0;
            }
            mine.push(c);
        }
        mine
    }

    /// Bias correction and model QC of every product's observations of this rank's cells.
    fn accept<M: LandModel>(
        &self,
        obs: &AnalysisObs,
        t: NaiveDateTime,
        me: (&M, &CellEnsemble<M>),
        forcing: Option<&[Forcing]>,
        out: &mut LocalAnalysis,
    ) -> Accepted {
        let mut per_cell: Accepted = BTreeMap::new();
        for (si, s) in self.sensors.iter().enumerate() {
            let Some(cells) = obs.cells.get(si) else {
                continue;
            };
            let bias = self.bias[si].as_ref();
            let percent_clim = bias.is_some_and(|(_, c)| c.obs_units.contains("percent"));
            let saturation = s.product.units() == ObsUnits::PercentSaturation;
            let mine = self.own_cells(cells, me, saturation && !percent_clim);
            let bias = bias.map(|(m, c)| BiasStep {
                climatology: c,
                method: *m,
                rescale_error: saturation && percent_clim,
            });
            let (accepted, rejected) = prepare_cells(&mine, t.month(), bias, &self.rules, |cell| {
                self.local
                    .get(&(cell as u64))
                    .map(|&lc| self.qc_input(me, lc, forcing, t))
            });
            out.accepted[si] = accepted.len();
            out.rejected[si] = rejected;
            for c in accepted {
                let lc = self.local[&(c.cell as u64)];
                out.retrievals.push(AcceptedRetrieval {
                    cell_id: c.cell as u64,
                    product: si,
                    value: c.value,
                });
                let v = CellObsValue {
                    sensor: s.product.code(),
                    value: c.value,
                    error_sd: self.error_sd(si, lc, c.error_sd) * self.error_factor[si],
                    layer_weights: self.weights[si].clone(),
                };
                let cell = per_cell.entry(lc).or_default();
                cell.products.push(si);
                cell.values.push(v);
            }
        }
        per_cell
    }

    /// Centre (lat, lon) of the cell with global id `id`.
    fn centre(&self, id: u64) -> (f64, f64) {
        let nx = self.grid.nx();
        let (j, i) = (id as usize / nx, id as usize % nx);
        (self.grid.lat(j, i), self.grid.lon(j, i))
    }

    /// With localisation: plan the halo of the exchange (where every rank's cells are) once
    /// per run; the first localised analysis does it if setup did not. Collective.
    pub fn plan_halo(&self, comm: &dyn Communicator) {
        if self.localization_km > 0.0 {
            self.halo(comm);
        }
    }

    fn halo(&self, comm: &dyn Communicator) -> &ObsHalo {
        self.halo.get_or_init(|| {
            let centres = self.local.keys().map(|&id| self.centre(id));
            ObsHalo::plan(comm, self.localization_km, centres)
        })
    }

    /// With localisation every rank needs the accepted observations within the radius of
    /// its cells (the halo), with the observed cell's background in observation space.
    /// Collective when localising.
    fn shared<M: LandModel>(
        &self,
        comm: &dyn Communicator,
        per_cell: &Accepted,
        (model, ens): (&M, &CellEnsemble<M>),
        t: NaiveDateTime,
    ) -> Result<Vec<SharedObs>, AssimError> {
        if self.localization_km <= 0.0 {
            return Ok(Vec::new());
        }
        let mut mine = Vec::new();
        let mut layers = Vec::new();
        for (&lc, acc) in per_cell {
            let id = ens.ids()[lc];
            let (lat, lon) = self.centre(id);
            for (&si, v) in acc.products.iter().zip(&acc.values) {
                let background = ens
                    .members(lc)
                    .iter()
                    .map(|s| {
                        layers.clear();
                        model.extend_soil_moisture(s, &mut layers);
                        weighted(&self.weights[si], &layers)
                    })
                    .collect();
                mine.push(SharedObs {
                    cell_id: id,
                    lat,
                    lon,
                    sensor: v.sensor,
                    value: v.value,
                    error_sd: v.error_sd,
                    background,
                });
            }
        }
        let halo = self.halo(comm);
        let (shared, counts) = halo
            .exchange(comm, &mine, ens.n_members())
            .map_err(|source| AssimError::Exchange { time: t, source })?;
        counts.log(comm, t);
        Ok(shared)
    }

    /// Cells to analyse with neighbours' observations: every cell within reach of a shared
    /// observation whose own state allows an update.
    fn targets<'s, M: LandModel>(
        &self,
        shared: &'s [SharedObs],
        per_cell: &Accepted,
        me: (&M, &CellEnsemble<M>),
        forcing: Option<&[Forcing]>,
        t: NaiveDateTime,
    ) -> BTreeMap<usize, Vec<NeighbourObs<'s>>> {
        let state_rules = ModelQcRules {
            max_precip: None,
            reject_forest: false,
            max_green_fraction: None,
            bound_margin: None,
            ..self.rules
        };
        let mut targets = BTreeMap::new();
        if shared.is_empty() {
            return targets;
        }
        // Candidates within the cut-off through a spatial index (a superset of the
        // Gaspari-Cohn test below), ascending, i.e. in the shared order.
        let index = PointIndex::new(shared.iter().map(|o| (o.lat, o.lon)));
        let reach = chord2_of_km(self.localization_km);
        let mut candidates = Vec::new();
        for (lc, &id) in me.1.ids().iter().enumerate() {
            let (lat, lon) = self.centre(id);
            index.within(&unit_vector(lat, lon), reach, &mut candidates);
            let near: Vec<NeighbourObs> = candidates
                .iter()
                .map(|&k| &shared[k])
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
                && model_qc(f64::NAN, &self.qc_input(me, lc, forcing, t), &state_rules).is_some()
            {
                continue;
            }
            targets.insert(lc, near);
        }
        targets
    }

    /// The diagnostics record of one analysed cell.
    fn record(&self, acc: Option<&CellAccepted>, r: &CellAnalysis) -> Vec<f64> {
        let (ns, nl) = (self.sensors.len(), self.layer_thickness.len());
        let mut rec = vec![f64::NAN; self.record_width()];
        let own = acc.map(|a| a.products.iter().zip(&a.values));
        for (j, (&si, v)) in own.into_iter().flatten().enumerate() {
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
        rec
    }

    /// Bias correction, model QC and the EnKF on this rank's cells at analysis time `t`
    /// (collective: with localisation the accepted observations are exchanged between ranks).
    pub fn analyse_local<M: LandModel>(
        &self,
        comm: &dyn Communicator,
        obs: &AnalysisObs,
        t: NaiveDateTime,
        model: &M,
        ens: &mut CellEnsemble<M>,
        forcing: Option<&[Forcing]>,
    ) -> Result<LocalAnalysis, AssimError> {
        let ns = self.sensors.len();
        let mut out = LocalAnalysis {
            accepted: vec![0; ns],
            rejected: vec![RejectCounts::default(); ns],
            ..Default::default()
        };
        let per_cell = self.accept(obs, t, (model, ens), forcing, &mut out);
        let shared = self.shared(comm, &per_cell, (model, ens), t)?;
        let targets = self.targets(&shared, &per_cell, (model, ens), forcing, t);
        let cells: BTreeSet<usize> = per_cell.keys().chain(targets.keys()).copied().collect();
        for lc in cells {
            let acc = per_cell.get(&lc);
            let own = acc.map(|a| a.values.as_slice()).unwrap_or(&[]);
            let near = targets.get(&lc).map(Vec::as_slice).unwrap_or(&[]);
            let id = ens.ids()[lc];
            let ctx = CellContext {
                seed: self.seed,
                cell_id: id,
                time: t,
                mode: self.mode,
                rtps: self.rtps,
            };
            let (params, states) = ens.cell_mut(lc);
            let cell_obs = CellObservations {
                own,
                neighbours: near,
            };
            let r = analyse_cell(model, params, states, cell_obs, &ctx).map_err(|source| {
                AssimError::Enkf {
                    time: t,
                    cell_id: id,
                    source,
                }
            })?;
            out.ids.push(id);
            out.records.extend(self.record(acc, &r));
        }
        Ok(out)
    }

    /// The analysis at the end of model step `(t0, t1]` when `t1` is an analysis time of the
    /// window (a collective call on every rank; `None` otherwise). The root rank also gets
    /// what the diagnostics file of the analysis holds.
    pub fn analyse_step<M: LandModel>(
        &self,
        comm: &dyn Communicator,
        wobs: &WindowObs,
        t1: NaiveDateTime,
        (model, ens): (&M, &mut CellEnsemble<M>),
        forcing: Option<&[Forcing]>,
    ) -> Result<Option<super::analysis_diag::AnalysisResult>, AssimError> {
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
        Ok(Some(self.gather_summary(comm, wobs, t1, local)))
    }
}

/// Σ w_k x_k over the layers with a weight (a single unit weight gives x_k exactly).
fn weighted(weights: &[f64], x: &[f64]) -> f64 {
    weights
        .iter()
        .zip(x)
        .filter(|(w, _)| **w != 0.0)
        .map(|(w, v)| w * v)
        .sum()
}
