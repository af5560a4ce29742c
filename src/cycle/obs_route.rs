//! Observations read once over the ranks (issue 12): file `i` of a window (in its fixed
//! order) is read and mapped by rank `i mod P`; one all-to-all sends each share of a cell
//! (an observation, or one footprint copy of it) to the rank owning the cell, which sorts
//! the shares back into the order of the files and combines them exactly as one rank
//! reading every file would. What every rank must know alike (the files, the analysis
//! times, the rejection counts, the unreadable files) is agreed through small collectives.

use std::collections::BTreeMap;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use chrono::{Duration, NaiveDateTime};

use crate::obs::mapping::{CellShare, RULES};
use crate::obs::RejectCounts;
use crate::parallel::{Communicator, ParallelError};

/// One file of the window: the index of its product and its path.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowFile {
    pub sensor: usize,
    pub path: PathBuf,
}

/// A time as whole seconds and nanoseconds after the window start: both exact in an f64.
fn offset(t: NaiveDateTime, start: NaiveDateTime) -> [f64; 2] {
    let d = t - start;
    let s = d.num_seconds();
    let ns = (d - Duration::seconds(s)).num_nanoseconds().unwrap_or(0);
    [s as f64, ns as f64]
}

fn at(start: NaiveDateTime, off: &[f64]) -> NaiveDateTime {
    start + Duration::seconds(off[0] as i64) + Duration::nanoseconds(off[1] as i64)
}

/// A share as it travels: where it came from (product, analysis time, file, position in
/// the file), which sets its place in the combination, and what it carries.
#[derive(Debug, Clone, Copy)]
pub struct RoutedShare {
    pub sensor: usize,
    pub time: NaiveDateTime,
    pub file: usize,
    pub pos: usize,
    pub share: CellShare,
}

const WIDTH: usize = 10;

impl RoutedShare {
    fn encode(&self, start: NaiveDateTime, out: &mut Vec<f64>) {
        let (t, o) = (offset(self.time, start), offset(self.share.time, start));
        out.extend([
            self.sensor as f64,
            t[0],
            t[1],
            self.file as f64,
            self.pos as f64,
        ]);
        out.extend([
            self.share.cell as f64,
            self.share.value,
            self.share.error_sd,
        ]);
        out.extend(o);
    }

    fn decode(start: NaiveDateTime, r: &[f64]) -> Self {
        RoutedShare {
            sensor: r[0] as usize,
            time: at(start, &r[1..3]),
            file: r[3] as usize,
            pos: r[4] as usize,
            share: CellShare {
                cell: r[5] as usize,
                value: r[6],
                error_sd: r[7],
                time: at(start, &r[8..10]),
            },
        }
    }
}

/// Send every share to the rank owning its cell (a cell without an owner goes to rank 0,
/// which holds it as one reading every file would, and never analyses it). Collective.
/// The shares received come back in the order of one rank reading every file: by
/// product, analysis time, file and position in the file (a stable sort keeps the
/// footprint copies of one observation in the order they were mapped).
pub fn route(
    comm: &dyn Communicator,
    start: NaiveDateTime,
    shares: &[RoutedShare],
    owner: &dyn Fn(u64) -> Option<usize>,
) -> Result<Vec<RoutedShare>, ParallelError> {
    let mut send = vec![Vec::new(); comm.size()];
    for s in shares {
        let r = owner(s.share.cell as u64).unwrap_or(0);
        s.encode(start, &mut send[r]);
    }
    let got = comm.alltoallv_f64(&send)?;
    let mut mine: Vec<RoutedShare> = got
        .iter()
        .flat_map(|b| b.chunks_exact(WIDTH))
        .map(|r| RoutedShare::decode(start, r))
        .collect();
    mine.sort_by_key(|s| (s.sensor, s.time, s.file, s.pos));
    Ok(mine)
}

/// What the files a rank read gave, before routing: per product (in-window count,
/// product rejections) and per (product, analysis time) group (shares, mapping
/// rejections by [`RULES`]).
#[derive(Debug, Clone, Default)]
pub struct ReadSummary {
    pub in_window: Vec<usize>,
    /// Per product, in the order of its product rules.
    pub product_rejected: Vec<Vec<usize>>,
    pub groups: BTreeMap<(usize, NaiveDateTime), (usize, RejectCounts)>,
    /// Unreadable files: index in the window's file list and the error.
    pub failed: Vec<(usize, String)>,
}

impl ReadSummary {
    fn encode(&self, start: NaiveDateTime) -> Vec<f64> {
        let mut v = Vec::new();
        for (n, rej) in self.in_window.iter().zip(&self.product_rejected) {
            v.push(*n as f64);
            v.extend(rej.iter().map(|&c| c as f64));
        }
        v.push(self.failed.len() as f64);
        for ((si, t), (n, rej)) in &self.groups {
            v.push(*si as f64);
            v.extend(offset(*t, start));
            v.push(*n as f64);
            v.extend(RULES.iter().map(|r| rej.get(r) as f64));
        }
        v
    }

    /// Add a rank's encoded summary (`n_rules[si]` product rules per product).
    fn add(&mut self, start: NaiveDateTime, n_rules: &[usize], v: &[f64]) -> usize {
        let mut k = 0;
        for (si, &nr) in n_rules.iter().enumerate() {
            self.in_window[si] += v[k] as usize;
            for (acc, c) in self.product_rejected[si]
                .iter_mut()
                .zip(&v[k + 1..k + 1 + nr])
            {
                *acc += *c as usize;
            }
            k += 1 + nr;
        }
        let n_failed = v[k] as usize;
        for g in v[k + 1..].chunks_exact(4 + RULES.len()) {
            let e = self
                .groups
                .entry((g[0] as usize, at(start, &g[1..3])))
                .or_insert_with(|| (0, RejectCounts::with_rules(&RULES)));
            e.0 += g[3] as usize;
            for (r, c) in RULES.iter().zip(&g[4..]) {
                e.1.add_n(r, *c as usize);
            }
        }
        n_failed
    }
}

