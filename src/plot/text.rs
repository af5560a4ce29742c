//! Text through plotters' bitmap backend with the DejaVu Sans font compiled in (no system
//! fonts or fontconfig needed), drawn straight into the figure's RGB buffer.

use super::{PlotError, RgbImage};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

const FONT: &str = "sans-serif";

/// Horizontal anchor of a label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Align {
    Left,
    Center,
    Right,
}

/// One piece of text: `(x, y)` is the anchor point; `y` is the top of the text unless
/// `middle` is set (then its vertical centre).
#[derive(Clone, Debug)]
pub(super) struct Label {
    pub text: String,
    pub x: i32,
    pub y: i32,
    pub size: u32,
    pub align: Align,
    pub middle: bool,
}

pub(super) fn register_font() -> Result<(), PlotError> {
    static ONCE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
            .map_err(|_| "the built-in DejaVu Sans font could not be loaded".to_string())
    })
    .clone()
    .map_err(PlotError::Text)
}

/// Draw `labels` in black onto `img`.
pub(super) fn draw_labels(img: &mut RgbImage, labels: &[Label]) -> Result<(), PlotError> {
    register_font()?;
    let (w, h) = (img.width, img.height);
    let root = BitMapBackend::with_buffer(&mut img.pixels, (w, h)).into_drawing_area();
    for l in labels {
        let h_pos = match l.align {
            Align::Left => HPos::Left,
            Align::Center => HPos::Center,
            Align::Right => HPos::Right,
        };
        let v_pos = if l.middle { VPos::Center } else { VPos::Top };
        let style = (FONT, l.size as f64)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(h_pos, v_pos));
        root.draw(&Text::new(l.text.clone(), (l.x, l.y), style))
            .map_err(|e| PlotError::Text(format!("{e:?}")))?;
    }
    root.present()
        .map_err(|e| PlotError::Text(format!("{e:?}")))?;
    Ok(())
}
