//! A restart's field rows written straight to their datasets' bytes, past the page cache.
//!
//! Restart datasets are contiguous and allocated when the file is created, so a range of rows
//! of one field is one range of file bytes at a known offset (`H5Dget_offset`). Writing those
//! bytes with `O_DIRECT` moves them from the rank's buffer to the device without copying them
//! into new page-cache pages first; at 0.25° global that copy was most of the restart's write
//! time (docs/benchmarks.md). Only whole aligned pages go direct: the partial pages at the ends
//! of a range may hold another rank's rows or HDF5's metadata, so they go through the page
//! cache like every other write to the file. The bytes in the file are the same either way.

use super::atomic::explain_out_of_space;
use super::IoError;
use std::fs::{File, OpenOptions};
use std::ops::Range;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Alignment of direct writes (offset, length and memory): the page size, a multiple of every
/// common logical block size.
pub const ALIGN: usize = 4096;

#[repr(C, align(4096))]
#[derive(Clone, Copy)]
struct Page([u8; ALIGN]);

/// Page-aligned staging memory for one write of every field's rows, reused between writes.
/// Field `f`'s bytes start at the same offset within a page as its bytes in the file, so the
/// whole pages of the file range are whole pages of this memory.
#[derive(Default)]
pub struct RowStage {
    pages: Vec<Page>,
    spans: Vec<Range<usize>>,
}

impl RowStage {
    pub fn new() -> Self {
        Self::default()
    }

    /// Lay out one span per field: `(file offset, bytes)` in field order. Keeps the memory.
    pub fn layout(&mut self, fields: impl Iterator<Item = (u64, usize)>) {
        self.spans.clear();
        let mut page = 0;
        for (offset, len) in fields {
            let start = page * ALIGN + (offset as usize) % ALIGN;
            self.spans.push(start..start + len);
            page = (start + len).div_ceil(ALIGN);
        }
        if self.pages.len() < page {
            self.pages.resize(page, Page([0; ALIGN]));
        }
    }

    pub fn n_fields(&self) -> usize {
        self.spans.len()
    }

    /// Field `f`'s bytes.
    pub fn field(&self, f: usize) -> &[u8] {
        &self.bytes()[self.spans[f].clone()]
    }

    /// Every field's bytes, to fill at once.
    pub fn fields_mut(&mut self) -> Vec<&mut [u8]> {
        let spans = self.spans.clone();
        let mut rest = self.bytes_mut();
        let mut at = 0;
        let mut out = Vec::with_capacity(spans.len());
        for s in spans {
            let (_, tail) = std::mem::take(&mut rest).split_at_mut(s.start - at);
            let (field, tail) = tail.split_at_mut(s.len());
            out.push(field);
            rest = tail;
            at = s.end;
        }
        out
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `Page` is a plain byte array (repr(C), no padding), so the vector's memory
        // is `len · ALIGN` initialised bytes, borrowed immutably for the slice's lifetime.
        unsafe { std::slice::from_raw_parts(self.pages.as_ptr().cast(), self.pages.len() * ALIGN) }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, borrowed mutably and exclusively for the slice's lifetime.
        unsafe {
            std::slice::from_raw_parts_mut(self.pages.as_mut_ptr().cast(), self.pages.len() * ALIGN)
        }
    }
}

/// Write `values` as little-endian bytes (the restart datasets' type) at `dst[*pos..]`.
pub fn put_le(dst: &mut [u8], pos: &mut usize, values: &[f64]) {
    let end = *pos + 8 * values.len();
    for (d, v) in dst[*pos..end].chunks_exact_mut(8).zip(values) {
        d.copy_from_slice(&v.to_le_bytes());
    }
    *pos = end;
}

/// The file opened twice: through the page cache, and with `O_DIRECT` where the file system
/// allows it (not tmpfs, for one); without it every write goes through the page cache.
pub struct RawFile {
    cached: File,
    direct: Option<File>,
}