/// The sum of every rank's summary, the same on every rank (collective: one allgather,
/// and a second one only when some file was unreadable).
pub fn agree_summary(
    comm: &dyn Communicator,
    start: NaiveDateTime,
    n_rules: &[usize],
    mine: &ReadSummary,
) -> ReadSummary {
    let all = comm.allgatherv_f64(&mine.encode(start));
    let mut sum = ReadSummary {
        in_window: vec![0; n_rules.len()],
        product_rejected: n_rules.iter().map(|&n| vec![0; n]).collect(),
        ..Default::default()
    };
    let mut n_failed = 0;
    for v in &all {
        n_failed += sum.add(start, n_rules, v);
    }
    if n_failed > 0 {
        sum.failed = agree_failures(comm, &mine.failed);
    }
    sum
}

/// Every rank's unreadable files (index, error), in file order.
fn agree_failures(comm: &dyn Communicator, mine: &[(usize, String)]) -> Vec<(usize, String)> {
    let mut bytes = Vec::new();
    for (i, msg) in mine {
        bytes.extend((*i as u64).to_le_bytes());
        bytes.extend((msg.len() as u64).to_le_bytes());
        bytes.extend(msg.as_bytes());
    }
    let words: Vec<u64> = bytes.into_iter().map(u64::from).collect();
    let mut out: Vec<(usize, String)> = comm
        .allgatherv_u64(&words)
        .iter()
        .flat_map(|w| {
            let b: Vec<u8> = w.iter().map(|&x| x as u8).collect();
            decode_failures(&b)
        })
        .collect();
    out.sort_by_key(|(i, _)| *i);
    out
}

fn decode_failures(b: &[u8]) -> Vec<(usize, String)> {
    let word = |k: usize| u64::from_le_bytes(b[k..k + 8].try_into().unwrap_or([0; 8])) as usize;
    let mut out = Vec::new();
    let mut k = 0;
    while k + 16 <= b.len() {
        let (i, n) = (word(k), word(k + 8));
        let end = (k + 16 + n).min(b.len());
        out.push((i, String::from_utf8_lossy(&b[k + 16..end]).into_owned()));
        k = end;
    }
    out
}

/// The root's file list on every rank (discovery lists a directory that may change while
/// the ranks look at it: one look, shared, keeps the ranks' files and their readers the
/// same). Collective.
pub fn share_files(comm: &dyn Communicator, root_files: Vec<WindowFile>) -> Vec<WindowFile> {
    if comm.size() < 2 {
        return root_files;
    }
    let mut buf = Vec::new();
    if comm.is_root() {
        for f in &root_files {
            let p = f.path.as_os_str().as_bytes();
            buf.extend((f.sensor as u64).to_le_bytes());
            buf.extend((p.len() as u64).to_le_bytes());
            buf.extend(p);
        }
    }
    comm.broadcast_bytes(&mut buf, 0);
    let word = |k: usize| u64::from_le_bytes(buf[k..k + 8].try_into().unwrap_or([0; 8])) as usize;
    let mut out = Vec::new();
    let mut k = 0;
    while k + 16 <= buf.len() {
        let (sensor, n) = (word(k), word(k + 8));
        let end = (k + 16 + n).min(buf.len());
        let path = PathBuf::from(std::ffi::OsString::from_vec(buf[k + 16..end].to_vec()));
        out.push(WindowFile { sensor, path });
        k = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parallel::SingleProcess;
    use chrono::NaiveDate;

    fn t0() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2020, 6, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
    }

    #[test]
    fn shares_survive_the_wire_bit_for_bit_and_sort_into_file_order() {
        let start = t0();
        let share = |file: usize, pos: usize, cell: usize, value: f64| RoutedShare {
            sensor: 1,
            time: start + Duration::hours(6),
            file,
            pos,
            share: CellShare {
                cell,
                value,
                error_sd: 0.1 / 3.0,
                time: start + Duration::nanoseconds(3_600_123_456_789),
            },
        };
        let sent = [
            share(2, 0, 7, 0.3),
            share(0, 5, 7, 1.0 / 3.0),
            share(0, 5, 8, 0.2),
        ];
        let got = route(&SingleProcess, start, &sent, &|_| Some(0)).unwrap();
        let keys: Vec<(usize, usize, usize)> =
            got.iter().map(|s| (s.file, s.pos, s.share.cell)).collect();
        assert_eq!(keys, [(0, 5, 7), (0, 5, 8), (2, 0, 7)]);
        assert_eq!(got[0].share, sent[1].share);
        assert_eq!(got[0].time, sent[1].time);
    }

    #[test]
    fn summaries_and_failures_add_up() {
        let start = t0();
        let t = start + Duration::minutes(90);
        let mut rej = RejectCounts::with_rules(&RULES);
        rej.add_n("not_land", 4);
        let mine = ReadSummary {
            in_window: vec![3, 0],
            product_rejected: vec![vec![1, 2], vec![]],
            groups: [((0, t), (5, rej))].into_iter().collect(),
            failed: vec![(1, "file b: bad variable".into())],
        };
        let sum = agree_summary(&SingleProcess, start, &[2, 0], &mine);
        assert_eq!(sum.in_window, [3, 0]);
        assert_eq!(sum.product_rejected, [vec![1, 2], vec![]]);
        assert_eq!(sum.groups[&(0, t)].0, 5);
        assert_eq!(sum.groups[&(0, t)].1.get("not_land"), 4);
        assert_eq!(sum.failed, mine.failed);
    }
}
