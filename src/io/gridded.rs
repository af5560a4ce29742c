//! Reading and writing one 2-D lat/lon field of a CF NetCDF file (NetCDF-3 or NetCDF-4).
//!
//! Reading handles packed data (`scale_factor`, `add_offset`, `_Unsigned`), missing data
//! (`_FillValue`, `missing_value`, NaN, and the NetCDF default fill for floating types),
//! a time index, a latitude/longitude window, latitudes stored north→south or south→north,
//! longitudes in 0..360 or −180..180 (a window may cross the date line or the prime
//! meridian) and (lat, lon) or (lon, lat) storage order. Valid ranges are not applied:
//! products store them inconsistently (see the ASCAT notes in the data README).

use std::path::{Path, PathBuf};

use netcdf::{AttributeValue, Extent, Extents};

/// Errors of the gridded reader/writer; every message names the file and variable.
#[derive(Debug, thiserror::Error)]
pub enum GriddedError {
    /// The file cannot be opened or created.
    #[error("{file}: {action}")]
    File {
        /// File path.
        file: PathBuf,
        /// What was attempted.
        action: &'static str,
        /// Library error.
        source: netcdf::Error,
    },
    /// The variable is not in the file.
    #[error("{file}: no variable '{var}' (variables: {available})")]
    NoVariable {
        /// File path.
        file: PathBuf,
        /// Variable name.
        var: String,
        /// Variables present.
        available: String,
    },
    /// Something about the variable or its coordinates is unusable.
    #[error("{file}: variable '{var}': {msg}")]
    Variable {
        /// File path.
        file: PathBuf,
        /// Variable name.
        var: String,
        /// What is wrong.
        msg: String,
    },
    /// Writing failed.
    #[error("{file}: writing '{var}': {msg}")]
    Write {
        /// File path.
        file: PathBuf,
        /// Variable name.
        var: String,
        /// What went wrong.
        msg: String,
    },
}

/// Which part of a variable to read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selection {
    /// Index along the time dimension (default 0 when there is one).
    pub time_index: Option<usize>,
    /// Latitude window in degrees north (inclusive, either order).
    pub lat_range: Option<(f64, f64)>,
    /// Longitude window in degrees east, from the first to the second going east
    /// (inclusive; −180..180 and 0..360 conventions both accepted).
    pub lon_range: Option<(f64, f64)>,
    /// Indices for other named dimensions (e.g. a soil layer); dimensions of length 1 need none.
    pub indices: Vec<(String, usize)>,
}

/// One 2-D field on a regular or irregular lat/lon grid, row-major (lat, lon).
#[derive(Clone, Debug, PartialEq)]
pub struct GriddedField {
    /// Variable name.
    pub name: String,
    /// `units` attribute.
    pub units: Option<String>,
    /// `long_name` attribute.
    pub long_name: Option<String>,
    /// Name of the latitude dimension/coordinate in the source.
    pub lat_name: String,
    /// Name of the longitude dimension/coordinate in the source.
    pub lon_name: String,
    /// Latitudes of the rows (file order).
    pub lat: Vec<f64>,
    /// Longitudes of the columns (increasing eastward from the window start).
    pub lon: Vec<f64>,
    /// Values, `lat.len() × lon.len()`, NaN where missing.
    pub values: Vec<f64>,
}

impl GriddedField {
    /// Rows (latitudes).
    pub fn n_lat(&self) -> usize {
        self.lat.len()
    }
    /// Columns (longitudes).
    pub fn n_lon(&self) -> usize {
        self.lon.len()
    }
    /// True where a value is present.
    pub fn valid_mask(&self) -> Vec<bool> {
        self.values.iter().map(|v| v.is_finite()).collect()
    }
    /// True when the longitudes cover the whole circle at a uniform spacing.
    pub fn is_global_lon(&self) -> bool {
        let n = self.lon.len();
        if n < 2 {
            return false;
        }
        let d = (self.lon[n - 1] - self.lon[0]) / (n - 1) as f64;
        d > 0.0 && ((n as f64) * d - 360.0).abs() < 1e-6 * 360.0
    }
}

