//! Land → atmosphere for every export transport: the seven exported fields remapped onto
//! the atmosphere grid of `coupler:l2a_weights` (first-order conservative, land mask as
//! source mask, §4), f32, NaN where an atmosphere cell has no land. The exchange directory
//! writes them as a file, MPMD sends them as a record, from the same values.

use super::{CouplerError, LandFields};
use crate::grid::weights::{RowSubset, WeightMatrix};
use crate::io::xchg::AtmGrid;

/// One exported field on the atmosphere grid (layer-major when layered).
#[derive(Debug, Clone, PartialEq)]
pub struct AtmField {
    pub name: &'static str,
    pub units: &'static str,
    pub long_name: &'static str,
    /// Number of layers (0 = a surface field).
    pub layers: usize,
    pub values: Vec<f32>,
}

/// The land → atmosphere rows and the atmosphere grid they fill.
pub struct LandToAtm {
    l2a: RowSubset,
    grid: AtmGrid,
}

impl LandToAtm {
    /// From conservative `weights` already checked against the land grid.
    pub fn new(weights: &WeightMatrix) -> Self {
        let d = weights.destination();
        LandToAtm {
            l2a: weights.all_rows(),
            grid: atm_grid(&d.dims, &d.lat, &d.lon),
        }
    }

    pub fn grid(&self) -> &AtmGrid {
        &self.grid
    }

    /// The seven fields of `f` on the atmosphere grid, in the order of the export table.
    pub fn fields(&self, f: &LandFields) -> Result<Vec<AtmField>, CouplerError> {
        let n = f.n_layers();
        let field = |name, units, long_name, layers, values| AtmField {
            name,
            units,
            long_name,
            layers,
            values,
        };
        Ok(vec![
            field(
                "SoilMoistV",
                "m3 m-3",
                "volumetric soil moisture",
                n,
                self.remap_layers(f, &f.soil_moisture)?,
            ),
            field(
                "SoilLiqV",
                "m3 m-3",
                "volumetric liquid soil water",
                n,
                self.remap_layers(f, &f.soil_liquid)?,
            ),
            field(
                "SoilTemp",
                "K",
                "soil temperature",
                n,
                self.remap_layers(f, &f.soil_temperature)?,
            ),
            field(
                "AvgSurfT",
                "K",
                "surface skin temperature",
                0,
                self.remap(f, &f.skin_temperature, 1, 0)?,
            ),
            field(
                "SWE",
                "kg m-2",
                "snow water equivalent",
                0,
                self.remap(f, &f.swe, 1, 0)?,
            ),
            field(
                "SnowDepth",
                "m",
                "snow depth",
                0,
                self.remap(f, &f.snow_depth, 1, 0)?,
            ),
            field(
                "CanopInt",
                "kg m-2",
                "canopy intercepted water",
                0,
                self.remap(f, &f.canopy_water, 1, 0)?,
            ),
        ])
    }

    /// One 2-D field on the atmosphere grid: the land-part mean, NaN where no land.
    fn remap(
        &self,
        fields: &LandFields,
        values: &[f32],
        width: usize,
        k: usize,
    ) -> Result<Vec<f32>, CouplerError> {
        let src_ids = self.l2a.source_ids();
        let mut src = Vec::with_capacity(src_ids.len());
        let mut mask = Vec::with_capacity(src_ids.len());
        for g in src_ids {
            match fields.ids.binary_search(g) {
                Ok(c) => {
                    src.push(f64::from(values[c * width + k]));
                    mask.push(true);
                }
                Err(_) => {
                    src.push(f64::NAN);
                    mask.push(false);
                }
            }
        }
        let mut atm = vec![f64::NAN; self.grid.n_cells()];
        self.l2a.masked_mean(&src, &mask, &mut atm)?;
        Ok(atm.iter().map(|&v| v as f32).collect())
    }

    /// A layered field, layer-major on the atmosphere grid.
    fn remap_layers(&self, f: &LandFields, values: &[f32]) -> Result<Vec<f32>, CouplerError> {
        let n = f.n_layers();
        let mut out = Vec::with_capacity(n * self.grid.n_cells());
        for k in 0..n {
            out.extend(self.remap(f, values, n, k)?);
        }
        Ok(out)
    }
}

/// A rank-2 destination with the centres of a regular lat-lon grid is written as such;
/// anything else (a cubed sphere) cell by cell.
fn atm_grid(dims: &[usize], lat: &[f64], lon: &[f64]) -> AtmGrid {
    if let [nx, ny] = *dims {
        let la: Vec<f64> = (0..ny).map(|j| lat[j * nx]).collect();
        let lo: Vec<f64> = lon[..nx].to_vec();
        let regular =
            (0..ny).all(|j| (0..nx).all(|i| lat[j * nx + i] == la[j] && lon[j * nx + i] == lo[i]));
        if regular {
            return AtmGrid::LatLon { lat: la, lon: lo };
        }
    }
    AtmGrid::Cells {
        lat: lat.to_vec(),
        lon: lon.to_vec(),
    }
}
