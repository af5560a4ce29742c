//! The experimental parallel history writer (`LANDCYCLE_PARALLEL_HISTORY=1`, docs/io.md):
//! every rank writes its rows. Its files hold the same content as the root-gathered writer's
//! on 2 and 3 ranks (not the same bytes: HDF5 places metadata by rank count) and are CF-clean;
//! restarts are untouched (byte-identical).

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

/// `landcycle run` on `ranks` ranks with the parallel history writer.
fn run_parallel_history(nml: &Path, ranks: usize, rundir: &Path) {
    let out = Command::new("mpirun")
        .args(["--oversubscribe", "-n", &ranks.to_string(), BIN, "run"])
        .arg(nml)
        .arg("--rundir")
        .arg(rundir)
        .arg("--no-progress")
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1")
        .env("LANDCYCLE_PARALLEL_HISTORY", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "parallel history run on {ranks} ranks failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Global attributes, dimensions, and per variable its dimensions, attributes and chunking.
fn header(f: &netcdf::File) -> Vec<String> {
    let mut h: Vec<String> = f
        .attributes()
        .map(|a| format!("global {} = {:?}", a.name(), a.value().unwrap()))
        .collect();
    h.extend(
        f.dimensions()
            .map(|d| format!("dim {} = {}", d.name(), d.len())),
    );
    for v in f.variables() {
        let dims: Vec<String> = v.dimensions().iter().map(|d| d.name()).collect();
        h.push(format!(
            "var {} {dims:?} {:?}",
            v.name(),
            v.chunking().unwrap()
        ));
        h.extend(
            v.attributes()
                .map(|a| format!("  {} = {:?}", a.name(), a.value().unwrap())),
        );
    }
    h
}

/// Same header and every value bit for bit.
fn assert_same_content(a: &Path, b: &Path) {
    let (fa, fb) = (netcdf::open(a).unwrap(), netcdf::open(b).unwrap());
    assert_eq!(header(&fa), header(&fb), "{}", b.display());
    for v in fa.variables() {
        let w = fb.variable(&v.name()).unwrap();
        let bits = |x: Vec<f64>| x.into_iter().map(f64::to_bits).collect::<Vec<_>>();
        let (x, y) = (
            v.get_values::<f64, _>(..).unwrap(),
            w.get_values::<f64, _>(..).unwrap(),
        );
        assert!(bits(x) == bits(y), "{}: {} differs", b.display(), v.name());
    }
}

#[test]
fn parallel_history_has_the_gathered_content_on_2_and_3_ranks() {
    assert!(have_mpirun(), "mpirun is required");
    let dir = tempfile::tempdir().unwrap();
    // 14 rows: one row per chunk, so 2 and 3 ranks each write rows of every file.
    let nml = write_namelist(dir.path(), 20, 14, 5, "2020-06-01_12:00:00");
    synth(&nml);
    let gathered = dir.path().join("gathered");
    run_ok(&nml, 2, &gathered, &[]);
    let files = output_files(&gathered);
    assert!(files
        .iter()
        .any(|f| f.to_string_lossy().contains("LC_HIST")));
    for ranks in [2, 3] {
        let rd = dir.path().join(format!("par{ranks}"));
        run_parallel_history(&nml, ranks, &rd);
        assert_eq!(output_files(&rd), files);
        for f in &files {
            let (a, b) = (gathered.join(f), rd.join(f));
            if f.to_string_lossy().contains("LC_HIST") {
                assert_same_content(&a, &b);
            } else {
                assert!(std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap());
            }
        }
        let hist = files
            .iter()
            .find(|f| f.to_string_lossy().contains("LC_HIST"));
        check_cf(&rd.join(hist.unwrap()));
    }
}
