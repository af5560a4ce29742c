//! Remapping weight files: SCRIP (as written by CDO and read by OASIS) and ESMF / CESM map
//! files (as written by `ESMF_RegridWeightGen`), read into one plain representation
//! ([`WeightFile`]) and written back in either layout.
//!
//! The two layouts hold the same content under different names (docs/remap.md):
//!
//! | content                 | SCRIP                          | ESMF               |
//! |-------------------------|--------------------------------|--------------------|
//! | grid sizes              | `src_grid_size`, `dst_grid_size` | `n_a`, `n_b`     |
//! | number of links         | `num_links`                    | `n_s`              |
//! | source / destination    | `src_address`, `dst_address`   | `col`, `row`       |
//! | weights                 | `remap_matrix(num_links, num_wgts)` | `S(n_s)`      |
//! | cell centres            | `*_grid_center_lat/lon` (radians by CDO) | `yc_a/xc_a`, `yc_b/xc_b` (degrees) |
//! | mask, area, fraction    | `*_grid_imask`, `*_grid_area`, `*_grid_frac` | `mask_*`, `area_*`, `frac_*` |
//! | grid shape              | `src_grid_dims`, `dst_grid_dims` (x fastest) | the same |
//!
//! Addresses stay 1-based here, exactly as stored; checking them against the grids and
//! building the sparse operator is `grid::weights`' work. Only first-order weights are
//! read: a SCRIP file with `num_wgts > 1` (second-order conservative, bicubic) needs
//! source gradients and is refused.

use std::path::{Path, PathBuf};

use netcdf::AttributeValue;
use thiserror::Error;

/// Errors reading or writing a weight file; every message names the file.
#[derive(Debug, Error)]
pub enum WeightFileError {
    /// File-system failure of the atomic write.
    #[error(transparent)]
    Io(#[from] crate::io::IoError),
    #[error("weight file {path}: {action}: {message}")]
    File {
        path: PathBuf,
        action: &'static str,
        message: String,
    },
    #[error(
        "weight file {path}: neither a SCRIP file (no src_address) nor an ESMF map file (no col)"
    )]
    UnknownLayout { path: PathBuf },
    #[error("weight file {path}: {name} is missing")]
    Missing { path: PathBuf, name: String },
    #[error("weight file {path}: variable {variable}: {message}")]
    Variable {
        path: PathBuf,
        variable: String,
        message: String,
    },
}

/// The two layouts of a weight file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightLayout {
    Scrip,
    Esmf,
}

/// One grid as a weight file describes it. Centres are in degrees whatever the file used.
#[derive(Debug, Clone, PartialEq)]
pub struct GridCells {
    /// `*_grid_dims`, x fastest (Fortran order): `[nx, ny]` for a 2-D grid.
    pub dims: Vec<usize>,
    pub lat: Vec<f64>,
    pub lon: Vec<f64>,
    /// Cell mask (true = active), when the file has one.
    pub mask: Option<Vec<bool>>,
    /// Cell area (square radians), when the file has one.
    pub area: Option<Vec<f64>>,
    /// Fraction of each cell that takes part in the mapping, when the file has one.
    pub frac: Option<Vec<f64>>,
}

impl GridCells {
    pub fn len(&self) -> usize {
        self.lat.len()
    }
    pub fn is_empty(&self) -> bool {
        self.lat.is_empty()
    }
}

/// The content of a weight file: links `(src_address[k], dst_address[k], weight[k])`,
/// addresses 1-based as stored, plus both grid descriptions and the global attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightFile {
    pub path: PathBuf,
    pub layout: WeightLayout,
    /// `map_method` attribute (e.g. "Bilinear remapping", "Conservative remapping …").
    pub map_method: String,
    /// `normalization` attribute as stored (`none`, `fracarea`, `destarea`), empty if absent.
    pub normalization: String,
    pub src: GridCells,
    pub dst: GridCells,
    pub src_address: Vec<i64>,
    pub dst_address: Vec<i64>,
    pub weight: Vec<f64>,
}

