//! CF-1.8 NetCDF map files of verification metrics: one variable per metric on the grid of
//! the scored history files (1-D `lat`/`lon` coordinates for a regular grid, 2-D `lat(y, x)`,
//! `lon(y, x)` auxiliary coordinates otherwise), optionally with a `soil_layer` axis,
//! `_FillValue` where the metric is undefined, `units` and `long_name` on every variable.

use std::path::{Path, PathBuf};

use super::history::HistoryGridInfo;
use super::VerifyError;

/// Fill value of the map variables (as in the history files).
pub const MAP_FILL: f64 = 1.0e20;

/// One map variable: `data` is `[layer][y][x]` (`layered`) or `[y][x]`; NaN = undefined.
#[derive(Debug, Clone)]
pub struct MapField {
    pub name: String,
    pub long_name: String,
    pub units: String,
    pub layered: bool,
    pub data: Vec<f64>,
}

/// The contents of a map file.
pub struct MapFile<'a> {
    pub grid: &'a HistoryGridInfo,
    pub n_layers: usize,
    pub fields: &'a [MapField],
    /// Global attributes besides `Conventions`.
    pub globals: &'a [(&'a str, String)],
}

fn var_err(path: &Path, variable: &str) -> impl Fn(netcdf::Error) -> VerifyError + use<> {
    let (path, variable) = (path.to_path_buf(), variable.to_string());
    move |e| VerifyError::Variable {
        path: path.clone(),
        variable: variable.clone(),
        message: e.to_string(),
    }
}

/// True when the grid's coordinates are 1-D: lat constant along rows, lon along columns.
fn is_regular(g: &HistoryGridInfo) -> bool {
    (0..g.ny).all(|y| (0..g.nx).all(|x| g.lat[y * g.nx + x] == g.lat[y * g.nx]))
        && (0..g.ny).all(|y| (0..g.nx).all(|x| g.lon[y * g.nx + x] == g.lon[x]))
}

/// Write a map file atomically; every error names the file and variable.
pub fn write_maps(path: &Path, m: &MapFile) -> Result<(), VerifyError> {
    let n = m.grid.ny * m.grid.nx;
    for f in m.fields {
        let want = if f.layered { m.n_layers * n } else { n };
        if f.data.len() != want {
            return Err(VerifyError::Variable {
                path: path.to_path_buf(),
                variable: f.name.clone(),
                message: format!("{} values, expected {want}", f.data.len()),
            });
        }
    }
    let final_path: PathBuf = path.to_path_buf();
    crate::io::atomic_write(path, |tmp| write_netcdf(tmp, &final_path, m))
}

fn write_netcdf(tmp: &Path, path: &Path, m: &MapFile) -> Result<(), VerifyError> {
    let mut f =
        netcdf::create_with(tmp, netcdf::Options::NETCDF4).map_err(|e| VerifyError::Io {
            path: path.to_path_buf(),
            message: format!("cannot create: {e}"),
        })?;
    f.add_attribute("Conventions", "CF-1.8")
        .map_err(var_err(path, "(global)"))?;
    for (k, v) in m.globals {
        f.add_attribute(k, v.as_str())
            .map_err(var_err(path, "(global)"))?;
    }
    let regular = is_regular(m.grid);
    let (ydim, xdim) = if regular { ("lat", "lon") } else { ("y", "x") };
    f.add_dimension(ydim, m.grid.ny)
        .map_err(var_err(path, ydim))?;
    f.add_dimension(xdim, m.grid.nx)
        .map_err(var_err(path, xdim))?;
    if m.n_layers > 0 {
        f.add_dimension("soil_layer", m.n_layers)
            .map_err(var_err(path, "soil_layer"))?;
    }
    write_coords(&mut f, path, m, regular, (ydim, xdim))?;
    for field in m.fields {
        write_field(&mut f, path, field, regular, (ydim, xdim))?;
    }
    f.close().map_err(var_err(path, "(close)"))?;
    Ok(())
}

fn write_coords(
    f: &mut netcdf::FileMut,
    path: &Path,
    m: &MapFile,
    regular: bool,
    (ydim, xdim): (&str, &str),
) -> Result<(), VerifyError> {
    let g = m.grid;
    let (lat, lon, dims): (Vec<f64>, Vec<f64>, Vec<&str>) = if regular {
        let lat = (0..g.ny).map(|y| g.lat[y * g.nx]).collect();
        (lat, g.lon[..g.nx].to_vec(), vec![])
    } else {
        (g.lat.clone(), g.lon.clone(), vec![ydim, xdim])
    };
    for (name, sn, units, axis, data) in [
        ("lat", "latitude", "degrees_north", "Y", lat),
        ("lon", "longitude", "degrees_east", "X", lon),
    ] {
        let d: Vec<&str> = if regular { vec![name] } else { dims.clone() };
        let mut v = f
            .add_variable::<f64>(name, &d)
            .map_err(var_err(path, name))?;
        let mut attrs = vec![("standard_name", sn), ("long_name", sn), ("units", units)];
        if regular {
            attrs.push(("axis", axis));
        }
        for (k, val) in attrs {
            v.put_attribute(k, val).map_err(var_err(path, name))?;
        }
        v.put_values(&data, ..).map_err(var_err(path, name))?;
    }
    if m.n_layers > 0 {
        let mut v = f
            .add_variable::<i32>("soil_layer", &["soil_layer"])
            .map_err(var_err(path, "soil_layer"))?;
        v.put_attribute("long_name", "soil layer number (1 = top)")
            .map_err(var_err(path, "soil_layer"))?;
        v.put_attribute("units", "1")
            .map_err(var_err(path, "soil_layer"))?;
        let k: Vec<i32> = (1..=m.n_layers as i32).collect();
        v.put_values(&k, ..).map_err(var_err(path, "soil_layer"))?;
    }
    Ok(())
}

fn write_field(
    f: &mut netcdf::FileMut,
    path: &Path,
    field: &MapField,
    regular: bool,
    (ydim, xdim): (&str, &str),
) -> Result<(), VerifyError> {
    let name = field.name.as_str();
    let dims: Vec<&str> = if field.layered {
        vec!["soil_layer", ydim, xdim]
    } else {
        vec![ydim, xdim]
    };
    let mut v = f
        .add_variable::<f64>(name, &dims)
        .map_err(var_err(path, name))?;
    v.set_fill_value(MAP_FILL).map_err(var_err(path, name))?;
    v.put_attribute("long_name", field.long_name.as_str())
        .map_err(var_err(path, name))?;
    v.put_attribute("units", field.units.as_str())
        .map_err(var_err(path, name))?;
    if !regular {
        v.put_attribute("coordinates", "lat lon")
            .map_err(var_err(path, name))?;
    }
    let data: Vec<f64> = field
        .data
        .iter()
        .map(|x| if x.is_finite() { *x } else { MAP_FILL })
        .collect();
    v.put_values(&data, ..).map_err(var_err(path, name))
}
