//! The `grid` room (see docs/architecture.md and docs/grid.md): latitude-longitude
//! grids (regular and curvilinear) with a land mask, the land-surface static fields
//! and their file formats, and the decomposition of land cells over ranks.
//!
//! Cells are addressed by a **global id** `global_id(j, i) = j * nx + i`, row-major over
//! the full `(ny, nx)` grid with ocean cells included. Restart files index cells by this
//! id, which is why it depends on nothing but the grid shape.

pub mod decomp;
pub mod geo;
pub mod locate;
pub mod nearest;
pub mod projection;
pub mod remap;
mod spacing;
pub mod static_texture;
pub mod statics;
pub mod weights;
mod weights_apply;
mod weights_check;
pub use weights_check::CENTRE_TOLERANCE_DEG;
pub mod wps_domain;

pub use decomp::Decomposition;
pub use statics::{StaticFields, VegetationDataset};

use std::path::PathBuf;
use thiserror::Error;

/// Mean Earth radius (m) used for cell areas (the WRF/WPS value).
pub const EARTH_RADIUS: f64 = 6_370_000.0;

/// Errors of the grid room. File errors name the file and, where one is involved,
/// the variable.
#[derive(Debug, Error)]
pub enum GridError {
    #[error("invalid grid: {0}")]
    Invalid(String),
    #[error("global id {id} is outside the grid of {ncells} cells")]
    GlobalId { id: u64, ncells: u64 },
    #[error("{path}: variable {variable}: {message}")]
    Variable {
        path: PathBuf,
        variable: String,
        message: String,
    },
    #[error("{path}: variable {variable} is missing")]
    MissingVariable { path: PathBuf, variable: String },
    #[error("{path}: variable {variable} has shape {found:?}, expected {expected:?}")]
    Shape {
        path: PathBuf,
        variable: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error(
        "{path}: variable {variable} at cell (j={j}, i={i}){month}: value {value} outside {allowed}"
    )]
    Range {
        path: PathBuf,
        variable: String,
        j: usize,
        i: usize,
        /// Empty or ", month M".
        month: String,
        value: f64,
        allowed: String,
    },
    #[error("{path}: attribute {attribute}: {message}")]
    Attribute {
        path: PathBuf,
        attribute: String,
        message: String,
    },
    #[error("{path}: {context}: {source}")]
    Netcdf {
        path: PathBuf,
        context: String,
        #[source]
        source: netcdf::Error,
    },
    #[error("{path}: {context}: {source}")]
    Io {
        path: PathBuf,
        context: String,
        #[source]
        source: std::io::Error,
    },
}

/// Inclusive-exclusive index box `j0..j1`, `i0..i1` of a set of cells: the hyperslab
/// a reader needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexBox {
    pub j0: usize,
    pub j1: usize,
    pub i0: usize,
    pub i1: usize,
}

impl IndexBox {
    pub fn ny(&self) -> usize {
        self.j1 - self.j0
    }
    pub fn nx(&self) -> usize {
        self.i1 - self.i0
    }
    /// Number of cells in the box.
    pub fn len(&self) -> usize {
        self.ny() * self.nx()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Latitude/longitude extent (degrees) of the centres of a set of cells, `west <= east`
/// always. Regular grids report their own longitude values; on curvilinear grids the
/// longitudes are unwrapped relative to the first cell of the set, so a set crossing the
/// date line gives e.g. `west = 170, east = 190` (values may leave [-180, 180]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatLonBox {
    pub south: f64,
    pub north: f64,
    pub west: f64,
    pub east: f64,
}

impl LatLonBox {
    /// The box widened by `margin` degrees on every side (latitudes clipped to ±90), as
    /// readers need to cover the interpolation stencil of a source grid.
    pub fn expanded(&self, margin: f64) -> LatLonBox {
        LatLonBox {
            south: (self.south - margin).max(-90.0),
            north: (self.north + margin).min(90.0),
            west: self.west - margin,
            east: self.east + margin,
        }
    }
}

/// Horizontal coordinates of a grid.
#[derive(Debug, Clone, PartialEq)]
pub enum Coordinates {
    /// Regular latitude-longitude grid: 1-D coordinate vectors, each strictly ascending
    /// or strictly descending.
    Regular { lat: Vec<f64>, lon: Vec<f64> },
    /// Curvilinear grid (WPS Lambert, Mercator, polar): 2-D arrays, row-major `(ny, nx)`.
    Curvilinear { lat: Vec<f64>, lon: Vec<f64> },
}

/// A horizontal grid with dimensions `(ny, nx)` (`j` along `ny`, `i` along `nx`) and a
/// land mask.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    ny: usize,
    nx: usize,
    coords: Coordinates,
    land_mask: Vec<bool>,
    periodic: bool,
    /// Projection spacing (dy, dx) in km of a map-projected grid (WPS `DY`, `DX`).
    projection_spacing_km: Option<(f64, f64)>,
}

