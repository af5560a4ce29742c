//! Every land model passes `lsm::conformance::check_land_model` (Noah, CoLM, and the bucket
//! at 3 and 10 layers) over rainy, dry and freezing synthetic forcing; the bucket's own
//! promises: water balance closed to round-off, drainage to field capacity, temperatures
//! relaxing to the air, errors for bad layering and soil classes.

use chrono::{NaiveDate, NaiveDateTime};
use landcycle::lsm::bucket::{stas_params, BucketLsm, BucketState, MAX_LAYERS};
use landcycle::lsm::conformance::check_land_model;
use landcycle::lsm::noah::tables::{ParameterTables, SOIL_STATSGO, VEG_USGS};
use landcycle::lsm::noah::NoahLsm;
use landcycle::lsm::{BuildModel, CellStatics, Forcing, LandModel, LsmError, ModelSetup};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const DT: f64 = 1800.0;
const THREE: [f64; 3] = [0.05, 0.25, 0.7];
const TEN: [f64; 10] = [0.02, 0.03, 0.05, 0.1, 0.1, 0.2, 0.2, 0.3, 0.5, 0.5];

fn start() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2020, 4, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
}

fn statics(soil: i32, veg: i32) -> CellStatics {
    CellStatics {
        latitude: 40.0,
        longitude: -88.0,
        soil_class: soil,
        vegetation_class: veg,
        slope_class: 1,
        green_fraction_monthly: [
            0.01, 0.02, 0.07, 0.17, 0.27, 0.58, 0.93, 0.96, 0.65, 0.24, 0.11, 0.02,
        ],
        albedo_monthly: [0.18; 12],
        deep_soil_temperature: 285.0,
        elevation: 200.0,
        max_snow_albedo: 0.75,
        soil_texture: None,
    }
}

/// One half-hour of weather: a diurnal cycle around `t_mean` (K), rain with probability
/// `rain_prob` (up to 3e-3 kg m-2 s-1), snow below freezing.
fn weather(rng: &mut ChaCha8Rng, k: usize, t_mean: f64, rain_prob: f64) -> Forcing {
    let hour = (k % 48) as f64 / 2.0;
    let diurnal = (std::f64::consts::PI * (hour - 9.0) / 12.0).sin();
    let t = t_mean + 6.0 * diurnal + rng.random_range(-1.0..1.0);
    let p = 98000.0;
    let es = 611.2 * (17.67 * (t - 273.15) / (t - 29.65)).exp();
    let e = rng.random_range(0.4..0.9) * es;
    let rain = rng.random_range(0.0..1.0) < rain_prob;
    Forcing {
        air_temperature: t,
        specific_humidity: 0.622 * e / (p - 0.378 * e),
        surface_pressure: p,
        wind_speed: rng.random_range(0.5..8.0),
        precipitation: if rain {
            rng.random_range(0.0..3e-3)
        } else {
            0.0
        },
        frozen_precip_fraction: if t < 273.15 { 1.0 } else { 0.0 },
        shortwave_down: (850.0 * diurnal).max(0.0) * rng.random_range(0.3..1.0),
        longwave_down: 5.67e-8 * t.powi(4) * rng.random_range(0.7..0.95),
        forcing_height: 10.0,
    }
}

/// Four days: a wet day, two dry sunny days, a freezing day with snow.
fn varied_forcing() -> Vec<Forcing> {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let spells = [(290.0, 0.6), (300.0, 0.0), (298.0, 0.02), (266.0, 0.3)];
    (0..4 * 48)
        .map(|k| {
            let (t, p) = spells[k / 48];
            weather(&mut rng, k, t, p)
        })
        .collect()
}

fn noah() -> NoahLsm {
    NoahLsm::new(ParameterTables::builtin(), SOIL_STATSGO, VEG_USGS)
}

#[test]
fn noah_conforms() {
    let m = noah();
    // Loam grassland, sand cropland, clay deciduous forest.
    let cells = [statics(6, 7), statics(1, 2), statics(12, 11)];
    let params: Vec<_> = cells.iter().map(|s| m.cell_params(s).unwrap()).collect();
    let profiles = [
        [0.30, 0.28, 0.26, 0.30],
        [0.12, 0.15, 0.2, 0.25],
        [0.45, 0.44, 0.4, 0.38],
    ];
    let states: Vec<_> = params
        .iter()
        .zip(&profiles)
        .map(|(p, sm)| m.cold_start(p, sm, 285.0).unwrap())
        .collect();
    check_land_model(&m, &params, &states, &varied_forcing(), start(), DT)
        .unwrap_or_else(|e| panic!("{e}"));
}

