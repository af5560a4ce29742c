//! `landcycle plot`: PNG quick-look maps of 2-D fields of history, diagnostics or gridded
//! CF NetCDF files, several panels side by side. Reading and selecting here (through
//! `io::gridded::read_field`); drawing in the `plot` room. The field selection helpers
//! ([`Selector`], [`read_selected`]) are shared with `landcycle image`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use chrono::NaiveDateTime;

use crate::io::atomic::atomic_write;
use crate::io::gridded::{read_field, GriddedField, Selection};
use crate::plot::{encode_png, render, ColorMap, Figure, Panel, ValueRange};

/// Colour map choice on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CmapArg {
    /// viridis-like (states).
    #[default]
    Sequential,
    /// brown–white–blue-green centred on 0 (increments, innovations).
    Diverging,
}

/// How to pick one 2-D slice of a variable with more dimensions.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Selector {
    /// Index along the time dimension (default 0).
    #[arg(long)]
    pub time_index: Option<usize>,
    /// Index along the vertical (soil layer) dimension, 0 = top.
    #[arg(long)]
    pub layer: Option<usize>,
    /// Index along any other dimension, e.g. `member=3` (repeatable).
    #[arg(long = "index", value_name = "DIM=K")]
    pub index: Vec<String>,
}

/// Arguments of `landcycle plot`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Panels as FILE.nc:VAR (or FILE.nc with --var), drawn left to right.
    #[arg(required = true, value_name = "FILE:VAR")]
    pub inputs: Vec<String>,
    /// Variable for inputs given without `:VAR`.
    #[arg(long)]
    pub var: Option<String>,
    #[command(flatten)]
    pub select: Selector,
    /// Value of the first colour (default: 2nd percentile; diverging: symmetric).
    #[arg(long, allow_negative_numbers = true)]
    pub vmin: Option<f64>,
    /// Value of the last colour (default: 98th percentile; diverging: symmetric).
    #[arg(long, allow_negative_numbers = true)]
    pub vmax: Option<f64>,
    /// Colour map.
    #[arg(long, value_enum, default_value_t = CmapArg::Sequential)]
    pub cmap: CmapArg,
    /// One colour range for all panels (from all their values).
    #[arg(long)]
    pub shared_range: bool,
    /// Width of each map in pixels.
    #[arg(long, default_value_t = 420)]
    pub panel_width: u32,
    /// Output PNG.
    #[arg(long)]
    pub out: PathBuf,
}

/// One field read with its labels.
#[derive(Clone, Debug)]
pub struct SelectedField {
    /// The 2-D field (NaN missing).
    pub field: GriddedField,
    /// Valid time of the slice, when the file has one.
    pub time: Option<NaiveDateTime>,
    /// The fixed indices other than time, e.g. `soil_layer=0 (0.05 m)`.
    pub fixed: Vec<String>,
}

/// `DIM=K` → (DIM, K).
pub fn parse_index(s: &str) -> anyhow::Result<(String, usize)> {
    let (d, k) = s
        .split_once('=')
        .with_context(|| format!("--index '{s}': expected DIM=K"))?;
    let k: usize = k
        .trim()
        .parse()
        .with_context(|| format!("--index '{s}': K must be a non-negative integer"))?;
    Ok((d.trim().to_string(), k))
}

fn str_attr(v: &netcdf::Variable<'_>, name: &str) -> Option<String> {
    match v.attribute_value(name)?.ok()? {
        netcdf::AttributeValue::Str(s) => Some(s),
        _ => None,
    }
}

/// True when dimension `dim` is a vertical (layer/depth/level) axis.
pub fn is_vertical(file: &netcdf::File, dim: &str) -> bool {
    let l = dim.to_ascii_lowercase();
    let named = ["layer", "depth", "lev", "soil"]
        .iter()
        .any(|k| l.contains(k));
    named
        || file.variable(dim).is_some_and(|c| {
            str_attr(&c, "axis").is_some_and(|a| a.eq_ignore_ascii_case("Z"))
                || str_attr(&c, "positive").is_some()
                || str_attr(&c, "standard_name").as_deref() == Some("depth")
        })
}

/// True when dimension `dim` is the time axis.
fn is_time(file: &netcdf::File, dim: &str) -> bool {
    let l = dim.to_ascii_lowercase();
    ["time", "valid_time", "t", "times"].contains(&l.as_str())
        || file
            .variable(dim)
            .and_then(|c| str_attr(&c, "units"))
            .is_some_and(|u| u.contains(" since "))
}

/// True when dimension `dim` is an ensemble-member axis.
pub fn is_member_dim(file: &netcdf::File, dim: &str) -> bool {
    let l = dim.to_ascii_lowercase();
    ["member", "ensemble", "realization", "number", "ens"].contains(&l.as_str())
        || file
            .variable(dim)
            .and_then(|c| str_attr(&c, "standard_name"))
            .as_deref()
            == Some("realization")
}

