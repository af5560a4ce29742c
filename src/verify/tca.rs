//! Triple collocation (TCA) in covariance notation (McColl et al. 2014; Gruber et al. 2016):
//! for three collocated series x, y, z of the same geophysical variable with mutually
//! independent errors, uncorrelated with the signal, with the sample covariances Q (n − 1),
//!
//! - σ²_εx = Q_xx − Q_xy Q_xz / Q_yz, σ²_εy = Q_yy − Q_xy Q_yz / Q_xz,
//!   σ²_εz = Q_zz − Q_xz Q_yz / Q_xy (error variances, each in its dataset's own units and
//!   scale),
//! - signal variance of x: Q_xy Q_xz / Q_yz (and cyclically), SNR = signal / error variance,
//!   in dB 10 log₁₀ SNR,
//! - fMSE = σ²_ε / Q_ii = 1 / (1 + SNR) (fractional mean squared error).
//!
//! Rules: at least `min_samples` collocated triplets (default 100), all three covariances
//! positive (else the signal variance is not identified), optionally all three pairwise
//! correlations significant at `alpha` (two-sided t test); an error-variance estimate that is
//! negative or zero to rounding (at most [`ZERO_ERROR_VARIANCE`] of the dataset's variance) is
//! reported as NaN for that dataset with status [`TcaStatus::NegativeErrorVariance`].

use serde::{Deserialize, Serialize};

use super::metrics::{summarise, MetricSummary};
use super::stats::{mean, pearson_p_value, pearson_r};

/// An error variance at most this fraction of the dataset's variance is zero to rounding: two
/// identical datasets (e.g. a DA run and its open loop where nothing was assimilated) give
/// ±1e-20 m6 m-6 from the cancellation Q_yy − Q_xy Q_yz / Q_xz, which is no estimate (and as an
/// observation error it would pin the analysis to the observation).
pub const ZERO_ERROR_VARIANCE: f64 = 1e-12;

/// Rules of the estimator.
#[derive(Debug, Clone, PartialEq)]
pub struct TcaOptions {
    pub min_samples: usize,
    /// Require the three pairwise Pearson correlations to be significant at `alpha`.
    pub require_significant: bool,
    pub alpha: f64,
}

impl Default for TcaOptions {
    fn default() -> Self {
        TcaOptions {
            min_samples: 100,
            require_significant: true,
            alpha: 0.05,
        }
    }
}

/// Outcome of one cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TcaStatus {
    Ok,
    TooFewSamples,
    NonPositiveCovariance,
    NotSignificant,
    NegativeErrorVariance,
}

impl TcaStatus {
    pub const ALL: [TcaStatus; 5] = [
        TcaStatus::Ok,
        TcaStatus::TooFewSamples,
        TcaStatus::NonPositiveCovariance,
        TcaStatus::NotSignificant,
        TcaStatus::NegativeErrorVariance,
    ];
    pub fn name(self) -> &'static str {
        match self {
            TcaStatus::Ok => "ok",
            TcaStatus::TooFewSamples => "too_few_samples",
            TcaStatus::NonPositiveCovariance => "non_positive_covariance",
            TcaStatus::NotSignificant => "not_significant",
            TcaStatus::NegativeErrorVariance => "negative_error_variance",
        }
    }
}

/// TCA of one cell: per dataset (x, y, z) the error variance, SNR (dB) and fMSE; NaN where
/// not estimated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TcaCell {
    pub n: usize,
    pub status: TcaStatus,
    pub err_var: [f64; 3],
    pub snr_db: [f64; 3],
    pub fmse: [f64; 3],
}

fn sample_cov(a: &[f64], b: &[f64]) -> f64 {
    let (ma, mb) = (mean(a), mean(b));
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - ma) * (y - mb))
        .sum::<f64>()
        / (a.len() as f64 - 1.0)
}

