//! Soil-moisture assimilation inside the cycle: the EnKF update of one cell, bit-identical
//! results (history, restart, diagnostics) on 1, 2 and 3 ranks and across a restart, and
//! open loop when observation files are missing or corrupt.

mod common;
use common::*;

use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveDateTime};
use landcycle::config::DaSensor;
use landcycle::cycle::assim::{analyse_cell, CellObsValue};
use landcycle::da::enkf::Mode;
use landcycle::grid::statics::StaticFields;
use landcycle::lsm::noah::tables::ParameterTables;
use landcycle::lsm::noah::NoahLsm;
use landcycle::lsm::{CellStatics, LandModel};
use landcycle::synth::obs_sim::{
    write_ascat_like_orbit, write_smap_like_granule, AscatProduct, SimAscatOrbit, SimSmapRetrieval,
};

fn t(d: u32, h: u32, m: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2020, 6, d)
        .unwrap()
        .and_hms_opt(h, m, 0)
        .unwrap()
}

fn loam_cell() -> CellStatics {
    CellStatics {
        latitude: 38.0,
        longitude: -95.0,
        soil_class: 6,
        vegetation_class: 7,
        slope_class: 1,
        green_fraction_monthly: [0.4; 12],
        albedo_monthly: [0.18; 12],
        deep_soil_temperature: 287.0,
        elevation: 300.0,
        max_snow_albedo: 0.7,
    }
}

#[test]
fn analysis_moves_top_layer_toward_observation_and_reduces_spread() {
    let model = NoahLsm::new(ParameterTables::builtin(), "STAS", "USGS");
    let params = model.cell_params(&loam_cell()).unwrap();
    let n = 30;
    let mut states: Vec<_> = (0..n)
        .map(|i| {
            let d = 0.03 * ((i as f64 / (n - 1) as f64) - 0.5);
            // Correlated layers so the top-layer observation also informs deeper layers.
            let sm = [0.25 + d, 0.26 + 0.7 * d, 0.27 + 0.4 * d, 0.28 + 0.1 * d];
            model.cold_start(&params, &sm, 290.0).unwrap()
        })
        .collect();
    let mean = |st: &[landcycle::lsm::noah::NoahState], k: usize| {
        st.iter().map(|s| model.soil_moisture(s)[k]).sum::<f64>() / st.len() as f64
    };
    let before: Vec<f64> = (0..4).map(|k| mean(&states, k)).collect();
    let y = 0.31;
    let obs = [CellObsValue {
        sensor: DaSensor::Smap,
        value: y,
        error_sd: 0.005,
    }];
    let r = analyse_cell(
        &model,
        &params,
        &mut states,
        &obs,
        7,
        1234,
        t(1, 6, 0),
        Mode::Joint,
    )
    .unwrap();
    let after: Vec<f64> = (0..4).map(|k| mean(&states, k)).collect();
    // Innovation y - H x̄ against the background top layer.
    assert!((r.innovation[0] - (y - before[0])).abs() < 1e-12);
    assert!(r.normalized_innovation[0] > 1.0);
    // Top layer moves most of the way towards the observation (small R).
    assert!(
        after[0] > before[0] + 0.5 * (y - before[0]),
        "{before:?} {after:?}"
    );
    assert!(after[0] < y + 1e-3);
    // Deeper, positively correlated layers move the same way, less.
    assert!(after[1] > before[1] && after[1] - before[1] < after[0] - before[0]);
    for k in 0..4 {
        assert!((r.increment[k] - (after[k] - before[k])).abs() < 1e-12);
        assert!(
            r.spread_after[k] < r.spread_before[k],
            "layer {k}: {} -> {}",
            r.spread_before[k],
            r.spread_after[k]
        );
    }
    // Top-layer spread is at most the observation error.
    assert!(r.spread_after[0] <= 0.0055);
    // Liquid and total stay consistent (no frozen water was created or lost).
    for s in &states {
        for k in 0..4 {
            assert!((s.soil_moisture[k] - s.soil_liquid[k]).abs() < 1e-12);
        }
    }
    // The same keys give the same result; another analysis time gives other perturbations.
    let mut again: Vec<_> = (0..n)
        .map(|i| {
            let d = 0.03 * ((i as f64 / (n - 1) as f64) - 0.5);
            let sm = [0.25 + d, 0.26 + 0.7 * d, 0.27 + 0.4 * d, 0.28 + 0.1 * d];
            model.cold_start(&params, &sm, 290.0).unwrap()
        })
        .collect();
    let mut other = again.clone();
    analyse_cell(
        &model,
        &params,
        &mut again,
        &obs,
        7,
        1234,
        t(1, 6, 0),
        Mode::Joint,
    )
    .unwrap();
    assert_eq!(again, states);
    analyse_cell(
        &model,
        &params,
        &mut other,
        &obs,
        7,
        1234,
        t(1, 6, 30),
        Mode::Joint,
    )
    .unwrap();
    assert_ne!(other, states);
}

