//! Writers of synthetic observation files in the **real product formats**, for the OSSE:
//! SMAP SPL2SMP-like HDF5 granules and EUMETSAT ASCAT SSM-like NetCDF-4 orbits. They take
//! plain arrays (the simulator decides values, errors and flags) and write the same groups,
//! names, types, fill values and key attributes as the real products, so that the cycle reads
//! them with the same readers (`obs::smap`, `obs::ascat`) as real files.
//!
//! Files are written to a temporary name in the target directory and renamed into place, so a
//! reader never sees a partial file. Differences from the real products: only the datasets
//! the readers and the QC use are written; text attributes are variable-length strings (the
//! real SMAP files use fixed-length ones); the metadata marks the file as synthetic.

use crate::obs::ease;
use crate::obs::smap::{utc_to_smap_seconds, FILL_F32, FILL_U16, GROUP};
use chrono::{NaiveDate, NaiveDateTime};
use hdf5::types::VarLenAscii;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Errors of the observation simulators' writers.
#[derive(Debug, Error)]
pub enum ObsSimError {
    /// File-system failure of the atomic write (names the file).
    #[error(transparent)]
    Io(#[from] crate::io::IoError),
    #[error("{path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error("{path}: invalid input: {message}")]
    Input { path: PathBuf, message: String },
}

fn werr(path: &Path, what: &str, e: impl std::fmt::Display) -> ObsSimError {
    ObsSimError::Write {
        path: path.to_path_buf(),
        message: format!("{what}: {e}"),
    }
}

/// Run `write` on a temporary file, fsync it and rename it over `path` (`io::atomic_write`).
fn write_atomically<F>(path: &Path, write: F) -> Result<(), ObsSimError>
where
    F: FnOnce(&Path) -> Result<(), ObsSimError>,
{
    crate::io::atomic_write(path, write)
}

/// One simulated SMAP retrieval (one 36 km EASE-Grid 2.0 cell of a half orbit).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimSmapRetrieval {
    pub lat: f64,
    pub lon: f64,
    pub ease_row: u16,
    pub ease_col: u16,
    /// Acquisition time (UTC).
    pub time: NaiveDateTime,
    /// m³ m⁻³; NaN writes the fill value.
    pub soil_moisture: f64,
    /// m³ m⁻³; NaN writes the fill value.
    pub error: f64,
    /// Bit 0 set = retrieval not recommended.
    pub qual_flag: u16,
    pub surface_flag: u16,
    /// Vegetation water content (kg m⁻²).
    pub vwc: f64,
    /// Surface temperature (K).
    pub surface_temperature: f64,
    /// Dominant IGBP land-cover class.
    pub landcover_class: u8,
}

impl SimSmapRetrieval {
    /// A recommended retrieval at the centre of EASE cell (row, col); `None` outside the grid.
    pub fn at_ease_cell(
        row: u16,
        col: u16,
        time: NaiveDateTime,
        soil_moisture: f64,
    ) -> Option<Self> {
        let (lat, lon) = ease::cell_center_36km(row as usize, col as usize)?;
        Some(SimSmapRetrieval {
            lat,
            lon,
            ease_row: row,
            ease_col: col,
            time,
            soil_moisture,
            error: f64::NAN,
            qual_flag: 0,
            surface_flag: 0,
            vwc: 1.0,
            surface_temperature: 295.0,
            landcover_class: 10,
        })
    }
}

fn f32_or_fill(v: f64) -> f32 {
    if v.is_finite() {
        v as f32
    } else {
        FILL_F32
    }
}

fn str_attr(loc: &hdf5::Location, name: &str, value: &str) -> hdf5::Result<()> {
    let v = VarLenAscii::from_ascii(value).map_err(|e| hdf5::Error::from(e.to_string()))?;
    loc.new_attr::<VarLenAscii>().create(name)?.write_scalar(&v)
}

fn num_attr<T: hdf5::H5Type>(loc: &hdf5::Location, name: &str, value: T) -> hdf5::Result<()> {
    loc.new_attr::<T>().create(name)?.write_scalar(&value)
}

const SMAP_COORDS: &str =
    "/Soil_Moisture_Retrieval_Data/latitude /Soil_Moisture_Retrieval_Data/longitude";

