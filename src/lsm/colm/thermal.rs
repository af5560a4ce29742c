//! Thermal properties of snow and soil layers: the role of CoLM's `SOIL_thermal_parameters`
//! (`hCapacity`, `hConductivity`); Oleson et al. 2004 §6.3 (eqs. 6.58–6.70).
//!
//! - Heat capacity (J m-2 K-1): soil c_s (1 − θ_sat) Δz + c_ice w_ice + c_liq w_liq (de Vries
//!   1963), plus c_ice × SWE in the top soil layer when snow lies without a snow layer; snow
//!   c_ice w_ice + c_liq w_liq.
//! - Soil conductivity (Johansen, reported by Farouki 1981): λ = K_e λ_sat + (1 − K_e) λ_dry with
//!   the saturation S_r of total water; unfrozen K_e = max(0, log10 S_r + 1), frozen K_e = S_r
//!   and λ_sat scaled by (λ_ice/λ_liq)^((1 − f_liq) θ_sat) (2.29/0.57).
//! - Snow conductivity (Jordan 1991): λ_air + (7.75e-5 ρ + 1.105e-6 ρ²)(λ_ice − λ_air).
//! - Interfaces: the flux from node j to the interface equals the flux from the interface to
//!   node j + 1 (a distance-weighted harmonic mean); at the snow–soil interface, when the soil
//!   node is closer to it than the snow node, the plain harmonic mean, at least half the soil
//!   value. No conduction through the bottom of the column.

use super::constants::{CPICE, CPLIQ, DENH2O, DENICE, NLAYER, TFRZ, TKAIR, TKICE};
use super::constants::{MAXSNL, NSOIL};
use super::layers::{soil, Layers};
use super::params::SoilParams;

/// Heat capacity of each active layer (J m-2 K-1); inactive layers are 0.
pub fn heat_capacity(l: &Layers, p: &SoilParams, scv: f64) -> [f64; NLAYER] {
    let mut cv = [0.0; NLAYER];
    for j in 0..NSOIL {
        let k = soil(j);
        cv[k] = p.csol[j] * (1.0 - p.porsl[j]) * l.dz[k] + l.wice[k] * CPICE + l.wliq[k] * CPLIQ;
    }
    if l.nsnow == 0 && scv > 0.0 {
        cv[soil(0)] += CPICE * scv;
    }
    for k in l.top()..MAXSNL {
        cv[k] = CPLIQ * l.wliq[k] + CPICE * l.wice[k];
    }
    cv
}

/// Thermal conductivity of soil layer `j` (0-based) (W m-1 K-1).
pub fn soil_conductivity(p: &SoilParams, j: usize, dz: f64, t: f64, wliq: f64, wice: f64) -> f64 {
    let porsl = p.porsl[j];
    if porsl <= 1e-5 || wice + wliq <= 0.0 {
        return p.dkdry[j];
    }
    let satw = ((wliq / DENH2O + wice / DENICE) / (dz * porsl)).min(1.0);
    if satw <= 0.1e-6 {
        return p.dkdry[j];
    }
    let fl = wliq / (wice + wliq);
    let (dke, dksat) = if t >= TFRZ {
        ((satw.log10() + 1.0).max(0.0), p.dksatu[j])
    } else {
        (
            satw,
            p.dksatu[j] * (2.29f64 / 0.57).powf((1.0 - fl) * porsl),
        )
    };
    dke * dksat + (1.0 - dke) * p.dkdry[j]
}

/// Thermal conductivity of a snow layer with water `wliq + wice` (kg m-2) in `dz` m.
pub fn snow_conductivity(dz: f64, wliq: f64, wice: f64) -> f64 {
    let rho = (wice + wliq) / dz;
    TKAIR + (7.75e-5 * rho + 1.105e-6 * rho * rho) * (TKICE - TKAIR)
}

/// Conductivity at the interface below each active layer (W m-1 K-1); zero below the last.
pub fn interface_conductivity(l: &Layers, p: &SoilParams) -> [f64; NLAYER] {
    let mut thk = [0.0; NLAYER];
    for k in l.top()..NLAYER {
        thk[k] = if k < MAXSNL {
            snow_conductivity(l.dz[k], l.wliq[k], l.wice[k])
        } else {
            soil_conductivity(p, k - MAXSNL, l.dz[k], l.t[k], l.wliq[k], l.wice[k])
        };
    }
    let mut tk = [0.0; NLAYER];
    for k in l.top()..NLAYER - 1 {
        let (z0, z1, zi) = (l.z[k], l.z[k + 1], l.zi[k + 1]);
        tk[k] = if k == MAXSNL - 1 && z1 - zi < zi - z0 {
            let h = 2.0 * thk[k] * thk[k + 1] / (thk[k] + thk[k + 1]);
            h.max(0.5 * thk[k + 1])
        } else {
            thk[k] * thk[k + 1] * (z1 - z0) / (thk[k] * (z1 - zi) + thk[k + 1] * (zi - z0))
        };
    }
    tk
}

#[cfg(test)]
mod tests {
    use super::*;

    fn soil_p() -> SoilParams {
        SoilParams::uniform(0.45, -200.0, 6.0, 5e-3, 2.3e6, 1.6, 0.2)
    }

    #[test]
    fn johansen_limits() {
        let p = soil_p();
        let dz = 0.1;
        let sat = 0.45 * dz * DENH2O;
        // Saturated unfrozen: λ_sat; dry: λ_dry; 10 % saturation: K_e = 0 → λ_dry.
        assert!((soil_conductivity(&p, 0, dz, 280.0, sat, 0.0) - 1.6).abs() < 1e-14);
        assert_eq!(soil_conductivity(&p, 0, dz, 280.0, 0.0, 0.0), 0.2);
        assert!((soil_conductivity(&p, 0, dz, 280.0, 0.1 * sat, 0.0) - 0.2).abs() < 1e-14);
        // Saturated with ice: λ_sat (2.29/0.57)^θ_sat.
        let ice = 0.45 * dz * DENICE;
        let want = 1.6 * (2.29f64 / 0.57).powf(0.45);
        assert!((soil_conductivity(&p, 0, dz, 260.0, 0.0, ice) - want).abs() < 1e-13);
    }

    #[test]
    fn uniform_layers_keep_their_conductivity_at_interfaces() {
        let g = crate::lsm::colm::SoilGeometry::standard();
        let p = soil_p();
        let wl: [f64; NSOIL] = std::array::from_fn(|j| 0.45 * g.dz[j] * DENH2O);
        let l = Layers::soil_only(&g, &[280.0; NSOIL], &wl, &[0.0; NSOIL]);
        let tk = interface_conductivity(&l, &p);
        for k in soil(0)..NLAYER - 1 {
            assert!((tk[k] - 1.6).abs() < 1e-13);
        }
        assert_eq!(tk[NLAYER - 1], 0.0);
        // Snow of density 250: Jordan's formula.
        let s = snow_conductivity(0.1, 0.0, 25.0);
        assert!(
            (s - (0.023 + (7.75e-5 * 250.0 + 1.105e-6 * 62500.0) * (2.29 - 0.023))).abs() < 1e-15
        );
    }
}