/// Append a `&da` group to the namelist.
fn add_da(nml: &Path, extra: &str) {
    let mut text = std::fs::read_to_string(nml).unwrap();
    text.push_str(&format!(
        "&da
  enabled = .true.
  sensors = 'smap', 'ascat'
  smap_directory = 'obs/smap'
  ascat_directory = 'obs/ascat'
  qc_precipitation = .false.
  qc_forest = .false.
  qc_green_fraction = .false.
{extra}
/
"
    ));
    std::fs::write(nml, text).unwrap();
}

/// Land cell centres of the synthetic case.
fn land_centres(dir: &Path) -> Vec<(f64, f64)> {
    let s = StaticFields::read_landcycle(&dir.join("case/static.nc")).unwrap();
    let lat = s.grid.lat_1d().unwrap().to_vec();
    let lon = s.grid.lon_1d().unwrap().to_vec();
    let nx = lon.len();
    s.land_cells()
        .iter()
        .map(|&id| (lat[id as usize / nx], lon[id as usize % nx]))
        .collect()
}

fn write_smap(dir: &Path, time: NaiveDateTime, cells: &[(f64, f64)], value: f64) -> PathBuf {
    let d = dir.join("obs/smap");
    std::fs::create_dir_all(&d).unwrap();
    let path = d.join(format!(
        "SMAP_L2_SM_P_00001_D_{}_R18290_001.h5",
        time.format("%Y%m%dT%H%M%S")
    ));
    let rs: Vec<SimSmapRetrieval> = cells
        .iter()
        .enumerate()
        .map(|(k, &(lat, lon))| {
            let (row, col) = landcycle::obs::ease::cell_of_36km(lat, lon).unwrap();
            let mut r =
                SimSmapRetrieval::at_ease_cell(row as u16, col as u16, time, value).unwrap();
            // At the model cell centre, a few seconds apart.
            r.lat = lat;
            r.lon = lon;
            r.time = time + chrono::Duration::seconds(k as i64);
            r.soil_moisture = value + 0.002 * (k % 5) as f64;
            r
        })
        .collect();
    write_smap_like_granule(&path, &rs).unwrap();
    path
}

fn write_ascat(dir: &Path, time: NaiveDateTime, cells: &[(f64, f64)], percent: f64) -> PathBuf {
    let d = dir.join("obs/ascat");
    std::fs::create_dir_all(&d).unwrap();
    let path = d.join(format!(
        "ASCAT_SMR_125_METOPA_{}_00001_ssm_l2.nc",
        time.format("%Y%m%d%H%M%S")
    ));
    let n = cells.len();
    let o = SimAscatOrbit {
        product: AscatProduct::Smr,
        platform: "METOPA".into(),
        n_cells: n,
        line_times: vec![time],
        lat: cells.iter().map(|c| c.0).collect(),
        lon: cells.iter().map(|c| c.1).collect(),
        soil_moisture: (0..n).map(|k| percent + (k % 7) as f64).collect(),
        soil_moisture_error: vec![5.0; n],
        snow_cover_probability: vec![0; n],
        frozen_soil_probability: vec![0; n],
        wetland_flag: vec![0; n],
        topography_flag: vec![0; n],
        proc_flag1: vec![0; n],
        aggregated_quality_flag: vec![0; n],
    };
    write_ascat_like_orbit(&path, &o).unwrap();
    path
}

