//! Restart files: bit-identical round trip, partial reads by cell id, corruption and
//! truncation detection, fingerprint checks, atomic replacement, finding the latest restart.

use chrono::{NaiveDate, NaiveDateTime};
use landcycle::cycle::rundir::RunDir;
use landcycle::io::restart::canonical_checksum;
use landcycle::io::{
    atomic_write, check_fingerprint, read_restart, read_restart_cells, restart_file_name,
    verify_restart, write_restart, IoError, RestartData, RestartField,
};
use std::collections::BTreeMap;
use std::path::Path;

const NM: usize = 4;

fn time(h: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2021, 6, 1)
        .unwrap()
        .and_hms_opt(h, 0, 0)
        .unwrap()
}

/// Cheap deterministic generator for awkward bit patterns.
fn bits(seed: u64) -> f64 {
    let x = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(17)
        .wrapping_add(0x1234_5678);
    match seed % 7 {
        0 => -0.0,
        1 => f64::from_bits(1 + seed % 1000), // subnormal
        _ => (x >> 11) as f64 / (1u64 << 53) as f64 * 0.5 - 0.01,
    }
}

fn sample(n_cells: usize, valid: NaiveDateTime) -> RestartData {
    let cell_ids: Vec<u64> = (0..n_cells as u64).map(|i| 3 * i + 7).collect();
    let field = |name: &str, per_cell: usize, salt: u64| RestartField {
        name: name.to_string(),
        per_cell,
        values: (0..n_cells * NM * per_cell)
            .map(|i| bits(i as u64 * 31 + salt))
            .collect(),
    };
    let mut attributes = BTreeMap::new();
    attributes.insert("landcycle_version".to_string(), "0.1.0".to_string());
    attributes.insert("cycle_count".to_string(), "12".to_string());
    RestartData {
        valid_time: valid,
        config_fingerprint: "cfg-3f2a9c".to_string(),
        model_name: "noah".to_string(),
        n_members: NM,
        cell_ids,
        model_fields: vec![
            field("soil_moisture", 4, 1),
            field("soil_temperature", 4, 2),
            field("canopy_water", 1, 3),
        ],
        perturbation_fields: vec![field("precipitation_ar1", 1, 4), field("sm_ar1", 4, 5)],
        attributes,
        meta: None,
    }
}

fn assert_bit_identical(a: &RestartData, b: &RestartData) {
    assert_eq!(a.valid_time, b.valid_time);
    assert_eq!(a.config_fingerprint, b.config_fingerprint);
    assert_eq!(a.model_name, b.model_name);
    assert_eq!(a.n_members, b.n_members);
    assert_eq!(a.cell_ids, b.cell_ids);
    assert_eq!(a.attributes, b.attributes);
    for (fa, fb) in [
        (&a.model_fields, &b.model_fields),
        (&a.perturbation_fields, &b.perturbation_fields),
    ] {
        assert_eq!(fa.len(), fb.len());
        for (x, y) in fa.iter().zip(fb) {
            assert_eq!(x.name, y.name);
            assert_eq!(x.per_cell, y.per_cell);
            let xb: Vec<u64> = x.values.iter().map(|v| v.to_bits()).collect();
            let yb: Vec<u64> = y.values.iter().map(|v| v.to_bits()).collect();
            assert_eq!(xb, yb, "field {} differs", x.name);
        }
    }
}

#[test]
fn round_trip_is_bit_identical() {
    let dir = tempfile::tempdir().unwrap();
    let d = sample(500, time(6));
    let path = dir.path().join(restart_file_name(d.valid_time));
    assert!(path.ends_with("LC_RST_202106010600.h5"));
    write_restart(&path, &d).unwrap();
    let back = read_restart(&path).unwrap();
    assert_bit_identical(&d, &back);
    assert_eq!(canonical_checksum(&d), canonical_checksum(&back));
    let info = verify_restart(&path).unwrap();
    assert_eq!(info.n_cells, 500);
    assert_eq!(info.n_members, NM);
    assert_eq!(info.valid_time, time(6));
    // Writing the same content twice gives the same bytes (determinism of the file itself).
    let path2 = dir.path().join("again.h5");
    write_restart(&path2, &d).unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        std::fs::read(&path2).unwrap()
    );
    // No temporary files remain.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn empty_restart_round_trips() {
    // A domain without land cells (or a rank's empty share) still has a valid restart.
    let dir = tempfile::tempdir().unwrap();
    let mut d = sample(0, time(0));
    d.perturbation_fields.clear();
    d.attributes.clear();
    let path = dir.path().join("empty.h5");
    write_restart(&path, &d).unwrap();
    assert_bit_identical(&d, &read_restart(&path).unwrap());
}

