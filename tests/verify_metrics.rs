//! Per-cell temporal metrics (pytesmo/LVT definitions) against reference values computed
//! independently: closed forms on constructed series, naive re-implementations, and the
//! map file written by `landcycle verify --per-cell --maps`.

use std::f64::consts::PI;
use std::path::Path;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use landcycle::io::history::{
    history_file_name, write_history, Compression, EnsembleStat, HistoryField, HistoryGrid,
    HistoryMetadata, HistoryTime, HistoryWrite, TimeMethod, TimeUnits,
};
use landcycle::verify::metrics::{moving_window_anomaly, per_cell_layer};
use landcycle::verify::stats::{pearson_p_value, student_t_two_sided, Z_975};
use landcycle::verify::{cell_metrics, PerCellOptions, VerifyReport};

const TOL: f64 = 1e-10;

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= TOL,
        "{what}: {a} vs {b} (diff {:e})",
        a - b
    );
}

/// x = 0.25 + 0.05 cos θ, y = a + b x + 0.05 s sin θ over a full period of N samples:
/// mean e = 0 and cov(x, e) = 0 exactly, so bias, ubRMSE, R have closed forms.
fn linear_case(n: usize, a: f64, b: f64, s: f64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let th = |i: usize| 2.0 * PI * i as f64 / n as f64;
    let x: Vec<f64> = (0..n).map(|i| 0.25 + 0.05 * th(i).cos()).collect();
    let y: Vec<f64> = (0..n)
        .map(|i| a + b * x[i] + 0.05 * s * th(i).sin())
        .collect();
    let t: Vec<f64> = (0..n).map(|i| i as f64 / 8.0).collect();
    (t, x, y)
}

#[test]
fn linear_series_match_closed_forms() {
    for &(n, a, b, s) in &[
        (400usize, 0.02, 0.9, 0.5),
        (240, -0.01, 1.3, 0.2),
        (97, 0.0, 0.6, 1.0),
    ] {
        let (t, x, y) = linear_case(n, a, b, s);
        let m = cell_metrics(&t, &x, &y, &PerCellOptions::default());
        let var_x = 0.05f64.powi(2) / 2.0;
        let bias = a + (b - 1.0) * 0.25;
        let ub = (var_x * ((b - 1.0).powi(2) + s * s)).sqrt();
        let r = b / (b * b + s * s).sqrt();
        assert_eq!(m.n, n);
        close(m.bias, bias, "bias");
        close(m.ubrmse, ub, "ubRMSE");
        close(m.rmse, (bias * bias + ub * ub).sqrt(), "RMSE");
        close(m.r, r, "R");
        let h = 1.959_963_984_540_054 / ((n - 3) as f64).sqrt();
        close(m.r_ci_lower, (r.atanh() - h).tanh(), "CI lower");
        close(m.r_ci_upper, (r.atanh() + h).tanh(), "CI upper");
        assert!(m.r_ci_lower < m.r && m.r < m.r_ci_upper);
        // p of t = r √((n−2)/(1−r²)) with n − 2 degrees of freedom (the t distribution
        // itself is checked on closed forms below).
        let df = (n - 2) as f64;
        let t_stat = r * (df / (1.0 - r * r)).sqrt();
        close(m.r_p_value, student_t_two_sided(t_stat, df), "p-value");
        assert!(m.r_p_value < 1e-6, "{m:?}");
    }
}

#[test]
fn identical_and_offset_series() {
    let (t, x, _) = linear_case(50, 0.0, 1.0, 0.0);
    let m = cell_metrics(&t, &x, &x, &PerCellOptions::default());
    assert_eq!((m.bias, m.rmse, m.ubrmse), (0.0, 0.0, 0.0));
    close(m.r, 1.0, "R");
    assert_eq!((m.r_ci_lower, m.r_ci_upper, m.r_p_value), (1.0, 1.0, 0.0));
    let y: Vec<f64> = x.iter().map(|v| v + 0.04).collect();
    let m = cell_metrics(&t, &x, &y, &PerCellOptions::default());
    close(m.bias, 0.04, "bias");
    close(m.rmse, 0.04, "RMSE");
    close(m.ubrmse, 0.0, "ubRMSE");
}

