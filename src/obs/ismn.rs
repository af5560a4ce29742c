//! International Soil Moisture Network (ISMN) station files, the two text layouts of the
//! ISMN data portal with "variables stored in separate files" (one file per station, variable,
//! depth and sensor; extension `.stm`). The file name carries
//! `CSE_Network_Station_Variable_DepthFrom_DepthTo_Sensor_StartDate_EndDate.stm` (depths in
//! metres, variable `sm` = volumetric soil moisture in m³ m⁻³).
//!
//! - **Header + values**: line 1 is `CSE Network Station Lat Lon Elevation DepthFrom DepthTo
//!   [Sensor name …]`; every further line `YYYY/MM/DD HH:MM value ismn_flag provider_flag`.
//! - **CEOP formatted**: no header; every line `YYYY/MM/DD HH:MM YYYY/MM/DD HH:MM CSE Network
//!   Station Lat Lon Elevation DepthFrom DepthTo value ismn_flag provider_flag` (15 columns;
//!   the first date/time is the nominal UTC time used here).
//!
//! Times are UTC. The ISMN quality flag is `G` (good), `M` (missing), `C01`–`C03` (outside
//! the plausible range) or `D01`–`D10` (dubious: checks against in-situ/model temperature and
//! precipitation, and spectrum-based spike/break/plateau detection), several joined by
//! commas. A value is kept when it is finite and every flag it carries is accepted
//! ([`FlagFilter`], default: `G` only). The data provider's own flag is kept as text only.
//! The ISMN's terms forbid onward distribution of its data: tests write their own files.

use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use thiserror::Error;

