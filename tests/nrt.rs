//! `landcycle nrt`, `status` and `rewind` on a tiny bucket case with SMAP and ASCAT
//! assimilation (10 x 8 grid, 8 members, 4 windows of 6 h), the clock injected with
//! `--now` so a day plays in seconds:
//! (a) three invocations advancing the clock (one on 2 MPI ranks) run the due cycles,
//!     byte-identical to `landcycle run`; a cycle rerun after an interrupted commit reads its frozen
//!     observation manifest, not a file that arrived later;
//! (b) a second invocation is refused by the lock (exit 75);
//! (c) SIGKILL of the process group at seeded random moments, up to 3 kills a trial, then
//!     `nrt` finishes: byte-identical files, no temporary file, lock free, status 0
//!     (3 trials here; 20 in the ignored test, run it with
//!     `cargo nextest run --release --test nrt --run-ignored only`);
//! (d) status exit codes 0/1/2/3 and the backlog limit (exit 11, CRITICAL, --force);
//! (e) rewind moves later cycles aside and nrt reprocesses them to the same bytes;
//! (f) crash points of the commit protocol (`LANDCYCLE_CRASH_AT`, `io::crash`): an abort at
//!     each point (first pass here; passes 1-3 of every point in the ignored matrix), then
//!     `nrt` again gives the same bytes, and a 2-rank run aborted inside a restart write
//!     recovers on 3 ranks;
//! (g) storage faults (flipped restart byte, deleted state.json, stale lock, a truncated
//!     history file of a complete cycle, a record without checksums) recover to the same
//!     bytes; late observation files are counted in the status and never read;
//! (h) forcing missing at its deadline: 'wait' (WARNING naming the file), 'fail' (CRITICAL,
//!     permanent), 'previous_cycle' (an earlier forecast's leads, recorded, same bytes);
//! (i) `&coupler mode = 'exchange'`: cycles become eligible by the atmosphere's READY, and
//!     an abort after the land export's READY recovers to the same bytes and exports.

mod common;
use common::bucket_case::*;
use common::coupled_case::{coupled_case, exchange, finish, replay, variant};
use common::*;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use landcycle::cycle::rundir::RunDir;

/// The case: namelist with `nrt` as its `&nrt` group, synthetic statics, forcing and
/// observations in windows 1, 2 (SMAP) and 1, 4 (ASCAT).
fn case(dir: &Path, nrt: &str) -> PathBuf {
    let nml = bucket_namelist(dir, 3, 10, 8, 8);
    let mut text = std::fs::read_to_string(&nml).unwrap();
    text.push_str(&format!("&nrt\n{nrt}\n/\n"));
    std::fs::write(&nml, text).unwrap();
    synth(&nml);
    let land = land_centres(dir);
    write_smap(dir, t(1, 5, 10), &land, 0.36);
    write_smap(dir, t(1, 13, 20), &land[..land.len() / 2], 0.30);
    let every_other: Vec<_> = land.iter().copied().step_by(2).collect();
    write_ascat(dir, t(1, 4, 0), &every_other, 65.0);
    write_ascat(dir, t(1, 20, 40), &every_other, 55.0);
    nml
}

fn nrt_cmd(nml: &Path, rundir: &Path, now: &str, extra: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("nrt")
        .arg(nml)
        .arg("--rundir")
        .arg(rundir)
        .args(["--now", now])
        .args(extra)
        .env("LANDCYCLE_LOG", "warn");
    c
}

/// Run `landcycle nrt`; its exit code and stderr.
fn nrt(nml: &Path, rundir: &Path, now: &str, extra: &[&str]) -> (i32, String) {
    let out = nrt_cmd(nml, rundir, now, extra).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), err)
}

fn nrt_ok(nml: &Path, rundir: &Path, now: &str) {
    let (code, err) = nrt(nml, rundir, now, &[]);
    assert_eq!(code, 0, "nrt at {now} exited {code}:\n{err}");
}

/// `landcycle status` exit code and output.
fn status(rundir: &Path, now: &str) -> (i32, String) {
    let out = Command::new(BIN)
        .arg("status")
        .arg("--rundir")
        .arg(rundir)
        .args(["--now", now])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap_or(-1), text)
}

fn status_json(rundir: &Path, now: &str) -> serde_json::Value {
    let out = Command::new(BIN)
        .arg("status")
        .arg("--rundir")
        .arg(rundir)
        .args(["--now", now, "--json"])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Cycles that ran, from the run directory's status file.
fn cycles_run(rundir: &Path) -> Vec<String> {
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rundir.join("nrt_status.json")).unwrap())
            .unwrap();
    s["cycles_run"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Temporary files anywhere under `dir`.
fn temp_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if e.file_name().to_string_lossy().contains(".tmp") {
                out.push(p);
            }
        }
    }
    out
}

fn assert_same_outputs(reference: &Path, rundir: &Path) {
    assert_same_results(reference, rundir);
    assert_same_diag(reference, rundir);
}

