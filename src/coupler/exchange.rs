//! Mode 3, the exchange directory (COUPLING.md §3.3, docs/coupling.md): per land cycle T,
//! `<root>/<T>/atm2lnd/` is written only by the atmosphere and `<root>/<T>/lnd2atm/` only
//! by landcycle. The root waits for `atm2lnd/READY`, checks the manifest and every file's
//! length and sha256, and records what it consumed (`lnd2atm/ATM_CONSUMED`), so a second,
//! different delivery of a cycle is refused and an identical one is accepted. Every rank
//! then reads its cells' values from the verified records.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

use super::{check_grid, AtmToLand, CouplerError};
use crate::forcing::{
    ForcingError, ForcingRecord, ForcingRole, ForcingSpec, ForcingVariables, RecordSource,
    TimeSampling, VariableSpec,
};
use crate::io::weights::GridCells;
use crate::io::xchg::{
    atm_file_name, grid_id, read_grid, read_manifest, read_ready, sha256_bytes, sha256_file,
    time_text, write_text, CycleDirs, Manifest, MANIFEST, PROTOCOL, READY,
};

/// The record of a consumed delivery, in landcycle's own directory.
pub const CONSUMED: &str = "ATM_CONSUMED";

/// Variable names, SI units and sampling of the atmosphere → land records (§2): the forcing
/// roles by their ALMA names; the fluxes are means over the interval ending at the valid
/// time, the state variables instantaneous.
pub const ATM_VARIABLES: [(ForcingRole, &str, &str, TimeSampling); 7] = [
    (
        ForcingRole::AirTemperature,
        "Tair",
        "K",
        TimeSampling::Instantaneous,
    ),
    (
        ForcingRole::SpecificHumidity,
        "Qair",
        "kg kg-1",
        TimeSampling::Instantaneous,
    ),
    (
        ForcingRole::SurfacePressure,
        "PSurf",
        "Pa",
        TimeSampling::Instantaneous,
    ),
    (
        ForcingRole::WindSpeed,
        "Wind",
        "m s-1",
        TimeSampling::Instantaneous,
    ),
    (
        ForcingRole::Precipitation,
        "Rainf",
        "kg m-2 s-1",
        TimeSampling::PeriodMean,
    ),
    (
        ForcingRole::ShortwaveDown,
        "SWdown",
        "W m-2",
        TimeSampling::PeriodMean,
    ),
    (
        ForcingRole::LongwaveDown,
        "LWdown",
        "W m-2",
        TimeSampling::PeriodMean,
    ),
];

/// The variables that are period means, as a manifest lists them.
pub fn period_mean_names() -> Vec<String> {
    ATM_VARIABLES
        .iter()
        .filter(|v| v.3 == TimeSampling::PeriodMean)
        .map(|v| v.1.to_string())
        .collect()
}

/// `base` (timing, height, zenith weighting of `&forcing`) with the exchange variables.
pub fn exchange_spec(base: &ForcingSpec) -> ForcingSpec {
    let mut spec = base.clone();
    let mut vars = ForcingVariables::gldas();
    for (role, name, units, sampling) in ATM_VARIABLES {
        *vars.get_mut(role) = VariableSpec {
            name: name.to_string(),
            units: units.to_string(),
            sampling,
        };
    }
    spec.variables = vars;
    spec
}

/// Where and how long the root looks for a delivery.
#[derive(Debug, Clone)]
pub struct ExchangeSettings {
    pub root: PathBuf,
    pub deadline: Duration,
    pub poll: Duration,
    /// Time between records (s) and the window length (s).
    pub interval_seconds: i64,
    pub window_seconds: i64,
    /// The source grid of the a→l weights, which the records' grid must be (root).
    pub source: Option<GridCells>,
}

fn protocol(path: &Path, msg: String) -> CouplerError {
    CouplerError::Protocol {
        path: path.to_path_buf(),
        msg,
    }
}

/// Wait for `dir/READY` (until the deadline) and return the manifest hash it holds.
pub fn wait_ready(
    dir: &Path,
    cycle: &str,
    deadline: Duration,
    poll: Duration,
) -> Result<String, CouplerError> {
    let t0 = Instant::now();
    loop {
        if let Some(h) = read_ready(dir)? {
            return Ok(h);
        }
        if t0.elapsed() >= deadline {
            return Err(CouplerError::NoReady {
                path: dir.join(READY),
                cycle: cycle.to_string(),
                waited_s: t0.elapsed().as_secs(),
            });
        }
        std::thread::sleep(poll);
    }
}

/// The manifest of `dir` after checking it against READY's hash `ready` and every file it
/// lists (length, then sha256).
pub fn verified_manifest(dir: &Path, ready: &str) -> Result<Manifest, CouplerError> {
    let (bytes, m) = read_manifest(dir)?;
    let mpath = dir.join(MANIFEST);
    let found = sha256_bytes(&bytes);
    if found != ready {
        return Err(CouplerError::Checksum {
            path: mpath,
            listed_in: dir.join(READY),
            expected: ready.to_string(),
            found,
        });
    }
    if m.protocol != PROTOCOL {
        return Err(protocol(
            &mpath,
            format!(
                "protocol \"{}\", this landcycle speaks \"{PROTOCOL}\"",
                m.protocol
            ),
        ));
    }
    for f in &m.files {
        let p = dir.join(&f.file);
        let (sha, n) = sha256_file(&p)?;
        if n != f.bytes {
            return Err(CouplerError::Truncated {
                path: p,
                expected: f.bytes,
                found: n,
            });
        }
        if sha != f.sha256 {
            return Err(CouplerError::Checksum {
                path: p,
                listed_in: mpath,
                expected: f.sha256.clone(),
                found: sha,
            });
        }
    }
    Ok(m)
}

