//! In-situ verification against ISMN stations (`verify --insitu DIR`): each station series
//! ([`crate::obs::ismn`]) is matched to the nearest land cell of the run's history grid
//! (within `max_distance_km`), its sensor depth range to the model soil layers (weights =
//! overlap of the depth ranges; a point sensor takes the layer containing its depth), and at
//! every history valid time to the station value nearest in time (within ±`window_minutes`/2).
//! The pairs are scored with the per-cell metric functions ([`cell_metrics`]: reference = the
//! station, run = the model), then summarised per network (mean and median over stations).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;

use super::history::{find_history_files, nc_err, read_field, read_grid, HistoryGridInfo};
use super::metrics::{
    cell_metrics, summarise, CellMetrics, MetricSummary, PerCellOptions, METRICS,
};
use super::VerifyError;
use crate::grid::geo::distance_km;
use crate::obs::ismn::{read_soil_moisture_dir, FlagFilter, IsmnSeries};

/// Options of the in-situ verification.
#[derive(Debug, Clone, PartialEq)]
pub struct InsituOptions {
    /// A station farther than this from every land-cell centre is not scored.
    pub max_distance_km: f64,
    /// Station values within ±window/2 of a history valid time are candidates; the nearest
    /// is used.
    pub window_minutes: f64,
    pub flags: FlagFilter,
    pub metrics: PerCellOptions,
}

impl Default for InsituOptions {
    fn default() -> Self {
        InsituOptions {
            max_distance_km: 30.0,
            window_minutes: 60.0,
            flags: FlagFilter::default(),
            metrics: PerCellOptions::default(),
        }
    }
}

/// Weights of the model layers (0-based) for a sensor measuring `from..to` metres: the
/// overlap of the depth ranges, normalised; a point sensor (`from == to`) takes the layer
/// with top ≤ depth < bottom (the last layer includes its bottom). Empty when the sensor is
/// below the model soil column.
pub fn layer_weights(bounds: &[(f64, f64)], from: f64, to: f64) -> Vec<(usize, f64)> {
    if to <= from {
        let last = bounds.len().saturating_sub(1);
        return bounds
            .iter()
            .enumerate()
            .position(|(k, &(a, b))| from >= a && (from < b || (k == last && from == b)))
            .map(|k| vec![(k, 1.0)])
            .unwrap_or_default();
    }
    let overlaps: Vec<(usize, f64)> = bounds
        .iter()
        .enumerate()
        .map(|(k, &(a, b))| (k, (b.min(to) - a.max(from)).max(0.0)))
        .filter(|&(_, w)| w > 0.0)
        .collect();
    let total: f64 = overlaps.iter().map(|p| p.1).sum();
    overlaps.into_iter().map(|(k, w)| (k, w / total)).collect()
}

/// The nearest land cell (row-major index) and its distance, if within `max_km`.
pub fn nearest_land_cell(
    g: &HistoryGridInfo,
    lat: f64,
    lon: f64,
    max_km: f64,
) -> Option<(usize, f64)> {
    let mut best: Option<(usize, f64)> = None;
    for c in (0..g.lat.len()).filter(|&c| g.land_mask[c]) {
        let d = distance_km(lat, lon, g.lat[c], g.lon[c]);
        if best.is_none_or(|(_, bd)| d < bd) {
            best = Some((c, d));
        }
    }
    best.filter(|&(_, d)| d <= max_km)
}

/// The station value nearest in time to `t` within ±`half` (ties: the earlier), or NaN.
pub fn nearest_in_time(
    times: &[NaiveDateTime],
    values: &[f64],
    t: NaiveDateTime,
    half: chrono::Duration,
) -> f64 {
    let k = times.partition_point(|x| *x < t);
    let mut best: Option<(chrono::Duration, f64)> = None;
    for j in [k.wrapping_sub(1), k] {
        if let (Some(tj), Some(v)) = (times.get(j), values.get(j)) {
            let d = (*tj - t).abs();
            if d <= half && best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, *v));
            }
        }
    }
    best.map_or(f64::NAN, |b| b.1)
}

/// A station's match: (cell, distance km, layer weights), or why it is not scored.
type Match = Result<(usize, f64, Vec<(usize, f64)>), String>;

/// One station's match and scores.
#[derive(Debug, Clone)]
pub struct StationScore {
    pub network: String,
    pub station: String,
    pub sensor: String,
    pub file: PathBuf,
    pub lat: f64,
    pub lon: f64,
    pub depth_from: f64,
    pub depth_to: f64,
    /// Matched cell (row, column) and distance; None when unmatched.
    pub cell: Option<(usize, usize)>,
    pub distance_km: f64,
    /// Model layers (1-based) and weights.
    pub layers: Vec<(usize, f64)>,
    pub n_records: usize,
    pub n_rejected: usize,
    /// "scored", or why not.
    pub status: String,
    pub metrics: CellMetrics,
    /// The paired series at the common valid times (NaN where missing).
    pub insitu: Vec<f64>,
    pub model: Vec<f64>,
}

