//! The canopy-air network of the big leaves and each leaf's energy fluxes with their
//! derivatives with respect to the leaf temperatures: the flux part of CoLM's
//! `LEAF_temperature` (Dai, Dickinson & Wang 2004, J. Climate 17, 2281, §2; Dai et al. 2003;
//! the canopy-air formulation of Oleson et al. 2004 §5.3, eqs. 5.90–5.120).
//!
//! Canopy air (temperature T_af, humidity q_af) exchanges heat with the air above through
//! c_ah = σ_f/r_ah, with the ground through c_gh = σ_f/r_d and with leaf i through c_fh,i =
//! σ_f (L_i + S_i)/r_b; for water c_aw = σ_f/r_aw, c_gw = σ_f/r_d and c_fw,i = σ_f [(1 −
//! δ_i(1 − f_wet))(L_i + S_i)/r_b + (1 − f_wet) δ_i L_i/(r_b + r_s,i)], δ_i = 1 when the leaf
//! is saturated against the canopy air (it evaporates), 0 under dew. Eliminating the canopy
//! air (no storage) makes T_af and q_af conductance-weighted means (weights w_a, w_g, w_l,i);
//! the leaf sensible heat H_i = ρ c_p c_fh,i (T_i − T_af), transpiration from the dry green
//! part, evaporation from the wetted part of leaves and stems; net longwave σ_f (1 − τ_th)
//! share_i (L↓ − 2σT_i⁴ + ε_g σ T_g⁴). Transpiration is capped at σ_f etrc L_i/L and wet
//! evaporation at the canopy water over the step (share (L_i + S_i)/(L + S)); a capped term
//! has zero derivative.

use super::constants::{CPAIR, STEFNC};

/// At most two big leaves: index 0 sunlit (or the single leaf), 1 shaded.
pub const NLEAF: usize = 2;

/// Conductances (m s-1) and the normalised weights of the canopy-air balance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Network {
    /// Heat: air above, ground, leaves.
    pub cah: f64,
    pub cgh: f64,
    pub cfh: [f64; NLEAF],
    /// Water vapour: air above, ground, leaves.
    pub caw: f64,
    pub cgw: f64,
    pub cfw: [f64; NLEAF],
    /// Weights of T_af (air, ground, leaves) and of q_af.
    pub wta: f64,
    pub wtg: f64,
    pub wtl: [f64; NLEAF],
    pub wtaq: f64,
    pub wtgq: f64,
    pub wtlq: [f64; NLEAF],
}

/// What one big leaf is (areas in m2 m-2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeafArea {
    /// Leaf area L_i and stem area S_i of this leaf.
    pub lai: f64,
    pub sai: f64,
    /// Share of the canopy's longwave exchange (f_sun, 1 − f_sun, or 1).
    pub lw_share: f64,
}

/// The canopy-air network for `n` leaves with areas `a`, aerodynamic resistances `rah`, `raw`
/// (above canopy), `rd` (ground to canopy air), `rb` (leaf boundary layer) and leaf
/// stomatal resistances `rs` (s m-1, per unit of the leaf's area, r_s L_i); `delta` 1 for an
/// evaporating leaf; `fwet` the wetted fraction; `sigf` the vegetated fraction.
pub fn network(
    n: usize,
    a: &[LeafArea; NLEAF],
    sigf: f64,
    r: [f64; 4],
    rs: &[f64; NLEAF],
    delta: &[f64; NLEAF],
    fwet: f64,
) -> Network {
    let [rah, raw, rd, rb] = r;
    let (mut cfh, mut cfw) = ([0.0; NLEAF], [0.0; NLEAF]);
    for i in 0..n {
        let area = a[i].lai + a[i].sai;
        cfh[i] = sigf * area / rb;
        cfw[i] = sigf
            * ((1.0 - delta[i] * (1.0 - fwet)) * area / rb
                + (1.0 - fwet) * delta[i] * a[i].lai / (rb + rs[i]));
    }
    let (cah, cgh, caw, cgw) = (sigf / rah, sigf / rd, sigf / raw, sigf / rd);
    let wtshi = 1.0 / (cah + cgh + cfh[..n].iter().sum::<f64>());
    let wtsqi = 1.0 / (caw + cgw + cfw[..n].iter().sum::<f64>());
    Network {
        cah,
        cgh,
        cfh,
        caw,
        cgw,
        cfw,
        wta: cah * wtshi,
        wtg: cgh * wtshi,
        wtl: cfh.map(|c| c * wtshi),
        wtaq: caw * wtsqi,
        wtgq: cgw * wtsqi,
        wtlq: cfw.map(|c| c * wtsqi),
    }
}