/// Errors reading ISMN files; each names the file and, for content, the line (1-based).
#[derive(Debug, Error)]
pub enum IsmnError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{path}:{line}: {message}")]
    Line {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Which file layout a station file has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsmnFormat {
    HeaderValues,
    Ceop,
}

/// One station series (one variable, depth range and sensor).
#[derive(Debug, Clone, PartialEq)]
pub struct IsmnSeries {
    pub path: PathBuf,
    pub format: IsmnFormat,
    pub network: String,
    pub station: String,
    /// Variable code from the file name (`sm`, `ts`, …).
    pub variable: String,
    pub sensor: String,
    pub lat: f64,
    pub lon: f64,
    pub elevation: f64,
    /// Sensor depth range below the surface, metres (equal for a point sensor).
    pub depth_from: f64,
    pub depth_to: f64,
    /// Accepted values in time order.
    pub times: Vec<NaiveDateTime>,
    pub values: Vec<f64>,
    /// Records read and records dropped by the flag filter or as missing.
    pub n_records: usize,
    pub n_rejected: usize,
}

/// The ISMN flags accepted (every flag of a value must be in the list).
#[derive(Debug, Clone, PartialEq)]
pub struct FlagFilter {
    pub accept: Vec<String>,
}

impl Default for FlagFilter {
    /// `G` (good) only, as the ISMN recommends for validation.
    fn default() -> Self {
        FlagFilter {
            accept: vec!["G".into()],
        }
    }
}

impl FlagFilter {
    /// A filter from a comma-separated list such as `G,D09`.
    pub fn parse(list: &str) -> FlagFilter {
        FlagFilter {
            accept: list
                .split(',')
                .map(|s| s.trim().to_ascii_uppercase())
                .filter(|s| !s.is_empty())
                .collect(),
        }
    }

    /// True when every flag of `field` (comma-separated) is accepted.
    pub fn accepts(&self, field: &str) -> bool {
        let mut flags = field.split(',').map(str::trim).filter(|f| !f.is_empty());
        let mut any = false;
        let ok = flags.all(|f| {
            any = true;
            self.accept.iter().any(|a| a.eq_ignore_ascii_case(f))
        });
        ok && any
    }
}

/// The parts of an ISMN file name: (variable, depth_from, depth_to, sensor).
fn name_parts(path: &Path) -> Result<(String, f64, f64, String), IsmnError> {
    let err = |m: &str| IsmnError::File {
        path: path.to_path_buf(),
        message: format!(
            "{m}; expected CSE_Network_Station_Variable_DepthFrom_DepthTo_Sensor_Start_End.stm"
        ),
    };
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or_else(|| err("file name is not text"))?;
    let parts: Vec<&str> = stem.split('_').collect();
    if parts.len() < 9 {
        return Err(err("too few '_'-separated parts in the file name"));
    }
    let depth = |s: &str| s.parse::<f64>().map_err(|_| err(&format!("depth '{s}'")));
    let sensor = parts[6..parts.len() - 2].join("_");
    Ok((
        parts[3].to_string(),
        depth(parts[4])?,
        depth(parts[5])?,
        sensor,
    ))
}

fn parse_time(date: &str, time: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(&format!("{date} {time}"), "%Y/%m/%d %H:%M").ok()
}

fn number(path: &Path, line: usize, what: &str, s: &str) -> Result<f64, IsmnError> {
    s.parse::<f64>().map_err(|_| IsmnError::Line {
        path: path.to_path_buf(),
        line,
        message: format!("{what} '{s}' is not a number"),
    })
}

/// Station metadata of the first line.
struct Meta {
    network: String,
    station: String,
    lat: f64,
    lon: f64,
    elevation: f64,
    depth: Option<(f64, f64)>,
    sensor: Option<String>,
}

fn header_meta(path: &Path, tok: &[&str]) -> Result<Meta, IsmnError> {
    if tok.len() < 8 {
        return Err(IsmnError::Line {
            path: path.to_path_buf(),
            line: 1,
            message: format!(
                "header has {} fields; expected CSE Network Station Lat Lon Elevation DepthFrom DepthTo [Sensor]",
                tok.len()
            ),
        });
    }
    let n = |k: usize, what: &str| number(path, 1, what, tok[k]);
    Ok(Meta {
        network: tok[1].to_string(),
        station: tok[2].to_string(),
        lat: n(3, "latitude")?,
        lon: n(4, "longitude")?,
        elevation: n(5, "elevation")?,
        depth: Some((n(6, "depth from")?, n(7, "depth to")?)),
        sensor: (tok.len() > 8).then(|| tok[8..].join(" ")),
    })
}

/// One record: (time, value, ISMN flag) from the columns of its layout.
fn record<'a>(
    path: &Path,
    line: usize,
    tok: &[&'a str],
    format: IsmnFormat,
) -> Result<(NaiveDateTime, f64, &'a str), IsmnError> {
    let (need, v) = match format {
        IsmnFormat::HeaderValues => (4, 2),
        IsmnFormat::Ceop => (14, 12),
    };
    let bad = |message: String| IsmnError::Line {
        path: path.to_path_buf(),
        line,
        message,
    };
    if tok.len() < need {
        return Err(bad(format!(
            "{} fields, expected at least {need} (date time{} value flag)",
            tok.len(),
            if format == IsmnFormat::Ceop {
                " date time CSE network station lat lon elevation depth_from depth_to"
            } else {
                ""
            }
        )));
    }
    let t = parse_time(tok[0], tok[1])
        .ok_or_else(|| bad(format!("'{} {}' is not YYYY/MM/DD HH:MM", tok[0], tok[1])))?;
    let value = if tok[v].eq_ignore_ascii_case("nan") {
        f64::NAN
    } else {
        number(path, line, "value", tok[v])?
    };
    Ok((t, value, tok[v + 1]))
}

/// Read one ISMN station file (either layout, recognised from its first line) keeping the
/// values `filter` accepts.
pub fn read_ismn_file(path: &Path, filter: &FlagFilter) -> Result<IsmnSeries, IsmnError> {
    let text = std::fs::read_to_string(path).map_err(|e| IsmnError::File {
        path: path.to_path_buf(),
        message: format!("cannot read: {e}"),
    })?;
    let (variable, dfrom, dto, fsensor) = name_parts(path)?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, first) = lines.next().ok_or_else(|| IsmnError::File {
        path: path.to_path_buf(),
        message: "empty file".into(),
    })?;
    let tok: Vec<&str> = first.split_whitespace().collect();
    let ceop = tok.len() >= 2 && parse_time(tok[0], tok[1]).is_some();
    let (format, meta) = if ceop {
        // The first record also carries the station metadata: check its columns first.
        record(path, 1, &tok, IsmnFormat::Ceop)?;
        let n = |k: usize, what: &str| number(path, 1, what, tok[k]);
        let meta = Meta {
            network: tok[5].to_string(),
            station: tok[6].to_string(),
            lat: n(7, "latitude")?,
            lon: n(8, "longitude")?,
            elevation: n(9, "elevation")?,
            depth: None,
            sensor: None,
        };
        (IsmnFormat::Ceop, meta)
    } else {
        (IsmnFormat::HeaderValues, header_meta(path, &tok)?)
    };
    let mut s = IsmnSeries {
        path: path.to_path_buf(),
        format,
        network: meta.network,
        station: meta.station,
        variable,
        sensor: meta.sensor.unwrap_or(fsensor),
        lat: meta.lat,
        lon: meta.lon,
        elevation: meta.elevation,
        depth_from: meta.depth.map_or(dfrom, |d| d.0),
        depth_to: meta.depth.map_or(dto, |d| d.1),
        times: Vec::new(),
        values: Vec::new(),
        n_records: 0,
        n_rejected: 0,
    };
    check_location(path, &s)?;
    let records = std::iter::once((0, first)).filter(|_| ceop).chain(lines);
    for (k, l) in records {
        let tok: Vec<&str> = l.split_whitespace().collect();
        let (t, v, flag) = record(path, k + 1, &tok, format)?;
        if let Some(prev) = s.times.last() {
            if t <= *prev {
                return Err(IsmnError::Line {
                    path: path.to_path_buf(),
                    line: k + 1,
                    message: format!("time {t} is not after the previous accepted time {prev}"),
                });
            }
        }
        s.n_records += 1;
        if v.is_finite() && filter.accepts(flag) {
            s.times.push(t);
            s.values.push(v);
        } else {
            s.n_rejected += 1;
        }
    }
    Ok(s)
}

