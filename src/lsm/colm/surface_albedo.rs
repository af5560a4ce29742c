//! Surface albedos and canopy absorption factors for the next step: the role of CoLM's
//! `albland` for soil ground (Dai et al. 2003; CLM 3.0 technical note §3).
//!
//! With the sun up (μ > 0, used as max(μ, 0.001)) the ground albedo of [`super::ground_albedo`]
//! is the lower boundary of the [`super::two_stream`] canopy when the vegetated fraction
//! f_veg > 0.001; the canopy albedo is then mixed with the snow albedo by the buried fraction
//! w: α_v = (1 − w) α_v + w α_snow, and the surface α = (1 − f_veg) α_g + f_veg α_v. At night
//! every albedo and absorption factor is 0 (all light that still arrives is absorbed by the
//! ground), with CoLM's placeholders K = 1e-6, k_d = 0.718 and longwave gap fraction 1e-3.

use super::ground_albedo::{ground_albedo, snow_albedo, soil_albedo, SoilAlbedo};
use super::two_stream::{two_stream, LeafOptics, TwoStream};
use crate::lsm::LsmError;

/// The vegetation's radiative constants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VegOptics {
    /// Leaf reflectance and transmittance.
    pub leaf: LeafOptics,
    /// Leaf angle distribution χ_L (-).
    pub chil: f64,
}

/// Surface state the albedos depend on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlbedoState {
    /// Vegetated fraction f_veg (-).
    pub fveg: f64,
    /// Green leaf fraction (-).
    pub green: f64,
    /// Leaf and stem area index (m2 m-2).
    pub lai: f64,
    /// Stem area index (m2 m-2).
    pub sai: f64,
    /// Cosine of the solar zenith angle (-).
    pub coszen: f64,
    /// Fraction of the vegetation buried by snow (-).
    pub wt: f64,
    /// Snow-covered fraction of the ground (-).
    pub fsno: f64,
    /// Snow water equivalent (mm).
    pub scv: f64,
    /// Non-dimensional snow age (-).
    pub sag: f64,
    /// Volumetric liquid water of the top soil layer, ≤ 1 (m3 m-3).
    pub ssw: f64,
}

/// Albedos [band][dir/dif] and the canopy's absorption factors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SurfaceAlbedo {
    /// Surface albedo.
    pub alb: [[f64; 2]; 2],
    /// Ground albedo.
    pub albg: [[f64; 2]; 2],
    /// Canopy (vegetation) albedo after snow burial.
    pub albv: [[f64; 2]; 2],
    /// Canopy radiation (absorption by sunlit and shaded leaves, extinction, gap fraction).
    pub canopy: TwoStream,
}

/// Albedos of a soil-ground patch with soil albedos `soil` and vegetation `veg`.
pub fn surface_albedo(
    soil: &SoilAlbedo,
    veg: &VegOptics,
    s: &AlbedoState,
) -> Result<SurfaceAlbedo, LsmError> {
    let zero = [[0.0; 2]; 2];
    let mut out = SurfaceAlbedo {
        alb: zero,
        albg: zero,
        albv: zero,
        canopy: TwoStream {
            albv: zero,
            tranc: zero,
            ssun: zero,
            ssha: zero,
            extkb: 1e-6,
            extkd: 0.718,
            thermk: 1e-3,
        },
    };
    if s.coszen.is_nan() {
        return Err(LsmError::State(
            "CoLM surface albedo: cosine of the zenith angle is NaN".into(),
        ));
    }
    if s.coszen <= 0.0 {
        return Ok(out);
    }
    let czen = s.coszen.max(0.001);
    let snow = snow_albedo(s.scv, s.sag, czen);
    out.albg = ground_albedo(&soil_albedo(soil, s.ssw), &snow, s.fsno);
    out.alb = out.albg;
    if s.fveg > 0.001 {
        out.canopy = two_stream(&veg.leaf, s.green, veg.chil, s.lai, s.sai, czen, &out.albg)?;
        let mix = |a: &[[f64; 2]; 2], b: &[[f64; 2]; 2], w: f64| -> [[f64; 2]; 2] {
            std::array::from_fn(|i| std::array::from_fn(|j| (1.0 - w) * a[i][j] + w * b[i][j]))
        };
        out.albv = mix(&out.canopy.albv, &snow, s.wt);
        out.alb = mix(&out.albg, &out.albv, s.fveg);
    }
    Ok(out)
}
