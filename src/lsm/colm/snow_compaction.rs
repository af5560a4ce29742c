//! Compaction of the snow layers: the role of CoLM's `snowcompaction` (Anderson 1976; TN
//! §7.2.3, snow compaction).
//!
//! The fractional compaction rate of a layer, (1/Δz) ∂Δz/∂t (s-1, negative), is the sum of
//! - destructive metamorphism: −c3 e^{−c4 (T_f − T)}, c3 = 2.777e-6 s-1, c4 = 0.04 K-1, times
//!   e^{−0.046 (ρ_i − ρ_dm)} when the ice density ρ_i = w_ice/Δz exceeds ρ_dm = 100 kg m-3,
//!   and times c5 = 2 when the layer holds liquid (w_liq > 0.01 Δz);
//! - overburden: −P_s/η with P_s (kg m-2) the water of the layers above and the viscosity
//!   η = η0 e^{0.08 (T_f − T) + c2 ρ_i}, η0 = 9e5 kg s m-2, c2 = 0.023 m3 kg-1;
//! - melt: −(1/Δt) max(0, (f_old − f)/f_old) in a melting layer, f = w_ice/(w_ice + w_liq)
//!   and f_old its value at the start of the step.
//!
//! Δz ← Δz (1 + rate Δt). Layers with less than 0.1 kg m-2 of ice or with a void fraction
//! 1 − (w_ice/ρ_ice + w_liq/ρ_w)/Δz ≤ 0.001 are not compacted but still weigh on those
//! below. Water and temperature are unchanged; node depths are not updated here (the
//! combination that follows restacks the layers).

use super::constants::{DENH2O, DENICE, MAXSNL, NLAYER, TFRZ};
use super::layers::Layers;

/// The three compaction rates of one layer (s-1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompactionRates {
    pub metamorphism: f64,
    pub overburden: f64,
    pub melt: f64,
}

impl CompactionRates {
    /// Total fractional rate (s-1).
    pub fn total(&self) -> f64 {
        self.metamorphism + self.overburden + self.melt
    }
}

/// Compaction rates of a layer of thickness `dz` (m), ice and liquid (kg m-2), temperature
/// `t` (K), under `burden` (kg m-2); `melting` with ice fraction `fiold` at the step's start.
pub fn rates(
    dz: f64,
    wice: f64,
    wliq: f64,
    t: f64,
    burden: f64,
    melting: bool,
    fiold: f64,
    dt: f64,
) -> CompactionRates {
    let rho_i = wice / dz;
    let dt_frz = TFRZ - t;
    let mut metamorphism = -2.777e-6 * (-0.04 * dt_frz).exp();
    if rho_i > 100.0 {
        metamorphism *= (-46.0e-3 * (rho_i - 100.0)).exp();
    }
    if wliq > 0.01 * dz {
        metamorphism *= 2.0;
    }
    let overburden = -burden * (-0.08 * dt_frz - 23.0e-3 * rho_i).exp() / 9.0e5;
    let melt = if melting {
        let fi = wice / (wice + wliq);
        -1.0 / dt * ((fiold - fi) / fiold).max(0.0)
    } else {
        0.0
    };
    CompactionRates {
        metamorphism,
        overburden,
        melt,
    }
}

/// Compact the active snow layers of `l`; `imelt` is phase change's flag (1 = melting),
/// `fiold` the ice fractions at the start of the step.
pub fn compact(l: &mut Layers, imelt: &[u8; NLAYER], fiold: &[f64; NLAYER], dt: f64) {
    let mut burden = 0.0;
    for k in l.top()..MAXSNL {
        let mass = l.wice[k] + l.wliq[k];
        let void = 1.0 - (l.wice[k] / DENICE + l.wliq[k] / DENH2O) / l.dz[k];
        if void > 0.001 && l.wice[k] > 0.1 {
            let r = rates(
                l.dz[k],
                l.wice[k],
                l.wliq[k],
                l.t[k],
                burden,
                imelt[k] == 1,
                fiold[k],
                dt,
            );
            l.dz[k] *= 1.0 + r.total() * dt;
        }
        burden += mass;
    }
}
