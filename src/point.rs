//! Noah offline point driver (the `point` room; the physics stays in `lsm::noah`): the Noah offline namelist (`&NOAH_POINT`), the half-hourly forcing
//! text format, the per-step driver algorithm of the Noah 3.4.1 offline driver (humidity
//! conversion, frozen precipitation, mid-month green fraction, first-step values), and the
//! CSV / CF-1.8 NetCDF (ALMA names) output. The driver's conversions run in single
//! precision as the reference driver's do; the physics runs in f64.

use crate::config::namelist::{self, NamelistError};
use crate::lsm::noah::atmosphere::{
    monthly_value_f32, saturation_humidity_f32, specific_humidity_from_rh_f32,
};
use crate::lsm::noah::column::{ColumnForcing, Diagnostics};
use crate::lsm::noah::params::{NoahParams, ParamSelection};
use crate::lsm::noah::state::NoahState;
use crate::lsm::noah::tables::{ParameterTables, TableError};
use crate::lsm::noah::{advance, check_finite_output, NSOIL};
use chrono::{Duration, NaiveDateTime};
use serde::Deserialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use thiserror::Error;

pub mod colm;
pub mod colm_forcing;
pub mod colm_run;
pub mod series;

use series::{write_series, PointSeries, SeriesVar};

/// The `&NOAH_POINT` namelist group (keys as in the Noah offline point namelist, plus the
/// optional `parameter_tables` directory of WRF-format tables).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointConfig {
    pub forcing_file: String,
    pub output_file: String,
    #[serde(default)]
    pub forcing_used_file: Option<String>,
    pub startdate: String,
    pub enddate: String,
    pub forcing_timestep: i64,
    pub noahlsm_timestep: i64,
    pub soil_layer_thickness: Vec<f64>,
    pub soil_temperature: Vec<f64>,
    pub soil_moisture: Vec<f64>,
    pub soil_liquid: Vec<f64>,
    pub skin_temperature: f64,
    pub canopy_water: f64,
    pub snow_depth: f64,
    pub snow_equivalent: f64,
    pub deep_soil_temperature: f64,
    pub landuse_dataset: String,
    pub soil_dataset: String,
    pub soil_type_index: i32,
    pub vegetation_type_index: i32,
    pub urban_veg_category: i32,
    pub slope_type_index: i32,
    pub max_snow_albedo: f64,
    pub air_temperature_level: f64,
    pub wind_level: f64,
    pub green_vegetation_min: f64,
    pub green_vegetation_max: f64,
    pub usemonalb_nml: bool,
    pub rdlai2d_nml: bool,
    pub albedo_monthly: Vec<f64>,
    pub shdfac_monthly: Vec<f64>,
    pub lai_monthly: Vec<f64>,
    pub z0brd_monthly: Vec<f64>,
    #[serde(default)]
    pub bench_repeats: i64,
    #[serde(default)]
    pub parameter_tables: Option<String>,
}

