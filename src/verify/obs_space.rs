//! Observation-space statistics of an assimilation run from its DA diagnostics
//! (`LC_DA_YYYYMMDDHHMM.nc` anywhere under the run directory, written by
//! [`crate::io::diag`]): per sensor (and period) the count, mean and variance of the
//! innovations d = y − H x̄ᵇ (O−B) and of the normalised innovations d / √(HPᵇHᵀ + R), and
//! the first Desroziers et al. (2005) relation E[d dᵀ] = HPᵇHᵀ + R checked on the diagonal:
//! the filter's own HPᵇHᵀ + R per observation is recovered from the file as (d / d_norm)², R
//! as the square of `<sensor>_obs_error`.
//!
//! Not computable from these files: O−A (y − H x̄ᵃ) is not stored (only per-layer increments;
//! the observation operator's layer weights and, in sequential mode, the order of the
//! updates are not in the file), so the other Desroziers relations, E[dᵃ dᵇᵀ] = R and
//! E[(H x̄ᵃ − H x̄ᵇ) dᵇᵀ] = HPᵇHᵀ, and any O−A statistic are not given.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::history::{files_under, nc_err, read_masked};
use super::{null_as_nan, VerifyError};

/// How statistics are grouped in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// One group over the whole run.
    All,
    /// Per calendar month of the analysis time.
    Month,
    /// Per UTC day of the analysis time.
    Day,
}

impl Period {
    fn key(self, t: NaiveDateTime) -> String {
        match self {
            Period::All => "all".into(),
            Period::Month => t.format("%Y-%m").to_string(),
            Period::Day => t.format("%Y-%m-%d").to_string(),
        }
    }
}

/// Statistics of one sensor over one period. Variances use n − 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensorStats {
    pub sensor: String,
    pub period: String,
    /// Analysis times with at least one observation of the sensor.
    pub n_analyses: usize,
    /// Observations (cells × analysis times) with a finite innovation.
    pub n: usize,
    #[serde(deserialize_with = "null_as_nan")]
    pub omb_mean: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub omb_variance: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub omb_rms: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub normalized_mean: f64,
    /// Ideal 1 for a consistent filter (innovations as large as HPᵇHᵀ + R says).
    #[serde(deserialize_with = "null_as_nan")]
    pub normalized_variance: f64,
    /// Mean R = mean σ_o² (the observation error variance the filter assumed).
    #[serde(deserialize_with = "null_as_nan")]
    pub mean_r: f64,
    /// Mean of HPᵇHᵀ + R per observation, recovered as (d / d_norm)².
    #[serde(deserialize_with = "null_as_nan")]
    pub mean_hpht_plus_r: f64,
    /// mean_hpht_plus_r − mean_r: the background error variance in observation space.
    #[serde(deserialize_with = "null_as_nan")]
    pub mean_hpht: f64,
    /// Desroziers diagonal check: mean d² / mean(HPᵇHᵀ + R); ideal 1, above 1 means the
    /// filter assumes too little error (background or observation), below 1 too much.
    #[serde(deserialize_with = "null_as_nan")]
    pub desroziers_ratio: f64,
    /// Observations where HPᵇHᵀ + R could be recovered (d_norm ≠ 0).
    pub n_recovered: usize,
}

/// Observation-space statistics of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObsSpaceReport {
    pub run_dir: PathBuf,
    pub n_files: usize,
    pub first_time: String,
    pub last_time: String,
    pub period: Period,
    pub sensors: Vec<SensorStats>,
    /// What these files cannot give.
    pub not_computed: String,
}

/// Values of one sensor collected over the files of one period.
#[derive(Default)]
struct Acc {
    analyses: usize,
    d: Vec<f64>,
    dn: Vec<f64>,
    r: Vec<f64>,
    total: Vec<f64>,
}

/// Time of a diagnostics file name `LC_DA_YYYYMMDDHHMM.nc`.
pub fn diag_time_of_name(name: &str) -> Option<NaiveDateTime> {
    let stamp = name.strip_prefix("LC_DA_")?.strip_suffix(".nc")?;
    if stamp.len() != 12 || !stamp.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveDateTime::parse_from_str(stamp, "%Y%m%d%H%M").ok()
}

fn read_var(f: &netcdf::File, path: &Path, name: &str) -> Result<Vec<f64>, VerifyError> {
    let v = f
        .variable(name)
        .ok_or_else(|| nc_err(path, name, "missing from the diagnostics file"))?;
    read_masked(path, &v, name)
}

/// Sensors of a diagnostics file: the prefixes of its `<sensor>_innovation` variables.
fn sensors_of(f: &netcdf::File) -> Vec<String> {
    let mut s: Vec<String> = f
        .variables()
        .map(|v| v.name())
        .filter(|n| !n.ends_with("_normalized_innovation"))
        .filter_map(|n| n.strip_suffix("_innovation").map(str::to_string))
        .collect();
    s.sort();
    s
}

