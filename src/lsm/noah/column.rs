//! One Noah step of one column (what Noah's SFLX does): seasonal surface, precipitation
//! phase and new snow, snow cover and albedo, ground heat flux through snow, Penman,
//! canopy resistance, then either the snow-free branch (evaporation, soil water, soil heat
//! with the linearised surface energy balance) or the snow branch (snow-surface energy
//! balance, sublimation, melt, soil water, soil heat under the pack, compaction).
//! Surface exchange coefficients are computed before this step (see `surface_layer`).

use super::canopy_resistance::{canopy_resistance, CanopyResistance};
use super::constants::*;
use super::evaporation::{evaporation, Evaporation};
use super::params::NoahParams;
use super::penman::{potential_evaporation, Penman, PenmanInput};
use super::snow;
use super::soil_heat::{self, soil_heat_step};
use super::soil_water::soil_water_step;
use super::state::NoahState;
use super::vegetation::seasonal_surface;

/// Forcing of one step as the column physics receives it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ColumnForcing {
    /// Step length (s).
    pub dt: f64,
    /// Air temperature (K).
    pub sfctmp: f64,
    /// Specific humidity (kg kg-1).
    pub q2: f64,
    /// Surface pressure (Pa).
    pub sfcprs: f64,
    /// Precipitation (kg m-2 s-1).
    pub prcp: f64,
    /// Frozen fraction of precipitation.
    pub ffrozp: f64,
    /// Downward shortwave (W m-2).
    pub soldn: f64,
    /// Absorbed shortwave (W m-2).
    pub solnet: f64,
    /// Absorbed longwave, emissivity times downward longwave (W m-2).
    pub lwdn: f64,
    /// Potential temperature at the forcing level (K).
    pub th2: f64,
    /// Saturation specific humidity at the air temperature (kg kg-1).
    pub q2sat: f64,
    /// Its temperature derivative (kg kg-1 K-1).
    pub dqsdt2: f64,
    /// Green vegetation fraction.
    pub shdfac: f64,
    /// Monthly-field albedo and LAI when the cell uses them.
    pub monthly_albedo: Option<f64>,
    pub monthly_lai: Option<f64>,
}

/// All diagnostics of one step, in Noah's units and sign conventions.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Diagnostics {
    /// Sensible heat flux, upward (W m-2).
    pub sheat: f64,
    /// Latent heat flux, upward (W m-2).
    pub eta: f64,
    /// Ground heat flux, positive toward the surface (W m-2).
    pub ssoil: f64,
    /// Surface runoff (m s-1).
    pub runoff1: f64,
    /// Drainage incl. excess-water runoff (m s-1).
    pub runoff2: f64,
    /// Excess-water runoff (m s-1).
    pub runoff3: f64,
    pub albedo: f64,
    pub emissivity: f64,
    pub z0: f64,
    pub sncovr: f64,
    /// Snowmelt (m per step).
    pub snomlt: f64,
    /// Potential evaporation (W m-2).
    pub etp: f64,
    pub ec: f64,
    pub edir: f64,
    pub ett: f64,
    pub esnow: f64,
    /// Evapotranspiration as Noah 3.4.1 reports it (kg m-2 s-1; omits frost on snow).
    pub eta_kinematic: f64,
    /// Evapotranspiration consistent with the water balance (kg m-2 s-1; frost negative).
    pub evap_water: f64,
    pub fdown: f64,
    pub flx1: f64,
    pub flx2: f64,
    pub flx3: f64,
    /// Effective surface specific humidity (kg kg-1).
    pub q1: f64,
    pub lai: f64,
    pub shdfac: f64,
    pub solnet: f64,
    pub lwdn: f64,
    /// Total soil water in the column (m).
    pub soilm: f64,
    pub beta: f64,
    pub rc: f64,
    pub pc: f64,
    pub drip: f64,
    pub dew: f64,
    /// Heat to bring precipitation to the new skin temperature that Noah's sub-freezing
    /// snow-surface solution carries implicitly (through its RR term) in addition to FLX1,
    /// which it evaluates with the old skin temperature (W m-2; zero without snow, without
    /// precipitation, or when the surface melts, where the melt flux closes the balance).
    /// Adding it to the right-hand side of the CONFIG energy check gives the balance the
    /// snow branch actually solves.
    pub precip_heat_implicit: f64,
}

