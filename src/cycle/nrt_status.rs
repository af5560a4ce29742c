//! `landcycle status` and `landcycle rewind`: the state of a near-real-time run directory
//! for people and monitoring (levels OK/WARNING/CRITICAL/UNKNOWN, the monitoring-plugin
//! exit codes 0/1/2/3), and moving cycles aside for reprocessing.

use std::fs;
use std::path::PathBuf;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::cycle_record::{append_event, read_json, CycleRecord, CycleStatus};
use super::error::CycleError;
use super::nrt::{stamp, NrtOutcome, NrtStatusFile};
use super::rundir::{RunDir, RunState};
use crate::io::restart::verify_restart;
use crate::time::{cycle_label, parse_cycle_label};

/// Monitoring level; the exit code of `landcycle status` is its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

/// Thresholds of `landcycle status` (command-line flags).
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// Lag of the last complete cycle behind the clock (h) that warns.
    pub warning_lag_hours: f64,
    /// Lag (h) that is critical.
    pub critical_lag_hours: f64,
    /// Open-loop cycles among the last eight complete ones that warn.
    pub warning_open_loop: usize,
    /// Hours since the last `nrt` invocation that warn (cron not running).
    pub warning_silence_hours: f64,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Ok => "OK",
            Level::Warning => "WARNING",
            Level::Critical => "CRITICAL",
            Level::Unknown => "UNKNOWN",
        }
    }
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            warning_lag_hours: 15.0,
            critical_lag_hours: 30.0,
            warning_open_loop: 4,
            warning_silence_hours: 2.0,
        }
    }
}

/// What `landcycle status` reports.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub level: Level,
    /// Why the level is what it is (one line per reason).
    pub reasons: Vec<String>,
    pub now: String,
    pub last_complete: Option<String>,
    pub lag_hours: Option<f64>,
    /// The newest cycle that is not complete: (cycle, status, attempt).
    pub current: Option<(String, CycleStatus, u32)>,
    pub open_loop_last8: Vec<String>,
    /// Complete cycles among the last eight forced by an earlier atmosphere cycle:
    /// "cycle (atmosphere cycle init, leads a..b h)".
    pub forcing_fallback_last8: Vec<String>,
    /// Observation files that arrived after their cycle's list was frozen (never used), per
    /// cycle and product, from the last invocation.
    pub late_observations: super::late_obs::LateCounts,
    pub last_error: Option<String>,
    pub lock_holder: Option<String>,
    pub next_cycle: Option<String>,
    pub next_eligible: Option<NaiveDateTime>,
    pub last_invocation: Option<NrtStatusFile>,
}

/// `open_loop_reason` of a run configured without assimilation.
pub const NO_DA: &str = "da:enabled = .false.";

/// Label of the newest cycle whose record says complete.
pub fn last_complete(rundir: &RunDir) -> Option<String> {
    records(rundir)
        .into_iter()
        .rev()
        .find(|(_, r)| r.status == CycleStatus::Complete)
        .map(|(_, r)| r.cycle)
}

/// The cycle records of the run directory, oldest first (unreadable ones left out).
fn records(rundir: &RunDir) -> Vec<(NaiveDateTime, CycleRecord)> {
    rundir
        .cycles()
        .into_iter()
        .filter_map(|c| CycleRecord::load(rundir, c).ok().flatten().map(|r| (c, r)))
        .collect()
}

/// Who holds the run-directory lock (the pid line it wrote), or None when it is free.
pub fn lock_holder(rundir: &RunDir) -> Option<String> {
    let p = rundir.root.join("landcycle.lock");
    let deleted = || "unknown pid (landcycle.lock was deleted)".to_string();
    let Ok(f) = fs::File::open(&p) else {
        return rundir.is_locked().then(deleted);
    };
    match f.try_lock_shared() {
        Ok(()) => rundir.is_locked().then(deleted),
        Err(_) => Some(
            fs::read_to_string(&p)
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "unknown".into()),
        ),
    }
}

