//! Monin–Obukhov similarity for the surface layer after Zeng, Zhao & Dickinson (1998,
//! J. Climate 11, 2628, eqs. 8–15; also Oleson et al. 2004 §5.1): integrated flux–profile
//! relations with a free-convection branch for very unstable air (ζ < −1.574 for momentum,
//! ζ < −0.465 for scalars) and φ = 5 + ζ for very stable air (ζ > 1); the initial Obukhov
//! length from the bulk Richardson number. The role of CoLM's `FRICTION_VELOCITY`
//! (`moninobuk`, `moninobukini`, `psi`).

use super::constants::{GRAV, VONKAR};

/// Transition of the momentum profile to free convection (-).
pub const ZETA_M: f64 = 1.574;
/// Transition of the scalar profiles to free convection (-).
pub const ZETA_T: f64 = 0.465;

/// Paulson's stability correction for momentum in unstable air, χ = (1 − 16ζ)^¼.
pub fn psi_momentum(zeta: f64) -> f64 {
    let chik = (1.0 - 16.0 * zeta).powf(0.25);
    2.0 * ((1.0 + chik) * 0.5).ln() + ((1.0 + chik * chik) * 0.5).ln() - 2.0 * chik.atan()
        + 2.0 * 1f64.atan()
}

/// Paulson's stability correction for heat and moisture in unstable air.
pub fn psi_scalar(zeta: f64) -> f64 {
    let chik = (1.0 - 16.0 * zeta).powf(0.25);
    2.0 * ((1.0 + chik * chik) * 0.5).ln()
}

/// Integrated momentum profile function between `z0` and `zl` (height above the
/// displacement) for an Obukhov length `obu` (m).
pub fn profile_momentum(zl: f64, z0: f64, obu: f64) -> f64 {
    let zeta = zl / obu;
    if zeta < -ZETA_M {
        (-ZETA_M * obu / z0).ln() - psi_momentum(-ZETA_M)
            + psi_momentum(z0 / obu)
            + 1.14 * ((-zeta).powf(0.333) - ZETA_M.powf(0.333))
    } else if zeta < 0.0 {
        (zl / z0).ln() - psi_momentum(zeta) + psi_momentum(z0 / obu)
    } else if zeta <= 1.0 {
        (zl / z0).ln() + 5.0 * zeta - 5.0 * z0 / obu
    } else {
        stable_beyond_one(zeta, z0, obu)
    }
}

/// Integrated heat or moisture profile function (see [`profile_momentum`]).
pub fn profile_scalar(zl: f64, z0: f64, obu: f64) -> f64 {
    let zeta = zl / obu;
    if zeta < -ZETA_T {
        (-ZETA_T * obu / z0).ln() - psi_scalar(-ZETA_T)
            + psi_scalar(z0 / obu)
            + 0.8 * (ZETA_T.powf(-0.333) - (-zeta).powf(-0.333))
    } else if zeta < 0.0 {
        (zl / z0).ln() - psi_scalar(zeta) + psi_scalar(z0 / obu)
    } else if zeta <= 1.0 {
        (zl / z0).ln() + 5.0 * zeta - 5.0 * z0 / obu
    } else {
        stable_beyond_one(zeta, z0, obu)
    }
}

/// Very stable branch (φ = 5 + ζ), the same for momentum and scalars.
fn stable_beyond_one(zeta: f64, z0: f64, obu: f64) -> f64 {
    (obu / z0).ln() + 5.0 - 5.0 * z0 / obu + (5.0 * zeta.ln() + zeta - 1.0)
}

/// Integrated profile functions at the forcing heights and at the 10-m / 2-m diagnostic
/// heights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profiles {
    pub fm: f64,
    pub fh: f64,
    pub fq: f64,
    pub fm10m: f64,
    pub fh2m: f64,
    pub fq2m: f64,
}

/// Roughness lengths (m) for momentum, heat and moisture.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Roughness {
    pub z0m: f64,
    pub z0h: f64,
    pub z0q: f64,
}

/// Profile functions for wind, temperature and humidity heights `hu`, `ht`, `hq` (m) above
/// a displacement height `displa` (m). The diagnostic heights are 10 m + z0m and 2 m + z0h
/// (CoLM's convention; the 2-m humidity also uses 2 m + z0h).
pub fn profiles(hu: f64, ht: f64, hq: f64, displa: f64, z0: Roughness, obu: f64) -> Profiles {
    Profiles {
        fm: profile_momentum(hu - displa, z0.z0m, obu),
        fh: profile_scalar(ht - displa, z0.z0h, obu),
        fq: profile_scalar(hq - displa, z0.z0q, obu),
        fm10m: profile_momentum(10.0 + z0.z0m, z0.z0m, obu),
        fh2m: profile_scalar(2.0 + z0.z0h, z0.z0h, obu),
        fq2m: profile_scalar(2.0 + z0.z0h, z0.z0q, obu),
    }
}

