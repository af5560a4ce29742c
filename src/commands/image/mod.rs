//! `landcycle image`: one curvelet image analysis (variational or EnKF-like, `da::image`)
//! of a gridded background (one field or an ensemble) against an observed image on the same
//! regular lat-lon grid (or remapped to it), written as one CF NetCDF file with the analysis,
//! increment, image, masks and scalar diagnostics. How people first try the method on
//! fields they already have (IMAGE.md; docs/image.md).
//!
//! `input` reads the background and the image, `analysis` runs the method, `output` writes
//! the diagnostics file.

mod analysis;
mod input;
mod output;

use analysis::*;
use input::*;
use output::*;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use chrono::NaiveDateTime;

use super::plot::{is_member_dim, read_selected, var_dims, SelectedField, Selector};
use crate::da::image::{
    analyse_enkf_like, analyse_var, perturbed_images, BandStats, EnkfLikeConfig, EnkfLikeFields,
    GapPolicy, ImageOptions, ImagePlan, IterLog, StopReason, UpdateCoefficients, VarConfig,
    VarInput,
};
use crate::grid::remap::{LatLonSource, RemapMethod, RemapWeights};
use crate::io::atomic::atomic_write;
use crate::io::gridded::GriddedField;
use crate::perturb::{keyed_normal, GaussianFieldPlan, Purpose};

/// Random stream of the image perturbations (distinct from the forcing and state groups).
const IMAGE_STREAM: u32 = 0x494D_4147; // "IMAG"
/// B standard deviation used when nothing else gives one (m³ m⁻³; IMAGE.md §2 item 1).
const DEFAULT_B_SD: f64 = 0.05;
/// `_FillValue` of the output (the history files' convention).
const FILL: f64 = 1.0e20;

/// Analysis method.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Variational: J_B + J_I minimised by CG (Shen et al. 2024).
    Var,
    /// Kalman update per curvelet coefficient of every member (Bai et al. 2026).
    #[value(name = "enkf_like")]
    EnkfLike,
}

/// Longitude periodicity.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Periodic {
    /// Periodic when the longitudes cover the circle.
    Auto,
    Yes,
    No,
}

/// Land cells without an image pixel.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gaps {
    /// No increment there.
    Exclude,
    /// Innovation filled smoothly from the observed cells (variational only).
    Fill,
}

/// Remapping of the image to the background grid.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Remap {
    Bilinear,
}

/// Arguments of `landcycle image`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Background file(s): one field, one file with a member dimension, or one file per member.
    #[arg(long, required = true)]
    pub background: Vec<PathBuf>,
    /// Background variable (default: SoilMoistV_member, SoilMoistV or swvl1, whichever exists).
    #[arg(long)]
    pub bg_var: Option<String>,
    /// Background time index.
    #[arg(long)]
    pub bg_time_index: Option<usize>,
    /// Background layer (default 0, the top layer, when the variable has layers).
    #[arg(long)]
    pub bg_layer: Option<usize>,
    /// Background index DIM=K (repeatable).
    #[arg(long, value_name = "DIM=K")]
    pub bg_index: Vec<String>,
    /// Member dimension of the background (default: member, ensemble, realization, number).
    #[arg(long)]
    pub member_dim: Option<String>,
    /// Observed image file.
    #[arg(long)]
    pub obs: PathBuf,
    /// Image variable (default: swvl1, SoilMoi0_10cm_inst or SoilMoistV, whichever exists).
    #[arg(long)]
    pub obs_var: Option<String>,
    /// Image time index.
    #[arg(long)]
    pub obs_time_index: Option<usize>,
    /// Image layer.
    #[arg(long)]
    pub obs_layer: Option<usize>,
    /// Image index DIM=K (repeatable).
    #[arg(long, value_name = "DIM=K")]
    pub obs_index: Vec<String>,
    /// Factor to the background's units (default: GLDAS SoilMoi kg m⁻² → m³ m⁻³, else 1).
    #[arg(long)]
    pub obs_scale: Option<f64>,
    /// Remap the image to the background grid when the grids differ.
    #[arg(long, value_enum)]
    pub remap: Option<Remap>,
    /// Analysis method.
    #[arg(long, value_enum, default_value_t = Method::Var)]
    pub method: Method,
    /// σ_I, the image error sd (field units).
    #[arg(long, default_value_t = 0.04)]
    pub error_sd: f64,
    /// Correlation length of the image perturbations (km, enkf_like; 0 = white).
    #[arg(long, default_value_t = 0.0)]
    pub error_corr_km: f64,
    /// Fraction of the image's curvelet coefficients kept by the mask.
    #[arg(long, default_value_t = 0.5)]
    pub keep_fraction: f64,
    /// λ, the weight of the image term (var).
    #[arg(long, default_value_t = 1.0)]
    pub weight: f64,
    /// Constant background error sd (var).
    #[arg(long)]
    pub b_sd: Option<f64>,
    /// File with the background error sd per cell on the background grid (var).
    #[arg(long)]
    pub b_file: Option<PathBuf>,
    /// Variable of --b-file.
    #[arg(long, default_value = "b_sd")]
    pub b_var: String,
    /// α_b, multiplies the ensemble background variance.
    #[arg(long, default_value_t = 1.0)]
    pub b_inflation: f64,
    /// CG iteration limit (var).
    #[arg(long, default_value_t = 100)]
    pub max_iter: usize,
    /// CG relative residual tolerance (var).
    #[arg(long, default_value_t = 1e-6)]
    pub tolerance: f64,
    /// Longitude periodicity of the grid.
    #[arg(long, value_enum, default_value_t = Periodic::Auto)]
    pub periodic_lon: Periodic,
    /// Land cells without an image pixel.
    #[arg(long, value_enum, default_value_t = Gaps::Exclude)]
    pub gap_policy: Gaps,
    /// Seed of the image perturbations (enkf_like).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// RTPS α (enkf_like).
    #[arg(long, default_value_t = 0.0)]
    pub rtps_alpha: f64,
    /// Cap on every gain (enkf_like).
    #[arg(long)]
    pub max_gain: Option<f64>,
    /// Output NetCDF file.
    #[arg(long)]
    pub out: PathBuf,
}

