//! Command implementations (the CLI edge: `anyhow` errors with context). `main.rs` only
//! parses arguments and dispatches here. Each command module has a clap `Args` struct and
//! `pub fn run(args: &Args) -> anyhow::Result<()>`.
pub mod atm;
pub mod bench;
pub mod bench_colm;
pub mod bench_cycle;
pub mod bench_image;
pub mod chart;
pub mod check;
pub mod climatology;
pub mod curvelet;
pub mod exit;
pub mod image;
pub mod nrt;
pub mod obs;
pub mod obs_space;
pub mod osse;
pub mod plot;
pub mod point;
pub mod preflight;
pub mod restart;
pub mod run;
pub mod synth;
pub mod tca;
pub mod verify;

static JSON_LOG: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Record that the log is JSON (`--log-format json`): commands then print their end
/// summaries as JSON objects, one line, like the log records.
pub fn set_json_log(on: bool) {
    JSON_LOG.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// True when the log is JSON.
pub fn json_log() -> bool {
    JSON_LOG.load(std::sync::atomic::Ordering::Relaxed)
}