#[test]
fn partial_read_returns_requested_cells() {
    let dir = tempfile::tempdir().unwrap();
    let d = sample(3000, time(6));
    let path = dir.path().join("r.h5");
    write_restart(&path, &d).unwrap();
    // Scattered ids in non-sorted order, including the first and last cells and a long jump.
    let rows = [2999usize, 0, 5, 6, 7, 1500, 40, 2000, 1];
    let ids: Vec<u64> = rows.iter().map(|&r| d.cell_ids[r]).collect();
    let part = read_restart_cells(&path, &ids).unwrap();
    assert_eq!(part.cell_ids, ids);
    for (fd, fp) in d.model_fields.iter().zip(&part.model_fields) {
        let row = NM * fd.per_cell;
        for (k, &r) in rows.iter().enumerate() {
            let want: Vec<u64> = fd.values[r * row..(r + 1) * row]
                .iter()
                .map(|v| v.to_bits())
                .collect();
            let got: Vec<u64> = fp.values[k * row..(k + 1) * row]
                .iter()
                .map(|v| v.to_bits())
                .collect();
            assert_eq!(want, got, "{} row {r}", fd.name);
        }
    }
    assert_eq!(
        part.perturbation_fields[1].values.len(),
        rows.len() * NM * 4
    );

    // A rank without land cells reads nothing and gets empty fields of the right kind.
    let none = read_restart_cells(&path, &[]).unwrap();
    assert!(none.cell_ids.is_empty());
    assert_eq!(none.model_fields.len(), 3);
    assert!(none.model_fields.iter().all(|f| f.values.is_empty()));

    // A cell that is not in the file is an error naming it.
    let e = read_restart_cells(&path, &[7, 8]).unwrap_err();
    assert!(matches!(e, IoError::MissingCell { cell_id: 8, .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("r.h5") && msg.contains("cell id 8"), "{msg}");
}

/// Position of the first occurrence of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn corrupted_data_byte_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let d = sample(200, time(6));
    let path = dir.path().join("LC_RST_202106010600.h5");
    write_restart(&path, &d).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    // Flip one bit inside the stored values of soil_temperature (found by its bytes).
    let f = &d.model_fields[1];
    let needle: Vec<u8> = f.values[100..104]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let at = find(&bytes, &needle).expect("value bytes stored uncompressed");
    bytes[at + 12] ^= 0x04;
    std::fs::write(&path, &bytes).unwrap();

    for e in [
        read_restart(&path).unwrap_err(),
        verify_restart(&path).unwrap_err(),
    ] {
        let msg = e.to_string();
        println!("corrupt byte: {msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("model/soil_temperature"), "{msg}");
        assert!(msg.to_lowercase().contains("checksum"), "{msg}");
    }
    // A rank reading only some cells is protected too: the damaged chunk fails its Fletcher-32.
    let e = read_restart_cells(&path, &[d.cell_ids[0]]).unwrap_err();
    assert!(e.to_string().contains("model/soil_temperature"), "{e}");
}

#[test]
fn no_single_byte_corruption_goes_unnoticed() {
    // Flip one byte at a time at positions spread over the whole file: every read either
    // fails with an error naming the file or returns exactly the original content (a byte in
    // unused space changes nothing). It must never return different data.
    let dir = tempfile::tempdir().unwrap();
    let d = sample(40, time(6));
    let path = dir.path().join("sweep.h5");
    write_restart(&path, &d).unwrap();
    let orig = std::fs::read(&path).unwrap();
    let (mut detected, mut harmless) = (0, 0);
    let step = (orig.len() / 400).max(1);
    for at in (0..orig.len()).step_by(step) {
        let mut bytes = orig.clone();
        bytes[at] ^= 0x5a;
        std::fs::write(&path, &bytes).unwrap();
        match read_restart(&path) {
            Err(e) => {
                assert!(e.to_string().contains("sweep.h5"), "byte {at}: {e}");
                detected += 1;
            }
            Ok(back) => {
                assert_bit_identical(&d, &back);
                harmless += 1;
            }
        }
    }
    println!("single-byte flips: {detected} detected, {harmless} harmless");
    // Roughly half of a small file is allocation slack; all of the rest must be caught.
    assert!(detected >= 100, "{detected} detected, {harmless} harmless");
}

#[test]
fn changed_attribute_fails_the_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let d = sample(50, time(6));
    let path = dir.path().join("r.h5");
    write_restart(&path, &d).unwrap();
    {
        // Tamper with the cycle count in place, keeping the file structurally valid.
        let f = hdf5::File::open_rw(&path).unwrap();
        let g = f.group("attributes").unwrap();
        g.delete_attr("cycle_count").unwrap();
        let v: hdf5::types::VarLenUnicode = "13".parse().unwrap();
        g.new_attr::<hdf5::types::VarLenUnicode>()
            .shape(())
            .create("cycle_count")
            .unwrap()
            .write_scalar(&v)
            .unwrap();
    }
    let e = read_restart(&path).unwrap_err();
    assert!(matches!(e, IoError::Checksum { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("r.h5") && msg.contains("checksum mismatch"),
        "{msg}"
    );
    assert!(verify_restart(&path).is_err());
}

#[test]
fn truncated_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = sample(300, time(6));
    let path = dir.path().join("LC_RST_trunc.h5");
    write_restart(&path, &d).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    for keep in [bytes.len() / 2, bytes.len() - 100, 1000, 0] {
        std::fs::write(&path, &bytes[..keep]).unwrap();
        for e in [
            read_restart(&path).unwrap_err(),
            verify_restart(&path).unwrap_err(),
            read_restart_cells(&path, &[d.cell_ids[0]]).unwrap_err(),
        ] {
            let msg = e.to_string();
            println!("truncated to {keep}: {msg}");
            assert!(msg.contains("LC_RST_trunc.h5"), "keep {keep}: {msg}");
        }
    }
    let e = read_restart(&dir.path().join("missing.h5")).unwrap_err();
    assert!(e.to_string().contains("missing.h5"), "{e}");
}

#[test]
fn different_fingerprint_is_an_error() {
    let a = landcycle::io::fingerprint("&run n_members = 20 /");
    assert_eq!(a.len(), 16);
    assert_eq!(a, landcycle::io::fingerprint("&run n_members = 20 /"));
    assert_ne!(a, landcycle::io::fingerprint("&run n_members = 21 /"));
    let p = Path::new("/run/2021060100/restart/LC_RST_202106010600.h5");
    check_fingerprint(p, "abc", "abc").unwrap();
    let e = check_fingerprint(p, "abc", "def").unwrap_err().to_string();
    assert_eq!(
        e,
        "restart /run/2021060100/restart/LC_RST_202106010600.h5 was written by a different \
         configuration (fingerprint abc \u{2260} def)"
    );
}

#[test]
fn failed_writes_leave_previous_file_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("LC_RST_202106010600.h5");
    let good = sample(100, time(6));
    write_restart(&path, &good).unwrap();
    let before = std::fs::read(&path).unwrap();

    // A writer that fails midway, after writing part of the temporary file.
    let r: Result<(), IoError> = atomic_write(&path, |tmp| {
        std::fs::write(tmp, &before[..before.len() / 3]).unwrap();
        Err(IoError::Invalid {
            path: tmp.to_path_buf(),
            msg: "simulated failure midway".into(),
        })
    });
    assert!(r.is_err());
    // A writer that panics midway.
    let caught = std::panic::catch_unwind(|| {
        let _: Result<(), IoError> = atomic_write(&path, |tmp| {
            std::fs::write(tmp, b"partial").unwrap();
            panic!("simulated crash");
        });
    });
    assert!(caught.is_err());
    // Invalid data is refused before anything is written.
    let mut bad = sample(100, time(12));
    bad.model_fields[0].values.pop();
    let e = write_restart(&path, &bad).unwrap_err().to_string();
    assert!(
        e.contains("soil_moisture") && e.contains("expected 1600"),
        "{e}"
    );

    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_bit_identical(&good, &read_restart(&path).unwrap());
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["LC_RST_202106010600.h5"],
        "temporary files left behind"
    );

    // A successful atomic write replaces the file.
    let newer = sample(10, time(12));
    write_restart(&path, &newer).unwrap();
    assert_eq!(read_restart(&path).unwrap().cell_ids.len(), 10);
}

