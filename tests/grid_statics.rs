//! Static fields: WPS geo_em reading (values checked against ncdump), the landcycle
//! static format round trip, validation errors, and the synthetic generator.

use std::path::Path;

use landcycle::grid::{GridError, StaticFields, VegetationDataset};
use landcycle::synth::statics::{synth_statics, try_synth_statics};

const GEO_EM: &str = "wps-geo-em/geo_em.d01.nc";

/// Tests of this file run one at a time: the CF-checker test starts a child process, and
/// a child forked while another thread holds an HDF5 file open inherits that descriptor
/// together with its HDF5 file lock, making a later open of the same file fail (EAGAIN).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    // HDF5 error printing is per thread and netCDF-C silences only the thread that
    // first initialises it; silence this test's thread too (expected errors are returned
    // as values, the printed stack is noise).
    hdf5::silence_errors(true);
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn geo_em_dimensions_mask_and_classes() {
    let _serial = serial();
    let Some(path) = landcycle::testdata::require(GEO_EM) else {
        return;
    };
    let sf = StaticFields::read_geo_em(&path).expect("read geo_em");
    assert_eq!(sf.grid.dims(), (129, 129));
    assert!(!sf.grid.is_regular());
    assert_eq!(sf.vegetation_dataset, VegetationDataset::ModisIgbpNoah);
    assert_eq!(sf.soil_dataset, "STAS");
    // ncdump: 16608 of 16641 cells have LANDMASK = 1 (the 33 others are lakes, LU 21).
    assert_eq!(sf.land_cells().len(), 16608);
    let n = 129 * 129;
    let water: Vec<usize> = (0..n).filter(|&k| !sf.land_mask()[k]).collect();
    assert_eq!(water.len(), 33);
    assert!(water.iter().all(|&k| sf.vegetation_class[k] == 21));
    // Land-cell class counts of LU_INDEX from ncdump (no land cell has a water class).
    let count = |c: i32| {
        (0..n)
            .filter(|&k| sf.land_mask()[k] && sf.vegetation_class[k] == c)
            .count()
    };
    assert_eq!(count(2), 13764);
    assert_eq!(count(9), 2371);
    assert_eq!(count(10), 386);
    // SCT_DOM: 11 land cells carry soil class 14 (water) in the file; they are given a
    // land class, the others are unchanged (ncdump counts on land: 12 -> 8148, 9 -> 3826).
    let soil_count = |c: i32| {
        (0..n)
            .filter(|&k| sf.land_mask()[k] && sf.soil_class[k] == c)
            .count()
    };
    assert_eq!(soil_count(14), 0);
    assert!(soil_count(12) >= 8148 && soil_count(12) <= 8148 + 11);
    assert!(soil_count(9) >= 3826 && soil_count(9) <= 3826 + 11);
    // Cell (109, 8): SOILCTOP is 25 % loam (class 6), 75 % water -> loam.
    assert_eq!(sf.soil_class[109 * 129 + 8], 6);
    for k in (0..n).filter(|&k| sf.land_mask()[k]) {
        assert!((1..=19).contains(&sf.soil_class[k]));
        assert!((1..=20).contains(&sf.vegetation_class[k]) && sf.vegetation_class[k] != 17);
        assert!((1..=2).contains(&sf.slope_class[k]));
    }
}

