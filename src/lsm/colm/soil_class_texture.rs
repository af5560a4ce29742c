//! The texture of a STATSGO/WRF soil class (1–16) for CoLM's per-layer parameter rules: the
//! lookup a gridded run uses when its static file has soil classes and no texture fields.
//!
//! **Source.** Classes 1–12 are the twelve USDA texture classes. Each is a polygon in the
//! USDA texture triangle (Soil Survey Division Staff 1993, *Soil Survey Manual*, USDA
//! Handbook 18, ch. 3, the class definitions in sand, silt and clay %); a class's texture is
//! the centroid (area-weighted mean) of its polygon in (sand %, clay %), computed here from
//! the vertices below, so every number can be re-derived from the class definitions. The
//! silty clay loam of the Bondville reference (sand 10 %, clay 34 %) comes out as (10, 33.5).
//! Mineral classes take organic carbon 1 %, bulk density 1.40 g cm-3 and no gravel (the
//! Bondville reference's values: the classes say nothing about them).
//!
//! Classes without a texture get **nominal** values that only keep a column running, and
//! say so: 13 organic material — loam's sand and clay with 20 % organic carbon and bulk
//! density 0.40 g cm-3 (a peat-like mineral-organic mix); 15 bedrock and 16 other/land ice —
//! loamy sand (CoLM's glacier and bedrock branches are not built). 14 (water) has no soil
//! column and is an error.

use super::pedotransfer::Texture;
use crate::lsm::LsmError;

/// Vertices (sand %, clay %) of the USDA class polygons, classes 1–12 in STATSGO order.
const POLYGONS: [&[(f64, f64)]; 12] = [
    // 1 sand: silt + 1.5 clay < 15
    &[(85.0, 0.0), (100.0, 0.0), (90.0, 10.0)],
    // 2 loamy sand: silt + 1.5 clay ≥ 15 and silt + 2 clay < 30
    &[(70.0, 0.0), (85.0, 0.0), (90.0, 10.0), (85.0, 15.0)],
    // 3 sandy loam: clay 7–20 with sand > 52, or clay < 7 with silt < 50; silt + 2 clay ≥ 30
    &[
        (50.0, 0.0),
        (70.0, 0.0),
        (85.0, 15.0),
        (80.0, 20.0),
        (52.0, 20.0),
        (52.0, 7.0),
        (43.0, 7.0),
    ],
    // 4 silt loam: silt ≥ 50 with clay 12–27, or silt 50–80 with clay < 12
    &[
        (20.0, 0.0),
        (50.0, 0.0),
        (23.0, 27.0),
        (0.0, 27.0),
        (0.0, 12.0),
        (8.0, 12.0),
    ],
    // 5 silt: silt ≥ 80, clay < 12
    &[(0.0, 0.0), (20.0, 0.0), (8.0, 12.0), (0.0, 12.0)],
    // 6 loam: clay 7–27, silt 28–50, sand ≤ 52
    &[
        (43.0, 7.0),
        (52.0, 7.0),
        (52.0, 20.0),
        (45.0, 27.0),
        (23.0, 27.0),
    ],
    // 7 sandy clay loam: clay 20–35, silt < 28, sand > 45
    &[
        (52.0, 20.0),
        (80.0, 20.0),
        (65.0, 35.0),
        (45.0, 35.0),
        (45.0, 27.0),
    ],
    // 8 silty clay loam: clay 27–40, sand ≤ 20
    &[(0.0, 27.0), (20.0, 27.0), (20.0, 40.0), (0.0, 40.0)],
    // 9 clay loam: clay 27–40, sand 20–45
    &[(20.0, 27.0), (45.0, 27.0), (45.0, 40.0), (20.0, 40.0)],
    // 10 sandy clay: clay ≥ 35, sand ≥ 45
    &[(45.0, 35.0), (65.0, 35.0), (45.0, 55.0)],
    // 11 silty clay: clay ≥ 40, silt ≥ 40
    &[(0.0, 40.0), (20.0, 40.0), (0.0, 60.0)],
    // 12 clay: clay ≥ 40, sand ≤ 45, silt < 40
    &[
        (20.0, 40.0),
        (45.0, 40.0),
        (45.0, 55.0),
        (0.0, 100.0),
        (0.0, 60.0),
    ],
];

