//! Writing a restart file (format version 2, or 4 with the self-description), by one
//! process or by every rank of a run at once through MPI-IO.
//!
//! The same calls in the same order on every rank build the file: [`RestartWriter::create`]
//! (header, every dataset allocated at its final size), then [`RestartWriter::write_rows`] for
//! each range of whole blocks the rank owns, then [`RestartWriter::finish`] with every rank's
//! block digests. Datasets are contiguous, allocated early and never filled, so the layout of
//! the file depends only on its header, not on who wrote which rows.

use super::restart::{put_str_attr, put_u_attr, GROUPS, RESTART_FORMAT, TIME_FORMAT};
use super::restart_blocks::{
    block_digests, checksum_v2, n_blocks, BlockDigest, BlockHash, ChecksumHeader, BLOCK_CELLS,
};
use super::restart_meta::{check_meta, describe_field, write_scales, RestartMeta, Scales};
use super::restart_raw::{put_le, FieldRows, RowStage};
use super::IoError;
use crate::parallel::FileComm;
use chrono::NaiveDateTime;
use hdf5::dataset::{AllocTime, FillTime};
use ndarray::{s, ArrayView3};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Format version 2 (written by [`RestartWriter`] for a layout without a description).
pub const RESTART_FORMAT_VERSION_V2: u32 = 2;
/// Format version 3: version 2 plus the self-description ([`RestartMeta`]).
pub const RESTART_FORMAT_VERSION_V3: u32 = 3;
/// Format version 4 (written for a layout with a description): version 3 with XXH3-128
/// block digests ([`BlockHash`]).
pub const RESTART_FORMAT_VERSION_V4: u32 = 4;

/// Everything every rank knows about a restart before writing its rows.
#[derive(Debug, Clone)]
pub struct RestartLayout {
    pub valid_time: NaiveDateTime,
    pub config_fingerprint: String,
    pub model_name: String,
    pub n_members: usize,
    pub n_cells: usize,
    /// Per group (`model`, `perturbation`): fields as (name, values per member per cell).
    pub fields: [Vec<(String, usize)>; 2],
    pub attributes: BTreeMap<String, String>,
    /// Units, names and coordinates: `Some` writes format version 4, `None` version 2.
    pub meta: Option<RestartMeta>,
}

impl RestartLayout {
    /// The format version this layout is written in.
    pub fn version(&self) -> u32 {
        if self.meta.is_some() {
            RESTART_FORMAT_VERSION_V4
        } else {
            RESTART_FORMAT_VERSION_V2
        }
    }

    /// The hash of the block digests this layout is written with.
    pub fn block_hash(&self) -> BlockHash {
        BlockHash::of_version(self.version())
    }

    /// The file checksum over this header and `digests` in the version it is written in.
    pub(super) fn checksum(&self, digests: &[BlockDigest]) -> String {
        self.checksum_as(self.version(), digests)
    }

    /// The file checksum over this header and `digests` as format `version` (2 to 4) defines
    /// it: a file read back has its own version, which a layout with a description need not
    /// be written in any more.
    pub(super) fn checksum_as(&self, version: u32, digests: &[BlockDigest]) -> String {
        let valid_time = self.valid_time.format(TIME_FORMAT).to_string();
        let h = ChecksumHeader {
            version,
            valid_time: &valid_time,
            fingerprint: &self.config_fingerprint,
            model_name: &self.model_name,
            n_members: self.n_members,
            n_cells: self.n_cells,
            groups: [(GROUPS[0], &self.fields[0]), (GROUPS[1], &self.fields[1])],
            attributes: &self.attributes,
            meta: self.meta.as_ref(),
        };
        checksum_v2(&h, digests)
    }
    /// Values per cell (all members) of each field, model fields first.
    pub fn row_lens(&self) -> Vec<usize> {
        row_lens_of(self.n_members, &self.fields)
    }
}

