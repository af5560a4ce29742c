//! Formats of the exchange directory (COUPLING.md §3.3, docs/coupling.md): `MANIFEST.json`,
//! the `READY` marker holding the manifest's sha256, `ACK`, and the CF NetCDF records on an
//! atmosphere grid (2-D `lat, lon` or 1-D `ncol`). The protocol (who waits for what) is the
//! coupler's; this file only reads and writes.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::atomic::atomic_write;
use super::IoError;

/// The protocol name every manifest carries.
pub const PROTOCOL: &str = "landcycle-xchg/1";
/// File names inside a direction directory.
pub const MANIFEST: &str = "MANIFEST.json";
pub const READY: &str = "READY";
pub const ACK: &str = "ACK";
/// Fill value of the f32 fields.
pub const FILL_F32: f32 = 1.0e20;

/// One file of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    pub file: String,
    /// Valid time, `YYYY-MM-DDTHH:MM:SS` (UTC).
    pub valid_time: String,
    pub sha256: String,
    pub bytes: u64,
}

/// `MANIFEST.json`: what a delivery holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub protocol: String,
    pub producer: String,
    /// The land cycle (window end), `YYYYMMDDHH`.
    pub cycle: String,
    /// The atmosphere cycle that issued the fields (atm2lnd) or the export time (lnd2atm).
    pub issue_time: String,
    /// Time between records (s); 0 for a single record.
    pub interval_seconds: i64,
    /// Variables that are means over the interval ending at the valid time (the others are
    /// instantaneous).
    pub period_mean_ending: Vec<String>,
    /// sha256 of the grid's centre coordinates (f64 little endian, all lat then all lon).
    pub grid_id: String,
    pub files: Vec<ManifestFile>,
}

/// Format of a valid time in manifests.
pub fn time_text(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

fn fs_err<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(std::io::Error) -> IoError + 'a {
    move |source| IoError::Fs {
        path: path.to_path_buf(),
        action,
        source,
    }
}

/// sha256 (hex) and length of a file.
pub fn sha256_file(path: &Path) -> Result<(String, u64), IoError> {
    let mut f = std::fs::File::open(path).map_err(fs_err(path, "open"))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).map_err(fs_err(path, "read"))?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((hex(&h.finalize()), n))
}

