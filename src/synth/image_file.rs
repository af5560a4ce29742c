//! The image-observation files of the OSSE (`landcycle osse obs --images`): one CF-1.8
//! NetCDF-4 file per valid time, `LC_IMGOBS_YYYYMMDDHHMM.nc`, with dimensions `time` (1),
//! `lat`, `lon`, CF coordinate variables and `sm_image(time, lat, lon)` (double, m3 m-3,
//! `_FillValue` NaN off land and in gaps), read back by `io::gridded::read_field`. Written
//! atomically (`io::atomic_write`). docs/osse.md gives the contract.

use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;

use super::image_obs::{coverage, image_times, ImageGrid, ImageSimulator, ImageSpec};
use super::osse::{OsseConfig, OsseError, TruthSeries};
use crate::verify::{find_history_files, read_grid, VerifyError};

/// Name of the image variable.
pub const IMAGE_VAR: &str = "sm_image";

/// File name of the image valid at `t`.
pub fn image_file_name(t: NaiveDateTime) -> String {
    format!("LC_IMGOBS_{}.nc", t.format("%Y%m%d%H%M"))
}

/// What an image file records about how it was made (global attributes).
#[derive(Debug, Clone)]
pub struct ImageMeta<'a> {
    pub spec: &'a ImageSpec,
    pub nature_run: &'a Path,
    /// Fraction of land cells with a value.
    pub coverage: f64,
}

/// What the simulator wrote.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageSummary {
    pub files: Vec<PathBuf>,
    /// Mean fraction of land cells with a value.
    pub mean_coverage: f64,
}

fn nc_err(path: &Path, what: &str) -> impl Fn(netcdf::Error) -> OsseError + use<> {
    let (path, what) = (path.to_path_buf(), what.to_string());
    move |e| OsseError::Fs {
        path: path.clone(),
        message: format!("{what}: {e}"),
    }
}

/// Write one image atomically; `values` is row-major (lat, lon), NaN = missing.
pub fn write_image(
    path: &Path,
    grid: &ImageGrid,
    t: NaiveDateTime,
    values: &[f64],
    meta: &ImageMeta,
) -> Result<(), OsseError> {
    if values.len() != grid.ny() * grid.nx() {
        return Err(OsseError::Fs {
            path: path.to_path_buf(),
            message: format!(
                "{} values for a {}×{} grid",
                values.len(),
                grid.ny(),
                grid.nx()
            ),
        });
    }
    let final_path = path.to_path_buf();
    crate::io::atomic_write(path, |tmp| {
        write_netcdf(tmp, &final_path, (grid, t, values), meta)
    })
}

fn write_netcdf(
    tmp: &Path,
    path: &Path,
    (grid, t, values): (&ImageGrid, NaiveDateTime, &[f64]),
    meta: &ImageMeta,
) -> Result<(), OsseError> {
    let mut f = netcdf::create_with(tmp, netcdf::Options::NETCDF4)
        .map_err(nc_err(path, "cannot create"))?;
    write_globals(&mut f, path, t, meta)?;
    f.add_dimension("time", 1).map_err(nc_err(path, "time"))?;
    f.add_dimension("lat", grid.ny())
        .map_err(nc_err(path, "lat"))?;
    f.add_dimension("lon", grid.nx())
        .map_err(nc_err(path, "lon"))?;
    {
        let e = nc_err(path, "time");
        let mut v = f.add_variable::<f64>("time", &["time"]).map_err(&e)?;
        for (k, a) in [
            ("standard_name", "time"),
            ("long_name", "valid time"),
            ("units", "seconds since 1970-01-01 00:00:00"),
            ("calendar", "standard"),
            ("axis", "T"),
        ] {
            v.put_attribute(k, a).map_err(&e)?;
        }
        let s = crate::time::epoch_seconds(t) as f64;
        v.put_values(&[s], ..).map_err(&e)?;
    }
    for (name, sn, units, axis, data) in [
        ("lat", "latitude", "degrees_north", "Y", &grid.lat),
        ("lon", "longitude", "degrees_east", "X", &grid.lon),
    ] {
        let e = nc_err(path, name);
        let mut v = f.add_variable::<f64>(name, &[name]).map_err(&e)?;
        for (k, a) in [
            ("standard_name", sn),
            ("long_name", sn),
            ("units", units),
            ("axis", axis),
        ] {
            v.put_attribute(k, a).map_err(&e)?;
        }
        v.put_values(data, ..).map_err(&e)?;
    }
    let e = nc_err(path, IMAGE_VAR);
    let mut v = f
        .add_variable::<f64>(IMAGE_VAR, &["time", "lat", "lon"])
        .map_err(&e)?;
    v.set_fill_value(f64::NAN).map_err(&e)?;
    v.put_attribute("units", "m3 m-3").map_err(&e)?;
    v.put_attribute(
        "long_name",
        "synthetic image of volumetric soil moisture of the nature run's top soil layer",
    )
    .map_err(&e)?;
    v.put_values(values, ..).map_err(&e)?;
    f.close().map_err(nc_err(path, "close"))?;
    Ok(())
}