/// The status of `rundir` at `now`.
pub fn status(rundir: &RunDir, now: NaiveDateTime, th: &Thresholds) -> StatusReport {
    let recs = records(rundir);
    let last: Option<&(NaiveDateTime, CycleRecord)> = recs
        .iter()
        .rev()
        .find(|(_, r)| r.status == CycleStatus::Complete);
    let inv: Option<NrtStatusFile> = read_json(&rundir.root.join("nrt_status.json"))
        .ok()
        .flatten();
    let complete: Vec<&CycleRecord> = recs
        .iter()
        .map(|(_, r)| r)
        .filter(|r| r.status == CycleStatus::Complete)
        .collect();
    // Open loop for lack of observations, not by configuration (da:enabled = .false.).
    let open_loop_last8 = complete
        .iter()
        .rev()
        .take(8)
        .filter(|r| r.mode == "open_loop" && r.open_loop_reason.as_deref() != Some(NO_DA))
        .map(|r| r.cycle.clone())
        .collect();
    let forcing_fallback_last8 = complete
        .iter()
        .rev()
        .take(8)
        .filter_map(|r| {
            let f = r.forcing_fallback.as_ref()?;
            let (a, b) = (f.leads_h.first()?, f.leads_h.last()?);
            Some(format!(
                "{} (atmosphere cycle {}, leads {a}..{b} h)",
                r.cycle,
                cycle_label(f.init)
            ))
        })
        .collect();
    let current = recs
        .iter()
        .rev()
        .find(|(c, r)| r.status != CycleStatus::Complete && last.is_none_or(|(l, _)| c > l))
        .map(|(_, r)| (r.cycle.clone(), r.status, r.attempt));
    let last_error = recs.iter().rev().find_map(|(_, r)| r.error.clone());
    let mut rep = StatusReport {
        level: Level::Ok,
        reasons: Vec::new(),
        now: stamp(now),
        last_complete: last.map(|(_, r)| r.cycle.clone()),
        lag_hours: last.map(|(c, _)| (now - *c).num_minutes() as f64 / 60.0),
        current,
        open_loop_last8,
        forcing_fallback_last8,
        late_observations: inv.as_ref().map(|i| i.late_obs.clone()).unwrap_or_default(),
        last_error,
        lock_holder: lock_holder(rundir),
        next_cycle: inv.as_ref().and_then(|i| i.next_cycle.clone()),
        next_eligible: inv.as_ref().and_then(|i| i.next_eligible),
        last_invocation: inv,
    };
    classify(&mut rep, rundir, now, th);
    rep
}

/// Set the level and its reasons.
fn classify(rep: &mut StatusReport, rundir: &RunDir, now: NaiveDateTime, th: &Thresholds) {
    let raise = |rep: &mut StatusReport, level: Level, why: String| {
        rep.level = rep.level.max(level);
        rep.reasons.push(format!("{}: {why}", level.name()));
    };
    let Some(inv) = rep.last_invocation.clone() else {
        let why = if rundir.root.is_dir() {
            format!("no landcycle nrt has run in {}", rundir.root.display())
        } else {
            format!("run directory {} does not exist", rundir.root.display())
        };
        raise(rep, Level::Unknown, why);
        return;
    };
    match inv.outcome {
        NrtOutcome::OperatorNeeded => raise(rep, Level::Critical, inv.message.clone()),
        NrtOutcome::CycleFailed => raise(rep, Level::Warning, inv.message.clone()),
        _ => {}
    }
    let end_reached = matches!(
        inv.blocked,
        Some(super::schedule::Blocked::EndReached { .. })
    );
    if let Some(super::schedule::Blocked::ForcingOverdue { cycle, file }) = &inv.blocked {
        let why = format!("forcing of cycle {cycle} is missing past its deadline: {file}");
        raise(rep, Level::Warning, why);
    }
    if let (Some(lag), false) = (rep.lag_hours, end_reached) {
        if lag > th.critical_lag_hours {
            raise(
                rep,
                Level::Critical,
                format!("last complete cycle is {lag:.1} h behind"),
            );
        } else if lag > th.warning_lag_hours {
            raise(
                rep,
                Level::Warning,
                format!("last complete cycle is {lag:.1} h behind"),
            );
        }
    }
    if rep.last_complete.is_none() && !end_reached && rep.current.is_some() {
        raise(rep, Level::Warning, "no cycle has completed yet".into());
    }
    if rep.open_loop_last8.len() >= th.warning_open_loop {
        let n = rep.open_loop_last8.len();
        raise(
            rep,
            Level::Warning,
            format!("{n} of the last 8 cycles ran open loop"),
        );
    }
    let last_run = NaiveDateTime::parse_from_str(&inv.now, "%Y-%m-%dT%H:%M:%SZ").ok();
    if let Some(t) = last_run {
        let h = (now - t).num_minutes() as f64 / 60.0;
        if h > th.warning_silence_hours {
            raise(
                rep,
                Level::Warning,
                format!("no landcycle nrt for {h:.1} h (cron?)"),
            );
        }
    }
}

