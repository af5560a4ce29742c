//! CF-1.8 / ALMA history files (NetCDF-4), one file per output time.
//!
//! A file holds one time step: the `time` coordinate is the valid (end) time of the output
//! interval and `time_bnds` spans the interval, so states carry `cell_methods = "time: point"`
//! and interval-averaged fluxes `"time: mean"`. Fields are full-grid arrays; non-land cells are
//! written as `_FillValue`. Ensemble statistics are separate variables (`X` = ensemble mean,
//! `X_spread` = ensemble standard deviation, `X_member` = every member along a `member`
//! dimension whose coordinate has `standard_name = "realization"`), with the statistic stated
//! in `cell_methods` (`realization: mean` / `realization: standard_deviation`), which CF,
//! xarray, CDO and ncview all handle. Layouts are documented in docs/io.md.

use super::atomic::{atomic_write_deferred, PendingFile};
use super::history_part::Wctx;
pub use super::history_part::{
    balanced_history_rows, chunk_rows, history_rows, HISTORY_CHUNK_BLOCKS,
};
use super::IoError;
use chrono::NaiveDateTime;
use std::borrow::Cow;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Fill value of every data variable (ALMA/CMIP convention).
pub const FILL_VALUE: f32 = 1.0e20;

/// Horizontal layout of the history grid.
#[derive(Debug, Clone, PartialEq)]
pub enum GridKind {
    /// Regular latitude-longitude grid: 1-D `lat` (length ny) and `lon` (length nx) cell
    /// centres in degrees. Cell bounds are placed halfway between neighbouring centres.
    Regular { lat: Vec<f64>, lon: Vec<f64> },
    /// Curvilinear grid (WPS Lambert, Mercator, polar): 2-D `lat`/`lon` cell centres, row-major
    /// `[y][x]`. Optional cell corners, `[y][x][4]` counter-clockwise, become `lat_bnds`/`lon_bnds`.
    Curvilinear {
        lat: Vec<f64>,
        lon: Vec<f64>,
        corners: Option<(Vec<f64>, Vec<f64>)>,
    },
}

/// A CF grid mapping (map projection) written as the scalar variable `crs` and referenced by
/// every data variable's `grid_mapping` attribute. Parameters use the CF attribute names.
#[derive(Debug, Clone, PartialEq)]
pub struct GridMapping {
    pub grid_mapping_name: String,
    pub parameters: Vec<(String, Vec<f64>)>,
}

impl GridMapping {
    /// Lambert conformal conic (WPS `MAP_PROJ = 1`): true latitudes, standard longitude,
    /// latitude of the projection origin, sphere radius (WRF: 6 370 000 m).
    pub fn lambert_conformal_conic(
        standard_parallels: &[f64],
        longitude_of_central_meridian: f64,
        latitude_of_projection_origin: f64,
        earth_radius: f64,
    ) -> Self {
        GridMapping {
            grid_mapping_name: "lambert_conformal_conic".into(),
            parameters: vec![
                ("standard_parallel".into(), standard_parallels.to_vec()),
                (
                    "longitude_of_central_meridian".into(),
                    vec![longitude_of_central_meridian],
                ),
                (
                    "latitude_of_projection_origin".into(),
                    vec![latitude_of_projection_origin],
                ),
                ("earth_radius".into(), vec![earth_radius]),
            ],
        }
    }

    /// Polar stereographic (WPS `MAP_PROJ = 2`): pole (±90), standard longitude, true latitude.
    pub fn polar_stereographic(
        latitude_of_projection_origin: f64,
        straight_vertical_longitude_from_pole: f64,
        standard_parallel: f64,
        earth_radius: f64,
    ) -> Self {
        GridMapping {
            grid_mapping_name: "polar_stereographic".into(),
            parameters: vec![
                (
                    "latitude_of_projection_origin".into(),
                    vec![latitude_of_projection_origin],
                ),
                (
                    "straight_vertical_longitude_from_pole".into(),
                    vec![straight_vertical_longitude_from_pole],
                ),
                ("standard_parallel".into(), vec![standard_parallel]),
                ("earth_radius".into(), vec![earth_radius]),
            ],
        }
    }

    /// Mercator (WPS `MAP_PROJ = 3`): central longitude and true latitude.
    pub fn mercator(
        longitude_of_projection_origin: f64,
        standard_parallel: f64,
        earth_radius: f64,
    ) -> Self {
        GridMapping {
            grid_mapping_name: "mercator".into(),
            parameters: vec![
                (
                    "longitude_of_projection_origin".into(),
                    vec![longitude_of_projection_origin],
                ),
                ("standard_parallel".into(), vec![standard_parallel]),
                ("earth_radius".into(), vec![earth_radius]),
            ],
        }
    }
}

/// Dimension and coordinate naming of a history file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// CF/ALMA: dimensions `lat`/`lon` (regular) or `y`/`x` (curvilinear) and `soil_layer`;
    /// every data variable has the `time` dimension.
    #[default]
    Cf,
    /// As NASA LIS writes: dimensions `north_south`/`east_west`, 2-D `lat`/`lon` with cell
    /// corners, one soil dimension `<Base>_profiles` per layered variable (`SoilMoist_inst`
    /// → `SoilMoist_profiles`), and data variables without the length-1 `time` dimension
    /// (the file still holds `time`, `time_bnds`, and the `cell_methods`).
    Lis,
}

/// The horizontal grid of a history file with its land mask (row-major `[y][x]`, `true` = land).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryGrid {
    pub ny: usize,
    pub nx: usize,
    pub kind: GridKind,
    pub land_mask: Vec<bool>,
    /// Map projection of a curvilinear grid, when known (written as `crs`).
    pub grid_mapping: Option<GridMapping>,
    /// Projection coordinates (m) of a curvilinear grid with a grid mapping: x (length nx)
    /// and y (length ny), written as the `x`/`y` coordinate variables instead of indices.
    pub projection_xy: Option<(Vec<f64>, Vec<f64>)>,
    /// Dimension naming of the file.
    pub layout: Layout,
}

impl HistoryGrid {
    /// A regular grid from 1-D centre coordinates.
    pub fn regular(lat: Vec<f64>, lon: Vec<f64>, land_mask: Vec<bool>) -> Self {
        HistoryGrid {
            ny: lat.len(),
            nx: lon.len(),
            kind: GridKind::Regular { lat, lon },
            land_mask,
            grid_mapping: None,
            projection_xy: None,
            layout: Layout::Cf,
        }
    }

