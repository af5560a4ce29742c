//! Gridded soil-moisture images (ERA5 `swvl1`/`swvl2`, GLDAS `SoilMoi*_inst`) read as 2-D
//! fields on their regular lat-lon grid, converted to m³ m⁻³.
//!
//! Handles NetCDF-4 float files with NaN or −9999 fill, legacy packed NetCDF-3 (int16 with
//! `scale_factor`/`add_offset`), gzip-compressed files (`.gz`, decompressed in memory), an
//! optional leading `time` dimension (one index chosen) and GLDAS mass per layer
//! (kg m⁻², divided by layer thickness × 1000 kg m⁻³).

use super::ncutil::{attr_str, read_unpacked_f64};
use super::{
    parse_time_units, time_from_seconds, ObsError, ObsUnits, Observation, Quality, Sensor,
};
use chrono::NaiveDateTime;
use std::io::Read;
use std::path::Path;

/// One 2-D field on a regular lat-lon grid, row-major `values[iy * nx + ix]`, NaN missing.
#[derive(Debug, Clone, PartialEq)]
pub struct GriddedField {
    pub variable: String,
    /// Latitudes of the rows as stored (ERA5 runs north to south).
    pub lat: Vec<f64>,
    /// Longitudes of the columns as stored (ERA5 0..360, GLDAS −180..180).
    pub lon: Vec<f64>,
    pub values: Vec<f64>,
    pub time: Option<NaiveDateTime>,
    /// Layer the values represent (m).
    pub depth_top_m: f64,
    pub depth_bottom_m: f64,
    pub source: Sensor,
}

impl GriddedField {
    pub fn ny(&self) -> usize {
        self.lat.len()
    }
    pub fn nx(&self) -> usize {
        self.lon.len()
    }
    /// Value at (row, column).
    pub fn at(&self, iy: usize, ix: usize) -> f64 {
        self.values[iy * self.lon.len() + ix]
    }

    /// The valid cells as observations with a constant error `error_sd` (m³ m⁻³); empty when
    /// the file carries no time (an image without a time cannot be placed in a window).
    pub fn to_observations(&self, error_sd: f64) -> Vec<Observation> {
        let Some(time) = self.time else {
            return Vec::new();
        };
        let nx = self.nx();
        let mut out = Vec::new();
        for (k, v) in self.values.iter().enumerate() {
            if v.is_finite() {
                let (iy, ix) = (k / nx, k % nx);
                out.push(Observation {
                    time,
                    lat: self.lat[iy],
                    lon: self.lon[ix],
                    value: *v,
                    error_sd,
                    source: self.source,
                    depth_top_m: self.depth_top_m,
                    depth_bottom_m: self.depth_bottom_m,
                    units: ObsUnits::VolumetricFraction,
                    quality: Quality::Gridded {
                        row: iy as u32,
                        column: ix as u32,
                    },
                });
            }
        }
        out
    }
}

/// Layer of a known variable: (top, bottom) in metres, and whether the values are mass
/// per area (kg m⁻²) rather than volumetric.
pub fn layer_of(variable: &str) -> Option<(f64, f64, bool, Sensor)> {
    match variable {
        "swvl1" => Some((0.0, 0.07, false, Sensor::Era5)),
        "swvl2" => Some((0.07, 0.28, false, Sensor::Era5)),
        "swvl3" => Some((0.28, 1.0, false, Sensor::Era5)),
        "swvl4" => Some((1.0, 2.89, false, Sensor::Era5)),
        v if v.starts_with("SoilMoi") => {
            // SoilMoi<top>_<bottom>cm_inst
            let body = v.trim_start_matches("SoilMoi");
            let body = body.split("cm").next()?;
            let (a, b) = body.split_once('_')?;
            let top: f64 = a.parse().ok()?;
            let bottom: f64 = b.parse().ok()?;
            (bottom > top).then_some((top / 100.0, bottom / 100.0, true, Sensor::Gldas))
        }
        _ => None,
    }
}

