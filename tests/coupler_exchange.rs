//! The coupler (docs/coupling.md): a forecast archive as forcing (mode 1), the exchange
//! directory (mode 3) with `landcycle atm replay` as a separate process, and MPMD (mode 4)
//! with the replay in the same `mpirun`, against data-file mode fed the same f32 fields
//! through the same weights; and the faults of the exchange and of MPMD.
//!
//! The atmosphere grid is a 0.5° lat-lon grid of synthetic weather around the 0.25° land
//! grid; CDO (Debian `cdo`, installed by scripts/setup) makes the bilinear a→l and the
//! conservative l→a weights.

mod common;
use common::coupled_case::*;
use common::*;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use std::process::Command;

fn mpmd(export: bool, deadline_s: u32) -> String {
    exchange(export, deadline_s).replace("mode = 'exchange'", "mode = 'mpmd'")
}

/// `mpirun -n <land> landcycle run NML : -n 1 landcycle atm replay NML --mpmd`, bounded by
/// `timeout` so that a hang fails the test instead of stalling it.
fn run_mpmd(
    nml: &Path,
    land: usize,
    rundir: &Path,
    land_extra: &[&str],
    replay_extra: &[&str],
) -> std::process::Output {
    let n = land.to_string();
    Command::new("timeout")
        .args(["300", "mpirun", "--oversubscribe", "-n", &n, BIN, "run"])
        .arg(nml)
        .arg("--rundir")
        .arg(rundir)
        .arg("--no-progress")
        .args(land_extra)
        .args([":", "-n", "1", BIN, "atm", "replay"])
        .arg(nml)
        .arg("--mpmd")
        .args(replay_extra)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1")
        .output()
        .unwrap()
}

/// [`run_mpmd`] that must succeed; returns the replay's log (stdout).
fn run_mpmd_ok(nml: &Path, land: usize, rundir: &Path) -> String {
    let out = run_mpmd(nml, land, rundir, &[], &[]);
    let log = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "MPMD run on {land}+1 ranks failed:\n{}{log}",
        String::from_utf8_lossy(&out.stderr)
    );
    log
}

/// The replay's export checks, without the MPMD-only record hash.
fn export_checks(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("acknowledged"))
        .map(|l| l.split(" m3 m-3").next().unwrap().to_string())
        .collect()
}

#[test]
fn exchange_directory_with_replay_equals_data_files_on_the_same_grid() {
    assert!(have_mpirun(), "mpirun is required");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let nml = coupled_case(d);
    let files = variant(&nml, "files.nml", FILES);
    let xchg = variant(&nml, "xchg.nml", &exchange(true, 60));
    run_ok(&files, 2, &d.join("r_files"), &[]);
    // The atmosphere and the land as two processes, the land on 2 MPI ranks.
    let atm = replay(&xchg, &[]);
    run_ok(&xchg, 2, &d.join("r_xchg"), &[]);
    let log = finish(atm);
    assert_eq!(log.matches("acknowledged").count(), 8, "{log}");
    assert_same_land_output(&d.join("r_files"), &d.join("r_xchg"), true);
    // Every cycle: READY holds the manifest's hash, the export lies on the atmosphere grid
    // with land values only where the atmosphere cell has land, and was acknowledged.
    let c = d.join("xchg/2020060106/lnd2atm");
    let ready = std::fs::read_to_string(c.join("READY")).unwrap();
    let manifest = std::fs::read(c.join("MANIFEST.json")).unwrap();
    assert_eq!(ready.trim(), landcycle::io::xchg::sha256_bytes(&manifest));
    assert!(c.join("LND_202006010300.nc").is_file(), "export at T-3 h");
    assert!(std::fs::read_to_string(c.join("ACK"))
        .unwrap()
        .contains("consumed"));
    let sm = landcycle::io::xchg::read_variable(&c.join("LND_202006010300.nc"), "SoilMoistV")
        .unwrap()
        .values;
    let n_atm = ATM.0 * ATM.1;
    let with_land = sm[..n_atm].iter().filter(|v| !v.is_nan()).count();
    assert!(with_land > 0 && with_land < n_atm, "{with_land} of {n_atm}");
    check_cf(&c.join("LND_202006010300.nc"));
    check_cf(&d.join("xchg/2020060106/atm2lnd/ATM_202006010000.nc"));
    // The same run again on 3 ranks in a fresh run directory: the deliveries are found
    // consumed with the same hash (accepted), the exports reproduce the published files.
    run_ok(&xchg, 3, &d.join("r_xchg3"), &[]);
    assert_same_land_output(&d.join("r_files"), &d.join("r_xchg3"), true);
    // MPMD: the replay in the same mpirun, records over MPI, land on 2 then 3 ranks.
    let mp = variant(&nml, "mpmd.nml", &mpmd(true, 60));
    let mlog2 = run_mpmd_ok(&mp, 2, &d.join("r_mpmd2"));
    assert_same_land_output(&d.join("r_files"), &d.join("r_mpmd2"), true);
    let mlog3 = run_mpmd_ok(&mp, 3, &d.join("r_mpmd3"));
    assert_same_land_output(&d.join("r_files"), &d.join("r_mpmd3"), true);
    assert_eq!(mlog2.matches("delivered over MPI").count(), 8, "{mlog2}");
    assert!(
        mlog2.contains("the land ended: land run complete (8 window(s))"),
        "{mlog2}"
    );
    // The exports the atmosphere received: the same record (sha256) from 2 and 3 land
    // ranks, and the same check as of the exchange directory's files.
    let acks = |l: &str| -> Vec<String> {
        l.lines()
            .filter(|x| x.contains("acknowledged"))
            .map(String::from)
            .collect()
    };
    assert_eq!(acks(&mlog2), acks(&mlog3));
    assert_eq!(export_checks(&mlog2), export_checks(&log));
    assert_eq!(export_checks(&log).len(), 8);
}

