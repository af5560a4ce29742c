//! `landcycle chart series|bars|hist`: PNG charts of a run (docs/plot.md, "Charts"): the
//! time series at a point or station (ensemble members, mean, spread band, the observations
//! the DA run assimilated, a reference run, an ISMN station), bar charts of `verify --json`
//! scores, and histograms of the (normalised) innovations in the DA diagnostics. Reading
//! here; drawing in the `plot` room ([`render_chart`]).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use chrono::NaiveDateTime;

use crate::io::atomic::atomic_write;
use crate::obs::ismn::{read_ismn_file, FlagFilter};
use crate::plot::{encode_png, histogram, palette, render_chart, Chart, Mark, Series, XAxis};
use crate::verify::history::{files_under, find_history_files, read_field, read_grid, read_spread};
use crate::verify::insitu::nearest_land_cell;
use crate::verify::obs_space::diag_time_of_name;

/// `landcycle chart` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum Which {
    /// Time series at a point: members, ensemble mean, ±1 sd band, observations.
    Series(SeriesArgs),
    /// Bar chart of one score from `verify --json` reports (or an in-situ report).
    Bars(BarsArgs),
    /// Histogram of the innovations per sensor from the DA diagnostics of a run.
    Hist(HistArgs),
}

/// Size and output shared by all charts.
#[derive(clap::Args, Debug, Clone)]
pub struct Out {
    /// Output PNG.
    #[arg(long)]
    pub out: PathBuf,
    /// Image width in pixels.
    #[arg(long, default_value_t = 1000)]
    pub width: u32,
    /// Image height in pixels.
    #[arg(long, default_value_t = 520)]
    pub height: u32,
}

#[derive(clap::Args, Debug, Clone)]
pub struct SeriesArgs {
    /// Run directory (history files LC_HIST_*.nc, searched recursively).
    #[arg(long)]
    pub run: PathBuf,
    /// Latitude of the point (the nearest land cell is used).
    #[arg(long, allow_negative_numbers = true)]
    pub lat: f64,
    /// Longitude of the point.
    #[arg(long, allow_negative_numbers = true)]
    pub lon: f64,
    /// Soil layer, 0 = top.
    #[arg(long, default_value_t = 0)]
    pub layer: usize,
    /// Largest distance from the point to the land-cell centre, km.
    #[arg(long, default_value_t = 50.0)]
    pub max_distance_km: f64,
    /// Observations assimilated (from LC_DA_*.nc under this directory; default: --run).
    #[arg(long)]
    pub obs_from: Option<PathBuf>,
    /// Leave out the DA observations.
    #[arg(long)]
    pub no_obs: bool,
    /// A reference run drawn as a black line (e.g. the OSSE nature run).
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// An ISMN station file (.stm) drawn as red points (flags: --station-flags).
    #[arg(long)]
    pub station: Option<PathBuf>,
    /// Accepted ISMN flags of the station values.
    #[arg(long, default_value = "G")]
    pub station_flags: String,
    #[command(flatten)]
    pub out: Out,
}

#[derive(clap::Args, Debug, Clone)]
pub struct BarsArgs {
    /// Reports written by `verify --json` (one bar colour each, named by file stem), or one
    /// report of `verify --insitu --json` (one bar per station).
    #[arg(required = true, num_args = 1..)]
    pub reports: Vec<PathBuf>,
    /// Score: rmse, bias, ubrmse, temporal_correlation, spatial_correlation, mean_spread
    /// (pooled), or with --per-cell any per-cell metric (r, anomaly_r, ...).
    #[arg(long, default_value = "rmse")]
    pub metric: String,
    /// Use the per-cell domain statistic (mean, or median with --median) instead of the
    /// pooled score.
    #[arg(long)]
    pub per_cell: bool,
    /// With --per-cell: the median over cells instead of the mean.
    #[arg(long)]
    pub median: bool,
    #[command(flatten)]
    pub out: Out,
}

#[derive(clap::Args, Debug, Clone)]
pub struct HistArgs {
    /// DA run directory (LC_DA_*.nc, searched recursively).
    pub run: PathBuf,
    /// Raw innovations y - Hx (m3 m-3) instead of the normalised ones.
    #[arg(long)]
    pub raw: bool,
    /// Number of bins.
    #[arg(long, default_value_t = 40)]
    pub bins: usize,
    #[command(flatten)]
    pub out: Out,
}

