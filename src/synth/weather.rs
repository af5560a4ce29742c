//! Synthetic weather generator writing 3-hourly forcing files in the GLDAS-2.1 layout the
//! data atmosphere reads (CF NetCDF-4, one time per file, 1-D lat/lon, GLDAS names/units).
//!
//! This is SYNTHETIC weather for demonstrations and tests, not observations or a model
//! simulation: smooth random fields built from a few travelling Fourier modes give a synoptic
//! cycle (pressure, temperature, humidity waves moving east with periods of a few days),
//! mesoscale cloud and intermittent, spatially correlated precipitation (a thresholded field
//! moving with the flow), a diurnal cycle in temperature, wind and humidity, shortwave from the
//! real solar geometry times a cloud transmittance, and longwave from temperature, humidity and
//! cloud (Brutsaert clear-sky emissivity). Everything is a deterministic function of the seed.

use crate::forcing::solar;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::f64::consts::PI;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use thiserror::Error;

const STEFAN_BOLTZMANN: f64 = 5.670_374e-8;
const SOLAR_CONSTANT: f64 = 1361.0;
const FILL: f32 = -9999.0;
/// Degrees of latitude to km.
const KM_PER_DEG: f64 = 111.32;

/// Errors writing synthetic weather.
#[derive(Debug, Error)]
pub enum WeatherError {
    #[error("weather config: {0}")]
    Config(String),
    #[error("writing {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("writing {}: {source}", path.display())]
    Netcdf {
        path: PathBuf,
        #[source]
        source: netcdf::Error,
    },
}

/// What to generate and where.
#[derive(Debug, Clone, PartialEq)]
pub struct WeatherConfig {
    /// Cell-centre latitudes (degrees; ascending or descending).
    pub lat: Vec<f64>,
    /// Cell-centre longitudes (degrees, evenly spaced, increasing).
    pub lon: Vec<f64>,
    /// Optional terrain elevation (m), row-major [lat][lon]; lowers temperature and pressure.
    pub elevation: Option<Vec<f64>>,
    /// Valid time of the first file.
    pub start: NaiveDateTime,
    pub n_files: usize,
    /// Time between files (s); period means cover the interval ending at the file time.
    pub interval_seconds: i64,
    pub output_dir: PathBuf,
    /// strftime template of file names (relative to `output_dir`).
    pub file_template: String,
    pub seed: u64,
}

impl WeatherConfig {
    /// 3-hourly files named like GLDAS-2.1 ("synthetic" instead of the version).
    pub fn new(
        lat: Vec<f64>,
        lon: Vec<f64>,
        start: NaiveDateTime,
        n_files: usize,
        output_dir: impl Into<PathBuf>,
        seed: u64,
    ) -> Self {
        Self {
            lat,
            lon,
            elevation: None,
            start,
            n_files,
            interval_seconds: 3 * 3600,
            output_dir: output_dir.into(),
            file_template: DEFAULT_TEMPLATE.to_string(),
            seed,
        }
    }
}

/// Default file name template of the synthetic case.
pub const DEFAULT_TEMPLATE: &str = "SYNTH_FORCING_3H.A%Y%m%d.%H%M.nc4";

/// One smooth random field: a sum of travelling cosine modes with unit variance.
#[derive(Debug, Clone)]
struct WaveField {
    /// (kx, ky rad/km, phase rad, frequency rad/h)
    modes: Vec<(f64, f64, f64, f64)>,
    amp: f64,
    /// Advection velocity (km/h).
    u: f64,
    v: f64,
}

