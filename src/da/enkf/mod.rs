//! One-dimensional (per grid cell) ensemble Kalman filter with perturbed observations.
//!
//! Pure math over small arrays: an ensemble of `N` state vectors of length `n` (the soil
//! layers of one cell), `m` observations of that cell with linear operators `H` (weights
//! over the layers), diagonal observation error `R`.
//!
//! Update (SCIENCE.md §5): `P_xy = X′Y′ᵀ/(N−1)`, `P_yy = Y′Y′ᵀ/(N−1)`,
//! `K = P_xy (P_yy + R)⁻¹`, `x_i ← x_i + K (y + ε_i − H x_i)`.
//!
//! The observation perturbations ε_i are built from caller-supplied standard normal
//! deviates (drawn from keyed streams, so results do not depend on the decomposition). They
//! are de-meaned and, when the ensemble is large enough (`N > n + m + 1`), made orthogonal
//! to the state anomalies and to each other and rescaled so that their sample variance is
//! exactly `R`. The sample covariance of the perturbed predicted observations is then
//! exactly `P_yy + R` with no spurious cross terms, which (i) gives the analysis ensemble
//! exactly the Kalman covariance `(I − KH)P` and (ii) makes sequential assimilation of
//! several observations identical to joint assimilation up to round-off for a linear `H`.
//! With smaller ensembles the perturbations are only de-meaned and scaled.

use thiserror::Error;

/// Errors of the EnKF analysis (inconsistent dimensions or non-physical inputs).
#[derive(Debug, Error, PartialEq)]
pub enum EnkfError {
    #[error("ensemble has {got} values, expected {members} members × {state} state = {expected}")]
    EnsembleShape {
        got: usize,
        members: usize,
        state: usize,
        expected: usize,
    },
    #[error("need at least 2 members, got {0}")]
    TooFewMembers(usize),
    #[error("observation {index}: operator has {got} weights, state has {state}")]
    OperatorShape {
        index: usize,
        got: usize,
        state: usize,
    },
    #[error("observation {index}: error variance {value} must be positive and finite")]
    ErrorVariance { index: usize, value: f64 },
    #[error("observation {index}: value {value} is not finite")]
    ObsValue { index: usize, value: f64 },
    #[error("expected {expected} standard normal deviates (members × observations), got {got}")]
    Normals { got: usize, expected: usize },
    #[error("innovation covariance is not positive definite")]
    Singular,
}

/// One observation of a cell with a linear observation operator.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearObs {
    /// Observed value (bias corrected, in state units).
    pub value: f64,
    /// Observation error variance R.
    pub error_var: f64,
    /// Weights of the observation operator over the state vector (`H x = Σ w_k x_k`).
    pub weights: Vec<f64>,
}

/// How several observations of one cell are assimilated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Stacked observation vector, diagonal R, one update.
    Joint,
    /// One observation after another, each updating the ensemble.
    Sequential,
}

/// Diagnostics of one analysis, one entry per observation (in input order) or state element.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Diagnostics {
    /// Innovation y − H x̄ against the background.
    pub innovation: Vec<f64>,
    /// Innovation normalised by √(H P Hᵀ + R).
    pub normalized_innovation: Vec<f64>,
    /// Background variance in observation space H P Hᵀ.
    pub hpht: Vec<f64>,
    /// Ensemble mean increment per state element.
    pub mean_increment: Vec<f64>,
    /// Ensemble standard deviation per state element before the update.
    pub spread_before: Vec<f64>,
    /// Ensemble standard deviation per state element after the update.
    pub spread_after: Vec<f64>,
}

/// Mean and standard deviation (N−1) per state element of a member-major ensemble.
pub fn mean_and_spread(ens: &[f64], n_members: usize, n_state: usize) -> (Vec<f64>, Vec<f64>) {
    let mut mean = vec![0.0; n_state];
    for m in 0..n_members {
        for k in 0..n_state {
            mean[k] += ens[m * n_state + k];
        }
    }
    mean.iter_mut().for_each(|v| *v /= n_members as f64);
    let mut var = vec![0.0; n_state];
    for m in 0..n_members {
        for k in 0..n_state {
            let d = ens[m * n_state + k] - mean[k];
            var[k] += d * d;
        }
    }
    let denom = (n_members.max(2) - 1) as f64;
    let sd = var.iter().map(|v| (v / denom).sqrt()).collect();
    (mean, sd)
}

