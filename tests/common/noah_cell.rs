//! A single Noah loam cell and June 2020 times, shared by the DA tests that drive the
//! analysis stage in memory.

use chrono::{NaiveDate, NaiveDateTime};
use landcycle::lsm::CellStatics;

/// 2020-06-`d` `h`:`m`.
pub fn t(d: u32, h: u32, m: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2020, 6, d)
        .unwrap()
        .and_hms_opt(h, m, 0)
        .unwrap()
}

/// A loam cell with cropland at 38° N, 95° W.
pub fn loam_cell() -> CellStatics {
    CellStatics {
        latitude: 38.0,
        longitude: -95.0,
        soil_class: 6,
        vegetation_class: 7,
        slope_class: 1,
        green_fraction_monthly: [0.4; 12],
        albedo_monthly: [0.18; 12],
        deep_soil_temperature: 287.0,
        elevation: 300.0,
        max_snow_albedo: 0.7,
        soil_texture: None,
    }
}
