//! The nature run's structural precipitation error: a time-constant, spatially varying
//! multiplicative factor field f(x), lognormal with mean 1 and standard deviation σ,
//! f = exp(μ + s z) with s² = ln(1 + σ²), μ = −s²/2, where z is a unit-variance Gaussian random
//! field with Gaussian covariance exp(−r²/2L²) drawn by `perturb::field` (circulant
//! embedding), keyed by (seed, grid point) only. A domain-uniform factor is invisible to a
//! spatial correlation; this field gives the truth a wet/dry pattern the ensemble does not
//! know (docs/osse.md, "Structural truth error").

use std::path::Path;

use crate::perturb::{
    CovarianceShape, FieldScratch, GaussianFieldPlan, PerturbError, Purpose, SpatialCorrelation,
};

/// Stream id of the factor field's white noise (apart from the perturbation streams 1–4).
pub const STREAM_PRECIP_FACTOR_FIELD: u32 = 0x0553_0001;

/// Parameters (μ, s) of the lognormal exp(μ + s z) with mean 1 and standard deviation `sd`.
pub fn lognormal_mean_one(sd: f64) -> (f64, f64) {
    let s2 = (1.0 + sd * sd).ln();
    (-0.5 * s2, s2.sqrt())
}

/// The factor field on a regular (ny, nx) lat/lon grid with 1-D coordinates `lat`, `lon`
/// (degrees), row-major. `sd` is the factor's standard deviation, `corr_km` the correlation
/// length L of the underlying Gaussian field (km, at the grid's middle latitude).
pub fn factor_field(
    lat: &[f64],
    lon: &[f64],
    sd: f64,
    corr_km: f64,
    seed: u64,
) -> Result<Vec<f64>, PerturbError> {
    let (ny, nx) = (lat.len(), lon.len());
    let step = |v: &[f64]| if v.len() > 1 { v[1] - v[0] } else { 1.0 };
    let spec = SpatialCorrelation::from_lat_lon(
        corr_km,
        CovarianceShape::Gaussian,
        ny,
        nx,
        step(lat),
        step(lon),
        lat[ny / 2],
    );
    let plan = GaussianFieldPlan::new(&spec)?;
    let mut z = vec![0.0; ny * nx];
    let mut scratch = FieldScratch::default();
    plan.generate(
        seed,
        STREAM_PRECIP_FACTOR_FIELD,
        Purpose::InitialField,
        0,
        0,
        0,
        &mut z,
        &mut scratch,
    );
    let (mu, s) = lognormal_mean_one(sd);
    Ok(z.iter().map(|&v| (mu + s * v).exp()).collect())
}

/// The 1-D latitude and longitude coordinates of the two trailing dimensions of `var` in a
/// forcing file (the grid the factor field is drawn on).
pub fn trailing_lat_lon(path: &Path, var: &str) -> Result<(Vec<f64>, Vec<f64>), String> {
    let f = netcdf::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let v = f
        .variable(var)
        .ok_or_else(|| format!("no variable {var}"))?;
    let dims: Vec<String> = v.dimensions().iter().map(|d| d.name()).collect();
    if dims.len() < 2 {
        return Err(format!(
            "variable {var} has {} dimension(s), needs lat, lon",
            dims.len()
        ));
    }
    let coord = |name: &str, units: &str| -> Result<Vec<f64>, String> {
        let c = f
            .variable(name)
            .ok_or_else(|| format!("variable {var}: no coordinate variable {name}"))?;
        let u = crate::obs::ncutil::attr_str(&c, "units").unwrap_or_default();
        if !u.starts_with(units) {
            return Err(format!(
                "variable {var}: dimension {name} has units '{u}', expected {units} \
                 (the factor field needs trailing (lat, lon) dimensions)"
            ));
        }
        c.get_values::<f64, _>(..)
            .map_err(|e| format!("coordinate {name}: {e}"))
    };
    let n = dims.len();
    let lat = coord(&dims[n - 2], "degrees_north")?;
    let lon = coord(&dims[n - 1], "degrees_east")?;
    let regular = |v: &[f64]| {
        v.len() < 3
            || v.windows(2)
                .all(|w| ((w[1] - w[0]) - (v[1] - v[0])).abs() <= 1e-6 * (v[1] - v[0]).abs())
    };
    if !regular(&lat) || !regular(&lon) {
        return Err(format!("variable {var}: the lat/lon grid is not regular"));
    }
    Ok((lat, lon))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lognormal_parameters_give_mean_one_and_the_requested_sd() {
        let (mu, s) = lognormal_mean_one(0.3);
        let mean = (mu + 0.5 * s * s).exp();
        let var = ((s * s).exp() - 1.0) * (2.0 * mu + s * s).exp();
        assert!((mean - 1.0).abs() < 1e-14);
        assert!((var.sqrt() - 0.3).abs() < 1e-14);
    }

    #[test]
    fn field_is_keyed_by_seed() {
        let lat: Vec<f64> = (0..10).map(|j| 30.0 + 0.25 * j as f64).collect();
        let lon: Vec<f64> = (0..12).map(|i| -100.0 + 0.25 * i as f64).collect();
        let a = factor_field(&lat, &lon, 0.3, 300.0, 5).unwrap();
        let b = factor_field(&lat, &lon, 0.3, 300.0, 5).unwrap();
        let c = factor_field(&lat, &lon, 0.3, 300.0, 6).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().all(|f| *f > 0.0));
    }
}