impl StatusReport {
    /// The human-readable report (first line in the monitoring-plugin style).
    pub fn text(&self) -> String {
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
        let mut s = format!(
            "LANDCYCLE {}: last complete cycle {}, lag {}\n",
            self.level.name(),
            opt(&self.last_complete),
            self.lag_hours.map_or("n/a".into(), |h| format!("{h:.1} h"))
        );
        for r in &self.reasons {
            s.push_str(&format!("  {r}\n"));
        }
        if let Some((c, st, a)) = &self.current {
            s.push_str(&format!("  current cycle: {c} {st:?} (attempt {a})\n"));
        }
        s.push_str(&format!(
            "  open loop among the last 8: {:?}\n",
            self.open_loop_last8
        ));
        if !self.forcing_fallback_last8.is_empty() {
            s.push_str(&format!(
                "  forcing from an earlier atmosphere cycle among the last 8: {:?}\n",
                self.forcing_fallback_last8
            ));
        }
        for (cycle, products) in &self.late_observations {
            let list: Vec<String> = products.iter().map(|(p, n)| format!("{p} {n}")).collect();
            s.push_str(&format!(
                "  late observation files of cycle {cycle} (after its cut-off, not used): {}\n",
                list.join(", ")
            ));
        }
        s.push_str(&format!("  last error: {}\n", opt(&self.last_error)));
        s.push_str(&format!("  lock holder: {}\n", opt(&self.lock_holder)));
        let next = self.next_eligible.map(|t| t.to_string());
        s.push_str(&format!(
            "  next cycle: {} eligible at {}\n",
            opt(&self.next_cycle),
            opt(&next)
        ));
        s
    }
}

/// `landcycle rewind`: move every cycle after `to` into `trash/<now>-rewind-<to>/` (never
/// deleting) and point `state.json` and the records at `to`, whose restart must verify.
/// Takes the run lock. Returns the cycles moved aside.
pub fn rewind(
    rundir: &RunDir,
    to: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<Vec<String>, CycleError> {
    let _lock = rundir.lock()?;
    let restart = rundir.restart_path(to);
    let info = verify_restart(&restart).map_err(|e| {
        CycleError::Invalid(format!("cannot rewind to cycle {}: {e}", cycle_label(to)))
    })?;
    let later: Vec<NaiveDateTime> = rundir.cycles().into_iter().filter(|c| *c > to).collect();
    let trash = rundir.root.join("trash").join(format!(
        "{}-rewind-{}",
        now.format("%Y%m%dT%H%M%S"),
        cycle_label(to)
    ));
    let io = |p: &PathBuf| {
        let p = p.clone();
        move |e: std::io::Error| CycleError::Invalid(format!("rewind: {}: {e}", p.display()))
    };
    fs::create_dir_all(&trash).map_err(io(&trash))?;
    let mut moved = Vec::new();
    for c in later {
        let label = cycle_label(c);
        let from = rundir.root.join(&label);
        fs::rename(&from, trash.join(&label)).map_err(io(&from))?;
        moved.push(label);
    }
    let mut rec = CycleRecord::load(rundir, to)?.unwrap_or_else(|| CycleRecord::new(to, ""));
    rec.status = CycleStatus::Complete;
    rec.updated = stamp(now);
    rec.store(rundir, to)?;
    rundir.write_state(&RunState {
        last_completed_cycle: cycle_label(to),
        restart,
        config_fingerprint: info.config_fingerprint.clone(),
    })?;
    let f = serde_json::json!({ "to": cycle_label(to), "moved": moved,
        "trash": trash.display().to_string() });
    append_event(rundir, &stamp(now), "rewind", f);
    Ok(moved)
}

/// Parse a cycle given as `YYYYMMDDHH` or a namelist date-time.
pub fn parse_cycle(s: &str) -> Option<NaiveDateTime> {
    parse_cycle_label(s).or_else(|| crate::config::parse_datetime(s))
}