fn check_location(path: &Path, s: &IsmnSeries) -> Result<(), IsmnError> {
    let ok = (-90.0..=90.0).contains(&s.lat)
        && (-180.0..=360.0).contains(&s.lon)
        && s.depth_from >= 0.0
        && s.depth_to >= s.depth_from;
    if ok {
        Ok(())
    } else {
        Err(IsmnError::Line {
            path: path.to_path_buf(),
            line: 1,
            message: format!(
                "implausible location or depths: lat {}, lon {}, depth {}..{} m",
                s.lat, s.lon, s.depth_from, s.depth_to
            ),
        })
    }
}

/// Every `.stm` file under `dir` (recursively, sorted).
pub fn find_ismn_files(dir: &Path) -> Result<Vec<PathBuf>, IsmnError> {
    let err = |p: &Path, e: std::io::Error| IsmnError::File {
        path: p.to_path_buf(),
        message: format!("cannot list: {e}"),
    };
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&d)
            .map_err(|e| err(&d, e))?
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("stm")) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// All soil-moisture (`sm`) series under `dir`; other variables are skipped.
pub fn read_soil_moisture_dir(
    dir: &Path,
    filter: &FlagFilter,
) -> Result<Vec<IsmnSeries>, IsmnError> {
    let mut out = Vec::new();
    for p in find_ismn_files(dir)? {
        if name_parts(&p)?.0 != "sm" {
            continue;
        }
        out.push(read_ismn_file(&p, filter)?);
    }
    if out.is_empty() {
        return Err(IsmnError::File {
            path: dir.to_path_buf(),
            message: "no ISMN soil-moisture files (*_sm_*.stm)".into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        let f = FlagFilter::default();
        assert!(f.accepts("G"));
        assert!(!f.accepts("D06"));
        assert!(!f.accepts("G,D06"));
        assert!(!f.accepts(""));
        let f = FlagFilter::parse("g, d09");
        assert!(f.accepts("D09,G"));
        assert!(!f.accepts("M"));
    }
}
