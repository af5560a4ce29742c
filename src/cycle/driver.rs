//! The ensemble driver: consecutive 6-hour windows of the perturbed Noah ensemble over the
//! land cells of every rank, with history output, restarts and run-directory bookkeeping.
//!
//! Every rank owns a contiguous chunk of land cells along the Hilbert curve (all members of
//! a cell on one rank). Per-cell computation never depends on the decomposition: forcing is
//! remapped from global coordinates, random numbers are keyed by global cell id, and
//! outputs and restarts are gathered and ordered by global id on the root rank. Errors are
//! agreed on collectively before every collective call, so a failing rank stops all ranks.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

use super::ensemble::{CellEnsemble, StepError};
use super::history_vars::{all_vars, record_width, Sampling};
use super::rundir::{RunDir, RunDirError, RunState};
use crate::config::{Config, ForcingVariable, PerturbationType, Remap, StaticFormat};
use crate::forcing::{ForcingError, ForcingReader, ForcingSpec, ForcingVariables, VariableSpec};
use crate::grid::remap::RemapMethod;
use crate::grid::statics::StaticFields;
use crate::grid::{Decomposition, Grid, GridError};
use crate::io::history::{
    history_file_name, write_history_deferred, Compression, EnsembleStat, HistoryField,
    HistoryGrid, HistoryMetadata, HistoryTime, HistoryWrite, TimeMethod, TimeUnits,
};
use crate::io::restart::{
    check_fingerprint, find_latest_restart, read_restart_cells, restart_file_name, verify_restart,
    write_restart_deferred, RestartData, RestartField,
};
use crate::io::{IoError, PendingFile};
use crate::lsm::noah::tables::{ParameterTables, TableError};
use crate::lsm::noah::NoahLsm;
use crate::lsm::{CellStatics, Forcing, LandModel, LsmError};
use crate::parallel::{order_by_id, Communicator};
use crate::perturb::{
    initial_member_deviates, initial_member_field_deviates, GaussianFieldPlan, PerturbError,
    PerturbGenerator, PerturbGroup, PerturbKind, PerturbState, PerturbValues, PerturbVar,
    SpatialCorrelation, STREAM_FORCING, STREAM_SOIL_MOISTURE,
};
use crate::time::{on_interval, windows, Window};

/// Upper bound of perturbed downward shortwave at the surface (W m-2).
pub const SOLAR_CONSTANT: f64 = 1361.0;

