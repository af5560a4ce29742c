//! The restart stage: at the end of a window every rank writes its share of one restart file
//! (cells by global id, so any rank count can read it; see `restart_io`), then the root
//! commits it, records the completed cycle in `state.json` and prunes old restarts, in that
//! order, through the run's output policy.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;

use std::path::{Path, PathBuf};

use super::ensemble::CellEnsemble;
use super::error::CycleError;
use super::perturber::Perturber;
use super::restart_io::{begin_restart_collective, IoPlan, RestartInFlight, RestartSource};
use super::rundir::{RunDir, RunState};
use crate::grid::Grid;
use crate::io::atomic::{temp_path_for, PendingFile};
use crate::io::restart_meta::{FieldMeta, RestartMeta};
use crate::io::restart_writer::RestartLayout;
use crate::io::writer::{CommitJob, Output};
use crate::lsm::LandModel;
use crate::parallel::Communicator;

/// What runs on the root between a cycle's restart commit and its `state.json` record.
pub type CycleCommit =
    std::sync::Arc<dyn Fn(NaiveDateTime) -> Result<(), CycleError> + Send + Sync>;

/// The restart stage.
pub(super) struct RestartOutput {
    rundir: RunDir,
    fingerprint: String,
    /// Restarts to keep (0 = all).
    keep: usize,
    /// The cycle record's commit (`landcycle nrt`), if any.
    on_commit: Option<CycleCommit>,
    /// The model grid: the restart's cell coordinates (format version 3).
    grid: Grid,
}

impl RestartOutput {
    pub(super) fn new(rundir: RunDir, fingerprint: &str, keep: usize, grid: &Grid) -> Self {
        RestartOutput {
            rundir,
            fingerprint: fingerprint.to_string(),
            keep,
            on_commit: None,
            grid: grid.clone(),
        }
    }

    pub(super) fn set_cycle_commit(&mut self, hook: Option<CycleCommit>) {
        self.on_commit = hook;
    }

    /// Start the restart of `valid`: every rank exchanges its share of one file under a
    /// temporary name and queues its rows for writing (collective): the rows are copied, so
    /// the state may change afterwards. [`Self::finish`] completes the file.
    pub(super) fn begin<M: LandModel>(
        &self,
        comm: &dyn Communicator,
        (model, ens): (&M, &CellEnsemble<M>),
        perturbers: [Option<&Perturber>; 2],
        valid: NaiveDateTime,
    ) -> Result<PendingRestart, CycleError> {
        let plan = IoPlan::new(comm, ens.ids());
        let mut layout = self.layout(model, ens.n_members(), perturbers, plan.n_cells(), valid);
        layout.meta = Some(self.meta(model, perturbers, &plan.ids())?);
        let path = self.rundir.restart_path(valid);
        let tmp = agreed_temp_path(comm, &path)?;
        let src = RestartSource {
            model,
            ens,
            perturbers: perturbers.into_iter().flatten().collect(),
        };
        let mut pending = PendingRestart {
            flight: None,
            tmp: comm.is_root().then(|| tmp.clone()),
            path: path.clone(),
            valid,
        };
        pending.flight = Some(begin_restart_collective(
            comm,
            &plan,
            &layout,
            &src,
            (&tmp, &path),
        )?);
        Ok(pending)
    }

    /// Complete the restart `pending` (collective), then the root queues its commit behind
    /// the run's earlier output, so the cycle is recorded only once its history is in place.
    pub(super) fn finish(
        &self,
        comm: &dyn Communicator,
        mut pending: PendingRestart,
        output: Option<&Output<CycleError>>,
    ) -> Result<(), CycleError> {
        let written = match pending.flight.take() {
            Some(f) => f.finish(comm),
            None => Err(CycleError::Invalid("restart finished twice".into())),
        };
        let tmp = pending.tmp.take();
        let (Some(output), Some(tmp)) = (output, tmp) else {
            return written;
        };
        // The root owns the temporary file: adopting it removes it again on any failure.
        let file = PendingFile::adopt(tmp, &pending.path)?;
        written?;
        let commit = self.commit_job(file, pending.valid);
        output.submit(Box::new(move || Ok(commit)))
    }

