//! Noah LSM 3.4.1 single-column physics (the physics of WRF 3.4.1 `module_sf_noahlsm.F`),
//! organised by physical process:
//!
//! - [`surface_layer`]: exchange coefficients (Chen et al. 1997, CZIL from GENPARM),
//! - [`vegetation`]: LAI, emissivity, snow-free albedo, roughness from the green fraction,
//! - [`snow`]: snow cover, snow albedo ageing, new snow, compaction, conductivity,
//! - [`penman`]: potential evaporation, [`canopy_resistance`]: Jarvis resistance,
//! - [`evaporation`]: direct, canopy and transpiration components,
//! - [`soil_water`]: interception, Schaake infiltration, runoff, diffusion, drainage,
//! - [`soil_heat`] and [`frozen_soil`]: conduction with freezing and supercooled water,
//! - [`column`]: one step of one column (Noah's SFLX), [`atmosphere`]: driver conversions.
//!
//! Pure physics: no I/O (the offline point driver is `crate::point`), no global state. Arithmetic is f64 (docs/noah.md).

// Layer loops index several arrays at once; the physics reads better with indices.
#![allow(clippy::needless_range_loop, clippy::too_many_arguments)]

pub mod atmosphere;
pub mod canopy_resistance;
pub mod column;
pub mod constants;
pub mod evaporation;
pub mod frozen_soil;
pub mod params;
pub mod penman;
pub mod qc_view;
pub mod snow;
pub mod soil_heat;
pub mod soil_water;
pub mod state;
pub mod surface_layer;
pub mod tables;
pub mod tridiag;
pub mod vegetation;

pub use column::{ColumnForcing, Diagnostics};
pub use constants::NSOIL;
pub use params::{NoahParams, ParamSelection};
pub use state::NoahState;

use crate::lsm::{
    BuildModel, CellStatics, FieldSpec, Forcing, LandModel, LsmError, ModelSetup, QcState,
    StepOutput,
};
use chrono::{Duration, NaiveDateTime};
use surface_layer::{exchange_coefficients, Exchange};
use tables::ParameterTables;

/// One full step: surface-layer exchange coefficients from the previous state, the
/// absorbed radiation with the previous albedo and emissivity, then the column physics.
/// `sw_down` and `lw_down` are the incoming radiation; `wind` the wind speed (m s-1).
pub fn advance(
    p: &NoahParams,
    st: &mut NoahState,
    cf: &ColumnForcing,
    sw_down: f64,
    lw_down: f64,
    wind: f64,
) -> Diagnostics {
    let t1v = st.skin_temperature * (1.0 + 0.61 * cf.q2);
    let th2v = cf.th2 * (1.0 + 0.61 * cf.q2);
    let ex = exchange_coefficients(
        p.zlvl,
        st.roughness_length,
        t1v,
        th2v,
        wind,
        p.czil,
        Exchange {
            cm: st.cm,
            ch: st.ch,
        },
    );
    st.cm = ex.cm;
    st.ch = ex.ch;
    let mut f = *cf;
    f.solnet = sw_down * (1.0 - st.albedo);
    f.lwdn = lw_down * st.emissivity;
    column::step(p, st, &f)
}

/// Checks one step of forcing; the message names the variable and the value.
pub fn check_forcing(f: &Forcing) -> Result<(), String> {
    let vars = [
        ("air_temperature", f.air_temperature),
        ("specific_humidity", f.specific_humidity),
        ("surface_pressure", f.surface_pressure),
        ("wind_speed", f.wind_speed),
        ("precipitation", f.precipitation),
        ("frozen_precip_fraction", f.frozen_precip_fraction),
        ("shortwave_down", f.shortwave_down),
        ("longwave_down", f.longwave_down),
    ];
    for (n, v) in vars {
        if !v.is_finite() {
            return Err(format!("{n} is missing or not finite ({v})"));
        }
    }
    let range = |n: &str, v: f64, lo: f64, hi: f64| {
        if v < lo || v > hi {
            Err(format!("{n} = {v} outside the physical range {lo}..{hi}"))
        } else {
            Ok(())
        }
    };
    range("air_temperature", f.air_temperature, 150.0, 350.0)?;
    range("specific_humidity", f.specific_humidity, 0.0, 0.1)?;
    range("surface_pressure", f.surface_pressure, 3.0e4, 1.2e5)?;
    range("wind_speed", f.wind_speed, 0.0, 100.0)?;
    range("precipitation", f.precipitation, 0.0, 0.5)?;
    range("frozen_precip_fraction", f.frozen_precip_fraction, 0.0, 1.0)?;
    range("shortwave_down", f.shortwave_down, 0.0, 1500.0)?;
    range("longwave_down", f.longwave_down, 0.0, 800.0)?;
    Ok(())
}

