//! `landcycle check NAMELIST`: validate a namelist and print the effective configuration
//! (every default filled in, paths absolute) as a namelist.

use crate::config::{Config, ConfigError, StaticFormat};
use crate::cycle::footprint::{estimate, human, Footprint};
use crate::grid::statics::StaticFields;
use std::path::{Path, PathBuf};

/// Arguments of `landcycle check`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Namelist file to validate.
    pub namelist: PathBuf,
    /// MPI ranks the run will use (for the memory estimate per rank).
    #[arg(long, default_value_t = 1)]
    pub ranks: usize,
    /// Memory one rank may use (MiB); default: this machine's memory divided by --ranks.
    #[arg(long)]
    pub memory_per_rank_mib: Option<u64>,
    /// Also read every input the run needs (static file, forcing files over the whole
    /// period and their coverage of the domain, observation files per window) and check the
    /// disk space of the run, creating nothing.
    #[arg(long)]
    pub preflight: bool,
}

/// Validate `args.namelist` and print the effective configuration on stdout.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let cfg = Config::load(&args.namelist)?;
    let missing = missing_inputs(&cfg);
    // An unset file_template (a coupled mode without &forcing files) has nothing to check.
    let reads_files = !cfg.forcing.file_template.is_empty();
    if let Err(e) = crate::cycle::forcing_spec(&cfg).validate() {
        if reads_files {
            return Err(key_error(&cfg, "forcing", "directory", e.to_string()).into());
        }
    }
    let (naming, wanted) = (cfg.run.history_naming, cfg.run.history_variables.as_deref());
    if let Err(e) = crate::cycle::history_select::select(naming, wanted) {
        return Err(key_error(&cfg, "run", "history_variables", e).into());
    }
    print!("{}", render(&cfg));
    for w in &missing {
        eprintln!("warning: {w}");
    }
    if args.preflight {
        let p = super::preflight::preflight(&cfg, args.ranks);
        for n in &p.notes {
            eprintln!("preflight: {n}");
        }
        if !p.problems.is_empty() {
            anyhow::bail!(
                "preflight of {} found {} problem(s):\n  {}",
                cfg.namelist_file.display(),
                p.problems.len(),
                p.problems.join("\n  ")
            );
        }
        eprintln!("preflight: no problem found");
    }
    if cfg.domain.static_file.is_file() {
        let fp = footprint(&cfg, args.ranks)?;
        let limit = args
            .memory_per_rank_mib
            .map(|m| m << 20)
            .or_else(|| machine_memory().map(|m| m / args.ranks.max(1) as u64));
        let free = free_disk(&cfg.run.rundir);
        eprintln!("{}", judge(&cfg, &fp, limit, free)?);
    }
    Ok(())
}

/// The estimate of `cfg` on `ranks` ranks from its static file; a domain without land is
/// an error.
fn footprint(cfg: &Config, ranks: usize) -> anyhow::Result<Footprint> {
    let path = &cfg.domain.static_file;
    let grid = match cfg.domain.static_format {
        StaticFormat::Landcycle => StaticFields::read_landcycle_grid(path)?,
        StaticFormat::GeoEm => StaticFields::read_geo_em(path)?.grid,
    };
    if grid.n_land() == 0 {
        let msg = format!(
            "{}: the domain ({} x {} cells) has no land cell: nothing to run",
            path.display(),
            grid.ny(),
            grid.nx()
        );
        return Err(key_error(cfg, "domain", "static_file", msg).into());
    }
    Ok(estimate(cfg, grid.n_land(), grid.ny() * grid.nx(), ranks))
}

/// The estimate as a sentence, or an error when one rank cannot hold it or one cycle does
/// not fit on the disk of the run directory.
fn judge(
    cfg: &Config,
    fp: &Footprint,
    memory_limit: Option<u64>,
    free_disk: Option<u64>,
) -> anyhow::Result<String> {
    let members = cfg.run.ensemble_size;
    let what = format!(
        "{} land cells x {members} members x {} B of state on {} rank(s): about {} of memory \
         per rank, {} of disk per cycle ({} for {} cycles)",
        fp.n_land,
        fp.member_state_bytes,
        fp.ranks,
        human(fp.memory_per_rank),
        human(fp.disk_per_cycle),
        human(fp.disk_per_cycle * u64::from(cfg.run.window_count())),
        cfg.run.window_count()
    );
    if let Some(limit) = memory_limit.filter(|l| fp.memory_per_rank > *l) {
        let msg = format!(
            "{members} members cannot run: {what}, more than the {} a rank has (use fewer \
             members, more ranks with `check --ranks N`, or say how much a rank has with \
             --memory-per-rank-mib)",
            human(limit)
        );
        return Err(key_error(cfg, "run", "ensemble_size", msg).into());
    }
    if let Some(free) = free_disk.filter(|f| fp.disk_per_cycle > *f) {
        let msg = format!(
            "cannot run: {what}, but only {} are free on the file system of {}",
            human(free),
            cfg.run.rundir.display()
        );
        return Err(key_error(cfg, "run", "rundir", msg).into());
    }
    Ok(format!("estimate: {what}"))
}

/// An error about `group:key` at its line in the namelist (the group's line when the key
/// is left at its default).
fn key_error(cfg: &Config, group: &str, key: &str, msg: String) -> ConfigError {
    let nl = &cfg.namelist;
    let pos = nl
        .group(group)
        .map(|g| g.entry(key).map_or(g.pos, |e| e.pos))
        .unwrap_or_default();
    ConfigError::Invalid {
        loc: Box::new(nl.location(pos)),
        group: group.to_string(),
        key: key.to_string(),
        msg,
    }
}

/// Total memory of this machine (bytes), from /proc/meminfo.
fn machine_memory() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = s
        .lines()
        .find(|l| l.starts_with("MemTotal:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Free bytes on the file system of `dir` (or its nearest existing ancestor).
fn free_disk(dir: &Path) -> Option<u64> {
    let existing = dir.ancestors().find(|p| p.is_dir())?;
    crate::io::atomic::free_bytes(existing)
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
    // Unset (modes that read no data files): nothing to look for.
    if !cfg.forcing.file_template.is_empty() {
        want("forcing:directory", &cfg.forcing.directory, true);
    }
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
