//! In-situ verification: ISMN station files written here from the format description (both
//! layouts, quality flags, a station off the grid, one near a water cell, a non-soil-moisture
//! file) are read, matched to cells and layers, and scored against values computed
//! independently in the test; bad files are errors naming file and line.

use std::path::Path;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use landcycle::io::history::{
    history_file_name, write_history, Compression, EnsembleStat, HistoryField, HistoryGrid,
    HistoryMetadata, HistoryTime, HistoryWrite, TimeMethod, TimeUnits,
};
use landcycle::obs::ismn::{read_ismn_file, FlagFilter, IsmnFormat};
use landcycle::verify::{verify_insitu, InsituOptions};

const NY: usize = 3;
const NX: usize = 4;
const NL: usize = 2;
const WATER: usize = 3;
const STEPS: usize = 48;
const TOL: f64 = 1e-10;

fn t0() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2020, 6, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
}

fn valid(k: usize) -> NaiveDateTime {
    t0() + Duration::hours(3 * (k as i64 + 1))
}

/// Model soil moisture at step k, layer l, cell c.
fn model(k: usize, l: usize, c: usize) -> f64 {
    0.2 + 0.03 * l as f64 + 0.005 * c as f64 + 0.04 * (0.37 * k as f64 + 0.5 * c as f64).sin()
}

/// As the history file stores it (f32).
fn stored(k: usize, l: usize, c: usize) -> f64 {
    model(k, l, c) as f32 as f64
}

fn write_run(dir: &Path) {
    let mask = (0..NY * NX).map(|k| k != WATER).collect();
    let g = HistoryGrid::regular(
        vec![38.0, 38.25, 38.5],
        vec![-95.0, -94.75, -94.5, -94.25],
        mask,
    );
    for k in 0..STEPS {
        let data: Vec<f64> = (0..NL)
            .flat_map(|l| (0..NY * NX).map(move |c| model(k, l, c)))
            .collect();
        let spread = [0.01; NL * NY * NX];
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
        let fields = vec![
            field(EnsembleStat::Mean, &data[..]),
            field(EnsembleStat::Spread, &spread[..]),
        ];
        let out = dir.join(format!("{:02}", k / 8)).join("output");
        std::fs::create_dir_all(&out).unwrap();
        write_history(
            &out.join(history_file_name(valid(k))),
            &HistoryWrite {
                grid: &g,
                time: HistoryTime {
                    reference: t0(),
                    start: valid(k) - Duration::hours(3),
                    end: valid(k),
                    units: TimeUnits::Hours,
                },
                soil_layer_thickness: &[0.1, 0.3],
                fields: &fields,
                metadata: &HistoryMetadata {
                    ensemble_size: 8,
                    ..Default::default()
                },
                compression: Compression::default(),
            },
        )
        .unwrap();
    }
}

/// Station truth: a signal correlated with, but not equal to, the model.
fn station_value(hour: i64, phase: f64) -> f64 {
    let x = hour as f64 / 3.0;
    0.25 + 0.035 * (0.37 * (x - 1.0) + phase).sin() + 0.01 * (1.3 * x).cos()
}

/// Flag of hourly record h: a few dubious and missing records.
fn flag(h: i64) -> &'static str {
    match h % 17 {
        4 => "D06",
        9 => "G,D09",
        13 => "M",
        _ => "G",
    }
}

/// Header + values layout, hourly from 00:00 for 7 days.
fn write_header_values(
    dir: &Path,
    net: &str,
    st: &str,
    lat: f64,
    lon: f64,
    depth: (f64, f64),
    phase: f64,
) {
    let name = format!(
        "{net}_{net}_{st}_sm_{:.6}_{:.6}_ThetaProbe-ML2X_20200601_20200607.stm",
        depth.0, depth.1
    );
    let mut s = format!(
        "{net} {net} {st} {lat:.5} {lon:.5} 231.00 {:.2} {:.2} ThetaProbe ML2X\n",
        depth.0, depth.1
    );
    for h in 0..24 * 7 {
        let t = t0() + Duration::hours(h);
        let v = if flag(h) == "M" {
            "NaN".to_string()
        } else {
            format!("{:.4}", station_value(h, phase))
        };
        s.push_str(&format!(
            "{} {v} {} M\n",
            t.format("%Y/%m/%d %H:%M"),
            flag(h)
        ));
    }
    std::fs::write(dir.join(name), s).unwrap();
}

