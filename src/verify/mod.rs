//! The `verify` room (see docs/architecture.md, docs/osse.md): scores of a run's soil moisture
//! against a reference (the OSSE nature run), per soil layer.
//!
//! History files of the two directories are paired by valid time. Per layer, **pooled** over
//! all (cell, time) pairs of land cells where both are finite ([`LayerScores`]):
//! - bias = mean(run − truth), RMSE = √mean((run − truth)²),
//! - ubRMSE = √mean((run − truth − bias)²) (= √(RMSE² − bias²), Entekhabi et al. 2010),
//! - temporal correlation: Pearson r over time per cell, averaged over cells,
//! - spatial correlation (SCC): Pearson r over cells per time, averaged over times,
//! - mean ensemble spread of the run (`SoilMoistV_spread`) where the run has it.
//!
//! On request ([`spatial_report`], `verify --spatial` / `--open-loop`), per time and layer: SCC,
//! anomaly SCC, RMSE, and the gap closure G against an open loop ([`spatial`]).
//!
//! Correlations are skipped for cells (times) with fewer than 3 pairs or zero variance.
//!
//! The community definitions (pytesmo, LVT: metrics per cell over time, then their domain
//! mean and median, and CF maps) are in [`metrics`] and [`verify_per_cell`]; triple
//! collocation in [`tca`]; observation-space statistics of the DA diagnostics in
//! [`obs_space`]; ISMN in-situ stations in [`insitu`]. See docs/verification.md.

pub mod collocate;
pub mod history;
pub mod insitu;
pub mod insitu_output;
pub mod maps;
pub mod metrics;
pub mod obs_space;
pub mod spatial;
pub mod spatial_report;
pub mod stats;
pub mod tca;

use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use serde::{Deserialize, Deserializer, Serialize};

pub use history::{
    find_history_files, observed_cells, read_field, read_grid, read_spread, HistoryGridInfo,
    LayerField,
};
pub use insitu::{verify_insitu, InsituOptions, InsituReport};
pub use insitu_output::write_insitu_netcdf;
pub use maps::{write_maps, MapField, MapFile};
pub use metrics::{cell_metrics, CellMetrics, PerCellLayer, PerCellOptions, METRICS};
pub use spatial_report::{
    gap_closure_table, spatial_summary, spatial_table, verify_spatial, OpenLoopSummary,
    SpatialOptions, SpatialSummary,
};

/// Errors of verification, each naming the file, variable or time involved.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}: not a directory")]
    NoDirectory(PathBuf),
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{0}")]
    Output(String),
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
    #[error("{0}")]
    Invalid(String),
}

/// The JSON report writes non-finite numbers as null; read them back as NaN.
fn null_as_nan<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Scores of one soil layer. `rmse`, `bias` and `ubrmse` are **pooled** over all (cell,
/// time) pairs (not the per-cell community definition: see [`PerCellLayer`]).
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
    /// Pooled scores per layer (see [`LayerScores`]).
    pub layers: Vec<LayerScores>,
    /// Per-cell temporal metrics and their domain statistics (`verify --per-cell`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_cell: Option<PerCellSummary>,
    /// Spatial scores per time and the gap closure (`verify --spatial`, `--open-loop`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spatial: Option<SpatialSummary>,
}

/// Per-cell metrics of a report: the definitions used and per layer the domain statistics
/// (the maps stay in memory, in [`PerCellLayer::cells`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerCellSummary {
    /// How anomalies were formed.
    pub anomaly: String,
    pub anomaly_window_days: f64,
    pub min_samples: usize,
    /// Level of the Fisher-z confidence intervals.
    pub confidence_level: f64,
    pub layers: Vec<PerCellLayer>,
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

/// The paired fields of two history directories: `[layer][time][cell]`, with the cell mask
/// applied to the truth (so masked cells are missing).
pub struct Paired {
    pub times: Vec<NaiveDateTime>,
    pub truth: Vec<Vec<Vec<f64>>>,
    pub run: Vec<Vec<Vec<f64>>>,
    pub spread: Vec<Vec<Option<Vec<f64>>>>,
    /// The first truth file (grid and coordinates of the maps).
    pub first_truth_file: PathBuf,
    pub n_truth_files: usize,
    pub n_run_files: usize,
}

fn common_times(
    truth_dir: &Path,
    run_dir: &Path,
) -> Result<(Vec<NaiveDateTime>, history::FileIndex, history::FileIndex), VerifyError> {
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
    Ok((common, tf, rf))
}

