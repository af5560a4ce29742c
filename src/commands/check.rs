//! `landcycle check NAMELIST`: validate a namelist and print the effective configuration
//! (every default filled in, paths absolute) as a namelist.

use crate::config::Config;
use std::path::PathBuf;

/// Arguments of `landcycle check`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Namelist file to validate.
    pub namelist: PathBuf,
}

/// Validate `args.namelist` and print the effective configuration on stdout.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let cfg = Config::load(&args.namelist)?;
    print!("{}", render(&cfg));
    for w in missing_inputs(&cfg) {
        eprintln!("warning: {w}");
    }
    Ok(())
}

/// Inputs named by the configuration that do not exist (yet): worth a warning, not an
/// error, since `landcycle synth` may create them later.
pub fn missing_inputs(cfg: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let mut want = |key: &str, p: &std::path::Path, dir: bool| {
        let ok = if dir { p.is_dir() } else { p.is_file() };
        if !ok {
            let kind = if dir { "directory" } else { "file" };
            out.push(format!("{key}: {kind} {} does not exist", p.display()));
        }
    };
    want("domain:static_file", &cfg.domain.static_file, false);
    if let Some(p) = &cfg.domain.parameter_tables {
        want("domain:parameter_tables", p, true);
    }
    want("forcing:directory", &cfg.forcing.directory, true);
    if let Some(p) = &cfg.run.initial_restart {
        want("run:initial_restart", p, false);
    }
    out
}

/// What `run` prints: a header naming the file and fingerprint, then the namelist.
pub fn render(cfg: &Config) -> String {
    let mut s = format!(
        "! effective configuration of {} (defaults filled in)\n! fingerprint {}\n",
        cfg.namelist_file.display(),
        cfg.fingerprint()
    );
    let ours: Vec<&str> = crate::config::schema::GROUPS
        .iter()
        .map(|g| g.name)
        .collect();
    let others: Vec<String> = cfg
        .namelist
        .group_names()
        .into_iter()
        .filter(|g| !ours.contains(&g.as_str()))
        .collect();
    if !others.is_empty() {
        s.push_str(&format!(
            "! not checked here (read by other commands): {}\n",
            others
                .iter()
                .map(|g| format!("&{g}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    s.push('\n');
    s.push_str(&cfg.effective_namelist());
    s
}
