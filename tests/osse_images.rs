//! Structural truth error and image observations of the OSSE: the precipitation factor field
//! (statistics; forcing of the nature run with it on and off) and the image simulator (files
//! read back with the gridded reader, CF checker, keyed reproducibility, gaps).

mod common;

use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveDateTime};
use landcycle::config::Config;
use landcycle::cycle::RunOptions;
use landcycle::io::gridded::{read_field as read_gridded, Selection};
use landcycle::parallel::SingleProcess;
use landcycle::synth::image_file::{image_file_name, simulate_images, IMAGE_VAR};
use landcycle::synth::image_obs::{ImageGrid, ImageSimulator};
use landcycle::synth::osse::{factor_field_path, run_truth, write_biased_forcing, OsseConfig};
use landcycle::synth::precip_field::{factor_field, lognormal_mean_one};
use landcycle::verify::read_field;

/// Two 6-hour windows.
const END: &str = "2020-06-01_12:00:00";

/// The HDF5 library is not thread-safe: the tests of this file that touch files take turns.
static IO_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn io_lock() -> std::sync::MutexGuard<'static, ()> {
    IO_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn at(h: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2020, 6, 1)
        .unwrap()
        .and_hms_opt(h, 0, 0)
        .unwrap()
}

fn case(dir: &Path) -> PathBuf {
    let nml = common::write_namelist(dir, 12, 10, 2, END);
    let mut text = std::fs::read_to_string(&nml).unwrap();
    text.push_str("&osse\n  truth_seed = 99\n  smap = .false.\n  ascat = .false.\n/\n");
    std::fs::write(&nml, text).unwrap();
    common::synth(&nml);
    nml
}

fn values(path: &Path, var: &str) -> Vec<f64> {
    let f = netcdf::open(path).unwrap();
    f.variable(var).unwrap().get_values::<f64, _>(..).unwrap()
}

#[test]
fn factor_field_has_the_requested_lognormal_statistics() {
    // 160 × 160 cells of 0.25° around 50° N (dy 27.8 km, dx 17.9 km), L = 300 km, σ = 0.3.
    let lat: Vec<f64> = (0..160).map(|j| 30.0 + 0.25 * j as f64).collect();
    let lon: Vec<f64> = (0..160).map(|i| -100.0 + 0.25 * i as f64).collect();
    let (mu, s) = lognormal_mean_one(0.3);
    let dy = 0.25 * 6371.0 * std::f64::consts::PI / 180.0;
    let lag = 11; // rows: 306 km
    let want_rho = (-0.5 * (lag as f64 * dy / 300.0).powi(2)).exp();
    let (mut z2, mut zz, mut nz, mut nl) = (0.0, 0.0, 0usize, 0usize);
    let (mut f1, mut f2, mut nf) = (0.0, 0.0, 0usize);
    for seed in 0..24 {
        let f = factor_field(&lat, &lon, 0.3, 300.0, seed).unwrap();
        // z = (ln f − μ)/s is the unit Gaussian field (known mean 0).
        let z: Vec<f64> = f.iter().map(|v| (v.ln() - mu) / s).collect();
        for j in 0..160 {
            for i in 0..160 {
                let a = z[j * 160 + i];
                z2 += a * a;
                nz += 1;
                if j + lag < 160 {
                    zz += a * z[(j + lag) * 160 + i];
                    nl += 1;
                }
            }
        }
        for v in &f {
            f1 += v;
            f2 += v * v;
            nf += 1;
        }
    }
    let log_sd = s * (z2 / nz as f64).sqrt();
    let rho = zz / nl as f64 / (z2 / nz as f64);
    let mean = f1 / nf as f64;
    let sd = (f2 / nf as f64 - mean * mean).sqrt();
    // About 50 independent areas per field, 24 fields: sampling sd ≈ 3 % of the log-sd,
    // 0.02 of the mean, 0.03 of the lag correlation.
    assert!((log_sd / s - 1.0).abs() < 0.1, "log-sd {log_sd} want {s}");
    assert!(
        (rho - want_rho).abs() < 0.1,
        "lag-{lag} correlation {rho} want {want_rho}"
    );
    assert!((mean - 1.0).abs() < 0.06, "mean {mean}");
    assert!((sd - 0.3).abs() < 0.05, "sd {sd}");
}