/// Errors of the point driver; each names the file, line, step, time or variable.
#[derive(Debug, Error)]
pub enum PointError {
    #[error(transparent)]
    Namelist(#[from] NamelistError),
    #[error("parameter tables: {0}")]
    Tables(#[from] TableError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("namelist {key}: {msg}")]
    Config { key: String, msg: String },
    #[error("{file}:{line}: {msg}")]
    ForcingFormat {
        file: String,
        line: usize,
        msg: String,
    },
    #[error("step {step} ({time}): forcing variable {variable}: {msg}")]
    Forcing {
        step: usize,
        time: String,
        variable: String,
        msg: String,
    },
    #[error("step {step} ({time}): {msg}")]
    Step {
        step: usize,
        time: String,
        msg: String,
    },
    #[error("{0}")]
    Lsm(#[from] crate::lsm::LsmError),
    #[error("NetCDF output {path}: {msg}")]
    NetCdf { path: PathBuf, msg: String },
    #[error(transparent)]
    Output(#[from] crate::io::IoError),
}

/// One forcing record as read (single precision, as the reference driver reads it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForcingRecord {
    pub time: NaiveDateTime,
    /// Line number in the file (1-based).
    pub line: usize,
    pub wind_speed: f32,
    pub wind_dir: f32,
    pub air_temperature: f32,
    /// Relative humidity (%).
    pub relative_humidity: f32,
    /// Pressure (hPa).
    pub pressure_hpa: f32,
    pub shortwave: f32,
    pub longwave: f32,
    /// Precipitation (kg m-2 s-1).
    pub precipitation: f32,
}

/// Reads a forcing text file: `#` comments, `<...>` markers, then records
/// `year month day hour minute wspd wdir T RH P SW LW PRCP`.
pub fn read_forcing(path: &Path) -> Result<Vec<ForcingRecord>, PointError> {
    let text = std::fs::read_to_string(path).map_err(|source| PointError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_forcing(&text, &path.display().to_string())
}

/// Parses forcing text (see [`read_forcing`]); `file` names the source in errors.
pub fn parse_forcing(text: &str, file: &str) -> Result<Vec<ForcingRecord>, PointError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let s = raw.trim();
        if s.is_empty() || s.starts_with('#') || s.starts_with('<') {
            continue;
        }
        let err = |msg: String| PointError::ForcingFormat {
            file: file.to_string(),
            line,
            msg,
        };
        let tok: Vec<&str> = s.split_whitespace().collect();
        if tok.len() != 13 {
            return Err(err(format!(
                "expected 13 fields (year month day hour minute + 8 values), found {}",
                tok.len()
            )));
        }
        let mut ints = [0i64; 5];
        for k in 0..5 {
            ints[k] = tok[k]
                .parse()
                .map_err(|_| err(format!("field {} '{}' is not an integer", k + 1, tok[k])))?;
        }
        let mut v = [0f32; 8];
        const NAMES: [&str; 8] = [
            "wind speed",
            "wind direction",
            "air temperature",
            "relative humidity",
            "pressure",
            "shortwave",
            "longwave",
            "precipitation",
        ];
        for k in 0..8 {
            v[k] = tok[5 + k]
                .parse()
                .map_err(|_| err(format!("{} '{}' is not a number", NAMES[k], tok[5 + k])))?;
        }
        let time = chrono::NaiveDate::from_ymd_opt(ints[0] as i32, ints[1] as u32, ints[2] as u32)
            .and_then(|d| d.and_hms_opt(ints[3] as u32, ints[4] as u32, 0))
            .ok_or_else(|| err(format!("invalid date {:?}", &ints)))?;
        out.push(ForcingRecord {
            time,
            line,
            wind_speed: v[0],
            wind_dir: v[1],
            air_temperature: v[2],
            relative_humidity: v[3],
            pressure_hpa: v[4],
            shortwave: v[5],
            longwave: v[6],
            precipitation: v[7],
        });
    }
    Ok(out)
}

fn parse_date(key: &str, s: &str) -> Result<NaiveDateTime, PointError> {
    NaiveDateTime::parse_from_str(&format!("{s}00"), "%Y%m%d%H%M%S").map_err(|e| {
        PointError::Config {
            key: key.into(),
            msg: format!("'{s}' is not a date YYYYMMDDHHMM ({e})"),
        }
    })
}

fn array<const N: usize>(key: &str, v: &[f64]) -> Result<[f64; N], PointError> {
    v.try_into().map_err(|_| PointError::Config {
        key: key.into(),
        msg: format!("expected {N} values, found {}", v.len()),
    })
}

/// Forcing of one step exactly as passed to the physics (the `forcing_used_file` row).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForcingUsed {
    pub sfcspd: f32,
    pub sfctmp: f32,
    pub rh: f32,
    pub q2: f32,
    pub sfcprs: f32,
    pub soldn: f32,
    pub lwdown: f32,
    pub prcp: f32,
    pub ffrozp: f32,
    pub shdfac: f32,
    pub th2: f32,
    pub q2sat: f32,
    pub dqsdt2: f32,
}

/// The driver's conversion of one record (single precision, Noah offline driver).
pub fn convert_record(r: &ForcingRecord, zlvl: f32, shdfac: f32) -> ForcingUsed {
    let sfcprs = r.pressure_hpa * 1.0e2f32;
    let rh = r.relative_humidity * 1.0e-2f32;
    let t = r.air_temperature;
    let q2 = specific_humidity_from_rh_f32(t, sfcprs, rh);
    let ffrozp = if r.precipitation > 0.0 && t < 273.15f32 {
        1.0
    } else {
        0.0
    };
    let th2 = t + 0.0098f32 * zlvl;
    let (q2sat, dqsdt2) = saturation_humidity_f32(t, sfcprs);
    ForcingUsed {
        sfcspd: r.wind_speed,
        sfctmp: t,
        rh,
        q2,
        sfcprs,
        soldn: r.shortwave,
        lwdown: r.longwave,
        prcp: r.precipitation,
        ffrozp,
        shdfac,
        th2,
        q2sat,
        dqsdt2,
    }
}

impl ForcingUsed {
    /// Column forcing of this step (radiation terms are filled by [`advance`]).
    pub fn column_forcing(
        &self,
        dt: f64,
        p: &NoahParams,
        date: chrono::NaiveDate,
    ) -> ColumnForcing {
        ColumnForcing {
            dt,
            sfctmp: self.sfctmp as f64,
            q2: self.q2 as f64,
            sfcprs: self.sfcprs as f64,
            prcp: self.prcp as f64,
            ffrozp: self.ffrozp as f64,
            soldn: self.soldn as f64,
            solnet: 0.0,
            lwdn: 0.0,
            th2: self.th2 as f64,
            q2sat: self.q2sat as f64,
            dqsdt2: self.dqsdt2 as f64,
            shdfac: self.shdfac as f64,
            monthly_albedo: p
                .use_monthly_albedo
                .then(|| crate::lsm::noah::atmosphere::monthly_value(&p.albedo_monthly, date)),
            monthly_lai: p
                .use_monthly_lai
                .then(|| crate::lsm::noah::atmosphere::monthly_value(&p.lai_monthly, date)),
        }
    }
}

/// A fully resolved point case: parameters, initial state, dates and forcing.
#[derive(Debug, Clone)]
pub struct PointCase {
    pub config: PointConfig,
    /// Directory relative paths are resolved against (the namelist's directory).
    pub base_dir: PathBuf,
    pub params: NoahParams,
    pub initial_state: NoahState,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub dt: f64,
    /// Monthly fields in single precision (driver arithmetic).
    pub shdfac_monthly: [f32; 12],
}

impl PointCase {
    /// Reads the namelist file and resolves the case (tables, parameters, initial state).
    pub fn from_namelist(path: &Path) -> Result<Self, PointError> {
        let nml = namelist::read_file(path)?;
        let cfg: PointConfig = nml.deserialize_group("noah_point")?;
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        Self::from_config(cfg, &base)
    }

