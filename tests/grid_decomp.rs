//! Grid geometry helpers and the land-cell decomposition.

use landcycle::grid::decomp::hilbert_index;
use landcycle::grid::{Decomposition, Grid, StaticFields};
use landcycle::synth::statics::synth_statics;

fn check_decomposition(grid: &Grid, nranks: usize) -> Decomposition {
    let d = Decomposition::new(grid, nranks).unwrap();
    let land = grid.land_cells();
    assert_eq!(d.nranks(), nranks);
    assert_eq!(d.n_land(), land.len());
    // Every land cell exactly once, no ocean cell.
    let mut all: Vec<u64> = (0..nranks).flat_map(|r| d.cells_of(r).to_vec()).collect();
    assert_eq!(all.len(), land.len());
    all.sort_unstable();
    assert_eq!(all, land);
    // Balanced: sizes differ by at most one, larger chunks first.
    let counts = d.counts();
    assert_eq!(counts.iter().sum::<usize>(), land.len());
    let (min, max) = (*counts.iter().min().unwrap(), *counts.iter().max().unwrap());
    assert!(max - min <= 1, "counts {counts:?}");
    assert!(counts.windows(2).all(|w| w[0] >= w[1]));
    // Contiguous along the curve: concatenating the chunks in rank order gives the land
    // cells sorted by Hilbert index.
    let side = (grid.ny().max(grid.nx()) as u64).next_power_of_two();
    let key = |id: u64| hilbert_index(side, id / grid.nx() as u64, id % grid.nx() as u64);
    let concat: Vec<u64> = (0..nranks).flat_map(|r| d.cells_of(r).to_vec()).collect();
    assert!(concat.windows(2).all(|w| key(w[0]) < key(w[1])));
    assert_eq!(concat, d.curve_order());
    // Owners agree with the chunks; ocean cells have none.
    for r in 0..nranks {
        for &id in d.cells_of(r) {
            assert_eq!(d.owner_of(id), r);
        }
    }
    for (k, &l) in grid.land_mask().iter().enumerate() {
        if !l {
            assert_eq!(d.try_owner_of(k as u64), None);
        }
    }
    assert_eq!(d.try_owner_of(grid.ncells() as u64), None);
    // Deterministic.
    assert_eq!(d, Decomposition::new(grid, nranks).unwrap());
    d
}

/// Mean bounding-box area (cells) of the non-empty chunks.
fn mean_bbox_cells(grid: &Grid, d: &Decomposition) -> f64 {
    let boxes: Vec<usize> = (0..d.nranks())
        .filter_map(|r| grid.index_box(d.cells_of(r)).unwrap())
        .map(|b| b.len())
        .collect();
    boxes.iter().sum::<usize>() as f64 / boxes.len() as f64
}

#[test]
fn decomposition_of_synthetic_domain() {
    let sf = synth_statics(64, 48, 35.0, -100.0, 0.25, 11);
    let grid = &sf.grid;
    let domain = grid.ncells() as f64;
    for nranks in [1, 2, 3, 7] {
        let d = check_decomposition(grid, nranks);
        let mean = mean_bbox_cells(grid, &d);
        println!("synthetic 64x48, {nranks} ranks: mean chunk bbox {mean:.0} of {domain} cells");
        if nranks >= 3 {
            // Locality: a chunk's box is a small multiple of its share of the domain,
            // far from the whole domain a scattered assignment would give.
            assert!(mean < 0.6 * domain, "{nranks} ranks: mean bbox {mean}");
            assert!(
                mean < 3.0 * domain / nranks as f64,
                "{nranks} ranks: mean bbox {mean}"
            );
        }
    }
    // Independent of anything but the grid and nranks: a clone of the grid built from
    // the same coordinates and mask gives the same result.
    let g2 = Grid::regular(
        grid.lat_1d().unwrap().to_vec(),
        grid.lon_1d().unwrap().to_vec(),
        Some(grid.land_mask().to_vec()),
    )
    .unwrap();
    assert_eq!(
        Decomposition::new(grid, 7).unwrap(),
        Decomposition::new(&g2, 7).unwrap()
    );
}