/// Root: wait for the atmosphere's delivery of the land cycle ending at `end`, verify it,
/// check it holds every record the window needs, and record it as consumed (or find it
/// consumed before with the same hash). Returns the manifest hash.
pub fn accept_delivery(s: &ExchangeSettings, end: NaiveDateTime) -> Result<String, CouplerError> {
    let dirs = CycleDirs::new(&s.root, end);
    let cycle = end.format("%Y%m%d%H").to_string();
    let ready = wait_ready(&dirs.atm2lnd, &cycle, s.deadline, s.poll)?;
    let record = dirs.lnd2atm.join(CONSUMED);
    if let Ok(before) = std::fs::read_to_string(&record) {
        if before.trim() != ready {
            return Err(CouplerError::Conflict {
                dir: dirs.atm2lnd.clone(),
                record,
                ready,
                consumed: before.trim().to_string(),
            });
        }
    }
    let m = verified_manifest(&dirs.atm2lnd, &ready)?;
    let mpath = dirs.atm2lnd.join(MANIFEST);
    if m.cycle != cycle {
        return Err(protocol(
            &mpath,
            format!("cycle {}, expected {cycle}", m.cycle),
        ));
    }
    if m.interval_seconds != s.interval_seconds || m.period_mean_ending != period_mean_names() {
        return Err(protocol(
            &mpath,
            format!(
                "records every {} s with period means {:?}; landcycle expects every {} s with {:?}",
                m.interval_seconds,
                m.period_mean_ending,
                s.interval_seconds,
                period_mean_names()
            ),
        ));
    }
    let mut v = end - chrono::Duration::seconds(s.window_seconds);
    while v <= end {
        let listed = m
            .files
            .iter()
            .any(|f| f.file == atm_file_name(v) && f.valid_time == time_text(v));
        if !listed {
            return Err(protocol(
                &mpath,
                format!("no record {} for valid time {v}", atm_file_name(v)),
            ));
        }
        v += chrono::Duration::seconds(s.interval_seconds);
    }
    check_delivery_grid(&dirs.atm2lnd, &m, s.source.as_ref())?;
    std::fs::create_dir_all(&dirs.lnd2atm).map_err(|source| crate::io::IoError::Fs {
        path: dirs.lnd2atm.clone(),
        action: "create directory",
        source,
    })?;
    write_text(&record, &format!("{ready}\n"))?;
    Ok(ready)
}

/// Every record's grid is the manifest's `grid_id` (sha256 of its centres), and that grid
/// is the source grid of the a→l weights (`source`), cell for cell.
fn check_delivery_grid(
    dir: &Path,
    m: &Manifest,
    source: Option<&GridCells>,
) -> Result<(), CouplerError> {
    let mut checked = false;
    for f in &m.files {
        let path = dir.join(&f.file);
        let (lat, lon) = read_grid(&path)?.centres();
        let id = grid_id(&lat, &lon);
        if id != m.grid_id {
            return Err(protocol(
                &path,
                format!(
                    "its grid (sha256 of the centres {id}) is not the manifest's grid_id {}",
                    m.grid_id
                ),
            ));
        }
        if let (Some(src), false) = (source, checked) {
            check_grid(src, &lat, &lon).map_err(|msg| protocol(&path, msg))?;
            checked = true;
        }
    }
    Ok(())
}

/// Every rank: the records of the current cycle's `atm2lnd/` (verified by the root).
#[derive(Clone)]
pub struct ExchangeRecords {
    root: PathBuf,
    spec: Arc<ForcingSpec>,
    remap: Arc<AtmToLand>,
    dir: Option<PathBuf>,
}

impl ExchangeRecords {
    pub fn new(root: PathBuf, spec: Arc<ForcingSpec>, remap: Arc<AtmToLand>) -> Self {
        ExchangeRecords {
            root,
            spec,
            remap,
            dir: None,
        }
    }
}

impl RecordSource for ExchangeRecords {
    fn read_record(&mut self, time: NaiveDateTime) -> Result<ForcingRecord, ForcingError> {
        let dir = self.dir.as_ref().ok_or_else(|| {
            ForcingError::Spec("exchange records read before a cycle began".into())
        })?;
        let path = dir.join(atm_file_name(time));
        if !path.is_file() {
            return Err(ForcingError::MissingFile { path, time });
        }
        self.remap.record(&path, time, &self.spec)
    }

    fn fork(&self) -> Option<Box<dyn RecordSource>> {
        Some(Box::new(self.clone()))
    }

    fn begin_window(&mut self, end: NaiveDateTime) -> Result<bool, ForcingError> {
        self.dir = Some(CycleDirs::new(&self.root, end).atm2lnd);
        Ok(true)
    }
}
