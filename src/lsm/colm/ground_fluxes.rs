//! Turbulent fluxes between bare ground and the atmosphere with their temperature
//! derivatives, for the vegetation-free part of the cell: the role of CoLM's
//! `groundfluxes` (Dai et al. 2003; Oleson et al. 2004 §5.2, eqs. 5.55–5.64; Zeng et al. 1998).
//!
//! Six stability iterations (fewer if z/L changes sign four times): profile functions from
//! [`super::surface_layer`], scaling parameters θ* = k Δθ/f_h and q* = k Δq/f_q, the thermal
//! roughness of Zilitinkevich's form z0h = z0m exp(−0.13 (u* z0m/ν)^0.45) with ν = 1.5e-5 m2 s-1,
//! a convective velocity w* = (−g u* θv* z_i/θv)^(1/3) (z_i = 1000 m) in unstable air. Then
//! r_am = u/u*², r_ah = f_h/(k u*), r_aw = f_q/(k u*), and with the bare fraction (1 − σ_f):
//! H = −(1 − σ_f) ρ c_p Δθ/r_ah, E = −(1 − σ_f) ρ Δq/r_aw, and ∂(H + λE)/∂T_g.

use super::constants::{CPAIR, GRAV, VONKAR};
use super::surface_layer::{
    at_2m, bulk_richardson, friction_velocity, initial_obukhov, profiles, Roughness,
    SurfaceLayerState,
};

/// Kinematic viscosity of air in the thermal roughness (m2 s-1).
const NU_AIR: f64 = 1.5e-5;
/// Height of the convective boundary layer (m).
const ZII: f64 = 1000.0;
/// Number of stability iterations.
const NITERS: usize = 6;

/// Atmosphere and ground state the fluxes need.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroundFluxInput {
    /// Heights of the wind, temperature and humidity forcing (m).
    pub hu: f64,
    pub ht: f64,
    pub hq: f64,
    /// Wind components (m s-1) and speed used for the exchange (m s-1).
    pub us: f64,
    pub vs: f64,
    pub ur: f64,
    /// Specific humidity of the air (kg kg-1) and air density (kg m-3).
    pub qm: f64,
    pub rhoair: f64,
    /// Air temperature plus the dry-adiabatic lapse over the forcing height, T + 0.0098 h_t
    /// (K); potential and virtual potential temperature (K).
    pub thm: f64,
    pub th: f64,
    pub thv: f64,
    /// Ground temperature (K), its saturation-weighted humidity (kg kg-1) and d q_g/dT.
    pub t_grnd: f64,
    pub qg: f64,
    pub dqgdt: f64,
    /// Latent heat of vaporisation or sublimation (J kg-1).
    pub htvp: f64,
    /// Snow-covered fraction of the ground and vegetated fraction (-).
    pub fsno: f64,
    pub sigf: f64,
}

/// Fluxes (positive upward), derivatives and the surface-layer diagnostics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroundFluxes {
    /// Momentum flux (kg m-1 s-2).
    pub taux: f64,
    pub tauy: f64,
    /// Sensible heat (W m-2) and evaporation (mm s-1) from the ground.
    pub fseng: f64,
    pub fevpg: f64,
    /// ∂(H + λE)/∂T_g, ∂H/∂T_g (W m-2 K-1) and ∂E/∂T_g (kg m-2 s-1 K-1).
    pub cgrnd: f64,
    pub cgrnds: f64,
    pub cgrndl: f64,
    /// 2-m air temperature (K) and humidity (kg kg-1), weighted by the bare fraction.
    pub tref: f64,
    pub qref: f64,
    /// Roughness, stability and scales of the bare surface layer.
    pub surface: SurfaceLayerState,
}

/// Bare-ground fluxes with roughness `zlnd` (soil) or `zsno` (snow) (m).
pub fn ground_fluxes(inp: &GroundFluxInput, zlnd: f64, zsno: f64) -> GroundFluxes {
    let z0mg = if inp.fsno > 0.0 { zsno } else { zlnd };
    let mut z0 = Roughness {
        z0m: z0mg,
        z0h: z0mg,
        z0q: z0mg,
    };
    let dth = inp.thm - inp.t_grnd;
    let dqh = inp.qm - inp.qg;
    let dthv = dth * (1.0 + 0.61 * inp.qm) + 0.61 * inp.th * dqh;
    let zldis = inp.hu;
    let (mut um, mut obu) = initial_obukhov(inp.ur, inp.thv, dthv, zldis, z0mg);
    let (mut obuold, mut sign_changes) = (0.0, 0);
    let (mut ustar, mut tstar, mut qstar, mut zeta) = (0.0, 0.0, 0.0, 0.0);
    let mut pr = profiles(inp.hu, inp.ht, inp.hq, 0.0, z0, obu);
    for _ in 0..NITERS {
        pr = profiles(inp.hu, inp.ht, inp.hq, 0.0, z0, obu);
        ustar = friction_velocity(um, pr.fm);
        tstar = VONKAR / pr.fh * dth;
        qstar = VONKAR / pr.fq * dqh;
        z0.z0h = z0mg / (0.13 * (ustar * z0mg / NU_AIR).powf(0.45)).exp();
        z0.z0q = z0.z0h;
        let thvstar = tstar + 0.61 * inp.th * qstar;
        zeta = zldis * VONKAR * GRAV * thvstar / (ustar * ustar * inp.thv);
        zeta = if zeta >= 0.0 {
            zeta.clamp(1e-6, 2.0)
        } else {
            zeta.clamp(-100.0, -1e-6)
        };
        obu = zldis / zeta;
        um = if zeta >= 0.0 {
            inp.ur.max(0.1)
        } else {
            let wc = (-GRAV * ustar * thvstar * ZII / inp.thv).powf(1.0 / 3.0);
            (inp.ur * inp.ur + wc * wc).sqrt()
        };
        if obuold * obu < 0.0 {
            sign_changes += 1;
        }
        if sign_changes >= 4 {
            break;
        }
        obuold = obu;
    }
    let ram = 1.0 / (ustar * ustar / um);
    let rah = 1.0 / (VONKAR / pr.fh * ustar);
    let raw = 1.0 / (VONKAR / pr.fq * ustar);
    let bare = 1.0 - inp.sigf;
    let raih = bare * inp.rhoair * CPAIR / rah;
    let raiw = bare * inp.rhoair / raw;
    let cgrndl = raiw * inp.dqgdt;
    GroundFluxes {
        taux: -bare * inp.rhoair * inp.us / ram,
        tauy: -bare * inp.rhoair * inp.vs / ram,
        fseng: -raih * dth,
        fevpg: -raiw * dqh,
        cgrnd: raih + inp.htvp * cgrndl,
        cgrnds: raih,
        cgrndl,
        tref: bare * at_2m(inp.thm, dth, pr.fh, pr.fh2m),
        qref: bare * at_2m(inp.qm, dqh, pr.fq, pr.fq2m),
        surface: SurfaceLayerState {
            z0ma: z0mg,
            zol: zeta,
            rib: bulk_richardson(zeta, ustar, pr.fh, um),
            ustar,
            tstar,
            qstar,
            fm: pr.fm,
            fh: pr.fh,
            fq: pr.fq,
        },
    }
}
