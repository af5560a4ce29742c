//! A restart as a CF NetCDF file (`landcycle restart dump`): the ensemble state per member on
//! the model grid (regular grids) or per cell with its latitude and longitude (curvilinear,
//! e.g. WPS domains, or files without a grid description). Layout: docs/io.md.

use super::restart::{RestartData, RestartField};
use super::restart_meta::{field_dim, layer_bounds, FieldMeta, RestartMeta};
use super::IoError;
use std::path::Path;

/// What to dump.
#[derive(Debug, Clone, Default)]
pub struct DumpSelection {
    /// Member indices (0-based) in output order; empty = all.
    pub members: Vec<usize>,
    /// Output variable names (model fields by name, perturbation fields as
    /// `perturbation_<name>`); empty = all.
    pub fields: Vec<String>,
    /// One `member` dimension instead of one variable per member (xarray-friendly; CDO does
    /// not read a member dimension).
    pub member_dim: bool,
}

/// Missing value off land on the model grid (as in the history files).
const FILL: f64 = 1e20;

/// CF standard names of the model fields that have one (checked against table version 93),
/// by restart field name and units.
const STANDARD_NAMES: [(&str, &str, &str); 9] = [
    ("skin_temperature", "K", "surface_temperature"),
    ("soil_temperature", "K", "soil_temperature"),
    (
        "soil_moisture",
        "m3 m-3",
        "volume_fraction_of_condensed_water_in_soil",
    ),
    ("snow_depth", "m", "surface_snow_thickness"),
    (
        "snow_water_equivalent",
        "m",
        "lwe_thickness_of_surface_snow_amount",
    ),
    ("canopy_water", "m", "lwe_thickness_of_canopy_water_amount"),
    ("albedo", "1", "surface_albedo"),
    ("emissivity", "1", "surface_longwave_emissivity"),
    ("roughness_length", "m", "surface_roughness_length"),
];

/// One field to write: output name, stored field, description, third-axis dimension.
struct OutField<'a> {
    name: String,
    field: &'a RestartField,
    meta: Option<&'a FieldMeta>,
    dim: String,
}

fn invalid(path: &Path, msg: String) -> IoError {
    IoError::Invalid {
        path: path.to_path_buf(),
        msg,
    }
}

fn nc(path: &Path, what: &str) -> impl FnOnce(netcdf::Error) -> IoError {
    let (path, what) = (path.to_path_buf(), what.to_string());
    move |e| IoError::Invalid {
        path,
        msg: format!("{what}: {e}"),
    }
}

/// The fields of `d` selected by `sel` (error naming the unknown ones and the known names).
fn select_fields<'a>(
    d: &'a RestartData,
    meta: &'a RestartMeta,
    sel: &DumpSelection,
    source: &Path,
) -> Result<Vec<OutField<'a>>, IoError> {
    let mut all = Vec::new();
    for (gi, (g, fields)) in super::restart::GROUPS
        .iter()
        .zip([&d.model_fields, &d.perturbation_fields])
        .enumerate()
    {
        for (fi, f) in fields.iter().enumerate() {
            let name = if gi == 0 {
                f.name.clone()
            } else {
                format!("perturbation_{}", f.name)
            };
            all.push(OutField {
                name,
                field: f,
                meta: meta.fields[gi].get(fi),
                dim: field_dim(meta, g, &f.name, f.per_cell),
            });
        }
    }
    if sel.fields.is_empty() {
        return Ok(all);
    }
    let known: Vec<String> = all.iter().map(|f| f.name.clone()).collect();
    if let Some(bad) = sel.fields.iter().find(|s| !known.contains(s)) {
        return Err(invalid(
            source,
            format!(
                "no field {bad:?} in the restart (fields: {})",
                known.join(", ")
            ),
        ));
    }
    all.retain(|f| sel.fields.contains(&f.name));
    Ok(all)
}

fn select_members(
    d: &RestartData,
    sel: &DumpSelection,
    source: &Path,
) -> Result<Vec<usize>, IoError> {
    if sel.members.is_empty() {
        return Ok((0..d.n_members).collect());
    }
    if let Some(bad) = sel.members.iter().find(|&&m| m >= d.n_members) {
        return Err(invalid(
            source,
            format!(
                "no member {bad} in the restart (members 0..{})",
                d.n_members - 1
            ),
        ));
    }
    Ok(sel.members.clone())
}

