//! `landcycle obs-space RUNDIR [--period all|month|day] [--json OUT.json]`: observation-space
//! statistics of an assimilation run from its DA diagnostics (docs/verification.md).

use std::path::PathBuf;

use anyhow::Context;

use crate::verify::obs_space::{obs_space_stats, Period};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run directory holding the DA diagnostics LC_DA_*.nc (searched recursively).
    pub run_dir: PathBuf,
    /// Group the statistics per period of the analysis time.
    #[arg(long, value_enum, default_value_t = Period::All)]
    pub period: Period,
    /// Also write the statistics as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let report = obs_space_stats(&args.run_dir, args.period)
        .with_context(|| format!("observation-space statistics of {}", args.run_dir.display()))?;
    print!("{}", report.table());
    if let Some(p) = &args.json {
        crate::verify::write_text(p, &report.to_json())
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}
