//! Verification scores on constructed history files with known answers.

use std::path::Path;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use landcycle::io::history::{
    history_file_name, write_history, Compression, EnsembleStat, HistoryField, HistoryGrid,
    HistoryMetadata, HistoryTime, HistoryWrite, TimeMethod, TimeUnits,
};
use landcycle::verify::{
    layer_scores, pearson, verify_dirs, verify_variable, CellMask, VerifyError,
};

const NY: usize = 3;
const NX: usize = 4;
const NL: usize = 2;
/// Cell (0, 3) is water.
const WATER: usize = 3;

fn t0() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2020, 6, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
}

fn grid() -> HistoryGrid {
    let mask = (0..NY * NX).map(|k| k != WATER).collect();
    HistoryGrid::regular(
        vec![38.0, 38.25, 38.5],
        vec![-95.0, -94.75, -94.5, -94.25],
        mask,
    )
}

/// A smooth truth with variation in space and time: `[layer][y][x]` at step `k`.
fn truth(k: usize) -> Vec<f64> {
    let mut v = Vec::new();
    for l in 0..NL {
        for c in 0..NY * NX {
            v.push(
                0.2 + 0.02 * l as f64
                    + 0.01 * c as f64
                    + 0.03 * ((k as f64) * 0.9 + c as f64).sin(),
            );
        }
    }
    v
}

