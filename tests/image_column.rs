//! Deeper soil layers of the image analysis by per-cell column regression
//! (`deep_layers = 'regression'`, `da::image::column_regression`): the analytic limits.
//! - after a perturbed-observation EnKF update of the top layer, the two-step update of a
//!   deeper layer equals the joint EnKF update of (x¹, xˡ) with H = [1 0], member by member;
//! - a deeper layer that is an exact linear function of the top layer per cell stays that
//!   function after any top-layer increment;
//! - the mean increment of the deeper layer is β times the top layer's, per cell;
//! - no top spread, ocean, or no top increment: no deep increment; bad sizes are refused;
//! - the sampling-error correction of the deep regressions (`deep_shrinkage = 'sampling'`):
//!   its closed form, no change for an exactly correlated layer (per cell and per curvelet
//!   coefficient), and most of the update of an independent layer removed;
//! - RTPS of a deep layer's increments (α = 1 restores the prior spread, α = 0 changes
//!   nothing, the mean stays).

use landcycle::da::image::{
    column_increment, column_regression, column_regression_with, rtps_increments,
    sampling_shrinkage, CrossShrinkage, EnkfLikeConfig, EnkfLikeFields, EnkfLikeGain, ImageError,
    ImageOptions, ImagePlan, Workspace,
};

/// A small deterministic generator (the test needs no particular distribution).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) - 0.5
    }
}

/// Members of a top and a correlated deeper layer on `cells` cells.
fn ensemble(n: usize, cells: usize, seed: u64) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let mut r = Lcg(seed);
    let top: Vec<Vec<f64>> = (0..n)
        .map(|_| (0..cells).map(|_| 0.25 + 0.08 * r.next()).collect())
        .collect();
    let deep = top
        .iter()
        .map(|t| {
            t.iter()
                .enumerate()
                .map(|(c, x)| 0.2 + (0.3 + 0.1 * c as f64) * x + 0.03 * r.next())
                .collect()
        })
        .collect();
    (top, deep)
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn cov(a: &[f64], b: &[f64]) -> f64 {
    let (ma, mb) = (mean(a), mean(b));
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - ma) * (y - mb))
        .sum::<f64>()
        / (a.len() as f64 - 1.0)
}

#[test]
fn two_step_regression_equals_the_joint_enkf_update() {
    let (n, cells, r) = (20, 7, 0.03_f64.powi(2));
    let (top, deep) = ensemble(n, cells, 11);
    let mut g = Lcg(5);
    let y: Vec<f64> = (0..cells).map(|_| 0.25 + 0.1 * g.next()).collect();
    let eps: Vec<Vec<f64>> = (0..n)
        .map(|_| (0..cells).map(|_| 0.03 * 3.4 * g.next()).collect())
        .collect();
    let beta = column_regression(&top, &deep).unwrap();
    let mut top_inc = vec![vec![0.0; cells]; n];
    let mut joint = deep.clone();
    for c in 0..cells {
        let x1: Vec<f64> = top.iter().map(|m| m[c]).collect();
        let xl: Vec<f64> = deep.iter().map(|m| m[c]).collect();
        let (v1, c1l) = (cov(&x1, &x1), cov(&x1, &xl));
        assert!((beta[c] - c1l / v1).abs() < 1e-12);
        for i in 0..n {
            let d = y[c] + eps[i][c] - x1[i];
            top_inc[i][c] = v1 / (v1 + r) * d; // scalar EnKF of the top layer
            joint[i][c] += c1l / (v1 + r) * d; // joint gain of the deeper layer, H = [1 0]
        }
    }
    for i in 0..n {
        let mut d = vec![0.0; cells];
        column_increment(&beta, &top_inc[i], &mut d).unwrap();
        for c in 0..cells {
            let two_step = deep[i][c] + d[c];
            assert!(
                (two_step - joint[i][c]).abs() < 1e-12,
                "member {i} cell {c}: {two_step} vs {}",
                joint[i][c]
            );
        }
    }
}

#[test]
fn a_linear_column_stays_linear_and_the_mean_moves_by_beta() {
    let (n, cells) = (20, 9);
    let (top, _) = ensemble(n, cells, 3);
    let a: Vec<f64> = (0..cells).map(|c| 0.2 + 0.15 * c as f64).collect();
    let b: Vec<f64> = (0..cells).map(|c| 0.05 + 0.01 * c as f64).collect();
    let deep: Vec<Vec<f64>> = top
        .iter()
        .map(|t| (0..cells).map(|c| a[c] * t[c] + b[c]).collect())
        .collect();
    let beta = column_regression(&top, &deep).unwrap();
    let mut r = Lcg(9);
    let mut mean_top = vec![0.0; cells];
    let mut mean_deep = vec![0.0; cells];
    for t in &top {
        let inc: Vec<f64> = (0..cells).map(|_| 0.05 * r.next()).collect();
        let mut d = vec![0.0; cells];
        column_increment(&beta, &inc, &mut d).unwrap();
        for c in 0..cells {
            let deep_after = a[c] * t[c] + b[c] + d[c];
            assert!((deep_after - (a[c] * (t[c] + inc[c]) + b[c])).abs() < 1e-12);
            mean_top[c] += inc[c] / n as f64;
            mean_deep[c] += d[c] / n as f64;
        }
    }
    for c in 0..cells {
        assert!(
            (beta[c] - a[c]).abs() < 1e-10,
            "cell {c}: {} vs {}",
            beta[c],
            a[c]
        );
        assert!((mean_deep[c] - beta[c] * mean_top[c]).abs() < 1e-14);
    }
}

