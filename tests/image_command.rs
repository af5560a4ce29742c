//! `landcycle image` through the whole command path: files in, CF file out.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use landcycle::io::gridded::{read_field, write_field, GriddedField, Selection};

fn image(args: &[&str]) -> Output {
    Command::new(common::BIN)
        .arg("image")
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "landcycle image failed:\n{err}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn field(name: &str, lat: &[f64], lon: &[f64], values: Vec<f64>) -> GriddedField {
    GriddedField {
        name: name.into(),
        units: Some("m3 m-3".into()),
        long_name: None,
        lat_name: "lat".into(),
        lon_name: "lon".into(),
        lat: lat.to_vec(),
        lon: lon.to_vec(),
        values,
    }
}

/// A smooth soil-moisture-like field with a strip of ocean (NaN) in the first columns.
fn background(ny: usize, nx: usize) -> Vec<f64> {
    (0..ny * nx)
        .map(|i| {
            let (r, c) = ((i / nx) as f64, (i % nx) as f64);
            if c < 3.0 && r > 4.0 {
                f64::NAN
            } else {
                0.25 + 0.05 * (r * 0.3).sin() * (c * 0.2).cos()
            }
        })
        .collect()
}

/// A deterministic pseudo-random innovation in [−0.05, 0.05].
fn noise(i: usize) -> f64 {
    let x = ((i as u64)
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407)
        >> 33) as f64;
    (x / (1u64 << 31) as f64 - 0.5) * 0.1
}

fn axes(ny: usize, nx: usize, dlon: f64, lon0: f64) -> (Vec<f64>, Vec<f64>) {
    let lat = (0..ny).map(|r| 30.0 + 0.5 * r as f64).collect();
    let lon = (0..nx).map(|c| lon0 + dlon * c as f64).collect();
    (lat, lon)
}

fn read(path: &Path, var: &str) -> Vec<f64> {
    let f = netcdf::open(path).unwrap();
    let v = f.variable(var).unwrap_or_else(|| panic!("no {var}"));
    let vals: Vec<f64> = v.get_values::<f64, _>(..).unwrap();
    vals.into_iter()
        .map(|x| if x >= 1e19 { f64::NAN } else { x })
        .collect()
}

fn scalar(path: &Path, var: &str) -> f64 {
    read(path, var)[0]
}

#[test]
fn observation_equal_to_background_gives_zero_increment() {
    let dir = tempfile::tempdir().unwrap();
    let (ny, nx) = (20, 28);
    let (lat, lon) = axes(ny, nx, 0.5, -100.0);
    let bg = dir.path().join("bg.nc");
    write_field(&bg, &field("sm", &lat, &lon, background(ny, nx)), "test").unwrap();
    let out = dir.path().join("a.nc");
    let s = |p: &PathBuf| p.display().to_string();
    ok(&image(&[
        "--background",
        &s(&bg),
        "--bg-var",
        "sm",
        "--obs",
        &s(&bg),
        "--obs-var",
        "sm",
        "--b-sd",
        "0.05",
        "--out",
        &s(&out),
    ]));
    let inc = read(&out, "increment");
    let xb = background(ny, nx);
    for (i, d) in inc.iter().enumerate() {
        if xb[i].is_finite() {
            assert_eq!(*d, 0.0, "cell {i}");
        } else {
            assert!(d.is_nan(), "off land cell {i} must be missing");
        }
    }
    assert_eq!(scalar(&out, "stop_reason"), 2.0, "zero right-hand side");
    assert_eq!(scalar(&out, "rmse_analysis"), 0.0);
    common::check_cf(&out);
}

