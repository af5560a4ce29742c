//! Leaf temperatures of the big leaves (sunlit and shaded, or one leaf when little of the
//! canopy is sunlit) with the canopy-air Monin–Obukhov iteration: the role of CoLM's
//! `LEAF_temperature` (`leaftemtwo`, `leaftemone`; Dai, Dickinson & Wang 2004, J. Climate 17,
//! 2281, §2; Dai et al. 2003; Oleson et al. 2004 §5.3; Zeng et al. 1998).
//!
//! Each iteration: profile functions above the canopy with displacement d and z0m (from
//! [`super::surface_layer`]), u*, r_am = u/u*², r_ah = f_h/(k u*), r_aw = f_q/(k u*); the leaf
//! boundary layer r_b = 1/(0.01 sqrtdi √u_af) with u_af = u* (CoLM2014 with the 2021 fix);
//! the under-canopy resistance r_d = 1/(c_s u_af) with c_s blending the bare-soil value
//! k/(0.13 (z0g u_af/ν)^0.45) (z0g 0.01 m) and csoilc by e^{−(L+S)}; stomata and
//! photosynthesis per leaf ([`super::stomata`], leaf r_b/L_i, canopy factors of
//! [`super::big_leaf`]); the network and fluxes of [`super::leaf_fluxes`]; a Newton step on
//! the leaf energy balances S_i + IR_i − H_i − λE_i = 0 (no leaf heat capacity), limited to
//! 1 K (two leaves) or 3 K (one leaf) and halved on a sign change; canopy air T, q and CO₂
//! updated; z/L from the canopy-air scales, in [−100, 2], the Obukhov length set to unstable
//! after four sign changes. 6 to 40 iterations, stopping when the largest of the last two
//! temperature changes is below 0.01 K and the flux change below 0.1 W m-2 (CoLM carries its
//! flux-change measure into the next iteration's temperature test; kept). A leaf evaporation
//! that changes sign after the sixth iteration is damped to a tenth, the difference booked
//! as sensible heat. The fluxes returned are linearised to the final temperatures, so each
//! leaf's balance closes to rounding; wet evaporation above the canopy water is moved to
//! sensible heat.

use super::big_leaf::{big_leaf_factors, EXTKN};
use super::constants::{CPAIR, GRAV, HVAP, STEFNC, VONKAR};
use super::interception::wetted_fraction;
use super::leaf_fluxes::{
    leaf_fluxes, network, LeafArea, LeafFluxes, Network, Surroundings, WaterLimits, NLEAF,
};
use super::saturation::saturation;
use super::stomata::{molar_factor, stomata, LeafEnv};
use super::surface_layer::{
    at_2m, bulk_richardson, friction_velocity, initial_obukhov, profiles, Profiles, Roughness,
    SurfaceLayerState,
};
use super::vegetation_usgs::VegParams;
use crate::lsm::LsmError;

const ITMAX: usize = 40;
const ITMIN: usize = 6;
const DTMIN: f64 = 0.01;
const DLEMIN: f64 = 0.1;
/// Soil respiration of the canopy CO₂ budget (mol m-2 s-1).
const RSOIL: f64 = 0.22e-6;
/// Boundary-layer height of the convective velocity (m).
const ZII: f64 = 1000.0;

/// The atmosphere at the forcing heights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Atmosphere {
    /// Heights of wind, temperature and humidity (m).
    pub hu: f64,
    pub ht: f64,
    pub hq: f64,
    /// Wind components (m s-1).
    pub us: f64,
    pub vs: f64,
    /// T + 0.0098 h_t, potential and virtual potential temperature (K).
    pub thm: f64,
    pub th: f64,
    pub thv: f64,
    /// Specific humidity (kg kg-1), pressure (Pa), density (kg m-3), longwave (W m-2).
    pub qm: f64,
    pub psrf: f64,
    pub rhoair: f64,
    pub frl: f64,
    /// O₂ and CO₂ partial pressures (Pa).
    pub po2m: f64,
    pub pco2m: f64,
}

