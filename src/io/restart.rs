//! Decomposition-independent restart files (HDF5).
//!
//! One file holds the complete state of every member of every land cell, indexed by global
//! cell id, so a run can resume on any number of ranks. Integrity is guarded twice:
//! every dataset is chunked by cell blocks with HDF5's Fletcher-32 filter (a rank that reads
//! only its rows still detects a damaged chunk), and a SHA-256 over the canonical content
//! (see [`canonical_checksum`]) is stored as the root attribute `checksum_sha256` and verified
//! by [`read_restart`] and [`verify_restart`]. Layout: docs/io.md.

use super::atomic::{atomic_write_deferred, PendingFile};
use super::restart_blocks::{BlockDigest, BlockHash, Canon};
use super::restart_meta::{read_meta, RestartMeta};
use super::restart_v2::{
    read_restart_cells_v2, read_stored_digests, verify_data_v2, verify_restart_v2,
};
use super::restart_writer::{RestartLayout, RestartWriter, RESTART_FORMAT_VERSION_V4};
use super::IoError;
use chrono::NaiveDateTime;
use hdf5::types::VarLenUnicode;
use ndarray::s;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Value of the root attribute `format`.
pub const RESTART_FORMAT: &str = "landcycle-restart";
/// Newest value of the root attribute `format_version` (written when the restart carries its
/// description; 1 to 3 are still read, 2 is written without one).
pub const RESTART_FORMAT_VERSION: u32 = RESTART_FORMAT_VERSION_V4;
pub(super) const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";
/// The restart groups, in stored order.
pub(super) const GROUPS: [&str; 2] = ["model", "perturbation"];
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
    /// Units, long names and coordinates (format version 3); `None` writes and reads
    /// version 2 (and 1) files. A partial read lists `lat`/`lon` in the requested order.
    pub meta: Option<RestartMeta>,
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
    c.bytes(canonical_text.as_bytes());
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

fn canon_header(c: &mut Canon, h: &Header) {
    c.str("landcycle-restart-v1");
    c.str(&h.valid_time.format(TIME_FORMAT).to_string());
    c.str(&h.fingerprint);
    c.str(&h.model_name);
    c.u64(h.n_members as u64);
    c.u64(h.cell_ids.len() as u64);
    c.u64s(&h.cell_ids);
}

fn canon_field_header(c: &mut Canon, name: &str, per_cell: usize) {
    c.str(name);
    c.u64(per_cell as u64);
}

fn canon_attributes(c: &mut Canon, a: &BTreeMap<String, String>) {
    c.u64(a.len() as u64);
    for (k, v) in a {
        c.str(k);
        c.str(v);
    }
}

