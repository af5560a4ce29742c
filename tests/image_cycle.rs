//! The image analysis inside the cycle (IMAGE.md §8 tests 12–14) on the small bucket case:
//! history, restarts and LC_IMG diagnostics bit-identical on 1, 2 and 3 ranks and across a
//! resume on another rank count; an analysis moves the background towards the image; a
//! missing image skips the analysis and leaves the state byte-identical to the open loop.

mod common;
use common::bucket_case::*;
use common::*;

use std::path::Path;

use landcycle::grid::statics::StaticFields;
use landcycle::io::gridded::{write_field, GriddedField};

/// The bucket case with `&da` off and `&image` on (extra keys appended to the group).
fn image_namelist(dir: &Path, method: &str, extra: &str) -> std::path::PathBuf {
    image_namelist_of(dir, method, extra, 8)
}

/// As [`image_namelist`] with `members` ensemble members.
fn image_namelist_of(dir: &Path, method: &str, extra: &str, members: usize) -> std::path::PathBuf {
    let nml = bucket_namelist(dir, 3, 16, 12, members);
    let text = std::fs::read_to_string(&nml).unwrap();
    let text = text.replace(
        "enabled = .true.\n  sensors",
        "enabled = .false.\n  sensors",
    );
    let text = format!(
        "{text}&image\n  enabled = .true.\n  method = '{method}'\n  gridded_directory = \
         'images'\n  min_coverage = 0.3\n  error_sd = 0.03\n  keep_fraction = 0.5\n{extra}/\n"
    );
    std::fs::write(&nml, text).unwrap();
    nml
}

/// A smooth image with structure the model does not have: 0.15..0.35 m3 m-3 waves.
fn write_images(dir: &Path, times: &[chrono::NaiveDateTime]) {
    let s = StaticFields::read_landcycle(&dir.join("case/static.nc")).unwrap();
    let lat = s.grid.lat_1d().unwrap().to_vec();
    let lon = s.grid.lon_1d().unwrap().to_vec();
    let (ny, nx) = (lat.len(), lon.len());
    let d = dir.join("images");
    std::fs::create_dir_all(&d).unwrap();
    for (k, &t) in times.iter().enumerate() {
        let values = (0..ny * nx)
            .map(|c| {
                let (j, i) = ((c / nx) as f64, (c % nx) as f64);
                if !s.grid.land_mask()[c] || (c + k) % 11 == 0 {
                    return f64::NAN; // ocean and a few gaps
                }
                0.25 + 0.1 * (0.5 * i + 0.1 * k as f64).sin() * (0.4 * j).cos()
            })
            .collect();
        let f = GriddedField {
            name: "sm_image".into(),
            units: Some("m3 m-3".into()),
            long_name: Some("synthetic soil moisture image".into()),
            lat_name: "lat".into(),
            lon_name: "lon".into(),
            lat: lat.clone(),
            lon: lon.clone(),
            values,
        };
        let name = format!("LC_IMGOBS_{}.nc", t.format("%Y%m%d%H%M"));
        write_field(&d.join(name), &f, "test image").unwrap();
    }
}

fn image_diags(rundir: &Path) -> Vec<std::path::PathBuf> {
    diag_files(rundir)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("LC_IMG_"))
        .collect()
}

fn scalar(file: &Path, name: &str) -> f64 {
    let nc = netcdf::open(file).unwrap();
    let v = nc.variable(name).unwrap();
    v.get_values::<f64, _>(..).unwrap()[0]
}

fn image_cycle_is_bit_identical(method: &str, extra: &str) {
    image_cycle_of_is_bit_identical(method, extra, 8);
}

