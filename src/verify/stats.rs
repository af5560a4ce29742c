//! Small statistics used by the per-cell metrics and triple collocation: sample moments,
//! Pearson and Spearman correlation, the Fisher-z confidence interval, the two-sided
//! Student-t p-value (through the regularised incomplete beta function) and medians.
//! Written from the textbook formulas (Press et al., Numerical Recipes, ch. 6), no copies.

/// Standard normal quantile z₀.₉₇₅ for 95 % two-sided intervals.
pub const Z_975: f64 = 1.959_963_984_540_054;

/// Mean of a slice (NaN when empty).
pub fn mean(x: &[f64]) -> f64 {
    if x.is_empty() {
        return f64::NAN;
    }
    x.iter().sum::<f64>() / x.len() as f64
}

/// Median of the finite values (NaN when there are none).
pub fn median(x: &[f64]) -> f64 {
    let mut v: Vec<f64> = x.iter().copied().filter(|v| v.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    }
}

/// Population covariance (divisor n) of two equally long series.
pub fn cov_pop(a: &[f64], b: &[f64]) -> f64 {
    let (ma, mb) = (mean(a), mean(b));
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - ma) * (y - mb))
        .sum::<f64>()
        / a.len() as f64
}

/// Pearson correlation of two equally long, finite series; None with fewer than 3 values or
/// (numerically) zero variance.
pub fn pearson_r(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len();
    if n < 3 || b.len() != n {
        return None;
    }
    let (ma, mb) = (mean(a), mean(b));
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    let tiny = |s: f64, m: f64| s <= 1e-24 * n as f64 * (1.0 + m * m);
    if tiny(saa, ma) || tiny(sbb, mb) {
        return None;
    }
    Some((sab / (saa * sbb).sqrt()).clamp(-1.0, 1.0))
}

/// Ranks 1..n with ties given their average rank.
pub fn ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&i, &j| x[i].total_cmp(&x[j]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// Spearman rank correlation (Pearson correlation of the tie-averaged ranks).
pub fn spearman_rho(a: &[f64], b: &[f64]) -> Option<f64> {
    pearson_r(&ranks(a), &ranks(b))
}

/// 95 % confidence interval of a Pearson r from n pairs by the Fisher z transform:
/// tanh(atanh r ∓ z₀.₉₇₅ / √(n − 3)). NaN bounds for n ≤ 3.
pub fn fisher_ci95(r: f64, n: usize) -> (f64, f64) {
    if n <= 3 || !r.is_finite() {
        return (f64::NAN, f64::NAN);
    }
    let z = r.clamp(-1.0, 1.0).atanh();
    let h = Z_975 / ((n - 3) as f64).sqrt();
    ((z - h).tanh(), (z + h).tanh())
}

/// Two-sided p-value of H₀: ρ = 0 for a Pearson r from n pairs: t = r √((n−2)/(1−r²)) with
/// n − 2 degrees of freedom, p = I_{ν/(ν+t²)}(ν/2, 1/2). NaN for n ≤ 2.
pub fn pearson_p_value(r: f64, n: usize) -> f64 {
    if n <= 2 || !r.is_finite() {
        return f64::NAN;
    }
    let r2 = (r * r).min(1.0);
    if r2 >= 1.0 {
        return 0.0;
    }
    // ν/(ν + t²) with t² = ν r²/(1 − r²) is exactly 1 − r².
    reg_inc_beta((n - 2) as f64 / 2.0, 0.5, 1.0 - r2)
}

/// Two-sided p-value of a Student t statistic with `df` degrees of freedom.
pub fn student_t_two_sided(t: f64, df: f64) -> f64 {
    if !t.is_finite() || df <= 0.0 {
        return f64::NAN;
    }
    reg_inc_beta(df / 2.0, 0.5, df / (df + t * t))
}

/// ln Γ(x) for x > 0 (Lanczos approximation, g = 7, 9 terms; relative error ~1e-15).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
        let s = (std::f64::consts::PI * x).sin();
        return std::f64::consts::PI.ln() - s.abs().ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Regularised incomplete beta function I_x(a, b), by the continued fraction (modified
/// Lentz), using the symmetry I_x(a,b) = 1 − I_{1−x}(b,a) where it converges faster.
pub fn reg_inc_beta(a: f64, b: f64, x: f64) -> f64 {
    if !(0.0..=1.0).contains(&x) || a <= 0.0 || b <= 0.0 {
        return f64::NAN;
    }
    if x == 0.0 || x == 1.0 {
        return x;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_cf(a, b, x) / a
    } else {
        1.0 - ln_front.exp() * beta_cf(b, a, 1.0 - x) / b
    }
}

fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=500 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-16 {
            break;
        }
    }
    h
}
