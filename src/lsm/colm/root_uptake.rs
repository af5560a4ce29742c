//! Root water uptake weights and soil-water stress: the role of CoLM's `eroot`
//! (Dai et al. 2003; the root resistance factors of CLM 3.0, Oleson et al. 2004 §8.3,
//! eqs. 8.14–8.17).
//!
//! For each unfrozen layer, w_j = (1 − ψ_j/ψ_max)/(1 − ψ_sat/ψ_max) with ψ_j = ψ_sat s^(−B),
//! s = w_liq/(ρ_w Δz θ_sat) ∈ [0.001, 1], ψ_j ≥ ψ_max = −1.5e5 mm (wilting). The stress factor
//! is β = 1e-10 + Σ r_j w_j (r_j the root fractions); the uptake weights are r_j w_j/β, and the
//! largest possible transpiration is trsmx0 · β.

use super::constants::{NSOIL, TFRZ};
use super::params::SoilParams;

/// Wilting-point matric potential of the root resistance (mm).
const SMP_WILT: f64 = -1.5e5;

/// Uptake weights, stress factor and maximum transpiration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RootUptake {
    /// Fraction of transpiration drawn from each layer (sums to β/(β) ≈ 1).
    pub rootr: [f64; NSOIL],
    /// Soil-water stress factor β (CoLM's rstfac) (-).
    pub rstfac: f64,
    /// Maximum transpiration (mm s-1).
    pub etrc: f64,
}

/// Uptake from root fractions `rootfr`, layer thickness `dz` (m), temperature `t` (K) and
/// liquid water `wliq` (kg m-2); `trsmx0` the maximum transpiration of moist soil (mm s-1).
pub fn root_uptake(
    p: &SoilParams,
    rootfr: &[f64; NSOIL],
    dz: &[f64; NSOIL],
    t: &[f64; NSOIL],
    wliq: &[f64; NSOIL],
    trsmx0: f64,
) -> RootUptake {
    let mut rootr = [0.0; NSOIL];
    // Non-zero start keeps the normalisation finite when every layer is frozen or dry.
    let mut roota = 1e-10;
    for j in 0..NSOIL {
        if t[j] > TFRZ && p.porsl[j] >= 1e-6 {
            let s = (wliq[j] / (1000.0 * dz[j] * p.porsl[j])).clamp(0.001, 1.0);
            let smp = SMP_WILT.max(p.psi0[j] * s.powf(-p.bsw[j]));
            let rresis = (1.0 - smp / SMP_WILT) / (1.0 - p.psi0[j] / SMP_WILT);
            rootr[j] = rootfr[j] * rresis;
            roota += rootr[j];
        }
    }
    for r in rootr.iter_mut() {
        *r /= roota;
    }
    RootUptake {
        rootr,
        rstfac: roota,
        etrc: trsmx0 * roota,
    }
}
