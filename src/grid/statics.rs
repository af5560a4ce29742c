//! Land-surface static fields and their two file formats: landcycle's own CF-1.8 static
//! NetCDF file and WPS `geo_em` files (see docs/grid.md for both layouts).

use std::path::{Path, PathBuf};

use netcdf::{Extent, Extents};

use super::static_texture::{SoilTextureFields, CLAY_VAR, SAND_VAR};
use super::{Coordinates, Grid, GridError, IndexBox};
use crate::lsm::CellStatics;

/// Number of STATSGO soil classes in the STAS table (SOILPARM.TBL).
pub const N_SOIL_CLASSES: i32 = 19;
/// STATSGO class "WATER".
pub const SOIL_WATER: i32 = 14;
/// Number of slope classes (GENPARM.TBL SLOPE_DATA).
pub const N_SLOPE_CLASSES: i32 = 9;
/// Version of landcycle's static file layout (global attribute `landcycle_static_version`).
pub const LANDCYCLE_STATIC_VERSION: i32 = 1;

/// Vegetation classification of the static fields (the VEGPARM.TBL section it indexes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VegetationDataset {
    /// USGS 24/27-category land use.
    Usgs,
    /// Noah-modified 20-category IGBP-MODIS (21 with lakes).
    ModisIgbpNoah,
}

/// MAXALB (%) of VEGPARM.TBL (WRF 3.4.1), used when a geo_em file has no SNOALB.
const USGS_MAXALB: [f64; 27] = [
    46., 66., 66., 66., 68., 60., 70., 60., 65., 50., 58., 54., 35., 52., 53., 70., 68., 50., 75.,
    68., 55., 60., 75., 82., 75., 75., 75.,
];
const MODIS_MAXALB: [f64; 20] = [
    52., 35., 54., 58., 53., 60., 65., 60., 50., 70., 59., 66., 46., 68., 82., 75., 70., 55., 60.,
    75.,
];

impl VegetationDataset {
    /// The name used in VEGPARM.TBL and in the WPS `MMINLU` attribute.
    pub fn name(&self) -> &'static str {
        match self {
            VegetationDataset::Usgs => "USGS",
            VegetationDataset::ModisIgbpNoah => "MODIFIED_IGBP_MODIS_NOAH",
        }
    }
    /// Parse a `MMINLU`-style name (case-insensitive; surrounding blanks ignored).
    pub fn from_name(name: &str) -> Option<VegetationDataset> {
        match name.trim().to_ascii_uppercase().as_str() {
            "USGS" => Some(VegetationDataset::Usgs),
            "MODIFIED_IGBP_MODIS_NOAH" => Some(VegetationDataset::ModisIgbpNoah),
            _ => None,
        }
    }
    /// Number of land-surface classes in the table.
    pub fn n_classes(&self) -> i32 {
        match self {
            VegetationDataset::Usgs => 27,
            VegetationDataset::ModisIgbpNoah => 20,
        }
    }
    /// Class of open water (`ISWATER`).
    pub fn water_class(&self) -> i32 {
        match self {
            VegetationDataset::Usgs => 16,
            VegetationDataset::ModisIgbpNoah => 17,
        }
    }
    /// Class of lakes (`ISLAKE`) where the dataset has one (outside the land table).
    pub fn lake_class(&self) -> Option<i32> {
        match self {
            VegetationDataset::Usgs => Some(28),
            VegetationDataset::ModisIgbpNoah => Some(21),
        }
    }
    /// True when `class` is a valid class for a land cell.
    pub fn is_land_class(&self, class: i32) -> bool {
        (1..=self.n_classes()).contains(&class) && class != self.water_class()
    }
    /// Table maximum snow albedo (0..1) of a class (VEGPARM.TBL MAXALB).
    pub fn table_max_snow_albedo(&self, class: i32) -> Option<f64> {
        let t: &[f64] = match self {
            VegetationDataset::Usgs => &USGS_MAXALB,
            VegetationDataset::ModisIgbpNoah => &MODIS_MAXALB,
        };
        usize::try_from(class - 1)
            .ok()
            .and_then(|k| t.get(k))
            .map(|v| v / 100.0)
    }
}

/// The land-surface static fields on a grid. All per-cell arrays are row-major
/// `(ny, nx)`; the monthly ones are `(12, ny, nx)`, January first. Values on water cells
/// are kept as read and never validated.
#[derive(Debug, Clone, PartialEq)]
pub struct StaticFields {
    /// The grid, including the land mask.
    pub grid: Grid,
    pub vegetation_dataset: VegetationDataset,
    /// Soil classification (`"STAS"`: STATSGO).
    pub soil_dataset: String,
    /// Soil texture class (STATSGO, 1-based).
    pub soil_class: Vec<i32>,
    /// Vegetation class (1-based, per `vegetation_dataset`).
    pub vegetation_class: Vec<i32>,
    /// Slope class (1-based, GENPARM.TBL).
    pub slope_class: Vec<i32>,
    /// Monthly green vegetation fraction (0..1), `(12, ny, nx)`.
    pub green_fraction: Vec<f64>,
    /// Monthly snow-free background albedo (0..1), `(12, ny, nx)`.
    pub albedo: Vec<f64>,
    /// Deep soil (lower boundary) temperature (K).
    pub deep_soil_temperature: Vec<f64>,
    /// Terrain elevation (m above mean sea level).
    pub elevation: Vec<f64>,
    /// Maximum snow albedo (0..1).
    pub max_snow_albedo: Vec<f64>,
    /// Optional sand and clay content (%), `PCT_SAND`/`PCT_CLAY` (landcycle format only).
    pub soil_texture: Option<SoilTextureFields>,
}

pub(super) fn range_err(
    path: &Path,
    variable: &str,
    grid: &Grid,
    k: usize,
    month: Option<usize>,
    value: f64,
    allowed: &str,
) -> GridError {
    GridError::Range {
        path: path.to_path_buf(),
        variable: variable.to_string(),
        j: k / grid.nx(),
        i: k % grid.nx(),
        month: month
            .map(|m| format!(", month {}", m + 1))
            .unwrap_or_default(),
        value,
        allowed: allowed.to_string(),
    }
}

impl StaticFields {
    pub fn ny(&self) -> usize {
        self.grid.ny()
    }
    pub fn nx(&self) -> usize {
        self.grid.nx()
    }
    /// Land mask of the grid (row-major, true = land).
    pub fn land_mask(&self) -> &[bool] {
        self.grid.land_mask()
    }
    /// Global ids of the land cells, ascending.
    pub fn land_cells(&self) -> Vec<u64> {
        self.grid.land_cells()
    }

