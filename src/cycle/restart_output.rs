//! The restart stage: at the end of a window, gather every member's state and the
//! perturbation states to the root, write the restart (cells by global id, so any rank count
//! can read it), then commit it, record the completed cycle in `state.json` and prune old
//! restarts, in that order, through the run's output policy.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;

use super::ensemble::CellEnsemble;
use super::error::CycleError;
use super::perturber::Perturber;
use super::rundir::{RunDir, RunState};
use crate::io::restart::{write_restart_deferred, RestartData, RestartField};
use crate::io::writer::{CommitJob, Output, WriteJob};
use crate::lsm::{FieldSpec, LandModel};
use crate::parallel::{order_by_id, Communicator};

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
}

/// A perturbation group's gathered state: (name, variables, time index, blocks per rank).
type GroupBlocks = (&'static str, usize, i64, Vec<Vec<f64>>);

impl RestartOutput {
    pub(super) fn new(rundir: RunDir, fingerprint: &str, keep: usize) -> Self {
        RestartOutput {
            rundir,
            fingerprint: fingerprint.to_string(),
            keep,
            on_commit: None,
        }
    }

    pub(super) fn set_cycle_commit(&mut self, hook: Option<CycleCommit>) {
        self.on_commit = hook;
    }

    /// Gather states and perturbation states to the root, which writes the restart of
    /// `valid` (collective).
    pub(super) fn write<M: LandModel>(
        &self,
        comm: &dyn Communicator,
        (model, ens): (&M, &CellEnsemble<M>),
        perturbers: [Option<&Perturber>; 2],
        valid: NaiveDateTime,
        output: Option<&Output<CycleError>>,
    ) -> Result<(), CycleError> {
        let [fpert, spert] = perturbers;
        let ids = comm.gatherv_u64(ens.ids(), 0);
        let states = comm.gatherv_f64_owned(ens.pack_states(model), 0);
        let fvals = comm.gatherv_f64(fpert.map(|p| p.state.as_slice()).unwrap_or_default(), 0);
        let svals = comm.gatherv_f64(spert.map(|p| p.state.as_slice()).unwrap_or_default(), 0);
        let (Some(ids), Some(states), Some(fvals), Some(svals), Some(output)) =
            (ids, states, fvals, svals, output)
        else {
            return Ok(());
        };
        let groups: Vec<GroupBlocks> = [("forcing", fpert, fvals), ("soil_moisture", spert, svals)]
            .into_iter()
            .filter_map(|(name, p, vals)| {
                p.map(|p| (name, p.gen.n_vars(), p.state.time_index(), vals))
            })
            .collect();
        let job = RestartJob {
            specs: model.restart_fields(),
            model_name: model.name().to_string(),
            n: ens.n_members(),
            ids,
            states,
            groups,
            rundir: self.rundir.clone(),
            valid,
            fingerprint: self.fingerprint.clone(),
            keep: self.keep,
            on_commit: self.on_commit.clone(),
        };
        let job: WriteJob<CycleError> = Box::new(move || job.write());
        output.submit(job)
    }
}

/// One restart's gathered blocks (root rank, possibly on the writer thread).
struct RestartJob {
    specs: Vec<FieldSpec>,
    model_name: String,
    n: usize,
    ids: Vec<Vec<u64>>,
    states: Vec<Vec<f64>>,
    groups: Vec<GroupBlocks>,
    rundir: RunDir,
    valid: NaiveDateTime,
    fingerprint: String,
    keep: usize,
    on_commit: Option<CycleCommit>,
}

impl RestartJob {
    /// Merge the gathered states by global id and write the restart under its temporary
    /// name. The returned commit puts it in place, records the completed cycle in
    /// state.json and prunes old restarts.
    fn write(mut self) -> Result<CommitJob<CycleError>, CycleError> {
        let order = order_by_id(&self.ids);
        let cell_ids: Vec<u64> = order.iter().map(|&(id, _, _)| id).collect();
        let model_fields = self.model_fields(&order)?;
        // The gathered states are copied into the fields: free them before the write.
        self.states = Vec::new();
        let (perturbation_fields, attributes) = self.perturbation_fields(&order)?;
        let data = RestartData {
            valid_time: self.valid,
            config_fingerprint: self.fingerprint.clone(),
            model_name: self.model_name.clone(),
            n_members: self.n,
            cell_ids,
            model_fields,
            perturbation_fields,
            attributes,
        };
        let RestartJob {
            rundir,
            valid,
            fingerprint,
            keep,
            on_commit,
            ..
        } = self;
        let path = rundir.restart_path(valid);
        let pending = write_restart_deferred(&path, &data)?;
        drop(data);
        Ok(Box::new(move || {
            pending.commit()?;
            if let Some(hook) = on_commit {
                hook(valid)?;
            }
            rundir.write_state(&RunState {
                last_completed_cycle: crate::time::cycle_label(valid),
                restart: path,
                config_fingerprint: fingerprint,
            })?;
            rundir.prune_restarts(keep, valid);
            Ok(())
        }))
    }

    /// Straight from the gathered blocks into the per-field layout `[cell][member][len]`,
    /// cells in global id order, in one pass over the states.
    fn model_fields(&self, order: &[(u64, usize, usize)]) -> Result<Vec<RestartField>, CycleError> {
        let (n, specs) = (self.n, &self.specs);
        let state_width: usize = specs.iter().map(|s| s.len).sum();
        for (r, (rank_ids, block)) in self.ids.iter().zip(&self.states).enumerate() {
            if block.len() != rank_ids.len() * n * state_width {
                return Err(CycleError::Invalid(format!(
                    "rank {r} sent {} state values, expected {} cells × {n} members × {state_width}",
                    block.len(),
                    rank_ids.len()
                )));
            }
        }
        let mut fields: Vec<RestartField> = specs
            .iter()
            .map(|s| RestartField {
                name: s.name.to_string(),
                per_cell: s.len,
                values: Vec::with_capacity(order.len() * n * s.len),
            })
            .collect();
        for &(_, r, k) in order {
            let cell = &self.states[r][k * n * state_width..(k + 1) * n * state_width];
            for member in cell.chunks_exact(state_width) {
                let mut off = 0;
                for (f, s) in fields.iter_mut().zip(specs) {
                    f.values.extend_from_slice(&member[off..off + s.len]);
                    off += s.len;
                }
            }
        }
        Ok(fields)
    }

    /// The perturbation groups' states in cell order, and the attributes naming their time
    /// indices.
    fn perturbation_fields(
        &self,
        order: &[(u64, usize, usize)],
    ) -> Result<(Vec<RestartField>, BTreeMap<String, String>), CycleError> {
        let mut fields = Vec::new();
        let mut attributes = BTreeMap::new();
        attributes.insert(
            "landcycle_version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        );
        for (name, nv, time_index, vals) in &self.groups {
            let w = self.n * nv;
            let mut values = Vec::with_capacity(order.len() * w);
            for &(_, r, k) in order {
                let block = vals[r].get(k * w..(k + 1) * w).ok_or_else(|| {
                    CycleError::Invalid(format!(
                        "rank {r} sent {} {name} perturbation values, too few for its cells",
                        vals[r].len()
                    ))
                })?;
                values.extend_from_slice(block);
            }
            fields.push(RestartField {
                name: name.to_string(),
                per_cell: *nv,
                values,
            });
            attributes.insert(
                format!("perturbation_{name}_time_index"),
                time_index.to_string(),
            );
        }
        Ok((fields, attributes))
    }
}