#[test]
fn geo_em_cell_values_match_ncdump() {
    let _serial = serial();
    let Some(path) = landcycle::testdata::require(GEO_EM) else {
        return;
    };
    let sf = StaticFields::read_geo_em(&path).expect("read geo_em");
    // (k, lat, lon, HGT_M, SOILTEMP, LU_INDEX, SCT_DOM, SLOPECAT, GREENFRAC Jan, Jul,
    //  ALBEDO12M Jan, Jul in percent) from `ncdump -p 9,17`.
    #[allow(clippy::type_complexity)]
    let cases: [(u64, f64, f64, f64, f64, i32, i32, i32, f64, f64, f64, f64); 5] = [
        (
            0,
            -13.073616,
            -64.7001038,
            136.2553,
            298.983,
            10,
            9,
            1,
            0.486249983,
            0.460624993,
            15.2329655,
            10.8062744,
        ),
        (
            128,
            -13.0366745,
            -59.9765625,
            603.2349,
            298.6569,
            2,
            2,
            1,
            0.859999955,
            0.777499974,
            10.0001268,
            10.0,
        ),
        (
            8320,
            -10.7620544,
            -62.3569946,
            271.6838,
            298.665,
            9,
            12,
            2,
            0.666999936,
            0.599999964,
            18.0,
            11.7635498,
        ),
        (
            16640,
            -8.43318176,
            -60.0496826,
            119.6052,
            298.6291,
            2,
            12,
            2,
            0.898750007,
            0.898750007,
            9.0,
            9.0,
        ),
        (
            5000,
            -11.6851578,
            -61.1004333,
            192.6298,
            298.5877,
            2,
            9,
            2,
            0.806249976,
            0.780624986,
            17.3530884,
            11.0,
        ),
    ];
    for (k, lat, lon, hgt, tmn, lu, sct, slope, gjan, gjul, ajan, ajul) in cases {
        let c = sf.cell_statics(k);
        assert!(close(c.latitude, lat, 1e-5), "lat at {k}: {}", c.latitude);
        assert!(close(c.longitude, lon, 1e-5), "lon at {k}: {}", c.longitude);
        assert!(close(c.elevation, hgt, 1e-3), "hgt at {k}: {}", c.elevation);
        assert!(close(c.deep_soil_temperature, tmn, 1e-3), "tmn at {k}");
        assert_eq!(c.vegetation_class, lu, "LU_INDEX at {k}");
        assert_eq!(c.soil_class, sct, "SCT_DOM at {k}");
        assert_eq!(c.slope_class, slope, "SLOPECAT at {k}");
        assert!(
            close(c.green_fraction_monthly[0], gjan, 1e-6),
            "GREENFRAC Jan at {k}"
        );
        assert!(
            close(c.green_fraction_monthly[6], gjul, 1e-6),
            "GREENFRAC Jul at {k}"
        );
        // ALBEDO12M is in percent in the file.
        assert!(
            close(c.albedo_monthly[0], ajan / 100.0, 1e-6),
            "ALBEDO12M Jan at {k}"
        );
        assert!(
            close(c.albedo_monthly[6], ajul / 100.0, 1e-6),
            "ALBEDO12M Jul at {k}"
        );
        // SNOALB is 32 % everywhere in this file.
        assert!(close(c.max_snow_albedo, 0.32, 1e-9));
    }
    // Cell areas: DX = 4 km; MAPFAC_M is 1 at the centre and 1.00081658 at (0, 0).
    let areas = sf.grid.cell_areas();
    assert!(
        close(areas[8320] / 16.0e6, 1.0, 0.01),
        "centre area {}",
        areas[8320]
    );
    let expect00 = 16.0e6 / (1.00081658f64 * 1.00081658);
    assert!(
        close(areas[0] / expect00, 1.0, 0.01),
        "corner area {}",
        areas[0]
    );
}

#[test]
fn geo_em_converted_to_landcycle_round_trips_bit_identically() {
    let _serial = serial();
    let Some(path) = landcycle::testdata::require(GEO_EM) else {
        return;
    };
    let sf = StaticFields::read_geo_em(&path).expect("read geo_em");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("statics_d01.nc");
    sf.write_landcycle(&out).unwrap();
    let back = StaticFields::read_landcycle(&out).unwrap();
    assert_bit_identical(&sf, &back);
    assert!(!back.grid.is_regular());
}

