//! Remapping through SCRIP / ESMF weight files against CDO (Debian package `cdo`, installed
//! by scripts/setup): CDO generates the weights (`genbil`, `gencon`) and the reference
//! fields (`remap`, `remapcon`) from a synthetic field that landcycle writes; landcycle reads
//! the weights, checks them against its grids and remaps.

use std::path::{Path, PathBuf};
use std::process::Command;

use landcycle::grid::weights::{WeightMatrix, WeightsError};
use landcycle::grid::Grid;
use landcycle::io::gridded::{read_field, write_field, GriddedField, Selection};
use landcycle::io::weights::{read_weights, write_weights, WeightLayout};

/// A regular lon-lat grid as CDO describes it (`gridtype = lonlat`).
#[derive(Clone, Copy)]
struct LonLat {
    nx: usize,
    ny: usize,
    x0: f64,
    dx: f64,
    y0: f64,
    dy: f64,
}

impl LonLat {
    fn lon(&self) -> Vec<f64> {
        (0..self.nx).map(|i| self.x0 + i as f64 * self.dx).collect()
    }
    fn lat(&self) -> Vec<f64> {
        (0..self.ny).map(|j| self.y0 + j as f64 * self.dy).collect()
    }
    fn grid(&self) -> Grid {
        Grid::regular(self.lat(), self.lon(), None).unwrap()
    }
    /// Write the CDO grid description file.
    fn write(&self, path: &Path) -> PathBuf {
        let text = format!(
            "gridtype = lonlat\nxsize = {}\nysize = {}\nxfirst = {}\nxinc = {}\nyfirst = {}\nyinc = {}\n",
            self.nx, self.ny, self.x0, self.dx, self.y0, self.dy
        );
        std::fs::write(path, text).unwrap();
        path.to_path_buf()
    }
}

/// Global 5° source with latitudes north → south, as ERA5 stores them.
const SOURCE: LonLat = LonLat {
    nx: 72,
    ny: 36,
    x0: 0.0,
    dx: 5.0,
    y0: 87.5,
    dy: -5.0,
};
/// Coarse global grid in the −180..180 convention.
const COARSE: LonLat = LonLat {
    nx: 24,
    ny: 12,
    x0: -172.5,
    dx: 15.0,
    y0: -82.5,
    dy: 15.0,
};
/// A regional grid over Rondônia.
const REGIONAL: LonLat = LonLat {
    nx: 30,
    ny: 24,
    x0: -66.9,
    dx: 0.3,
    y0: -13.9,
    dy: 0.25,
};

