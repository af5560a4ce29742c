//! `landcycle verify --truth DIR --run DIR [--json OUT.json] [--per-cell] [--maps OUT.nc]`:
//! soil-moisture scores of a run against a reference run (the OSSE nature run), per soil
//! layer: pooled scores, and with `--per-cell` (or `--maps`) the per-cell temporal metrics
//! on the pytesmo/LVT definitions with their domain mean and median (docs/verification.md).

use std::path::PathBuf;

use anyhow::Context;

use crate::verify::{
    verify_per_cell, verify_variable, write_per_cell_maps, CellMask, PerCellOptions,
};

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
    /// Also compute per-cell temporal metrics (bias, RMSE, ubRMSE, R with 95 % CI and p-value,
    /// Spearman, anomaly R) and print their domain mean and median per layer.
    #[arg(long)]
    pub per_cell: bool,
    /// Write the per-cell metric maps as CF NetCDF to this file (implies --per-cell).
    #[arg(long, value_name = "OUT.nc")]
    pub maps: Option<PathBuf>,
    /// Width of the centred moving window of the anomaly climatology, in days.
    #[arg(long, default_value_t = 35.0)]
    pub anomaly_window_days: f64,
    /// Minimum number of valid pairs for a cell's per-cell metrics.
    #[arg(long, default_value_t = 10)]
    pub min_samples: usize,
}

impl Default for Args {
    /// The command-line defaults (for callers building the arguments in code).
    fn default() -> Self {
        let o = PerCellOptions::default();
        Args {
            truth: PathBuf::new(),
            run: PathBuf::new(),
            json: None,
            observed_in: None,
            per_cell: false,
            maps: None,
            anomaly_window_days: o.anomaly_window_days,
            min_samples: o.min_samples,
        }
    }
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let mask = args
        .observed_in
        .as_deref()
        .map(CellMask::observed_in)
        .transpose()
        .context("reading the observed-cell mask")?;
    let context = || {
        format!(
            "verifying {} against {}",
            args.run.display(),
            args.truth.display()
        )
    };
    let report = if args.per_cell || args.maps.is_some() {
        let opts = PerCellOptions {
            anomaly_window_days: args.anomaly_window_days,
            min_samples: args.min_samples,
        };
        let names = ("SoilMoistV", "m3 m-3");
        let r = verify_per_cell(&args.truth, &args.run, names, mask.as_ref(), &opts)
            .with_context(context)?;
        if let Some(p) = &args.maps {
            write_per_cell_maps(p, &r).with_context(|| format!("writing {}", p.display()))?;
        }
        r.report
    } else {
        verify_variable(
            &args.truth,
            &args.run,
            "SoilMoistV",
            "m3 m-3",
            mask.as_ref(),
        )
        .with_context(context)?
    };
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
