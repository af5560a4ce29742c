//! Mode 'wrf' export: the ensemble-mean land state at the export time written into an
//! atomically updated copy of WRF's `wrfinput` (`io::wrf_input`), which initialises the
//! next WRF forecast. Paths are strftime patterns of the export time.

use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;

use super::{CouplerError, LandExport, LandFields};
use crate::io::wrf_input::{export_wrfinput, WrfLandState};
use crate::lsm::noah::tables::{ParameterTables, SOIL_STATSGO};

/// The `wrfinput` export of a run.
pub struct WrfExport {
    input: PathBuf,
    output: PathBuf,
    /// Porosity (maxsmc) of each STATSGO soil class, the bound SMOIS must respect.
    porosity: Vec<f64>,
}

impl WrfExport {
    pub fn new(input: &Path, output: &Path) -> Self {
        let tables = ParameterTables::builtin();
        let porosity = tables
            .soil_dataset(SOIL_STATSGO)
            .map(|s| s.classes.iter().map(|c| c.maxsmc).collect())
            .unwrap_or_default();
        WrfExport {
            input: input.to_path_buf(),
            output: output.to_path_buf(),
            porosity,
        }
    }
}

/// `pattern` with the strftime fields of `t`.
fn at(pattern: &Path, t: NaiveDateTime) -> PathBuf {
    PathBuf::from(t.format(&pattern.to_string_lossy()).to_string())
}

impl LandExport for WrfExport {
    fn export(&mut self, time: NaiveDateTime, fields: &LandFields) -> Result<(), CouplerError> {
        let (input, output) = (at(&self.input, time), at(&self.output, time));
        let state = WrfLandState {
            smois: &fields.soil_moisture,
            sh2o: &fields.soil_liquid,
            tslb: &fields.soil_temperature,
            tsk: &fields.skin_temperature,
            snow: &fields.swe,
            snowh: &fields.snow_depth,
            canwat: &fields.canopy_water,
        };
        let s = export_wrfinput(&input, &output, time, &fields.ids, &state, &self.porosity)
            .map_err(|e| CouplerError::Wrf(e.to_string()))?;
        tracing::info!(
            "land state at {time} written into {} ({} cells; {} landcycle land cells are water \
             in wrfinput and were left alone)",
            output.display(),
            s.cells_written,
            s.cells_water_in_wrf
        );
        Ok(())
    }
}
