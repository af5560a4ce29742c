//! Every rank writes its share of one restart file (MPI-IO through HDF5).
//!
//! The model's decomposition (Hilbert chunks) scatters a rank's cells over the global id
//! order, while the file stores cells in that order. So the cells move first, a few blocks at
//! a time, to the rank that writes their rows (`io::restart_blocks::io_rows`: contiguous whole
//! blocks per rank): two-phase I/O. No rank holds more than its own cells plus one step's
//! rows, and every rank's rows are written at once.

use super::ensemble::CellEnsemble;
use super::error::CycleError;
use super::perturber::Perturber;
use crate::io::restart_blocks::{digests_from_words, digests_to_words, io_rows, BLOCK_CELLS};
use crate::io::restart_writer::{RestartLayout, RestartWriter};
use crate::lsm::LandModel;
use crate::parallel::{order_by_id, Communicator};
use std::ops::Range;
use std::path::Path;

/// Blocks moved and written per step (2048 cells per writing rank): bounds the memory of the
/// exchange to a few copies of one step's rows (≈ 11 MB each for Noah with 20 members).
const STEP_BLOCKS: usize = 2048 / BLOCK_CELLS;

/// Where every cell of the run is: positions in global id order, their owners.
pub(super) struct IoPlan {
    /// (global id, owning rank, index on that rank), in global id order.
    order: Vec<(u64, usize, usize)>,
    rank: usize,
    size: usize,
}

impl IoPlan {
    /// Collective: every rank learns every rank's cell ids.
    pub(super) fn new(comm: &dyn Communicator, ids: &[u64]) -> Self {
        IoPlan {
            order: order_by_id(&comm.allgatherv_u64(ids)),
            rank: comm.rank(),
            size: comm.size(),
        }
    }

    pub(super) fn n_cells(&self) -> usize {
        self.order.len()
    }

    /// Every cell's global id, in file order.
    pub(super) fn ids(&self) -> Vec<u64> {
        self.order.iter().map(|o| o.0).collect()
    }

    fn rows_of(&self, r: usize) -> Range<usize> {
        io_rows(self.n_cells(), r, self.size)
    }

    /// Rows rank `r` writes in step `s`.
    fn step_rows(&self, r: usize, s: usize) -> Range<usize> {
        let rows = self.rows_of(r);
        let a = (rows.start + s * STEP_BLOCKS * BLOCK_CELLS).min(rows.end);
        a..(a + STEP_BLOCKS * BLOCK_CELLS).min(rows.end)
    }

    fn n_steps(&self) -> usize {
        let most = (0..self.size)
            .map(|r| self.rows_of(r).len())
            .max()
            .unwrap_or(0);
        most.div_ceil(STEP_BLOCKS * BLOCK_CELLS)
    }
}

/// One rank's inputs to the restart: the model, its ensemble and the perturbation states.
pub(super) struct RestartSource<'a, M: LandModel> {
    pub model: &'a M,
    pub ens: &'a CellEnsemble<M>,
    pub perturbers: Vec<&'a Perturber>,
}

impl<M: LandModel> RestartSource<'_, M> {
    /// One cell's record: each member's packed state, then each perturbation group's values.
    fn push_record(&self, k: usize, out: &mut Vec<f64>) {
        for s in self.ens.members(k) {
            self.model.pack_state(s, out);
        }
        let n = self.ens.n_members();
        for p in &self.perturbers {
            let w = n * p.gen.n_vars();
            out.extend_from_slice(&p.state.as_slice()[k * w..(k + 1) * w]);
        }
    }
}

