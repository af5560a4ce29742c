//! `landcycle climatology`: per-cell, per-month bias-correction statistics from an open-loop
//! history directory and an observation archive, written to NetCDF.
//!
//! History files (`*.nc` in `--history`, sorted by name): the variable `SoilMoist` (or
//! `SoilMoist_inst`/`SoilMoist_tavg`) with dimensions `([time,] layer, y, x)`; the layer
//! dimension is the one that is neither time nor the last two; layer 0 (the surface layer)
//! is used. Coordinates come from the variables named like the y/x dimensions, or from 2-D
//! `lat`/`lon` (regular grids only). Times come from the CF `time` variable. Values in
//! kg m-2 (ALMA `SoilMoist`, as io::history writes it) are divided by the top layer's
//! thickness (`soil_layer_bnds`, or LIS `SOIL_LAYER_THICKNESSES`) × 1000 kg m-3.
//!
//! Observation files (`--obs`, files or directories) are read with the operational readers
//! and QC; each file's retrievals are mapped to the nearest land cell (averaged per cell and
//! file), one sample per cell and file.

use super::obs::{read_product, Product};
use crate::biascorr::ClimatologyBuilder;
use crate::io::climatology::{write_climatology_over, ClimatologyYears};
use crate::obs::ascat::AscatOptions;
use crate::obs::mapping::{map_to_grid, Combine, LatLonGrid};
use crate::obs::ncutil::{attr_str, read_unpacked_f64};
use crate::obs::smap::SmapOptions;
use crate::obs::{parse_time_units, time_from_seconds, ObsUnits, RejectCounts};
use anyhow::{anyhow, bail, Context};
use chrono::{Datelike, Duration, NaiveDateTime};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory of open-loop history NetCDF files (*.nc).
    #[arg(long)]
    pub history: PathBuf,
    /// Observation files or directories (all regular files inside, sorted).
    #[arg(long, required = true, num_args = 1..)]
    pub obs: Vec<PathBuf>,
    /// Observation product.
    #[arg(long, value_enum)]
    pub product: Product,
    /// Output NetCDF file.
    #[arg(long)]
    pub out: PathBuf,
    /// Number of quantile points (0 and 1 included).
    #[arg(long, default_value_t = 101)]
    pub quantiles: usize,
    /// Minimum samples per cell and month for quantiles.
    #[arg(long, default_value_t = 10)]
    pub min_samples: u32,
    /// Footprint half-width (km) of the mapping to model cells, as da:smap_footprint_km /
    /// da:ascat_footprint_km (0 = nearest cell); use the value the cycle uses.
    #[arg(long, default_value_t = 0.0)]
    pub footprint_km: f64,
}

/// One history file's surface-layer volumetric soil moisture (m³ m⁻³): per record
/// (time, values[ny*nx]), NaN off land.
pub struct HistoryField {
    pub lat: Vec<f64>,
    pub lon: Vec<f64>,
    pub records: Vec<(NaiveDateTime, Vec<f64>)>,
}

const SOIL_MOIST_NAMES: [&str; 3] = ["SoilMoist", "SoilMoist_inst", "SoilMoist_tavg"];

