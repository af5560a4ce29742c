//! The chunked history writer (`io::history_chunks`, the cycle's writer on any rank count):
//! the same content as the one-process netCDF writer, bit for bit, and the same file bytes
//! however the rows are shared out among ranks; CF-clean. The cycle's own 1/2/3-rank
//! comparisons are in tests/driver_mpi.rs.

mod common;
use chrono::NaiveDate;
use landcycle::io::alma;
use landcycle::io::history::{history_rows, Layout};
use landcycle::io::history_chunks::{write_header, ChunkPlan, ChunkWriter};
use landcycle::io::{
    write_history, Compression, EnsembleStat, HistoryField, HistoryGrid, HistoryMetadata,
    HistoryTime, HistoryWrite, PendingFile, TimeUnits,
};
use std::path::Path;

// 69 rows: chunks of 2 rows, the last one half outside the grid.
const NY: usize = 69;
const NX: usize = 9;
const NL: usize = 4;
const NM: usize = 3;
const THICK: [f64; NL] = [0.1, 0.3, 0.6, 1.0];

fn mask() -> Vec<bool> {
    (0..NY * NX).map(|i| (i * 7) % 5 != 0).collect()
}

fn grid(layout: Layout) -> HistoryGrid {
    let lat = (0..NY).map(|j| -30.125 + 0.25 * j as f64).collect();
    let lon = (0..NX).map(|i| 10.125 + 0.25 * i as f64).collect();
    HistoryGrid::regular(lat, lon, mask()).with_layout(layout)
}

fn time() -> HistoryTime {
    let d = NaiveDate::from_ymd_opt(2020, 6, 1).unwrap();
    HistoryTime {
        reference: d.and_hms_opt(0, 0, 0).unwrap(),
        start: d.and_hms_opt(0, 0, 0).unwrap(),
        end: d.and_hms_opt(3, 0, 0).unwrap(),
        units: TimeUnits::Hours,
    }
}

fn metadata() -> HistoryMetadata {
    HistoryMetadata {
        title: "landcycle chunked history test".into(),
        institution: "landcycle tests".into(),
        source: "tests/history_chunks.rs".into(),
        history: "tests".into(),
        namelist: "&run\n/\n".into(),
        ensemble_size: NM,
        extra: vec![],
    }
}

/// Irrational-looking values (so f64 → f32 rounds) with NaN off land.
fn values(slabs: usize, seed: f64) -> Vec<f64> {
    let m = mask();
    (0..slabs * NY * NX)
        .map(|k| {
            if m[k % (NY * NX)] {
                0.2 + 0.1 * (seed + 0.37 * k as f64).sin()
            } else {
                f64::NAN
            }
        })
        .collect()
}

struct Data {
    sm: Vec<f64>,
    sm_spread: Vec<f64>,
    qh: Vec<f64>,
    sm_members: Vec<f64>,
}

fn data() -> Data {
    Data {
        sm: values(NL, 1.0),
        sm_spread: values(NL, 2.0),
        qh: values(1, 3.0),
        sm_members: values(NM * NL, 4.0),
    }
}

fn fields(d: &Data, members: bool) -> Vec<HistoryField<'_>> {
    let sm = alma::lookup("SoilMoist").unwrap();
    let qh = alma::lookup("Qh").unwrap();
    if members {
        return vec![sm.field(EnsembleStat::Members, &d.sm_members)];
    }
    vec![
        sm.field(EnsembleStat::Mean, &d.sm),
        sm.field(EnsembleStat::Spread, &d.sm_spread),
        qh.field(EnsembleStat::Mean, &d.qh),
    ]
}

