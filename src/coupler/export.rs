//! The land-export seam: what the atmosphere receives at the export time.

use chrono::NaiveDateTime;

use super::CouplerError;

/// The ensemble-mean land state at the export time on the root (COUPLING.md §2 table), f32
/// in every mode so any two transports can be bit-identical. Cells are the land cells in
/// ascending global id (`g = j·nx + i` of the land grid); layered fields are cell-major
/// (`[cell · n_layers + layer]`, top layer first).
#[derive(Debug, Clone, PartialEq)]
pub struct LandFields {
    /// The land grid (nx, ny).
    pub grid_dims: (usize, usize),
    pub ids: Vec<u64>,
    /// Soil layer thicknesses (m), top first.
    pub layer_thickness: Vec<f64>,
    /// SoilMoistV (m3 m-3).
    pub soil_moisture: Vec<f32>,
    /// SoilLiqV (m3 m-3).
    pub soil_liquid: Vec<f32>,
    /// SoilTemp (K).
    pub soil_temperature: Vec<f32>,
    /// AvgSurfT (K).
    pub skin_temperature: Vec<f32>,
    /// SWE (kg m-2).
    pub swe: Vec<f32>,
    /// SnowDepth (m).
    pub snow_depth: Vec<f32>,
    /// CanopInt (kg m-2).
    pub canopy_water: Vec<f32>,
}

impl LandFields {
    pub fn n_layers(&self) -> usize {
        self.layer_thickness.len()
    }
}

/// Where the exported land state goes (an exchange directory, a `wrfinput` copy, an MPMD
/// peer). Called on the root only, once per window at the export time, on the run's output
/// writer (in order with the history files; hence `Send`); an error stops the run like any
/// other output error. Exporting the same state twice (a cycle rerun after a
/// crash) must give the same result or refuse, never a different file under the same name.
pub trait LandExport: Send {
    fn export(&mut self, time: NaiveDateTime, fields: &LandFields) -> Result<(), CouplerError>;
}
