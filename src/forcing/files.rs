//! The first forcing source: gridded NetCDF files named by valid time (`&forcing`), read as
//! the hyperslab the targets need and remapped to them.

use super::{
    check_value, conversion_to_si, parse_cf_time_units, ForcingError, ForcingRecord, ForcingRole,
    ForcingSpec, RecordSource, UnitConversion,
};
use crate::grid::remap::{Hyperslab, LatLonSource, RemapWeights};
use chrono::{Duration, NaiveDateTime};
use std::path::{Path, PathBuf};
use std::sync::Arc;

struct GridInfo {
    lat: Vec<f64>,
    lon: Vec<f64>,
    weights: RemapWeights,
    first_file: PathBuf,
}

/// Records from the data files of a [`ForcingSpec`]; cloned into a prefetch thread once the
/// first file has set up the remapping.
#[derive(Clone)]
pub struct FileRecords {
    spec: Arc<ForcingSpec>,
    targets: Arc<Vec<(f64, f64)>>,
    grid: Option<Arc<GridInfo>>,
    /// End of the land cycle reading, for templates naming the issuing cycle.
    cycle_end: Option<NaiveDateTime>,
}

impl RecordSource for FileRecords {
    fn read_record(&mut self, time: NaiveDateTime) -> Result<ForcingRecord, ForcingError> {
        self.read(time)
    }

    fn fork(&self) -> Option<Box<dyn RecordSource>> {
        // Before the first read the remapping is not set up: a forked copy would set up its
        // own and the reader's stays empty.
        self.grid.as_ref()?;
        Some(Box::new(self.clone()))
    }

    fn hyperslab(&self) -> Option<Hyperslab> {
        self.grid.as_ref().map(|g| g.weights.slab())
    }

    fn begin_window(&mut self, end: NaiveDateTime) -> Result<bool, ForcingError> {
        self.cycle_end = Some(end);
        Ok(self.spec.names_cycle())
    }
}

impl FileRecords {
    /// A source of the files of `spec` at `targets` (lat, lon in degrees).
    pub fn new(spec: Arc<ForcingSpec>, targets: Arc<Vec<(f64, f64)>>) -> Self {
        Self {
            spec,
            targets,
            grid: None,
            cycle_end: None,
        }
    }

    fn read(&mut self, time: NaiveDateTime) -> Result<ForcingRecord, ForcingError> {
        let path = self.spec.file_path_in_cycle(time, self.cycle_end)?;
        if !path.is_file() {
            return Err(ForcingError::MissingFile { path, time });
        }
        let _span = tracing::debug_span!("forcing_read", file = %path.display()).entered();
        // netCDF-C probes optional attributes through HDF5 and handles the failures itself;
        // HDF5's automatic error printing is per thread, so keep it off on this thread.
        hdf5::silence_errors(true);
        let nc_err = |source| ForcingError::Netcdf {
            path: path.clone(),
            source,
        };
        let file = netcdf::open(&path).map_err(nc_err)?;
        let read_axis = |name: &str| -> Result<(Vec<f64>, String), ForcingError> {
            let v = file
                .variable(name)
                .ok_or_else(|| ForcingError::MissingVariable {
                    path: path.clone(),
                    variable: name.to_string(),
                })?;
            if v.dimensions().len() != 1 {
                return Err(ForcingError::Format {
                    path: path.clone(),
                    message: format!("coordinate {name} is not 1-D"),
                });
            }
            let dim = v.dimensions()[0].name();
            let vals: Vec<f64> = v.get_values::<f64, _>(..).map_err(nc_err)?;
            Ok((vals, dim))
        };
        let (lat, lat_dim) = read_axis(&self.spec.lat_name)?;
        let (lon, lon_dim) = read_axis(&self.spec.lon_name)?;
        match &self.grid {
            Some(g) => {
                if g.lat != lat || g.lon != lon {
                    return Err(ForcingError::GridChanged {
                        path: path.clone(),
                        first: g.first_file.clone(),
                    });
                }
            }
            None => {
                let remap_err = |source| ForcingError::Remap {
                    path: path.clone(),
                    source,
                };
                let src = LatLonSource::new(lat.clone(), lon.clone()).map_err(remap_err)?;
                let weights =
                    RemapWeights::new(&src, &self.targets, self.spec.remap).map_err(remap_err)?;
                self.grid = Some(Arc::new(GridInfo {
                    lat,
                    lon,
                    weights,
                    first_file: path.clone(),
                }));
            }
        }
        if self.targets.is_empty() {
            // A rank without land cells needs no data (a zero-size hyperslab is not a read).
            return Ok(ForcingRecord::new(time, path, Default::default()));
        }
        let time_index = self.find_time_index(&file, &path, time)?;
        let mut values: [Vec<f64>; 7] = Default::default();
        for role in ForcingRole::ALL {
            let dims = (lat_dim.as_str(), lon_dim.as_str());
            values[role.index()] = self.read_role(&file, &path, role, dims, (time, time_index))?;
        }
        Ok(ForcingRecord::new(time, path, values))
    }

