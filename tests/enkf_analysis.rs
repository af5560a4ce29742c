#![allow(clippy::needless_range_loop)] // small dense matrices read best with indices
//! The 1-D EnKF against the exact Kalman update (linear-Gaussian) and joint versus
//! sequential assimilation of two sensors.

use landcycle::da::enkf::{analyse, mean_and_spread, LinearObs, Mode};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

fn normals(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| StandardNormal.sample(&mut rng)).collect()
}

/// Background: 4 layers with a known covariance B = L Lᵀ, sampled with N members.
fn background(n: usize, seed: u64) -> (Vec<f64>, [[f64; 4]; 4], [f64; 4]) {
    let mean = [0.25, 0.27, 0.30, 0.32];
    let sd = [0.04, 0.03, 0.02, 0.015];
    let rho = [
        [1.0, 0.6, 0.4, 0.2],
        [0.6, 1.0, 0.6, 0.4],
        [0.4, 0.6, 1.0, 0.6],
        [0.2, 0.4, 0.6, 1.0],
    ];
    let mut b = [[0.0; 4]; 4];
    for i in 0..4 {
        for j in 0..4 {
            b[i][j] = rho[i][j] * sd[i] * sd[j];
        }
    }
    // Cholesky of B.
    let mut l = [[0.0f64; 4]; 4];
    for i in 0..4 {
        for j in 0..=i {
            let mut s = b[i][j];
            for k in 0..j {
                s -= l[i][k] * l[j][k];
            }
            l[i][j] = if i == j { s.sqrt() } else { s / l[j][j] };
        }
    }
    let z = normals(n * 4, seed);
    let mut ens = vec![0.0; n * 4];
    for m in 0..n {
        for i in 0..4 {
            ens[m * 4 + i] = mean[i] + (0..=i).map(|k| l[i][k] * z[m * 4 + k]).sum::<f64>();
        }
    }
    (ens, b, mean)
}

fn sample_cov(ens: &[f64], n: usize) -> [[f64; 4]; 4] {
    let (mean, _) = mean_and_spread(ens, n, 4);
    let mut c = [[0.0; 4]; 4];
    for m in 0..n {
        for i in 0..4 {
            for j in 0..4 {
                c[i][j] += (ens[m * 4 + i] - mean[i]) * (ens[m * 4 + j] - mean[j]) / (n - 1) as f64;
            }
        }
    }
    c
}

/// Exact Kalman update with a top-layer observation: returns analysis mean and covariance.
fn kalman(mean: &[f64; 4], b: &[[f64; 4]; 4], y: f64, r: f64) -> ([f64; 4], [[f64; 4]; 4]) {
    let s = b[0][0] + r;
    let k: Vec<f64> = (0..4).map(|i| b[i][0] / s).collect();
    let mut ma = [0.0; 4];
    let mut pa = [[0.0; 4]; 4];
    for i in 0..4 {
        ma[i] = mean[i] + k[i] * (y - mean[0]);
        for j in 0..4 {
            pa[i][j] = b[i][j] - k[i] * b[0][j];
        }
    }
    (ma, pa)
}

