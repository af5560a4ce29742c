//! The halo exchange of the localised analysis (issue 12, `cycle::obs_halo`): the rule
//! "which ranks need this observation" never misses a rank with a cell within the radius,
//! on a global grid across the date line and the poles, and sends little more; in a cycle
//! on 2 and 3 ranks it sends fewer observations than an allgather would, and the analyses
//! are identical to one rank's (where nothing leaves the rank).

mod common;
use common::bucket_case::{assert_same_diag, da_case, diag_files, run_json_log, t, write_smap};
use common::*;

use std::path::Path;

use landcycle::cycle::analysis_1d::SharedObs;
use landcycle::cycle::obs_halo::ObsHalo;
use landcycle::grid::geo::distance_km;
use landcycle::parallel::SingleProcess;

/// Ranks with a centre strictly within `km` of (lat, lon), by great-circle distance.
fn needed(per_rank: &[Vec<(f64, f64)>], lat: f64, lon: f64, km: f64) -> Vec<usize> {
    (0..per_rank.len())
        .filter(|&r| {
            per_rank[r]
                .iter()
                .any(|&(a, b)| distance_km(lat, lon, a, b) < km)
        })
        .collect()
}

/// A global 1° grid (longitudes -179.5 … 179.5), row by row, with the rank of each centre:
/// `n` longitude stripes starting at 150 E, so that one stripe crosses the date line, and
/// one rank per polar cap (ranks n and n + 1).
fn global_grid(n: usize) -> Vec<Vec<(f64, f64, usize)>> {
    (0..180)
        .map(|j| {
            let lat = -89.5 + j as f64;
            (0..360)
                .map(|i| {
                    let lon = -179.5 + i as f64;
                    let east_of_150 = (lon - 150.0).rem_euclid(360.0);
                    let r = if lat > 80.0 {
                        n
                    } else if lat < -80.0 {
                        n + 1
                    } else {
                        ((east_of_150 / 360.0 * n as f64) as usize).min(n - 1)
                    };
                    (lat, lon, r)
                })
                .collect()
        })
        .collect()
}

/// Ranks of [`global_grid`] with a centre strictly within `km` of (lat, lon), by
/// great-circle distance to every centre of the rows in reach.
fn needed_on_grid(grid: &[Vec<(f64, f64, usize)>], lat: f64, lon: f64, km: f64) -> Vec<usize> {
    let rows = (km / 6371.0).to_degrees() + 1.0;
    let lo = ((lat - rows + 89.5).floor().max(0.0)) as usize;
    let hi = ((lat + rows + 89.5).ceil().min(179.0)) as usize;
    let mut ranks: Vec<usize> = grid[lo..=hi]
        .iter()
        .flatten()
        .filter(|&&(a, b, _)| distance_km(lat, lon, a, b) < km)
        .map(|c| c.2)
        .collect();
    ranks.sort_unstable();
    ranks.dedup();
    ranks
}

#[test]
fn every_rank_with_a_cell_in_reach_is_a_destination() {
    let grid = global_grid(5);
    let mut ranks = vec![Vec::new(); 7];
    for &(lat, lon, r) in grid.iter().flatten() {
        ranks[r].push((lat, lon));
    }
    let mut to = Vec::new();
    for km in [30.0, 200.0, 700.0] {
        let halo = ObsHalo::from_rank_centres(km, 0, &ranks);
        let (mut extra, mut need) = (0, 0);
        // 16,020 observations, about one per degree of latitude and four of longitude, at
        // every offset from the centres.
        for j in 0..180 {
            for i in 0..89 {
                let (lat, lon) = (-89.45 + 0.9989 * j as f64, -180.0 + 4.037 * i as f64);
                let want = needed_on_grid(&grid, lat, lon, km);
                halo.destinations(lat, lon, &mut to);
                assert!(
                    want.iter().all(|r| to.contains(r)),
                    "{km} km at ({lat}, {lon}): need {want:?}, sent to {to:?}"
                );
                extra += to.len() - want.len();
                need += want.len();
            }
        }
        println!("{km} km: {need} rank copies needed, {extra} more sent");
        // Conservative, not everything: a few per cent more than needed.
        assert!(
            need > 5_000 && extra * 10 < need,
            "{km} km: {need} needed, {extra} more"
        );
    }
}