fn strictly_monotonic(v: &[f64]) -> bool {
    if v.len() < 2 {
        return true;
    }
    let up = v[1] > v[0];
    v.windows(2)
        .all(|w| if up { w[1] > w[0] } else { w[1] < w[0] })
}

fn check_lat(lat: &[f64]) -> Result<(), GridError> {
    if let Some(bad) = lat.iter().find(|x| !x.is_finite() || x.abs() > 90.0 + 1e-9) {
        return Err(GridError::Invalid(format!(
            "latitude {bad} is not a finite value in [-90, 90]"
        )));
    }
    Ok(())
}

fn check_lon(lon: &[f64]) -> Result<(), GridError> {
    if let Some(bad) = lon
        .iter()
        .find(|x| !x.is_finite() || **x < -360.0 || **x > 720.0)
    {
        return Err(GridError::Invalid(format!(
            "longitude {bad} is not a finite value in [-360, 720]"
        )));
    }
    Ok(())
}

/// Difference `b - a` of two longitudes folded into (-180, 180].
pub fn lon_diff(a: f64, b: f64) -> f64 {
    let mut d = (b - a) % 360.0;
    if d > 180.0 {
        d -= 360.0;
    } else if d <= -180.0 {
        d += 360.0;
    }
    d
}

impl Grid {
    /// A regular latitude-longitude grid. `land_mask` (row-major `(ny, nx)`, true = land)
    /// defaults to all land.
    pub fn regular(
        lat: Vec<f64>,
        lon: Vec<f64>,
        land_mask: Option<Vec<bool>>,
    ) -> Result<Grid, GridError> {
        let (ny, nx) = (lat.len(), lon.len());
        if ny == 0 || nx == 0 {
            return Err(GridError::Invalid(format!(
                "empty grid ({ny} latitudes, {nx} longitudes)"
            )));
        }
        check_lat(&lat)?;
        check_lon(&lon)?;
        if !strictly_monotonic(&lat) {
            return Err(GridError::Invalid(
                "latitudes are not strictly ascending or descending".into(),
            ));
        }
        if !strictly_monotonic(&lon) {
            return Err(GridError::Invalid(
                "longitudes are not strictly ascending or descending".into(),
            ));
        }
        let land_mask = Self::mask_or_all_land(land_mask, ny, nx)?;
        let periodic = Self::detect_periodic(&lon);
        Ok(Grid {
            ny,
            nx,
            coords: Coordinates::Regular { lat, lon },
            land_mask,
            periodic,
            projection_spacing_km: None,
        })
    }

    /// A curvilinear grid from 2-D latitude and longitude arrays (row-major `(ny, nx)`).
    pub fn curvilinear(
        ny: usize,
        nx: usize,
        lat: Vec<f64>,
        lon: Vec<f64>,
        land_mask: Option<Vec<bool>>,
    ) -> Result<Grid, GridError> {
        if ny == 0 || nx == 0 {
            return Err(GridError::Invalid(format!("empty grid ({ny} x {nx})")));
        }
        if lat.len() != ny * nx || lon.len() != ny * nx {
            return Err(GridError::Invalid(format!(
                "curvilinear coordinates have {} latitudes and {} longitudes, expected {}",
                lat.len(),
                lon.len(),
                ny * nx
            )));
        }
        check_lat(&lat)?;
        check_lon(&lon)?;
        let land_mask = Self::mask_or_all_land(land_mask, ny, nx)?;
        Ok(Grid {
            ny,
            nx,
            coords: Coordinates::Curvilinear { lat, lon },
            land_mask,
            periodic: false,
            projection_spacing_km: None,
        })
    }

