//! Heat conduction through the snow and soil layers: the role of CoLM's `groundtem`
//! (Dai et al. 2003; Oleson et al. 2004 §6.1, eqs. 6.8–6.41).
//!
//! C_j (T_j^{n+1} − T_j^n)/Δt = F_{j} − F_{j−1} with interface fluxes F_j = λ_j (T_{j+1} −
//! T_j)/(z_{j+1} − z_j), Crank–Nicolson: weight `cnfac` on the old fluxes, 1 − cnfac on the
//! new. The top boundary is the net surface flux h linearised in the top temperature,
//! h + ∂h/∂T ΔT, taken fully at the new time, with the top layer's capacity scaled by
//! Δz/(½(z_1 − zi_0 + capr (z_2 − zi_0))) (capr turns the first-node temperature into a
//! surface temperature); no flux through the bottom (3.43 m).

use super::constants::{Tunables, NLAYER, STEFNC};
use super::layers::Layers;
use super::params::SoilParams;
use super::thermal::{heat_capacity, interface_conductivity};
use super::tridiag;

/// Net heat flux into the surface (W m-2) at the current top temperature and its derivative
/// with respect to that temperature (W m-2 K-1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SurfaceFlux {
    pub hs: f64,
    pub dhsdt: f64,
}

/// The ground's surface flux of CoLM: absorbed solar `sabg`, longwave from the canopy
/// `dlrad` and from the sky through the gaps `(1 − sigf) emg frl`, emission `emg σ T⁴`,
/// sensible `fseng` and evaporation `fevpg` (mm s-1) times `htvp` (J kg-1); `cgrnd` is the
/// derivative of the turbulent fluxes (W m-2 K-1).
pub fn ground_surface_flux(
    sabg: f64,
    dlrad: f64,
    frl: f64,
    sigf: f64,
    emg: f64,
    t_top: f64,
    fseng: f64,
    fevpg: f64,
    htvp: f64,
    cgrnd: f64,
) -> SurfaceFlux {
    SurfaceFlux {
        hs: sabg + dlrad + (1.0 - sigf) * emg * frl
            - emg * STEFNC * t_top.powi(4)
            - (fseng + fevpg * htvp),
        dhsdt: -cgrnd - 4.0 * emg * STEFNC * t_top.powi(3),
    }
}

/// What the phase change needs from the conduction solve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conduction {
    /// Δt over the (effective) heat capacity of each layer (K m2 J-1 s).
    pub fact: [f64; NLAYER],
    /// Net conductive flux into each layer, Crank–Nicolson weighted (W m-2).
    pub brr: [f64; NLAYER],
    /// Temperatures before the solve (K).
    pub t_bef: [f64; NLAYER],
}

fn fluxes(l: &Layers, tk: &[f64; NLAYER]) -> [f64; NLAYER] {
    let mut fnx = [0.0; NLAYER];
    for k in l.top()..NLAYER - 1 {
        fnx[k] = tk[k] * (l.t[k + 1] - l.t[k]) / (l.z[k + 1] - l.z[k]);
    }
    fnx
}

/// Solve the conduction equation for one step of `dt` seconds; updates `l.t`. `scv` is the
/// snow water equivalent (mm), whose heat capacity joins the top soil layer when there is no
/// snow layer.
pub fn conduct(
    l: &mut Layers,
    p: &SoilParams,
    tun: &Tunables,
    scv: f64,
    sf: SurfaceFlux,
    dt: f64,
) -> Conduction {
    let cv = heat_capacity(l, p, scv);
    let tk = interface_conductivity(l, p);
    let top = l.top();
    let cn = tun.cnfac;
    let mut fact = [0.0; NLAYER];
    let zi0 = l.zi[top];
    fact[top] =
        dt / cv[top] * l.dz[top] / (0.5 * (l.z[top] - zi0 + tun.capr * (l.z[top + 1] - zi0)));
    for k in top + 1..NLAYER {
        fact[k] = dt / cv[k];
    }
    let fnx = fluxes(l, &tk);
    let (mut a, mut b, mut c, mut r) = ([0.0; NLAYER], [0.0; NLAYER], [0.0; NLAYER], [0.0; NLAYER]);
    for k in top..NLAYER {
        // Conductances (per capacity) of the interfaces above (m) and below (p) node k.
        let up = if k > top {
            (1.0 - cn) * fact[k] * tk[k - 1] / (l.z[k] - l.z[k - 1])
        } else {
            0.0
        };
        let dn = if k < NLAYER - 1 {
            (1.0 - cn) * fact[k] * tk[k] / (l.z[k + 1] - l.z[k])
        } else {
            0.0
        };
        a[k] = -up;
        b[k] = 1.0 + up + dn;
        c[k] = -dn;
        let below = fnx[k];
        let above = if k > top { fnx[k - 1] } else { 0.0 };
        r[k] = l.t[k] + cn * fact[k] * (below - above);
    }
    b[top] -= fact[top] * sf.dhsdt;
    r[top] += fact[top] * (sf.hs - sf.dhsdt * l.t[top]);
    let t_bef = l.t;
    tridiag::solve(&a[top..], &b[top..], &c[top..], &r[top..], &mut l.t[top..]);
    let fn1 = fluxes(l, &tk);
    let mut brr = [0.0; NLAYER];
    for k in top..NLAYER {
        let (above, above1) = if k > top {
            (fnx[k - 1], fn1[k - 1])
        } else {
            (0.0, 0.0)
        };
        brr[k] = cn * (fnx[k] - above) + (1.0 - cn) * (fn1[k] - above1);
    }
    Conduction { fact, brr, t_bef }
}

/// Energy bookkeeping of a heat step (W m-2): storage change Σ (T − T_bef)/fact plus the
/// latent heat `xmf` taken by phase change, minus the surface flux at the new top
/// temperature. Zero to rounding.
pub fn energy_residual(l: &Layers, c: &Conduction, sf: SurfaceFlux, xmf: f64) -> f64 {
    let top = l.top();
    let mut storage = 0.0;
    for k in top..NLAYER {
        storage += (l.t[k] - c.t_bef[k]) / c.fact[k];
    }
    storage + xmf - (sf.hs + sf.dhsdt * (l.t[top] - c.t_bef[top]))
}
