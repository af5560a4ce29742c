//! Stomatal conductance coupled to photosynthesis: the role of CoLM's `stomata` (Ball, Woodrow
//! & Berry 1987; Collatz et al. 1991; the SiB2 solution of Sellers et al. 1996, J. Climate 9,
//! 676, appendix C; Dai et al. 2004, J. Climate 17, 2281, §2c).
//!
//! For a guess of the intercellular CO₂ c_i (Pa) the net assimilation A_n = A − R_d
//! ([`super::photosynthesis`]) sets the CO₂ at the leaf surface c_s = c_a − 1.37 A_n/g_b (mol
//! mol⁻¹; g_b the leaf boundary-layer conductance, mol m-2 s-1, = (1/r_b) · 44.6 (273.16/T_l)
//! (p/1.013e5)); the Ball–Berry law g_s = m A_n h_s/c_s + b with h_s = e_s/e_i and the flux
//! continuity g_b (e_s − e_a) = g_s (e_i − e_s) give a quadratic in g_s (positive root; e_s kept
//! in [0.01 Pa, e_i], A_n ≥ 1e-12 and 1e-5 ≤ c_s ≤ c_a inside the law); the new guess is c_i =
//! (c_s − 1.6 A_n/g_s) p. The residual c_i(guess) − c_i(new) is driven to zero by SiB2's
//! root search (first guesses Γ* + 0.5 r and Γ* + (0.5 ∓ 0.3) r with r = p_CO₂(1 − 1.6/m) − Γ*,
//! then the mean of a secant and a quadratic fit through the guesses sorted by residual), at
//! most 6 evaluations, stopping below 0.1 Pa. Stomatal resistance r_s = min(1e6, 1/(g_s T_l/
//! (44.6 · 273.16 p/1.013e5))) s m-1.

use super::photosynthesis::{capacities, gross_assimilation, PhotoParams};
use crate::lsm::LsmError;

/// Evaluations of the c_i residual (SiB2's choice).
pub const MAX_EVALUATIONS: usize = 6;
/// Residual below which the search stops (Pa).
const TOLERANCE: f64 = 0.1;

/// The leaf's environment (pressures in Pa, temperatures in K, resistances in s m-1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeafEnv {
    /// Surface air pressure p.
    pub psrf: f64,
    /// O2 partial pressure of the air.
    pub po2m: f64,
    /// CO2 partial pressure of the air above the canopy.
    pub pco2m: f64,
    /// CO2 partial pressure of the canopy air.
    pub pco2a: f64,
    /// Vapour pressure of the canopy air e_a.
    pub ea: f64,
    /// Saturation vapour pressure at leaf temperature e_i.
    pub ei: f64,
    /// Leaf temperature T_l.
    pub tlef: f64,
    /// Absorbed photosynthetically active radiation (W m-2).
    pub par: f64,
    /// Leaf boundary-layer resistance r_b.
    pub rb: f64,
    /// Soil-water stress factor β (-).
    pub rstfac: f64,
}

/// Canopy-scaled result of the coupled solution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stomata {
    /// Gross assimilation (mol CO2 m-2 s-1).
    pub assim: f64,
    /// Dark respiration (mol CO2 m-2 s-1).
    pub respc: f64,
    /// Stomatal resistance r_s (s m-1).
    pub rst: f64,
    /// Stomatal conductance to water g_s (mol m-2 s-1).
    pub gs: f64,
    /// Last c_i guess (Pa) and its residual (Pa).
    pub pco2i: f64,
    /// Residual c_i(guess) − c_i(new) of the last evaluation (Pa).
    pub residual: f64,
}

/// Converts a conductance in m s-1 to mol m-2 s-1 at temperature `t` (K) and pressure `p`
/// (Pa): 44.6 mol m-3 at 273.16 K and 1.013e5 Pa.
pub fn molar_factor(t: f64, p: f64) -> f64 {
    44.6 * 273.16 * p / 1.013e5 / t
}

/// One evaluation at c_i = `pco2i`: (new c_i, g_s, gross assimilation).
fn evaluate(
    cap: &super::photosynthesis::Capacities,
    e: &LeafEnv,
    gradm: f64,
    bintc: f64,
    gbh2o: f64,
    pco2i: f64,
) -> (f64, f64, f64) {
    let assim = gross_assimilation(cap, pco2i);
    let assimn = assim - cap.respc;
    let co2a = e.pco2a / e.psrf;
    let co2s = co2a - 1.37 * assimn / gbh2o;
    let co2st = co2s.min(co2a).max(1e-5);
    let hcdma = e.ei * co2st / (gradm * assimn.max(1e-12));
    let bq = gbh2o * hcdma - e.ei - bintc * hcdma;
    let cq = -gbh2o * (e.ea + hcdma * bintc);
    let gs = (-bq + (bq * bq - 4.0 * hcdma * cq).max(0.0).sqrt()) / (2.0 * hcdma);
    let es = ((gs - bintc) * hcdma).min(e.ei).max(1e-2);
    let gs = es / hcdma + bintc;
    ((co2s - 1.6 * assimn / gs) * e.psrf, gs, assim)
}

