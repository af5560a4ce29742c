//! Mode 2 of the coupler: WRF's own history files (`wrfout_d0N_*`) as forcing on the WRF
//! domain, as a [`RecordSource`] for [`crate::forcing::ForcingReader::with_source`].
//!
//! The record of output time t holds, at every target cell:
//! - T2, PSFC, GLW, SWDOWN as stored, Q2 converted from mixing ratio r to specific humidity
//!   r / (1 + r), the wind speed (U10² + V10²)^½ (the speed is the same in grid-relative and
//!   earth-relative components): all instantaneous at t, so the reader interpolates them
//!   linearly to the middle of each model step. SWDOWN is not zenith-weighted: WRF writes the
//!   instantaneous flux, and the reader's zenith weighting redistributes period means only.
//! - the precipitation rate of the period (t − Δ, t] (Δ = the output interval), from the
//!   accumulations since the run start: (A(t) − A(t − Δ)) / Δ with A = RAINC + RAINNC
//!   (+ RAINSH) plus the bucket counts. Both files must belong to the same run (same
//!   SIMULATION_START_DATE), and A must not decrease (a WRF restart from scratch inside the
//!   window is an error, not negative rain). At the run start itself no period of the run
//!   ends, so the record holds NaN for precipitation; the reader never uses it when the land
//!   window starts at (or after) the run start, because a period mean is read from the file
//!   at the period's end.
//!
//! The landcycle grid must be the WRF domain (the run's `geo_em` file): every file's
//! XLAT/XLONG are checked against the grid on every land cell and target, to 1e-4°.

use crate::forcing::{
    check_value, ForcingError, ForcingRecord, ForcingRole, ForcingSpec, ForcingVariables,
    PeriodAlignment, RecordSource, TimeSampling, VariableSpec,
};
use crate::grid::remap::RemapMethod;
use crate::grid::{lon_diff, Grid};
use crate::io::wrf_out::{Patch, WrfError, WrfOutFile, WrfOutFiles};
use chrono::{Duration, NaiveDateTime};
use std::path::PathBuf;
use std::sync::Arc;

/// Largest allowed difference (degrees) between XLAT/XLONG and the grid's cell centres.
pub const GRID_TOLERANCE_DEG: f64 = 1e-4;

/// Where the WRF forcing comes from and how it is timed.
#[derive(Debug, Clone, PartialEq)]
pub struct WrfForcing {
    pub files: WrfOutFiles,
    /// WRF's history interval (s); must divide a day (e.g. 1800, 3600, 10800).
    pub interval_seconds: i64,
    /// Bucket size of I_RAINC/I_RAINNC (mm); None: the files' BUCKET_MM attribute.
    pub bucket_mm: Option<f64>,
    /// Height given to the land model as the forcing level (m).
    pub forcing_height: f64,
}

impl WrfForcing {
    /// Timing and sampling of the WRF records for [`crate::forcing::ForcingReader::with_source`]:
    /// precipitation a period mean ending at the file time, everything else instantaneous.
    pub fn forcing_spec(&self) -> ForcingSpec {
        let inst = |name: &str, units: &str| VariableSpec {
            name: name.to_string(),
            units: units.to_string(),
            sampling: TimeSampling::Instantaneous,
        };
        ForcingSpec {
            directory: self.files.directory.clone(),
            file_template: self.files.template.clone(),
            interval_seconds: self.interval_seconds,
            variables: ForcingVariables {
                air_temperature: inst("T2", "K"),
                specific_humidity: inst("Q2", "kg kg-1"),
                surface_pressure: inst("PSFC", "Pa"),
                wind_speed: inst("U10,V10", "m s-1"),
                precipitation: VariableSpec {
                    name: "RAINC+RAINNC+RAINSH".to_string(),
                    units: "kg m-2 s-1".to_string(),
                    sampling: TimeSampling::PeriodMean,
                },
                shortwave_down: inst("SWDOWN", "W m-2"),
                longwave_down: inst("GLW", "W m-2"),
            },
            forcing_height: self.forcing_height,
            sw_zenith_weighting: false,
            remap: RemapMethod::Nearest,
            period_alignment: PeriodAlignment::Ending,
            lat_name: "XLAT".to_string(),
            lon_name: "XLONG".to_string(),
            time_name: "Times".to_string(),
            // WRF's files are named by valid time; no forecast-archive fields.
            source_cycle_offset_hours: 0,
        }
    }
}