#[test]
fn latest_valid_restart_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path();
    assert!(RunDir::new(run).latest_restart().unwrap().is_none());
    for (cycle, valid_h) in [("2021060100", 6), ("2021060106", 12), ("2021060112", 18)] {
        let rdir = run.join(cycle).join("restart");
        std::fs::create_dir_all(&rdir).unwrap();
        let d = sample(20, time(valid_h));
        write_restart(&rdir.join(restart_file_name(d.valid_time)), &d).unwrap();
    }
    // Unrelated directories and leftovers of an interrupted write are ignored.
    std::fs::create_dir_all(run.join("plots")).unwrap();
    std::fs::write(
        run.join("2021060112/restart/.LC_RST_202106020000.h5.tmp.1.0"),
        b"junk",
    )
    .unwrap();
    let best = RunDir::new(run).latest_restart().unwrap().unwrap();
    assert_eq!(best.valid_time, time(18));

    // The newest one is truncated: the previous good one is chosen.
    let newest = run.join("2021060112/restart/LC_RST_202106011800.h5");
    let bytes = std::fs::read(&newest).unwrap();
    std::fs::write(&newest, &bytes[..bytes.len() / 2]).unwrap();
    let best = RunDir::new(run).latest_restart().unwrap().unwrap();
    assert_eq!(best.valid_time, time(12));
    assert!(best
        .path
        .ends_with("2021060106/restart/LC_RST_202106011200.h5"));
}

