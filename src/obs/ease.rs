//! EASE-Grid 2.0 global 36 km grid (EPSG:6933) used by SMAP L2/L3 products.
//!
//! Projection: cylindrical equal-area on the WGS 84 ellipsoid, true scale at ±30°, central
//! meridian 0°. The 36 km grid has 406 rows × 964 columns of 36 032.220 840 584 m cells,
//! centred on the projection origin; row 0 is the northernmost row, column 0 starts at
//! 180° W. Formulas: Snyder (1987), *Map Projections — A Working Manual*, §10 (cylindrical
//! equal-area, ellipsoidal form) with the authalic-latitude series for the inverse.

/// WGS 84 semi-major axis (m).
const A: f64 = 6_378_137.0;
/// WGS 84 flattening.
const F: f64 = 1.0 / 298.257_223_563;
/// Latitude of true scale (degrees).
const STANDARD_PARALLEL: f64 = 30.0;

/// Rows of the global 36 km grid.
pub const ROWS_36KM: usize = 406;
/// Columns of the global 36 km grid.
pub const COLS_36KM: usize = 964;
/// Cell size of the 36 km grid (m).
pub const CELL_36KM_M: f64 = 36_032.220_840_584;

fn ecc() -> f64 {
    (F * (2.0 - F)).sqrt()
}

fn k0() -> f64 {
    let e = ecc();
    let s = STANDARD_PARALLEL.to_radians().sin();
    STANDARD_PARALLEL.to_radians().cos() / (1.0 - e * e * s * s).sqrt()
}

/// Snyder's q(φ) for the ellipsoid.
fn q_of(sin_phi: f64) -> f64 {
    let e = ecc();
    let es = e * sin_phi;
    (1.0 - e * e) * (sin_phi / (1.0 - es * es) - (1.0 / (2.0 * e)) * ((1.0 - es) / (1.0 + es)).ln())
}

/// Projected (x, y) in metres of (lat, lon) in degrees.
pub fn forward(lat: f64, lon: f64) -> (f64, f64) {
    let k = k0();
    let x = A * k * lon.to_radians();
    let y = A * q_of(lat.to_radians().sin()) / (2.0 * k);
    (x, y)
}

/// (lat, lon) in degrees of projected (x, y) in metres.
pub fn inverse(x: f64, y: f64) -> (f64, f64) {
    let e2 = F * (2.0 - F);
    let (e4, e6) = (e2 * e2, e2 * e2 * e2);
    let k = k0();
    let qp = q_of(1.0);
    let beta = (2.0 * y * k / (A * qp)).clamp(-1.0, 1.0).asin();
    let phi = beta
        + (e2 / 3.0 + 31.0 * e4 / 180.0 + 517.0 * e6 / 5040.0) * (2.0 * beta).sin()
        + (23.0 * e4 / 360.0 + 251.0 * e6 / 3780.0) * (4.0 * beta).sin()
        + (761.0 * e6 / 45360.0) * (6.0 * beta).sin();
    (phi.to_degrees(), (x / (A * k)).to_degrees())
}

/// Centre (lat, lon) of 36 km cell (row, column); `None` outside the grid.
pub fn cell_center_36km(row: usize, column: usize) -> Option<(f64, f64)> {
    if row >= ROWS_36KM || column >= COLS_36KM {
        return None;
    }
    let x0 = -(COLS_36KM as f64) * CELL_36KM_M / 2.0;
    let y0 = (ROWS_36KM as f64) * CELL_36KM_M / 2.0;
    let x = x0 + (column as f64 + 0.5) * CELL_36KM_M;
    let y = y0 - (row as f64 + 0.5) * CELL_36KM_M;
    Some(inverse(x, y))
}

/// (row, column) of the 36 km cell containing (lat, lon); `None` beyond the grid's
/// latitude limit (about ±85.04°).
pub fn cell_of_36km(lat: f64, lon: f64) -> Option<(usize, usize)> {
    if !lat.is_finite() || !lon.is_finite() || lat.abs() > 90.0 {
        return None;
    }
    let lon = (lon + 180.0).rem_euclid(360.0) - 180.0;
    let (x, y) = forward(lat, lon);
    let x0 = -(COLS_36KM as f64) * CELL_36KM_M / 2.0;
    let y0 = (ROWS_36KM as f64) * CELL_36KM_M / 2.0;
    let c = ((x - x0) / CELL_36KM_M).floor();
    let r = ((y0 - y) / CELL_36KM_M).floor();
    if r < 0.0 || r >= ROWS_36KM as f64 {
        return None;
    }
    Some((r as usize, (c.max(0.0) as usize).min(COLS_36KM - 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_inverse_round_trip() {
        for &(lat, lon) in &[(0.0, 0.0), (45.0, -120.0), (-70.5, 179.9), (84.9, 10.0)] {
            let (x, y) = forward(lat, lon);
            let (la, lo) = inverse(x, y);
            assert!((la - lat).abs() < 1e-8, "{lat} -> {la}");
            assert!((lo - lon).abs() < 1e-10);
        }
    }

    #[test]
    fn grid_is_symmetric_and_indexed_consistently() {
        let (lat0, lon0) = cell_center_36km(0, 0).unwrap();
        let (lat1, lon1) = cell_center_36km(ROWS_36KM - 1, COLS_36KM - 1).unwrap();
        assert!((lat0 + lat1).abs() < 1e-9 && (lon0 + lon1).abs() < 1e-9);
        assert!(lat0 > 85.0 - 1.5 && lat0 < 85.05);
        for &(r, c) in &[(0, 0), (100, 500), (405, 963), (203, 482)] {
            let (la, lo) = cell_center_36km(r, c).unwrap();
            assert_eq!(cell_of_36km(la, lo), Some((r, c)));
        }
        assert!(cell_center_36km(406, 0).is_none());
    }
}

/// The 36 km cells whose centres lie inside the box (inclusive), row-major order.
pub fn cells_in_box_36km(
    lat_min: f64,
    lat_max: f64,
    lon_min: f64,
    lon_max: f64,
) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for r in 0..ROWS_36KM {
        let (lat, _) = cell_center_36km(r, 0).expect("row inside the grid");
        if lat < lat_min || lat > lat_max {
            continue;
        }
        for c in 0..COLS_36KM {
            let (_, lon) = cell_center_36km(r, c).expect("cell inside the grid");
            if lon >= lon_min && lon <= lon_max {
                out.push((r, c));
            }
        }
    }
    out
}

#[cfg(test)]
mod box_tests {
    use super::*;

    #[test]
    fn box_holds_the_cells_whose_centres_it_contains() {
        let cells = cells_in_box_36km(35.0, 40.0, -100.0, -95.0);
        assert!(!cells.is_empty());
        for &(r, c) in &cells {
            let (la, lo) = cell_center_36km(r, c).unwrap();
            assert!((35.0..=40.0).contains(&la) && (-100.0..=-95.0).contains(&lo));
        }
        // Columns are 0.3734° apart: 5° of longitude holds 13 or 14 of them.
        let cols: std::collections::BTreeSet<usize> = cells.iter().map(|x| x.1).collect();
        assert!((13..=14).contains(&cols.len()), "{}", cols.len());
    }
}