/// IMAGE.md §8 test 2 through the command: keep_fraction 1 (mask keeps all), B = βI, so the
/// analysis is x_b + β/(β + σ_I²)·d on land cells with an image pixel and x_b elsewhere,
/// on a regional (m = 4) and a periodic global grid (m = 2).
#[test]
fn mask_keeps_all_with_constant_b_gives_the_analytic_blend() {
    let dir = tempfile::tempdir().unwrap();
    for (name, nx, dlon, lon0) in [("regional", 28, 0.5, -100.0), ("global", 32, 11.25, 0.0)] {
        let ny = 20;
        let (lat, lon) = axes(ny, nx, dlon, lon0);
        let xb = background(ny, nx);
        let fo: Vec<f64> = (0..ny * nx)
            .map(|i| {
                if i % 7 == 3 {
                    f64::NAN
                } else {
                    xb[i] + noise(i)
                }
            })
            .map(|v| if v.is_nan() { f64::NAN } else { v })
            .collect();
        let fo: Vec<f64> = fo
            .iter()
            .enumerate()
            .map(|(i, v)| if xb[i].is_nan() { 0.3 } else { *v })
            .collect();
        let (bg, obs, out) = (
            dir.path().join(format!("{name}_bg.nc")),
            dir.path().join(format!("{name}_obs.nc")),
            dir.path().join(format!("{name}_a.nc")),
        );
        write_field(&bg, &field("sm", &lat, &lon, xb.clone()), "test").unwrap();
        write_field(&obs, &field("img", &lat, &lon, fo.clone()), "test").unwrap();
        let (b_sd, sigma) = (0.03, 0.04);
        let s = |p: &PathBuf| p.display().to_string();
        let text = ok(&image(&[
            "--background",
            &s(&bg),
            "--bg-var",
            "sm",
            "--obs",
            &s(&obs),
            "--obs-var",
            "img",
            "--keep-fraction",
            "1",
            "--b-sd",
            "0.03",
            "--error-sd",
            "0.04",
            "--tolerance",
            "1e-12",
            "--max-iter",
            "200",
            "--out",
            &s(&out),
        ]));
        let a = read(&out, "analysis");
        let k = b_sd * b_sd / (b_sd * b_sd + sigma * sigma);
        let mut n = 0;
        for i in 0..ny * nx {
            if xb[i].is_nan() {
                assert!(a[i].is_nan(), "{name}: off land {i}");
            } else if fo[i].is_nan() {
                assert_eq!(a[i], xb[i], "{name}: land without image {i}");
            } else {
                let want = xb[i] + k * (fo[i] - xb[i]);
                assert!(
                    (a[i] - want).abs() < 1e-9,
                    "{name}: cell {i}: {} vs {want}",
                    a[i]
                );
                n += 1;
            }
        }
        assert!(n > 400, "{name}: {n} cells checked");
        assert_eq!(scalar(&out, "stop_reason"), 0.0, "{name}: converged");
        let cost = read(&out, "cost");
        assert!(
            cost.len() >= 2 && cost.windows(2).all(|w| w[1] <= w[0] + 1e-12),
            "{name}: {cost:?}"
        );
        assert!(scalar(&out, "rmse_analysis") < scalar(&out, "rmse_background"));
        assert_eq!(
            scalar(&out, "kept_coefficients"),
            scalar(&out, "total_coefficients")
        );
        let periodic = netcdf::open(&out)
            .unwrap()
            .attribute("periodic_lon")
            .unwrap()
            .value()
            .unwrap();
        assert_eq!(
            periodic,
            netcdf::AttributeValue::Str((name == "global").to_string()),
            "{text}"
        );
        common::check_cf(&out);
    }
}

/// An ensemble in one file with a `member` dimension: the EnKF-like analysis pulls the
/// mean towards the image and shrinks the spread on observed cells.
#[test]
fn enkf_like_on_a_member_file() {
    let dir = tempfile::tempdir().unwrap();
    let (ny, nx, nm) = (20, 28, 12);
    let (lat, lon) = axes(ny, nx, 0.5, -100.0);
    let xb = background(ny, nx);
    let bg = dir.path().join("ens.nc");
    {
        let mut f = netcdf::create(&bg).unwrap();
        f.add_dimension("member", nm).unwrap();
        f.add_dimension("lat", ny).unwrap();
        f.add_dimension("lon", nx).unwrap();
        let mut v = f.add_variable::<f64>("lat", &["lat"]).unwrap();
        v.put_attribute("units", "degrees_north").unwrap();
        v.put_values(&lat, ..).unwrap();
        let mut v = f.add_variable::<f64>("lon", &["lon"]).unwrap();
        v.put_attribute("units", "degrees_east").unwrap();
        v.put_values(&lon, ..).unwrap();
        let mut v = f
            .add_variable::<f64>("sm", &["member", "lat", "lon"])
            .unwrap();
        v.put_attribute("units", "m3 m-3").unwrap();
        let vals: Vec<f64> = (0..nm * ny * nx)
            .map(|k| xb[k % (ny * nx)] + 0.5 * noise(k + 17))
            .collect();
        v.put_values(&vals, ..).unwrap();
    }
    let obs = dir.path().join("obs.nc");
    let fo: Vec<f64> = (0..ny * nx)
        .map(|i| 0.3 + 0.04 * ((i % nx) as f64 * 0.3).sin())
        .collect();
    write_field(&obs, &field("img", &lat, &lon, fo), "test").unwrap();
    let out = dir.path().join("a.nc");
    let s = |p: &PathBuf| p.display().to_string();
    let args = [
        "--background",
        &s(&bg),
        "--bg-var",
        "sm",
        "--obs",
        &s(&obs),
        "--obs-var",
        "img",
        "--method",
        "enkf_like",
        "--error-sd",
        "0.01",
        "--out",
        &s(&out),
    ];
    ok(&image(&args));
    let (rb, ra) = (
        scalar(&out, "rmse_background"),
        scalar(&out, "rmse_analysis"),
    );
    assert!(ra < 0.8 * rb, "RMSE {rb} -> {ra}");
    let (s0, s1) = (
        read(&out, "background_spread"),
        read(&out, "analysis_spread"),
    );
    let mean = |v: &[f64]| {
        v.iter().filter(|x| x.is_finite()).sum::<f64>()
            / v.iter().filter(|x| x.is_finite()).count() as f64
    };
    assert!(
        mean(&s1) < mean(&s0),
        "spread {} -> {}",
        mean(&s0),
        mean(&s1)
    );
    assert!(read(&out, "band_mean_gain")
        .iter()
        .all(|g| (0.0..=1.0).contains(g)));
    common::check_cf(&out);
    // Same inputs and seed: identical file content.
    let out2 = dir.path().join("b.nc");
    let mut args2 = args.to_vec();
    let o2 = s(&out2);
    *args2.last_mut().unwrap() = &o2;
    ok(&image(&args2));
    let bits = |p: &Path| {
        read(p, "analysis")
            .iter()
            .map(|v| v.to_bits())
            .collect::<Vec<u64>>()
    };
    assert_eq!(bits(&out), bits(&out2));
}

