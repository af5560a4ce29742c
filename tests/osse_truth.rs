//! OSSE truth side end to end on a small synthetic case: nature run with biased forcing,
//! synthetic SMAP/ASCAT files read back with the operational readers, and verification of an
//! ensemble run against the nature run.

mod common;

use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveDateTime};
use landcycle::config::Config;
use landcycle::cycle::RunOptions;
use landcycle::obs::ascat::{read_ascat_eumetsat, AscatOptions};
use landcycle::obs::smap::{read_smap_spl2smp, SmapOptions};
use landcycle::obs::{Quality, Sensor};
use landcycle::parallel::SingleProcess;
use landcycle::synth::osse::{run_truth, simulate_observations, OsseConfig, TruthSeries};
use landcycle::verify::{find_history_files, read_field, verify_dirs};

const END: &str = "2020-06-05_00:00:00";

/// The HDF5 library is not thread-safe and the netcdf and hdf5 crates lock separately: tests
/// of this file that read or write files in-process take turns.
static IO_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn io_lock() -> std::sync::MutexGuard<'static, ()> {
    IO_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn time(d: u32, h: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2020, 6, d)
        .unwrap()
        .and_hms_opt(h, 0, 0)
        .unwrap()
}

/// The small case of tests/common with an `&osse` group appended.
fn case(dir: &Path, osse: &str) -> PathBuf {
    let nml = common::write_namelist(dir, 12, 10, 4, END);
    let mut text = std::fs::read_to_string(&nml).unwrap();
    text.push_str(&format!("&osse\n  truth_seed = 99\n{osse}/\n"));
    std::fs::write(&nml, text).unwrap();
    common::synth(&nml);
    nml
}

fn values(path: &Path, var: &str) -> Vec<f64> {
    let f = netcdf::open(path).unwrap();
    f.variable(var).unwrap().get_values::<f64, _>(..).unwrap()
}

