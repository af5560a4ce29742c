//! The curvelet command on real ERA5 soil moisture and the gridded NetCDF reader/writer.

use std::io::Read;
use std::path::{Path, PathBuf};

use landcycle::commands::curvelet::{compress_field, run, Args, CompressionReport};
use landcycle::io::gridded::{read_field, write_field, GriddedField, Selection};

const NC4: &str = "era5/ERA5_AN_20100101_0000.nc";
const NC3GZ: &str = "era5/era5_example_downloaded_raw.nc.gz";

fn east_asia(time_index: Option<usize>) -> Selection {
    Selection {
        time_index,
        lat_range: Some((23.0, 68.0)),
        lon_range: Some((73.0, 117.0)),
        ..Default::default()
    }
}

fn gunzip(src: &Path, dir: &Path) -> PathBuf {
    let mut gz = flate2::read::GzDecoder::new(std::fs::File::open(src).unwrap());
    let mut bytes = Vec::new();
    gz.read_to_end(&mut bytes).unwrap();
    let out = dir.join("era5_raw.nc");
    std::fs::write(&out, bytes).unwrap();
    out
}

fn show(label: &str, r: &CompressionReport) {
    println!(
        "{label}: corr {:.6} rel.err {:.4e} rmse {:.4e} max {:.4e} kept {}/{} units",
        r.correlation, r.relative_error, r.rmse, r.max_abs_error, r.kept_units, r.total_units
    );
}

#[test]
fn era5_east_asia_thresholding_netcdf4_and_packed_netcdf3() {
    let Some(nc4) = landcycle::testdata::require(NC4) else {
        return;
    };
    let Some(nc3gz) = landcycle::testdata::require(NC3GZ) else {
        return;
    };
    let f4 = read_field(&nc4, "swvl1", &east_asia(None)).unwrap();
    assert_eq!((f4.n_lat(), f4.n_lon()), (181, 177));
    assert!(f4.lat[0] > f4.lat[180], "file order kept: north first");
    assert!((f4.lat[0] - 68.0).abs() < 1e-9 && (f4.lon[0] - 73.0).abs() < 1e-9);
    // ERA5 swvl1 carries values over the sea as well: every cell is valid here.
    let fin: Vec<f64> = f4
        .values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let (lo, hi) = fin.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |a, v| {
        (a.0.min(*v), a.1.max(*v))
    });
    println!(
        "valid cells {} of {}, range {lo:.4}..{hi:.4}",
        fin.len(),
        f4.values.len()
    );
    assert!(lo > -0.01 && hi < 1.0 && hi > 0.3);

    let (r5_field, r5) = compress_field(&f4, 0.5).unwrap();
    show("NetCDF-4 sigma=0.5", &r5);
    assert!(
        r5.correlation > 0.99,
        "σ=0.5 correlation {}",
        r5.correlation
    );
    let (_, r1) = compress_field(&f4, 0.1).unwrap();
    show("NetCDF-4 sigma=0.1", &r1);
    assert!(r1.correlation > 0.9 && r1.correlation < r5.correlation);
    assert!(r1.kept_units < r5.kept_units);
    let (_, rall) = compress_field(&f4, 1.0).unwrap();
    assert!(
        rall.relative_error < 1e-12,
        "σ=1 is exact: {}",
        rall.relative_error
    );
    // Mask preserved.
    for (a, b) in f4.values.iter().zip(&r5_field.values) {
        assert_eq!(a.is_finite(), b.is_finite());
    }

    // Same field from the gzip-compressed, int16-packed NetCDF-3 file (time 0 = 2010-01-01 00Z).
    let dir = tempfile::tempdir().unwrap();
    let nc3 = gunzip(&nc3gz, dir.path());
    let f3 = read_field(&nc3, "swvl1", &east_asia(Some(0))).unwrap();
    assert_eq!(f3.lat, f4.lat);
    assert_eq!(f3.lon, f4.lon);
    let mut maxd: f64 = 0.0;
    for (a, b) in f3.values.iter().zip(&f4.values) {
        assert_eq!(a.is_finite(), b.is_finite());
        if a.is_finite() {
            maxd = maxd.max((a - b).abs());
        }
    }
    println!("max |NetCDF-3 − NetCDF-4| = {maxd:.3e}");
    assert!(maxd < 1e-6, "packed and float files differ by {maxd}");
    let (_, q5) = compress_field(&f3, 0.5).unwrap();
    show("NetCDF-3 sigma=0.5", &q5);
    assert!((q5.correlation - r5.correlation).abs() < 1e-6);
    assert!((q5.rmse - r5.rmse).abs() < 1e-6);
    assert_eq!(q5.kept_units, r5.kept_units);
    let (_, q1) = compress_field(&f3, 0.1).unwrap();
    assert!((q1.correlation - r1.correlation).abs() < 1e-6);
    assert!((q1.rmse - r1.rmse).abs() < 1e-6);
    // The second time step of the packed file is a different field.
    let f3b = read_field(&nc3, "swvl1", &east_asia(Some(1))).unwrap();
    assert_ne!(f3b.values, f3.values);
    let e = read_field(&nc3, "swvl1", &east_asia(Some(2)))
        .unwrap_err()
        .to_string();
    assert!(e.contains("time index 2") && e.contains("swvl1"), "{e}");
}

