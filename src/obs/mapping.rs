//! Observations in a time window mapped to the cells of the model grid by nearest cell
//! centre; several observations in one cell are averaged or the latest kept. A regular
//! lat-lon grid is searched on its 1-D axes; any other grid (WPS curvilinear) through a
//! spatial index of its cell centres ([`CellLocator`]).

use super::{Observation, RejectCounts};
use crate::grid::locate::CellLocator;
use crate::grid::Grid;
use chrono::NaiveDateTime;

/// A regular lat-lon grid given by its 1-D coordinate vectors (ascending or descending)
/// and a land mask (`land[iy * nx + ix]`).
#[derive(Debug, Clone, Copy)]
pub struct LatLonGrid<'a> {
    pub lat: &'a [f64],
    pub lon: &'a [f64],
    pub land: &'a [bool],
}

/// Any grid with the spatial index of its cell centres (built once per run).
#[derive(Debug, Clone, Copy)]
pub struct IndexedGrid<'a> {
    pub grid: &'a Grid,
    pub locator: &'a CellLocator,
}

/// The grid observations are mapped to.
#[derive(Debug, Clone, Copy)]
pub enum MappingGrid<'a> {
    /// A regular lat-lon grid, searched on its axes.
    LatLon(LatLonGrid<'a>),
    /// Any grid, searched through its spatial index.
    Indexed(IndexedGrid<'a>),
}

impl MappingGrid<'_> {
    /// Columns of the grid (cell index = `iy * nx + ix`).
    pub fn nx(&self) -> usize {
        match self {
            MappingGrid::LatLon(g) => g.lon.len(),
            MappingGrid::Indexed(g) => g.grid.nx(),
        }
    }

    fn is_land(&self, cell: usize) -> bool {
        let land = match self {
            MappingGrid::LatLon(g) => g.land,
            MappingGrid::Indexed(g) => g.grid.land_mask(),
        };
        land.get(cell).copied().unwrap_or(false)
    }

    /// The land cells observation `o` goes to (the nearest, and with a footprint every land
    /// cell it covers), or the rule that rejects it.
    fn targets(
        &self,
        o: &Observation,
        footprint_half_km: f64,
        out: &mut Vec<usize>,
    ) -> Result<(), &'static str> {
        out.clear();
        match self {
            MappingGrid::LatLon(grid) => {
                if grid.lon.is_empty() {
                    return Err("outside_grid");
                }
                let lon = wrap_lon(o.lon, grid.lon);
                let (Some(iy), Some(ix)) = (nearest(grid.lat, o.lat), nearest(grid.lon, lon))
                else {
                    return Err("outside_grid");
                };
                let cell = iy * grid.lon.len() + ix;
                if self.is_land(cell) {
                    out.push(cell);
                }
                if footprint_half_km > 0.0 {
                    footprint_cells(grid, o.lat, lon, iy, ix, footprint_half_km, out);
                }
            }
            MappingGrid::Indexed(g) => {
                let cell = g.locator.locate(o.lat, o.lon).ok_or("outside_grid")?;
                if self.is_land(cell) {
                    out.push(cell);
                }
                if footprint_half_km > 0.0 {
                    let land = |c: usize| self.is_land(c);
                    let at = (o.lat, o.lon);
                    g.locator
                        .footprint(g.grid, at, cell, footprint_half_km, land, out);
                }
            }
        }
        if out.is_empty() {
            return Err("not_land");
        }
        Ok(())
    }
}

/// How several observations in one cell and window are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Combine {
    /// Mean value; error σ is the mean σ (errors of retrievals that share a footprint are
    /// not independent, so no 1/√n reduction); time is the latest.
    #[default]
    Average,
    /// The latest observation (ties: the later one in input order).
    Latest,
}

/// The observation assigned to one model cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellObs {
    /// Row-major cell index `iy * nx + ix`.
    pub cell: usize,
    pub iy: usize,
    pub ix: usize,
    pub value: f64,
    pub error_sd: f64,
    pub time: NaiveDateTime,
    /// Observations that fell in the cell.
    pub count: usize,
}

/// Rule names of the mapping, in application order.
pub const RULES: [&str; 3] = ["outside_window", "outside_grid", "not_land"];

/// Mean spacing of a monotonic coordinate vector; `None` with fewer than two values.
fn spacing(coords: &[f64]) -> Option<f64> {
    let n = coords.len();
    (n > 1).then(|| (coords[n - 1] - coords[0]).abs() / (n - 1) as f64)
}