/// Where the cells go: on the model grid (regular grids) or along a `cell` dimension.
enum Horizontal {
    Grid {
        ny: usize,
        nx: usize,
        lat: Vec<f64>,
        lon: Vec<f64>,
        index: Vec<usize>,
    },
    Cells {
        n: usize,
    },
}

impl Horizontal {
    fn of(d: &RestartData, m: &RestartMeta, source: &Path) -> Result<Self, IoError> {
        let (Some((ny, nx)), Some((lat, lon))) = (m.grid_shape, &m.regular_axes) else {
            return Ok(Horizontal::Cells {
                n: d.cell_ids.len(),
            });
        };
        let mut index = Vec::with_capacity(d.cell_ids.len());
        for &id in &d.cell_ids {
            if id >= (ny * nx) as u64 {
                return Err(invalid(
                    source,
                    format!("cell id {id} outside the {ny} x {nx} grid"),
                ));
            }
            index.push(id as usize);
        }
        Ok(Horizontal::Grid {
            ny,
            nx,
            lat: lat.clone(),
            lon: lon.clone(),
            index,
        })
    }

    fn dims(&self) -> Vec<&'static str> {
        match self {
            Horizontal::Grid { .. } => vec!["lat", "lon"],
            Horizontal::Cells { .. } => vec!["cell"],
        }
    }

    fn size(&self) -> usize {
        match self {
            Horizontal::Grid { ny, nx, .. } => ny * nx,
            Horizontal::Cells { n } => *n,
        }
    }

    /// Place per-cell `values` (file order) on the output layout.
    fn place(&self, values: impl Iterator<Item = f64>) -> Vec<f64> {
        match self {
            Horizontal::Grid { index, .. } => {
                let mut out = vec![FILL; self.size()];
                for (k, v) in index.iter().zip(values) {
                    out[*k] = v;
                }
                out
            }
            Horizontal::Cells { .. } => values.collect(),
        }
    }
}

/// Write `d` (read and verified by the caller) as CF NetCDF to `out`, atomically; `source`
/// names the restart in messages and attributes.
pub fn write_restart_netcdf(
    out: &Path,
    d: &RestartData,
    sel: &DumpSelection,
    source: &Path,
) -> Result<(), IoError> {
    let meta = d.meta.clone().unwrap_or_default();
    let fields = select_fields(d, &meta, sel, source)?;
    let members = select_members(d, sel, source)?;
    let horiz = Horizontal::of(d, &meta, source)?;
    super::atomic_write(out, |tmp| {
        let mut f = netcdf::create(tmp).map_err(nc(out, "create"))?;
        write_globals(&mut f, out, d, source)?;
        write_coordinates(&mut f, out, d, &meta, &horiz)?;
        write_members(&mut f, out, &members, sel.member_dim)?;
        for of in &fields {
            write_field(&mut f, out, d, of, (&members, sel.member_dim), &horiz)?;
        }
        f.close().map_err(nc(out, "close"))
    })
}

fn write_globals(
    f: &mut netcdf::FileMut,
    out: &Path,
    d: &RestartData,
    source: &Path,
) -> Result<(), IoError> {
    let name = source
        .file_name()
        .map_or(String::new(), |n| n.to_string_lossy().into_owned());
    let vt = d.valid_time.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    for (k, v) in [
        ("Conventions", "CF-1.8".to_string()),
        ("title", format!("landcycle restart {name} as NetCDF")),
        ("source", format!("landcycle {}", env!("CARGO_PKG_VERSION"))),
        (
            "history",
            format!("landcycle restart dump {name} (verified against its checksum)"),
        ),
        ("model_name", d.model_name.clone()),
        ("config_fingerprint", d.config_fingerprint.clone()),
        ("valid_time", vt),
    ] {
        f.add_attribute(k, v.as_str()).map_err(nc(out, k))?;
    }
    f.add_attribute("ensemble_size", d.n_members as i32)
        .map_err(nc(out, "ensemble_size"))?;
    for (k, v) in &d.attributes {
        let k = format!("restart_{k}");
        f.add_attribute(&k, v.as_str()).map_err(nc(out, &k))?;
    }
    Ok(())
}

