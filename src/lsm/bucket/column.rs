//! The bucket's processes, one function each, in the order of a step: infiltration,
//! evapotranspiration, gravity drainage, then temperature relaxation.
//!
//! Water is moved as depths (m of water) between layers, so every amount that leaves one
//! store enters another or a flux term and the water balance closes to round-off.

use super::soil::BucketParams;

/// Density of liquid water (kg m-3): converts depths of water (m) to kg m-2.
pub const RHO_WATER: f64 = 1000.0;
/// Latent heat of vaporisation (J kg-1): converts evaporation to a latent heat flux.
pub const LATENT_HEAT: f64 = 2.5e6;

/// Water amounts of one step (m of water over the step, positive out of the column except
/// `infiltration`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WaterAmounts {
    /// Precipitation that entered the top layer (m).
    pub infiltration: f64,
    /// Precipitation the top layer could not hold: surface runoff (m).
    pub surface_runoff: f64,
    /// Evapotranspiration from all layers (m).
    pub evapotranspiration: f64,
    /// Drainage out of the bottom layer: subsurface runoff (m).
    pub subsurface_runoff: f64,
}

/// Puts `precip_m` (m of water) into the top layer up to porosity; returns (infiltrated,
/// surface runoff), which add up to `precip_m`.
pub fn infiltrate(p: &BucketParams, theta: &mut [f64], dz: &[f64], precip_m: f64) -> (f64, f64) {
    let room = ((p.porosity - theta[0]) * dz[0]).max(0.0);
    let infiltrated = precip_m.min(room);
    theta[0] += infiltrated / dz[0];
    (infiltrated, precip_m - infiltrated)
}

/// Takes up to `potential_m` (m of water) of evapotranspiration from the layers with weight
/// `weights[k]`, each scaled by its soil-moisture stress (0 at the wilting point, 1 at field
/// capacity) and never below the wilting point. Returns the amount taken (m).
pub fn evapotranspire(
    p: &BucketParams,
    theta: &mut [f64],
    dz: &[f64],
    weights: &[f64],
    potential_m: f64,
) -> f64 {
    let mut total = 0.0;
    for ((th, &d), &w) in theta.iter_mut().zip(dz).zip(weights) {
        if w <= 0.0 {
            continue;
        }
        let stress =
            ((*th - p.wilting_point) / (p.field_capacity - p.wilting_point)).clamp(0.0, 1.0);
        let available = ((*th - p.wilting_point) * d).max(0.0);
        let taken = (potential_m * w * stress).min(available);
        *th -= taken / d;
        total += taken;
    }
    total
}

/// Linear gravity drainage above field capacity: layer k loses the fraction `decay` of its
/// excess (θ_k − θ_fc)+ to layer k+1, at most what k+1 can still hold; the bottom layer's
/// drainage leaves the column. Layers are done bottom up so each receiver has already
/// drained. Returns the subsurface runoff (m).
pub fn drain(p: &BucketParams, theta: &mut [f64], dz: &[f64], decay: f64) -> f64 {
    let n = theta.len();
    let mut leaving = 0.0;
    for k in (0..n).rev() {
        let wanted = (theta[k] - p.field_capacity).max(0.0) * decay * dz[k];
        let moved = if k + 1 == n {
            leaving = wanted;
            wanted
        } else {
            let room = ((p.porosity - theta[k + 1]) * dz[k + 1]).max(0.0);
            let moved = wanted.min(room);
            theta[k + 1] += moved / dz[k + 1];
            moved
        };
        theta[k] -= moved / dz[k];
    }
    leaving
}

/// Relaxes `t` toward `target` with time constant `tau` (s) over `dt` (s), exactly
/// (exponential decay), so any step length is stable.
pub fn relax(t: f64, target: f64, tau: f64, dt: f64) -> f64 {
    target + (t - target) * (-dt / tau).exp()
}

/// Column water storage (m of water): Σ θ_k Δz_k.
pub fn storage_m(theta: &[f64], dz: &[f64]) -> f64 {
    theta.iter().zip(dz).map(|(t, d)| t * d).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsm::bucket::soil::stas_params;

    #[test]
    fn each_process_conserves_water() {
        let p = stas_params(6).unwrap();
        let dz = [0.05, 0.2, 0.5];
        let mut th = [0.40, 0.45, 0.30];
        let s0 = storage_m(&th, &dz);
        let (inf, run) = infiltrate(&p, &mut th, &dz, 0.01);
        assert!((inf + run - 0.01).abs() < 1e-18 && run > 0.0);
        assert!((th[0] - p.porosity).abs() < 1e-15);
        let s1 = storage_m(&th, &dz);
        assert!((s1 - s0 - inf).abs() < 1e-15);
        let et = evapotranspire(&p, &mut th, &dz, &[0.5, 0.5, 0.0], 0.002);
        let s2 = storage_m(&th, &dz);
        assert!((s1 - s2 - et).abs() < 1e-15 && et > 0.0);
        let q = drain(&p, &mut th, &dz, 0.5);
        let s3 = storage_m(&th, &dz);
        assert!((s2 - s3 - q).abs() < 1e-15 && q > 0.0);
        assert!(th.iter().all(|&t| t <= p.porosity + 1e-15));
    }

    #[test]
    fn evapotranspiration_stops_at_the_wilting_point() {
        let p = stas_params(3).unwrap();
        let dz = [0.1];
        let mut th = [p.wilting_point + 0.001];
        let et = evapotranspire(&p, &mut th, &dz, &[1.0], 1.0);
        assert!((et - 0.0001).abs() < 1e-15);
        assert!((th[0] - p.wilting_point).abs() < 1e-15);
        let mut dry = [p.residual];
        assert_eq!(evapotranspire(&p, &mut dry, &dz, &[1.0], 1.0), 0.0);
        assert_eq!(dry[0], p.residual);
    }
}