    /// Check that every field matches the grid and that land cells hold valid classes and
    /// physical values. `source` names the file the fields came from in error messages.
    pub fn validate(&self, source: &Path) -> Result<(), GridError> {
        let n = self.grid.ncells();
        let (ny, nx) = self.grid.dims();
        let shape2 = |name: &str, len: usize| -> Result<(), GridError> {
            if len != n {
                return Err(GridError::Shape {
                    path: source.to_path_buf(),
                    variable: name.to_string(),
                    expected: vec![ny, nx],
                    found: vec![len],
                });
            }
            Ok(())
        };
        let shape3 = |name: &str, len: usize| -> Result<(), GridError> {
            if len != 12 * n {
                return Err(GridError::Shape {
                    path: source.to_path_buf(),
                    variable: name.to_string(),
                    expected: vec![12, ny, nx],
                    found: vec![len],
                });
            }
            Ok(())
        };
        shape2("soil_class", self.soil_class.len())?;
        shape2("vegetation_class", self.vegetation_class.len())?;
        shape2("slope_class", self.slope_class.len())?;
        shape3("green_fraction", self.green_fraction.len())?;
        shape3("albedo", self.albedo.len())?;
        shape2("deep_soil_temperature", self.deep_soil_temperature.len())?;
        shape2("elevation", self.elevation.len())?;
        shape2("max_snow_albedo", self.max_snow_albedo.len())?;
        if self.soil_dataset != "STAS" {
            return Err(GridError::Attribute {
                path: source.to_path_buf(),
                attribute: "soil_dataset".into(),
                message: format!(
                    "soil dataset {:?} is not supported (only \"STAS\")",
                    self.soil_dataset
                ),
            });
        }
        let veg = self.vegetation_dataset;
        let veg_allowed = format!(
            "classes 1..={} except water ({}) for {}",
            veg.n_classes(),
            veg.water_class(),
            veg.name()
        );
        let mask = self.grid.land_mask();
        for k in (0..n).filter(|&k| mask[k]) {
            let s = self.soil_class[k];
            if !(1..=N_SOIL_CLASSES).contains(&s) || s == SOIL_WATER {
                return Err(range_err(
                    source,
                    "soil_class",
                    &self.grid,
                    k,
                    None,
                    s as f64,
                    "STAS classes 1..=19 except water (14)",
                ));
            }
            let v = self.vegetation_class[k];
            if !veg.is_land_class(v) {
                return Err(range_err(
                    source,
                    "vegetation_class",
                    &self.grid,
                    k,
                    None,
                    v as f64,
                    &veg_allowed,
                ));
            }
            let sl = self.slope_class[k];
            if !(1..=N_SLOPE_CLASSES).contains(&sl) {
                return Err(range_err(
                    source,
                    "slope_class",
                    &self.grid,
                    k,
                    None,
                    sl as f64,
                    "slope classes 1..=9",
                ));
            }
            for m in 0..12 {
                for (name, v) in [
                    ("green_fraction", self.green_fraction[m * n + k]),
                    ("albedo", self.albedo[m * n + k]),
                ] {
                    if !(0.0..=1.0).contains(&v) {
                        return Err(range_err(source, name, &self.grid, k, Some(m), v, "[0, 1]"));
                    }
                }
            }
            for (name, v, lo, hi, allowed) in [
                (
                    "deep_soil_temperature",
                    self.deep_soil_temperature[k],
                    200.0,
                    350.0,
                    "[200, 350] K",
                ),
                (
                    "elevation",
                    self.elevation[k],
                    -1000.0,
                    9000.0,
                    "[-1000, 9000] m",
                ),
                (
                    "max_snow_albedo",
                    self.max_snow_albedo[k],
                    0.0,
                    1.0,
                    "[0, 1]",
                ),
            ] {
                if !(lo..=hi).contains(&v) {
                    return Err(range_err(source, name, &self.grid, k, None, v, allowed));
                }
            }
        }
        if let Some(t) = &self.soil_texture {
            t.validate(source, &self.grid)?;
        }
        Ok(())
    }

    /// Static description of one cell for the land model. Panics when `global_id` is
    /// outside the grid (a programming error; see [`StaticFields::try_cell_statics`]).
    pub fn cell_statics(&self, global_id: u64) -> CellStatics {
        self.try_cell_statics(global_id)
            .unwrap_or_else(|e| panic!("cell_statics: {e}"))
    }

    /// Static description of one cell, or an error for an id outside the grid.
    pub fn try_cell_statics(&self, global_id: u64) -> Result<CellStatics, GridError> {
        let (j, i) = self.grid.index_of(global_id)?;
        let k = global_id as usize;
        let n = self.grid.ncells();
        let monthly = |f: &[f64]| -> [f64; 12] { std::array::from_fn(|m| f[m * n + k]) };
        Ok(CellStatics {
            latitude: self.grid.lat(j, i),
            longitude: self.grid.lon(j, i),
            soil_class: self.soil_class[k],
            vegetation_class: self.vegetation_class[k],
            slope_class: self.slope_class[k],
            green_fraction_monthly: monthly(&self.green_fraction),
            albedo_monthly: monthly(&self.albedo),
            deep_soil_temperature: self.deep_soil_temperature[k],
            elevation: self.elevation[k],
            max_snow_albedo: self.max_snow_albedo[k],
            soil_texture: self.soil_texture.as_ref().map(|t| t.at(k)),
        })
    }

    // ------------------------------------------------------------------------------
    // landcycle static NetCDF format
    // ------------------------------------------------------------------------------

    /// Read a landcycle static file (layout in docs/grid.md) and validate it.
    pub fn read_landcycle(path: &Path) -> Result<StaticFields, GridError> {
        let file =
            netcdf::open(path).map_err(|e| nc_err(path, "opening landcycle static file", e))?;
        let rd = Reader { path, file: &file };
        let header = read_landcycle_header(&rd)?;
        let (ny, nx) = header.grid.dims();
        let full = IndexBox {
            j0: 0,
            j1: ny,
            i0: 0,
            i1: nx,
        };
        read_landcycle_window(&rd, header, full)
    }

    /// Only the grid (coordinates and land mask) of a landcycle static file: what a
    /// rank needs to build the decomposition before reading its own cells.
    pub fn read_landcycle_grid(path: &Path) -> Result<Grid, GridError> {
        let file =
            netcdf::open(path).map_err(|e| nc_err(path, "opening landcycle static file", e))?;
        let rd = Reader { path, file: &file };
        Ok(read_landcycle_header(&rd)?.grid)
    }

    /// The vegetation and soil dataset names of a landcycle static file.
    pub fn read_landcycle_datasets(path: &Path) -> Result<(String, String), GridError> {
        let file =
            netcdf::open(path).map_err(|e| nc_err(path, "opening landcycle static file", e))?;
        let rd = Reader { path, file: &file };
        let header = read_landcycle_header(&rd)?;
        Ok((
            header.vegetation_dataset.name().to_string(),
            header.soil_dataset.clone(),
        ))
    }

