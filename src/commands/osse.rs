//! `landcycle osse truth NAMELIST`: the OSSE nature run (one realisation with the truth seed
//! and biased forcing, optionally a structural precipitation error) followed by the
//! observation simulator (and the image simulator when `osse:images` is set);
//! `landcycle osse obs NAMELIST [--images]`: only the SMAP/ASCAT simulator, or only the
//! image simulator, on an existing nature run. Settings come from `&osse` (docs/osse.md).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::Config;
use crate::cycle::{CycleError, RunOptions};
use crate::synth::image_file::simulate_images;
use crate::synth::osse::{run_truth, simulate_observations, OsseConfig, OsseError};

/// `landcycle osse ...`
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: OsseCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum OsseCommand {
    /// Nature run with the truth seed and biased forcing, then the synthetic observations.
    Truth(TruthArgs),
    /// Simulate the observations of an existing nature run.
    Obs(ObsArgs),
}

#[derive(Debug, clap::Args)]
pub struct TruthArgs {
    /// The run namelist (with an optional `&osse` group).
    pub namelist: PathBuf,
    /// Run at most N windows of the nature run.
    #[arg(long)]
    pub windows: Option<usize>,
    /// Do not simulate observations after the nature run.
    #[arg(long)]
    pub no_obs: bool,
    /// Never show a progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(Debug, clap::Args)]
pub struct ObsArgs {
    /// The run namelist (with an optional `&osse` group).
    pub namelist: PathBuf,
    /// Write the observation images (LC_IMGOBS_*.nc in osse:image_dir) instead of the
    /// SMAP/ASCAT files.
    #[arg(long)]
    pub images: bool,
}

fn load(namelist: &Path) -> anyhow::Result<(Config, OsseConfig)> {
    let cfg = Config::load(namelist)
        .with_context(|| format!("reading namelist {}", namelist.display()))?;
    let osse = OsseConfig::from_config(&cfg)?;
    Ok((cfg, osse))
}

fn obs(cfg: &Config, osse: &OsseConfig) -> anyhow::Result<()> {
    let s = simulate_observations(cfg, osse).with_context(|| {
        format!(
            "simulating observations of the nature run in {}",
            osse.run_dir().display()
        )
    })?;
    println!(
        "observations: {} SMAP granules ({} retrievals, {} flagged not recommended) in {}; \
         {} ASCAT orbits ({} nodes with values) in {}",
        s.smap_files.len(),
        s.smap_retrievals,
        s.smap_flagged,
        osse.obs_dir.join("smap").display(),
        s.ascat_files.len(),
        s.ascat_values,
        osse.obs_dir.join("ascat").display()
    );
    Ok(())
}

fn images(osse: &OsseConfig) -> anyhow::Result<()> {
    let s = simulate_images(osse).with_context(|| {
        format!(
            "simulating observation images of the nature run in {}",
            osse.run_dir().display()
        )
    })?;
    println!(
        "observation images: {} files every {} h (σ_o {}, L_o {} km, gaps '{}', mean coverage \
         {:.3}) in {}",
        s.files.len(),
        osse.image_interval_hours,
        osse.image_error_sd,
        osse.image_error_corr_km,
        osse.image_gaps,
        s.mean_coverage,
        osse.image_dir.display()
    );
    Ok(())
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    match &args.command {
        OsseCommand::Truth(a) => {
            let comm = crate::commands::run::communicator()?;
            let (cfg, osse) = load(&a.namelist)?;
            let opts = RunOptions {
                rundir: None,
                windows: a.windows,
                resume: false,
                progress: !a.no_progress && std::io::stderr().is_terminal(),
                sync_output: false,
                ..RunOptions::default()
            };
            let summary = match run_truth(&cfg, &osse, comm.as_ref(), &opts) {
                Ok(s) => s,
                Err(OsseError::Cycle(e))
                    if matches!(*e, CycleError::PeerFailed) && comm.rank() != 0 =>
                {
                    anyhow::bail!("rank {}: stopped because another rank failed", comm.rank())
                }
                Err(e) => {
                    return Err(anyhow::Error::new(e).context(format!("rank {}", comm.rank())))
                }
            };
            if comm.rank() != 0 {
                return Ok(());
            }
            println!(
                "nature run: {} window(s), {} land cells, truth seed {}, precipitation × {}, \
                 shortwave × {}, history in {}",
                summary.windows_run,
                summary.n_land_cells,
                osse.truth_seed,
                osse.precip_factor,
                osse.shortwave_factor,
                osse.run_dir().display()
            );
            if osse.precip_factor_field_sd > 0.0 {
                println!(
                    "structural error: precipitation × a lognormal factor field (sd {}, \
                     correlation {} km, seed {}) in {}",
                    osse.precip_factor_field_sd,
                    osse.precip_factor_field_corr_km,
                    osse.precip_factor_field_seed,
                    crate::synth::osse::factor_field_path(&osse).display()
                );
            }
            if !a.no_obs {
                obs(&cfg, &osse)?;
                if osse.images {
                    images(&osse)?;
                }
            }
            Ok(())
        }
        OsseCommand::Obs(a) => {
            let (cfg, osse) = load(&a.namelist)?;
            if a.images {
                images(&osse)
            } else {
                obs(&cfg, &osse)
            }
        }
    }
}
