//! `landcycle curvelet`: compress one gridded field with the curvelet transform (keep the
//! largest fraction σ of coefficients), report how well it is reconstructed, and write the
//! reconstruction (and optionally a PNG). Also `landcycle bench curvelet`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};

use crate::da::curvelet::{
    crop, extend, fill_missing, CoarseTreatment, CurveletOptions, CurveletPlan, Extension,
    FillOptions, Finest, ThresholdMask, WrapSize,
};
use crate::io::gridded::{read_field, write_field, GriddedField, Selection};

/// Arguments of `landcycle curvelet`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Input NetCDF file (CF lat/lon; NetCDF-3 packed or NetCDF-4).
    #[arg(long)]
    pub input: PathBuf,
    /// Variable to read.
    #[arg(long)]
    pub var: String,
    /// Index along the time dimension.
    #[arg(long)]
    pub time_index: Option<usize>,
    /// Latitude window: south north (degrees).
    #[arg(long, num_args = 2, value_names = ["A", "B"], allow_negative_numbers = true)]
    pub lat_range: Option<Vec<f64>>,
    /// Longitude window: west east (degrees; −180..180 or 0..360).
    #[arg(long, num_args = 2, value_names = ["C", "D"], allow_negative_numbers = true)]
    pub lon_range: Option<Vec<f64>>,
    /// Fraction σ ∈ (0, 1] of the largest curvelet coefficients to keep.
    #[arg(long)]
    pub keep: f64,
    /// Output NetCDF file for the reconstruction.
    #[arg(long)]
    pub output: PathBuf,
    /// Optional PNG with original, reconstruction and difference.
    #[arg(long)]
    pub png: Option<PathBuf>,
}

/// Numbers reported by [`compress_field`].
#[derive(Clone, Debug, PartialEq)]
pub struct CompressionReport {
    /// Grid rows × columns of the field.
    pub shape: (usize, usize),
    /// Transformed (extended) shape.
    pub extended_shape: (usize, usize),
    /// Valid (non-missing) cells.
    pub valid_cells: usize,
    /// ‖r − x‖ / ‖x‖ over valid cells.
    pub relative_error: f64,
    /// Root-mean-square error over valid cells.
    pub rmse: f64,
    /// Largest absolute error over valid cells.
    pub max_abs_error: f64,
    /// Pearson correlation of reconstruction and original over valid cells.
    pub correlation: f64,
    /// Kept coefficient units (a cosine/sine pair counts once).
    pub kept_units: usize,
    /// All coefficient units.
    pub total_units: usize,
    /// Kept real coefficients.
    pub kept_values: usize,
    /// All real coefficients.
    pub total_values: usize,
    /// Number of scales.
    pub scales: usize,
}

