//! The state of one CoLM member behind `LandModel`: the column state of `column_step` (every
//! prognostic and carried quantity, snow layers included) and whether the time-dependent part
//! of a cold start (zenith, phenology, snow cover, albedos) is still to be made at the start
//! of the first step, where the time is known. Read-only views for the trait.

use super::super::column_step::ColumnState;
use super::super::constants::{DENH2O, DENICE, NSOIL};
use super::super::geometry::SoilGeometry;
use super::super::layers::soil;

/// One member's state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColmState {
    pub column: ColumnState,
    /// A cold start whose zenith, phenology and albedos wait for the first step's time.
    pub fresh: bool,
}

impl ColmState {
    /// Liquid water of soil layer `j` as volume fraction (m3 m-3).
    pub fn liquid(&self, g: &SoilGeometry, j: usize) -> f64 {
        self.column.layers.wliq[soil(j)] / (DENH2O * g.dz[j])
    }

    /// Ice of soil layer `j` as volume fraction (m3 m-3).
    pub fn ice(&self, g: &SoilGeometry, j: usize) -> f64 {
        self.column.layers.wice[soil(j)] / (DENICE * g.dz[j])
    }

    /// CoLM's total soil water h2osoi of layer `j`, liquid + ice (m3 m-3).
    pub fn total(&self, g: &SoilGeometry, j: usize) -> f64 {
        self.liquid(g, j) + self.ice(g, j)
    }

    /// Soil temperature of layer `j` (K).
    pub fn soil_temperature(&self, j: usize) -> f64 {
        self.column.layers.t[soil(j)]
    }

    /// Ground (top snow or soil layer) temperature (K).
    pub fn ground_temperature(&self) -> f64 {
        let l = &self.column.layers;
        l.t[l.top()]
    }

    /// Total water of the column (mm): canopy, snow without layers, snow layers and soil,
    /// aquifer, in a fixed order.
    pub fn total_water(&self) -> f64 {
        let c = &self.column;
        let l = &c.layers;
        let mut w = c.canopy.ldew + c.snow.scv;
        for j in 0..NSOIL {
            w += l.wice[soil(j)] + l.wliq[soil(j)];
        }
        w + c.wa
    }
}