#[test]
fn the_date_line_and_the_poles_are_crossed() {
    // Rank 0 just east of the date line (as -179.9), rank 1 just west (as 179.9, and one
    // centre given as 539.9 = 179.9), rank 2 far away, rank 3 near the north pole on the
    // opposite meridian.
    let ranks = vec![
        vec![(10.0, -179.9), (10.5, -179.6)],
        vec![(10.0, 179.9), (-5.0, 539.9)],
        vec![(10.0, 0.0)],
        vec![(89.7, 0.0)],
    ];
    let halo = ObsHalo::from_rank_centres(100.0, 1, &ranks);
    let mut to = Vec::new();
    halo.destinations(10.0, 179.95, &mut to);
    assert_eq!(to, [0, 1]);
    halo.destinations(10.0, -180.0, &mut to);
    assert_eq!(to, [0, 1]);
    halo.destinations(-5.0, -179.8, &mut to);
    assert_eq!(to, [1]);
    // 89.7 N 180 E is 67 km from 89.7 N 0 E, across the pole.
    assert_eq!(needed(&ranks, 89.7, 180.0, 100.0), [3]);
    halo.destinations(89.7, 180.0, &mut to);
    assert_eq!(to, [3]);
    // Far from every cell: nobody; without a position: everybody.
    halo.destinations(-60.0, 90.0, &mut to);
    assert!(to.is_empty());
    halo.destinations(f64::NAN, 0.0, &mut to);
    assert_eq!(to, [0, 1, 2, 3]);
}

#[test]
fn a_single_process_exchange_keeps_every_observation_in_order() {
    let comm = SingleProcess;
    let halo = ObsHalo::plan(&comm, 100.0, [(0.0, 0.0), (0.5, 0.5)]);
    assert_eq!(halo.n_boxes(), 1);
    let obs = |cell_id: u64, sensor: u32| SharedObs {
        cell_id,
        lat: 0.0,
        lon: 0.0,
        sensor,
        value: 0.3 + cell_id as f64 * 1e-3,
        error_sd: 0.04,
        background: vec![0.1, 0.2],
    };
    let mine = [obs(9, 1), obs(2, 0), obs(9, 0)];
    let (got, counts) = halo.exchange(&comm, &mine, 2).unwrap();
    let keys: Vec<(u64, u32)> = got.iter().map(|o| (o.cell_id, o.sensor)).collect();
    assert_eq!(keys, [(2, 0), (9, 0), (9, 1)]);
    assert_eq!(got[0], mine[1]);
    assert_eq!((counts.sent, counts.allgather, counts.width), (0, 0, 8));
}

/// Run on `ranks` ranks with a JSON log; the (halo, allgather) counts it logged per
/// analysis time.
fn run_counting(nml: &Path, ranks: usize, rundir: &Path) -> Vec<(u64, u64)> {
    let err = run_json_log(nml, ranks, rundir, "info");
    err.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            let f = &v["fields"];
            Some((f["halo_sent"].as_u64()?, f["allgather_sent"].as_u64()?))
        })
        .collect()
}

#[test]
fn the_halo_sends_fewer_observations_and_the_analyses_stay_identical() {
    assert!(have_mpirun(), "mpirun is required");
    let dir = tempfile::tempdir().unwrap();
    // 7° × 4° at 38 N (about 610 × 440 km), two windows, 50 km localisation.
    let (nml, land) = da_case(
        dir.path(),
        "&da\n  enabled = .true.\n  sensors = 'smap'\n  smap_directory = 'obs/smap'\n  \
         localization_km = 50.0\n  qc_precipitation = .false.\n  qc_forest = .false.\n  \
         qc_green_fraction = .false.\n/\n",
    );
    write_smap(dir.path(), t(1, 5, 10), &land, 0.36);
    write_smap(dir.path(), t(1, 9, 20), &land[..land.len() / 2], 0.30);

    let r1 = dir.path().join("r1");
    assert!(
        run_counting(&nml, 1, &r1).is_empty(),
        "one rank sends nothing"
    );
    for n in [2, 3] {
        let rn = dir.path().join(format!("r{n}"));
        let counts = run_counting(&nml, n, &rn);
        assert_identical(&r1, &rn);
        assert_same_diag(&r1, &rn);
        // One line per analysis time (05:30 and 09:30); some observations cross, fewer
        // than an allgather would send.
        assert_eq!(counts.len(), 2, "{n} ranks: {counts:?}");
        for &(sent, all) in &counts {
            assert!(sent > 0 && sent < all, "{n} ranks: {counts:?}");
        }
        let (sent, all): (u64, u64) = counts.iter().fold((0, 0), |a, &(s, g)| (a.0 + s, a.1 + g));
        println!("{n} ranks: halo {sent}, allgather {all} observations sent to other ranks");
    }
    // The localisation is in effect: at 09:30 cells without a retrieval of their own
    // (the second half) are analysed through their neighbours'.
    let diags = diag_files(&r1);
    assert_eq!(diags.len(), 2);
    let nc = netcdf::open(r1.join(&diags[1])).unwrap();
    let f = |name: &str| -> Vec<f32> { nc.variable(name).unwrap().get_values(..).unwrap() };
    let (inn, inc) = (f("smap_innovation"), f("increment"));
    let neighbour_only = (0..inn.len())
        .filter(|&c| inn[c] > 1e19 && inc[c] < 1e19 && inc[c] != 0.0)
        .count();
    assert!(
        neighbour_only > 0,
        "no cell updated by its neighbours alone"
    );
}