#[test]
fn no_spread_no_increment_ocean_and_bad_sizes() {
    let (top, deep) = ensemble(5, 4, 7);
    let mut flat = top.clone();
    flat.iter_mut().for_each(|m| m[1] = 0.3); // no spread at cell 1
    flat[2][3] = f64::NAN; // ocean at cell 3 (one member is enough)
    let beta = column_regression(&flat, &deep).unwrap();
    assert_eq!(beta[1], 0.0);
    assert_eq!(beta[3], 0.0);
    assert!(beta[0] != 0.0 && beta[2] != 0.0);
    let mut d = vec![9.0; 4];
    column_increment(&beta, &[0.0, 0.1, f64::NAN, 0.1], &mut d).unwrap();
    assert_eq!(d, vec![0.0, 0.0, 0.0, 0.0]);
    assert!(matches!(
        column_regression(&top[..1], &deep[..1]),
        Err(ImageError::TooFewMembers(1))
    ));
    assert!(matches!(
        column_regression(&top, &deep[..4]),
        Err(ImageError::MemberCount { .. })
    ));
    let short = vec![vec![0.1; 3]; 5];
    assert!(matches!(
        column_regression(&top, &short),
        Err(ImageError::SizeMismatch { .. })
    ));
    assert!(matches!(
        column_increment(&beta, &[0.1; 3], &mut d),
        Err(ImageError::SizeMismatch { .. })
    ));
}

#[test]
fn sampling_shrinkage_closed_form() {
    assert_eq!(sampling_shrinkage(0.0, 20), 0.0);
    assert_eq!(sampling_shrinkage(1.0, 20), 1.0);
    assert_eq!(sampling_shrinkage(0.5, 2), 0.0);
    assert_eq!(sampling_shrinkage(f64::NAN, 20), 0.0);
    // r = 0.5, N = 20: t² = 18·0.25/0.75 = 6, factor 5/6.
    assert!((sampling_shrinkage(0.25, 20) - 5.0 / 6.0).abs() < 1e-15);
    // |t| = 1 exactly: r² = 1/(N − 1).
    assert!(sampling_shrinkage(1.0 / 19.0, 20).abs() < 1e-15);
    assert_eq!(sampling_shrinkage(0.01, 20), 0.0);
    // more members, same r: less shrinkage.
    assert!(sampling_shrinkage(0.1, 200) > sampling_shrinkage(0.1, 20));
}

#[test]
fn column_shrinkage_keeps_an_exact_column_and_drops_an_unrelated_one() {
    let (n, cells) = (20, 40);
    let (top, _) = ensemble(n, cells, 21);
    let exact: Vec<Vec<f64>> = top
        .iter()
        .map(|t| t.iter().map(|x| 0.1 + 0.7 * x).collect())
        .collect();
    let plain = column_regression(&top, &exact).unwrap();
    let shrunk = column_regression_with(&top, &exact, CrossShrinkage::SamplingError).unwrap();
    for c in 0..cells {
        assert!((plain[c] - shrunk[c]).abs() < 1e-12);
    }
    let mut r = Lcg(99);
    let unrelated: Vec<Vec<f64>> = (0..n)
        .map(|_| (0..cells).map(|_| 0.3 + 0.05 * r.next()).collect())
        .collect();
    let plain = column_regression(&top, &unrelated).unwrap();
    let shrunk = column_regression_with(&top, &unrelated, CrossShrinkage::SamplingError).unwrap();
    let sum2 = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>();
    let zeroed = shrunk.iter().filter(|&&b| b == 0.0).count();
    // Under independence P(|t| <= 1) is about 2/3 at N = 20.
    assert!(zeroed > cells / 3, "{zeroed} of {cells} zeroed");
    assert!(sum2(&shrunk) < 0.5 * sum2(&plain));
    for (p, s) in plain.iter().zip(&shrunk) {
        assert!(s.abs() <= p.abs() && s * p >= 0.0);
    }
}

/// Members on a 16 × 20 all-land grid: a smooth random field per member.
fn field_members(n: usize, ny: usize, nx: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut r = Lcg(seed);
    (0..n)
        .map(|_| {
            let (a, b, ph) = (r.next(), r.next(), 6.0 * r.next());
            (0..ny * nx)
                .map(|c| {
                    let (j, i) = ((c / nx) as f64, (c % nx) as f64);
                    0.25 + 0.04 * a * (0.3 * i + ph).sin()
                        + 0.03 * b * (0.4 * j).cos()
                        + 0.01 * r.next()
                })
                .collect()
        })
        .collect()
}

