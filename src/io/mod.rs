//! The `io` room: CF/ALMA NetCDF history output, HDF5 restarts, atomic file replacement.
//!
//! Everything here takes plain arrays (no dependency on the `grid` room), so writers can be
//! called from the driver after a gather, from tools and from tests alike. Every file is
//! written through [`atomic::atomic_write`]: a crash never leaves a half-written file under a
//! final name, and a failed write never touches the previous file.
//!
//! File layouts are documented in docs/io.md.

pub mod alma;
pub mod atomic;
pub mod climatology;
pub mod crash;
pub mod diag;
pub mod error_map;
pub mod gridded;
mod h5ds;
pub mod history;
pub mod history_chunks;
mod history_part;
pub mod image_diag;
pub mod restart;
pub mod restart_blocks;
pub mod restart_dump;
pub mod restart_meta;
pub mod restart_raw;
mod restart_v2;
pub mod restart_writer;
pub mod weights;
pub mod wrf_input;
pub mod wrf_out;
pub mod writer;
pub mod xchg;

use std::path::PathBuf;
use thiserror::Error;

pub use atomic::{atomic_write, atomic_write_deferred, PendingFile};
pub use history::{
    history_file_name, write_history, Compression, EnsembleStat, GridKind, GridMapping,
    HistoryField, HistoryGrid, HistoryMetadata, HistoryTime, HistoryWrite, TimeMethod, TimeUnits,
};
pub use restart::{
    check_fingerprint, fingerprint, read_restart, read_restart_cells, restart_file_name,
    restart_info, verify_restart, write_restart, RestartData, RestartField, RestartInfo,
};

/// Errors of the io room. Every message names the file involved, and where it applies the
/// variable (history) or dataset (restart).
#[derive(Debug, Error)]
pub enum IoError {
    /// Operating-system level failure (create, write, fsync, rename, read dir).
    #[error("{path}: {action}: {source}")]
    Fs {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The caller handed in data that cannot be written (shape mismatch, NaN on land, bad name).
    #[error("{path}: {msg}")]
    Invalid { path: PathBuf, msg: String },
    /// The NetCDF library failed while writing a history file.
    #[error("history {path}: {context}: {msg}")]
    NetCdf {
        path: PathBuf,
        context: String,
        msg: String,
    },
    /// The HDF5 library failed (open, read, write) on a restart file.
    #[error("restart {path}: {context}: {msg}")]
    Hdf5 {
        path: PathBuf,
        context: String,
        msg: String,
    },
    /// A restart file is structurally wrong (missing dataset, wrong shape, bad attribute).
    #[error("restart {path}: {context}: {msg}")]
    Corrupt {
        path: PathBuf,
        context: String,
        msg: String,
    },
    /// The stored checksum does not match the content.
    #[error(
        "restart {path}: checksum mismatch (stored {stored}, computed {computed}): the file is corrupt"
    )]
    Checksum {
        path: PathBuf,
        stored: String,
        computed: String,
    },
    /// The restart was produced by a different configuration.
    #[error("restart {path} was written by a different configuration (fingerprint {found} \u{2260} {expected})")]
    Fingerprint {
        path: PathBuf,
        found: String,
        expected: String,
    },
    /// A requested cell is not in the restart file.
    #[error("restart {path}: cell id {cell_id} is not in the file")]
    MissingCell { path: PathBuf, cell_id: u64 },
}
