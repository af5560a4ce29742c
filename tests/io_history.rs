//! History output: file structure read back with the netcdf crate, CF compliance via
//! cfcheck, input errors, and atomic replacement.

use chrono::NaiveDate;
use landcycle::io::alma;
use landcycle::io::{
    history_file_name, write_history, Compression, EnsembleStat, GridKind, GridMapping,
    HistoryField, HistoryGrid, HistoryMetadata, HistoryTime, HistoryWrite, IoError, TimeUnits,
};
use std::path::{Path, PathBuf};

const NY: usize = 4;
const NX: usize = 5;
const NL: usize = 3;
const NM: usize = 3;
const THICK: [f64; NL] = [0.1, 0.3, 0.6];

fn mask() -> Vec<bool> {
    // Ocean on the western column and one interior cell.
    (0..NY * NX).map(|i| i % NX != 0 && i != 7).collect()
}

fn time() -> HistoryTime {
    let d = NaiveDate::from_ymd_opt(2021, 6, 1).unwrap();
    HistoryTime {
        reference: d.and_hms_opt(0, 0, 0).unwrap(),
        start: d.and_hms_opt(3, 0, 0).unwrap(),
        end: d.and_hms_opt(6, 0, 0).unwrap(),
        units: TimeUnits::Seconds,
    }
}

fn metadata() -> HistoryMetadata {
    HistoryMetadata {
        title: "landcycle test history".into(),
        institution: "landcycle tests".into(),
        source: "landcycle open loop, Noah".into(),
        history: "written by tests/io_history.rs".into(),
        namelist: "&run\n  start = '2021-06-01 00:00'\n  n_members = 3\n/\n".into(),
        ensemble_size: NM,
        extra: vec![("comment".into(), "synthetic values".into())],
    }
}

/// Deterministic field values: member m, layer k, cell i.
fn value(m: usize, k: usize, i: usize) -> f64 {
    100.0 + 10.0 * k as f64 + 0.5 * i as f64 + 0.25 * m as f64
}

struct Data {
    sm_mean: Vec<f64>,
    sm_spread: Vec<f64>,
    sm_members: Vec<f64>,
    qh: Vec<f64>,
    tsurf: Vec<f64>,
}

fn data() -> Data {
    let n = NY * NX;
    let mut sm_members = Vec::new();
    for m in 0..NM {
        for k in 0..NL {
            for i in 0..n {
                sm_members.push(value(m, k, i));
            }
        }
    }
    let sm_mean: Vec<f64> = (0..NL * n).map(|j| value(1, j / n, j % n)).collect();
    let sm_spread: Vec<f64> = (0..NL * n).map(|j| 0.01 * (j % n) as f64 + 0.5).collect();
    // Ocean cells hold NaN: the writer must put _FillValue there and not complain.
    let mut qh: Vec<f64> = (0..n).map(|i| -20.0 + 3.0 * i as f64).collect();
    let mut tsurf: Vec<f64> = (0..n).map(|i| 280.0 + 0.1 * i as f64).collect();
    for (i, &land) in mask().iter().enumerate() {
        if !land {
            qh[i] = f64::NAN;
            tsurf[i] = f64::NAN;
        }
    }
    Data {
        sm_mean,
        sm_spread,
        sm_members,
        qh,
        tsurf,
    }
}

fn fields(d: &Data) -> Vec<HistoryField<'_>> {
    let sm = alma::lookup("SoilMoist").unwrap();
    vec![
        sm.field(EnsembleStat::Mean, &d.sm_mean),
        sm.field(EnsembleStat::Spread, &d.sm_spread),
        sm.field(EnsembleStat::Members, &d.sm_members),
        alma::lookup("Qh").unwrap().field(EnsembleStat::Mean, &d.qh),
        alma::lookup("AvgSurfT")
            .unwrap()
            .field(EnsembleStat::Mean, &d.tsurf),
    ]
}

fn regular_grid() -> HistoryGrid {
    let lat = (0..NY).map(|j| 40.125 + 0.25 * j as f64).collect();
    let lon = (0..NX).map(|i| -100.125 + 0.25 * i as f64).collect();
    HistoryGrid::regular(lat, lon, mask())
}