#[test]
fn coefficient_shrinkage_keeps_an_exact_layer_and_damps_an_unrelated_one() {
    let (ny, nx, n) = (16, 20, 20);
    let cells = ny * nx;
    let plan = ImagePlan::new(ny, nx, &ImageOptions::default()).unwrap();
    let mut ws = plan.new_workspace();
    let top = field_members(n, ny, nx, 1);
    let mut r = Lcg(2);
    let perturbed: Vec<Vec<f64>> = (0..n)
        .map(|_| (0..cells).map(|_| 0.3 + 0.04 * 3.4 * r.next()).collect())
        .collect();
    let fo = vec![0.3; cells];
    let all = vec![true; cells];
    let fields = EnkfLikeFields {
        observed: &fo,
        land: &all,
        analysed: &all,
    };
    let cfg = EnkfLikeConfig::default();
    let gain = EnkfLikeGain::estimate(&plan, &fields, &top, &perturbed, &cfg, &mut ws).unwrap();
    let update = |deep: &[Vec<f64>], s: CrossShrinkage, ws: &mut Workspace| {
        let mut d = deep.to_vec();
        gain.update_deep_layer_with(&plan, &fo, &top, &mut d, &perturbed, s, ws)
            .unwrap();
        d.iter()
            .zip(deep)
            .flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| x - y).collect::<Vec<_>>())
            .collect::<Vec<f64>>()
    };
    // An exactly proportional layer: every coefficient has r² = 1, nothing is shrunk.
    let exact: Vec<Vec<f64>> = top
        .iter()
        .map(|t| t.iter().map(|x| 0.5 * x + 0.1).collect())
        .collect();
    let plain = update(&exact, CrossShrinkage::None, &mut ws);
    let shrunk = update(&exact, CrossShrinkage::SamplingError, &mut ws);
    let scale = plain.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    assert!(scale > 1e-4);
    for (p, s) in plain.iter().zip(&shrunk) {
        assert!((p - s).abs() < 1e-12 * scale.max(1.0), "{p} vs {s}");
    }
    // An unrelated layer: the sampled cross-gains are noise and mostly removed.
    let unrelated = field_members(n, ny, nx, 77);
    let plain = update(&unrelated, CrossShrinkage::None, &mut ws);
    let shrunk = update(&unrelated, CrossShrinkage::SamplingError, &mut ws);
    let sum2 = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>();
    assert!(sum2(&plain) > 0.0);
    assert!(
        sum2(&shrunk) < 0.5 * sum2(&plain),
        "{} vs {}",
        sum2(&shrunk),
        sum2(&plain)
    );
}

#[test]
fn deep_layer_rtps_restores_spread_and_keeps_the_mean() {
    let (n, cells) = (20, 6);
    let (top, deep) = ensemble(n, cells, 41);
    let beta = column_regression(&deep, &top).unwrap();
    // Increments that shrink the anomalies (as an analysis does) on cells 0..5; cell 5 untouched.
    let inc: Vec<Vec<f64>> = deep
        .iter()
        .map(|m| {
            (0..cells)
                .map(|c| {
                    let mean = deep.iter().map(|x| x[c]).sum::<f64>() / n as f64;
                    if c == 5 {
                        0.0
                    } else {
                        -0.6 * (m[c] - mean) + 0.01 * beta[c]
                    }
                })
                .collect()
        })
        .collect();
    let stats = |inc: &[Vec<f64>], c: usize| {
        let x: Vec<f64> = deep.iter().zip(inc).map(|(m, d)| m[c] + d[c]).collect();
        (mean(&x), cov(&x, &x).sqrt())
    };
    let mut zero = inc.clone();
    rtps_increments(&deep, &mut zero, 0.0).unwrap();
    assert_eq!(zero, inc);
    let mut full = inc.clone();
    rtps_increments(&deep, &mut full, 1.0).unwrap();
    let mut half = inc.clone();
    rtps_increments(&deep, &mut half, 0.5).unwrap();
    for c in 0..5 {
        let sd_b = cov(
            &deep.iter().map(|m| m[c]).collect::<Vec<_>>(),
            &deep.iter().map(|m| m[c]).collect::<Vec<_>>(),
        )
        .sqrt();
        let (m0, s0) = stats(&inc, c);
        let (m1, s1) = stats(&full, c);
        let (mh, sh) = stats(&half, c);
        assert!((m1 - m0).abs() < 1e-14 && (mh - m0).abs() < 1e-14);
        assert!((s1 - sd_b).abs() < 1e-12, "cell {c}: {s1} vs {sd_b}");
        assert!((sh - (s0 + 0.5 * (sd_b - s0))).abs() < 1e-12);
    }
    assert!(full.iter().all(|d| d[5] == 0.0));
    assert!(rtps_increments(&deep[..1], &mut full[..1].to_vec(), 0.5).is_err());
}
