//! The ground surface seen by the turbulent fluxes: temperature, humidity and its derivative,
//! emissivity and the latent heat of the water leaving it; the set-up part of CoLM's
//! `THERMAL` (Dai et al. 2003; Oleson et al. 2004 §5.2, eqs. 5.66–5.69 for the soil relative
//! humidity).
//!
//! The soil air is in equilibrium with the top layer's water: h_r = exp(ψ/(R_w T_g/g)) with
//! ψ = ψ_sat f^(−B) ≥ −1e8 mm, f = θ/θ_sat ∈ [0.001, 1] from the top soil layer's total water;
//! snow is saturated: q_g = [(1 − f_sno) h_r + f_sno] q_s(T_g), with dq_g/dT scaled likewise.
//! When the air is moister than q_g but below saturation, q_g = q_air with zero derivative
//! (no dew into dry soil). Emissivity 0.96, 0.97 with snow; sublimation's latent heat when the
//! top layer holds only ice.

use super::constants::{DENH2O, DENICE, HSUB, HVAP, ROVERG};
use super::layers::{soil, Layers};
use super::params::SoilParams;
use super::saturation::saturation;

/// Ground surface state for the flux calculations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroundSurface {
    /// Top layer (snow or soil) temperature (K).
    pub t_grnd: f64,
    /// Humidity at the surface (kg kg-1) and its temperature derivative (K-1).
    pub qg: f64,
    pub dqgdt: f64,
    /// Emissivity (-) and latent heat of evaporation or sublimation (J kg-1).
    pub emg: f64,
    pub htvp: f64,
}

/// Ground surface of column `l` with snow water `scv` (mm), snow cover `fsno`, air humidity
/// `qm` (kg kg-1) and pressure `psrf` (Pa).
pub fn ground_surface(
    l: &Layers,
    p: &SoilParams,
    scv: f64,
    fsno: f64,
    qm: f64,
    psrf: f64,
) -> GroundSurface {
    let top = l.top();
    let t_grnd = l.t[top];
    let s1 = soil(0);
    let wx = (l.wliq[s1] / DENH2O + l.wice[s1] / DENICE) / l.dz[s1];
    let fac = if p.porsl[0] < 1e-6 {
        0.001
    } else {
        (wx / p.porsl[0]).clamp(0.001, 1.0)
    };
    let psit = (p.psi0[0] * fac.powf(-p.bsw[0])).max(-1e8);
    let hr = (psit / ROVERG / t_grnd).exp();
    let qred = (1.0 - fsno) * hr + fsno;
    let sat = saturation(t_grnd, psrf);
    let (mut qg, mut dqgdt) = (qred * sat.qs, qred * sat.qsdt);
    if sat.qs > qm && qm > qred * sat.qs {
        (qg, dqgdt) = (qm, 0.0);
    }
    GroundSurface {
        t_grnd,
        qg,
        dqgdt,
        emg: if scv > 0.0 { 0.97 } else { 0.96 },
        htvp: if l.wliq[top] <= 0.0 && l.wice[top] > 0.0 {
            HSUB
        } else {
            HVAP
        },
    }
}