/// Values per cell (all members) of each field of `fields`, model fields first.
pub(super) fn row_lens_of(n_members: usize, fields: &[Vec<(String, usize)>; 2]) -> Vec<usize> {
    fields
        .iter()
        .flatten()
        .map(|(_, k)| n_members * k)
        .collect()
}

/// An open restart file being written (see the module doc for the call order).
pub struct RestartWriter {
    file: hdf5::File,
    path: PathBuf,
    layout: RestartLayout,
    fields: Vec<hdf5::Dataset>,
    /// The fields' rows, then the rows of `cell_id` (and of `lat`, `lon` in version 4),
    /// written past HDF5 at the datasets' offsets (`io::restart_raw`).
    rows: FieldRows,
    /// This rank's rows written so far (contiguous, whole blocks) and their digests.
    written: Option<Range<usize>>,
    digests: Vec<BlockDigest>,
    /// Version 3: the dimension scales and coordinates.
    scales: Option<Scales>,
}

fn h5err(path: &Path, context: impl Into<String>) -> impl FnOnce(hdf5::Error) -> IoError {
    let (path, context) = (path.to_path_buf(), context.into());
    move |e| IoError::Hdf5 {
        path,
        context,
        msg: e.to_string(),
    }
}

fn invalid(path: &Path, msg: String) -> IoError {
    IoError::Invalid {
        path: path.to_path_buf(),
        msg,
    }
}

/// A contiguous dataset allocated at creation and never filled.
fn new_dataset<T: hdf5::H5Type>(
    loc: &hdf5::Group,
    path: &Path,
    name: &str,
    shape: &[usize],
) -> Result<hdf5::Dataset, IoError> {
    loc.new_dataset::<T>()
        .obj_track_times(false)
        .no_chunk()
        .alloc_time(Some(AllocTime::Early))
        .fill_time(FillTime::Never)
        .shape(shape)
        .create(name)
        .map_err(h5err(path, format!("creating dataset {name}")))
}

impl RestartWriter {
    /// Create the file at `tmp` (`final_path` names it in messages) and its header and
    /// datasets. Collective when `comm` is given: every rank calls it with the same layout.
    pub fn create(
        tmp: &Path,
        final_path: &Path,
        layout: &RestartLayout,
        comm: Option<&FileComm>,
    ) -> Result<Self, IoError> {
        let p = final_path;
        let file = hdf5::File::with_options()
            .with_fapl(|fapl| {
                let fapl = fapl.libver_v18();
                match comm {
                    Some(c) => fapl.mpio(c.raw(), None),
                    None => fapl,
                }
            })
            // No object timestamps: the same content gives the same bytes.
            .with_fcpl(|fcpl| fcpl.obj_track_times(false))
            .create(tmp)
            .map_err(h5err(p, "create"))?;
        write_header(&file, p, layout)?;
        let n = layout.n_cells;
        let ids = new_dataset::<u64>(&file, p, "cell_id", &[n])?;
        // Raw values every rank would write alike (small coordinates) come from rank 0.
        let shared_writer = comm.is_none_or(|c| c.rank() == 0);
        let scales = match &layout.meta {
            None => None,
            Some(m) => {
                check_meta(m, n, &layout.fields).map_err(|e| invalid(p, e))?;
                let new_ds = |g: &hdf5::Group, name: &str, shape: &[usize]| {
                    new_dataset::<f64>(g, p, name, shape)
                };
                let d = (m, layout.n_members, &layout.fields);
                Some(write_scales(&file, p, d, &ids, &new_ds, shared_writer)?)
            }
        };
        let fields = create_fields(&file, p, layout, scales.as_ref())?;
        let rows = open_rows((tmp, p), layout, &fields, &ids, scales.as_ref())?;
        let attrs = file
            .create_group_builder()
            .obj_track_times(false)
            .create("attributes")
            .map_err(h5err(p, "creating group attributes"))?;
        for (k, v) in &layout.attributes {
            put_str_attr(&attrs, p, k, v)?;
        }
        Ok(RestartWriter {
            file,
            path: p.to_path_buf(),
            layout: layout.clone(),
            fields,
            rows,
            written: None,
            digests: Vec::new(),
            scales,
        })
    }

