//! Every rank writes its share of one restart file (MPI-IO through HDF5).
//!
//! The model's decomposition (Hilbert chunks) scatters a rank's cells over the global id
//! order, while the file stores cells in that order. So the cells move first, a few blocks at
//! a time, to the rank that writes their rows (`io::restart_blocks::io_rows`: contiguous whole
//! blocks per rank): two-phase I/O. No rank holds more than its own cells plus a few steps'
//! rows (one step's exchange, two stages of [`STAGE_STEPS`] steps each being filled and
//! written), and every rank's rows are written at once.
//!
//! The writing is in two calls: [`begin_restart_collective`] exchanges every row and queues
//! it to an I/O thread; [`RestartInFlight::finish`] waits for the writes and completes the
//! file. Between them the main thread can do other output (the window end's history), while
//! the rows go to the device: at 0.25° the main thread otherwise waited 0.2–0.5 s for them.

use super::ensemble::CellEnsemble;
use super::error::CycleError;
use super::perturber::Perturber;
use super::timing::PhaseTimes;
use crate::io::restart_blocks::{
    digests_from_words, digests_to_words, io_rows, BlockDigest, BLOCK_CELLS,
};
use crate::io::restart_raw::{put_le, FieldRows, RowStage};
use crate::io::restart_writer::{stage_digests, RestartLayout, RestartWriter};
use crate::io::IoError;
use crate::lsm::LandModel;
use crate::parallel::{order_by_id, Communicator};
use std::ops::Range;
use std::path::Path;
use std::sync::mpsc;

/// Blocks moved per step (2048 cells per writing rank): bounds the memory of the exchange to
/// a few copies of one step's rows (≈ 11 MB each for Noah with 20 members).
const STEP_BLOCKS: usize = 2048 / BLOCK_CELLS;

