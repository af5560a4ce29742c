//! Naming of the history output (`run:history_naming`).

use serde::{Deserialize, Serialize};

/// Which naming convention history files follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HistoryNaming {
    /// ALMA names (`SoilMoist` in kg m-2, `SoilMoistV` in m3 m-3), CF dimensions.
    #[default]
    Alma,
    /// NASA LIS names (`SoilMoist_inst`, `SoilMoist_tavg` in m^3 m-3, `Qle_tavg`,
    /// `Tair_f_tavg`, ...) and LIS dimensions (`north_south`, `east_west`,
    /// `SoilMoist_profiles`).
    Lis,
}
