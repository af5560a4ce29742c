//! Synthetic product files (OSSE observation simulator) read back with the real readers,
//! their layout compared with the real files, and the mapping of observations to a grid.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use landcycle::obs::ascat::{read_ascat_eumetsat, AscatOptions};
use landcycle::obs::mapping::{map_to_grid, Combine, LatLonGrid};
use landcycle::obs::smap::{read_smap_spl2smp, SmapOptions};
use landcycle::obs::{ease, Quality, Sensor};
use landcycle::synth::obs_sim::{
    write_ascat_like_orbit, write_smap_like_granule, AscatProduct, SimAscatOrbit, SimSmapRetrieval,
};
use landcycle::testdata::require;

fn t0() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2020, 6, 3)
        .unwrap()
        .and_hms_opt(6, 0, 0)
        .unwrap()
}

fn smap_retrievals() -> Vec<SimSmapRetrieval> {
    let mut rs = Vec::new();
    for k in 0..40u16 {
        let time = t0() + Duration::microseconds(1_234_567 * k as i64);
        let mut r =
            SimSmapRetrieval::at_ease_cell(80 + k / 8, 200 + k % 8, time, 0.1 + 0.005 * k as f64)
                .unwrap();
        r.error = 0.03;
        match k {
            3 => r.qual_flag = 1 | 8,         // not recommended
            7 => r.vwc = 7.5,                 // dense vegetation
            11 => r.soil_moisture = f64::NAN, // fill
            _ => r.qual_flag = 8,
        }
        rs.push(r);
    }
    rs
}

#[test]
fn smap_like_granule_round_trips_through_the_reader() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir
        .path()
        .join("SMAP_L2_SM_P_99999_A_20200603T060000_SIM_001.h5");
    let rs = smap_retrievals();
    write_smap_like_granule(&p, &rs).unwrap();
    let b = read_smap_spl2smp(&p, &SmapOptions::default()).unwrap();
    assert_eq!(b.n_records, 40);
    assert_eq!(b.rejected.get("not_recommended"), 1);
    assert_eq!(b.rejected.get("vegetation_water_content"), 1);
    assert_eq!(b.rejected.get("fill_value"), 1);
    assert_eq!(b.observations.len(), 37);
    let kept: Vec<&SimSmapRetrieval> = rs
        .iter()
        .enumerate()
        .filter(|(k, _)| ![3, 7, 11].contains(k))
        .map(|(_, r)| r)
        .collect();
    for (o, r) in b.observations.iter().zip(kept) {
        assert_eq!(
            o.time, r.time,
            "time survives the J2000/leap-second round trip"
        );
        assert_eq!(o.value, r.soil_moisture as f32 as f64);
        assert_eq!(o.lat, r.lat as f32 as f64);
        assert_eq!(o.lon, r.lon as f32 as f64);
        assert_eq!(o.error_sd, 0.02);
        assert_eq!(o.source, Sensor::Smap);
        match o.quality {
            Quality::Smap {
                ease_row,
                ease_column,
                retrieval_qual_flag,
                ..
            } => {
                assert_eq!((ease_row, ease_column), (r.ease_row, r.ease_col));
                assert_eq!(retrieval_qual_flag, 8);
                let (la, lo) =
                    ease::cell_center_36km(ease_row as usize, ease_column as usize).unwrap();
                assert!((la - o.lat).abs() < 1e-5 && (lo - o.lon).abs() < 1e-5);
            }
            _ => panic!("wrong quality"),
        }
    }
    // The product's own error is honoured on request.
    let b2 = read_smap_spl2smp(
        &p,
        &SmapOptions {
            use_product_error: true,
            ..SmapOptions::default()
        },
    )
    .unwrap();
    assert!(b2.observations.iter().all(|o| o.error_sd == 0.03f32 as f64));
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