    /// Write rows `rows` (whole blocks, following this rank's previous rows): their cell ids
    /// and each field's values `[cell][member][per_cell]`, model fields first, in layout order.
    pub fn write_rows(
        &mut self,
        rows: Range<usize>,
        ids: &[u64],
        values: &[&[f64]],
    ) -> Result<(), IoError> {
        let lens = self.layout.row_lens();
        let ok = values.len() == lens.len()
            && values
                .iter()
                .zip(&lens)
                .all(|(v, l)| v.len() == rows.len() * l);
        if !ok {
            return Err(invalid(
                &self.path,
                format!("rows {rows:?}: field lengths do not match the layout"),
            ));
        }
        let mut stage = RowStage::new();
        self.stage(&mut stage, &rows);
        for (dst, v) in stage.fields_mut().into_iter().zip(values) {
            put_le(dst, &mut 0, v);
        }
        self.stage_meta(&mut stage, &rows, ids);
        self.claim_rows(rows.clone(), ids, &stage)?;
        self.rows.write(&rows, &stage)?;
        let hash = self.layout.block_hash();
        self.add_digests(stage_digests(hash, rows, ids, &stage, &lens));
        Ok(())
    }

    /// The digests of the rows last passed to [`Self::claim_rows`], in row order (computed
    /// by [`stage_digests`], possibly on another thread).
    pub fn add_digests(&mut self, digests: Vec<BlockDigest>) {
        self.digests.extend(digests);
    }

    /// Lay out `stage` for rows `rows` of every field, to be filled with the fields' values
    /// as stored (`[cell][member][per_cell]`, little-endian bytes) in its first
    /// `row_lens().len()` spans and by [`Self::stage_meta`] in the others.
    pub fn stage(&self, stage: &mut RowStage, rows: &Range<usize>) {
        self.rows.stage(stage, rows);
    }

    /// The rows' cell ids `ids` (and their coordinates) into their spans of `stage`, after
    /// the fields'. They go to the file with the fields' bytes ([`FieldRows::write`]), on
    /// the thread that writes those: through HDF5 and MPI-IO on this one they waited for the
    /// other's large writes to the same file (0.17 s per restart at 0.25°).
    pub fn stage_meta(&self, stage: &mut RowStage, rows: &Range<usize>, ids: &[u64]) {
        let mut spans = stage.fields_mut().into_iter().skip(self.fields.len());
        if let Some(dst) = spans.next() {
            for (d, id) in dst.chunks_exact_mut(8).zip(ids) {
                d.copy_from_slice(&id.to_le_bytes());
            }
        }
        if let Some(m) = self.layout.meta.as_ref().filter(|m| !m.lat.is_empty()) {
            for (dst, values) in spans.zip([&m.lat, &m.lon]) {
                put_le(dst, &mut 0, &values[rows.clone()]);
            }
        }
    }

    /// The file's final name.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Another handle on the fields' rows, for writing staged rows from another thread
    /// ([`FieldRows::write`]) while this one goes on; all its writes must be done before
    /// [`Self::finish`].
    pub fn field_rows(&self) -> Result<FieldRows, IoError> {
        self.rows.reopen()
    }

    /// Take rows `rows` (cell ids `ids`, staged in `stage` by [`Self::stage`],
    /// [`Self::stage_meta`] and the caller) as this rank's next rows, checking that they
    /// follow the previous ones. Their bytes go through [`FieldRows::write`] and their
    /// digests through [`stage_digests`] and [`Self::add_digests`] (here, or on another
    /// thread).
    pub fn claim_rows(
        &mut self,
        rows: Range<usize>,
        ids: &[u64],
        stage: &RowStage,
    ) -> Result<(), IoError> {
        self.check_rows(&rows, ids, stage)?;
        self.written = Some(match self.written.take() {
            Some(w) => w.start..rows.end,
            None => rows,
        });
        Ok(())
    }

