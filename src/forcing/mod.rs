//! The data atmosphere: gridded forcing files (GLDAS-2.1 names and units by default) read
//! per rank as the hyperslab its cells need, remapped to the cells, and interpolated in time
//! to model steps, with solar-zenith weighting of shortwave.
//!
//! Time conventions (see docs/forcing.md):
//! - Instantaneous fields (`*_inst`) are interpolated linearly to the midpoint of the step.
//! - Period-mean fields (`*_tavg`) hold one value over their averaging period. GLDAS-2.1
//!   3-hourly files hold the mean over the 3 hours *ending* at the file time (the files'
//!   `time_bnds` and their global attribute "tavg definision: past 3-hour average"), which is
//!   [`PeriodAlignment::Ending`], the default. A step that straddles two periods gets the
//!   time-weighted mean of both, so totals are conserved for any step length.
//! - Shortwave with zenith weighting: the period mean is redistributed over the period in
//!   proportion to the mean cosine of the solar zenith angle of each step (zero at night),
//!   which conserves the period total exactly.

mod files;
pub mod solar;
mod source;
mod template;
pub mod units;

use crate::grid::remap::{Hyperslab, RemapError, RemapMethod};
use crate::lsm::Forcing;
use chrono::{Duration, NaiveDate, NaiveDateTime};
pub use files::FileRecords;
use serde::{Deserialize, Serialize};
pub use source::RecordSource;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use thiserror::Error;
pub use units::{canonical_units, conversion_to_si, UnitConversion};

/// Air temperature below which precipitation is taken as frozen (K).
pub const FREEZING_POINT: f64 = 273.15;

/// Below this period-mean cos(zenith) shortwave is not redistributed (twilight periods).
const MIN_PERIOD_COS_ZENITH: f64 = 1e-3;

/// The meteorological quantities a land model needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForcingRole {
    AirTemperature,
    SpecificHumidity,
    SurfacePressure,
    WindSpeed,
    Precipitation,
    ShortwaveDown,
    LongwaveDown,
}

impl ForcingRole {
    pub const ALL: [ForcingRole; 7] = [
        ForcingRole::AirTemperature,
        ForcingRole::SpecificHumidity,
        ForcingRole::SurfacePressure,
        ForcingRole::WindSpeed,
        ForcingRole::Precipitation,
        ForcingRole::ShortwaveDown,
        ForcingRole::LongwaveDown,
    ];

    /// Position of the role in [`ForcingRole::ALL`] and in a record's values.
    pub fn index(self) -> usize {
        self as usize
    }

    /// SI units the land model receives.
    pub fn si_units(self) -> &'static str {
        match self {
            ForcingRole::AirTemperature => "K",
            ForcingRole::SpecificHumidity => "kg kg-1",
            ForcingRole::SurfacePressure => "Pa",
            ForcingRole::WindSpeed => "m s-1",
            ForcingRole::Precipitation => "kg m-2 s-1",
            ForcingRole::ShortwaveDown | ForcingRole::LongwaveDown => "W m-2",
        }
    }

    /// Range of physically possible values (SI). Values slightly below zero in
    /// non-negative fields (packing and interpolation noise) are clipped, see `clip_floor`.
    /// Every [`RecordSource`] applies the same checks.
    pub fn valid_range(self) -> (f64, f64) {
        match self {
            ForcingRole::AirTemperature => (150.0, 350.0),
            ForcingRole::SpecificHumidity => (-1e-3, 0.1),
            ForcingRole::SurfacePressure => (1.0e4, 1.2e5),
            ForcingRole::WindSpeed => (0.0, 100.0),
            ForcingRole::Precipitation => (-1e-6, 0.1),
            ForcingRole::ShortwaveDown => (-1.0, 1500.0),
            ForcingRole::LongwaveDown => (10.0, 1000.0),
        }
    }

    /// The floor non-negative fields are clipped to after the range check.
    pub fn clip_floor(self) -> Option<f64> {
        match self {
            ForcingRole::SpecificHumidity
            | ForcingRole::Precipitation
            | ForcingRole::ShortwaveDown => Some(0.0),
            _ => None,
        }
    }
}

impl std::fmt::Display for ForcingRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            ForcingRole::AirTemperature => "air temperature",
            ForcingRole::SpecificHumidity => "specific humidity",
            ForcingRole::SurfacePressure => "surface pressure",
            ForcingRole::WindSpeed => "wind speed",
            ForcingRole::Precipitation => "precipitation",
            ForcingRole::ShortwaveDown => "downward shortwave",
            ForcingRole::LongwaveDown => "downward longwave",
        };
        f.write_str(s)
    }
}