/// Triple collocation of three equally long series; triplets with any value not finite are
/// skipped.
pub fn tca(x: &[f64], y: &[f64], z: &[f64], o: &TcaOptions) -> TcaCell {
    let mut s: [Vec<f64>; 3] = Default::default();
    for ((a, b), c) in x.iter().zip(y).zip(z) {
        if a.is_finite() && b.is_finite() && c.is_finite() {
            s[0].push(*a);
            s[1].push(*b);
            s[2].push(*c);
        }
    }
    let n = s[0].len();
    let nan = [f64::NAN; 3];
    let mut out = TcaCell {
        n,
        status: TcaStatus::Ok,
        err_var: nan,
        snr_db: nan,
        fmse: nan,
    };
    if n < o.min_samples.max(4) {
        out.status = TcaStatus::TooFewSamples;
        return out;
    }
    let q = |i: usize, j: usize| sample_cov(&s[i], &s[j]);
    let (qxy, qxz, qyz) = (q(0, 1), q(0, 2), q(1, 2));
    if !(qxy > 0.0 && qxz > 0.0 && qyz > 0.0) {
        out.status = TcaStatus::NonPositiveCovariance;
        return out;
    }
    if o.require_significant {
        let sig = |i: usize, j: usize| {
            pearson_r(&s[i], &s[j]).is_some_and(|r| pearson_p_value(r, n) < o.alpha)
        };
        if !(sig(0, 1) && sig(0, 2) && sig(1, 2)) {
            out.status = TcaStatus::NotSignificant;
            return out;
        }
    }
    let signal = [qxy * qxz / qyz, qxy * qyz / qxz, qxz * qyz / qxy];
    for (i, sig) in signal.iter().enumerate() {
        let total = q(i, i);
        let e = total - sig;
        if e <= ZERO_ERROR_VARIANCE * total {
            out.status = TcaStatus::NegativeErrorVariance;
            continue;
        }
        out.err_var[i] = e;
        out.snr_db[i] = 10.0 * (sig / e).log10();
        out.fmse[i] = e / total;
    }
    out
}

/// TCA of every cell of three gridded datasets `data[k][t][cell]` (collocated times).
pub fn tca_cells(data: [&[Vec<f64>]; 3], o: &TcaOptions) -> Vec<TcaCell> {
    let n_cells = data[0].first().map_or(0, Vec::len);
    (0..n_cells)
        .map(|c| {
            let series = |k: usize| data[k].iter().map(|f| f[c]).collect::<Vec<f64>>();
            tca(&series(0), &series(1), &series(2), o)
        })
        .collect()
}

/// Domain statistics of one dataset's TCA estimates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TcaDataset {
    pub label: String,
    /// err_var, err_sd, snr_db, fmse: mean and median over the cells where estimated.
    pub metrics: Vec<MetricSummary>,
}

/// Domain summary of a gridded TCA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TcaSummary {
    pub min_samples: usize,
    pub require_significant: bool,
    pub alpha: f64,
    pub n_cells: usize,
    /// Cells per outcome (see [`TcaStatus`]).
    pub status_counts: Vec<(String, usize)>,
    pub datasets: Vec<TcaDataset>,
}

/// Summarise the cells of a gridded TCA (cells outside `keep` are ignored).
pub fn summarise_tca(
    labels: &[String; 3],
    cells: &[TcaCell],
    keep: &[bool],
    o: &TcaOptions,
) -> TcaSummary {
    let kept: Vec<&TcaCell> = cells
        .iter()
        .zip(keep)
        .filter(|(_, k)| **k)
        .map(|(c, _)| c)
        .collect();
    let status_counts = TcaStatus::ALL
        .iter()
        .map(|s| {
            (
                s.name().to_string(),
                kept.iter().filter(|c| c.status == *s).count(),
            )
        })
        .collect();
    let datasets = (0..3)
        .map(|i| {
            let col = |f: &dyn Fn(&TcaCell) -> f64| kept.iter().map(|c| f(c)).collect::<Vec<_>>();
            TcaDataset {
                label: labels[i].clone(),
                metrics: vec![
                    summarise("err_var", &col(&|c| c.err_var[i])),
                    summarise("err_sd", &col(&|c| c.err_var[i].sqrt())),
                    summarise("snr_db", &col(&|c| c.snr_db[i])),
                    summarise("fmse", &col(&|c| c.fmse[i])),
                ],
            }
        })
        .collect();
    TcaSummary {
        min_samples: o.min_samples,
        require_significant: o.require_significant,
        alpha: o.alpha,
        n_cells: kept.len(),
        status_counts,
        datasets,
    }
}

impl TcaSummary {
    /// A plain-text table.
    pub fn table(&self) -> String {
        let mut s = format!(
            "triple collocation: {} cells; min {} triplets{}\n",
            self.n_cells,
            self.min_samples,
            if self.require_significant {
                format!(", pairwise R significant at {}", self.alpha)
            } else {
                String::new()
            }
        );
        let counts: Vec<String> = self
            .status_counts
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        s.push_str(&format!("cells: {}\n", counts.join(", ")));
        s.push_str(&format!(
            "{:<12} {:>6} {:>12} {:>12} {:>10} {:>8}\n",
            "dataset", "stat", "err_var", "err_sd", "SNR_dB", "fMSE"
        ));
        for d in &self.datasets {
            for stat in ["mean", "median"] {
                s.push_str(&format!("{:<12} {stat:>6}", d.label));
                let v = |m: usize| {
                    let x = &d.metrics[m];
                    if stat == "mean" {
                        x.mean
                    } else {
                        x.median
                    }
                };
                s.push_str(&format!(
                    " {:>12.4e} {:>12.5} {:>10.2} {:>8.3}",
                    v(0),
                    v(1),
                    v(2),
                    v(3)
                ));
                s.push('\n');
            }
        }
        s
    }
}
