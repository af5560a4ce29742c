//! Multi-rank determinism of the ensemble driver: 1, 2 and 3 ranks, split runs, restarts
//! across rank counts, and more ranks than land cells.

mod common;
use common::*;

#[test]
fn bit_identical_on_1_2_3_ranks() {
    assert!(have_mpirun(), "mpirun is required");
    let dir = tempfile::tempdir().unwrap();
    let nml = write_namelist(dir.path(), 20, 14, 6, "2020-06-02_00:00:00");
    synth(&nml);
    let r1 = dir.path().join("r1");
    let r2 = dir.path().join("r2");
    let r3 = dir.path().join("r3");
    run_ok(&nml, 1, &r1, &[]);
    run_ok(&nml, 2, &r2, &[]);
    run_ok(&nml, 3, &r3, &[]);
    // 4 windows × (2 history files + 1 restart)
    assert_eq!(output_files(&r1).len(), 12);
    assert_identical(&r1, &r2);
    assert_identical(&r1, &r3);
    // The driver's history files pass the CF checker.
    let hist = output_files(&r1)
        .into_iter()
        .find(|p| p.to_string_lossy().contains("LC_HIST"))
        .unwrap();
    check_cf(&r1.join(hist));
    // Without mpirun (single process, no MPI) the results are the same too: history bytes,
    // restart content and checksum.
    let r0 = dir.path().join("r0");
    run_ok(&nml, 0, &r0, &[]);
    assert_same_results(&r0, &r1);
}

#[test]
fn split_run_and_restart_on_other_rank_count_are_identical() {
    assert!(have_mpirun(), "mpirun is required");
    let dir = tempfile::tempdir().unwrap();
    let nml = write_namelist(dir.path(), 18, 12, 5, "2020-06-02_00:00:00");
    synth(&nml);
    let whole = dir.path().join("whole");
    run_ok(&nml, 2, &whole, &[]);
    // 2 windows, restart, 2 windows on the same rank count.
    let split = dir.path().join("split");
    run_ok(&nml, 2, &split, &["--windows", "2"]);
    assert_eq!(output_files(&split).len(), 6);
    run_ok(&nml, 2, &split, &["--resume"]);
    assert_identical(&whole, &split);
    // A restart written on 2 ranks continues on 3.
    let across = dir.path().join("across");
    run_ok(&nml, 2, &across, &["--windows", "2"]);
    run_ok(&nml, 3, &across, &["--resume"]);
    assert_identical(&whole, &across);
}

#[test]
fn more_ranks_than_land_cells() {
    assert!(have_mpirun(), "mpirun is required");
    let dir = tempfile::tempdir().unwrap();
    let nml = write_namelist(dir.path(), 6, 5, 4, "2020-06-01_12:00:00");
    synth(&nml);
    // Keep only two land cells.
    let path = dir.path().join("case/static.nc");
    let mut s = landcycle::grid::statics::StaticFields::read_landcycle(&path).unwrap();
    let land = s.land_cells();
    assert!(land.len() >= 2, "synthetic case has too little land");
    let mut mask = vec![false; s.grid.ncells()];
    mask[land[0] as usize] = true;
    mask[land[land.len() - 1] as usize] = true;
    s.grid = s.grid.clone().with_land_mask(mask).unwrap();
    s.write_landcycle(&path).unwrap();
    let r1 = dir.path().join("r1");
    let r3 = dir.path().join("r3");
    run_ok(&nml, 1, &r1, &[]);
    run_ok(&nml, 3, &r3, &[]);
    assert_identical(&r1, &r3);
}

/// Mean over land cells of a layer of a history variable (fill values skipped).
fn layer_mean(file: &std::path::Path, var: &str, layer: usize) -> f64 {
    let (data, dims) = values(file, var);
    let per_layer = dims[2] * dims[3];
    let vals: Vec<f64> = data[layer * per_layer..(layer + 1) * per_layer]
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    vals.iter().sum::<f64>() / vals.len() as f64
}

