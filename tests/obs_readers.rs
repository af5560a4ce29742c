//! Readers on the real product files in the shared data directory. Every count and range
//! below was derived independently with h5dump / ncdump and a short Python script over
//! their text output (see docs/observations.md), not with this code.

use chrono::NaiveDateTime;
use landcycle::obs::ascat::{read_ascat, read_ascat_eumetsat, AscatOptions};
use landcycle::obs::ease;
use landcycle::obs::gridded::read_gridded_soil_moisture;
use landcycle::obs::smap::{read_smap_spl2smp, SmapOptions};
use landcycle::obs::{ObsError, ObsUnits, Quality, Sensor};
use landcycle::testdata::require;
use std::path::Path;

const SMAP1: &str = "smap-spl2smp/SMAP_L2_SM_P_02801_A_20150811T013002_R18290_001.h5";
const SMAP2: &str = "smap-spl2smp/SMAP_L2_SM_P_02802_A_20150811T030828_R18290_001.h5";
const SMR: &str = "ascat-eumetsat/ASCAT_SMR_125_METOPA_20170220041500_53652_ssm_l2.nc";
const SMO: &str = "ascat-eumetsat/ASCAT_SMO_250_METOPB_20180612035700_29742_ssm_l2.nc";
const H103: &str = "ascat-hsaf-bufr/h103_20170220_103000_METOPB_22969_EUM.buf";
const H16: &str = "ascat-hsaf-bufr/h16_20170220_111500_METOPB_22969_EUM.buf";

fn t(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
}

#[test]
fn smap_granule_02801_counts_values_and_time() {
    let Some(p) = require(SMAP1) else { return };
    let b = read_smap_spl2smp(&p, &SmapOptions::default()).unwrap();
    assert_eq!(b.n_records, 17251);
    assert_eq!(b.rejected.get("missing_location"), 0);
    assert_eq!(b.rejected.get("missing_time"), 0);
    assert_eq!(b.rejected.get("fill_value"), 15918);
    assert_eq!(b.rejected.get("vegetation_water_content"), 412);
    assert_eq!(b.rejected.get("not_recommended"), 329);
    assert_eq!(b.rejected.get("out_of_range"), 0);
    assert_eq!(b.observations.len(), 592);
    assert_eq!(b.observations.len() + b.rejected.total(), b.n_records);
    let v: Vec<f64> = b.observations.iter().map(|o| o.value).collect();
    let min = v.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    assert!((min - 0.062_809_564).abs() < 1e-7, "min {min}");
    assert!((max - 0.368_030_64).abs() < 1e-7, "max {max}");
    assert!((mean - 0.195_112_2).abs() < 1e-6, "mean {mean}");
    // First accepted record: index 452, EASE (12, 49), tb_time_seconds 492531479.30201805.
    let o = &b.observations[0];
    assert_eq!(o.source, Sensor::Smap);
    assert_eq!(o.units, ObsUnits::VolumetricFraction);
    assert_eq!((o.depth_top_m, o.depth_bottom_m), (0.0, 0.05));
    assert_eq!(o.error_sd, 0.02);
    assert!((o.value - 0.182_743_53).abs() < 1e-7);
    assert!((o.lat - 69.294_495).abs() < 1e-5 && (o.lon + 161.514_53).abs() < 1e-5);
    match o.quality {
        Quality::Smap {
            ease_row,
            ease_column,
            retrieval_qual_flag,
            ..
        } => {
            assert_eq!((ease_row, ease_column), (12, 49));
            assert_eq!(retrieval_qual_flag & 1, 0);
        }
        _ => panic!("wrong quality kind"),
    }
    // 2000-01-01 11:58:55.816 + 492531479.302018 s − 4 leap seconds (2005-2015)
    assert_eq!(o.time, t("2015-08-11 02:16:51.118018"));
    let tmin = b.observations.iter().map(|o| o.time).min().unwrap();
    let tmax = b.observations.iter().map(|o| o.time).max().unwrap();
    assert_eq!(tmin, t("2015-08-11 02:06:44.109067")); // 492530872.29306746 s
    assert_eq!(tmax, t("2015-08-11 02:16:51.118018"));
    // The cells around the equator crossing, fitted (least squares in lat and lon, 1082
    // cells, rms residual 0.72 s) to the crossing longitude −118.685°, give
    // 492530268.287 s; the metadata's equatorCrossingDateTime is 01:56:40.212 UTC.
    let crossing = landcycle::obs::smap::smap_seconds_to_utc(492_530_268.287).unwrap();
    let d = (crossing - t("2015-08-11 01:56:40.212"))
        .num_milliseconds()
        .abs();
    assert!(d < 200, "equator crossing off by {d} ms");
}

