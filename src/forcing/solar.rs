//! Solar geometry: declination, equation of time, hour angle, cosine of the solar zenith
//! angle, and its exact time mean over an interval.
//!
//! Declination and equation of time use Spencer's (1971) Fourier series in the fractional
//! year (accurate to about 0.0006 rad and 0.6 min), which is ample for distributing 3-hourly
//! shortwave over model steps.

use chrono::{Datelike, NaiveDateTime, Timelike};
use std::f64::consts::PI;

/// Angular speed of the hour angle (rad s-1).
const OMEGA: f64 = 2.0 * PI / 86_400.0;

/// Sun position for one time and place.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolarPosition {
    /// Solar declination (rad).
    pub declination: f64,
    /// Equation of time (minutes, apparent minus mean solar time).
    pub equation_of_time_minutes: f64,
    /// Hour angle (rad, 0 at local solar noon, positive in the afternoon), in [-pi, pi).
    pub hour_angle: f64,
    /// Cosine of the solar zenith angle (negative when the sun is below the horizon).
    pub cos_zenith: f64,
}

/// Fractional year (rad) of a UTC time.
fn fractional_year(t: NaiveDateTime) -> f64 {
    let days_in_year = if chrono::NaiveDate::from_ymd_opt(t.year(), 12, 31)
        .map(|d| d.ordinal())
        .unwrap_or(365)
        == 366
    {
        366.0
    } else {
        365.0
    };
    let hour = t.hour() as f64 + t.minute() as f64 / 60.0 + t.second() as f64 / 3600.0;
    2.0 * PI / days_in_year * (t.ordinal0() as f64 + (hour - 12.0) / 24.0)
}

/// Solar declination (rad) and equation of time (minutes) at a UTC time.
pub fn declination_and_equation_of_time(t: NaiveDateTime) -> (f64, f64) {
    let g = fractional_year(t);
    let decl = 0.006918 - 0.399912 * g.cos() + 0.070257 * g.sin() - 0.006758 * (2.0 * g).cos()
        + 0.000907 * (2.0 * g).sin()
        - 0.002697 * (3.0 * g).cos()
        + 0.00148 * (3.0 * g).sin();
    let eot = 229.18
        * (0.000075 + 0.001868 * g.cos()
            - 0.032077 * g.sin()
            - 0.014615 * (2.0 * g).cos()
            - 0.040849 * (2.0 * g).sin());
    (decl, eot)
}

/// Hour angle (rad, unwrapped: a continuous linear function of time) at UTC `t`, longitude
/// `lon_deg`, for a given equation of time (minutes). Counted from 00 UTC of `base_day` so the
/// numbers stay small and differences over short intervals keep full precision.
fn hour_angle_unwrapped(
    t: NaiveDateTime,
    base_day: NaiveDateTime,
    lon_deg: f64,
    eot_minutes: f64,
) -> f64 {
    hour_angle_from_seconds(seconds_since_midnight_of(t, base_day), lon_deg, eot_minutes)
}

/// Seconds from 00 UTC of the day of `base_day` to `t`.
#[inline]
fn seconds_since_midnight_of(t: NaiveDateTime, base_day: NaiveDateTime) -> f64 {
    let midnight = base_day
        .date()
        .and_hms_opt(0, 0, 0)
        .expect("valid midnight");
    (t - midnight).num_milliseconds() as f64 / 1000.0
}

/// Hour angle from seconds since 00 UTC of the base day (see [`hour_angle_unwrapped`]).
#[inline]
fn hour_angle_from_seconds(secs: f64, lon_deg: f64, eot_minutes: f64) -> f64 {
    // Solar time of day in seconds: UTC + longitude offset + equation of time.
    OMEGA * (secs + lon_deg * 240.0 + eot_minutes * 60.0 - 43_200.0)
}