#[test]
fn bad_inputs_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (ny, nx) = (20, 28);
    let (lat, lon) = axes(ny, nx, 0.5, -100.0);
    let bg = dir.path().join("bg.nc");
    write_field(&bg, &field("sm", &lat, &lon, background(ny, nx)), "test").unwrap();
    let s = bg.display().to_string();
    let out = dir.path().join("a.nc").display().to_string();
    let o = image(&[
        "--background",
        &s,
        "--bg-var",
        "nope",
        "--obs",
        &s,
        "--obs-var",
        "sm",
        "--out",
        &out,
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("'nope'") && err.contains("bg.nc"),
        "{err}"
    );
    let o = image(&[
        "--background",
        &s,
        "--bg-var",
        "sm",
        "--obs",
        &s,
        "--obs-var",
        "sm",
        "--method",
        "enkf_like",
        "--out",
        &out,
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("needs an ensemble"),
        "{err}"
    );
    assert!(!Path::new(&out).exists());
}

/// A real image: GLDAS 0–10 cm (kg m⁻² converted to m³ m⁻³) over CONUS as the observation,
/// ERA5 swvl1 on its own 0.25° grid (land by ERA5's mask) as the background. The grids are
/// offset by 0.125°: refused naming both, then remapped bilinearly; the analysis is closer
/// to the image than the background in RMSE and spatial correlation.
#[test]
fn real_gldas_image_reduces_rmse_of_era5_background() {
    let (Some(era5), Some(gldas)) = (
        landcycle::testdata::require("era5/ERA5_AN_20100101_0000.nc"),
        landcycle::testdata::require("gldas/GLDAS_NOAH025_3H.A20150101.0000.021.CONUS_subset.nc4"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sel = Selection {
        lat_range: Some((25.5, 49.5)),
        lon_range: Some((-124.5, -67.0)),
        ..Selection::default()
    };
    let mut sm = read_field(&era5, "swvl1", &sel).unwrap();
    let lsm = read_field(&era5, "lsm", &sel).unwrap();
    for (v, m) in sm.values.iter_mut().zip(&lsm.values) {
        if m.is_nan() || *m < 0.5 {
            *v = f64::NAN;
        }
    }
    let bg = dir.path().join("era5_conus.nc");
    write_field(&bg, &sm, "test: ERA5 swvl1 over CONUS, land only").unwrap();
    let out = dir.path().join("a.nc");
    let (b, g, o) = (
        bg.display().to_string(),
        gldas.display().to_string(),
        out.display().to_string(),
    );
    let base = [
        "--background",
        &b,
        "--bg-var",
        "swvl1",
        "--obs",
        &g,
        "--obs-var",
        "SoilMoi0_10cm_inst",
        "--b-sd",
        "0.05",
        "--out",
        &o,
    ];
    let refused = image(&base);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success()
            && err.contains("grids differ")
            && err.contains("era5_conus.nc")
            && err.contains("GLDAS")
            && err.contains("--remap bilinear"),
        "{err}"
    );
    let mut args = base.to_vec();
    args.extend(["--remap", "bilinear"]);
    let text = ok(&image(&args));
    let (rb, ra) = (
        scalar(&out, "rmse_background"),
        scalar(&out, "rmse_analysis"),
    );
    let (cb, ca) = (scalar(&out, "scc_background"), scalar(&out, "scc_analysis"));
    assert!(scalar(&out, "compared_cells") > 5000.0, "{text}");
    assert!(
        ra < 0.8 * rb && ca > cb,
        "RMSE {rb} -> {ra}, SCC {cb} -> {ca}"
    );
    // GLDAS kg m-2 became m3 m-3: the image is in the volumetric range.
    let img: Vec<f64> = read(&out, "observed_image")
        .into_iter()
        .filter(|v| v.is_finite())
        .collect();
    assert!(
        img.iter().all(|v| (0.0..0.7).contains(v)),
        "image not volumetric"
    );
    common::check_cf(&out);
}