    /// What every rank knows of the file before writing: names, shapes, attributes.
    fn layout<M: LandModel>(
        &self,
        model: &M,
        n_members: usize,
        perturbers: [Option<&Perturber>; 2],
        n_cells: usize,
        valid: NaiveDateTime,
    ) -> RestartLayout {
        let mut attributes = BTreeMap::new();
        attributes.insert(
            "landcycle_version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        );
        let mut pert_fields = Vec::new();
        for (name, p) in ["forcing", "soil_moisture"].into_iter().zip(perturbers) {
            let Some(p) = p else { continue };
            pert_fields.push((name.to_string(), p.gen.n_vars()));
            attributes.insert(
                format!("perturbation_{name}_time_index"),
                p.state.time_index().to_string(),
            );
        }
        let model_fields = model
            .restart_fields()
            .iter()
            .map(|f| (f.name.to_string(), f.len))
            .collect();
        RestartLayout {
            valid_time: valid,
            config_fingerprint: self.fingerprint.clone(),
            model_name: model.name().to_string(),
            n_members,
            n_cells,
            fields: [model_fields, pert_fields],
            attributes,
            meta: None,
        }
    }

    /// Units, names and coordinates of the restart of the cells `ids` (file order).
    fn meta<M: LandModel>(
        &self,
        model: &M,
        perturbers: [Option<&Perturber>; 2],
        ids: &[u64],
    ) -> Result<RestartMeta, CycleError> {
        let g = &self.grid;
        let mut lat = Vec::with_capacity(ids.len());
        let mut lon = Vec::with_capacity(ids.len());
        for &id in ids {
            let (j, i) = g.index_of(id)?;
            lat.push(g.lat(j, i));
            lon.push(g.lon(j, i));
        }
        let model_meta = model
            .restart_fields()
            .iter()
            .map(|f| FieldMeta {
                units: f.units.to_string(),
                long_name: f.long_name.to_string(),
            })
            .collect();
        let pert_meta = ["forcing", "soil_moisture"]
            .into_iter()
            .zip(perturbers)
            .filter(|(_, p)| p.is_some())
            .map(|(name, _)| FieldMeta {
                units: "1".to_string(),
                long_name: format!(
                    "AR(1) state of the {} perturbation, one per perturbed variable",
                    name.replace('_', " ")
                ),
            })
            .collect();
        Ok(RestartMeta {
            fields: [model_meta, pert_meta],
            grid_shape: Some(g.dims()),
            regular_axes: g
                .lat_1d()
                .zip(g.lon_1d())
                .map(|(a, b)| (a.to_vec(), b.to_vec())),
            lat,
            lon,
            soil_layer_thickness: model.soil_layer_thickness().to_vec(),
        })
    }

    /// Put the restart in place, record the completed cycle (cycle record, then
    /// `state.json`) and prune old restarts, in that order.
    fn commit_job(&self, pending: PendingFile, valid: NaiveDateTime) -> CommitJob<CycleError> {
        let (rundir, fingerprint, keep) =
            (self.rundir.clone(), self.fingerprint.clone(), self.keep);
        let on_commit = self.on_commit.clone();
        let path = pending.final_path().to_path_buf();
        Box::new(move || {
            pending.commit()?;
            crate::io::crash::point("after_restart_commit", Some(&path));
            if let Some(hook) = on_commit {
                hook(valid)?;
            }
            crate::io::crash::point("after_cycle_record", Some(&path));
            rundir.write_state(&RunState {
                last_completed_cycle: crate::time::cycle_label(valid),
                restart: path,
                config_fingerprint: fingerprint,
            })?;
            rundir.prune_restarts(keep, valid);
            Ok(())
        })
    }
}

/// The root's temporary name for `path`, known to every rank.
pub(super) fn agreed_temp_path(
    comm: &dyn Communicator,
    path: &Path,
) -> Result<PathBuf, CycleError> {
    let mut buf = if comm.is_root() {
        temp_path_for(path)
            .to_string_lossy()
            .into_owned()
            .into_bytes()
    } else {
        Vec::new()
    };
    comm.broadcast_bytes(&mut buf, 0);
    String::from_utf8(buf).map(PathBuf::from).map_err(|_| {
        CycleError::Invalid(format!("temporary name of {} is not UTF-8", path.display()))
    })
}

/// A restart begun by [`RestartOutput::begin`]. Dropped unfinished (an agreed failure in
/// between), its file is closed on every rank and the root removes the temporary file.
pub(super) struct PendingRestart {
    flight: Option<RestartInFlight>,
    /// The temporary file, on the root.
    tmp: Option<PathBuf>,
    path: PathBuf,
    valid: NaiveDateTime,
}

impl Drop for PendingRestart {
    fn drop(&mut self) {
        // The file closes (collective) before it is removed.
        drop(self.flight.take());
        if let Some(tmp) = self.tmp.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}
