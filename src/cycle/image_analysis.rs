//! The root's part of the image stage: from the gathered ensemble and the observation image
//! to increments per layer and member (`da::image`), and the numbers of the diagnostics
//! file. Sums over members run in member order, so the result never depends on the ranks.

use chrono::NaiveDateTime;

use super::image_exchange::GatheredFields;
use crate::config::{
    ImageBScale, ImageBSource, ImageConfig, ImageDeepLayers, ImageDeepShrinkage, ImageGapPolicy,
    ImageMethod, ImageUpdate,
};
use crate::da::image::{
    analyse_var, analyse_with_parts, column_increment, column_regression_with, innovation_b_scale,
    mean_increments, perturbed_images, rtps_increments, BandStats, CrossShrinkage, DeepRestriction,
    EnkfLikeConfig, EnkfLikeFields, EnkfLikeGain, EnkfLikeReport, GapPolicy, ImagePlan, IterLog,
    UpdateCoefficients, VarConfig, VarInput, Workspace,
};
use crate::perturb::rng::{keyed_normal, Purpose};
use crate::perturb::{FieldScratch, GaussianFieldPlan};
use crate::time::epoch_seconds;

/// Random stream of the image perturbations (forcing 1, soil moisture 2, observations 3,
/// initial state 4).
pub const STREAM_IMAGE: u32 = 5;

/// Increments `[layer][member][cell]` (full grids, 0 where nothing changes).
pub type Increments = Vec<Vec<Vec<f64>>>;

/// What one analysis did, for the log and the diagnostics file.
#[derive(Debug, Clone, Default)]
pub struct ImageReport {
    pub iterations: Vec<IterLog>,
    pub stop: String,
    pub bands: Vec<BandStats>,
    pub kept_units: usize,
    pub total_units: usize,
    pub observed_cells: usize,
    /// α of `b_scale = 'innovation'` (var, top layer); NaN when B was used as given.
    pub b_scale: f64,
}

/// The analysis on the root: plan and workspace made once per run.
pub struct RootAnalysis {
    pub plan: ImagePlan,
    pub ws: Workspace,
    pub noise: Option<GaussianFieldPlan>,
    pub scratch: FieldScratch,
    pub seed: u64,
    /// Factor per soil layer on the deep update (`deep_localization_m`; 1 without).
    pub deep_factors: Vec<f64>,
}

/// With `b_scale = 'innovation'` (and always with `b_source = 'innovation'`, whose B is 1
/// before scaling), B × α so that its mean over the analysed cells with a pixel agrees with
/// the innovations (`da::image::innovation_b_scale`); returns α, or NaN when B stays as given.
fn scale_b(
    cfg: &ImageConfig,
    background: &[f64],
    observed: &[f64],
    analysed: &[bool],
    b_var: &mut [f64],
) -> Result<f64, String> {
    if cfg.b_scale == ImageBScale::None && cfg.b_source != ImageBSource::Innovation {
        return Ok(f64::NAN);
    }
    let s = innovation_b_scale(background, observed, analysed, b_var, cfg.error_sd)
        .map_err(|e| e.to_string())?;
    b_var.iter_mut().for_each(|b| *b *= s.alpha);
    Ok(s.alpha)
}

/// Ensemble mean and variance per cell over `members` (member order), NaN where missing.
pub fn mean_var(members: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
    let n = members.len() as f64;
    let len = members.first().map_or(0, Vec::len);
    let mut mean = vec![0.0; len];
    let mut var = vec![0.0; len];
    for m in members {
        for (s, x) in mean.iter_mut().zip(m) {
            *s += x;
        }
    }
    mean.iter_mut().for_each(|s| *s /= n);
    for m in members {
        for ((v, x), mu) in var.iter_mut().zip(m).zip(&mean) {
            *v += (x - mu) * (x - mu);
        }
    }
    var.iter_mut().for_each(|v| *v /= n - 1.0);
    (mean, var)
}