/// Run CDO in `dir`; a missing CDO fails the test with the way to install it.
fn cdo(dir: &Path, env: &[(&str, &str)], args: &[&str]) {
    let out = Command::new("cdo")
        .arg("-s")
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("cdo is not available ({e}): run scripts/setup, which installs the Debian package cdo")
        });
    assert!(
        out.status.success(),
        "cdo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A smooth field with structure at several scales (values 1..5).
fn field_value(lat: f64, lon: f64) -> f64 {
    let (p, l) = (lat.to_radians(), lon.to_radians());
    3.0 + p.cos() * (2.0 * l).sin()
        + 0.5 * (3.0 * p).sin() * (5.0 * l + 0.3).cos()
        + 0.25 * (7.0 * p + 2.0 * l).sin()
}

fn write_source(path: &Path, g: &LonLat, mask: Option<&[bool]>) -> Vec<f64> {
    let (lat, lon) = (g.lat(), g.lon());
    let mut values = Vec::with_capacity(g.nx * g.ny);
    for (j, &y) in lat.iter().enumerate() {
        for (i, &x) in lon.iter().enumerate() {
            let land = mask.is_none_or(|m| m[j * g.nx + i]);
            values.push(if land { field_value(y, x) } else { f64::NAN });
        }
    }
    let f = GriddedField {
        name: "f".into(),
        units: Some("1".into()),
        long_name: Some("synthetic field".into()),
        lat_name: "lat".into(),
        lon_name: "lon".into(),
        lat,
        lon,
        values: values.clone(),
    };
    write_field(path, &f, "landcycle tests/remap_weights.rs").unwrap();
    values
}

/// CDO's output on `g`, row-major (j, i) as landcycle indexes it.
fn read_cdo(path: &Path, g: &LonLat) -> Vec<f64> {
    let f = read_field(path, "f", &Selection::default()).unwrap();
    assert_eq!((f.lat.len(), f.lon.len()), (g.ny, g.nx));
    for (a, b) in f.lat.iter().zip(g.lat()) {
        assert!(
            (a - b).abs() < 1e-9,
            "CDO output latitude {a}, expected {b}"
        );
    }
    f.values
}

/// (max |a − b|, max |a − b| / |b|).
fn max_diff(a: &[f64], b: &[f64]) -> (f64, f64) {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold((0.0, 0.0), |(ab, rel), (x, y)| {
        let d = (x - y).abs();
        (ab.max(d), rel.max(d / y.abs()))
    })
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Weights for `target` made by `cdo <op>`, checked against both grids.
fn cdo_weights(
    dir: &Path,
    op: &str,
    target: &LonLat,
    env: &[(&str, &str)],
) -> (PathBuf, WeightMatrix) {
    let grid_file = target.write(&dir.join(format!("grid_{}x{}.txt", target.nx, target.ny)));
    let w = dir.join(format!("w_{op}_{}x{}.nc", target.nx, target.ny));
    let arg = format!("{op},{}", grid_file.display());
    cdo(dir, env, &[&arg, "src.nc", w.to_str().unwrap()]);
    let m = WeightMatrix::read(&w).unwrap();
    m.check_source(&SOURCE.grid()).unwrap();
    m.check_destination(&target.grid()).unwrap();
    (w, m)
}

#[test]
fn bilinear_and_conservative_match_cdo_remap() {
    let dir = tmp();
    let d = dir.path();
    let src = write_source(&d.join("src.nc"), &SOURCE, None);
    for target in [COARSE, REGIONAL] {
        for op in ["genbil", "gencon"] {
            let (w, m) = cdo_weights(d, op, &target, &[]);
            let grid_file = d.join(format!("grid_{}x{}.txt", target.nx, target.ny));
            let arg = format!("remap,{},{}", grid_file.display(), w.display());
            cdo(d, &[], &[&arg, "src.nc", "ref.nc"]);
            let reference = read_cdo(&d.join("ref.nc"), &target);
            let ours = m.remap(&src).unwrap();
            let (abs, rel) = max_diff(&ours, &reference);
            eprintln!(
                "{op} to {}x{}: {} links, max abs diff {abs:e}, max rel diff {rel:e}",
                target.nx,
                target.ny,
                m.n_links()
            );
            assert!(
                rel <= 1e-14,
                "{op} {}x{}: relative difference {rel:e} from cdo remap",
                target.nx,
                target.ny
            );

            // One "rank": every third destination cell, from the source cells it needs only.
            let mine: Vec<u64> = (0..m.n_destination() as u64)
                .filter(|g| g % 3 == 1)
                .collect();
            let rows = m.rows(&mine).unwrap();
            let needed: Vec<f64> = rows.source_ids().iter().map(|&s| src[s as usize]).collect();
            let part = rows.remap(&needed).unwrap();
            for (k, &g) in mine.iter().enumerate() {
                assert_eq!(part[k].to_bits(), ours[g as usize].to_bits(), "cell {g}");
            }
            if target.nx == REGIONAL.nx {
                assert!(
                    rows.source_ids().len() < src.len() / 20,
                    "a regional rank reads a few source cells"
                );
            }
        }
    }
}

#[test]
fn scrip_and_esmf_layouts_give_identical_results() {
    let dir = tmp();
    let d = dir.path();
    let src = write_source(&d.join("src.nc"), &SOURCE, None);
    for op in ["genbil", "gencon"] {
        let (w, scrip) = cdo_weights(d, op, &REGIONAL, &[]);
        let esmf_path = d.join(format!("esmf_{op}.nc"));
        write_weights(&esmf_path, &read_weights(&w).unwrap(), WeightLayout::Esmf).unwrap();
        let esmf = WeightMatrix::read(&esmf_path).unwrap();
        assert_eq!(esmf.layout(), WeightLayout::Esmf);
        esmf.check_source(&SOURCE.grid()).unwrap();
        esmf.check_destination(&REGIONAL.grid()).unwrap();
        let a = scrip.remap(&src).unwrap();
        let b = esmf.remap(&src).unwrap();
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a), bits(&b), "{op}: SCRIP and ESMF results differ");
    }
}

