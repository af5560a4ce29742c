//! Two-stream radiative transfer in a plant canopy: the role of CoLM's `twostream` (Dickinson
//! 1983; Sellers 1985, Int. J. Remote Sens. 6, 1335; the solution as written in the CLM 3.0
//! technical note, Oleson et al. 2004, §3.1, eqs. 3.1–3.18; sunlit/shaded absorption of Dai et
//! al. 2004, J. Climate 17, 2281, appendix).
//!
//! Per waveband and unit incident flux, with cumulative leaf area x from the top (0 … L), the
//! upward and downward diffuse fluxes I↑, I↓ obey
//!   −μ̄ dI↑/dx + b I↑ − c I↓ = d e^{−Kx},   μ̄ dI↓/dx + b I↓ − c I↑ = f e^{−Kx},
//! with b = 1 − ω + ωβ, c = ωβ, d = ω μ̄ K β0, f = ω μ̄ K (1 − β0) (d = f = 0 for diffuse
//! incidence). ω = ρ + τ is the leaf scattering coefficient (live and dead leaves weighted by
//! the green fraction), ωβ = ½(ω + (ρ − τ)((1 + χ_L)/2)²) the diffuse upscatter, β0 = (1 +
//! μ̄K) a_s/(ω μ̄ K) the direct-beam upscatter from the single-scattering albedo a_s(μ), K =
//! G(μ)/μ, G = φ1 + φ2 μ, μ̄ = (1 − φ1/φ2 ln((φ1 + φ2)/φ1))/φ2. Solutions are e^{∓Kx}
//! (particular) and e^{∓hx}, h = √(b² − c²)/μ̄; boundary conditions: no diffuse flux down at
//! the top (direct) or unit flux (diffuse), and I↑(L) = α_g,dif I↓(L) + α_g,dir e^{−KL} at the
//! ground. Sunlit leaves (a fraction e^{−Kx} at depth x) absorb the direct beam, (1 − ω)(1 −
//! e^{−KL}), and (1 − ω)/μ̄ ∫(I↑ + I↓) e^{−Kx} dx of the diffuse light; the shaded leaves the
//! rest of the canopy's absorption 1 − albedo − ground absorption. CoLM2014 lets only leaves
//! (L = LAI) interact with shortwave; stems enter only the longwave gap fraction e^{−(L+S)/μ̄}.

use super::interception::leaf_projection;
use crate::lsm::LsmError;

/// Index of the visible and near-infrared bands, and of direct and diffuse light.
pub const VIS: usize = 0;
/// Near-infrared band index.
pub const NIR: usize = 1;
/// Direct-beam index.
pub const DIR: usize = 0;
/// Diffuse index.
pub const DIF: usize = 1;

/// Leaf optical properties: reflectance and transmittance per band (VIS, NIR) for live
/// (index 0) and dead (index 1) leaves (-).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeafOptics {
    /// Reflectance ρ[band][live/dead].
    pub rho: [[f64; 2]; 2],
    /// Transmittance τ[band][live/dead].
    pub tau: [[f64; 2]; 2],
}

/// The canopy's radiation per unit incident flux, indexed [band][DIR/DIF] (all -).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TwoStream {
    /// Canopy albedo over the given ground.
    pub albv: [[f64; 2]; 2],
    /// Diffuse flux reaching the ground (the direct beam reaching it is e^{−KL}).
    pub tranc: [[f64; 2]; 2],
    /// Absorbed by sunlit leaves.
    pub ssun: [[f64; 2]; 2],
    /// Absorbed by shaded leaves.
    pub ssha: [[f64; 2]; 2],
    /// Direct-beam extinction coefficient K = G(μ)/μ (per unit leaf area).
    pub extkb: f64,
    /// Diffuse extinction coefficient of CoLM (0.719).
    pub extkd: f64,
    /// Longwave gap fraction e^{−(L+S)/μ̄} (exponent kept within [1e-5, 50]).
    pub thermk: f64,
}

/// The equation coefficients of one band (see the module doc).
#[derive(Debug, Clone, Copy)]
struct Coeffs {
    omega: f64,
    b: f64,
    c: f64,
    d: f64,
    f: f64,
    mu: f64,
    k: f64,
    h: f64,
    lai: f64,
}

/// Average inverse diffuse optical depth per unit leaf area μ̄ (Sellers 1985, eq. 13).
pub fn mean_inverse_depth(phi1: f64, phi2: f64) -> f64 {
    if phi1.abs() > 1e-6 && phi2.abs() > 1e-6 {
        (1.0 - phi1 / phi2 * ((phi1 + phi2) / phi1).ln()) / phi2
    } else if phi1.abs() <= 1e-6 {
        1.0 / 0.877
    } else {
        1.0 / (2.0 * phi1)
    }
}