/// `landcycle chart ...`.
pub fn run(which: &Which) -> anyhow::Result<()> {
    let (chart, out) = match which {
        Which::Series(a) => (series_chart(a)?, &a.out),
        Which::Bars(a) => (bars_chart(a)?, &a.out),
        Which::Hist(a) => (hist_chart(a)?, &a.out),
    };
    let chart = Chart {
        width: out.width,
        height: out.height,
        ..chart
    };
    let png = encode_png(&render_chart(&chart)?.image)?;
    atomic_write(&out.out, |tmp| -> anyhow::Result<()> {
        std::fs::write(tmp, &png).with_context(|| format!("writing {}", tmp.display()))
    })?;
    println!("{}", out.out.display());
    Ok(())
}

fn days(t: NaiveDateTime, origin: NaiveDateTime) -> f64 {
    (t - origin).num_seconds() as f64 / 86400.0
}

/// Every member's value at (layer, cell) of `<name>_member` (dims time, member, layer, y, x).
fn members_at(
    path: &Path,
    name: &str,
    layer: usize,
    cell: usize,
    per_layer: usize,
    n_layers: usize,
) -> anyhow::Result<Option<Vec<f64>>> {
    let f = netcdf::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let vname = format!("{name}_member");
    let Some(v) = f.variable(&vname) else {
        return Ok(None);
    };
    let data = crate::verify::history::read_masked(path, &v, &vname)?;
    let block = per_layer * n_layers;
    if block == 0 || data.len() % block != 0 {
        bail!(
            "{}: variable {vname}: {} values, not a multiple of {block}",
            path.display(),
            data.len()
        );
    }
    Ok(Some(
        (0..data.len() / block)
            .map(|m| data[m * block + layer * per_layer + cell])
            .collect(),
    ))
}

/// One sensor's observations at a cell: (sensor, times, values).
type SensorSeries = (String, Vec<NaiveDateTime>, Vec<f64>);

/// Observations at `cell` of every sensor in the DA diagnostics under `dir`: (sensor, times, values).
fn da_obs_at(dir: &Path, cell: usize, n_cells: usize) -> anyhow::Result<Vec<SensorSeries>> {
    let mut out: Vec<SensorSeries> = Vec::new();
    let files = files_under(dir, &|n| diag_time_of_name(n).is_some())?;
    let mut timed: Vec<(NaiveDateTime, PathBuf)> = files
        .into_iter()
        .filter_map(|p| Some((p.file_name()?.to_str().and_then(diag_time_of_name)?, p)))
        .collect();
    timed.sort();
    for (t, p) in timed {
        let f = netcdf::open(&p).with_context(|| format!("{}: cannot open", p.display()))?;
        let names: Vec<String> = f
            .variables()
            .map(|v| v.name())
            .filter(|n| n.ends_with("_obs"))
            .collect();
        for name in names {
            let Some(v) = f.variable(&name) else { continue };
            let data = crate::verify::history::read_masked(&p, &v, &name)?;
            if data.len() != n_cells {
                bail!(
                    "{}: variable {name}: {} values, the history grid has {n_cells} cells",
                    p.display(),
                    data.len()
                );
            }
            let sensor = name.trim_end_matches("_obs").to_string();
            if !data[cell].is_finite() {
                continue;
            }
            match out.iter_mut().find(|(s, ..)| *s == sensor) {
                Some((_, ts, vs)) => {
                    ts.push(t);
                    vs.push(data[cell]);
                }
                None => out.push((sensor, vec![t], vec![data[cell]])),
            }
        }
    }
    Ok(out)
}

fn line(
    label: &str,
    color: [u8; 3],
    x: Vec<f64>,
    y: Vec<f64>,
    width: u32,
    in_legend: bool,
) -> Series {
    Series {
        label: label.into(),
        color,
        x,
        y,
        mark: Mark::Line { width },
        in_legend,
    }
}

