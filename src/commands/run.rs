//! `landcycle run NAMELIST [--rundir DIR] [--windows N] [--resume]`: the ensemble driver.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;

use crate::config::{Config, CouplerMode};
use crate::coupler::mpmd::send_stop;
use crate::cycle::{self as driver, CycleError, ExistingCycles, RunOptions};
use crate::parallel::{Communicator, MpiComm, SingleProcess};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run namelist.
    pub namelist: PathBuf,
    /// Run directory (overrides run:rundir).
    #[arg(long)]
    pub rundir: Option<PathBuf>,
    /// Run at most N windows.
    #[arg(long)]
    pub windows: Option<usize>,
    /// Continue from the latest complete restart in the run directory.
    #[arg(long)]
    pub resume: bool,
    /// Start afresh in a run directory that holds cycles: move them (and state.json) into
    /// <rundir>/trash/<time>-force/ first (never deleted).
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
    /// Never show a progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Write history, diagnostics and restart files on the main thread instead of the
    /// background writer (slower; for debugging and for file systems that need it).
    #[arg(long)]
    pub sync_output: bool,
    /// Do not run the preflight checks (`landcycle check --preflight`) before a fresh start.
    #[arg(long)]
    pub no_preflight: bool,
}

/// The communicator of this process: MPI under an MPI launcher, else a single process.
pub fn communicator() -> anyhow::Result<Box<dyn Communicator>> {
    if MpiComm::launched_by_mpirun() {
        let c = MpiComm::init().context("MPI was already initialised in this process")?;
        Ok(Box::new(c))
    } else {
        Ok(Box::new(SingleProcess))
    }
}

/// Mode 'mpmd': this application's own communicator, split from an MPMD launch's world
/// by application number (the whole world when landcycle runs alone).
pub fn app_communicator() -> anyhow::Result<Box<dyn Communicator>> {
    if MpiComm::launched_by_mpirun() {
        Ok(Box::new(MpiComm::init_split_by_appnum()?))
    } else {
        Ok(Box::new(SingleProcess))
    }
}

/// Mode 'mpmd', land root: the atmosphere waits for the land's records, so tell it the run
/// is over, well or not.
fn stop_peer(comm: &dyn Communicator, result: Result<&driver::RunSummary, &anyhow::Error>) {
    let Some(peer) = comm.mpmd_peer() else {
        return;
    };
    let (ok, message) = match result {
        Ok(s) => (
            true,
            format!("land run complete ({} window(s))", s.windows_run),
        ),
        Err(e) => (
            false,
            format!("the land run failed: {}", super::exit::message(e)),
        ),
    };
    send_stop(&peer, ok, message);
}

