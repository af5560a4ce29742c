//! The forcing stage: this rank's cells' forcing for each step, with the next step's record
//! read ahead during the physics. The source is the coupler mode's (`&coupler`): the data
//! files of `&forcing` (remapped by the built-in bilinear/nearest interpolation, or through
//! `a2l_weights` from an atmosphere grid), or the exchange directory. At each window start
//! the root waits for and verifies an exchange delivery before any rank reads it.

use std::sync::Arc;

use chrono::NaiveDateTime;

use super::error::{agree, CycleError};
use crate::config::{Config, CouplerMode, ForcingVariable, Remap};
use crate::coupler::mpmd::{
    request_window, MpmdRecords, MpmdSettings, SharedWindow, WindowForcing,
};
use crate::coupler::wrf::{WrfForcing, WrfSource};
use crate::coupler::{
    accept_delivery, exchange_spec, AtmToLand, ExchangeRecords, ExchangeSettings,
    WeightedFileRecords,
};
use crate::forcing::{ForcingReader, ForcingSpec, ForcingVariables, RecordSource, VariableSpec};
use crate::grid::remap::RemapMethod;
use crate::grid::weights::WeightMatrix;
use crate::grid::Grid;
use crate::io::weights::GridCells;
use crate::io::wrf_out::WrfOutFiles;
use crate::lsm::{CellStatics, Forcing};
use crate::parallel::Communicator;

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
    spec.source_cycle_offset_hours = i64::from(cfg.coupler.source_cycle_offset_hours);
    spec
}

/// What a land root says when mode 'mpmd' runs without an atmosphere beside it.
pub(super) const NO_PEER: &str = "coupler:mode = 'mpmd' but this run has no atmosphere in its \
    MPI launch: start both in one mpirun, e.g. `mpirun -n 2 landcycle run lc.nml : -n 1 \
    landcycle atm replay lc.nml --mpmd` (docs/coupling.md)";

/// This rank's cells (global ids and (lat, lon)) on the land grid.
pub(super) struct RankCells<'a> {
    /// Whether this is the land root.
    pub root: bool,
    pub grid: &'a Grid,
    pub ids: &'a [u64],
    pub cells: &'a [CellStatics],
}

/// The forcing of this rank's cells (none on a rank without land cells).
pub(super) struct ForcingStage {
    reader: Option<ForcingReader>,
    /// Mode 'exchange': where the root looks for each cycle's delivery.
    exchange: Option<ExchangeSettings>,
    /// A forecast archive's fallback (`landcycle nrt`, `on_missing_forcing =
    /// 'previous_cycle'`): the next window reads the atmosphere cycle that forces the land
    /// cycle ending at this time, an earlier one than its own.
    issuing_cycle: Option<NaiveDateTime>,
    /// Mode 'mpmd': how the root waits for the atmosphere, and the window every rank's
    /// record source reads.
    mpmd: Option<MpmdLand>,
}

/// Mode 'mpmd' on a land rank.
struct MpmdLand {
    settings: MpmdSettings,
    window: SharedWindow,
    /// The a→l weights' source grid, which the atmosphere's centres must match (root).
    source: Option<GridCells>,
}

/// The weights of `coupler:a2l_weights`, checked against the land grid.
fn a2l_weights(cfg: &Config, grid: &Grid) -> Result<Option<WeightMatrix>, CycleError> {
    let Some(wpath) = &cfg.coupler.a2l_weights else {
        return Ok(None);
    };
    let weights = WeightMatrix::read(wpath).map_err(|e| CycleError::Invalid(e.to_string()))?;
    weights
        .check_destination(grid)
        .map_err(|e| CycleError::Invalid(e.to_string()))?;
    Ok(Some(weights))
}

