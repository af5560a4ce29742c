//! `landcycle bench cycle NAMELIST [--windows N] [--json]`: N windows of a configured case
//! through the normal cycle (`cycle::run`, the window runner `landcycle run` uses), measured
//! as a user of a cluster would: wall time per stage (maximum over ranks), peak resident
//! memory (VmHWM) and CPU time of all threads per rank, bytes written, and the share of the
//! window the main thread spends in restart and history output.
//!
//! The run goes into its own run directory (default `<run:rundir>-bench`), which must be
//! empty or absent, so that every byte in it was written by this run (restarts pruned by
//! `restart:keep` are not counted); it is removed afterwards unless `--keep`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;

use crate::commands::run::communicator;
use crate::config::Config;
use crate::cycle::timing::thread_cpu_time;
use crate::cycle::{self as driver, peak_rss_kb, process_cpu_seconds, RunOptions, RunSummary};
use crate::parallel::Communicator;

#[derive(Debug, clap::Args)]
pub struct CycleBenchArgs {
    /// The run namelist of the case.
    pub namelist: PathBuf,
    /// Windows to run from the cold start.
    #[arg(long, default_value_t = 1)]
    pub windows: usize,
    /// Run directory of the benchmark (must be empty or absent; default `<run:rundir>-bench`).
    #[arg(long)]
    pub rundir: Option<PathBuf>,
    /// Keep the run directory afterwards.
    #[arg(long)]
    pub keep: bool,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// One rank's own measurements.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RankFigures {
    pub rank: usize,
    /// Peak resident set size (MiB, VmHWM).
    pub peak_rss_mib: f64,
    /// CPU time of all threads, user + system (s), over the whole run including setup.
    pub cpu_seconds: f64,
    /// CPU time of the main thread in the windows (s): the run less setup.
    pub main_thread_cpu_seconds: f64,
    /// The main thread's CPU time in restart and history output over its CPU time in the
    /// windows: the output share a loaded machine does not distort as it does wall time.
    pub output_cpu_fraction: f64,
    /// The main thread's CPU time in history output and in the restart (s).
    pub history_cpu_seconds: f64,
    pub restart_cpu_seconds: f64,
}

/// The report of `bench cycle` (what `--json` prints).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CycleBenchReport {
    pub namelist: PathBuf,
    pub ranks: usize,
    pub windows: usize,
    pub land_cells: usize,
    pub members: usize,
    /// Wall time of the whole run on the root (s), setup included.
    pub total_seconds: f64,
    /// Wall time per window (s): the total less setup, divided by the windows.
    pub seconds_per_window: f64,
    /// (stage, s) summed over the windows, maximum over ranks, in the order of first use.
    /// `writer thread` and `file sync thread` are the root's helper threads, not the main one.
    pub stages: Vec<(String, f64)>,
    pub per_rank: Vec<RankFigures>,
    /// Sum of the sizes of the files the run wrote (its run directory).
    pub bytes_written: u64,
    /// Main-thread time in restart and history output over the windows' wall time.
    pub output_fraction: f64,
    /// The largest of the ranks' `output_cpu_fraction`.
    pub output_cpu_fraction: f64,
}

const MAIN_THREAD_OUTPUT: [&str; 2] = ["history output", "restart"];
const HELPER_THREADS: [&str; 2] = ["writer thread", "file sync thread"];

pub fn run(args: &CycleBenchArgs) -> anyhow::Result<()> {
    let comm = communicator()?;
    let report = bench_cycle(args, comm.as_ref())?;
    if let Some(r) = report {
        if args.json {
            println!("{}", serde_json::to_string_pretty(&r)?);
        } else {
            print!("{}", r.table());
        }
    }
    Ok(())
}

/// Run the benchmark on `comm`; the report on the root, `None` elsewhere. Collective.
pub fn bench_cycle(
    args: &CycleBenchArgs,
    comm: &dyn Communicator,
) -> anyhow::Result<Option<CycleBenchReport>> {
    let cfg = Config::load(&args.namelist)
        .with_context(|| format!("reading namelist {}", args.namelist.display()))?;
    let rundir = args.rundir.clone().unwrap_or_else(|| {
        let mut p = cfg.run.rundir.clone().into_os_string();
        p.push("-bench");
        PathBuf::from(p)
    });
    let empty = if comm.rank() == 0 {
        ensure_empty(&rundir)
    } else {
        Ok(())
    };
    if !comm.all_ok(empty.is_ok()) {
        empty?;
        anyhow::bail!("rank {}: stopped because the root failed", comm.rank());
    }
    let opts = RunOptions {
        rundir: Some(rundir.clone()),
        windows: Some(args.windows),
        ..Default::default()
    };
    let (t, cpu0) = (Instant::now(), process_cpu_seconds().unwrap_or(f64::NAN));
    let main0 = thread_cpu_time();
    let summary = driver::run(&cfg, comm, &opts)
        .map_err(|e| anyhow::Error::new(e).context(format!("rank {}", comm.rank())))?;
    let total = t.elapsed().as_secs_f64();
    let main_cpu = thread_cpu_time().saturating_sub(main0).as_secs_f64();
    let own = |names: &[&str]| -> f64 {
        let cpu = &summary.own_stage_cpu_seconds;
        cpu.iter()
            .filter(|(n, _)| names.contains(n))
            .map(|(_, s)| s)
            .sum()
    };
    let window_cpu = main_cpu - own(&["setup"]);
    let mine = [
        peak_rss_kb().unwrap_or(0) as f64 / 1024.0,
        process_cpu_seconds().unwrap_or(f64::NAN) - cpu0,
        window_cpu,
        own(&MAIN_THREAD_OUTPUT) / window_cpu.max(f64::MIN_POSITIVE),
        own(&MAIN_THREAD_OUTPUT[..1]),
        own(&MAIN_THREAD_OUTPUT[1..]),
    ];
    let Some(gathered) = comm.gatherv_f64(&mine, 0) else {
        return Ok(None);
    };
    let bytes = dir_bytes(&rundir)?;
    if !args.keep {
        std::fs::remove_dir_all(&rundir)
            .with_context(|| format!("removing {}", rundir.display()))?;
    }
    let per_rank = gathered
        .iter()
        .enumerate()
        .map(|(rank, v)| RankFigures {
            rank,
            peak_rss_mib: v.first().copied().unwrap_or(f64::NAN),
            cpu_seconds: v.get(1).copied().unwrap_or(f64::NAN),
            main_thread_cpu_seconds: v.get(2).copied().unwrap_or(f64::NAN),
            output_cpu_fraction: v.get(3).copied().unwrap_or(f64::NAN),
            history_cpu_seconds: v.get(4).copied().unwrap_or(f64::NAN),
            restart_cpu_seconds: v.get(5).copied().unwrap_or(f64::NAN),
        })
        .collect();
    let measured = Measured {
        summary,
        total_seconds: total,
        per_rank,
        bytes_written: bytes,
    };
    Ok(Some(CycleBenchReport::new(
        args,
        &cfg,
        comm.size(),
        measured,
    )))
}

