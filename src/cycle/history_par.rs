//! History on any number of ranks: every rank compresses the chunks of its rows, the root
//! gathers them and its writer thread writes the file (`io::history_chunks`,
//! `history_root`).
//!
//! A rank's cells (Hilbert chunks) are scattered over the grid, while a chunk is a block of
//! whole rows. So the values move to the rank that encodes their rows, a batch of fields at a
//! time (one `alltoallv` of f32 per batch of ≤ [`BATCH_SLABS`] slabs), every rank encodes its
//! chunks, and one gather per batch brings them to the root, which writes them in a fixed
//! order: no rank holds more than its own records plus one batch's rows, and the file's bytes
//! do not depend on the rank count. The root queues the writes and the commit in order behind the run's
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

/// One rank's history values as the file stores them (f32), batch by batch (see
/// [`batches`]): a batch holds, for every cell in record order, its fields' values back to
/// back. Filled cell by cell from the ensemble's records, so that each batch's exchange
/// reads one array front to back; reading every cell's f64 record at a stride, once per
/// batch, missed the cache for ≈ 0.1 s per file at 0.25° (docs/benchmarks.md). Holds only
/// the f32 the file stores: half the f64 records' memory.
pub(super) struct Records<'r> {
    ids: &'r [u64],
    slots: Vec<FieldSlot>,
    /// Values of a record block (the history record's width).
    width: usize,
    batches: Vec<RecordBatch>,
}

/// The values of one batch of fields: `per` per cell, `[cell][field][block][layer]`.
struct RecordBatch {
    fields: Range<usize>,
    per: usize,
    values: Vec<f32>,
}

impl<'r> Records<'r> {
    /// Room for the cells `ids`, whose records are blocks of `width` values (`slots` say
    /// where each field's values are).
    pub(super) fn new(ids: &'r [u64], slots: Vec<FieldSlot>, width: usize) -> Self {
        let batches = batches(&slots)
            .into_iter()
            .map(|fields| {
                let per = slots[fields.clone()]
                    .iter()
                    .map(|(b, _, l)| b.len() * l)
                    .sum::<usize>();
                RecordBatch {
                    fields,
                    per,
                    values: Vec::with_capacity(per * ids.len()),
                }
            })
            .collect();
        Records {
            ids,
            slots,
            width,
            batches,
        }
    }

    /// The next cell's record (`[block][width]`), rounded to f32 as the file stores it.
    pub(super) fn push_cell(&mut self, record: &[f64]) {
        for b in &mut self.batches {
            for (blocks, offset, layers) in &self.slots[b.fields.clone()] {
                for &k in blocks {
                    let at = k * self.width + offset;
                    let v = &record[at..at + layers];
                    b.values.extend(v.iter().map(|&x| x as f32));
                }
            }
        }
    }
}