/// The canopy's state and radiation for this step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CanopyInput {
    /// Leaf and stem area (m2 m-2), vegetated fraction (-).
    pub lai: f64,
    pub sai: f64,
    pub sigf: f64,
    /// Direct and diffuse extinction, longwave gap fraction (from the two-stream albedo).
    pub extkb: f64,
    pub extkd: f64,
    pub thermk: f64,
    /// Sunlit fraction of the leaves; 0 selects the single-leaf form.
    pub fsun: f64,
    /// Absorbed PAR and shortwave of sunlit and shaded leaves (W m-2).
    pub par: [f64; 2],
    pub sabv: [f64; 2],
    /// Soil-water stress factor (-) and maximum transpiration (mm s-1) of [`super::root_uptake`].
    pub rstfac: f64,
    pub etrc: f64,
}

/// Ground seen by the canopy: temperature (K), humidity (kg kg-1), d q_g/dT (K-1),
/// emissivity (-).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroundState {
    pub tg: f64,
    pub qg: f64,
    pub dqgdt: f64,
    pub emg: f64,
}

/// Results (fluxes per unit ground area, σ_f included; up +).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LeafResult {
    /// Sunlit and shaded leaf temperature (K; equal for one leaf).
    pub tlsun: f64,
    pub tlsha: f64,
    /// Canopy water after evaporation (mm).
    pub ldew: f64,
    /// Leaf sensible heat (W m-2), evaporation + transpiration and transpiration (mm s-1).
    pub fsenl: f64,
    pub fevpl: f64,
    pub etr: f64,
    /// Wet-leaf evaporation (mm s-1).
    pub evplwet: f64,
    /// Per leaf (sunlit/single, shaded): absorbed shortwave, net longwave at the final
    /// temperature, sensible heat (W m-2), evaporation (mm s-1); their balance closes.
    pub leaf_sabv: [f64; NLEAF],
    pub leaf_irab: [f64; NLEAF],
    pub leaf_senl: [f64; NLEAF],
    pub leaf_evpl: [f64; NLEAF],
    /// Stomatal resistance (s m-1), gross assimilation and respiration (mol m-2 s-1).
    pub rst: f64,
    pub assim: f64,
    pub respc: f64,
    /// Longwave down below and up above the canopy (W m-2).
    pub dlrad: f64,
    pub ulrad: f64,
    /// Contributions of the vegetated part: momentum flux, ground sensible heat (W m-2) and
    /// evaporation (mm s-1) into the canopy air, their ground-temperature derivatives,
    /// 2-m temperature and humidity.
    pub taux: f64,
    pub tauy: f64,
    pub fseng: f64,
    pub fevpg: f64,
    pub cgrnds: f64,
    pub cgrndl: f64,
    pub tref: f64,
    pub qref: f64,
    /// Surface-layer diagnostics above the canopy.
    pub surface: SurfaceLayerState,
    /// Iterations made.
    pub iterations: usize,
}

/// The leaves of this step and their fixed inputs.
struct Leaves {
    n: usize,
    area: [LeafArea; NLEAF],
    cint: [[f64; 3]; NLEAF],
    par: [f64; NLEAF],
    sabv: [f64; NLEAF],
    delmax: f64,
}

fn leaves(c: &CanopyInput) -> Leaves {
    if c.fsun > 0.0 {
        let (sun, sha) = big_leaf_factors(c.lai, c.extkb, c.extkd);
        let lsun = c.lai * c.fsun;
        let fsha = 1.0 - c.fsun;
        return Leaves {
            n: 2,
            area: [
                LeafArea {
                    lai: lsun,
                    sai: 0.0,
                    lw_share: c.fsun,
                },
                LeafArea {
                    lai: c.lai * fsha,
                    sai: c.sai,
                    lw_share: fsha,
                },
            ],
            cint: [sun, sha],
            par: c.par,
            sabv: c.sabv,
            delmax: 1.0,
        };
    }
    let whole = |k: f64| (1.0 - (-k * c.lai).exp()) / k;
    let one = LeafArea {
        lai: c.lai,
        sai: c.sai,
        lw_share: 1.0,
    };
    Leaves {
        n: 1,
        area: [
            one,
            LeafArea {
                lai: 0.0,
                sai: 0.0,
                lw_share: 0.0,
            },
        ],
        cint: [[whole(EXTKN), whole(c.extkd), c.lai], [0.0; 3]],
        par: [c.par[0] + c.par[1], 0.0],
        sabv: [c.sabv[0] + c.sabv[1], 0.0],
        delmax: 3.0,
    }
}

