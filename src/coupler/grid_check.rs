//! The atmosphere grid of a delivery (exchange files or MPMD records) against the source
//! grid of `coupler:a2l_weights`: the weights address cells by position, so the centres
//! must be the weights' own, cell for cell.

use crate::io::weights::GridCells;

/// Cell centres `lat`, `lon` (degrees) of an atmosphere grid against the source grid of the
/// a→l weights: same count, centres within 1e-6° (longitude modulo 360); the first
/// mismatch is named.
pub fn check_grid(source: &GridCells, lat: &[f64], lon: &[f64]) -> Result<(), String> {
    use crate::grid::CENTRE_TOLERANCE_DEG as TOL;
    if lat.len() != source.len() {
        return Err(format!(
            "{} atmosphere cells, the a2l_weights source grid has {}",
            lat.len(),
            source.len()
        ));
    }
    let off = (0..lat.len()).find(|&k| {
        (lat[k] - source.lat[k]).abs() > TOL
            || crate::grid::lon_diff(lon[k], source.lon[k]).abs() > TOL
    });
    match off {
        None => Ok(()),
        Some(k) => Err(format!(
            "atmosphere cell {k} is at ({}, {}), the a2l_weights source cell {} at ({}, {}): \
             not the grid of the weights",
            lat[k],
            lon[k],
            k + 1,
            source.lat[k],
            source.lon[k]
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(lat: Vec<f64>, lon: Vec<f64>) -> GridCells {
        GridCells {
            dims: vec![lat.len()],
            lat,
            lon,
            mask: None,
            area: None,
            frac: None,
        }
    }

    #[test]
    fn the_grid_check_names_the_first_cell_off_the_weights_grid() {
        let g = cells(vec![10.0, 10.5], vec![-96.5, 264.0]);
        assert!(check_grid(&g, &[10.0, 10.5], &[263.5, -96.0]).is_ok());
        let e = check_grid(&g, &[10.0, 10.6], &[-96.5, -96.0]).unwrap_err();
        assert!(
            e.contains("atmosphere cell 1") && e.contains("source cell 2"),
            "{e}"
        );
        let e = check_grid(&g, &[10.0], &[-96.5]).unwrap_err();
        assert!(
            e.contains("1 atmosphere cells") && e.contains("has 2"),
            "{e}"
        );
    }
}
