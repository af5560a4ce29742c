//! Surface runoff with a TOPMODEL saturated fraction (SIMTOP, Niu et al. 2005, eqs. 5–8;
//! CLM 3.5 form): the role of CoLM2014's `surfacerunoff`.
//!
//! f_sat = wtfact · min(1, exp(−½ f z_wt)), f = 0.5 m-1; the infiltration capacity is the
//! smallest ice-impeded saturated conductivity of layers 1–3, q_inmax = min 10^(−6 f_ice) K_sat,
//! zero when the top layer's effective porosity is below `wimp`. Water reaching the surface on
//! the saturated fraction runs off; elsewhere only what exceeds q_inmax.

use super::hydraulics::{ice_impedance, LayerWater};
use super::params::SoilParams;

/// Decay factor of the saturated fraction with water-table depth (m-1).
pub const FFF: f64 = 0.5;

/// Saturated fraction of the cell (-) for a water table `zwt` metres deep.
pub fn saturated_fraction(wtfact: f64, zwt: f64) -> f64 {
    wtfact * (-0.5 * FFF * zwt).exp().min(1.0)
}

/// Maximum infiltration rate (mm s-1).
pub fn infiltration_capacity(p: &SoilParams, w: &[LayerWater], wimp: f64) -> f64 {
    if w[0].eff_porosity < wimp {
        return 0.0;
    }
    (0..3)
        .map(|j| ice_impedance(w[j].icefrac) * p.hksati[j])
        .fold(f64::INFINITY, f64::min)
}

/// Surface runoff (mm s-1) of `gwat` (mm s-1) reaching the soil surface; zero when no water
/// arrives.
pub fn surface_runoff(
    p: &SoilParams,
    w: &[LayerWater],
    wtfact: f64,
    wimp: f64,
    zwt: f64,
    gwat: f64,
) -> f64 {
    if gwat <= 0.0 {
        return 0.0;
    }
    let fsat = saturated_fraction(wtfact, zwt);
    let qinmax = infiltration_capacity(p, w, wimp);
    fsat * gwat + (1.0 - fsat) * (gwat - qinmax).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsm::colm::hydraulics::layer_water;

    #[test]
    fn light_rain_runs_off_only_on_the_saturated_fraction() {
        let p = SoilParams::uniform(0.45, -200.0, 6.0, 1e-3, 2.3e6, 1.6, 0.2);
        let w = [layer_water(0.45, 0.02, 5.0, 0.0); 3];
        let zwt = 4.0;
        let fsat = 0.38 * (-1.0f64).exp();
        assert!((saturated_fraction(0.38, zwt) - fsat).abs() < 1e-16);
        let r = surface_runoff(&p, &w, 0.38, 0.05, zwt, 5e-4);
        assert!((r - fsat * 5e-4).abs() < 1e-18);
        // Heavy rain: the excess over K_sat runs off on the rest.
        let r = surface_runoff(&p, &w, 0.38, 0.05, zwt, 3e-3);
        assert!((r - (fsat * 3e-3 + (1.0 - fsat) * 2e-3)).abs() < 1e-17);
        assert_eq!(surface_runoff(&p, &w, 0.38, 0.05, zwt, -1e-4), 0.0);
        // Water table at or above the surface: the full wtfact.
        assert_eq!(saturated_fraction(0.38, 0.0), 0.38);
    }
}
