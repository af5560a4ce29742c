//! EUMETSAT ASCAT Level-2 surface soil moisture (SSM) swath NetCDF reader, for the
//! 12.5 km (SMR) and 25 km (SMO) products.
//!
//! Layout: dimensions `numRows` × `numCells`, big-endian storage (netCDF-C converts to
//! native order on read). `soil_moisture` and `soil_moisture_error` are 16-bit unsigned
//! (NC_USHORT, or NC_SHORT with `_Unsigned = "true"` in NetCDF-3 conversions), packed with
//! `scale_factor` 0.01, in % saturation; 65535 is missing (there is no `_FillValue`).
//! `latitude`/`longitude` are i32 × 1e-6 with `missing_value` −2147483648. `utc_line_nodes`
//! gives the time of each row. Flags are u8 percentages, 255 when not available.
//! `valid_max` attributes are ignored (some are stored wrapped).
//!
//! Rules, applied in this order (first failing rule counts):
//! `missing_location`, `missing_time`, `missing_value` (65535), `estimated_error`
//! (product error ≥ `max_error`, or missing), `topography` (topographic complexity ≥
//! `max_topography`, or flag missing), `wetland` (wetland fraction ≥ `max_wetland`, or
//! missing), `snow` (snow-cover probability > `max_snow_probability`, or missing), `frozen`
//! (frozen-soil probability > `max_frozen_probability`, or missing), `processing_flag`
//! (only when `reject_processing_flag`: any bit of `proc_flag1` set), `out_of_range`
//! (value outside 0..100 %). A missing flag rejects because "no snow" or "no frozen soil"
//! cannot be established without it.

use super::ncutil::{attr_f64, attr_str, read_i32, read_u16, read_u8, require_var};
use super::{
    parse_time_units, time_from_seconds, ObsBatch, ObsError, ObsUnits, Observation, Quality,
    RejectCounts, Sensor,
};
use std::path::Path;

/// Missing value of the packed 16-bit fields.
pub const MISSING_U16: u16 = 65535;
/// Missing value of the 8-bit flags.
pub const MISSING_U8: u8 = 255;
/// Missing value of latitude/longitude.
pub const MISSING_I32: i32 = i32::MIN;
/// Bottom of the layer the retrieval represents (m).
pub const DEPTH_BOTTOM_M: f64 = 0.02;

/// Rule names, in application order.
pub const RULES: [&str; 10] = [
    "missing_location",
    "missing_time",
    "missing_value",
    "estimated_error",
    "topography",
    "wetland",
    "snow",
    "frozen",
    "processing_flag",
    "out_of_range",
];

/// Quality thresholds of the ASCAT reader (all in %).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AscatOptions {
    /// Observation error standard deviation (% saturation), constant (SCIENCE.md §3).
    pub error_sd: f64,
    /// Use the product's estimated error instead of `error_sd`.
    pub use_product_error: bool,
    /// Reject when the estimated error is at or above this (16 %).
    pub max_error: f64,
    /// Reject when topographic complexity is at or above this (20 %).
    pub max_topography: f64,
    /// Reject when the wetland fraction is at or above this (15 %).
    pub max_wetland: f64,
    /// Reject when the snow-cover probability exceeds this (10 %).
    pub max_snow_probability: f64,
    /// Reject when the frozen-soil probability exceeds this (10 %).
    pub max_frozen_probability: f64,
    /// Reject any record with a `proc_flag1` bit set (off by default: not in SCIENCE.md §3).
    pub reject_processing_flag: bool,
}

impl Default for AscatOptions {
    fn default() -> Self {
        AscatOptions {
            error_sd: 10.0,
            use_product_error: false,
            max_error: 16.0,
            max_topography: 20.0,
            max_wetland: 15.0,
            max_snow_probability: 10.0,
            max_frozen_probability: 10.0,
            reject_processing_flag: false,
        }
    }
}

fn scale_of(var: &netcdf::Variable, default: f64) -> f64 {
    attr_f64(var, "scale_factor").unwrap_or(default)
}

/// `raw × scale`, computed as `raw / (1/scale)` when 1/scale is an integer (0.01, 1e-6) so
/// that the result is the nearest double to the decimal value (253 → 2.53, not
/// 2.5300000000000002).
fn unpack(raw: f64, scale: f64) -> f64 {
    let inv = 1.0 / scale;
    if inv.round() >= 1.0 && (inv - inv.round()).abs() < 1e-6 * inv {
        raw / inv.round()
    } else {
        raw * scale
    }
}

