//! Colour ranges (given, or robust percentiles of the data) and "nice" tick values.

use super::ColorMap;

/// Percentiles used for a range that is not given: robust to a few outliers.
const ROBUST_PERCENTILES: (f64, f64) = (2.0, 98.0);

/// The colour range of a figure: each end given or, when `None`, the 2nd / 98th percentile
/// of the finite values. A diverging map is made symmetric about 0 unless both are given.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ValueRange {
    /// Value drawn with the map's first colour.
    pub vmin: Option<f64>,
    /// Value drawn with the map's last colour.
    pub vmax: Option<f64>,
}

/// The `p`-th percentile (0–100) of the finite values, linear between order statistics;
/// None when there is no finite value.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let pos = (p.clamp(0.0, 100.0) / 100.0) * (v.len() - 1) as f64;
    let i = pos.floor() as usize;
    let j = (i + 1).min(v.len() - 1);
    Some(v[i] + (v[j] - v[i]) * (pos - i as f64))
}

/// The (vmin, vmax) to draw `values` with: see [`ValueRange`]. Always vmax > vmin.
pub fn resolve_range(values: &[f64], spec: ValueRange, cmap: ColorMap) -> (f64, f64) {
    let (p_lo, p_hi) = ROBUST_PERCENTILES;
    let lo = spec.vmin.or_else(|| percentile(values, p_lo));
    let hi = spec.vmax.or_else(|| percentile(values, p_hi));
    let (lo, hi) = match (cmap, spec.vmin, spec.vmax) {
        (ColorMap::Diverging, None, None) => {
            let a = lo.unwrap_or(0.0).abs().max(hi.unwrap_or(0.0).abs());
            (-a, a)
        }
        (ColorMap::Diverging, None, Some(b)) => (-b.abs(), b.abs()),
        (ColorMap::Diverging, Some(a), None) => (-a.abs(), a.abs()),
        _ => (lo.unwrap_or(0.0), hi.unwrap_or(1.0)),
    };
    if hi > lo {
        (lo, hi)
    } else {
        // A constant field (or a reversed range): widen around the value.
        let c = 0.5 * (lo + hi);
        let w = (c.abs() * 0.05).max(1e-12);
        (c - w, c + w)
    }
}

/// Round values between `lo` and `hi` with steps of 1, 2, 2.5 or 5 × 10ᵏ, about `target`
/// of them; returns the values and the step.
pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64) {
    let (lo, hi) = (lo.min(hi), lo.max(hi));
    let span = hi - lo;
    if span.is_nan() || span <= 0.0 || !span.is_finite() {
        return (vec![lo], 1.0);
    }
    let raw = span / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * 0.999)
        .unwrap_or(10.0 * mag);
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    let ticks = (first..=last).map(|k| k as f64 * step).collect();
    (ticks, step)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_ranges() {
        let v: Vec<f64> = (0..=100).map(|i| i as f64).chain([f64::NAN]).collect();
        assert_eq!(percentile(&v, 2.0), Some(2.0));
        assert_eq!(percentile(&v, 98.0), Some(98.0));
        let r = resolve_range(&v, ValueRange::default(), ColorMap::Sequential);
        assert_eq!(r, (2.0, 98.0));
        let d: Vec<f64> = v.iter().map(|x| x - 30.0).collect();
        let r = resolve_range(&d, ValueRange::default(), ColorMap::Diverging);
        assert_eq!(r, (-68.0, 68.0));
        let fixed = ValueRange {
            vmin: Some(0.1),
            vmax: Some(0.4),
        };
        assert_eq!(resolve_range(&v, fixed, ColorMap::Diverging), (0.1, 0.4));
        let (a, b) = resolve_range(&[0.3; 5], ValueRange::default(), ColorMap::Sequential);
        assert!(a < 0.3 && b > 0.3);
    }

    #[test]
    fn ticks_are_round() {
        let (t, s) = nice_ticks(0.013, 0.387, 5);
        assert_eq!(s, 0.1);
        assert_eq!(t.len(), 3);
        let (t, s) = nice_ticks(-125.0, -66.0, 5);
        assert_eq!(s, 20.0);
        assert_eq!(t, vec![-120.0, -100.0, -80.0]);
    }
}