/// Aerodynamic state carried through the iteration.
#[derive(Debug, Clone, Copy)]
struct Aero {
    obu: f64,
    um: f64,
    ur: f64,
    zldis: f64,
    obuold: f64,
    nmozsgn: usize,
    zeta: f64,
    tstar: f64,
    qstar: f64,
    dth: f64,
    dqh: f64,
}

/// Resistances of one iteration (s m-1) and the profiles they came from.
struct Resist {
    pr: Profiles,
    ustar: f64,
    ram: f64,
    rah: f64,
    raw: f64,
    rb: f64,
    rd: f64,
}

fn resistances(atm: &Atmosphere, v: &VegParams, lsai: f64, csoilc: f64, ae: &Aero) -> Resist {
    let z0 = Roughness {
        z0m: v.z0m,
        z0h: v.z0m,
        z0q: v.z0m,
    };
    let pr = profiles(atm.hu, atm.ht, atm.hq, v.displa, z0, ae.obu);
    let ustar = friction_velocity(ae.um, pr.fm);
    let uaf = ustar;
    let cf = 0.01 * v.sqrtdi / uaf.sqrt();
    let z0mg = 0.01;
    let w = (-lsai).exp();
    let csoilcn = (VONKAR / (0.13 * (z0mg * uaf / 1.5e-5).powf(0.45))) * w + csoilc * (1.0 - w);
    Resist {
        ram: 1.0 / (ustar * ustar / ae.um),
        rah: 1.0 / (VONKAR / pr.fh * ustar),
        raw: 1.0 / (VONKAR / pr.fq * ustar),
        rb: 1.0 / (cf * uaf),
        rd: 1.0 / (csoilcn * uaf),
        pr,
        ustar,
    }
}

/// Stomata of each leaf: (r_s L_i, gross assimilation, respiration).
#[allow(clippy::type_complexity)]
fn leaf_stomata(
    lv: &Leaves,
    v: &VegParams,
    atm: &Atmosphere,
    c: &CanopyInput,
    (tl, ei): (&[f64; NLEAF], &[f64; NLEAF]),
    (qaf, pco2a, rb): (f64, f64, f64),
) -> Result<([f64; NLEAF], [f64; NLEAF], [f64; NLEAF]), LsmError> {
    let (mut rs, mut assim, mut respc) = ([2.0e4; NLEAF], [0.0; NLEAF], [0.0; NLEAF]);
    let eah = qaf * atm.psrf / (0.622 + 0.378 * qaf);
    for i in 0..lv.n {
        if c.lai > 0.001 {
            let env = LeafEnv {
                psrf: atm.psrf,
                po2m: atm.po2m,
                pco2m: atm.pco2m,
                pco2a,
                ea: eah,
                ei: ei[i],
                tlef: tl[i],
                par: lv.par[i],
                rb: rb / lv.area[i].lai,
                rstfac: c.rstfac,
            };
            let s = stomata(&v.photo, &env, &lv.cint[i])?;
            (rs[i], assim[i], respc[i]) = (s.rst, s.assim, s.respc);
        }
        rs[i] *= lv.area[i].lai;
    }
    Ok((rs, assim, respc))
}