fn curvilinear_grid() -> HistoryGrid {
    let mut lat = Vec::new();
    let mut lon = Vec::new();
    let mut clat = Vec::new();
    let mut clon = Vec::new();
    // A gently rotated grid, as a Lambert domain gives.
    let centre = |y: f64, x: f64| (35.0 + 0.2 * y + 0.02 * x, -95.0 + 0.25 * x - 0.03 * y);
    for j in 0..NY {
        for i in 0..NX {
            let (la, lo) = centre(j as f64, i as f64);
            lat.push(la);
            lon.push(lo);
            for (dy, dx) in [(-0.5, -0.5), (-0.5, 0.5), (0.5, 0.5), (0.5, -0.5)] {
                let (a, b) = centre(j as f64 + dy, i as f64 + dx);
                clat.push(a);
                clon.push(b);
            }
        }
    }
    HistoryGrid {
        ny: NY,
        nx: NX,
        kind: GridKind::Curvilinear {
            lat,
            lon,
            corners: Some((clat, clon)),
        },
        land_mask: mask(),
        grid_mapping: Some(GridMapping::lambert_conformal_conic(
            &[30.0, 60.0],
            -95.0,
            35.0,
            6_370_000.0,
        )),
        projection_xy: None,
        layout: Default::default(),
    }
}

fn write(path: &Path, grid: &HistoryGrid) -> Result<(), IoError> {
    write_at(path, grid, time())
}

fn write_at(path: &Path, grid: &HistoryGrid, time: HistoryTime) -> Result<(), IoError> {
    let d = data();
    let f = fields(&d);
    let md = metadata();
    write_history(
        path,
        &HistoryWrite {
            grid,
            time,
            soil_layer_thickness: &THICK,
            fields: &f,
            metadata: &md,
            compression: Compression {
                deflate_level: 4,
                shuffle: true,
            },
        },
    )
}

fn attr_str(v: &netcdf::Variable, name: &str) -> String {
    match v.attribute_value(name).unwrap().unwrap() {
        netcdf::AttributeValue::Str(s) => s,
        other => panic!("attribute {name} is {other:?}"),
    }
}

fn global_str(f: &netcdf::File, name: &str) -> String {
    match f.attribute(name).unwrap().value().unwrap() {
        netcdf::AttributeValue::Str(s) => s,
        other => panic!("global attribute {name} is {other:?}"),
    }
}

