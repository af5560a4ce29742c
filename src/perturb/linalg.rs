//! Small dense symmetric linear algebra for cross-correlation matrices (n ≤ ~10).
//!
//! The eigen-decomposition uses the cyclic Jacobi method: a sequence of plane rotations,
//! each zeroing one off-diagonal pair, swept until the off-diagonal mass is at round-off.
//! It is unconditionally stable, accurate to round-off for small symmetric matrices, and
//! deterministic (fixed sweep order), which is all the perturbation factor needs.

/// Eigenvalues (ascending) and eigenvectors (columns of a row-major n×n matrix) of the
/// symmetric matrix `a` (row-major n×n). Only the symmetric part of `a` is meaningful.
pub fn symmetric_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    assert_eq!(a.len(), n * n, "matrix must be n×n");
    let mut m = a.to_vec();
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let total: f64 = m.iter().map(|x| x * x).sum::<f64>();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[i * n + j] * m[i * n + j])
            .sum();
        if off <= 1e-30 * total || off == 0.0 {
            break;
        }
        for p in 0..n {
            for q in (p + 1)..n {
                let apq = m[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (m[q * n + q] - m[p * n + p]) / (2.0 * apq);
                // Smaller root of t² + 2θt − 1 = 0 keeps the rotation angle ≤ π/4.
                let t = if theta.is_infinite() {
                    0.0
                } else {
                    theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt())
                };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                // A ← A J (columns p, q), then A ← Jᵀ A (rows p, q); V ← V J.
                for k in 0..n {
                    let akp = m[k * n + p];
                    let akq = m[k * n + q];
                    m[k * n + p] = c * akp - s * akq;
                    m[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let apk = m[p * n + k];
                    let aqk = m[q * n + k];
                    m[p * n + k] = c * apk - s * aqk;
                    m[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let vkp = v[k * n + p];
                    let vkq = v[k * n + q];
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    // Sort ascending (stable, deterministic), permuting eigenvector columns along.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| m[i * n + i].total_cmp(&m[j * n + j]));
    let values: Vec<f64> = order.iter().map(|&i| m[i * n + i]).collect();
    let mut vectors = vec![0.0; n * n];
    for (newc, &oldc) in order.iter().enumerate() {
        for r in 0..n {
            vectors[r * n + newc] = v[r * n + oldc];
        }
    }
    (values, vectors)
}

/// Symmetric square root S = V Λ^½ Vᵀ of a symmetric positive semi-definite matrix given its
/// eigen-decomposition; S Sᵀ = S² = C. The symmetric root is independent of the sign and
/// order ambiguity of eigenvectors, and is exactly the identity for C = I.
pub fn symmetric_sqrt(values: &[f64], vectors: &[f64], n: usize) -> Vec<f64> {
    let mut s = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            let mut acc = 0.0;
            for (k, &lam) in values.iter().enumerate() {
                acc += vectors[i * n + k] * lam.max(0.0).sqrt() * vectors[j * n + k];
            }
            s[i * n + j] = acc;
        }
    }
    s
}

/// y = A x for a row-major n×n matrix.
#[inline]
pub fn mat_vec(a: &[f64], x: &[f64], y: &mut [f64]) {
    let n = x.len();
    for (i, yi) in y.iter_mut().enumerate() {
        let row = &a[i * n..(i + 1) * n];
        *yi = row.iter().zip(x).map(|(r, v)| r * v).sum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconstructs_matrix() {
        let c = [1.0, -0.5, -0.8, -0.5, 1.0, 0.5, -0.8, 0.5, 1.0];
        let (l, v) = symmetric_eigen(&c, 3);
        assert!(l[0] <= l[1] && l[1] <= l[2]);
        for i in 0..3 {
            for j in 0..3 {
                let r: f64 = (0..3).map(|k| v[i * 3 + k] * l[k] * v[j * 3 + k]).sum();
                assert!((r - c[i * 3 + j]).abs() < 1e-14, "{i} {j} {r}");
            }
        }
        let s = symmetric_sqrt(&l, &v, 3);
        for i in 0..3 {
            for j in 0..3 {
                let r: f64 = (0..3).map(|k| s[i * 3 + k] * s[j * 3 + k]).sum();
                assert!((r - c[i * 3 + j]).abs() < 1e-14);
            }
        }
        // Trace equals the sum of eigenvalues.
        assert!((l.iter().sum::<f64>() - 3.0).abs() < 1e-14);
    }

    #[test]
    fn identity_is_exact() {
        let c = [1.0, 0.0, 0.0, 1.0];
        let (l, v) = symmetric_eigen(&c, 2);
        let s = symmetric_sqrt(&l, &v, 2);
        assert_eq!(s, vec![1.0, 0.0, 0.0, 1.0]);
    }
}