/// A grid cell the source checks or reads: global id, (j, i) and the grid's centre.
#[derive(Debug, Clone, Copy)]
struct Cell {
    id: u64,
    j: usize,
    i: usize,
    lat: f64,
    lon: f64,
}

/// WRF history files read at a rank's cells (identity mapping onto the WRF domain).
#[derive(Clone)]
pub struct WrfSource {
    forcing: Arc<WrfForcing>,
    /// (south_north, west_east) of the landcycle grid.
    dims: (usize, usize),
    patch: Patch,
    targets: Arc<Vec<Cell>>,
    /// Land cells and targets whose coordinates every file must match.
    checked: Arc<Vec<Cell>>,
}

impl WrfSource {
    /// A source for `targets` (global ids j·nx + i of `grid`, the WRF domain read from its
    /// `geo_em` file).
    pub fn new(forcing: WrfForcing, grid: &Grid, targets: &[u64]) -> Result<Self, ForcingError> {
        forcing.forcing_spec().validate()?;
        let cell = |id: u64| -> Result<Cell, ForcingError> {
            let (j, i) = grid
                .index_of(id)
                .map_err(|e| ForcingError::Spec(format!("WRF target cell {id}: {e}")))?;
            Ok(Cell {
                id,
                j,
                i,
                lat: grid.lat(j, i),
                lon: grid.lon(j, i),
            })
        };
        let targets: Vec<Cell> = targets
            .iter()
            .map(|&id| cell(id))
            .collect::<Result<_, _>>()?;
        let mut checked: Vec<Cell> = grid
            .land_cells()
            .into_iter()
            .map(cell)
            .collect::<Result<_, _>>()?;
        checked.extend(targets.iter().filter(|c| !grid.is_land(c.j, c.i)));
        Ok(Self {
            forcing: Arc::new(forcing),
            dims: (grid.ny(), grid.nx()),
            patch: bounding_patch(&targets),
            targets: Arc::new(targets),
            checked: Arc::new(checked),
        })
    }

    /// (lat, lon) of the targets, the points to give [`crate::forcing::ForcingReader`].
    pub fn target_points(&self) -> Vec<(f64, f64)> {
        self.targets.iter().map(|c| (c.lat, c.lon)).collect()
    }

    fn interval(&self) -> Duration {
        Duration::seconds(self.forcing.interval_seconds)
    }

    fn open(&self, time: NaiveDateTime) -> Result<(WrfOutFile, usize), ForcingError> {
        let file = WrfOutFile::open_at(&self.forcing.files, time).map_err(forcing_error)?;
        let ti = file.time_index(time).map_err(forcing_error)?;
        self.check_grid(&file, ti)?;
        Ok((file, ti))
    }