/// Sun position at UTC time `t` for latitude/longitude in degrees.
pub fn solar_position(t: NaiveDateTime, lat_deg: f64, lon_deg: f64) -> SolarPosition {
    let (decl, eot) = declination_and_equation_of_time(t);
    let h = hour_angle_unwrapped(t, t, lon_deg, eot);
    let h = (h + PI).rem_euclid(2.0 * PI) - PI;
    let phi = lat_deg.to_radians();
    SolarPosition {
        declination: decl,
        equation_of_time_minutes: eot,
        hour_angle: h,
        cos_zenith: phi.sin() * decl.sin() + phi.cos() * decl.cos() * h.cos(),
    }
}

/// Cosine of the solar zenith angle (may be negative at night).
pub fn cos_zenith(t: NaiveDateTime, lat_deg: f64, lon_deg: f64) -> f64 {
    solar_position(t, lat_deg, lon_deg).cos_zenith
}

/// max(0, a + b cos h) over the hour angle h for one place and declination (b >= 0), with
/// its half day length computed once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DaylitCurve {
    a: f64,
    b: f64,
    /// Half day length (rad) and its sine; only used when the sun rises and sets.
    h0: f64,
    sin_h0: f64,
}

impl DaylitCurve {
    pub fn new(a: f64, b: f64) -> Self {
        let (h0, sin_h0) = if a >= b || a <= -b {
            (0.0, 0.0)
        } else {
            let h0 = (-a / b).clamp(-1.0, 1.0).acos(); // half day length, (0, pi)
            (h0, h0.sin())
        };
        DaylitCurve { a, b, h0, sin_h0 }
    }

    /// Integral of max(0, a + b cos h) from 0 to `h` (any real h).
    #[inline]
    pub fn integral(&self, h: f64) -> f64 {
        let (a, b, h0) = (self.a, self.b, self.h0);
        if a >= b {
            // Sun never sets.
            return a * h + b * h.sin();
        }
        if a <= -b {
            return 0.0;
        }
        let per_day = 2.0 * (a * h0 + b * self.sin_h0);
        let turns = ((h + PI) / (2.0 * PI)).floor();
        let hw = h - turns * 2.0 * PI; // in [-pi, pi)
        let c = hw.clamp(-h0, h0);
        // Integral from -pi to hw, then shift so the function is zero at h = 0.
        let from_minus_pi = a * c + b * c.sin() + (a * h0 + b * self.sin_h0);
        turns * per_day + from_minus_pi - 0.5 * per_day
    }

    /// Mean of max(0, a + b cos h) over hour angles [h1, h2]; the value at h1 when h2 <= h1.
    #[inline]
    pub fn mean(&self, h1: f64, h2: f64) -> f64 {
        if h2 <= h1 {
            return (self.a + self.b * h1.cos()).max(0.0);
        }
        ((self.integral(h2) - self.integral(h1)) / (h2 - h1)).max(0.0)
    }
}

/// Declination and equation of time held at one reference time: the part of
/// [`mean_cos_zenith`] shared by every place and every sub-interval that uses the same
/// reference (the results are bit-identical to calling [`mean_cos_zenith`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZenithReference {
    reference: NaiveDateTime,
    sin_decl: f64,
    cos_decl: f64,
    eot_minutes: f64,
}

impl ZenithReference {
    pub fn new(reference: NaiveDateTime) -> Self {
        let (decl, eot) = declination_and_equation_of_time(reference);
        ZenithReference {
            reference,
            sin_decl: decl.sin(),
            cos_decl: decl.cos(),
            eot_minutes: eot,
        }
    }

    /// The daylit cos-zenith curve of a place given sin and cos of its latitude.
    #[inline]
    pub fn curve(&self, sin_lat: f64, cos_lat: f64) -> DaylitCurve {
        DaylitCurve::new(sin_lat * self.sin_decl, (cos_lat * self.cos_decl).max(0.0))
    }

    /// Seconds from 00 UTC of the reference day to `t` (the place-independent part of the
    /// hour angle).
    #[inline]
    pub fn seconds(&self, t: NaiveDateTime) -> f64 {
        seconds_since_midnight_of(t, self.reference)
    }

    /// Unwrapped hour angle (rad) at `secs` (from [`ZenithReference::seconds`]) and longitude.
    #[inline]
    pub fn hour_angle(&self, secs: f64, lon_deg: f64) -> f64 {
        hour_angle_from_seconds(secs, lon_deg, self.eot_minutes)
    }
}

