//! Noah 3.4.1 parameter tables: soil (SOILPARM), vegetation (VEGPARM) and general (GENPARM).
//!
//! Two sources give the same typed tables:
//! - WRF-format `SOILPARM.TBL`, `VEGPARM.TBL`, `GENPARM.TBL` ([`ParameterTables::from_wrf_dir`]),
//! - landcycle's own self-describing table files (`run/tables/*.txt`, embedded in the binary as
//!   [`ParameterTables::builtin`], or read from a user directory with
//!   [`ParameterTables::from_landcycle_dir`]). The format is described in docs/tables.md.
//!
//! Field names are the WRF table column names in lower case. Classes are 1-based, as in WRF.

mod landcycle;
mod wrf;

use std::path::{Path, PathBuf};
use thiserror::Error;

/// Name of the STATSGO soil dataset (19 classes) in SOILPARM.TBL.
pub const SOIL_STATSGO: &str = "STAS";
/// Name of the USGS 24/27-category vegetation dataset in VEGPARM.TBL.
pub const VEG_USGS: &str = "USGS";
/// Name of the MODIS IGBP (20 categories, Noah-modified) vegetation dataset in VEGPARM.TBL.
pub const VEG_MODIS: &str = "MODIFIED_IGBP_MODIS_NOAH";