fn open_any(path: &Path) -> Result<OpenedNc, ObsError> {
    let is_gz = path
        .extension()
        .map(|e| e.eq_ignore_ascii_case("gz"))
        .unwrap_or(false);
    if is_gz {
        let f = std::fs::File::open(path).map_err(|e| ObsError::open(path, e))?;
        let mut buf = Vec::new();
        flate2::read::GzDecoder::new(f)
            .read_to_end(&mut buf)
            .map_err(|e| ObsError::open(path, format!("gzip: {e}")))?;
        Ok(OpenedNc::Mem(buf))
    } else {
        Ok(OpenedNc::File(
            netcdf::open(path).map_err(|e| ObsError::open(path, e))?,
        ))
    }
}

enum OpenedNc {
    File(netcdf::File),
    Mem(Vec<u8>),
}

/// Read `variable` (e.g. `swvl1`, `SoilMoi0_10cm_inst`) from a gridded file; `time_index`
/// selects the record when the variable has a leading time dimension.
pub fn read_gridded_soil_moisture(
    path: &Path,
    variable: &str,
    time_index: usize,
) -> Result<GriddedField, ObsError> {
    match open_any(path)? {
        OpenedNc::File(f) => read_from(&f, path, variable, time_index),
        OpenedNc::Mem(buf) => {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_string);
            let f = netcdf::open_mem(name.as_deref(), &buf).map_err(|e| ObsError::open(path, e))?;
            read_from(&f, path, variable, time_index)
        }
    }
}

fn read_from(
    file: &netcdf::File,
    path: &Path,
    variable: &str,
    time_index: usize,
) -> Result<GriddedField, ObsError> {
    let var = file
        .variable(variable)
        .ok_or_else(|| ObsError::var(path, variable, "variable not found"))?;
    let dims: Vec<(String, usize)> = var
        .dimensions()
        .iter()
        .map(|d| (d.name(), d.len()))
        .collect();
    if dims.len() < 2 || dims.len() > 3 {
        return Err(ObsError::var(
            path,
            variable,
            format!("expected (time?, lat, lon), found dimensions {dims:?}"),
        ));
    }
    let (ydim, ny) = dims[dims.len() - 2].clone();
    let (xdim, nx) = dims[dims.len() - 1].clone();
    let coord = |name: &str| -> Result<Vec<f64>, ObsError> {
        let v = file
            .variable(name)
            .ok_or_else(|| ObsError::var(path, name, "coordinate variable not found"))?;
        read_unpacked_f64(&v, path, ..)
    };
    let lat = coord(&ydim)?;
    let lon = coord(&xdim)?;
    if lat.len() != ny || lon.len() != nx {
        return Err(ObsError::format(
            path,
            "coordinate lengths differ from dimensions",
        ));
    }
    let values = if dims.len() == 3 {
        let nt = dims[0].1;
        if time_index >= nt {
            return Err(ObsError::var(
                path,
                variable,
                format!("time index {time_index} beyond {nt} records"),
            ));
        }
        read_unpacked_f64(&var, path, [time_index..time_index + 1, 0..ny, 0..nx])?
    } else {
        read_unpacked_f64(&var, path, ..)?
    };
    // Time: the `time` variable (scalar or per record) with CF units.
    let time = file.variable("time").and_then(|tv| {
        let units = attr_str(&tv, "units")?;
        let (scale, epoch) = parse_time_units(&units)?;
        let t = read_unpacked_f64(&tv, path, ..).ok()?;
        let idx = if t.len() > 1 { time_index } else { 0 };
        time_from_seconds(epoch, t.get(idx)? * scale)
    });
    let (top, bottom, is_mass, source) = layer_of(variable).ok_or_else(|| {
        ObsError::var(
            path,
            variable,
            "unknown soil-moisture variable (swvlN or SoilMoiA_Bcm)",
        )
    })?;
    let values = if is_mass {
        let thickness = bottom - top;
        values
            .into_iter()
            .map(|v| v / (thickness * 1000.0))
            .collect()
    } else {
        values
    };
    Ok(GriddedField {
        variable: variable.to_string(),
        lat,
        lon,
        values,
        time,
        depth_top_m: top,
        depth_bottom_m: bottom,
        source,
    })
}