/// How a variable's value relates to time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeSampling {
    /// Value at the file time (`*_inst`): linear interpolation between files.
    Instantaneous,
    /// Mean over one file interval (`*_tavg`): held over its period.
    PeriodMean,
}

impl TimeSampling {
    /// GLDAS/LIS naming: `_tavg` and `_acc` are period quantities, everything else instantaneous.
    pub fn from_name(name: &str) -> Self {
        if name.ends_with("_tavg") || name.ends_with("_acc") {
            TimeSampling::PeriodMean
        } else {
            TimeSampling::Instantaneous
        }
    }
}

/// Which period a period-mean value stamped with time `t` covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodAlignment {
    /// (t - interval, t]: GLDAS-2.1 and most LIS output ("past 3-hour average").
    #[default]
    Ending,
    /// [t, t + interval).
    Starting,
}

/// Name, units and time sampling of one forcing variable in the files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariableSpec {
    pub name: String,
    /// Units expected in the file; another recognised spelling of the same quantity is
    /// converted, anything else is an error.
    pub units: String,
    pub sampling: TimeSampling,
}

impl VariableSpec {
    /// Sampling inferred from the name suffix (`_tavg` -> period mean).
    pub fn new(name: &str, units: &str) -> Self {
        Self {
            name: name.to_string(),
            units: units.to_string(),
            sampling: TimeSampling::from_name(name),
        }
    }
}

/// The variables of a forcing dataset, one per role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForcingVariables {
    pub air_temperature: VariableSpec,
    pub specific_humidity: VariableSpec,
    pub surface_pressure: VariableSpec,
    pub wind_speed: VariableSpec,
    pub precipitation: VariableSpec,
    pub shortwave_down: VariableSpec,
    pub longwave_down: VariableSpec,
}

impl ForcingVariables {
    /// GLDAS-2.1 names and units.
    pub fn gldas() -> Self {
        Self {
            air_temperature: VariableSpec::new("Tair_f_inst", "K"),
            specific_humidity: VariableSpec::new("Qair_f_inst", "kg kg-1"),
            surface_pressure: VariableSpec::new("Psurf_f_inst", "Pa"),
            wind_speed: VariableSpec::new("Wind_f_inst", "m s-1"),
            precipitation: VariableSpec::new("Rainf_f_tavg", "kg m-2 s-1"),
            shortwave_down: VariableSpec::new("SWdown_f_tavg", "W m-2"),
            longwave_down: VariableSpec::new("LWdown_f_tavg", "W m-2"),
        }
    }

    pub fn get(&self, role: ForcingRole) -> &VariableSpec {
        match role {
            ForcingRole::AirTemperature => &self.air_temperature,
            ForcingRole::SpecificHumidity => &self.specific_humidity,
            ForcingRole::SurfacePressure => &self.surface_pressure,
            ForcingRole::WindSpeed => &self.wind_speed,
            ForcingRole::Precipitation => &self.precipitation,
            ForcingRole::ShortwaveDown => &self.shortwave_down,
            ForcingRole::LongwaveDown => &self.longwave_down,
        }
    }

    pub fn get_mut(&mut self, role: ForcingRole) -> &mut VariableSpec {
        match role {
            ForcingRole::AirTemperature => &mut self.air_temperature,
            ForcingRole::SpecificHumidity => &mut self.specific_humidity,
            ForcingRole::SurfacePressure => &mut self.surface_pressure,
            ForcingRole::WindSpeed => &mut self.wind_speed,
            ForcingRole::Precipitation => &mut self.precipitation,
            ForcingRole::ShortwaveDown => &mut self.shortwave_down,
            ForcingRole::LongwaveDown => &mut self.longwave_down,
        }
    }
}

impl Default for ForcingVariables {
    fn default() -> Self {
        Self::gldas()
    }
}

