//! The bucket: an N-layer soil-water bucket model behind [`LandModel`].
//!
//! **A toy, not a land-surface model for science.** It exists to prove the [`LandModel`]
//! trait with a layer count other than Noah's four (interface and conformance tests, fast
//! multi-layer data-assimilation tests) before a real multi-layer model (CoLM) arrives. Its
//! results are easy to predict; they are not meant to resemble any real soil.
//!
//! Per step of length dt, all f64 (docs/bucket.md):
//! 1. **Infiltration.** All precipitation (rain and snow alike: there is no snow) enters the
//!    top layer up to porosity; the rest is surface runoff Qs.
//! 2. **Evapotranspiration.** Potential rate E_p = c_e · SWdown / λ; the layers overlapping
//!    the top `et_depth` share it by overlap, each scaled by (θ − θ_wp)/(θ_fc − θ_wp) clipped
//!    to [0, 1] and never taking a layer below the wilting point.
//! 3. **Drainage.** Layer k loses k_d (θ_k − θ_fc)+ to layer k+1 (integrated exactly over
//!    the step, at most what k+1 can hold); the bottom layer's drainage is subsurface runoff
//!    Qsb.
//! 4. **Temperature.** Skin and soil temperatures relax toward the air temperature, the soil
//!    with a time constant growing as the square of the layer's mid depth (heat diffusion).
//!
//! No snow, frozen soil, canopy or energy balance: SWE, snow depth, canopy water and frozen
//! water are zero. Water is conserved to round-off.

pub mod column;
pub mod soil;

pub use soil::{stas_params, BucketParams};

use crate::lsm::{
    overlap_weights, BuildModel, CellStatics, FieldSpec, Forcing, LandModel, LsmError, ModelSetup,
    QcState, StepOutput,
};
use chrono::NaiveDateTime;
use column::{LATENT_HEAT, RHO_WATER};

/// Largest number of layers the bucket accepts (as `bucket:layer_thickness`).
pub const MAX_LAYERS: usize = 20;

/// Process constants of the bucket, the same for every cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketConstants {
    /// Fraction of downward shortwave that drives potential evapotranspiration (-).
    pub evap_coefficient: f64,
    /// Depth from which evapotranspiration draws water (m).
    pub et_depth: f64,
    /// Linear drainage rate k_d of water above field capacity (s-1).
    pub drainage_rate: f64,
    /// Time constant of the skin temperature's relaxation to air temperature (s).
    pub skin_timescale: f64,
    /// Soil temperature time constant at `reference_depth` (s).
    pub soil_timescale: f64,
    /// Depth at which the soil time constant is `soil_timescale` (m).
    pub reference_depth: f64,
    /// Shortest soil temperature time constant (s), for very thin top layers.
    pub min_soil_timescale: f64,
}

impl Default for BucketConstants {
    /// Values chosen for plausible magnitudes, not fitted: c_e = 0.5 gives about 4 mm per
    /// day on a sunny day; drainage of the excess in about a day; the top 10 cm follow the
    /// air in about a day, 1 m in about a season.
    fn default() -> Self {
        BucketConstants {
            evap_coefficient: 0.5,
            et_depth: 0.3,
            drainage_rate: 1.0 / 86400.0,
            skin_timescale: 3600.0,
            soil_timescale: 86400.0,
            reference_depth: 0.1,
            min_soil_timescale: 3600.0,
        }
    }
}

/// Prognostic state of one bucket column.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketState {
    /// Volumetric soil moisture per layer, top first (m3 m-3).
    pub soil_moisture: Vec<f64>,
    /// Soil temperature per layer, top first (K).
    pub soil_temperature: Vec<f64>,
    /// Skin temperature (K).
    pub skin_temperature: f64,
}

/// The bucket model: layering, constants and what follows from them.
#[derive(Debug, Clone)]
pub struct BucketLsm {
    /// Layer thicknesses, top first (m).
    layer_thickness: Vec<f64>,
    constants: BucketConstants,
    /// Share of evapotranspiration per layer (-), summing to 1.
    et_weights: Vec<f64>,
    /// Soil temperature time constant per layer (s).
    soil_timescales: Vec<f64>,
}

impl BucketLsm {
    /// A bucket with `layer_thickness` (m, top first, 1 to [`MAX_LAYERS`] values, each
    /// positive and finite) and the default constants.
    pub fn new(layer_thickness: &[f64]) -> Result<Self, LsmError> {
        Self::with_constants(layer_thickness, BucketConstants::default())
    }

