//! Saturation vapour pressure and specific humidity with their temperature derivatives: the
//! role of CoLM's `qsadv` (the eighth-order polynomial fits of Flatau, Walko & Cotton 1992, J.
//! Appl. Meteor. 31, 1507, Table 4: over liquid water at and above T_f, over ice below; each
//! derivative has its own fitted polynomial).
//!
//! With t = T − T_f (°C) held within [−75, 100]: e_s = 100 Σ a_k t^k Pa, de_s/dT = 100 Σ b_k t^k
//! Pa K⁻¹; q_s = 0.622 e_s/(p − 0.378 e_s), dq_s/dT = 0.622 p (de_s/dT)/(p − 0.378 e_s)².

use super::constants::TFRZ;

/// Coefficients a_0..a_8 of e_s (hPa) over water.
const ES_WATER: [f64; 9] = [
    6.11213476,
    0.444007856,
    0.143064234e-01,
    0.264461437e-03,
    0.305903558e-05,
    0.196237241e-07,
    0.892344772e-10,
    -0.373208410e-12,
    0.209339997e-15,
];
/// Coefficients of de_s/dT (hPa K-1) over water.
const DES_WATER: [f64; 9] = [
    0.444017302,
    0.286064092e-01,
    0.794683137e-03,
    0.121211669e-04,
    0.103354611e-06,
    0.404125005e-09,
    -0.788037859e-12,
    -0.114596802e-13,
    0.381294516e-16,
];
/// Coefficients of e_s (hPa) over ice.
const ES_ICE: [f64; 9] = [
    6.11123516,
    0.503109514,
    0.188369801e-01,
    0.420547422e-03,
    0.614396778e-05,
    0.602780717e-07,
    0.387940929e-09,
    0.149436277e-11,
    0.262655803e-14,
];
/// Coefficients of de_s/dT (hPa K-1) over ice.
const DES_ICE: [f64; 9] = [
    0.503277922,
    0.377289173e-01,
    0.126801703e-02,
    0.249468427e-04,
    0.313703411e-06,
    0.257180651e-08,
    0.133268878e-10,
    0.394116744e-13,
    0.498070196e-16,
];

/// Saturation values at one temperature and pressure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Saturation {
    /// Saturation vapour pressure e_s (Pa).
    pub es: f64,
    /// de_s/dT (Pa K-1).
    pub esdt: f64,
    /// Saturation specific humidity q_s (kg kg-1).
    pub qs: f64,
    /// dq_s/dT (K-1).
    pub qsdt: f64,
}

/// Horner evaluation of Σ c_k t^k.
fn poly(c: &[f64; 9], t: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, k| acc * t + k)
}

/// Saturation at temperature `t` (K) and pressure `p` (Pa).
pub fn saturation(t: f64, p: f64) -> Saturation {
    let td = (t - TFRZ).clamp(-75.0, 100.0);
    let (a, b) = if td >= 0.0 {
        (&ES_WATER, &DES_WATER)
    } else {
        (&ES_ICE, &DES_ICE)
    };
    let es = poly(a, td) * 100.0;
    let esdt = poly(b, td) * 100.0;
    let vp = 1.0 / (p - 0.378 * es);
    Saturation {
        es,
        esdt,
        qs: es * 0.622 * vp,
        qsdt: esdt * 0.622 * vp * vp * p,
    }
}
