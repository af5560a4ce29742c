//! Tridiagonal solver shared by the soil heat and soil water equations.

use super::constants::NSOIL;

/// Solves `a[k] x[k-1] + b[k] x[k] + c[k] x[k+1] = d[k]` (a[0], c[N-1] ignored) by
/// forward elimination and back substitution; returns x.
#[inline]
pub fn solve(
    a: &[f64; NSOIL],
    b: &[f64; NSOIL],
    c: &[f64; NSOIL],
    d: &[f64; NSOIL],
) -> [f64; NSOIL] {
    let mut p = [0.0; NSOIL];
    let mut delta = [0.0; NSOIL];
    let mut cc = *c;
    cc[NSOIL - 1] = 0.0;
    p[0] = -cc[0] / b[0];
    delta[0] = d[0] / b[0];
    for k in 1..NSOIL {
        let r = 1.0 / (b[k] + a[k] * p[k - 1]);
        p[k] = -cc[k] * r;
        delta[k] = (d[k] - a[k] * delta[k - 1]) * r;
    }
    p[NSOIL - 1] = delta[NSOIL - 1];
    for k in (0..NSOIL - 1).rev() {
        p[k] = p[k] * p[k + 1] + delta[k];
    }
    p
}
