//! Restrictions of what the image analysis changes below the sensed layer and in the
//! perturbations, for an image that comes on top of a 1-D filter (docs/image.md,
//! "Restricting the deep update"):
//! - **vertical localisation** ([`depth_taper`]): a factor per layer, the Gaspari–Cohn
//!   function of the distance from the image's sensing depth to the layer's centre over a
//!   half-width, on the deep cross-gains (per coefficient) or regressions (per cell);
//!   or given per layer ([`given_deep_factors`]);
//! - **large scales only** ([`keep_coarse_scales`]): the deep cross-gains kept on the
//!   coefficients of the coarsest curvelet scales, zero on the finer ones;
//! - **mean only** ([`mean_increments`]): every member gets the ensemble-mean increment, so
//!   the perturbations (and with them the vertical covariances a later 1-D analysis uses)
//!   are what they were before the image.

use super::ImageError;
use crate::da::curvelet::Layout;

/// How one deeper layer's cross-gains are restricted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeepRestriction {
    /// Factor on every cross-gain of the layer: 1 leaves them as they are, 0 leaves the layer
    /// untouched (exactly).
    pub factor: f64,
    /// Only coefficients of the coarsest this many scales update the layer (0 = all scales).
    pub coarse_scales: usize,
}

impl Default for DeepRestriction {
    fn default() -> Self {
        Self {
            factor: 1.0,
            coarse_scales: 0,
        }
    }
}

/// The Gaspari & Cohn (1999, QJRMS 125, 723, eq. 4.10) fifth-order piecewise rational
/// function of z = distance/half-width: 1 at 0, ≈ 0.208 at 1, 0 from 2 on (a compactly
/// supported correlation function of nearly Gaussian shape).
pub fn gaspari_cohn(z: f64) -> f64 {
    let z = z.abs();
    if z <= 1.0 {
        let z2 = z * z;
        (((-0.25 * z + 0.5) * z + 0.625) * z - 5.0 / 3.0) * z2 + 1.0
    } else if z < 2.0 {
        let p = ((((z / 12.0 - 0.5) * z + 0.625) * z + 5.0 / 3.0) * z - 5.0) * z + 4.0;
        p - 2.0 / (3.0 * z)
    } else {
        0.0
    }
}

/// Factor per layer for layers of `thickness` (m, top down): the Gaspari–Cohn function of
/// d_l / `half_width`, d_l = max(0, centre depth of layer l − `sensing_depth`) (m). `None`
/// (no localisation) gives 1 for every layer. Layers the image senses have d = 0, factor 1.
pub fn depth_taper(
    thickness: &[f64],
    sensing_depth: f64,
    half_width: Option<f64>,
) -> Result<Vec<f64>, ImageError> {
    let bad = |what, value, why| Err(ImageError::BadParameter { what, value, why });
    if !(sensing_depth.is_finite() && sensing_depth >= 0.0) {
        return bad("sensing depth", sensing_depth, "must be finite and ≥ 0");
    }
    if let Some(&t) = thickness.iter().find(|t| !(t.is_finite() && **t > 0.0)) {
        return bad("layer thickness", t, "must be positive and finite");
    }
    let Some(c) = half_width else {
        return Ok(vec![1.0; thickness.len()]);
    };
    if !(c.is_finite() && c > 0.0) {
        return bad("localisation half-width", c, "must be positive and finite");
    }
    let mut top = 0.0;
    Ok(thickness
        .iter()
        .map(|t| {
            let centre = top + 0.5 * t;
            top += t;
            gaspari_cohn((centre - sensing_depth).max(0.0) / c)
        })
        .collect())
}

/// Factor per layer given one by one (`deep_factors`), checked against a model of
/// `n_layers` soil layers whose top `n_analysed` the image analyses: one factor per layer, each
/// in [0, 1], 1 on the analysed layers (they take the image's own update, not a deep one).
pub fn given_deep_factors(
    factors: &[f64],
    n_layers: usize,
    n_analysed: usize,
) -> Result<Vec<f64>, ImageError> {
    if factors.len() != n_layers {
        return Err(ImageError::SizeMismatch {
            what: "deep factors (one per soil layer)",
            expected: n_layers,
            got: factors.len(),
        });
    }
    let bad = |value, why| {
        Err(ImageError::BadParameter {
            what: "deep factor",
            value,
            why,
        })
    };
    if let Some(&f) = factors
        .iter()
        .find(|f| !(f.is_finite() && (0.0..=1.0).contains(*f)))
    {
        return bad(f, "must be in [0, 1]");
    }
    if let Some(&f) = factors.iter().take(n_analysed).find(|&&f| f != 1.0) {
        return bad(f, "must be 1 on the layers the image analyses");
    }
    Ok(factors.to_vec())
}

/// Zero the gains of the coefficients on scales `coarse_scales` and finer (scale 0 is the
/// coarsest); `coarse_scales` = 0 or ≥ the number of scales keeps every gain.
pub fn keep_coarse_scales(
    layout: &Layout,
    coarse_scales: usize,
    gains: &mut [f64],
) -> Result<(), ImageError> {
    if gains.len() != layout.total {
        return Err(ImageError::SizeMismatch {
            what: "coefficient gains",
            expected: layout.total,
            got: gains.len(),
        });
    }
    if coarse_scales == 0 {
        return Ok(());
    }
    for band in layout.bands.iter().filter(|b| b.scale >= coarse_scales) {
        gains[band.offset..band.offset + band.len()].fill(0.0);
    }
    Ok(())
}

/// Replace each member's increment (one full grid per member) by the member mean, per cell
/// (sums in member order): the ensemble mean moves as before and no perturbation changes.
pub fn mean_increments(increments: &mut [Vec<f64>]) -> Result<(), ImageError> {
    let Some(len) = increments.first().map(Vec::len) else {
        return Ok(());
    };
    if let Some(bad) = increments.iter().find(|d| d.len() != len) {
        return Err(ImageError::SizeMismatch {
            what: "layer increment",
            expected: len,
            got: bad.len(),
        });
    }
    let n = increments.len() as f64;
    let mut mean = vec![0.0; len];
    for d in increments.iter() {
        for (s, x) in mean.iter_mut().zip(d) {
            *s += x;
        }
    }
    mean.iter_mut().for_each(|s| *s /= n);
    for d in increments.iter_mut() {
        d.copy_from_slice(&mean);
    }
    Ok(())
}