/// The Newton step on the leaf balances F_i + Σ_j J_ij ΔT_j = 0 (Cramer's rule for two).
fn newton(n: usize, ft: &[f64; NLEAF], jac: &[[f64; NLEAF]; NLEAF]) -> [f64; NLEAF] {
    if n == 1 {
        return [ft[0] / (-jac[0][0]), 0.0];
    }
    let (a, b, c, d) = (jac[0][0], jac[0][1], jac[1][0], jac[1][1]);
    [
        -(ft[0] * d - ft[1] * b) / (a * d - b * c),
        -(ft[0] * c - ft[1] * a) / (b * c - a * d),
    ]
}

/// Energy residual F_i and Jacobian J_ij of each leaf; `evpl` the (possibly damped)
/// evaporation used in F.
fn balance(n: usize, sabv: &[f64; NLEAF], f: &LeafFluxes, evpl: &[f64; NLEAF]) -> Balance {
    let mut b = Balance::default();
    for i in 0..n {
        b.ft[i] = sabv[i] + f.irab[i] - f.senl[i] - HVAP * evpl[i];
        for j in 0..n {
            b.jac[i][j] = f.dirab[i][j] - f.dsenl[i][j] - HVAP * (f.detr[i][j] + f.devplwet[i][j]);
        }
    }
    b
}

#[derive(Debug, Clone, Copy, Default)]
struct Balance {
    ft: [f64; NLEAF],
    jac: [[f64; NLEAF]; NLEAF],
}

/// Flux-change measure of the convergence test: CoLM's two-leaf form (root of the summed
/// squares of each linearised flux change) and its one-leaf form.
fn flux_change(n: usize, f: &LeafFluxes, d: &[f64; NLEAF]) -> f64 {
    if n == 1 {
        let devpl = f.detr[0][0] + f.devplwet[0][0];
        let s =
            d[0] * d[0] * (f.dirab[0][0].powi(2) + f.dsenl[0][0].powi(2) + HVAP * devpl * devpl);
        return s.sqrt();
    }
    let lin = |m: &[[f64; NLEAF]; NLEAF], i: usize| m[i][0] * d[0] + m[i][1] * d[1];
    let mut s = 0.0;
    for m in [&f.dirab, &f.dsenl] {
        s += lin(m, 0).powi(2) + lin(m, 1).powi(2);
    }
    for i in 0..2 {
        let e = HVAP * (f.detr[i][0] + f.devplwet[i][0]) * d[0]
            + HVAP * (f.detr[i][1] + f.devplwet[i][1]) * d[1];
        s += e * e;
    }
    s.sqrt()
}

/// Stability from the canopy-air scales: z/L in [−100, 2], the wind with the convective
/// velocity, the Obukhov length forced unstable after four sign changes.
fn update_stability(
    ae: &mut Aero,
    atm: &Atmosphere,
    pr: &Profiles,
    ustar: f64,
    taf: f64,
    qaf: f64,
) {
    ae.dth = atm.thm - taf;
    ae.dqh = atm.qm - qaf;
    ae.tstar = VONKAR / pr.fh * ae.dth;
    ae.qstar = VONKAR / pr.fq * ae.dqh;
    let thvstar = ae.tstar + 0.61 * atm.th * ae.qstar;
    let zeta = ae.zldis * VONKAR * GRAV * thvstar / (ustar * ustar * atm.thv);
    ae.zeta = if zeta >= 0.0 {
        zeta.clamp(1e-6, 2.0)
    } else {
        zeta.clamp(-100.0, -1e-6)
    };
    ae.obu = ae.zldis / ae.zeta;
    ae.um = if ae.zeta >= 0.0 {
        ae.ur.max(0.1)
    } else {
        let wc = (-GRAV * ustar * thvstar * ZII / atm.thv).powf(1.0 / 3.0);
        (ae.ur * ae.ur + wc * wc).sqrt()
    };
    if ae.obuold * ae.obu < 0.0 {
        ae.nmozsgn += 1;
    }
    if ae.nmozsgn >= 4 {
        ae.obu = ae.zldis / -0.01;
    }
    ae.obuold = ae.obu;
}

