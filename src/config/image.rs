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
    /// One variance everywhere, max(0, ⟨d²⟩ − σ_I²) over the analysed cells with a pixel
    /// (d = image − background): the innovations' estimate of the background's
    /// mean-square error. The variational default (docs/image.md: a var cycle's ensemble
    /// spread is not the error of its mean, in level or in shape).
    Innovation,
}

/// How the variational analysis scales its background error variance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageBScale {
    /// B as `b_source` gives it.
    None,
    /// B times α = (⟨d²⟩ − σ_I²)/⟨b⟩ over the observed analysed cells, so that the mean
    /// background variance agrees with the innovations (`da::image::innovation_b_scale`).
    Innovation,
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
    /// Updated through ensemble cross-covariances with the top analysed layer (enkf_like:
    /// per curvelet coefficient; var: per cell).
    Ensemble,
    /// Each member's top-layer increment carried down per cell by the ensemble regression of
    /// the layer on the top layer at that cell (the soil column; docs/image.md).
    Regression,
}

/// Sampling-error correction of the ensemble regressions that carry the top layer's
/// increment to deeper layers (`deep_layers` 'ensemble' or 'regression').
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageDeepShrinkage {
    /// The sample regressions as they are.
    None,
    /// Each regression times max(0, 1 − 1/t²), t its t statistic over the members.
    Sampling,
}

/// What the observation image is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageObsSource {
    /// A gridded product read from files (`gridded_*` keys).
    Gridded,
    /// The window's retrievals the 1-D EnKF accepted (bias-corrected, m3 m-3), averaged
    /// per cell.
    Retrievals,
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
    pub source: ImageObsSource,
    /// Sensors whose accepted retrievals make the image (`source = 'retrievals'`), or that
    /// share data with the gridded image; unset: every `da:sensors` entry.
    pub retrieval_sensors: Option<Vec<super::DaSensor>>,
    /// Period before the analysis time whose retrievals make the image (h); unset: the window.
    pub retrieval_hours: Option<u32>,
    /// s: the share of the shared retrievals' weight (inverse error variance) the 1-D EnKF
    /// gets; the image gets 1 − s (error variances σ²/s and σ_I²/(1 − s)).
    pub obs_weight_split: Option<f64>,
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
    pub b_scale: ImageBScale,
    pub max_iter: u32,
    pub tolerance: f64,
    pub update_coefficients: ImageUpdate,
    pub max_gain: Option<f64>,
    pub deep_layers: ImageDeepLayers,
    pub deep_shrinkage: ImageDeepShrinkage,
    /// Half-width (m) of the Gaspari–Cohn taper of the deep update in depth, from the
    /// sensing depth to each layer's centre; unset: no vertical localisation.
    pub deep_localization_m: Option<f64>,
    /// Factor per soil layer (top down) on the deep update, instead of the taper of
    /// `deep_localization_m`; the layers the image analyses must have 1.
    pub deep_factors: Option<Vec<f64>>,
    /// enkf_like with deep_layers 'ensemble': only the coarsest this many curvelet scales
    /// update the deeper layers (0 = all).
    pub deep_scales: u32,
    /// enkf_like: `false` gives every member the ensemble-mean increment in each layer the
    /// image changes (the perturbations are kept).
    pub update_perturbations: bool,
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
        self.validate_image_sharing(c)?;
        self.validate_image_deep(m)?;
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

impl ImageConfig {
    /// The sensors the image shares data with: `retrieval_sensors`, or every 1-D sensor.
    pub fn shared_sensors(&self, da: &super::DaConfig) -> Vec<super::DaSensor> {
        self.retrieval_sensors
            .clone()
            .unwrap_or_else(|| da.sensors.clone())
    }

    /// Whether the image and the 1-D EnKF assimilate the same retrievals.
    pub fn shares_with_1d(&self, da: &super::DaConfig) -> bool {
        self.enabled
            && da.enabled
            && (self.source == ImageObsSource::Retrievals || self.obs_weight_split.is_some())
    }
}

