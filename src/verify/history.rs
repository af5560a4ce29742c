//! Reading landcycle history files (`LC_HIST_YYYYMMDDHHMM.nc`) for verification and the OSSE
//! observation simulator: finding them by valid time, and reading one field as a plain
//! `[layer][y][x]` array with fill values as NaN.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;

use super::VerifyError;
use crate::obs::ncutil::attr_f64;

/// One field of one history file: `[layer][y][x]`, NaN where the file holds `_FillValue`.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerField {
    pub n_layers: usize,
    pub ny: usize,
    pub nx: usize,
    pub data: Vec<f64>,
}

impl LayerField {
    /// Values of one layer (`[y][x]`).
    pub fn layer(&self, k: usize) -> &[f64] {
        let n = self.ny * self.nx;
        &self.data[k * n..(k + 1) * n]
    }
}

/// Grid of a history file: cell-centre coordinates row-major `[y][x]` (1-D coordinates are
/// expanded) and the land mask.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryGridInfo {
    pub ny: usize,
    pub nx: usize,
    pub lat: Vec<f64>,
    pub lon: Vec<f64>,
    pub land_mask: Vec<bool>,
}

/// Valid time of a history file name `LC_HIST_YYYYMMDDHHMM.nc`.
pub fn valid_time_of_name(name: &str) -> Option<NaiveDateTime> {
    let stamp = name.strip_prefix("LC_HIST_")?.strip_suffix(".nc")?;
    if stamp.len() != 12 || !stamp.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveDateTime::parse_from_str(stamp, "%Y%m%d%H%M").ok()
}

/// Every regular file anywhere under `dir` whose name passes `keep`, in a fixed order
/// (directories depth first, entries sorted).
pub(crate) fn files_under(
    dir: &Path,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Vec<PathBuf>, VerifyError> {
    if !dir.is_dir() {
        return Err(VerifyError::NoDirectory(dir.to_path_buf()));
    }
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(|e| VerifyError::Io {
            path: d.clone(),
            message: e.to_string(),
        })?;
        let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().and_then(|n| n.to_str()).is_some_and(keep) {
                out.push(p);
            }
        }
    }
    Ok(out)
}

/// History files by valid time.
pub type FileIndex = BTreeMap<NaiveDateTime, PathBuf>;

/// All history files anywhere under `dir`, by valid time. Two files with the same valid time
/// are an error (naming both), since pairing would be ambiguous.
pub fn find_history_files(dir: &Path) -> Result<FileIndex, VerifyError> {
    let mut out = BTreeMap::new();
    for p in files_under(dir, &|n| valid_time_of_name(n).is_some())? {
        let Some(t) = p
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(valid_time_of_name)
        else {
            continue;
        };
        if let Some(prev) = out.insert(t, p.clone()) {
            return Err(VerifyError::DuplicateTime {
                time: t,
                first: prev,
                second: p,
            });
        }
    }
    Ok(out)
}

/// Cells where a landcycle assimilation run assimilated at least one observation: the
/// union over its analysis diagnostics (`LC_DA_*.nc` anywhere under `dir`) of the valid
/// values of every `<sensor>_obs` variable, as a row-major `ny × nx` mask. `None` when the
/// directory holds no diagnostics.
pub fn observed_cells(dir: &Path) -> Result<Option<Vec<bool>>, VerifyError> {
    let mut mask: Option<Vec<bool>> = None;
    for p in files_under(dir, &|n| n.starts_with("LC_DA_") && n.ends_with(".nc"))? {
        let f = netcdf::open(&p).map_err(|e| nc_err(&p, "(file)", e))?;
        for var in f.variables() {
            let name = var.name();
            if !name.ends_with("_obs") {
                continue;
            }
            let values = read_masked(&p, &var, &name)?;
            let m = mask.get_or_insert_with(|| vec![false; values.len()]);
            if m.len() != values.len() {
                return Err(nc_err(
                    &p,
                    &name,
                    format!(
                        "{} values, earlier diagnostics had {}",
                        values.len(),
                        m.len()
                    ),
                ));
            }
            for (o, v) in m.iter_mut().zip(&values) {
                *o |= v.is_finite();
            }
        }
    }
    Ok(mask)
}

