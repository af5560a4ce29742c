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
    // Without mpirun (single process, no MPI) the results are the same too.
    let r0 = dir.path().join("r0");
    run_ok(&nml, 0, &r0, &[]);
    assert_identical(&r1, &r0);
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
