//! The image analysis's diagnostics (`LC_IMG_YYYYMMDDHHMM.nc`): observed image, mask,
//! innovation, mean increments per layer, spread before and after, and the spatial
//! correlation (SCC) and RMSE of background and analysis against the image; plus CG
//! iterations or per-band b/r/gain. Also the one-line summary in the log.

use std::path::PathBuf;

use chrono::NaiveDateTime;

use super::error::CycleError;
use super::image_analysis::{mean_var, ImageReport};
use super::image_exchange::GatheredFields;
use super::image_obs::ObservedImage;
use crate::config::ImageConfig;
use crate::io::image_diag::{
    write_image_diag_deferred, ImageDiagContent, ImageDiagField, ImageDiagScalar, ImageDiagTable,
};
use crate::io::writer::{CommitJob, WriteJob};
use crate::verify::spatial;

/// What the diagnostics are made of (root).
pub struct DiagInput<'a> {
    pub cfg: &'a ImageConfig,
    pub t: NaiveDateTime,
    pub image: &'a ObservedImage,
    pub gathered: &'a GatheredFields,
    /// Increments `[layer][member][cell]`.
    pub inc: &'a [Vec<Vec<f64>>],
    pub report: &'a ImageReport,
    /// (lat, lon, land mask) of the grid.
    pub grid: (&'a [f64], &'a [f64], &'a [bool]),
    pub layer_thickness: &'a [f64],
}

/// Spatial correlation and RMSE of `run` against the image pixels that entered the analysis
/// (`observed`: the image there, NaN elsewhere).
fn scc_rmse(observed: &[f64], run: &[f64]) -> (f64, f64) {
    let scc = spatial::scc(observed, run).unwrap_or(f64::NAN);
    (scc, spatial::rmse(observed, run).0)
}

/// Mean over members of increment `inc[l]`, NaN off land.
fn mean_increment(inc: &[Vec<f64>], land: &[bool]) -> Vec<f64> {
    let n = inc.len() as f64;
    (0..land.len())
        .map(|k| {
            if !land[k] {
                return f64::NAN;
            }
            inc.iter().map(|m| m[k]).sum::<f64>() / n
        })
        .collect()
}

/// The ensemble means and spreads of the top layer before and after, and the image on the
/// cells that entered the analysis.
struct TopLayer {
    xb: Vec<f64>,
    xa: Vec<f64>,
    sd_b: Vec<f64>,
    sd_a: Vec<f64>,
    /// The image where it entered the analysis (land passing QC with a pixel), NaN elsewhere.
    observed: Vec<f64>,
}

fn top_layer(d: &DiagInput) -> TopLayer {
    let (g, land, fo) = (d.gathered, d.grid.2, &d.image.values);
    let (xb, var_b) = mean_var(&g.layers[0]);
    let inc0 = mean_increment(&d.inc[0], land);
    let xa = xb.iter().zip(&inc0).map(|(b, i)| b + i).collect();
    let after: Vec<Vec<f64>> = g.layers[0]
        .iter()
        .zip(&d.inc[0])
        .map(|(x, i)| x.iter().zip(i).map(|(a, b)| a + b).collect())
        .collect();
    let (_, var_a) = mean_var(&after);
    let observed = (0..fo.len())
        .map(|k| if g.qc_ok[k] { fo[k] } else { f64::NAN })
        .collect();
    let sd = |v: Vec<f64>| v.into_iter().map(f64::sqrt).collect();
    TopLayer {
        xb,
        xa,
        sd_b: sd(var_b),
        sd_a: sd(var_a),
        observed,
    }
}

/// The gridded fields of the file.
fn fields(d: &DiagInput, t: &TopLayer) -> Vec<ImageDiagField> {
    let land = d.grid.2;
    let off_land = |v: &[f64]| -> Vec<f64> {
        v.iter()
            .zip(land)
            .map(|(x, &l)| if l { *x } else { f64::NAN })
            .collect()
    };
    let valid = t
        .observed
        .iter()
        .map(|v| if v.is_finite() { 1.0 } else { 0.0 })
        .collect();
    let innovation = t.observed.iter().zip(&t.xb).map(|(o, b)| o - b).collect();
    let mut increment = Vec::with_capacity(d.layer_thickness.len() * land.len());
    for l in 0..d.layer_thickness.len() {
        match d.inc.get(l) {
            Some(i) => increment.extend(mean_increment(i, land)),
            None => increment.extend(off_land(&vec![0.0; land.len()])),
        }
    }
    let top = "top layer";
    [
        (
            "obs_image",
            "observation image on the model grid".to_string(),
            false,
            d.image.values.clone(),
        ),
        (
            "obs_valid",
            "1 where the image enters the analysis (land passing model QC with a pixel)".into(),
            false,
            valid,
        ),
        (
            "innovation",
            format!("image minus background ensemble mean, {top}"),
            false,
            innovation,
        ),
        (
            "background",
            format!("background ensemble mean, {top}"),
            false,
            off_land(&t.xb),
        ),
        (
            "analysis",
            format!("analysis ensemble mean, {top}"),
            false,
            off_land(&t.xa),
        ),
        (
            "increment",
            "image analysis increment (ensemble mean)".into(),
            true,
            increment,
        ),
        (
            "spread_before",
            format!("ensemble standard deviation before the image analysis, {top}"),
            false,
            off_land(&t.sd_b),
        ),
        (
            "spread_after",
            format!("ensemble standard deviation after the image analysis, {top}"),
            false,
            off_land(&t.sd_a),
        ),
    ]
    .into_iter()
    .map(|(name, long_name, layered, data)| {
        let units = if name == "obs_valid" { "1" } else { "m3 m-3" };
        ImageDiagField {
            name,
            long_name,
            units,
            layered,
            data,
        }
    })
    .collect()
}

