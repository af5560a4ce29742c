//! Spatial scores (SCC, anomaly SCC, RMSE per time) and the gap closure G on constructed
//! history files with known answers.

use std::path::Path;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use landcycle::io::history::{
    history_file_name, write_history, Compression, EnsembleStat, HistoryField, HistoryGrid,
    HistoryMetadata, HistoryTime, HistoryWrite, TimeMethod, TimeUnits,
};
use landcycle::verify::spatial::{anomaly, cell_time_means, scc};
use landcycle::verify::{
    find_history_files, gap_closure_table, pearson, read_field, verify_spatial, SpatialOptions,
    VerifyError, VerifyReport,
};

const NY: usize = 4;
const NX: usize = 5;
const NL: usize = 2;
const N: usize = NY * NX;
/// Cell 7 is water.
const WATER: usize = 7;
const STEPS: usize = 8;

fn t0() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2020, 6, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
}

fn valid(k: usize) -> NaiveDateTime {
    t0() + Duration::hours(3 * (k as i64 + 1))
}

fn grid() -> HistoryGrid {
    HistoryGrid::regular(
        (0..NY).map(|j| 38.0 + 0.25 * j as f64).collect(),
        (0..NX).map(|i| -95.0 + 0.25 * i as f64).collect(),
        (0..N).map(|k| k != WATER).collect(),
    )
}

/// Truth `[layer][cell]` at step k: a climatological pattern plus a moving anomaly.
fn truth(k: usize) -> Vec<f64> {
    let mut v = Vec::new();
    for l in 0..NL {
        for c in 0..N {
            v.push(
                0.2 + 0.02 * l as f64 + 0.004 * c as f64 + 0.03 * (0.9 * k as f64 + c as f64).sin(),
            );
        }
    }
    v
}

/// An open loop: truth + a fixed per-cell offset + a time-varying error.
fn open_loop(t: &[f64], k: usize) -> Vec<f64> {
    t.iter()
        .enumerate()
        .map(|(i, x)| {
            x + 0.03 * ((i * 5 % 7) as f64 / 7.0) + 0.02 * (1.7 * i as f64 + 2.3 * k as f64).cos()
        })
        .collect()
}

