//! `landcycle nrt`: one near-real-time invocation, as cron calls it every few minutes.
//!
//! ```text
//! lock     the run-directory lock, non-blocking (held: exit 75 at once, touching nothing)
//! recover  remove temporary files of a crash; the resume point is the newest cycle whose
//!          cycle.json says complete AND whose restart verifies AND before which every
//!          recorded output checksum holds (output_check); later cycles are rerun;
//!          state.json is brought back in step with it
//! plan     cycles after the resume point that the clock and the forcing allow
//!          (schedule::plan, forcing_policy), their observation lists frozen into
//!          obs_manifest.json
//! run      the planned cycles, oldest first, through the same WindowRunner as `landcycle run`
//! status   nrt_status.json, events.jsonl
//! ```
//!
//! The runner runs in this process, not as a launched child: the window runner is
//! collective, so `mpirun -n N landcycle nrt ...` runs the ensemble on N ranks, with rank 0
//! deciding (lock, recovery, plan) and broadcasting the plan so every rank runs the same
//! cycles. A crash of the model is a crash of the invocation, which the next cron call
//! recovers from exactly as from a kill. Commit order of a cycle: history and diagnostics →
//! restart → cycle.json complete → state.json (the restart stage's commit hook).

use std::path::PathBuf;
use std::sync::Arc;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::cycle_record::{
    append_event, manifest_path, read_json, write_json_atomic, CycleRecord, CycleStatus,
    ObsManifest,
};
use super::error::{agree, CycleError};
use super::forcing_policy::{ForcingFallback, ForcingPolicy};
use super::late_obs::{late_arrivals, LateCounts};
use super::obs_window::FrozenObsFiles;
use super::restart_output::CycleCommit;
use super::retry;
use super::rundir::{RunDir, RunDirError, RunState};
use super::schedule::{self, Blocked, Plan, ScheduleSettings};
use super::setup::SetupOptions;
use super::window::WindowRunner;
use crate::config::{Config, DaSensor};
use crate::io::restart::verify_restart;
use crate::lsm::BuildModel;
use crate::obs::discover::find_observation_files;
use crate::parallel::Communicator;
use crate::time::{cycle_label, Window};

/// Command-line options of `landcycle nrt`.
#[derive(Debug, Clone)]
pub struct NrtOptions {
    pub rundir: PathBuf,
    /// The clock (`--now`, `LANDCYCLE_NOW`, else the wall clock), UTC.
    pub now: NaiveDateTime,
    /// Run past the backlog and attempt limits (an operator's decision).
    pub force: bool,
    pub sync_output: bool,
    /// Set by a stop signal; checked before every cycle.
    pub stop: super::stop::StopFlag,
}

/// How an invocation ended; [`NrtOutcome::exit_code`] is what cron sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NrtOutcome {
    /// Cycles ran, or none was due (waiting for the clock or inputs): exit 0.
    Ok,
    /// A cycle failed; the next invocation retries it: exit 10.
    CycleFailed,
    /// Backlog or attempt limit reached: an operator decides (`--force`, `rewind`): exit 11.
    OperatorNeeded,
    /// Another invocation holds the run directory: exit 75 (EX_TEMPFAIL).
    Locked,
    /// Stopped by SIGTERM/SIGINT before a cycle started, everything before committed:
    /// exit 128 + the signal (143, 130), chosen by the command.
    Stopped,
}

impl NrtOutcome {
    pub fn exit_code(self) -> u8 {
        match self {
            NrtOutcome::Ok => 0,
            NrtOutcome::CycleFailed => 10,
            NrtOutcome::OperatorNeeded => 11,
            NrtOutcome::Locked => 75,
            NrtOutcome::Stopped => 143,
        }
    }
}

/// What one invocation did.
#[derive(Debug, Clone)]
pub struct NrtReport {
    pub outcome: NrtOutcome,
    pub cycles_run: Vec<String>,
    pub message: String,
}

/// One cycle of the plan: its window, its frozen observation files and, for a forcing
/// fallback, the land cycle whose atmosphere cycle it reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PlannedCycle {
    start: NaiveDateTime,
    end: NaiveDateTime,
    obs: Option<FrozenObsFiles>,
    forcing_cycle: Option<NaiveDateTime>,
}

/// What rank 0 decided, broadcast to every rank.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Decision {
    Stop {
        outcome: NrtOutcome,
        message: String,
    },
    Run {
        resume_from: Option<PathBuf>,
        cycles: Vec<PlannedCycle>,
    },
}

