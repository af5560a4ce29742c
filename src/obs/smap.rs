//! SMAP L2 radiometer soil moisture (SPL2SMP, HDF5) reader.
//!
//! Datasets of `/Soil_Moisture_Retrieval_Data` (1-D, one element per 36 km EASE-Grid 2.0
//! cell seen in the half orbit). Rules, applied in this order (first failing rule counts):
//! 1. `missing_location`: EASE row/column at the fill value 65534, or non-finite lat/lon;
//! 2. `missing_time`: `tb_time_seconds` at its fill value (−9999) or non-finite;
//! 3. `fill_value`: `soil_moisture` at its fill value (−9999) or non-finite;
//! 4. `vegetation_water_content`: VWC above the limit (default 5 kg m⁻²) or missing;
//! 5. `not_recommended`: `retrieval_qual_flag` bit 0 set (retrieval not recommended) or fill;
//! 6. `out_of_range`: value outside the physical range 0..1 m³ m⁻³ (`valid_min/max` of the
//!    product, 0.02–0.5, are *not* used: real retrievals exceed them).
//!
//! Times: `tb_time_seconds` counts SI seconds since J2000 (2000-01-01 12:00:00 TT =
//! 11:58:55.816 UTC), so leap seconds inserted after 2000 must be removed to get UTC:
//! UTC = 11:58:55.816 + s − (TAI−UTC(t) − 32 s). Checked on granule 02801: the times of the
//! cells around the equator crossing, fitted to the crossing point, give 01:56:40.10 UTC
//! against the metadata's `equatorCrossingDateTime` 01:56:40.212 (without the 4 leap
//! seconds of 2005–2015 they would be 3.9 s late). The product's own `tb_time_utc` strings
//! add the seconds to 12:00:00 and run 68.2 s late; they are not used.

use super::{time_from_seconds, ObsBatch, ObsError, ObsUnits, Observation, Quality, Sensor};
use chrono::{NaiveDate, NaiveDateTime};
use std::path::Path;

/// The HDF5 group holding the retrievals.
pub const GROUP: &str = "Soil_Moisture_Retrieval_Data";
/// Fill of the float datasets.
pub const FILL_F32: f32 = -9999.0;
/// Fill of the 16-bit integer datasets.
pub const FILL_U16: u16 = 65534;
/// Bottom of the layer the retrieval represents (m).
pub const DEPTH_BOTTOM_M: f64 = 0.05;

/// Rule names, in application order.
pub const RULES: [&str; 6] = [
    "missing_location",
    "missing_time",
    "fill_value",
    "vegetation_water_content",
    "not_recommended",
    "out_of_range",
];

/// The SMAP time origin: J2000 (2000-01-01 12:00:00 TT) expressed in UTC.
pub fn smap_epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .unwrap()
        .and_hms_milli_opt(11, 58, 55, 816)
        .unwrap()
}

/// Leap seconds (TAI − UTC) in force from each date on, for dates after J2000.
const TAI_MINUS_UTC: [(i32, u32, u32, i64); 5] = [
    (2006, 1, 1, 33),
    (2009, 1, 1, 34),
    (2012, 7, 1, 35),
    (2015, 7, 1, 36),
    (2017, 1, 1, 37),
];

/// TAI − UTC (s) at `t`; 32 s before 2006 (the value at J2000).
pub fn tai_minus_utc(t: NaiveDateTime) -> i64 {
    let mut v = 32;
    for (y, m, d, s) in TAI_MINUS_UTC {
        if t >= NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
        {
            v = s;
        }
    }
    v
}

/// UTC time of a `tb_time_seconds` value (microsecond resolution).
pub fn smap_seconds_to_utc(seconds: f64) -> Option<NaiveDateTime> {
    let naive = time_from_seconds(smap_epoch(), seconds)?;
    Some(naive - chrono::Duration::seconds(tai_minus_utc(naive) - 32))
}

/// `tb_time_seconds` of a UTC time (inverse of [`smap_seconds_to_utc`]).
pub fn utc_to_smap_seconds(t: NaiveDateTime) -> f64 {
    super::seconds_since(smap_epoch(), t) + (tai_minus_utc(t) - 32) as f64
}

/// Options of the SMAP reader.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SmapOptions {
    /// Observation error standard deviation (m³ m⁻³), constant (SCIENCE.md §3).
    pub error_sd: f64,
    /// Use the product's `soil_moisture_error` where present instead of `error_sd`.
    pub use_product_error: bool,
    /// Reject retrievals with vegetation water content above this (kg m⁻²); infinite
    /// switches the rule off (a fill value then passes too).
    pub max_vegetation_water_content: f64,
    /// Keep only recommended-quality retrievals (`retrieval_qual_flag` bit 0 clear).
    pub require_recommended: bool,
}

impl Default for SmapOptions {
    fn default() -> Self {
        SmapOptions {
            error_sd: 0.02,
            use_product_error: false,
            max_vegetation_water_content: 5.0,
            require_recommended: true,
        }
    }
}

fn read_1d<T: hdf5::H5Type>(g: &hdf5::Group, path: &Path, name: &str) -> Result<Vec<T>, ObsError> {
    let ds = g
        .dataset(name)
        .map_err(|e| ObsError::var(path, &format!("{GROUP}/{name}"), e))?;
    ds.read_raw::<T>()
        .map_err(|e| ObsError::var(path, &format!("{GROUP}/{name}"), e))
}

