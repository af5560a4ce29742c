//! Atomic replacement of a file: write a temporary file in the same directory, fsync it,
//! rename it over the final name, fsync the directory.
//!
//! Readers therefore see either the complete previous file or the complete new one, never a
//! partial file, and a writer that fails (error or panic) leaves the previous file untouched.
//! A write that fails because the disk is full or the file-size limit (`ulimit -f`) is
//! reached says "no space left" and names the file: libraries (NetCDF, HDF5) report it as
//! a generic write error otherwise.

use super::IoError;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes temporary names of concurrent writers within one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The temporary name used for `final_path`: `.<name>.tmp.<pid>.<n>` in the same directory
/// (same filesystem, so the rename is atomic). The leading dot keeps it out of globs such
/// as `LC_RST_*.h5`.
pub fn temp_path_for(final_path: &Path) -> PathBuf {
    let name = final_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_string());
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp_name = format!(".{name}.tmp.{}.{n}", std::process::id());
    match final_path.parent() {
        Some(dir) => dir.join(tmp_name),
        None => PathBuf::from(tmp_name),
    }
}

/// Removes the temporary file when the write does not complete (error or panic).
struct TempGuard {
    path: PathBuf,
    armed: bool,
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Directory holding `path` ("." for a bare file name).
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Write `final_path` atomically. `write` receives the temporary path and must create the
/// complete file there (and close it) before returning. On success the temporary file is
/// fsynced, renamed over `final_path` and the directory is fsynced. On any error the
/// temporary file is removed and an existing `final_path` is left as it was.
pub fn atomic_write<T, E, F>(final_path: &Path, write: F) -> Result<T, E>
where
    F: FnOnce(&Path) -> Result<T, E>,
    E: From<IoError> + std::fmt::Display,
{
    let (value, pending) = atomic_write_deferred(final_path, write)?;
    pending.commit()?;
    Ok(value)
}

/// The first half of [`atomic_write`]: `write` creates the complete file under the
/// temporary name; [`PendingFile::commit`] then makes it durable and puts it in place. This
/// lets a caller go on with other work (the next file) while the disk catches up. Until the
/// commit, `final_path` is untouched; dropping the [`PendingFile`] uncommitted removes the
/// temporary file.
pub fn atomic_write_deferred<T, E, F>(final_path: &Path, write: F) -> Result<(T, PendingFile), E>
where
    F: FnOnce(&Path) -> Result<T, E>,
    E: From<IoError> + std::fmt::Display,
{
    let dir = parent_dir(final_path);
    if !dir.is_dir() {
        return Err(IoError::Fs {
            path: final_path.to_path_buf(),
            action: "output directory does not exist",
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        }
        .into());
    }
    let tmp = temp_path_for(final_path);
    let guard = TempGuard {
        path: tmp.clone(),
        armed: true,
    };
    let value = match write(&tmp) {
        Ok(v) => v,
        Err(e) => return Err(explain_full_disk(final_path, &tmp, e)),
    };
    Ok((
        value,
        PendingFile {
            guard,
            final_path: final_path.to_path_buf(),
            dir,
        },
    ))
}

/// Why a write into `tmp` may have failed for lack of space: the file-size limit reached
/// by the file, or (almost) no free space on its file system.
fn out_of_space(tmp: &Path) -> Option<&'static str> {
    let size = fs::metadata(tmp).map(|m| m.len()).unwrap_or(0);
    if file_size_limit().is_some_and(|limit| size + 65_536 >= limit) {
        return Some("no space left: the file-size limit (ulimit -f) is reached");
    }
    let free = free_bytes(&parent_dir(tmp))?;
    (free < 1 << 20).then_some("no space left on the device")
}

/// As [`atomic_write`] explains a failed write, for a file written under `tmp` by other
/// means (the chunked history writer): `e` with "no space left" and the file named when lack
/// of space explains it, else `e`.
pub fn explain_out_of_space(final_path: &Path, tmp: &Path, e: IoError) -> IoError {
    explain_full_disk(final_path, tmp, e)
}

/// `e` with "no space left" and the file named, when lack of space explains it.
fn explain_full_disk<E: From<IoError> + std::fmt::Display>(
    final_path: &Path,
    tmp: &Path,
    e: E,
) -> E {
    match out_of_space(tmp) {
        Some(action) => IoError::Fs {
            path: final_path.to_path_buf(),
            action,
            source: std::io::Error::other(e.to_string()),
        }
        .into(),
        None => e,
    }
}

/// The soft `RLIMIT_FSIZE` of this process in bytes (None: unlimited).
fn file_size_limit() -> Option<u64> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the rlimit struct we own; no other memory is touched.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_FSIZE, &mut r) } == 0;
    (ok && r.rlim_cur != libc::RLIM_INFINITY).then_some(r.rlim_cur)
}

