//! A CoLM OSSE on a small synthetic case: a CoLM nature run (the same model with its own
//! seed, biased forcing and a drier start), SMAP and ASCAT simulated from it over each
//! sensor's sensing depth, then a CoLM open loop and a CoLM SMAP+ASCAT run verified against
//! it. The assimilation must lower the surface layer's RMSE clearly.

mod common;

use std::path::{Path, PathBuf};

use landcycle::config::Config;
use landcycle::cycle::RunOptions;
use landcycle::parallel::SingleProcess;
use landcycle::synth::osse::{run_truth, simulate_observations, OsseConfig, TruthSeries};
use landcycle::verify::verify_dirs;

/// CoLM's 10-layer keys as `namelists/demo_colm.nml` gives them (Noah's demo values at the
/// nodes' depths).
const RUN_COLM: &str = "
  model = 'colm'
  cold_start_soil_moisture = 3*0.30, 3*0.30, 0.28, 3*0.28
  cold_start_soil_moisture_std = 3*0.06, 3*0.05, 0.03, 3*0.02
  cold_start_temperature = 290.0
";

const PERTURBATION: &str = "&perturbation
  interval_seconds = 10800
  forcing_vars  = 'swdown', 'lwdown', 'rainf'
  forcing_types = 'multiplicative', 'additive', 'multiplicative'
  forcing_std   = 0.3, 50.0, 0.5
  forcing_tau_hours = 3*24.0
  forcing_corr  = 1.0, -0.5, -0.8, -0.5, 1.0, 0.5, -0.8, 0.5, 1.0
  state_std = 3*0.01, 3*0.006, 0.003, 3*0.0015
  state_corr = 1.00, 0.96, 0.90, 0.80, 0.66, 0.49, 0.29, 0.13, 0.03, 0.00,
               0.96, 1.00, 0.93, 0.83, 0.69, 0.51, 0.31, 0.13, 0.03, 0.00,
               0.90, 0.93, 1.00, 0.89, 0.74, 0.54, 0.33, 0.14, 0.04, 0.00,
               0.80, 0.83, 0.89, 1.00, 0.83, 0.61, 0.37, 0.16, 0.04, 0.00,
               0.66, 0.69, 0.74, 0.83, 1.00, 0.74, 0.44, 0.19, 0.05, 0.00,
               0.49, 0.51, 0.54, 0.61, 0.74, 1.00, 0.60, 0.26, 0.07, 0.01,
               0.29, 0.31, 0.33, 0.37, 0.44, 0.60, 1.00, 0.43, 0.11, 0.01,
               0.13, 0.13, 0.14, 0.16, 0.19, 0.26, 0.43, 1.00, 0.25, 0.03,
               0.03, 0.03, 0.04, 0.04, 0.05, 0.07, 0.11, 0.25, 1.00, 0.10,
               0.00, 0.00, 0.00, 0.00, 0.00, 0.01, 0.01, 0.03, 0.10, 1.00
/
";

/// The small synthetic case of tests/common as a CoLM case with an `&osse` group. ASCAT is
/// simulated without its systematic error here (scale 1, offset 0), so no CDF climatology is
/// needed; the demo's ASCAT keeps it and is CDF-matched.
fn colm_case(dir: &Path, end: &str, members: usize) -> PathBuf {
    let nml = common::write_namelist(dir, 12, 10, members, end);
    let text = std::fs::read_to_string(&nml).unwrap();
    let text = text
        .replace(
            "  cold_start_soil_moisture = 0.30, 0.30, 0.28, 0.28\n  cold_start_soil_moisture_std = 0.05, 0.04, 0.03, 0.02\n  cold_start_temperature = 290.0\n",
            RUN_COLM,
        )
        .replace("&perturbation\n  interval_seconds = 3600\n/\n", PERTURBATION)
        + "&osse
  truth_seed = 99
  truth_cold_start_soil_moisture = 3*0.20, 3*0.22, 0.24, 3*0.26
  ascat_scale = 1.0
  ascat_offset = 0.0
/
";
    assert!(text.contains("model = 'colm'") && text.contains("state_corr"));
    std::fs::write(&nml, text).unwrap();
    common::synth(&nml);
    nml
}

/// The case's namelist with an `&da` group for SMAP and ASCAT.
fn with_da(nml: &Path, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(nml).unwrap()
        + "&da
  enabled = .true.
  sensors = 'smap', 'ascat'
  smap_directory  = 'osse/obs/smap'
  ascat_directory = 'osse/obs/ascat'
  smap_error_sd   = 0.04
  ascat_error_sd  = 5.0
  smap_footprint_km = 18.0
/
";
    let p = dir.join("da.nml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn colm_smap_ascat_lowers_the_surface_rmse_against_a_colm_nature_run() {
    let clock = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let nml = colm_case(dir.path(), "2020-06-04_00:00:00", 8);
    let cfg = Config::load(&nml).unwrap();
    let osse = OsseConfig::from_config(&cfg).unwrap();
    run_truth(&cfg, &osse, &SingleProcess, &RunOptions::default()).unwrap();
    let obs = simulate_observations(&cfg, &osse).unwrap();
    assert!(obs.smap_retrievals > 0 && obs.ascat_values > 0, "{obs:?}");

    // The nature run is CoLM's: 10 layers; SMAP sees its top 5 cm, not its top layer.
    let series = TruthSeries::read(&osse.run_dir()).unwrap();
    assert_eq!(series.layer_bounds.len(), 10);
    let smap = series.at_sensing_depth(0.05);
    let (t, c) = (series.times.len() - 1, 0);
    let l = &series.soil_moisture_layers[t];
    let expect = 0.35 * l[0][c] + 0.552 * l[1][c] + 0.098 * l[2][c];
    assert!(
        (smap.soil_moisture[t][c] - expect).abs() < 2e-3 * expect,
        "{expect}"
    );
    assert_eq!(series.soil_moisture[t][c], l[0][c]);

    let ol = dir.path().join("openloop");
    common::run_ok(&nml, 0, &ol, &[]);
    let da = dir.path().join("da");
    common::run_ok(&with_da(&nml, dir.path()), 0, &da, &[]);
    let r_ol = verify_dirs(&osse.run_dir(), &ol).unwrap();
    let r_da = verify_dirs(&osse.run_dir(), &da).unwrap();
    assert_eq!(r_ol.layers.len(), 10);
    for (a, b) in r_ol.layers.iter().zip(&r_da.layers) {
        println!(
            "layer {:2}: open loop RMSE {:.4}, SMAP+ASCAT {:.4} ({:+.1} %)",
            a.layer,
            a.rmse,
            b.rmse,
            100.0 * (b.rmse / a.rmse - 1.0)
        );
    }
    let (a, b) = (&r_ol.layers[0], &r_da.layers[0]);
    assert!(a.n_pairs > 0 && a.n_pairs == b.n_pairs);
    assert!(
        b.rmse < 0.8 * a.rmse,
        "surface RMSE {} vs open loop {}",
        b.rmse,
        a.rmse
    );
    println!("{:.1} s", clock.elapsed().as_secs_f64());
}
