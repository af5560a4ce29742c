//! Cycle windows, model steps and calendar helpers over chrono.
//!
//! A cycle labelled T covers the window (T − window, T]; the model steps inside it end at
//! T − window + k·dt for k = 1..=n. All times are UTC and naive (no time zone arithmetic).

use chrono::{Duration, NaiveDateTime, Timelike};

/// One assimilation window: `start` (exclusive state time) to `end` (the cycle time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
}

impl Window {
    /// The cycle label `YYYYMMDDHH` of the window's end time (the run-directory name).
    pub fn label(&self) -> String {
        cycle_label(self.end)
    }

    /// End times of the model steps inside the window for a step of `dt_seconds`.
    pub fn step_ends(&self, dt_seconds: i64) -> Vec<NaiveDateTime> {
        let n = (self.end - self.start).num_seconds() / dt_seconds;
        (1..=n)
            .map(|k| self.start + Duration::seconds(k * dt_seconds))
            .collect()
    }
}

/// Consecutive windows of `hours` from `start` up to and including the one ending at or
/// before `end`.
pub fn windows(start: NaiveDateTime, end: NaiveDateTime, hours: i64) -> Vec<Window> {
    let mut out = Vec::new();
    let len = Duration::hours(hours);
    let mut t = start;
    while t + len <= end {
        out.push(Window {
            start: t,
            end: t + len,
        });
        t += len;
    }
    out
}

/// `YYYYMMDDHH` label of a cycle time.
pub fn cycle_label(t: NaiveDateTime) -> String {
    t.format("%Y%m%d%H").to_string()
}

/// Parse a `YYYYMMDDHH` cycle label.
pub fn parse_cycle_label(s: &str) -> Option<NaiveDateTime> {
    if s.len() != 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveDateTime::parse_from_str(&format!("{s}0000"), "%Y%m%d%H%M%S").ok()
}

/// True when `t` is a whole multiple of `interval_seconds` since midnight.
pub fn on_interval(t: NaiveDateTime, interval_seconds: i64) -> bool {
    let s = t.num_seconds_from_midnight() as i64;
    interval_seconds > 0 && s % interval_seconds == 0
}

/// Seconds since 1970-01-01 00:00 UTC.
pub fn epoch_seconds(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn windows_cover_the_period_without_gaps() {
        let w = windows(t("2020-06-01 00:00"), t("2020-06-02 03:00"), 6);
        assert_eq!(w.len(), 4);
        assert_eq!(w[0].label(), "2020060106");
        assert_eq!(w[3].end, t("2020-06-02 00:00"));
        for p in w.windows(2) {
            assert_eq!(p[0].end, p[1].start);
        }
    }

    #[test]
    fn steps_end_on_the_window_end() {
        let w = Window {
            start: t("2020-06-01 00:00"),
            end: t("2020-06-01 06:00"),
        };
        let s = w.step_ends(1800);
        assert_eq!(s.len(), 12);
        assert_eq!(*s.last().unwrap(), w.end);
    }

    #[test]
    fn labels_round_trip() {
        let x = t("2021-12-31 18:00");
        assert_eq!(parse_cycle_label(&cycle_label(x)), Some(x));
        assert_eq!(parse_cycle_label("20211231"), None);
        assert_eq!(parse_cycle_label("2021123118x"), None);
    }
}