    fn mask_or_all_land(
        mask: Option<Vec<bool>>,
        ny: usize,
        nx: usize,
    ) -> Result<Vec<bool>, GridError> {
        match mask {
            None => Ok(vec![true; ny * nx]),
            Some(m) if m.len() == ny * nx => Ok(m),
            Some(m) => Err(GridError::Invalid(format!(
                "land mask has {} cells, grid has {}",
                m.len(),
                ny * nx
            ))),
        }
    }

    /// A regular longitude vector is periodic when its uniform spacing times its length
    /// covers the full circle, so cell `nx-1` neighbours cell `0`.
    fn detect_periodic(lon: &[f64]) -> bool {
        let n = lon.len();
        if n < 3 {
            return false;
        }
        let d = (lon[n - 1] - lon[0]) / (n - 1) as f64;
        let uniform = lon
            .windows(2)
            .all(|w| ((w[1] - w[0]) - d).abs() <= 1e-6 * d.abs().max(1e-12) + 1e-9);
        uniform && ((d.abs() * n as f64) - 360.0).abs() <= 1e-6 * 360.0
    }

    /// The same grid with another land mask.
    pub fn with_land_mask(mut self, land_mask: Vec<bool>) -> Result<Grid, GridError> {
        self.land_mask = Self::mask_or_all_land(Some(land_mask), self.ny, self.nx)?;
        Ok(self)
    }

    pub fn ny(&self) -> usize {
        self.ny
    }
    pub fn nx(&self) -> usize {
        self.nx
    }
    /// `(ny, nx)`.
    pub fn dims(&self) -> (usize, usize) {
        (self.ny, self.nx)
    }
    /// Total number of cells, ocean included.
    pub fn ncells(&self) -> usize {
        self.ny * self.nx
    }
    pub fn coordinates(&self) -> &Coordinates {
        &self.coords
    }
    pub fn is_regular(&self) -> bool {
        matches!(self.coords, Coordinates::Regular { .. })
    }
    /// True for a regular grid whose longitudes close the circle (a global grid).
    pub fn is_periodic(&self) -> bool {
        self.periodic
    }
    /// 1-D latitudes of a regular grid.
    pub fn lat_1d(&self) -> Option<&[f64]> {
        match &self.coords {
            Coordinates::Regular { lat, .. } => Some(lat),
            Coordinates::Curvilinear { .. } => None,
        }
    }
    /// 1-D longitudes of a regular grid.
    pub fn lon_1d(&self) -> Option<&[f64]> {
        match &self.coords {
            Coordinates::Regular { lon, .. } => Some(lon),
            Coordinates::Curvilinear { .. } => None,
        }
    }

    /// Global id of cell `(j, i)`: `j * nx + i` (row-major over the full grid, ocean
    /// included). Restart files index cells by it.
    pub fn global_id(&self, j: usize, i: usize) -> u64 {
        debug_assert!(j < self.ny && i < self.nx);
        (j * self.nx + i) as u64
    }

    /// `(j, i)` of a global id, or an error when it is outside the grid.
    pub fn index_of(&self, id: u64) -> Result<(usize, usize), GridError> {
        if id >= self.ncells() as u64 {
            return Err(GridError::GlobalId {
                id,
                ncells: self.ncells() as u64,
            });
        }
        let id = id as usize;
        Ok((id / self.nx, id % self.nx))
    }

    /// Latitude (degrees north) of the centre of cell `(j, i)`.
    pub fn lat(&self, j: usize, i: usize) -> f64 {
        match &self.coords {
            Coordinates::Regular { lat, .. } => lat[j],
            Coordinates::Curvilinear { lat, .. } => lat[j * self.nx + i],
        }
    }
    /// Longitude (degrees east) of the centre of cell `(j, i)`.
    pub fn lon(&self, j: usize, i: usize) -> f64 {
        match &self.coords {
            Coordinates::Regular { lon, .. } => lon[i],
            Coordinates::Curvilinear { lon, .. } => lon[j * self.nx + i],
        }
    }