#[test]
fn smap_granule_02802_counts_and_vwc_switch() {
    let Some(p) = require(SMAP2) else { return };
    let b = read_smap_spl2smp(&p, &SmapOptions::default()).unwrap();
    assert_eq!(b.n_records, 17245);
    assert_eq!(b.rejected.get("fill_value"), 16565);
    assert_eq!(b.rejected.get("vegetation_water_content"), 5);
    assert_eq!(b.rejected.get("not_recommended"), 372);
    assert_eq!(b.observations.len(), 303);
    let max = b.observations.iter().map(|o| o.value).fold(0.0, f64::max);
    assert!((max - 0.318_358_54).abs() < 1e-7);
    // Without the VWC screen the high-VWC retrievals are still not recommended.
    let loose = SmapOptions {
        max_vegetation_water_content: 100.0,
        ..SmapOptions::default()
    };
    let b2 = read_smap_spl2smp(&p, &loose).unwrap();
    assert_eq!(b2.rejected.get("vegetation_water_content"), 0);
    assert_eq!(b2.rejected.get("not_recommended"), 377);
    assert_eq!(b2.observations.len(), 303);
    // Both product rules off: the not-recommended retrievals are kept as well.
    let all = SmapOptions {
        max_vegetation_water_content: f64::INFINITY,
        require_recommended: false,
        ..SmapOptions::default()
    };
    let b3 = read_smap_spl2smp(&p, &all).unwrap();
    assert_eq!(b3.rejected.get("not_recommended"), 0);
    assert_eq!(b3.rejected.get("vegetation_water_content"), 0);
    assert_eq!(
        b3.observations.len(),
        303 + 377 - b3.rejected.get("out_of_range")
    );
}

/// The EASE-Grid 2.0 36 km functions reproduce the file's own lat/lon of every record.
#[test]
fn ease_grid_matches_smap_file_coordinates() {
    let Some(p) = require(SMAP1) else { return };
    let f = hdf5::File::open(&p).unwrap();
    let g = f.group("Soil_Moisture_Retrieval_Data").unwrap();
    let rows: Vec<u16> = g.dataset("EASE_row_index").unwrap().read_raw().unwrap();
    let cols: Vec<u16> = g.dataset("EASE_column_index").unwrap().read_raw().unwrap();
    let lat: Vec<f32> = g.dataset("latitude").unwrap().read_raw().unwrap();
    let lon: Vec<f32> = g.dataset("longitude").unwrap().read_raw().unwrap();
    let mut worst: f64 = 0.0;
    for i in 0..rows.len() {
        let (la, lo) = ease::cell_center_36km(rows[i] as usize, cols[i] as usize).unwrap();
        worst = worst
            .max((la - lat[i] as f64).abs())
            .max((lo - lon[i] as f64).abs());
        assert_eq!(
            ease::cell_of_36km(lat[i] as f64, lon[i] as f64),
            Some((rows[i] as usize, cols[i] as usize))
        );
    }
    // float32 storage of the file's coordinates: about 1e-5 degrees.
    assert!(worst < 2e-5, "worst difference {worst} degrees");
}

