//! `landcycle tca --dataset SPEC --dataset SPEC --dataset SPEC [--window-hours H]
//! [--min-samples N] [--no-significance] [--maps OUT.nc] [--json OUT.json]`: triple
//! collocation per cell of three gridded datasets (docs/verification.md).

use std::path::PathBuf;

use anyhow::Context;

use crate::verify::collocate::{collocate, read_source, Dataset};
use crate::verify::tca::{summarise_tca, tca_cells, TcaCell, TcaOptions};
use crate::verify::{write_maps, MapField, MapFile};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A dataset: `[LABEL=]hist:DIR[:LAYER]` (SoilMoistV layer, default 1, of the history
    /// files under DIR) or `[LABEL=]diag:DIR:SENSOR` (`<SENSOR>_obs` of the DA diagnostics
    /// under DIR). Exactly three.
    #[arg(long = "dataset", required = true, num_args = 1)]
    pub datasets: Vec<Dataset>,
    /// Collocation window: the datasets are averaged per cell in time bins of this many hours
    /// (from 1970-01-01T00Z) and bins where all three have data are the samples.
    #[arg(long, default_value_t = 24.0)]
    pub window_hours: f64,
    /// Minimum number of collocated triplets per cell.
    #[arg(long, default_value_t = 100)]
    pub min_samples: usize,
    /// Do not require the three pairwise correlations to be significant (p < 0.05).
    #[arg(long)]
    pub no_significance: bool,
    /// Write the per-cell error variance, SNR and fMSE maps as CF NetCDF.
    #[arg(long, value_name = "OUT.nc")]
    pub maps: Option<PathBuf>,
    /// Also write the domain summary as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let [a, b, c] = args.datasets.as_slice() else {
        anyhow::bail!(
            "--dataset: {} given, triple collocation needs exactly 3",
            args.datasets.len()
        );
    };
    let mut series = Vec::new();
    for d in [a, b, c] {
        series
            .push(read_source(&d.source).with_context(|| format!("reading dataset {}", d.label))?);
    }
    let data = collocate([&series[0], &series[1], &series[2]], args.window_hours)?;
    let o = TcaOptions {
        min_samples: args.min_samples,
        require_significant: !args.no_significance,
        ..TcaOptions::default()
    };
    let cells = tca_cells([&data[0], &data[1], &data[2]], &o);
    let labels = [a.label.clone(), b.label.clone(), c.label.clone()];
    let keep: Vec<bool> = cells.iter().map(|c| c.n > 0).collect();
    let summary = summarise_tca(&labels, &cells, &keep, &o);
    println!(
        "{} collocation bins of {} h",
        data[0].len(),
        args.window_hours
    );
    print!("{}", summary.table());
    if let Some(p) = &args.maps {
        let fields = tca_map_fields(&labels, &cells);
        let globals = [
            ("title", "landcycle triple collocation".to_string()),
            ("datasets", labels.join(" ")),
            ("collocation_window_hours", args.window_hours.to_string()),
            ("min_samples", args.min_samples.to_string()),
        ];
        let m = MapFile {
            grid: &series[0].grid,
            n_layers: 0,
            fields: &fields,
            globals: &globals,
        };
        write_maps(p, &m).with_context(|| format!("writing {}", p.display()))?;
    }
    if let Some(p) = &args.json {
        crate::verify::write_text(p, &crate::verify::to_json_text(&summary))
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

/// Map fields of a gridded TCA: triplet count, status code and per dataset the error
/// variance, SNR and fMSE.
pub fn tca_map_fields(labels: &[String; 3], cells: &[TcaCell]) -> Vec<MapField> {
    let field = |name: String, long_name: String, units: &str, data: Vec<f64>| MapField {
        name,
        long_name,
        units: units.to_string(),
        layered: false,
        data,
    };
    let mut out = vec![
        field("n".into(), "collocated triplets".into(), "1", cells.iter().map(|c| c.n as f64).collect()),
        field(
            "status".into(),
            "0 ok, 1 too few samples, 2 non-positive covariance, 3 not significant, 4 negative error variance".into(),
            "1",
            cells.iter().map(|c| c.status as u8 as f64).collect(),
        ),
    ];
    for (i, l) in labels.iter().enumerate() {
        let col = |f: &dyn Fn(&TcaCell) -> f64| cells.iter().map(f).collect::<Vec<_>>();
        out.push(field(
            format!("{l}_err_var"),
            format!("TCA error variance of {l}"),
            "m6 m-6",
            col(&|c| c.err_var[i]),
        ));
        out.push(field(
            format!("{l}_snr_db"),
            format!("TCA signal-to-noise ratio of {l}"),
            "dB",
            col(&|c| c.snr_db[i]),
        ));
        out.push(field(
            format!("{l}_fmse"),
            format!("TCA fractional mean squared error of {l}"),
            "1",
            col(&|c| c.fmse[i]),
        ));
    }
    out
}
