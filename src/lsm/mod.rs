//! Land-surface models behind one trait. Pure physics: no I/O, no MPI, no global state.
//!
//! The ensemble driver, the EnKF and the image analysis only see [`LandModel`]:
//! per-cell parameters built from static fields, a column state, one step with one
//! step of forcing, the soil-moisture control vector, increments kept inside
//! physical bounds, and a flat list of restart fields.

pub mod bucket;
pub mod colm;
pub mod conformance;
pub mod noah;
pub use bucket::BucketLsm;

use chrono::NaiveDateTime;
use thiserror::Error;

/// Errors of the land-surface physics (bad parameters, inconsistent state, bad forcing).
#[derive(Debug, Error)]
pub enum LsmError {
    #[error("invalid parameter: {0}")]
    Parameter(String),
    #[error("inconsistent state: {0}")]
    State(String),
    #[error("invalid forcing: {0}")]
    Forcing(String),
    #[error("restart field: {0}")]
    Restart(String),
    #[error("parameter tables: {0}")]
    Tables(#[from] noah::tables::TableError),
}

/// A step failure of one ensemble member (0-based index within the cell).
#[derive(Debug, Error)]
#[error("member {member}: {source}")]
pub struct MemberError {
    pub member: usize,
    pub source: LsmError,
}

/// What a model's constructor may use: the datasets named by the static file and the
/// model's own namelist settings.
#[derive(Debug, Clone, Copy)]
pub struct ModelSetup<'a> {
    /// Soil classification of the static file (e.g. STAS).
    pub soil_dataset: &'a str,
    /// Vegetation classification of the static file (e.g. USGS).
    pub vegetation_dataset: &'a str,
    /// Directory of WRF-format parameter tables (`domain:parameter_tables`), if any.
    pub parameter_tables: Option<&'a std::path::Path>,
    /// Soil layer thicknesses (m) for models whose layering is configurable.
    pub layer_thickness: Option<&'a [f64]>,
}

/// A land model built from the run's setup: how the generic driver constructs `M`.
pub trait BuildModel: LandModel + Sized {
    fn build(setup: &ModelSetup) -> Result<Self, LsmError>;
}

pub use noah::NoahLsm;

/// One model step of atmospheric forcing for one column (SI units).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Forcing {
    /// Air temperature at forcing height (K).
    pub air_temperature: f64,
    /// Specific humidity at forcing height (kg kg-1).
    pub specific_humidity: f64,
    /// Surface pressure (Pa).
    pub surface_pressure: f64,
    /// Wind speed at forcing height (m s-1).
    pub wind_speed: f64,
    /// Total precipitation rate (kg m-2 s-1).
    pub precipitation: f64,
    /// Fraction of precipitation falling frozen (0..1).
    pub frozen_precip_fraction: f64,
    /// Downward shortwave radiation at the surface (W m-2).
    pub shortwave_down: f64,
    /// Downward longwave radiation at the surface (W m-2).
    pub longwave_down: f64,
    /// Height of the forcing level above the surface (m).
    pub forcing_height: f64,
}

/// Sand and clay content of a cell's fine earth (% by weight).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoilTexture {
    pub sand: f64,
    pub clay: f64,
}

/// Static description of one land cell, as read from the static file.
#[derive(Debug, Clone, PartialEq)]
pub struct CellStatics {
    pub latitude: f64,
    pub longitude: f64,
    /// Soil texture class (STATSGO, 1-based).
    pub soil_class: i32,
    /// Vegetation class (USGS or MODIS-IGBP, 1-based, per the table in use).
    pub vegetation_class: i32,
    /// Slope class (1-based, GENPARM).
    pub slope_class: i32,
    /// Monthly green vegetation fraction (0..1), January first.
    pub green_fraction_monthly: [f64; 12],
    /// Monthly snow-free background albedo (0..1), January first.
    pub albedo_monthly: [f64; 12],
    /// Deep soil (lower boundary) temperature (K).
    pub deep_soil_temperature: f64,
    /// Terrain elevation (m).
    pub elevation: f64,
    /// Maximum snow albedo (0..1).
    pub max_snow_albedo: f64,
    /// Texture from the static file's `PCT_SAND`/`PCT_CLAY` when it has them: CoLM uses it
    /// instead of the soil class's texture; Noah ignores it.
    pub soil_texture: Option<SoilTexture>,
}

