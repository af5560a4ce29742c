//! Image-analysis diagnostics files (`LC_IMG_YYYYMMDDHHMM.nc`, CF-1.8, NetCDF-4): per image
//! analysis the observed image and its mask, innovation, increments, the scores of
//! background and analysis against the image, CG iterations (variational) and per-band
//! b/r/gain summaries (EnKF-like). Plain data in: the caller names every field and scalar,
//! this module knows no analysis type. Written atomically through [`super::atomic`].

use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;

use super::diag::{write_grid_coords, DiagGrid};
use super::history::{put_str_attrs, Ctx, FILL_VALUE};
use super::{IoError, PendingFile};

/// `LC_IMG_YYYYMMDDHHMM.nc` for analysis time `t`.
pub fn image_diag_file_name(t: NaiveDateTime) -> String {
    format!("LC_IMG_{}.nc", t.format("%Y%m%d%H%M"))
}

/// One gridded field: `lat × lon`, or `soil_layer × lat × lon` when `layered`; NaN = fill.
#[derive(Debug, Clone)]
pub struct ImageDiagField {
    pub name: &'static str,
    pub long_name: String,
    pub units: &'static str,
    pub layered: bool,
    pub data: Vec<f64>,
}

/// One scalar (dimension `time`).
#[derive(Debug, Clone)]
pub struct ImageDiagScalar {
    pub name: &'static str,
    pub long_name: &'static str,
    pub units: &'static str,
    pub value: f64,
}

