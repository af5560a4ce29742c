//! `landcycle chart series|bars|hist` and `plot::render_chart`: PNGs of the requested size,
//! data drawn inside the plot area in the series' colours, legends with every entry, bars
//! as tall as their values, histograms that follow the data, and clear errors.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use chrono::{Duration, NaiveDate, NaiveDateTime};
use landcycle::io::history::{
    history_file_name, write_history, Compression, EnsembleStat, HistoryField, HistoryGrid,
    HistoryMetadata, HistoryTime, HistoryWrite, TimeMethod, TimeUnits,
};
use landcycle::plot::{palette, render_chart, Chart, Mark, RgbImage, Series, XAxis};

const NY: usize = 3;
const NX: usize = 4;
const NL: usize = 2;
const MEMBERS: usize = 5;
const STEPS: usize = 24;
const MEAN_RGB: [u8; 3] = [8, 81, 156];
const BAND_RGB: [u8; 3] = [198, 219, 239];

fn chart(args: &[&str]) -> Output {
    Command::new(common::BIN)
        .arg("chart")
        .args(args)
        .output()
        .unwrap()
}

fn read_png(path: &Path) -> RgbImage {
    let dec = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size()];
    let info = r.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    RgbImage {
        width: info.width,
        height: info.height,
        pixels: buf,
    }
}

/// Pixels of colour `c` in columns x0..x1 (all rows).
fn count(img: &RgbImage, c: [u8; 3], x0: u32, x1: u32) -> usize {
    (0..img.height)
        .flat_map(|y| (x0..x1.min(img.width)).map(move |x| (x, y)))
        .filter(|&(x, y)| img.get(x, y) == c)
        .count()
}

fn t0() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2020, 6, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
}

/// A run with members in `<dir>/<cycle>/output` and a DA diagnostics file with an SMAP
/// observation at cell (1, 2) every 6 hours.
fn write_run(dir: &Path) {
    let mask = vec![true; NY * NX];
    let g = HistoryGrid::regular(
        vec![38.0, 38.25, 38.5],
        vec![-95.0, -94.75, -94.5, -94.25],
        mask,
    );
    for k in 0..STEPS {
        let valid = t0() + Duration::hours(3 * (k as i64 + 1));
        let data: Vec<f64> = (0..MEMBERS)
            .flat_map(|m| {
                (0..NL * NY * NX).map(move |i| {
                    0.2 + 0.01 * m as f64 + 0.002 * i as f64 + 0.03 * (0.3 * k as f64).sin()
                })
            })
            .collect();
        let fields = vec![HistoryField {
            name: "SoilMoistV".into(),
            long_name: "volumetric soil moisture".into(),
            units: "m3 m-3".into(),
            standard_name: None,
            time_method: TimeMethod::Point,
            layered: true,
            stat: EnsembleStat::Members,
            data: &data[..],
        }];
        let out = dir.join(format!("{:02}", k / 8)).join("output");
        std::fs::create_dir_all(&out).unwrap();
        write_history(
            &out.join(history_file_name(valid)),
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
                metadata: &HistoryMetadata {
                    ensemble_size: MEMBERS,
                    ..Default::default()
                },
                compression: Compression::default(),
            },
        )
        .unwrap();
        if k % 2 == 1 {
            write_diag(&dir.join(format!("{:02}", k / 8)).join("diag"), valid, k);
        }
    }
}

fn write_diag(dir: &Path, t: NaiveDateTime, k: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let mut f = netcdf::create(dir.join(format!("LC_DA_{}.nc", t.format("%Y%m%d%H%M")))).unwrap();
    f.add_dimension("time", 1).unwrap();
    f.add_dimension("lat", NY).unwrap();
    f.add_dimension("lon", NX).unwrap();
    for (name, value) in [
        ("smap_obs", 0.24 + 0.01 * (k % 3) as f32),
        ("smap_innovation", 0.01),
        ("smap_normalized_innovation", 0.5 * (k % 5) as f32 - 1.0),
    ] {
        let mut v = f
            .add_variable::<f32>(name, &["time", "lat", "lon"])
            .unwrap();
        v.put_attribute("_FillValue", 1.0e20f32).unwrap();
        let data: Vec<f32> = (0..NY * NX)
            .map(|c| {
                if c == 6 || name != "smap_obs" {
                    value
                } else {
                    1.0e20
                }
            })
            .collect();
        v.put_values(&data, ..).unwrap();
    }
}