/// `now` as written into records.
pub fn stamp(now: NaiveDateTime) -> String {
    now.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `nrt_status.json`: what the last invocation found and did (written by rank 0 under the
/// lock, read by `landcycle status`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NrtStatusFile {
    pub now: String,
    pub outcome: NrtOutcome,
    pub message: String,
    pub cycles_run: Vec<String>,
    pub last_complete: Option<String>,
    pub backlog: usize,
    pub blocked: Option<Blocked>,
    pub next_cycle: Option<String>,
    pub next_eligible: Option<NaiveDateTime>,
    /// The status level after the invocation (what the alert command compares with).
    #[serde(default)]
    pub level: Option<super::nrt_status::Level>,
    /// Observation files that arrived after their cycle's list was frozen (never used),
    /// per cycle and product.
    #[serde(default)]
    pub late_obs: LateCounts,
}

/// The near-real-time schedule for model `M`. Collective.
pub(crate) fn nrt_model<M: BuildModel>(
    cfg: &Config,
    comm: &dyn Communicator,
    opts: &NrtOptions,
) -> Result<NrtReport, CycleError> {
    let rundir = RunDir::new(&opts.rundir);
    let root = comm.rank() == 0;
    let lock = if root {
        rundir.lock().map(Some)
    } else {
        Ok(None)
    };
    let (lock, locked) = match lock {
        Err(RunDirError::Locked(_)) => (Ok(None), true),
        other => (other.map_err(CycleError::from), false),
    };
    let _lock = agree(comm, lock)?;
    let mut plan = None;
    let decision = if !root {
        Ok(None)
    } else if locked {
        Ok(Some(Decision::Stop {
            outcome: NrtOutcome::Locked,
            message: format!(
                "{} is locked by another landcycle run",
                rundir.root.display()
            ),
        }))
    } else {
        decide(cfg, &rundir, opts).map(|(d, p)| {
            plan = p;
            Some(d)
        })
    };
    let decision = broadcast_decision(comm, agree(comm, decision)?)?;
    let report = match decision {
        Decision::Stop { outcome, message } => NrtReport {
            outcome,
            cycles_run: Vec::new(),
            message,
        },
        Decision::Run {
            resume_from,
            cycles,
        } => run_cycles::<M>(cfg, comm, &rundir, opts, (resume_from, cycles))?,
    };
    let report = forcing_failure_after_run(report, plan.as_ref());
    if root && report.outcome != NrtOutcome::Locked {
        let alert = cfg.nrt.alert_command.as_deref();
        let late = late_arrivals(cfg, &rundir);
        write_status(&rundir, opts.now, &report, plan.as_ref(), (alert, late))?;
    }
    Ok(report)
}

/// The cycles before one whose forcing failed at its deadline ran: the invocation still
/// needs an operator (rank 0, which holds the plan).
fn forcing_failure_after_run(report: NrtReport, plan: Option<&Plan>) -> NrtReport {
    let failed = plan.and_then(|p| match &p.blocked {
        Some(Blocked::ForcingFailed { cycle, file }) if !p.windows.is_empty() => {
            Some((cycle.clone(), file.clone()))
        }
        _ => None,
    });
    match (report.outcome, failed) {
        (NrtOutcome::Ok, Some((cycle, file))) => NrtReport {
            outcome: NrtOutcome::OperatorNeeded,
            message: format!(
                "cycle {cycle} failed: forcing file {file} is missing at the deadline \
                 (nrt:on_missing_forcing = 'fail'); provide the file and run \
                 `landcycle nrt --force`"
            ),
            ..report
        },
        _ => report,
    }
}

/// Rank 0's decision reaches every rank (as JSON).
fn broadcast_decision(
    comm: &dyn Communicator,
    d: Option<Decision>,
) -> Result<Decision, CycleError> {
    let mut buf = d
        .map(|d| serde_json::to_vec(&d).expect("decision serialises"))
        .unwrap_or_default();
    comm.broadcast_bytes(&mut buf, 0);
    serde_json::from_slice(&buf)
        .map_err(|e| CycleError::Invalid(format!("nrt plan broadcast from rank 0: {e}")))
}

/// Rank 0: recover, plan, freeze the observation lists and record the planned cycles.
fn decide(
    cfg: &Config,
    rundir: &RunDir,
    opts: &NrtOptions,
) -> Result<(Decision, Option<Plan>), CycleError> {
    let now = stamp(opts.now);
    let resume = recover(cfg, rundir, opts.now)?;
    let from = resume.as_ref().map_or(cfg.run.start, |(c, _)| *c);
    let settings = ScheduleSettings::from_config(cfg, opts.force);
    let policy = ForcingPolicy::from_config(cfg);
    let plan = schedule::plan(&settings, from, opts.now, |w| {
        let recorded = CycleRecord::load(rundir, w.end).ok().flatten();
        policy.check(
            w,
            opts.now,
            recorded.and_then(|r| r.forcing_fallback).as_ref(),
        )
    });
    if let Some(Blocked::BacklogExceeded { backlog, max }) = plan.blocked {
        let message = format!(
            "{backlog} cycles after {} are due, more than nrt:max_backlog_windows = {max}: \
             run `landcycle nrt --force` to catch up",
            cycle_label(from)
        );
        append_event(
            rundir,
            &now,
            "backlog_exceeded",
            serde_json::json!({ "backlog": backlog }),
        );
        let stop = Decision::Stop {
            outcome: NrtOutcome::OperatorNeeded,
            message,
        };
        return Ok((stop, Some(plan)));
    }
    if let Some(stop) = attempts_exhausted(cfg, rundir, &plan, opts.force)? {
        return Ok((stop, Some(plan)));
    }
    if let Some(stop) = retry_gate(rundir, &plan, opts) {
        return Ok((stop, Some(plan)));
    }
    if let Some(stop) = forcing_failed(rundir, &plan, opts.now) {
        return Ok((stop, Some(plan)));
    }
    let mut cycles = Vec::new();
    for &(start, end) in &plan.windows {
        let fallback = plan.fallbacks.get(&cycle_label(end));
        if let Some(f) = fallback {
            record_fallback(rundir, end, f, &now)?;
        }
        let obs = freeze_observations(cfg, rundir, Window { start, end }, &now)?;
        let forcing_cycle = fallback.map(|f| f.issuing_land_cycle);
        cycles.push(PlannedCycle {
            start,
            end,
            obs,
            forcing_cycle,
        });
    }
    let resume_from = resume.map(|(_, p)| p);
    let run = Decision::Run {
        resume_from,
        cycles,
    };
    Ok((run, Some(plan)))
}

/// Stop when the next cycle has failed `nrt:max_attempts` times (unless forced).
fn attempts_exhausted(
    cfg: &Config,
    rundir: &RunDir,
    plan: &Plan,
    force: bool,
) -> Result<Option<Decision>, CycleError> {
    let Some(&(_, end)) = plan.windows.first() else {
        return Ok(None);
    };
    let rec = CycleRecord::load(rundir, end).ok().flatten();
    let failures = rec.as_ref().map_or(0, |r| r.failures);
    if force || failures < cfg.nrt.max_attempts {
        return Ok(None);
    }
    let last = rec.and_then(|r| r.error).unwrap_or_default();
    Ok(Some(Decision::Stop {
        outcome: NrtOutcome::OperatorNeeded,
        message: format!(
            "cycle {} failed {failures} times (nrt:max_attempts = {}); last error: {last}; \
             fix the cause and run `landcycle nrt --force`",
            cycle_label(end),
            cfg.nrt.max_attempts
        ),
    }))
}

/// Stop when the next cycle failed permanently (operator) or its back-off has not passed
/// (a retry is scheduled), unless forced.
fn retry_gate(rundir: &RunDir, plan: &Plan, opts: &NrtOptions) -> Option<Decision> {
    let &(_, end) = plan.windows.first()?;
    let rec = CycleRecord::load(rundir, end).ok().flatten()?;
    if opts.force || rec.status != CycleStatus::Failed {
        return None;
    }
    let last = rec.error.clone().unwrap_or_default();
    if rec.permanent {
        return Some(Decision::Stop {
            outcome: NrtOutcome::OperatorNeeded,
            message: format!(
                "cycle {} failed with a permanent error (not retried): {last}; fix the cause \
                 and run `landcycle nrt --force`",
                rec.cycle
            ),
        });
    }
    let after = rec.next_attempt_after.filter(|t| *t > opts.now)?;
    Some(Decision::Stop {
        outcome: NrtOutcome::CycleFailed,
        message: format!(
            "cycle {} failed {} time(s); next attempt after {} (back-off); last error: {last}",
            rec.cycle,
            rec.failures,
            stamp(after)
        ),
    })
}

/// `on_missing_forcing = 'fail'`: the cycle whose forcing is missing at its deadline is
/// recorded as failed permanently (once), and the invocation stops for an operator after
/// the cycles before it (when it is the next one to run: at once).
fn forcing_failed(rundir: &RunDir, plan: &Plan, now: NaiveDateTime) -> Option<Decision> {
    let Some(Blocked::ForcingFailed { cycle, file }) = &plan.blocked else {
        return None;
    };
    let end = crate::time::parse_cycle_label(cycle)?;
    let error = format!(
        "forcing file {file} is missing at the deadline (nrt:forcing_deadline_minutes; \
         nrt:on_missing_forcing = 'fail')"
    );
    let stamp_now = stamp(now);
    let mut rec = CycleRecord::load(rundir, end)
        .ok()
        .flatten()
        .unwrap_or_else(|| CycleRecord::new(end, &stamp_now));
    if rec.status != CycleStatus::Failed || rec.error.as_deref() != Some(error.as_str()) {
        rec.status = CycleStatus::Failed;
        rec.failures += 1;
        rec.permanent = true;
        rec.next_attempt_after = None;
        rec.error = Some(error.clone());
        rec.updated = stamp_now.clone();
        if let Err(e) = rec.store(rundir, end) {
            tracing::error!("could not record the failure of cycle {cycle}: {e}");
        }
        let f = serde_json::json!({ "cycle": cycle, "error": error, "permanent": true });
        append_event(rundir, &stamp_now, "failed", f);
    }
    plan.windows.is_empty().then(|| Decision::Stop {
        outcome: NrtOutcome::OperatorNeeded,
        message: format!(
            "cycle {cycle} failed: {error}; provide the file and run `landcycle nrt --force`"
        ),
    })
}

/// Record in the cycle's `cycle.json` that it reads an earlier atmosphere cycle (an event
/// and a warning the first time).
fn record_fallback(
    rundir: &RunDir,
    end: NaiveDateTime,
    f: &ForcingFallback,
    now: &str,
) -> Result<(), CycleError> {
    let mut rec = CycleRecord::load(rundir, end)
        .ok()
        .flatten()
        .unwrap_or_else(|| CycleRecord::new(end, now));
    if rec.forcing_fallback.as_ref() == Some(f) {
        return Ok(());
    }
    tracing::warn!(
        "cycle {}: {} is missing at its deadline; reading the atmosphere cycle {} (leads {:?} h)",
        cycle_label(end),
        f.missing,
        f.init,
        f.leads_h
    );
    let fields = serde_json::json!({ "cycle": cycle_label(end), "init": f.init,
        "leads_h": f.leads_h, "missing": f.missing });
    append_event(rundir, now, "forcing_fallback", fields);
    rec.forcing_fallback = Some(f.clone());
    rec.store(rundir, end)?;
    Ok(())
}

/// The newest cycle whose record says complete, whose restart verifies and before which
/// no recorded output checksum fails (`output_check`), with that restart; `state.json` is
/// rewritten to match it when a crash left it behind.
fn recover(
    cfg: &Config,
    rundir: &RunDir,
    now: NaiveDateTime,
) -> Result<Option<(NaiveDateTime, PathBuf)>, CycleError> {
    let now_text = stamp(now);
    let removed = rundir.remove_temp_files();
    if removed > 0 {
        tracing::info!("removed {removed} temporary file(s) of an interrupted write");
        append_event(
            rundir,
            &now_text,
            "temp_files_removed",
            serde_json::json!({ "count": removed }),
        );
    }
    let mut found = newest_valid(rundir, &now_text, None);
    if let Some((c, _)) = &found {
        if let Some(bad) = super::output_check::first_invalid_cycle(cfg, rundir, *c, now)? {
            found = newest_valid(rundir, &now_text, Some(bad));
        }
    }
    if let Some((c, path)) = &found {
        let label = cycle_label(*c);
        let state = rundir.read_state().ok().flatten();
        if state.as_ref().map(|s| &s.last_completed_cycle) != Some(&label) {
            rundir.write_state(&RunState {
                last_completed_cycle: label,
                restart: path.clone(),
                config_fingerprint: cfg.fingerprint().to_string(),
            })?;
        }
    }
    Ok(found)
}

/// The newest cycle (before `below`, if given) whose record says complete and whose
/// restart verifies; a complete cycle with an invalid restart is stepped back over.
fn newest_valid(
    rundir: &RunDir,
    now: &str,
    below: Option<NaiveDateTime>,
) -> Option<(NaiveDateTime, PathBuf)> {
    let mut found = None;
    let cycles = rundir.cycles().into_iter().rev();
    for c in cycles.filter(|c| below.is_none_or(|b| *c < b)) {
        let rec = match CycleRecord::load(rundir, c) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!("{e}: cycle {} will be rerun", cycle_label(c));
                continue;
            }
        };
        if rec.status != CycleStatus::Complete {
            continue;
        }
        let path = rundir.restart_path(c);
        match verify_restart(&path) {
            Ok(_) => {
                found = Some((c, path));
                break;
            }
            Err(e) => {
                tracing::warn!(
                    "cycle {} is recorded complete but {e}: stepping back",
                    rec.cycle
                );
                let msg = serde_json::json!({ "cycle": rec.cycle, "error": e.to_string() });
                append_event(rundir, now, "restart_invalid", msg);
            }
        }
    }
    found
}

