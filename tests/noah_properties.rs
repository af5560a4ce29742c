//! Noah column properties under random physical forcing (snow, freezing, very dry and
//! saturated soils), the LandModel contract, and bad-input errors.
#![allow(clippy::needless_range_loop)]

use chrono::{Duration, NaiveDate, NaiveDateTime};
use landcycle::config::namelist;
use landcycle::lsm::noah::tables::{ParameterTables, SOIL_STATSGO, VEG_USGS};
use landcycle::lsm::noah::{NoahLsm, NoahParams, NoahState};
use landcycle::lsm::{CellStatics, Forcing, LandModel};
use landcycle::point::{self, PointCase, PointConfig, PointError};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;

fn model() -> NoahLsm {
    NoahLsm::new(ParameterTables::builtin(), SOIL_STATSGO, VEG_USGS)
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

/// Scenario of random but physical forcing.
#[derive(Clone, Copy)]
struct Scenario {
    name: &'static str,
    t_mean: f64,
    t_amp: f64,
    rain_prob: f64,
    rain_max: f64,
    rh: (f64, f64),
    sm0: f64,
    t0: f64,
}

/// Random weather with realistic persistence: a diurnal cycle plus a slowly wandering
/// synoptic anomaly (AR(1)), so consecutive half hours differ as observed ones do.
fn forcing(rng: &mut ChaCha8Rng, sc: &Scenario, k: usize, anomaly: &mut f64) -> Forcing {
    let hour = (k % 48) as f64 / 2.0;
    let diurnal = (std::f64::consts::PI * (hour - 9.0) / 12.0).sin();
    *anomaly = 0.98 * *anomaly + rng.random_range(-0.5..0.5);
    let t = sc.t_mean + sc.t_amp * diurnal + *anomaly;
    let p = rng.random_range(95000.0..102000.0);
    let rh: f64 = rng.random_range(sc.rh.0..sc.rh.1);
    let es = 611.2 * (17.67 * (t - 273.15) / (t - 29.65)).exp();
    let e = rh * es;
    let q = 0.622 * e / (p - 0.378 * e);
    let precip = if rng.random_range(0.0..1.0) < sc.rain_prob {
        rng.random_range(0.0..sc.rain_max)
    } else {
        0.0
    };
    Forcing {
        air_temperature: t,
        specific_humidity: q,
        surface_pressure: p,
        wind_speed: rng.random_range(0.5..10.0),
        precipitation: precip,
        frozen_precip_fraction: if t < 273.15 { 1.0 } else { 0.0 },
        shortwave_down: (800.0 * diurnal).max(0.0) * rng.random_range(0.3..1.0),
        longwave_down: 5.67e-8 * t.powi(4) * rng.random_range(0.65..0.95),
        forcing_height: 10.0,
    }
}

fn storage_kg(m: &NoahLsm, st: &NoahState) -> f64 {
    let th = m.soil_layer_thickness();
    let mut s = m.swe(st) + m.canopy_water(st);
    for (k, v) in m.soil_moisture(st).iter().enumerate() {
        s += v * th[k] * 1000.0;
    }
    s
}

struct RunSummary {
    max_water_residual: f64,
    energy_rms: f64,
    energy_rms_without_lw_linearisation: f64,
    max_swe: f64,
    min_smc: f64,
    max_smc: f64,
    frozen_steps: usize,
    final_state: NoahState,
}

fn run_scenario(sc: &Scenario, soil: i32, veg: i32, seed: u64, n: usize) -> RunSummary {
    let m = model();
    let p: NoahParams = m.cell_params(&statics(soil, veg)).unwrap();
    let mut st = m.cold_start(&p, &[sc.sm0; 4], sc.t0).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dt = 1800.0;
    let start = NaiveDate::from_ymd_opt(2001, 1, 10)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let mut s = RunSummary {
        max_water_residual: 0.0,
        energy_rms: 0.0,
        energy_rms_without_lw_linearisation: 0.0,
        max_swe: 0.0,
        min_smc: 1.0,
        max_smc: 0.0,
        frozen_steps: 0,
        final_state: st,
    };
    let mut eb = 0.0;
    let mut eb_lin = 0.0;
    let mut anomaly = 0.0;
    for k in 0..n {
        let f = forcing(&mut rng, sc, k, &mut anomaly);
        let t_end = start + Duration::seconds(((k + 1) as f64 * dt) as i64);
        let before = storage_kg(&m, &st);
        let d = m
            .step_detailed(&p, &mut st, &f, t_end, dt)
            .unwrap_or_else(|e| panic!("{}: step {k}: {e}", sc.name));
        let o = landcycle::lsm::noah::alma_output(&d, &st, dt);
        for v in [
            o.qh, o.qle, o.qg, o.qs, o.qsb, o.evap, o.swnet, o.lwnet, o.qsm, o.albedo,
        ] {
            assert!(v.is_finite(), "{}: non-finite output at step {k}", sc.name);
        }
        let after = storage_kg(&m, &st);
        let resid = (f.precipitation - o.evap - o.qs - o.qsb) * dt - (after - before);
        s.max_water_residual = s.max_water_residual.max(resid.abs());
        let t1 = st.skin_temperature;
        // The balance Noah solves: the CONFIG check plus the precipitation heat its
        // snow-surface solution carries implicitly (zero without snow or precipitation).
        let e = d.solnet + d.lwdn
            - d.emissivity * 5.67e-8 * t1.powi(4)
            - (d.sheat + d.eta - d.ssoil + d.flx1 + d.flx2 + d.flx3 + d.precip_heat_implicit);
        eb += e * e;
        // Noah linearises the emitted longwave about the air temperature; this is the
        // part of the residual that linearisation accounts for.
        let ta = f.air_temperature;
        let lin = d.emissivity * 5.67e-8 * (t1.powi(4) - ta.powi(4) - 4.0 * ta.powi(3) * (t1 - ta));
        let melting = d.flx3 > 0.0;
        let e2 = if melting { e } else { e + lin };
        eb_lin += e2 * e2;
        s.max_swe = s.max_swe.max(st.snow_water_equivalent);
        for k in 0..4 {
            let (smc, liq) = (st.soil_moisture[k], st.soil_liquid[k]);
            assert!(
                liq >= 0.0 && liq <= smc + 1e-12,
                "{}: liquid {liq} total {smc}",
                sc.name
            );
            assert!(
                smc <= p.smcmax + 1e-12 && smc >= 0.02 - 1e-12,
                "{}: smc {smc}",
                sc.name
            );
            s.min_smc = s.min_smc.min(smc);
            s.max_smc = s.max_smc.max(smc);
        }
        if st.soil_liquid[0] < st.soil_moisture[0] - 1e-6 {
            s.frozen_steps += 1;
        }
        assert!(st.snow_water_equivalent >= 0.0 && st.snow_depth >= 0.0);
        assert!(st.canopy_water >= 0.0 && st.canopy_water <= p.cmcmax + 1e-15);
    }
    s.energy_rms = (eb / n as f64).sqrt();
    s.energy_rms_without_lw_linearisation = (eb_lin / n as f64).sqrt();
    s.final_state = st;
    s
}

const SCENARIOS: [Scenario; 5] = [
    Scenario {
        name: "snowy winter",
        t_mean: 263.0,
        t_amp: 5.0,
        rain_prob: 0.12,
        rain_max: 4e-4,
        rh: (0.6, 1.0),
        sm0: 0.3,
        t0: 268.0,
    },
    Scenario {
        name: "freeze-thaw",
        t_mean: 273.5,
        t_amp: 8.0,
        rain_prob: 0.1,
        rain_max: 6e-4,
        rh: (0.5, 1.0),
        sm0: 0.35,
        t0: 274.0,
    },
    Scenario {
        name: "very dry",
        t_mean: 298.0,
        t_amp: 7.0,
        rain_prob: 0.0,
        rain_max: 0.0,
        rh: (0.1, 0.4),
        sm0: 0.05,
        t0: 300.0,
    },
    Scenario {
        name: "saturated",
        t_mean: 290.0,
        t_amp: 5.0,
        rain_prob: 0.6,
        rain_max: 1e-2,
        rh: (0.8, 1.0),
        sm0: 0.6,
        t0: 290.0,
    },
    Scenario {
        name: "spring melt",
        t_mean: 276.0,
        t_amp: 7.0,
        rain_prob: 0.12,
        rain_max: 1e-3,
        rh: (0.4, 1.0),
        sm0: 0.25,
        t0: 272.0,
    },
];

#[test]
fn random_physical_forcing_balances_and_bounds() {
    let classes = [(8, 7), (1, 2), (12, 11), (3, 14), (6, 10)];
    for (i, sc) in SCENARIOS.iter().enumerate() {
        for (j, &(soil, veg)) in classes.iter().enumerate() {
            let s = run_scenario(sc, soil, veg, 1000 + (i * 10 + j) as u64, 1500);
            println!(
                "{:>13} soil {soil:>2} veg {veg:>2}: water residual max {:.2e} kg m-2, energy RMS {:.3} W m-2 ({:.3} without the longwave linearisation), max SWE {:.4} m, smc {:.3}..{:.3}, frozen steps {}",
                sc.name, s.max_water_residual, s.energy_rms, s.energy_rms_without_lw_linearisation, s.max_swe, s.min_smc, s.max_smc, s.frozen_steps
            );
            assert!(
                s.max_water_residual < 1e-9,
                "{}: water residual {}",
                sc.name,
                s.max_water_residual
            );
            // Noah solves the surface balance with the emitted longwave linearised about the
            // air temperature. Where the skin is far from the air temperature (hot, bare,
            // dry soil) that linearisation alone leaves about 1 W m-2 RMS; the rest of the
            // balance must close.
            assert!(
                s.energy_rms_without_lw_linearisation <= 0.5,
                "{}: energy RMS {}",
                sc.name,
                s.energy_rms_without_lw_linearisation
            );
            if sc.name == "very dry" {
                assert!(
                    s.energy_rms <= 1.5,
                    "{}: energy RMS {}",
                    sc.name,
                    s.energy_rms
                );
            } else {
                assert!(
                    s.energy_rms <= 0.5,
                    "{}: energy RMS {}",
                    sc.name,
                    s.energy_rms
                );
            }
        }
    }
    // The scenarios exercise what they claim to.
    let snowy = run_scenario(&SCENARIOS[0], 8, 7, 1, 1500);
    assert!(snowy.max_swe > 0.01);
    assert!(snowy.frozen_steps > 0);
    let dry = run_scenario(&SCENARIOS[2], 1, 2, 2, 1500);
    assert!(dry.min_smc < 0.06);
    let wet = run_scenario(&SCENARIOS[3], 12, 11, 3, 1500);
    assert!(wet.max_smc > 0.46);
}

#[test]
fn deterministic_and_restart_round_trip() {
    let a = run_scenario(&SCENARIOS[1], 8, 7, 42, 400).final_state;
    let b = run_scenario(&SCENARIOS[1], 8, 7, 42, 400).final_state;
    assert_eq!(a, b);
    let m = model();
    let mut v = Vec::new();
    m.pack_state(&a, &mut v);
    let n: usize = m.restart_fields().iter().map(|f| f.len).sum();
    assert_eq!(v.len(), n);
    let back = m.unpack_state(&v).unwrap();
    assert_eq!(back, a);
    assert!(m.unpack_state(&v[1..]).is_err());
}

#[test]
fn increments_stay_in_bounds_and_keep_ice() {
    let m = model();
    let p = m.cell_params(&statics(8, 7)).unwrap();
    let mut st = m.cold_start(&p, &[0.3; 4], 265.0).unwrap();
    let ice0: Vec<f64> = (0..4)
        .map(|k| st.soil_moisture[k] - st.soil_liquid[k])
        .collect();
    assert!(ice0[0] > 0.0, "cold start below freezing has ice");
    let bounds = m.soil_moisture_bounds(&p);
    let (hi, lo) = (bounds[0].1, bounds[1].0);
    let applied = m.apply_increment(&p, &mut st, &[0.5, -0.5, 0.01, f64::NAN]);
    assert_eq!(st.soil_moisture[0], hi);
    assert_eq!(st.soil_moisture[1], lo);
    assert!((applied[2] - 0.01).abs() < 1e-15);
    assert_eq!(applied[3], 0.0);
    for k in 0..4 {
        assert!(st.soil_liquid[k] >= 0.0 && st.soil_liquid[k] <= st.soil_moisture[k]);
    }
    // Ice is unchanged where liquid could absorb the increment.
    assert!((st.soil_moisture[0] - st.soil_liquid[0] - ice0[0]).abs() < 1e-12);
    assert!((st.soil_moisture[2] - st.soil_liquid[2] - ice0[2]).abs() < 1e-12);
}

// ---------------------------------------------------------------- bad input

const NML: &str = "&NOAH_POINT
 forcing_file = \"forcing.txt\"
 output_file = \"out.csv\"
 startdate = \"199801010630\"
 enddate = \"199801010800\"
 forcing_timestep = 1800
 noahlsm_timestep = 1800
 soil_layer_thickness = 0.1, 0.3, 0.6, 1.0
 soil_temperature = 266.0995, 274.0445, 276.8954, 279.9152
 soil_moisture = 0.2981597, 0.2940254, 0.2713114, 0.3070948
 soil_liquid = 0.1611681, 0.2633106, 0.2713114, 0.3070948
 skin_temperature = 263.6909
 canopy_water = 3.9353027E-04
 snow_depth = 1.0600531E-03
 snow_equivalent = 2.0956997E-04
 deep_soil_temperature = 285.0
 landuse_dataset = \"USGS\"
 soil_dataset = \"STAS\"
 soil_type_index = 8
 vegetation_type_index = 7
 urban_veg_category = 1
 slope_type_index = 1
 max_snow_albedo = 0.75
 air_temperature_level = 6.0
 wind_level = 6.0
 green_vegetation_min = 0.01
 green_vegetation_max = 0.96
 usemonalb_nml = .false.
 rdlai2d_nml = .false.
 albedo_monthly = 0.18, 0.17, 0.16, 0.15, 0.15, 0.15, 0.15, 0.16, 0.16, 0.17, 0.17, 0.18
 shdfac_monthly = 0.01, 0.02, 0.07, 0.17, 0.27, 0.58, 0.93, 0.96, 0.65, 0.24, 0.11, 0.02
 lai_monthly = 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0
 z0brd_monthly = 0.020, 0.020, 0.025, 0.030, 0.035, 0.036, 0.035, 0.030, 0.027, 0.025, 0.020, 0.020
/
";

const FORCING: &str = "# test forcing
<Forcing>
1998 01 01 06 30     5.6300001144   178.0000000000   263.9499816895    86.0999984741  1002.0000000000     0.0000000000   281.0000000000     0.0000000000
1998 01 01 07 00     6.7399997711   178.0000000000   264.7500000000    84.6999969482  1001.0000000000     0.0000000000   282.0000000000     0.0000000000
1998 01 01 07 30     6.2600002289   180.0000000000   265.1499938965    84.6999969482  1001.0000000000     0.0000000000   241.0000000000     0.0000000000
1998 01 01 08 00     6.2600002289   180.0000000000   265.1499938965    84.6999969482  1001.0000000000     0.0000000000   241.0000000000     0.0000000000
";

fn config(edit: impl Fn(&mut PointConfig)) -> PointConfig {
    let nml = namelist::parse_str(NML, Path::new("test.nml")).unwrap();
    let mut c: PointConfig = nml.deserialize_group("noah_point").unwrap();
    edit(&mut c);
    c
}

fn run_with_forcing(text: &str) -> Result<usize, PointError> {
    let case = PointCase::from_config(config(|_| {}), Path::new("."))?;
    let recs = point::parse_forcing(text, "forcing.txt")?;
    let mut n = 0;
    point::run_records(&case, &recs, |_| n += 1)?;
    Ok(n)
}

fn replace_value(line: usize, field: usize, value: &str) -> String {
    let mut lines: Vec<String> = FORCING.lines().map(String::from).collect();
    let mut tok: Vec<String> = lines[line].split_whitespace().map(String::from).collect();
    tok[field] = value.to_string();
    lines[line] = tok.join(" ");
    lines.join("\n")
}

#[test]
fn good_forcing_runs_three_steps() {
    assert_eq!(run_with_forcing(FORCING).unwrap(), 3);
}

#[test]
fn bad_forcing_errors_name_step_time_and_variable() {
    // NaN air temperature in the second record (line index 3 of the text).
    let e = run_with_forcing(&replace_value(3, 7, "NaN"))
        .unwrap_err()
        .to_string();
    println!("{e}");
    assert!(
        e.contains("step 2") && e.contains("1998-01-01 07:00") && e.contains("air temperature"),
        "{e}"
    );
    let e = run_with_forcing(&replace_value(4, 12, "-1.0E-4"))
        .unwrap_err()
        .to_string();
    println!("{e}");
    assert!(
        e.contains("step 3") && e.contains("07:30") && e.contains("negative precipitation"),
        "{e}"
    );
    let e = run_with_forcing(&replace_value(2, 8, "115.0"))
        .unwrap_err()
        .to_string();
    println!("{e}");
    assert!(
        e.contains("step 1") && e.contains("06:30") && e.contains("relative humidity"),
        "{e}"
    );
    // A missing record (gap) is named by step and time.
    let gap: String = FORCING
        .lines()
        .filter(|l| !l.contains(" 07 00 "))
        .collect::<Vec<_>>()
        .join("\n");
    let e = run_with_forcing(&gap).unwrap_err().to_string();
    println!("{e}");
    assert!(
        e.contains("step 2") && e.contains("07:00") && e.contains("no forcing record"),
        "{e}"
    );
    // A malformed line names file and line.
    let e = run_with_forcing(&replace_value(3, 9, "abc"))
        .unwrap_err()
        .to_string();
    println!("{e}");
    assert!(e.contains("forcing.txt:4") && e.contains("pressure"), "{e}");
}

#[test]
fn bad_configuration_errors() {
    let e = PointCase::from_config(config(|c| c.soil_type_index = 42), Path::new("."))
        .unwrap_err()
        .to_string();
    println!("{e}");
    assert!(e.contains("soil") && e.contains("42"), "{e}");
    let e = PointCase::from_config(config(|c| c.vegetation_type_index = 0), Path::new("."))
        .unwrap_err()
        .to_string();
    println!("{e}");
    assert!(e.contains("vegetation") && e.contains('0'), "{e}");
    let e = PointCase::from_config(config(|c| c.soil_liquid[1] = 0.35), Path::new("."))
        .unwrap_err()
        .to_string();
    println!("{e}");
    assert!(e.contains("soil_liquid") && e.contains("layer 2"), "{e}");
    let e = PointCase::from_config(
        config(|c| {
            c.soil_moisture[3] = 0.5;
        }),
        Path::new("."),
    )
    .unwrap_err()
    .to_string();
    println!("{e}");
    assert!(e.contains("porosity") && e.contains("layer 4"), "{e}");
    let e = PointCase::from_config(
        config(|c| c.soil_layer_thickness.pop().map(|_| ()).unwrap()),
        Path::new("."),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("soil_layer_thickness"), "{e}");
    // Unknown namelist key: file, line and column from the namelist reader.
    let text = NML.replace(" wind_level", " wind_levl");
    let nml = namelist::parse_str(&text, Path::new("case.nml")).unwrap();
    let e = nml
        .deserialize_group::<PointConfig>("noah_point")
        .unwrap_err()
        .to_string();
    println!("{e}");
    assert!(e.contains("case.nml:") && e.contains("wind_levl"), "{e}");
}

#[test]
fn land_model_step_rejects_bad_forcing_and_state() {
    let m = model();
    let p = m.cell_params(&statics(8, 7)).unwrap();
    let mut st = m.cold_start(&p, &[0.3; 4], 280.0).unwrap();
    let t: NaiveDateTime = NaiveDate::from_ymd_opt(2001, 5, 1)
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap();
    let good = Forcing {
        air_temperature: 285.0,
        specific_humidity: 0.006,
        surface_pressure: 1.0e5,
        wind_speed: 3.0,
        precipitation: 0.0,
        frozen_precip_fraction: 0.0,
        shortwave_down: 500.0,
        longwave_down: 330.0,
        forcing_height: 10.0,
    };
    assert!(m.step(&p, &mut st, &good, t, 1800.0).is_ok());
    let bad = Forcing {
        longwave_down: f64::NAN,
        ..good
    };
    let e = m
        .step(&p, &mut st, &bad, t, 1800.0)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("longwave_down") && e.contains("2001-05-01 12:00"),
        "{e}"
    );
    let bad = Forcing {
        precipitation: -1e-5,
        ..good
    };
    let e = m
        .step(&p, &mut st, &bad, t, 1800.0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("precipitation"), "{e}");
    let mut broken = st;
    broken.soil_liquid[0] = broken.soil_moisture[0] + 0.1;
    let e = m
        .step(&p, &mut broken, &good, t, 1800.0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("soil_liquid") && e.contains("layer 1"), "{e}");
    let e = m.cell_params(&statics(8, 99)).unwrap_err().to_string();
    assert!(e.contains("vegetation") && e.contains("99"), "{e}");
}

