//! Errors of the coupler: each names the file or directory involved.

use std::path::PathBuf;

use crate::forcing::ForcingError;
use crate::grid::weights::WeightsError;
use crate::io::IoError;

#[derive(Debug, thiserror::Error)]
pub enum CouplerError {
    #[error("{0}")]
    Io(#[from] IoError),
    #[error("weights: {0}")]
    Weights(#[from] WeightsError),
    #[error("{0}")]
    Forcing(#[from] ForcingError),
    #[error("no {} after waiting {waited_s} s (coupler:deadline_seconds): the atmosphere has not delivered cycle {cycle}", path.display())]
    NoReady {
        path: PathBuf,
        cycle: String,
        waited_s: u64,
    },
    #[error("{}: sha256 {found} differs from {expected} in {}: the file changed after it was published", path.display(), listed_in.display())]
    Checksum {
        path: PathBuf,
        listed_in: PathBuf,
        expected: String,
        found: String,
    },
    #[error("{}: {found} bytes, the manifest lists {expected}: a truncated or partly written record", path.display())]
    Truncated {
        path: PathBuf,
        expected: u64,
        found: u64,
    },
    /// The WRF files (mode 'wrf'): the message names the file and what is wrong.
    #[error("{0}")]
    Wrf(String),
    #[error("{}: conflicting re-delivery: READY holds manifest {ready}, but this run already consumed manifest {consumed} of the same cycle (recorded in {}); refusing to use different forcing for a cycle", dir.display(), record.display())]
    Conflict {
        dir: PathBuf,
        record: PathBuf,
        ready: String,
        consumed: String,
    },
    #[error("{}: {msg}", path.display())]
    Protocol { path: PathBuf, msg: String },
    /// Mode 'mpmd': the other application's root; the message says what it sent or failed
    /// to send.
    #[error("mpmd: {0}")]
    Peer(String),
}

impl From<crate::parallel::PeerError> for CouplerError {
    fn from(e: crate::parallel::PeerError) -> Self {
        CouplerError::Peer(e.to_string())
    }
}
