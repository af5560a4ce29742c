//! What makes a restart self-describing (format version 3): units and long names on the
//! datasets, named dimensions (HDF5 dimension scales, which netCDF-4 readers show as
//! dimensions and coordinate variables) and coordinates: cell id, cell latitude/longitude,
//! soil layer depths and bounds, member. The file checksum covers all of it (docs/io.md).

use super::h5ds;
use super::restart::{corrupt, put_str_attr};
use super::restart_blocks::Canon;
use super::IoError;
use std::collections::BTreeMap;
use std::path::Path;

/// Units and long name of one restart field.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FieldMeta {
    pub units: String,
    pub long_name: String,
}

/// The self-description of a restart (format version 3).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RestartMeta {
    /// Per group (`model`, `perturbation`), per field in field order; empty = not described.
    pub fields: [Vec<FieldMeta>; 2],
    /// Grid shape `(ny, nx)`: cell id = j * nx + i.
    pub grid_shape: Option<(usize, usize)>,
    /// 1-D latitudes and longitudes of a regular grid (ny and nx values).
    pub regular_axes: Option<(Vec<f64>, Vec<f64>)>,
    /// Cell-centre latitude and longitude (degrees) per cell in file order; empty = unknown.
    pub lat: Vec<f64>,
    pub lon: Vec<f64>,
    /// Soil layer thicknesses (m), top first; empty = none.
    pub soil_layer_thickness: Vec<f64>,
}

/// Name of the dimension scale of the third axis of field `name` of `group` with `len`
/// values per member: `single_level` (1 value), `soil_layer` (a model field with one value
/// per soil layer) or `<group>_<name>_index`.
pub fn field_dim(meta: &RestartMeta, group: &str, name: &str, len: usize) -> String {
    let n_soil = meta.soil_layer_thickness.len();
    if len == 1 {
        "single_level".to_string()
    } else if group == "model" && len == n_soil {
        "soil_layer".to_string()
    } else {
        format!("{group}_{name}_index")
    }
}

/// Depths (m) of the layer tops and bottoms, top first: `(top, bottom)` per layer.
pub fn layer_bounds(thickness: &[f64]) -> Vec<(f64, f64)> {
    let mut top = 0.0;
    thickness
        .iter()
        .map(|dz| {
            let b = (top, top + dz);
            top += dz;
            b
        })
        .collect()
}

/// Feed the description into the version-3 file checksum.
pub(super) fn canon_meta(c: &mut Canon, m: &RestartMeta) {
    for group in &m.fields {
        c.u64(group.len() as u64);
        for f in group {
            c.str(&f.units);
            c.str(&f.long_name);
        }
    }
    let (ny, nx) = m.grid_shape.unwrap_or((0, 0));
    c.u64(ny as u64);
    c.u64(nx as u64);
    let (la, lo) = m.regular_axes.clone().unwrap_or_default();
    for v in [&la, &lo, &m.lat, &m.lon, &m.soil_layer_thickness] {
        c.u64(v.len() as u64);
        c.f64s(v);
    }
}

/// Error unless the description fits `n_cells` cells and the groups' fields.
pub(super) fn check_meta(
    m: &RestartMeta,
    n_cells: usize,
    fields: &[Vec<(String, usize)>; 2],
) -> Result<(), String> {
    for (g, (meta, f)) in m.fields.iter().zip(fields).enumerate() {
        if !meta.is_empty() && meta.len() != f.len() {
            return Err(format!(
                "group {g}: {} field descriptions for {} fields",
                meta.len(),
                f.len()
            ));
        }
    }
    if m.lat.len() != m.lon.len() || !(m.lat.is_empty() || m.lat.len() == n_cells) {
        return Err(format!(
            "{} latitudes and {} longitudes for {n_cells} cells",
            m.lat.len(),
            m.lon.len()
        ));
    }
    if let (Some((ny, nx)), Some((la, lo))) = (m.grid_shape, &m.regular_axes) {
        if la.len() != ny || lo.len() != nx {
            return Err(format!(
                "grid axes of {} x {} for a {ny} x {nx} grid",
                la.len(),
                lo.len()
            ));
        }
    }
    if m.soil_layer_thickness
        .iter()
        .any(|dz| !(dz.is_finite() && *dz > 0.0))
    {
        return Err("soil layer thicknesses must be positive".into());
    }
    Ok(())
}

