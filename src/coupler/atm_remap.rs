//! Atmosphere → land for one rank's cells through a weight file: read the source cells the
//! rank's rows use from a record on the atmosphere's grid, convert to SI, remap, check. The
//! one path of every mode that reads fields on an atmosphere grid, so data files on that
//! grid and the exchange directory give the same bits from the same values.

use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDateTime;

use crate::forcing::{
    check_role_values, conversion_to_si, ForcingError, ForcingRecord, ForcingRole, ForcingSpec,
};
use crate::grid::weights::{RowSubset, WeightMatrix};
use crate::io::xchg::{read_cells, CellValues};

/// The a→l rows of one rank's cells.
pub struct AtmToLand {
    rows: RowSubset,
    /// The source grid's `grid_dims` (x fastest).
    dims: Vec<usize>,
    targets: Arc<Vec<(f64, f64)>>,
}

impl AtmToLand {
    /// Rows of `ids` (this rank's land cells, at `targets` (lat, lon)) of `weights`.
    pub fn new(
        weights: &WeightMatrix,
        ids: &[u64],
        targets: Arc<Vec<(f64, f64)>>,
    ) -> Result<Self, crate::grid::weights::WeightsError> {
        let dims = weights.source().dims.clone();
        Ok(AtmToLand {
            rows: weights.rows(ids)?,
            dims,
            targets,
        })
    }

    /// The record at `time` in `path`: the variables of `spec` (names and expected units;
    /// a file's own `units` attribute converts) remapped to the rank's cells.
    pub fn record(
        &self,
        path: &Path,
        time: NaiveDateTime,
        spec: &ForcingSpec,
    ) -> Result<ForcingRecord, ForcingError> {
        self.record_from(path, time, spec, |names, ids| {
            read_cells(path, names, &self.dims, ids).map_err(|e| e.to_string())
        })
    }

    /// As [`AtmToLand::record`], the source values coming from `read(names, source ids)`
    /// (a file, or a record received in memory); `origin` names the source in errors.
    pub fn record_from(
        &self,
        origin: &Path,
        time: NaiveDateTime,
        spec: &ForcingSpec,
        read: impl FnOnce(&[&str], &[u64]) -> Result<Vec<CellValues>, String>,
    ) -> Result<ForcingRecord, ForcingError> {
        let names: Vec<&str> = ForcingRole::ALL
            .iter()
            .map(|r| spec.variables.get(*r).name.as_str())
            .collect();
        let format = |message: String| ForcingError::Format {
            path: origin.to_path_buf(),
            message,
        };
        let raw = read(&names, self.rows.source_ids()).map_err(format)?;
        let mut values: [Vec<f64>; 7] = Default::default();
        for ((role, name), field) in ForcingRole::ALL.into_iter().zip(&names).zip(raw) {
            let expected = &spec.variables.get(role).units;
            let units = field.units.unwrap_or_else(|| expected.clone());
            let conv = conversion_to_si(role, &units).ok_or_else(|| ForcingError::Units {
                path: origin.to_path_buf(),
                variable: name.to_string(),
                role,
                units: units.clone(),
                expected: expected.clone(),
            })?;
            let si: Vec<f64> = field.values.iter().map(|&v| conv.apply(v)).collect();
            let mut at = self
                .rows
                .remap(&si)
                .map_err(|e| format(format!("variable {name} at {time}: {e}")))?;
            check_role_values(role, &mut at, &self.targets, (origin, name, time))?;
            values[role.index()] = at;
        }
        Ok(ForcingRecord::new(time, origin.to_path_buf(), values))
    }
}