fn fill_attr<T: hdf5::H5Type + Copy>(g: &hdf5::Group, name: &str, default: T) -> T {
    g.dataset(name)
        .ok()
        .and_then(|d| d.attr("_FillValue").ok())
        .and_then(|a| a.read_scalar::<T>().ok())
        .unwrap_or(default)
}

/// Read one SPL2SMP granule.
pub fn read_smap_spl2smp(path: &Path, opts: &SmapOptions) -> Result<ObsBatch, ObsError> {
    let file = hdf5::File::open(path).map_err(|e| ObsError::open(path, e))?;
    let g = file
        .group(GROUP)
        .map_err(|e| ObsError::var(path, GROUP, e))?;
    let sm: Vec<f32> = read_1d(&g, path, "soil_moisture")?;
    let n = sm.len();
    let err: Vec<f32> = read_1d(&g, path, "soil_moisture_error")?;
    let qual: Vec<u16> = read_1d(&g, path, "retrieval_qual_flag")?;
    let surf: Vec<u16> = read_1d(&g, path, "surface_flag")?;
    let row: Vec<u16> = read_1d(&g, path, "EASE_row_index")?;
    let col: Vec<u16> = read_1d(&g, path, "EASE_column_index")?;
    let lat: Vec<f32> = read_1d(&g, path, "latitude")?;
    let lon: Vec<f32> = read_1d(&g, path, "longitude")?;
    let tsec: Vec<f64> = read_1d(&g, path, "tb_time_seconds")?;
    let vwc: Vec<f32> = read_1d(&g, path, "vegetation_water_content")?;
    let lc_ds = g
        .dataset("landcover_class")
        .map_err(|e| ObsError::var(path, &format!("{GROUP}/landcover_class"), e))?;
    let lc: Vec<u8> = lc_ds
        .read_raw::<u8>()
        .map_err(|e| ObsError::var(path, &format!("{GROUP}/landcover_class"), e))?;
    let lc_width = lc_ds.shape().get(1).copied().unwrap_or(1).max(1);

    for (name, len) in [
        ("soil_moisture_error", err.len()),
        ("retrieval_qual_flag", qual.len()),
        ("surface_flag", surf.len()),
        ("EASE_row_index", row.len()),
        ("EASE_column_index", col.len()),
        ("latitude", lat.len()),
        ("longitude", lon.len()),
        ("tb_time_seconds", tsec.len()),
        ("vegetation_water_content", vwc.len()),
        ("landcover_class", lc.len() / lc_width),
    ] {
        if len != n {
            return Err(ObsError::var(
                path,
                &format!("{GROUP}/{name}"),
                format!("length {len} differs from soil_moisture length {n}"),
            ));
        }
    }

    let sm_fill = fill_attr::<f32>(&g, "soil_moisture", FILL_F32);
    let err_fill = fill_attr::<f32>(&g, "soil_moisture_error", FILL_F32);
    let vwc_fill = fill_attr::<f32>(&g, "vegetation_water_content", FILL_F32);
    let t_fill = fill_attr::<f64>(&g, "tb_time_seconds", FILL_F32 as f64);
    let q_fill = fill_attr::<u16>(&g, "retrieval_qual_flag", FILL_U16);
    let rc_fill = fill_attr::<u16>(&g, "EASE_row_index", FILL_U16);

    let mut out = ObsBatch {
        observations: Vec::new(),
        rejected: super::RejectCounts::with_rules(&RULES),
        n_records: n,
    };
    for i in 0..n {
        if row[i] == rc_fill
            || col[i] == rc_fill
            || !lat[i].is_finite()
            || !lon[i].is_finite()
            || lat[i] == FILL_F32
            || lon[i] == FILL_F32
        {
            out.rejected.add("missing_location");
            continue;
        }
        let time = if tsec[i] == t_fill {
            None
        } else {
            smap_seconds_to_utc(tsec[i])
        };
        let Some(time) = time else {
            out.rejected.add("missing_time");
            continue;
        };
        if sm[i] == sm_fill || !sm[i].is_finite() {
            out.rejected.add("fill_value");
            continue;
        }
        if opts.max_vegetation_water_content.is_finite()
            && (vwc[i] == vwc_fill
                || !vwc[i].is_finite()
                || vwc[i] as f64 > opts.max_vegetation_water_content)
        {
            out.rejected.add("vegetation_water_content");
            continue;
        }
        if opts.require_recommended && (qual[i] == q_fill || qual[i] & 1 != 0) {
            out.rejected.add("not_recommended");
            continue;
        }
        let value = sm[i] as f64;
        if !(0.0..=1.0).contains(&value) {
            out.rejected.add("out_of_range");
            continue;
        }
        let error_sd = if opts.use_product_error && err[i] != err_fill && err[i] > 0.0 {
            err[i] as f64
        } else {
            opts.error_sd
        };
        out.observations.push(Observation {
            time,
            lat: lat[i] as f64,
            lon: lon[i] as f64,
            value,
            error_sd,
            source: Sensor::Smap,
            depth_top_m: 0.0,
            depth_bottom_m: DEPTH_BOTTOM_M,
            units: ObsUnits::VolumetricFraction,
            quality: Quality::Smap {
                retrieval_qual_flag: qual[i],
                surface_flag: surf[i],
                vegetation_water_content: vwc[i],
                ease_row: row[i],
                ease_column: col[i],
                landcover_class: lc[i * lc_width],
            },
        });
    }
    Ok(out)
}