/// Format version 1's checksum (still verified on read): the SHA-256 (hex) over a restart's
/// canonical content: every string as u64-LE length +
/// UTF-8 bytes, every integer as u64 LE, every value as f64 LE, in this order:
/// `"landcycle-restart-v1"`, valid time (`YYYY-MM-DDTHH:MM:SS`), fingerprint, model name,
/// n_members, n_cells, the cell ids; then for group `model` and then `perturbation`: group name,
/// field count, and per field its name, per-cell length and values `[cell][member][len]`;
/// finally the attribute count and each (key, value) in key order.
pub fn canonical_checksum(d: &RestartData) -> String {
    let mut c = Canon::new();
    canon_header(&mut c, &Header::of(d));
    for (g, fields) in GROUPS.iter().zip([&d.model_fields, &d.perturbation_fields]) {
        c.str(g);
        c.u64(fields.len() as u64);
        for f in fields {
            canon_field_header(&mut c, &f.name, f.per_cell);
            c.f64s(&f.values);
        }
    }
    canon_attributes(&mut c, &d.attributes);
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
    if let Some(m) = &d.meta {
        let fields = Header::of(d).fields;
        super::restart_meta::check_meta(m, d.cell_ids.len(), &fields)
            .map_err(|e| invalid(path, e))?;
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
    let layout = Header::of(d).layout();
    let values: Vec<&[f64]> = d
        .model_fields
        .iter()
        .chain(&d.perturbation_fields)
        .map(|f| f.values.as_slice())
        .collect();
    let ((), pending) = atomic_write_deferred(path, |tmp| {
        let mut w = RestartWriter::create(tmp, path, &layout, None)?;
        w.write_rows(0..layout.n_cells, &d.cell_ids, &values)?;
        let all = w.own_digests().1.to_vec();
        w.finish(&all).map(|_| ())
    })?;
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

pub(super) fn put_str_attr(
    loc: &hdf5::Location,
    path: &Path,
    name: &str,
    value: &str,
) -> Result<(), IoError> {
    let v = vlu(path, value)?;
    loc.new_attr::<VarLenUnicode>()
        .shape(())
        .create(name)
        .and_then(|a| a.write_scalar(&v))
        .map_err(h5err(path, format!("writing attribute {name}")))
}

/// An unsigned scalar attribute, stored as u32 when `as_u32` (format_version) else u64.
pub(super) fn put_u_attr(
    loc: &hdf5::Location,
    path: &Path,
    name: &str,
    value: u64,
    as_u32: bool,
) -> Result<(), IoError> {
    let r = if as_u32 {
        loc.new_attr::<u32>()
            .shape(())
            .create(name)
            .and_then(|a| a.write_scalar(&(value as u32)))
    } else {
        loc.new_attr::<u64>()
            .shape(())
            .create(name)
            .and_then(|a| a.write_scalar(&value))
    };
    r.map_err(h5err(path, format!("writing attribute {name}")))
}

// ---------------------------------------------------------------- reading

/// Everything but the field values.
pub(super) struct Header {
    /// Format version of the file (1 or 2).
    pub(super) version: u32,
    /// Version 2: the stored digests, block-major, 1 + n_fields per block.
    pub(super) digests: Vec<BlockDigest>,
    pub(super) valid_time: NaiveDateTime,
    pub(super) fingerprint: String,
    pub(super) model_name: String,
    pub(super) n_members: usize,
    pub(super) checksum: String,
    pub(super) cell_ids: Vec<u64>,
    /// Per group: (name, per_cell) in stored order.
    pub(super) fields: [Vec<(String, usize)>; 2],
    pub(super) attributes: BTreeMap<String, String>,
    /// Version 3: the self-description.
    pub(super) meta: Option<RestartMeta>,
}

impl Header {
    fn of(d: &RestartData) -> Self {
        Header {
            valid_time: d.valid_time,
            fingerprint: d.config_fingerprint.clone(),
            model_name: d.model_name.clone(),
            n_members: d.n_members,
            checksum: String::new(),
            version: RESTART_FORMAT_VERSION,
            digests: Vec::new(),
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
            meta: d.meta.clone(),
        }
    }

    /// The header as the writer and the checksum see it.
    pub(super) fn layout(&self) -> RestartLayout {
        RestartLayout {
            valid_time: self.valid_time,
            config_fingerprint: self.fingerprint.clone(),
            model_name: self.model_name.clone(),
            n_members: self.n_members,
            n_cells: self.cell_ids.len(),
            fields: self.fields.clone(),
            attributes: self.attributes.clone(),
            meta: self.meta.clone(),
        }
    }

    /// The restart made of this header, `cell_ids` and the fields of both groups.
    pub(super) fn into_data(
        self,
        cell_ids: Vec<u64>,
        groups: [Vec<RestartField>; 2],
    ) -> RestartData {
        let [model_fields, perturbation_fields] = groups;
        RestartData {
            valid_time: self.valid_time,
            config_fingerprint: self.fingerprint,
            model_name: self.model_name,
            n_members: self.n_members,
            cell_ids,
            model_fields,
            perturbation_fields,
            attributes: self.attributes,
            meta: self.meta,
        }
    }

    pub(super) fn info(&self, path: &Path) -> RestartInfo {
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

pub(super) fn corrupt(path: &Path, context: impl Into<String>, msg: impl Into<String>) -> IoError {
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

/// Each group's fields (name, per-cell length) in `field_order`, checked against the
/// datasets present and their shapes.
fn read_field_list(
    file: &hdf5::File,
    path: &Path,
    n: usize,
    n_members: usize,
) -> Result<[Vec<(String, usize)>; 2], IoError> {
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
    Ok(fields)
}

/// The free-form string attributes of group `attributes`.
fn read_free_attributes(
    file: &hdf5::File,
    path: &Path,
) -> Result<BTreeMap<String, String>, IoError> {
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
    Ok(attributes)
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
    if !(1..=RESTART_FORMAT_VERSION).contains(&version) {
        return Err(corrupt(
            path,
            "attribute format_version",
            format!(
                "is {version}: this landcycle reads versions 1 to {RESTART_FORMAT_VERSION} \
                 (a newer landcycle wrote the file?)"
            ),
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

    let fields = read_field_list(&file, path, n, n_members)?;
    let attributes = read_free_attributes(&file, path)?;
    let digests = if version >= 2 {
        let k = 1 + fields[0].len() + fields[1].len();
        read_stored_digests(&file, path, (n, k), BlockHash::of_version(version))?
    } else {
        Vec::new()
    };
    let meta = if version >= 3 {
        Some(read_meta(&file, path, &fields)?)
    } else {
        None
    };
    Ok((
        file,
        Header {
            version,
            digests,
            valid_time,
            fingerprint,
            model_name,
            n_members,
            checksum,
            cell_ids,
            fields,
            attributes,
            meta,
        },
    ))
}

pub(super) fn read_dataset_rows(
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

pub(super) fn checksum_error(path: &Path, stored: &str, computed: String) -> IoError {
    IoError::Checksum {
        path: path.to_path_buf(),
        stored: stored.to_string(),
        computed,
    }
}

/// Read a whole restart file, checking its structure and its SHA-256 checksum.
pub fn read_restart(path: &Path) -> Result<RestartData, IoError> {
    let (file, mut h) = open(path)?;
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
    if h.version >= 2 {
        verify_data_v2(path, &h, &groups)?;
    }
    let (version, checksum) = (h.version, h.checksum.clone());
    let ids = std::mem::take(&mut h.cell_ids);
    let d = h.into_data(ids, groups);
    if version >= 2 {
        return Ok(d);
    }
    let computed = canonical_checksum(&d);
    if computed != checksum {
        return Err(checksum_error(path, &checksum, computed));
    }
    Ok(d)
}

/// Check a restart file completely (structure, every chunk, SHA-256 checksum), streaming the
/// datasets in blocks so memory stays bounded; returns its header.
pub fn verify_restart(path: &Path) -> Result<RestartInfo, IoError> {
    let (file, h) = open(path)?;
    if h.version >= 2 {
        verify_restart_v2(&file, path, &h)?;
        return Ok(h.info(path));
    }
    let n = h.cell_ids.len();
    let mut c = Canon::new();
    canon_header(&mut c, &h);
    for (gi, g) in GROUPS.iter().enumerate() {
        c.str(g);
        c.u64(h.fields[gi].len() as u64);
        for (name, per_cell) in &h.fields[gi] {
            canon_field_header(&mut c, name, *per_cell);
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
    canon_attributes(&mut c, &h.attributes);
    drop(file);
    let computed = c.hex();
    if computed != h.checksum {
        return Err(checksum_error(path, &h.checksum, computed));
    }
    Ok(h.info(path))
}

/// `(row in file, position in cell_ids)` of each requested cell, sorted by row; a missing or
/// repeated id is an error.
pub(super) fn wanted_rows(
    path: &Path,
    h: &Header,
    cell_ids: &[u64],
) -> Result<Vec<(usize, usize)>, IoError> {
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
    Ok(wanted)
}

/// Read only the rows of `cell_ids` (any order, no duplicates) from a restart file, so a rank
/// reads just its part. The result lists the cells in the requested order. The structure is
/// checked and so is every block read: version 2 by the blocks' SHA-256 digests (and the
/// digests against the file checksum), version 1 by each chunk's Fletcher-32. Blocks that are
/// not read are not checked (use [`verify_restart`] once, e.g. on the root rank).
pub fn read_restart_cells(path: &Path, cell_ids: &[u64]) -> Result<RestartData, IoError> {
    let (file, h) = open(path)?;
    if h.version >= 2 {
        return read_restart_cells_v2(&file, path, h, cell_ids);
    }
    let wanted = wanted_rows(path, &h, cell_ids)?;
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
    Ok(h.into_data(cell_ids.to_vec(), groups))
}

/// Read only the header of a restart file (no checksum verification).
pub fn restart_info(path: &Path) -> Result<RestartInfo, IoError> {
    let (_file, h) = open(path)?;
    Ok(h.info(path))
}

// ---------------------------------------------------------------- finding the latest restart
