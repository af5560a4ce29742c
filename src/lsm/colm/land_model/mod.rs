//! CoLM2014 behind [`LandModel`] (`run:model = 'colm'`, docs/colm.md "In the ensemble"):
//!
//! - [`cell`]: per-cell parameters from the static fields (texture of the soil class,
//!   USGS vegetation, soil albedo, bounds),
//! - [`state`]: a member's state and its views, [`restart`]: its restart fields,
//! - [`step`]: forcing, clock and one step with its balance checks and ALMA fluxes,
//! - [`increment`]: soil-moisture increments on liquid water, [`qc`]: the QC view,
//! - [`pot_evap`]: the aerodynamic potential evaporation written as ALMA `PotEvap`.
//!
//! The control vector is CoLM's h2osoi of the 10 soil layers; the observation weights are
//! the default overlap of the sensing depth with the fixed layers (SMAP 5 cm: 0.350, 0.552,
//! 0.098; ASCAT 2 cm: 0.876, 0.124).

pub mod cell;
pub mod increment;
pub mod pot_evap;
pub mod qc;
pub mod restart;
pub mod state;
pub mod step;

pub use cell::ColmCell;
pub use state::ColmState;

use chrono::NaiveDateTime;

use super::column_step::initial_state;
use super::constants::{DENH2O, NSOIL, TFRZ};
use super::geometry::SoilGeometry;
use super::Tunables;
use crate::lsm::{
    BuildModel, CellStatics, FieldSpec, Forcing, LandModel, LsmError, ModelSetup, QcState,
    StepOutput,
};
use step::StepSetup;

/// CO₂ mixing ratio of the point driver (mol mol-1; 398.03 ppm).
pub const CO2: f64 = 398.03e-6;
/// Depth of the cold-start water table below the soil column (m) and aquifer water (mm),
/// CoLM's defaults (COLM.md §4).
pub const COLD_ZWT_BELOW: f64 = 1.0;
pub const COLD_WA: f64 = 4800.0;

/// The CoLM2014 soil-ground column as a [`LandModel`].
#[derive(Debug, Clone)]
pub struct ColmLsm {
    pub geometry: SoilGeometry,
    pub tun: Tunables,
    /// Forcing height (m) when the forcing gives none.
    pub default_forcing_height: f64,
}

impl Default for ColmLsm {
    fn default() -> Self {
        ColmLsm {
            geometry: SoilGeometry::standard(),
            tun: Tunables::default(),
            default_forcing_height: 10.0,
        }
    }
}

impl ColmLsm {
    fn setup(&self) -> StepSetup<'_> {
        StepSetup {
            geometry: &self.geometry,
            tun: &self.tun,
            default_height: self.default_forcing_height,
            co2: CO2,
        }
    }

    /// One step with CoLM's own outputs (balances, every flux), for tests and benchmarks.
    pub fn step_detailed(
        &self,
        p: &ColmCell,
        st: &mut ColmState,
        f: &Forcing,
        time_end: NaiveDateTime,
        dt: f64,
    ) -> Result<StepOutput, LsmError> {
        check_step(f, dt, time_end)?;
        step::step(p, &self.setup(), st, f, time_end, dt)
    }

    /// Total water of a member's column and aquifer (mm).
    pub fn total_water(&self, st: &ColmState) -> f64 {
        st.total_water()
    }
}

fn check_step(f: &Forcing, dt: f64, time_end: NaiveDateTime) -> Result<(), LsmError> {
    if !(dt > 0.0 && dt <= 86400.0) {
        return Err(LsmError::Parameter(format!(
            "time step {dt} s outside 0..86400"
        )));
    }
    crate::lsm::noah::check_forcing(f)
        .map_err(|m| LsmError::Forcing(format!("step ending {time_end}: {m}")))
}

impl BuildModel for ColmLsm {
    /// CoLM with its built-in tables; the static file must have USGS vegetation and STAS
    /// soil classes, and CoLM's 10 layers are fixed.
    fn build(setup: &ModelSetup) -> Result<Self, LsmError> {
        if !setup.vegetation_dataset.eq_ignore_ascii_case("USGS") {
            return Err(LsmError::Parameter(format!(
                "CoLM needs USGS vegetation classes, the static file has {}",
                setup.vegetation_dataset
            )));
        }
        if !setup.soil_dataset.eq_ignore_ascii_case("STAS") {
            return Err(LsmError::Parameter(format!(
                "CoLM maps STAS (STATSGO) soil classes to texture, the static file has {}",
                setup.soil_dataset
            )));
        }
        if setup.layer_thickness.is_some() {
            return Err(LsmError::Parameter(
                "CoLM's 10 soil layers are fixed; layer thicknesses cannot be given".into(),
            ));
        }
        Ok(ColmLsm::default())
    }
}

