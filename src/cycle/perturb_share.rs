//! Spatially correlated perturbations drawn once over all ranks instead of on every rank.
//!
//! Each rank draws the fields of its (member, variable) pairs on a helper thread while the
//! ensemble steps (perturb::share), and when the next perturbation time is due the main
//! thread exchanges them (one all-to-all per group and time), steps the AR(1) state and
//! computes the held values. The numbers are those of every rank drawing every field.

use std::sync::Arc;
use std::thread::JoinHandle;

use chrono::NaiveDateTime;

use super::error::{agree, CycleError};
use super::perturber::Perturber;
use crate::parallel::Communicator;
use crate::perturb::{FieldShare, PerturbError, PerturbGenerator, PerturbState, Purpose};

/// This rank's share of one time's innovation fields, drawn on a helper thread.
pub(super) struct Drawn {
    time_index: i64,
    pub(super) handle: JoinHandle<Result<Vec<f64>, PerturbError>>,
}

/// Every rank's cell ids (in each rank's order), when a group needs them. Collective.
pub(super) fn rank_cells(
    comm: &dyn Communicator,
    ids: &[u64],
    gens: &[Option<PerturbGenerator>; 2],
) -> Option<Arc<Vec<Vec<u64>>>> {
    let spatial = gens.iter().flatten().any(|g| g.field_plan().is_some());
    spatial.then(|| Arc::new(comm.allgatherv_u64(ids)))
}

/// The share of a spatially correlated group (`None` for per-cell deviates).
pub(super) fn field_share(
    comm: &dyn Communicator,
    gen: Option<&PerturbGenerator>,
    cells: Option<&Arc<Vec<Vec<u64>>>>,
    n_members: usize,
) -> Result<Option<Arc<FieldShare>>, CycleError> {
    match (gen, cells) {
        (Some(g), Some(c)) if g.field_plan().is_some() => Ok(Some(Arc::new(FieldShare::new(
            comm.rank(),
            n_members,
            g.n_vars(),
            Arc::clone(c),
        )?))),
        _ => Ok(None),
    }
}

/// Hand every rank the deviates of its cells from everyone's `drawn` share. Collective:
/// a failed draw is agreed on before any data moves.
fn exchange(
    comm: &dyn Communicator,
    share: &FieldShare,
    drawn: Result<Vec<f64>, PerturbError>,
    recv: &mut Vec<f64>,
) -> Result<(), CycleError> {
    let send = agree(comm, drawn.map_err(CycleError::from))?;
    comm.alltoallv_flat_f64(&send, &share.send_counts(), recv)
        .map_err(|e| CycleError::Invalid(format!("perturbation field exchange: {e}")))?;
    Ok(())
}

/// The cold-start state of a shared group at `time_index`. Collective.
pub(super) fn cold_start(
    comm: &dyn Communicator,
    gen: &PerturbGenerator,
    share: &FieldShare,
    time_index: i64,
) -> Result<PerturbState, CycleError> {
    let mut recv = Vec::new();
    let drawn = gen.draw_share(share, Purpose::InitialField, time_index);
    exchange(comm, share, drawn, &mut recv)?;
    agree(
        comm,
        gen.cold_start_shared(share, time_index, &recv)
            .map_err(Into::into),
    )
}

impl Perturber {
    /// [`Perturber::advance`] of a shared group: every perturbation time up to the one
    /// containing `t`, each with its exchange (the same on every rank: the times are).
    pub(super) fn advance_shared(
        &mut self,
        t: NaiveDateTime,
        comm: &dyn Communicator,
    ) -> Result<bool, CycleError> {
        let k = self.gen.time_index(t);
        let current = self.state.time_index();
        if k < current {
            return Err(CycleError::Invalid(format!(
                "group '{}': cannot move the perturbation state back from time index {current} to {k}",
                self.gen.group().name
            )));
        }
        while self.state.time_index() < k {
            self.step_shared(comm)?;
        }
        if k != current {
            let r = self.gen.values_into(&self.state, &mut self.values);
            agree(comm, r.map_err(CycleError::from))?;
        }
        self.draw_ahead();
        Ok(k != current)
    }

    /// One interval: this rank's share (drawn ahead, or here), the exchange, the AR(1) step.
    fn step_shared(&mut self, comm: &dyn Communicator) -> Result<(), CycleError> {
        let Some(share) = self.share.clone() else {
            return Ok(());
        };
        let next = self.state.time_index().checked_add(1);
        let draw_here = |gen: &PerturbGenerator| match next {
            Some(k) => gen.draw_share(&share, Purpose::InnovationField, k),
            None => Err(PerturbError::State(
                "perturbation time index overflows i64".into(),
            )),
        };
        let drawn = match self.drawn.take() {
            Some(d) if Some(d.time_index) == next => {
                // A helper thread that died: draw here (the same values or the same error).
                d.handle.join().unwrap_or_else(|_| draw_here(&self.gen))
            }
            other => {
                if let Some(d) = other {
                    let _ = d.handle.join();
                }
                draw_here(&self.gen)
            }
        };
        // Received afresh each time: the buffer is not held through the physics.
        let mut recv = Vec::new();
        exchange(comm, &share, drawn, &mut recv)?;
        let r = self.gen.advance_shared(&mut self.state, &share, &recv);
        drop(recv);
        agree(comm, r.map_err(CycleError::from))
    }

    /// Start drawing the next time's share on a helper thread, unless that time is at or
    /// after the end of the run (the same decision on every rank).
    fn draw_ahead(&mut self) {
        let (Some(share), None) = (self.share.clone(), self.drawn.as_ref()) else {
            return;
        };
        let interval = self.gen.group().interval_seconds;
        let Some(k) = self.state.time_index().checked_add(1) else {
            return;
        };
        let start = crate::perturb::clock::interval_start(k, interval);
        if !matches!(start, Some(s) if s < self.horizon) {
            return;
        }
        let gen = Arc::clone(&self.gen);
        let spawned = std::thread::Builder::new()
            .name("landcycle-perturb".into())
            .spawn(move || gen.draw_share(&share, Purpose::InnovationField, k));
        // Without a thread the share is drawn when it is due.
        self.drawn = spawned.ok().map(|handle| Drawn {
            time_index: k,
            handle,
        });
    }
}
