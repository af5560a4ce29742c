//! The near-real-time records of a run directory: per cycle a `cycle.json` (its status,
//! attempts, mode and error) and an `obs_manifest.json` (the observation files frozen at the
//! cut-off), and the append-only `events.jsonl` of the run directory. JSON records are
//! written atomically through `io::atomic`; events are appended one line per write.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::obs_window::FrozenObsFiles;
use super::rundir::{RunDir, RunDirError};
use crate::io::atomic_write;
use crate::time::cycle_label;

/// Where a cycle is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CycleStatus {
    Planned,
    Running,
    Complete,
    Failed,
}

/// `<cycle>/cycle.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CycleRecord {
    /// Cycle label `YYYYMMDDHH` (the window's end).
    pub cycle: String,
    pub status: CycleStatus,
    /// Attempts started (a rerun after a kill or a failure is the next attempt).
    pub attempt: u32,
    /// Attempts that ended in an error (what `nrt:max_attempts` limits).
    pub failures: u32,
    /// `da` or `open_loop`.
    pub mode: String,
    /// Why the cycle runs open loop (None with assimilation).
    pub open_loop_reason: Option<String>,
    /// Observation files per product in the frozen manifest.
    pub obs_files: BTreeMap<String, usize>,
    /// SHA-256 of `obs_manifest.json` (None without assimilation).
    pub obs_manifest_sha256: Option<String>,
    /// The last error of a failed attempt.
    pub error: Option<String>,
    /// Wall-clock (or `--now`) time of the last change, ISO 8601.
    pub updated: String,
    /// The last failure was permanent (not retried without an operator's `--force`).
    #[serde(default)]
    pub permanent: bool,
    /// No new attempt before this time (back-off after a transient failure).
    #[serde(default)]
    pub next_attempt_after: Option<NaiveDateTime>,
    /// Directories of failed attempts kept for forensics (`<cycle>.failed-<n>`).
    #[serde(default)]
    pub failed_attempt_dirs: Vec<String>,
    /// Every history, diagnostics and export file of the complete cycle with its size and
    /// SHA-256, verified by recovery (empty in records written before they were kept).
    #[serde(default)]
    pub outputs: Vec<OutputFile>,
    /// The earlier atmosphere cycle that forced this cycle (`on_missing_forcing =
    /// 'previous_cycle'`); every rerun reads the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forcing_fallback: Option<super::forcing_policy::ForcingFallback>,
}

/// One output file of a complete cycle: its path (relative to the run directory when inside
/// it), size and SHA-256 as committed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputFile {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RunDirError + '_ {
    move |source| RunDirError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Write `value` as pretty JSON to `path`, atomically.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<(), RunDirError> {
    let text = serde_json::to_string_pretty(value).expect("records serialise");
    atomic_write(path, |tmp| {
        fs::write(tmp, text.as_bytes()).map_err(io_err(tmp))
    })
}

/// Read JSON from `path` (None when the file does not exist).
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, RunDirError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path)(e)),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| RunDirError::State {
            path: path.to_path_buf(),
            msg: e.to_string(),
        })
}

/// Path of a cycle's record.
pub fn record_path(rundir: &RunDir, cycle: NaiveDateTime) -> PathBuf {
    rundir.root.join(cycle_label(cycle)).join("cycle.json")
}

/// Path of a cycle's frozen observation manifest.
pub fn manifest_path(rundir: &RunDir, cycle: NaiveDateTime) -> PathBuf {
    rundir
        .root
        .join(cycle_label(cycle))
        .join("obs_manifest.json")
}

impl CycleRecord {
    /// A new record of `cycle` (planned, no attempt yet).
    pub fn new(cycle: NaiveDateTime, now: &str) -> Self {
        CycleRecord {
            cycle: cycle_label(cycle),
            status: CycleStatus::Planned,
            attempt: 0,
            failures: 0,
            mode: "open_loop".into(),
            open_loop_reason: None,
            obs_files: BTreeMap::new(),
            obs_manifest_sha256: None,
            error: None,
            updated: now.to_string(),
            permanent: false,
            next_attempt_after: None,
            failed_attempt_dirs: Vec::new(),
            outputs: Vec::new(),
            forcing_fallback: None,
        }
    }

