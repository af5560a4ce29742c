//! What a CoLM column takes from the static fields of its cell: per-layer soil parameters
//! from its texture (the static file's sand and clay, else its soil class's), the USGS vegetation constants and root fractions, the soil
//! albedo, position, and the per-layer soil-moisture bounds and wilting points the
//! assimilation reads.

use super::super::constants::{DENH2O, DENICE, NSOIL};
use super::super::geometry::SoilGeometry;
use super::super::ground_albedo::SoilAlbedo;
use super::super::params::SoilParams;
use super::super::pedotransfer::soil_params_from_texture;
use super::super::pedotransfer::Texture;
use super::super::root_fractions::root_fractions;
use super::super::soil_class_texture::{mineral_texture, texture_of_soil_class};
use super::super::soil_colour::soil_albedo_for_usgs;
use super::super::vegetation_usgs::{usgs, VegParams};
use super::super::Tunables;
use crate::lsm::noah::qc_view::is_forest;
use crate::lsm::{CellStatics, LsmError};

/// USGS class of water bodies: no land column.
const WATER: i32 = 16;

/// Lowest lower bound of soil moisture under increments (m3 m-3).
pub const MIN_RESIDUAL: f64 = 0.01;

/// Per-cell parameters of a CoLM column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColmCell {
    pub soil: SoilParams,
    pub rootfr: [f64; NSOIL],
    pub veg: VegParams,
    pub soil_albedo: SoilAlbedo,
    /// USGS vegetation class (1..=24).
    pub class: usize,
    /// Latitude and longitude (rad).
    pub lat: f64,
    pub lon: f64,
    pub forest: bool,
    /// Monthly green vegetation fraction of the static file (the QC's view, as Noah's).
    pub green_fraction_monthly: [f64; 12],
    /// Wilting point θ_sat (ψ_wilt/ψ_sat)^(−1/B) per layer (m3 m-3).
    pub wilt: [f64; NSOIL],
    /// Soil-moisture bounds per layer (m3 m-3): see [`bounds`].
    pub bounds: [(f64, f64); NSOIL],
}

/// Bounds of CoLM's total water θ = w_liq/(ρ_w Δz) + w_ice/(ρ_ice Δz) in layer `j`: from
/// half the wilting point (at least [`MIN_RESIDUAL`]) to the most a layer can hold as CoLM
/// counts it, pores full of ice, θ_sat ρ_w/ρ_ice (at most 1). Increments fill liquid only up
/// to θ_sat − θ_ice (`increment.rs`).
pub fn bounds(soil: &SoilParams, wilt: f64, j: usize) -> (f64, f64) {
    let hi = (soil.porsl[j] * DENH2O / DENICE).min(1.0);
    ((0.5 * wilt).max(MIN_RESIDUAL), hi)
}

/// The texture of a cell: the static file's sand and clay when it has them (with the class
/// lookup's organic carbon, bulk density and gravel), else its soil class's.
pub fn cell_texture(s: &CellStatics) -> Result<Texture, LsmError> {
    match s.soil_texture {
        Some(t) => Ok(mineral_texture(t.sand, t.clay)),
        None => texture_of_soil_class(s.soil_class),
    }
}

impl ColmCell {
    /// The cell's parameters from its statics on the soil `geometry`.
    pub fn from_statics(
        s: &CellStatics,
        geometry: &SoilGeometry,
        tun: &Tunables,
    ) -> Result<Self, LsmError> {
        if s.vegetation_class == WATER {
            return Err(LsmError::Parameter(
                "USGS class 16 is water: CoLM has no soil column for it (mask the cell out)".into(),
            ));
        }
        let class = usize::try_from(s.vegetation_class).unwrap_or(0);
        let veg = usgs(class)?;
        let texture = cell_texture(s)?;
        let soil = soil_params_from_texture(&[texture; 8], geometry)?;
        let wilt: [f64; NSOIL] = std::array::from_fn(|j| soil.wilting_point(j, tun.smpmax));
        Ok(ColmCell {
            rootfr: root_fractions(&geometry.zi, veg.d50, veg.root_shape)?,
            soil_albedo: soil_albedo_for_usgs(class)?,
            bounds: std::array::from_fn(|j| bounds(&soil, wilt[j], j)),
            soil,
            veg,
            class,
            lat: s.latitude.to_radians(),
            lon: s.longitude.to_radians(),
            forest: is_forest("USGS", s.vegetation_class),
            green_fraction_monthly: s.green_fraction_monthly,
            wilt,
        })
    }
}