/// Everything of the last iteration that the final fluxes need.
struct Last {
    r: Resist,
    w: Network,
    f: LeafFluxes,
    b: Balance,
    d: [f64; NLEAF],
    d_noadj: [f64; NLEAF],
    erre: [f64; NLEAF],
    evpl_noadj: [f64; NLEAF],
    tlbef: [f64; NLEAF],
    assim: [f64; NLEAF],
    respc: [f64; NLEAF],
    rs: [f64; NLEAF],
    taf: f64,
    qaf: f64,
}

/// Fixed inputs of the iteration.
struct Ctx<'a> {
    lv: Leaves,
    atm: &'a Atmosphere,
    v: &'a VegParams,
    c: &'a CanopyInput,
    g: &'a GroundState,
    s: Surroundings,
    lim: WaterLimits,
    fwet: f64,
    csoilc: f64,
}

/// What changes from one iteration to the next.
struct State {
    tl: [f64; NLEAF],
    ei: [f64; NLEAF],
    qsat: [f64; NLEAF],
    qsatdt: [f64; NLEAF],
    taf: f64,
    qaf: f64,
    pco2a: f64,
    ae: Aero,
    d_prev: [f64; NLEAF],
    evpl_bef: [f64; NLEAF],
}

impl State {
    /// Saturation at the leaf temperatures.
    fn saturate(&mut self, n: usize, psrf: f64) {
        for i in 0..n {
            let s = saturation(self.tl[i], psrf);
            (self.ei[i], self.qsat[i], self.qsatdt[i]) = (s.es, s.qs, s.qsdt);
        }
    }
}

/// First guesses: canopy air halfway between ground and air, stability from the bulk
/// Richardson number.
fn start(ctx: &Ctx, tl0: [f64; NLEAF]) -> Result<State, LsmError> {
    let (atm, g, v) = (ctx.atm, ctx.g, ctx.v);
    let zldis = atm.hu - v.displa;
    if zldis <= 0.0 {
        return Err(LsmError::State(format!(
            "CoLM leaf temperature: forcing height {} m not above the displacement {} m",
            atm.hu, v.displa
        )));
    }
    let (taf, qaf) = (0.5 * (g.tg + atm.thm), 0.5 * (atm.qm + g.qg));
    let ur = (atm.us * atm.us + atm.vs * atm.vs).sqrt().max(0.1);
    let (dth, dqh) = (atm.thm - taf, atm.qm - qaf);
    let dthv = dth * (1.0 + 0.61 * atm.qm) + 0.61 * atm.th * dqh;
    let (um, obu) = initial_obukhov(ur, atm.thv, dthv, zldis, v.z0m);
    let ae = Aero {
        obu,
        um,
        ur,
        zldis,
        obuold: 0.0,
        nmozsgn: 0,
        zeta: 0.0,
        tstar: 0.0,
        qstar: 0.0,
        dth,
        dqh,
    };
    let tl = if ctx.lv.n == 1 { [tl0[1], 0.0] } else { tl0 };
    let mut st = State {
        tl,
        ei: [1.0; NLEAF],
        qsat: [0.0; NLEAF],
        qsatdt: [0.0; NLEAF],
        taf,
        qaf,
        pco2a: atm.pco2m,
        ae,
        d_prev: [0.0; NLEAF],
        evpl_bef: [0.0; NLEAF],
    };
    st.saturate(ctx.lv.n, atm.psrf);
    Ok(st)
}