    /// As [`BucketLsm::new`] with other constants (each must be positive and finite).
    pub fn with_constants(layer_thickness: &[f64], c: BucketConstants) -> Result<Self, LsmError> {
        check_layers(layer_thickness)?;
        check_constants(&c)?;
        let mut top = 0.0;
        let soil_timescales = layer_thickness
            .iter()
            .map(|&dz| {
                let mid = top + 0.5 * dz;
                top += dz;
                (c.soil_timescale * (mid / c.reference_depth).powi(2)).max(c.min_soil_timescale)
            })
            .collect();
        Ok(BucketLsm {
            layer_thickness: layer_thickness.to_vec(),
            et_weights: overlap_weights(layer_thickness, c.et_depth),
            soil_timescales,
            constants: c,
        })
    }

    /// The process constants in use.
    pub fn constants(&self) -> &BucketConstants {
        &self.constants
    }

    /// Column water storage (kg m-2).
    pub fn water_storage(&self, st: &BucketState) -> f64 {
        column::storage_m(&st.soil_moisture, &self.layer_thickness) * RHO_WATER
    }

    /// The step's water movement (m of water) and potential evapotranspiration (m).
    fn move_water(
        &self,
        p: &BucketParams,
        st: &mut BucketState,
        f: &Forcing,
        dt: f64,
    ) -> (column::WaterAmounts, f64) {
        let dz = &self.layer_thickness;
        let theta = &mut st.soil_moisture;
        let (infiltration, surface_runoff) =
            column::infiltrate(p, theta, dz, f.precipitation * dt / RHO_WATER);
        let potential =
            self.constants.evap_coefficient * f.shortwave_down / LATENT_HEAT * dt / RHO_WATER;
        let evapotranspiration = column::evapotranspire(p, theta, dz, &self.et_weights, potential);
        let decay = -(-self.constants.drainage_rate * dt).exp_m1();
        let subsurface_runoff = column::drain(p, theta, dz, decay);
        let w = column::WaterAmounts {
            infiltration,
            surface_runoff,
            evapotranspiration,
            subsurface_runoff,
        };
        (w, potential)
    }

    fn relax_temperatures(&self, st: &mut BucketState, air: f64, dt: f64) {
        st.skin_temperature =
            column::relax(st.skin_temperature, air, self.constants.skin_timescale, dt);
        for (t, &tau) in st.soil_temperature.iter_mut().zip(&self.soil_timescales) {
            *t = column::relax(*t, air, tau, dt);
        }
    }

    fn check_state(&self, st: &BucketState) -> Result<(), String> {
        let n = self.layer_thickness.len();
        if st.soil_moisture.len() != n || st.soil_temperature.len() != n {
            return Err(format!(
                "state has {} soil moisture and {} temperature values for {n} layers",
                st.soil_moisture.len(),
                st.soil_temperature.len()
            ));
        }
        let finite = st
            .soil_moisture
            .iter()
            .chain(&st.soil_temperature)
            .all(|v| v.is_finite());
        if !finite || !st.skin_temperature.is_finite() {
            return Err("state is not finite".into());
        }
        Ok(())
    }

    fn bounds(p: &BucketParams) -> (f64, f64) {
        (p.residual, p.porosity)
    }

    /// Clamped increment of every layer; the applied change goes to `applied` when given.
    fn increment(
        &self,
        p: &BucketParams,
        st: &mut BucketState,
        increment: &[f64],
        mut applied: Option<&mut [f64]>,
    ) {
        let (lo, hi) = Self::bounds(p);
        for (k, (th, &inc)) in st.soil_moisture.iter_mut().zip(increment).enumerate() {
            let inc = if inc.is_finite() { inc } else { 0.0 };
            let old = *th;
            *th = (old + inc).clamp(lo, hi);
            if let Some(a) = applied.as_deref_mut() {
                a[k] = *th - old;
            }
        }
    }
}

fn check_layers(dz: &[f64]) -> Result<(), LsmError> {
    if dz.is_empty() || dz.len() > MAX_LAYERS {
        return Err(LsmError::Parameter(format!(
            "the bucket needs 1 to {MAX_LAYERS} soil layers, {} given",
            dz.len()
        )));
    }
    if let Some((k, d)) = dz
        .iter()
        .enumerate()
        .find(|(_, d)| !(d.is_finite() && **d > 0.0))
    {
        return Err(LsmError::Parameter(format!(
            "thickness {d} m of bucket layer {} is not positive",
            k + 1
        )));
    }
    Ok(())
}

