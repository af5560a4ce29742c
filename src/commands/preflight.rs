//! `landcycle check --preflight`: what `run` would trip over, found before anything is
//! created. Reads the static file in full, every forcing file the run period needs (present,
//! readable, with every configured variable and coordinate), the first forcing record at
//! every land cell (the forcing grid covers the domain, no missing values), the observation
//! files of every window per sensor, the bias-correction climatologies and what needs a
//! regular grid, and the disk space of the whole run. Every problem is
//! reported, each naming its file (and time, variable or window); nothing is written.

use std::path::Path;

use chrono::NaiveDateTime;

use crate::config::{Config, DaBiasCorrection, StaticFormat};
use crate::cycle::footprint::{estimate, human};
use crate::forcing::{ForcingReader, ForcingRole};
use crate::grid::statics::StaticFields;
use crate::grid::wps_domain::WpsDomain;
use crate::grid::Grid;
use crate::io::climatology::read_climatology;
use crate::obs::discover::find_observation_files;
use crate::time::{windows, Window};

/// Findings of a preflight: problems stop the run, notes are printed either way.
#[derive(Debug, Default)]
pub struct Preflight {
    pub problems: Vec<String>,
    pub notes: Vec<String>,
}

/// Run every check of `cfg` for `ranks` ranks.
pub fn preflight(cfg: &Config, ranks: usize) -> Preflight {
    let mut p = inputs(cfg, ranks);
    check_observations(cfg, &mut p);
    p
}

/// The checks `landcycle run` makes before it creates anything: as [`preflight`], except that
/// missing observations are notes (`warning: …`), since the cycle runs such windows as open
/// loop by design.
pub fn preflight_for_run(cfg: &Config, ranks: usize) -> Preflight {
    let mut p = inputs(cfg, ranks);
    let mut obs = Preflight::default();
    check_observations(cfg, &mut obs);
    p.notes
        .extend(obs.problems.into_iter().map(|m| format!("warning: {m}")));
    p.notes.extend(obs.notes);
    p
}

/// Static file, forcing, disk space and observation-error maps.
fn inputs(cfg: &Config, ranks: usize) -> Preflight {
    let mut p = Preflight::default();
    match read_statics(cfg) {
        Ok(grid) => {
            p.notes.push(format!(
                "static file {}: {} x {} cells, {} land, every field readable",
                cfg.domain.static_file.display(),
                grid.ny(),
                grid.nx(),
                grid.n_land()
            ));
            // Only mode 'files' reads the data files of &forcing.
            if cfg.coupler.mode == crate::config::CouplerMode::Files {
                check_forcing(cfg, &grid, &mut p);
            }
            check_grid_needs(cfg, &grid, &mut p);
            check_disk(cfg, &grid, ranks, &mut p);
            check_error_maps(cfg, &grid, &mut p);
        }
        Err(e) => p.problems.push(format!("static file: {e}")),
    }
    p
}

/// The whole static file, read and validated as `run` reads it, and its map projection.
fn read_statics(cfg: &Config) -> Result<Grid, String> {
    let path = &cfg.domain.static_file;
    if !path.is_file() {
        return Err(format!("{} does not exist", path.display()));
    }
    let grid = match cfg.domain.static_format {
        StaticFormat::Landcycle => StaticFields::read_landcycle(path),
        StaticFormat::GeoEm => StaticFields::read_geo_em(path),
    }
    .map_err(|e| e.to_string())?
    .grid;
    if cfg.domain.static_format == StaticFormat::GeoEm {
        WpsDomain::read_geo_em(path).map_err(|e| e.to_string())?;
    }
    if grid.n_land() == 0 {
        return Err(format!("{}: the domain has no land cell", path.display()));
    }
    Ok(grid)
}

/// Forcing file times the run reads: from the file at or before the start (instantaneous
/// fields interpolate from it) to the first at or after the end (period means end there).
fn forcing_times(cfg: &Config) -> Vec<NaiveDateTime> {
    let step = i64::from(cfg.forcing.interval_hours.max(1)) * 3600;
    let secs = |t: NaiveDateTime| t.and_utc().timestamp();
    let first = secs(cfg.run.start).div_euclid(step) * step;
    let last = (secs(cfg.run.end) + step - 1).div_euclid(step) * step;
    (0..=(last - first) / step)
        .filter_map(|k| chrono::DateTime::from_timestamp(first + k * step, 0))
        .map(|t| t.naive_utc())
        .collect()
}