fn add_var<T: netcdf::NcTypeDescriptor + Copy>(
    f: &mut netcdf::FileMut,
    out: &Path,
    name: &str,
    dims: &[&str],
    attrs: &[(&str, &str)],
    values: &[T],
) -> Result<(), IoError> {
    let mut v = f.add_variable::<T>(name, dims).map_err(nc(out, name))?;
    for (k, a) in attrs {
        v.put_attribute(k, *a).map_err(nc(out, name))?;
    }
    v.put_values(values, ..).map_err(nc(out, name))?;
    Ok(())
}

/// time, the horizontal coordinates, cell ids, soil layers and per-field index axes.
fn write_coordinates(
    f: &mut netcdf::FileMut,
    out: &Path,
    d: &RestartData,
    m: &RestartMeta,
    horiz: &Horizontal,
) -> Result<(), IoError> {
    f.add_dimension("time", 1).map_err(nc(out, "time"))?;
    let units = format!("seconds since {}", d.valid_time.format("%Y-%m-%d %H:%M:%S"));
    let t = [
        ("standard_name", "time"),
        ("units", units.as_str()),
        ("calendar", "standard"),
        ("axis", "T"),
    ];
    add_var::<f64>(f, out, "time", &["time"], &t, &[0.0])?;
    let ids: Vec<i64> = d.cell_ids.iter().map(|&i| i as i64).collect();
    match horiz {
        Horizontal::Grid {
            ny, nx, lat, lon, ..
        } => {
            f.add_dimension("lat", *ny).map_err(nc(out, "lat"))?;
            f.add_dimension("lon", *nx).map_err(nc(out, "lon"))?;
            let la = [
                ("standard_name", "latitude"),
                ("long_name", "latitude"),
                ("units", "degrees_north"),
                ("axis", "Y"),
            ];
            add_var::<f64>(f, out, "lat", &["lat"], &la, lat)?;
            let lo = [
                ("standard_name", "longitude"),
                ("long_name", "longitude"),
                ("units", "degrees_east"),
                ("axis", "X"),
            ];
            add_var::<f64>(f, out, "lon", &["lon"], &lo, lon)?;
            let full: Vec<i64> = (0..(ny * nx) as i64).collect();
            let c = [
                (
                    "long_name",
                    "global cell id: j * nx + i (row-major over the full grid)",
                ),
                ("units", "1"),
            ];
            add_var::<i64>(f, out, "cell_id", &["lat", "lon"], &c, &full)?;
        }
        Horizontal::Cells { n } => {
            f.add_dimension("cell", *n).map_err(nc(out, "cell"))?;
            let c = [
                (
                    "long_name",
                    "global cell id: j * nx + i (row-major over the full grid)",
                ),
                ("units", "1"),
            ];
            add_var::<i64>(f, out, "cell_id", &["cell"], &c, &ids)?;
            if !m.lat.is_empty() {
                let la = [
                    ("standard_name", "latitude"),
                    ("long_name", "latitude"),
                    ("units", "degrees_north"),
                ];
                add_var::<f64>(f, out, "lat", &["cell"], &la, &m.lat)?;
                let lo = [
                    ("standard_name", "longitude"),
                    ("long_name", "longitude"),
                    ("units", "degrees_east"),
                ];
                add_var::<f64>(f, out, "lon", &["cell"], &lo, &m.lon)?;
            }
        }
    }
    write_vertical(f, out, d, m)
}

/// The soil layer axis with its bounds, and an index axis for other multi-value fields.
fn write_vertical(
    f: &mut netcdf::FileMut,
    out: &Path,
    d: &RestartData,
    m: &RestartMeta,
) -> Result<(), IoError> {
    let mut done = std::collections::BTreeSet::new();
    for (g, fields) in super::restart::GROUPS
        .iter()
        .zip([&d.model_fields, &d.perturbation_fields])
    {
        for fl in fields {
            let dim = field_dim(m, g, &fl.name, fl.per_cell);
            if dim == "single_level" || !done.insert(dim.clone()) {
                continue;
            }
            f.add_dimension(&dim, fl.per_cell).map_err(nc(out, &dim))?;
            if dim == "soil_layer" {
                let b = layer_bounds(&m.soil_layer_thickness);
                let mids: Vec<f64> = b.iter().map(|(a, z)| 0.5 * (a + z)).collect();
                let flat: Vec<f64> = b.iter().flat_map(|(a, z)| [*a, *z]).collect();
                let attrs = [
                    ("standard_name", "depth"),
                    ("long_name", "depth below land"),
                    ("units", "m"),
                    ("positive", "down"),
                    ("axis", "Z"),
                    ("bounds", "soil_layer_bnds"),
                ];
                add_var::<f64>(f, out, "soil_layer", &["soil_layer"], &attrs, &mids)?;
                f.add_dimension("bnds", 2).map_err(nc(out, "bnds"))?;
                add_var::<f64>(
                    f,
                    out,
                    "soil_layer_bnds",
                    &["soil_layer", "bnds"],
                    &[],
                    &flat,
                )?;
            } else {
                let idx: Vec<i32> = (0..fl.per_cell as i32).collect();
                let long = format!("index of the values of {g}/{} per member", fl.name);
                let attrs = [("long_name", long.as_str()), ("units", "1")];
                add_var::<i32>(f, out, &dim, &[dim.as_str()], &attrs, &idx)?;
            }
        }
    }
    Ok(())
}