/// Advances `st` by one step. The exchange coefficients `st.ch`/`st.cm` must already be
/// those of this step. The previous albedo and emissivity in `st` are replaced by the new
/// ones, as is the roughness length.
pub fn step(p: &NoahParams, st: &mut NoahState, f: &ColumnForcing) -> Diagnostics {
    let dt = f.dt;
    let z = p.zsoil;
    let mut shdfac = f.shdfac;
    if p.urban {
        shdfac = 0.05;
    }
    if p.bare {
        shdfac = 0.0;
    }
    let surf = seasonal_surface(p, shdfac, f.monthly_albedo, f.monthly_lai);

    // Numerical water sources/sinks routed to the excess-water runoff (m).
    let mut water_fix = 0.0;

    let mut sneqv = st.snow_water_equivalent;
    let mut snowh = st.snow_depth;
    let (mut sndens, mut sncond);
    if sneqv <= 1.0e-7 {
        water_fix += sneqv;
        sneqv = 0.0;
        sndens = 0.0;
        snowh = 0.0;
        sncond = 1.0;
    } else {
        sndens = sneqv / snowh;
        sncond = snow::conductivity(sndens);
    }

    // Precipitation phase: snow if mostly frozen; rain on frozen skin freezes.
    let mut snowing = false;
    let mut freezing_rain = false;
    if f.prcp > 0.0 {
        if f.ffrozp > 0.5 {
            snowing = true;
        } else if st.skin_temperature <= TFREEZ {
            freezing_rain = true;
        }
    }
    let prcpf;
    if snowing || freezing_rain {
        let sn_new = f.prcp * dt * 0.001;
        sneqv += sn_new;
        prcpf = 0.0;
        let (h, d) = snow::add_new_snow(f.sfctmp, sn_new, snowh, sndens);
        snowh = h;
        sndens = d;
        sncond = snow::conductivity(sndens);
    } else {
        prcpf = f.prcp;
    }

    let (mut sncovr, albedo, emissi);
    if sneqv == 0.0 {
        sncovr = 0.0;
        albedo = surf.albedo;
        emissi = surf.emissivity;
    } else {
        sncovr = snow::cover_fraction(sneqv, p.snup, p.salp).min(0.98);
        let s = snow::surface_albedo(
            surf.albedo,
            p.snoalb,
            surf.emissivity,
            sncovr,
            dt,
            snowing,
            st.snow_age,
            p.lvcoef,
        );
        albedo = s.albedo;
        emissi = s.emissivity;
        st.snow_age = s.snow_age;
    }

    // Conductance between the surface and the top soil layer's middle, through snow.
    let mut df1 = soil_heat::conductivity(p, st.soil_moisture[0], st.soil_liquid[0])
        * (p.sbeta * shdfac).exp();
    if sncovr > 0.97 {
        df1 = sncond;
    }
    let dsoil = -0.5 * z[0];
    let ssoil0;
    if sneqv == 0.0 {
        ssoil0 = df1 * (st.skin_temperature - st.soil_temperature[0]) / dsoil;
    } else {
        let dtot = snowh + dsoil;
        let frcsno = snowh / dtot;
        let frcsoi = dsoil / dtot;
        let df1a = frcsno * sncond + frcsoi * df1;
        df1 = df1a * sncovr + df1 * (1.0 - sncovr);
        ssoil0 = df1 * (st.skin_temperature - st.soil_temperature[0]) / dtot;
    }
    let z0 = if sncovr > 0.0 {
        snow::roughness(sncovr, surf.z0, snowh)
    } else {
        surf.z0
    };

    let fdown = f.solnet + f.lwdn;
    let t2v = f.sfctmp * (1.0 + 0.61 * f.q2);
    let pen = potential_evaporation(&PenmanInput {
        sfctmp: f.sfctmp,
        sfcprs: f.sfcprs,
        ch: st.ch,
        t2v,
        th2: f.th2,
        prcp: f.prcp,
        fdown,
        ssoil: ssoil0,
        q2: f.q2,
        q2sat: f.q2sat,
        dqsdt2: f.dqsdt2,
        snowing,
        freezing_rain,
        emissivity: emissi,
        sncovr,
    });
    // (LAI > 0 also guards classes whose table LAI is zero against a division by zero.)
    let canres = if shdfac > 0.0 && surf.lai > 0.0 {
        canopy_resistance(
            p,
            f.soldn,
            st.ch,
            f.sfctmp,
            f.q2,
            f.sfcprs,
            &st.soil_liquid,
            f.q2sat,
            f.dqsdt2,
            surf.lai,
            emissi,
        )
    } else {
        CanopyResistance::default()
    };

    let mut d = Diagnostics {
        albedo,
        emissivity: emissi,
        z0,
        lai: surf.lai,
        shdfac,
        solnet: f.solnet,
        lwdn: f.lwdn,
        fdown,
        flx2: pen.flx2,
        rc: canres.rc,
        pc: canres.pc,
        ..Default::default()
    };

    let etp_kin;
    let evap_kin; // kg m-2 s-1 by component
    let ssoil;
    let mut esnow = 0.0;
    let mut fluxes;
    if sneqv == 0.0 {
        let b = snow_free(p, st, f, &pen, canres.pc, shdfac, fdown, emissi);
        etp_kin = pen.etp;
        evap_kin = b.evap;
        ssoil = b.ssoil;
        fluxes = b.water;
        d.eta_kinematic = b.eta;
        d.evap_water = b.eta;
        d.beta = b.beta;
        d.flx1 = b.flx1;
        d.dew = b.dew;
    } else {
        let mut sp = SnowPack {
            esd: sneqv,
            snowh,
            sndens,
            sncovr,
        };
        let b = snow_branch(
            p, st, f, &pen, canres.pc, shdfac, fdown, emissi, df1, snowing, prcpf, &mut sp,
        );
        etp_kin = b.etp;
        evap_kin = b.evap;
        ssoil = b.ssoil;
        fluxes = b.water;
        esnow = b.esnow;
        d.eta_kinematic = b.esnow + b.etns;
        d.evap_water = b.esnow + b.etns - 1000.0 * b.dew;
        d.beta = b.beta;
        d.flx1 = b.flx1;
        d.flx3 = b.flx3;
        d.snomlt = b.snomlt;
        d.dew = b.dew;
        if f.prcp > 0.0 && !b.melting {
            let c = if snowing { CPICE } else { CPH2O };
            d.precip_heat_implicit = c * f.prcp * (st.skin_temperature - f.sfctmp);
        }
        water_fix += b.water_fix;
        sneqv = sp.esd;
        snowh = sp.snowh;
        sncovr = sp.sncovr;
    }
    fluxes.runoff3 += water_fix;

    st.snow_water_equivalent = sneqv;
    st.snow_depth = snowh;
    st.albedo = albedo;
    st.emissivity = emissi;
    st.roughness_length = z0;

    d.sncovr = sncovr;
    d.q1 = f.q2 + d.eta_kinematic * CP / pen.rch;
    d.sheat = -(st.ch * CP * f.sfcprs) / (RD * t2v) * (f.th2 - st.skin_temperature);
    d.edir = evap_kin.edir * LVH2O;
    d.ec = evap_kin.ec * LVH2O;
    d.ett = evap_kin.ett * LVH2O;
    d.esnow = esnow * LSUBS;
    d.etp = etp_kin * ((1.0 - sncovr) * LVH2O + sncovr * LSUBS);
    d.eta = if d.etp > 0.0 {
        d.edir + d.ec + d.ett + d.esnow
    } else {
        d.etp
    };
    d.ssoil = -ssoil;
    d.runoff1 = fluxes.runoff1;
    d.runoff3 = fluxes.runoff3 / dt;
    d.runoff2 = fluxes.runoff2 + d.runoff3;
    d.drip = fluxes.drip;
    let mut soilm = -st.soil_moisture[0] * z[0];
    for k in 1..NSOIL {
        soilm += st.soil_moisture[k] * (z[k - 1] - z[k]);
    }
    d.soilm = soilm;
    d
}

