//! The coupler (docs/coupling.md): a forecast archive as forcing (mode 1), and the exchange
//! directory (mode 3) with `landcycle atm replay` as a separate process, against data-file
//! mode fed the same f32 fields through the same weights; and the faults of the exchange.
//!
//! The atmosphere grid is a 0.5° lat-lon grid of synthetic weather around the 0.25° land
//! grid; CDO (Debian `cdo`, installed by scripts/setup) makes the bilinear a→l and the
//! conservative l→a weights.

mod common;
use common::coupled_case::*;
use common::*;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

/// History files variable by variable (every value bit for bit) and attribute by
/// attribute, all but the global `namelist` attribute, which records each run's own namelist
/// text (the runs differ in `&coupler` or a file template). Restarts byte for byte when the
/// configuration fingerprints agree (`&coupler` keys are not in it); otherwise (another
/// `forcing:file_template`, which is) every value, id and attribute, and history files also
/// without `config_fingerprint`.
fn assert_same_land_output(a: &Path, b: &Path, same_fingerprint: bool) {
    let fa = output_files(a);
    assert_eq!(fa, output_files(b), "different file sets");
    assert!(fa.len() >= 12, "{fa:?}");
    let skip: &[&str] = if same_fingerprint {
        &["namelist"]
    } else {
        &["namelist", "config_fingerprint"]
    };
    for f in &fa {
        let (x, y) = (a.join(f), b.join(f));
        if !f.to_string_lossy().contains("LC_RST_") {
            let (cx, cy) = (nc_content(&x, skip), nc_content(&y, skip));
            let diff: Vec<_> = cx.iter().zip(&cy).filter(|(p, q)| p != q).collect();
            assert!(
                cx.len() == cy.len() && diff.is_empty(),
                "{} differs: {:.400?}",
                f.display(),
                diff.first()
            );
        } else if same_fingerprint {
            assert!(
                std::fs::read(&x).unwrap() == std::fs::read(&y).unwrap(),
                "{} differs",
                f.display()
            );
        } else {
            let (p, mut q) = (
                landcycle::io::read_restart(&x).unwrap(),
                landcycle::io::read_restart(&y).unwrap(),
            );
            assert_ne!(p.config_fingerprint, q.config_fingerprint);
            q.config_fingerprint = p.config_fingerprint.clone();
            let canon = landcycle::io::restart::canonical_checksum;
            assert_eq!(canon(&p), canon(&q), "{} content differs", f.display());
        }
    }
}

fn nc_content(p: &Path, skip: &[&str]) -> Vec<String> {
    let f = netcdf::open(p).unwrap();
    let mut out: Vec<String> = f
        .attributes()
        .filter(|a| !skip.contains(&a.name()))
        .map(|a| format!("{}={:?}", a.name(), a.value().unwrap()))
        .collect();
    for v in f.variables() {
        let bits: Vec<u64> = v
            .get_values::<f64, _>(..)
            .map(|x| x.iter().map(|y| y.to_bits()).collect())
            .unwrap_or_default();
        out.push(format!("{} {:?}", v.name(), bits));
        for a in v.attributes() {
            out.push(format!(
                "{}:{}={:?}",
                v.name(),
                a.name(),
                a.value().unwrap()
            ));
        }
    }
    out
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