/// Write `h` as `ranks` ranks would: each encodes its rows, the root writes the chunks.
fn write_chunked(path: &Path, h: &HistoryWrite, n_members: usize, ranks: usize) {
    let mut empty = h.fields.to_vec();
    for f in &mut empty {
        f.data = &[];
    }
    let header = HistoryWrite {
        fields: &empty,
        ..*h
    };
    let plan = ChunkPlan::new(path, &header, n_members).unwrap();
    let tmp = path.with_extension("tmp");
    write_header((&tmp, path), &header, &plan).unwrap();
    let writer = ChunkWriter::open(&tmp, path).unwrap();
    for (k, f) in h.fields.iter().enumerate() {
        let slabs = plan.n_slabs(k);
        let mut chunks = Vec::new();
        for r in 0..ranks {
            let rows = history_rows(NY, r, ranks);
            let mut part = Vec::new();
            for s in 0..slabs {
                let slab = &f.data[s * NY * NX..(s + 1) * NY * NX];
                part.extend_from_slice(&slab[rows.start * NX..rows.end * NX]);
            }
            plan.encode(h.grid, k, rows, &part, &mut chunks).unwrap();
        }
        // Chunks arrive in rank order; the writer orders them.
        chunks.reverse();
        writer.write_field(&plan, k, chunks).unwrap();
    }
    writer.close().unwrap();
    PendingFile::adopt(tmp, path).unwrap().commit().unwrap();
}

fn header_lines(f: &netcdf::File) -> Vec<String> {
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

fn assert_same_content(a: &Path, b: &Path) {
    let (fa, fb) = (netcdf::open(a).unwrap(), netcdf::open(b).unwrap());
    assert_eq!(header_lines(&fa), header_lines(&fb));
    for v in fa.variables() {
        let w = fb.variable(&v.name()).unwrap();
        let bits = |x: Vec<f64>| x.into_iter().map(f64::to_bits).collect::<Vec<_>>();
        let (x, y) = (
            v.get_values::<f64, _>(..).unwrap(),
            w.get_values::<f64, _>(..).unwrap(),
        );
        assert!(bits(x) == bits(y), "{} differs", v.name());
    }
}

fn check_layout(layout: Layout, members: bool, comp: Compression) {
    let dir = tempfile::tempdir().unwrap();
    let (g, d, md) = (grid(layout), data(), metadata());
    let f = fields(&d, members);
    let h = HistoryWrite {
        grid: &g,
        time: time(),
        soil_layer_thickness: &THICK,
        fields: &f,
        metadata: &md,
        compression: comp,
    };
    let serial = dir.path().join("serial.nc");
    write_history(&serial, &h).unwrap();
    let n_members = if members { NM } else { 0 };
    let mut bytes = Vec::new();
    for ranks in 1..=3 {
        let p = dir.path().join(format!("chunked{ranks}.nc"));
        write_chunked(&p, &h, n_members, ranks);
        assert_same_content(&serial, &p);
        bytes.push(std::fs::read(&p).unwrap());
    }
    assert!(
        bytes[0] == bytes[1] && bytes[0] == bytes[2],
        "bytes depend on ranks"
    );
    if layout == Layout::Cf {
        common::check_cf(&dir.path().join("chunked2.nc"));
    }
}

#[test]
fn chunked_history_equals_the_serial_writer_and_ignores_the_rank_count() {
    let deflate = Compression {
        deflate_level: 4,
        shuffle: true,
    };
    check_layout(Layout::Cf, false, deflate);
    check_layout(Layout::Cf, true, deflate);
    check_layout(Layout::Lis, false, deflate);
    let raw = Compression {
        deflate_level: 0,
        shuffle: false,
    };
    check_layout(Layout::Cf, false, raw);
}

#[test]
fn missing_chunks_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (g, d, md) = (grid(Layout::Cf), data(), metadata());
    let f = fields(&d, false);
    let mut empty = f.clone();
    for x in &mut empty {
        x.data = &[];
    }
    let h = HistoryWrite {
        grid: &g,
        time: time(),
        soil_layer_thickness: &THICK,
        fields: &empty,
        metadata: &md,
        compression: Compression::default(),
    };
    let path = dir.path().join("h.nc");
    let plan = ChunkPlan::new(&path, &h, 0).unwrap();
    let tmp = dir.path().join("h.tmp");
    write_header((&tmp, &path), &h, &plan).unwrap();
    let writer = ChunkWriter::open(&tmp, &path).unwrap();
    let mut chunks = Vec::new();
    let rows = history_rows(NY, 0, 2);
    let part: Vec<f64> = f[0].data[..NL * NY * NX]
        .chunks(NY * NX)
        .flat_map(|s| s[rows.start * NX..rows.end * NX].to_vec())
        .collect();
    plan.encode(&g, 0, rows, &part, &mut chunks).unwrap();
    let err = writer
        .write_field(&plan, 0, chunks)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("SoilMoist") && err.contains("missing"),
        "{err}"
    );
}
