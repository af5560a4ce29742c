//! Jarvis-type canopy resistance (Jacquemin and Noilhan 1990; Chen et al. 1996): minimum
//! stomatal resistance scaled by radiation, temperature, vapour-deficit and root-zone soil
//! moisture factors, converted to the plant coefficient PC that multiplies the linearised
//! Penman potential evaporation to give Penman-Monteith transpiration.

use super::constants::{CP, NSOIL, RD, SIGMA};
use super::params::NoahParams;

/// Canopy resistance and its factors.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CanopyResistance {
    /// Canopy resistance (s m-1).
    pub rc: f64,
    /// Plant coefficient (0..1).
    pub pc: f64,
    pub rcs: f64,
    pub rct: f64,
    pub rcq: f64,
    pub rcsoil: f64,
}

#[allow(clippy::too_many_arguments)]
pub fn canopy_resistance(
    p: &NoahParams,
    solar: f64,
    ch: f64,
    sfctmp: f64,
    q2: f64,
    sfcprs: f64,
    liquid: &[f64; NSOIL],
    q2sat: f64,
    dqsdt2: f64,
    lai: f64,
    emissivity: f64,
) -> CanopyResistance {
    let ff = 0.55 * 2.0 * solar / (p.rgl * lai);
    let rcs = ((ff + p.rsmin / p.rsmax) / (1.0 + ff)).max(0.0001);
    let rct = (1.0 - 0.0016 * (p.topt - sfctmp).powi(2)).max(0.0001);
    let rcq = (1.0 / (1.0 + p.hs * (q2sat - q2))).max(0.01);
    // Root-zone availability weighted by layer thickness.
    let z = &p.zsoil;
    let zr = z[p.nroot - 1];
    let avail = |k: usize| ((liquid[k] - p.smcwlt) / (p.smcref - p.smcwlt)).clamp(0.0, 1.0);
    let mut rcsoil = (z[0] / zr) * avail(0);
    for k in 1..p.nroot {
        rcsoil += ((z[k] - z[k - 1]) / zr) * avail(k);
    }
    let rcsoil = rcsoil.max(0.0001);
    let rc = p.rsmin / (lai * rcs * rct * rcq * rcsoil);
    let rr = (4.0 * emissivity * SIGMA * RD / CP) * sfctmp.powi(4) / (sfcprs * ch) + 1.0;
    let delta = (2.501e6 / CP) * dqsdt2;
    let pc = (rr + delta) / (rr * (1.0 + rc * ch) + delta);
    CanopyResistance {
        rc,
        pc,
        rcs,
        rct,
        rcq,
        rcsoil,
    }
}