/// Timing of a large restart (run with `--ignored --nocapture`): 100 000 cells, 20 members,
/// 14 values per member.
#[test]
#[ignore]
fn restart_speed_large() {
    let n = 100_000usize;
    let m = 20usize;
    let field = |name: &str, len: usize| RestartField {
        name: name.into(),
        per_cell: len,
        values: (0..n * m * len).map(|i| i as f64 * 1e-6).collect(),
    };
    let d = RestartData {
        valid_time: time(6),
        config_fingerprint: "x".into(),
        model_name: "noah".into(),
        n_members: m,
        cell_ids: (0..n as u64).map(|i| i * 2).collect(),
        model_fields: vec![
            field("soil_moisture", 4),
            field("soil_temperature", 4),
            field("other", 4),
        ],
        perturbation_fields: vec![field("ar1", 2)],
        attributes: BTreeMap::new(),
        meta: None,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.h5");
    let t = std::time::Instant::now();
    write_restart(&path, &d).unwrap();
    let tw = t.elapsed();
    let t = std::time::Instant::now();
    verify_restart(&path).unwrap();
    let tv = t.elapsed();
    let t = std::time::Instant::now();
    let back = read_restart(&path).unwrap();
    let tr = t.elapsed();
    assert_eq!(back.cell_ids.len(), n);
    let quarter: Vec<u64> = d.cell_ids[n / 4..n / 2].to_vec();
    let t = std::time::Instant::now();
    read_restart_cells(&path, &quarter).unwrap();
    let tp = t.elapsed();
    let mb = std::fs::metadata(&path).unwrap().len() as f64 / 1e6;
    println!(
        "restart {mb:.0} MB: write {tw:?}, verify {tv:?}, read {tr:?}, read quarter of cells {tp:?}"
    );
}

fn str_attr(loc: &hdf5::Location, name: &str, value: &str) {
    let v: hdf5::types::VarLenUnicode = value.parse().unwrap();
    loc.new_attr::<hdf5::types::VarLenUnicode>()
        .shape(())
        .create(name)
        .unwrap()
        .write_scalar(&v)
        .unwrap();
}

/// A restart in the layout of format version 1 (chunked, Fletcher-32, one SHA-256 over the
/// canonical content), as landcycle wrote it before the parallel writer.
fn write_v1(path: &Path, d: &RestartData) {
    let f = hdf5::File::create(path).unwrap();
    str_attr(&f, "format", "landcycle-restart");
    f.new_attr::<u32>()
        .shape(())
        .create("format_version")
        .unwrap()
        .write_scalar(&1u32)
        .unwrap();
    str_attr(
        &f,
        "valid_time",
        &d.valid_time.format("%Y-%m-%dT%H:%M:%S").to_string(),
    );
    str_attr(&f, "config_fingerprint", &d.config_fingerprint);
    str_attr(&f, "model_name", &d.model_name);
    f.new_attr::<u64>()
        .shape(())
        .create("n_members")
        .unwrap()
        .write_scalar(&(d.n_members as u64))
        .unwrap();
    str_attr(&f, "checksum_sha256", &canonical_checksum(d));
    let n = d.cell_ids.len();
    let ids = f.new_dataset::<u64>().shape([n]).chunk([n]).fletcher32();
    ids.create("cell_id")
        .unwrap()
        .write_raw(&d.cell_ids)
        .unwrap();
    for (g, fields) in [
        ("model", &d.model_fields),
        ("perturbation", &d.perturbation_fields),
    ] {
        let group = f.create_group(g).unwrap();
        let order: Vec<&str> = fields.iter().map(|x| x.name.as_str()).collect();
        str_attr(&group, "field_order", &order.join(","));
        for x in fields {
            let b = group
                .new_dataset::<f64>()
                .shape([n, d.n_members, x.per_cell]);
            let ds = b.chunk([n.min(64), d.n_members, x.per_cell]).fletcher32();
            ds.create(x.name.as_str())
                .unwrap()
                .write_raw(&x.values)
                .unwrap();
        }
    }
    let a = f.create_group("attributes").unwrap();
    for (k, v) in &d.attributes {
        str_attr(&a, k, v);
    }
}

#[test]
fn version_1_restarts_are_still_read_and_newer_versions_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = sample(150, time(6));
    let old = dir.path().join("v1.h5");
    write_v1(&old, &d);
    assert_bit_identical(&d, &read_restart(&old).unwrap());
    assert_eq!(verify_restart(&old).unwrap().n_cells, 150);
    let part = read_restart_cells(&old, &[d.cell_ids[149], d.cell_ids[3]]).unwrap();
    assert_eq!(part.cell_ids, vec![d.cell_ids[149], d.cell_ids[3]]);
    // A v1 file whose content changed fails its checksum.
    {
        let f = hdf5::File::open_rw(&old).unwrap();
        let ds = f.dataset("model/canopy_water").unwrap();
        let mut v: Vec<f64> = ds.read_raw().unwrap();
        v[5] += 1.0;
        ds.write_raw(&v).unwrap();
    }
    assert!(matches!(
        read_restart(&old).unwrap_err(),
        IoError::Checksum { .. }
    ));
    // A file from a newer landcycle is refused with a message saying so.
    let new = dir.path().join("v9.h5");
    write_restart(&new, &d).unwrap();
    {
        let f = hdf5::File::open_rw(&new).unwrap();
        f.delete_attr("format_version").unwrap();
        f.new_attr::<u32>()
            .shape(())
            .create("format_version")
            .unwrap()
            .write_scalar(&9u32)
            .unwrap();
    }
    let msg = verify_restart(&new).unwrap_err().to_string();
    assert!(
        msg.contains("v9.h5") && msg.contains("is 9") && msg.contains("reads versions 1 to 4"),
        "{msg}"
    );
}

#[test]
fn block_digests_name_the_damaged_dataset_and_block() {
    // More than one integrity block: a damaged value late in the file is found by a rank
    // that reads only a cell of that block, and not by one reading another block.
    let dir = tempfile::tempdir().unwrap();
    let n = 5 * landcycle::io::restart_blocks::BLOCK_CELLS + 3;
    let d = sample(n, time(6));
    let path = dir.path().join("blocks.h5");
    write_restart(&path, &d).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let f = &d.perturbation_fields[1];
    let at_cell = n - 2;
    let k = NM * f.per_cell;
    let needle: Vec<u8> = f.values[at_cell * k..at_cell * k + 3]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let at = find(&bytes, &needle).expect("value bytes stored as written");
    bytes[at + 9] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    let msg = read_restart_cells(&path, &[d.cell_ids[n - 1]])
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("perturbation/sm_ar1") && msg.contains("block 5"),
        "{msg}"
    );
    read_restart_cells(&path, &[d.cell_ids[0], d.cell_ids[100]]).unwrap();
    assert!(verify_restart(&path).is_err());
}