/// The synthetic granule uses the real file's dataset types and fill values.
#[test]
fn smap_like_granule_matches_the_real_layout() {
    let Some(real) = require("smap-spl2smp/SMAP_L2_SM_P_02801_A_20150811T013002_R18290_001.h5")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("sim.h5");
    write_smap_like_granule(&p, &smap_retrievals()).unwrap();
    let (fr, fs) = (
        hdf5::File::open(&real).unwrap(),
        hdf5::File::open(&p).unwrap(),
    );
    let (gr, gs) = (
        fr.group("Soil_Moisture_Retrieval_Data").unwrap(),
        fs.group("Soil_Moisture_Retrieval_Data").unwrap(),
    );
    let names = gs.member_names().unwrap();
    assert!(names.len() >= 14, "{names:?}");
    for name in &names {
        let (dr, ds) = (gr.dataset(name).unwrap(), gs.dataset(name).unwrap());
        assert_eq!(
            dr.dtype().unwrap().to_descriptor().unwrap(),
            ds.dtype().unwrap().to_descriptor().unwrap(),
            "{name}"
        );
        assert_eq!(dr.ndim(), ds.ndim(), "{name}");
        let real_attrs = dr.attr_names().unwrap();
        for a in ds.attr_names().unwrap() {
            assert!(
                real_attrs.contains(&a),
                "{name}: attribute {a} not in the real file"
            );
        }
        if real_attrs.contains(&"_FillValue".to_string()) {
            let (ar, as_) = (
                dr.attr("_FillValue").unwrap(),
                ds.attr("_FillValue").unwrap(),
            );
            assert_eq!(
                ar.dtype().unwrap().to_descriptor().unwrap(),
                as_.dtype().unwrap().to_descriptor().unwrap()
            );
            assert_eq!(
                ar.read_raw::<f64>().unwrap(),
                as_.read_raw::<f64>().unwrap()
            );
        }
    }
}

fn ascat_orbit() -> SimAscatOrbit {
    let (nr, nc) = (6usize, 5usize);
    let n = nr * nc;
    let line_times = (0..nr)
        .map(|r| t0() + Duration::seconds(2 * r as i64))
        .collect();
    let mut o = SimAscatOrbit {
        product: AscatProduct::Smr,
        platform: "METOPA".into(),
        n_cells: nc,
        line_times,
        lat: (0..n).map(|k| 40.0 + 0.1234567 * k as f64).collect(),
        lon: (0..n).map(|k| -100.0 + 0.0765432 * k as f64).collect(),
        soil_moisture: (0..n).map(|k| 10.0 + 2.5 * k as f64).collect(),
        soil_moisture_error: vec![5.5; n],
        snow_cover_probability: vec![0; n],
        frozen_soil_probability: vec![0; n],
        wetland_flag: vec![2; n],
        topography_flag: vec![5; n],
        proc_flag1: vec![0; n],
        aggregated_quality_flag: vec![5; n],
    };
    o.soil_moisture[1] = f64::NAN; // missing
    o.soil_moisture_error[2] = 17.0; // estimated_error
    o.topography_flag[3] = 25; // topography
    o.wetland_flag[4] = 15; // wetland
    o.snow_cover_probability[5] = 60; // snow
    o.frozen_soil_probability[6] = 255; // frozen (unknown)
    o.lat[7] = f64::NAN; // missing location
    o.soil_moisture[8] = 100.0; // saturated but valid
    o.proc_flag1[9] = 2; // kept unless the processing-flag rule is on
    o
}