/// One iteration `it` (from 1): resistances, stomata, fluxes, the Newton step and the new
/// canopy air. Returns the iteration's record, the (damped) evaporation and the temperature
/// and flux changes.
fn iterate(
    ctx: &Ctx,
    st: &mut State,
    it: usize,
) -> Result<(Last, [f64; NLEAF], f64, f64), LsmError> {
    let (lv, c, n) = (&ctx.lv, ctx.c, ctx.lv.n);
    let tlbef = st.tl;
    let r = resistances(ctx.atm, ctx.v, c.lai + c.sai, ctx.csoilc, &st.ae);
    let (rs, assim, respc) = leaf_stomata(
        lv,
        ctx.v,
        ctx.atm,
        c,
        (&st.tl, &st.ei),
        (st.qaf, st.pco2a, r.rb),
    )?;
    let mut delta = [0.0; NLEAF];
    for i in 0..n {
        delta[i] = if st.qsat[i] - st.qaf > 0.0 { 1.0 } else { 0.0 };
    }
    let rr = [r.rah, r.raw, r.rd, r.rb];
    let w = network(n, &lv.area, c.sigf, rr, &rs, &delta, ctx.fwet);
    let leaf = (r.rb, &rs, &delta, ctx.fwet);
    let f = leaf_fluxes(
        n,
        &lv.area,
        &ctx.s,
        &w,
        leaf,
        &st.tl,
        (&st.qsat, &st.qsatdt),
        &ctx.lim,
    );
    let (evpl, erre, evpl_noadj) = damped_evaporation(n, &f, &st.evpl_bef);
    let b = balance(n, &lv.sabv, &f, &evpl);
    let d_noadj = newton(n, &b.ft, &b.jac);
    let d = limited_step(n, &d_noadj, &st.d_prev, lv.delmax, it);
    for i in 0..n {
        st.tl[i] = tlbef[i] + d[i];
    }
    st.d_prev = d;
    let del = d[..n].iter().map(|x| x * x).sum::<f64>().sqrt();
    let dele = flux_change(n, &f, &d);
    st.saturate(n, ctx.atm.psrf);
    canopy_air(ctx, st, &w, &r, (&assim, &respc));
    let last = Last {
        r,
        w,
        f,
        b,
        d,
        d_noadj,
        erre,
        evpl_noadj,
        tlbef,
        assim,
        respc,
        rs,
        taf: st.taf,
        qaf: st.qaf,
    };
    Ok((last, evpl, del, dele))
}

/// Canopy air temperature, humidity and CO₂ from the network, then the stability.
fn canopy_air(
    ctx: &Ctx,
    st: &mut State,
    w: &Network,
    r: &Resist,
    (assim, respc): (&[f64; NLEAF], &[f64; NLEAF]),
) {
    let (atm, g, n) = (ctx.atm, ctx.g, ctx.lv.n);
    st.taf = w.wta * atm.thm + w.wtg * g.tg;
    st.qaf = w.wtaq * atm.qm + w.wtgq * g.qg;
    for i in 0..n {
        st.taf += w.wtl[i] * st.tl[i];
        st.qaf += w.wtlq[i] * st.qsat[i];
    }
    let gah2o = 1.0 / r.raw * molar_factor(atm.thm, atm.psrf);
    let net: f64 = assim[..n].iter().sum::<f64>() - respc[..n].iter().sum::<f64>();
    st.pco2a = atm.pco2m - 1.37 * atm.psrf / gah2o.max(0.446) * (net - RSOIL);
    update_stability(&mut st.ae, atm, &r.pr, r.ustar, st.taf, st.qaf);
}

/// The air and ground the leaves see.
fn surroundings(atm: &Atmosphere, c: &CanopyInput, g: &GroundState) -> Surroundings {
    Surroundings {
        thm: atm.thm,
        qm: atm.qm,
        rhoair: atm.rhoair,
        frl: atm.frl,
        tg: g.tg,
        qg: g.qg,
        emg: g.emg,
        sigf: c.sigf,
        thermk: c.thermk,
    }
}

/// Leaf evaporation (transpiration + wet) and its damping: a sign change against the
/// previous iteration's value keeps a tenth, the rest (`erre`) is booked as sensible heat.
/// Returns (damped, removed, undamped).
fn damped_evaporation(
    n: usize,
    f: &LeafFluxes,
    evpl_bef: &[f64; NLEAF],
) -> ([f64; NLEAF], [f64; NLEAF], [f64; NLEAF]) {
    let (mut evpl, mut erre) = ([0.0; NLEAF], [0.0; NLEAF]);
    for i in 0..n {
        evpl[i] = f.etr[i] + f.evplwet[i];
    }
    let noadj = evpl;
    for i in 0..n {
        if evpl[i] * evpl_bef[i] < 0.0 {
            erre[i] = -0.9 * evpl[i];
            evpl[i] *= 0.1;
        }
    }
    (evpl, erre, noadj)
}