#[test]
fn regular_history_structure_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let t = time();
    let path = dir.path().join(history_file_name(t.end));
    assert!(path.ends_with("LC_HIST_202106010600.nc"));
    write(&path, &regular_grid()).unwrap();

    let f = netcdf::open(&path).unwrap();
    assert_eq!(f.dimension_len("time"), Some(1));
    assert!(f.dimension("time").unwrap().is_unlimited());
    assert_eq!(f.dimension_len("lat"), Some(NY));
    assert_eq!(f.dimension_len("lon"), Some(NX));
    assert_eq!(f.dimension_len("soil_layer"), Some(NL));
    assert_eq!(f.dimension_len("member"), Some(NM));
    assert_eq!(f.dimension_len("bnds"), Some(2));

    assert_eq!(global_str(&f, "Conventions"), "CF-1.8 ALMA");
    assert_eq!(global_str(&f, "namelist"), metadata().namelist);
    assert_eq!(global_str(&f, "comment"), "synthetic values");
    assert_eq!(global_str(&f, "time_coverage_end"), "2021-06-01T06:00:00Z");

    // time: valid time at the end, bounds over the interval
    let tv = f.variable("time").unwrap();
    assert_eq!(attr_str(&tv, "units"), "seconds since 2021-06-01 00:00:00");
    assert_eq!(attr_str(&tv, "calendar"), "standard");
    assert_eq!(attr_str(&tv, "bounds"), "time_bnds");
    assert_eq!(tv.get_values::<f64, _>(..).unwrap(), vec![21600.0]);
    let tb = f.variable("time_bnds").unwrap();
    assert_eq!(tb.get_values::<f64, _>(..).unwrap(), vec![10800.0, 21600.0]);

    // coordinates and their bounds
    let lat = f.variable("lat").unwrap();
    assert_eq!(attr_str(&lat, "standard_name"), "latitude");
    assert_eq!(attr_str(&lat, "units"), "degree_north");
    assert_eq!(attr_str(&lat, "axis"), "Y");
    let latv = lat.get_values::<f64, _>(..).unwrap();
    assert_eq!(latv[0], 40.125);
    let latb = f
        .variable("lat_bnds")
        .unwrap()
        .get_values::<f64, _>(..)
        .unwrap();
    assert_eq!(&latb[..4], &[40.0, 40.25, 40.25, 40.5]);
    let lonb = f
        .variable("lon_bnds")
        .unwrap()
        .get_values::<f64, _>(..)
        .unwrap();
    assert_eq!(lonb[0], -100.25);
    assert_eq!(lonb[2 * NX - 1], -99.0);

    // soil layers: mid-point depths, positive down, bounds from thicknesses
    let sl = f.variable("soil_layer").unwrap();
    assert_eq!(attr_str(&sl, "positive"), "down");
    assert_eq!(attr_str(&sl, "units"), "m");
    assert_eq!(attr_str(&sl, "bounds"), "soil_layer_bnds");
    let mid = sl.get_values::<f64, _>(..).unwrap();
    assert!((mid[0] - 0.05).abs() < 1e-12 && (mid[1] - 0.25).abs() < 1e-12);
    assert!((mid[2] - 0.7).abs() < 1e-12);
    let slb = f
        .variable("soil_layer_bnds")
        .unwrap()
        .get_values::<f64, _>(..)
        .unwrap();
    let expect = [0.0, 0.1, 0.1, 0.4, 0.4, 1.0];
    for (a, b) in slb.iter().zip(expect) {
        assert!((a - b).abs() < 1e-12, "{slb:?}");
    }
    let mem = f.variable("member").unwrap();
    assert_eq!(attr_str(&mem, "standard_name"), "realization");

    // land mask
    let lm = f
        .variable("land_mask")
        .unwrap()
        .get_values::<i8, _>(..)
        .unwrap();
    let expect_mask: Vec<i8> = mask().iter().map(|&b| i8::from(b)).collect();
    assert_eq!(lm, expect_mask);

    // SoilMoist mean: metadata, values on land, fill on ocean
    let sm = f.variable("SoilMoist").unwrap();
    let dims: Vec<String> = sm.dimensions().iter().map(|d| d.name()).collect();
    assert_eq!(dims, ["time", "soil_layer", "lat", "lon"]);
    assert_eq!(attr_str(&sm, "units"), "kg m-2");
    assert_eq!(
        attr_str(&sm, "standard_name"),
        "mass_content_of_water_in_soil_layer"
    );
    assert_eq!(
        attr_str(&sm, "cell_methods"),
        "time: point realization: mean"
    );
    assert_eq!(attr_str(&sm, "ancillary_variables"), "SoilMoist_spread");
    assert_eq!(sm.fill_value::<f32>().unwrap(), Some(1.0e20));
    // Chunks of whole rows, a fixed function of the grid (every rank of a run writes whole chunks).
    let rows = landcycle::io::history::chunk_rows(NY);
    assert_eq!(sm.chunking().unwrap(), Some(vec![1, 1, rows, NX]));
    let smv = sm.get_values::<f32, _>(..).unwrap();
    let n = NY * NX;
    assert_eq!(smv.len(), NL * n);
    let d = data();
    for (j, v) in smv.iter().enumerate() {
        if mask()[j % n] {
            assert_eq!(*v, d.sm_mean[j] as f32, "SoilMoist at {j}");
        } else {
            assert_eq!(*v, 1.0e20, "ocean cell {j} must be _FillValue");
        }
    }
    let sp = f.variable("SoilMoist_spread").unwrap();
    assert_eq!(
        attr_str(&sp, "cell_methods"),
        "time: point realization: standard_deviation"
    );
    // every member along `member`
    let smm = f.variable("SoilMoist_member").unwrap();
    let dims: Vec<String> = smm.dimensions().iter().map(|d| d.name()).collect();
    assert_eq!(dims, ["time", "member", "soil_layer", "lat", "lon"]);
    let mv = smm.get_values::<f32, _>(..).unwrap();
    let (m, k, i) = (2, 1, 13);
    assert!(mask()[i]);
    assert_eq!(mv[(m * NL + k) * n + i], value(m, k, i) as f32);
    // a flux: interval mean
    let qh = f.variable("Qh").unwrap();
    assert_eq!(
        attr_str(&qh, "cell_methods"),
        "time: mean realization: mean"
    );
    assert_eq!(
        attr_str(&qh, "standard_name"),
        "surface_upward_sensible_heat_flux"
    );
    let qv = qh.get_values::<f32, _>(..).unwrap();
    assert_eq!(qv[0], 1.0e20);
    assert_eq!(qv[1], (-20.0 + 3.0) as f32);
    assert!(f.variable("Qh_spread").is_none());
    assert!(qh.attribute("ancillary_variables").is_none());

    // no temporary file left behind
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1);

    // the same content gives the same bytes (rank-count independence rests on this)
    let again = dir.path().join("again.nc");
    write(&again, &regular_grid()).unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        std::fs::read(&again).unwrap()
    );
}