// ---------------------------------------------------------------- processes

#[test]
fn tridiagonal_solver_matches_direct_solution() {
    use landcycle::lsm::noah::tridiag::solve;
    let a = [0.0, -1.0, -0.5, -2.0];
    let b = [4.0, 5.0, 3.0, 6.0];
    let c = [-1.0, -2.0, -0.5, 0.0];
    let x = [1.0, -2.0, 0.5, 3.0];
    let mut d = [0.0; 4];
    for k in 0..4 {
        d[k] = b[k] * x[k];
        if k > 0 {
            d[k] += a[k] * x[k - 1];
        }
        if k < 3 {
            d[k] += c[k] * x[k + 1];
        }
    }
    let y = solve(&a, &b, &c, &d);
    for k in 0..4 {
        assert!((y[k] - x[k]).abs() < 1e-14);
    }
}

#[test]
fn supercooled_water_decreases_with_temperature() {
    use landcycle::lsm::noah::frozen_soil::supercooled_liquid;
    let m = model();
    let p = m.cell_params(&statics(8, 7)).unwrap();
    assert_eq!(supercooled_liquid(&p, 274.0, 0.3, 0.3), 0.3);
    let mut last = 0.3;
    for t in [272.9, 272.0, 270.0, 265.0, 255.0] {
        let l = supercooled_liquid(&p, t, 0.3, 0.3);
        assert!(l < last && l >= 0.02, "T {t}: {l}");
        last = l;
    }
}