#[test]
fn p_values_match_student_t_closed_forms() {
    // df = 1 (Cauchy): p = 1 − (2/π) atan|t|; df = 2: p = 1 − |t|/√(2 + t²);
    // df = 3: p = 1 − (2/π)(atan u + u/(1 + u²)), u = |t|/√3.
    for &t in &[0.1, 0.5, 1.0, 2.5, 7.0, 30.0] {
        close(
            student_t_two_sided(t, 1.0),
            1.0 - 2.0 / PI * t.atan(),
            "df 1",
        );
        close(
            student_t_two_sided(-t, 2.0),
            1.0 - t / (2.0 + t * t).sqrt(),
            "df 2",
        );
        let u = t / 3f64.sqrt();
        close(
            student_t_two_sided(t, 3.0),
            1.0 - 2.0 / PI * (u.atan() + u / (1.0 + u * u)),
            "df 3",
        );
    }
    // Through r: n = 3 is df 1, n = 4 df 2, n = 5 df 3.
    for &r in &[-0.9, -0.3, 0.05, 0.5, 0.99] {
        let t = |df: f64| r * (df / (1.0 - r * r)).sqrt();
        close(
            pearson_p_value(r, 3),
            1.0 - 2.0 / PI * t(1.0).abs().atan(),
            "n 3",
        );
        close(
            pearson_p_value(r, 4),
            1.0 - t(2.0).abs() / (2.0 + t(2.0).powi(2)).sqrt(),
            "n 4",
        );
        let u = t(3.0).abs() / 3f64.sqrt();
        close(
            pearson_p_value(r, 5),
            1.0 - 2.0 / PI * (u.atan() + u / (1.0 + u * u)),
            "n 5",
        );
    }
    assert_eq!(pearson_p_value(0.0, 10), 1.0);
    // The normal quantile of the confidence intervals: t with ν → ∞ is normal (at ν = 10⁶
    // the two differ by ~3e-7 at this quantile).
    let p = student_t_two_sided(Z_975, 1e6);
    assert!((p - 0.05).abs() < 1e-6, "{p}");
}

/// Centred moving-window anomalies, naive O(n²).
fn naive_anomaly(t: &[f64], x: &[f64], w: f64) -> Vec<f64> {
    (0..x.len())
        .map(|i| {
            let win: Vec<f64> = (0..x.len())
                .filter(|&j| (t[j] - t[i]).abs() <= w / 2.0)
                .map(|j| x[j])
                .collect();
            x[i] - win.iter().sum::<f64>() / win.len() as f64
        })
        .collect()
}

fn naive_pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let c: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    c / (va * vb).sqrt()
}

#[test]
fn anomaly_correlation_against_a_naive_moving_window() {
    // 200 days, irregular times (gaps), a seasonal cycle plus weather in both series.
    let t: Vec<f64> = (0..900)
        .map(|i| i as f64 * 0.25)
        .filter(|d| (d % 7.0) < 5.5)
        .collect();
    let x: Vec<f64> = t
        .iter()
        .map(|d| 0.25 + 0.05 * (d / 60.0).sin() + 0.02 * (d * 1.7).sin())
        .collect();
    let y: Vec<f64> = t
        .iter()
        .map(|d| 0.22 + 0.07 * (d / 60.0).sin() + 0.015 * (d * 1.7 + 0.4).sin())
        .collect();
    for w in [35.0, 10.0, 1.0] {
        let ax = moving_window_anomaly(&t, &x, w);
        let nx = naive_anomaly(&t, &x, w);
        for (a, b) in ax.iter().zip(&nx) {
            close(*a, *b, "anomaly");
        }
        let o = PerCellOptions {
            anomaly_window_days: w,
            ..Default::default()
        };
        let m = cell_metrics(&t, &x, &y, &o);
        let want = naive_pearson(&nx, &naive_anomaly(&t, &y, w));
        close(m.anomaly_r, want, "anomaly R");
        assert!(m.anomaly_r < m.r, "the seasonal cycle inflates R: {m:?}");
    }
    // A linear function of x has anomaly R 1 for any window; a window over everything gives R.
    let y2: Vec<f64> = x.iter().map(|v| 5.0 + 2.0 * v).collect();
    close(
        cell_metrics(&t, &x, &y2, &PerCellOptions::default()).anomaly_r,
        1.0,
        "linear",
    );
    let all = PerCellOptions {
        anomaly_window_days: 1e4,
        ..Default::default()
    };
    let m = cell_metrics(&t, &x, &y, &all);
    close(m.anomaly_r, m.r, "whole-period window");
}

