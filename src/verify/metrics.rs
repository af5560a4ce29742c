//! Per-cell temporal metrics on the community definitions (pytesmo, LVT): for one cell, over
//! the times where both the reference and the run are finite,
//! - bias = mean(run) − mean(reference),
//! - RMSE = √ mean (run − reference)²,
//! - ubRMSE = √ mean ((run − mean run) − (reference − mean reference))² (pytesmo `ubrmsd`,
//!   ddof = 0; = √(RMSE² − bias²)),
//! - Pearson R with its 95 % Fisher-z confidence interval and two-sided p-value (t test with
//!   n − 2 degrees of freedom),
//! - Spearman ρ (Pearson R of the tie-averaged ranks),
//! - anomaly R: Pearson R of the moving-window anomalies (see [`moving_window_anomaly`]).
//!
//! Then, per layer, the domain mean and median of every metric over the cells where it is
//! defined ([`MetricSummary`]).

use serde::{Deserialize, Serialize};

use super::null_as_nan;
use super::stats::{fisher_ci95, mean, median, pearson_p_value, pearson_r, spearman_rho};

/// Options of the per-cell metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct PerCellOptions {
    /// Width W of the centred moving window of the anomaly climatology, in days (pytesmo's
    /// `calc_anomaly` default: 35).
    pub anomaly_window_days: f64,
    /// Cells with fewer valid pairs get no metrics (NaN).
    pub min_samples: usize,
}

impl Default for PerCellOptions {
    fn default() -> Self {
        PerCellOptions {
            anomaly_window_days: 35.0,
            min_samples: 10,
        }
    }
}

/// Metrics of one cell (NaN where undefined).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellMetrics {
    pub n: usize,
    pub bias: f64,
    pub rmse: f64,
    pub ubrmse: f64,
    pub r: f64,
    pub r_ci_lower: f64,
    pub r_ci_upper: f64,
    pub r_p_value: f64,
    pub spearman_rho: f64,
    pub anomaly_r: f64,
    pub anomaly_r_ci_lower: f64,
    pub anomaly_r_ci_upper: f64,
}

impl CellMetrics {
    fn undefined(n: usize) -> Self {
        let nan = f64::NAN;
        CellMetrics {
            n,
            bias: nan,
            rmse: nan,
            ubrmse: nan,
            r: nan,
            r_ci_lower: nan,
            r_ci_upper: nan,
            r_p_value: nan,
            spearman_rho: nan,
            anomaly_r: nan,
            anomaly_r_ci_lower: nan,
            anomaly_r_ci_upper: nan,
        }
    }
}

/// One metric: its name in JSON and map files, long name, units, and how to read it.
pub struct MetricDef {
    pub name: &'static str,
    pub long_name: &'static str,
    /// `None`: the units of the scored variable.
    pub units: Option<&'static str>,
    pub get: fn(&CellMetrics) -> f64,
}

/// Every per-cell metric, in report order.
pub const METRICS: &[MetricDef] = &[
    MetricDef {
        name: "n",
        long_name: "number of valid (reference, run) pairs",
        units: Some("1"),
        get: |m| m.n as f64,
    },
    MetricDef {
        name: "bias",
        long_name: "bias: mean(run) - mean(reference) over time",
        units: None,
        get: |m| m.bias,
    },
    MetricDef {
        name: "rmse",
        long_name: "root mean square difference over time",
        units: None,
        get: |m| m.rmse,
    },
    MetricDef {
        name: "ubrmse",
        long_name: "unbiased root mean square difference over time (pytesmo ubrmsd)",
        units: None,
        get: |m| m.ubrmse,
    },
    MetricDef {
        name: "r",
        long_name: "Pearson correlation over time",
        units: Some("1"),
        get: |m| m.r,
    },
    MetricDef {
        name: "r_ci_lower",
        long_name: "lower bound of the 95% Fisher-z confidence interval of r",
        units: Some("1"),
        get: |m| m.r_ci_lower,
    },
    MetricDef {
        name: "r_ci_upper",
        long_name: "upper bound of the 95% Fisher-z confidence interval of r",
        units: Some("1"),
        get: |m| m.r_ci_upper,
    },
    MetricDef {
        name: "r_p_value",
        long_name: "two-sided p-value of r (t test, n - 2 degrees of freedom)",
        units: Some("1"),
        get: |m| m.r_p_value,
    },
    MetricDef {
        name: "spearman_rho",
        long_name: "Spearman rank correlation over time",
        units: Some("1"),
        get: |m| m.spearman_rho,
    },
    MetricDef {
        name: "anomaly_r",
        long_name: "Pearson correlation of moving-window anomalies",
        units: Some("1"),
        get: |m| m.anomaly_r,
    },
    MetricDef {
        name: "anomaly_r_ci_lower",
        long_name: "lower bound of the 95% Fisher-z confidence interval of anomaly_r",
        units: Some("1"),
        get: |m| m.anomaly_r_ci_lower,
    },
    MetricDef {
        name: "anomaly_r_ci_upper",
        long_name: "upper bound of the 95% Fisher-z confidence interval of anomaly_r",
        units: Some("1"),
        get: |m| m.anomaly_r_ci_upper,
    },
];

