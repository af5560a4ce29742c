//! The near-real-time commands (docs/operations.md):
//! `landcycle nrt NAMELIST --rundir DIR [--now T] [--force]`,
//! `landcycle status --rundir DIR [--json] [--now T]` and
//! `landcycle rewind --rundir DIR --to CYCLE`.

use std::path::PathBuf;

use anyhow::Context;
use chrono::NaiveDateTime;

use crate::config::{parse_datetime, Config};
use crate::cycle::nrt::{NrtOptions, NrtOutcome};
use crate::cycle::nrt_status::{parse_cycle, rewind, status, Thresholds};
use crate::cycle::rundir::RunDir;
use crate::cycle::{self as driver, CycleError};

/// Exit code of `nrt` when an operator is needed (also for a configuration error).
pub const EXIT_OPERATOR: u8 = 11;

#[derive(Debug, clap::Args)]
pub struct NrtArgs {
    /// The run namelist (with an optional `&nrt` group).
    pub namelist: PathBuf,
    /// Run directory (overrides run:rundir).
    #[arg(long)]
    pub rundir: Option<PathBuf>,
    /// The clock, UTC ('YYYY-MM-DDTHH:MM:SS' or 'YYYYMMDDHH'); else $LANDCYCLE_NOW, else now.
    #[arg(long)]
    pub now: Option<String>,
    /// Run past the backlog and attempt limits (nrt:max_backlog_windows, nrt:max_attempts).
    #[arg(long)]
    pub force: bool,
    /// Write output files on the main thread instead of the background writer.
    #[arg(long)]
    pub sync_output: bool,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Run directory of `landcycle nrt`.
    #[arg(long)]
    pub rundir: PathBuf,
    /// Print the status as JSON.
    #[arg(long)]
    pub json: bool,
    /// The clock (as for `nrt`).
    #[arg(long)]
    pub now: Option<String>,
    /// Lag (h) of the last complete cycle behind the clock that gives WARNING.
    #[arg(long, default_value_t = 15.0)]
    pub warning_lag_hours: f64,
    /// Lag (h) that gives CRITICAL.
    #[arg(long, default_value_t = 30.0)]
    pub critical_lag_hours: f64,
}

#[derive(Debug, clap::Args)]
pub struct RewindArgs {
    /// Run directory of `landcycle nrt`.
    #[arg(long)]
    pub rundir: PathBuf,
    /// The cycle to go back to (YYYYMMDDHH): later cycles are moved to trash/.
    #[arg(long)]
    pub to: String,
    /// The clock (names the trash directory).
    #[arg(long)]
    pub now: Option<String>,
}

/// The clock: `--now`, else `$LANDCYCLE_NOW`, else the wall clock (UTC).
pub fn clock(now: Option<&str>) -> anyhow::Result<NaiveDateTime> {
    let text = now
        .map(str::to_string)
        .or_else(|| std::env::var("LANDCYCLE_NOW").ok());
    match text {
        Some(t) => parse_datetime(&t)
            .with_context(|| format!("--now / LANDCYCLE_NOW '{t}' is not a date-time")),
        None => Ok(chrono::Utc::now().naive_utc()),
    }
}

/// `landcycle nrt`: the exit code of the outcome (0, 10, 11 or 75).
pub fn run_nrt(args: &NrtArgs) -> anyhow::Result<u8> {
    let comm = super::run::communicator()?;
    let cfg = Config::load(&args.namelist)
        .with_context(|| format!("reading namelist {}", args.namelist.display()))?;
    let opts = NrtOptions {
        rundir: args
            .rundir
            .clone()
            .unwrap_or_else(|| cfg.run.rundir.clone()),
        now: clock(args.now.as_deref())?,
        force: args.force,
        sync_output: args.sync_output,
        stop: super::exit::stop_on_signals()?,
    };
    let stop = opts.stop.clone();
    let report = match driver::nrt(&cfg, comm.as_ref(), &opts) {
        Ok(r) => r,
        Err(CycleError::PeerFailed) if comm.rank() != 0 => {
            anyhow::bail!("rank {}: stopped because another rank failed", comm.rank())
        }
        Err(e) => return Err(anyhow::Error::new(e).context(format!("rank {}", comm.rank()))),
    };
    if comm.rank() == 0 {
        let ran = if report.cycles_run.is_empty() {
            "no cycle run".to_string()
        } else {
            format!("ran {}", report.cycles_run.join(" "))
        };
        let msg = &report.message;
        match report.outcome {
            NrtOutcome::Ok => tracing::info!("landcycle nrt: {ran}. {msg}"),
            _ => eprintln!("landcycle nrt: {:?}: {ran}. {msg}", report.outcome),
        }
    }
    Ok(match (report.outcome, stop.requested()) {
        (NrtOutcome::Stopped, Some(sig)) => 128u8.saturating_add(sig as u8),
        (o, _) => o.exit_code(),
    })
}

/// `landcycle status`: the level as exit code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
pub fn run_status(args: &StatusArgs) -> anyhow::Result<u8> {
    let th = Thresholds {
        warning_lag_hours: args.warning_lag_hours,
        critical_lag_hours: args.critical_lag_hours,
        ..Thresholds::default()
    };
    let rep = status(&RunDir::new(&args.rundir), clock(args.now.as_deref())?, &th);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rep)?);
    } else {
        print!("{}", rep.text());
    }
    Ok(rep.level as u8)
}

/// `landcycle rewind`.
pub fn run_rewind(args: &RewindArgs) -> anyhow::Result<()> {
    let to = parse_cycle(&args.to)
        .with_context(|| format!("--to '{}' is not a cycle (YYYYMMDDHH)", args.to))?;
    let now = clock(args.now.as_deref())?;
    let moved = rewind(&RunDir::new(&args.rundir), to, now)?;
    println!(
        "rewound {} to {}: moved aside {}",
        args.rundir.display(),
        args.to,
        if moved.is_empty() {
            "nothing".to_string()
        } else {
            moved.join(" ")
        }
    );
    Ok(())
}
