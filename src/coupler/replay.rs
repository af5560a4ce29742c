//! The data atmosphere of `landcycle atm replay`: serves forcing from data files (GLDAS-style
//! names, e.g. the synthetic weather or GLDAS-2.1) on the files' own grid through the
//! exchange directory, and checks and acknowledges the land export. It is the atmosphere's
//! side of mode 3, so tests and users run the protocol without an atmosphere model.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDateTime;

use super::exchange::{period_mean_names, verified_manifest, wait_ready, ATM_VARIABLES};
use super::CouplerError;
use crate::forcing::{conversion_to_si, ForcingError, ForcingSpec, TimeSampling};
use crate::io::xchg::{
    atm_file_name, describe_file, grid_id, publish, read_cells, read_grid, read_ready,
    read_variable, time_text, write_record as write_nc_record, write_text, AtmGrid, CycleDirs,
    Manifest, RecordField, ACK, PROTOCOL,
};

/// What the replay serves and how long it waits.
#[derive(Debug, Clone)]
pub struct Replay {
    /// The data files (names, variables, expected units, interval).
    pub spec: ForcingSpec,
    pub root: PathBuf,
    pub window_seconds: i64,
    /// The atmosphere cycle issuing the records of land cycle T is T + this (s).
    pub source_offset_seconds: i64,
    pub deadline: Duration,
    pub poll: Duration,
}

/// What the replay found in a land export.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportCheck {
    pub manifest_sha256: String,
    pub cells_with_land: usize,
    pub mean_soil_moisture: f64,
}

impl Replay {
    /// Deliver the records of the land cycle ending at `end` (valid end − window … end),
    /// then READY. A delivery already published is left as it is.
    pub fn deliver(&self, end: NaiveDateTime) -> Result<String, CouplerError> {
        let dirs = CycleDirs::new(&self.root, end);
        if let Some(h) = read_ready(&dirs.atm2lnd)? {
            return Ok(h);
        }
        mkdir(&dirs.atm2lnd)?;
        let step = chrono::Duration::seconds(self.spec.interval_seconds);
        let mut v = end - chrono::Duration::seconds(self.window_seconds);
        let mut files = Vec::new();
        let mut gid = String::new();
        while v <= end {
            let grid = self.write_record(&dirs.atm2lnd, v)?;
            let (lat, lon) = grid.centres();
            gid = grid_id(&lat, &lon);
            files.push(describe_file(&dirs.atm2lnd, &atm_file_name(v), v)?);
            v += step;
        }
        let issue = end + chrono::Duration::seconds(self.source_offset_seconds);
        let m = Manifest {
            protocol: PROTOCOL.into(),
            producer: format!("landcycle atm replay {}", env!("CARGO_PKG_VERSION")),
            cycle: end.format("%Y%m%d%H").to_string(),
            issue_time: time_text(issue),
            interval_seconds: self.spec.interval_seconds,
            period_mean_ending: period_mean_names(),
            grid_id: gid,
            files,
        };
        Ok(publish(&dirs.atm2lnd, &m)?)
    }

    /// One record: the data file valid at `v`, in SI units, as f32 on its own grid.
    fn write_record(&self, dir: &Path, v: NaiveDateTime) -> Result<AtmGrid, CouplerError> {
        let (grid, values) = self.read_atm(v)?;
        let fields: Vec<RecordField<'_>> = ATM_VARIABLES
            .iter()
            .zip(&values)
            .map(|((_, name, units, sampling), vals)| RecordField {
                name,
                units,
                long_name: name,
                layers: 0,
                period_mean: *sampling == TimeSampling::PeriodMean,
                values: vals,
            })
            .collect();
        let src = self.spec.file_path(v)?;
        let title = format!("landcycle atm replay of {}", src.display());
        write_nc_record(&dir.join(atm_file_name(v)), &grid, v, &fields, &title)?;
        Ok(grid)
    }