/// Description of a gridded forcing dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForcingSpec {
    /// Directory holding the files.
    pub directory: PathBuf,
    /// strftime template of a file name relative to `directory` (may contain `/`).
    pub file_template: String,
    /// Time between files (s).
    pub interval_seconds: i64,
    pub variables: ForcingVariables,
    /// Height of the forcing level above the surface (m).
    pub forcing_height: f64,
    /// Redistribute period-mean shortwave with the solar zenith angle.
    pub sw_zenith_weighting: bool,
    pub remap: RemapMethod,
    pub period_alignment: PeriodAlignment,
    /// Names of the 1-D coordinate variables.
    pub lat_name: String,
    pub lon_name: String,
    /// Name of the time coordinate (checked against the requested time when present).
    pub time_name: String,
    /// A file template naming the issuing cycle (`{init:…}`, `{lead_h}`) takes the cycle
    /// issued at the land cycle's end + this (h).
    #[serde(default = "default_source_cycle_offset")]
    pub source_cycle_offset_hours: i64,
}

fn default_source_cycle_offset() -> i64 {
    -6
}

impl ForcingSpec {
    /// GLDAS-2.1 Noah 0.25 degree 3-hourly files in `directory`.
    pub fn gldas(directory: impl Into<PathBuf>) -> Self {
        Self {
            directory: directory.into(),
            file_template: "GLDAS_NOAH025_3H.A%Y%m%d.%H%M.021.nc4".to_string(),
            interval_seconds: 3 * 3600,
            variables: ForcingVariables::gldas(),
            // GLDAS-2.1 forcing (GDAS) is given at 2 m (temperature, humidity) and 10 m (wind);
            // Noah uses one reference height.
            forcing_height: 10.0,
            sw_zenith_weighting: true,
            remap: RemapMethod::Bilinear,
            period_alignment: PeriodAlignment::Ending,
            lat_name: "lat".to_string(),
            lon_name: "lon".to_string(),
            time_name: "time".to_string(),
            source_cycle_offset_hours: default_source_cycle_offset(),
        }
    }

    /// Path of the file valid at `time` (a template naming the issuing cycle needs
    /// [`ForcingSpec::file_path_in_cycle`]).
    pub fn file_path(&self, time: NaiveDateTime) -> Result<PathBuf, ForcingError> {
        self.file_path_in_cycle(time, None)
    }

    /// Whether the file template names the issuing cycle or the lead time, so the file of a
    /// valid time depends on the land cycle that reads it.
    pub fn names_cycle(&self) -> bool {
        template::names_cycle(&self.file_template)
    }

    /// Path of the file valid at `time` read by the land cycle ending at `cycle_end`: the
    /// template's `{init:FMT}` is the issuing cycle `cycle_end + source_cycle_offset_hours`,
    /// `{lead_h}` the lead `time − init` in hours, the rest strftime fields of `time`.
    pub fn file_path_in_cycle(
        &self,
        time: NaiveDateTime,
        cycle_end: Option<NaiveDateTime>,
    ) -> Result<PathBuf, ForcingError> {
        let init = cycle_end.map(|t| t + Duration::hours(self.source_cycle_offset_hours));
        let expanded = template::expand_cycle_fields(&self.file_template, time, init)?;
        let mut name = String::new();
        write!(name, "{}", time.format(&expanded)).map_err(|_| {
            ForcingError::Spec(format!(
                "invalid strftime file template \"{}\"",
                self.file_template
            ))
        })?;
        Ok(self.directory.join(name))
    }

    /// Check the spec itself (template, interval, units known for each role).
    pub fn validate(&self) -> Result<(), ForcingError> {
        if self.interval_seconds <= 0 || 86_400 % self.interval_seconds != 0 {
            return Err(ForcingError::Spec(format!(
                "interval_seconds = {} must be positive and divide a day",
                self.interval_seconds
            )));
        }
        if !(self.forcing_height.is_finite() && self.forcing_height > 0.0) {
            return Err(ForcingError::Spec(format!(
                "forcing_height = {} must be positive",
                self.forcing_height
            )));
        }
        let t0: NaiveDateTime = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap().into();
        self.file_path_in_cycle(t0, Some(t0))?;
        for role in ForcingRole::ALL {
            let v = self.variables.get(role);
            if v.name.is_empty() {
                return Err(ForcingError::Spec(format!("no variable name for {role}")));
            }
            if conversion_to_si(role, &v.units).is_none() {
                return Err(ForcingError::Spec(format!(
                    "units \"{}\" given for {} ({role}) are not recognised; expected {}",
                    v.units,
                    v.name,
                    role.si_units()
                )));
            }
        }
        Ok(())
    }
}