impl RawFile {
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let cached = OpenOptions::new().write(true).open(path)?;
        let direct = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_DIRECT)
            .open(path)
            .ok();
        Ok(RawFile { cached, direct })
    }

    /// Write field `f` of `stage` at file offset `offset` (its span's page offset must match
    /// `offset`'s, as [`RowStage::layout`] arranges).
    pub fn write_field(&mut self, stage: &RowStage, f: usize, offset: u64) -> std::io::Result<()> {
        let span = stage.spans[f].clone();
        debug_assert_eq!(span.start % ALIGN, offset as usize % ALIGN);
        let bytes = stage.bytes();
        let end = offset + span.len() as u64;
        let head_end = offset.next_multiple_of(ALIGN as u64).min(end);
        let tail_start = (end / ALIGN as u64 * ALIGN as u64).max(head_end);
        let at = |o: u64| span.start + (o - offset) as usize;
        self.cached
            .write_all_at(&bytes[at(offset)..at(head_end)], offset)?;
        if tail_start > head_end {
            self.write_pages(&bytes[at(head_end)..at(tail_start)], head_end)?;
        }
        self.cached
            .write_all_at(&bytes[at(tail_start)..at(end)], tail_start)
    }

    /// Whole aligned pages: direct when possible; a file system that refuses a direct write
    /// (`EINVAL`) gets this and every later write through the page cache.
    fn write_pages(&mut self, pages: &[u8], offset: u64) -> std::io::Result<()> {
        if let Some(d) = &self.direct {
            match d.write_all_at(pages, offset) {
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    tracing::debug!("direct writes refused ({e}): using the page cache");
                    self.direct = None;
                }
                r => return r,
            }
        }
        self.cached.write_all_at(pages, offset)
    }

    /// Flush this process's writes to the device (a rank on another node than the one that
    /// commits the file must not leave its rows in its own page cache).
    pub fn sync(&self) -> std::io::Result<()> {
        self.cached.sync_data()
    }
}

/// The field datasets' rows of one restart file, written from any thread: each field's
/// file offset and bytes per row, and the file opened for raw writes.
pub struct FieldRows {
    raw: RawFile,
    offsets: Vec<u64>,
    row_bytes: Vec<usize>,
    path: PathBuf,
    tmp: PathBuf,
}

impl FieldRows {
    /// `tmp` is the file being written, `path` its final name (for messages).
    pub fn open(
        (tmp, path): (&Path, &Path),
        offsets: Vec<u64>,
        row_bytes: Vec<usize>,
    ) -> Result<Self, IoError> {
        let raw = RawFile::open(tmp).map_err(|source| IoError::Fs {
            path: path.to_path_buf(),
            action: "opening for the field rows",
            source,
        })?;
        Ok(FieldRows {
            raw,
            offsets,
            row_bytes,
            path: path.to_path_buf(),
            tmp: tmp.to_path_buf(),
        })
    }

    /// Datasets whose rows this writes (spans of a stage).
    pub fn n_spans(&self) -> usize {
        self.offsets.len()
    }

    /// Lay out `stage` for rows `rows` of every field.
    pub fn stage(&self, stage: &mut RowStage, rows: &Range<usize>) {
        stage.layout(
            self.offsets
                .iter()
                .zip(&self.row_bytes)
                .map(|(&o, &b)| (o + (rows.start * b) as u64, rows.len() * b)),
        );
    }

    /// Write rows `rows` of every field from `stage` (laid out by [`Self::stage`]).
    pub fn write(&mut self, rows: &Range<usize>, stage: &RowStage) -> Result<(), IoError> {
        for (f, b) in self.row_bytes.iter().enumerate() {
            let at = self.offsets[f] + (rows.start * b) as u64;
            self.raw.write_field(stage, f, at).map_err(|source| {
                let e = IoError::Fs {
                    path: self.path.clone(),
                    action: "writing the rows of a field",
                    source,
                };
                explain_out_of_space(&self.path, &self.tmp, e)
            })?;
        }
        Ok(())
    }

    /// Flush the file's data (every process's writes through any handle of this node).
    pub fn sync(&self) -> Result<(), IoError> {
        self.raw.sync().map_err(|source| IoError::Fs {
            path: self.path.clone(),
            action: "fsync of the field rows",
            source,
        })
    }

    /// Another handle on the same rows (its own file descriptors), for another thread.
    pub fn reopen(&self) -> Result<Self, IoError> {
        let files = (self.tmp.as_path(), self.path.as_path());
        FieldRows::open(files, self.offsets.clone(), self.row_bytes.clone())
    }
}
