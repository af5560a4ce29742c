//! The smooth window pair and the radial/angular partitions of unity (SCIENCE.md §6).
//!
//! Everything here is evaluated once, when a plan is built; the transform itself only
//! multiplies by stored weights.

/// The normalised pair (l, r) on the unit interval: l rises from 0 to 1, r falls from 1
/// to 0, `l(t)² + r(t)² = 1` and `r(t) = l(1 − t)`.
pub fn window_pair(t: f64) -> (f64, f64) {
    if t <= 0.0 {
        return (0.0, 1.0);
    }
    if t >= 1.0 {
        return (1.0, 0.0);
    }
    let l = raw_left(t);
    let r = raw_left(1.0 - t);
    let n = (l * l + r * r).sqrt();
    (l / n, r / n)
}

/// Unnormalised rising profile exp(1 − 1/(1 − exp(1 − 1/(1 − t)))) on (0, 1).
fn raw_left(t: f64) -> f64 {
    if t <= 0.0 {
        return 0.0;
    }
    if t >= 1.0 {
        return 1.0;
    }
    let inner = (1.0 - 1.0 / (1.0 - t)).exp();
    // inner → 1 as t → 0, so 1/(1 − inner) → ∞ and the result → 0 without NaN.
    (1.0 - 1.0 / (1.0 - inner)).exp()
}

/// One-dimensional low-pass φ_L(k): 1 for |k| ≤ L/4, l((L/2 − |k|)/(L/4)) out to L/2, 0 beyond.
pub fn lowpass_1d(k: f64, big_l: f64) -> f64 {
    let a = k.abs();
    if a <= big_l / 4.0 {
        1.0
    } else if a >= big_l / 2.0 {
        0.0
    } else {
        window_pair((big_l / 2.0 - a) / (big_l / 4.0)).0
    }
}

/// Pseudo-angle of a non-zero frequency (k1 along axis 0, k2 along axis 1): a continuous
/// coordinate in [0, 8) that walks once around the square, two units per quadrant, linear
/// in the slope inside each quadrant. `u(−k) = u(k) + 4 (mod 8)`.
pub fn pseudo_angle(k1: f64, k2: f64) -> f64 {
    let (a1, a2) = (k1.abs(), k2.abs());
    if k1 > 0.0 && a2 <= a1 {
        1.0 + k2 / k1
    } else if k2 > 0.0 && a1 <= a2 {
        3.0 - k1 / k2
    } else if k1 < 0.0 && a2 <= a1 {
        5.0 + k2 / k1
    } else {
        // k2 < 0, |k1| ≤ |k2|
        let u = 7.0 - k1 / k2;
        if u >= 8.0 {
            u - 8.0
        } else {
            u
        }
    }
}

/// The (at most two) angular wedges covering pseudo-angle `u` when the circle is cut into
/// `n_angles` wedges of width Δ = 8/n_angles with smooth transitions of width Δ centred
/// on each boundary. Returns `[(wedge, weight); 2]`; the squared weights sum to one.
pub fn angular_weights(u: f64, n_angles: usize) -> [(usize, f64); 2] {
    let delta = 8.0 / n_angles as f64;
    let x = u / delta;
    let mut l0 = x.floor();
    let mut f = x - l0;
    if f >= 1.0 {
        // Guard against rounding of u/Δ.
        l0 += 1.0;
        f = 0.0;
    }
    let l0 = (l0 as i64).rem_euclid(n_angles as i64) as usize;
    let prev = (l0 + n_angles - 1) % n_angles;
    let next = (l0 + 1) % n_angles;
    if f < 0.5 {
        // Transition around the boundary between `prev` and `l0`.
        let (l, r) = window_pair(f + 0.5);
        [(prev, r), (l0, l)]
    } else {
        let (l, r) = window_pair(f - 0.5);
        [(l0, r), (next, l)]
    }
}

/// Smallest integer ≥ n whose only prime factors are 2, 3, 5 and 7.
pub fn next_smooth(n: usize) -> usize {
    let mut m = n.max(1);
    loop {
        let mut r = m;
        for p in [2, 3, 5, 7] {
            while r % p == 0 {
                r /= p;
            }
        }
        if r == 1 {
            return m;
        }
        m += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_is_power_complementary() {
        for i in 0..=1000 {
            let t = i as f64 / 1000.0;
            let (l, r) = window_pair(t);
            assert!((l * l + r * r - 1.0).abs() < 1e-15);
            let (l2, _) = window_pair(1.0 - t);
            assert!((l2 - r).abs() < 1e-15);
        }
    }

    #[test]
    fn smooth_sizes() {
        assert_eq!(next_smooth(11), 12);
        assert_eq!(next_smooth(97), 98);
        assert_eq!(next_smooth(1), 1);
        assert_eq!(next_smooth(121), 125);
    }

    #[test]
    fn angle_is_continuous_and_symmetric() {
        let pts = [
            (3.0, 1.0),
            (1.0, 3.0),
            (-2.0, 5.0),
            (-5.0, -1.0),
            (1.0, -4.0),
            (4.0, -4.0),
        ];
        for (a, b) in pts {
            let u = pseudo_angle(a, b);
            let v = pseudo_angle(-a, -b);
            assert!(
                ((v - u).rem_euclid(8.0) - 4.0).abs() < 1e-12,
                "{a} {b} {u} {v}"
            );
        }
        assert!((pseudo_angle(1.0, 1.0) - 2.0).abs() < 1e-15);
    }
}
