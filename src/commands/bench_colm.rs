//! `landcycle bench colm`: CoLM column-steps per second for an ensemble, through
//! `LandModel::step_members` (what the cycle calls), on one core.
//!
//! The case is Bondville: the Noah case's forcing as passed to the physics
//! (`noah-bondville/forcing_as_used.csv.xz` of the shared data), a silty clay loam (STATSGO 8)
//! dryland cropland (USGS 2) cell from CoLM's cold start. Member m's forcing is the site's with
//! precipitation × (1 + 0.05 m), shortwave × (1 − 0.01 m) and air temperature + 0.1 m K, so
//! members take different branches as a perturbed ensemble does. Forcing is prepared before
//! the clock starts; the timing is the median of `repeats` passes.

use std::io::Read;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use chrono::{Duration, NaiveDate, NaiveDateTime};

use crate::lsm::colm::ColmLsm;
use crate::lsm::{CellStatics, Forcing, LandModel, StepOutput};

/// Arguments of `landcycle bench colm`.
#[derive(Debug, Clone, clap::Args)]
pub struct ColmBenchArgs {
    /// Ensemble members stepped together.
    #[arg(long, default_value_t = 20)]
    pub members: usize,
    /// Days of the Bondville forcing from 1998-01-01 (at most 365).
    #[arg(long, default_value_t = 60)]
    pub days: usize,
    /// Passes (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Forcing CSV (.xz) in the `forcing_as_used.csv` format (default: the shared data's).
    #[arg(long)]
    pub forcing: Option<PathBuf>,
}

/// Site forcing rows of a `forcing_as_used.csv(.xz)` file.
fn read_forcing(path: &std::path::Path) -> anyhow::Result<Vec<Forcing>> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut text = String::new();
    if path.extension().is_some_and(|e| e == "xz") {
        xz2::read::XzDecoder::new(f).read_to_string(&mut text)?;
    } else {
        std::io::BufReader::new(f).read_to_string(&mut text)?;
    }
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .context("empty forcing file")?
        .split(',')
        .collect();
    let col = |n: &str| {
        header
            .iter()
            .position(|h| *h == n)
            .with_context(|| format!("{}: no column {n}", path.display()))
    };
    let c = [
        col("SFCTMP_K")?,
        col("Q2_kg_kg")?,
        col("SFCPRS_Pa")?,
        col("SFCSPD_m_s")?,
        col("PRCP_kg_m2_s")?,
        col("SOLDN_W_m2")?,
        col("LWDOWN_W_m2")?,
    ];
    let mut out = Vec::new();
    for (k, line) in lines.enumerate() {
        let v: Vec<&str> = line.split(',').collect();
        let x = |i: usize| -> anyhow::Result<f64> {
            let s = v
                .get(c[i])
                .with_context(|| format!("{}: row {}", path.display(), k + 2))?;
            s.trim()
                .parse()
                .with_context(|| format!("{}: row {}: {s}", path.display(), k + 2))
        };
        out.push(Forcing {
            air_temperature: x(0)?,
            specific_humidity: x(1)?,
            surface_pressure: x(2)?,
            wind_speed: x(3)?,
            precipitation: x(4)?,
            frozen_precip_fraction: 0.0,
            shortwave_down: x(5)?,
            longwave_down: x(6)?,
            forcing_height: 6.0,
        });
    }
    Ok(out)
}

fn member_forcing(f: &Forcing, m: usize) -> Forcing {
    let m = m as f64;
    Forcing {
        precipitation: f.precipitation * (1.0 + 0.05 * m),
        shortwave_down: f.shortwave_down * (1.0 - 0.01 * m).max(0.0),
        air_temperature: f.air_temperature + 0.1 * m,
        ..*f
    }
}

fn bondville() -> CellStatics {
    CellStatics {
        latitude: 40.01,
        longitude: -88.37,
        soil_class: 8,
        vegetation_class: 2,
        slope_class: 1,
        green_fraction_monthly: [0.5; 12],
        albedo_monthly: [0.18; 12],
        deep_soil_temperature: 285.0,
        elevation: 213.0,
        max_snow_albedo: 0.75,
        soil_texture: None,
    }
}

/// One pass over `forcing` (per step, per member); returns wall and process CPU seconds.
fn pass(
    model: &ColmLsm,
    forcing: &[Vec<Forcing>],
    start: NaiveDateTime,
) -> anyhow::Result<(f64, f64)> {
    let p = model.cell_params(&bondville())?;
    let n = forcing[0].len();
    let sm = [0.30, 0.30, 0.29, 0.29, 0.29, 0.28, 0.28, 0.3, 0.31, 0.31];
    let cold = model.cold_start(&p, &sm, 275.0)?;
    let mut states = vec![cold; n];
    let mut out = vec![StepOutput::default(); n];
    let cpu = || crate::cycle::process_cpu_seconds().unwrap_or(f64::NAN);
    let (t, c) = (Instant::now(), cpu());
    for (k, f) in forcing.iter().enumerate() {
        let end = start + Duration::seconds(1800 * (k as i64 + 1));
        model.step_members(&p, &mut states, f, end, 1800.0, &mut out)?;
    }
    Ok((t.elapsed().as_secs_f64(), cpu() - c))
}

pub fn run(args: &ColmBenchArgs) -> anyhow::Result<()> {
    let path = match &args.forcing {
        Some(p) => p.clone(),
        None => crate::testdata::root().join("noah-bondville/forcing_as_used.csv.xz"),
    };
    let site = read_forcing(&path)?;
    let steps = (args.days.clamp(1, 365) * 48).min(site.len());
    let members = args.members.max(1);
    let forcing: Vec<Vec<Forcing>> = site[..steps]
        .iter()
        .map(|f| (0..members).map(|m| member_forcing(f, m)).collect())
        .collect();
    let start = NaiveDate::from_ymd_opt(1998, 1, 1)
        .and_then(|d| d.and_hms_opt(6, 30, 0))
        .context("date")?;
    let model = ColmLsm::default();
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..args.repeats.max(1) {
        let (w, c) = pass(&model, &forcing, start)?;
        wall.push(w);
        cpu.push(c);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (w, c) = (median(&mut wall), median(&mut cpu));
    let column_steps = (steps * members) as f64;
    // On a shared machine the CPU time is the core's own work; wall time includes waiting.
    println!(
        "CoLM bench (Bondville, {members} members, {steps} steps of 1800 s, one thread): \
         median of {} passes: wall {w:.3} s = {:.3e} column-steps/s; CPU {c:.3} s = {:.3e} \
         column-steps per CPU-second",
        wall.len(),
        column_steps / w,
        column_steps / c
    );
    Ok(())
}
