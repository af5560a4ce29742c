//! Charts: x-y plots (lines, shaded bands, markers, histogram steps, bars) with a numeric,
//! date or category x axis, axis titles with units, a two-line title and a legend to the
//! right of the plot area. Axes, grid and data are drawn with plotters into the same
//! [`RgbImage`] the maps use; titles, category labels and the legend with [`draw_labels`].
//! [`ChartImage`] reports where the plot area, legend and legend swatches are (tests probe
//! them).

use chrono::NaiveDateTime;
use plotters::prelude::*;

use super::layout::Rect;
use super::text::{draw_labels, register_font, Align, Label};
use super::{PlotError, RgbImage};

const TITLE_H: u32 = 52;
const LEGEND_W: u32 = 210;
const ROW_H: u32 = 22;

/// How a series is drawn.
#[derive(Clone, Debug, PartialEq)]
pub enum Mark {
    /// A polyline (broken at NaN), `width` pixels.
    Line { width: u32 },
    /// A filled band between `y` (lower) and `upper`.
    Band { upper: Vec<f64> },
    /// Filled circles of `radius` pixels.
    Points { radius: u32 },
    /// Bars from 0 to y, `width` in x units, centred on x.
    Bars { width: f64 },
    /// Histogram outline: `x` are the n + 1 bin edges, `y` the n bin values.
    Steps { width: u32 },
}

/// One series.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub label: String,
    pub color: [u8; 3],
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub mark: Mark,
    /// Shown in the legend (several member lines share one entry).
    pub in_legend: bool,
}

/// What the x values mean.
#[derive(Clone, Debug, PartialEq)]
pub enum XAxis {
    Numeric,
    /// Days since `origin`; ticks are labelled with dates.
    Days {
        origin: NaiveDateTime,
    },
    /// Category k at x = k; ticks are the names.
    Categories(Vec<String>),
}

/// A chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    pub title: String,
    pub subtitle: String,
    pub x_label: String,
    pub y_label: String,
    pub x_axis: XAxis,
    pub series: Vec<Series>,
    pub width: u32,
    pub height: u32,
    /// A horizontal line at y = 0 (scores with sign, innovations).
    pub zero_line: bool,
}

/// The rendered chart and where its parts are.
#[derive(Clone, Debug)]
pub struct ChartImage {
    pub image: RgbImage,
    pub plot_area: Rect,
    pub legend: Rect,
    /// Legend swatch of each series with `in_legend`, in order.
    pub swatches: Vec<Rect>,
}

fn rgb(c: [u8; 3]) -> RGBColor {
    RGBColor(c[0], c[1], c[2])
}

/// Data ranges with 4 % padding; bars and steps include 0.
/// (x0, x1) and (y0, y1) of a chart.
type Ranges = ((f64, f64), (f64, f64));

