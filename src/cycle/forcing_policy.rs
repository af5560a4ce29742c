//! Whether a cycle's forcing is delivered, and what `nrt:on_missing_forcing` does when it
//! is still missing at the cycle's deadline (T + `forcing_deadline_minutes`):
//!
//! ```text
//! wait            keep waiting; past the deadline the status is WARNING naming the file
//! previous_cycle  read an earlier atmosphere cycle's longer leads (one window back, two, ...
//!                 while every lead ≤ max_fallback_lead_hours), recorded in cycle.json and
//!                 reused by every rerun of the cycle; none within the bound: as 'wait'
//! fail            the cycle fails permanently until an operator forces it
//! ```
//!
//! Delivered means: every data file of the window exists (`coupler:mode = 'files'`), or the
//! atmosphere's `atm2lnd/READY` exists and its manifest verifies (`'exchange'`).

use std::path::PathBuf;

use chrono::{Duration, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::config::{Config, CouplerMode, OnMissingForcing};
use crate::forcing::ForcingSpec;
use crate::io::xchg::{read_ready, CycleDirs, READY};
use crate::time::Window;

/// A cycle forced by an earlier atmosphere cycle than its own (recorded in `cycle.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForcingFallback {
    /// The atmosphere cycle read (`{init}` of the template).
    pub init: NaiveDateTime,
    /// The land cycle that this atmosphere cycle normally forces.
    pub issuing_land_cycle: NaiveDateTime,
    /// The leads read (h), one per file time of the window.
    pub leads_h: Vec<i64>,
    /// The cycle's own file that was missing at its deadline.
    pub missing: String,
}

/// What the forcing allows for one cycle.
#[derive(Debug, Clone, PartialEq)]
pub enum ForcingCheck {
    Delivered,
    Fallback(ForcingFallback),
    /// Missing; `overdue` once the deadline has passed (status WARNING).
    Missing {
        file: String,
        overdue: bool,
    },
    /// Missing at the deadline with `on_missing_forcing = 'fail'`.
    Fail {
        file: String,
    },
}

/// The forcing rules of a run.
#[derive(Debug, Clone)]
pub struct ForcingPolicy {
    spec: ForcingSpec,
    /// Mode 'exchange': the exchange directory.
    exchange: Option<PathBuf>,
    on_missing: OnMissingForcing,
    deadline: Duration,
    max_lead_h: i64,
    window: Duration,
}

impl ForcingPolicy {
    pub fn from_config(cfg: &Config) -> Self {
        let exchange =
            (cfg.coupler.mode == CouplerMode::Exchange).then(|| cfg.coupler.directory.clone());
        ForcingPolicy {
            spec: super::forcing_spec(cfg),
            exchange,
            on_missing: cfg.nrt.on_missing_forcing,
            deadline: Duration::minutes(i64::from(cfg.nrt.forcing_deadline_minutes)),
            max_lead_h: i64::from(cfg.nrt.max_fallback_lead_hours),
            window: Duration::hours(i64::from(cfg.run.window_hours)),
        }
    }

    /// The forcing of cycle `w` at `now`; `recorded` is the fallback an earlier attempt of
    /// the cycle used (a rerun reads the same files).
    pub fn check(
        &self,
        w: &Window,
        now: NaiveDateTime,
        recorded: Option<&ForcingFallback>,
    ) -> ForcingCheck {
        if let Some(fb) = recorded {
            return match self.missing(w, fb.issuing_land_cycle) {
                None => ForcingCheck::Fallback(fb.clone()),
                Some(file) => ForcingCheck::Missing {
                    file,
                    overdue: true,
                },
            };
        }
        let Some(file) = self.missing(w, w.end) else {
            return ForcingCheck::Delivered;
        };
        if now < w.end + self.deadline {
            return ForcingCheck::Missing {
                file,
                overdue: false,
            };
        }
        match self.on_missing {
            OnMissingForcing::Wait => ForcingCheck::Missing {
                file,
                overdue: true,
            },
            OnMissingForcing::Fail => ForcingCheck::Fail { file },
            OnMissingForcing::PreviousCycle => match self.fallback(w, &file) {
                Some(fb) => ForcingCheck::Fallback(fb),
                None => ForcingCheck::Missing {
                    file: format!(
                        "{file} (no earlier atmosphere cycle within nrt:max_fallback_lead_hours \
                         = {} has every file)",
                        self.max_lead_h
                    ),
                    overdue: true,
                },
            },
        }
    }