/// Errors of the data atmosphere.
#[derive(Debug, Error)]
pub enum ForcingError {
    #[error("forcing spec: {0}")]
    Spec(String),
    #[error("forcing file {} for valid time {time} not found", path.display())]
    MissingFile { path: PathBuf, time: NaiveDateTime },
    #[error("forcing file {}: {source}", path.display())]
    Netcdf {
        path: PathBuf,
        #[source]
        source: netcdf::Error,
    },
    #[error("forcing file {}: variable {variable} not found", path.display())]
    MissingVariable { path: PathBuf, variable: String },
    #[error(
        "forcing file {}: variable {variable} has units \"{units}\", not recognised for {role} \
         (expected \"{expected}\" or a convertible spelling)", path.display()
    )]
    Units {
        path: PathBuf,
        variable: String,
        role: ForcingRole,
        units: String,
        expected: String,
    },
    #[error(
        "forcing file {}: variable {variable} at {time} has no valid value (fill or NaN) \
         for the land point lat {lat:.4}, lon {lon:.4}", path.display()
    )]
    MissingValue {
        path: PathBuf,
        variable: String,
        time: NaiveDateTime,
        lat: f64,
        lon: f64,
    },
    #[error(
        "forcing file {}: variable {variable} at {time}: physically impossible {role} {value} {units} \
         at lat {lat:.4}, lon {lon:.4} (valid {min}..{max})", path.display()
    )]
    Impossible {
        path: PathBuf,
        variable: String,
        role: ForcingRole,
        time: NaiveDateTime,
        lat: f64,
        lon: f64,
        value: f64,
        units: &'static str,
        min: f64,
        max: f64,
    },
    #[error("forcing file {}: {message}", path.display())]
    Format { path: PathBuf, message: String },
    #[error("forcing file {}: {source}", path.display())]
    Remap {
        path: PathBuf,
        #[source]
        source: RemapError,
    },
    #[error(
        "forcing file {}: latitude/longitude grid differs from the first forcing file {}",
        path.display(), first.display()
    )]
    GridChanged { path: PathBuf, first: PathBuf },
    #[error("invalid model step {start} .. {end}")]
    BadStep {
        start: NaiveDateTime,
        end: NaiveDateTime,
    },
}

/// All forcing values of one file time at the reader's targets (SI units).
#[derive(Debug, Clone, PartialEq)]
pub struct ForcingRecord {
    pub time: NaiveDateTime,
    pub path: PathBuf,
    values: [Vec<f64>; 7],
}

impl ForcingRecord {
    /// A record valid at `time` read from `origin` (a file, or a description of the
    /// source), with the values of every role at every target in SI units, indexed by
    /// [`ForcingRole::index`].
    pub fn new(time: NaiveDateTime, origin: PathBuf, values: [Vec<f64>; 7]) -> Self {
        Self {
            time,
            path: origin,
            values,
        }
    }

    /// Values of `role` at every target.
    pub fn values(&self, role: ForcingRole) -> &[f64] {
        &self.values[role.index()]
    }
}

/// What every source checks of one role's value at a target (lat, lon): a value (no fill)
/// that is physically possible; small negatives of non-negative roles are clipped to zero.
pub fn check_value(
    role: ForcingRole,
    v: f64,
    (lat, lon): (f64, f64),
    (path, variable, time): (&std::path::Path, &str, NaiveDateTime),
) -> Result<f64, ForcingError> {
    if !v.is_finite() {
        return Err(ForcingError::MissingValue {
            path: path.to_path_buf(),
            variable: variable.to_string(),
            time,
            lat,
            lon,
        });
    }
    let (lo, hi) = role.valid_range();
    if v < lo || v > hi {
        return Err(ForcingError::Impossible {
            path: path.to_path_buf(),
            variable: variable.to_string(),
            role,
            time,
            lat,
            lon,
            value: v,
            units: role.si_units(),
            min: lo,
            max: hi,
        });
    }
    Ok(role.clip_floor().map_or(v, |f| v.max(f)))
}

/// [`check_value`] of one role's values at every target, in place.
pub fn check_role_values(
    role: ForcingRole,
    values: &mut [f64],
    targets: &[(f64, f64)],
    at: (&std::path::Path, &str, NaiveDateTime),
) -> Result<(), ForcingError> {
    for (v, &target) in values.iter_mut().zip(targets) {
        *v = check_value(role, *v, target, at)?;
    }
    Ok(())
}

