//! Potential evaporation of a CoLM column for ALMA `PotEvap` (W m-2). CoLM2014 computes
//! none; this is the aerodynamic ("bulk") definition: the latent heat flux of a saturated
//! surface at the ground temperature T_g through the step's surface-layer conductance for
//! water vapour,
//!
//! ```text
//! PotEvap = λ ρ_a (q_sat(T_g, p_s) − q_a) k u* / f_q
//! ```
//!
//! with u* and the integrated moisture profile f_q of the whole surface as the step left them
//! (bare ground, canopy or their blend: `EnergyFluxes::surface`), so k u*/f_q = 1/r_aw, CoLM's
//! aerodynamic resistance for vapour between the surface and the forcing height; ρ_a and q_a
//! the forcing's air density and humidity; q_sat over water at or above T_f with λ = L_v,
//! over ice below it with λ = L_s. No stomatal, leaf boundary-layer or soil resistance enters.
//! Negative values (a surface colder than the air's frost or dew point) are kept. A
//! diagnostic only: nothing in the column uses it.

use super::super::constants::{HSUB, HVAP, TFRZ, VONKAR};
use super::super::saturation::saturation;
use super::super::surface_layer::SurfaceLayerState;

/// Potential evaporation (W m-2, upward +) at ground temperature `t_grnd` (K), surface
/// pressure `psrf` (Pa), air density `rhoair` (kg m-3), air humidity `qair` (kg kg-1) and
/// the surface layer `s` of the step. Zero when the step left no surface layer (u* = 0).
pub fn potential_evaporation(
    t_grnd: f64,
    psrf: f64,
    rhoair: f64,
    qair: f64,
    s: &SurfaceLayerState,
) -> f64 {
    if s.ustar <= 0.0 || s.fq <= 0.0 {
        return 0.0;
    }
    let qsat = saturation(t_grnd, psrf).qs;
    let latent = if t_grnd < TFRZ { HSUB } else { HVAP };
    latent * rhoair * (qsat - qair) * VONKAR * s.ustar / s.fq
}