impl WaveField {
    fn new(
        rng: &mut ChaCha8Rng,
        n_modes: usize,
        wavelength_km: (f64, f64),
        velocity_kmh: (f64, f64),
        evolution_period_h: f64,
        zonal_only: bool,
    ) -> Self {
        let modes = (0..n_modes)
            .map(|_| {
                let lambda = rng.random_range(wavelength_km.0..wavelength_km.1);
                let k = 2.0 * PI / lambda;
                let dir = if zonal_only {
                    rng.random_range(-0.35..0.35)
                } else {
                    rng.random_range(0.0..2.0 * PI)
                };
                let phase = rng.random_range(0.0..2.0 * PI);
                let freq = if evolution_period_h > 0.0 {
                    rng.random_range(-1.0..1.0) * 2.0 * PI / evolution_period_h
                } else {
                    0.0
                };
                (k * f64::cos(dir), k * f64::sin(dir), phase, freq)
            })
            .collect();
        Self {
            modes,
            amp: (2.0 / n_modes as f64).sqrt(),
            u: velocity_kmh.0,
            v: velocity_kmh.1,
        }
    }

    /// Values on the tensor grid `ys` x `xs` (row-major [y][x]) at time t hours: each mode
    /// factorises into a column and a row phasor, so a cell costs a complex product per mode.
    fn grid(&self, xs: &[f64], ys: &[f64], t: f64) -> Vec<f64> {
        let nx = xs.len();
        let mut out = vec![0.0; nx * ys.len()];
        let mut col = vec![(0.0, 0.0); nx];
        for &(kx, ky, ph, w) in &self.modes {
            let c = ph + w * t - kx * self.u * t - ky * self.v * t;
            for (a, &x) in col.iter_mut().zip(xs) {
                *a = ((kx * x).cos(), (kx * x).sin());
            }
            for (row, &y) in out.chunks_exact_mut(nx).zip(ys) {
                let (sb, cb) = (ky * y + c).sin_cos();
                for (o, &(ca, sa)) in row.iter_mut().zip(&col) {
                    *o += ca * cb - sa * sb;
                }
            }
        }
        for o in &mut out {
            *o *= self.amp;
        }
        out
    }

    /// Value at (x, y) km and time t hours (since the generator's origin).
    fn at(&self, x: f64, y: f64, t: f64) -> f64 {
        let (xs, ys) = (x - self.u * t, y - self.v * t);
        self.amp
            * self
                .modes
                .iter()
                .map(|&(kx, ky, ph, w)| (kx * xs + ky * ys + ph + w * t).cos())
                .sum::<f64>()
    }
}

/// The state of the synthetic atmosphere at one cell and time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeatherPoint {
    /// K
    pub air_temperature: f64,
    /// kg kg-1
    pub specific_humidity: f64,
    /// Pa
    pub surface_pressure: f64,
    /// m s-1
    pub wind_speed: f64,
    /// Cloud fraction (0..1).
    pub cloud: f64,
    /// kg m-2 s-1
    pub precipitation: f64,
    /// Relative humidity (0..1).
    pub relative_humidity: f64,
}

/// The generator: deterministic fields of the seed, evaluated at any time and place.
#[derive(Debug, Clone)]
pub struct WeatherGenerator {
    origin: NaiveDateTime,
    lat0: f64,
    lon0: f64,
    synoptic: WaveField,
    synoptic_q: WaveField,
    temp_noise: WaveField,
    cloud_noise: WaveField,
    rain: WaveField,
    wind_noise: WaveField,
    humid_noise: WaveField,
}

/// Precipitation threshold on the standardised rain field and rate per unit excess.
const RAIN_THRESHOLD: f64 = 1.0;
const RAIN_MM_PER_DAY_PER_UNIT: f64 = 32.0;

