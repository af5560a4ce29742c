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

/// Pearson correlation and RMSE of `a` against `b` over `cells`.
pub fn scc_rmse(a: &[f64], b: &[f64], cells: &[usize]) -> (f64, f64) {
    let n = cells.len() as f64;
    if cells.len() < 2 {
        return (f64::NAN, f64::NAN);
    }
    let (ma, mb) = cells
        .iter()
        .fold((0.0, 0.0), |(x, y), &k| (x + a[k], y + b[k]));
    let (ma, mb) = (ma / n, mb / n);
    let (mut sab, mut saa, mut sbb, mut se) = (0.0, 0.0, 0.0, 0.0);
    for &k in cells {
        let (da, db) = (a[k] - ma, b[k] - mb);
        sab += da * db;
        saa += da * da;
        sbb += db * db;
        se += (a[k] - b[k]) * (a[k] - b[k]);
    }
    (sab / (saa * sbb).sqrt(), (se / n).sqrt())
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

fn field(
    name: &'static str,
    long: &str,
    units: &'static str,
    layered: bool,
    data: Vec<f64>,
) -> ImageDiagField {
    ImageDiagField {
        name,
        long_name: long.to_string(),
        units,
        layered,
        data,
    }
}

fn scalar(
    name: &'static str,
    long_name: &'static str,
    units: &'static str,
    value: f64,
) -> ImageDiagScalar {
    ImageDiagScalar {
        name,
        long_name,
        units,
        value,
    }
}

/// The fields, scalars and tables of one analysis; logs its summary.
pub fn diag_content(d: &DiagInput) -> ImageDiagContent {
    let (lat, lon, land) = d.grid;
    let g = d.gathered;
    let fo = &d.image.values;
    let (xb, sd_b) = mean_var(&g.layers[0]);
    let inc0 = mean_increment(&d.inc[0], land);
    let xa: Vec<f64> = xb.iter().zip(&inc0).map(|(b, i)| b + i).collect();
    let after: Vec<Vec<f64>> = g.layers[0]
        .iter()
        .zip(&d.inc[0])
        .map(|(x, i)| x.iter().zip(i).map(|(a, b)| a + b).collect())
        .collect();
    let (_, sd_a) = mean_var(&after);
    let cells: Vec<usize> = (0..fo.len())
        .filter(|&k| g.qc_ok[k] && fo[k].is_finite())
        .collect();
    let (scc_b, rmse_b) = scc_rmse(&xb, fo, &cells);
    let (scc_a, rmse_a) = scc_rmse(&xa, fo, &cells);
    tracing::info!(
        "image analysis at {} ({}): {} cells, SCC {scc_b:.3} -> {scc_a:.3}, RMSE {rmse_b:.4} -> \
         {rmse_a:.4} m3 m-3 against the image, {}/{} coefficient units kept",
        d.t,
        d.cfg.method.name(),
        cells.len(),
        d.report.kept_units,
        d.report.total_units
    );
    let nl = d.layer_thickness.len();
    let mut inc_all = Vec::with_capacity(nl * land.len());
    for l in 0..nl {
        match d.inc.get(l) {
            Some(i) => inc_all.extend(mean_increment(i, land)),
            None => inc_all.extend(land.iter().map(|&x| if x { 0.0 } else { f64::NAN })),
        }
    }
    let off_land = |v: &[f64]| -> Vec<f64> {
        v.iter()
            .zip(land)
            .map(|(x, &l)| if l { *x } else { f64::NAN })
            .collect()
    };
    let valid: Vec<f64> = (0..fo.len())
        .map(|k| {
            if cells.binary_search(&k).is_ok() {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    let innov: Vec<f64> = (0..fo.len())
        .map(|k| {
            if valid[k] == 1.0 {
                fo[k] - xb[k]
            } else {
                f64::NAN
            }
        })
        .collect();
    let sqrt = |v: Vec<f64>| v.into_iter().map(f64::sqrt).collect::<Vec<_>>();
    let fields = vec![
        field(
            "obs_image",
            "observation image on the model grid",
            "m3 m-3",
            false,
            fo.clone(),
        ),
        field(
            "obs_valid",
            "1 where the image enters the analysis (land passing model QC with a pixel)",
            "1",
            false,
            valid,
        ),
        field(
            "innovation",
            "image minus background ensemble mean, top layer",
            "m3 m-3",
            false,
            innov,
        ),
        field(
            "background",
            "background ensemble mean, top layer",
            "m3 m-3",
            false,
            off_land(&xb),
        ),
        field(
            "analysis",
            "analysis ensemble mean, top layer",
            "m3 m-3",
            false,
            off_land(&xa),
        ),
        field(
            "increment",
            "image analysis increment (ensemble mean)",
            "m3 m-3",
            true,
            inc_all,
        ),
        field(
            "spread_before",
            "ensemble standard deviation before the image analysis, top layer",
            "m3 m-3",
            false,
            off_land(&sqrt(sd_b)),
        ),
        field(
            "spread_after",
            "ensemble standard deviation after the image analysis, top layer",
            "m3 m-3",
            false,
            off_land(&sqrt(sd_a)),
        ),
    ];
    let r = d.report;
    let scalars = vec![
        scalar(
            "scc_background",
            "spatial correlation of the background mean with the image",
            "1",
            scc_b,
        ),
        scalar(
            "scc_analysis",
            "spatial correlation of the analysis mean with the image",
            "1",
            scc_a,
        ),
        scalar(
            "rmse_background",
            "RMSE of the background mean against the image",
            "m3 m-3",
            rmse_b,
        ),
        scalar(
            "rmse_analysis",
            "RMSE of the analysis mean against the image",
            "m3 m-3",
            rmse_a,
        ),
        scalar(
            "observed_cells",
            "land cells passing model QC with an image pixel",
            "1",
            cells.len() as f64,
        ),
        scalar(
            "kept_units",
            "curvelet coefficient units kept by the mask",
            "1",
            r.kept_units as f64,
        ),
        scalar(
            "total_units",
            "curvelet coefficient units of the extended grid",
            "1",
            r.total_units as f64,
        ),
    ];
    ImageDiagContent {
        time: d.t,
        attributes: attributes(d),
        lat: lat.to_vec(),
        lon: lon.to_vec(),
        layer_thickness: d.layer_thickness.to_vec(),
        fields,
        scalars,
        tables: tables(r),
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