/// The Newton step limited to `delmax` (K) and averaged with the previous step after a sign
/// change (from the second iteration).
fn limited_step(
    n: usize,
    d_noadj: &[f64; NLEAF],
    d_prev: &[f64; NLEAF],
    delmax: f64,
    it: usize,
) -> [f64; NLEAF] {
    let mut d = *d_noadj;
    for i in 0..n {
        if d[i].abs() > delmax {
            d[i] = delmax * d[i] / d[i].abs();
        }
        if it >= 2 && d_prev[i] * d[i] <= 0.0 {
            d[i] = 0.5 * (d_prev[i] + d[i]);
        }
    }
    d
}

/// Leaf temperatures and canopy fluxes for one step of `dt` seconds. `tl0` the leaf
/// temperatures (sunlit, shaded) at the start (K), `ldew` the canopy water after
/// interception (mm).
pub fn leaf_temperature(
    atm: &Atmosphere,
    v: &VegParams,
    c: &CanopyInput,
    g: &GroundState,
    (csoilc, dewmx, dt): (f64, f64, f64),
    tl0: [f64; NLEAF],
    ldew: f64,
) -> Result<LeafResult, LsmError> {
    let s = surroundings(atm, c, g);
    let lim = WaterLimits {
        etrc: c.etrc,
        ldew,
        dt,
        lai: c.lai,
        sai: c.sai,
    };
    let fwet = wetted_fraction(c.sigf, c.lai, c.sai, dewmx, ldew).0;
    let ctx = Ctx {
        lv: leaves(c),
        atm,
        v,
        c,
        g,
        s,
        lim,
        fwet,
        csoilc,
    };
    let mut st = start(&ctx, tl0)?;
    let (mut del, mut dele) = (0.0, 0.0);
    let mut it = 1;
    let last = loop {
        let (del2, dele2) = (del, dele);
        let (last, evpl, d1, e1) = iterate(&ctx, &mut st, it)?;
        (del, dele) = (d1, e1);
        it += 1;
        if it > ITMIN {
            st.evpl_bef = evpl;
            let det = del.max(del2);
            // CoLM carries the flux measure in `del` into the next iteration's test.
            del = dele.max(dele2);
            if det < DTMIN && del < DLEMIN {
                break last;
            }
        }
        if it > ITMAX {
            break last;
        }
    };
    Ok(finish(
        &ctx.lv,
        atm,
        c,
        g,
        &st.ae,
        &last,
        st.tl,
        (ldew, dt, v.z0m),
        it - 1,
    ))
}