impl WeatherGenerator {
    /// A generator centred on (lat0, lon0) whose fields start at `origin`.
    pub fn new(seed: u64, lat0: f64, lon0: f64, origin: NaiveDateTime) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // Eastward-travelling synoptic waves, 2500-4500 km at ~8-11 m/s: periods of 3-6 days.
        let synoptic = WaveField::new(&mut rng, 3, (2500.0, 4500.0), (34.0, 3.0), 0.0, true);
        let mut synoptic_q = synoptic.clone();
        for m in &mut synoptic_q.modes {
            m.2 += 0.5 * PI; // quarter-wave shift: warm, moist sector ahead of the low
        }
        let temp_noise = WaveField::new(&mut rng, 16, (400.0, 1500.0), (30.0, 0.0), 96.0, false);
        let cloud_noise = WaveField::new(&mut rng, 24, (250.0, 1000.0), (32.0, 2.0), 48.0, false);
        let rain = WaveField::new(&mut rng, 32, (120.0, 600.0), (36.0, 4.0), 24.0, false);
        let wind_noise = WaveField::new(&mut rng, 16, (300.0, 1200.0), (30.0, 0.0), 36.0, false);
        let humid_noise = WaveField::new(&mut rng, 16, (300.0, 1200.0), (30.0, 0.0), 72.0, false);
        Self {
            origin,
            lat0,
            lon0,
            synoptic,
            synoptic_q,
            temp_noise,
            cloud_noise,
            rain,
            wind_noise,
            humid_noise,
        }
    }

    fn xy(&self, lat: f64, lon: f64) -> (f64, f64) {
        let dlon = (lon - self.lon0 + 180.0).rem_euclid(360.0) - 180.0;
        (
            KM_PER_DEG * self.lat0.to_radians().cos() * dlon,
            KM_PER_DEG * (lat - self.lat0),
        )
    }

    /// Instantaneous state at a place (degrees, elevation m) and time.
    pub fn point(&self, lat: f64, lon: f64, elevation: f64, t: NaiveDateTime) -> WeatherPoint {
        let (x, y) = self.xy(lat, lon);
        let th = self.hours(t);
        let w = [
            self.synoptic.at(x, y, th),
            self.synoptic_q.at(x, y, th),
            self.temp_noise.at(x, y, th),
            self.cloud_noise.at(x, y, th),
            self.rain.at(x, y, th),
            self.wind_noise.at(x, y, th),
            self.humid_noise.at(x, y, th),
        ];
        compose(lat, lon, elevation, t, w)
    }

    fn hours(&self, t: NaiveDateTime) -> f64 {
        (t - self.origin).num_seconds() as f64 / 3600.0
    }

    /// States on a lat-lon grid (row-major [lat][lon]) at time `t`.
    pub fn grid(
        &self,
        lat: &[f64],
        lon: &[f64],
        elevation: Option<&[f64]>,
        t: NaiveDateTime,
    ) -> Vec<WeatherPoint> {
        let xs: Vec<f64> = lon.iter().map(|&l| self.xy(self.lat0, l).0).collect();
        let ys: Vec<f64> = lat.iter().map(|&l| self.xy(l, self.lon0).1).collect();
        let th = self.hours(t);
        let fields = [
            self.synoptic.grid(&xs, &ys, th),
            self.synoptic_q.grid(&xs, &ys, th),
            self.temp_noise.grid(&xs, &ys, th),
            self.cloud_noise.grid(&xs, &ys, th),
            self.rain.grid(&xs, &ys, th),
            self.wind_noise.grid(&xs, &ys, th),
            self.humid_noise.grid(&xs, &ys, th),
        ];
        let mut out = Vec::with_capacity(lat.len() * lon.len());
        for (j, &la) in lat.iter().enumerate() {
            for (i, &lo) in lon.iter().enumerate() {
                let c = j * lon.len() + i;
                let w = std::array::from_fn(|k| fields[k][c]);
                out.push(compose(
                    la,
                    lo,
                    elevation.map(|e| e[c]).unwrap_or(0.0),
                    t,
                    w,
                ));
            }
        }
        out
    }

    /// Mean downward shortwave (W m-2) over [t1, t2] with cloud fraction `cloud`.
    pub fn shortwave_mean(
        &self,
        lat: f64,
        lon: f64,
        t1: NaiveDateTime,
        t2: NaiveDateTime,
        cloud: f64,
    ) -> f64 {
        let mid = t1 + (t2 - t1) / 2;
        let mu = solar::mean_cos_zenith(t1, t2, lat, lon, mid);
        let transmittance = 0.75 * (1.0 - 0.72 * cloud);
        SOLAR_CONSTANT * solar::eccentricity_factor(mid) * mu * transmittance
    }

    /// Downward longwave (W m-2) from temperature, humidity and cloud.
    pub fn longwave(p: &WeatherPoint) -> f64 {
        let e_hpa = p.relative_humidity * saturation_vapour_pressure(p.air_temperature) / 100.0;
        let clear = 1.24 * (e_hpa / p.air_temperature).powf(1.0 / 7.0);
        let emissivity = clear + (1.0 - clear) * 0.9 * p.cloud;
        emissivity * STEFAN_BOLTZMANN * p.air_temperature.powi(4)
    }
}

