//! Rasterise panels into one RGB image: maps (north up, plate carrée), frames, degree tick
//! labels, colour bars and titles.

use super::layout::{layout, Layout, PanelLayout, Rect};
use super::range::{nice_ticks, resolve_range, ValueRange};
use super::text::{draw_labels, Align, Label};
use super::{ColorMap, PlotError, RgbImage};

const WHITE: [u8; 3] = [255, 255, 255];
const BLACK: [u8; 3] = [0, 0, 0];
const TICK: u32 = 4;

/// One map: values on a regular lat-lon grid, row-major (rows = `lat`, columns = `lon`).
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    /// First title line (variable, units).
    pub title: String,
    /// Second title line (time, layer, member), may be empty.
    pub subtitle: String,
    /// Latitude of each row (either order, evenly spaced).
    pub lat: Vec<f64>,
    /// Longitude of each column (evenly spaced, any convention).
    pub lon: Vec<f64>,
    /// `lat.len() × lon.len()` values, NaN missing.
    pub values: Vec<f64>,
}

impl Panel {
    /// Check the arrays fit together.
    pub fn new(
        title: &str,
        subtitle: &str,
        lat: Vec<f64>,
        lon: Vec<f64>,
        values: Vec<f64>,
    ) -> Result<Self, PlotError> {
        let err = |msg: String| PlotError::Panel {
            title: title.to_string(),
            msg,
        };
        if lat.is_empty() || lon.is_empty() || values.len() != lat.len() * lon.len() {
            return Err(err(format!(
                "{} values for {} latitudes × {} longitudes",
                values.len(),
                lat.len(),
                lon.len()
            )));
        }
        if lat.iter().chain(&lon).any(|c| !c.is_finite()) {
            return Err(err("non-finite coordinate".into()));
        }
        Ok(Self {
            title: title.to_string(),
            subtitle: subtitle.to_string(),
            lat,
            lon,
            values,
        })
    }

    fn ny(&self) -> usize {
        self.lat.len()
    }
    fn nx(&self) -> usize {
        self.lon.len()
    }

    /// Outer edges (first, last) of an axis of cell centres.
    fn edges(c: &[f64]) -> (f64, f64, f64) {
        let n = c.len();
        let d = if n > 1 {
            (c[n - 1] - c[0]) / (n - 1) as f64
        } else {
            1.0
        };
        (c[0] - 0.5 * d, c[n - 1] + 0.5 * d, d)
    }
}

/// What to draw.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// Panels, left to right.
    pub panels: Vec<Panel>,
    /// Colour map of every panel.
    pub cmap: ColorMap,
    /// Colour range (given or robust).
    pub range: ValueRange,
    /// One range from all panels' values (compare panels) instead of one per panel.
    pub shared_range: bool,
    /// Width of each map in pixels.
    pub panel_width: u32,
}

impl Figure {
    /// Map size in pixels: the given width, height from the grid's aspect in degrees.
    fn map_size(&self, p: &Panel) -> (u32, u32) {
        let w = self.panel_width.clamp(120, 4000);
        let (a, b, _) = Panel::edges(&p.lat);
        let (c, d, _) = Panel::edges(&p.lon);
        let aspect = (b - a).abs() / (d - c).abs().max(1e-12);
        let h = (w as f64 * aspect).round().clamp(40.0, 3.0 * w as f64) as u32;
        (w, h)
    }

    /// The layout of this figure.
    pub fn layout(&self) -> Layout {
        let sizes: Vec<(u32, u32)> = self.panels.iter().map(|p| self.map_size(p)).collect();
        layout(&sizes)
    }

    /// (vmin, vmax) of each panel.
    pub fn ranges(&self) -> Vec<(f64, f64)> {
        if self.shared_range {
            let all: Vec<f64> = self.panels.iter().flat_map(|p| p.values.clone()).collect();
            vec![resolve_range(&all, self.range, self.cmap); self.panels.len()]
        } else {
            self.panels
                .iter()
                .map(|p| resolve_range(&p.values, self.range, self.cmap))
                .collect()
        }
    }
}