/// CoLM on four soils and land covers, from cold starts and from a state that a cold spell
/// left with snow layers and frozen soil; the forcing's freezing day builds snow layers too.
#[test]
fn colm_conforms() {
    use landcycle::lsm::colm::ColmLsm;
    let m = ColmLsm::default();
    // Loam grassland, sand cropland, clay deciduous forest, silty clay loam needleleaf forest.
    let cells = [
        statics(6, 7),
        statics(1, 2),
        statics(12, 11),
        statics(8, 14),
    ];
    let params: Vec<_> = cells.iter().map(|s| m.cell_params(s).unwrap()).collect();
    let mut states: Vec<_> = params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let sm: Vec<f64> = (0..10)
                .map(|k| 0.15 + 0.05 * i as f64 + 0.01 * k as f64)
                .collect();
            // The last cell starts frozen (all its water ice).
            m.cold_start(p, &sm, if i == 3 { 268.0 } else { 280.0 + i as f64 })
                .unwrap()
        })
        .collect();
    // The last cell spins through three snowy days below freezing first.
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let last = states.len() - 1;
    for k in 0..3 * 48 {
        let f = weather(&mut rng, k, 262.0, 0.5);
        let t =
            start() - chrono::Duration::hours(72) + chrono::Duration::minutes(30 * (k as i64 + 1));
        m.step(&params[last], &mut states[last], &f, t, DT).unwrap();
    }
    let s = &states[last];
    assert!(
        s.column.layers.nsnow > 0,
        "the cold spell left no snow layer"
    );
    assert!(
        m.soil_moisture(s)[0] > m.soil_liquid(s)[0],
        "the top layer did not freeze"
    );
    check_land_model(&m, &params, &states, &varied_forcing(), start(), DT)
        .unwrap_or_else(|e| panic!("{e}"));
}

fn bucket_case(
    dz: &[f64],
) -> (
    BucketLsm,
    Vec<landcycle::lsm::bucket::BucketParams>,
    Vec<BucketState>,
) {
    let m = BucketLsm::new(dz).unwrap();
    let n = m.n_soil_layers();
    let params: Vec<_> = [1, 6, 12, 15]
        .iter()
        .map(|&c| m.cell_params(&statics(c, 7)).unwrap())
        .collect();
    let states = params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            // Dry at the top to wet at the bottom, a different wetness per cell.
            let sm: Vec<f64> = (0..n)
                .map(|k| 0.1 + 0.08 * i as f64 + 0.2 * k as f64 / n as f64)
                .collect();
            m.cold_start(p, &sm, 283.0).unwrap()
        })
        .collect();
    (m, params, states)
}

#[test]
fn bucket_conforms_with_3_and_10_layers() {
    for dz in [&THREE[..], &TEN[..]] {
        let (m, params, states) = bucket_case(dz);
        assert_eq!(m.n_soil_layers(), dz.len());
        check_land_model(&m, &params, &states, &varied_forcing(), start(), DT)
            .unwrap_or_else(|e| panic!("{} layers: {e}", dz.len()));
    }
}

/// Δstorage = (P − E − Qs − Qsb) dt in every step, to 1e-12 of the storage, with every
/// flux at work in some cell of the sequence.
#[test]
fn bucket_water_balance_closes() {
    for dz in [&THREE[..], &TEN[..]] {
        let (m, params, states) = bucket_case(dz);
        let mut totals = [0.0; 3];
        for (p, s0) in params.iter().zip(states) {
            let mut st = s0;
            for (j, f) in varied_forcing().iter().enumerate() {
                let before = m.water_storage(&st);
                let o = m.step(p, &mut st, f, start(), DT).unwrap();
                let change = m.water_storage(&st) - before;
                let budget = (f.precipitation - o.evap - o.qs - o.qsb) * DT;
                assert!(
                    (change - budget).abs() <= 1e-12 * before,
                    "{} layers, class {}, step {j}: Δstorage {change} kg m-2, budget {budget}",
                    dz.len(),
                    p.soil_class
                );
                assert!(o.qs >= 0.0 && o.qsb >= 0.0 && o.evap >= 0.0);
                assert_eq!(o.qle, 2.5e6 * o.evap);
                for (t, v) in totals.iter_mut().zip([o.qs, o.qsb, o.evap]) {
                    *t += v;
                }
            }
        }
        assert!(
            totals.iter().all(|&t| t > 0.0),
            "{} layers: runoff, drainage, evaporation totals {totals:?}",
            dz.len()
        );
    }
}