fn member_var(k: usize) -> String {
    format!("member_{k:03}")
}

/// The member coordinate: a `member` dimension, or one scalar coordinate per member.
fn write_members(
    f: &mut netcdf::FileMut,
    out: &Path,
    members: &[usize],
    as_dim: bool,
) -> Result<(), IoError> {
    let attrs = [
        ("standard_name", "realization"),
        ("long_name", "ensemble member (0-based)"),
        ("units", "1"),
    ];
    if as_dim {
        f.add_dimension("member", members.len())
            .map_err(nc(out, "member"))?;
        let v: Vec<i32> = members.iter().map(|&k| k as i32).collect();
        return add_var::<i32>(f, out, "member", &["member"], &attrs, &v);
    }
    for &k in members {
        add_var::<i32>(f, out, &member_var(k), &[], &attrs, &[k as i32])?;
    }
    Ok(())
}

/// One field: a variable per member (`<name>_member_NNN`), or one with a member dimension.
fn write_field(
    f: &mut netcdf::FileMut,
    out: &Path,
    d: &RestartData,
    of: &OutField,
    (members, as_dim): (&[usize], bool),
    horiz: &Horizontal,
) -> Result<(), IoError> {
    let len = of.field.per_cell;
    let layered = of.dim != "single_level";
    let mut dims: Vec<&str> = vec!["time"];
    if as_dim {
        dims.push("member");
    }
    if layered {
        dims.push(&of.dim);
    }
    dims.extend(horiz.dims());
    let per_member = |k: usize| -> Vec<f64> {
        let mut v = Vec::with_capacity(len * horiz.size());
        for l in 0..len {
            let cells =
                (0..d.cell_ids.len()).map(|c| of.field.values[(c * d.n_members + k) * len + l]);
            v.extend(horiz.place(cells));
        }
        v
    };
    let coords = match horiz {
        Horizontal::Cells { .. } if d.meta.as_ref().is_some_and(|m| !m.lat.is_empty()) => "lat lon",
        _ => "",
    };
    let groups: Vec<(String, Vec<f64>, String)> = if as_dim {
        let all = members.iter().flat_map(|&k| per_member(k)).collect();
        vec![(of.name.clone(), all, coords.to_string())]
    } else {
        members
            .iter()
            .map(|&k| {
                let c = format!("{} {coords}", member_var(k)).trim().to_string();
                (format!("{}_{}", of.name, member_var(k)), per_member(k), c)
            })
            .collect()
    };
    for (name, values, coordinates) in groups {
        let mut v = f
            .add_variable::<f64>(&name, &dims)
            .map_err(nc(out, &name))?;
        v.set_fill_value(FILL).map_err(nc(out, &name))?;
        v.put_attribute("missing_value", FILL)
            .map_err(nc(out, &name))?;
        let mut attrs: Vec<(&str, String)> = Vec::new();
        if let Some(m) = of.meta {
            attrs.push(("units", m.units.clone()));
            attrs.push(("long_name", m.long_name.clone()));
            let sn = STANDARD_NAMES.iter().find(|s| {
                s.0 == of.field.name && s.1 == m.units && !of.name.starts_with("perturbation_")
            });
            if let Some(s) = sn {
                attrs.push(("standard_name", s.2.to_string()));
            }
        }
        if !coordinates.is_empty() {
            attrs.push(("coordinates", coordinates));
        }
        attrs.push(("cell_methods", "time: point".to_string()));
        for (k, a) in attrs {
            v.put_attribute(k, a.as_str()).map_err(nc(out, &name))?;
        }
        v.put_values(&values, ..).map_err(nc(out, &name))?;
    }
    Ok(())
}
