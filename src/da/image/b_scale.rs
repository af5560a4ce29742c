//! The innovation-consistent scale of the variational analysis's background error variance.
//!
//! With x_b = x_t + e_b and f_o = x_t + ε (ε white, sd σ_I, independent of e_b), the
//! innovation d = f_o − x_b has E⟨d²⟩ = ⟨E e_b²⟩ + σ_I² over the observed cells. A variance
//! b_i whose domain mean ⟨b⟩ disagrees with ⟨d²⟩ − σ_I² gives the analysis the wrong gain;
//! α = (⟨d²⟩ − σ_I²)/⟨b⟩ restores the balance (the innovation-based inflation estimate of
//! Desroziers et al. 2005, QJRMS 131, 3385, and Li, Kalnay & Miyoshi 2009, QJRMS 135, 523).
//! The variational analysis needs it with B from the ensemble: it gives every member the
//! same increment, so the analysis removes error from the mean but never spread from the
//! ensemble, and the spread soon overstates the error of the mean (docs/image.md).

use super::ImageError;

/// What the estimate saw and gave.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BScale {
    /// α ≥ 0, the factor for every b_i (1 when ⟨b⟩ = 0: nothing to scale).
    pub alpha: f64,
    /// ⟨d²⟩ over the cells used ((m³ m⁻³)²).
    pub mean_sq_innovation: f64,
    /// ⟨b⟩ over the same cells ((m³ m⁻³)²).
    pub mean_b: f64,
    /// Cells used: analysed, with a finite pixel, background and b.
    pub cells: usize,
}

/// α = max(0, (⟨d²⟩ − σ_I²)/⟨b⟩) over the analysed cells holding an observed pixel, sums in
/// cell order. α = 0 (no increment) when the innovations are no larger than the image's
/// own noise. Errors: length mismatch, σ_I not positive, a negative b, no usable cell.
pub fn innovation_b_scale(
    background: &[f64],
    observed: &[f64],
    analysed: &[bool],
    b_var: &[f64],
    sigma_i: f64,
) -> Result<BScale, ImageError> {
    let n = background.len();
    for (what, got) in [
        ("observed image", observed.len()),
        ("analysed mask", analysed.len()),
        ("B variance", b_var.len()),
    ] {
        if got != n {
            return Err(ImageError::SizeMismatch {
                what,
                expected: n,
                got,
            });
        }
    }
    if !(sigma_i.is_finite() && sigma_i > 0.0) {
        return Err(ImageError::BadParameter {
            what: "sigma_i",
            value: sigma_i,
            why: "must be positive and finite",
        });
    }
    let (mut d2, mut bs, mut k) = (0.0, 0.0, 0usize);
    for i in 0..n {
        let (xb, fo, b) = (background[i], observed[i], b_var[i]);
        if !(analysed[i] && xb.is_finite() && fo.is_finite() && b.is_finite()) {
            continue;
        }
        if b < 0.0 {
            return Err(ImageError::BadParameter {
                what: "B variance",
                value: b,
                why: "must be ≥ 0",
            });
        }
        d2 += (fo - xb) * (fo - xb);
        bs += b;
        k += 1;
    }
    if k == 0 {
        return Err(ImageError::EmptyImage);
    }
    let (mean_sq_innovation, mean_b) = (d2 / k as f64, bs / k as f64);
    let alpha = if mean_b > 0.0 {
        ((mean_sq_innovation - sigma_i * sigma_i) / mean_b).max(0.0)
    } else {
        1.0
    };
    Ok(BScale {
        alpha,
        mean_sq_innovation,
        mean_b,
        cells: k,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // d = ±√(a + σ²) on every cell gives ⟨d²⟩ = a + σ² exactly, so α = a/⟨b⟩; cells off the
    // analysed set or without a pixel do not count.
    #[test]
    fn alpha_balances_innovation_variance() {
        let n = 10;
        let (a, s): (f64, f64) = (0.0009, 0.04);
        let xb = vec![0.3; n];
        let mut fo: Vec<f64> = (0..n)
            .map(|i| 0.3 + (a + s * s).sqrt() * if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let b: Vec<f64> = (0..n).map(|i| 0.001 + 0.0004 * i as f64).collect();
        let mut analysed = vec![true; n];
        analysed[3] = false;
        fo[7] = f64::NAN;
        let r = innovation_b_scale(&xb, &fo, &analysed, &b, s).unwrap();
        let used: Vec<usize> = (0..n).filter(|&i| i != 3 && i != 7).collect();
        let mean_b = used.iter().map(|&i| b[i]).sum::<f64>() / used.len() as f64;
        assert_eq!(r.cells, 8);
        assert!((r.mean_b - mean_b).abs() < 1e-15);
        assert!((r.alpha - a / mean_b).abs() < 1e-12, "{}", r.alpha);
        // Innovations smaller than the noise: no increment.
        let quiet = vec![0.3 + 0.01; n];
        assert_eq!(
            innovation_b_scale(&xb, &quiet, &analysed, &b, s)
                .unwrap()
                .alpha,
            0.0
        );
        // B = 0: α = 1 (nothing to scale); a negative b is refused.
        let zero = vec![0.0; n];
        assert_eq!(
            innovation_b_scale(&xb, &fo, &analysed, &zero, s)
                .unwrap()
                .alpha,
            1.0
        );
        let mut neg = b.clone();
        neg[0] = -1e-4;
        assert!(innovation_b_scale(&xb, &fo, &analysed, &neg, s).is_err());
    }
}
