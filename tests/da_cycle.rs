//! Soil-moisture assimilation inside the cycle: the EnKF update of one cell, bit-identical
//! results (history, restart, diagnostics) on 1, 2 and 3 ranks and across a restart, and
//! open loop when observation files are missing or corrupt.

mod common;
use common::noah_cell::{loam_cell, t};
use common::*;

use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveDateTime};
use landcycle::cycle::analysis_1d::{
    analyse_cell, CellContext, CellObsValue, CellObservations, NeighbourObs, SharedObs,
};
use landcycle::da::enkf::Mode;
use landcycle::da::localize::gaspari_cohn;
use landcycle::grid::geo::distance_km;
use landcycle::grid::statics::StaticFields;
use landcycle::lsm::noah::tables::ParameterTables;
use landcycle::lsm::noah::NoahLsm;
use landcycle::lsm::{CellStatics, LandModel};
use landcycle::parallel::SingleProcess;
use landcycle::synth::obs_sim::{
    write_ascat_like_orbit, write_smap_like_granule, AscatProduct, SimAscatOrbit, SimSmapRetrieval,
};

/// Product code of SMAP in the observation-perturbation keys.
const SMAP: u32 = 0;

/// HDF5 is not thread-safe: tests that read or write files in this process take turns.
static FILE_IO: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn io_lock() -> std::sync::MutexGuard<'static, ()> {
    FILE_IO.lock().unwrap_or_else(|e| e.into_inner())
}

