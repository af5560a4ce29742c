//! CoLM behind `LandModel` beyond the generic conformance suite: observation weights of SMAP
//! and ASCAT on CoLM's layers, water closure of every member and step on the ensemble path
//! (`step_members` with perturbed forcing through snow, freezing and storms), restarts in the
//! middle of a layered snowpack continuing bit for bit, the cold start finished at the first
//! step as the point driver's, increments on liquid water only, the QC view, and errors for
//! cells and setups CoLM cannot run.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use landcycle::lsm::colm::column_step::{self, initial_state, Clock};
use landcycle::lsm::colm::land_model::pot_evap::potential_evaporation;
use landcycle::lsm::colm::land_model::step::{calday, column, new_day, StepSetup};
use landcycle::lsm::colm::pedotransfer::soil_params_from_texture;
use landcycle::lsm::colm::saturation::saturation;
use landcycle::lsm::colm::soil_class_texture::texture_of_soil_class;
use landcycle::lsm::colm::surface_layer::SurfaceLayerState;
use landcycle::lsm::colm::{ColmLsm, ColmState, SoilGeometry};
use landcycle::lsm::{BuildModel, CellStatics, Forcing, LandModel, ModelSetup, StepOutput};

const DT: f64 = 1800.0;

fn start() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2020, 1, 10)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
}

fn statics(soil: i32, veg: i32) -> CellStatics {
    CellStatics {
        latitude: 45.0,
        longitude: -93.0,
        soil_class: soil,
        vegetation_class: veg,
        slope_class: 1,
        green_fraction_monthly: [0.3; 12],
        albedo_monthly: [0.18; 12],
        deep_soil_temperature: 280.0,
        elevation: 300.0,
        max_snow_albedo: 0.75,
        soil_texture: None,
    }
}

/// Deterministic weather of step `k`: a diurnal cycle around `t_mean`, a storm every 11th
/// hour-pair, humid air.
fn weather(k: usize, t_mean: f64) -> Forcing {
    let hour = (k % 48) as f64 / 2.0;
    let d = (std::f64::consts::PI * (hour - 9.0) / 12.0).sin();
    let t = t_mean + 5.0 * d + 2.0 * ((k as f64) * 0.37).sin();
    let es = 611.2 * (17.67 * (t - 273.15) / (t - 29.65)).exp();
    let e = 0.7 * es;
    Forcing {
        air_temperature: t,
        specific_humidity: 0.622 * e / (97000.0 - 0.378 * e),
        surface_pressure: 97000.0,
        wind_speed: 3.0 + 2.0 * ((k as f64) * 0.11).cos().abs(),
        precipitation: if k % 22 < 4 { 2.5e-3 } else { 0.0 },
        frozen_precip_fraction: 0.0,
        shortwave_down: (700.0 * d).max(0.0),
        longwave_down: 5.67e-8 * t.powi(4) * 0.8,
        forcing_height: 10.0,
    }
}

/// Member m's forcing: the ensemble's perturbations in kind (rain, light, temperature).
fn member(f: &Forcing, m: usize) -> Forcing {
    let m = m as f64;
    Forcing {
        precipitation: f.precipitation * (0.5 + 0.1 * m),
        shortwave_down: f.shortwave_down * (1.1 - 0.02 * m),
        air_temperature: f.air_temperature + 0.3 * (m - 10.0),
        ..*f
    }
}

#[test]
fn smap_and_ascat_weights_span_the_top_layers() {
    let m = ColmLsm::default();
    let smap = m.surface_weights(0.05);
    let ascat = m.surface_weights(0.02);
    let near = |w: &[f64], want: &[f64]| {
        w.iter()
            .zip(want.iter().chain(std::iter::repeat(&0.0)))
            .all(|(a, b)| (a - b).abs() < 5e-4)
    };
    assert!(near(&smap, &[0.350, 0.552, 0.098]), "{smap:?}");
    assert!(near(&ascat, &[0.876, 0.124]), "{ascat:?}");
    assert_eq!(m.n_soil_layers(), 10);
}

