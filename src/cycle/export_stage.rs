//! The export stage: at the export time (the window end + `coupler:export_offset_hours`,
//! after that step's analyses and history) every rank takes the ensemble mean of its cells' exchange states, the root
//! gathers them by global id as f32 [`LandFields`] and hands them to the mode's
//! [`LandExport`] through the run's output policy (the background writer, in order with the
//! history files), so the physics of the next steps runs while the export is written.
//! Only reads the ensemble.

use std::sync::{Arc, Mutex};

use chrono::{Duration, NaiveDateTime};

use super::ensemble::CellEnsemble;
use super::error::CycleError;
use crate::config::{Config, CouplerMode};
use crate::coupler::mpmd::{send_export, MpmdSettings};
use crate::coupler::wrf_export::WrfExport;
use crate::coupler::{ExchangeExport, LandExport, LandFields, LandToAtm};
use crate::grid::weights::WeightMatrix;
use crate::grid::Grid;
use crate::io::writer::{CommitJob, Output, WriteJob};
use crate::lsm::LandModel;
use crate::parallel::{merge_by_id, Communicator};

/// The export of a run (`None` in `ExportStage::exporter` on other ranks than the root).
pub(super) struct ExportStage {
    /// Whether the run exports at all (the same on every rank).
    active: bool,
    offset: Duration,
    grid_dims: (usize, usize),
    exporter: Option<Arc<Mutex<Box<dyn LandExport>>>>,
    /// Mode 'mpmd' (root): the export is sent to the atmosphere on this thread, not on the
    /// output writer, because MPI is initialised for one thread (MPI_THREAD_SINGLE).
    mpmd: Option<(MpmdSettings, LandToAtm)>,
}

/// Mode 'mpmd': the land → atmosphere weights and the root's waits.
fn mpmd_export(cfg: &Config, grid: &Grid) -> Result<(MpmdSettings, LandToAtm), CycleError> {
    let k = &cfg.coupler;
    let p = k.l2a_weights.as_ref().ok_or_else(|| {
        CycleError::Invalid("coupler:export in mode 'mpmd' needs l2a_weights".into())
    })?;
    let w = WeightMatrix::read(p).map_err(|e| CycleError::Invalid(e.to_string()))?;
    w.check_source(grid)
        .map_err(|e| CycleError::Invalid(e.to_string()))?;
    let settings = MpmdSettings {
        deadline: std::time::Duration::from_secs(u64::from(k.deadline_seconds)),
        poll: std::time::Duration::from_millis(u64::from(k.poll_milliseconds)),
        interval_seconds: i64::from(cfg.forcing.interval_hours) * 3600,
        window_seconds: cfg.run.window_seconds(),
    };
    Ok((settings, LandToAtm::new(&w)))
}

/// The exporter of the configured mode (root only).
fn exporter(cfg: &Config, grid: &Grid) -> Result<Box<dyn LandExport>, CycleError> {
    let k = &cfg.coupler;
    match (k.mode, &k.l2a_weights) {
        (CouplerMode::Exchange, Some(p)) => {
            let w = WeightMatrix::read(p).map_err(|e| CycleError::Invalid(e.to_string()))?;
            w.check_source(grid)
                .map_err(|e| CycleError::Invalid(e.to_string()))?;
            Ok(Box::new(ExchangeExport::new(
                k.directory.clone(),
                &w,
                cfg.run.window_seconds(),
            )))
        }
        (CouplerMode::Wrf, _) => match (&k.wrfinput_in, &k.wrfinput_out) {
            (Some(input), Some(output)) => Ok(Box::new(WrfExport::new(input, output))),
            _ => Err(CycleError::Invalid(
                "coupler:export in mode 'wrf' needs wrfinput_in and wrfinput_out".into(),
            )),
        },
        (mode, _) => Err(CycleError::Invalid(format!(
            "coupler:export: mode '{}' has no land export in this version",
            mode.name()
        ))),
    }
}

impl ExportStage {
    pub(super) fn new(cfg: &Config, grid: &Grid, root: bool) -> Result<Self, CycleError> {
        let active = cfg.coupler.export;
        let is_mpmd = cfg.coupler.mode == CouplerMode::Mpmd;
        let mpmd = (active && root && is_mpmd)
            .then(|| mpmd_export(cfg, grid))
            .transpose()?;
        let exporter = (active && root && !is_mpmd)
            .then(|| exporter(cfg, grid))
            .transpose()?
            .map(|e| Arc::new(Mutex::new(e)));
        Ok(ExportStage {
            active,
            offset: Duration::hours(i64::from(cfg.coupler.export_offset_hours)),
            grid_dims: (grid.nx(), grid.ny()),
            exporter,
            mpmd,
        })
    }