/// Diagnostics files under a run directory, relative paths sorted.
fn diag_files(rundir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for cyc in std::fs::read_dir(rundir).unwrap().flatten() {
        if let Ok(rd) = std::fs::read_dir(cyc.path().join("diag")) {
            for f in rd.flatten() {
                v.push(f.path().strip_prefix(rundir).unwrap().to_path_buf());
            }
        }
    }
    v.sort();
    v
}

fn assert_same_diag(a: &Path, b: &Path) {
    let fa = diag_files(a);
    assert_eq!(fa, diag_files(b));
    for f in &fa {
        assert!(
            std::fs::read(a.join(f)).unwrap() == std::fs::read(b.join(f)).unwrap(),
            "{} differs between {} and {}",
            f.display(),
            a.display(),
            b.display()
        );
    }
}

fn read_f32(nc: &netcdf::File, name: &str) -> Vec<f32> {
    nc.variable(name).unwrap().get_values::<f32, _>(..).unwrap()
}

#[test]
fn da_cycle_is_bit_identical_on_1_2_3_ranks_and_across_restart() {
    assert!(have_mpirun(), "mpirun is required");
    let dir = tempfile::tempdir().unwrap();
    // 10 members: more than state + observations + 1, so the EnKF perturbations are
    // orthogonalised and the analysis spread is exactly the Kalman one (never larger).
    let nml = write_namelist(dir.path(), 14, 10, 10, "2020-06-02_00:00:00");
    synth(&nml);
    add_da(&nml, "");
    let land = land_centres(dir.path());
    assert!(land.len() > 20);
    // SMAP in windows 1 and 3 (two granules in window 3), ASCAT in windows 1 and 4.
    write_smap(dir.path(), t(1, 5, 10), &land, 0.36);
    write_smap(dir.path(), t(1, 13, 20), &land[..land.len() / 2], 0.34);
    write_smap(dir.path(), t(1, 14, 50), &land[land.len() / 2..], 0.34);
    let every_other: Vec<_> = land.iter().copied().step_by(2).collect();
    write_ascat(dir.path(), t(1, 4, 0), &every_other, 65.0);
    write_ascat(dir.path(), t(1, 20, 40), &every_other, 60.0);

    let r1 = dir.path().join("r1");
    let r2 = dir.path().join("r2");
    let r3 = dir.path().join("r3");
    run_ok(&nml, 1, &r1, &[]);
    run_ok(&nml, 2, &r2, &[]);
    run_ok(&nml, 3, &r3, &[]);
    assert_eq!(output_files(&r1).len(), 12);
    // Analyses: 04:00 (ASCAT) and 05:30 (SMAP) in window 1, 13:30 and 15:00 in window 3,
    // 21:00 in window 4 (time step 30 min).
    let diags = diag_files(&r1);
    let names: Vec<String> = diags
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "LC_DA_202006010400.nc",
            "LC_DA_202006010530.nc",
            "LC_DA_202006011330.nc",
            "LC_DA_202006011500.nc",
            "LC_DA_202006012100.nc"
        ]
    );
    assert_identical(&r1, &r2);
    assert_identical(&r1, &r3);
    assert_same_diag(&r1, &r2);
    assert_same_diag(&r1, &r3);

    // Straight run vs 2 windows on 2 ranks, then resumed on 3 ranks.
    let split = dir.path().join("split");
    run_ok(&nml, 2, &split, &["--windows", "2"]);
    run_ok(&nml, 3, &split, &["--resume"]);
    assert_identical(&r1, &split);
    assert_same_diag(&r1, &split);

    // The SMAP analysis at 05:30: innovations where accepted, spread reduced in the top layer,
    // the top layer moved towards the observations.
    let nc = netcdf::open(r1.join(&diags[1])).unwrap();
    let acc: Vec<i32> = nc
        .variable("smap_accepted")
        .unwrap()
        .get_values::<i32, _>(..)
        .unwrap();
    assert!(acc[0] > 10, "accepted {acc:?}");
    let inn = read_f32(&nc, "smap_innovation");
    let inc = read_f32(&nc, "increment");
    let sb = read_f32(&nc, "spread_before");
    let sa = read_f32(&nc, "spread_after");
    let ncell = inn.len();
    let mut analysed = 0;
    for c in 0..ncell {
        if inn[c] < 1e19 {
            analysed += 1;
            // Top-layer increment has the sign of the innovation and is smaller.
            assert!(inc[c] * inn[c] > 0.0 && inc[c].abs() < inn[c].abs());
            assert!(
                sa[c] < sb[c],
                "cell {c}: spread {} -> {}, innovation {}, increment {}",
                sb[c],
                sa[c],
                inn[c],
                inc[c]
            );
        }
    }
    assert_eq!(analysed, acc[0]);
    // The QC counts name the rules; the counts are integers that add up.
    let rej: Vec<i32> = nc
        .variable("smap_rejected")
        .unwrap()
        .get_values::<i32, _>(..)
        .unwrap();
    assert_eq!(rej.len(), landcycle::cycle::assim::QC_RULES.len());
    assert_eq!(
        acc[0] as usize + rej.iter().sum::<i32>() as usize,
        land.len()
    );
}

