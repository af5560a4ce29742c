//! WRF files for tests without WRF: `wrfout_d01_<date>` history files and a `wrfinput_d01`
//! on a WPS domain (its `geo_em` file), following WRF's conventions: dimensions Time
//! (unlimited), DateStrLen, south_north, west_east, soil_layers_stag; the `Times` character
//! variable and XTIME (minutes since the run start); variable attributes FieldType,
//! MemoryOrder, description, units, stagger, coordinates; global attributes START_DATE,
//! SIMULATION_START_DATE, BUCKET_MM and the map projection of the domain; Q2 a mixing ratio;
//! RAINC/RAINNC/RAINSH accumulated since the run start, with bucket counters I_RAINC and
//! I_RAINNC when a bucket is set. Files are 64-bit-offset netCDF (WRF's io_form 2).
//!
//! Accumulations are multiples of 2⁻⁶ mm and the bucket a whole number of mm, so sums and
//! differences of them are exact in f64 (the tests compare rates bit for bit).

use crate::forcing::solar::cos_zenith;
use crate::io::wrf_out::{WrfError, WRF_TIME_FORMAT};
use chrono::{Duration, NaiveDateTime, Timelike};
use netcdf::types::NcVariableType;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A WRF domain: the mass grid and the statics `wrfinput` carries, from a `geo_em` file.
#[derive(Debug, Clone, PartialEq)]
pub struct WrfDomain {
    pub ny: usize,
    pub nx: usize,
    pub xlat: Vec<f32>,
    pub xlong: Vec<f32>,
    pub landmask: Vec<f32>,
    /// Dominant soil class (STAS) and land use.
    pub isltyp: Vec<i32>,
    pub ivgtyp: Vec<i32>,
    pub hgt: Vec<f32>,
    /// The geo_em global attributes (projection, grid dimensions, land-use indices).
    attributes: Vec<(String, netcdf::AttributeValue)>,
}

/// One WRF run: its start, output interval, precipitation parts and buckets.
#[derive(Debug, Clone, PartialEq)]
pub struct WrfRun {
    /// SIMULATION_START_DATE (and START_DATE).
    pub start: NaiveDateTime,
    pub interval: Duration,
    /// bucket_mm of the run (BUCKET_MM, with I_RAINC/I_RAINNC); None: -1, no counters.
    pub bucket_mm: Option<f32>,
    /// Write RAINC (a cumulus scheme is on) and RAINSH (shallow cumulus).
    pub rainc: bool,
    pub rainsh: bool,
    /// Write `Times` (else only XTIME carries the time).
    pub times_variable: bool,
}

/// The surface fields of one output time (WRF units; accumulations without buckets).
#[derive(Debug, Clone, PartialEq)]
pub struct WrfOutFields {
    pub t2: Vec<f32>,
    pub q2: Vec<f32>,
    pub psfc: Vec<f32>,
    pub u10: Vec<f32>,
    pub v10: Vec<f32>,
    pub swdown: Vec<f32>,
    pub glw: Vec<f32>,
    pub rainc: Vec<f32>,
    pub rainnc: Vec<f32>,
    pub rainsh: Vec<f32>,
}

/// netCDF's `char`, for `Times`.
#[repr(transparent)]
#[derive(Clone, Copy)]
struct NcChar(u8);

// SAFETY: NcChar is one byte, exactly the memory layout of NC_CHAR.
unsafe impl netcdf::NcTypeDescriptor for NcChar {
    fn type_descriptor() -> NcVariableType {
        NcVariableType::Char
    }
}

fn nc<'a>(path: &'a Path, what: &'a str) -> impl FnOnce(netcdf::Error) -> WrfError + 'a {
    WrfError::nc(path, what)
}

impl WrfDomain {
    pub fn from_geo_em(path: &Path) -> Result<Self, WrfError> {
        let file = netcdf::open(path).map_err(nc(path, "opening geo_em"))?;
        let get = |name: &str| -> Result<Vec<f32>, WrfError> {
            file.variable(name)
                .ok_or_else(|| WrfError::var(path, name, "not in the file"))?
                .get_values::<f32, _>(..)
                .map_err(WrfError::nc(path, format!("reading {name}")))
        };
        let ny = file.dimension_len("south_north").unwrap_or(0);
        let nx = file.dimension_len("west_east").unwrap_or(0);
        let attributes = file
            .attributes()
            .filter(|a| !matches!(a.name(), "TITLE" | "SIMULATION_START_DATE"))
            .map(|a| {
                Ok((
                    a.name().to_string(),
                    a.value().map_err(nc(path, "attribute"))?,
                ))
            })
            .collect::<Result<_, WrfError>>()?;
        Ok(Self {
            ny,
            nx,
            xlat: get("XLAT_M")?,
            xlong: get("XLONG_M")?,
            landmask: get("LANDMASK")?,
            isltyp: get("SCT_DOM")?.iter().map(|&x| x as i32).collect(),
            ivgtyp: get("LU_INDEX")?.iter().map(|&x| x as i32).collect(),
            hgt: get("HGT_M")?,
            attributes,
        })
    }

