//! Snowfall and rain reaching the ground added to the snow: the role of CoLM's `newsnow`
//! (Dai et al. 2003; TN §7.2.1, new snow and the first snow layer).
//!
//! Snowfall S (mm s-1) at density ρ_new (kg m-3) deepens the snow by S Δt/ρ_new (m) and adds
//! S Δt to its water equivalent (mm). A first snow layer is made when there is none, it is
//! snowing and the depth reaches 0.01 m: the whole pack becomes that layer, all ice, at
//! min(T_f, T_precip), snow age 0. On an existing layer the new snow goes to the top layer,
//! whose temperature takes the mixture of its water and the step's precipitation (rain and
//! snow at T_precip), not above T_f; the rain itself enters the snow later (`snow_water`).
//! The snow cover fraction gains 1 − (1 − tanh(0.1 S Δt))(1 − f_sno).

use super::constants::{CPICE, CPLIQ, TFRZ};
use super::layers::Layers;
use super::phase_change::ThinSnow;

/// Depth (m) at which falling snow gets its first layer.
pub const FIRST_LAYER_DEPTH: f64 = 0.01;

/// Precipitation reaching the ground.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroundPrecip {
    /// Rain, throughfall and drip (mm s-1).
    pub rain: f64,
    /// Snow, throughfall and drip (mm s-1).
    pub snow: f64,
    /// Density of the new dry snow (kg m-3).
    pub bifall: f64,
    /// Temperature of the precipitation (K).
    pub t_precip: f64,
}

/// Add the step's snowfall to `l` and `snow` (SWE in mm, depth in m); `sag` is the snow age
/// (-), `fsno` the snow cover fraction (-). Returns whether a first snow layer was made.
pub fn add_snowfall(
    l: &mut Layers,
    snow: &mut ThinSnow,
    sag: &mut f64,
    fsno: &mut f64,
    p: GroundPrecip,
    dt: f64,
) -> bool {
    let ddz = p.snow / p.bifall * dt;
    snow.snowdp += ddz;
    snow.scv += p.snow * dt;
    let cover_gain = (0.1 * p.snow * dt).tanh();
    if l.nsnow == 0 {
        if p.snow > 0.0 && snow.snowdp >= FIRST_LAYER_DEPTH {
            let t = TFRZ.min(p.t_precip);
            l.set_snow(&[snow.snowdp], &[t], &[0.0], &[snow.scv]);
            *sag = 0.0;
            *fsno = cover_gain.min(1.0);
            return true;
        }
        return false;
    }
    let k = l.top();
    let c_old = l.wice[k] * CPICE + l.wliq[k] * CPLIQ;
    let c_new = (p.rain * CPLIQ + p.snow * CPICE) * dt;
    let t_mix = TFRZ + (c_old * (l.t[k] - TFRZ) + c_new * (p.t_precip - TFRZ)) / (c_old + c_new);
    l.t[k] = t_mix.min(TFRZ);
    l.wice[k] += dt * p.snow;
    l.dz[k] += ddz;
    l.z[k] = l.zi[k + 1] - 0.5 * l.dz[k];
    l.zi[k] = l.zi[k + 1] - l.dz[k];
    *fsno = (1.0 - (1.0 - cover_gain) * (1.0 - *fsno)).min(1.0);
    false
}