#[test]
fn nature_run_observations_and_verification() {
    let _io = io_lock();
    let dir = tempfile::tempdir().unwrap();
    let nml = case(
        dir.path(),
        "  truth_cold_start_soil_moisture = 0.25, 0.27, 0.28, 0.28\n",
    );
    let cfg = Config::load(&nml).unwrap();
    let osse = OsseConfig::from_config(&cfg).unwrap();
    assert_eq!(osse.truth_dir, dir.path().join("osse/truth"));

    // ---- nature run
    let summary = run_truth(&cfg, &osse, &SingleProcess, &RunOptions::default()).unwrap();
    assert_eq!(summary.windows_run, 16);

    // Biased forcing: precipitation × 1.3, shortwave × 0.9, the rest untouched.
    let f = cfg.forcing.file_for(time(2, 18));
    let b = osse.forcing_dir().join(f.file_name().unwrap());
    let (r0, r1) = (values(&f, "Rainf_f_tavg"), values(&b, "Rainf_f_tavg"));
    let (s0, s1) = (values(&f, "SWdown_f_tavg"), values(&b, "SWdown_f_tavg"));
    assert!(s0.iter().any(|x| *x > 100.0), "midday file has sunshine");
    for (a, c) in r0.iter().zip(&r1) {
        assert!((c - 1.3 * a).abs() <= 1e-6 * (1.0 + a.abs()), "{a} {c}");
    }
    for (a, c) in s0.iter().zip(&s1) {
        assert!((c - 0.9 * a).abs() <= 1e-4 * (1.0 + a.abs()), "{a} {c}");
    }
    assert_eq!(values(&f, "Tair_f_inst"), values(&b, "Tair_f_inst"));

    // Truth history: every 3 h, one member, finite soil moisture on land.
    let files = find_history_files(&osse.run_dir()).unwrap();
    assert_eq!(files.len(), 32);
    assert_eq!(*files.keys().next().unwrap(), time(1, 3));
    let last = files.values().last().unwrap();
    let nc = netcdf::open(last).unwrap();
    assert!(nc.variable("SoilMoistV_member").is_some());
    assert_eq!(nc.dimension("member").unwrap().len(), 1);
    let sm = read_field(last, "SoilMoistV").unwrap();
    assert_eq!(sm.n_layers, 4);
    let land: Vec<f64> = sm
        .layer(0)
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    assert!(!land.is_empty());
    assert!(land.iter().all(|x| (0.02..0.6).contains(x)));

    // ---- observations
    let obs = simulate_observations(&cfg, &osse).unwrap();
    let series = TruthSeries::read(&osse.run_dir()).unwrap();
    let (t_first, t_last) = (series.times[0], *series.times.last().unwrap());
    assert!(!obs.smap_files.is_empty(), "{obs:?}");
    assert!(!obs.ascat_files.is_empty(), "{obs:?}");

    let mut smap_n = 0;
    let mut smap_rejected_nr = 0;
    let mut smap_values = Vec::new();
    for p in &obs.smap_files {
        let name = p.file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with("SMAP_L2_SM_P_") && name.ends_with("_R90000_001.h5"),
            "{name}"
        );
        let b = read_smap_spl2smp(p, &SmapOptions::default()).unwrap();
        smap_n += b.n_records;
        smap_rejected_nr += b.rejected.get("not_recommended");
        for o in &b.observations {
            assert_eq!(o.source, Sensor::Smap);
            assert!(o.time >= t_first && o.time <= t_last, "{}", o.time);
            // Local solar time 06:00 or 18:00 on the ground track; ±500 km across the swath
            // at 38–41° N is within ±0.4 h.
            let lst =
                (o.time.and_utc().timestamp() as f64 / 3600.0 + o.lon / 15.0).rem_euclid(24.0);
            assert!(
                (lst - 6.0).abs() < 0.4 || (lst - 18.0).abs() < 0.4,
                "LST {lst}"
            );
            assert!((0.02..=0.6).contains(&o.value));
            if let Quality::Smap {
                vegetation_water_content,
                ..
            } = o.quality
            {
                assert!(vegetation_water_content > 0.0 && vegetation_water_content < 5.0);
            }
            smap_values.push(o.value);
        }
    }
    assert_eq!(smap_n, obs.smap_retrievals);
    assert_eq!(smap_rejected_nr, obs.smap_flagged);
    assert!(smap_n > 20, "{smap_n}");

    let mut ascat_values = Vec::new();
    let mut snow_frozen = 0;
    for p in &obs.ascat_files {
        let name = p.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("ASCAT_SMR_125_METOPB_") && name.ends_with("_ssm_l2.nc"));
        let b = read_ascat_eumetsat(p, &AscatOptions::default()).unwrap();
        // Nodes with a value are rejected only for snow or frozen soil of the nature run
        // (the synthetic case has high cells with snow in June).
        snow_frozen += b.rejected.get("snow") + b.rejected.get("frozen");
        assert_eq!(
            b.rejected.get("estimated_error") + b.rejected.get("out_of_range"),
            0
        );
        for o in &b.observations {
            assert!(o.time >= t_first && o.time <= t_last, "{}", o.time);
            let lst =
                (o.time.and_utc().timestamp() as f64 / 3600.0 + o.lon / 15.0).rem_euclid(24.0);
            assert!(
                (lst - 9.5).abs() < 0.7 || (lst - 21.5).abs() < 0.7,
                "LST {lst}"
            );
            assert!((0.0..=100.0).contains(&o.value));
            ascat_values.push(o.value);
        }
    }
    assert_eq!(ascat_values.len() + snow_frozen, obs.ascat_values);
    assert!(ascat_values.len() > 100, "{}", ascat_values.len());

    // Observation errors against the nature run. SMAP: footprint mean of the top layer over
    // the EASE cell + N(0, 0.04); ASCAT: 0.85 × Gaussian-weighted saturation + 8 + N(0, 5).
    let statics =
        landcycle::grid::statics::StaticFields::read_landcycle(&cfg.domain.static_file).unwrap();
    let tables = landcycle::lsm::noah::tables::ParameterTables::builtin();
    let soil: Vec<(f64, f64)> = series
        .cells
        .iter()
        .map(|&k| {
            let p = tables
                .soil(&statics.soil_dataset, statics.soil_class[k])
                .unwrap();
            (p.wltsmc, p.maxsmc)
        })
        .collect();
    let mut smap_d = Vec::new();
    for p in &obs.smap_files {
        for o in read_smap_spl2smp(p, &SmapOptions::default())
            .unwrap()
            .observations
        {
            let Quality::Smap {
                ease_row,
                ease_column,
                ..
            } = o.quality
            else {
                unreachable!()
            };
            let v: Vec<f64> = (0..series.cells.len())
                .filter(|&c| {
                    landcycle::obs::ease::cell_of_36km(series.lat[c], series.lon[c])
                        == Some((ease_row as usize, ease_column as usize))
                })
                .filter_map(|c| series.at(&series.soil_moisture, c, o.time))
                .collect();
            if o.value > 0.02 && o.value < 0.6 {
                smap_d.push(o.value - v.iter().sum::<f64>() / v.len() as f64);
            }
        }
    }
    let (m, sd) = mean_sd(&smap_d);
    println!(
        "SMAP obs − truth: n {} mean {m:.4} sd {sd:.4}",
        smap_d.len()
    );
    assert!(m.abs() < 0.015 && (0.03..0.05).contains(&sd), "{m} {sd}");
    let mut ascat_d = Vec::new();
    for p in &obs.ascat_files {
        for o in read_ascat_eumetsat(p, &AscatOptions::default())
            .unwrap()
            .observations
        {
            let (mut w, mut s) = (0.0, 0.0);
            for (c, (wilt, por)) in soil.iter().enumerate() {
                let dy = (series.lat[c] - o.lat) * 111.195;
                let dx = (series.lon[c] - o.lon) * 111.195 * o.lat.to_radians().cos();
                let d = (dx * dx + dy * dy).sqrt();
                if d <= 25.0 {
                    let sm = series.at(&series.soil_moisture, c, o.time).unwrap();
                    let wt = (-0.5 * (d / 12.5f64).powi(2)).exp();
                    w += wt;
                    s += wt * 100.0 * (sm - wilt) / (por - wilt);
                }
            }
            if o.value > 0.0 && o.value < 100.0 {
                ascat_d.push(o.value - (0.85 * s / w + 8.0));
            }
        }
    }
    let (m, sd) = mean_sd(&ascat_d);
    println!(
        "ASCAT obs − (0.85 truth + 8): n {} mean {m:.3} sd {sd:.3}",
        ascat_d.len()
    );
    assert!(m.abs() < 0.6 && (4.5..5.5).contains(&sd), "{m} {sd}");

    // Determinism: a second simulation gives the same values.
    let mut osse2 = osse.clone();
    osse2.obs_dir = dir.path().join("obs2");
    let obs2 = simulate_observations(&cfg, &osse2).unwrap();
    assert_eq!(obs2.smap_retrievals, obs.smap_retrievals);
    let a = read_smap_spl2smp(&obs.smap_files[0], &SmapOptions::default()).unwrap();
    let b = read_smap_spl2smp(&obs2.smap_files[0], &SmapOptions::default()).unwrap();
    assert_eq!(a.observations, b.observations);
    assert_eq!(obs2.ascat_files.len(), obs.ascat_files.len());
    let a = read_ascat_eumetsat(&obs.ascat_files[0], &AscatOptions::default()).unwrap();
    let b = read_ascat_eumetsat(&obs2.ascat_files[0], &AscatOptions::default()).unwrap();
    assert_eq!(a.observations, b.observations);
    assert_eq!(
        obs.smap_files
            .iter()
            .map(|p| p.file_name())
            .collect::<Vec<_>>(),
        obs2.smap_files
            .iter()
            .map(|p| p.file_name())
            .collect::<Vec<_>>()
    );

    // ---- ensemble run verified against the nature run
    let rundir = dir.path().join("ens");
    common::run_ok(&nml, 0, &rundir, &[]);
    let report = verify_dirs(&osse.run_dir(), &rundir).unwrap();
    assert_eq!(report.n_times, 32);
    assert_eq!(report.layers.len(), 4);
    let top = &report.layers[0];
    assert!(top.rmse > 0.0 && top.rmse < 0.2, "{top:?}");
    assert!(top.mean_spread > 0.0, "{top:?}");
    assert!(top.ubrmse <= top.rmse + 1e-12);
    println!("{}", report.table());
}

fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    (
        m,
        (x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1.0)).sqrt(),
    )
}

/// A case whose synthetic forcing starts `lead_days` before `run:start`, with an `&osse` group.
fn case_with_lead(dir: &Path, lead_days: u32, osse: &str) -> PathBuf {
    let nml = common::write_namelist(dir, 12, 10, 4, "2020-06-03_00:00:00");
    let text = std::fs::read_to_string(&nml).unwrap().replace(
        "  seed = 11\n/",
        &format!("  seed = 11\n  forcing_days_before_start = {lead_days}\n/"),
    );
    let text = format!("{text}&osse\n  truth_seed = 99\n{osse}/\n");
    std::fs::write(&nml, text).unwrap();
    common::synth(&nml);
    nml
}

/// Spatial standard deviation of the nature run's top layer at `t`.
fn truth_spatial_sd(osse: &OsseConfig, t: NaiveDateTime) -> f64 {
    let files = find_history_files(&osse.run_dir()).unwrap();
    let sm = read_field(&files[&t], "SoilMoistV").unwrap();
    let land: Vec<f64> = sm
        .layer(0)
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    mean_sd(&land).1
}

#[test]
fn nature_run_spins_up_before_the_experiments_start() {
    let _io = io_lock();
    let keys = "  truth_cold_start_soil_moisture = 0.20, 0.22, 0.24, 0.26
  precip_factor_field_sd = 0.3
  precip_factor_field_corr_km = 100.0
  images = .true.\n";
    let (d0, d1) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let plain = case_with_lead(d0.path(), 0, keys);
    let spun = case_with_lead(d1.path(), 4, &format!("{keys}  truth_spinup_days = 4\n"));

    // The forcing of the run period is the same whatever the lead.
    let (c0, c1) = (Config::load(&plain).unwrap(), Config::load(&spun).unwrap());
    let june = c0.forcing.file_for(time(2, 12));
    assert_eq!(
        std::fs::read(&june).unwrap(),
        std::fs::read(c1.forcing.file_for(time(2, 12))).unwrap()
    );
    let may = c1.forcing.file_for(time(1, 0) - chrono::Duration::days(4));
    assert!(
        may.is_file()
            && !c0
                .forcing
                .file_for(time(1, 0) - chrono::Duration::days(4))
                .is_file()
    );

    let (o0, o1) = (
        OsseConfig::from_config(&c0).unwrap(),
        OsseConfig::from_config(&c1).unwrap(),
    );
    for (c, o) in [(&c0, &o0), (&c1, &o1)] {
        run_truth(c, o, &SingleProcess, &RunOptions::default()).unwrap();
    }
    // The spun-up truth starts 4 days earlier and has spatial structure at run:start.
    let h1 = find_history_files(&o1.run_dir()).unwrap();
    assert_eq!(
        *h1.keys().next().unwrap(),
        time(1, 3) - chrono::Duration::days(4)
    );
    let (sd0, sd1) = (
        truth_spatial_sd(&o0, time(1, 3)),
        truth_spatial_sd(&o1, time(1, 3)),
    );
    assert!(
        sd1 > 2.0 * sd0,
        "spatial sd at 03 UTC: cold {sd0}, spun up {sd1}"
    );

    // Observations and images only from run:start on.
    let obs = simulate_observations(&c1, &o1).unwrap();
    assert!(!obs.smap_files.is_empty() && !obs.ascat_files.is_empty());
    for p in obs.smap_files.iter().chain(&obs.ascat_files) {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.contains("202006"),
            "observation of the spin-up: {name}"
        );
    }
    let images = landcycle::synth::image_file::simulate_images(&o1).unwrap();
    assert_eq!(
        images
            .files
            .first()
            .map(|p| p.file_name().unwrap().to_owned()),
        Some(landcycle::synth::image_file::image_file_name(time(1, 6)).into())
    );
    assert_eq!(images.files.len(), 8);
}

