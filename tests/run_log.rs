//! What a run logs: with `LANDCYCLE_LOG=debug` per-stage timings and per-sensor observation
//! counts as structured fields; with `--log-format json` every line is a JSON object and the
//! last one is the run summary; the progress bar template shows an ETA.

mod common;

use chrono::NaiveDate;
use landcycle::grid::statics::StaticFields;
use landcycle::synth::obs_sim::{write_smap_like_granule, SimSmapRetrieval};
use std::path::Path;
use std::process::Command;

/// A SMAP granule at 05:10 on every land cell centre of the synthetic case.
fn write_smap(dir: &Path) {
    let s = StaticFields::read_landcycle(&dir.join("case/static.nc")).unwrap();
    let (lat, lon) = (
        s.grid.lat_1d().unwrap().to_vec(),
        s.grid.lon_1d().unwrap().to_vec(),
    );
    let nx = lon.len();
    let time = NaiveDate::from_ymd_opt(2020, 6, 1)
        .unwrap()
        .and_hms_opt(5, 10, 0)
        .unwrap();
    let rs: Vec<SimSmapRetrieval> = s
        .land_cells()
        .iter()
        .map(|&id| {
            let (la, lo) = (lat[id as usize / nx], lon[id as usize % nx]);
            let (row, col) = landcycle::obs::ease::cell_of_36km(la, lo).unwrap();
            let mut r = SimSmapRetrieval::at_ease_cell(row as u16, col as u16, time, 0.33).unwrap();
            (r.lat, r.lon) = (la, lo);
            r
        })
        .collect();
    let d = dir.join("obs/smap");
    std::fs::create_dir_all(&d).unwrap();
    let name = format!(
        "SMAP_L2_SM_P_00001_D_{}_R18290_001.h5",
        time.format("%Y%m%dT%H%M%S")
    );
    write_smap_like_granule(&d.join(name), &rs).unwrap();
}

#[test]
fn json_debug_log_has_stage_timings_sensor_counts_and_a_json_summary() {
    let dir = tempfile::tempdir().unwrap();
    let nml = common::write_namelist(dir.path(), 6, 5, 4, "2020-06-01_12:00:00");
    common::synth(&nml);
    let mut text = std::fs::read_to_string(&nml).unwrap();
    text.push_str("&da\n  enabled = .true.\n  sensors = 'smap'\n  smap_directory = 'obs/smap'\n  qc_precipitation = .false.\n  qc_forest = .false.\n  qc_green_fraction = .false.\n/\n");
    std::fs::write(&nml, text).unwrap();
    write_smap(dir.path());
    let out = Command::new(common::BIN)
        .current_dir(dir.path())
        .env("LANDCYCLE_LOG", "debug")
        .args(["--log-format", "json", "run"])
        .arg(&nml)
        .args(["--rundir", "rd", "--no-progress"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let lines: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let field = |v: &serde_json::Value, k: &str| v["fields"][k].clone();
    // The summary is the last line, a JSON object with the run's figures.
    let last = lines.last().unwrap();
    assert_eq!(field(last, "message"), "run summary");
    assert_eq!(field(last, "windows_run"), 2);
    assert_eq!(field(last, "members"), 4);
    assert_eq!(field(last, "last_cycle"), "2020060112");
    assert!(field(last, "stage_seconds")["physics"].as_f64().unwrap() > 0.0);
    assert!(field(last, "total_seconds").as_f64().unwrap() > 0.0);
    // Debug: each stage's time, structured.
    let stages: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["fields"]["stage"].is_string())
        .collect();
    for s in ["physics", "forcing", "restart", "assimilation"] {
        assert!(
            stages
                .iter()
                .any(|l| field(l, "stage") == s && field(l, "elapsed_s").is_f64()),
            "no debug timing of stage {s}"
        );
    }
    // Debug: per sensor, accepted and rejected counts (rules as a JSON object).
    let smap: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| field(l, "sensor") == "smap")
        .collect();
    assert!(!smap.is_empty(), "no per-sensor debug record:\n{err}");
    let accepted: u64 = smap
        .iter()
        .map(|l| field(l, "accepted").as_u64().unwrap())
        .sum();
    assert!(accepted > 0);
    for l in &smap {
        let rejected: serde_json::Value =
            serde_json::from_str(field(l, "rejected").as_str().unwrap()).unwrap();
        let by_rule: u64 = rejected
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(by_rule, field(l, "rejected_total").as_u64().unwrap());
    }

    // Without debug the same run logs no stage timings (debug content is debug only).
    let out = Command::new(common::BIN)
        .current_dir(dir.path())
        .args(["--log-format", "json", "run"])
        .arg(&nml)
        .args(["--rundir", "rd2", "--no-progress"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let lines: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines
        .iter()
        .all(|l| !l["fields"]["stage"].is_string() && !l["fields"]["sensor"].is_string()));
    assert_eq!(lines.last().unwrap()["fields"]["message"], "run summary");
}

#[test]
fn progress_bar_shows_an_eta() {
    let t = landcycle::cycle::PROGRESS_TEMPLATE;
    assert!(t.contains("{eta_precise}") && t.contains("{pos}/{len}"));
    let style = indicatif::ProgressStyle::with_template(t);
    assert!(style.is_ok());
}
