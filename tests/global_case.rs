//! The global benchmark case's pieces: the synthetic case on ERA5's real 0.25° land mask
//! (count, orientation, bad input) and `bench cycle` on a tiny case.

mod common;

use std::path::Path;

use landcycle::commands::bench_cycle::{bench_cycle, dir_bytes, CycleBenchArgs};
use landcycle::parallel::SingleProcess;
use landcycle::synth::land_mask::{read_land_mask, LandMaskSpec};
use landcycle::synth::statics::synth_statics_on_mask;

fn era5_spec() -> Option<LandMaskSpec> {
    let file = landcycle::testdata::require("era5/ERA5_AN_20100101_0000.nc")?;
    Some(LandMaskSpec {
        file,
        variable: "lsm".into(),
        threshold: 0.5,
        lat_min: -60.0,
        lat_max: 90.0,
    })
}

#[test]
fn era5_mask_has_the_globes_land_cells_south_to_north_from_the_dateline() {
    let Some(spec) = era5_spec() else { return };
    let m = read_land_mask(&spec).unwrap();
    // GLDAS's 600 rows (60° S up to, not including, the pole row) × 1440 columns.
    assert_eq!((m.lat.len(), m.lon.len()), (600, 1440));
    assert_eq!((m.lat[0], m.lat[599]), (-60.0, 89.75));
    assert_eq!((m.lon[0], m.lon[1439]), (-180.0, 179.75));
    assert_eq!(m.resolution, 0.25);
    // Counted independently from `ncdump -v lsm` (lsm ≥ 0.5, −60 ≤ lat < 90).
    let n = m.n_land();
    assert!((230_000..260_000).contains(&n), "{n} land cells");
    assert_eq!(n, 244_450);
    // Known land (lsm ≥ 0.98 in the file) and open ocean (lsm = 0). A north-south flip
    // would put (45N, 10E) in the South Atlantic; an unrotated 0..360 axis would move the
    // American points into the Pacific.
    for (lat, lon) in [
        (45.0, 10.0),
        (0.0, 20.0),
        (-25.0, 135.0),
        (40.0, -100.0),
        (70.0, 100.0),
        (-45.0, -70.0),
    ] {
        assert_eq!(m.is_land_at(lat, lon), Some(true), "({lat}, {lon}) is land");
    }
    for (lat, lon) in [
        (0.0, -140.0),
        (-40.0, -30.0),
        (30.0, -40.0),
        (-50.0, 80.0),
        (-45.0, 10.0),
    ] {
        assert_eq!(
            m.is_land_at(lat, lon),
            Some(false),
            "({lat}, {lon}) is ocean"
        );
    }
    assert_eq!(
        m.is_land_at(-75.0, 0.0),
        None,
        "Antarctica is outside 60S-90N"
    );
}

#[test]
fn statics_on_a_mask_keep_its_land_cells_and_are_deterministic() {
    let Some(spec) = era5_spec() else { return };
    // A 10° window around the Alps and the Mediterranean: land and sea both present.
    let spec = LandMaskSpec {
        lat_min: 40.0,
        lat_max: 50.0,
        ..spec
    };
    let m = read_land_mask(&spec).unwrap();
    let s = synth_statics_on_mask(&m, 5).unwrap();
    let land = s.land_cells();
    assert_eq!(land.len(), m.n_land());
    let mask_ids: Vec<u64> = (0..m.land.len() as u64)
        .filter(|&k| m.land[k as usize])
        .collect();
    assert_eq!(land, mask_ids);
    assert_eq!(s, synth_statics_on_mask(&m, 5).unwrap());
    // Water cells carry the water classes; land cells get soils and vegetation.
    let water = (0..m.land.len()).find(|&k| !m.land[k]).unwrap();
    assert_eq!(s.vegetation_class[water], 16);
    assert!(land
        .iter()
        .all(|&k| s.vegetation_class[k as usize] != 16 && s.soil_class[k as usize] != 14));
}

