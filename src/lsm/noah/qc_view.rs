//! What the observation QC and the analysis read of a Noah cell: ensemble-mean frozen
//! water, temperatures and snow, the land cover, the seasonal green fraction, and the
//! surface hydraulic limits. Read-only views; no physics changes state here.

use chrono::{Datelike, NaiveDateTime, Timelike};

use super::params::NoahParams;
use super::snow;
use super::state::NoahState;
use crate::lsm::QcState;

/// Vegetation classes that count as forest for the model QC.
pub fn is_forest(vegetation_dataset: &str, class: i32) -> bool {
    match vegetation_dataset.to_ascii_uppercase().as_str() {
        // USGS 24-class: deciduous/evergreen broadleaf/needleleaf and mixed forest.
        "USGS" => (11..=15).contains(&class),
        // IGBP (MODIS): evergreen/deciduous needleleaf/broadleaf and mixed forests.
        s if s.contains("IGBP") || s.contains("MODIS") => (1..=5).contains(&class),
        _ => false,
    }
}

/// Days in month `m0` (0-based) of year `y`.
fn days_in(y: i32, m0: usize) -> f64 {
    let (ny, nm) = if m0 == 11 {
        (y + 1, 1)
    } else {
        (y, m0 as u32 + 2)
    };
    let first = chrono::NaiveDate::from_ymd_opt(y, m0 as u32 + 1, 1).expect("valid month");
    let next = chrono::NaiveDate::from_ymd_opt(ny, nm, 1).expect("valid month");
    (next - first).num_days() as f64
}

/// Green vegetation fraction at `t` from monthly values valid at mid-month, linear in
/// time to the second (the QC's view; the physics steps with the day-resolution
/// interpolation of `atmosphere::monthly_value`).
pub fn green_fraction_at(monthly: &[f64; 12], t: NaiveDateTime) -> f64 {
    let m0 = t.month0() as usize;
    let len = days_in(t.year(), m0);
    let day = f64::from(t.day0()) + f64::from(t.num_seconds_from_midnight()) / 86400.0;
    let mid = 0.5 * len;
    if day >= mid {
        let next = (m0 + 1) % 12;
        let (ny, nm0) = if m0 == 11 {
            (t.year() + 1, 0)
        } else {
            (t.year(), m0 + 1)
        };
        let span = mid + 0.5 * days_in(ny, nm0);
        let w = (day - mid) / span;
        (1.0 - w) * monthly[m0] + w * monthly[next]
    } else {
        let prev = (m0 + 11) % 12;
        let (py, pm0) = if m0 == 0 {
            (t.year() - 1, 11)
        } else {
            (t.year(), m0 - 1)
        };
        let span = mid + 0.5 * days_in(py, pm0);
        let w = (mid - day) / span;
        (1.0 - w) * monthly[m0] + w * monthly[prev]
    }
}

/// Ensemble means of the QC quantities over `members` (members summed in order).
pub fn qc_state(p: &NoahParams, members: &[NoahState], t: NaiveDateTime) -> QcState {
    let inv = 1.0 / members.len() as f64;
    let nl = p.sldpth.len();
    let mut frozen = vec![0.0; nl];
    let (mut skin, mut tsoil, mut swe, mut cover) = (0.0, 0.0, 0.0, 0.0);
    for s in members {
        for (k, f) in frozen.iter_mut().enumerate() {
            *f += (s.soil_moisture[k] - s.soil_liquid[k]) * inv;
        }
        skin += s.skin_temperature * inv;
        tsoil += s.soil_temperature[0] * inv;
        swe += s.snow_water_equivalent * inv;
        cover += snow::cover_fraction(s.snow_water_equivalent, p.snup, p.salp) * inv;
    }
    QcState {
        frozen,
        skin_temperature: skin,
        top_soil_temperature: tsoil,
        swe,
        snow_cover: cover,
        is_forest: p.forest,
        green_fraction: green_fraction_at(&p.green_fraction_monthly, t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn green_fraction_is_monthly_value_mid_month() {
        let mut m = [0.0; 12];
        m[5] = 0.6;
        m[6] = 0.8;
        let t = |d, h| {
            NaiveDate::from_ymd_opt(2020, 6, d)
                .unwrap()
                .and_hms_opt(h, 0, 0)
                .unwrap()
        };
        assert!((green_fraction_at(&m, t(16, 0)) - 0.6).abs() < 1e-12);
        let late = green_fraction_at(&m, t(30, 12));
        assert!(late > 0.6 && late < 0.8);
        let early = green_fraction_at(&m, t(1, 0));
        assert!(early < 0.6 && early > 0.0);
    }

    #[test]
    fn forest_classes() {
        assert!(is_forest("USGS", 13) && !is_forest("USGS", 2));
        assert!(
            is_forest("MODIFIED_IGBP_MODIS_NOAH", 1) && !is_forest("MODIFIED_IGBP_MODIS_NOAH", 12)
        );
    }
}