/// CEOP layout, values at HH:10 (10 minutes after the history times).
fn write_ceop(dir: &Path, net: &str, st: &str, lat: f64, lon: f64, depth: (f64, f64), phase: f64) {
    let name = format!(
        "{net}_{net}_{st}_sm_{:.6}_{:.6}_Hydraprobe-II_20200601_20200607.stm",
        depth.0, depth.1
    );
    let mut s = String::new();
    for h in 0..24 * 7 {
        let t = (t0() + Duration::hours(h) + Duration::minutes(10)).format("%Y/%m/%d %H:%M");
        s.push_str(&format!(
            "{t} {t} {net} {net} {st} {lat:.5} {lon:.5} 120.00 {:.2} {:.2} {:.4} {} OK\n",
            depth.0,
            depth.1,
            station_value(h, phase),
            flag(h)
        ));
    }
    std::fs::write(dir.join(name), s).unwrap();
}

/// Hourly value with its flag at the history time of step k (the `offset` minutes after).
fn expected_insitu(k: usize, phase: f64) -> f64 {
    let h = 3 * (k as i64 + 1);
    if flag(h) == "G" {
        // As written (4 decimals).
        format!("{:.4}", station_value(h, phase)).parse().unwrap()
    } else {
        f64::NAN
    }
}

