//! `landcycle obs dump --product smap|ascat FILE --csv OUT.csv`: read one product file with
//! the operational reader and QC, write the accepted observations as CSV and print how many
//! records each rule rejected.

use crate::obs::ascat::{read_ascat, AscatOptions};
use crate::obs::smap::{read_smap_spl2smp, SmapOptions};
use crate::obs::{ObsBatch, ObsError, Observation, Quality};
use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Satellite products with a swath reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Product {
    /// SMAP L2 radiometer soil moisture (SPL2SMP HDF5).
    Smap,
    /// ASCAT soil moisture: EUMETSAT L2 SSM swath NetCDF (SMR 12.5 km or SMO 25 km) or H SAF
    /// BUFR (e.g. H16, H103), recognised per file.
    Ascat,
}

/// `landcycle obs ...`
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: ObsCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ObsCommand {
    /// Write the accepted observations of one file as CSV and print rejections by rule.
    Dump(DumpArgs),
}

#[derive(Debug, clap::Args)]
pub struct DumpArgs {
    /// Product of FILE.
    #[arg(long, value_enum)]
    pub product: Product,
    /// The product file.
    pub file: PathBuf,
    /// Output CSV file.
    #[arg(long)]
    pub csv: PathBuf,
    /// SMAP: reject vegetation water content above this (kg m-2).
    #[arg(long, default_value_t = 5.0)]
    pub max_vwc: f64,
    /// SMAP: keep retrievals flagged "not recommended" (retrieval_qual_flag bit 0) too.
    #[arg(long)]
    pub keep_not_recommended: bool,
    /// SMAP: observation error sigma (m3 m-3).
    #[arg(long, default_value_t = 0.02)]
    pub smap_error: f64,
    /// ASCAT: reject estimated error at or above this (%).
    #[arg(long, default_value_t = 16.0)]
    pub max_error: f64,
    /// ASCAT: reject topographic complexity at or above this (%).
    #[arg(long, default_value_t = 20.0)]
    pub max_topography: f64,
    /// ASCAT: reject wetland fraction at or above this (%).
    #[arg(long, default_value_t = 15.0)]
    pub max_wetland: f64,
    /// ASCAT: reject snow-cover probability above this (%).
    #[arg(long, default_value_t = 10.0)]
    pub max_snow: f64,
    /// ASCAT: reject frozen-soil probability above this (%).
    #[arg(long, default_value_t = 10.0)]
    pub max_frozen: f64,
    /// ASCAT: also reject records with any proc_flag1 bit set.
    #[arg(long)]
    pub reject_proc_flag: bool,
}

impl DumpArgs {
    pub fn smap_options(&self) -> SmapOptions {
        SmapOptions {
            error_sd: self.smap_error,
            max_vegetation_water_content: self.max_vwc,
            require_recommended: !self.keep_not_recommended,
            ..SmapOptions::default()
        }
    }
    pub fn ascat_options(&self) -> AscatOptions {
        AscatOptions {
            max_error: self.max_error,
            max_topography: self.max_topography,
            max_wetland: self.max_wetland,
            max_snow_probability: self.max_snow,
            max_frozen_probability: self.max_frozen,
            reject_processing_flag: self.reject_proc_flag,
            ..AscatOptions::default()
        }
    }
}

/// Read `file` as `product` with the given options.
pub fn read_product(
    product: Product,
    file: &Path,
    smap: &SmapOptions,
    ascat: &AscatOptions,
) -> Result<ObsBatch, ObsError> {
    match product {
        Product::Smap => read_smap_spl2smp(file, smap),
        Product::Ascat => read_ascat(file, ascat),
    }
}

/// CSV header for a product.
pub fn csv_header(product: Product) -> &'static str {
    match product {
        Product::Smap => "time,lat,lon,value,error_sd,units,retrieval_qual_flag,surface_flag,vegetation_water_content,ease_row,ease_column,landcover_class",
        Product::Ascat => "time,lat,lon,value,error_sd,units,product_error,snow_cover_probability,frozen_soil_probability,wetland_flag,topography_flag,proc_flag1,aggregated_quality_flag,row,cell",
    }
}

/// One CSV line (no newline) of an observation.
pub fn csv_line(o: &Observation) -> String {
    let head = format!(
        "{},{:.6},{:.6},{},{},{}",
        o.time.format("%Y-%m-%dT%H:%M:%S%.6fZ"),
        o.lat,
        o.lon,
        o.value,
        o.error_sd,
        o.units.name()
    );
    let tail = match o.quality {
        Quality::Smap {
            retrieval_qual_flag,
            surface_flag,
            vegetation_water_content,
            ease_row,
            ease_column,
            landcover_class,
        } => format!(
            "{retrieval_qual_flag},{surface_flag},{vegetation_water_content},{ease_row},{ease_column},{landcover_class}"
        ),
        Quality::Ascat {
            product_error,
            snow_cover_probability,
            frozen_soil_probability,
            wetland_flag,
            topography_flag,
            proc_flag1,
            aggregated_quality_flag,
            row,
            cell,
        } => format!(
            "{product_error},{snow_cover_probability},{frozen_soil_probability},{wetland_flag},{topography_flag},{proc_flag1},{aggregated_quality_flag},{row},{cell}"
        ),
        Quality::Gridded { row, column } => format!("{row},{column}"),
    };
    format!("{head},{tail}")
}

/// Write the batch as CSV to `path` (temporary name, fsync, rename).
pub fn write_csv(path: &Path, product: Product, batch: &ObsBatch) -> anyhow::Result<()> {
    crate::io::atomic_write(path, |tmp| -> anyhow::Result<()> {
        let mut w = std::io::BufWriter::new(
            std::fs::File::create(tmp).with_context(|| format!("creating {}", path.display()))?,
        );
        writeln!(w, "{}", csv_header(product))?;
        for o in &batch.observations {
            writeln!(w, "{}", csv_line(o))?;
        }
        w.flush()
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    })
}

/// The rejection report printed by `dump`.
pub fn rejection_report(file: &Path, batch: &ObsBatch) -> String {
    let mut s = format!(
        "{}: {} records, {} accepted, {} rejected\n",
        file.display(),
        batch.n_records,
        batch.observations.len(),
        batch.rejected.total()
    );
    for (rule, n) in batch.rejected.iter() {
        s.push_str(&format!("  rejected by {rule:<26} {n}\n"));
    }
    s
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    match &args.command {
        ObsCommand::Dump(d) => {
            let batch = read_product(d.product, &d.file, &d.smap_options(), &d.ascat_options())
                .with_context(|| format!("reading {}", d.file.display()))?;
            write_csv(&d.csv, d.product, &batch)?;
            print!("{}", rejection_report(&d.file, &batch));
            Ok(())
        }
    }
}