fn h5(path: &Path, what: &str) -> impl FnOnce(hdf5::Error) -> IoError {
    let (path, what) = (path.to_path_buf(), what.to_string());
    move |e| IoError::Hdf5 {
        path,
        context: what,
        msg: e.to_string(),
    }
}

fn ds_err(path: &Path, what: &str) -> impl FnOnce(String) -> IoError {
    let (path, what) = (path.to_path_buf(), what.to_string());
    move |msg| IoError::Hdf5 {
        path,
        context: what,
        msg,
    }
}

fn put_f64s_attr(loc: &hdf5::Location, path: &Path, name: &str, v: &[f64]) -> Result<(), IoError> {
    loc.new_attr::<f64>()
        .shape([v.len()])
        .create(name)
        .and_then(|a| a.write_raw(v))
        .map_err(h5(path, &format!("writing attribute {name}")))
}

/// The dimension scales and coordinate datasets of a version-3 file being written.
pub(super) struct Scales {
    by_name: BTreeMap<String, hdf5::Dataset>,
    /// `lat`, `lon` (written by rows, like the fields).
    pub(super) lat_lon: Option<(hdf5::Dataset, hdf5::Dataset)>,
}

/// One small coordinate dataset: created by every rank, its values written by `writer` only.
struct Coord {
    name: String,
    values: Vec<f64>,
    attrs: Vec<(&'static str, String)>,
}

type NewDataset<'a> = &'a dyn Fn(&hdf5::Group, &str, &[usize]) -> Result<hdf5::Dataset, IoError>;

/// Create the root attributes, scales and coordinates of the description (collective: every
/// rank calls it with the same arguments); raw values of the small coordinates are written by
/// `writer` only. `new_ds(loc, name, shape)` creates a contiguous f64 dataset.
pub(super) fn write_scales(
    file: &hdf5::File,
    path: &Path,
    (m, n_members, fields): (&RestartMeta, usize, &[Vec<(String, usize)>; 2]),
    cell_id: &hdf5::Dataset,
    new_ds: NewDataset,
    writer: bool,
) -> Result<Scales, IoError> {
    if let Some((ny, nx)) = m.grid_shape {
        super::restart::put_u_attr(file, path, "grid_ny", ny as u64, false)?;
        super::restart::put_u_attr(file, path, "grid_nx", nx as u64, false)?;
    }
    if let Some((la, lo)) = &m.regular_axes {
        put_f64s_attr(file, path, "grid_lat", la)?;
        put_f64s_attr(file, path, "grid_lon", lo)?;
    }
    put_f64s_attr(file, path, "soil_layer_thickness", &m.soil_layer_thickness)?;
    h5ds::set_scale(cell_id, "cell_id").map_err(ds_err(path, "dataset cell_id"))?;
    for (k, v) in [
        (
            "long_name",
            "global cell id: j * grid_nx + i (row-major over the full grid)",
        ),
        ("units", "1"),
    ] {
        put_str_attr(cell_id, path, k, v)?;
    }
    let mut by_name = BTreeMap::new();
    by_name.insert("cell_id".to_string(), cell_id.clone());
    for c in coordinates(m, n_members, fields) {
        let ds = new_ds(file, &c.name, &[c.values.len()])?;
        h5ds::set_scale(&ds, &c.name).map_err(ds_err(path, &format!("dataset {}", c.name)))?;
        for (k, v) in &c.attrs {
            put_str_attr(&ds, path, k, v)?;
        }
        if writer {
            ds.write_raw(&c.values)
                .map_err(h5(path, &format!("writing dataset {}", c.name)))?;
        }
        by_name.insert(c.name.clone(), ds);
    }
    if let Some(soil) = by_name.get("soil_layer").cloned() {
        let nl = m.soil_layer_thickness.len();
        let b = new_ds(file, "soil_layer_bnds", &[nl, 2])?;
        h5ds::attach(&b, &soil, 0).map_err(ds_err(path, "dataset soil_layer_bnds"))?;
        h5ds::attach(&b, &by_name["bnds"], 1).map_err(ds_err(path, "dataset soil_layer_bnds"))?;
        put_str_attr(&b, path, "units", "m")?;
        if writer {
            let flat: Vec<f64> = layer_bounds(&m.soil_layer_thickness)
                .into_iter()
                .flat_map(|(a, z)| [a, z])
                .collect();
            b.write_raw(&flat)
                .map_err(h5(path, "writing dataset soil_layer_bnds"))?;
        }
    }
    let lat_lon = if m.lat.is_empty() {
        None
    } else {
        let mut out = Vec::new();
        for (name, sn, units) in [
            ("lat", "latitude", "degrees_north"),
            ("lon", "longitude", "degrees_east"),
        ] {
            let ds = new_ds(file, name, &[m.lat.len()])?;
            h5ds::attach(&ds, cell_id, 0).map_err(ds_err(path, &format!("dataset {name}")))?;
            for (k, v) in [("standard_name", sn), ("long_name", sn), ("units", units)] {
                put_str_attr(&ds, path, k, v)?;
            }
            out.push(ds);
        }
        let lon = out.pop();
        out.pop().zip(lon)
    };
    Ok(Scales { by_name, lat_lon })
}

/// The small coordinates: member, single_level, soil_layer (+ bnds), per-field indices.
fn coordinates(
    m: &RestartMeta,
    n_members: usize,
    fields: &[Vec<(String, usize)>; 2],
) -> Vec<Coord> {
    let index = |n: usize| (0..n).map(|k| k as f64).collect::<Vec<f64>>();
    let mut out = vec![Coord {
        name: "member".into(),
        values: index(n_members),
        attrs: vec![
            ("standard_name", "realization".into()),
            ("long_name", "ensemble member (0-based)".into()),
            ("units", "1".into()),
        ],
    }];
    let mut seen = std::collections::BTreeSet::new();
    for (g, group) in super::restart::GROUPS.iter().zip(fields) {
        for (name, len) in group {
            let dim = field_dim(m, g, name, *len);
            if !seen.insert(dim.clone()) {
                continue;
            }
            out.extend(dim_coordinates(m, dim, g, name, *len));
        }
    }
    out
}

fn dim_coordinates(m: &RestartMeta, dim: String, g: &str, name: &str, len: usize) -> Vec<Coord> {
    let index = |n: usize| (0..n).map(|k| k as f64).collect::<Vec<f64>>();
    match dim.as_str() {
        "single_level" => vec![Coord {
            name: "single_level".into(),
            values: vec![0.0],
            attrs: vec![
                (
                    "long_name",
                    "single value per member (field without layers)".into(),
                ),
                ("units", "1".into()),
            ],
        }],
        "soil_layer" => {
            let mids = layer_bounds(&m.soil_layer_thickness)
                .iter()
                .map(|(a, b)| 0.5 * (a + b))
                .collect();
            vec![
                Coord {
                    name: "bnds".into(),
                    values: index(2),
                    attrs: vec![
                        ("long_name", "bound (0 = top, 1 = bottom)".into()),
                        ("units", "1".into()),
                    ],
                },
                Coord {
                    name: "soil_layer".into(),
                    values: mids,
                    attrs: vec![
                        ("standard_name", "depth".into()),
                        ("long_name", "depth below land".into()),
                        ("units", "m".into()),
                        ("positive", "down".into()),
                        ("axis", "Z".into()),
                        ("bounds", "soil_layer_bnds".into()),
                    ],
                },
            ]
        }
        _ => vec![Coord {
            name: dim.clone(),
            values: index(len),
            attrs: vec![
                (
                    "long_name",
                    format!("index of the values of {g}/{name} per member"),
                ),
                ("units", "1".into()),
            ],
        }],
    }
}

/// Units, long name and dimension scales of field dataset `ds` (`group`/`name`, `len`).
pub(super) fn describe_field(
    ds: &hdf5::Dataset,
    path: &Path,
    (m, scales): (&RestartMeta, &Scales),
    (gi, fi, group, name, len): (usize, usize, &str, &str, usize),
) -> Result<(), IoError> {
    if let Some(f) = m.fields[gi].get(fi) {
        put_str_attr(ds, path, "units", &f.units)?;
        put_str_attr(ds, path, "long_name", &f.long_name)?;
    }
    let dims = [
        "cell_id".to_string(),
        "member".to_string(),
        field_dim(m, group, name, len),
    ];
    for (k, d) in dims.iter().enumerate() {
        let scale = &scales.by_name[d];
        h5ds::attach(ds, scale, k).map_err(ds_err(path, &format!("dataset {group}/{name}")))?;
    }
    Ok(())
}

fn opt_str_attr(loc: &hdf5::Location, name: &str) -> Option<String> {
    let a = loc.attr(name).ok()?;
    let v: hdf5::types::VarLenUnicode = a.read_scalar().ok()?;
    Some(v.as_str().to_string())
}

fn opt_f64s_attr(
    loc: &hdf5::Location,
    path: &Path,
    name: &str,
) -> Result<Option<Vec<f64>>, IoError> {
    match loc.attr(name) {
        Err(_) => Ok(None),
        Ok(a) => a
            .read_raw::<f64>()
            .map(Some)
            .map_err(|e| corrupt(path, format!("attribute {name}"), e.to_string())),
    }
}

fn opt_u64_attr(loc: &hdf5::Location, path: &Path, name: &str) -> Result<Option<u64>, IoError> {
    match loc.attr(name) {
        Err(_) => Ok(None),
        Ok(a) => a
            .read_scalar::<u64>()
            .map(Some)
            .map_err(|e| corrupt(path, format!("attribute {name}"), e.to_string())),
    }
}

/// Read the description of a version-3 file (checked later against the file checksum).
pub(super) fn read_meta(
    file: &hdf5::File,
    path: &Path,
    fields: &[Vec<(String, usize)>; 2],
) -> Result<RestartMeta, IoError> {
    let mut m = RestartMeta::default();
    for (gi, (g, group)) in super::restart::GROUPS.iter().zip(fields).enumerate() {
        for (name, _) in group {
            let dsname = format!("{g}/{name}");
            let ds = file
                .dataset(&dsname)
                .map_err(|e| corrupt(path, format!("dataset {dsname}"), e.to_string()))?;
            if let (Some(units), Some(long_name)) =
                (opt_str_attr(&ds, "units"), opt_str_attr(&ds, "long_name"))
            {
                m.fields[gi].push(FieldMeta { units, long_name });
            }
        }
    }
    let ny = opt_u64_attr(file, path, "grid_ny")?;
    let nx = opt_u64_attr(file, path, "grid_nx")?;
    m.grid_shape = ny.zip(nx).map(|(a, b)| (a as usize, b as usize));
    let la = opt_f64s_attr(file, path, "grid_lat")?;
    let lo = opt_f64s_attr(file, path, "grid_lon")?;
    m.regular_axes = la.zip(lo);
    m.soil_layer_thickness = opt_f64s_attr(file, path, "soil_layer_thickness")?.unwrap_or_default();
    if file.link_exists("lat") {
        for (name, out) in [("lat", &mut m.lat), ("lon", &mut m.lon)] {
            *out = file
                .dataset(name)
                .and_then(|d| d.read_raw::<f64>())
                .map_err(|e| corrupt(path, format!("dataset {name}"), e.to_string()))?;
        }
    }
    Ok(m)
}
