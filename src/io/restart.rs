//! Decomposition-independent restart files (HDF5).
//!
//! One file holds the complete state of every member of every land cell, indexed by global
//! cell id, so a run can resume on any number of ranks. Integrity is guarded twice:
//! every dataset is chunked by cell blocks with HDF5's Fletcher-32 filter (a rank that reads
//! only its rows still detects a damaged chunk), and a SHA-256 over the canonical content
//! (see [`canonical_checksum`]) is stored as the root attribute `checksum_sha256` and verified
//! by [`read_restart`] and [`verify_restart`]. Layout: docs/io.md.

use super::atomic::{atomic_write_deferred, PendingFile};
use super::IoError;
use chrono::NaiveDateTime;
use hdf5::types::VarLenUnicode;
use ndarray::s;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Value of the root attribute `format`.
pub const RESTART_FORMAT: &str = "landcycle-restart";
/// Value of the root attribute `format_version`.
pub const RESTART_FORMAT_VERSION: u32 = 1;
const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";
const GROUPS: [&str; 2] = ["model", "perturbation"];
/// Target size of one HDF5 chunk (rows of cells), bytes.
const CHUNK_BYTES: usize = 1 << 20;
/// Rows read per block when streaming a whole dataset for verification.
const VERIFY_BLOCK_BYTES: usize = 16 << 20;

/// One restart variable: `per_cell` values per member per cell, laid out
/// `[cell][member][per_cell]` (cells in the order of [`RestartData::cell_ids`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RestartField {
    pub name: String,
    pub per_cell: usize,
    pub values: Vec<f64>,
}

/// The complete content of a restart file.
#[derive(Debug, Clone, PartialEq)]
pub struct RestartData {
    /// Time at which the state is valid (end of the cycle).
    pub valid_time: NaiveDateTime,
    /// Fingerprint of the configuration that wrote the file.
    pub config_fingerprint: String,
    /// Land model (`noah`, `colm`, ...).
    pub model_name: String,
    pub n_members: usize,
    /// Global cell ids, strictly increasing when written (a partial read returns them in the
    /// requested order).
    pub cell_ids: Vec<u64>,
    /// Model prognostic variables (the `LandModel` restart fields).
    pub model_fields: Vec<RestartField>,
    /// Perturbation generator states (AR(1) values).
    pub perturbation_fields: Vec<RestartField>,
    /// Free-form text attributes (landcycle version, cycle count, ...).
    pub attributes: BTreeMap<String, String>,
}

/// Summary of a restart file (header only).
#[derive(Debug, Clone, PartialEq)]
pub struct RestartInfo {
    pub path: PathBuf,
    pub valid_time: NaiveDateTime,
    pub config_fingerprint: String,
    pub model_name: String,
    pub n_members: usize,
    pub n_cells: usize,
}

/// File name of the restart valid at `valid_time`: `LC_RST_YYYYMMDDHHMM.h5`.
pub fn restart_file_name(valid_time: NaiveDateTime) -> String {
    format!("LC_RST_{}.h5", valid_time.format("%Y%m%d%H%M"))
}

/// A configuration fingerprint: the first 16 hex digits of the SHA-256 of `canonical_text`
/// (the caller decides what the canonical text holds, e.g. the effective configuration minus
/// run-length keys such as the end date, so extending a run does not invalidate restarts).
pub fn fingerprint(canonical_text: &str) -> String {
    let mut c = Canon::new();
    c.0.update(canonical_text.as_bytes());
    let mut hex = c.hex();
    hex.truncate(16);
    hex
}

/// Error unless `found` equals `expected` (the fingerprint of the running configuration).
pub fn check_fingerprint(path: &Path, found: &str, expected: &str) -> Result<(), IoError> {
    if found == expected {
        Ok(())
    } else {
        Err(IoError::Fingerprint {
            path: path.to_path_buf(),
            found: found.to_string(),
            expected: expected.to_string(),
        })
    }
}

// ---------------------------------------------------------------- canonical checksum

