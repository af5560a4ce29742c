//! `landcycle point NAMELIST` (Noah offline point run) and `landcycle bench noah`
//! (column-steps per second of the Noah physics, single column and batched members).

use crate::lsm::noah::{advance, ColumnForcing, NoahParams, NoahState};
use crate::point::{self as np, PointCase};
use anyhow::Context;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Arguments of `landcycle point`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Point namelist: `&colm_point` (CoLM column) or `&NOAH_POINT` (Noah); paths inside are
    /// relative to it.
    pub namelist: PathBuf,
}

/// Runs a point case and reports where the outputs went: a CoLM column when the namelist
/// holds `&colm_point`, else Noah's `&noah_point`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let nml = crate::config::namelist::read_file(&args.namelist)?;
    if nml.group("colm_point").is_some() {
        return run_colm(&args.namelist);
    }
    let out = np::run_namelist(&args.namelist)
        .with_context(|| format!("point run of {}", args.namelist.display()))?;
    println!(
        "{} steps written to {} and {}",
        out.rows.len(),
        out.csv_path.display(),
        out.netcdf_path.display()
    );
    // The namelist's bench_repeats > 0 asks for a timing of the physics as well.
    let cfg: np::PointConfig = nml.deserialize_group("noah_point")?;
    if cfg.bench_repeats > 0 {
        let report = bench_noah(&args.namelist, None, None, cfg.bench_repeats as usize, 20)?;
        println!("{report}");
    }
    Ok(())
}

fn run_colm(path: &Path) -> anyhow::Result<()> {
    let run = np::colm::ColmCase::from_namelist(path)
        .and_then(|case| np::colm_run::run_colm_case(&case))
        .with_context(|| format!("CoLM point run of {}", path.display()))?;
    println!(
        "{} CoLM steps written to {} and {}",
        run.rows.len(),
        run.csv_path.display(),
        run.netcdf_path.display()
    );
    Ok(())
}

/// Arguments of `landcycle bench noah`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Point namelist of the benchmark case (default: the Bondville 1998 case under the
    /// shared data directory).
    #[arg(long)]
    pub namelist: Option<PathBuf>,
    /// Forcing file overriding the namelist's `forcing_file`.
    #[arg(long)]
    pub forcing: Option<PathBuf>,
    /// Directory of WRF-format tables overriding the namelist's `parameter_tables`.
    #[arg(long)]
    pub tables: Option<PathBuf>,
    /// Passes over the forcing for the single-column timing.
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Ensemble members for the batched timing.
    #[arg(long, default_value_t = 20)]
    pub members: usize,
}

/// Benchmark result.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    pub steps_per_pass: usize,
    pub single_column_steps: usize,
    pub single_seconds: f64,
    pub members: usize,
    pub batched_column_steps: usize,
    pub batched_seconds: f64,
}

impl BenchReport {
    pub fn single_rate(&self) -> f64 {
        self.single_column_steps as f64 / self.single_seconds
    }
    pub fn batched_rate(&self) -> f64 {
        self.batched_column_steps as f64 / self.batched_seconds
    }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Noah 3.4.1 column physics, one core, thread CPU time ({} steps per pass)",
            self.steps_per_pass
        )?;
        writeln!(
            f,
            "  single column : {:>10} column-steps in {:.3} s = {:.3e} column-steps/s",
            self.single_column_steps,
            self.single_seconds,
            self.single_rate()
        )?;
        write!(
            f,
            "  {:>2} members    : {:>10} column-steps in {:.3} s = {:.3e} column-steps/s",
            self.members,
            self.batched_column_steps,
            self.batched_seconds,
            self.batched_rate()
        )
    }
}

/// CPU time of the calling thread (s) from /proc/thread-self/schedstat (Linux), so the
/// rate is per core even on a loaded machine; `None` elsewhere.
fn thread_cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns * 1e-9)
}

/// Seconds spent in `f`: thread CPU time when available, else wall time.
fn timed(f: impl FnOnce()) -> f64 {
    let c0 = thread_cpu_seconds();
    let t0 = Instant::now();
    f();
    let wall = t0.elapsed().as_secs_f64();
    match (c0, thread_cpu_seconds()) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => wall,
    }
}

