//! The `verify` room (see docs/architecture.md, docs/osse.md): scores of a run's soil moisture
//! against a reference (the OSSE nature run), per soil layer.
//!
//! History files of the two directories are paired by valid time. Per layer, over all
//! land cells where both are finite:
//! - bias = mean(run − truth), RMSE = √mean((run − truth)²),
//! - ubRMSE = √mean((run − truth − bias)²) (= √(RMSE² − bias²), Entekhabi et al. 2010),
//! - temporal correlation: Pearson r over time per cell, averaged over cells,
//! - spatial correlation (SCC): Pearson r over cells per time, averaged over times,
//! - mean ensemble spread of the run (`SoilMoistV_spread`) where the run has it.
//!
//! Correlations are skipped for cells (times) with fewer than 3 pairs or zero variance.

pub mod history;

use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use serde::{Deserialize, Deserializer, Serialize};

pub use history::{
    find_history_files, observed_cells, read_field, read_grid, read_spread, LayerField,
};

/// Errors of verification, each naming the file, variable or time involved.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}: not a directory")]
    NoDirectory(PathBuf),
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{path}: variable {variable}: {message}")]
    Variable {
        path: PathBuf,
        variable: String,
        message: String,
    },
    #[error("two history files valid at {time}: {first} and {second}")]
    DuplicateTime {
        time: NaiveDateTime,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("no history files LC_HIST_*.nc under {0}")]
    NoFiles(PathBuf),
    #[error("no common valid time between {truth} ({n_truth} files) and {run} ({n_run} files)")]
    NoCommonTimes {
        truth: PathBuf,
        run: PathBuf,
        n_truth: usize,
        n_run: usize,
    },
    #[error("{run} ({run_shape}) and {truth} ({truth_shape}) have different grids or layers")]
    Mismatch {
        truth: PathBuf,
        run: PathBuf,
        truth_shape: String,
        run_shape: String,
    },
    #[error("reports not comparable: {0}")]
    NotComparable(String),
}

/// The JSON report writes non-finite numbers as null; read them back as NaN.
fn null_as_nan<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Scores of one soil layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerScores {
    /// 1-based soil layer.
    pub layer: usize,
    /// (cell, time) pairs used.
    pub n_pairs: usize,
    #[serde(deserialize_with = "null_as_nan")]
    pub rmse: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub bias: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub ubrmse: f64,
    /// Mean over cells of the per-cell temporal Pearson correlation (NaN if none defined).
    #[serde(deserialize_with = "null_as_nan")]
    pub temporal_correlation: f64,
    pub n_cells_temporal: usize,
    /// Mean over times of the spatial Pearson correlation (NaN if none defined).
    #[serde(deserialize_with = "null_as_nan")]
    pub spatial_correlation: f64,
    pub n_times_spatial: usize,
    /// Mean ensemble spread of the run (NaN when the run has no spread).
    #[serde(deserialize_with = "null_as_nan")]
    pub mean_spread: f64,
}

/// The scores of a run against the truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyReport {
    pub variable: String,
    pub units: String,
    pub truth_dir: PathBuf,
    pub run_dir: PathBuf,
    /// Valid times present in both.
    pub n_times: usize,
    pub first_time: String,
    pub last_time: String,
    /// Files without a partner.
    pub unmatched_truth: usize,
    pub unmatched_run: usize,
    /// Which cells were scored: "all land cells", or the cells observed in a DA run.
    pub cells: String,
    pub layers: Vec<LayerScores>,
}

/// Per-layer accumulators over time.
struct LayerAcc {
    n: usize,
    sum_d: f64,
    sum_d2: f64,
    /// Per-time differences (for the ubRMSE second pass, kept to avoid cancellation).
    diffs: Vec<f64>,
    /// Per-cell time series (truth, run).
    series: Vec<(Vec<f64>, Vec<f64>)>,
    scc_sum: f64,
    scc_n: usize,
    spread_sum: f64,
    spread_n: usize,
}

