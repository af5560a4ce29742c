//! Snow cover of the ground and burial of the vegetation: the role of CoLM's `snowfraction`
//! (Niu & Yang 2007, J. Geophys. Res. 112, D21101, eq. 4 with m = 1 as in CLM 4.5; the
//! buried vegetation fraction of Dai et al. 2003).
//!
//! Ground: f_sno = tanh(d/(2.5 z_0g (ρ_sno/ρ_new)^m)) with snow depth d (m), bare-soil
//! roughness z_0g = zlnd (m), bulk snow density ρ_sno = W/d (W the SWE, mm) and ρ_new = 100
//! kg m-3; 0 without snow. Vegetation: buried fraction w = (0.1 d/z0m)/(1 + 0.1 d/z0m) when
//! the vegetated fraction f_veg > 0.001 (z0m the canopy roughness, m); vegetation above the
//! snow σ_f = (1 − w) f_veg, set to 0 below 0.001 and to 1 above 0.999.

/// Snow-cover fractions (all -).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SnowCover {
    /// Vegetation buried by snow.
    pub wt: f64,
    /// Vegetation above the snow.
    pub sigf: f64,
    /// Ground covered by snow.
    pub fsno: f64,
}

/// Snow-cover fractions from the vegetated fraction `fveg`, canopy roughness `z0m` (m),
/// ground roughness `zlnd` (m), SWE `scv` (mm) and depth `snowdp` (m).
pub fn snow_cover(fveg: f64, z0m: f64, zlnd: f64, scv: f64, snowdp: f64) -> SnowCover {
    let (wt, mut sigf) = if fveg > 0.001 {
        let w = 0.1 * snowdp / z0m;
        let w = w / (1.0 + w);
        (w, (1.0 - w) * fveg)
    } else {
        (0.0, 0.0)
    };
    if sigf < 0.001 {
        sigf = 0.0;
    }
    if sigf > 0.999 {
        sigf = 1.0;
    }
    let fsno = if snowdp > 0.0 {
        let fmelt = scv / snowdp / 100.0;
        (snowdp / (2.5 * zlnd * fmelt)).tanh()
    } else {
        0.0
    };
    SnowCover { wt, sigf, fsno }
}