#[test]
fn spearman_missing_values_and_minimum_samples() {
    let t: Vec<f64> = (0..60).map(|i| i as f64 / 8.0).collect();
    // No (near-)ties: a cosine over a full period has pairs equal up to rounding.
    let x: Vec<f64> = (0..60)
        .map(|i| 0.2 + 0.001 * i as f64 + 0.02 * (0.37 * i as f64).sin())
        .collect();
    // A monotone transform: Spearman 1, Pearson below 1.
    let y: Vec<f64> = x.iter().map(|v| (20.0 * v).exp()).collect();
    let m = cell_metrics(&t, &x, &y, &PerCellOptions::default());
    close(m.spearman_rho, 1.0, "Spearman");
    assert!(m.r < 0.9999);
    // Missing values drop the pair: same metrics as the series without them.
    let mut xm = x.clone();
    xm[3] = f64::NAN;
    let mut ym = y.clone();
    ym[10] = f64::INFINITY;
    let m1 = cell_metrics(&t, &xm, &ym, &PerCellOptions::default());
    let keep: Vec<usize> = (0..60).filter(|i| *i != 3 && *i != 10).collect();
    let pick = |v: &[f64]| keep.iter().map(|&i| v[i]).collect::<Vec<_>>();
    let m2 = cell_metrics(&pick(&t), &pick(&x), &pick(&y), &PerCellOptions::default());
    assert_eq!(m1, m2);
    assert_eq!(m1.n, 58);
    // Too few pairs: all NaN, the count kept.
    let o = PerCellOptions {
        min_samples: 59,
        ..Default::default()
    };
    let m3 = cell_metrics(&t, &xm, &ym, &o);
    assert_eq!(m3.n, 58);
    assert!(m3.rmse.is_nan() && m3.r.is_nan() && m3.anomaly_r.is_nan());
}

#[test]
fn domain_mean_and_median_of_per_cell_metrics() {
    // Three cells with biases 0.01, 0.02, 0.06 and a cell without data.
    let n = 40;
    let t: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let reference: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            let v = 0.2 + 0.01 * (i as f64).sin();
            vec![v, v, v, f64::NAN]
        })
        .collect();
    let run: Vec<Vec<f64>> = reference
        .iter()
        .map(|r| vec![r[0] + 0.01, r[1] + 0.02, r[2] + 0.06, 0.3])
        .collect();
    let l = per_cell_layer(1, &t, &reference, &run, &PerCellOptions::default());
    assert_eq!(l.n_cells_scored, 3);
    let b = l.summary("bias").unwrap();
    assert_eq!(b.n_cells, 3);
    close(b.mean, 0.03, "mean bias");
    close(b.median, 0.02, "median bias");
    let rmse = l.summary("rmse").unwrap();
    close(rmse.median, 0.02, "median RMSE");
    let map = l.map("bias").unwrap();
    assert!(map[3].is_nan());
    close(map[2], 0.06, "map");
}

// ---- through history files and the command ----

const NY: usize = 2;
const NX: usize = 3;
const NL: usize = 2;
const WATER: usize = 5;

fn t0() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2020, 6, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
}

