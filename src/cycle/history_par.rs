//! History under MPI: every rank writes its rows of the file (`io::history::write_history_part`).
//!
//! A rank's cells (Hilbert chunks) are scattered over the grid, while a rank writes whole
//! rows. So each field's values move to the rank that writes their rows (one `alltoallv` per
//! field, the records of one field only), then every rank writes its rows at once: no rank
//! holds more than its own records plus one field's rows. The root adopts the temporary file
//! and queues its commit in order behind the run's earlier output.

use std::borrow::Cow;
use std::ops::Range;
use std::path::Path;

use super::error::CycleError;
use super::history_output::{field_of, HistoryContext};
use super::history_vars::all_vars;
use super::restart_output::agreed_temp_path;
use crate::io::atomic::PendingFile;
use crate::io::history::{
    history_rows, write_history_part, EnsembleStat, HistoryField, HistoryPart, HistoryWrite,
};
use crate::io::writer::{CommitJob, Output};
use crate::io::IoError;
use crate::parallel::{Communicator, FileComm};

/// One rank's per-cell records (ensemble mean and spread, or every member).
pub(super) struct Records<'r> {
    pub ids: &'r [u64],
    pub values: Vec<f64>,
    /// Values per cell: `n_blocks` blocks of the record width.
    pub per_cell: usize,
    pub n_blocks: usize,
}

/// Where the cells go: the rank writing each of this rank's cells, and the ids each rank
/// sends here, in the order it sends them.
struct RowPlan {
    dest: Vec<usize>,
    from: Vec<Vec<u64>>,
    rows: Range<usize>,
    nx: usize,
}

impl RowPlan {
    /// Collective: one exchange of the cell ids (as f64: exact below 2^53).
    fn new(
        comm: &dyn Communicator,
        ids: &[u64],
        (ny, nx): (usize, usize),
    ) -> Result<Self, CycleError> {
        let size = comm.size();
        let writers: Vec<Range<usize>> = (0..size).map(|r| history_rows(ny, r, size)).collect();
        let writer_of = |id: u64| {
            let j = id as usize / nx;
            writers
                .iter()
                .position(|w| w.contains(&j))
                .unwrap_or(size - 1)
        };
        let dest: Vec<usize> = ids.iter().map(|&id| writer_of(id)).collect();
        let mut send = vec![Vec::new(); size];
        for (&id, &d) in ids.iter().zip(&dest) {
            send[d].push(id as f64);
        }
        let recv = comm.alltoallv_f64(&send).map_err(exchange_error)?;
        let from = recv
            .into_iter()
            .map(|b| b.into_iter().map(|x| x as u64).collect())
            .collect();
        Ok(RowPlan {
            dest,
            from,
            rows: writers[comm.rank()].clone(),
            nx,
        })
    }
}

fn exchange_error(e: impl std::fmt::Display) -> CycleError {
    CycleError::Invalid(format!("history exchange: {e}"))
}

/// A field's place in the records: (record blocks, offset in a block, layers).
pub(super) type FieldSlot = (Vec<usize>, usize, usize);

/// Write the history file `path` from every rank's records (collective).
pub(super) fn write_parallel(
    comm: &dyn Communicator,
    fc: FileComm,
    (ctx, rec): (&HistoryContext, &Records),
    (write, n_members, slots): (&HistoryWrite, usize, &[FieldSlot]),
    (path, output): (&Path, Option<&Output<CycleError>>),
) -> Result<(), CycleError> {
    let plan = RowPlan::new(comm, rec.ids, (ctx.grid.ny, ctx.grid.nx))?;
    let tmp = agreed_temp_path(comm, path)?;
    let mut field_rows = |k: usize| -> Result<Cow<'static, [f64]>, IoError> {
        field_on_rows(comm, &plan, rec, &slots[k])
            .map(Cow::Owned)
            .map_err(|e| IoError::Invalid {
                path: path.to_path_buf(),
                msg: e.to_string(),
            })
    };
    let part = HistoryPart {
        comm: fc,
        is_root: comm.is_root(),
        rows: plan.rows.clone(),
        field_rows: &mut field_rows,
    };
    let written = write_history_part((&tmp, path), write, n_members, part);
    let (Some(output), true) = (output, comm.is_root()) else {
        return Ok(written?);
    };
    // The root owns the temporary file: adopting it removes it again on any failure.
    let pending = PendingFile::adopt(tmp, path)?;
    written?;
    let commit: CommitJob<CycleError> = Box::new(move || Ok(pending.commit()?));
    output.submit(Box::new(move || Ok(commit)))
}

/// One field on this rank's rows, `[block][layer][row][x]` (NaN off land): every rank sends
/// the field's values of its cells to the ranks writing their rows (collective).
fn field_on_rows(
    comm: &dyn Communicator,
    plan: &RowPlan,
    rec: &Records,
    (blocks, offset, layers): &FieldSlot,
) -> Result<Vec<f64>, CycleError> {
    let w = rec.per_cell / rec.n_blocks;
    let per = blocks.len() * layers;
    let mut send = vec![Vec::new(); comm.size()];
    for (k, &d) in plan.dest.iter().enumerate() {
        let r = &rec.values[k * rec.per_cell..(k + 1) * rec.per_cell];
        for &b in blocks {
            send[d].extend_from_slice(&r[b * w + offset..b * w + offset + layers]);
        }
    }
    let recv = comm.alltoallv_f64(&send).map_err(exchange_error)?;
    drop(send);
    let (nx, rows) = (plan.nx, &plan.rows);
    let slab = rows.len() * nx;
    let mut out = vec![f64::NAN; per * slab];
    for (ids, vals) in plan.from.iter().zip(&recv) {
        if vals.len() != ids.len() * per {
            return Err(exchange_error(format!(
                "{} values for {} cells × {per}",
                vals.len(),
                ids.len()
            )));
        }
        for (&id, v) in ids.iter().zip(vals.chunks_exact(per)) {
            let cell = id as usize - rows.start * nx;
            for (s, &x) in v.iter().enumerate() {
                out[s * slab + cell] = x;
            }
        }
    }
    Ok(out)
}

/// The fields of the file (no data) and where each one is in the records, in the order of
/// the serial writer: mean and spread of the selected variables in variable order, or the
/// members of each in the order selected.
pub(super) fn field_slots(
    ctx: &HistoryContext,
    nl: usize,
    n_blocks: usize,
) -> (Vec<HistoryField<'static>>, Vec<FieldSlot>) {
    let vars = all_vars();
    let mut offsets = Vec::with_capacity(vars.len());
    let mut offset = 0;
    for v in &vars {
        let layers = if v.layered { nl } else { 1 };
        offsets.push((offset, layers));
        offset += layers;
    }
    let (mut fields, mut slots) = (Vec::new(), Vec::new());
    if ctx.members {
        for s in &ctx.selected {
            let (o, layers) = offsets[s.index];
            fields.push(field_of((&vars[s.index], s), EnsembleStat::Members, &[]));
            slots.push(((0..n_blocks).collect(), o, layers));
        }
        return (fields, slots);
    }
    for (vi, v) in vars.iter().enumerate() {
        let Some(s) = ctx.selected.iter().find(|s| s.index == vi) else {
            continue;
        };
        let (o, layers) = offsets[vi];
        for (b, stat) in [EnsembleStat::Mean, EnsembleStat::Spread]
            .into_iter()
            .enumerate()
        {
            fields.push(field_of((v, s), stat, &[]));
            slots.push((vec![b], o, layers));
        }
    }
    (fields, slots)
}
