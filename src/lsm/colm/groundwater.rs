//! The unconfined aquifer below the soil column, the water table and subsurface drainage
//! (SIMTOP, Niu et al. 2005 eqs. 9–10; Niu et al. 2007 eqs. 1–4; CLM 3.5/4.0 form), plus the
//! closing corrections of the soil water: the role of CoLM2014's `subsurfacerunoff`.
//!
//! - Recharge q_charge (the Richards bottom flux) fills the aquifer store W_a and raises the
//!   water table z_wt by q_charge Δt/S_y, with the specific yield of the Clapp–Hornberger
//!   retention curve, S_y = θ_sat [1 − (1 + z_wt/|ψ_sat|)^(−1/B)] ≥ 0.02 (z_wt in mm). Inside the
//!   column the table moves layer by layer, each with its own S_y.
//! - Drainage q_drai = (1 − f_imp) · 5.5e-3 exp(−2.5 z_wt) mm s-1, the ice impedance f_imp from
//!   the thickness-weighted ice fraction F of the layers below the table,
//!   f_imp = max(0, e^{−3(1−F)} − e^{−3})/(1 − e^{−3}). Below the column it empties the
//!   aquifer (any store above 5000 mm spills into layer 10); inside, the saturated layers.
//! - Water above the effective porosity moves up layer by layer; the top layer holds at most
//!   `pondmx` mm above saturation, the rest joins the drainage; negative liquid is set to zero
//!   and repaid from the drainage.

use super::constants::NSOIL;
use super::geometry::SoilGeometry;
use super::hydraulics::LayerWater;
use super::params::SoilParams;

/// Baseflow coefficient of the drainage (mm s-1).
pub const DRAINAGE_MAX: f64 = 5.5e-3;
/// Decay of the drainage with water-table depth (m-1).
pub const DRAINAGE_DECAY: f64 = 2.5;
/// Aquifer store above which water spills into the bottom soil layer (mm).
pub const AQUIFER_MAX: f64 = 5000.0;
/// Deepest water table allowed (m).
pub const ZWT_MAX: f64 = 80.0;

/// Outcome of one aquifer step.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Drainage {
    /// Subsurface runoff including the excess over saturation (mm s-1).
    pub rsubst: f64,
    /// Water the column gained from clipping negative liquid beyond the drainage (mm): zero
    /// unless the soil was drier than the drainage could repay.
    pub repair: f64,
}

/// Number of layers entirely above the water table (CoLM's `jwt`): 0 with the table in the
/// top layer, `NSOIL` with the table below the column.
pub fn layers_above_table(g: &SoilGeometry, zwt: f64) -> usize {
    g.zi.iter().position(|&zi| zwt <= zi).unwrap_or(NSOIL)
}

/// Specific yield of layer `j` for a water table `zwt` metres deep (-).
pub fn specific_yield(p: &SoilParams, j: usize, zwt: f64) -> f64 {
    let s_y = p.porsl[j] * (1.0 - (1.0 - 1.0e3 * zwt / p.psi0[j]).powf(-1.0 / p.bsw[j]));
    s_y.max(0.02)
}

/// Move the water table for a recharge of `qtot` mm into the aquifer, with the table inside
/// the column (`jwt` < NSOIL).
fn table_inside(
    p: &SoilParams,
    g: &SoilGeometry,
    jwt: usize,
    mut zwt: f64,
    mut qtot: f64,
    rous: f64,
) -> f64 {
    if qtot > 0.0 {
        // Rising: fill the pore space above the table, layer by layer upward.
        for j in (0..=jwt).rev() {
            let s_y = specific_yield(p, j, zwt);
            let fill = qtot.min(s_y * (zwt - g.top(j)) * 1.0e3).max(0.0);
            zwt = (zwt - fill / s_y / 1000.0).max(0.0);
            qtot -= fill;
            if qtot <= 0.0 {
                break;
            }
        }
        return zwt;
    }
    // Falling: drain the saturated layers below the table, layer by layer downward.
    for j in jwt..NSOIL {
        let s_y = specific_yield(p, j, zwt);
        let take = qtot.max(-(s_y * (g.zi[j] - zwt) * 1.0e3)).min(0.0);
        qtot -= take;
        if qtot >= 0.0 {
            return (zwt - take / s_y / 1000.0).max(0.0);
        }
        zwt = g.zi[j];
    }
    if qtot > 0.0 {
        zwt = (zwt - qtot / 1000.0 / rous).max(0.0);
    }
    zwt
}