/// Friction velocity (m s-1) for wind `um` (m s-1) and momentum profile function `fm`.
pub fn friction_velocity(um: f64, fm: f64) -> f64 {
    VONKAR * um / fm
}

/// First guess of the stability: the wind including a convective velocity of 0.5 m s-1 in
/// unstable air, and the Obukhov length from the bulk Richardson number (m).
/// `dthv` is the virtual potential temperature difference air − surface (K), `zldis` the
/// height above the displacement (m).
pub fn initial_obukhov(ur: f64, thv: f64, dthv: f64, zldis: f64, z0m: f64) -> (f64, f64) {
    let wc = 0.5;
    let um = if dthv >= 0.0 {
        ur.max(0.1)
    } else {
        (ur * ur + wc * wc).sqrt()
    };
    let rib = GRAV * zldis * dthv / (thv * um * um);
    let zeta = if rib >= 0.0 {
        (rib * (zldis / z0m).ln() / (1.0 - 5.0 * rib.min(0.19))).clamp(1e-6, 2.0)
    } else {
        (rib * (zldis / z0m).ln()).clamp(-100.0, -1e-6)
    };
    (um, zldis / zeta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutral_limit_is_logarithmic() {
        let (z, z0) = (6.0, 0.01);
        for obu in [1e9, -1e9] {
            assert!((profile_momentum(z, z0, obu) - (z / z0).ln()).abs() < 1e-6);
            assert!((profile_scalar(z, z0, obu) - (z / z0).ln()).abs() < 1e-6);
        }
        assert!(psi_momentum(0.0).abs() < 1e-15 && psi_scalar(0.0).abs() < 1e-15);
    }

    #[test]
    fn profiles_are_continuous_across_the_regimes() {
        let (z, z0) = (6.0, 0.01);
        // Obukhov lengths putting ζ just either side of −1.574, −0.465, 0 and 1.
        for zeta in [-ZETA_M, -ZETA_T, 1.0] {
            let (lo, hi) = (z / (zeta * (1.0 + 1e-9)), z / (zeta * (1.0 - 1e-9)));
            let dm = profile_momentum(z, z0, lo) - profile_momentum(z, z0, hi);
            let dh = profile_scalar(z, z0, lo) - profile_scalar(z, z0, hi);
            assert!(
                dm.abs() < 1e-6 && dh.abs() < 1e-6,
                "ζ = {zeta}: {dm:e} {dh:e}"
            );
        }
        // Stability lowers, instability raises the exchange.
        let neutral = (z / z0).ln();
        assert!(profile_momentum(z, z0, 20.0) > neutral);
        assert!(profile_momentum(z, z0, -20.0) < neutral);
    }

    #[test]
    fn initial_length_signs_follow_the_stratification() {
        let (_, stable) = initial_obukhov(3.0, 280.0, 2.0, 6.0, 0.01);
        let (um, unstable) = initial_obukhov(0.0, 280.0, -2.0, 6.0, 0.01);
        assert!(stable > 0.0 && unstable < 0.0);
        assert_eq!(um, 0.5);
    }
}

/// The surface layer after a flux solve: momentum roughness (m), z/L, bulk Richardson
/// number, u* (m s-1), θ* (K), q* (kg kg-1) and the integrated profile functions at the
/// forcing heights. The ground, the leaf solve and the step report the same set.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SurfaceLayerState {
    pub z0ma: f64,
    pub zol: f64,
    pub rib: f64,
    pub ustar: f64,
    pub tstar: f64,
    pub qstar: f64,
    pub fm: f64,
    pub fh: f64,
    pub fq: f64,
}

/// Bulk Richardson number from ζ, u*, the heat profile function and the wind speed, capped
/// at 5 as CoLM does.
pub fn bulk_richardson(zeta: f64, ustar: f64, fh: f64, um: f64) -> f64 {
    (zeta * ustar * ustar / (VONKAR * VONKAR / fh * um * um)).min(5.0)
}

/// A scalar at the 2-m diagnostic height from its value at the forcing height `xm`, its
/// difference `dx` across the layer and the profile functions at the two heights.
pub fn at_2m(xm: f64, dx: f64, f: f64, f2m: f64) -> f64 {
    xm + VONKAR / f * dx * (f2m / VONKAR - f / VONKAR)
}