#[test]
fn full_coverage_conservative_weights_conserve_the_area_integral() {
    let dir = tmp();
    let d = dir.path();
    let src = write_source(&d.join("src.nc"), &SOURCE, None);
    let (_, m) = cdo_weights(d, "gencon", &COARSE, &[]);
    let dst = m.remap(&src).unwrap();
    let integral = |area: &Option<Vec<f64>>, v: &[f64]| -> f64 {
        area.as_ref()
            .unwrap()
            .iter()
            .zip(v)
            .map(|(a, x)| a * x)
            .sum()
    };
    let (a, b) = (
        integral(&m.source().area, &src),
        integral(&m.destination().area, &dst),
    );
    let rel = (a - b).abs() / a.abs();
    eprintln!("area integral: source {a}, destination {b}, relative difference {rel:e}");
    assert!(
        rel <= 1e-12,
        "conservative remap changed the area integral by {rel:e}"
    );
}

/// Land grid (0.25°) over part of the atmosphere grid (1.5°), with a coastline.
const LAND: LonLat = LonLat {
    nx: 40,
    ny: 32,
    x0: -69.875,
    dx: 0.25,
    y0: -14.875,
    dy: 0.25,
};
const ATMOSPHERE: LonLat = LonLat {
    nx: 10,
    ny: 9,
    x0: -71.25,
    dx: 1.5,
    y0: -16.5,
    dy: 1.5,
};

fn land_mask() -> Vec<bool> {
    let (lat, lon) = (LAND.lat(), LAND.lon());
    let mut m = Vec::new();
    for &y in &lat {
        for &x in &lon {
            m.push(y + 0.6 * (x + 65.0) - 0.4 * ((x * 1.7).sin()) < -9.0);
        }
    }
    m
}

#[test]
fn land_to_atmosphere_takes_the_mean_of_the_land_part() {
    let dir = tmp();
    let d = dir.path();
    let mask = land_mask();
    let land = write_source(&d.join("land.nc"), &LAND, None);
    write_source(&d.join("land_masked.nc"), &LAND, Some(&mask));
    let atm_txt = ATMOSPHERE.write(&d.join("atm.txt"));
    let atm = atm_txt.to_str().unwrap();
    for (norm, file) in [("fracarea", "w_frac.nc"), ("destarea", "w_dest.nc")] {
        cdo(
            d,
            &[("CDO_REMAP_NORM", norm)],
            &[&format!("gencon,{atm}"), "land.nc", file],
        );
    }
    // CDO's own masked conservative remapping: the reference for partly-land cells.
    cdo(
        d,
        &[],
        &[&format!("remapcon,{atm}"), "land_masked.nc", "ref.nc"],
    );
    let reference = read_cdo(&d.join("ref.nc"), &ATMOSPHERE);
    let prior: Vec<f64> = (0..ATMOSPHERE.nx * ATMOSPHERE.ny)
        .map(|k| 280.0 + k as f64 * 0.125)
        .collect();

    let mut results = Vec::new();
    for file in ["w_frac.nc", "w_dest.nc"] {
        let m = WeightMatrix::read(&d.join(file)).unwrap();
        m.check_source(&LAND.grid()).unwrap();
        m.check_destination(&ATMOSPHERE.grid()).unwrap();
        let rows = m.all_rows();
        let src: Vec<f64> = rows
            .source_ids()
            .iter()
            .map(|&s| land[s as usize])
            .collect();
        let src_mask: Vec<bool> = rows
            .source_ids()
            .iter()
            .map(|&s| mask[s as usize])
            .collect();
        let mut out = prior.clone();
        rows.masked_mean(&src, &src_mask, &mut out).unwrap();
        results.push(out);
        let frac = m.destination().frac.clone().unwrap();
        let partial = frac.iter().filter(|&&f| f > 0.0 && f < 1.0).count();
        assert!(
            partial > 0,
            "the land grid covers some atmosphere cells in part"
        );
    }
    let out = &results[0];
    let (mut with_land, mut without, mut worst) = (0, 0, 0f64);
    for k in 0..out.len() {
        if reference[k].is_nan() {
            assert_eq!(
                out[k].to_bits(),
                prior[k].to_bits(),
                "atmosphere cell {k} has no land and keeps its value"
            );
            without += 1;
        } else {
            worst = worst.max((out[k] - reference[k]).abs() / reference[k].abs());
            with_land += 1;
        }
    }
    eprintln!("land to atmosphere: {with_land} cells with land (max rel diff from cdo remapcon {worst:e}), {without} without");
    assert!(with_land > 10 && without > 10);
    assert!(
        worst <= 1e-12,
        "land part mean differs from cdo remapcon by {worst:e}"
    );
    let (_, rel) = max_diff(&results[1], out);
    eprintln!("destarea vs fracarea weights: max rel diff {rel:e}");
    assert!(rel <= 1e-13);
    destarea_remap_is_the_covered_part_mean(d, &land);
}