pub fn sha256_bytes(b: &[u8]) -> String {
    hex(&Sha256::digest(b))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// sha256 of grid centres (the manifest's `grid_id`).
pub fn grid_id(lat: &[f64], lon: &[f64]) -> String {
    let mut h = Sha256::new();
    for v in lat.iter().chain(lon) {
        h.update(v.to_le_bytes());
    }
    hex(&h.finalize())
}

/// A manifest entry for a file already written in `dir`.
pub fn describe_file(
    dir: &Path,
    file: &str,
    valid: NaiveDateTime,
) -> Result<ManifestFile, IoError> {
    let (sha256, bytes) = sha256_file(&dir.join(file))?;
    Ok(ManifestFile {
        file: file.to_string(),
        valid_time: time_text(valid),
        sha256,
        bytes,
    })
}

/// Write `MANIFEST.json`, then `READY` (holding the manifest's sha256) last, both atomically.
/// Returns the manifest hash.
pub fn publish(dir: &Path, m: &Manifest) -> Result<String, IoError> {
    let mut text = serde_json::to_string_pretty(m).map_err(|e| IoError::Invalid {
        path: dir.join(MANIFEST),
        msg: e.to_string(),
    })?;
    text.push('\n');
    write_text(&dir.join(MANIFEST), &text)?;
    let hash = sha256_bytes(text.as_bytes());
    write_text(&dir.join(READY), &format!("{hash}\n"))?;
    Ok(hash)
}

/// Write a small text file atomically.
pub fn write_text(path: &Path, text: &str) -> Result<(), IoError> {
    atomic_write(path, |tmp| {
        std::fs::write(tmp, text).map_err(fs_err(tmp, "write"))
    })
}

/// The manifest hash in `READY`, or `None` while there is no READY.
pub fn read_ready(dir: &Path) -> Result<Option<String>, IoError> {
    let p = dir.join(READY);
    match std::fs::read_to_string(&p) {
        Ok(s) => Ok(Some(s.trim().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(fs_err(&p, "read")(e)),
    }
}

/// The manifest's bytes and its parsed content.
pub fn read_manifest(dir: &Path) -> Result<(Vec<u8>, Manifest), IoError> {
    let p = dir.join(MANIFEST);
    let bytes = std::fs::read(&p).map_err(fs_err(&p, "read"))?;
    let m = serde_json::from_slice(&bytes).map_err(|e| IoError::Invalid {
        path: p.clone(),
        msg: format!("not a manifest: {e}"),
    })?;
    Ok((bytes, m))
}

/// The horizontal grid of an atmosphere record.
#[derive(Debug, Clone, PartialEq)]
pub enum AtmGrid {
    /// Regular lat-lon: dimensions (`lat`, `lon`) with 1-D coordinates; cell g = j·nlon + i.
    LatLon { lat: Vec<f64>, lon: Vec<f64> },
    /// Any grid given cell by cell (a cubed sphere): dimension `ncol`, `lat(ncol)`,
    /// `lon(ncol)`.
    Cells { lat: Vec<f64>, lon: Vec<f64> },
}

impl AtmGrid {
    pub fn n_cells(&self) -> usize {
        match self {
            AtmGrid::LatLon { lat, lon } => lat.len() * lon.len(),
            AtmGrid::Cells { lat, .. } => lat.len(),
        }
    }
    /// The centres of every cell (lat, lon).
    pub fn centres(&self) -> (Vec<f64>, Vec<f64>) {
        match self {
            AtmGrid::LatLon { lat, lon } => {
                let la = lat
                    .iter()
                    .flat_map(|&y| lon.iter().map(move |_| y))
                    .collect();
                let lo = lat.iter().flat_map(|_| lon.iter().copied()).collect();
                (la, lo)
            }
            AtmGrid::Cells { lat, lon } => (lat.clone(), lon.clone()),
        }
    }
}

/// One f32 field of a record: name, CF units, an optional vertical index (layer), values
/// (layer-major when layered), NaN where there is no value.
pub struct RecordField<'a> {
    pub name: &'a str,
    pub units: &'a str,
    pub long_name: &'a str,
    /// Number of layers (0 = a surface field).
    pub layers: usize,
    /// `time: mean` fields get a `cell_methods` attribute.
    pub period_mean: bool,
    pub values: &'a [f32],
}

/// Write one record (one valid time) atomically: CF-1.8, NetCDF classic 64-bit offset (no
/// HDF5 metadata, so the same content gives the same bytes and the same sha256).
pub fn write_record(
    path: &Path,
    grid: &AtmGrid,
    time: NaiveDateTime,
    fields: &[RecordField<'_>],
    title: &str,
) -> Result<(), IoError> {
    for fld in fields {
        let n = grid.n_cells() * fld.layers.max(1);
        if fld.values.len() != n {
            return Err(IoError::Invalid {
                path: path.to_path_buf(),
                msg: format!(
                    "{}: {} values, the grid needs {n}",
                    fld.name,
                    fld.values.len()
                ),
            });
        }
    }
    atomic_write(path, |tmp| -> Result<(), IoError> {
        let nc = |e: netcdf::Error| IoError::NetCdf {
            path: path.to_path_buf(),
            context: "exchange record".into(),
            msg: e.to_string(),
        };
        let mut f = netcdf::create_with(tmp, netcdf::Options::_64BIT_OFFSET).map_err(nc)?;
        define_record(&mut f, grid, fields, title).map_err(nc)?;
        // Classic files take their data after the definitions.
        f.enddef().map_err(nc)?;
        put_record(&mut f, grid, time, fields).map_err(nc)
    })
}

fn define_record(
    f: &mut netcdf::FileMut,
    grid: &AtmGrid,
    fields: &[RecordField<'_>],
    title: &str,
) -> Result<(), netcdf::Error> {
    f.add_attribute("Conventions", "CF-1.8")?;
    f.add_attribute("title", title)?;
    let spatial: Vec<&str> = match grid {
        AtmGrid::LatLon { lat, lon } => {
            f.add_dimension("lat", lat.len())?;
            f.add_dimension("lon", lon.len())?;
            let mut v = f.add_variable::<f64>("lat", &["lat"])?;
            coordinate(&mut v, "degrees_north", "latitude")?;
            let mut v = f.add_variable::<f64>("lon", &["lon"])?;
            coordinate(&mut v, "degrees_east", "longitude")?;
            vec!["lat", "lon"]
        }
        AtmGrid::Cells { lat, .. } => {
            f.add_dimension("ncol", lat.len())?;
            let mut v = f.add_variable::<f64>("lat", &["ncol"])?;
            coordinate(&mut v, "degrees_north", "latitude")?;
            let mut v = f.add_variable::<f64>("lon", &["ncol"])?;
            coordinate(&mut v, "degrees_east", "longitude")?;
            vec!["ncol"]
        }
    };
    f.add_dimension("time", 1)?;
    let mut tv = f.add_variable::<f64>("time", &["time"])?;
    tv.put_attribute("units", "seconds since 1970-01-01 00:00:00")?;
    tv.put_attribute("standard_name", "time")?;
    tv.put_attribute("calendar", "standard")?;
    let max_layers = fields.iter().map(|x| x.layers).max().unwrap_or(0);
    if max_layers > 0 {
        f.add_dimension("layer", max_layers)?;
    }
    for fld in fields {
        let mut dims = vec!["time"];
        if fld.layers > 0 {
            dims.push("layer");
        }
        dims.extend(&spatial);
        let mut v = f.add_variable::<f32>(fld.name, &dims)?;
        v.set_fill_value(FILL_F32)?;
        v.put_attribute("units", fld.units)?;
        v.put_attribute("long_name", fld.long_name)?;
        if spatial.len() == 1 {
            v.put_attribute("coordinates", "lat lon")?;
        }
        if fld.period_mean {
            v.put_attribute("cell_methods", "time: mean")?;
        }
    }
    Ok(())
}

fn coordinate(
    v: &mut netcdf::VariableMut<'_>,
    units: &str,
    name: &str,
) -> Result<(), netcdf::Error> {
    v.put_attribute("units", units)?;
    v.put_attribute("standard_name", name)?;
    Ok(())
}

fn put_record(
    f: &mut netcdf::FileMut,
    grid: &AtmGrid,
    time: NaiveDateTime,
    fields: &[RecordField<'_>],
) -> Result<(), netcdf::Error> {
    let missing = || netcdf::Error::from("variable defined above is missing");
    let (lat, lon) = match grid {
        AtmGrid::LatLon { lat, lon } | AtmGrid::Cells { lat, lon } => (lat, lon),
    };
    f.variable_mut("lat")
        .ok_or_else(missing)?
        .put_values(lat, ..)?;
    f.variable_mut("lon")
        .ok_or_else(missing)?
        .put_values(lon, ..)?;
    f.variable_mut("time")
        .ok_or_else(missing)?
        .put_values(&[time.and_utc().timestamp() as f64], ..)?;
    for fld in fields {
        let vals: Vec<f32> = fld
            .values
            .iter()
            .map(|x| if x.is_nan() { FILL_F32 } else { *x })
            .collect();
        f.variable_mut(fld.name)
            .ok_or_else(missing)?
            .put_values(&vals, ..)?;
    }
    Ok(())
}

/// Values of one variable at some cells of a record's grid.
#[derive(Debug, Clone)]
pub struct CellValues {
    /// One value per requested cell (unpacked; NaN where the file has its fill value).
    pub values: Vec<f64>,
    /// The `units` attribute, when there is one.
    pub units: Option<String>,
}

/// Read `names` at cells `ids` (flat indices of the grid, ascending) from a record whose
/// spatial dimensions are 2-D (`[ny, nx]` = `dims` reversed) or 1-D `ncol`, with an optional
/// leading time dimension of length 1. Reads the rows (or the index range) that hold the
/// cells, not the whole field.
pub fn read_cells(
    path: &Path,
    names: &[&str],
    dims: &[usize],
    ids: &[u64],
) -> Result<Vec<CellValues>, IoError> {
    let bad = |msg: String| IoError::Invalid {
        path: path.to_path_buf(),
        msg,
    };
    let nc = |context: String| {
        let path = path.to_path_buf();
        move |e: netcdf::Error| IoError::NetCdf {
            path,
            context,
            msg: e.to_string(),
        }
    };
    let f = netcdf::open(path).map_err(nc("open".into()))?;
    let (Some(&lo), Some(&hi)) = (ids.first(), ids.last()) else {
        return Ok(names
            .iter()
            .map(|_| CellValues {
                values: vec![],
                units: None,
            })
            .collect());
    };
    let nx = dims[0];
    let mut out = Vec::with_capacity(names.len());
    for &name in names {
        let var = f
            .variable(name)
            .ok_or_else(|| bad(format!("no variable {name}")))?;
        let shape: Vec<usize> = var.dimensions().iter().map(|d| d.len()).collect();
        let spatial = &shape[shape.len().saturating_sub(dims.len())..];
        let want: Vec<usize> = dims.iter().rev().copied().collect();
        let lead = &shape[..shape.len() - spatial.len()];
        if spatial != want.as_slice() || lead.iter().any(|&n| n != 1) {
            return Err(bad(format!(
                "variable {name} has shape {shape:?}; the weights' grid needs [1,] {want:?}"
            )));
        }
        let ctx = format!("variable {name}");
        // The rows j0..=j1 (2-D) or the index range lo..=hi (1-D) that hold the cells.
        let (first, raw): (u64, Vec<f64>) = if dims.len() == 2 {
            let (j0, j1) = (lo as usize / nx, hi as usize / nx);
            let mut ext: Vec<std::ops::Range<usize>> = lead.iter().map(|_| 0..1).collect();
            ext.push(j0..j1 + 1);
            ext.push(0..nx);
            (
                (j0 * nx) as u64,
                var.get_values::<f64, _>(ext.as_slice()).map_err(nc(ctx))?,
            )
        } else {
            let mut ext: Vec<std::ops::Range<usize>> = lead.iter().map(|_| 0..1).collect();
            ext.push(lo as usize..hi as usize + 1);
            (
                lo,
                var.get_values::<f64, _>(ext.as_slice()).map_err(nc(ctx))?,
            )
        };
        let fills = fill_values(&var);
        let scale = num_attr(&var, "scale_factor").unwrap_or(1.0);
        let offset = num_attr(&var, "add_offset").unwrap_or(0.0);
        let values = ids
            .iter()
            .map(|&g| {
                let r = raw[(g - first) as usize];
                if fills.contains(&r) || r.is_nan() {
                    f64::NAN
                } else {
                    r * scale + offset
                }
            })
            .collect();
        let units = match var.attribute_value("units") {
            Some(Ok(netcdf::AttributeValue::Str(s))) => Some(s),
            _ => None,
        };
        out.push(CellValues { values, units });
    }
    Ok(out)
}

/// A whole variable, flattened in file order (fill values as NaN).
pub fn read_variable(path: &Path, name: &str) -> Result<CellValues, IoError> {
    let nc = |e: netcdf::Error| IoError::NetCdf {
        path: path.to_path_buf(),
        context: format!("variable {name}"),
        msg: e.to_string(),
    };
    let f = netcdf::open(path).map_err(nc)?;
    let var = f.variable(name).ok_or_else(|| IoError::Invalid {
        path: path.to_path_buf(),
        msg: format!("no variable {name}"),
    })?;
    let fills = fill_values(&var);
    let values = var
        .get_values::<f64, _>(..)
        .map_err(nc)?
        .into_iter()
        .map(|r| {
            if r.is_nan() || fills.contains(&r) {
                f64::NAN
            } else {
                r
            }
        })
        .collect();
    let units = match var.attribute_value("units") {
        Some(Ok(netcdf::AttributeValue::Str(s))) => Some(s),
        _ => None,
    };
    Ok(CellValues { values, units })
}

fn num_attr(var: &netcdf::Variable<'_>, name: &str) -> Option<f64> {
    use netcdf::AttributeValue as A;
    match var.attribute_value(name)?.ok()? {
        A::Float(x) => Some(f64::from(x)),
        A::Double(x) => Some(x),
        A::Short(x) => Some(f64::from(x)),
        A::Int(x) => Some(f64::from(x)),
        _ => None,
    }
}

fn fill_values(var: &netcdf::Variable<'_>) -> Vec<f64> {
    ["_FillValue", "missing_value"]
        .iter()
        .filter_map(|n| num_attr(var, n))
        .collect()
}

/// The grid of a record written by [`write_record`] (or any file with 1-D `lat`/`lon`
/// coordinates of the same dimension names).
pub fn read_grid(path: &Path) -> Result<AtmGrid, IoError> {
    let nc = |e: netcdf::Error| IoError::NetCdf {
        path: path.to_path_buf(),
        context: "grid".into(),
        msg: e.to_string(),
    };
    let f = netcdf::open(path).map_err(nc)?;
    let get = |n: &str| -> Result<(Vec<f64>, String), IoError> {
        let v = f.variable(n).ok_or_else(|| IoError::Invalid {
            path: path.to_path_buf(),
            msg: format!("no coordinate {n}"),
        })?;
        let d = v.dimensions().first().map(|d| d.name()).unwrap_or_default();
        Ok((v.get_values::<f64, _>(..).map_err(nc)?, d))
    };
    let (lat, dlat) = get("lat")?;
    let (lon, dlon) = get("lon")?;
    Ok(if dlat == dlon {
        AtmGrid::Cells { lat, lon }
    } else {
        AtmGrid::LatLon { lat, lon }
    })
}

/// Paths of one cycle's exchange directory.
#[derive(Debug, Clone)]
pub struct CycleDirs {
    pub atm2lnd: PathBuf,
    pub lnd2atm: PathBuf,
}

impl CycleDirs {
    /// `<root>/<cycle YYYYMMDDHH>/{atm2lnd,lnd2atm}`.
    pub fn new(root: &Path, cycle_end: NaiveDateTime) -> Self {
        let c = root.join(cycle_end.format("%Y%m%d%H").to_string());
        CycleDirs {
            atm2lnd: c.join("atm2lnd"),
            lnd2atm: c.join("lnd2atm"),
        }
    }
}

/// Name of the atmosphere record valid at `t`.
pub fn atm_file_name(t: NaiveDateTime) -> String {
    format!("ATM_{}.nc", t.format("%Y%m%d%H%M"))
}

/// Name of the land export at `t`.
pub fn land_file_name(t: NaiveDateTime) -> String {
    format!("LND_{}.nc", t.format("%Y%m%d%H%M"))
}
