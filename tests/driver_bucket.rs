//! The whole cycle with `model = 'bucket'` (the toy N-layer bucket of docs/bucket.md) at 3
//! and 10 layers, SMAP and ASCAT assimilation on: history, restarts and DA diagnostics
//! bit-identical on 1, 2 and 3 ranks and across a resume on another rank count; and the
//! `&bucket` namelist group validated and printed by `landcycle check`.

mod common;
use common::bucket_case::*;
use common::*;

use std::path::Path;

use landcycle::config::{Config, Model};

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