/// Without forcing a saturated column drains to field capacity, monotonically, through
/// the bottom; a column at or below field capacity does not change at all.
#[test]
fn bucket_drains_to_field_capacity_without_forcing() {
    let calm = Forcing {
        air_temperature: 285.0,
        ..Forcing::default()
    };
    for dz in [&THREE[..], &TEN[..]] {
        let m = BucketLsm::new(dz).unwrap();
        let p = stas_params(6).unwrap();
        let mut st = m.cold_start(&p, &vec![1.0; dz.len()], 285.0).unwrap();
        assert!(st.soil_moisture.iter().all(|&t| t == p.porosity));
        let mut last = m.water_storage(&st);
        let hour = 3600.0;
        for j in 0..90 * 24 {
            let o = m.step(&p, &mut st, &calm, start(), hour).unwrap();
            let now = m.water_storage(&st);
            assert!(now <= last + 1e-12 * last && o.qs == 0.0 && o.evap == 0.0 && o.qsb >= 0.0);
            assert!(
                (last - now - o.qsb * hour).abs() <= 1e-12 * last,
                "hour {j}"
            );
            last = now;
        }
        for (k, &t) in st.soil_moisture.iter().enumerate() {
            assert!(
                (t - p.field_capacity).abs() < 1e-6,
                "{} layers: layer {} at {t} after 90 days, field capacity {}",
                dz.len(),
                k + 1,
                p.field_capacity
            );
        }
        let dry: Vec<f64> = (0..dz.len())
            .map(|k| p.field_capacity - 0.01 * k as f64)
            .collect();
        let mut still = m.cold_start(&p, &dry, 285.0).unwrap();
        for _ in 0..48 {
            let o = m.step(&p, &mut still, &calm, start(), DT).unwrap();
            assert_eq!((o.qs, o.qsb, o.evap), (0.0, 0.0, 0.0));
        }
        assert_eq!(still.soil_moisture, dry);
    }
}

/// Temperatures relax to a constant air temperature, deep layers more slowly; no snow,
/// canopy or frozen water; the QC view has the ensemble mean temperatures.
#[test]
fn bucket_temperatures_and_views() {
    let m = BucketLsm::new(&THREE).unwrap();
    let p = stas_params(3).unwrap();
    let mut st = m.cold_start(&p, &[0.2, 0.2, 0.2], 280.0).unwrap();
    let warm = Forcing {
        air_temperature: 300.0,
        ..Forcing::default()
    };
    for _ in 0..48 {
        m.step(&p, &mut st, &warm, start(), DT).unwrap();
    }
    let t = m.soil_temperature(&st);
    assert!((m.skin_temperature(&st) - 300.0).abs() < 1e-6);
    assert!(
        280.0 < t[2] && t[2] < t[1] && t[1] < t[0] && t[0] < 300.0,
        "{t:?}"
    );
    assert_eq!(
        (m.swe(&st), m.snow_depth(&st), m.canopy_water(&st)),
        (0.0, 0.0, 0.0)
    );
    let cold = m.cold_start(&p, &[0.2, 0.2, 0.2], 270.0).unwrap();
    let q = m.qc_state(&p, &[st.clone(), cold], start());
    assert_eq!(q.frozen, vec![0.0; 3]);
    assert_eq!(q.skin_temperature, (m.skin_temperature(&st) + 270.0) / 2.0);
    assert_eq!(q.top_soil_temperature, (t[0] + 270.0) / 2.0);
    assert!(!q.is_forest && q.swe == 0.0 && q.snow_cover == 0.0 && q.green_fraction == 0.0);
    assert_eq!(m.surface_hydraulics(&p), (p.wilting_point, p.porosity));
    assert_eq!(
        m.soil_moisture_bounds(&p),
        vec![(p.residual, p.porosity); 3]
    );
    assert_eq!(m.name(), "bucket");
    let names: Vec<_> = m.restart_fields().iter().map(|f| (f.name, f.len)).collect();
    assert_eq!(
        names,
        [
            ("soil_moisture", 3),
            ("soil_temperature", 3),
            ("skin_temperature", 1)
        ]
    );
}