/// The observation files of cycle `w`: the frozen manifest when there is one (verified),
/// else the files found now, frozen into `obs_manifest.json`. Records the cycle as planned.
fn freeze_observations(
    cfg: &Config,
    rundir: &RunDir,
    w: Window,
    now: &str,
) -> Result<Option<FrozenObsFiles>, CycleError> {
    let mut rec = CycleRecord::load(rundir, w.end)
        .ok()
        .flatten()
        .unwrap_or_else(|| CycleRecord::new(w.end, now));
    if rec.status == CycleStatus::Running {
        let f = serde_json::json!({ "cycle": rec.cycle, "attempt": rec.attempt });
        append_event(rundir, now, "interrupted", f);
    }
    rec.status = CycleStatus::Planned;
    rec.updated = now.to_string();
    if !cfg.da.enabled {
        rec.mode = "open_loop".into();
        rec.open_loop_reason = Some(super::nrt_status::NO_DA.into());
        rec.store(rundir, w.end)?;
        return Ok(None);
    }
    let path = manifest_path(rundir, w.end);
    let manifest = match read_json::<ObsManifest>(&path)? {
        Some(m) => m,
        None => {
            let mut files = FrozenObsFiles::new();
            for s in &cfg.da.sensors {
                let (dir, pattern, ..) = cfg.da.sensor(*s);
                files.insert(product_name(*s), find_observation_files(dir, pattern, &w));
            }
            let m = ObsManifest::freeze(w.end, now, &files)?;
            rec.store(rundir, w.end)?; // creates the cycle directory
            write_json_atomic(&path, &m)?;
            crate::io::crash::point("obs_manifest_written", Some(&path));
            append_event(
                rundir,
                now,
                "obs_frozen",
                serde_json::json!({
                "cycle": w.label(), "files": m.counts() }),
            );
            m
        }
    };
    let files = manifest.verified_files()?;
    rec.obs_files = manifest.counts();
    rec.obs_manifest_sha256 = Some(super::cycle_record::sha256_file(&path)?.0);
    let any = files.values().any(|v| !v.is_empty());
    rec.mode = if any { "da" } else { "open_loop" }.into();
    rec.open_loop_reason = (!any).then(|| "no observation file by the cut-off".into());
    rec.store(rundir, w.end)?;
    Ok(Some(files))
}

