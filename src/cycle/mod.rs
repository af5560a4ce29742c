//! The cycle: consecutive windows of the perturbed land ensemble over the land cells of
//! every rank, with observations, analyses, history output, restarts and run-directory
//! bookkeeping.
//!
//! A run is set up once ([`WindowRunner::setup`]: statics, decomposition, model, perturbers,
//! stages) and then runs an explicit list of windows ([`WindowRunner::run_window`]); the
//! stages of one window are listed in [`window`]. `landcycle run` is the hindcast schedule:
//! take the run-directory lock, set up, run the configured windows, wait for the files.
//! `landcycle nrt` ([`nrt`]) is the near-real-time schedule over the same runner: lock,
//! recover, plan the cycles the clock and the inputs allow ([`schedule`]), run them, record
//! them ([`cycle_record`]); `landcycle status` and `rewind` read and reset it ([`nrt_status`]).
//!
//! Every rank owns a contiguous chunk of land cells along the Hilbert curve (all members of
//! a cell on one rank). Per-cell computation never depends on the decomposition: forcing is
//! remapped from global coordinates, random numbers are keyed by global cell id, and
//! outputs and restarts are gathered and ordered by global id on the root rank. Errors are
//! agreed on collectively before every collective call, so a failing rank stops all ranks.

pub mod alert;
pub mod analysis_1d;
pub mod analysis_diag;
pub mod cycle_record;
pub mod ensemble;
pub mod error;
mod export_stage;
pub mod footprint;
pub mod forcing_policy;
mod forcing_stage;
pub mod history_output;
mod history_par;
mod history_root;
pub mod history_select;
pub mod history_vars;
pub mod image_analysis;
pub mod image_diag;
pub mod image_exchange;
pub mod image_members;
pub mod image_obs;
pub mod image_retrievals;
pub mod image_spread;
pub mod image_stage;
pub mod initial;
pub mod late_obs;
pub mod nrt;
pub mod nrt_status;
pub mod obs_error_map;
pub mod obs_halo;
pub mod obs_route;
pub mod obs_window;
pub mod output_check;
mod perturb_share;
pub mod perturber;
mod restart_io;
pub mod restart_output;
pub mod retry;
pub mod rundir;
pub mod schedule;
pub mod select;
pub mod setup;
pub mod stop;
pub mod timing;
pub mod window;

use std::path::PathBuf;

use chrono::NaiveDateTime;

pub use error::{agree, CycleError};
pub use forcing_stage::forcing_spec;
pub use select::{nrt, run};
pub use setup::SetupOptions;
pub use window::WindowRunner;

use crate::config::Config;
use crate::lsm::BuildModel;
use crate::parallel::Communicator;
use crate::time::{windows, Window};
use rundir::RunDir;

/// Command-line options of `landcycle run`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Run directory (overrides the namelist's `run:rundir`).
    pub rundir: Option<PathBuf>,
    /// Run at most this many windows.
    pub windows: Option<usize>,
    /// Continue from the latest complete restart in the run directory.
    pub resume: bool,
    /// Show a progress bar (root rank, terminal only).
    pub progress: bool,
    /// Write output files on the main thread instead of the background writer.
    pub sync_output: bool,
    /// What a run without `resume` does with cycles already in the run directory.
    pub existing: ExistingCycles,
    /// Set by a stop signal; checked before every window.
    pub stop: stop::StopFlag,
}

/// What a fresh run (without `--resume`) does with cycles already in its run directory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExistingCycles {
    /// Refuse to start (`landcycle run` without `--force`): they might be another
    /// configuration's, and a later `--resume` would mix the two.
    #[default]
    Refuse,
    /// Move them and the run's records into `trash/<time>-force/` (`--force`), never deleting.
    MoveAside,
    /// Write over them (the OSSE nature run, which is regenerated as a whole by design).
    Overwrite,
}