    /// The data file valid at `v`: its grid and the seven fields of [`ATM_VARIABLES`] in SI
    /// units as f32, every cell. What every transport of the replay serves.
    pub fn read_atm(&self, v: NaiveDateTime) -> Result<(AtmGrid, Vec<Vec<f32>>), CouplerError> {
        let src = self.spec.file_path(v)?;
        if !src.is_file() {
            return Err(ForcingError::MissingFile { path: src, time: v }.into());
        }
        let grid = read_grid(&src)?;
        let dims = match &grid {
            AtmGrid::LatLon { lat, lon } => vec![lon.len(), lat.len()],
            AtmGrid::Cells { lat, .. } => vec![lat.len()],
        };
        let ids: Vec<u64> = (0..grid.n_cells() as u64).collect();
        let names: Vec<&str> = ATM_VARIABLES
            .iter()
            .map(|(role, ..)| self.spec.variables.get(*role).name.as_str())
            .collect();
        let raw = read_cells(&src, &names, &dims, &ids)?;
        let mut values: Vec<Vec<f32>> = Vec::new();
        for ((role, ..), (field, name)) in ATM_VARIABLES.iter().zip(raw.into_iter().zip(&names)) {
            let units = field
                .units
                .unwrap_or_else(|| self.spec.variables.get(*role).units.clone());
            let conv = conversion_to_si(*role, &units).ok_or_else(|| ForcingError::Units {
                path: src.clone(),
                variable: name.to_string(),
                role: *role,
                units: units.clone(),
                expected: role.si_units().into(),
            })?;
            values.push(field.values.iter().map(|&x| conv.apply(x) as f32).collect());
        }
        Ok((grid, values))
    }

    /// Wait for the land export of the cycle ending at `end`, verify it, check its soil
    /// moisture, and acknowledge it (`lnd2atm/ACK`).
    pub fn receive(&self, end: NaiveDateTime) -> Result<ExportCheck, CouplerError> {
        let dirs = CycleDirs::new(&self.root, end);
        let cycle = end.format("%Y%m%d%H").to_string();
        let ready = wait_ready(&dirs.lnd2atm, &cycle, self.deadline, self.poll)?;
        let m = verified_manifest(&dirs.lnd2atm, &ready)?;
        let f = m.files.first().ok_or_else(|| CouplerError::Protocol {
            path: dirs.lnd2atm.clone(),
            msg: "the land export lists no file".into(),
        })?;
        let path = dirs.lnd2atm.join(&f.file);
        let grid = read_grid(&path)?;
        let top = read_top_layer(&path, grid.n_cells())?;
        let check = check_top_layer(&top, ready).map_err(|msg| CouplerError::Protocol {
            path: path.clone(),
            msg,
        })?;
        let ack = serde_json::json!({
            "status": "consumed",
            "manifest_sha256": check.manifest_sha256,
            "cells_with_land": check.cells_with_land,
        });
        write_text(&dirs.lnd2atm.join(ACK), &format!("{ack}\n"))?;
        Ok(check)
    }
}

/// The replay's check of an export: the top-layer soil moisture of the atmosphere cells
/// with land (NaN elsewhere) lies in 0..1 m3 m-3.
pub fn check_top_layer(top: &[f64], manifest_sha256: String) -> Result<ExportCheck, String> {
    let land: Vec<f64> = top.iter().copied().filter(|v| !v.is_nan()).collect();
    if let Some(bad) = land.iter().find(|v| !(0.0..=1.0).contains(*v)) {
        return Err(format!("SoilMoistV {bad} outside 0..1 m3 m-3"));
    }
    Ok(ExportCheck {
        manifest_sha256,
        cells_with_land: land.len(),
        mean_soil_moisture: land.iter().sum::<f64>() / land.len().max(1) as f64,
    })
}

/// The top layer of SoilMoistV (layer 0) at every cell: the first `n` values of the
/// (time, layer, …) field.
fn read_top_layer(path: &Path, n: usize) -> Result<Vec<f64>, CouplerError> {
    let mut v = read_variable(path, "SoilMoistV")?.values;
    v.truncate(n);
    Ok(v)
}

fn mkdir(p: &Path) -> Result<(), CouplerError> {
    std::fs::create_dir_all(p).map_err(|source| {
        crate::io::IoError::Fs {
            path: p.to_path_buf(),
            action: "create directory",
            source,
        }
        .into()
    })
}