/// Write this rank's rows of the restart at `tmp` (collective), returning an error agreed by
/// every rank. The file is complete and closed on success.
pub(super) fn write_restart_collective<M: LandModel>(
    comm: &dyn Communicator,
    plan: &IoPlan,
    layout: &RestartLayout,
    src: &RestartSource<M>,
    (tmp, final_path): (&Path, &Path),
) -> Result<(), CycleError> {
    let fc = comm.file_comm();
    let created = RestartWriter::create(tmp, final_path, layout, fc.as_ref());
    if !comm.all_ok(created.is_ok()) {
        return Err(created.err().map_or_else(other_rank, CycleError::from));
    }
    let mut w = created?;
    let abort_here = test_abort_requested(plan.rank);
    let mut failed = None;
    for s in 0..plan.n_steps() {
        let recv = comm
            .alltoallv_f64(&send_blocks(plan, src, s))
            .map_err(|e| CycleError::Invalid(format!("restart exchange: {e}")))?;
        if failed.is_none() {
            let rows = plan.step_rows(plan.rank, s);
            let fields = unpack_rows(plan, layout, &recv, rows.clone());
            let ids: Vec<u64> = plan.order[rows.clone()].iter().map(|o| o.0).collect();
            let slices: Vec<&[f64]> = fields.iter().map(Vec::as_slice).collect();
            if !rows.is_empty() {
                failed = w.write_rows(rows, &ids, &slices).err();
            }
            crate::io::crash::point("restart_rows", None);
        }
        if abort_here {
            eprintln!(
                "LANDCYCLE_TEST_ABORT_RESTART_RANK: rank {} aborts inside a restart write",
                plan.rank
            );
            std::process::abort();
        }
    }
    if !comm.all_ok(failed.is_none()) {
        return Err(failed.map_or_else(other_rank, CycleError::from));
    }
    let words = comm.allgatherv_u64(&digests_to_words(w.own_digests().1));
    let all = digests_from_words(&words.concat())
        .ok_or_else(|| CycleError::Invalid("restart digests of partial length".into()))?;
    let finished = w.finish(&all);
    if !comm.all_ok(finished.is_ok()) {
        return Err(finished.err().map_or_else(other_rank, CycleError::from));
    }
    Ok(())
}

fn other_rank() -> CycleError {
    CycleError::Invalid("writing the restart failed on another rank (see its log)".into())
}

/// Step `s`'s records of this rank's cells, one block per destination rank, in row order.
fn send_blocks<M: LandModel>(plan: &IoPlan, src: &RestartSource<M>, s: usize) -> Vec<Vec<f64>> {
    (0..plan.size)
        .map(|r| {
            let mut out = Vec::new();
            for &(_, owner, k) in &plan.order[plan.step_rows(r, s)] {
                if owner == plan.rank {
                    src.push_record(k, &mut out);
                }
            }
            out
        })
        .collect()
}

/// Per field (layout order), rows `rows` `[cell][member][per_cell]` from the received records.
fn unpack_rows(
    plan: &IoPlan,
    layout: &RestartLayout,
    recv: &[Vec<f64>],
    rows: Range<usize>,
) -> Vec<Vec<f64>> {
    let m = layout.n_members;
    let lens = layout.row_lens();
    let n_model = layout.fields[0].len();
    let state_width: usize = layout.fields[0].iter().map(|f| f.1).sum();
    let record: usize = lens.iter().sum();
    let mut out: Vec<Vec<f64>> = lens
        .iter()
        .map(|l| Vec::with_capacity(rows.len() * l))
        .collect();
    let mut cursor = vec![0usize; plan.size];
    for &(_, owner, _) in &plan.order[rows] {
        let rec = &recv[owner][cursor[owner]..cursor[owner] + record];
        cursor[owner] += record;
        let (states, perts) = rec.split_at(m * state_width);
        for member in states.chunks_exact(state_width) {
            let mut off = 0;
            for (f, (_, len)) in out.iter_mut().zip(&layout.fields[0]) {
                f.extend_from_slice(&member[off..off + len]);
                off += len;
            }
        }
        let mut off = 0;
        for (f, l) in out[n_model..].iter_mut().zip(&lens[n_model..]) {
            f.extend_from_slice(&perts[off..off + l]);
            off += l;
        }
    }
    out
}

/// Test-only crash point: `LANDCYCLE_TEST_ABORT_RESTART_RANK=r` aborts rank `r` in the middle
/// of a restart write (after its first rows), to prove the previous restart survives.
fn test_abort_requested(rank: usize) -> bool {
    std::env::var("LANDCYCLE_TEST_ABORT_RESTART_RANK")
        .is_ok_and(|v| v.trim().parse::<usize>().ok() == Some(rank))
}