fn product_name(s: DaSensor) -> String {
    s.name().to_string()
}

/// The commit hook: after the restart of a cycle is in place (and so, in the commit order,
/// its history, diagnostics and export), its record says complete, with the size and
/// SHA-256 of each of those outputs.
fn complete_hook(cfg: &Config, rundir: &RunDir, now: &str) -> CycleCommit {
    let (rundir, now) = (rundir.clone(), now.to_string());
    let cfg = cfg.clone();
    Arc::new(move |valid| {
        let mut rec =
            CycleRecord::load(&rundir, valid)?.unwrap_or_else(|| CycleRecord::new(valid, &now));
        let exports = super::output_check::export_dir(&cfg, valid);
        rec.outputs = super::output_check::cycle_outputs(&rundir, valid, exports.as_deref())?;
        rec.status = CycleStatus::Complete;
        rec.error = None;
        rec.permanent = false;
        rec.next_attempt_after = None;
        rec.updated = now.clone();
        rec.store(&rundir, valid)?;
        let fields = serde_json::json!({ "cycle": rec.cycle, "attempt": rec.attempt });
        append_event(&rundir, &now, "complete", fields);
        Ok(())
    })
}

/// Rank 0: the record of `cycle` says running, one attempt more.
fn mark_running(rundir: &RunDir, cycle: NaiveDateTime, now: &str) -> Result<(), CycleError> {
    let mut rec = CycleRecord::load(rundir, cycle)
        .ok()
        .flatten()
        .unwrap_or_else(|| CycleRecord::new(cycle, now));
    rec.status = CycleStatus::Running;
    rec.attempt += 1;
    rec.updated = now.to_string();
    rec.store(rundir, cycle)?;
    let f = serde_json::json!({ "cycle": rec.cycle, "attempt": rec.attempt, "mode": rec.mode });
    append_event(rundir, now, "running", f);
    Ok(())
}