fn attr_f64(v: &AttributeValue) -> Option<f64> {
    Some(match v {
        AttributeValue::Uchar(x) => *x as f64,
        AttributeValue::Schar(x) => *x as f64,
        AttributeValue::Ushort(x) => *x as f64,
        AttributeValue::Short(x) => *x as f64,
        AttributeValue::Uint(x) => *x as f64,
        AttributeValue::Int(x) => *x as f64,
        AttributeValue::Ulonglong(x) => *x as f64,
        AttributeValue::Longlong(x) => *x as f64,
        AttributeValue::Float(x) => *x as f64,
        AttributeValue::Double(x) => *x,
        AttributeValue::Uchars(x) => *x.first()? as f64,
        AttributeValue::Schars(x) => *x.first()? as f64,
        AttributeValue::Ushorts(x) => *x.first()? as f64,
        AttributeValue::Shorts(x) => *x.first()? as f64,
        AttributeValue::Uints(x) => *x.first()? as f64,
        AttributeValue::Ints(x) => *x.first()? as f64,
        AttributeValue::Ulonglongs(x) => *x.first()? as f64,
        AttributeValue::Longlongs(x) => *x.first()? as f64,
        AttributeValue::Floats(x) => *x.first()? as f64,
        AttributeValue::Doubles(x) => *x.first()?,
        AttributeValue::Str(_) | AttributeValue::Strs(_) => return None,
    })
}

fn attr_all_f64(v: &AttributeValue) -> Vec<f64> {
    match v {
        AttributeValue::Shorts(x) => x.iter().map(|a| *a as f64).collect(),
        AttributeValue::Ints(x) => x.iter().map(|a| *a as f64).collect(),
        AttributeValue::Floats(x) => x.iter().map(|a| *a as f64).collect(),
        AttributeValue::Doubles(x) => x.clone(),
        AttributeValue::Uchars(x) => x.iter().map(|a| *a as f64).collect(),
        AttributeValue::Schars(x) => x.iter().map(|a| *a as f64).collect(),
        AttributeValue::Ushorts(x) => x.iter().map(|a| *a as f64).collect(),
        AttributeValue::Uints(x) => x.iter().map(|a| *a as f64).collect(),
        other => attr_f64(other).into_iter().collect(),
    }
}

fn attr_str(v: &AttributeValue) -> Option<String> {
    match v {
        AttributeValue::Str(s) => Some(s.clone()),
        AttributeValue::Strs(s) => Some(s.join(" ")),
        _ => None,
    }
}

fn var_attr(var: &netcdf::Variable<'_>, name: &str) -> Option<AttributeValue> {
    var.attribute_value(name).and_then(|r| r.ok())
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    Time,
    Lat,
    Lon,
    Other,
}

fn classify(file: &netcdf::File, dim: &str) -> Role {
    let lname = dim.to_ascii_lowercase();
    let coord = file.variable(dim);
    let units = coord
        .as_ref()
        .and_then(|v| var_attr(v, "units"))
        .and_then(|a| attr_str(&a))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let std_name = coord
        .as_ref()
        .and_then(|v| var_attr(v, "standard_name"))
        .and_then(|a| attr_str(&a))
        .unwrap_or_default()
        .to_ascii_lowercase();
    if ["lat", "latitude", "y", "nav_lat", "rlat"].contains(&lname.as_str())
        || std_name == "latitude"
        || units.starts_with("degrees_north")
        || units == "degree_north"
    {
        Role::Lat
    } else if ["lon", "longitude", "x", "nav_lon", "rlon"].contains(&lname.as_str())
        || std_name == "longitude"
        || units.starts_with("degrees_east")
        || units == "degree_east"
    {
        Role::Lon
    } else if ["time", "valid_time", "t", "times"].contains(&lname.as_str())
        || units.contains(" since ")
        || std_name == "time"
    {
        Role::Time
    } else {
        Role::Other
    }
}

fn open_file(path: &Path) -> Result<netcdf::File, GriddedError> {
    netcdf::open(path).map_err(|e| GriddedError::File {
        file: path.to_path_buf(),
        action: "cannot open as NetCDF",
        source: e,
    })
}

