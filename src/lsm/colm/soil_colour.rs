//! Soil albedos from a soil colour class guessed from land cover: the role of CoLM2014's
//! `soil_color_refl` (SOIL_REFL_GUESSED). The 20 colour classes and their broadband
//! reflectances are those of Lawrence & Chase (2007, J. Geophys. Res. 112, G01023) as CLM uses
//! them; CoLM assigns one class to each USGS land-cover type.

use super::ground_albedo::SoilAlbedo;
use super::vegetation_usgs::NCLASS;
use crate::lsm::LsmError;

/// Number of soil colour classes (1 brightest … 20 darkest).
pub const NCOLOUR: usize = 20;

/// Saturated visible reflectance of colour class c (1-based): 0.26, 0.24, then 0.22 falling
/// by 0.01 per class to 0.04 at class 20.
const SAT_VIS: [f64; NCOLOUR] = [
    0.26, 0.24, 0.22, 0.20, 0.19, 0.18, 0.17, 0.16, 0.15, 0.14, 0.13, 0.12, 0.11, 0.10, 0.09, 0.08,
    0.07, 0.06, 0.05, 0.04,
];
/// Dry visible reflectance (saturated + 0.11).
const DRY_VIS: [f64; NCOLOUR] = [
    0.37, 0.35, 0.33, 0.31, 0.30, 0.29, 0.28, 0.27, 0.26, 0.25, 0.24, 0.23, 0.22, 0.21, 0.20, 0.19,
    0.18, 0.17, 0.16, 0.15,
];
/// Saturated near-infrared reflectance (twice the visible).
const SAT_NIR: [f64; NCOLOUR] = [
    0.52, 0.48, 0.44, 0.40, 0.38, 0.36, 0.34, 0.32, 0.30, 0.28, 0.26, 0.24, 0.22, 0.20, 0.18, 0.16,
    0.14, 0.12, 0.10, 0.08,
];
/// Dry near-infrared reflectance (saturated + 0.11).
const DRY_NIR: [f64; NCOLOUR] = [
    0.63, 0.59, 0.55, 0.51, 0.49, 0.47, 0.45, 0.43, 0.41, 0.39, 0.37, 0.35, 0.33, 0.31, 0.29, 0.27,
    0.25, 0.23, 0.21, 0.19,
];

/// Colour class CoLM guesses for USGS classes 1..=24 (water and ice get class 1; unused).
const USGS_COLOUR: [usize; NCLASS] = [
    16, 3, 9, 10, 4, 6, 2, 8, 7, 5, 19, 20, 18, 17, 16, 1, 15, 14, 1, 12, 12, 13, 11, 1,
];

/// The albedos of colour class `colour` (1..=20).
pub fn colour_albedo(colour: usize) -> Result<SoilAlbedo, LsmError> {
    if !(1..=NCOLOUR).contains(&colour) {
        return Err(LsmError::Parameter(format!(
            "soil colour class {colour} outside 1..={NCOLOUR}"
        )));
    }
    let c = colour - 1;
    Ok(SoilAlbedo {
        sat: [SAT_VIS[c], SAT_NIR[c]],
        dry: [DRY_VIS[c], DRY_NIR[c]],
    })
}

/// The colour class guessed for USGS class `class` (1..=24).
pub fn usgs_colour(class: usize) -> Result<usize, LsmError> {
    if !(1..=NCLASS).contains(&class) {
        return Err(LsmError::Parameter(format!(
            "USGS class {class} outside 1..={NCLASS}"
        )));
    }
    Ok(USGS_COLOUR[class - 1])
}

/// The soil albedos of USGS class `class` through its guessed colour.
pub fn soil_albedo_for_usgs(class: usize) -> Result<SoilAlbedo, LsmError> {
    colour_albedo(usgs_colour(class)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_structure() {
        for c in 0..NCOLOUR {
            assert!((DRY_VIS[c] - SAT_VIS[c] - 0.11).abs() < 1e-12);
            assert!((DRY_NIR[c] - SAT_NIR[c] - 0.11).abs() < 1e-12);
            assert!((SAT_NIR[c] - 2.0 * SAT_VIS[c]).abs() < 1e-12);
            if c > 0 {
                assert!(SAT_VIS[c] < SAT_VIS[c - 1]);
            }
        }
        assert!(colour_albedo(0).is_err() && colour_albedo(21).is_err());
        assert!(usgs_colour(0).is_err() && usgs_colour(25).is_err());
    }
}