fn write(dir: &Path, valid: NaiveDateTime, data: &[f64], stat: EnsembleStat) {
    std::fs::create_dir_all(dir).unwrap();
    let mask = (0..NY * NX).map(|k| k != WATER).collect();
    let g = HistoryGrid::regular(vec![38.0, 38.25], vec![-95.0, -94.75, -94.5], mask);
    let fields = [HistoryField {
        name: "SoilMoistV".into(),
        long_name: "volumetric soil moisture".into(),
        units: "m3 m-3".into(),
        standard_name: None,
        time_method: TimeMethod::Point,
        layered: true,
        stat,
        data,
    }];
    let md = HistoryMetadata {
        ensemble_size: 1,
        ..Default::default()
    };
    write_history(
        &dir.join(history_file_name(valid)),
        &HistoryWrite {
            grid: &g,
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

/// Truth x = 0.25 + 0.05 cos θ (plus a layer/cell offset), run a + b x + 0.05 s sin θ with
/// (a, b, s) varying per cell.
fn case(dir: &Path, n: usize) -> Vec<(f64, f64, f64)> {
    let params: Vec<(f64, f64, f64)> = (0..NY * NX)
        .map(|c| (0.01 * c as f64, 0.7 + 0.1 * c as f64, 0.2 + 0.1 * c as f64))
        .collect();
    for k in 0..n {
        let th = 2.0 * PI * k as f64 / n as f64;
        let mut tr = Vec::new();
        let mut rn = Vec::new();
        for l in 0..NL {
            for (c, (a, b, s)) in params.iter().enumerate() {
                let x = 0.25 + 0.01 * (l + c) as f64 + 0.05 * th.cos();
                tr.push(x);
                rn.push(a + b * x + 0.05 * s * th.sin());
            }
        }
        let valid = t0() + Duration::hours(3 * (k as i64 + 1));
        write(&dir.join("truth"), valid, &tr, EnsembleStat::Members);
        write(&dir.join("run"), valid, &rn, EnsembleStat::Mean);
    }
    params
}

fn read_var(f: &netcdf::File, name: &str) -> Vec<f64> {
    f.variable(name).unwrap().get_values::<f64, _>(..).unwrap()
}

#[test]
fn command_writes_per_cell_json_and_cf_maps() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let n = 64;
    let params = case(d, n);
    let (json, maps) = (d.join("s.json"), d.join("maps.nc"));
    landcycle::commands::verify::run(&landcycle::commands::verify::Args {
        truth: d.join("truth"),
        run: d.join("run"),
        json: Some(json.clone()),
        per_cell: true,
        maps: Some(maps.clone()),
        anomaly_window_days: 35.0,
        min_samples: 10,
        ..Default::default()
    })
    .unwrap();
    let f = netcdf::open(&maps).unwrap();
    let conv: String = f
        .attribute("Conventions")
        .unwrap()
        .value()
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(conv, "CF-1.8");
    assert_eq!(read_var(&f, "lat"), vec![38.0, 38.25]);
    assert_eq!(read_var(&f, "lon").len(), NX);
    let r = read_var(&f, "r");
    let ub = read_var(&f, "ubrmse");
    let bias = read_var(&f, "bias");
    let v = f.variable("ubrmse").unwrap();
    let units: String = v
        .attribute("units")
        .unwrap()
        .value()
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(units, "m3 m-3");
    assert!(v.attribute("long_name").is_some());
    let fill: f64 = v
        .attribute("_FillValue")
        .unwrap()
        .value()
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(r.len(), NL * NY * NX);
    for l in 0..NL {
        for (c, (a, b, s)) in params.iter().enumerate() {
            let k = l * NY * NX + c;
            if c == WATER {
                assert_eq!((r[k], ub[k]), (fill, fill), "water cell is fill");
                continue;
            }
            // The files hold f32: the closed forms hold to ~1e-6.
            let mx = 0.25 + 0.01 * (l + c) as f64;
            let var_x = 0.05f64.powi(2) / 2.0;
            assert!(
                (r[k] - b / (b * b + s * s).sqrt()).abs() < 1e-5,
                "R {l} {c}"
            );
            let ubx = (var_x * ((b - 1.0).powi(2) + s * s)).sqrt();
            assert!((ub[k] - ubx).abs() < 1e-6, "ubRMSE {l} {c}");
            assert!(
                (bias[k] - (a + (b - 1.0) * mx)).abs() < 1e-6,
                "bias {l} {c}"
            );
        }
    }
    // The JSON keeps the pooled layers (what `skill` reads) and adds the per-cell block.
    let rep = VerifyReport::read_json(&json).unwrap();
    assert_eq!(rep.layers.len(), NL);
    let pc = rep.per_cell.as_ref().unwrap();
    assert_eq!(pc.layers[0].n_cells_scored, NY * NX - 1);
    let med = pc.layers[0].summary("r").unwrap().median;
    let mut rs: Vec<f64> = (0..NY * NX - 1).map(|c| r[c]).collect();
    rs.sort_by(f64::total_cmp);
    assert!(
        (med - rs[2]).abs() < 1e-12,
        "median of the map {med} {rs:?}"
    );
    // Without --per-cell the JSON is the pooled report as before (no per_cell key).
    landcycle::commands::verify::run(&landcycle::commands::verify::Args {
        truth: d.join("truth"),
        run: d.join("run"),
        json: Some(json.clone()),
        ..Default::default()
    })
    .unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(v.get("per_cell").is_none());
}

#[test]
fn bad_per_cell_options_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    case(dir.path(), 12);
    let e = landcycle::verify::verify_per_cell(
        &dir.path().join("truth"),
        &dir.path().join("run"),
        ("SoilMoistV", "m3 m-3"),
        None,
        &PerCellOptions {
            anomaly_window_days: -1.0,
            min_samples: 3,
        },
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("anomaly window"), "{e}");
    let e = landcycle::verify::verify_per_cell(
        &dir.path().join("truth"),
        &dir.path().join("run"),
        ("NoSuchVar", "1"),
        None,
        &PerCellOptions::default(),
    )
    .err()
    .unwrap();
    assert!(
        e.to_string().contains("NoSuchVar") && e.to_string().contains("LC_HIST_"),
        "{e}"
    );
}