/// Solar geometry of one forcing period at every target: what the zenith weighting of the
/// steps inside the period shares (computed once per period, not once per step).
struct ZenithPeriod {
    p0: NaiveDateTime,
    p1: NaiveDateTime,
    reference_time: NaiveDateTime,
    reference: solar::ZenithReference,
    curves: Vec<solar::DaylitCurve>,
    /// Mean cos(zenith) over the whole period per target.
    period_means: Vec<f64>,
}

/// Reads forcing for one rank's cells.
pub struct ForcingReader {
    /// Timing and sampling of the records (the file names only for [`FileRecords`]).
    spec: Arc<ForcingSpec>,
    targets: Arc<Vec<(f64, f64)>>,
    src: Box<dyn RecordSource>,
    /// (sin, cos) of each target's latitude.
    sin_cos_lat: Vec<(f64, f64)>,
    /// Small cache of recent records, oldest first.
    cache: Vec<Arc<ForcingRecord>>,
    zenith: Option<ZenithPeriod>,
    /// Per-target zenith factors of the current step (reused buffer).
    factors: Vec<f64>,
    /// A record being read ahead on a helper thread ([`ForcingReader::prefetch_step`]).
    pending: Option<Prefetch>,
}

/// A record read ahead: its file time and the thread reading it.
struct Prefetch {
    time: NaiveDateTime,
    handle: std::thread::JoinHandle<Result<ForcingRecord, ForcingError>>,
}

impl Drop for ForcingReader {
    fn drop(&mut self) {
        // Never leave a thread inside the netCDF library behind.
        if let Some(p) = self.pending.take() {
            let _ = p.handle.join();
        }
    }
}

const CACHE_RECORDS: usize = 3;

impl ForcingReader {
    /// A reader of the data files of `spec` for the target points (lat, lon in degrees) of
    /// one rank.
    pub fn new(spec: ForcingSpec, target_points: &[(f64, f64)]) -> Result<Self, ForcingError> {
        spec.validate()?;
        let spec = Arc::new(spec);
        let targets = Arc::new(target_points.to_vec());
        let src = FileRecords::new(Arc::clone(&spec), Arc::clone(&targets));
        Self::with_source(spec, targets, Box::new(src))
    }

    /// A reader of the records of `src`, which are valid every `spec.interval_seconds` from
    /// 00 UTC at `targets` and sampled as `spec.variables` say; the rest of `spec` (file
    /// names, coordinate names, remapping) is the source's business.
    pub fn with_source(
        spec: Arc<ForcingSpec>,
        targets: Arc<Vec<(f64, f64)>>,
        src: Box<dyn RecordSource>,
    ) -> Result<Self, ForcingError> {
        spec.validate()?;
        Ok(Self {
            sin_cos_lat: targets
                .iter()
                .map(|&(lat, _)| {
                    let phi = lat.to_radians();
                    (phi.sin(), phi.cos())
                })
                .collect(),
            spec,
            targets,
            src,
            cache: Vec::new(),
            zenith: None,
            factors: Vec::new(),
            pending: None,
        })
    }

    /// Zenith factors of sub-interval [o1, o2] of period [p0, p1] for every target, into
    /// `self.factors`: the same values as [`zenith_factor`] per target, with the geometry of
    /// the period computed once per period.
    fn zenith_factors(
        &mut self,
        p0: NaiveDateTime,
        p1: NaiveDateTime,
        o1: NaiveDateTime,
        o2: NaiveDateTime,
        reference: NaiveDateTime,
    ) {
        let fresh = match &self.zenith {
            Some(z) => z.p0 != p0 || z.p1 != p1 || z.reference_time != reference,
            None => true,
        };
        if fresh {
            let r = solar::ZenithReference::new(reference);
            let (s0, s1) = (r.seconds(p0), r.seconds(p1));
            let mut curves = Vec::with_capacity(self.targets.len());
            let mut period_means = Vec::with_capacity(self.targets.len());
            for (&(_, lon), &(sin_lat, cos_lat)) in self.targets.iter().zip(&self.sin_cos_lat) {
                let c = r.curve(sin_lat, cos_lat);
                period_means.push(c.mean(r.hour_angle(s0, lon), r.hour_angle(s1, lon)));
                curves.push(c);
            }
            self.zenith = Some(ZenithPeriod {
                p0,
                p1,
                reference_time: reference,
                reference: r,
                curves,
                period_means,
            });
        }
        let z = self.zenith.as_ref().expect("set above");
        let r = &z.reference;
        let (s1, s2) = (r.seconds(o1), r.seconds(o2));
        self.factors.clear();
        for ((&(_, lon), c), &period) in self.targets.iter().zip(&z.curves).zip(&z.period_means) {
            self.factors.push(zenith_ratio(
                || c.mean(r.hour_angle(s1, lon), r.hour_angle(s2, lon)),
                period,
            ));
        }
    }