#[test]
fn curvilinear_history_has_auxiliary_coordinates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("curv.nc");
    let t = HistoryTime {
        units: TimeUnits::Hours,
        ..time()
    };
    write_at(&path, &curvilinear_grid(), t).unwrap();
    let f = netcdf::open(&path).unwrap();
    let tv = f.variable("time").unwrap();
    assert_eq!(attr_str(&tv, "units"), "hours since 2021-06-01 00:00:00");
    assert_eq!(tv.get_values::<f64, _>(..).unwrap(), vec![6.0]);
    let tb = f.variable("time_bnds").unwrap();
    assert_eq!(tb.get_values::<f64, _>(..).unwrap(), vec![3.0, 6.0]);
    assert_eq!(f.dimension_len("y"), Some(NY));
    assert_eq!(f.dimension_len("x"), Some(NX));
    let lat = f.variable("lat").unwrap();
    let dims: Vec<String> = lat.dimensions().iter().map(|d| d.name()).collect();
    assert_eq!(dims, ["y", "x"]);
    assert_eq!(attr_str(&lat, "bounds"), "lat_bnds");
    assert_eq!(f.variable("lat_bnds").unwrap().len(), NY * NX * 4);
    let sm = f.variable("SoilMoist").unwrap();
    assert_eq!(attr_str(&sm, "coordinates"), "lat lon");
    assert_eq!(attr_str(&sm, "grid_mapping"), "crs");
    let crs = f.variable("crs").unwrap();
    assert_eq!(
        attr_str(&crs, "grid_mapping_name"),
        "lambert_conformal_conic"
    );
    let dims: Vec<String> = sm.dimensions().iter().map(|d| d.name()).collect();
    assert_eq!(dims, ["time", "soil_layer", "y", "x"]);
}

/// Path of the offline CF checker: `LANDCYCLE_CFCHECK`, else `tools/cf/cfcheck` beside the
/// shared data directory.
fn cfcheck() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LANDCYCLE_CFCHECK") {
        return Some(PathBuf::from(p));
    }
    let p = landcycle::testdata::root().join("../tools/cf/cfcheck");
    if p.exists() {
        return Some(p);
    }
    if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
        panic!("cfcheck not found at {} (CI=true requires it)", p.display());
    }
    eprintln!("SKIPPED: cfcheck not found at {}", p.display());
    None
}

#[test]
fn history_files_pass_cf_checker() {
    let Some(checker) = cfcheck() else { return };
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("regular.nc");
    let curv = dir.path().join("curvilinear.nc");
    write(&reg, &regular_grid()).unwrap();
    write(&curv, &curvilinear_grid()).unwrap();
    for p in [&reg, &curv] {
        let out = std::process::Command::new(&checker)
            .arg(p)
            .output()
            .expect("run cfcheck");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        println!("{text}");
        assert!(
            out.status.success(),
            "cfcheck failed on {}:\n{text}",
            p.display()
        );
        assert!(
            text.contains("ERRORS detected: 0"),
            "cfcheck reported errors on {}:\n{text}",
            p.display()
        );
        assert!(
            text.contains("WARNINGS given: 0"),
            "cfcheck reported warnings on {}:\n{text}",
            p.display()
        );
    }
}

