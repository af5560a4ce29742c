//! Locating the shared reference data (`LANDCYCLE_TESTDATA`, default `../shared/data`).
//!
//! Tests call [`require`]: when the data is absent the test fails under `CI=true`
//! and is skipped with a printed notice otherwise.

use std::path::PathBuf;

/// Root of the shared data directory.
pub fn root() -> PathBuf {
    match std::env::var_os("LANDCYCLE_TESTDATA") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"),
    }
}

/// Path of `rel` under the data root, or `None` (after printing a notice) when it is
/// missing outside CI. Under `CI=true` a missing file panics, so CI cannot pass silently.
pub fn require(rel: &str) -> Option<PathBuf> {
    let p = root().join(rel);
    if p.exists() {
        return Some(p);
    }
    if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
        panic!(
            "test data {} not found (set LANDCYCLE_TESTDATA; CI=true requires it)",
            p.display()
        );
    }
    eprintln!(
        "SKIPPED: test data {} not found (set LANDCYCLE_TESTDATA)",
        p.display()
    );
    None
}