    /// One role's values at the targets (SI units, checked) from an open file.
    fn read_role(
        &self,
        file: &netcdf::File,
        path: &Path,
        role: ForcingRole,
        dims: (&str, &str),
        (time, time_index): (NaiveDateTime, Option<usize>),
    ) -> Result<Vec<f64>, ForcingError> {
        let grid = self.grid.as_ref().expect("grid set by the first read");
        let vs = self.spec.variables.get(role);
        let var = file
            .variable(&vs.name)
            .ok_or_else(|| ForcingError::MissingVariable {
                path: path.to_path_buf(),
                variable: vs.name.clone(),
            })?;
        let raw = read_slab(&var, path, dims, grid.weights.slab(), time_index)?;
        let conv = self.unit_conversion(&var, role, path)?;
        let (si, corrupt) = Packing::of(&var, path)?.unpack(raw, &conv);
        let mut at_targets = grid
            .weights
            .apply(&si)
            .map_err(|source| ForcingError::Remap {
                path: path.to_path_buf(),
                source,
            })?;
        for (k, v) in at_targets.iter_mut().enumerate() {
            let uses_corrupt = grid
                .weights
                .entries(k)
                .iter()
                .any(|&(idx, w)| w > 0.0 && corrupt[idx as usize]);
            // A target using corrupt data is reported like a missing value.
            let x = if uses_corrupt { f64::NAN } else { *v };
            *v = check_value(role, x, self.targets[k], (path, &vs.name, time))?;
        }
        Ok(at_targets)
    }

    fn unit_conversion(
        &self,
        var: &netcdf::Variable<'_>,
        role: ForcingRole,
        path: &Path,
    ) -> Result<UnitConversion, ForcingError> {
        let vs = self.spec.variables.get(role);
        // A file without a units attribute is taken to be in the units the spec declares.
        let units = match var.attribute_value("units") {
            Some(Ok(netcdf::AttributeValue::Str(s))) => s,
            Some(Ok(_)) => {
                return Err(ForcingError::Format {
                    path: path.to_path_buf(),
                    message: format!("units attribute of {} is not text", vs.name),
                })
            }
            Some(Err(source)) => {
                return Err(ForcingError::Netcdf {
                    path: path.to_path_buf(),
                    source,
                })
            }
            None => vs.units.clone(),
        };
        conversion_to_si(role, &units).ok_or_else(|| ForcingError::Units {
            path: path.to_path_buf(),
            variable: vs.name.clone(),
            role,
            units,
            expected: vs.units.clone(),
        })
    }

    /// Index of `time` along the file's time coordinate; None when the file has none.
    fn find_time_index(
        &self,
        file: &netcdf::File,
        path: &Path,
        time: NaiveDateTime,
    ) -> Result<Option<usize>, ForcingError> {
        let Some(tv) = file.variable(&self.spec.time_name) else {
            return Ok(None);
        };
        let units = match tv.attribute_value("units") {
            Some(Ok(netcdf::AttributeValue::Str(s))) => s,
            _ => {
                return Err(ForcingError::Format {
                    path: path.to_path_buf(),
                    message: format!("time coordinate {} has no text units", self.spec.time_name),
                })
            }
        };
        let (unit_s, epoch) = parse_cf_time_units(&units).ok_or_else(|| ForcingError::Format {
            path: path.to_path_buf(),
            message: format!("cannot parse time units \"{units}\""),
        })?;
        let vals: Vec<f64> =
            tv.get_values::<f64, _>(..)
                .map_err(|source| ForcingError::Netcdf {
                    path: path.to_path_buf(),
                    source,
                })?;
        let want = (time - epoch).num_milliseconds() as f64 / 1000.0;
        for (k, v) in vals.iter().enumerate() {
            if (v * unit_s - want).abs() < 1.0 {
                return Ok(Some(k));
            }
        }
        let found: Vec<String> = vals
            .iter()
            .take(4)
            .map(|v| {
                (epoch + Duration::milliseconds((v * unit_s * 1000.0).round() as i64)).to_string()
            })
            .collect();
        Err(ForcingError::Format {
            path: path.to_path_buf(),
            message: format!(
                "no record for valid time {time} (file holds {})",
                found.join(", ")
            ),
        })
    }
}

