//! The spatial part of a verification report (`verify --spatial`, `--open-loop OLRUN`): per
//! layer the SCC, anomaly SCC and RMSE per valid time and their cycle means, and with an open
//! loop the gap closure G of the cycle means and at the first analysis time
//! ([`super::spatial`] holds the math).

use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::history::files_under;
use super::spatial::{gap_closure_layer, spatial_layer, GapClosureLayer, SpatialLayer};
use super::{load_pairs, CellMask, Paired, VerifyError, VerifyReport};

/// What to add to a report.
#[derive(Debug, Clone, Default)]
pub struct SpatialOptions {
    /// Open-loop run to compute the gap closure against.
    pub open_loop: Option<PathBuf>,
    /// First analysis time; default: the earliest analysis diagnostics file of the run.
    pub first_analysis: Option<NaiveDateTime>,
}

/// Spatial scores of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpatialSummary {
    /// How the anomalies of the anomaly SCC are formed.
    pub anomaly: String,
    /// The time `g_*_first` refers to, and how it was chosen.
    pub first_analysis_time: String,
    pub first_analysis_source: String,
    pub layers: Vec<SpatialLayer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_loop: Option<OpenLoopSummary>,
}

/// Gap closure against an open loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenLoopSummary {
    pub run_dir: PathBuf,
    pub layers: Vec<GapClosureLayer>,
}

/// Valid time of an analysis diagnostics name `LC_DA_*.nc` or `LC_IMG_*.nc`.
fn diag_time(name: &str) -> Option<NaiveDateTime> {
    let stamp = name
        .strip_prefix("LC_DA_")
        .or_else(|| name.strip_prefix("LC_IMG_"))?
        .strip_suffix(".nc")?;
    if stamp.len() != 12 {
        return None;
    }
    NaiveDateTime::parse_from_str(stamp, "%Y%m%d%H%M").ok()
}

/// Index into `times` of the first analysis time and a description of the choice: the
/// explicit time, else the earliest analysis diagnostics file under `run_dir` (the history at
/// an analysis time is written after the analysis), else the first common time.
fn first_analysis(
    run_dir: &Path,
    times: &[NaiveDateTime],
    explicit: Option<NaiveDateTime>,
) -> Result<(usize, String), VerifyError> {
    let index_of = |t: NaiveDateTime| times.iter().position(|x| *x >= t);
    if let Some(t) = explicit {
        let k = index_of(t).ok_or_else(|| {
            VerifyError::Invalid(format!("--first-analysis {t}: after the last common time"))
        })?;
        return Ok((k, "given (--first-analysis)".into()));
    }
    let first_diag = files_under(run_dir, &|n| diag_time(n).is_some())?
        .iter()
        .filter_map(|p| p.file_name().and_then(|n| n.to_str()).and_then(diag_time))
        .min();
    Ok(match first_diag.and_then(|t| index_of(t).map(|k| (k, t))) {
        Some((k, t)) => (k, format!("first analysis diagnostics of the run ({t})")),
        None => (
            0,
            "first common time (the run has no analysis diagnostics)".into(),
        ),
    })
}

fn layers_of(p: &Paired) -> Vec<SpatialLayer> {
    (0..p.truth.len())
        .map(|k| spatial_layer(k + 1, &p.times, &p.truth[k], &p.run[k]))
        .collect()
}

/// The spatial scores of the paired fields `p` of `run_dir`, with the gap closure against
/// `opts.open_loop` (which must have the same valid times with the reference).
pub fn spatial_summary(
    truth_dir: &Path,
    run_dir: &Path,
    (name, cells): (&str, Option<&CellMask>),
    p: &Paired,
    opts: &SpatialOptions,
) -> Result<SpatialSummary, VerifyError> {
    let layers = layers_of(p);
    let (first, source) = first_analysis(run_dir, &p.times, opts.first_analysis)?;
    let open_loop = match &opts.open_loop {
        None => None,
        Some(ol) => {
            let q = load_pairs(truth_dir, ol, name, cells)?;
            if q.times != p.times || q.truth.len() != p.truth.len() {
                return Err(VerifyError::NotComparable(format!(
                    "open loop {} ({} valid times with the reference, {} layers) and run {} \
                     ({} times, {} layers) are not scored on the same times and layers",
                    ol.display(),
                    q.times.len(),
                    q.truth.len(),
                    run_dir.display(),
                    p.times.len(),
                    p.truth.len()
                )));
            }
            let ol_layers = layers_of(&q);
            Some(OpenLoopSummary {
                run_dir: ol.clone(),
                layers: layers
                    .iter()
                    .zip(&ol_layers)
                    .map(|(a, b)| gap_closure_layer(a, b, first))
                    .collect(),
            })
        }
    };
    Ok(SpatialSummary {
        anomaly: "x - mean of x over the verification period per cell, on the times where \
                  run and reference are both valid"
            .into(),
        first_analysis_time: p.times[first].format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        first_analysis_source: source,
        layers,
        open_loop,
    })
}