fn assert_bit_identical(a: &StaticFields, b: &StaticFields) {
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(a.grid.dims(), b.grid.dims());
    assert_eq!(a.grid.land_mask(), b.grid.land_mask());
    for j in 0..a.ny() {
        for i in 0..a.nx() {
            assert_eq!(a.grid.lat(j, i).to_bits(), b.grid.lat(j, i).to_bits());
            assert_eq!(a.grid.lon(j, i).to_bits(), b.grid.lon(j, i).to_bits());
        }
    }
    assert_eq!(a.vegetation_dataset, b.vegetation_dataset);
    assert_eq!(a.soil_dataset, b.soil_dataset);
    assert_eq!(a.soil_class, b.soil_class);
    assert_eq!(a.vegetation_class, b.vegetation_class);
    assert_eq!(a.slope_class, b.slope_class);
    assert_eq!(bits(&a.green_fraction), bits(&b.green_fraction));
    assert_eq!(bits(&a.albedo), bits(&b.albedo));
    assert_eq!(
        bits(&a.deep_soil_temperature),
        bits(&b.deep_soil_temperature)
    );
    assert_eq!(bits(&a.elevation), bits(&b.elevation));
    assert_eq!(bits(&a.max_snow_albedo), bits(&b.max_snow_albedo));
}

#[test]
fn synthetic_round_trip_and_atomic_replace() {
    let _serial = serial();
    let sf = synth_statics(64, 48, 35.0, -100.0, 0.25, 7);
    assert!(sf.grid.is_regular());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("statics.nc");
    sf.write_landcycle(&out).unwrap();
    // Overwriting an existing file goes through a temporary name; nothing is left behind.
    let other = synth_statics(64, 48, 35.0, -100.0, 0.25, 8);
    other.write_landcycle(&out).unwrap();
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, vec!["statics.nc".to_string()]);
    let back = StaticFields::read_landcycle(&out).unwrap();
    assert_bit_identical(&other, &back);
    assert_ne!(back.soil_class, sf.soil_class);
    // A cell read back gives the same CellStatics.
    for id in other.land_cells().into_iter().step_by(97) {
        assert_eq!(other.cell_statics(id), back.cell_statics(id));
    }
    // Per-rank reading: the grid alone, then only the hyperslab of one rank's cells.
    let grid = StaticFields::read_landcycle_grid(&out).unwrap();
    assert_eq!(grid, other.grid);
    let d = landcycle::grid::Decomposition::new(&grid, 5).unwrap();
    for rank in [0, 3] {
        let ids = d.cells_of(rank);
        let cells = StaticFields::read_landcycle_cells(&out, ids).unwrap();
        assert_eq!(cells.len(), ids.len());
        for (c, &id) in cells.iter().zip(ids) {
            assert_eq!(*c, other.cell_statics(id));
        }
    }
    assert!(StaticFields::read_landcycle_cells(&out, &[])
        .unwrap()
        .is_empty());
    assert!(StaticFields::read_landcycle_cells(&out, &[64 * 48]).is_err());
}

/// Write a valid file, then rewrite one variable in place (test-only corruption).
fn corrupt<F: FnOnce(&mut netcdf::FileMut)>(src: &StaticFields, path: &Path, f: F) {
    src.write_landcycle(path).unwrap();
    let mut file = netcdf::append(path).unwrap();
    f(&mut file);
    file.close().unwrap();
}