    /// Resolves a configuration; relative paths are taken relative to `base_dir`.
    pub fn from_config(cfg: PointConfig, base_dir: &Path) -> Result<Self, PointError> {
        let tables = match &cfg.parameter_tables {
            Some(d) => ParameterTables::from_wrf_dir(base_dir.join(d))?,
            None => ParameterTables::builtin(),
        };
        Self::from_config_with_tables(cfg, base_dir, &tables)
    }

    /// As [`from_config`](Self::from_config) with given tables (ignores `parameter_tables`).
    pub fn from_config_with_tables(
        cfg: PointConfig,
        base_dir: &Path,
        tables: &ParameterTables,
    ) -> Result<Self, PointError> {
        let start = parse_date("startdate", &cfg.startdate)?;
        let end = parse_date("enddate", &cfg.enddate)?;
        if end <= start {
            return Err(PointError::Config {
                key: "enddate".into(),
                msg: format!("{} is not after startdate {}", cfg.enddate, cfg.startdate),
            });
        }
        if cfg.noahlsm_timestep <= 0 || cfg.noahlsm_timestep != cfg.forcing_timestep {
            return Err(PointError::Config {
                key: "noahlsm_timestep".into(),
                msg: format!(
                    "must be positive and equal forcing_timestep ({}); got {} (no temporal interpolation)",
                    cfg.forcing_timestep, cfg.noahlsm_timestep
                ),
            });
        }
        if cfg.wind_level != cfg.air_temperature_level {
            // Noah 3.4.1's surface layer (SFCDIF) takes a single reference height.
            return Err(PointError::Config {
                key: "wind_level".into(),
                msg: format!(
                    "{} differs from air_temperature_level {}; Noah 3.4.1 uses one reference height",
                    cfg.wind_level, cfg.air_temperature_level
                ),
            });
        }
        let sldpth = array::<NSOIL>("soil_layer_thickness", &cfg.soil_layer_thickness)?;
        let stc = array::<NSOIL>("soil_temperature", &cfg.soil_temperature)?;
        let smc = array::<NSOIL>("soil_moisture", &cfg.soil_moisture)?;
        let sh2o = array::<NSOIL>("soil_liquid", &cfg.soil_liquid)?;
        let albm = array::<12>("albedo_monthly", &cfg.albedo_monthly)?;
        let shdm = array::<12>("shdfac_monthly", &cfg.shdfac_monthly)?;
        let laim = array::<12>("lai_monthly", &cfg.lai_monthly)?;
        let z0m = array::<12>("z0brd_monthly", &cfg.z0brd_monthly)?;
        let params = NoahParams::from_tables(
            tables,
            &ParamSelection {
                soil_dataset: &cfg.soil_dataset,
                vegetation_dataset: &cfg.landuse_dataset,
                soil_class: cfg.soil_type_index,
                vegetation_class: cfg.vegetation_type_index,
                slope_class: cfg.slope_type_index,
                urban_class: cfg.urban_veg_category,
                sldpth,
                shdmin: cfg.green_vegetation_min,
                shdmax: cfg.green_vegetation_max,
                snoalb: cfg.max_snow_albedo,
                tbot: cfg.deep_soil_temperature,
                zlvl: cfg.air_temperature_level,
                green_fraction_monthly: shdm,
                albedo_monthly: albm,
                lai_monthly: laim,
                use_monthly_albedo: cfg.usemonalb_nml,
                use_monthly_lai: cfg.rdlai2d_nml,
            },
        )?;
        let f32m = |a: &[f64; 12]| {
            let mut o = [0f32; 12];
            for k in 0..12 {
                o[k] = a[k] as f32;
            }
            o
        };
        let date0 = start.date();
        // First-step values of the offline driver.
        let initial_state = NoahState {
            skin_temperature: cfg.skin_temperature,
            soil_temperature: stc,
            soil_moisture: smc,
            soil_liquid: sh2o,
            canopy_water: cfg.canopy_water,
            snow_depth: cfg.snow_depth,
            snow_water_equivalent: cfg.snow_equivalent,
            albedo: monthly_value_f32(&f32m(&albm), date0) as f64,
            emissivity: 0.96,
            roughness_length: monthly_value_f32(&f32m(&z0m), date0) as f64,
            cm: 1.0e-4,
            ch: 1.0e-4,
            snow_age: 0.0,
        };
        initial_state.validate(&params)?;
        Ok(PointCase {
            shdfac_monthly: f32m(&shdm),
            base_dir: base_dir.to_path_buf(),
            params,
            initial_state,
            start,
            end,
            dt: cfg.noahlsm_timestep as f64,
            config: cfg,
        })
    }

