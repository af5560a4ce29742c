//! The energy balance of one column step: the role of CoLM's `THERMAL` (Dai et al. 2003;
//! Oleson et al. 2004 §5 and §6).
//!
//! Order: ground surface ([`super::ground_humidity`]); bare-ground fluxes for the
//! unvegetated part when σ_f ≤ 0.999 ([`super::ground_fluxes`]); root uptake and stress
//! ([`super::root_uptake`]) and the leaves when σ_f ≥ 0.001 ([`super::leaf_temperature`]:
//! two big leaves when the sunlit fraction f_sun = (1 − e^{−KL})/(KL) exceeds 0.1 in
//! daylight with ≥ 1 W m-2 absorbed by the canopy, else one leaf at the shaded temperature);
//! snow + soil conduction with the linearised surface flux and phase change
//! ([`super::heat`], [`super::phase_change`]). Then the ground's sensible heat and
//! evaporation are moved to the new surface temperature with their derivatives (and the
//! evaporation limited to the top layer's water, the excess booked as sensible heat),
//! emitted longwave and the ground heat flux use the temperature before the step plus the
//! linear change (so the balance closes), and the budget
//! S_v + S_g + L↓ − L↑ − H − λE − phase change − storage is the step's energy residual.

use super::constants::{CPAIR, GRAV, HVAP, NLAYER, NSOIL, STEFNC, TFRZ, VONKAR};
use super::ground_fluxes::{ground_fluxes, GroundFluxInput};
use super::ground_humidity::{ground_surface, GroundSurface};
use super::heat::{conduct, ground_surface_flux};
use super::layers::{soil, Layers};
use super::leaf_temperature::{leaf_temperature, Atmosphere, CanopyInput, GroundState, LeafResult};
use super::params::SoilParams;
use super::phase_change::{melt_freeze, ThinSnow};
use super::root_uptake::root_uptake;
use super::surface_layer::{bulk_richardson, profiles, Roughness, SurfaceLayerState};
use super::vegetation_usgs::VegParams;
use super::Tunables;
use crate::lsm::LsmError;

/// Radiation and canopy of the step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnergyInput {
    pub atm: Atmosphere,
    /// Air temperature (K): the leaves take it without vegetation.
    pub forc_t: f64,
    /// Absorbed shortwave of sunlit and shaded leaves, ground (W m-2); absorbed PAR of the
    /// leaves (W m-2).
    pub sabv: [f64; 2],
    pub sabg: f64,
    pub par: [f64; 2],
    /// Leaf and stem area, vegetated fraction, snow cover (-).
    pub lai: f64,
    pub sai: f64,
    pub sigf: f64,
    pub fsno: f64,
    /// Direct and diffuse extinction, longwave gap fraction, cosine of the zenith angle.
    pub extkb: f64,
    pub extkd: f64,
    pub thermk: f64,
    pub coszen: f64,
}

/// Fixed parameters of the column.
#[derive(Debug, Clone, Copy)]
pub struct ColumnParams<'a> {
    pub soil: &'a SoilParams,
    pub rootfr: &'a [f64; NSOIL],
    pub veg: &'a VegParams,
    pub tun: &'a Tunables,
}

/// State changed by the step besides the layers and the layerless snow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CanopyState {
    /// Sunlit and shaded leaf temperatures (K), canopy water (mm).
    pub tlsun: f64,
    pub tlsha: f64,
    pub ldew: f64,
}

/// Fluxes (up +, W m-2 or mm s-1) and diagnostics of the step.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct EnergyFluxes {
    pub fsena: f64,
    pub fevpa: f64,
    pub lfevpa: f64,
    pub fsenl: f64,
    pub fevpl: f64,
    pub etr: f64,
    pub fseng: f64,
    pub fevpg: f64,
    /// Longwave leaving the surface (W m-2) and the ground heat flux (into the ground +).
    pub olrg: f64,
    pub fgrnd: f64,
    /// Root uptake weights, stress factor, maximum transpiration (mm s-1).
    pub rootr: [f64; NSOIL],
    pub rstfac: f64,
    pub etrc: f64,
    /// Ground evaporation split: from liquid, dew, sublimation, frost (mm s-1).
    pub qseva: f64,
    pub qsdew: f64,
    pub qsubl: f64,
    pub qfros: f64,
    /// Snowmelt (mm s-1) and latent heat of phase change (W m-2).
    pub sm: f64,
    pub xmf: f64,
    pub tref: f64,
    pub qref: f64,
    pub trad: f64,
    pub emis: f64,
    pub rst: f64,
    pub assim: f64,
    pub respc: f64,
    /// Energy residual of the step (W m-2).
    pub errore: f64,
    /// Roughness, stability and scales of the whole surface layer.
    pub surface: SurfaceLayerState,
    /// Leaf iterations (0 without vegetation).
    pub leaf_iterations: usize,
    /// Phase change per layer: 0 none, 1 melting, 2 freezing.
    pub imelt: [u8; NLAYER],
}