/// Relaxation to prior spread (RTPS, Whitaker and Hamill 2012): per state element, scale the
/// analysis deviations from the analysis mean so that the spread becomes
/// (1 − α) σ_a + α σ_b. α = 0 leaves the analysis alone; α = 1 restores the background spread.
/// The ensemble mean is unchanged. Counteracts the spread collapse of a small ensemble under
/// repeated updates with a model-error model that adds too little spread.
pub fn relax_to_prior_spread(
    analysis: &mut [f64],
    background: &[f64],
    n_members: usize,
    n_state: usize,
    alpha: f64,
) {
    if alpha <= 0.0 || n_members < 2 {
        return;
    }
    let (_, sd_b) = mean_and_spread(background, n_members, n_state);
    let (mean_a, sd_a) = mean_and_spread(analysis, n_members, n_state);
    for k in 0..n_state {
        if sd_a[k] <= 0.0 || !sd_a[k].is_finite() || !sd_b[k].is_finite() {
            continue;
        }
        let factor = 1.0 + alpha * (sd_b[k] - sd_a[k]) / sd_a[k];
        for m in 0..n_members {
            let x = &mut analysis[m * n_state + k];
            *x = mean_a[k] + factor * (*x - mean_a[k]);
        }
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Observation perturbations ε (member-major, `N × m`) from standard normal deviates.
fn perturbations(
    ens: &[f64],
    n_members: usize,
    n_state: usize,
    obs: &[LinearObs],
    normals: &[f64],
) -> Vec<f64> {
    let m = obs.len();
    let n = n_members;
    // Columns as N-vectors.
    let mut cols: Vec<Vec<f64>> = (0..m)
        .map(|j| (0..n).map(|i| normals[i * m + j]).collect())
        .collect();
    // Basis to orthogonalise against: the constant vector and the state anomalies.
    let orthogonal = n > n_state + m + 1;
    let mut basis: Vec<Vec<f64>> = Vec::new();
    let ones = vec![1.0 / (n as f64).sqrt(); n];
    basis.push(ones);
    if orthogonal {
        for k in 0..n_state {
            let v: Vec<f64> = (0..n).map(|i| ens[i * n_state + k]).collect();
            push_orthonormal(&mut basis, v);
        }
    }
    for (j, col) in cols.iter_mut().enumerate() {
        for b in &basis {
            let c = dot(col, b);
            col.iter_mut().zip(b).for_each(|(x, y)| *x -= c * y);
        }
        if orthogonal {
            // Re-orthogonalise once for numerical safety (classical Gram-Schmidt twice).
            for b in &basis {
                let c = dot(col, b);
                col.iter_mut().zip(b).for_each(|(x, y)| *x -= c * y);
            }
        }
        let ss = dot(col, col) / (n - 1) as f64;
        let scale = if ss > 0.0 {
            (obs[j].error_var / ss).sqrt()
        } else {
            0.0
        };
        col.iter_mut().for_each(|x| *x *= scale);
        if orthogonal {
            push_orthonormal(&mut basis, col.clone());
        }
    }
    let mut out = vec![0.0; n * m];
    for (j, col) in cols.iter().enumerate() {
        for i in 0..n {
            out[i * m + j] = col[i];
        }
    }
    out
}

/// Gram-Schmidt: add the normalised component of `v` orthogonal to `basis` (if not negligible).
fn push_orthonormal(basis: &mut Vec<Vec<f64>>, mut v: Vec<f64>) {
    let norm0 = dot(&v, &v).sqrt();
    for _ in 0..2 {
        for b in basis.iter() {
            let c = dot(&v, b);
            v.iter_mut().zip(b).for_each(|(x, y)| *x -= c * y);
        }
    }
    let norm = dot(&v, &v).sqrt();
    if norm > 1e-12 * norm0.max(f64::MIN_POSITIVE) && norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
        basis.push(v);
    }
}

/// Solve `A z = b` for a symmetric positive definite `A` (row-major `m × m`) by Cholesky.
fn cholesky_solve(a: &[f64], m: usize, b: &mut [f64]) -> Result<(), EnkfError> {
    let mut l = vec![0.0; m * m];
    for i in 0..m {
        for j in 0..=i {
            let mut s = a[i * m + j];
            for k in 0..j {
                s -= l[i * m + k] * l[j * m + k];
            }
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return Err(EnkfError::Singular);
                }
                l[i * m + i] = s.sqrt();
            } else {
                l[i * m + j] = s / l[j * m + j];
            }
        }
    }
    for i in 0..m {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i * m + k] * b[k];
        }
        b[i] = s / l[i * m + i];
    }
    for i in (0..m).rev() {
        let mut s = b[i];
        for k in i + 1..m {
            s -= l[k * m + i] * b[k];
        }
        b[i] = s / l[i * m + i];
    }
    Ok(())
}

