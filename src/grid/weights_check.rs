//! Checking a weight file's grids against landcycle's: the file's address of global id
//! `g = j·nx + i` is `g + 1`, which holds when the file's grid has the same cell count,
//! `grid_dims = [nx, ny]` (x fastest) and the same cell centres in the same order. The first
//! difference is reported; a grid stored with latitude and longitude swapped is recognised
//! and named as such.

use super::weights::{Side, WeightMatrix, WeightsError};
use super::{lon_diff, Grid};
use crate::io::weights::GridCells;

/// Largest difference of a cell centre (degrees; longitude modulo 360) between a weight
/// file and landcycle's grid.
pub const CENTRE_TOLERANCE_DEG: f64 = 1e-6;

impl WeightMatrix {
    /// Check that the file's source grid is `grid`, cell for cell.
    pub fn check_source(&self, grid: &Grid) -> Result<(), WeightsError> {
        check_side(self, Side::Source, self.source(), grid)
    }

    /// Check that the file's destination grid is `grid`, cell for cell.
    pub fn check_destination(&self, grid: &Grid) -> Result<(), WeightsError> {
        check_side(self, Side::Destination, self.destination(), grid)
    }
}

fn check_side(
    m: &WeightMatrix,
    side: Side,
    cells: &GridCells,
    grid: &Grid,
) -> Result<(), WeightsError> {
    let path = m.path().to_path_buf();
    let (ny, nx) = grid.dims();
    if cells.len() != grid.ncells() {
        return Err(WeightsError::Size {
            path,
            side,
            file: cells.len(),
            grid: grid.ncells(),
        });
    }
    let dims_ok = cells.dims == [nx, ny] || cells.dims == [nx * ny];
    if !dims_ok && cells.dims == [ny, nx] {
        let detail = format!(
            "{}_grid_dims = [{ny}, {nx}] is [ny, nx] of landcycle's grid, expected [nx, ny] = [{nx}, {ny}]",
            if side == Side::Source { "src" } else { "dst" }
        );
        return Err(WeightsError::Transposed { path, side, detail });
    }
    if !dims_ok {
        return Err(WeightsError::Dims {
            path,
            side,
            file: cells.dims.clone(),
            grid: [nx, ny],
        });
    }
    let Some(k) = (0..cells.len()).find(|&k| !same_centre(cells, k, grid, k / nx, k % nx)) else {
        return Ok(());
    };
    if ny > 1 && nx > 1 && (0..cells.len()).all(|k| same_centre(cells, k, grid, k % ny, k / ny)) {
        let detail = format!(
            "its cell centres are landcycle's with latitude running fastest (file address {} is grid cell j={}, i={})",
            k + 1,
            k % ny,
            k / ny
        );
        return Err(WeightsError::Transposed { path, side, detail });
    }
    let (j, i) = (k / nx, k % nx);
    Err(WeightsError::Centre {
        path,
        side,
        address: k + 1,
        j,
        i,
        file_lat: cells.lat[k],
        file_lon: cells.lon[k],
        grid_lat: grid.lat(j, i),
        grid_lon: grid.lon(j, i),
        tolerance: CENTRE_TOLERANCE_DEG,
    })
}

/// The file's cell `k` and the grid's cell (j, i) have the same centre (longitude modulo
/// 360, and any longitude at a pole).
fn same_centre(cells: &GridCells, k: usize, grid: &Grid, j: usize, i: usize) -> bool {
    let lat = grid.lat(j, i);
    if (cells.lat[k] - lat).abs() > CENTRE_TOLERANCE_DEG {
        return false;
    }
    lat.abs() >= 90.0 - CENTRE_TOLERANCE_DEG
        || lon_diff(cells.lon[k], grid.lon(j, i)).abs() <= CENTRE_TOLERANCE_DEG
}