impl RootAnalysis {
    /// Increments `inc[l][m]` (full grid, 0 where nothing changes) for the gathered layers.
    pub fn analyse(
        &mut self,
        cfg: &ImageConfig,
        g: &GatheredFields,
        observed: &[f64],
        (land, n_analysed): (&[bool], usize),
        t: NaiveDateTime,
    ) -> Result<(Increments, ImageReport), String> {
        match cfg.method {
            ImageMethod::Var => self.var(cfg, g, observed, n_analysed),
            ImageMethod::EnkfLike => self.enkf_like(cfg, g, observed, (land, n_analysed), t),
        }
    }

    fn var(
        &mut self,
        cfg: &ImageConfig,
        g: &GatheredFields,
        observed: &[f64],
        n_analysed: usize,
    ) -> Result<(Increments, ImageReport), String> {
        let n = g.layers[0].len();
        let vc = VarConfig {
            sigma_i: cfg.error_sd,
            weight: cfg.weight,
            gap_policy: match cfg.gap_policy {
                ImageGapPolicy::Exclude => GapPolicy::Exclude,
                ImageGapPolicy::Fill => GapPolicy::Fill,
            },
            tolerance: cfg.tolerance,
            max_iter: cfg.max_iter as usize,
        };
        let mut deltas = Vec::with_capacity(g.layers.len());
        let mut report = ImageReport::default();
        for (l, members) in g.layers.iter().enumerate().take(n_analysed) {
            let (mean, var) = mean_var(members);
            let mut b_var: Vec<f64> = match cfg.b_source {
                ImageBSource::Ensemble => var.iter().map(|v| v * cfg.b_inflation).collect(),
                ImageBSource::Constant => vec![cfg.b_sd * cfg.b_sd; var.len()],
                ImageBSource::Innovation => vec![1.0; var.len()],
            };
            let b_scale = scale_b(cfg, &mean, observed, &g.qc_ok, &mut b_var)
                .map_err(|e| format!("B scale of layer {}: {e}", l + 1))?;
            let input = VarInput {
                background: &mean,
                observed,
                analysed: &g.qc_ok,
                b_var: &b_var,
                point_obs: &[],
            };
            let mut delta = vec![0.0; mean.len()];
            let r = analyse_var(&self.plan, &input, &vc, &mut self.ws, &mut delta)
                .map_err(|e| format!("variational analysis of layer {}: {e}", l + 1))?;
            if l == 0 {
                report = ImageReport {
                    iterations: r.iterations,
                    stop: format!("{:?}", r.stop),
                    bands: Vec::new(),
                    kept_units: r.kept_units,
                    total_units: r.total_units,
                    observed_cells: r.control_cells,
                    b_scale,
                };
            }
            deltas.push(delta);
        }
        for l in n_analysed..g.layers.len() {
            let beta = tapered_regression(cfg, g, l, &self.deep_factors)?;
            let mut delta = vec![0.0; n_cells(g)];
            column_increment(&beta, &deltas[0], &mut delta)
                .map_err(|e| format!("increment of layer {}: {e}", l + 1))?;
            deltas.push(delta);
        }
        let inc = deltas.into_iter().map(|d| vec![d; n]).collect();
        Ok((inc, report))
    }

    /// Standard-normal fields of every member for analysis time `t`, keyed per (member,
    /// global pixel) or drawn as correlated fields.
    fn normals(&mut self, n: usize, len: usize, t: NaiveDateTime) -> Vec<Vec<f64>> {
        let minutes = epoch_seconds(t) / 60;
        (0..n)
            .map(|m| {
                let mut z = vec![0.0; len];
                match &self.noise {
                    Some(plan) => plan.generate(
                        self.seed,
                        STREAM_IMAGE,
                        Purpose::InnovationField,
                        0,
                        m as u64,
                        minutes,
                        &mut z,
                        &mut self.scratch,
                    ),
                    None => {
                        for (k, x) in z.iter_mut().enumerate() {
                            *x = keyed_normal(
                                self.seed,
                                STREAM_IMAGE,
                                Purpose::InnovationCell,
                                0,
                                k as u64,
                                m as u64,
                                minutes,
                            );
                        }
                    }
                }
                z
            })
            .collect()
    }

    /// The perturbed images of `n` members for `observed` at `t` (IMAGE.md §4 step 1).
    pub fn perturbed(
        &mut self,
        cfg: &ImageConfig,
        observed: &[f64],
        n: usize,
        t: NaiveDateTime,
    ) -> Result<Vec<Vec<f64>>, String> {
        let normals = self.normals(n, observed.len(), t);
        perturbed_images(observed, cfg.error_sd, &normals).map_err(|e| e.to_string())
    }