/// (bias, rmse, ubrmse, r, n) from the direct formulas.
fn direct(x: &[f64], y: &[f64]) -> (f64, f64, f64, f64, usize) {
    let p: Vec<(f64, f64)> = x
        .iter()
        .zip(y)
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .map(|(a, b)| (*a, *b))
        .collect();
    let n = p.len() as f64;
    let mx = p.iter().map(|q| q.0).sum::<f64>() / n;
    let my = p.iter().map(|q| q.1).sum::<f64>() / n;
    let rmse = (p.iter().map(|q| (q.1 - q.0).powi(2)).sum::<f64>() / n).sqrt();
    let ub = (p
        .iter()
        .map(|q| ((q.1 - my) - (q.0 - mx)).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    let sxy: f64 = p.iter().map(|q| (q.0 - mx) * (q.1 - my)).sum();
    let sxx: f64 = p.iter().map(|q| (q.0 - mx).powi(2)).sum();
    let syy: f64 = p.iter().map(|q| (q.1 - my).powi(2)).sum();
    (my - mx, rmse, ub, sxy / (sxx * syy).sqrt(), p.len())
}

fn close(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() <= TOL, "{what}: {a} vs {b}");
}

fn setup(d: &Path) {
    write_run(&d.join("run"));
    let st = d.join("ismn");
    std::fs::create_dir_all(st.join("NETA")).unwrap();
    std::fs::create_dir_all(st.join("NETB")).unwrap();
    // Alpha: near cell (1, 1), point sensor at 5 cm -> layer 1.
    write_header_values(
        &st.join("NETA"),
        "NETA",
        "Alpha",
        38.26,
        -94.74,
        (0.05, 0.05),
        0.2,
    );
    // Beta: near cell (2, 2), 0-20 cm -> half layer 1, half layer 2; CEOP layout.
    write_ceop(
        &st.join("NETA"),
        "NETA",
        "Beta",
        38.49,
        -94.51,
        (0.0, 0.2),
        1.1,
    );
    // Coast: at the water cell (0, 3): the nearest land cell is (0, 2), 21.9 km west.
    write_header_values(
        &st.join("NETB"),
        "NETB",
        "Coast",
        38.0,
        -94.25,
        (0.05, 0.05),
        0.7,
    );
    // Far: 800 km away, not matched.
    write_header_values(
        &st.join("NETB"),
        "NETB",
        "Far",
        45.0,
        -94.5,
        (0.05, 0.05),
        0.0,
    );
    // A soil-temperature file is skipped.
    std::fs::write(
        st.join("NETB")
            .join("NETB_NETB_Far_ts_0.050000_0.050000_X_20200601_20200607.stm"),
        "NETB NETB Far 45.0 -94.5 1.0 0.05 0.05 X\n2020/06/01 00:00 21.5 G M\n",
    )
    .unwrap();
}

#[test]
fn stations_are_read_matched_and_scored() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let r = verify_insitu(
        &d.join("ismn"),
        &d.join("run"),
        ("SoilMoistV", "m3 m-3"),
        &InsituOptions::default(),
    )
    .unwrap();
    assert_eq!(r.times.len(), STEPS);
    let names: Vec<&str> = r.stations.iter().map(|s| s.station.as_str()).collect();
    assert_eq!(names, ["Alpha", "Beta", "Coast", "Far"]);
    let [alpha, beta, coast, far] = &r.stations[..] else {
        panic!()
    };

    assert_eq!(alpha.cell, Some((1, 1)));
    assert_eq!(alpha.layers, vec![(1, 1.0)]);
    assert_eq!(beta.cell, Some((2, 2)));
    assert_eq!(beta.layers, vec![(1, 0.5), (2, 0.5)]);
    assert_eq!(coast.cell, Some((0, 2)), "the water cell is never matched");
    assert!(
        (coast.distance_km - 21.9).abs() < 0.2,
        "{}",
        coast.distance_km
    );
    assert_eq!(far.cell, None);
    assert!(
        far.status.contains("no land cell within 30 km"),
        "{}",
        far.status
    );
    assert!(far.metrics.rmse.is_nan());

    // Flags: of 168 hourly records, those with D06, "G,D09" and M are dropped.
    let dropped = (0..168).filter(|h| flag(*h) != "G").count();
    assert_eq!((alpha.n_records, alpha.n_rejected), (168, dropped));

    for (s, cell, phase, weights) in [
        (alpha, 5usize, 0.2, vec![(0usize, 1.0)]),
        (beta, 10, 1.1, vec![(0, 0.5), (1, 0.5)]),
        (coast, 2, 0.7, vec![(0, 1.0)]),
    ] {
        let x: Vec<f64> = (0..STEPS).map(|k| expected_insitu(k, phase)).collect();
        let y: Vec<f64> = (0..STEPS)
            .map(|k| weights.iter().map(|&(l, w)| w * stored(k, l, cell)).sum())
            .collect();
        let (bias, rmse, ub, rr, n) = direct(&x, &y);
        let m = &s.metrics;
        assert_eq!(m.n, n, "{}", s.station);
        assert!(n > 30 && n < STEPS, "{n}: some times dropped by the flags");
        close(m.bias, bias, "bias");
        close(m.rmse, rmse, "rmse");
        close(m.ubrmse, ub, "ubrmse");
        close(m.r, rr, "r");
        assert_eq!(s.status, "scored");
    }
    let neta = r.networks.iter().find(|n| n.network == "NETA").unwrap();
    assert_eq!((neta.n_stations, neta.n_scored), (2, 2));
    let mean_rmse = neta.metrics.iter().find(|m| m.name == "rmse").unwrap().mean;
    close(
        mean_rmse,
        0.5 * (alpha.metrics.rmse + beta.metrics.rmse),
        "network mean",
    );
    let all = r.networks.iter().find(|n| n.network == "all").unwrap();
    assert_eq!((all.n_stations, all.n_scored), (4, 3));
}

#[test]
fn command_writes_json_csv_and_cf_timeseries() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let (json, csv, nc) = (d.join("s.json"), d.join("s.csv"), d.join("s.nc"));
    landcycle::commands::verify::run(&landcycle::commands::verify::Args {
        insitu: Some(d.join("ismn")),
        run: d.join("run"),
        json: Some(json.clone()),
        insitu_csv: Some(csv.clone()),
        insitu_nc: Some(nc.clone()),
        ..Default::default()
    })
    .unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["stations"].as_array().unwrap().len(), 4);
    assert_eq!(v["stations"][3]["metrics"]["rmse"], serde_json::Value::Null);
    assert_eq!(v["accepted_flags"][0], "G");
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5);
    assert!(lines[0].starts_with("network,station,sensor,lat,lon"));
    assert!(
        lines[1].starts_with("\"NETA\",\"Alpha\",\"ThetaProbe ML2X\""),
        "{}",
        lines[1]
    );

    let f = netcdf::open(&nc).unwrap();
    let attr = |name: &str| match f.attribute(name).unwrap().value().unwrap() {
        netcdf::AttributeValue::Str(s) => s,
        other => panic!("{other:?}"),
    };
    assert_eq!(attr("featureType"), "timeSeries");
    assert_eq!(attr("Conventions"), "CF-1.8");
    assert_eq!(f.dimension("station").unwrap().len(), 4);
    assert_eq!(f.dimension("time").unwrap().len(), STEPS);
    let sm: Vec<f64> = f
        .variable("sm_model")
        .unwrap()
        .get_values::<f64, _>(..)
        .unwrap();
    close(sm[0], stored(0, 0, 5), "sm_model Alpha first time");
    let name = f.variable("station_name").unwrap();
    match name.attribute("cf_role").unwrap().value().unwrap() {
        netcdf::AttributeValue::Str(s) => assert_eq!(s, "timeseries_id"),
        other => panic!("{other:?}"),
    }
    assert_eq!(name.get_string([1]).unwrap(), "NETA/Beta");
}

