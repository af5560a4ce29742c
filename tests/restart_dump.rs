//! Self-describing restarts (format version 3: units, long names, dimension scales, cell
//! coordinates; version 4 the same with XXH3-128 block digests) and `landcycle restart dump`
//! to CF NetCDF: round trip, the checksum covers the description, netCDF-4 readers see named
//! dimensions, the dump passes the CF checker and CDO reads it, selections and refusals; a
//! version-3 file written by the previous landcycle is still read and verified; a cycle's
//! restarts are byte-identical on 1, 2 and 3 ranks and dump as well.

mod common;

use chrono::NaiveDate;
use landcycle::io::restart_meta::{FieldMeta, RestartMeta};
use landcycle::io::{read_restart, read_restart_cells, verify_restart, write_restart};
use landcycle::io::{IoError, RestartData, RestartField};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const NY: usize = 10;
const NX: usize = 15;
const NM: usize = 3;

fn lat_axis() -> Vec<f64> {
    (0..NY).map(|j| 30.0 + 0.5 * j as f64).collect()
}
fn lon_axis() -> Vec<f64> {
    (0..NX).map(|i| -100.0 + 0.5 * i as f64).collect()
}

/// A restart on a 10 x 15 regular grid with 100 land cells (more than one 64-cell block).
fn sample(regular: bool) -> RestartData {
    let ids: Vec<u64> = (0..(NY * NX) as u64)
        .filter(|k| k % 3 != 1)
        .take(100)
        .collect();
    let (la, lo) = (lat_axis(), lon_axis());
    let lat = ids.iter().map(|&k| la[k as usize / NX]).collect();
    let lon = ids.iter().map(|&k| lo[k as usize % NX]).collect();
    let n = ids.len();
    let field = |name: &str, per_cell: usize, salt: f64| RestartField {
        name: name.into(),
        per_cell,
        values: (0..n * NM * per_cell)
            .map(|i| salt + 1e-3 * i as f64)
            .collect(),
    };
    let fm = |u: &str, l: &str| FieldMeta {
        units: u.into(),
        long_name: l.into(),
    };
    let meta = RestartMeta {
        fields: [
            vec![
                fm("m3 m-3", "total soil moisture per layer"),
                fm("K", "skin temperature"),
            ],
            vec![fm(
                "1",
                "AR(1) state of the forcing perturbation, one per perturbed variable",
            )],
        ],
        grid_shape: Some((NY, NX)),
        regular_axes: regular.then(|| (lat_axis(), lon_axis())),
        lat,
        lon,
        soil_layer_thickness: vec![0.1, 0.3, 0.6, 1.0],
    };
    RestartData {
        valid_time: NaiveDate::from_ymd_opt(2021, 6, 1)
            .unwrap()
            .and_hms_opt(6, 0, 0)
            .unwrap(),
        config_fingerprint: "cfg-1".into(),
        model_name: "noah-3.4.1".into(),
        n_members: NM,
        cell_ids: ids,
        model_fields: vec![
            field("soil_moisture", 4, 0.2),
            field("skin_temperature", 1, 290.0),
        ],
        perturbation_fields: vec![field("forcing", 3, -0.5)],
        attributes: BTreeMap::from([("landcycle_version".into(), "test".into())]),
        meta: Some(meta),
    }
}

fn u32_attr(p: &Path, name: &str) -> u32 {
    hdf5::File::open(p)
        .unwrap()
        .attr(name)
        .unwrap()
        .read_scalar()
        .unwrap()
}

/// One test at a time: a child process (the dump, CDO, the CF checker) inherits the file
/// descriptors of another test's open HDF5 file, and with them its lock.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn nc_str_attr(v: &netcdf::Variable, name: &str) -> String {
    match v.attribute_value(name) {
        Some(Ok(netcdf::AttributeValue::Str(s))) => s,
        // HDF5 variable-length strings read through netCDF-4 as a one-element string array.
        Some(Ok(netcdf::AttributeValue::Strs(v))) if v.len() == 1 => v[0].clone(),
        other => panic!("{}: attribute {name}: {other:?}", v.name()),
    }
}

fn dim_names(v: &netcdf::Variable) -> Vec<String> {
    v.dimensions().iter().map(|d| d.name()).collect()
}