    pub fn spec(&self) -> &ForcingSpec {
        &self.spec
    }
    pub fn targets(&self) -> &[(f64, f64)] {
        &self.targets
    }

    /// The source hyperslab this reader reads (data files only; known after the first
    /// file).
    pub fn hyperslab(&self) -> Option<Hyperslab> {
        self.src.hyperslab()
    }

    fn interval(&self) -> Duration {
        Duration::seconds(self.spec.interval_seconds)
    }

    /// File time at or before `t` (files are aligned to 00 UTC).
    pub fn file_time_at_or_before(&self, t: NaiveDateTime) -> NaiveDateTime {
        let ts = t.and_utc().timestamp();
        let k = ts.div_euclid(self.spec.interval_seconds);
        chrono::DateTime::from_timestamp(k * self.spec.interval_seconds, 0)
            .expect("timestamp in range")
            .naive_utc()
    }

    /// The land cycle ending at `end` starts: tell the source, and forget the records of
    /// the previous cycle when the source's records depend on the cycle.
    pub fn begin_window(&mut self, end: NaiveDateTime) -> Result<(), ForcingError> {
        if self.src.begin_window(end)? {
            if let Some(p) = self.pending.take() {
                let _ = p.handle.join();
            }
            self.cache.clear();
        }
        Ok(())
    }

    /// The record valid at file time `time`, from the cache or read from its file.
    pub fn record(&mut self, time: NaiveDateTime) -> Result<Arc<ForcingRecord>, ForcingError> {
        if let Some(r) = self.cache.iter().find(|r| r.time == time) {
            return Ok(Arc::clone(r));
        }
        let read = match self.pending.take() {
            Some(p) if p.time == time => match p.handle.join() {
                Ok(r) => r,
                // The helper thread died: read here (same result or the same error).
                Err(_) => self.src.read_record(time),
            },
            other => {
                self.pending = other;
                self.src.read_record(time)
            }
        };
        let rec = Arc::new(read?);
        if self.cache.len() >= CACHE_RECORDS {
            self.cache.remove(0);
        }
        self.cache.push(Arc::clone(&rec));
        Ok(rec)
    }

    /// Roles of the forcing variables sampled as `sampling`.
    fn roles_sampled(&self, sampling: TimeSampling) -> Vec<ForcingRole> {
        ForcingRole::ALL
            .into_iter()
            .filter(|r| self.spec.variables.get(*r).sampling == sampling)
            .collect()
    }

    /// Instantaneous fields of a step are linear in time at its midpoint: the file time at or
    /// before the midpoint and the weight of the next file.
    fn instant_bracket(
        &self,
        step_start: NaiveDateTime,
        step_end: NaiveDateTime,
    ) -> (NaiveDateTime, f64) {
        let mid = step_start + (step_end - step_start) / 2;
        let ta = self.file_time_at_or_before(mid);
        let wb = (mid - ta).num_milliseconds() as f64 / 1000.0 / self.spec.interval_seconds as f64;
        (ta, wb)
    }

    /// Forcing periods [p0, p1) that overlap the step, with the overlap [o1, o2] (o2 > o1).
    fn overlapping_periods(
        &self,
        step_start: NaiveDateTime,
        step_end: NaiveDateTime,
    ) -> Vec<(NaiveDateTime, NaiveDateTime, NaiveDateTime, NaiveDateTime)> {
        let interval = self.interval();
        let mut out = Vec::new();
        let mut p0 = self.file_time_at_or_before(step_start);
        while p0 < step_end {
            let p1 = p0 + interval;
            let (o1, o2) = (step_start.max(p0), step_end.min(p1));
            if o2 > o1 {
                out.push((p0, p1, o1, o2));
            }
            p0 = p1;
        }
        out
    }

    /// Time of the file holding the mean over period [p0, p1).
    fn period_file_time(&self, p0: NaiveDateTime, p1: NaiveDateTime) -> NaiveDateTime {
        match self.spec.period_alignment {
            PeriodAlignment::Ending => p1,
            PeriodAlignment::Starting => p0,
        }
    }

