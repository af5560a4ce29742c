//! CoLM2014's vegetation constants of the 24 USGS land-cover classes (the USGS table of
//! CoLM's `IniTimeConst`; Dai et al. 2003 and 2004; V_max25 after Bonan et al. 2011, J. Geophys. Res. 116, G02014, Table 2;
//! root profiles of Schenk & Jackson 2002). Constant across classes: sqrtdi 5 m^-1/2, s_h 0.3,
//! s_l 0.2, trda 1.3, trdm 328 K, T_opt 298 K, extkn 0.5 (listed; CoLM2014's big-leaf scaling
//! uses 0.110 instead). Quantum efficiency 0.05, Ball–Berry slope 4 and intercept 0.04 (C4)
//! for classes 20–24; 0.08, 9 and 0.01 (C3) for the others.

use super::photosynthesis::PhotoParams;
use super::surface_albedo::VegOptics;
use super::two_stream::LeafOptics;
use crate::lsm::LsmError;

/// Number of USGS classes.
pub const NCLASS: usize = 24;

/// Kind of surface a class stands for (CoLM's itypwat).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SurfaceType {
    /// Soil ground (0).
    Soil,
    /// Urban and built-up (1).
    Urban,
    /// Wetland (2).
    Wetland,
    /// Land ice (3).
    LandIce,
    /// Lake or other water body (4).
    Water,
}

/// The constants of one class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VegParams {
    /// Momentum roughness length (m).
    pub z0m: f64,
    /// Displacement height (m).
    pub displa: f64,
    /// Inverse square root of the leaf dimension (m^-1/2).
    pub sqrtdi: f64,
    /// Radiative constants (leaf optics and χ_L).
    pub optics: VegOptics,
    /// Photosynthesis constants.
    pub photo: PhotoParams,
    /// Leaf nitrogen extinction as listed (-).
    pub extkn: f64,
    /// Depth above which half the roots lie (cm).
    pub d50: f64,
    /// Depth above which 95 % of the roots lie (cm).
    pub d95: f64,
    /// Shape of the root profile (-).
    pub root_shape: f64,
    /// The surface type of the class.
    pub surface: SurfaceType,
}