/// A neighbour's observation whose predicted value is the cell's own top layer, with weight 1
/// and the cell's own perturbation key, is the cell's own observation: the localised update
/// reduces to the 1-D one. A half weight is a doubled error variance, and a neighbour whose
/// ensemble is unrelated to the cell moves it less.
#[test]
fn neighbour_observations_act_through_the_ensemble_covariance() {
    let model = NoahLsm::new(ParameterTables::builtin(), "STAS", "USGS");
    let params = model.cell_params(&loam_cell()).unwrap();
    let n = 20;
    let make = || -> Vec<landcycle::lsm::noah::NoahState> {
        (0..n)
            .map(|i| {
                let d = 0.03 * ((i as f64 / (n - 1) as f64) - 0.5);
                let sm = [0.25 + d, 0.26 + 0.7 * d, 0.27 + 0.4 * d, 0.28 + 0.1 * d];
                model.cold_start(&params, &sm, 290.0).unwrap()
            })
            .collect()
    };
    let top = |st: &[landcycle::lsm::noah::NoahState]| -> Vec<f64> {
        st.iter().map(|s| model.soil_moisture(s)[0]).collect()
    };
    let when = t(1, 6, 0);
    let own = [CellObsValue {
        sensor: SMAP,
        value: 0.30,
        error_sd: 0.02,
        layer_weights: model.surface_weights(0.05),
    }];
    // Analyse a fresh ensemble with own and neighbour observations.
    let analyse = |own: &[CellObsValue], near: &[NeighbourObs]| {
        let mut states = make();
        analyse_cell(
            &model,
            &params,
            &mut states,
            CellObservations {
                own,
                neighbours: near,
            },
            &CellContext {
                seed: 7,
                cell_id: 99,
                time: when,
                mode: Mode::Joint,
                rtps: 0.0,
            },
        )
        .unwrap()
    };
    let ra = analyse(&own, &[]);
    let shared = SharedObs {
        cell_id: 99,
        lat: 40.0,
        lon: -95.0,
        sensor: SMAP,
        value: 0.30,
        error_sd: 0.02,
        background: top(&make()),
    };
    let near = |obs, weight| [NeighbourObs { obs, weight }];
    let rb = analyse(&[], &near(&shared, 1.0));
    for k in 0..4 {
        assert!(
            (ra.increment[k] - rb.increment[k]).abs() < 1e-14,
            "{ra:?} {rb:?}"
        );
    }
    // Weight 1/2 = error sd × √2 as an own observation.
    let rc = analyse(&[], &near(&shared, 0.5));
    let wide = [CellObsValue {
        error_sd: 0.02 * 2f64.sqrt(),
        ..own[0].clone()
    }];
    let rd = analyse(&wide, &[]);
    for k in 0..4 {
        assert!(
            (rc.increment[k] - rd.increment[k]).abs() < 1e-12,
            "{rc:?} {rd:?}"
        );
    }
    assert!(rc.increment[0].abs() < ra.increment[0].abs());
    // A neighbour whose background is unrelated to this cell (reversed member order) moves
    // it much less than a perfectly correlated one.
    let mut rev = top(&make());
    rev.reverse();
    let unrelated = SharedObs {
        cell_id: 100,
        background: rev,
        ..shared.clone()
    };
    let re = analyse(&[], &near(&unrelated, 1.0));
    assert!(re.increment[0] < 0.0, "anti-correlated neighbour: {re:?}");
    assert!(re.increment[0].abs() <= ra.increment[0].abs() + 1e-12);
    // Gaspari-Cohn: 1 at 0, 0 from the cut-off, monotone; distances on the sphere.
    assert_eq!(gaspari_cohn(0.0, 100.0), 1.0);
    assert_eq!(gaspari_cohn(100.0, 100.0), 0.0);
    assert!((gaspari_cohn(50.0, 100.0) - 5.0 / 24.0).abs() < 1e-12);
    let mut last = 1.0;
    for i in 1..100 {
        let g = gaspari_cohn(i as f64, 100.0);
        assert!(g <= last && g >= 0.0);
        last = g;
    }
    assert!((distance_km(0.0, 0.0, 1.0, 0.0) - 111.195).abs() < 1e-3);
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
        sensor: SMAP,
        value: y,
        error_sd: 0.005,
        layer_weights: model.surface_weights(0.05),
    }];
    let r = analyse_cell(
        &model,
        &params,
        &mut states,
        CellObservations {
            own: &obs,
            neighbours: &[],
        },
        &CellContext {
            seed: 7,
            cell_id: 1234,
            time: t(1, 6, 0),
            mode: Mode::Joint,
            rtps: 0.0,
        },
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
        CellObservations {
            own: &obs,
            neighbours: &[],
        },
        &CellContext {
            seed: 7,
            cell_id: 1234,
            time: t(1, 6, 0),
            mode: Mode::Joint,
            rtps: 0.0,
        },
    )
    .unwrap();
    assert_eq!(again, states);
    analyse_cell(
        &model,
        &params,
        &mut other,
        CellObservations {
            own: &obs,
            neighbours: &[],
        },
        &CellContext {
            seed: 7,
            cell_id: 1234,
            time: t(1, 6, 30),
            mode: Mode::Joint,
            rtps: 0.0,
        },
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
    let _io = io_lock();
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
    assert_eq!(rej.len(), landcycle::cycle::analysis_1d::QC_RULES.len());
    assert_eq!(
        acc[0] as usize + rej.iter().sum::<i32>() as usize,
        land.len()
    );

    // Footprint mapping, relaxation to prior spread, localisation (observations exchanged
    // between ranks) and a spatially correlated initial spread keep the results independent
    // of the rank count and of a restart, and they change the analysis.
    let text = std::fs::read_to_string(&nml)
        .unwrap()
        .replace(
            "  qc_green_fraction = .false.\n",
            "  qc_green_fraction = .false.\n  smap_footprint_km = 18.0\n  rtps_alpha = 0.5\n  localization_km = 60.0\n",
        )
        .replace(
            "  cold_start_temperature = 290.0\n",
            "  cold_start_soil_moisture_corr_km = 80.0\n  cold_start_temperature = 290.0\n",
        );
    assert!(text.contains("corr_km = 80.0") && text.contains("localization_km = 60.0"));
    std::fs::write(&nml, text).unwrap();
    let f1 = dir.path().join("f1");
    let f3 = dir.path().join("f3");
    let fs = dir.path().join("fs");
    run_ok(&nml, 1, &f1, &["--windows", "2"]);
    run_ok(&nml, 3, &f3, &["--windows", "2"]);
    run_ok(&nml, 2, &fs, &["--windows", "1"]);
    run_ok(&nml, 3, &fs, &["--resume", "--windows", "1"]);
    assert_identical(&f1, &f3);
    assert_same_diag(&f1, &f3);
    assert_identical(&f1, &fs);
    assert_same_diag(&f1, &fs);
    let d1 = diag_files(&f1);
    let inc_f = read_f32(&netcdf::open(f1.join(&d1[1])).unwrap(), "increment");
    assert_ne!(
        inc_f, inc,
        "footprint mapping and RTPS left the 05:30 analysis unchanged"
    );
    // With localisation, cells without an observation of their own are analysed too.
    let nc_f = netcdf::open(f1.join(&d1[0])).unwrap();
    let inn_f = read_f32(&nc_f, "ascat_innovation");
    let inc_all = read_f32(&nc_f, "increment");
    let per_layer = inn_f.len();
    let neighbour_only = (0..per_layer)
        .filter(|&c| inn_f[c] > 1e19 && inc_all[c] < 1e19 && inc_all[c] != 0.0)
        .count();
    assert!(
        neighbour_only > 0,
        "no cell was updated by its neighbours' observations"
    );
}

