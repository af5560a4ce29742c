//! A window's observations (stage 1 of a window): discover each product's files, read
//! them with the product QC, keep the observations inside the window, map them to model
//! cells and group them by analysis time. Every rank reads all files of the window (they
//! are small) and gets the same result, so the set of analysis times needs no agreement.
//! Bad or missing files never stop a cycle: they are skipped with a warning, and a window
//! without usable observations runs as open loop.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{Duration, NaiveDateTime};

use crate::config::DaAnalysisTimes;
use crate::grid::locate::CellLocator;
use crate::grid::Grid;
use crate::obs::discover::find_observation_files;
use crate::obs::mapping::{
    map_observations, CellObs, Combine, IndexedGrid, LatLonGrid, MappingGrid,
};
use crate::obs::sensor::ConfiguredSensor;
use crate::obs::{read_files, Observation, RejectCounts};
use crate::time::Window;

/// Observation files per product name (`smap`, `ascat`) to read for one window.
pub type FrozenObsFiles = BTreeMap<String, Vec<PathBuf>>;

/// What reading one sensor's files of a window gave.
#[derive(Debug, Clone, Default)]
pub struct SensorRead {
    /// Files matching the pattern.
    pub files: usize,
    /// Files that could not be read (skipped), with the error.
    pub failed: Vec<(PathBuf, String)>,
    /// Records rejected by the product QC of the reader.
    pub product_rejected: RejectCounts,
    /// Observations accepted by the reader whose time falls in the window.
    pub in_window: usize,
}

/// The observations of one analysis time: per configured sensor, the cells (global ids)
/// with their combined observation, and the mapping rejections.
#[derive(Debug, Clone, Default)]
pub struct AnalysisObs {
    pub cells: Vec<Vec<CellObs>>,
    pub mapping_rejected: Vec<RejectCounts>,
}

/// The observations of one window, grouped by analysis time (identical on every rank).
#[derive(Debug, Clone)]
pub struct WindowObs {
    pub window: Window,
    pub reads: Vec<SensorRead>,
    pub analyses: BTreeMap<NaiveDateTime, AnalysisObs>,
}

impl WindowObs {
    /// Number of mapped observations (cells) over all sensors and analysis times.
    pub fn n_mapped(&self) -> usize {
        self.analyses
            .values()
            .flat_map(|a| a.cells.iter())
            .map(Vec::len)
            .sum()
    }
}

/// The model grid as the mapping searches it: a regular grid on its axes (exactly as
/// before curvilinear grids were supported), any other grid through a spatial index.
enum ObsGrid {
    Regular {
        lat: Vec<f64>,
        lon: Vec<f64>,
        land: Vec<bool>,
    },
    Indexed {
        grid: Arc<Grid>,
        locator: CellLocator,
    },
}

impl ObsGrid {
    fn new(grid: &Arc<Grid>) -> Self {
        match (grid.lat_1d(), grid.lon_1d()) {
            (Some(lat), Some(lon)) => ObsGrid::Regular {
                lat: lat.to_vec(),
                lon: lon.to_vec(),
                land: grid.land_mask().to_vec(),
            },
            _ => ObsGrid::Indexed {
                grid: Arc::clone(grid),
                locator: CellLocator::new(grid),
            },
        }
    }

    fn mapping(&self) -> MappingGrid<'_> {
        match self {
            ObsGrid::Regular { lat, lon, land } => {
                MappingGrid::LatLon(LatLonGrid { lat, lon, land })
            }
            ObsGrid::Indexed { grid, locator } => {
                MappingGrid::Indexed(IndexedGrid { grid, locator })
            }
        }
    }
}

/// The observation stage of a run: the configured products and the model grid.
pub struct ObsWindow {
    sensors: Arc<[ConfiguredSensor]>,
    grid: ObsGrid,
    combine: Combine,
    analysis_times: DaAnalysisTimes,
    /// Model time step (s): analysis times fall on step ends.
    dt: i64,
}

impl ObsWindow {
    /// The stage on the model grid `grid` (a curvilinear grid is indexed here, once).
    pub fn new(
        sensors: Arc<[ConfiguredSensor]>,
        grid: &Arc<Grid>,
        (combine, analysis_times): (Combine, DaAnalysisTimes),
        timestep_seconds: i64,
    ) -> Self {
        ObsWindow {
            sensors,
            grid: ObsGrid::new(grid),
            combine,
            analysis_times,
            dt: timestep_seconds,
        }
    }

