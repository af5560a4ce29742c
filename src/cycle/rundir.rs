//! Run-directory layout and bookkeeping: the only place that knows it.
//!
//! `<rundir>/<YYYYMMDDHH>/{output,restart,diag,log}/` per cycle, a `state.json` recording
//! the last completed cycle (written atomically through `io::atomic`), and a
//! `landcycle.lock` held with an exclusive advisory lock while a run is active, so two runs
//! never share a directory. Finding the newest valid restart and pruning old ones live here
//! too; the restart file itself is `io::restart`'s.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use crate::io::restart::{restart_file_name, verify_restart, RestartInfo};
use crate::io::{atomic_write, IoError};
use crate::time::{cycle_label, parse_cycle_label};

/// Errors of run-directory handling.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    #[error("run directory {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("run directory {0} is locked by another landcycle run (lock file {0}/landcycle.lock)")]
    Locked(PathBuf),
    #[error("state file {path} is unreadable: {msg}")]
    State { path: PathBuf, msg: String },
    #[error("{0}")]
    File(#[from] IoError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RunDirError + '_ {
    move |source| RunDirError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What `state.json` records.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunState {
    /// Label `YYYYMMDDHH` of the last cycle whose restart and output are complete.
    pub last_completed_cycle: String,
    /// Path of that cycle's restart file.
    pub restart: PathBuf,
    /// Configuration fingerprint of the run that wrote it.
    pub config_fingerprint: String,
}

/// The held run lock ([`RunDir::lock`]); released when dropped (or by the kernel when the
/// process dies).
#[derive(Debug)]
pub struct RunLock {
    _dir: File,
    _file: File,
}

/// A run directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub root: PathBuf,
}