/// Write an SPL2SMP-like granule holding `retrievals`.
pub fn write_smap_like_granule(
    path: &Path,
    retrievals: &[SimSmapRetrieval],
) -> Result<(), ObsSimError> {
    for (i, r) in retrievals.iter().enumerate() {
        if r.ease_row as usize >= ease::ROWS_36KM || r.ease_col as usize >= ease::COLS_36KM {
            return Err(ObsSimError::Input {
                path: path.to_path_buf(),
                message: format!(
                    "retrieval {i}: EASE cell ({}, {}) outside 406×964",
                    r.ease_row, r.ease_col
                ),
            });
        }
    }
    write_atomically(path, |tmp| {
        write_smap_inner(tmp, retrievals).map_err(|e| werr(path, "HDF5", e))
    })
}

fn write_smap_inner(path: &Path, rs: &[SimSmapRetrieval]) -> hdf5::Result<()> {
    let n = rs.len();
    let file = hdf5::File::create(path)?;
    let meta = file.create_group("Metadata")?;
    let ident = meta.create_group("DatasetIdentification")?;
    str_attr(&ident, "shortName", "SPL2SMP")?;
    str_attr(&ident, "SMAPShortName", "L2_SM_P")?;
    str_attr(
        &ident,
        "abstract",
        "Synthetic SPL2SMP-like granule written by the landcycle OSSE observation simulator",
    )?;
    let extent = meta.create_group("Extent")?;
    let fmt = |t: NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    if let (Some(t0), Some(t1)) = (
        rs.iter().map(|r| r.time).min(),
        rs.iter().map(|r| r.time).max(),
    ) {
        str_attr(&extent, "rangeBeginningDateTime", &fmt(t0))?;
        str_attr(&extent, "rangeEndingDateTime", &fmt(t1))?;
    }
    let g = file.create_group(GROUP)?;

    let f32_ds = |name: &str,
                  vals: Vec<f32>,
                  long_name: &str,
                  units: Option<&str>,
                  vmin: f32,
                  vmax: f32|
     -> hdf5::Result<()> {
        let ds = g.new_dataset::<f32>().shape(n).create(name)?;
        ds.write_raw(&vals)?;
        num_attr(&ds, "_FillValue", FILL_F32)?;
        str_attr(&ds, "coordinates", SMAP_COORDS)?;
        str_attr(&ds, "long_name", long_name)?;
        if let Some(u) = units {
            str_attr(&ds, "units", u)?;
        }
        num_attr(&ds, "valid_max", vmax)?;
        num_attr(&ds, "valid_min", vmin)?;
        Ok(())
    };
    f32_ds(
        "soil_moisture",
        rs.iter().map(|r| f32_or_fill(r.soil_moisture)).collect(),
        "Representative soil moisture measurement for the Earth based grid cell.",
        Some("cm**3/cm**3"),
        0.02,
        0.5,
    )?;
    f32_ds(
        "soil_moisture_error",
        rs.iter().map(|r| f32_or_fill(r.error)).collect(),
        "Net uncertainty measure of soil moisture measure for the Earth based grid cell.",
        Some("cm**3/cm**3"),
        0.0,
        0.2,
    )?;
    f32_ds(
        "vegetation_water_content",
        rs.iter().map(|r| f32_or_fill(r.vwc)).collect(),
        "Representative measure of water in the vegetation within the 36 km grid cell.",
        Some("kg/m**2"),
        0.0,
        20.0,
    )?;
    f32_ds(
        "surface_temperature",
        rs.iter()
            .map(|r| f32_or_fill(r.surface_temperature))
            .collect(),
        "Temperature at land surface based on GMAO GEOS-5 data.",
        Some("Kelvins"),
        253.15,
        313.15,
    )?;

    let u16_ds = |name: &str,
                  vals: Vec<u16>,
                  long_name: &str,
                  flags: Option<(&str, &str)>,
                  range: Option<(u16, u16)>|
     -> hdf5::Result<()> {
        let ds = g.new_dataset::<u16>().shape(n).create(name)?;
        ds.write_raw(&vals)?;
        num_attr(&ds, "_FillValue", FILL_U16)?;
        str_attr(&ds, "coordinates", SMAP_COORDS)?;
        if let Some((masks, meanings)) = flags {
            str_attr(&ds, "flag_masks", masks)?;
            str_attr(&ds, "flag_meanings", meanings)?;
        }
        str_attr(&ds, "long_name", long_name)?;
        if let Some((lo, hi)) = range {
            num_attr(&ds, "valid_max", hi)?;
            num_attr(&ds, "valid_min", lo)?;
        }
        Ok(())
    };
    u16_ds(
        "retrieval_qual_flag",
        rs.iter().map(|r| r.qual_flag).collect(),
        "Bit flags that record the conditions and the quality of the retrieval algorithms that generate soil moisture within each grid cell",
        Some(("1s, 2s, 4s, 8s", "Soil_moisture_retrieval_recommended Soil_moisture_retrieval_attempted Soil_moisture_retrieval_success FT_retrieval_success")),
        None,
    )?;
    u16_ds(
        "surface_flag",
        rs.iter().map(|r| r.surface_flag).collect(),
        "Bit flags that record ambient surface conditions within each grid cell",
        Some(("1s, 2s, 4s, 8s, 16s, 32s, 64s, 128s, 256s, 512s, 1024s, 2048s", "36_km_static_water_body 36_km_radar_water_body_detection 36_km_coastal_proximity 36_km_urban_area 36_km_precipitation 36_km_snow_or_ice 36_km_permanent_snow_or_ice 36_km_radiometer_frozen_ground 36_km_model_frozen_ground 36_km_mountainous_terrain 36_km_dense_vegetation 36_km_nadir_region")),
        None,
    )?;
    u16_ds(
        "EASE_row_index",
        rs.iter().map(|r| r.ease_row).collect(),
        "The row index of the 36 km EASE grid cell that contains the associated data.",
        None,
        Some((0, 405)),
    )?;
    u16_ds(
        "EASE_column_index",
        rs.iter().map(|r| r.ease_col).collect(),
        "The column index of the 36 km EASE grid cell that contains the associated data.",
        None,
        Some((0, 963)),
    )?;

    for (name, vals, long, units) in [
        (
            "latitude",
            rs.iter().map(|r| r.lat as f32).collect::<Vec<_>>(),
            "Latitude of the center of the Earth based grid cell.",
            "degrees_north",
        ),
        (
            "longitude",
            rs.iter().map(|r| r.lon as f32).collect(),
            "Longitude of the center of the Earth based grid cell.",
            "degrees_east",
        ),
    ] {
        let ds = g.new_dataset::<f32>().shape(n).create(name)?;
        ds.write_raw(&vals)?;
        str_attr(&ds, "long_name", long)?;
        str_attr(&ds, "units", units)?;
    }

    let secs: Vec<f64> = rs.iter().map(|r| utc_to_smap_seconds(r.time)).collect();
    let ds = g.new_dataset::<f64>().shape(n).create("tb_time_seconds")?;
    ds.write_raw(&secs)?;
    num_attr(&ds, "_FillValue", FILL_F32 as f64)?;
    str_attr(&ds, "coordinates", SMAP_COORDS)?;
    str_attr(&ds, "long_name", "Arithmetic average of the acquisition time of all of the brightness temperature footprints with a center that falls within the EASE grid cell in seconds since noon on January 1, 2000 UTC.")?;
    str_attr(&ds, "units", "seconds")?;
    num_attr(&ds, "valid_max", 9.4e8f64)?;
    num_attr(&ds, "valid_min", -1.0e6f64)?;

    // UTC strings as the product carries them (here the correct UTC of each time).
    let utc: Vec<hdf5::types::FixedAscii<24>> = rs
        .iter()
        .map(|r| {
            let s = r.time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
            hdf5::types::FixedAscii::<24>::from_ascii(&s)
                .map_err(|e| hdf5::Error::from(e.to_string()))
        })
        .collect::<hdf5::Result<_>>()?;
    let ds = g
        .new_dataset::<hdf5::types::FixedAscii<24>>()
        .shape(n)
        .create("tb_time_utc")?;
    ds.write_raw(&utc)?;
    str_attr(&ds, "coordinates", SMAP_COORDS)?;
    str_attr(&ds, "long_name", "Arithmetic average of the acquisition time of all of the brightness temperature footprints with a center that falls within the EASE grid cell in UTC.")?;

    let lc: Vec<u8> = rs
        .iter()
        .flat_map(|r| [r.landcover_class, 254, 254])
        .collect();
    let ds = g
        .new_dataset::<u8>()
        .shape([n, 3])
        .create("landcover_class")?;
    ds.write_raw(&lc)?;
    num_attr(&ds, "_FillValue", 254u8)?;
    str_attr(&ds, "long_name", "An enumerated type that specifies the most common landcover class in the grid cell based on the IGBP landcover map.")?;
    let lcf: Vec<f32> = rs
        .iter()
        .flat_map(|_| [1.0f32, FILL_F32, FILL_F32])
        .collect();
    let ds = g
        .new_dataset::<f32>()
        .shape([n, 3])
        .create("landcover_class_fraction")?;
    ds.write_raw(&lcf)?;
    num_attr(&ds, "_FillValue", FILL_F32)?;
    str_attr(&ds, "long_name", "The fraction of the grid cell that contains the most common land cover in that area based on the IGBP landcover map.")?;
    num_attr(&ds, "valid_max", 1.0f32)?;
    num_attr(&ds, "valid_min", 0.0f32)?;
    file.close()?;
    Ok(())
}