#[test]
fn bad_fields_are_errors_and_leave_previous_file_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("LC_HIST_202106010600.nc");
    write(&path, &regular_grid()).unwrap();
    let before = std::fs::read(&path).unwrap();

    let grid = regular_grid();
    let md = metadata();
    let mut bad = vec![280.0; NY * NX];
    bad[13] = f64::NAN; // a land cell
    let tsurf = alma::lookup("AvgSurfT").unwrap();
    let f = [tsurf.field(EnsembleStat::Mean, &bad)];
    let h = HistoryWrite {
        grid: &grid,
        time: time(),
        soil_layer_thickness: &THICK,
        fields: &f,
        metadata: &md,
        compression: Compression::default(),
    };
    let e = write_history(&path, &h).unwrap_err().to_string();
    assert!(e.contains("AvgSurfT") && e.contains("y 2, x 3"), "{e}");
    assert!(e.contains("LC_HIST_202106010600.nc"), "{e}");

    let short = vec![1.0; NY * NX - 1];
    let f = [tsurf.field(EnsembleStat::Mean, &short)];
    let e = write_history(
        &path,
        &HistoryWrite {
            fields: &f,
            ..h.clone()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("AvgSurfT") && e.contains("expected 20"), "{e}");

    let flat = vec![1.0; NY * NX];
    let sm = alma::lookup("SoilMoist").unwrap();
    let f = [sm.field(EnsembleStat::Mean, &flat)];
    let e = write_history(
        &path,
        &HistoryWrite {
            fields: &f,
            ..h.clone()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("SoilMoist"), "{e}");

    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

/// Timing of a global 0.25-degree history file (run with `--ignored --nocapture`):
/// 1440 x 600, 4 soil layers, mean and spread of SoilMoist, SoilTemp and 6 surface fields.
#[test]
#[ignore]
fn history_speed_global() {
    let (ny, nx) = (600usize, 1440usize);
    let n = ny * nx;
    let lat = (0..ny).map(|j| -59.875 + 0.25 * j as f64).collect();
    let lon = (0..nx).map(|i| -179.875 + 0.25 * i as f64).collect();
    let mask: Vec<bool> = (0..n).map(|i| (i / 7) % 3 != 0).collect();
    let grid = HistoryGrid::regular(lat, lon, mask);
    let layered: Vec<f64> = (0..4 * n).map(|i| 200.0 + (i % 977) as f64 * 0.1).collect();
    let flat: Vec<f64> = (0..n).map(|i| 280.0 + (i % 503) as f64 * 0.01).collect();
    let mut fields = Vec::new();
    for name in ["SoilMoist", "SoilTemp"] {
        let v = alma::lookup(name).unwrap();
        fields.push(v.field(EnsembleStat::Mean, &layered));
        fields.push(v.field(EnsembleStat::Spread, &layered));
    }
    for name in ["Qh", "Qle", "Qg", "AvgSurfT", "SWE", "Rainf"] {
        let v = alma::lookup(name).unwrap();
        fields.push(v.field(EnsembleStat::Mean, &flat));
        fields.push(v.field(EnsembleStat::Spread, &flat));
    }
    let md = metadata();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("global.nc");
    let t = std::time::Instant::now();
    write_history(
        &path,
        &HistoryWrite {
            grid: &grid,
            time: time(),
            soil_layer_thickness: &[0.1, 0.3, 0.6, 1.0],
            fields: &fields,
            metadata: &md,
            compression: Compression::default(),
        },
    )
    .unwrap();
    let mb = std::fs::metadata(&path).unwrap().len() as f64 / 1e6;
    println!("global history {mb:.0} MB written in {:?}", t.elapsed());
}