/// Incremental SHA-256 over the canonical byte stream of a restart.
struct Canon(Sha256);

impl Canon {
    fn new() -> Self {
        Canon(Sha256::new())
    }
    fn u64(&mut self, x: u64) {
        self.0.update(x.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.0.update(s.as_bytes());
    }
    fn f64s(&mut self, v: &[f64]) {
        self.words(v, |x| x.to_le_bytes());
    }
    fn u64s(&mut self, v: &[u64]) {
        self.words(v, |x| x.to_le_bytes());
    }
    /// Feed 8-byte words through a 64 KiB buffer: one hasher call per word costs several
    /// times the hashing itself (same byte stream either way).
    fn words<T: Copy>(&mut self, v: &[T], le: impl Fn(T) -> [u8; 8]) {
        const WORDS: usize = 8192;
        let mut buf = [0u8; 8 * WORDS];
        for block in v.chunks(WORDS) {
            for (dst, &x) in buf.chunks_exact_mut(8).zip(block) {
                dst.copy_from_slice(&le(x));
            }
            self.0.update(&buf[..8 * block.len()]);
        }
    }
    fn header(&mut self, h: &Header) {
        self.str("landcycle-restart-v1");
        self.str(&h.valid_time.format(TIME_FORMAT).to_string());
        self.str(&h.fingerprint);
        self.str(&h.model_name);
        self.u64(h.n_members as u64);
        self.u64(h.cell_ids.len() as u64);
        self.u64s(&h.cell_ids);
    }
    fn field_header(&mut self, name: &str, per_cell: usize) {
        self.str(name);
        self.u64(per_cell as u64);
    }
    fn attributes(&mut self, a: &BTreeMap<String, String>) {
        self.u64(a.len() as u64);
        for (k, v) in a {
            self.str(k);
            self.str(v);
        }
    }
    fn hex(self) -> String {
        self.0
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// The SHA-256 (hex) over a restart's canonical content: every string as u64-LE length +
/// UTF-8 bytes, every integer as u64 LE, every value as f64 LE, in this order:
/// `"landcycle-restart-v1"`, valid time (`YYYY-MM-DDTHH:MM:SS`), fingerprint, model name,
/// n_members, n_cells, the cell ids; then for group `model` and then `perturbation`: group name,
/// field count, and per field its name, per-cell length and values `[cell][member][len]`;
/// finally the attribute count and each (key, value) in key order.
pub fn canonical_checksum(d: &RestartData) -> String {
    let mut c = Canon::new();
    c.header(&Header::of(d));
    for (g, fields) in GROUPS.iter().zip([&d.model_fields, &d.perturbation_fields]) {
        c.str(g);
        c.u64(fields.len() as u64);
        for f in fields {
            c.field_header(&f.name, f.per_cell);
            c.f64s(&f.values);
        }
    }
    c.attributes(&d.attributes);
    c.hex()
}

// ---------------------------------------------------------------- writing

fn invalid(path: &Path, msg: impl Into<String>) -> IoError {
    IoError::Invalid {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn validate(path: &Path, d: &RestartData) -> Result<(), IoError> {
    if d.n_members == 0 {
        return Err(invalid(path, "restart needs at least one ensemble member"));
    }
    if let Some(w) = d.cell_ids.windows(2).find(|w| w[0] >= w[1]) {
        return Err(invalid(
            path,
            format!(
                "cell ids must be strictly increasing (found {} then {})",
                w[0], w[1]
            ),
        ));
    }
    for (g, fields) in GROUPS.iter().zip([&d.model_fields, &d.perturbation_fields]) {
        let mut seen = std::collections::BTreeSet::new();
        for f in fields {
            if !valid_name(&f.name) {
                return Err(invalid(
                    path,
                    format!("{g} field name {:?} must be letters, digits or _", f.name),
                ));
            }
            if !seen.insert(f.name.as_str()) {
                return Err(invalid(path, format!("{g} field {} given twice", f.name)));
            }
            if f.per_cell == 0 {
                return Err(invalid(
                    path,
                    format!("{g} field {} has zero values per cell", f.name),
                ));
            }
            let expected = d.cell_ids.len() * d.n_members * f.per_cell;
            if f.values.len() != expected {
                return Err(invalid(
                    path,
                    format!(
                        "{g} field {} has {} values, expected {expected} ({} cells x {} members x {})",
                        f.name,
                        f.values.len(),
                        d.cell_ids.len(),
                        d.n_members,
                        f.per_cell
                    ),
                ));
            }
        }
    }
    for k in d.attributes.keys() {
        if !valid_name(k) {
            return Err(invalid(
                path,
                format!("attribute name {k:?} must be letters, digits or _"),
            ));
        }
    }
    Ok(())
}

/// Write a restart file atomically (temporary name, fsync, rename): the previous file of the
/// same name stays intact until the new one is complete.
pub fn write_restart(path: &Path, d: &RestartData) -> Result<(), IoError> {
    write_restart_deferred(path, d)?.commit()
}

/// As [`write_restart`], but the file stays under its temporary name until
/// [`PendingFile::commit`] (fsync and rename), which the caller may do later or on another
/// thread.
pub fn write_restart_deferred(path: &Path, d: &RestartData) -> Result<PendingFile, IoError> {
    validate(path, d)?;
    let checksum = canonical_checksum(d);
    let final_path = path.to_path_buf();
    let ((), pending) =
        atomic_write_deferred(path, |tmp| write_hdf5(tmp, &final_path, d, &checksum))?;
    Ok(pending)
}

fn h5err(path: &Path, context: impl Into<String>) -> impl FnOnce(hdf5::Error) -> IoError {
    let path = path.to_path_buf();
    let context = context.into();
    move |e| IoError::Hdf5 {
        path,
        context,
        msg: e.to_string(),
    }
}

fn vlu(path: &Path, s: &str) -> Result<VarLenUnicode, IoError> {
    VarLenUnicode::from_str(s).map_err(|e| invalid(path, format!("string {s:?}: {e}")))
}

fn put_str_attr(loc: &hdf5::Location, path: &Path, name: &str, value: &str) -> Result<(), IoError> {
    let v = vlu(path, value)?;
    loc.new_attr::<VarLenUnicode>()
        .shape(())
        .create(name)
        .and_then(|a| a.write_scalar(&v))
        .map_err(h5err(path, format!("writing attribute {name}")))
}

fn write_hdf5(
    tmp: &Path,
    final_path: &Path,
    d: &RestartData,
    checksum: &str,
) -> Result<(), IoError> {
    let p = final_path;
    // v1.8 object formats carry checksums on their metadata, so damaged headers are detected
    // by the library itself; any HDF5 >= 1.8 reads them.
    let file = hdf5::File::with_options()
        .with_fapl(|fapl| fapl.libver_v18())
        // No object timestamps: the same content gives the same bytes (determinism tests).
        .with_fcpl(|fcpl| fcpl.obj_track_times(false))
        .create(tmp)
        .map_err(h5err(p, "create"))?;
    {
        put_str_attr(&file, p, "format", RESTART_FORMAT)?;
        file.new_attr::<u32>()
            .shape(())
            .create("format_version")
            .and_then(|a| a.write_scalar(&RESTART_FORMAT_VERSION))
            .map_err(h5err(p, "writing attribute format_version"))?;
        put_str_attr(
            &file,
            p,
            "valid_time",
            &d.valid_time.format(TIME_FORMAT).to_string(),
        )?;
        put_str_attr(&file, p, "config_fingerprint", &d.config_fingerprint)?;
        put_str_attr(&file, p, "model_name", &d.model_name)?;
        file.new_attr::<u64>()
            .shape(())
            .create("n_members")
            .and_then(|a| a.write_scalar(&(d.n_members as u64)))
            .map_err(h5err(p, "writing attribute n_members"))?;
        put_str_attr(
            &file,
            p,
            "checksum_algorithm",
            "sha256 of canonical content v1 (docs/io.md)",
        )?;
        put_str_attr(&file, p, "checksum_sha256", checksum)?;

        let n = d.cell_ids.len();
        let ids = {
            let b = file.new_dataset::<u64>().obj_track_times(false).shape([n]);
            let b = if n > 0 {
                b.chunk([n.clamp(1, CHUNK_BYTES / 8)]).fletcher32()
            } else {
                b
            };
            b.create("cell_id")
                .map_err(h5err(p, "creating dataset cell_id"))?
        };
        ids.write_raw(&d.cell_ids)
            .map_err(h5err(p, "writing dataset cell_id"))?;
        drop(ids);

        for (g, fields) in GROUPS.iter().zip([&d.model_fields, &d.perturbation_fields]) {
            let group = file
                .create_group_builder()
                .obj_track_times(false)
                .create(*g)
                .map_err(h5err(p, format!("creating group {g}")))?;
            let order: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
            put_str_attr(&group, p, "field_order", &order.join(","))?;
            for f in fields {
                let dsname = format!("{g}/{}", f.name);
                let row = d.n_members * f.per_cell;
                let b = group.new_dataset::<f64>().obj_track_times(false).shape([
                    n,
                    d.n_members,
                    f.per_cell,
                ]);
                let b = if n > 0 {
                    let rows = (CHUNK_BYTES / (8 * row)).clamp(1, n);
                    b.chunk([rows, d.n_members, f.per_cell]).fletcher32()
                } else {
                    b
                };
                let ds = b
                    .create(f.name.as_str())
                    .map_err(h5err(p, format!("creating dataset {dsname}")))?;
                ds.write_raw(&f.values)
                    .map_err(h5err(p, format!("writing dataset {dsname}")))?;
            }
        }
        let attrs = file
            .create_group_builder()
            .obj_track_times(false)
            .create("attributes")
            .map_err(h5err(p, "creating group attributes"))?;
        for (k, v) in &d.attributes {
            put_str_attr(&attrs, p, k, v)?;
        }
    }
    file.close().map_err(h5err(p, "close"))
}

// ---------------------------------------------------------------- reading

/// Everything but the field values.
struct Header {
    valid_time: NaiveDateTime,
    fingerprint: String,
    model_name: String,
    n_members: usize,
    checksum: String,
    cell_ids: Vec<u64>,
    /// Per group: (name, per_cell) in stored order.
    fields: [Vec<(String, usize)>; 2],
    attributes: BTreeMap<String, String>,
}

impl Header {
    fn of(d: &RestartData) -> Self {
        Header {
            valid_time: d.valid_time,
            fingerprint: d.config_fingerprint.clone(),
            model_name: d.model_name.clone(),
            n_members: d.n_members,
            checksum: String::new(),
            cell_ids: d.cell_ids.clone(),
            fields: [
                d.model_fields
                    .iter()
                    .map(|f| (f.name.clone(), f.per_cell))
                    .collect(),
                d.perturbation_fields
                    .iter()
                    .map(|f| (f.name.clone(), f.per_cell))
                    .collect(),
            ],
            attributes: d.attributes.clone(),
        }
    }

    fn info(&self, path: &Path) -> RestartInfo {
        RestartInfo {
            path: path.to_path_buf(),
            valid_time: self.valid_time,
            config_fingerprint: self.fingerprint.clone(),
            model_name: self.model_name.clone(),
            n_members: self.n_members,
            n_cells: self.cell_ids.len(),
        }
    }
}

fn corrupt(path: &Path, context: impl Into<String>, msg: impl Into<String>) -> IoError {
    IoError::Corrupt {
        path: path.to_path_buf(),
        context: context.into(),
        msg: msg.into(),
    }
}

fn get_str_attr(loc: &hdf5::Location, path: &Path, name: &str) -> Result<String, IoError> {
    let a = loc
        .attr(name)
        .map_err(|e| corrupt(path, format!("attribute {name}"), e.to_string()))?;
    let v: VarLenUnicode = a
        .read_scalar()
        .map_err(|e| corrupt(path, format!("attribute {name}"), e.to_string()))?;
    Ok(v.as_str().to_string())
}

fn get_u64_attr(loc: &hdf5::Location, path: &Path, name: &str) -> Result<u64, IoError> {
    loc.attr(name)
        .and_then(|a| a.read_scalar::<u64>())
        .map_err(|e| corrupt(path, format!("attribute {name}"), e.to_string()))
}

/// Open a restart file and read and check its header and structure.
fn open(path: &Path) -> Result<(hdf5::File, Header), IoError> {
    if !path.is_file() {
        return Err(IoError::Fs {
            path: path.to_path_buf(),
            action: "open restart",
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
    }
    let file = hdf5::File::open(path).map_err(|e| {
        corrupt(
            path,
            "open",
            format!("not a readable HDF5 file (corrupt or truncated?): {e}"),
        )
    })?;
    let format = get_str_attr(&file, path, "format")?;
    if format != RESTART_FORMAT {
        return Err(corrupt(
            path,
            "attribute format",
            format!("is {format:?}, expected {RESTART_FORMAT:?}"),
        ));
    }
    let version = file
        .attr("format_version")
        .and_then(|a| a.read_scalar::<u32>())
        .map_err(|e| corrupt(path, "attribute format_version", e.to_string()))?;
    if version != RESTART_FORMAT_VERSION {
        return Err(corrupt(
            path,
            "attribute format_version",
            format!("is {version}, this landcycle reads {RESTART_FORMAT_VERSION}"),
        ));
    }
    let vt = get_str_attr(&file, path, "valid_time")?;
    let valid_time = NaiveDateTime::parse_from_str(&vt, TIME_FORMAT)
        .map_err(|e| corrupt(path, "attribute valid_time", format!("{vt:?}: {e}")))?;
    let fingerprint = get_str_attr(&file, path, "config_fingerprint")?;
    let model_name = get_str_attr(&file, path, "model_name")?;
    let n_members = get_u64_attr(&file, path, "n_members")? as usize;
    if n_members == 0 {
        return Err(corrupt(path, "attribute n_members", "is 0"));
    }
    let checksum = get_str_attr(&file, path, "checksum_sha256")?;

    let ids_ds = file
        .dataset("cell_id")
        .map_err(|e| corrupt(path, "dataset cell_id", e.to_string()))?;
    let is_u64 = ids_ds.dtype().map(|t| t.is::<u64>()).unwrap_or(false);
    if ids_ds.ndim() != 1 || !is_u64 {
        return Err(corrupt(path, "dataset cell_id", "is not a 1-D u64 array"));
    }
    let cell_ids: Vec<u64> = ids_ds
        .read_raw()
        .map_err(|e| corrupt(path, "dataset cell_id", e.to_string()))?;
    if let Some(w) = cell_ids.windows(2).find(|w| w[0] >= w[1]) {
        return Err(corrupt(
            path,
            "dataset cell_id",
            format!("ids not strictly increasing ({} then {})", w[0], w[1]),
        ));
    }
    let n = cell_ids.len();

    let mut fields: [Vec<(String, usize)>; 2] = [Vec::new(), Vec::new()];
    for (gi, g) in GROUPS.iter().enumerate() {
        let group = file
            .group(g)
            .map_err(|e| corrupt(path, format!("group {g}"), e.to_string()))?;
        let order = get_str_attr(&group, path, "field_order")?;
        let names: Vec<String> = if order.is_empty() {
            Vec::new()
        } else {
            order.split(',').map(str::to_string).collect()
        };
        let mut members = group
            .member_names()
            .map_err(|e| corrupt(path, format!("group {g}"), e.to_string()))?;
        members.sort();
        let mut listed = names.clone();
        listed.sort();
        if members != listed {
            return Err(corrupt(
                path,
                format!("group {g}"),
                format!("datasets {members:?} do not match field_order {listed:?}"),
            ));
        }
        for name in names {
            let dsname = format!("{g}/{name}");
            let ds = group
                .dataset(&name)
                .map_err(|e| corrupt(path, format!("dataset {dsname}"), e.to_string()))?;
            let shape = ds.shape();
            let is_f64 = ds.dtype().map(|t| t.is::<f64>()).unwrap_or(false);
            if shape.len() != 3
                || shape[0] != n
                || shape[1] != n_members
                || shape[2] == 0
                || !is_f64
            {
                return Err(corrupt(
                    path,
                    format!("dataset {dsname}"),
                    format!(
                        "has shape {shape:?}, expected f64 [{n} cells, {n_members} members, len >= 1]"
                    ),
                ));
            }
            fields[gi].push((name, shape[2]));
        }
    }
    let mut attributes = BTreeMap::new();
    let ag = file
        .group("attributes")
        .map_err(|e| corrupt(path, "group attributes", e.to_string()))?;
    let names = ag
        .attr_names()
        .map_err(|e| corrupt(path, "group attributes", e.to_string()))?;
    for k in names {
        let v = get_str_attr(&ag, path, &k)?;
        attributes.insert(k, v);
    }
    drop(ag);
    Ok((
        file,
        Header {
            valid_time,
            fingerprint,
            model_name,
            n_members,
            checksum,
            cell_ids,
            fields,
            attributes,
        },
    ))
}

fn read_dataset_rows(
    file: &hdf5::File,
    path: &Path,
    dsname: &str,
    rows: std::ops::Range<usize>,
) -> Result<Vec<f64>, IoError> {
    let ds = file
        .dataset(dsname)
        .map_err(|e| corrupt(path, format!("dataset {dsname}"), e.to_string()))?;
    let a: ndarray::Array3<f64> = ds
        .read_slice(s![rows.start..rows.end, .., ..])
        .map_err(|e| corrupt(path, format!("dataset {dsname}"), e.to_string()))?;
    Ok(a.into_raw_vec_and_offset().0)
}

fn read_dataset_all(file: &hdf5::File, path: &Path, dsname: &str) -> Result<Vec<f64>, IoError> {
    let ds = file
        .dataset(dsname)
        .map_err(|e| corrupt(path, format!("dataset {dsname}"), e.to_string()))?;
    ds.read_raw()
        .map_err(|e| corrupt(path, format!("dataset {dsname}"), e.to_string()))
}

fn checksum_error(path: &Path, stored: &str, computed: String) -> IoError {
    IoError::Checksum {
        path: path.to_path_buf(),
        stored: stored.to_string(),
        computed,
    }
}

/// Read a whole restart file, checking its structure and its SHA-256 checksum.
pub fn read_restart(path: &Path) -> Result<RestartData, IoError> {
    let (file, h) = open(path)?;
    let mut groups: [Vec<RestartField>; 2] = [Vec::new(), Vec::new()];
    for (gi, g) in GROUPS.iter().enumerate() {
        for (name, per_cell) in &h.fields[gi] {
            let values = read_dataset_all(&file, path, &format!("{g}/{name}"))?;
            groups[gi].push(RestartField {
                name: name.clone(),
                per_cell: *per_cell,
                values,
            });
        }
    }
    drop(file);
    let [model_fields, perturbation_fields] = groups;
    let d = RestartData {
        valid_time: h.valid_time,
        config_fingerprint: h.fingerprint,
        model_name: h.model_name,
        n_members: h.n_members,
        cell_ids: h.cell_ids,
        model_fields,
        perturbation_fields,
        attributes: h.attributes,
    };
    let computed = canonical_checksum(&d);
    if computed != h.checksum {
        return Err(checksum_error(path, &h.checksum, computed));
    }
    Ok(d)
}

/// Check a restart file completely (structure, every chunk, SHA-256 checksum), streaming the
/// datasets in blocks so memory stays bounded; returns its header.
pub fn verify_restart(path: &Path) -> Result<RestartInfo, IoError> {
    let (file, h) = open(path)?;
    let n = h.cell_ids.len();
    let mut c = Canon::new();
    c.header(&h);
    for (gi, g) in GROUPS.iter().enumerate() {
        c.str(g);
        c.u64(h.fields[gi].len() as u64);
        for (name, per_cell) in &h.fields[gi] {
            c.field_header(name, *per_cell);
            let dsname = format!("{g}/{name}");
            let block = (VERIFY_BLOCK_BYTES / (8 * h.n_members * per_cell)).max(1);
            let mut start = 0;
            while start < n {
                let end = (start + block).min(n);
                let v = read_dataset_rows(&file, path, &dsname, start..end)?;
                c.f64s(&v);
                start = end;
            }
        }
    }
    c.attributes(&h.attributes);
    drop(file);
    let computed = c.hex();
    if computed != h.checksum {
        return Err(checksum_error(path, &h.checksum, computed));
    }
    Ok(h.info(path))
}

/// Read only the rows of `cell_ids` (any order, no duplicates) from a restart file, so a rank
/// reads just its part. The result lists the cells in the requested order. The structure is
/// checked and every chunk read is verified by its Fletcher-32 checksum; the whole-file
/// SHA-256 is not (use [`verify_restart`] once, e.g. on the root rank).
pub fn read_restart_cells(path: &Path, cell_ids: &[u64]) -> Result<RestartData, IoError> {
    let (file, h) = open(path)?;
    // (row in file, position in output), sorted by row.
    let mut wanted: Vec<(usize, usize)> = Vec::with_capacity(cell_ids.len());
    for (pos, &id) in cell_ids.iter().enumerate() {
        match h.cell_ids.binary_search(&id) {
            Ok(row) => wanted.push((row, pos)),
            Err(_) => {
                return Err(IoError::MissingCell {
                    path: path.to_path_buf(),
                    cell_id: id,
                })
            }
        }
    }
    wanted.sort_unstable();
    if let Some(w) = wanted.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(invalid(
            path,
            format!("cell id {} requested twice", h.cell_ids[w[0].0]),
        ));
    }
    // Contiguous runs of rows; small gaps are read and discarded to keep calls few.
    const MAX_GAP: usize = 32;
    let mut runs: Vec<(usize, usize, usize)> = Vec::new(); // (first row, end row, first index in wanted)
    for (i, &(row, _)) in wanted.iter().enumerate() {
        match runs.last_mut() {
            Some(r) if row <= r.1 + MAX_GAP => r.1 = row + 1,
            _ => runs.push((row, row + 1, i)),
        }
    }
    let m = h.n_members;
    let mut groups: [Vec<RestartField>; 2] = [Vec::new(), Vec::new()];
    for (gi, g) in GROUPS.iter().enumerate() {
        for (name, per_cell) in &h.fields[gi] {
            let row_len = m * per_cell;
            let mut values = vec![0.0; cell_ids.len() * row_len];
            let dsname = format!("{g}/{name}");
            for (ri, &(a, b, first)) in runs.iter().enumerate() {
                let slab = read_dataset_rows(&file, path, &dsname, a..b)?;
                let last = runs.get(ri + 1).map_or(wanted.len(), |r| r.2);
                for &(row, pos) in &wanted[first..last] {
                    let src = &slab[(row - a) * row_len..(row - a + 1) * row_len];
                    values[pos * row_len..(pos + 1) * row_len].copy_from_slice(src);
                }
            }
            groups[gi].push(RestartField {
                name: name.clone(),
                per_cell: *per_cell,
                values,
            });
        }
    }
    drop(file);
    let [model_fields, perturbation_fields] = groups;
    Ok(RestartData {
        valid_time: h.valid_time,
        config_fingerprint: h.fingerprint,
        model_name: h.model_name,
        n_members: h.n_members,
        cell_ids: cell_ids.to_vec(),
        model_fields,
        perturbation_fields,
        attributes: h.attributes,
    })
}

/// Read only the header of a restart file (no checksum verification).
pub fn restart_info(path: &Path) -> Result<RestartInfo, IoError> {
    let (_file, h) = open(path)?;
    Ok(h.info(path))
}

// ---------------------------------------------------------------- finding the latest restart