/// Every forcing file of the period present with the configured variables; the first
/// record read at every land cell.
fn check_forcing(cfg: &Config, grid: &Grid, p: &mut Preflight) {
    if let Some(w) = &cfg.coupler.a2l_weights {
        // Files on an atmosphere grid, read through the weights (no coordinates needed).
        return p.notes.push(format!(
            "forcing: read through coupler:a2l_weights {}; its files are not checked here",
            w.display()
        ));
    }
    let spec = crate::cycle::forcing_spec(cfg);
    if spec.names_cycle() {
        // The file of a valid time depends on the cycle that reads it (a forecast archive).
        return p.notes.push(format!(
            "forcing: the file template {:?} names the issuing cycle ({{init}}/{{lead_h}}); \
             its files are not checked here, each cycle finds its own",
            cfg.forcing.file_template
        ));
    }
    let times = forcing_times(cfg);
    let before = p.problems.len();
    for &t in &times {
        let path = match spec.file_path(t) {
            Ok(path) => path,
            Err(e) => return p.problems.push(format!("forcing: {e}")),
        };
        if let Err(e) = forcing_file_ok(&path, &spec, t) {
            p.problems.push(e);
        }
    }
    if p.problems.len() > before {
        return;
    }
    let targets: Vec<(f64, f64)> = grid
        .land_cells()
        .iter()
        .map(|&id| {
            let (j, i) = grid.index_of(id).expect("a land cell of the grid");
            (grid.lat(j, i), grid.lon(j, i))
        })
        .collect();
    let first = ForcingReader::new(spec, &targets).and_then(|mut r| r.record(times[0]));
    match first {
        Ok(_) => p.notes.push(format!(
            "forcing: {} files from {} to {}, every variable present; the first record covers all {} land cells",
            times.len(),
            times[0],
            times[times.len() - 1],
            targets.len()
        )),
        Err(e) => p.problems.push(format!("forcing does not cover the domain: {e}")),
    }
}

/// One forcing file: present, readable, holding the coordinates and every variable.
fn forcing_file_ok(
    path: &Path,
    spec: &crate::forcing::ForcingSpec,
    t: NaiveDateTime,
) -> Result<(), String> {
    if !path.is_file() {
        return Err(format!(
            "forcing file {} for {t} is missing",
            path.display()
        ));
    }
    let f =
        netcdf::open(path).map_err(|e| format!("forcing file {} for {t}: {e}", path.display()))?;
    let names = ForcingRole::ALL
        .iter()
        .map(|r| spec.variables.get(*r).name.as_str())
        .chain([spec.lat_name.as_str(), spec.lon_name.as_str()]);
    for name in names {
        if f.variable(name).is_none() {
            return Err(format!(
                "forcing file {} for {t} has no variable {name}",
                path.display()
            ));
        }
    }
    Ok(())
}

/// Per sensor (and the image analysis), the observation files of every window: none at
/// all is a problem, windows without files are a note.
fn check_observations(cfg: &Config, p: &mut Preflight) {
    let ws = windows(cfg.run.start, cfg.run.end, i64::from(cfg.run.window_hours));
    let mut products: Vec<(String, &Path, &str)> = Vec::new();
    if cfg.da.enabled {
        for s in &cfg.da.sensors {
            let (dir, pattern, ..) = cfg.da.sensor(*s);
            products.push((s.name().to_string(), dir, pattern));
        }
    }
    if cfg.image.enabled {
        let i = &cfg.image;
        products.push(("image".into(), &i.gridded_directory, &i.gridded_pattern));
    }
    for (name, dir, pattern) in products {
        if !dir.is_dir() {
            p.problems.push(format!(
                "{name} observations: directory {} does not exist",
                dir.display()
            ));
            continue;
        }
        let counts: Vec<(&Window, usize)> = ws
            .iter()
            .map(|w| (w, find_observation_files(dir, pattern, w).len()))
            .collect();
        let empty: Vec<String> = counts
            .iter()
            .filter(|c| c.1 == 0)
            .map(|c| c.0.label())
            .collect();
        let total: usize = counts.iter().map(|c| c.1).sum();
        if empty.len() == ws.len() {
            p.problems.push(format!(
                "{name} observations: no file matching {pattern:?} in {} for any of the {} windows",
                dir.display(),
                ws.len()
            ));
        } else if !empty.is_empty() {
            p.notes.push(format!(
                "{name} observations: {} of {} windows have no file (first: window {}); those windows run without {name}",
                empty.len(),
                ws.len(),
                empty[0]
            ));
        } else {
            p.notes.push(format!(
                "{name} observations: files for all {} windows ({total} file reads)",
                ws.len()
            ));
        }
    }
}