enum Kind<'a> {
    /// `SoilMoistV_member` with several members (member-major data).
    Members(&'a [f64], usize),
    /// Single realisation as `SoilMoistV_member` with one member.
    Member(&'a [f64]),
    /// Mean and spread.
    MeanSpread(&'a [f64], &'a [f64]),
}

fn write(dir: &Path, valid: NaiveDateTime, kind: Kind, g: &HistoryGrid) {
    std::fs::create_dir_all(dir).unwrap();
    let field = |stat, data| HistoryField {
        name: "SoilMoistV".into(),
        long_name: "volumetric soil moisture".into(),
        units: "m3 m-3".into(),
        standard_name: None,
        time_method: TimeMethod::Point,
        layered: true,
        stat,
        data,
    };
    let (fields, n) = match kind {
        Kind::Member(d) => (vec![field(EnsembleStat::Members, d)], 1),
        Kind::Members(d, m) => (vec![field(EnsembleStat::Members, d)], m),
        Kind::MeanSpread(m, s) => (
            vec![field(EnsembleStat::Mean, m), field(EnsembleStat::Spread, s)],
            8,
        ),
    };
    let md = HistoryMetadata {
        ensemble_size: n,
        ..Default::default()
    };
    write_history(
        &dir.join(history_file_name(valid)),
        &HistoryWrite {
            grid: g,
            time: HistoryTime {
                reference: t0(),
                start: valid - Duration::hours(3),
                end: valid,
                units: TimeUnits::Hours,
            },
            soil_layer_thickness: &[0.1, 0.3],
            fields: &fields,
            metadata: &md,
            compression: Compression::default(),
        },
    )
    .unwrap();
}

fn valid(k: usize) -> NaiveDateTime {
    t0() + Duration::hours(3 * (k as i64 + 1))
}

/// Truth in `<dir>/truth/<cycle>/output`, run = f(truth, k) with spread 0.01 in `<dir>/run`.
fn case(dir: &Path, n: usize, run_of: impl Fn(&[f64], usize) -> Vec<f64>) {
    let g = grid();
    let spread = vec![0.01; NL * NY * NX];
    for k in 0..n {
        let t = truth(k);
        let cycle = format!("{:02}", k / 2);
        write(
            &dir.join("truth").join(&cycle).join("output"),
            valid(k),
            Kind::Member(&t),
            &g,
        );
        let r = run_of(&t, k);
        write(
            &dir.join("run").join(cycle),
            valid(k),
            Kind::MeanSpread(&r, &spread),
            &g,
        );
    }
}

fn land_pairs(n: usize) -> usize {
    n * (NY * NX - 1)
}

#[test]
fn identical_run_scores_perfectly() {
    let dir = tempfile::tempdir().unwrap();
    case(dir.path(), 8, |t, _| t.to_vec());
    let r = verify_dirs(&dir.path().join("truth"), &dir.path().join("run")).unwrap();
    assert_eq!(r.n_times, 8);
    assert_eq!(r.layers.len(), NL);
    for l in &r.layers {
        assert_eq!(l.n_pairs, land_pairs(8), "water cell excluded");
        assert_eq!((l.rmse, l.bias, l.ubrmse), (0.0, 0.0, 0.0));
        assert!((l.temporal_correlation - 1.0).abs() < 1e-12, "{l:?}");
        assert!((l.spatial_correlation - 1.0).abs() < 1e-12, "{l:?}");
        assert_eq!(l.n_cells_temporal, NY * NX - 1);
        assert_eq!(l.n_times_spatial, 8);
        // Spread is stored as f32.
        assert!((l.mean_spread - 0.01).abs() < 1e-8, "{l:?}");
    }
}

#[test]
fn constant_offset_is_pure_bias() {
    let dir = tempfile::tempdir().unwrap();
    case(dir.path(), 6, |t, _| t.iter().map(|x| x + 0.05).collect());
    let r = verify_dirs(&dir.path().join("truth"), &dir.path().join("run")).unwrap();
    for l in &r.layers {
        // Files hold f32: the offset survives to ~1e-8.
        assert!((l.bias - 0.05).abs() < 1e-7, "{l:?}");
        assert!((l.rmse - 0.05).abs() < 1e-7, "{l:?}");
        assert!(l.ubrmse < 1e-7, "{l:?}");
        assert!((l.temporal_correlation - 1.0).abs() < 1e-6);
        assert!((l.spatial_correlation - 1.0).abs() < 1e-6);
    }
}

#[test]
fn alternating_error_is_unbiased_with_known_rmse() {
    // run = truth ± 0.03 alternating in time: bias 0, RMSE = ubRMSE = 0.03 (even count).
    let dir = tempfile::tempdir().unwrap();
    case(dir.path(), 6, |t, k| {
        let s = if k % 2 == 0 { 0.03 } else { -0.03 };
        t.iter().map(|x| x + s).collect()
    });
    let r = verify_dirs(&dir.path().join("truth"), &dir.path().join("run")).unwrap();
    for l in &r.layers {
        assert!(l.bias.abs() < 1e-7, "{l:?}");
        assert!((l.rmse - 0.03).abs() < 1e-7, "{l:?}");
        assert!((l.ubrmse - 0.03).abs() < 1e-7, "{l:?}");
        assert!(l.temporal_correlation < 0.99);
    }
}

#[test]
fn mirrored_run_is_anticorrelated() {
    let dir = tempfile::tempdir().unwrap();
    case(dir.path(), 5, |t, _| t.iter().map(|x| 0.6 - x).collect());
    let r = verify_dirs(&dir.path().join("truth"), &dir.path().join("run")).unwrap();
    for l in &r.layers {
        assert!((l.temporal_correlation + 1.0).abs() < 1e-5, "{l:?}");
        assert!((l.spatial_correlation + 1.0).abs() < 1e-5, "{l:?}");
    }
}

#[test]
fn pairs_by_valid_time_and_counts_unmatched() {
    let dir = tempfile::tempdir().unwrap();
    case(dir.path(), 6, |t, _| t.to_vec());
    // Two more truth times without a run partner, one run time without truth.
    let g = grid();
    for k in 6..8 {
        write(
            &dir.path().join("truth/extra"),
            valid(k),
            Kind::Member(&truth(k)),
            &g,
        );
    }
    let s = vec![0.01; NL * NY * NX];
    write(
        &dir.path().join("run/extra"),
        valid(20),
        Kind::MeanSpread(&truth(20), &s),
        &g,
    );
    let r = verify_dirs(&dir.path().join("truth"), &dir.path().join("run")).unwrap();
    assert_eq!((r.n_times, r.unmatched_truth, r.unmatched_run), (6, 2, 1));
    assert_eq!(r.first_time, "2020-06-01T03:00:00Z");
    assert_eq!(r.last_time, "2020-06-01T18:00:00Z");

    // JSON carries the same numbers; the command writes it.
    let json = dir.path().join("scores.json");
    landcycle::commands::verify::run(&landcycle::commands::verify::Args {
        truth: dir.path().join("truth"),
        run: dir.path().join("run"),
        json: Some(json.clone()),
        observed_in: None,
        ..Default::default()
    })
    .unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["n_times"], 6);
    assert_eq!(v["layers"].as_array().unwrap().len(), NL);
    assert_eq!(v["layers"][0]["rmse"].as_f64(), Some(0.0));
    assert_eq!(
        v["layers"][1]["n_pairs"].as_u64(),
        Some(land_pairs(6) as u64)
    );
}