fn series_chart(a: &SeriesArgs) -> anyhow::Result<Chart> {
    let files = find_history_files(&a.run)?;
    let Some((&t0, first)) = files.iter().next() else {
        bail!("no history files LC_HIST_*.nc under {}", a.run.display());
    };
    let g = read_grid(first)?;
    let Some((cell, dist)) = nearest_land_cell(&g, a.lat, a.lon, a.max_distance_km) else {
        bail!(
            "no land cell of {} within {} km of ({}, {})",
            first.display(),
            a.max_distance_km,
            a.lat,
            a.lon
        );
    };
    let at = CellSeries {
        cell,
        n: g.lat.len(),
        layer: a.layer,
        t0,
    };
    let mut series = ensemble_series(&files, &at)?;
    if let Some(dir) = &a.truth {
        series.push(truth_series(dir, first, &at)?);
    }
    if !a.no_obs {
        series.extend(obs_series(a.obs_from.as_deref().unwrap_or(&a.run), &at)?);
    }
    if let Some(p) = &a.station {
        series.push(station_series(p, &a.station_flags, t0)?);
    }
    let (r, c) = (cell / g.nx, cell % g.nx);
    Ok(Chart {
        title: format!("Soil moisture, layer {} [m3 m-3]", a.layer + 1),
        subtitle: format!(
            "cell ({r}, {c}) at {:.3}°, {:.3}° ({dist:.1} km from {}, {}); {}",
            g.lat[cell],
            g.lon[cell],
            a.lat,
            a.lon,
            a.run.display()
        ),
        x_label: format!("date {} (UTC)", t0.format("%Y")),
        y_label: "SoilMoistV [m3 m-3]".into(),
        x_axis: XAxis::Days { origin: t0 },
        series,
        width: 0,
        height: 0,
        zero_line: false,
    })
}

/// The cell, grid size, layer and time origin of a point time series.
struct CellSeries {
    cell: usize,
    n: usize,
    layer: usize,
    t0: NaiveDateTime,
}

/// Spread band, members and ensemble mean of a run's history at one cell.
fn ensemble_series(
    files: &crate::verify::history::FileIndex,
    at: &CellSeries,
) -> anyhow::Result<Vec<Series>> {
    let (mut x, mut mean, mut lo, mut hi) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut members: Vec<Vec<f64>> = Vec::new();
    for (t, p) in files {
        let f = read_field(p, "SoilMoistV")?;
        if at.layer >= f.n_layers || f.ny * f.nx != at.n {
            bail!(
                "{}: variable SoilMoistV: layer {} of {} or grid differs from the first file",
                p.display(),
                at.layer,
                f.n_layers
            );
        }
        let m = f.layer(at.layer)[at.cell];
        let sd = read_spread(p, "SoilMoistV")?.map_or(f64::NAN, |s| s.layer(at.layer)[at.cell]);
        x.push(days(*t, at.t0));
        mean.push(m);
        lo.push(m - sd);
        hi.push(m + sd);
        if let Some(v) = members_at(p, "SoilMoistV", at.layer, at.cell, at.n, f.n_layers)? {
            members.resize(v.len(), vec![f64::NAN; x.len() - 1]);
            for (row, val) in members.iter_mut().zip(v) {
                row.push(val);
            }
        }
    }
    let mut series = Vec::new();
    if hi.iter().any(|v| v.is_finite()) {
        series.push(Series {
            label: "mean ± 1 sd (spread)".into(),
            color: [198, 219, 239],
            x: x.clone(),
            y: lo,
            mark: Mark::Band { upper: hi },
            in_legend: true,
        });
    }
    let nm = members.len();
    for (k, m) in members.into_iter().enumerate() {
        let label = format!("members ({nm})");
        series.push(line(&label, [150, 170, 200], x.clone(), m, 1, k == 0));
    }
    series.push(line("ensemble mean", [8, 81, 156], x, mean, 2, true));
    Ok(series)
}

/// The reference run's (truth's) value at the cell, from its history files.
fn truth_series(dir: &Path, first: &Path, at: &CellSeries) -> anyhow::Result<Series> {
    let (mut tx, mut y) = (Vec::new(), Vec::new());
    for (t, p) in &find_history_files(dir)? {
        let f = read_field(p, "SoilMoistV")?;
        if f.ny * f.nx != at.n || at.layer >= f.n_layers {
            bail!(
                "{}: variable SoilMoistV: grid or layers differ from {}",
                p.display(),
                first.display()
            );
        }
        tx.push(days(*t, at.t0));
        y.push(f.layer(at.layer)[at.cell]);
    }
    Ok(line("reference (truth)", [0, 0, 0], tx, y, 2, true))
}