#[test]
fn mpmd_peer_stopping_early_is_a_clear_error_and_the_run_resumes_identically() {
    assert!(have_mpirun(), "mpirun is required");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let nml = coupled_case(d);
    let files = variant(&nml, "files.nml", FILES);
    let mp = variant(&nml, "mpmd.nml", &mpmd(true, 3));
    run_ok(&files, 2, &d.join("r_files"), &[]);
    // The atmosphere ends after 2 cycles without a word: the land root's receive of cycle
    // 3 times out and the run stops, naming the peer and the deadline.
    let r = d.join("r_mpmd");
    let t = std::time::Instant::now();
    let out = run_mpmd(&mp, 2, &r, &[], &["--cycles", "2"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the run should have failed");
    assert!(t.elapsed().as_secs() < 120, "took {:?}", t.elapsed());
    assert!(
        err.contains("the forcing of land cycle 2020060118")
            && err.contains("deadline_seconds")
            && err.contains("world rank 2"),
        "{err}"
    );
    // Nothing of cycle 3 was written; cycles 1 and 2 are complete, and resuming with an
    // atmosphere that serves the rest gives the data-file run's bytes.
    let written = output_files(&r);
    assert!(
        written.iter().all(|f| !f.starts_with("2020060118")),
        "{written:?}"
    );
    assert!(
        written.iter().any(|f| f.starts_with("2020060112")),
        "{written:?}"
    );
    let out = run_mpmd(&mp, 2, &r, &["--resume"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_same_land_output(&d.join("r_files"), &r, true);
}

#[test]
fn mpmd_atmosphere_error_stops_the_land_with_its_message() {
    assert!(have_mpirun(), "mpirun is required");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let nml = coupled_case(d);
    let mp = variant(&nml, "mpmd.nml", &mpmd(true, 60));
    // The atmosphere cannot read its data for cycle 3: it tells the land, which stops at
    // once (well before the 60 s deadline) with the atmosphere's message.
    std::fs::remove_file(d.join("atm/atm_2020060115.nc")).unwrap();
    let r = d.join("r");
    let t = std::time::Instant::now();
    let out = run_mpmd(&mp, 2, &r, &[], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the run should have failed");
    assert!(t.elapsed().as_secs() < 50, "took {:?}", t.elapsed());
    assert!(
        err.contains("the atmosphere stopped at land cycle 2020060118")
            && err.contains("atm/atm_2020060115.nc"),
        "{err}"
    );
    // (The replay also ends with its own error after the land's STOP, but mpirun may end it
    // first once the land root has exited non-zero, so its line is not asserted.)
    let written = output_files(&r);
    assert!(
        written.iter().all(|f| !f.starts_with("2020060118")),
        "{written:?}"
    );
    // The land alone in mode 'mpmd' is refused with the command line to use.
    let out = run(&mp, 0, &d.join("alone"), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("landcycle atm replay"),
        "{err}"
    );
}

#[test]
fn forecast_archive_per_cycle_equals_the_valid_time_layout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let nml = write_case_namelist(d, 8, 6, 3, START, "2020-06-02_00:00:00", (38.0, -95.0));
    synth(&nml);
    // Copy the valid-time files into one directory per issuing cycle I = T − 6 h, leads 0–6 h.
    let t0 = NaiveDate::from_ymd_opt(2020, 6, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    for c in 0..4 {
        let init = t0 + chrono::Duration::hours(6 * c);
        let sub = d.join("fc").join(init.format("%Y%m%d%H").to_string());
        std::fs::create_dir_all(&sub).unwrap();
        for lead in [0, 3, 6] {
            let v = init + chrono::Duration::hours(lead);
            let src = d
                .join("case/forcing")
                .join(v.format("forcing_%Y%m%d%H.nc").to_string());
            let name = format!("gfs.t{}z.f{lead:03}.nc", init.format("%H"));
            std::fs::copy(src, sub.join(name)).unwrap();
        }
    }
    let text = std::fs::read_to_string(&nml)
        .unwrap()
        .replace("directory = 'case/forcing'", "directory = 'fc'")
        .replace(
            "file_template = 'forcing_%Y%m%d%H.nc'",
            "file_template = '{init:%Y%m%d%H}/gfs.t{init:%H}z.f{lead_h:03}.nc'",
        );
    let fc = d.join("fc.nml");
    std::fs::write(&fc, text).unwrap();
    run_ok(&nml, 0, &d.join("valid"), &[]);
    run_ok(&fc, 0, &d.join("archive"), &[]);
    assert_same_land_output(&d.join("valid"), &d.join("archive"), false);
    // A missing lead names the file of the issuing cycle.
    std::fs::remove_file(d.join("fc/2020060106/gfs.t06z.f003.nc")).unwrap();
    let out = run(&fc, 0, &d.join("missing"), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("fc/2020060106/gfs.t06z.f003.nc"),
        "{err}"
    );
}

/// One cycle of the coupled case with a 1 s deadline: the namelist, delivered or not.
fn one_cycle(d: &Path, deliver: bool) -> PathBuf {
    let nml = coupled_case(d);
    let text = std::fs::read_to_string(&nml)
        .unwrap()
        .replace(END, "2020-06-01_06:00:00");
    std::fs::write(&nml, text).unwrap();
    let x = variant(&nml, "xchg.nml", &exchange(false, 1));
    if deliver {
        finish(replay(&x, &["--no-wait-land"]));
    }
    x
}

fn run_err(nml: &Path, rundir: &Path) -> String {
    let out = run(nml, 0, rundir, &[]);
    assert!(!out.status.success(), "the run should have failed");
    assert!(
        output_files(rundir)
            .iter()
            .all(|f| !f.to_string_lossy().contains("LC_")),
        "outputs written"
    );
    String::from_utf8_lossy(&out.stderr).to_string()
}

const ATM_FILE: &str = "xchg/2020060106/atm2lnd/ATM_202006010300.nc";

#[test]
fn no_ready_by_the_deadline_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let x = one_cycle(dir.path(), false);
    let err = run_err(&x, &dir.path().join("r"));
    assert!(
        err.contains("atm2lnd/READY") && err.contains("deadline_seconds"),
        "{err}"
    );
}

#[test]
fn checksum_mismatch_and_truncated_record_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let x = one_cycle(d, true);
    let p = d.join(ATM_FILE);
    let good = std::fs::read(&p).unwrap();
    let mut bad = good.clone();
    let k = bad.len() - 9;
    bad[k] ^= 0x40;
    std::fs::write(&p, &bad).unwrap();
    let err = run_err(&x, &d.join("r1"));
    assert!(
        err.contains("ATM_202006010300.nc") && err.contains("sha256"),
        "{err}"
    );
    std::fs::write(&p, &good[..good.len() / 2]).unwrap();
    let err = run_err(&x, &d.join("r2"));
    assert!(
        err.contains("ATM_202006010300.nc") && err.contains("truncated"),
        "{err}"
    );
    // Restored, the delivery is accepted.
    std::fs::write(&p, &good).unwrap();
    run_ok(&x, 0, &d.join("r3"), &[]);
}

#[test]
fn conflicting_redelivery_is_refused_and_identical_one_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let x = one_cycle(d, true);
    run_ok(&x, 0, &d.join("r1"), &[]);
    let a2l = d.join("xchg/2020060106/atm2lnd");
    let consumed = d.join("xchg/2020060106/lnd2atm/ATM_CONSUMED");
    let first = std::fs::read_to_string(&consumed).unwrap();
    // The same delivery again (READY rewritten with the same hash): accepted.
    let ready = std::fs::read_to_string(a2l.join("READY")).unwrap();
    std::fs::write(a2l.join("READY"), &ready).unwrap();
    run_ok(&x, 0, &d.join("r2"), &[]);
    // Another delivery of the same cycle (a different manifest and READY): refused, and
    // the record of what was consumed is left as it was.
    let m = std::fs::read_to_string(a2l.join("MANIFEST.json"))
        .unwrap()
        .replace("landcycle atm replay", "another atmosphere");
    std::fs::write(a2l.join("MANIFEST.json"), &m).unwrap();
    let h = landcycle::io::xchg::sha256_bytes(m.as_bytes());
    std::fs::write(a2l.join("READY"), format!("{h}\n")).unwrap();
    let err = run_err(&x, &d.join("r3"));
    assert!(err.contains("conflicting re-delivery"), "{err}");
    assert_eq!(std::fs::read_to_string(&consumed).unwrap(), first);
}

/// Rewrite `dir/MANIFEST.json` through `edit` and publish it again (READY = its hash).
fn republish(dir: &Path, edit: impl FnOnce(&mut landcycle::io::xchg::Manifest)) {
    let text = std::fs::read_to_string(dir.join("MANIFEST.json")).unwrap();
    let mut m: landcycle::io::xchg::Manifest = serde_json::from_str(&text).unwrap();
    edit(&mut m);
    let bytes = serde_json::to_vec_pretty(&m).unwrap();
    std::fs::write(dir.join("MANIFEST.json"), &bytes).unwrap();
    let h = landcycle::io::xchg::sha256_bytes(&bytes);
    std::fs::write(dir.join("READY"), format!("{h}\n")).unwrap();
}

#[test]
fn a_delivery_on_another_grid_than_the_weights_is_refused() {
    use landcycle::io::xchg::{grid_id, read_grid, sha256_file};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let x = one_cycle(d, true);
    let a2l = d.join("xchg/2020060106/atm2lnd");
    // A manifest whose grid_id is not the grid of its records.
    let good = std::fs::read(a2l.join("MANIFEST.json")).unwrap();
    republish(&a2l, |m| m.grid_id = "0".repeat(64));
    let err = run_err(&x, &d.join("r1"));
    assert!(
        err.contains("ATM_202006010000.nc") && err.contains("grid_id"),
        "{err}"
    );
    // Records consistently published on a grid 0.01° north of the weights' source grid.
    std::fs::write(a2l.join("MANIFEST.json"), &good).unwrap();
    let mut files = Vec::new();
    for e in std::fs::read_dir(&a2l).unwrap().flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "nc") {
            let mut f = netcdf::append(&p).unwrap();
            let mut lat = f.variable_mut("lat").unwrap();
            let v: Vec<f64> = lat.get_values::<f64, _>(..).unwrap();
            let moved: Vec<f64> = v.iter().map(|y| y + 0.01).collect();
            lat.put_values(&moved, ..).unwrap();
            drop(f);
            files.push(p);
        }
    }
    let (la, lo) = read_grid(&files[0]).unwrap().centres();
    republish(&a2l, |m| {
        m.grid_id = grid_id(&la, &lo);
        for f in &mut m.files {
            let (sha, n) = sha256_file(&a2l.join(&f.file)).unwrap();
            (f.sha256, f.bytes) = (sha, n);
        }
    });
    let err = run_err(&x, &d.join("r2"));
    assert!(
        err.contains("not the grid of the weights") && err.contains("source cell 1"),
        "{err}"
    );
}
