//! Spatially varying observation errors from a triple-collocation map (`da:smap_error_map`):
//! the EnKF uses the map's variance at a cell (the analysis is the scalar Kalman update with
//! it), the constant where the map has no estimate, clear errors for a missing file, a
//! missing variable, other units and another grid, and bit-identical runs on 1, 2 and 3 ranks.

mod common;
use common::noah_cell::{loam_cell, t};
use common::*;

use std::path::Path;

use chrono::NaiveDateTime;
use landcycle::config::{DaSensor, Model};
use landcycle::cycle::analysis_1d::Assimilation;
use landcycle::cycle::ensemble::CellEnsemble;
use landcycle::grid::statics::StaticFields;
use landcycle::grid::Grid;
use landcycle::lsm::noah::tables::ParameterTables;
use landcycle::lsm::noah::NoahLsm;
use landcycle::lsm::{Forcing, LandModel};
use landcycle::obs::{ObsUnits, Observation, Quality, Sensor};
use landcycle::parallel::SingleProcess;
use landcycle::time::Window;
use landcycle::verify::{write_maps, HistoryGridInfo, MapField, MapFile};

static FILE_IO: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn io_lock() -> std::sync::MutexGuard<'static, ()> {
    FILE_IO.lock().unwrap_or_else(|e| e.into_inner())
}

/// A TCA map as `landcycle tca --maps` writes it (through the same writer): `n`, `status`
/// and `smap_err_var` (m6 m-6) plus `smap_fmse` (units 1) on the grid `g`.
fn write_tca_map(path: &Path, g: &HistoryGridInfo, err_var: &[f64], status: &[f64]) {
    let field = |name: &str, units: &str, data: Vec<f64>| MapField {
        name: name.into(),
        long_name: name.into(),
        units: units.into(),
        layered: false,
        data,
    };
    let n = g.ny * g.nx;
    let fields = [
        field("n", "1", vec![400.0; n]),
        field("status", "1", status.to_vec()),
        field("smap_err_var", "m6 m-6", err_var.to_vec()),
        field("smap_fmse", "1", vec![0.3; n]),
    ];
    let m = MapFile {
        grid: g,
        n_layers: 0,
        fields: &fields,
        globals: &[("datasets", "model smap ascat".to_string())],
    };
    write_maps(path, &m).unwrap();
}

fn grid_info(lat: &[f64], lon: &[f64], land: &[bool]) -> HistoryGridInfo {
    let (ny, nx) = (lat.len(), lon.len());
    HistoryGridInfo {
        ny,
        nx,
        lat: (0..ny * nx).map(|k| lat[k / nx]).collect(),
        lon: (0..ny * nx).map(|k| lon[k % nx]).collect(),
        land_mask: land.to_vec(),
    }
}

fn da_config(map: Option<&Path>) -> landcycle::config::DaConfig {
    let dir = tempfile::tempdir().unwrap();
    let nml = write_namelist(dir.path(), 3, 2, 4, "2020-06-02_00:00:00");
    let mut text = std::fs::read_to_string(&nml).unwrap();
    text.push_str("&da\n  enabled = .true.\n  sensors = 'smap'\n  smap_error_sd = 0.02\n/\n");
    std::fs::write(&nml, text).unwrap();
    let mut c = landcycle::config::Config::load(&nml).unwrap().da;
    c.sensors = vec![DaSensor::Smap];
    c.smap_error_map = map.map(Path::to_path_buf);
    c
}

/// Sample covariance (n − 1) of two series.
fn cov(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - ma) * (y - mb))
        .sum::<f64>()
        / (n - 1.0)
}

