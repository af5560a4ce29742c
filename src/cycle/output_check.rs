//! The output checksums of complete cycles: when a cycle completes, the size and SHA-256 of
//! every history, diagnostics and export file go into its `cycle.json`; recovery verifies
//! them for the newest `nrt:verify_output_cycles` complete cycles. A truncated or changed
//! file makes its cycle (and the later ones) rerun from the previous restart, after the bad
//! file is moved into `trash/` (never deleted); runs are deterministic, so the rerun writes
//! the bytes recorded. Records written before checksums were kept have none to verify.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{Duration, NaiveDateTime};

use super::cycle_record::{append_event, sha256_file, CycleRecord, CycleStatus, OutputFile};
use super::rundir::{RunDir, RunDirError};
use crate::config::{Config, CouplerMode};
use crate::io::xchg::CycleDirs;
use crate::time::cycle_label;

/// Files of `dir` in name order, without hidden (temporary) ones.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

/// Where the land export of `cycle` is published, when the run exports into an exchange
/// directory (`lnd2atm/LND_*.nc`).
pub fn export_dir(cfg: &Config, cycle: NaiveDateTime) -> Option<PathBuf> {
    (cfg.coupler.export && cfg.coupler.mode == CouplerMode::Exchange)
        .then(|| CycleDirs::new(&cfg.coupler.directory, cycle).lnd2atm)
}

/// Size and SHA-256 of every output of `cycle`: `<cycle>/output/*`, `<cycle>/diag/*` (paths
/// relative to the run directory) and the export files in `exports`.
pub fn cycle_outputs(
    rundir: &RunDir,
    cycle: NaiveDateTime,
    exports: Option<&Path>,
) -> Result<Vec<OutputFile>, RunDirError> {
    let mut paths = files_in(&rundir.cycle_dir(cycle, "output"));
    paths.extend(files_in(&rundir.cycle_dir(cycle, "diag")));
    if let Some(d) = exports {
        let land = |p: &PathBuf| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("LND_"))
        };
        paths.extend(files_in(d).into_iter().filter(land));
    }
    paths
        .into_iter()
        .map(|p| {
            let (sha256, size) = sha256_file(&p)?;
            let path = p
                .strip_prefix(&rundir.root)
                .map_or(p.clone(), Path::to_path_buf);
            Ok(OutputFile { path, size, sha256 })
        })
        .collect()
}

/// The recorded outputs of `rec` that are missing or differ, with why.
fn invalid_outputs(rundir: &RunDir, rec: &CycleRecord) -> Vec<(PathBuf, String)> {
    let mut bad = Vec::new();
    for f in &rec.outputs {
        let path = rundir.root.join(&f.path);
        match sha256_file(&path) {
            Ok((sha, size)) if sha == f.sha256 && size == f.size => {}
            Ok((sha, size)) => bad.push((
                path,
                format!(
                    "{size} bytes, sha256 {sha}; recorded {} bytes, sha256 {}",
                    f.size, f.sha256
                ),
            )),
            Err(e) => bad.push((path, format!("unreadable ({e})"))),
        }
    }
    bad
}

/// Move `file` (inside the run directory) to `<trash>/<its path in the run directory>`.
fn move_aside(rundir: &RunDir, trash: &Path, file: &Path) -> Result<PathBuf, RunDirError> {
    let rel = file.strip_prefix(&rundir.root).unwrap_or(file);
    let to = trash.join(rel);
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| RunDirError::Io { path: p, source }
    };
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent).map_err(io(parent))?;
    }
    fs::rename(file, &to).map_err(io(file))?;
    Ok(to)
}

/// Verify the outputs of the newest `nrt:verify_output_cycles` complete cycles up to
/// `upto` that can be rerun (the restart before them is still there, or they are the
/// first); move every bad file inside the run directory aside (an export stays where the
/// atmosphere may have read it: its rerun must reproduce it or stop). Returns the oldest
/// cycle with a bad output: recovery resumes before it.
pub fn first_invalid_cycle(
    cfg: &Config,
    rundir: &RunDir,
    upto: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<Option<NaiveDateTime>, RunDirError> {
    let window = Duration::hours(i64::from(cfg.run.window_hours));
    let stamp = super::nrt::stamp(now);
    let trash = |c: NaiveDateTime| {
        let tag = format!("{}-invalid-{}", now.format("%Y%m%dT%H%M%S"), cycle_label(c));
        rundir.root.join("trash").join(tag)
    };
    let mut first = None;
    let complete = rundir.cycles().into_iter().rev().filter(|c| *c <= upto);
    let records = complete.filter_map(|c| {
        let rec = CycleRecord::load(rundir, c).ok().flatten()?;
        (rec.status == CycleStatus::Complete).then_some((c, rec))
    });
    for (c, rec) in records.take(cfg.nrt.verify_output_cycles as usize) {
        let prev = c - window;
        if prev > cfg.run.start && !rundir.restart_path(prev).is_file() {
            break; // no restart to rerun it from: it and older cycles stay as they are
        }
        for (file, why) in invalid_outputs(rundir, &rec) {
            let moved = if file.starts_with(&rundir.root) && file.exists() {
                Some(move_aside(rundir, &trash(c), &file)?)
            } else {
                None
            };
            tracing::warn!(
                "cycle {} is recorded complete but {} is {why}: rerunning it{}",
                rec.cycle,
                file.display(),
                moved
                    .as_ref()
                    .map_or(String::new(), |m| format!(" (moved to {})", m.display()))
            );
            let f = serde_json::json!({ "cycle": rec.cycle, "file": file, "found": why,
                "moved_to": moved });
            append_event(rundir, &stamp, "output_invalid", f);
            first = Some(c);
        }
    }
    Ok(first)
}
