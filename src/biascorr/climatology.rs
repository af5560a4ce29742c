//! Per-cell, per-month statistics of model and observations (quantiles, mean, standard
//! deviation, sample count) and the corrections that use them.

use super::{
    anomaly_correct, cdf_match, mean_std, quantiles, rescale_error, rescaled_anomaly_correct,
    BiasMethod, BiasRejection,
};

/// Statistics of one variable (model or observation) for 12 months × `n_cells` cells.
/// Index `(month0, cell)` → `month0 * n_cells + cell`; quantiles `(month0, cell, q)` →
/// `(month0 * n_cells + cell) * n_quantiles + q`. Missing statistics are NaN.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    pub quantiles: Vec<f64>,
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
    pub count: Vec<u32>,
}

impl Stats {
    fn empty(n_cells: usize, nq: usize) -> Self {
        Stats {
            quantiles: vec![f64::NAN; 12 * n_cells * nq],
            mean: vec![f64::NAN; 12 * n_cells],
            std: vec![f64::NAN; 12 * n_cells],
            count: vec![0; 12 * n_cells],
        }
    }
}

/// Model and observation climatology on a regular lat-lon model grid (cells row-major,
/// `cell = iy * nx + ix`).
#[derive(Debug, Clone, PartialEq)]
pub struct Climatology {
    pub lat: Vec<f64>,
    pub lon: Vec<f64>,
    pub n_quantiles: usize,
    /// Cells with fewer samples (model or observation) than this have no quantiles.
    pub min_samples: u32,
    /// Sensor of the observations (e.g. "smap", "ascat").
    pub sensor: String,
    /// Units of the observations (e.g. "m3 m-3", "percent saturation").
    pub obs_units: String,
    pub model: Stats,
    pub obs: Stats,
}

fn month_index(month: u32) -> usize {
    assert!((1..=12).contains(&month), "month {month} not in 1..=12");
    (month - 1) as usize
}

impl Climatology {
    pub fn n_cells(&self) -> usize {
        self.lat.len() * self.lon.len()
    }

    /// True when this climatology's grid is the model grid `lat`, `lon` (to 1e-9°), which
    /// the cycle must check before using cell indices.
    pub fn same_grid(&self, lat: &[f64], lon: &[f64]) -> bool {
        let close = |a: &[f64], b: &[f64]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-9)
        };
        close(&self.lat, lat) && close(&self.lon, lon)
    }

    fn idx(&self, cell: usize, month: u32) -> usize {
        month_index(month) * self.n_cells() + cell
    }

    fn q_slice<'a>(&self, s: &'a Stats, cell: usize, month: u32) -> &'a [f64] {
        let k = self.idx(cell, month) * self.n_quantiles;
        &s.quantiles[k..k + self.n_quantiles]
    }

    /// Observation quantiles at `cell`, `month` (1–12).
    pub fn obs_quantiles(&self, cell: usize, month: u32) -> &[f64] {
        self.q_slice(&self.obs, cell, month)
    }

    /// Model quantiles at `cell`, `month` (1–12).
    pub fn model_quantiles(&self, cell: usize, month: u32) -> &[f64] {
        self.q_slice(&self.model, cell, month)
    }

    fn enough(&self, cell: usize, month: u32) -> Result<usize, BiasRejection> {
        let k = self.idx(cell, month);
        if self.obs.count[k] < self.min_samples.max(2)
            || self.model.count[k] < self.min_samples.max(2)
        {
            return Err(BiasRejection::InsufficientSamples);
        }
        Ok(k)
    }

    /// CDF-matched value of `value` at `cell` in `month`.
    pub fn cdf_match(&self, cell: usize, month: u32, value: f64) -> Result<f64, BiasRejection> {
        self.enough(cell, month)?;
        cdf_match(
            value,
            self.obs_quantiles(cell, month),
            self.model_quantiles(cell, month),
        )
    }

    /// Anomaly-corrected value.
    pub fn anomaly_correct(
        &self,
        cell: usize,
        month: u32,
        value: f64,
    ) -> Result<f64, BiasRejection> {
        let k = self.enough(cell, month)?;
        anomaly_correct(value, self.obs.mean[k], self.model.mean[k])
    }

    /// Error σ rescaled by sd_model / sd_obs.
    pub fn rescale_error(
        &self,
        cell: usize,
        month: u32,
        error_sd: f64,
    ) -> Result<f64, BiasRejection> {
        let k = self.enough(cell, month)?;
        rescale_error(error_sd, self.obs.std[k], self.model.std[k])
    }

    /// Bias-correct one observation: (value', σ'). `rescale` is for observations in other units
    /// than the model's (ASCAT % saturation against m³ m⁻³): σ is then rescaled by
    /// sd_model / sd_obs, and so is the anomaly of the anomaly correction (mean and variance
    /// matching), which would otherwise add a % anomaly to a volumetric mean.
    pub fn correct(
        &self,
        cell: usize,
        month: u32,
        value: f64,
        error_sd: f64,
        method: BiasMethod,
        rescale: bool,
    ) -> Result<(f64, f64), BiasRejection> {
        let v = match method {
            BiasMethod::CdfMatching => self.cdf_match(cell, month, value)?,
            BiasMethod::Anomaly if rescale => {
                let k = self.enough(cell, month)?;
                rescaled_anomaly_correct(
                    value,
                    self.obs.mean[k],
                    self.model.mean[k],
                    self.obs.std[k],
                    self.model.std[k],
                )?
            }
            BiasMethod::Anomaly => self.anomaly_correct(cell, month, value)?,
        };
        let e = if rescale {
            self.rescale_error(cell, month, error_sd)?
        } else {
            error_sd
        };
        Ok((v, e))
    }
}