/// Rank 0: the record of `cycle` says failed, with the error, whether it is permanent and
/// when the next attempt may start; the attempt's directory is kept as
/// `<cycle>.failed-<n>`. Returns whether the failure is permanent.
fn mark_failed(
    cfg: &Config,
    rundir: &RunDir,
    cycle: NaiveDateTime,
    now: NaiveDateTime,
    e: &CycleError,
) -> bool {
    let stamp_now = stamp(now);
    let mut rec = CycleRecord::load(rundir, cycle)
        .ok()
        .flatten()
        .unwrap_or_else(|| CycleRecord::new(cycle, &stamp_now));
    let error = e.to_string();
    rec.status = CycleStatus::Failed;
    rec.failures += 1;
    rec.permanent = retry::is_permanent(e);
    rec.next_attempt_after =
        (!rec.permanent).then(|| retry::next_attempt(&cfg.nrt, now, rec.failures));
    rec.error = Some(error.clone());
    rec.updated = stamp_now.clone();
    match retry::keep_failed_attempt(rundir, cycle, rec.failures) {
        Ok(kept) => rec.failed_attempt_dirs.push(kept),
        Err(e) => tracing::warn!("could not keep the failed attempt's directory: {e}"),
    }
    if let Err(e) = rec.store(rundir, cycle) {
        tracing::error!("could not record the failure of cycle {}: {e}", rec.cycle);
    }
    let f = serde_json::json!({ "cycle": rec.cycle, "attempt": rec.attempt, "error": error,
        "permanent": rec.permanent, "next_attempt_after": rec.next_attempt_after,
        "kept": rec.failed_attempt_dirs.last() });
    append_event(rundir, &stamp_now, "failed", f);
    rec.permanent
}

