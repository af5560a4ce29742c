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
use crate::coupler::mpmd_atm::{serve, Event, ServeOptions};
use crate::coupler::replay::Replay;
use crate::cycle::forcing_spec;
use crate::parallel::{Communicator, MpiComm};

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
    /// Mode 4: serve over MPI to a land run started in the same launch,
    /// `mpirun -n A landcycle run NML : -n 1 landcycle atm replay NML --mpmd`
    /// (instead of the exchange directory).
    #[arg(long, conflicts_with = "xchg")]
    pub mpmd: bool,
}

pub fn replay(a: &ReplayArgs) -> anyhow::Result<()> {
    let cfg = Config::load(&a.namelist)
        .with_context(|| format!("reading namelist {}", a.namelist.display()))?;
    if cfg.forcing.file_template.is_empty() {
        anyhow::bail!(
            "{}: atm replay serves the data files of &forcing: set forcing:directory and \
             forcing:file_template",
            a.namelist.display()
        );
    }
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
    if a.mpmd {
        return serve_mpmd(&r, a, &cfg, wait_land);
    }
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

/// `--mpmd`: the replay's root answers the land root over MPI until the land stops; the
/// other replay ranks (if any) only wait for the end.
fn serve_mpmd(r: &Replay, a: &ReplayArgs, cfg: &Config, wait_land: bool) -> anyhow::Result<()> {
    if !MpiComm::launched_by_mpirun() {
        anyhow::bail!(
            "--mpmd needs an MPI launch with the land: mpirun -n 2 landcycle run {0} : -n 1 \
             landcycle atm replay {0} --mpmd",
            a.namelist.display()
        );
    }
    let comm = MpiComm::init_split_by_appnum()?;
    if comm.app_count() != 2 {
        anyhow::bail!("--mpmd: this MPI launch has no land application beside the replay");
    }
    let Some(peer) = comm.peer() else {
        return Ok(()); // not the replay's root
    };
    let k = &cfg.coupler;
    let o = ServeOptions {
        deadline: Duration::from_secs(u64::from(k.deadline_seconds)),
        poll: Duration::from_millis(u64::from(k.poll_milliseconds)),
        wait_land,
        cycles: a.cycles,
    };
    serve(r, &peer, &o, |e| match e {
        Event::Delivered { cycle, values } => {
            println!("cycle {cycle}: delivered over MPI ({values} values)")
        }
        Event::Checked { cycle, check } => println!(
            "cycle {cycle}: land export checked and acknowledged ({} atmosphere cells with land, mean top-layer soil moisture {:.4} m3 m-3, record sha256 {})",
            check.cells_with_land, check.mean_soil_moisture, check.manifest_sha256
        ),
        Event::LandDone { message } => println!("the land ended: {message}"),
        Event::StoppedEarly { cycles } => {
            println!("stopping after {cycles} cycle(s) as asked (--cycles)")
        }
    })
    .context("atm replay --mpmd")?;
    let _ = comm.rank();
    Ok(())
}
