//! The CF-1.8 NetCDF time series of a point run (Noah's and CoLM's): a time axis at the end
//! of each step, a soil-layer depth axis with bounds, scalar series and per-layer series with
//! ALMA names. Written atomically.

use super::PointError;
use chrono::NaiveDateTime;
use std::path::Path;

/// One variable: ALMA name, units, long name, CF standard name, values (time-major for
/// per-layer variables).
#[derive(Debug, Clone)]
pub struct SeriesVar {
    pub name: &'static str,
    pub units: &'static str,
    pub long_name: &'static str,
    pub standard_name: Option<&'static str>,
    pub values: Vec<f64>,
}

/// A whole point-run file.
#[derive(Debug, Clone)]
pub struct PointSeries {
    pub title: String,
    pub comment: String,
    /// Reference time of the time axis.
    pub start: NaiveDateTime,
    /// Seconds since `start` at the end of each step.
    pub times: Vec<f64>,
    /// Depth (m, positive down) and (top, bottom) of each soil layer.
    pub layer_depth: Vec<f64>,
    pub layer_bounds: Vec<(f64, f64)>,
    pub series: Vec<SeriesVar>,
    pub layered: Vec<SeriesVar>,
}

/// Writes `s` to `path` (atomically).
pub fn write_series(path: &Path, s: &PointSeries) -> Result<(), PointError> {
    crate::io::atomic::atomic_write(path, |tmp| {
        let nerr = |e: netcdf::Error| PointError::NetCdf {
            path: path.to_path_buf(),
            msg: e.to_string(),
        };
        write_to(tmp, s).map_err(nerr)
    })
}

fn put_var(f: &mut netcdf::FileMut, v: &SeriesVar, dims: &[&str]) -> Result<(), netcdf::Error> {
    let mut var = f.add_variable::<f64>(v.name, dims)?;
    var.put_attribute("units", v.units)?;
    var.put_attribute("long_name", v.long_name)?;
    if let Some(sn) = v.standard_name {
        var.put_attribute("standard_name", sn)?;
    }
    var.put_values(&v.values, ..)?;
    Ok(())
}

fn write_to(path: &Path, s: &PointSeries) -> Result<(), netcdf::Error> {
    let nl = s.layer_depth.len();
    let mut f = netcdf::create(path)?;
    f.add_attribute("Conventions", "CF-1.8")?;
    f.add_attribute("title", s.title.as_str())?;
    f.add_attribute("comment", s.comment.as_str())?;
    f.add_dimension("time", s.times.len())?;
    f.add_dimension("soil_layer", nl)?;
    f.add_dimension("nv", 2)?;
    {
        let mut v = f.add_variable::<f64>("time", &["time"])?;
        v.put_attribute("standard_name", "time")?;
        let t0 = s.start.format("%Y-%m-%d %H:%M:%S");
        v.put_attribute("units", format!("seconds since {t0}"))?;
        v.put_attribute("calendar", "standard")?;
        v.put_attribute("axis", "T")?;
        v.put_attribute("comment", "end of each model step")?;
        v.put_values(&s.times, ..)?;
    }
    {
        let mut v = f.add_variable::<f64>("soil_layer", &["soil_layer"])?;
        v.put_attribute("standard_name", "depth")?;
        v.put_attribute("units", "m")?;
        v.put_attribute("positive", "down")?;
        v.put_attribute("bounds", "soil_layer_bnds")?;
        v.put_values(&s.layer_depth, ..)?;
        let bnds: Vec<f64> = s.layer_bounds.iter().flat_map(|&(a, b)| [a, b]).collect();
        let mut b = f.add_variable::<f64>("soil_layer_bnds", &["soil_layer", "nv"])?;
        b.put_values(&bnds, ..)?;
    }
    for v in &s.series {
        put_var(&mut f, v, &["time"])?;
    }
    for v in &s.layered {
        put_var(&mut f, v, &["time", "soil_layer"])?;
    }
    Ok(())
}
