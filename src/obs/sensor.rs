//! One interface for every observation product the assimilation reads: what it is called,
//! how a file is read with the product QC, the units of its values and the soil depth it
//! senses. The cycle sees only [`ObsProduct`] and [`ConfiguredSensor`]; this file is the
//! one place that turns the `&da` settings of a product into its reader.
//!
//! Adding a product: a reader file in `obs/`, an `impl ObsProduct`, its namelist keys in
//! the schema, and one arm in [`configured_sensors`].

use std::path::{Path, PathBuf};

use super::ascat::{read_ascat, AscatOptions};
use super::smap::{read_smap_spl2smp, SmapOptions};
use super::{ObsBatch, ObsError, ObsUnits};
use crate::config::{DaBiasCorrection, DaConfig, DaSensor};

/// An observation product.
pub trait ObsProduct: Send + Sync {
    /// Short name (`smap`): variable prefix of the diagnostics, log name.
    fn name(&self) -> &'static str;
    /// Stable code of the product in the keys of observation perturbations (never reused:
    /// changing it changes every perturbed observation).
    fn code(&self) -> u32;
    /// Product-QC rule names of the reader, in order.
    fn product_rules(&self) -> &'static [&'static str];
    /// Read one file, applying the product QC.
    fn read(&self, path: &Path) -> Result<ObsBatch, ObsError>;
    /// Units of the retrieved values.
    fn units(&self) -> ObsUnits;
    /// Depth of soil the retrieval represents (m), for the model's layer weights.
    fn sensing_depth_m(&self) -> f64;
}

/// SMAP L2 radiometer soil moisture (SPL2SMP granules): about the top 5 cm.
pub struct SmapProduct(pub SmapOptions);

/// ASCAT surface soil moisture (EUMETSAT NetCDF or H SAF BUFR orbits): about the top 2 cm.
pub struct AscatProduct(pub AscatOptions);

impl ObsProduct for SmapProduct {
    fn name(&self) -> &'static str {
        "smap"
    }
    fn code(&self) -> u32 {
        0
    }
    fn product_rules(&self) -> &'static [&'static str] {
        &super::smap::RULES
    }
    fn read(&self, path: &Path) -> Result<ObsBatch, ObsError> {
        read_smap_spl2smp(path, &self.0)
    }
    fn units(&self) -> ObsUnits {
        ObsUnits::VolumetricFraction
    }
    fn sensing_depth_m(&self) -> f64 {
        0.05
    }
}

impl ObsProduct for AscatProduct {
    fn name(&self) -> &'static str {
        "ascat"
    }
    fn code(&self) -> u32 {
        1
    }
    fn product_rules(&self) -> &'static [&'static str] {
        &super::ascat::RULES
    }
    fn read(&self, path: &Path) -> Result<ObsBatch, ObsError> {
        read_ascat(path, &self.0)
    }
    fn units(&self) -> ObsUnits {
        ObsUnits::PercentSaturation
    }
    fn sensing_depth_m(&self) -> f64 {
        0.02
    }
}

/// A product with the run's settings for it: where its files are and how its values are
/// mapped and bias-corrected.
pub struct ConfiguredSensor {
    pub product: Box<dyn ObsProduct>,
    pub directory: PathBuf,
    /// File-name pattern (strftime fields, then `*`/`?` wildcards).
    pub pattern: String,
    /// Footprint half-width of the mapping (km, 0 = nearest cell).
    pub footprint_km: f64,
    pub bias_correction: DaBiasCorrection,
    pub climatology: Option<PathBuf>,
}

/// `v` when the rule is on, else a limit that never rejects.
fn limit(on: bool, v: f64) -> f64 {
    if on {
        v
    } else {
        f64::INFINITY
    }
}

fn smap(cfg: &DaConfig) -> SmapProduct {
    let d = SmapOptions::default();
    SmapProduct(SmapOptions {
        error_sd: cfg.smap_error_sd,
        max_vegetation_water_content: limit(cfg.qc_smap_vegetation, d.max_vegetation_water_content),
        require_recommended: cfg.qc_smap_quality,
        ..d
    })
}

fn ascat(cfg: &DaConfig) -> AscatProduct {
    let d = AscatOptions::default();
    AscatProduct(AscatOptions {
        error_sd: cfg.ascat_error_sd,
        max_error: limit(cfg.qc_ascat_error, d.max_error),
        max_topography: limit(cfg.qc_ascat_topography, d.max_topography),
        max_wetland: limit(cfg.qc_ascat_wetland, d.max_wetland),
        max_snow_probability: limit(cfg.qc_ascat_snow, d.max_snow_probability),
        max_frozen_probability: limit(cfg.qc_ascat_frozen, d.max_frozen_probability),
        ..d
    })
}

/// The products of `da:sensors`, in order, with their settings.
pub fn configured_sensors(cfg: &DaConfig) -> Vec<ConfiguredSensor> {
    cfg.sensors
        .iter()
        .map(|&s| {
            let product: Box<dyn ObsProduct> = match s {
                DaSensor::Smap => Box::new(smap(cfg)),
                DaSensor::Ascat => Box::new(ascat(cfg)),
            };
            let (directory, pattern, _, bias_correction, climatology) = cfg.sensor(s);
            ConfiguredSensor {
                product,
                directory: directory.to_path_buf(),
                pattern: pattern.to_string(),
                footprint_km: cfg.footprint_km(s),
                bias_correction,
                climatology: climatology.map(Path::to_path_buf),
            }
        })
        .collect()
}