/// Air above the canopy and ground seen by the leaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Surroundings {
    /// Air: T + 0.0098 h_t (K), humidity (kg kg-1), density (kg m-3), longwave down (W m-2).
    pub thm: f64,
    pub qm: f64,
    pub rhoair: f64,
    pub frl: f64,
    /// Ground temperature (K), humidity (kg kg-1) and emissivity (-).
    pub tg: f64,
    pub qg: f64,
    pub emg: f64,
    /// Vegetated fraction σ_f and longwave gap fraction τ_th of the canopy (-).
    pub sigf: f64,
    pub thermk: f64,
}

/// Fluxes of each leaf at the current leaf temperatures and their Jacobians d(flux_i)/dT_j.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LeafFluxes {
    /// Net longwave absorbed (W m-2) and its derivative.
    pub irab: [f64; NLEAF],
    pub dirab: [[f64; NLEAF]; NLEAF],
    /// Sensible heat (W m-2, up +).
    pub senl: [f64; NLEAF],
    pub dsenl: [[f64; NLEAF]; NLEAF],
    /// Transpiration and wet-leaf evaporation (mm s-1).
    pub etr: [f64; NLEAF],
    pub detr: [[f64; NLEAF]; NLEAF],
    pub evplwet: [f64; NLEAF],
    pub devplwet: [[f64; NLEAF]; NLEAF],
}

/// Caps of the leaf water fluxes: maximum transpiration `etrc` (mm s-1), canopy water
/// `ldew` (mm) over the step `dt` (s), with the canopy's total L and S.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WaterLimits {
    pub etrc: f64,
    pub ldew: f64,
    pub dt: f64,
    pub lai: f64,
    pub sai: f64,
}

/// Leaf fluxes for leaf temperatures `tl`, saturation humidities `qsat` and their
/// derivatives `qsatdt`, in the network `w` with leaf boundary-layer resistance `rb` and
/// leaf stomatal resistances `rs` (r_s L_i).
pub fn leaf_fluxes(
    n: usize,
    a: &[LeafArea; NLEAF],
    s: &Surroundings,
    w: &Network,
    (rb, rs, delta, fwet): (f64, &[f64; NLEAF], &[f64; NLEAF], f64),
    tl: &[f64; NLEAF],
    (qsat, qsatdt): (&[f64; NLEAF], &[f64; NLEAF]),
    lim: &WaterLimits,
) -> LeafFluxes {
    let mut f = LeafFluxes::default();
    let fac = s.sigf * (1.0 - s.thermk);
    for i in 0..n {
        let fi = fac * a[i].lw_share;
        f.irab[i] = (s.frl - 2.0 * STEFNC * tl[i].powi(4) + s.emg * STEFNC * s.tg.powi(4)) * fi;
        f.dirab[i][i] = -8.0 * STEFNC * tl[i].powi(3) * fi;
        // Weight of this leaf's own temperature in T_af − T_i (the others enter the mean).
        let (mut own_h, mut own_q) = (w.wta + w.wtg, w.wtaq + w.wtgq);
        for j in (0..n).filter(|&j| j != i) {
            own_h += w.wtl[j];
            own_q += w.wtlq[j];
        }
        let rc = s.rhoair * CPAIR * w.cfh[i];
        let mut dth = own_h * tl[i] - w.wta * s.thm - w.wtg * s.tg;
        let mut dqh = own_q * qsat[i] - w.wtaq * s.qm - w.wtgq * s.qg;
        for j in (0..n).filter(|&j| j != i) {
            dth -= w.wtl[j] * tl[j];
            dqh -= w.wtlq[j] * qsat[j];
            f.dsenl[i][j] = rc * (-w.wtl[j]);
        }
        f.senl[i] = rc * dth;
        f.dsenl[i][i] = rc * own_h;
        let area = a[i].lai + a[i].sai;
        let gtr = s.sigf * s.rhoair * (1.0 - fwet) * delta[i] * a[i].lai / (rb + rs[i]);
        let gwet = s.sigf * s.rhoair * (1.0 - delta[i] * (1.0 - fwet)) * area / rb;
        let d_dq = |j: usize| {
            if j == i {
                own_q * qsatdt[i]
            } else {
                -w.wtlq[j] * qsatdt[j]
            }
        };
        f.etr[i] = gtr * dqh;
        f.evplwet[i] = gwet * dqh;
        for j in 0..n {
            f.detr[i][j] = gtr * d_dq(j);
            f.devplwet[i][j] = gwet * d_dq(j);
        }
        let etr_max = s.sigf * lim.etrc * a[i].lai / lim.lai;
        if f.etr[i] >= etr_max {
            f.etr[i] = etr_max;
            f.detr[i] = [0.0; NLEAF];
        }
        let wet_max = lim.ldew / lim.dt * area / (lim.lai + lim.sai);
        if f.evplwet[i] >= wet_max {
            f.evplwet[i] = wet_max;
            f.devplwet[i] = [0.0; NLEAF];
        }
    }
    f
}
