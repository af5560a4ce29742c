//! Perturbation clock: model time ↔ perturbation time index.
//!
//! The index counts whole perturbation intervals since 1970-01-01T00:00:00 (UTC), rounding
//! towards −∞. Because it is absolute (not counted from the start of a run), a run split into
//! pieces, restarted, or run on any number of ranks uses the same index — and hence the same
//! keyed random numbers — for the same model time.

use chrono::{DateTime, NaiveDateTime};

use super::PerturbError;

/// Perturbation time index of `time` for the given interval (s, > 0): ⌊seconds since epoch /
/// interval⌋. The perturbation values of index k hold on [k·interval, (k+1)·interval).
pub fn time_index(time: NaiveDateTime, interval_seconds: i64) -> Result<i64, PerturbError> {
    if interval_seconds <= 0 {
        return Err(PerturbError::State(format!(
            "perturbation interval must be > 0 s, got {interval_seconds}"
        )));
    }
    Ok(index_unchecked(time, interval_seconds))
}

/// `time_index` for an interval already validated to be > 0.
pub(crate) fn index_unchecked(time: NaiveDateTime, interval_seconds: i64) -> i64 {
    time.and_utc().timestamp().div_euclid(interval_seconds)
}

/// Start of perturbation interval `index`; None outside chrono's representable range.
pub fn interval_start(index: i64, interval_seconds: i64) -> Option<NaiveDateTime> {
    let secs = index.checked_mul(interval_seconds)?;
    DateTime::from_timestamp(secs, 0).map(|t| t.naive_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn index_floors_and_round_trips() {
        let t = NaiveDate::from_ymd_opt(2020, 7, 1)
            .unwrap()
            .and_hms_opt(5, 59, 59)
            .unwrap();
        let k = time_index(t, 10800).unwrap();
        let s = interval_start(k, 10800).unwrap();
        assert_eq!(
            s,
            NaiveDate::from_ymd_opt(2020, 7, 1)
                .unwrap()
                .and_hms_opt(3, 0, 0)
                .unwrap()
        );
        assert_eq!(time_index(s, 10800).unwrap(), k);
        assert!(time_index(s, 0).is_err());
        let before = NaiveDate::from_ymd_opt(1969, 12, 31)
            .unwrap()
            .and_hms_opt(23, 0, 0)
            .unwrap();
        assert_eq!(time_index(before, 10800).unwrap(), -1);
    }
}
