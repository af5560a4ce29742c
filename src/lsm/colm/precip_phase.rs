//! Rain and snow from the forcing precipitation, the density of new snow and the temperature
//! of the precipitation: the role of CoLM's `rain_snow_temp` (Dai et al. 2003; TN §7.1 for
//! the new-snow density of Anderson 1976).
//!
//! Inputs: air temperature T_a (K), convective and large-scale precipitation (mm s-1), the
//! rain/snow threshold tcrit (K above T_f), the air's wet-bulb temperature (K; CoLM's
//! `wetbulb`, computed by the energy-balance driver with the saturation humidity `qsadv`).
//! Outputs: rain and snow of both kinds (mm s-1), the liquid fraction of the precipitation
//! f_l (-), the bulk density of new dry snow ρ_new (kg m-3), the precipitation temperature (K).

use super::constants::TFRZ;

/// Precipitation split into phases.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrecipPhase {
    /// Convective rain (mm s-1).
    pub prc_rain: f64,
    /// Convective snow (mm s-1).
    pub prc_snow: f64,
    /// Large-scale rain (mm s-1).
    pub prl_rain: f64,
    /// Large-scale snow (mm s-1).
    pub prl_snow: f64,
    /// Liquid fraction of the precipitation (-).
    pub flfall: f64,
    /// Bulk density of new dry snow (kg m-3).
    pub bifall: f64,
}

/// Liquid fraction of precipitation at air temperature `t` (K) below the rain threshold:
/// none at or below T_f, rising as 0.2 (T − T_f) (CoLM writes −54.632 + 0.2 T) up to T_f + 2 K,
/// 0.4 above.
pub fn liquid_fraction(t: f64) -> f64 {
    if t <= TFRZ {
        0.0
    } else if t <= TFRZ + 2.0 {
        -54.632 + 0.2 * t
    } else {
        0.4
    }
}

/// Density of new dry snow (kg m-3) at air temperature `t` (K), Anderson (1976):
/// 50 + 1.7 (T − T_f + 15)^1.5 between T_f − 15 K and T_f + 2 K, 50 below, 169 above.
pub fn new_snow_density(t: f64) -> f64 {
    if t > TFRZ + 2.0 {
        169.0
    } else if t > TFRZ - 15.0 {
        50.0 + 1.7 * (t - TFRZ + 15.0).powf(1.5)
    } else {
        50.0
    }
}

/// Split convective `prc` and large-scale `prl` precipitation (mm s-1) at air temperature
/// `t` (K): all rain above T_f + tcrit, else the liquid fraction of [`liquid_fraction`].
pub fn partition(t: f64, prc: f64, prl: f64, tcrit: f64) -> PrecipPhase {
    let (flfall, bifall) = if t > TFRZ + tcrit {
        (1.0, 169.0)
    } else {
        (liquid_fraction(t), new_snow_density(t))
    };
    PrecipPhase {
        prc_rain: prc * flfall,
        prc_snow: prc * (1.0 - flfall),
        prl_rain: prl * flfall,
        prl_snow: prl * (1.0 - flfall),
        flfall,
        bifall,
    }
}

/// Temperature of the precipitation (K) from the air temperature `t`, its wet-bulb
/// temperature `t_wet` and the liquid fraction `flfall`: above 275.65 K the wet bulb, not
/// below T_f; otherwise the wet bulb capped at T_f, or, when part of it is liquid,
/// T_f − √(1/f_l − 1)/100 (colder the less liquid falls).
pub fn precip_temperature(t: f64, t_wet: f64, flfall: f64) -> f64 {
    if t > 275.65 {
        t_wet.max(TFRZ)
    } else if flfall > 0.0 {
        TFRZ - ((1.0 / flfall) - 1.0).sqrt() / 100.0
    } else {
        t_wet.min(TFRZ)
    }
}