/// The ASCAT swath product flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AscatProduct {
    /// 12.5 km swath grid (SMR).
    Smr,
    /// 25 km swath grid (SMO).
    Smo,
}

/// One simulated ASCAT orbit on a `n_rows × n_cells` swath grid; per-node arrays are
/// row-major (`k = row * n_cells + cell`).
#[derive(Debug, Clone, PartialEq)]
pub struct SimAscatOrbit {
    pub product: AscatProduct,
    /// Platform name for the metadata, e.g. "METOPA".
    pub platform: String,
    pub n_cells: usize,
    /// Time of each row (UTC, written in whole seconds since 2000-01-01).
    pub line_times: Vec<NaiveDateTime>,
    /// Degrees; NaN writes the missing value.
    pub lat: Vec<f64>,
    pub lon: Vec<f64>,
    /// % saturation (0–100); NaN writes 65535.
    pub soil_moisture: Vec<f64>,
    /// % saturation; NaN writes 65535.
    pub soil_moisture_error: Vec<f64>,
    /// Percentages (0–100), 255 = not available.
    pub snow_cover_probability: Vec<u8>,
    pub frozen_soil_probability: Vec<u8>,
    pub wetland_flag: Vec<u8>,
    pub topography_flag: Vec<u8>,
    pub proc_flag1: Vec<u8>,
    pub aggregated_quality_flag: Vec<u8>,
}