/// Per-network (and "all") mean and median of the station metrics.
#[derive(Debug, Clone)]
pub struct NetworkSummary {
    pub network: String,
    pub n_stations: usize,
    pub n_scored: usize,
    pub metrics: Vec<MetricSummary>,
}

/// The in-situ report.
#[derive(Debug, Clone)]
pub struct InsituReport {
    pub insitu_dir: PathBuf,
    pub run_dir: PathBuf,
    pub variable: String,
    pub units: String,
    pub times: Vec<NaiveDateTime>,
    pub options: InsituOptions,
    pub stations: Vec<StationScore>,
    pub networks: Vec<NetworkSummary>,
}

/// Layer bounds (top, bottom) in metres from `soil_layer_bnds` of a history file.
pub fn read_layer_bounds(path: &Path) -> Result<Vec<(f64, f64)>, VerifyError> {
    let f = netcdf::open(path).map_err(|e| VerifyError::Io {
        path: path.to_path_buf(),
        message: format!("cannot open: {e}"),
    })?;
    let name = "soil_layer_bnds";
    let v = f.variable(name).ok_or_else(|| {
        nc_err(
            path,
            name,
            "missing: the layer depths are needed to match sensor depths",
        )
    })?;
    let b: Vec<f64> = v
        .get_values::<f64, _>(..)
        .map_err(|e| nc_err(path, name, e))?;
    if b.is_empty() || !b.len().is_multiple_of(2) {
        return Err(nc_err(
            path,
            name,
            format!("{} values, expected (soil_layer, 2)", b.len()),
        ));
    }
    Ok(b.chunks(2).map(|c| (c[0], c[1])).collect())
}

/// How a station is matched: its cell and layer weights, or why it is not scored.
fn match_station(
    s: &IsmnSeries,
    g: &HistoryGridInfo,
    bounds: &[(f64, f64)],
    o: &InsituOptions,
) -> Match {
    let lon = if s.lon > 180.0 { s.lon - 360.0 } else { s.lon };
    let Some((cell, d)) = nearest_land_cell(g, s.lat, lon, o.max_distance_km)
        .or_else(|| nearest_land_cell(g, s.lat, lon + 360.0, o.max_distance_km))
    else {
        return Err(format!("no land cell within {} km", o.max_distance_km));
    };
    let w = layer_weights(bounds, s.depth_from, s.depth_to);
    if w.is_empty() {
        let bottom = bounds.last().map_or(0.0, |b| b.1);
        return Err(format!(
            "sensor depth below the model soil column ({bottom} m)"
        ));
    }
    Ok((cell, d, w))
}

/// Score every ISMN soil-moisture station under `insitu_dir` against the run's history files.
pub fn verify_insitu(
    insitu_dir: &Path,
    run_dir: &Path,
    (variable, units): (&str, &str),
    o: &InsituOptions,
) -> Result<InsituReport, VerifyError> {
    let series = read_soil_moisture_dir(insitu_dir, &o.flags)
        .map_err(|e| VerifyError::Invalid(e.to_string()))?;
    let files = find_history_files(run_dir)?;
    let Some((_, first)) = files.iter().next() else {
        return Err(VerifyError::NoFiles(run_dir.to_path_buf()));
    };
    let grid = read_grid(first)?;
    let bounds = read_layer_bounds(first)?;
    let matches: Vec<Match> = series
        .iter()
        .map(|s| match_station(s, &grid, &bounds, o))
        .collect();
    let times: Vec<NaiveDateTime> = files.keys().copied().collect();
    let mut model = vec![vec![f64::NAN; times.len()]; series.len()];
    for (ti, path) in files.values().enumerate() {
        let f = read_field(path, variable)?;
        if f.ny * f.nx != grid.lat.len() || f.n_layers != bounds.len() {
            return Err(nc_err(
                path,
                variable,
                "grid or layers differ from the first history file",
            ));
        }
        for (m, row) in matches.iter().zip(model.iter_mut()) {
            if let Ok((cell, _, w)) = m {
                row[ti] = w.iter().map(|&(k, wk)| wk * f.layer(k)[*cell]).sum();
            }
        }
    }
    let half = chrono::Duration::seconds((30.0 * o.window_minutes).round() as i64);
    let t0 = times[0];
    let t_days: Vec<f64> = times
        .iter()
        .map(|t| (*t - t0).num_seconds() as f64 / 86400.0)
        .collect();
    let stations: Vec<StationScore> = series
        .iter()
        .zip(&matches)
        .zip(model)
        .map(|((s, m), model)| {
            let insitu: Vec<f64> = times
                .iter()
                .map(|t| nearest_in_time(&s.times, &s.values, *t, half))
                .collect();
            station_score(s, m, &grid, insitu, model, &t_days, o)
        })
        .collect();
    let networks = summarise_networks(&stations);
    Ok(InsituReport {
        insitu_dir: insitu_dir.to_path_buf(),
        run_dir: run_dir.to_path_buf(),
        variable: variable.to_string(),
        units: units.to_string(),
        times,
        options: o.clone(),
        stations,
        networks,
    })
}