fn write(dir: &Path, k: usize, data: &[f64]) {
    std::fs::create_dir_all(dir).unwrap();
    let fields = vec![HistoryField {
        name: "SoilMoistV".into(),
        long_name: "volumetric soil moisture".into(),
        units: "m3 m-3".into(),
        standard_name: None,
        time_method: TimeMethod::Point,
        layered: true,
        stat: EnsembleStat::Mean,
        data,
    }];
    let md = HistoryMetadata {
        ensemble_size: 1,
        ..Default::default()
    };
    write_history(
        &dir.join(history_file_name(valid(k))),
        &HistoryWrite {
            grid: &grid(),
            time: HistoryTime {
                reference: t0(),
                start: valid(k) - Duration::hours(3),
                end: valid(k),
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

/// Writes `<dir>/<name>` with `steps` history files of `run_of(truth, k)`.
fn series(dir: &Path, name: &str, steps: usize, run_of: &dyn Fn(&[f64], usize) -> Vec<f64>) {
    for k in 0..steps {
        write(
            &dir.join(name).join(format!("{:02}", k / 2)),
            k,
            &run_of(&truth(k), k),
        );
    }
}

/// Every number of a JSON text, in document order (null as NaN is left out).
fn numbers(text: &str) -> Vec<f64> {
    fn walk(v: &serde_json::Value, out: &mut Vec<f64>) {
        match v {
            serde_json::Value::Number(n) => out.push(n.as_f64().unwrap()),
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            serde_json::Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&serde_json::from_str(text).unwrap(), &mut out);
    out
}

fn spatial(dir: &Path, run: &str, ol: Option<&str>) -> Result<VerifyReport, VerifyError> {
    let opts = SpatialOptions {
        open_loop: ol.map(|o| dir.join(o)),
        first_analysis: None,
    };
    verify_spatial(
        &dir.join("truth"),
        &dir.join(run),
        ("SoilMoistV", "m3 m-3"),
        None,
        &opts,
    )
}

#[test]
fn spatial_scores_and_gap_closure_have_the_known_values() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    series(d, "truth", STEPS, &|t, _| t.to_vec());
    series(d, "da", STEPS, &|t, _| t.to_vec());
    series(d, "ol", STEPS, &|t, k| open_loop(t, k));
    // The run's first analysis diagnostics file fixes the time of G_first.
    std::fs::write(d.join("da/01").join("LC_DA_202006010900.nc"), b"").unwrap();

    let r = spatial(d, "ol", None).unwrap();
    let s = r.spatial.as_ref().unwrap();
    assert!(s.open_loop.is_none());
    assert_eq!(s.layers.len(), NL);
    for (l, sl) in s.layers.iter().enumerate() {
        // The values as stored (the history files hold single precision).
        let stored = |run: &str| -> Vec<Vec<f64>> {
            let files = find_history_files(&d.join(run)).unwrap();
            files
                .values()
                .map(|p| read_field(p, "SoilMoistV").unwrap().layer(l).to_vec())
                .collect()
        };
        let (truths, ols) = (stored("truth"), stored("ol"));
        assert_eq!(truths.len(), STEPS);
        assert!(truths[0][WATER].is_nan());
        let (mt, mo) = cell_time_means(&truths, &ols);
        for (k, row) in sl.times.iter().enumerate() {
            assert_eq!(row.n_cells, N - 1);
            let want = pearson(&truths[k], &ols[k]).unwrap();
            assert!((row.scc - want).abs() < 1e-12, "{} {want}", row.scc);
            let wa = scc(&anomaly(&truths[k], &mt), &anomaly(&ols[k], &mo)).unwrap();
            assert!((row.anomaly_scc - wa).abs() < 1e-12);
            let e: f64 = truths[k]
                .iter()
                .zip(&ols[k])
                .filter(|(a, _)| a.is_finite())
                .map(|(a, b)| (b - a) * (b - a))
                .sum::<f64>()
                / (N - 1) as f64;
            assert!((row.rmse - e.sqrt()).abs() < 1e-12);
        }
        assert!(sl.mean_scc < 0.99 && sl.mean_scc > 0.0, "{}", sl.mean_scc);
        assert!(
            sl.mean_anomaly_scc < sl.mean_scc,
            "the offset inflates the raw SCC"
        );
        // Nothing in "ol" says when the first analysis was.
        assert_eq!(s.first_analysis_time, "2020-06-01T03:00:00Z");
    }

    // A perfect DA run closes the whole gap; the open loop against itself closes none.
    let r = spatial(d, "da", Some("ol")).unwrap();
    let s = r.spatial.as_ref().unwrap();
    assert_eq!(s.first_analysis_time, "2020-06-01T09:00:00Z");
    let g = &s.open_loop.as_ref().unwrap().layers;
    for gl in g {
        for v in [
            gl.g_scc,
            gl.g_anomaly_scc,
            gl.g_scc_first,
            gl.g_anomaly_scc_first,
        ] {
            assert!((v - 1.0).abs() < 1e-12, "{gl:?}");
        }
        assert!((gl.rmse_change + 1.0).abs() < 1e-12);
        assert_eq!(gl.g_scc_per_time.len(), STEPS);
    }
    let table = r.table();
    assert!(table.contains("gap closure G"), "{table}");
    let r0 = spatial(d, "ol", Some("ol")).unwrap();
    for gl in &r0
        .spatial
        .as_ref()
        .unwrap()
        .open_loop
        .as_ref()
        .unwrap()
        .layers
    {
        assert_eq!(
            (gl.g_scc, gl.g_anomaly_scc, gl.g_scc_first),
            (0.0, 0.0, 0.0)
        );
    }

    // The JSON report keeps the spatial scores (NaN as null) and reads back.
    let p = d.join("da.json");
    r.write_json(&p).unwrap();
    let back = VerifyReport::read_json(&p).unwrap();
    let (x, y) = (numbers(&back.to_json()), numbers(&r.to_json()));
    assert_eq!(x.len(), y.len());
    assert!(x.len() > 100, "the per-time rows are in the JSON");
    for (a, b) in x.iter().zip(&y) {
        assert!((a - b).abs() <= 1e-14 * (1.0 + b.abs()), "{a} {b}");
    }
    assert_eq!(
        back.spatial.as_ref().unwrap().first_analysis_time,
        "2020-06-01T09:00:00Z"
    );

    // `landcycle skill` on spatial reports: G of each against the reference (the open loop).
    let ol = spatial(d, "ol", None).unwrap();
    let reports = vec![("ol".to_string(), ol), ("da".to_string(), r)];
    let t = gap_closure_table(&reports, 0).unwrap().unwrap();
    let da_rows: Vec<&str> = t.lines().filter(|l| l.starts_with("da ")).collect();
    assert_eq!(da_rows.len(), NL, "{t}");
    for row in da_rows {
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(&cols[3..], ["1.000", "1.000", "1.000"], "{t}");
    }
}

#[test]
fn reports_without_spatial_scores_are_unchanged_and_mismatched_open_loops_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    series(d, "truth", STEPS, &|t, _| t.to_vec());
    series(d, "da", STEPS, &|t, _| t.to_vec());
    series(d, "short", STEPS - 2, &|t, k| open_loop(t, k));
    let plain = landcycle::verify::verify_dirs(&d.join("truth"), &d.join("da")).unwrap();
    assert!(plain.spatial.is_none());
    assert!(
        !plain.to_json().contains("\"spatial\""),
        "no new key without the option"
    );
    let e = spatial(d, "da", Some("short")).unwrap_err();
    assert!(matches!(e, VerifyError::NotComparable(_)), "{e}");
}
