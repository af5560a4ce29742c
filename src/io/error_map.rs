//! Reading a per-cell observation-error map: one 2-D variable of a CF map file as
//! `landcycle tca --maps` writes it (`verify::maps`), with the cell-centre coordinates
//! (1-D `lat(lat)`/`lon(lon)` axes or 2-D `lat(y, x)`/`lon(y, x)`) expanded to `[y][x]`.
//! The cycle checks the grid and turns variances into error standard deviations.

use std::path::{Path, PathBuf};

use netcdf::Variable;

/// A 2-D map field; `data`, `lat` and `lon` are row-major `[y][x]`, NaN where the file holds
/// `_FillValue`, `missing_value`, a non-finite value or a value of magnitude ≥ 1e19.
#[derive(Debug, Clone, PartialEq)]
pub struct MapField2D {
    pub ny: usize,
    pub nx: usize,
    pub lat: Vec<f64>,
    pub lon: Vec<f64>,
    pub data: Vec<f64>,
    /// The variable's `units` attribute ("" when absent).
    pub units: String,
}

/// Errors of reading a map; each names the file and the variable.
#[derive(Debug, thiserror::Error)]
#[error("{path}: variable {variable}: {message}")]
pub struct MapReadError {
    pub path: PathBuf,
    pub variable: String,
    pub message: String,
}

fn err(path: &Path, variable: &str, message: impl std::fmt::Display) -> MapReadError {
    MapReadError {
        path: path.to_path_buf(),
        variable: variable.to_string(),
        message: message.to_string(),
    }
}

/// Read the 2-D variable `name` of the map file `path` with its coordinates.
pub fn read_map_field(path: &Path, name: &str) -> Result<MapField2D, MapReadError> {
    let f = netcdf::open(path).map_err(|e| err(path, "(file)", format!("cannot open: {e}")))?;
    let v = f.variable(name).ok_or_else(|| {
        let have: Vec<String> = f.variables().map(|v| v.name()).collect();
        err(
            path,
            name,
            format!("not in the file (variables: {})", have.join(", ")),
        )
    })?;
    let dims: Vec<usize> = v.dimensions().iter().map(|d| d.len()).collect();
    let [ny, nx] = dims[..] else {
        return Err(err(
            path,
            name,
            format!("has {} dimensions, a map has 2 (y, x)", dims.len()),
        ));
    };
    let data = read_masked(path, &v, name)?;
    let units = match v.attribute_value("units") {
        Some(Ok(netcdf::AttributeValue::Str(s))) => s,
        _ => String::new(),
    };
    let lat = read_coord(&f, path, "lat", (ny, nx), true)?;
    let lon = read_coord(&f, path, "lon", (ny, nx), false)?;
    Ok(MapField2D {
        ny,
        nx,
        lat,
        lon,
        data,
        units,
    })
}

/// A coordinate expanded to `[y][x]`: a 1-D axis along y (`along_y`) or x, or a 2-D field.
fn read_coord(
    f: &netcdf::File,
    path: &Path,
    name: &str,
    (ny, nx): (usize, usize),
    along_y: bool,
) -> Result<Vec<f64>, MapReadError> {
    let v = f
        .variable(name)
        .ok_or_else(|| err(path, name, "coordinate variable not in the file"))?;
    let c = read_masked(path, &v, name)?;
    let axis = if along_y { ny } else { nx };
    if c.len() == ny * nx && v.dimensions().len() == 2 {
        Ok(c)
    } else if c.len() == axis && v.dimensions().len() == 1 {
        Ok((0..ny * nx)
            .map(|k| c[if along_y { k / nx } else { k % nx }])
            .collect())
    } else {
        Err(err(
            path,
            name,
            format!("{} values do not fit a {ny} x {nx} map", c.len()),
        ))
    }
}

fn read_masked(path: &Path, v: &Variable, name: &str) -> Result<Vec<f64>, MapReadError> {
    let raw: Vec<f64> = v.get_values::<f64, _>(..).map_err(|e| err(path, name, e))?;
    let attr = |a: &str| match v.attribute_value(a) {
        Some(Ok(netcdf::AttributeValue::Double(x))) => Some(x),
        Some(Ok(netcdf::AttributeValue::Float(x))) => Some(f64::from(x)),
        _ => None,
    };
    let (fill, missing) = (attr("_FillValue"), attr("missing_value"));
    let is = |x: f64, f: Option<f64>| f.is_some_and(|f| x == f);
    Ok(raw
        .into_iter()
        .map(|x| {
            if !x.is_finite() || x.abs() >= 1.0e19 || is(x, fill) || is(x, missing) {
                f64::NAN
            } else {
                x
            }
        })
        .collect())
}
