//! The CoLM point case: the `&colm_point` namelist (the keys of the CoLM2014 reference's
//! `case_bondville.nml`) and the column it sets up — geometry, per-layer soil parameters
//! (from `params_file` when given, else from the texture through
//! [`crate::lsm::colm::pedotransfer`]), USGS vegetation, root fractions, soil colour, and
//! the cold start of CoLM's point driver (docs/colm.md "Point mode").

use super::PointError;
use crate::config::namelist::{self, Location, NamelistError};
use crate::lsm::colm::constants::NSOIL;
use crate::lsm::colm::ground_albedo::SoilAlbedo;
use crate::lsm::colm::layers::initial_from_profile;
use crate::lsm::colm::pedotransfer::{soil_params_from_texture, Texture, NRAW};
use crate::lsm::colm::root_fractions::root_fractions;
use crate::lsm::colm::soil_colour::soil_albedo_for_usgs;
use crate::lsm::colm::vegetation_usgs::{usgs, VegParams};
use crate::lsm::colm::{parse_params, SoilGeometry, SoilParams, Tunables};
use chrono::{Duration, NaiveDate, NaiveDateTime};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The `&colm_point` namelist group.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColmPointConfig {
    /// Forcing in the `forcing_as_used.csv` format (`.xz` accepted); CSV output.
    pub forcing_file: String,
    pub output_file: String,
    /// Per-layer parameter listing (the `params_bondville.txt` format) overriding the
    /// pedotransfer rules.
    #[serde(default)]
    pub params_file: Option<String>,
    /// USGS land-cover class (1..=24), latitude and longitude (degrees).
    pub ivt: i64,
    pub lat_deg: f64,
    pub lon_deg: f64,
    /// Heights of the wind, temperature and humidity forcing (m).
    pub hgt_u: f64,
    pub hgt_t: f64,
    pub hgt_q: f64,
    pub co2_ppm: f64,
    /// The 8 raw texture layers: sand, clay, organic carbon (% weight), bulk density
    /// (g cm-3), gravel (% volume).
    pub sand: Vec<f64>,
    pub clay: Vec<f64>,
    pub soc: Vec<f64>,
    pub bd: Vec<f64>,
    pub gravel: Vec<f64>,
    /// Initial source profile: layer bottoms (m), temperature (K), volumetric water.
    pub nsrc: i64,
    pub src_zbot: Vec<f64>,
    pub src_t: Vec<f64>,
    pub src_w: Vec<f64>,
    /// Initial SWE (mm), snow depth (m), canopy water (mm).
    pub init_scv: f64,
    pub init_snowdp: f64,
    pub init_ldew: f64,
    /// Start (UTC): year, day of year, seconds of day; steps and their length (s).
    pub start_year: i64,
    pub start_jday: i64,
    pub start_sec: i64,
    pub nsteps: i64,
    pub deltim: f64,
}

/// A resolved CoLM point case.
#[derive(Debug, Clone)]
pub struct ColmCase {
    pub config: ColmPointConfig,
    pub base_dir: PathBuf,
    pub start: NaiveDateTime,
    pub geometry: SoilGeometry,
    pub soil: SoilParams,
    /// Whether `soil` came from `params_file` (else from the texture).
    pub soil_from_file: bool,
    pub veg: VegParams,
    pub rootfr: [f64; NSOIL],
    pub tun: Tunables,
    pub soil_albedo: SoilAlbedo,
    /// Initial soil temperature (K), liquid and ice water (kg m-2).
    pub t0: [f64; NSOIL],
    pub wliq0: [f64; NSOIL],
    pub wice0: [f64; NSOIL],
}

const GROUP: &str = "colm_point";

/// Error at key `key` of the parsed namelist (its line), or at the group.
fn key_error(nml: &namelist::Namelist, key: &str, msg: String) -> PointError {
    let g = nml.group(GROUP);
    let pos = g
        .map(|g| g.entry(key).map_or(g.pos, |e| e.pos))
        .unwrap_or_default();
    PointError::Namelist(NamelistError::Value {
        loc: Box::new(Location {
            file: nml.file.clone(),
            line: pos.line,
            col: pos.col,
        }),
        group: GROUP.to_string(),
        key: key.to_string(),
        msg,
    })
}

