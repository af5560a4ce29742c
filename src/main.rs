//! landcycle command line: parse arguments, call the library, map errors to exit codes.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "landcycle",
    version,
    about = "Land data assimilation cycling system"
)]
struct Cli {
    /// Log format: text or json.
    #[arg(long, global = true, default_value = "text")]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a namelist and print the effective configuration with defaults filled in.
    Check(landcycle::commands::check::Args),
    /// Run the ensemble over consecutive windows (under mpirun for several ranks).
    Run(landcycle::commands::run::Args),
    /// Near-real-time: run the cycles that are due (for cron; docs/operations.md).
    Nrt(landcycle::commands::nrt::NrtArgs),
    /// State of a near-real-time run directory; exit 0/1/2/3 = OK/WARNING/CRITICAL/UNKNOWN.
    Status(landcycle::commands::nrt::StatusArgs),
    /// Move the cycles after a given one aside (never deleted) for reprocessing.
    Rewind(landcycle::commands::nrt::RewindArgs),
    /// Write the synthetic demo case (static fields and forcing) a namelist points at.
    Synth(landcycle::commands::synth::Args),
    /// Run the Noah offline point model (Bondville-style `&NOAH_POINT` namelist).
    Point(landcycle::commands::point::Args),
    /// Benchmarks (see docs/benchmarks.md).
    Bench {
        #[command(subcommand)]
        which: Bench,
    },
    /// Curvelet-threshold a 2-D field: keep the largest coefficients and reconstruct.
    Curvelet(landcycle::commands::curvelet::Args),
    /// Observation tools (`obs dump --product smap|ascat FILE --csv OUT.csv`).
    Obs(landcycle::commands::obs::Args),
    /// Build per-cell monthly bias-correction statistics from open-loop history and observations.
    Climatology(landcycle::commands::climatology::Args),
    /// OSSE: nature run with biased forcing and synthetic SMAP/ASCAT observations.
    Osse(landcycle::commands::osse::Args),
    /// Soil-moisture scores of a run against a reference run (OSSE truth).
    Verify(landcycle::commands::verify::Args),
    /// Skill table of several `verify --json` reports (RMSE change against a reference run).
    Skill(landcycle::commands::verify::SkillArgs),
    /// Observation-space statistics (O-B, normalised innovations, Desroziers check) of a DA run.
    ObsSpace(landcycle::commands::obs_space::Args),
    /// Triple collocation: error variances, SNR and fMSE per cell of three collocated datasets.
    Tca(landcycle::commands::tca::Args),
    /// PNG quick-look maps of 2-D fields (history, diagnostics, gridded files), side by side.
    Plot(landcycle::commands::plot::Args),
    /// PNG charts: time series at a point, score bars, innovation histograms.
    Chart {
        #[command(subcommand)]
        which: landcycle::commands::chart::Which,
    },
    /// One curvelet image analysis (variational or EnKF-like) of a gridded background and image.
    Image(Box<landcycle::commands::image::Args>),
    /// Restart tools (`restart dump RESTART.h5 -o OUT.nc`: the restart as CF NetCDF).
    Restart {
        #[command(subcommand)]
        which: Restart,
    },
    /// A data atmosphere for coupled runs (`atm replay`, docs/coupling.md).
    Atm {
        #[command(subcommand)]
        which: Atm,
    },
    /// Print version and build information.
    Version,
}

#[derive(Subcommand)]
enum Restart {
    /// Write a restart (verified against its checksum) as a CF NetCDF file.
    Dump(landcycle::commands::restart::DumpArgs),
}

#[derive(Subcommand)]
enum Atm {
    /// Serve data files through an exchange directory and check the land exports.
    Replay(landcycle::commands::atm::ReplayArgs),
}

#[derive(Subcommand)]
enum Bench {
    /// Noah column-steps per second (single column and batched members).
    Noah(landcycle::commands::point::BenchArgs),
    /// CoLM column-steps per second for an ensemble on one core (Bondville forcing).
    Colm(landcycle::commands::bench_colm::ColmBenchArgs),
    /// Curvelet transform forward + inverse times for several grid sizes.
    Curvelet,
    /// Ensemble driver overhead over the bare physics, and peak memory.
    Driver(landcycle::commands::bench::DriverArgs),
    /// One variational and one EnKF-like image analysis on a synthetic field (wall and CPU).
    Image(landcycle::commands::bench_image::ImageBenchArgs),
    /// N windows of a configured case through the cycle: stage times, memory, CPU, bytes.
    Cycle(landcycle::commands::bench_cycle::CycleBenchArgs),
}