/// The Noah LSM behind the [`LandModel`] trait: parameter tables, dataset choice and layers.
#[derive(Debug, Clone)]
pub struct NoahLsm {
    pub tables: ParameterTables,
    pub soil_dataset: String,
    pub vegetation_dataset: String,
    /// Urban class of the vegetation dataset (USGS 1, MODIS 13).
    pub urban_class: i32,
    pub layer_thickness: [f64; NSOIL],
    /// Forcing height (m) used when the forcing gives none.
    pub default_forcing_height: f64,
}

impl NoahLsm {
    /// Noah with the given tables and datasets, the standard 0.1/0.3/0.6/1.0 m layers.
    pub fn new(tables: ParameterTables, soil_dataset: &str, vegetation_dataset: &str) -> Self {
        let urban_class = if vegetation_dataset.starts_with("MODI") {
            13
        } else {
            1
        };
        NoahLsm {
            tables,
            soil_dataset: soil_dataset.to_string(),
            vegetation_dataset: vegetation_dataset.to_string(),
            urban_class,
            layer_thickness: [0.1, 0.3, 0.6, 1.0],
            default_forcing_height: 10.0,
        }
    }

    /// The column forcing of one step from generic forcing (f64 driver arithmetic).
    pub fn column_forcing(
        &self,
        p: &NoahParams,
        f: &Forcing,
        time_start: NaiveDateTime,
        dt: f64,
    ) -> ColumnForcing {
        let (q2sat, dqsdt2) =
            atmosphere::saturation_humidity(f.air_temperature, f.surface_pressure);
        let date = time_start.date();
        ColumnForcing {
            dt,
            sfctmp: f.air_temperature,
            q2: f.specific_humidity,
            sfcprs: f.surface_pressure,
            prcp: f.precipitation,
            ffrozp: f.frozen_precip_fraction,
            soldn: f.shortwave_down,
            solnet: 0.0,
            lwdn: 0.0,
            th2: f.air_temperature + 0.0098 * p.zlvl,
            q2sat,
            dqsdt2,
            shdfac: atmosphere::monthly_value(&p.green_fraction_monthly, date),
            monthly_albedo: p
                .use_monthly_albedo
                .then(|| atmosphere::monthly_value(&p.albedo_monthly, date)),
            monthly_lai: p
                .use_monthly_lai
                .then(|| atmosphere::monthly_value(&p.lai_monthly, date)),
        }
    }

    /// One step with all Noah diagnostics (the trait's `step` maps these to ALMA).
    pub fn step_detailed(
        &self,
        p: &NoahParams,
        st: &mut NoahState,
        f: &Forcing,
        time_end: NaiveDateTime,
        dt: f64,
    ) -> Result<Diagnostics, LsmError> {
        if !(dt > 0.0 && dt <= 86400.0) {
            return Err(LsmError::Parameter(format!(
                "time step {dt} s outside 0..86400"
            )));
        }
        check_forcing(f).map_err(|m| LsmError::Forcing(format!("step ending {time_end}: {m}")))?;
        st.validate(p)
            .map_err(|e| LsmError::State(format!("before step ending {time_end}: {e}")))?;
        let start = time_end - Duration::milliseconds((dt * 1000.0).round() as i64);
        let owned;
        let p = if f.forcing_height > 0.0 && f.forcing_height != p.zlvl {
            let mut q = p.clone();
            q.zlvl = f.forcing_height;
            owned = q;
            &owned
        } else {
            p
        };
        let cf = self.column_forcing(p, f, start, dt);
        let d = advance(p, st, &cf, f.shortwave_down, f.longwave_down, f.wind_speed);
        check_finite_output(&d, st)
            .map_err(|m| LsmError::State(format!("step ending {time_end}: {m}")))?;
        Ok(d)
    }
}