/// A table of columns over one dimension (`iteration` or `band`).
#[derive(Debug, Clone, Default)]
pub struct ImageDiagTable {
    pub dim: &'static str,
    /// (name, long name, units, values); all columns of one length.
    pub columns: Vec<(&'static str, &'static str, &'static str, Vec<f64>)>,
}

/// Everything one image diagnostics file holds (root rank).
#[derive(Debug, Clone)]
pub struct ImageDiagContent {
    pub time: NaiveDateTime,
    /// Global attributes (method, settings, source file, stop reason...).
    pub attributes: Vec<(&'static str, String)>,
    pub lat: Vec<f64>,
    pub lon: Vec<f64>,
    pub layer_thickness: Vec<f64>,
    pub fields: Vec<ImageDiagField>,
    pub scalars: Vec<ImageDiagScalar>,
    pub tables: Vec<ImageDiagTable>,
}

/// Write one file under its temporary name; the caller commits it (ordered writer).
pub fn write_image_diag_deferred(
    path: &Path,
    d: &ImageDiagContent,
) -> Result<PendingFile, IoError> {
    hdf5::silence_errors(true);
    let final_path = path.to_path_buf();
    let ((), pending) =
        super::atomic::atomic_write_deferred(path, |tmp| write_netcdf(tmp, &final_path, d))?;
    Ok(pending)
}

/// Write one file atomically.
pub fn write_image_diag(path: &Path, d: &ImageDiagContent) -> Result<(), IoError> {
    write_image_diag_deferred(path, d)?.commit()
}

fn write_netcdf(tmp: &Path, final_path: &PathBuf, d: &ImageDiagContent) -> Result<(), IoError> {
    let c = Ctx { path: final_path };
    let mut f = netcdf::create_with(tmp, netcdf::Options::NETCDF4).map_err(c.err("create"))?;
    write_globals(&mut f, &c, d)?;
    write_coords(&mut f, &c, d)?;
    for field in &d.fields {
        put_field(&mut f, &c, d, field)?;
    }
    for s in &d.scalars {
        let mut v = f
            .add_variable::<f64>(s.name, &["time"])
            .map_err(c.err(format!("variable {}", s.name)))?;
        put_str_attrs(&mut v, &[("long_name", s.long_name), ("units", s.units)])
            .map_err(c.err(format!("attributes of {}", s.name)))?;
        v.put_values(&[s.value], ..)
            .map_err(c.err(format!("writing {}", s.name)))?;
    }
    for t in &d.tables {
        put_table(&mut f, &c, t)?;
    }
    f.close().map_err(c.err("close"))?;
    Ok(())
}

fn write_globals(f: &mut netcdf::FileMut, c: &Ctx, d: &ImageDiagContent) -> Result<(), IoError> {
    let version = env!("CARGO_PKG_VERSION");
    let mut globals: Vec<(&str, String)> = vec![
        ("Conventions", "CF-1.8".into()),
        (
            "title",
            "landcycle curvelet image analysis diagnostics".into(),
        ),
        ("institution", "landcycle".into()),
        ("source", format!("landcycle {version} image analysis")),
        ("history", format!("landcycle {version} run")),
        (
            "analysis_time",
            d.time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ),
    ];
    globals.extend(d.attributes.iter().map(|(k, v)| (*k, v.clone())));
    for (k, v) in &globals {
        f.add_attribute(k, v.as_str())
            .map_err(c.err(format!("global attribute {k}")))?;
    }
    Ok(())
}

fn write_coords(f: &mut netcdf::FileMut, c: &Ctx, d: &ImageDiagContent) -> Result<(), IoError> {
    let dims = [
        ("time", 1),
        ("lat", d.lat.len()),
        ("lon", d.lon.len()),
        ("soil_layer", d.layer_thickness.len()),
    ];
    for (name, len) in dims {
        f.add_dimension(name, len)
            .map_err(c.err(format!("dim {name}")))?;
    }
    let grid = DiagGrid::Regular {
        lat: &d.lat,
        lon: &d.lon,
    };
    write_grid_coords(f, c, d.time, grid, &d.layer_thickness)
}

fn put_field(
    f: &mut netcdf::FileMut,
    c: &Ctx,
    d: &ImageDiagContent,
    field: &ImageDiagField,
) -> Result<(), IoError> {
    let (nl, ny, nx) = (d.layer_thickness.len(), d.lat.len(), d.lon.len());
    let (dims, ext): (Vec<&str>, Vec<Range<usize>>) = if field.layered {
        (
            vec!["time", "soil_layer", "lat", "lon"],
            vec![0..1, 0..nl, 0..ny, 0..nx],
        )
    } else {
        (vec!["time", "lat", "lon"], vec![0..1, 0..ny, 0..nx])
    };
    let want: usize = ext.iter().map(|r| r.len()).product();
    let name = field.name;
    if field.data.len() != want {
        return Err(IoError::Invalid {
            path: c.path.clone(),
            msg: format!(
                "field {name} has {} values, the grid needs {want}",
                field.data.len()
            ),
        });
    }
    let data: Vec<f32> = field
        .data
        .iter()
        .map(|&v| if v.is_finite() { v as f32 } else { FILL_VALUE })
        .collect();
    let mut v = f
        .add_variable::<f32>(name, &dims)
        .map_err(c.err(format!("variable {name}")))?;
    v.set_fill_value(FILL_VALUE)
        .map_err(c.err(format!("_FillValue of {name}")))?;
    put_str_attrs(
        &mut v,
        &[("long_name", &field.long_name), ("units", field.units)],
    )
    .map_err(c.err(format!("attributes of {name}")))?;
    v.put_values(&data, ext.as_slice())
        .map_err(c.err(format!("writing {name}")))
}

fn put_table(f: &mut netcdf::FileMut, c: &Ctx, t: &ImageDiagTable) -> Result<(), IoError> {
    let n = t.columns.first().map_or(0, |col| col.3.len());
    f.add_dimension(t.dim, n)
        .map_err(c.err(format!("dim {}", t.dim)))?;
    for (name, long, units, values) in &t.columns {
        let mut v = f
            .add_variable::<f64>(name, &[t.dim])
            .map_err(c.err(format!("variable {name}")))?;
        put_str_attrs(&mut v, &[("long_name", long), ("units", units)])
            .map_err(c.err(format!("attributes of {name}")))?;
        if n > 0 {
            v.put_values(values, ..)
                .map_err(c.err(format!("writing {name}")))?;
        }
    }
    Ok(())
}
