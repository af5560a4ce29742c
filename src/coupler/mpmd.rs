//! Mode 4, MPMD (docs/coupling.md): the atmosphere and landcycle in one `mpirun`, the two
//! application roots exchanging [`PeerRecord`]s through a [`PeerChannel`] (the `parallel`
//! room's; no MPI here). The land root drives, and the atmosphere only answers, so the
//! roots never both send and a message never waits for a receiver that went away:
//!
//! | land root sends | atmosphere answers |
//! |---|---|
//! | `REQUEST {cycle}` at each window start | `FORCING` (the window's records) or `ERROR` |
//! | `EXPORT` at the export time | `ACK` (its check of the export) or `ERROR` |
//! | `STOP {ok, message}` when the run ends, well or not | nothing; it ends |
//!
//! Every receive has a deadline (`coupler:deadline_seconds`, nonblocking probes every
//! `poll_milliseconds`), so a peer that stopped or hangs is an error that names it. The
//! records carry the same f32 fields and grid as the exchange directory's files, and the
//! land side applies the same [`AtmToLand`] rows and [`LandToAtm`] export, so the two modes
//! give the same bits.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::NaiveDateTime;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::exchange::{period_mean_names, ATM_VARIABLES};
use super::grid_check::check_grid;
use super::land_to_atm::LandToAtm;
use super::{AtmToLand, CouplerError, LandFields};
use crate::forcing::{ForcingError, ForcingRecord, ForcingSpec, RecordSource};
use crate::io::weights::GridCells;
use crate::io::xchg::{grid_id, time_text, CellValues};
use crate::parallel::{PeerChannel, PeerRecord};

/// The protocol every forcing record names.
pub const PROTOCOL: &str = "landcycle-mpmd/1";

/// Record kinds.
pub mod kind {
    pub const REQUEST: u8 = 1;
    pub const FORCING: u8 = 2;
    pub const EXPORT: u8 = 3;
    pub const ACK: u8 = 4;
    pub const ERROR: u8 = 5;
    pub const STOP: u8 = 6;
}

/// `REQUEST`: the land cycle (window end, `YYYYMMDDHH`) whose forcing the land wants.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    pub cycle: String,
}

/// `FORCING`: the window's records on the atmosphere grid. `f64s` holds the `n_cells`
/// latitudes then longitudes of the cell centres (degrees); `f32s` the values, record by
/// record (valid time), variable by variable (`variables`, SI `units`), cell by cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForcingHeader {
    pub protocol: String,
    pub producer: String,
    pub cycle: String,
    pub issue_time: String,
    pub interval_seconds: i64,
    pub period_mean_ending: Vec<String>,
    /// sha256 of the centres, as in an exchange manifest.
    pub grid_id: String,
    pub n_cells: usize,
    pub valid_times: Vec<String>,
    pub variables: Vec<String>,
    pub units: Vec<String>,
}

/// `EXPORT`: the land state on the atmosphere grid at `time`; `f32s` holds the fields of
/// `variables` back to back, layered ones layer-major (`layers` each), NaN without land.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportHeader {
    pub cycle: String,
    pub time: String,
    pub grid_id: String,
    pub n_cells: usize,
    pub variables: Vec<String>,
    pub units: Vec<String>,
    pub layers: Vec<usize>,
}

/// `ACK`: what the atmosphere found in the export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    pub cycle: String,
    pub cells_with_land: usize,
    pub mean_soil_moisture: f64,
}

/// `ERROR` and `STOP`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub ok: bool,
    pub message: String,
}

/// A record of `kind` with `header` as JSON.
pub fn record<H: Serialize>(kind: u8, header: &H) -> PeerRecord {
    PeerRecord::new(
        kind,
        serde_json::to_string(header).expect("headers serialise"),
    )
}

/// The header of `rec` as `H`.
pub fn header<H: DeserializeOwned>(rec: &PeerRecord) -> Result<H, CouplerError> {
    serde_json::from_str(&rec.header).map_err(|e| {
        CouplerError::Peer(format!(
            "a record of kind {} with an unreadable header ({e}): {:.200}",
            rec.kind, rec.header
        ))
    })
}

/// Timing of the land root's waits.
#[derive(Debug, Clone)]
pub struct MpmdSettings {
    pub deadline: Duration,
    pub poll: Duration,
    pub interval_seconds: i64,
    pub window_seconds: i64,
}

fn cycle_of(end: NaiveDateTime) -> String {
    end.format("%Y%m%d%H").to_string()
}

/// The answer `rec` to a land request, unless the atmosphere reported an error or stopped.
fn expect_kind(rec: PeerRecord, want: u8, cycle: &str) -> Result<PeerRecord, CouplerError> {
    match rec.kind {
        k if k == want => Ok(rec),
        kind::ERROR | kind::STOP => {
            let n: Note = header(&rec)?;
            Err(CouplerError::Peer(format!(
                "the atmosphere stopped at land cycle {cycle}: {}",
                n.message
            )))
        }
        k => Err(CouplerError::Peer(format!(
            "land cycle {cycle}: expected a record of kind {want} from the atmosphere, got kind {k}"
        ))),
    }
}