/// Draw `fig` into an RGB image.
pub fn render(fig: &Figure) -> Result<RgbImage, PlotError> {
    if fig.panels.is_empty() {
        return Err(PlotError::Figure("no panel to draw".into()));
    }
    let lay = fig.layout();
    let mut img = RgbImage::filled(lay.width, lay.height, WHITE);
    let mut labels = Vec::new();
    for ((p, pl), (vmin, vmax)) in fig.panels.iter().zip(&lay.panels).zip(fig.ranges()) {
        raster_map(&mut img, p, pl.map, fig.cmap, vmin, vmax);
        raster_colorbar(&mut img, pl.colorbar, fig.cmap);
        frame(&mut img, pl.map);
        frame(&mut img, pl.colorbar);
        axis_labels(&mut img, p, pl.map, &mut labels);
        colorbar_labels(&mut img, pl.colorbar, vmin, vmax, &mut labels);
        title_labels(p, pl, &mut labels);
    }
    draw_labels(&mut img, &labels)?;
    Ok(img)
}

/// Each pixel shows the cell under its centre; rows are flipped when latitude ascends.
fn raster_map(img: &mut RgbImage, p: &Panel, r: Rect, cmap: ColorMap, vmin: f64, vmax: f64) {
    let (ny, nx) = (p.ny(), p.nx());
    let north_first = p.lat[0] >= p.lat[ny - 1];
    for py in 0..r.h {
        let k = (((py as f64 + 0.5) * ny as f64 / r.h as f64) as usize).min(ny - 1);
        let row = if north_first { k } else { ny - 1 - k };
        for px in 0..r.w {
            let col = (((px as f64 + 0.5) * nx as f64 / r.w as f64) as usize).min(nx - 1);
            let v = p.values[row * nx + col];
            img.put(r.x + px, r.y + py, cmap.color(v, vmin, vmax));
        }
    }
}

fn raster_colorbar(img: &mut RgbImage, r: Rect, cmap: ColorMap) {
    for px in 0..r.w {
        let c = cmap.at(px as f64 / (r.w.max(2) - 1) as f64);
        for py in 0..r.h {
            img.put(r.x + px, r.y + py, c);
        }
    }
}

/// A one-pixel black frame just outside `r`.
fn frame(img: &mut RgbImage, r: Rect) {
    let (x0, y0, x1, y1) = (r.x - 1, r.y - 1, r.x + r.w, r.y + r.h);
    for x in x0..=x1 {
        img.put(x, y0, BLACK);
        img.put(x, y1, BLACK);
    }
    for y in y0..=y1 {
        img.put(x0, y, BLACK);
        img.put(x1, y, BLACK);
    }
}

fn degrees(v: f64, step: f64, pos: char, neg: char) -> String {
    let a = fmt_number(v.abs(), step);
    if a == "0" {
        "0°".to_string()
    } else if pos == 'E' && (v.abs() - 180.0).abs() < 1e-9 {
        "180°".to_string()
    } else {
        format!("{a}°{}", if v > 0.0 { pos } else { neg })
    }
}

/// Longitude in (−180, 180] for labels.
fn wrap_lon(v: f64) -> f64 {
    let w = (v + 180.0).rem_euclid(360.0) - 180.0;
    if w <= -180.0 {
        w + 360.0
    } else {
        w
    }
}