    /// Path of a namelist path value relative to the namelist directory.
    pub fn resolve(&self, p: &str) -> PathBuf {
        self.base_dir.join(p)
    }

    /// Number of steps ("while nowdate < enddate").
    pub fn n_steps(&self) -> usize {
        let secs = (self.end - self.start).num_seconds() as f64;
        (secs / self.dt).ceil() as usize
    }
}

/// One output row: the step's start date, its diagnostics and the state after it.
#[derive(Debug, Clone, Copy)]
pub struct PointRow {
    pub step: usize,
    pub date: NaiveDateTime,
    pub diag: Diagnostics,
    pub state: NoahState,
    pub ch: f64,
    pub cm: f64,
    pub forcing: ForcingUsed,
}

/// Checks a record; errors name step, time and variable.
fn check_record(step: usize, r: &ForcingRecord) -> Result<(), PointError> {
    let time = r.time.format("%Y-%m-%d %H:%M").to_string();
    let fail = |variable: &str, msg: String| {
        Err(PointError::Forcing {
            step,
            time: time.clone(),
            variable: variable.into(),
            msg,
        })
    };
    let vals = [
        ("wind speed", r.wind_speed, 0.0, 100.0),
        ("air temperature", r.air_temperature, 150.0, 350.0),
        ("relative humidity", r.relative_humidity, 0.0, 110.0),
        ("pressure", r.pressure_hpa, 300.0, 1200.0),
        ("shortwave", r.shortwave, 0.0, 1500.0),
        ("longwave", r.longwave, 0.0, 800.0),
        ("precipitation", r.precipitation, 0.0, 0.5),
    ];
    for (n, v, lo, hi) in vals {
        if !v.is_finite() {
            return fail(n, format!("missing or not a number ({v})"));
        }
        if v < lo || v > hi {
            let what = if n == "precipitation" && v < 0.0 {
                "negative precipitation".to_string()
            } else {
                format!("outside the physical range {lo}..{hi}")
            };
            return fail(n, format!("value {v} {what}"));
        }
    }
    Ok(())
}

/// Runs the case with the given records; calls `sink` for every step.
pub fn run_records(
    case: &PointCase,
    records: &[ForcingRecord],
    mut sink: impl FnMut(&PointRow),
) -> Result<NoahState, PointError> {
    let p = &case.params;
    let mut st = case.initial_state;
    let n = case.n_steps();
    let first = records.first().ok_or_else(|| PointError::Config {
        key: "forcing_file".into(),
        msg: "no forcing records".into(),
    })?;
    let fdt = case.config.forcing_timestep;
    let zlvl = p.zlvl as f32;
    for k in 0..n {
        let now = case.start + Duration::seconds((k as f64 * case.dt) as i64);
        let off = (now - first.time).num_seconds();
        let idx = if off >= 0 && off % fdt == 0 {
            Some((off / fdt) as usize)
        } else {
            None
        };
        let rec = match idx.and_then(|i| records.get(i)).filter(|r| r.time == now) {
            Some(r) => r,
            None => {
                return Err(PointError::Forcing {
                    step: k + 1,
                    time: now.format("%Y-%m-%d %H:%M").to_string(),
                    variable: "record".into(),
                    msg: "no forcing record for this time (missing or out of order)".into(),
                })
            }
        };
        check_record(k + 1, rec)?;
        let shdfac = monthly_value_f32(&case.shdfac_monthly, now.date());
        let fu = convert_record(rec, zlvl, shdfac);
        let cf = fu.column_forcing(case.dt, p, now.date());
        let d = advance(
            p,
            &mut st,
            &cf,
            fu.soldn as f64,
            fu.lwdown as f64,
            fu.sfcspd as f64,
        );
        check_finite_output(&d, &st).map_err(|msg| PointError::Step {
            step: k + 1,
            time: now.format("%Y-%m-%d %H:%M").to_string(),
            msg,
        })?;
        sink(&PointRow {
            step: k + 1,
            date: now,
            diag: d,
            state: st,
            ch: st.ch,
            cm: st.cm,
            forcing: fu,
        });
    }
    Ok(st)
}

/// Reference CSV header (the columns of noah_ref_wrf341.csv).
pub const CSV_HEADER: &str = "step,date,T1_K,STC1_K,STC2_K,STC3_K,STC4_K,SMC1,SMC2,SMC3,SMC4,SH2O1,SH2O2,SH2O3,SH2O4,SHEAT_W_m2,ETA_W_m2,SSOIL_W_m2,RUNOFF1_m_s,RUNOFF2_m_s,RUNOFF3_m_s,SNEQV_m,SNOWH_m,CMC_m,ALBEDO,EMISSI,CH_m_s,CM_m_s,Z0_m,SNCOVR,SNOMLT_m,ETP_W_m2,EC_W_m2,EDIR_W_m2,ETT_W_m2,ESNOW_W_m2,ETAKIN_kg_m2_s,FDOWN_W_m2,FLX1_W_m2,FLX2_W_m2,FLX3_W_m2,Q1_kg_kg,XLAI,SHDFAC,SOLNET_W_m2,LWDN_W_m2,SOILM_m";

/// The numeric values of one CSV row, in [`CSV_HEADER`] order after `step,date`.
pub fn row_values(r: &PointRow) -> Vec<f64> {
    let s = &r.state;
    let d = &r.diag;
    let mut v = vec![s.skin_temperature];
    v.extend_from_slice(&s.soil_temperature);
    v.extend_from_slice(&s.soil_moisture);
    v.extend_from_slice(&s.soil_liquid);
    v.extend_from_slice(&[
        d.sheat,
        d.eta,
        d.ssoil,
        d.runoff1,
        d.runoff2,
        d.runoff3,
        s.snow_water_equivalent,
        s.snow_depth,
        s.canopy_water,
        d.albedo,
        d.emissivity,
        r.ch,
        r.cm,
        d.z0,
        d.sncovr,
        d.snomlt,
        d.etp,
        d.ec,
        d.edir,
        d.ett,
        d.esnow,
        d.eta_kinematic,
        d.fdown,
        d.flx1,
        d.flx2,
        d.flx3,
        d.q1,
        d.lai,
        d.shdfac,
        d.solnet,
        d.lwdn,
        d.soilm,
    ]);
    v
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> PointError + '_ {
    move |source| PointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Output of a point run.
#[derive(Debug, Clone)]
pub struct PointRun {
    pub rows: Vec<PointRow>,
    pub csv_path: PathBuf,
    pub netcdf_path: PathBuf,
}

/// Runs the namelist at `path`: reads the forcing, runs every step, writes the CSV named by
/// `output_file`, the NetCDF next to it (same stem, `.nc`) and `forcing_used_file` if set.
pub fn run_namelist(path: &Path) -> Result<PointRun, PointError> {
    let case = PointCase::from_namelist(path)?;
    run_case(&case)
}

/// Runs a resolved case and writes its outputs.
pub fn run_case(case: &PointCase) -> Result<PointRun, PointError> {
    let records = read_forcing(&case.resolve(&case.config.forcing_file))?;
    let mut rows = Vec::with_capacity(case.n_steps());
    run_records(case, &records, |r| rows.push(*r))?;
    let csv_path = case.resolve(&case.config.output_file);
    write_csv(&csv_path, &rows)?;
    let netcdf_path = csv_path.with_extension("nc");
    write_netcdf(&netcdf_path, case, &rows)?;
    if let Some(fu) = &case.config.forcing_used_file {
        write_forcing_used(&case.resolve(fu), &rows)?;
    }
    Ok(PointRun {
        rows,
        csv_path,
        netcdf_path,
    })
}

/// Scientific notation as Fortran's ES format writes it: `2.65000793E+02`.
pub fn fortran_e(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$E}");
    match s.split_once('E') {
        Some((m, e)) => {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            format!("{m}E{sign}{digits:0>2}")
        }
        None => s, // inf / NaN
    }
}

/// Writes rows in the reference CSV layout.
pub fn write_csv(path: &Path, rows: &[PointRow]) -> Result<(), PointError> {
    let f = std::fs::File::create(path).map_err(io_err(path))?;
    let mut w = std::io::BufWriter::new(f);
    writeln!(w, "{CSV_HEADER}").map_err(io_err(path))?;
    for r in rows {
        let mut line = format!("{},{}", r.step, r.date.format("%Y%m%d%H%M"));
        for v in row_values(r) {
            line.push(',');
            line.push_str(&fortran_e(v, 9));
        }
        writeln!(w, "{line}").map_err(io_err(path))?;
    }
    w.flush().map_err(io_err(path))
}

fn write_forcing_used(path: &Path, rows: &[PointRow]) -> Result<(), PointError> {
    let f = std::fs::File::create(path).map_err(io_err(path))?;
    let mut w = std::io::BufWriter::new(f);
    writeln!(w, "step,date,SFCSPD_m_s,SFCTMP_K,RH_frac,Q2_kg_kg,SFCPRS_Pa,SOLDN_W_m2,LWDOWN_W_m2,PRCP_kg_m2_s,FFROZP,SHDFAC,TH2_K,Q2SAT_kg_kg,DQSDT2")
        .map_err(io_err(path))?;
    for r in rows {
        let f = &r.forcing;
        let vals = [
            f.sfcspd, f.sfctmp, f.rh, f.q2, f.sfcprs, f.soldn, f.lwdown, f.prcp, f.ffrozp,
            f.shdfac, f.th2, f.q2sat, f.dqsdt2,
        ];
        let mut line = format!("{},{}", r.step, r.date.format("%Y%m%d%H%M"));
        for v in vals {
            line.push(',');
            line.push_str(&fortran_e(v as f64, 8));
        }
        writeln!(w, "{line}").map_err(io_err(path))?;
    }
    w.flush().map_err(io_err(path))
}

/// CF-1.8 NetCDF time series with ALMA variable names.
pub fn write_netcdf(path: &Path, case: &PointCase, rows: &[PointRow]) -> Result<(), PointError> {
    let times = rows
        .iter()
        .map(|r| (r.date - case.start).num_seconds() as f64 + case.dt)
        .collect();
    let (layer_depth, layer_bounds) = layer_geometry(case);
    write_series(
        path,
        &PointSeries {
            title: "landcycle Noah LSM 3.4.1 point run".into(),
            comment: "ALMA variable names and sign conventions (Qh, Qle upward; Qg into the soil; runoff out of the column)".into(),
            start: case.start,
            times,
            layer_depth,
            layer_bounds,
            series: surface_series(rows, case.dt),
            layered: layered_series(rows, case),
        },
    )
}

/// Mid-depths and (top, bottom) bounds of the soil layers (m, positive down).
fn layer_geometry(case: &PointCase) -> (Vec<f64>, Vec<(f64, f64)>) {
    let mut layer_depth = vec![0.0; NSOIL];
    let mut layer_bounds = vec![(0.0, 0.0); NSOIL];
    let mut top = 0.0;
    for k in 0..NSOIL {
        let bot = -case.params.zsoil[k];
        layer_depth[k] = 0.5 * (top + bot);
        layer_bounds[k] = (top, bot);
        top = bot;
    }
    (layer_depth, layer_bounds)
}

/// The ALMA surface variables of a Noah point run, one value per row.
fn surface_series(rows: &[PointRow], dt: f64) -> Vec<SeriesVar> {
    let var = |name, units, long_name, standard_name, get: &dyn Fn(&PointRow) -> f64| SeriesVar {
        name,
        units,
        long_name,
        standard_name,
        values: rows.iter().map(get).collect(),
    };
    vec![
        var(
            "AvgSurfT",
            "K",
            "average surface temperature",
            Some("surface_temperature"),
            &|r| r.state.skin_temperature,
        ),
        var(
            "Qh",
            "W m-2",
            "sensible heat flux (upward)",
            Some("surface_upward_sensible_heat_flux"),
            &|r| r.diag.sheat,
        ),
        var(
            "Qle",
            "W m-2",
            "latent heat flux (upward)",
            Some("surface_upward_latent_heat_flux"),
            &|r| r.diag.eta,
        ),
        var(
            "Qg",
            "W m-2",
            "ground heat flux (into the soil)",
            Some("downward_heat_flux_in_soil"),
            &|r| -r.diag.ssoil,
        ),
        var(
            "Qs",
            "kg m-2 s-1",
            "surface runoff",
            Some("surface_runoff_flux"),
            &|r| r.diag.runoff1 * 1000.0,
        ),
        var(
            "Qsb",
            "kg m-2 s-1",
            "subsurface runoff (drainage)",
            Some("subsurface_runoff_flux"),
            &|r| r.diag.runoff2 * 1000.0,
        ),
        var(
            "Qsm",
            "kg m-2 s-1",
            "snowmelt",
            Some("surface_snow_melt_flux"),
            &|r| r.diag.snomlt * 1000.0 / dt,
        ),
        var(
            "Evap",
            "kg m-2 s-1",
            "total evapotranspiration",
            Some("water_evapotranspiration_flux"),
            &|r| r.diag.evap_water,
        ),
        var(
            "PotEvap",
            "W m-2",
            "potential evaporation (energy units)",
            None,
            &|r| r.diag.etp,
        ),
        var(
            "SWnet",
            "W m-2",
            "net shortwave radiation (downward)",
            Some("surface_net_downward_shortwave_flux"),
            &|r| r.diag.solnet,
        ),
        var(
            "LWnet",
            "W m-2",
            "net longwave radiation (downward)",
            Some("surface_net_downward_longwave_flux"),
            &|r| {
                let t = r.state.skin_temperature;
                r.diag.lwdn - r.diag.emissivity * crate::lsm::noah::constants::SIGMA * t * t * t * t
            },
        ),
        var(
            "SWE",
            "kg m-2",
            "snow water equivalent",
            Some("surface_snow_amount"),
            &|r| r.state.snow_water_equivalent * 1000.0,
        ),
        var(
            "SnowDepth",
            "m",
            "snow depth",
            Some("surface_snow_thickness"),
            &|r| r.state.snow_depth,
        ),
        var(
            "CanopInt",
            "kg m-2",
            "canopy intercepted water",
            Some("canopy_water_amount"),
            &|r| r.state.canopy_water * 1000.0,
        ),
        var(
            "Albedo",
            "1",
            "surface albedo",
            Some("surface_albedo"),
            &|r| r.diag.albedo,
        ),
        var(
            "SnowFrac",
            "1",
            "snow cover fraction",
            Some("surface_snow_area_fraction"),
            &|r| r.diag.sncovr,
        ),
    ]
}

/// The per-layer ALMA variables of a Noah point run, row-major (row, layer).
fn layered_series(rows: &[PointRow], case: &PointCase) -> Vec<SeriesVar> {
    let p = &case.params;
    let layer = |name, units, long_name, get: &dyn Fn(&PointRow, usize) -> f64| SeriesVar {
        name,
        units,
        long_name,
        standard_name: None,
        values: rows
            .iter()
            .flat_map(|r| (0..NSOIL).map(move |k| get(r, k)))
            .collect(),
    };
    vec![
        layer(
            "SoilMoist",
            "kg m-2",
            "total soil moisture per layer",
            &|r, k| r.state.soil_moisture[k] * p.sldpth[k] * 1000.0,
        ),
        layer("SoilTemp", "K", "soil temperature per layer", &|r, k| {
            r.state.soil_temperature[k]
        }),
        layer(
            "SoilLiq",
            "kg m-2",
            "liquid soil moisture per layer",
            &|r, k| r.state.soil_liquid[k] * p.sldpth[k] * 1000.0,
        ),
    ]
}