/// Each sensor's `da:<sensor>_error_map`, read and checked against the grid as `run` does.
fn check_error_maps(cfg: &Config, grid: &Grid, p: &mut Preflight) {
    if !cfg.da.enabled {
        return;
    }
    for &s in &cfg.da.sensors {
        let Some((path, variable)) = cfg.da.error_map(s) else {
            continue;
        };
        match crate::cycle::obs_error_map::read_obs_error_map(path, variable, grid, &[]) {
            Ok(m) => p.notes.push(format!(
                "{} observation errors: {variable} of {} at {} of {} land cells",
                s.name(),
                path.display(),
                m.land_from_map,
                m.land
            )),
            Err(e) => p
                .problems
                .push(format!("{} observation errors: {e}", s.name())),
        }
    }
}

/// What needs a regular latitude-longitude grid (bias-correction climatologies, the image
/// analysis), and each climatology read and compared with the model grid, as `run` does.
fn check_grid_needs(cfg: &Config, grid: &Grid, p: &mut Preflight) {
    let axes = grid.lat_1d().zip(grid.lon_1d());
    if cfg.image.enabled && axes.is_none() {
        p.problems.push(
            "image:enabled needs a regular latitude-longitude grid; this domain is curvilinear"
                .into(),
        );
    }
    if !cfg.da.enabled {
        return;
    }
    for s in &cfg.da.sensors {
        let name = s.name();
        let (.., bias, climatology) = cfg.da.sensor(*s);
        if bias == DaBiasCorrection::None {
            continue;
        }
        let Some((lat, lon)) = axes else {
            p.problems.push(format!(
                "da:{name}_bias_correction needs a regular latitude-longitude grid (climatology \
                 files are on regular grids); use {name}_bias_correction = 'none' on this domain"
            ));
            continue;
        };
        let Some(path) = climatology else {
            p.problems.push(format!(
                "da:{name}_bias_correction needs da:{name}_climatology"
            ));
            continue;
        };
        match read_climatology(path) {
            Err(e) => p
                .problems
                .push(format!("{name} climatology {}: {e}", path.display())),
            Ok(c) if !c.same_grid(lat, lon) => p.problems.push(format!(
                "{name} climatology {}: grid {}x{} differs from the model grid {}x{}",
                path.display(),
                c.lat.len(),
                c.lon.len(),
                lat.len(),
                lon.len()
            )),
            Ok(_) => p.notes.push(format!(
                "{name} climatology {}: readable, on the model grid",
                path.display()
            )),
        }
    }
}

/// History of every cycle and the restarts kept fit on the run directory's file system.
fn check_disk(cfg: &Config, grid: &Grid, ranks: usize, p: &mut Preflight) {
    let fp = estimate(cfg, grid.n_land(), grid.ny() * grid.nx(), ranks);
    let cycles = u64::from(cfg.run.window_count());
    let kept = match u64::from(cfg.restart.keep) {
        0 => cycles,
        k => k.min(cycles),
    };
    let need = fp.history_per_cycle * cycles + fp.restart_bytes * kept;
    let dir = &cfg.run.rundir;
    let free = dir
        .ancestors()
        .find(|d| d.is_dir())
        .and_then(crate::io::atomic::free_bytes);
    match free {
        Some(free) if need > free => p.problems.push(format!(
            "disk: the run needs about {} ({cycles} cycles of history, {kept} restarts) but {} has {} free",
            human(need),
            dir.display(),
            human(free)
        )),
        Some(free) => p.notes.push(format!(
            "disk: about {} needed for {cycles} cycles, {} free at {}",
            human(need),
            human(free),
            dir.display()
        )),
        None => p.notes.push(format!("disk: free space at {} unknown", dir.display())),
    }
}
