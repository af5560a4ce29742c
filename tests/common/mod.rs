//! Shared helpers of the driver tests: a small synthetic case and running the binary.
#![allow(dead_code)]

pub mod bucket_case;
pub mod coupled_case;
pub mod noah_cell;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_landcycle");

/// Write a namelist for a small synthetic case in `dir` (4 windows of 6 h by default).
pub fn write_namelist(dir: &Path, nx: usize, ny: usize, members: usize, end: &str) -> PathBuf {
    write_case_namelist(
        dir,
        nx,
        ny,
        members,
        "2020-06-01_00:00:00",
        end,
        (38.0, -95.0),
    )
}

/// As [`write_namelist`] with any start and south-west corner (lat0, lon0) of the domain.
pub fn write_case_namelist(
    dir: &Path,
    nx: usize,
    ny: usize,
    members: usize,
    start: &str,
    end: &str,
    (lat0, lon0): (f64, f64),
) -> PathBuf {
    let text = format!(
        "&run
  start = '{start}'
  end   = '{end}'
  timestep = 1800
  ensemble_size = {members}
  seed = 7
  rundir = 'rundir'
  cold_start_soil_moisture = 0.30, 0.30, 0.28, 0.28
  cold_start_soil_moisture_std = 0.05, 0.04, 0.03, 0.02
  cold_start_temperature = 290.0
/
&domain
  static_file = 'case/static.nc'
  static_format = 'landcycle'
/
&forcing
  directory = 'case/forcing'
  file_template = 'forcing_%Y%m%d%H.nc'
/
&perturbation
  interval_seconds = 3600
/
&restart
  keep = 0
/
&synth
  nx = {nx}
  ny = {ny}
  lat0 = {lat0}
  lon0 = {lon0}
  resolution = 0.25
  seed = 11
/
"
    );
    let p = dir.join("case.nml");
    std::fs::write(&p, text).unwrap();
    p
}