#[test]
fn cold_start_spread_has_the_configured_size() {
    let dir = tempfile::tempdir().unwrap();
    let nml = write_namelist(dir.path(), 16, 12, 20, "2020-06-01_06:00:00");
    synth(&nml);
    let r = dir.path().join("r");
    run_ok(&nml, 0, &r, &[]);
    let hist = output_files(&r)
        .into_iter()
        .find(|p| p.to_string_lossy().contains("LC_HIST_202006010300"))
        .unwrap();
    // Layer 4 (1 m deep) barely changes in 3 h: its spread is the initial spread, 0.02 times
    // the sample standard deviation of 20 de-meaned, clipped normals; its mean the cold start.
    let spread = layer_mean(&r.join(&hist), "SoilMoistV_spread", 3);
    assert!((0.017..0.022).contains(&spread), "layer-4 spread {spread}");
    let mean = layer_mean(&r.join(&hist), "SoilMoistV", 3);
    assert!((mean - 0.28).abs() < 0.003, "layer-4 mean {mean}");
    // Without the key every member starts alike: the deep spread is only what 3 h of
    // perturbations add.
    let text = std::fs::read_to_string(&nml).unwrap().replace(
        "  cold_start_soil_moisture_std = 0.05, 0.04, 0.03, 0.02\n",
        "",
    );
    std::fs::write(&nml, text).unwrap();
    let r0 = dir.path().join("r0");
    run_ok(&nml, 0, &r0, &[]);
    let spread0 = layer_mean(&r0.join(&hist), "SoilMoistV_spread", 3);
    assert!(
        spread0 < 0.002,
        "layer-4 spread without initial spread {spread0}"
    );
    // Spatially correlated initial spread (one field per member over the grid): the same
    // size, and the same on 1 and 3 ranks as without mpirun.
    let text = std::fs::read_to_string(&nml).unwrap().replace(
        "  cold_start_temperature = 290.0\n",
        "  cold_start_soil_moisture_std = 0.05, 0.04, 0.03, 0.02\n  \
         cold_start_soil_moisture_corr_km = 100.0\n  cold_start_temperature = 290.0\n",
    );
    std::fs::write(&nml, text).unwrap();
    let rc = dir.path().join("rc");
    run_ok(&nml, 0, &rc, &[]);
    let spread_c = layer_mean(&rc.join(&hist), "SoilMoistV_spread", 3);
    assert!(
        (0.017..0.022).contains(&spread_c),
        "layer-4 spread, correlated {spread_c}"
    );
    assert!(
        (layer_mean(&rc.join(&hist), "SoilMoistV", 3) - 0.28).abs() < 0.003,
        "layer-4 mean, correlated"
    );
    // Different members than the independent draw.
    let a = std::fs::read(r.join(&hist)).unwrap();
    let b = std::fs::read(rc.join(&hist)).unwrap();
    assert!(a != b, "the correlated draw changed nothing");
    if have_mpirun() {
        let rc1 = dir.path().join("rc1");
        let rc3 = dir.path().join("rc3");
        run_ok(&nml, 1, &rc1, &[]);
        run_ok(&nml, 3, &rc3, &[]);
        assert_same_results(&rc, &rc1);
        assert_same_results(&rc, &rc3);
    }
    // Layers partly correlated (AR(1) in the layer index, run:cold_start_layer_correlation):
    // the same layer-4 spread size (unit-variance deviates), other members than the
    // profile-wide draw, and the same on 1 and 3 ranks as without mpirun.
    let text = std::fs::read_to_string(&nml).unwrap().replace(
        "  cold_start_temperature = 290.0\n",
        "  cold_start_layer_correlation = 0.5\n  cold_start_temperature = 290.0\n",
    );
    std::fs::write(&nml, text).unwrap();
    let rl = dir.path().join("rl");
    run_ok(&nml, 0, &rl, &[]);
    let spread_l = layer_mean(&rl.join(&hist), "SoilMoistV_spread", 3);
    assert!(
        (0.017..0.022).contains(&spread_l),
        "layer-4 spread, layered {spread_l}"
    );
    let c = std::fs::read(rl.join(&hist)).unwrap();
    assert!(b != c, "the layer correlation changed nothing");
    if have_mpirun() {
        let rl1 = dir.path().join("rl1");
        let rl3 = dir.path().join("rl3");
        run_ok(&nml, 1, &rl1, &[]);
        run_ok(&nml, 3, &rl3, &[]);
        assert_same_results(&rl, &rl1);
        assert_same_results(&rl, &rl3);
    }
}