/// Unmasked: `destarea` weights, divided by `frac_b`, give what `cdo remap` gives with the
/// `fracarea` weights on every covered cell, while `cdo remap` with the `destarea` weights
/// (applied as stored) differs on the partly covered ones.
fn destarea_remap_is_the_covered_part_mean(d: &Path, land: &[f64]) {
    let atm = d.join("atm.txt");
    for file in ["w_frac.nc", "w_dest.nc"] {
        let arg = format!("remap,{},{file}", atm.display());
        cdo(d, &[], &[&arg, "land.nc", &format!("ref_{file}")]);
    }
    let frac_ref = read_cdo(&d.join("ref_w_frac.nc"), &ATMOSPHERE);
    let dest_ref = read_cdo(&d.join("ref_w_dest.nc"), &ATMOSPHERE);
    let m = WeightMatrix::read(&d.join("w_dest.nc")).unwrap();
    let frac = m.destination().frac.clone().unwrap();
    let covered: Vec<u64> = (0..frac.len() as u64)
        .filter(|&k| frac[k as usize] > 0.0)
        .collect();
    let rows = m.rows(&covered).unwrap();
    let src: Vec<f64> = rows
        .source_ids()
        .iter()
        .map(|&s| land[s as usize])
        .collect();
    let ours = rows.remap(&src).unwrap();
    let pick = |v: &[f64]| covered.iter().map(|&k| v[k as usize]).collect::<Vec<_>>();
    let (_, rel) = max_diff(&ours, &pick(&frac_ref));
    eprintln!("destarea remap vs cdo remap with fracarea weights ({} covered cells): max rel diff {rel:e}", covered.len());
    assert!(rel <= 1e-13);
    let (_, as_stored) = max_diff(&ours, &pick(&dest_ref));
    assert!(
        as_stored > 0.1,
        "partly covered cells differ from destarea weights applied as stored"
    );
}