impl SimAscatOrbit {
    pub fn n_rows(&self) -> usize {
        self.line_times.len()
    }
}

fn packed_u16(v: f64, scale: f64) -> u16 {
    if v.is_finite() {
        (v / scale).round().clamp(0.0, 65534.0) as u16
    } else {
        crate::obs::ascat::MISSING_U16
    }
}

fn packed_i32(v: f64) -> i32 {
    if v.is_finite() {
        (v * 1.0e6).round() as i32
    } else {
        crate::obs::ascat::MISSING_I32
    }
}

/// Write an EUMETSAT-SSM-like NetCDF-4 orbit (big-endian, packed, `_Unsigned` fields).
pub fn write_ascat_like_orbit(path: &Path, orbit: &SimAscatOrbit) -> Result<(), ObsSimError> {
    let n = orbit.n_rows() * orbit.n_cells;
    for (name, len) in [
        ("lat", orbit.lat.len()),
        ("lon", orbit.lon.len()),
        ("soil_moisture", orbit.soil_moisture.len()),
        ("soil_moisture_error", orbit.soil_moisture_error.len()),
        ("snow_cover_probability", orbit.snow_cover_probability.len()),
        (
            "frozen_soil_probability",
            orbit.frozen_soil_probability.len(),
        ),
        ("wetland_flag", orbit.wetland_flag.len()),
        ("topography_flag", orbit.topography_flag.len()),
        ("proc_flag1", orbit.proc_flag1.len()),
        (
            "aggregated_quality_flag",
            orbit.aggregated_quality_flag.len(),
        ),
    ] {
        if len != n {
            return Err(ObsSimError::Input {
                path: path.to_path_buf(),
                message: format!("{name} has {len} values, expected rows×cells = {n}"),
            });
        }
    }
    if n == 0 {
        return Err(ObsSimError::Input {
            path: path.to_path_buf(),
            message: "an orbit needs at least one row and one cell".into(),
        });
    }
    write_atomically(path, |tmp| {
        write_ascat_inner(tmp, orbit).map_err(|e| werr(path, "NetCDF", e))
    })
}

