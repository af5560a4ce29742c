//! Test-only crash points of the commit protocol: `LANDCYCLE_CRASH_AT=<point>[@<file>]:<k>`
//! aborts the process (as a kill -9 or a power cut of the process would stop it) at the k-th
//! pass of the named point, counting only passes whose file name contains `<file>` when
//! given. The crash tests (tests/nrt.rs) prove that every point recovers to the
//! bytes of an uninterrupted run. Unset, a pass costs one initialised-once check.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The commit protocol's named points, in the order one cycle passes them.
pub const POINTS: [&str; 8] = [
    "obs_manifest_written",
    "before_fsync",
    "before_rename",
    "after_rename",
    "after_dir_fsync",
    "restart_rows",
    "after_restart_commit",
    "after_cycle_record",
];

/// Points passed only by a run that exports to the atmosphere (`&coupler export`): after
/// the land export is published (in mode 'exchange': `lnd2atm/READY` written).
pub const EXPORT_POINTS: [&str; 1] = ["after_export_ready"];

struct Target {
    point: String,
    file: Option<String>,
    k: u64,
}

fn target() -> Option<&'static Target> {
    static TARGET: OnceLock<Option<Target>> = OnceLock::new();
    TARGET
        .get_or_init(|| parse(&std::env::var("LANDCYCLE_CRASH_AT").ok()?))
        .as_ref()
}

fn parse(spec: &str) -> Option<Target> {
    let (what, k) = spec.trim().rsplit_once(':')?;
    let (point, file) = match what.split_once('@') {
        Some((p, f)) => (p, Some(f.to_string())),
        None => (what, None),
    };
    Some(Target {
        point: point.to_string(),
        file,
        k: k.parse().ok()?,
    })
}

/// A pass of crash point `name` (about file `path`, if any): aborts at the configured pass.
pub fn point(name: &str, path: Option<&Path>) {
    static PASSES: AtomicU64 = AtomicU64::new(0);
    let Some(t) = target() else {
        return;
    };
    if t.point != name {
        return;
    }
    if let Some(f) = &t.file {
        let file = path
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !file.contains(f.as_str()) {
            return;
        }
    }
    if PASSES.fetch_add(1, Ordering::SeqCst) + 1 == t.k {
        eprintln!("LANDCYCLE_CRASH_AT: aborting at pass {} of {name}", t.k);
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn spec_names_point_file_and_pass() {
        let t = parse("before_rename@LC_RST:2").unwrap();
        assert_eq!(
            (t.point.as_str(), t.file.as_deref(), t.k),
            ("before_rename", Some("LC_RST"), 2)
        );
        let t = parse("after_cycle_record:1").unwrap();
        assert_eq!(
            (t.point.as_str(), t.file, t.k),
            ("after_cycle_record", None, 1)
        );
        assert!(parse("after_rename").is_none());
        assert!(parse("after_rename:x").is_none());
    }
}