/// One swath node as either ASCAT reader decodes it: % values and flags, `None` where the
/// product has its missing marker.
pub(crate) struct Node {
    /// (lat, lon) in degrees.
    pub location: Option<(f64, f64)>,
    pub time: Option<chrono::NaiveDateTime>,
    pub value: Option<f64>,
    pub product_error: Option<f64>,
    pub topography: Option<f64>,
    pub wetland: Option<f64>,
    pub snow: Option<f64>,
    pub frozen: Option<f64>,
    pub proc_flag1: u8,
    pub aggregated_quality_flag: u8,
    pub row: u32,
    pub cell: u32,
}

/// A percentage as the u8 of the quality record (255 above the u8 range).
fn percent_u8(v: f64) -> u8 {
    if (0.0..255.0).contains(&v) {
        v.round() as u8
    } else {
        255
    }
}

impl ObsBatch {
    /// The reader rules (module doc), in order, on one node: the observation is kept, or the
    /// first rule it fails is counted.
    pub(crate) fn screen(&mut self, n: &Node, opts: &AscatOptions) {
        let below = |v: Option<f64>, max: f64| v.filter(|&x| x < max);
        let at_most = |v: Option<f64>, max: f64| v.filter(|&x| x <= max);
        let Some((lat, lon)) = n.location else {
            return self.rejected.add("missing_location");
        };
        let Some(time) = n.time else {
            return self.rejected.add("missing_time");
        };
        let Some(value) = n.value else {
            return self.rejected.add("missing_value");
        };
        let Some(product_error) = below(n.product_error, opts.max_error) else {
            return self.rejected.add("estimated_error");
        };
        let Some(topography) = below(n.topography, opts.max_topography) else {
            return self.rejected.add("topography");
        };
        let Some(wetland) = below(n.wetland, opts.max_wetland) else {
            return self.rejected.add("wetland");
        };
        let Some(snow) = at_most(n.snow, opts.max_snow_probability) else {
            return self.rejected.add("snow");
        };
        let Some(frozen) = at_most(n.frozen, opts.max_frozen_probability) else {
            return self.rejected.add("frozen");
        };
        if opts.reject_processing_flag && n.proc_flag1 != 0 {
            return self.rejected.add("processing_flag");
        }
        if !(0.0..=100.0).contains(&value) {
            return self.rejected.add("out_of_range");
        }
        self.observations.push(Observation {
            time,
            lat,
            lon,
            value,
            error_sd: if opts.use_product_error {
                product_error
            } else {
                opts.error_sd
            },
            source: Sensor::Ascat,
            depth_top_m: 0.0,
            depth_bottom_m: DEPTH_BOTTOM_M,
            units: ObsUnits::PercentSaturation,
            quality: Quality::Ascat {
                product_error,
                snow_cover_probability: percent_u8(snow),
                frozen_soil_probability: percent_u8(frozen),
                wetland_flag: percent_u8(wetland),
                topography_flag: percent_u8(topography),
                proc_flag1: n.proc_flag1,
                aggregated_quality_flag: n.aggregated_quality_flag,
                row: n.row,
                cell: n.cell,
            },
        });
    }
}

/// Read one ASCAT soil-moisture file, NetCDF (EUMETSAT SSM orbit) or BUFR (H SAF segment),
/// told apart by the file's first bytes: BUFR when "BUFR" appears in the first 4 KiB (after
/// an optional bulletin header) and the file is not HDF5/NetCDF.
pub fn read_ascat(path: &Path, opts: &AscatOptions) -> Result<ObsBatch, ObsError> {
    use std::io::Read;
    let mut head = Vec::with_capacity(4096);
    std::fs::File::open(path)
        .and_then(|f| f.take(4096).read_to_end(&mut head))
        .map_err(|e| ObsError::open(path, e))?;
    let netcdf = head.starts_with(b"CDF") || head.starts_with(b"\x89HDF");
    if !netcdf && head.windows(4).any(|w| w == b"BUFR") {
        super::ascat_bufr::read_ascat_hsaf_bufr(path, opts)
    } else {
        read_ascat_eumetsat(path, opts)
    }
}