/// Single-scattering albedo a_s(μ) of leaves with scattering coefficient ω (Sellers 1985,
/// eq. 14): ω/2 · G/(G + μφ2) · (1 − μφ1/(G + μφ2) ln((G + μφ1 + μφ2)/(μφ1))).
fn single_scattering(omega: f64, phi1: f64, phi2: f64, mu: f64) -> f64 {
    let g = phi1 + phi2 * mu;
    let q = g + mu * phi2;
    omega / 2.0 * g / q * (1.0 - mu * phi1 / q * ((q + mu * phi1) / (mu * phi1)).ln())
}

fn coeffs(leaf: &LeafOptics, green: f64, chil: f64, lai: f64, coszen: f64, band: usize) -> Coeffs {
    let (phi1, phi2) = leaf_projection(chil);
    let mu = mean_inverse_depth(phi1, phi2);
    let k = (phi1 + phi2 * coszen) / coszen;
    let sum = |v: &[[f64; 2]; 2]| green * v[band][0] + (1.0 - green) * v[band][1];
    let (rho, tau) = (sum(&leaf.rho), sum(&leaf.tau));
    let omega = rho + tau;
    let a_s = single_scattering(omega, phi1, phi2, coszen);
    let c = 0.5 * (omega + (omega - 2.0 * tau) * ((1.0 + chil) / 2.0).powi(2));
    let beta0 = (1.0 + mu * k) / (omega * mu * k) * a_s;
    let b = 1.0 - omega + c;
    Coeffs {
        omega,
        b,
        c,
        d: omega * mu * k * beta0,
        f: omega * mu * k * (1.0 - beta0),
        mu,
        k,
        h: (b * b - c * c).sqrt() / mu,
        lai,
    }
}

/// Flux profile I(x) = a e^{−Kx} + p e^{−hx} + q e^{hx} of I↑ (`up`) and I↓ (`down`).
#[derive(Debug, Clone, Copy)]
struct Profile {
    up: [f64; 3],
    down: [f64; 3],
}

/// Attenuations e^{−KL} and e^{−hL} (exponents capped at 50 as in CoLM).
fn attenuation(s: &Coeffs) -> (f64, f64) {
    (
        (-(s.k * s.lai).min(50.0)).exp(),
        (-(s.h * s.lai).min(50.0)).exp(),
    )
}

/// Homogeneous amplitudes (p, q) of I↑ from the top condition I↓(0) = `top` − (particular
/// part) and the ground condition (linear in p, q with right-hand side `bottom`).
fn homogeneous(s: &Coeffs, albg_dif: f64, top: f64, bottom: f64) -> (f64, f64) {
    let (_, s1) = attenuation(s);
    let (n1, n2) = ((s.b + s.mu * s.h) / s.c, (s.b - s.mu * s.h) / s.c);
    let (m1, m2) = ((1.0 - albg_dif * n1) * s1, (1.0 - albg_dif * n2) / s1);
    // n1 p + n2 q = top;  m1 p + m2 q = bottom (Cramer's rule).
    let det = n1 * m2 - n2 * m1;
    (
        (top * m2 - n2 * bottom) / det,
        (n1 * bottom - top * m1) / det,
    )
}

fn direct_profile(s: &Coeffs, albg: [f64; 2]) -> Profile {
    let (s2, _) = attenuation(s);
    let sigma = (s.mu * s.k).powi(2) + s.c * s.c - s.b * s.b;
    let a_up = -(s.d * (s.b - s.mu * s.k) + s.c * s.f) / sigma;
    let a_dn = -(s.f * (s.b + s.mu * s.k) + s.c * s.d) / sigma;
    let bottom = (albg[DIR] - (a_up - albg[DIF] * a_dn)) * s2;
    let (p, q) = homogeneous(s, albg[DIF], -a_dn, bottom);
    let (n1, n2) = ((s.b + s.mu * s.h) / s.c, (s.b - s.mu * s.h) / s.c);
    Profile {
        up: [a_up, p, q],
        down: [a_dn, n1 * p, n2 * q],
    }
}

fn diffuse_profile(s: &Coeffs, albg_dif: f64) -> Profile {
    let (p, q) = homogeneous(s, albg_dif, 1.0, 0.0);
    let (n1, n2) = ((s.b + s.mu * s.h) / s.c, (s.b - s.mu * s.h) / s.c);
    Profile {
        up: [0.0, p, q],
        down: [0.0, n1 * p, n2 * q],
    }
}

/// ∫_0^L I(x) e^{−Kx} dx of a profile's three terms.
fn sunlit_weighted(s: &Coeffs, v: &[f64; 3]) -> f64 {
    let (s2, s1) = attenuation(s);
    v[0] * (1.0 - s2 * s2) / (2.0 * s.k)
        + v[1] * (1.0 - s1 * s2) / (s.k + s.h)
        + v[2] * (1.0 - s2 / s1) / (s.k - s.h)
}

