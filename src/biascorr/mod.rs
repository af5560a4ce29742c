//! The `biascorr` room: observation bias correction against the model climatology
//! (SCIENCE.md §4, docs/observations.md).
//!
//! - Monthly **CDF matching** per cell: an observation is replaced by the model value at the
//!   same quantile, interpolating linearly between the stored quantiles (LIS uses a step
//!   lookup); values outside the training range of the observations, or cells whose
//!   observation or model CDF is degenerate or under-sampled, are rejected.
//! - **Anomaly correction**: obs' = μ_model(cell, month) + (obs − μ_obs(cell, month)).
//! - **Error rescaling**: σ' = σ · sd_model / sd_obs (converts e.g. ASCAT % saturation
//!   errors into m³ m⁻³ after CDF matching).
//!
//! The math here is pure; `io::climatology` writes and reads the statistics as NetCDF.

pub mod climatology;

pub use climatology::{Climatology, ClimatologyBuilder, Stats};

/// Why an observation could not be bias corrected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BiasRejection {
    /// Too few training samples at this cell and month.
    InsufficientSamples,
    /// The observation or model CDF has (near) zero width.
    DegenerateCdf,
    /// The value lies outside the observations' training range.
    OutsideTrainingRange,
}

impl BiasRejection {
    /// Rule name used in the rejection counts.
    pub fn rule(&self) -> &'static str {
        match self {
            BiasRejection::InsufficientSamples => "bias_insufficient_samples",
            BiasRejection::DegenerateCdf => "bias_degenerate_cdf",
            BiasRejection::OutsideTrainingRange => "bias_outside_training_range",
        }
    }
}

/// Bias-correction method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BiasMethod {
    CdfMatching,
    Anomaly,
}

/// Probability levels of `n` equally spaced quantiles, 0 and 1 included.
pub fn quantile_levels(n: usize) -> Vec<f64> {
    match n {
        0 => Vec::new(),
        1 => vec![0.5],
        _ => (0..n).map(|i| i as f64 / (n - 1) as f64).collect(),
    }
}

/// `n` quantiles (levels of [`quantile_levels`]) of ascending-sorted `sorted`, by linear
/// interpolation between order statistics (Hyndman & Fan type 7); empty input gives NaN.
pub fn quantiles(sorted: &[f64], n: usize) -> Vec<f64> {
    let m = sorted.len();
    quantile_levels(n)
        .into_iter()
        .map(|p| {
            if m == 0 {
                return f64::NAN;
            }
            let h = p * (m - 1) as f64;
            let lo = h.floor() as usize;
            let hi = (lo + 1).min(m - 1);
            sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
        })
        .collect()
}

/// Mean and sample standard deviation (n − 1); NaN when undefined.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return (mean, f64::NAN);
    }
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64;
    (mean, var.sqrt())
}

/// Relative width under which a CDF counts as degenerate.
const DEGENERATE_WIDTH: f64 = 1.0e-9;

fn is_degenerate(q: &[f64]) -> bool {
    if q.len() < 2 || q.iter().any(|x| !x.is_finite()) {
        return true;
    }
    let (a, b) = (q[0], q[q.len() - 1]);
    b - a <= DEGENERATE_WIDTH * a.abs().max(b.abs()).max(1.0)
}

/// Fractional quantile position (0..n−1) of `value` in the ascending quantiles `q`. Within a
/// plateau of equal quantiles the middle of the plateau is used.
fn position_in(q: &[f64], value: f64) -> f64 {
    let n = q.len();
    let first_ge = q.partition_point(|x| *x < value); // first index with q >= value
    if first_ge < n && q[first_ge] == value {
        let last_eq = q.partition_point(|x| *x <= value) - 1;
        return 0.5 * (first_ge + last_eq) as f64;
    }
    // q[first_ge - 1] < value < q[first_ge]
    let j = first_ge - 1;
    j as f64 + (value - q[j]) / (q[j + 1] - q[j])
}

/// Linear interpolation of `q` at fractional position `h`.
fn value_at(q: &[f64], h: f64) -> f64 {
    let lo = (h.floor() as usize).min(q.len() - 1);
    let hi = (lo + 1).min(q.len() - 1);
    q[lo] + (h - lo as f64) * (q[hi] - q[lo])
}

