//! Operator-grade `landcycle run` and `check` (issue 15's hardening list), each on a tiny
//! case (10 x 8 grid, 3 members) run as a new operator would:
//! (a) a fresh run on a directory holding cycles is refused (exit 78, nothing touched);
//!     `--force` moves them aside into trash/ and reruns to the same bytes; a temporary file
//!     left by a crash is removed by the next run;
//! (b) `check`: a group no command reads (`&assim`, `&perturb`) names file:line and the
//!     nearest group; `forcing:interval_hours = 5`, a non-UTF-8 byte and an index beyond the
//!     soil layers name their line; an ensemble that cannot fit in memory and a domain
//!     without land are refused; a sane case prints its estimate;
//! (c) deleting the lock file while a run holds it does not let a second run in;
//! (d) a file-size limit (RLIMIT_FSIZE) hit while writing says "no space left", names the
//!     file, exits 74 (I/O);
//! (e) SIGTERM stops at a safe point with exit 143 and `--resume` finishes with the bytes of
//!     an uninterrupted run; a missing forcing file exits 66 (input not yet available).

mod common;
use common::*;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The case with `days` days of 6-hourly windows, synthesised.
fn case(dir: &Path, days: u32) -> PathBuf {
    let end = format!("2020-06-{:02}_00:00:00", 1 + days);
    let nml = write_namelist(dir, 10, 8, 3, &end);
    synth(&nml);
    nml
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `landcycle check` on `text` written as `name` in `dir`: exit code and stderr.
fn check(dir: &Path, name: &str, text: &[u8], extra: &[&str]) -> (i32, String) {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    let out = Command::new(BIN)
        .arg("check")
        .arg(&p)
        .args(extra)
        .output()
        .unwrap();
    (code(&out), stderr(&out))
}

#[test]
fn a_fresh_run_refuses_existing_cycles_and_force_moves_them_aside() {
    let dir = tempfile::tempdir().unwrap();
    let nml = case(dir.path(), 1);
    let rd = dir.path().join("run");
    run_ok(&nml, 0, &rd, &["--windows", "2"]);
    let first = std::fs::read(rd.join("2020060106/restart/LC_RST_202006010600.h5")).unwrap();
    let out = run(&nml, 0, &rd, &[]);
    assert_eq!(code(&out), 78, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("already holds cycles (2020060106 … 2020060112, 2 cycles)")
            && err.contains("--resume")
            && err.contains("--force"),
        "{err}"
    );
    // A crash left a temporary file: the next run (here --resume) removes it.
    let tmp = rd.join("2020060112/output/.LC_HIST_202006011200.nc.tmp.999.0");
    std::fs::write(&tmp, b"partial").unwrap();
    run_ok(&nml, 0, &rd, &["--resume", "--windows", "1"]);
    assert!(!tmp.exists(), "temporary file of a crash left behind");
    let out = run(&nml, 0, &rd, &["--force"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let trash: Vec<PathBuf> = std::fs::read_dir(rd.join("trash"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(trash.len(), 1, "{trash:?}");
    assert!(trash[0].to_string_lossy().ends_with("-force"), "{trash:?}");
    let old = trash[0].join("2020060106/restart/LC_RST_202006010600.h5");
    assert_eq!(std::fs::read(old).unwrap(), first, "old cycle not kept");
    assert!(trash[0].join("2020060118").is_dir() && trash[0].join("state.json").is_file());
    // The fresh run rewrote the same bytes (same configuration, deterministic).
    let again = std::fs::read(rd.join("2020060106/restart/LC_RST_202006010600.h5")).unwrap();
    assert_eq!(again, first);
    assert!(rd.join("2020060200/restart").is_dir());
}

#[test]
fn check_names_groups_keys_lines_and_refuses_what_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    let nml = case(dir.path(), 1);
    let text = std::fs::read_to_string(&nml).unwrap();
    let d = dir.path();
    let (c, err) = check(
        d,
        "a.nml",
        text.replace("&perturbation", "&assim").as_bytes(),
        &[],
    );
    assert_eq!(c, 78, "{err}");
    assert!(
        err.contains("a.nml:20:1: unknown namelist group `&assim`")
            && err.contains("did you mean `&da`?"),
        "{err}"
    );
    let (c, err) = check(
        d,
        "p.nml",
        text.replace("&perturbation", "&perturb").as_bytes(),
        &[],
    );
    assert_eq!(c, 78, "{err}");
    assert!(
        err.contains("p.nml:20:1:") && err.contains("`&perturbation`"),
        "{err}"
    );
    let bad = text.replace("  file_template", "  interval_hours = 5\n  file_template");
    let (c, err) = check(d, "i.nml", bad.as_bytes(), &[]);
    assert_eq!(c, 78, "{err}");
    assert!(
        err.contains("i.nml:18:3: invalid `forcing:interval_hours`: 5 h does not divide a day"),
        "{err}"
    );
    let mut bytes = text.clone().into_bytes();
    let at = text.find("seed = 7").unwrap();
    bytes[at + 7] = 0xe9;
    let (c, err) = check(d, "u.nml", &bytes, &[]);
    assert_eq!(c, 78, "{err}");
    assert!(
        err.contains("u.nml:6:10:") && err.contains("not UTF-8"),
        "{err}"
    );
    let beyond = text.replace(
        "  cold_start_temperature",
        "  cold_start_soil_moisture(6) = 0.2\n  cold_start_temperature",
    );
    let (c, err) = check(d, "l.nml", beyond.as_bytes(), &[]);
    assert_eq!(c, 78, "{err}");
    assert!(
        err.contains("l.nml:10:") && err.contains("index 6 is beyond the soil layers"),
        "{err}"
    );
    // Sane: the estimate is printed; 10 million members cannot fit in 1 GiB (nor here).
    let (c, err) = check(d, "ok.nml", text.as_bytes(), &[]);
    assert_eq!(c, 0, "{err}");
    assert!(
        err.contains("estimate:") && err.contains("of memory per rank"),
        "{err}"
    );
    let huge = text.replace("ensemble_size = 3", "ensemble_size = 10000000");
    let (c, err) = check(
        d,
        "h.nml",
        huge.as_bytes(),
        &["--memory-per-rank-mib", "1024"],
    );
    assert_eq!(c, 78, "{err}");
    assert!(
        err.contains("h.nml:5:3: invalid `run:ensemble_size`: 10000000 members cannot run")
            && err.contains("1.0 GiB"),
        "{err}"
    );
    // No land at all.
    let stat = d.join("case/static.nc");
    {
        let mut f = netcdf::append(&stat).unwrap();
        let mut v = f.variable_mut("land_mask").unwrap();
        v.put_values(&[0i8; 80], ..).unwrap();
    }
    let (c, err) = check(d, "ok.nml", text.as_bytes(), &[]);
    assert_ne!(c, 0, "{err}");
    assert!(err.contains("has no land cell"), "{err}");
}

#[test]
fn deleting_the_lock_file_does_not_let_a_second_run_in() {
    let dir = tempfile::tempdir().unwrap();
    let nml = case(dir.path(), 1);
    let rd = dir.path().join("run");
    let held = landcycle::cycle::rundir::RunDir::new(&rd).lock().unwrap();
    std::fs::remove_file(rd.join("landcycle.lock")).unwrap();
    let out = run(&nml, 0, &rd, &[]);
    assert_eq!(code(&out), 75, "{}", stderr(&out));
    assert!(stderr(&out).contains("locked"), "{}", stderr(&out));
    assert!(!rd.join("2020060106").exists());
    drop(held);
    run_ok(&nml, 0, &rd, &["--windows", "1"]);
}

#[test]
fn a_file_size_limit_during_a_write_says_no_space_left_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let nml = case(dir.path(), 1);
    let rd = dir.path().join("run");
    // History files of this case are about 220 kB: the first one cannot be written.
    let mut cmd = Command::new(BIN);
    cmd.arg("run").arg(&nml).arg("--rundir").arg(&rd);
    cmd.arg("--no-progress");
    // SAFETY: setrlimit is async-signal-safe and touches only this child's limits.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 100_000,
                rlim_max: 100_000,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let err = stderr(&out);
    assert_eq!(code(&out), 74, "{err} {:?}", out.status);
    assert!(err.contains("no space left"), "{err}");
    assert!(err.contains("LC_HIST_202006010300.nc"), "{err}");
    assert!(!rd
        .join("2020060106/output/LC_HIST_202006010300.nc")
        .exists());
}

#[test]
fn sigterm_stops_at_a_safe_point_and_resume_gives_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let nml = case(dir.path(), 2);
    let reference = dir.path().join("ref");
    run_ok(&nml, 0, &reference, &[]);
    let rd = dir.path().join("run");
    let child = Command::new(BIN)
        .arg("run")
        .arg(&nml)
        .arg("--rundir")
        .arg(&rd)
        .arg("--no-progress")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Signal once the first cycle has started: 7 of the 8 windows are still to come.
    let t0 = std::time::Instant::now();
    while !rd.join("2020060106").exists() && t0.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let pid = child.id() as i32;
    // SAFETY: kill on the pid of our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(code(&out), 143, "{err}");
    assert!(
        err.contains("stopped by SIGTERM at a safe point after cycle"),
        "{err}"
    );
    assert!(!rd.join("2020060300").exists(), "ran to the end: {err}");
    run_ok(&nml, 0, &rd, &["--resume"]);
    assert_identical(&reference, &rd);

    // An input not yet there: exit 66.
    std::fs::remove_file(dir.path().join("case/forcing/forcing_2020060109.nc")).unwrap();
    let out = run(&nml, 0, &dir.path().join("missing"), &[]);
    assert_eq!(code(&out), 66, "{}", stderr(&out));
}