/// One joint update of `ens` with the observations `obs` and perturbations `eps` (N × m).
fn update(
    ens: &mut [f64],
    n: usize,
    ns: usize,
    obs: &[LinearObs],
    eps: &[f64],
) -> Result<(), EnkfError> {
    let m = obs.len();
    // Predicted observations per member and their anomalies.
    let mut hx = vec![0.0; n * m];
    for i in 0..n {
        for (j, o) in obs.iter().enumerate() {
            hx[i * m + j] = dot(&ens[i * ns..(i + 1) * ns], &o.weights);
        }
    }
    let (xmean, _) = mean_and_spread(ens, n, ns);
    let (ymean, _) = mean_and_spread(&hx, n, m);
    let denom = (n - 1) as f64;
    let mut pxy = vec![0.0; ns * m];
    let mut pyy = vec![0.0; m * m];
    for i in 0..n {
        for j in 0..m {
            let dy = hx[i * m + j] - ymean[j];
            for k in 0..ns {
                pxy[k * m + j] += (ens[i * ns + k] - xmean[k]) * dy / denom;
            }
            for j2 in 0..m {
                pyy[j * m + j2] += dy * (hx[i * m + j2] - ymean[j2]) / denom;
            }
        }
    }
    for (j, o) in obs.iter().enumerate() {
        pyy[j * m + j] += o.error_var;
    }
    // Per member: z = (P_yy + R)⁻¹ (y + ε_i − H x_i); x_i += P_xy z.
    let mut z = vec![0.0; m];
    for i in 0..n {
        for (j, o) in obs.iter().enumerate() {
            z[j] = o.value + eps[i * m + j] - hx[i * m + j];
        }
        cholesky_solve(&pyy, m, &mut z)?;
        for k in 0..ns {
            let inc: f64 = (0..m).map(|j| pxy[k * m + j] * z[j]).sum();
            ens[i * ns + k] += inc;
        }
    }
    Ok(())
}

