//! Observations in a time window mapped to the cells of a regular lat-lon model grid by
//! nearest cell centre; several observations in one cell are averaged or the latest kept.

use super::{Observation, RejectCounts};
use chrono::NaiveDateTime;

/// A regular lat-lon grid given by its 1-D coordinate vectors (ascending or descending)
/// and a land mask (`land[iy * nx + ix]`).
#[derive(Debug, Clone, Copy)]
pub struct LatLonGrid<'a> {
    pub lat: &'a [f64],
    pub lon: &'a [f64],
    pub land: &'a [bool],
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

/// Index of the nearest coordinate and whether `x` lies within half a spacing of the
/// coordinate range.
fn nearest(coords: &[f64], x: f64) -> Option<usize> {
    let n = coords.len();
    if n == 0 || !x.is_finite() {
        return None;
    }
    let half = if n > 1 {
        0.5 * (coords[n - 1] - coords[0]).abs() / (n - 1) as f64
    } else {
        f64::INFINITY
    };
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
    let half = if grid_lon.len() > 1 {
        0.5 * (grid_lon[grid_lon.len() - 1] - grid_lon[0]).abs() / (grid_lon.len() - 1) as f64
    } else {
        0.0
    };
    let base = first - half;
    base + (lon - base).rem_euclid(360.0)
}

/// Map observations with `start < time ≤ end` to grid cells. Returns the cells in
/// ascending cell index and the rejections by rule.
pub fn map_to_grid(
    obs: &[Observation],
    start: NaiveDateTime,
    end: NaiveDateTime,
    grid: &LatLonGrid,
    combine: Combine,
) -> (Vec<CellObs>, RejectCounts) {
    let nx = grid.lon.len();
    let mut rejected = RejectCounts::with_rules(&RULES);
    // Per cell: (sum value, sum sigma, count, latest time, latest value, latest sigma).
    let mut acc: std::collections::BTreeMap<usize, (f64, f64, usize, NaiveDateTime, f64, f64)> =
        std::collections::BTreeMap::new();
    for o in obs {
        if o.time <= start || o.time > end {
            rejected.add("outside_window");
            continue;
        }
        if grid.lon.is_empty() {
            rejected.add("outside_grid");
            continue;
        }
        let lon = wrap_lon(o.lon, grid.lon);
        let (Some(iy), Some(ix)) = (nearest(grid.lat, o.lat), nearest(grid.lon, lon)) else {
            rejected.add("outside_grid");
            continue;
        };
        let cell = iy * nx + ix;
        if !grid.land.get(cell).copied().unwrap_or(false) {
            rejected.add("not_land");
            continue;
        }
        let e = acc
            .entry(cell)
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
    let cells = acc
        .into_iter()
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
        .collect();
    (cells, rejected)
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
}
