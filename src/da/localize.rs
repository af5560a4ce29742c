//! Covariance localisation: the Gaspari–Cohn compactly supported correlation that weighs a
//! neighbour's observation by its distance (R-localisation: its error variance enters as
//! R / ρ). Pure math.

/// Gaspari–Cohn (1999) fifth-order compactly supported correlation at distance `d` for
/// cut-off radius `cutoff` (ρ = 1 at 0, 0 from `cutoff` on; half-width c = cutoff / 2).
pub fn gaspari_cohn(d: f64, cutoff: f64) -> f64 {
    if cutoff <= 0.0 || !d.is_finite() {
        return 0.0;
    }
    let z = 2.0 * d.abs() / cutoff;
    if z >= 2.0 {
        0.0
    } else if z <= 1.0 {
        (((-0.25 * z + 0.5) * z + 0.625) * z - 5.0 / 3.0) * z * z + 1.0
    } else {
        ((((z / 12.0 - 0.5) * z + 0.625) * z + 5.0 / 3.0) * z - 5.0) * z + 4.0 - 2.0 / (3.0 * z)
    }
}

/// Neighbour observations with a smaller localisation weight are left out (their error
/// variance would be over 100 times R).
pub const MIN_LOCALIZATION_WEIGHT: f64 = 0.01;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaspari_cohn_limits() {
        assert_eq!(gaspari_cohn(0.0, 200.0), 1.0);
        assert_eq!(gaspari_cohn(200.0, 200.0), 0.0);
        let half = gaspari_cohn(100.0, 200.0);
        assert!((half - 0.2083333333333333).abs() < 1e-12, "{half}");
        assert!(gaspari_cohn(150.0, 200.0) < half);
    }
}
