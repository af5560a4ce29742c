//! Albedo of the ground under and between the plants: the soil and snow part of CoLM's
//! `albland` (BATS, Dickinson et al. 1993, NCAR/TN-387; CLM 3.0 technical note, Oleson et al.
//! 2004, §3.2, eqs. 3.58–3.66).
//!
//! Soil: α = min(α_sat + max(0, 0.11 − 0.40 θ_1), α_dry) per band, the same for direct and
//! diffuse light (θ_1 the volumetric liquid water of the top layer). Snow: with the age
//! factor F_age = 1 − 1/(1 + τ_snow), diffuse α_vis = 0.85 (1 − 0.2 F_age), α_nir = 0.65 (1 −
//! 0.5 F_age); direct α + 0.4 f(μ)(1 − α) with f(μ) = max(0, (1 + 1/b)/(1 + 2bμ) − 1/b), b =
//! 2; no snow albedo without snow. Ground: (1 − f_sno) soil + f_sno snow. Arrays are
//! [band (visible, near-infrared)][direct, diffuse].

/// Soil albedos of a soil colour class: saturated and dry, per band (visible, near-infrared).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoilAlbedo {
    /// Albedo of saturated soil [vis, nir] (-).
    pub sat: [f64; 2],
    /// Albedo of dry soil [vis, nir] (-).
    pub dry: [f64; 2],
}

/// Soil albedo [band][dir/dif] for top-layer volumetric liquid water `ssw` (m3 m-3).
pub fn soil_albedo(soil: &SoilAlbedo, ssw: f64) -> [[f64; 2]; 2] {
    let inc = (0.11 - 0.40 * ssw).max(0.0);
    std::array::from_fn(|iw| [(soil.sat[iw] + inc).min(soil.dry[iw]); 2])
}

/// BATS snow albedo [band][dir/dif] for snow age `sag` (-) and sun at cosine `czen` (> 0);
/// zero without snow (`scv` ≤ 0 mm).
pub fn snow_albedo(scv: f64, sag: f64, czen: f64) -> [[f64; 2]; 2] {
    if scv <= 0.0 {
        return [[0.0; 2]; 2];
    }
    let sl = 2.0;
    let age = 1.0 - 1.0 / (1.0 + sag);
    let cff = ((1.0 + 1.0 / sl) / (1.0 + czen * 2.0 * sl) - 1.0 / sl).max(0.0);
    let dif_vis = 0.85 * (1.0 - 0.2 * age);
    let dif_nir = 0.65 * (1.0 - 0.5 * age);
    [
        [dif_vis + 0.4 * cff * (1.0 - dif_vis), dif_vis],
        [dif_nir + 0.4 * cff * (1.0 - dif_nir), dif_nir],
    ]
}

/// Ground albedo: soil and snow weighted by the snow-covered fraction `fsno`.
pub fn ground_albedo(soil: &[[f64; 2]; 2], snow: &[[f64; 2]; 2], fsno: f64) -> [[f64; 2]; 2] {
    std::array::from_fn(|iw| {
        std::array::from_fn(|id| (1.0 - fsno) * soil[iw][id] + fsno * snow[iw][id])
    })
}
