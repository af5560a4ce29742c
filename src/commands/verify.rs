//! `landcycle verify --truth DIR --run DIR [--json OUT.json] [--per-cell] [--maps OUT.nc]
//! [--spatial] [--open-loop OLRUN] [--first-analysis TIME]`: soil-moisture scores of a run
//! against a reference run (the OSSE nature run), per soil layer: pooled scores; with
//! `--per-cell` (or `--maps`) the per-cell temporal metrics on the pytesmo/LVT definitions
//! with their domain mean and median; with `--spatial` (or `--open-loop`) the SCC, anomaly
//! SCC and RMSE per valid time and the gap closure G against the open loop
//! (docs/verification.md). With `--insitu DIR` the run is scored against ISMN station
//! files instead (per station and network).

use std::path::PathBuf;

use anyhow::Context;

use crate::io::atomic::atomic_write;
use crate::obs::ismn::FlagFilter;
use crate::verify::{
    load_pairs, spatial_summary, verify_insitu, verify_per_cell, verify_spatial, verify_variable,
    write_insitu_netcdf, write_per_cell_maps, CellMask, InsituOptions, PerCellOptions,
    SpatialOptions, VerifyReport,
};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory holding the reference history files (LC_HIST_*.nc, searched recursively);
    /// required unless --insitu is given.
    #[arg(long, default_value = "", value_parser = path_or_empty, hide_default_value = true)]
    pub truth: PathBuf,
    /// Score the run against the ISMN station files (*.stm, searched recursively) under
    /// this directory instead of a reference run (docs/verification.md, "In-situ").
    #[arg(long, value_name = "DIR")]
    pub insitu: Option<PathBuf>,
    /// In-situ: largest station to land-cell-centre distance, km.
    #[arg(long, default_value_t = 30.0)]
    pub insitu_max_distance_km: f64,
    /// In-situ: station values within ±W/2 minutes of a history time are candidates (the
    /// nearest is used).
    #[arg(long, default_value_t = 60.0)]
    pub insitu_window_minutes: f64,
    /// In-situ: accepted ISMN quality flags, comma-separated (every flag of a value must be
    /// accepted).
    #[arg(long, default_value = "G")]
    pub insitu_flags: String,
    /// In-situ: write one CSV row per station to this file.
    #[arg(long, value_name = "OUT.csv")]
    pub insitu_csv: Option<PathBuf>,
    /// In-situ: write the station series and metrics as CF (featureType timeSeries) NetCDF.
    #[arg(long, value_name = "OUT.nc")]
    pub insitu_nc: Option<PathBuf>,
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
    /// Also compute the spatial scores per valid time: SCC, anomaly SCC (each cell's time
    /// mean removed) and RMSE over land cells, with their cycle means.
    #[arg(long)]
    pub spatial: bool,
    /// Open-loop run directory: adds the gap closure G = (SCC - SCC_OL)/(1 - SCC_OL) per
    /// layer (implies --spatial).
    #[arg(long, value_name = "OLRUN")]
    pub open_loop: Option<PathBuf>,
    /// First analysis time for the G_first scores (YYYY-MM-DDTHH:MM or YYYYMMDDHH; default:
    /// the earliest LC_DA_/LC_IMG_ diagnostics file of the run, else the first common time).
    #[arg(long, value_parser = parse_time)]
    pub first_analysis: Option<chrono::NaiveDateTime>,
}

/// A path, or empty when not given (clap's path parser refuses the empty default).
fn path_or_empty(s: &str) -> Result<PathBuf, String> {
    Ok(PathBuf::from(s))
}

fn parse_time(s: &str) -> Result<chrono::NaiveDateTime, String> {
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y%m%d%H%M"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(s, f).ok())
        .or_else(|| chrono::NaiveDateTime::parse_from_str(&format!("{s}00"), "%Y%m%d%H%M").ok())
        .ok_or_else(|| format!("'{s}' is not YYYY-MM-DDTHH:MM, YYYYMMDDHHMM or YYYYMMDDHH"))
}