fn init_logging(format: &str) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("LANDCYCLE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`: its position in `mi_option_e` (mimalloc.h of
/// mimalloc 3.3, which libmimalloc-sys 0.1.49 builds; the crate names no constant for it).
/// Checked: with `MIMALLOC_PURGE_DELAY=4321` in the environment, option 15 reads 4321.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keep freed memory for reuse instead of handing it back to the kernel after mimalloc's
/// default 1 s: the image stage and the history buffers reuse the same tens of MB every
/// window, and pages faulted in afresh cost more than their memory (docs/dependencies.md).
/// `MIMALLOC_PURGE_DELAY` in the environment still overrides this.
fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one integer option of the allocator; no memory is touched.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    }
}

fn main() -> std::process::ExitCode {
    keep_freed_memory();
    let cli = Cli::parse();
    init_logging(&cli.log_format);
    landcycle::commands::set_json_log(cli.log_format == "json");
    // The near-real-time commands choose their exit codes (docs/operations.md); an error
    // gives nrt 11 (operator needed), status 3 (UNKNOWN), rewind 1.
    use landcycle::commands::nrt as nrt_cmd;
    let coded = match &cli.command {
        Command::Nrt(a) => Some((nrt_cmd::run_nrt(a), nrt_cmd::EXIT_OPERATOR)),
        Command::Status(a) => Some((nrt_cmd::run_status(a), 3)),
        Command::Rewind(a) => Some((nrt_cmd::run_rewind(a).map(|()| 0), 1)),
        _ => None,
    };
    if let Some((r, on_error)) = coded {
        return match r {
            Ok(code) => std::process::ExitCode::from(code),
            Err(e) => report_error(&e, on_error),
        };
    }
    let result: anyhow::Result<()> = match cli.command {
        Command::Nrt(_) | Command::Status(_) | Command::Rewind(_) => unreachable!("handled above"),
        Command::Check(a) => landcycle::commands::check::run(&a),
        Command::Run(a) => landcycle::commands::run::run(&a),
        Command::Synth(a) => landcycle::commands::synth::run(&a),
        Command::Curvelet(a) => landcycle::commands::curvelet::run(&a),
        Command::Obs(a) => landcycle::commands::obs::run(&a),
        Command::Climatology(a) => landcycle::commands::climatology::run(&a),
        Command::Osse(a) => landcycle::commands::osse::run(&a),
        Command::Verify(a) => landcycle::commands::verify::run(&a),
        Command::Skill(a) => landcycle::commands::verify::skill(&a),
        Command::ObsSpace(a) => landcycle::commands::obs_space::run(&a),
        Command::Tca(a) => landcycle::commands::tca::run(&a),
        Command::Point(a) => landcycle::commands::point::run(&a),
        Command::Plot(a) => landcycle::commands::plot::run(&a),
        Command::Image(a) => landcycle::commands::image::run(&a),
        Command::Restart { which } => match which {
            Restart::Dump(a) => landcycle::commands::restart::dump(&a),
        },
        Command::Chart { which } => landcycle::commands::chart::run(&which),
        Command::Atm { which } => match which {
            Atm::Replay(a) => landcycle::commands::atm::replay(&a),
        },
        Command::Bench { which } => match which {
            Bench::Noah(a) => landcycle::commands::point::run_bench(&a),
            Bench::Driver(a) => landcycle::commands::bench::run_driver(&a),
            Bench::Colm(a) => landcycle::commands::bench_colm::run(&a),
            Bench::Image(a) => landcycle::commands::bench_image::run(&a),
            Bench::Cycle(a) => landcycle::commands::bench_cycle::run(&a),
            Bench::Curvelet => {
                landcycle::commands::curvelet::bench_curvelet().map(|t| println!("{t}"))
            }
        },
        Command::Version => {
            println!("landcycle {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
    };
    // Exit codes by the kind of error (commands::exit, docs/operations.md).
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => report_error(&e, landcycle::commands::exit::code_of(&e)),
    }
}

/// Print an error with each cause once and exit with `code`.
fn report_error(e: &anyhow::Error, code: u8) -> std::process::ExitCode {
    use landcycle::commands::exit::{message, Reported};
    if let Some(r) = e.downcast_ref::<Reported>() {
        exit_after_error(r.code);
    }
    eprintln!("error: {}", message(e));
    exit_after_error(code)
}

/// Exit without the C libraries' exit handlers. A failed write (a full disk, the file-size
/// limit) can leave a file netCDF could not close, and HDF5's exit handler then crashes
/// closing it (SIGSEGV instead of the documented exit code). Nothing is left to flush: the
/// run's outputs are committed atomically or were temporary files.
fn exit_after_error(code: u8) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: _exit ends the process at once; every Rust buffer was flushed just above.
    unsafe { libc::_exit(i32::from(code)) }
}
