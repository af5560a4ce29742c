//! Stage timing: every stage of a window runs inside one `tracing` span named after it, and
//! the same wrapper adds its wall-clock time to the run's summary (maximum over ranks at the
//! end). The order of first use is the order of the summary.

use std::cell::RefCell;
use std::time::{Duration, Instant};

/// Stage names, as the summary prints them.
pub(super) mod stage {
    pub const SETUP: &str = "setup";
    pub const OBSERVATIONS: &str = "observations";
    pub const PERTURBATION: &str = "perturbation";
    pub const FORCING: &str = "forcing";
    pub const PHYSICS: &str = "physics";
    pub const ANALYSIS: &str = "assimilation";
    pub const HISTORY: &str = "history output";
    pub const IMAGE: &str = "image analysis";
    pub const RESTART: &str = "restart";
    pub const EXPORT: &str = "export";
}

/// Accumulated time per stage (interior mutability, so that a stage's guard can live
/// beside mutable borrows of the runner's other fields).
#[derive(Debug, Default)]
pub(super) struct StageClock {
    totals: RefCell<Vec<(&'static str, Duration)>>,
}

/// A running stage: its span is entered until the guard drops, and its time is added then.
pub(super) struct StageGuard<'a> {
    clock: &'a StageClock,
    name: &'static str,
    started: Instant,
    _span: tracing::span::EnteredSpan,
}

impl Drop for StageGuard<'_> {
    fn drop(&mut self) {
        let d = self.started.elapsed();
        tracing::debug!(
            stage = self.name,
            elapsed_s = d.as_secs_f64(),
            "stage {} done",
            self.name
        );
        self.clock.add(self.name, d);
    }
}

impl StageClock {
    /// Start stage `name`.
    pub(super) fn start(&self, name: &'static str) -> StageGuard<'_> {
        StageGuard {
            clock: self,
            name,
            started: Instant::now(),
            _span: tracing::info_span!("stage", name).entered(),
        }
    }

    /// Add `d` to stage `name`.
    pub(super) fn add(&self, name: &'static str, d: Duration) {
        let mut totals = self.totals.borrow_mut();
        match totals.iter_mut().find(|(n, _)| *n == name) {
            Some((_, acc)) => *acc += d,
            None => totals.push((name, d)),
        }
    }

    /// (stage, time) in the order of first use.
    pub(super) fn totals(&self) -> Vec<(&'static str, Duration)> {
        self.totals.borrow().clone()
    }
}
