//! Root fractions of the soil layers: the role of the root profile in CoLM's `IniTimeConst`
//! (Schenk & Jackson 2002, Ecol. Monogr. 72, 311: the logistic dose–response profile).
//!
//! The fraction of roots above depth d (cm) is Y(d) = 1/(1 + (d/d50)^c), with d50 the depth
//! (cm) above which half the roots lie and the shape c < 0 of the vegetation type. Layer j
//! holds Y(zi_j) − Y(zi_{j−1}) (Y(0) = 0), the bottom layer everything below zi_9, so the
//! fractions sum to one. Land ice, lakes and ocean (CoLM's water types ≥ 3) have no roots.

use super::constants::NSOIL;
use crate::lsm::LsmError;

/// Root fractions of the layers with interface depths `zi` (m, top first) for the root
/// profile (d50 in cm, shape c < 0).
pub fn root_fractions(zi: &[f64; NSOIL], d50: f64, shape: f64) -> Result<[f64; NSOIL], LsmError> {
    if !(d50 > 0.0 && d50.is_finite() && shape < 0.0 && shape.is_finite()) {
        return Err(LsmError::Parameter(format!(
            "CoLM root profile needs d50 > 0 cm and a negative shape; got d50 {d50}, shape {shape}"
        )));
    }
    if !zi.windows(2).all(|w| w[1] > w[0]) || zi[0].is_nan() || zi[0] <= 0.0 {
        return Err(LsmError::Parameter(format!(
            "CoLM root profile: interface depths must increase from above 0: {zi:?}"
        )));
    }
    let above = |z: f64| 1.0 / (1.0 + (z * 100.0 / d50).powf(shape));
    let mut fr = [0.0; NSOIL];
    fr[0] = above(zi[0]);
    for j in 1..NSOIL - 1 {
        fr[j] = above(zi[j]) - above(zi[j - 1]);
    }
    fr[NSOIL - 1] = 1.0 - above(zi[NSOIL - 2]);
    Ok(fr)
}