/// Pearson correlation of paired finite values; None with < 3 pairs or zero variance.
pub fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    let pairs: Vec<(f64, f64)> = a
        .iter()
        .zip(b)
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .map(|(x, y)| (*x, *y))
        .collect();
    if pairs.len() < 3 {
        return None;
    }
    let n = pairs.len() as f64;
    let ma = pairs.iter().map(|p| p.0).sum::<f64>() / n;
    let mb = pairs.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in &pairs {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    // Relative threshold: a series constant up to rounding has no defined correlation.
    let tiny = |s: f64, m: f64| s <= 1e-24 * n * (1.0 + m * m);
    if tiny(saa, ma) || tiny(sbb, mb) {
        return None;
    }
    Some((sab / (saa * sbb).sqrt()).clamp(-1.0, 1.0))
}

/// Scores of one layer from time-ordered fields: `truth[t]`, `run[t]` and optional
/// `spread[t]` are cell arrays of equal length (NaN = missing).
pub fn layer_scores(
    layer: usize,
    truth: &[Vec<f64>],
    run: &[Vec<f64>],
    spread: &[Option<Vec<f64>>],
) -> LayerScores {
    let n_cells = truth.first().map_or(0, Vec::len);
    let mut acc = LayerAcc {
        n: 0,
        sum_d: 0.0,
        sum_d2: 0.0,
        diffs: Vec::new(),
        series: vec![(Vec::new(), Vec::new()); n_cells],
        scc_sum: 0.0,
        scc_n: 0,
        spread_sum: 0.0,
        spread_n: 0,
    };
    for (t, (tr, rn)) in truth.iter().zip(run).enumerate() {
        for c in 0..n_cells {
            let (a, b) = (tr[c], rn[c]);
            let ok = a.is_finite() && b.is_finite();
            acc.series[c].0.push(if ok { a } else { f64::NAN });
            acc.series[c].1.push(if ok { b } else { f64::NAN });
            if ok {
                let d = b - a;
                acc.n += 1;
                acc.sum_d += d;
                acc.sum_d2 += d * d;
                acc.diffs.push(d);
                if let Some(Some(s)) = spread.get(t) {
                    if s[c].is_finite() {
                        acc.spread_sum += s[c];
                        acc.spread_n += 1;
                    }
                }
            }
        }
        if let Some(r) = pearson(tr, rn) {
            acc.scc_sum += r;
            acc.scc_n += 1;
        }
    }
    let n = acc.n as f64;
    let bias = if acc.n > 0 { acc.sum_d / n } else { f64::NAN };
    let rmse = if acc.n > 0 {
        (acc.sum_d2 / n).sqrt()
    } else {
        f64::NAN
    };
    let ubrmse = if acc.n > 0 {
        (acc.diffs
            .iter()
            .map(|d| (d - bias) * (d - bias))
            .sum::<f64>()
            / n)
            .sqrt()
    } else {
        f64::NAN
    };
    let temporal: Vec<f64> = acc
        .series
        .iter()
        .filter_map(|(a, b)| pearson(a, b))
        .collect();
    let mean_or_nan = |s: f64, k: usize| if k > 0 { s / k as f64 } else { f64::NAN };
    LayerScores {
        layer,
        n_pairs: acc.n,
        rmse,
        bias,
        ubrmse,
        temporal_correlation: mean_or_nan(temporal.iter().sum(), temporal.len()),
        n_cells_temporal: temporal.len(),
        spatial_correlation: mean_or_nan(acc.scc_sum, acc.scc_n),
        n_times_spatial: acc.scc_n,
        mean_spread: mean_or_nan(acc.spread_sum, acc.spread_n),
    }
}

fn shape(f: &LayerField) -> String {
    format!("{} layers × {} × {}", f.n_layers, f.ny, f.nx)
}

/// Verify volumetric soil moisture (`SoilMoistV`) of the run directory against the truth.
pub fn verify_dirs(truth_dir: &Path, run_dir: &Path) -> Result<VerifyReport, VerifyError> {
    verify_variable(truth_dir, run_dir, "SoilMoistV", "m3 m-3", None)
}

/// Restrict scores to cells: a row-major mask and a description for the report.
#[derive(Debug, Clone)]
pub struct CellMask {
    pub mask: Vec<bool>,
    pub description: String,
}

impl CellMask {
    /// The cells where the assimilation run in `dir` assimilated at least one observation.
    pub fn observed_in(dir: &Path) -> Result<CellMask, VerifyError> {
        let mask = observed_cells(dir)?.ok_or_else(|| VerifyError::Io {
            path: dir.to_path_buf(),
            message: "no analysis diagnostics LC_DA_*.nc (not an assimilation run, or \
                      da:diagnostics was off)"
                .into(),
        })?;
        let n = mask.iter().filter(|m| **m).count();
        Ok(CellMask {
            mask,
            description: format!(
                "{n} cells with assimilated observations in {}",
                dir.display()
            ),
        })
    }
}