/// Cold-start soil: uniform temperature `t`, water θ_j Δz_j ρ_w as ice below T_f and as
/// liquid otherwise (as the point driver's cold start, COLM.md §10).
fn cold_soil(
    g: &SoilGeometry,
    theta: &[f64; NSOIL],
    t: f64,
) -> ([f64; NSOIL], [f64; NSOIL], [f64; NSOIL]) {
    let w: [f64; NSOIL] = std::array::from_fn(|j| theta[j] * g.dz[j] * DENH2O);
    let zero = [0.0; NSOIL];
    if t < TFRZ {
        ([t; NSOIL], zero, w)
    } else {
        ([t; NSOIL], w, zero)
    }
}

impl LandModel for ColmLsm {
    type CellParams = ColmCell;
    type State = ColmState;

    fn name(&self) -> &'static str {
        "colm-2014"
    }

    fn soil_layer_thickness(&self) -> &[f64] {
        &self.geometry.dz
    }

    fn cell_params(&self, statics: &CellStatics) -> Result<ColmCell, LsmError> {
        ColmCell::from_statics(statics, &self.geometry, &self.tun)
    }

    /// No snow, canopy water 0, water table 1 m below the column with 4800 mm in the
    /// aquifer; zenith, phenology and albedos are made at the first step's start.
    fn cold_start(
        &self,
        p: &ColmCell,
        soil_moisture: &[f64],
        temperature: f64,
    ) -> Result<ColmState, LsmError> {
        crate::lsm::check_cold_start_finite(NSOIL, soil_moisture, temperature)?;
        let theta: [f64; NSOIL] =
            std::array::from_fn(|j| soil_moisture[j].clamp(p.bounds[j].0, p.soil.porsl[j]));
        let soil = cold_soil(&self.geometry, &theta, temperature);
        let zwt = self.geometry.depth() + COLD_ZWT_BELOW;
        let setup = self.setup();
        let col = step::column(p, &setup, self.default_forcing_height);
        // Calendar day 1 stands in until the first step makes the time-dependent part.
        let column = initial_state(
            &col,
            (&soil.0, &soil.1, &soil.2),
            (0.0, 0.0, 0.0, zwt, COLD_WA),
            1.0,
        )?;
        Ok(ColmState {
            column,
            fresh: true,
        })
    }

    fn step(
        &self,
        p: &ColmCell,
        st: &mut ColmState,
        f: &Forcing,
        time_end: NaiveDateTime,
        dt: f64,
    ) -> Result<StepOutput, LsmError> {
        self.step_detailed(p, st, f, time_end, dt)
    }

    fn soil_moisture(&self, st: &ColmState) -> Vec<f64> {
        (0..NSOIL).map(|j| st.total(&self.geometry, j)).collect()
    }
    fn soil_temperature(&self, st: &ColmState) -> Vec<f64> {
        (0..NSOIL).map(|j| st.soil_temperature(j)).collect()
    }
    fn soil_liquid(&self, st: &ColmState) -> Vec<f64> {
        (0..NSOIL).map(|j| st.liquid(&self.geometry, j)).collect()
    }
    fn extend_soil_moisture(&self, st: &ColmState, out: &mut Vec<f64>) {
        out.extend((0..NSOIL).map(|j| st.total(&self.geometry, j)));
    }
    fn extend_soil_temperature(&self, st: &ColmState, out: &mut Vec<f64>) {
        out.extend((0..NSOIL).map(|j| st.soil_temperature(j)));
    }
    /// The ground temperature (top snow or soil layer).
    fn skin_temperature(&self, st: &ColmState) -> f64 {
        st.ground_temperature()
    }
    fn swe(&self, st: &ColmState) -> f64 {
        st.column.snow.scv
    }
    fn snow_depth(&self, st: &ColmState) -> f64 {
        st.column.snow.snowdp
    }
    fn canopy_water(&self, st: &ColmState) -> f64 {
        st.column.canopy.ldew
    }

    fn apply_increment(&self, p: &ColmCell, st: &mut ColmState, inc: &[f64]) -> Vec<f64> {
        let mut applied = vec![0.0; NSOIL];
        increment::apply(p, &self.geometry, st, inc, Some(&mut applied));
        applied
    }
    fn apply_increment_in_place(&self, p: &ColmCell, st: &mut ColmState, inc: &[f64]) {
        increment::apply(p, &self.geometry, st, inc, None);
    }

    fn soil_moisture_bounds(&self, p: &ColmCell) -> Vec<(f64, f64)> {
        p.bounds.to_vec()
    }

    fn qc_state(&self, p: &ColmCell, members: &[ColmState], t: NaiveDateTime) -> QcState {
        qc::qc_state(p, &self.geometry, members, t)
    }

    /// Wilting point and porosity of the top layer.
    fn surface_hydraulics(&self, p: &ColmCell) -> (f64, f64) {
        (p.wilt[0], p.soil.porsl[0])
    }

    fn restart_fields(&self) -> Vec<FieldSpec> {
        restart::field_specs()
    }
    fn pack_state(&self, st: &ColmState, out: &mut Vec<f64>) {
        restart::pack(st, out);
    }
    fn unpack_state(&self, data: &[f64]) -> Result<ColmState, LsmError> {
        restart::unpack(data)
    }
}