impl NoahLsm {
    /// Soil-moisture bounds of every layer (Noah's porosity is one value per cell).
    fn bounds(&self, p: &NoahParams) -> (f64, f64) {
        (p.smcdry.max(0.02), p.smcmax)
    }

    /// The soil-moisture increment of [`LandModel::apply_increment`]; the increment actually
    /// applied goes to `applied` (one value per layer).
    fn increment_soil_moisture(
        &self,
        p: &NoahParams,
        st: &mut NoahState,
        increment: &[f64],
        applied: &mut [f64; NSOIL],
    ) {
        let (lo, hi) = self.bounds(p);
        for k in 0..NSOIL.min(increment.len()) {
            let inc = if increment[k].is_finite() {
                increment[k]
            } else {
                0.0
            };
            let old = st.soil_moisture[k];
            let new = (old + inc).clamp(lo, hi);
            let ice = old - st.soil_liquid[k];
            st.soil_moisture[k] = new;
            // Liquid takes the whole change; if that would go negative the ice melts.
            st.soil_liquid[k] = (new - ice).clamp(0.0, new);
            applied[k] = new - old;
        }
    }
}

/// Guards the "never NaN" promise: a non-finite result is reported, not propagated.
pub fn check_finite_output(d: &Diagnostics, st: &NoahState) -> Result<(), String> {
    let vals = [
        ("skin_temperature", st.skin_temperature),
        ("sensible heat", d.sheat),
        ("latent heat", d.eta),
        ("ground heat", d.ssoil),
        ("runoff", d.runoff1 + d.runoff2),
        ("snow", st.snow_water_equivalent + st.snow_depth),
        ("canopy water", st.canopy_water),
    ];
    for (n, v) in vals {
        if !v.is_finite() {
            return Err(format!("{n} became non-finite"));
        }
    }
    for k in 0..NSOIL {
        if !(st.soil_temperature[k].is_finite()
            && st.soil_moisture[k].is_finite()
            && st.soil_liquid[k].is_finite())
        {
            return Err(format!("soil state of layer {} became non-finite", k + 1));
        }
    }
    Ok(())
}

/// Maps Noah diagnostics to the shared ALMA-convention step output.
pub fn alma_output(d: &Diagnostics, st: &NoahState, dt: f64) -> StepOutput {
    let t1 = st.skin_temperature;
    StepOutput {
        qh: d.sheat,
        qle: d.eta,
        qg: -d.ssoil,
        qs: d.runoff1 * 1000.0,
        qsb: d.runoff2 * 1000.0,
        evap: d.evap_water,
        swnet: d.solnet,
        lwnet: d.lwdn - d.emissivity * constants::SIGMA * t1 * t1 * t1 * t1,
        qsm: d.snomlt * 1000.0 / dt,
        albedo: d.albedo,
        potevap: d.etp,
    }
}

const RESTART: [(&str, usize, &str, &str); 13] = [
    ("skin_temperature", 1, "K", "skin temperature"),
    ("soil_temperature", NSOIL, "K", "soil temperature per layer"),
    (
        "soil_moisture",
        NSOIL,
        "m3 m-3",
        "total soil moisture per layer",
    ),
    (
        "soil_liquid",
        NSOIL,
        "m3 m-3",
        "liquid soil moisture per layer",
    ),
    ("canopy_water", 1, "m", "canopy intercepted water"),
    ("snow_depth", 1, "m", "snow depth"),
    ("snow_water_equivalent", 1, "m", "snow water equivalent"),
    ("albedo", 1, "1", "surface albedo of the last step"),
    ("emissivity", 1, "1", "surface emissivity of the last step"),
    (
        "roughness_length",
        1,
        "m",
        "roughness length of the last step",
    ),
    ("cm", 1, "m s-1", "exchange coefficient for momentum"),
    ("ch", 1, "m s-1", "exchange coefficient for heat"),
    ("snow_age", 1, "s", "time since last snowfall"),
];