#[test]
fn a_bad_mask_file_or_variable_is_an_error_naming_them() {
    let Some(spec) = era5_spec() else { return };
    let wrong_var = LandMaskSpec {
        variable: "land_fraction".into(),
        ..spec.clone()
    };
    let e = read_land_mask(&wrong_var).unwrap_err().to_string();
    assert!(
        e.contains("ERA5_AN_20100101_0000.nc") && e.contains("land_fraction"),
        "{e}"
    );
    let dir = tempfile::tempdir().unwrap();
    let not_nc = dir.path().join("mask.nc");
    std::fs::write(&not_nc, "not a netcdf file").unwrap();
    let e = read_land_mask(&LandMaskSpec {
        file: not_nc,
        ..spec.clone()
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("mask.nc"), "{e}");
    let e = read_land_mask(&LandMaskSpec {
        lat_min: 89.9,
        lat_max: 90.0,
        ..spec
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("lsm") && e.contains("no latitude"), "{e}");
}

/// `landcycle synth` on a namelist whose `&synth` group holds `lines`: its stderr.
fn synth_error(dir: &Path, lines: &str) -> String {
    let nml = common::write_namelist(dir, 4, 4, 2, "2020-06-01_06:00:00");
    let text = std::fs::read_to_string(&nml)
        .unwrap()
        .replace("  seed = 11\n", &format!("  seed = 11\n{lines}\n"));
    std::fs::write(&nml, text).unwrap();
    let out = std::process::Command::new(common::BIN)
        .arg("synth")
        .arg(&nml)
        .output()
        .unwrap();
    assert!(!out.status.success(), "synth accepted {lines}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn land_mask_keys_are_checked_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    // `&synth` starts at line 25 of the common namelist; `seed` is line 32, the added key line 33.
    let e = synth_error(dir.path(), "  land_mask_lat_max = 95.0");
    assert!(
        e.contains("case.nml:33") && e.contains("land_mask_lat_max"),
        "{e}"
    );
    let e = synth_error(dir.path(), "  land_mask_file = 'no/such/mask.nc'");
    assert!(
        e.contains("case.nml:33") && e.contains("no/such/mask.nc"),
        "{e}"
    );
    let e = synth_error(dir.path(), "  land_mask_treshold = 0.5");
    assert!(e.contains("land_mask_threshold"), "suggests the key: {e}");
}

#[test]
fn bench_cycle_reports_stages_memory_cpu_and_bytes_of_a_tiny_case() {
    let _io = common::bucket_case::io_lock();
    let dir = tempfile::tempdir().unwrap();
    let nml = common::write_namelist(dir.path(), 6, 5, 3, "2020-06-01_12:00:00");
    common::synth(&nml);
    let rundir = dir.path().join("bench-run");
    let args = CycleBenchArgs {
        namelist: nml.clone(),
        windows: 1,
        rundir: Some(rundir.clone()),
        keep: true,
        json: false,
    };
    let r = bench_cycle(&args, &SingleProcess).unwrap().unwrap();
    assert_eq!((r.ranks, r.windows, r.members), (1, 1, 3));
    assert!(r.land_cells > 0 && r.land_cells <= 30);
    let stages: Vec<&str> = r.stages.iter().map(|(n, _)| n.as_str()).collect();
    for s in ["setup", "forcing", "physics", "history output", "restart"] {
        assert!(stages.contains(&s), "stage {s} in {stages:?}");
    }
    assert!(r.stages.iter().all(|(_, s)| s.is_finite() && *s >= 0.0));
    assert!(r.total_seconds >= r.seconds_per_window && r.seconds_per_window > 0.0);
    assert_eq!(r.per_rank.len(), 1);
    assert!(r.per_rank[0].peak_rss_mib > 1.0 && r.per_rank[0].cpu_seconds >= 0.0);
    assert!((0.0..=1.0).contains(&r.output_fraction));
    // The main thread's CPU time in the windows is part of the process's, and its output
    // share a fraction.
    let p = &r.per_rank[0];
    assert!(p.main_thread_cpu_seconds > 0.0 && p.main_thread_cpu_seconds <= p.cpu_seconds);
    assert!((0.0..=1.0).contains(&p.output_cpu_fraction), "{p:?}");
    assert_eq!(r.output_cpu_fraction, p.output_cpu_fraction);
    // The bytes are those of the files in the kept run directory: one restart, two
    // 3-hourly history files and the bookkeeping.
    assert_eq!(r.bytes_written, dir_bytes(&rundir).unwrap());
    assert!(r.bytes_written > 10_000, "{} bytes", r.bytes_written);
    let table = r.table();
    assert!(
        table.contains("physics") && table.contains("bytes written"),
        "{table}"
    );
    // A second run into the same (now full) directory is refused, not counted twice.
    let e = bench_cycle(&args, &SingleProcess).unwrap_err().to_string();
    assert!(e.contains("not empty"), "{e}");
}
