//! Gridded datasets for triple collocation: a history variable's layer of a run
//! (`hist:DIR[:LAYER]`) or a sensor's assimilated observations in the DA diagnostics of a run
//! (`diag:DIR:SENSOR`), and their collocation in time bins.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;

use super::history::{files_under, find_history_files, read_field, read_grid, HistoryGridInfo};
use super::obs_space::diag_time_of_name;
use super::VerifyError;

/// Where a dataset comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// Layer `layer` (1-based) of history variable `SoilMoistV` under `dir`.
    History { dir: PathBuf, layer: usize },
    /// `<sensor>_obs` of the diagnostics files under `dir`.
    Diag { dir: PathBuf, sensor: String },
}

/// A labelled dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub label: String,
    pub source: Source,
}

impl std::str::FromStr for Dataset {
    type Err = String;
    /// `[LABEL=]hist:DIR[:LAYER]` or `[LABEL=]diag:DIR:SENSOR`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (label, spec) = match s.split_once('=') {
            Some((l, r)) if !l.contains(':') && !l.contains('/') => (Some(l.to_string()), r),
            _ => (None, s),
        };
        let bad = || {
            format!("dataset {s:?}: expected [LABEL=]hist:DIR[:LAYER] or [LABEL=]diag:DIR:SENSOR")
        };
        if let Some(rest) = spec.strip_prefix("hist:") {
            let (dir, layer) = match rest.rsplit_once(':') {
                Some((d, l)) if l.parse::<usize>().is_ok() => (d, l.parse::<usize>().unwrap_or(1)),
                _ => (rest, 1),
            };
            if dir.is_empty() || layer == 0 {
                return Err(bad());
            }
            let label = label.unwrap_or_else(|| format!("{}_l{layer}", base(dir)));
            let source = Source::History {
                dir: dir.into(),
                layer,
            };
            return Ok(Dataset { label, source });
        }
        if let Some(rest) = spec.strip_prefix("diag:") {
            let (dir, sensor) = rest.rsplit_once(':').ok_or_else(bad)?;
            if dir.is_empty() || sensor.is_empty() {
                return Err(bad());
            }
            let label = label.unwrap_or_else(|| sensor.to_string());
            let source = Source::Diag {
                dir: dir.into(),
                sensor: sensor.into(),
            };
            return Ok(Dataset { label, source });
        }
        Err(bad())
    }
}

fn base(dir: &str) -> String {
    Path::new(dir)
        .file_name()
        .map_or_else(|| dir.to_string(), |n| n.to_string_lossy().into_owned())
}

/// A dataset read: fields by time (row-major cells, NaN = missing) and its grid.
pub struct Series {
    pub fields: BTreeMap<NaiveDateTime, Vec<f64>>,
    pub grid: HistoryGridInfo,
}

/// Read a dataset.
pub fn read_source(src: &Source) -> Result<Series, VerifyError> {
    match src {
        Source::History { dir, layer } => read_history_layer(dir, *layer),
        Source::Diag { dir, sensor } => read_diag_obs(dir, sensor),
    }
}

fn read_history_layer(dir: &Path, layer: usize) -> Result<Series, VerifyError> {
    let files = find_history_files(dir)?;
    let Some(first) = files.values().next() else {
        return Err(VerifyError::NoFiles(dir.to_path_buf()));
    };
    let grid = read_grid(first)?;
    let mut fields = BTreeMap::new();
    for (t, p) in &files {
        let f = read_field(p, "SoilMoistV")?;
        if layer > f.n_layers || f.ny * f.nx != grid.ny * grid.nx {
            return Err(VerifyError::Variable {
                path: p.clone(),
                variable: "SoilMoistV".into(),
                message: format!(
                    "layer {layer} of {} layers on {}×{} (grid of {} is {}×{})",
                    f.n_layers,
                    f.ny,
                    f.nx,
                    first.display(),
                    grid.ny,
                    grid.nx
                ),
            });
        }
        fields.insert(*t, f.layer(layer - 1).to_vec());
    }
    Ok(Series { fields, grid })
}

fn read_coord(f: &netcdf::File, path: &Path, name: &str) -> Result<Vec<f64>, VerifyError> {
    let v = f
        .variable(name)
        .ok_or_else(|| super::history::nc_err(path, name, "missing"))?;
    v.get_values::<f64, _>(..)
        .map_err(|e| super::history::nc_err(path, name, e))
}

