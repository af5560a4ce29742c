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
    Ok(())
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