#[test]
fn tca_error_variance_is_the_observation_error_of_the_cell() {
    let _io = io_lock();
    let dir = tempfile::tempdir().unwrap();
    let lat = vec![38.0, 38.25];
    let lon = vec![-95.0, -94.75, -94.5];
    let mut mask = vec![true; 6];
    mask[5] = false;
    let grid = Grid::regular(lat.clone(), lon.clone(), Some(mask.clone())).unwrap();
    // Cell 0: 0.03² from the map; cell 1: no estimate (too few samples); cell 2: an
    // estimate whose status is 'not significant'; cell 3: 0.01²; cell 4: a negative estimate.
    let nan = f64::NAN;
    let err_var = [9e-4, nan, 4e-4, 1e-4, -1e-4, nan];
    let status = [0.0, 1.0, 3.0, 0.0, 4.0, nan];
    let map = dir.path().join("tca.nc");
    write_tca_map(&map, &grid_info(&lat, &lon, &mask), &err_var, &status);
    let cfg = da_config(Some(&map));

    let model = NoahLsm::new(ParameterTables::builtin(), "STAS", "USGS");
    let ids: Vec<u64> = (0..5).collect();
    let params: Vec<_> = ids
        .iter()
        .map(|_| model.cell_params(&loam_cell()).unwrap())
        .collect();
    let n = 12;
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
    let obs: Vec<Observation> = (0..5)
        .map(|cell| Observation {
            time: t(1, 1, 10),
            lat: lat[cell / 3] + 0.02,
            lon: lon[cell % 3] - 0.02,
            value: 0.27,
            error_sd: 0.02,
            source: Sensor::Smap,
            depth_top_m: 0.0,
            depth_bottom_m: 0.05,
            units: ObsUnits::VolumetricFraction,
            quality: Quality::Gridded { row: 0, column: 0 },
        })
        .collect();
    let wo = a.obs.window_obs_from(&w, vec![obs], Vec::new());
    let (when, first) = wo.analyses.iter().next().unwrap();
    // Background in observation space and per layer, before the analysis.
    let h = model.surface_weights(0.05);
    let layers = |c: usize| -> Vec<Vec<f64>> {
        (0..4)
            .map(|k| {
                (0..n)
                    .map(|m| model.soil_moisture(&ens.members(c)[m])[k])
                    .collect()
            })
            .collect()
    };
    let before: Vec<Vec<Vec<f64>>> = (0..5).map(layers).collect();
    let forcing = vec![Forcing::default(); 5];
    let la = a
        .analysis
        .analyse_local(
            &SingleProcess,
            first,
            *when,
            &model,
            &mut ens,
            Some(&forcing),
        )
        .unwrap();
    assert_eq!(la.ids, [0, 1, 2, 3, 4]);
    let w_rec = a.analysis.record_width();
    let expected_sd = [0.03, 0.02, 0.02, 0.01, 0.02];
    for (c, &sd) in expected_sd.iter().enumerate() {
        let rec = &la.records[c * w_rec..(c + 1) * w_rec];
        assert!(
            (rec[1] - sd).abs() < 1e-15,
            "cell {c}: error sd {} not {sd}",
            rec[1]
        );
        // The scalar Kalman update with R = sd²: increment_k = cov(x_k, Hx) / (var(Hx) + R) d.
        let hx: Vec<f64> = (0..n)
            .map(|m| (0..4).map(|k| h[k] * before[c][k][m]).sum())
            .collect();
        let d = 0.27 - hx.iter().sum::<f64>() / n as f64;
        let s = cov(&hx, &hx) + sd * sd;
        assert!((rec[2] - d).abs() < 1e-14, "cell {c}: innovation");
        assert!(
            (rec[3] - d / s.sqrt()).abs() < 1e-12,
            "cell {c}: normalised innovation"
        );
        for k in 0..4 {
            let want = cov(&before[c][k], &hx) / s * d;
            let got = rec[4 + k];
            assert!(
                (got - want).abs() < 1e-12,
                "cell {c} layer {k}: increment {got} against the Kalman {want}"
            );
        }
    }
    // The map's smaller error moves cell 3 further than the constant moves cell 1.
    assert!(la.records[3 * w_rec + 4].abs() > la.records[w_rec + 4].abs());
}