fn station_score(
    s: &IsmnSeries,
    m: &Match,
    g: &HistoryGridInfo,
    insitu: Vec<f64>,
    model: Vec<f64>,
    t_days: &[f64],
    o: &InsituOptions,
) -> StationScore {
    let metrics = cell_metrics(t_days, &insitu, &model, &o.metrics);
    let (cell, distance_km, layers, status) = match m {
        Ok((c, d, w)) => {
            let status = if metrics.rmse.is_finite() {
                "scored".to_string()
            } else {
                format!("{} pairs, fewer than {}", metrics.n, o.metrics.min_samples)
            };
            let layers = w.iter().map(|&(k, x)| (k + 1, x)).collect();
            (Some((c / g.nx, c % g.nx)), *d, layers, status)
        }
        Err(why) => (None, f64::NAN, Vec::new(), why.clone()),
    };
    StationScore {
        network: s.network.clone(),
        station: s.station.clone(),
        sensor: s.sensor.clone(),
        file: s.path.clone(),
        lat: s.lat,
        lon: s.lon,
        depth_from: s.depth_from,
        depth_to: s.depth_to,
        cell,
        distance_km,
        layers,
        n_records: s.n_records,
        n_rejected: s.n_rejected,
        status,
        metrics,
        insitu,
        model,
    }
}

/// Mean and median of every metric over the scored stations of each network, then "all".
pub fn summarise_networks(stations: &[StationScore]) -> Vec<NetworkSummary> {
    let mut groups: BTreeMap<String, Vec<&StationScore>> = BTreeMap::new();
    for s in stations {
        groups.entry(s.network.clone()).or_default().push(s);
    }
    groups.insert("all".into(), stations.iter().collect());
    groups
        .into_iter()
        .map(|(network, members)| NetworkSummary {
            n_stations: members.len(),
            n_scored: members
                .iter()
                .filter(|s| s.metrics.rmse.is_finite())
                .count(),
            metrics: METRICS
                .iter()
                .filter(|d| d.name != "n")
                .map(|d| {
                    summarise(
                        d.name,
                        &members
                            .iter()
                            .map(|s| (d.get)(&s.metrics))
                            .collect::<Vec<_>>(),
                    )
                })
                .collect(),
            network,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: [(f64, f64); 4] = [(0.0, 0.1), (0.1, 0.4), (0.4, 1.0), (1.0, 2.0)];

    #[test]
    fn depths_to_layers() {
        assert_eq!(layer_weights(&B, 0.05, 0.05), vec![(0, 1.0)]);
        assert_eq!(layer_weights(&B, 0.1, 0.1), vec![(1, 1.0)]);
        assert_eq!(layer_weights(&B, 2.0, 2.0), vec![(3, 1.0)]);
        assert!(layer_weights(&B, 2.5, 2.5).is_empty());
        assert_eq!(layer_weights(&B, 0.0, 0.05), vec![(0, 1.0)]);
        let w = layer_weights(&B, 0.0, 0.2);
        assert_eq!(w.len(), 2);
        assert!((w[0].1 - 0.5).abs() < 1e-12 && (w[1].1 - 0.5).abs() < 1e-12);
    }

    #[test]
    fn nearest_time() {
        let t = |h: u32, m: u32| {
            chrono::NaiveDate::from_ymd_opt(2020, 6, 1)
                .unwrap()
                .and_hms_opt(h, m, 0)
                .unwrap()
        };
        let times = [t(0, 0), t(1, 0), t(2, 40)];
        let v = [1.0, 2.0, 3.0];
        let half = chrono::Duration::minutes(30);
        assert_eq!(nearest_in_time(&times, &v, t(1, 0), half), 2.0);
        assert_eq!(nearest_in_time(&times, &v, t(0, 30), half), 1.0);
        assert_eq!(nearest_in_time(&times, &v, t(2, 15), half), 3.0);
        assert!(nearest_in_time(&times, &v, t(2, 0), half).is_nan());
    }
}