/// The hyperslab `slab` of `var` ([time,] lat, lon), at record `time_index` when the
/// variable has a time dimension; checks the dimension names `dims` (lat, lon).
fn read_slab(
    var: &netcdf::Variable<'_>,
    path: &Path,
    (lat_dim, lon_dim): (&str, &str),
    slab: Hyperslab,
    time_index: Option<usize>,
) -> Result<Vec<f64>, ForcingError> {
    let format = |message: String| ForcingError::Format {
        path: path.to_path_buf(),
        message,
    };
    let dims: Vec<String> = var.dimensions().iter().map(|d| d.name()).collect();
    let n = dims.len();
    if !(2..=3).contains(&n) || dims[n - 2] != lat_dim || dims[n - 1] != lon_dim {
        return Err(format(format!(
            "variable {} has dimensions ({}); expected ([time,] {lat_dim}, {lon_dim})",
            var.name(),
            dims.join(", ")
        )));
    }
    let nc_err = |source| ForcingError::Netcdf {
        path: path.to_path_buf(),
        source,
    };
    let lat_r = slab.lat_start..slab.lat_start + slab.lat_count;
    let lon_r = slab.lon_start..slab.lon_start + slab.lon_count;
    if n == 2 {
        return var.get_values::<f64, _>([lat_r, lon_r]).map_err(nc_err);
    }
    let ti = time_index.unwrap_or(0);
    if ti >= var.dimensions()[0].len() {
        return Err(format(format!(
            "variable {} has no record {ti}",
            var.name()
        )));
    }
    var.get_values::<f64, _>([ti..ti + 1, lat_r, lon_r])
        .map_err(nc_err)
}

/// CF packing and fill attributes of one variable (raw values compared before unpacking).
struct Packing {
    scale: f64,
    offset: f64,
    fills: Vec<f64>,
}

impl Packing {
    fn of(var: &netcdf::Variable<'_>, path: &Path) -> Result<Self, ForcingError> {
        let num = |name: &str| -> Result<Vec<f64>, ForcingError> {
            match var.attribute_value(name) {
                None => Ok(Vec::new()),
                Some(Err(source)) => Err(ForcingError::Netcdf {
                    path: path.to_path_buf(),
                    source,
                }),
                Some(Ok(v)) => attribute_numbers(&v).ok_or_else(|| ForcingError::Format {
                    path: path.to_path_buf(),
                    message: format!("attribute {name} of {} is not numeric", var.name()),
                }),
            }
        };
        let scale = num("scale_factor")?.first().copied().unwrap_or(1.0);
        let offset = num("add_offset")?.first().copied().unwrap_or(0.0);
        let mut fills = num("_FillValue")?;
        fills.extend(num("missing_value")?);
        Ok(Self {
            scale,
            offset,
            fills,
        })
    }

    /// Raw values to SI units, NaN where a declared fill is; a NaN that is not the declared
    /// fill is corrupt data, flagged (an error wherever a target uses it).
    fn unpack(&self, raw: Vec<f64>, conv: &UnitConversion) -> (Vec<f64>, Vec<bool>) {
        let mut corrupt = vec![false; raw.len()];
        let si = raw
            .into_iter()
            .enumerate()
            .map(|(k, r)| {
                if self.is_fill(r) {
                    f64::NAN
                } else if r.is_nan() {
                    corrupt[k] = true;
                    f64::NAN
                } else {
                    conv.apply(r * self.scale + self.offset)
                }
            })
            .collect();
        (si, corrupt)
    }

    /// A declared fill or missing value (a NaN counts only when NaN is declared).
    fn is_fill(&self, raw: f64) -> bool {
        if raw.is_nan() {
            return self.fills.iter().any(|f| f.is_nan());
        }
        self.fills.contains(&raw)
    }
}

fn attribute_numbers(v: &netcdf::AttributeValue) -> Option<Vec<f64>> {
    use netcdf::AttributeValue as A;
    Some(match v {
        A::Uchar(x) => vec![*x as f64],
        A::Schar(x) => vec![*x as f64],
        A::Ushort(x) => vec![*x as f64],
        A::Short(x) => vec![*x as f64],
        A::Uint(x) => vec![*x as f64],
        A::Int(x) => vec![*x as f64],
        A::Ulonglong(x) => vec![*x as f64],
        A::Longlong(x) => vec![*x as f64],
        A::Float(x) => vec![*x as f64],
        A::Double(x) => vec![*x],
        A::Uchars(x) => x.iter().map(|a| *a as f64).collect(),
        A::Schars(x) => x.iter().map(|a| *a as f64).collect(),
        A::Ushorts(x) => x.iter().map(|a| *a as f64).collect(),
        A::Shorts(x) => x.iter().map(|a| *a as f64).collect(),
        A::Uints(x) => x.iter().map(|a| *a as f64).collect(),
        A::Ints(x) => x.iter().map(|a| *a as f64).collect(),
        A::Ulonglongs(x) => x.iter().map(|a| *a as f64).collect(),
        A::Longlongs(x) => x.iter().map(|a| *a as f64).collect(),
        A::Floats(x) => x.iter().map(|a| *a as f64).collect(),
        A::Doubles(x) => x.clone(),
        A::Str(_) | A::Strs(_) => return None,
    })
}
