//! The root's side of a parallel history file: the header written at once, then the chunks
//! every rank compressed, handed to the run's writer thread a batch at a time, so that
//! neither the root's main thread nor the ranks waiting on it wait for the disk.

use std::path::Path;
use std::sync::{Arc, Mutex};

use super::error::{agree, CycleError};
use crate::io::atomic::{temp_path_for, PendingFile};
use crate::io::history::HistoryWrite;
use crate::io::history_chunks::{write_header, Chunk, ChunkPlan, ChunkWriter};
use crate::io::writer::{CommitJob, Output, WriteJob};
use crate::parallel::Communicator;

/// Compressed bytes held on the root before they go to the writer thread as one job: with at
/// most one job queued behind the running one, the root holds at most about three batches.
const BATCH_BYTES: usize = 32 << 20;

/// The root's file: its header written under a temporary name (removed again on any
/// failure), open for the chunks, and the fields gathered but not yet handed on.
pub(super) struct RootFile {
    pending: PendingFile,
    writer: Arc<Mutex<Option<ChunkWriter>>>,
    plan: Arc<ChunkPlan>,
    held: Vec<(usize, Vec<Chunk>)>,
    held_bytes: usize,
}

impl RootFile {
    pub(super) fn create(
        path: &Path,
        write: &HistoryWrite,
        plan: Arc<ChunkPlan>,
    ) -> Result<Self, CycleError> {
        let tmp = temp_path_for(path);
        let header = write_header((&tmp, path), write, &plan);
        // Adopted first, so that a failed header or reopening removes the temporary file.
        let pending = PendingFile::adopt(tmp.clone(), path)?;
        header?;
        let writer = ChunkWriter::open(&tmp, path)?;
        Ok(RootFile {
            pending,
            writer: Arc::new(Mutex::new(Some(writer))),
            plan,
            held: Vec::new(),
            held_bytes: 0,
        })
    }

    /// Field `k`'s chunks from every rank; a full batch goes to the writer.
    pub(super) fn add_field(
        &mut self,
        k: usize,
        chunks: Vec<Chunk>,
        output: Option<&Output<CycleError>>,
    ) -> Result<(), CycleError> {
        self.held_bytes += chunks.iter().map(|c| c.bytes.len()).sum::<usize>();
        self.held.push((k, chunks));
        if self.held_bytes < BATCH_BYTES {
            return Ok(());
        }
        let job = self.batch_job();
        run(output, Box::new(move || job().map(|()| no_commit())))
    }

    /// The last batch, the file closed and its commit queued behind the run's earlier output.
    pub(super) fn finish(mut self, output: Option<&Output<CycleError>>) -> Result<(), CycleError> {
        let last = self.batch_job();
        let (writer, pending) = (self.writer, self.pending);
        run(
            output,
            Box::new(move || {
                last()?;
                let taken = writer.lock().ok().and_then(|mut w| w.take());
                if let Some(w) = taken {
                    w.close()?;
                }
                let commit: CommitJob<CycleError> = Box::new(move || Ok(pending.commit()?));
                Ok(commit)
            }),
        )
    }

    /// Writing the held fields (in the order gathered), as a job for the writer thread.
    fn batch_job(&mut self) -> impl FnOnce() -> Result<(), CycleError> + Send + 'static {
        let fields = std::mem::take(&mut self.held);
        self.held_bytes = 0;
        let (writer, plan) = (Arc::clone(&self.writer), Arc::clone(&self.plan));
        move || {
            let guard = writer
                .lock()
                .map_err(|_| CycleError::Invalid("history chunk writer poisoned".into()))?;
            let Some(w) = guard.as_ref() else {
                return Err(CycleError::Invalid("history file already closed".into()));
            };
            for (k, chunks) in fields {
                w.write_field(&plan, k, chunks)?;
            }
            Ok(())
        }
    }
}

fn no_commit() -> CommitJob<CycleError> {
    Box::new(|| Ok(()))
}

/// Run `job` on the run's output policy, or here and now without one.
fn run(output: Option<&Output<CycleError>>, job: WriteJob<CycleError>) -> Result<(), CycleError> {
    match output {
        Some(o) => o.submit(job),
        None => job().and_then(|commit| commit()),
    }
}

/// The root's result agreed by every rank: `Some` file on the root, `None` elsewhere.
pub(super) fn agree_root(
    comm: &dyn Communicator,
    root: Option<Result<RootFile, CycleError>>,
) -> Result<Option<RootFile>, CycleError> {
    match root {
        Some(r) => agree(comm, r).map(Some),
        None => agree(comm, Ok(())).map(|()| None),
    }
}
