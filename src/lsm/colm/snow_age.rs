//! Non-dimensional snow age of BATS (Dickinson et al. 1993, NCAR/TN-387; TN §3.2.2, snow
//! albedo): the role of CoLM's `snowage`.
//!
//! Δτ = 10⁻⁶ Δt (r1 + r2 + r3) with grain growth r1 = e^{a}, a = 5000 (1/T_f − 1/T_g),
//! melt-water refreezing r2 = e^{min(0, 10 a)}, dirt and soot r3 = 0.3; new snow refreshes the
//! surface: τ ← max(0, (τ + Δτ)(1 − 0.1 max(0, W − W_old))) with the SWE W (mm) now and at
//! the step's start. No snow, or more than 800 mm, gives τ = 0. CoLM sets τ = 0 before the
//! call when the column has no snow layer (the caller does that).

use super::constants::TFRZ;

/// Snow age (-) after a step of `dt` (s) from `sag`, with ground temperature `tg` (K), SWE
/// `scv` (mm) and `scvold` at the step's start (mm).
pub fn snow_age(dt: f64, tg: f64, scv: f64, scvold: f64, sag: f64) -> f64 {
    if scv <= 0.0 || scv > 800.0 {
        return 0.0;
    }
    let arg = 5.0e3 * (1.0 / TFRZ - 1.0 / tg);
    let age1 = arg.exp();
    let age2 = (10.0 * arg).min(0.0).exp();
    let age3 = 0.3;
    let dela = 1.0e-6 * dt * (age1 + age2 + age3);
    let dels = 0.1 * (scv - scvold).max(0.0);
    ((sag + dela) * (1.0 - dels)).max(0.0)
}