/// What the root collected after the run.
struct Measured {
    summary: RunSummary,
    total_seconds: f64,
    per_rank: Vec<RankFigures>,
    bytes_written: u64,
}

impl CycleBenchReport {
    fn new(args: &CycleBenchArgs, cfg: &Config, ranks: usize, m: Measured) -> Self {
        let stage = |names: &[&str]| -> f64 {
            m.summary
                .stage_seconds
                .iter()
                .filter(|(n, _)| names.contains(n))
                .map(|(_, s)| s)
                .sum()
        };
        let windows = m.summary.windows_run;
        let window_wall = (m.total_seconds - stage(&["setup"])).max(0.0);
        let output_fraction = if window_wall > 0.0 {
            stage(&MAIN_THREAD_OUTPUT) / window_wall
        } else {
            0.0
        };
        let output_cpu_fraction = m
            .per_rank
            .iter()
            .map(|r| r.output_cpu_fraction)
            .fold(f64::NAN, f64::max);
        CycleBenchReport {
            namelist: args.namelist.clone(),
            ranks,
            windows,
            land_cells: m.summary.n_land_cells,
            members: cfg.run.ensemble_size as usize,
            total_seconds: m.total_seconds,
            seconds_per_window: window_wall / windows.max(1) as f64,
            stages: m
                .summary
                .stage_seconds
                .iter()
                .map(|(n, s)| (n.to_string(), *s))
                .collect(),
            per_rank: m.per_rank,
            bytes_written: m.bytes_written,
            output_fraction,
            output_cpu_fraction,
        }
    }

    /// The readable table.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "bench cycle {}: {} window(s) on {} rank(s), {} land cells × {} members",
            self.namelist.display(),
            self.windows,
            self.ranks,
            self.land_cells,
            self.members
        );
        let _ = writeln!(s, "stage                      wall s  (max over ranks)");
        for (name, sec) in &self.stages {
            let note = if HELPER_THREADS.contains(&name.as_str()) {
                "  (root helper thread)"
            } else {
                ""
            };
            let _ = writeln!(s, "  {name:<22} {sec:9.3}{note}");
        }
        let _ = writeln!(s, "  {:<22} {:9.3}", "total (root)", self.total_seconds);
        let _ = writeln!(s, "  {:<22} {:9.3}", "per window", self.seconds_per_window);
        let _ = writeln!(
            s,
            "rank   peak RSS MiB   CPU s (all threads)   main thread: window CPU s, output share"
        );
        for r in &self.per_rank {
            let _ = writeln!(
                s,
                "  {:<4} {:12.1} {:12.2} {:22.2} {:8.1} %",
                r.rank,
                r.peak_rss_mib,
                r.cpu_seconds,
                r.main_thread_cpu_seconds,
                100.0 * r.output_cpu_fraction
            );
        }
        let _ = writeln!(
            s,
            "bytes written: {} ({:.1} MiB)",
            self.bytes_written,
            self.bytes_written as f64 / 1_048_576.0
        );
        let _ = writeln!(
            s,
            "main thread in restart + history output: {:.1} % of the window time ({:.1} % of its CPU time, largest over ranks)",
            100.0 * self.output_fraction,
            100.0 * self.output_cpu_fraction
        );
        s
    }
}

/// Refuse a run directory that holds anything: its bytes would be counted as written.
fn ensure_empty(dir: &Path) -> anyhow::Result<()> {
    match std::fs::read_dir(dir).map(|mut e| e.next().is_some()) {
        Ok(true) => anyhow::bail!(
            "run directory {} is not empty: bench cycle measures a fresh run (remove it or \
             pass another --rundir)",
            dir.display()
        ),
        Ok(false) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("listing {}", dir.display())),
    }
}

/// Sum of the sizes of the regular files under `dir`.
pub fn dir_bytes(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let e = e.with_context(|| format!("listing {}", dir.display()))?;
        let meta = e
            .metadata()
            .with_context(|| format!("reading {}", e.path().display()))?;
        if meta.is_dir() {
            total += dir_bytes(&e.path())?;
        } else if meta.is_file() {
            total += meta.len();
        }
    }
    Ok(total)
}
