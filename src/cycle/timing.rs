//! Stage timing: every stage of a window runs inside one `tracing` span named after it, and
//! the same wrapper adds its wall-clock time to the run's summary (maximum over ranks at the
//! end), and the CPU time of the calling (main) thread, which waiting for a descheduled rank or
//! a loaded machine does not inflate as it does wall time. The order of first use is the
//! order of the summary.

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
    cpu: RefCell<Vec<(&'static str, Duration)>>,
}

/// CPU time of the calling thread so far (zero where the clock is unavailable).
pub fn thread_cpu_time() -> Duration {
    cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID).unwrap_or(Duration::ZERO)
}

/// A CPU-time clock (`CLOCK_THREAD_CPUTIME_ID`, `CLOCK_PROCESS_CPUTIME_ID`), ns resolution;
/// `None` where it is unavailable.
pub(super) fn cpu_clock(clock: libc::clockid_t) -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid pointer to a timespec the call fills.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    (rc == 0).then(|| {
        Duration::new(
            ts.tv_sec.max(0) as u64,
            ts.tv_nsec.clamp(0, 999_999_999) as u32,
        )
    })
}

/// A running stage: its span is entered until the guard drops, and its time is added then.
pub(super) struct StageGuard<'a> {
    clock: &'a StageClock,
    name: &'static str,
    started: Instant,
    cpu_started: Duration,
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
        let cpu = thread_cpu_time().saturating_sub(self.cpu_started);
        add_to(&mut self.clock.cpu.borrow_mut(), self.name, cpu);
    }
}

fn add_to(totals: &mut Vec<(&'static str, Duration)>, name: &'static str, d: Duration) {
    match totals.iter_mut().find(|(n, _)| *n == name) {
        Some((_, acc)) => *acc += d,
        None => totals.push((name, d)),
    }
}

impl StageClock {
    /// Start stage `name`.
    pub(super) fn start(&self, name: &'static str) -> StageGuard<'_> {
        StageGuard {
            clock: self,
            name,
            started: Instant::now(),
            cpu_started: thread_cpu_time(),
            _span: tracing::info_span!("stage", name).entered(),
        }
    }

    /// Add `d` to stage `name`.
    pub(super) fn add(&self, name: &'static str, d: Duration) {
        add_to(&mut self.totals.borrow_mut(), name, d);
    }

    /// (stage, time) in the order of first use.
    pub(super) fn totals(&self) -> Vec<(&'static str, Duration)> {
        self.totals.borrow().clone()
    }

    /// (stage, CPU time of the thread that ran it) in the order of first use.
    pub(super) fn cpu_totals(&self) -> Vec<(&'static str, Duration)> {
        self.cpu.borrow().clone()
    }
}

/// Wall and main-thread CPU time of the phases of one output step, logged at debug level:
/// where a restart's or a history file's time goes on a given machine (docs/benchmarks.md).
pub(super) struct PhaseTimes<const N: usize> {
    names: [&'static str; N],
    times: [(Duration, Duration); N],
}

impl<const N: usize> PhaseTimes<N> {
    pub(super) fn new(names: [&'static str; N]) -> Self {
        PhaseTimes {
            names,
            times: [(Duration::ZERO, Duration::ZERO); N],
        }
    }

    /// Run `f`, adding its time to phase `phase`.
    pub(super) fn time<T>(&mut self, phase: usize, f: impl FnOnce() -> T) -> T {
        let (wall, cpu) = (Instant::now(), thread_cpu_time());
        let out = f();
        self.times[phase].0 += wall.elapsed();
        self.times[phase].1 += thread_cpu_time().saturating_sub(cpu);
        out
    }

    pub(super) fn log(&self, what: &str) {
        let list: Vec<String> = self
            .names
            .iter()
            .zip(&self.times)
            .map(|(n, (w, c))| format!("{n} {:.3}/{:.3}", w.as_secs_f64(), c.as_secs_f64()))
            .collect();
        tracing::debug!("{what} phases, wall/CPU s: {}", list.join(", "));
    }
}