impl RunDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RunDir { root: root.into() }
    }

    /// Directory of one cycle and one of its parts (`output`, `restart`, `diag`, `log`).
    pub fn cycle_dir(&self, cycle: NaiveDateTime, part: &str) -> PathBuf {
        self.root.join(cycle_label(cycle)).join(part)
    }

    /// Create the cycle's directories.
    pub fn create_cycle(&self, cycle: NaiveDateTime) -> Result<(), RunDirError> {
        for part in ["output", "restart", "diag", "log"] {
            let d = self.cycle_dir(cycle, part);
            fs::create_dir_all(&d).map_err(io_err(&d))?;
        }
        Ok(())
    }

    /// Take the run lock (non-blocking). The lock lasts as long as the returned value lives.
    ///
    /// Two advisory locks: on the run directory itself and on `landcycle.lock` (which
    /// records the holder's pid for `landcycle status`). The directory lock is what makes
    /// it safe: deleting the lock file during a run creates a new file a second run could
    /// lock, but the directory it must also lock is still held.
    pub fn lock(&self) -> Result<RunLock, RunDirError> {
        fs::create_dir_all(&self.root).map_err(io_err(&self.root))?;
        let dir = File::open(&self.root).map_err(io_err(&self.root))?;
        self.try_lock(&dir, &self.root)?;
        let p = self.root.join("landcycle.lock");
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(io_err(&p))?;
        self.try_lock(&f, &p)?;
        f.set_len(0).map_err(io_err(&p))?;
        writeln!(f, "pid {}", std::process::id()).map_err(io_err(&p))?;
        Ok(RunLock {
            _dir: dir,
            _file: f,
        })
    }

    fn try_lock(&self, f: &File, p: &Path) -> Result<(), RunDirError> {
        match f.try_lock() {
            Ok(()) => Ok(()),
            Err(std::fs::TryLockError::WouldBlock) => Err(RunDirError::Locked(self.root.clone())),
            Err(std::fs::TryLockError::Error(e)) => Err(io_err(p)(e)),
        }
    }

    /// Whether another process holds the directory lock (even with the lock file deleted).
    pub fn is_locked(&self) -> bool {
        let Ok(dir) = File::open(&self.root) else {
            return false;
        };
        match dir.try_lock_shared() {
            Ok(()) => false,
            Err(std::fs::TryLockError::WouldBlock) => true,
            Err(std::fs::TryLockError::Error(_)) => false,
        }
    }

    /// Remove temporary files of a crashed write (`.<name>.tmp.<pid>.<n>`, `io::atomic`)
    /// in the run directory and its cycle directories; returns how many. Only under the
    /// lock: then no other process is writing here.
    pub fn remove_temp_files(&self) -> usize {
        fn sweep(dir: &Path, depth: usize, n: &mut usize) {
            let Ok(rd) = fs::read_dir(dir) else {
                return;
            };
            for e in rd.flatten() {
                let p = e.path();
                let name = e.file_name().to_string_lossy().into_owned();
                if p.is_dir() && depth > 0 && !name.starts_with("trash") {
                    sweep(&p, depth - 1, n);
                } else if name.starts_with('.') && name.contains(".tmp") && p.is_file() {
                    match fs::remove_file(&p) {
                        Ok(()) => *n += 1,
                        Err(e) => tracing::warn!("could not remove {}: {e}", p.display()),
                    }
                }
            }
        }
        let mut n = 0;
        sweep(&self.root, 2, &mut n);
        n
    }

    /// Move every cycle directory and the run's records (`state.json`, `nrt_status.json`,
    /// `events.jsonl`) into `trash/<tag>/`, never deleting; returns the trash directory
    /// and the cycles moved.
    pub fn move_all_aside(&self, tag: &str) -> Result<(PathBuf, Vec<String>), RunDirError> {
        let trash = self.root.join("trash").join(tag);
        fs::create_dir_all(&trash).map_err(io_err(&trash))?;
        let mut moved = Vec::new();
        for c in self.cycles() {
            let label = cycle_label(c);
            let from = self.root.join(&label);
            fs::rename(&from, trash.join(&label)).map_err(io_err(&from))?;
            moved.push(label);
        }
        for name in ["state.json", "nrt_status.json", "events.jsonl"] {
            let from = self.root.join(name);
            if from.exists() {
                fs::rename(&from, trash.join(name)).map_err(io_err(&from))?;
            }
        }
        let d = File::open(&self.root).map_err(io_err(&self.root))?;
        d.sync_all().map_err(io_err(&self.root))?;
        Ok((trash, moved))
    }

    fn state_path(&self) -> PathBuf {
        self.root.join("state.json")
    }

    /// Read `state.json` (None when absent).
    pub fn read_state(&self) -> Result<Option<RunState>, RunDirError> {
        let p = self.state_path();
        let text = match fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&p)(e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| RunDirError::State {
                path: p.clone(),
                msg: e.to_string(),
            })
    }

    /// Record the last completed cycle (atomically: temporary file, fsync, rename).
    pub fn write_state(&self, state: &RunState) -> Result<(), RunDirError> {
        let text = serde_json::to_string_pretty(state).expect("state serialises");
        atomic_write(&self.state_path(), |tmp| {
            fs::write(tmp, text.as_bytes()).map_err(io_err(tmp))
        })
    }

    /// Path of the restart of `cycle`.
    pub fn restart_path(&self, cycle: NaiveDateTime) -> PathBuf {
        self.cycle_dir(cycle, "restart")
            .join(restart_file_name(cycle))
    }

    /// The newest restart that verifies (complete, checksum intact), searching cycles from
    /// the newest; invalid ones are skipped with a warning.
    pub fn latest_restart(&self) -> Result<Option<RestartInfo>, RunDirError> {
        if !self.root.is_dir() {
            return Err(io_err(&self.root)(std::io::Error::from(
                std::io::ErrorKind::NotFound,
            )));
        }
        for cycle in self.cycles().into_iter().rev() {
            let dir = self.cycle_dir(cycle, "restart");
            let Ok(rd) = fs::read_dir(&dir) else {
                continue;
            };
            let mut files: Vec<PathBuf> = rd
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    let name = p
                        .file_name()
                        .map(|n| n.to_string_lossy())
                        .unwrap_or_default();
                    name.starts_with("LC_RST_") && name.ends_with(".h5")
                })
                .collect();
            files.sort();
            for f in files.into_iter().rev() {
                match verify_restart(&f) {
                    Ok(info) => return Ok(Some(info)),
                    Err(e) => tracing::warn!("skipping invalid restart: {e}"),
                }
            }
        }
        Ok(None)
    }

    /// Whether cycle `c` has a record, a restart or a history file (a directory that a
    /// failed start only created has none).
    pub fn holds_results(&self, c: NaiveDateTime) -> bool {
        let nonempty = |d: PathBuf| fs::read_dir(d).is_ok_and(|mut r| r.next().is_some());
        self.root.join(cycle_label(c)).join("cycle.json").exists()
            || nonempty(self.cycle_dir(c, "restart"))
            || nonempty(self.cycle_dir(c, "output"))
    }

    /// Cycle labels present in the run directory, oldest first.
    pub fn cycles(&self) -> Vec<NaiveDateTime> {
        let mut v: Vec<NaiveDateTime> = fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| parse_cycle_label(&e.file_name().to_string_lossy()))
            .collect();
        v.sort();
        v
    }

    /// Remove restart files of cycles older than the newest `keep` ones (0 keeps all).
    /// Never removes the restart of `protect`.
    pub fn prune_restarts(&self, keep: usize, protect: NaiveDateTime) {
        if keep == 0 {
            return;
        }
        let path = |c: NaiveDateTime| self.restart_path(c);
        let with_restart: Vec<NaiveDateTime> = self
            .cycles()
            .into_iter()
            .filter(|c| path(*c).exists())
            .collect();
        if with_restart.len() <= keep {
            return;
        }
        for c in &with_restart[..with_restart.len() - keep] {
            if *c != protect {
                if let Err(e) = fs::remove_file(path(*c)) {
                    tracing::warn!("could not remove old restart {}: {e}", path(*c).display());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_is_exclusive_and_state_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let rd = RunDir::new(dir.path());
        let l1 = rd.lock().unwrap();
        // A second handle in the same process conflicts with flock semantics too.
        assert!(matches!(rd.lock(), Err(RunDirError::Locked(_))));
        drop(l1);
        let l2 = rd.lock().unwrap();
        // Deleting the lock file does not let a second run in: the directory is locked too.
        std::fs::remove_file(dir.path().join("landcycle.lock")).unwrap();
        assert!(rd.is_locked());
        assert!(matches!(rd.lock(), Err(RunDirError::Locked(_))));
        drop(l2);
        assert!(!rd.is_locked());
        let _l3 = rd.lock().unwrap();
        assert_eq!(rd.read_state().unwrap(), None);
        let s = RunState {
            last_completed_cycle: "2020060106".into(),
            restart: "x.h5".into(),
            config_fingerprint: "abc".into(),
        };
        rd.write_state(&s).unwrap();
        assert_eq!(rd.read_state().unwrap(), Some(s));
    }
}
