//! The land export into WRF: an atomically written copy of `wrfinput_d0N` in which SMOIS,
//! SH2O, TSLB, TSK, SNOW, SNOWH and CANWAT are replaced on the land cells (landcycle land and
//! LANDMASK = 1); every other value and attribute is left as it was, and one global
//! attribute ([`ANALYSIS_TIME_ATTRIBUTE`]) records the analysis time.
//!
//! Refused before anything is written: `soil_layers_stag` ≠ 4 or DZS ≠ (0.1, 0.3, 0.6,
//! 1.0) m; `Times` ≠ the export time; a cell whose SMOIS exceeds the porosity of its soil
//! class (ISLTYP); SH2O > SMOIS; a non-finite value.

use super::atomic::atomic_write;
use super::wrf_out::{parse_wrf_time, WrfError, WRF_TIME_FORMAT};
use chrono::NaiveDateTime;
use std::path::Path;

/// Noah's four soil layer thicknesses (m), the only layering the export accepts.
pub const WRF_NOAH_DZS: [f64; 4] = [0.1, 0.3, 0.6, 1.0];

/// The global attribute the export adds: the analysis time in WRF's date format.
pub const ANALYSIS_TIME_ATTRIBUTE: &str = "LANDCYCLE_ANALYSIS_TIME";

/// The seven exported fields on landcycle's land cells, in the order of the cell list (global
/// ids j·nx + i, ascending). Layered fields hold the 4 layers of a cell together (top first):
/// `smois[4 c + l]`. Units as WRF's: m3 m-3, K, kg m-2, m.
#[derive(Debug, Clone, Copy)]
pub struct WrfLandState<'a> {
    pub smois: &'a [f32],
    pub sh2o: &'a [f32],
    pub tslb: &'a [f32],
    pub tsk: &'a [f32],
    pub snow: &'a [f32],
    pub snowh: &'a [f32],
    pub canwat: &'a [f32],
}

/// What the export did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrfExportSummary {
    /// Cells written (landcycle land and LANDMASK = 1).
    pub cells_written: usize,
    /// landcycle land cells that are water in `wrfinput` (LANDMASK = 0): left alone.
    pub cells_water_in_wrf: usize,
}

const LAYERED: [&str; 3] = ["SMOIS", "SH2O", "TSLB"];
const SURFACE: [&str; 4] = ["TSK", "SNOW", "SNOWH", "CANWAT"];

impl WrfLandState<'_> {
    fn layered(&self, name: &str) -> &[f32] {
        match name {
            "SMOIS" => self.smois,
            "SH2O" => self.sh2o,
            _ => self.tslb,
        }
    }
    fn surface(&self, name: &str) -> &[f32] {
        match name {
            "TSK" => self.tsk,
            "SNOW" => self.snow,
            "SNOWH" => self.snowh,
            _ => self.canwat,
        }
    }
}

/// Write `output`: a copy of `input` with the land state of `cells` at `time` (see the module
/// doc for what is refused). `porosity_by_class[k]` is the porosity (m3 m-3) of soil class
/// k + 1 of ISLTYP (Noah's SOILPARM MAXSMC). `output` may be `input`.
pub fn export_wrfinput(
    input: &Path,
    output: &Path,
    time: NaiveDateTime,
    cells: &[u64],
    state: &WrfLandState<'_>,
    porosity_by_class: &[f64],
) -> Result<WrfExportSummary, WrfError> {
    let plan = plan(input, time, cells, state, porosity_by_class)?;
    atomic_write(output, |tmp: &Path| -> Result<(), WrfError> {
        std::fs::copy(input, tmp)
            .map_err(|e| WrfError::file(tmp, format!("copying {}: {e}", input.display())))?;
        write_fields(tmp, time, &plan, state)
    })?;
    Ok(plan.summary)
}

/// The cells to write: (index in `cells`, index on the WRF grid).
struct Plan {
    writes: Vec<(usize, usize)>,
    n: usize,
    summary: WrfExportSummary,
}