/// A fresh start runs the preflight first, on the root (it reads every forcing file once),
/// and every rank stops before anything is created if it finds a problem: exit 66, as a
/// missing input. Observation problems are warnings (the cycle runs those windows open loop).
fn preflight_gate(cfg: &Config, comm: &dyn Communicator) -> anyhow::Result<()> {
    let ok = if comm.is_root() {
        let p = super::preflight::preflight_for_run(cfg, comm.size());
        // Through the log (JSON in JSON mode), once, from the root.
        for m in p.notes.iter().filter_map(|n| n.strip_prefix("warning: ")) {
            tracing::warn!("preflight: {m}");
        }
        if !p.problems.is_empty() {
            eprintln!(
                "error: preflight of {} found {} problem(s) before anything was created \
                 (landcycle run --no-preflight skips it):\n  {}",
                cfg.namelist_file.display(),
                p.problems.len(),
                p.problems.join("\n  ")
            );
        }
        p.problems.is_empty()
    } else {
        true
    };
    if comm.all_ok(ok) {
        return Ok(());
    }
    let e = anyhow::Error::new(super::exit::Reported {
        code: super::exit::INPUT_MISSING,
    });
    // Mode 'mpmd': the atmosphere waits for the land; tell it the run will not start.
    stop_peer(comm, Err(&e));
    Err(e)
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let cfg = Config::load(&args.namelist)
        .with_context(|| format!("reading namelist {}", args.namelist.display()));
    // In mode 'mpmd' the world holds the atmosphere too: split it before anything else.
    let mpmd = cfg
        .as_ref()
        .is_ok_and(|c| c.coupler.mode == CouplerMode::Mpmd);
    let comm = if mpmd {
        app_communicator()?
    } else {
        communicator()?
    };
    let cfg = cfg?;
    if !args.no_preflight && !args.resume {
        preflight_gate(&cfg, comm.as_ref())?;
    }
    let opts = RunOptions {
        rundir: args.rundir.clone(),
        windows: args.windows,
        resume: args.resume,
        progress: !args.no_progress && std::io::stderr().is_terminal(),
        sync_output: args.sync_output,
        existing: if args.force {
            ExistingCycles::MoveAside
        } else {
            ExistingCycles::Refuse
        },
        stop: super::exit::stop_on_signals()?,
    };
    let t = std::time::Instant::now();
    let result = driver::run(&cfg, comm.as_ref(), &opts);
    let summary = match result {
        Ok(s) => {
            stop_peer(comm.as_ref(), Ok(&s));
            s
        }
        Err(CycleError::PeerFailed) if comm.rank() != 0 => {
            anyhow::bail!("rank {}: stopped because another rank failed", comm.rank())
        }
        Err(e) => {
            let e = anyhow::Error::new(e).context(format!("rank {}", comm.rank()));
            if comm.size() == 1 && comm.mpmd_peer().is_none() {
                return Err(e);
            }
            // Under mpirun the root prints before MPI is finalised: the other ranks leave
            // finalisation only after it, so none can make mpirun kill it mid-message.
            let code = super::exit::code_of(&e);
            eprintln!("error: {}", super::exit::message(&e));
            stop_peer(comm.as_ref(), Err(&e));
            return Err(super::exit::Reported { code }.into());
        }
    };
    let rss = comm.allreduce_max_f64(summary.peak_rss_kb.unwrap_or(0) as f64);
    if comm.rank() == 0 {
        let total = t.elapsed().as_secs_f64();
        let r = SummaryLine {
            summary: &summary,
            ranks: comm.size(),
            members: cfg.run.ensemble_size as usize,
            total_s: total,
            peak_rss_mib: rss / 1024.0,
        };
        if super::json_log() {
            eprintln!("{}", r.json());
        } else {
            r.print_text();
        }
    }
    Ok(())
}

/// The end summary of a run (root).
struct SummaryLine<'a> {
    summary: &'a driver::RunSummary,
    ranks: usize,
    members: usize,
    total_s: f64,
    peak_rss_mib: f64,
}

impl SummaryLine<'_> {
    fn last_cycle(&self) -> Option<String> {
        self.summary.last_cycle.map(crate::time::cycle_label)
    }

    fn print_text(&self) {
        let s = self.summary;
        eprintln!(
            "landcycle run: {} window(s) on {} rank(s), {} land cells × {} members, last cycle {}",
            s.windows_run,
            self.ranks,
            s.n_land_cells,
            self.members,
            self.last_cycle().unwrap_or_else(|| "none".into())
        );
        eprintln!("timing (max over ranks):");
        for (name, sec) in &s.stage_seconds {
            eprintln!("  {name:<16} {sec:9.3} s");
        }
        eprintln!("  {:<16} {:9.3} s", "total", self.total_s);
        eprintln!("peak memory per rank (max): {:.1} MiB", self.peak_rss_mib);
    }

    /// One JSON object laid out like the log's JSON records (`timestamp`, `level`,
    /// `fields` with `message`, `target`), the summary in `fields`.
    fn json(&self) -> String {
        let s = self.summary;
        let stages: serde_json::Map<String, serde_json::Value> = s
            .stage_seconds
            .iter()
            .map(|(n, sec)| (n.to_string(), serde_json::Value::from(*sec)))
            .collect();
        serde_json::json!({
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "level": "INFO",
            "fields": {
                "message": "run summary",
                "windows_run": s.windows_run,
                "ranks": self.ranks,
                "land_cells": s.n_land_cells,
                "members": self.members,
                "last_cycle": self.last_cycle(),
                "stage_seconds": stages,
                "total_seconds": self.total_s,
                "peak_rss_mib_max": self.peak_rss_mib,
            },
            "target": "landcycle::run",
        })
        .to_string()
    }
}