#[test]
fn error_map_problems_are_clear_errors() {
    let _io = io_lock();
    let dir = tempfile::tempdir().unwrap();
    let lat = vec![38.0, 38.25];
    let lon = vec![-95.0, -94.75, -94.5];
    let mask = vec![true; 6];
    let grid = Grid::regular(lat.clone(), lon.clone(), Some(mask.clone())).unwrap();
    let model = NoahLsm::new(ParameterTables::builtin(), "STAS", "USGS");
    let ids: Vec<u64> = (0..6).collect();
    let setup = |cfg: &landcycle::config::DaConfig| {
        Assimilation::new(cfg, &grid, &ids, &model, 7, 4, 1800)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let missing = dir.path().join("absent.nc");
    let e = setup(&da_config(Some(&missing)));
    assert!(e.contains("absent.nc") && e.contains("cannot open"), "{e}");

    let good = dir.path().join("tca.nc");
    write_tca_map(&good, &grid_info(&lat, &lon, &mask), &[1e-4; 6], &[0.0; 6]);
    let mut cfg = da_config(Some(&good));
    cfg.smap_error_map_variable = "ascat_err_var".into();
    let e = setup(&cfg);
    assert!(
        e.contains("tca.nc") && e.contains("ascat_err_var") && e.contains("not in the file"),
        "{e}"
    );
    cfg.smap_error_map_variable = "smap_fmse".into();
    let e = setup(&cfg);
    assert!(e.contains("units '1'") && e.contains("m6 m-6"), "{e}");

    let shifted = dir.path().join("shifted.nc");
    let lon2: Vec<f64> = lon.iter().map(|x| x + 0.25).collect();
    write_tca_map(
        &shifted,
        &grid_info(&lat, &lon2, &mask),
        &[1e-4; 6],
        &[0.0; 6],
    );
    let e = setup(&da_config(Some(&shifted)));
    assert!(
        e.contains("shifted.nc") && e.contains("not the model grid"),
        "{e}"
    );
    let small = dir.path().join("small.nc");
    write_tca_map(
        &small,
        &grid_info(&lat[..1], &lon, &mask[..3]),
        &[1e-4; 3],
        &[0.0; 3],
    );
    let e = setup(&da_config(Some(&small)));
    assert!(
        e.contains("small.nc") && e.contains("1 x 3") && e.contains("2 x 3"),
        "{e}"
    );

    // The namelist: the path resolves against the namelist's directory; an empty variable
    // name is refused naming the key.
    let nml = write_namelist(dir.path(), 3, 2, 4, "2020-06-02_00:00:00");
    let base = std::fs::read_to_string(&nml).unwrap();
    let da = "&da\n  enabled = .true.\n  smap_error_map = 'tca.nc'\n";
    std::fs::write(&nml, format!("{base}{da}/\n")).unwrap();
    let c = landcycle::config::Config::load(&nml).unwrap();
    assert_eq!(c.da.smap_error_map.as_deref(), Some(good.as_path()));
    assert_eq!(c.da.smap_error_map_variable, "smap_err_var");
    assert_eq!(c.run.model, Model::Noah);
    std::fs::write(
        &nml,
        format!("{base}{da}  smap_error_map_variable = ' '\n/\n"),
    )
    .unwrap();
    let e = landcycle::config::Config::load(&nml)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("smap_error_map_variable") && e.contains("is empty"),
        "{e}"
    );
}

/// Land cell centres of the synthetic case.
fn land_grid(dir: &Path) -> (HistoryGridInfo, Vec<(f64, f64)>) {
    let s = StaticFields::read_landcycle(&dir.join("case/static.nc")).unwrap();
    let lat = s.grid.lat_1d().unwrap().to_vec();
    let lon = s.grid.lon_1d().unwrap().to_vec();
    let g = grid_info(&lat, &lon, s.grid.land_mask());
    let nx = lon.len();
    let land = s
        .land_cells()
        .iter()
        .map(|&id| (lat[id as usize / nx], lon[id as usize % nx]))
        .collect();
    (g, land)
}

fn write_smap(dir: &Path, time: NaiveDateTime, cells: &[(f64, f64)], value: f64) {
    use landcycle::synth::obs_sim::{write_smap_like_granule, SimSmapRetrieval};
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
            r.lat = lat;
            r.lon = lon;
            r.time = time + chrono::Duration::seconds(k as i64);
            r.soil_moisture = value + 0.002 * (k % 5) as f64;
            r
        })
        .collect();
    write_smap_like_granule(&path, &rs).unwrap();
}