fn write_ascat_inner(path: &Path, o: &SimAscatOrbit) -> Result<(), netcdf::Error> {
    use netcdf::Endianness::Big;
    let (nr, nc) = (o.n_rows(), o.n_cells);
    let epoch = NaiveDate::from_ymd_opt(2000, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let mut f = netcdf::create(path)?;
    f.add_dimension("numRows", nr)?;
    f.add_dimension("numCells", nc)?;
    let (title, short, px, ptype) = match o.product {
        AscatProduct::Smr => (
            "ASCAT Level 2 Surface Soil Moisture Index in 12.5 km Swath Grid",
            "ASCAT-L2-SSM-12.5",
            "12500m",
            "SMR",
        ),
        AscatProduct::Smo => (
            "ASCAT Level 2 Surface Soil Moisture Index in 25 km Swath Grid",
            "ASCAT-L2-SSM-25",
            "25000m",
            "SMO",
        ),
    };
    f.add_attribute("title", title)?;
    f.add_attribute("title_short_name", short)?;
    f.add_attribute(
        "institution",
        "landcycle OSSE observation simulator (synthetic data in the EUMETSAT ASCAT SSM layout)",
    )?;
    f.add_attribute("Conventions", "CF-1.5")?;
    f.add_attribute(
        "source",
        format!("{} ASCAT (simulated)", o.platform).as_str(),
    )?;
    f.add_attribute("product_type", ptype)?;
    f.add_attribute("pixel_size_on_horizontal", px)?;
    let fmt = |t: &NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    if let (Some(t0), Some(t1)) = (o.line_times.iter().min(), o.line_times.iter().max()) {
        f.add_attribute("start_sensing_data_time", fmt(t0).as_str())?;
        f.add_attribute("end_sensing_data_time", fmt(t1).as_str())?;
    }

    let secs: Vec<i32> = o
        .line_times
        .iter()
        .map(|t| (*t - epoch).num_seconds() as i32)
        .collect();
    {
        let mut v = f.add_variable::<i32>("utc_line_nodes", &["numRows"])?;
        v.set_endianness(Big)?;
        v.set_fill_value(i32::MIN)?;
        v.put_attribute("valid_min", 0i32)?;
        v.put_attribute("valid_max", i32::MAX)?;
        v.put_attribute("standard_name", "time")?;
        v.put_attribute("long_name", "time")?;
        v.put_attribute("units", "seconds since 2000-01-01 00:00:00")?;
        v.put_attribute("scale_factor", 1.0f32)?;
        v.put_attribute("comment", "UTC time of line of 25 km nodes")?;
        v.put_values(&secs, ..)?;
    }
    {
        let mut v = f.add_variable::<i8>("as_des_pass", &["numRows"])?;
        v.set_fill_value(127i8)?;
        v.put_attribute("flag_values", "0b, 1b")?;
        v.put_attribute("flag_meaning", "ascending, descending")?;
        v.put_attribute("long_name", "Ascending/descending pass indicator")?;
        // The simulator's swaths are not tied to an orbit direction: written as missing.
        v.put_values(&vec![127i8; nr], ..)?;
    }
    for (name, vals, std_name, units, vmin, vmax, comment) in [
        (
            "latitude",
            &o.lat,
            "latitude",
            "degree_north",
            -90_000_000i32,
            90_000_000i32,
            "Latitude (-90 to 90 deg)",
        ),
        (
            "longitude",
            &o.lon,
            "longitude",
            "degree_east",
            -180_000_000,
            180_000_000,
            "Longitude (0 to 360 deg)",
        ),
    ] {
        let mut v = f.add_variable::<i32>(name, &["numRows", "numCells"])?;
        v.set_endianness(Big)?;
        v.set_compression(5, true)?;
        v.put_attribute("standard_name", std_name)?;
        v.put_attribute("long_name", std_name)?;
        v.put_attribute("units", units)?;
        v.put_attribute("valid_min", vmin)?;
        v.put_attribute("valid_max", vmax)?;
        v.put_attribute("missing_value", i32::MIN)?;
        v.put_attribute("scale_factor", 1.0e-6f32)?;
        v.put_attribute("comment", comment)?;
        let packed: Vec<i32> = vals.iter().map(|x| packed_i32(*x)).collect();
        v.put_values(&packed, ..)?;
    }
    for (name, vals, std_name, long_name) in [
        (
            "soil_moisture",
            &o.soil_moisture,
            "soil_moisture_percentage",
            "Surface soil moisture",
        ),
        (
            "soil_moisture_error",
            &o.soil_moisture_error,
            "soil_moisture_error_percentage",
            "Surface soil moisture error",
        ),
    ] {
        let mut v = f.add_variable::<u16>(name, &["numRows", "numCells"])?;
        v.set_endianness(Big)?;
        v.set_compression(5, true)?;
        v.put_attribute("valid_min", 0i16)?;
        v.put_attribute("valid_max", 10000i16)?;
        v.put_attribute("standard_name", std_name)?;
        v.put_attribute("long_name", long_name)?;
        v.put_attribute("units", "percent")?;
        v.put_attribute("coordinates", "lat lon")?;
        v.put_attribute("scale_factor", 0.01f32)?;
        v.put_attribute("_Unsigned", "true")?;
        let packed: Vec<u16> = vals.iter().map(|x| packed_u16(*x, 0.01)).collect();
        v.put_values(&packed, ..)?;
    }
    for (name, vals, long_name) in [
        (
            "proc_flag1",
            &o.proc_flag1,
            "Quality indicator on input data",
        ),
        (
            "aggregated_quality_flag",
            &o.aggregated_quality_flag,
            "Aggregated Quality Flag",
        ),
        (
            "snow_cover_probability",
            &o.snow_cover_probability,
            "Probable fraction of snow cover",
        ),
        (
            "frozen_soil_probability",
            &o.frozen_soil_probability,
            "Probable fraction of frozen soil",
        ),
        (
            "wetland_flag",
            &o.wetland_flag,
            "Probable inundation or wetland fraction",
        ),
        (
            "topography_flag",
            &o.topography_flag,
            "Topographical Complexity",
        ),
    ] {
        let mut v = f.add_variable::<u8>(name, &["numRows", "numCells"])?;
        v.set_compression(5, true)?;
        v.put_attribute("valid_min", 0i8)?;
        if name != "proc_flag1" {
            v.put_attribute("valid_max", 100i8)?;
            v.put_attribute("units", "percentage")?;
        }
        v.put_attribute("standard_name", name)?;
        v.put_attribute("long_name", long_name)?;
        v.put_attribute("_Unsigned", "true")?;
        v.put_values(vals, ..)?;
    }
    f.close()?;
    Ok(())
}

/// Mean of a model field over one 36 km EASE-Grid 2.0 cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EaseCellMean {
    pub row: u16,
    pub col: u16,
    /// Centre of the EASE cell.
    pub lat: f64,
    pub lon: f64,
    pub mean: f64,
    /// Model cells averaged.
    pub count: usize,
}

