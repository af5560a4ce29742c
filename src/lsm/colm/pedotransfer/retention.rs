//! The 7 estimates of the air-entry (saturated) potential ψ_s (cm, negative) and the
//! pore-size distribution index λ = 1/B of the Clapp–Hornberger / Brooks–Corey retention
//! curve ψ = ψ_s (θ/θ_s)^(−1/λ) (Dai et al. 2013, Table 3), with θ_s the ensemble porosity.
//! Estimates with λ ∉ (0, 1] or ψ_s ∉ [−300, 0) cm are dropped.

use super::porosity::{
    in_saxton_1986_domain, in_saxton_rawls_domain, saxton_1986_theta_s, saxton_rawls_2006,
};
use super::Soil;

/// Geometric mean diameter (mm) and geometric standard deviation of the particle sizes
/// (Shirazi & Boersma 1984), class means 1.025 (sand), 0.026 (silt), 0.001 mm (clay).
pub(crate) fn particle_size(s: &Soil) -> (f64, f64) {
    let l = [1.025f64.ln(), 0.026f64.ln(), 0.001f64.ln()];
    let f = [s.sand / 100.0, s.silt / 100.0, s.clay / 100.0];
    let mean = l[0] * f[0] + l[1] * f[1] + l[2] * f[2];
    let second = l[0] * l[0] * f[0] + l[1] * l[1] * f[1] + l[2] * l[2] * f[2];
    (mean.exp(), (second - mean * mean).sqrt().exp())
}

/// Rawls & Brakensiek's regression of the Brooks–Corey λ on sand, clay (%) and porosity
/// (Rawls et al. 1998).
pub(crate) fn rawls_lambda(s: &Soil, phi: f64) -> f64 {
    let (sa, cl) = (s.sand, s.clay);
    (-0.7842831 + 0.0177544 * sa - 1.062498 * phi - 0.00005304 * sa * sa - 0.00273493 * cl * cl
        + 1.11134946 * phi * phi
        - 0.03088295 * sa * phi
        + 0.00026587 * (sa * phi) * (sa * phi)
        - 0.00610522 * (cl * phi) * (cl * phi)
        - 0.00000235 * sa * sa * cl
        + 0.00798746 * cl * cl * phi
        - 0.0067449 * cl * phi * phi)
        .exp()
}

/// Rawls & Brakensiek's bubbling pressure (cm).
fn rawls_bubbling(s: &Soil, phi: f64) -> f64 {
    let (sa, cl) = (s.sand, s.clay);
    (5.3396738 + 0.1845038 * cl
        - 2.48394546 * phi
        - 0.00213853 * cl * cl
        - 0.04356349 * sa * phi
        - 0.61745089 * cl * phi
        + 0.00143598 * (sa * phi) * (sa * phi)
        - 0.00855375 * (cl * phi) * (cl * phi)
        - 0.00001282 * sa * sa * cl
        + 0.00895359 * cl * cl * phi
        - 0.00072472 * sa * sa * phi
        + 0.0000054 * cl * cl * sa
        + 0.5002806 * cl * phi * phi)
        .exp()
}

fn saxton_1986(s: &Soil) -> (Option<f64>, Option<f64>) {
    if !in_saxton_1986_domain(s) {
        return (None, None);
    }
    let (sa, cl) = (s.sand, s.clay);
    let lambda = 1.0 / (3.14 + 0.00222 * cl * cl + 0.00003484 * sa * sa * cl);
    // Air entry in kPa from the published A, B form, then cm (1 kPa ≈ 10 cm).
    let a = (-4.396 - 0.0715 * cl - 0.000488 * sa * sa - 0.00004285 * sa * sa * cl).exp();
    let kpa = -(100.0 * a / saxton_1986_theta_s(s).powf(1.0 / lambda));
    (Some(10.0 * kpa), Some(lambda))
}