fn write_globals(
    f: &mut netcdf::FileMut,
    path: &Path,
    t: NaiveDateTime,
    m: &ImageMeta,
) -> Result<(), OsseError> {
    let e = nc_err(path, "global attribute");
    let s = m.spec;
    for (k, a) in [
        ("Conventions", "CF-1.8".to_string()),
        (
            "title",
            "landcycle OSSE synthetic soil-moisture image".into(),
        ),
        (
            "source",
            format!(
                "landcycle {} OSSE image simulator (osse obs --images)",
                env!("CARGO_PKG_VERSION")
            ),
        ),
        ("synthetic", "true".into()),
        (
            "comment",
            "Synthetic observation: sm_image = scale * theta_top + offset + error_sd * e, \
             e a unit-variance Gaussian field (white when error_corr_km = 0), keyed by seed, \
             valid time and grid point. Not a measurement."
                .into(),
        ),
        ("nature_run", m.nature_run.display().to_string()),
        ("valid_time", t.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        ("gaps", s.gaps.name().into()),
    ] {
        f.add_attribute(k, a.as_str()).map_err(&e)?;
    }
    for (k, a) in [
        ("error_sd", s.error_sd),
        ("error_corr_km", s.error_corr_km),
        ("scale", s.scale),
        ("offset", s.offset),
        ("coverage_requested", s.coverage),
        ("coverage", m.coverage),
    ] {
        f.add_attribute(k, a).map_err(&e)?;
    }
    f.add_attribute("seed", s.seed).map_err(&e)?;
    Ok(())
}

/// The regular grid of a history file (1-D coordinates), or an error naming it.
fn regular_grid(path: &Path) -> Result<ImageGrid, OsseError> {
    let g = read_grid(path)?;
    let regular = (0..g.ny).all(|y| (0..g.nx).all(|x| g.lat[y * g.nx + x] == g.lat[y * g.nx]))
        && (0..g.ny).all(|y| (0..g.nx).all(|x| g.lon[y * g.nx + x] == g.lon[x]));
    if !regular {
        return Err(VerifyError::Variable {
            path: path.to_path_buf(),
            variable: "lat/lon".into(),
            message: "the image simulator needs a regular latitude-longitude grid".into(),
        }
        .into());
    }
    Ok(ImageGrid {
        lat: (0..g.ny).map(|y| g.lat[y * g.nx]).collect(),
        lon: g.lon[..g.nx].to_vec(),
    })
}

/// Snow (SWE > 1 kg m-2) or frozen top soil (< 273.15 K) in the nature run at `t`.
fn frozen_cells(series: &TruthSeries, t: NaiveDateTime, n: usize) -> Vec<bool> {
    let mut m = vec![false; n];
    for (c, &k) in series.cells.iter().enumerate() {
        let swe = series.at(&series.swe, c, t).unwrap_or(0.0);
        let st = series
            .at(&series.soil_temperature, c, t)
            .unwrap_or(f64::INFINITY);
        m[k] = swe > 1.0 || st < 273.15;
    }
    m
}

/// Write the images of the nature run under `osse.run_dir()` into `osse.image_dir`, one per
/// `image_interval_hours` from 00 UTC between its first history time at or after `run:start`
/// and its last (the top layer
/// interpolated linearly in time between history times, exact at them).
pub fn simulate_images(osse: &OsseConfig) -> Result<ImageSummary, OsseError> {
    let run_dir = osse.run_dir();
    let files = find_history_files(&run_dir)?;
    let first = files
        .values()
        .next()
        .ok_or_else(|| VerifyError::NoFiles(run_dir.clone()))?;
    let grid = regular_grid(first)?;
    let mut series = TruthSeries::read(&run_dir)?;
    series.drop_before(osse.observe_from);
    let spec = osse.image_spec();
    let dir = &osse.image_dir;
    std::fs::create_dir_all(dir).map_err(|e| OsseError::Fs {
        path: dir.clone(),
        message: e.to_string(),
    })?;
    let mut sim = ImageSimulator::new(spec.clone(), grid.clone()).map_err(|e| OsseError::Fs {
        path: dir.clone(),
        message: format!("image error field: {e}"),
    })?;
    let n = grid.ny() * grid.nx();
    let (Some(&t0), Some(&t1)) = (series.times.first(), series.times.last()) else {
        return Ok(ImageSummary::default());
    };
    let mut out = ImageSummary::default();
    let mut cov_sum = 0.0;
    // An image at `run:start` itself could never be assimilated (windows end after it).
    let after_start = |t: &NaiveDateTime| osse.observe_from.is_none_or(|s| *t > s);
    for t in image_times(t0, t1, spec.interval_hours)
        .into_iter()
        .filter(after_start)
    {
        let mut truth = vec![f64::NAN; n];
        for (c, &k) in series.cells.iter().enumerate() {
            truth[k] = series.at(&series.soil_moisture, c, t).unwrap_or(f64::NAN);
        }
        let excluded = if spec.mask_frozen {
            frozen_cells(&series, t, n)
        } else {
            Vec::new()
        };
        let image = sim.image(t, &truth, &excluded);
        let cov = coverage(&truth, &image);
        let path = dir.join(image_file_name(t));
        let meta = ImageMeta {
            spec: &spec,
            nature_run: &run_dir,
            coverage: cov,
        };
        write_image(&path, &grid, t, &image, &meta)?;
        cov_sum += cov;
        out.files.push(path);
    }
    out.mean_coverage = cov_sum / out.files.len().max(1) as f64;
    Ok(out)
}