impl ColmCase {
    /// Reads and checks the namelist at `path`; relative paths in it are relative to it.
    pub fn from_namelist(path: &Path) -> Result<Self, PointError> {
        let nml = namelist::read_file(path)?;
        let cfg: ColmPointConfig = nml.deserialize_group(GROUP)?;
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        Self::from_config(cfg, &base, &|key, msg| key_error(&nml, key, msg))
    }

    /// Sets up the case; `err(key, msg)` builds the error of a bad key.
    pub fn from_config(
        cfg: ColmPointConfig,
        base_dir: &Path,
        err: &dyn Fn(&str, String) -> PointError,
    ) -> Result<Self, PointError> {
        check_scalars(&cfg, err)?;
        let start = start_time(&cfg, err)?;
        let geometry = SoilGeometry::standard();
        let class = cfg.ivt as usize;
        let veg = usgs(class).map_err(|e| err("ivt", e.to_string()))?;
        let rootfr = root_fractions(&geometry.zi, veg.d50, veg.root_shape)
            .map_err(|e| err("ivt", e.to_string()))?;
        let soil_albedo = soil_albedo_for_usgs(class).map_err(|e| err("ivt", e.to_string()))?;
        let (soil, soil_from_file) = match &cfg.params_file {
            Some(p) => (read_listing(&base_dir.join(p), &geometry)?, true),
            None => (texture_params(&cfg, &geometry, err)?, false),
        };
        let (t0, wliq0, wice0) = initial_profile(&cfg, &geometry, err)?;
        Ok(ColmCase {
            config: cfg,
            base_dir: base_dir.to_path_buf(),
            start,
            geometry,
            soil,
            soil_from_file,
            veg,
            rootfr,
            tun: Tunables::default(),
            soil_albedo,
            t0,
            wliq0,
            wice0,
        })
    }

    /// A path of the namelist, relative to its directory.
    pub fn resolve(&self, p: &str) -> PathBuf {
        self.base_dir.join(p)
    }

    /// Length of a step (s).
    pub fn dt(&self) -> f64 {
        self.config.deltim
    }
}

fn check_scalars(
    cfg: &ColmPointConfig,
    err: &dyn Fn(&str, String) -> PointError,
) -> Result<(), PointError> {
    if !(cfg.deltim > 0.0 && cfg.deltim.fract() == 0.0 && 86400.0 % cfg.deltim == 0.0) {
        return Err(err(
            "deltim",
            format!("{} s must be a whole divisor of a day", cfg.deltim),
        ));
    }
    if cfg.nsteps < 1 {
        return Err(err(
            "nsteps",
            format!("{} (needs at least one step)", cfg.nsteps),
        ));
    }
    if cfg.hgt_t != cfg.hgt_u || cfg.hgt_q != cfg.hgt_u || cfg.hgt_u.is_nan() || cfg.hgt_u <= 0.0 {
        return Err(err(
            "hgt_u",
            format!(
                "the column takes one positive forcing height; hgt_u, hgt_t, hgt_q = {}, {}, {}",
                cfg.hgt_u, cfg.hgt_t, cfg.hgt_q
            ),
        ));
    }
    if !(-90.0..=90.0).contains(&cfg.lat_deg) {
        return Err(err("lat_deg", format!("{} outside [-90, 90]", cfg.lat_deg)));
    }
    if !(-360.0..=360.0).contains(&cfg.lon_deg) {
        return Err(err(
            "lon_deg",
            format!("{} outside [-360, 360]", cfg.lon_deg),
        ));
    }
    if !(cfg.co2_ppm > 0.0 && cfg.co2_ppm < 1e5) {
        return Err(err("co2_ppm", format!("{} ppm", cfg.co2_ppm)));
    }
    for (key, v) in [
        ("init_scv", cfg.init_scv),
        ("init_snowdp", cfg.init_snowdp),
        ("init_ldew", cfg.init_ldew),
    ] {
        if !(v >= 0.0 && v.is_finite()) {
            return Err(err(key, format!("{v} (needs a finite value >= 0)")));
        }
    }
    Ok(())
}