/// Twenty members over 12 days (cold, snowy, thawing, stormy) on four cells: every member's
/// column + aquifer water changes by exactly (P − E − Qs − Qsb) Δt each step; the model's
/// own energy and water checks (1e-6 W m-2, 1e-9 mm s-1) pass on every step.
#[test]
fn every_member_closes_its_water_balance_on_the_ensemble_path() {
    let m = ColmLsm::default();
    let (mut worst, mut layered) = (0.0f64, 0usize);
    for (soil, veg) in [(8, 2), (1, 7), (12, 14), (4, 11)] {
        let p = m.cell_params(&statics(soil, veg)).unwrap();
        let sm = [0.3; 10];
        let mut states = vec![m.cold_start(&p, &sm, 276.0).unwrap(); 20];
        let mut out = vec![StepOutput::default(); 20];
        for k in 0..12 * 48 {
            let t_mean = if k < 6 * 48 { 265.0 } else { 283.0 };
            let base = weather(k, t_mean);
            let fs: Vec<Forcing> = (0..20).map(|i| member(&base, i)).collect();
            let before: Vec<f64> = states.iter().map(|s| s.total_water()).collect();
            let end = start() + Duration::minutes(30 * (k as i64 + 1));
            m.step_members(&p, &mut states, &fs, end, DT, &mut out)
                .unwrap_or_else(|e| panic!("cell ({soil}, {veg}) step {k}: {e}"));
            for i in 0..20 {
                let o = &out[i];
                let change = (states[i].total_water() - before[i]) / DT;
                let net = fs[i].precipitation - o.evap - o.qs - o.qsb;
                worst = worst.max((change - net).abs());
                layered += usize::from(states[i].column.layers.nsnow > 0);
            }
        }
    }
    eprintln!("worst water residual {worst:e} mm s-1; {layered} member-steps with snow layers");
    assert!(worst < 1e-9, "water residual {worst:e} mm s-1");
    assert!(
        layered > 1000,
        "only {layered} member-steps had snow layers"
    );
}

/// PotEvap is the bulk formula λ ρ_a (q_sat(T_g) − q_a) k u*/f_q (L_s below freezing), and on
/// a barren column, where the actual evaporation is the same formula with the soil's
/// humidity, it bounds the latent heat flux; on grass it is finite and positive on average.
#[test]
fn potevap_is_the_bulk_potential_evaporation() {
    let layer = SurfaceLayerState {
        ustar: 0.3,
        fq: 10.0,
        ..Default::default()
    };
    let qs = saturation(300.0, 1.0e5).qs;
    assert!((qs - 0.0222).abs() < 5e-4, "q_sat {qs}");
    let pe = potential_evaporation(300.0, 1.0e5, 1.16, 0.010, &layer);
    assert_eq!(pe, 2.5104e6 * 1.16 * (qs - 0.010) * 0.4 * 0.3 / 10.0);
    let qi = saturation(260.0, 1.0e5).qs;
    let frost = potential_evaporation(260.0, 1.0e5, 1.3, qi + 1e-3, &layer);
    let expect = 2.8440e6 * 1.3 * -1e-3 * 0.4 * 0.3 / 10.0;
    assert!((frost / expect - 1.0).abs() < 1e-9, "{frost} vs {expect}");
    let calm = SurfaceLayerState::default();
    assert_eq!(potential_evaporation(300.0, 1.0e5, 1.2, 0.01, &calm), 0.0);

    let m = ColmLsm::default();
    for (soil, veg) in [(1, 19), (6, 7)] {
        let p = m.cell_params(&statics(soil, veg)).unwrap();
        let mut st = m.cold_start(&p, &[0.25; 10], 290.0).unwrap();
        let (mut pe, mut le, n) = (0.0, 0.0, 4 * 48);
        for k in 0..n {
            let end = start() + Duration::minutes(30 * (k as i64 + 1));
            let o = m.step(&p, &mut st, &weather(k, 295.0), end, DT).unwrap();
            assert!(o.potevap.is_finite(), "step {k}: {}", o.potevap);
            pe += o.potevap / n as f64;
            le += o.qle / n as f64;
        }
        eprintln!("soil {soil}, USGS {veg}: mean PotEvap {pe:.1}, Qle {le:.1} W m-2");
        assert!(pe > 20.0 && le > 0.0, "{pe} {le}");
        if veg == 19 {
            assert!(pe > le, "barren: PotEvap {pe} < Qle {le}");
        }
    }
}