#[test]
fn neutral_surface_layer_matches_log_law() {
    use landcycle::lsm::noah::surface_layer::{exchange_coefficients, Exchange};
    // Equal temperatures: neutral, CM -> (k / ln(z/z0))^2 U after the iterations.
    let (z, z0, u) = (10.0, 0.1, 5.0);
    let mut ex = Exchange { cm: 1e-4, ch: 1e-4 };
    for _ in 0..20 {
        ex = exchange_coefficients(z, z0, 290.0, 290.0, u, 0.1, ex);
    }
    let expect = (0.4f64 / ((z + z0) / z0).ln()).powi(2) * u;
    assert!(
        (ex.cm - expect).abs() / expect < 1e-3,
        "{} vs {expect}",
        ex.cm
    );
    // Unstable (warm surface) exchanges more than stable (cold surface).
    let unstable = exchange_coefficients(z, z0, 300.0, 290.0, 2.0, 0.1, ex);
    let stable = exchange_coefficients(z, z0, 285.0, 290.0, 2.0, 0.1, ex);
    assert!(unstable.ch > stable.ch);
}

#[test]
fn snow_cover_and_albedo_behave() {
    use landcycle::lsm::noah::snow::{cover_fraction, surface_albedo};
    assert_eq!(cover_fraction(0.05, 0.04, 2.6), 1.0);
    assert!(cover_fraction(0.01, 0.04, 2.6) < cover_fraction(0.02, 0.04, 2.6));
    let fresh = surface_albedo(0.2, 0.75, 0.92, 0.9, 1800.0, true, 5e5, 0.5);
    let old = surface_albedo(0.2, 0.75, 0.92, 0.9, 1800.0, false, 5e5, 0.5);
    assert_eq!(fresh.snow_age, 0.0);
    assert!(old.albedo < fresh.albedo && old.albedo > 0.2);
    assert!((fresh.emissivity - (0.92 + 0.9 * (0.95 - 0.92))).abs() < 1e-12);
}

