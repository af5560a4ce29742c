//! Preconditioned linear conjugate gradients for the symmetric positive definite systems
//! of the variational analysis. In place on caller-provided vectors (no allocation), dot
//! products summed in index order (deterministic on any number of ranks or threads).

use super::ImageError;

/// Why CG stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// ‖r_k‖ ≤ tolerance · ‖r_0‖.
    Converged,
    /// The iteration limit was reached first.
    MaxIter,
    /// The right-hand side is zero: the solution is zero, no iteration needed.
    ZeroRhs,
}

/// The five vectors CG works on, each at least as long as the system.
pub(super) struct CgVectors<'a> {
    pub x: &'a mut [f64],
    pub r: &'a mut [f64],
    pub z: &'a mut [f64],
    pub p: &'a mut [f64],
    pub q: &'a mut [f64],
}

/// Stopping rule.
#[derive(Clone, Copy, Debug)]
pub(super) struct CgStop {
    pub tolerance: f64,
    pub max_iter: usize,
}

pub(super) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Solve A x = b from x₀ = 0 with the diagonal preconditioner `m_inv` ≈ diag(A)⁻¹.
/// `apply(p, q)` sets q = A p. After every iteration k (and once for k = 0)
/// `observe(k, x, r)` sees the iterate and its residual r = b − A x (= −∇ of the
/// quadratic ½xᵀAx − bᵀx). Returns the stop reason and the iteration count.
pub(super) fn pcg<F, O>(
    mut apply: F,
    b: &[f64],
    m_inv: &[f64],
    v: CgVectors<'_>,
    stop: CgStop,
    mut observe: O,
) -> Result<(StopReason, usize), ImageError>
where
    F: FnMut(&[f64], &mut [f64]) -> Result<(), ImageError>,
    O: FnMut(usize, &[f64], &[f64]),
{
    let CgVectors { x, r, z, p, q } = v;
    x.fill(0.0);
    r.copy_from_slice(b);
    observe(0, x, r);
    let r0 = dot(r, r).sqrt();
    if r0 == 0.0 {
        return Ok((StopReason::ZeroRhs, 0));
    }
    precondition(m_inv, r, z);
    p.copy_from_slice(z);
    let mut rz = dot(r, z);
    for k in 1..=stop.max_iter {
        apply(p, q)?;
        let alpha = rz / dot(p, q);
        for i in 0..x.len() {
            x[i] += alpha * p[i];
            r[i] -= alpha * q[i];
        }
        observe(k, x, r);
        if dot(r, r).sqrt() <= stop.tolerance * r0 {
            return Ok((StopReason::Converged, k));
        }
        precondition(m_inv, r, z);
        let rz_new = dot(r, z);
        let beta = rz_new / rz;
        rz = rz_new;
        for i in 0..p.len() {
            p[i] = z[i] + beta * p[i];
        }
    }
    Ok((StopReason::MaxIter, stop.max_iter))
}

fn precondition(m_inv: &[f64], r: &[f64], z: &mut [f64]) {
    for ((zi, ri), mi) in z.iter_mut().zip(r).zip(m_inv) {
        *zi = ri * mi;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A 3×3 SPD system solved in ≤ 3 iterations to round-off (CG's finite termination).
    #[test]
    fn solves_small_spd_system() {
        let a = [[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]];
        let b = [1.0, 2.0, 3.0];
        let m_inv = [0.25, 1.0 / 3.0, 0.5];
        let mut bufs = [[0.0; 3]; 5];
        let [x, r, z, p, q] = &mut bufs;
        let v = CgVectors { x, r, z, p, q };
        let stop = CgStop {
            tolerance: 1e-14,
            max_iter: 10,
        };
        let apply = |p: &[f64], q: &mut [f64]| {
            for i in 0..3 {
                q[i] = (0..3).map(|j| a[i][j] * p[j]).sum();
            }
            Ok(())
        };
        let (why, k) = pcg(apply, &b, &m_inv, v, stop, |_, _, _| {}).unwrap();
        assert_eq!(why, StopReason::Converged);
        assert!(k <= 4);
        let x = bufs[0];
        for i in 0..3 {
            let ax: f64 = (0..3).map(|j| a[i][j] * x[j]).sum();
            assert!((ax - b[i]).abs() < 1e-12);
        }
    }
}