/// Errors reading or querying parameter tables. Every parse error names the file and line.
#[derive(Debug, Error)]
pub enum TableError {
    #[error("cannot read parameter table {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}: {message}")]
    Parse {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    Missing { file: String, message: String },
    #[error("unknown {kind} dataset '{name}' (available: {available})")]
    UnknownDataset {
        kind: &'static str,
        name: String,
        available: String,
    },
    #[error("unknown {kind} class {class} in dataset '{dataset}' (valid: 1..={count})")]
    UnknownClass {
        kind: &'static str,
        dataset: String,
        class: i64,
        count: usize,
    },
}

/// Soil hydraulic and thermal parameters of one soil class (SOILPARM.TBL row).
#[derive(Debug, Clone, PartialEq)]
pub struct SoilParams {
    /// Class description from the table (e.g. "SILTY CLAY LOAM").
    pub name: String,
    /// Clapp-Hornberger b exponent (-).
    pub bb: f64,
    /// Air-dry soil moisture (m3 m-3).
    pub drysmc: f64,
    /// Soil thermal diffusivity/conductivity coefficient F11 (-).
    pub f11: f64,
    /// Porosity, saturated soil moisture (m3 m-3).
    pub maxsmc: f64,
    /// Reference (field capacity) soil moisture, onset of transpiration stress (m3 m-3).
    pub refsmc: f64,
    /// Saturated soil matric potential (m).
    pub satpsi: f64,
    /// Saturated hydraulic conductivity (m s-1).
    pub satdk: f64,
    /// Saturated soil water diffusivity (m2 s-1).
    pub satdw: f64,
    /// Wilting point soil moisture (m3 m-3).
    pub wltsmc: f64,
    /// Quartz content (fraction, -).
    pub qtz: f64,
    /// Further named columns not used by Noah 3.4.1 (e.g. WRF 4.x BVIC, AXAJ, ...), lower-case
    /// names in table order. Empty for the 3.4.1 tables.
    pub extra: Vec<(String, f64)>,
}

impl SoilParams {
    /// A class from its values in the Noah column order (BB DRYSMC F11 MAXSMC REFSMC SATPSI
    /// SATDK SATDW WLTSMC QTZ), as both table readers collect them.
    pub fn from_columns(name: String, x: [f64; 10], extra: Vec<(String, f64)>) -> Self {
        SoilParams {
            name,
            bb: x[0],
            drysmc: x[1],
            f11: x[2],
            maxsmc: x[3],
            refsmc: x[4],
            satpsi: x[5],
            satdk: x[6],
            satdw: x[7],
            wltsmc: x[8],
            qtz: x[9],
            extra,
        }
    }
}

/// One soil dataset (e.g. "STAS"), classes in table order (index 0 is class 1).
#[derive(Debug, Clone, PartialEq)]
pub struct SoilDataset {
    pub name: String,
    pub classes: Vec<SoilParams>,
}

/// Vegetation parameters of one land-use class (VEGPARM.TBL row).
#[derive(Debug, Clone, PartialEq)]
pub struct VegetationParams {
    /// Class description from the table (e.g. "Grassland").
    pub name: String,
    /// Green vegetation fraction (-) (table value; Noah normally uses the monthly field).
    pub shdfac: f64,
    /// Number of soil layers with roots (-).
    pub nroot: usize,
    /// Minimum stomatal resistance (s m-1).
    pub rs: f64,
    /// Radiation stress parameter of canopy resistance (W m-2).
    pub rgl: f64,
    /// Vapour pressure deficit parameter of canopy resistance (-).
    pub hs: f64,
    /// Snow water equivalent threshold for full snow cover (m).
    pub snup: f64,
    /// Maximum deep-snow albedo (percent).
    pub maxalb: f64,
    /// Minimum leaf area index (m2 m-2).
    pub laimin: f64,
    /// Maximum leaf area index (m2 m-2).
    pub laimax: f64,
    /// Minimum surface emissivity (-).
    pub emissmin: f64,
    /// Maximum surface emissivity (-).
    pub emissmax: f64,
    /// Minimum snow-free albedo (-).
    pub albedomin: f64,
    /// Maximum snow-free albedo (-).
    pub albedomax: f64,
    /// Minimum roughness length (m).
    pub z0min: f64,
    /// Maximum roughness length (m).
    pub z0max: f64,
    /// Further named columns not used by Noah 3.4.1 (e.g. WRF 4.x ZTOPV, ZBOTV), lower-case
    /// names in table order. Empty for the 3.4.1 tables.
    pub extra: Vec<(String, f64)>,
}

impl VegetationParams {
    /// A class from its real values in the Noah column order (SHDFAC NROOT RS RGL HS SNUP
    /// MAXALB LAIMIN LAIMAX EMISSMIN EMISSMAX ALBEDOMIN ALBEDOMAX Z0MIN Z0MAX; `x[1]` is
    /// unused, NROOT is the integer `nroot`), as both table readers collect them.
    pub fn from_columns(
        name: String,
        x: [f64; 15],
        nroot: usize,
        extra: Vec<(String, f64)>,
    ) -> Self {
        VegetationParams {
            name,
            shdfac: x[0],
            nroot,
            rs: x[2],
            rgl: x[3],
            hs: x[4],
            snup: x[5],
            maxalb: x[6],
            laimin: x[7],
            laimax: x[8],
            emissmin: x[9],
            emissmax: x[10],
            albedomin: x[11],
            albedomax: x[12],
            z0min: x[13],
            z0max: x[14],
            extra,
        }
    }
}

/// One vegetation dataset (e.g. "USGS") with its table-level scalars.
#[derive(Debug, Clone, PartialEq)]
pub struct VegetationDataset {
    pub name: String,
    /// Classes in table order (index 0 is class 1).
    pub classes: Vec<VegetationParams>,
    /// Optimum air temperature for transpiration, TOPT_DATA (K).
    pub topt: f64,
    /// Maximum canopy water capacity, CMCMAX_DATA (m).
    pub cmcmax: f64,
    /// Canopy water drip exponent parameter, CFACTR_DATA (-).
    pub cfactr: f64,
    /// Maximum stomatal resistance, RSMAX_DATA (s m-1).
    pub rsmax: f64,
    /// Class number of bare soil, BARE (1-based).
    pub bare: usize,
    /// Class number of natural vegetation used for urban mosaics, NATURAL (1-based).
    pub natural: usize,
    /// Further scalars not used by Noah 3.4.1 (e.g. WRF 4.x CROP, LCZ_1..LCZ_11, URBAN),
    /// lower-case names in file order. Empty for the 3.4.1 tables.
    pub extra: Vec<(String, f64)>,
}

/// General (class-independent) parameters of GENPARM.TBL.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneralParams {
    /// Linear reservoir coefficient of drainage per slope class, SLOPE_DATA (-), slope class 1 first.
    pub slope_data: Vec<f64>,
    /// Parameter of bare-soil evaporation ground-heat dependence, SBETA_DATA (-).
    pub sbeta: f64,
    /// Bare-soil evaporation exponent, FXEXP_DATA (-).
    pub fxexp: f64,
    /// Soil heat capacity of the mineral soil, CSOIL_DATA (J m-3 K-1).
    pub csoil: f64,
    /// Snow cover shape parameter, SALP_DATA (-).
    pub salp: f64,
    /// Reference saturated conductivity of the Schaake runoff scaling, REFDK_DATA (m s-1).
    pub refdk: f64,
    /// Surface runoff parameter of the Schaake scheme, REFKDT_DATA (-).
    pub refkdt: f64,
    /// Frozen-ground parameter (ice content threshold), FRZK_DATA (-).
    pub frzk: f64,
    /// Depth of the lower temperature boundary, ZBOT_DATA (m, negative down).
    pub zbot: f64,
    /// Zilitinkevich coefficient of the thermal roughness length, CZIL_DATA (-).
    pub czil: f64,
    /// Lower soil moisture limit (unused by 3.4.1 SFLX), SMLOW_DATA (-).
    pub smlow: f64,
    /// Upper soil moisture limit (unused by 3.4.1 SFLX), SMHIGH_DATA (-).
    pub smhigh: f64,
    /// Coefficient of the snow-age dependence of the latent heat, LVCOEF_DATA (-).
    pub lvcoef: f64,
    /// Further named scalars not in the 3.4.1 set, lower-case names without `_data`, file order.
    pub extra: Vec<(String, f64)>,
}

