//! Bad input to `landcycle run` gives a clear error (file, variable, time or namelist
//! line) and a non-zero exit, and leaves previous outputs and restarts intact.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A small case with one completed window (outputs and a restart to protect).
fn case_with_one_window() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let nml = write_namelist(dir.path(), 10, 8, 3, "2020-06-01_18:00:00");
    synth(&nml);
    let rundir = dir.path().join("run");
    run_ok(&nml, 0, &rundir, &["--windows", "1"]);
    (dir, nml, rundir)
}

/// Contents of every file under the run directory.
fn snapshot(rundir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut m = BTreeMap::new();
    let mut stack = vec![rundir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if !p.ends_with("landcycle.lock") {
                m.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    m
}

/// Run and expect failure; returns stderr. Checks previous files are untouched.
fn run_fails(nml: &Path, rundir: &Path, extra: &[&str]) -> String {
    let before = snapshot(rundir);
    let out = run(nml, 0, rundir, extra);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !out.status.success(),
        "expected failure, got success:\n{err}"
    );
    let after = snapshot(rundir);
    for (p, bytes) in &before {
        assert_eq!(
            after.get(p),
            Some(bytes),
            "{} changed or vanished",
            p.display()
        );
    }
    err
}

fn edit_namelist(nml: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(nml).unwrap();
    assert!(text.contains(from), "namelist lacks {from}");
    std::fs::write(nml, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn namelist_typo_names_line_and_suggests() {
    let (dir, nml, rundir) = case_with_one_window();
    edit_namelist(&nml, "  timestep = 1800", "  timestpe = 1800");
    let err = run_fails(&nml, &rundir, &["--resume"]);
    assert!(err.contains("case.nml:4:"), "{err}");
    assert!(err.contains("timestep"), "no suggestion: {err}");
    drop(dir);
}

#[test]
fn namelist_wrong_type_names_line() {
    let (_dir, nml, rundir) = case_with_one_window();
    edit_namelist(&nml, "ensemble_size = 3", "ensemble_size = 'three'");
    let err = run_fails(&nml, &rundir, &["--resume"]);
    assert!(err.contains("case.nml:5:"), "{err}");
}

#[test]
fn missing_forcing_file_names_file_and_time() {
    let (dir, nml, rundir) = case_with_one_window();
    // The second window (06-12 UTC) needs the 09 UTC file.
    let f = dir.path().join("case/forcing/forcing_2020060109.nc");
    std::fs::remove_file(&f).unwrap();
    let err = run_fails(&nml, &rundir, &["--resume"]);
    assert!(err.contains("forcing_2020060109.nc"), "{err}");
    assert!(err.contains("2020-06-01 09:00"), "{err}");
}

#[test]
fn missing_forcing_variable_and_wrong_units_are_named() {
    let (_dir, nml, rundir) = case_with_one_window();
    let text = std::fs::read_to_string(&nml).unwrap();
    std::fs::write(
        &nml,
        text.replacen("&forcing\n", "&forcing\n  tair_var = 'Tair_missing'\n", 1),
    )
    .unwrap();
    // Renaming forcing variables changes the configuration: run into a fresh directory.
    let fresh = rundir.with_file_name("fresh");
    std::fs::create_dir_all(&fresh).unwrap();
    let err = run_fails(&nml, &fresh, &[]);
    assert!(err.contains("Tair_missing"), "{err}");
    assert!(
        err.contains("forcing_2020060106.nc") || err.contains(".nc"),
        "{err}"
    );
    std::fs::write(
        &nml,
        text.replacen("&forcing\n", "&forcing\n  psurf_units = 'W m-2'\n", 1),
    )
    .unwrap();
    let err = run_fails(&nml, &fresh, &[]);
    assert!(err.contains("Psurf_f_inst"), "{err}");
    assert!(err.contains("units"), "{err}");
}

#[test]
fn nan_in_forcing_names_variable_time_and_place() {
    let (dir, nml, rundir) = case_with_one_window();
    let f = dir.path().join("case/forcing/forcing_2020060109.nc");
    let statics =
        landcycle::grid::statics::StaticFields::read_landcycle(&dir.path().join("case/static.nc"))
            .unwrap();
    let land = statics.land_cells()[0] as usize;
    let nx = statics.grid.nx();
    {
        let mut file = netcdf::append(&f).unwrap();
        let mut v = file.variable_mut("Tair_f_inst").unwrap();
        v.put_values(&[f32::NAN], (0, land / nx, land % nx))
            .unwrap();
    }
    let err = run_fails(&nml, &rundir, &["--resume"]);
    assert!(err.contains("Tair_f_inst"), "{err}");
    assert!(err.contains("2020-06-01 09:00"), "{err}");
}

#[test]
fn static_field_inconsistent_with_grid_names_variable() {
    let (dir, nml, rundir) = case_with_one_window();
    let f = dir.path().join("case/static.nc");
    let statics = landcycle::grid::statics::StaticFields::read_landcycle(&f).unwrap();
    let land = statics.land_cells()[0] as usize;
    let nx = statics.grid.nx();
    {
        let mut file = netcdf::append(&f).unwrap();
        let mut v = file.variable_mut("soil_class").unwrap();
        v.put_values(&[99i32], (land / nx, land % nx)).unwrap();
    }
    let err = run_fails(&nml, &rundir, &["--resume"]);
    assert!(err.contains("soil_class"), "{err}");
    assert!(err.contains("static.nc"), "{err}");
}

fn restart_of(rundir: &Path) -> PathBuf {
    let d = rundir.join("2020060106/restart");
    std::fs::read_dir(&d)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
}

#[test]
fn corrupt_and_truncated_restarts_are_errors_naming_the_file() {
    let (dir, nml, rundir) = case_with_one_window();
    let good = restart_of(&rundir);
    // Start a new run from copies of the restart: corrupted, then truncated.
    let bad = dir.path().join("bad.h5");
    let mut bytes = std::fs::read(&good).unwrap();
    let n = bytes.len();
    // Damage the second half of the file (metadata and data chunks alike).
    for k in (n / 2..n).step_by(997) {
        bytes[k] ^= 0x5a;
    }
    std::fs::write(&bad, &bytes).unwrap();
    edit_namelist(
        &nml,
        "  start = '2020-06-01_00:00:00'",
        "  start = '2020-06-01_06:00:00'",
    );
    let text = std::fs::read_to_string(&nml).unwrap();
    std::fs::write(
        &nml,
        text.replacen(
            "&run\n",
            &format!("&run\n  initial_restart = '{}'\n", bad.display()),
            1,
        ),
    )
    .unwrap();
    let rundir2 = dir.path().join("run2");
    std::fs::create_dir_all(&rundir2).unwrap();
    let err = run_fails(&nml, &rundir2, &[]);
    assert!(err.contains("bad.h5"), "{err}");
    std::fs::write(&bad, &std::fs::read(&good).unwrap()[..n / 3]).unwrap();
    let err = run_fails(&nml, &rundir2, &[]);
    assert!(err.contains("bad.h5"), "{err}");
    // The intact copy works (the failures were the files, not the setup).
    std::fs::copy(&good, &bad).unwrap();
    run_ok(&nml, 0, &rundir2, &["--windows", "1"]);
}

#[test]
fn restart_from_a_different_configuration_is_refused() {
    let (_dir, nml, rundir) = case_with_one_window();
    edit_namelist(
        &nml,
        "  interval_seconds = 3600",
        "  interval_seconds = 7200",
    );
    let err = run_fails(&nml, &rundir, &["--resume"]);
    assert!(err.contains("different configuration"), "{err}");
    assert!(err.contains("LC_RST_202006010600.h5"), "{err}");
}
