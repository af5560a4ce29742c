//! The spacing of a grid in km along its index axes: what spatially correlated fields on
//! the `(ny, nx)` index space need. A map-projected grid (WPS) has one spacing in projection
//! space (`DX`, `DY`); on the ground a cell is `DX / m` wide where m is the map factor, which
//! a field on the index space ignores (docs/perturbations.md).

use super::geo::distance_km;
use super::{Grid, GridError};

impl Grid {
    /// The same grid with its projection spacing (`dy_km`, `dx_km` > 0).
    pub fn with_projection_spacing(mut self, dy_km: f64, dx_km: f64) -> Result<Grid, GridError> {
        if !(dy_km > 0.0 && dx_km > 0.0 && dy_km.is_finite() && dx_km.is_finite()) {
            return Err(GridError::Invalid(format!(
                "projection spacing {dy_km} x {dx_km} km is not positive"
            )));
        }
        self.projection_spacing_km = Some((dy_km, dx_km));
        Ok(self)
    }

    /// The projection spacing (dy, dx) in km, when the grid came from a projection.
    pub fn projection_spacing_km(&self) -> Option<(f64, f64)> {
        self.projection_spacing_km
    }

    /// Spacing (dy, dx) in km along j and i: the projection spacing when there is one, else
    /// the mean great-circle distance between neighbouring centres along each axis (summed
    /// in row-major order). `None` when an axis has a single cell or the mean is not
    /// positive.
    pub fn spacing_km(&self) -> Option<(f64, f64)> {
        if let Some(s) = self.projection_spacing_km {
            return Some(s);
        }
        let (ny, nx) = self.dims();
        if ny < 2 || nx < 2 {
            return None;
        }
        let mean = |pairs: &mut dyn Iterator<Item = ((usize, usize), (usize, usize))>| {
            let (mut sum, mut n) = (0.0, 0usize);
            for ((ja, ia), (jb, ib)) in pairs {
                sum += distance_km(
                    self.lat(ja, ia),
                    self.lon(ja, ia),
                    self.lat(jb, ib),
                    self.lon(jb, ib),
                );
                n += 1;
            }
            sum / n as f64
        };
        let dy = mean(&mut (0..ny - 1).flat_map(|j| (0..nx).map(move |i| ((j, i), (j + 1, i)))));
        let dx = mean(&mut (0..ny).flat_map(|j| (0..nx - 1).map(move |i| ((j, i), (j, i + 1)))));
        (dy > 0.0 && dx > 0.0).then_some((dy, dx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spacing_of_projected_and_measured_grids() {
        // 0.1° lat-lon grid at the equator as a curvilinear grid: ≈ 11.1 km both ways.
        let (ny, nx) = (5, 6);
        let lat: Vec<f64> = (0..ny * nx).map(|k| (k / nx) as f64 * 0.1).collect();
        let lon: Vec<f64> = (0..ny * nx).map(|k| (k % nx) as f64 * 0.1).collect();
        let g = Grid::curvilinear(ny, nx, lat, lon, None).unwrap();
        let (dy, dx) = g.spacing_km().unwrap();
        assert!(
            (dy - 11.1195).abs() < 1e-3 && (dx - 11.119).abs() < 1e-2,
            "{dy} {dx}"
        );
        let p = g.with_projection_spacing(4.0, 3.0).unwrap();
        assert_eq!(p.spacing_km(), Some((4.0, 3.0)));
        assert!(p.with_projection_spacing(0.0, 3.0).is_err());
        let one = Grid::curvilinear(1, 2, vec![0.0; 2], vec![0.0, 1.0], None).unwrap();
        assert_eq!(one.spacing_km(), None);
    }
}