#[test]
fn ascat_like_orbit_round_trips_and_is_big_endian() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir
        .path()
        .join("ASCAT_SMR_125_METOPA_20200603060000_00001_ssm_l2.nc");
    let o = ascat_orbit();
    write_ascat_like_orbit(&p, &o).unwrap();
    let b = read_ascat_eumetsat(&p, &AscatOptions::default()).unwrap();
    assert_eq!(b.n_records, 30);
    for rule in [
        "missing_location",
        "missing_value",
        "estimated_error",
        "topography",
        "wetland",
        "snow",
        "frozen",
    ] {
        assert_eq!(b.rejected.get(rule), 1, "{rule}");
    }
    assert_eq!(b.observations.len(), 23);
    let accepted: Vec<usize> = (0..30).filter(|k| !(1..=7).contains(k)).collect();
    for (obs, &k) in b.observations.iter().zip(&accepted) {
        let (row, cell) = (k / 5, k % 5);
        assert_eq!(
            obs.value,
            (o.soil_moisture[k] * 100.0).round() / 100.0,
            "{k}"
        );
        // Packed as round(x·1e6) and unpacked as raw / 1e6.
        assert_eq!(obs.lat, (o.lat[k] * 1e6).round() / 1e6);
        assert_eq!(obs.lon, (o.lon[k] * 1e6).round() / 1e6);
        assert_eq!(obs.time, o.line_times[row]);
        match obs.quality {
            Quality::Ascat {
                row: r,
                cell: c,
                product_error,
                ..
            } => {
                assert_eq!((r as usize, c as usize), (row, cell));
                assert!((product_error - 5.5).abs() < 1e-9);
            }
            _ => panic!("wrong quality"),
        }
    }
    let strict = AscatOptions {
        reject_processing_flag: true,
        ..AscatOptions::default()
    };
    let b2 = read_ascat_eumetsat(&p, &strict).unwrap();
    assert_eq!(b2.rejected.get("processing_flag"), 1);
    assert_eq!(b2.observations.len(), 22);

    let f = netcdf::open(&p).unwrap();
    for name in ["soil_moisture", "latitude", "utc_line_nodes"] {
        assert_eq!(
            f.variable(name).unwrap().endianness().unwrap(),
            netcdf::Endianness::Big,
            "{name}"
        );
    }
    if let Some(real) =
        require("ascat-eumetsat/ASCAT_SMR_125_METOPA_20170220041500_53652_ssm_l2.nc")
    {
        let r = netcdf::open(&real).unwrap();
        for v in f.variables() {
            let rv = r.variable(&v.name()).unwrap();
            assert_eq!(v.vartype(), rv.vartype(), "{}", v.name());
            let dims: Vec<String> = v.dimensions().iter().map(|d| d.name()).collect();
            let rdims: Vec<String> = rv.dimensions().iter().map(|d| d.name()).collect();
            assert_eq!(dims, rdims);
        }
    }
}

#[test]
fn observations_map_to_nearest_land_cells() {
    // 1° grid, 3 × 4 cells, lat descending like ERA5; cell (2, 3) is water.
    let lat = [42.0, 41.0, 40.0];
    let lon = [-103.0, -102.0, -101.0, -100.0];
    let mut land = vec![true; 12];
    land[2 * 4 + 3] = false;
    let grid = LatLonGrid {
        lat: &lat,
        lon: &lon,
        land: &land,
    };
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("o.nc");
    let mut o = ascat_orbit();
    // Put all 30 nodes inside the grid: 2 rows of the orbit in cell (0, 0) etc.
    for k in 0..30 {
        o.lat[k] = 42.2 - 0.09 * k as f64;
        o.lon[k] = 257.0 - 360.0 + 0.1 * (k % 5) as f64;
    }
    o.lat[13] = 39.8;
    o.lon[13] = -100.1; // water cell
    o.lat[12] = 30.0; // outside the grid
    write_ascat_like_orbit(&p, &o).unwrap();
    let b = read_ascat_eumetsat(&p, &AscatOptions::default()).unwrap();
    let n_in = b.observations.len();
    let (start, end) = (t0() - Duration::hours(3), t0() + Duration::seconds(8));
    let (cells, rej) = map_to_grid(&b.observations, start, end, &grid, Combine::Average, 0.0);
    assert_eq!(rej.get("outside_grid"), 1);
    assert_eq!(rej.get("not_land"), 1);
    // rows at t0 + 10 s fall after the window end.
    let late = b.observations.iter().filter(|x| x.time > end).count();
    assert_eq!(rej.get("outside_window"), late);
    let total: usize = cells.iter().map(|c| c.count).sum();
    assert_eq!(total + rej.total(), n_in);
    for c in &cells {
        let members: Vec<_> = b
            .observations
            .iter()
            .filter(|x| {
                x.time <= end
                    && (x.lat - lat[c.iy]).abs() <= 0.5
                    && (x.lon - lon[c.ix]).abs() <= 0.5
            })
            .collect();
        assert_eq!(members.len(), c.count);
        let mean = members.iter().map(|x| x.value).sum::<f64>() / c.count as f64;
        assert!((c.value - mean).abs() < 1e-12);
    }
    let (latest, _) = map_to_grid(&b.observations, start, end, &grid, Combine::Latest, 0.0);
    assert_eq!(latest.len(), cells.len());
    for (a, l) in cells.iter().zip(&latest) {
        assert_eq!((a.cell, a.count, a.time), (l.cell, l.count, l.time));
        let last = b
            .observations
            .iter()
            .rfind(|x| {
                x.time == l.time
                    && (x.lat - lat[l.iy]).abs() <= 0.5
                    && (x.lon - lon[l.ix]).abs() <= 0.5
            })
            .unwrap();
        assert_eq!(l.value, last.value);
    }
}