/// Latitude labels on the left, longitude labels below, with tick marks.
fn axis_labels(img: &mut RgbImage, p: &Panel, r: Rect, out: &mut Vec<Label>) {
    let (la, lb, _) = Panel::edges(&p.lat);
    let (north, south) = (la.max(lb), la.min(lb));
    let (ticks, step) = nice_ticks(south, north, (r.h / 45).clamp(3, 8) as usize);
    for t in ticks {
        let y = r.y as f64 + (north - t) / (north - south) * r.h as f64;
        let y = (y.round() as u32).min(r.y + r.h - 1);
        for k in 1..=TICK {
            img.put(r.x - 1 - k, y, BLACK);
        }
        out.push(Label {
            text: degrees(t, step, 'N', 'S'),
            x: (r.x - TICK - 4) as i32,
            y: y as i32,
            size: 13,
            align: Align::Right,
            middle: true,
        });
    }
    let (first, last, _) = Panel::edges(&p.lon);
    let (ticks, step) = nice_ticks(first, last, (r.w / 75).clamp(3, 8) as usize);
    for t in ticks {
        let x = r.x as f64 + (t - first) / (last - first) * r.w as f64;
        let x = (x.round() as u32).min(r.x + r.w - 1);
        for k in 1..=TICK {
            img.put(x, r.y + r.h + k - 1, BLACK);
        }
        out.push(Label {
            text: degrees(wrap_lon(t), step, 'E', 'W'),
            x: x as i32,
            y: (r.y + r.h + TICK + 2) as i32,
            size: 13,
            align: Align::Center,
            middle: false,
        });
    }
}

fn colorbar_labels(img: &mut RgbImage, r: Rect, vmin: f64, vmax: f64, out: &mut Vec<Label>) {
    let (ticks, step) = nice_ticks(vmin, vmax, (r.w / 80).clamp(2, 7) as usize);
    for t in ticks {
        let x = r.x as f64 + (t - vmin) / (vmax - vmin) * (r.w - 1) as f64;
        let x = x.round() as u32;
        for k in 1..=TICK {
            img.put(x, r.y + r.h + k - 1, BLACK);
        }
        out.push(Label {
            text: fmt_number(t, step),
            x: x as i32,
            y: (r.y + r.h + TICK + 2) as i32,
            size: 13,
            align: Align::Center,
            middle: false,
        });
    }
}

fn title_labels(p: &Panel, pl: &PanelLayout, out: &mut Vec<Label>) {
    let room = pl.map.w + 40;
    let (x, y) = (pl.title.0 as i32, pl.title.1 as i32);
    out.push(Label {
        text: fit(&p.title, room, 16),
        x,
        y,
        size: 16,
        align: Align::Left,
        middle: false,
    });
    out.push(Label {
        text: fit(&p.subtitle, room, 14),
        x,
        y: y + 23,
        size: 14,
        align: Align::Left,
        middle: false,
    });
}

/// Shorten `s` with an ellipsis to about `width` pixels at font `size`.
fn fit(s: &str, width: u32, size: u32) -> String {
    let max_chars = (width as f64 / (0.58 * size as f64)) as usize;
    if s.chars().count() <= max_chars {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max_chars.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// `v` with as many decimals as the tick step needs (scientific for very large or small).
pub(super) fn fmt_number(v: f64, step: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if v.abs() >= 1e5 || step < 1e-4 {
        return format!("{v:.2e}");
    }
    let decimals = (0..8)
        .find(|&d| {
            let s = step * 10f64.powi(d);
            (s - s.round()).abs() < 1e-6 * s.max(1.0)
        })
        .unwrap_or(8) as usize;
    let s = format!("{v:.decimals$}");
    if s.trim_start_matches('-')
        .trim_matches(['0', '.'])
        .is_empty()
    {
        "0".into()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_degrees() {
        assert_eq!(fmt_number(0.25, 0.05), "0.25");
        assert_eq!(fmt_number(0.3, 0.1), "0.3");
        assert_eq!(fmt_number(-2.5, 2.5), "-2.5");
        assert_eq!(fmt_number(120.0, 20.0), "120");
        assert_eq!(fmt_number(2e-5, 1e-5), "2.00e-5");
        assert_eq!(degrees(45.0, 5.0, 'N', 'S'), "45°N");
        assert_eq!(degrees(-30.0, 10.0, 'N', 'S'), "30°S");
        assert_eq!(degrees(0.0, 10.0, 'E', 'W'), "0°");
        assert_eq!(degrees(wrap_lon(260.0), 20.0, 'E', 'W'), "100°W");
        assert_eq!(degrees(wrap_lon(180.0), 20.0, 'E', 'W'), "180°");
    }
}