#[test]
fn version_4_restart_describes_itself_and_its_checksum_covers_the_description() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let d = sample(true);
    let p = dir.path().join("LC_RST_202106010600.h5");
    write_restart(&p, &d).unwrap();
    assert_eq!(u32_attr(&p, "format_version"), 4);
    {
        // 2 blocks of 64 cells, 1 + 3 digests each (cell ids, 2 model fields, 1 perturbation).
        let f = hdf5::File::open(&p).unwrap();
        assert_eq!(f.dataset("block_xxh3_128").unwrap().shape(), [2, 4, 16]);
        assert!(f.dataset("block_sha256").is_err());
    }
    let back = read_restart(&p).unwrap();
    assert_eq!(back, d);
    assert_eq!(verify_restart(&p).unwrap().n_cells, 100);
    // A partial read lists the coordinates of the requested cells, in the requested order.
    let part = read_restart_cells(&p, &[d.cell_ids[90], d.cell_ids[2]]).unwrap();
    let m = part.meta.unwrap();
    assert_eq!(
        m.lat,
        vec![
            d.meta.as_ref().unwrap().lat[90],
            d.meta.as_ref().unwrap().lat[2]
        ]
    );

    // netCDF-4 sees named dimensions, coordinates, units and long names.
    let f = netcdf::open(&p).unwrap();
    let g = f.group("model").unwrap().unwrap();
    let sm = g.variable("soil_moisture").unwrap();
    assert_eq!(dim_names(&sm), ["cell_id", "member", "soil_layer"]);
    assert_eq!(nc_str_attr(&sm, "units"), "m3 m-3");
    let skin = g.variable("skin_temperature").unwrap();
    assert_eq!(dim_names(&skin), ["cell_id", "member", "single_level"]);
    let pg = f.group("perturbation").unwrap().unwrap();
    assert_eq!(
        dim_names(&pg.variable("forcing").unwrap()),
        ["cell_id", "member", "perturbation_forcing_index"]
    );
    let lat = f.variable("lat").unwrap();
    assert_eq!(dim_names(&lat), ["cell_id"]);
    assert_eq!(nc_str_attr(&lat, "units"), "degrees_north");
    let layers: Vec<f64> = f.variable("soil_layer").unwrap().get_values(..).unwrap();
    assert_eq!(layers, [0.05, 0.25, 0.7, 1.5]);
    let bnds: Vec<f64> = f
        .variable("soil_layer_bnds")
        .unwrap()
        .get_values(..)
        .unwrap();
    assert_eq!(bnds, [0.0, 0.1, 0.1, 0.4, 0.4, 1.0, 1.0, 2.0]);
    let member: Vec<f64> = f.variable("member").unwrap().get_values(..).unwrap();
    assert_eq!(member, [0.0, 1.0, 2.0]);
    drop(f);

    // A changed unit is a checksum failure, not a silently different description.
    {
        let f = hdf5::File::open_rw(&p).unwrap();
        let ds = f.dataset("model/soil_moisture").unwrap();
        ds.delete_attr("units").unwrap();
        let v: hdf5::types::VarLenUnicode = "kg m-2".parse().unwrap();
        ds.new_attr::<hdf5::types::VarLenUnicode>()
            .shape(())
            .create("units")
            .unwrap()
            .write_scalar(&v)
            .unwrap();
    }
    assert!(matches!(
        read_restart(&p).unwrap_err(),
        IoError::Checksum { .. }
    ));
    assert!(matches!(
        verify_restart(&p).unwrap_err(),
        IoError::Checksum { .. }
    ));

    // No single flipped byte makes a read return altered data or a different description.
    write_restart(&p, &d).unwrap();
    let orig = std::fs::read(&p).unwrap();
    let mut detected = 0;
    for at in (0..orig.len()).step_by((orig.len() / 300).max(1)) {
        let mut bytes = orig.clone();
        bytes[at] ^= 0x5a;
        std::fs::write(&p, &bytes).unwrap();
        match read_restart(&p) {
            Err(e) => {
                assert!(e.to_string().contains("LC_RST_"), "byte {at}: {e}");
                detected += 1;
            }
            Ok(back) => assert_eq!(back, d, "byte {at} changed the content"),
        }
    }
    assert!(detected > 0);

    // Without a description the file is written and read as version 2.
    let mut v2 = sample(true);
    v2.meta = None;
    let p2 = dir.path().join("v2.h5");
    write_restart(&p2, &v2).unwrap();
    assert_eq!(u32_attr(&p2, "format_version"), 2);
    assert_eq!(read_restart(&p2).unwrap(), v2);
}

/// The restart of `sample(true)` as landcycle wrote it before version 4 (d7c45fa, format
/// version 3: SHA-256 block digests), kept as the file that version wrote.
fn version_3_fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/restart_v3_sample.h5")
}

