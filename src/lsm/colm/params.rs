//! Per-layer soil parameters of the CoLM column (COLM.md §4): Clapp–Hornberger hydraulic
//! parameters (Clapp & Hornberger 1978; Cosby et al. 1984) and the thermal parameters of
//! Johansen's conductivity model (Farouki 1981), as CoLM's `soil_parameters_readin` hands
//! them to the physics.

use super::constants::NSOIL;
use crate::lsm::LsmError;

/// Hydraulic and thermal parameters of every soil layer (top first).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoilParams {
    /// Porosity, volumetric water at saturation θ_sat (m3 m-3).
    pub porsl: [f64; NSOIL],
    /// Saturated matric potential ψ_sat (mm, negative).
    pub psi0: [f64; NSOIL],
    /// Clapp–Hornberger exponent B (-).
    pub bsw: [f64; NSOIL],
    /// Saturated hydraulic conductivity K_sat (mm s-1).
    pub hksati: [f64; NSOIL],
    /// Volumetric heat capacity of the soil solids (J m-3 K-1).
    pub csol: [f64; NSOIL],
    /// Thermal conductivity of saturated unfrozen soil λ_sat (W m-1 K-1).
    pub dksatu: [f64; NSOIL],
    /// Thermal conductivity of dry soil λ_dry (W m-1 K-1).
    pub dkdry: [f64; NSOIL],
}

impl SoilParams {
    /// The same parameters in every layer.
    pub fn uniform(
        porsl: f64,
        psi0: f64,
        bsw: f64,
        hksati: f64,
        csol: f64,
        dksatu: f64,
        dkdry: f64,
    ) -> Self {
        Self {
            porsl: [porsl; NSOIL],
            psi0: [psi0; NSOIL],
            bsw: [bsw; NSOIL],
            hksati: [hksati; NSOIL],
            csol: [csol; NSOIL],
            dksatu: [dksatu; NSOIL],
            dkdry: [dkdry; NSOIL],
        }
    }

    /// Reject values the physics cannot use (a clear message naming layer and field).
    pub fn validate(&self) -> Result<(), LsmError> {
        for j in 0..NSOIL {
            let bad = |what: &str, v: f64| {
                LsmError::Parameter(format!("CoLM soil layer {}: {what} = {v}", j + 1))
            };
            let p = self.porsl[j];
            if !(p > 0.0 && p < 1.0) {
                return Err(bad("porosity porsl outside (0, 1)", p));
            }
            if !(self.psi0[j] < 0.0 && self.psi0[j].is_finite()) {
                return Err(bad(
                    "saturated matric potential psi0 not negative (mm)",
                    self.psi0[j],
                ));
            }
            if !(self.bsw[j] > 0.0 && self.bsw[j].is_finite()) {
                return Err(bad("Clapp-Hornberger bsw not positive", self.bsw[j]));
            }
            if !(self.hksati[j] >= 0.0 && self.hksati[j].is_finite()) {
                return Err(bad(
                    "saturated conductivity hksati negative (mm s-1)",
                    self.hksati[j],
                ));
            }
            if !(self.csol[j] > 0.0 && self.csol[j].is_finite()) {
                return Err(bad("solid heat capacity csol not positive", self.csol[j]));
            }
            if !(self.dkdry[j] > 0.0 && self.dksatu[j] >= self.dkdry[j]) {
                return Err(bad(
                    "thermal conductivities need 0 < dkdry <= dksatu; dkdry",
                    self.dkdry[j],
                ));
            }
        }
        Ok(())
    }

    /// Wilting point θ_sat (smpmax/ψ_sat)^(−1/B) of layer `j` (m3 m-3) (COLM.md §7).
    pub fn wilting_point(&self, j: usize, smpmax: f64) -> f64 {
        self.porsl[j] * (smpmax / self.psi0[j]).powf(-1.0 / self.bsw[j])
    }
}