/// Variable and dimension names of one layout.
struct Names {
    src_size: &'static str,
    dst_size: &'static str,
    links: &'static str,
    src_address: &'static str,
    dst_address: &'static str,
    weight: &'static str,
    /// (lat, lon, mask, area, frac) of the source, then of the destination.
    src: [&'static str; 5],
    dst: [&'static str; 5],
}

const SCRIP: Names = Names {
    src_size: "src_grid_size",
    dst_size: "dst_grid_size",
    links: "num_links",
    src_address: "src_address",
    dst_address: "dst_address",
    weight: "remap_matrix",
    src: [
        "src_grid_center_lat",
        "src_grid_center_lon",
        "src_grid_imask",
        "src_grid_area",
        "src_grid_frac",
    ],
    dst: [
        "dst_grid_center_lat",
        "dst_grid_center_lon",
        "dst_grid_imask",
        "dst_grid_area",
        "dst_grid_frac",
    ],
};

const ESMF: Names = Names {
    src_size: "n_a",
    dst_size: "n_b",
    links: "n_s",
    src_address: "col",
    dst_address: "row",
    weight: "S",
    src: ["yc_a", "xc_a", "mask_a", "area_a", "frac_a"],
    dst: ["yc_b", "xc_b", "mask_b", "area_b", "frac_b"],
};

fn names(layout: WeightLayout) -> &'static Names {
    match layout {
        WeightLayout::Scrip => &SCRIP,
        WeightLayout::Esmf => &ESMF,
    }
}

/// Read a SCRIP or ESMF weight file (the layout is recognised by its variables).
pub fn read_weights(path: &Path) -> Result<WeightFile, WeightFileError> {
    let f = netcdf::open(path).map_err(|e| WeightFileError::File {
        path: path.to_path_buf(),
        action: "cannot open",
        message: e.to_string(),
    })?;
    let layout = if f.variable("src_address").is_some() {
        WeightLayout::Scrip
    } else if f.variable("col").is_some() {
        WeightLayout::Esmf
    } else {
        return Err(WeightFileError::UnknownLayout {
            path: path.to_path_buf(),
        });
    };
    let r = Reader { f: &f, path };
    let n = names(layout);
    let (n_src, n_dst, n_links) = (r.dim(n.src_size)?, r.dim(n.dst_size)?, r.dim(n.links)?);
    let weight = match layout {
        WeightLayout::Scrip => r.first_weight_column(n_links)?,
        WeightLayout::Esmf => r.f64s(n.weight, n_links)?,
    };
    Ok(WeightFile {
        path: path.to_path_buf(),
        layout,
        map_method: r.text_attr("map_method"),
        normalization: r.text_attr("normalization"),
        src: r.grid(layout, &n.src, "src_grid_dims", n_src)?,
        dst: r.grid(layout, &n.dst, "dst_grid_dims", n_dst)?,
        src_address: r.ints(n.src_address, n_links)?,
        dst_address: r.ints(n.dst_address, n_links)?,
        weight,
    })
}

struct Reader<'a> {
    f: &'a netcdf::File,
    path: &'a Path,
}