pub(crate) fn nc_err(path: &Path, variable: &str, e: impl std::fmt::Display) -> VerifyError {
    VerifyError::Variable {
        path: path.to_path_buf(),
        variable: variable.to_string(),
        message: e.to_string(),
    }
}

/// Read a variable as f64 with `_FillValue`/`missing_value` (and |x| ≥ 1e19) as NaN.
pub(crate) fn read_masked(
    path: &Path,
    var: &netcdf::Variable,
    name: &str,
) -> Result<Vec<f64>, VerifyError> {
    let raw: Vec<f64> = var
        .get_values::<f64, _>(..)
        .map_err(|e| nc_err(path, name, e))?;
    let fill = attr_f64(var, "_FillValue");
    let missing = attr_f64(var, "missing_value");
    Ok(raw
        .into_iter()
        .map(|x| {
            let is_fill = |f: Option<f64>| f.is_some_and(|f| x == f || x == f as f32 as f64);
            if !x.is_finite() || x.abs() >= 1.0e19 || is_fill(fill) || is_fill(missing) {
                f64::NAN
            } else {
                x
            }
        })
        .collect())
}

fn dim_lens(var: &netcdf::Variable) -> Vec<(String, usize)> {
    var.dimensions()
        .iter()
        .map(|d| (d.name(), d.len()))
        .collect()
}

/// Read field `name` of a history file as `[layer][y][x]`: the variable `name` itself
/// (ensemble mean, or a deterministic run), else `name_member`: a single realisation (such as
/// the OSSE nature run) when its `member` dimension has length 1, else the mean over members.
pub fn read_field(path: &Path, name: &str) -> Result<LayerField, VerifyError> {
    let file = netcdf::open(path).map_err(|e| VerifyError::Io {
        path: path.to_path_buf(),
        message: format!("cannot open: {e}"),
    })?;
    let member_name = format!("{name}_member");
    let (var, vname) = match file.variable(name) {
        Some(v) => (v, name.to_string()),
        None => match file.variable(&member_name) {
            Some(v) => (v, member_name.clone()),
            None => {
                return Err(nc_err(
                    path,
                    name,
                    format!("neither {name} nor {member_name} is in the file"),
                ))
            }
        },
    };
    let dims = file_var_dims(&var);
    let data = read_masked(path, &var, &vname)?;
    match member_count(&dims) {
        Some(m) if m > 1 => {
            let (mean, _) = member_stats(&data, m);
            shape_field(path, &drop_member(&dims), &vname, mean)
        }
        _ => shape_field(path, &dims, &vname, data),
    }
}

fn member_count(dims: &[(String, usize)]) -> Option<usize> {
    dims.iter().find(|(d, _)| d == "member").map(|(_, n)| *n)
}

fn drop_member(dims: &[(String, usize)]) -> Vec<(String, usize)> {
    dims.iter()
        .filter(|(d, _)| d != "member")
        .cloned()
        .collect()
}

/// Mean and standard deviation (n − 1) over `m` member blocks of `data` (member-major, one
/// time); NaN where any member is missing.
fn member_stats(data: &[f64], m: usize) -> (Vec<f64>, Vec<f64>) {
    let len = data.len() / m;
    let mut mean = vec![0.0; len];
    for b in data.chunks(len) {
        for (a, x) in mean.iter_mut().zip(b) {
            *a += x / m as f64;
        }
    }
    let mut var = vec![0.0; len];
    for b in data.chunks(len) {
        for ((v, x), mu) in var.iter_mut().zip(b).zip(&mean) {
            *v += (x - mu) * (x - mu) / (m - 1) as f64;
        }
    }
    (mean, var.into_iter().map(f64::sqrt).collect())
}