#[test]
fn version_3_restart_of_the_previous_landcycle_is_read_and_verified() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("LC_RST_202106010600.h5");
    std::fs::copy(version_3_fixture(), &p).unwrap();
    assert_eq!(u32_attr(&p, "format_version"), 3);
    let d = sample(true);
    assert_eq!(read_restart(&p).unwrap(), d);
    assert_eq!(verify_restart(&p).unwrap().n_cells, 100);
    let part = read_restart_cells(&p, &[d.cell_ids[99], d.cell_ids[1]]).unwrap();
    assert_eq!(part.cell_ids, [d.cell_ids[99], d.cell_ids[1]]);
    // Its blocks are still checked by their SHA-256 digests.
    let v = &d.model_fields[1].values[95 * NM..];
    let read = || read_restart_cells(&p, &[d.cell_ids[99]]);
    damage_value(&p, v, 3);
    expect_block_error(read(), "model/skin_temperature", "SHA-256");
    read_restart_cells(&p, &[d.cell_ids[3]]).unwrap();
}

#[test]
fn version_4_blocks_name_the_damaged_dataset_and_block() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("LC_RST_202106010600.h5");
    let d = sample(true);
    write_restart(&p, &d).unwrap();
    let v = &d.perturbation_fields[0].values[70 * NM * 3..];
    damage_value(&p, v, 11);
    let read = || read_restart_cells(&p, &[d.cell_ids[70]]);
    expect_block_error(read(), "perturbation/forcing", "XXH3-128");
    read_restart_cells(&p, &[d.cell_ids[0], d.cell_ids[63]]).unwrap();
    assert!(verify_restart(&p).is_err());
}

/// Flip a bit of byte `at` of the stored bytes of `values[0..2]` in the file `p`.
fn damage_value(p: &Path, values: &[f64], at: usize) {
    let mut bytes = std::fs::read(p).unwrap();
    let needle: Vec<u8> = values[..2].iter().flat_map(|x| x.to_le_bytes()).collect();
    let found = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("values stored as written");
    bytes[found + at] ^= 0x20;
    std::fs::write(p, &bytes).unwrap();
}

/// A read of a damaged block (block 1) fails naming the dataset and the digest.
fn expect_block_error<T: std::fmt::Debug>(r: Result<T, IoError>, dataset: &str, hash: &str) {
    let msg = r.unwrap_err().to_string();
    assert!(
        msg.contains(dataset) && msg.contains("block 1") && msg.contains(hash),
        "{msg}"
    );
}

/// The CF checker's error and warning counts (None without the checker).
fn cf_counts(file: &Path) -> Option<(usize, usize, String)> {
    let checker = landcycle::testdata::root().join("../tools/cf/cfcheck");
    if !checker.exists() {
        eprintln!("SKIPPED: CF checker {} not found", checker.display());
        return None;
    }
    let out = Command::new(&checker).arg(file).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let count = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|r| r.trim().parse().ok())
            .unwrap_or(usize::MAX)
    };
    Some((count("ERRORS detected:"), count("WARNINGS given:"), text))
}

fn assert_cf_clean(file: &Path) {
    if let Some((e, w, text)) = cf_counts(file) {
        assert_eq!((e, w), (0, 0), "CF checker on {}:\n{text}", file.display());
    }
}

