//! The whole cycle with `run:model = 'colm'` (CoLM2014, 10 soil layers) on the small
//! synthetic case with SMAP and ASCAT assimilation: history on 10 soil layers with their
//! bounds, restarts with CoLM's complete state, both sensors assimilated; outputs
//! bit-identical on 1, 2 and 3 ranks and across a resume on another rank count.

mod common;
use common::bucket_case::*;
use common::*;

use std::path::{Path, PathBuf};

use landcycle::config::{Config, Model};

/// The bucket case's namelist as a CoLM case: model 'colm', no `&bucket` group, every
/// per-layer key with 10 values.
fn colm_namelist(dir: &Path, nx: usize, ny: usize, members: usize) -> PathBuf {
    let p = bucket_namelist(dir, 10, nx, ny, members);
    let text = std::fs::read_to_string(&p).unwrap();
    let start = text.find("&bucket").unwrap();
    let end = start + text[start..].find("/\n").unwrap() + 2;
    let text = format!("{}{}", &text[..start], &text[end..]).replace("'bucket'", "'colm'");
    std::fs::write(&p, text).unwrap();
    p
}

fn diag_count(rundir: &Path, var: &str) -> i64 {
    let mut total = 0;
    for f in diag_files(rundir) {
        let nc = netcdf::open(rundir.join(&f)).unwrap();
        let v = nc.variable(var).unwrap();
        let vals = v.get_values::<i32, _>(..).unwrap();
        total += vals.iter().map(|&x| i64::from(x)).sum::<i64>();
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

/// The history's soil axis: 10 layers whose bounds are CoLM's interfaces.
fn check_soil_axis(file: &Path) {
    let f = netcdf::open(file).unwrap();
    assert_eq!(f.dimension("soil_layer").unwrap().len(), 10);
    let b = f.variable("soil_layer_bnds").unwrap();
    let b = b.get_values::<f64, _>(..).unwrap();
    let g = landcycle::lsm::colm::SoilGeometry::standard();
    for j in 0..10 {
        assert!(
            (b[2 * j + 1] - g.zi[j]).abs() < 1e-12,
            "bound {j}: {}",
            b[2 * j + 1]
        );
    }
    for name in ["SoilMoist", "SoilTemp"] {
        assert!(f.variable(name).is_some(), "history has no {name}");
    }
}

#[test]
fn colm_cycle_is_bit_identical_on_1_2_3_ranks_and_across_resume() {
    let _io = io_lock();
    assert!(have_mpirun(), "mpirun is required");
    let dir = tempfile::tempdir().unwrap();
    let nml = colm_namelist(dir.path(), 10, 8, 6);
    let c = Config::from_text(&std::fs::read_to_string(&nml).unwrap(), &nml).unwrap();
    assert_eq!((c.run.model, c.run.soil_layers()), (Model::Colm, 10));
    synth(&nml);
    let land = land_centres(dir.path());
    assert!(land.len() > 10, "synthetic case has too little land");
    write_smap(dir.path(), t(1, 5, 10), &land, 0.36);
    write_smap(dir.path(), t(1, 13, 20), &land[..land.len() / 2], 0.30);
    let every_other: Vec<_> = land.iter().copied().step_by(2).collect();
    write_ascat(dir.path(), t(1, 4, 0), &every_other, 65.0);
    write_ascat(dir.path(), t(1, 20, 40), &every_other, 55.0);

    let (r1, r2, r3) = (
        dir.path().join("r1"),
        dir.path().join("r2"),
        dir.path().join("r3"),
    );
    run_ok(&nml, 1, &r1, &[]);
    run_ok(&nml, 2, &r2, &[]);
    run_ok(&nml, 3, &r3, &[]);
    let files = output_files(&r1);
    assert_eq!(files.len(), 12, "{files:?}");
    let hist = files
        .iter()
        .find(|p| p.to_string_lossy().contains("LC_HIST"))
        .unwrap();
    check_soil_axis(&r1.join(hist));
    let restart = files
        .iter()
        .find(|p| p.to_string_lossy().contains("LC_RST"))
        .unwrap();
    let rd = landcycle::io::restart::read_restart(&r1.join(restart)).unwrap();
    let names: Vec<&str> = rd.model_fields.iter().map(|f| f.name.as_str()).collect();
    for want in [
        "layer_temperature",
        "layer_ice",
        "snow_layers",
        "aquifer_water",
        "albedo",
    ] {
        assert!(
            names.contains(&want),
            "restart fields {names:?} lack {want}"
        );
    }
    let (smap, ascat) = (
        diag_count(&r1, "smap_accepted"),
        diag_count(&r1, "ascat_accepted"),
    );
    assert!(
        smap > 0 && ascat > 0,
        "accepted: SMAP {smap}, ASCAT {ascat}"
    );
    assert!(max_increment(&r1, 0) > 1e-4, "no top-layer increment");
    assert!(max_increment(&r1, 9) > 0.0, "the deepest layer never moved");
    assert_identical(&r1, &r2);
    assert_identical(&r1, &r3);
    assert_same_diag(&r1, &r2);
    assert_same_diag(&r1, &r3);

    let split = dir.path().join("split");
    run_ok(&nml, 2, &split, &["--windows", "2"]);
    assert_eq!(output_files(&split).len(), 6);
    run_ok(&nml, 3, &split, &["--resume"]);
    assert_identical(&r1, &split);
    assert_same_diag(&r1, &split);
}