    fn n(&self) -> usize {
        self.ny * self.nx
    }
}

/// Accumulation of rate `mm_per_h` over `hours` with a 6-hourly modulation, rounded down to
/// 2⁻⁶ mm (non-decreasing in time).
fn accumulated(mm_per_h: f64, hours: f64) -> f32 {
    let h = hours + 0.5 * (std::f64::consts::TAU * hours / 6.0).sin();
    ((64.0 * mm_per_h * h).floor() / 64.0) as f32
}

/// Deterministic weather of the run at `time` on every cell.
pub fn wrfout_fields(domain: &WrfDomain, run: &WrfRun, time: NaiveDateTime) -> WrfOutFields {
    let hours = (time - run.start).num_seconds() as f64 / 3600.0;
    let utc = time.hour() as f64 + time.minute() as f64 / 60.0;
    let n = domain.n();
    let mut f = WrfOutFields {
        t2: Vec::with_capacity(n),
        q2: Vec::with_capacity(n),
        psfc: Vec::with_capacity(n),
        u10: Vec::with_capacity(n),
        v10: Vec::with_capacity(n),
        swdown: Vec::with_capacity(n),
        glw: Vec::with_capacity(n),
        rainc: Vec::with_capacity(n),
        rainnc: Vec::with_capacity(n),
        rainsh: Vec::with_capacity(n),
    };
    for k in 0..n {
        let (lat, lon) = (domain.xlat[k] as f64, domain.xlong[k] as f64);
        let phase = std::f64::consts::TAU * (utc + lon / 15.0 - 9.0) / 24.0;
        let spot = (k as f64 * 0.618_033_988_7).fract();
        f.t2.push((296.0 + 6.0 * phase.sin() + 2.0 * spot) as f32);
        f.q2.push((0.016 + 0.002 * phase.cos() + 0.001 * spot) as f32);
        f.psfc
            .push((97_000.0 - 0.11 * domain.hgt[k] as f64 * 100.0 + 150.0 * phase.cos()) as f32);
        f.u10.push((3.0 * (phase + spot).cos()) as f32);
        f.v10.push((-2.0 + 1.5 * (phase - spot).sin()) as f32);
        let mu = cos_zenith(time, lat, lon).max(0.0);
        f.swdown.push((1000.0 * mu * (0.6 + 0.3 * spot)) as f32);
        f.glw
            .push((410.0 + 25.0 * phase.sin() - 10.0 * spot) as f32);
        let wet = if spot > 0.4 { 3.0 * spot } else { 0.0 };
        f.rainnc.push(accumulated(wet, hours));
        f.rainc.push(if run.rainc {
            accumulated(1.5 * wet * spot, hours)
        } else {
            0.0
        });
        f.rainsh.push(if run.rainsh {
            accumulated(0.25 * spot, hours)
        } else {
            0.0
        });
    }
    f
}

/// Values waiting for the end of define mode (classic files take data only in data mode).
enum Data {
    F32(Vec<f32>),
    I32(Vec<i32>),
    Char(Vec<NcChar>),
}

/// A WRF-style file being built: variables are defined first, their values written at the end.
struct Writer<'p> {
    f: netcdf::FileMut,
    path: &'p Path,
    ny: usize,
    nx: usize,
    pending: Vec<(String, Data, Vec<Range<usize>>)>,
}

