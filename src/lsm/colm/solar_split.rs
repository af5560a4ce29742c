//! Broadband shortwave split into visible/near-infrared and direct/diffuse parts, as CoLM's
//! offline point driver does it (COLM.md §5; the empirical cloudiness and diffuse-fraction
//! rules of CoLM's forcing reader, after Weiss & Norman 1985 for the visible share).
//!
//! With s the cosine of the zenith angle at the start of the step: cloud = max(0.58,
//! clamp((1160 s − SW)/(963 s), 0, 1)); diffuse fraction f_d = clamp(0.0604/(s − 0.0223) +
//! 0.0683, 0, 1) + (1 − f_d) cloud; visible fraction f_v = (580 − 464 cloud)/((580 − 499
//! cloud) + (580 − 464 cloud)).

/// Shortwave `sw` (W m-2) split into [band (vis, nir)][direct, diffuse] (W m-2).
pub fn split_shortwave(sw: f64, coszen: f64) -> [[f64; 2]; 2] {
    let s = coszen;
    let cloud = ((1160.0 * s - sw) / (963.0 * s)).clamp(0.0, 1.0).max(0.58);
    let mut difrat = (0.0604 / (s - 0.0223) + 0.0683).clamp(0.0, 1.0);
    difrat += (1.0 - difrat) * cloud;
    let vnrat = (580.0 - 464.0 * cloud) / ((580.0 - 499.0 * cloud) + (580.0 - 464.0 * cloud));
    [
        [sw * (1.0 - difrat) * vnrat, sw * difrat * vnrat],
        [
            sw * (1.0 - difrat) * (1.0 - vnrat),
            sw * difrat * (1.0 - vnrat),
        ],
    ]
}