    /// Increments of the deeper layers `n_analysed..` through the top layer's gain in
    /// coefficient space (`deep_layers = 'ensemble'`; other choices: empty slots, filled by
    /// [`column_increments`] after the top layer's update); empty slots for the analysed layers.
    pub fn deep_increments(
        &mut self,
        cfg: &ImageConfig,
        gain: &EnkfLikeGain,
        g: &GatheredFields,
        observed: &[f64],
        perturbed: &[Vec<f64>],
        n_analysed: usize,
    ) -> Result<Increments, String> {
        let mut inc = vec![Vec::new(); g.layers.len()];
        if cfg.deep_layers != ImageDeepLayers::Ensemble {
            return Ok(inc);
        }
        let prior = &g.layers[0];
        for (l, slot) in inc.iter_mut().enumerate().skip(n_analysed) {
            let mut deep = g.layers[l].clone();
            let restrict = DeepRestriction {
                factor: self.deep_factors.get(l).copied().unwrap_or(1.0),
                coarse_scales: cfg.deep_scales as usize,
            };
            gain.update_deep_layer_restricted(
                &self.plan,
                observed,
                prior,
                &mut deep,
                perturbed,
                (shrinkage(cfg), restrict),
                &mut self.ws,
            )
            .map_err(|e| format!("EnKF-like update of layer {}: {e}", l + 1))?;
            *slot = differences(&deep, &g.layers[l]);
        }
        Ok(inc)
    }

    fn enkf_like(
        &mut self,
        cfg: &ImageConfig,
        g: &GatheredFields,
        observed: &[f64],
        (land, n_analysed): (&[bool], usize),
        t: NaiveDateTime,
    ) -> Result<(Increments, ImageReport), String> {
        let perturbed = self.perturbed(cfg, observed, g.layers[0].len(), t)?;
        let ec = enkf_config(cfg);
        let fields = EnkfLikeFields {
            observed,
            land,
            analysed: &g.qc_ok,
        };
        let mut inc = Vec::new();
        let mut report = ImageReport::default();
        for (l, layer) in g.layers.iter().enumerate().take(n_analysed) {
            let mut members = layer.clone();
            let (gain, parts) = EnkfLikeGain::estimate_with_parts(
                &self.plan,
                &fields,
                &members,
                &perturbed,
                &ec,
                &mut self.ws,
            )
            .map_err(|e| format!("EnKF-like gain of layer {}: {e}", l + 1))?;
            if l == 0 {
                // The top layer's gain also drives the deeper layers: estimated once.
                inc = self.deep_increments(cfg, &gain, g, observed, &perturbed, n_analysed)?;
            }
            let r = analyse_with_parts(
                &gain,
                parts.as_deref(),
                &self.plan,
                observed,
                &mut members,
                &perturbed,
                &ec,
                &mut self.ws,
            )
            .map_err(|e| format!("EnKF-like analysis of layer {}: {e}", l + 1))?;
            if l == 0 {
                report = enkf_report(r);
            }
            inc[l] = differences(&members, layer);
        }
        finish_deep_layers(cfg, g, &mut inc, (n_analysed, &self.deep_factors))?;
        Ok((inc, report))
    }
}

/// The layers below `n_analysed` after the analysed ones are done (EnKF-like): with
/// `deep_layers = 'regression'` their increments by column regression
/// ([`column_increments`]); then, with `rtps_alpha` > 0 and deep layers updated by the
/// image, RTPS of each deep layer's spread against its prior, as for the top layer (a deep
/// layer has no observation of its own to restore a spread the update over-shrank); last,
/// with `update_perturbations = .false.`, every layer's increments replaced by their member
/// mean. `factors`: the vertical localisation per layer.
pub fn finish_deep_layers(
    cfg: &ImageConfig,
    g: &GatheredFields,
    inc: &mut Increments,
    (n_analysed, factors): (usize, &[f64]),
) -> Result<(), String> {
    column_increments(cfg, g, inc, (n_analysed, factors))?;
    if cfg.rtps_alpha > 0.0 && cfg.deep_layers != ImageDeepLayers::Model {
        let deep = inc.iter_mut().zip(&g.layers).enumerate().skip(n_analysed);
        for (l, (layer_inc, prior)) in deep {
            if layer_inc.len() == prior.len() {
                rtps_increments(prior, layer_inc, cfg.rtps_alpha)
                    .map_err(|e| format!("RTPS of layer {}: {e}", l + 1))?;
            }
        }
    }
    if !cfg.update_perturbations {
        for (l, layer_inc) in inc.iter_mut().enumerate() {
            mean_increments(layer_inc).map_err(|e| format!("mean of layer {}: {e}", l + 1))?;
        }
    }
    Ok(())
}

