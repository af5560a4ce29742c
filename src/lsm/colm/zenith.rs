//! Cosine of the solar zenith angle from the calendar day: the role of CoLM's `orb_coszen`
//! and `calendarday` (the orbital approximation of Berger 1978 as used by the NCAR models,
//! with present-day constants: eccentricity 0.01672393084, obliquity 0.409214646 rad, mean
//! longitude of perihelion at the vernal equinox −0.032625366 rad, moving vernal equinox
//! longitude 4.92251015 rad, equinox on calendar day 80.5, 365-day year).

/// Calendar day of a UTC time: day of year (1-based) + seconds of day / 86400.
pub fn calendar_day(day_of_year: u32, seconds: u32) -> f64 {
    day_of_year as f64 + seconds as f64 / 86400.0
}

/// cos(zenith) at calendar day `calday` (UTC), latitude `lat` and longitude `lon` (rad).
pub fn coszen(calday: f64, lon: f64, lat: f64) -> f64 {
    const DAYSPY: f64 = 365.0;
    const VE: f64 = 80.5;
    const ECCEN: f64 = 1.672393084e-2;
    const OBLIQR: f64 = 0.409214646;
    const LAMBM0: f64 = -3.2625366e-2;
    const MVELPP: f64 = 4.92251015;
    let pi = 4.0 * 1f64.atan();
    // Mean longitude of the sun, then the true longitude by the equation of centre.
    let lambm = LAMBM0 + (calday - VE) * 2.0 * pi / DAYSPY;
    let lmm = lambm - MVELPP;
    let sinl = lmm.sin();
    let lamb = lambm
        + ECCEN
            * (2.0 * sinl
                + ECCEN
                    * (1.25 * (2.0 * lmm).sin()
                        + ECCEN * ((13.0 / 12.0) * (3.0 * lmm).sin() - 0.25 * sinl)));
    let declin = (OBLIQR.sin() * lamb.sin()).asin();
    lat.sin() * declin.sin() - lat.cos() * declin.cos() * (calday * 2.0 * pi + lon).cos()
}
