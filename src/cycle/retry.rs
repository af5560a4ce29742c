//! What `landcycle nrt` does after a cycle failed: retry transient failures after a
//! doubling back-off, stop at once for permanent ones, and keep the failed attempt's
//! directory for forensics.
//!
//! Transient: I/O (full disk, a file system hiccup), a missing or unreadable input (a
//! forcing file still being delivered), a failure on another rank. Permanent: the
//! configuration (a restart of another fingerprint, an invalid setting), a corrupt static
//! file, a model failure (deterministic: it would fail the same way again). Why the split:
//! a retry of a permanent failure only delays the operator who must act anyway.

use chrono::{Duration, NaiveDateTime};

use super::cycle_record::manifest_path;
use super::error::CycleError;
use super::rundir::{RunDir, RunDirError};
use crate::config::NrtConfig;
use crate::io::IoError;
use crate::time::cycle_label;

/// Whether retrying cannot help.
pub fn is_permanent(e: &CycleError) -> bool {
    matches!(
        e,
        CycleError::Io(IoError::Fingerprint { .. })
            | CycleError::Invalid(_)
            | CycleError::Grid(_)
            | CycleError::Model(_)
            | CycleError::Cell { .. }
            | CycleError::Step(_)
            | CycleError::ExistingCycles { .. }
    )
}

/// The earliest next attempt after the `failures`-th failure at `now`:
/// base · 2^(failures−1), at most the maximum.
pub fn next_attempt(cfg: &NrtConfig, now: NaiveDateTime, failures: u32) -> NaiveDateTime {
    let doubling = 1u64 << failures.saturating_sub(1).min(20);
    let minutes =
        (u64::from(cfg.retry_base_minutes) * doubling).min(u64::from(cfg.retry_max_minutes));
    now + Duration::minutes(minutes as i64)
}

/// Move the directory of a failed attempt of `cycle` to `<cycle>.failed-<n>/` and start
/// a clean one holding the frozen observation manifest (so the retry reads the same files;
/// the caller stores the record). Returns the kept directory's name.
pub fn keep_failed_attempt(
    rundir: &RunDir,
    cycle: NaiveDateTime,
    n: u32,
) -> Result<String, RunDirError> {
    let label = cycle_label(cycle);
    let kept = format!("{label}.failed-{n}");
    let from = rundir.root.join(&label);
    let to = rundir.root.join(&kept);
    let io = |p: &std::path::Path| {
        let path = p.to_path_buf();
        move |source| RunDirError::Io { path, source }
    };
    std::fs::rename(&from, &to).map_err(io(&from))?;
    std::fs::create_dir_all(&from).map_err(io(&from))?;
    let manifest = manifest_path(rundir, cycle);
    let old_manifest = to.join(manifest.file_name().unwrap_or_default());
    if old_manifest.is_file() {
        std::fs::copy(&old_manifest, &manifest).map_err(io(&manifest))?;
    }
    Ok(kept)
}
