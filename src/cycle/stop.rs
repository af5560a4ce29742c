//! A request to stop (SIGTERM, SIGINT) honoured at a safe point: before a window starts,
//! after every file of the previous window is committed. The signal handler only sets the
//! flag (the `commands` room registers it); the schedules ask [`StopFlag::agreed`] at their
//! safe points, collectively, so every rank stops at the same window.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::parallel::Communicator;

/// The signal number that asked this process to stop (0: none).
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<AtomicUsize>);

impl StopFlag {
    /// The shared cell a signal handler stores the signal number in.
    pub fn cell(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.0)
    }

    /// The signal that asked this process to stop, if one did.
    pub fn requested(&self) -> Option<i32> {
        match self.0.load(Ordering::SeqCst) {
            0 => None,
            s => i32::try_from(s).ok(),
        }
    }

    /// Ask to stop as if signal `signal` had arrived (tests, embedding programs).
    pub fn request(&self, signal: i32) {
        self.0.store(signal.max(1) as usize, Ordering::SeqCst);
    }

    /// Whether any rank was asked to stop. Collective.
    pub fn agreed(&self, comm: &dyn Communicator) -> bool {
        !comm.all_ok(self.requested().is_none())
    }
}

/// The conventional name of a stop signal, for messages.
pub fn signal_name(signal: i32) -> String {
    match signal {
        2 => "SIGINT".into(),
        15 => "SIGTERM".into(),
        s => format!("signal {s}"),
    }
}
