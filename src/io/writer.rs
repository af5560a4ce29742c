//! The ordered background writer of the root rank: history, diagnostics and restart files
//! are built on one thread while the ensemble steps on, at most one job queued behind the
//! running one, and a second thread commits the finished files (fsync, rename, state
//! records) in the order they were written.
//!
//! Contract: a file's commit runs only after its write succeeded, commits run in submission
//! order, and the first failure is reported at the next [`Writer::submit`] or at
//! [`Writer::finish`]; after a failure the writer writes nothing more (the commit thread still
//! commits the files written before it). netCDF and HDF5 calls from both threads are
//! serialised by the one global HDF5 lock that the netcdf and hdf5 crates share.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Failures of the writer's own threads (a job's failure is the job's error type).
#[derive(Debug, thiserror::Error)]
pub enum WriterError {
    #[error("cannot start the {thread} thread: {source}")]
    Spawn {
        thread: &'static str,
        source: std::io::Error,
    },
    #[error("the {thread} thread stopped")]
    Stopped { thread: &'static str },
    #[error("the writer thread panicked")]
    Panicked,
}

/// What is left of a write job once its file is complete under the temporary name: make it
/// durable and visible (fsync, rename) and record it where needed.
pub type CommitJob<E> = Box<dyn FnOnce() -> Result<(), E> + Send>;

/// A file-writing job: builds the file under its temporary name and returns its commit.
pub type WriteJob<E> = Box<dyn FnOnce() -> Result<CommitJob<E>, E> + Send>;

/// Where output jobs run: on the calling thread (synchronous output) or on the background
/// writer. One policy for every file of a run.
pub enum Output<E> {
    Sync,
    Background(Writer<E>),
}

impl<E: From<WriterError> + Send + 'static> Output<E> {
    /// The background writer, or synchronous output when `sync` is set.
    pub fn new(sync: bool) -> Result<Self, E> {
        if sync {
            Ok(Output::Sync)
        } else {
            Ok(Output::Background(Writer::<E>::new()?))
        }
    }

    /// Run `job` now or queue it behind the running one.
    pub fn submit(&self, job: WriteJob<E>) -> Result<(), E> {
        match self {
            Output::Sync => job().and_then(|commit| commit()),
            Output::Background(w) => w.submit(job),
        }
    }

    /// Wait for every queued file; the time spent writing and committing on the threads.
    pub fn finish(self) -> Result<(Duration, Duration), E> {
        match self {
            Output::Sync => Ok((Duration::ZERO, Duration::ZERO)),
            Output::Background(w) => w.finish(),
        }
    }
}

/// The two threads of the background writer.
pub struct Writer<E> {
    tx: Option<SyncSender<WriteJob<E>>>,
    handle: Option<std::thread::JoinHandle<()>>,
    sync_handle: Option<std::thread::JoinHandle<()>>,
    failed: Arc<Mutex<Option<E>>>,
    busy: Arc<Mutex<Duration>>,
    sync_busy: Arc<Mutex<Duration>>,
}

/// A job of one of the writer's threads.
type Job<R, E> = Box<dyn FnOnce() -> Result<R, E> + Send>;

/// Run jobs from `rx` until it closes, timing them into `busy` and keeping the first error
/// in `failed`; `then` receives every successful result. Jobs after a failure are skipped:
/// after any failure (`any_failure`), or only after a failure of this thread's own jobs (the
/// commit thread still commits the files written before the writer failed).
fn run_jobs<R, E>(
    rx: Receiver<Job<R, E>>,
    failed: &Mutex<Option<E>>,
    any_failure: bool,
    busy: &Mutex<Duration>,
    mut then: impl FnMut(R) -> Result<(), E>,
) {
    let mut own_failure = false;
    for job in rx {
        let stop =
            own_failure || (any_failure && failed.lock().map(|g| g.is_some()).unwrap_or(true));
        if stop {
            continue; // after a failure, write nothing more
        }
        let t = Instant::now();
        let r = job().and_then(&mut then);
        if let Ok(mut g) = busy.lock() {
            *g += t.elapsed();
        }
        if let Err(e) = r {
            own_failure = true;
            if let Ok(mut g) = failed.lock() {
                g.get_or_insert(e);
            }
        }
    }
}