/// Every check, on the input file, before anything is written.
fn plan(
    input: &Path,
    time: NaiveDateTime,
    cells: &[u64],
    state: &WrfLandState<'_>,
    porosity_by_class: &[f64],
) -> Result<Plan, WrfError> {
    hdf5::silence_errors(true);
    let file = netcdf::open(input).map_err(WrfError::nc(input, "opening"))?;
    let dim = |name: &str| {
        file.dimension_len(name)
            .ok_or_else(|| WrfError::file(input, format!("dimension {name} is missing")))
    };
    let layers = dim("soil_layers_stag")?;
    if layers != 4 {
        return Err(WrfError::file(
            input,
            format!("soil_layers_stag = {layers}; landcycle exports Noah's 4 layers only"),
        ));
    }
    let n = dim("south_north")? * dim("west_east")?;
    check_dzs(&file, input)?;
    check_time(&file, input, time)?;
    check_lengths(input, cells, state, n)?;
    for name in LAYERED.iter().chain(&SURFACE) {
        check_shape(&file, input, name)?;
    }
    let landmask: Vec<f32> = read_all(&file, input, "LANDMASK")?;
    let isltyp: Vec<i32> = read_all(&file, input, "ISLTYP")?;
    let mut writes = Vec::new();
    for (c, &id) in cells.iter().enumerate() {
        let g = id as usize;
        if landmask[g] != 1.0 {
            continue;
        }
        check_cell(input, id, isltyp[g], c, state, porosity_by_class)?;
        writes.push((c, g));
    }
    let summary = WrfExportSummary {
        cells_written: writes.len(),
        cells_water_in_wrf: cells.len() - writes.len(),
    };
    Ok(Plan { writes, n, summary })
}

fn check_dzs(file: &netcdf::File, path: &Path) -> Result<(), WrfError> {
    let dzs: Vec<f32> = file
        .variable("DZS")
        .ok_or_else(|| WrfError::var(path, "DZS", "not in the file"))?
        .get_values::<f32, _>(..)
        .map_err(WrfError::nc(path, "reading DZS"))?;
    let ok = dzs.len() >= 4
        && dzs[..4]
            .iter()
            .zip(WRF_NOAH_DZS)
            .all(|(&a, b)| (a as f64 - b).abs() < 1e-5);
    if !ok {
        return Err(WrfError::var(
            path,
            "DZS",
            format!("soil layers {dzs:?} m, landcycle exports (0.1, 0.3, 0.6, 1.0) m only"),
        ));
    }
    Ok(())
}

fn check_time(file: &netcdf::File, path: &Path, time: NaiveDateTime) -> Result<(), WrfError> {
    let v = file
        .variable("Times")
        .ok_or_else(|| WrfError::var(path, "Times", "not in the file"))?;
    let raw = v
        .get_raw_values(..)
        .map_err(WrfError::nc(path, "reading Times"))?;
    let s = String::from_utf8_lossy(&raw).to_string();
    if parse_wrf_time(&s) != Some(time) {
        return Err(WrfError::var(
            path,
            "Times",
            format!(
                "holds \"{}\", the export time is {}",
                s.trim_end_matches('\0'),
                time.format(WRF_TIME_FORMAT)
            ),
        ));
    }
    Ok(())
}

fn check_lengths(
    path: &Path,
    cells: &[u64],
    state: &WrfLandState<'_>,
    n: usize,
) -> Result<(), WrfError> {
    if let Some(w) = cells.windows(2).find(|w| w[1] <= w[0]) {
        return Err(WrfError::file(
            path,
            format!(
                "export cells are not in ascending global id order ({} then {})",
                w[0], w[1]
            ),
        ));
    }
    if let Some(&id) = cells.iter().find(|&&id| id as usize >= n) {
        return Err(WrfError::file(
            path,
            format!("export cell {id} is outside the {n}-cell WRF grid"),
        ));
    }
    for name in LAYERED {
        check_len(path, name, state.layered(name).len(), 4 * cells.len())?;
    }
    for name in SURFACE {
        check_len(path, name, state.surface(name).len(), cells.len())?;
    }
    Ok(())
}

fn check_len(path: &Path, name: &str, got: usize, want: usize) -> Result<(), WrfError> {
    if got != want {
        return Err(WrfError::var(
            path,
            name,
            format!("{got} exported values given for {want}"),
        ));
    }
    Ok(())
}