fn coord_vector(
    file: &netcdf::File,
    dim: &str,
    axis: char,
    path: &Path,
) -> anyhow::Result<Vec<f64>> {
    if let Some(v) = file.variable(dim) {
        if v.dimensions().len() == 1 {
            return Ok(read_unpacked_f64(&v, path, ..)?);
        }
    }
    let name = if axis == 'y' { "lat" } else { "lon" };
    let alt = if axis == 'y' { "latitude" } else { "longitude" };
    let v = file
        .variable(name)
        .or_else(|| file.variable(alt))
        .ok_or_else(|| anyhow!("{}: no coordinate for dimension {dim}", path.display()))?;
    let vals = read_unpacked_f64(&v, path, ..)?;
    match v.dimensions().len() {
        1 => Ok(vals),
        2 => {
            let (ny, nx) = (v.dimensions()[0].len(), v.dimensions()[1].len());
            // Regular grid: lat varies along rows only, lon along columns only. LIS writes
            // the fill value over water, so the axis is fitted through the valid points.
            let n = if axis == 'y' { ny } else { nx };
            let mut known: Vec<(f64, f64)> = Vec::new();
            for k in 0..n {
                let line: Vec<f64> = if axis == 'y' {
                    (0..nx).map(|i| vals[k * nx + i]).collect()
                } else {
                    (0..ny).map(|j| vals[j * nx + k]).collect()
                };
                if let Some(x) = line.iter().find(|x| x.is_finite()) {
                    if line.iter().any(|y| y.is_finite() && (y - x).abs() > 1e-4) {
                        bail!("{}: {name} is not a regular lat-lon grid", path.display());
                    }
                    known.push((k as f64, *x));
                }
            }
            let (Some(a), Some(b)) = (known.first(), known.last()) else {
                bail!("{}: {name} has no valid values", path.display());
            };
            let step = if b.0 > a.0 {
                (b.1 - a.1) / (b.0 - a.0)
            } else {
                0.0
            };
            for (k, x) in &known {
                if (a.1 + (k - a.0) * step - x).abs() > 1e-3 {
                    bail!("{}: {name} is not equally spaced", path.display());
                }
            }
            Ok((0..n).map(|k| a.1 + (k as f64 - a.0) * step).collect())
        }
        n => bail!("{}: {name} has {n} dimensions", path.display()),
    }
}

/// Thickness (m) of the top soil layer: from `soil_layer_bnds` (io history layout), else from
/// the LIS global attribute `SOIL_LAYER_THICKNESSES` (cm).
fn top_layer_thickness(file: &netcdf::File, path: &Path) -> anyhow::Result<f64> {
    if let Some(b) = file.variable("soil_layer_bnds") {
        let v = read_unpacked_f64(&b, path, ..)?;
        if v.len() >= 2 && v[1] > v[0] {
            return Ok(v[1] - v[0]);
        }
    }
    if let Some(a) = file.attribute("SOIL_LAYER_THICKNESSES") {
        let first = match a.value() {
            Ok(netcdf::AttributeValue::Floats(x)) => x.first().map(|v| *v as f64),
            Ok(netcdf::AttributeValue::Doubles(x)) => x.first().copied(),
            Ok(netcdf::AttributeValue::Float(x)) => Some(x as f64),
            Ok(netcdf::AttributeValue::Double(x)) => Some(x),
            _ => None,
        };
        if let Some(cm) = first.filter(|x| *x > 0.0) {
            return Ok(cm / 100.0);
        }
    }
    bail!(
        "{}: soil moisture in kg m-2 but no soil_layer_bnds or SOIL_LAYER_THICKNESSES",
        path.display()
    )
}

