//! `landcycle check --preflight`: each input problem of the acceptance list is caught, named,
//! and nothing is created (no run directory, no file anywhere in the case directory).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every file and directory under `dir`.
fn listing(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.path().is_dir() {
                todo.push(e.path());
            }
            out.insert(e.path());
        }
    }
    out
}

/// A synthetic case of two 6-hour windows (forcing every 3 h: five files).
fn case(dir: &Path) -> PathBuf {
    let nml = common::write_namelist(dir, 4, 3, 2, "2020-06-01_12:00:00");
    common::synth(&nml);
    nml
}

/// Run the preflight; (success, stderr). Asserts that it created nothing.
fn preflight(dir: &Path, nml: &Path) -> (bool, String) {
    let before = listing(dir);
    let out = Command::new(common::BIN)
        .args(["check", "--preflight"])
        .arg(nml)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        listing(dir),
        before,
        "the preflight created or removed files\n{err}"
    );
    assert!(!dir.join("rundir").exists());
    (out.status.success(), err)
}

fn edit(nml: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(nml).unwrap();
    assert!(text.contains(from), "{from:?} not in the namelist");
    std::fs::write(nml, text.replace(from, to)).unwrap();
}

#[test]
fn a_complete_case_passes() {
    let dir = tempfile::tempdir().unwrap();
    let nml = case(dir.path());
    let (ok, err) = preflight(dir.path(), &nml);
    assert!(ok, "{err}");
    assert!(err.contains("preflight: forcing: 5 files"), "{err}");
    assert!(err.contains("preflight: no problem found"), "{err}");
}

#[test]
fn missing_forcing_file_in_the_middle_is_named_with_its_time() {
    let dir = tempfile::tempdir().unwrap();
    let nml = case(dir.path());
    let gone = dir.path().join("case/forcing/forcing_2020060106.nc");
    std::fs::remove_file(&gone).unwrap();
    let (ok, err) = preflight(dir.path(), &nml);
    assert!(!ok, "{err}");
    assert!(
        err.contains(&format!(
            "forcing file {} for 2020-06-01 06:00:00 is missing",
            gone.display()
        )),
        "{err}"
    );
}

#[test]
fn forcing_grid_not_covering_the_domain_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let nml = case(dir.path());
    // A domain far away (10° N, 20° E) with the forcing of the first case (38° N, 95° W).
    let far = dir.path().join("far");
    std::fs::create_dir(&far).unwrap();
    let far_nml = common::write_case_namelist(
        &far,
        4,
        3,
        2,
        "2020-06-01_00:00:00",
        "2020-06-01_06:00:00",
        (10.0, 20.0),
    );
    common::synth(&far_nml);
    edit(
        &nml,
        "static_file = 'case/static.nc'",
        "static_file = 'far/case/static.nc'",
    );
    let (ok, err) = preflight(dir.path(), &nml);
    assert!(!ok, "{err}");
    assert!(err.contains("forcing does not cover the domain"), "{err}");
    assert!(err.contains("forcing_2020060100.nc"), "{err}");
}

#[test]
fn empty_observation_directory_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let nml = case(dir.path());
    std::fs::create_dir_all(dir.path().join("obs/smap")).unwrap();
    let mut text = std::fs::read_to_string(&nml).unwrap();
    text.push_str(
        "&da\n  enabled = .true.\n  sensors = 'smap'\n  smap_directory = 'obs/smap'\n/\n",
    );
    std::fs::write(&nml, text).unwrap();
    let (ok, err) = preflight(dir.path(), &nml);
    assert!(!ok, "{err}");
    let smap = dir.path().join("obs/smap");
    assert!(
        err.contains("smap observations: no file matching")
            && err.contains(&format!("in {} for any of the 2 windows", smap.display())),
        "{err}"
    );
}

#[test]
fn unreadable_static_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let nml = case(dir.path());
    let statics = dir.path().join("case/static.nc");
    let bytes = std::fs::read(&statics).unwrap();
    std::fs::write(&statics, &bytes[..bytes.len() / 2]).unwrap();
    let (ok, err) = preflight(dir.path(), &nml);
    assert!(!ok, "{err}");
    assert!(
        err.contains("static file") && err.contains(&statics.display().to_string()),
        "{err}"
    );
}