/// (albedo, diffuse transmittance, sunlit, shaded) for direct and diffuse light of one band.
fn band(s: &Coeffs, albg: [f64; 2]) -> [[f64; 4]; 2] {
    let (s2, s1) = attenuation(s);
    let at_bottom = |v: &[f64; 3]| v[0] * s2 + v[1] * s1 + v[2] / s1;
    let mut out = [[0.0; 4]; 2];
    for (id, pr) in [direct_profile(s, albg), diffuse_profile(s, albg[DIF])]
        .iter()
        .enumerate()
    {
        let alb = pr.up.iter().sum::<f64>();
        let tr = at_bottom(&pr.down);
        let e = sunlit_weighted(s, &pr.up) + sunlit_weighted(s, &pr.down);
        let (beam, ground) = if id == DIR {
            (1.0 - s2, (1.0 - albg[DIR]) * s2 + (1.0 - albg[DIF]) * tr)
        } else {
            (0.0, (1.0 - albg[DIF]) * tr)
        };
        let sun = (1.0 - s.omega) * (beam + e / s.mu);
        out[id] = [alb, tr, sun, 1.0 - alb - ground - sun];
    }
    out
}

/// [`band`], with the removable singularity at K = h (σ = 0, where the particular solution
/// resonates with e^{−hx}) bridged by the mean of the solutions at K(1 ± 1e-6), accurate to
/// about 1e-10 (CoLM switches to the closed-form resonant solution there).
fn band_regular(s: &Coeffs, albg: [f64; 2]) -> [[f64; 4]; 2] {
    let sigma = (s.mu * s.k).powi(2) + s.c * s.c - s.b * s.b;
    if sigma.abs() > 1e-10 {
        return band(s, albg);
    }
    let (lo, hi) = (
        band(
            &Coeffs {
                k: s.k * (1.0 - 1e-6),
                ..*s
            },
            albg,
        ),
        band(
            &Coeffs {
                k: s.k * (1.0 + 1e-6),
                ..*s
            },
            albg,
        ),
    );
    std::array::from_fn(|i| std::array::from_fn(|j| 0.5 * (lo[i][j] + hi[i][j])))
}

fn check(leaf: &LeafOptics, green: f64, chil: f64, lai: f64, sai: f64) -> Result<(), LsmError> {
    let ok = (0.0..=1.0).contains(&green)
        && (-0.4..=0.6).contains(&chil)
        && lai >= 0.0
        && lai.is_finite()
        && sai >= 0.0
        && sai.is_finite();
    let mut bad = !ok;
    for band in [VIS, NIR] {
        for life in 0..2 {
            let (r, t) = (leaf.rho[band][life], leaf.tau[band][life]);
            bad |= !(r > 0.0 && t > 0.0 && r + t < 1.0);
        }
    }
    if bad {
        return Err(LsmError::Parameter(format!(
            "CoLM two-stream: needs 0 <= green <= 1, -0.4 <= chil <= 0.6 (Ross-Goudriaan range), \
             lai, sai >= 0, leaf rho, tau > 0 with rho + tau < 1; got green {green}, chil {chil}, \
             lai {lai}, sai {sai}, {leaf:?}"
        )));
    }
    Ok(())
}

/// Canopy radiation for leaf optics `leaf`, green fraction `green`, leaf angle χ_L `chil`,
/// leaf and stem area indices, cosine of the solar zenith angle `coszen` (> 0; CoLM uses at
/// least 0.001) and ground albedos `albg`[band][DIR/DIF].
pub fn two_stream(
    leaf: &LeafOptics,
    green: f64,
    chil: f64,
    lai: f64,
    sai: f64,
    coszen: f64,
    albg: &[[f64; 2]; 2],
) -> Result<TwoStream, LsmError> {
    check(leaf, green, chil, lai, sai)?;
    if !(coszen > 0.0 && coszen <= 1.0) || albg.iter().flatten().any(|a| !(0.0..=1.0).contains(a)) {
        return Err(LsmError::State(format!(
            "CoLM two-stream: needs 0 < coszen <= 1 and ground albedos in [0, 1]; got \
             coszen {coszen}, albg {albg:?}"
        )));
    }
    let (phi1, phi2) = leaf_projection(chil);
    let mu = mean_inverse_depth(phi1, phi2);
    let mut t = TwoStream {
        albv: [[0.0; 2]; 2],
        tranc: [[0.0; 2]; 2],
        ssun: [[0.0; 2]; 2],
        ssha: [[0.0; 2]; 2],
        extkb: (phi1 + phi2 * coszen) / coszen,
        extkd: 0.719,
        thermk: (-((lai + sai) / mu).clamp(1e-5, 50.0)).exp(),
    };
    for iw in [VIS, NIR] {
        let s = coeffs(leaf, green, chil, lai, coszen, iw);
        let r = band_regular(&s, albg[iw]);
        for id in [DIR, DIF] {
            [
                t.albv[iw][id],
                t.tranc[iw][id],
                t.ssun[iw][id],
                t.ssha[iw][id],
            ] = r[id];
        }
    }
    Ok(t)
}
