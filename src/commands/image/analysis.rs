//! The analysis of `landcycle image`: B, the variational and the EnKF-like method, scores.

use super::*;

/// Ensemble mean per cell (members summed in order; NaN where a member is missing).
pub(super) fn mean_of(members: &[Vec<f64>]) -> Vec<f64> {
    let n = members.len() as f64;
    (0..members[0].len())
        .map(|i| members.iter().map(|m| m[i]).sum::<f64>() / n)
        .collect()
}

/// Ensemble standard deviation per cell (divisor N − 1).
pub(super) fn spread_of(members: &[Vec<f64>], mean: &[f64]) -> Vec<f64> {
    let n = members.len();
    (0..mean.len())
        .map(|i| {
            let s: f64 = members.iter().map(|m| (m[i] - mean[i]).powi(2)).sum();
            (s / (n.max(2) - 1) as f64).sqrt()
        })
        .collect()
}

pub(super) fn b_variance(
    a: &Args,
    bg: &Background,
    land: &[bool],
) -> anyhow::Result<(Vec<f64>, String)> {
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

pub(super) fn run_var(
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
pub(super) fn normal_fields(a: &Args, bg: &Background) -> anyhow::Result<Vec<Vec<f64>>> {
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

pub(super) fn run_enkf_like(
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
pub(super) fn scores(x: &[f64], fo: &[f64], cmp: &[bool]) -> (f64, f64) {
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