impl Reader<'_> {
    fn var_err(&self, variable: &str, message: impl std::fmt::Display) -> WeightFileError {
        WeightFileError::Variable {
            path: self.path.to_path_buf(),
            variable: variable.to_string(),
            message: message.to_string(),
        }
    }

    fn missing(&self, name: String) -> WeightFileError {
        WeightFileError::Missing {
            path: self.path.to_path_buf(),
            name,
        }
    }

    fn dim(&self, name: &str) -> Result<usize, WeightFileError> {
        self.f
            .dimension_len(name)
            .ok_or_else(|| self.missing(format!("dimension {name}")))
    }

    fn variable(&self, name: &str) -> Result<netcdf::Variable<'_>, WeightFileError> {
        self.f
            .variable(name)
            .ok_or_else(|| self.missing(format!("variable {name}")))
    }

    fn f64s(&self, name: &str, len: usize) -> Result<Vec<f64>, WeightFileError> {
        let v = self.variable(name)?;
        let x = v
            .get_values::<f64, _>(..)
            .map_err(|e| self.var_err(name, e))?;
        if x.len() != len {
            return Err(self.var_err(name, format!("{} values, expected {len}", x.len())));
        }
        Ok(x)
    }

    fn ints(&self, name: &str, len: usize) -> Result<Vec<i64>, WeightFileError> {
        let v = self.variable(name)?;
        let x = v
            .get_values::<i64, _>(..)
            .map_err(|e| self.var_err(name, e))?;
        if x.len() != len {
            return Err(self.var_err(name, format!("{} values, expected {len}", x.len())));
        }
        Ok(x)
    }

    fn optional_f64s(&self, name: &str, len: usize) -> Result<Option<Vec<f64>>, WeightFileError> {
        match self.f.variable(name) {
            Some(_) => self.f64s(name, len).map(Some),
            None => Ok(None),
        }
    }

    /// First column of `remap_matrix(num_links, num_wgts)`; more than one weight per link
    /// (second-order conservative, bicubic) needs source gradients, which landcycle does
    /// not compute.
    fn first_weight_column(&self, n_links: usize) -> Result<Vec<f64>, WeightFileError> {
        let n_wgts = self.dim("num_wgts")?;
        if n_wgts != 1 {
            return Err(self.var_err(
                "remap_matrix",
                format!(
                    "num_wgts = {n_wgts}: only first-order weights (num_wgts = 1) are supported; \
                     second-order conservative and bicubic weights need source gradients"
                ),
            ));
        }
        self.f64s("remap_matrix", n_links)
    }

    fn text_attr(&self, name: &str) -> String {
        match self.f.attribute(name).and_then(|a| a.value().ok()) {
            Some(AttributeValue::Str(s)) => s.trim().to_string(),
            Some(AttributeValue::Strs(s)) => s.join(" ").trim().to_string(),
            _ => String::new(),
        }
    }

    /// Centres in degrees: by the `units` attribute, else by the layout's convention (SCRIP
    /// radians, ESMF degrees).
    fn centres(
        &self,
        layout: WeightLayout,
        name: &str,
        len: usize,
    ) -> Result<Vec<f64>, WeightFileError> {
        let x = self.f64s(name, len)?;
        let units = self
            .variable(name)?
            .attribute_value("units")
            .and_then(|a| a.ok())
            .and_then(|a| match a {
                AttributeValue::Str(s) => Some(s.to_ascii_lowercase()),
                _ => None,
            });
        let radians = match units.as_deref() {
            Some(u) if u.starts_with("rad") => true,
            Some(u) if u.starts_with("deg") => false,
            Some(u) => {
                return Err(self.var_err(
                    name,
                    format!("units \"{u}\" are neither radians nor degrees"),
                ))
            }
            None => layout == WeightLayout::Scrip,
        };
        Ok(if radians {
            x.into_iter().map(f64::to_degrees).collect()
        } else {
            x
        })
    }

    fn grid(
        &self,
        layout: WeightLayout,
        v: &[&'static str; 5],
        dims_name: &str,
        len: usize,
    ) -> Result<GridCells, WeightFileError> {
        let dims = match self.f.variable(dims_name) {
            Some(_) => self
                .ints(dims_name, self.variable(dims_name)?.len())?
                .into_iter()
                .map(|d| d.max(0) as usize)
                .collect(),
            None => vec![len],
        };
        let mask = match self.f.variable(v[2]) {
            Some(_) => Some(self.ints(v[2], len)?.into_iter().map(|m| m != 0).collect()),
            None => None,
        };
        Ok(GridCells {
            dims,
            lat: self.centres(layout, v[0], len)?,
            lon: self.centres(layout, v[1], len)?,
            mask,
            area: self.optional_f64s(v[3], len)?,
            frac: self.optional_f64s(v[4], len)?,
        })
    }
}

/// Write `w` in `layout` (atomically): SCRIP with centres in radians as CDO writes them,
/// ESMF with centres in degrees. Addresses and weights are written unchanged, so a file
/// converted from one layout to the other gives bit-identical remapped fields. Cell
/// corners are not carried (landcycle does not read them).
pub fn write_weights(
    path: &Path,
    w: &WeightFile,
    layout: WeightLayout,
) -> Result<(), WeightFileError> {
    crate::io::atomic_write(path, |tmp| {
        write_inner(tmp, w, layout).map_err(|e| match e {
            // Name the final file, not the temporary one.
            WeightFileError::Variable {
                variable, message, ..
            } => WeightFileError::Variable {
                path: path.to_path_buf(),
                variable,
                message,
            },
            other => other,
        })
    })
}

