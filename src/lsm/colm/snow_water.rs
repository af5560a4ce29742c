//! Liquid water in the snow layers: surface exchange and percolation, the role of CoLM's
//! `snowwater` (TN §7.2.2, snow water; Dai et al. 2003).
//!
//! Frost and sublimation change the ice of the top layer (ice that sublimation would take
//! below zero comes from its liquid); rain, dew and evaporation change its liquid, and liquid
//! below zero is set to zero (the water that creates is returned as `clipped`). Then, top
//! down, each layer drains what exceeds its irreducible water, with volume fractions of the
//! state before the percolation (θ_ice = min(1, w_ice/(ρ_ice Δz)), porosity φ = max(0.01,
//! 1 − θ_ice), θ_liq = min(φ, w_liq/(ρ_w Δz))):
//! q = max(0, (θ_liq − s_i φ) Δz) ρ_w (kg m-2), s_i = ssi = 0.033; above the bottom layer q is
//! at most the free pore space (1 − θ_ice − θ_liq) Δz ρ_w of the layer below and zero when
//! either porosity is below wimp. The water a layer receives stays in it this step. What the
//! bottom layer drains goes to the soil (q_out, mm s-1).

use super::constants::{DENH2O, DENICE, MAXSNL};
use super::layers::Layers;

/// Water exchanged at the snow surface (all mm s-1, ≥ 0).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SnowSurfaceWater {
    /// Rain reaching the snow.
    pub rain: f64,
    /// Evaporation of liquid.
    pub qseva: f64,
    /// Dew.
    pub qsdew: f64,
    /// Sublimation.
    pub qsubl: f64,
    /// Frost.
    pub qfros: f64,
}

/// Result of [`percolate`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SnowWaterOut {
    /// Water leaving the bottom snow layer into the soil (mm s-1).
    pub qout: f64,
    /// Water created by setting negative top-layer liquid to zero (kg m-2).
    pub clipped: f64,
}

/// Update the liquid water of the active snow layers of `l` (at least one) over `dt` (s);
/// `ssi` irreducible saturation (-), `wimp` impermeable porosity (-).
pub fn percolate(
    l: &mut Layers,
    f: SnowSurfaceWater,
    ssi: f64,
    wimp: f64,
    dt: f64,
) -> SnowWaterOut {
    let top = l.top();
    let wgdif = l.wice[top] + (f.qfros - f.qsubl) * dt;
    l.wice[top] = wgdif;
    if wgdif < 0.0 {
        l.wice[top] = 0.0;
        l.wliq[top] += wgdif;
    }
    l.wliq[top] += (f.rain + f.qsdew - f.qseva) * dt;
    let clipped = (-l.wliq[top]).max(0.0);
    l.wliq[top] = l.wliq[top].max(0.0);

    let mut vol_ice = [0.0; MAXSNL];
    let mut por = [0.0; MAXSNL];
    let mut vol_liq = [0.0; MAXSNL];
    for k in top..MAXSNL {
        vol_ice[k] = (l.wice[k] / (l.dz[k] * DENICE)).min(1.0);
        por[k] = (1.0 - vol_ice[k]).max(0.01);
        vol_liq[k] = por[k].min(l.wliq[k] / (l.dz[k] * DENH2O));
    }
    let mut qin = 0.0;
    let mut q = 0.0;
    for k in top..MAXSNL {
        l.wliq[k] += qin;
        q = ((vol_liq[k] - ssi * por[k]) * l.dz[k]).max(0.0);
        if k + 1 < MAXSNL {
            q = if por[k] < wimp || por[k + 1] < wimp {
                0.0
            } else {
                q.min((1.0 - vol_ice[k + 1] - vol_liq[k + 1]) * l.dz[k + 1])
            };
        }
        q *= 1000.0;
        l.wliq[k] -= q;
        qin = q;
    }
    SnowWaterOut {
        qout: q / dt,
        clipped,
    }
}
