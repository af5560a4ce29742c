//! Distances on the sphere.

/// Great-circle distance (km) on a sphere of radius 6371 km.
pub fn distance_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0 * a.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_degree_of_latitude() {
        let d = distance_km(10.0, 20.0, 11.0, 20.0);
        assert!((d - 6371.0 * 1f64.to_radians()).abs() < 1e-9, "{d}");
        assert_eq!(distance_km(5.0, 5.0, 5.0, 5.0), 0.0);
    }
}