#[test]
fn ascat_smr_orbit_counts_and_ranges() {
    let Some(p) = require(SMR) else { return };
    let b = read_ascat_eumetsat(&p, &AscatOptions::default()).unwrap();
    assert_eq!(b.n_records, 3264 * 82);
    assert_eq!(b.rejected.get("missing_location"), 0);
    assert_eq!(b.rejected.get("missing_value"), 207_798);
    assert_eq!(b.rejected.get("estimated_error"), 2615);
    assert_eq!(b.rejected.get("topography"), 6351);
    assert_eq!(b.rejected.get("wetland"), 1233);
    assert_eq!(b.rejected.get("snow"), 37_260);
    assert_eq!(b.rejected.get("frozen"), 3237);
    assert_eq!(b.rejected.get("processing_flag"), 0);
    assert_eq!(b.observations.len(), 9154);
    let mean = b.observations.iter().map(|o| o.value).sum::<f64>() / 9154.0;
    assert!((mean - 32.310_291_68).abs() < 1e-6, "mean {mean}");
    let (mut lat_lo, mut lat_hi) = (90.0f64, -90.0f64);
    for o in &b.observations {
        assert!((0.0..=100.0).contains(&o.value));
        assert_eq!(o.units, ObsUnits::PercentSaturation);
        assert_eq!(o.error_sd, 10.0);
        lat_lo = lat_lo.min(o.lat);
        lat_hi = lat_hi.max(o.lat);
        if let Quality::Ascat { product_error, .. } = o.quality {
            assert!((2.6..16.0).contains(&product_error));
        }
    }
    assert!((lat_lo - 6.229_677).abs() < 1e-6 && (lat_hi - 59.717_163).abs() < 1e-6);
    // First accepted: row 316, cell 77: 92.85 %, error 10.70 %, (34.194498, 73.087408),
    // utc_line_nodes 540879892 s since 2000-01-01.
    let o = &b.observations[0];
    assert!((o.value - 92.85).abs() < 1e-9);
    assert!((o.lat - 34.194_498).abs() < 1e-9 && (o.lon - 73.087_408).abs() < 1e-9);
    assert_eq!(o.time, t("2017-02-20 04:24:52.0"));
    match o.quality {
        Quality::Ascat {
            row,
            cell,
            product_error,
            ..
        } => {
            assert_eq!((row, cell), (316, 77));
            assert!((product_error - 10.70).abs() < 1e-9);
        }
        _ => panic!("wrong quality kind"),
    }
}

#[test]
fn ascat_smo_orbit_counts() {
    let Some(p) = require(SMO) else { return };
    let b = read_ascat_eumetsat(&p, &AscatOptions::default()).unwrap();
    assert_eq!(b.n_records, 1632 * 42);
    assert_eq!(b.rejected.get("missing_value"), 52_085);
    assert_eq!(b.rejected.get("estimated_error"), 936);
    assert_eq!(b.rejected.get("topography"), 1742);
    assert_eq!(b.rejected.get("wetland"), 349);
    assert_eq!(b.rejected.get("snow"), 1815);
    assert_eq!(b.rejected.get("frozen"), 479);
    assert_eq!(b.observations.len(), 11_138);
    let o = &b.observations[0];
    assert!((o.value - 69.11).abs() < 1e-9);
    assert!((o.lat - 64.066_511).abs() < 1e-9 && (o.lon - 121.955_718).abs() < 1e-9);
    assert_eq!(o.time, t("2018-06-12 03:56:59.0")); // 582091019 s
}