/// Set up the runner and run the planned cycles. A failure is recorded on the cycle that
/// was running (or the first, for a setup failure) and ends the invocation. Collective.
fn run_cycles<M: BuildModel>(
    cfg: &Config,
    comm: &dyn Communicator,
    rundir: &RunDir,
    opts: &NrtOptions,
    (resume_from, cycles): (Option<PathBuf>, Vec<PlannedCycle>),
) -> Result<NrtReport, CycleError> {
    let Some(first) = cycles.first() else {
        return Ok(NrtReport {
            outcome: NrtOutcome::Ok,
            cycles_run: Vec::new(),
            message: "no cycle is due".into(),
        });
    };
    let mut current = first.end;
    let mut done = Vec::new();
    let r = run_planned::<M>(
        cfg,
        comm,
        rundir,
        opts,
        (resume_from, &cycles),
        |c| {
            current = c;
        },
        &mut done,
    );
    match r {
        Ok(message) => Ok(NrtReport {
            outcome: NrtOutcome::Ok,
            cycles_run: done,
            message,
        }),
        Err(e @ CycleError::Stopped { .. }) => Ok(NrtReport {
            outcome: NrtOutcome::Stopped,
            cycles_run: done,
            message: e.to_string(),
        }),
        Err(e) => {
            let msg = e.to_string();
            let permanent = comm.rank() == 0 && mark_failed(cfg, rundir, current, opts.now, &e);
            if comm.rank() == 0 {
                tracing::error!("cycle {} failed: {msg}", cycle_label(current));
            }
            let outcome = if permanent {
                NrtOutcome::OperatorNeeded
            } else {
                NrtOutcome::CycleFailed
            };
            Ok(NrtReport {
                outcome,
                cycles_run: done,
                message: format!("cycle {} failed: {msg}", cycle_label(current)),
            })
        }
    }
}