    /// Land mask, row-major `(ny, nx)`, true = land.
    pub fn land_mask(&self) -> &[bool] {
        &self.land_mask
    }
    pub fn is_land(&self, j: usize, i: usize) -> bool {
        self.land_mask[j * self.nx + i]
    }
    /// Global ids of the land cells, ascending.
    pub fn land_cells(&self) -> Vec<u64> {
        self.land_mask
            .iter()
            .enumerate()
            .filter(|(_, &l)| l)
            .map(|(k, _)| k as u64)
            .collect()
    }
    pub fn n_land(&self) -> usize {
        self.land_mask.iter().filter(|&&l| l).count()
    }

    /// Cell areas (m²), row-major `(ny, nx)`, on a sphere of radius [`EARTH_RADIUS`].
    ///
    /// Regular grids: cell edges half-way between centres (end cells mirrored), exact
    /// spherical band area. Curvilinear grids: corners at the mean of the four
    /// surrounding centres (linearly extrapolated at the border), area of the
    /// quadrilateral as two spherical triangles.
    pub fn cell_areas(&self) -> Vec<f64> {
        match &self.coords {
            Coordinates::Regular { lat, lon } => {
                let lat_edges = edges(lat);
                let lon_edges = edges(lon);
                let mut out = Vec::with_capacity(self.ncells());
                for j in 0..self.ny {
                    let s = lat_edges[j].clamp(-90.0, 90.0).to_radians().sin();
                    let n = lat_edges[j + 1].clamp(-90.0, 90.0).to_radians().sin();
                    for i in 0..self.nx {
                        let dl = (lon_edges[i + 1] - lon_edges[i]).to_radians();
                        out.push(EARTH_RADIUS * EARTH_RADIUS * (dl * (n - s)).abs());
                    }
                }
                out
            }
            Coordinates::Curvilinear { lat, lon } => self.curvilinear_areas(lat, lon),
        }
    }

    fn curvilinear_areas(&self, lat: &[f64], lon: &[f64]) -> Vec<f64> {
        let (ny, nx) = (self.ny, self.nx);
        // Unwrap longitudes relative to the first cell so averaging across the date line
        // is continuous; the field is small compared with a hemisphere on WPS domains.
        let lon0 = lon[0];
        let ulon: Vec<f64> = lon.iter().map(|&l| lon0 + lon_diff(lon0, l)).collect();
        // Extended (ny+2, nx+2) arrays of centres with linear extrapolation at the border.
        let ext = |f: &[f64]| -> Vec<f64> {
            let (ey, ex) = (ny + 2, nx + 2);
            let get = |j: isize, i: isize| -> f64 {
                let jc = j.clamp(0, ny as isize - 1);
                let ic = i.clamp(0, nx as isize - 1);
                let mut v = f[jc as usize * nx + ic as usize];
                // Extrapolate outwards one step in each clamped direction.
                if j != jc && ny > 1 {
                    let jn = if j < 0 { 1 } else { ny as isize - 2 };
                    v += v - f[jn as usize * nx + ic as usize];
                }
                if i != ic && nx > 1 {
                    let inn = if i < 0 { 1 } else { nx as isize - 2 };
                    let jcu = jc as usize;
                    v += f[jcu * nx + ic as usize] - f[jcu * nx + inn as usize];
                }
                v
            };
            let mut out = vec![0.0; ey * ex];
            for j in 0..ey {
                for i in 0..ex {
                    out[j * ex + i] = get(j as isize - 1, i as isize - 1);
                }
            }
            out
        };
        let elat = ext(lat);
        let elon = ext(&ulon);
        let ex = nx + 2;
        // Corner (cj, ci) for cj in 0..=ny, ci in 0..=nx lies between extended centres
        // (cj, ci), (cj, ci+1), (cj+1, ci), (cj+1, ci+1).
        let corner = |cj: usize, ci: usize| -> (f64, f64) {
            let k = [
                cj * ex + ci,
                cj * ex + ci + 1,
                (cj + 1) * ex + ci,
                (cj + 1) * ex + ci + 1,
            ];
            let la = k.iter().map(|&q| elat[q]).sum::<f64>() / 4.0;
            let lo = k.iter().map(|&q| elon[q]).sum::<f64>() / 4.0;
            (la.clamp(-90.0, 90.0), lo)
        };
        let mut out = Vec::with_capacity(ny * nx);
        for j in 0..ny {
            for i in 0..nx {
                let a = corner(j, i);
                let b = corner(j, i + 1);
                let c = corner(j + 1, i + 1);
                let d = corner(j + 1, i);
                let area = spherical_triangle_area(a, b, c) + spherical_triangle_area(a, c, d);
                out.push(area * EARTH_RADIUS * EARTH_RADIUS);
            }
        }
        out
    }

