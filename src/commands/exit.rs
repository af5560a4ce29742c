//! Exit codes of `landcycle run` (and the other commands) by the kind of error, and the
//! stop signals. docs/operations.md lists them; the near-real-time commands have their own
//! (`commands::nrt`).
//!
//! Why classes and not one code: a wrapper (cron, a workflow manager, systemd) must tell
//! "fix the namelist" from "try again when the input has arrived" from "the disk is full"
//! from "a bug". The numbers follow sysexits.h where one fits.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::config::{ConfigError, NamelistError};
use crate::cycle::stop::StopFlag;
use crate::cycle::CycleError;
use crate::forcing::ForcingError;
use crate::io::IoError;

/// Bad input data: a corrupt static, forcing, observation or restart file (EX_DATAERR).
pub const DATA: u8 = 65;
/// An input file is not (yet) there, e.g. the forcing of a window (EX_NOINPUT).
pub const INPUT_MISSING: u8 = 66;
/// A bug or an unclassified failure (EX_SOFTWARE); a panic exits 101.
pub const INTERNAL: u8 = 70;
/// Writing or reading the file system failed, e.g. no space left (EX_IOERR).
pub const IO: u8 = 74;
/// The run directory is locked by another run (EX_TEMPFAIL).
pub const LOCKED: u8 = 75;
/// The namelist, the command line or the run directory's state does not allow the run
/// (EX_CONFIG): a bad key, a configuration fingerprint mismatch, existing cycles.
pub const CONFIG: u8 = 78;

/// An error already printed by the command (an MPI root prints its own before MPI is
/// finalised, since a rank that exits first can make mpirun kill it mid-message): exit with
/// `code` and print nothing more.
#[derive(Debug, thiserror::Error)]
#[error("reported above (exit {code})")]
pub struct Reported {
    pub code: u8,
}

/// The message of an error: each cause once (thiserror messages often embed their source).
pub fn message(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    msg
}

/// The exit code of an error: the first cause in the chain that has a class.
pub fn code_of(e: &anyhow::Error) -> u8 {
    e.chain().find_map(class_of).unwrap_or(INTERNAL)
}

fn class_of(e: &(dyn std::error::Error + 'static)) -> Option<u8> {
    if e.is::<ConfigError>() || e.is::<NamelistError>() {
        return Some(CONFIG);
    }
    if let Some(e) = e.downcast_ref::<CycleError>() {
        return cycle_class(e);
    }
    if let Some(e) = e.downcast_ref::<ForcingError>() {
        return Some(forcing_class(e));
    }
    if let Some(e) = e.downcast_ref::<IoError>() {
        return Some(io_class(e));
    }
    e.is::<std::io::Error>().then_some(IO)
}

fn cycle_class(e: &CycleError) -> Option<u8> {
    use crate::cycle::rundir::RunDirError;
    Some(match e {
        CycleError::Stopped { signal, .. } => 128u8.saturating_add(*signal as u8),
        CycleError::ExistingCycles { .. } | CycleError::Invalid(_) => CONFIG,
        CycleError::RunDir(RunDirError::Locked(_)) => LOCKED,
        CycleError::RunDir(RunDirError::File(e)) | CycleError::Io(e) => io_class(e),
        CycleError::RunDir(_) => IO,
        CycleError::Forcing(e) => forcing_class(e),
        CycleError::Grid(_) => DATA,
        // Writer, model, analysis errors: their causes decide (or INTERNAL).
        _ => return None,
    })
}

fn forcing_class(e: &ForcingError) -> u8 {
    match e {
        ForcingError::MissingFile { .. } => INPUT_MISSING,
        ForcingError::Spec(_) => CONFIG,
        _ => DATA,
    }
}

fn io_class(e: &IoError) -> u8 {
    match e {
        IoError::Fs { .. } => IO,
        IoError::Fingerprint { .. } => CONFIG,
        _ => DATA,
    }
}

/// Register SIGTERM and SIGINT to request a stop at the next safe point (a second one
/// ends the process at once, exit 128 + signal), and ignore SIGXFSZ so that a file-size
/// limit (`ulimit -f`) gives a write error naming the file instead of killing the process.
pub fn stop_on_signals() -> anyhow::Result<StopFlag> {
    use signal_hook::consts::{SIGINT, SIGTERM, SIGXFSZ};
    use signal_hook::flag;
    let stop = StopFlag::default();
    let again = Arc::new(AtomicBool::new(false));
    for sig in [SIGTERM, SIGINT] {
        // Order matters: the shutdown check runs before this signal arms it.
        flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&again))?;
        flag::register(sig, Arc::clone(&again))?;
        flag::register_usize(sig, stop.cell(), sig as usize)?;
    }
    flag::register(SIGXFSZ, Arc::new(AtomicBool::new(false)))?;
    Ok(stop)
}
