//! The `obs` room: satellite and gridded soil-moisture products read into one common
//! observation type, the product quality rules, the EASE-Grid 2.0 geometry, the mapping of
//! observations to model cells and the model-based QC rules (docs/observations.md).
//!
//! Every reader returns a [`ObsBatch`]: the accepted observations plus the number of records
//! rejected by each rule, so that the diagnostics can say why data were dropped.

pub mod ascat;
pub mod ascat_bufr;
pub mod discover;
pub mod ease;
pub mod gridded;
pub mod ismn;
pub mod mapping;
pub mod ncutil;
pub mod prepare;
pub mod qc;
pub mod sensor;
pub mod smap;

use chrono::NaiveDateTime;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Errors of the observation readers. Every variant names the file involved.
#[derive(Debug, Error)]
pub enum ObsError {
    #[error("{path}: cannot open: {message}")]
    Open { path: PathBuf, message: String },
    #[error("{path}: variable {variable}: {message}")]
    Variable {
        path: PathBuf,
        variable: String,
        message: String,
    },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
}

impl ObsError {
    pub(crate) fn open(path: &Path, e: impl std::fmt::Display) -> Self {
        ObsError::Open {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }
    pub(crate) fn var(path: &Path, variable: &str, e: impl std::fmt::Display) -> Self {
        ObsError::Variable {
            path: path.to_path_buf(),
            variable: variable.to_string(),
            message: e.to_string(),
        }
    }
    pub(crate) fn format(path: &Path, e: impl std::fmt::Display) -> Self {
        ObsError::Format {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }
}

/// The instrument or product an observation comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sensor {
    /// SMAP L-band radiometer (SPL2SMP).
    Smap,
    /// MetOp ASCAT C-band scatterometer (EUMETSAT L2 SSM).
    Ascat,
    /// ERA5 reanalysis soil water (gridded image).
    Era5,
    /// GLDAS Noah soil moisture (gridded image).
    Gldas,
}

impl Sensor {
    pub fn name(&self) -> &'static str {
        match self {
            Sensor::Smap => "smap",
            Sensor::Ascat => "ascat",
            Sensor::Era5 => "era5",
            Sensor::Gldas => "gldas",
        }
    }
}

/// Units of an observed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObsUnits {
    /// Volumetric soil moisture (m³ m⁻³).
    VolumetricFraction,
    /// Degree of saturation (%, 0–100).
    PercentSaturation,
}

impl ObsUnits {
    pub fn name(&self) -> &'static str {
        match self {
            ObsUnits::VolumetricFraction => "m3 m-3",
            ObsUnits::PercentSaturation => "percent saturation",
        }
    }
}

/// The product quality fields that the QC used, kept with the observation for diagnostics
/// and the CSV dump.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Quality {
    Smap {
        retrieval_qual_flag: u16,
        surface_flag: u16,
        /// kg m⁻².
        vegetation_water_content: f32,
        ease_row: u16,
        ease_column: u16,
        /// Dominant land-cover class (first of the three), 254/255 when missing.
        landcover_class: u8,
    },
    Ascat {
        /// Estimated error from the product (% saturation).
        product_error: f64,
        snow_cover_probability: u8,
        frozen_soil_probability: u8,
        wetland_flag: u8,
        topography_flag: u8,
        proc_flag1: u8,
        aggregated_quality_flag: u8,
        /// Swath row and cell indices in the orbit file.
        row: u32,
        cell: u32,
    },
    /// A cell of a gridded image (row and column in the file).
    Gridded { row: u32, column: u32 },
}

/// One soil-moisture observation (a retrieval at a point, or a cell of an image).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// Observation time (UTC).
    pub time: NaiveDateTime,
    /// Degrees north.
    pub lat: f64,
    /// Degrees east, −180..180 for swath products.
    pub lon: f64,
    pub value: f64,
    /// Observation error standard deviation, in the units of `value`.
    pub error_sd: f64,
    pub source: Sensor,
    /// Top of the soil layer the value represents (m below the surface, 0 for surface products).
    pub depth_top_m: f64,
    /// Bottom of that layer (m): SMAP 0.05, ASCAT 0.02.
    pub depth_bottom_m: f64,
    pub units: ObsUnits,
    pub quality: Quality,
}

impl Observation {
    /// (top, bottom) of the soil layer the value represents (m).
    pub fn depth_m(&self) -> (f64, f64) {
        (self.depth_top_m, self.depth_bottom_m)
    }
}

/// Number of records rejected per rule, in the order the rules are applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RejectCounts {
    entries: Vec<(String, usize)>,
}

impl RejectCounts {
    /// Counts with the given rules listed (at zero) in this order.
    pub fn with_rules(rules: &[&str]) -> Self {
        RejectCounts {
            entries: rules.iter().map(|r| (r.to_string(), 0)).collect(),
        }
    }

    /// Add one rejection for `rule`.
    pub fn add(&mut self, rule: &str) {
        self.add_n(rule, 1);
    }

    pub fn add_n(&mut self, rule: &str, n: usize) {
        match self.entries.iter_mut().find(|(r, _)| r == rule) {
            Some((_, c)) => *c += n,
            None => self.entries.push((rule.to_string(), n)),
        }
    }

    /// Rejections by `rule` (0 when never seen).
    pub fn get(&self, rule: &str) -> usize {
        self.entries
            .iter()
            .find(|(r, _)| r == rule)
            .map(|(_, c)| *c)
            .unwrap_or(0)
    }