/// Read one EUMETSAT ASCAT SSM orbit file.
pub fn read_ascat_eumetsat(path: &Path, opts: &AscatOptions) -> Result<ObsBatch, ObsError> {
    let file = netcdf::open(path).map_err(|e| ObsError::open(path, e))?;
    let n_rows = file
        .dimension_len("numRows")
        .ok_or_else(|| ObsError::format(path, "dimension numRows not found"))?;
    let n_cells = file
        .dimension_len("numCells")
        .ok_or_else(|| ObsError::format(path, "dimension numCells not found"))?;
    let n = n_rows * n_cells;

    let v_time = require_var(&file, path, "utc_line_nodes")?;
    let time_units = attr_str(&v_time, "units")
        .unwrap_or_else(|| "seconds since 2000-01-01 00:00:00".to_string());
    let (t_scale, t_epoch) = parse_time_units(&time_units).ok_or_else(|| {
        ObsError::var(
            path,
            "utc_line_nodes",
            format!("unparsable units {time_units:?}"),
        )
    })?;
    let t_fill = attr_f64(&v_time, "_FillValue").unwrap_or(i32::MIN as f64);
    let line_times: Vec<Option<chrono::NaiveDateTime>> = read_i32(&v_time, path)?
        .into_iter()
        .map(|s| {
            if s as f64 == t_fill || s < 0 {
                None
            } else {
                time_from_seconds(t_epoch, s as f64 * t_scale)
            }
        })
        .collect();

    let v_lat = require_var(&file, path, "latitude")?;
    let v_lon = require_var(&file, path, "longitude")?;
    let lat_scale = scale_of(&v_lat, 1e-6);
    let lon_scale = scale_of(&v_lon, 1e-6);
    let lat = read_i32(&v_lat, path)?;
    let lon = read_i32(&v_lon, path)?;
    let v_sm = require_var(&file, path, "soil_moisture")?;
    let v_err = require_var(&file, path, "soil_moisture_error")?;
    let sm_scale = scale_of(&v_sm, 0.01);
    let err_scale = scale_of(&v_err, 0.01);
    let sm = read_u16(&v_sm, path)?;
    let err = read_u16(&v_err, path)?;
    let flag = |name: &str| -> Result<Vec<u8>, ObsError> {
        read_u8(&require_var(&file, path, name)?, path)
    };
    let snow = flag("snow_cover_probability")?;
    let frozen = flag("frozen_soil_probability")?;
    let wetland = flag("wetland_flag")?;
    let topo = flag("topography_flag")?;
    let proc1 = flag("proc_flag1")?;
    let aqf = flag("aggregated_quality_flag")?;

    if line_times.len() != n_rows {
        return Err(ObsError::var(
            path,
            "utc_line_nodes",
            format!("length {} differs from numRows {n_rows}", line_times.len()),
        ));
    }
    for (name, len) in [
        ("latitude", lat.len()),
        ("longitude", lon.len()),
        ("soil_moisture", sm.len()),
        ("soil_moisture_error", err.len()),
        ("snow_cover_probability", snow.len()),
        ("frozen_soil_probability", frozen.len()),
        ("wetland_flag", wetland.len()),
        ("topography_flag", topo.len()),
        ("proc_flag1", proc1.len()),
        ("aggregated_quality_flag", aqf.len()),
    ] {
        if len != n {
            return Err(ObsError::var(
                path,
                name,
                format!("has {len} values, expected numRows×numCells = {n}"),
            ));
        }
    }

    let mut out = ObsBatch {
        observations: Vec::new(),
        rejected: RejectCounts::with_rules(&RULES),
        n_records: n,
    };
    let pct = |v: u8| (v != MISSING_U8).then_some(v as f64);
    for k in 0..n {
        let node = Node {
            location: (lat[k] != MISSING_I32 && lon[k] != MISSING_I32).then(|| {
                (
                    unpack(lat[k] as f64, lat_scale),
                    unpack(lon[k] as f64, lon_scale),
                )
            }),
            time: line_times[k / n_cells],
            value: (sm[k] != MISSING_U16).then(|| unpack(sm[k] as f64, sm_scale)),
            product_error: (err[k] != MISSING_U16).then(|| unpack(err[k] as f64, err_scale)),
            topography: pct(topo[k]),
            wetland: pct(wetland[k]),
            snow: pct(snow[k]),
            frozen: pct(frozen[k]),
            proc_flag1: proc1[k],
            aggregated_quality_flag: aqf[k],
            row: (k / n_cells) as u32,
            cell: (k % n_cells) as u32,
        };
        out.screen(&node, opts);
    }
    Ok(out)
}