#[test]
fn nrt_advancing_clock_matches_run_and_reruns_from_the_frozen_manifest() {
    let _io = io_lock();
    let dir = tempfile::tempdir().unwrap();
    let nml = case(dir.path(), "");
    let reference = dir.path().join("ref");
    run_ok(&nml, 0, &reference, &[]);
    let rd = dir.path().join("nrt");
    // Cut-off 180 min (SMAP): cycle 06 is due at 09, 12 at 15, 18 at 21, 00 at 03.
    nrt_ok(&nml, &rd, "2020-06-01T08:59:00");
    assert!(cycles_run(&rd).is_empty());
    nrt_ok(&nml, &rd, "2020-06-01T09:00:00");
    assert_eq!(cycles_run(&rd), ["2020060106"]);
    // On 2 MPI ranks: rank 0 plans and broadcasts, both run the same cycles.
    let out = Command::new("mpirun")
        .args(["--oversubscribe", "-n", "2", BIN, "nrt"])
        .arg(&nml)
        .arg("--rundir")
        .arg(&rd)
        .args(["--now", "2020-06-01T21:30:00"])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "nrt on 2 ranks: {err}");
    assert_eq!(cycles_run(&rd), ["2020060112", "2020060118"]);
    let j = status_json(&rd, "2020-06-01T21:30:00");
    assert_eq!(j["next_cycle"], "2020060200", "{j}");
    nrt_ok(&nml, &rd, "2020-06-02T12:00:00");
    assert_eq!(cycles_run(&rd), ["2020060200"]);
    assert_same_outputs(&reference, &rd);
    let (code, text) = status(&rd, "2020-06-02T12:00:00");
    assert_eq!(code, 0, "{text}");
    let rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rd.join("2020060106/cycle.json")).unwrap())
            .unwrap();
    assert_eq!(rec["status"], "complete");
    assert_eq!(rec["mode"], "da");
    assert!(rd.join("2020060106/obs_manifest.json").is_file());
    assert!(std::fs::read_to_string(rd.join("events.jsonl"))
        .unwrap()
        .contains("\"complete\""));

    // Killed between the restart and the record of the last cycle: it is rerun, reading
    // its frozen manifest, not the SMAP file that arrived after the cut-off.
    let recp = rd.join("2020060200/cycle.json");
    let mut rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&recp).unwrap()).unwrap();
    rec["status"] = "running".into();
    std::fs::write(&recp, rec.to_string()).unwrap();
    write_smap(dir.path(), t(1, 22, 0), &land_centres(dir.path()), 0.10);
    nrt_ok(&nml, &rd, "2020-06-02T13:00:00");
    assert_eq!(cycles_run(&rd), ["2020060200"]);
    assert_same_outputs(&reference, &rd);
    // The late file is counted for its window's cycle (granule time from its name), only.
    let j = status_json(&rd, "2020-06-02T13:00:00");
    assert_eq!(
        j["late_observations"],
        serde_json::json!({ "2020060200": { "smap": 1 } }),
        "{j}"
    );
    let (code, text) = status(&rd, "2020-06-02T13:00:00");
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("late observation files of cycle 2020060200") && text.contains("smap 1"),
        "{text}"
    );
}

#[test]
fn a_second_invocation_is_refused_by_the_lock() {
    let _io = io_lock();
    let dir = tempfile::tempdir().unwrap();
    let nml = case(dir.path(), "");
    let rd = dir.path().join("nrt");
    let held = RunDir::new(&rd).lock().unwrap();
    let (code, err) = nrt(&nml, &rd, "2020-06-02T12:00:00", &[]);
    assert_eq!(code, 75, "{err}");
    assert!(err.contains("locked"), "{err}");
    let j = status_json(&rd, "2020-06-02T12:00:00");
    assert!(j["lock_holder"].as_str().unwrap().contains("pid"), "{j}");
    drop(held);
    nrt_ok(&nml, &rd, "2020-06-01T09:00:00");
    assert_eq!(cycles_run(&rd), ["2020060106"]);
}