/// Accumulates training samples per cell and month, then computes the statistics.
#[derive(Debug, Clone)]
pub struct ClimatologyBuilder {
    lat: Vec<f64>,
    lon: Vec<f64>,
    n_quantiles: usize,
    model: Vec<Vec<f64>>,
    obs: Vec<Vec<f64>>,
}

impl ClimatologyBuilder {
    pub fn new(lat: Vec<f64>, lon: Vec<f64>, n_quantiles: usize) -> Self {
        let n = 12 * lat.len() * lon.len();
        ClimatologyBuilder {
            lat,
            lon,
            n_quantiles: n_quantiles.max(2),
            model: vec![Vec::new(); n],
            obs: vec![Vec::new(); n],
        }
    }

    pub fn n_cells(&self) -> usize {
        self.lat.len() * self.lon.len()
    }

    /// Add a model sample (non-finite values are ignored).
    pub fn add_model(&mut self, cell: usize, month: u32, value: f64) {
        if value.is_finite() && cell < self.n_cells() {
            let k = month_index(month) * self.n_cells() + cell;
            self.model[k].push(value);
        }
    }

    /// Add an observation sample (non-finite values are ignored).
    pub fn add_obs(&mut self, cell: usize, month: u32, value: f64) {
        if value.is_finite() && cell < self.n_cells() {
            let k = month_index(month) * self.n_cells() + cell;
            self.obs[k].push(value);
        }
    }

    fn stats(samples: &mut [Vec<f64>], nq: usize, min_samples: u32) -> Stats {
        let mut s = Stats::empty(samples.len() / 12, nq);
        for (k, v) in samples.iter_mut().enumerate() {
            v.sort_by(f64::total_cmp);
            s.count[k] = v.len() as u32;
            let (m, sd) = mean_std(v);
            s.mean[k] = m;
            s.std[k] = sd;
            if v.len() as u32 >= min_samples.max(2) {
                s.quantiles[k * nq..(k + 1) * nq].copy_from_slice(&quantiles(v, nq));
            }
        }
        s
    }

    /// Compute the statistics; cells with fewer than `min_samples` samples get no quantiles.
    pub fn finish(mut self, min_samples: u32, sensor: &str, obs_units: &str) -> Climatology {
        let nq = self.n_quantiles;
        Climatology {
            model: Self::stats(&mut self.model, nq, min_samples),
            obs: Self::stats(&mut self.obs, nq, min_samples),
            lat: self.lat,
            lon: self.lon,
            n_quantiles: nq,
            min_samples,
            sensor: sensor.to_string(),
            obs_units: obs_units.to_string(),
        }
    }
}