/// Rank 0, under the lock: remove temporary files of a crash, then apply `policy` to the
/// cycles already in the run directory (a resumed run keeps them).
fn prepare_rundir(rundir: &RunDir, resume: bool, policy: ExistingCycles) -> Result<(), CycleError> {
    let removed = rundir.remove_temp_files();
    if removed > 0 {
        tracing::info!("removed {removed} temporary file(s) of an interrupted write");
    }
    // Cycle directories a failed start left without any result are not worth protecting.
    let cycles: Vec<NaiveDateTime> = rundir
        .cycles()
        .into_iter()
        .filter(|c| rundir.holds_results(*c))
        .collect();
    if resume || cycles.is_empty() {
        return Ok(());
    }
    match policy {
        ExistingCycles::Overwrite => Ok(()),
        ExistingCycles::Refuse => Err(CycleError::ExistingCycles {
            rundir: rundir.root.clone(),
            cycles: describe_cycles(&cycles),
        }),
        ExistingCycles::MoveAside => {
            let tag = format!("{}-force", chrono::Utc::now().format("%Y%m%dT%H%M%S"));
            let (trash, moved) = rundir.move_all_aside(&tag)?;
            tracing::warn!(
                "--force: moved {} cycle(s) and the run records to {}",
                moved.len(),
                trash.display()
            );
            Ok(())
        }
    }
}

/// "2020060106 … 2020060200, 4 cycles".
fn describe_cycles(c: &[NaiveDateTime]) -> String {
    match c {
        [one] => crate::time::cycle_label(*one),
        [first, .., last] => format!(
            "{} … {}, {} cycles",
            crate::time::cycle_label(*first),
            crate::time::cycle_label(*last),
            c.len()
        ),
        [] => "none".into(),
    }
}