/// Fill, extend, transform, keep the fraction `keep` of the largest coefficients,
/// reconstruct and crop one field. Missing cells stay missing in the result.
pub fn compress_field(
    field: &GriddedField,
    keep: f64,
) -> anyhow::Result<(GriddedField, CompressionReport)> {
    if !(keep > 0.0 && keep <= 1.0) {
        bail!("--keep {keep}: the kept fraction σ must be in (0, 1]");
    }
    let (n1, n2) = (field.n_lat(), field.n_lon());
    let valid = field.valid_mask();
    let valid_cells = valid.iter().filter(|v| **v).count();
    if valid_cells == 0 {
        bail!(
            "variable '{}' has no valid cell in the selected window",
            field.name
        );
    }
    let periodic = field.is_global_lon();
    let mut filled = field.values.clone();
    fill_missing(
        &mut filled,
        &valid,
        n1,
        n2,
        &FillOptions {
            periodic_lon: periodic,
            ..Default::default()
        },
    )
    .with_context(|| format!("filling missing cells of '{}'", field.name))?;
    let ext = Extension::mirror(n1, n2, periodic);
    let (e1, e2) = ext.extended_shape();
    let big = extend(&filled, &ext)?;
    let plan = CurveletPlan::new(e1, e2, &CurveletOptions::default())
        .with_context(|| format!("curvelet plan for '{}' ({n1}×{n2} cells)", field.name))?;
    let mut ws = plan.new_workspace();
    let mut c = plan.new_coefficients();
    plan.forward(&big, &mut c, &mut ws)?;
    let mask = ThresholdMask::top_fraction(&c, keep, CoarseTreatment::AlwaysKeep)?;
    mask.apply(&mut c)?;
    let mut rec_big = vec![0.0; e1 * e2];
    plan.inverse(&c, &mut rec_big, &mut ws)?;
    let mut rec = crop(&rec_big, &ext)?;
    for (r, v) in rec.iter_mut().zip(&valid) {
        if !v {
            *r = f64::NAN;
        }
    }

    let (mut se, mut sx, mut maxe) = (0.0, 0.0, 0.0f64);
    let (mut mx, mut mr) = (0.0, 0.0);
    for i in 0..n1 * n2 {
        if valid[i] {
            mx += field.values[i];
            mr += rec[i];
        }
    }
    mx /= valid_cells as f64;
    mr /= valid_cells as f64;
    let (mut cxr, mut cxx, mut crr) = (0.0, 0.0, 0.0);
    for i in 0..n1 * n2 {
        if valid[i] {
            let (x, r) = (field.values[i], rec[i]);
            se += (r - x) * (r - x);
            sx += x * x;
            maxe = maxe.max((r - x).abs());
            cxr += (x - mx) * (r - mr);
            cxx += (x - mx) * (x - mx);
            crr += (r - mr) * (r - mr);
        }
    }
    let correlation = if cxx > 0.0 && crr > 0.0 {
        cxr / (cxx * crr).sqrt()
    } else {
        f64::NAN
    };
    let report = CompressionReport {
        shape: (n1, n2),
        extended_shape: (e1, e2),
        valid_cells,
        relative_error: (se / sx.max(f64::MIN_POSITIVE)).sqrt(),
        rmse: (se / valid_cells as f64).sqrt(),
        max_abs_error: maxe,
        correlation,
        kept_units: mask.kept_units(),
        total_units: plan.layout().units,
        kept_values: mask.kept_values(),
        total_values: plan.layout().total,
        scales: plan.n_scales(),
    };
    let mut out = field.clone();
    out.values = rec;
    Ok((out, report))
}

fn selection(args: &Args) -> anyhow::Result<Selection> {
    let pair = |v: &Option<Vec<f64>>, what: &str| -> anyhow::Result<Option<(f64, f64)>> {
        match v {
            None => Ok(None),
            Some(v) if v.len() == 2 && v.iter().all(|x| x.is_finite()) => Ok(Some((v[0], v[1]))),
            Some(v) => bail!("{what} needs two finite numbers, got {v:?}"),
        }
    };
    Ok(Selection {
        time_index: args.time_index,
        lat_range: pair(&args.lat_range, "--lat-range")?,
        lon_range: pair(&args.lon_range, "--lon-range")?,
        indices: Vec::new(),
    })
}

/// Run `landcycle curvelet`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    if !(args.keep > 0.0 && args.keep <= 1.0) {
        bail!(
            "--keep {}: the kept fraction σ must be in (0, 1]",
            args.keep
        );
    }
    let sel = selection(args)?;
    let field = read_field(&args.input, &args.var, &sel)?;
    let (rec, rep) = compress_field(&field, args.keep)
        .with_context(|| format!("{}: variable '{}'", args.input.display(), args.var))?;
    let history = format!(
        "landcycle {} curvelet: {} '{}' keep={} (top {} of {} coefficient units)",
        env!("CARGO_PKG_VERSION"),
        args.input.display(),
        args.var,
        args.keep,
        rep.kept_units,
        rep.total_units
    );
    write_field(&args.output, &rec, &history)?;
    if let Some(png) = &args.png {
        write_png(png, &field, &rec).with_context(|| format!("writing {}", png.display()))?;
    }
    println!(
        "field {} {}x{} (transformed {}x{}, {} scales), {} valid cells",
        args.var,
        rep.shape.0,
        rep.shape.1,
        rep.extended_shape.0,
        rep.extended_shape.1,
        rep.scales,
        rep.valid_cells
    );
    println!(
        "kept {} of {} coefficients ({} of {} real values), sigma = {}",
        rep.kept_units, rep.total_units, rep.kept_values, rep.total_values, args.keep
    );
    println!(
        "reconstruction error: relative {:.6e}, rmse {:.6e}, max {:.6e}",
        rep.relative_error, rep.rmse, rep.max_abs_error
    );
    println!("spatial correlation: {:.6}", rep.correlation);
    Ok(())
}

