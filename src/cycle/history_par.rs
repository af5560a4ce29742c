//! History on any number of ranks: every rank compresses the chunks of its rows, the root
//! gathers them and its writer thread writes the file (`io::history_chunks`,
//! `history_root`).
//!
//! A rank's cells (Hilbert chunks) are scattered over the grid, while a chunk is a block of
//! whole rows. So each field's values move to the rank that encodes their rows (one
//! `alltoallv` per field, the records of one field only), every rank encodes its chunks, and
//! one gather brings them to the root, which writes them in a fixed order: no rank holds
//! more than its own records plus one field's rows, and the file's bytes do not depend on
//! the rank count. The root queues the writes and the commit in order behind the run's
//! earlier output.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use super::error::{agree, CycleError};
use super::history_output::{field_of, HistoryContext};
use super::history_root::{agree_root, RootFile};
use super::history_vars::all_vars;
use super::timing::PhaseTimes;
use crate::io::history::{balanced_history_rows, EnsembleStat, HistoryField, HistoryWrite};
use crate::io::history_chunks::{Chunk, ChunkPlan};
use crate::io::writer::Output;
use crate::parallel::Communicator;

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
        (land_mask, nx): (&[bool], usize),
    ) -> Result<Self, CycleError> {
        let size = comm.size();
        let writers = balanced_history_rows(land_mask, nx, size);
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

/// Write the history file `path` from every rank's records (collective): each rank encodes
/// the chunks of its rows, the root writes the header and hands every chunk, in a fixed
/// order, to the writer.
pub(super) fn write_chunked(
    comm: &dyn Communicator,
    (ctx, rec): (&HistoryContext, &Records),
    (write, n_members, slots): (&HistoryWrite, usize, &[FieldSlot]),
    (path, output): (&Path, Option<&Output<CycleError>>),
) -> Result<(), CycleError> {
    let mut t = PhaseTimes::new([
        "exchange",
        "encode",
        "agree",
        "gather",
        "root queue",
        "plan",
        "header",
    ]);
    let plan = t.time(5, || {
        RowPlan::new(comm, rec.ids, (&ctx.grid.land_mask, ctx.grid.nx))
    })?;
    let chunks = t.time(5, || {
        agree(
            comm,
            ChunkPlan::new(path, write, n_members).map_err(CycleError::from),
        )
    })?;
    let chunks = Arc::new(chunks);
    let root = t.time(6, || {
        if comm.is_root() {
            Some(RootFile::create(path, write, Arc::clone(&chunks)))
        } else {
            None
        }
    });
    let mut root = t.time(6, || agree_root(comm, root))?;
    for (k, slot) in slots.iter().enumerate().take(chunks.n_fields()) {
        let rows = t.time(0, || field_on_rows(comm, &plan, rec, slot))?;
        let mut mine = Vec::new();
        let encoded = t.time(1, || {
            chunks.encode(&ctx.grid, k, plan.rows.clone(), &rows, &mut mine)
        });
        drop(rows);
        t.time(2, || agree(comm, encoded.map_err(CycleError::from)))?;
        let gathered = t.time(3, || comm.gatherv_u64(&pack_chunks(&mine), 0));
        drop(mine);
        let queued = t.time(4, || match (&mut root, gathered) {
            (Some(f), Some(words)) => {
                unpack_chunks(&words).and_then(|all| f.add_field(k, all, output))
            }
            _ => Ok(()),
        });
        t.time(2, || agree(comm, queued))?;
    }
    let done = t.time(4, || root.map_or(Ok(()), |f| f.finish(output)));
    t.log("history");
    done
}

/// Chunks as words: (slab, block, byte length), then the bytes in little-endian words.
fn pack_chunks(chunks: &[Chunk]) -> Vec<u64> {
    let mut w = Vec::new();
    for c in chunks {
        w.extend([c.slab as u64, c.block as u64, c.bytes.len() as u64]);
        w.extend(c.bytes.chunks(8).map(|b| {
            let mut a = [0u8; 8];
            a[..b.len()].copy_from_slice(b);
            u64::from_le_bytes(a)
        }));
    }
    w
}

/// Every rank's chunks from their words.
fn unpack_chunks(words: &[Vec<u64>]) -> Result<Vec<Chunk>, CycleError> {
    let mut out = Vec::new();
    for w in words {
        let mut i = 0;
        while i < w.len() {
            let (slab, block, len) = match w.get(i..i + 3) {
                Some(h) => (h[0] as usize, h[1] as usize, h[2] as usize),
                None => return Err(exchange_error("truncated chunk header")),
            };
            let body = w
                .get(i + 3..i + 3 + len.div_ceil(8))
                .ok_or_else(|| exchange_error("truncated chunk"))?;
            let mut bytes: Vec<u8> = body.iter().flat_map(|x| x.to_le_bytes()).collect();
            bytes.truncate(len);
            out.push(Chunk { slab, block, bytes });
            i += 3 + len.div_ceil(8);
        }
    }
    Ok(out)
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
