//! Optional soil texture fields of a landcycle static file: sand and clay content of the fine
//! earth (% by weight) per cell, named `PCT_SAND` and `PCT_CLAY` as CLM/CTSM surface datasets
//! name them (there with a soil-level dimension; here one value per column, `(Y, X)`). CoLM
//! computes its soil parameters from them with the pedotransfer rules instead of its
//! soil-class lookup; Noah reads only the classes. Both variables or neither.

use std::path::Path;

use super::statics::range_err;
use super::{Grid, GridError};
use crate::lsm::SoilTexture;

/// Variable names in the static file.
pub const SAND_VAR: &str = "PCT_SAND";
pub const CLAY_VAR: &str = "PCT_CLAY";

/// Sand and clay content (%) of every cell, row-major `(Y, X)`.
#[derive(Debug, Clone, PartialEq)]
pub struct SoilTextureFields {
    pub sand: Vec<f64>,
    pub clay: Vec<f64>,
}

impl SoilTextureFields {
    /// The fields from the two variables as read (`None` = absent): both or neither; one
    /// without the other is an error naming the file and the missing variable.
    pub fn from_parts(
        path: &Path,
        sand: Option<Vec<f64>>,
        clay: Option<Vec<f64>>,
    ) -> Result<Option<Self>, GridError> {
        match (sand, clay) {
            (Some(sand), Some(clay)) => Ok(Some(SoilTextureFields { sand, clay })),
            (None, None) => Ok(None),
            (s, _) => Err(GridError::MissingVariable {
                path: path.to_path_buf(),
                variable: format!(
                    "{} (the static file has {} without it: texture needs both)",
                    if s.is_some() { CLAY_VAR } else { SAND_VAR },
                    if s.is_some() { SAND_VAR } else { CLAY_VAR },
                ),
            }),
        }
    }

    /// The texture of cell `k`.
    pub fn at(&self, k: usize) -> SoilTexture {
        SoilTexture {
            sand: self.sand[k],
            clay: self.clay[k],
        }
    }

    /// On land cells each value is finite and in [0, 100] % and sand + clay ≤ 100 %; errors
    /// name the file, the variable and the cell. Water cells are not checked.
    pub fn validate(&self, source: &Path, grid: &Grid) -> Result<(), GridError> {
        let n = grid.ncells();
        for (name, v) in [(SAND_VAR, &self.sand), (CLAY_VAR, &self.clay)] {
            if v.len() != n {
                let (ny, nx) = grid.dims();
                return Err(GridError::Shape {
                    path: source.to_path_buf(),
                    variable: name.to_string(),
                    expected: vec![ny, nx],
                    found: vec![v.len()],
                });
            }
        }
        let mask = grid.land_mask();
        for k in (0..n).filter(|&k| mask[k]) {
            for (name, v) in [(SAND_VAR, self.sand[k]), (CLAY_VAR, self.clay[k])] {
                if !(0.0..=100.0).contains(&v) {
                    return Err(range_err(source, name, grid, k, None, v, "[0, 100] %"));
                }
            }
            let (s, c) = (self.sand[k], self.clay[k]);
            if s + c > 100.0 {
                let allowed = format!("at most 100 - {SAND_VAR} = {} %", 100.0 - s);
                return Err(range_err(source, CLAY_VAR, grid, k, None, c, &allowed));
            }
        }
        Ok(())
    }
}
