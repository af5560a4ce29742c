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
    /// Write the synthetic demo case (static fields and forcing) a namelist points at.
    Synth(landcycle::commands::synth::Args),
    /// Print version and build information.
    Version,
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

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log_format);
    let result: anyhow::Result<()> = match cli.command {
        Command::Check(a) => landcycle::commands::check::run(&a),
        Command::Run(a) => landcycle::commands::run::run(&a),
        Command::Synth(a) => landcycle::commands::synth::run(&a),
        Command::Version => {
            println!("landcycle {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}
