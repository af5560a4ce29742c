//! Tridiagonal solver (Thomas algorithm) shared by the soil-water and the snow–soil heat
//! equations; the role of CoLM's `tridia`.

/// Solve `a[k] x[k-1] + b[k] x[k] + c[k] x[k+1] = r[k]` for k in 0..n (a[0] and c[n-1] are
/// ignored) into `x`. All slices have the same length n ≥ 1; the system must be diagonally
/// dominant (both heat and water systems are).
pub fn solve(a: &[f64], b: &[f64], c: &[f64], r: &[f64], x: &mut [f64]) {
    let n = b.len();
    debug_assert!(a.len() == n && c.len() == n && r.len() == n && x.len() == n);
    // Forward sweep; gam holds the modified super-diagonal.
    let mut gam = [0.0; 16];
    assert!(
        n <= gam.len(),
        "tridiagonal system larger than a CoLM column"
    );
    let mut bet = b[0];
    x[0] = r[0] / bet;
    for k in 1..n {
        gam[k] = c[k - 1] / bet;
        bet = b[k] - a[k] * gam[k];
        x[k] = (r[k] - a[k] * x[k - 1]) / bet;
    }
    for k in (0..n - 1).rev() {
        x[k] -= gam[k + 1] * x[k + 1];
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn solves_a_known_system() {
        let a = [0.0, -1.0, -1.0, -1.0];
        let b = [4.0, 4.0, 4.0, 4.0];
        let c = [-1.0, -1.0, -1.0, 0.0];
        let x_true = [1.0, -2.0, 3.0, 0.5];
        let r: Vec<f64> = (0..4)
            .map(|k| {
                let lo = if k > 0 { a[k] * x_true[k - 1] } else { 0.0 };
                let hi = if k < 3 { c[k] * x_true[k + 1] } else { 0.0 };
                lo + b[k] * x_true[k] + hi
            })
            .collect();
        let mut x = [0.0; 4];
        super::solve(&a, &b, &c, &r, &mut x);
        for k in 0..4 {
            assert!((x[k] - x_true[k]).abs() < 1e-14);
        }
    }
}
