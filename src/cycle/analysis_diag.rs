//! What an analysis time leaves behind: the counts over all ranks (logged) and, on the
//! root, the DA diagnostics file, written through the run's output policy like every other
//! file (`io::diag`).

use std::path::PathBuf;
use std::sync::Arc;

use chrono::NaiveDateTime;

use super::analysis_1d::{Analysis1D, LocalAnalysis};
use super::error::CycleError;
use super::obs_window::WindowObs;
use crate::da::enkf::Mode;
use crate::grid::{Coordinates, Grid};
use crate::io::diag::{write_diagnostics_deferred, DiagContent, DiagGrid, DiagSensor};
use crate::io::writer::{CommitJob, WriteJob};
use crate::obs::mapping::Combine;
use crate::obs::prepare::NO_MODEL_CELL;
use crate::obs::qc::RULES as MODEL_QC_RULES;
use crate::parallel::{merge_by_id, Communicator};

/// Rules of the per-analysis QC counted in the diagnostics, in application order: the
/// mapping, the bias correction and the model-based rules.
pub const QC_RULES: [&str; 14] = [
    "outside_grid",
    "not_land",
    "bias_insufficient_samples",
    "bias_degenerate_cdf",
    "bias_outside_training_range",
    NO_MODEL_CELL,
    MODEL_QC_RULES[0],
    MODEL_QC_RULES[1],
    MODEL_QC_RULES[2],
    MODEL_QC_RULES[3],
    MODEL_QC_RULES[4],
    MODEL_QC_RULES[5],
    MODEL_QC_RULES[6],
    MODEL_QC_RULES[7],
];

/// Totals of one analysis time over all ranks (complete on the root rank).
#[derive(Debug, Clone, Default)]
pub struct AnalysisSummary {
    pub time: Option<NaiveDateTime>,
    pub accepted: Vec<usize>,
    /// Per sensor, counts in the order of [`QC_RULES`].
    pub rejected: Vec<Vec<usize>>,
    pub analysed_cells: usize,
}

/// One analysis time's summary and, on the root with diagnostics on, its diagnostics file.
pub struct AnalysisResult {
    pub summary: AnalysisSummary,
    pub diagnostics: Option<DiagFile>,
    /// This rank's accepted observations (every rank), for a retrievals image.
    pub retrievals: Vec<super::analysis_1d::AcceptedRetrieval>,
}

/// The content of one diagnostics file, owned so that the writer thread can write it.
pub struct DiagFile {
    time: NaiveDateTime,
    window: (NaiveDateTime, NaiveDateTime),
    sensors: Vec<DiagSensor>,
    grid: Arc<Grid>,
    layer_thickness: Vec<f64>,
    cells: Vec<(u64, Vec<f64>)>,
    mode: &'static str,
    combine: &'static str,
}

impl DiagFile {
    /// The write job of this file at `path` (committed in order with the other outputs).
    pub fn job(self, path: PathBuf) -> WriteJob<CycleError> {
        Box::new(move || {
            let d = DiagContent {
                time: self.time,
                window_start: self.window.0,
                window_end: self.window.1,
                sensors: &self.sensors,
                qc_rules: &QC_RULES,
                grid: diag_grid(&self.grid),
                layer_thickness: &self.layer_thickness,
                cells: &self.cells,
                mode: self.mode,
                combine: self.combine,
            };
            let (t0, c0) = (std::time::Instant::now(), super::timing::thread_cpu_time());
            let pending = write_diagnostics_deferred(&path, &d)?;
            tracing::debug!(
                "diagnostics {} written in {:.3} s ({:.3} s CPU)",
                path.display(),
                t0.elapsed().as_secs_f64(),
                (super::timing::thread_cpu_time() - c0).as_secs_f64()
            );
            let commit: CommitJob<CycleError> = Box::new(move || Ok(pending.commit()?));
            Ok(commit)
        })
    }
}

/// The diagnostics file's coordinates: the model grid's own.
fn diag_grid(grid: &Grid) -> DiagGrid<'_> {
    match grid.coordinates() {
        Coordinates::Regular { lat, lon } => DiagGrid::Regular { lat, lon },
        Coordinates::Curvilinear { lat, lon } => DiagGrid::Curvilinear {
            ny: grid.ny(),
            nx: grid.nx(),
            lat,
            lon,
        },
    }
}

/// Counts per sensor: accepted, then the rank's rejections by rule.
fn local_counts(local: &LocalAnalysis) -> Vec<f64> {
    let mut counts = Vec::with_capacity(local.accepted.len() * (1 + QC_RULES.len()));
    for (acc, rej) in local.accepted.iter().zip(&local.rejected) {
        counts.push(*acc as f64);
        for r in QC_RULES {
            counts.push(rej.get(r) as f64);
        }
    }
    counts
}

/// Add every rank's counts (root), in rank order.
fn add_counts(summary: &mut AnalysisSummary, cnts: &[Vec<f64>]) {
    let stride = 1 + QC_RULES.len();
    for rank_counts in cnts {
        for (si, rejected) in summary.rejected.iter_mut().enumerate() {
            summary.accepted[si] += rank_counts[si * stride] as usize;
            for (k, v) in rejected.iter_mut().enumerate() {
                *v += rank_counts[si * stride + 1 + k] as usize;
            }
        }
    }
}