#[test]
fn truth_seed_must_differ_from_the_ensemble_seed() {
    let _io = io_lock();
    let dir = tempfile::tempdir().unwrap();
    let nml = common::write_namelist(dir.path(), 4, 4, 2, END);
    let mut text = std::fs::read_to_string(&nml).unwrap();
    text.push_str("&osse\n  truth_seed = 7\n/\n");
    std::fs::write(&nml, &text).unwrap();
    let cfg = Config::load(&nml).unwrap();
    let e = OsseConfig::from_config(&cfg).unwrap_err().to_string();
    assert!(e.contains("truth_seed") && e.contains("case.nml"), "{e}");
    for (bad, key) in [
        ("precip_factor = -1.0", "precip_factor"),
        (
            "truth_cold_start_soil_moisture = 0.3, 0.3",
            "truth_cold_start_soil_moisture",
        ),
        (
            "smap_not_recommended_fraction = 1.5",
            "smap_not_recommended_fraction",
        ),
    ] {
        let t = text.replace("truth_seed = 7", &format!("truth_seed = 8\n  {bad}"));
        std::fs::write(&nml, &t).unwrap();
        let cfg = Config::load(&nml).unwrap();
        let e = OsseConfig::from_config(&cfg).unwrap_err().to_string();
        assert!(e.contains(key), "{e}");
    }
    // Missing forcing (no `landcycle synth` here): the error names the file.
    std::fs::write(&nml, &text).unwrap();
    let cfg = Config::load(&nml).unwrap();
    let osse = OsseConfig {
        truth_dir: dir.path().join("truth"),
        ..Default::default()
    };
    let e = landcycle::synth::osse::write_biased_forcing(&cfg, &osse)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("forcing_2020060100.nc") && e.contains("not found"),
        "{e}"
    );
    // A typo in the group is caught with the namelist's own error.
    let t = text.replace("truth_seed = 7", "truth_sed = 8");
    std::fs::write(&nml, &t).unwrap();
    let cfg = Config::load(&nml).unwrap();
    let e = OsseConfig::from_config(&cfg).unwrap_err().to_string();
    assert!(e.contains("truth_sed"), "{e}");
}