#[test]
fn curvelet_command_writes_reconstruction_and_png() {
    let Some(nc4) = landcycle::testdata::require(NC4) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rec.nc");
    let png = dir.path().join("rec.png");
    let args = Args {
        input: nc4.clone(),
        var: "swvl1".into(),
        time_index: None,
        lat_range: Some(vec![23.0, 68.0]),
        lon_range: Some(vec![73.0, 117.0]),
        keep: 0.5,
        output: out.clone(),
        png: Some(png.clone()),
    };
    run(&args).unwrap();
    let orig = read_field(&nc4, "swvl1", &east_asia(None)).unwrap();
    let rec = read_field(&out, "swvl1", &Selection::default()).unwrap();
    assert_eq!(rec.lat, orig.lat);
    assert_eq!(rec.lon, orig.lon);
    assert_eq!(rec.units.as_deref(), Some("m**3 m**-3"));
    let (expect, _) = compress_field(&orig, 0.5).unwrap();
    for (a, b) in rec.values.iter().zip(&expect.values) {
        assert_eq!(a.is_finite(), b.is_finite());
        if a.is_finite() {
            assert!((a - b).abs() < 1e-12);
        }
    }
    let meta = std::fs::metadata(&png).unwrap();
    assert!(meta.len() > 1000);

    // Bad inputs: clear errors.
    let bad = |f: &dyn Fn(&mut Args)| {
        let mut a = args.clone();
        f(&mut a);
        format!("{:#}", run(&a).unwrap_err())
    };
    let e = bad(&|a| a.keep = 0.0);
    assert!(e.contains("--keep") && e.contains("(0, 1]"), "{e}");
    let e = bad(&|a| a.keep = 1.5);
    assert!(e.contains("(0, 1]"), "{e}");
    let e = bad(&|a| a.var = "nosuch".into());
    assert!(
        e.contains("nosuch") && e.contains("ERA5_AN_20100101_0000.nc"),
        "{e}"
    );
    let e = bad(&|a| a.lat_range = Some(vec![23.0, 24.0]));
    assert!(e.contains("too small"), "{e}");
    let e = bad(&|a| a.time_index = Some(3));
    assert!(e.contains("no time dimension"), "{e}");
}

fn write_synthetic(path: &Path, with_level: bool) {
    // NetCDF-3 (64-bit offset), int16 packed, latitude ascending, longitude −180..180.
    let mut f = netcdf::create_with(path, netcdf::Options::_64BIT_OFFSET).unwrap();
    f.add_dimension("time", 2).unwrap();
    if with_level {
        f.add_dimension("level", 3).unwrap();
    }
    f.add_dimension("lat", 20).unwrap();
    f.add_dimension("lon", 72).unwrap();
    let lat: Vec<f64> = (0..20).map(|i| -47.5 + 5.0 * i as f64).collect();
    let lon: Vec<f64> = (0..72).map(|i| -180.0 + 5.0 * i as f64).collect();
    // Classic files: define everything first, then leave define mode and write.
    f.add_variable::<f64>("lat", &["lat"])
        .unwrap()
        .put_attribute("units", "degrees_north")
        .unwrap();
    f.add_variable::<f64>("lon", &["lon"])
        .unwrap()
        .put_attribute("units", "degrees_east")
        .unwrap();
    f.add_variable::<i32>("time", &["time"])
        .unwrap()
        .put_attribute("units", "hours since 2000-01-01")
        .unwrap();
    let dims: Vec<&str> = if with_level {
        vec!["time", "level", "lat", "lon"]
    } else {
        vec!["time", "lat", "lon"]
    };
    {
        let mut v = f.add_variable::<i16>("sm", &dims).unwrap();
        v.put_attribute("scale_factor", 0.001f32).unwrap();
        v.put_attribute("add_offset", 0.25f64).unwrap();
        v.put_attribute("_FillValue", -32767i16).unwrap();
        v.put_attribute("units", "m3 m-3").unwrap();
    }
    f.enddef().unwrap();
    f.variable_mut("lat").unwrap().put_values(&lat, ..).unwrap();
    f.variable_mut("lon").unwrap().put_values(&lon, ..).unwrap();
    f.variable_mut("time")
        .unwrap()
        .put_values(&[0i32, 6], ..)
        .unwrap();
    let nl = if with_level { 3 } else { 1 };
    let mut data = Vec::new();
    for t in 0..2 {
        for _ in 0..nl {
            for i in 0..20 {
                for j in 0..72 {
                    data.push(if (i, j) == (3, 4) {
                        -32767i16
                    } else {
                        (t * 1000 + i * 72 + j) as i16
                    });
                }
            }
        }
    }
    f.variable_mut("sm").unwrap().put_values(&data, ..).unwrap();
}

