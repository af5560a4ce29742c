//! Prognostic state of one Noah column and its consistency checks.

use super::constants::NSOIL;
use super::params::NoahParams;
use crate::lsm::LsmError;

/// Complete prognostic state of one column (everything carried from step to step).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoahState {
    /// Skin temperature T1 (K).
    pub skin_temperature: f64,
    /// Soil temperature per layer (K).
    pub soil_temperature: [f64; NSOIL],
    /// Total (liquid + frozen) soil moisture per layer (m3 m-3).
    pub soil_moisture: [f64; NSOIL],
    /// Liquid soil moisture per layer (m3 m-3).
    pub soil_liquid: [f64; NSOIL],
    /// Canopy intercepted water (m).
    pub canopy_water: f64,
    /// Snow depth (m).
    pub snow_depth: f64,
    /// Snow water equivalent (m).
    pub snow_water_equivalent: f64,
    /// Surface albedo of the previous step (weights the incoming shortwave).
    pub albedo: f64,
    /// Surface emissivity of the previous step (weights the incoming longwave).
    pub emissivity: f64,
    /// Roughness length of the previous step (m), used by the surface layer.
    pub roughness_length: f64,
    /// Exchange coefficient for momentum (m s-1), iteration start of the surface layer.
    pub cm: f64,
    /// Exchange coefficient for heat and moisture (m s-1).
    pub ch: f64,
    /// Time since the last snowfall (s), ages the snow albedo.
    pub snow_age: f64,
}

impl NoahState {
    /// Checks physical consistency against the cell's parameters.
    pub fn validate(&self, p: &NoahParams) -> Result<(), LsmError> {
        let bad = |what: String| Err(LsmError::State(what));
        let finite = |name: &str, v: f64| -> Result<(), LsmError> {
            if v.is_finite() {
                Ok(())
            } else {
                Err(LsmError::State(format!("{name} is not finite ({v})")))
            }
        };
        finite("skin_temperature", self.skin_temperature)?;
        finite("canopy_water", self.canopy_water)?;
        finite("snow_depth", self.snow_depth)?;
        finite("snow_water_equivalent", self.snow_water_equivalent)?;
        for k in 0..NSOIL {
            let (t, m, l) = (
                self.soil_temperature[k],
                self.soil_moisture[k],
                self.soil_liquid[k],
            );
            finite("soil_temperature", t)?;
            finite("soil_moisture", m)?;
            finite("soil_liquid", l)?;
            if !(150.0..=400.0).contains(&t) {
                return bad(format!(
                    "soil_temperature of layer {} is {t} K (outside 150..400 K)",
                    k + 1
                ));
            }
            if l > m + 1e-12 {
                return bad(format!(
                    "soil_liquid {l} > soil_moisture {m} in layer {}",
                    k + 1
                ));
            }
            if l < 0.0 {
                return bad(format!("soil_liquid {l} < 0 in layer {}", k + 1));
            }
            if m > p.smcmax + 1e-12 {
                return bad(format!(
                    "soil_moisture {m} exceeds porosity {} in layer {}",
                    p.smcmax,
                    k + 1
                ));
            }
            if m <= 0.0 {
                return bad(format!("soil_moisture {m} <= 0 in layer {}", k + 1));
            }
        }
        if !(150.0..=400.0).contains(&self.skin_temperature) {
            return bad(format!(
                "skin_temperature {} K outside 150..400 K",
                self.skin_temperature
            ));
        }
        if self.canopy_water < 0.0 {
            return bad(format!("canopy_water {} < 0", self.canopy_water));
        }
        if self.snow_water_equivalent < 0.0 || self.snow_depth < 0.0 {
            return bad(format!(
                "negative snow (swe {} m, depth {} m)",
                self.snow_water_equivalent, self.snow_depth
            ));
        }
        if self.snow_water_equivalent > 1e-7 && self.snow_depth < self.snow_water_equivalent {
            return bad(format!(
                "snow depth {} m is less than snow water equivalent {} m",
                self.snow_depth, self.snow_water_equivalent
            ));
        }
        Ok(())
    }
}