/// Area centroid (sand %, clay %) of a simple polygon (shoelace formula).
pub fn centroid(v: &[(f64, f64)]) -> (f64, f64) {
    let (mut a, mut cx, mut cy) = (0.0, 0.0, 0.0);
    for i in 0..v.len() {
        let (x0, y0) = v[i];
        let (x1, y1) = v[(i + 1) % v.len()];
        let cross = x0 * y1 - x1 * y0;
        a += cross;
        cx += (x0 + x1) * cross;
        cy += (y0 + y1) * cross;
    }
    (cx / (3.0 * a), cy / (3.0 * a))
}

/// The USDA polygon of texture class `class` (1–12).
pub fn class_polygon(class: usize) -> Option<&'static [(f64, f64)]> {
    POLYGONS.get(class.wrapping_sub(1)).copied()
}

fn mineral(class: usize) -> Texture {
    let (sand, clay) = centroid(POLYGONS[class - 1]);
    mineral_texture(sand, clay)
}

/// A mineral soil of `sand` and `clay` (%) with the lookup's organic carbon 1 %, bulk
/// density 1.40 g cm-3 and no gravel: the texture of a cell whose static file gives its
/// sand and clay (`PCT_SAND`, `PCT_CLAY`).
pub fn mineral_texture(sand: f64, clay: f64) -> Texture {
    Texture {
        sand,
        clay,
        soc: 1.0,
        bd: 1.40,
        gravel: 0.0,
    }
}

/// The texture of STATSGO soil class `class` (module doc); water and unknown classes are
/// errors.
pub fn texture_of_soil_class(class: i32) -> Result<Texture, LsmError> {
    match class {
        1..=12 => Ok(mineral(class as usize)),
        13 => Ok(Texture {
            soc: 20.0,
            bd: 0.40,
            ..mineral(6)
        }),
        15 | 16 => Ok(mineral(2)),
        14 => Err(LsmError::Parameter(
            "soil class 14 is water: CoLM has no soil column for it (mask the cell out)".into(),
        )),
        _ => Err(LsmError::Parameter(format!(
            "soil class {class} is not a STATSGO class (1 to 16)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_centroids_lie_in_their_class() {
        // The silty clay loam of the Bondville reference.
        let t = texture_of_soil_class(8).unwrap();
        assert!((t.sand - 10.0).abs() < 1e-12 && (t.clay - 33.5).abs() < 1e-12);
        for c in 1..=12 {
            let t = texture_of_soil_class(c).unwrap();
            assert!(
                t.sand >= 0.0 && t.clay >= 0.0 && t.sand + t.clay <= 100.0,
                "{c}"
            );
        }
        // Sand is the sandiest, clay the most clayey.
        let sand = |c| texture_of_soil_class(c).unwrap().sand;
        let clay = |c| texture_of_soil_class(c).unwrap().clay;
        assert!((2..=12).all(|c| sand(1) > sand(c)));
        assert!((1..=11).all(|c| clay(12) > clay(c)));
        assert!(texture_of_soil_class(14).is_err() && texture_of_soil_class(17).is_err());
    }

    #[test]
    fn the_polygons_tile_the_triangle() {
        let area = |v: &[(f64, f64)]| {
            (0..v.len())
                .map(|i| {
                    let (a, b) = (v[i], v[(i + 1) % v.len()]);
                    a.0 * b.1 - b.0 * a.1
                })
                .sum::<f64>()
                / 2.0
        };
        let total: f64 = POLYGONS.iter().map(|p| area(p)).sum();
        assert!((total - 5000.0).abs() < 1e-9, "{total}");
        assert!(POLYGONS.iter().all(|p| area(p) > 0.0));
    }
}
