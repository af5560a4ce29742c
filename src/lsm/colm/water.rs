//! Soil hydrology of one step (no snow layers: the snow-layer percolation comes with the snow
//! stage): surface runoff, infiltration, the Richards solve, aquifer and drainage, then the
//! dew, frost and sublimation of the top soil layer. The role of the soil branch of
//! CoLM2014's `WATER` (Dai et al. 2003; Oleson et al. 2004 ch. 7; Niu et al. 2005, 2007).
//!
//! Water balance of the column, soil + aquifer (mm):
//! ΔS = (g + q_sdew + q_fros − q_subl − e_tr − r_sur − r_sub) Δt + repair, with g the water
//! reaching the surface (rain + melt − soil evaporation) and `repair` the water the
//! negative-liquid clipping added (zero in any sane state; reported, never hidden).

use super::constants::{Tunables, NSOIL};
use super::geometry::SoilGeometry;
use super::groundwater;
use super::hydraulics::column_water;
use super::params::SoilParams;
use super::richards::{self, RichardsInput};
use super::runoff::surface_runoff;

/// Water state of the soil column and the aquifer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoilWater {
    /// Liquid water per layer (kg m-2 = mm).
    pub wliq: [f64; NSOIL],
    /// Ice per layer (kg m-2 = mm).
    pub wice: [f64; NSOIL],
    /// Depth of the water table (m).
    pub zwt: f64,
    /// Water in the unconfined aquifer (mm).
    pub wa: f64,
}

impl SoilWater {
    /// Total water of column and aquifer (mm), summed in a fixed order.
    pub fn storage(&self) -> f64 {
        let mut s = 0.0;
        for j in 0..NSOIL {
            s += self.wliq[j] + self.wice[j];
        }
        s + self.wa
    }

    /// Volumetric total water θ_j = w_liq/(ρ_w dz) + w_ice/(ρ_ice dz) (m3 m-3).
    pub fn h2osoi(&self, g: &SoilGeometry) -> [f64; NSOIL] {
        use super::constants::{DENH2O, DENICE};
        std::array::from_fn(|j| {
            self.wliq[j] / (DENH2O * g.dz[j]) + self.wice[j] / (DENICE * g.dz[j])
        })
    }
}

/// Water fluxes at the soil surface and in the roots (mm s-1, all non-negative).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WaterInput<'a> {
    /// Water reaching the soil surface: rain after interception + snowmelt − soil
    /// evaporation (may be negative).
    pub gwat: f64,
    /// Dew on the soil.
    pub qsdew: f64,
    /// Frost on the soil.
    pub qfros: f64,
    /// Sublimation from the soil ice.
    pub qsubl: f64,
    /// Transpiration.
    pub etr: f64,
    /// Fraction of transpiration drawn from each layer.
    pub rootr: &'a [f64; NSOIL],
}

/// Water fluxes of one step (mm s-1) and the balance.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WaterFluxes {
    /// Surface runoff.
    pub rsur: f64,
    /// Subsurface runoff (drainage and the excess above saturation).
    pub rsub: f64,
    /// Total runoff.
    pub rnof: f64,
    /// Infiltration into the top layer.
    pub qinfl: f64,
    /// Recharge of the aquifer (positive downward).
    pub qcharge: f64,
    /// Water added by the negative-liquid clipping (mm).
    pub repair: f64,
    /// Storage change minus net input (mm s-1): zero to rounding.
    pub balance_error: f64,
}

/// Advance the soil water by `dt` seconds. `t_soil` is the soil temperature (K) after the
/// heat step (frozen layers take the temperature potential).
pub fn step(
    p: &SoilParams,
    g: &SoilGeometry,
    tun: &Tunables,
    st: &mut SoilWater,
    t_soil: &[f64; NSOIL],
    inp: &WaterInput,
    dt: f64,
) -> WaterFluxes {
    let before = st.storage();
    let w = column_water(p, &g.dz, &st.wliq, &st.wice);
    let rsur = surface_runoff(p, &w, tun.wtfact, tun.wimp, st.zwt, inp.gwat);
    let qinfl = inp.gwat - rsur;
    let rin = RichardsInput {
        qinfl,
        etr: inp.etr,
        rootr: inp.rootr,
        t_soil,
        water: &w,
    };
    let sol = richards::solve(p, g, &rin, dt, tun.wimp, tun.smpmin);
    for j in 0..NSOIL {
        st.wliq[j] += sol.dwat[j] * g.dz[j] * 1000.0;
    }
    let dr = groundwater::step(
        p,
        g,
        &w,
        sol.qcharge,
        tun.pondmx,
        dt,
        &mut st.wliq,
        &st.wice,
        &mut st.zwt,
        &mut st.wa,
    );
    // Dew and frost join the top layer after the solve; clipping at zero is counted.
    let mut repair = dr.repair;
    let liq = st.wliq[0] + inp.qsdew * dt;
    let ice = st.wice[0] + (inp.qfros - inp.qsubl) * dt;
    repair += (-liq).max(0.0) + (-ice).max(0.0);
    st.wliq[0] = liq.max(0.0);
    st.wice[0] = ice.max(0.0);
    let rnof = rsur + dr.rsubst;
    let net_in = inp.gwat + inp.qsdew + inp.qfros - inp.qsubl - inp.etr - rnof;
    let balance_error = (st.storage() - before - repair) / dt - net_in;
    WaterFluxes {
        rsur,
        rsub: dr.rsubst,
        rnof,
        qinfl,
        qcharge: sol.qcharge,
        repair,
        balance_error,
    }
}