#[test]
fn member_files_give_mean_and_spread() {
    // Run written as 2 members truth ± 0.02: mean = truth, spread = 0.02·√2.
    let dir = tempfile::tempdir().unwrap();
    let g = grid();
    for k in 0..4 {
        let t = truth(k);
        write(&dir.path().join("truth"), valid(k), Kind::Member(&t), &g);
        let mut m: Vec<f64> = t.iter().map(|x| x + 0.02).collect();
        m.extend(t.iter().map(|x| x - 0.02));
        write(&dir.path().join("run"), valid(k), Kind::Members(&m, 2), &g);
    }
    let r = verify_dirs(&dir.path().join("truth"), &dir.path().join("run")).unwrap();
    for l in &r.layers {
        assert!(l.rmse < 1e-7 && l.bias.abs() < 1e-7, "{l:?}");
        assert!((l.mean_spread - 0.02 * 2f64.sqrt()).abs() < 1e-7, "{l:?}");
    }
}

#[test]
fn bad_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    case(d, 2, |t, _| t.to_vec());
    // No common time.
    let g = grid();
    write(&d.join("late"), valid(50), Kind::Member(&truth(0)), &g);
    let e = verify_dirs(&d.join("late"), &d.join("run")).unwrap_err();
    assert!(matches!(e, VerifyError::NoCommonTimes { .. }), "{e}");
    // Empty and missing directories.
    std::fs::create_dir_all(d.join("empty")).unwrap();
    let e = verify_dirs(&d.join("empty"), &d.join("run")).unwrap_err();
    assert!(e.to_string().contains("no history files"), "{e}");
    let e = verify_dirs(&d.join("nowhere"), &d.join("run")).unwrap_err();
    assert!(e.to_string().contains("not a directory"), "{e}");
    // Two files with the same valid time.
    write(&d.join("truth/dup"), valid(0), Kind::Member(&truth(0)), &g);
    let e = verify_dirs(&d.join("truth"), &d.join("run")).unwrap_err();
    assert!(matches!(e, VerifyError::DuplicateTime { .. }), "{e}");
    // A different grid.
    let small = HistoryGrid::regular(vec![38.0, 38.25], vec![-95.0, -94.75], vec![true; 4]);
    let data = vec![0.2; NL * 4];
    write(&d.join("small"), valid(1), Kind::Member(&data), &small);
    let e = verify_dirs(&d.join("small"), &d.join("run")).unwrap_err();
    assert!(matches!(e, VerifyError::Mismatch { .. }), "{e}");
    assert!(e.to_string().contains("LC_HIST_202006010600.nc"), "{e}");
}

#[test]
fn score_math_on_plain_arrays() {
    assert_eq!(pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]), Some(1.0));
    assert_eq!(pearson(&[1.0, 2.0], &[2.0, 4.0]), None, "too few pairs");
    assert_eq!(
        pearson(&[1.0, 1.0, 1.0], &[2.0, 4.0, 6.0]),
        None,
        "no variance"
    );
    let r = pearson(&[1.0, 2.0, 3.0, f64::NAN], &[1.0, 3.0, 2.0, 9.0]).unwrap();
    assert!((r - 0.5).abs() < 1e-12, "{r}");
    // Two cells, two times: differences 0.1, 0.3 (cell 0) and -0.1, 0.1 (cell 1).
    let truth = vec![vec![0.2, 0.3], vec![0.25, 0.35]];
    let run = vec![vec![0.3, 0.2], vec![0.55, 0.45]];
    let s = layer_scores(1, &truth, &run, &[None, None]);
    assert!((s.bias - 0.1).abs() < 1e-12);
    assert!((s.rmse - (0.12f64 / 4.0).sqrt()).abs() < 1e-12);
    assert!((s.ubrmse - (0.08f64 / 4.0).sqrt()).abs() < 1e-12);
    assert!(s.mean_spread.is_nan());
    assert_eq!(
        s.n_cells_temporal, 0,
        "two times are too few for a correlation"
    );
}

/// A diagnostics file `LC_DA_*.nc` whose `smap_obs` is valid in `observed` cells.
fn write_diag(path: &Path, observed: &[usize]) {
    let mut f = netcdf::create(path).unwrap();
    f.add_dimension("time", 1).unwrap();
    f.add_dimension("lat", NY).unwrap();
    f.add_dimension("lon", NX).unwrap();
    let mut v = f
        .add_variable::<f32>("smap_obs", &["time", "lat", "lon"])
        .unwrap();
    v.put_attribute("_FillValue", 1.0e20f32).unwrap();
    let data: Vec<f32> = (0..NY * NX)
        .map(|c| if observed.contains(&c) { 0.25 } else { 1.0e20 })
        .collect();
    v.put_values(&data, ..).unwrap();
}