    /// A curvilinear grid from 2-D centre coordinates (row-major `[y][x]`).
    pub fn curvilinear(
        ny: usize,
        nx: usize,
        lat: Vec<f64>,
        lon: Vec<f64>,
        land_mask: Vec<bool>,
    ) -> Self {
        HistoryGrid {
            ny,
            nx,
            kind: GridKind::Curvilinear {
                lat,
                lon,
                corners: None,
            },
            land_mask,
            grid_mapping: None,
            projection_xy: None,
            layout: Layout::Cf,
        }
    }

    /// The same curvilinear grid on a map projection: the CF grid mapping, the projection
    /// x/y coordinates (m) and the cell corners `[y][x][4]` (latitudes, longitudes).
    pub fn with_projection(
        mut self,
        mapping: GridMapping,
        xy: (Vec<f64>, Vec<f64>),
        cell_corners: (Vec<f64>, Vec<f64>),
    ) -> Self {
        if let GridKind::Curvilinear { corners, .. } = &mut self.kind {
            *corners = Some(cell_corners);
        }
        self.grid_mapping = Some(mapping);
        self.projection_xy = Some(xy);
        self
    }

    /// The same grid written with another dimension naming.
    pub fn with_layout(mut self, layout: Layout) -> Self {
        self.layout = layout;
        self
    }

    /// Names of the (y, x) dimensions.
    pub fn dim_names(&self) -> (&'static str, &'static str) {
        match (self.layout, &self.kind) {
            (Layout::Lis, _) => ("north_south", "east_west"),
            (Layout::Cf, GridKind::Regular { .. }) => ("lat", "lon"),
            (Layout::Cf, GridKind::Curvilinear { .. }) => ("y", "x"),
        }
    }

    /// Number of grid cells (ny·nx).
    pub fn n_cells(&self) -> usize {
        self.ny * self.nx
    }

    /// Spread land-only values (land cells in row-major order, `n_layers` blocks of
    /// `n_land` values each, layer-major) onto full-grid `[layer][y][x]` arrays; non-land
    /// cells get NaN (written as `_FillValue`).
    pub fn expand_land(&self, land_values: &[f64], n_layers: usize) -> Option<Vec<f64>> {
        let n_land = self.land_mask.iter().filter(|&&m| m).count();
        if land_values.len() != n_land * n_layers {
            return None;
        }
        let mut out = vec![f64::NAN; self.n_cells() * n_layers];
        for k in 0..n_layers {
            let mut src = land_values[k * n_land..(k + 1) * n_land].iter();
            let dst = &mut out[k * self.n_cells()..(k + 1) * self.n_cells()];
            for (d, &m) in dst.iter_mut().zip(&self.land_mask) {
                if m {
                    *d = *src.next()?;
                }
            }
        }
        Some(out)
    }
}

/// Unit of the `time` coordinate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnits {
    Seconds,
    Hours,
}

/// Time of one history file: the output interval `[start, end]`, with `end` the valid time;
/// `reference` is the epoch of the time units (use the run start so files concatenate).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistoryTime {
    pub reference: NaiveDateTime,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub units: TimeUnits,
}

/// How a field relates to the output interval (becomes the `time:` part of `cell_methods`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeMethod {
    /// Instantaneous state at the valid time (`time: point`).
    Point,
    /// Average over the output interval (`time: mean`), e.g. fluxes.
    Mean,
    /// Accumulation over the output interval (`time: sum`).
    Sum,
}

impl TimeMethod {
    fn cf(self) -> &'static str {
        match self {
            TimeMethod::Point => "point",
            TimeMethod::Mean => "mean",
            TimeMethod::Sum => "sum",
        }
    }
}

/// Which ensemble statistic a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnsembleStat {
    /// Ensemble mean, written as variable `<name>`; data `[layer][y][x]`.
    Mean,
    /// Ensemble standard deviation, written as `<name>_spread`; data `[layer][y][x]`.
    Spread,
    /// Every member, written as `<name>_member` along dimension `member`;
    /// data `[member][layer][y][x]`.
    Members,
}

/// One field to write. `data` is a full-grid array in `[layer][y][x]` order (prefixed by
/// `[member]` for [`EnsembleStat::Members`]); a non-layered field has one layer. Values on
/// non-land cells are ignored (written as `_FillValue`); values on land cells must be finite.
#[derive(Debug, Clone)]
pub struct HistoryField<'a> {
    /// ALMA short name, e.g. `SoilMoist`.
    pub name: String,
    pub long_name: String,
    /// UDUNITS-valid units, e.g. `kg m-2`.
    pub units: String,
    /// CF standard name where the table has one.
    pub standard_name: Option<String>,
    pub time_method: TimeMethod,
    /// Has a `soil_layer` dimension.
    pub layered: bool,
    pub stat: EnsembleStat,
    pub data: &'a [f64],
}

/// NetCDF-4 compression of the data variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compression {
    /// zlib level 0 (off) to 9.
    pub deflate_level: u8,
    pub shuffle: bool,
}

/// The namelist's default (`run:history_compression = 1`, with shuffle).
impl Default for Compression {
    fn default() -> Self {
        Compression {
            deflate_level: 1,
            shuffle: true,
        }
    }
}

/// Global attributes of a history file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryMetadata {
    pub title: String,
    pub institution: String,
    pub source: String,
    /// CF `history`: what produced the file (e.g. the command line and date).
    pub history: String,
    /// The complete namelist text of the run, recorded verbatim in attribute `namelist`.
    pub namelist: String,
    /// Number of ensemble members behind the statistics (attribute `ensemble_size`).
    pub ensemble_size: usize,
    /// Further global attributes (name, text).
    pub extra: Vec<(String, String)>,
}

/// Everything one history file holds.
#[derive(Debug, Clone)]
pub struct HistoryWrite<'a> {
    pub grid: &'a HistoryGrid,
    pub time: HistoryTime,
    /// Soil layer thicknesses (m), top first; empty when no field is layered.
    pub soil_layer_thickness: &'a [f64],
    pub fields: &'a [HistoryField<'a>],
    pub metadata: &'a HistoryMetadata,
    pub compression: Compression,
}

/// File name of the history file valid at `valid_time`: `LC_HIST_YYYYMMDDHHMM.nc`.
pub fn history_file_name(valid_time: NaiveDateTime) -> String {
    format!("LC_HIST_{}.nc", valid_time.format("%Y%m%d%H%M"))
}

/// Soil dimension of a layered field: `soil_layer`, or under [`Layout::Lis`] the field
/// name without its `_inst`/`_tavg` suffix followed by `_profiles`.
pub fn soil_dim_name(layout: Layout, field_name: &str) -> String {
    match layout {
        Layout::Cf => "soil_layer".to_string(),
        Layout::Lis => {
            let base = field_name
                .strip_suffix("_inst")
                .or_else(|| field_name.strip_suffix("_tavg"))
                .unwrap_or(field_name);
            format!("{base}_profiles")
        }
    }
}