struct Prepared {
    params: NoahParams,
    init: NoahState,
    steps: Vec<(ColumnForcing, f64, f64, f64)>,
}

fn prepare(case: &PointCase, forcing: &Path) -> anyhow::Result<Prepared> {
    let records = np::read_forcing(forcing)?;
    let mut steps = Vec::with_capacity(case.n_steps());
    // The driver's conversions are done once; the benchmark times the physics.
    np::run_records(case, &records, |r| {
        let f = &r.forcing;
        steps.push((
            f.column_forcing(case.dt, &case.params, r.date.date()),
            f.soldn as f64,
            f.lwdown as f64,
            f.sfcspd as f64,
        ));
    })?;
    Ok(Prepared {
        params: case.params.clone(),
        init: case.initial_state,
        steps,
    })
}

/// Times the Noah physics on a point case: `repeats` passes of one column, then one pass
/// of `members` columns stepped together (members start from slightly different soil
/// moisture, as an ensemble does).
pub fn bench_noah(
    namelist: &Path,
    forcing: Option<&Path>,
    tables: Option<&Path>,
    repeats: usize,
    members: usize,
) -> anyhow::Result<BenchReport> {
    let nml = crate::config::namelist::read_file(namelist)?;
    let mut cfg: np::PointConfig = nml.deserialize_group("noah_point")?;
    let base = namelist.parent().unwrap_or(Path::new(".")).to_path_buf();
    if let Some(t) = tables {
        cfg.parameter_tables = Some(t.display().to_string());
    }
    let forcing_path = match forcing {
        Some(f) => f.to_path_buf(),
        None => base.join(&cfg.forcing_file),
    };
    let case = PointCase::from_config(cfg, &base)?;
    let prep = prepare(&case, &forcing_path)
        .with_context(|| format!("reading forcing {}", forcing_path.display()))?;
    let repeats = repeats.max(1);
    let members = members.max(1);
    let p = &prep.params;

    let mut checksum = 0.0;
    let single_seconds = timed(|| {
        for _ in 0..repeats {
            let mut st = prep.init;
            for (cf, sw, lw, u) in &prep.steps {
                let d = advance(p, &mut st, cf, *sw, *lw, *u);
                checksum += d.sheat;
            }
        }
    });

    let mut states: Vec<NoahState> = (0..members)
        .map(|m| {
            let mut s = prep.init;
            for k in 0..4 {
                s.soil_moisture[k] += 1e-4 * m as f64;
                s.soil_liquid[k] += 1e-4 * m as f64;
            }
            s
        })
        .collect();
    let batched_seconds = timed(|| {
        for (cf, sw, lw, u) in &prep.steps {
            for st in states.iter_mut() {
                let d = advance(p, st, cf, *sw, *lw, *u);
                checksum += d.sheat;
            }
        }
    });
    std::hint::black_box(checksum);
    Ok(BenchReport {
        steps_per_pass: prep.steps.len(),
        single_column_steps: repeats * prep.steps.len(),
        single_seconds,
        members,
        batched_column_steps: members * prep.steps.len(),
        batched_seconds,
    })
}

/// `landcycle bench noah`.
pub fn run_bench(args: &BenchArgs) -> anyhow::Result<()> {
    let nml = match &args.namelist {
        Some(n) => n.clone(),
        None => crate::testdata::root().join("noah-bondville/noah_bondville.nml"),
    };
    let default_forcing;
    let forcing = match (&args.forcing, &args.namelist) {
        (Some(f), _) => Some(f.as_path()),
        (None, None) => {
            default_forcing =
                crate::testdata::root().join("noah-bondville/bondville_1998_forcing.txt");
            Some(default_forcing.as_path())
        }
        (None, Some(_)) => None,
    };
    let report = bench_noah(
        &nml,
        forcing,
        args.tables.as_deref(),
        args.repeats,
        args.members,
    )?;
    println!("{report}");
    Ok(())
}