/// The assimilated observations at the cell, one series per sensor.
fn obs_series(dir: &Path, at: &CellSeries) -> anyhow::Result<Vec<Series>> {
    let found = da_obs_at(dir, at.cell, at.n)?;
    Ok(found
        .into_iter()
        .enumerate()
        .map(|(k, (sensor, ts, vs))| Series {
            label: format!("{} obs (assimilated)", sensor.to_uppercase()),
            color: palette(k + 1),
            x: ts.iter().map(|t| days(*t, at.t0)).collect(),
            y: vs,
            mark: Mark::Points { radius: 4 },
            in_legend: true,
        })
        .collect())
}

/// An ISMN station's measurements (flags filtered).
fn station_series(p: &Path, flags: &str, t0: NaiveDateTime) -> anyhow::Result<Series> {
    let s = read_ismn_file(p, &FlagFilter::parse(flags))?;
    Ok(Series {
        label: format!(
            "ISMN {}/{} {:.2}-{:.2} m",
            s.network, s.station, s.depth_from, s.depth_to
        ),
        color: [215, 48, 39],
        x: s.times.iter().map(|t| days(*t, t0)).collect(),
        y: s.values,
        mark: Mark::Points { radius: 2 },
        in_legend: true,
    })
}

fn value_of(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// One value per layer of a verify report.
fn layer_values(p: &Path, v: &serde_json::Value, a: &BarsArgs) -> anyhow::Result<Vec<f64>> {
    let stat = if a.median { "median" } else { "mean" };
    let layers = if a.per_cell {
        v["per_cell"]["layers"].as_array().with_context(|| {
            format!(
                "{}: no per_cell layers (run verify with --per-cell)",
                p.display()
            )
        })?
    } else {
        v["layers"]
            .as_array()
            .with_context(|| format!("{}: no 'layers' (not a verify --json report)", p.display()))?
    };
    layers
        .iter()
        .map(|l| {
            if a.per_cell {
                let m = l["metrics"]
                    .as_array()
                    .and_then(|ms| ms.iter().find(|m| m["name"] == a.metric.as_str()));
                m.map(|m| value_of(&m[stat]))
                    .with_context(|| format!("{}: no per-cell metric '{}'", p.display(), a.metric))
            } else {
                l.get(a.metric.as_str())
                    .map(value_of)
                    .with_context(|| format!("{}: no pooled score '{}'", p.display(), a.metric))
            }
        })
        .collect()
}

fn bars_chart(a: &BarsArgs) -> anyhow::Result<Chart> {
    let mut reports = Vec::new();
    for p in &a.reports {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("{}: cannot read", p.display()))?;
        let v: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("{}: not JSON", p.display()))?;
        reports.push((p.clone(), v));
    }
    let units = reports[0].1["units"].as_str().unwrap_or("").to_string();
    let m = a.metric.as_str();
    let unitless = m == "r"
        || m == "n"
        || m.starts_with("r_")
        || m.starts_with("anomaly_r")
        || m.starts_with("spearman")
        || m.contains("correlation");
    let y_label = if unitless {
        a.metric.clone()
    } else {
        format!("{} [{units}]", a.metric)
    };
    if let Some(stations) = reports[0].1["stations"].as_array() {
        let names: Vec<String> = stations
            .iter()
            .map(|s| s["station"].as_str().unwrap_or("?").to_string())
            .collect();
        let y: Vec<f64> = stations
            .iter()
            .map(|s| value_of(&s["metrics"][a.metric.as_str()]))
            .collect();
        let x = (0..names.len()).map(|k| k as f64).collect();
        return Ok(Chart {
            title: format!("{} per ISMN station", a.metric),
            subtitle: format!(
                "{} against the stations under {}",
                reports[0].1["run_dir"].as_str().unwrap_or(""),
                reports[0].1["insitu_dir"].as_str().unwrap_or("")
            ),
            x_label: "station".into(),
            y_label,
            x_axis: XAxis::Categories(names),
            series: vec![Series {
                label: a.metric.clone(),
                color: palette(0),
                x,
                y,
                mark: Mark::Bars { width: 0.7 },
                in_legend: true,
            }],
            width: 0,
            height: 0,
            zero_line: true,
        });
    }
    let mut series = Vec::new();
    let mut n_layers = 0;
    let g = reports.len();
    let w = 0.8 / g as f64;
    for (k, (p, v)) in reports.iter().enumerate() {
        let y = layer_values(p, v, a)?;
        n_layers = n_layers.max(y.len());
        let x = (0..y.len())
            .map(|l| l as f64 + (k as f64 - 0.5 * (g as f64 - 1.0)) * w)
            .collect();
        let label = p.file_stem().map_or_else(
            || p.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        series.push(Series {
            label,
            color: palette(k),
            x,
            y,
            mark: Mark::Bars { width: 0.95 * w },
            in_legend: true,
        });
    }
    let what = if a.per_cell {
        format!("per-cell {}", if a.median { "median" } else { "mean" })
    } else {
        "pooled".into()
    };
    Ok(Chart {
        title: format!("{} per soil layer ({what})", a.metric),
        subtitle: format!(
            "{} reports: {}",
            g,
            reports
                .iter()
                .map(|(p, _)| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        x_label: "soil layer".into(),
        y_label,
        x_axis: XAxis::Categories((1..=n_layers).map(|l| format!("layer {l}")).collect()),
        series,
        width: 0,
        height: 0,
        zero_line: true,
    })
}

/// Innovations per sensor from all diagnostics under `dir`.
fn innovations(dir: &Path, raw: bool) -> anyhow::Result<Vec<(String, Vec<f64>)>> {
    let suffix = if raw {
        "_innovation"
    } else {
        "_normalized_innovation"
    };
    let mut out: Vec<(String, Vec<f64>)> = Vec::new();
    let files = files_under(dir, &|n| diag_time_of_name(n).is_some())?;
    if files.is_empty() {
        bail!("no DA diagnostics LC_DA_*.nc under {}", dir.display());
    }
    for p in files {
        let f = netcdf::open(&p).with_context(|| format!("{}: cannot open", p.display()))?;
        let names: Vec<String> = f
            .variables()
            .map(|v| v.name())
            .filter(|n| n.ends_with(suffix) && (!raw || !n.ends_with("_normalized_innovation")))
            .collect();
        for name in names {
            let Some(v) = f.variable(&name) else { continue };
            let data = crate::verify::history::read_masked(&p, &v, &name)?;
            let sensor = name.trim_end_matches(suffix).to_string();
            let finite = data.into_iter().filter(|x| x.is_finite());
            match out.iter_mut().find(|(s, _)| *s == sensor) {
                Some((_, vs)) => vs.extend(finite),
                None => out.push((sensor, finite.collect())),
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn hist_chart(a: &HistArgs) -> anyhow::Result<Chart> {
    let data = innovations(&a.run, a.raw)?;
    let all: Vec<f64> = data.iter().flat_map(|d| d.1.iter().copied()).collect();
    if all.is_empty() {
        bail!(
            "no finite innovations in the diagnostics under {}",
            a.run.display()
        );
    }
    let lim = if a.raw {
        let p = crate::plot::percentile(&all.iter().map(|x| x.abs()).collect::<Vec<_>>(), 99.5)
            .unwrap_or(0.1);
        p.max(1e-6)
    } else {
        4.0
    };
    let mut series = Vec::new();
    let mut stats = Vec::new();
    for (k, (sensor, v)) in data.iter().enumerate() {
        let (edges, dens) = histogram(v, a.bins, -lim, lim);
        let n = v.len() as f64;
        let m = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0).max(1.0);
        stats.push(format!(
            "{}: n {}, mean {m:.3}, var {var:.3}",
            sensor.to_uppercase(),
            v.len()
        ));
        series.push(Series {
            label: format!("{} (n = {})", sensor.to_uppercase(), v.len()),
            color: palette(k),
            x: edges,
            y: dens,
            mark: Mark::Steps { width: 2 },
            in_legend: true,
        });
    }
    if !a.raw {
        let x: Vec<f64> = (0..=200)
            .map(|k| -lim + 2.0 * lim * k as f64 / 200.0)
            .collect();
        let y = x
            .iter()
            .map(|x| (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt())
            .collect();
        series.push(line("N(0, 1): consistent filter", [0, 0, 0], x, y, 1, true));
    }
    let what = if a.raw {
        "Innovations O-B [m3 m-3]"
    } else {
        "Normalised innovations (O-B)/sqrt(HPH^T+R) [1]"
    };
    Ok(Chart {
        title: what.into(),
        subtitle: format!("{}; {}", a.run.display(), stats.join("; ")),
        x_label: if a.raw {
            "O-B [m3 m-3]".into()
        } else {
            "normalised O-B [1]".into()
        },
        y_label: "probability density".into(),
        x_axis: XAxis::Numeric,
        series,
        width: 0,
        height: 0,
        zero_line: false,
    })
}
