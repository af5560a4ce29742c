//! The atmosphere's side of mode 4 for `landcycle atm replay --mpmd`: answer the land
//! root's records (docs/coupling.md, the table in [`super::mpmd`]) with the data files the
//! replay serves in mode 3, as the same f32 fields on the same grid, and check the exports
//! as it checks `lnd2atm` files. An error on this side is sent to the land (`ERROR`), so
//! the land stops with the message instead of waiting for its deadline.

use std::time::Duration;

use chrono::NaiveDateTime;

use super::exchange::{period_mean_names, ATM_VARIABLES};
use super::mpmd::{
    header, kind, record, Ack, ExportHeader, ForcingHeader, Note, Request, PROTOCOL,
};
use super::replay::{check_top_layer, ExportCheck, Replay};
use super::CouplerError;
use crate::io::xchg::{grid_id, sha256_bytes, time_text};
use crate::parallel::{PeerChannel, PeerRecord};

/// How the replay serves over MPI.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Longest wait for the land's next record.
    pub deadline: Duration,
    pub poll: Duration,
    /// Wait for an export in every cycle (`coupler:export`).
    pub wait_land: bool,
    /// Stop after this many complete cycles without telling the land (`--cycles`).
    pub cycles: Option<usize>,
}

/// What happened, one line per event (printed by the command).
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Delivered {
        cycle: String,
        values: usize,
    },
    Checked {
        cycle: String,
        check: ExportCheck,
    },
    /// The land ended its run (well).
    LandDone {
        message: String,
    },
    /// `--cycles` reached.
    StoppedEarly {
        cycles: usize,
    },
}

/// Serve the land root until it stops (or `--cycles` are served); `log` gets each event.
pub fn serve(
    r: &Replay,
    ch: &dyn PeerChannel,
    o: &ServeOptions,
    mut log: impl FnMut(&Event),
) -> Result<(), CouplerError> {
    let (mut delivered, mut checked) = (0usize, 0usize);
    loop {
        if let Some(n) = o.cycles {
            if delivered >= n && (!o.wait_land || checked >= n) {
                log(&Event::StoppedEarly { cycles: n });
                return Ok(());
            }
        }
        let rec = ch.recv("the land's next record", o.deadline, o.poll)?;
        let answer = match rec.kind {
            kind::REQUEST => forcing_record(r, &rec).inspect(|f| {
                delivered += 1;
                log(&Event::Delivered {
                    cycle: header::<Request>(&rec).map(|q| q.cycle).unwrap_or_default(),
                    values: f.f32s.len(),
                });
            }),
            kind::EXPORT => check_export(&rec).map(|(h, check)| {
                checked += 1;
                let ack = Ack {
                    cycle: h.cycle.clone(),
                    cells_with_land: check.cells_with_land,
                    mean_soil_moisture: check.mean_soil_moisture,
                };
                log(&Event::Checked {
                    cycle: h.cycle,
                    check,
                });
                record(kind::ACK, &ack)
            }),
            kind::STOP => {
                let n: Note = header(&rec)?;
                if n.ok {
                    log(&Event::LandDone { message: n.message });
                    return Ok(());
                }
                return Err(CouplerError::Peer(format!(
                    "the land stopped: {}",
                    n.message
                )));
            }
            k => Err(CouplerError::Peer(format!(
                "a record of kind {k} from the land, expected a request, an export or stop"
            ))),
        };
        match answer {
            Ok(a) => ch.send(&a),
            Err(e) => return Err(fail(ch, o, e)),
        }
    }
}

/// Tell the land about `e`, wait (bounded) for its STOP so both sides end in order, and
/// return `e`.
fn fail(ch: &dyn PeerChannel, o: &ServeOptions, e: CouplerError) -> CouplerError {
    let note = Note {
        ok: false,
        message: format!("landcycle atm replay: {e}"),
    };
    ch.send(&record(kind::ERROR, &note));
    let _ = ch.recv("the land's stop after an error", o.deadline, o.poll);
    e
}

/// The `FORCING` answer to a `REQUEST`: every record of the window, read from the data
/// files as the exchange directory's files are.
fn forcing_record(r: &Replay, req: &PeerRecord) -> Result<PeerRecord, CouplerError> {
    let q: Request = header(req)?;
    let end = NaiveDateTime::parse_from_str(&format!("{}0000", q.cycle), "%Y%m%d%H%M%S")
        .map_err(|_| CouplerError::Peer(format!("a request for cycle \"{}\"", q.cycle)))?;
    let step = chrono::Duration::seconds(r.spec.interval_seconds);
    let mut v = end - chrono::Duration::seconds(r.window_seconds);
    let (mut times, mut values, mut centres) = (Vec::new(), Vec::new(), None);
    while v <= end {
        let (grid, fields) = r.read_atm(v)?;
        let c = grid.centres();
        if centres.as_ref().is_some_and(|p| *p != c) {
            return Err(CouplerError::Peer(format!(
                "the data file valid at {v} is on another grid than the window's first"
            )));
        }
        centres = Some(c);
        times.push(time_text(v));
        values.extend(fields.into_iter().flatten());
        v += step;
    }
    let (lat, lon) = centres.unwrap_or_default();
    let h = ForcingHeader {
        protocol: PROTOCOL.into(),
        producer: format!("landcycle atm replay {}", env!("CARGO_PKG_VERSION")),
        cycle: q.cycle,
        issue_time: time_text(end + chrono::Duration::seconds(r.source_offset_seconds)),
        interval_seconds: r.spec.interval_seconds,
        period_mean_ending: period_mean_names(),
        grid_id: grid_id(&lat, &lon),
        n_cells: lat.len(),
        valid_times: times,
        variables: ATM_VARIABLES.iter().map(|v| v.1.to_string()).collect(),
        units: ATM_VARIABLES.iter().map(|v| v.2.to_string()).collect(),
    };
    let mut rec = record(kind::FORCING, &h);
    rec.f64s = lat.into_iter().chain(lon).collect();
    rec.f32s = values;
    Ok(rec)
}

/// The replay's check of an `EXPORT`: sizes, then the top-layer soil moisture.
fn check_export(rec: &PeerRecord) -> Result<(ExportHeader, ExportCheck), CouplerError> {
    let h: ExportHeader = header(rec)?;
    let want: usize = h.layers.iter().map(|l| h.n_cells * l.max(&1)).sum();
    let sm = h.variables.iter().position(|v| v == "SoilMoistV");
    let (Some(0), true) = (sm, rec.f32s.len() == want) else {
        return Err(CouplerError::Peer(format!(
            "the export at {}: variables {:?} with {} values (expected SoilMoistV first and {want})",
            h.time,
            h.variables,
            rec.f32s.len()
        )));
    };
    let top: Vec<f64> = rec.f32s[..h.n_cells]
        .iter()
        .map(|&v| f64::from(v))
        .collect();
    let check = check_top_layer(&top, sha256_bytes(&rec.encode()))
        .map_err(|m| CouplerError::Peer(format!("the export at {}: {m}", h.time)))?;
    Ok((h, check))
}
