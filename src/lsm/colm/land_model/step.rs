//! One step of a CoLM member behind `LandModel`: the generic forcing as CoLM's point forcing,
//! CoLM's clock (calendar day, daily phenology), the time-dependent part of a cold start on
//! its first step, `column_step::step`, the step's energy and water balance checked against
//! the per-step bounds, and the fluxes in ALMA conventions.

use chrono::{Datelike, Duration, NaiveDateTime, Timelike};

use super::super::column_step::{self, initial_state, Clock, Column};
use super::super::constants::NSOIL;
use super::super::energy_balance::ColumnParams;
use super::super::geometry::SoilGeometry;
use super::super::layers::soil;
use super::super::zenith::calendar_day;
use super::super::Tunables;
use super::cell::ColmCell;
use super::pot_evap::potential_evaporation;
use super::state::ColmState;
use crate::lsm::{Forcing, LsmError, StepOutput};

/// Largest energy residual of a step (W m-2) and water residual (mm s-1) accepted (issue 13;
/// the Bondville year reaches 3.9e-10 and 1.7e-14).
pub const MAX_ENERGY_RESIDUAL: f64 = 1e-6;
pub const MAX_WATER_RESIDUAL: f64 = 1e-9;

/// Model-wide settings of a step.
#[derive(Debug, Clone, Copy)]
pub struct StepSetup<'a> {
    pub geometry: &'a SoilGeometry,
    pub tun: &'a Tunables,
    /// Forcing height (m) when the forcing gives none.
    pub default_height: f64,
    /// CO₂ mixing ratio (mol mol-1).
    pub co2: f64,
}

/// CoLM's calendar day of time `t`: day of year + seconds / 86400, midnight being second
/// 86400 of the day that ends.
pub fn calday(t: NaiveDateTime) -> f64 {
    let secs = t.num_seconds_from_midnight();
    if secs == 0 {
        let prev = t - Duration::days(1);
        calendar_day(prev.ordinal(), 86400)
    } else {
        calendar_day(t.ordinal(), secs)
    }
}

/// Whether the step starting at `start` is the first of a UTC day (phenology is daily).
pub fn new_day(start: NaiveDateTime, dt: f64) -> bool {
    let prev = start - Duration::milliseconds((dt * 1000.0).round() as i64);
    prev.date() != start.date()
}

/// The column of `cell`; the reference height is measured from displacement + roughness
/// (as CLM 4.5 does), so forest canopies stay below it.
pub fn column<'a>(cell: &'a ColmCell, s: &StepSetup<'a>, height: f64) -> Column<'a> {
    Column {
        params: ColumnParams {
            soil: &cell.soil,
            rootfr: &cell.rootfr,
            veg: &cell.veg,
            tun: s.tun,
        },
        geometry: s.geometry,
        soil_albedo: cell.soil_albedo,
        class: cell.class,
        lat: cell.lat,
        lon: cell.lon,
        height: height + cell.veg.displa + cell.veg.z0m,
        co2: s.co2,
    }
}

/// The time-dependent part of a cold start, at the start of its first step.
fn finish_cold_start(
    st: &mut ColmState,
    col: &Column,
    start: NaiveDateTime,
) -> Result<(), LsmError> {
    let c = &st.column;
    let l = &c.layers;
    let t: [f64; NSOIL] = std::array::from_fn(|j| l.t[soil(j)]);
    let wliq: [f64; NSOIL] = std::array::from_fn(|j| l.wliq[soil(j)]);
    let wice: [f64; NSOIL] = std::array::from_fn(|j| l.wice[soil(j)]);
    let scalars = (c.snow.scv, c.snow.snowdp, c.canopy.ldew, c.zwt, c.wa);
    st.column = initial_state(col, (&t, &wliq, &wice), scalars, calday(start))?;
    st.fresh = false;
    Ok(())
}

/// Advance `st` by one step of `dt` s ending at `time_end`.
pub fn step(
    cell: &ColmCell,
    s: &StepSetup,
    st: &mut ColmState,
    f: &Forcing,
    time_end: NaiveDateTime,
    dt: f64,
) -> Result<StepOutput, LsmError> {
    let at = |m: String| LsmError::State(format!("CoLM step ending {time_end}: {m}"));
    let start = time_end - Duration::milliseconds((dt * 1000.0).round() as i64);
    let height = if f.forcing_height > 0.0 {
        f.forcing_height
    } else {
        s.default_height
    };
    let col = column(cell, s, height);
    if st.fresh {
        finish_cold_start(st, &col, start)?;
    }
    let cf = column_step::Forcing {
        t: f.air_temperature,
        q: f.specific_humidity,
        psrf: f.surface_pressure,
        frl: f.longwave_down,
        sw: f.shortwave_down,
        prcp: f.precipitation,
        wind: f.wind_speed,
    };
    let clk = Clock {
        calday_end: calday(time_end),
        dolai: new_day(start, dt),
    };
    let out = column_step::step(&mut st.column, &col, &cf, &clk, dt)?;
    check_balance(&out).map_err(at)?;
    let rhoair = column_step::atmosphere(&cf, col.height, col.co2).rhoair;
    let potevap = potential_evaporation(
        st.ground_temperature(),
        f.surface_pressure,
        rhoair,
        f.specific_humidity,
        &out.energy.surface,
    );
    Ok(alma(&out, st, f, potevap))
}

/// The per-step bounds on the energy and water residuals.
pub fn check_balance(out: &column_step::StepOutput) -> Result<(), String> {
    let (e, w) = (out.energy.errore, out.water_error);
    if e.is_nan() || e.abs() > MAX_ENERGY_RESIDUAL {
        return Err(format!("energy balance residual {e:e} W m-2"));
    }
    if w.is_nan() || w.abs() > MAX_WATER_RESIDUAL {
        return Err(format!("water balance residual {w:e} mm s-1"));
    }
    Ok(())
}

/// CoLM's fluxes in ALMA conventions (Qg into the ground, as CoLM's fgrnd; Qsb all runoff
/// but the surface's); `potevap` (W m-2) is [`potential_evaporation`], which CoLM lacks.
pub fn alma(
    out: &column_step::StepOutput,
    st: &ColmState,
    f: &Forcing,
    potevap: f64,
) -> StepOutput {
    let (e, w, sol) = (&out.energy, &out.water, &out.solar);
    let albedo = if f.shortwave_down > 0.0 {
        sol.sr / f.shortwave_down
    } else {
        let a = &st.column.albedo.alb;
        0.5 * (a[0][1] + a[1][1])
    };
    StepOutput {
        qh: e.fsena,
        qle: e.lfevpa,
        qg: e.fgrnd,
        qs: w.rsur,
        qsb: w.rnof - w.rsur,
        evap: e.fevpa,
        swnet: sol.sabvsun + sol.sabvsha + sol.sabg,
        lwnet: f.longwave_down - e.olrg,
        qsm: e.sm,
        albedo,
        potevap,
    }
}
