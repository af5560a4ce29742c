//! Forcing-derived quantities the offline Noah driver computes before each step: specific
//! humidity from relative humidity (the NCEP Noah 2.7.1 formula), frozen-precipitation
//! flag, potential temperature at the forcing level, saturation humidity and its slope,
//! and the mid-month interpolation of monthly fields. The point driver evaluates these in
//! single precision (`*_f32`) because the reference driver does; gridded runs use f64.

use chrono::{Datelike, NaiveDate};

const EPS: f64 = 0.622;

/// Specific humidity (kg kg-1) from air temperature (K), pressure (Pa) and relative
/// humidity (fraction), capped just below saturation.
pub fn specific_humidity_from_rh_f32(t: f32, p: f32, rh: f32) -> f32 {
    let lw = 2.501e6f32 - (4187.0f32 - 1870.0f32) * (t - 273.15f32);
    let svp = 611.2f32 * (lw * (1.0f32 / 273.15f32 - 1.0f32 / t) / 461.5f32).exp();
    let qs = 0.622f32 * svp / (p - (1.0f32 - 0.622f32) * svp);
    let e = p * svp * rh / (p - svp * (1.0f32 - rh));
    let mut q = 0.622f32 * e / (p - (1.0f32 - 0.622f32) * e);
    q = q.max(1.0e-6f32);
    if q >= qs {
        q = 0.99f32 * qs;
    }
    q
}

/// Saturation specific humidity and its temperature derivative (Noah driver CALHUM), f32.
pub fn saturation_humidity_f32(t: f32, p: f32) -> (f32, f32) {
    let es = 611.0f32 * ((2.501e6f32 / 461.0f32) * (1.0f32 / 273.15f32 - 1.0f32 / t)).exp();
    let q2sat = 0.622f32 * es / (p - 0.378f32 * es);
    let a23m4 = 17.67f32 * (273.15f32 - 29.65f32);
    let dqsdt2 = q2sat * a23m4 / ((t - 29.65f32) * (t - 29.65f32));
    (q2sat, dqsdt2)
}

/// Saturation specific humidity and its temperature derivative (CALHUM), f64.
pub fn saturation_humidity(t: f64, p: f64) -> (f64, f64) {
    let es = 611.0 * ((2.501e6 / 461.0) * (1.0 / 273.15 - 1.0 / t)).exp();
    let q2sat = EPS * es / (p - 0.378 * es);
    let dqsdt2 = q2sat * 17.67 * (273.15 - 29.65) / ((t - 29.65) * (t - 29.65));
    (q2sat, dqsdt2)
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    let first = NaiveDate::from_ymd_opt(year, month, 1);
    match (first, next) {
        (Some(a), Some(b)) => (b - a).num_days() as u32,
        _ => 30,
    }
}

/// Interpolation weights of `date` between the monthly values valid on the 15th:
/// (previous month index 0..11, next month index, weight of next).
fn month_weights(date: NaiveDate) -> (usize, usize, f64, f64, f64) {
    let m = date.month();
    let d = date.day();
    let y = date.year();
    let idx = |mm: u32| (mm - 1) as usize;
    if d == 15 {
        return (idx(m), idx(m), 0.0, 1.0, 1.0);
    }
    if d < 15 {
        let (py, pm) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
        let nd = days_in_month(py, pm) as f64;
        (idx(pm), idx(m), nd - 15.0 + d as f64, nd, 0.0)
    } else {
        let nd = days_in_month(y, m) as f64;
        let post = if m == 12 { 1 } else { m + 1 };
        (idx(m), idx(post), d as f64 - 15.0, nd, 0.0)
    }
}

/// Value of a monthly field (valid on the 15th) on `date`, linearly interpolated by day.
pub fn monthly_value(values: &[f64; 12], date: NaiveDate) -> f64 {
    let (prev, post, num, den, _) = month_weights(date);
    if prev == post {
        return values[prev];
    }
    let f = num / den;
    values[prev] * (1.0 - f) + values[post] * f
}

/// As [`monthly_value`] in single precision (the point driver's arithmetic).
pub fn monthly_value_f32(values: &[f32; 12], date: NaiveDate) -> f32 {
    let (prev, post, num, den, _) = month_weights(date);
    if prev == post {
        return values[prev];
    }
    let f = num as f32 / den as f32;
    values[prev] * (1.0f32 - f) + values[post] * f
}