/// Bytes available to unprivileged users on the file system holding `dir`.
// The field types differ between platforms (u64 on x86_64 Linux, u32 elsewhere).
#[allow(clippy::useless_conversion)]
pub fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: an all-zero statvfs is a valid value of this plain C struct.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `st` a struct statvfs we own.
    let ok = unsafe { libc::statvfs(c.as_ptr(), &mut st) } == 0;
    ok.then(|| u64::from(st.f_bavail).saturating_mul(u64::from(st.f_frsize)))
}

/// An error of fsync or rename that is lack of space says so.
fn space_action(e: &std::io::Error, action: &'static str) -> &'static str {
    match e.raw_os_error() {
        Some(libc::ENOSPC) => "no space left on the device",
        Some(libc::EFBIG) => "no space left: the file-size limit (ulimit -f) is reached",
        _ => action,
    }
}

/// A complete file under its temporary name, waiting for [`PendingFile::commit`].
pub struct PendingFile {
    guard: TempGuard,
    final_path: PathBuf,
    dir: PathBuf,
}

impl PendingFile {
    /// Take charge of a temporary file that was written elsewhere (e.g. collectively by every
    /// rank of a run) under `tmp` (from [`temp_path_for`]`(final_path)`): it is committed
    /// or, when dropped, removed like any other.
    pub fn adopt(tmp: PathBuf, final_path: &Path) -> Result<PendingFile, IoError> {
        let dir = parent_dir(final_path);
        let guard = TempGuard {
            path: tmp,
            armed: true,
        };
        if !dir.is_dir() {
            return Err(IoError::Fs {
                path: final_path.to_path_buf(),
                action: "output directory does not exist",
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        Ok(PendingFile {
            guard,
            final_path: final_path.to_path_buf(),
            dir,
        })
    }

    /// The final path the file will have.
    pub fn final_path(&self) -> &Path {
        &self.final_path
    }

    /// fsync the temporary file, rename it over the final path and fsync the directory. On
    /// an error the temporary file is removed and the final path is left as it was.
    pub fn commit(mut self) -> Result<(), IoError> {
        let tmp = self.guard.path.clone();
        let fs_err = |path: &Path, action: &'static str| {
            let path = path.to_path_buf();
            move |source: std::io::Error| IoError::Fs {
                path,
                action: space_action(&source, action),
                source,
            }
        };
        // The writer closed its handle; reopen to flush the data to stable storage before the
        // rename makes it visible under the final name.
        let file = fs::OpenOptions::new()
            .read(true)
            .open(&tmp)
            .map_err(fs_err(&tmp, "open temporary file for fsync"))?;
        let at = Some(self.final_path.as_path());
        super::crash::point("before_fsync", at);
        file.sync_all().map_err(fs_err(&tmp, "fsync"))?;
        drop(file);
        super::crash::point("before_rename", at);
        fs::rename(&tmp, &self.final_path)
            .map_err(fs_err(&self.final_path, "rename temporary file"))?;
        self.guard.armed = false;
        super::crash::point("after_rename", at);
        // Make the rename itself durable.
        let d = fs::File::open(&self.dir).map_err(fs_err(&self.dir, "open directory for fsync"))?;
        d.sync_all().map_err(fs_err(&self.dir, "fsync directory"))?;
        super::crash::point("after_dir_fsync", at);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_name_is_hidden_and_in_same_dir() {
        let t = temp_path_for(Path::new("/a/b/LC_RST_1.h5"));
        assert_eq!(t.parent(), Some(Path::new("/a/b")));
        let name = t.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with(".LC_RST_1.h5.tmp."), "{name}");
    }

    #[test]
    fn a_failed_write_on_a_full_disk_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        // Not out of space: the writer's own error passes through unchanged.
        let e = atomic_write(&path, |tmp| -> Result<(), IoError> {
            Err(IoError::Invalid {
                path: tmp.to_path_buf(),
                msg: "bad data".into(),
            })
        })
        .unwrap_err();
        assert!(e.to_string().contains("bad data"), "{e}");
        assert!(!e.to_string().contains("no space"), "{e}");
        let ok = space_action(&std::io::Error::from_raw_os_error(libc::ENOSPC), "fsync");
        assert_eq!(ok, "no space left on the device");
        assert!(free_bytes(dir.path()).is_some_and(|b| b > 0));
    }

    #[test]
    fn deferred_write_appears_only_at_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        std::fs::write(&path, "old").unwrap();
        let ((), pending) = atomic_write_deferred(&path, |tmp| -> Result<(), IoError> {
            std::fs::write(tmp, "new").unwrap();
            Ok(())
        })
        .unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(pending.final_path(), path.as_path());
        pending.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        // Dropped uncommitted: the temporary file goes, the final file stays as it was.
        let ((), pending) = atomic_write_deferred(&path, |tmp| -> Result<(), IoError> {
            std::fs::write(tmp, "newer").unwrap();
            Ok(())
        })
        .unwrap();
        drop(pending);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