/// Index of the nearest coordinate and whether `x` lies within half a spacing of the
/// coordinate range.
fn nearest(coords: &[f64], x: f64) -> Option<usize> {
    let n = coords.len();
    if n == 0 || !x.is_finite() {
        return None;
    }
    let half = spacing(coords).map_or(f64::INFINITY, |d| 0.5 * d);
    let (lo, hi) = if coords[0] <= coords[n - 1] {
        (coords[0], coords[n - 1])
    } else {
        (coords[n - 1], coords[0])
    };
    if x < lo - half || x > hi + half {
        return None;
    }
    // Binary search on the monotonic vector, then compare neighbours.
    let ascending = coords[0] <= coords[n - 1];
    let pos = if ascending {
        coords.partition_point(|c| *c < x)
    } else {
        coords.partition_point(|c| *c > x)
    };
    let mut best = pos.min(n - 1);
    if pos > 0 && (coords[pos - 1] - x).abs() <= (coords[best] - x).abs() {
        best = pos - 1;
    }
    Some(best)
}

/// Shift `lon` by whole turns into the grid's longitude convention.
fn wrap_lon(lon: f64, grid_lon: &[f64]) -> f64 {
    let first = grid_lon[0].min(grid_lon[grid_lon.len() - 1]);
    let half = spacing(grid_lon).map_or(0.0, |d| 0.5 * d);
    let base = first - half;
    base + (lon - base).rem_euclid(360.0)
}

/// Map observations with `start < time ≤ end` to grid cells. Returns the cells in
/// ascending cell index and the rejections by rule.
///
/// With `footprint_half_km` = 0 an observation goes to the cell with the nearest centre.
/// With a positive value it goes to every land cell whose centre lies inside the square
/// footprint of that half-width (km, east and north of the observation), and always to the
/// nearest cell: a 36 km SMAP retrieval then informs all the 0.25° cells it covers, not one.
pub fn map_to_grid(
    obs: &[Observation],
    start: NaiveDateTime,
    end: NaiveDateTime,
    grid: &LatLonGrid,
    combine: Combine,
    footprint_half_km: f64,
) -> (Vec<CellObs>, RejectCounts) {
    let g = MappingGrid::LatLon(*grid);
    map_observations(obs, (start, end), g, combine, footprint_half_km)
}

/// As [`map_to_grid`] on any [`MappingGrid`]: the same rules, rejection counts and
/// combination; `window` is (start, end].
pub fn map_observations(
    obs: &[Observation],
    window: (NaiveDateTime, NaiveDateTime),
    grid: MappingGrid,
    combine: Combine,
    footprint_half_km: f64,
) -> (Vec<CellObs>, RejectCounts) {
    let mut pairs = Vec::new();
    let rejected = map_targets(obs, window, grid, footprint_half_km, &mut pairs);
    let shares = pairs.iter().map(|&(k, cell)| CellShare::of(cell, &obs[k]));
    (combine_shares(shares, grid.nx(), combine), rejected)
}

/// One observation's share of a cell: what the combination in a cell needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellShare {
    pub cell: usize,
    pub value: f64,
    pub error_sd: f64,
    pub time: NaiveDateTime,
}

impl CellShare {
    pub fn of(cell: usize, o: &Observation) -> Self {
        CellShare {
            cell,
            value: o.value,
            error_sd: o.error_sd,
            time: o.time,
        }
    }
}

/// The first half of [`map_observations`]: each accepted observation's target cells as
/// (index in `obs`, cell) pairs appended to `out` in input order, and the rejections.
pub fn map_targets(
    obs: &[Observation],
    (start, end): (NaiveDateTime, NaiveDateTime),
    grid: MappingGrid,
    footprint_half_km: f64,
    out: &mut Vec<(usize, usize)>,
) -> RejectCounts {
    let mut rejected = RejectCounts::with_rules(&RULES);
    let mut targets: Vec<usize> = Vec::new();
    for (k, o) in obs.iter().enumerate() {
        if o.time <= start || o.time > end {
            rejected.add("outside_window");
            continue;
        }
        if let Err(rule) = grid.targets(o, footprint_half_km, &mut targets) {
            rejected.add(rule);
            continue;
        }
        out.extend(targets.iter().map(|&cell| (k, cell)));
    }
    rejected
}

/// The second half of [`map_observations`]: the shares combined per cell, in ascending
/// cell index. Sums run in the order of `shares`, so the same shares in the same order
/// give the same bits wherever they were mapped.
pub fn combine_shares(
    shares: impl IntoIterator<Item = CellShare>,
    nx: usize,
    combine: Combine,
) -> Vec<CellObs> {
    // Per cell: (sum value, sum sigma, count, latest time, latest value, latest sigma).
    let mut acc: std::collections::BTreeMap<usize, (f64, f64, usize, NaiveDateTime, f64, f64)> =
        std::collections::BTreeMap::new();
    for o in shares {
        let e = acc
            .entry(o.cell)
            .or_insert((0.0, 0.0, 0, o.time, o.value, o.error_sd));
        e.0 += o.value;
        e.1 += o.error_sd;
        e.2 += 1;
        if o.time >= e.3 {
            e.3 = o.time;
            e.4 = o.value;
            e.5 = o.error_sd;
        }
    }
    acc.into_iter()
        .map(|(cell, (sv, ss, n, t, lv, ls))| {
            let (value, error_sd) = match combine {
                Combine::Average => (sv / n as f64, ss / n as f64),
                Combine::Latest => (lv, ls),
            };
            CellObs {
                cell,
                iy: cell / nx,
                ix: cell % nx,
                value,
                error_sd,
                time: t,
                count: n,
            }
        })
        .collect()
}

