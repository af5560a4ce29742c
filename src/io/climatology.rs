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

/// Years the statistics were computed over (first and last calendar year of the samples):
/// the climatological time axis (CF §7.4) needs them for its bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClimatologyYears {
    pub first: i32,
    pub last: i32,
}

/// Write `clim` to `path` atomically (temporary name, fsync, rename; `io::atomic_write`),
/// without knowing the years of the samples: the climatological time axis then spans the
/// nominal year 2000 and the global attribute `climatology_years` says `unknown`.
pub fn write_climatology(path: &Path, clim: &Climatology) -> Result<(), StoreError> {
    write_climatology_over(path, clim, None)
}

/// As [`write_climatology`], with the years the samples came from.
pub fn write_climatology_over(
    path: &Path,
    clim: &Climatology,
    years: Option<ClimatologyYears>,
) -> Result<(), StoreError> {
    crate::io::atomic_write(path, |tmp| {
        write_inner(tmp, clim, years).map_err(|e| match e {
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

fn put_attrs(
    v: &mut netcdf::VariableMut,
    path: &Path,
    attrs: &[(&str, &str)],
) -> Result<(), StoreError> {
    let name = v.name();
    for (k, val) in attrs {
        v.put_attribute(k, *val).map_err(e(path, &name))?;
    }
    Ok(())
}

fn write_inner(
    path: &Path,
    c: &Climatology,
    years: Option<ClimatologyYears>,
) -> Result<(), StoreError> {
    let (ny, nx, nq) = (c.lat.len(), c.lon.len(), c.n_quantiles);
    let mut f = netcdf::create(path).map_err(|e| ferr(path, e))?;
    for (d, n) in [
        ("month", 12),
        ("nv", 2),
        ("lat", ny),
        ("lon", nx),
        ("quantile", nq),
    ] {
        f.add_dimension(d, n).map_err(e(path, d))?;
    }
    let years_text = years.map_or("unknown".to_string(), |y| format!("{}-{}", y.first, y.last));
    for (k, v) in [
        ("Conventions", "CF-1.8"),
        ("title", "landcycle soil-moisture bias-correction climatology"),
        ("sensor", c.sensor.as_str()),
        ("obs_units", c.obs_units.as_str()),
        ("model_units", "m3 m-3"),
        ("model_variable", "SoilMoist, top soil layer"),
        ("climatology_years", years_text.as_str()),
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
    write_axes(&mut f, path, c, years)?;
    let obs = obs_metadata(c);
    for (prefix, s, meta) in [("model", &c.model, MODEL_META), ("obs", &c.obs, obs)] {
        write_stats(&mut f, path, prefix, s, &meta)?;
    }
    f.close().map_err(|err| ferr(path, err))?;
    Ok(())
}

/// What the statistics of one side describe: units, standard name (if CF has one), words.
#[derive(Clone, Copy)]
struct SideMeta {
    units: &'static str,
    standard_name: Option<&'static str>,
    what: &'static str,
}

const SM_STANDARD_NAME: &str = "volume_fraction_of_condensed_water_in_soil";

const MODEL_META: SideMeta = SideMeta {
    units: "m3 m-3",
    standard_name: Some(SM_STANDARD_NAME),
    what: "model top-layer volumetric soil moisture",
};

/// Volumetric retrievals share the model's standard name; a degree of saturation (ASCAT)
/// has none in CF and is stored in percent.
fn obs_metadata(c: &Climatology) -> SideMeta {
    if c.obs_units == "m3 m-3" {
        SideMeta {
            units: "m3 m-3",
            standard_name: Some(SM_STANDARD_NAME),
            what: "observed surface volumetric soil moisture",
        }
    } else {
        SideMeta {
            units: "percent",
            standard_name: None,
            what: "observed surface soil moisture (degree of saturation)",
        }
    }
}

/// Pooled samples: the statistics are over every sample of the calendar month of every year.
const POOLED: &str = "(comment: all samples of the calendar month, all years pooled)";

fn write_stats(
    f: &mut netcdf::FileMut,
    path: &Path,
    prefix: &str,
    s: &crate::biascorr::climatology::Stats,
    m: &SideMeta,
) -> Result<(), StoreError> {
    let qn = format!("{prefix}_quantiles");
    let mut v = f
        .add_variable::<f64>(&qn, &["month", "lat", "lon", "quantile"])
        .map_err(e(path, &qn))?;
    v.set_compression(4, true).map_err(e(path, &qn))?;
    let long = format!(
        "quantiles of {} over the calendar month, all years pooled",
        m.what
    );
    put_attrs(
        &mut v,
        path,
        &[("long_name", long.as_str()), ("units", m.units)],
    )?;
    if let Some(sn) = m.standard_name {
        put_attrs(&mut v, path, &[("standard_name", sn)])?;
    }
    v.put_values(&s.quantiles, ..).map_err(e(path, &qn))?;
    for (suffix, data, method) in [
        ("mean", &s.mean, "mean"),
        ("std", &s.std, "standard_deviation"),
    ] {
        let n = format!("{prefix}_{suffix}");
        let mut v = f
            .add_variable::<f64>(&n, &["month", "lat", "lon"])
            .map_err(e(path, &n))?;
        let long = format!("{} of {}", method.replace('_', " "), m.what);
        let cm = format!("time: {method} within years time: {method} over years {POOLED}");
        put_attrs(
            &mut v,
            path,
            &[
                ("long_name", long.as_str()),
                ("units", m.units),
                ("cell_methods", cm.as_str()),
            ],
        )?;
        if let Some(sn) = m.standard_name {
            put_attrs(&mut v, path, &[("standard_name", sn)])?;
        }
        v.put_values(data, ..).map_err(e(path, &n))?;
    }
    let n = format!("{prefix}_count");
    let mut v = f
        .add_variable::<i32>(&n, &["month", "lat", "lon"])
        .map_err(e(path, &n))?;
    let long = format!("number of samples of {}", m.what);
    put_attrs(
        &mut v,
        path,
        &[
            ("long_name", long.as_str()),
            ("units", "1"),
            (
                "cell_methods",
                "time: sum within years time: sum over years",
            ),
        ],
    )?;
    let counts: Vec<i32> = s.count.iter().map(|x| *x as i32).collect();
    v.put_values(&counts, ..).map_err(e(path, &n))?;
    Ok(())
}

/// `lat`, `lon`, the probability levels and the climatological time axis `month`.
fn write_axes(
    f: &mut netcdf::FileMut,
    path: &Path,
    c: &Climatology,
    years: Option<ClimatologyYears>,
) -> Result<(), StoreError> {
    for (name, units, sn, axis, values) in [
        ("lat", "degrees_north", "latitude", "Y", &c.lat),
        ("lon", "degrees_east", "longitude", "X", &c.lon),
    ] {
        let mut v = f
            .add_variable::<f64>(name, &[name])
            .map_err(e(path, name))?;
        put_attrs(
            &mut v,
            path,
            &[
                ("units", units),
                ("standard_name", sn),
                ("long_name", sn),
                ("axis", axis),
            ],
        )?;
        v.put_values(values, ..).map_err(e(path, name))?;
    }
    let mut v = f
        .add_variable::<f64>("quantile", &["quantile"])
        .map_err(e(path, "quantile"))?;
    put_attrs(
        &mut v,
        path,
        &[("long_name", "probability level"), ("units", "1")],
    )?;
    v.put_values(&quantile_levels(c.n_quantiles), ..)
        .map_err(e(path, "quantile"))?;
    let (units, mid, bounds) = month_axis(years.unwrap_or(ClimatologyYears {
        first: 2000,
        last: 2000,
    }));
    let mut v = f
        .add_variable::<f64>("month", &["month"])
        .map_err(e(path, "month"))?;
    put_attrs(
        &mut v,
        path,
        &[
            ("standard_name", "time"),
            (
                "long_name",
                "climatological month (middle of the month in the first year)",
            ),
            ("units", units.as_str()),
            ("calendar", "standard"),
            ("axis", "T"),
            ("climatology", "climatology_bounds"),
        ],
    )?;
    v.put_values(&mid, ..).map_err(e(path, "month"))?;
    let mut b = f
        .add_variable::<f64>("climatology_bounds", &["month", "nv"])
        .map_err(e(path, "climatology_bounds"))?;
    b.put_values(&bounds, ..)
        .map_err(e(path, "climatology_bounds"))?;
    Ok(())
}

/// Units, mid-month values and climatology bounds (CF §7.4: month m of the first year to
/// the end of month m of the last year), in days since 1 January of the first year.
fn month_axis(y: ClimatologyYears) -> (String, Vec<f64>, Vec<f64>) {
    let origin = chrono::NaiveDate::from_ymd_opt(y.first, 1, 1).unwrap_or_default();
    let day = |year: i32, month: u32| -> f64 {
        let (yy, mm) = if month > 12 {
            (year + 1, 1)
        } else {
            (year, month)
        };
        chrono::NaiveDate::from_ymd_opt(yy, mm, 1).map_or(0.0, |d| (d - origin).num_days() as f64)
    };
    let mut mid = Vec::with_capacity(12);
    let mut bounds = Vec::with_capacity(24);
    for m in 1..=12u32 {
        mid.push(0.5 * (day(y.first, m) + day(y.first, m + 1)));
        bounds.push(day(y.first, m));
        bounds.push(day(y.last.max(y.first), m + 1));
    }
    (
        format!("days since {:04}-01-01 00:00:00", y.first),
        mid,
        bounds,
    )
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