/// The complete set of Noah parameter tables.
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterTables {
    /// Soil datasets with the Noah column layout (the 3.4.1 set: "STAS").
    pub soil: Vec<SoilDataset>,
    /// Vegetation datasets with the Noah column layout (the 3.4.1 set: "USGS",
    /// "MODIFIED_IGBP_MODIS_NOAH").
    pub vegetation: Vec<VegetationDataset>,
    pub general: GeneralParams,
}

fn class_index(
    kind: &'static str,
    dataset: &str,
    class: i32,
    count: usize,
) -> Result<usize, TableError> {
    if class >= 1 && (class as usize) <= count {
        Ok(class as usize - 1)
    } else {
        Err(TableError::UnknownClass {
            kind,
            dataset: dataset.to_string(),
            class: class as i64,
            count,
        })
    }
}

impl ParameterTables {
    /// Reads WRF-format `SOILPARM.TBL`, `VEGPARM.TBL` and `GENPARM.TBL` from `dir`, as WRF's
    /// Noah reads them (list-directed values; datasets of other LSMs, e.g. "STAS-RUC", are
    /// skipped). Extra columns and scalars of newer WRF versions are kept in the `extra` fields.
    pub fn from_wrf_dir(dir: impl AsRef<Path>) -> Result<Self, TableError> {
        let dir = dir.as_ref();
        let read = |name: &str| -> Result<(String, String), TableError> {
            let path = dir.join(name);
            let text = std::fs::read_to_string(&path).map_err(|source| TableError::Io {
                path: path.clone(),
                source,
            })?;
            Ok((path.display().to_string(), text))
        };
        let (sf, st) = read("SOILPARM.TBL")?;
        let (vf, vt) = read("VEGPARM.TBL")?;
        let (gf, gt) = read("GENPARM.TBL")?;
        Ok(ParameterTables {
            soil: wrf::parse_soilparm(&sf, &st)?,
            vegetation: wrf::parse_vegparm(&vf, &vt)?,
            general: wrf::parse_genparm(&gf, &gt)?,
        })
    }

    /// The Noah 3.4.1 tables shipped with landcycle (run/tables/, embedded in the binary):
    /// soil "STAS" (19 classes), vegetation "USGS" (27) and "MODIFIED_IGBP_MODIS_NOAH" (20),
    /// and the general parameters, with the values of WRF 3.4.1 run/*.TBL.
    pub fn builtin() -> Self {
        let files = BUILTIN_FILES
            .iter()
            .map(|(n, t)| (format!("builtin run/tables/{n}"), *t));
        // The embedded files are fixed at compile time and checked by tests/noah_tables.rs,
        // so a failure here is a build defect, not bad user input.
        landcycle::parse_files(files).expect("embedded run/tables/ parameter files are valid")
    }