/// `landcycle run` on `ranks` ranks (0: without mpirun): (exit code, stderr).
fn run(nml: &Path, ranks: usize, extra: &[&str]) -> (i32, String) {
    let mut cmd = if ranks == 0 {
        Command::new(common::BIN)
    } else {
        let mut c = Command::new("mpirun");
        c.args(["-n", &ranks.to_string(), common::BIN]);
        c
    };
    let out = cmd
        .arg("run")
        .arg(nml)
        .arg("--no-progress")
        .args(extra)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), err)
}

/// `landcycle run` runs the preflight before it creates anything (exit 66, every rank
/// stops); `--no-preflight` skips it (the run then creates its directory and fails at the
/// window that needs the file); an empty observation directory is only a warning, since the
/// cycle runs such windows as open loop; `--resume` does not repeat it.
#[test]
fn run_makes_the_preflight_before_creating_anything() {
    let dir = tempfile::tempdir().unwrap();
    let nml = case(dir.path());
    let gone = dir.path().join("case/forcing/forcing_2020060109.nc");
    let kept = dir.path().join("kept.nc");
    std::fs::rename(&gone, &kept).unwrap();
    let rundir = dir.path().join("rundir");
    for ranks in [0, 2] {
        let before = listing(dir.path());
        let (code, err) = run(&nml, ranks, &[]);
        assert_eq!(code, 66, "{ranks} ranks: {err}");
        assert!(
            err.contains("preflight of") && err.contains("--no-preflight"),
            "{err}"
        );
        assert!(err.contains(&gone.display().to_string()), "{err}");
        assert_eq!(
            listing(dir.path()),
            before,
            "{ranks} ranks created files\n{err}"
        );
    }
    let (code, err) = run(&nml, 0, &["--no-preflight"]);
    assert_eq!(code, 66, "{err}");
    assert!(!err.contains("preflight of"), "{err}");
    assert!(rundir.join("2020060106").is_dir(), "{err}");
    // The file back: a resume runs without a preflight, a fresh start passes it.
    std::fs::rename(&kept, &gone).unwrap();
    let (code, err) = run(&nml, 0, &["--resume"]);
    assert_eq!(code, 0, "{err}");
    std::fs::remove_dir_all(&rundir).unwrap();
    let text = std::fs::read_to_string(&nml).unwrap();
    std::fs::create_dir_all(dir.path().join("obs/smap")).unwrap();
    std::fs::write(
        &nml,
        format!("{text}&da\n  enabled = .true.\n  smap_directory = 'obs/smap'\n/\n"),
    )
    .unwrap();
    let (code, err) = run(&nml, 0, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("preflight: smap observations: no file"),
        "{err}"
    );
    assert!(rundir.join("2020060112").is_dir(), "{err}");
}

/// SMAP and ASCAT with CDF matching: the namelist text appended to a case.
fn with_cdf_matching(nml: &Path, climatology: &Path) {
    let mut text = std::fs::read_to_string(nml).unwrap();
    text.push_str(&format!(
        "&da\n  enabled = .true.\n  sensors = 'ascat'\n  ascat_directory = 'obs/ascat'\n  \
         ascat_bias_correction = 'cdf'\n  ascat_climatology = '{}'\n/\n",
        climatology.display()
    ));
    std::fs::write(nml, text).unwrap();
}

#[test]
fn missing_bias_correction_climatology_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let nml = case(dir.path());
    std::fs::create_dir_all(dir.path().join("obs/ascat")).unwrap();
    let clim = dir.path().join("no_such_climatology.nc");
    with_cdf_matching(&nml, &clim);
    let (ok, err) = preflight(dir.path(), &nml);
    assert!(!ok, "{err}");
    assert!(
        err.contains(&format!("ascat climatology {}", clim.display())),
        "{err}"
    );
}

#[test]
fn bias_correction_on_a_wps_domain_is_refused_before_the_run() {
    let Some(geo_em) = landcycle::testdata::require("wps-geo-em/geo_em.d01.nc") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let nml = case(dir.path());
    edit(
        &nml,
        "static_file = 'case/static.nc'\n  static_format = 'landcycle'",
        &format!(
            "static_file = '{}'\n  static_format = 'geo_em'",
            geo_em.display()
        ),
    );
    std::fs::create_dir_all(dir.path().join("obs/ascat")).unwrap();
    with_cdf_matching(&nml, &dir.path().join("clim.nc"));
    let (ok, err) = preflight(dir.path(), &nml);
    assert!(!ok, "{err}");
    assert!(
        err.contains("da:ascat_bias_correction needs a regular latitude-longitude grid"),
        "{err}"
    );
}