/// Land root: ask for the forcing of the window ending at `end`, wait for it and check it
/// against the window and the source grid of the a→l weights. Returns the record to
/// broadcast to the land ranks.
pub fn request_window(
    ch: &dyn PeerChannel,
    s: &MpmdSettings,
    end: NaiveDateTime,
    source: &GridCells,
) -> Result<PeerRecord, CouplerError> {
    let cycle = cycle_of(end);
    ch.send(&record(
        kind::REQUEST,
        &Request {
            cycle: cycle.clone(),
        },
    ));
    let what = format!("the forcing of land cycle {cycle}");
    let rec = ch.recv(&what, s.deadline, s.poll)?;
    let rec = expect_kind(rec, kind::FORCING, &cycle)?;
    let h: ForcingHeader = header(&rec)?;
    check_forcing(&h, &rec, s, end).map_err(|m| CouplerError::Peer(format!("{what}: {m}")))?;
    check_grid(source, &rec.f64s[..h.n_cells], &rec.f64s[h.n_cells..])
        .map_err(|m| CouplerError::Peer(format!("{what}: {m}")))?;
    Ok(rec)
}

/// The header and payload sizes of a forcing record against the window.
fn check_forcing(
    h: &ForcingHeader,
    rec: &PeerRecord,
    s: &MpmdSettings,
    end: NaiveDateTime,
) -> Result<(), String> {
    if h.protocol != PROTOCOL {
        return Err(format!(
            "protocol \"{}\", this landcycle speaks \"{PROTOCOL}\"",
            h.protocol
        ));
    }
    if h.cycle != cycle_of(end) {
        return Err(format!("the record is for cycle {}", h.cycle));
    }
    if h.interval_seconds != s.interval_seconds || h.period_mean_ending != period_mean_names() {
        return Err(format!(
            "records every {} s with period means {:?}; landcycle expects every {} s with {:?}",
            h.interval_seconds,
            h.period_mean_ending,
            s.interval_seconds,
            period_mean_names()
        ));
    }
    let want: Vec<String> = window_times(end, s).into_iter().map(time_text).collect();
    if h.valid_times != want {
        return Err(format!(
            "valid times {:?}, the window needs {want:?}",
            h.valid_times
        ));
    }
    let names: Vec<&str> = ATM_VARIABLES.iter().map(|v| v.1).collect();
    if h.variables != names || h.units.len() != names.len() {
        return Err(format!(
            "variables {:?}, landcycle expects {names:?}",
            h.variables
        ));
    }
    let n32 = h.valid_times.len() * names.len() * h.n_cells;
    if rec.f64s.len() != 2 * h.n_cells || rec.f32s.len() != n32 {
        return Err(format!(
            "{} coordinates and {} values for {} cells (expected {} and {n32}): a truncated record",
            rec.f64s.len(),
            rec.f32s.len(),
            h.n_cells,
            2 * h.n_cells
        ));
    }
    let found = grid_id(&rec.f64s[..h.n_cells], &rec.f64s[h.n_cells..]);
    if found != h.grid_id {
        return Err(format!(
            "grid_id {} differs from the sha256 {found} of the centres sent",
            h.grid_id
        ));
    }
    Ok(())
}

/// Valid times of the records of the window ending at `end`: window start … end.
fn window_times(end: NaiveDateTime, s: &MpmdSettings) -> Vec<NaiveDateTime> {
    let step = chrono::Duration::seconds(s.interval_seconds);
    let mut v = end - chrono::Duration::seconds(s.window_seconds);
    let mut out = Vec::new();
    while v <= end {
        out.push(v);
        v += step;
    }
    out
}

/// A forcing record of the current window, decoded on every land rank.
pub struct WindowForcing {
    header: ForcingHeader,
    values: Vec<f32>,
}

impl WindowForcing {
    /// From the bytes the land root broadcast (a record it checked).
    pub fn decode(bytes: &[u8]) -> Result<Self, CouplerError> {
        let rec = PeerRecord::decode(bytes)
            .map_err(|m| CouplerError::Peer(format!("the broadcast forcing: {m}")))?;
        Ok(WindowForcing {
            header: header(&rec)?,
            values: rec.f32s,
        })
    }

    /// Values of variables `names` at source cells `ids` of the record valid at `time`.
    fn cells(
        &self,
        time: NaiveDateTime,
        names: &[&str],
        ids: &[u64],
    ) -> Result<Vec<CellValues>, String> {
        let h = &self.header;
        let t = h
            .valid_times
            .iter()
            .position(|v| *v == time_text(time))
            .ok_or_else(|| format!("no record valid at {time} in cycle {}", h.cycle))?;
        let nv = h.variables.len();
        names
            .iter()
            .map(|name| {
                let v = h
                    .variables
                    .iter()
                    .position(|x| x == name)
                    .ok_or_else(|| format!("no variable {name}"))?;
                let base = (t * nv + v) * h.n_cells;
                Ok(CellValues {
                    values: ids
                        .iter()
                        .map(|&g| f64::from(self.values[base + g as usize]))
                        .collect(),
                    units: Some(h.units[v].clone()),
                })
            })
            .collect()
    }
}