    /// The newest earlier atmosphere cycle whose leads for `w` are all within the bound and
    /// all delivered.
    fn fallback(&self, w: &Window, missing: &str) -> Option<ForcingFallback> {
        let offset = Duration::hours(self.spec.source_cycle_offset_hours);
        for k in 1.. {
            let land = w.end - self.window * k;
            let init = land + offset;
            let leads_h: Vec<i64> = file_times(&self.spec, w)
                .iter()
                .map(|t| (*t - init).num_hours())
                .collect();
            if leads_h.iter().any(|&l| l > self.max_lead_h) {
                return None;
            }
            if self.missing(w, land).is_none() {
                return Some(ForcingFallback {
                    init,
                    issuing_land_cycle: land,
                    leads_h,
                    missing: missing.to_string(),
                });
            }
        }
        None
    }

    /// The first missing input of window `w` read as land cycle `issuing` (None: delivered).
    fn missing(&self, w: &Window, issuing: NaiveDateTime) -> Option<String> {
        match &self.exchange {
            Some(root) => missing_delivery(root, w.end),
            None => missing_forcing_file(&self.spec, w, issuing),
        }
    }
}

/// Every file time of window `w`: from the one at or before its start to the first at or
/// after its end (files are aligned to 00 UTC).
fn file_times(spec: &ForcingSpec, w: &Window) -> Vec<NaiveDateTime> {
    let step = spec.interval_seconds.max(1);
    let s0 = w.start.and_utc().timestamp().div_euclid(step) * step;
    let e = w.end.and_utc().timestamp();
    let s1 = (e + step - 1).div_euclid(step) * step;
    (0..)
        .map(|k| s0 + k * step)
        .take_while(|ts| *ts <= s1)
        .filter_map(|ts| chrono::DateTime::from_timestamp(ts, 0).map(|t| t.naive_utc()))
        .collect()
}

/// The first missing data file of window `w` as the land cycle `issuing` reads it.
pub fn missing_forcing_file(
    spec: &ForcingSpec,
    w: &Window,
    issuing: NaiveDateTime,
) -> Option<String> {
    file_times(spec, w)
        .into_iter()
        .find_map(|t| match spec.file_path_in_cycle(t, Some(issuing)) {
            Ok(p) if p.is_file() => None,
            Ok(p) => Some(p.display().to_string()),
            Err(e) => Some(e.to_string()),
        })
}

/// Mode 'exchange': why the atmosphere's delivery for the land cycle ending at `end` is not
/// usable yet (no READY, or a manifest or file that does not verify: a delivery in
/// progress), through the coupler's own check.
fn missing_delivery(root: &std::path::Path, end: NaiveDateTime) -> Option<String> {
    let dir = CycleDirs::new(root, end).atm2lnd;
    match read_ready(&dir) {
        Ok(None) => Some(dir.join(READY).display().to_string()),
        Err(e) => Some(e.to_string()),
        Ok(Some(hash)) => crate::coupler::exchange::verified_manifest(&dir, &hash)
            .err()
            .map(|e| format!("{} (does not verify: {e})", dir.join(READY).display())),
    }
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

    #[test]
    fn file_times_cover_the_window_ends() {
        let mut spec = ForcingSpec::gldas(PathBuf::from("x"));
        spec.interval_seconds = 3 * 3600;
        let w = Window {
            start: t(1, 0),
            end: t(1, 6),
        };
        assert_eq!(file_times(&spec, &w), vec![t(1, 0), t(1, 3), t(1, 6)]);
    }
}
