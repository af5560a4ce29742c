//! A land mask for the synthetic case taken from a real gridded file (e.g. the ERA5 0.25°
//! land-sea fraction `lsm`), so that the benchmark case has the globe's land cells while
//! its soil, vegetation and weather stay synthetic.
//!
//! The mask is returned on the synthetic grid's convention, whatever the file's: rows
//! south→north (ERA5 stores north→south, so its rows are reversed here, not by accident of
//! the reader), columns eastward from −180° when the file covers the whole circle (ERA5's
//! 0…359.75° is rotated). Rows are kept for `lat_min ≤ lat < lat_max`, so 60° S–90° N
//! gives GLDAS's 600 rows (the pole row itself is left out). Missing values count as water.

use std::path::{Path, PathBuf};

use crate::io::gridded::{read_field, GriddedError, GriddedField, Selection};

/// Where the mask comes from and how it is cut.
#[derive(Debug, Clone, PartialEq)]
pub struct LandMaskSpec {
    /// Gridded NetCDF file.
    pub file: PathBuf,
    /// Variable holding the land fraction (or a 0/1 mask).
    pub variable: String,
    /// Land where the value is at least this.
    pub threshold: f64,
    /// Southernmost latitude kept (inclusive, degrees north).
    pub lat_min: f64,
    /// Northern limit (exclusive, degrees north).
    pub lat_max: f64,
}

/// A land mask on a regular grid, rows south→north, columns eastward.
#[derive(Debug, Clone, PartialEq)]
pub struct LandMask {
    /// Row latitudes, ascending.
    pub lat: Vec<f64>,
    /// Column longitudes, ascending.
    pub lon: Vec<f64>,
    /// Grid spacing (degrees, the same in latitude and longitude).
    pub resolution: f64,
    /// Row-major `lat.len() × lon.len()`, true on land.
    pub land: Vec<bool>,
}

impl LandMask {
    /// Number of land cells.
    pub fn n_land(&self) -> usize {
        self.land.iter().filter(|&&l| l).count()
    }

    /// The cell whose centre is nearest to (lat, lon), if inside the grid.
    pub fn is_land_at(&self, lat: f64, lon: f64) -> Option<bool> {
        let j = ((lat - self.lat[0]) / self.resolution).round();
        let dlon = (lon - self.lon[0]).rem_euclid(360.0);
        let i = (dlon / self.resolution).round();
        let (j, i) = (j as i64, i as i64);
        let (ny, nx) = (self.lat.len() as i64, self.lon.len() as i64);
        ((0..ny).contains(&j) && (0..nx).contains(&i)).then(|| self.land[(j * nx + i) as usize])
    }
}

/// Errors of the mask reader; every message names the file and variable.
#[derive(Debug, thiserror::Error)]
pub enum LandMaskError {
    #[error("land mask: {0}")]
    Read(#[from] GriddedError),
    #[error("land mask {}: variable '{var}': {msg}", file.display())]
    Grid {
        file: PathBuf,
        var: String,
        msg: String,
    },
}

/// Read the mask of `spec` and put it on the synthetic grid's convention.
pub fn read_land_mask(spec: &LandMaskSpec) -> Result<LandMask, LandMaskError> {
    let field = read_field(&spec.file, &spec.variable, &Selection::default())?;
    let bad = |msg: String| LandMaskError::Grid {
        file: spec.file.clone(),
        var: spec.variable.clone(),
        msg,
    };
    let resolution =
        regular_spacing(&field.lat).ok_or_else(|| bad("latitudes are not evenly spaced".into()))?;
    let dlon = regular_spacing(&field.lon)
        .ok_or_else(|| bad("longitudes are not evenly spaced".into()))?;
    if (resolution - dlon).abs() > 1e-6 * resolution {
        return Err(bad(format!(
            "latitude spacing {resolution}° differs from longitude spacing {dlon}°"
        )));
    }
    let rows = rows_south_to_north(&field.lat, spec.lat_min, spec.lat_max);
    if rows.is_empty() {
        return Err(bad(format!(
            "no latitude in [{}, {}) (file covers {}..{})",
            spec.lat_min,
            spec.lat_max,
            field.lat[0],
            field.lat[field.lat.len() - 1]
        )));
    }
    let cols = columns_from_dateline(&field);
    let nx0 = field.n_lon();
    let mut land = Vec::with_capacity(rows.len() * cols.len());
    for &j in &rows {
        for &i in &cols {
            let v = field.values[j * nx0 + i];
            land.push(v.is_finite() && v >= spec.threshold);
        }
    }
    Ok(LandMask {
        lat: rows.iter().map(|&j| field.lat[j]).collect(),
        lon: cols
            .iter()
            .map(|&i| wrap_lon(field.lon[i], &field))
            .collect(),
        resolution,
        land,
    })
}

/// |Δ| of an evenly spaced coordinate (either direction), or `None`.
fn regular_spacing(c: &[f64]) -> Option<f64> {
    if c.len() < 2 {
        return None;
    }
    let d = (c[c.len() - 1] - c[0]) / (c.len() - 1) as f64;
    let even = c
        .windows(2)
        .all(|w| ((w[1] - w[0]) - d).abs() <= 1e-4 * d.abs());
    (even && d != 0.0).then_some(d.abs())
}

/// File rows with `lat_min ≤ lat < lat_max`, ordered south→north whatever the file's order.
fn rows_south_to_north(lat: &[f64], lat_min: f64, lat_max: f64) -> Vec<usize> {
    let mut rows: Vec<usize> = (0..lat.len())
        .filter(|&j| lat[j] >= lat_min - 1e-9 && lat[j] < lat_max - 1e-9)
        .collect();
    if lat[0] > lat[lat.len() - 1] {
        rows.reverse();
    }
    rows
}

/// File columns eastward; a global file is rotated to start at the first longitude ≥ −180°
/// when longitudes are written in −180…180 (0…360 files start at 180° E ≡ −180°).
fn columns_from_dateline(field: &GriddedField) -> Vec<usize> {
    let n = field.n_lon();
    if !field.is_global_lon() {
        return (0..n).collect();
    }
    let first = (0..n)
        .min_by(|&a, &b| wrap_lon(field.lon[a], field).total_cmp(&wrap_lon(field.lon[b], field)))
        .unwrap_or(0);
    (0..n).map(|k| (first + k) % n).collect()
}

/// A global file's longitude in [−180, 180); other files keep theirs.
fn wrap_lon(lon: f64, field: &GriddedField) -> f64 {
    if field.is_global_lon() {
        (lon + 180.0).rem_euclid(360.0) - 180.0
    } else {
        lon
    }
}

/// The namelist's mask file resolved against the namelist's directory.
pub fn resolve(file: &Path, namelist: &Path) -> PathBuf {
    match namelist.parent() {
        Some(d) if file.is_relative() => d.join(file),
        _ => file.to_path_buf(),
    }
}