/// Variable name of a field in the file, from its statistic.
pub fn variable_name(field: &HistoryField) -> String {
    match field.stat {
        EnsembleStat::Mean => field.name.clone(),
        EnsembleStat::Spread => format!("{}_spread", field.name),
        EnsembleStat::Members => format!("{}_member", field.name),
    }
}

fn invalid(path: &Path, msg: impl Into<String>) -> IoError {
    IoError::Invalid {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

/// A field checked against the grid, ready to write.
pub(super) struct Prepared {
    pub(super) var: String,
    pub(super) n_members: usize,
    pub(super) n_layers: usize,
}

/// Check grid, time and fields before touching the disk.
/// `members`: the member count of `Members` fields when their data come later, row by row
/// (every rank writing its part); `None` takes it from the data, which are then checked here.
pub(super) fn validate(
    path: &Path,
    h: &HistoryWrite,
    members: Option<usize>,
) -> Result<(Vec<Prepared>, usize), IoError> {
    let g = h.grid;
    validate_grid(path, g)?;
    validate_header(path, h)?;
    let mut prepared: Vec<Prepared> = Vec::with_capacity(h.fields.len());
    let mut n_members_seen: Option<usize> = None;
    for f in h.fields {
        let p = validate_field(path, h, f, members, &prepared, &mut n_members_seen)?;
        prepared.push(p);
    }
    let n_members = n_members_seen.unwrap_or(0);
    let declared = h.metadata.ensemble_size;
    if n_members > 0 && declared > 0 && n_members != declared {
        return Err(invalid(
            path,
            format!("member fields hold {n_members} members but ensemble_size is {declared}"),
        ));
    }
    validate_projection(path, g)?;
    Ok((prepared, n_members))
}

/// Land mask and coordinates (and cell corners) of the grid.
fn validate_grid(path: &Path, g: &HistoryGrid) -> Result<(), IoError> {
    let n = g.n_cells();
    if n == 0 {
        return Err(invalid(path, "history grid has no cells"));
    }
    if g.land_mask.len() != n {
        return Err(invalid(
            path,
            format!(
                "land mask has {} values, grid has {}x{}",
                g.land_mask.len(),
                g.ny,
                g.nx
            ),
        ));
    }
    let check_coord = |name: &str, v: &[f64], len: usize, limit: f64| -> Result<(), IoError> {
        if v.len() != len {
            return Err(invalid(
                path,
                format!("coordinate {name} has {} values, expected {len}", v.len()),
            ));
        }
        if let Some(bad) = v.iter().find(|x| !x.is_finite() || x.abs() > limit) {
            return Err(invalid(path, format!("coordinate {name} has value {bad}")));
        }
        Ok(())
    };
    match &g.kind {
        GridKind::Regular { lat, lon } => {
            check_coord("lat", lat, g.ny, 90.0)?;
            check_coord("lon", lon, g.nx, 720.0)?;
        }
        GridKind::Curvilinear { lat, lon, corners } => {
            check_coord("lat", lat, n, 90.0)?;
            check_coord("lon", lon, n, 720.0)?;
            if let Some((clat, clon)) = corners {
                check_coord("lat_bnds", clat, 4 * n, 90.0)?;
                check_coord("lon_bnds", clon, 4 * n, 720.0)?;
            }
        }
    }
    Ok(())
}

/// Time interval, soil layers and compression level.
fn validate_header(path: &Path, h: &HistoryWrite) -> Result<(), IoError> {
    if h.time.end < h.time.start {
        return Err(invalid(
            path,
            format!(
                "time interval ends ({}) before it starts ({})",
                h.time.end, h.time.start
            ),
        ));
    }
    if let Some(bad) = h
        .soil_layer_thickness
        .iter()
        .find(|d| !(d.is_finite() && **d > 0.0))
    {
        return Err(invalid(
            path,
            format!("soil layer thickness {bad} m is not positive"),
        ));
    }
    if h.compression.deflate_level > 9 {
        return Err(invalid(
            path,
            format!(
                "deflate level {} is outside 0..9",
                h.compression.deflate_level
            ),
        ));
    }
    Ok(())
}

/// One field: its name, units, layers and value count (member count checked against the
/// fields before it, `earlier`), and its values when they are given now.
fn validate_field(
    path: &Path,
    h: &HistoryWrite,
    f: &HistoryField,
    members: Option<usize>,
    earlier: &[Prepared],
    n_members_seen: &mut Option<usize>,
) -> Result<Prepared, IoError> {
    let g = h.grid;
    let n = g.n_cells();
    let nl_soil = h.soil_layer_thickness.len();
    let var = variable_name(f);
    let ok_name = !f.name.is_empty()
        && f.name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
        && f.name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok_name {
        return Err(invalid(path, format!("invalid variable name {:?}", f.name)));
    }
    if RESERVED.contains(&var.as_str()) || earlier.iter().any(|p| p.var == var) {
        return Err(invalid(
            path,
            format!("variable {var} is given twice or clashes with a coordinate"),
        ));
    }
    if f.units.trim().is_empty() {
        return Err(invalid(path, format!("variable {var} has no units")));
    }
    let n_layers = if f.layered { nl_soil } else { 1 };
    if f.layered && nl_soil == 0 {
        return Err(invalid(
            path,
            format!("variable {var} is layered but no soil layers are given"),
        ));
    }
    let slab = n_layers * n;
    let n_members = match (f.stat, members) {
        (EnsembleStat::Members, Some(m)) => {
            *n_members_seen = Some(m);
            m
        }
        (_, Some(_)) => 1,
        (EnsembleStat::Members, None) => {
            if f.data.is_empty() || !f.data.len().is_multiple_of(slab) {
                return Err(invalid(
                    path,
                    format!(
                        "variable {var} has {} values, expected a multiple of {slab} (members x {n_layers} layers x {} x {})",
                        f.data.len(),
                        g.ny,
                        g.nx
                    ),
                ));
            }
            let m = f.data.len() / slab;
            if let Some(prev) = *n_members_seen {
                if prev != m {
                    return Err(invalid(
                        path,
                        format!("variable {var} has {m} members, another field has {prev}"),
                    ));
                }
            }
            *n_members_seen = Some(m);
            m
        }
        (_, None) => {
            if f.data.len() != slab {
                return Err(invalid(
                    path,
                    format!(
                        "variable {var} has {} values, expected {slab} ({n_layers} layers x {} x {})",
                        f.data.len(),
                        g.ny,
                        g.nx
                    ),
                ));
            }
            1
        }
    };
    if members.is_none() {
        check_values(path, g, &var, (f.data, 0..g.ny), n_layers)?;
    }
    Ok(Prepared {
        var,
        n_members,
        n_layers,
    })
}

/// Projection coordinates and grid mapping, when the grid has them.
fn validate_projection(path: &Path, g: &HistoryGrid) -> Result<(), IoError> {
    if let Some((x, y)) = &g.projection_xy {
        let regular = matches!(g.kind, GridKind::Regular { .. });
        if regular || g.grid_mapping.is_none() || x.len() != g.nx || y.len() != g.ny {
            return Err(invalid(
                path,
                format!(
                    "projection coordinates ({} x, {} y) need a curvilinear {}x{} grid with a grid mapping",
                    x.len(),
                    y.len(),
                    g.ny,
                    g.nx
                ),
            ));
        }
        if let Some(bad) = x.iter().chain(y).find(|v| !v.is_finite()) {
            return Err(invalid(path, format!("projection coordinate {bad}")));
        }
    }
    if let Some(gm) = &g.grid_mapping {
        let bad = gm.grid_mapping_name.is_empty()
            || gm
                .parameters
                .iter()
                .any(|(k, v)| k.is_empty() || v.is_empty() || v.iter().any(|x| !x.is_finite()));
        if bad {
            return Err(invalid(
                path,
                format!("grid mapping {:?} is incomplete", gm.grid_mapping_name),
            ));
        }
    }
    Ok(())
}

/// Refuse a non-finite value on a land cell of `rows` (data `[member][layer][row][x]`): it
/// means a bug upstream, which `_FillValue` would hide.
pub(super) fn check_values<V: Copy + Into<f64>>(
    path: &Path,
    g: &HistoryGrid,
    var: &str,
    (data, rows): (&[V], Range<usize>),
    n_layers: usize,
) -> Result<(), IoError> {
    let n = rows.len() * g.nx;
    if n == 0 {
        return Ok(());
    }
    let mask = &g.land_mask[rows.start * g.nx..rows.end * g.nx];
    for (rest, slab) in data.chunks_exact(n).enumerate() {
        let bad = slab
            .iter()
            .zip(mask)
            .position(|(&v, &land)| land && !v.into().is_finite());
        if let Some(cell) = bad {
            let v: f64 = slab[cell].into();
            let (member, layer) = (rest / n_layers, rest % n_layers);
            return Err(invalid(
                path,
                format!(
                    "variable {var} has non-finite value {v} on land at member {member}, layer {layer}, y {}, x {}",
                    rows.start + cell / g.nx,
                    cell % g.nx
                ),
            ));
        }
    }
    Ok(())
}

/// Names used by coordinates and auxiliary variables.
const RESERVED: &[&str] = &[
    "time",
    "time_bnds",
    "lat",
    "lon",
    "lat_bnds",
    "lon_bnds",
    "soil_layer",
    "soil_layer_bnds",
    "member",
    "land_mask",
    "crs",
    "x",
    "y",
    "north_south",
    "east_west",
];

/// Bounds of 1-D cell centres: halfway between neighbours, the ends extrapolated by half a
/// spacing (a single centre gets ±0.5 of `fallback_width`).
fn centre_bounds(c: &[f64], clamp: Option<f64>, fallback_width: f64) -> Vec<f64> {
    let n = c.len();
    let mut edges = Vec::with_capacity(n + 1);
    if n == 1 {
        edges.push(c[0] - 0.5 * fallback_width);
        edges.push(c[0] + 0.5 * fallback_width);
    } else {
        edges.push(c[0] - 0.5 * (c[1] - c[0]));
        for i in 0..n - 1 {
            edges.push(0.5 * (c[i] + c[i + 1]));
        }
        edges.push(c[n - 1] + 0.5 * (c[n - 1] - c[n - 2]));
    }
    if let Some(lim) = clamp {
        for e in &mut edges {
            *e = e.clamp(-lim, lim);
        }
    }
    let mut b = Vec::with_capacity(2 * n);
    for i in 0..n {
        b.push(edges[i]);
        b.push(edges[i + 1]);
    }
    b
}

/// Offset of `t` from `reference` in the chosen units.
fn time_value(reference: NaiveDateTime, t: NaiveDateTime, units: TimeUnits) -> f64 {
    let secs = (t - reference).num_milliseconds() as f64 / 1000.0;
    match units {
        TimeUnits::Seconds => secs,
        TimeUnits::Hours => secs / 3600.0,
    }
}

/// Write one history file atomically (temporary name, fsync, rename).
pub fn write_history(path: &Path, h: &HistoryWrite) -> Result<(), IoError> {
    write_history_deferred(path, h)?.commit()
}

/// As [`write_history`], but the file stays under its temporary name until
/// [`PendingFile::commit`] (fsync and rename), which the caller may do later or on another
/// thread.
pub fn write_history_deferred(path: &Path, h: &HistoryWrite) -> Result<PendingFile, IoError> {
    let (prepared, n_members) = validate(path, h, None)?;
    // netCDF-C silences HDF5's error printing only on the thread that initialised it; probing
    // for absent attributes would otherwise print HDF5-DIAG noise from other threads.
    hdf5::silence_errors(true);
    let final_path = path.to_path_buf();
    let c = Wctx::serial(&final_path, h.grid.ny);
    let mut whole =
        |k: usize| -> Result<Cow<'_, [f64]>, IoError> { Ok(Cow::Borrowed(h.fields[k].data)) };
    let ((), pending) = atomic_write_deferred(path, |tmp| {
        write_netcdf(tmp, &c, h, (&prepared, n_members), Some(&mut whole))
    })?;
    Ok(pending)
}

/// Adapter from netcdf errors to [`IoError`] naming the final file and what was being done
/// (shared by the CF writers of the io room).
pub(crate) struct Ctx<'p> {
    pub(crate) path: &'p PathBuf,
}

impl Ctx<'_> {
    pub(crate) fn err(
        &self,
        context: impl Into<String>,
    ) -> impl FnOnce(netcdf::Error) -> IoError + '_ {
        let context = context.into();
        move |e| IoError::NetCdf {
            path: self.path.clone(),
            context,
            msg: e.to_string(),
        }
    }
}