/// The reader of the configured mode for `targets` (`window`: mode 'mpmd').
fn reader(
    cfg: &Config,
    rc: &RankCells<'_>,
    window: Option<&SharedWindow>,
) -> Result<ForcingReader, CycleError> {
    if cfg.coupler.mode == CouplerMode::Wrf {
        return wrf_reader(cfg, rc);
    }
    let targets: Vec<(f64, f64)> = rc.cells.iter().map(|s| (s.latitude, s.longitude)).collect();
    let spec = forcing_spec(cfg);
    let k = &cfg.coupler;
    let Some(weights) = a2l_weights(cfg, rc.grid)? else {
        return Ok(ForcingReader::new(spec, &targets)?);
    };
    let targets = Arc::new(targets);
    let remap = AtmToLand::new(&weights, rc.ids, Arc::clone(&targets))
        .map_err(|e| CycleError::Invalid(e.to_string()))?;
    let remap = Arc::new(remap);
    let (spec, src): (ForcingSpec, Box<dyn RecordSource>) = match (k.mode, window) {
        (CouplerMode::Mpmd, Some(w)) => {
            let spec = Arc::new(exchange_spec(&spec));
            let src = MpmdRecords::new(Arc::clone(&spec), remap, Arc::clone(w));
            ((*spec).clone(), Box::new(src))
        }
        (CouplerMode::Exchange, _) => {
            let spec = Arc::new(exchange_spec(&spec));
            let src = ExchangeRecords::new(k.directory.clone(), Arc::clone(&spec), remap);
            ((*spec).clone(), Box::new(src))
        }
        _ => {
            let spec = Arc::new(spec);
            let src = WeightedFileRecords::new(Arc::clone(&spec), remap);
            ((*spec).clone(), Box::new(src))
        }
    };
    Ok(ForcingReader::with_source(Arc::new(spec), targets, src)?)
}

/// Mode 'wrf': the `wrfout` files on the WRF domain, this rank's cells by global id.
fn wrf_reader(cfg: &Config, rc: &RankCells<'_>) -> Result<ForcingReader, CycleError> {
    let k = &cfg.coupler;
    let forcing = WrfForcing {
        files: WrfOutFiles {
            directory: k.directory.clone(),
            template: k.wrfout_template.clone(),
        },
        interval_seconds: i64::from(k.wrf_interval_minutes) * 60,
        bucket_mm: k.wrf_bucket_mm,
        forcing_height: cfg.forcing.forcing_height,
    };
    let spec = Arc::new(forcing.forcing_spec());
    let src = WrfSource::new(forcing, rc.grid, rc.ids)?;
    let targets = Arc::new(src.target_points());
    Ok(ForcingReader::with_source(spec, targets, Box::new(src))?)
}

impl ForcingStage {
    pub(super) fn new(cfg: &Config, rc: &RankCells<'_>) -> Result<Self, CycleError> {
        let k = &cfg.coupler;
        // The a→l weights' source grid, against which the root checks every delivery.
        let source = match (rc.root, k.mode) {
            (true, CouplerMode::Exchange | CouplerMode::Mpmd) => {
                a2l_weights(cfg, rc.grid)?.map(|w| w.source().clone())
            }
            _ => None,
        };
        let exchange = (k.mode == CouplerMode::Exchange).then(|| ExchangeSettings {
            root: k.directory.clone(),
            deadline: std::time::Duration::from_secs(u64::from(k.deadline_seconds)),
            poll: std::time::Duration::from_millis(u64::from(k.poll_milliseconds)),
            interval_seconds: i64::from(cfg.forcing.interval_hours) * 3600,
            window_seconds: cfg.run.window_seconds(),
            source: source.clone(),
        });
        let mpmd = if k.mode == CouplerMode::Mpmd {
            Some(MpmdLand {
                settings: MpmdSettings {
                    deadline: std::time::Duration::from_secs(u64::from(k.deadline_seconds)),
                    poll: std::time::Duration::from_millis(u64::from(k.poll_milliseconds)),
                    interval_seconds: i64::from(cfg.forcing.interval_hours) * 3600,
                    window_seconds: cfg.run.window_seconds(),
                },
                window: SharedWindow::default(),
                source,
            })
        } else {
            None
        };
        let reader = if rc.cells.is_empty() {
            None
        } else {
            Some(reader(cfg, rc, mpmd.as_ref().map(|m| &m.window))?)
        };
        Ok(ForcingStage {
            reader,
            exchange,
            issuing_cycle: None,
            mpmd,
        })
    }

