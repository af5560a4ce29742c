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

    /// Take the run lock (non-blocking). The lock lasts as long as the returned file is open.
    pub fn lock(&self) -> Result<File, RunDirError> {
        fs::create_dir_all(&self.root).map_err(io_err(&self.root))?;
        let p = self.root.join("landcycle.lock");
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(io_err(&p))?;
        match f.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(RunDirError::Locked(self.root.clone()))
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&p)(e)),
        }
        f.set_len(0).map_err(io_err(&p))?;
        writeln!(f, "pid {}", std::process::id()).map_err(io_err(&p))?;
        Ok(f)
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
        let _l2 = rd.lock().unwrap();
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