fn read_diag_obs(dir: &Path, sensor: &str) -> Result<Series, VerifyError> {
    let name = format!("{sensor}_obs");
    let mut fields = BTreeMap::new();
    let mut grid: Option<HistoryGridInfo> = None;
    for p in files_under(dir, &|n| diag_time_of_name(n).is_some())? {
        let Some(t) = p
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(diag_time_of_name)
        else {
            continue;
        };
        let f = netcdf::open(&p).map_err(|e| VerifyError::Io {
            path: p.clone(),
            message: format!("cannot open: {e}"),
        })?;
        let Some(v) = f.variable(&name) else {
            continue;
        };
        let values = super::history::read_masked(&p, &v, &name)?;
        let g = match &grid {
            Some(g) => g.clone(),
            None => diag_grid(&f, &p)?,
        };
        if values.len() != g.ny * g.nx {
            let msg = format!("{} values on a {}×{} grid", values.len(), g.ny, g.nx);
            return Err(super::history::nc_err(&p, &name, msg));
        }
        grid = Some(g);
        fields.insert(t, values);
    }
    let grid = grid.ok_or_else(|| VerifyError::Io {
        path: dir.to_path_buf(),
        message: format!("no diagnostics file LC_DA_*.nc with variable {name}"),
    })?;
    Ok(Series { fields, grid })
}

fn diag_grid(f: &netcdf::File, p: &Path) -> Result<HistoryGridInfo, VerifyError> {
    let (lat, lon) = (read_coord(f, p, "lat")?, read_coord(f, p, "lon")?);
    let (ny, nx) = (lat.len(), lon.len());
    let mut la = Vec::with_capacity(ny * nx);
    let mut lo = Vec::with_capacity(ny * nx);
    for y in &lat {
        for x in &lon {
            la.push(*y);
            lo.push(*x);
        }
    }
    Ok(HistoryGridInfo {
        ny,
        nx,
        lat: la,
        lon: lo,
        land_mask: vec![true; ny * nx],
    })
}

/// Mean per cell of the finite values of the fields in each time bin of `hours`.
fn binned(s: &Series, hours: f64) -> BTreeMap<i64, Vec<f64>> {
    let width = hours * 3600.0;
    let mut sums: BTreeMap<i64, (Vec<f64>, Vec<u32>)> = BTreeMap::new();
    let n = s.grid.ny * s.grid.nx;
    for (t, f) in &s.fields {
        let b = (crate::time::epoch_seconds(*t) as f64 / width).floor() as i64;
        let (sum, cnt) = sums.entry(b).or_insert_with(|| (vec![0.0; n], vec![0; n]));
        for ((s, c), v) in sum.iter_mut().zip(cnt.iter_mut()).zip(f) {
            if v.is_finite() {
                *s += v;
                *c += 1;
            }
        }
    }
    sums.into_iter()
        .map(|(b, (s, c))| {
            let m = s
                .iter()
                .zip(&c)
                .map(|(s, c)| if *c > 0 { s / *c as f64 } else { f64::NAN })
                .collect();
            (b, m)
        })
        .collect()
}

/// Collocate three datasets on the same grid: their per-cell means in time bins of `hours`,
/// for the bins all three have files in (`[dataset][bin][cell]`).
pub fn collocate(series: [&Series; 3], hours: f64) -> Result<[Vec<Vec<f64>>; 3], VerifyError> {
    if hours.is_nan() || hours <= 0.0 {
        return Err(VerifyError::Invalid(format!(
            "collocation window {hours} hours: must be positive"
        )));
    }
    let g0 = &series[0].grid;
    if series
        .iter()
        .any(|s| s.grid.ny != g0.ny || s.grid.nx != g0.nx)
    {
        let shapes: Vec<String> = series
            .iter()
            .map(|s| format!("{}×{}", s.grid.ny, s.grid.nx))
            .collect();
        return Err(VerifyError::NotComparable(format!(
            "datasets on different grids: {}",
            shapes.join(", ")
        )));
    }
    let b: Vec<BTreeMap<i64, Vec<f64>>> = series.iter().map(|s| binned(s, hours)).collect();
    let keys: Vec<i64> = b[0]
        .keys()
        .filter(|k| b[1].contains_key(k) && b[2].contains_key(k))
        .copied()
        .collect();
    let pick = |i: usize| keys.iter().map(|k| b[i][k].clone()).collect::<Vec<_>>();
    Ok([pick(0), pick(1), pick(2)])
}