fn write_inner(path: &Path, w: &WeightFile, layout: WeightLayout) -> Result<(), WeightFileError> {
    let n = names(layout);
    let mut f = netcdf::create(path).map_err(e(path, "(create)"))?;
    for (d, len) in [
        (n.src_size, w.src.len()),
        (n.dst_size, w.dst.len()),
        (n.links, w.weight.len()),
        ("src_grid_rank", w.src.dims.len()),
        ("dst_grid_rank", w.dst.dims.len()),
    ] {
        f.add_dimension(d, len).map_err(e(path, d))?;
    }
    let (conventions, units) = match layout {
        WeightLayout::Scrip => {
            f.add_dimension("num_wgts", 1)
                .map_err(e(path, "num_wgts"))?;
            ("SCRIP", "radians")
        }
        WeightLayout::Esmf => ("NCAR-CSM", "degrees"),
    };
    for (k, v) in [
        ("title", "landcycle remapping weights"),
        ("normalization", w.normalization.as_str()),
        ("map_method", w.map_method.as_str()),
        ("conventions", conventions),
    ] {
        f.add_attribute(k, v).map_err(e(path, k))?;
    }
    put_grid(
        &mut f,
        path,
        &w.src,
        ("src_grid_dims", "src_grid_rank", n.src_size),
        &n.src,
        units,
    )?;
    put_grid(
        &mut f,
        path,
        &w.dst,
        ("dst_grid_dims", "dst_grid_rank", n.dst_size),
        &n.dst,
        units,
    )?;
    put_ints(&mut f, path, n.src_address, n.links, &w.src_address)?;
    put_ints(&mut f, path, n.dst_address, n.links, &w.dst_address)?;
    let wdims: &[&str] = match layout {
        WeightLayout::Scrip => &[n.links, "num_wgts"],
        WeightLayout::Esmf => &[n.links],
    };
    let mut v = f
        .add_variable::<f64>(n.weight, wdims)
        .map_err(e(path, n.weight))?;
    v.put_values(&w.weight, ..).map_err(e(path, n.weight))?;
    f.close().map_err(e(path, "(close)"))
}

fn e<'a>(path: &'a Path, v: &'a str) -> impl Fn(netcdf::Error) -> WeightFileError + 'a {
    move |err| WeightFileError::Variable {
        path: path.to_path_buf(),
        variable: v.to_string(),
        message: err.to_string(),
    }
}

fn put_ints(
    f: &mut netcdf::FileMut,
    path: &Path,
    name: &str,
    dim: &str,
    values: &[i64],
) -> Result<(), WeightFileError> {
    let narrow: Vec<i32> = values.iter().map(|&a| a as i32).collect();
    let mut v = f.add_variable::<i32>(name, &[dim]).map_err(e(path, name))?;
    v.put_values(&narrow, ..).map_err(e(path, name))
}

/// One grid's variables: `(dims variable, rank dimension, size dimension)` and the
/// (lat, lon, mask, area, frac) names of the layout.
fn put_grid(
    f: &mut netcdf::FileMut,
    path: &Path,
    g: &GridCells,
    (dims_var, rank_dim, size_dim): (&str, &str, &str),
    v: &[&'static str; 5],
    units: &str,
) -> Result<(), WeightFileError> {
    let dims: Vec<i64> = g.dims.iter().map(|&d| d as i64).collect();
    put_ints(f, path, dims_var, rank_dim, &dims)?;
    let radians = units == "radians";
    for (name, deg) in [(v[0], &g.lat), (v[1], &g.lon)] {
        let x: Vec<f64> = if radians {
            deg.iter().map(|d| d.to_radians()).collect()
        } else {
            deg.clone()
        };
        let mut var = f
            .add_variable::<f64>(name, &[size_dim])
            .map_err(e(path, name))?;
        var.put_attribute("units", units).map_err(e(path, name))?;
        var.put_values(&x, ..).map_err(e(path, name))?;
    }
    if let Some(m) = &g.mask {
        let m: Vec<i64> = m.iter().map(|&b| b as i64).collect();
        put_ints(f, path, v[2], size_dim, &m)?;
    }
    for (name, values) in [(v[3], &g.area), (v[4], &g.frac)] {
        if let Some(x) = values {
            let mut var = f
                .add_variable::<f64>(name, &[size_dim])
                .map_err(e(path, name))?;
            var.put_values(x, ..).map_err(e(path, name))?;
        }
    }
    Ok(())
}