/// Verify any layered or single-level history variable `name` (units for the report).
pub fn verify_variable(
    truth_dir: &Path,
    run_dir: &Path,
    name: &str,
    units: &str,
    cells: Option<&CellMask>,
) -> Result<VerifyReport, VerifyError> {
    let tf = find_history_files(truth_dir)?;
    let rf = find_history_files(run_dir)?;
    if tf.is_empty() {
        return Err(VerifyError::NoFiles(truth_dir.to_path_buf()));
    }
    if rf.is_empty() {
        return Err(VerifyError::NoFiles(run_dir.to_path_buf()));
    }
    let common: Vec<NaiveDateTime> = tf.keys().filter(|t| rf.contains_key(t)).copied().collect();
    if common.is_empty() {
        return Err(VerifyError::NoCommonTimes {
            truth: truth_dir.to_path_buf(),
            run: run_dir.to_path_buf(),
            n_truth: tf.len(),
            n_run: rf.len(),
        });
    }
    // [layer][time][cell]
    let mut truth: Vec<Vec<Vec<f64>>> = Vec::new();
    let mut run: Vec<Vec<Vec<f64>>> = Vec::new();
    let mut spread: Vec<Vec<Option<Vec<f64>>>> = Vec::new();
    let mut first: Option<(LayerField, PathBuf)> = None;
    for t in &common {
        let (tp, rp) = (&tf[t], &rf[t]);
        let a = read_field(tp, name)?;
        let b = read_field(rp, name)?;
        let s = read_spread(rp, name)?;
        let same = |x: &LayerField, y: &LayerField| {
            x.n_layers == y.n_layers && x.ny == y.ny && x.nx == y.nx
        };
        let reference = first.as_ref().map_or(&a, |(f, _)| f);
        let bad_spread = s.as_ref().is_some_and(|s| !same(s, &b));
        if !same(&a, &b) || !same(reference, &a) || bad_spread {
            return Err(VerifyError::Mismatch {
                truth: tp.clone(),
                run: rp.clone(),
                truth_shape: shape(&a),
                run_shape: shape(&b),
            });
        }
        if truth.is_empty() {
            truth = vec![Vec::new(); a.n_layers];
            run = vec![Vec::new(); a.n_layers];
            spread = vec![Vec::new(); a.n_layers];
        }
        if let Some(m) = cells {
            if m.mask.len() != a.ny * a.nx {
                return Err(VerifyError::Mismatch {
                    truth: tp.clone(),
                    run: rp.clone(),
                    truth_shape: shape(&a),
                    run_shape: format!("cell mask of {} cells", m.mask.len()),
                });
            }
        }
        for k in 0..a.n_layers {
            let mut tr = a.layer(k).to_vec();
            if let Some(m) = cells {
                for (v, keep) in tr.iter_mut().zip(&m.mask) {
                    if !keep {
                        *v = f64::NAN;
                    }
                }
            }
            truth[k].push(tr);
            run[k].push(b.layer(k).to_vec());
            spread[k].push(s.as_ref().map(|s| s.layer(k).to_vec()));
        }
        if first.is_none() {
            first = Some((a, tp.clone()));
        }
    }
    let layers = (0..truth.len())
        .map(|k| layer_scores(k + 1, &truth[k], &run[k], &spread[k]))
        .collect();
    let fmt = |t: &NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    Ok(VerifyReport {
        variable: name.to_string(),
        units: units.to_string(),
        truth_dir: truth_dir.to_path_buf(),
        run_dir: run_dir.to_path_buf(),
        n_times: common.len(),
        first_time: fmt(&common[0]),
        last_time: fmt(&common[common.len() - 1]),
        unmatched_truth: tf.len() - common.len(),
        unmatched_run: rf.len() - common.len(),
        cells: cells.map_or_else(|| "all land cells".to_string(), |m| m.description.clone()),
        layers,
    })
}

