//! The near-real-time plan: which cycles one `landcycle nrt` invocation runs, from the last
//! complete cycle, the clock and the inputs on disk. Pure logic (the clock and the forcing
//! check are passed in), so it is tested without a model.
//!
//! Cycle T (window (T − w, T]) is eligible when `now ≥ T + wait` and its forcing is
//! delivered (`forcing_policy`: the files, or the coupler's READY), where `wait` is `nrt:obs_latency_minutes`, raised with assimilation
//! to the cut-off of every sensor used (`nrt:obs_cutoff_minutes_smap|ascat`): at that
//! moment the observation file list is frozen. Cycles are never skipped: the first
//! ineligible cycle ends the plan. At most `max_windows_per_run` run; more than
//! `max_backlog_windows` eligible by the clock stops for an operator unless forced.

use chrono::{Duration, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::forcing_policy::{ForcingCheck, ForcingFallback};
use crate::config::{Config, DaSensor};
use crate::time::Window;

/// What the plan needs from the namelist and the command line.
#[derive(Debug, Clone)]
pub struct ScheduleSettings {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub window_hours: i64,
    /// Minutes after a cycle's end before it may run (latency and cut-offs).
    pub wait_minutes: i64,
    pub max_windows_per_run: usize,
    pub max_backlog_windows: usize,
    /// Operator override of the backlog limit.
    pub force: bool,
}

impl ScheduleSettings {
    pub fn from_config(cfg: &Config, force: bool) -> Self {
        let n = &cfg.nrt;
        let mut wait = n.obs_latency_minutes;
        if cfg.da.enabled {
            for s in &cfg.da.sensors {
                wait = wait.max(match s {
                    DaSensor::Smap => n.obs_cutoff_minutes_smap,
                    DaSensor::Ascat => n.obs_cutoff_minutes_ascat,
                });
            }
        }
        ScheduleSettings {
            start: cfg.run.start,
            end: cfg.run.end,
            window_hours: i64::from(cfg.run.window_hours),
            wait_minutes: i64::from(wait),
            max_windows_per_run: n.max_windows_per_run as usize,
            max_backlog_windows: n.max_backlog_windows as usize,
            force,
        }
    }

    /// When cycle `t` may run by the clock.
    pub fn eligible_at(&self, t: NaiveDateTime) -> NaiveDateTime {
        t + Duration::minutes(self.wait_minutes)
    }
}

/// Why the plan stops before the clock or `run:end` would.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Blocked {
    /// The next cycle's observation cut-off (or latency) has not passed.
    WaitingForClock { cycle: String, until: NaiveDateTime },
    /// A forcing file of the next cycle's window is missing.
    WaitingForForcing { cycle: String, file: String },
    /// Still missing past the cycle's forcing deadline (`on_missing_forcing = 'wait'`, or
    /// no fallback within the bound): WARNING.
    ForcingOverdue { cycle: String, file: String },
    /// Missing at the deadline with `on_missing_forcing = 'fail'`: an operator decides.
    ForcingFailed { cycle: String, file: String },
    /// The next cycle would end after `run:end`.
    EndReached { end: NaiveDateTime },
    /// Too many cycles are eligible: an operator decides (`--force`).
    BacklogExceeded { backlog: usize, max: usize },
    /// The invocation's cycle count limit (`max_windows_per_run`).
    BatchFull,
}

/// The cycles to run now, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub windows: Vec<(NaiveDateTime, NaiveDateTime)>,
    /// Cycles eligible by the clock (before the batch limit and the forcing check).
    pub backlog: usize,
    pub blocked: Option<Blocked>,
    /// The next cycle after the plan, and when the clock lets it run.
    pub next_cycle: Option<NaiveDateTime>,
    pub next_eligible: Option<NaiveDateTime>,
    /// Planned cycles forced by an earlier atmosphere cycle, by cycle label.
    #[serde(default)]
    pub fallbacks: std::collections::BTreeMap<String, ForcingFallback>,
}