/// With `deep_layers = 'regression'`, each member's increments of the layers below
/// `n_analysed`: its top-layer increment `inc[0][m]` times the per-cell regression of the
/// layer on the top layer over the prior members (`da::image::column_regression`).
/// Nothing for the other choices.
pub fn column_increments(
    cfg: &ImageConfig,
    g: &GatheredFields,
    inc: &mut Increments,
    (n_analysed, factors): (usize, &[f64]),
) -> Result<(), String> {
    if cfg.deep_layers != ImageDeepLayers::Regression {
        return Ok(());
    }
    for l in n_analysed..g.layers.len() {
        let beta = tapered_regression(cfg, g, l, factors)?;
        let mut layer = Vec::with_capacity(inc[0].len());
        for top in &inc[0] {
            let mut d = vec![0.0; top.len()];
            column_increment(&beta, top, &mut d)
                .map_err(|e| format!("increment of layer {}: {e}", l + 1))?;
            layer.push(d);
        }
        inc[l] = layer;
    }
    Ok(())
}

/// The per-cell regression of layer `l` on the top layer (`deep_shrinkage` applied), times
/// the layer's vertical localisation factor.
fn tapered_regression(
    cfg: &ImageConfig,
    g: &GatheredFields,
    l: usize,
    factors: &[f64],
) -> Result<Vec<f64>, String> {
    let mut beta = column_regression_with(&g.layers[0], &g.layers[l], shrinkage(cfg))
        .map_err(|e| format!("regression of layer {}: {e}", l + 1))?;
    let f = factors.get(l).copied().unwrap_or(1.0);
    if f != 1.0 {
        beta.iter_mut().for_each(|b| *b *= f);
    }
    Ok(beta)
}

/// The sampling-error correction of the deep-layer regressions (`deep_shrinkage`).
pub fn shrinkage(cfg: &ImageConfig) -> CrossShrinkage {
    match cfg.deep_shrinkage {
        ImageDeepShrinkage::None => CrossShrinkage::None,
        ImageDeepShrinkage::Sampling => CrossShrinkage::SamplingError,
    }
}

/// Grid cells of the gathered fields.
fn n_cells(g: &GatheredFields) -> usize {
    g.layers[0].first().map_or(0, Vec::len)
}

/// The EnKF-like settings of the namelist's `&image`.
pub fn enkf_config(cfg: &ImageConfig) -> EnkfLikeConfig {
    EnkfLikeConfig {
        b_inflation: cfg.b_inflation,
        update: match cfg.update_coefficients {
            ImageUpdate::Masked => UpdateCoefficients::Masked,
            ImageUpdate::All => UpdateCoefficients::All,
        },
        max_gain: cfg.max_gain,
        rtps_alpha: cfg.rtps_alpha,
    }
}

/// The diagnostics' summary of an EnKF-like analysis.
pub fn enkf_report(r: EnkfLikeReport) -> ImageReport {
    ImageReport {
        iterations: Vec::new(),
        stop: String::new(),
        bands: r.bands,
        kept_units: r.kept_units,
        total_units: r.total_units,
        observed_cells: r.observed_cells,
        b_scale: f64::NAN,
    }
}

/// `after − before` per member, 0 where either is missing.
pub fn differences(after: &[Vec<f64>], before: &[Vec<f64>]) -> Vec<Vec<f64>> {
    after
        .iter()
        .zip(before)
        .map(|(a, b)| {
            a.iter()
                .zip(b)
                .map(|(x, y)| if (x - y).is_finite() { x - y } else { 0.0 })
                .collect()
        })
        .collect()
}