/// Average model cells (centres `lat[i]`, `lon[i]`, values `values[i]`, non-finite skipped)
/// over the 36 km EASE-Grid 2.0 cells containing their centres: the SMAP footprint of the
/// OSSE. Sorted by (row, col).
pub fn average_to_ease_36km(lat: &[f64], lon: &[f64], values: &[f64]) -> Vec<EaseCellMean> {
    let mut acc: std::collections::BTreeMap<(usize, usize), (f64, usize)> =
        std::collections::BTreeMap::new();
    for ((la, lo), v) in lat.iter().zip(lon).zip(values) {
        if !v.is_finite() {
            continue;
        }
        if let Some(rc) = ease::cell_of_36km(*la, *lo) {
            let e = acc.entry(rc).or_insert((0.0, 0));
            e.0 += v;
            e.1 += 1;
        }
    }
    acc.into_iter()
        .map(|((r, c), (s, n))| {
            let (la, lo) = ease::cell_center_36km(r, c).expect("cell from cell_of_36km");
            EaseCellMean {
                row: r as u16,
                col: c as u16,
                lat: la,
                lon: lo,
                mean: s / n as f64,
                count: n,
            }
        })
        .collect()
}

/// Node positions of a simplified ASCAT-like swath on a north-going track along meridian
/// `track_lon`: `n_rows` rows every `spacing_km` from `lat_start`, and on each side of the
/// track `cells_per_side` nodes every `spacing_km` beyond a nadir gap of `gap_km` (ASCAT:
/// 2 × 41 nodes at 12.5 km, 2 × 21 at 25 km, gap about 360 km). Returns row-major
/// (lat, lon) for `n_rows × 2·cells_per_side` nodes.
pub fn simple_swath_nodes(
    lat_start: f64,
    track_lon: f64,
    n_rows: usize,
    cells_per_side: usize,
    spacing_km: f64,
    gap_km: f64,
) -> (Vec<f64>, Vec<f64>) {
    const KM_PER_DEG: f64 = 111.195; // mean Earth radius 6371 km
    let n_cells = 2 * cells_per_side;
    let mut lat = Vec::with_capacity(n_rows * n_cells);
    let mut lon = Vec::with_capacity(n_rows * n_cells);
    for r in 0..n_rows {
        let la = lat_start + r as f64 * spacing_km / KM_PER_DEG;
        let km_per_deg_lon = KM_PER_DEG * la.to_radians().cos().max(1e-6);
        for c in 0..n_cells {
            // Left swath from the outer edge inwards, then the right swath outwards.
            let k = if c < cells_per_side {
                -((cells_per_side - c) as f64)
            } else {
                (c - cells_per_side + 1) as f64
            };
            let dist = k.signum() * (0.5 * gap_km + (k.abs() - 0.5) * spacing_km);
            lat.push(la);
            lon.push(track_lon + dist / km_per_deg_lon);
        }
    }
    (lat, lon)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ease_average_groups_model_cells_by_footprint() {
        // A 0.1° grid over 1° × 1°: every model cell lands in some 36 km cell; the means
        // reproduce a field that is constant per EASE cell.
        let mut lat = Vec::new();
        let mut lon = Vec::new();
        for j in 0..10 {
            for i in 0..10 {
                lat.push(40.05 + 0.1 * j as f64);
                lon.push(-99.95 + 0.1 * i as f64);
            }
        }
        let vals: Vec<f64> = lat
            .iter()
            .zip(&lon)
            .map(|(a, b)| {
                let (r, c) = ease::cell_of_36km(*a, *b).unwrap();
                (r * 1000 + c) as f64
            })
            .collect();
        let cells = average_to_ease_36km(&lat, &lon, &vals);
        assert_eq!(cells.iter().map(|c| c.count).sum::<usize>(), 100);
        for c in &cells {
            assert_eq!(c.mean, (c.row as usize * 1000 + c.col as usize) as f64);
        }
        // 1° of longitude spans 3–4 columns of 0.373°; rows near 40° N are about 0.38°
        // tall, so 1° of latitude spans 3–4 rows.
        assert!((6..=16).contains(&cells.len()), "{}", cells.len());
    }

    #[test]
    fn swath_nodes_have_the_gap_and_spacing() {
        let (lat, lon) = simple_swath_nodes(30.0, 10.0, 3, 41, 12.5, 360.0);
        assert_eq!(lat.len(), 3 * 82);
        let km = 111.195 * 30f64.to_radians().cos();
        // Innermost nodes 180 km + 6.25 km from the track, neighbours 12.5 km apart.
        assert!(((lon[41] - 10.0) * km - 186.25).abs() < 1e-9);
        assert!(((10.0 - lon[40]) * km - 186.25).abs() < 1e-9);
        assert!(((lon[42] - lon[41]) * km - 12.5).abs() < 1e-9);
        assert!((lat[82] - 30.0 - 12.5 / 111.195).abs() < 1e-12);
    }
}
