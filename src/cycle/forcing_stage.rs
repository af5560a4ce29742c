//! The forcing stage: this rank's cells' forcing for each step from the data files
//! (`&forcing`), with the next step's file read ahead during the physics. The first
//! forcing source; the coupler's sources will sit behind the same two calls.

use chrono::NaiveDateTime;

use super::error::CycleError;
use crate::config::{Config, ForcingVariable, Remap};
use crate::forcing::{ForcingReader, ForcingSpec, ForcingVariables, VariableSpec};
use crate::grid::remap::RemapMethod;
use crate::lsm::{CellStatics, Forcing};

/// Forcing description from the `&forcing` group.
pub fn forcing_spec(cfg: &Config) -> ForcingSpec {
    let f = &cfg.forcing;
    let mut variables = ForcingVariables::gldas();
    let set = |spec: &mut VariableSpec, var: ForcingVariable| {
        let (name, units) = f.variable(var);
        *spec = VariableSpec::new(name, units);
    };
    set(&mut variables.air_temperature, ForcingVariable::Tair);
    set(&mut variables.specific_humidity, ForcingVariable::Qair);
    set(&mut variables.surface_pressure, ForcingVariable::Psurf);
    set(&mut variables.wind_speed, ForcingVariable::Wind);
    set(&mut variables.precipitation, ForcingVariable::Rainf);
    set(&mut variables.shortwave_down, ForcingVariable::Swdown);
    set(&mut variables.longwave_down, ForcingVariable::Lwdown);
    let mut spec = ForcingSpec::gldas(f.directory.clone());
    spec.file_template = f.file_template.clone();
    spec.interval_seconds = i64::from(f.interval_hours) * 3600;
    spec.variables = variables;
    spec.forcing_height = f.forcing_height;
    spec.sw_zenith_weighting = f.sw_zenith_weighting;
    spec.remap = match f.remap {
        Remap::Bilinear => RemapMethod::Bilinear,
        Remap::Nearest => RemapMethod::Nearest,
    };
    spec
}

/// The forcing of this rank's cells (none on a rank without land cells).
pub(super) struct ForcingStage {
    reader: Option<ForcingReader>,
}

impl ForcingStage {
    pub(super) fn new(cfg: &Config, cells: &[CellStatics]) -> Result<Self, CycleError> {
        if cells.is_empty() {
            return Ok(ForcingStage { reader: None });
        }
        let targets: Vec<(f64, f64)> = cells.iter().map(|s| (s.latitude, s.longitude)).collect();
        let reader = ForcingReader::new(forcing_spec(cfg), &targets)?;
        Ok(ForcingStage {
            reader: Some(reader),
        })
    }

    /// The unperturbed forcing of step (t0, t1] per cell, and a read ahead of the files of
    /// step `next` (if it needs a new one) while this step's physics runs. `None` on a rank
    /// without cells.
    pub(super) fn forcing(
        &mut self,
        (t0, t1): (NaiveDateTime, NaiveDateTime),
        next: Option<(NaiveDateTime, NaiveDateTime)>,
    ) -> Result<Option<Vec<Forcing>>, CycleError> {
        let Some(reader) = self.reader.as_mut() else {
            return Ok(None);
        };
        let base = reader.forcing_for_step(t0, t1);
        if let Some((n0, n1)) = next {
            reader.prefetch_step(n0, n1);
        }
        Ok(Some(base?))
    }
}