    /// The identity mapping holds: same dimensions, XLAT/XLONG within 1e-4° of the grid's
    /// centres on every checked cell.
    fn check_grid(&self, file: &WrfOutFile, ti: usize) -> Result<(), ForcingError> {
        let path = file.path().to_path_buf();
        if file.dims() != self.dims {
            return Err(ForcingError::Format {
                path,
                message: format!(
                    "grid is {:?} (south_north, west_east), the landcycle grid {:?}",
                    file.dims(),
                    self.dims
                ),
            });
        }
        let (xlat, xlong) = file.coordinates(ti).map_err(forcing_error)?;
        let nx = self.dims.1;
        for c in self.checked.iter() {
            let (la, lo) = (xlat[c.j * nx + c.i] as f64, xlong[c.j * nx + c.i] as f64);
            if (la - c.lat).abs() >= GRID_TOLERANCE_DEG
                || lon_diff(c.lon, lo).abs() >= GRID_TOLERANCE_DEG
            {
                return Err(ForcingError::Format {
                    path,
                    message: format!(
                        "XLAT/XLONG ({la}, {lo}) at cell j={}, i={} (global id {}) differ from the \
                         landcycle grid's centre ({}, {}) by {GRID_TOLERANCE_DEG}° or more: the \
                         WRF domain is not the geo_em domain of the run",
                        c.j, c.i, c.id, c.lat, c.lon
                    ),
                });
            }
        }
        Ok(())
    }

    /// Precipitation rate (kg m-2 s-1) over (time − Δ, time] at every target.
    fn precipitation(
        &self,
        file: &WrfOutFile,
        ti: usize,
        time: NaiveDateTime,
    ) -> Result<Vec<f64>, ForcingError> {
        if file.run_start() == Some(time) {
            return Ok(vec![f64::NAN; self.targets.len()]);
        }
        let (prev, pti) = self.previous_of_same_run(file, time)?;
        let bucket = self.forcing.bucket_mm;
        let a1 = file
            .accumulation(ti, self.patch, bucket)
            .map_err(forcing_error)?;
        let a0 = prev
            .accumulation(pti, self.patch, bucket)
            .map_err(forcing_error)?;
        if a1.parts != a0.parts {
            return Err(ForcingError::Format {
                path: file.path().to_path_buf(),
                message: format!(
                    "holds {} but {} holds {}",
                    a1.parts.join(" + "),
                    prev.path().display(),
                    a0.parts.join(" + ")
                ),
            });
        }
        let dt = self.forcing.interval_seconds as f64;
        let mut rate = Vec::with_capacity(self.targets.len());
        for c in self.targets.iter() {
            let k = self.patch.index(c.j, c.i);
            let (x0, x1) = (a0.total_mm[k], a1.total_mm[k]);
            // f32 storage of RAINNC − bucket may lose a few ulps when a bucket tips.
            let tol = 1e-6 * (x0.abs() + a1.bucket_mm.unwrap_or(0.0)).max(1.0);
            if x1 - x0 < -tol {
                return Err(ForcingError::Format {
                    path: file.path().to_path_buf(),
                    message: format!(
                        "accumulated precipitation ({}) at cell j={}, i={} decreases from {x0} mm \
                         at {} ({}) to {x1} mm at {time} without a bucket increment: WRF was \
                         restarted within the window",
                        a1.parts.join(" + "),
                        c.j,
                        c.i,
                        time - self.interval(),
                        prev.path().display()
                    ),
                });
            }
            rate.push((x1 - x0).max(0.0) / dt);
        }
        Ok(rate)
    }

    /// The file of the output time before `time`, checked to belong to the same run.
    fn previous_of_same_run(
        &self,
        file: &WrfOutFile,
        time: NaiveDateTime,
    ) -> Result<(WrfOutFile, usize), ForcingError> {
        let before = time - self.interval();
        let path = file.path().to_path_buf();
        if let Some(start) = file.run_start().filter(|s| *s > before) {
            return Err(ForcingError::Format {
                path,
                message: format!(
                    "the run started at {start}, after the previous output time {before}: the \
                     files are not written every {} s",
                    self.forcing.interval_seconds
                ),
            });
        }
        let (prev, pti) = self.open(before)?;
        if prev.run_start() != file.run_start() {
            return Err(ForcingError::Format {
                path,
                message: format!(
                    "run start {:?} differs from {:?} in {}: precipitation cannot be differenced \
                     across two WRF runs",
                    file.run_start(),
                    prev.run_start(),
                    prev.path().display()
                ),
            });
        }
        Ok((prev, pti))
    }