    pub fn load(rundir: &RunDir, cycle: NaiveDateTime) -> Result<Option<Self>, RunDirError> {
        read_json(&record_path(rundir, cycle))
    }

    pub fn store(&self, rundir: &RunDir, cycle: NaiveDateTime) -> Result<(), RunDirError> {
        let dir = rundir.root.join(cycle_label(cycle));
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        write_json_atomic(&record_path(rundir, cycle), self)
    }
}

/// One observation file of a manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestFile {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
}

/// `<cycle>/obs_manifest.json`: the observation files of a cycle, frozen at its cut-off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObsManifest {
    pub cycle: String,
    /// When the list was frozen (the clock of the `nrt` that froze it).
    pub frozen_at: String,
    /// Files per product name, sorted by name.
    pub products: BTreeMap<String, Vec<ManifestFile>>,
}

/// SHA-256 (hex) and size of a file.
pub fn sha256_file(path: &Path) -> Result<(String, u64), RunDirError> {
    let mut f = fs::File::open(path).map_err(io_err(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    Ok((
        h.finalize().iter().map(|b| format!("{b:02x}")).collect(),
        size,
    ))
}

impl ObsManifest {
    /// Freeze `files` (per product) with their sizes and checksums.
    pub fn freeze(
        cycle: NaiveDateTime,
        now: &str,
        files: &FrozenObsFiles,
    ) -> Result<Self, RunDirError> {
        let mut products = BTreeMap::new();
        for (name, list) in files {
            let entries = list
                .iter()
                .map(|p| {
                    let (sha256, size) = sha256_file(p)?;
                    Ok(ManifestFile {
                        path: p.clone(),
                        size,
                        sha256,
                    })
                })
                .collect::<Result<Vec<_>, RunDirError>>()?;
            products.insert(name.clone(), entries);
        }
        Ok(ObsManifest {
            cycle: cycle_label(cycle),
            frozen_at: now.to_string(),
            products,
        })
    }

    /// The files to read, after checking that each still has its frozen size and checksum
    /// (a changed file would make a rerun differ: an error naming the file).
    pub fn verified_files(&self) -> Result<FrozenObsFiles, RunDirError> {
        let mut out = FrozenObsFiles::new();
        for (name, list) in &self.products {
            for f in list {
                let (sha, size) = sha256_file(&f.path)?;
                if sha != f.sha256 || size != f.size {
                    return Err(RunDirError::State {
                        path: f.path.clone(),
                        msg: format!(
                            "observation file changed since cycle {}'s manifest was frozen at \
                             {} ({} bytes, sha256 {}; now {size} bytes, sha256 {sha})",
                            self.cycle, self.frozen_at, f.size, f.sha256
                        ),
                    });
                }
            }
            out.insert(name.clone(), list.iter().map(|f| f.path.clone()).collect());
        }
        Ok(out)
    }

    /// Files per product.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.products
            .iter()
            .map(|(k, v)| (k.clone(), v.len()))
            .collect()
    }
}

/// Append one event (`{"time", "event", ...fields}`) to `<rundir>/events.jsonl`.
pub fn append_event(rundir: &RunDir, now: &str, event: &str, fields: serde_json::Value) {
    let mut line = serde_json::json!({ "time": now, "event": event });
    if let (Some(obj), serde_json::Value::Object(extra)) = (line.as_object_mut(), fields) {
        obj.extend(extra);
    }
    let path = rundir.root.join("events.jsonl");
    let r = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
    if let Err(e) = r {
        tracing::warn!("could not append to {}: {e}", path.display());
    }
}