#[test]
fn both_layouts_read_the_same_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_header_values(d, "N", "S", 10.5, 20.25, (0.0, 0.05), 0.0);
    write_ceop(d, "N", "T", 10.5, 20.25, (0.0, 0.05), 0.0);
    let mut files: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let a = read_ismn_file(&files[0], &FlagFilter::default()).unwrap();
    let b = read_ismn_file(&files[1], &FlagFilter::default()).unwrap();
    assert_eq!(
        (a.format, b.format),
        (IsmnFormat::HeaderValues, IsmnFormat::Ceop)
    );
    assert_eq!((a.station.as_str(), b.station.as_str()), ("S", "T"));
    for s in [&a, &b] {
        assert_eq!(
            (s.lat, s.lon, s.depth_from, s.depth_to),
            (10.5, 20.25, 0.0, 0.05)
        );
        assert_eq!(s.times.len(), s.values.len());
        assert_eq!(s.n_records, 168);
    }
    assert_eq!(a.sensor, "ThetaProbe ML2X");
    assert_eq!(b.sensor, "Hydraprobe-II");
    // Accepting D06 and D09 as well keeps more values.
    let more = read_ismn_file(&files[0], &FlagFilter::parse("G,D06,D09")).unwrap();
    assert!(more.values.len() > a.values.len());
}

#[test]
fn bad_files_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = d.join("N_N_S_sm_0.050000_0.050000_X_20200601_20200602.stm");
    let head = "N N S 10.0 20.0 5.0 0.05 0.05 X\n";
    let cases = [
        (
            format!("{head}2020/06/01 00:00 0.2 G M\n2020/06/01 01:00 abc G M\n"),
            ":3:",
            "value 'abc'",
        ),
        (
            format!("{head}2020/06/01 00:00 0.2 G M\n2020-06-01 01:00 0.2 G M\n"),
            ":3:",
            "YYYY/MM/DD",
        ),
        (format!("{head}2020/06/01 00:00 0.2\n"), ":2:", "fields"),
        (
            format!("{head}2020/06/01 01:00 0.2 G M\n2020/06/01 00:00 0.2 G M\n"),
            ":3:",
            "not after",
        ),
        (
            "N N S 10.0\n2020/06/01 00:00 0.2 G M\n".to_string(),
            ":1:",
            "header has 4 fields",
        ),
        (
            "N N S 95.0 20.0 5.0 0.05 0.05\n".to_string(),
            ":1:",
            "implausible",
        ),
    ];
    for (text, line, what) in cases {
        std::fs::write(&p, &text).unwrap();
        let e = read_ismn_file(&p, &FlagFilter::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("{}{line}", p.display())), "{e}");
        assert!(e.contains(what), "{e}");
    }
    let bad_name = d.join("station.stm");
    std::fs::write(&bad_name, "x").unwrap();
    let e = read_ismn_file(&bad_name, &FlagFilter::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("station.stm") && e.contains("CSE_Network_Station"),
        "{e}"
    );
}

#[test]
fn command_line_takes_insitu_without_truth() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let bin = env!("CARGO_BIN_EXE_landcycle");
    let csv = d.join("cli.csv");
    let o = std::process::Command::new(bin)
        .args(["verify", "--insitu"])
        .arg(d.join("ismn"))
        .arg("--run")
        .arg(d.join("run"))
        .arg("--insitu-csv")
        .arg(&csv)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("Alpha") && out.contains("per network"),
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 5);
    let o = std::process::Command::new(bin)
        .args(["verify", "--run"])
        .arg(d.join("run"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("give --truth DIR"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