#[test]
fn nature_run_forcing_with_and_without_the_factor_field() {
    let _io = io_lock();
    let dir = tempfile::tempdir().unwrap();
    let nml = case(dir.path());
    let cfg = Config::load(&nml).unwrap();
    let off = OsseConfig::from_config(&cfg).unwrap();
    assert_eq!(off.precip_factor_field_sd, 0.0, "off by default");
    let on = OsseConfig {
        truth_dir: dir.path().join("osse/truth_structural"),
        precip_factor_field_sd: 0.3,
        ..off.clone()
    };
    let opts = RunOptions {
        windows: Some(1),
        ..RunOptions::default()
    };
    run_truth(&cfg, &off, &SingleProcess, &opts).unwrap();
    run_truth(&cfg, &on, &SingleProcess, &opts).unwrap();
    assert!(!factor_field_path(&off).exists());
    let f = read_gridded(
        &factor_field_path(&on),
        "precip_factor",
        &Selection::default(),
    )
    .unwrap();
    assert!(f.values.iter().all(|v| *v > 0.0 && v.is_finite()));
    assert!(f.values.iter().any(|v| (v - 1.0).abs() > 1e-3));

    // Off: precipitation × 1.3 exactly as before (computed in f64, stored in the file's type);
    // on: × 1.3 × the factor of the cell, the same in every file; other variables untouched.
    let mut rainy = 0;
    for h in [0, 3, 6] {
        let src = cfg.forcing.file_for(at(h));
        let name = src.file_name().unwrap();
        let (a, b) = (off.forcing_dir().join(name), on.forcing_dir().join(name));
        let r0 = values(&src, "Rainf_f_tavg");
        let (ra, rb) = (values(&a, "Rainf_f_tavg"), values(&b, "Rainf_f_tavg"));
        for (k, x) in r0.iter().enumerate() {
            assert_eq!(ra[k], (x * 1.3) as f32 as f64, "off, value {k}");
            let want = x * 1.3 * f.values[k % f.values.len()];
            assert!((rb[k] - want).abs() <= 1e-6 * want.abs(), "on, value {k}");
            rainy += usize::from(*x > 0.0);
        }
        assert_eq!(values(&a, "Tair_f_inst"), values(&b, "Tair_f_inst"));
        assert_eq!(values(&a, "SWdown_f_tavg"), values(&b, "SWdown_f_tavg"));
    }
    assert!(rainy > 0, "the test forcing has rain");
    // Rewriting with the field off gives the same files again, byte for byte.
    let before = std::fs::read(
        off.forcing_dir()
            .join(cfg.forcing.file_for(at(3)).file_name().unwrap()),
    )
    .unwrap();
    write_biased_forcing(&cfg, &off).unwrap();
    let after = std::fs::read(
        off.forcing_dir()
            .join(cfg.forcing.file_for(at(3)).file_name().unwrap()),
    )
    .unwrap();
    assert_eq!(before, after);
}

