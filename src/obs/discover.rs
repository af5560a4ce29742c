//! Observation file discovery: the files of a product directory whose names match a
//! strftime + glob pattern at the hours a window may draw observations from.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{Duration, NaiveDateTime, Timelike};

use crate::time::Window;

/// `*` matches any text, `?` one character.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = name.chars().collect();
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Files in `dir` whose names match `pattern` with its strftime fields expanded at every
/// hour from 24 h before the window start to the window end (an orbit file named by its
/// start time may hold observations of the next day). Sorted by name; a missing directory
/// gives no file.
pub fn find_observation_files(dir: &Path, pattern: &str, w: &Window) -> Vec<PathBuf> {
    let mut patterns = BTreeSet::new();
    let first = w.start - Duration::hours(24);
    let mut t = first
        .date()
        .and_hms_opt(first.hour(), 0, 0)
        .expect("valid hour");
    while t <= w.end {
        patterns.insert(t.format(pattern).to_string());
        t += Duration::hours(1);
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = rd
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            patterns.iter().any(|p| glob_match(p, &name))
        })
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

/// The time a product file name carries (the granule or orbit start): the first
/// `YYYYMMDDThhmmss` (SMAP `SMAP_L2_SM_P_00001_D_20200601T051000_R18290_001.h5`),
/// `YYYYMMDDhhmmss` (EUMETSAT ASCAT `ASCAT_SMR_125_METOPA_20200601040000_00001_ssm_l2.nc`)
/// or `YYYYMMDD_hhmmss` (H SAF BUFR `h16_20200601_081200_...`) that stands apart from other
/// digits. `None` when the name has none.
pub fn granule_time(name: &str) -> Option<NaiveDateTime> {
    let b = name.as_bytes();
    let digits = |from: usize, n: usize| {
        from + n <= b.len() && b[from..from + n].iter().all(u8::is_ascii_digit)
    };
    let apart = |i: usize| i >= b.len() || !b[i].is_ascii_digit();
    for i in 0..b.len() {
        if (i > 0 && b[i - 1].is_ascii_digit()) || !digits(i, 8) {
            continue;
        }
        let time_at = match b.get(i + 8) {
            Some(b'T') | Some(b'_') if digits(i + 9, 6) && apart(i + 15) => i + 9,
            _ if digits(i + 8, 6) && apart(i + 14) => i + 8,
            _ => continue,
        };
        let text = format!("{}{}", &name[i..i + 8], &name[time_at..time_at + 6]);
        if let Ok(t) = NaiveDateTime::parse_from_str(&text, "%Y%m%d%H%M%S") {
            return Some(t);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn granule_times_of_smap_ascat_and_bufr_names() {
        let t = |s: &str| NaiveDateTime::parse_from_str(s, "%Y%m%d%H%M%S").unwrap();
        assert_eq!(
            granule_time("SMAP_L2_SM_P_00001_D_20200601T051000_R18290_001.h5"),
            Some(t("20200601051000"))
        );
        assert_eq!(
            granule_time("ASCAT_SMR_125_METOPA_20200601040000_00001_ssm_l2.nc"),
            Some(t("20200601040000"))
        );
        assert_eq!(
            granule_time("h16_20200601_081200_metopb_12345_ZAMG.buf"),
            Some(t("20200601081200"))
        );
        assert_eq!(granule_time("obs_2020060112.nc"), None);
        assert_eq!(granule_time("x_20201301T000000.h5"), None);
    }

    #[test]
    fn glob_matches() {
        assert!(glob_match("SMAP_*_2015*.h5", "SMAP_L2_2015081.h5"));
        assert!(!glob_match("SMAP_*_2015*.h5", "SMAP_L2_2016081.h5"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "abbc"));
        assert!(glob_match("*", ""));
    }
}