/// The state from the standardised random fields `w` = [synoptic, synoptic quarter-wave,
/// temperature noise, cloud noise, rain, wind noise, humidity noise] at one place and time.
fn compose(lat: f64, lon: f64, elevation: f64, t: NaiveDateTime, w: [f64; 7]) -> WeatherPoint {
    let [s, sq, temp_noise, cloud_noise, rain, wind_noise, humid_noise] = w;
    // s > 0: low pressure, unsettled; sq > 0: warm, moist sector.
    let cloud = logistic(1.6 * (0.7 * s + 0.25 * sq + 0.6 * cloud_noise) - 0.3);

    // Temperature: seasonal climate, lapse rate, synoptic and mesoscale anomalies, and a
    // diurnal cycle peaking at 15 h local solar time, damped by cloud.
    let doy = t.ordinal() as f64;
    let base = 299.0 - 0.45 * (lat.abs() - 10.0).max(0.0) - 0.0065 * elevation;
    let seasonal = -0.35 * lat.abs() * (2.0 * PI * (doy - 20.0) / 365.25).cos() * lat.signum();
    let sp = solar::solar_position(t, lat, lon);
    let diurnal_amp = 5.5 * (1.0 - 0.6 * cloud);
    let diurnal = (sp.hour_angle - PI / 4.0).cos();
    let air_temperature = base + seasonal + 3.5 * sq + 1.5 * temp_noise + diurnal_amp * diurnal;

    let pressure_sl = 101_325.0 - 1_100.0 * s;
    let surface_pressure = pressure_sl * (-elevation / 8_400.0).exp();

    let z = (0.8 * rain + 0.45 * s + 0.25 * sq) / 0.95;
    let excess = (z - RAIN_THRESHOLD).max(0.0);
    let precipitation = RAIN_MM_PER_DAY_PER_UNIT * excess / 86_400.0;

    let mut rh = 0.55 + 0.12 * s + 0.12 * sq + 0.2 * cloud + 0.08 * humid_noise
        - 0.12 * diurnal * (1.0 - cloud);
    if precipitation > 0.0 {
        rh = rh.max(0.9);
    }
    let relative_humidity = rh.clamp(0.15, 0.97);
    let e = relative_humidity * saturation_vapour_pressure(air_temperature);
    let specific_humidity = 0.622 * e / (surface_pressure - 0.378 * e);

    let wind_speed = 1.0 + 9.0 * logistic(0.9 * wind_noise + 0.6 * s + 0.5 * diurnal - 0.4);
    WeatherPoint {
        air_temperature,
        specific_humidity,
        surface_pressure,
        wind_speed,
        cloud,
        precipitation,
        relative_humidity,
    }
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Saturation vapour pressure over water (Pa), Bolton (1980).
pub fn saturation_vapour_pressure(t_kelvin: f64) -> f64 {
    611.2 * (17.67 * (t_kelvin - 273.15) / (t_kelvin - 29.65)).exp()
}

/// The seven GLDAS fields of one file, row-major [lat][lon].
#[derive(Debug, Clone, PartialEq)]
pub struct WeatherFields {
    pub time: NaiveDateTime,
    pub tair: Vec<f32>,
    pub qair: Vec<f32>,
    pub psurf: Vec<f32>,
    pub wind: Vec<f32>,
    pub rainf: Vec<f32>,
    pub swdown: Vec<f32>,
    pub lwdown: Vec<f32>,
}

fn validate(cfg: &WeatherConfig) -> Result<(), WeatherError> {
    let bad = |m: &str| Err(WeatherError::Config(m.to_string()));
    if cfg.lat.is_empty() || cfg.lon.is_empty() {
        return bad("empty latitude or longitude vector");
    }
    if cfg.lat.iter().chain(&cfg.lon).any(|v| !v.is_finite())
        || cfg.lat.iter().any(|v| v.abs() > 90.0)
    {
        return bad("invalid latitude or longitude value");
    }
    if cfg.interval_seconds <= 0 || 86_400 % cfg.interval_seconds != 0 {
        return bad("interval_seconds must be positive and divide a day");
    }
    if let Some(e) = &cfg.elevation {
        if e.len() != cfg.lat.len() * cfg.lon.len() {
            return Err(WeatherError::Config(format!(
                "elevation has {} values, grid has {}",
                e.len(),
                cfg.lat.len() * cfg.lon.len()
            )));
        }
    }
    let mut s = String::new();
    if write!(s, "{}", cfg.start.format(&cfg.file_template)).is_err() {
        return Err(WeatherError::Config(format!(
            "invalid strftime template \"{}\"",
            cfg.file_template
        )));
    }
    Ok(())
}

fn generator_for(cfg: &WeatherConfig) -> WeatherGenerator {
    let lat0 = 0.5 * (cfg.lat[0] + cfg.lat[cfg.lat.len() - 1]);
    let lon0 = 0.5 * (cfg.lon[0] + cfg.lon[cfg.lon.len() - 1]);
    // Fields are anchored at a fixed epoch so that a run split into several calls (different
    // `start`) produces identical files.
    let origin = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap().into();
    WeatherGenerator::new(cfg.seed, lat0, lon0, origin)
}

/// Fields of the file valid at `time` (instantaneous at `time`, period means over the
/// interval ending at `time`).
pub fn weather_fields(
    cfg: &WeatherConfig,
    time: NaiveDateTime,
) -> Result<WeatherFields, WeatherError> {
    validate(cfg)?;
    Ok(fields_with(&generator_for(cfg), cfg, time))
}

fn fields_with(g: &WeatherGenerator, cfg: &WeatherConfig, time: NaiveDateTime) -> WeatherFields {
    let n = cfg.lat.len() * cfg.lon.len();
    let mut f = WeatherFields {
        time,
        tair: Vec::with_capacity(n),
        qair: Vec::with_capacity(n),
        psurf: Vec::with_capacity(n),
        wind: Vec::with_capacity(n),
        rainf: Vec::with_capacity(n),
        swdown: Vec::with_capacity(n),
        lwdown: Vec::with_capacity(n),
    };
    let t_start = time - Duration::seconds(cfg.interval_seconds);
    let t_mid = time - Duration::seconds(cfg.interval_seconds / 2);
    let elev = cfg.elevation.as_deref();
    let now = g.grid(&cfg.lat, &cfg.lon, elev, time);
    // Period means are represented by the state at the middle of the period.
    let mid = g.grid(&cfg.lat, &cfg.lon, elev, t_mid);
    for (j, &lat) in cfg.lat.iter().enumerate() {
        for (i, &lon) in cfg.lon.iter().enumerate() {
            let c = j * cfg.lon.len() + i;
            let (now, mid) = (&now[c], &mid[c]);
            f.tair.push(now.air_temperature as f32);
            f.qair.push(now.specific_humidity as f32);
            f.psurf.push(now.surface_pressure as f32);
            f.wind.push(now.wind_speed as f32);
            f.rainf.push(mid.precipitation as f32);
            f.swdown
                .push(g.shortwave_mean(lat, lon, t_start, time, mid.cloud) as f32);
            f.lwdown.push(WeatherGenerator::longwave(mid) as f32);
        }
    }
    f
}

/// Write `cfg.n_files` files from `cfg.start` every `cfg.interval_seconds`; returns their paths.
pub fn write_weather_files(cfg: &WeatherConfig) -> Result<Vec<PathBuf>, WeatherError> {
    validate(cfg)?;
    let g = generator_for(cfg);
    let mut paths = Vec::with_capacity(cfg.n_files);
    for k in 0..cfg.n_files {
        let time = cfg.start + Duration::seconds(cfg.interval_seconds * k as i64);
        let mut name = String::new();
        let _ = write!(name, "{}", time.format(&cfg.file_template));
        let path = cfg.output_dir.join(name);
        let fields = fields_with(&g, cfg, time);
        write_file(&path, cfg, &fields)?;
        paths.push(path);
    }
    Ok(paths)
}

/// Write one file atomically: temporary name in the same directory, fsync, rename.
pub fn write_file(path: &Path, cfg: &WeatherConfig, f: &WeatherFields) -> Result<(), WeatherError> {
    let io_err = |source| WeatherError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io_err)?;
    let file_name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.tmp{}", std::process::id()));
    let result = write_netcdf(&tmp, cfg, f).and_then(|_| {
        std::fs::File::open(&tmp)
            .and_then(|h| h.sync_all())
            .map_err(io_err)?;
        std::fs::rename(&tmp, path).map_err(io_err)?;
        // Persist the rename itself.
        std::fs::File::open(dir)
            .and_then(|h| h.sync_all())
            .map_err(io_err)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// (name, units, standard_name, long_name, period mean?, data)
type VarDesc<'a> = (&'a str, &'a str, &'a str, &'a str, bool, &'a Vec<f32>);

fn write_netcdf(tmp: &Path, cfg: &WeatherConfig, f: &WeatherFields) -> Result<(), WeatherError> {
    let nc = |source| WeatherError::Netcdf {
        path: tmp.to_path_buf(),
        source,
    };
    let (nlat, nlon) = (cfg.lat.len(), cfg.lon.len());
    // HDF5 prints probing failures that netCDF-C handles itself; per-thread, so silence here.
    hdf5::silence_errors(true);
    let mut file = netcdf::create(tmp).map_err(nc)?;
    file.add_dimension("lon", nlon).map_err(nc)?;
    file.add_dimension("lat", nlat).map_err(nc)?;
    file.add_unlimited_dimension("time").map_err(nc)?;
    file.add_dimension("bnds", 2).map_err(nc)?;
    let epoch: NaiveDateTime = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap().into();
    let minutes = |t: NaiveDateTime| (t - epoch).num_seconds() as f64 / 60.0;
    {
        let mut v = file.add_variable::<f64>("lat", &["lat"]).map_err(nc)?;
        v.put_attribute("units", "degrees_north").map_err(nc)?;
        v.put_attribute("standard_name", "latitude").map_err(nc)?;
        v.put_attribute("long_name", "latitude").map_err(nc)?;
        v.put_attribute("axis", "Y").map_err(nc)?;
        v.put_values(&cfg.lat, ..).map_err(nc)?;
    }
    {
        let mut v = file.add_variable::<f64>("lon", &["lon"]).map_err(nc)?;
        v.put_attribute("units", "degrees_east").map_err(nc)?;
        v.put_attribute("standard_name", "longitude").map_err(nc)?;
        v.put_attribute("long_name", "longitude").map_err(nc)?;
        v.put_attribute("axis", "X").map_err(nc)?;
        v.put_values(&cfg.lon, ..).map_err(nc)?;
    }
    {
        let mut v = file.add_variable::<f64>("time", &["time"]).map_err(nc)?;
        v.put_attribute("units", "minutes since 2000-01-01 00:00:00")
            .map_err(nc)?;
        v.put_attribute("standard_name", "time").map_err(nc)?;
        v.put_attribute("calendar", "standard").map_err(nc)?;
        v.put_attribute("axis", "T").map_err(nc)?;
        v.put_attribute("bounds", "time_bnds").map_err(nc)?;
        v.put_values(&[minutes(f.time)], 0..1).map_err(nc)?;
    }
    {
        let mut v = file
            .add_variable::<f64>("time_bnds", &["time", "bnds"])
            .map_err(nc)?;
        let t0 = f.time - Duration::seconds(cfg.interval_seconds);
        v.put_values(&[minutes(t0), minutes(f.time)], [0..1, 0..2])
            .map_err(nc)?;
    }
    let vars: [VarDesc<'_>; 7] = [
        (
            "Tair_f_inst",
            "K",
            "air_temperature",
            "Temperature",
            false,
            &f.tair,
        ),
        (
            "Qair_f_inst",
            "kg kg-1",
            "specific_humidity",
            "Specific humidity",
            false,
            &f.qair,
        ),
        (
            "Psurf_f_inst",
            "Pa",
            "surface_air_pressure",
            "Pressure",
            false,
            &f.psurf,
        ),
        (
            "Wind_f_inst",
            "m s-1",
            "wind_speed",
            "Wind speed",
            false,
            &f.wind,
        ),
        (
            "Rainf_f_tavg",
            "kg m-2 s-1",
            "precipitation_flux",
            "Total precipitation rate",
            true,
            &f.rainf,
        ),
        (
            "SWdown_f_tavg",
            "W m-2",
            "surface_downwelling_shortwave_flux_in_air",
            "Downward short-wave radiation flux",
            true,
            &f.swdown,
        ),
        (
            "LWdown_f_tavg",
            "W m-2",
            "surface_downwelling_longwave_flux_in_air",
            "Downward long-wave radiation flux",
            true,
            &f.lwdown,
        ),
    ];
    for (name, units, std_name, long_name, mean, data) in vars {
        let mut v = file
            .add_variable::<f32>(name, &["time", "lat", "lon"])
            .map_err(nc)?;
        v.set_compression(4, true).map_err(nc)?;
        v.set_chunking(&[1, nlat, nlon]).map_err(nc)?;
        v.set_fill_value(FILL).map_err(nc)?;
        v.put_attribute("units", units).map_err(nc)?;
        v.put_attribute("standard_name", std_name).map_err(nc)?;
        v.put_attribute("long_name", long_name).map_err(nc)?;
        v.put_attribute("missing_value", FILL).map_err(nc)?;
        v.put_attribute(
            "cell_methods",
            if mean { "time: mean" } else { "time: point" },
        )
        .map_err(nc)?;
        v.put_values(data.as_slice(), [0..1, 0..nlat, 0..nlon])
            .map_err(nc)?;
    }
    file.add_attribute("Conventions", "CF-1.8").map_err(nc)?;
    file.add_attribute(
        "title",
        "landcycle synthetic weather (GLDAS-2.1 forcing layout) - SYNTHETIC, not observations",
    )
    .map_err(nc)?;
    file.add_attribute("institution", "landcycle synthetic case generator")
        .map_err(nc)?;
    file.add_attribute(
        "source",
        format!(
            "landcycle synth::weather, seed {}: travelling random Fourier modes, real solar geometry",
            cfg.seed
        ),
    )
    .map_err(nc)?;
    file.add_attribute(
        "tavg_definition",
        format!(
            "past {}-minute average (interval ending at the file time)",
            cfg.interval_seconds / 60
        ),
    )
    .map_err(nc)?;
    file.add_attribute("inst_definition", "instantaneous at the file time")
        .map_err(nc)?;
    file.close().map_err(nc)?;
    Ok(())
}