/// Fluxes linearised to the final temperatures, canopy water, longwave and the
/// vegetated part's contributions to the ground and surface-layer terms.
fn finish(
    lv: &Leaves,
    atm: &Atmosphere,
    c: &CanopyInput,
    g: &GroundState,
    ae: &Aero,
    l: &Last,
    tl: [f64; NLEAF],
    (ldew, dt, z0m): (f64, f64, f64),
    iterations: usize,
) -> LeafResult {
    let n = lv.n;
    let mut out = LeafResult {
        iterations,
        ..Default::default()
    };
    let (mut wet, mut fac_t) = (0.0, 0.0);
    let fac = c.sigf * (1.0 - c.thermk);
    for i in 0..n {
        let (mut h, mut e, mut ir, mut ew) =
            (l.f.senl[i], l.evpl_noadj[i], l.f.irab[i], l.f.evplwet[i]);
        for j in 0..n {
            h += l.f.dsenl[i][j] * l.d[j] + (l.d_noadj[j] - l.d[j]) * (-l.b.jac[i][j]);
            e += (l.f.detr[i][j] + l.f.devplwet[i][j]) * l.d[j];
            ew += l.f.devplwet[i][j] * l.d[j];
            out.etr += l.f.detr[i][j] * l.d[j];
        }
        ir += l.f.dirab[i][i] * l.d[i];
        out.etr += l.f.etr[i];
        h += HVAP * l.erre[i];
        (out.leaf_senl[i], out.leaf_evpl[i], out.leaf_irab[i]) = (h, e, ir);
        out.leaf_sabv[i] = lv.sabv[i];
        wet += ew;
        let tb = l.tlbef[i];
        fac_t += fac * lv.area[i].lw_share * tb.powi(3) * (tb + 4.0 * l.d[i]);
    }
    // Wet evaporation beyond the canopy water becomes sensible heat, leaf by leaf in
    // proportion to each leaf's wet evaporation.
    let elwdif = (wet - ldew / dt).max(0.0);
    for i in 0..n {
        if elwdif > 0.0 {
            let ew: f64 = l.f.evplwet[i] + (0..n).map(|j| l.f.devplwet[i][j] * l.d[j]).sum::<f64>();
            let share = elwdif * ew / wet;
            out.leaf_evpl[i] -= share;
            out.leaf_senl[i] += HVAP * share;
        }
        out.fsenl += out.leaf_senl[i];
        out.fevpl += out.leaf_evpl[i];
    }
    let evplwet = wet.min(ldew / dt);
    out.evplwet = evplwet;
    out.ldew = (ldew - evplwet * dt).max(0.0);
    (out.tlsun, out.tlsha) = if n == 1 {
        (tl[0], tl[0])
    } else {
        (tl[0], tl[1])
    };
    surface_terms(&mut out, lv, atm, c, g, ae, l, z0m);
    out.dlrad = c.sigf * c.thermk * atm.frl + STEFNC * fac_t;
    out.ulrad = STEFNC * (fac_t + c.sigf * g.emg * c.thermk * g.tg.powi(4));
    out
}

/// Stomatal and surface-layer outputs and the vegetated part's share of the ground and
/// 2-m terms.
fn surface_terms(
    out: &mut LeafResult,
    lv: &Leaves,
    atm: &Atmosphere,
    c: &CanopyInput,
    g: &GroundState,
    ae: &Aero,
    l: &Last,
    z0m: f64,
) {
    let n = lv.n;
    if c.lai > 0.001 {
        out.rst = if n == 1 {
            l.rs[0] / c.lai
        } else {
            1.0 / (lv.area[0].lai / l.rs[0] + lv.area[1].lai / l.rs[1])
        };
        out.assim = l.assim[..n].iter().sum();
        out.respc = l.respc[..n].iter().sum::<f64>() + RSOIL;
    } else {
        (out.rst, out.assim, out.respc) = (2.0e4, 0.0, RSOIL);
    }
    let (r, w, s) = (&l.r, &l.w, c.sigf);
    out.taux = -s * atm.rhoair * atm.us / r.ram;
    out.tauy = -s * atm.rhoair * atm.vs / r.ram;
    out.fseng = CPAIR * atm.rhoair * w.cgh * (g.tg - l.taf);
    out.fevpg = atm.rhoair * w.cgw * (g.qg - l.qaf);
    out.cgrnds = CPAIR * atm.rhoair * w.cgh * (1.0 - w.wtg);
    out.cgrndl = atm.rhoair * w.cgw * (1.0 - w.wtgq) * g.dqgdt;
    out.tref = s * at_2m(atm.thm, ae.dth, r.pr.fh, r.pr.fh2m);
    out.qref = s * at_2m(atm.qm, ae.dqh, r.pr.fq, r.pr.fq2m);
    out.surface = SurfaceLayerState {
        z0ma: z0m,
        zol: ae.zeta,
        rib: bulk_richardson(ae.zeta, r.ustar, r.pr.fh, ae.um),
        ustar: r.ustar,
        tstar: ae.tstar,
        qstar: ae.qstar,
        fm: r.pr.fm,
        fh: r.pr.fh,
        fq: r.pr.fq,
    };
}