    /// Bounding boxes of a set of cells: the `(j, i)` index box (the hyperslab a reader
    /// needs) and the lat/lon extent of their centres. `None` for an empty set; an id
    /// outside the grid is an error.
    pub fn bounding_box(&self, ids: &[u64]) -> Result<Option<(IndexBox, LatLonBox)>, GridError> {
        if ids.is_empty() {
            return Ok(None);
        }
        let mut ib = IndexBox {
            j0: usize::MAX,
            j1: 0,
            i0: usize::MAX,
            i1: 0,
        };
        let mut lb = LatLonBox {
            south: f64::INFINITY,
            north: f64::NEG_INFINITY,
            west: f64::INFINITY,
            east: f64::NEG_INFINITY,
        };
        // Curvilinear longitudes are unwrapped relative to the first cell so a set that
        // crosses the date line gets a tight box (e.g. 170..190) rather than -180..180.
        let (j_first, i_first) = self.index_of(ids[0])?;
        let lon_ref = self.lon(j_first, i_first);
        let regular = self.is_regular();
        for &id in ids {
            let (j, i) = self.index_of(id)?;
            ib.j0 = ib.j0.min(j);
            ib.j1 = ib.j1.max(j + 1);
            ib.i0 = ib.i0.min(i);
            ib.i1 = ib.i1.max(i + 1);
            let la = self.lat(j, i);
            let lo = if regular {
                self.lon(j, i)
            } else {
                lon_ref + lon_diff(lon_ref, self.lon(j, i))
            };
            lb.south = lb.south.min(la);
            lb.north = lb.north.max(la);
            lb.west = lb.west.min(lo);
            lb.east = lb.east.max(lo);
        }
        Ok(Some((ib, lb)))
    }

    /// Index box of a set of cells (see [`Grid::bounding_box`]).
    pub fn index_box(&self, ids: &[u64]) -> Result<Option<IndexBox>, GridError> {
        Ok(self.bounding_box(ids)?.map(|(ib, _)| ib))
    }

    /// Lat/lon box of a set of cells (see [`Grid::bounding_box`]).
    pub fn lat_lon_box(&self, ids: &[u64]) -> Result<Option<LatLonBox>, GridError> {
        Ok(self.bounding_box(ids)?.map(|(_, lb)| lb))
    }
}

/// Cell edges of a 1-D coordinate: midpoints between centres, end edges mirrored.
fn edges(c: &[f64]) -> Vec<f64> {
    let n = c.len();
    let mut e = Vec::with_capacity(n + 1);
    if n == 1 {
        // A single row/column has no spacing to infer; give it zero width.
        e.push(c[0]);
        e.push(c[0]);
        return e;
    }
    e.push(c[0] - 0.5 * (c[1] - c[0]));
    for k in 0..n - 1 {
        e.push(0.5 * (c[k] + c[k + 1]));
    }
    e.push(c[n - 1] + 0.5 * (c[n - 1] - c[n - 2]));
    e
}

fn unit_vector((lat, lon): (f64, f64)) -> [f64; 3] {
    let (la, lo) = (lat.to_radians(), lon.to_radians());
    [la.cos() * lo.cos(), la.cos() * lo.sin(), la.sin()]
}

/// Area (steradians) of the spherical triangle with the given (lat, lon) corners, by the
/// Van Oosterom–Strackee formula (stable for small triangles).
fn spherical_triangle_area(a: (f64, f64), b: (f64, f64), c: (f64, f64)) -> f64 {
    let (a, b, c) = (unit_vector(a), unit_vector(b), unit_vector(c));
    let dot = |p: [f64; 3], q: [f64; 3]| p[0] * q[0] + p[1] * q[1] + p[2] * q[2];
    let cross = [
        b[1] * c[2] - b[2] * c[1],
        b[2] * c[0] - b[0] * c[2],
        b[0] * c[1] - b[1] * c[0],
    ];
    let triple = dot(a, cross);
    let denom = 1.0 + dot(a, b) + dot(b, c) + dot(c, a);
    (2.0 * triple.atan2(denom)).abs()
}
