//! Spatially varying observation errors from a triple-collocation map (`da:<sensor>_error_map`,
//! docs/assimilation.md): per cell, the error variance that `landcycle tca` estimated for the
//! sensor's assimilated observations replaces the configured constant error. The variance is
//! taken as it is, so it must be in the space the EnKF sees — bias-corrected and volumetric
//! (m6 m-6), which is what TCA of a `diag:` dataset (the `<sensor>_obs` of a DA run's
//! diagnostics) estimates. Cells without a usable estimate keep the constant.

use std::path::Path;

use super::analysis_1d::AssimError;
use crate::grid::Grid;
use crate::io::error_map::read_map_field;

/// Units the map's variance must carry (those `landcycle tca --maps` writes).
pub const VARIANCE_UNITS: &str = "m6 m-6";

/// Largest difference (degrees) between a map's cell centre and the model's.
const CENTRE_TOLERANCE_DEG: f64 = 1e-6;

/// Per-cell observation error standard deviations of one sensor from its map, for the cells
/// `ids` (global ids) in that order; NaN where the map has no usable estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct ObsErrorMap {
    pub sd: Vec<f64>,
    /// Land cells of the whole grid with an estimate, and land cells in all.
    pub land_from_map: usize,
    pub land: usize,
}

impl ObsErrorMap {
    /// The error sd of local cell `lc`: the map's where it has one, else `fallback`.
    pub fn error_sd(&self, lc: usize, fallback: f64) -> f64 {
        match self.sd.get(lc) {
            Some(&s) if s.is_finite() => s,
            _ => fallback,
        }
    }
}

fn map_err(path: &Path, message: String) -> AssimError {
    AssimError::ErrorMap {
        path: path.to_path_buf(),
        message,
    }
}

/// Read variable `variable` of the map `path`, check its units and grid against `grid`, and
/// take the error sd of each cell of `ids`. A cell uses the map where the variance is finite
/// and positive and, when the file has the TCA `status` variable, its status is 0 (ok).
pub fn read_obs_error_map(
    path: &Path,
    variable: &str,
    grid: &Grid,
    ids: &[u64],
) -> Result<ObsErrorMap, AssimError> {
    let m = read_map_field(path, variable).map_err(|e| map_err(path, e.to_string()))?;
    if m.units != VARIANCE_UNITS {
        return Err(map_err(
            path,
            format!(
                "variable {variable}: units '{}', expected '{VARIANCE_UNITS}' (an error variance \
                 of volumetric soil moisture, as landcycle tca writes it)",
                m.units
            ),
        ));
    }
    check_grid(path, (m.ny, m.nx), (&m.lat, &m.lon), grid)?;
    let status = read_map_field(path, "status").ok().map(|s| s.data);
    let usable = |k: usize| {
        let ok = status.as_ref().is_none_or(|s| s[k] == 0.0);
        (ok && m.data[k].is_finite() && m.data[k] > 0.0).then(|| m.data[k].sqrt())
    };
    let sd = ids
        .iter()
        .map(|&id| usable(id as usize).unwrap_or(f64::NAN))
        .collect();
    let land = grid.land_mask();
    Ok(ObsErrorMap {
        sd,
        land_from_map: (0..land.len())
            .filter(|&k| land[k] && usable(k).is_some())
            .count(),
        land: land.iter().filter(|&&l| l).count(),
    })
}

/// The map must be on the model grid: same shape, cell centres within 1e-6°.
fn check_grid(
    path: &Path,
    (ny, nx): (usize, usize),
    (lat, lon): (&[f64], &[f64]),
    grid: &Grid,
) -> Result<(), AssimError> {
    if (ny, nx) != (grid.ny(), grid.nx()) {
        return Err(map_err(
            path,
            format!(
                "grid {ny} x {nx} (y x x) differs from the model grid {} x {}",
                grid.ny(),
                grid.nx()
            ),
        ));
    }
    for j in 0..ny {
        for i in 0..nx {
            let k = j * nx + i;
            let dlon = (lon[k] - grid.lon(j, i) + 540.0).rem_euclid(360.0) - 180.0;
            let dlat = lat[k] - grid.lat(j, i);
            if !(dlat.abs() <= CENTRE_TOLERANCE_DEG && dlon.abs() <= CENTRE_TOLERANCE_DEG) {
                return Err(map_err(
                    path,
                    format!(
                        "cell (y {j}, x {i}) is centred at ({}, {}), the model cell at ({}, {}): \
                         not the model grid",
                        lat[k],
                        lon[k],
                        grid.lat(j, i),
                        grid.lon(j, i)
                    ),
                ));
            }
        }
    }
    Ok(())
}
