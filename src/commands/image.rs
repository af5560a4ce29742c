//! `landcycle image`: one curvelet image analysis (variational or EnKF-like, `da::image`)
//! of a gridded background (one field or an ensemble) against an observed image on the same
//! regular lat-lon grid (or remapped to it), written as one CF NetCDF file with the analysis,
//! increment, image, masks and scalar diagnostics. How people first try the method on
//! fields they already have (IMAGE.md; docs/image.md).

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

fn first_present(path: &Path, names: &[&str], flag: &str) -> anyhow::Result<String> {
    let file = netcdf::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    names
        .iter()
        .find(|n| file.variable(n).is_some())
        .map(|n| n.to_string())
        .with_context(|| {
            format!(
                "{}: none of {names:?} found; name the variable with {flag} (variables: {})",
                path.display(),
                file.variables()
                    .map(|v| v.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

/// The selector, with the top layer chosen when the variable has an unselected vertical
/// dimension and no layer was given.
fn selector(
    path: &Path,
    var: &str,
    t: Option<usize>,
    layer: Option<usize>,
    index: &[String],
) -> anyhow::Result<Selector> {
    let mut sel = Selector {
        time_index: t,
        layer,
        index: index.to_vec(),
    };
    if layer.is_none() {
        let (file, dims) = var_dims(path, var)?;
        let named = |d: &str| index.iter().any(|s| s.split('=').next() == Some(d));
        if dims
            .iter()
            .any(|(d, _)| super::plot::is_vertical(&file, d) && !named(d))
        {
            sel.layer = Some(0);
        }
    }
    Ok(sel)
}

fn same_axis(a: &[f64], b: &[f64], lon: bool) -> bool {
    let d = if a.len() > 1 {
        ((a[a.len() - 1] - a[0]) / (a.len() - 1) as f64).abs()
    } else {
        1.0
    };
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            let diff = if lon {
                let r = (x - y).rem_euclid(360.0);
                r.min(360.0 - r)
            } else {
                (x - y).abs()
            };
            diff <= 1e-4 * d
        })
}

/// "100×236 cells, lat 25.125..49.875, lon -124.875..-66.125 (step 0.25×0.25)".
fn describe_grid(lat: &[f64], lon: &[f64]) -> String {
    let step = |c: &[f64]| {
        if c.len() > 1 {
            ((c[c.len() - 1] - c[0]) / (c.len() - 1) as f64).abs()
        } else {
            0.0
        }
    };
    format!(
        "{}×{} cells, lat {}..{}, lon {}..{} (step {}×{} degrees)",
        lat.len(),
        lon.len(),
        lat[0],
        lat[lat.len() - 1],
        lon[0],
        lon[lon.len() - 1],
        step(lat),
        step(lon)
    )
}

fn read_background(a: &Args) -> anyhow::Result<Background> {
    let first = &a.background[0];
    let var = match &a.bg_var {
        Some(v) => v.clone(),
        None => first_present(
            first,
            &["SoilMoistV_member", "SoilMoistV", "swvl1"],
            "--bg-var",
        )?,
    };
    let mut fields: Vec<SelectedField> = Vec::new();
    for path in &a.background {
        let sel = selector(path, &var, a.bg_time_index, a.bg_layer, &a.bg_index)?;
        let (file, dims) = var_dims(path, &var)?;
        let member_dim = dims.iter().find(|(d, _)| {
            a.member_dim
                .as_deref()
                .map_or_else(|| is_member_dim(&file, d), |m| m == d)
                && !sel
                    .index
                    .iter()
                    .any(|s| s.split('=').next() == Some(d.as_str()))
        });
        match member_dim {
            Some((d, n)) => {
                for k in 0..*n {
                    let mut s = sel.clone();
                    s.index.push(format!("{d}={k}"));
                    fields.push(read_selected(path, &var, &s)?);
                }
            }
            None => fields.push(read_selected(path, &var, &sel)?),
        }
    }
    let f0 = fields[0].field.clone();
    for (k, f) in fields.iter().enumerate() {
        if !same_axis(&f.field.lat, &f0.lat, false) || !same_axis(&f.field.lon, &f0.lon, true) {
            bail!(
                "background member {k} is on another grid ({}) than member 0 ({})",
                describe_grid(&f.field.lat, &f.field.lon),
                describe_grid(&f0.lat, &f0.lon)
            );
        }
    }
    let (scale, _) = unit_factor(&var, f0.units.as_deref(), None, first, "--bg-var")?;
    Ok(Background {
        units: if scale == 1.0 {
            f0.units.clone()
        } else {
            Some("m3 m-3".into())
        },
        time: fields[0].time,
        selection: fields[0].fixed.clone(),
        members: fields
            .into_iter()
            .map(|f| f.field.values.iter().map(|v| v * scale).collect())
            .collect(),
        var,
        lat: f0.lat,
        lon: f0.lon,
    })
}

/// Factor to m³ m⁻³ (or the background's units): the option, else GLDAS mass per layer
/// through `obs::gridded::layer_of` (kg m⁻² / (thickness × 1000 kg m⁻³)), else 1; a field
/// in kg m⁻² that is not a known layer is refused.
fn unit_factor(
    var: &str,
    units: Option<&str>,
    given: Option<f64>,
    path: &Path,
    flag: &str,
) -> anyhow::Result<(f64, String)> {
    if let Some(s) = given {
        return Ok((s, format!("multiplied by {s} (--obs-scale)")));
    }
    if let Some((top, bottom, true, _)) = crate::obs::gridded::layer_of(var) {
        let f = 1.0 / ((bottom - top) * 1000.0);
        return Ok((
            f,
            format!(
                "kg m-2 divided by {} kg m-2 (layer {top}-{bottom} m of water)",
                (bottom - top) * 1000.0
            ),
        ));
    }
    let u = units.unwrap_or("").replace(' ', "").to_ascii_lowercase();
    if u == "kgm-2" || u == "kg/m2" || u == "kgm**-2" {
        bail!(
            "{}: '{var}' is in kg m-2 per layer; give the factor to m3 m-3 with --obs-scale \
             (1 / (layer thickness in m × 1000)) or choose a volumetric variable with {flag}",
            path.display()
        );
    }
    Ok((1.0, "none".into()))
}

fn read_observed(a: &Args, bg: &Background) -> anyhow::Result<Observed> {
    let var = match &a.obs_var {
        Some(v) => v.clone(),
        None => first_present(
            &a.obs,
            &["swvl1", "SoilMoi0_10cm_inst", "SoilMoistV"],
            "--obs-var",
        )?,
    };
    let sel = selector(&a.obs, &var, a.obs_time_index, a.obs_layer, &a.obs_index)?;
    let sf = read_selected(&a.obs, &var, &sel)?;
    let (scale, conversion) = unit_factor(
        &var,
        sf.field.units.as_deref(),
        a.obs_scale,
        &a.obs,
        "--obs-var",
    )?;
    let f = &sf.field;
    let same = same_axis(&f.lat, &bg.lat, false) && same_axis(&f.lon, &bg.lon, true);
    let values = if same {
        f.values.clone()
    } else if a.remap == Some(Remap::Bilinear) {
        remap_bilinear(f, &bg.lat, &bg.lon).with_context(|| {
            format!(
                "remapping the image {} ({}) to the background grid ({})",
                a.obs.display(),
                describe_grid(&f.lat, &f.lon),
                describe_grid(&bg.lat, &bg.lon)
            )
        })?
    } else {
        bail!(
            "the grids differ: background {} is on {}, image {} '{var}' on {}; give --remap bilinear \
             to interpolate the image to the background grid",
            a.background[0].display(),
            describe_grid(&bg.lat, &bg.lon),
            a.obs.display(),
            describe_grid(&f.lat, &f.lon)
        )
    };
    Ok(Observed {
        var,
        values: values.iter().map(|v| v * scale).collect(),
        time: sf.time,
        conversion,
        remapped: !same,
    })
}

/// Bilinear interpolation (`grid::remap`, renormalised over valid pixels) to every cell.
fn remap_bilinear(f: &GriddedField, lat: &[f64], lon: &[f64]) -> anyhow::Result<Vec<f64>> {
    let src = LatLonSource::new(f.lat.clone(), f.lon.clone())?;
    let targets: Vec<(f64, f64)> = lat
        .iter()
        .flat_map(|&y| lon.iter().map(move |&x| (y, x)))
        .collect();
    let w = RemapWeights::new(&src, &targets, RemapMethod::Bilinear)?;
    let s = w.slab();
    let nx = f.n_lon();
    let mut slab = Vec::with_capacity(s.len());
    for j in 0..s.lat_count {
        for i in 0..s.lon_count {
            slab.push(f.values[(s.lat_start + j) * nx + (s.lon_start + i) % nx]);
        }
    }
    Ok(w.apply(&slab)?)
}

/// Ensemble mean per cell (members summed in order; NaN where a member is missing).
fn mean_of(members: &[Vec<f64>]) -> Vec<f64> {
    let n = members.len() as f64;
    (0..members[0].len())
        .map(|i| members.iter().map(|m| m[i]).sum::<f64>() / n)
        .collect()
}

/// Ensemble standard deviation per cell (divisor N − 1).
fn spread_of(members: &[Vec<f64>], mean: &[f64]) -> Vec<f64> {
    let n = members.len();
    (0..mean.len())
        .map(|i| {
            let s: f64 = members.iter().map(|m| (m[i] - mean[i]).powi(2)).sum();
            (s / (n.max(2) - 1) as f64).sqrt()
        })
        .collect()
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

fn b_variance(a: &Args, bg: &Background, land: &[bool]) -> anyhow::Result<(Vec<f64>, String)> {
    let n = land.len();
    if let Some(path) = &a.b_file {
        let sel = Selector::default();
        let f = read_selected(path, &a.b_var, &sel)?.field;
        if !same_axis(&f.lat, &bg.lat, false) || !same_axis(&f.lon, &bg.lon, true) {
            bail!(
                "{}: '{}' is on {}, the background on {}",
                path.display(),
                a.b_var,
                describe_grid(&f.lat, &f.lon),
                describe_grid(&bg.lat, &bg.lon)
            );
        }
        let missing = (0..n)
            .filter(|&i| land[i] && !(f.values[i].is_finite() && f.values[i] >= 0.0))
            .count();
        if missing > 0 {
            bail!(
                "{}: '{}' is missing or negative on {missing} land cells",
                path.display(),
                a.b_var
            );
        }
        let b = f
            .values
            .iter()
            .map(|s| if s.is_finite() { s * s } else { 0.0 })
            .collect();
        return Ok((
            b,
            format!("file {} variable {} (sd)", path.display(), a.b_var),
        ));
    }
    if let Some(s) = a.b_sd {
        return Ok((vec![s * s; n], format!("constant sd {s}")));
    }
    if bg.members.len() >= 2 {
        let mean = mean_of(&bg.members);
        let sd = spread_of(&bg.members, &mean);
        let b = sd
            .iter()
            .map(|s| {
                if s.is_finite() {
                    a.b_inflation * s * s
                } else {
                    0.0
                }
            })
            .collect();
        return Ok((
            b,
            format!(
                "ensemble variance of {} members x {}",
                bg.members.len(),
                a.b_inflation
            ),
        ));
    }
    Ok((
        vec![DEFAULT_B_SD * DEFAULT_B_SD; n],
        format!("constant sd {DEFAULT_B_SD} (default)"),
    ))
}

fn run_var(
    a: &Args,
    plan: &ImagePlan,
    bg: &Background,
    fo: &[f64],
    land: &[bool],
) -> anyhow::Result<Outcome> {
    let xb = mean_of(&bg.members);
    let (b_var, b_source) = b_variance(a, bg, land)?;
    let input = VarInput {
        background: &xb,
        observed: fo,
        analysed: land,
        b_var: &b_var,
        point_obs: &[],
    };
    let cfg = VarConfig {
        sigma_i: a.error_sd,
        weight: a.weight,
        gap_policy: if a.gap_policy == Gaps::Fill {
            GapPolicy::Fill
        } else {
            GapPolicy::Exclude
        },
        tolerance: a.tolerance,
        max_iter: a.max_iter,
    };
    let mut ws = plan.new_workspace();
    let mut inc = vec![0.0; xb.len()];
    let rep = analyse_var(plan, &input, &cfg, &mut ws, &mut inc)?;
    let analysis = (0..xb.len())
        .map(|i| if land[i] { xb[i] + inc[i] } else { f64::NAN })
        .collect();
    Ok(Outcome {
        analysis,
        b_source,
        var: Some((rep.iterations, rep.stop, rep.cg_iterations)),
        enkf: None,
        kept: rep.kept_units,
        total: rep.total_units,
    })
}

/// Standard-normal fields per member, keyed by (seed, IMAGE stream, member, point):
/// white, or correlated with a Gaussian kernel of `error_corr_km`.
fn normal_fields(a: &Args, bg: &Background) -> anyhow::Result<Vec<Vec<f64>>> {
    let (ny, nx) = (bg.lat.len(), bg.lon.len());
    let n = bg.members.len();
    if a.error_corr_km <= 0.0 {
        return Ok((0..n)
            .map(|m| {
                (0..ny * nx)
                    .map(|p| {
                        keyed_normal(
                            a.seed,
                            IMAGE_STREAM,
                            Purpose::InnovationCell,
                            0,
                            p as u64,
                            m as u64,
                            0,
                        )
                    })
                    .collect()
            })
            .collect());
    }
    let step = |c: &[f64]| {
        if c.len() > 1 {
            ((c[c.len() - 1] - c[0]) / (c.len() - 1) as f64).abs()
        } else {
            1.0
        }
    };
    let mid_lat = 0.5 * (bg.lat[0] + bg.lat[ny - 1]);
    let spec = crate::perturb::SpatialCorrelation::from_lat_lon(
        a.error_corr_km,
        crate::perturb::CovarianceShape::Gaussian,
        ny,
        nx,
        step(&bg.lat),
        step(&bg.lon),
        mid_lat,
    );
    let plan = GaussianFieldPlan::new(&spec)?;
    let mut scratch = crate::perturb::FieldScratch::default();
    let mut out = vec![vec![0.0; ny * nx]; n];
    for (m, f) in out.iter_mut().enumerate() {
        plan.generate(
            a.seed,
            IMAGE_STREAM,
            Purpose::InnovationField,
            0,
            m as u64,
            0,
            f,
            &mut scratch,
        );
    }
    Ok(out)
}

fn run_enkf_like(
    a: &Args,
    plan: &ImagePlan,
    bg: &Background,
    fo: &[f64],
    land: &[bool],
) -> anyhow::Result<Outcome> {
    if bg.members.len() < 2 {
        bail!("--method enkf_like needs an ensemble: a background file with a member dimension or several --background files (got one field)");
    }
    if a.b_sd.is_some() || a.b_file.is_some() {
        bail!("--method enkf_like takes B from the ensemble spread; --b-sd and --b-file are for --method var");
    }
    let normals = normal_fields(a, bg)?;
    let perturbed = perturbed_images(fo, a.error_sd, &normals)?;
    // Members are finite on land by construction; off land they are never read.
    let mut members: Vec<Vec<f64>> = bg.members.clone();
    let fields = EnkfLikeFields {
        observed: fo,
        land,
        analysed: land,
    };
    let cfg = EnkfLikeConfig {
        b_inflation: a.b_inflation,
        update: UpdateCoefficients::Masked,
        max_gain: a.max_gain,
        rtps_alpha: a.rtps_alpha,
    };
    let mut ws = plan.new_workspace();
    let rep = analyse_enkf_like(plan, &fields, &mut members, &perturbed, &cfg, &mut ws)?;
    let xb = mean_of(&bg.members);
    let mean = mean_of(&members);
    let mask = |v: Vec<f64>| -> Vec<f64> {
        v.iter()
            .zip(land)
            .map(|(x, l)| if *l { *x } else { f64::NAN })
            .collect()
    };
    Ok(Outcome {
        analysis: mask(mean.clone()),
        b_source: format!(
            "ensemble variance of {} members x {}",
            members.len(),
            a.b_inflation
        ),
        var: None,
        enkf: Some((
            rep.bands,
            mask(spread_of(&bg.members, &xb)),
            mask(spread_of(&members, &mean)),
        )),
        kept: rep.kept_units,
        total: rep.total_units,
    })
}

/// SCC and RMSE of `x` against the image on the compared cells.
fn scores(x: &[f64], fo: &[f64], cmp: &[bool]) -> (f64, f64) {
    let (xs, os): (Vec<f64>, Vec<f64>) = (0..x.len())
        .filter(|&i| cmp[i])
        .map(|i| (x[i], fo[i]))
        .unzip();
    let scc = crate::verify::pearson(&xs, &os).unwrap_or(f64::NAN);
    let mse = xs
        .iter()
        .zip(&os)
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        / xs.len().max(1) as f64;
    (scc, mse.sqrt())
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

fn nc_err(path: &Path) -> impl Fn(netcdf::Error) -> anyhow::Error + '_ {
    move |e| anyhow::anyhow!("{}: writing NetCDF: {e}", path.display())
}

/// A 2-D (lat, lon) double field with `_FillValue` where NaN.
fn put_map(
    f: &mut netcdf::FileMut,
    path: &Path,
    name: &str,
    long: &str,
    units: Option<&str>,
    v: &[f64],
    time: bool,
) -> anyhow::Result<()> {
    let e = nc_err(path);
    let mut var = f.add_variable::<f64>(name, &["lat", "lon"]).map_err(&e)?;
    var.set_fill_value(FILL).map_err(&e)?;
    var.put_attribute("long_name", long).map_err(&e)?;
    if let Some(u) = units {
        var.put_attribute("units", u).map_err(&e)?;
    }
    if time {
        var.put_attribute("coordinates", "time").map_err(&e)?;
    }
    let vals: Vec<f64> = v
        .iter()
        .map(|x| if x.is_finite() { *x } else { FILL })
        .collect();
    var.put_values(&vals, ..).map_err(&e)?;
    Ok(())
}

fn put_flag_map(
    f: &mut netcdf::FileMut,
    path: &Path,
    name: &str,
    long: &str,
    meanings: &str,
    v: &[bool],
) -> anyhow::Result<()> {
    let e = nc_err(path);
    let mut var = f.add_variable::<i8>(name, &["lat", "lon"]).map_err(&e)?;
    var.put_attribute("long_name", long).map_err(&e)?;
    var.put_attribute("flag_values", vec![0i8, 1i8])
        .map_err(&e)?;
    var.put_attribute("flag_meanings", meanings).map_err(&e)?;
    let vals: Vec<i8> = v.iter().map(|&b| b as i8).collect();
    var.put_values(&vals, ..).map_err(&e)?;
    Ok(())
}

fn put_scalar(
    f: &mut netcdf::FileMut,
    path: &Path,
    name: &str,
    long: &str,
    units: &str,
    v: f64,
) -> anyhow::Result<()> {
    let e = nc_err(path);
    let mut var = f.add_variable::<f64>(name, &[]).map_err(&e)?;
    var.set_fill_value(FILL).map_err(&e)?;
    var.put_attribute("long_name", long).map_err(&e)?;
    var.put_attribute("units", units).map_err(&e)?;
    var.put_value(if v.is_finite() { v } else { FILL }, ..)
        .map_err(&e)?;
    Ok(())
}

fn put_series(
    f: &mut netcdf::FileMut,
    path: &Path,
    dim: &str,
    name: &str,
    long: &str,
    units: &str,
    v: &[f64],
) -> anyhow::Result<()> {
    let e = nc_err(path);
    let mut var = f.add_variable::<f64>(name, &[dim]).map_err(&e)?;
    var.put_attribute("long_name", long).map_err(&e)?;
    var.put_attribute("units", units).map_err(&e)?;
    var.put_values(v, ..).map_err(&e)?;
    Ok(())
}

fn put_axis(
    f: &mut netcdf::FileMut,
    path: &Path,
    name: &str,
    std: &str,
    units: &str,
    axis: &str,
    v: &[f64],
) -> anyhow::Result<()> {
    let e = nc_err(path);
    let mut var = f.add_variable::<f64>(name, &[name]).map_err(&e)?;
    var.put_attribute("standard_name", std).map_err(&e)?;
    var.put_attribute("long_name", std).map_err(&e)?;
    var.put_attribute("units", units).map_err(&e)?;
    var.put_attribute("axis", axis).map_err(&e)?;
    var.put_values(v, ..).map_err(&e)?;
    Ok(())
}

/// Field units for variance-like quantities: CF needs a parseable unit string.
fn squared_units(u: Option<&str>) -> Option<String> {
    u.map(|u| {
        if is_volumetric(u) {
            "1".to_string()
        } else {
            format!("({u})^2")
        }
    })
}

fn is_volumetric(u: &str) -> bool {
    matches!(
        u.replace(' ', "").as_str(),
        "m3m-3" | "m**3m**-3" | "m3/m3" | "1"
    )
}

fn write_output(path: &Path, a: &Args, d: &Diagnostics) -> anyhow::Result<()> {
    let e = nc_err(path);
    let mut f = netcdf::create(path).map_err(&e)?;
    let (bg, out) = (d.bg, d.out);
    let u = bg.units.as_deref();
    f.add_dimension("lat", bg.lat.len()).map_err(&e)?;
    f.add_dimension("lon", bg.lon.len()).map_err(&e)?;
    write_globals(&mut f, path, a, d)?;
    let ht = write_coords(&mut f, path, d)?;
    write_maps(&mut f, path, d, ht)?;
    write_scalars(&mut f, path, d)?;
    if let Some((log, stop, cg)) = &out.var {
        write_var_log(&mut f, path, log, *stop, *cg)?;
    }
    if let Some((bands, s0, s1)) = &out.enkf {
        put_map(
            &mut f,
            path,
            "background_spread",
            "background ensemble standard deviation",
            u,
            s0,
            ht,
        )?;
        put_map(
            &mut f,
            path,
            "analysis_spread",
            "analysis ensemble standard deviation",
            u,
            s1,
            ht,
        )?;
        write_bands(&mut f, path, bands, squared_units(u).as_deref())?;
    }
    Ok(())
}

/// Latitude and longitude axes and, when known, the image's valid time; whether it is known.
fn write_coords(f: &mut netcdf::FileMut, path: &Path, d: &Diagnostics) -> anyhow::Result<bool> {
    let e = nc_err(path);
    let (bg, obs) = (d.bg, d.obs);
    put_axis(f, path, "lat", "latitude", "degrees_north", "Y", &bg.lat)?;
    put_axis(f, path, "lon", "longitude", "degrees_east", "X", &bg.lon)?;
    let time = obs.time.or(bg.time);
    if let Some(t) = time {
        let mut v = f.add_variable::<f64>("time", &[]).map_err(&e)?;
        v.put_attribute("standard_name", "time").map_err(&e)?;
        v.put_attribute("long_name", "valid time of the observed image")
            .map_err(&e)?;
        v.put_attribute("units", "seconds since 1970-01-01 00:00:00")
            .map_err(&e)?;
        v.put_attribute("calendar", "standard").map_err(&e)?;
        v.put_value(t.and_utc().timestamp() as f64, ..)
            .map_err(&e)?;
    }
    Ok(time.is_some())
}

/// The gridded fields: image, background, analysis, increment, innovation and masks.
fn write_maps(
    f: &mut netcdf::FileMut,
    path: &Path,
    d: &Diagnostics,
    ht: bool,
) -> anyhow::Result<()> {
    let (bg, obs, out) = (d.bg, d.obs, d.out);
    let u = bg.units.as_deref();
    let xb = mean_of(&bg.members);
    let inc: Vec<f64> = out.analysis.iter().zip(&xb).map(|(x, b)| x - b).collect();
    let innov: Vec<f64> = (0..xb.len())
        .map(|i| {
            if d.cmp[i] {
                obs.values[i] - xb[i]
            } else {
                f64::NAN
            }
        })
        .collect();
    put_map(
        f,
        path,
        "background",
        "background (ensemble mean)",
        u,
        &xb,
        ht,
    )?;
    put_map(
        f,
        path,
        "analysis",
        "analysis (ensemble mean)",
        u,
        &out.analysis,
        ht,
    )?;
    put_map(
        f,
        path,
        "increment",
        "analysis increment (analysis - background)",
        u,
        &inc,
        ht,
    )?;
    put_map(
        f,
        path,
        "observed_image",
        "observed image on the background grid",
        u,
        &obs.values,
        ht,
    )?;
    put_map(
        f,
        path,
        "innovation",
        "innovation (image - background) on compared cells",
        u,
        &innov,
        ht,
    )?;
    put_flag_map(
        f,
        path,
        "land_mask",
        "analysed cells (finite background)",
        "not_land land",
        d.land,
    )?;
    put_flag_map(
        f,
        path,
        "image_mask",
        "land cells with a valid image pixel (compared)",
        "no_image image",
        d.cmp,
    )?;
    Ok(())
}

/// Scores against the image and the mask's size.
fn write_scalars(f: &mut netcdf::FileMut, path: &Path, d: &Diagnostics) -> anyhow::Result<()> {
    let (bg, out) = (d.bg, d.out);
    let u = bg.units.as_deref();
    let su = u.unwrap_or("1");
    put_scalar(
        f,
        path,
        "scc_background",
        "spatial correlation of background and image",
        "1",
        d.scc.0,
    )?;
    put_scalar(
        f,
        path,
        "scc_analysis",
        "spatial correlation of analysis and image",
        "1",
        d.scc.1,
    )?;
    put_scalar(
        f,
        path,
        "rmse_background",
        "RMSE of background against image",
        su,
        d.rmse.0,
    )?;
    put_scalar(
        f,
        path,
        "rmse_analysis",
        "RMSE of analysis against image",
        su,
        d.rmse.1,
    )?;
    put_scalar(
        f,
        path,
        "compared_cells",
        "cells compared (land with a valid image pixel)",
        "1",
        d.n_cmp as f64,
    )?;
    put_scalar(
        f,
        path,
        "kept_coefficients",
        "curvelet coefficient units kept by the image mask",
        "1",
        out.kept as f64,
    )?;
    put_scalar(
        f,
        path,
        "total_coefficients",
        "curvelet coefficient units of the extended grid",
        "1",
        out.total as f64,
    )?;
    Ok(())
}

fn write_globals(
    f: &mut netcdf::FileMut,
    path: &Path,
    a: &Args,
    d: &Diagnostics,
) -> anyhow::Result<()> {
    let e = nc_err(path);
    let files: Vec<String> = a
        .background
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let method = match a.method {
        Method::Var => "var",
        Method::EnkfLike => "enkf_like",
    };
    let attrs: Vec<(&str, String)> = vec![
        ("Conventions", "CF-1.8".into()),
        ("title", format!("landcycle image analysis ({method})")),
        ("source", format!("landcycle {}", env!("CARGO_PKG_VERSION"))),
        ("history", std::env::args().collect::<Vec<_>>().join(" ")),
        ("method", method.into()),
        ("background_files", files.join(" ")),
        ("background_variable", d.bg.var.clone()),
        ("background_selection", d.bg.selection.join(", ")),
        ("background_members", d.bg.members.len().to_string()),
        ("observation_file", a.obs.display().to_string()),
        ("observation_variable", d.obs.var.clone()),
        ("observation_conversion", d.obs.conversion.clone()),
        (
            "observation_remapped",
            if d.obs.remapped {
                "bilinear"
            } else {
                "no (same grid)"
            }
            .into(),
        ),
        ("b_source", d.out.b_source.clone()),
        ("periodic_lon", d.periodic.to_string()),
        ("gap_policy", format!("{:?}", a.gap_policy).to_lowercase()),
    ];
    for (k, v) in attrs {
        f.add_attribute(k, v.as_str()).map_err(&e)?;
    }
    let nums: [(&str, f64); 5] = [
        ("error_sd", a.error_sd),
        ("keep_fraction", a.keep_fraction),
        ("weight", a.weight),
        ("b_inflation", a.b_inflation),
        ("error_corr_km", a.error_corr_km),
    ];
    for (k, v) in nums {
        f.add_attribute(k, v).map_err(&e)?;
    }
    Ok(())
}

fn write_var_log(
    f: &mut netcdf::FileMut,
    path: &Path,
    log: &[IterLog],
    stop: StopReason,
    cg: usize,
) -> anyhow::Result<()> {
    let e = nc_err(path);
    f.add_dimension("iteration", log.len()).map_err(&e)?;
    {
        let mut v = f
            .add_variable::<i32>("iteration", &["iteration"])
            .map_err(&e)?;
        v.put_attribute("long_name", "CG iteration (0 = background)")
            .map_err(&e)?;
        v.put_attribute("units", "1").map_err(&e)?;
        let it: Vec<i32> = log.iter().map(|l| l.iteration as i32).collect();
        v.put_values(&it, ..).map_err(&e)?;
    }
    let col = |g: fn(&IterLog) -> f64| log.iter().map(g).collect::<Vec<f64>>();
    put_series(
        f,
        path,
        "iteration",
        "cost",
        "cost function J",
        "1",
        &col(|l| l.cost),
    )?;
    put_series(
        f,
        path,
        "iteration",
        "grad_norm",
        "norm of the gradient of J with respect to the increment",
        "1",
        &col(|l| l.grad_norm),
    )?;
    put_series(
        f,
        path,
        "iteration",
        "grad_norm_control",
        "norm of the gradient of J in control space (CG residual)",
        "1",
        &col(|l| l.grad_norm_control),
    )?;
    let mut v = f.add_variable::<i8>("stop_reason", &[]).map_err(&e)?;
    v.put_attribute("long_name", "why the minimisation stopped")
        .map_err(&e)?;
    v.put_attribute("flag_values", vec![0i8, 1, 2])
        .map_err(&e)?;
    v.put_attribute("flag_meanings", "converged max_iter zero_rhs")
        .map_err(&e)?;
    v.put_attribute("cg_iterations", cg as i32).map_err(&e)?;
    let code = match stop {
        StopReason::Converged => 0i8,
        StopReason::MaxIter => 1,
        StopReason::ZeroRhs => 2,
    };
    v.put_value(code, ..).map_err(&e)?;
    Ok(())
}

fn write_bands(
    f: &mut netcdf::FileMut,
    path: &Path,
    bands: &[BandStats],
    vu: Option<&str>,
) -> anyhow::Result<()> {
    let e = nc_err(path);
    f.add_dimension("band", bands.len()).map_err(&e)?;
    let col = |g: fn(&BandStats) -> f64| bands.iter().map(g).collect::<Vec<f64>>();
    let vu = vu.unwrap_or("1");
    put_series(
        f,
        path,
        "band",
        "band_scale",
        "curvelet scale of the band (0 = coarsest)",
        "1",
        &col(|b| b.scale as f64),
    )?;
    put_series(
        f,
        path,
        "band",
        "band_angle",
        "angle index of the band within its scale",
        "1",
        &col(|b| b.angle as f64),
    )?;
    put_series(
        f,
        path,
        "band",
        "band_mean_b",
        "mean background variance per coefficient",
        vu,
        &col(|b| b.mean_b),
    )?;
    put_series(
        f,
        path,
        "band",
        "band_mean_r",
        "mean image error variance per coefficient",
        vu,
        &col(|b| b.mean_r),
    )?;
    put_series(
        f,
        path,
        "band",
        "band_mean_gain",
        "mean gain over the updated coefficients",
        "1",
        &col(|b| b.mean_gain),
    )?;
    put_series(
        f,
        path,
        "band",
        "band_updated",
        "updated real coefficients",
        "1",
        &col(|b| b.updated as f64),
    )?;
    Ok(())
}
