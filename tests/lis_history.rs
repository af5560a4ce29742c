//! History naming: the LIS option gives files a LIS user's xarray code reads unchanged
//! (`ds["SoilMoist_inst"]` on dims `SoilMoist_profiles`, `north_south`, `east_west` in
//! `m^3 m-3`, compared with a real LIS history file), the variable list key, and the ALMA
//! default writing every variable docs/io.md lists (`io::alma::ALMA_VARIABLES`).

mod common;

use std::path::{Path, PathBuf};

/// A run of a small synthetic case to `end`: its history files, in time order.
fn run_case_to(dir: &Path, extra_run_keys: &str, end: &str) -> Vec<PathBuf> {
    let nml = common::write_namelist(dir, 5, 4, 3, end);
    let text = std::fs::read_to_string(&nml).unwrap().replace(
        "  rundir = 'rundir'\n",
        &format!("  rundir = 'rundir'\n{extra_run_keys}"),
    );
    std::fs::write(&nml, text).unwrap();
    common::synth(&nml);
    let rundir = dir.join("rundir");
    common::run_ok(&nml, 0, &rundir, &[]);
    common::output_files(&rundir)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("LC_HIST_"))
        .map(|p| rundir.join(p))
        .collect()
}

/// The last history file of a six-hour run.
fn run_case(dir: &Path, extra_run_keys: &str) -> PathBuf {
    let files = run_case_to(dir, extra_run_keys, "2020-06-01_06:00:00");
    files.last().expect("a history file").clone()
}

fn dims(v: &netcdf::Variable) -> Vec<String> {
    v.dimensions().iter().map(|d| d.name()).collect()
}

fn units(v: &netcdf::Variable) -> String {
    match v.attribute_value("units") {
        Some(Ok(netcdf::AttributeValue::Str(s))) => s,
        other => panic!("units of {}: {other:?}", v.name()),
    }
}

fn names(f: &netcdf::File) -> Vec<String> {
    f.variables().map(|v| v.name()).collect()
}

#[test]
fn lis_naming_reads_like_a_lis_file() {
    let dir = tempfile::tempdir().unwrap();
    let hist = run_case(
        dir.path(),
        "  history_naming = 'lis'\n  history_variables = 'SoilMoist_inst', 'SoilMoist_tavg', 'Rainf_tavg', 'Snowf_tavg'\n",
    );
    let f = netcdf::open(&hist).unwrap();
    let sm = f.variable("SoilMoist_inst").expect("SoilMoist_inst");
    assert_eq!(
        dims(&sm),
        ["SoilMoist_profiles", "north_south", "east_west"]
    );
    assert_eq!(units(&sm), "m^3 m-3");
    let lat = f.variable("lat").unwrap();
    assert_eq!(dims(&lat), ["north_south", "east_west"]);
    // The same names, dimensions and units as NASA LIS writes them.
    if let Some(lis) = landcycle::testdata::require("lis-history/LIS_HIST_201704010000.d01.nc") {
        let l = netcdf::open(&lis).unwrap();
        let lsm = l.variable("SoilMoist_inst").unwrap();
        assert_eq!(dims(&lsm), dims(&sm));
        assert_eq!(units(&lsm), units(&sm));
        assert_eq!(dims(&l.variable("lat").unwrap()), dims(&lat));
    }
    // Volumetric values on land, the interval mean close to the instantaneous state.
    let inst: Vec<f32> = sm.get_values(..).unwrap();
    let tavg: Vec<f32> = f
        .variable("SoilMoist_tavg")
        .unwrap()
        .get_values(..)
        .unwrap();
    let land: Vec<(f32, f32)> = inst
        .into_iter()
        .zip(tavg)
        .filter(|(a, _)| *a < 1e10)
        .collect();
    assert!(!land.is_empty());
    for (a, b) in &land {
        assert!(
            (0.01..0.7).contains(a) && (0.01..0.7).contains(b),
            "{a} {b}"
        );
        assert!((a - b).abs() < 0.05, "inst {a} vs tavg {b}");
    }
    let got = names(&f);
    for v in ["Rainf_tavg", "Snowf_tavg", "SoilMoist_inst_spread"] {
        assert!(got.iter().any(|n| n == v), "{v} missing: {got:?}");
    }
    assert!(
        !got.iter().any(|n| n == "Qle_tavg" || n == "SoilMoist"),
        "{got:?}"
    );
    drop(f);
    let out = std::process::Command::new("cdo")
        .args(["sinfon", hist.to_str().unwrap()])
        .output()
        .expect("cdo (Debian package cdo, scripts/setup)");
    let info = String::from_utf8_lossy(&out.stdout);
    println!("{info}");
    assert!(
        out.status.success() && info.contains("SoilMoist_inst"),
        "{info}"
    );
    assert!(
        info.contains("depth_below_land") && info.contains("cellbounds"),
        "{info}"
    );
    common::check_cf(&hist);
}

#[test]
fn alma_default_writes_every_documented_variable() {
    let dir = tempfile::tempdir().unwrap();
    let files = run_case_to(dir.path(), "", "2020-06-03_00:00:00");
    let mut precipitation = 0.0f64;
    for (k, hist) in files.iter().enumerate() {
        let f = netcdf::open(hist).unwrap();
        if k == 0 {
            let got = names(&f);
            for v in landcycle::io::alma::ALMA_VARIABLES {
                assert!(
                    got.iter().any(|n| n == v.name),
                    "{} missing: {got:?}",
                    v.name
                );
                assert_eq!(units(&f.variable(v.name).unwrap()), v.units, "{}", v.name);
            }
            common::check_cf(hist);
        }
        // Rain and snow apart, both non-negative; in June no snow where the air is warm.
        let get = |n: &str| -> Vec<f32> { f.variable(n).unwrap().get_values(..).unwrap() };
        let (rain, snow, tair) = (get("Rainf"), get("Snowf"), get("Tair"));
        for ((r, s), t) in rain.iter().zip(&snow).zip(&tair).filter(|x| *x.0 .0 < 1e10) {
            assert!(*r >= 0.0 && *s >= 0.0, "{r} {s}");
            if *t > 278.0 {
                assert_eq!(*s, 0.0, "snowfall at {t} K");
            }
            precipitation += f64::from(r + s);
        }
    }
    assert!(
        precipitation > 0.0,
        "no precipitation in two days of forcing"
    );
}

#[test]
fn unknown_history_variable_is_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let nml = common::write_namelist(dir.path(), 3, 3, 2, "2020-06-01_06:00:00");
    let text = std::fs::read_to_string(&nml).unwrap().replace(
        "  rundir = 'rundir'\n",
        "  rundir = 'rundir'\n  history_variables = 'SoilMoist_inst'\n",
    );
    std::fs::write(&nml, text).unwrap();
    let out = std::process::Command::new(common::BIN)
        .arg("check")
        .arg(&nml)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("history_variables") && err.contains("history_naming"),
        "{err}"
    );
}
