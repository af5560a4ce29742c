//! NetCDF storage of a bias-correction [`Climatology`] (the statistics are `biascorr`'s): dimensions `month` (12), `lat`, `lon`, `quantile`;
//! variables `{model,obs}_quantiles(month, lat, lon, quantile)`, `{model,obs}_{mean,std}`
//! and `{model,obs}_count(month, lat, lon)`; NaN marks missing statistics. Written to a
//! temporary name in the same directory, fsynced and renamed, so a reader sees either the
//! old or the complete new file.

use crate::biascorr::climatology::{Climatology, Stats};
use crate::biascorr::quantile_levels;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Errors of climatology storage.
#[derive(Debug, Error)]
pub enum StoreError {
    /// File-system failure of the atomic write (names the file).
    #[error(transparent)]
    Io(#[from] crate::io::IoError),
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{path}: variable {variable}: {message}")]
    Variable {
        path: PathBuf,
        variable: String,
        message: String,
    },
}

fn ferr(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn verr(path: &Path, v: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Variable {
        path: path.to_path_buf(),
        variable: v.to_string(),
        message: e.to_string(),
    }
}

/// Write `clim` to `path` atomically (temporary name, fsync, rename; `io::atomic_write`).
pub fn write_climatology(path: &Path, clim: &Climatology) -> Result<(), StoreError> {
    crate::io::atomic_write(path, |tmp| {
        write_inner(tmp, clim).map_err(|e| match e {
            // Name the final file, not the temporary one.
            StoreError::File { message, .. } => ferr(path, message),
            StoreError::Variable {
                variable, message, ..
            } => verr(path, &variable, message),
            other => other,
        })
    })
}

fn e<'a>(path: &'a Path, v: &'a str) -> impl Fn(netcdf::Error) -> StoreError + 'a {
    move |err| verr(path, v, err)
}

fn write_inner(path: &Path, c: &Climatology) -> Result<(), StoreError> {
    let (ny, nx, nq) = (c.lat.len(), c.lon.len(), c.n_quantiles);
    let mut f = netcdf::create(path).map_err(|e| ferr(path, e))?;
    for (d, n) in [("month", 12), ("lat", ny), ("lon", nx), ("quantile", nq)] {
        f.add_dimension(d, n).map_err(e(path, d))?;
    }
    for (k, v) in [
        ("title", "landcycle soil-moisture bias-correction climatology"),
        ("sensor", c.sensor.as_str()),
        ("obs_units", c.obs_units.as_str()),
        ("model_units", "m3 m-3"),
        ("model_variable", "SoilMoist, top soil layer"),
        (
            "method",
            "monthly CDF matching (linear interpolation between quantiles), anomaly correction, error rescaling",
        ),
    ] {
        f.add_attribute(k, v).map_err(e(path, k))?;
    }
    f.add_attribute("n_quantiles", nq as i32)
        .map_err(e(path, "n_quantiles"))?;
    f.add_attribute("min_samples", c.min_samples as i32)
        .map_err(e(path, "min_samples"))?;
    for (name, units, values) in [
        ("lat", "degrees_north", &c.lat),
        ("lon", "degrees_east", &c.lon),
    ] {
        let mut v = f
            .add_variable::<f64>(name, &[name])
            .map_err(e(path, name))?;
        v.put_attribute("units", units).map_err(e(path, name))?;
        v.put_values(values, ..).map_err(e(path, name))?;
    }
    {
        let mut v = f
            .add_variable::<i32>("month", &["month"])
            .map_err(e(path, "month"))?;
        v.put_values(&(1..=12).collect::<Vec<i32>>(), ..)
            .map_err(e(path, "month"))?;
    }
    {
        let mut v = f
            .add_variable::<f64>("quantile", &["quantile"])
            .map_err(e(path, "quantile"))?;
        v.put_attribute("long_name", "probability level")
            .map_err(e(path, "quantile"))?;
        v.put_values(&quantile_levels(nq), ..)
            .map_err(e(path, "quantile"))?;
    }
    for (prefix, s) in [("model", &c.model), ("obs", &c.obs)] {
        let qn = format!("{prefix}_quantiles");
        let mut v = f
            .add_variable::<f64>(&qn, &["month", "lat", "lon", "quantile"])
            .map_err(e(path, &qn))?;
        v.set_compression(4, true).map_err(e(path, &qn))?;
        v.put_values(&s.quantiles, ..).map_err(e(path, &qn))?;
        for (suffix, data) in [("mean", &s.mean), ("std", &s.std)] {
            let n = format!("{prefix}_{suffix}");
            let mut v = f
                .add_variable::<f64>(&n, &["month", "lat", "lon"])
                .map_err(e(path, &n))?;
            v.put_values(data, ..).map_err(e(path, &n))?;
        }
        let n = format!("{prefix}_count");
        let mut v = f
            .add_variable::<i32>(&n, &["month", "lat", "lon"])
            .map_err(e(path, &n))?;
        let counts: Vec<i32> = s.count.iter().map(|x| *x as i32).collect();
        v.put_values(&counts, ..).map_err(e(path, &n))?;
    }
    f.close().map_err(|err| ferr(path, err))?;
    Ok(())
}

fn read_f64(f: &netcdf::File, path: &Path, name: &str, len: usize) -> Result<Vec<f64>, StoreError> {
    let v = f
        .variable(name)
        .ok_or_else(|| verr(path, name, "variable not found"))?;
    let x = v
        .get_values::<f64, _>(..)
        .map_err(|e| verr(path, name, e))?;
    if x.len() != len {
        return Err(verr(
            path,
            name,
            format!("{} values, expected {len}", x.len()),
        ));
    }
    Ok(x)
}

fn text_attr(f: &netcdf::File, name: &str) -> String {
    match f.attribute(name).and_then(|a| a.value().ok()) {
        Some(netcdf::AttributeValue::Str(s)) => s,
        _ => String::new(),
    }
}

fn int_attr(f: &netcdf::File, name: &str) -> Option<i64> {
    match f.attribute(name).and_then(|a| a.value().ok())? {
        netcdf::AttributeValue::Int(i) => Some(i as i64),
        netcdf::AttributeValue::Longlong(i) => Some(i),
        netcdf::AttributeValue::Short(i) => Some(i as i64),
        _ => None,
    }
}

/// Read a climatology written by [`write_climatology`].
pub fn read_climatology(path: &Path) -> Result<Climatology, StoreError> {
    let f = netcdf::open(path).map_err(|e| ferr(path, e))?;
    let dim = |d: &str| {
        f.dimension_len(d)
            .ok_or_else(|| ferr(path, format!("dimension {d} not found")))
    };
    let (nm, ny, nx, nq) = (dim("month")?, dim("lat")?, dim("lon")?, dim("quantile")?);
    if nm != 12 || nq < 2 {
        return Err(ferr(
            path,
            format!("month = {nm} (12 expected), quantile = {nq}"),
        ));
    }
    let lat = read_f64(&f, path, "lat", ny)?;
    let lon = read_f64(&f, path, "lon", nx)?;
    let n = 12 * ny * nx;
    let stats = |prefix: &str| -> Result<Stats, StoreError> {
        let cn = format!("{prefix}_count");
        let cv = f
            .variable(&cn)
            .ok_or_else(|| verr(path, &cn, "variable not found"))?;
        let count: Vec<u32> = cv
            .get_values::<i32, _>(..)
            .map_err(|e| verr(path, &cn, e))?
            .into_iter()
            .map(|x| x.max(0) as u32)
            .collect();
        if count.len() != n {
            return Err(verr(
                path,
                &cn,
                format!("{} values, expected {n}", count.len()),
            ));
        }
        Ok(Stats {
            quantiles: read_f64(&f, path, &format!("{prefix}_quantiles"), n * nq)?,
            mean: read_f64(&f, path, &format!("{prefix}_mean"), n)?,
            std: read_f64(&f, path, &format!("{prefix}_std"), n)?,
            count,
        })
    };
    Ok(Climatology {
        model: stats("model")?,
        obs: stats("obs")?,
        lat,
        lon,
        n_quantiles: nq,
        min_samples: int_attr(&f, "min_samples").unwrap_or(2).max(0) as u32,
        sensor: text_attr(&f, "sensor"),
        obs_units: text_attr(&f, "obs_units"),
    })
}