/// Per class: z0m, displa, χ_L, ρ (vis live, vis dead, nir live, nir dead), τ (same order),
/// V_max25 (µmol m-2 s-1), quantum efficiency, Ball–Berry slope and intercept, high and low
/// temperature half points (K), d50, d95 (cm), root shape.
const TABLE: [[f64; 20]; NCLASS] = [
    //  1 urban and built-up
    [
        0.1, 0.667, -0.3, 0.105, 0.36, 0.58, 0.58, 0.07, 0.22, 0.25, 0.38, 100.0, 0.08, 9.0, 0.01,
        308.0, 281.0, 23.0, 121.0, -1.757,
    ],
    //  2 dryland cropland and pasture
    [
        0.1, 0.667, -0.3, 0.105, 0.36, 0.58, 0.58, 0.07, 0.22, 0.25, 0.38, 57.0, 0.08, 9.0, 0.01,
        308.0, 281.0, 21.0, 104.0, -1.835,
    ],
    //  3 irrigated cropland and pasture
    [
        0.1, 0.667, -0.3, 0.105, 0.36, 0.58, 0.58, 0.07, 0.22, 0.25, 0.38, 57.0, 0.08, 9.0, 0.01,
        308.0, 281.0, 23.0, 121.0, -1.757,
    ],
    //  4 mixed dryland/irrigated cropland
    [
        0.1, 0.667, -0.3, 0.105, 0.36, 0.58, 0.58, 0.07, 0.22, 0.25, 0.38, 57.0, 0.08, 9.0, 0.01,
        308.0, 281.0, 22.0, 112.5, -1.796,
    ],
    //  5 cropland/grassland mosaic
    [
        0.1, 0.667, -0.3, 0.105, 0.36, 0.58, 0.58, 0.07, 0.22, 0.25, 0.38, 52.0, 0.08, 9.0, 0.01,
        308.0, 281.0, 15.7, 80.8, -1.577,
    ],
    //  6 cropland/woodland mosaic
    [
        0.1, 0.667, -0.3, 0.105, 0.36, 0.58, 0.58, 0.07, 0.22, 0.25, 0.38, 52.0, 0.08, 9.0, 0.01,
        308.0, 281.0, 19.0, 103.8, -1.738,
    ],
    //  7 grassland
    [
        0.1, 0.667, -0.3, 0.105, 0.36, 0.58, 0.58, 0.07, 0.22, 0.25, 0.38, 52.0, 0.08, 9.0, 0.01,
        308.0, 281.0, 9.3, 49.0, -1.359,
    ],
    //  8 shrubland
    [
        0.05, 0.333, 0.01, 0.1, 0.16, 0.45, 0.39, 0.07, 0.001, 0.25, 0.001, 52.0, 0.08, 9.0, 0.01,
        313.0, 283.0, 47.0, 302.0, -3.245,
    ],
    //  9 mixed shrubland/grassland
    [
        0.05, 0.333, 0.01, 0.1, 0.16, 0.45, 0.39, 0.07, 0.001, 0.25, 0.001, 52.0, 0.08, 9.0, 0.01,
        313.0, 283.0, 28.2, 175.5, -2.302,
    ],
    // 10 savanna
    [
        0.1, 0.667, -0.3, 0.105, 0.36, 0.58, 0.58, 0.07, 0.22, 0.25, 0.38, 52.0, 0.08, 9.0, 0.01,
        308.0, 281.0, 21.7, 99.3, -1.654,
    ],
    // 11 deciduous broadleaf forest
    [
        2.0, 13.333, 0.25, 0.1, 0.16, 0.45, 0.39, 0.05, 0.001, 0.25, 0.001, 52.0, 0.08, 9.0, 0.01,
        311.0, 283.0, 16.0, 95.0, -1.681,
    ],
    // 12 deciduous needleleaf forest
    [
        1.7, 11.333, 0.01, 0.07, 0.16, 0.35, 0.39, 0.05, 0.001, 0.1, 0.001, 57.0, 0.08, 9.0, 0.01,
        303.0, 278.0, 16.0, 95.0, -1.681,
    ],
    // 13 evergreen broadleaf forest
    [
        3.5, 23.333, 0.1, 0.1, 0.16, 0.45, 0.39, 0.05, 0.001, 0.25, 0.001, 72.0, 0.08, 9.0, 0.01,
        313.0, 288.0, 15.0, 91.0, -1.632,
    ],
    // 14 evergreen needleleaf forest
    [
        1.7, 11.333, 0.01, 0.07, 0.16, 0.35, 0.39, 0.05, 0.001, 0.1, 0.001, 54.0, 0.08, 9.0, 0.01,
        303.0, 278.0, 15.0, 91.0, -1.632,
    ],
    // 15 mixed forest
    [
        2.0, 13.333, 0.125, 0.07, 0.16, 0.4, 0.39, 0.05, 0.001, 0.15, 0.001, 52.0, 0.08, 9.0, 0.01,
        307.0, 281.0, 15.5, 93.0, -1.656,
    ],
    // 16 water bodies
    [
        0.1, 0.667, -0.3, 0.105, 0.36, 0.58, 0.58, 0.07, 0.22, 0.25, 0.38, 57.0, 0.08, 9.0, 0.01,
        308.0, 281.0, 1.0, 1.0, -1.0,
    ],
    // 17 herbaceous wetland
    [
        0.1, 0.667, -0.3, 0.105, 0.36, 0.58, 0.58, 0.07, 0.22, 0.25, 0.38, 52.0, 0.08, 9.0, 0.01,
        308.0, 281.0, 9.3, 49.0, -1.359,
    ],
    // 18 wooded wetland
    [
        3.5, 23.333, 0.1, 0.1, 0.16, 0.45, 0.39, 0.05, 0.001, 0.25, 0.001, 52.0, 0.08, 9.0, 0.01,
        313.0, 288.0, 15.5, 93.0, -1.656,
    ],
    // 19 barren or sparsely vegetated
    [
        0.05, 0.333, 0.01, 0.1, 0.16, 0.45, 0.39, 0.07, 0.001, 0.25, 0.001, 52.0, 0.08, 9.0, 0.01,
        313.0, 283.0, 27.0, 112.0, -2.051,
    ],
    // 20 herbaceous tundra
    [
        0.1, 0.667, -0.3, 0.105, 0.36, 0.58, 0.58, 0.07, 0.22, 0.25, 0.38, 52.0, 0.05, 4.0, 0.04,
        313.0, 288.0, 9.0, 29.0, -2.621,
    ],
    // 21 wooded tundra
    [
        0.1, 0.667, -0.3, 0.105, 0.36, 0.58, 0.58, 0.07, 0.22, 0.25, 0.38, 52.0, 0.05, 4.0, 0.04,
        313.0, 288.0, 9.0, 29.0, -2.621,
    ],
    // 22 mixed tundra
    [
        0.1, 0.667, -0.3, 0.105, 0.36, 0.58, 0.58, 0.07, 0.22, 0.25, 0.38, 52.0, 0.05, 4.0, 0.04,
        313.0, 288.0, 9.0, 29.0, -2.621,
    ],
    // 23 bare ground tundra
    [
        0.1, 0.667, -0.3, 0.105, 0.36, 0.58, 0.58, 0.07, 0.22, 0.25, 0.38, 52.0, 0.05, 4.0, 0.04,
        313.0, 288.0, 9.0, 29.0, -2.621,
    ],
    // 24 snow or ice
    [
        0.1, 0.667, -0.3, 0.105, 0.36, 0.58, 0.58, 0.07, 0.22, 0.25, 0.38, 52.0, 0.05, 4.0, 0.04,
        308.0, 281.0, 1.0, 1.0, -1.0,
    ],
];

/// The constants of USGS class `class` (1–24).
pub fn usgs(class: usize) -> Result<VegParams, LsmError> {
    if !(1..=NCLASS).contains(&class) {
        return Err(LsmError::Parameter(format!(
            "CoLM vegetation: USGS class {class} outside 1..{NCLASS}"
        )));
    }
    let r = &TABLE[class - 1];
    Ok(VegParams {
        z0m: r[0],
        displa: r[1],
        sqrtdi: 5.0,
        optics: VegOptics {
            leaf: LeafOptics {
                rho: [[r[3], r[4]], [r[5], r[6]]],
                tau: [[r[7], r[8]], [r[9], r[10]]],
            },
            chil: r[2],
        },
        photo: PhotoParams {
            effcon: r[12],
            vmax25: r[11] * 1e-6,
            slti: 0.2,
            hlti: r[16],
            shti: 0.3,
            hhti: r[15],
            trda: 1.3,
            trdm: 328.0,
            trop: 298.0,
            gradm: r[13],
            binter: r[14],
        },
        extkn: 0.5,
        d50: r[17],
        d95: r[18],
        root_shape: r[19],
        surface: surface_type(class),
    })
}

/// Surface type of a USGS class: urban 1, wetlands 17–18, ice 24, water 16, soil otherwise.
pub fn surface_type(class: usize) -> SurfaceType {
    match class {
        1 => SurfaceType::Urban,
        17 | 18 => SurfaceType::Wetland,
        24 => SurfaceType::LandIce,
        16 => SurfaceType::Water,
        _ => SurfaceType::Soil,
    }
}