/// Read and pair the field `name` of the two directories at their common valid times.
pub fn load_pairs(
    truth_dir: &Path,
    run_dir: &Path,
    name: &str,
    cells: Option<&CellMask>,
) -> Result<Paired, VerifyError> {
    let (common, tf, rf) = common_times(truth_dir, run_dir)?;
    let mut p = Paired {
        times: common.clone(),
        truth: Vec::new(),
        run: Vec::new(),
        spread: Vec::new(),
        first_truth_file: tf[&common[0]].clone(),
        n_truth_files: tf.len(),
        n_run_files: rf.len(),
    };
    let mut first: Option<LayerField> = None;
    for t in &common {
        let (tp, rp) = (&tf[t], &rf[t]);
        let a = read_field(tp, name)?;
        let b = read_field(rp, name)?;
        let s = read_spread(rp, name)?;
        check_shapes(tp, rp, (first.as_ref(), &a, &b, s.as_ref()), cells)?;
        if p.truth.is_empty() {
            p.truth = vec![Vec::new(); a.n_layers];
            p.run = vec![Vec::new(); a.n_layers];
            p.spread = vec![Vec::new(); a.n_layers];
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
            p.truth[k].push(tr);
            p.run[k].push(b.layer(k).to_vec());
            p.spread[k].push(s.as_ref().map(|s| s.layer(k).to_vec()));
        }
        if first.is_none() {
            first = Some(a);
        }
    }
    Ok(p)
}

/// Same layers and grid in truth, run, spread, the first truth file and the cell mask.
fn check_shapes(
    tp: &Path,
    rp: &Path,
    (first, a, b, s): (
        Option<&LayerField>,
        &LayerField,
        &LayerField,
        Option<&LayerField>,
    ),
    cells: Option<&CellMask>,
) -> Result<(), VerifyError> {
    let same =
        |x: &LayerField, y: &LayerField| x.n_layers == y.n_layers && x.ny == y.ny && x.nx == y.nx;
    let reference = first.unwrap_or(a);
    let bad_spread = s.is_some_and(|s| !same(s, b));
    let mismatch = |run_shape: String| VerifyError::Mismatch {
        truth: tp.to_path_buf(),
        run: rp.to_path_buf(),
        truth_shape: shape(a),
        run_shape,
    };
    if !same(a, b) || !same(reference, a) || bad_spread {
        return Err(mismatch(shape(b)));
    }
    match cells {
        Some(m) if m.mask.len() != a.ny * a.nx => {
            Err(mismatch(format!("cell mask of {} cells", m.mask.len())))
        }
        _ => Ok(()),
    }
}

pub(crate) fn report_of(
    (truth_dir, run_dir): (&Path, &Path),
    (name, units): (&str, &str),
    cells: Option<&CellMask>,
    p: &Paired,
) -> VerifyReport {
    let layers = (0..p.truth.len())
        .map(|k| layer_scores(k + 1, &p.truth[k], &p.run[k], &p.spread[k]))
        .collect();
    let fmt = |t: &NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    VerifyReport {
        variable: name.to_string(),
        units: units.to_string(),
        truth_dir: truth_dir.to_path_buf(),
        run_dir: run_dir.to_path_buf(),
        n_times: p.times.len(),
        first_time: fmt(&p.times[0]),
        last_time: fmt(&p.times[p.times.len() - 1]),
        unmatched_truth: p.n_truth_files - p.times.len(),
        unmatched_run: p.n_run_files - p.times.len(),
        cells: cells.map_or_else(|| "all land cells".to_string(), |m| m.description.clone()),
        layers,
        per_cell: None,
        spatial: None,
    }
}

/// Verify any layered or single-level history variable `name` (units for the report):
/// pooled scores per layer.
pub fn verify_variable(
    truth_dir: &Path,
    run_dir: &Path,
    name: &str,
    units: &str,
    cells: Option<&CellMask>,
) -> Result<VerifyReport, VerifyError> {
    let p = load_pairs(truth_dir, run_dir, name, cells)?;
    Ok(report_of((truth_dir, run_dir), (name, units), cells, &p))
}

/// A report with per-cell metrics, and the grid of the scored files (for maps).
pub struct PerCellResult {
    pub report: VerifyReport,
    pub grid: HistoryGridInfo,
}

/// Verify `name` with the pooled scores and the per-cell temporal metrics
/// ([`metrics::cell_metrics`]) of every layer and their domain mean and median.
pub fn verify_per_cell(
    truth_dir: &Path,
    run_dir: &Path,
    (name, units): (&str, &str),
    cells: Option<&CellMask>,
    opts: &PerCellOptions,
) -> Result<PerCellResult, VerifyError> {
    if opts.anomaly_window_days.is_nan() || opts.anomaly_window_days <= 0.0 {
        return Err(VerifyError::Invalid(format!(
            "anomaly window {} days: must be positive",
            opts.anomaly_window_days
        )));
    }
    let p = load_pairs(truth_dir, run_dir, name, cells)?;
    let grid = read_grid(&p.first_truth_file)?;
    let mut report = report_of((truth_dir, run_dir), (name, units), cells, &p);
    let t_days: Vec<f64> = p
        .times
        .iter()
        .map(|t| crate::time::epoch_seconds(*t) as f64 / 86_400.0)
        .collect();
    let layers = (0..p.truth.len())
        .map(|k| metrics::per_cell_layer(k + 1, &t_days, &p.truth[k], &p.run[k], opts))
        .collect();
    report.per_cell = Some(PerCellSummary {
        anomaly: format!(
            "x - mean of x over |t_j - t| <= {} days (centred moving window, pytesmo calc_anomaly)",
            0.5 * opts.anomaly_window_days
        ),
        anomaly_window_days: opts.anomaly_window_days,
        min_samples: opts.min_samples,
        confidence_level: 0.95,
        layers,
    });
    Ok(PerCellResult { report, grid })
}