impl VerifyReport {
    /// A plain-text table of the scores.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{} ({}): {} common valid times {} .. {} (unmatched: truth {}, run {})\n",
            self.variable,
            self.units,
            self.n_times,
            self.first_time,
            self.last_time,
            self.unmatched_truth,
            self.unmatched_run
        );
        s.push_str(&format!("cells: {}\n", self.cells));
        s.push_str(&format!(
            "{:>5} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
            "layer", "pairs", "RMSE", "bias", "ubRMSE", "R_time", "R_space", "spread"
        ));
        for l in &self.layers {
            s.push_str(&format!(
                "{:>5} {:>9} {:>9.5} {:>9.5} {:>9.5} {:>9.4} {:>9.4} {:>9.5}\n",
                l.layer,
                l.n_pairs,
                l.rmse,
                l.bias,
                l.ubrmse,
                l.temporal_correlation,
                l.spatial_correlation,
                l.mean_spread
            ));
        }
        s
    }

    /// The report as JSON (NaN written as null).
    pub fn to_json(&self) -> String {
        // serde_json refuses NaN; turn non-finite numbers into null.
        let v = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        serde_json::to_string_pretty(&v).unwrap_or_default()
    }

    /// Read a report written by [`Self::write_json`].
    pub fn read_json(path: &Path) -> Result<Self, VerifyError> {
        let io = |e: &dyn std::fmt::Display| VerifyError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let text = std::fs::read_to_string(path).map_err(|e| io(&e))?;
        serde_json::from_str(&text).map_err(|e| io(&format!("not a verify report: {e}")))
    }

    /// Write the JSON report atomically.
    pub fn write_json(&self, path: &Path) -> Result<(), VerifyError> {
        let text = self.to_json();
        crate::io::atomic_write(path, |tmp| {
            std::fs::write(tmp, text.as_bytes()).map_err(|e| VerifyError::Io {
                path: path.to_path_buf(),
                message: e.to_string(),
            })
        })
    }
}

/// A skill table of several runs scored against the same truth on the same cells: RMSE per
/// layer with the relative change against `reports[reference]`, and spread/RMSE per layer.
/// The reports must agree in variable, cells, layers and (cell, time) pairs, or the
/// comparison would mix different samples.
pub fn comparison_table(
    reports: &[(String, VerifyReport)],
    reference: usize,
) -> Result<String, VerifyError> {
    let Some((ref_name, r0)) = reports.get(reference) else {
        return Err(VerifyError::NotComparable(format!(
            "reference {reference} of {} reports",
            reports.len()
        )));
    };
    for (name, r) in reports {
        let pairs = |r: &VerifyReport| r.layers.iter().map(|l| l.n_pairs).collect::<Vec<_>>();
        if r.variable != r0.variable || r.cells != r0.cells || pairs(r) != pairs(r0) {
            return Err(VerifyError::NotComparable(format!(
                "{name} ({}, {}, pairs {:?}) is not comparable with {ref_name} ({}, {}, pairs {:?})",
                r.variable,
                r.cells,
                pairs(r),
                r0.variable,
                r0.cells,
                pairs(r0)
            )));
        }
    }
    let width = reports
        .iter()
        .map(|(n, _)| n.len())
        .max()
        .unwrap_or(0)
        .max(10);
    let mut s = format!(
        "{} ({}), {}: RMSE per layer (change against {ref_name}); spread/RMSE per layer\n",
        r0.variable, r0.units, r0.cells
    );
    s.push_str(&format!("{:<width$}", "run"));
    for l in &r0.layers {
        s.push_str(&format!(" {:>19}", format!("layer {}", l.layer)));
    }
    s.push_str("  spread/RMSE\n");
    for (i, (name, r)) in reports.iter().enumerate() {
        s.push_str(&format!("{name:<width$}"));
        for (l, l0) in r.layers.iter().zip(&r0.layers) {
            let cell = if i == reference {
                format!("{:.5}", l.rmse)
            } else {
                format!("{:.5} ({:+.1} %)", l.rmse, 100.0 * (l.rmse / l0.rmse - 1.0))
            };
            s.push_str(&format!(" {cell:>19}"));
        }
        let ratios: Vec<String> = r
            .layers
            .iter()
            .map(|l| format!("{:.2}", l.mean_spread / l.rmse))
            .collect();
        s.push_str(&format!("  {}\n", ratios.join(" / ")));
    }
    Ok(s)
}

impl From<crate::io::IoError> for VerifyError {
    fn from(e: crate::io::IoError) -> Self {
        VerifyError::Io {
            path: PathBuf::new(),
            message: e.to_string(),
        }
    }
}