/// The values of field `k` on the writer's rows, `[member][layer][row][x]`.
pub(super) type FieldRows<'d, 'a> = dyn FnMut(usize) -> Result<Cow<'a, [f64]>, IoError> + 'd;

/// Create the file at `tmp` and write it: the whole of it, or without `field_rows` everything
/// but the data variables' values (the header of the chunked writer, `history_chunks`).
pub(super) fn write_netcdf(
    tmp: &Path,
    c: &Wctx,
    h: &HistoryWrite,
    (prepared, n_members): (&[Prepared], usize),
    mut field_rows: Option<&mut FieldRows<'_, '_>>,
) -> Result<(), IoError> {
    let g = h.grid;
    // The chunked writer's header is small and goes straight to disk (HDF5 reopens the file
    // for the chunks at once).
    let options = match field_rows {
        Some(_) => file_options(h),
        None => netcdf::Options::NETCDF4,
    };
    let mut file = c.create(tmp, options).map_err(c.err("create"))?;
    write_globals(&mut file, c, h)?;
    let soil_dims = define_dimensions(&mut file, c, h, n_members)?;
    write_time(&mut file, c, h)?;
    let coordinates = write_horizontal(&mut file, c, g)?;
    for d in &soil_dims {
        write_soil_axis(&mut file, c, d, h.soil_layer_thickness)?;
    }
    if n_members > 0 {
        write_member_axis(&mut file, c, n_members)?;
    }
    if let Some(gm) = &g.grid_mapping {
        write_crs(&mut file, c, gm)?;
    }
    let refs = FieldRefs {
        coordinates,
        grid_mapping: g.grid_mapping.as_ref().map(|_| "crs"),
        has_spread: h
            .fields
            .iter()
            .filter(|f| f.stat == EnsembleStat::Spread)
            .map(|f| f.name.clone())
            .collect(),
    };
    write_land_mask(&mut file, c, h, &refs)?;
    // Without rows (the chunked writer) every variable is defined and none written.
    for (k, (f, p)) in h.fields.iter().zip(prepared).enumerate() {
        let mut v = define_field(&mut file, c, h, (f, p), &refs)?;
        if let Some(rows) = field_rows.as_mut() {
            let data = rows(k)?;
            write_field(c, g, &mut v, (f, p), &data)?;
        }
    }
    file.close().map_err(c.err("close"))?;
    Ok(())
}

