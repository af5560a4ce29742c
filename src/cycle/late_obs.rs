//! Late observation files: files that appeared after a cycle's observation list was frozen
//! (`obs_manifest.json`) and whose granule time, read from the file name, falls in the
//! cycle's window. They are counted per product for the status (a feed that keeps missing
//! the cut-off); no rerun ever reads them, since reruns read the frozen list.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use chrono::Duration;

use super::cycle_record::{manifest_path, read_json, ObsManifest};
use super::rundir::RunDir;
use crate::config::Config;
use crate::obs::discover::{find_observation_files, granule_time};
use crate::time::{cycle_label, Window};

/// Late files per cycle label and product (only non-zero counts).
pub type LateCounts = BTreeMap<String, BTreeMap<String, usize>>;

/// Cycles (newest first) whose late files are counted.
pub const LATE_CYCLES: usize = 8;

/// Late files of the newest [`LATE_CYCLES`] cycles with a frozen observation list.
pub fn late_arrivals(cfg: &Config, rundir: &RunDir) -> LateCounts {
    let mut out = LateCounts::new();
    if !cfg.da.enabled {
        return out;
    }
    let len = Duration::hours(i64::from(cfg.run.window_hours));
    let frozen = rundir.cycles().into_iter().rev().filter_map(|c| {
        let m = read_json::<ObsManifest>(&manifest_path(rundir, c)).ok()??;
        Some((c, m))
    });
    for (end, manifest) in frozen.take(LATE_CYCLES) {
        let w = Window {
            start: end - len,
            end,
        };
        let mut per_product = BTreeMap::new();
        for s in &cfg.da.sensors {
            let (dir, pattern, ..) = cfg.da.sensor(*s);
            let name = s.name().to_string();
            let used: BTreeSet<PathBuf> = manifest
                .products
                .get(&name)
                .map(|v| v.iter().map(|f| f.path.clone()).collect())
                .unwrap_or_default();
            let late = find_observation_files(dir, pattern, &w)
                .into_iter()
                .filter(|p| !used.contains(p))
                .filter(|p| {
                    let t = p
                        .file_name()
                        .and_then(|n| granule_time(&n.to_string_lossy()));
                    t.is_some_and(|t| t > w.start && t <= w.end)
                })
                .count();
            if late > 0 {
                per_product.insert(name, late);
            }
        }
        if !per_product.is_empty() {
            out.insert(cycle_label(end), per_product);
        }
    }
    out
}