#[test]
fn bucket_errors() {
    let setup = ModelSetup {
        soil_dataset: "STAS",
        vegetation_dataset: "USGS",
        parameter_tables: None,
        layer_thickness: None,
    };
    let too_many = [0.1; MAX_LAYERS + 1];
    for dz in [
        None,
        Some(&[][..]),
        Some(&[0.1, -0.2][..]),
        Some(&too_many[..]),
    ] {
        let r = BucketLsm::build(&ModelSetup {
            layer_thickness: dz,
            ..setup
        });
        assert!(matches!(r, Err(LsmError::Parameter(_))), "{dz:?}");
    }
    assert_eq!(MAX_LAYERS, landcycle::config::BUCKET_MAX_LAYERS);
    let dz = [0.1, 0.2, 0.3];
    let m = BucketLsm::build(&ModelSetup {
        layer_thickness: Some(&dz),
        ..setup
    })
    .unwrap();
    for class in [0, 14, 17] {
        let e = m.cell_params(&statics(class, 7)).unwrap_err();
        assert!(matches!(e, LsmError::Parameter(_)), "{class}: {e}");
    }
    let p = stas_params(6).unwrap();
    assert!(matches!(
        m.cold_start(&p, &[0.3; 4], 285.0),
        Err(LsmError::State(_))
    ));
    assert!(matches!(
        m.unpack_state(&[0.3; 6]),
        Err(LsmError::Restart(_))
    ));
    let mut st = m.cold_start(&p, &[0.3; 3], 285.0).unwrap();
    let bad = Forcing {
        air_temperature: f64::NAN,
        ..Forcing::default()
    };
    let e = m.step(&p, &mut st, &bad, start(), DT).unwrap_err();
    assert!(matches!(e, LsmError::Forcing(_)) && e.to_string().contains("air_temperature"));
    let ok = Forcing {
        air_temperature: 285.0,
        ..Forcing::default()
    };
    assert!(matches!(
        m.step(&p, &mut st, &ok, start(), 0.0),
        Err(LsmError::Parameter(_))
    ));
    // A NaN increment is ignored, not propagated.
    let applied = m.apply_increment(&p, &mut st, &[f64::NAN, 0.01, 0.0]);
    assert_eq!(applied[0], 0.0);
    assert!(st.soil_moisture.iter().all(|v| v.is_finite()));
}

/// A bucket with one promise broken, to show the check notices each.
struct Broken {
    inner: BucketLsm,
    fault: Fault,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    /// The restart keeps single precision only.
    RestartRounds,
    /// The applied increment ignores the clamping.
    ReportsRequestedIncrement,
    /// Increments are not bounded below.
    NoLowerBound,
    /// `step_members` leaves the last member behind.
    StepMembersSkipsOne,
    /// Surface weights do not sum to one below the column.
    WeightsUnnormalised,
    /// One frozen value too few in the QC view.
    ShortQcView,
}

impl LandModel for Broken {
    type CellParams = landcycle::lsm::bucket::BucketParams;
    type State = BucketState;