    pub fn total(&self) -> usize {
        self.entries.iter().map(|(_, c)| c).sum()
    }

    /// (rule, count) in rule order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, usize)> {
        self.entries.iter().map(|(r, c)| (r.as_str(), *c))
    }

    /// Add all counts of `other` into `self`.
    pub fn merge(&mut self, other: &RejectCounts) {
        for (r, c) in other.iter() {
            self.add_n(r, c);
        }
    }
}

/// What a reader returns: accepted observations, rejections by rule, and the number of
/// records examined (accepted + rejected).
#[derive(Debug, Clone, Default)]
pub struct ObsBatch {
    pub observations: Vec<Observation>,
    pub rejected: RejectCounts,
    pub n_records: usize,
}

/// Parse CF time units `"<unit> since <date>[ <time>]"` into (seconds per unit, epoch).
pub fn parse_time_units(units: &str) -> Option<(f64, NaiveDateTime)> {
    let units = units.trim();
    let (unit, rest) = units.split_once(" since ")?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "seconds" | "second" | "s" | "sec" | "secs" => 1.0,
        "minutes" | "minute" | "min" | "mins" => 60.0,
        "hours" | "hour" | "h" | "hr" | "hrs" => 3600.0,
        "days" | "day" | "d" => 86400.0,
        _ => return None,
    };
    let rest = rest.trim().trim_end_matches('Z').replace('T', " ");
    let mut parts = rest.split_whitespace();
    let date = parts.next()?;
    let time = parts.next().unwrap_or("00:00:00");
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    let t = chrono::NaiveTime::parse_from_str(time, "%H:%M:%S%.f")
        .or_else(|_| chrono::NaiveTime::parse_from_str(time, "%H:%M"))
        .ok()?;
    Some((scale, d.and_time(t)))
}

/// `epoch + seconds`, rounded to the microsecond (the precision every product carries).
pub fn time_from_seconds(epoch: NaiveDateTime, seconds: f64) -> Option<NaiveDateTime> {
    if !seconds.is_finite() || seconds.abs() > 1.0e11 {
        return None;
    }
    Some(epoch + chrono::Duration::microseconds((seconds * 1.0e6).round() as i64))
}

/// Seconds from `epoch` to `t` (microsecond resolution).
pub fn seconds_since(epoch: NaiveDateTime, t: NaiveDateTime) -> f64 {
    let us = (t - epoch)
        .num_microseconds()
        .expect("time span within ±292,000 years");
    us as f64 / 1.0e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_units_parse() {
        let (s, e) = parse_time_units("seconds since 2000-01-01 00:00:00").unwrap();
        assert_eq!(s, 1.0);
        assert_eq!(e.to_string(), "2000-01-01 00:00:00");
        let (s, e) = parse_time_units(" minutes since 2000-01-01 03:00:00").unwrap();
        assert_eq!(s, 60.0);
        assert_eq!(e.to_string(), "2000-01-01 03:00:00");
        let (s, _) = parse_time_units("hours since 1900-01-01 00:00:00.0").unwrap();
        assert_eq!(s, 3600.0);
        assert!(parse_time_units("fortnights since 2000-01-01").is_none());
    }

    #[test]
    fn reject_counts_keep_rule_order() {
        let mut c = RejectCounts::with_rules(&["b", "a"]);
        c.add("a");
        c.add("c");
        c.add_n("b", 2);
        let v: Vec<_> = c.iter().collect();
        assert_eq!(v, vec![("b", 2), ("a", 1), ("c", 1)]);
        assert_eq!(c.total(), 4);
    }
}

/// Result of reading a set of files where a bad file must not stop the cycle.
#[derive(Debug, Default)]
pub struct FileSetRead {
    /// Accepted observations of all readable files, rejections summed by rule.
    pub batch: ObsBatch,
    /// Files that could not be read, with the error (naming file and variable).
    pub failed: Vec<(PathBuf, String)>,
}

/// Read every file with `read`; an unreadable file is logged as a warning naming it, skipped,
/// and listed in `failed` (the cycle's behaviour for corrupt or truncated files).
pub fn read_files<F>(paths: &[PathBuf], read: F) -> FileSetRead
where
    F: Fn(&Path) -> Result<ObsBatch, ObsError>,
{
    let mut out = FileSetRead::default();
    for p in paths {
        match read(p) {
            Ok(b) => {
                out.batch.observations.extend(b.observations);
                out.batch.rejected.merge(&b.rejected);
                out.batch.n_records += b.n_records;
            }
            Err(e) => {
                tracing::warn!(file = %p.display(), "skipping observation file: {e}");
                out.failed.push((p.clone(), e.to_string()));
            }
        }
    }
    out
}

/// Degree of saturation (%) to volumetric soil moisture (m³ m⁻³) between wilting point
/// (0 %) and porosity (100 %), the convention the OSSE uses for ASCAT-like data.
pub fn saturation_to_volumetric(percent: f64, wilting: f64, porosity: f64) -> f64 {
    wilting + percent / 100.0 * (porosity - wilting)
}

/// Inverse of [`saturation_to_volumetric`].
pub fn volumetric_to_saturation(theta: f64, wilting: f64, porosity: f64) -> f64 {
    100.0 * (theta - wilting) / (porosity - wilting)
}