#[test]
fn decomposition_of_wps_domain() {
    let Some(path) = landcycle::testdata::require("wps-geo-em/geo_em.d01.nc") else {
        return;
    };
    let sf = StaticFields::read_geo_em(&path).unwrap();
    let domain = sf.grid.ncells() as f64;
    for nranks in [1, 2, 3, 7, 64] {
        let d = check_decomposition(&sf.grid, nranks);
        let mean = mean_bbox_cells(&sf.grid, &d);
        println!("geo_em 129x129, {nranks} ranks: mean chunk bbox {mean:.0} of {domain} cells");
        if nranks >= 3 {
            assert!(
                mean < 3.0 * domain / nranks as f64,
                "{nranks} ranks: mean bbox {mean}"
            );
        }
    }
}

#[test]
fn more_ranks_than_land_cells() {
    // 5 x 4 grid with 3 land cells, 8 ranks: ranks 0..3 get one cell, 3..8 none.
    let mut mask = vec![false; 20];
    for k in [2, 7, 19] {
        mask[k] = true;
    }
    let grid = Grid::regular(
        vec![10.0, 10.5, 11.0, 11.5, 12.0],
        vec![0.0, 0.5, 1.0, 1.5],
        Some(mask),
    )
    .unwrap();
    let d = check_decomposition(&grid, 8);
    assert_eq!(d.counts(), vec![1, 1, 1, 0, 0, 0, 0, 0]);
    for r in 3..8 {
        assert!(d.cells_of(r).is_empty());
        assert_eq!(grid.bounding_box(d.cells_of(r)).unwrap(), None);
    }
    // No land at all: every rank is empty, nothing panics.
    let dry = Grid::regular(vec![0.0, 1.0], vec![0.0, 1.0], Some(vec![false; 4])).unwrap();
    let d = check_decomposition(&dry, 3);
    assert_eq!(d.counts(), vec![0, 0, 0]);
    // Zero ranks is an error; duplicated or out-of-grid ids are errors.
    assert!(Decomposition::new(&grid, 0).is_err());
    assert!(Decomposition::from_land_cells(5, 4, &[1, 1], 2).is_err());
    assert!(Decomposition::from_land_cells(5, 4, &[20], 2).is_err());
}

