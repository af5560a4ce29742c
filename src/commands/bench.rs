//! `landcycle bench driver`: overhead of the ensemble driver over the bare Noah physics for
//! the same cells, members and steps, and peak memory per rank.
//!
//! The case is the synthetic demo domain written into a temporary directory. The bare
//! timing steps every member of every cell with forcing prepared before the clock starts
//! (unperturbed), so the difference is what the driver adds: reading and remapping
//! forcing, perturbations, flux accumulation, history output and restarts.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use chrono::Duration;

use crate::config::Config;
use crate::cycle::{self as driver, peak_rss_kb, RunOptions};
use crate::forcing::ForcingReader;
use crate::grid::statics::StaticFields;
use crate::lsm::noah::tables::ParameterTables;
use crate::lsm::noah::NoahLsm;
use crate::lsm::{LandModel, StepOutput};
use crate::parallel::SingleProcess;

#[derive(Debug, Clone, clap::Args)]
pub struct DriverArgs {
    /// Grid columns of the synthetic domain.
    #[arg(long, default_value_t = 64)]
    pub nx: usize,
    /// Grid rows of the synthetic domain.
    #[arg(long, default_value_t = 48)]
    pub ny: usize,
    /// Ensemble members.
    #[arg(long, default_value_t = 20)]
    pub members: usize,
    /// Number of 6-hour windows.
    #[arg(long, default_value_t = 4)]
    pub windows: usize,
    /// Alternating driver/bare repetitions (medians are reported).
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// Keep the benchmark case in this directory (default: a temporary directory).
    #[arg(long)]
    pub workdir: Option<PathBuf>,
}

