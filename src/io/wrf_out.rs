//! WRF history files (`wrfout_d0N_<YYYY-MM-DD_HH:MM:SS>`) as landcycle reads them for forcing:
//! the file of a valid time, its record index (from `Times(Time, DateStrLen)`, else `XTIME`),
//! the surface fields on a rectangle of the mass grid, and the precipitation accumulated since
//! the start of the run (RAINC + RAINNC (+ RAINSH), with the bucket counters I_RAINC and
//! I_RAINNC times `bucket_mm`). Units and conversions are in docs/coupling.md ("WRF").
//!
//! Every error names the file, and the variable where one is involved.

use crate::forcing::parse_cf_time_units;
use chrono::{Duration, NaiveDateTime};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// WRF's date format in file names, `Times` and `START_DATE`.
pub const WRF_TIME_FORMAT: &str = "%Y-%m-%d_%H:%M:%S";

/// Errors reading or writing WRF files.
#[derive(Debug, Error)]
pub enum WrfError {
    #[error("WRF file {} for valid time {time} not found", path.display())]
    MissingFile { path: PathBuf, time: NaiveDateTime },
    #[error("WRF file {}: variable {variable}: {message}", path.display())]
    Variable {
        path: PathBuf,
        variable: String,
        message: String,
    },
    #[error("WRF file {}: {message}", path.display())]
    File { path: PathBuf, message: String },
    #[error("WRF file {}: {context}: {source}", path.display())]
    Netcdf {
        path: PathBuf,
        context: String,
        #[source]
        source: netcdf::Error,
    },
    #[error(transparent)]
    Io(#[from] super::IoError),
}

impl WrfError {
    pub(crate) fn var(path: &Path, variable: &str, message: impl Into<String>) -> Self {
        WrfError::Variable {
            path: path.to_path_buf(),
            variable: variable.to_string(),
            message: message.into(),
        }
    }
    pub(crate) fn file(path: &Path, message: impl Into<String>) -> Self {
        WrfError::File {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
    pub(crate) fn nc(
        path: &Path,
        context: impl Into<String>,
    ) -> impl FnOnce(netcdf::Error) -> Self {
        let (path, context) = (path.to_path_buf(), context.into());
        move |source| WrfError::Netcdf {
            path,
            context,
            source,
        }
    }
}

/// Where the `wrfout` files are: `directory` joined with `template` formatted (strftime) at
/// the valid time, e.g. `wrfout_d01_%Y-%m-%d_%H:%M:%S`.
#[derive(Debug, Clone, PartialEq)]
pub struct WrfOutFiles {
    pub directory: PathBuf,
    pub template: String,
}

impl WrfOutFiles {
    /// WRF's default name of domain `domain` (1 → `wrfout_d01_…`).
    pub fn wrf_default(directory: impl Into<PathBuf>, domain: u32) -> Self {
        Self {
            directory: directory.into(),
            template: format!("wrfout_d{domain:02}_%Y-%m-%d_%H:%M:%S"),
        }
    }

    /// Path of the file of valid time `time`.
    pub fn path(&self, time: NaiveDateTime) -> Result<PathBuf, WrfError> {
        let mut name = String::new();
        write!(name, "{}", time.format(&self.template)).map_err(|_| {
            WrfError::file(
                &self.directory,
                format!("invalid strftime template \"{}\"", self.template),
            )
        })?;
        Ok(self.directory.join(name))
    }
}

/// A rectangle of the mass grid: rows `j0..j0+ny` (south_north), columns `i0..i0+nx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Patch {
    pub j0: usize,
    pub i0: usize,
    pub ny: usize,
    pub nx: usize,
}

impl Patch {
    pub fn len(&self) -> usize {
        self.ny * self.nx
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Index of grid cell (j, i) inside the patch.
    pub fn index(&self, j: usize, i: usize) -> usize {
        (j - self.j0) * self.nx + (i - self.i0)
    }
}

/// The instantaneous surface fields of one output time on a patch, as stored (f32, WRF units).
#[derive(Debug, Clone, PartialEq)]
pub struct WrfSurface {
    /// 2-m temperature (K).
    pub t2: Vec<f32>,
    /// 2-m water vapour **mixing ratio** (kg kg-1).
    pub q2: Vec<f32>,
    /// Surface pressure (Pa).
    pub psfc: Vec<f32>,
    /// 10-m wind components, grid-relative (m s-1).
    pub u10: Vec<f32>,
    pub v10: Vec<f32>,
    /// Downward shortwave and longwave at the surface, instantaneous (W m-2).
    pub swdown: Vec<f32>,
    pub glw: Vec<f32>,
}

/// Precipitation accumulated since the start of the run at one output time (mm = kg m-2).
#[derive(Debug, Clone, PartialEq)]
pub struct WrfAccumulation {
    /// I_RAINC·bucket + RAINC + I_RAINNC·bucket + RAINNC (+ RAINSH), summed in that order in f64.
    pub total_mm: Vec<f64>,
    /// The variables that were present and summed, e.g. ["RAINC", "RAINNC"].
    pub parts: Vec<&'static str>,
    /// The bucket size used (mm), when the file has bucket counters.
    pub bucket_mm: Option<f64>,
}

/// One open `wrfout` file: its grid size, output times and run start.
pub struct WrfOutFile {
    path: PathBuf,
    file: netcdf::File,
    ny: usize,
    nx: usize,
    times: Vec<NaiveDateTime>,
    run_start: Option<NaiveDateTime>,
}

/// Parse a WRF date "YYYY-MM-DD_HH:MM:SS".
pub fn parse_wrf_time(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s.trim_end_matches('\0').trim(), WRF_TIME_FORMAT).ok()
}

impl WrfOutFile {
    /// Open the file of valid time `time` (a missing file is an error naming file and time).
    pub fn open_at(files: &WrfOutFiles, time: NaiveDateTime) -> Result<Self, WrfError> {
        let path = files.path(time)?;
        if !path.is_file() {
            return Err(WrfError::MissingFile { path, time });
        }
        Self::open(&path)
    }

