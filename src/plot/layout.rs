//! Where everything goes: panels side by side, each with a two-line title above the map,
//! latitude labels on the left, longitude labels below and a horizontal colour bar under
//! those. Public so that callers (and tests) can find the map and colour-bar pixels.

const MARGIN: u32 = 12;
const TITLE_H: u32 = 48;
const Y_LABEL_W: u32 = 60;
const X_LABEL_H: u32 = 24;
const BAR_GAP: u32 = 8;
const BAR_H: u32 = 14;
const BAR_LABEL_H: u32 = 24;
const RIGHT_PAD: u32 = 28;
const PANEL_GAP: u32 = 12;

/// A pixel rectangle: top-left corner (x, y), width and height.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    /// Left column.
    pub x: u32,
    /// Top row.
    pub y: u32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

/// The rectangles of one panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PanelLayout {
    /// The map: cell (row, column) fills its share of this rectangle, north up.
    pub map: Rect,
    /// The colour bar: its first column has the colour of vmin, its last that of vmax.
    pub colorbar: Rect,
    /// Top-left corner of the title.
    pub title: (u32, u32),
}

/// The whole figure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Image width.
    pub width: u32,
    /// Image height.
    pub height: u32,
    /// One entry per panel, left to right.
    pub panels: Vec<PanelLayout>,
}

/// Layout of panels whose maps are `map_sizes` (width, height) pixels.
pub fn layout(map_sizes: &[(u32, u32)]) -> Layout {
    let mut panels = Vec::with_capacity(map_sizes.len());
    let mut x = MARGIN;
    let mut max_h = 0;
    for &(w, h) in map_sizes {
        let map = Rect {
            x: x + Y_LABEL_W,
            y: MARGIN + TITLE_H,
            w,
            h,
        };
        let colorbar = Rect {
            x: map.x,
            y: map.y + h + X_LABEL_H + BAR_GAP,
            w,
            h: BAR_H,
        };
        panels.push(PanelLayout {
            map,
            colorbar,
            title: (map.x, MARGIN),
        });
        max_h = max_h.max(TITLE_H + h + X_LABEL_H + BAR_GAP + BAR_H + BAR_LABEL_H);
        x += Y_LABEL_W + w + RIGHT_PAD + PANEL_GAP;
    }
    Layout {
        width: x - PANEL_GAP + MARGIN,
        height: max_h + 2 * MARGIN,
        panels,
    }
}