#[test]
fn missing_or_corrupt_observation_files_run_open_loop() {
    let dir = tempfile::tempdir().unwrap();
    let nml = write_namelist(dir.path(), 8, 6, 4, "2020-06-01_12:00:00");
    synth(&nml);
    let open = dir.path().join("open");
    run_ok(&nml, 0, &open, &[]);
    add_da(&nml, "");
    // No observation directory at all.
    let missing = dir.path().join("missing");
    let out = run(&nml, 0, &missing, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("open loop"), "{err}");
    // Only corrupt files: garbage and a truncated real-format granule.
    let land = land_centres(dir.path());
    let good = write_smap(dir.path(), t(1, 3, 0), &land, 0.36);
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&good, &bytes[..bytes.len() / 3]).unwrap();
    std::fs::create_dir_all(dir.path().join("obs/ascat")).unwrap();
    std::fs::write(
        dir.path()
            .join("obs/ascat/ASCAT_SMR_125_METOPA_20200601040000_00001_ssm_l2.nc"),
        b"not a netcdf file",
    )
    .unwrap();
    let corrupt = dir.path().join("corrupt");
    let out = run(&nml, 0, &corrupt, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("open loop"), "{err}");
    assert!(err.contains("skipping observation file"), "{err}");
    assert!(
        err.contains("SMAP_L2_SM_P_00001_D_20200601T030000"),
        "{err}"
    );
    // Same restarts as the open loop (history files differ only by the namelist text).
    for rd in [&missing, &corrupt] {
        assert!(diag_files(rd).is_empty());
        let a: Vec<_> = output_files(&open)
            .into_iter()
            .filter(|p| p.to_string_lossy().contains("restart"))
            .collect();
        assert_eq!(a.len(), 2);
        for f in a {
            assert!(
                std::fs::read(open.join(&f)).unwrap() == std::fs::read(rd.join(&f)).unwrap(),
                "{} differs from the open loop",
                f.display()
            );
        }
    }
}