    pub fn open(path: &Path) -> Result<Self, WrfError> {
        hdf5::silence_errors(true);
        let file = netcdf::open(path).map_err(WrfError::nc(path, "opening"))?;
        let dim = |name: &str| {
            file.dimension_len(name)
                .ok_or_else(|| WrfError::file(path, format!("dimension {name} is missing")))
        };
        let (ny, nx) = (dim("south_north")?, dim("west_east")?);
        let times = read_times(&file, path)?;
        let run_start = run_start(&file, path)?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            ny,
            nx,
            times,
            run_start,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    /// (south_north, west_east).
    pub fn dims(&self) -> (usize, usize) {
        (self.ny, self.nx)
    }
    pub fn times(&self) -> &[NaiveDateTime] {
        &self.times
    }
    /// Start of the WRF run (SIMULATION_START_DATE, else the epoch of XTIME), when known.
    pub fn run_start(&self) -> Option<NaiveDateTime> {
        self.run_start
    }

    /// Record index of `time`.
    pub fn time_index(&self, time: NaiveDateTime) -> Result<usize, WrfError> {
        self.times.iter().position(|t| *t == time).ok_or_else(|| {
            let held: Vec<String> = self.times.iter().take(4).map(|t| t.to_string()).collect();
            WrfError::file(
                &self.path,
                format!("no record for {time} (Times holds {})", held.join(", ")),
            )
        })
    }

    fn variable(&self, name: &str) -> Result<netcdf::Variable<'_>, WrfError> {
        self.file
            .variable(name)
            .ok_or_else(|| WrfError::var(&self.path, name, "not in the file"))
    }

    /// `name(Time, south_north, west_east)` at record `ti` on `patch`, checked for its units.
    pub fn field_f32(
        &self,
        name: &str,
        units: &[&str],
        ti: usize,
        patch: Patch,
    ) -> Result<Vec<f32>, WrfError> {
        let v = self.variable(name)?;
        self.check_2d(&v, name, patch)?;
        if !units.is_empty() {
            let u = match v.attribute_value("units") {
                Some(Ok(netcdf::AttributeValue::Str(s))) => s,
                _ => return Err(WrfError::var(&self.path, name, "no text units attribute")),
            };
            if !units.contains(&u.trim()) {
                return Err(WrfError::var(
                    &self.path,
                    name,
                    format!("units \"{u}\", expected \"{}\"", units[0]),
                ));
            }
        }
        let ext = [
            ti..ti + 1,
            patch.j0..patch.j0 + patch.ny,
            patch.i0..patch.i0 + patch.nx,
        ];
        v.get_values::<f32, _>(ext)
            .map_err(WrfError::nc(&self.path, format!("reading {name}")))
    }

