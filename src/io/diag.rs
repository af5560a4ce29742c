//! DA diagnostics files (`LC_DA_YYYYMMDDHHMM.nc`, CF-1.8, NetCDF-4): per analysis time the
//! assimilated observations, innovations, increments and spreads on the grid, and the
//! counts of accepted and rejected observations by rule. Written with the CF helpers and
//! the fill value of [`super::history`], atomically through [`super::atomic`]. Plain data
//! in: the caller names sensors and rules, this module knows no observation or filter type.

use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;

use super::history::{put_str_attrs, Ctx, FILL_VALUE};
use super::history_part::chunk_rows;
use super::{IoError, PendingFile};
use crate::time::epoch_seconds;

/// Deflate level of the gridded fields (with shuffle): the fastest, as the files are mostly
/// fill and written on the root's writer thread beside the physics.
const DIAG_DEFLATE_LEVEL: i32 = 1;

/// `LC_DA_YYYYMMDDHHMM.nc` for analysis time `t`.
pub fn diag_file_name(t: NaiveDateTime) -> String {
    format!("LC_DA_{}.nc", t.format("%Y%m%d%H%M"))
}

/// One sensor of a diagnostics file: its names, rules and counts.
#[derive(Debug, Clone, Default)]
pub struct DiagSensor {
    /// Short name (`smap`), used as the variable prefix.
    pub name: String,
    /// Product-QC rule names of the sensor's reader.
    pub product_rules: Vec<&'static str>,
    /// Records rejected by each product rule in the window's files.
    pub product_rejected: Vec<i32>,
    pub files_read: i32,
    pub files_failed: i32,
    /// Observations (cells) assimilated at this analysis time.
    pub accepted: i32,
    /// Observations rejected at this analysis time, per entry of [`DiagContent::qc_rules`].
    pub rejected: Vec<i32>,
}

/// The horizontal coordinates of a diagnostics file.
#[derive(Debug, Clone, Copy)]
pub enum DiagGrid<'a> {
    /// A regular grid: 1-D axes, dimensions `lat`, `lon`.
    Regular { lat: &'a [f64], lon: &'a [f64] },
    /// A curvilinear grid: 2-D `lat(y, x)`, `lon(y, x)` (row-major, auxiliary coordinates
    /// named by each field's `coordinates` attribute), dimensions `y`, `x`.
    Curvilinear {
        ny: usize,
        nx: usize,
        lat: &'a [f64],
        lon: &'a [f64],
    },
}

impl DiagGrid<'_> {
    /// `(ny, nx)`.
    pub fn dims(&self) -> (usize, usize) {
        match self {
            DiagGrid::Regular { lat, lon } => (lat.len(), lon.len()),
            DiagGrid::Curvilinear { ny, nx, .. } => (*ny, *nx),
        }
    }

    /// Names of the (y, x) dimensions.
    pub fn dim_names(&self) -> [&'static str; 2] {
        match self {
            DiagGrid::Regular { .. } => ["lat", "lon"],
            DiagGrid::Curvilinear { .. } => ["y", "x"],
        }
    }

    fn is_curvilinear(&self) -> bool {
        matches!(self, DiagGrid::Curvilinear { .. })
    }
}

/// Everything one diagnostics file holds (root rank).
pub struct DiagContent<'a> {
    pub time: NaiveDateTime,
    pub window_start: NaiveDateTime,
    pub window_end: NaiveDateTime,
    pub sensors: &'a [DiagSensor],
    /// Rules of the per-analysis QC (mapping, bias correction, model QC), in order.
    pub qc_rules: &'a [&'static str],
    pub grid: DiagGrid<'a>,
    pub layer_thickness: &'a [f64],
    /// (global id, record) of the analysed cells, ascending ids. A record holds per sensor
    /// (value, error σ, innovation, normalised innovation), then per layer (increment,
    /// spread before, spread after).
    pub cells: &'a [(u64, Vec<f64>)],
    /// `joint` or `sequential`.
    pub mode: &'a str,
    /// `average` or `latest`.
    pub combine: &'a str,
}

/// Write one diagnostics file under its temporary name; the returned file is committed by
/// the caller (through the ordered writer).
pub fn write_diagnostics_deferred(path: &Path, d: &DiagContent) -> Result<PendingFile, IoError> {
    hdf5::silence_errors(true);
    let final_path = path.to_path_buf();
    let ((), pending) =
        super::atomic::atomic_write_deferred(path, |tmp| write_netcdf(tmp, &final_path, d))?;
    Ok(pending)
}