#[test]
fn matches_exact_kalman_update_with_1000_members() {
    let n = 1000;
    let (mut ens, _b_true, _) = background(n, 11);
    // Compare with the Kalman update of the ensemble's own (sample) background statistics
    // and, more loosely, of the true ones: both are what "within 3 %" means for N = 1000.
    let b = sample_cov(&ens, n);
    let (m0, _) = mean_and_spread(&ens, n, 4);
    let mean0 = [m0[0], m0[1], m0[2], m0[3]];
    let y = 0.31;
    let r = 0.02f64.powi(2);
    let obs = [LinearObs {
        value: y,
        error_var: r,
        weights: vec![1.0, 0.0, 0.0, 0.0],
    }];
    let diag = analyse(&mut ens, n, 4, &obs, &normals(n, 99), Mode::Joint).unwrap();
    let (ma_ref, pa_ref) = kalman(&mean0, &b, y, r);
    let (ma, _) = mean_and_spread(&ens, n, 4);
    let pa = sample_cov(&ens, n);
    for i in 0..4 {
        let inc_ref = ma_ref[i] - mean0[i];
        let inc = ma[i] - mean0[i];
        assert!(
            (inc - inc_ref).abs() <= 0.03 * inc_ref.abs(),
            "layer {i}: increment {inc} vs {inc_ref}"
        );
        for j in 0..4 {
            let scale = (pa_ref[i][i] * pa_ref[j][j]).sqrt();
            assert!(
                (pa[i][j] - pa_ref[i][j]).abs() <= 0.03 * scale,
                "cov[{i}][{j}] {} vs {}",
                pa[i][j],
                pa_ref[i][j]
            );
        }
    }
    assert!((diag.innovation[0] - (y - mean0[0])).abs() < 1e-15);
    assert!(diag.spread_after[0] < diag.spread_before[0]);
    println!(
        "increment top layer {:.5} (exact {:.5}); analysis sd {:.5} (exact {:.5})",
        ma[0] - mean0[0],
        ma_ref[0] - mean0[0],
        pa[0][0].sqrt(),
        pa_ref[0][0].sqrt()
    );
}

#[test]
fn matches_kalman_with_true_statistics_within_sampling_error() {
    let n = 1000;
    let (mut ens, b, mean) = background(n, 5);
    let y = 0.20;
    let r = 0.02f64.powi(2);
    let obs = [LinearObs {
        value: y,
        error_var: r,
        weights: vec![1.0, 0.0, 0.0, 0.0],
    }];
    analyse(&mut ens, n, 4, &obs, &normals(n, 6), Mode::Joint).unwrap();
    let (ma_ref, pa_ref) = kalman(&mean, &b, y, r);
    let (ma, _) = mean_and_spread(&ens, n, 4);
    let pa = sample_cov(&ens, n);
    for i in 0..4 {
        // Means within 3 % of the background sd; variances within ~3 sampling sd (√(2/N) ≈ 4.5 %).
        assert!(
            (ma[i] - ma_ref[i]).abs()
                < 0.03 * b[i][i].sqrt() + 3.0 * (pa_ref[i][i] / n as f64).sqrt()
        );
        assert!(
            (pa[i][i] / pa_ref[i][i] - 1.0).abs() < 0.15,
            "var {i}: {} vs {}",
            pa[i][i],
            pa_ref[i][i]
        );
    }
}

#[test]
fn joint_and_sequential_agree_to_round_off() {
    for &n in &[20usize, 100] {
        let (ens0, _, _) = background(n, 21);
        // SMAP-like (top layer) and ASCAT-like (a weighted top-two-layer operator).
        let obs = [
            LinearObs {
                value: 0.30,
                error_var: 0.02f64.powi(2),
                weights: vec![1.0, 0.0, 0.0, 0.0],
            },
            LinearObs {
                value: 0.22,
                error_var: 0.035f64.powi(2),
                weights: vec![0.8, 0.2, 0.0, 0.0],
            },
        ];
        let z = normals(n * 2, 7);
        let mut a = ens0.clone();
        let mut s = ens0.clone();
        let da = analyse(&mut a, n, 4, &obs, &z, Mode::Joint).unwrap();
        let ds = analyse(&mut s, n, 4, &obs, &z, Mode::Sequential).unwrap();
        let maxdiff = a
            .iter()
            .zip(&s)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        assert!(
            maxdiff < 1e-13,
            "N={n}: joint vs sequential differ by {maxdiff}"
        );
        assert_eq!(da.innovation, ds.innovation);
        // The update moved the ensemble (the test could fail).
        let moved = a
            .iter()
            .zip(&ens0)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        assert!(moved > 1e-3);
    }
}