    /// The next window reads the atmosphere cycle of land cycle `cycle` (`None`: its own).
    pub(super) fn set_issuing_cycle(&mut self, cycle: Option<NaiveDateTime>) {
        self.issuing_cycle = cycle;
    }

    /// Mode 'mpmd': the root asks the atmosphere for the window's records and checks them,
    /// then broadcasts them to every land rank, which keeps them for its record source.
    /// Collective.
    fn receive_window(
        &self,
        comm: &dyn Communicator,
        end: NaiveDateTime,
    ) -> Result<(), CycleError> {
        let Some(m) = &self.mpmd else {
            return Ok(());
        };
        let got = match (comm.rank(), comm.mpmd_peer(), &m.source) {
            (0, Some(peer), Some(source)) => request_window(&peer, &m.settings, end, source)
                .map(|rec| rec.encode())
                .map_err(|e| CycleError::Invalid(e.to_string())),
            (0, None, _) => Err(CycleError::Invalid(NO_PEER.into())),
            (0, _, None) => Err(CycleError::Invalid(
                "coupler:mode 'mpmd' needs coupler:a2l_weights".into(),
            )),
            _ => Ok(Vec::new()),
        };
        let mut bytes = agree(comm, got)?;
        comm.broadcast_bytes(&mut bytes, 0);
        let w = WindowForcing::decode(&bytes).map_err(|e| CycleError::Invalid(e.to_string()));
        let w = agree(comm, w)?;
        *m.window
            .write()
            .map_err(|_| CycleError::Invalid("the MPMD window lock is poisoned".into()))? =
            Some(Arc::new(w));
        Ok(())
    }

    /// The window ending at `end` starts: in mode 'exchange' the root waits for the
    /// atmosphere's delivery and verifies it (agreed), then every reader turns to it.
    /// Collective.
    pub(super) fn begin_window(
        &mut self,
        comm: &dyn Communicator,
        end: NaiveDateTime,
    ) -> Result<(), CycleError> {
        let accepted = match (&self.exchange, comm.rank()) {
            (Some(s), 0) => accept_delivery(s, end)
                .map(|hash| tracing::info!(cycle = %end, manifest = %hash, "atmosphere delivery accepted"))
                .map_err(|e| CycleError::Invalid(format!("exchange: {e}"))),
            _ => Ok(()),
        };
        agree(comm, accepted)?;
        self.receive_window(comm, end)?;
        // A forecast archive's file names depend only on the issuing cycle: reading an
        // earlier one is beginning the window as that land cycle.
        let issuing = self.issuing_cycle.unwrap_or(end);
        let r = match self.reader.as_mut() {
            Some(reader) => reader.begin_window(issuing).map_err(CycleError::from),
            None => Ok(()),
        };
        agree(comm, r)
    }

    /// The unperturbed forcing of step (t0, t1] per cell, and a read ahead of the files of
    /// step `next` (if it needs a new one) while this step's physics runs. `None` on a rank
    /// without cells.
    pub(super) fn forcing(
        &mut self,
        (t0, t1): (NaiveDateTime, NaiveDateTime),
        next: Option<(NaiveDateTime, NaiveDateTime)>,
    ) -> Result<Option<Vec<Forcing>>, CycleError> {
        let Some(reader) = self.reader.as_mut() else {
            return Ok(None);
        };
        let base = reader.forcing_for_step(t0, t1);
        if let Some((n0, n1)) = next {
            reader.prefetch_step(n0, n1);
        }
        Ok(Some(base?))
    }
}
