//! Spatial scores per valid time (docs/verification.md, "Spatial scores"): the spatial
//! correlation coefficient (SCC, Pearson r over the land cells where run and reference are
//! both finite), the anomaly SCC (the same after removing each cell's time mean over the
//! verification period from each field: raw SCC is dominated by the climatological wet/dry
//! pattern both share), the RMSE over cells, and the gap closure against an open loop,
//! G = (SCC_DA − SCC_OL)/(1 − SCC_OL) (Shen et al. 2024): the fraction of the open loop's
//! missing spatial correlation that assimilation recovers.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::{null_as_nan, pearson};

/// SCC of two fields over the cells where both are finite (None: < 3 cells or no variance).
pub fn scc(reference: &[f64], run: &[f64]) -> Option<f64> {
    pearson(reference, run)
}

/// Root-mean-square difference over the cells where both are finite, and their number.
pub fn rmse(reference: &[f64], run: &[f64]) -> (f64, usize) {
    let (mut s, mut n) = (0.0, 0usize);
    for (a, b) in reference.iter().zip(run) {
        if a.is_finite() && b.is_finite() {
            s += (b - a) * (b - a);
            n += 1;
        }
    }
    if n == 0 {
        (f64::NAN, 0)
    } else {
        ((s / n as f64).sqrt(), n)
    }
}

/// Each cell's time mean of `reference` and of `run` (`[time][cell]`) over the times where
/// both are finite (NaN for a cell with none): the same sample for both fields.
pub fn cell_time_means(reference: &[Vec<f64>], run: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
    let n = reference.first().map_or(0, Vec::len);
    let (mut sa, mut sb, mut k) = (vec![0.0; n], vec![0.0; n], vec![0usize; n]);
    for (a, b) in reference.iter().zip(run) {
        for c in 0..n {
            if a[c].is_finite() && b[c].is_finite() {
                sa[c] += a[c];
                sb[c] += b[c];
                k[c] += 1;
            }
        }
    }
    let mean = |s: &[f64]| -> Vec<f64> {
        s.iter()
            .zip(&k)
            .map(|(s, &k)| if k > 0 { s / k as f64 } else { f64::NAN })
            .collect()
    };
    (mean(&sa), mean(&sb))
}

/// `field − means` cell by cell (NaN stays NaN).
pub fn anomaly(field: &[f64], means: &[f64]) -> Vec<f64> {
    field.iter().zip(means).map(|(x, m)| x - m).collect()
}

/// Gap closure G = (SCC_DA − SCC_OL)/(1 − SCC_OL); NaN when SCC_OL is 1 or undefined.
pub fn gap_closure(scc_da: f64, scc_ol: f64) -> f64 {
    if !(scc_da.is_finite() && scc_ol.is_finite()) || scc_ol >= 1.0 {
        return f64::NAN;
    }
    (scc_da - scc_ol) / (1.0 - scc_ol)
}

/// Spatial scores at one valid time (NaN where undefined).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpatialAtTime {
    pub time: String,
    /// Cells where both fields are finite.
    pub n_cells: usize,
    #[serde(deserialize_with = "null_as_nan")]
    pub scc: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub anomaly_scc: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub rmse: f64,
}

/// The spatial scores of one layer: per time and their means over the times where each is
/// defined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpatialLayer {
    pub layer: usize,
    #[serde(deserialize_with = "null_as_nan")]
    pub mean_scc: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub mean_anomaly_scc: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub mean_rmse: f64,
    pub times: Vec<SpatialAtTime>,
}

fn mean_defined(v: impl Iterator<Item = f64>) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for x in v.filter(|x| x.is_finite()) {
        s += x;
        n += 1;
    }
    if n == 0 {
        f64::NAN
    } else {
        s / n as f64
    }
}

/// Spatial scores of one layer from time-ordered `[time][cell]` fields.
pub fn spatial_layer(
    layer: usize,
    times: &[NaiveDateTime],
    reference: &[Vec<f64>],
    run: &[Vec<f64>],
) -> SpatialLayer {
    let (mr, mx) = cell_time_means(reference, run);
    let rows: Vec<SpatialAtTime> = times
        .iter()
        .zip(reference.iter().zip(run))
        .map(|(t, (a, b))| {
            let (e, n) = rmse(a, b);
            SpatialAtTime {
                time: t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                n_cells: n,
                scc: scc(a, b).unwrap_or(f64::NAN),
                anomaly_scc: scc(&anomaly(a, &mr), &anomaly(b, &mx)).unwrap_or(f64::NAN),
                rmse: e,
            }
        })
        .collect();
    SpatialLayer {
        layer,
        mean_scc: mean_defined(rows.iter().map(|r| r.scc)),
        mean_anomaly_scc: mean_defined(rows.iter().map(|r| r.anomaly_scc)),
        mean_rmse: mean_defined(rows.iter().map(|r| r.rmse)),
        times: rows,
    }
}