/// The demo case (namelists/demo.nml, 64×48 cells, June 2020) end to end: nature run,
/// observations, ensemble run and verification. Long: `cargo test --release --test
/// osse_truth demo -- --ignored --nocapture`.
#[test]
#[ignore]
fn demo_osse_end_to_end() {
    let _io = io_lock();
    let dir = tempfile::tempdir().unwrap();
    let nl_dir = dir.path().join("namelists");
    std::fs::create_dir_all(&nl_dir).unwrap();
    let demo = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/namelists/demo.nml"))
        .unwrap();
    let days: u32 = std::env::var("OSSE_DEMO_DAYS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let end = format!(
        "'2020-{}_00:00:00'",
        if days >= 30 {
            "07-01".to_string()
        } else {
            format!("06-{:02}", 1 + days)
        }
    );
    let text = demo.replace("'2020-07-01_00:00:00'", &end)
        + "\n&osse\n  truth_seed = 20201031\n  truth_dir = '../osse/truth'\n  obs_dir = '../osse/obs'\n/\n";
    let nml = nl_dir.join("demo.nml");
    std::fs::write(&nml, text).unwrap();
    let clock = std::time::Instant::now();
    common::synth(&nml);
    println!("synth: {:.1} s", clock.elapsed().as_secs_f64());
    let cfg = Config::load(&nml).unwrap();
    let osse = OsseConfig::from_config(&cfg).unwrap();
    let clock = std::time::Instant::now();
    let s = run_truth(&cfg, &osse, &SingleProcess, &RunOptions::default()).unwrap();
    println!(
        "nature run: {} windows, {} land cells, {:.1} s",
        s.windows_run,
        s.n_land_cells,
        clock.elapsed().as_secs_f64()
    );
    let clock = std::time::Instant::now();
    let o = simulate_observations(&cfg, &osse).unwrap();
    println!(
        "observations: {} SMAP granules / {} retrievals ({} flagged), {} ASCAT orbits / {} values, {:.1} s",
        o.smap_files.len(), o.smap_retrievals, o.smap_flagged, o.ascat_files.len(), o.ascat_values,
        clock.elapsed().as_secs_f64()
    );
    let clock = std::time::Instant::now();
    let rundir = dir.path().join("ens");
    common::run_ok(&nml, 0, &rundir, &[]);
    println!("ensemble run: {:.1} s", clock.elapsed().as_secs_f64());
    let r = verify_dirs(&osse.run_dir(), &rundir).unwrap();
    println!("{}", r.table());
}