/// What every data variable refers to: its `coordinates` and `grid_mapping` attributes,
/// and the fields that have a `_spread` companion (`ancillary_variables`).
struct FieldRefs {
    coordinates: Option<&'static str>,
    grid_mapping: Option<&'static str>,
    has_spread: Vec<String>,
}

/// NetCDF-4, built in memory when small enough.
fn file_options(h: &HistoryWrite) -> netcdf::Options {
    // Build the file in memory (HDF5 core driver) and write it out once at close
    // (NC_DISKLESS | NC_PERSIST): a file on disk otherwise costs ~1000 small metadata writes.
    // The in-memory image grows in small steps, so very large files are written directly.
    const NC_PERSIST: i32 = 0x4000;
    const IN_MEMORY_MAX_BYTES: usize = 256 << 20;
    let payload: usize = h.fields.iter().map(|f| f.data.len() * 4).sum();
    if payload <= IN_MEMORY_MAX_BYTES {
        netcdf::Options::NETCDF4
            | netcdf::Options::DISKLESS
            | netcdf::Options::from_bits_retain(NC_PERSIST)
    } else {
        netcdf::Options::NETCDF4
    }
}

/// CF/ALMA global attributes, the run's own and `ensemble_size`.
fn write_globals(file: &mut netcdf::FileMut, c: &Wctx, h: &HistoryWrite) -> Result<(), IoError> {
    let md = h.metadata;
    let mut globals: Vec<(&str, String)> = vec![
        ("Conventions", "CF-1.8 ALMA".to_string()),
        ("title", md.title.clone()),
        ("institution", md.institution.clone()),
        ("source", md.source.clone()),
        ("history", md.history.clone()),
        (
            "references",
            "ALMA land-surface data exchange convention (Polcher et al.); CF-1.8 conventions"
                .to_string(),
        ),
        (
            "product_version",
            format!("landcycle {}", env!("CARGO_PKG_VERSION")),
        ),
        (
            "time_coverage_start",
            h.time.start.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ),
        (
            "time_coverage_end",
            h.time.end.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ),
        ("namelist", md.namelist.clone()),
    ];
    for (k, v) in &md.extra {
        globals.push((k.as_str(), v.clone()));
    }
    for (k, v) in globals {
        file.add_attribute(k, v.as_str())
            .map_err(c.err(format!("global attribute {k}")))?;
    }
    file.add_attribute("ensemble_size", md.ensemble_size as i32)
        .map_err(c.err("global attribute ensemble_size"))?;
    Ok(())
}

/// time, bnds, y/x (or lat/lon), the soil dimension(s) and member; returns the soil
/// dimensions' names.
fn define_dimensions(
    file: &mut netcdf::FileMut,
    c: &Wctx,
    h: &HistoryWrite,
    n_members: usize,
) -> Result<Vec<String>, IoError> {
    let g = h.grid;
    let (ny, nx) = (g.ny, g.nx);
    let nl = h.soil_layer_thickness.len();
    file.add_unlimited_dimension("time")
        .map_err(c.err("dimension time"))?;
    file.add_dimension("bnds", 2)
        .map_err(c.err("dimension bnds"))?;
    let (ydim, xdim) = g.dim_names();
    file.add_dimension(ydim, ny)
        .map_err(c.err(format!("dimension {ydim}")))?;
    file.add_dimension(xdim, nx)
        .map_err(c.err(format!("dimension {xdim}")))?;
    // One soil dimension (CF) or one per layered variable (LIS), in order of appearance.
    let mut soil_dims: Vec<String> = Vec::new();
    for f in h.fields.iter().filter(|f| f.layered) {
        let d = soil_dim_name(g.layout, &f.name);
        if !soil_dims.contains(&d) {
            soil_dims.push(d);
        }
    }
    if nl > 0 && soil_dims.is_empty() {
        soil_dims.push(soil_dim_name(Layout::Cf, ""));
    }
    for d in &soil_dims {
        file.add_dimension(d, nl)
            .map_err(c.err(format!("dimension {d}")))?;
    }
    if n_members > 0 {
        file.add_dimension("member", n_members)
            .map_err(c.err("dimension member"))?;
    }
    Ok(soil_dims)
}

/// The time coordinate (end of the output interval) and its bounds.
fn write_time(file: &mut netcdf::FileMut, c: &Wctx, h: &HistoryWrite) -> Result<(), IoError> {
    let t0 = time_value(h.time.reference, h.time.start, h.time.units);
    let t1 = time_value(h.time.reference, h.time.end, h.time.units);
    let unit_word = match h.time.units {
        TimeUnits::Seconds => "seconds",
        TimeUnits::Hours => "hours",
    };
    let time_units = format!(
        "{unit_word} since {}",
        h.time.reference.format("%Y-%m-%d %H:%M:%S")
    );
    {
        let mut v = file
            .add_variable::<f64>("time", &["time"])
            .map_err(c.err("variable time"))?;
        put_str_attrs(
            &mut v,
            &[
                ("standard_name", "time"),
                ("long_name", "time (end of output interval)"),
                ("units", &time_units),
                ("calendar", "standard"),
                ("axis", "T"),
                ("bounds", "time_bnds"),
            ],
        )
        .map_err(c.err("attributes of time"))?;
        let first_record: Vec<Range<usize>> = std::iter::once(0..1).collect();
        c.put(&mut v, &[t1], &first_record)
            .map_err(c.err("writing time"))?;
    }
    {
        let mut v = file
            .add_variable::<f64>("time_bnds", &["time", "bnds"])
            .map_err(c.err("variable time_bnds"))?;
        c.put(&mut v, &[t0, t1], &[0..1usize, 0..2])
            .map_err(c.err("writing time_bnds"))?;
    }
    Ok(())
}

