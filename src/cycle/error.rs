//! Errors of a run and the agreement on them across ranks.

use crate::forcing::ForcingError;
use crate::grid::GridError;
use crate::io::writer::WriterError;
use crate::io::IoError;
use crate::lsm::LsmError;
use crate::parallel::Communicator;
use crate::perturb::PerturbError;

use super::analysis_1d::AssimError;
use super::ensemble::StepError;
use super::rundir::RunDirError;

/// Errors of a run, each naming the file, variable, time or place involved.
#[derive(Debug, thiserror::Error)]
pub enum CycleError {
    #[error("static fields: {0}")]
    Grid(#[from] GridError),
    #[error("land model: {0}")]
    Model(LsmError),
    #[error("forcing: {0}")]
    Forcing(#[from] ForcingError),
    #[error("perturbations: {0}")]
    Perturb(#[from] PerturbError),
    #[error("{0}")]
    Io(#[from] IoError),
    #[error("output: {0}")]
    Writer(#[from] WriterError),
    #[error("{0}")]
    RunDir(#[from] RunDirError),
    #[error("land model: {0}")]
    Step(#[from] StepError),
    #[error("land model, cell {cell_id}: {source}")]
    Cell { cell_id: u64, source: LsmError },
    #[error("{0}")]
    Invalid(String),
    #[error("observations of window {window}: {source}")]
    ObsRoute {
        window: String,
        source: crate::parallel::ParallelError,
    },
    #[error("another rank failed (see its error message above)")]
    PeerFailed,
    #[error("{0}")]
    Assim(#[from] Box<AssimError>),
    /// A stop signal was honoured at a safe point: every file of the cycles before is
    /// committed.
    #[error(
        "stopped by {} at a safe point{}: every completed cycle is committed; \
         continue with `landcycle run --resume` (or the next `landcycle nrt`)",
        super::stop::signal_name(*signal),
        last.as_ref().map(|c| format!(" after cycle {c}")).unwrap_or_default()
    )]
    Stopped { signal: i32, last: Option<String> },
    /// `landcycle run` without `--resume` or `--force` on a directory that holds cycles.
    #[error(
        "run directory {} already holds cycles ({}): a fresh run would overwrite them; \
         use --resume to continue them or --force to move them aside (into {}/trash/)",
        rundir.display(), cycles, rundir.display()
    )]
    ExistingCycles {
        rundir: std::path::PathBuf,
        cycles: String,
    },
}

impl From<AssimError> for CycleError {
    fn from(e: AssimError) -> Self {
        CycleError::Assim(Box::new(e))
    }
}

/// Agree on success across ranks: the failing rank keeps its own error, the others get
/// [`CycleError::PeerFailed`]. Called before every collective that follows fallible work.
pub fn agree<T>(comm: &dyn Communicator, r: Result<T, CycleError>) -> Result<T, CycleError> {
    let ok = comm.all_ok(r.is_ok());
    match r {
        Err(e) => Err(e),
        Ok(_) if !ok => Err(CycleError::PeerFailed),
        Ok(v) => Ok(v),
    }
}