#[test]
fn wrong_grid_and_transposed_files_are_refused() {
    let dir = tmp();
    let d = dir.path();
    write_source(&d.join("src.nc"), &SOURCE, None);
    let (w, m) = cdo_weights(d, "genbil", &COARSE, &[]);

    let msg = m
        .check_destination(&REGIONAL.grid())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("destination grid has 288 cells in the file, 720"),
        "{msg}"
    );
    assert!(msg.contains(w.to_str().unwrap()), "names the file: {msg}");

    let shifted = LonLat { x0: 0.5, ..SOURCE }.grid();
    let msg = m.check_source(&shifted).unwrap_err().to_string();
    assert!(msg.contains("source cell 1 (j=0, i=0)"), "{msg}");

    // The same weights with the source grid stored latitude-fastest.
    let file = read_weights(&w).unwrap();
    let (nx, ny) = (SOURCE.nx, SOURCE.ny);
    let to_lat_fastest = |k: usize| (k % nx) * ny + k / nx;
    let mut t = file.clone();
    for k in 0..nx * ny {
        t.src.lat[to_lat_fastest(k)] = file.src.lat[k];
        t.src.lon[to_lat_fastest(k)] = file.src.lon[k];
    }
    for a in t.src_address.iter_mut() {
        *a = to_lat_fastest(*a as usize - 1) as i64 + 1;
    }
    let bad = d.join("transposed.nc");
    write_weights(&bad, &t, WeightLayout::Scrip).unwrap();
    let msg = WeightMatrix::read(&bad)
        .unwrap()
        .check_source(&SOURCE.grid())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("source grid is lat/lon transposed: its cell centres are landcycle's with latitude running fastest"), "{msg}");
    t.src.dims = vec![ny, nx];
    write_weights(&bad, &t, WeightLayout::Esmf).unwrap();
    let msg = WeightMatrix::read(&bad)
        .unwrap()
        .check_source(&SOURCE.grid())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("src_grid_dims = [36, 72] is [ny, nx]"),
        "{msg}"
    );

    let mut out_of_range = file.clone();
    out_of_range.dst_address[5] = 289;
    let err = WeightMatrix::from_file(out_of_range).unwrap_err();
    assert!(
        matches!(
            err,
            WeightsError::Address {
                link: 5,
                value: 289,
                size: 288,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("dst_address[5] = 289 is outside 1..=288"),
        "{err}"
    );
}

/// A curvilinear destination (a sheared, rotated 12 × 9 grid like a WPS domain), given to
/// CDO as a `gridtype = curvilinear` description with x running fastest.
#[test]
fn curvilinear_destination_matches_cdo_remap() {
    let dir = tmp();
    let d = dir.path();
    let src = write_source(&d.join("src.nc"), &SOURCE, None);
    let (nx, ny) = (12, 9);
    let mut lat = Vec::new();
    let mut lon = Vec::new();
    for j in 0..ny {
        for i in 0..nx {
            lat.push(-12.0 + 0.3 * j as f64 + 0.05 * i as f64);
            lon.push(-64.0 + 0.3 * i as f64 - 0.04 * j as f64);
        }
    }
    let join = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let text = format!(
        "gridtype = curvilinear\ngridsize = {}\nxsize = {nx}\nysize = {ny}\nxvals = {}\nyvals = {}\n",
        nx * ny,
        join(&lon),
        join(&lat)
    );
    std::fs::write(d.join("curv.txt"), text).unwrap();
    cdo(d, &[], &["genbil,curv.txt", "src.nc", "w.nc"]);
    cdo(d, &[], &["remap,curv.txt,w.nc", "src.nc", "ref.nc"]);
    let m = WeightMatrix::read(&d.join("w.nc")).unwrap();
    let grid = Grid::curvilinear(ny, nx, lat, lon, None).unwrap();
    m.check_destination(&grid).unwrap();
    let reference: Vec<f64> = netcdf::open(d.join("ref.nc"))
        .unwrap()
        .variable("f")
        .unwrap()
        .get_values::<f64, _>(..)
        .unwrap();
    let ours = m.remap(&src).unwrap();
    let (abs, rel) = max_diff(&ours, &reference);
    eprintln!("genbil to curvilinear {nx}x{ny}: max abs diff {abs:e}, max rel diff {rel:e}");
    assert!(rel <= 1e-14);
    // The same grid with i and j swapped is a different grid: refused at the first cell.
    let (lat_t, lon_t): (Vec<f64>, Vec<f64>) = (0..nx * ny)
        .map(|k| (grid.lat(k % ny, k / ny), grid.lon(k % ny, k / ny)))
        .unzip();
    let swapped = Grid::curvilinear(nx, ny, lat_t, lon_t, None).unwrap();
    let msg = m.check_destination(&swapped).unwrap_err().to_string();
    assert!(msg.contains("transposed"), "{msg}");
}