impl super::Loader<'_> {
    /// The retrievals image and the double-counting rule: data that reach the state through
    /// the 1-D EnKF and the image must have their weight split between the two.
    fn validate_image_sharing(&self, c: &super::Config) -> Result<(), super::ConfigError> {
        let (m, g) = (&c.image, "image");
        if let Some(s) = m.obs_weight_split {
            if !(s.is_finite() && s > 0.0 && s < 1.0) {
                return Err(self.err(g, "obs_weight_split", format!("{s} is outside (0, 1)")));
            }
        }
        if let Some(list) = &m.retrieval_sensors {
            if let Some(s) = list.iter().find(|s| !c.da.sensors.contains(s)) {
                return Err(self.err(
                    g,
                    "retrieval_sensors",
                    format!("'{}' is not among da:sensors", s.name()),
                ));
            }
        }
        if m.source != ImageObsSource::Retrievals {
            return Ok(());
        }
        if !c.da.enabled {
            return Err(self.err(
                g,
                "source",
                "'retrievals' builds the image from the retrievals the 1-D EnKF accepts \
                 (bias-corrected, model QC passed): it needs da:enabled = .true."
                    .into(),
            ));
        }
        if m.image_order == ImageOrder::Before1d {
            return Err(self.err(
                g,
                "image_order",
                "'before_1d' cannot be used with source = 'retrievals': the window end's \
                 retrievals are accepted by the 1-D analysis, which must run first"
                    .into(),
            ));
        }
        if m.obs_weight_split.is_none() {
            return Err(self.err(
                g,
                "source",
                "'retrievals' makes the image of the same retrievals the 1-D EnKF \
                 assimilates, which would count them twice: set image:obs_weight_split \
                 (e.g. 0.5) to split their weight between the two analyses"
                    .into(),
            ));
        }
        match m.retrieval_hours {
            Some(h) if h == 0 || h > c.run.window_hours => Err(self.err(
                g,
                "retrieval_hours",
                format!(
                    "{h} must be 1 to run:window_hours ({}); retrievals of earlier windows \
                     would have to be kept in the restart",
                    c.run.window_hours
                ),
            )),
            _ => Ok(()),
        }
    }
}

impl super::Loader<'_> {
    /// The restrictions of the deep and perturbation updates: each needs the update it
    /// restricts.
    fn validate_image_deep(&self, m: &ImageConfig) -> Result<(), super::ConfigError> {
        let g = "image";
        if let Some(c) = m.deep_localization_m {
            if !(c.is_finite() && c > 0.0) {
                return Err(self.err(g, "deep_localization_m", format!("{c} must be positive")));
            }
            self.needs_deep_update(m, "deep_localization_m", "localises")?;
        }
        self.validate_deep_factors(m)?;
        let enkf_ensemble =
            m.method == ImageMethod::EnkfLike && m.deep_layers == ImageDeepLayers::Ensemble;
        if m.deep_scales > 0 && !enkf_ensemble {
            return Err(self.err(
                g,
                "deep_scales",
                "restricts the per-coefficient deep update: it needs method = 'enkf_like' and \
                 deep_layers = 'ensemble'"
                    .into(),
            ));
        }
        if !m.update_perturbations && m.method != ImageMethod::EnkfLike {
            return Err(self.err(
                g,
                "update_perturbations",
                ".false. applies to method = 'enkf_like' (the variational analysis already \
                 gives every member the same increment)"
                    .into(),
            ));
        }
        Ok(())
    }
}

impl super::Loader<'_> {
    /// `key` (which `verb` the image's update of the deeper layers) refused when the image
    /// updates no deeper layer.
    fn needs_deep_update(
        &self,
        m: &ImageConfig,
        key: &str,
        verb: &str,
    ) -> Result<(), super::ConfigError> {
        if m.deep_layers != ImageDeepLayers::Model {
            return Ok(());
        }
        Err(self.err(
            "image",
            key,
            format!(
                "{verb} the image's update of the deeper layers: it needs deep_layers \
                 'ensemble' or 'regression'"
            ),
        ))
    }

    /// `deep_factors`: factors in [0, 1] on an update of the deeper layers, and not
    /// together with the taper they replace. The count is checked against the model's soil
    /// layers when the image stage is set up.
    fn validate_deep_factors(&self, m: &ImageConfig) -> Result<(), super::ConfigError> {
        let g = "image";
        let Some(list) = &m.deep_factors else {
            return Ok(());
        };
        if list.is_empty() {
            return Err(self.err(g, "deep_factors", "is empty".into()));
        }
        if let Some(f) = list
            .iter()
            .find(|f| !(f.is_finite() && (0.0..=1.0).contains(*f)))
        {
            return Err(self.err(g, "deep_factors", format!("{f} is outside [0, 1]")));
        }
        self.needs_deep_update(m, "deep_factors", "scales")?;
        if m.deep_localization_m.is_some() {
            return Err(self.err(
                g,
                "deep_factors",
                "replaces the taper of deep_localization_m: set one of the two, not both".into(),
            ));
        }
        Ok(())
    }
}