impl<'p> Writer<'p> {
    /// The dimensions, Times/XTIME, XLAT/XLONG and the global attributes of both kinds of file.
    fn create(
        path: &'p Path,
        domain: &WrfDomain,
        run: &WrfRun,
        time: NaiveDateTime,
        title: &str,
    ) -> Result<Self, WrfError> {
        let mut f = netcdf::create_with(path, netcdf::Options::_64BIT_OFFSET)
            .map_err(nc(path, "creating"))?;
        f.add_unlimited_dimension("Time")
            .map_err(nc(path, "Time"))?;
        f.add_dimension("DateStrLen", 19)
            .map_err(nc(path, "DateStrLen"))?;
        f.add_dimension("west_east", domain.nx)
            .map_err(nc(path, "west_east"))?;
        f.add_dimension("south_north", domain.ny)
            .map_err(nc(path, "south_north"))?;
        f.add_dimension("soil_layers_stag", 4)
            .map_err(nc(path, "soil_layers_stag"))?;
        f.add_attribute("TITLE", title).map_err(nc(path, "TITLE"))?;
        let start = run.start.format(WRF_TIME_FORMAT).to_string();
        f.add_attribute("START_DATE", start.as_str())
            .map_err(nc(path, "START_DATE"))?;
        f.add_attribute("SIMULATION_START_DATE", start.as_str())
            .map_err(nc(path, "SIMULATION_START_DATE"))?;
        f.add_attribute("BUCKET_MM", run.bucket_mm.unwrap_or(-1.0))
            .map_err(nc(path, "BUCKET_MM"))?;
        f.add_attribute("BUCKET_J", -1.0f32)
            .map_err(nc(path, "BUCKET_J"))?;
        for (name, value) in &domain.attributes {
            f.add_attribute(name, value.clone())
                .map_err(nc(path, name))?;
        }
        let mut w = Writer {
            f,
            path,
            ny: domain.ny,
            nx: domain.nx,
            pending: Vec::new(),
        };
        if run.times_variable {
            w.f.add_variable::<NcChar>("Times", &["Time", "DateStrLen"])
                .map_err(nc(path, "Times"))?;
            let stamp = time
                .format(WRF_TIME_FORMAT)
                .to_string()
                .bytes()
                .map(NcChar)
                .collect();
            w.pending
                .push(("Times".into(), Data::Char(stamp), vec![0..1, 0..19]));
        }
        let since = format!("minutes since {}", run.start.format("%Y-%m-%d %H:%M:%S"));
        let minutes = (time - run.start).num_minutes() as f32;
        w.define::<f32>("XTIME", &["Time"], ("0  ", &since, &since, ""))?;
        w.pending.push((
            "XTIME".into(),
            Data::F32(vec![minutes]),
            std::iter::once(0..1).collect(),
        ));
        w.put_2d(
            "XLAT",
            &domain.xlat,
            "LATITUDE, SOUTH IS NEGATIVE",
            "degree_north",
        )?;
        w.put_2d(
            "XLONG",
            &domain.xlong,
            "LONGITUDE, WEST IS NEGATIVE",
            "degree_east",
        )?;
        Ok(w)
    }

    /// A variable with WRF's attributes: (MemoryOrder, description, units, stagger).
    fn define<T: netcdf::NcTypeDescriptor>(
        &mut self,
        name: &str,
        dims: &[&str],
        (order, description, units, stagger): (&str, &str, &str, &str),
    ) -> Result<(), WrfError> {
        let path = self.path;
        let mut v = self
            .f
            .add_variable::<T>(name, dims)
            .map_err(nc(path, name))?;
        let field_type =
            if T::type_descriptor() == <i32 as netcdf::NcTypeDescriptor>::type_descriptor() {
                106
            } else {
                104
            };
        let err = |e| WrfError::nc(path, format!("attributes of {name}"))(e);
        v.put_attribute("FieldType", field_type).map_err(err)?;
        v.put_attribute("MemoryOrder", order).map_err(err)?;
        v.put_attribute("description", description).map_err(err)?;
        v.put_attribute("units", units).map_err(err)?;
        v.put_attribute("stagger", stagger).map_err(err)?;
        if order.starts_with("XY") {
            v.put_attribute("coordinates", "XLONG XLAT XTIME")
                .map_err(err)?;
        }
        Ok(())
    }

    fn put_2d(
        &mut self,
        name: &str,
        values: &[f32],
        description: &str,
        units: &str,
    ) -> Result<(), WrfError> {
        let dims = ["Time", "south_north", "west_east"];
        self.define::<f32>(name, &dims, ("XY ", description, units, ""))?;
        let ext = vec![0..1, 0..self.ny, 0..self.nx];
        self.pending
            .push((name.into(), Data::F32(values.to_vec()), ext));
        Ok(())
    }

    fn put_2d_int(
        &mut self,
        name: &str,
        values: &[i32],
        description: &str,
    ) -> Result<(), WrfError> {
        let dims = ["Time", "south_north", "west_east"];
        self.define::<i32>(name, &dims, ("XY ", description, "", ""))?;
        let ext = vec![0..1, 0..self.ny, 0..self.nx];
        self.pending
            .push((name.into(), Data::I32(values.to_vec()), ext));
        Ok(())
    }

