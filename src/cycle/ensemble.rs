//! The ensemble of one rank: all members of each of its cells, stepped together.

use chrono::NaiveDateTime;

use super::history_vars::{accumulate, pack_record, record_width, N_FLUX};
use crate::lsm::{Forcing, LandModel, LsmError, StepOutput};

/// Hint the CPU to bring `data` into its caches (no effect on results; a no-op on targets
/// without a prefetch instruction).
#[inline]
fn prefetch<T>(data: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let p = data.as_ptr().cast::<i8>();
        for off in (0..std::mem::size_of_val(data)).step_by(64) {
            // SAFETY: a prefetch is only a hint: it never faults and changes no memory; the
            // address lies inside `data`.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.add(off)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

/// A physics failure located in space and ensemble.
#[derive(Debug, thiserror::Error)]
#[error("cell {cell_id} member {member} at {time}: {source}")]
pub struct StepError {
    pub cell_id: u64,
    pub member: usize,
    pub time: NaiveDateTime,
    pub source: LsmError,
}

/// All members of the cells one rank owns. The layout (cell-major, all members of a cell
/// contiguous) stays inside: callers see a cell's members through [`CellEnsemble::members`]
/// and [`CellEnsemble::cell_mut`].
pub struct CellEnsemble<M: LandModel> {
    ids: Vec<u64>,
    params: Vec<M::CellParams>,
    states: Vec<M::State>,
    n_members: usize,
    /// Per member, the interval sums of the flux variables. Single precision, as LIS keeps
    /// its output accumulators and as the history file stores them: at 20 members these
    /// sums are the largest array after the states (docs/io.md, "Interval means").
    flux_acc: Vec<[f32; N_FLUX]>,
    /// Per member, the sum over the interval's steps of volumetric soil moisture per layer
    /// (`[cell][member][layer]`, sized at the first step).
    sm_acc: Vec<f32>,
    acc_steps: usize,
    scratch_forcing: Vec<Forcing>,
    scratch_out: Vec<StepOutput>,
    scratch_sm: Vec<f64>,
}

impl<M: LandModel> CellEnsemble<M> {
    pub fn new(
        ids: Vec<u64>,
        params: Vec<M::CellParams>,
        states: Vec<M::State>,
        n_members: usize,
    ) -> Self {
        assert_eq!(ids.len(), params.len());
        assert_eq!(states.len(), ids.len() * n_members);
        let n = states.len();
        CellEnsemble {
            ids,
            params,
            states,
            n_members,
            flux_acc: vec![[0.0f32; N_FLUX]; n],
            sm_acc: Vec::new(),
            acc_steps: 0,
            scratch_forcing: vec![Forcing::default(); n_members],
            scratch_out: vec![StepOutput::default(); n_members],
            scratch_sm: Vec::new(),
        }
    }

    pub fn n_cells(&self) -> usize {
        self.ids.len()
    }

    pub fn n_members(&self) -> usize {
        self.n_members
    }

    /// Global ids of the cells, in local order.
    pub fn ids(&self) -> &[u64] {
        &self.ids
    }

    /// Parameters of local cell `c`.
    pub fn params(&self, c: usize) -> &M::CellParams {
        &self.params[c]
    }

    /// The members of local cell `c`, in member order.
    pub fn members(&self, c: usize) -> &[M::State] {
        let n = self.n_members;
        &self.states[c * n..(c + 1) * n]
    }

    /// Parameters and mutable members of local cell `c` (for analyses and perturbations).
    pub fn cell_mut(&mut self, c: usize) -> (&M::CellParams, &mut [M::State]) {
        let n = self.n_members;
        (&self.params[c], &mut self.states[c * n..(c + 1) * n])
    }

    /// Advance every member of every cell by one step. `base[c]` is the unperturbed forcing
    /// of cell `c`; `perturb(c, forcings)` applies the members' perturbations to `forcings`
    /// (one per member, in member order, each starting as `base[c]`).
    #[allow(clippy::needless_range_loop)] // cells index three parallel arrays
    pub fn step(
        &mut self,
        model: &M,
        base: &[Forcing],
        mut perturb: impl FnMut(usize, &mut [Forcing]),
        time_end: NaiveDateTime,
        dt: f64,
    ) -> Result<(), StepError> {
        let n = self.n_members;
        for c in 0..self.ids.len() {
            self.scratch_forcing.fill(base[c]);
            perturb(c, &mut self.scratch_forcing);
            // The next cell's accumulators are cold by now (the whole array is megabytes):
            // ask for them while this cell's physics runs.
            if let Some(next) = self.flux_acc.get((c + 1) * n..(c + 2) * n) {
                prefetch(next);
            }
            let states = &mut self.states[c * n..(c + 1) * n];
            let stepped = model.step_members(
                &self.params[c],
                states,
                &self.scratch_forcing,
                time_end,
                dt,
                &mut self.scratch_out,
            );
            if let Err(e) = stepped {
                return Err(StepError {
                    cell_id: self.ids[c],
                    member: e.member,
                    time: time_end,
                    source: e.source,
                });
            }
            let acc = &mut self.flux_acc[c * n..(c + 1) * n];
            for ((a, out), f) in acc
                .iter_mut()
                .zip(&self.scratch_out)
                .zip(&self.scratch_forcing)
            {
                accumulate(a, out, f);
            }
            self.accumulate_soil_moisture(model, c);
        }
        self.acc_steps += 1;
        Ok(())
    }

    /// Add cell `c`'s members' volumetric soil moisture to the interval sums.
    fn accumulate_soil_moisture(&mut self, model: &M, c: usize) {
        let n = self.n_members;
        let nl = model.n_soil_layers();
        if self.sm_acc.len() != self.states.len() * nl {
            self.sm_acc = vec![0.0f32; self.states.len() * nl];
        }
        for k in c * n..(c + 1) * n {
            let acc = &mut self.sm_acc[k * nl..(k + 1) * nl];
            let before = self.scratch_sm.len();
            model.extend_soil_moisture(&self.states[k], &mut self.scratch_sm);
            for (a, &x) in acc.iter_mut().zip(&self.scratch_sm[before..]) {
                *a += x as f32;
            }
            self.scratch_sm.truncate(before);
        }
    }

    /// A member's interval sums of soil moisture (empty before the first step).
    fn sm_sums(&self, k: usize, nl: usize) -> &[f32] {
        self.sm_acc.get(k * nl..(k + 1) * nl).unwrap_or(&[])
    }

    /// Reset the flux accumulators (start of an output interval).
    pub fn reset_accumulators(&mut self) {
        self.flux_acc.iter_mut().for_each(|a| *a = [0.0f32; N_FLUX]);
        self.sm_acc.iter_mut().for_each(|a| *a = 0.0);
        self.acc_steps = 0;
    }

    /// Per cell, in cell order: ensemble mean then spread (standard deviation, N−1) of every
    /// history record element, `[2][width]`, handed to `visit` (which keeps what it needs,
    /// so no array of every cell's records is ever built).
    pub fn mean_spread_records(&self, model: &M, mut visit: impl FnMut(&[f64])) {
        let w = record_width(model.n_soil_layers());
        let n = self.n_members;
        let mut out = Vec::with_capacity(2 * w);
        let mut mean = vec![0.0; w];
        let mut var = vec![0.0; w];
        self.member_records(model, |rec| {
            mean.fill(0.0);
            for m in 0..n {
                for (a, v) in mean.iter_mut().zip(&rec[m * w..(m + 1) * w]) {
                    *a += v;
                }
            }
            mean.iter_mut().for_each(|a| *a /= n as f64);
            var.fill(0.0);
            for m in 0..n {
                for ((a, v), mu) in var.iter_mut().zip(&rec[m * w..(m + 1) * w]).zip(&mean) {
                    *a += (v - mu) * (v - mu);
                }
            }
            let denom = if n > 1 { (n - 1) as f64 } else { 1.0 };
            out.clear();
            out.extend_from_slice(&mean);
            out.extend(var.iter().map(|v| (v / denom).sqrt()));
            visit(&out);
        });
    }

    /// Per cell, in cell order: every member's history record, `[member][width]`, handed to
    /// `visit`.
    pub fn member_records(&self, model: &M, mut visit: impl FnMut(&[f64])) {
        let nl = model.n_soil_layers();
        let n = self.n_members;
        let mut out = Vec::with_capacity(n * record_width(nl));
        for c in 0..self.ids.len() {
            out.clear();
            for k in c * n..(c + 1) * n {
                pack_record(
                    model,
                    &self.states[k],
                    (&self.flux_acc[k], self.sm_sums(k, nl)),
                    self.acc_steps,
                    &mut out,
                );
            }
            visit(&out);
        }
    }

    /// Restart fields of every member, layout `[cell][member][field values]`.
    pub fn pack_states(&self, model: &M) -> Vec<f64> {
        // Sized up front: the restart state is tens of MB, growing it would copy it repeatedly.
        let width: usize = model.restart_fields().iter().map(|f| f.len).sum();
        let mut out = Vec::with_capacity(self.states.len() * width);
        for s in &self.states {
            model.pack_state(s, &mut out);
        }
        out
    }
}