    /// File times of the records [`ForcingReader::forcing_for_step`] reads for a step, in the
    /// order it reads them.
    fn file_times_for_step(
        &self,
        step_start: NaiveDateTime,
        step_end: NaiveDateTime,
    ) -> Vec<NaiveDateTime> {
        let mut times = Vec::new();
        if step_end <= step_start {
            return times;
        }
        if !self.roles_sampled(TimeSampling::Instantaneous).is_empty() {
            let (ta, wb) = self.instant_bracket(step_start, step_end);
            times.push(ta);
            if wb > 0.0 {
                times.push(ta + self.interval());
            }
        }
        if !self.roles_sampled(TimeSampling::PeriodMean).is_empty() {
            for (p0, p1, _, _) in self.overlapping_periods(step_start, step_end) {
                times.push(self.period_file_time(p0, p1));
            }
        }
        times
    }

    /// Start reading, on a helper thread, the first record that the step
    /// [step_start, step_end) will need and that is not cached yet, so that the file is read
    /// while the caller computes. At most one record is read ahead; the values are exactly
    /// those of a direct read, and a failed read ahead reports its error only when
    /// [`ForcingReader::forcing_for_step`] asks for that record. Does nothing for a reader
    /// without targets or when the source cannot read ahead yet ([`RecordSource::fork`]).
    pub fn prefetch_step(&mut self, step_start: NaiveDateTime, step_end: NaiveDateTime) {
        if self.targets.is_empty() {
            return;
        }
        let needed = self.file_times_for_step(step_start, step_end);
        if let Some(p) = &self.pending {
            if needed.contains(&p.time) {
                return; // already under way
            }
        }
        if let Some(p) = self.pending.take() {
            let _ = p.handle.join(); // a read ahead nobody asked for
        }
        let Some(&time) = needed
            .iter()
            .find(|t| !self.cache.iter().any(|r| r.time == **t))
        else {
            return;
        };
        let Some(mut src) = self.src.fork() else {
            return;
        };
        if let Ok(handle) = std::thread::Builder::new()
            .name("landcycle-forcing".into())
            .spawn(move || src.read_record(time))
        {
            self.pending = Some(Prefetch { time, handle });
        }
    }

    /// Forcing for every target over the model step [step_start, step_end).
    pub fn forcing_for_step(
        &mut self,
        step_start: NaiveDateTime,
        step_end: NaiveDateTime,
    ) -> Result<Vec<Forcing>, ForcingError> {
        if step_end <= step_start {
            return Err(ForcingError::BadStep {
                start: step_start,
                end: step_end,
            });
        }
        let n = self.targets.len();
        if n == 0 {
            // A rank without land cells touches no file.
            return Ok(Vec::new());
        }
        let dt = (step_end - step_start).num_milliseconds() as f64 / 1000.0;
        let interval = self.interval();
        let mut out = vec![[0.0f64; 7]; n];

        // Instantaneous fields: linear in time at the step midpoint.
        let (ta, wb) = self.instant_bracket(step_start, step_end);
        let inst_roles = self.roles_sampled(TimeSampling::Instantaneous);
        if !inst_roles.is_empty() {
            let ra = self.record(ta)?;
            let rb = if wb > 0.0 {
                Some(self.record(ta + interval)?)
            } else {
                None
            };
            for role in &inst_roles {
                let a = ra.values(*role);
                for (k, o) in out.iter_mut().enumerate() {
                    o[role.index()] = match &rb {
                        Some(rb) => (1.0 - wb) * a[k] + wb * rb.values(*role)[k],
                        None => a[k],
                    };
                }
            }
        }

        // Period-mean fields: time-weighted over the periods the step overlaps.
        let period_roles = self.roles_sampled(TimeSampling::PeriodMean);
        if !period_roles.is_empty() {
            for (p0, p1, o1, o2) in self.overlapping_periods(step_start, step_end) {
                let frac = (o2 - o1).num_milliseconds() as f64 / 1000.0 / dt;
                if frac <= 0.0 {
                    continue;
                }
                let rec = self.record(self.period_file_time(p0, p1))?;
                let reference = p0 + interval / 2;
                let zenith = self.spec.sw_zenith_weighting
                    && period_roles.contains(&ForcingRole::ShortwaveDown);
                if zenith {
                    self.zenith_factors(p0, p1, o1, o2, reference);
                }
                for role in &period_roles {
                    let vals = rec.values(*role);
                    let i = role.index();
                    if zenith && *role == ForcingRole::ShortwaveDown {
                        for ((o, &v), &factor) in out.iter_mut().zip(vals).zip(&self.factors) {
                            o[i] += frac * factor * v;
                        }
                    } else {
                        for (o, &v) in out.iter_mut().zip(vals) {
                            o[i] += frac * v;
                        }
                    }
                }
            }
        }

        let h = self.spec.forcing_height;
        Ok(out
            .into_iter()
            .map(|v| {
                let tair = v[ForcingRole::AirTemperature.index()];
                Forcing {
                    air_temperature: tair,
                    specific_humidity: v[ForcingRole::SpecificHumidity.index()],
                    surface_pressure: v[ForcingRole::SurfacePressure.index()],
                    wind_speed: v[ForcingRole::WindSpeed.index()],
                    precipitation: v[ForcingRole::Precipitation.index()],
                    frozen_precip_fraction: frozen_precip_fraction(tair),
                    shortwave_down: v[ForcingRole::ShortwaveDown.index()],
                    longwave_down: v[ForcingRole::LongwaveDown.index()],
                    forcing_height: h,
                }
            })
            .collect())
    }
}