/// One energy-balance step of `dt` seconds on column `l` with layerless snow `snow`.
pub fn energy_balance(
    l: &mut Layers,
    snow: &mut ThinSnow,
    cp: &ColumnParams,
    inp: &EnergyInput,
    cs: &mut CanopyState,
    dt: f64,
) -> Result<EnergyFluxes, LsmError> {
    let gs = ground_surface(l, cp.soil, snow.scv, inp.fsno, inp.atm.qm, inp.atm.psrf);
    let mut out = EnergyFluxes {
        rst: 2.0e4,
        ..Default::default()
    };
    let bare = bare_ground(inp, &gs, cp.tun);
    let leaf = canopy(l, cp, inp, &gs, cs, &mut out, dt)?;
    let turb = combine(&bare, leaf.as_ref(), &gs);
    let t_bef = l.t;
    let sf = ground_surface_flux(
        inp.sabg,
        turb.dlrad,
        inp.atm.frl,
        inp.sigf,
        gs.emg,
        gs.t_grnd,
        turb.fseng,
        turb.fevpg,
        gs.htvp,
        turb.cgrnd,
    );
    let cond = conduct(l, cp.soil, cp.tun, snow.scv, sf, dt);
    let pc = melt_freeze(l, &cond, sf, snow, dt);
    (out.sm, out.xmf, out.imelt) = (pc.sm, pc.xmf, pc.imelt);
    close_fluxes(&mut out, l, &t_bef, inp, &gs, &turb, dt);
    surface_layer_diagnostics(&mut out, &bare, leaf.as_ref(), inp, cp.veg, &turb);
    let top = l.top();
    let mut storage = 0.0;
    for k in top..l.t.len() {
        storage += (l.t[k] - cond.t_bef[k]) / cond.fact[k];
    }
    out.errore = inp.sabv[0] + inp.sabv[1] + inp.sabg + inp.atm.frl
        - out.olrg
        - out.fsena
        - out.lfevpa
        - out.xmf
        - storage;
    Ok(out)
}

/// Bare-ground fluxes of the unvegetated part (`None` when σ_f > 0.999).
fn bare_ground(
    inp: &EnergyInput,
    gs: &GroundSurface,
    tun: &Tunables,
) -> Option<super::ground_fluxes::GroundFluxes> {
    if inp.sigf > 0.999 {
        return None;
    }
    let a = &inp.atm;
    let gi = GroundFluxInput {
        hu: a.hu,
        ht: a.ht,
        hq: a.hq,
        us: a.us,
        vs: a.vs,
        ur: (a.us * a.us + a.vs * a.vs).sqrt().max(0.1),
        qm: a.qm,
        rhoair: a.rhoair,
        thm: a.thm,
        th: a.th,
        thv: a.thv,
        t_grnd: gs.t_grnd,
        qg: gs.qg,
        dqgdt: gs.dqgdt,
        htvp: gs.htvp,
        fsno: inp.fsno,
        sigf: inp.sigf,
    };
    Some(ground_fluxes(&gi, tun.zlnd, tun.zsno))
}