/// Kilometres per degree of latitude (spherical Earth, R = 6371 km).
const KM_PER_DEG: f64 = 111.195;

/// Land cells other than the nearest (`iy`, `ix`) whose centres lie inside the square of
/// half-width `half_km` around (`lat`, `lon`), appended to `out` in ascending order.
fn footprint_cells(
    grid: &LatLonGrid,
    lat: f64,
    lon: f64,
    iy: usize,
    ix: usize,
    half_km: f64,
    out: &mut Vec<usize>,
) {
    let (ny, nx) = (grid.lat.len(), grid.lon.len());
    let dlat_km = spacing(grid.lat).unwrap_or(f64::INFINITY) * KM_PER_DEG;
    let coslat = lat.to_radians().cos().max(1e-6);
    let dlon_km = spacing(grid.lon).unwrap_or(f64::INFINITY) * KM_PER_DEG * coslat;
    let ry = (half_km / dlat_km).ceil() as usize + 1;
    let rx = (half_km / dlon_km).ceil() as usize + 1;
    let nearest = iy * nx + ix;
    for j in iy.saturating_sub(ry)..(iy + ry + 1).min(ny) {
        if ((grid.lat[j] - lat) * KM_PER_DEG).abs() > half_km {
            continue;
        }
        for i in ix.saturating_sub(rx)..(ix + rx + 1).min(nx) {
            let c = j * nx + i;
            if c == nearest || !grid.land.get(c).copied().unwrap_or(false) {
                continue;
            }
            if ((grid.lon[i] - lon) * KM_PER_DEG * coslat).abs() <= half_km {
                out.push(c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_handles_both_orders_and_edges() {
        let asc = [0.0, 1.0, 2.0, 3.0];
        assert_eq!(nearest(&asc, 1.4), Some(1));
        assert_eq!(nearest(&asc, 1.6), Some(2));
        assert_eq!(nearest(&asc, 3.49), Some(3));
        assert_eq!(nearest(&asc, 3.51), None);
        let desc = [3.0, 2.0, 1.0, 0.0];
        assert_eq!(nearest(&desc, 1.4), Some(2));
        assert_eq!(nearest(&desc, -0.4), Some(3));
        assert_eq!(nearest(&desc, -0.6), None);
    }

    #[test]
    fn longitudes_wrap_into_grid_convention() {
        let g: Vec<f64> = (0..1440).map(|i| i as f64 * 0.25).collect();
        assert!((wrap_lon(-100.0, &g) - 260.0).abs() < 1e-12);
        let g2: Vec<f64> = (0..236).map(|i| -124.875 + i as f64 * 0.25).collect();
        assert!((wrap_lon(-100.0, &g2) + 100.0).abs() < 1e-12);
    }

    #[test]
    fn footprint_mapping_reaches_every_covered_land_cell() {
        use chrono::NaiveDate;
        // 0.25° grid at 40° N: cells are 27.8 km north-south and 21.3 km east-west.
        let lat: Vec<f64> = (0..8).map(|j| 39.125 + 0.25 * j as f64).collect();
        let lon: Vec<f64> = (0..8).map(|i| -99.875 + 0.25 * i as f64).collect();
        let mut land = vec![true; 64];
        land[3 * 8 + 4] = false;
        let grid = LatLonGrid {
            lat: &lat,
            lon: &lon,
            land: &land,
        };
        let t0 = NaiveDate::from_ymd_opt(2020, 6, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let t = t0 + chrono::Duration::hours(1);
        // Between the centres of rows 3/4 and columns 3/4.
        let o = Observation {
            time: t,
            lat: 40.0,
            lon: -99.0,
            value: 0.25,
            error_sd: 0.04,
            source: crate::obs::Sensor::Smap,
            depth_top_m: 0.0,
            depth_bottom_m: 0.05,
            units: crate::obs::ObsUnits::VolumetricFraction,
            quality: crate::obs::Quality::Gridded { row: 0, column: 0 },
        };
        let (near, _) = map_to_grid(
            &[o],
            t0,
            t0 + chrono::Duration::hours(6),
            &grid,
            Combine::Average,
            0.0,
        );
        assert_eq!(near.len(), 1);
        // 18 km half-width: rows 3 and 4 (13.9 km away) and columns 3 and 4 (10.6 km), minus
        // the water cell.
        let (foot, rej) = map_to_grid(
            &[o],
            t0,
            t0 + chrono::Duration::hours(6),
            &grid,
            Combine::Average,
            18.0,
        );
        let cells: Vec<usize> = foot.iter().map(|c| c.cell).collect();
        assert_eq!(cells, vec![3 * 8 + 3, 4 * 8 + 3, 4 * 8 + 4]);
        assert!(foot.iter().all(|c| c.value == 0.25 && c.count == 1));
        assert_eq!(rej.total(), 0);
    }
}
