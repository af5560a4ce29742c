//! Assimilation on a curvilinear grid: the real Rondônia WPS domain (129×129 cells, 4 km
//! Lambert conformal). Observation mapping through the spatial index agrees with a scan of
//! every centre and rejects what lies outside the domain; the SMAP+ASCAT cycle with
//! localisation and spatially correlated perturbations gives identical files on 1, 2 and 3
//! ranks. Forcing is the synthetic weather on a regular 0.25° grid around the domain and the
//! observations are synthetic SMAP- and ASCAT-like files (the real granules in the shared
//! data are of other dates and places; docs/assimilation.md).

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use landcycle::grid::locate::CellLocator;
use landcycle::grid::nearest::unit_vector;
use landcycle::grid::statics::StaticFields;
use landcycle::grid::Grid;
use landcycle::obs::mapping::{map_observations, Combine, IndexedGrid, MappingGrid};
use landcycle::obs::{ObsUnits, Observation, Quality, Sensor};
use landcycle::synth::obs_sim::{write_smap_like_granule, SimSmapRetrieval};

const GEO_EM: &str = "wps-geo-em/geo_em.d01.nc";

fn geo_em() -> Option<PathBuf> {
    landcycle::testdata::require(GEO_EM).map(|p| std::fs::canonicalize(p).unwrap())
}

fn t(h: u32, m: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2020, 6, 1)
        .unwrap()
        .and_hms_opt(h, m, 0)
        .unwrap()
}

/// Unit vectors of every cell centre, row-major.
fn centres(grid: &Grid) -> Vec<[f64; 3]> {
    let nx = grid.nx();
    (0..grid.ncells())
        .map(|k| unit_vector(grid.lat(k / nx, k % nx), grid.lon(k / nx, k % nx)))
        .collect()
}

/// The nearest centre by a scan of every cell (squared chord on the unit sphere, ties to
/// the lowest index): the reference the index must reproduce.
fn scan_nearest(centres: &[[f64; 3]], lat: f64, lon: f64) -> usize {
    let p = unit_vector(lat, lon);
    let mut best = (usize::MAX, f64::INFINITY);
    for (k, c) in centres.iter().enumerate() {
        let d: f64 = (0..3).map(|a| (c[a] - p[a]).powi(2)).sum();
        if d < best.1 {
            best = (k, d);
        }
    }
    best.0
}

/// A deterministic scatter of points in [0, 1)².
fn halton(k: usize) -> (f64, f64) {
    let h = |mut i: usize, b: usize| {
        let (mut f, mut r) = (1.0, 0.0);
        while i > 0 {
            f /= b as f64;
            r += f * (i % b) as f64;
            i /= b;
        }
        r
    };
    (h(k + 1, 2), h(k + 1, 3))
}

fn obs_at(lat: f64, lon: f64, time: NaiveDateTime, value: f64) -> Observation {
    Observation {
        time,
        lat,
        lon,
        value,
        error_sd: 0.04,
        source: Sensor::Smap,
        depth_top_m: 0.0,
        depth_bottom_m: 0.05,
        units: ObsUnits::VolumetricFraction,
        quality: Quality::Gridded { row: 0, column: 0 },
    }
}

