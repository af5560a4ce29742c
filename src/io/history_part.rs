//! Every rank writes its rows of one history file (netCDF-4 through HDF5's MPI-IO driver).
//!
//! The grid's rows are cut into at most [`HISTORY_CHUNK_BLOCKS`] blocks of [`chunk_rows`]
//! rows, the chunk height of every data variable, and each rank writes a contiguous run of
//! whole blocks ([`history_rows`]), so each rank compresses only its own chunks. Deflate under parallel
//! writes needs collective writes (HDF5 ≥ 1.10.2); every write covers one 2-D slab, so the
//! chunks of a slab are owned in chunk order and HDF5 places them in the file in the same
//! order on any number of ranks: the bytes do not depend on the rank count (docs/io.md).
//! The coordinates are written by the root inside the same collective calls.

use super::history::{validate, write_netcdf, Ctx, FieldRows, HistoryWrite};
use super::IoError;
use crate::parallel::FileComm;
use netcdf::NcTypeDescriptor;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Chunk rows of a history data variable: at most this many ranks write a file (0.25°
/// global: 10 rows of 1440 cells, 56 KiB per chunk).
pub const HISTORY_CHUNK_BLOCKS: usize = 64;

/// Rows per chunk of a history data variable on an `ny`-row grid: a function of the grid
/// only, so the file layout does not depend on the rank count.
pub fn chunk_rows(ny: usize) -> usize {
    ny.div_ceil(HISTORY_CHUNK_BLOCKS).max(1)
}

/// Rows of an `ny`-row grid that rank `rank` of `size` writes: a contiguous run of whole
/// chunk rows (empty on ranks beyond the number of chunk rows).
pub fn history_rows(ny: usize, rank: usize, size: usize) -> Range<usize> {
    let blocks = ny.div_ceil(chunk_rows(ny));
    let first = blocks * rank / size;
    let last = blocks * (rank + 1) / size;
    let row = |b: usize| (b * chunk_rows(ny)).min(ny);
    row(first)..row(last)
}

/// One rank's share of a history file written by every rank at once.
pub struct HistoryPart<'d, 'a> {
    pub comm: FileComm,
    pub is_root: bool,
    /// This rank's rows, from [`history_rows`].
    pub rows: Range<usize>,
    /// Field `k`'s values on `rows`, `[member][layer][row][x]` (NaN or anything off land);
    /// called for every field in order on every rank, so it may exchange data collectively.
    pub field_rows: &'d mut FieldRows<'d, 'a>,
}

/// Write this rank's part of the history file `final_path` at `tmp` (collective: every rank
/// calls it with the same `h`, whose fields carry no data; `n_members` of `Members` fields).
/// The file is complete and closed when every rank returns `Ok`; errors are agreed, so every
/// rank returns an error together (the caller removes `tmp`).
pub fn write_history_part(
    (tmp, final_path): (&Path, &Path),
    h: &HistoryWrite,
    n_members: usize,
    part: HistoryPart,
) -> Result<(), IoError> {
    let final_path = final_path.to_path_buf();
    let c = Wctx {
        ctx: Ctx { path: &final_path },
        par: Some((part.comm, part.is_root)),
        rows: part.rows,
    };
    let checked = validate(&final_path, h, Some(n_members));
    if !c.agree(checked.is_ok()) {
        return Err(checked.err().unwrap_or_else(|| c.other_rank("the header")));
    }
    let (prepared, n_members) = checked?;
    hdf5::silence_errors(true);
    let written = write_netcdf(tmp, &c, h, (&prepared, n_members), Some(part.field_rows));
    if !c.agree(written.is_ok()) {
        return Err(written.err().unwrap_or_else(|| c.other_rank("the file")));
    }
    Ok(())
}

/// How the history writer writes: alone, or as one rank of many (with its rows).
pub(super) struct Wctx<'p> {
    ctx: Ctx<'p>,
    /// The communicator and whether this rank is the root (writes the coordinates).
    par: Option<(FileComm, bool)>,
    /// Grid rows of the data this writer writes.
    pub(super) rows: Range<usize>,
}

impl<'p> Wctx<'p> {
    /// The whole file, one process.
    pub(super) fn serial(path: &'p PathBuf, ny: usize) -> Self {
        Wctx {
            ctx: Ctx { path },
            par: None,
            rows: 0..ny,
        }
    }

    pub(super) fn path(&self) -> &Path {
        self.ctx.path
    }

    pub(super) fn err(
        &self,
        context: impl Into<String>,
    ) -> impl FnOnce(netcdf::Error) -> IoError + '_ {
        self.ctx.err(context)
    }

    /// Create the file: `options` alone, or every rank together through MPI-IO (then the
    /// file cannot be built in memory first).
    pub(super) fn create(
        &self,
        tmp: &Path,
        options: netcdf::Options,
    ) -> netcdf::Result<netcdf::FileMut> {
        match self.par {
            None => netcdf::create_with(tmp, options),
            Some((comm, _)) => {
                netcdf::create_par_with(tmp, comm.raw(), comm.info_null(), netcdf::Options::NETCDF4)
            }
        }
    }

    /// True when `ok` holds on every rank (collective under MPI).
    pub(super) fn agree(&self, ok: bool) -> bool {
        match self.par {
            None => ok,
            Some((comm, _)) => comm.all_ok(ok),
        }
    }

    /// The error of a rank whose own part was fine while another rank's failed.
    pub(super) fn other_rank(&self, what: &str) -> IoError {
        IoError::Invalid {
            path: self.ctx.path.clone(),
            msg: format!("writing {what} failed on another rank (see its log)"),
        }
    }

    /// Collective access (needed for deflate and for the unlimited `time` under MPI).
    pub(super) fn collective(&self, v: &mut netcdf::VariableMut) -> netcdf::Result<()> {
        match self.par {
            None => Ok(()),
            Some(_) => v.access_collective(),
        }
    }

    /// Write `data` at `extents`: alone, or on the root while the other ranks join the
    /// collective call with nothing.
    pub(super) fn put<T: NcTypeDescriptor>(
        &self,
        v: &mut netcdf::VariableMut,
        data: &[T],
        extents: &[Range<usize>],
    ) -> netcdf::Result<()> {
        self.collective(v)?;
        match self.par {
            Some((_, false)) => {
                let none = vec![0..0; extents.len()];
                v.put_values::<T, _>(&[], none.as_slice())
            }
            _ => v.put_values(data, extents),
        }
    }

    /// As [`Wctx::put`] for the whole variable.
    pub(super) fn put_all<T: NcTypeDescriptor>(
        &self,
        v: &mut netcdf::VariableMut,
        data: &[T],
    ) -> netcdf::Result<()> {
        let full: Vec<Range<usize>> = v.dimensions().iter().map(|d| 0..d.len()).collect();
        self.put(v, data, &full)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_whole_chunks_covering_the_grid_in_order() {
        assert_eq!(chunk_rows(600), 10);
        assert_eq!(chunk_rows(14), 1);
        for ny in [1, 5, 16, 17, 64, 65, 600] {
            for size in 1..6 {
                let parts: Vec<_> = (0..size).map(|r| history_rows(ny, r, size)).collect();
                assert_eq!(parts[0].start, 0);
                assert_eq!(parts[size - 1].end, ny);
                for w in parts.windows(2) {
                    assert_eq!(w[0].end, w[1].start);
                }
                for p in &parts {
                    assert!(p.start % chunk_rows(ny) == 0 || p.is_empty());
                }
            }
        }
    }
}
