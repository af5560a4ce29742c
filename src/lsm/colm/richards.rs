//! Vertical soil-water flow: the Richards equation in the CLM 3.x form (Oleson et al. 2004,
//! §7.4, eqs. 7.74–7.100), the role of CoLM2014's `soilwater`.
//!
//! Darcy flux across the interface below node j, positive downward (mm s-1):
//! q_j = −K_j [(ψ_{j+1} − ψ_j)/(z_{j+1} − z_j) − 1]. The fluxes are linearised in the change of
//! liquid water, q_j^{n+1} = q_j + ∂q_j/∂θ_j Δθ_j + ∂q_j/∂θ_{j+1} Δθ_{j+1}, and one implicit step
//! Δz_j Δθ_j/Δt = q_{j−1}^{n+1} − q_j^{n+1} − e_j is solved as a tridiagonal system.
//! CoLM2014 takes the interface conductivity from the upstream layer (the layer the water
//! comes from by the sign of the head gradient), impeded by the mean ice fraction of the two
//! layers; no flow where either effective porosity is below `wimp` or the upper layer holds
//! less than 0.001 m3 m-3 of liquid. The top flux is the infiltration; the bottom flux is
//! free gravity drainage K_10, which recharges the aquifer.

use super::constants::NSOIL;
use super::geometry::SoilGeometry;
use super::hydraulics::{conductivity, ice_impedance, matric_potential, LayerWater};
use super::params::SoilParams;
use super::tridiag;

/// Inputs of one soil-water solve.
#[derive(Debug, Clone, Copy)]
pub struct RichardsInput<'a> {
    /// Infiltration into the top layer (mm s-1).
    pub qinfl: f64,
    /// Transpiration (mm s-1), taken from the layers by `rootr`.
    pub etr: f64,
    /// Fraction of the transpiration drawn from each layer (sums to 1).
    pub rootr: &'a [f64; NSOIL],
    /// Soil temperature (K): frozen layers take the temperature potential.
    pub t_soil: &'a [f64; NSOIL],
    /// Volumetric state of each layer.
    pub water: &'a [LayerWater; NSOIL],
}

/// Result of one soil-water solve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RichardsResult {
    /// Change of liquid water per layer (m3 m-3).
    pub dwat: [f64; NSOIL],
    /// Downward flux at each layer's bottom interface at the new time (mm s-1); the last is
    /// the aquifer recharge.
    pub q_new: [f64; NSOIL],
    /// Aquifer recharge, positive into the aquifer (mm s-1).
    pub qcharge: f64,
}

/// Interface flux at the old time and its derivatives with respect to θ of the layers above
/// and below (mm s-1 per m3 m-3).
#[derive(Debug, Clone, Copy, Default)]
struct InterfaceFlux {
    q: f64,
    dq_up: f64,
    dq_dn: f64,
}

fn interface_fluxes(
    p: &SoilParams,
    g: &SoilGeometry,
    inp: &RichardsInput,
    wimp: f64,
    smpmin: f64,
) -> [InterfaceFlux; NSOIL] {
    let w = inp.water;
    let mut smp = [0.0; NSOIL];
    let mut dsmp = [0.0; NSOIL];
    for j in 0..NSOIL {
        (smp[j], dsmp[j]) = matric_potential(p, j, w[j].vol_liq, inp.t_soil[j], smpmin);
    }
    let mut out = [InterfaceFlux::default(); NSOIL];
    for j in 0..NSOIL {
        let below = (j + 1).min(NSOIL - 1);
        let blocked =
            w[j].eff_porosity < wimp || w[below].eff_porosity < wimp || w[j].vol_liq <= 1e-3;
        if j == NSOIL - 1 {
            // Free drainage: gravity alone at the bottom of the column.
            if !blocked {
                let imp = ice_impedance(w[j].icefrac);
                let (k, dk) = conductivity(p, j, w[j].vol_liq);
                out[j] = InterfaceFlux {
                    q: imp * k,
                    dq_up: imp * dk,
                    dq_dn: 0.0,
                };
            }
            continue;
        }
        let den = (g.z[j + 1] - g.z[j]) * 1000.0; // mm
                                                  // Head-gradient term: downward flux is −K·alpha.
        let alpha = (smp[j + 1] - smp[j]) / den - 1.0;
        if blocked {
            continue;
        }
        let imp = ice_impedance(0.5 * (w[j].icefrac + w[j + 1].icefrac));
        // Upstream conductivity: water flows down (alpha ≤ 0) from layer j, else from j + 1.
        let (k, dk_up, dk_dn) = if alpha <= 0.0 {
            let (k, dk) = conductivity(p, j, w[j].vol_liq);
            (k, dk, 0.0)
        } else {
            let (k, dk) = conductivity(p, j + 1, w[j + 1].vol_liq);
            (k, 0.0, dk)
        };
        let (k, dk_up, dk_dn) = (imp * k, imp * dk_up, imp * dk_dn);
        out[j] = InterfaceFlux {
            q: -k * alpha,
            dq_up: -(alpha * dk_up - k * dsmp[j] / den),
            dq_dn: -(alpha * dk_dn + k * dsmp[j + 1] / den),
        };
    }
    out
}

/// One implicit step of length `dt` (s).
pub fn solve(
    p: &SoilParams,
    g: &SoilGeometry,
    inp: &RichardsInput,
    dt: f64,
    wimp: f64,
    smpmin: f64,
) -> RichardsResult {
    let f = interface_fluxes(p, g, inp, wimp, smpmin);
    let (mut a, mut b, mut c, mut r) = ([0.0; NSOIL], [0.0; NSOIL], [0.0; NSOIL], [0.0; NSOIL]);
    for j in 0..NSOIL {
        let dzmm = g.dz[j] * 1000.0;
        // Inflow through the top interface of layer j.
        let (qin, dqin_up, dqin_dn) = if j == 0 {
            (inp.qinfl, 0.0, 0.0)
        } else {
            (f[j - 1].q, f[j - 1].dq_up, f[j - 1].dq_dn)
        };
        a[j] = -dqin_up;
        b[j] = dzmm / dt - dqin_dn + f[j].dq_up;
        c[j] = f[j].dq_dn;
        r[j] = qin - f[j].q - inp.etr * inp.rootr[j];
    }
    let mut dwat = [0.0; NSOIL];
    tridiag::solve(&a, &b, &c, &r, &mut dwat);
    let mut q_new = [0.0; NSOIL];
    for j in 0..NSOIL {
        let next = if j + 1 < NSOIL { dwat[j + 1] } else { 0.0 };
        q_new[j] = f[j].q + f[j].dq_up * dwat[j] + f[j].dq_dn * next;
    }
    RichardsResult {
        dwat,
        q_new,
        qcharge: q_new[NSOIL - 1],
    }
}