    fn put_soil(
        &mut self,
        name: &str,
        values: Vec<f32>,
        description: &str,
        units: &str,
    ) -> Result<(), WrfError> {
        let dims = ["Time", "soil_layers_stag", "south_north", "west_east"];
        self.define::<f32>(name, &dims, ("XYZ", description, units, "Z"))?;
        let ext = vec![0..1, 0..4, 0..self.ny, 0..self.nx];
        self.pending.push((name.into(), Data::F32(values), ext));
        Ok(())
    }

    fn put_layers(
        &mut self,
        name: &str,
        values: [f32; 4],
        description: &str,
    ) -> Result<(), WrfError> {
        self.define::<f32>(
            name,
            &["Time", "soil_layers_stag"],
            ("Z  ", description, "m", "Z"),
        )?;
        self.pending
            .push((name.into(), Data::F32(values.to_vec()), vec![0..1, 0..4]));
        Ok(())
    }

    /// Leave define mode, write every value, close.
    fn finish(mut self) -> Result<(), WrfError> {
        let path = self.path;
        self.f.enddef().map_err(nc(path, "enddef"))?;
        for (name, data, ext) in std::mem::take(&mut self.pending) {
            let mut v = self
                .f
                .variable_mut(&name)
                .ok_or_else(|| WrfError::var(path, &name, "not defined"))?;
            let r = match &data {
                Data::F32(x) => v.put_values(x, ext),
                Data::I32(x) => v.put_values(x, ext),
                Data::Char(x) => v.put_values(x, ext),
            };
            r.map_err(WrfError::nc(path, format!("writing {name}")))?;
        }
        self.f.close().map_err(nc(path, "closing"))
    }
}

/// Split an accumulation into WRF's bucket count and remainder.
fn bucketed(total: &[f32], bucket: Option<f32>) -> (Vec<f32>, Vec<i32>) {
    match bucket {
        Some(b) => total
            .iter()
            .map(|&t| {
                let n = (t / b).floor();
                (t - n * b, n as i32)
            })
            .unzip(),
        None => (total.to_vec(), vec![0; total.len()]),
    }
}

/// Write one `wrfout` file holding `fields` at `time`.
pub fn write_wrfout(
    path: &Path,
    domain: &WrfDomain,
    run: &WrfRun,
    time: NaiveDateTime,
    fields: &WrfOutFields,
) -> Result<(), WrfError> {
    let mut w = Writer::create(path, domain, run, time, " OUTPUT FROM WRF V4.5.2 MODEL")?;
    w.put_2d("T2", &fields.t2, "TEMP at 2 M", "K")?;
    w.put_2d("Q2", &fields.q2, "QV at 2 M", "kg kg-1")?;
    w.put_2d("PSFC", &fields.psfc, "SFC PRESSURE", "Pa")?;
    w.put_2d("U10", &fields.u10, "U at 10 M", "m s-1")?;
    w.put_2d("V10", &fields.v10, "V at 10 M", "m s-1")?;
    w.put_2d(
        "SWDOWN",
        &fields.swdown,
        "DOWNWARD SHORT WAVE FLUX AT GROUND SURFACE",
        "W m-2",
    )?;
    w.put_2d(
        "GLW",
        &fields.glw,
        "DOWNWARD LONG WAVE FLUX AT GROUND SURFACE",
        "W m-2",
    )?;
    let (rainnc, i_rainnc) = bucketed(&fields.rainnc, run.bucket_mm);
    w.put_2d(
        "RAINNC",
        &rainnc,
        "ACCUMULATED TOTAL GRID SCALE PRECIPITATION",
        "mm",
    )?;
    if run.rainc {
        let (rainc, i_rainc) = bucketed(&fields.rainc, run.bucket_mm);
        w.put_2d(
            "RAINC",
            &rainc,
            "ACCUMULATED TOTAL CUMULUS PRECIPITATION",
            "mm",
        )?;
        if run.bucket_mm.is_some() {
            w.put_2d_int("I_RAINC", &i_rainc, "BUCKET FOR RAINC")?;
        }
    }
    if run.rainsh {
        w.put_2d(
            "RAINSH",
            &fields.rainsh,
            "ACCUMULATED SHALLOW CUMULUS PRECIPITATION",
            "mm",
        )?;
    }
    if run.bucket_mm.is_some() {
        w.put_2d_int("I_RAINNC", &i_rainnc, "BUCKET FOR RAINNC")?;
    }
    w.put_2d(
        "LANDMASK",
        &domain.landmask,
        "LAND MASK (1 FOR LAND, 0 FOR WATER)",
        "",
    )?;
    w.finish()
}