struct BranchOut {
    /// Evaporation components (kg m-2 s-1).
    evap: Evaporation,
    /// Heat flux used for the ground (Noah sign before flipping, W m-2).
    ssoil: f64,
    water: super::soil_water::SoilWaterFluxes,
    eta: f64,
    beta: f64,
    flx1: f64,
    dew: f64,
}

/// Snow-free ground: evaporation from the Penman potential, soil water, then soil heat
/// with the skin temperature from the linearised surface energy balance.
#[allow(clippy::too_many_arguments)]
fn snow_free(
    p: &NoahParams,
    st: &mut NoahState,
    f: &ColumnForcing,
    pen: &Penman,
    pc: f64,
    shdfac: f64,
    fdown: f64,
    emissi: f64,
) -> BranchOut {
    let dt = f.dt;
    let mut prcp1 = f.prcp * 0.001;
    let etp1 = pen.etp * 0.001;
    let mut dew = 0.0;
    let ev;
    let mut eta;
    if pen.etp > 0.0 {
        ev = evaporation(
            p,
            etp1,
            &st.soil_moisture,
            &st.soil_liquid,
            st.canopy_water,
            shdfac,
            pc,
            dt,
        );
        eta = ev.total() * 1000.0;
    } else {
        // Negative potential evaporation condenses as dew.
        ev = Evaporation::default();
        dew = -etp1;
        prcp1 += dew;
        eta = 0.0;
    }
    let water = soil_water_step(
        p,
        prcp1,
        &ev,
        shdfac,
        dt,
        &mut st.canopy_water,
        &mut st.soil_moisture,
        &mut st.soil_liquid,
    );
    let beta;
    if pen.etp <= 0.0 {
        beta = if pen.etp < 0.0 { 1.0 } else { 0.0 };
        eta = pen.etp;
    } else {
        beta = eta / pen.etp;
    }
    let df1 = soil_heat::conductivity(p, st.soil_moisture[0], st.soil_liquid[0])
        * (p.sbeta * shdfac).exp();
    let yynum = fdown - emissi * SIGMA * pen.t24;
    let yy = f.sfctmp + (yynum / pen.rch + f.th2 - f.sfctmp - beta * pen.epsca) / pen.rr;
    let zz1 = df1 / (-0.5 * p.zsoil[0] * pen.rch * pen.rr) + 1.0;
    let (t1, ssoil) = soil_heat_step(
        p,
        &mut st.soil_temperature,
        &st.soil_moisture,
        &mut st.soil_liquid,
        yy,
        zz1,
        df1,
        dt,
    );
    st.skin_temperature = t1;
    BranchOut {
        evap: ev.scaled(1000.0),
        ssoil,
        water,
        eta,
        beta,
        flx1: CPH2O * f.prcp * (t1 - f.sfctmp),
        dew,
    }
}