/// Whether rank 0 lets another cycle start (`nrt:max_run_minutes`), agreed by all ranks.
fn time_left(comm: &dyn Communicator, started: std::time::Instant, max_minutes: u32) -> bool {
    let mut buf = vec![u8::from(
        started.elapsed().as_secs() < u64::from(max_minutes) * 60,
    )];
    comm.broadcast_bytes(&mut buf, 0);
    buf.first() == Some(&1)
}

/// The runner over the planned cycles; `starting(c)` before each, `done` collects labels.
fn run_planned<M: BuildModel>(
    cfg: &Config,
    comm: &dyn Communicator,
    rundir: &RunDir,
    opts: &NrtOptions,
    (resume_from, cycles): (Option<PathBuf>, &[PlannedCycle]),
    mut starting: impl FnMut(NaiveDateTime),
    done: &mut Vec<String>,
) -> Result<String, CycleError> {
    let started = std::time::Instant::now();
    let now = stamp(opts.now);
    let setup = SetupOptions {
        resume: resume_from.is_some(),
        resume_from,
        sync_output: opts.sync_output,
    };
    let mut runner = WindowRunner::<M>::setup(cfg, comm, rundir, setup)?;
    if runner.start() != cycles[0].start {
        return Err(CycleError::Invalid(format!(
            "the initial state is valid at {}, but the next cycle starts at {}",
            runner.start(),
            cycles[0].start
        )));
    }
    runner.set_horizon(cycles.last().map_or(runner.start(), |c| c.end));
    if comm.rank() == 0 {
        runner.set_cycle_commit(Some(complete_hook(cfg, rundir, &now)));
    }
    let mut message = String::new();
    for c in cycles {
        if !time_left(comm, started, cfg.nrt.max_run_minutes) {
            message = format!(
                "nrt:max_run_minutes reached before cycle {}",
                cycle_label(c.end)
            );
            break;
        }
        if opts.stop.agreed(comm) {
            runner.finish()?;
            let signal = opts.stop.requested().unwrap_or(15);
            let last = done.last().cloned();
            return Err(CycleError::Stopped { signal, last });
        }
        starting(c.end);
        let r = (comm.rank() == 0)
            .then(|| mark_running(rundir, c.end, &now))
            .transpose();
        agree(comm, r)?;
        runner.set_observation_files(c.obs.clone());
        runner.set_forcing_cycle(c.forcing_cycle);
        runner.run_window(&Window {
            start: c.start,
            end: c.end,
        })?;
        done.push(cycle_label(c.end));
    }
    runner.finish()?;
    Ok(message)
}

/// Rank 0: `nrt_status.json` from this invocation's report and plan.
fn write_status(
    rundir: &RunDir,
    now: NaiveDateTime,
    report: &NrtReport,
    plan: Option<&Plan>,
    (alert_command, late_obs): (Option<&str>, LateCounts),
) -> Result<(), CycleError> {
    let path = rundir.root.join("nrt_status.json");
    let previous = read_json::<NrtStatusFile>(&path).ok().flatten();
    let last_complete = super::nrt_status::last_complete(rundir);
    let ran_all = plan.is_some_and(|p| p.windows.len() == report.cycles_run.len());
    let status = NrtStatusFile {
        now: stamp(now),
        outcome: report.outcome,
        message: report.message.clone(),
        cycles_run: report.cycles_run.clone(),
        last_complete,
        backlog: plan.map_or(0, |p| p.backlog),
        blocked: plan.and_then(|p| p.blocked.clone()),
        next_cycle: plan
            .filter(|_| ran_all)
            .and_then(|p| p.next_cycle.map(cycle_label)),
        next_eligible: plan.filter(|_| ran_all).and_then(|p| p.next_eligible),
        level: None,
        late_obs,
    };
    let fields = serde_json::json!({ "outcome": report.outcome, "cycles": report.cycles_run,
        "message": report.message });
    append_event(rundir, &stamp(now), "invocation", fields);
    write_json_atomic(&path, &status)?;
    let before = previous.and_then(|p| p.level);
    let level = super::alert::alert_on_change(rundir, now, before, alert_command);
    let status = NrtStatusFile {
        level: Some(level),
        ..status
    };
    write_json_atomic(&path, &status)?;
    Ok(())
}