#[test]
fn reader_handles_packing_order_windows_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("syn3.nc");
    write_synthetic(&p, false);
    let all = read_field(
        &p,
        "sm",
        &Selection {
            time_index: Some(1),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!((all.n_lat(), all.n_lon()), (20, 72));
    assert!(all.lat[0] < all.lat[19]);
    assert!(all.values[3 * 72 + 4].is_nan());
    let expect =
        |t: usize, i: usize, j: usize| (t * 1000 + i * 72 + j) as f64 * 0.001f32 as f64 + 0.25;
    assert!((all.values[5 * 72 + 7] - expect(1, 5, 7)).abs() < 1e-12);
    assert!(all.is_global_lon());
    // A window across the date line in 0..360 notation: 170E → 170W (= 190E).
    let w = read_field(
        &p,
        "sm",
        &Selection {
            time_index: None,
            lat_range: Some((10.0, -10.0)),
            lon_range: Some((170.0, 190.0)),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(w.lon, vec![170.0, 175.0, 180.0, 185.0, 190.0]);
    assert_eq!(w.lat, vec![-7.5, -2.5, 2.5, 7.5]);
    // 180E is the file's −180 (column 0); 170E is column 70; time index defaults to 0.
    assert!((w.values[0] - expect(0, 8, 70)).abs() < 1e-12);
    assert!((w.values[2] - expect(0, 8, 0)).abs() < 1e-12);
    assert!((w.values[4] - expect(0, 8, 2)).abs() < 1e-12);

    // Write → read round trip (NetCDF-4, CF coordinates).
    let out = dir.path().join("out.nc");
    write_field(&out, &w, "test").unwrap();
    let back = read_field(&out, "sm", &Selection::default()).unwrap();
    assert_eq!(back.lat, w.lat);
    assert_eq!(back.lon, w.lon);
    for (a, b) in back.values.iter().zip(&w.values) {
        assert!(a == b || (a.is_nan() && b.is_nan()));
    }
    let g = GriddedField {
        values: vec![1.0; 3],
        ..w.clone()
    };
    let e = write_field(&out, &g, "x").unwrap_err().to_string();
    assert!(e.contains("out.nc") && e.contains("'sm'"), "{e}");

    // Not 2-D after the time selection.
    let p4 = dir.path().join("syn4.nc");
    write_synthetic(&p4, true);
    let e = read_field(&p4, "sm", &Selection::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("not 2-D") && e.contains("level") && e.contains("syn4.nc"),
        "{e}"
    );
    let e = read_field(
        &p,
        "sm",
        &Selection {
            lat_range: Some((80.0, 85.0)),
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("no latitude"), "{e}");
    let e = read_field(&dir.path().join("missing.nc"), "sm", &Selection::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.nc"), "{e}");
}

#[test]
fn reader_handles_lis_2d_coordinates_and_layers() {
    let Some(lis) = landcycle::testdata::require("lis-history/LIS_HIST_201704010000.d01.nc") else {
        return;
    };
    // SoilMoist_inst(SoilMoist_profiles, north_south, east_west) with 2-D lat/lon.
    let e = read_field(&lis, "SoilMoist_inst", &Selection::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("not 2-D") && e.contains("SoilMoist_profiles"),
        "{e}"
    );
    let top = Selection {
        indices: vec![("SoilMoist_profiles".into(), 0)],
        ..Default::default()
    };
    let f = read_field(&lis, "SoilMoist_inst", &top).unwrap();
    assert_eq!((f.n_lat(), f.n_lon()), (100, 50));
    assert!(
        f.lat.windows(2).all(|w| (w[1] - w[0] - 0.25).abs() < 1e-3),
        "{:?}",
        &f.lat[..3]
    );
    assert!(f.lon.windows(2).all(|w| (w[1] - w[0] - 0.25).abs() < 1e-3));
    let valid: Vec<f64> = f.values.iter().copied().filter(|v| v.is_finite()).collect();
    assert!(
        !valid.is_empty() && valid.len() < f.values.len(),
        "land and missing cells"
    );
    assert!(valid.iter().all(|v| *v > 0.0 && *v < 0.7));
    // The command's core works on it (diffusion fill of the missing cells).
    let (rec, rep) = compress_field(&f, 0.5).unwrap();
    println!("LIS layer 1 sigma=0.5: corr {:.6}", rep.correlation);
    assert!(rep.correlation > 0.95);
    for (a, b) in f.values.iter().zip(&rec.values) {
        assert_eq!(a.is_finite(), b.is_finite());
    }
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture in release"]
fn bench_table() {
    let t = landcycle::commands::curvelet::bench_curvelet().unwrap();
    println!("{t}");
    assert!(t.contains("1024×1024"));
}