/// NetCDF-3 conversions store the unsigned fields as signed types with `_Unsigned = "true"`:
/// 65535 arrives as −1 and a flag of 200 as −56; the reader must see 65535 and 200.
#[test]
fn ascat_reader_handles_signed_storage_with_unsigned_attribute() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ascat_nc3.nc");
    {
        // Classic format: define everything, leave define mode, then write the data.
        let mut f = netcdf::create_with(&p, netcdf::Options::empty()).unwrap();
        f.add_dimension("numRows", 2).unwrap();
        f.add_dimension("numCells", 3).unwrap();
        let rc = ["numRows", "numCells"];
        f.add_variable::<i32>("utc_line_nodes", &["numRows"])
            .unwrap()
            .put_attribute("units", "seconds since 2000-01-01 00:00:00")
            .unwrap();
        for name in ["latitude", "longitude"] {
            let mut v = f.add_variable::<i32>(name, &rc).unwrap();
            v.put_attribute("scale_factor", 1.0e-6f32).unwrap();
            v.put_attribute("missing_value", i32::MIN).unwrap();
        }
        for name in ["soil_moisture", "soil_moisture_error"] {
            let mut v = f.add_variable::<i16>(name, &rc).unwrap();
            v.put_attribute("scale_factor", 0.01f32).unwrap();
            v.put_attribute("_Unsigned", "true").unwrap();
        }
        let flags = [
            "snow_cover_probability",
            "frozen_soil_probability",
            "wetland_flag",
            "topography_flag",
            "proc_flag1",
            "aggregated_quality_flag",
        ];
        for name in flags {
            f.add_variable::<i8>(name, &rc)
                .unwrap()
                .put_attribute("_Unsigned", "true")
                .unwrap();
        }
        f.enddef().unwrap();
        let mut put = |name: &str, write: &dyn Fn(&mut netcdf::VariableMut)| {
            write(&mut f.variable_mut(name).unwrap());
        };
        put("utc_line_nodes", &|v| {
            v.put_values(&[600_000_000i32, 600_000_002], ..).unwrap()
        });
        put("latitude", &|v| {
            let x: Vec<i32> = (0..6).map(|k| 45_000_000 + 10_000 * k).collect();
            v.put_values(&x, ..).unwrap()
        });
        put("longitude", &|v| {
            let x: Vec<i32> = (0..6).map(|k| 7_000_000 + 10_000 * k).collect();
            v.put_values(&x, ..).unwrap()
        });
        put("soil_moisture", &|v| {
            v.put_values(&[-1i16, 5000, 6000, 7000, 8000, 9999], ..)
                .unwrap()
        });
        put("soil_moisture_error", &|v| {
            v.put_values(&[500i16, 500, 500, -1, 300, 300], ..).unwrap()
        });
        put("snow_cover_probability", &|v| {
            v.put_values(&[0i8, 0, -56, 0, 0, 0], ..).unwrap()
        });
        put("topography_flag", &|v| {
            v.put_values(&[0i8, 0, 0, 0, -1, 0], ..).unwrap()
        });
        for name in [
            "frozen_soil_probability",
            "wetland_flag",
            "proc_flag1",
            "aggregated_quality_flag",
        ] {
            put(name, &|v| v.put_values(&[0i8; 6], ..).unwrap());
        }
    }
    let b = read_ascat_eumetsat(&p, &AscatOptions::default()).unwrap();
    assert_eq!(b.rejected.get("missing_value"), 1);
    assert_eq!(b.rejected.get("snow"), 1);
    assert_eq!(b.rejected.get("estimated_error"), 1);
    assert_eq!(b.rejected.get("topography"), 1);
    let v: Vec<f64> = b.observations.iter().map(|o| o.value).collect();
    assert_eq!(v, vec![50.0, 99.99]);
    assert_eq!(b.observations[1].lat, 45.05);
}
