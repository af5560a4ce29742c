//! Deterministic test fields without `rand`, shared by the transform and image tests.
#![allow(dead_code)]

/// splitmix64 uniform numbers in (-0.5, 0.5).
pub fn noise(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9E3779B97F4A7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
            z ^= z >> 31;
            (z >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
        .collect()
}

/// Standard normal deviates (Box–Muller on `noise`).
pub fn normals(n: usize, seed: u64) -> Vec<f64> {
    let u = noise(2 * n, seed);
    (0..n)
        .map(|i| {
            let (a, b) = (u[2 * i] + 0.5, u[2 * i + 1] + 0.5);
            (-2.0 * a.max(1e-300).ln()).sqrt() * (std::f64::consts::TAU * b).cos()
        })
        .collect()
}