fn check_constants(c: &BucketConstants) -> Result<(), LsmError> {
    let all = [
        ("evap_coefficient", c.evap_coefficient),
        ("et_depth", c.et_depth),
        ("drainage_rate", c.drainage_rate),
        ("skin_timescale", c.skin_timescale),
        ("soil_timescale", c.soil_timescale),
        ("reference_depth", c.reference_depth),
        ("min_soil_timescale", c.min_soil_timescale),
    ];
    match all.iter().find(|(_, v)| !(v.is_finite() && *v > 0.0)) {
        Some((name, v)) => Err(LsmError::Parameter(format!(
            "bucket constant {name} = {v} is not positive"
        ))),
        None => Ok(()),
    }
}

/// Checks the forcing the bucket reads; the message names the variable and the value.
fn check_forcing(f: &Forcing) -> Result<(), String> {
    let vars = [
        ("air_temperature", f.air_temperature, 150.0, 350.0),
        ("precipitation", f.precipitation, 0.0, 0.5),
        ("shortwave_down", f.shortwave_down, 0.0, 1500.0),
    ];
    for (name, v, lo, hi) in vars {
        if !(lo..=hi).contains(&v) {
            return Err(format!(
                "{name} = {v} outside the physical range {lo}..{hi}"
            ));
        }
    }
    Ok(())
}

impl BuildModel for BucketLsm {
    /// The layering of `setup.layer_thickness` (required) and the default constants.
    fn build(setup: &ModelSetup) -> Result<Self, LsmError> {
        match setup.layer_thickness {
            Some(dz) => BucketLsm::new(dz),
            None => Err(LsmError::Parameter(
                "the bucket needs layer thicknesses (bucket:layer_thickness)".into(),
            )),
        }
    }
}

const RESTART: [(&str, &str, &str); 3] = [
    (
        "soil_moisture",
        "m3 m-3",
        "volumetric soil moisture per layer",
    ),
    ("soil_temperature", "K", "soil temperature per layer"),
    ("skin_temperature", "K", "skin temperature"),
];

impl LandModel for BucketLsm {
    type CellParams = BucketParams;
    type State = BucketState;