/// Where the cells go: the rank writing each of this rank's cells, and the ids each rank
/// sends here, in the order it sends them.
struct RowPlan {
    dest: Vec<usize>,
    /// This rank's cells going to each rank.
    to_counts: Vec<usize>,
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
        let to_counts = send.iter().map(Vec::len).collect();
        let recv = comm.alltoallv_f64(&send).map_err(exchange_error)?;
        let from = recv
            .into_iter()
            .map(|b| b.into_iter().map(|x| x as u64).collect())
            .collect();
        Ok(RowPlan {
            dest,
            to_counts,
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
    (ctx, rec): (&HistoryContext, Records),
    (write, n_members): (&HistoryWrite, usize),
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
    // Records and file come from the same fields on every rank: an error here is every rank's.
    if rec.slots.len() != chunks.n_fields() {
        return Err(exchange_error(format!(
            "{} fields in the records, {} in the file",
            rec.slots.len(),
            chunks.n_fields()
        )));
    }
    for batch in rec.batches {
        let rows = t.time(0, || batch_on_rows(comm, &plan, &batch));
        drop(batch.values);
        let encoded = t.time(1, || {
            let rows = rows?;
            Ok(encode_batch(ctx, (&chunks, &plan), batch.fields, &rows)?)
        });
        let mine = t.time(2, || agree(comm, encoded))?;
        let gathered = t.time(3, || comm.gatherv_u64(&pack_chunks(&mine), 0));
        drop(mine);
        let queued = t.time(4, || match (&mut root, gathered) {
            (Some(f), Some(words)) => unpack_chunks(&words).and_then(|all| queue(f, all, output)),
            _ => Ok(()),
        });
        t.time(2, || agree(comm, queued))?;
    }
    let done = t.time(4, || root.map_or(Ok(()), |f| f.finish(output)));
    t.log("history");
    done
}

/// 2-D slabs of the whole grid whose rows move in one exchange (at least one field): at
/// 0.25° on 2 ranks about 20 MB of f32 rows per rank, and a few collectives per file
/// instead of several per field.
const BATCH_SLABS: usize = 12;

/// Consecutive fields in batches of at most [`BATCH_SLABS`] slabs; the same on every rank
/// (slab counts only).
fn batches(slots: &[FieldSlot]) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    let mut slabs = 0;
    for (k, (blocks, _, layers)) in slots.iter().enumerate() {
        let n = blocks.len() * layers;
        match out.last_mut() {
            Some(b) if slabs + n <= BATCH_SLABS => {
                b.end = k + 1;
                slabs += n;
            }
            _ => {
                out.push(k..k + 1);
                slabs = n;
            }
        }
    }
    out
}

/// The chunks of the batch's fields on this rank's rows, each tagged with its field.
fn encode_batch(
    ctx: &HistoryContext,
    (chunks, plan): (&ChunkPlan, &RowPlan),
    batch: Range<usize>,
    rows: &[f32],
) -> Result<Vec<(usize, Chunk)>, crate::io::IoError> {
    let slab = plan.rows.len() * plan.nx;
    let (mut out, mut at, mut field) = (Vec::new(), 0, Vec::new());
    for k in batch {
        let n = chunks.n_slabs(k) * slab;
        chunks.encode(
            &ctx.grid,
            k,
            plan.rows.clone(),
            &rows[at..at + n],
            &mut field,
        )?;
        out.extend(field.drain(..).map(|c| (k, c)));
        at += n;
    }
    Ok(out)
}

/// The gathered chunks, field by field in field order, to the root's file.
fn queue(
    f: &mut RootFile,
    mut all: Vec<(usize, Chunk)>,
    output: Option<&Output<CycleError>>,
) -> Result<(), CycleError> {
    // Stable: within a field the chunks keep the order gathered (the writer sorts them).
    all.sort_by_key(|(k, _)| *k);
    let mut rest = all.into_iter().peekable();
    while let Some(&(k, _)) = rest.peek() {
        let field: Vec<Chunk> = std::iter::from_fn(|| rest.next_if(|(j, _)| *j == k))
            .map(|(_, c)| c)
            .collect();
        f.add_field(k, field, output)?;
    }
    Ok(())
}

/// Chunks as words: (field, slab, block, byte length), then the bytes in little-endian words.
fn pack_chunks(chunks: &[(usize, Chunk)]) -> Vec<u64> {
    let mut w = Vec::new();
    for (k, c) in chunks {
        w.extend([
            *k as u64,
            c.slab as u64,
            c.block as u64,
            c.bytes.len() as u64,
        ]);
        w.extend(c.bytes.chunks(8).map(|b| {
            let mut a = [0u8; 8];
            a[..b.len()].copy_from_slice(b);
            u64::from_le_bytes(a)
        }));
    }
    w
}

/// Every rank's chunks, with their fields, from their words.
fn unpack_chunks(words: &[Vec<u64>]) -> Result<Vec<(usize, Chunk)>, CycleError> {
    const HEAD: usize = 4;
    let mut out = Vec::new();
    for w in words {
        let mut i = 0;
        while i < w.len() {
            let [k, slab, block, len] = match w.get(i..i + HEAD) {
                Some(h) => [h[0], h[1], h[2], h[3]].map(|x| x as usize),
                None => return Err(exchange_error("truncated chunk header")),
            };
            let body = w
                .get(i + HEAD..i + HEAD + len.div_ceil(8))
                .ok_or_else(|| exchange_error("truncated chunk"))?;
            let mut bytes: Vec<u8> = body.iter().flat_map(|x| x.to_le_bytes()).collect();
            bytes.truncate(len);
            out.push((k, Chunk { slab, block, bytes }));
            i += HEAD + len.div_ceil(8);
        }
    }
    Ok(out)
}

/// The batch's fields on this rank's rows, each `[block][layer][row][x]` (NaN off land),
/// back to back: every rank sends the values of its cells, as the f32 the file stores, to
/// the ranks writing their rows (collective; a rank whose batch is inconsistent still takes
/// part, and returns its error after the exchange).
fn batch_on_rows(
    comm: &dyn Communicator,
    plan: &RowPlan,
    batch: &RecordBatch,
) -> Result<Vec<f32>, CycleError> {
    let per = batch.per;
    let counts: Vec<usize> = plan.to_counts.iter().map(|&n| n * per).collect();
    let send = pack_cells(plan, batch, &counts);
    let mut recv = Vec::new();
    let got = comm
        .alltoallv_flat_f32(&send, &counts, &mut recv)
        .map_err(exchange_error)?;
    drop(send);
    if batch.values.len() != plan.dest.len() * per {
        return Err(exchange_error(format!(
            "{} values for {} cells × {per}",
            batch.values.len(),
            plan.dest.len()
        )));
    }
    let slab = plan.rows.len() * plan.nx;
    let mut out = vec![f32::NAN; per * slab];
    let mut at = 0;
    for (ids, &n) in plan.from.iter().zip(&got) {
        if n != ids.len() * per {
            return Err(exchange_error(format!(
                "{n} values for {} cells × {per}",
                ids.len()
            )));
        }
        for (&id, v) in ids.iter().zip(recv[at..at + n].chunks_exact(per)) {
            let cell = id as usize - plan.rows.start * plan.nx;
            for (s, &x) in v.iter().enumerate() {
                out[s * slab + cell] = x;
            }
        }
        at += n;
    }
    Ok(out)
}

/// This rank's cells' values of the batch, grouped by destination rank (`counts`; cells
/// without values are sent as zeros, for the caller to refuse after the exchange).
fn pack_cells(plan: &RowPlan, batch: &RecordBatch, counts: &[usize]) -> Vec<f32> {
    let per = batch.per;
    let mut next: Vec<usize> = counts
        .iter()
        .scan(0, |acc, &c| {
            *acc += c;
            Some(*acc - c)
        })
        .collect();
    let mut send = vec![0.0f32; counts.iter().sum()];
    for (v, &d) in batch.values.chunks_exact(per.max(1)).zip(&plan.dest) {
        send[next[d]..next[d] + per].copy_from_slice(v);
        next[d] += per;
    }
    send
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
