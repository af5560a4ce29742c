//! Empirical daily phenology: the role of CoLM's `LAI_empirical` (the BATS-style seasonal
//! LAI of Dickinson et al. 1993 with CoLM2014's USGS table).
//!
//! The soil temperature T of the layer where the cumulative root fraction first exceeds 0.9
//! sets f = max(0, 1 − 0.0016 max(298 − T, 0)²); LAI = L_max + (L_min − L_max)(1 − f); stem
//! area, vegetated fraction and green fraction are fixed per class (green 1 with vegetation).

use super::constants::NSOIL;
use super::vegetation_usgs::NCLASS;
use crate::lsm::LsmError;

/// Vegetated fraction per USGS class (0 for water, barren land, snow and ice).
const VEGC: [f64; NCLASS] = [
    1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0,
    1.0, 1.0, 1.0, 0.0, 0.0,
];
/// Maximum (summer) LAI per class.
const XLA: [f64; NCLASS] = [
    1.50, 3.29, 4.18, 3.50, 2.50, 3.60, 2.02, 1.53, 2.00, 0.85, 4.43, 4.42, 4.56, 3.95, 4.50, 0.00,
    4.00, 3.63, 0.00, 0.64, 1.60, 1.00, 0.00, 0.00,
];
/// Minimum (winter) LAI per class.
const XLA0: [f64; NCLASS] = [
    1.00, 0.50, 0.50, 0.50, 1.00, 0.50, 0.50, 0.50, 0.50, 0.30, 0.50, 0.50, 4.00, 4.00, 4.00, 0.00,
    3.00, 3.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00,
];
/// Stem area index per class.
const SAI0: [f64; NCLASS] = [
    0.20, 0.20, 0.30, 0.30, 0.50, 0.50, 1.00, 0.50, 1.00, 0.50, 2.00, 2.00, 2.00, 2.00, 2.00, 0.00,
    2.00, 2.00, 0.00, 0.10, 0.10, 0.10, 0.00, 0.00,
];

/// Leaf and stem area (m2 m-2), vegetated and green fraction (-).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phenology {
    pub lai: f64,
    pub sai: f64,
    pub fveg: f64,
    pub green: f64,
}

/// Phenology of USGS class `class` (1..=24) with root fractions `rootfr` and soil
/// temperatures `t_soil` (K).
pub fn phenology(
    class: usize,
    rootfr: &[f64; NSOIL],
    t_soil: &[f64; NSOIL],
) -> Result<Phenology, LsmError> {
    if !(1..=NCLASS).contains(&class) {
        return Err(LsmError::State(format!(
            "CoLM phenology: USGS class {class} outside 1..={NCLASS}"
        )));
    }
    let i = class - 1;
    let (mut roota, mut jrt) = (0.0, 0);
    for j in 0..NSOIL {
        roota += rootfr[j];
        if roota > 0.9 {
            jrt = j;
            break;
        }
    }
    let f = (1.0 - 0.0016 * (298.0 - t_soil[jrt]).max(0.0).powi(2)).max(0.0);
    Ok(Phenology {
        lai: XLA[i] + (XLA0[i] - XLA[i]) * (1.0 - f),
        sai: SAI0[i],
        fveg: VEGC[i],
        green: if VEGC[i] > 0.0 { 1.0 } else { 0.0 },
    })
}