/// Gap closure of one layer of a run against an open loop scored on the same times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GapClosureLayer {
    pub layer: usize,
    /// Open loop's cycle-mean SCC, anomaly SCC and RMSE.
    #[serde(deserialize_with = "null_as_nan")]
    pub open_loop_mean_scc: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub open_loop_mean_anomaly_scc: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub open_loop_mean_rmse: f64,
    /// G of the cycle-mean SCCs, and of the cycle-mean anomaly SCCs.
    #[serde(deserialize_with = "null_as_nan")]
    pub g_scc: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub g_anomaly_scc: f64,
    /// G at the first analysis time (SCC and anomaly SCC).
    #[serde(deserialize_with = "null_as_nan")]
    pub g_scc_first: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub g_anomaly_scc_first: f64,
    /// Relative change of the cycle-mean spatial RMSE against the open loop.
    #[serde(deserialize_with = "null_as_nan")]
    pub rmse_change: f64,
    /// G of the SCC per time (aligned with the run's `times`).
    #[serde(deserialize_with = "nan_vec")]
    pub g_scc_per_time: Vec<f64>,
}

fn nan_vec<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    let v = Vec::<Option<f64>>::deserialize(d)?;
    Ok(v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
}

/// G of `run` against `open_loop` (the same layer over the same times); `first` is the index
/// of the first analysis time in `times`.
pub fn gap_closure_layer(
    run: &SpatialLayer,
    open_loop: &SpatialLayer,
    first: usize,
) -> GapClosureLayer {
    let at =
        |l: &SpatialLayer, f: fn(&SpatialAtTime) -> f64| l.times.get(first).map_or(f64::NAN, f);
    GapClosureLayer {
        layer: run.layer,
        open_loop_mean_scc: open_loop.mean_scc,
        open_loop_mean_anomaly_scc: open_loop.mean_anomaly_scc,
        open_loop_mean_rmse: open_loop.mean_rmse,
        g_scc: gap_closure(run.mean_scc, open_loop.mean_scc),
        g_anomaly_scc: gap_closure(run.mean_anomaly_scc, open_loop.mean_anomaly_scc),
        g_scc_first: gap_closure(at(run, |r| r.scc), at(open_loop, |r| r.scc)),
        g_anomaly_scc_first: gap_closure(
            at(run, |r| r.anomaly_scc),
            at(open_loop, |r| r.anomaly_scc),
        ),
        rmse_change: run.mean_rmse / open_loop.mean_rmse - 1.0,
        g_scc_per_time: run
            .times
            .iter()
            .zip(&open_loop.times)
            .map(|(a, b)| gap_closure(a.scc, b.scc))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(n: usize, phase: f64) -> Vec<f64> {
        (0..n)
            .map(|k| 0.25 + 0.05 * ((k as f64) * 0.37 + phase).sin())
            .collect()
    }

    #[test]
    fn scc_of_identical_negated_and_affine_fields() {
        let a = field(50, 0.0);
        assert!((scc(&a, &a).unwrap() - 1.0).abs() < 1e-12);
        let neg: Vec<f64> = a.iter().map(|x| -x).collect();
        assert!((scc(&a, &neg).unwrap() + 1.0).abs() < 1e-12);
        let b = field(50, 1.3);
        let affine: Vec<f64> = b.iter().map(|x| 3.0 * x - 0.7).collect();
        let r = scc(&a, &b).unwrap();
        assert!((scc(&a, &affine).unwrap() - r).abs() < 1e-12);
        let flipped: Vec<f64> = b.iter().map(|x| -2.0 * x + 5.0).collect();
        assert!((scc(&a, &flipped).unwrap() + r).abs() < 1e-12);
    }

    #[test]
    fn missing_cells_are_left_out() {
        let a = field(20, 0.0);
        let mut b = a.clone();
        b[3] = f64::NAN;
        b[7] = 99.0;
        let mut a2 = a.clone();
        a2[7] = f64::NAN;
        assert!((scc(&a2, &b).unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(rmse(&a2, &b), (0.0, 18));
    }

    #[test]
    fn gap_closure_limits() {
        assert_eq!(gap_closure(0.4, 0.4), 0.0);
        assert_eq!(gap_closure(1.0, 0.4), 1.0);
        assert!((gap_closure(0.67, 0.39) - 0.28 / 0.61).abs() < 1e-12);
        assert!(gap_closure(0.9, 1.0).is_nan());
        assert!(gap_closure(0.2, 0.6) < 0.0);
    }

    #[test]
    fn anomaly_scc_removes_a_constant_per_cell_offset_exactly() {
        let n = 30;
        let times: Vec<NaiveDateTime> = (0..8)
            .map(|h| {
                chrono::NaiveDate::from_ymd_opt(2020, 6, 1)
                    .unwrap()
                    .and_hms_opt(3 * h, 0, 0)
                    .unwrap()
            })
            .collect();
        let truth: Vec<Vec<f64>> = (0..8).map(|t| field(n, 0.5 * t as f64)).collect();
        // Run = truth + a fixed per-cell offset: raw SCC < 1, anomaly SCC exactly 1.
        let offset: Vec<f64> = (0..n).map(|c| 0.1 * ((c * 7 % 11) as f64)).collect();
        let run: Vec<Vec<f64>> = truth
            .iter()
            .map(|f| f.iter().zip(&offset).map(|(x, o)| x + o).collect())
            .collect();
        let l = spatial_layer(1, &times, &truth, &run);
        assert!(l.mean_scc < 0.9, "{}", l.mean_scc);
        for r in &l.times {
            assert!((r.anomaly_scc - 1.0).abs() < 1e-12, "{}", r.anomaly_scc);
        }
        let g = gap_closure_layer(&l, &l, 0);
        assert_eq!(g.g_scc, 0.0);
        assert!(g.g_scc_per_time.iter().all(|x| *x == 0.0));
    }
}