    fn read(&self, time: NaiveDateTime) -> Result<ForcingRecord, ForcingError> {
        let path = self.forcing.files.path(time).map_err(forcing_error)?;
        if self.targets.is_empty() {
            return Ok(ForcingRecord::new(time, path, Default::default()));
        }
        let (file, ti) = self.open(time)?;
        let s = file.surface(ti, self.patch).map_err(forcing_error)?;
        let precip = self.precipitation(&file, ti, time)?;
        let at = |v: &[f32], c: &Cell| v[self.patch.index(c.j, c.i)] as f64;
        let mut values: [Vec<f64>; 7] = Default::default();
        for (k, c) in self.targets.iter().enumerate() {
            let r = at(&s.q2, c);
            let (u, v) = (at(&s.u10, c), at(&s.v10, c));
            let row = [
                (ForcingRole::AirTemperature, "T2", at(&s.t2, c)),
                (ForcingRole::SpecificHumidity, "Q2", r / (1.0 + r)),
                (ForcingRole::SurfacePressure, "PSFC", at(&s.psfc, c)),
                (ForcingRole::WindSpeed, "U10,V10", (u * u + v * v).sqrt()),
                (ForcingRole::Precipitation, "RAINC+RAINNC", precip[k]),
                (ForcingRole::ShortwaveDown, "SWDOWN", at(&s.swdown, c)),
                (ForcingRole::LongwaveDown, "GLW", at(&s.glw, c)),
            ];
            for (role, name, x) in row {
                let x = checked_value(role, x, (&path, name, time, c))?;
                values[role as usize].push(x);
            }
        }
        Ok(ForcingRecord::new(time, path, values))
    }
}

/// The range check and floor every source applies; NaN precipitation at the run start passes.
fn checked_value(
    role: ForcingRole,
    x: f64,
    (path, name, time, c): (&PathBuf, &str, NaiveDateTime, &Cell),
) -> Result<f64, ForcingError> {
    if role == ForcingRole::Precipitation && x.is_nan() {
        return Ok(x);
    }
    check_value(role, x, (c.lat, c.lon), (path, name, time))
}

impl RecordSource for WrfSource {
    fn read_record(&mut self, time: NaiveDateTime) -> Result<ForcingRecord, ForcingError> {
        self.read(time)
    }

    fn fork(&self) -> Option<Box<dyn RecordSource>> {
        Some(Box::new(self.clone()))
    }
}

/// The smallest patch holding every target (empty without targets).
fn bounding_patch(targets: &[Cell]) -> Patch {
    let (mut j0, mut i0, mut j1, mut i1) = (usize::MAX, usize::MAX, 0, 0);
    for c in targets {
        (j0, i0) = (j0.min(c.j), i0.min(c.i));
        (j1, i1) = (j1.max(c.j + 1), i1.max(c.i + 1));
    }
    if targets.is_empty() {
        return Patch {
            j0: 0,
            i0: 0,
            ny: 0,
            nx: 0,
        };
    }
    Patch {
        j0,
        i0,
        ny: j1 - j0,
        nx: i1 - i0,
    }
}

/// The forcing room's error for a WRF file error (file, and variable where there is one).
pub fn forcing_error(e: WrfError) -> ForcingError {
    match e {
        WrfError::MissingFile { path, time } => ForcingError::MissingFile { path, time },
        WrfError::Variable {
            path,
            variable,
            message,
        } => ForcingError::Format {
            path,
            message: format!("variable {variable}: {message}"),
        },
        WrfError::File { path, message } => ForcingError::Format { path, message },
        WrfError::Netcdf {
            path,
            context,
            source,
        } => ForcingError::Format {
            path,
            message: format!("{context}: {source}"),
        },
        WrfError::Io(e) => ForcingError::Spec(e.to_string()),
    }
}