/// As [`image_cycle_is_bit_identical`] with `members` ensemble members.
fn image_cycle_of_is_bit_identical(method: &str, extra: &str, members: usize) {
    let _io = io_lock();
    assert!(have_mpirun(), "mpirun is required");
    let dir = tempfile::tempdir().unwrap();
    let nml = image_namelist_of(dir.path(), method, extra, members);
    synth(&nml);
    // Images at three of the four window ends: the 18 UTC analysis is skipped.
    write_images(dir.path(), &[t(1, 6, 0), t(1, 12, 0), t(2, 0, 0)]);
    let (r1, r2, r3) = (
        dir.path().join("r1"),
        dir.path().join("r2"),
        dir.path().join("r3"),
    );
    run_ok(&nml, 1, &r1, &[]);
    run_ok(&nml, 2, &r2, &[]);
    run_ok(&nml, 3, &r3, &[]);
    let diags = image_diags(&r1);
    assert_eq!(diags.len(), 3, "{diags:?}");
    for d in &diags {
        let f = r1.join(d);
        let (b, a) = (scalar(&f, "scc_background"), scalar(&f, "scc_analysis"));
        let (rb, ra) = (scalar(&f, "rmse_background"), scalar(&f, "rmse_analysis"));
        assert!(a > b, "{}: SCC {b} -> {a}", d.display());
        assert!(ra < rb, "{}: RMSE {rb} -> {ra}", d.display());
    }
    check_cf(&r1.join(&diags[0]));
    assert_identical(&r1, &r2);
    assert_identical(&r1, &r3);
    assert_same_diag(&r1, &r2);
    assert_same_diag(&r1, &r3);
    let split = dir.path().join("split");
    run_ok(&nml, 2, &split, &["--windows", "2"]);
    run_ok(&nml, 3, &split, &["--resume"]);
    assert_identical(&r1, &split);
    assert_same_diag(&r1, &split);
}

#[test]
fn variational_image_cycle_is_bit_identical_on_1_2_3_ranks_and_across_resume() {
    // The ensemble's B unscaled: on this small case the innovations are within the image
    // error, so the default innovation-scaled B is zero and the SCC check below would see no
    // analysis (the scaled B has its own test, tests/image_var_bscale.rs).
    image_cycle_is_bit_identical("var", "  b_source = 'ensemble'\n  b_scale = 'none'\n");
}

#[test]
fn variational_image_cycle_with_innovation_b_is_bit_identical_on_1_2_3_ranks() {
    let _io = io_lock();
    assert!(have_mpirun(), "mpirun is required");
    let dir = tempfile::tempdir().unwrap();
    let nml = image_namelist(dir.path(), "var", "");
    synth(&nml);
    write_images(dir.path(), &[t(1, 6, 0), t(1, 12, 0), t(2, 0, 0)]);
    let runs: Vec<_> = (1..=3).map(|n| dir.path().join(format!("r{n}"))).collect();
    for (n, r) in runs.iter().enumerate() {
        run_ok(&nml, n + 1, r, &[]);
    }
    assert_eq!(image_diags(&runs[0]).len(), 3);
    assert_identical(&runs[0], &runs[1]);
    assert_identical(&runs[0], &runs[2]);
    assert_same_diag(&runs[0], &runs[1]);
    assert_same_diag(&runs[0], &runs[2]);
}

// Seven members: pass 1's blocks of two end with a lone member, and the blocks fall
// unevenly on 2 and 3 ranks (4 + 3 and 4 + 2 + 1 members).
#[test]
fn enkf_like_image_cycle_is_bit_identical_on_1_2_3_ranks_and_across_resume() {
    image_cycle_of_is_bit_identical(
        "enkf_like",
        "  deep_layers = 'ensemble'\n  rtps_alpha = 0.3\n",
        7,
    );
}

#[test]
fn enkf_like_column_regression_image_cycle_is_bit_identical_on_1_2_3_ranks_and_across_resume() {
    image_cycle_is_bit_identical(
        "enkf_like",
        "  deep_layers = 'regression'\n  rtps_alpha = 0.3\n",
    );
}

/// Restart files of a run directory, relative paths sorted.
fn restarts(rundir: &Path) -> Vec<std::path::PathBuf> {
    output_files(rundir)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("restart"))
        .collect()
}

#[test]
fn missing_or_sparse_images_leave_the_state_as_the_open_loop() {
    let _io = io_lock();
    let dir = tempfile::tempdir().unwrap();
    let nml = image_namelist(dir.path(), "var", "  min_coverage = 0.99\n");
    synth(&nml);
    // One image with gaps (below 99 % coverage); the other window ends have none.
    write_images(dir.path(), &[t(1, 6, 0)]);
    let with = dir.path().join("with");
    let out = run(&nml, 0, &with, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("image:min_coverage"),
        "no coverage warning:\n{log}"
    );
    assert!(
        log.contains("no observation image"),
        "no missing-file warning:\n{log}"
    );
    assert!(image_diags(&with).is_empty());
    let text = std::fs::read_to_string(&nml).unwrap();
    let open = dir.path().join("open.nml");
    std::fs::write(
        &open,
        text.replace("&image\n  enabled = .true.", "&image\n  enabled = .false."),
    )
    .unwrap();
    let ol = dir.path().join("ol");
    run_ok(&open, 0, &ol, &[]);
    let files = restarts(&with);
    assert_eq!(files, restarts(&ol));
    assert_eq!(files.len(), 4);
    for f in &files {
        assert!(
            std::fs::read(with.join(f)).unwrap() == std::fs::read(ol.join(f)).unwrap(),
            "{} differs from the open loop",
            f.display()
        );
    }
}