/// Read the surface layer of the soil moisture in one history file.
pub fn read_history_surface(path: &Path) -> anyhow::Result<HistoryField> {
    let file = netcdf::open(path).with_context(|| format!("opening {}", path.display()))?;
    let var = SOIL_MOIST_NAMES
        .iter()
        .find_map(|n| file.variable(n))
        .ok_or_else(|| anyhow!("{}: no variable SoilMoist", path.display()))?;
    let vname = var.name();
    let dims: Vec<(String, usize)> = var
        .dimensions()
        .iter()
        .map(|d| (d.name(), d.len()))
        .collect();
    if dims.len() < 3 || dims.len() > 4 {
        bail!(
            "{}: {vname} has dimensions {dims:?}, expected (time?, layer, y, x)",
            path.display()
        );
    }
    let (ydim, ny) = dims[dims.len() - 2].clone();
    let (xdim, nx) = dims[dims.len() - 1].clone();
    let lead = &dims[..dims.len() - 2];
    let time_pos = lead.iter().position(|(n, _)| n == "time" || n == "Time");
    let layer_pos = (0..lead.len())
        .find(|&i| Some(i) != time_pos)
        .ok_or_else(|| anyhow!("{}: {vname} has no soil layer dimension", path.display()))?;
    let nt = time_pos.map(|i| lead[i].1).unwrap_or(1);

    let lat = coord_vector(&file, &ydim, 'y', path)?;
    let lon = coord_vector(&file, &xdim, 'x', path)?;
    if lat.len() != ny || lon.len() != nx {
        bail!(
            "{}: coordinate lengths differ from {vname}'s dimensions",
            path.display()
        );
    }
    let tv = file
        .variable("time")
        .ok_or_else(|| anyhow!("{}: no time variable", path.display()))?;
    let units =
        attr_str(&tv, "units").ok_or_else(|| anyhow!("{}: time has no units", path.display()))?;
    let (scale, epoch) = parse_time_units(&units)
        .ok_or_else(|| anyhow!("{}: time units {units:?} not understood", path.display()))?;
    let tvals = read_unpacked_f64(&tv, path, ..)?;

    // ALMA `SoilMoist` is water mass per layer (kg m-2, as landcycle's history writes it);
    // LIS writes m3 m-3. Mass is divided by the top layer's thickness × 1000 kg m-3.
    let units = attr_str(&var, "units").unwrap_or_default();
    let divide_by = if units.trim_start().starts_with("kg") {
        Some(1000.0 * top_layer_thickness(&file, path)?)
    } else {
        None
    };

    let mut records = Vec::new();
    for it in 0..nt {
        let mut ext: Vec<std::ops::Range<usize>> = Vec::new();
        for (i, (_, len)) in lead.iter().enumerate() {
            if Some(i) == time_pos {
                ext.push(it..it + 1);
            } else if i == layer_pos {
                ext.push(0..1);
            } else {
                ext.push(0..(*len).min(1));
            }
        }
        ext.push(0..ny);
        ext.push(0..nx);
        let mut vals = read_unpacked_f64(&var, path, ext.as_slice())?;
        if let Some(d) = divide_by {
            vals.iter_mut().for_each(|v| *v /= d);
        }
        let t = tvals
            .get(if tvals.len() > 1 { it } else { 0 })
            .and_then(|x| time_from_seconds(epoch, x * scale))
            .ok_or_else(|| anyhow!("{}: record {it} has no valid time", path.display()))?;
        records.push((t, vals));
    }
    Ok(HistoryField { lat, lon, records })
}

fn list_files(p: &Path, filter: impl Fn(&Path) -> bool) -> anyhow::Result<Vec<PathBuf>> {
    if p.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(p)
            .with_context(|| format!("listing {}", p.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|q| {
                q.is_file()
                    && !q
                        .file_name()
                        .map(|n| n.to_string_lossy().starts_with('.'))
                        .unwrap_or(true)
            })
            .filter(|q| filter(q))
            .collect();
        v.sort();
        Ok(v)
    } else if p.is_file() {
        Ok(vec![p.to_path_buf()])
    } else {
        bail!("{} does not exist", p.display())
    }
}

/// Files under `p` (recursively, sorted, hidden names skipped) accepted by `filter`.
fn list_files_recursive(p: &Path, filter: &dyn Fn(&Path) -> bool) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = list_files(p, filter)?;
    if p.is_dir() {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(p)
            .with_context(|| format!("listing {}", p.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|q| q.is_dir())
            .collect();
        dirs.sort();
        for d in dirs {
            out.extend(list_files_recursive(&d, filter)?);
        }
    }
    out.sort();
    Ok(out)
}

/// Summary of a climatology build.
#[derive(Debug, Clone, Default)]
pub struct BuildReport {
    pub history_files: usize,
    pub model_records: usize,
    pub obs_files: usize,
    pub obs_files_failed: usize,
    pub obs_samples: usize,
    pub rejected: RejectCounts,
}

