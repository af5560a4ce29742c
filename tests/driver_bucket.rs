//! The whole cycle with `model = 'bucket'` (the toy N-layer bucket of docs/bucket.md) at 3
//! and 10 layers, SMAP and ASCAT assimilation on: history, restarts and DA diagnostics
//! bit-identical on 1, 2 and 3 ranks and across a resume on another rank count; and the
//! `&bucket` namelist group validated and printed by `landcycle check`.
//!
//! The end-to-end tests need the driver to build the model named by `run:model` (generic
//! over `LandModel`); until then `landcycle run` refuses or misreads a bucket namelist and
//! they fail there.

mod common;
use common::*;

use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveDateTime};
use landcycle::config::{Config, Model};
use landcycle::grid::statics::StaticFields;
use landcycle::synth::obs_sim::{
    write_ascat_like_orbit, write_smap_like_granule, AscatProduct, SimAscatOrbit, SimSmapRetrieval,
};

/// HDF5 is not thread-safe: tests that read or write files in this process take turns.
static FILE_IO: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn io_lock() -> std::sync::MutexGuard<'static, ()> {
    FILE_IO.lock().unwrap_or_else(|e| e.into_inner())
}

fn t(d: u32, h: u32, m: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2020, 6, d)
        .unwrap()
        .and_hms_opt(h, m, 0)
        .unwrap()
}

/// `n` layer thicknesses (m), thin at the top and thickening downward (≈ 2 m in total).
fn thicknesses(n: usize) -> Vec<f64> {
    let weights: Vec<f64> = (0..n).map(|k| 1.0 + k as f64).collect();
    let sum: f64 = weights.iter().sum();
    weights
        .iter()
        .map(|w| (2.0 * w / sum * 1e4).round() / 1e4)
        .collect()
}