    fn check_rows(
        &self,
        rows: &Range<usize>,
        ids: &[u64],
        stage: &RowStage,
    ) -> Result<(), IoError> {
        let n = self.layout.n_cells;
        let next = self.written.as_ref().map(|w| w.end);
        let aligned = rows.start.is_multiple_of(BLOCK_CELLS)
            && (rows.end.is_multiple_of(BLOCK_CELLS) || rows.end == n);
        if !aligned || rows.end > n || next.is_some_and(|e| e != rows.start) {
            return Err(invalid(
                &self.path,
                format!("rows {rows:?} are not whole blocks following {next:?} (of {n} cells)"),
            ));
        }
        let lens = self.layout.row_lens();
        let ok = ids.len() == rows.len()
            && stage.n_fields() == self.rows.n_spans()
            && (0..lens.len()).all(|f| stage.field(f).len() == rows.len() * 8 * lens[f]);
        if !ok {
            return Err(invalid(
                &self.path,
                format!("rows {rows:?}: ids or field lengths do not match the layout"),
            ));
        }
        if let Some(w) = ids.windows(2).find(|w| w[0] >= w[1]) {
            return Err(invalid(
                &self.path,
                format!(
                    "cell ids must be strictly increasing (found {} then {})",
                    w[0], w[1]
                ),
            ));
        }
        Ok(())
    }

    /// This rank's digests (block-major, 1 + n_fields per block) and the index of the first
    /// of them in the file's list.
    pub fn own_digests(&self) -> (usize, &[BlockDigest]) {
        let first = self.written.as_ref().map_or(0, |w| w.start / BLOCK_CELLS);
        (first * self.per_block(), &self.digests)
    }

    fn per_block(&self) -> usize {
        1 + self.fields.len()
    }

    /// Store every block digest (all ranks', in block order) and the file checksum, and close
    /// the file. Collective with MPI-IO. Returns the checksum.
    pub fn finish(self, all: &[BlockDigest]) -> Result<String, IoError> {
        let p = self.path.clone();
        let (nb, k) = (n_blocks(self.layout.n_cells), self.per_block());
        let (first, own) = self.own_digests();
        if all.len() != nb * k || all.get(first..first + own.len()) != Some(own) {
            return Err(invalid(
                &p,
                format!(
                    "{} digests for {nb} blocks × {k}, or this rank's differ",
                    all.len()
                ),
            ));
        }
        let hash = self.layout.block_hash();
        let (name, len) = (hash.dataset(), hash.bytes());
        let ds = new_dataset::<u8>(&self.file, &p, name, &[nb, k, len])?;
        let flat: Vec<u8> = own.iter().flat_map(|d| &d[..len]).copied().collect();
        let view = ArrayView3::from_shape((own.len() / k, k, len), &flat)
            .map_err(|e| invalid(&p, e.to_string()))?;
        let (b0, b1) = (first / k, (first + own.len()) / k);
        ds.write_slice(view, s![b0..b1, .., ..])
            .map_err(h5err(&p, format!("writing dataset {name}")))?;
        let checksum = self.layout.checksum(all);
        put_str_attr(&self.file, &p, "checksum_sha256", &checksum)?;
        self.rows.sync()?;
        drop((ds, self.fields, self.scales));
        self.file.close().map_err(h5err(&p, "close"))?;
        Ok(checksum)
    }
}