#[test]
fn status_exit_codes_and_the_backlog_limit() {
    let _io = io_lock();
    let dir = tempfile::tempdir().unwrap();
    let nml = case(
        dir.path(),
        "max_backlog_windows = 2\nmax_windows_per_run = 8",
    );
    let rd = dir.path().join("nrt");
    assert_eq!(status(&rd, "2020-06-02T12:00:00").0, 3, "no run directory");
    std::fs::create_dir_all(&rd).unwrap();
    assert_eq!(status(&rd, "2020-06-02T12:00:00").0, 3, "no nrt yet");
    let (code, err) = nrt(&nml, &rd, "2020-06-02T12:00:00", &[]);
    assert_eq!(code, 11, "backlog of 4 > 2: {err}");
    let (code, text) = status(&rd, "2020-06-02T12:00:00");
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("max_backlog_windows"), "{text}");
    let (code, err) = nrt(&nml, &rd, "2020-06-02T12:00:00", &["--force"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(cycles_run(&rd).len(), 4);
    assert_eq!(status(&rd, "2020-06-02T12:00:00").0, 0);
    // Lag of the last complete cycle (2020060200): 20 h warns, 40 h is critical.
    nrt_ok(&nml, &rd, "2020-06-02T20:00:00");
    let (code, text) = status(&rd, "2020-06-02T20:00:00");
    assert_eq!(code, 0, "run:end reached: no lag alarm\n{text}");
    nrt_ok(&nml, &rd, "2020-06-02T12:00:00");
    let (code, text) = status(&rd, "2020-06-02T15:00:00");
    assert_eq!(code, 1, "silent for 3 h\n{text}");

    // Lag of the last complete cycle behind the clock: > 15 h warns, > 30 h is critical.
    let rd2 = dir.path().join("lagging");
    nrt_ok(&nml, &rd2, "2020-06-01T09:00:00");
    assert_eq!(status(&rd2, "2020-06-01T10:00:00").0, 0);
    nrt_ok(&nml, &rd2, "2020-06-01T14:00:00");
    let (code, text) = status(&rd2, "2020-06-01T22:00:00");
    assert_eq!(code, 1, "16 h behind\n{text}");
    let (code, text) = status(&rd2, "2020-06-02T13:00:00");
    assert_eq!(code, 2, "31 h behind\n{text}");
}

#[test]
fn a_failing_cycle_is_retried_with_back_off_then_stops_for_an_operator() {
    let _io = io_lock();
    let dir = tempfile::tempdir().unwrap();
    let alerts = dir.path().join("alerts.jsonl");
    let cmd = format!(
        "max_attempts = 2\nalert_command = 'tr -d \"\\\\n\" >> {}; echo >> {}'",
        alerts.display(),
        alerts.display()
    );
    let nml = case(dir.path(), &cmd);
    let rd = dir.path().join("nrt");
    let forcing = dir.path().join("case/forcing/forcing_2020060109.nc");
    let good = std::fs::read(&forcing).unwrap();
    std::fs::write(&forcing, b"not a netCDF file").unwrap();
    // Cycle 06 completes, 12 fails (transient: an unreadable input): retry after 10 min.
    let (code, err) = nrt(&nml, &rd, "2020-06-01T15:00:00", &[]);
    assert_eq!(code, 10, "{err}");
    assert_eq!(cycles_run(&rd), ["2020060106"]);
    let (code, text) = status(&rd, "2020-06-01T15:00:00");
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("forcing_2020060109.nc"), "{text}");
    // The failed attempt's directory is kept; the retry keeps the frozen manifest.
    assert!(rd.join("2020060112.failed-1/cycle.json").is_file());
    assert!(rd.join("2020060112/obs_manifest.json").is_file());
    // Within the back-off nothing runs (still exit 10, no new failure).
    let (code, err) = nrt(&nml, &rd, "2020-06-01T15:05:00", &[]);
    assert_eq!(code, 10, "{err}");
    assert!(
        err.contains("next attempt after 2020-06-01T15:10:00Z"),
        "{err}"
    );
    // After it, the second failure; its back-off doubles (20 min), then max_attempts stops.
    assert_eq!(nrt(&nml, &rd, "2020-06-01T15:10:00", &[]).0, 10);
    let rec = std::fs::read_to_string(rd.join("2020060112/cycle.json")).unwrap();
    assert!(
        rec.contains("\"next_attempt_after\": \"2020-06-01T15:30:00\""),
        "{rec}"
    );
    assert!(rd.join("2020060112.failed-2").is_dir());
    let now = "2020-06-01T15:40:00";
    let (code, err) = nrt(&nml, &rd, now, &[]);
    assert_eq!(code, 11, "two failures = nrt:max_attempts: {err}");
    let (code, text) = status(&rd, now);
    assert_eq!(code, 2, "{text}");
    std::fs::write(&forcing, good).unwrap();
    assert_eq!(
        nrt(&nml, &rd, now, &[]).0,
        11,
        "still stopped without --force"
    );
    let (code, err) = nrt(&nml, &rd, now, &["--force"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(cycles_run(&rd), ["2020060112"]);
    let rec = std::fs::read_to_string(rd.join("2020060112/cycle.json")).unwrap();
    assert!(
        rec.contains("\"complete\"") && rec.contains("\"failures\": 2"),
        "{rec}"
    );
    assert_eq!(status(&rd, now).0, 0);
    // One alert per change to WARNING or CRITICAL, with the status JSON.
    let sent = std::fs::read_to_string(&alerts).unwrap();
    let levels: Vec<String> = sent
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["level"].to_string())
        .collect();
    assert_eq!(levels, ["\"WARNING\"", "\"CRITICAL\""], "{sent}");
}

#[test]
fn a_permanent_failure_is_not_retried() {
    let _io = io_lock();
    let dir = tempfile::tempdir().unwrap();
    let nml = case(dir.path(), "");
    let rd = dir.path().join("nrt");
    nrt_ok(&nml, &rd, "2020-06-01T09:00:00");
    // Another configuration (a changed fingerprint key) cannot use this directory's restart.
    let text = std::fs::read_to_string(&nml).unwrap();
    let other = dir.path().join("other.nml");
    std::fs::write(&other, text.replacen("seed = 7", "seed = 8", 1)).unwrap();
    let (code, err) = nrt(&other, &rd, "2020-06-01T15:00:00", &[]);
    assert_eq!(code, 11, "{err}");
    let rec = std::fs::read_to_string(rd.join("2020060112/cycle.json")).unwrap();
    assert!(rec.contains("\"permanent\": true"), "{rec}");
    let (code, err) = nrt(&other, &rd, "2020-06-01T16:00:00", &[]);
    assert_eq!(code, 11, "{err}");
    assert!(err.contains("permanent error"), "{err}");
    assert_eq!(status(&rd, "2020-06-01T16:00:00").0, 2);
    // The right namelist, forced once, goes on.
    let (code, err) = nrt(&nml, &rd, "2020-06-01T16:00:00", &["--force"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(cycles_run(&rd), ["2020060112"]);
}

#[test]
fn rewind_moves_later_cycles_aside_and_nrt_reprocesses_them() {
    let _io = io_lock();
    let dir = tempfile::tempdir().unwrap();
    let nml = case(dir.path(), "max_windows_per_run = 8");
    let rd = dir.path().join("nrt");
    nrt_ok(&nml, &rd, "2020-06-02T12:00:00");
    let reference = dir.path().join("ref");
    std::fs::create_dir_all(&reference).unwrap();
    for c in ["2020060106", "2020060112", "2020060118", "2020060200"] {
        copy_dir(&rd.join(c), &reference.join(c));
    }
    let out = Command::new(BIN)
        .args(["rewind", "--rundir"])
        .arg(&rd)
        .args(["--to", "2020060112", "--now", "2020-06-02T13:00:00"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!rd.join("2020060118").exists());
    let trash = rd.join("trash/20200602T130000-rewind-2020060112");
    assert!(trash.join("2020060118/restart").is_dir());
    assert!(trash.join("2020060200/output").is_dir());
    let state = std::fs::read_to_string(rd.join("state.json")).unwrap();
    assert!(state.contains("2020060112"), "{state}");
    nrt_ok(&nml, &rd, "2020-06-02T13:00:00");
    assert_eq!(cycles_run(&rd), ["2020060118", "2020060200"]);
    assert_same_outputs(&reference, &rd);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// splitmix64: the seeded kill moments.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `trials` random-kill trials against an uninterrupted reference.
fn kill_trials(trials: u64, seed0: u64) {
    let _io = io_lock();
    let dir = tempfile::tempdir().unwrap();
    let nml = case(dir.path(), "max_windows_per_run = 8");
    let now = "2020-06-02T12:00:00";
    let reference = dir.path().join("ref");
    let t0 = Instant::now();
    nrt_ok(&nml, &reference, now);
    let t_ref = t0.elapsed();
    let mut interrupted = 0;
    for trial in 0..trials {
        let mut s = seed0 + trial;
        let kills = 1 + next(&mut s) % 3;
        let rd = dir.path().join(format!("trial{trial}"));
        let mut log = Vec::new();
        for _ in 0..kills {
            let delay = t_ref.mul_f64((next(&mut s) % 1000) as f64 / 1000.0);
            let mut child = nrt_cmd(&nml, &rd, now, &[])
                .process_group(0)
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(delay);
            let pgid = child.id();
            let running = child.try_wait().unwrap().is_none();
            let killed = Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{pgid}")])
                .status()
                .unwrap();
            assert!(killed.success() || !running, "kill -KILL -{pgid} failed");
            let st = child.wait().unwrap();
            log.push(format!("{delay:?} -> {st}"));
        }
        eprintln!("trial {trial} (seed {}): kills {log:?}", seed0 + trial);
        nrt_ok(&nml, &rd, now);
        assert_same_outputs(&reference, &rd);
        assert!(temp_files(&rd).is_empty(), "{:?}", temp_files(&rd));
        assert!(RunDir::new(&rd).lock().is_ok(), "lock not free");
        let (code, text) = status(&rd, now);
        assert_eq!(code, 0, "trial {trial}: {text}");
        let events = std::fs::read_to_string(rd.join("events.jsonl")).unwrap_or_default();
        interrupted += events.matches("\"interrupted\"").count();
    }
    eprintln!("{interrupted} interrupted cycle attempts rerun over {trials} trials");
    assert!(interrupted > 0, "no kill landed inside a cycle");
}

#[test]
fn nrt_keys_do_not_change_the_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let nml = bucket_namelist(dir.path(), 3, 10, 8, 8);
    let text = std::fs::read_to_string(&nml).unwrap();
    let plain = landcycle::config::Config::from_text(&text, &nml).unwrap();
    let with = format!(
        "{text}&nrt\n obs_latency_minutes = 30\n obs_cutoff_minutes_smap = 240\n \
         max_windows_per_run = 2\n max_backlog_windows = 9\n max_run_minutes = 5\n/\n"
    );
    let cfg = landcycle::config::Config::from_text(&with, &nml).unwrap();
    assert_eq!(cfg.nrt.obs_cutoff_minutes_smap, 240);
    assert_eq!(plain.nrt.obs_cutoff_minutes_ascat, 135);
    assert_eq!(cfg.fingerprint(), plain.fingerprint());
    let bad = format!("{text}&nrt\n max_windows_per_run = 0\n/\n");
    assert!(landcycle::config::Config::from_text(&bad, &nml).is_err());
}

#[test]
fn random_kills_recover_to_the_same_bytes_3_trials() {
    kill_trials(3, 1000);
}

/// The full sweep of the acceptance: 20 trials (about 1-2 minutes).
#[test]
#[ignore]
fn random_kills_recover_to_the_same_bytes_20_trials() {
    kill_trials(20, 2000);
}

/// `landcycle nrt` on `ranks` MPI ranks (0: without mpirun).
fn nrt_on(ranks: usize, nml: &Path, rundir: &Path, now: &str) -> Command {
    if ranks == 0 {
        return nrt_cmd(nml, rundir, now, &[]);
    }
    let mut c = Command::new("mpirun");
    c.args(["--oversubscribe", "-n", &ranks.to_string(), BIN, "nrt"])
        .arg(nml)
        .arg("--rundir")
        .arg(rundir)
        .args(["--now", now])
        .env("LANDCYCLE_LOG", "warn")
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1");
    c
}

/// Abort at `spec` (`<point>[@file]:<k>`) on `ranks`, recover with a plain `nrt` on
/// `recover_ranks`; the run directory then equals the reference.
fn crash_and_recover(case: (&Path, &Path, &str), spec: &str, ranks: (usize, usize), rd: &Path) {
    let (nml, reference, now) = case;
    let out = nrt_on(ranks.0, nml, rd, now)
        .env("LANDCYCLE_CRASH_AT", spec)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("LANDCYCLE_CRASH_AT"),
        "{spec}: the crash point was not reached ({}):\n{err}",
        out.status
    );
    let done = nrt_on(ranks.1, nml, rd, now).output().unwrap();
    assert!(
        done.status.success(),
        "{spec}: recovery failed:\n{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert_same_outputs(reference, rd);
    assert!(temp_files(rd).is_empty(), "{spec}: {:?}", temp_files(rd));
    assert!(RunDir::new(rd).lock().is_ok(), "{spec}: lock not free");
    let (code, text) = status(rd, now);
    assert_eq!(code, 0, "{spec}: {text}");
}

/// Every crash point at passes `passes`, and the file-specific points of the commit order
/// (restart, cycle record, state), against one uninterrupted reference.
fn crash_matrix(passes: &[u64]) {
    let _io = io_lock();
    let dir = tempfile::tempdir().unwrap();
    let nml = case(dir.path(), "max_windows_per_run = 8");
    let now = "2020-06-02T12:00:00";
    let reference = dir.path().join("ref");
    nrt_ok(&nml, &reference, now);
    let file_points = [
        "before_rename@LC_RST",
        "after_rename@LC_RST",
        "after_rename@cycle.json",
        "before_rename@state.json",
        "after_dir_fsync@state.json",
    ];
    let points = landcycle::io::crash::POINTS
        .iter()
        .copied()
        .chain(file_points);
    for (n, point) in points.enumerate() {
        for &k in passes {
            let spec = format!("{point}:{k}");
            let rd = dir.path().join(format!("crash{n}-{k}"));
            crash_and_recover((&nml, &reference, now), &spec, (0, 0), &rd);
        }
    }
}

#[test]
fn crash_points_recover_to_the_same_bytes_first_pass() {
    crash_matrix(&[1]);
}

/// Passes 1 to 3 of every point (the matrix; about a minute).
#[test]
#[ignore]
fn crash_points_recover_to_the_same_bytes_passes_1_to_3() {
    crash_matrix(&[1, 2, 3]);
}

#[test]
fn a_2_rank_run_aborted_inside_a_restart_write_recovers_on_3_ranks() {
    let _io = io_lock();
    assert!(have_mpirun(), "mpirun is required");
    let dir = tempfile::tempdir().unwrap();
    let nml = case(dir.path(), "max_windows_per_run = 8");
    let now = "2020-06-02T12:00:00";
    let reference = dir.path().join("ref");
    nrt_ok(&nml, &reference, now);
    let rd = dir.path().join("mpi");
    // The second window's restart: one complete cycle before it, three after.
    crash_and_recover((&nml, &reference, now), "restart_rows:2", (2, 3), &rd);
}

/// The newest restart file of a run directory.
fn newest_restart(rundir: &Path) -> PathBuf {
    let mut all: Vec<PathBuf> = output_files(rundir)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("restart"))
        .map(|p| rundir.join(p))
        .collect();
    all.sort();
    all.pop().expect("a restart")
}

/// A storage fault: its name and what it does to a completed run directory.
type Fault = (&'static str, fn(&Path));

#[test]
fn storage_faults_recover_to_the_same_bytes() {
    let _io = io_lock();
    let dir = tempfile::tempdir().unwrap();
    let nml = case(dir.path(), "max_windows_per_run = 8");
    let now = "2020-06-02T12:00:00";
    let reference = dir.path().join("ref");
    nrt_ok(&nml, &reference, now);
    let faults: [Fault; 5] = [
        ("flipped byte in the newest restart", |rd| {
            let p = newest_restart(rd);
            let mut bytes = std::fs::read(&p).unwrap();
            let k = bytes.len() / 2;
            bytes[k] ^= 0x40;
            std::fs::write(&p, bytes).unwrap();
        }),
        ("state.json deleted", |rd| {
            std::fs::remove_file(rd.join("state.json")).unwrap();
        }),
        ("stale lock file", |rd| {
            // A lock file left by a dead holder: the kernel lock, not the file, decides.
            std::fs::write(rd.join("landcycle.lock"), b"pid 999999\n").unwrap();
        }),
        ("truncated history file of a complete cycle", |rd| {
            let p = first_history(rd, "2020060112");
            let bytes = std::fs::read(&p).unwrap();
            std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        }),
        (
            "cycle records written before output checksums were kept",
            |rd| {
                for c in ["2020060106", "2020060112", "2020060118", "2020060200"] {
                    let p = rd.join(c).join("cycle.json");
                    let mut rec: serde_json::Value =
                        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
                    rec.as_object_mut().unwrap().remove("outputs");
                    std::fs::write(&p, rec.to_string()).unwrap();
                }
            },
        ),
    ];
    for (n, (what, fault)) in faults.iter().enumerate() {
        let rd = dir.path().join(format!("fault{n}"));
        copy_dir(&reference, &rd);
        fault(&rd);
        let (code, err) = nrt(&nml, &rd, now, &[]);
        assert_eq!(code, 0, "{what}: nrt exited {code}:\n{err}");
        assert_same_outputs(&reference, &rd);
        let (code, text) = status(&rd, now);
        assert_eq!(code, 0, "{what}: {text}");
    }
    // The truncated file was moved aside, not deleted, and its cycle and the later ones
    // were rerun from the previous restart.
    let rd = dir.path().join("fault3");
    assert_eq!(cycles_run(&rd), ["2020060112", "2020060118", "2020060200"]);
    let trash = std::fs::read_dir(rd.join("trash"))
        .unwrap()
        .flatten()
        .next()
        .unwrap();
    assert!(trash
        .file_name()
        .to_string_lossy()
        .ends_with("-invalid-2020060112"));
    let name = first_history(&dir.path().join("ref"), "2020060112");
    let kept = trash
        .path()
        .join("2020060112/output")
        .join(name.file_name().unwrap());
    let half = std::fs::metadata(&name).unwrap().len() / 2;
    assert_eq!(std::fs::metadata(&kept).unwrap().len(), half);
    let events = std::fs::read_to_string(rd.join("events.jsonl")).unwrap();
    assert!(events.contains("\"output_invalid\""), "{events}");
    // Records keep the checksums of every history and diagnostics file.
    let rec = std::fs::read_to_string(rd.join("2020060112/cycle.json")).unwrap();
    assert!(rec.contains("2020060112/output/LC_HIST_"), "{rec}");
    let rec = std::fs::read_to_string(rd.join("2020060106/cycle.json")).unwrap();
    assert!(
        rec.contains("\"sha256\"") && rec.contains("2020060106/diag/"),
        "{rec}"
    );
    // Records without checksums are read as before: nothing to verify, nothing rerun.
    assert_eq!(cycles_run(&dir.path().join("fault4")), Vec::<String>::new());
}

/// The first history file (by name) of a cycle of a run directory.
fn first_history(rundir: &Path, cycle: &str) -> PathBuf {
    let mut v: Vec<PathBuf> = std::fs::read_dir(rundir.join(cycle).join("output"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    v.sort();
    v.into_iter().next().expect("a history file")
}

/// The bucket case read from a forecast archive `fc/<init>/f<lead>.nc` (issued 6 h before
/// each cycle's end, leads 0 to 12 h: copies of the valid-time files), `nrt` in `&nrt`.
fn archive_case(dir: &Path, nrt: &str) -> PathBuf {
    let nml = case(dir, nrt);
    let text = std::fs::read_to_string(&nml)
        .unwrap()
        .replace("directory = 'case/forcing'", "directory = 'fc'")
        .replace(
            "file_template = 'forcing_%Y%m%d%H.nc'",
            "file_template = '{init:%Y%m%d%H}/f{lead_h:03}.nc'",
        );
    let text = format!("{text}&coupler\n source_cycle_offset_hours = -6\n/\n");
    std::fs::write(&nml, text).unwrap();
    for c in 0..4 {
        let init = t(1, 6 * c, 0);
        let sub = dir.join("fc").join(init.format("%Y%m%d%H").to_string());
        std::fs::create_dir_all(&sub).unwrap();
        for lead in (0..=12).step_by(3) {
            let v = init + chrono::Duration::hours(lead);
            let src = dir
                .join("case/forcing")
                .join(v.format("forcing_%Y%m%d%H.nc").to_string());
            if src.is_file() {
                std::fs::copy(&src, sub.join(format!("f{lead:03}.nc"))).unwrap();
            }
        }
    }
    nml
}

#[test]
fn forcing_missing_at_its_deadline_waits_fails_or_reads_the_previous_cycle() {
    let _io = io_lock();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let wait = archive_case(d, "max_windows_per_run = 8");
    let with = |name: &str, key: &str| {
        let text = std::fs::read_to_string(&wait).unwrap().replace(
            "max_windows_per_run = 8",
            &format!("max_windows_per_run = 8\n {key}"),
        );
        std::fs::write(d.join(name), text).unwrap();
        d.join(name)
    };
    let fail = with("fail.nml", "on_missing_forcing = 'fail'");
    let prev = with("prev.nml", "on_missing_forcing = 'previous_cycle'");
    nrt_ok(&prev, &d.join("ref"), "2020-06-02T12:00:00");
    // The forecast issued at 06 never arrives: cycle 12 (window 06-12 h) has no forcing.
    let (issued, held) = (d.join("fc/2020060106"), d.join("fc.2020060106"));
    std::fs::rename(&issued, &held).unwrap();
    let missing = "fc/2020060106/f000.nc";
    // Before its deadline (12 h + 360 min) the cycle waits quietly.
    let rd = d.join("wait");
    nrt_ok(&wait, &rd, "2020-06-01T15:00:00");
    assert_eq!(cycles_run(&rd), ["2020060106"]);
    let j = status_json(&rd, "2020-06-01T15:00:00");
    assert_eq!(j["level"], "OK", "{j}");
    let blocked = &j["last_invocation"]["blocked"];
    assert_eq!(blocked["kind"], "waiting_for_forcing", "{j}");
    // 'wait': past the deadline, WARNING naming the file.
    nrt_ok(&wait, &rd, "2020-06-01T18:30:00");
    let (code, text) = status(&rd, "2020-06-01T18:30:00");
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("past its deadline") && text.contains(missing),
        "{text}"
    );
    // 'fail': the cycle fails permanently (exit 11, CRITICAL naming the file) ...
    let rd = d.join("fail");
    let (code, err) = nrt(&fail, &rd, "2020-06-01T18:30:00", &[]);
    assert_eq!(code, 11, "{err}");
    assert_eq!(cycles_run(&rd), ["2020060106"]);
    let (code, text) = status(&rd, "2020-06-01T18:30:00");
    assert_eq!(code, 2, "{text}");
    assert!(text.contains(missing), "{text}");
    let rec = std::fs::read_to_string(rd.join("2020060112/cycle.json")).unwrap();
    assert!(
        rec.contains("\"permanent\": true") && rec.contains("failed"),
        "{rec}"
    );
    // ... until an operator provides the file and forces it.
    std::fs::rename(&held, &issued).unwrap();
    assert_eq!(nrt(&fail, &rd, "2020-06-01T19:00:00", &[]).0, 11);
    let (code, err) = nrt(&fail, &rd, "2020-06-01T19:00:00", &["--force"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(cycles_run(&rd), ["2020060112"]);
    std::fs::rename(&issued, &held).unwrap();
    // 'previous_cycle': cycle 12 reads the forecast issued at 00 h (leads 6-12 h), recorded.
    let rd = d.join("prev");
    nrt_ok(&prev, &rd, "2020-06-01T18:30:00");
    assert_eq!(cycles_run(&rd), ["2020060106", "2020060112"]);
    let rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rd.join("2020060112/cycle.json")).unwrap())
            .unwrap();
    let fb = &rec["forcing_fallback"];
    assert_eq!(fb["init"], "2020-06-01T00:00:00", "{rec}");
    assert_eq!(fb["leads_h"], serde_json::json!([6, 9, 12]), "{rec}");
    assert!(fb["missing"].as_str().unwrap().contains(missing), "{rec}");
    // The later cycles read their own forecasts; the archive's leads are copies of the same
    // files, so the bytes equal the run with every forecast delivered.
    nrt_ok(&prev, &rd, "2020-06-02T12:00:00");
    assert_eq!(cycles_run(&rd), ["2020060118", "2020060200"]);
    assert_same_outputs(&d.join("ref"), &rd);
    let (code, text) = status(&rd, "2020-06-02T12:00:00");
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("atmosphere cycle 2020060100, leads 6..12 h"),
        "{text}"
    );
    // Only a forecast archive has an earlier cycle to fall back to.
    let plain = std::fs::read_to_string(d.join("case.nml")).unwrap();
    let plain = plain
        .replace("directory = 'fc'", "directory = 'case/forcing'")
        .replace("'{init:%Y%m%d%H}/f{lead_h:03}.nc'", "'forcing_%Y%m%d%H.nc'")
        .replace(
            "max_windows_per_run = 8",
            "on_missing_forcing = 'previous_cycle'",
        );
    let e = landcycle::config::Config::from_text(&plain, &d.join("plain.nml")).unwrap_err();
    let e = e.to_string();
    assert!(
        e.contains("'previous_cycle' is refused") && e.contains("file_template"),
        "{e}"
    );
}

/// The coupled case in `dir` (`&coupler mode = 'exchange'` with the land export, all 8
/// cycles in one invocation) and the atmosphere's deliveries of every cycle in `xchg/`.
fn exchange_case(dir: &Path) -> PathBuf {
    let nml = coupled_case(dir);
    let x = variant(&nml, "xchg.nml", &exchange(true, 1));
    let text = std::fs::read_to_string(&x).unwrap();
    std::fs::write(&x, format!("{text}&nrt\n max_windows_per_run = 8\n/\n")).unwrap();
    finish(replay(&x, &["--no-wait-land"]));
    x
}

/// A twin of case directory `a` in `b`: a's inputs (linked), the deliveries `xchg` as
/// they were before any land run, and the same namelist text (relative paths).
fn twin(a: &Path, delivered: &Path, b: &Path) -> PathBuf {
    std::fs::create_dir_all(b).unwrap();
    for name in ["case", "atm", "w_a2l.nc", "w_l2a.nc"] {
        std::os::unix::fs::symlink(a.join(name), b.join(name)).unwrap();
    }
    copy_dir(delivered, &b.join("xchg"));
    std::fs::copy(a.join("xchg.nml"), b.join("xchg.nml")).unwrap();
    b.join("xchg.nml")
}

/// Every file under `dir`, relative paths sorted.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path().strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// Cycles of the exchange case become eligible by the atmosphere's READY; an abort after the
/// land export's READY at passes `passes` recovers to the same bytes, and the rerun's
/// identical export is accepted.
fn exchange_nrt(passes: &[u64]) {
    let _io = io_lock();
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    std::fs::create_dir_all(&a).unwrap();
    let x = exchange_case(&a);
    let delivered = dir.path().join("delivered");
    copy_dir(&a.join("xchg"), &delivered);
    let now = "2020-06-03T12:00:00";
    let ready = a.join("xchg/2020060118/atm2lnd/READY");
    std::fs::rename(&ready, ready.with_extension("held")).unwrap();
    let ra = a.join("nrt");
    nrt_ok(&x, &ra, now);
    assert_eq!(cycles_run(&ra), ["2020060106", "2020060112"]);
    // Its deadline (18 h + 360 min) has passed: WARNING naming the missing READY.
    let blocked = &status_json(&ra, now)["last_invocation"]["blocked"];
    assert_eq!(blocked["kind"], "forcing_overdue", "{blocked}");
    let file = blocked["file"].as_str().unwrap();
    assert!(file.ends_with("xchg/2020060118/atm2lnd/READY"), "{file}");
    let (code, text) = status(&ra, now);
    assert!(code >= 1 && text.contains("past its deadline"), "{text}");
    std::fs::rename(ready.with_extension("held"), &ready).unwrap();
    nrt_ok(&x, &ra, now);
    assert_eq!(cycles_run(&ra).len(), 6);
    let rec = std::fs::read_to_string(ra.join("2020060112/cycle.json")).unwrap();
    assert!(rec.contains("lnd2atm/LND_202006010900.nc"), "{rec}");
    for &k in passes {
        let b = dir.path().join(format!("b{k}"));
        let xb = twin(&a, &delivered, &b);
        let rb = b.join("nrt");
        let spec = format!("after_export_ready:{k}");
        let out = nrt_cmd(&xb, &rb, now, &[])
            .env("LANDCYCLE_CRASH_AT", &spec)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains("LANDCYCLE_CRASH_AT"),
            "{spec}: the crash point was not reached ({}):\n{err}",
            out.status
        );
        nrt_ok(&xb, &rb, now);
        assert_same_results(&ra, &rb);
        let (ta, tb) = (tree(&a.join("xchg")), tree(&b.join("xchg")));
        assert_eq!(ta, tb, "{spec}: exchange files");
        for f in &ta {
            let same = std::fs::read(a.join("xchg").join(f)).unwrap()
                == std::fs::read(b.join("xchg").join(f)).unwrap();
            assert!(same, "{spec}: {} differs", f.display());
        }
        assert!(temp_files(&rb).is_empty(), "{spec}: {:?}", temp_files(&rb));
        let (code, text) = status(&rb, now);
        assert_eq!(code, 0, "{spec}: {text}");
    }
}

#[test]
fn exchange_mode_runs_on_ready_and_recovers_after_the_export_ready() {
    exchange_nrt(&[2]);
}

/// Passes 1 to 3 of `after_export_ready` (the crash matrix's export point).
#[test]
#[ignore]
fn exchange_mode_recovers_after_the_export_ready_passes_1_to_3() {
    exchange_nrt(&[1, 2, 3]);
}