/// Dimension names and lengths of `var` in `path` (error naming file and variable).
pub fn var_dims(path: &Path, var: &str) -> anyhow::Result<(netcdf::File, Vec<(String, usize)>)> {
    let file = netcdf::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let dims = match file.variable(var) {
        Some(v) => v.dimensions().iter().map(|d| (d.name(), d.len())).collect(),
        None => bail!(
            "{}: no variable '{var}' (variables: {})",
            path.display(),
            file.variables()
                .map(|v| v.name())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    Ok((file, dims))
}

/// The reader's selection: time index, `--layer` resolved to the vertical dimension's name,
/// and `--index` pairs.
fn selection(path: &Path, var: &str, sel: &Selector) -> anyhow::Result<Selection> {
    let (file, dims) = var_dims(path, var)?;
    let mut indices = sel
        .index
        .iter()
        .map(|s| parse_index(s))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for (d, _) in &indices {
        if !dims.iter().any(|(n, _)| n == d) {
            bail!(
                "{}: variable '{var}' has no dimension '{d}' ({dims:?})",
                path.display()
            );
        }
    }
    if let Some(k) = sel.layer {
        let vertical: Vec<&String> = dims
            .iter()
            .map(|(n, _)| n)
            .filter(|n| !is_time(&file, n) && is_vertical(&file, n))
            .collect();
        match vertical.as_slice() {
            [d] => indices.push(((*d).clone(), k)),
            _ => bail!(
                "{}: variable '{var}': --layer needs exactly one vertical dimension, found {} ({dims:?}); use --index DIM=K",
                path.display(),
                vertical.len()
            ),
        }
    }
    Ok(Selection {
        time_index: sel.time_index,
        indices,
        ..Selection::default()
    })
}

/// Value `k` of the 1-D coordinate `name` as f64.
fn coord_value(file: &netcdf::File, name: &str, k: usize) -> Option<f64> {
    let v = file.variable(name)?;
    if v.dimensions().len() > 1 {
        return None;
    }
    let idx = if v.dimensions().is_empty() { 0 } else { k };
    let vals: Vec<f64> = v.get_values::<f64, _>(..).ok()?;
    vals.get(idx).copied()
}

/// Valid time of index `k` of the variable's time dimension (or of a scalar `time`).
fn slice_time(file: &netcdf::File, dims: &[(String, usize)], k: usize) -> Option<NaiveDateTime> {
    let name = dims
        .iter()
        .map(|(n, _)| n.clone())
        .find(|n| is_time(file, n))
        .unwrap_or_else(|| "time".to_string());
    let units = str_attr(&file.variable(&name)?, "units")?;
    let (scale, epoch) = crate::obs::parse_time_units(&units)?;
    crate::obs::time_from_seconds(epoch, coord_value(file, &name, k)? * scale)
}

/// Read one 2-D slice of `var` with labels for its time and fixed indices.
pub fn read_selected(path: &Path, var: &str, sel: &Selector) -> anyhow::Result<SelectedField> {
    let s = selection(path, var, sel)?;
    let field = read_field(path, var, &s)
        .with_context(|| format!("reading '{var}' from {}", path.display()))?;
    let (file, dims) = var_dims(path, var)?;
    let time = slice_time(&file, &dims, sel.time_index.unwrap_or(0));
    let fixed = s
        .indices
        .iter()
        .map(|(d, k)| {
            let units = file.variable(d).and_then(|c| str_attr(&c, "units"));
            match (coord_value(&file, d, *k), units) {
                (Some(v), Some(u)) => format!("{d}={k} ({v} {u})"),
                _ => format!("{d}={k}"),
            }
        })
        .collect();
    Ok(SelectedField { field, time, fixed })
}

/// FILE:VAR split at the last colon (a Windows drive letter or a path with colons keeps
/// working when `--var` is given and the input has no `:VAR`).
fn split_input(s: &str, var: Option<&str>) -> anyhow::Result<(PathBuf, String)> {
    if let Some((f, v)) = s.rsplit_once(':') {
        if !v.is_empty() && !v.contains('/') && Path::new(f).exists() {
            return Ok((PathBuf::from(f), v.to_string()));
        }
    }
    match var {
        Some(v) => Ok((PathBuf::from(s), v.to_string())),
        None => {
            bail!("'{s}': give the variable as FILE:VAR or with --var (or the file does not exist)")
        }
    }
}

fn panel_of(path: &Path, sf: SelectedField) -> anyhow::Result<Panel> {
    let f = sf.field;
    let title = match &f.units {
        Some(u) => format!("{} [{u}]", f.name),
        None => f.name.clone(),
    };
    let mut sub: Vec<String> = Vec::new();
    if let Some(t) = sf.time {
        sub.push(t.format("%Y-%m-%d %H:%M UTC").to_string());
    }
    sub.extend(sf.fixed);
    if let Some(n) = path.file_name() {
        sub.push(n.to_string_lossy().into_owned());
    }
    Ok(Panel::new(&title, &sub.join(", "), f.lat, f.lon, f.values)?)
}

/// `landcycle plot`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let mut panels = Vec::with_capacity(args.inputs.len());
    for input in &args.inputs {
        let (path, var) = split_input(input, args.var.as_deref())?;
        let sf = read_selected(&path, &var, &args.select)?;
        panels.push(panel_of(&path, sf)?);
    }
    let fig = Figure {
        panels,
        cmap: match args.cmap {
            CmapArg::Sequential => ColorMap::Sequential,
            CmapArg::Diverging => ColorMap::Diverging,
        },
        range: ValueRange {
            vmin: args.vmin,
            vmax: args.vmax,
        },
        shared_range: args.shared_range,
        panel_width: args.panel_width,
    };
    let png = encode_png(&render(&fig)?)?;
    atomic_write(&args.out, |tmp| -> anyhow::Result<()> {
        std::fs::write(tmp, &png).with_context(|| format!("writing {}", tmp.display()))
    })?;
    for (p, (lo, hi)) in fig.panels.iter().zip(fig.ranges()) {
        tracing::info!(panel = %p.title, vmin = lo, vmax = hi, "plotted");
    }
    println!("{}", args.out.display());
    Ok(())
}