/// Worker of `nature_run_is_identical_on_two_ranks`, started under mpirun.
#[test]
#[ignore]
fn mpi_truth_worker() {
    let Ok(nml) = std::env::var("LANDCYCLE_OSSE_MPI_NML") else {
        return;
    };
    let comm = landcycle::commands::run::communicator().unwrap();
    let cfg = Config::load(Path::new(&nml)).unwrap();
    let mut osse = OsseConfig::from_config(&cfg).unwrap();
    osse.truth_dir = PathBuf::from(std::env::var("LANDCYCLE_OSSE_MPI_TRUTH").unwrap());
    run_truth(&cfg, &osse, comm.as_ref(), &RunOptions::default()).unwrap();
}

#[test]
fn nature_run_is_identical_on_two_ranks() {
    let _io = io_lock();
    if !common::have_mpirun() {
        eprintln!("SKIPPED: no mpirun");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let nml = common::write_namelist(dir.path(), 8, 6, 2, "2020-06-02_00:00:00");
    let mut text = std::fs::read_to_string(&nml).unwrap();
    text.push_str("&osse\n  truth_seed = 5\n/\n");
    std::fs::write(&nml, text).unwrap();
    common::synth(&nml);
    let cfg = Config::load(&nml).unwrap();
    let osse = OsseConfig::from_config(&cfg).unwrap();
    run_truth(&cfg, &osse, &SingleProcess, &RunOptions::default()).unwrap();
    let mpi_truth = dir.path().join("truth_mpi");
    let out = std::process::Command::new("mpirun")
        .args(["--oversubscribe", "-n", "2"])
        .arg(std::env::current_exe().unwrap())
        .args([
            "mpi_truth_worker",
            "--exact",
            "--ignored",
            "--test-threads=1",
        ])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("LANDCYCLE_OSSE_MPI_NML", &nml)
        .env("LANDCYCLE_OSSE_MPI_TRUTH", &mpi_truth)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let a = find_history_files(&osse.run_dir()).unwrap();
    let b = find_history_files(&mpi_truth.join("run")).unwrap();
    assert_eq!(a.len(), 8);
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (t, p) in &a {
        for v in ["SoilMoistV", "SWE", "AvgSurfT"] {
            let bits = |p: &Path| -> Vec<u64> {
                let f = read_field(p, v).unwrap();
                f.data.iter().map(|x| x.to_bits()).collect()
            };
            assert_eq!(bits(p), bits(&b[t]), "{v} at {t}");
        }
    }
}

/// The command-line shape the coordinator wires into main.rs.
#[test]
fn cli_argument_shapes() {
    use clap::{CommandFactory, Parser};
    use landcycle::commands::osse::OsseCommand;
    #[derive(clap::Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Cmd,
    }
    #[derive(clap::Subcommand)]
    enum Cmd {
        Osse(landcycle::commands::osse::Args),
        Verify(Box<landcycle::commands::verify::Args>),
    }
    Cli::command().debug_assert();
    let c =
        Cli::try_parse_from(["landcycle", "osse", "truth", "demo.nml", "--windows", "2"]).unwrap();
    match c.command {
        Cmd::Osse(a) => match a.command {
            OsseCommand::Truth(t) => {
                assert_eq!(t.namelist, PathBuf::from("demo.nml"));
                assert_eq!(t.windows, Some(2));
                assert!(!t.no_obs);
            }
            OsseCommand::Obs(_) => panic!("parsed as obs"),
        },
        Cmd::Verify(_) => panic!("parsed as verify"),
    }
    let c = Cli::try_parse_from([
        "landcycle",
        "verify",
        "--truth",
        "t",
        "--run",
        "r",
        "--json",
        "s.json",
    ])
    .unwrap();
    let Cmd::Verify(v) = c.command else {
        panic!("not verify")
    };
    assert_eq!(
        (v.truth, v.run, v.json),
        (
            PathBuf::from("t"),
            PathBuf::from("r"),
            Some(PathBuf::from("s.json"))
        )
    );
    assert!(Cli::try_parse_from(["landcycle", "verify", "--truth", "t"]).is_err());
}