/// Fraction of precipitation falling as snow: all of it below freezing, as the Noah offline
/// drivers do (the physics then treats it as snowfall).
pub fn frozen_precip_fraction(air_temperature: f64) -> f64 {
    if air_temperature < FREEZING_POINT {
        1.0
    } else {
        0.0
    }
}

/// Ratio of the mean cos(zenith) over the sub-interval [o1, o2] to its mean over the whole
/// period [p0, p1]; 1 when the period mean is ~0 (night or grazing sun: plain mean).
/// Summed over sub-intervals tiling the period with their lengths as weights it gives
/// exactly the period length, so the period total of shortwave is conserved.
pub fn zenith_factor(
    p0: NaiveDateTime,
    p1: NaiveDateTime,
    o1: NaiveDateTime,
    o2: NaiveDateTime,
    lat: f64,
    lon: f64,
    reference: NaiveDateTime,
) -> f64 {
    let period = solar::mean_cos_zenith(p0, p1, lat, lon, reference);
    zenith_ratio(
        || solar::mean_cos_zenith(o1, o2, lat, lon, reference),
        period,
    )
}

/// Sub-interval mean over period mean of cos(zenith); 1 when the period mean is ~0.
#[inline]
fn zenith_ratio(sub_mean: impl FnOnce() -> f64, period_mean: f64) -> f64 {
    if period_mean < MIN_PERIOD_COS_ZENITH {
        1.0
    } else {
        sub_mean() / period_mean
    }
}

/// Parse CF time units "<unit> since <date>[ <time>]" into (seconds per unit, epoch).
pub fn parse_cf_time_units(units: &str) -> Option<(f64, NaiveDateTime)> {
    let u = units.trim();
    let (unit, rest) = u.split_once(" since ")?;
    let secs = match unit.trim().to_ascii_lowercase().as_str() {
        "seconds" | "second" | "secs" | "sec" | "s" => 1.0,
        "minutes" | "minute" | "mins" | "min" => 60.0,
        "hours" | "hour" | "hrs" | "hr" | "h" => 3600.0,
        "days" | "day" | "d" => 86_400.0,
        _ => return None,
    };
    let r = rest
        .trim()
        .trim_end_matches(" UTC")
        .trim_end_matches('Z')
        .replace('T', " ");
    let r = r.trim();
    let fmts = [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ];
    for f in fmts {
        if let Ok(t) = NaiveDateTime::parse_from_str(r, f) {
            return Some((secs, t));
        }
    }
    // Date only, or a date with a bare hour ("2000-01-01 0").
    let date_part = r.split_whitespace().next()?;
    let d = NaiveDate::parse_from_str(date_part, "%Y-%m-%d").ok()?;
    let mut t: NaiveDateTime = d.into();
    if let Some(hh) = r.split_whitespace().nth(1) {
        t += Duration::hours(hh.parse::<i64>().ok()?);
    }
    Some((secs, t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cf_units() {
        let (s, t) = parse_cf_time_units(" minutes since 2000-01-01 03:00:00").unwrap();
        assert_eq!(s, 60.0);
        assert_eq!(t.to_string(), "2000-01-01 03:00:00");
        let (s, t) = parse_cf_time_units("hours since 1990-01-01").unwrap();
        assert_eq!(s, 3600.0);
        assert_eq!(t.to_string(), "1990-01-01 00:00:00");
        assert!(parse_cf_time_units("fortnights since 2000-01-01").is_none());
    }
}