#[test]
fn missing_or_corrupt_observation_files_run_open_loop() {
    let _io = io_lock();
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

fn da_config(dir: &Path) -> landcycle::config::DaConfig {
    use landcycle::config::*;
    DaConfig {
        enabled: true,
        sensors: vec![DaSensor::Smap, DaSensor::Ascat],
        smap_directory: dir.into(),
        smap_pattern: "x".into(),
        smap_error_sd: 0.02,
        smap_bias_correction: DaBiasCorrection::None,
        smap_climatology: None,
        smap_footprint_km: 0.0,
        smap_error_map: None,
        smap_error_map_variable: "smap_err_var".into(),
        ascat_directory: dir.into(),
        ascat_pattern: "x".into(),
        ascat_error_sd: 10.0,
        ascat_bias_correction: DaBiasCorrection::None,
        ascat_climatology: None,
        ascat_footprint_km: 0.0,
        ascat_error_map: None,
        ascat_error_map_variable: "ascat_err_var".into(),
        combine: DaCombine::Average,
        mode: DaMode::Joint,
        rtps_alpha: 0.0,
        localization_km: 0.0,
        analysis_times: DaAnalysisTimes::EveryObsTime,
        qc_smap_quality: true,
        qc_smap_vegetation: true,
        qc_ascat_error: true,
        qc_ascat_topography: true,
        qc_ascat_wetland: true,
        qc_ascat_snow: true,
        qc_ascat_frozen: true,
        qc_precipitation: true,
        qc_frozen_soil: true,
        qc_temperature: true,
        qc_swe: true,
        qc_snow_cover: true,
        qc_forest: true,
        qc_green_fraction: true,
        qc_near_bounds: true,
        diagnostics: true,
    }
}

#[test]
fn in_memory_window_with_cdf_matching_mapping_and_model_qc() {
    let _io = io_lock();
    use landcycle::biascorr::ClimatologyBuilder;
    use landcycle::config::{DaBiasCorrection, DaSensor};
    use landcycle::cycle::analysis_1d::Assimilation;
    use landcycle::cycle::ensemble::CellEnsemble;
    use landcycle::grid::Grid;
    use landcycle::io::climatology::write_climatology;
    use landcycle::lsm::Forcing;
    use landcycle::obs::{ObsUnits, Observation, Quality, Sensor};
    use landcycle::time::Window;

    let dir = tempfile::tempdir().unwrap();
    let lat = vec![38.0, 38.25];
    let lon = vec![-95.0, -94.75, -94.5];
    let mut mask = vec![true; 6];
    mask[5] = false;
    let grid = Grid::regular(lat.clone(), lon.clone(), Some(mask)).unwrap();
    // June climatology of every cell: model 0.20..0.30 m3 m-3, ASCAT 20..40 %.
    let mut b = ClimatologyBuilder::new(lat.clone(), lon.clone(), 11);
    for i in 0..=20 {
        for cell in 0..6 {
            b.add_model(cell, 6, 0.2 + 0.005 * i as f64);
            b.add_obs(cell, 6, 20.0 + i as f64);
        }
    }
    let clim_path = dir.path().join("clim.nc");
    write_climatology(&clim_path, &b.finish(10, "ascat", "percent saturation")).unwrap();
    let mut cfg = da_config(dir.path());
    cfg.sensors = vec![DaSensor::Ascat];
    cfg.ascat_bias_correction = DaBiasCorrection::Cdf;
    cfg.ascat_climatology = Some(clim_path);
    let model = NoahLsm::new(ParameterTables::builtin(), "STAS", "USGS");
    let ids: Vec<u64> = (0..5).collect();
    let statics: Vec<CellStatics> = ids
        .iter()
        .map(|&id| {
            let mut s = loam_cell();
            if id == 1 {
                s.vegetation_class = 13; // evergreen broadleaf forest
            }
            if id == 2 {
                s.green_fraction_monthly = [0.9; 12];
            }
            s
        })
        .collect();
    let n = 12;
    let params: Vec<_> = statics
        .iter()
        .map(|s| model.cell_params(s).unwrap())
        .collect();
    let mut states = Vec::new();
    for p in &params {
        for i in 0..n {
            let d = 0.04 * (i as f64 / (n - 1) as f64 - 0.5);
            let sm = [0.30 + d, 0.30 + 0.5 * d, 0.30, 0.30];
            states.push(model.cold_start(p, &sm, 290.0).unwrap());
        }
    }
    let mut ens = CellEnsemble::new(ids.clone(), params, states, n);
    let a = Assimilation::new(&cfg, &grid, &ids, &model, 7, n, 1800).unwrap();

    let w = Window {
        start: t(1, 0, 0),
        end: t(1, 6, 0),
    };
    let at = |cell: usize, time: NaiveDateTime, value: f64| Observation {
        time,
        lat: lat[cell / 3] + 0.05,
        lon: lon[cell % 3] - 0.05,
        value,
        error_sd: 10.0,
        source: Sensor::Ascat,
        depth_top_m: 0.0,
        depth_bottom_m: 0.02,
        units: ObsUnits::PercentSaturation,
        quality: Quality::Gridded { row: 0, column: 0 },
    };
    let obs = vec![
        at(0, t(1, 1, 10), 30.0),
        at(1, t(1, 1, 10), 30.0),
        at(2, t(1, 1, 10), 30.0),
        at(3, t(1, 1, 5), 30.0),
        at(3, t(1, 1, 20), 34.0), // averaged with the one above: 32 %
        at(4, t(1, 1, 10), 45.0), // outside the training range
        at(5, t(1, 1, 10), 30.0), // ocean
        at(0, t(1, 7, 0), 30.0),  // next window
        at(0, t(1, 4, 0), 20.0),  // second analysis time
    ];
    let wo = a.obs.window_obs_from(&w, vec![obs], Vec::new());
    let times: Vec<NaiveDateTime> = wo.analyses.keys().copied().collect();
    assert_eq!(times, [t(1, 1, 30), t(1, 4, 0)]);
    assert_eq!(wo.reads[0].in_window, 8);
    let first = &wo.analyses[&t(1, 1, 30)];
    assert_eq!(first.cells[0].len(), 5);
    assert_eq!(first.mapping_rejected[0].get("not_land"), 1);

    let top_mean = |ens: &CellEnsemble<NoahLsm>, c: usize| {
        (0..n)
            .map(|m| model.soil_moisture(&ens.members(c)[m])[0])
            .sum::<f64>()
            / n as f64
    };
    let before0 = top_mean(&ens, 0);
    let before1 = top_mean(&ens, 1);
    let forcing = vec![Forcing::default(); 5];
    let la = a
        .analysis
        .analyse_local(
            &SingleProcess,
            first,
            t(1, 1, 30),
            &model,
            &mut ens,
            Some(&forcing),
        )
        .unwrap();
    assert_eq!(la.ids, [0, 3]);
    assert_eq!(la.accepted, [2]);
    let r = &la.rejected[0];
    assert_eq!(r.get("model_forest"), 1);
    assert_eq!(r.get("model_green_fraction"), 1);
    assert_eq!(r.get("bias_outside_training_range"), 1);
    // CDF matching: 30 % -> 0.25 m3 m-3, 32 % -> 0.26; σ 10 % × 0.005/1 = 0.05 m3 m-3.
    let w_rec = a.analysis.record_width();
    assert!(
        (la.records[0] - 0.25).abs() < 1e-9,
        "{:?}",
        &la.records[..4]
    );
    assert!((la.records[1] - 0.05).abs() < 1e-9);
    assert!((la.records[w_rec] - 0.26).abs() < 1e-9);
    // Cell 0 moved towards 0.25, the forest cell did not move.
    let after0 = top_mean(&ens, 0);
    assert!(after0 < before0 && after0 > 0.25, "{before0} -> {after0}");
    assert_eq!(top_mean(&ens, 1), before1);
    // With precipitation in the step every observation is rejected by the rain rule.
    let wet = vec![
        Forcing {
            precipitation: 1e-4,
            ..Forcing::default()
        };
        5
    ];
    let la = a
        .analysis
        .analyse_local(
            &SingleProcess,
            first,
            t(1, 1, 30),
            &model,
            &mut ens,
            Some(&wet),
        )
        .unwrap();
    assert!(la.ids.is_empty());
    // The rain rule comes first, so it also takes the forest and green cells (cell 4 failed
    // the bias correction before the model QC).
    assert_eq!(la.rejected[0].get("model_precipitation"), 4);
}

#[test]
fn da_namelist_group_is_validated() {
    use landcycle::config::{Config, DaAnalysisTimes, DaSensor};
    let base = "&run
  start = '2020-06-01_00:00:00'
  end = '2020-06-02_00:00:00'
  ensemble_size = 4
/
&domain
  static_file = 'static.nc'
/
&forcing
  directory = 'forcing'
  file_template = 'f_%Y%m%d%H.nc'
/
";
    let load = |da: &str| Config::from_text(&format!("{base}{da}"), Path::new("/tmp/x/case.nml"));
    // Defaults: open loop, SMAP, every observation time; paths resolve against the namelist.
    let c = load("").unwrap();
    assert!(!c.da.enabled);
    assert_eq!(c.da.sensors, [DaSensor::Smap]);
    assert_eq!(c.da.analysis_times, DaAnalysisTimes::EveryObsTime);
    assert_eq!(c.da.smap_error_sd, 0.02);
    assert_eq!(c.da.ascat_error_sd, 10.0);
    assert_eq!(c.da.smap_directory, Path::new("/tmp/x/obs/smap"));
    let c = load(
        "&da\n enabled = .true.\n sensors = 'ASCAT', 'smap'\n analysis_times = 'window_end'\n/\n",
    )
    .unwrap();
    assert_eq!(c.da.sensors, [DaSensor::Ascat, DaSensor::Smap]);
    assert_eq!(c.da.analysis_times, DaAnalysisTimes::WindowEnd);
    for (da, want) in [
        (
            "&da\n enabled = .true.\n smap_bias_correction = 'cdf'\n/\n",
            "smap_climatology",
        ),
        (
            "&da\n enabled = .true.\n sensors = 'smap', 'smap'\n/\n",
            "appears twice",
        ),
        ("&da\n enabled = .true.\n sensors = 'amsr2'\n/\n", "amsr2"),
        (
            "&da\n enabled = .true.\n ascat_error_sd = 0.0\n sensors = 'ascat'\n/\n",
            "ascat_error_sd",
        ),
        (
            "&da\n enabled = .true.\n smap_pattern = 'a/b*.h5'\n/\n",
            "smap_pattern",
        ),
        ("&da\n enabled = .true.\n mode = 'both'\n/\n", "mode"),
    ] {
        let e = load(da).unwrap_err().to_string();
        assert!(e.contains(want), "{da}: {e}");
    }
    let one = base.replace("ensemble_size = 4", "ensemble_size = 1");
    let e = Config::from_text(
        &format!("{one}&da\n enabled = .true.\n/\n"),
        Path::new("/tmp/x/case.nml"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("at least 2 members"), "{e}");
}

/// The window 00–06 UTC of a day.
fn first_window_of(y: i32, m: u32, d: u32) -> landcycle::time::Window {
    let at = |h| {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
    };
    landcycle::time::Window {
        start: at(0),
        end: at(6),
    }
}

#[test]
fn real_product_files_are_found_read_and_grouped() {
    use landcycle::cycle::analysis_1d::Assimilation;
    use landcycle::grid::Grid;
    let (Some(smap), Some(ascat)) = (
        landcycle::testdata::require("smap-spl2smp"),
        landcycle::testdata::require("ascat-eumetsat"),
    ) else {
        return;
    };
    let _io = io_lock();
    let mut cfg = da_config(&smap);
    cfg.ascat_directory = ascat;
    // The schema's default patterns must match the real product names.
    let default = |key: &str| match landcycle::config::schema::key_spec("da", key)
        .unwrap()
        .default
    {
        landcycle::config::schema::DefaultValue::Value(v) => v.trim_matches('\'').to_string(),
        _ => panic!("{key} has no default"),
    };
    cfg.smap_pattern = default("smap_pattern");
    cfg.ascat_pattern = default("ascat_pattern");
    // A 1-degree all-land global grid; this rank has no cells (reading and grouping only).
    let lat: Vec<f64> = (0..180).map(|j| -89.5 + j as f64).collect();
    let lon: Vec<f64> = (0..360).map(|i| -179.5 + i as f64).collect();
    let grid = Grid::regular(lat, lon, None).unwrap();
    let model = NoahLsm::new(ParameterTables::builtin(), "STAS", "USGS");
    let a = Assimilation::new(&cfg, &grid, &[], &model, 1, 4, 1800).unwrap();
    // Both SMAP granules of 2015-08-11 (01:30 and 03:08 UTC) fall in the 00-06 window.
    let w = first_window_of(2015, 8, 11);
    let wo = a.obs.prepare_window(&w, false);
    assert_eq!(wo.reads[0].files, 2);
    assert!(wo.reads[0].failed.is_empty());
    // All accepted retrievals of the two granules (592 + 303, tests/obs_readers.rs).
    assert_eq!(wo.reads[0].in_window, 592 + 303);
    // The ASCAT orbit is from 2017.
    assert_eq!(wo.reads[1].files, 0);
    // The accepted (land) retrievals of each half orbit lie within one 30-min step: granule
    // 02801 around 02:16 UTC (its first accepted tb_time_seconds 492531479.3), 02802 ~1.6 h later.
    let times: Vec<String> = wo.analyses.keys().map(|t| t.to_string()).collect();
    assert_eq!(times, ["2015-08-11 02:30:00", "2015-08-11 04:00:00"]);
    assert!(wo.n_mapped() > 100);
    // The ASCAT SMR orbit of 2017-02-20 04:15 UTC.
    let w = first_window_of(2017, 2, 20);
    let wo = a.obs.prepare_window(&w, false);
    assert_eq!((wo.reads[0].files, wo.reads[1].files), (0, 1));
    assert!(wo.reads[1].failed.is_empty());
    // 9154 accepted records in the orbit (tests/obs_readers.rs), the rejections passed on.
    assert!(wo.reads[1].in_window > 0 && wo.reads[1].in_window <= 9154);
    assert_eq!(wo.reads[1].product_rejected.get("snow"), 37_260);
    assert!(wo.n_mapped() > 0);
}

#[test]
fn real_hsaf_bufr_segment_is_assimilated_in_a_cycle() {
    let Some(seg) =
        landcycle::testdata::require("ascat-hsaf-bufr/h16_20170220_111500_METOPB_22969_EUM.buf")
    else {
        return;
    };
    let _io = io_lock();
    let dir = tempfile::tempdir().unwrap();
    // A synthetic case under the segment's accepted nodes (32.4–22.0° S, 148.4–153.5° E) and
    // the window 06–12 UTC that holds its times (11:15–11:18).
    let nml = write_case_namelist(
        dir.path(),
        20,
        44,
        8,
        "2017-02-20_06:00:00",
        "2017-02-20_12:00:00",
        (-33.0, 148.25),
    );
    let mut text = std::fs::read_to_string(&nml).unwrap();
    text.push_str(&format!(
        "&da
  enabled = .true.
  sensors = 'ascat'
  ascat_directory = '{}'
  ascat_pattern = 'h16_%Y%m%d_*.buf'
  qc_precipitation = .false.
  qc_forest = .false.
  qc_green_fraction = .false.
/
",
        seg.parent().unwrap().display()
    ));
    std::fs::write(&nml, text).unwrap();
    synth(&nml);
    let r = dir.path().join("r");
    run_ok(&nml, 2, &r, &[]);
    let diags = diag_files(&r);
    assert!(!diags.is_empty(), "no analysis from the BUFR segment");
    let mut accepted = 0;
    let mut increments = 0;
    for d in &diags {
        let nc = netcdf::open(r.join(d)).unwrap();
        let acc: Vec<i32> = nc
            .variable("ascat_accepted")
            .unwrap()
            .get_values::<i32, _>(..)
            .unwrap();
        accepted += acc[0];
        let obs = read_f32(&nc, "ascat_obs");
        let inc = read_f32(&nc, "increment");
        for (c, &o) in obs.iter().enumerate() {
            if o < 1e19 {
                // % saturation converted with the cell's wilting point and porosity.
                assert!((0.0..0.6).contains(&o), "cell {c}: {o}");
                if inc[c] != 0.0 {
                    increments += 1;
                }
            }
        }
    }
    eprintln!(
        "BUFR cycle: {} analyses, {accepted} cells accepted, {increments} with increments",
        diags.len()
    );
    assert!(accepted >= 100, "accepted {accepted}");
    assert!(increments >= 100, "increments {increments}");
}