/// Read `name_spread` (ensemble standard deviation) when present, else compute it from
/// `name_member` when that holds more than one member.
pub fn read_spread(path: &Path, name: &str) -> Result<Option<LayerField>, VerifyError> {
    let file = netcdf::open(path).map_err(|e| VerifyError::Io {
        path: path.to_path_buf(),
        message: format!("cannot open: {e}"),
    })?;
    let vname = format!("{name}_spread");
    let Some(var) = file.variable(&vname) else {
        let mname = format!("{name}_member");
        let Some(mvar) = file.variable(&mname) else {
            return Ok(None);
        };
        let dims = file_var_dims(&mvar);
        return match member_count(&dims) {
            Some(m) if m > 1 => {
                let (_, sd) = member_stats(&read_masked(path, &mvar, &mname)?, m);
                shape_field(path, &drop_member(&dims), &mname, sd).map(Some)
            }
            _ => Ok(None),
        };
    };
    let data = read_masked(path, &var, &vname)?;
    shape_field(path, &file_var_dims(&var), &vname, data).map(Some)
}

fn file_var_dims(var: &netcdf::Variable) -> Vec<(String, usize)> {
    dim_lens(var)
}

fn shape_field(
    path: &Path,
    dims: &[(String, usize)],
    vname: &str,
    data: Vec<f64>,
) -> Result<LayerField, VerifyError> {
    let mut ny = None;
    let mut nx = None;
    let mut n_layers = 1;
    for (d, n) in dims {
        match d.as_str() {
            "time" if *n != 1 => {
                return Err(nc_err(
                    path,
                    vname,
                    format!("holds {n} times; history files hold one"),
                ))
            }
            "soil_layer" => n_layers = *n,
            "lat" | "y" => ny = Some(*n),
            "lon" | "x" => nx = Some(*n),
            _ => {}
        }
    }
    let (Some(ny), Some(nx)) = (ny, nx) else {
        return Err(nc_err(
            path,
            vname,
            "no lat/lon (or y/x) dimensions".to_string(),
        ));
    };
    if data.len() != n_layers * ny * nx {
        return Err(nc_err(
            path,
            vname,
            format!("{} values, expected {n_layers}×{ny}×{nx}", data.len()),
        ));
    }
    Ok(LayerField {
        n_layers,
        ny,
        nx,
        data,
    })
}

/// Grid coordinates and land mask of a history file.
pub fn read_grid(path: &Path) -> Result<HistoryGridInfo, VerifyError> {
    let file = netcdf::open(path).map_err(|e| VerifyError::Io {
        path: path.to_path_buf(),
        message: format!("cannot open: {e}"),
    })?;
    let get = |name: &str| -> Result<(Vec<f64>, Vec<usize>), VerifyError> {
        let v = file
            .variable(name)
            .ok_or_else(|| nc_err(path, name, "missing"))?;
        let lens = dim_lens(&v).into_iter().map(|(_, n)| n).collect();
        Ok((
            v.get_values::<f64, _>(..)
                .map_err(|e| nc_err(path, name, e))?,
            lens,
        ))
    };
    let (lat, lat_dims) = get("lat")?;
    let (lon, lon_dims) = get("lon")?;
    let (mask, mask_dims) = get("land_mask")?;
    if mask_dims.len() != 2 {
        return Err(nc_err(path, "land_mask", "expected 2 dimensions"));
    }
    let (ny, nx) = (mask_dims[0], mask_dims[1]);
    let (lat, lon) = if lat_dims.len() == 1 && lon_dims.len() == 1 {
        if lat.len() != ny || lon.len() != nx {
            return Err(nc_err(
                path,
                "lat",
                "coordinate lengths differ from land_mask",
            ));
        }
        let mut la = Vec::with_capacity(ny * nx);
        let mut lo = Vec::with_capacity(ny * nx);
        for y in &lat {
            for x in &lon {
                la.push(*y);
                lo.push(*x);
            }
        }
        (la, lo)
    } else {
        if lat.len() != ny * nx || lon.len() != ny * nx {
            return Err(nc_err(path, "lat", "2-D coordinates differ from land_mask"));
        }
        (lat, lon)
    };
    Ok(HistoryGridInfo {
        ny,
        nx,
        lat,
        lon,
        land_mask: mask.iter().map(|&m| m > 0.5).collect(),
    })
}