#[test]
fn mapping_on_the_wps_grid_matches_a_scan_and_rejects_outside_points() {
    let Some(path) = geo_em() else { return };
    let grid = StaticFields::read_geo_em(&path).unwrap().grid;
    assert_eq!(grid.projection_spacing_km(), Some((4.0, 4.0)));
    let (ny, nx) = grid.dims();
    let built = Instant::now();
    let loc = CellLocator::new(&grid);
    let build_s = built.elapsed().as_secs_f64();
    // Points over the domain's lat-lon box and a margin around it.
    let (s, n, w, e) = (-13.3, -8.2, -65.0, -59.7);
    let pts: Vec<(f64, f64)> = (0..100_000)
        .map(halton)
        .map(|(u, v)| (s + u * (n - s), w + v * (e - w)))
        .collect();
    let timed = Instant::now();
    let found: Vec<Option<usize>> = pts.iter().map(|&(la, lo)| loc.locate(la, lo)).collect();
    let index_s = timed.elapsed().as_secs_f64();
    let timed = Instant::now();
    let sample = 1000;
    let all = centres(&grid);
    for (k, &(la, lo)) in pts.iter().enumerate().take(sample) {
        let want = scan_nearest(&all, la, lo);
        if let Some(c) = found[k] {
            assert_eq!(c, want, "point {k} ({la}, {lo})");
        } else {
            // Rejected: the nearest centre is a border cell.
            let (j, i) = (want / nx, want % nx);
            assert!(j == 0 || i == 0 || j + 1 == ny || i + 1 == nx, "point {k}");
        }
    }
    let scan_s = timed.elapsed().as_secs_f64() * (pts.len() / sample) as f64;
    let inside = found.iter().filter(|c| c.is_some()).count();
    println!(
        "129x129 WPS grid: index built in {build_s:.4} s; 100000 points located in {index_s:.4} s \
         ({inside} inside); a scan of every centre would take {scan_s:.1} s"
    );
    assert!(inside > 50_000 && inside < 100_000, "{inside}");
    // Half a cell beyond the western and northern border: out; a bit less: in.
    let c = |j: usize, i: usize| (grid.lat(j, i), grid.lon(j, i));
    let step =
        |a: (f64, f64), b: (f64, f64), f: f64| (a.0 + f * (a.0 - b.0), a.1 + f * (a.1 - b.1));
    for (edge, inner, cell) in [
        (c(60, 0), c(60, 1), 60 * nx),
        (c(ny - 1, 70), c(ny - 2, 70), (ny - 1) * nx + 70),
    ] {
        let p = step(edge, inner, 0.45);
        assert_eq!(loc.locate(p.0, p.1), Some(cell));
        let p = step(edge, inner, 0.55);
        assert_eq!(loc.locate(p.0, p.1), None);
    }

    // The mapping's rules on this grid: outside the window, outside the grid, water.
    let water = (0..grid.ncells()).find(|&k| !grid.land_mask()[k]).unwrap();
    let land = (ny / 2 * nx + nx / 2..grid.ncells())
        .find(|&k| grid.land_mask()[k])
        .unwrap();
    let (wj, wi) = (water / nx, water % nx);
    let (lj, li) = (land / nx, land % nx);
    let obs = [
        obs_at(grid.lat(lj, li), grid.lon(lj, li), t(1, 0), 0.20),
        obs_at(grid.lat(lj, li) + 1e-4, grid.lon(lj, li), t(2, 0), 0.30),
        obs_at(grid.lat(wj, wi), grid.lon(wj, wi), t(2, 0), 0.25),
        obs_at(-20.0, -62.0, t(2, 0), 0.25),
        obs_at(grid.lat(lj, li), grid.lon(lj, li), t(7, 0), 0.25),
    ];
    let g = MappingGrid::Indexed(IndexedGrid {
        grid: &grid,
        locator: &loc,
    });
    let (cells, rej) = map_observations(&obs, (t(0, 0), t(6, 0)), g, Combine::Average, 0.0);
    assert_eq!(cells.len(), 1);
    assert_eq!((cells[0].cell, cells[0].iy, cells[0].ix), (land, lj, li));
    assert!((cells[0].value - 0.25).abs() < 1e-15 && cells[0].count == 2);
    assert_eq!(cells[0].time, t(2, 0));
    for (rule, n) in [("outside_window", 1), ("outside_grid", 1), ("not_land", 1)] {
        assert_eq!(rej.get(rule), n, "{rule}");
    }
    let (latest, _) = map_observations(&obs, (t(0, 0), t(6, 0)), g, Combine::Latest, 0.0);
    assert_eq!(latest[0].value, 0.30);
    // A 10 km footprint reaches the land cells whose centres are within 10 km east and
    // north: two cells (4 km) each way on this grid, 25 cells where all are land.
    let (foot, _) = map_observations(&obs[1..2], (t(0, 0), t(6, 0)), g, Combine::Average, 10.0);
    let land_near = (lj - 2..=lj + 2)
        .flat_map(|j| (li - 2..=li + 2).map(move |i| j * nx + i))
        .filter(|&k| grid.land_mask()[k])
        .count();
    assert_eq!(foot.len(), land_near);
    assert!(foot.iter().all(|c| c.value == 0.30 && c.count == 1));
}

/// SMAP-like granule with one retrieval per EASE 36 km cell in the box around the domain.
fn write_smap(dir: &Path, time: NaiveDateTime, value: f64) -> usize {
    let d = dir.join("obs/smap");
    std::fs::create_dir_all(&d).unwrap();
    let path = d.join(format!(
        "SMAP_L2_SM_P_00001_D_{}_R18290_001.h5",
        time.format("%Y%m%dT%H%M%S")
    ));
    let cells = landcycle::obs::ease::cells_in_box_36km(-13.8, -7.8, -65.4, -59.3);
    let rs: Vec<SimSmapRetrieval> = cells
        .iter()
        .enumerate()
        .map(|(k, &(row, col))| {
            let v = value + 0.01 * (k % 5) as f64;
            let mut r = SimSmapRetrieval::at_ease_cell(row as u16, col as u16, time, v).unwrap();
            r.time = time + Duration::seconds(k as i64);
            r
        })
        .collect();
    write_smap_like_granule(&path, &rs).unwrap();
    rs.len()
}

/// ASCAT-like orbit file with nodes on a 0.1125° lattice over the domain (12.5 km product).
fn write_ascat(dir: &Path, time: NaiveDateTime, percent: f64) {
    let nodes: Vec<(f64, f64)> = (0..44)
        .flat_map(|r| (0..44).map(move |c| (-13.2 + 0.1125 * r as f64, -64.8 + 0.1125 * c as f64)))
        .collect();
    common::bucket_case::write_ascat(dir, time, &nodes, percent);
}