#[test]
fn scores_can_be_restricted_to_observed_cells() {
    let dir = tempfile::tempdir().unwrap();
    // Error 0.05 in cells 0-5, none in cells 6-11.
    case(dir.path(), 6, |t, _| {
        t.iter()
            .enumerate()
            .map(|(i, x)| if i % (NY * NX) < 6 { x + 0.05 } else { *x })
            .collect()
    });
    let diag = dir.path().join("run").join("00").join("diag");
    std::fs::create_dir_all(&diag).unwrap();
    write_diag(&diag.join("LC_DA_202006010130.nc"), &[6, 7]);
    write_diag(&diag.join("LC_DA_202006010430.nc"), &[8, 9, 10, 11]);
    let mask = CellMask::observed_in(&dir.path().join("run")).unwrap();
    assert_eq!(mask.mask.iter().filter(|m| **m).count(), 6);
    let (truth, run) = (dir.path().join("truth"), dir.path().join("run"));
    let all = verify_variable(&truth, &run, "SoilMoistV", "m3 m-3", None).unwrap();
    let obs = verify_variable(&truth, &run, "SoilMoistV", "m3 m-3", Some(&mask)).unwrap();
    assert!(all.cells.contains("all"));
    assert!(obs.cells.starts_with("6 cells"), "{}", obs.cells);
    for (a, o) in all.layers.iter().zip(&obs.layers) {
        assert!(a.rmse > 0.03, "{a:?}");
        assert!(o.rmse < 1e-7, "{o:?}");
        assert_eq!(o.n_pairs, 6 * 6);
    }
    // A run without diagnostics is a clear error.
    let e = CellMask::observed_in(&truth).unwrap_err();
    assert!(e.to_string().contains("LC_DA_"), "{e}");
}

#[test]
fn reports_round_trip_through_json_and_compare_in_a_skill_table() {
    use landcycle::verify::{comparison_table, VerifyReport};
    // Two runs against one truth: errors ±0.04 and ±0.02 (RMSE 0.04 and 0.02 exactly).
    let runs: Vec<(String, VerifyReport)> = [("open", 0.04), ("da", 0.02)]
        .iter()
        .map(|&(name, e)| {
            let dir = tempfile::tempdir().unwrap();
            case(dir.path(), 6, |t, k| {
                let s = if k % 2 == 0 { e } else { -e };
                t.iter().map(|x| x + s).collect()
            });
            let r = verify_dirs(&dir.path().join("truth"), &dir.path().join("run")).unwrap();
            // Through the JSON file `verify --json` writes and `skill` reads.
            let p = dir.path().join(format!("{name}.json"));
            r.write_json(&p).unwrap();
            let back = VerifyReport::read_json(&p).unwrap();
            assert_eq!(back.layers.len(), r.layers.len());
            for (a, b) in back.layers.iter().zip(&r.layers) {
                assert_eq!(
                    (a.n_pairs, a.rmse, a.mean_spread),
                    (b.n_pairs, b.rmse, b.mean_spread)
                );
            }
            (name.to_string(), back)
        })
        .collect();
    let t = comparison_table(&runs, 0).unwrap();
    let da = t.lines().find(|l| l.starts_with("da")).unwrap();
    // RMSE halved: −50 % in both layers; spread 0.01 over RMSE 0.02 = 0.50.
    assert_eq!(da.matches("(-50.0 %)").count(), NL, "{t}");
    assert!(da.ends_with("0.50 / 0.50"), "{t}");
    let open = t.lines().find(|l| l.starts_with("open")).unwrap();
    assert!(!open.contains('%') && open.ends_with("0.25 / 0.25"), "{t}");
    // Relative to the second run instead: +100 %.
    let t2 = comparison_table(&runs, 1).unwrap();
    assert!(t2.contains("(+100.0 %)"), "{t2}");
    // Reports scored on different cells are refused.
    let mut other = runs.clone();
    other[1].1.cells = "12 cells with assimilated observations in x".into();
    let e = comparison_table(&other, 0).unwrap_err();
    assert!(matches!(e, VerifyError::NotComparable(_)), "{e}");
    assert!(comparison_table(&runs, 5).is_err());
}