pub fn run_driver(args: &DriverArgs) -> anyhow::Result<()> {
    let tmp = tempfile_dir(args.workdir.clone())?;
    let dir = tmp.path.clone();
    let hours = 6 * args.windows;
    let end = chrono::NaiveDate::from_ymd_opt(2020, 6, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .context("date")?
        + Duration::hours(hours as i64);
    let nml = dir.join("bench.nml");
    std::fs::write(
        &nml,
        format!(
            "&run\n start = '2020-06-01_00:00:00'\n end = '{}'\n timestep = 1800\n ensemble_size = {}\n rundir = 'rundir'\n/\n&domain\n static_file = 'case/static.nc'\n/\n&forcing\n directory = 'case/forcing'\n file_template = 'f_%Y%m%d%H.nc'\n/\n&synth\n nx = {}\n ny = {}\n/\n",
            end.format("%Y-%m-%d_%H:%M:%S"),
            args.members,
            args.nx,
            args.ny
        ),
    )?;
    crate::commands::synth::run(&crate::commands::synth::Args {
        namelist: nml.clone(),
    })?;
    let cfg = Config::load(&nml)?;

    // Bare physics: same cells, members, steps; forcing prepared outside the timing.
    let statics = StaticFields::read_landcycle(&cfg.domain.static_file)?;
    let model = NoahLsm::new(
        ParameterTables::builtin(),
        &statics.soil_dataset,
        statics.vegetation_dataset.name(),
    );
    let ids = statics.land_cells();
    let cells: Vec<_> = ids.iter().map(|&id| statics.cell_statics(id)).collect();
    let params = cells
        .iter()
        .map(|c| model.cell_params(c))
        .collect::<Result<Vec<_>, _>>()?;
    let targets: Vec<(f64, f64)> = cells.iter().map(|c| (c.latitude, c.longitude)).collect();
    let mut reader = ForcingReader::new(driver::forcing_spec(&cfg), &targets)?;
    let dt = i64::from(cfg.run.timestep);
    let nsteps = (hours as i64 * 3600 / dt) as usize;
    let mut forcing = Vec::with_capacity(nsteps);
    let mut times = Vec::with_capacity(nsteps);
    for k in 0..nsteps {
        let t0 = cfg.run.start + Duration::seconds(k as i64 * dt);
        let t1 = t0 + Duration::seconds(dt);
        forcing.push(reader.forcing_for_step(t0, t1)?);
        times.push(t1);
    }
    let n = args.members;
    let mut cold = Vec::with_capacity(ids.len() * n);
    for p in &params {
        let s = model.cold_start(
            p,
            &cfg.run.cold_start_soil_moisture,
            cfg.run.cold_start_temperature,
        )?;
        cold.extend(std::iter::repeat_n(s, n));
    }
    let mut out = vec![StepOutput::default(); n];
    let mut fc = vec![crate::lsm::Forcing::default(); n];
    // Driver and bare runs alternate, so that load from elsewhere hits both alike; the
    // overhead is taken from the medians.
    let mut driver_runs = Vec::new();
    let mut bare_runs = Vec::new();
    // CPU time of all threads: the driver overlaps forcing reads, perturbations and output
    // with the physics on helper threads, which wall time alone does not show.
    let mut driver_cpu = Vec::new();
    let mut bare_cpu = Vec::new();
    let cpu = || driver::process_cpu_seconds().unwrap_or(f64::NAN);
    let mut summary = None;
    for _ in 0..args.repeats.max(1) {
        let t = Instant::now();
        let c = cpu();
        // Repeats rerun the same windows into the same directory on purpose.
        let opts = RunOptions {
            existing: driver::ExistingCycles::Overwrite,
            ..RunOptions::default()
        };
        summary = Some(driver::run(&cfg, &SingleProcess, &opts)?);
        driver_runs.push(t.elapsed().as_secs_f64());
        driver_cpu.push(cpu() - c);
        let mut states = cold.clone();
        let t = Instant::now();
        let c = cpu();
        for (f, &t1) in forcing.iter().zip(&times) {
            for (c, p) in params.iter().enumerate() {
                fc.iter_mut().for_each(|x| *x = f[c]);
                model.step_members(
                    p,
                    &mut states[c * n..(c + 1) * n],
                    &fc,
                    t1,
                    dt as f64,
                    &mut out,
                )?;
            }
        }
        bare_runs.push(t.elapsed().as_secs_f64());
        bare_cpu.push(cpu() - c);
    }
    let summary = summary.expect("at least one repetition");
    let median = |v: &[f64]| {
        let mut w = v.to_vec();
        w.sort_by(f64::total_cmp);
        w[w.len() / 2]
    };
    let driver_s = median(&driver_runs);
    let bare_s = median(&bare_runs);
    let column_steps = (ids.len() * n * nsteps) as f64;
    println!(
        "driver benchmark: {} land cells × {} members × {} steps ({} windows), 1 rank",
        ids.len(),
        n,
        nsteps,
        args.windows
    );
    println!(
        "  bare physics   {bare_s:8.3} s  ({:.3e} column-steps/s, median)",
        column_steps / bare_s
    );
    println!("  driver total   {driver_s:8.3} s  (median; stages below: last run)");
    for (name, s) in &summary.stage_seconds {
        println!("    {name:<16} {s:8.3} s");
    }
    println!(
        "  overhead       {:8.1} %  (median driver / median bare − 1, {} alternating runs)",
        100.0 * (driver_s / bare_s - 1.0),
        driver_runs.len()
    );
    let each: Vec<String> = driver_runs
        .iter()
        .zip(&bare_runs)
        .map(|(d, b)| format!("{:.1} %", 100.0 * (d / b - 1.0)))
        .collect();
    println!("  per run        {}", each.join(", "));
    let (dc, bc) = (median(&driver_cpu), median(&bare_cpu));
    println!(
        "  CPU time       driver {dc:.2} s, bare {bc:.2} s (medians, all threads): {:.1} % more",
        100.0 * (dc / bc - 1.0)
    );
    println!(
        "  peak memory    {:8.1} MiB (this process, incl. the bare run)",
        peak_rss_kb().unwrap_or(0) as f64 / 1024.0
    );
    Ok(())
}

struct WorkDir {
    path: PathBuf,
    remove: bool,
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.remove {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

fn tempfile_dir(keep: Option<PathBuf>) -> anyhow::Result<WorkDir> {
    match keep {
        Some(p) => {
            std::fs::create_dir_all(&p)?;
            Ok(WorkDir {
                path: p,
                remove: false,
            })
        }
        None => {
            let p = std::env::temp_dir().join(format!("landcycle-bench-{}", std::process::id()));
            std::fs::create_dir_all(&p)?;
            Ok(WorkDir {
                path: p,
                remove: true,
            })
        }
    }
}
