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

/// The generic check every observation product must pass (the products' conformance suite):
/// a sensible name, unique rule names, a sensing depth, clear errors (never a panic) for a
/// missing, an empty and a truncated file, and, given a real file of the product, accepted
/// observations that carry the product's units, finite values, positive errors and only
/// rejection rules the product declares. `work` is a scratch directory.
pub fn check_product(
    product: &dyn ObsProduct,
    real_file: Option<&Path>,
    work: &Path,
) -> Result<(), String> {
    let name = product.name();
    if name.is_empty() || name.chars().any(|c| !c.is_ascii_lowercase() && c != '_') {
        return Err(format!(
            "product name {name:?} is not a lowercase identifier"
        ));
    }
    let rules = product.product_rules();
    let mut unique: Vec<&str> = rules.to_vec();
    unique.sort_unstable();
    unique.dedup();
    if rules.is_empty() || unique.len() != rules.len() {
        return Err(format!(
            "{name}: product rules {rules:?} are empty or repeated"
        ));
    }
    let depth = product.sensing_depth_m();
    if !(depth.is_finite() && depth > 0.0 && depth <= 1.0) {
        return Err(format!("{name}: sensing depth {depth} m outside (0, 1]"));
    }
    check_bad_files(product, real_file, work)?;
    match real_file {
        Some(f) => check_real_file(product, f),
        None => Ok(()),
    }
}

/// Missing, empty and truncated files are errors that name the file.
fn check_bad_files(
    product: &dyn ObsProduct,
    real_file: Option<&Path>,
    work: &Path,
) -> Result<(), String> {
    let name = product.name();
    let missing = work.join(format!("{name}_missing_file"));
    let empty = work.join(format!("{name}_empty_file"));
    std::fs::write(&empty, b"").map_err(|e| e.to_string())?;
    let mut bad = vec![missing, empty];
    if let Some(f) = real_file {
        let bytes = std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?;
        let truncated = work.join(format!("{name}_truncated_file"));
        std::fs::write(&truncated, &bytes[..bytes.len() / 3]).map_err(|e| e.to_string())?;
        bad.push(truncated);
    }
    for p in &bad {
        match product.read(p) {
            Ok(_) => return Err(format!("{name}: {} read without error", p.display())),
            Err(e) if !e.to_string().contains(&*p.to_string_lossy()) => {
                return Err(format!(
                    "{name}: error for {} does not name it: {e}",
                    p.display()
                ))
            }
            Err(_) => {}
        }
    }
    Ok(())
}

/// A real file gives well-formed observations and declared rejection rules only.
fn check_real_file(product: &dyn ObsProduct, f: &Path) -> Result<(), String> {
    let name = product.name();
    let batch = product
        .read(f)
        .map_err(|e| format!("{name}: {}: {e}", f.display()))?;
    if batch.observations.is_empty() {
        return Err(format!(
            "{name}: {} gave no accepted observation",
            f.display()
        ));
    }
    for o in &batch.observations {
        let ok = o.units == product.units()
            && o.value.is_finite()
            && o.error_sd.is_finite()
            && o.error_sd > 0.0;
        if !ok {
            return Err(format!("{name}: malformed observation {o:?}"));
        }
    }
    let rules = product.product_rules();
    let undeclared: Vec<String> = batch
        .rejected
        .iter()
        .filter(|(r, _)| !rules.contains(r))
        .map(|(r, _)| r.to_string())
        .collect();
    match undeclared.first() {
        Some(r) => Err(format!("{name}: rejection rule {r} is not declared")),
        None => Ok(()),
    }
}