/// Wall-clock time per stage (maximum over ranks) and what was done.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    pub windows_run: usize,
    pub last_cycle: Option<NaiveDateTime>,
    pub n_land_cells: usize,
    pub stage_seconds: Vec<(&'static str, f64)>,
    /// This rank's main-thread CPU seconds per stage (not reduced over ranks).
    pub own_stage_cpu_seconds: Vec<(&'static str, f64)>,
    /// Peak resident memory of this rank (kB), from /proc when available.
    pub peak_rss_kb: Option<u64>,
}

/// The hindcast schedule of `landcycle run` for model `M`: lock the run directory, set up,
/// run the windows from the initial state to `run:end` (or `opts.windows` of them).
pub(crate) fn run_model<M: BuildModel>(
    cfg: &Config,
    comm: &dyn Communicator,
    opts: &RunOptions,
) -> Result<RunSummary, CycleError> {
    let rundir = RunDir::new(
        opts.rundir
            .clone()
            .unwrap_or_else(|| cfg.run.rundir.clone()),
    );
    // The root rank holds the run lock for the whole run.
    let lock = (comm.rank() == 0)
        .then(|| {
            let l = rundir.lock()?;
            prepare_rundir(&rundir, opts.resume, opts.existing)?;
            Ok(l)
        })
        .transpose();
    let _lock = agree(comm, lock)?;
    let setup = SetupOptions {
        resume: opts.resume,
        sync_output: opts.sync_output,
        resume_from: None,
    };
    let mut runner = WindowRunner::<M>::setup(cfg, comm, &rundir, setup)?;
    let mut todo = windows(runner.start(), cfg.run.end, i64::from(cfg.run.window_hours));
    if let Some(n) = opts.windows {
        todo.truncate(n);
    }
    let progress =
        (comm.rank() == 0 && opts.progress && !todo.is_empty()).then(|| progress_bar(todo.len()));
    let mut ran = 0;
    runner.run_windows_until(&todo, &opts.stop, |w| {
        ran += 1;
        if let Some(pb) = &progress {
            pb.set_message(w.label());
            pb.inc(1);
        }
    })?;
    if let Some(pb) = progress {
        pb.finish();
    }
    let mut summary = runner.finish()?;
    summary.windows_run = ran;
    summary.last_cycle = todo.get(ran.wrapping_sub(1)).map(|w| w.end);
    if ran < todo.len() {
        let signal = opts.stop.requested().unwrap_or(15);
        let last = summary.last_cycle.map(crate::time::cycle_label);
        return Err(CycleError::Stopped { signal, last });
    }
    Ok(summary)
}

/// The progress bar's layout: elapsed time, bar, windows done, estimated time left (from
/// the mean rate of the windows so far), current cycle.
pub const PROGRESS_TEMPLATE: &str =
    "{elapsed_precise} [{bar:40}] {pos}/{len} windows, ETA {eta_precise} {msg}";

fn progress_bar(n: usize) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new(n as u64);
    pb.set_style(
        indicatif::ProgressStyle::with_template(PROGRESS_TEMPLATE)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    pb
}

impl<M: crate::lsm::LandModel> WindowRunner<'_, M> {
    /// Run `todo` in order (consecutive windows from the initial state); `done(w)` after each.
    pub fn run_windows(
        &mut self,
        todo: &[Window],
        done: impl FnMut(&Window),
    ) -> Result<(), CycleError> {
        self.run_windows_until(todo, &stop::StopFlag::default(), done)
    }

    /// As [`WindowRunner::run_windows`], but no window starts once a rank was asked to
    /// stop (`stop`, agreed by all ranks); the caller counts the windows `done` saw.
    pub fn run_windows_until(
        &mut self,
        todo: &[Window],
        stop: &stop::StopFlag,
        mut done: impl FnMut(&Window),
    ) -> Result<(), CycleError> {
        self.set_horizon(todo.last().map_or(self.start(), |w| w.end));
        for w in todo {
            if stop.agreed(self.comm) {
                if self.comm.rank() == 0 {
                    tracing::warn!("stop requested: not starting cycle {}", w.label());
                }
                return Ok(());
            }
            let t = std::time::Instant::now();
            self.run_window(w)?;
            if self.comm.rank() == 0 {
                let elapsed_s = t.elapsed().as_secs_f64();
                tracing::info!(elapsed_s, "cycle {} complete", w.label());
            }
            done(w);
        }
        Ok(())
    }

    /// Wait for the last files (the run is complete only when they are on disk) and
    /// summarise the time per stage (maximum over ranks). Collective.
    pub fn finish(mut self) -> Result<RunSummary, CycleError> {
        let written = {
            let _s = self.clock.start(timing::stage::RESTART);
            self.output.take().map(|o| o.finish()).transpose()
        };
        let (written, committed) = agree(self.comm, written)?.unwrap_or_default();
        self.clock.add("writer thread", written);
        self.clock.add("file sync thread", committed);
        let comm = self.comm;
        let stage_seconds = self
            .clock
            .totals()
            .into_iter()
            .map(|(n, d)| (n, comm.allreduce_max_f64(d.as_secs_f64())))
            .collect();
        let own_stage_cpu_seconds = self
            .clock
            .cpu_totals()
            .into_iter()
            .map(|(n, d)| (n, d.as_secs_f64()))
            .collect();
        Ok(RunSummary {
            n_land_cells: self.n_land,
            stage_seconds,
            own_stage_cpu_seconds,
            peak_rss_kb: peak_rss_kb(),
            ..Default::default()
        })
    }
}

/// CPU time (user + system, s) used so far by all threads of this process, living and
/// ended (`CLOCK_PROCESS_CPUTIME_ID`, ns resolution: the same clock as the threads' own CPU
/// times, so a thread's share never exceeds the process's as /proc's 1/100 s ticks let it).
/// `None` where the clock is missing.
pub fn process_cpu_seconds() -> Option<f64> {
    timing::cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID).map(|d| d.as_secs_f64())
}

/// Peak resident set size of this process (kB), from /proc/self/status.
pub fn peak_rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}
