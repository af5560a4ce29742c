//! `landcycle plot`: PNGs that decode, with the expected layout, colours and errors.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use landcycle::plot::{ColorMap, Figure, Panel, ValueRange, MISSING_RGB};

fn plot(args: &[&str]) -> Output {
    Command::new(common::BIN)
        .arg("plot")
        .args(args)
        .output()
        .unwrap()
}

struct Png {
    w: u32,
    h: u32,
    rgb: Vec<u8>,
}

impl Png {
    fn read(path: &Path) -> Png {
        let dec = png::Decoder::new(std::fs::File::open(path).unwrap());
        let mut r = dec.read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size()];
        let info = r.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        buf.truncate(info.buffer_size());
        Png {
            w: info.width,
            h: info.height,
            rgb: buf,
        }
    }
    fn at(&self, x: u32, y: u32) -> [u8; 3] {
        let k = 3 * (y * self.w + x) as usize;
        [self.rgb[k], self.rgb[k + 1], self.rgb[k + 2]]
    }
}

const NY: usize = 12;
const NX: usize = 16;

fn lat() -> Vec<f64> {
    (0..NY).map(|r| 35.0 + r as f64).collect()
}
fn lon() -> Vec<f64> {
    (0..NX).map(|c| -100.0 + c as f64).collect()
}

/// sm(time, soil_layer, lat, lon) = 0.05 t + 0.1 k + 0.02 c, NaN at (row 3, column 7).
fn value(t: usize, k: usize, r: usize, c: usize) -> f64 {
    if r == 3 && c == 7 {
        f64::NAN
    } else {
        0.05 * t as f64 + 0.1 * k as f64 + 0.02 * c as f64
    }
}

fn write_history_like(path: &Path) {
    let mut f = netcdf::create(path).unwrap();
    for (d, n) in [
        ("time", 2),
        ("soil_layer", 3),
        ("member", 3),
        ("lat", NY),
        ("lon", NX),
    ] {
        f.add_dimension(d, n).unwrap();
    }
    let mut v = f.add_variable::<f64>("time", &["time"]).unwrap();
    v.put_attribute("units", "hours since 2020-06-01 00:00:00")
        .unwrap();
    v.put_values(&[6.0, 12.0], ..).unwrap();
    let mut v = f
        .add_variable::<f64>("soil_layer", &["soil_layer"])
        .unwrap();
    v.put_attribute("units", "m").unwrap();
    v.put_attribute("axis", "Z").unwrap();
    v.put_values(&[0.05, 0.25, 0.7], ..).unwrap();
    let mut v = f.add_variable::<f64>("lat", &["lat"]).unwrap();
    v.put_attribute("units", "degrees_north").unwrap();
    v.put_values(&lat(), ..).unwrap();
    let mut v = f.add_variable::<f64>("lon", &["lon"]).unwrap();
    v.put_attribute("units", "degrees_east").unwrap();
    v.put_values(&lon(), ..).unwrap();
    let mut v = f
        .add_variable::<f64>("sm", &["time", "soil_layer", "lat", "lon"])
        .unwrap();
    v.put_attribute("units", "m3 m-3").unwrap();
    let mut vals = Vec::new();
    for t in 0..2 {
        for k in 0..3 {
            for r in 0..NY {
                for c in 0..NX {
                    vals.push(value(t, k, r, c));
                }
            }
        }
    }
    v.put_values(&vals, ..).unwrap();
    let mut v = f
        .add_variable::<f64>("inc", &["member", "lat", "lon"])
        .unwrap();
    v.put_attribute("units", "m3 m-3").unwrap();
    let vals: Vec<f64> = (0..3 * NY * NX)
        .map(|i| ((i / (NY * NX)) as f64 - 1.0) * 0.01 * ((i % NX) as f64 - 7.5))
        .collect();
    v.put_values(&vals, ..).unwrap();
}

/// The layout the command must have used for `n` panels of this grid.
fn figure(n: usize, width: u32) -> Figure {
    let p = Panel::new("", "", lat(), lon(), vec![0.0; NY * NX]).unwrap();
    Figure {
        panels: vec![p; n],
        cmap: ColorMap::Sequential,
        range: ValueRange::default(),
        shared_range: false,
        panel_width: width,
    }
}

/// Pixel at the centre of cell (row, column), rows in file order with latitude ascending.
fn cell_pixel(map: landcycle::plot::Rect, r: usize, c: usize) -> (u32, u32) {
    let x = map.x as f64 + (c as f64 + 0.5) * map.w as f64 / NX as f64;
    let y = map.y as f64 + ((NY - 1 - r) as f64 + 0.5) * map.h as f64 / NY as f64;
    (x as u32, y as u32)
}