    fn name(&self) -> &'static str {
        "bucket"
    }

    fn soil_layer_thickness(&self) -> &[f64] {
        &self.layer_thickness
    }

    /// The soil class decides everything; the other statics are not used.
    fn cell_params(&self, statics: &CellStatics) -> Result<BucketParams, LsmError> {
        stas_params(statics.soil_class)
    }

    fn cold_start(
        &self,
        p: &BucketParams,
        soil_moisture: &[f64],
        temperature: f64,
    ) -> Result<BucketState, LsmError> {
        let n = self.n_soil_layers();
        crate::lsm::check_cold_start_finite(n, soil_moisture, temperature)?;
        let (lo, hi) = Self::bounds(p);
        Ok(BucketState {
            soil_moisture: soil_moisture.iter().map(|v| v.clamp(lo, hi)).collect(),
            soil_temperature: vec![temperature; n],
            skin_temperature: temperature,
        })
    }

    fn step(
        &self,
        p: &BucketParams,
        st: &mut BucketState,
        f: &Forcing,
        time_end: NaiveDateTime,
        dt: f64,
    ) -> Result<StepOutput, LsmError> {
        if !(dt > 0.0 && dt <= 86400.0) {
            return Err(LsmError::Parameter(format!(
                "time step {dt} s outside 0..86400"
            )));
        }
        check_forcing(f).map_err(|m| LsmError::Forcing(format!("step ending {time_end}: {m}")))?;
        self.check_state(st)
            .map_err(|m| LsmError::State(format!("before step ending {time_end}: {m}")))?;
        let (w, potential) = self.move_water(p, st, f, dt);
        self.relax_temperatures(st, f.air_temperature, dt);
        let rate = |m: f64| m * RHO_WATER / dt;
        Ok(StepOutput {
            qs: rate(w.surface_runoff),
            qsb: rate(w.subsurface_runoff),
            evap: rate(w.evapotranspiration),
            qle: LATENT_HEAT * rate(w.evapotranspiration),
            potevap: LATENT_HEAT * rate(potential),
            ..StepOutput::default()
        })
    }

    fn soil_moisture(&self, st: &BucketState) -> Vec<f64> {
        st.soil_moisture.clone()
    }
    fn soil_temperature(&self, st: &BucketState) -> Vec<f64> {
        st.soil_temperature.clone()
    }
    fn extend_soil_moisture(&self, st: &BucketState, out: &mut Vec<f64>) {
        out.extend_from_slice(&st.soil_moisture);
    }
    fn extend_soil_temperature(&self, st: &BucketState, out: &mut Vec<f64>) {
        out.extend_from_slice(&st.soil_temperature);
    }
    fn skin_temperature(&self, st: &BucketState) -> f64 {
        st.skin_temperature
    }
    fn swe(&self, _: &BucketState) -> f64 {
        0.0
    }
    fn snow_depth(&self, _: &BucketState) -> f64 {
        0.0
    }
    fn canopy_water(&self, _: &BucketState) -> f64 {
        0.0
    }

    fn apply_increment(&self, p: &BucketParams, st: &mut BucketState, inc: &[f64]) -> Vec<f64> {
        let mut applied = vec![0.0; self.n_soil_layers()];
        self.increment(p, st, inc, Some(&mut applied));
        applied
    }

    fn apply_increment_in_place(&self, p: &BucketParams, st: &mut BucketState, inc: &[f64]) {
        self.increment(p, st, inc, None);
    }

    /// One soil class per column: the same bounds in every layer.
    fn soil_moisture_bounds(&self, p: &BucketParams) -> Vec<(f64, f64)> {
        vec![Self::bounds(p); self.n_soil_layers()]
    }

    /// Ensemble means in member order; no frozen water, snow, forest or green vegetation.
    fn qc_state(&self, _: &BucketParams, members: &[BucketState], _: NaiveDateTime) -> QcState {
        let n = members.len().max(1) as f64;
        let mean = |get: fn(&BucketState) -> f64| members.iter().map(get).sum::<f64>() / n;
        QcState {
            frozen: vec![0.0; self.n_soil_layers()],
            skin_temperature: mean(|s| s.skin_temperature),
            top_soil_temperature: mean(|s| s.soil_temperature[0]),
            ..QcState::default()
        }
    }

    fn surface_hydraulics(&self, p: &BucketParams) -> (f64, f64) {
        (p.wilting_point, p.porosity)
    }

    fn restart_fields(&self) -> Vec<FieldSpec> {
        let n = self.n_soil_layers();
        RESTART
            .iter()
            .zip([n, n, 1])
            .map(|(&(name, units, long_name), len)| FieldSpec {
                name,
                len,
                units,
                long_name,
            })
            .collect()
    }

    fn pack_state(&self, st: &BucketState, out: &mut Vec<f64>) {
        out.extend_from_slice(&st.soil_moisture);
        out.extend_from_slice(&st.soil_temperature);
        out.push(st.skin_temperature);
    }

    fn unpack_state(&self, data: &[f64]) -> Result<BucketState, LsmError> {
        let n = self.n_soil_layers();
        if data.len() != 2 * n + 1 {
            return Err(LsmError::Restart(format!(
                "bucket restart vector has {} values, expected {} for {n} layers",
                data.len(),
                2 * n + 1
            )));
        }
        Ok(BucketState {
            soil_moisture: data[..n].to_vec(),
            soil_temperature: data[n..2 * n].to_vec(),
            skin_temperature: data[2 * n],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn t0() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2020, 6, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
    }

    /// Δstorage = (P − E − Qs − Qsb) dt in every step of a wet, sunny, drying sequence.
    #[test]
    fn water_balance_closes_each_step() {
        let m = BucketLsm::new(&[0.05, 0.15, 0.3, 0.5]).unwrap();
        let p = stas_params(6).unwrap();
        let mut st = m.cold_start(&p, &[0.2, 0.3, 0.35, 0.4], 290.0).unwrap();
        let dt = 1800.0;
        for k in 0..200 {
            let f = Forcing {
                air_temperature: 290.0,
                precipitation: if k % 7 < 2 { 4e-3 } else { 0.0 },
                shortwave_down: if k % 48 < 24 { 700.0 } else { 0.0 },
                ..Forcing::default()
            };
            let before = m.water_storage(&st);
            let o = m.step(&p, &mut st, &f, t0(), dt).unwrap();
            let change = m.water_storage(&st) - before;
            let budget = (f.precipitation - o.evap - o.qs - o.qsb) * dt;
            assert!(
                (change - budget).abs() <= 1e-12 * before,
                "step {k}: storage change {change}, budget {budget}"
            );
        }
    }

    #[test]
    fn layering_errors() {
        for bad in [&[][..], &[0.1, 0.0], &[0.1, f64::NAN], &[0.1; 21]] {
            assert!(matches!(BucketLsm::new(bad), Err(LsmError::Parameter(_))));
        }
        let setup = ModelSetup {
            soil_dataset: "STAS",
            vegetation_dataset: "USGS",
            parameter_tables: None,
            layer_thickness: None,
        };
        assert!(BucketLsm::build(&setup).is_err());
        let dz = [0.1, 0.2];
        let m = BucketLsm::build(&ModelSetup {
            layer_thickness: Some(&dz),
            ..setup
        })
        .unwrap();
        assert_eq!(m.n_soil_layers(), 2);
    }
}