fn ramp(t: f64) -> (u8, u8, u8) {
    // A perceptually ordered ramp (dark blue → teal → green → yellow).
    const A: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = t.clamp(0.0, 1.0) * 4.0;
    let i = (t.floor() as usize).min(3);
    let f = t - i as f64;
    let m = |a: f64, b: f64| (a + (b - a) * f).round() as u8;
    (
        m(A[i].0, A[i + 1].0),
        m(A[i].1, A[i + 1].1),
        m(A[i].2, A[i + 1].2),
    )
}

fn diverging(t: f64) -> (u8, u8, u8) {
    // −1 blue, 0 white, +1 red.
    let t = t.clamp(-1.0, 1.0);
    if t < 0.0 {
        let f = 1.0 + t;
        ((255.0 * f) as u8, (255.0 * f) as u8, 255)
    } else {
        let f = 1.0 - t;
        (255, (255.0 * f) as u8, (255.0 * f) as u8)
    }
}

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // A failure leaves plotters without a font; titles are then skipped by the caller.
        let _ = plotters::style::register_font(
            "sans-serif",
            plotters::style::FontStyle::Normal,
            dejavu::sans::regular(),
        );
    });
}

/// Three panels: original, reconstruction, difference (north up, missing cells grey).
fn write_png(path: &Path, orig: &GriddedField, rec: &GriddedField) -> anyhow::Result<()> {
    use plotters::prelude::*;
    register_font();
    let (n1, n2) = (orig.n_lat(), orig.n_lon());
    let px = (360 / n2.max(1)).clamp(1, 8) as u32;
    let (pw, ph) = (n2 as u32 * px, n1 as u32 * px);
    let title_h = 28u32;
    let gap = 10u32;
    let width = 3 * pw + 4 * gap;
    let height = ph + title_h + 2 * gap;
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in orig
        .values
        .iter()
        .chain(&rec.values)
        .filter(|v| v.is_finite())
    {
        lo = lo.min(*v);
        hi = hi.max(*v);
    }
    let span = (hi - lo).max(f64::MIN_POSITIVE);
    let dmax = orig
        .values
        .iter()
        .zip(&rec.values)
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .map(|(a, b)| (b - a).abs())
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    let north_up = n1 < 2 || orig.lat[0] > orig.lat[n1 - 1];
    let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let titles = [
        "original".to_string(),
        "reconstruction".to_string(),
        format!("difference (±{dmax:.3e})"),
    ];
    for (panel, title) in titles.iter().enumerate() {
        let x0 = gap + panel as u32 * (pw + gap);
        let y0 = title_h + gap;
        let _ = root.draw(&Text::new(
            title.clone(),
            (x0 as i32, gap as i32 / 2),
            ("sans-serif", 18).into_font(),
        ));
        for r in 0..n1 {
            let src_r = if north_up { r } else { n1 - 1 - r };
            for c in 0..n2 {
                let i = src_r * n2 + c;
                let (a, b) = (orig.values[i], rec.values[i]);
                let rgb = match panel {
                    0 if a.is_finite() => ramp((a - lo) / span),
                    1 if b.is_finite() => ramp((b - lo) / span),
                    2 if a.is_finite() && b.is_finite() => diverging((b - a) / dmax),
                    _ => (190, 190, 190),
                };
                let (x, y) = ((x0 + c as u32 * px) as i32, (y0 + r as u32 * px) as i32);
                let color = RGBColor(rgb.0, rgb.1, rgb.2);
                for dy in 0..px as i32 {
                    for dx in 0..px as i32 {
                        root.draw_pixel((x + dx, y + dy), &color)
                            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                    }
                }
            }
        }
    }
    root.present().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// `landcycle bench curvelet`: single-threaded forward + inverse, median (and fastest) of
/// several runs, plan built outside the timing. Returns a Markdown table.
pub fn bench_curvelet() -> anyhow::Result<String> {
    let cases: [(usize, usize, Finest, WrapSize); 8] = [
        (256, 256, Finest::Wavelets, WrapSize::Smooth),
        (1024, 1024, Finest::Wavelets, WrapSize::Smooth),
        (1440, 600, Finest::Wavelets, WrapSize::Smooth),
        (45, 32, Finest::Wavelets, WrapSize::Smooth),
        (1024, 1024, Finest::Wavelets, WrapSize::Minimal),
        (1440, 600, Finest::Wavelets, WrapSize::Minimal),
        (1024, 1024, Finest::Curvelets, WrapSize::Smooth),
        (1024, 1024, Finest::Curvelets, WrapSize::Minimal),
    ];
    let mut out = String::from(
        "| grid | finest | wraps | scales | redundancy | plan (ms) | forward (ms) | inverse (ms) | forward+inverse (ms) | fastest fwd+inv (ms) | runs |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (n1, n2, finest, wrap) in cases {
        let opts = CurveletOptions {
            finest,
            wrap,
            ..Default::default()
        };
        let t = Instant::now();
        let plan = CurveletPlan::new(n1, n2, &opts)?;
        let plan_ms = t.elapsed().as_secs_f64() * 1e3;
        let mut ws = plan.new_workspace();
        let mut c = plan.new_coefficients();
        let x: Vec<f64> = (0..n1 * n2)
            .map(|i| {
                let (a, b) = ((i / n2) as f64, (i % n2) as f64);
                (a * 0.05).sin() * (b * 0.031).cos() + ((i * 7919) % 101) as f64 * 1e-3
            })
            .collect();
        let mut y = vec![0.0; n1 * n2];
        // Warm-up (page faults, caches).
        plan.forward(&x, &mut c, &mut ws)?;
        plan.inverse(&c, &mut y, &mut ws)?;
        let runs = if n1 * n2 >= 500_000 {
            11
        } else if n1 * n2 >= 50_000 {
            51
        } else {
            501
        };
        let (mut tf, mut ti, mut tt) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let t0 = Instant::now();
            plan.forward(&x, &mut c, &mut ws)?;
            let t1 = Instant::now();
            plan.inverse(&c, &mut y, &mut ws)?;
            let t2 = Instant::now();
            tf.push((t1 - t0).as_secs_f64() * 1e3);
            ti.push((t2 - t1).as_secs_f64() * 1e3);
            tt.push((t2 - t0).as_secs_f64() * 1e3);
        }
        let err = x
            .iter()
            .zip(&y)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        if err > 1e-9 {
            bail!("benchmark {n1}x{n2}: reconstruction error {err}");
        }
        out.push_str(&format!(
            "| {n1}×{n2} | {} | {} | {} | {:.3} | {:.1} | {:.3} | {:.3} | {:.3} | {:.3} | {runs} |\n",
            match finest {
                Finest::Wavelets => "wavelets",
                Finest::Curvelets => "curvelets",
            },
            match wrap {
                WrapSize::Smooth => "7-smooth",
                WrapSize::Minimal => "minimal",
            },
            plan.n_scales(),
            plan.redundancy(),
            plan_ms,
            median(&mut tf),
            median(&mut ti),
            median(&mut tt),
            tt[0],
        ));
    }
    Ok(out)
}
