//! Observation file discovery: the files of a product directory whose names match a
//! strftime + glob pattern at the hours a window may draw observations from.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{Duration, Timelike};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches() {
        assert!(glob_match("SMAP_*_2015*.h5", "SMAP_L2_2015081.h5"));
        assert!(!glob_match("SMAP_*_2015*.h5", "SMAP_L2_2016081.h5"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "abbc"));
        assert!(glob_match("*", ""));
    }
}