    /// The statics of the cells `ids` (global ids, any order; the result follows it),
    /// reading only the hyperslab of their index box from a landcycle static file. The
    /// box is validated like a whole file, with errors naming cells by their global
    /// `(j, i)`.
    pub fn read_landcycle_cells(path: &Path, ids: &[u64]) -> Result<Vec<CellStatics>, GridError> {
        let file =
            netcdf::open(path).map_err(|e| nc_err(path, "opening landcycle static file", e))?;
        let rd = Reader { path, file: &file };
        let header = read_landcycle_header(&rd)?;
        let Some(bx) = header.grid.index_box(ids)? else {
            return Ok(Vec::new());
        };
        let full_nx = header.grid.nx();
        let sub = read_landcycle_window(&rd, header, bx)?;
        ids.iter()
            .map(|&id| {
                let (j, i) = (id as usize / full_nx, id as usize % full_nx);
                sub.try_cell_statics(((j - bx.j0) * bx.nx() + (i - bx.i0)) as u64)
            })
            .collect()
    }

    /// Write the fields as a landcycle static file: CF-1.8 NetCDF-4, written to a
    /// temporary name in the target directory, fsynced, then renamed over `path`.
    pub fn write_landcycle(&self, path: &Path) -> Result<(), GridError> {
        self.validate(path)?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let fname = path
            .file_name()
            .ok_or_else(|| GridError::Io {
                path: path.to_path_buf(),
                context: "output path has no file name".into(),
                source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
            })?
            .to_string_lossy()
            .into_owned();
        let tmp = dir.join(format!(".{fname}.tmp-{}", std::process::id()));
        let result = self.write_netcdf(&tmp).and_then(|()| {
            let io = |context: &str, source: std::io::Error| GridError::Io {
                path: path.to_path_buf(),
                context: context.to_string(),
                source,
            };
            std::fs::File::open(&tmp)
                .and_then(|f| f.sync_all())
                .map_err(|e| io("fsync of temporary file", e))?;
            std::fs::rename(&tmp, path).map_err(|e| io("renaming temporary file", e))?;
            // Make the rename itself durable.
            std::fs::File::open(&dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| io("fsync of directory", e))
        });
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    fn write_netcdf(&self, tmp: &Path) -> Result<(), GridError> {
        let e = |ctx: &str| {
            let ctx = ctx.to_string();
            move |err: netcdf::Error| nc_err(tmp, &ctx, err)
        };
        let (ny, nx) = self.grid.dims();
        let mut f = netcdf::create(tmp).map_err(e("creating file"))?;
        f.add_attribute("Conventions", "CF-1.8")
            .map_err(e("attribute Conventions"))?;
        f.add_attribute("title", "landcycle land-surface static fields")
            .map_err(e("attribute title"))?;
        f.add_attribute("source", format!("landcycle {}", env!("CARGO_PKG_VERSION")))
            .map_err(e("attribute source"))?;
        f.add_attribute("landcycle_static_version", LANDCYCLE_STATIC_VERSION)
            .map_err(e("attribute landcycle_static_version"))?;
        f.add_attribute("vegetation_dataset", self.vegetation_dataset.name())
            .map_err(e("attribute vegetation_dataset"))?;
        f.add_attribute("soil_dataset", self.soil_dataset.as_str())
            .map_err(e("attribute soil_dataset"))?;

        let regular = self.grid.is_regular();
        f.add_attribute("grid_type", if regular { "regular" } else { "curvilinear" })
            .map_err(e("attribute grid_type"))?;
        let dims: [&str; 2] = if regular { ["lat", "lon"] } else { ["y", "x"] };
        f.add_dimension(dims[0], ny).map_err(e("dimension"))?;
        f.add_dimension(dims[1], nx).map_err(e("dimension"))?;
        f.add_dimension("month", 12).map_err(e("dimension month"))?;

        match self.grid.coordinates() {
            Coordinates::Regular { lat, lon } => {
                put_coord(
                    &mut f,
                    tmp,
                    "lat",
                    &["lat"],
                    lat,
                    "latitude",
                    "degrees_north",
                )?;
                put_coord(
                    &mut f,
                    tmp,
                    "lon",
                    &["lon"],
                    lon,
                    "longitude",
                    "degrees_east",
                )?;
            }
            Coordinates::Curvilinear { lat, lon } => {
                put_coord(
                    &mut f,
                    tmp,
                    "lat",
                    &["y", "x"],
                    lat,
                    "latitude",
                    "degrees_north",
                )?;
                put_coord(
                    &mut f,
                    tmp,
                    "lon",
                    &["y", "x"],
                    lon,
                    "longitude",
                    "degrees_east",
                )?;
            }
        }
        {
            let mut v = f
                .add_variable::<i32>("month", &["month"])
                .map_err(e("variable month"))?;
            v.put_attribute("long_name", "month of year")
                .map_err(e("month attributes"))?;
            v.put_attribute("units", "1")
                .map_err(e("month attributes"))?;
            let months: Vec<i32> = (1..=12).collect();
            v.put_values(&months, ..).map_err(e("writing month"))?;
        }
        let coords_attr = (!regular).then_some("lat lon");
        let d3 = ["month", dims[0], dims[1]];

        let mask: Vec<i8> = self.grid.land_mask().iter().map(|&l| i8::from(l)).collect();
        {
            let mut v = f
                .add_variable::<i8>("land_mask", &dims)
                .map_err(e("variable land_mask"))?;
            let a = |v: &mut netcdf::VariableMut, k: &str, val: netcdf::AttributeValue| {
                v.put_attribute(k, val).map(|_| ())
            };
            a(&mut v, "standard_name", "land_binary_mask".into())
                .map_err(e("land_mask attributes"))?;
            a(
                &mut v,
                "long_name",
                "land mask (1 = land, 0 = water)".into(),
            )
            .map_err(e("land_mask attributes"))?;
            a(&mut v, "units", "1".into()).map_err(e("land_mask attributes"))?;
            a(&mut v, "flag_values", vec![0i8, 1i8].into()).map_err(e("land_mask attributes"))?;
            a(&mut v, "flag_meanings", "water land".into()).map_err(e("land_mask attributes"))?;
            if let Some(c) = coords_attr {
                a(&mut v, "coordinates", c.into()).map_err(e("land_mask attributes"))?;
            }
            v.set_compression(4, true)
                .map_err(e("land_mask compression"))?;
            v.put_values(&mask, ..).map_err(e("writing land_mask"))?;
        }
        let veg_long = format!(
            "vegetation (land use) class, {} table",
            self.vegetation_dataset.name()
        );
        let int_vars: [(&str, &[i32], &str); 3] = [
            (
                "soil_class",
                &self.soil_class,
                "soil texture class, STATSGO (STAS) table",
            ),
            (
                "vegetation_class",
                &self.vegetation_class,
                veg_long.as_str(),
            ),
            (
                "slope_class",
                &self.slope_class,
                "slope class, GENPARM table",
            ),
        ];
        for (name, data, long_name) in int_vars {
            put_field_i32(&mut f, tmp, name, &dims, data, long_name, coords_attr)?;
        }
        // (name, data, dimensions, long_name, units, standard_name)
        let float_vars: [FloatVar; 6] = [
            (
                "green_fraction",
                &self.green_fraction,
                &d3,
                "monthly green vegetation fraction",
                "1",
                None,
            ),
            (
                "albedo",
                &self.albedo,
                &d3,
                "monthly snow-free background surface albedo",
                "1",
                None,
            ),
            (
                "deep_soil_temperature",
                &self.deep_soil_temperature,
                &dims,
                "deep soil (lower boundary) temperature",
                "K",
                None,
            ),
            (
                "elevation",
                &self.elevation,
                &dims,
                "terrain elevation above mean sea level",
                "m",
                Some("surface_altitude"),
            ),
            (
                "max_snow_albedo",
                &self.max_snow_albedo,
                &dims,
                "maximum albedo of deep snow",
                "1",
                None,
            ),
            // Cell areas are informational (readers recompute them from the grid).
            (
                "cell_area",
                &self.grid.cell_areas(),
                &dims,
                "cell area",
                "m2",
                Some("cell_area"),
            ),
        ];
        let texture: Vec<FloatVar> = match &self.soil_texture {
            Some(t) => vec![
                (
                    SAND_VAR,
                    &t.sand,
                    &dims,
                    "sand content of the fine earth",
                    "%",
                    None,
                ),
                (
                    CLAY_VAR,
                    &t.clay,
                    &dims,
                    "clay content of the fine earth",
                    "%",
                    None,
                ),
            ],
            None => Vec::new(),
        };
        for (name, data, vdims, long_name, units, std_name) in float_vars.into_iter().chain(texture)
        {
            let mut v = f
                .add_variable::<f64>(name, vdims)
                .map_err(e(&format!("variable {name}")))?;
            let ctx = format!("{name} attributes");
            v.put_attribute("long_name", long_name).map_err(e(&ctx))?;
            v.put_attribute("units", units).map_err(e(&ctx))?;
            if let Some(sn) = std_name {
                v.put_attribute("standard_name", sn).map_err(e(&ctx))?;
            }
            if let Some(c) = coords_attr {
                v.put_attribute("coordinates", c).map_err(e(&ctx))?;
            }
            v.set_compression(4, true)
                .map_err(e(&format!("{name} compression")))?;
            v.put_values(data, ..)
                .map_err(e(&format!("writing {name}")))?;
        }
        f.close().map_err(e("closing file"))
    }

    // ------------------------------------------------------------------------------
    // WPS geo_em
    // ------------------------------------------------------------------------------

    /// Read a WPS geogrid output file (`geo_em.dNN.nc`, curvilinear mass grid).
    ///
    /// Land cells whose dominant vegetation or soil category is water (WPS gives this
    /// where the land mask and the category data sets disagree) take the dominant
    /// non-water category of `LANDUSEF` / `SOILCTOP`; where the cell has no non-water
    /// fraction at all, the most common land category of the nearest ring of land cells
    /// (see [`repair_water_classes`]).
    pub fn read_geo_em(path: &Path) -> Result<StaticFields, GridError> {
        let file = netcdf::open(path).map_err(|e| nc_err(path, "opening geo_em file", e))?;
        let rd = Reader { path, file: &file };

        let xlat = rd.var("XLAT_M")?;
        let dims: Vec<usize> = xlat.dimensions().iter().map(|d| d.len()).collect();
        if dims.len() != 3 || dims[0] < 1 {
            return Err(GridError::Shape {
                path: path.to_path_buf(),
                variable: "XLAT_M".into(),
                expected: vec![1, 0, 0],
                found: dims,
            });
        }
        let (ny, nx) = (dims[1], dims[2]);
        let n = ny * nx;
        let lat = rd.geo_2d("XLAT_M", ny, nx)?;
        let lon = rd.geo_2d("XLONG_M", ny, nx)?;
        let mask_f = rd.geo_2d("LANDMASK", ny, nx)?;
        let land_mask: Vec<bool> = mask_f.iter().map(|&m| m > 0.5).collect();
        let mut grid = Grid::curvilinear(ny, nx, lat, lon, Some(land_mask)).map_err(|e| {
            GridError::Variable {
                path: path.to_path_buf(),
                variable: "XLAT_M/XLONG_M".into(),
                message: e.to_string(),
            }
        })?;
        if let Some((dy, dx)) = rd.geo_em_spacing_km()? {
            grid = grid.with_projection_spacing(dy, dx)?;
        }

        let mminlu = rd.global_str("MMINLU")?;
        let vegetation_dataset =
            VegetationDataset::from_name(&mminlu).ok_or_else(|| GridError::Attribute {
                path: path.to_path_buf(),
                attribute: "MMINLU".into(),
                message: format!(
                    "vegetation dataset {:?} is not supported (expected \"USGS\" or \"MODIFIED_IGBP_MODIS_NOAH\")",
                    mminlu.trim()
                ),
            })?;
        let iswater = rd
            .global_i32("ISWATER")?
            .unwrap_or(vegetation_dataset.water_class());
        let islake = match rd.global_i32("ISLAKE")? {
            Some(v) if v > 0 => Some(v),
            Some(_) => None,
            None => vegetation_dataset.lake_class(),
        };
        let isoilwater = rd.global_i32("ISOILWATER")?.unwrap_or(SOIL_WATER);

        // Dominant categories: the *_DOM / LU_INDEX fields when present, else the arg-max
        // of the fractional fields.
        let landusef = if file.variable("LANDUSEF").is_some() {
            Some(rd.geo_categories("LANDUSEF", ny, nx)?)
        } else {
            None
        };
        let soilctop = if file.variable("SOILCTOP").is_some() {
            Some(rd.geo_categories("SOILCTOP", ny, nx)?)
        } else {
            None
        };
        let mut vegetation_class = if file.variable("LU_INDEX").is_some() {
            rd.geo_classes("LU_INDEX", ny, nx)?
        } else {
            let (ncat, f) = landusef
                .as_ref()
                .ok_or_else(|| GridError::MissingVariable {
                    path: path.to_path_buf(),
                    variable: "LU_INDEX (or LANDUSEF)".into(),
                })?;
            dominant_category(f, *ncat, n, &[])
        };
        let mut soil_class = if file.variable("SCT_DOM").is_some() {
            rd.geo_classes("SCT_DOM", ny, nx)?
        } else {
            let (ncat, f) = soilctop
                .as_ref()
                .ok_or_else(|| GridError::MissingVariable {
                    path: path.to_path_buf(),
                    variable: "SCT_DOM (or SOILCTOP)".into(),
                })?;
            dominant_category(f, *ncat, n, &[])
        };
        let water_veg: Vec<i32> = std::iter::once(iswater).chain(islake).collect();
        let land = grid.land_mask().to_vec();
        let veg_repair = repair_water_classes(
            &mut vegetation_class,
            landusef.as_ref(),
            &water_veg,
            &land,
            nx,
        );
        let soil_repair =
            repair_water_classes(&mut soil_class, soilctop.as_ref(), &[isoilwater], &land, nx);
        for (name, rep) in [("LU_INDEX", &veg_repair), ("SCT_DOM", &soil_repair)] {
            if let Some(k) = rep.unresolved {
                return Err(range_err(
                    path,
                    name,
                    &grid,
                    k,
                    None,
                    if name == "LU_INDEX" { vegetation_class[k] } else { soil_class[k] } as f64,
                    "a land category on a land cell (no land category in the cell or on any land cell)",
                ));
            }
        }
        if veg_repair.total() + soil_repair.total() > 0 {
            tracing::info!(
                file = %path.display(),
                vegetation_from_fractions = veg_repair.from_fractions,
                vegetation_from_neighbours = veg_repair.from_neighbours,
                soil_from_fractions = soil_repair.from_fractions,
                soil_from_neighbours = soil_repair.from_neighbours,
                "land cells with a water category took a land category"
            );
        }

        let slope_class = if file.variable("SLOPECAT").is_some() {
            let mut s = rd.geo_classes("SLOPECAT", ny, nx)?;
            // WPS writes 0 over water; the class is only used on land.
            for (k, v) in s.iter_mut().enumerate() {
                if !grid.land_mask()[k] && *v == 0 {
                    *v = 1;
                }
            }
            s
        } else {
            vec![1; n]
        };
        let green_fraction = rd.geo_monthly_fraction("GREENFRAC", ny, nx)?;
        let albedo = rd.geo_monthly_fraction("ALBEDO12M", ny, nx)?;
        let deep_soil_temperature = rd.geo_2d("SOILTEMP", ny, nx)?;
        rd.expect_units("SOILTEMP", &["kelvin", "k"])?;
        let elevation = rd.geo_2d("HGT_M", ny, nx)?;
        rd.expect_units("HGT_M", &["meters msl", "m", "meters", "metres"])?;
        let max_snow_albedo = if file.variable("SNOALB").is_some() {
            let scale = rd.fraction_scale("SNOALB")?;
            rd.geo_2d("SNOALB", ny, nx)?
                .into_iter()
                .map(|v| v * scale)
                .collect()
        } else {
            vegetation_class
                .iter()
                .map(|&c| {
                    vegetation_dataset
                        .table_max_snow_albedo(c)
                        .unwrap_or(f64::NAN)
                })
                .collect()
        };
        let sf = StaticFields {
            grid,
            vegetation_dataset,
            soil_dataset: "STAS".into(),
            soil_class,
            vegetation_class,
            slope_class,
            green_fraction,
            albedo,
            deep_soil_temperature,
            elevation,
            max_snow_albedo,
            soil_texture: None,
        };
        sf.validate(path)?;
        Ok(sf)
    }
}

/// Grid and global attributes of a landcycle static file.
struct LandcycleHeader {
    grid: Grid,
    vegetation_dataset: VegetationDataset,
    soil_dataset: String,
    dim_names: [&'static str; 2],
}

fn read_landcycle_header(rd: &Reader) -> Result<LandcycleHeader, GridError> {
    let path = rd.path;
    let veg_name = rd.global_str("vegetation_dataset")?;
    let vegetation_dataset =
        VegetationDataset::from_name(&veg_name).ok_or_else(|| GridError::Attribute {
            path: path.to_path_buf(),
            attribute: "vegetation_dataset".into(),
            message: format!(
                "unknown vegetation dataset {veg_name:?} (expected \"USGS\" or \"MODIFIED_IGBP_MODIS_NOAH\")"
            ),
        })?;
    let soil_dataset = rd.global_str("soil_dataset")?.trim().to_string();
    let coord_err = |e: GridError| GridError::Variable {
        path: path.to_path_buf(),
        variable: "lat/lon".into(),
        message: e.to_string(),
    };
    let lat_var = rd.var("lat")?;
    let lat_dims: Vec<usize> = lat_var.dimensions().iter().map(|d| d.len()).collect();
    let (grid_no_mask, dim_names) = match lat_dims.len() {
        1 => {
            let lat = rd.values::<f64>("lat", &[lat_dims[0]], &["lat"])?;
            let nx = rd
                .var("lon")?
                .dimensions()
                .first()
                .map(|d| d.len())
                .unwrap_or(0);
            let lon = rd.values::<f64>("lon", &[nx], &["lon"])?;
            (
                Grid::regular(lat, lon, None).map_err(coord_err)?,
                ["lat", "lon"],
            )
        }
        2 => {
            let (ny, nx) = (lat_dims[0], lat_dims[1]);
            let lat = rd.values::<f64>("lat", &[ny, nx], &["y", "x"])?;
            let lon = rd.values::<f64>("lon", &[ny, nx], &["y", "x"])?;
            (
                Grid::curvilinear(ny, nx, lat, lon, None).map_err(coord_err)?,
                ["y", "x"],
            )
        }
        _ => {
            return Err(GridError::Variable {
                path: path.to_path_buf(),
                variable: "lat".into(),
                message: format!("expected 1 or 2 dimensions, found {}", lat_dims.len()),
            })
        }
    };
    let (ny, nx) = grid_no_mask.dims();
    let mask_raw = rd.values::<i32>("land_mask", &[ny, nx], &dim_names)?;
    let mut land_mask = Vec::with_capacity(mask_raw.len());
    for (k, &m) in mask_raw.iter().enumerate() {
        match m {
            0 => land_mask.push(false),
            1 => land_mask.push(true),
            v => {
                return Err(range_err(
                    path,
                    "land_mask",
                    &grid_no_mask,
                    k,
                    None,
                    v as f64,
                    "{0, 1}",
                ))
            }
        }
    }
    Ok(LandcycleHeader {
        grid: grid_no_mask.with_land_mask(land_mask)?,
        vegetation_dataset,
        soil_dataset,
        dim_names,
    })
}

/// The fields of a landcycle file inside `bx`, as `StaticFields` on the sub-grid of the
/// box, validated (errors report global `(j, i)`).
fn read_landcycle_window(
    rd: &Reader,
    header: LandcycleHeader,
    bx: IndexBox,
) -> Result<StaticFields, GridError> {
    let (ny, nx) = header.grid.dims();
    let dn = header.dim_names;
    let s2 = [ny, nx];
    let s3 = [12, ny, nx];
    let d3 = ["month", dn[0], dn[1]];
    let full = bx.j0 == 0 && bx.i0 == 0 && bx.j1 == ny && bx.i1 == nx;
    let grid = if full {
        header.grid
    } else {
        sub_grid(&header.grid, bx)?
    };
    let sf = StaticFields {
        grid,
        vegetation_dataset: header.vegetation_dataset,
        soil_dataset: header.soil_dataset,
        soil_class: rd.box_values::<i32>("soil_class", &s2, &dn, bx)?,
        vegetation_class: rd.box_values::<i32>("vegetation_class", &s2, &dn, bx)?,
        slope_class: rd.box_values::<i32>("slope_class", &s2, &dn, bx)?,
        green_fraction: rd.box_values::<f64>("green_fraction", &s3, &d3, bx)?,
        albedo: rd.box_values::<f64>("albedo", &s3, &d3, bx)?,
        deep_soil_temperature: rd.box_values::<f64>("deep_soil_temperature", &s2, &dn, bx)?,
        elevation: rd.box_values::<f64>("elevation", &s2, &dn, bx)?,
        max_snow_albedo: rd.box_values::<f64>("max_snow_albedo", &s2, &dn, bx)?,
        soil_texture: SoilTextureFields::from_parts(
            rd.path,
            rd.optional_box_values(SAND_VAR, &s2, &dn, bx)?,
            rd.optional_box_values(CLAY_VAR, &s2, &dn, bx)?,
        )?,
    };
    sf.validate(rd.path).map_err(|e| match e {
        GridError::Range {
            path,
            variable,
            j,
            i,
            month,
            value,
            allowed,
        } => GridError::Range {
            path,
            variable,
            j: j + bx.j0,
            i: i + bx.i0,
            month,
            value,
            allowed,
        },
        other => other,
    })?;
    Ok(sf)
}

/// The part of `grid` inside `bx` (coordinates and mask).
fn sub_grid(grid: &Grid, bx: IndexBox) -> Result<Grid, GridError> {
    let mask: Vec<bool> = (bx.j0..bx.j1)
        .flat_map(|j| (bx.i0..bx.i1).map(move |i| (j, i)))
        .map(|(j, i)| grid.is_land(j, i))
        .collect();
    match grid.coordinates() {
        Coordinates::Regular { lat, lon } => Grid::regular(
            lat[bx.j0..bx.j1].to_vec(),
            lon[bx.i0..bx.i1].to_vec(),
            Some(mask),
        ),
        Coordinates::Curvilinear { .. } => {
            let pts: Vec<(usize, usize)> = (bx.j0..bx.j1)
                .flat_map(|j| (bx.i0..bx.i1).map(move |i| (j, i)))
                .collect();
            Grid::curvilinear(
                bx.ny(),
                bx.nx(),
                pts.iter().map(|&(j, i)| grid.lat(j, i)).collect(),
                pts.iter().map(|&(j, i)| grid.lon(j, i)).collect(),
                Some(mask),
            )
        }
    }
}

/// What [`repair_water_classes`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RepairCount {
    /// Cells that took the dominant non-water category of their own fractions.
    pub from_fractions: usize,
    /// Cells that took the most common category of their nearest land neighbours.
    pub from_neighbours: usize,
    /// A land cell that could not be repaired (no land category anywhere).
    pub unresolved: Option<usize>,
}

impl RepairCount {
    pub fn total(&self) -> usize {
        self.from_fractions + self.from_neighbours
    }
}

/// Give every land cell whose category is in `water` a land category: first the
/// dominant non-water category of its own fractional field `fractions` (`(ncat, n)`),
/// else the most common category (lowest on ties) among land cells with a land
/// category on the nearest square ring around it (rings grow until one is found).
/// Neighbour look-up uses the categories after the first step only, so the result does
/// not depend on the order cells are visited.
pub fn repair_water_classes(
    classes: &mut [i32],
    fractions: Option<&(usize, Vec<f64>)>,
    water: &[i32],
    land: &[bool],
    nx: usize,
) -> RepairCount {
    let n = classes.len();
    let ny = n / nx.max(1);
    let mut rep = RepairCount::default();
    let mut pending = Vec::new();
    for k in 0..n {
        if !(land[k] && water.contains(&classes[k])) {
            continue;
        }
        match fractions.and_then(|(ncat, f)| dominant_of_cell(f, *ncat, n, k, water)) {
            Some(c) => {
                classes[k] = c;
                rep.from_fractions += 1;
            }
            None => pending.push(k),
        }
    }
    let snapshot = classes.to_vec();
    let good = |k: usize| land[k] && !water.contains(&snapshot[k]) && snapshot[k] > 0;
    for k in pending {
        let (j0, i0) = ((k / nx) as isize, (k % nx) as isize);
        let mut found = None;
        for r in 1..=(ny.max(nx) as isize) {
            let mut votes: Vec<(i32, usize)> = Vec::new();
            for dj in -r..=r {
                for di in -r..=r {
                    if dj.abs() != r && di.abs() != r {
                        continue; // only the ring at distance r
                    }
                    let (j, i) = (j0 + dj, i0 + di);
                    if j < 0 || i < 0 || j >= ny as isize || i >= nx as isize {
                        continue;
                    }
                    let q = j as usize * nx + i as usize;
                    if good(q) {
                        match votes.iter_mut().find(|v| v.0 == snapshot[q]) {
                            Some(v) => v.1 += 1,
                            None => votes.push((snapshot[q], 1)),
                        }
                    }
                }
            }
            if !votes.is_empty() {
                votes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                found = Some(votes[0].0);
                break;
            }
        }
        match found {
            Some(c) => {
                classes[k] = c;
                rep.from_neighbours += 1;
            }
            None => {
                rep.unresolved.get_or_insert(k);
            }
        }
    }
    rep
}

/// Dominant (largest-fraction, lowest index on ties) 1-based category of every cell,
/// skipping `exclude`d categories; `f` is `(ncat, n)`.
fn dominant_category(f: &[f64], ncat: usize, n: usize, exclude: &[i32]) -> Vec<i32> {
    (0..n)
        .map(|k| dominant_of_cell(f, ncat, n, k, exclude).unwrap_or(0))
        .collect()
}

fn dominant_of_cell(f: &[f64], ncat: usize, n: usize, k: usize, exclude: &[i32]) -> Option<i32> {
    let mut best: Option<(i32, f64)> = None;
    for c in 0..ncat {
        let cat = c as i32 + 1;
        if exclude.contains(&cat) {
            continue;
        }
        let v = f[c * n + k];
        if v > 0.0 && best.is_none_or(|(_, b)| v > b) {
            best = Some((cat, v));
        }
    }
    best.map(|(c, _)| c)
}

fn nc_err(path: &Path, context: &str, source: netcdf::Error) -> GridError {
    GridError::Netcdf {
        path: path.to_path_buf(),
        context: context.to_string(),
        source,
    }
}

fn put_coord(
    f: &mut netcdf::FileMut,
    path: &Path,
    name: &str,
    dims: &[&str],
    data: &[f64],
    standard_name: &str,
    units: &str,
) -> Result<(), GridError> {
    let e = |err| nc_err(path, &format!("variable {name}"), err);
    let mut v = f.add_variable::<f64>(name, dims).map_err(e)?;
    v.put_attribute("standard_name", standard_name).map_err(e)?;
    v.put_attribute("long_name", standard_name).map_err(e)?;
    v.put_attribute("units", units).map_err(e)?;
    v.put_values(data, ..).map_err(e)?;
    Ok(())
}

fn put_field_i32(
    f: &mut netcdf::FileMut,
    path: &Path,
    name: &str,
    dims: &[&str],
    data: &[i32],
    long_name: &str,
    coords: Option<&str>,
) -> Result<(), GridError> {
    let e = |err| nc_err(path, &format!("variable {name}"), err);
    let mut v = f.add_variable::<i32>(name, dims).map_err(e)?;
    v.put_attribute("long_name", long_name).map_err(e)?;
    v.put_attribute("units", "1").map_err(e)?;
    if let Some(c) = coords {
        v.put_attribute("coordinates", c).map_err(e)?;
    }
    v.set_compression(4, true).map_err(e)?;
    v.put_values(data, ..).map_err(e)?;
    Ok(())
}

/// One float variable of the static file: (name, data, dimensions, long_name, units,
/// standard_name).
type FloatVar<'a> = (
    &'a str,
    &'a [f64],
    &'a [&'a str],
    &'a str,
    &'a str,
    Option<&'a str>,
);