/// CDF matching of one value: the model value at the quantile the value has in the
/// observation CDF. Both quantile vectors must have the same levels.
pub fn cdf_match(value: f64, obs_q: &[f64], model_q: &[f64]) -> Result<f64, BiasRejection> {
    if obs_q.len() != model_q.len() || is_degenerate(obs_q) || is_degenerate(model_q) {
        return Err(BiasRejection::DegenerateCdf);
    }
    if !value.is_finite() || value < obs_q[0] || value > obs_q[obs_q.len() - 1] {
        return Err(BiasRejection::OutsideTrainingRange);
    }
    Ok(value_at(model_q, position_in(obs_q, value)))
}

/// Anomaly correction: obs' = μ_model + (obs − μ_obs).
pub fn anomaly_correct(value: f64, mean_obs: f64, mean_model: f64) -> Result<f64, BiasRejection> {
    if !mean_obs.is_finite() || !mean_model.is_finite() {
        return Err(BiasRejection::InsufficientSamples);
    }
    Ok(mean_model + (value - mean_obs))
}

/// Observation-error rescaling: σ' = σ · sd_model / sd_obs.
pub fn rescale_error(error_sd: f64, sd_obs: f64, sd_model: f64) -> Result<f64, BiasRejection> {
    check_sds(sd_obs, sd_model)?;
    Ok(error_sd * sd_model / sd_obs)
}

/// Anomaly correction with the anomaly rescaled into model units (mean and variance
/// matching): obs' = μ_model + (obs − μ_obs) · sd_model / sd_obs.
pub fn rescaled_anomaly_correct(
    value: f64,
    mean_obs: f64,
    mean_model: f64,
    sd_obs: f64,
    sd_model: f64,
) -> Result<f64, BiasRejection> {
    check_sds(sd_obs, sd_model)?;
    let scale = sd_model / sd_obs;
    anomaly_correct(mean_obs + scale * (value - mean_obs), mean_obs, mean_model)
}

fn check_sds(sd_obs: f64, sd_model: f64) -> Result<(), BiasRejection> {
    if !sd_obs.is_finite() || !sd_model.is_finite() {
        return Err(BiasRejection::InsufficientSamples);
    }
    if sd_obs <= 0.0 {
        return Err(BiasRejection::DegenerateCdf);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_type7() {
        let s = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantiles(&s, 5), vec![1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(quantiles(&s, 3), vec![1.0, 3.0, 5.0]);
        let q = quantiles(&[0.0, 10.0], 5);
        assert_eq!(q, vec![0.0, 2.5, 5.0, 7.5, 10.0]);
        assert!(quantiles(&[], 3)[0].is_nan());
    }

    #[test]
    fn cdf_match_interpolates_and_rejects() {
        let obs = [10.0, 20.0, 30.0, 40.0, 50.0];
        let model = [0.10, 0.15, 0.20, 0.30, 0.40];
        assert_eq!(cdf_match(10.0, &obs, &model), Ok(0.10));
        assert!((cdf_match(25.0, &obs, &model).unwrap() - 0.175).abs() < 1e-15);
        assert!((cdf_match(45.0, &obs, &model).unwrap() - 0.35).abs() < 1e-15);
        assert_eq!(cdf_match(50.0, &obs, &model), Ok(0.40));
        assert_eq!(
            cdf_match(9.9, &obs, &model),
            Err(BiasRejection::OutsideTrainingRange)
        );
        assert_eq!(
            cdf_match(50.1, &obs, &model),
            Err(BiasRejection::OutsideTrainingRange)
        );
        assert_eq!(
            cdf_match(5.0, &[5.0; 5], &model),
            Err(BiasRejection::DegenerateCdf)
        );
        assert_eq!(
            cdf_match(20.0, &obs, &[0.2; 5]),
            Err(BiasRejection::DegenerateCdf)
        );
        // A plateau maps to its middle.
        let obs_p = [0.0, 1.0, 1.0, 1.0, 2.0];
        assert_eq!(cdf_match(1.0, &obs_p, &model), Ok(0.20));
    }

    #[test]
    fn anomaly_and_error_rescaling() {
        assert!((anomaly_correct(35.0, 30.0, 0.25).unwrap() - 5.25).abs() < 1e-12);
        assert!((rescale_error(10.0, 20.0, 0.05).unwrap() - 0.025).abs() < 1e-15);
        assert_eq!(
            rescale_error(1.0, 0.0, 0.05),
            Err(BiasRejection::DegenerateCdf)
        );
        assert_eq!(
            anomaly_correct(1.0, f64::NAN, 0.2),
            Err(BiasRejection::InsufficientSamples)
        );
    }
}