/// Generate the synthetic case of a namelist.
pub fn synth(nml: &Path) {
    let out = Command::new(BIN).arg("synth").arg(nml).output().unwrap();
    assert!(
        out.status.success(),
        "synth failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Run `landcycle run` on `ranks` MPI ranks (0 = without mpirun) with extra arguments.
pub fn run(nml: &Path, ranks: usize, rundir: &Path, extra: &[&str]) -> Output {
    let mut cmd = if ranks == 0 {
        Command::new(BIN)
    } else {
        let mut c = Command::new("mpirun");
        c.args(["--oversubscribe", "-n", &ranks.to_string(), BIN]);
        c.env("OMPI_ALLOW_RUN_AS_ROOT", "1")
            .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
            .env("OMPI_MCA_rmaps_base_oversubscribe", "1");
        c
    };
    cmd.arg("run")
        .arg(nml)
        .arg("--rundir")
        .arg(rundir)
        .arg("--no-progress")
        .args(extra);
    cmd.output().unwrap()
}

pub fn run_ok(nml: &Path, ranks: usize, rundir: &Path, extra: &[&str]) {
    let out = run(nml, ranks, rundir, extra);
    assert!(
        out.status.success(),
        "run on {ranks} ranks failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// All history and restart files under a run directory, relative paths sorted.
pub fn output_files(rundir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for cyc in std::fs::read_dir(rundir).unwrap().flatten() {
        if !cyc.path().is_dir() {
            continue;
        }
        for part in ["output", "restart"] {
            let d = cyc.path().join(part);
            if let Ok(rd) = std::fs::read_dir(&d) {
                for f in rd.flatten() {
                    v.push(f.path().strip_prefix(rundir).unwrap().to_path_buf());
                }
            }
        }
    }
    v.sort();
    v
}

/// Assert that two run directories hold byte-identical history and restart files.
pub fn assert_identical(a: &Path, b: &Path) {
    let fa = output_files(a);
    let fb = output_files(b);
    assert_eq!(fa, fb, "different file sets");
    assert!(!fa.is_empty());
    for f in &fa {
        let x = std::fs::read(a.join(f)).unwrap();
        let y = std::fs::read(b.join(f)).unwrap();
        assert!(
            x == y,
            "{} differs between {} and {}",
            f.display(),
            a.display(),
            b.display()
        );
    }
}

/// The stored file checksum of a restart.
pub fn restart_checksum(p: &Path) -> String {
    let f = hdf5::File::open(p).unwrap();
    let v: hdf5::types::VarLenUnicode = f.attr("checksum_sha256").unwrap().read_scalar().unwrap();
    v.as_str().to_string()
}

/// As [`assert_identical`] for a run without MPI against one under mpirun: history files
/// byte for byte, restarts by content (every value bit for bit, the header, the attributes
/// and the stored checksum), since HDF5's serial and MPI-IO drivers place metadata blocks
/// differently (docs/io.md).
pub fn assert_same_results(serial: &Path, mpi: &Path) {
    let fa = output_files(serial);
    assert_eq!(fa, output_files(mpi), "different file sets");
    assert!(!fa.is_empty());
    for f in &fa {
        let (x, y) = (serial.join(f), mpi.join(f));
        if f.to_string_lossy().contains("LC_RST_") {
            let (a, b) = (
                landcycle::io::read_restart(&x).unwrap(),
                landcycle::io::read_restart(&y).unwrap(),
            );
            let canon = landcycle::io::restart::canonical_checksum;
            assert_eq!(canon(&a), canon(&b), "{} content differs", f.display());
            assert_eq!(
                restart_checksum(&x),
                restart_checksum(&y),
                "{}",
                f.display()
            );
        } else {
            assert!(
                std::fs::read(&x).unwrap() == std::fs::read(&y).unwrap(),
                "{} differs",
                f.display()
            );
        }
    }
}

/// Has mpirun on PATH.
pub fn have_mpirun() -> bool {
    Command::new("mpirun").arg("--version").output().is_ok()
}

/// Run the offline CF checker on a file: no errors allowed. Missing checker: fails under
/// CI=true, skipped with a notice otherwise.
pub fn check_cf(file: &Path) {
    let checker = landcycle::testdata::root().join("../tools/cf/cfcheck");
    if !checker.exists() {
        if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
            panic!("CF checker {} not found", checker.display());
        }
        eprintln!("SKIPPED: CF checker {} not found", checker.display());
        return;
    }
    let out = Command::new(&checker).arg(file).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("ERRORS detected: 0"),
        "CF checker on {}:\n{text}",
        file.display()
    );
}

/// History files variable by variable (every value bit for bit) and attribute by
/// attribute, all but the global `namelist` attribute, which records each run's own namelist
/// text (the runs differ in `&coupler` or a file template). Restarts byte for byte when the
/// configuration fingerprints agree (`&coupler` keys are not in it); otherwise (another
/// `forcing:file_template`, which is) every value, id and attribute, and history files also
/// without `config_fingerprint`.
pub fn assert_same_land_output(a: &Path, b: &Path, same_fingerprint: bool) {
    let fa = output_files(a);
    assert_eq!(fa, output_files(b), "different file sets");
    assert!(!fa.is_empty(), "no output in {}", a.display());
    let skip: &[&str] = if same_fingerprint {
        &["namelist"]
    } else {
        &["namelist", "config_fingerprint"]
    };
    for f in &fa {
        let (x, y) = (a.join(f), b.join(f));
        if !f.to_string_lossy().contains("LC_RST_") {
            let (cx, cy) = (nc_content(&x, skip), nc_content(&y, skip));
            let diff: Vec<_> = cx.iter().zip(&cy).filter(|(p, q)| p != q).collect();
            assert!(
                cx.len() == cy.len() && diff.is_empty(),
                "{} differs: {:.400?}",
                f.display(),
                diff.first()
            );
        } else if same_fingerprint {
            assert!(
                std::fs::read(&x).unwrap() == std::fs::read(&y).unwrap(),
                "{} differs",
                f.display()
            );
        } else {
            let (p, mut q) = (
                landcycle::io::read_restart(&x).unwrap(),
                landcycle::io::read_restart(&y).unwrap(),
            );
            assert_ne!(p.config_fingerprint, q.config_fingerprint);
            q.config_fingerprint = p.config_fingerprint.clone();
            let canon = landcycle::io::restart::canonical_checksum;
            assert_eq!(canon(&p), canon(&q), "{} content differs", f.display());
        }
    }
}

pub fn nc_content(p: &Path, skip: &[&str]) -> Vec<String> {
    let f = netcdf::open(p).unwrap();
    let mut out: Vec<String> = f
        .attributes()
        .filter(|a| !skip.contains(&a.name()))
        .map(|a| format!("{}={:?}", a.name(), a.value().unwrap()))
        .collect();
    for v in f.variables() {
        let bits: Vec<u64> = v
            .get_values::<f64, _>(..)
            .map(|x| x.iter().map(|y| y.to_bits()).collect())
            .unwrap_or_default();
        out.push(format!("{} {:?}", v.name(), bits));
        for a in v.attributes() {
            out.push(format!(
                "{}:{}={:?}",
                v.name(),
                a.name(),
                a.value().unwrap()
            ));
        }
    }
    out
}