fn check(p: &PhotoParams, e: &LeafEnv, cint: &[f64; 3]) -> Result<(), LsmError> {
    p.validate()?;
    let pos = [e.psrf, e.tlef, e.rb, e.ei];
    let nonneg = [
        e.po2m, e.pco2m, e.pco2a, e.ea, e.par, e.rstfac, cint[0], cint[1], cint[2],
    ];
    if pos.iter().any(|x| !(*x > 0.0 && x.is_finite()))
        || nonneg.iter().any(|x| !(*x >= 0.0 && x.is_finite()))
    {
        return Err(LsmError::State(format!(
            "CoLM stomata: needs p, T_leaf, r_b, e_i > 0 and finite, other inputs >= 0: \
             {e:?}, cint {cint:?}"
        )));
    }
    Ok(())
}

/// Photosynthesis and stomatal conductance of a canopy (sunlit or shaded big leaf) with the
/// leaf-to-canopy factors `cint` (c₁ for V_m, R_d, ω_s; c₂ for J; c₃ for the intercept).
pub fn stomata(p: &PhotoParams, e: &LeafEnv, cint: &[f64; 3]) -> Result<Stomata, LsmError> {
    check(p, e, cint)?;
    let cap = capacities(p, e.tlef, e.po2m, e.par, e.rstfac, cint);
    let bintc = p.binter * e.rstfac.max(0.1) * cint[2];
    let tprcor = molar_factor(1.0, e.psrf);
    let gbh2o = 1.0 / e.rb * tprcor / e.tlef;
    let range = e.pco2m * (1.0 - 1.6 / p.gradm) - cap.gammas;
    let mut hist: Vec<(f64, f64)> = Vec::with_capacity(MAX_EVALUATIONS);
    let mut out = (0.0, 0.0, 0.0, 0.0);
    for _ in 0..MAX_EVALUATIONS {
        let ci = next_guess(&mut hist, range, cap.gammas);
        let (ci_new, gs, assim) = evaluate(&cap, e, p.gradm, bintc, gbh2o, ci);
        out = (ci, ci - ci_new, gs, assim);
        hist.push((out.1, ci));
        if out.1.abs() < TOLERANCE {
            break;
        }
    }
    let (pco2i, residual, gs, assim) = out;
    Ok(Stomata {
        assim,
        respc: cap.respc,
        rst: (1.0 / (gs * e.tlef / tprcor)).min(1e6),
        gs,
        pco2i,
        residual,
    })
}

/// Next c_i guess (Pa, at least 0.01) from the (residual, c_i) history `hist`: SiB2's root
/// search. The history is re-ordered by residual (ascending), as the search keeps it.
pub fn next_guess(hist: &mut [(f64, f64)], range: f64, gammas: f64) -> f64 {
    let first = gammas + 0.5 * range;
    let guess = match hist.len() {
        0 => first,
        1 => gammas + range * (0.5 - 0.3 * if hist[0].0 < 0.0 { -1.0 } else { 1.0 }),
        2 => {
            let ((e1, c1), (e2, c2)) = (hist[0], hist[1]);
            let g = c1 - (c1 - c2) / (e1 - e2 + 1e-10) * e1;
            if e1.min(e2) > 0.0 && g > c1.min(c2) {
                gammas
            } else {
                g
            }
        }
        _ => sorted_guess(hist),
    };
    guess.max(0.01)
}

/// Mean of the secant through the residual's sign change and of a quadratic c_i(residual)
/// through three neighbouring guesses (at least the c_i of the last negative residual).
fn sorted_guess(hist: &mut [(f64, f64)]) -> f64 {
    // Stable insertion order by residual, as the search's own sort.
    hist.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    let n = hist.len();
    let (mut is, mut floor) = (0, 0.0);
    for (i, h) in hist.iter().enumerate() {
        if h.0 < 0.0 {
            is = i;
            floor = h.1;
        }
    }
    let i1 = is.saturating_sub(1).min(n - 3);
    let (isp, e) = ((is + 1).min(n - 1), |i: usize| hist[i]);
    let is = isp - 1;
    let lin = e(is).1 - (e(is).1 - e(isp).1) / (e(is).0 - e(isp).0 + 1e-10) * e(is).0;
    let ((y1, c1), (y2, c2), (y3, c3)) = (e(i1), e(i1 + 1), e(i1 + 2));
    let (ac1, ac2) = (y1 * y1 - y2 * y2, y2 * y2 - y3 * y3);
    let (bc1, bc2) = (y1 - y2, y2 - y3);
    let (cc1, cc2) = (c1 - c2, c2 - c3);
    let bterm = (cc1 * ac2 - cc2 * ac1) / (bc1 * ac2 - ac1 * bc2 + 1e-10);
    let aterm = (cc1 - bc1 * bterm) / (ac1 + 1e-10);
    let quad = (c2 - aterm * y2 * y2 - bterm * y2).max(floor);
    (lin + quad) / 2.0
}