impl Analysis1D {
    /// Gather the analysed cells and counts of all ranks to the root (collective).
    pub(super) fn gather_summary(
        &self,
        comm: &dyn Communicator,
        wobs: &WindowObs,
        t1: NaiveDateTime,
        mut local: LocalAnalysis,
    ) -> AnalysisResult {
        let ns = self.sensors.len();
        let retrievals = std::mem::take(&mut local.retrievals);
        let ids = comm.gatherv_u64(&local.ids, 0);
        let recs = comm.gatherv_f64(&local.records, 0);
        let cnts = comm.gatherv_f64(&local_counts(&local), 0);
        let (Some(ids), Some(recs), Some(cnts)) = (ids, recs, cnts) else {
            let summary = AnalysisSummary {
                time: Some(t1),
                accepted: local.accepted,
                ..Default::default()
            };
            return AnalysisResult {
                summary,
                diagnostics: None,
                retrievals,
            };
        };
        let merged = merge_by_id(&ids, &recs, self.record_width());
        let mut summary = AnalysisSummary {
            time: Some(t1),
            accepted: vec![0; ns],
            rejected: vec![vec![0; QC_RULES.len()]; ns],
            analysed_cells: merged.len(),
        };
        add_counts(&mut summary, &cnts);
        // Mapping rejections are global (the same on every rank): count them once.
        let obs = &wobs.analyses[&t1];
        for (si, rejected) in summary.rejected.iter_mut().enumerate() {
            for (k, r) in QC_RULES.iter().enumerate() {
                rejected[k] += obs.mapping_rejected[si].get(r);
            }
        }
        tracing::info!(
            "analysis at {t1}: {} cells analysed, accepted {:?}, rejected {:?}",
            summary.analysed_cells,
            summary.accepted,
            summary
                .rejected
                .iter()
                .map(|r| r.iter().sum::<usize>())
                .collect::<Vec<_>>()
        );
        self.debug_counts(t1, &summary);
        let diagnostics = self
            .diagnostics
            .then(|| self.diag_file(wobs, t1, &summary, merged));
        AnalysisResult {
            summary,
            diagnostics,
            retrievals,
        }
    }

    /// Debug log, per sensor: accepted and rejected counts, each QC rule as its own field
    /// (`rejected` as a JSON object `{rule: count}`, only the rules that rejected).
    fn debug_counts(&self, t1: NaiveDateTime, summary: &AnalysisSummary) {
        if !tracing::enabled!(tracing::Level::DEBUG) {
            return;
        }
        for (si, s) in self.sensors.iter().enumerate() {
            let by_rule: serde_json::Map<String, serde_json::Value> = QC_RULES
                .iter()
                .zip(&summary.rejected[si])
                .filter(|(_, n)| **n > 0)
                .map(|(r, n)| (r.to_string(), serde_json::Value::from(*n)))
                .collect();
            let rejected_total: usize = summary.rejected[si].iter().sum();
            tracing::debug!(
                sensor = s.product.name(),
                time = %t1,
                accepted = summary.accepted[si],
                rejected_total,
                rejected = %serde_json::Value::Object(by_rule),
                "observations of {} at {t1}",
                s.product.name()
            );
        }
    }

    /// The diagnostics file of analysis time `t1` (root).
    fn diag_file(
        &self,
        wobs: &WindowObs,
        t1: NaiveDateTime,
        summary: &AnalysisSummary,
        cells: Vec<(u64, Vec<f64>)>,
    ) -> DiagFile {
        let sensors = self
            .sensors
            .iter()
            .enumerate()
            .map(|(si, s)| {
                let rules = s.product.product_rules();
                let r = wobs.reads.get(si).cloned().unwrap_or_default();
                DiagSensor {
                    name: s.product.name().to_string(),
                    product_rules: rules.to_vec(),
                    product_rejected: rules
                        .iter()
                        .map(|rule| r.product_rejected.get(rule) as i32)
                        .collect(),
                    files_read: (r.files - r.failed.len()) as i32,
                    files_failed: r.failed.len() as i32,
                    accepted: summary.accepted.get(si).copied().unwrap_or(0) as i32,
                    rejected: summary
                        .rejected
                        .get(si)
                        .map(|r| r.iter().map(|&x| x as i32).collect())
                        .unwrap_or_else(|| vec![0; QC_RULES.len()]),
                }
            })
            .collect();
        DiagFile {
            time: t1,
            window: (wobs.window.start, wobs.window.end),
            sensors,
            grid: Arc::clone(&self.grid),
            layer_thickness: self.layer_thickness.clone(),
            cells,
            mode: match self.mode {
                Mode::Joint => "joint",
                Mode::Sequential => "sequential",
            },
            combine: match self.combine {
                Combine::Average => "average",
                Combine::Latest => "latest",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::biascorr::BiasRejection;

    // Rule names of the bias rejections must match `QC_RULES`.
    #[test]
    fn qc_rule_names_cover_bias_rejections() {
        for r in [
            BiasRejection::InsufficientSamples,
            BiasRejection::DegenerateCdf,
            BiasRejection::OutsideTrainingRange,
        ] {
            assert!(QC_RULES.contains(&r.rule()));
        }
    }
}