impl BuildModel for NoahLsm {
    /// Noah with the built-in tables or the WRF tables of `parameter_tables`.
    fn build(setup: &ModelSetup) -> Result<Self, LsmError> {
        let tables = match setup.parameter_tables {
            Some(dir) => ParameterTables::from_wrf_dir(dir)?,
            None => ParameterTables::builtin(),
        };
        Ok(NoahLsm::new(
            tables,
            setup.soil_dataset,
            setup.vegetation_dataset,
        ))
    }
}

impl LandModel for NoahLsm {
    type CellParams = NoahParams;
    type State = NoahState;

    fn name(&self) -> &'static str {
        "noah-3.4.1"
    }

    fn soil_layer_thickness(&self) -> &[f64] {
        &self.layer_thickness
    }

    fn cell_params(&self, s: &CellStatics) -> Result<NoahParams, LsmError> {
        let gf = s.green_fraction_monthly;
        let shdmin = gf.iter().cloned().fold(f64::INFINITY, f64::min);
        let shdmax = gf.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        NoahParams::from_tables(
            &self.tables,
            &ParamSelection {
                soil_dataset: &self.soil_dataset,
                vegetation_dataset: &self.vegetation_dataset,
                soil_class: s.soil_class,
                vegetation_class: s.vegetation_class,
                slope_class: s.slope_class,
                urban_class: self.urban_class,
                sldpth: self.layer_thickness,
                shdmin,
                shdmax,
                snoalb: s.max_snow_albedo,
                tbot: s.deep_soil_temperature,
                zlvl: self.default_forcing_height,
                green_fraction_monthly: gf,
                albedo_monthly: s.albedo_monthly,
                lai_monthly: [0.0; 12],
                use_monthly_albedo: false,
                use_monthly_lai: false,
            },
        )
    }

    fn cold_start(
        &self,
        p: &NoahParams,
        soil_moisture: &[f64],
        temperature: f64,
    ) -> Result<NoahState, LsmError> {
        crate::lsm::check_cold_start(NSOIL, soil_moisture, temperature)?;
        let (lo, hi) = self.bounds(p);
        let mut smc = [0.0; NSOIL];
        let mut sh2o = [0.0; NSOIL];
        for k in 0..NSOIL {
            if !soil_moisture[k].is_finite() {
                return Err(LsmError::State(format!(
                    "cold start soil moisture of layer {} is not finite",
                    k + 1
                )));
            }
            smc[k] = soil_moisture[k].clamp(lo, hi);
            sh2o[k] = frozen_soil::supercooled_liquid(p, temperature, smc[k], smc[k]);
        }
        let surf = vegetation::seasonal_surface(p, p.shdmin, None, None);
        Ok(NoahState {
            skin_temperature: temperature,
            soil_temperature: [temperature; NSOIL],
            soil_moisture: smc,
            soil_liquid: sh2o,
            canopy_water: 0.0,
            snow_depth: 0.0,
            snow_water_equivalent: 0.0,
            albedo: surf.albedo,
            emissivity: surf.emissivity,
            roughness_length: surf.z0,
            cm: 1.0e-4,
            ch: 1.0e-4,
            snow_age: 0.0,
        })
    }

    fn step(
        &self,
        p: &NoahParams,
        st: &mut NoahState,
        f: &Forcing,
        time_end: NaiveDateTime,
        dt: f64,
    ) -> Result<StepOutput, LsmError> {
        let d = self.step_detailed(p, st, f, time_end, dt)?;
        Ok(alma_output(&d, st, dt))
    }

    fn soil_moisture(&self, st: &NoahState) -> Vec<f64> {
        st.soil_moisture.to_vec()
    }
    fn soil_temperature(&self, st: &NoahState) -> Vec<f64> {
        st.soil_temperature.to_vec()
    }
    fn soil_liquid(&self, st: &NoahState) -> Vec<f64> {
        st.soil_liquid.to_vec()
    }
    fn skin_temperature(&self, st: &NoahState) -> f64 {
        st.skin_temperature
    }
    fn swe(&self, st: &NoahState) -> f64 {
        st.snow_water_equivalent * 1000.0
    }
    fn snow_depth(&self, st: &NoahState) -> f64 {
        st.snow_depth
    }
    fn canopy_water(&self, st: &NoahState) -> f64 {
        st.canopy_water * 1000.0
    }

    fn apply_increment(&self, p: &NoahParams, st: &mut NoahState, increment: &[f64]) -> Vec<f64> {
        let mut applied = [0.0; NSOIL];
        self.increment_soil_moisture(p, st, increment, &mut applied);
        applied.to_vec()
    }

    fn apply_increment_in_place(&self, p: &NoahParams, st: &mut NoahState, increment: &[f64]) {
        self.increment_soil_moisture(p, st, increment, &mut [0.0; NSOIL]);
    }

    fn extend_soil_moisture(&self, st: &NoahState, out: &mut Vec<f64>) {
        out.extend_from_slice(&st.soil_moisture);
    }
    fn extend_soil_temperature(&self, st: &NoahState, out: &mut Vec<f64>) {
        out.extend_from_slice(&st.soil_temperature);
    }

    fn soil_moisture_bounds(&self, p: &NoahParams) -> Vec<(f64, f64)> {
        vec![self.bounds(p); NSOIL]
    }

    fn qc_state(&self, p: &NoahParams, members: &[NoahState], t: NaiveDateTime) -> QcState {
        qc_view::qc_state(p, members, t)
    }

    fn surface_hydraulics(&self, p: &NoahParams) -> (f64, f64) {
        (p.smcwlt, p.smcmax)
    }

    fn restart_fields(&self) -> Vec<FieldSpec> {
        RESTART
            .iter()
            .map(|&(name, len, units, long_name)| FieldSpec {
                name,
                len,
                units,
                long_name,
            })
            .collect()
    }

    fn pack_state(&self, st: &NoahState, out: &mut Vec<f64>) {
        out.push(st.skin_temperature);
        out.extend_from_slice(&st.soil_temperature);
        out.extend_from_slice(&st.soil_moisture);
        out.extend_from_slice(&st.soil_liquid);
        out.extend_from_slice(&[
            st.canopy_water,
            st.snow_depth,
            st.snow_water_equivalent,
            st.albedo,
            st.emissivity,
            st.roughness_length,
            st.cm,
            st.ch,
            st.snow_age,
        ]);
    }

    fn unpack_state(&self, d: &[f64]) -> Result<NoahState, LsmError> {
        let n: usize = RESTART.iter().map(|r| r.1).sum();
        if d.len() != n {
            return Err(LsmError::Restart(format!(
                "Noah restart vector has {} values, expected {n}",
                d.len()
            )));
        }
        let arr = |o: usize| [d[o], d[o + 1], d[o + 2], d[o + 3]];
        let o = 1 + 3 * NSOIL;
        Ok(NoahState {
            skin_temperature: d[0],
            soil_temperature: arr(1),
            soil_moisture: arr(1 + NSOIL),
            soil_liquid: arr(1 + 2 * NSOIL),
            canopy_water: d[o],
            snow_depth: d[o + 1],
            snow_water_equivalent: d[o + 2],
            albedo: d[o + 3],
            emissivity: d[o + 4],
            roughness_length: d[o + 5],
            cm: d[o + 6],
            ch: d[o + 7],
            snow_age: d[o + 8],
        })
    }
}