struct SnowPack {
    esd: f64,
    snowh: f64,
    sndens: f64,
    sncovr: f64,
}

struct SnowOut {
    evap: Evaporation,
    ssoil: f64,
    water: super::soil_water::SoilWaterFluxes,
    etp: f64,
    esnow: f64,
    etns: f64,
    beta: f64,
    flx1: f64,
    flx3: f64,
    snomlt: f64,
    dew: f64,
    water_fix: f64,
    /// The surface reached freezing (melt flux closes the balance there).
    melting: bool,
}

/// Snow-covered ground: skin temperature from the snow-surface energy balance; melt
/// when it would exceed freezing; sublimation or frost; soil water and heat under the
/// pack; compaction.
#[allow(clippy::too_many_arguments)]
fn snow_branch(
    p: &NoahParams,
    st: &mut NoahState,
    f: &ColumnForcing,
    pen: &Penman,
    pc: f64,
    shdfac: f64,
    fdown: f64,
    emissi: f64,
    df1: f64,
    snowing: bool,
    prcpf: f64,
    sp: &mut SnowPack,
) -> SnowOut {
    const ESDMIN: f64 = 1.0e-6;
    let dt = f.dt;
    let sncovr = sp.sncovr;
    let mut prcp1 = prcpf * 0.001;
    let mut beta = 1.0;
    let etp = pen.etp;
    let mut dew = 0.0;
    let mut ev = Evaporation::default();
    let mut etns = 0.0;
    let mut esnow = 0.0;
    let esnow2;
    let etanrg;
    if etp <= 0.0 {
        if etp == 0.0 {
            beta = 0.0;
        }
        let etp1 = etp * 0.001;
        dew = -etp1;
        esnow2 = etp1 * dt;
        etanrg = etp * ((1.0 - sncovr) * LVH2O + sncovr * LSUBS);
    } else {
        let etp1 = etp * 0.001;
        if sncovr < 1.0 {
            let e = evaporation(
                p,
                etp1,
                &st.soil_moisture,
                &st.soil_liquid,
                st.canopy_water,
                shdfac,
                pc,
                dt,
            );
            let etns1 = e.total() * (1.0 - sncovr);
            ev = e.scaled(1.0 - sncovr);
            etns = etns1 * 1000.0;
        }
        esnow = etp * sncovr;
        esnow2 = esnow * 0.001 * dt;
        etanrg = esnow * LSUBS + etns * LVH2O;
    }
    let flx1 = if snowing {
        CPICE * f.prcp * (st.skin_temperature - f.sfctmp)
    } else if f.prcp > 0.0 {
        CPH2O * f.prcp * (st.skin_temperature - f.sfctmp)
    } else {
        0.0
    };
    let stc1 = st.soil_temperature[0];
    let dsoil = -0.5 * p.zsoil[0];
    let dtot = sp.snowh + dsoil;
    let denom = 1.0 + df1 / (dtot * pen.rr * pen.rch);
    let t12a = ((fdown - flx1 - pen.flx2 - emissi * SIGMA * pen.t24) / pen.rch + f.th2
        - f.sfctmp
        - etanrg / pen.rch)
        / pen.rr;
    let t12b = df1 * stc1 / (dtot * pen.rr * pen.rch);
    let t12 = (f.sfctmp + t12a + t12b) / denom;
    let t1;
    let ssoil;
    let mut flx3 = 0.0;
    let mut snomlt = 0.0;
    let mut water_fix = 0.0;
    if t12 <= TFREEZ {
        t1 = t12;
        ssoil = df1 * (t1 - stc1) / dtot;
        let remaining = sp.esd - esnow2;
        if remaining < 0.0 {
            // Sublimation beyond the pack: the missing water was never there.
            water_fix -= -remaining;
        }
        sp.esd = remaining.max(0.0);
    } else {
        // Melting surface: skin between freezing (snow part) and T12 (bare part).
        let fsnow = sncovr.powf(2.0);
        t1 = TFREEZ * fsnow + t12 * (1.0 - fsnow);
        beta = 1.0;
        ssoil = df1 * (t1 - stc1) / dtot;
        if sp.esd - esnow2 <= ESDMIN {
            // The pack is gone; what is left of it leaves as excess water.
            water_fix += sp.esd - esnow2;
            sp.esd = 0.0;
        } else {
            sp.esd -= esnow2;
            let seh = pen.rch * (t1 - f.th2);
            let t14 = (t1 * t1) * (t1 * t1);
            flx3 = (fdown - flx1 - pen.flx2 - emissi * SIGMA * t14 - ssoil - seh - etanrg).max(0.0);
            let mut ex = flx3 * 0.001 / LSUBF;
            snomlt = ex * dt;
            if sp.esd - snomlt >= ESDMIN {
                sp.esd -= snomlt;
            } else {
                ex = sp.esd / dt;
                flx3 = ex * 1000.0 * LSUBF;
                snomlt = sp.esd;
                sp.esd = 0.0;
            }
            prcp1 += ex;
        }
    }
    let water = soil_water_step(
        p,
        prcp1,
        &ev,
        shdfac,
        dt,
        &mut st.canopy_water,
        &mut st.soil_moisture,
        &mut st.soil_liquid,
    );
    // Under snow the soil sees the flux already computed at the snow base.
    let yy = stc1 - 0.5 * ssoil * p.zsoil[0] / df1;
    let _ = soil_heat_step(
        p,
        &mut st.soil_temperature,
        &st.soil_moisture,
        &mut st.soil_liquid,
        yy,
        1.0,
        df1,
        dt,
    );
    st.skin_temperature = t1;
    if sp.esd > 0.0 {
        let (h, dens) = snow::compact(sp.esd, dt, sp.sndens, t1, yy);
        sp.snowh = h;
        sp.sndens = dens;
    } else {
        sp.esd = 0.0;
        sp.snowh = 0.0;
        sp.sndens = 0.0;
        sp.sncovr = 0.0;
    }
    SnowOut {
        evap: ev.scaled(1000.0),
        ssoil,
        water,
        etp,
        esnow,
        etns,
        beta,
        flx1,
        flx3,
        snomlt,
        dew,
        water_fix,
        melting: t12 > TFREEZ,
    }
}