/// Every soil and vegetation class, forcing drawn from the whole accepted range (calm to
/// stormy, 220–330 K, dry to saturated air, heavy rain and snow): never an error, never NaN.
#[test]
fn all_classes_extreme_forcing_never_nan() {
    let m = model();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let start = NaiveDate::from_ymd_opt(2003, 3, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let mut ran = 0;
    for veg in 1..=27 {
        for soil in 1..=19 {
            let p = match m.cell_params(&statics(soil, veg)) {
                Ok(p) => p,
                Err(e) => {
                    // Water and similar classes have no roots: a clear error, not a panic.
                    assert!(e.to_string().contains("root"), "{e}");
                    continue;
                }
            };
            let t0 = rng.random_range(230.0..310.0);
            let sm = rng.random_range(0.0..0.6);
            let mut st = m.cold_start(&p, &[sm; 4], t0).unwrap();
            let mut t: f64 = t0;
            for k in 0..120 {
                t = (t + rng.random_range(-3.0..3.0)).clamp(220.0, 330.0);
                let ps: f64 = rng.random_range(50000.0..105000.0);
                let es = 611.2 * (17.67 * (t - 273.15) / (t - 29.65)).exp();
                let e = rng.random_range(0.0..1.0) * es;
                let prcp = if rng.random_range(0.0..1.0) < 0.2 {
                    rng.random_range(0.0..0.02)
                } else {
                    0.0
                };
                let f = Forcing {
                    air_temperature: t,
                    specific_humidity: (0.622 * e / (ps - 0.378 * e)).clamp(1e-6, 0.05),
                    surface_pressure: ps,
                    wind_speed: rng.random_range(0.0..30.0),
                    precipitation: prcp,
                    frozen_precip_fraction: if t < 273.15 { 1.0 } else { 0.0 },
                    shortwave_down: rng.random_range(0.0..1100.0),
                    longwave_down: rng.random_range(100.0..500.0),
                    forcing_height: 10.0,
                };
                let te = start + Duration::seconds((k + 1) * 1800);
                let o = m
                    .step(&p, &mut st, &f, te, 1800.0)
                    .unwrap_or_else(|e| panic!("soil {soil} veg {veg} step {k}: {e}"));
                assert!(o.qh.is_finite() && o.qle.is_finite() && o.qg.is_finite());
                assert!(st.skin_temperature.is_finite());
            }
            ran += 1;
        }
    }
    assert!(ran > 400, "{ran} class pairs ran");
}

#[test]
fn fortran_style_numbers() {
    assert_eq!(point::fortran_e(265.000793, 8), "2.65000793E+02");
    assert_eq!(point::fortran_e(4.42437857e-11, 8), "4.42437857E-11");
    assert_eq!(point::fortran_e(0.0, 8), "0.00000000E+00");
    assert_eq!(point::fortran_e(-26.5, 3), "-2.650E+01");
}
