//! `landcycle verify --truth DIR --run DIR [--json OUT.json]`: soil-moisture scores of a run
//! against a reference run (the OSSE nature run), per soil layer.

use std::path::PathBuf;

use anyhow::Context;

use crate::verify::{verify_variable, CellMask};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory holding the reference history files (LC_HIST_*.nc, searched recursively).
    #[arg(long)]
    pub truth: PathBuf,
    /// Directory holding the run's history files (ensemble mean and spread).
    #[arg(long)]
    pub run: PathBuf,
    /// Also write the scores as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Score only the cells where the assimilation run in this directory assimilated at least
    /// one observation (from its LC_DA_*.nc diagnostics).
    #[arg(long)]
    pub observed_in: Option<PathBuf>,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let mask = args
        .observed_in
        .as_deref()
        .map(CellMask::observed_in)
        .transpose()
        .context("reading the observed-cell mask")?;
    let report = verify_variable(
        &args.truth,
        &args.run,
        "SoilMoistV",
        "m3 m-3",
        mask.as_ref(),
    )
    .with_context(|| {
        format!(
            "verifying {} against {}",
            args.run.display(),
            args.truth.display()
        )
    })?;
    print!("{}", report.table());
    if let Some(p) = &args.json {
        report
            .write_json(p)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

/// `landcycle skill REPORT.json...`: the skill table of several `verify --json` reports.
#[derive(Debug, clap::Args)]
pub struct SkillArgs {
    /// Reports written by `landcycle verify --json` (the run name is the file stem).
    #[arg(required = true, num_args = 1..)]
    pub reports: Vec<PathBuf>,
    /// Run the changes are relative to (file stem; default: the first report).
    #[arg(long)]
    pub reference: Option<String>,
}

pub fn skill(args: &SkillArgs) -> anyhow::Result<()> {
    let mut reports = Vec::with_capacity(args.reports.len());
    for p in &args.reports {
        let name = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| p.display().to_string());
        let r = crate::verify::VerifyReport::read_json(p)?;
        reports.push((name, r));
    }
    let reference = match &args.reference {
        None => 0,
        Some(n) => reports
            .iter()
            .position(|(name, _)| name == n)
            .ok_or_else(|| anyhow::anyhow!("--reference {n}: no report with that file stem"))?,
    };
    print!("{}", crate::verify::comparison_table(&reports, reference)?);
    Ok(())
}