/// Files of a run directory without the hidden temporary names a killed writer leaves behind.
fn visible(files: Vec<std::path::PathBuf>) -> Vec<std::path::PathBuf> {
    files
        .into_iter()
        .filter(|f| !f.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect()
}

#[test]
fn abort_inside_a_parallel_restart_write_keeps_the_previous_restart() {
    assert!(have_mpirun(), "mpirun is required");
    let dir = tempfile::tempdir().unwrap();
    let nml = write_namelist(dir.path(), 20, 14, 4, "2020-06-01_18:00:00");
    synth(&nml);
    let whole = dir.path().join("whole");
    run_ok(&nml, 2, &whole, &[]);
    let crash = dir.path().join("crash");
    run_ok(&nml, 2, &crash, &["--windows", "1"]);
    let before = visible(output_files(&crash));
    // Rank 1 aborts in the middle of the second window's restart, after its first rows.
    let out = std::process::Command::new("mpirun")
        .args(["--oversubscribe", "-n", "2", BIN, "run"])
        .arg(&nml)
        .arg("--rundir")
        .arg(&crash)
        .args(["--no-progress", "--resume", "--windows", "1"])
        .env("LANDCYCLE_TEST_ABORT_RESTART_RANK", "1")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the aborted run must fail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("aborts inside a restart write"), "{stderr}");
    // No new restart under a final name; the first one still verifies.
    let rst: Vec<_> = visible(output_files(&crash))
        .into_iter()
        .filter(|f| f.to_string_lossy().contains("LC_RST"))
        .collect();
    assert_eq!(rst.len(), 1, "{rst:?}");
    assert!(before.contains(&rst[0]));
    landcycle::io::verify_restart(&crash.join(&rst[0])).unwrap();
    // The resumed run (on another rank count) ends where the uninterrupted one does.
    run_ok(&nml, 3, &crash, &["--resume"]);
    let (a, b) = (visible(output_files(&whole)), visible(output_files(&crash)));
    assert_eq!(a, b);
    for f in &a {
        assert!(
            std::fs::read(whole.join(f)).unwrap() == std::fs::read(crash.join(f)).unwrap(),
            "{} differs after the crash and resume",
            f.display()
        );
    }
}

