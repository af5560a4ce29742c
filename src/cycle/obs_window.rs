//! A window's observations (stage 1 of a window): discover each product's files, read
//! them with the product QC, keep the observations inside the window, map them to model
//! cells and group them by analysis time. In a run each file is read and mapped by one
//! rank and every cell's observations are sent to its rank (`cycle::obs_route`); the
//! analysis times and counts are agreed, so every rank sees the same window.
//! Bad or missing files never stop a cycle: they are skipped with a warning, and a window
//! without usable observations runs as open loop.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{Duration, NaiveDateTime};

use crate::config::DaAnalysisTimes;
use crate::grid::locate::CellLocator;
use crate::grid::{Decomposition, Grid};
use crate::obs::discover::find_observation_files;
use crate::obs::mapping::RULES;
use crate::obs::mapping::{
    combine_shares, map_observations, map_targets, CellObs, CellShare, Combine, IndexedGrid,
    LatLonGrid, MappingGrid,
};
use crate::obs::sensor::ConfiguredSensor;
use crate::obs::{read_files, Observation, RejectCounts};
use crate::parallel::{Communicator, ParallelError};
use crate::time::Window;

use super::obs_route::{agree_summary, route, share_files, ReadSummary, RoutedShare, WindowFile};

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
    /// Where each cell lives: with it, a run reads each file on one rank only.
    owners: Option<Arc<Decomposition>>,
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
            owners: None,
        }
    }

    /// Read each file on one rank and send the observations to the ranks owning their
    /// cells ([`ObsWindow::prepare_window_routed`]) with this decomposition.
    pub fn route_by(&mut self, decomposition: Arc<Decomposition>) {
        self.owners = Some(decomposition);
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
            let files = self.sensor_files(s, w, log, frozen);
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
        if log {
            log_summary(&wo, wo.n_mapped());
        }
        wo.window = *w;
        wo
    }

    /// The files of one product for window `w`: those of `frozen` (when given) or those
    /// discovered, with a warning on the logging rank when there is none.
    fn sensor_files(
        &self,
        s: &ConfiguredSensor,
        w: &Window,
        log: bool,
        frozen: Option<&FrozenObsFiles>,
    ) -> Vec<PathBuf> {
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
        files
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
                groups
                    .entry(self.analysis_time(w, o.time))
                    .or_default()
                    .push(o);
            }
            for (t, obs) in groups {
                let (cells, rejected) = map_observations(
                    &obs,
                    (self.group_start(w, t), t),
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

    /// The analysis time of an observation at `time` in window `w`: the window end, or
    /// the end of the model step that holds it.
    fn analysis_time(&self, w: &Window, time: NaiveDateTime) -> NaiveDateTime {
        match self.analysis_times {
            DaAnalysisTimes::WindowEnd => w.end,
            DaAnalysisTimes::EveryObsTime => {
                let us = (time - w.start).num_microseconds().unwrap_or(i64::MAX);
                let step = self.dt * 1_000_000;
                let k = (us + step - 1) / step;
                (w.start + Duration::seconds(k * self.dt)).min(w.end)
            }
        }
    }

    /// The start of the mapping window of analysis time `t` (its end is `t`).
    fn group_start(&self, w: &Window, t: NaiveDateTime) -> NaiveDateTime {
        match self.analysis_times {
            DaAnalysisTimes::WindowEnd => w.start,
            DaAnalysisTimes::EveryObsTime => t - Duration::seconds(self.dt),
        }
    }
}

/// The summary line of a window's observations (`n` mapped cells over all ranks).
fn log_summary(wo: &WindowObs, n: usize) {
    let w = &wo.window;
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

/// The observation stage of a run on several ranks: each file read and mapped once.
impl ObsWindow {
    /// As [`ObsWindow::prepare_window_from`], collectively: the root lists the files, file
    /// `i` is read and mapped by rank `i mod P`, and each rank receives the observations of
    /// its own cells, combined exactly as one rank reading every file would combine them.
    /// The analysis times, reads and rejection counts are the same on every rank. Without
    /// a decomposition ([`ObsWindow::route_by`]) every rank reads every file.
    pub fn prepare_window_routed(
        &self,
        comm: &dyn Communicator,
        w: &Window,
        frozen: Option<&FrozenObsFiles>,
    ) -> Result<WindowObs, ParallelError> {
        let log = comm.is_root();
        let Some(owners) = self.owners.as_ref() else {
            return Ok(self.prepare_window_from(w, log, frozen));
        };
        let listed = if log {
            self.window_files(w, frozen)
        } else {
            Vec::new()
        };
        let files = share_files(comm, listed);
        let (mine, shares) = self.read_my_files(w, &files, (comm.rank(), comm.size()));
        let shares = route(comm, w.start, &shares, &|id| owners.try_owner_of(id))?;
        let n_rules: Vec<usize> = self
            .sensors
            .iter()
            .map(|s| s.product.product_rules().len())
            .collect();
        let all = agree_summary(comm, w.start, &n_rules, &mine);
        let wo = self.assemble(w, &files, all, shares);
        let n = comm.allreduce_sum_u64(wo.n_mapped() as u64) as usize;
        if log {
            log_summary(&wo, n);
        }
        Ok(wo)
    }

    /// Every product's files of window `w`, in the fixed order (product, then file).
    fn window_files(&self, w: &Window, frozen: Option<&FrozenObsFiles>) -> Vec<WindowFile> {
        let mut out = Vec::new();
        for (sensor, s) in self.sensors.iter().enumerate() {
            let files = self.sensor_files(s, w, true, frozen);
            out.extend(files.into_iter().map(|path| WindowFile { sensor, path }));
        }
        out
    }

    /// Read and map the files of this rank (`i mod size == rank`): their summary and the
    /// shares of cells they give. An unreadable file is skipped with the warning naming it.
    fn read_my_files(
        &self,
        w: &Window,
        files: &[WindowFile],
        (rank, size): (usize, usize),
    ) -> (ReadSummary, Vec<RoutedShare>) {
        let mut sum = ReadSummary {
            in_window: vec![0; self.sensors.len()],
            product_rejected: self
                .sensors
                .iter()
                .map(|s| vec![0; s.product.product_rules().len()])
                .collect(),
            ..Default::default()
        };
        let mut shares = Vec::new();
        for (i, f) in files.iter().enumerate().filter(|(i, _)| i % size == rank) {
            tracing::debug!(rank, file = %f.path.display(), "reading observation file");
            let s = &self.sensors[f.sensor];
            let got = read_files(std::slice::from_ref(&f.path), |p| s.product.read(p));
            if let Some((_, e)) = got.failed.into_iter().next() {
                sum.failed.push((i, e));
                continue;
            }
            let rules = s.product.product_rules();
            for (acc, r) in sum.product_rejected[f.sensor].iter_mut().zip(rules) {
                *acc += got.batch.rejected.get(r);
            }
            self.map_file(
                w,
                (f.sensor, i),
                got.batch.observations,
                (&mut sum, &mut shares),
            );
        }
        (sum, shares)
    }

    /// Group one file's observations by analysis time and map each group to its cells,
    /// as [`ObsWindow::window_obs_from`] does for all files at once.
    fn map_file(
        &self,
        w: &Window,
        (si, file): (usize, usize),
        obs: Vec<Observation>,
        (sum, shares): (&mut ReadSummary, &mut Vec<RoutedShare>),
    ) {
        let mut groups: BTreeMap<NaiveDateTime, (Vec<usize>, Vec<Observation>)> = BTreeMap::new();
        for (pos, o) in obs.into_iter().enumerate() {
            if o.time <= w.start || o.time > w.end {
                continue;
            }
            sum.in_window[si] += 1;
            let g = groups.entry(self.analysis_time(w, o.time)).or_default();
            g.0.push(pos);
            g.1.push(o);
        }
        let (grid, footprint) = (self.grid.mapping(), self.sensors[si].footprint_km);
        let mut pairs = Vec::new();
        for (t, (pos, obs)) in groups {
            pairs.clear();
            let rej = map_targets(
                &obs,
                (self.group_start(w, t), t),
                grid,
                footprint,
                &mut pairs,
            );
            let g = sum
                .groups
                .entry((si, t))
                .or_insert_with(|| (0, RejectCounts::with_rules(&RULES)));
            g.0 += pairs.len();
            g.1.merge(&rej);
            shares.extend(pairs.iter().map(|&(k, cell)| RoutedShare {
                sensor: si,
                time: t,
                file,
                pos: pos[k],
                share: CellShare::of(cell, &obs[k]),
            }));
        }
    }

    /// The window as this rank sees it: the agreed reads, analysis times and mapping
    /// rejections, and the observations of its own cells.
    fn assemble(
        &self,
        w: &Window,
        files: &[WindowFile],
        all: ReadSummary,
        shares: Vec<RoutedShare>,
    ) -> WindowObs {
        let ns = self.sensors.len();
        let mut reads: Vec<SensorRead> = (0..ns)
            .map(|si| self.sensor_read(si, files, &all))
            .collect();
        for (i, e) in all.failed {
            reads[files[i].sensor]
                .failed
                .push((files[i].path.clone(), e));
        }
        let mut analyses: BTreeMap<NaiveDateTime, AnalysisObs> = BTreeMap::new();
        // Times where every observation fell outside the land cells need no analysis.
        for (&(si, t), (_, rej)) in all
            .groups
            .iter()
            .filter(|(&(_, t), _)| all.groups.iter().any(|(&(_, u), (n, _))| u == t && *n > 0))
        {
            let a = analyses.entry(t).or_insert_with(|| AnalysisObs {
                cells: vec![Vec::new(); ns],
                mapping_rejected: vec![RejectCounts::default(); ns],
            });
            a.mapping_rejected[si] = rej.clone();
        }
        let mut per_group: BTreeMap<(usize, NaiveDateTime), Vec<CellShare>> = BTreeMap::new();
        for s in shares {
            per_group
                .entry((s.sensor, s.time))
                .or_default()
                .push(s.share);
        }
        let nx = self.grid.mapping().nx();
        for ((si, t), v) in per_group {
            if let Some(a) = analyses.get_mut(&t) {
                a.cells[si] = combine_shares(v, nx, self.combine);
            }
        }
        WindowObs {
            window: *w,
            reads,
            analyses,
        }
    }

    /// The agreed read summary of product `si`.
    fn sensor_read(&self, si: usize, files: &[WindowFile], all: &ReadSummary) -> SensorRead {
        let rules = self.sensors[si].product.product_rules();
        let mut product_rejected = RejectCounts::with_rules(rules);
        for (r, &n) in rules.iter().zip(&all.product_rejected[si]) {
            product_rejected.add_n(r, n);
        }
        SensorRead {
            files: files.iter().filter(|f| f.sensor == si).count(),
            failed: Vec::new(),
            product_rejected,
            in_window: all.in_window[si],
        }
    }
}