#[test]
fn regular_grid_ids_areas_and_boxes() {
    // Descending latitudes (as ERA5 stores them), ascending longitudes.
    let lat: Vec<f64> = (0..4).map(|j| 45.0 - j as f64 * 0.5).collect();
    let lon: Vec<f64> = (0..6).map(|i| -10.0 + i as f64 * 0.5).collect();
    let g = Grid::regular(lat, lon, None).unwrap();
    assert_eq!(g.dims(), (4, 6));
    assert_eq!(g.global_id(2, 3), 15);
    assert_eq!(g.index_of(15).unwrap(), (2, 3));
    assert!(g.index_of(24).is_err());
    assert!(!g.is_periodic());
    assert_eq!(g.lat(1, 0), 44.5);
    // Area of a 0.5° cell centred at 44.5 N: R² Δλ (sin 44.75 - sin 44.25).
    let r = landcycle::grid::EARTH_RADIUS;
    let expect =
        r * r * 0.5f64.to_radians() * (44.75f64.to_radians().sin() - 44.25f64.to_radians().sin());
    let a = g.cell_areas();
    assert!(
        (a[6] - expect).abs() < 1e-6 * expect,
        "{} vs {expect}",
        a[6]
    );
    // Bounding boxes of a scattered set.
    let (ib, lb) = g
        .bounding_box(&[g.global_id(1, 4), g.global_id(3, 1)])
        .unwrap()
        .unwrap();
    assert_eq!((ib.j0, ib.j1, ib.i0, ib.i1), (1, 4, 1, 5));
    assert_eq!(
        (lb.south, lb.north, lb.west, lb.east),
        (43.5, 44.5, -9.5, -8.0)
    );
    assert!(g.bounding_box(&[99]).is_err());
    let e = lb.expanded(1.0);
    assert_eq!(
        (e.south, e.north, e.west, e.east),
        (42.5, 45.5, -10.5, -7.0)
    );

    // Global 1° grid: periodic longitudes; areas sum to the sphere.
    let lat: Vec<f64> = (0..180).map(|j| -89.5 + j as f64).collect();
    let lon: Vec<f64> = (0..360).map(|i| 0.5 + i as f64).collect();
    let g = Grid::regular(lat, lon, None).unwrap();
    assert!(g.is_periodic());
    let total: f64 = g.cell_areas().iter().sum();
    let sphere = 4.0 * std::f64::consts::PI * r * r;
    assert!((total / sphere - 1.0).abs() < 1e-9, "{total} vs {sphere}");

    // Invalid coordinates are errors.
    assert!(Grid::regular(vec![1.0, 1.0], vec![0.0], None).is_err());
    assert!(Grid::regular(vec![91.0], vec![0.0], None).is_err());
    assert!(Grid::regular(vec![0.0, 1.0], vec![0.0, f64::NAN], None).is_err());
    assert!(Grid::regular(vec![0.0], vec![0.0], Some(vec![true, false])).is_err());
}

#[test]
fn curvilinear_grid_areas_match_regular() {
    // A regular grid expressed as 2-D arrays: areas agree with the exact band formula in
    // the interior.
    let (ny, nx) = (10, 12);
    let lat1: Vec<f64> = (0..ny).map(|j| 30.0 + j as f64 * 0.25).collect();
    let lon1: Vec<f64> = (0..nx).map(|i| 100.0 + i as f64 * 0.25).collect();
    let reg = Grid::regular(lat1.clone(), lon1.clone(), None).unwrap();
    let mut lat2 = Vec::new();
    let mut lon2 = Vec::new();
    for &la in &lat1 {
        for &lo in &lon1 {
            lat2.push(la);
            lon2.push(lo);
        }
    }
    let cur = Grid::curvilinear(ny, nx, lat2, lon2, None).unwrap();
    assert!(!cur.is_regular() && !cur.is_periodic());
    let (ar, ac) = (reg.cell_areas(), cur.cell_areas());
    for k in 0..ny * nx {
        assert!(
            (ar[k] / ac[k] - 1.0).abs() < 1e-3,
            "cell {k}: {} vs {}",
            ar[k],
            ac[k]
        );
    }
    let (ib, lb) = cur
        .bounding_box(&[cur.global_id(2, 3), cur.global_id(5, 1)])
        .unwrap()
        .unwrap();
    assert_eq!((ib.j0, ib.j1, ib.i0, ib.i1), (2, 6, 1, 4));
    assert_eq!(
        (lb.south, lb.north, lb.west, lb.east),
        (30.5, 31.25, 100.25, 100.75)
    );
    assert!(Grid::curvilinear(2, 2, vec![0.0; 3], vec![0.0; 4], None).is_err());

    // A curvilinear domain across the date line: a tight, unwrapped longitude box.
    let lat = vec![60.0, 60.0, 60.0, 61.0, 61.0, 61.0];
    let lon = vec![179.0, -179.5, -178.0, 178.5, -179.8, -178.2];
    let g = Grid::curvilinear(2, 3, lat, lon, None).unwrap();
    let lb = g.lat_lon_box(&[0, 2, 3]).unwrap().unwrap();
    assert_eq!((lb.west, lb.east), (178.5, 182.0));
    // The areas stay small and positive across the seam.
    assert!(g.cell_areas().iter().all(|&a| a > 0.0 && a < 2.0e10));
}
