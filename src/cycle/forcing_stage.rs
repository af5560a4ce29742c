//! The forcing stage: this rank's cells' forcing for each step, with the next step's record
//! read ahead during the physics. The source is the coupler mode's (`&coupler`): the data
//! files of `&forcing` (remapped by the built-in bilinear/nearest interpolation, or through
//! `a2l_weights` from an atmosphere grid), or the exchange directory. At each window start
//! the root waits for and verifies an exchange delivery before any rank reads it.

use std::sync::Arc;

use chrono::NaiveDateTime;

use super::error::{agree, CycleError};
use crate::config::{Config, CouplerMode, ForcingVariable, Remap};
use crate::coupler::wrf::{WrfForcing, WrfSource};
use crate::coupler::{
    accept_delivery, exchange_spec, AtmToLand, ExchangeRecords, ExchangeSettings,
    WeightedFileRecords,
};
use crate::forcing::{ForcingReader, ForcingSpec, ForcingVariables, RecordSource, VariableSpec};
use crate::grid::remap::RemapMethod;
use crate::grid::weights::WeightMatrix;
use crate::grid::Grid;
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

/// This rank's cells (global ids and (lat, lon)) on the land grid.
pub(super) struct RankCells<'a> {
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
}

/// The reader of the configured mode for `targets`.
fn reader(cfg: &Config, rc: &RankCells<'_>) -> Result<ForcingReader, CycleError> {
    if cfg.coupler.mode == CouplerMode::Wrf {
        return wrf_reader(cfg, rc);
    }
    let targets: Vec<(f64, f64)> = rc.cells.iter().map(|s| (s.latitude, s.longitude)).collect();
    let spec = forcing_spec(cfg);
    let k = &cfg.coupler;
    let Some(wpath) = &k.a2l_weights else {
        return Ok(ForcingReader::new(spec, &targets)?);
    };
    let weights = WeightMatrix::read(wpath).map_err(|e| CycleError::Invalid(e.to_string()))?;
    weights
        .check_destination(rc.grid)
        .map_err(|e| CycleError::Invalid(e.to_string()))?;
    let targets = Arc::new(targets);
    let remap = AtmToLand::new(&weights, rc.ids, Arc::clone(&targets))
        .map_err(|e| CycleError::Invalid(e.to_string()))?;
    let remap = Arc::new(remap);
    let (spec, src): (ForcingSpec, Box<dyn RecordSource>) = match k.mode {
        CouplerMode::Exchange => {
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
        let exchange = (k.mode == CouplerMode::Exchange).then(|| ExchangeSettings {
            root: k.directory.clone(),
            deadline: std::time::Duration::from_secs(u64::from(k.deadline_seconds)),
            poll: std::time::Duration::from_millis(u64::from(k.poll_milliseconds)),
            interval_seconds: i64::from(cfg.forcing.interval_hours) * 3600,
            window_seconds: cfg.run.window_seconds(),
        });
        let reader = if rc.cells.is_empty() {
            None
        } else {
            Some(reader(cfg, rc)?)
        };
        Ok(ForcingStage {
            reader,
            exchange,
            issuing_cycle: None,
        })
    }

    /// The next window reads the atmosphere cycle of land cycle `cycle` (`None`: its own).
    pub(super) fn set_issuing_cycle(&mut self, cycle: Option<NaiveDateTime>) {
        self.issuing_cycle = cycle;
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
