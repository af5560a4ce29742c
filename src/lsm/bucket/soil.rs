//! Soil water constants of the bucket per STATSGO (STAS) texture class.
//!
//! Porosity, field capacity (−33 kPa) and wilting point (−1500 kPa) of the USDA texture
//! classes are the class means of Rawls, Brakensiek and Saxton (1982, Trans. ASAE 25,
//! 1316–1320, their table 2), rounded to three decimals. Classes that study does not give
//! borrow a neighbour and say so; bedrock and land ice get nominal values that only keep the
//! toy running. Water (class 14) has no soil column and is refused.

use crate::lsm::LsmError;

/// (porosity, field capacity, wilting point) in m3 m-3, or `None` for a class without a
/// soil column; index 0 is class 1.
// Clay loam's field capacity 0.318 is a measurement that happens to be close to 1/π.
#[allow(clippy::approx_constant)]
const STAS: [Option<(f64, f64, f64)>; 16] = [
    Some((0.437, 0.091, 0.033)), // 1 sand
    Some((0.437, 0.125, 0.055)), // 2 loamy sand
    Some((0.453, 0.207, 0.095)), // 3 sandy loam
    Some((0.501, 0.330, 0.133)), // 4 silt loam
    Some((0.501, 0.330, 0.133)), // 5 silt: not in Rawls et al., silt loam's values
    Some((0.463, 0.270, 0.117)), // 6 loam
    Some((0.398, 0.255, 0.148)), // 7 sandy clay loam
    Some((0.471, 0.366, 0.208)), // 8 silty clay loam
    Some((0.464, 0.318, 0.197)), // 9 clay loam
    Some((0.430, 0.339, 0.239)), // 10 sandy clay
    Some((0.479, 0.387, 0.250)), // 11 silty clay
    Some((0.475, 0.396, 0.272)), // 12 clay
    Some((0.463, 0.270, 0.117)), // 13 organic material: loam's values (nominal)
    None,                        // 14 water
    Some((0.200, 0.100, 0.030)), // 15 bedrock (nominal)
    Some((0.437, 0.125, 0.055)), // 16 land ice: loamy sand's values (nominal)
];

/// Absolute floor of the lower soil-moisture bound (m3 m-3), for very sandy soils whose
/// half wilting point would be almost dry.
pub const MIN_RESIDUAL: f64 = 0.01;

/// Soil water constants of one cell (one soil class for the whole column).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketParams {
    /// STAS soil class the constants come from (1-based).
    pub soil_class: i32,
    /// Porosity: saturated volumetric water content, the upper bound (m3 m-3).
    pub porosity: f64,
    /// Field capacity: gravity drainage stops below it (m3 m-3).
    pub field_capacity: f64,
    /// Wilting point: evapotranspiration stops below it (m3 m-3).
    pub wilting_point: f64,
    /// Lower bound of soil moisture under increments, max(wilting point / 2,
    /// [`MIN_RESIDUAL`]) (m3 m-3). Below the wilting point so an analysis can dry a layer
    /// further than the physics would, above zero so a layer never empties.
    pub residual: f64,
}

/// The constants of STAS class `class` (1..=16); water and unknown classes are errors.
pub fn stas_params(class: i32) -> Result<BucketParams, LsmError> {
    let row = usize::try_from(class)
        .ok()
        .and_then(|c| c.checked_sub(1))
        .and_then(|i| STAS.get(i));
    match row {
        Some(Some((porosity, field_capacity, wilting_point))) => Ok(BucketParams {
            soil_class: class,
            porosity: *porosity,
            field_capacity: *field_capacity,
            wilting_point: *wilting_point,
            residual: (0.5 * wilting_point).max(MIN_RESIDUAL),
        }),
        Some(None) => Err(LsmError::Parameter(format!(
            "soil class {class} is water: the bucket has no column for it (mask the cell out)"
        ))),
        None => Err(LsmError::Parameter(format!(
            "soil class {class} is not a STAS class (1 to 16)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_soil_class_is_ordered_and_water_is_refused() {
        for c in (1..=16).filter(|&c| c != 14) {
            let p = stas_params(c).unwrap();
            assert!(
                0.0 < p.residual
                    && p.residual < p.wilting_point
                    && p.wilting_point < p.field_capacity
                    && p.field_capacity < p.porosity
                    && p.porosity < 1.0,
                "class {c}: {p:?}"
            );
        }
        for c in [0, 14, 17, -1] {
            assert!(matches!(stas_params(c), Err(LsmError::Parameter(_))), "{c}");
        }
    }
}