/// Fluxes and diagnostics of one step, ALMA sign conventions
/// (Qh, Qle, Qg positive away from the surface into the atmosphere/soil as ALMA defines:
/// Qh and Qle upward positive, Qg downward positive; Qs, Qsb, Evap positive out of the column).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StepOutput {
    /// Sensible heat flux, upward (W m-2).
    pub qh: f64,
    /// Latent heat flux, upward (W m-2).
    pub qle: f64,
    /// Ground heat flux, downward into the soil (W m-2).
    pub qg: f64,
    /// Surface runoff (kg m-2 s-1).
    pub qs: f64,
    /// Subsurface runoff / drainage (kg m-2 s-1).
    pub qsb: f64,
    /// Total evapotranspiration (kg m-2 s-1).
    pub evap: f64,
    /// Net shortwave radiation, downward (W m-2).
    pub swnet: f64,
    /// Net longwave radiation, downward (W m-2).
    pub lwnet: f64,
    /// Snowmelt (kg m-2 s-1).
    pub qsm: f64,
    /// Surface albedo (-).
    pub albedo: f64,
    /// Potential evaporation (W m-2).
    pub potevap: f64,
}

/// Named restart/state field of fixed length per column.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    pub name: &'static str,
    pub len: usize,
    pub units: &'static str,
    pub long_name: &'static str,
}

/// The ensemble-mean state of one cell that the model-based observation QC reads.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QcState {
    /// Frozen water per layer, total − liquid soil moisture (m3 m-3).
    pub frozen: Vec<f64>,
    /// Skin temperature (K).
    pub skin_temperature: f64,
    /// Top soil layer temperature (K).
    pub top_soil_temperature: f64,
    /// Snow water equivalent (m of water).
    pub swe: f64,
    /// Snow-covered fraction (0..1).
    pub snow_cover: f64,
    /// Forest land cover.
    pub is_forest: bool,
    /// Green vegetation fraction at the time asked for (0..1).
    pub green_fraction: f64,
}

/// Layer weights of an observation sensing the top `depth_m` metres: each layer's overlap
/// with [0, depth_m] divided by depth_m (a non-positive depth senses the top layer only).
pub fn overlap_weights(thickness: &[f64], depth_m: f64) -> Vec<f64> {
    let mut w = vec![0.0; thickness.len()];
    if depth_m.is_nan() || depth_m <= 0.0 || thickness.is_empty() {
        if let Some(top) = w.first_mut() {
            *top = 1.0;
        }
        return w;
    }
    let mut top = 0.0;
    for (wk, &dz) in w.iter_mut().zip(thickness) {
        let overlap = (depth_m.min(top + dz) - top).max(0.0);
        *wk = overlap / depth_m;
        top += dz;
    }
    // A sensing depth below the column: the weights cover the column only; renormalise.
    let sum: f64 = w.iter().sum();
    if sum > 0.0 && sum != 1.0 {
        w.iter_mut().for_each(|x| *x /= sum);
    }
    w
}

/// A land-surface model: the contract between the physics and everything else.
/// The checks every model's cold start makes on its inputs: `n` soil moisture values and a
/// temperature in 150..400 K.
pub(crate) fn check_cold_start(
    n: usize,
    soil_moisture: &[f64],
    temperature: f64,
) -> Result<(), LsmError> {
    if soil_moisture.len() != n {
        return Err(LsmError::State(format!(
            "cold start needs {n} soil moisture values, got {}",
            soil_moisture.len()
        )));
    }
    if !(150.0..=400.0).contains(&temperature) {
        return Err(LsmError::State(format!(
            "cold start temperature {temperature} K outside 150..400 K"
        )));
    }
    Ok(())
}

/// [`check_cold_start`] and every soil moisture value finite.
pub(crate) fn check_cold_start_finite(
    n: usize,
    soil_moisture: &[f64],
    temperature: f64,
) -> Result<(), LsmError> {
    check_cold_start(n, soil_moisture, temperature)?;
    match soil_moisture.iter().position(|v| !v.is_finite()) {
        Some(k) => Err(LsmError::State(format!(
            "cold start soil moisture of layer {} is not finite",
            k + 1
        ))),
        None => Ok(()),
    }
}

pub trait LandModel: Send + Sync {
    /// Per-cell parameters derived once from the static fields and tables.
    type CellParams: Clone + Send + Sync;
    /// Complete prognostic state of one column (one ensemble member).
    type State: Clone + Send + Sync;

    fn name(&self) -> &'static str;
    /// Number of soil layers and their thicknesses (m), top first.
    fn soil_layer_thickness(&self) -> &[f64];
    fn n_soil_layers(&self) -> usize {
        self.soil_layer_thickness().len()
    }

    /// Build per-cell parameters; an unknown class is an error.
    fn cell_params(&self, statics: &CellStatics) -> Result<Self::CellParams, LsmError>;

    /// Cold-start state from uniform initial soil moisture (m3 m-3 per layer, clipped to the
    /// cell's valid range) and temperature (K).
    fn cold_start(
        &self,
        params: &Self::CellParams,
        soil_moisture: &[f64],
        temperature: f64,
    ) -> Result<Self::State, LsmError>;