/// Steps whose rows go to the I/O thread as one stage (4096 cells per writing rank): twice
/// as large direct writes per field, which the device takes faster (600 MB from each of two
/// processes: 0.62 s in 320 KB writes, 0.54 s in 1 MB ones, `dd`); at 0.25° the restart's
/// main-thread time fell from 0.83–1.04 s to 0.70–0.81 s (six interleaved runs each,
/// docs/benchmarks.md). Four steps made the unpack leave the cache and gained nothing.
const STAGE_STEPS: usize = 2;

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
        self.piece_of_rows(r, s, STEP_BLOCKS * BLOCK_CELLS)
    }

    /// Rows rank `r` writes in stage `k` (steps `k·STAGE_STEPS ..`).
    fn stage_rows(&self, r: usize, k: usize) -> Range<usize> {
        self.piece_of_rows(r, k, STAGE_STEPS * STEP_BLOCKS * BLOCK_CELLS)
    }

    /// Piece `k` of `per` rows of rank `r`'s rows (empty past their end).
    fn piece_of_rows(&self, r: usize, k: usize, per: usize) -> Range<usize> {
        let rows = self.rows_of(r);
        let a = (rows.start + k * per).min(rows.end);
        a..(a + per).min(rows.end)
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

/// A restart whose rows are all exchanged and queued for writing, not yet complete. Dropped
/// without [`Self::finish`] (an agreed failure in between), the I/O thread ends after its
/// queue and the file is closed (collective: every rank drops it at the same point).
pub(super) struct RestartInFlight {
    w: RestartWriter,
    io: StepIo,
    thread: Option<std::thread::JoinHandle<()>>,
    t: PhaseTimes<5>,
}

/// Start writing this rank's rows of the restart at `tmp` (collective): the file created,
/// every step's rows exchanged and queued to the I/O thread. Returns an error agreed by
/// every rank.
pub(super) fn begin_restart_collective<M: LandModel>(
    comm: &dyn Communicator,
    plan: &IoPlan,
    layout: &RestartLayout,
    src: &RestartSource<M>,
    (tmp, final_path): (&Path, &Path),
) -> Result<RestartInFlight, CycleError> {
    let fc = comm.file_comm();
    let created = RestartWriter::create(tmp, final_path, layout, fc.as_ref());
    if !comm.all_ok(created.is_ok()) {
        return Err(created.err().map_or_else(other_rank, CycleError::from));
    }
    let mut w = created?;
    let rows_io = w.field_rows();
    if !comm.all_ok(rows_io.is_ok()) {
        return Err(rows_io.err().map_or_else(other_rank, CycleError::from));
    }
    let mut t = PhaseTimes::new([
        "pack",
        "exchange",
        "unpack",
        "ids and coordinates",
        "wait for writes",
    ]);
    let (io, thread) = spawn_io(rows_io?, layout, w.path());
    let io = exchange_and_write(comm, plan, (layout, src), &mut w, io, &mut t)?;
    Ok(RestartInFlight { w, io, thread, t })
}

impl RestartInFlight {
    /// Wait for this rank's writes, then store every rank's block digests and the file
    /// checksum and close the file (collective). Returns an error agreed by every rank; the
    /// file is complete and closed on success.
    pub(super) fn finish(self, comm: &dyn Communicator) -> Result<(), CycleError> {
        let RestartInFlight {
            mut w,
            io,
            thread,
            mut t,
        } = self;
        let (mut failed, digests) = t.time(4, || io.finish());
        let joined = thread.is_none_or(|h| h.join().is_ok());
        if !joined && failed.is_none() {
            failed = Some(IoError::Invalid {
                path: w.path().to_path_buf(),
                msg: "the restart I/O thread panicked".into(),
            });
        }
        w.add_digests(digests);
        t.log("restart");
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
}

/// The `restart-io` thread: it writes each step's staged rows and digests them while the
/// main thread exchanges the next step (and, after the last, does other work).
fn spawn_io(
    mut rows_io: FieldRows,
    layout: &RestartLayout,
    path: &Path,
) -> (StepIo, Option<std::thread::JoinHandle<()>>) {
    let (to_io, from_main) = mpsc::sync_channel::<ToIo>(1);
    let (to_main, from_io) = mpsc::channel::<FromIo>();
    let (lens, hash) = (layout.row_lens(), layout.block_hash());
    let spawned = std::thread::Builder::new()
        .name("restart-io".into())
        .spawn(move || {
            for (rows, ids, stage) in from_main {
                let r = rows_io.write(&rows, &stage);
                let d = stage_digests(hash, rows, &ids, &stage, &lens);
                if to_main.send((stage, r, d)).is_err() {
                    break;
                }
            }
        });
    let mut steps = StepIo::new(to_io, from_io);
    match spawned {
        Ok(h) => (steps, Some(h)),
        Err(e) => {
            steps.keep_error(Err(IoError::Invalid {
                path: path.to_path_buf(),
                msg: format!("starting the restart I/O thread: {e}"),
            }));
            (steps, None)
        }
    }
}

/// A step's rows to the I/O thread: the rows, their cell ids and their staged bytes.
type ToIo = (Range<usize>, Vec<u64>, RowStage);
/// Back from the I/O thread: the stage to reuse, the write's result, the rows' digests.
type FromIo = (RowStage, Result<(), IoError>, Vec<BlockDigest>);

/// The staged rows on their way to the I/O thread and back: two stages, so that one step is
/// unpacked while the other is written. The digests come back in step order.
struct StepIo {
    to_io: mpsc::SyncSender<ToIo>,
    from_io: mpsc::Receiver<FromIo>,
    free: Vec<RowStage>,
    failed: Option<IoError>,
    digests: Vec<BlockDigest>,
}

impl StepIo {
    fn new(to_io: mpsc::SyncSender<ToIo>, from_io: mpsc::Receiver<FromIo>) -> Self {
        StepIo {
            to_io,
            from_io,
            free: vec![RowStage::new(), RowStage::new()],
            failed: None,
            digests: Vec::new(),
        }
    }

    /// A free stage: a new one, or the next the I/O thread has written (its error and
    /// digests kept).
    fn next_stage(&mut self) -> RowStage {
        if let Some(s) = self.free.pop() {
            return s;
        }
        match self.from_io.recv() {
            Ok((s, r, d)) => {
                self.keep_error(r);
                self.digests.extend(d);
                s
            }
            Err(_) => RowStage::new(),
        }
    }

    fn keep_error(&mut self, r: Result<(), IoError>) {
        keep_first(&mut self.failed, r);
    }

    /// Wait for every write, returning the first error and every step's digests.
    fn finish(self) -> (Option<IoError>, Vec<BlockDigest>) {
        let StepIo {
            to_io,
            from_io,
            mut failed,
            mut digests,
            ..
        } = self;
        drop(to_io);
        for (_, r, d) in from_io {
            keep_first(&mut failed, r);
            digests.extend(d);
        }
        (failed, digests)
    }
}

/// Keep `r`'s error unless one is kept already.
fn keep_first(failed: &mut Option<IoError>, r: Result<(), IoError>) {
    if let (None, Err(e)) = (&*failed, r) {
        *failed = Some(e);
    }
}

/// Every step: this rank's records to the writing ranks, the rows received staged as stored,
/// their ids and coordinates here, their bytes to the I/O thread (which digests them).
/// Returns the steps' queue, holding the first write error so far (the steps' exchanges go
/// on after an error, so that every rank joins every collective).
fn exchange_and_write<M: LandModel>(
    comm: &dyn Communicator,
    plan: &IoPlan,
    (layout, src): (&RestartLayout, &RestartSource<M>),
    w: &mut RestartWriter,
    mut io: StepIo,
    t: &mut PhaseTimes<5>,
) -> Result<StepIo, CycleError> {
    let abort_here = test_abort_requested(plan.rank);
    let mut bufs = StepBuffers::default();
    let mut open: Option<(Range<usize>, RowStage)> = None;
    for s in 0..plan.n_steps() {
        t.time(0, || bufs.pack(plan, src, s));
        let from = t
            .time(1, || {
                comm.alltoallv_flat_f64(&bufs.send, &bufs.counts, &mut bufs.recv)
            })
            .map_err(|e| CycleError::Invalid(format!("restart exchange: {e}")))?;
        let rows = plan.step_rows(plan.rank, s);
        if io.failed.is_none() && !rows.is_empty() {
            let (r, mut stage) = match open.take() {
                Some(o) => o,
                None => new_stage(plan, w, &mut io, s, t),
            };
            let recv = (bufs.recv.as_slice(), from.as_slice());
            t.time(2, || {
                unpack_rows(plan, layout, recv, (rows.clone(), r.start), &mut stage)
            });
            if rows.end < r.end {
                open = Some((r, stage));
            } else {
                submit_stage(plan, w, &mut io, (r, stage), t);
            }
        }
        // After this rank's first stage went to the I/O thread (at once without rows).
        if abort_here && open.is_none() {
            eprintln!(
                "LANDCYCLE_TEST_ABORT_RESTART_RANK: rank {} aborts inside a restart write",
                plan.rank
            );
            std::process::abort();
        }
    }
    Ok(io)
}

/// The stage of step `s`'s rows, laid out for the rows of all its steps.
fn new_stage(
    plan: &IoPlan,
    w: &RestartWriter,
    io: &mut StepIo,
    s: usize,
    t: &mut PhaseTimes<5>,
) -> (Range<usize>, RowStage) {
    let rows = plan.stage_rows(plan.rank, s / STAGE_STEPS);
    let mut stage = t.time(4, || io.next_stage());
    t.time(2, || w.stage(&mut stage, &rows));
    (rows, stage)
}

/// A filled stage's ids and coordinates, then its bytes to the I/O thread.
fn submit_stage(
    plan: &IoPlan,
    w: &mut RestartWriter,
    io: &mut StepIo,
    (rows, mut stage): (Range<usize>, RowStage),
    t: &mut PhaseTimes<5>,
) {
    let ids: Vec<u64> = plan.order[rows.clone()].iter().map(|o| o.0).collect();
    let meta = t.time(3, || {
        w.stage_meta(&mut stage, &rows, &ids);
        w.claim_rows(rows.clone(), &ids, &stage)
    });
    io.keep_error(meta);
    if io.to_io.send((rows, ids, stage)).is_err() {
        io.keep_error(Err(IoError::Invalid {
            path: w.path().to_path_buf(),
            msg: "the restart I/O thread stopped".into(),
        }));
    }
    crate::io::crash::point("restart_rows", None);
}

fn other_rank() -> CycleError {
    CycleError::Invalid("writing the restart failed on another rank (see its log)".into())
}

/// One step's memory, kept from step to step: the records sent (blocks for ranks 0, 1, …
/// back to back, `counts` values each) and those received.
#[derive(Default)]
struct StepBuffers {
    send: Vec<f64>,
    counts: Vec<usize>,
    recv: Vec<f64>,
}

impl StepBuffers {
    /// Step `s`'s records of this rank's cells, one block per destination rank, in row order.
    fn pack<M: LandModel>(&mut self, plan: &IoPlan, src: &RestartSource<M>, s: usize) {
        self.send.clear();
        self.counts.clear();
        for r in 0..plan.size {
            let before = self.send.len();
            for &(_, owner, k) in &plan.order[plan.step_rows(r, s)] {
                if owner == plan.rank {
                    src.push_record(k, &mut self.send);
                }
            }
            self.counts.push(self.send.len() - before);
        }
    }
}

/// Rows `rows` of every field (layout order) into `stage` (laid out from row `first`) as
/// stored, `[cell][member][per_cell]`, from the records received (`recv`, back to back with
/// `counts[r]` values from rank `r`).
fn unpack_rows(
    plan: &IoPlan,
    layout: &RestartLayout,
    (recv, counts): (&[f64], &[usize]),
    (rows, first): (Range<usize>, usize),
    stage: &mut RowStage,
) {
    let m = layout.n_members;
    let lens = layout.row_lens();
    let n_model = layout.fields[0].len();
    let state_width: usize = layout.fields[0].iter().map(|f| f.1).sum();
    let record: usize = lens.iter().sum();
    let mut cursor: Vec<usize> = counts
        .iter()
        .scan(0, |at, &c| {
            *at += c;
            Some(*at - c)
        })
        .collect();
    let mut out = stage.fields_mut();
    let skip = rows.start - first;
    let mut pos: Vec<usize> = lens.iter().map(|l| skip * 8 * l).collect();
    for &(_, owner, _) in &plan.order[rows] {
        let rec = &recv[cursor[owner]..cursor[owner] + record];
        cursor[owner] += record;
        let (states, perts) = rec.split_at(m * state_width);
        for member in states.chunks_exact(state_width) {
            let mut off = 0;
            for (f, (_, len)) in layout.fields[0].iter().enumerate() {
                put_le(out[f], &mut pos[f], &member[off..off + len]);
                off += len;
            }
        }
        let mut off = 0;
        for (f, l) in lens.iter().enumerate().skip(n_model) {
            put_le(out[f], &mut pos[f], &perts[off..off + l]);
            off += l;
        }
    }
}

/// Test-only crash point: `LANDCYCLE_TEST_ABORT_RESTART_RANK=r` aborts rank `r` in the middle
/// of a restart write (after its first rows), to prove the previous restart survives.
fn test_abort_requested(rank: usize) -> bool {
    std::env::var("LANDCYCLE_TEST_ABORT_RESTART_RANK")
        .is_ok_and(|v| v.trim().parse::<usize>().ok() == Some(rank))
}