    /// Whether the step ending at `t1` of the window ending at `end` is the export time.
    pub(super) fn due(&self, end: NaiveDateTime, t1: NaiveDateTime) -> bool {
        self.active && t1 == end + self.offset
    }

    /// Gather the ensemble means and submit their export at `t` to `output` (root).
    /// Collective.
    pub(super) fn run<M: LandModel>(
        &mut self,
        comm: &dyn Communicator,
        (model, ens): (&M, &CellEnsemble<M>),
        t: NaiveDateTime,
        output: Option<&Output<CycleError>>,
    ) -> Result<(), CycleError> {
        let nl = model.n_soil_layers();
        let width = 3 * nl + 4;
        let local = cell_means(model, ens, width);
        let ids = comm.gatherv_u64(ens.ids(), 0);
        let vals = comm.gatherv_f64_owned(local, 0);
        if let (Some(ids), Some(vals), Some((settings, l2a))) = (&ids, &vals, &self.mpmd) {
            let merged = merge_by_id(ids, vals, width);
            let fields = land_fields(&merged, nl, self.grid_dims, model.soil_layer_thickness());
            let peer = comm
                .mpmd_peer()
                .ok_or_else(|| CycleError::Invalid(super::forcing_stage::NO_PEER.into()))?;
            let end = t - self.offset;
            let ack = send_export(&peer, settings, l2a, (end, t), &fields)
                .map_err(|e| CycleError::Invalid(format!("land export at {t}: {e}")))?;
            tracing::info!(cycle = %end, cells_with_land = ack.cells_with_land, "export acknowledged by the atmosphere");
            return Ok(());
        }
        let (Some(ids), Some(vals), Some(exporter), Some(output)) =
            (ids, vals, self.exporter.as_ref(), output)
        else {
            return Ok(());
        };
        let merged = merge_by_id(&ids, &vals, width);
        let fields = land_fields(&merged, nl, self.grid_dims, model.soil_layer_thickness());
        let exporter = Arc::clone(exporter);
        let job: WriteJob<CycleError> = Box::new(move || {
            let mut e = exporter.lock().map_err(|_| {
                CycleError::Invalid("land export: an earlier export panicked".into())
            })?;
            e.export(t, &fields)
                .map_err(|e| CycleError::Invalid(format!("land export at {t}: {e}")))?;
            // Test-only: the export (READY last) is published, the restart not yet written.
            crate::io::crash::point("after_export_ready", None);
            // The exporter commits its own files (READY last).
            let commit: CommitJob<CycleError> = Box::new(|| Ok(()));
            Ok(commit)
        });
        output.submit(job)
    }
}

/// Per cell: the member means (summed in member order) of soil moisture, liquid water and
/// temperature per layer, then skin temperature, SWE, snow depth and canopy water.
fn cell_means<M: LandModel>(model: &M, ens: &CellEnsemble<M>, width: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(ens.n_cells() * width);
    for c in 0..ens.n_cells() {
        let members = ens.members(c);
        let mut sum = vec![0.0; width];
        for st in members {
            let v = model
                .soil_moisture(st)
                .into_iter()
                .chain(model.soil_liquid(st))
                .chain(model.soil_temperature(st))
                .chain([
                    model.skin_temperature(st),
                    model.swe(st),
                    model.snow_depth(st),
                    model.canopy_water(st),
                ]);
            for (s, x) in sum.iter_mut().zip(v) {
                *s += x;
            }
        }
        let n = members.len() as f64;
        out.extend(sum.into_iter().map(|s| s / n));
    }
    out
}

/// The gathered means as f32 fields in global-id order.
fn land_fields(
    merged: &[(u64, Vec<f64>)],
    nl: usize,
    grid_dims: (usize, usize),
    dz: &[f64],
) -> LandFields {
    let pick = |range: std::ops::Range<usize>| -> Vec<f32> {
        merged
            .iter()
            .flat_map(|(_, v)| v[range.clone()].iter().map(|&x| x as f32))
            .collect()
    };
    let s = 3 * nl;
    LandFields {
        grid_dims,
        ids: merged.iter().map(|(id, _)| *id).collect(),
        layer_thickness: dz.to_vec(),
        soil_moisture: pick(0..nl),
        soil_liquid: pick(nl..2 * nl),
        soil_temperature: pick(2 * nl..s),
        skin_temperature: pick(s..s + 1),
        swe: pick(s + 1..s + 2),
        snow_depth: pick(s + 2..s + 3),
        canopy_water: pick(s + 3..s + 4),
    }
}