/// Plan from `from` (the valid time of the state to continue: the last complete cycle, or
/// `run:start`) at `now`; `forcing(w)` says whether the forcing of `w` is there.
pub fn plan(
    s: &ScheduleSettings,
    from: NaiveDateTime,
    now: NaiveDateTime,
    forcing: impl Fn(&Window) -> ForcingCheck,
) -> Plan {
    let len = Duration::hours(s.window_hours);
    let mut backlog = 0;
    let mut t = from;
    while t + len <= s.end && s.eligible_at(t + len) <= now {
        backlog += 1;
        t += len;
    }
    let mut p = Plan {
        windows: Vec::new(),
        backlog,
        blocked: None,
        next_cycle: None,
        next_eligible: None,
        fallbacks: Default::default(),
    };
    if backlog > s.max_backlog_windows && !s.force {
        p.blocked = Some(Blocked::BacklogExceeded {
            backlog,
            max: s.max_backlog_windows,
        });
        return p;
    }
    let mut start = from;
    let blocked = loop {
        let w = Window {
            start,
            end: start + len,
        };
        if w.end > s.end {
            break Blocked::EndReached { end: s.end };
        }
        if p.windows.len() >= s.max_windows_per_run {
            break Blocked::BatchFull;
        }
        let until = s.eligible_at(w.end);
        if until > now {
            break Blocked::WaitingForClock {
                cycle: w.label(),
                until,
            };
        }
        let cycle = w.label();
        match forcing(&w) {
            ForcingCheck::Delivered => {}
            ForcingCheck::Fallback(f) => {
                p.fallbacks.insert(w.label(), f);
            }
            ForcingCheck::Missing {
                file,
                overdue: false,
            } => break Blocked::WaitingForForcing { cycle, file },
            ForcingCheck::Missing {
                file,
                overdue: true,
            } => break Blocked::ForcingOverdue { cycle, file },
            ForcingCheck::Fail { file } => break Blocked::ForcingFailed { cycle, file },
        }
        p.windows.push((w.start, w.end));
        start = w.end;
    };
    if !matches!(blocked, Blocked::EndReached { .. }) {
        p.next_cycle = Some(start + len);
        p.next_eligible = Some(s.eligible_at(start + len));
    }
    p.blocked = Some(blocked);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(d: u32, h: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2020, 6, d)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
    }

    fn settings() -> ScheduleSettings {
        ScheduleSettings {
            start: t(1, 0),
            end: t(3, 0),
            window_hours: 6,
            wait_minutes: 180,
            max_windows_per_run: 4,
            max_backlog_windows: 6,
            force: false,
        }
    }

    #[test]
    fn waits_for_the_cutoff_and_batches_the_backlog() {
        let s = settings();
        let p = plan(&s, t(1, 0), t(1, 8), |_| ForcingCheck::Delivered);
        assert!(p.windows.is_empty());
        assert_eq!(p.next_eligible, Some(t(1, 9)));
        let p = plan(&s, t(1, 0), t(1, 9), |_| ForcingCheck::Delivered);
        assert_eq!(p.windows, vec![(t(1, 0), t(1, 6))]);
        let p = plan(&s, t(1, 0), t(2, 9), |_| ForcingCheck::Delivered);
        assert_eq!(p.backlog, 5);
        assert_eq!(p.windows.len(), 4);
        assert_eq!(p.blocked, Some(Blocked::BatchFull));
        let p = plan(&s, t(1, 0), t(2, 21), |_| ForcingCheck::Delivered);
        assert!(matches!(p.blocked, Some(Blocked::BacklogExceeded { .. })));
        let forced = ScheduleSettings { force: true, ..s };
        assert_eq!(
            plan(&forced, t(1, 0), t(2, 21), |_| ForcingCheck::Delivered)
                .windows
                .len(),
            4
        );
    }

    #[test]
    fn stops_at_missing_forcing_and_at_the_end() {
        let s = settings();
        let p = plan(&s, t(1, 0), t(1, 21), |w| {
            if w.end == t(1, 12) {
                ForcingCheck::Missing {
                    file: "f.nc".into(),
                    overdue: false,
                }
            } else {
                ForcingCheck::Delivered
            }
        });
        assert_eq!(p.windows.len(), 1);
        assert!(matches!(p.blocked, Some(Blocked::WaitingForForcing { .. })));
        let p = plan(&s, t(3, 0), t(5, 0), |_| ForcingCheck::Delivered);
        assert!(p.windows.is_empty());
        assert_eq!(p.blocked, Some(Blocked::EndReached { end: t(3, 0) }));
        assert_eq!(p.next_cycle, None);
    }
}