fn ranges(c: &Chart) -> Result<Ranges, PlotError> {
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    let mut grow = |x: f64, y: f64| {
        if x.is_finite() && y.is_finite() {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
    };
    for s in &c.series {
        for (k, &x) in s.x.iter().enumerate() {
            let y = s.y.get(k).copied().unwrap_or(0.0);
            match &s.mark {
                Mark::Bars { width } => {
                    grow(x - 0.5 * width, 0.0);
                    grow(x + 0.5 * width, y);
                }
                Mark::Steps { .. } => grow(x, 0.0),
                Mark::Band { upper } => {
                    grow(x, y);
                    grow(x, upper.get(k).copied().unwrap_or(y));
                }
                _ => grow(x, y),
            }
        }
        if let Mark::Steps { .. } = s.mark {
            for (k, &y) in s.y.iter().enumerate() {
                grow(s.x[k], y);
            }
        }
    }
    if let XAxis::Categories(names) = &c.x_axis {
        x0 = x0.min(-0.5);
        x1 = x1.max(names.len() as f64 - 0.5);
    }
    if !(x0.is_finite() && y0.is_finite()) {
        return Err(PlotError::Figure(format!(
            "chart '{}': no finite data",
            c.title
        )));
    }
    let pad = |a: f64, b: f64, f: f64| {
        let d = if b > a {
            (b - a) * f
        } else {
            a.abs().max(1e-3) * 0.1
        };
        (a - d, b + d)
    };
    let xr = if matches!(c.x_axis, XAxis::Categories(_)) {
        (x0, x1)
    } else {
        pad(x0, x1, 0.01)
    };
    Ok((xr, pad(y0, y1, 0.04)))
}

/// Pieces of `(x, y)` between non-finite values.
fn runs(x: &[f64], y: &[f64]) -> Vec<Vec<(f64, f64)>> {
    let mut out = vec![Vec::new()];
    for (a, b) in x.iter().zip(y) {
        if a.is_finite() && b.is_finite() {
            if let Some(r) = out.last_mut() {
                r.push((*a, *b));
            }
        } else if !out.last().is_some_and(Vec::is_empty) {
            out.push(Vec::new());
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

type Plot<'a, 'b> = ChartContext<
    'a,
    BitMapBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

fn draw_series(ch: &mut Plot, s: &Series) -> Result<(), PlotError> {
    let e = |e: DrawingAreaErrorKind<_>| PlotError::Figure(format!("drawing '{}': {e:?}", s.label));
    let col = rgb(s.color);
    match &s.mark {
        Mark::Line { width } => {
            for r in runs(&s.x, &s.y) {
                ch.draw_series(std::iter::once(PathElement::new(
                    r,
                    col.stroke_width(*width),
                )))
                .map_err(e)?;
            }
        }
        Mark::Band { upper } => {
            // Index runs where x, lower and upper are all finite: one polygon each.
            let ok = |k: usize| {
                s.x[k].is_finite()
                    && s.y[k].is_finite()
                    && upper.get(k).is_some_and(|u| u.is_finite())
            };
            let mut k = 0;
            while k < s.x.len() {
                let start = k;
                while k < s.x.len() && ok(k) {
                    k += 1;
                }
                if k > start {
                    let mut poly: Vec<(f64, f64)> = (start..k).map(|j| (s.x[j], s.y[j])).collect();
                    poly.extend((start..k).rev().map(|j| (s.x[j], upper[j])));
                    ch.draw_series(std::iter::once(Polygon::new(poly, col.filled())))
                        .map_err(e)?;
                }
                k += 1;
            }
        }
        Mark::Points { radius } => {
            let pts =
                s.x.iter()
                    .zip(&s.y)
                    .filter(|(a, b)| a.is_finite() && b.is_finite());
            ch.draw_series(pts.map(|(a, b)| Circle::new((*a, *b), *radius, col.filled())))
                .map_err(e)?;
        }
        Mark::Bars { width } => {
            let bars = s.x.iter().zip(&s.y).filter(|(_, b)| b.is_finite());
            ch.draw_series(bars.map(|(a, b)| {
                Rectangle::new(
                    [(a - 0.5 * width, 0.0), (a + 0.5 * width, *b)],
                    col.filled(),
                )
            }))
            .map_err(e)?;
        }
        Mark::Steps { width } => {
            let n = s.y.len().min(s.x.len().saturating_sub(1));
            let mut path = vec![(s.x[0], 0.0)];
            for k in 0..n {
                let y = if s.y[k].is_finite() { s.y[k] } else { 0.0 };
                path.push((s.x[k], y));
                path.push((s.x[k + 1], y));
            }
            path.push((s.x[n], 0.0));
            ch.draw_series(std::iter::once(PathElement::new(
                path,
                col.stroke_width(*width),
            )))
            .map_err(e)?;
        }
    }
    Ok(())
}

fn date_label(origin: NaiveDateTime, days: f64) -> String {
    let t = origin + chrono::Duration::seconds((days * 86400.0).round() as i64);
    // Ticks inside a day (short series) need the hour, else two ticks read the same.
    if t.time() == chrono::NaiveTime::MIN {
        t.format("%m-%d").to_string()
    } else {
        t.format("%m-%d %H:%M").to_string()
    }
}

/// Axes, grid and data; returns the plot-area rectangle and the pixel x of each category.
fn draw_plot(img: &mut RgbImage, c: &Chart) -> Result<(Rect, Vec<(i32, i32)>), PlotError> {
    let ((x0, x1), (y0, y1)) = ranges(c)?;
    let (w, h) = (img.width, img.height);
    let e = |e: DrawingAreaErrorKind<_>| PlotError::Figure(format!("chart '{}': {e:?}", c.title));
    let root = BitMapBackend::with_buffer(&mut img.pixels, (w, h)).into_drawing_area();
    let mut ch = ChartBuilder::on(&root)
        .margin_top(TITLE_H)
        .margin_right(LEGEND_W)
        .margin_left(10)
        .margin_bottom(8)
        .x_label_area_size(52)
        .y_label_area_size(78)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(e)?;
    // Decimals from the step of the round ticks plotters will choose (about as many).
    let x_step = 0.5 * super::range::nice_ticks(x0, x1, 8).1;
    let y_step = 0.5 * super::range::nice_ticks(y0, y1, 7).1;
    let date_fmt = |v: &f64| match &c.x_axis {
        XAxis::Days { origin } => date_label(*origin, *v),
        _ => super::render::fmt_number(*v, x_step),
    };
    let y_fmt = |v: &f64| super::render::fmt_number(*v, y_step);
    let is_cat = matches!(c.x_axis, XAxis::Categories(_));
    ch.configure_mesh()
        .x_desc(c.x_label.as_str())
        .y_desc(c.y_label.as_str())
        .x_labels(if is_cat { 0 } else { 8 })
        .y_labels(7)
        .x_label_formatter(&date_fmt)
        .y_label_formatter(&y_fmt)
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .bold_line_style(RGBColor(225, 225, 225))
        .light_line_style(TRANSPARENT)
        .draw()
        .map_err(e)?;
    if c.zero_line && y0 < 0.0 && y1 > 0.0 {
        ch.draw_series(std::iter::once(PathElement::new(
            vec![(x0, 0.0), (x1, 0.0)],
            BLACK.stroke_width(1),
        )))
        .map_err(e)?;
    }
    for s in &c.series {
        draw_series(&mut ch, s)?;
    }
    let cats = match &c.x_axis {
        XAxis::Categories(n) => (0..n.len())
            .map(|k| ch.backend_coord(&(k as f64, y0)))
            .collect(),
        _ => Vec::new(),
    };
    let (xr, yr) = ch.plotting_area().get_pixel_range();
    root.present().map_err(e)?;
    let r = Rect {
        x: xr.start as u32,
        y: yr.start as u32,
        w: (xr.end - xr.start) as u32,
        h: (yr.end - yr.start) as u32,
    };
    Ok((r, cats))
}

/// Swatches and labels of the legend, right of the plot area.
fn legend(img: &mut RgbImage, c: &Chart, area: Rect, labels: &mut Vec<Label>) -> (Rect, Vec<Rect>) {
    let entries: Vec<&Series> = c.series.iter().filter(|s| s.in_legend).collect();
    let x = area.x + area.w + 14;
    let box_ = Rect {
        x,
        y: area.y,
        w: LEGEND_W - 24,
        h: ROW_H * entries.len() as u32 + 8,
    };
    let mut swatches = Vec::new();
    for (k, s) in entries.iter().enumerate() {
        let y = area.y + 6 + ROW_H * k as u32;
        let sw = match s.mark {
            Mark::Line { .. } | Mark::Steps { .. } => Rect {
                x: x + 4,
                y: y + 7,
                w: 24,
                h: 3,
            },
            Mark::Points { .. } => Rect {
                x: x + 11,
                y: y + 4,
                w: 9,
                h: 9,
            },
            _ => Rect {
                x: x + 4,
                y: y + 2,
                w: 24,
                h: 13,
            },
        };
        img.fill_rect(sw, s.color);
        swatches.push(sw);
        labels.push(Label {
            text: s.label.clone(),
            x: (x + 34) as i32,
            y: (y + 8) as i32,
            size: 13,
            align: Align::Left,
            middle: true,
        });
    }
    (box_, swatches)
}

/// Draw a chart.
pub fn render_chart(c: &Chart) -> Result<ChartImage, PlotError> {
    if c.series.is_empty() {
        return Err(PlotError::Figure(format!("chart '{}': no series", c.title)));
    }
    register_font()?;
    let (w, h) = (c.width.clamp(400, 4000), c.height.clamp(250, 3000));
    let mut img = RgbImage::filled(w, h, [255, 255, 255]);
    let (area, cats) = draw_plot(&mut img, c)?;
    let mut labels = vec![
        Label {
            text: c.title.clone(),
            x: area.x as i32,
            y: 8,
            size: 17,
            align: Align::Left,
            middle: false,
        },
        Label {
            text: c.subtitle.clone(),
            x: area.x as i32,
            y: 30,
            size: 13,
            align: Align::Left,
            middle: false,
        },
    ];
    if let XAxis::Categories(names) = &c.x_axis {
        for (name, (px, _)) in names.iter().zip(&cats) {
            labels.push(Label {
                text: name.clone(),
                x: *px,
                y: (area.y + area.h + 6) as i32,
                size: 13,
                align: Align::Center,
                middle: false,
            });
        }
    }
    let (legend, swatches) = legend(&mut img, c, area, &mut labels);
    draw_labels(&mut img, &labels)?;
    Ok(ChartImage {
        image: img,
        plot_area: area,
        legend,
        swatches,
    })
}

/// A histogram of the finite `values` in `bins` equal bins over `[lo, hi]`, as densities
/// (integral 1 over the bins; values outside are counted in no bin). Returns the n + 1 edges
/// and n densities.
pub fn histogram(values: &[f64], bins: usize, lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>) {
    let bins = bins.max(1);
    let dx = (hi - lo) / bins as f64;
    let edges: Vec<f64> = (0..=bins).map(|k| lo + dx * k as f64).collect();
    let mut counts = vec![0usize; bins];
    let mut n = 0usize;
    for &v in values.iter().filter(|v| v.is_finite()) {
        n += 1;
        if v >= lo && v <= hi {
            counts[(((v - lo) / dx) as usize).min(bins - 1)] += 1;
        }
    }
    let dens = counts
        .iter()
        .map(|&c| {
            if n > 0 {
                c as f64 / (n as f64 * dx)
            } else {
                0.0
            }
        })
        .collect();
    (edges, dens)
}

/// Distinct colours for series (ColorBrewer Dark2, then repeated).
pub fn palette(k: usize) -> [u8; 3] {
    const P: [[u8; 3]; 8] = [
        [27, 158, 119],
        [217, 95, 2],
        [117, 112, 179],
        [231, 41, 138],
        [102, 166, 30],
        [230, 171, 2],
        [166, 118, 29],
        [102, 102, 102],
    ];
    P[k % P.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_integrates_to_one() {
        let v: Vec<f64> = (0..1000).map(|k| (k as f64 + 0.5) / 1000.0).collect();
        let (e, d) = histogram(&v, 10, 0.0, 1.0);
        assert_eq!(e.len(), 11);
        let area: f64 = d.iter().map(|x| x * 0.1).sum();
        assert!((area - 1.0).abs() < 1e-12);
        assert!(d.iter().all(|x| (x - 1.0).abs() < 1e-12));
    }

    #[test]
    fn date_ticks_show_the_hour_inside_a_day() {
        let o = chrono::NaiveDate::from_ymd_opt(2020, 6, 3)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        assert_eq!(date_label(o, 1.0), "06-04");
        assert_eq!(date_label(o, 0.5), "06-03 12:00");
    }

    #[test]
    fn runs_break_at_nan() {
        let r = runs(&[0.0, 1.0, 2.0, 3.0], &[1.0, f64::NAN, 2.0, 3.0]);
        assert_eq!(r, vec![vec![(0.0, 1.0)], vec![(2.0, 2.0), (3.0, 3.0)]]);
    }
}