/// A restart in the middle of a layered snowpack: the unpacked state continues bit for bit.
#[test]
fn restart_inside_a_snowpack_continues_bit_for_bit() {
    let m = ColmLsm::default();
    let p = m.cell_params(&statics(6, 7)).unwrap();
    let mut a = m.cold_start(&p, &[0.3; 10], 272.0).unwrap();
    let end = |k: usize| start() + Duration::minutes(30 * (k as i64 + 1));
    for k in 0..4 * 48 {
        m.step(&p, &mut a, &weather(k, 266.0), end(k), DT).unwrap();
    }
    assert!(
        a.column.layers.nsnow >= 2,
        "{} snow layers",
        a.column.layers.nsnow
    );
    let mut packed = Vec::new();
    m.pack_state(&a, &mut packed);
    let mut b = m.unpack_state(&packed).unwrap();
    assert_eq!(a, b);
    for k in 4 * 48..8 * 48 {
        let f = weather(k, 272.0);
        let oa = m.step(&p, &mut a, &f, end(k), DT).unwrap();
        let ob = m.step(&p, &mut b, &f, end(k), DT).unwrap();
        assert_eq!(oa, ob, "step {k}");
    }
    let (mut pa, mut pb) = (Vec::new(), Vec::new());
    m.pack_state(&a, &mut pa);
    m.pack_state(&b, &mut pb);
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&pa), bits(&pb));
    assert!(m.unpack_state(&pa[..pa.len() - 1]).is_err());
    let mut bad = pa.clone();
    bad[6 * 15 + 1] = 2.5; // the snow-layer count
    assert!(m.unpack_state(&bad).is_err());
}

/// The first step of a cold start equals the point driver's: `initial_state` at the step's
/// start from the same soil, then `column_step::step`.
#[test]
fn cold_start_is_finished_at_the_first_step_as_the_point_driver_does() {
    let m = ColmLsm::default();
    let p = m.cell_params(&statics(8, 2)).unwrap();
    let st = m.cold_start(&p, &[0.31; 10], 285.0).unwrap();
    assert!(st.fresh);
    let f = weather(20, 290.0);
    let t0 = start() + Duration::hours(10);
    let mut a = st;
    let oa = m
        .step(&p, &mut a, &f, t0 + Duration::minutes(30), DT)
        .unwrap();
    assert!(!a.fresh);
    let setup = StepSetup {
        geometry: &m.geometry,
        tun: &m.tun,
        default_height: 10.0,
        co2: landcycle::lsm::colm::land_model::CO2,
    };
    let col = column(&p, &setup, 10.0);
    let l = &st.column.layers;
    let soil = |v: &[f64; 15]| -> [f64; 10] { std::array::from_fn(|j| v[5 + j]) };
    let c = &st.column;
    let mut b = initial_state(
        &col,
        (&soil(&l.t), &soil(&l.wliq), &soil(&l.wice)),
        (0.0, 0.0, 0.0, c.zwt, c.wa),
        calday(t0),
    )
    .unwrap();
    assert!(
        (b.coszen - (c.coszen)).abs() > 1e-6,
        "the stand-in zenith was the real one"
    );
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
        calday_end: calday(t0 + Duration::minutes(30)),
        dolai: new_day(t0, DT),
    };
    let ob = column_step::step(&mut b, &col, &cf, &clk, DT).unwrap();
    assert_eq!(a.column, b);
    assert_eq!(oa.qh, ob.energy.fsena);
    assert_eq!(oa.qle, ob.energy.lfevpa);
    // The calendar: midnight is second 86400 of the day that ends; phenology is daily.
    assert_eq!(calday(start()), 9.0 + 1.0);
    assert!(new_day(start(), DT) && !new_day(start() + Duration::minutes(30), DT));
}