    /// Reads landcycle-format table files (every `*.txt` in `dir`; format in docs/tables.md).
    /// At least one soil, one vegetation and exactly one general table are required.
    pub fn from_landcycle_dir(dir: impl AsRef<Path>) -> Result<Self, TableError> {
        landcycle::read_dir(dir.as_ref())
    }

    /// Writes these tables in landcycle format into `dir` (created if needed): one
    /// `soil_<DATASET>.txt` and `vegetation_<DATASET>.txt` per dataset and `general.txt`.
    /// `source` is recorded as provenance. Numbers read back bit-identically.
    pub fn write_landcycle_dir(
        &self,
        dir: impl AsRef<Path>,
        source: &str,
    ) -> Result<(), TableError> {
        let dir = dir.as_ref();
        let write = |name: String, text: String| -> Result<(), TableError> {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|source| TableError::Io { path, source })
        };
        std::fs::create_dir_all(dir).map_err(|source| TableError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        for d in &self.soil {
            write(
                format!("soil_{}.txt", d.name),
                landcycle::write_soil(d, source)?,
            )?;
        }
        for d in &self.vegetation {
            write(
                format!("vegetation_{}.txt", d.name),
                landcycle::write_vegetation(d, source)?,
            )?;
        }
        write(
            "general.txt".into(),
            landcycle::write_general(&self.general, source),
        )
    }

    /// The soil dataset named `dataset` (e.g. [`SOIL_STATSGO`]).
    pub fn soil_dataset(&self, dataset: &str) -> Result<&SoilDataset, TableError> {
        self.soil
            .iter()
            .find(|d| d.name == dataset)
            .ok_or_else(|| TableError::UnknownDataset {
                kind: "soil",
                name: dataset.to_string(),
                available: join_names(self.soil.iter().map(|d| d.name.as_str())),
            })
    }

    /// The vegetation dataset named `dataset` (e.g. [`VEG_USGS`], [`VEG_MODIS`]).
    pub fn vegetation_dataset(&self, dataset: &str) -> Result<&VegetationDataset, TableError> {
        self.vegetation
            .iter()
            .find(|d| d.name == dataset)
            .ok_or_else(|| TableError::UnknownDataset {
                kind: "vegetation",
                name: dataset.to_string(),
                available: join_names(self.vegetation.iter().map(|d| d.name.as_str())),
            })
    }

    /// Soil parameters of 1-based `class` in `dataset`.
    pub fn soil(&self, dataset: &str, class: i32) -> Result<&SoilParams, TableError> {
        let d = self.soil_dataset(dataset)?;
        Ok(&d.classes[class_index("soil", dataset, class, d.classes.len())?])
    }

    /// Vegetation parameters of 1-based `class` in `dataset`.
    pub fn vegetation(&self, dataset: &str, class: i32) -> Result<&VegetationParams, TableError> {
        let d = self.vegetation_dataset(dataset)?;
        Ok(&d.classes[class_index("vegetation", dataset, class, d.classes.len())?])
    }

    /// SLOPE_DATA of 1-based slope `class`.
    pub fn slope(&self, class: i32) -> Result<f64, TableError> {
        let n = self.general.slope_data.len();
        Ok(self.general.slope_data[class_index("slope", "SLOPE_DATA", class, n)?])
    }
}

/// The files of run/tables/, embedded so that the binary works from any directory.
const BUILTIN_FILES: [(&str, &str); 4] = [
    (
        "soil_STAS.txt",
        include_str!("../../../../run/tables/soil_STAS.txt"),
    ),
    (
        "vegetation_USGS.txt",
        include_str!("../../../../run/tables/vegetation_USGS.txt"),
    ),
    (
        "vegetation_MODIFIED_IGBP_MODIS_NOAH.txt",
        include_str!("../../../../run/tables/vegetation_MODIFIED_IGBP_MODIS_NOAH.txt"),
    ),
    (
        "general.txt",
        include_str!("../../../../run/tables/general.txt"),
    ),
];

fn join_names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join(", ")
}