fn impeded_drainage(g: &SoilGeometry, w: &[LayerWater; NSOIL], jwt: usize, zwt: f64) -> f64 {
    let (mut dzsum, mut icesum) = (0.0, 0.0);
    for j in jwt.max(1) - 1..NSOIL {
        dzsum += g.dz[j] * 1000.0;
        icesum += w[j].icefrac * g.dz[j] * 1000.0;
    }
    let e3 = (-3.0f64).exp();
    let fracice = ((-3.0 * (1.0 - icesum / dzsum)).exp() - e3).max(0.0) / (1.0 - e3);
    (1.0 - fracice).max(0.0) * DRAINAGE_MAX * (-DRAINAGE_DECAY * zwt).exp()
}

/// Remove `drainage` (mm s-1) for `dt` seconds from the aquifer or the saturated layers.
fn drain(
    p: &SoilParams,
    g: &SoilGeometry,
    jwt: usize,
    rous: f64,
    drainage: f64,
    dt: f64,
    wliq: &mut [f64; NSOIL],
    zwt: &mut f64,
    wa: &mut f64,
) {
    if jwt == NSOIL {
        *wa -= drainage * dt;
        *zwt = (*zwt + drainage * dt / 1000.0 / rous).max(0.0);
        wliq[NSOIL - 1] += (*wa - AQUIFER_MAX).max(0.0);
        *wa = wa.min(AQUIFER_MAX);
        return;
    }
    let mut dtot = -drainage * dt;
    for j in jwt..NSOIL {
        let s_y = specific_yield(p, j, *zwt);
        let take = dtot.max(-(s_y * (g.zi[j] - *zwt) * 1.0e3)).min(0.0);
        wliq[j] += take;
        dtot -= take;
        if dtot >= 0.0 {
            *zwt = (*zwt - take / s_y / 1000.0).max(0.0);
            break;
        }
        *zwt = g.zi[j];
    }
    // Whatever the layers could not supply comes from the aquifer.
    *zwt = (*zwt - dtot / 1000.0 / rous).max(0.0);
    *wa += dtot;
}

/// Excess above saturation moves upward; ponding limit; negative liquid repaid.
fn corrections(
    p: &SoilParams,
    g: &SoilGeometry,
    w: &[LayerWater; NSOIL],
    pondmx: f64,
    dt: f64,
    wliq: &mut [f64; NSOIL],
    wice: &[f64; NSOIL],
    rsubst: f64,
) -> Drainage {
    for j in (1..NSOIL).rev() {
        let cap = w[j].eff_porosity * g.dz[j] * 1000.0;
        let excess = (wliq[j] - cap).max(0.0);
        wliq[j] = wliq[j].min(cap);
        wliq[j - 1] += excess;
    }
    let top_cap = pondmx + p.porsl[0] * g.dz[0] * 1000.0 - wice[0];
    let mut rsubst = rsubst;
    let xs1 = wliq[0] - top_cap;
    if xs1 > 0.0 {
        wliq[0] = top_cap;
        rsubst += xs1 / dt;
    }
    let mut xs = 0.0;
    for wl in wliq.iter_mut() {
        if *wl < 0.0 {
            xs += *wl;
            *wl = 0.0;
        }
    }
    let net = rsubst + xs / dt;
    Drainage {
        rsubst: net.max(0.0),
        repair: (-net).max(0.0) * dt,
    }
}

/// One step: recharge, water table, drainage, corrections. `w` is the volumetric state from
/// before the Richards solve (CoLM keeps the effective porosity of the step's start).
#[allow(clippy::too_many_arguments)]
pub fn step(
    p: &SoilParams,
    g: &SoilGeometry,
    w: &[LayerWater; NSOIL],
    qcharge: f64,
    pondmx: f64,
    dt: f64,
    wliq: &mut [f64; NSOIL],
    wice: &[f64; NSOIL],
    zwt: &mut f64,
    wa: &mut f64,
) -> Drainage {
    let jwt = layers_above_table(g, *zwt);
    let rous = specific_yield(p, NSOIL - 1, *zwt);
    *wa += qcharge * dt;
    *zwt = if jwt == NSOIL {
        (*zwt - qcharge * dt / 1000.0 / rous).max(0.0)
    } else {
        table_inside(p, g, jwt, *zwt, qcharge * dt, rous)
    };
    let drainage = impeded_drainage(g, w, jwt, *zwt);
    drain(p, g, jwt, rous, drainage, dt, wliq, zwt, wa);
    *zwt = zwt.clamp(0.0, ZWT_MAX);
    corrections(p, g, w, pondmx, dt, wliq, wice, drainage)
}