fn campbell_shiozawa_1992(s: &Soil) -> (f64, f64) {
    let (dg, sg) = particle_size(s);
    let lambda = 1.0 / (1.0 / dg.sqrt() + 0.2 * sg);
    let h_es = 0.05 / dg.sqrt();
    let h_b = h_es * (s.bd / 1.3).powf(0.67 / lambda);
    (-100.0 * h_b, lambda)
}

fn mayr_jarvis_1999(s: &Soil) -> (Option<f64>, Option<f64>) {
    if !(s.soc < 5.0 || s.bd > 0.9) {
        return (None, None);
    }
    let (sa, si, cl, oc, bd) = (s.sand, s.silt, s.clay, s.soc, s.bd);
    let psi = -10f64.powf(
        -4.9840297533 + 0.0509226283 * sa + 0.1575152771 * si + 0.1240901644 * bd
            - 0.1640033143 * oc
            - 0.0021767278 * si * si
            + 0.00001438224 * si * si * si
            + 0.0008040715 * cl * cl
            + 0.0044067117 * oc * oc,
    );
    let lambda = 10f64.powf(
        -0.8466880654 - 0.0046806123 * sa + 0.0092463819 * si
            - 0.4542769707 * bd
            - 0.0497915563 * oc
            + 3.294687e-04 * sa * sa
            - 1.689056e-06 * sa * sa * sa
            + 0.0011225373 * oc * oc,
    );
    (Some(psi), Some(lambda))
}

fn saxton_rawls_2006_curve(s: &Soil) -> (Option<f64>, Option<f64>) {
    if !in_saxton_rawls_domain(s) {
        return (None, None);
    }
    let (t33, ts33, t1500) = saxton_rawls_2006(s);
    let (t33, ts33, t1500) = (t33.max(1e-6), ts33.max(0.001), t1500.max(0.001));
    let ts = (t33 + ts33 - 0.097 * s.sand / 100.0 + 0.043).max(0.001);
    if ts <= ts33 || ts <= t1500 || ts33 <= t1500 {
        return (None, None);
    }
    let lambda = ((t33.ln() - t1500.ln()) / (1500f64.ln() - 33f64.ln())).max(0.1);
    // The curve through θ_33 at 33 kPa, extended to θ_s; kPa → cm.
    let psi = -10.0 * (33f64.ln() + 1.0 / lambda * t33.ln()).exp() / ts.powf(1.0 / lambda);
    (Some(psi), Some(lambda))
}

/// ψ_s (cm) and λ estimates in Dai et al.'s order, given the porosity `phi`.
pub(crate) fn estimates(s: &Soil, phi: f64) -> ([Option<f64>; 7], [Option<f64>; 7]) {
    // Cosby et al. (1984) univariate and multivariate regressions.
    let cosby_uni = (
        -10f64.powf(1.88 - 0.013 * s.sand),
        1.0 / (2.91 + 0.159 * s.clay),
    );
    let cosby_multi = (
        -10f64.powf(1.54 - 0.0095 * s.sand + 0.0063 * s.silt),
        1.0 / (3.10 + 0.157 * s.clay - 0.003 * s.sand),
    );
    let cs = campbell_shiozawa_1992(s);
    let rb = (-rawls_bubbling(s, phi), rawls_lambda(s, phi));
    let pairs = [
        (Some(cosby_uni.0), Some(cosby_uni.1)),
        (Some(cosby_multi.0), Some(cosby_multi.1)),
        saxton_1986(s),
        (Some(cs.0), Some(cs.1)),
        (Some(rb.0), Some(rb.1)),
        mayr_jarvis_1999(s),
        saxton_rawls_2006_curve(s),
    ];
    let psi = pairs.map(|p| p.0.filter(|&v| (-300.0..0.0).contains(&v)));
    let lambda = pairs.map(|p| p.1.filter(|&v| v > 0.0 && v <= 1.0));
    (psi, lambda)
}