/// The error of a variable `var_name` that `file` does not hold, listing those it does.
fn no_variable(path: &Path, file: &netcdf::File, var_name: &str) -> GriddedError {
    GriddedError::NoVariable {
        file: path.to_path_buf(),
        var: var_name.to_string(),
        available: file
            .variables()
            .map(|v| v.name())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The valid times of the records of `var_name` along its time dimension, or `None` when it
/// has none (a file holding one field). Times are CF "<unit> since <date>" values.
pub fn time_axis(
    path: &Path,
    var_name: &str,
) -> Result<Option<Vec<chrono::NaiveDateTime>>, GriddedError> {
    let file = open_file(path)?;
    let verr = |msg: String| GriddedError::Variable {
        file: path.to_path_buf(),
        var: var_name.to_string(),
        msg,
    };
    let var = file
        .variable(var_name)
        .ok_or_else(|| no_variable(path, &file, var_name))?;
    let dims: Vec<String> = var.dimensions().iter().map(|d| d.name()).collect();
    let Some(tdim) = dims.iter().find(|d| classify(&file, d) == Role::Time) else {
        return Ok(None);
    };
    let tvar = file.variable(tdim).ok_or_else(|| {
        verr(format!(
            "time dimension '{tdim}' has no coordinate variable"
        ))
    })?;
    let units = var_attr(&tvar, "units")
        .and_then(|a| attr_str(&a))
        .ok_or_else(|| verr(format!("time coordinate '{tdim}' has no units")))?;
    let (scale, epoch) = crate::obs::parse_time_units(&units).ok_or_else(|| {
        verr(format!(
            "time coordinate '{tdim}': cannot read units '{units}'"
        ))
    })?;
    let values: Vec<f64> = tvar
        .get_values(..)
        .map_err(|e| verr(format!("reading time coordinate '{tdim}': {e}")))?;
    values
        .iter()
        .map(|&v| {
            crate::obs::time_from_seconds(epoch, v * scale)
                .ok_or_else(|| verr(format!("time value {v} {units} is out of range")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Read one 2-D field from `path`.
pub fn read_field(
    path: &Path,
    var_name: &str,
    sel: &Selection,
) -> Result<GriddedField, GriddedError> {
    let file = open_file(path)?;
    let verr = |msg: String| GriddedError::Variable {
        file: path.to_path_buf(),
        var: var_name.to_string(),
        msg,
    };
    let var = file
        .variable(var_name)
        .ok_or_else(|| no_variable(path, &file, var_name))?;
    let dims: Vec<(String, usize)> = var
        .dimensions()
        .iter()
        .map(|d| (d.name(), d.len()))
        .collect();
    let roles: Vec<Role> = dims.iter().map(|(n, _)| classify(&file, n)).collect();
    let dim_list = || {
        dims.iter()
            .map(|(n, l)| format!("{n}={l}"))
            .collect::<Vec<_>>()
            .join(", ")
    };

    // Time and other extra dimensions: each gets one index, leaving the two spatial ones.
    let mut roles = roles;
    let n_time = roles.iter().filter(|r| **r == Role::Time).count();
    if n_time > 1 {
        return Err(verr(format!(
            "more than one time dimension ({})",
            dim_list()
        )));
    }
    if n_time == 0 {
        if let Some(k) = sel.time_index {
            if k > 0 {
                return Err(verr(format!(
                    "time index {k} requested but the variable has no time dimension ({})",
                    dim_list()
                )));
            }
        }
    }
    let mut fixed: Vec<Option<usize>> = vec![None; dims.len()];
    for (i, (name, len)) in dims.iter().enumerate() {
        let idx = match roles[i] {
            Role::Time => Some(sel.time_index.unwrap_or(0)),
            _ => sel.indices.iter().find(|(n, _)| n == name).map(|(_, k)| *k),
        };
        let idx = match (idx, roles[i]) {
            (Some(k), _) => Some(k),
            (None, Role::Other) if *len == 1 => Some(0),
            _ => None,
        };
        if let Some(k) = idx {
            if k >= *len {
                let what = if roles[i] == Role::Time {
                    "time index"
                } else {
                    "index"
                };
                return Err(verr(format!(
                    "{what} {k} is outside the {len} steps of '{name}'"
                )));
            }
        }
        fixed[i] = idx;
    }
    let spatial: Vec<usize> = (0..dims.len()).filter(|&i| fixed[i].is_none()).collect();
    if spatial.len() != 2 {
        let extra: Vec<String> = spatial
            .iter()
            .filter(|&&i| roles[i] == Role::Other)
            .map(|&i| format!("'{}' of length {}", dims[i].0, dims[i].1))
            .collect();
        return Err(verr(format!(
            "is not 2-D after selecting the time index: {} free dimension(s){} ({})",
            spatial.len(),
            if extra.is_empty() {
                String::new()
            } else {
                format!(", extra {}", extra.join(", "))
            },
            dim_list()
        )));
    }
    let (sa, sb) = (spatial[0], spatial[1]);

    let read_coord = |name: &str, len: usize| -> Result<Vec<f64>, GriddedError> {
        match file.variable(name) {
            Some(v) if v.dimensions().len() == 1 => {
                let mut c: Vec<f64> = v
                    .get_values::<f64, _>(..)
                    .map_err(|e| verr(format!("reading coordinate '{name}': {e}")))?;
                if let Some(s) = var_attr(&v, "scale_factor").and_then(|a| attr_f64(&a)) {
                    c.iter_mut().for_each(|x| *x *= s);
                }
                if let Some(o) = var_attr(&v, "add_offset").and_then(|a| attr_f64(&a)) {
                    c.iter_mut().for_each(|x| *x += o);
                }
                if c.len() != len || c.iter().any(|x| !x.is_finite()) {
                    return Err(verr(format!("coordinate '{name}' is missing values")));
                }
                Ok(c)
            }
            _ => Err(verr(format!("no 1-D coordinate variable '{name}'"))),
        }
    };
    let (ilat, ilon, lat_all, lon_all) = match (roles[sa], roles[sb]) {
        (Role::Lat, Role::Lon) | (Role::Lon, Role::Lat) => {
            let (ilat, ilon) = if roles[sa] == Role::Lat {
                (sa, sb)
            } else {
                (sb, sa)
            };
            let lat_all = read_coord(&dims[ilat].0, dims[ilat].1)?;
            let lon_all = read_coord(&dims[ilon].0, dims[ilon].1)?;
            (ilat, ilon, lat_all, lon_all)
        }
        _ => rectilinear_from_2d(&file, &var, &dims, sa, sb).map_err(verr)?,
    };
    roles[ilat] = Role::Lat;
    roles[ilon] = Role::Lon;
    for (i, r) in roles.iter_mut().enumerate() {
        if i != ilat && i != ilon {
            *r = Role::Other;
        }
    }

    // Latitude window: a contiguous run of a monotonic coordinate.
    let lat_idx: Vec<usize> = match sel.lat_range {
        None => (0..lat_all.len()).collect(),
        Some((a, b)) => {
            let (lo, hi) = (a.min(b) - 1e-9, a.max(b) + 1e-9);
            (0..lat_all.len())
                .filter(|&i| lat_all[i] >= lo && lat_all[i] <= hi)
                .collect()
        }
    };
    if lat_idx.is_empty() {
        return Err(verr(format!(
            "no latitude of '{}' in the window {:?} (file covers {:.3}..{:.3})",
            dims[ilat].0,
            sel.lat_range,
            lat_all.iter().cloned().fold(f64::INFINITY, f64::min),
            lat_all.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
        )));
    }
    if lat_idx.windows(2).any(|w| w[1] != w[0] + 1) {
        return Err(verr(format!(
            "latitude '{}' is not monotonic",
            dims[ilat].0
        )));
    }
    // Longitude window: positions measured eastward from the window start.
    let (lon_idx, lon_out): (Vec<usize>, Vec<f64>) = match sel.lon_range {
        None => ((0..lon_all.len()).collect(), lon_all.clone()),
        Some((c, d)) => {
            let width = if (d - c).abs() >= 360.0 {
                360.0
            } else {
                (d - c).rem_euclid(360.0)
            };
            let mut sel_: Vec<(f64, usize)> = (0..lon_all.len())
                .filter_map(|i| {
                    let off = (lon_all[i] - c).rem_euclid(360.0);
                    let off = if off > 360.0 - 1e-9 { 0.0 } else { off };
                    (off <= width + 1e-9).then_some((off, i))
                })
                .collect();
            sel_.sort_by(|x, y| x.0.total_cmp(&y.0));
            sel_.dedup_by(|x, y| (x.0 - y.0).abs() < 1e-12);
            (
                sel_.iter().map(|x| x.1).collect(),
                sel_.iter().map(|x| c + x.0).collect(),
            )
        }
    };
    if lon_idx.is_empty() {
        return Err(verr(format!(
            "no longitude of '{}' in the window {:?}",
            dims[ilon].0, sel.lon_range
        )));
    }
    let lon_min = *lon_idx.iter().min().unwrap_or(&0);
    let lon_max = *lon_idx.iter().max().unwrap_or(&0);

    // Read the covering hyperslab.
    let mut ext: Vec<Extent> = Vec::with_capacity(dims.len());
    for i in 0..dims.len() {
        ext.push(match roles[i] {
            Role::Lat => Extent::from(lat_idx[0]..lat_idx[lat_idx.len() - 1] + 1),
            Role::Lon => Extent::from(lon_min..lon_max + 1),
            _ => {
                let k = fixed[i].unwrap_or(0);
                Extent::from(k..k + 1)
            }
        });
    }
    let raw: Vec<f64> = var
        .get_values::<f64, _>(Extents::from(ext))
        .map_err(|e| verr(format!("reading values: {e}")))?;
    let nla = lat_idx.len();
    let nlo_slab = lon_max - lon_min + 1;

    // Packing and missing values (compared in packed units, before unpacking).
    let scale = var_attr(&var, "scale_factor")
        .and_then(|a| attr_f64(&a))
        .unwrap_or(1.0);
    let offset = var_attr(&var, "add_offset")
        .and_then(|a| attr_f64(&a))
        .unwrap_or(0.0);
    let mut missing: Vec<f64> = Vec::new();
    for name in ["_FillValue", "missing_value"] {
        if let Some(a) = var_attr(&var, name) {
            missing.extend(attr_all_f64(&a).into_iter().filter(|x| !x.is_nan()));
        }
    }
    let vt = var.vartype();
    let is_float = matches!(vt, netcdf::types::NcVariableType::Float(_));
    if is_float && var_attr(&var, "_FillValue").is_none() {
        // NetCDF default fill for float and double.
        missing.push(9.969_209_968_386_869e36);
    }
    let unsigned_bits = match (var_attr(&var, "_Unsigned").and_then(|a| attr_str(&a)), &vt) {
        (Some(s), netcdf::types::NcVariableType::Int(it)) if s.eq_ignore_ascii_case("true") => {
            match it {
                netcdf::types::IntType::I8 => Some(8),
                netcdf::types::IntType::I16 => Some(16),
                netcdf::types::IntType::I32 => Some(32),
                _ => None,
            }
        }
        _ => None,
    };
    let is_missing = |r: f64| {
        r.is_nan()
            || missing.iter().any(|m| {
                if is_float {
                    // Float fills compare after rounding through the stored type.
                    r == *m || ((r - m).abs() <= 1e-6 * m.abs() && m.abs() > 1e30)
                } else {
                    r == *m
                }
            })
    };
    let unpack = |mut r: f64| -> f64 {
        if let Some(bits) = unsigned_bits {
            if r < 0.0 {
                r += f64::powi(2.0, bits);
            }
        }
        if is_missing(r) {
            f64::NAN
        } else {
            r * scale + offset
        }
    };
    let lon_first = ilon < ilat;
    let mut values = Vec::with_capacity(nla * lon_idx.len());
    for r in 0..nla {
        for &j in &lon_idx {
            let c = j - lon_min;
            let k = if lon_first {
                c * nla + r
            } else {
                r * nlo_slab + c
            };
            let mut v = raw[k];
            if unsigned_bits.is_some() || !missing.is_empty() || scale != 1.0 || offset != 0.0 {
                v = unpack(v);
            } else if !v.is_finite() {
                v = f64::NAN;
            }
            values.push(v);
        }
    }
    Ok(GriddedField {
        name: var_name.to_string(),
        units: var_attr(&var, "units").and_then(|a| attr_str(&a)),
        long_name: var_attr(&var, "long_name").and_then(|a| attr_str(&a)),
        lat_name: dims[ilat].0.clone(),
        lon_name: dims[ilon].0.clone(),
        lat: lat_idx.iter().map(|&i| lat_all[i]).collect(),
        lon: lon_out,
        values,
    })
}

/// Latitude per row and longitude per column of a rectilinear grid whose coordinates are
/// stored as 2-D variables (e.g. LIS `lat(north_south, east_west)`), found through the
/// `coordinates` attribute or the usual names. Fill values in the coordinates (cells outside
/// the model domain) are skipped.
#[allow(clippy::type_complexity)]
fn rectilinear_from_2d(
    file: &netcdf::File,
    var: &netcdf::Variable<'_>,
    dims: &[(String, usize)],
    sa: usize,
    sb: usize,
) -> Result<(usize, usize, Vec<f64>, Vec<f64>), String> {
    let mut names: Vec<String> = var_attr(var, "coordinates")
        .and_then(|a| attr_str(&a))
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    for n in [
        "lat",
        "latitude",
        "lon",
        "longitude",
        "XLAT",
        "XLONG",
        "nav_lat",
        "nav_lon",
    ] {
        names.push(n.to_string());
    }
    let (na, nb) = (&dims[sa].0, &dims[sb].0);
    let mut lat2: Option<(Vec<f64>, bool)> = None;
    let mut lon2: Option<(Vec<f64>, bool)> = None;
    for name in &names {
        let Some(v) = file.variable(name) else {
            continue;
        };
        let vd: Vec<String> = v.dimensions().iter().map(|d| d.name()).collect();
        let swapped = if vd.len() == 2 && &vd[0] == na && &vd[1] == nb {
            false
        } else if vd.len() == 2 && &vd[0] == nb && &vd[1] == na {
            true
        } else {
            continue;
        };
        let units = var_attr(&v, "units")
            .and_then(|a| attr_str(&a))
            .unwrap_or_default();
        let std_name = var_attr(&v, "standard_name")
            .and_then(|a| attr_str(&a))
            .unwrap_or_default();
        let lname = name.to_ascii_lowercase();
        let is_lat = units.starts_with("degree_north")
            || units.starts_with("degrees_north")
            || std_name == "latitude"
            || lname.contains("lat");
        let is_lon = units.starts_with("degree_east")
            || units.starts_with("degrees_east")
            || std_name == "longitude"
            || lname.contains("lon");
        if !(is_lat || is_lon) {
            continue;
        }
        let mut vals: Vec<f64> = v
            .get_values::<f64, _>(..)
            .map_err(|e| format!("reading coordinate '{name}': {e}"))?;
        let mut miss: Vec<f64> = Vec::new();
        for a in ["_FillValue", "missing_value"] {
            if let Some(x) = var_attr(&v, a) {
                miss.extend(attr_all_f64(&x));
            }
        }
        for x in vals.iter_mut() {
            if miss.contains(x) || x.abs() > 1e6 {
                *x = f64::NAN;
            }
        }
        if is_lat && lat2.is_none() {
            lat2 = Some((vals, swapped));
        } else if is_lon && lon2.is_none() {
            lon2 = Some((vals, swapped));
        }
    }
    let (Some((lat2, ls)), Some((lon2, os))) = (lat2, lon2) else {
        return Err(format!(
            "no latitude/longitude coordinates for dimensions '{na}' and '{nb}'"
        ));
    };
    let (la, lb) = (dims[sa].1, dims[sb].1);
    // Value at (ia, ib) in the (sa, sb) index space.
    let at = |v: &[f64], swapped: bool, ia: usize, ib: usize| {
        if swapped {
            v[ib * la + ia]
        } else {
            v[ia * lb + ib]
        }
    };
    // Collapse a 2-D coordinate along one axis; None if it varies along that axis.
    let collapse = |v: &[f64], swapped: bool, keep_a: bool| -> Option<Vec<f64>> {
        let (n_keep, n_other) = if keep_a { (la, lb) } else { (lb, la) };
        let mut out = Vec::with_capacity(n_keep);
        for k in 0..n_keep {
            let vals: Vec<f64> = (0..n_other)
                .map(|o| {
                    if keep_a {
                        at(v, swapped, k, o)
                    } else {
                        at(v, swapped, o, k)
                    }
                })
                .filter(|x| x.is_finite())
                .collect();
            match vals.first() {
                None => out.push(f64::NAN),
                Some(&first) => {
                    if vals.iter().any(|x| (x - first).abs() > 1e-4) {
                        return None;
                    }
                    out.push(first);
                }
            }
        }
        complete_uniform(&mut out).then_some(out)
    };
    if let (Some(lat), Some(lon)) = (collapse(&lat2, ls, true), collapse(&lon2, os, false)) {
        return Ok((sa, sb, lat, lon));
    }
    if let (Some(lat), Some(lon)) = (collapse(&lat2, ls, false), collapse(&lon2, os, true)) {
        return Ok((sb, sa, lat, lon));
    }
    Err(format!(
        "the grid of '{na}' × '{nb}' is not rectilinear in latitude/longitude (or a whole row or \
         column of coordinates is missing); curvilinear grids are not supported"
    ))
}

/// Fill missing (NaN) entries of a coordinate from its uniform spacing; false when fewer
/// than two values are known or the known values are not uniformly spaced.
fn complete_uniform(v: &mut [f64]) -> bool {
    let known: Vec<usize> = (0..v.len()).filter(|&i| v[i].is_finite()).collect();
    if known.len() == v.len() {
        return true;
    }
    if known.len() < 2 {
        return false;
    }
    let (a, b) = (known[0], known[known.len() - 1]);
    let step = (v[b] - v[a]) / (b - a) as f64;
    let tol = 1e-3 * step.abs() + 1e-6;
    if known
        .iter()
        .any(|&i| (v[i] - (v[a] + (i as f64 - a as f64) * step)).abs() > tol)
    {
        return false;
    }
    let base = v[a];
    for (i, x) in v.iter_mut().enumerate() {
        if !x.is_finite() {
            *x = base + (i as f64 - a as f64) * step;
        }
    }
    true
}

/// Write `field` as a CF NetCDF-4 file (double values, NaN `_FillValue`, lat/lon
/// coordinate variables). The file is written under a temporary name, synced, and
/// renamed into place.
pub fn write_field(path: &Path, field: &GriddedField, history: &str) -> Result<(), GriddedError> {
    let werr = |msg: String| GriddedError::Write {
        file: path.to_path_buf(),
        var: field.name.clone(),
        msg,
    };
    let (nla, nlo) = (field.lat.len(), field.lon.len());
    if field.values.len() != nla * nlo || nla == 0 || nlo == 0 {
        return Err(werr(format!(
            "{} values for a {nla}×{nlo} grid",
            field.values.len()
        )));
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let fname = path
        .file_name()
        .ok_or_else(|| werr("not a file path".into()))?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        fname.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> Result<(), netcdf::Error> {
        let mut f = netcdf::create(&tmp)?;
        f.add_dimension(&field.lat_name, nla)?;
        f.add_dimension(&field.lon_name, nlo)?;
        f.add_attribute("Conventions", "CF-1.8")?;
        f.add_attribute("history", history)?;
        {
            let mut v = f.add_variable::<f64>(&field.lat_name, &[&field.lat_name])?;
            v.put_attribute("units", "degrees_north")?;
            v.put_attribute("standard_name", "latitude")?;
            v.put_attribute("long_name", "latitude")?;
            v.put_attribute("axis", "Y")?;
            v.put_values(&field.lat, ..)?;
        }
        {
            let mut v = f.add_variable::<f64>(&field.lon_name, &[&field.lon_name])?;
            v.put_attribute("units", "degrees_east")?;
            v.put_attribute("standard_name", "longitude")?;
            v.put_attribute("long_name", "longitude")?;
            v.put_attribute("axis", "X")?;
            v.put_values(&field.lon, ..)?;
        }
        {
            let mut v = f.add_variable::<f64>(&field.name, &[&field.lat_name, &field.lon_name])?;
            v.set_fill_value(f64::NAN)?;
            if let Some(u) = &field.units {
                v.put_attribute("units", u.as_str())?;
            }
            if let Some(l) = &field.long_name {
                v.put_attribute("long_name", l.as_str())?;
            }
            v.put_values(&field.values, ..)?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(werr(e.to_string()));
    }
    let sync = std::fs::File::open(&tmp).and_then(|f| f.sync_all());
    if let Err(e) = sync.and_then(|_| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(werr(e.to_string()));
    }
    Ok(())
}