#[test]
fn point_series_shows_members_mean_spread_and_observations() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_run(&d.join("run"));
    let out = d.join("ts.png");
    let o = chart(&[
        "series",
        "--run",
        d.join("run").to_str().unwrap(),
        "--lat",
        "38.26",
        "--lon",
        "-94.49",
        "--out",
        out.to_str().unwrap(),
        "--width",
        "900",
        "--height",
        "480",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let img = read_png(&out);
    assert_eq!((img.width, img.height), (900, 480));
    let split = 900 - 210;
    // Data left of the legend: mean line, spread band, SMAP points; legend on the right.
    for (c, what, min) in [
        (MEAN_RGB, "mean", 300),
        (BAND_RGB, "spread band", 2000),
        (palette(1), "SMAP obs", 12 * 20),
    ] {
        let n = count(&img, c, 80, split);
        assert!(n >= min, "{what}: {n} pixels in the plot area");
        assert!(
            count(&img, c, split, 900) > 0,
            "{what} missing from the legend"
        );
    }
    // Nothing of the data below the x axis labels area: the bottom rows are background/text.
    assert_eq!(count(&img, MEAN_RGB, 0, 80), 0);
}

#[test]
fn series_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_run(&d.join("run"));
    let out = d.join("x.png");
    let o = chart(&[
        "series",
        "--run",
        d.join("run").to_str().unwrap(),
        "--lat",
        "10",
        "--lon",
        "10",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("no land cell") && e.contains("within 50 km"),
        "{e}"
    );
    let o = chart(&[
        "series",
        "--run",
        d.join("run").to_str().unwrap(),
        "--lat",
        "38.26",
        "--lon",
        "-94.49",
        "--layer",
        "5",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("SoilMoistV"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!out.exists());
}

#[test]
fn bars_are_as_tall_as_the_scores() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let report = |rmse: [f64; 2]| {
        serde_json::json!({"variable": "SoilMoistV", "units": "m3 m-3", "layers": [
            {"layer": 1, "rmse": rmse[0]}, {"layer": 2, "rmse": rmse[1]}]})
        .to_string()
    };
    std::fs::write(d.join("openloop.json"), report([0.04, 0.03])).unwrap();
    std::fs::write(d.join("da.json"), report([0.02, 0.03])).unwrap();
    let out = d.join("bars.png");
    let o = chart(&[
        "bars",
        d.join("openloop.json").to_str().unwrap(),
        d.join("da.json").to_str().unwrap(),
        "--metric",
        "rmse",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let img = read_png(&out);
    let split = img.width - 210;
    // Total bar area ∝ sum of values: open loop 0.07, DA 0.05.
    let (a, b) = (
        count(&img, palette(0), 0, split),
        count(&img, palette(1), 0, split),
    );
    let ratio = a as f64 / b as f64;
    assert!((ratio - 0.07 / 0.05).abs() < 0.08, "bar area ratio {ratio}");
    let o = chart(&[
        "bars",
        d.join("da.json").to_str().unwrap(),
        "--metric",
        "nonsense",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no pooled score 'nonsense'"));
}

#[test]
fn innovation_histogram_follows_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_run(&d.join("run"));
    let out = d.join("hist.png");
    let o = chart(&[
        "hist",
        d.join("run").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let img = read_png(&out);
    assert!(
        count(&img, palette(0), 80, img.width - 210) > 200,
        "SMAP histogram outline"
    );
    assert!(
        count(&img, palette(0), img.width - 210, img.width) > 0,
        "legend entry"
    );
    let o = chart(&[
        "hist",
        d.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--raw",
    ]);
    assert!(o.status.success(), "diag files are searched recursively");
    let empty = tempfile::tempdir().unwrap();
    let o = chart(&[
        "hist",
        empty.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("no DA diagnostics"));
}

#[test]
fn legend_has_a_swatch_per_entry_and_data_stay_in_the_plot_area() {
    let x: Vec<f64> = (0..50).map(|k| k as f64 * 0.25).collect();
    let y: Vec<f64> = x.iter().map(|v| 0.25 + 0.05 * v.sin()).collect();
    let up: Vec<f64> = y.iter().map(|v| v + 0.02).collect();
    let lo: Vec<f64> = y.iter().map(|v| v - 0.02).collect();
    let c = Chart {
        title: "t".into(),
        subtitle: "s".into(),
        x_label: "date".into(),
        y_label: "SoilMoistV [m3 m-3]".into(),
        x_axis: XAxis::Days { origin: t0() },
        series: vec![
            Series {
                label: "band".into(),
                color: BAND_RGB,
                x: x.clone(),
                y: lo,
                mark: Mark::Band { upper: up },
                in_legend: true,
            },
            Series {
                label: "mean".into(),
                color: MEAN_RGB,
                x: x.clone(),
                y: y.clone(),
                mark: Mark::Line { width: 2 },
                in_legend: true,
            },
            Series {
                label: "hidden".into(),
                color: [1, 2, 3],
                x: x.clone(),
                y: y.clone(),
                mark: Mark::Line { width: 1 },
                in_legend: false,
            },
            Series {
                label: "obs".into(),
                color: palette(2),
                x,
                y,
                mark: Mark::Points { radius: 3 },
                in_legend: true,
            },
        ],
        width: 800,
        height: 400,
        zero_line: false,
    };
    let ci = render_chart(&c).unwrap();
    assert_eq!((ci.image.width, ci.image.height), (800, 400));
    assert_eq!(ci.swatches.len(), 3);
    for (sw, col) in ci.swatches.iter().zip([BAND_RGB, MEAN_RGB, palette(2)]) {
        assert_eq!(ci.image.get(sw.x + sw.w / 2, sw.y + sw.h / 2), col);
        assert!(
            sw.x >= ci.plot_area.x + ci.plot_area.w,
            "swatch right of the plot area"
        );
    }
    let a = ci.plot_area;
    let inside = (a.y..a.y + a.h)
        .flat_map(|y| (a.x..a.x + a.w).map(move |x| (x, y)))
        .filter(|&(x, y)| ci.image.get(x, y) != [255, 255, 255])
        .count();
    assert!(
        inside > (a.w * a.h / 20) as usize,
        "{inside} non-background pixels in the plot area"
    );
    let empty = Chart {
        series: vec![],
        ..c
    };
    assert!(render_chart(&empty)
        .unwrap_err()
        .to_string()
        .contains("no series"));
}
