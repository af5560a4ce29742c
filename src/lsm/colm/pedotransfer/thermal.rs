//! Thermal parameters of a soil layer with organic matter mixed in (CLM 4.5 technical note,
//! Oleson et al. 2013, NCAR/TN-503, §6.3, after Lawrence & Slater 2008; Farouki 1981):
//!
//! - organic volume fraction f_om = min(1.72 SOC/100 · BD/1.3, 1) (organic density 1.3 g cm-3);
//! - solid heat capacity c_s = (1 − f_om)(2.128 sand + 2.385 clay)/(sand + clay)·10⁶ +
//!   f_om 2.51·10⁶ J m-3 K-1 (de Vries 1963; CLM 3.0 eq. 6.69), mixed with gravel at
//!   2.01·10⁶ by its volume fraction;
//! - porosity of the mixture θ = (1 − f_om) θ_s + f_om θ_om, θ_om = max(0.93 − 0.1 z/0.5 m,
//!   0.83) (organic matter turning sapric with depth);
//! - saturated conductivity λ_sat = λ_s^(1−θ) 0.57^θ, λ_s = (1 − f_om)(8.80 sand + 2.92 clay)/
//!   (sand + clay) + 0.25 f_om (CLM 3.0 eq. 6.63 with the organic solid);
//! - dry conductivity λ_dry = (1 − f_om)(0.135 BD + 0.0647)/(2.7 − 0.947 BD) + 0.05 f_om
//!   (Farouki 1981, BD in g cm-3).

use super::Texture;

/// Solid heat capacity (J m-3 K-1), saturated and dry conductivity (W m-1 K-1).
pub(crate) struct Thermal {
    pub csol: f64,
    pub ksatu: f64,
    pub kdry: f64,
}

/// The thermal parameters of texture `t` with gravel-free porosity `theta_s` at `depth_cm`.
pub(crate) fn thermal(t: &Texture, theta_s: f64, depth_cm: f64) -> Thermal {
    let (sand, clay) = (t.sand, t.clay);
    let f_om = (1.72 * t.soc / 100.0 * t.bd / 1.3).min(1.0);
    let f_gravel = t.gravel / 100.0;
    let c_mineral = (2.128 * sand + 2.385 * clay) / (sand + clay);
    let c_soil = (1.0 - f_om) * c_mineral * 1e6 + f_om * 2.51e6;
    let csol = f_gravel * 2.01e6 + (1.0 - f_gravel) * c_soil;
    let theta_om = (0.93 - 0.1 * (0.01 * depth_cm / 0.5)).max(0.83);
    let theta = (1.0 - f_om) * theta_s + f_om * theta_om;
    let k_solid = (1.0 - f_om) * (8.80 * sand + 2.92 * clay) / (sand + clay) + f_om * 0.25;
    let ksatu = k_solid.powf(1.0 - theta) * 0.57f64.powf(theta);
    let kdry = (1.0 - f_om) * (0.135 * t.bd + 0.0647) / (2.7 - 0.947 * t.bd) + f_om * 0.05;
    Thermal { csol, ksatu, kdry }
}