/// The start (UTC) from year, day of year and seconds of day.
fn start_time(
    cfg: &ColmPointConfig,
    err: &dyn Fn(&str, String) -> PointError,
) -> Result<NaiveDateTime, PointError> {
    let jan1 = i32::try_from(cfg.start_year)
        .ok()
        .and_then(|y| NaiveDate::from_ymd_opt(y, 1, 1))
        .ok_or_else(|| err("start_year", format!("{}", cfg.start_year)))?;
    let days_in_year = if jan1.leap_year() { 366 } else { 365 };
    if !(1..=days_in_year).contains(&cfg.start_jday) {
        return Err(err(
            "start_jday",
            format!("{} outside 1..={days_in_year}", cfg.start_jday),
        ));
    }
    if !(0..86400).contains(&cfg.start_sec) {
        return Err(err(
            "start_sec",
            format!("{} outside 0..86400", cfg.start_sec),
        ));
    }
    Ok(jan1.and_hms_opt(0, 0, 0).unwrap()
        + Duration::days(cfg.start_jday - 1)
        + Duration::seconds(cfg.start_sec))
}

/// An array key that must hold `n` values.
fn exactly<'a>(
    key: &str,
    v: &'a [f64],
    n: usize,
    err: &dyn Fn(&str, String) -> PointError,
) -> Result<&'a [f64], PointError> {
    if v.len() != n {
        return Err(err(key, format!("{} values given, {n} needed", v.len())));
    }
    Ok(v)
}

fn texture_params(
    cfg: &ColmPointConfig,
    g: &SoilGeometry,
    err: &dyn Fn(&str, String) -> PointError,
) -> Result<SoilParams, PointError> {
    let sand = exactly("sand", &cfg.sand, NRAW, err)?;
    let clay = exactly("clay", &cfg.clay, NRAW, err)?;
    let soc = exactly("soc", &cfg.soc, NRAW, err)?;
    let bd = exactly("bd", &cfg.bd, NRAW, err)?;
    let gravel = exactly("gravel", &cfg.gravel, NRAW, err)?;
    let raw: [Texture; NRAW] = std::array::from_fn(|k| Texture {
        sand: sand[k],
        clay: clay[k],
        soc: soc[k],
        bd: bd[k],
        gravel: gravel[k],
    });
    soil_params_from_texture(&raw, g).map_err(|e| err("sand", e.to_string()))
}

/// The per-layer parameters of a listing; its geometry must be CoLM's.
fn read_listing(path: &Path, g: &SoilGeometry) -> Result<SoilParams, PointError> {
    let text = std::fs::read_to_string(path).map_err(|source| PointError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let at = |line: usize, msg: String| PointError::ForcingFormat {
        file: path.display().to_string(),
        line,
        msg,
    };
    let l = parse_params(&text).map_err(|e| at(e.line, e.msg))?;
    for j in 0..NSOIL {
        if (l.geometry.z[j] - g.z[j]).abs() > 1e-9 * g.z[j] {
            return Err(at(
                0,
                format!(
                    "layer {} node depth {} m is not CoLM's {} m",
                    j + 1,
                    l.geometry.z[j],
                    g.z[j]
                ),
            ));
        }
    }
    l.soil.validate()?;
    Ok(l.soil)
}

/// Initial soil temperature and water from the source profile (COLM.md §10).
#[allow(clippy::type_complexity)]
fn initial_profile(
    cfg: &ColmPointConfig,
    g: &SoilGeometry,
    err: &dyn Fn(&str, String) -> PointError,
) -> Result<([f64; NSOIL], [f64; NSOIL], [f64; NSOIL]), PointError> {
    let n = usize::try_from(cfg.nsrc)
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| err("nsrc", format!("{} (needs at least one layer)", cfg.nsrc)))?;
    let zbot = exactly("src_zbot", &cfg.src_zbot, n, err)?;
    let t = exactly("src_t", &cfg.src_t, n, err)?;
    let w = exactly("src_w", &cfg.src_w, n, err)?;
    if !zbot.windows(2).all(|p| p[1] > p[0]) || zbot[0].is_nan() || zbot[0] <= 0.0 {
        return Err(err(
            "src_zbot",
            "layer bottoms must increase from above 0 m".into(),
        ));
    }
    if let Some(x) = t.iter().find(|&&x| !(150.0..=350.0).contains(&x)) {
        return Err(err("src_t", format!("{x} K outside 150-350 K")));
    }
    if let Some(x) = w.iter().find(|&&x| !(0.0..=1.0).contains(&x)) {
        return Err(err("src_w", format!("{x} outside 0-1 m3 m-3")));
    }
    Ok(initial_from_profile(g, zbot, t, w))
}