/// Errors of a run, each naming the file, variable, time or place involved.
#[derive(Debug, thiserror::Error)]
pub enum CycleError {
    #[error("static fields: {0}")]
    Grid(#[from] GridError),
    #[error("parameter tables: {0}")]
    Tables(#[from] TableError),
    #[error("forcing: {0}")]
    Forcing(#[from] ForcingError),
    #[error("perturbations: {0}")]
    Perturb(#[from] PerturbError),
    #[error("{0}")]
    Io(#[from] IoError),
    #[error("{0}")]
    RunDir(#[from] RunDirError),
    #[error("land model: {0}")]
    Step(#[from] StepError),
    #[error("land model, cell {cell_id}: {source}")]
    Cell { cell_id: u64, source: LsmError },
    #[error("{0}")]
    Invalid(String),
    #[error("another rank failed (see its error message above)")]
    PeerFailed,
    #[error("{0}")]
    Assim(#[from] Box<super::assim::AssimError>),
}

/// Command-line options of `landcycle run`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Run directory (overrides the namelist's `run:rundir`).
    pub rundir: Option<PathBuf>,
    /// Run at most this many windows.
    pub windows: Option<usize>,
    /// Continue from the latest complete restart in the run directory.
    pub resume: bool,
    /// Show a progress bar (root rank, terminal only).
    pub progress: bool,
}

/// Wall-clock time per stage (maximum over ranks) and what was done.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    pub windows_run: usize,
    pub last_cycle: Option<NaiveDateTime>,
    pub n_land_cells: usize,
    pub stage_seconds: Vec<(&'static str, f64)>,
    /// Peak resident memory of this rank (kB), from /proc when available.
    pub peak_rss_kb: Option<u64>,
}

#[derive(Default)]
struct Timers {
    setup: Duration,
    forcing: Duration,
    perturb: Duration,
    physics: Duration,
    output: Duration,
    restart: Duration,
    assimilation: Duration,
}

fn timed<T>(acc: &mut Duration, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let r = f();
    *acc += t.elapsed();
    r
}

/// Agree on success across ranks: the failing rank keeps its own error, the others get
/// [`CycleError::PeerFailed`].
fn agree<T>(comm: &dyn Communicator, r: Result<T, CycleError>) -> Result<T, CycleError> {
    let ok = comm.all_ok(r.is_ok());
    match r {
        Err(e) => Err(e),
        Ok(_) if !ok => Err(CycleError::PeerFailed),
        Ok(v) => Ok(v),
    }
}

/// Forcing description from the `&forcing` group.
pub fn forcing_spec(cfg: &Config) -> ForcingSpec {
    let f = &cfg.forcing;
    let mut variables = ForcingVariables::gldas();
    let set = |spec: &mut VariableSpec, var: ForcingVariable| {
        let (name, units) = f.variable(var);
        *spec = VariableSpec::new(name, units);
    };
    set(&mut variables.air_temperature, ForcingVariable::Tair);
    set(&mut variables.specific_humidity, ForcingVariable::Qair);
    set(&mut variables.surface_pressure, ForcingVariable::Psurf);
    set(&mut variables.wind_speed, ForcingVariable::Wind);
    set(&mut variables.precipitation, ForcingVariable::Rainf);
    set(&mut variables.shortwave_down, ForcingVariable::Swdown);
    set(&mut variables.longwave_down, ForcingVariable::Lwdown);
    let mut spec = ForcingSpec::gldas(f.directory.clone());
    spec.file_template = f.file_template.clone();
    spec.interval_seconds = i64::from(f.interval_hours) * 3600;
    spec.variables = variables;
    spec.forcing_height = f.forcing_height;
    spec.sw_zenith_weighting = f.sw_zenith_weighting;
    spec.remap = match f.remap {
        Remap::Bilinear => RemapMethod::Bilinear,
        Remap::Nearest => RemapMethod::Nearest,
    };
    spec
}

/// Standard normal deviates of the cold-start spread, `[cell * n_members + member]`, or `None`
/// when `run:cold_start_soil_moisture_std` is unset or zero: independent per cell, or one
/// spatially correlated field per member (`run:cold_start_soil_moisture_corr_km`).
fn initial_spread_deviates(
    cfg: &Config,
    grid: &Grid,
    ids: &[u64],
    n_members: usize,
) -> Result<Option<Vec<f64>>, CycleError> {
    let Some(sd) = &cfg.run.cold_start_soil_moisture_std else {
        return Ok(None);
    };
    if !sd.iter().any(|v| *v > 0.0) {
        return Ok(None);
    }
    let (seed, clip) = (cfg.run.seed, cfg.perturbation.std_normal_max);
    let time_index = cfg.run.start.and_utc().timestamp();
    let demean = cfg.perturbation.remove_ensemble_mean;
    let length = cfg.run.cold_start_soil_moisture_corr_km;
    if length > 0.0 {
        let spec = regular_grid_correlation(grid, length, "run:cold_start_soil_moisture_corr_km")?;
        let plan = GaussianFieldPlan::new(&spec)?;
        return Ok(Some(initial_member_field_deviates(
            &plan, seed, ids, n_members, time_index, clip, demean,
        )));
    }
    let mut z = Vec::with_capacity(ids.len() * n_members);
    for &id in ids {
        z.extend(initial_member_deviates(
            seed, id, n_members, time_index, clip, demean,
        ));
    }
    Ok(Some(z))
}

/// Gaussian spatial correlation of length `length_km` over the model's regular
/// latitude-longitude grid (`what` names the setting in the error).
fn regular_grid_correlation(
    grid: &Grid,
    length_km: f64,
    what: &str,
) -> Result<SpatialCorrelation, CycleError> {
    let (lat, lon) = match (grid.lat_1d(), grid.lon_1d()) {
        (Some(a), Some(b)) if a.len() > 1 && b.len() > 1 => (a, b),
        _ => {
            return Err(CycleError::Invalid(format!(
                "{what} > 0 needs a regular latitude-longitude grid"
            )))
        }
    };
    let mid = lat[lat.len() / 2];
    Ok(SpatialCorrelation::from_lat_lon(
        length_km,
        crate::perturb::CovarianceShape::Gaussian,
        grid.ny(),
        grid.nx(),
        lat[1] - lat[0],
        lon[1] - lon[0],
        mid,
    ))
}

/// The forcing and soil-moisture perturbation groups of the `&perturbation` group.
pub fn perturbation_groups(
    cfg: &Config,
    grid: &Grid,
    n_layers: usize,
) -> Result<(Option<PerturbGroup>, Option<PerturbGroup>), CycleError> {
    let p = &cfg.perturbation;
    let spatial = if p.spatial_corr_km > 0.0 {
        Some(regular_grid_correlation(
            grid,
            p.spatial_corr_km,
            "perturbation:spatial_corr_km",
        )?)
    } else {
        None
    };
    let forcing = if p.perturb_forcing && !p.forcing_vars.is_empty() {
        let vars = p
            .forcing_vars
            .iter()
            .enumerate()
            .map(|(k, v)| PerturbVar {
                name: v.name().to_string(),
                kind: match p.forcing_types[k] {
                    PerturbationType::Additive => PerturbKind::Additive,
                    PerturbationType::Multiplicative => PerturbKind::Multiplicative,
                },
                std: p.forcing_std[k],
                tau_seconds: p.forcing_tau_hours[k] * 3600.0,
                lower: None,
                // Perturbed shortwave never exceeds the solar constant.
                upper: (*v == ForcingVariable::Swdown).then_some(SOLAR_CONSTANT),
            })
            .collect();
        Some(PerturbGroup {
            name: "forcing".into(),
            vars,
            correlation: p.forcing_corr.clone(),
            interval_seconds: i64::from(p.interval_seconds),
            std_normal_max: p.std_normal_max,
            remove_ensemble_mean: p.remove_ensemble_mean,
            spatial: spatial.clone(),
        })
    } else {
        None
    };
    let state = if p.perturb_state && !p.state_std.is_empty() {
        if p.state_std.len() != n_layers {
            return Err(CycleError::Invalid(format!(
                "perturbation:state_std has {} values but the model has {n_layers} soil layers",
                p.state_std.len()
            )));
        }
        let vars = p
            .state_std
            .iter()
            .enumerate()
            .map(|(k, &s)| PerturbVar {
                name: format!("soil_moisture_{}", k + 1),
                kind: PerturbKind::Additive,
                std: s,
                tau_seconds: p.state_tau_hours * 3600.0,
                lower: None,
                upper: None,
            })
            .collect();
        Some(PerturbGroup {
            name: "soil_moisture".into(),
            vars,
            correlation: p.state_corr.clone(),
            interval_seconds: i64::from(p.state_interval_seconds),
            std_normal_max: p.std_normal_max,
            remove_ensemble_mean: p.remove_ensemble_mean,
            spatial,
        })
    } else {
        None
    };
    Ok((forcing, state))
}

/// The state and values of a perturbation group at the next perturbation time.
type Ahead = std::thread::JoinHandle<Result<(PerturbState, PerturbValues), PerturbError>>;

/// A perturbation group with its rank-local state and the values held until the next
/// perturbation time.
///
/// The state and values of the next perturbation time are computed on a helper thread while
/// the ensemble steps through the current one (the same calls as computing them when they
/// are due, so the numbers are identical); nothing is computed ahead for perturbation times
/// at or after `horizon`, the end of the run.
struct Perturber {
    gen: Arc<PerturbGenerator>,
    state: PerturbState,
    values: PerturbValues,
    horizon: NaiveDateTime,
    ahead: Option<Ahead>,
    /// A values buffer for the next computation ahead.
    spare: Option<PerturbValues>,
}

impl Perturber {
    fn new(
        gen: PerturbGenerator,
        state: PerturbState,
        horizon: NaiveDateTime,
    ) -> Result<Self, CycleError> {
        let values = gen.values(&state)?;
        Ok(Perturber {
            gen: Arc::new(gen),
            state,
            values,
            horizon,
            ahead: None,
            spare: None,
        })
    }

    /// Advance to the perturbation time containing `t`; true when the values changed.
    fn advance(&mut self, t: NaiveDateTime) -> Result<bool, CycleError> {
        let k = self.gen.time_index(t);
        let current = self.state.time_index();
        let next = Some(k) == current.checked_add(1);
        let moved = if k == current {
            false
        } else {
            match self.ahead.take() {
                Some(h) if next => {
                    match h.join() {
                        Ok(r) => {
                            let (state, values) = r?;
                            self.state = state;
                            self.spare = Some(std::mem::replace(&mut self.values, values));
                        }
                        // The helper thread died: compute here (same result or the same error).
                        Err(_) => {
                            self.advance_here(t)?;
                        }
                    }
                    true
                }
                other => {
                    // Not the next perturbation time (a jump): the work ahead is of no use.
                    if let Some(h) = other {
                        let _ = h.join();
                    }
                    self.advance_here(t)?
                }
            }
        };
        self.compute_ahead();
        Ok(moved)
    }

    /// Advance on this thread (no work ahead is pending).
    fn advance_here(&mut self, t: NaiveDateTime) -> Result<bool, CycleError> {
        let moved = self.gen.advance_to_time(&mut self.state, t)?;
        if moved {
            self.gen.values_into(&self.state, &mut self.values)?;
        }
        Ok(moved)
    }

    /// Start computing the next perturbation time's state and values on a helper thread,
    /// unless that time is at or after the end of the run.
    fn compute_ahead(&mut self) {
        if self.ahead.is_some() {
            return;
        }
        let interval = self.gen.group().interval_seconds;
        let next_start = self
            .state
            .time_index()
            .checked_add(1)
            .and_then(|k| crate::perturb::clock::interval_start(k, interval));
        if !matches!(next_start, Some(t) if t < self.horizon) {
            return;
        }
        let gen = Arc::clone(&self.gen);
        let mut state = self.state.clone();
        let mut values = self.spare.take().unwrap_or_else(|| self.values.clone());
        let spawned = std::thread::Builder::new()
            .name("landcycle-perturb".into())
            .spawn(move || {
                gen.advance(&mut state)?;
                gen.values_into(&state, &mut values)?;
                Ok((state, values))
            });
        // Without a thread the values are computed when they are due.
        self.ahead = spawned.ok();
    }
}

impl Drop for Perturber {
    fn drop(&mut self) {
        if let Some(h) = self.ahead.take() {
            let _ = h.join();
        }
    }
}

/// Everything the root rank needs to write history files.
struct HistoryContext {
    grid: HistoryGrid,
    metadata: HistoryMetadata,
    compression: Compression,
    layer_thickness: Vec<f64>,
    reference: NaiveDateTime,
    interval_seconds: i64,
    members: bool,
}

fn history_grid(grid: &Grid) -> HistoryGrid {
    let mask = grid.land_mask().to_vec();
    match (grid.lat_1d(), grid.lon_1d()) {
        (Some(lat), Some(lon)) => HistoryGrid::regular(lat.to_vec(), lon.to_vec(), mask),
        _ => {
            let (ny, nx) = grid.dims();
            let mut lat = Vec::with_capacity(ny * nx);
            let mut lon = Vec::with_capacity(ny * nx);
            for j in 0..ny {
                for i in 0..nx {
                    lat.push(grid.lat(j, i));
                    lon.push(grid.lon(j, i));
                }
            }
            HistoryGrid::curvilinear(ny, nx, lat, lon, mask)
        }
    }
}

/// What is left of a write job once its file is complete under the temporary name: make it
/// durable and visible (fsync, rename) and, for a restart, record it in state.json.
type CommitJob = Box<dyn FnOnce() -> Result<(), CycleError> + Send>;

/// A file-writing job of the root rank.
type WriteJob = Box<dyn FnOnce() -> Result<CommitJob, CycleError> + Send>;

/// Run a write job and its commit on the calling thread.
fn write_now(job: WriteJob) -> Result<(), CycleError> {
    job()?()
}

/// Root-only background writer: history and restart files are merged and written on a
/// separate thread while the ensemble steps on, at most one job queued behind the running
/// one. A second thread commits the finished files (fsync, rename, state.json) in the order
/// they were written, so the writer builds the next file while the disk catches up with the
/// last one, and `state.json` names a restart only after that restart is on disk. The first
/// failure is reported at the next submission or at [`Writer::finish`]. netCDF and HDF5
/// calls from both threads are serialised by the one global HDF5 lock that the netcdf and
/// hdf5 crates share.
struct Writer {
    tx: Option<SyncSender<WriteJob>>,
    handle: Option<std::thread::JoinHandle<()>>,
    sync_handle: Option<std::thread::JoinHandle<()>>,
    failed: Arc<Mutex<Option<CycleError>>>,
    busy: Arc<Mutex<Duration>>,
    sync_busy: Arc<Mutex<Duration>>,
}

/// A job of one of the writer's threads.
type Job<R> = Box<dyn FnOnce() -> Result<R, CycleError> + Send>;

/// Run jobs from `rx` until it closes, timing them into `busy` and keeping the first error
/// in `failed`; `then` receives every successful result. Jobs after a failure are skipped:
/// after any failure (`any_failure`), or only after a failure of this thread's own jobs (the
/// commit thread still commits the files written before the writer failed).
fn run_jobs<R>(
    rx: std::sync::mpsc::Receiver<Job<R>>,
    failed: &Mutex<Option<CycleError>>,
    any_failure: bool,
    busy: &Mutex<Duration>,
    mut then: impl FnMut(R) -> Result<(), CycleError>,
) {
    let mut own_failure = false;
    for job in rx {
        let stop =
            own_failure || (any_failure && failed.lock().map(|g| g.is_some()).unwrap_or(true));
        if stop {
            continue; // after a failure, write nothing more
        }
        let t = Instant::now();
        let r = job().and_then(&mut then);
        if let Ok(mut g) = busy.lock() {
            *g += t.elapsed();
        }
        if let Err(e) = r {
            own_failure = true;
            if let Ok(mut g) = failed.lock() {
                g.get_or_insert(e);
            }
        }
    }
}

impl Writer {
    fn new() -> Result<Writer, CycleError> {
        let (tx, rx) = sync_channel::<WriteJob>(1);
        let (ctx, crx) = sync_channel::<CommitJob>(2);
        let failed: Arc<Mutex<Option<CycleError>>> = Arc::new(Mutex::new(None));
        let busy = Arc::new(Mutex::new(Duration::ZERO));
        let sync_busy = Arc::new(Mutex::new(Duration::ZERO));
        let spawn_err =
            |e: std::io::Error| CycleError::Invalid(format!("cannot start the writer thread: {e}"));
        let (f, b) = (Arc::clone(&failed), Arc::clone(&sync_busy));
        let sync_handle = std::thread::Builder::new()
            .name("landcycle-sync".into())
            .spawn(move || run_jobs(crx, &f, false, &b, |()| Ok(())))
            .map_err(spawn_err)?;
        let (f, b) = (Arc::clone(&failed), Arc::clone(&busy));
        let handle = std::thread::Builder::new()
            .name("landcycle-writer".into())
            .spawn(move || {
                run_jobs(rx, &f, true, &b, |commit| {
                    ctx.send(commit)
                        .map_err(|_| CycleError::Invalid("the file sync thread stopped".into()))
                })
            })
            .map_err(spawn_err)?;
        Ok(Writer {
            tx: Some(tx),
            handle: Some(handle),
            sync_handle: Some(sync_handle),
            failed,
            busy,
            sync_busy,
        })
    }

    fn take_error(&self) -> Result<(), CycleError> {
        match self.failed.lock().ok().and_then(|mut g| g.take()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn submit(&self, job: WriteJob) -> Result<(), CycleError> {
        self.take_error()?;
        let tx = self.tx.as_ref().expect("writer is running");
        if tx.send(job).is_err() {
            return Err(CycleError::Invalid("the writer thread stopped".into()));
        }
        Ok(())
    }

    /// Stop accepting jobs and wait for both threads; false when one of them panicked.
    fn join(&mut self) -> bool {
        drop(self.tx.take());
        // The writer thread closes the sync queue when it ends.
        let w = self.handle.take().map(|h| h.join().is_ok()).unwrap_or(true);
        let s = self
            .sync_handle
            .take()
            .map(|h| h.join().is_ok())
            .unwrap_or(true);
        w && s
    }

    /// Wait for every queued file; returns the first failure and the time spent writing and
    /// committing files.
    fn finish(mut self) -> Result<(Duration, Duration), CycleError> {
        if !self.join() {
            return Err(CycleError::Invalid("the writer thread panicked".into()));
        }
        self.take_error()?;
        let get = |m: &Mutex<Duration>| m.lock().map(|g| *g).unwrap_or_default();
        Ok((get(&self.busy), get(&self.sync_busy)))
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.join();
    }
}

/// Grid, vegetation and soil dataset names, this rank's cell ids and their statics.
type LoadedStatics = (Grid, String, String, Vec<u64>, Vec<CellStatics>);

/// Load the grid (all ranks) and this rank's cell statics.
fn load_statics(
    cfg: &Config,
    rank_cells: impl FnOnce(&Grid) -> Result<Vec<u64>, CycleError>,
) -> Result<LoadedStatics, CycleError> {
    let path = &cfg.domain.static_file;
    match cfg.domain.static_format {
        StaticFormat::Landcycle => {
            let grid = StaticFields::read_landcycle_grid(path)?;
            // Vegetation/soil datasets are global attributes: read them through a cheap open.
            let ids = rank_cells(&grid)?;
            let cells = StaticFields::read_landcycle_cells(path, &ids)?;
            let (veg, soil) = StaticFields::read_landcycle_datasets(path)?;
            Ok((grid, veg, soil, ids, cells))
        }
        StaticFormat::GeoEm => {
            let s = StaticFields::read_geo_em(path)?;
            let ids = rank_cells(&s.grid)?;
            let cells = ids
                .iter()
                .map(|&id| s.try_cell_statics(id))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((
                s.grid.clone(),
                s.vegetation_dataset.name().to_string(),
                s.soil_dataset.clone(),
                ids,
                cells,
            ))
        }
    }
}

/// Run the ensemble for the configured period (or `opts.windows` windows).
pub fn run(
    cfg: &Config,
    comm: &dyn Communicator,
    opts: &RunOptions,
) -> Result<RunSummary, CycleError> {
    let t_setup = Instant::now();
    let mut timers = Timers::default();
    let rank = comm.rank();
    let size = comm.size();
    let rundir = RunDir::new(
        opts.rundir
            .clone()
            .unwrap_or_else(|| cfg.run.rundir.clone()),
    );
    // The root rank holds the run lock for the whole run.
    let lock = if rank == 0 { Some(rundir.lock()) } else { None };
    let _lock = agree(comm, lock.transpose().map_err(CycleError::from))?;

    // Static fields, decomposition and this rank's cells.
    let mut decomp_holder = None;
    let loaded = load_statics(cfg, |grid| {
        let d = Decomposition::new(grid, size)?;
        let ids = d.cells_of(rank).to_vec();
        decomp_holder = Some(d);
        Ok(ids)
    });
    let (grid, veg_name, soil_name, ids, cell_statics) = agree(comm, loaded)?;
    let n_land: usize = decomp_holder.as_ref().map(|d| d.n_land()).unwrap_or(0);
    if let Some(want) = cfg.domain.vegetation_dataset {
        if want.name() != veg_name {
            return Err(CycleError::Invalid(format!(
                "domain:vegetation_dataset is {} but static file {} uses {veg_name}",
                want.name(),
                cfg.domain.static_file.display()
            )));
        }
    }

    // Land model and per-cell parameters.
    let tables = match &cfg.domain.parameter_tables {
        Some(dir) => ParameterTables::from_wrf_dir(dir).map_err(CycleError::from),
        None => Ok(ParameterTables::builtin()),
    };
    let tables = agree(comm, tables)?;
    let model = NoahLsm::new(tables, &soil_name, &veg_name);
    let params: Result<Vec<_>, CycleError> = ids
        .iter()
        .zip(&cell_statics)
        .map(|(&id, s)| {
            model.cell_params(s).map_err(|source| CycleError::Cell {
                cell_id: id,
                source,
            })
        })
        .collect();
    let params = agree(comm, params)?;
    let nl = model.n_soil_layers();
    let n_members = cfg.run.ensemble_size as usize;

    // Perturbation generators.
    let groups = agree(comm, perturbation_groups(cfg, &grid, nl))?;
    let seed = cfg.run.seed;
    let gens: Result<(Option<PerturbGenerator>, Option<PerturbGenerator>), CycleError> = (|| {
        let f = groups
            .0
            .map(|g| PerturbGenerator::new(g, seed, STREAM_FORCING))
            .transpose()?;
        let s = groups
            .1
            .map(|g| PerturbGenerator::new(g, seed, STREAM_SOIL_MOISTURE))
            .transpose()?;
        Ok((f, s))
    })();
    let (fgen, sgen) = agree(comm, gens)?;

    // Initial state: resume, initial restart, or cold start.
    let restart_path: Option<PathBuf> = if opts.resume {
        let mut buf = Vec::new();
        let found = if rank == 0 {
            match find_latest_restart(&rundir.root) {
                Ok(Some(info)) => {
                    buf = info.path.to_string_lossy().into_owned().into_bytes();
                    Ok(())
                }
                Ok(None) => Err(CycleError::Invalid(format!(
                    "--resume: no complete restart found in run directory {}",
                    rundir.root.display()
                ))),
                Err(e) => Err(e.into()),
            }
        } else {
            Ok(())
        };
        agree(comm, found)?;
        comm.broadcast_bytes(&mut buf, 0);
        Some(PathBuf::from(String::from_utf8_lossy(&buf).into_owned()))
    } else {
        cfg.run.initial_restart.clone()
    };

    let fingerprint = cfg.fingerprint().to_string();
    let (start, states, fstate, sstate) = match &restart_path {
        Some(path) => {
            let r = read_initial_restart(
                path,
                comm,
                &model,
                &ids,
                n_members,
                &fingerprint,
                fgen.as_ref(),
                sgen.as_ref(),
            );
            let (t, states, fs, ss) = agree(comm, r)?;
            if !opts.resume && t != cfg.run.start {
                return Err(CycleError::Invalid(format!(
                    "initial restart {} is valid at {t}, but run:start is {}",
                    path.display(),
                    cfg.run.start
                )));
            }
            (t, states, fs, ss)
        }
        None => {
            let r: Result<_, CycleError> = (|| {
                let mut states = Vec::with_capacity(ids.len() * n_members);
                let spread = initial_spread_deviates(cfg, &grid, &ids, n_members)?;
                for (c, p) in params.iter().enumerate() {
                    let s = model
                        .cold_start(
                            p,
                            &cfg.run.cold_start_soil_moisture,
                            cfg.run.cold_start_temperature,
                        )
                        .map_err(|source| CycleError::Cell {
                            cell_id: ids[c],
                            source,
                        })?;
                    match (&cfg.run.cold_start_soil_moisture_std, &spread) {
                        (Some(sd), Some(z)) => {
                            for &zm in &z[c * n_members..(c + 1) * n_members] {
                                let mut member = s;
                                let inc: Vec<f64> = sd.iter().map(|v| v * zm).collect();
                                model.apply_increment_in_place(p, &mut member, &inc);
                                states.push(member);
                            }
                        }
                        _ => states.extend(std::iter::repeat_n(s, n_members)),
                    }
                }
                let start = cfg.run.start;
                let fs = fgen
                    .as_ref()
                    .map(|g| g.cold_start(&ids, n_members, g.time_index(start)))
                    .transpose()?;
                let ss = sgen
                    .as_ref()
                    .map(|g| g.cold_start(&ids, n_members, g.time_index(start)))
                    .transpose()?;
                Ok((start, states, fs, ss))
            })();
            agree(comm, r)?
        }
    };
    // Windows to run.
    let mut todo: Vec<Window> = windows(start, cfg.run.end, i64::from(cfg.run.window_hours));
    if let Some(n) = opts.windows {
        todo.truncate(n);
    }
    // End of the last step of this run (nothing is read or computed ahead beyond it).
    let run_end = todo.last().map(|w| w.end).unwrap_or(start);
    let mut fpert = match (fgen, fstate) {
        (Some(g), Some(s)) => Some(agree(comm, Perturber::new(g, s, run_end))?),
        _ => None,
    };
    let mut spert = match (sgen, sstate) {
        (Some(g), Some(s)) => Some(agree(comm, Perturber::new(g, s, run_end))?),
        _ => None,
    };

    // Forcing reader for this rank's cells.
    let targets: Vec<(f64, f64)> = cell_statics
        .iter()
        .map(|s| (s.latitude, s.longitude))
        .collect();
    let reader = if ids.is_empty() {
        Ok(None)
    } else {
        ForcingReader::new(forcing_spec(cfg), &targets)
            .map(Some)
            .map_err(CycleError::from)
    };
    let mut reader = agree(comm, reader)?;

    let mut ens = CellEnsemble::new(ids.clone(), params, states, n_members);

    // Soil-moisture assimilation (`&da`), when enabled.
    let assim = if cfg.da.enabled {
        let a = super::assim::Assimilation::new(
            &cfg.da,
            &grid,
            &ids,
            &cell_statics,
            &veg_name,
            &model,
            seed,
            n_members,
            i64::from(cfg.run.timestep),
        );
        Some(agree(comm, a.map_err(|e| CycleError::from(Box::new(e))))?)
    } else {
        None
    };

    let hist = Arc::new(HistoryContext {
        grid: history_grid(&grid),
        metadata: HistoryMetadata {
            title: "landcycle land ensemble history".into(),
            institution: "landcycle".into(),
            source: format!("landcycle {} ({})", env!("CARGO_PKG_VERSION"), model.name()),
            history: format!("landcycle {} run", env!("CARGO_PKG_VERSION")),
            namelist: cfg.namelist_text.clone(),
            ensemble_size: n_members,
            extra: vec![("config_fingerprint".into(), fingerprint.clone())],
        },
        compression: Compression {
            deflate_level: cfg.run.history_compression.min(9) as u8,
            shuffle: true,
        },
        layer_thickness: model.soil_layer_thickness().to_vec(),
        reference: cfg.run.start,
        interval_seconds: i64::from(cfg.run.history_interval_hours) * 3600,
        members: cfg.run.history_members,
    });
    timers.setup += t_setup.elapsed();

    let progress = if rank == 0 && opts.progress && !todo.is_empty() {
        let pb = indicatif::ProgressBar::new(todo.len() as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {pos}/{len} windows {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(pb)
    } else {
        None
    };

    // The root writes files on a background thread (opt out with LANDCYCLE_SYNC_OUTPUT=1).
    let mut writer = if rank == 0 && std::env::var_os("LANDCYCLE_SYNC_OUTPUT").is_none() {
        Some(agree(comm, Writer::new())?)
    } else {
        agree(comm, Ok(()))?;
        None
    };
    let dt = i64::from(cfg.run.timestep);
    let mut summary = RunSummary {
        n_land_cells: n_land,
        ..Default::default()
    };
    for w in &todo {
        let span = tracing::info_span!("window", cycle = %w.label());
        let _g = span.enter();
        let t_win = Instant::now();
        if rank == 0 {
            agree(comm, rundir.create_cycle(w.end).map_err(CycleError::from))?;
        } else {
            agree(comm, Ok(()))?;
        }
        let wobs = timed(&mut timers.assimilation, || {
            assim.as_ref().map(|a| a.prepare_window(w, rank == 0))
        });
        for t1 in w.step_ends(dt) {
            let t0 = t1 - chrono::Duration::seconds(dt);
            let r = step_once(
                &model,
                &mut ens,
                reader.as_mut(),
                fpert.as_mut(),
                spert.as_mut(),
                t0,
                t1,
                (t1 < run_end).then(|| (t1, t1 + chrono::Duration::seconds(dt))),
                dt as f64,
                &mut timers,
            );
            let base = agree(comm, r)?;
            if let (Some(a), Some(wo)) = (&assim, &wobs) {
                let diag = rundir.cycle_dir(w.end, "diag");
                let t = Instant::now();
                let r = a.analyse_step(comm, wo, t1, &model, &mut ens, base.as_deref(), &diag);
                timers.assimilation += t.elapsed();
                r.map_err(|e| CycleError::from(Box::new(e)))?;
            }
            if on_interval(t1, hist.interval_seconds) {
                let t = Instant::now();
                let path = rundir
                    .cycle_dir(w.end, "output")
                    .join(history_file_name(t1));
                let r = write_history_output(comm, &model, &ens, &hist, t1, &path, writer.as_ref());
                ens.reset_accumulators();
                agree(comm, r)?;
                timers.output += t.elapsed();
            }
        }
        let t = Instant::now();
        let r = write_restart_output(
            comm,
            &model,
            &ens,
            fpert.as_ref(),
            spert.as_ref(),
            &rundir,
            w.end,
            &fingerprint,
            cfg.restart.keep as usize,
            writer.as_ref(),
        );
        agree(comm, r)?;
        timers.restart += t.elapsed();
        summary.windows_run += 1;
        summary.last_cycle = Some(w.end);
        if rank == 0 {
            tracing::info!(
                elapsed_s = t_win.elapsed().as_secs_f64(),
                "cycle {} complete",
                w.label()
            );
        }
        if let Some(pb) = &progress {
            pb.set_message(w.label());
            pb.inc(1);
        }
    }
    if let Some(pb) = progress {
        pb.finish();
    }
    // Wait for the last files: the run is complete only when they are on disk.
    let t = Instant::now();
    let written = match writer.take() {
        Some(wr) => wr.finish().map(Some),
        None => Ok(None),
    };
    let (written, committed) = agree(comm, written)?.unwrap_or_default();
    timers.restart += t.elapsed();
    let stages = [
        ("setup", timers.setup),
        ("forcing", timers.forcing),
        ("perturbation", timers.perturb),
        ("physics", timers.physics),
        ("history output", timers.output),
        ("restart", timers.restart),
        ("assimilation", timers.assimilation),
        ("writer thread", written),
        ("file sync thread", committed),
    ];
    summary.stage_seconds = stages
        .iter()
        .map(|(n, d)| (*n, comm.allreduce_max_f64(d.as_secs_f64())))
        .collect();
    summary.peak_rss_kb = peak_rss_kb();
    Ok(summary)
}

#[allow(clippy::too_many_arguments)]
fn step_once(
    model: &NoahLsm,
    ens: &mut CellEnsemble<NoahLsm>,
    reader: Option<&mut ForcingReader>,
    fpert: Option<&mut Perturber>,
    spert: Option<&mut Perturber>,
    t0: NaiveDateTime,
    t1: NaiveDateTime,
    next_step: Option<(NaiveDateTime, NaiveDateTime)>,
    dt: f64,
    timers: &mut Timers,
) -> Result<Option<Vec<Forcing>>, CycleError> {
    // Perturbation clocks advance on every rank (also on ranks without cells), so the
    // time index written to the restart never depends on the decomposition.
    let t = Instant::now();
    let mut fp = fpert;
    if let Some(p) = fp.as_deref_mut() {
        p.advance(t0)?;
    }
    if let Some(p) = spert {
        if p.advance(t0)? {
            // State perturbation: one additive increment per perturbation time.
            let n = ens.n_members;
            let mut inc = vec![0.0; model.n_soil_layers()];
            // state_std is a rate per day (GMAO/LIS treat prognostic perturbations as a
            // perturbation flux): each perturbation time adds σ·y·Δt_pert/86400.
            let scale = p.gen.group().interval_seconds as f64 / 86_400.0;
            for c in 0..ens.n_cells() {
                for m in 0..n {
                    p.gen
                        .soil_moisture_increment_into(p.values.get(c, m), &mut inc)?;
                    inc.iter_mut().for_each(|x| *x *= scale);
                    let k = c * n + m;
                    model.apply_increment_in_place(&ens.params[c], &mut ens.states[k], &inc);
                }
            }
        }
    }
    timers.perturb += t.elapsed();
    let Some(reader) = reader else {
        return Ok(None); // a rank without land cells has nothing to step
    };
    let base = timed(&mut timers.forcing, || {
        let base = reader.forcing_for_step(t0, t1);
        // Read the next step's forcing file (if it needs a new one) during this step's physics.
        if let Some((n0, n1)) = next_step {
            reader.prefetch_step(n0, n1);
        }
        base
    })?;
    let t = Instant::now();
    let r = match fp {
        Some(p) => {
            let vars = p.gen.resolved_vars();
            let values = &p.values;
            let per_cell = values.n_members * values.n_vars;
            ens.step(
                model,
                &base,
                |c, fs| {
                    crate::perturb::apply_forcing_perturbation_members(
                        vars,
                        &values.values[c * per_cell..(c + 1) * per_cell],
                        fs,
                    )
                },
                t1,
                dt,
            )
        }
        None => ens.step(model, &base, |_, _| {}, t1, dt),
    };
    timers.physics += t.elapsed();
    r.map_err(CycleError::from)?;
    // The unperturbed forcing of the step, for the analysis's model QC.
    Ok(Some(base))
}

/// Gather per-cell records to the root and write one history file there.
fn write_history_output(
    comm: &dyn Communicator,
    model: &NoahLsm,
    ens: &CellEnsemble<NoahLsm>,
    hist: &Arc<HistoryContext>,
    valid: NaiveDateTime,
    path: &Path,
    writer: Option<&Writer>,
) -> Result<(), CycleError> {
    let nl = model.n_soil_layers();
    let w = record_width(nl);
    let (records, per_cell) = if hist.members {
        (ens.member_records(model), w * ens.n_members)
    } else {
        (ens.mean_spread_records(model), 2 * w)
    };
    let ids = comm.gatherv_u64(&ens.ids, 0);
    let vals = comm.gatherv_f64_owned(records, 0);
    let (Some(ids), Some(vals)) = (ids, vals) else {
        return Ok(());
    };
    let n_members = ens.n_members;
    let hist = Arc::clone(hist);
    let path = path.to_path_buf();
    let job: WriteJob = Box::new(move || {
        let pending =
            write_history_file(&hist, nl, n_members, &ids, &vals, per_cell, valid, &path)?;
        let commit: CommitJob = Box::new(move || Ok(pending.commit()?));
        Ok(commit)
    });
    match writer {
        Some(wr) => wr.submit(job),
        None => write_now(job),
    }
}

/// Build the full-grid fields of one history file from the records gathered per rank
/// (`per_cell` values per cell, cells taken in global id order) and write it (root rank,
/// possibly on the writer thread).
#[allow(clippy::too_many_arguments)]
fn write_history_file(
    hist: &HistoryContext,
    nl: usize,
    n_members: usize,
    ids: &[Vec<u64>],
    vals: &[Vec<f64>],
    per_cell: usize,
    valid: NaiveDateTime,
    path: &Path,
) -> Result<PendingFile, CycleError> {
    let w = record_width(nl);
    for (r, (rank_ids, block)) in ids.iter().zip(vals).enumerate() {
        if block.len() != rank_ids.len() * per_cell {
            return Err(CycleError::Invalid(format!(
                "history: rank {r} sent {} values for {} cells × {per_cell}",
                block.len(),
                rank_ids.len()
            )));
        }
    }
    // Each cell's record, in global id order.
    let merged: Vec<&[f64]> = order_by_id(ids)
        .into_iter()
        .map(|(_, r, k)| &vals[r][k * per_cell..(k + 1) * per_cell])
        .collect();
    let n_land = merged.len();
    let vars = all_vars();
    // Land-only arrays per variable and statistic, layer-major, cells in id (row-major) order.
    let n_blocks = if hist.members { n_members } else { 2 };
    // (var index, block, offset in the record, layers), variables outer, blocks inner.
    let mut slots: Vec<(usize, usize, usize, usize)> = Vec::new();
    let mut offset = 0;
    for (vi, v) in vars.iter().enumerate() {
        let layers = if v.layered { nl } else { 1 };
        for b in 0..n_blocks {
            slots.push((vi, b, b * w + offset, layers));
        }
        offset += layers;
    }
    // One pass over the records fills every land array.
    let mut land: Vec<Vec<f64>> = slots
        .iter()
        .map(|&(_, _, _, layers)| vec![0.0; n_land * layers])
        .collect();
    for (c, rec) in merged.iter().enumerate() {
        for (dst, &(_, _, o, layers)) in land.iter_mut().zip(&slots) {
            for l in 0..layers {
                dst[l * n_land + c] = rec[o + l];
            }
        }
    }
    let mut owned: Vec<(usize, usize, Vec<f64>)> = Vec::with_capacity(slots.len()); // (var index, block, full-grid data)
    for (data, &(vi, b, _, layers)) in land.iter().zip(&slots) {
        let full = hist.grid.expand_land(data, layers).ok_or_else(|| {
            CycleError::Invalid(format!(
                "history: {n_land} land cells gathered, grid mask has a different count"
            ))
        })?;
        owned.push((vi, b, full));
    }
    drop(land);
    let mut fields: Vec<HistoryField> = Vec::new();
    let mut member_data: Vec<(usize, Vec<f64>)> = Vec::new();
    if hist.members {
        // [member][layer][y][x] per variable.
        for (vi, _) in vars.iter().enumerate() {
            let mut d = Vec::new();
            for (v2, _, full) in &owned {
                if *v2 == vi {
                    d.extend_from_slice(full);
                }
            }
            member_data.push((vi, d));
        }
        for (vi, d) in &member_data {
            fields.push(field_of(&vars[*vi], EnsembleStat::Members, d));
        }
    } else {
        for (vi, b, full) in &owned {
            let stat = if *b == 0 {
                EnsembleStat::Mean
            } else {
                EnsembleStat::Spread
            };
            fields.push(field_of(&vars[*vi], stat, full));
        }
    }
    let time = HistoryTime {
        reference: hist.reference,
        start: valid - chrono::Duration::seconds(hist.interval_seconds),
        end: valid,
        units: TimeUnits::Hours,
    };
    let mut metadata = hist.metadata.clone();
    if hist.members {
        metadata.ensemble_size = n_members;
    }
    Ok(write_history_deferred(
        path,
        &HistoryWrite {
            grid: &hist.grid,
            time,
            soil_layer_thickness: &hist.layer_thickness,
            fields: &fields,
            metadata: &metadata,
            compression: hist.compression,
        },
    )?)
}

fn field_of<'a>(
    v: &super::history_vars::HistoryVar,
    stat: EnsembleStat,
    data: &'a [f64],
) -> HistoryField<'a> {
    HistoryField {
        name: v.name.to_string(),
        long_name: v.long_name.to_string(),
        units: v.units.to_string(),
        standard_name: v.standard_name.map(str::to_string),
        time_method: match v.sampling {
            Sampling::Point => TimeMethod::Point,
            Sampling::Mean => TimeMethod::Mean,
        },
        layered: v.layered,
        stat,
        data,
    }
}

/// Gather states and perturbation states to the root, which writes the restart atomically
/// and records the completed cycle.
#[allow(clippy::too_many_arguments)]
fn write_restart_output(
    comm: &dyn Communicator,
    model: &NoahLsm,
    ens: &CellEnsemble<NoahLsm>,
    fpert: Option<&Perturber>,
    spert: Option<&Perturber>,
    rundir: &RunDir,
    valid: NaiveDateTime,
    fingerprint: &str,
    keep: usize,
    writer: Option<&Writer>,
) -> Result<(), CycleError> {
    let n = ens.n_members;
    let state_width: usize = model.restart_fields().iter().map(|s| s.len).sum();
    let ids = comm.gatherv_u64(&ens.ids, 0);
    let states = comm.gatherv_f64_owned(ens.pack_states(model), 0);
    let fvals = comm.gatherv_f64(fpert.map(|p| p.state.as_slice()).unwrap_or_default(), 0);
    let svals = comm.gatherv_f64(spert.map(|p| p.state.as_slice()).unwrap_or_default(), 0);
    let (Some(ids), Some(states), Some(fvals), Some(svals)) = (ids, states, fvals, svals) else {
        return Ok(());
    };
    // Everything below runs on the root only, on the writer thread when there is one.
    let specs = model.restart_fields();
    let model_name = model.name().to_string();
    let groups: Vec<(&'static str, usize, i64, Vec<Vec<f64>>)> =
        [("forcing", fpert, fvals), ("soil_moisture", spert, svals)]
            .into_iter()
            .filter_map(|(name, p, vals)| {
                p.map(|p| (name, p.gen.n_vars(), p.state.time_index(), vals))
            })
            .collect();
    let rundir = rundir.clone();
    let fingerprint = fingerprint.to_string();
    let job: WriteJob = Box::new(move || {
        write_restart_file(
            &specs,
            model_name,
            n,
            state_width,
            ids,
            states,
            groups,
            rundir,
            valid,
            fingerprint,
            keep,
        )
    });
    match writer {
        Some(wr) => wr.submit(job),
        None => write_now(job),
    }
}

/// Merge gathered states by global id and write the restart under its temporary name (root
/// rank, possibly on the writer thread). The returned commit puts it in place, records the
/// completed cycle in state.json and prunes old restarts.
#[allow(clippy::too_many_arguments)]
fn write_restart_file(
    specs: &[crate::lsm::FieldSpec],
    model_name: String,
    n: usize,
    state_width: usize,
    ids: Vec<Vec<u64>>,
    states: Vec<Vec<f64>>,
    groups: Vec<(&'static str, usize, i64, Vec<Vec<f64>>)>,
    rundir: RunDir,
    valid: NaiveDateTime,
    fingerprint: String,
    keep: usize,
) -> Result<CommitJob, CycleError> {
    // Straight from the gathered blocks into the per-field layout `[cell][member][len]`,
    // cells in global id order (what merge_by_id + split would give, without the copies).
    let order = order_by_id(&ids);
    let cell_ids: Vec<u64> = order.iter().map(|&(id, _, _)| id).collect();
    for (r, (rank_ids, block)) in ids.iter().zip(&states).enumerate() {
        if block.len() != rank_ids.len() * n * state_width {
            return Err(CycleError::Invalid(format!(
                "rank {r} sent {} state values, expected {} cells × {n} members × {state_width}",
                block.len(),
                rank_ids.len()
            )));
        }
    }
    // One pass over the gathered states (a pass per field would stream them once per field).
    let mut model_fields: Vec<RestartField> = specs
        .iter()
        .map(|s| RestartField {
            name: s.name.to_string(),
            per_cell: s.len,
            values: Vec::with_capacity(cell_ids.len() * n * s.len),
        })
        .collect();
    for &(_, r, k) in &order {
        let cell = &states[r][k * n * state_width..(k + 1) * n * state_width];
        for member in cell.chunks_exact(state_width) {
            let mut off = 0;
            for (f, s) in model_fields.iter_mut().zip(specs) {
                f.values.extend_from_slice(&member[off..off + s.len]);
                off += s.len;
            }
        }
    }
    drop(states);
    let mut perturbation_fields = Vec::new();
    let mut attributes = std::collections::BTreeMap::new();
    attributes.insert(
        "landcycle_version".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    );
    for (name, nv, time_index, vals) in &groups {
        let w = n * nv;
        let mut values = Vec::with_capacity(cell_ids.len() * w);
        for &(_, r, k) in &order {
            let block = vals[r].get(k * w..(k + 1) * w).ok_or_else(|| {
                CycleError::Invalid(format!(
                    "rank {r} sent {} {name} perturbation values, too few for its cells",
                    vals[r].len()
                ))
            })?;
            values.extend_from_slice(block);
        }
        perturbation_fields.push(RestartField {
            name: name.to_string(),
            per_cell: *nv,
            values,
        });
        attributes.insert(
            format!("perturbation_{name}_time_index"),
            time_index.to_string(),
        );
    }
    let data = RestartData {
        valid_time: valid,
        config_fingerprint: fingerprint.to_string(),
        model_name,
        n_members: n,
        cell_ids,
        model_fields,
        perturbation_fields,
        attributes,
    };
    let path = rundir
        .cycle_dir(valid, "restart")
        .join(restart_file_name(valid));
    let pending = write_restart_deferred(&path, &data)?;
    drop(data);
    Ok(Box::new(move || {
        pending.commit()?;
        rundir.write_state(&RunState {
            last_completed_cycle: crate::time::cycle_label(valid),
            restart: path,
            config_fingerprint: fingerprint,
        })?;
        rundir.prune_restarts(keep, valid, restart_file_name);
        Ok(())
    }))
}

/// Read this rank's cells from a restart (verified once on the root).
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn read_initial_restart(
    path: &Path,
    comm: &dyn Communicator,
    model: &NoahLsm,
    ids: &[u64],
    n_members: usize,
    fingerprint: &str,
    fgen: Option<&PerturbGenerator>,
    sgen: Option<&PerturbGenerator>,
) -> Result<
    (
        NaiveDateTime,
        Vec<<NoahLsm as LandModel>::State>,
        Option<PerturbState>,
        Option<PerturbState>,
    ),
    CycleError,
> {
    let verified = if comm.rank() == 0 {
        verify_restart(path)
            .map_err(CycleError::from)
            .and_then(|info| {
                check_fingerprint(path, &info.config_fingerprint, fingerprint)?;
                Ok(())
            })
    } else {
        Ok(())
    };
    agree(comm, verified)?;
    let d = read_restart_cells(path, ids)?;
    check_fingerprint(path, &d.config_fingerprint, fingerprint)?;
    if d.model_name != model.name() {
        return Err(CycleError::Invalid(format!(
            "restart {} was written by model {}, this run uses {}",
            path.display(),
            d.model_name,
            model.name()
        )));
    }
    if d.n_members != n_members {
        return Err(CycleError::Invalid(format!(
            "restart {} has {} members, run:ensemble_size is {n_members}",
            path.display(),
            d.n_members
        )));
    }
    let specs = model.restart_fields();
    let mut states = Vec::with_capacity(ids.len() * n_members);
    let mut buf = Vec::new();
    for k in 0..ids.len() * n_members {
        buf.clear();
        for s in &specs {
            let f = d
                .model_fields
                .iter()
                .find(|f| f.name == s.name)
                .ok_or_else(|| {
                    CycleError::Invalid(format!(
                        "restart {}: model field {} is missing",
                        path.display(),
                        s.name
                    ))
                })?;
            if f.per_cell != s.len {
                return Err(CycleError::Invalid(format!(
                    "restart {}: field {} has {} values per member, expected {}",
                    path.display(),
                    s.name,
                    f.per_cell,
                    s.len
                )));
            }
            buf.extend_from_slice(&f.values[k * s.len..(k + 1) * s.len]);
        }
        let st = model
            .unpack_state(&buf)
            .map_err(|source| CycleError::Cell {
                cell_id: ids[k / n_members],
                source,
            })?;
        states.push(st);
    }
    let pert =
        |gen: Option<&PerturbGenerator>, name: &str| -> Result<Option<PerturbState>, CycleError> {
            let Some(g) = gen else { return Ok(None) };
            let f = d
                .perturbation_fields
                .iter()
                .find(|f| f.name == name)
                .ok_or_else(|| {
                    CycleError::Invalid(format!(
                        "restart {}: perturbation state {name} is missing",
                        path.display()
                    ))
                })?;
            let ti: i64 = d
                .attributes
                .get(&format!("perturbation_{name}_time_index"))
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| {
                    CycleError::Invalid(format!(
                        "restart {}: attribute perturbation_{name}_time_index missing",
                        path.display()
                    ))
                })?;
            Ok(Some(PerturbState::from_packed(
                ids.to_vec(),
                n_members,
                g.n_vars(),
                ti,
                &f.values,
            )?))
        };
    let fs = pert(fgen, "forcing")?;
    let ss = pert(sgen, "soil_moisture")?;
    Ok((d.valid_time, states, fs, ss))
}

/// Peak resident set size of this process (kB), from /proc/self/status.
/// CPU time (user + system, s) used so far by all threads of this process, from
/// /proc/self/stat (Linux; clock ticks of 1/100 s). `None` elsewhere.
pub fn process_cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

pub fn peak_rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}
