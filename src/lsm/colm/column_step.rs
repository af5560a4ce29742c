//! One time step of a soil-ground column in CoLM2014's order: the role of CoLM's `CLMMAIN`
//! for a soil patch (Dai et al. 2003; COLM.md §2).
//!
//! Absorbed shortwave from the previous step's albedos ([`super::net_solar`]); rain/snow
//! split, new-snow density and precipitation temperature ([`super::precip_phase`],
//! [`super::wet_bulb`]); snow layers recounted ([`super::snow_layers`]); interception
//! ([`super::interception`]); new snow ([`super::new_snow`]); the energy balance
//! ([`super::energy_balance`]); liquid water in the snow ([`super::snow_water`]) and the
//! soil water ([`super::water`]); compaction, combination and division of snow layers; then
//! for the next step the zenith angle ([`super::zenith`]), daily phenology
//! ([`super::phenology`]), snow cover and age, and the albedos ([`super::surface_albedo`]).
//! The step's water balance error (mm s-1) compares the change of canopy water, snow, soil
//! water and aquifer with precipitation − evapotranspiration − runoff.

use super::constants::NSOIL;
use super::energy_balance::{energy_balance, CanopyState, ColumnParams, EnergyFluxes, EnergyInput};
use super::geometry::SoilGeometry;
use super::ground_albedo::SoilAlbedo;
use super::interception::{intercept, Canopy, CanopyPrecip, Interception};
use super::layers::{soil, Layers};
use super::leaf_temperature::Atmosphere;
use super::net_solar::{net_solar, NetSolar};
use super::new_snow::{add_snowfall, GroundPrecip};
use super::phase_change::ThinSnow;
use super::phenology::phenology;
use super::precip_phase::{partition, precip_temperature};
use super::snow_age::snow_age;
use super::snow_cover::snow_cover;
use super::snow_layers::{after_water, start_of_step};
use super::snow_water::{percolate, SnowSurfaceWater};
use super::solar_split::split_shortwave;
use super::surface_albedo::{surface_albedo, AlbedoState, SurfaceAlbedo};
use super::water::{self, SoilWater, WaterFluxes, WaterInput};
use super::wet_bulb::wet_bulb;
use super::zenith::coszen;
use crate::lsm::LsmError;

/// Forcing of one step (the point driver's variables).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Forcing {
    /// Air temperature (K, clamped to [180, 326]), specific humidity (kg kg-1), surface
    /// pressure (Pa).
    pub t: f64,
    pub q: f64,
    pub psrf: f64,
    /// Longwave and broadband shortwave down (W m-2), precipitation (mm s-1), wind (m s-1).
    pub frl: f64,
    pub sw: f64,
    pub prcp: f64,
    pub wind: f64,
}

/// Where the column is and what it is made of.
#[derive(Debug, Clone, Copy)]
pub struct Column<'a> {
    pub params: ColumnParams<'a>,
    pub geometry: &'a SoilGeometry,
    pub soil_albedo: SoilAlbedo,
    /// USGS vegetation class (1..=24).
    pub class: usize,
    /// Latitude and longitude (rad), forcing heights (m), CO₂ (mol mol-1).
    pub lat: f64,
    pub lon: f64,
    pub height: f64,
    pub co2: f64,
}

/// The column's prognostic state and what it carries to the next step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColumnState {
    pub layers: Layers,
    pub snow: ThinSnow,
    pub canopy: CanopyState,
    /// Water table (m) and aquifer water (mm).
    pub zwt: f64,
    pub wa: f64,
    /// Snow age (-), snow cover, vegetated fraction not buried, buried fraction (-).
    pub sag: f64,
    pub fsno: f64,
    pub sigf: f64,
    pub wt: f64,
    /// Leaf and stem area, vegetated and green fraction.
    pub lai: f64,
    pub sai: f64,
    pub fveg: f64,
    pub green: f64,
    /// Cosine of the zenith angle at the start of the next step, albedos for it.
    pub coszen: f64,
    pub albedo: SurfaceAlbedo,
}

/// The clock of the step: calendar day (UTC) at its end and whether phenology is updated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    pub calday_end: f64,
    pub dolai: bool,
}

/// What the step did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepOutput {
    pub energy: EnergyFluxes,
    pub water: WaterFluxes,
    pub solar: NetSolar,
    /// Interception and drip (mm s-1).
    pub qintr: f64,
    pub qdrip: f64,
    /// Water balance error of the whole column (mm s-1).
    pub water_error: f64,
    /// Enthalpy change of snow-layer combination and division (J m-2).
    pub snow_enthalpy: f64,
}