/// `cdo sinfon` output (None when CDO is not installed).
fn cdo_sinfon(file: &Path) -> Option<String> {
    let out = Command::new("cdo").arg("sinfon").arg(file).output().ok()?;
    assert!(
        out.status.success(),
        "cdo sinfon {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn dump(args: &[&str]) -> std::process::Output {
    Command::new(common::BIN)
        .arg("restart")
        .arg("dump")
        .args(args)
        .output()
        .unwrap()
}

fn dump_ok(args: &[&str]) {
    let out = dump(args);
    assert!(
        out.status.success(),
        "restart dump {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn restart_dump_writes_cf_netcdf_on_the_grid_that_cdo_reads() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let d = sample(true);
    let p = dir.path().join("LC_RST_202106010600.h5");
    write_restart(&p, &d).unwrap();
    dump_ok(&[p.to_str().unwrap()]);
    let out = dir.path().join("LC_RST_202106010600.nc");
    assert_cf_clean(&out);
    if let Some(s) = cdo_sinfon(&out) {
        assert!(
            s.contains("soil_moisture_member_002") && s.contains("lonlat"),
            "{s}"
        );
        assert!(s.contains("depth_below_land"), "{s}");
    }
    // Values bit for bit at their grid place; water cells hold the fill value.
    let f = netcdf::open(&out).unwrap();
    let v: Vec<f64> = f
        .variable("soil_moisture_member_001")
        .unwrap()
        .get_values(..)
        .unwrap();
    let (c, layer, m) = (57, 2, 1);
    let id = d.cell_ids[c] as usize;
    let want = d.model_fields[0].values[(c * NM + m) * 4 + layer];
    assert_eq!(v[layer * NY * NX + id].to_bits(), want.to_bits());
    assert_eq!(v[1], 1e20, "cell id 1 is water");
    drop(f);

    // A member dimension for two members and one field.
    let sel = dir.path().join("sel.nc");
    dump_ok(&[
        p.to_str().unwrap(),
        "-o",
        sel.to_str().unwrap(),
        "--members",
        "2,0",
        "--fields",
        "soil_moisture",
        "--member-dim",
    ]);
    assert_cf_clean(&sel);
    let f = netcdf::open(&sel).unwrap();
    let v = f.variable("soil_moisture").unwrap();
    assert_eq!(
        dim_names(&v),
        ["time", "member", "soil_layer", "lat", "lon"]
    );
    assert!(f.variable("skin_temperature").is_none());
    let members: Vec<i32> = f.variable("member").unwrap().get_values(..).unwrap();
    assert_eq!(members, [2, 0]);
    drop(f);

    // Unknown names are refused with the known ones; nothing is written.
    let bad = dump(&[
        p.to_str().unwrap(),
        "-o",
        "/nonexistent-dir/x.nc",
        "--fields",
        "soil_moist",
    ]);
    let msg = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && msg.contains("soil_moist") && msg.contains("perturbation_forcing"),
        "{msg}"
    );
    let bad = dump(&[
        p.to_str().unwrap(),
        "-o",
        sel.to_str().unwrap(),
        "--members",
        "3",
    ]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("no member 3"));
}

#[test]
fn restart_dump_verifies_first_and_writes_cells_with_lat_lon_off_regular_grids() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let d = sample(false);
    let p = dir.path().join("r.h5");
    write_restart(&p, &d).unwrap();
    let out = dir.path().join("cells.nc");
    dump_ok(&[p.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_cf_clean(&out);
    if let Some(s) = cdo_sinfon(&out) {
        assert!(
            s.contains("unstructured") && s.contains("points=100"),
            "{s}"
        );
    }
    let f = netcdf::open(&out).unwrap();
    let sk = f.variable("skin_temperature_member_000").unwrap();
    assert_eq!(dim_names(&sk), ["time", "cell"]);
    assert_eq!(nc_str_attr(&sk, "coordinates"), "member_000 lat lon");
    assert_eq!(nc_str_attr(&sk, "standard_name"), "surface_temperature");
    let lon: Vec<f64> = f.variable("lon").unwrap().get_values(..).unwrap();
    assert_eq!(lon, d.meta.as_ref().unwrap().lon);
    drop(f);

    // A damaged value: the dump refuses the file (checksum) and writes nothing.
    {
        let f = hdf5::File::open_rw(&p).unwrap();
        let ds = f.dataset("model/skin_temperature").unwrap();
        let mut v: Vec<f64> = ds.read_raw().unwrap();
        v[70] += 1.0;
        ds.write_raw(&v).unwrap();
    }
    let out2 = dir.path().join("damaged.nc");
    let bad = dump(&[p.to_str().unwrap(), "-o", out2.to_str().unwrap()]);
    let msg = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && msg.contains("checksum"), "{msg}");
    assert!(!out2.exists());
}

#[test]
fn cycle_restarts_are_self_describing_and_identical_on_1_2_3_ranks() {
    let _serial = serial();
    if !common::have_mpirun() {
        eprintln!("SKIPPED: no mpirun");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let nml = common::write_namelist(dir.path(), 6, 5, 3, "2020-06-01_12:00:00");
    common::synth(&nml);
    let runs: Vec<_> = (1..=3)
        .map(|r| dir.path().join(format!("run{r}")))
        .collect();
    for (r, rd) in runs.iter().enumerate() {
        common::run_ok(&nml, r + 1, rd, &[]);
    }
    common::assert_identical(&runs[0], &runs[1]);
    common::assert_identical(&runs[0], &runs[2]);
    let rst: Vec<_> = common::output_files(&runs[1])
        .into_iter()
        .filter(|f| f.to_string_lossy().contains("LC_RST_"))
        .collect();
    assert_eq!(rst.len(), 2);
    let p = runs[1].join(&rst[1]);
    assert_eq!(u32_attr(&p, "format_version"), 4);
    let d = read_restart(&p).unwrap();
    let m = d.meta.as_ref().unwrap();
    assert_eq!(
        (m.grid_shape, m.lat.len(), m.soil_layer_thickness.len()),
        (Some((5, 6)), d.cell_ids.len(), 4)
    );
    assert!(m.fields[0].iter().any(|f| f.units == "m3 m-3"));
    let out = dir.path().join("cycle.nc");
    dump_ok(&[p.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_cf_clean(&out);
    if let Some(s) = cdo_sinfon(&out) {
        assert!(s.contains("soil_moisture_member_000"), "{s}");
    }
}
