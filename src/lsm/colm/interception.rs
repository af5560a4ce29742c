//! Canopy interception of rain and snow: the role of CoLM's `LEAF_interception` and
//! `dewfraction` (Dai et al. 2003, BAMS 84, 1013, §2; the SiB2 scheme of Sellers et al. 1996,
//! J. Climate 9, 676, with the sub-grid precipitation distribution of Shuttleworth 1988).
//!
//! Storage capacity S = dewmx σ_f (L + S_a) (mm) with the vegetated fraction σ_f and the leaf
//! and stem area indices. Water above S left from the last step drips first (as rain above
//! T_f leaf temperature, else as snow). Of this step's precipitation P (mm), the fraction
//! f_pi = α (1 − e^{−G(1) (L + S_a)}) σ_f, α = 0.25, meets the canopy, G(1) = φ1 + φ2 the leaf
//! projection at overhead sun (Ross–Goudriaan, |χ_L| ≥ 0.01); the rest falls through. The
//! intercepted rain is spread over the cell as f(x) = a e^{−bx} + c (b = 20; a = 20, c =
//! 0.206e-8 for convective, a = 1e-4, c = 0.9999 for large-scale precipitation, weighted by
//! their shares), so the canopy overflows on the fraction x_s where P f_pi f(x) exceeds the
//! free storage S − W: x_s = −ln((S − W)/(P f_pi a) − c/a)/b ∈ [0, 1]. Drainage of rain
//! D = P_rain f_pi (a/b (1 − e^{−b x_s}) + c x_s) − (S − W) x_s ≥ 0; intercepted snow stays.

use super::constants::TFRZ;
use crate::lsm::LsmError;

/// Interception weight of the projected leaf area (Dai et al. 2003).
const ALPHA: f64 = 0.25;
/// Exponent b of the sub-grid precipitation distribution (-).
const B_DIST: f64 = 20.0;
/// Coefficients (a, c) of the distribution for convective precipitation.
const CONVECTIVE: (f64, f64) = (20.0, 0.206e-8);
/// Coefficients (a, c) of the distribution for large-scale precipitation.
const LARGE_SCALE: (f64, f64) = (0.0001, 0.9999);

/// Precipitation reaching the top of the canopy (all mm s-1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CanopyPrecip {
    /// Convective rain.
    pub prc_rain: f64,
    /// Convective snow.
    pub prc_snow: f64,
    /// Large-scale rain.
    pub prl_rain: f64,
    /// Large-scale snow.
    pub prl_snow: f64,
}

/// The canopy and its water at the start of the step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Canopy {
    /// Vegetated fraction above the snow σ_f (-).
    pub sigf: f64,
    /// Leaf area index (m2 m-2).
    pub lai: f64,
    /// Stem area index (m2 m-2).
    pub sai: f64,
    /// Leaf angle distribution χ_L (−1 vertical … 1 horizontal) (-).
    pub chil: f64,
    /// Sunlit leaf temperature, deciding whether excess water drips as rain or snow (K).
    pub tlsun: f64,
}

/// What interception hands on (rates in mm s-1 over the step).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interception {
    /// Canopy water after interception (mm).
    pub ldew: f64,
    /// Rain reaching the ground: throughfall, drainage and excess drip (CoLM's pg_rain).
    pub pg_rain: f64,
    /// Snow reaching the ground (CoLM's pg_snow).
    pub pg_snow: f64,
    /// Water retained by the canopy this step (CoLM's qintr); may be negative when old
    /// excess storage drips.
    pub qintr: f64,
}

impl Interception {
    /// Throughfall plus drip (CoLM's qdrip, mm s-1).
    pub fn qdrip(&self) -> f64 {
        self.pg_rain + self.pg_snow
    }
}

/// Storage capacity dewmx σ_f (L + S_a) of the canopy (mm); `dewmx` in mm per unit area.
pub fn storage_capacity(dewmx: f64, sigf: f64, lai: f64, sai: f64) -> f64 {
    dewmx * sigf * (lai + sai)
}

/// Leaf projection coefficients (φ1, φ2) of Ross–Goudriaan, G(μ) = φ1 + φ2 μ, for the leaf
/// angle distribution χ_L (Sellers 1985, eq. 13; TN eq. 3.3).
pub fn leaf_projection(chil: f64) -> (f64, f64) {
    let phi1 = 0.5 - 0.633 * chil - 0.33 * chil * chil;
    (phi1, 0.877 * (1.0 - 2.0 * phi1))
}

fn check(c: &Canopy, p: &CanopyPrecip, ldew: f64, dt: f64, dewmx: f64) -> Result<(), LsmError> {
    let rates = [p.prc_rain, p.prc_snow, p.prl_rain, p.prl_snow];
    if rates.iter().any(|r| !(*r >= 0.0 && r.is_finite())) {
        return Err(LsmError::Forcing(format!(
            "CoLM interception: precipitation not finite and >= 0: {rates:?} mm s-1"
        )));
    }
    let ok = (0.0..=1.0).contains(&c.sigf)
        && c.lai >= 0.0
        && c.sai >= 0.0
        && c.lai.is_finite()
        && c.sai.is_finite()
        && (-1.0..=1.0).contains(&c.chil)
        && c.tlsun.is_finite()
        && ldew >= 0.0
        && ldew.is_finite()
        && dt > 0.0
        && dewmx > 0.0;
    if !ok {
        return Err(LsmError::State(format!(
            "CoLM interception: needs 0 <= sigf <= 1, lai, sai >= 0, |chil| <= 1, \
             ldew >= 0, dt > 0, dewmx > 0; got {c:?}, ldew {ldew}, dt {dt}, dewmx {dewmx}"
        )));
    }
    Ok(())
}

