//! Colour maps. The sequential map interpolates the published anchor colours of viridis
//! (van der Walt & Smith, matplotlib 1.5; values at 0, 1/8, …, 1); the diverging one the
//! 11-class ColorBrewer BrBG scheme (Brewer, colorbrewer2.org): brown for negative (drier),
//! near-white at zero, blue-green for positive (wetter). Linear interpolation in sRGB.

/// Neutral grey of missing (NaN) cells, distinct from every colour of both maps.
pub const MISSING_RGB: [u8; 3] = [150, 150, 150];

const VIRIDIS: [[u8; 3]; 9] = [
    [68, 1, 84],
    [71, 45, 123],
    [59, 82, 139],
    [44, 114, 142],
    [33, 145, 140],
    [40, 174, 128],
    [94, 201, 98],
    [173, 220, 48],
    [253, 231, 37],
];

const BRBG: [[u8; 3]; 11] = [
    [84, 48, 5],
    [140, 81, 10],
    [191, 129, 45],
    [223, 194, 125],
    [246, 232, 195],
    [245, 245, 245],
    [199, 234, 229],
    [128, 205, 193],
    [53, 151, 143],
    [1, 102, 94],
    [0, 60, 48],
];

/// Which colour map a figure uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ColorMap {
    /// viridis-like, for states (soil moisture, temperature).
    #[default]
    Sequential,
    /// Brown–white–blue-green, centred on 0, for increments and innovations.
    Diverging,
}

impl ColorMap {
    /// Colour of position `t` ∈ [0, 1] along the map (clamped).
    pub fn at(self, t: f64) -> [u8; 3] {
        match self {
            ColorMap::Sequential => interpolate(&VIRIDIS, t),
            ColorMap::Diverging => interpolate(&BRBG, t),
        }
    }

    /// Colour of `v` on the range [vmin, vmax]; NaN gives [`MISSING_RGB`].
    pub fn color(self, v: f64, vmin: f64, vmax: f64) -> [u8; 3] {
        if !v.is_finite() {
            return MISSING_RGB;
        }
        self.at((v - vmin) / (vmax - vmin))
    }
}

fn interpolate(anchors: &[[u8; 3]], t: f64) -> [u8; 3] {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let pos = t * (anchors.len() - 1) as f64;
    let i = (pos.floor() as usize).min(anchors.len() - 2);
    let f = pos - i as f64;
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (anchors[i], anchors[i + 1]);
    [mix(a[0], b[0]), mix(a[1], b[1]), mix(a[2], b[2])]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_and_centre() {
        assert_eq!(ColorMap::Sequential.at(0.0), VIRIDIS[0]);
        assert_eq!(ColorMap::Sequential.at(1.0), VIRIDIS[8]);
        assert_eq!(ColorMap::Sequential.at(-3.0), VIRIDIS[0]);
        assert_eq!(ColorMap::Diverging.at(0.5), BRBG[5]);
        assert_eq!(ColorMap::Diverging.color(0.0, -1.0, 1.0), BRBG[5]);
        assert_eq!(ColorMap::Sequential.color(f64::NAN, 0.0, 1.0), MISSING_RGB);
    }

    #[test]
    fn missing_grey_is_not_on_either_map() {
        for k in 0..=1000 {
            let t = k as f64 / 1000.0;
            for m in [ColorMap::Sequential, ColorMap::Diverging] {
                let c = m.at(t);
                let d: i32 = (0..3)
                    .map(|i| (c[i] as i32 - MISSING_RGB[i] as i32).abs())
                    .sum();
                assert!(d > 20, "{m:?} at {t} is {c:?}");
            }
        }
    }
}