    /// Advance one column by one step of length `dt` seconds ending at `time_end`.
    fn step(
        &self,
        params: &Self::CellParams,
        state: &mut Self::State,
        forcing: &Forcing,
        time_end: NaiveDateTime,
        dt: f64,
    ) -> Result<StepOutput, LsmError>;

    /// Advance all members of one cell together; a failure names the first member that
    /// failed. The default loops over `step`; implementations may vectorise across members.
    fn step_members(
        &self,
        params: &Self::CellParams,
        states: &mut [Self::State],
        forcings: &[Forcing],
        time_end: NaiveDateTime,
        dt: f64,
        out: &mut [StepOutput],
    ) -> Result<(), MemberError> {
        let members = states.iter_mut().zip(forcings).zip(out.iter_mut());
        for (member, ((s, f), o)) in members.enumerate() {
            *o = self
                .step(params, s, f, time_end, dt)
                .map_err(|source| MemberError { member, source })?;
        }
        Ok(())
    }

    /// Total soil moisture per layer (m3 m-3): the DA control vector.
    fn soil_moisture(&self, state: &Self::State) -> Vec<f64>;
    /// Soil temperature per layer (K).
    fn soil_temperature(&self, state: &Self::State) -> Vec<f64>;
    /// Append [`LandModel::soil_moisture`] to `out` (models override this to skip the
    /// temporary vector; output writing calls it for every member).
    fn extend_soil_moisture(&self, state: &Self::State, out: &mut Vec<f64>) {
        out.extend(self.soil_moisture(state));
    }
    /// Append [`LandModel::soil_temperature`] to `out` (see
    /// [`LandModel::extend_soil_moisture`]).
    fn extend_soil_temperature(&self, state: &Self::State, out: &mut Vec<f64>) {
        out.extend(self.soil_temperature(state));
    }
    /// Liquid soil water per layer (m3 m-3); a model without frozen soil water has all of
    /// its soil moisture liquid.
    fn soil_liquid(&self, state: &Self::State) -> Vec<f64> {
        self.soil_moisture(state)
    }
    /// Skin (radiative surface) temperature (K).
    fn skin_temperature(&self, state: &Self::State) -> f64;
    /// Snow water equivalent (kg m-2).
    fn swe(&self, state: &Self::State) -> f64;
    /// Snow depth (m).
    fn snow_depth(&self, state: &Self::State) -> f64;
    /// Canopy intercepted water (kg m-2).
    fn canopy_water(&self, state: &Self::State) -> f64;

    /// Add `increment` (m3 m-3 per layer) to total soil moisture, shift liquid water by the
    /// same amount, and keep each layer inside its physical bounds. Returns the increment
    /// actually applied.
    fn apply_increment(
        &self,
        params: &Self::CellParams,
        state: &mut Self::State,
        increment: &[f64],
    ) -> Vec<f64>;

    /// As [`LandModel::apply_increment`] without returning the applied increment (the
    /// ensemble's state perturbations call it for every cell and member; models override it
    /// to skip the allocation). The state must end up exactly as `apply_increment` leaves it.
    fn apply_increment_in_place(
        &self,
        params: &Self::CellParams,
        state: &mut Self::State,
        increment: &[f64],
    ) {
        self.apply_increment(params, state, increment);
    }

    /// Physical bounds (lower, upper) of soil moisture per layer for this cell (m3 m-3),
    /// top first.
    fn soil_moisture_bounds(&self, params: &Self::CellParams) -> Vec<(f64, f64)>;

    /// Weights of the layers in an observation that senses the top `depth_m` metres
    /// (sum 1): by default the overlap of each layer with [0, depth_m] over depth_m. With a
    /// sensing depth inside the top layer this is the top layer alone.
    fn surface_weights(&self, depth_m: f64) -> Vec<f64> {
        overlap_weights(self.soil_layer_thickness(), depth_m)
    }

    /// What the observation QC needs of one cell's ensemble at time `t` (ensemble means).
    fn qc_state(
        &self,
        params: &Self::CellParams,
        members: &[Self::State],
        t: NaiveDateTime,
    ) -> QcState;

    /// Wilting point and porosity of the surface layer (m3 m-3): the range of a retrieval
    /// given as degree of saturation.
    fn surface_hydraulics(&self, params: &Self::CellParams) -> (f64, f64);

    /// The restart fields of one column, in packing order.
    fn restart_fields(&self) -> Vec<FieldSpec>;
    /// Pack a state into a flat vector following `restart_fields` (bit-exact round trip).
    fn pack_state(&self, state: &Self::State, out: &mut Vec<f64>);
    /// Rebuild a state from a flat vector following `restart_fields`.
    fn unpack_state(&self, data: &[f64]) -> Result<Self::State, LsmError>;
}