impl<E: From<WriterError> + Send + 'static> Writer<E> {
    pub fn new() -> Result<Self, E> {
        let (tx, rx) = sync_channel::<WriteJob<E>>(1);
        let (ctx, crx) = sync_channel::<CommitJob<E>>(2);
        let failed: Arc<Mutex<Option<E>>> = Arc::new(Mutex::new(None));
        let busy = Arc::new(Mutex::new(Duration::ZERO));
        let sync_busy = Arc::new(Mutex::new(Duration::ZERO));
        let spawn_err = |thread| move |source| E::from(WriterError::Spawn { thread, source });
        let (f, b) = (Arc::clone(&failed), Arc::clone(&sync_busy));
        let sync_handle = std::thread::Builder::new()
            .name("landcycle-sync".into())
            .spawn(move || run_jobs(crx, &f, false, &b, |()| Ok(())))
            .map_err(spawn_err("file sync"))?;
        let (f, b) = (Arc::clone(&failed), Arc::clone(&busy));
        let handle = std::thread::Builder::new()
            .name("landcycle-writer".into())
            .spawn(move || {
                run_jobs(rx, &f, true, &b, |commit| {
                    ctx.send(commit).map_err(|_| {
                        E::from(WriterError::Stopped {
                            thread: "file sync",
                        })
                    })
                })
            })
            .map_err(spawn_err("writer"))?;
        Ok(Writer {
            tx: Some(tx),
            handle: Some(handle),
            sync_handle: Some(sync_handle),
            failed,
            busy,
            sync_busy,
        })
    }

    fn take_error(&self) -> Result<(), E> {
        match self.failed.lock().ok().and_then(|mut g| g.take()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Queue `job`; reports an earlier failure instead.
    pub fn submit(&self, job: WriteJob<E>) -> Result<(), E> {
        self.take_error()?;
        let stopped = || E::from(WriterError::Stopped { thread: "writer" });
        let tx = self.tx.as_ref().ok_or_else(stopped)?;
        tx.send(job).map_err(|_| stopped())
    }

    /// Wait for every queued file; returns the first failure and the time spent writing and
    /// committing files.
    pub fn finish(mut self) -> Result<(Duration, Duration), E> {
        if !self.join() {
            return Err(E::from(WriterError::Panicked));
        }
        self.take_error()?;
        let get = |m: &Mutex<Duration>| m.lock().map(|g| *g).unwrap_or_default();
        Ok((get(&self.busy), get(&self.sync_busy)))
    }
}

impl<E> Writer<E> {
    /// Stop accepting jobs and wait for both threads; false when one of them panicked.
    fn join(&mut self) -> bool {
        drop(self.tx.take());
        // The writer thread closes the sync queue when it ends.
        let w = self.handle.take().map(|h| h.join().is_ok()).unwrap_or(true);
        let s = self
            .sync_handle
            .take()
            .map(|h| h.join().is_ok())
            .unwrap_or(true);
        w && s
    }
}

impl<E> Drop for Writer<E> {
    fn drop(&mut self) {
        self.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    enum TestError {
        Writer,
        Job(u32),
    }
    impl From<WriterError> for TestError {
        fn from(_: WriterError) -> Self {
            TestError::Writer
        }
    }

    fn job(log: &Arc<Mutex<Vec<String>>>, k: u32, fail: bool) -> WriteJob<TestError> {
        let log = Arc::clone(log);
        Box::new(move || {
            log.lock().unwrap().push(format!("write {k}"));
            if fail {
                return Err(TestError::Job(k));
            }
            let commit: CommitJob<TestError> = Box::new(move || {
                log.lock().unwrap().push(format!("commit {k}"));
                Ok(())
            });
            Ok(commit)
        })
    }

    #[test]
    fn commits_in_order_and_reports_the_failure() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let out: Output<TestError> = Output::new(false).unwrap();
        for k in 0..3 {
            out.submit(job(&log, k, false)).unwrap();
        }
        out.submit(job(&log, 3, true)).unwrap();
        let r = out.finish();
        assert!(matches!(r, Err(TestError::Job(3))), "{r:?}");
        let log = log.lock().unwrap().clone();
        let commits: Vec<&String> = log.iter().filter(|l| l.starts_with("commit")).collect();
        assert_eq!(commits, ["commit 0", "commit 1", "commit 2"]);
    }

    #[test]
    fn synchronous_output_runs_on_the_caller() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let out: Output<TestError> = Output::new(true).unwrap();
        out.submit(job(&log, 7, false)).unwrap();
        assert_eq!(*log.lock().unwrap(), ["write 7", "commit 7"]);
        assert!(matches!(
            out.submit(job(&log, 8, true)),
            Err(TestError::Job(8))
        ));
    }
}