#[test]
fn png_has_layout_colours_grey_missing_and_colour_bar_ends() {
    let dir = tempfile::tempdir().unwrap();
    let nc = dir.path().join("h.nc");
    write_history_like(&nc);
    let out = dir.path().join("p.png");
    let input = format!("{}:sm", nc.display());
    let o = plot(&[
        &input,
        "--layer",
        "1",
        "--time-index",
        "1",
        "--vmin",
        "0.2",
        "--vmax",
        "0.4",
        "--panel-width",
        "320",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let img = Png::read(&out);
    let lay = figure(1, 320).layout();
    assert_eq!((img.w, img.h), (lay.width, lay.height));
    let p = lay.panels[0];
    assert_eq!(
        (p.map.w, p.map.h),
        (320, 240),
        "1° cells, 16 × 12: aspect kept"
    );
    let cmap = ColorMap::Sequential;
    for (r, c) in [(0, 0), (5, 5), (11, 15), (2, 9)] {
        let (x, y) = cell_pixel(p.map, r, c);
        assert_eq!(
            img.at(x, y),
            cmap.color(value(1, 1, r, c), 0.2, 0.4),
            "cell ({r}, {c})"
        );
    }
    let (x, y) = cell_pixel(p.map, 3, 7);
    assert_eq!(img.at(x, y), MISSING_RGB, "NaN cell is grey");
    // Value 0.15 < vmin and 0.45 > vmax saturate; the bar ends carry the same colours.
    assert_eq!(
        img.at(cell_pixel(p.map, 0, 0).0, cell_pixel(p.map, 0, 0).1),
        cmap.at(0.0)
    );
    assert_eq!(
        img.at(cell_pixel(p.map, 0, 15).0, cell_pixel(p.map, 0, 15).1),
        cmap.at(1.0)
    );
    let mid = p.colorbar.y + p.colorbar.h / 2;
    assert_eq!(img.at(p.colorbar.x, mid), cmap.at(0.0));
    assert_eq!(img.at(p.colorbar.x + p.colorbar.w - 1, mid), cmap.at(1.0));
    // Text was drawn: dark pixels in the title band and left of the map (latitude labels).
    let dark = |x0: u32, x1: u32, y0: u32, y1: u32| {
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .filter(|&(x, y)| img.at(x, y).iter().all(|&v| v < 90))
            .count()
    };
    assert!(
        dark(p.title.0, p.title.0 + 200, p.title.1, p.map.y - 2) > 50,
        "title"
    );
    assert!(
        dark(2, p.map.x - 6, p.map.y, p.map.y + p.map.h) > 30,
        "latitude labels"
    );
    assert!(
        dark(
            p.colorbar.x,
            p.colorbar.x + p.colorbar.w,
            p.colorbar.y + p.colorbar.h + 5,
            img.h
        ) > 30,
        "colour bar labels"
    );
}

#[test]
fn panels_side_by_side_with_a_shared_diverging_range() {
    let dir = tempfile::tempdir().unwrap();
    let nc = dir.path().join("h.nc");
    write_history_like(&nc);
    let out = dir.path().join("two.png");
    let a = format!("{}:inc", nc.display());
    let o = plot(&[
        &a,
        nc.to_str().unwrap(),
        "--var",
        "inc",
        "--index",
        "member=2",
        "--cmap",
        "diverging",
        "--shared-range",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // `--index member=2` applies to both panels.
    let img = Png::read(&out);
    let lay = figure(2, 420).layout();
    assert_eq!((img.w, img.h), (lay.width, lay.height));
    // Member 2: 0.01 (c − 7.5); |values| up to 0.075, 98th percentile of the shared values.
    let vals: Vec<f64> = (0..NY * NX)
        .map(|i| 0.01 * ((i % NX) as f64 - 7.5))
        .collect();
    let a98 = landcycle::plot::percentile(&[vals.clone(), vals.clone()].concat(), 98.0).unwrap();
    let a2 = landcycle::plot::percentile(&vals, 2.0).unwrap();
    let a = a98.abs().max(a2.abs());
    for p in &lay.panels {
        for c in [0, 7, 8, 15] {
            let (x, y) = cell_pixel(p.map, 4, c);
            assert_eq!(
                img.at(x, y),
                ColorMap::Diverging.color(vals[c], -a, a),
                "column {c}"
            );
        }
        let (mid, k) = (p.colorbar.y + p.colorbar.h / 2, p.colorbar.w / 2);
        let t = k as f64 / (p.colorbar.w - 1) as f64;
        assert_eq!(img.at(p.colorbar.x + k, mid), ColorMap::Diverging.at(t));
        assert!(
            img.at(p.colorbar.x + k, mid).iter().all(|&v| v > 235),
            "white centre"
        );
    }
}

#[test]
fn bad_selections_name_file_and_variable() {
    let dir = tempfile::tempdir().unwrap();
    let nc = dir.path().join("h.nc");
    write_history_like(&nc);
    let out = dir.path().join("x.png");
    let o_ = out.to_str().unwrap();
    let cases: [(&[&str], &[&str]); 4] = [
        (&["--var", "SoilMoist"], &["h.nc", "'SoilMoist'"]),
        (&["--var", "sm"], &["h.nc", "'sm'", "soil_layer"]),
        (
            &["--var", "inc", "--layer", "0"],
            &["h.nc", "'inc'", "--layer"],
        ),
        (
            &["--var", "sm", "--layer", "5"],
            &["h.nc", "'sm'", "outside"],
        ),
    ];
    for (extra, want) in cases {
        let mut args = vec![nc.to_str().unwrap(), "--out", o_];
        args.extend_from_slice(extra);
        let o = plot(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{extra:?} should fail");
        for w in want {
            assert!(err.contains(w), "{extra:?}: '{w}' not in: {err}");
        }
        assert!(!out.exists());
    }
}
