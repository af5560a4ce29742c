//! Leaf photosynthesis of C3 and C4 plants at a given intercellular CO₂: the biochemistry of
//! CoLM's `stomata` (Farquhar, von Caemmerer & Berry 1980; Collatz et al. 1991, Agric. For.
//! Meteorol. 54, 107 (C3); Collatz, Ribas-Carpio & Berry 1992, Aust. J. Plant Physiol. 19, 519
//! (C4); in the SiB2 form of Sellers et al. 1996, J. Climate 9, 676, and Dai et al. 2004, J.
//! Climate 17, 2281, §2c, with the leaf-to-canopy scaling factors of Dai et al. 2004).
//!
//! With q_t = (T_l − T_opt)/10: K_c = 30 · 2.1^{q_t} Pa, K_o = 30000 · 1.2^{q_t} Pa, Γ* = ½ O₂
//! /(2600 · 0.57^{q_t}) (C3, 0 for C4); V_m = V_max25 2.1^{q_t}/(1 + e^{s_h(T − T_h)}) β (C4
//! also /(1 + e^{s_l(T_l0 − T)})); J_max = 1.97 V_max25 e^{37e3 (T − T_opt)/(R T_opt T)} (1 +
//! e^{(710 T_opt − 220e3)/(R T_opt)})/(1 + e^{(710 T − 220e3)/(R T)}) β; electron transport J =
//! min(4.6e-6 ε PAR, J_max) (PAR in W m-2, 4.6 µmol J⁻¹); respiration R_d = (0.015 C3, 0.025
//! C4) V_max25 2^{q_t}/(1 + e^{trda(T − trdm)}) β; export limit ω_s = V_max25/2 · 1.8^{q_t}/(1 +
//! e^{s_l(T_l0 − T)}) β (C3) or V_max25/5 · 1.8^{q_t} β c_i (C4). Limits at c_i (Pa): Rubisco
//! ω_c = V_m (c_i − Γ*)/(c_i + K_c(1 + O₂/K_o)) (C4: V_m), light ω_e = J (c_i − Γ*)/(c_i + 2Γ*)
//! (C4: J); co-limitation by the smaller roots of 0.877 ω_p² − (ω_c + ω_e) ω_p + ω_c ω_e = 0 and
//! 0.95 A² − (ω_p + ω_s) A + ω_p ω_s = 0. V_m, R_d and ω_s are scaled from leaf to canopy by
//! c₁, J by c₂ (the `cint` integrals). Rates in mol CO₂ m-2 s-1.

use crate::lsm::LsmError;

/// Universal gas constant of the J_max temperature response (J mol-1 K-1).
const RGAS_MOL: f64 = 8.314;

/// Photosynthesis constants of a vegetation type (CoLM's USGS table columns).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhotoParams {
    /// Quantum efficiency ε (mol CO2 per mol quanta); > 0.07 marks a C3 plant.
    pub effcon: f64,
    /// Maximum carboxylation rate at 25 °C V_max25 (mol CO2 m-2 s-1).
    pub vmax25: f64,
    /// Slope of the low-temperature inhibition s_l (K-1).
    pub slti: f64,
    /// Half point of the low-temperature inhibition T_l0 (K).
    pub hlti: f64,
    /// Slope of the high-temperature inhibition s_h (K-1).
    pub shti: f64,
    /// Half point of the high-temperature inhibition T_h (K).
    pub hhti: f64,
    /// Respiration temperature slope trda (K-1).
    pub trda: f64,
    /// Respiration temperature half point trdm (K).
    pub trdm: f64,
    /// Reference temperature of the Q10 responses T_opt (K).
    pub trop: f64,
    /// Ball–Berry slope m (-).
    pub gradm: f64,
    /// Ball–Berry intercept b (mol m-2 s-1).
    pub binter: f64,
}

impl PhotoParams {
    /// C3 photosynthesis (quantum efficiency above 0.07), else C4.
    pub fn is_c3(&self) -> bool {
        self.effcon > 0.07
    }