impl Default for Args {
    /// The command-line defaults (for callers building the arguments in code).
    fn default() -> Self {
        let o = PerCellOptions::default();
        Args {
            truth: PathBuf::new(),
            insitu: None,
            insitu_max_distance_km: 30.0,
            insitu_window_minutes: 60.0,
            insitu_flags: "G".into(),
            insitu_csv: None,
            insitu_nc: None,
            run: PathBuf::new(),
            json: None,
            observed_in: None,
            per_cell: false,
            maps: None,
            anomaly_window_days: o.anomaly_window_days,
            min_samples: o.min_samples,
            spatial: false,
            open_loop: None,
            first_analysis: None,
        }
    }
}

/// `verify --insitu DIR`: the run against ISMN stations.
fn run_insitu(dir: &std::path::Path, args: &Args) -> anyhow::Result<()> {
    let o = InsituOptions {
        max_distance_km: args.insitu_max_distance_km,
        window_minutes: args.insitu_window_minutes,
        flags: FlagFilter::parse(&args.insitu_flags),
        metrics: PerCellOptions {
            anomaly_window_days: args.anomaly_window_days,
            min_samples: args.min_samples,
        },
    };
    let r = verify_insitu(dir, &args.run, ("SoilMoistV", "m3 m-3"), &o).with_context(|| {
        format!(
            "verifying {} against the stations under {}",
            args.run.display(),
            dir.display()
        )
    })?;
    print!("{}", r.table());
    let write = |p: &std::path::Path, text: String| -> anyhow::Result<()> {
        atomic_write(p, |tmp| -> anyhow::Result<()> {
            std::fs::write(tmp, &text).with_context(|| format!("writing {}", tmp.display()))
        })
    };
    if let Some(p) = &args.json {
        write(p, r.to_json())?;
    }
    if let Some(p) = &args.insitu_csv {
        write(p, r.to_csv())?;
    }
    if let Some(p) = &args.insitu_nc {
        write_insitu_netcdf(p, &r).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    if let Some(dir) = &args.insitu {
        return run_insitu(dir, args);
    }
    if args.truth.as_os_str().is_empty() {
        anyhow::bail!("give --truth DIR (a reference run) or --insitu DIR (ISMN station files)");
    }
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
    let names = ("SoilMoistV", "m3 m-3");
    let spatial = (args.spatial || args.open_loop.is_some()).then(|| SpatialOptions {
        open_loop: args.open_loop.clone(),
        first_analysis: args.first_analysis,
    });
    let report: VerifyReport = if args.per_cell || args.maps.is_some() {
        let opts = PerCellOptions {
            anomaly_window_days: args.anomaly_window_days,
            min_samples: args.min_samples,
        };
        let r = verify_per_cell(&args.truth, &args.run, names, mask.as_ref(), &opts)
            .with_context(context)?;
        if let Some(p) = &args.maps {
            write_per_cell_maps(p, &r).with_context(|| format!("writing {}", p.display()))?;
        }
        let mut report = r.report;
        if let Some(o) = &spatial {
            let p =
                load_pairs(&args.truth, &args.run, names.0, mask.as_ref()).with_context(context)?;
            let key = (names.0, mask.as_ref());
            report.spatial =
                Some(spatial_summary(&args.truth, &args.run, key, &p, o).with_context(context)?);
        }
        report
    } else if let Some(o) = &spatial {
        verify_spatial(&args.truth, &args.run, names, mask.as_ref(), o).with_context(context)?
    } else {
        verify_variable(&args.truth, &args.run, names.0, names.1, mask.as_ref())
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

/// `landcycle skill REPORT.json...`: the skill table of several `verify --json` reports (and,
/// when they hold spatial scores, the gap closure G of each against the reference).
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
    // Reports written with `verify --spatial` also get the gap closure against the reference.
    if let Some(t) = crate::verify::gap_closure_table(&reports, reference)? {
        print!("\n{t}");
    }
    Ok(())
}