/// The atmosphere of the step as the point driver builds it.
pub fn atmosphere(f: &Forcing, height: f64, co2: f64) -> Atmosphere {
    use super::constants::{CPAIR, RGAS};
    let (t, q, p) = (f.t.clamp(180.0, 326.0), f.q, f.psrf);
    let th = t * (1e5 / p).powf(RGAS / CPAIR);
    Atmosphere {
        hu: height,
        ht: height,
        hq: height,
        us: f.wind,
        vs: 0.0,
        thm: t + 0.0098 * height,
        th,
        thv: th * (1.0 + 0.61 * q),
        qm: q,
        psrf: p,
        rhoair: (p - 0.378 * q * p / (0.622 + 0.378 * q)) / (RGAS * t),
        frl: f.frl,
        po2m: 0.209 * p,
        pco2m: co2 * p,
    }
}

/// Total water of the column (mm): canopy, snow, soil, aquifer, in a fixed order.
fn total_water(st: &ColumnState) -> f64 {
    let mut w = st.canopy.ldew + st.snow.scv;
    for j in 0..NSOIL {
        w += st.layers.wice[soil(j)] + st.layers.wliq[soil(j)];
    }
    w + st.wa
}

/// Advance the column by one step of `dt` seconds.
pub fn step(
    st: &mut ColumnState,
    col: &Column,
    f: &Forcing,
    clk: &Clock,
    dt: f64,
) -> Result<StepOutput, LsmError> {
    let t = f.t.clamp(180.0, 326.0);
    let solar = net_solar(&split_shortwave(f.sw, st.coszen), &st.albedo, st.sigf);
    let tun = col.params.tun;
    let ph = partition(t, f.prcp * 1.0 / 3.0, f.prcp * 2.0 / 3.0, tun.tcrit);
    let t_precip = precip_temperature(t, wet_bulb(t, f.psrf, f.q), ph.flfall);
    let fiold = start_of_step(&mut st.layers);
    let (scvold, totwb) = (st.snow.scv, total_water(st));
    let ic = canopy_water(st, col, &ph, dt)?;
    let gp = GroundPrecip {
        rain: ic.pg_rain,
        snow: ic.pg_snow,
        bifall: ph.bifall,
        t_precip,
    };
    add_snowfall(
        &mut st.layers,
        &mut st.snow,
        &mut st.sag,
        &mut st.fsno,
        gp,
        dt,
    );
    let energy = energy(st, col, f, &solar, dt)?;
    let water = hydrology(st, col, &energy, ic.pg_rain, dt);
    let imelt = energy.imelt;
    let snow_enthalpy = after_water(&mut st.layers, &mut st.snow, &imelt, &fiold, dt);
    let water_error = (total_water(st) - totwb) / dt - (f.prcp - energy.fevpa - water.rnof);
    next_step(st, col, clk, scvold, dt)?;
    Ok(StepOutput {
        energy,
        water,
        solar,
        qintr: ic.qintr,
        qdrip: ic.qdrip(),
        water_error,
        snow_enthalpy,
    })
}

fn canopy_water(
    st: &mut ColumnState,
    col: &Column,
    ph: &super::precip_phase::PrecipPhase,
    dt: f64,
) -> Result<Interception, LsmError> {
    let c = Canopy {
        sigf: st.sigf,
        lai: st.lai,
        sai: st.sai,
        chil: col.params.veg.optics.chil,
        tlsun: st.canopy.tlsun,
    };
    let p = CanopyPrecip {
        prc_rain: ph.prc_rain,
        prc_snow: ph.prc_snow,
        prl_rain: ph.prl_rain,
        prl_snow: ph.prl_snow,
    };
    let ic = intercept(&c, &p, st.canopy.ldew, dt, col.params.tun.dewmx)?;
    st.canopy.ldew = ic.ldew;
    Ok(ic)
}

fn energy(
    st: &mut ColumnState,
    col: &Column,
    f: &Forcing,
    solar: &NetSolar,
    dt: f64,
) -> Result<EnergyFluxes, LsmError> {
    let tw = &st.albedo.canopy;
    let inp = EnergyInput {
        atm: atmosphere(f, col.height, col.co2),
        forc_t: f.t.clamp(180.0, 326.0),
        sabv: [solar.sabvsun, solar.sabvsha],
        sabg: solar.sabg,
        par: [solar.parsun, solar.parsha],
        lai: st.lai,
        sai: st.sai,
        sigf: st.sigf,
        fsno: st.fsno,
        extkb: tw.extkb,
        extkd: tw.extkd,
        thermk: tw.thermk,
        coszen: st.coszen,
    };
    energy_balance(
        &mut st.layers,
        &mut st.snow,
        &col.params,
        &inp,
        &mut st.canopy,
        dt,
    )
}

