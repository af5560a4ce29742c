//! `landcycle atm replay NAMELIST`: a data atmosphere for mode 3 (docs/coupling.md). It
//! serves the data files of the namelist's `&forcing` (on the files' own grid) for every
//! land cycle of `&run` through the exchange directory `&coupler:directory`, and after each
//! delivery waits for the land export, checks it and acknowledges it, as an atmosphere
//! whose next cycle starts from the land analysis would. A separate process from
//! `landcycle run`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::config::Config;
use crate::coupler::replay::Replay;
use crate::cycle::forcing_spec;

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The namelist: `&forcing` names the data files, `&run` the cycles, `&coupler` the
    /// exchange directory, deadline and poll interval.
    pub namelist: PathBuf,
    /// Exchange directory (instead of `coupler:directory`).
    #[arg(long)]
    pub xchg: Option<PathBuf>,
    /// Serve only this many cycles from the first.
    #[arg(long)]
    pub cycles: Option<usize>,
    /// Deliver without waiting for the land exports (a forcing-only land run).
    #[arg(long)]
    pub no_wait_land: bool,
}

pub fn replay(a: &ReplayArgs) -> anyhow::Result<()> {
    let cfg = Config::load(&a.namelist)
        .with_context(|| format!("reading namelist {}", a.namelist.display()))?;
    let k = &cfg.coupler;
    let r = Replay {
        spec: forcing_spec(&cfg),
        root: a.xchg.clone().unwrap_or_else(|| k.directory.clone()),
        window_seconds: cfg.run.window_seconds(),
        source_offset_seconds: i64::from(k.source_cycle_offset_hours) * 3600,
        deadline: Duration::from_secs(u64::from(k.deadline_seconds)),
        poll: Duration::from_millis(u64::from(k.poll_milliseconds)),
    };
    let wait_land = k.export && !a.no_wait_land;
    let window = chrono::Duration::seconds(r.window_seconds);
    let mut end = cfg.run.start + window;
    let mut served = 0;
    while end <= cfg.run.end && a.cycles.is_none_or(|n| served < n) {
        let hash = r
            .deliver(end)
            .with_context(|| format!("delivering cycle {end}"))?;
        println!(
            "cycle {}: delivered (manifest {hash})",
            end.format("%Y%m%d%H")
        );
        if wait_land {
            let c = r
                .receive(end)
                .with_context(|| format!("land export of cycle {end}"))?;
            println!(
                "cycle {}: land export checked and acknowledged ({} atmosphere cells with land, mean top-layer soil moisture {:.4} m3 m-3)",
                end.format("%Y%m%d%H"),
                c.cells_with_land,
                c.mean_soil_moisture
            );
        }
        served += 1;
        end += window;
    }
    Ok(())
}