/// Root uptake and the leaves (`None` without vegetation: leaves at air temperature, no
/// canopy water).
fn canopy(
    l: &Layers,
    cp: &ColumnParams,
    inp: &EnergyInput,
    gs: &GroundSurface,
    cs: &mut CanopyState,
    out: &mut EnergyFluxes,
    dt: f64,
) -> Result<Option<LeafResult>, LsmError> {
    if inp.sigf < 0.001 {
        (cs.tlsun, cs.tlsha, cs.ldew) = (inp.forc_t, inp.forc_t, 0.0);
        return Ok(None);
    }
    let s = |a: &[f64; super::constants::NLAYER]| std::array::from_fn(|j| a[soil(j)]);
    let ru = root_uptake(
        cp.soil,
        cp.rootfr,
        &s(&l.dz),
        &s(&l.t),
        &s(&l.wliq),
        cp.tun.trsmx0,
    );
    (out.rootr, out.rstfac, out.etrc) = (ru.rootr, ru.rstfac, ru.etrc);
    let kl = (inp.extkb * inp.lai).min(40.0);
    let mut fsun = (1.0 - (-kl).exp()) / kl.max(1e-6);
    if inp.coszen <= 0.0 || inp.sabv[0] + inp.sabv[1] < 1.0 || fsun <= 0.1 {
        fsun = 0.0;
    }
    let c = CanopyInput {
        lai: inp.lai,
        sai: inp.sai,
        sigf: inp.sigf,
        extkb: inp.extkb,
        extkd: inp.extkd,
        thermk: inp.thermk,
        fsun,
        par: inp.par,
        sabv: inp.sabv,
        rstfac: ru.rstfac,
        etrc: ru.etrc,
    };
    let g = GroundState {
        tg: gs.t_grnd,
        qg: gs.qg,
        dqgdt: gs.dqgdt,
        emg: gs.emg,
    };
    let tun = cp.tun;
    let r = leaf_temperature(
        &inp.atm,
        cp.veg,
        &c,
        &g,
        (tun.csoilc, tun.dewmx, dt),
        [cs.tlsun, cs.tlsha],
        cs.ldew,
    )?;
    (cs.tlsun, cs.tlsha, cs.ldew) = (r.tlsun, r.tlsha, r.ldew);
    Ok(Some(r))
}

/// Turbulent terms of the ground summed over its bare and vegetated parts.
#[derive(Debug, Clone, Copy, Default)]
struct Turbulent {
    fseng: f64,
    fevpg: f64,
    cgrnd: f64,
    cgrnds: f64,
    cgrndl: f64,
    dlrad: f64,
    ulrad: f64,
    taux: f64,
    tauy: f64,
    fsenl: f64,
    fevpl: f64,
    etr: f64,
    tref: f64,
    qref: f64,
}

fn combine(
    bare: &Option<super::ground_fluxes::GroundFluxes>,
    leaf: Option<&LeafResult>,
    gs: &GroundSurface,
) -> Turbulent {
    let mut t = Turbulent::default();
    if let Some(b) = bare {
        (t.fseng, t.fevpg, t.cgrnds, t.cgrndl) = (b.fseng, b.fevpg, b.cgrnds, b.cgrndl);
        (t.cgrnd, t.taux, t.tauy, t.tref, t.qref) = (b.cgrnd, b.taux, b.tauy, b.tref, b.qref);
    }
    if let Some(r) = leaf {
        t.taux += r.taux;
        t.tauy += r.tauy;
        t.fseng += r.fseng;
        t.fevpg += r.fevpg;
        t.cgrnds += r.cgrnds;
        t.cgrndl += r.cgrndl;
        t.cgrnd = t.cgrnds + t.cgrndl * gs.htvp;
        t.tref += r.tref;
        t.qref += r.qref;
        (t.dlrad, t.ulrad) = (r.dlrad, r.ulrad);
        (t.fsenl, t.fevpl, t.etr) = (r.fsenl, r.fevpl, r.etr);
    }
    t
}

