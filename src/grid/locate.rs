//! The cell of a grid that holds a point, on any grid: the nearest cell centre through a
//! [`PointIndex`] over all centres (ocean included), and whether the point lies inside the
//! domain. Inside means: not beyond the outer half of a border cell, measured along the
//! grid's own axes at that cell (the local spacing), which on a regular grid is the rule
//! "within half a spacing of the coordinate range".

use super::nearest::{chord2_of_km, unit_vector, PointIndex};
use super::{lon_diff, Grid};

/// Kilometres per degree of latitude (sphere of radius 6371 km).
const KM_PER_DEG: f64 = 111.195;

/// A spatial index of a grid's cell centres.
#[derive(Debug, Clone)]
pub struct CellLocator {
    ny: usize,
    nx: usize,
    centres: PointIndex,
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

impl CellLocator {
    /// Index every cell centre of `grid`, row-major (point k = cell `j * nx + i`).
    pub fn new(grid: &Grid) -> Self {
        let (ny, nx) = grid.dims();
        let centres = (0..ny)
            .flat_map(|j| (0..nx).map(move |i| (j, i)))
            .map(|(j, i)| (grid.lat(j, i), grid.lon(j, i)));
        CellLocator {
            ny,
            nx,
            centres: PointIndex::new(centres),
        }
    }

    /// `(ny, nx)` of the indexed grid.
    pub fn dims(&self) -> (usize, usize) {
        (self.ny, self.nx)
    }

    fn centre(&self, j: usize, i: usize) -> [f64; 3] {
        self.centres.point(j * self.nx + i)
    }

    /// Half the step to the neighbours of cell (j, i) along i (`along_i`) or j; one-sided
    /// at the border, zero on a grid one cell wide.
    fn axis(&self, j: usize, i: usize, along_i: bool) -> [f64; 3] {
        let (n, k) = if along_i { (self.nx, i) } else { (self.ny, j) };
        if n < 2 {
            return [0.0; 3];
        }
        let at = |m: usize| {
            if along_i {
                self.centre(j, m)
            } else {
                self.centre(m, i)
            }
        };
        let (a, b) = (k.saturating_sub(1), (k + 1).min(n - 1));
        let d = sub(at(b), at(a));
        let s = if b - a == 2 { 0.5 } else { 1.0 };
        [d[0] * s, d[1] * s, d[2] * s]
    }

    /// Row-major cell of the centre nearest to (lat, lon), or `None` when the point lies
    /// outside the domain.
    pub fn locate(&self, lat: f64, lon: f64) -> Option<usize> {
        if !lat.is_finite() || !lon.is_finite() {
            return None;
        }
        let p = unit_vector(lat, lon);
        let (cell, d2) = self.centres.nearest(&p)?;
        let (j, i) = (cell / self.nx, cell % self.nx);
        let (ei, ej) = (self.axis(j, i, true), self.axis(j, i, false));
        // Farther than a full cell diagonal from the nearest centre: outside for sure.
        let reach = dot(ei, ei).sqrt() + dot(ej, ej).sqrt();
        if reach > 0.0 && d2 > reach * reach {
            return None;
        }
        // Coordinates (a, b) of the offset in the cell's own axes (least squares: the
        // offset's component normal to the sphere is dropped).
        let d = sub(p, self.centre(j, i));
        let (gii, gij, gjj) = (dot(ei, ei), dot(ei, ej), dot(ej, ej));
        let (ri, rj) = (dot(d, ei), dot(d, ej));
        let det = gii * gjj - gij * gij;
        if det <= 1e-12 * (gii * gjj).max(f64::MIN_POSITIVE) {
            return Some(cell);
        }
        let a = (ri * gjj - rj * gij) / det;
        let b = (rj * gii - ri * gij) / det;
        let beyond = (i == 0 && a < -0.5)
            || (i + 1 == self.nx && a > 0.5)
            || (j == 0 && b < -0.5)
            || (j + 1 == self.ny && b > 0.5);
        (!beyond).then_some(cell)
    }