/// The `member` coordinate (realization 0..n).
fn write_member_axis(
    file: &mut netcdf::FileMut,
    c: &Wctx,
    n_members: usize,
) -> Result<(), IoError> {
    let mut v = file
        .add_variable::<i32>("member", &["member"])
        .map_err(c.err("variable member"))?;
    put_str_attrs(
        &mut v,
        &[
            ("standard_name", "realization"),
            ("long_name", "ensemble member"),
            ("units", "1"),
        ],
    )
    .map_err(c.err("attributes of member"))?;
    let idx: Vec<i32> = (0..n_members as i32).collect();
    c.put_all(&mut v, &idx).map_err(c.err("writing member"))?;
    Ok(())
}

/// The grid-mapping variable `crs` with its projection parameters.
fn write_crs(file: &mut netcdf::FileMut, c: &Wctx, gm: &GridMapping) -> Result<(), IoError> {
    let mut v = file
        .add_variable::<i32>("crs", &[])
        .map_err(c.err("variable crs"))?;
    v.put_attribute("grid_mapping_name", gm.grid_mapping_name.as_str())
        .map_err(c.err("attributes of crs"))?;
    for (k, vals) in &gm.parameters {
        let r = if vals.len() == 1 {
            v.put_attribute(k, vals[0])
        } else {
            v.put_attribute(k, vals.clone())
        };
        r.map_err(c.err(format!("attribute {k} of crs")))?;
    }
    v.put_value(0i32, ..).map_err(c.err("writing crs"))?;
    Ok(())
}

/// The land mask variable.
fn write_land_mask(
    file: &mut netcdf::FileMut,
    c: &Wctx,
    h: &HistoryWrite,
    refs: &FieldRefs,
) -> Result<(), IoError> {
    let g = h.grid;
    let (ydim, xdim) = g.dim_names();

    let mut v = file
        .add_variable::<i8>("land_mask", &[ydim, xdim])
        .map_err(c.err("variable land_mask"))?;
    let mut attrs = vec![
        ("standard_name", "land_binary_mask"),
        ("long_name", "land mask (1 = land cell simulated)"),
        ("units", "1"),
    ];
    if let Some(ca) = refs.coordinates {
        attrs.push(("coordinates", ca));
    }
    if let Some(gm) = refs.grid_mapping {
        attrs.push(("grid_mapping", gm));
    }
    put_str_attrs(&mut v, &attrs).map_err(c.err("attributes of land_mask"))?;
    set_compression(&mut v, h.compression).map_err(c.err("compression of land_mask"))?;
    let m: Vec<i8> = g.land_mask.iter().map(|&b| i8::from(b)).collect();
    c.put_all(&mut v, &m).map_err(c.err("writing land_mask"))?;
    Ok(())
}

/// Defines one data variable: dimensions, chunks, compression, fill value and attributes.
fn define_field<'f>(
    file: &'f mut netcdf::FileMut,
    c: &Wctx,
    h: &HistoryWrite,
    (f, p): (&HistoryField, &Prepared),
    refs: &FieldRefs,
) -> Result<netcdf::VariableMut<'f>, IoError> {
    let g = h.grid;
    let (ny, nx) = (g.ny, g.nx);
    let (ydim, xdim) = g.dim_names();
    let soil_dim = soil_dim_name(g.layout, &f.name);
    let with_time = g.layout == Layout::Cf;
    let mut dims: Vec<&str> = Vec::with_capacity(5);
    if with_time {
        dims.push("time");
    }
    if f.stat == EnsembleStat::Members {
        dims.push("member");
    }
    if f.layered {
        dims.push(&soil_dim);
    }
    dims.push(ydim);
    dims.push(xdim);
    let var = &p.var;
    let mut v = file
        .add_variable::<f32>(var, &dims)
        .map_err(c.err(format!("variable {var}")))?;
    let mut chunk = vec![1usize; dims.len()];
    let nd = chunk.len();
    chunk[nd - 2] = chunk_rows(ny);
    chunk[nd - 1] = nx;
    v.set_chunking(&chunk)
        .map_err(c.err(format!("chunking of {var}")))?;
    set_compression(&mut v, h.compression).map_err(c.err(format!("compression of {var}")))?;
    v.set_fill_value(FILL_VALUE)
        .map_err(c.err(format!("_FillValue of {var}")))?;
    let (long_name, ens_method) = match f.stat {
        EnsembleStat::Mean => (format!("{} (ensemble mean)", f.long_name), "mean"),
        EnsembleStat::Spread => (
            format!("{} (ensemble standard deviation)", f.long_name),
            "standard_deviation",
        ),
        EnsembleStat::Members => (format!("{} (ensemble members)", f.long_name), ""),
    };
    let mut cell_methods = format!("time: {}", f.time_method.cf());
    if !ens_method.is_empty() {
        cell_methods.push_str(&format!(" realization: {ens_method}"));
    }
    let mut attrs: Vec<(&str, &str)> = vec![
        ("long_name", &long_name),
        ("units", &f.units),
        ("cell_methods", &cell_methods),
    ];
    if let Some(sn) = &f.standard_name {
        attrs.push(("standard_name", sn));
    }
    if let Some(ca) = refs.coordinates {
        attrs.push(("coordinates", ca));
    }
    if let Some(gm) = refs.grid_mapping {
        attrs.push(("grid_mapping", gm));
    }
    let spread_name = format!("{}_spread", f.name);
    if f.stat == EnsembleStat::Mean && refs.has_spread.contains(&f.name) {
        attrs.push(("ancillary_variables", &spread_name));
    }
    put_str_attrs(&mut v, &attrs).map_err(c.err(format!("attributes of {var}")))?;
    v.put_attribute("missing_value", FILL_VALUE)
        .map_err(c.err(format!("missing_value of {var}")))?;
    Ok(v)
}

/// Checks one field's rows and writes them.
fn write_field(
    c: &Wctx,
    g: &HistoryGrid,
    v: &mut netcdf::VariableMut,
    (f, p): (&HistoryField, &Prepared),
    data: &[f64],
) -> Result<(), IoError> {
    let var = &p.var;
    let with_time = g.layout == Layout::Cf;
    check_part(c, g, p, data)?;
    put_slabs((c, g), v, (f, p), with_time, data).map_err(c.err(format!("writing {var}")))?;
    Ok(())
}

