//! Quick-look maps and charts (time series, bars, histograms: [`render_chart`]): 2-D fields on regular latitude-longitude grids drawn as RGB images with
//! lat-lon axes (tick labels in degrees), a colour bar with values and a title, several
//! panels side by side. Pure: takes arrays, axes and labels, returns pixels (and PNG bytes);
//! knows no NetCDF and writes no files (`commands::plot` reads and writes).
//!
//! ```
//! use landcycle::plot::{render, ColorMap, Figure, Panel, ValueRange};
//! let (lat, lon) = (vec![10.0, 11.0, 12.0], vec![20.0, 21.0, 22.0, 23.0]);
//! let values: Vec<f64> = (0..12).map(|i| i as f64 * 0.01).collect();
//! let panel = Panel::new("soil moisture [m3 m-3]", "", lat, lon, values).unwrap();
//! let fig = Figure { panels: vec![panel], cmap: ColorMap::Sequential, range: ValueRange::default(), shared_range: false, panel_width: 240 };
//! let img = render(&fig).unwrap();
//! assert_eq!(img.pixels.len(), 3 * (img.width * img.height) as usize);
//! ```

mod chart;
mod colormap;
mod layout;
mod png;
mod range;
mod render;
mod text;

pub use chart::{histogram, palette, render_chart, Chart, ChartImage, Mark, Series, XAxis};
pub use colormap::{ColorMap, MISSING_RGB};
pub use layout::{layout, Layout, PanelLayout, Rect};
pub use png::encode_png;
pub use range::{nice_ticks, percentile, resolve_range, ValueRange};
pub use render::{render, Figure, Panel};

/// Errors of the plot room.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// A panel's arrays do not fit together.
    #[error("panel '{title}': {msg}")]
    Panel {
        /// Panel title.
        title: String,
        /// What is wrong.
        msg: String,
    },
    /// Nothing to draw or an unusable option.
    #[error("{0}")]
    Figure(String),
    /// Text drawing failed.
    #[error("drawing text: {0}")]
    Text(String),
    /// PNG encoding failed.
    #[error("PNG encoding: {0}")]
    Png(String),
}

/// An 8-bit RGB image, row-major from the top-left corner, 3 bytes per pixel.
#[derive(Clone, Debug, PartialEq)]
pub struct RgbImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `3·width·height` bytes.
    pub pixels: Vec<u8>,
}

impl RgbImage {
    /// A `width × height` image filled with `rgb`.
    pub fn filled(width: u32, height: u32, rgb: [u8; 3]) -> Self {
        let n = width as usize * height as usize;
        let mut pixels = Vec::with_capacity(3 * n);
        for _ in 0..n {
            pixels.extend_from_slice(&rgb);
        }
        Self {
            width,
            height,
            pixels,
        }
    }

    /// The pixel at column `x`, row `y`.
    pub fn get(&self, x: u32, y: u32) -> [u8; 3] {
        let k = 3 * (y as usize * self.width as usize + x as usize);
        [self.pixels[k], self.pixels[k + 1], self.pixels[k + 2]]
    }

    /// Set the pixel at column `x`, row `y` (ignored outside the image).
    pub fn put(&mut self, x: u32, y: u32, rgb: [u8; 3]) {
        if x < self.width && y < self.height {
            let k = 3 * (y as usize * self.width as usize + x as usize);
            self.pixels[k..k + 3].copy_from_slice(&rgb);
        }
    }

    /// Fill a rectangle.
    pub fn fill_rect(&mut self, r: Rect, rgb: [u8; 3]) {
        for y in r.y..r.y + r.h {
            for x in r.x..r.x + r.w {
                self.put(x, y, rgb);
            }
        }
    }
}
