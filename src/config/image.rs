//! `&image`: the curvelet image analysis of the surface soil-moisture field at the window
//! end (docs/image.md, ../shared/docs/IMAGE.md). Like `&da`, no key enters the fingerprint:
//! an open-loop or 1-D restart can start an image-analysis run.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Which analysis runs on the gathered field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageMethod {
    /// Variational: J_B + J_I, one increment for every member (Shen et al. 2024).
    Var,
    /// Diagonal Kalman update per curvelet coefficient and member (Bai et al. 2026).
    EnkfLike,
}

/// Analysed cells without an observed pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageGapPolicy {
    /// Left out of the analysis (no increment from the image term's data there).
    Exclude,
    /// Given an innovation filled from the observed neighbours (variational only).
    Fill,
}

/// Where the background error variance of the variational analysis comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageBSource {
    /// Ensemble variance of the analysed layer × `b_inflation`.
    Ensemble,
    /// `b_sd`² everywhere.
    Constant,
}

/// Which curvelet coefficients the EnKF-like analysis updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageUpdate {
    Masked,
    All,
}

/// Soil layers below those the image senses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageDeepLayers {
    /// Left to the model physics (the papers' choice).
    Model,
    /// Updated through ensemble cross-covariances with the top analysed layer.
    Ensemble,
}

/// The image analysis and the 1-D analysis of the same window-end time: which runs first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImageOrder {
    #[serde(rename = "after_1d")]
    After1d,
    #[serde(rename = "before_1d")]
    Before1d,
}

/// `&image`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageConfig {
    pub enabled: bool,
    pub method: ImageMethod,
    /// Directory of the observation images (resolved against the namelist's directory).
    pub gridded_directory: PathBuf,
    /// File name of the image valid at the analysis time (strftime fields).
    pub gridded_pattern: String,
    pub gridded_var: String,
    /// Unit factor: the file's values × this = m3 m-3.
    pub gridded_scale: f64,
    /// Largest distance of the file's nearest record from the analysis time (minutes).
    pub time_tolerance_min: f64,
    /// Depth the image represents (m): it decides the model layers analysed.
    pub sensing_depth_m: f64,
    /// Fewest analysed land cells with an image pixel, as a fraction; below it no analysis.
    pub min_coverage: f64,
    /// σ_I (m3 m-3).
    pub error_sd: f64,
    /// Correlation length of the image perturbations (km, 0 = white).
    pub error_corr_km: f64,
    /// λ, the weight of the image term.
    pub weight: f64,
    pub keep_fraction: f64,
    pub gap_policy: ImageGapPolicy,
    pub b_source: ImageBSource,
    /// Constant background error sd (m3 m-3) with `b_source = 'constant'`.
    pub b_sd: f64,
    pub b_inflation: f64,
    pub max_iter: u32,
    pub tolerance: f64,
    pub update_coefficients: ImageUpdate,
    pub max_gain: Option<f64>,
    pub deep_layers: ImageDeepLayers,
    pub rtps_alpha: f64,
    pub image_order: ImageOrder,
    pub diagnostics: bool,
}

impl ImageMethod {
    pub fn name(self) -> &'static str {
        match self {
            ImageMethod::Var => "var",
            ImageMethod::EnkfLike => "enkf_like",
        }
    }
}

impl super::Loader<'_> {
    /// `&image` of an image-analysis run.
    pub(super) fn validate_image(&self, c: &super::Config) -> Result<(), super::ConfigError> {
        let (m, g) = (&c.image, "image");
        if !m.enabled {
            return Ok(());
        }
        if c.run.ensemble_size < 2 {
            return Err(self.err(
                "run",
                "ensemble_size",
                "the image analysis (image:enabled) needs at least 2 members".into(),
            ));
        }
        let positive = [
            ("gridded_scale", m.gridded_scale),
            ("sensing_depth_m", m.sensing_depth_m),
            ("error_sd", m.error_sd),
            ("b_sd", m.b_sd),
            ("b_inflation", m.b_inflation),
            ("tolerance", m.tolerance),
        ];
        for (key, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return Err(self.err(g, key, format!("{v} must be positive")));
            }
        }
        let non_negative = [
            ("time_tolerance_min", m.time_tolerance_min),
            ("error_corr_km", m.error_corr_km),
            ("weight", m.weight),
        ];
        for (key, v) in non_negative {
            if !(v.is_finite() && v >= 0.0) {
                return Err(self.err(g, key, format!("{v} must be >= 0")));
            }
        }
        let fractions = [
            ("min_coverage", m.min_coverage, true),
            ("rtps_alpha", m.rtps_alpha, true),
            ("keep_fraction", m.keep_fraction, false),
            ("max_gain", m.max_gain.unwrap_or(1.0), false),
        ];
        for (key, v, zero_ok) in fractions {
            let ok = v <= 1.0 && (v > 0.0 || (zero_ok && v == 0.0));
            if !ok {
                let lo = if zero_ok { "[0" } else { "(0" };
                return Err(self.err(g, key, format!("{v} is outside {lo}, 1]")));
            }
        }
        if m.max_iter == 0 {
            return Err(self.err(g, "max_iter", "must be at least 1".into()));
        }
        if m.gridded_pattern.trim().is_empty() || m.gridded_var.trim().is_empty() {
            let key = if m.gridded_var.trim().is_empty() {
                "gridded_var"
            } else {
                "gridded_pattern"
            };
            return Err(self.err(g, key, "is empty".into()));
        }
        if m.gap_policy == ImageGapPolicy::Fill && m.method == ImageMethod::EnkfLike {
            return Err(self.err(
                g,
                "gap_policy",
                "'fill' applies to method = 'var' only (the EnKF-like analysis takes its \
                 observation error from perturbed images, which have no pixels in the gaps)"
                    .into(),
            ));
        }
        Ok(())
    }
}