/// A field's data on the writer's rows: the right length, finite on land.
fn check_part(c: &Wctx, g: &HistoryGrid, p: &Prepared, data: &[f64]) -> Result<(), IoError> {
    check_rows(c.path(), g, p, (data, c.rows.clone()))
}

/// A field's values on `rows` (`[member][layer][row][x]`): the right length, finite on land.
pub(super) fn check_rows<V: Copy + Into<f64>>(
    path: &Path,
    g: &HistoryGrid,
    p: &Prepared,
    (data, rows): (&[V], Range<usize>),
) -> Result<(), IoError> {
    let want = p.n_members * p.n_layers * rows.len() * g.nx;
    if data.len() != want {
        return Err(invalid(
            path,
            format!(
                "variable {} has {} values on rows {rows:?}, expected {want}",
                p.var,
                data.len(),
            ),
        ));
    }
    check_values(path, g, &p.var, (data, rows), p.n_layers)
}

/// One write per 2-D slab (member, layer).
fn put_slabs(
    (c, g): (&Wctx, &HistoryGrid),
    v: &mut netcdf::VariableMut,
    (f, p): (&HistoryField, &Prepared),
    with_time: bool,
    data: &[f64],
) -> netcdf::Result<()> {
    let nx = g.nx;
    let len = c.rows.len() * nx;
    let mask = &g.land_mask[c.rows.start * nx..c.rows.end * nx];
    let mut out: Vec<f32> = Vec::with_capacity(len);
    for s in 0..p.n_members * p.n_layers {
        let slab = &data[s * len..(s + 1) * len];
        out.clear();
        out.extend(slab.iter().zip(mask).map(
            |(&x, &land)| {
                if land {
                    x as f32
                } else {
                    FILL_VALUE
                }
            },
        ));
        let mut extents: Vec<Range<usize>> = Vec::with_capacity(5);
        if with_time {
            extents.push(0..1);
        }
        if f.stat == EnsembleStat::Members {
            let m = s / p.n_layers;
            extents.push(m..m + 1);
        }
        if f.layered {
            let l = s % p.n_layers;
            extents.push(l..l + 1);
        }
        extents.push(c.rows.clone());
        extents.push(0..nx);
        v.put_values(&out, extents.as_slice())?;
    }
    Ok(())
}

/// Text attributes of a variable, in order.
pub(crate) fn put_str_attrs(
    v: &mut netcdf::VariableMut,
    attrs: &[(&str, &str)],
) -> netcdf::Result<()> {
    for (k, val) in attrs {
        v.put_attribute(k, *val)?;
    }
    Ok(())
}

fn set_compression(v: &mut netcdf::VariableMut, comp: Compression) -> netcdf::Result<()> {
    if comp.deflate_level > 0 || comp.shuffle {
        v.set_compression(i32::from(comp.deflate_level), comp.shuffle)?;
    }
    Ok(())
}

fn write_coord_1d(
    file: &mut netcdf::FileMut,
    c: &Wctx,
    name: &str,
    standard_name: &str,
    units: &str,
    axis: &str,
    data: &[f64],
) -> Result<(), IoError> {
    let mut v = file
        .add_variable::<f64>(name, &[name])
        .map_err(c.err(format!("variable {name}")))?;
    let bounds = format!("{name}_bnds");
    put_str_attrs(
        &mut v,
        &[
            ("standard_name", standard_name),
            ("long_name", standard_name),
            ("units", units),
            ("axis", axis),
            ("bounds", &bounds),
        ],
    )
    .map_err(c.err(format!("attributes of {name}")))?;
    c.put_all(&mut v, data)
        .map_err(c.err(format!("writing {name}")))
}

/// Latitude, longitude (and projection) coordinates; returns the `coordinates` attribute
/// data variables need (2-D latitude and longitude are auxiliary coordinates).
fn write_horizontal(
    file: &mut netcdf::FileMut,
    c: &Wctx,
    g: &HistoryGrid,
) -> Result<Option<&'static str>, IoError> {
    let (ny, nx) = (g.ny, g.nx);
    let (ydim, xdim) = g.dim_names();
    match (&g.kind, g.layout) {
        (GridKind::Regular { lat, lon }, Layout::Cf) => {
            let (lat_b, lon_b) = regular_bounds(lat, lon);
            write_coord_1d(file, c, "lat", "latitude", "degree_north", "Y", lat)?;
            write_bounds(file, c, "lat_bnds", &["lat", "bnds"], &lat_b)?;
            write_coord_1d(file, c, "lon", "longitude", "degree_east", "X", lon)?;
            write_bounds(file, c, "lon_bnds", &["lon", "bnds"], &lon_b)?;
            return Ok(None);
        }
        (GridKind::Regular { lat, lon }, Layout::Lis) => {
            let (lat2, lon2, corners) = regular_as_2d(lat, lon);
            write_2d_lat_lon(file, c, g, (&lat2, &lon2), Some((&corners.0, &corners.1)))?;
        }
        (GridKind::Curvilinear { lat, lon, corners }, _) => {
            let corners = corners.as_ref().map(|(a, b)| (a.as_slice(), b.as_slice()));
            write_2d_lat_lon(file, c, g, (lat, lon), corners)?;
        }
    }
    if let Some((x, y)) = &g.projection_xy {
        write_projection_xy(file, c, (xdim, x), (ydim, y))?;
    } else if g.layout == Layout::Cf {
        // Index coordinates, so tools get monotonic axes.
        for (name, len, axis) in [(ydim, ny, "Y"), (xdim, nx, "X")] {
            let mut v = file
                .add_variable::<i32>(name, &[name])
                .map_err(c.err(format!("variable {name}")))?;
            let long = format!("grid index along {name}");
            put_str_attrs(
                &mut v,
                &[("long_name", &long), ("units", "1"), ("axis", axis)],
            )
            .map_err(c.err(format!("attributes of {name}")))?;
            let idx: Vec<i32> = (0..len as i32).collect();
            c.put_all(&mut v, &idx)
                .map_err(c.err(format!("writing {name}")))?;
        }
    }
    Ok(Some("lat lon"))
}

/// 1-D bounds of regular latitude and longitude centres.
fn regular_bounds(lat: &[f64], lon: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let (ny, nx) = (lat.len(), lon.len());
    let dlat = if ny > 1 { (lat[1] - lat[0]).abs() } else { 1.0 };
    let dlon = if nx > 1 { (lon[1] - lon[0]).abs() } else { 1.0 };
    (
        centre_bounds(lat, Some(90.0), dlat),
        centre_bounds(lon, None, dlon),
    )
}