/// Analyse one cell: update the member-major ensemble `ens` (`n_members × n_state`) with
/// `obs`, using `normals` (`n_members × obs.len()` standard normal deviates, member-major)
/// for the observation perturbations.
pub fn analyse(
    ens: &mut [f64],
    n_members: usize,
    n_state: usize,
    obs: &[LinearObs],
    normals: &[f64],
    mode: Mode,
) -> Result<Diagnostics, EnkfError> {
    if n_members < 2 {
        return Err(EnkfError::TooFewMembers(n_members));
    }
    if ens.len() != n_members * n_state {
        return Err(EnkfError::EnsembleShape {
            got: ens.len(),
            members: n_members,
            state: n_state,
            expected: n_members * n_state,
        });
    }
    let m = obs.len();
    if normals.len() != n_members * m {
        return Err(EnkfError::Normals {
            got: normals.len(),
            expected: n_members * m,
        });
    }
    for (index, o) in obs.iter().enumerate() {
        if o.weights.len() != n_state {
            return Err(EnkfError::OperatorShape {
                index,
                got: o.weights.len(),
                state: n_state,
            });
        }
        if !(o.error_var > 0.0 && o.error_var.is_finite()) {
            return Err(EnkfError::ErrorVariance {
                index,
                value: o.error_var,
            });
        }
        if !o.value.is_finite() {
            return Err(EnkfError::ObsValue {
                index,
                value: o.value,
            });
        }
    }
    let (mean0, spread_before) = mean_and_spread(ens, n_members, n_state);
    let mut diag = Diagnostics {
        spread_before,
        ..Default::default()
    };
    for o in obs {
        let hx: Vec<f64> = (0..n_members)
            .map(|i| dot(&ens[i * n_state..(i + 1) * n_state], &o.weights))
            .collect();
        let (hm, hs) = mean_and_spread(&hx, n_members, 1);
        let innov = o.value - hm[0];
        let hpht = hs[0] * hs[0];
        diag.innovation.push(innov);
        diag.hpht.push(hpht);
        diag.normalized_innovation
            .push(innov / (hpht + o.error_var).sqrt());
    }
    if m > 0 {
        let eps = perturbations(ens, n_members, n_state, obs, normals);
        match mode {
            Mode::Joint => update(ens, n_members, n_state, obs, &eps)?,
            Mode::Sequential => {
                for j in 0..m {
                    let e: Vec<f64> = (0..n_members).map(|i| eps[i * m + j]).collect();
                    update(ens, n_members, n_state, &obs[j..j + 1], &e)?;
                }
            }
        }
    }
    let (mean1, spread_after) = mean_and_spread(ens, n_members, n_state);
    diag.mean_increment = mean1.iter().zip(&mean0).map(|(a, b)| a - b).collect();
    diag.spread_after = spread_after;
    Ok(diag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};

    fn normals(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| StandardNormal.sample(&mut rng)).collect()
    }

    #[test]
    fn shape_errors_are_reported() {
        let mut ens = vec![0.0; 10];
        let obs = vec![LinearObs {
            value: 0.3,
            error_var: 0.0,
            weights: vec![1.0, 0.0],
        }];
        let e = analyse(&mut ens, 5, 2, &obs, &normals(5, 1), Mode::Joint).unwrap_err();
        assert_eq!(
            e,
            EnkfError::ErrorVariance {
                index: 0,
                value: 0.0
            }
        );
        let e = analyse(&mut ens, 4, 2, &obs, &normals(4, 1), Mode::Joint).unwrap_err();
        assert!(matches!(e, EnkfError::EnsembleShape { .. }));
    }

    #[test]
    fn perturbations_have_exact_variance_and_no_cross_terms() {
        let n = 20;
        let ns = 4;
        let ens = normals(n * ns, 3);
        let obs: Vec<LinearObs> = (0..2)
            .map(|j| LinearObs {
                value: 0.0,
                error_var: 0.5 + j as f64,
                weights: vec![1.0, 0.0, 0.0, 0.0],
            })
            .collect();
        let eps = perturbations(&ens, n, ns, &obs, &normals(n * 2, 4));
        for j in 0..2 {
            let col: Vec<f64> = (0..n).map(|i| eps[i * 2 + j]).collect();
            let mean: f64 = col.iter().sum::<f64>() / n as f64;
            let var: f64 = col.iter().map(|x| x * x).sum::<f64>() / (n - 1) as f64;
            assert!(mean.abs() < 1e-14);
            assert!((var - obs[j].error_var).abs() < 1e-12);
            for k in 0..ns {
                let c: f64 = (0..n).map(|i| col[i] * ens[i * ns + k]).sum();
                assert!(c.abs() < 1e-12, "cross term {c}");
            }
        }
    }
}

#[cfg(test)]
mod rtps_tests {
    use super::*;

    #[test]
    fn rtps_interpolates_spread_and_keeps_the_mean() {
        let (n, ns) = (5, 2);
        let background: Vec<f64> = (0..n * ns).map(|i| (i as f64 * 0.37).sin()).collect();
        // An analysis with half the deviations and a shifted mean.
        let (mb, sb) = mean_and_spread(&background, n, ns);
        let analysis: Vec<f64> = (0..n * ns)
            .map(|i| mb[i % ns] + 0.1 + 0.5 * (background[i] - mb[i % ns]))
            .collect();
        let (ma, sa) = mean_and_spread(&analysis, n, ns);
        for alpha in [0.0, 0.3, 1.0] {
            let mut x = analysis.clone();
            relax_to_prior_spread(&mut x, &background, n, ns, alpha);
            let (m, s) = mean_and_spread(&x, n, ns);
            for k in 0..ns {
                assert!((m[k] - ma[k]).abs() < 1e-14);
                let want = (1.0 - alpha) * sa[k] + alpha * sb[k];
                assert!(
                    (s[k] - want).abs() < 1e-14,
                    "alpha {alpha}: {} vs {want}",
                    s[k]
                );
            }
        }
    }
}