/// Small helper over an open file that turns every failure into an error naming the
/// file and the variable.
struct Reader<'a> {
    path: &'a Path,
    file: &'a netcdf::File,
}

impl<'a> Reader<'a> {
    fn var(&self, name: &str) -> Result<netcdf::Variable<'a>, GridError> {
        self.file
            .variable(name)
            .ok_or_else(|| GridError::MissingVariable {
                path: self.path.to_path_buf(),
                variable: name.to_string(),
            })
    }

    fn global_str(&self, name: &str) -> Result<String, GridError> {
        let attr_err = |message: String| GridError::Attribute {
            path: self.path.to_path_buf(),
            attribute: name.to_string(),
            message,
        };
        let a = self
            .file
            .attribute(name)
            .ok_or_else(|| attr_err("global attribute is missing".into()))?;
        match a.value() {
            Ok(netcdf::AttributeValue::Str(s)) => Ok(s),
            Ok(other) => Err(attr_err(format!("expected a string, found {other:?}"))),
            Err(e) => Err(nc_err(self.path, &format!("reading attribute {name}"), e)),
        }
    }

    fn global_i32(&self, name: &str) -> Result<Option<i32>, GridError> {
        let Some(a) = self.file.attribute(name) else {
            return Ok(None);
        };
        use netcdf::AttributeValue as V;
        match a.value() {
            Ok(V::Int(v)) => Ok(Some(v)),
            Ok(V::Short(v)) => Ok(Some(v.into())),
            Ok(V::Ints(v)) if v.len() == 1 => Ok(Some(v[0])),
            Ok(other) => Err(GridError::Attribute {
                path: self.path.to_path_buf(),
                attribute: name.to_string(),
                message: format!("expected an integer, found {other:?}"),
            }),
            Err(e) => Err(nc_err(self.path, &format!("reading attribute {name}"), e)),
        }
    }

    /// A real global attribute (`Float`, `Double` or a one-element array), if present.
    fn global_f64(&self, name: &str) -> Result<Option<f64>, GridError> {
        let Some(a) = self.file.attribute(name) else {
            return Ok(None);
        };
        use netcdf::AttributeValue as V;
        match a.value() {
            Ok(V::Float(v)) => Ok(Some(v.into())),
            Ok(V::Double(v)) => Ok(Some(v)),
            Ok(V::Floats(v)) if v.len() == 1 => Ok(Some(v[0].into())),
            Ok(V::Doubles(v)) if v.len() == 1 => Ok(Some(v[0])),
            Ok(other) => Err(GridError::Attribute {
                path: self.path.to_path_buf(),
                attribute: name.to_string(),
                message: format!("expected a real number, found {other:?}"),
            }),
            Err(e) => Err(nc_err(self.path, &format!("reading attribute {name}"), e)),
        }
    }

    /// The projection spacing (`DY`, `DX` in m) of a geo_em file in km; `None` when the
    /// file has neither (a grid without one measures its spacing from the centres).
    fn geo_em_spacing_km(&self) -> Result<Option<(f64, f64)>, GridError> {
        match (self.global_f64("DY")?, self.global_f64("DX")?) {
            (None, None) => Ok(None),
            (Some(dy), Some(dx)) if dy > 0.0 && dx > 0.0 => Ok(Some((dy / 1e3, dx / 1e3))),
            (dy, dx) => Err(GridError::Attribute {
                path: self.path.to_path_buf(),
                attribute: "DX/DY".into(),
                message: format!("expected two positive spacings in m, found {dx:?} and {dy:?}"),
            }),
        }
    }

    fn units(&self, name: &str) -> Result<Option<String>, GridError> {
        let v = self.var(name)?;
        match v.attribute_value("units") {
            None => Ok(None),
            Some(Ok(netcdf::AttributeValue::Str(s))) => Ok(Some(s)),
            Some(Ok(other)) => Err(GridError::Variable {
                path: self.path.to_path_buf(),
                variable: name.to_string(),
                message: format!("units attribute is not a string: {other:?}"),
            }),
            Some(Err(e)) => Err(nc_err(self.path, &format!("reading {name}:units"), e)),
        }
    }

    fn expect_units(&self, name: &str, accepted: &[&str]) -> Result<(), GridError> {
        match self.units(name)? {
            Some(u) if !accepted.contains(&u.trim().to_ascii_lowercase().as_str()) => {
                Err(GridError::Variable {
                    path: self.path.to_path_buf(),
                    variable: name.to_string(),
                    message: format!("unexpected units {u:?} (expected one of {accepted:?})"),
                })
            }
            _ => Ok(()),
        }
    }

    /// Factor turning a fraction-like variable into 0..1 from its units attribute.
    fn fraction_scale(&self, name: &str) -> Result<f64, GridError> {
        let u = self.units(name)?.unwrap_or_default();
        match u.trim().to_ascii_lowercase().as_str() {
            "percent" | "%" => Ok(0.01),
            "fraction" | "1" | "none" | "" | "-" | "dimensionless" => Ok(1.0),
            _ => Err(GridError::Variable {
                path: self.path.to_path_buf(),
                variable: name.to_string(),
                message: format!("unexpected units {u:?} (expected \"percent\" or \"fraction\")"),
            }),
        }
    }

    fn check_shape(
        &self,
        name: &str,
        v: &netcdf::Variable,
        expected: &[usize],
    ) -> Result<(), GridError> {
        let found: Vec<usize> = v.dimensions().iter().map(|d| d.len()).collect();
        if found != expected {
            return Err(GridError::Shape {
                path: self.path.to_path_buf(),
                variable: name.to_string(),
                expected: expected.to_vec(),
                found,
            });
        }
        Ok(())
    }

    fn check_dim_names(
        &self,
        name: &str,
        v: &netcdf::Variable,
        names: &[&str],
    ) -> Result<(), GridError> {
        let found: Vec<String> = v.dimensions().iter().map(|d| d.name()).collect();
        if found.iter().map(String::as_str).ne(names.iter().copied()) {
            return Err(GridError::Variable {
                path: self.path.to_path_buf(),
                variable: name.to_string(),
                message: format!("dimensions {found:?}, expected {names:?}"),
            });
        }
        Ok(())
    }

    /// A whole variable after checking its shape and dimension names.
    fn values<T: netcdf::NcTypeDescriptor + Copy>(
        &self,
        name: &str,
        shape: &[usize],
        dim_names: &[&str],
    ) -> Result<Vec<T>, GridError> {
        let v = self.var(name)?;
        self.check_shape(name, &v, shape)?;
        self.check_dim_names(name, &v, dim_names)?;
        v.get_values::<T, _>(..)
            .map_err(|e| nc_err(self.path, &format!("reading variable {name}"), e))
    }

    fn box_extents(shape: &[usize], bx: IndexBox) -> Extents {
        let mut ext: Vec<Extent> = Vec::with_capacity(3);
        if shape.len() == 3 {
            ext.push(Extent::from(..));
        }
        ext.push(Extent::from(bx.j0..bx.j1));
        ext.push(Extent::from(bx.i0..bx.i1));
        ext.into()
    }

    /// The part inside `bx` of a `(Y, X)` or `(month, Y, X)` variable of full `shape`.
    fn box_values<T: netcdf::NcTypeDescriptor + Copy>(
        &self,
        name: &str,
        shape: &[usize],
        dim_names: &[&str],
        bx: IndexBox,
    ) -> Result<Vec<T>, GridError> {
        let v = self.var(name)?;
        self.check_shape(name, &v, shape)?;
        self.check_dim_names(name, &v, dim_names)?;
        v.get_values::<T, _>(Self::box_extents(shape, bx))
            .map_err(|e| nc_err(self.path, &format!("reading variable {name}"), e))
    }

    /// As [`Reader::box_values`] for a variable the file may lack (`None`).
    fn optional_box_values(
        &self,
        name: &str,
        shape: &[usize],
        dim_names: &[&str],
        bx: IndexBox,
    ) -> Result<Option<Vec<f64>>, GridError> {
        if self.file.variable(name).is_none() {
            return Ok(None);
        }
        self.box_values(name, shape, dim_names, bx).map(Some)
    }

    /// A `(Time, south_north, west_east)` field at the first time.
    fn geo_2d(&self, name: &str, ny: usize, nx: usize) -> Result<Vec<f64>, GridError> {
        let v = self.var(name)?;
        let found: Vec<usize> = v.dimensions().iter().map(|d| d.len()).collect();
        if found.len() != 3 || found[0] < 1 || found[1] != ny || found[2] != nx {
            return Err(GridError::Shape {
                path: self.path.to_path_buf(),
                variable: name.to_string(),
                expected: vec![1, ny, nx],
                found,
            });
        }
        let ext: Extents = vec![Extent::from(0usize), Extent::from(..), Extent::from(..)].into();
        let data = v
            .get_values::<f64, _>(ext)
            .map_err(|e| nc_err(self.path, &format!("reading variable {name}"), e))?;
        if let Some(k) = data.iter().position(|x| !x.is_finite()) {
            return Err(GridError::Range {
                path: self.path.to_path_buf(),
                variable: name.to_string(),
                j: k / nx,
                i: k % nx,
                month: String::new(),
                value: data[k],
                allowed: "finite values".into(),
            });
        }
        Ok(data)
    }

    /// A `(Time, ncat, south_north, west_east)` field at the first time: `(ncat, data)`.
    fn geo_categories(
        &self,
        name: &str,
        ny: usize,
        nx: usize,
    ) -> Result<(usize, Vec<f64>), GridError> {
        let v = self.var(name)?;
        let found: Vec<usize> = v.dimensions().iter().map(|d| d.len()).collect();
        if found.len() != 4 || found[0] < 1 || found[2] != ny || found[3] != nx {
            return Err(GridError::Shape {
                path: self.path.to_path_buf(),
                variable: name.to_string(),
                expected: vec![1, found.get(1).copied().unwrap_or(0), ny, nx],
                found,
            });
        }
        let ext: Extents = vec![
            Extent::from(0usize),
            Extent::from(..),
            Extent::from(..),
            Extent::from(..),
        ]
        .into();
        let data = v
            .get_values::<f64, _>(ext)
            .map_err(|e| nc_err(self.path, &format!("reading variable {name}"), e))?;
        Ok((found[1], data))
    }

    /// Integer categories stored as floats (WPS writes them as float).
    fn geo_classes(&self, name: &str, ny: usize, nx: usize) -> Result<Vec<i32>, GridError> {
        let data = self.geo_2d(name, ny, nx)?;
        data.iter()
            .enumerate()
            .map(|(k, &x)| {
                let r = x.round();
                if (x - r).abs() > 1e-3 || r.abs() > 1e6 {
                    Err(GridError::Range {
                        path: self.path.to_path_buf(),
                        variable: name.to_string(),
                        j: k / nx,
                        i: k % nx,
                        month: String::new(),
                        value: x,
                        allowed: "integer categories".into(),
                    })
                } else {
                    Ok(r as i32)
                }
            })
            .collect()
    }

    /// A monthly `(Time, month, south_north, west_east)` fraction field in 0..1.
    fn geo_monthly_fraction(
        &self,
        name: &str,
        ny: usize,
        nx: usize,
    ) -> Result<Vec<f64>, GridError> {
        let scale = self.fraction_scale(name)?;
        let (nm, data) = self.geo_categories(name, ny, nx)?;
        if nm != 12 {
            return Err(GridError::Shape {
                path: self.path.to_path_buf(),
                variable: name.to_string(),
                expected: vec![1, 12, ny, nx],
                found: vec![1, nm, ny, nx],
            });
        }
        Ok(data.into_iter().map(|v| v * scale).collect())
    }
}
