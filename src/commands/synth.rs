//! `landcycle synth NAMELIST`: write the synthetic demo case (static fields and forcing)
//! that the namelist's `&domain` and `&forcing` groups point at. Sizes come from `&synth`,
//! or, with `land_mask_file`, the grid and land cells come from a real land-sea mask (the
//! global benchmark case on ERA5's 0.25° mask; see `synth::land_mask`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use crate::config::{Config, NamelistError};
use crate::synth::land_mask::{read_land_mask, resolve, LandMaskSpec};
use crate::synth::statics::{synth_statics_on_mask, try_synth_statics};
use crate::synth::weather::{write_weather_files, WeatherConfig};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run namelist (with an optional `&synth` group).
    pub namelist: PathBuf,
}

/// `&synth`: size and seed of the synthetic case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SynthConfig {
    /// Number of columns (west-east).
    pub nx: usize,
    /// Number of rows (south-north).
    pub ny: usize,
    /// Latitude of the south-west cell centre (degrees north).
    pub lat0: f64,
    /// Longitude of the south-west cell centre (degrees east).
    pub lon0: f64,
    /// Grid spacing (degrees).
    pub resolution: f64,
    /// Seed of the static-field and weather generators.
    pub seed: u64,
    /// Gridded file whose land-sea mask gives the grid and the land cells (replaces `nx`,
    /// `ny`, `lat0`, `lon0` and `resolution`); relative to the namelist's directory.
    pub land_mask_file: Option<PathBuf>,
    /// Variable of the land fraction in `land_mask_file`.
    pub land_mask_variable: String,
    /// Land where the variable is at least this.
    pub land_mask_threshold: f64,
    /// Southernmost latitude kept (inclusive).
    pub land_mask_lat_min: f64,
    /// Northern latitude limit (exclusive).
    pub land_mask_lat_max: f64,
    /// Also write forcing for this many days before `run:start` (for an OSSE nature run that
    /// spins up first, `osse:truth_spinup_days`).
    pub forcing_days_before_start: u32,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            nx: 64,
            ny: 48,
            lat0: 34.0,
            lon0: -100.0,
            resolution: 0.25,
            seed: 2020,
            land_mask_file: None,
            land_mask_variable: "lsm".into(),
            land_mask_threshold: 0.5,
            // GLDAS's latitude range.
            land_mask_lat_min: -60.0,
            land_mask_lat_max: 90.0,
            forcing_days_before_start: 0,
        }
    }
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let cfg = Config::load(&args.namelist)
        .with_context(|| format!("reading namelist {}", args.namelist.display()))?;
    let sc = synth_config(&cfg)?;
    let statics = match land_mask_spec(&sc, &cfg.namelist_file) {
        Some(spec) => synth_statics_on_mask(&read_land_mask(&spec)?, sc.seed)?,
        None => try_synth_statics(sc.nx, sc.ny, sc.lat0, sc.lon0, sc.resolution, sc.seed)?,
    };
    let static_path = &cfg.domain.static_file;
    if let Some(d) = static_path.parent() {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    statics.write_landcycle(static_path)?;
    let lat = statics
        .grid
        .lat_1d()
        .context("synthetic grid is regular")?
        .to_vec();
    let lon = statics
        .grid
        .lon_1d()
        .context("synthetic grid is regular")?
        .to_vec();
    let (lat_len, lon_len) = (lat.len(), lon.len());
    let resolution = if lat_len > 1 {
        lat[1] - lat[0]
    } else {
        sc.resolution
    };
    let interval = i64::from(cfg.forcing.interval_hours) * 3600;
    // Files from the start (less the lead days) to one interval past the end (period means
    // end at file times). The weather is keyed by time, so the lead does not change the rest.
    let first = cfg.run.start - chrono::Duration::days(i64::from(sc.forcing_days_before_start));
    let n_files = ((cfg.run.end - first).num_seconds() / interval + 2) as usize;
    std::fs::create_dir_all(&cfg.forcing.directory)
        .with_context(|| format!("creating {}", cfg.forcing.directory.display()))?;
    let mut w = WeatherConfig::new(
        lat,
        lon,
        first,
        n_files,
        cfg.forcing.directory.clone(),
        sc.seed,
    );
    w.elevation = Some(statics.elevation.clone());
    w.interval_seconds = interval;
    w.file_template = cfg.forcing.file_template.clone();
    let files = write_weather_files(&w)?;
    let n_land = statics.land_cells().len();
    println!(
        "synthetic case: {}×{} cells ({} land) at {}°, static file {}, {} forcing files in {}",
        lon_len,
        lat_len,
        n_land,
        resolution,
        static_path.display(),
        files.len(),
        cfg.forcing.directory.display()
    );
    Ok(())
}

/// The `&synth` group (defaults when absent), its land-mask keys checked: errors name the
/// namelist file and the key's line.
pub fn synth_config(cfg: &Config) -> Result<SynthConfig, NamelistError> {
    let Some(group) = cfg.namelist.group("synth") else {
        return Ok(SynthConfig::default());
    };
    let sc: SynthConfig = cfg.namelist.deserialize_group("synth")?;
    let bad = |key: &str, msg: String| NamelistError::Value {
        loc: Box::new(
            cfg.namelist
                .location(group.entry(key).map_or(group.pos, |e| e.pos)),
        ),
        group: "synth".into(),
        key: key.into(),
        msg,
    };
    let (lo, hi) = (sc.land_mask_lat_min, sc.land_mask_lat_max);
    if !(lo.is_finite() && (-90.0..90.0).contains(&lo)) {
        return Err(bad(
            "land_mask_lat_min",
            format!("{lo} is not in [-90, 90)"),
        ));
    }
    if !(hi.is_finite() && hi > lo && hi <= 90.0) {
        return Err(bad(
            "land_mask_lat_max",
            format!("{hi} is not in (land_mask_lat_min = {lo}, 90]"),
        ));
    }
    if !sc.land_mask_threshold.is_finite() {
        return Err(bad("land_mask_threshold", "is not finite".into()));
    }
    if sc.land_mask_variable.trim().is_empty() {
        return Err(bad("land_mask_variable", "is empty".into()));
    }
    if let Some(f) = &sc.land_mask_file {
        let path = resolve(f, &cfg.namelist_file);
        if !path.is_file() {
            return Err(bad(
                "land_mask_file",
                format!("{} is not a file", path.display()),
            ));
        }
    }
    Ok(sc)
}

/// Where the land mask comes from, when the namelist names a file.
fn land_mask_spec(sc: &SynthConfig, namelist: &Path) -> Option<LandMaskSpec> {
    let file = sc.land_mask_file.as_ref()?;
    Some(LandMaskSpec {
        file: resolve(file, namelist),
        variable: sc.land_mask_variable.clone(),
        threshold: sc.land_mask_threshold,
        lat_min: sc.land_mask_lat_min,
        lat_max: sc.land_mask_lat_max,
    })
}