fn err_string(r: Result<StaticFields, GridError>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn errors_name_file_and_variable() {
    let _serial = serial();
    let sf = synth_statics(20, 16, 40.0, 10.0, 0.5, 3);
    let dir = tempfile::tempdir().unwrap();
    let land = sf.land_cells()[5] as usize;

    // Soil class outside the table on a land cell.
    let p = dir.path().join("bad_soil.nc");
    corrupt(&sf, &p, |f| {
        let mut v = f.variable_mut("soil_class").unwrap();
        v.put_value(25i32, [land / 20, land % 20]).unwrap();
    });
    let msg = err_string(StaticFields::read_landcycle(&p));
    assert!(
        msg.contains("bad_soil.nc") && msg.contains("soil_class"),
        "{msg}"
    );
    assert!(msg.contains("25"), "{msg}");

    // Water vegetation class on a land cell.
    let p = dir.path().join("bad_veg.nc");
    corrupt(&sf, &p, |f| {
        let mut v = f.variable_mut("vegetation_class").unwrap();
        v.put_value(16i32, [land / 20, land % 20]).unwrap();
    });
    let msg = err_string(StaticFields::read_landcycle(&p));
    assert!(
        msg.contains("bad_veg.nc") && msg.contains("vegetation_class"),
        "{msg}"
    );

    // Green fraction above one in May.
    let p = dir.path().join("bad_gvf.nc");
    corrupt(&sf, &p, |f| {
        let mut v = f.variable_mut("green_fraction").unwrap();
        v.put_value(1.5f64, [4, land / 20, land % 20]).unwrap();
    });
    let msg = err_string(StaticFields::read_landcycle(&p));
    assert!(
        msg.contains("bad_gvf.nc") && msg.contains("green_fraction") && msg.contains("month 5"),
        "{msg}"
    );

    // A variable with the wrong shape.
    let p2 = dir.path().join("bad_shape2.nc");
    {
        let mut f = netcdf::create(&p2).unwrap();
        f.add_attribute("vegetation_dataset", "USGS").unwrap();
        f.add_attribute("soil_dataset", "STAS").unwrap();
        f.add_dimension("lat", 4).unwrap();
        f.add_dimension("lon", 5).unwrap();
        f.add_dimension("lat_short", 3).unwrap();
        f.add_dimension("month", 12).unwrap();
        let mut v = f.add_variable::<f64>("lat", &["lat"]).unwrap();
        v.put_values(&[1.0, 2.0, 3.0, 4.0], ..).unwrap();
        let mut v = f.add_variable::<f64>("lon", &["lon"]).unwrap();
        v.put_values(&[1.0, 2.0, 3.0, 4.0, 5.0], ..).unwrap();
        let mut v = f.add_variable::<i8>("land_mask", &["lat", "lon"]).unwrap();
        v.put_values(&[1i8; 20], ..).unwrap();
        for name in ["soil_class", "vegetation_class", "slope_class"] {
            let mut v = f.add_variable::<i32>(name, &["lat", "lon"]).unwrap();
            v.put_values(&[6i32; 20], ..).unwrap();
        }
        let mut v = f
            .add_variable::<i32>("soil_class_x", &["lat_short", "lon"])
            .unwrap();
        v.put_values(&[6i32; 15], ..).unwrap();
        for name in ["green_fraction", "albedo"] {
            let mut v = f
                .add_variable::<f64>(name, &["month", "lat", "lon"])
                .unwrap();
            v.put_values(&[0.2f64; 240], ..).unwrap();
        }
        let mut v = f
            .add_variable::<f64>("deep_soil_temperature", &["lat", "lon"])
            .unwrap();
        v.put_values(&[285.0f64; 20], ..).unwrap();
        let mut v = f
            .add_variable::<f64>("elevation", &["lat_short", "lon"])
            .unwrap();
        v.put_values(&[100.0f64; 15], ..).unwrap();
        let mut v = f
            .add_variable::<f64>("max_snow_albedo", &["lat", "lon"])
            .unwrap();
        v.put_values(&[0.6f64; 20], ..).unwrap();
        f.close().unwrap();
    }
    let msg = err_string(StaticFields::read_landcycle(&p2));
    assert!(
        msg.contains("bad_shape2.nc") && msg.contains("elevation"),
        "{msg}"
    );
    assert!(msg.contains("[3, 5]") && msg.contains("[4, 5]"), "{msg}");

    // A missing variable.
    let p3 = dir.path().join("missing.nc");
    {
        let mut f = netcdf::create(&p3).unwrap();
        f.add_attribute("vegetation_dataset", "USGS").unwrap();
        f.add_attribute("soil_dataset", "STAS").unwrap();
        f.add_dimension("lat", 2).unwrap();
        f.add_dimension("lon", 2).unwrap();
        let mut v = f.add_variable::<f64>("lat", &["lat"]).unwrap();
        v.put_values(&[1.0, 2.0], ..).unwrap();
        let mut v = f.add_variable::<f64>("lon", &["lon"]).unwrap();
        v.put_values(&[1.0, 2.0], ..).unwrap();
        f.close().unwrap();
    }
    let msg = err_string(StaticFields::read_landcycle(&p3));
    assert!(
        msg.contains("missing.nc") && msg.contains("land_mask"),
        "{msg}"
    );

    // Fields inconsistent with the grid are refused on write as well, naming the field.
    let mut bad = sf.clone();
    bad.albedo.pop();
    let e = bad
        .write_landcycle(&dir.path().join("never.nc"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("albedo") && e.contains("never.nc"), "{e}");
    assert!(!dir.path().join("never.nc").exists());
}

#[test]
fn geo_em_errors_name_file_and_variable() {
    let _serial = serial();
    let Some(path) = landcycle::testdata::require(GEO_EM) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // A copy with ALBEDO12M units changed to something unknown.
    let p = dir.path().join("geo_em_units.nc");
    std::fs::copy(&path, &p).unwrap();
    {
        let mut f = netcdf::append(&p).unwrap();
        let mut v = f.variable_mut("ALBEDO12M").unwrap();
        v.put_attribute("units", "furlongs").unwrap();
        f.close().unwrap();
    }
    let msg = err_string(StaticFields::read_geo_em(&p));
    assert!(
        msg.contains("geo_em_units.nc") && msg.contains("ALBEDO12M"),
        "{msg}"
    );
    // A copy with a deep soil temperature of 0 K on a land cell.
    let p = dir.path().join("geo_em_tmn.nc");
    std::fs::copy(&path, &p).unwrap();
    {
        let mut f = netcdf::append(&p).unwrap();
        let mut v = f.variable_mut("SOILTEMP").unwrap();
        v.put_value(0.0f32, [0, 64, 64]).unwrap();
        f.close().unwrap();
    }
    let msg = err_string(StaticFields::read_geo_em(&p));
    assert!(
        msg.contains("geo_em_tmn.nc") && msg.contains("deep_soil_temperature"),
        "{msg}"
    );
    assert!(msg.contains("j=64, i=64"), "{msg}");
    // Missing file.
    let msg = err_string(StaticFields::read_geo_em(&dir.path().join("nope.nc")));
    assert!(msg.contains("nope.nc"), "{msg}");
}

#[test]
fn synthetic_statics_are_deterministic_and_plausible() {
    let _serial = serial();
    let a = synth_statics(64, 48, 35.0, -100.0, 0.25, 42);
    let b = synth_statics(64, 48, 35.0, -100.0, 0.25, 42);
    assert_eq!(a, b);
    let c = synth_statics(64, 48, 35.0, -100.0, 0.25, 43);
    assert_ne!(a.elevation, c.elevation);
    a.validate(Path::new("<synthetic>")).unwrap();

    let n = 64 * 48;
    let land = a.land_cells();
    let water_frac = 1.0 - land.len() as f64 / n as f64;
    assert!(
        (0.10..=0.25).contains(&water_frac),
        "water fraction {water_frac}"
    );
    let frac = |pred: &dyn Fn(i32) -> bool| {
        land.iter()
            .filter(|&&k| pred(a.vegetation_class[k as usize]))
            .count() as f64
            / land.len() as f64
    };
    let forest = frac(&|c| (11..=15).contains(&c));
    let crop = frac(&|c| (2..=6).contains(&c));
    let grass = frac(&|c| c == 7);
    let barren = frac(&|c| c == 19);
    let shrub = frac(&|c| c == 8 || c == 9);
    for (name, f) in [
        ("forest", forest),
        ("crop", crop),
        ("grass", grass),
        ("barren", barren),
        ("shrub", shrub),
    ] {
        assert!(f > 0.02, "{name} fraction {f}");
    }
    // Loams (classes 3, 4, 6) dominate the soils.
    let loams = land
        .iter()
        .filter(|&&k| [3, 4, 6].contains(&a.soil_class[k as usize]))
        .count() as f64
        / land.len() as f64;
    assert!(loams > 0.45, "loam fraction {loams}");
    // Spatial structure: neighbouring cells share classes far more often than chance.
    let mut same = 0;
    let mut pairs = 0;
    for j in 0..48 {
        for i in 0..63 {
            let (k1, k2) = (j * 64 + i, j * 64 + i + 1);
            if a.land_mask()[k1] && a.land_mask()[k2] {
                pairs += 1;
                same += usize::from(a.soil_class[k1] == a.soil_class[k2]);
            }
        }
    }
    assert!(
        same as f64 / pairs as f64 > 0.6,
        "soil patchiness {same}/{pairs}"
    );
    // Northern-hemisphere cropland is greener in July than in January.
    let crop_cell = land
        .iter()
        .copied()
        .find(|&k| a.vegetation_class[k as usize] == 2)
        .unwrap();
    let cs = a.cell_statics(crop_cell);
    assert!(cs.green_fraction_monthly[6] > cs.green_fraction_monthly[0] + 0.3);
    // Deep soil temperature falls with elevation.
    let (lo, hi) = land.iter().fold((u64::MAX, u64::MAX), |(lo, hi), &k| {
        let e = a.elevation[k as usize];
        let lo = if lo == u64::MAX || e < a.elevation[lo as usize] {
            k
        } else {
            lo
        };
        let hi = if hi == u64::MAX || e > a.elevation[hi as usize] {
            k
        } else {
            hi
        };
        (lo, hi)
    });
    assert!(a.elevation[hi as usize] - a.elevation[lo as usize] > 500.0);
    let (tlo, thi) = (a.cell_statics(lo), a.cell_statics(hi));
    if (tlo.latitude - thi.latitude).abs() < 3.0 {
        assert!(thi.deep_soil_temperature < tlo.deep_soil_temperature);
    }
    // Bad arguments are errors, not panics, through the checked entry.
    assert!(try_synth_statics(0, 4, 0.0, 0.0, 0.25, 1).is_err());
    assert!(try_synth_statics(4, 4, 0.0, 0.0, -0.25, 1).is_err());
    assert!(try_synth_statics(4, 400, 0.0, 0.0, 0.25, 1).is_err());
}

#[test]
fn landcycle_static_file_passes_cf_checker() {
    let _serial = serial();
    // The checker ships beside the shared data; without it the test is skipped.
    let cfcheck = landcycle::testdata::root().join("../tools/cf/cfcheck");
    if !cfcheck.exists() {
        eprintln!("SKIPPED: {} not found", cfcheck.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut files = vec![dir.path().join("synthetic.nc")];
    synth_statics(16, 12, -5.0, 30.0, 0.5, 1)
        .write_landcycle(&files[0])
        .unwrap();
    if let Some(path) = landcycle::testdata::require(GEO_EM) {
        files.push(dir.path().join("curvilinear.nc"));
        StaticFields::read_geo_em(&path)
            .unwrap()
            .write_landcycle(&files[1])
            .unwrap();
    }
    let out = std::process::Command::new(cfcheck)
        .args(&files)
        .output()
        .expect("run cfcheck");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "cfcheck failed:\n{text}");
    assert_eq!(
        text.matches("ERRORS detected: 0").count(),
        files.len(),
        "{text}"
    );
}