    /// Read this window's observation files (all of them, on every rank), keep the
    /// observations in the window and group them by analysis time. Never fails: unreadable
    /// files are skipped with a warning. `log` selects the rank that logs the summary.
    pub fn prepare_window(&self, w: &Window, log: bool) -> WindowObs {
        self.prepare_window_from(w, log, None)
    }

    /// As [`ObsWindow::prepare_window`], reading exactly the files of `frozen` (per product
    /// name; a product it does not list has no file) instead of discovering them: the
    /// frozen observation manifest of `landcycle nrt`, so a rerun reads what the first
    /// attempt read.
    pub fn prepare_window_from(
        &self,
        w: &Window,
        log: bool,
        frozen: Option<&FrozenObsFiles>,
    ) -> WindowObs {
        let mut reads = Vec::new();
        let mut all = Vec::new();
        for s in self.sensors.iter() {
            let name = s.product.name();
            let files = match frozen {
                Some(m) => m.get(name).cloned().unwrap_or_default(),
                None => find_observation_files(&s.directory, &s.pattern, w),
            };
            if files.is_empty() && log {
                tracing::warn!(
                    "window {}: no {} observation file matches {} in {}",
                    w.label(),
                    name,
                    s.pattern,
                    s.directory.display()
                );
            }
            let got = read_files(&files, |p| s.product.read(p));
            reads.push(SensorRead {
                files: files.len(),
                failed: got.failed,
                product_rejected: got.batch.rejected,
                in_window: 0,
            });
            all.push(got.batch.observations);
        }
        let mut wo = self.window_obs_from(w, all, reads);
        let n = wo.n_mapped();
        if log {
            let failed: usize = wo.reads.iter().map(|r| r.failed.len()).sum();
            let files: usize = wo.reads.iter().map(|r| r.files).sum();
            if n == 0 {
                tracing::warn!(
                    "window {}: no usable observations ({files} files found, {failed} \
                     unreadable); running open loop",
                    w.label()
                );
            } else {
                tracing::info!(
                    "window {}: {n} observations mapped to land cells at {} analysis times \
                     ({files} files, {failed} unreadable)",
                    w.label(),
                    wo.analyses.len()
                );
            }
        }
        wo.window = *w;
        wo
    }

    /// Group observations given per configured sensor (in memory, e.g. from a test or a
    /// simulator) into the analyses of window `w`. `reads` may be empty.
    pub fn window_obs_from(
        &self,
        w: &Window,
        per_sensor: Vec<Vec<Observation>>,
        mut reads: Vec<SensorRead>,
    ) -> WindowObs {
        reads.resize(self.sensors.len(), SensorRead::default());
        let grid = self.grid.mapping();
        let ns = self.sensors.len();
        let mut analyses: BTreeMap<NaiveDateTime, AnalysisObs> = BTreeMap::new();
        for (si, obs) in per_sensor.into_iter().enumerate().take(ns) {
            // Analysis time of each observation in (start, end].
            let mut groups: BTreeMap<NaiveDateTime, Vec<Observation>> = BTreeMap::new();
            for o in obs {
                if o.time <= w.start || o.time > w.end {
                    continue;
                }
                reads[si].in_window += 1;
                let t = match self.analysis_times {
                    DaAnalysisTimes::WindowEnd => w.end,
                    DaAnalysisTimes::EveryObsTime => {
                        let us = (o.time - w.start).num_microseconds().unwrap_or(i64::MAX);
                        let step = self.dt * 1_000_000;
                        let k = (us + step - 1) / step;
                        (w.start + Duration::seconds(k * self.dt)).min(w.end)
                    }
                };
                groups.entry(t).or_default().push(o);
            }
            for (t, obs) in groups {
                let t0 = match self.analysis_times {
                    DaAnalysisTimes::WindowEnd => w.start,
                    DaAnalysisTimes::EveryObsTime => t - Duration::seconds(self.dt),
                };
                let (cells, rejected) = map_observations(
                    &obs,
                    (t0, t),
                    grid,
                    self.combine,
                    self.sensors[si].footprint_km,
                );
                if cells.is_empty() && rejected.total() == 0 {
                    continue;
                }
                let a = analyses.entry(t).or_insert_with(|| AnalysisObs {
                    cells: vec![Vec::new(); ns],
                    mapping_rejected: vec![RejectCounts::default(); ns],
                });
                a.cells[si] = cells;
                a.mapping_rejected[si] = rejected;
            }
        }
        // Times where every observation fell outside the land cells need no analysis.
        analyses.retain(|_, a| a.cells.iter().any(|c| !c.is_empty()));
        WindowObs {
            window: *w,
            reads,
            analyses,
        }
    }
}