// The window end's restart is begun before that step's history and finished after it. A
// failure in between (here the history file cannot be committed: a directory holds its
// name) leaves no restart of that time, not even a temporary file, on any rank; the previous
// restart still verifies, and once the obstacle is gone a resumed run ends where an
// uninterrupted one does.
#[test]
fn failure_between_restart_begin_and_finish_leaves_no_partial_restart() {
    assert!(have_mpirun(), "mpirun is required");
    let dir = tempfile::tempdir().unwrap();
    let nml = write_namelist(dir.path(), 20, 14, 4, "2020-06-01_12:00:00");
    synth(&nml);
    let whole = dir.path().join("whole");
    run_ok(&nml, 2, &whole, &[]);
    let broken = dir.path().join("broken");
    run_ok(&nml, 2, &broken, &["--windows", "1"]);
    let blocker = broken.join("2020060112/output/LC_HIST_202006011200.nc");
    std::fs::create_dir_all(blocker.join("in-the-way")).unwrap();
    let out = run(&nml, 2, &broken, &["--resume", "--sync-output"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the run must fail: {stderr}");
    assert!(stderr.contains("LC_HIST_202006011200.nc"), "{stderr}");
    let restarts = broken.join("2020060112/restart");
    let left: Vec<_> = std::fs::read_dir(&restarts)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left in {}: {left:?}", restarts.display());
    let first = broken.join("2020060106/restart/LC_RST_202006010600.h5");
    landcycle::io::verify_restart(&first).unwrap();
    std::fs::remove_dir_all(&blocker).unwrap();
    run_ok(&nml, 3, &broken, &["--resume"]);
    assert_identical(&whole, &broken);
}

/// Values of a history variable (fill as NaN) and its dimension lengths.
fn values(file: &std::path::Path, var: &str) -> (Vec<f64>, Vec<usize>) {
    let f = netcdf::open(file).unwrap();
    let v = f.variable(var).unwrap_or_else(|| panic!("{var} missing"));
    let dims = v.dimensions().iter().map(|d| d.len()).collect();
    let data = v.get_values::<f64, _>(..).unwrap();
    let data = data
        .into_iter()
        .map(|x| if x.abs() < 1e19 { x } else { f64::NAN })
        .collect();
    (data, dims)
}

// Member history (`history_members`): every member's record lands in its own slab, so the
// members' mean and standard deviation per cell are the mean/spread file's values (to the f32
// both store), and the file does not depend on the rank count.
#[test]
fn member_history_matches_mean_and_spread_on_any_rank_count() {
    let dir = tempfile::tempdir().unwrap();
    let nml = write_namelist(dir.path(), 10, 8, 6, "2020-06-01_06:00:00");
    synth(&nml);
    let stats = dir.path().join("stats");
    run_ok(&nml, 0, &stats, &[]);
    let text = std::fs::read_to_string(&nml).unwrap();
    let with = text.replace("  seed = 7\n", "  seed = 7\n  history_members = .true.\n");
    assert_ne!(text, with);
    std::fs::write(&nml, with).unwrap();
    let members = dir.path().join("members");
    run_ok(&nml, 0, &members, &[]);
    let name = "2020060106/output/LC_HIST_202006010300.nc";
    let (a, b) = (stats.join(name), members.join(name));
    assert!(a.exists() && b.exists(), "{name}");
    for var in ["SoilMoistV", "Qle", "AvgSurfT"] {
        let (mean, _) = values(&a, var);
        let (spread, _) = values(&a, &format!("{var}_spread"));
        let (m, dims) = values(&b, &format!("{var}_member"));
        // (time, member, [layer,] y, x): cells per member.
        let n = dims[1];
        assert_eq!(n, 6, "{var}: member dimension {dims:?}");
        let per = m.len() / n;
        assert_eq!(per, mean.len(), "{var}");
        let mut land = 0;
        for c in 0..per {
            let xs: Vec<f64> = (0..n).map(|k| m[k * per + c]).collect();
            if mean[c].is_nan() {
                assert!(
                    xs.iter().all(|x| x.is_nan()),
                    "{var} cell {c}: members off land"
                );
                continue;
            }
            land += 1;
            let mu = xs.iter().sum::<f64>() / n as f64;
            let sd = (xs.iter().map(|x| (x - mu).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
            let tol = 1e-6 * mean[c].abs().max(1.0);
            assert!(
                (mu - mean[c]).abs() <= tol,
                "{var} cell {c}: {mu} vs {}",
                mean[c]
            );
            assert!(
                (sd - spread[c]).abs() <= tol,
                "{var} cell {c}: {sd} vs {}",
                spread[c]
            );
        }
        assert!(land > 0, "{var}: no land");
    }
    if have_mpirun() {
        let m2 = dir.path().join("members2");
        run_ok(&nml, 2, &m2, &[]);
        assert_same_results(&members, &m2);
    }
}