/// Ground fluxes at the new temperature, the evaporation split, totals and longwave.
fn close_fluxes(
    out: &mut EnergyFluxes,
    l: &Layers,
    t_bef: &[f64; super::constants::NLAYER],
    inp: &EnergyInput,
    gs: &GroundSurface,
    t: &Turbulent,
    dt: f64,
) {
    let top = l.top();
    let tb = t_bef[top];
    let tinc = l.t[top] - tb;
    let mut fseng = t.fseng + tinc * t.cgrnds;
    let mut fevpg = t.fevpg + tinc * t.cgrndl;
    let egsmax = (l.wice[top] + l.wliq[top]) / dt;
    let egidif = (fevpg - egsmax).max(0.0);
    fevpg = fevpg.min(egsmax);
    fseng += gs.htvp * egidif;
    (out.fseng, out.fevpg, out.fsenl, out.fevpl, out.etr) = (fseng, fevpg, t.fsenl, t.fevpl, t.etr);
    out.fsena = t.fsenl + fseng;
    out.fevpa = t.fevpl + fevpg;
    out.lfevpa = HVAP * t.fevpl + gs.htvp * fevpg;
    if fevpg >= 0.0 {
        out.qseva = (l.wliq[top] / dt).min(fevpg);
        out.qsubl = fevpg - out.qseva;
    } else if l.t[top] < TFRZ {
        out.qfros = fevpg.abs();
    } else {
        out.qsdew = fevpg.abs();
    }
    let (s, e) = (inp.sigf, gs.emg);
    out.fgrnd = inp.sabg + t.dlrad + (1.0 - s) * e * inp.atm.frl
        - e * STEFNC * tb.powi(3) * (tb + 4.0 * tinc)
        - (fseng + fevpg * gs.htvp);
    out.olrg = t.ulrad
        + (1.0 - s) * (1.0 - e) * inp.atm.frl
        + (1.0 - s) * e * STEFNC * tb.powi(4)
        + 4.0 * e * STEFNC * tb.powi(3) * tinc;
    let olrb = STEFNC * tb.powi(3) * ((1.0 - s) * tb + 4.0 * tinc);
    out.emis = (t.ulrad + e * olrb) / (t.ulrad + olrb);
    out.trad = (out.olrg / STEFNC).powf(0.25);
    (out.tref, out.qref) = (t.tref, t.qref);
}

/// Surface-layer diagnostics: the bare ground's without vegetation, the leaves' above
/// σ_f = 0.7, in between from the total fluxes with the blended roughness.
fn surface_layer_diagnostics(
    out: &mut EnergyFluxes,
    bare: &Option<super::ground_fluxes::GroundFluxes>,
    leaf: Option<&LeafResult>,
    inp: &EnergyInput,
    veg: &VegParams,
    t: &Turbulent,
) {
    if let Some(r) = leaf {
        (out.rst, out.assim, out.respc) = (r.rst, r.assim, r.respc);
        out.leaf_iterations = r.iterations;
    }
    match (bare, leaf) {
        (Some(b), None) => out.surface = b.surface,
        (Some(b), Some(r)) if inp.sigf <= 0.7 => mixed(out, b, r, inp, veg, t),
        (_, Some(r)) => out.surface = r.surface,
        (None, None) => {}
    }
}

/// Sparse canopy: scales from the total fluxes, profiles with the area-weighted roughness.
fn mixed(
    out: &mut EnergyFluxes,
    b: &super::ground_fluxes::GroundFluxes,
    r: &LeafResult,
    inp: &EnergyInput,
    veg: &VegParams,
    t: &Turbulent,
) {
    let a = &inp.atm;
    let s = inp.sigf;
    let o = &mut out.surface;
    o.z0ma = s * r.surface.z0ma + (1.0 - s) * b.surface.z0ma;
    let um = (a.us * a.us + a.vs * a.vs).sqrt().max(0.1);
    let ustar = ((t.taux * t.taux + t.tauy * t.tauy).sqrt().max(1e-6) / a.rhoair).sqrt();
    o.tstar = -out.fsena / (CPAIR * ustar * a.rhoair);
    o.qstar = -out.fevpa / (ustar * a.rhoair);
    let zl = a.hu - veg.displa;
    let zol = zl * VONKAR * GRAV * (o.tstar + 0.61 * a.th * o.qstar) / (ustar * ustar * a.thv);
    o.zol = if zol >= 0.0 {
        zol.clamp(1e-6, 2.0)
    } else {
        zol.clamp(-100.0, -1e-6)
    };
    let z0 = Roughness {
        z0m: o.z0ma,
        z0h: o.z0ma,
        z0q: o.z0ma,
    };
    let pr = profiles(a.hu, a.ht, a.hq, veg.displa, z0, zl / o.zol);
    o.ustar = VONKAR * um / pr.fm;
    (o.fm, o.fh, o.fq) = (pr.fm, pr.fh, pr.fq);
    o.rib = bulk_richardson(o.zol, o.ustar, pr.fh, um);
}