/// The whole cycle with an error map: identical bytes on 1, 2 and 3 ranks, and the
/// diagnostics record the map's error where it has one and the constant elsewhere.
#[test]
fn cycle_with_error_map_is_bit_identical_on_1_2_3_ranks() {
    let _io = io_lock();
    assert!(have_mpirun(), "mpirun is required");
    let dir = tempfile::tempdir().unwrap();
    let nml = write_namelist(dir.path(), 8, 6, 6, "2020-06-01_12:00:00");
    synth(&nml);
    let (g, land) = land_grid(dir.path());
    let ncell = g.ny * g.nx;
    // Every other cell from the map (error sd 0.01 + 0.001 × (cell mod 7)), the rest without.
    let err_var: Vec<f64> = (0..ncell)
        .map(|k| {
            let sd = 0.01 + 0.001 * (k % 7) as f64;
            if k % 2 == 0 {
                sd * sd
            } else {
                f64::NAN
            }
        })
        .collect();
    let status: Vec<f64> = err_var
        .iter()
        .map(|v| if v.is_finite() { 0.0 } else { 1.0 })
        .collect();
    write_tca_map(&dir.path().join("tca.nc"), &g, &err_var, &status);
    let mut text = std::fs::read_to_string(&nml).unwrap();
    text.push_str(
        "&da\n  enabled = .true.\n  sensors = 'smap'\n  smap_directory = 'obs/smap'\n  \
         smap_error_sd = 0.05\n  smap_error_map = 'tca.nc'\n  qc_precipitation = .false.\n  \
         qc_forest = .false.\n  qc_green_fraction = .false.\n/\n",
    );
    std::fs::write(&nml, text).unwrap();
    write_smap(dir.path(), t(1, 5, 10), &land, 0.36);
    // The preflight reads the map as the run will, and names a wrong variable.
    let preflight = |nml: &Path| {
        let out = std::process::Command::new(BIN)
            .args(["check", "--preflight"])
            .arg(nml)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, err) = preflight(&nml);
    let n_map = (0..ncell).filter(|&k| g.land_mask[k] && k % 2 == 0).count();
    let note = format!(
        "smap_err_var of {} at {n_map} of {} land cells",
        dir.path().join("tca.nc").display(),
        land.len()
    );
    assert!(ok && err.contains(&note), "{note}\n{err}");
    let bad = dir.path().join("bad.nml");
    let text = std::fs::read_to_string(&nml).unwrap();
    std::fs::write(
        &bad,
        text.replace(
            "smap_error_sd = 0.05",
            "smap_error_sd = 0.05\n  smap_error_map_variable = 'smap_snr'",
        ),
    )
    .unwrap();
    let (ok, err) = preflight(&bad);
    assert!(
        !ok && err.contains("smap_snr") && err.contains("not in the file"),
        "{err}"
    );
    let runs: Vec<_> = (1..=3).map(|r| dir.path().join(format!("r{r}"))).collect();
    for (r, rd) in runs.iter().enumerate() {
        run_ok(&nml, r + 1, rd, &[]);
    }
    assert_identical(&runs[0], &runs[1]);
    assert_identical(&runs[0], &runs[2]);
    let diag = |rd: &Path| -> Vec<u8> {
        let p = rd.join("2020060106/diag/LC_DA_202006010530.nc");
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    };
    assert!(diag(&runs[0]) == diag(&runs[1]) && diag(&runs[0]) == diag(&runs[2]));
    let nc = netcdf::open(runs[0].join("2020060106/diag/LC_DA_202006010530.nc")).unwrap();
    let err: Vec<f32> = nc
        .variable("smap_obs_error")
        .unwrap()
        .get_values::<f32, _>(..)
        .unwrap();
    let (mut from_map, mut constant) = (0, 0);
    for (k, &e) in err.iter().enumerate().filter(|(_, e)| **e < 1e19) {
        let want = if k % 2 == 0 { err_var[k].sqrt() } else { 0.05 };
        assert!(
            (f64::from(e) - want).abs() < 1e-7,
            "cell {k}: {e} not {want}"
        );
        if k % 2 == 0 {
            from_map += 1;
        } else {
            constant += 1;
        }
    }
    assert!(
        from_map > 5 && constant > 5,
        "{from_map} from the map, {constant} constant"
    );
}