/// Write one diagnostics file atomically.
pub fn write_diagnostics(path: &Path, d: &DiagContent) -> Result<(), IoError> {
    write_diagnostics_deferred(path, d)?.commit()
}

fn iso(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn write_netcdf(tmp: &Path, final_path: &PathBuf, d: &DiagContent) -> Result<(), IoError> {
    let c = Ctx { path: final_path };
    let mut f = netcdf::create_with(tmp, netcdf::Options::NETCDF4).map_err(c.err("create"))?;
    write_globals(&mut f, &c, d)?;
    write_dims(&mut f, &c, d)?;
    write_coords(&mut f, &c, d)?;
    write_rule_vars(&mut f, &c, d)?;
    write_fields(&mut f, &c, d)?;
    write_counts(&mut f, &c, d)?;
    f.close().map_err(c.err("close"))?;
    Ok(())
}

fn write_globals(f: &mut netcdf::FileMut, c: &Ctx, d: &DiagContent) -> Result<(), IoError> {
    let names: Vec<&str> = d.sensors.iter().map(|s| s.name.as_str()).collect();
    let globals: Vec<(&str, String)> = vec![
        ("Conventions", "CF-1.8".into()),
        (
            "title",
            "landcycle soil-moisture analysis diagnostics".into(),
        ),
        ("institution", "landcycle".into()),
        (
            "source",
            format!("landcycle {} 1-D EnKF", env!("CARGO_PKG_VERSION")),
        ),
        (
            "history",
            format!("landcycle {} run", env!("CARGO_PKG_VERSION")),
        ),
        ("analysis_time", iso(d.time)),
        ("window_start", iso(d.window_start)),
        ("window_end", iso(d.window_end)),
        ("sensors", names.join(" ")),
        ("assimilation_mode", d.mode.into()),
        ("combine", d.combine.into()),
    ];
    for (k, v) in &globals {
        f.add_attribute(k, v.as_str())
            .map_err(c.err(format!("global attribute {k}")))?;
    }
    Ok(())
}

fn write_dims(f: &mut netcdf::FileMut, c: &Ctx, d: &DiagContent) -> Result<(), IoError> {
    let ([yname, xname], (ny, nx)) = (d.grid.dim_names(), d.grid.dims());
    let dims = [
        ("time", 1),
        (yname, ny),
        (xname, nx),
        ("soil_layer", d.layer_thickness.len()),
        ("qc_rule", d.qc_rules.len()),
    ];
    for (name, len) in dims {
        f.add_dimension(name, len)
            .map_err(c.err(format!("dim {name}")))?;
    }
    for s in d.sensors {
        let dim = format!("{}_product_rule", s.name);
        f.add_dimension(&dim, s.product_rules.len())
            .map_err(c.err(format!("dim {dim}")))?;
    }
    Ok(())
}

/// A 1-D f64 coordinate variable with its attributes and values.
fn coord(
    f: &mut netcdf::FileMut,
    c: &Ctx,
    name: &str,
    attrs: &[(&str, &str)],
    data: &[f64],
) -> Result<(), IoError> {
    let mut v = f
        .add_variable::<f64>(name, &[name])
        .map_err(c.err(format!("variable {name}")))?;
    put_str_attrs(&mut v, attrs).map_err(c.err(format!("attributes of {name}")))?;
    v.put_values(data, ..)
        .map_err(c.err(format!("writing {name}")))
}

fn write_coords(f: &mut netcdf::FileMut, c: &Ctx, d: &DiagContent) -> Result<(), IoError> {
    write_grid_coords(f, c, d.time, d.grid, d.layer_thickness)
}

/// The `time` (analysis time), `lat`, `lon` and `soil_layer` (layer centre depth) coordinate
/// variables of a diagnostics file; their dimensions must exist. Shared with the image
/// diagnostics (`super::image_diag`).
pub(crate) fn write_grid_coords(
    f: &mut netcdf::FileMut,
    c: &Ctx,
    time: NaiveDateTime,
    grid: DiagGrid,
    layer_thickness: &[f64],
) -> Result<(), IoError> {
    let time_attrs = [
        ("standard_name", "time"),
        ("long_name", "analysis time"),
        ("units", "seconds since 1970-01-01 00:00:00"),
        ("calendar", "standard"),
        ("axis", "T"),
    ];
    coord(f, c, "time", &time_attrs, &[epoch_seconds(time) as f64])?;
    match grid {
        DiagGrid::Regular { lat, lon } => {
            for (name, sn, units, axis, data) in [
                ("lat", "latitude", "degrees_north", "Y", lat),
                ("lon", "longitude", "degrees_east", "X", lon),
            ] {
                let attrs = [
                    ("standard_name", sn),
                    ("long_name", sn),
                    ("units", units),
                    ("axis", axis),
                ];
                coord(f, c, name, &attrs, data)?;
            }
        }
        DiagGrid::Curvilinear { lat, lon, .. } => {
            for (name, sn, units, data) in [
                ("lat", "latitude", "degrees_north", lat),
                ("lon", "longitude", "degrees_east", lon),
            ] {
                let mut v = f
                    .add_variable::<f64>(name, &["y", "x"])
                    .map_err(c.err(format!("variable {name}")))?;
                put_str_attrs(
                    &mut v,
                    &[("standard_name", sn), ("long_name", sn), ("units", units)],
                )
                .map_err(c.err(format!("attributes of {name}")))?;
                v.put_values(data, ..)
                    .map_err(c.err(format!("writing {name}")))?;
            }
        }
    }
    let mut mid = Vec::with_capacity(layer_thickness.len());
    let mut top = 0.0;
    for &dz in layer_thickness {
        mid.push(top + 0.5 * dz);
        top += dz;
    }
    let depth = [
        ("standard_name", "depth"),
        ("long_name", "depth of soil layer centre"),
        ("units", "m"),
        ("positive", "down"),
        ("axis", "Z"),
    ];
    coord(f, c, "soil_layer", &depth, &mid)
}

/// A flag variable enumerating rule names (CF flag_values/flag_meanings).
fn flag_var(
    f: &mut netcdf::FileMut,
    c: &Ctx,
    name: &str,
    rules: &[&str],
    what: &str,
) -> Result<(), IoError> {
    let mut v = f
        .add_variable::<i32>(name, &[name])
        .map_err(c.err(format!("variable {name}")))?;
    let vals: Vec<i32> = (0..rules.len() as i32).collect();
    let meanings = rules.join(" ");
    put_str_attrs(&mut v, &[("long_name", what), ("flag_meanings", &meanings)])
        .map_err(c.err(format!("attributes of {name}")))?;
    v.put_attribute("flag_values", vals.clone())
        .map_err(c.err(format!("flag_values of {name}")))?;
    v.put_values(&vals, ..)
        .map_err(c.err(format!("writing {name}")))
}

fn write_rule_vars(f: &mut netcdf::FileMut, c: &Ctx, d: &DiagContent) -> Result<(), IoError> {
    let what = "rule of the mapping, bias-correction and model QC";
    flag_var(f, c, "qc_rule", d.qc_rules, what)?;
    for s in d.sensors {
        let name = format!("{}_product_rule", s.name);
        let what = format!("{} product quality rule of the reader", s.name);
        flag_var(f, c, &name, &s.product_rules, &what)?;
    }
    Ok(())
}

/// Record entry `offset` of every analysed cell on the full grid (fill elsewhere).
fn grid_field(d: &DiagContent, offset: usize) -> Vec<f32> {
    let (ny, nx) = d.grid.dims();
    let mut g = vec![FILL_VALUE; ny * nx];
    for (id, rec) in d.cells {
        let (k, v) = (*id as usize, rec[offset]);
        if v.is_finite() && k < g.len() {
            g[k] = v as f32;
        }
    }
    g
}

/// A gridded f32 field (with soil layers when `layered`) with its attributes.
fn put_field(
    f: &mut netcdf::FileMut,
    c: &Ctx,
    d: &DiagContent,
    (name, layered): (&str, bool),
    (long_name, units): (&str, &str),
    data: &[f32],
) -> Result<(), IoError> {
    let (nl, (ny, nx)) = (d.layer_thickness.len(), d.grid.dims());
    let [yname, xname] = d.grid.dim_names();
    let rows = chunk_rows(ny);
    let (dims, ext, chunk): (Vec<&str>, Vec<Range<usize>>, Vec<usize>) = if layered {
        (
            vec!["time", "soil_layer", yname, xname],
            vec![0..1, 0..nl, 0..ny, 0..nx],
            vec![1, 1, rows, nx],
        )
    } else {
        (
            vec!["time", yname, xname],
            vec![0..1, 0..ny, 0..nx],
            vec![1, rows, nx],
        )
    };
    let mut v = f
        .add_variable::<f32>(name, &dims)
        .map_err(c.err(format!("variable {name}")))?;
    // Mostly _FillValue (only analysed cells hold values): chunked like history and deflated
    // at level 1, a global 0.25° file is a few MB instead of 69 MB.
    v.set_chunking(&chunk)
        .map_err(c.err(format!("chunking of {name}")))?;
    v.set_compression(DIAG_DEFLATE_LEVEL, true)
        .map_err(c.err(format!("compression of {name}")))?;
    v.set_fill_value(FILL_VALUE)
        .map_err(c.err(format!("_FillValue of {name}")))?;
    put_str_attrs(&mut v, &[("long_name", long_name), ("units", units)])
        .map_err(c.err(format!("attributes of {name}")))?;
    if d.grid.is_curvilinear() {
        put_str_attrs(&mut v, &[("coordinates", "lat lon")])
            .map_err(c.err(format!("coordinates of {name}")))?;
    }
    v.put_values(data, ext.as_slice())
        .map_err(c.err(format!("writing {name}")))
}

fn write_fields(f: &mut netcdf::FileMut, c: &Ctx, d: &DiagContent) -> Result<(), IoError> {
    for (si, s) in d.sensors.iter().enumerate() {
        let up = s.name.to_uppercase();
        let per_obs = [
            (
                "obs",
                format!("{up} observation assimilated (bias corrected, volumetric)"),
                "m3 m-3",
            ),
            (
                "obs_error",
                format!("{up} observation error standard deviation"),
                "m3 m-3",
            ),
            (
                "innovation",
                format!("{up} innovation y - H x (background ensemble mean)"),
                "m3 m-3",
            ),
            (
                "normalized_innovation",
                format!("{up} innovation divided by sqrt(H P H^T + R)"),
                "1",
            ),
        ];
        for (k, (suffix, long, units)) in per_obs.iter().enumerate() {
            let name = format!("{}_{suffix}", s.name);
            let data = grid_field(d, 4 * si + k);
            put_field(f, c, d, (&name, false), (long, units), &data)?;
        }
    }
    let (base, nl) = (4 * d.sensors.len(), d.layer_thickness.len());
    let per_layer = [
        (
            "increment",
            "soil moisture analysis increment (ensemble mean)",
        ),
        (
            "spread_before",
            "soil moisture ensemble standard deviation before the analysis",
        ),
        (
            "spread_after",
            "soil moisture ensemble standard deviation after the analysis",
        ),
    ];
    for (k, (name, long)) in per_layer.iter().enumerate() {
        let (ny, nx) = d.grid.dims();
        let mut data = Vec::with_capacity(nl * ny * nx);
        for l in 0..nl {
            data.extend(grid_field(d, base + k * nl + l));
        }
        put_field(f, c, d, (name, true), (long, "m3 m-3"), &data)?;
    }
    Ok(())
}

/// An i32 count variable over `dims` (the first is `time`, of length 1).
fn put_counts(
    f: &mut netcdf::FileMut,
    c: &Ctx,
    (name, dims): (&str, &[&str]),
    long: &str,
    data: &[i32],
) -> Result<(), IoError> {
    let mut v = f
        .add_variable::<i32>(name, dims)
        .map_err(c.err(format!("variable {name}")))?;
    put_str_attrs(&mut v, &[("long_name", long), ("units", "1")])
        .map_err(c.err(format!("attributes of {name}")))?;
    let ext: Vec<Range<usize>> = std::iter::once(0..1)
        .chain((dims.len() > 1).then_some(0..data.len()))
        .collect();
    v.put_values(data, ext.as_slice())
        .map_err(c.err(format!("writing {name}")))
}

fn write_counts(f: &mut netcdf::FileMut, c: &Ctx, d: &DiagContent) -> Result<(), IoError> {
    for s in d.sensors {
        let n = &s.name;
        let name = |suffix: &str| format!("{n}_{suffix}");
        let long = format!("{n} observations (cells) assimilated at this analysis time");
        put_counts(f, c, (&name("accepted"), &["time"]), &long, &[s.accepted])?;
        let long = format!("{n} observations rejected at this analysis time, by rule");
        let dims = ["time", "qc_rule"];
        put_counts(f, c, (&name("rejected"), &dims), &long, &s.rejected)?;
        let pdim = format!("{n}_product_rule");
        let long = format!("{n} records rejected by the product QC in the files of this window");
        let dims = ["time", pdim.as_str()];
        put_counts(
            f,
            c,
            (&name("product_rejected"), &dims),
            &long,
            &s.product_rejected,
        )?;
        let long = format!("{n} files of this window read");
        put_counts(
            f,
            c,
            (&name("files_read"), &["time"]),
            &long,
            &[s.files_read],
        )?;
        let long = format!("{n} files of this window skipped as unreadable");
        put_counts(
            f,
            c,
            (&name("files_failed"), &["time"]),
            &long,
            &[s.files_failed],
        )?;
    }
    Ok(())
}