/// Time mean of max(0, cos zenith) over [t1, t2] (UTC) at a place, with declination and
/// equation of time held at their values at `reference` (use the same reference for a
/// forcing period and all its sub-intervals: the means are then exactly additive).
/// For t2 <= t1 returns the instantaneous value at t1.
pub fn mean_cos_zenith(
    t1: NaiveDateTime,
    t2: NaiveDateTime,
    lat_deg: f64,
    lon_deg: f64,
    reference: NaiveDateTime,
) -> f64 {
    let r = ZenithReference::new(reference);
    let phi = lat_deg.to_radians();
    let curve = r.curve(phi.sin(), phi.cos());
    let h1 = r.hour_angle(r.seconds(t1), lon_deg);
    let h2 = r.hour_angle(r.seconds(t2), lon_deg);
    curve.mean(h1, h2)
}

/// Top-of-atmosphere irradiance factor (Earth-Sun distance correction, Spencer 1971).
pub fn eccentricity_factor(t: NaiveDateTime) -> f64 {
    let g = fractional_year(t);
    1.000110
        + 0.034221 * g.cos()
        + 0.001280 * g.sin()
        + 0.000719 * (2.0 * g).cos()
        + 0.000077 * (2.0 * g).sin()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn t(y: i32, m: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, mi, 0)
            .unwrap()
    }

    #[test]
    fn equinox_noon_at_equator_is_overhead() {
        // March equinox 2015: 20 March 22:45 UTC; near noon at lon 0 the sun is near zenith.
        let p = solar_position(t(2015, 3, 21, 12, 7), 0.0, 0.0);
        assert!(p.cos_zenith > 0.999, "{p:?}");
        assert!(p.declination.abs() < 0.01);
    }

    #[test]
    fn almanac_values() {
        let (d, _) = declination_and_equation_of_time(t(2015, 6, 21, 12, 0));
        assert!((d.to_degrees() - 23.44).abs() < 0.3, "{}", d.to_degrees());
        let (d, _) = declination_and_equation_of_time(t(2015, 12, 21, 12, 0));
        assert!((d.to_degrees() + 23.44).abs() < 0.3, "{}", d.to_degrees());
        // Equation of time extremes: about -14.2 min (11 Feb) and +16.4 min (3 Nov).
        let (_, e) = declination_and_equation_of_time(t(2015, 2, 11, 12, 0));
        assert!((e + 14.2).abs() < 0.6, "{e}");
        let (_, e) = declination_and_equation_of_time(t(2015, 11, 3, 12, 0));
        assert!((e - 16.4).abs() < 0.6, "{e}");
        // Solar noon at Champaign (88.24 W) on 21 June: about 17:54 UTC, sun 16.7 deg from zenith.
        let p = solar_position(t(2015, 6, 21, 17, 54), 40.11, -88.24);
        assert!(p.hour_angle.abs() < 0.01, "{p:?}");
        assert!(
            (p.cos_zenith.acos().to_degrees() - 16.7).abs() < 0.3,
            "{p:?}"
        );
    }

    #[test]
    fn mean_matches_numerical_quadrature() {
        let r = t(2015, 6, 1, 13, 30);
        let (t1, t2) = (t(2015, 6, 1, 9, 0), t(2015, 6, 1, 18, 0));
        let (decl, eot) = declination_and_equation_of_time(r);
        let n = 200_000;
        let mut s = 0.0;
        for k in 0..n {
            let tt = t1
                + chrono::Duration::milliseconds(
                    ((k as f64 + 0.5) * 32_400_000.0 / n as f64) as i64,
                );
            let h = hour_angle_unwrapped(tt, r, -100.0, eot);
            let phi = 40f64.to_radians();
            s += (phi.sin() * decl.sin() + phi.cos() * decl.cos() * h.cos()).max(0.0);
        }
        let num = s / n as f64;
        let ana = mean_cos_zenith(t1, t2, 40.0, -100.0, r);
        assert!((num - ana).abs() < 1e-6, "{num} {ana}");
    }
}