fn add_file(path: &Path, acc: &mut BTreeMap<String, Acc>) -> Result<(), VerifyError> {
    let f = netcdf::open(path).map_err(|e| VerifyError::Io {
        path: path.to_path_buf(),
        message: format!("cannot open: {e}"),
    })?;
    for s in sensors_of(&f) {
        let d = read_var(&f, path, &format!("{s}_innovation"))?;
        let dn = read_var(&f, path, &format!("{s}_normalized_innovation"))?;
        let sd = read_var(&f, path, &format!("{s}_obs_error"))?;
        if dn.len() != d.len() || sd.len() != d.len() {
            let msg = format!("{} values, {s}_innovation has {}", dn.len(), d.len());
            return Err(nc_err(path, &format!("{s}_normalized_innovation"), msg));
        }
        let a = acc.entry(s).or_default();
        let before = a.d.len();
        for k in 0..d.len() {
            if !(d[k].is_finite() && dn[k].is_finite()) {
                continue;
            }
            a.d.push(d[k]);
            a.dn.push(dn[k]);
            if sd[k].is_finite() {
                a.r.push(sd[k] * sd[k]);
            }
            if dn[k] != 0.0 {
                a.total.push((d[k] / dn[k]).powi(2));
            }
        }
        a.analyses += usize::from(a.d.len() > before);
    }
    Ok(())
}

fn mean_var(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    if x.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = x.iter().sum::<f64>() / n;
    let v = if x.len() > 1 {
        x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1.0)
    } else {
        f64::NAN
    };
    (m, v)
}

fn stats_of(sensor: &str, period: &str, a: &Acc) -> SensorStats {
    let (omb_mean, omb_variance) = mean_var(&a.d);
    let (normalized_mean, normalized_variance) = mean_var(&a.dn);
    let (mean_r, _) = mean_var(&a.r);
    let (mean_total, _) = mean_var(&a.total);
    let d2: Vec<f64> = a.d.iter().map(|d| d * d).collect();
    let (mean_d2, _) = mean_var(&d2);
    SensorStats {
        sensor: sensor.to_string(),
        period: period.to_string(),
        n_analyses: a.analyses,
        n: a.d.len(),
        omb_mean,
        omb_variance,
        omb_rms: mean_d2.sqrt(),
        normalized_mean,
        normalized_variance,
        mean_r,
        mean_hpht_plus_r: mean_total,
        mean_hpht: mean_total - mean_r,
        desroziers_ratio: mean_d2 / mean_total,
        n_recovered: a.total.len(),
    }
}

/// Statistics of all diagnostics files under `run_dir`, per sensor and period.
pub fn obs_space_stats(run_dir: &Path, period: Period) -> Result<ObsSpaceReport, VerifyError> {
    let files = files_under(run_dir, &|n| diag_time_of_name(n).is_some())?;
    let mut timed: Vec<(NaiveDateTime, PathBuf)> = files
        .into_iter()
        .filter_map(|p| {
            let t = p.file_name()?.to_str().and_then(diag_time_of_name)?;
            Some((t, p))
        })
        .collect();
    if timed.is_empty() {
        return Err(VerifyError::Io {
            path: run_dir.to_path_buf(),
            message: "no analysis diagnostics LC_DA_*.nc (not an assimilation run, or \
                      da:diagnostics was off)"
                .into(),
        });
    }
    timed.sort();
    let mut groups: BTreeMap<String, BTreeMap<String, Acc>> = BTreeMap::new();
    for (t, p) in &timed {
        add_file(p, groups.entry(period.key(*t)).or_default())?;
    }
    let mut sensors = Vec::new();
    for (key, by_sensor) in &groups {
        for (s, a) in by_sensor {
            sensors.push(stats_of(s, key, a));
        }
    }
    sensors.sort_by(|a, b| (&a.sensor, &a.period).cmp(&(&b.sensor, &b.period)));
    let fmt = |t: &NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    Ok(ObsSpaceReport {
        run_dir: run_dir.to_path_buf(),
        n_files: timed.len(),
        first_time: fmt(&timed[0].0),
        last_time: fmt(&timed[timed.len() - 1].0),
        period,
        sensors,
        not_computed: NOT_COMPUTED.into(),
    })
}

/// What the diagnostics files cannot give.
pub const NOT_COMPUTED: &str = "O-A statistics and the Desroziers relations E[d_a d_b] = R and \
     E[(Hx_a - Hx_b) d_b] = HBH^T: the diagnostics hold no analysis in observation space";

impl ObsSpaceReport {
    /// A plain-text table.
    pub fn table(&self) -> String {
        let mut s = format!(
            "observation space: {} diagnostics files {} .. {} under {}\n",
            self.n_files,
            self.first_time,
            self.last_time,
            self.run_dir.display()
        );
        s.push_str(&format!(
            "{:<8} {:<10} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10} {:>9}\n",
            "sensor",
            "period",
            "n",
            "O-B mean",
            "O-B sd",
            "O-B rms",
            "dn mean",
            "dn var",
            "mean R",
            "mean HPHt",
            "Desroz."
        ));
        for x in &self.sensors {
            s.push_str(&format!(
                "{:<8} {:<10} {:>8} {:>9.5} {:>9.5} {:>9.5} {:>9.4} {:>9.4} {:>10.3e} {:>10.3e} {:>9.4}\n",
                x.sensor,
                x.period,
                x.n,
                x.omb_mean,
                x.omb_variance.sqrt(),
                x.omb_rms,
                x.normalized_mean,
                x.normalized_variance,
                x.mean_r,
                x.mean_hpht,
                x.desroziers_ratio
            ));
        }
        s.push_str(&format!("not computed: {}\n", self.not_computed));
        s
    }

    /// The report as JSON (NaN written as null).
    pub fn to_json(&self) -> String {
        let v = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        serde_json::to_string_pretty(&v).unwrap_or_default()
    }
}