/// One H SAF BUFR file against counts and values derived with ecCodes' own tools
/// (`bufr_get -p numberOfSubsets`, `bufr_dump -jf` and a Python script over its JSON, the
/// same rules in the same order).
struct BufrExpect {
    records: usize,
    missing_value: usize,
    estimated_error: usize,
    wetland: usize,
    snow: usize,
    accepted: usize,
    value_sum: f64,
    /// (row, cell, value, product error, lat, lon, time) of the first and last accepted.
    first: (u32, u32, f64, f64, f64, f64, &'static str),
    last: (u32, u32, f64, f64, f64, f64, &'static str),
}

fn check_bufr(rel: &str, x: &BufrExpect) {
    let Some(p) = require(rel) else { return };
    // Through the format dispatch the cycle and `obs dump` use.
    let b = read_ascat(&p, &AscatOptions::default()).unwrap();
    assert_eq!(b.n_records, x.records);
    for (rule, n) in [
        ("missing_location", 0),
        ("missing_time", 0),
        ("missing_value", x.missing_value),
        ("estimated_error", x.estimated_error),
        ("topography", 0),
        ("wetland", x.wetland),
        ("snow", x.snow),
        ("frozen", 0),
        ("processing_flag", 0),
        ("out_of_range", 0),
    ] {
        assert_eq!(b.rejected.get(rule), n, "{rel}: {rule}");
    }
    assert_eq!(b.observations.len(), x.accepted);
    let sum: f64 = b.observations.iter().map(|o| o.value).sum();
    assert!((sum - x.value_sum).abs() < 1e-6, "{rel}: sum {sum}");
    for (o, e) in [
        (&b.observations[0], x.first),
        (b.observations.last().unwrap(), x.last),
    ] {
        let Quality::Ascat {
            row,
            cell,
            product_error,
            ..
        } = o.quality
        else {
            panic!("wrong quality kind")
        };
        assert_eq!((row, cell), (e.0, e.1), "{rel}");
        assert_eq!((o.value, product_error), (e.2, e.3), "{rel}");
        // bufr_dump prints 6 significant digits.
        assert!(
            (o.lat - e.4).abs() < 1e-4 && (o.lon - e.5).abs() < 1e-3,
            "{rel}: {o:?}"
        );
        assert_eq!(o.time, t(e.6));
        assert_eq!(o.units, ObsUnits::PercentSaturation);
        assert_eq!(o.source, Sensor::Ascat);
        assert_eq!(o.error_sd, 10.0);
    }
}

#[test]
fn hsaf_bufr_h103_and_h16_counts_and_values() {
    check_bufr(
        H103,
        &BufrExpect {
            records: 7872,
            missing_value: 6225,
            estimated_error: 734,
            wetland: 26,
            snow: 74,
            accepted: 813,
            value_sum: 11048.0,
            first: (0, 1, 20.4, 4.3, 8.82896, -5.21717, "2017-02-20 10:30:00.0"),
            last: (
                3372,
                11,
                39.5,
                13.8,
                4.61141,
                -7.40404,
                "2017-02-20 10:31:16.0",
            ),
        },
    );
    check_bufr(
        H16,
        &BufrExpect {
            records: 2016,
            missing_value: 1379,
            estimated_error: 0,
            wetland: 0,
            snow: 55,
            accepted: 582,
            value_sum: 12487.0,
            first: (0, 1, 0.0, 6.1, -32.4009, 150.284, "2017-02-20 11:15:00.0"),
            last: (
                1977,
                4,
                38.6,
                4.1,
                -22.0129,
                149.135,
                "2017-02-20 11:17:56.0",
            ),
        },
    );
}

#[test]
fn format_dispatch_and_bad_bufr_files() {
    let (Some(smr), Some(h16)) = (require(SMR), require(H16)) else {
        return;
    };
    // NetCDF through the dispatch: the same as the NetCDF reader.
    let a = read_ascat(&smr, &AscatOptions::default()).unwrap();
    let b = read_ascat_eumetsat(&smr, &AscatOptions::default()).unwrap();
    assert_eq!(a.observations, b.observations);
    let dir = tempfile::tempdir().unwrap();
    // A truncated BUFR file is an error naming the file, not fewer observations.
    for keep in [0.3, 0.9, 0.99] {
        let tb = truncated_copy(&h16, dir.path(), keep);
        let e = read_ascat(&tb, &AscatOptions::default()).unwrap_err();
        assert!(e.to_string().contains(tb.to_str().unwrap()), "{e}");
    }
    let junk = dir.path().join("junk.buf");
    std::fs::write(&junk, b"xxBUFR but not a message").unwrap();
    let e = read_ascat(&junk, &AscatOptions::default()).unwrap_err();
    assert!(e.to_string().contains("junk.buf"), "{e}");
    // In a cycle the bad file is skipped and listed; the good one is used.
    let set = landcycle::obs::read_files(&[h16.clone(), junk.clone()], |p| {
        read_ascat(p, &AscatOptions::default())
    });
    assert_eq!(set.batch.observations.len(), 582);
    assert_eq!(set.failed.len(), 1);
}

fn truncated_copy(src: &Path, dir: &Path, keep: f64) -> std::path::PathBuf {
    let bytes = std::fs::read(src).unwrap();
    let dst = dir.join(src.file_name().unwrap());
    std::fs::write(&dst, &bytes[..(bytes.len() as f64 * keep) as usize]).unwrap();
    dst
}

#[test]
fn truncated_files_are_clear_errors_naming_the_file() {
    let (Some(s), Some(a)) = (require(SMAP1), require(SMR)) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for keep in [0.5, 0.9] {
        let ts = truncated_copy(&s, dir.path(), keep);
        let e = read_smap_spl2smp(&ts, &SmapOptions::default()).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains(ts.to_str().unwrap()), "{msg}");
        assert!(matches!(
            e,
            ObsError::Open { .. } | ObsError::Variable { .. }
        ));
        let ta = truncated_copy(&a, dir.path(), keep);
        let e = read_ascat_eumetsat(&ta, &AscatOptions::default()).unwrap_err();
        assert!(e.to_string().contains(ta.to_str().unwrap()), "{e}");
    }
    // In a cycle a bad file is skipped with a warning and listed; the good ones are used.
    let ts = truncated_copy(&s, dir.path(), 0.5);
    let set = landcycle::obs::read_files(&[s.clone(), ts.clone()], |p| {
        read_smap_spl2smp(p, &SmapOptions::default())
    });
    assert_eq!(set.batch.observations.len(), 592);
    assert_eq!(set.batch.n_records, 17251);
    assert_eq!(set.failed.len(), 1);
    assert_eq!(set.failed[0].0, ts);
    let junk = dir.path().join("junk.h5");
    std::fs::write(&junk, b"not an hdf5 file").unwrap();
    let e = read_smap_spl2smp(&junk, &SmapOptions::default()).unwrap_err();
    assert!(e.to_string().contains("junk.h5"));
}

#[test]
fn gridded_era5_gldas_fields() {
    let (Some(e4), Some(e3), Some(g)) = (
        require("era5/ERA5_AN_20100101_0000.nc"),
        require("era5/era5_example_downloaded_raw.nc.gz"),
        require("gldas/GLDAS_NOAH025_3H.A20160101.0300.021.nc4"),
    ) else {
        return;
    };
    let a = read_gridded_soil_moisture(&e4, "swvl1", 0).unwrap();
    assert_eq!((a.ny(), a.nx()), (721, 1440));
    assert_eq!(a.lat[0], 90.0);
    assert_eq!(a.lon[1439], 359.75);
    assert_eq!(a.time, Some(t("2010-01-01 00:00:00.0")));
    assert!((a.at(300, 1000) - 5.394_220_35e-6).abs() < 1e-12);
    assert_eq!(a.values.iter().filter(|v| v.is_finite()).count(), 1_038_240);
    // Packed NetCDF-3 (int16, scale/offset, gzip) holds the same analysis to packing precision.
    let b = read_gridded_soil_moisture(&e3, "swvl1", 0).unwrap();
    assert_eq!(b.time, Some(t("2010-01-01 00:00:00.0")));
    let worst = a
        .values
        .iter()
        .zip(&b.values)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1.0e-5, "packed vs float differ by {worst}");
    let s2 = read_gridded_soil_moisture(&e3, "swvl2", 1).unwrap();
    assert_eq!((s2.depth_top_m, s2.depth_bottom_m), (0.07, 0.28));
    assert_eq!(s2.time, Some(t("2010-01-01 12:00:00.0")));

    let c = read_gridded_soil_moisture(&g, "SoilMoi0_10cm_inst", 0).unwrap();
    assert_eq!((c.ny(), c.nx()), (600, 1440));
    assert_eq!(c.source, Sensor::Gldas);
    assert_eq!(c.time, Some(t("2016-01-01 03:00:00.0")));
    let valid: Vec<f64> = c.values.iter().cloned().filter(|v| v.is_finite()).collect();
    assert_eq!(valid.len(), 243_883);
    let max = valid.iter().cloned().fold(0.0, f64::max);
    assert!((max - 0.475_960_007).abs() < 1e-8, "{max}"); // 47.596 kg m-2 over 0.1 m
    assert!((c.at(300, 349) - 0.132_609_997).abs() < 1e-8);
    assert_eq!(c.to_observations(0.04).len(), 243_883);
    let e = read_gridded_soil_moisture(&g, "nonexistent", 0).unwrap_err();
    assert!(e.to_string().contains("nonexistent") && e.to_string().contains("GLDAS_NOAH025"));
}