/// Anomalies of a time-ordered series against its centred moving-window mean: for sample i
/// at time tᵢ (days), clim_i = mean of x_j over all j with |t_j − tᵢ| ≤ W/2, anomaly_i =
/// xᵢ − clim_i (pytesmo `calc_anomaly` with `window_size = W`). `t` must be ascending.
pub fn moving_window_anomaly(t: &[f64], x: &[f64], window_days: f64) -> Vec<f64> {
    let half = 0.5 * window_days;
    let (mut lo, mut hi, mut sum) = (0usize, 0usize, 0.0);
    let mut out = Vec::with_capacity(x.len());
    for i in 0..x.len() {
        while hi < x.len() && t[hi] - t[i] <= half {
            sum += x[hi];
            hi += 1;
        }
        while t[i] - t[lo] > half {
            sum -= x[lo];
            lo += 1;
        }
        out.push(x[i] - sum / (hi - lo) as f64);
    }
    out
}

/// Metrics of one cell. `t` (days, ascending), `reference` and `run` are equally long; pairs
/// where either value is not finite are skipped.
pub fn cell_metrics(t: &[f64], reference: &[f64], run: &[f64], o: &PerCellOptions) -> CellMetrics {
    let mut tt = Vec::new();
    let mut x = Vec::new();
    let mut y = Vec::new();
    for ((ti, a), b) in t.iter().zip(reference).zip(run) {
        if a.is_finite() && b.is_finite() {
            tt.push(*ti);
            x.push(*a);
            y.push(*b);
        }
    }
    let n = x.len();
    if n < o.min_samples.max(1) {
        return CellMetrics::undefined(n);
    }
    let (mx, my) = (mean(&x), mean(&y));
    let rmse = (x
        .iter()
        .zip(&y)
        .map(|(a, b)| (b - a) * (b - a))
        .sum::<f64>()
        / n as f64)
        .sqrt();
    let ub2 = x
        .iter()
        .zip(&y)
        .map(|(a, b)| ((b - my) - (a - mx)).powi(2))
        .sum::<f64>()
        / n as f64;
    let r = pearson_r(&x, &y).unwrap_or(f64::NAN);
    let (r_ci_lower, r_ci_upper) = fisher_ci95(r, n);
    let ax = moving_window_anomaly(&tt, &x, o.anomaly_window_days);
    let ay = moving_window_anomaly(&tt, &y, o.anomaly_window_days);
    let anomaly_r = pearson_r(&ax, &ay).unwrap_or(f64::NAN);
    let (anomaly_r_ci_lower, anomaly_r_ci_upper) = fisher_ci95(anomaly_r, n);
    CellMetrics {
        n,
        bias: my - mx,
        rmse,
        ubrmse: ub2.sqrt(),
        r,
        r_ci_lower,
        r_ci_upper,
        r_p_value: pearson_p_value(r, n),
        spearman_rho: spearman_rho(&x, &y).unwrap_or(f64::NAN),
        anomaly_r,
        anomaly_r_ci_lower,
        anomaly_r_ci_upper,
    }
}

/// Domain statistics of one metric over the cells where it is finite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSummary {
    pub name: String,
    pub n_cells: usize,
    #[serde(deserialize_with = "null_as_nan")]
    pub mean: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub median: f64,
}

/// Per-cell metrics of one layer: the maps (row-major cells) and their domain statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerCellLayer {
    pub layer: usize,
    /// Cells with at least `min_samples` pairs.
    pub n_cells_scored: usize,
    pub metrics: Vec<MetricSummary>,
    #[serde(skip)]
    pub cells: Vec<CellMetrics>,
}

impl PerCellLayer {
    /// The domain summary of metric `name`.
    pub fn summary(&self, name: &str) -> Option<&MetricSummary> {
        self.metrics.iter().find(|m| m.name == name)
    }

    /// The map of metric `name` (row-major cells, NaN where undefined).
    pub fn map(&self, name: &str) -> Option<Vec<f64>> {
        let d = METRICS.iter().find(|d| d.name == name)?;
        Some(self.cells.iter().map(d.get).collect())
    }
}

/// Per-cell metrics of one layer from time-ordered fields `reference[t][cell]`,
/// `run[t][cell]` valid at `t_days[t]`.
pub fn per_cell_layer(
    layer: usize,
    t_days: &[f64],
    reference: &[Vec<f64>],
    run: &[Vec<f64>],
    o: &PerCellOptions,
) -> PerCellLayer {
    let n_cells = reference.first().map_or(0, Vec::len);
    let cells: Vec<CellMetrics> = (0..n_cells)
        .map(|c| {
            let a: Vec<f64> = reference.iter().map(|f| f[c]).collect();
            let b: Vec<f64> = run.iter().map(|f| f[c]).collect();
            cell_metrics(t_days, &a, &b, o)
        })
        .collect();
    let metrics = METRICS
        .iter()
        .filter(|d| d.name != "n")
        .map(|d| summarise(d.name, &cells.iter().map(d.get).collect::<Vec<_>>()))
        .collect();
    PerCellLayer {
        layer,
        n_cells_scored: cells.iter().filter(|m| m.rmse.is_finite()).count(),
        metrics,
        cells,
    }
}

/// Mean and median of the finite values.
pub fn summarise(name: &str, values: &[f64]) -> MetricSummary {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    MetricSummary {
        name: name.to_string(),
        n_cells: v.len(),
        mean: mean(&v),
        median: median(&v),
    }
}
