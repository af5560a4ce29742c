//! The small bucket case of the bucket and NRT tests: a namelist with SMAP and ASCAT
//! assimilation, the land cells of its synthetic statics, synthetic observation files, and
//! comparisons of diagnostics files.

use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveDateTime};
use landcycle::grid::statics::StaticFields;
use landcycle::synth::obs_sim::{
    write_ascat_like_orbit, write_smap_like_granule, AscatProduct, SimAscatOrbit, SimSmapRetrieval,
};

/// HDF5 is not thread-safe: tests that read or write files in this process take turns.
pub static FILE_IO: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn io_lock() -> std::sync::MutexGuard<'static, ()> {
    FILE_IO.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn t(d: u32, h: u32, m: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2020, 6, d)
        .unwrap()
        .and_hms_opt(h, m, 0)
        .unwrap()
}

/// `n` layer thicknesses (m), thin at the top and thickening downward (≈ 2 m in total).
pub fn thicknesses(n: usize) -> Vec<f64> {
    let weights: Vec<f64> = (0..n).map(|k| 1.0 + k as f64).collect();
    let sum: f64 = weights.iter().sum();
    weights
        .iter()
        .map(|w| (2.0 * w / sum * 1e4).round() / 1e4)
        .collect()
}

pub fn list(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The vertical correlation ρ^|i−j| (positive definite for |ρ| < 1), row-major.
pub fn correlation(n: usize, rho: f64) -> Vec<f64> {
    (0..n * n)
        .map(|k| rho.powi((k / n).abs_diff(k % n) as i32))
        .collect()
}

/// A bucket namelist for a small synthetic case in `dir`: 4 windows of 6 h, `layers`
/// layers, every per-layer key given with `layers` values, SMAP and ASCAT assimilation.
pub fn bucket_namelist(dir: &Path, layers: usize, nx: usize, ny: usize, members: usize) -> PathBuf {
    let n = layers;
    let sm: Vec<f64> = (0..n).map(|k| 0.25 + 0.05 * k as f64 / n as f64).collect();
    let sm_std: Vec<f64> = (0..n).map(|k| 0.04 - 0.02 * k as f64 / n as f64).collect();
    let state_std: Vec<f64> = (0..n).map(|k| 0.01 / (1.0 + k as f64)).collect();
    let text = format!(
        "&run
  start = '2020-06-01_00:00:00'
  end   = '2020-06-02_00:00:00'
  model = 'bucket'
  timestep = 1800
  ensemble_size = {members}
  seed = 7
  rundir = 'rundir'
  cold_start_soil_moisture = {sm}
  cold_start_soil_moisture_std = {sm_std}
  cold_start_temperature = 290.0
/
&bucket
  layer_thickness = {dz}
/
&domain
  static_file = 'case/static.nc'
  static_format = 'landcycle'
/
&forcing
  directory = 'case/forcing'
  file_template = 'forcing_%Y%m%d%H.nc'
/
&perturbation
  interval_seconds = 3600
  state_std = {state_std}
  state_corr = {corr}
/
&restart
  keep = 0
/
&da
  enabled = .true.
  sensors = 'smap', 'ascat'
  smap_directory = 'obs/smap'
  ascat_directory = 'obs/ascat'
  qc_precipitation = .false.
  qc_forest = .false.
  qc_green_fraction = .false.
/
&synth
  nx = {nx}
  ny = {ny}
  lat0 = 38.0
  lon0 = -95.0
  resolution = 0.25
  seed = 11
/
",
        sm = list(&sm),
        sm_std = list(&sm_std),
        dz = list(&thicknesses(n)),
        state_std = list(&state_std),
        corr = list(&correlation(n, 0.6)),
    );
    let p = dir.join("case.nml");
    std::fs::write(&p, text).unwrap();
    p
}

/// The 28 × 16 case of two windows (7° × 4° at 38 N) with `da_group` appended, and its land
/// cell centres (more than 100).
pub fn da_case(dir: &Path, da_group: &str) -> (PathBuf, Vec<(f64, f64)>) {
    let nml = super::write_namelist(dir, 28, 16, 6, "2020-06-01_12:00:00");
    super::synth(&nml);
    let mut text = std::fs::read_to_string(&nml).unwrap();
    text.push_str(da_group);
    std::fs::write(&nml, text).unwrap();
    let land = land_centres(dir);
    assert!(land.len() > 100, "{} land cells", land.len());
    (nml, land)
}

/// `landcycle run` on `ranks` ranks with a JSON log (`LANDCYCLE_LOG` = `log`): its stderr.
pub fn run_json_log(nml: &Path, ranks: usize, rundir: &Path, log: &str) -> String {
    let out = std::process::Command::new("mpirun")
        .args(["--oversubscribe", "-n", &ranks.to_string(), super::BIN])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1")
        .env("LANDCYCLE_LOG", log)
        .args(["--log-format", "json", "run"])
        .arg(nml)
        .arg("--rundir")
        .arg(rundir)
        .arg("--no-progress")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{ranks} ranks:\n{err}");
    err
}

/// Land cell centres of the synthetic case.
pub fn land_centres(dir: &Path) -> Vec<(f64, f64)> {
    let s = StaticFields::read_landcycle(&dir.join("case/static.nc")).unwrap();
    let lat = s.grid.lat_1d().unwrap().to_vec();
    let lon = s.grid.lon_1d().unwrap().to_vec();
    let nx = lon.len();
    s.land_cells()
        .iter()
        .map(|&id| (lat[id as usize / nx], lon[id as usize % nx]))
        .collect()
}

/// A SMAP-like granule with one retrieval at each cell centre, a few seconds apart.
pub fn write_smap(dir: &Path, time: NaiveDateTime, cells: &[(f64, f64)], value: f64) {
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

/// An ASCAT-like 12.5 km orbit file with one node at each cell centre (% saturation).
pub fn write_ascat(dir: &Path, time: NaiveDateTime, cells: &[(f64, f64)], percent: f64) {
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
}

/// Diagnostics files under a run directory, relative paths sorted.
pub fn diag_files(rundir: &Path) -> Vec<PathBuf> {
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

pub fn assert_same_diag(a: &Path, b: &Path) {
    let fa = diag_files(a);
    assert!(!fa.is_empty(), "no analysis in {}", a.display());
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