/// The per-cell metric maps of a report as map fields (`[layer][y][x]`).
pub fn per_cell_map_fields(report: &VerifyReport) -> Vec<MapField> {
    let Some(pc) = &report.per_cell else {
        return Vec::new();
    };
    METRICS
        .iter()
        .map(|d| MapField {
            name: d.name.to_string(),
            long_name: format!("{} of {} (run vs reference)", d.long_name, report.variable),
            units: d.units.unwrap_or(&report.units).to_string(),
            layered: true,
            data: pc
                .layers
                .iter()
                .flat_map(|l| l.cells.iter().map(d.get))
                .collect(),
        })
        .collect()
}

/// Write the per-cell metric maps of `r` as a CF NetCDF file.
pub fn write_per_cell_maps(path: &Path, r: &PerCellResult) -> Result<(), VerifyError> {
    let Some(pc) = &r.report.per_cell else {
        return Err(VerifyError::Invalid(
            "the report has no per-cell metrics to map".into(),
        ));
    };
    let fields = per_cell_map_fields(&r.report);
    let globals = [
        (
            "title",
            "landcycle per-cell verification metrics".to_string(),
        ),
        (
            "source",
            format!("landcycle {} verify --per-cell", env!("CARGO_PKG_VERSION")),
        ),
        ("reference_dir", r.report.truth_dir.display().to_string()),
        ("run_dir", r.report.run_dir.display().to_string()),
        ("variable", r.report.variable.clone()),
        (
            "period",
            format!("{} .. {}", r.report.first_time, r.report.last_time),
        ),
        ("anomaly_definition", pc.anomaly.clone()),
        ("cells", r.report.cells.clone()),
    ];
    write_maps(
        path,
        &MapFile {
            grid: &r.grid,
            n_layers: pc.layers.len(),
            fields: &fields,
            globals: &globals,
        },
    )
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
        s.push_str(
            "pooled over all (cell, time) pairs: RMSE, bias, ubRMSE; R_time: mean of per-cell R; \
             R_space: mean over times\n",
        );
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
        if let Some(pc) = &self.per_cell {
            s.push_str(&per_cell_table(pc));
        }
        if let Some(sp) = &self.spatial {
            s.push_str(&spatial_table(sp));
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
        write_text(path, &self.to_json())
    }
}

/// Write a text file (a JSON report) atomically.
pub fn write_text(path: &Path, text: &str) -> Result<(), VerifyError> {
    crate::io::atomic_write(path, |tmp| {
        std::fs::write(tmp, text.as_bytes()).map_err(|e| VerifyError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    })
}

/// A value as pretty JSON with non-finite numbers as null.
pub fn to_json_text<T: Serialize>(value: &T) -> String {
    let v = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
    serde_json::to_string_pretty(&v).unwrap_or_default()
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

/// The domain mean and median of the per-cell metrics, one row per layer and statistic.
fn per_cell_table(pc: &PerCellSummary) -> String {
    let cols = [
        "rmse",
        "bias",
        "ubrmse",
        "r",
        "r_ci_lower",
        "r_ci_upper",
        "anomaly_r",
    ];
    let mut s = format!(
        "per cell over time (min {} pairs; anomalies: {}):\n{:>5} {:>6} {:>6}",
        pc.min_samples, pc.anomaly, "layer", "stat", "cells"
    );
    for c in cols {
        s.push_str(&format!(" {c:>10}"));
    }
    s.push('\n');
    for l in &pc.layers {
        for (stat, get) in [
            (
                "mean",
                (|m: &metrics::MetricSummary| m.mean) as fn(&_) -> f64,
            ),
            ("median", |m| m.median),
        ] {
            s.push_str(&format!("{:>5} {stat:>6} {:>6}", l.layer, l.n_cells_scored));
            for c in cols {
                let v = l.summary(c).map_or(f64::NAN, get);
                s.push_str(&format!(" {v:>10.5}"));
            }
            s.push('\n');
        }
    }
    s
}

impl From<crate::io::IoError> for VerifyError {
    fn from(e: crate::io::IoError) -> Self {
        // The I/O error names its own file.
        VerifyError::Output(e.to_string())
    }
}