fn write_header(file: &hdf5::File, p: &Path, layout: &RestartLayout) -> Result<(), IoError> {
    put_str_attr(file, p, "format", RESTART_FORMAT)?;
    put_u_attr(file, p, "format_version", layout.version() as u64, true)?;
    let vt = layout.valid_time.format(TIME_FORMAT).to_string();
    put_str_attr(file, p, "valid_time", &vt)?;
    put_str_attr(file, p, "config_fingerprint", &layout.config_fingerprint)?;
    put_str_attr(file, p, "model_name", &layout.model_name)?;
    put_u_attr(file, p, "n_members", layout.n_members as u64, false)?;
    put_u_attr(file, p, "block_cells", BLOCK_CELLS as u64, false)?;
    put_str_attr(
        file,
        p,
        "checksum_algorithm",
        "sha256 of header and per-block sha256, format v2 (docs/io.md)",
    )
}

/// Every field dataset's address in the file (they are contiguous and allocated early, so
/// HDF5 knows it; a dataset of no values has none and gets 0, never written to).
/// The raw rows of the fields, then of `cell_id`, `lat` and `lon` (8 bytes per row each).
fn open_rows(
    (tmp, p): (&Path, &Path),
    layout: &RestartLayout,
    fields: &[hdf5::Dataset],
    ids: &hdf5::Dataset,
    scales: Option<&Scales>,
) -> Result<FieldRows, IoError> {
    let mut datasets: Vec<&hdf5::Dataset> = fields.iter().chain([ids]).collect();
    if let Some((la, lo)) = scales.and_then(|s| s.lat_lon.as_ref()) {
        datasets.extend([la, lo]);
    }
    let mut row_bytes: Vec<usize> = layout.row_lens().iter().map(|l| 8 * l).collect();
    row_bytes.resize(datasets.len(), 8);
    FieldRows::open((tmp, p), field_offsets(&datasets, p)?, row_bytes)
}

fn field_offsets(datasets: &[&hdf5::Dataset], p: &Path) -> Result<Vec<u64>, IoError> {
    datasets
        .iter()
        .map(|ds| match ds.offset() {
            Some(o) => Ok(o),
            None if ds.size() == 0 => Ok(0),
            None => Err(invalid(
                p,
                format!("dataset {} has no file address after creation", ds.name()),
            )),
        })
        .collect()
}

/// The groups and their field datasets (described and with dimension scales in version 3).
fn create_fields(
    file: &hdf5::File,
    p: &Path,
    layout: &RestartLayout,
    scales: Option<&Scales>,
) -> Result<Vec<hdf5::Dataset>, IoError> {
    let mut fields = Vec::new();
    for (gi, (&g, group_fields)) in GROUPS.iter().zip(&layout.fields).enumerate() {
        let group = file
            .create_group_builder()
            .obj_track_times(false)
            .create(g)
            .map_err(h5err(p, format!("creating group {g}")))?;
        let order: Vec<&str> = group_fields.iter().map(|(f, _)| f.as_str()).collect();
        put_str_attr(&group, p, "field_order", &order.join(","))?;
        for (fi, (name, per_cell)) in group_fields.iter().enumerate() {
            let shape = [layout.n_cells, layout.n_members, *per_cell];
            let ds = new_dataset::<f64>(&group, p, name, &shape)?;
            if let (Some(sc), Some(m)) = (scales, &layout.meta) {
                describe_field(&ds, p, (m, sc), (gi, fi, g, name.as_str(), *per_cell))?;
            }
            fields.push(ds);
        }
    }
    Ok(fields)
}

/// The block digests of staged rows `rows` (cell ids `ids`, field row lengths `lens` in
/// values): the same digests as of the values, from their stored bytes.
pub fn stage_digests(
    hash: BlockHash,
    rows: Range<usize>,
    ids: &[u64],
    stage: &RowStage,
    lens: &[usize],
) -> Vec<BlockDigest> {
    let fields: Vec<(&[u8], usize)> = (0..lens.len())
        .map(|f| (stage.field(f), 8 * lens[f]))
        .collect();
    block_digests(hash, rows, ids, &fields)
}
