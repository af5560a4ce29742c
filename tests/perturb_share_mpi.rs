//! Spatially correlated perturbations drawn once over all ranks (each rank draws the fields
//! of its member/variable pairs, an all-to-all hands every rank its cells' values): the run
//! is identical on 1, 2 and 3 ranks, without mpirun, across a restart on another rank count
//! and with ranks that own no land cell.

mod common;
use common::*;

/// The namelist of the small case with spatially correlated perturbations of `km`.
fn spatial_namelist(
    dir: &std::path::Path,
    nx: usize,
    ny: usize,
    end: &str,
    km: f64,
) -> std::path::PathBuf {
    let nml = write_namelist(dir, nx, ny, 5, end);
    let text = std::fs::read_to_string(&nml).unwrap();
    let text = text.replace(
        "&perturbation\n",
        &format!("&perturbation\n  spatial_corr_km = {km}\n"),
    );
    assert!(text.contains("spatial_corr_km"), "namelist layout changed");
    std::fs::write(&nml, text).unwrap();
    nml
}

#[test]
fn spatial_perturbations_are_identical_on_any_rank_count() {
    assert!(have_mpirun(), "mpirun is required");
    let dir = tempfile::tempdir().unwrap();
    // 5 members: 15 forcing and 20 soil-moisture fields per time, not a multiple of 3 ranks.
    let nml = spatial_namelist(dir.path(), 16, 12, "2020-06-02_00:00:00", 80.0);
    synth(&nml);
    let run_in = |name: &str, ranks: usize, extra: &[&str]| {
        let r = dir.path().join(name);
        run_ok(&nml, ranks, &r, extra);
        r
    };
    let r1 = run_in("r1", 1, &[]);
    let r2 = run_in("r2", 2, &[]);
    let r3 = run_in("r3", 3, &[]);
    assert_eq!(output_files(&r1).len(), 12);
    assert_identical(&r1, &r2);
    assert_identical(&r1, &r3);
    let r0 = run_in("r0", 0, &[]);
    assert_same_results(&r0, &r1);
    // Two windows on 2 ranks, then the rest on 3 from the restart.
    let across = run_in("across", 2, &["--windows", "2"]);
    run_ok(&nml, 3, &across, &["--resume"]);
    assert_identical(&r1, &across);
    // The fields are in effect: without them the history differs.
    let plain = dir.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let text = std::fs::read_to_string(&nml).unwrap();
    let plain_nml = dir.path().join("plain.nml");
    std::fs::write(
        &plain_nml,
        text.replace("spatial_corr_km = 80", "spatial_corr_km = 0"),
    )
    .unwrap();
    run_ok(&plain_nml, 1, &plain, &["--windows", "1"]);
    let first = |r: &std::path::Path| {
        let f = output_files(r)
            .into_iter()
            .find(|p| p.to_string_lossy().contains("LC_HIST"))
            .unwrap();
        std::fs::read(r.join(f)).unwrap()
    };
    assert_ne!(first(&plain), first(&r1));
}

#[test]
fn spatial_perturbations_with_ranks_without_land_cells() {
    assert!(have_mpirun(), "mpirun is required");
    let dir = tempfile::tempdir().unwrap();
    let nml = spatial_namelist(dir.path(), 6, 5, "2020-06-01_12:00:00", 50.0);
    synth(&nml);
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