    fn name(&self) -> &'static str {
        "broken bucket"
    }
    fn soil_layer_thickness(&self) -> &[f64] {
        self.inner.soil_layer_thickness()
    }
    fn cell_params(&self, s: &CellStatics) -> Result<Self::CellParams, LsmError> {
        self.inner.cell_params(s)
    }
    fn cold_start(
        &self,
        p: &Self::CellParams,
        sm: &[f64],
        t: f64,
    ) -> Result<BucketState, LsmError> {
        self.inner.cold_start(p, sm, t)
    }
    fn step(
        &self,
        p: &Self::CellParams,
        st: &mut BucketState,
        f: &Forcing,
        t: NaiveDateTime,
        dt: f64,
    ) -> Result<landcycle::lsm::StepOutput, LsmError> {
        self.inner.step(p, st, f, t, dt)
    }
    fn step_members(
        &self,
        p: &Self::CellParams,
        states: &mut [BucketState],
        fs: &[Forcing],
        t: NaiveDateTime,
        dt: f64,
        out: &mut [landcycle::lsm::StepOutput],
    ) -> Result<(), landcycle::lsm::MemberError> {
        let n = states.len();
        let n = if self.fault == Fault::StepMembersSkipsOne {
            n - 1
        } else {
            n
        };
        self.inner
            .step_members(p, &mut states[..n], &fs[..n], t, dt, &mut out[..n])
    }
    fn soil_moisture(&self, st: &BucketState) -> Vec<f64> {
        self.inner.soil_moisture(st)
    }
    fn soil_temperature(&self, st: &BucketState) -> Vec<f64> {
        self.inner.soil_temperature(st)
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
    fn apply_increment(&self, p: &Self::CellParams, st: &mut BucketState, inc: &[f64]) -> Vec<f64> {
        match self.fault {
            Fault::ReportsRequestedIncrement => {
                self.inner.apply_increment(p, st, inc);
                inc.to_vec()
            }
            Fault::NoLowerBound => {
                let before = st.soil_moisture.clone();
                for (t, i) in st.soil_moisture.iter_mut().zip(inc) {
                    *t = (*t + i).min(p.porosity);
                }
                st.soil_moisture
                    .iter()
                    .zip(before)
                    .map(|(a, b)| a - b)
                    .collect()
            }
            _ => self.inner.apply_increment(p, st, inc),
        }
    }
    fn soil_moisture_bounds(&self, p: &Self::CellParams) -> Vec<(f64, f64)> {
        self.inner.soil_moisture_bounds(p)
    }
    fn surface_weights(&self, depth_m: f64) -> Vec<f64> {
        let mut w = self.inner.surface_weights(depth_m);
        if self.fault == Fault::WeightsUnnormalised && depth_m > 5.0 {
            w.iter_mut().for_each(|x| *x *= 0.9);
        }
        w
    }
    fn qc_state(
        &self,
        p: &Self::CellParams,
        members: &[BucketState],
        t: NaiveDateTime,
    ) -> landcycle::lsm::QcState {
        let mut q = self.inner.qc_state(p, members, t);
        if self.fault == Fault::ShortQcView {
            q.frozen.pop();
        }
        q
    }
    fn surface_hydraulics(&self, p: &Self::CellParams) -> (f64, f64) {
        self.inner.surface_hydraulics(p)
    }
    fn restart_fields(&self) -> Vec<landcycle::lsm::FieldSpec> {
        self.inner.restart_fields()
    }
    fn pack_state(&self, st: &BucketState, out: &mut Vec<f64>) {
        let start = out.len();
        self.inner.pack_state(st, out);
        if self.fault == Fault::RestartRounds {
            out[start..].iter_mut().for_each(|v| *v = *v as f32 as f64);
        }
    }
    fn unpack_state(&self, data: &[f64]) -> Result<BucketState, LsmError> {
        self.inner.unpack_state(data)
    }
}

/// Each broken promise is reported, naming what broke; the intact bucket passes.
#[test]
fn conformance_check_notices_broken_promises() {
    let (inner, params, states) = bucket_case(&THREE);
    let forcing = varied_forcing();
    let faults = [
        (Fault::RestartRounds, "restart round trip"),
        (Fault::ReportsRequestedIncrement, "applied"),
        (Fault::NoLowerBound, "outside bounds"),
        (Fault::StepMembersSkipsOne, "step_members differs"),
        (Fault::WeightsUnnormalised, "surface_weights(10 m)"),
        (Fault::ShortQcView, "qc_state().frozen has 2 values"),
    ];
    for (fault, what) in faults {
        let m = Broken {
            inner: inner.clone(),
            fault,
        };
        let e = check_land_model(&m, &params, &states, &forcing, start(), DT)
            .expect_err(&format!("{fault:?} passed the check"));
        assert!(e.contains(what), "{fault:?}: {e}");
    }
    check_land_model(&inner, &params, &states, &forcing, start(), DT).unwrap();
    let e = check_land_model(&inner, &params, &states[..1], &forcing, start(), DT).unwrap_err();
    assert!(e.contains("one state per cell"), "{e}");
}