/// The background on its grid: one or more members, NaN off land.
struct Background {
    var: String,
    units: Option<String>,
    lat: Vec<f64>,
    lon: Vec<f64>,
    members: Vec<Vec<f64>>,
    time: Option<NaiveDateTime>,
    selection: Vec<String>,
}

/// The image on the background grid.
struct Observed {
    var: String,
    values: Vec<f64>,
    time: Option<NaiveDateTime>,
    conversion: String,
    remapped: bool,
}

/// Result of the analysis, in grid arrays.
struct Outcome {
    analysis: Vec<f64>,
    b_source: String,
    var: Option<(Vec<IterLog>, StopReason, usize)>,
    enkf: Option<(Vec<BandStats>, Vec<f64>, Vec<f64>)>,
    kept: usize,
    total: usize,
}

/// `landcycle image`.
pub fn run(a: &Args) -> anyhow::Result<()> {
    let bg = read_background(a)?;
    let obs = read_observed(a, &bg)?;
    let (ny, nx) = (bg.lat.len(), bg.lon.len());
    let land: Vec<bool> = (0..ny * nx)
        .map(|i| bg.members.iter().all(|m| m[i].is_finite()))
        .collect();
    let periodic = match a.periodic_lon {
        Periodic::Yes => true,
        Periodic::No => false,
        Periodic::Auto => {
            LatLonSource::new(bg.lat.clone(), bg.lon.clone()).is_ok_and(|s| s.is_global_in_lon())
        }
    };
    let opts = ImageOptions {
        periodic_lon: periodic,
        keep_fraction: a.keep_fraction,
        ..ImageOptions::default()
    };
    let plan = ImagePlan::new(ny, nx, &opts)
        .with_context(|| format!("image plan for the {ny}×{nx} background grid"))?;
    let out = match a.method {
        Method::Var => run_var(a, &plan, &bg, &obs.values, &land)?,
        Method::EnkfLike => run_enkf_like(a, &plan, &bg, &obs.values, &land)?,
    };
    let xb = mean_of(&bg.members);
    let cmp: Vec<bool> = (0..ny * nx)
        .map(|i| land[i] && obs.values[i].is_finite())
        .collect();
    let (scc_b, rmse_b) = scores(&xb, &obs.values, &cmp);
    let (scc_a, rmse_a) = scores(&out.analysis, &obs.values, &cmp);
    let n_cmp = cmp.iter().filter(|&&c| c).count();
    let d = Diagnostics {
        bg: &bg,
        obs: &obs,
        land: &land,
        cmp: &cmp,
        periodic,
        out: &out,
        scc: (scc_b, scc_a),
        rmse: (rmse_b, rmse_a),
        n_cmp,
    };
    atomic_write(&a.out, |tmp| write_output(tmp, a, &d))?;
    println!(
        "{}: {:?} analysis of {} on {}×{} cells ({} compared): SCC {:.4} -> {:.4}, RMSE {:.5} -> {:.5}, kept {}/{} coefficient units",
        a.out.display(), a.method, bg.var, ny, nx, n_cmp, scc_b, scc_a, rmse_b, rmse_a, out.kept, out.total
    );
    Ok(())
}

struct Diagnostics<'a> {
    bg: &'a Background,
    obs: &'a Observed,
    land: &'a [bool],
    cmp: &'a [bool],
    periodic: bool,
    out: &'a Outcome,
    scc: (f64, f64),
    rmse: (f64, f64),
    n_cmp: usize,
}