    /// An integer `name(Time, south_north, west_east)` (bucket counters), None when absent.
    fn counter(&self, name: &str, ti: usize, patch: Patch) -> Result<Option<Vec<i32>>, WrfError> {
        let Some(v) = self.file.variable(name) else {
            return Ok(None);
        };
        self.check_2d(&v, name, patch)?;
        let ext = [
            ti..ti + 1,
            patch.j0..patch.j0 + patch.ny,
            patch.i0..patch.i0 + patch.nx,
        ];
        v.get_values::<i32, _>(ext)
            .map(Some)
            .map_err(WrfError::nc(&self.path, format!("reading {name}")))
    }

    fn check_2d(&self, v: &netcdf::Variable<'_>, name: &str, patch: Patch) -> Result<(), WrfError> {
        let dims: Vec<String> = v.dimensions().iter().map(|d| d.name()).collect();
        if dims != ["Time", "south_north", "west_east"] {
            return Err(WrfError::var(
                &self.path,
                name,
                format!(
                    "dimensions ({}), expected (Time, south_north, west_east)",
                    dims.join(", ")
                ),
            ));
        }
        if patch.j0 + patch.ny > self.ny || patch.i0 + patch.nx > self.nx {
            return Err(WrfError::var(
                &self.path,
                name,
                format!(
                    "grid {}×{} (south_north × west_east) is smaller than the cells asked for",
                    self.ny, self.nx
                ),
            ));
        }
        Ok(())
    }

    /// XLAT and XLONG (degrees) of record `ti` on the whole grid.
    pub fn coordinates(&self, ti: usize) -> Result<(Vec<f32>, Vec<f32>), WrfError> {
        let all = Patch {
            j0: 0,
            i0: 0,
            ny: self.ny,
            nx: self.nx,
        };
        Ok((
            self.field_f32("XLAT", &[], ti, all)?,
            self.field_f32("XLONG", &[], ti, all)?,
        ))
    }

    /// The instantaneous surface fields of record `ti`.
    pub fn surface(&self, ti: usize, patch: Patch) -> Result<WrfSurface, WrfError> {
        let wind = ["m s-1", "m/s"];
        let flux = ["W m-2", "W/m2", "W m{-2}"];
        Ok(WrfSurface {
            t2: self.field_f32("T2", &["K"], ti, patch)?,
            q2: self.field_f32("Q2", &["kg kg-1", "kg/kg"], ti, patch)?,
            psfc: self.field_f32("PSFC", &["Pa"], ti, patch)?,
            u10: self.field_f32("U10", &wind, ti, patch)?,
            v10: self.field_f32("V10", &wind, ti, patch)?,
            swdown: self.field_f32("SWDOWN", &flux, ti, patch)?,
            glw: self.field_f32("GLW", &flux, ti, patch)?,
        })
    }

    /// Precipitation accumulated since the run start at record `ti`. RAINNC is required;
    /// RAINC and RAINSH are added when present. Bucket counters are multiplied by the bucket
    /// size: `bucket_mm` when given (it must agree with the file's BUCKET_MM), else BUCKET_MM.
    pub fn accumulation(
        &self,
        ti: usize,
        patch: Patch,
        bucket_mm: Option<f64>,
    ) -> Result<WrfAccumulation, WrfError> {
        let bucket = self.bucket_size(bucket_mm)?;
        let mut total = vec![0.0f64; patch.len()];
        let mut parts = Vec::new();
        let mut used_bucket = None;
        for (name, counter) in [("RAINC", "I_RAINC"), ("RAINNC", "I_RAINNC"), ("RAINSH", "")] {
            if name != "RAINNC" && self.file.variable(name).is_none() {
                continue;
            }
            let acc = self.field_f32(name, &["mm"], ti, patch)?;
            let counts = if counter.is_empty() {
                None
            } else {
                self.counter(counter, ti, patch)?
            };
            if let Some(c) = &counts {
                let b = self.bucket_for(counter, c, bucket)?;
                used_bucket = used_bucket.or(b);
                for ((t, &a), &n) in total.iter_mut().zip(&acc).zip(c) {
                    *t += n as f64 * b.unwrap_or(0.0) + a as f64;
                }
            } else {
                for (t, &a) in total.iter_mut().zip(&acc) {
                    *t += a as f64;
                }
            }
            parts.push(name);
        }
        Ok(WrfAccumulation {
            total_mm: total,
            parts,
            bucket_mm: used_bucket,
        })
    }

