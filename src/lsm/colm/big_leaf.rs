//! Leaf-to-canopy scaling of the two big leaves, sunlit and shaded: the factors CoLM's
//! `LEAF_temperature` hands to `stomata` (Dai, Dickinson & Wang 2004, J. Climate 17, 2281, §2b,
//! eqs. 9–12).
//!
//! Leaf capacities decline into the canopy with the nitrogen profile e^{−k_n x} and the light
//! with e^{−k_d x}; a leaf at cumulative leaf area x is sunlit with probability e^{−Kx}.
//! Integrated over the canopy (LAI L), for the sunlit leaf: c₁ = (1 − e^{−(k_n + K)L})/(k_n +
//! K) (scales V_m, R_d and the export limit), c₂ = (1 − e^{−(K + k_d)L})/(K + k_d) (scales J),
//! c₃ = (1 − e^{−KL})/K (the sunlit leaf area; scales the Ball–Berry intercept); for the shaded
//! leaf the whole-canopy integrals (1 − e^{−k L})/k and L less the sunlit ones. CoLM2014 uses
//! k_n = 0.110 here, not the vegetation table's extkn.

/// Nitrogen extinction coefficient of the canopy scaling (CoLM2014's literal).
pub const EXTKN: f64 = 0.110;

/// Scaling factors (c₁, c₂, c₃) of the sunlit and the shaded leaf for LAI `lai`, direct
/// extinction `extkb` (> 0) and diffuse extinction `extkd` (> 0).
pub fn big_leaf_factors(lai: f64, extkb: f64, extkd: f64) -> ([f64; 3], [f64; 3]) {
    let integral = |k: f64| (1.0 - (-k * lai).exp()) / k;
    let sun = [
        integral(EXTKN + extkb),
        integral(extkb + extkd),
        integral(extkb),
    ];
    let sha = [
        integral(EXTKN) - sun[0],
        integral(extkd) - sun[1],
        lai - sun[2],
    ];
    (sun, sha)
}

/// Sunlit leaf area (1 − e^{−KL})/K and shaded leaf area L − sunlit (m2 m-2).
pub fn sunlit_shaded_lai(lai: f64, extkb: f64) -> (f64, f64) {
    let sun = (1.0 - (-extkb * lai).exp()) / extkb;
    (sun, lai - sun)
}
