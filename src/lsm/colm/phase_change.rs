//! Melting and freezing in snow and soil layers after the conduction solve: the role of
//! CoLM's `meltf` (Dai et al. 2003; Oleson et al. 2004 §6.2, eqs. 6.42–6.57).
//!
//! A layer with ice above T_f, or liquid below T_f, is set to T_f; the energy that setting
//! leaves over, H_m = (conductive + surface flux) − C (T_f − T^n)/Δt, melts (H_m > 0) or freezes
//! (H_m < 0) water, at most all of the ice or liquid; the energy still left warms or cools the
//! layer. Snow lying without a snow layer melts first from the top soil layer's surplus. No
//! supercooled liquid (CoLM2014).

use super::constants::{HFUS, NLAYER, TFRZ};
use super::heat::{Conduction, SurfaceFlux};
use super::layers::{soil, Layers};

/// Snow without layers: its water equivalent (mm) and depth (m).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ThinSnow {
    pub scv: f64,
    pub snowdp: f64,
}

/// Result of the phase change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhaseChange {
    /// Snowmelt leaving the snow (kg m-2 s-1).
    pub sm: f64,
    /// Latent heat of all phase change, positive when melting (W m-2).
    pub xmf: f64,
    /// 0 none, 1 melting, 2 freezing, per layer.
    pub imelt: [u8; NLAYER],
}

/// Apply phase change to `l` after [`super::heat::conduct`].
pub fn melt_freeze(
    l: &mut Layers,
    c: &Conduction,
    sf: SurfaceFlux,
    snow: &mut ThinSnow,
    dt: f64,
) -> PhaseChange {
    let top = l.top();
    let mut imelt = [0u8; NLAYER];
    let (wice0, wliq0) = (l.wice, l.wliq);
    for k in top..NLAYER {
        if l.wice[k] > 0.0 && l.t[k] > TFRZ {
            imelt[k] = 1;
            l.t[k] = TFRZ;
        }
        if l.wliq[k] > 0.0 && l.t[k] < TFRZ {
            imelt[k] = 2;
            l.t[k] = TFRZ;
        }
    }
    let thin_snow = l.nsnow == 0 && snow.scv > 0.0;
    if thin_snow && l.t[soil(0)] > TFRZ {
        imelt[soil(0)] = 1;
        l.t[soil(0)] = TFRZ;
    }
    let (mut sm, mut xmf) = (0.0, 0.0);
    for k in top..NLAYER {
        if imelt[k] == 0 {
            continue;
        }
        let tinc = l.t[k] - c.t_bef[k];
        let mut hm = c.brr[k] - tinc / c.fact[k];
        if k == top {
            hm += sf.hs + sf.dhsdt * tinc;
        }
        // A surplus of the wrong sign (rounding of the solve) changes no phase.
        if (imelt[k] == 1 && hm < 0.0) || (imelt[k] == 2 && hm > 0.0) {
            imelt[k] = 0;
            continue;
        }
        if hm == 0.0 {
            continue;
        }
        let mut xm = hm * dt / HFUS;
        if thin_snow && k == soil(0) && xm > 0.0 {
            // The layerless snow melts first.
            let scv0 = snow.scv;
            snow.scv = (scv0 - xm).max(0.0);
            snow.snowdp *= snow.scv / scv0;
            let heatr = hm - HFUS * (scv0 - snow.scv) / dt;
            (xm, hm) = if heatr > 0.0 {
                (heatr * dt / HFUS, heatr)
            } else {
                (0.0, 0.0)
            };
            sm = (scv0 - snow.scv).max(0.0) / dt;
            xmf = HFUS * sm;
        }
        let wmass = wice0[k] + wliq0[k];
        l.wice[k] = if xm > 0.0 {
            (wice0[k] - xm).max(0.0)
        } else {
            wmass.min(wice0[k] - xm)
        };
        let heatr = hm - HFUS * (wice0[k] - l.wice[k]) / dt;
        l.wliq[k] = (wmass - l.wice[k]).max(0.0);
        if heatr.abs() > 0.0 {
            l.t[k] += if k > top {
                c.fact[k] * heatr
            } else {
                c.fact[k] * heatr / (1.0 - c.fact[k] * sf.dhsdt)
            };
            if l.wliq[k] * l.wice[k] > 0.0 {
                l.t[k] = TFRZ;
            }
        }
        xmf += HFUS * (wice0[k] - l.wice[k]) / dt;
        if imelt[k] == 1 && k < soil(0) {
            sm += (wice0[k] - l.wice[k]).max(0.0) / dt;
        }
    }
    PhaseChange { sm, xmf, imelt }
}