/// The scalars of the file: scores against the image and the mask's size.
fn scalars(d: &DiagInput, t: &TopLayer) -> Vec<ImageDiagScalar> {
    let (scc_b, rmse_b) = scc_rmse(&t.observed, &t.xb);
    let (scc_a, rmse_a) = scc_rmse(&t.observed, &t.xa);
    let observed = t.observed.iter().filter(|v| v.is_finite()).count();
    let r = d.report;
    [
        (
            "scc_background",
            "spatial correlation of the background mean with the image",
            "1",
            scc_b,
        ),
        (
            "scc_analysis",
            "spatial correlation of the analysis mean with the image",
            "1",
            scc_a,
        ),
        (
            "rmse_background",
            "RMSE of the background mean against the image",
            "m3 m-3",
            rmse_b,
        ),
        (
            "rmse_analysis",
            "RMSE of the analysis mean against the image",
            "m3 m-3",
            rmse_a,
        ),
        (
            "observed_cells",
            "land cells passing model QC with an image pixel",
            "1",
            observed as f64,
        ),
        (
            "kept_units",
            "curvelet coefficient units kept by the mask",
            "1",
            r.kept_units as f64,
        ),
        (
            "total_units",
            "curvelet coefficient units of the extended grid",
            "1",
            r.total_units as f64,
        ),
    ]
    .into_iter()
    // α of var's `b_scale = 'innovation'`; absent when B was used as given (and for enkf_like).
    .chain(r.b_scale.is_finite().then_some((
        "b_scale",
        "innovation scale alpha of B (var); with b_source innovation the variance itself",
        "1",
        r.b_scale,
    )))
    .map(|(name, long_name, units, value)| ImageDiagScalar {
        name,
        long_name,
        units,
        value,
    })
    .collect()
}

/// The fields, scalars and tables of one analysis; logs its summary.
pub fn diag_content(d: &DiagInput) -> ImageDiagContent {
    let t = top_layer(d);
    let scalars = scalars(d, &t);
    let value = |name: &str| {
        scalars
            .iter()
            .find(|s| s.name == name)
            .map_or(f64::NAN, |s| s.value)
    };
    tracing::info!(
        "image analysis at {} ({}): {} cells, SCC {:.3} -> {:.3}, RMSE {:.4} -> {:.4} m3 m-3 \
         against the image, {}/{} coefficient units kept",
        d.t,
        d.cfg.method.name(),
        value("observed_cells"),
        value("scc_background"),
        value("scc_analysis"),
        value("rmse_background"),
        value("rmse_analysis"),
        d.report.kept_units,
        d.report.total_units
    );
    let (lat, lon, _) = d.grid;
    ImageDiagContent {
        time: d.t,
        attributes: attributes(d),
        lat: lat.to_vec(),
        lon: lon.to_vec(),
        layer_thickness: d.layer_thickness.to_vec(),
        fields: fields(d, &t),
        scalars,
        tables: tables(d.report),
    }
}

fn attributes(d: &DiagInput) -> Vec<(&'static str, String)> {
    let c = d.cfg;
    let mut a = vec![
        ("image_method", c.method.name().to_string()),
        ("observation_image", d.image.path.display().to_string()),
        ("image_error_sd", c.error_sd.to_string()),
        ("keep_fraction", c.keep_fraction.to_string()),
        ("image_weight", c.weight.to_string()),
    ];
    if !d.report.stop.is_empty() {
        a.push(("cg_stop_reason", d.report.stop.clone()));
    }
    a
}

fn tables(r: &ImageReport) -> Vec<ImageDiagTable> {
    let mut t = Vec::new();
    if !r.iterations.is_empty() {
        let col = |f: fn(&crate::da::image::IterLog) -> f64| r.iterations.iter().map(f).collect();
        t.push(ImageDiagTable {
            dim: "iteration",
            columns: vec![
                (
                    "cost",
                    "cost function J at the iterate",
                    "1",
                    col(|i| i.cost),
                ),
                (
                    "grad_norm",
                    "norm of the gradient of J in the field's space",
                    "m-3 m3",
                    col(|i| i.grad_norm),
                ),
                (
                    "grad_norm_control",
                    "norm of the CG residual in control space",
                    "1",
                    col(|i| i.grad_norm_control),
                ),
            ],
        });
    }
    if !r.bands.is_empty() {
        let col = |f: fn(&crate::da::image::BandStats) -> f64| r.bands.iter().map(f).collect();
        t.push(ImageDiagTable {
            dim: "band",
            columns: vec![
                (
                    "band_scale",
                    "curvelet scale of the band (0 = coarsest)",
                    "1",
                    col(|b| b.scale as f64),
                ),
                (
                    "band_angle",
                    "angle index within the scale",
                    "1",
                    col(|b| b.angle as f64),
                ),
                (
                    "band_mean_b",
                    "mean background variance of the band's coefficients",
                    "m6 m-6",
                    col(|b| b.mean_b),
                ),
                (
                    "band_mean_r",
                    "mean observation-image variance of the band's coefficients",
                    "m6 m-6",
                    col(|b| b.mean_r),
                ),
                (
                    "band_mean_gain",
                    "mean gain over the band's updated coefficients",
                    "1",
                    col(|b| b.mean_gain),
                ),
            ],
        });
    }
    t
}

/// The writer job of one diagnostics file.
pub fn diag_job(content: ImageDiagContent, path: PathBuf) -> WriteJob<CycleError> {
    Box::new(move || {
        let pending = write_image_diag_deferred(&path, &content)?;
        let commit: CommitJob<CycleError> = Box::new(move || Ok(pending.commit()?));
        Ok(commit)
    })
}