/// Build the statistics and write them; returns a summary.
pub fn build(args: &Args) -> anyhow::Result<BuildReport> {
    let mut report = BuildReport::default();
    // A landcycle run directory keeps history under <cycle>/output/: search it recursively,
    // leaving out the analysis diagnostics (<cycle>/diag/LC_DA_*.nc) of an assimilation run.
    let hist_files = list_files_recursive(&args.history, &|q: &Path| {
        let is_nc = q
            .extension()
            .map(|e| e == "nc" || e == "nc4")
            .unwrap_or(false);
        let is_diag = q
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("LC_DA_"));
        is_nc && !is_diag
    })?;
    if hist_files.is_empty() {
        bail!("no history files (*.nc) in {}", args.history.display());
    }
    let mut builder: Option<ClimatologyBuilder> = None;
    let mut grid: Option<(Vec<f64>, Vec<f64>)> = None;
    let mut land: Vec<bool> = Vec::new();
    let mut years: Option<ClimatologyYears> = None;
    for f in &hist_files {
        let h = read_history_surface(f)?;
        match &grid {
            None => {
                grid = Some((h.lat.clone(), h.lon.clone()));
                land = vec![false; h.lat.len() * h.lon.len()];
                builder = Some(ClimatologyBuilder::new(
                    h.lat.clone(),
                    h.lon.clone(),
                    args.quantiles,
                ));
            }
            Some((la, lo)) => {
                if *la != h.lat || *lo != h.lon {
                    bail!("{}: grid differs from the first history file", f.display());
                }
            }
        }
        let b = builder.as_mut().expect("builder set with the grid");
        for (t, vals) in &h.records {
            for (cell, v) in vals.iter().enumerate() {
                if v.is_finite() {
                    land[cell] = true;
                    b.add_model(cell, t.month(), *v);
                }
            }
            report.model_records += 1;
            years = Some(widen(years, t.year()));
        }
        report.history_files += 1;
    }
    let (lat, lon) = grid.expect("at least one history file");
    let mut builder = builder.expect("at least one history file");
    let grid = LatLonGrid {
        lat: &lat,
        lon: &lon,
        land: &land,
    };

    let (smap, ascat) = (SmapOptions::default(), AscatOptions::default());
    let mut obs_files = Vec::new();
    for p in &args.obs {
        obs_files.extend(list_files(p, |_| true)?);
    }
    for f in &obs_files {
        report.obs_files += 1;
        let batch = match read_product(args.product, f, &smap, &ascat) {
            Ok(b) => b,
            Err(e) => {
                // An archive holds thousands of files: one bad file is reported, not fatal.
                tracing::warn!("skipping observation file: {e}");
                report.obs_files_failed += 1;
                continue;
            }
        };
        report.rejected.merge(&batch.rejected);
        let (Some(t0), Some(t1)) = (
            batch.observations.iter().map(|o| o.time).min(),
            batch.observations.iter().map(|o| o.time).max(),
        ) else {
            continue;
        };
        let (cells, rej) = map_to_grid(
            &batch.observations,
            t0 - Duration::seconds(1),
            t1,
            &grid,
            Combine::Average,
            args.footprint_km,
        );
        report.rejected.merge(&rej);
        for c in cells {
            builder.add_obs(c.cell, c.time.month(), c.value);
            report.obs_samples += 1;
        }
    }
    let units = match args.product {
        Product::Smap => ObsUnits::VolumetricFraction.name(),
        Product::Ascat => ObsUnits::PercentSaturation.name(),
    };
    let sensor = match args.product {
        Product::Smap => "smap",
        Product::Ascat => "ascat",
    };
    let clim = builder.finish(args.min_samples, sensor, units);
    write_climatology_over(&args.out, &clim, years)
        .with_context(|| format!("writing {}", args.out.display()))?;
    Ok(report)
}

/// `years` extended to include `year`.
fn widen(years: Option<ClimatologyYears>, year: i32) -> ClimatologyYears {
    match years {
        Some(y) => ClimatologyYears {
            first: y.first.min(year),
            last: y.last.max(year),
        },
        None => ClimatologyYears {
            first: year,
            last: year,
        },
    }
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let r = build(args)?;
    println!(
        "climatology {}: {} history files ({} records), {} observation files ({} unreadable), {} cell samples",
        args.out.display(),
        r.history_files,
        r.model_records,
        r.obs_files,
        r.obs_files_failed,
        r.obs_samples
    );
    for (rule, n) in r.rejected.iter() {
        println!("  rejected by {rule:<26} {n}");
    }
    Ok(())
}