    /// The bucket size that applies to the counts `c` of `counter`: None when all are zero
    /// and no positive bucket is set; an error when counts are non-zero without a bucket.
    fn bucket_for(
        &self,
        counter: &str,
        c: &[i32],
        bucket: Option<f64>,
    ) -> Result<Option<f64>, WrfError> {
        if let Some(&n) = c.iter().find(|&&n| n < 0) {
            return Err(WrfError::var(
                &self.path,
                counter,
                format!("negative count {n}"),
            ));
        }
        match bucket {
            Some(b) => Ok(Some(b)),
            None if c.iter().all(|&n| n == 0) => Ok(None),
            None => Err(WrfError::var(
                &self.path,
                counter,
                "bucket counts are non-zero but no bucket size is known \
                 (no positive BUCKET_MM attribute and no bucket_mm setting)",
            )),
        }
    }

    /// Positive bucket size from the setting or the file's BUCKET_MM (≤ 0 means no buckets).
    fn bucket_size(&self, setting: Option<f64>) -> Result<Option<f64>, WrfError> {
        let attr = match self.file.attribute("BUCKET_MM").map(|a| a.value()) {
            None => None,
            Some(Ok(netcdf::AttributeValue::Float(x))) => Some(x as f64),
            Some(Ok(netcdf::AttributeValue::Double(x))) => Some(x),
            Some(Ok(other)) => {
                return Err(WrfError::file(
                    &self.path,
                    format!("global attribute BUCKET_MM is not a number: {other:?}"),
                ))
            }
            Some(Err(e)) => return Err(WrfError::nc(&self.path, "reading BUCKET_MM")(e)),
        };
        if let (Some(a), Some(s)) = (attr, setting) {
            if (a - s).abs() > 1e-6 * s.abs().max(1.0) {
                return Err(WrfError::file(
                    &self.path,
                    format!(
                        "global attribute BUCKET_MM = {a} differs from the setting bucket_mm = {s}"
                    ),
                ));
            }
        }
        Ok(setting.or(attr).filter(|b| *b > 0.0))
    }
}

/// Output times from `Times(Time, DateStrLen)`, else from `XTIME` (minutes since …).
fn read_times(file: &netcdf::File, path: &Path) -> Result<Vec<NaiveDateTime>, WrfError> {
    if let Some(v) = file.variable("Times") {
        let dims = v.dimensions();
        if dims.len() != 2 || dims[1].name() != "DateStrLen" {
            return Err(WrfError::var(
                path,
                "Times",
                "expected dimensions (Time, DateStrLen)",
            ));
        }
        let width = dims[1].len();
        let raw = v
            .get_raw_values(..)
            .map_err(WrfError::nc(path, "reading Times"))?;
        return raw
            .chunks(width.max(1))
            .map(|c| {
                let s = String::from_utf8_lossy(c);
                parse_wrf_time(&s)
                    .ok_or_else(|| WrfError::var(path, "Times", format!("cannot parse \"{s}\"")))
            })
            .collect();
    }
    let v = file
        .variable("XTIME")
        .ok_or_else(|| WrfError::file(path, "neither Times nor XTIME is present"))?;
    let (unit_s, epoch) = xtime_units(&v, path)?;
    let vals: Vec<f64> = v
        .get_values::<f64, _>(..)
        .map_err(WrfError::nc(path, "reading XTIME"))?;
    Ok(vals
        .iter()
        .map(|m| epoch + Duration::milliseconds((m * unit_s * 1000.0).round() as i64))
        .collect())
}

fn xtime_units(v: &netcdf::Variable<'_>, path: &Path) -> Result<(f64, NaiveDateTime), WrfError> {
    let units = match v.attribute_value("units") {
        Some(Ok(netcdf::AttributeValue::Str(s))) => s,
        _ => return Err(WrfError::var(path, "XTIME", "no text units attribute")),
    };
    parse_cf_time_units(&units)
        .ok_or_else(|| WrfError::var(path, "XTIME", format!("cannot parse units \"{units}\"")))
}

/// SIMULATION_START_DATE, else the epoch of XTIME ("minutes since <run start>").
fn run_start(file: &netcdf::File, path: &Path) -> Result<Option<NaiveDateTime>, WrfError> {
    if let Some(a) = file.attribute("SIMULATION_START_DATE") {
        return match a.value() {
            Ok(netcdf::AttributeValue::Str(s)) => parse_wrf_time(&s).map(Some).ok_or_else(|| {
                WrfError::file(path, format!("cannot parse SIMULATION_START_DATE \"{s}\""))
            }),
            _ => Err(WrfError::file(path, "SIMULATION_START_DATE is not text")),
        };
    }
    match file.variable("XTIME") {
        Some(v) => xtime_units(&v, path).map(|(_, epoch)| Some(epoch)),
        None => Ok(None),
    }
}