/// The current window's forcing, shared by the forcing stage (which sets it at each window
/// start) and the record sources of a rank (the reader and its read-ahead copies).
pub type SharedWindow = Arc<RwLock<Option<Arc<WindowForcing>>>>;

/// Every rank: the records of the window the land root received, remapped to the rank's
/// cells with the a→l weights (the exchange directory's path, from memory).
#[derive(Clone)]
pub struct MpmdRecords {
    spec: Arc<ForcingSpec>,
    remap: Arc<AtmToLand>,
    window: SharedWindow,
}

impl MpmdRecords {
    pub fn new(spec: Arc<ForcingSpec>, remap: Arc<AtmToLand>, window: SharedWindow) -> Self {
        MpmdRecords {
            spec,
            remap,
            window,
        }
    }
}

impl RecordSource for MpmdRecords {
    fn read_record(&mut self, time: NaiveDateTime) -> Result<ForcingRecord, ForcingError> {
        let w = self
            .window
            .read()
            .map_err(|_| ForcingError::Spec("the MPMD window lock is poisoned".into()))?
            .clone()
            .ok_or_else(|| ForcingError::Spec("MPMD records read before a cycle began".into()))?;
        let origin = PathBuf::from(format!(
            "mpmd:{}/ATM_{}",
            w.header.cycle,
            time.format("%Y%m%d%H%M")
        ));
        self.remap
            .record_from(&origin, time, &self.spec, |names, ids| {
                w.cells(time, names, ids)
            })
    }

    fn fork(&self) -> Option<Box<dyn RecordSource>> {
        Some(Box::new(self.clone()))
    }

    fn begin_window(&mut self, _end: NaiveDateTime) -> Result<bool, ForcingError> {
        Ok(true)
    }
}

/// Land root: the export at `time` as a record, sent to the atmosphere, and its answer.
pub fn send_export(
    ch: &dyn PeerChannel,
    s: &MpmdSettings,
    l2a: &LandToAtm,
    (cycle_end, time): (NaiveDateTime, NaiveDateTime),
    f: &LandFields,
) -> Result<Ack, CouplerError> {
    let fields = l2a.fields(f)?;
    let (lat, lon) = l2a.grid().centres();
    let cycle = cycle_of(cycle_end);
    let h = ExportHeader {
        cycle: cycle.clone(),
        time: time_text(time),
        grid_id: grid_id(&lat, &lon),
        n_cells: l2a.grid().n_cells(),
        variables: fields.iter().map(|f| f.name.to_string()).collect(),
        units: fields.iter().map(|f| f.units.to_string()).collect(),
        layers: fields.iter().map(|f| f.layers).collect(),
    };
    let mut rec = record(kind::EXPORT, &h);
    rec.f32s = fields.into_iter().flat_map(|f| f.values).collect();
    ch.send(&rec);
    let what = format!("the atmosphere's acknowledgement of the export at {time}");
    let ans = ch.recv(&what, s.deadline, s.poll)?;
    header(&expect_kind(ans, kind::ACK, &cycle)?)
}

/// Land root, when the run ends: tell the atmosphere (`ok`, or the error that stopped it).
pub fn send_stop(ch: &dyn PeerChannel, ok: bool, message: String) {
    ch.send(&record(kind::STOP, &Note { ok, message }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_records_are_found_by_time_variable_and_cell() {
        let h = ForcingHeader {
            protocol: PROTOCOL.into(),
            producer: "test".into(),
            cycle: "2020060106".into(),
            issue_time: "2020-06-01T00:00:00".into(),
            interval_seconds: 10800,
            period_mean_ending: period_mean_names(),
            grid_id: String::new(),
            n_cells: 2,
            valid_times: vec!["2020-06-01T00:00:00".into(), "2020-06-01T03:00:00".into()],
            variables: vec!["Tair".into(), "Qair".into()],
            units: vec!["K".into(), "kg kg-1".into()],
        };
        let w = WindowForcing {
            header: h,
            values: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
        };
        let t = chrono::NaiveDate::from_ymd_opt(2020, 6, 1)
            .unwrap()
            .and_hms_opt(3, 0, 0)
            .unwrap();
        let c = w.cells(t, &["Qair", "Tair"], &[1]).unwrap();
        assert_eq!((c[0].values[0], c[1].values[0]), (8.0, 6.0));
        assert_eq!(c[0].units.as_deref(), Some("kg kg-1"));
        let late = t + chrono::Duration::hours(3);
        assert!(w
            .cells(late, &["Tair"], &[0])
            .unwrap_err()
            .contains("no record"));
    }
}