/// The case: the WPS domain as static file, synthetic weather around it, spatially
/// correlated forcing, state and initial perturbations, SMAP+ASCAT with localisation.
fn rondonia_case(dir: &Path, geo_em: &Path) -> PathBuf {
    let nml = write_case_namelist(
        dir,
        24,
        22,
        3,
        "2020-06-01_00:00:00",
        "2020-06-01_12:00:00",
        (-13.5, -65.25),
    );
    // The synthetic case writes its own static file; the run then uses the WPS domain.
    synth(&nml);
    let text = std::fs::read_to_string(&nml)
        .unwrap()
        .replace(
            "  static_file = 'case/static.nc'\n  static_format = 'landcycle'\n",
            &format!("  static_file = '{}'\n  static_format = 'geo_em'\n", geo_em.display()),
        )
        .replace(
            "  interval_seconds = 3600\n",
            "  interval_seconds = 3600\n  spatial_corr_km = 40.0\n  state_interval_seconds = 3600\n",
        )
        .replace(
            "  cold_start_temperature = 290.0\n",
            "  cold_start_soil_moisture_corr_km = 60.0\n  cold_start_temperature = 290.0\n",
        );
    assert!(text.contains("'geo_em'") && text.contains("spatial_corr_km = 40.0"));
    let text = text
        + "&da
  enabled = .true.
  sensors = 'smap', 'ascat'
  smap_directory = 'obs/smap'
  ascat_directory = 'obs/ascat'
  localization_km = 30.0
  qc_precipitation = .false.
  qc_forest = .false.
  qc_green_fraction = .false.
/
";
    std::fs::write(&nml, text).unwrap();
    nml
}

#[test]
fn smap_ascat_cycle_on_the_wps_grid_is_bit_identical_on_1_2_3_ranks() {
    let Some(geo) = geo_em() else { return };
    assert!(have_mpirun(), "mpirun is required");
    let dir = tempfile::tempdir().unwrap();
    let nml = rondonia_case(dir.path(), &geo);
    // SMAP and ASCAT in each window.
    let n_smap = write_smap(dir.path(), t(5, 10), 0.36);
    write_ascat(dir.path(), t(3, 40), 65.0);
    write_ascat(dir.path(), t(9, 20), 55.0);
    write_smap(dir.path(), t(11, 5), 0.22);

    let runs: Vec<PathBuf> = (1..=3).map(|n| dir.path().join(format!("r{n}"))).collect();
    for (n, r) in runs.iter().enumerate() {
        let started = Instant::now();
        run_ok(&nml, n + 1, r, &[]);
        println!("{} ranks: {:.1} s", n + 1, started.elapsed().as_secs_f64());
    }
    assert_eq!(output_files(&runs[0]).len(), 6);
    assert_identical(&runs[0], &runs[1]);
    assert_identical(&runs[0], &runs[2]);
    let diags = common::bucket_case::diag_files(&runs[0]);
    let names: Vec<String> = diags
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "LC_DA_202006010400.nc",
            "LC_DA_202006010530.nc",
            "LC_DA_202006010930.nc",
            "LC_DA_202006011130.nc"
        ]
    );
    for r in &runs[1..] {
        assert_eq!(common::bucket_case::diag_files(r), diags);
        for f in &diags {
            let (a, b) = (runs[0].join(f), r.join(f));
            assert!(
                std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
                "{}",
                f.display()
            );
        }
    }

    // The SMAP analysis at 05:30 on the curvilinear grid: 2-D coordinates, retrievals outside
    // the domain counted as outside_grid, accepted ones mapped to distinct cells, and cells
    // without a retrieval of their own updated through localisation.
    check_cf(&runs[0].join(&diags[1]));
    let nc = netcdf::open(runs[0].join(&diags[1])).unwrap();
    let dims: Vec<String> = nc
        .variable("lat")
        .unwrap()
        .dimensions()
        .iter()
        .map(|d| d.name())
        .collect();
    assert_eq!(dims, ["y", "x"]);
    let ints = |name: &str| -> Vec<i32> { nc.variable(name).unwrap().get_values(..).unwrap() };
    let accepted = ints("smap_accepted")[0];
    let rejected = ints("smap_rejected");
    let rules: Vec<&str> = landcycle::cycle::analysis_1d::QC_RULES.to_vec();
    let outside = rejected[rules.iter().position(|r| *r == "outside_grid").unwrap()];
    assert!(accepted > 50, "accepted {accepted}");
    assert!(outside > 10, "outside_grid {outside}");
    assert!((accepted + rejected.iter().sum::<i32>()) as usize <= n_smap);
    let f32s = |name: &str| -> Vec<f32> { nc.variable(name).unwrap().get_values(..).unwrap() };
    let (inn, inc) = (f32s("smap_innovation"), f32s("increment"));
    let ncell = inn.len();
    let own = inn.iter().filter(|v| **v < 1e19).count();
    let neighbour_only = (0..ncell)
        .filter(|&c| inn[c] > 1e19 && inc[c] < 1e19 && inc[c] != 0.0)
        .count();
    assert_eq!(own, accepted as usize);
    assert!(
        neighbour_only > 10 * own,
        "{neighbour_only} cells updated by neighbours, {own} own"
    );
}