fn image_values(dir: &Path, t: NaiveDateTime) -> Vec<u64> {
    let f = read_gridded(
        &dir.join(image_file_name(t)),
        IMAGE_VAR,
        &Selection::default(),
    )
    .unwrap();
    f.values.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn images_read_back_exactly_are_cf_clean_keyed_and_gapped() {
    let _io = io_lock();
    let dir = tempfile::tempdir().unwrap();
    let nml = case(dir.path());
    let cfg = Config::load(&nml).unwrap();
    let base = OsseConfig::from_config(&cfg).unwrap();
    run_truth(&cfg, &base, &SingleProcess, &RunOptions::default()).unwrap();
    let osse = |name: &str| OsseConfig {
        image_dir: dir.path().join(name),
        ..base.clone()
    };

    // ---- full coverage, white noise σ_o = 0.04: values are truth + σ_o ε exactly
    let a = osse("img_a");
    let s = simulate_images(&a).unwrap();
    let names: Vec<String> = s
        .files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["LC_IMGOBS_202006010600.nc", "LC_IMGOBS_202006011200.nc"]
    );
    assert_eq!(s.mean_coverage, 1.0);
    let hist = landcycle::verify::find_history_files(&a.run_dir()).unwrap();
    let (mut e1, mut e2, mut n) = (0.0, 0.0, 0);
    for t in [at(6), at(12)] {
        let img = read_gridded(
            &a.image_dir.join(image_file_name(t)),
            IMAGE_VAR,
            &Selection::default(),
        )
        .unwrap();
        let truth = read_field(&hist[&t], "SoilMoistV").unwrap();
        let top = truth.layer(0);
        assert_eq!((img.n_lat(), img.n_lon()), (truth.ny, truth.nx));
        assert_eq!(img.units.as_deref(), Some("m3 m-3"));
        let grid = ImageGrid {
            lat: img.lat.clone(),
            lon: img.lon.clone(),
        };
        let mut sim = ImageSimulator::new(a.image_spec(), grid).unwrap();
        let eps = sim.noise(t);
        for (k, y) in img.values.iter().enumerate() {
            if top[k].is_finite() {
                assert_eq!(
                    y.to_bits(),
                    (1.0 * top[k] + 0.0 + 0.04 * eps[k]).to_bits(),
                    "cell {k}"
                );
                let e = (y - top[k]) / 0.04;
                e1 += e;
                e2 += e * e;
                n += 1;
            } else {
                assert!(y.is_nan(), "off land is missing");
            }
        }
    }
    let m = e1 / n as f64;
    let sd = (e2 / n as f64 - m * m).sqrt();
    assert!(n > 100 && m.abs() < 4.0 / (n as f64).sqrt(), "{n} {m}");
    assert!((sd - 1.0).abs() < 0.2, "{sd}");

    // ---- CF checker (skipped when the tool is not installed)
    let cfcheck = landcycle::testdata::root().join("../tools/cf/cfcheck");
    if cfcheck.exists() {
        let out = std::process::Command::new(&cfcheck)
            .arg(&s.files[0])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "cfcheck failed:\n{text}");
        assert!(text.contains("ERRORS detected: 0"), "{text}");
        assert!(text.contains("WARNINGS given: 0"), "{text}");
    } else {
        eprintln!("SKIPPED cfcheck: {} not found", cfcheck.display());
    }

    // ---- keyed: the same seed gives the same values, another seed others
    simulate_images(&osse("img_b")).unwrap();
    let c = OsseConfig {
        image_seed: 5,
        ..osse("img_c")
    };
    simulate_images(&c).unwrap();
    assert_eq!(
        image_values(&a.image_dir, at(6)),
        image_values(&dir.path().join("img_b"), at(6))
    );
    assert_ne!(
        image_values(&a.image_dir, at(6)),
        image_values(&c.image_dir, at(6))
    );

    // ---- random gaps at coverage 0.5 with correlated errors, and stripes
    let r = OsseConfig {
        image_gaps: "random".into(),
        image_coverage: 0.5,
        image_error_corr_km: 100.0,
        ..osse("img_r")
    };
    let sr = simulate_images(&r).unwrap();
    assert!(
        (sr.mean_coverage - 0.5).abs() < 0.12,
        "{}",
        sr.mean_coverage
    );
    let top6 = read_field(&hist[&at(6)], "SoilMoistV").unwrap();
    let land = top6.layer(0).iter().filter(|x| x.is_finite()).count();
    for p in &sr.files {
        let f = netcdf::open(p).unwrap();
        let cov = match f.attribute("coverage").unwrap().value().unwrap() {
            netcdf::AttributeValue::Double(x) => x,
            v => panic!("{v:?}"),
        };
        let seen = values(p, IMAGE_VAR)
            .iter()
            .filter(|x| x.is_finite())
            .count();
        assert_eq!(cov, seen as f64 / land as f64);
    }
    let st = OsseConfig {
        image_gaps: "stripes".into(),
        image_coverage: 0.5,
        image_stripe_km: 100.0,
        ..osse("img_s")
    };
    let ss = simulate_images(&st).unwrap();
    for p in &ss.files {
        let img = read_gridded(p, IMAGE_VAR, &Selection::default()).unwrap();
        let (ny, nx) = (img.n_lat(), img.n_lon());
        let mut gap_columns = 0;
        for i in 0..nx {
            let land: Vec<usize> = (0..ny)
                .map(|j| j * nx + i)
                .filter(|&k| top6.layer(0)[k].is_finite())
                .collect();
            let missing = land.iter().filter(|&&k| img.values[k].is_nan()).count();
            assert!(
                missing == 0 || missing == land.len(),
                "column {i}: stripes are whole columns"
            );
            gap_columns += usize::from(missing > 0 && missing == land.len());
        }
        assert!(gap_columns > 0 && gap_columns < nx, "{gap_columns} of {nx}");
    }
}

#[test]
fn bad_image_and_factor_field_keys_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let nml = common::write_namelist(dir.path(), 12, 10, 2, END);
    let base = std::fs::read_to_string(&nml).unwrap();
    for (keys, want) in [
        ("image_gaps = 'swath'", "osse:image_gaps"),
        ("image_coverage = 0.5", "needs image_gaps"),
        (
            "image_gaps = 'random'\n  image_coverage = 0.0",
            "osse:image_coverage",
        ),
        ("image_interval_hours = 5", "does not divide 24"),
        (
            "precip_factor_field_sd = -0.1",
            "osse:precip_factor_field_sd",
        ),
        (
            "precip_factor_field_corr_km = 0.0",
            "osse:precip_factor_field_corr_km",
        ),
    ] {
        std::fs::write(
            &nml,
            format!("{base}&osse\n  truth_seed = 99\n  {keys}\n/\n"),
        )
        .unwrap();
        let cfg = Config::load(&nml).unwrap();
        let e = OsseConfig::from_config(&cfg).unwrap_err().to_string();
        assert!(e.contains(want) && e.contains("case.nml"), "{keys}: {e}");
    }
}