/// Intercept one step's precipitation `p` on canopy `c` holding `ldew` (mm) over `dt` (s).
pub fn intercept(
    c: &Canopy,
    p: &CanopyPrecip,
    ldew: f64,
    dt: f64,
    dewmx: f64,
) -> Result<Interception, LsmError> {
    check(c, p, ldew, dt, dewmx)?;
    if c.sigf < 0.001 {
        // No canopy: everything falls through and the store is emptied (CoLM's choice;
        // callers only reach this with an empty store since σ_f falls gradually).
        return Ok(Interception {
            ldew: 0.0,
            pg_rain: p.prc_rain + p.prl_rain,
            pg_snow: p.prc_snow + p.prl_snow,
            qintr: 0.0,
        });
    }
    let satcap = storage_capacity(dewmx, c.sigf, c.lai, c.sai);
    let excess = (ldew - satcap).max(0.0);
    let (xsc_rain, xsc_snow) = if c.tlsun > TFRZ {
        (excess, 0.0)
    } else {
        (0.0, excess)
    };
    let w = ldew - excess;
    let (thru_rain, thru_snow) = throughfall(c, p, w, satcap, dt);
    let p0 = (p.prc_rain + p.prc_snow + p.prl_rain + p.prl_snow) * dt;
    let pinf = p0 - (thru_rain + thru_snow);
    Ok(Interception {
        ldew: w + pinf,
        pg_rain: (xsc_rain + thru_rain) / dt,
        pg_snow: (xsc_snow + thru_snow) / dt,
        qintr: pinf / dt,
    })
}

/// Rain and snow passing the canopy in the step (mm): direct throughfall plus drainage from
/// the overflowing fraction; `w` the stored water after the excess dripped, `satcap` (mm).
fn throughfall(c: &Canopy, p: &CanopyPrecip, w: f64, satcap: f64, dt: f64) -> (f64, f64) {
    let p0 = (p.prc_rain + p.prc_snow + p.prl_rain + p.prl_snow) * dt;
    if p0 <= 1e-8 {
        return (0.0, 0.0);
    }
    let ppc = (p.prc_rain + p.prc_snow) * dt;
    let ppl = (p.prl_rain + p.prl_snow) * dt;
    let ap = ppc / p0 * CONVECTIVE.0 + ppl / p0 * LARGE_SCALE.0;
    let cp = ppc / p0 * CONVECTIVE.1 + ppl / p0 * LARGE_SCALE.1;
    let chiv = if c.chil.abs() <= 0.01 { 0.01 } else { c.chil };
    let (phi1, phi2) = leaf_projection(chiv);
    let fpi = ALPHA * (1.0 - (-(phi1 + phi2) * (c.lai + c.sai)).exp()) * c.sigf;
    let rain = (p.prc_rain + p.prl_rain) * dt;
    let tti_rain = rain * (1.0 - fpi);
    let tti_snow = (p.prc_snow + p.prl_snow) * dt * (1.0 - fpi);
    let xs = wetted_area(p0 * fpi, satcap - w, ap, cp);
    let tex_rain = (rain * fpi * (ap / B_DIST * (1.0 - (-B_DIST * xs).exp()) + cp * xs)
        - (satcap - w) * xs)
        .max(0.0);
    (tti_rain + tex_rain, tti_snow)
}

/// Fraction of the cell where intercepted water `pi` (mm) overflows the free storage `free`
/// (mm) under the distribution a e^{−bx} + c (1 when the distribution cannot be inverted).
fn wetted_area(pi: f64, free: f64, ap: f64, cp: f64) -> f64 {
    if pi <= 1e-9 {
        return 1.0;
    }
    let arg = free / (pi * ap) - cp / ap;
    if arg > 1e-9 {
        (-arg.ln() / B_DIST).clamp(0.0, 1.0)
    } else {
        1.0
    }
}

/// Wetted fraction of the foliage f_wet = (W/(dewmx σ_f (L + S_a)))^{2/3} ≤ 1 and the
/// fraction of green, dry leaves f_dry = (1 − f_wet) L/(L + S_a) (Deardorff 1978; TN eqs.
/// 5.88–5.89). CoLM's exponent literal is 0.666666666666, kept for agreement with the
/// reference. `ldew` in mm; needs σ_f (L + S_a) > 0.
pub fn wetted_fraction(sigf: f64, lai: f64, sai: f64, dewmx: f64, ldew: f64) -> (f64, f64) {
    let lsai = lai + sai;
    let vegt = sigf * lsai;
    let fwet = if ldew > 0.0 && vegt > 0.0 {
        (ldew / (dewmx * vegt)).powf(0.666666666666).min(1.0)
    } else {
        0.0
    };
    let fdry = if lsai > 0.0 {
        (1.0 - fwet) * lai / lsai
    } else {
        0.0
    };
    (fwet, fdry)
}