    /// Cells other than `nearest` whose centres lie inside the square of half-width
    /// `half_km` (east and north of (lat, lon)), ascending, appended to `out`; `keep`
    /// filters them (e.g. land cells).
    pub fn footprint(
        &self,
        grid: &Grid,
        (lat, lon): (f64, f64),
        nearest: usize,
        half_km: f64,
        keep: impl Fn(usize) -> bool,
        out: &mut Vec<usize>,
    ) {
        let mut near = Vec::new();
        // The square's corners are √2 half-widths away.
        let r2 = chord2_of_km(half_km * std::f64::consts::SQRT_2 * 1.001);
        self.centres.within(&unit_vector(lat, lon), r2, &mut near);
        let coslat = lat.to_radians().cos().max(1e-6);
        for c in near {
            if c == nearest || !keep(c) {
                continue;
            }
            let (j, i) = (c / self.nx, c % self.nx);
            let north = (grid.lat(j, i) - lat) * KM_PER_DEG;
            let east = lon_diff(lon, grid.lon(j, i)) * KM_PER_DEG * coslat;
            if north.abs() <= half_km && east.abs() <= half_km {
                out.push(c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rotated, sheared 30×20 grid around 10° S, 62° W (0.04° steps).
    fn skewed() -> Grid {
        let (ny, nx) = (20, 30);
        let (mut lat, mut lon) = (Vec::new(), Vec::new());
        for j in 0..ny {
            for i in 0..nx {
                let (x, y) = (i as f64 * 0.04, j as f64 * 0.04);
                lat.push(-10.0 + 0.9 * y + 0.2 * x);
                lon.push(-62.0 + x - 0.3 * y);
            }
        }
        Grid::curvilinear(ny, nx, lat, lon, None).unwrap()
    }

    #[test]
    fn locate_matches_a_scan_inside_and_rejects_outside() {
        let g = skewed();
        let loc = CellLocator::new(&g);
        let (ny, nx) = g.dims();
        let gc = |k: usize| (g.lat(k / nx, k % nx), g.lon(k / nx, k % nx));
        let scan = |la: f64, lo: f64| {
            (0..ny * nx)
                .map(|k| {
                    let (a, b) = gc(k);
                    (k, super::super::geo::distance_km(la, lo, a, b))
                })
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap()
                .0
        };
        // Points a third of a step off every centre: found, and the scan agrees.
        for k in (0..ny * nx).step_by(7) {
            let (la, lo) = gc(k);
            let (pla, plo) = (la + 0.013, lo - 0.011);
            let got = loc.locate(pla, plo);
            if let Some(c) = got {
                assert_eq!(c, scan(pla, plo));
            }
            assert_eq!(loc.locate(la, lo), Some(k));
        }
        // Just inside and just outside the outer half cell of a border cell (i = 0, j = 5).
        let (la0, lo0) = gc(5 * nx);
        let (la1, lo1) = gc(5 * nx + 1);
        let (dla, dlo) = (la1 - la0, lo1 - lo0);
        assert_eq!(loc.locate(la0 - 0.45 * dla, lo0 - 0.45 * dlo), Some(5 * nx));
        assert_eq!(loc.locate(la0 - 0.55 * dla, lo0 - 0.55 * dlo), None);
        // Far away and on the other side of the Earth.
        assert_eq!(loc.locate(40.0, -100.0), None);
        assert_eq!(loc.locate(10.0, 118.0), None);
        assert_eq!(loc.locate(f64::NAN, 0.0), None);
    }

    #[test]
    fn footprint_keeps_the_square_and_the_filter() {
        let g = skewed();
        let loc = CellLocator::new(&g);
        let nx = g.nx();
        let (la, lo) = (g.lat(10, 15), g.lon(10, 15));
        let me = 10 * nx + 15;
        let mut out = Vec::new();
        loc.footprint(&g, (la, lo), me, 9.0, |c| c % 2 == 0, &mut out);
        assert!(!out.is_empty() && !out.contains(&me));
        assert!(out.windows(2).all(|w| w[0] < w[1]));
        for k in 0..g.ncells() {
            let (a, b) = (g.lat(k / nx, k % nx), g.lon(k / nx, k % nx));
            let inside = ((a - la) * KM_PER_DEG).abs() <= 9.0
                && (lon_diff(lo, b) * KM_PER_DEG * la.to_radians().cos()).abs() <= 9.0;
            assert_eq!(
                out.contains(&k),
                inside && k != me && k % 2 == 0,
                "cell {k}"
            );
        }
    }
}
