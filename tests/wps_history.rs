//! History on a WPS domain (the shared Lambert `geo_em.d01.nc`, Rondônia, 4 km): the CF grid
//! mapping, projection x/y and cell corners against the geo_em file's own staggered corner
//! coordinates, and the file as CDO sees it (grid mapping reported, soil axis
//! `depth_below_land`, `remapcon` to a regular grid) and as the CF checker does.

mod common;

use landcycle::grid::wps_domain::WpsDomain;
use std::path::{Path, PathBuf};
use std::process::Command;

fn geo_em() -> Option<PathBuf> {
    landcycle::testdata::require("wps-geo-em/geo_em.d01.nc")
}

fn geo_field(path: &Path, name: &str) -> Vec<f64> {
    let f = netcdf::open(path).unwrap();
    f.variable(name).unwrap().get_values::<f64, _>(..).unwrap()
}

/// Corners from the projection agree with WPS's `XLAT_C`/`XLONG_C` (the mass-cell corners
/// geogrid computes itself) to a few metres.
#[test]
fn projection_corners_match_geogrid() {
    let Some(path) = geo_em() else { return };
    let d = WpsDomain::read_geo_em(&path).unwrap().unwrap();
    let (nx, ny) = (d.x.len(), d.y.len());
    assert_eq!((ny, nx), (129, 129));
    assert_eq!((d.dx, d.dy), (4000.0, 4000.0));
    let (clat, clon) = d.corners();
    let (xlat_c, xlong_c) = (geo_field(&path, "XLAT_C"), geo_field(&path, "XLONG_C"));
    // Corner k of cell (j, i) is staggered point (j + dj, i + di).
    let offsets = [(0, 0), (0, 1), (1, 1), (1, 0)];
    let mut worst: f64 = 0.0;
    for j in 0..ny {
        for i in 0..nx {
            for (k, (dj, di)) in offsets.iter().enumerate() {
                let s = (j + dj) * (nx + 1) + i + di;
                let c = 4 * (j * nx + i) + k;
                worst = worst.max((clat[c] - xlat_c[s]).abs());
                worst = worst.max((clon[c] - xlong_c[s]).abs());
            }
        }
    }
    // float32 geo_em coordinates near 60° are good to ~4e-6°; 1e-4° is ~11 m.
    assert!(
        worst < 1e-4,
        "corners differ from XLAT_C/XLONG_C by {worst}°"
    );
}

/// A geo_em whose projection attributes are wrong is refused, naming the file.
#[test]
fn misplaced_projection_is_refused() {
    let Some(path) = geo_em() else { return };
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("geo_em.d01.nc");
    std::fs::copy(&path, &copy).unwrap();
    {
        let mut f = netcdf::append(&copy).unwrap();
        f.add_attribute("STAND_LON", -70.0f32).unwrap();
    }
    let e = WpsDomain::read_geo_em(&copy).unwrap_err().to_string();
    assert!(e.contains("geo_em.d01.nc") && e.contains("XLAT_M"), "{e}");
}

fn cdo(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("cdo")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("cdo is not available: run scripts/setup, which installs the Debian package cdo");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "cdo {args:?} failed:\n{text}");
    text
}

/// A six-hour run on the geo_em domain with synthetic forcing over it.
fn wps_run(dir: &Path, geo: &Path) -> PathBuf {
    let nml = common::write_case_namelist(
        dir,
        28,
        24,
        2,
        "2020-06-01_00:00:00",
        "2020-06-01_06:00:00",
        (-14.0, -66.0),
    );
    common::synth(&nml);
    let text = std::fs::read_to_string(&nml).unwrap().replace(
        "static_file = 'case/static.nc'\n  static_format = 'landcycle'",
        &format!(
            "static_file = '{}'\n  static_format = 'geo_em'",
            geo.display()
        ),
    );
    std::fs::write(&nml, text).unwrap();
    let rundir = dir.join("rundir");
    common::run_ok(&nml, 0, &rundir, &[]);
    let hist = common::output_files(&rundir)
        .into_iter()
        .find(|p| p.to_string_lossy().contains("LC_HIST_"))
        .expect("a history file");
    rundir.join(hist)
}

#[test]
fn wps_history_has_grid_mapping_and_remaps_conservatively() {
    let Some(geo) = geo_em() else { return };
    let dir = tempfile::tempdir().unwrap();
    let hist = wps_run(dir.path(), &geo);

    let f = netcdf::open(&hist).unwrap();
    let crs = f.variable("crs").expect("crs");
    let name: String = match crs.attribute_value("grid_mapping_name") {
        Some(Ok(netcdf::AttributeValue::Str(s))) => s,
        other => panic!("grid_mapping_name: {other:?}"),
    };
    assert_eq!(name, "lambert_conformal_conic");
    let x = f.variable("x").unwrap().get_values::<f64, _>(..).unwrap();
    assert_eq!(x.len(), 129);
    assert!((x[1] - x[0] - 4000.0).abs() < 1e-6);
    drop(f);

    let info = cdo(dir.path(), &["sinfon", hist.to_str().unwrap()]);
    println!("{info}");
    assert!(info.contains("mapping : lambert_conformal_conic"), "{info}");
    assert!(info.contains("available : cellbounds"), "{info}");
    assert!(info.contains("depth_below_land"), "{info}");
    assert!(!info.contains("depth_below_sea"), "{info}");

    // Conservative remapping to 0.1° over the domain; values stay within the source range.
    let out = dir.path().join("remapped.nc");
    let griddes = dir.path().join("target.txt");
    std::fs::write(
        &griddes,
        "gridtype = lonlat\nxsize = 44\nysize = 42\nxfirst = -64.5\nxinc = 0.1\nyfirst = -12.8\nyinc = 0.1\n",
    )
    .unwrap();
    let op = format!("remapcon,{}", griddes.display());
    cdo(
        dir.path(),
        &[
            "-f",
            "nc4",
            &op,
            "-selname,SoilMoistV",
            hist.to_str().unwrap(),
            out.to_str().unwrap(),
        ],
    );
    let src = netcdf::open(&hist).unwrap();
    let s: Vec<f32> = src.variable("SoilMoistV").unwrap().get_values(..).unwrap();
    let s: Vec<f32> = s.into_iter().filter(|v| *v < 1e10).collect();
    let (lo, hi) = s
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let r = netcdf::open(&out).unwrap();
    let v: Vec<f32> = r.variable("SoilMoistV").unwrap().get_values(..).unwrap();
    let inside: Vec<f32> = v
        .into_iter()
        .filter(|v| v.is_finite() && *v < 1e10)
        .collect();
    assert!(inside.len() > 1000, "{} remapped values", inside.len());
    assert!(
        inside.iter().all(|&v| v >= lo - 1e-6 && v <= hi + 1e-6),
        "remapped values leave the source range [{lo}, {hi}]"
    );
    common::check_cf(&hist);
}
