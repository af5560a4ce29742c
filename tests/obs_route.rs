//! Observations read once over the ranks (issue 12, `cycle::obs_route`): on 2 and 3 ranks each
//! observation file of a window is read by exactly one rank, and the cycle's history,
//! restarts, diagnostics and observation log lines are byte-identical to one rank's, with
//! footprint copies of one retrieval landing on cells of different ranks, several files
//! combined in the same cells, and an unreadable file.

mod common;
use common::bucket_case::{assert_same_diag, da_case, run_json_log, t, write_ascat, write_smap};
use common::*;

use std::collections::BTreeMap;
use std::path::Path;

/// What a run logged about its observations.
#[derive(Debug, Default)]
struct ObsLog {
    /// (cycle, file) → the ranks that read it (a file is listed in every window from 24 h
    /// after its start, so it is read once per window).
    reads: BTreeMap<(String, String), Vec<u64>>,
    /// The root's summary and warning lines about the windows' observations, in order.
    lines: Vec<String>,
    /// (cycle, file) of the warnings naming an unreadable file.
    skipped: Vec<(String, String)>,
}

/// Run on `ranks` ranks with a JSON log and the observation stage at debug level.
fn run_logged(nml: &Path, ranks: usize, rundir: &Path) -> ObsLog {
    let err = run_json_log(
        nml,
        ranks,
        rundir,
        "info,landcycle::cycle::obs_window=debug",
    );
    let mut log = ObsLog::default();
    for v in err
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
    {
        let f = &v["fields"];
        let msg = f["message"].as_str().unwrap_or_default().to_string();
        let file = f["file"].as_str().unwrap_or_default().to_string();
        let key = (cycle_of(&v), file);
        if msg == "reading observation file" {
            log.reads
                .entry(key)
                .or_default()
                .push(f["rank"].as_u64().unwrap());
        } else if msg.contains("skipping observation file") {
            log.skipped.push(key);
        } else if msg.contains("observations mapped") || msg.contains("no usable") {
            log.lines.push(msg);
        }
    }
    log
}

/// The cycle of the window span a JSON log line was written in.
fn cycle_of(v: &serde_json::Value) -> String {
    v["spans"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["name"] == "window")
        .and_then(|s| s["cycle"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[test]
fn each_file_is_read_by_one_rank_and_the_cycle_is_identical_to_one_rank() {
    assert!(have_mpirun(), "mpirun is required");
    let dir = tempfile::tempdir().unwrap();
    // 7° × 4° at 38 N, two windows; SMAP with a 30 km footprint, so that each retrieval
    // is copied into up to 9 cells, some of them on another rank.
    let (nml, land) = da_case(
        dir.path(),
        "&da\n  enabled = .true.\n  sensors = 'smap', 'ascat'\n  smap_directory = 'obs/smap'\n  \
         ascat_directory = 'obs/ascat'\n  smap_footprint_km = 30.0\n  qc_precipitation = .false.\n  \
         qc_forest = .false.\n  qc_green_fraction = .false.\n/\n",
    );
    // Three SMAP granules and an ASCAT orbit in the same step (analysis at 01:30): each
    // cell averages many shares from files that different ranks read. On 2 ranks rank 0
    // reads granules 0 and 2, rank 1 granule 1, so a cell's shares arrive out of file
    // order and only the sort back into it gives one rank's sums.
    write_smap(dir.path(), t(1, 1, 10), &land, 0.36);
    write_smap(dir.path(), t(1, 1, 15), &land[land.len() / 3..], 0.30);
    write_smap(dir.path(), t(1, 1, 20), &land[land.len() / 5..], 0.2345);
    write_ascat(dir.path(), t(1, 1, 25), &land[..land.len() / 2], 55.0);
    // An unreadable granule in the first window, and one more granule in the second.
    let bad = dir
        .path()
        .join("obs/smap/SMAP_L2_SM_P_00001_D_20200601T040000_R18290_001.h5");
    std::fs::write(&bad, b"not an HDF5 file").unwrap();
    write_smap(dir.path(), t(1, 8, 20), &land[..2 * land.len() / 3], 0.28);
    // Both windows list all 6 files (the default patterns match by day).
    let n_reads = 2 * 6;

    let r1 = dir.path().join("r1");
    let one = run_logged(&nml, 1, &r1);
    assert_eq!(one.reads.len(), n_reads, "{:?}", one.reads);
    assert_eq!(one.skipped.len(), 2, "{:?}", one.skipped);
    assert!(
        one.skipped
            .iter()
            .all(|(c, f)| !c.is_empty() && f.ends_with(&*bad.to_string_lossy())),
        "{:?}",
        one.skipped
    );
    assert_eq!(one.lines.len(), 2, "{:?}", one.lines);
    assert!(
        one.lines
            .iter()
            .all(|l| l.contains("(6 files, 1 unreadable)")),
        "{:?}",
        one.lines
    );
    for n in [2, 3] {
        let rn = dir.path().join(format!("r{n}"));
        let log = run_logged(&nml, n, &rn);
        // Each file once, by one rank; the work is spread over the ranks.
        assert_eq!(log.reads.len(), n_reads, "{n} ranks: {:?}", log.reads);
        assert!(
            log.reads.values().all(|r| r.len() == 1),
            "{n} ranks: {:?}",
            log.reads
        );
        let readers: std::collections::BTreeSet<u64> =
            log.reads.values().flatten().copied().collect();
        assert_eq!(readers.len(), n, "{n} ranks: {:?}", log.reads);
        // The same warning once, the same summary lines, the same bytes.
        assert_eq!(log.skipped, one.skipped, "{n} ranks");
        assert_eq!(log.lines, one.lines, "{n} ranks");
        assert_identical(&r1, &rn);
        assert_same_diag(&r1, &rn);
    }
}
