//! The history files' row layout and the netCDF writer's context.
//!
//! The grid's rows are cut into at most [`HISTORY_CHUNK_BLOCKS`] blocks of [`chunk_rows`]
//! rows, the chunk height of every data variable, and each rank encodes a contiguous run of
//! whole blocks ([`history_rows`]), so each rank compresses only its own chunks
//! (`history_chunks`, docs/io.md).

use super::history::Ctx;
use super::IoError;
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

/// How the history writer writes: the file's final path (for errors) and the rows of the data.
pub(super) struct Wctx<'p> {
    ctx: Ctx<'p>,
    /// Grid rows of the data this writer writes.
    pub(super) rows: Range<usize>,
}

impl<'p> Wctx<'p> {
    /// The whole file, one process.
    pub(super) fn serial(path: &'p PathBuf, ny: usize) -> Self {
        Wctx {
            ctx: Ctx { path },
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

    pub(super) fn create(
        &self,
        tmp: &Path,
        options: netcdf::Options,
    ) -> netcdf::Result<netcdf::FileMut> {
        netcdf::create_with(tmp, options)
    }

    /// Write `data` at `extents`.
    pub(super) fn put<T: NcTypeDescriptor>(
        &self,
        v: &mut netcdf::VariableMut,
        data: &[T],
        extents: &[Range<usize>],
    ) -> netcdf::Result<()> {
        v.put_values(data, extents)
    }

    /// As [`Wctx::put`] for the whole variable.
    pub(super) fn put_all<T: NcTypeDescriptor>(
        &self,
        v: &mut netcdf::VariableMut,
        data: &[T],
    ) -> netcdf::Result<()> {
        let full: Vec<Range<usize>> = v
            .dimensions()
            .iter()
            .map(|d| d.len())
            .map(|n| 0..n)
            .collect();
        self.put(v, data, &full)
    }
}

/// Rows each of `size` ranks encodes: contiguous runs of whole chunk rows, cut where the
/// cumulative encoding cost reaches each rank's share. Deflating land values costs far more
/// than the constant fill off land, and land is unevenly spread over latitudes (at 0.25° the
/// equal split left one rank twice the other's work), so a block costs its land cells plus
/// 2/9 of its cells (libdeflate at level 4 on the 0.25° history's shuffled chunks: 17.6 ns per
/// land cell and 3.9 ns per cell of a chunk, 2026-12-03). A function of the mask only: every
/// rank computes the same split.
pub fn balanced_history_rows(land_mask: &[bool], nx: usize, size: usize) -> Vec<Range<usize>> {
    let ny = land_mask.len().checked_div(nx).unwrap_or(0);
    let cr = chunk_rows(ny);
    let blocks = ny.div_ceil(cr);
    let row = |b: usize| (b * cr).min(ny);
    let cost: Vec<usize> = (0..blocks)
        .map(|b| {
            let cells = &land_mask[row(b) * nx..row(b + 1) * nx];
            9 * cells.iter().filter(|&&l| l).count() + 2 * cells.len()
        })
        .collect();
    let total: usize = cost.iter().sum();
    let mut cuts = vec![0usize; size + 1];
    let (mut b, mut acc) = (0usize, 0usize);
    for (r, cut) in cuts.iter_mut().enumerate().skip(1) {
        // Rank r-1 takes blocks until its end reaches r/size of the total cost.
        while b < blocks && (acc + cost[b] / 2) * size < total * r {
            acc += cost[b];
            b += 1;
        }
        *cut = if r == size { blocks } else { b };
    }
    cuts.windows(2).map(|w| row(w[0])..row(w[1])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_rows_cover_the_grid_and_follow_the_land() {
        let (nx, ny) = (8, 640);
        // Land only in the last quarter of the rows: most ranks' rows are there.
        let mask: Vec<bool> = (0..nx * ny).map(|i| i / nx >= 3 * ny / 4).collect();
        for size in 1..6 {
            let parts = balanced_history_rows(&mask, nx, size);
            assert_eq!(parts.len(), size);
            assert_eq!((parts[0].start, parts[size - 1].end), (0, ny));
            for w in parts.windows(2) {
                assert_eq!(w[0].end, w[1].start);
            }
            assert!(parts.iter().all(|p| p.start % chunk_rows(ny) == 0));
        }
        let two = balanced_history_rows(&mask, nx, 2);
        // Cost: 480 rows × 8 ocean cells at 1, 160 land rows at 9 per cell: half the total
        // is reached 51 rows into the land.
        assert!(
            two[0].end > 3 * ny / 4 && two[0].end < 3 * ny / 4 + 80,
            "{two:?}"
        );
        let uniform = vec![true; nx * ny];
        assert_eq!(
            balanced_history_rows(&uniform, nx, 4),
            (0..4).map(|r| history_rows(ny, r, 4)).collect::<Vec<_>>()
        );
    }

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