fn list(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The vertical correlation ρ^|i−j| (positive definite for |ρ| < 1), row-major.
fn correlation(n: usize, rho: f64) -> Vec<f64> {
    (0..n * n)
        .map(|k| rho.powi((k / n).abs_diff(k % n) as i32))
        .collect()
}

/// A bucket namelist for a small synthetic case in `dir`: 4 windows of 6 h, `layers`
/// layers, every per-layer key given with `layers` values, SMAP and ASCAT assimilation.
fn bucket_namelist(dir: &Path, layers: usize, nx: usize, ny: usize, members: usize) -> PathBuf {
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

/// A SMAP-like granule with one retrieval at each cell centre, a few seconds apart.
fn write_smap(dir: &Path, time: NaiveDateTime, cells: &[(f64, f64)], value: f64) {
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
fn write_ascat(dir: &Path, time: NaiveDateTime, cells: &[(f64, f64)], percent: f64) {
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

/// Sum of an integer count variable over the diagnostics files of a run.
fn diag_count(rundir: &Path, var: &str) -> i64 {
    let mut total = 0;
    for f in diag_files(rundir) {
        let nc = netcdf::open(rundir.join(&f)).unwrap();
        let v = nc.variable(var).unwrap();
        total += v
            .get_values::<i32, _>(..)
            .unwrap()
            .iter()
            .map(|&x| i64::from(x))
            .sum::<i64>();
    }
    total
}

/// Largest |mean increment| of soil layer `layer` (0-based) over the diagnostics files.
fn max_increment(rundir: &Path, layer: usize) -> f64 {
    let mut m: f64 = 0.0;
    for f in diag_files(rundir) {
        let nc = netcdf::open(rundir.join(&f)).unwrap();
        let v = nc.variable("increment").unwrap();
        let vals = v.get_values::<f32, _>((0, layer, .., ..)).unwrap();
        for x in vals.iter().filter(|x| x.abs() < 1e10) {
            m = m.max(f64::from(x.abs()));
        }
    }
    m
}

/// Length of the `soil_layer` dimension of a NetCDF file.
fn soil_layers_in(file: &Path) -> usize {
    let f = netcdf::open(file).unwrap();
    let d = f.dimension("soil_layer");
    d.map(|d| d.len())
        .unwrap_or_else(|| panic!("{} has no soil_layer dimension", file.display()))
}

/// Synthetic case, observations in windows 1, 3 and 4, runs on 1, 2 and 3 ranks and a
/// 2-window run on 2 ranks resumed on 3: all outputs identical, with `layers` layers.
fn bucket_cycle_is_bit_identical(layers: usize) {
    let _io = io_lock();
    assert!(have_mpirun(), "mpirun is required");
    let dir = tempfile::tempdir().unwrap();
    // 8 members on a 10 x 8 grid: small enough for a few seconds a run.
    let nml = bucket_namelist(dir.path(), layers, 10, 8, 8);
    synth(&nml);
    let land = land_centres(dir.path());
    assert!(land.len() > 10, "synthetic case has too little land");
    write_smap(dir.path(), t(1, 5, 10), &land, 0.36);
    write_smap(dir.path(), t(1, 13, 20), &land[..land.len() / 2], 0.30);
    let every_other: Vec<_> = land.iter().copied().step_by(2).collect();
    write_ascat(dir.path(), t(1, 4, 0), &every_other, 65.0);
    write_ascat(dir.path(), t(1, 20, 40), &every_other, 55.0);

    let r1 = dir.path().join("r1");
    let r2 = dir.path().join("r2");
    let r3 = dir.path().join("r3");
    run_ok(&nml, 1, &r1, &[]);
    run_ok(&nml, 2, &r2, &[]);
    run_ok(&nml, 3, &r3, &[]);
    // 4 windows × (2 history files + 1 restart).
    let files = output_files(&r1);
    assert_eq!(files.len(), 12, "{files:?}");
    // The bucket ran, not a 4-layer model: history and diagnostics carry its layers.
    let hist = files
        .iter()
        .find(|p| p.to_string_lossy().contains("LC_HIST"))
        .unwrap();
    assert_eq!(soil_layers_in(&r1.join(hist)), layers);
    let diags = diag_files(&r1);
    assert!(diags.len() >= 3, "analyses {diags:?}");
    assert_eq!(soil_layers_in(&r1.join(&diags[0])), layers);
    // Both products were assimilated, and the analysis moved the soil moisture.
    let (smap, ascat) = (
        diag_count(&r1, "smap_accepted"),
        diag_count(&r1, "ascat_accepted"),
    );
    assert!(
        smap > 0 && ascat > 0,
        "accepted: SMAP {smap}, ASCAT {ascat}"
    );
    assert!(max_increment(&r1, 0) > 1e-4, "no top-layer increment");
    assert!(
        max_increment(&r1, layers - 1) > 0.0,
        "the deepest layer never moved"
    );
    assert_identical(&r1, &r2);
    assert_identical(&r1, &r3);
    assert_same_diag(&r1, &r2);
    assert_same_diag(&r1, &r3);

    // 2 windows on 2 ranks, resumed on 3: the same as the straight run.
    let split = dir.path().join("split");
    run_ok(&nml, 2, &split, &["--windows", "2"]);
    assert_eq!(output_files(&split).len(), 6);
    run_ok(&nml, 3, &split, &["--resume"]);
    assert_identical(&r1, &split);
    assert_same_diag(&r1, &split);
}

#[test]
fn bucket_3_layers_cycle_is_bit_identical_on_1_2_3_ranks_and_across_resume() {
    bucket_cycle_is_bit_identical(3);
}

#[test]
fn bucket_10_layers_cycle_is_bit_identical_on_1_2_3_ranks_and_across_resume() {
    bucket_cycle_is_bit_identical(10);
}

// ---------------------------------------------------------------------------------------
// The `&bucket` group (no driver needed)
// ---------------------------------------------------------------------------------------

fn load(text: &str) -> Result<Config, landcycle::config::ConfigError> {
    Config::from_text(text, Path::new("/cases/b/case.nml"))
}

fn bucket_text(layers: usize) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = bucket_namelist(dir.path(), layers, 10, 8, 8);
    std::fs::read_to_string(p).unwrap()
}

#[test]
fn bucket_namelist_loads_and_check_prints_the_group() {
    for layers in [1, 3, 10, 20] {
        let text = bucket_text(layers);
        let c = load(&text).unwrap_or_else(|e| panic!("{layers} layers: {e}"));
        assert_eq!(c.run.model, Model::Bucket);
        assert_eq!(c.layer_thickness(), Some(&thicknesses(layers)[..]));
        assert_eq!(c.bucket.layer_thickness.as_deref(), c.layer_thickness());
        assert_eq!(c.run.soil_layers(), layers);
        let printed = landcycle::commands::check::render(&c);
        assert!(
            printed.contains("&bucket\n  layer_thickness = "),
            "{printed}"
        );
        let model_line = printed
            .lines()
            .find(|l| l.trim_start().starts_with("model "));
        assert!(
            model_line.is_some_and(|l| l.ends_with("= 'bucket'")),
            "{printed}"
        );
        let again = load(&printed).unwrap();
        assert_eq!((&again.run, &again.bucket), (&c.run, &c.bucket));
        assert_eq!(again.fingerprint(), c.fingerprint());
    }
    // The thicknesses are science: they change the fingerprint.
    let text = bucket_text(3);
    let a = load(&text).unwrap();
    let dz = list(&thicknesses(3));
    let b = load(&text.replace(&dz, "0.1, 0.5, 1.4")).unwrap();
    assert_ne!(a.fingerprint(), b.fingerprint());
    // For Noah the group is not read and leaves the fingerprint alone.
    let noah = "&run start = '2020060100' end = '2020060200' /
&domain static_file = 's.nc' /
&forcing directory = 'f' file_template = 'f_%Y%m%d%H.nc' /
";
    let plain = load(noah).unwrap();
    let with_group = load(&format!("{noah}&bucket layer_thickness = 0.1, 0.2 /\n")).unwrap();
    assert_eq!(plain.layer_thickness(), None);
    assert_eq!(with_group.layer_thickness(), None);
    assert_eq!(plain.fingerprint(), with_group.fingerprint());
    // The command prints the group too.
    let dir = tempfile::tempdir().unwrap();
    let p = bucket_namelist(dir.path(), 3, 10, 8, 8);
    let out = std::process::Command::new(BIN)
        .arg("check")
        .arg(&p)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("layer_thickness = {dz}")),
        "{stdout}"
    );
}

#[test]
fn bucket_namelist_errors_name_the_key_and_line() {
    let text = bucket_text(3);
    let dz = list(&thicknesses(3));
    let line_of =
        |text: &str, needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let cases: Vec<(String, &str, &str, &str)> = vec![
        // (namelist, key, message fragment, line holding this text)
        (
            text.replace(&format!("&bucket\n  layer_thickness = {dz}\n/\n"), ""),
            "run:model",
            "needs bucket:layer_thickness",
            "model = 'bucket'",
        ),
        (
            text.replace(&dz, &list(&[0.1; 21])),
            "bucket:layer_thickness",
            "21 layers given, 1 to 20 allowed",
            "layer_thickness",
        ),
        (
            text.replace(&dz, "0.1, 0.0, 0.5"),
            "bucket:layer_thickness",
            "layer 2 must be positive",
            "layer_thickness",
        ),
        (
            text.replace(&dz, "0.1, 0.2, 0.3, 0.4"),
            "run:cold_start_soil_moisture",
            "the bucket has 4 soil layers (bucket:layer_thickness), 3 values given",
            "cold_start_soil_moisture =",
        ),
    ];
    for (nml, key, frag, at) in cases {
        let e = load(&nml).expect_err(frag);
        let m = e.to_string();
        assert!(m.contains(&format!("`{key}`")) && m.contains(frag), "{m}");
        let line = e.location().unwrap().line;
        assert_eq!(line, line_of(&nml, at), "{m}");
    }
    // Per-layer perturbation keys follow the bucket's layer count.
    let short = text.replacen("  state_std = ", "  state_std = 0.01, ", 1);
    let m = load(&short).unwrap_err().to_string();
    assert!(
        m.contains("`perturbation:state_std`") && m.contains("3 soil layers"),
        "{m}"
    );
    let sd = text.replace(
        "cold_start_soil_moisture_std = ",
        "cold_start_soil_moisture_std = 0.01, ",
    );
    let m = load(&sd).unwrap_err().to_string();
    assert!(m.contains("`run:cold_start_soil_moisture_std`"), "{m}");
}