/// The variable is float with WRF's dimensions for its kind.
fn check_shape(file: &netcdf::File, path: &Path, name: &str) -> Result<(), WrfError> {
    let v = file
        .variable(name)
        .ok_or_else(|| WrfError::var(path, name, "not in the file"))?;
    let dims: Vec<String> = v.dimensions().iter().map(|d| d.name()).collect();
    let want: &[&str] = if LAYERED.contains(&name) {
        &["Time", "soil_layers_stag", "south_north", "west_east"]
    } else {
        &["Time", "south_north", "west_east"]
    };
    if dims != want {
        return Err(WrfError::var(
            path,
            name,
            format!(
                "dimensions ({}), expected ({})",
                dims.join(", "),
                want.join(", ")
            ),
        ));
    }
    if v.vartype() != netcdf::types::NcVariableType::Float(netcdf::types::FloatType::F32) {
        return Err(WrfError::var(path, name, "is not a float variable"));
    }
    Ok(())
}

fn read_all<T: netcdf::NcTypeDescriptor + Copy>(
    file: &netcdf::File,
    path: &Path,
    name: &str,
) -> Result<Vec<T>, WrfError> {
    file.variable(name)
        .ok_or_else(|| WrfError::var(path, name, "not in the file"))?
        .get_values::<T, _>(..)
        .map_err(WrfError::nc(path, format!("reading {name}")))
}

/// Finite values, SMOIS within the porosity of the soil class, SH2O ≤ SMOIS.
fn check_cell(
    path: &Path,
    id: u64,
    class: i32,
    c: usize,
    state: &WrfLandState<'_>,
    porosity_by_class: &[f64],
) -> Result<(), WrfError> {
    let bad =
        |name: &str, message: String| WrfError::var(path, name, format!("cell {id}: {message}"));
    for name in LAYERED {
        if let Some(x) = state.layered(name)[4 * c..4 * c + 4]
            .iter()
            .find(|x| !x.is_finite())
        {
            return Err(bad(name, format!("non-finite value {x}")));
        }
    }
    for name in SURFACE {
        let x = state.surface(name)[c];
        if !x.is_finite() {
            return Err(bad(name, format!("non-finite value {x}")));
        }
    }
    let porosity = usize::try_from(class - 1)
        .ok()
        .and_then(|k| porosity_by_class.get(k))
        .ok_or_else(|| bad("ISLTYP", format!("soil class {class} has no porosity")))?;
    for l in 0..4 {
        let (sm, liq) = (state.smois[4 * c + l], state.sh2o[4 * c + l]);
        // Compared in f32: a value equal to the porosity must pass after rounding.
        if sm > *porosity as f32 {
            return Err(bad(
                "SMOIS",
                format!(
                    "layer {} value {sm} exceeds the porosity {porosity} of soil class {class}",
                    l + 1
                ),
            ));
        }
        if liq > sm {
            return Err(bad(
                "SH2O",
                format!("layer {} value {liq} exceeds SMOIS {sm}", l + 1),
            ));
        }
    }
    Ok(())
}

/// Into the copy at `tmp`: the analysis-time attribute and the seven fields on the planned cells.
fn write_fields(
    tmp: &Path,
    time: NaiveDateTime,
    plan: &Plan,
    state: &WrfLandState<'_>,
) -> Result<(), WrfError> {
    let mut file = netcdf::append(tmp).map_err(WrfError::nc(tmp, "opening the copy"))?;
    // Classic-format files take new attributes only in define mode.
    file.redef().map_err(WrfError::nc(tmp, "redef"))?;
    file.add_attribute(
        ANALYSIS_TIME_ATTRIBUTE,
        time.format(WRF_TIME_FORMAT).to_string(),
    )
    .map_err(WrfError::nc(
        tmp,
        format!("adding {ANALYSIS_TIME_ATTRIBUTE}"),
    ))?;
    file.enddef().map_err(WrfError::nc(tmp, "enddef"))?;
    for name in LAYERED.iter().chain(&SURFACE) {
        let mut v = file
            .variable_mut(name)
            .ok_or_else(|| WrfError::var(tmp, name, "not in the copy"))?;
        let mut values: Vec<f32> = v
            .get_values::<f32, _>(..)
            .map_err(WrfError::nc(tmp, format!("reading {name}")))?;
        if LAYERED.contains(name) {
            let src = state.layered(name);
            for &(c, g) in &plan.writes {
                for l in 0..4 {
                    values[l * plan.n + g] = src[4 * c + l];
                }
            }
        } else {
            let src = state.surface(name);
            for &(c, g) in &plan.writes {
                values[g] = src[c];
            }
        }
        v.put_values(&values, ..)
            .map_err(WrfError::nc(tmp, format!("writing {name}")))?;
    }
    file.close().map_err(WrfError::nc(tmp, "closing the copy"))
}