#[test]
fn image_namelist_errors_name_the_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    for (extra, key) in [
        ("  keep_fraction = 1.5\n", "keep_fraction"),
        ("  error_sd = 0.0\n", "error_sd"),
        (
            "  method = 'enkf_like'\n  gap_policy = 'fill'\n",
            "gap_policy",
        ),
    ] {
        let nml = image_namelist(dir.path(), "var", extra);
        let e = landcycle::config::Config::load(&nml)
            .unwrap_err()
            .to_string();
        let text = std::fs::read_to_string(&nml).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let line = lines
            .iter()
            .rposition(|l| l.trim_start().starts_with(key))
            .unwrap()
            + 1;
        assert!(
            e.contains(&format!("image:{key}")) || e.contains(key),
            "{e}"
        );
        assert!(e.contains(&format!("case.nml:{line}")), "line {line}: {e}");
    }
}

/// The bucket case with SMAP and ASCAT assimilated by the 1-D EnKF and an image made of the
/// retrievals it accepted.
fn retrievals_namelist(dir: &Path, extra: &str) -> std::path::PathBuf {
    let nml = bucket_namelist(dir, 3, 16, 12, 8);
    let text = std::fs::read_to_string(&nml).unwrap();
    let text = format!(
        "{text}&image\n  enabled = .true.\n  method = 'var'\n  source = 'retrievals'\n  \
         min_coverage = 0.3\n  error_sd = 0.03\n{extra}/\n"
    );
    std::fs::write(&nml, text).unwrap();
    nml
}

fn read_f32(file: &Path, name: &str) -> Vec<f32> {
    let nc = netcdf::open(file).unwrap();
    let v = nc.variable(name).unwrap();
    v.get_values::<f32, _>(..).unwrap()
}