/// Write the run's files `wrfout_d01_<time>` in `dir` from the start to `end` (inclusive).
pub fn write_wrfout_series(
    dir: &Path,
    domain: &WrfDomain,
    run: &WrfRun,
    end: NaiveDateTime,
) -> Result<Vec<PathBuf>, WrfError> {
    let mut out = Vec::new();
    let mut t = run.start;
    while t <= end {
        let path = dir.join(format!("wrfout_d01_{}", t.format(WRF_TIME_FORMAT)));
        write_wrfout(&path, domain, run, t, &wrfout_fields(domain, run, t))?;
        out.push(path);
        t += run.interval;
    }
    Ok(out)
}

/// Write a `wrfinput_d01` valid at `time` (real.exe's initial state: Noah's 4 layers, SMOIS 1
/// over water).
pub fn write_wrfinput(
    path: &Path,
    domain: &WrfDomain,
    time: NaiveDateTime,
) -> Result<(), WrfError> {
    let run = WrfRun {
        start: time,
        interval: Duration::hours(1),
        bucket_mm: None,
        rainc: false,
        rainsh: false,
        times_variable: true,
    };
    let mut w = Writer::create(
        path,
        domain,
        &run,
        time,
        " OUTPUT FROM REAL_EM V4.5.2 PREPROCESSOR",
    )?;
    let n = domain.n();
    let land = |k: usize| domain.landmask[k] == 1.0;
    let per_cell = |land_v: f32, water_v: f32| -> Vec<f32> {
        (0..n)
            .map(|k| {
                if land(k) {
                    land_v + 0.001 * (k % 7) as f32
                } else {
                    water_v
                }
            })
            .collect()
    };
    let layered = |top: f32, step: f32, water_v: f32| -> Vec<f32> {
        (0..4)
            .flat_map(|l| per_cell(top + step * l as f32, water_v))
            .collect()
    };
    w.put_layers("DZS", [0.1, 0.3, 0.6, 1.0], "THICKNESSES OF SOIL LAYERS")?;
    w.put_layers(
        "ZS",
        [0.05, 0.25, 0.7, 1.5],
        "DEPTHS OF CENTERS OF SOIL LAYERS",
    )?;
    let xland: Vec<f32> = domain
        .landmask
        .iter()
        .map(|&m| if m == 1.0 { 1.0 } else { 2.0 })
        .collect();
    w.put_2d(
        "LANDMASK",
        &domain.landmask,
        "LAND MASK (1 FOR LAND, 0 FOR WATER)",
        "",
    )?;
    w.put_2d("XLAND", &xland, "LAND MASK (1 FOR LAND, 2 FOR WATER)", "")?;
    w.put_2d_int("ISLTYP", &domain.isltyp, "DOMINANT SOIL CATEGORY")?;
    w.put_2d_int("IVGTYP", &domain.ivgtyp, "DOMINANT VEGETATION CATEGORY")?;
    w.put_2d("HGT", &domain.hgt, "Terrain Height", "m")?;
    w.put_soil("SMOIS", layered(0.30, 0.01, 1.0), "SOIL MOISTURE", "m3 m-3")?;
    w.put_soil(
        "SH2O",
        layered(0.28, 0.01, 1.0),
        "SOIL LIQUID WATER",
        "m3 m-3",
    )?;
    w.put_soil("TSLB", layered(299.0, -0.5, 300.0), "SOIL TEMPERATURE", "K")?;
    w.put_2d(
        "TSK",
        &per_cell(301.0, 300.5),
        "SURFACE SKIN TEMPERATURE",
        "K",
    )?;
    w.put_2d(
        "SNOW",
        &per_cell(0.0, 0.0),
        "SNOW WATER EQUIVALENT",
        "kg m-2",
    )?;
    w.put_2d("SNOWH", &per_cell(0.0, 0.0), "PHYSICAL SNOW DEPTH", "m")?;
    w.put_2d("CANWAT", &per_cell(0.1, 0.0), "CANOPY WATER", "kg m-2")?;
    w.put_2d("VEGFRA", &per_cell(60.0, 0.0), "VEGETATION FRACTION", "")?;
    w.put_2d("SST", &per_cell(0.0, 300.0), "SEA SURFACE TEMPERATURE", "K")?;
    w.finish()
}