type Corners = (Vec<f64>, Vec<f64>);

/// A regular grid as 2-D centres and corners `[y][x][4]`, counter-clockwise from
/// south-west whichever way the axes run.
fn regular_as_2d(lat: &[f64], lon: &[f64]) -> (Vec<f64>, Vec<f64>, Corners) {
    let (lat_b, lon_b) = regular_bounds(lat, lon);
    let n = lat.len() * lon.len();
    let (mut lat2, mut lon2) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut clat, mut clon) = (Vec::with_capacity(4 * n), Vec::with_capacity(4 * n));
    for (j, &la) in lat.iter().enumerate() {
        let (s, n_) = (
            lat_b[2 * j].min(lat_b[2 * j + 1]),
            lat_b[2 * j].max(lat_b[2 * j + 1]),
        );
        for (i, &lo) in lon.iter().enumerate() {
            let (w, e) = (
                lon_b[2 * i].min(lon_b[2 * i + 1]),
                lon_b[2 * i].max(lon_b[2 * i + 1]),
            );
            lat2.push(la);
            lon2.push(lo);
            clat.extend([s, s, n_, n_]);
            clon.extend([w, e, e, w]);
        }
    }
    (lat2, lon2, (clat, clon))
}

/// 2-D `lat`/`lon` on the grid dimensions, with corner bounds when given.
fn write_2d_lat_lon(
    file: &mut netcdf::FileMut,
    c: &Wctx,
    g: &HistoryGrid,
    (lat, lon): (&[f64], &[f64]),
    corners: Option<(&[f64], &[f64])>,
) -> Result<(), IoError> {
    let (ydim, xdim) = g.dim_names();
    if corners.is_some() {
        file.add_dimension("nv4", 4)
            .map_err(c.err("dimension nv4"))?;
    }
    for (name, sn, units, data, which) in [
        ("lat", "latitude", "degree_north", lat, 0usize),
        ("lon", "longitude", "degree_east", lon, 1usize),
    ] {
        let mut v = file
            .add_variable::<f64>(name, &[ydim, xdim])
            .map_err(c.err(format!("variable {name}")))?;
        let bname = format!("{name}_bnds");
        let mut attrs = vec![("standard_name", sn), ("long_name", sn), ("units", units)];
        if corners.is_some() {
            attrs.push(("bounds", bname.as_str()));
        }
        put_str_attrs(&mut v, &attrs).map_err(c.err(format!("attributes of {name}")))?;
        c.put_all(&mut v, data)
            .map_err(c.err(format!("writing {name}")))?;
        if let Some((clat, clon)) = corners {
            let b = if which == 0 { clat } else { clon };
            write_bounds(file, c, &bname, &[ydim, xdim, "nv4"], b)?;
        }
    }
    Ok(())
}

/// A soil depth axis `dim(dim)` with `dim_bnds` from the layer thicknesses.
fn write_soil_axis(
    file: &mut netcdf::FileMut,
    c: &Wctx,
    dim: &str,
    thickness: &[f64],
) -> Result<(), IoError> {
    let mut mid = Vec::with_capacity(thickness.len());
    let mut bnds = Vec::with_capacity(2 * thickness.len());
    let mut top = 0.0;
    for &dz in thickness {
        mid.push(top + 0.5 * dz);
        bnds.push(top);
        bnds.push(top + dz);
        top += dz;
    }
    let bname = format!("{dim}_bnds");
    let mut v = file
        .add_variable::<f64>(dim, &[dim])
        .map_err(c.err(format!("variable {dim}")))?;
    put_str_attrs(
        &mut v,
        &[
            ("standard_name", "depth"),
            // CDO names the axis by this long name (`depth_below_land`, not
            // `depth_below_sea` as it infers from the standard name alone).
            ("long_name", "depth below land"),
            (
                "comment",
                "mid-point of each soil layer below the land surface; the bounds are the layer interfaces",
            ),
            ("units", "m"),
            ("positive", "down"),
            ("axis", "Z"),
            ("bounds", &bname),
        ],
    )
    .map_err(c.err(format!("attributes of {dim}")))?;
    c.put_all(&mut v, &mid)
        .map_err(c.err(format!("writing {dim}")))?;
    write_bounds(file, c, &bname, &[dim, "bnds"], &bnds)
}

/// Projection coordinates of a grid on a map projection (CF 5.6).
fn write_projection_xy(
    file: &mut netcdf::FileMut,
    c: &Wctx,
    (xname, x): (&str, &[f64]),
    (yname, y): (&str, &[f64]),
) -> Result<(), IoError> {
    for (name, axis, data) in [(yname, "Y", y), (xname, "X", x)] {
        let mut v = file
            .add_variable::<f64>(name, &[name])
            .map_err(c.err(format!("variable {name}")))?;
        let xy = axis.to_lowercase();
        let sn = format!("projection_{xy}_coordinate");
        let long = format!("{xy} coordinate of projection");
        put_str_attrs(
            &mut v,
            &[
                ("standard_name", &sn),
                ("long_name", &long),
                ("units", "m"),
                ("axis", axis),
            ],
        )
        .map_err(c.err(format!("attributes of {name}")))?;
        c.put_all(&mut v, data)
            .map_err(c.err(format!("writing {name}")))?;
    }
    Ok(())
}

fn write_bounds(
    file: &mut netcdf::FileMut,
    c: &Wctx,
    name: &str,
    dims: &[&str],
    data: &[f64],
) -> Result<(), IoError> {
    let mut v = file
        .add_variable::<f64>(name, dims)
        .map_err(c.err(format!("variable {name}")))?;
    c.put_all(&mut v, data)
        .map_err(c.err(format!("writing {name}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_of_regular_centres() {
        let b = centre_bounds(&[-89.875, -89.625, -89.375], Some(90.0), 0.25);
        assert_eq!(b, vec![-90.0, -89.75, -89.75, -89.5, -89.5, -89.25]);
        let b = centre_bounds(&[10.0], None, 2.0);
        assert_eq!(b, vec![9.0, 11.0]);
    }

    #[test]
    fn expand_land_places_values_on_land_only() {
        let g = HistoryGrid::regular(
            vec![0.0, 1.0],
            vec![0.0, 1.0],
            vec![true, false, false, true],
        );
        let full = g.expand_land(&[1.0, 2.0, 3.0, 4.0], 2).unwrap();
        assert_eq!(full[0], 1.0);
        assert!(full[1].is_nan());
        assert_eq!(full[3], 2.0);
        assert_eq!(full[4], 3.0);
        assert_eq!(full[7], 4.0);
        assert!(g.expand_land(&[1.0], 1).is_none());
    }
}