fn text_attr(file: &Path, name: &str) -> String {
    let nc = netcdf::open(file).unwrap();
    match nc.attribute(name).unwrap().value().unwrap() {
        netcdf::AttributeValue::Str(s) => s,
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn retrievals_image_is_the_mean_of_the_accepted_retrievals_with_the_weight_split() {
    let _io = io_lock();
    assert!(have_mpirun(), "mpirun is required");
    let dir = tempfile::tempdir().unwrap();
    let nml = retrievals_namelist(dir.path(), "  obs_weight_split = 0.5\n");
    synth(&nml);
    let land = land_centres(dir.path());
    write_ascat(dir.path(), t(1, 4, 0), &land, 60.0);
    write_smap(dir.path(), t(1, 5, 10), &land[..2 * land.len() / 3], 0.33);
    write_smap(dir.path(), t(1, 13, 20), &land, 0.30);
    let (r1, r2, r3) = (
        dir.path().join("r1"),
        dir.path().join("r2"),
        dir.path().join("r3"),
    );
    run_ok(&nml, 1, &r1, &[]);
    run_ok(&nml, 2, &r2, &[]);
    run_ok(&nml, 3, &r3, &[]);
    assert_identical(&r1, &r2);
    assert_identical(&r1, &r3);
    assert_same_diag(&r1, &r2);
    assert_same_diag(&r1, &r3);

    // Window 1: ASCAT at 04:00 and SMAP at 05:30; the image at 06:00 is their per-cell mean.
    let cfg = landcycle::config::Config::load(&nml).unwrap();
    let diags = diag_files(&r1);
    let da: Vec<_> = diags
        .iter()
        .filter(|p| {
            let s = p.to_string_lossy();
            s.contains("LC_DA_20200601040") || s.contains("LC_DA_20200601053")
        })
        .map(|p| r1.join(p))
        .collect();
    assert_eq!(da.len(), 2, "{diags:?}");
    let img = r1.join(
        diags
            .iter()
            .find(|p| p.to_string_lossy().contains("LC_IMG_202006010600"))
            .expect("an image analysis at 06:00"),
    );
    let observed = read_f32(&img, "obs_image");
    let mut per_cell: Vec<Vec<f64>> = vec![Vec::new(); observed.len()];
    for f in &da {
        for (sensor, var) in [("smap", "smap_obs"), ("ascat", "ascat_obs")] {
            let nc = netcdf::open(f).unwrap();
            if nc.variable(var).is_none() {
                continue;
            }
            let values = read_f32(f, var);
            let errors = read_f32(f, &format!("{sensor}_obs_error"));
            let s = match sensor {
                "smap" => landcycle::config::DaSensor::Smap,
                _ => landcycle::config::DaSensor::Ascat,
            };
            for (k, (&v, &e)) in values.iter().zip(&errors).enumerate() {
                if v.abs() < 1e19 {
                    per_cell[k].push(f64::from(v));
                    if sensor == "smap" {
                        // SMAP's error sd enters the 1-D EnKF as σ/√s.
                        let sd = cfg.da.sensor(s).2;
                        let want = sd / 0.5f64.sqrt();
                        assert!((f64::from(e) - want).abs() < 1e-6, "{e} vs {want}");
                    }
                }
            }
        }
    }
    let mut compared = 0;
    for (k, vals) in per_cell.iter().enumerate() {
        let o = observed[k];
        if vals.is_empty() {
            assert!(
                o.is_nan() || o.abs() > 1e19,
                "cell {k}: image {o} without retrievals"
            );
            continue;
        }
        let mean = vals.iter().sum::<f64>() / vals.len() as f64;
        assert!(
            (f64::from(o) - mean).abs() < 2e-6,
            "cell {k}: {o} vs {mean}"
        );
        compared += 1;
    }
    assert!(compared > land.len() / 2, "{compared} cells");
    let sd: f64 = text_attr(&img, "image_error_sd").parse().unwrap();
    assert!((sd - 0.03 / 0.5f64.sqrt()).abs() < 1e-12, "{sd}");
}

#[test]
fn retrievals_image_refuses_to_count_the_same_data_twice() {
    let dir = tempfile::tempdir().unwrap();
    for (extra, key, words) in [
        ("", "source", "count them twice"),
        (
            "  obs_weight_split = 0.5\n  image_order = 'before_1d'\n",
            "image_order",
            "must run first",
        ),
        ("  obs_weight_split = 1.0\n", "obs_weight_split", "(0, 1)"),
        (
            "  obs_weight_split = 0.5\n  retrieval_hours = 12\n",
            "retrieval_hours",
            "window_hours",
        ),
    ] {
        let nml = retrievals_namelist(dir.path(), extra);
        let e = landcycle::config::Config::load(&nml)
            .err()
            .unwrap_or_else(|| panic!("accepted: {extra}"))
            .to_string();
        assert!(e.contains(key) && e.contains(words), "{extra}: {e}");
    }
}

#[test]
fn deep_update_restrictions_need_the_update_they_restrict() {
    let dir = tempfile::tempdir().unwrap();
    for (method, extra, key, words) in [
        (
            "enkf_like",
            "  deep_localization_m = 0.5\n",
            "deep_localization_m",
            "deep_layers",
        ),
        (
            "enkf_like",
            "  deep_layers = 'ensemble'\n  deep_localization_m = -1.0\n",
            "deep_localization_m",
            "positive",
        ),
        (
            "enkf_like",
            "  deep_layers = 'regression'\n  deep_scales = 2\n",
            "deep_scales",
            "'ensemble'",
        ),
        (
            "var",
            "  deep_layers = 'ensemble'\n  deep_scales = 1\n",
            "deep_scales",
            "enkf_like",
        ),
        (
            "var",
            "  update_perturbations = .false.\n",
            "update_perturbations",
            "enkf_like",
        ),
        (
            "enkf_like",
            "  deep_factors = 1.0, 0.5, 0.1\n",
            "deep_factors",
            "deep_layers",
        ),
        (
            "enkf_like",
            "  deep_layers = 'ensemble'\n  deep_factors = 1.0, 1.5, 0.1\n",
            "deep_factors",
            "[0, 1]",
        ),
        (
            "var",
            "  deep_layers = 'regression'\n  deep_localization_m = 0.5\n  \
             deep_factors = 1.0, 0.5, 0.1\n",
            "deep_factors",
            "not both",
        ),
    ] {
        let nml = image_namelist(dir.path(), method, extra);
        let e = landcycle::config::Config::load(&nml)
            .err()
            .unwrap_or_else(|| panic!("accepted: {extra}"))
            .to_string();
        let text = std::fs::read_to_string(&nml).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let line = lines
            .iter()
            .rposition(|l| l.trim_start().starts_with(key))
            .unwrap()
            + 1;
        assert!(e.contains(key) && e.contains(words), "{extra}: {e}");
        assert!(e.contains(&format!("case.nml:{line}")), "line {line}: {e}");
    }
    for (method, extra) in [
        (
            "enkf_like",
            "  deep_layers = 'ensemble'\n  deep_localization_m = 0.5\n  deep_scales = 2\n  \
             update_perturbations = .false.\n",
        ),
        (
            "var",
            "  deep_layers = 'ensemble'\n  deep_localization_m = 1.0\n",
        ),
        (
            "enkf_like",
            "  deep_layers = 'regression'\n  deep_factors = 1.0, 0.5, 0.0\n",
        ),
    ] {
        let nml = image_namelist(dir.path(), method, extra);
        let cfg = landcycle::config::Config::load(&nml).unwrap();
        assert!(cfg.image.deep_localization_m.is_some() || cfg.image.deep_factors.is_some());
    }
}

#[test]
fn enkf_like_restricted_deep_update_is_bit_identical_on_1_2_3_ranks_and_across_resume() {
    image_cycle_is_bit_identical(
        "enkf_like",
        "  deep_layers = 'ensemble'\n  rtps_alpha = 0.3\n  deep_localization_m = 0.5\n  \
         deep_scales = 2\n  update_perturbations = .false.\n",
    );
}

/// `deep_factors` spelling out the taper of `deep_localization_m` (the analysed top layer
/// given 1, which the taper's value there does not matter for) gives the same values as the
/// taper (every file bit for bit but the namelist text it records); given factors are bit-identical on 1, 2 and 3 ranks; a list of the wrong length
/// is refused when the stage is set up, naming the key.
#[test]
fn given_deep_factors_equal_the_taper_and_are_bit_identical_on_1_2_3_ranks() {
    let _io = io_lock();
    assert!(have_mpirun(), "mpirun is required");
    let dir = tempfile::tempdir().unwrap();
    let mut taper = landcycle::da::image::depth_taper(&thicknesses(3), 0.05, Some(1.0)).unwrap();
    taper[0] = 1.0;
    assert!(
        taper[1] > 0.0 && taper[1] < 1.0 && taper[2] > 0.0,
        "{taper:?}"
    );
    let list = |f: &[f64]| {
        f.iter()
            .map(|x| format!("{x:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let common = "  deep_layers = 'ensemble'\n  rtps_alpha = 0.3\n";
    let tapered = dir.path().join("tapered");
    let nml = image_namelist(
        dir.path(),
        "enkf_like",
        &format!("{common}  deep_localization_m = 1.0\n"),
    );
    synth(&nml);
    write_images(dir.path(), &[t(1, 6, 0), t(1, 12, 0), t(2, 0, 0)]);
    run_ok(&nml, 1, &tapered, &[]);
    let text = std::fs::read_to_string(&nml).unwrap();
    let with = |factors: &str| {
        let t = text.replace(
            "  deep_localization_m = 1.0\n",
            &format!("  deep_factors = {factors}\n"),
        );
        std::fs::write(&nml, t).unwrap();
    };
    with(&list(&taper));
    let given = dir.path().join("given");
    run_ok(&nml, 2, &given, &[]);
    // Only the namelist text recorded in the files differs (no &image key is fingerprinted).
    assert_same_land_output(&tapered, &given, true);
    let diags = image_diags(&tapered);
    assert_eq!(diags, image_diags(&given));
    assert_eq!(diags.len(), 3);
    for d in &diags {
        let (a, b) = (tapered.join(d), given.join(d));
        assert_eq!(
            nc_content(&a, &["namelist"]),
            nc_content(&b, &["namelist"]),
            "{d:?}"
        );
    }
    // Layer 3 set apart from the taper: its own factor, on 1, 2 and 3 ranks.
    with(&list(&[1.0, taper[1], 0.5]));
    let runs: Vec<_> = (1..=3).map(|n| dir.path().join(format!("r{n}"))).collect();
    for (n, r) in runs.iter().enumerate() {
        run_ok(&nml, n + 1, r, &[]);
    }
    assert_identical(&runs[0], &runs[1]);
    assert_identical(&runs[0], &runs[2]);
    assert_same_diag(&runs[0], &runs[1]);
    assert_same_diag(&runs[0], &runs[2]);
    let last = |r: &Path| {
        restarts(r)
            .last()
            .map(|p| std::fs::read(r.join(p)).unwrap())
    };
    assert_ne!(
        last(&runs[0]),
        last(&tapered),
        "the layer-3 factor changed nothing"
    );
    with("1.0, 0.5");
    let out = run(&nml, 1, &dir.path().join("short"), &[]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a 2-value list for 3 layers was accepted"
    );
    assert!(
        log.contains("image:deep_factors") && log.contains('3'),
        "{log}"
    );
}
