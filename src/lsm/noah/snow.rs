//! Snow pack properties: cover fraction, albedo with ageing (Livneh et al. 2010), roughness
//! over snow, thermal conductivity, density of new snow and compaction (Anderson 1976 /
//! Koren et al. 1999), all as functions of explicit inputs.

use super::constants::TFREEZ;

/// Snow cover fraction from snow water equivalent `sneqv` (m), the vegetation's
/// full-cover threshold `snup` (m) and the distribution shape `salp`.
#[inline]
pub fn cover_fraction(sneqv: f64, snup: f64, salp: f64) -> f64 {
    if sneqv < snup {
        let r = sneqv / snup;
        1.0 - ((-salp * r).exp() - r * (-salp).exp())
    } else {
        1.0
    }
}

/// Albedo and emissivity of a partly snow-covered surface, and the updated snow age (s).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SnowSurface {
    pub albedo: f64,
    pub emissivity: f64,
    pub snow_age: f64,
}

/// Snow albedo decays with the time since the last snowfall; fresh snow resets it.
pub fn surface_albedo(
    albedo_bg: f64,
    snoalb: f64,
    emissivity_bg: f64,
    sncovr: f64,
    dt: f64,
    snowing: bool,
    snow_age: f64,
    lvcoef: f64,
) -> SnowSurface {
    const SNACCA: f64 = 0.94;
    const SNACCB: f64 = 0.58;
    let emissivity = emissivity_bg + sncovr * (super::constants::EMISSIVITY_SNOW - emissivity_bg);
    let fresh = snoalb + lvcoef * (0.85 - snoalb);
    let (age, aged) = if snowing {
        (0.0, fresh)
    } else {
        let age = snow_age + dt;
        (age, fresh * SNACCA.powf((age / 86400.0).powf(SNACCB)))
    };
    let snow_alb = aged.max(albedo_bg);
    let albedo = (albedo_bg + sncovr * (snow_alb - albedo_bg)).min(snow_alb);
    SnowSurface {
        albedo,
        emissivity,
        snow_age: age,
    }
}

/// Roughness length over partly snow-covered ground: snow buries the roughness elements.
#[inline]
pub fn roughness(sncovr: f64, z0_bg: f64, snowh: f64) -> f64 {
    const Z0S: f64 = 0.001;
    let burial = 7.0 * z0_bg - snowh;
    let z0eff = if burial <= 0.0007 { Z0S } else { burial / 7.0 };
    (1.0 - sncovr) * z0_bg + sncovr * z0eff
}

/// Snow thermal conductivity (W m-1 K-1) from density (g cm-3), Noah's doubled
/// Kondratyeva form.
#[inline]
pub fn conductivity(density: f64) -> f64 {
    const UNIT: f64 = 0.11631;
    let c = 0.328 * 10f64.powf(2.25 * density);
    2.0 * UNIT * c
}

/// Adds `new_swe` (m) of snow falling at air temperature `t_air` (K) to a pack of depth
/// `snowh` (m) and density `density` (g cm-3); returns (depth, density).
pub fn add_new_snow(t_air: f64, new_swe: f64, snowh: f64, density: f64) -> (f64, f64) {
    let snowhc = snowh * 100.0;
    let newsnc = new_swe * 100.0;
    let tempc = t_air - TFREEZ;
    // New-snow density after Gottlib (1980).
    let dsnew = if tempc <= -15.0 {
        0.05
    } else {
        0.05 + 0.0017 * (tempc + 15.0).powf(1.5)
    };
    let hnewc = newsnc / dsnew;
    let density = if snowhc + hnewc < 1.0e-3 {
        dsnew.max(density)
    } else {
        (snowhc * density + hnewc * dsnew) / (snowhc + hnewc)
    };
    ((snowhc + hnewc) * 0.01, density)
}

/// Compaction and melt-water densification of the pack over `dt` seconds; the pack of
/// `swe` (m) with surface temperature `t_snow` and soil-top temperature `t_soil`.
/// Returns (depth m, density g cm-3).
pub fn compact(swe: f64, dt: f64, density: f64, t_snow: f64, t_soil: f64) -> (f64, f64) {
    const C1: f64 = 0.01;
    const C2: f64 = 21.0;
    let esdc = swe * 100.0;
    let dthr = dt / 3600.0;
    let tsnowc = t_snow - TFREEZ;
    let tavgc = 0.5 * (tsnowc + (t_soil - TFREEZ));
    let esdcx = esdc.max(1.0e-2);
    // (e^x - 1)/x by its series, well behaved near x = 0 (Koren et al. 1999).
    let bfac = dthr * C1 * (0.08 * tavgc - C2 * density).exp();
    let mut pexp = 0.0;
    for j in (1..=4).rev() {
        pexp = (1.0 + pexp) * bfac * esdcx / (j + 1) as f64;
    }
    pexp += 1.0;
    let mut dens = (density * pexp).clamp(0.05, 0.40);
    if tsnowc >= 0.0 {
        // Liquid water retained during melt densifies the pack, up to 0.40.
        let dw = 0.13 * dthr / 24.0;
        dens = (dens * (1.0 - dw) + dw).min(0.40);
    }
    (esdc / dens * 0.01, dens)
}