/// Verify `name` with the pooled scores and the spatial scores.
pub fn verify_spatial(
    truth_dir: &Path,
    run_dir: &Path,
    (name, units): (&str, &str),
    cells: Option<&CellMask>,
    opts: &SpatialOptions,
) -> Result<VerifyReport, VerifyError> {
    let p = load_pairs(truth_dir, run_dir, name, cells)?;
    let mut r = super::report_of((truth_dir, run_dir), (name, units), cells, &p);
    r.spatial = Some(spatial_summary(
        truth_dir,
        run_dir,
        (name, cells),
        &p,
        opts,
    )?);
    Ok(r)
}

/// The text table of the spatial scores.
pub fn spatial_table(s: &SpatialSummary) -> String {
    let mut out = format!(
        "spatial scores per valid time over land cells (cycle mean; at the first analysis time \
         {}: {}); anomalies: {}\n",
        s.first_analysis_time, s.first_analysis_source, s.anomaly
    );
    let first = s
        .layers
        .first()
        .and_then(|l| l.times.iter().position(|r| r.time == s.first_analysis_time))
        .unwrap_or(0);
    out.push_str(&format!(
        "{:>5} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10}\n",
        "layer", "SCC", "aSCC", "RMSE", "SCC_first", "aSCC_first", "RMSE_first"
    ));
    for l in &s.layers {
        let r = l.times.get(first);
        let g = |f: fn(&super::spatial::SpatialAtTime) -> f64| r.map_or(f64::NAN, f);
        out.push_str(&format!(
            "{:>5} {:>9.4} {:>9.4} {:>9.5} {:>10.4} {:>10.4} {:>10.5}\n",
            l.layer,
            l.mean_scc,
            l.mean_anomaly_scc,
            l.mean_rmse,
            g(|r| r.scc),
            g(|r| r.anomaly_scc),
            g(|r| r.rmse)
        ));
    }
    if let Some(ol) = &s.open_loop {
        out.push_str(&format!(
            "gap closure G = (SCC - SCC_OL)/(1 - SCC_OL) against the open loop {}:\n",
            ol.run_dir.display()
        ));
        out.push_str(&format!(
            "{:>5} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>10}\n",
            "layer", "SCC_OL", "aSCC_OL", "G", "aG", "G_first", "aG_first", "RMSE chg"
        ));
        for g in &ol.layers {
            out.push_str(&format!(
                "{:>5} {:>9.4} {:>9.4} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>9.1} %\n",
                g.layer,
                g.open_loop_mean_scc,
                g.open_loop_mean_anomaly_scc,
                g.g_scc,
                g.g_anomaly_scc,
                g.g_scc_first,
                g.g_anomaly_scc_first,
                100.0 * g.rmse_change
            ));
        }
    }
    out
}

/// The gap-closure table of several reports with spatial scores against `reports[reference]`
/// (the open loop): per run and layer G of the cycle-mean SCC and anomaly SCC and G of the SCC
/// at the run's own first analysis time. None when a report has no spatial scores; an error
/// when their valid times differ.
pub fn gap_closure_table(
    reports: &[(String, VerifyReport)],
    reference: usize,
) -> Result<Option<String>, VerifyError> {
    let spatial: Option<Vec<&SpatialSummary>> =
        reports.iter().map(|(_, r)| r.spatial.as_ref()).collect();
    let (Some(spatial), Some((ref_name, _))) = (spatial, reports.get(reference)) else {
        return Ok(None);
    };
    let times = |s: &SpatialSummary| -> Vec<String> {
        s.layers
            .first()
            .map(|l| l.times.iter().map(|r| r.time.clone()).collect())
            .unwrap_or_default()
    };
    let s0 = spatial[reference];
    let mut out = format!(
        "gap closure against {ref_name}: G of the cycle-mean SCC / anomaly SCC; G of the SCC at \
         each run's first analysis time\n{:<12} {:>5} {:>8} {:>8} {:>8} {:>8}\n",
        "run", "layer", "SCC", "G", "aG", "G_first"
    );
    for ((name, _), s) in reports.iter().zip(&spatial) {
        if times(s) != times(s0) || s.layers.len() != s0.layers.len() {
            return Err(VerifyError::NotComparable(format!(
                "{name}: spatial scores on other times or layers than {ref_name}"
            )));
        }
        let first = times(s)
            .iter()
            .position(|t| *t == s.first_analysis_time)
            .unwrap_or(0);
        for (l, l0) in s.layers.iter().zip(&s0.layers) {
            let g = gap_closure_layer(l, l0, first);
            out.push_str(&format!(
                "{name:<12} {:>5} {:>8.4} {:>8.3} {:>8.3} {:>8.3}\n",
                l.layer, l.mean_scc, g.g_scc, g.g_anomaly_scc, g.g_scc_first
            ));
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analysis_diagnostics_names() {
        let t = diag_time("LC_IMG_202006010600.nc").unwrap();
        assert_eq!(t.format("%Y%m%d%H%M").to_string(), "202006010600");
        assert!(diag_time("LC_DA_202006010600.nc").is_some());
        assert!(diag_time("LC_HIST_202006010600.nc").is_none());
    }
}