/// Increments go to liquid water; ice is never changed; the liquid never fills the pores
/// beyond θ_sat; a zero increment leaves a layer alone; the QC view shows the ice.
#[test]
fn increments_move_liquid_water_only() {
    let m = ColmLsm::default();
    let g = SoilGeometry::standard();
    let p = m.cell_params(&statics(8, 2)).unwrap();
    let mut s: ColmState = m.cold_start(&p, &[0.3; 10], 285.0).unwrap();
    // Layer 1 half frozen, layer 2 frozen solid.
    s.column.layers.wice[5] = 0.15 * 917.0 * g.dz[0];
    s.column.layers.wliq[5] = 0.15 * 1000.0 * g.dz[0];
    s.column.layers.wice[6] = 0.3 * 917.0 * g.dz[1];
    s.column.layers.wliq[6] = 0.0;
    let ice_before = s.column.layers.wice;
    let applied = m.apply_increment(
        &p,
        &mut s,
        &[0.5, -0.1, 0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.5],
    );
    assert_eq!(s.column.layers.wice, ice_before);
    let sm = m.soil_moisture(&s);
    let liq = m.soil_liquid(&s);
    // Layer 1: liquid up to θ_sat − θ_ice.
    assert!(
        (liq[0] - (p.soil.porsl[0] - 0.15)).abs() < 1e-12,
        "{}",
        liq[0]
    );
    assert!((sm[0] - p.soil.porsl[0]).abs() < 1e-12);
    // Layer 2: frozen solid at 0.3 > lower bound, nothing to take.
    assert_eq!(applied[1], 0.0);
    assert!((applied[2] - 0.05).abs() < 1e-12 && applied[3] == 0.0);
    // Layer 10: down to its lower bound (half the wilting point).
    assert!((sm[9] - p.bounds[9].0).abs() < 1e-12 && sm[9] >= p.bounds[9].0);
    let qc = m.qc_state(&p, &[s, s], start());
    assert!((qc.frozen[0] - 0.15).abs() < 1e-12 && (qc.frozen[1] - 0.3).abs() < 1e-12);
    assert_eq!(qc.frozen[3], 0.0);
    assert!(!qc.is_forest && qc.swe == 0.0);
}

#[test]
fn cells_and_setups_colm_cannot_run_are_errors() {
    let m = ColmLsm::default();
    for (soil, veg) in [(14, 2), (8, 16), (0, 2), (8, 25), (17, 2)] {
        assert!(
            m.cell_params(&statics(soil, veg)).is_err(),
            "({soil}, {veg})"
        );
    }
    let setup = ModelSetup {
        soil_dataset: "STAS",
        vegetation_dataset: "USGS",
        parameter_tables: None,
        layer_thickness: None,
    };
    assert!(ColmLsm::build(&setup).is_ok());
    let modis = ModelSetup {
        vegetation_dataset: "MODIFIED_IGBP_MODIS_NOAH",
        ..setup
    };
    let e = ColmLsm::build(&modis).unwrap_err().to_string();
    assert!(e.contains("USGS"), "{e}");
    let dz = [0.1, 0.2];
    assert!(ColmLsm::build(&ModelSetup {
        layer_thickness: Some(&dz),
        ..setup
    })
    .is_err());
    // Silty clay loam dryland cropland: the class centroid (10 %, 33.5 %) through CoLM2014's
    // rules lands near the Bondville listing (10 %, 34 %: θ_sat 0.4687, B 8.362), soil colour 3.
    let p = m.cell_params(&statics(8, 2)).unwrap();
    let t = texture_of_soil_class(8).unwrap();
    let direct = soil_params_from_texture(&[t; 8], &SoilGeometry::standard()).unwrap();
    assert_eq!(p.soil, direct);
    assert!(
        (p.soil.porsl[0] / 0.4687 - 1.0).abs() < 0.02,
        "{}",
        p.soil.porsl[0]
    );
    assert!(
        (p.soil.bsw[0] / 8.362 - 1.0).abs() < 0.03,
        "{}",
        p.soil.bsw[0]
    );
    assert_eq!(
        (p.soil_albedo.sat, p.soil_albedo.dry),
        ([0.22, 0.44], [0.33, 0.55])
    );
    let rs: f64 = p.rootfr.iter().sum();
    assert!((rs - 1.0).abs() < 1e-12);
}
