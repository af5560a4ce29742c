//! `landcycle synth NAMELIST`: write the synthetic demo case (static fields and forcing)
//! that the namelist's `&domain` and `&forcing` groups point at. Sizes come from `&synth`.

use std::path::PathBuf;

use anyhow::Context;
use serde::Deserialize;

use crate::config::Config;
use crate::synth::statics::try_synth_statics;
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
        }
    }
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let cfg = Config::load(&args.namelist)
        .with_context(|| format!("reading namelist {}", args.namelist.display()))?;
    let sc: SynthConfig = if cfg.namelist.group("synth").is_some() {
        cfg.namelist.deserialize_group("synth")?
    } else {
        SynthConfig::default()
    };
    let statics = try_synth_statics(sc.nx, sc.ny, sc.lat0, sc.lon0, sc.resolution, sc.seed)?;
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
    let interval = i64::from(cfg.forcing.interval_hours) * 3600;
    // Files from the start to one interval past the end (period means end at file times).
    let n_files = ((cfg.run.end - cfg.run.start).num_seconds() / interval + 2) as usize;
    std::fs::create_dir_all(&cfg.forcing.directory)
        .with_context(|| format!("creating {}", cfg.forcing.directory.display()))?;
    let mut w = WeatherConfig::new(
        lat,
        lon,
        cfg.run.start,
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
        sc.nx,
        sc.ny,
        n_land,
        sc.resolution,
        static_path.display(),
        files.len(),
        cfg.forcing.directory.display()
    );
    Ok(())
}