/// Snow liquid water (with snow layers) and the soil water step.
fn hydrology(
    st: &mut ColumnState,
    col: &Column,
    e: &EnergyFluxes,
    pg_rain: f64,
    dt: f64,
) -> WaterFluxes {
    let tun = col.params.tun;
    let l = &mut st.layers;
    let (gwat, surface) = if l.nsnow == 0 {
        (pg_rain + e.sm - e.qseva, (e.qsdew, e.qfros, e.qsubl))
    } else {
        let sw = SnowSurfaceWater {
            rain: pg_rain,
            qseva: e.qseva,
            qsdew: e.qsdew,
            qsubl: e.qsubl,
            qfros: e.qfros,
        };
        (
            percolate(l, sw, tun.ssi, tun.wimp, dt).qout,
            (0.0, 0.0, 0.0),
        )
    };
    let mut sw = SoilWater {
        wliq: std::array::from_fn(|j| l.wliq[soil(j)]),
        wice: std::array::from_fn(|j| l.wice[soil(j)]),
        zwt: st.zwt,
        wa: st.wa,
    };
    let t_soil: [f64; NSOIL] = std::array::from_fn(|j| l.t[soil(j)]);
    let inp = WaterInput {
        gwat,
        qsdew: surface.0,
        qfros: surface.1,
        qsubl: surface.2,
        etr: e.etr,
        rootr: &e.rootr,
    };
    let out = water::step(
        col.params.soil,
        col.geometry,
        tun,
        &mut sw,
        &t_soil,
        &inp,
        dt,
    );
    for j in 0..NSOIL {
        l.wliq[soil(j)] = sw.wliq[j];
        l.wice[soil(j)] = sw.wice[j];
    }
    (st.zwt, st.wa) = (sw.zwt, sw.wa);
    out
}

/// Zenith, phenology, snow cover and age and the albedos for the next step.
fn next_step(
    st: &mut ColumnState,
    col: &Column,
    clk: &Clock,
    scvold: f64,
    dt: f64,
) -> Result<(), LsmError> {
    st.coszen = coszen(clk.calday_end, col.lon, col.lat);
    if clk.dolai {
        let t: [f64; NSOIL] = std::array::from_fn(|j| st.layers.t[soil(j)]);
        let ph = phenology(col.class, col.params.rootfr, &t)?;
        (st.lai, st.sai, st.fveg, st.green) = (ph.lai, ph.sai, ph.fveg, ph.green);
    }
    let v = col.params.veg;
    let cover = snow_cover(
        st.fveg,
        v.z0m,
        col.params.tun.zlnd,
        st.snow.scv,
        st.snow.snowdp,
    );
    (st.wt, st.sigf, st.fsno) = (cover.wt, cover.sigf, cover.fsno);
    if st.layers.nsnow == 0 {
        st.sag = 0.0;
    }
    let t_grnd = st.layers.t[st.layers.top()];
    st.sag = snow_age(dt, t_grnd, st.snow.scv, scvold, st.sag);
    let ssw = (1e-3 * st.layers.wliq[soil(0)] / col.geometry.dz[0]).min(1.0);
    let a = AlbedoState {
        fveg: st.fveg,
        green: st.green,
        lai: st.lai,
        sai: st.sai,
        coszen: st.coszen,
        wt: st.wt,
        fsno: st.fsno,
        scv: st.snow.scv,
        sag: st.sag,
        ssw,
    };
    st.albedo = surface_albedo(&col.soil_albedo, &v.optics, &a)?;
    Ok(())
}

/// The cold-start state of the point driver: soil from `t`, `wliq`, `wice`, snow without
/// layers, canopy water, leaves and ground at the top soil temperature, then phenology, snow
/// cover and albedos at `calday` (the start).
pub fn initial_state(
    col: &Column,
    soil_state: (&[f64; NSOIL], &[f64; NSOIL], &[f64; NSOIL]),
    (scv, snowdp, ldew, zwt, wa): (f64, f64, f64, f64, f64),
    calday: f64,
) -> Result<ColumnState, LsmError> {
    let (t, wliq, wice) = soil_state;
    let layers = Layers::soil_only(col.geometry, t, wliq, wice);
    let t1 = t[0];
    let mut st = ColumnState {
        layers,
        snow: ThinSnow { scv, snowdp },
        canopy: CanopyState {
            tlsun: t1,
            tlsha: t1,
            ldew,
        },
        zwt,
        wa,
        sag: 0.0,
        fsno: 0.0,
        sigf: 0.0,
        wt: 0.0,
        lai: 0.0,
        sai: 0.0,
        fveg: 0.0,
        green: 0.0,
        coszen: 0.0,
        albedo: surface_albedo(
            &col.soil_albedo,
            &col.params.veg.optics,
            &AlbedoState {
                fveg: 0.0,
                green: 0.0,
                lai: 0.0,
                sai: 0.0,
                coszen: 0.0,
                wt: 0.0,
                fsno: 0.0,
                scv: 0.0,
                sag: 0.0,
                ssw: 0.0,
            },
        )?,
    };
    next_step(
        &mut st,
        col,
        &Clock {
            calday_end: calday,
            dolai: true,
        },
        scv,
        0.0,
    )?;
    st.sag = 0.0;
    Ok(st)
}
