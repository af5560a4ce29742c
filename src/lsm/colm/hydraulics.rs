//! Soil water retention and conductivity of Clapp & Hornberger (1978) with Campbell's
//! conductivity exponent, as CoLM and CLM 3.0 use them (Oleson et al. 2004, eqs. 7.82–7.85),
//! plus the volumetric partition of a layer's water into ice, liquid and effective porosity
//! (the set-up at the start of CoLM's `WATER`).
//!
//! ψ = ψ_sat s^(−B) with s = θ_liq/θ_sat ∈ [0.01, 1], ψ ≥ ψ_min (mm); below freezing the
//! potential follows the temperature alone (Fuchs et al. 1978), ψ = 10³ L_f (T − T_f)/(g T) mm.
//! K = K_sat s^(2B+3) (mm s-1), reduced by the ice impedance 10^(−6 f_ice).

use super::constants::{DENH2O, DENICE, GRAV, HFUS, NSOIL, TFRZ};
use super::params::SoilParams;

/// Ice impedance exponent of the conductivity (CLM 4.5's Ω = 6, CoLM2014's `e_ice`).
pub const E_ICE: f64 = 6.0;

/// Volumetric state of one soil layer.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LayerWater {
    /// Ice volume fraction, at most the porosity (m3 m-3).
    pub vol_ice: f64,
    /// Pore space left by the ice, at least 0.01 (m3 m-3).
    pub eff_porosity: f64,
    /// Liquid volume fraction, at most the effective porosity (m3 m-3).
    pub vol_liq: f64,
    /// Ice fraction of the pore space (-).
    pub icefrac: f64,
}

/// Partition layer water (kg m-2) of a layer `dz` metres thick with porosity `porsl`.
pub fn layer_water(porsl: f64, dz: f64, wliq: f64, wice: f64) -> LayerWater {
    let vol_ice = (wice / (dz * DENICE)).min(porsl);
    let eff_porosity = (porsl - vol_ice).max(0.01);
    let vol_liq = (wliq / (dz * DENH2O)).min(eff_porosity);
    let icefrac = if porsl < 1e-6 {
        0.0
    } else {
        (vol_ice / porsl).min(1.0)
    };
    LayerWater {
        vol_ice,
        eff_porosity,
        vol_liq,
        icefrac,
    }
}

/// All layers of the column.
pub fn column_water(
    p: &SoilParams,
    dz: &[f64; NSOIL],
    wliq: &[f64; NSOIL],
    wice: &[f64; NSOIL],
) -> [LayerWater; NSOIL] {
    std::array::from_fn(|j| layer_water(p.porsl[j], dz[j], wliq[j], wice[j]))
}

/// Matric potential ψ (mm) and its derivative dψ/dθ_liq (mm) of layer `j` at temperature
/// `t` (K). Frozen layers (T ≤ T_f) take the freezing-point depression potential, which does
/// not depend on the liquid content (derivative 0).
pub fn matric_potential(p: &SoilParams, j: usize, vol_liq: f64, t: f64, smpmin: f64) -> (f64, f64) {
    if t > TFRZ {
        if p.porsl[j] < 1e-6 {
            return (p.psi0[j], 0.0); // bedrock
        }
        let s = (vol_liq / p.porsl[j]).clamp(0.01, 1.0);
        let smp = (p.psi0[j] * s.powf(-p.bsw[j])).max(smpmin);
        (smp, -p.bsw[j] * smp / (s * p.porsl[j]))
    } else {
        let smp = 1.0e3 * HFUS / GRAV * (t - TFRZ) / t;
        (smp.max(smpmin), 0.0)
    }
}

/// Unimpeded conductivity K (mm s-1) of layer `j` and dK/dθ_liq (mm s-1) at liquid `vol_liq`.
pub fn conductivity(p: &SoilParams, j: usize, vol_liq: f64) -> (f64, f64) {
    let s = vol_liq / p.porsl[j];
    let e = 2.0 * p.bsw[j] + 3.0;
    let k = p.hksati[j] * s.powf(e);
    let dk = p.hksati[j] * e * s.powf(e - 1.0) / p.porsl[j];
    (k, dk)
}

/// Ice impedance factor 10^(−E_ICE f) for an ice fraction f (-).
pub fn ice_impedance(icefrac: f64) -> f64 {
    10f64.powf(-E_ICE * icefrac)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn soil() -> SoilParams {
        SoilParams::uniform(0.45, -200.0, 6.0, 5e-3, 2.3e6, 1.6, 0.2)
    }

    #[test]
    fn saturation_gives_the_saturated_values() {
        let p = soil();
        let (psi, _) = matric_potential(&p, 0, 0.45, 290.0, -1e8);
        assert_eq!(psi, -200.0);
        let (k, dk) = conductivity(&p, 0, 0.45);
        assert!((k - 5e-3).abs() < 1e-18);
        assert!((dk - 5e-3 * 15.0 / 0.45).abs() < 1e-15);
    }

    #[test]
    fn derivatives_match_finite_differences() {
        let p = soil();
        let (th, h) = (0.3, 1e-7);
        let (psi_p, _) = matric_potential(&p, 0, th + h, 290.0, -1e8);
        let (psi_m, _) = matric_potential(&p, 0, th - h, 290.0, -1e8);
        let (_, dpsi) = matric_potential(&p, 0, th, 290.0, -1e8);
        assert!(((psi_p - psi_m) / (2.0 * h) - dpsi).abs() < 1e-5 * dpsi.abs());
        let (kp, _) = conductivity(&p, 0, th + h);
        let (km, _) = conductivity(&p, 0, th - h);
        let (_, dk) = conductivity(&p, 0, th);
        assert!(((kp - km) / (2.0 * h) - dk).abs() < 1e-6 * dk);
    }

    #[test]
    fn frozen_potential_follows_temperature() {
        let p = soil();
        let (psi, d) = matric_potential(&p, 0, 0.3, TFRZ - 1.0, -1e8);
        // 1 K below freezing: about −1.25e5 mm (L_f/(g T) ≈ 125 m).
        assert!((psi + 1e3 * HFUS / GRAV / (TFRZ - 1.0)).abs() < 1e-9);
        assert!(psi < -1.2e5 && psi > -1.3e5);
        assert_eq!(d, 0.0);
        assert!((ice_impedance(0.5) - 1e-3).abs() < 1e-18);
    }

    #[test]
    fn layer_partition_limits() {
        let w = layer_water(0.45, 0.1, 50.0, 45.85); // ice 0.5 vol > porosity
        assert_eq!(w.vol_ice, 0.45);
        assert_eq!(w.eff_porosity, 0.01);
        assert_eq!(w.vol_liq, 0.01);
        assert_eq!(w.icefrac, 1.0);
    }
}