    /// Reject constants the model cannot use.
    pub fn validate(&self) -> Result<(), LsmError> {
        let v = [
            self.effcon,
            self.vmax25,
            self.slti,
            self.hlti,
            self.shti,
            self.hhti,
            self.trda,
            self.trdm,
            self.trop,
            self.gradm,
            self.binter,
        ];
        if v.iter().any(|x| !x.is_finite()) || v.iter().any(|x| *x < 0.0) || self.trop <= 0.0 {
            return Err(LsmError::Parameter(format!(
                "CoLM photosynthesis constants must be finite and >= 0 (trop > 0): {self:?}"
            )));
        }
        if self.gradm <= 1.6 {
            return Err(LsmError::Parameter(format!(
                "CoLM Ball-Berry slope gradm = {} must exceed 1.6",
                self.gradm
            )));
        }
        Ok(())
    }
}

/// Temperature- and stress-adjusted capacities at one leaf temperature (canopy-scaled).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Capacities {
    /// CO2 compensation point Γ* (Pa).
    pub gammas: f64,
    /// K_c (1 + O2/K_o) (Pa; 0 for C4).
    pub rrkk: f64,
    /// Rubisco capacity V_m (mol m-2 s-1).
    pub vm: f64,
    /// Electron transport J (mol m-2 s-1).
    pub epar: f64,
    /// Dark respiration R_d (mol m-2 s-1).
    pub respc: f64,
    /// Export capacity (times c_i for C4) (mol m-2 s-1).
    pub omss: f64,
    /// Whether the plant is C3.
    pub c3: bool,
}

/// Capacities at leaf temperature `tlef` (K), O2 partial pressure `po2m` (Pa), absorbed
/// `par` (W m-2), soil-water stress `rstfac` (-) and the leaf-to-canopy factors `cint`.
pub fn capacities(
    p: &PhotoParams,
    tlef: f64,
    po2m: f64,
    par: f64,
    rstfac: f64,
    cint: &[f64; 3],
) -> Capacities {
    let c3 = p.is_c3();
    let qt = 0.1 * (tlef - p.trop);
    let kc = 30.0 * 2.1f64.powf(qt);
    let ko = 30000.0 * 1.2f64.powf(qt);
    let templ = 1.0 + (p.slti * (p.hlti - tlef)).exp();
    let temph = 1.0 + (p.shti * (tlef - p.hhti)).exp();
    let vm25 = p.vmax25 * 2.1f64.powf(qt);
    let vm = if c3 {
        vm25 / temph
    } else {
        vm25 / (templ * temph)
    } * rstfac;
    let arr = |t: f64| 1.0 + ((710.0 * t - 220e3) / (RGAS_MOL * t)).exp();
    let jmax =
        1.97 * p.vmax25 * (37e3 * (tlef - p.trop) / (RGAS_MOL * p.trop * tlef)).exp() * arr(p.trop)
            / arr(tlef)
            * rstfac
            * cint[1];
    let respcp = if c3 { 0.015 } else { 0.025 };
    let respc = respcp * p.vmax25 * 2.0f64.powf(qt) / (1.0 + (p.trda * (tlef - p.trdm)).exp());
    let omss = if c3 {
        p.vmax25 / 2.0 * 1.8f64.powf(qt) / templ
    } else {
        p.vmax25 / 5.0 * 1.8f64.powf(qt)
    };
    Capacities {
        gammas: if c3 {
            0.5 * po2m / (2600.0 * 0.57f64.powf(qt))
        } else {
            0.0
        },
        rrkk: if c3 { kc * (1.0 + po2m / ko) } else { 0.0 },
        vm: vm * cint[0],
        epar: (4.6e-6 * par * p.effcon).min(jmax),
        respc: respc * rstfac * cint[0],
        omss: omss * rstfac * cint[0],
        c3,
    }
}

/// Smaller root of θ x² − (a + b) x + a b = 0 (the co-limitation of two rates).
pub fn colimit(a: f64, b: f64, theta: f64) -> f64 {
    let disc = ((a + b).powi(2) - 4.0 * theta * a * b).max(0.0);
    ((a + b) - disc.sqrt()) / (2.0 * theta)
}

/// Gross assimilation (mol CO2 m-2 s-1) at intercellular CO2 `pco2i` (Pa).
pub fn gross_assimilation(c: &Capacities, pco2i: f64) -> f64 {
    let (omc, ome, oms) = if c.c3 {
        (
            c.vm * (pco2i - c.gammas) / (pco2i + c.rrkk),
            c.epar * (pco2i - c.gammas) / (pco2i + 2.0 * c.gammas),
            c.omss,
        )
    } else {
        (c.vm, c.epar, c.omss * pco2i)
    };
    colimit(colimit(ome, omc, 0.877), oms, 0.95)
}
