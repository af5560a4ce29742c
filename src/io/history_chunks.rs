//! History written from compressed chunks: the cycle's history writer on any number of ranks.
//!
//! Every data variable is chunked by whole rows ([`chunk_rows`]). The rank writing a block
//! of rows encodes its chunks as HDF5's filter pipeline would (shuffle, then deflate), the
//! root writes the header through netCDF (every variable defined, no data) and then every
//! chunk, in variable, slab and row order, with HDF5's direct chunk write. A chunk's bytes
//! depend only on its values, and one process writes the file in one order, so the file is
//! the same, byte for byte, on any number of ranks (docs/io.md). No rank but the writer of a
//! block ever holds its values, and the root holds only the compressed chunks gathered but
//! not yet written.

use std::ops::Range;
use std::os::raw::{c_int, c_void};
use std::path::{Path, PathBuf};

use super::atomic::explain_out_of_space;
use super::history::{
    check_rows, validate, write_netcdf, Compression, EnsembleStat, HistoryGrid, HistoryWrite,
    Layout, Prepared, FILL_VALUE,
};
use super::history_part::{chunk_rows, Wctx};
use super::IoError;

/// `hid_t` of HDF5 ≥ 1.10.
type Hid = i64;
const H5P_DEFAULT: Hid = 0;

extern "C" {
    // HDF5 ≥ 1.10.3 (Debian 12 has 1.10.8); linked through hdf5-metno-sys.
    fn H5Dwrite_chunk(
        dset_id: Hid,
        dxpl_id: Hid,
        filters: u32,
        offset: *const u64,
        data_size: usize,
        buf: *const c_void,
    ) -> c_int;
}

/// One compressed chunk of a data variable: its 2-D slab (member, layer) and row block.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub slab: usize,
    pub block: usize,
    pub bytes: Vec<u8>,
}

/// The data variables of one history file as chunks: what every rank needs to encode its rows.
pub struct ChunkPlan {
    path: PathBuf,
    /// Per data variable: its name and slab counts (checked once, reused by the header).
    prepared: Vec<Prepared>,
    vars: Vec<VarShape>,
    n_members: usize,
    ny: usize,
    nx: usize,
    rows_per_chunk: usize,
    compression: Compression,
}

/// The dimensions of a data variable before its 2-D slabs.
struct VarShape {
    with_time: bool,
    members: bool,
    layered: bool,
}

impl ChunkPlan {
    /// Check the file's header (`h` carries no data; `n_members` of `Members` fields).
    pub fn new(path: &Path, h: &HistoryWrite, n_members: usize) -> Result<Self, IoError> {
        let (prepared, n_members) = validate(path, h, Some(n_members))?;
        let with_time = h.grid.layout == Layout::Cf;
        let vars = h
            .fields
            .iter()
            .map(|f| VarShape {
                with_time,
                members: f.stat == EnsembleStat::Members,
                layered: f.layered,
            })
            .collect();
        Ok(ChunkPlan {
            path: path.to_path_buf(),
            prepared,
            vars,
            n_members,
            ny: h.grid.ny,
            nx: h.grid.nx,
            rows_per_chunk: chunk_rows(h.grid.ny),
            compression: h.compression,
        })
    }

    pub fn n_fields(&self) -> usize {
        self.vars.len()
    }

    /// 2-D slabs (members × layers) of field `k`.
    pub fn n_slabs(&self, k: usize) -> usize {
        let p = &self.prepared[k];
        p.n_members * p.n_layers
    }

    /// Encode field `k`'s values on `rows` (`[slab][row][x]`, anything off land; `rows`
    /// starts on a chunk boundary and ends on one or at the grid's end) into `out`. The file
    /// stores f32: f64 values are rounded here, f32 values are stored as they are.
    pub fn encode<V: Copy + Into<f64>>(
        &self,
        g: &HistoryGrid,
        k: usize,
        rows: Range<usize>,
        data: &[V],
        out: &mut Vec<Chunk>,
    ) -> Result<(), IoError> {
        if !rows.start.is_multiple_of(self.rows_per_chunk) {
            return Err(IoError::Invalid {
                path: self.path.clone(),
                msg: format!(
                    "rows {rows:?} do not start on a chunk of {}",
                    self.prepared[k].var
                ),
            });
        }
        check_rows(&self.path, g, &self.prepared[k], (data, rows.clone()))?;
        let n = rows.len() * self.nx;
        if n == 0 {
            return Ok(());
        }
        let mut values = Vec::with_capacity(self.rows_per_chunk * self.nx);
        let mut encoder = ChunkEncoder::new(self.compression);
        for (slab, slab_data) in data.chunks_exact(n).enumerate() {
            for r0 in rows.clone().step_by(self.rows_per_chunk) {
                let r1 = (r0 + self.rows_per_chunk).min(rows.end);
                let part = &slab_data[(r0 - rows.start) * self.nx..(r1 - rows.start) * self.nx];
                self.chunk_values(g, r0, part, &mut values);
                let bytes = encoder.encode(&values).map_err(|e| IoError::Invalid {
                    path: self.path.clone(),
                    msg: format!("compressing {}: {e}", self.prepared[k].var),
                })?;
                out.push(Chunk {
                    slab,
                    block: r0 / self.rows_per_chunk,
                    bytes,
                });
            }
        }
        Ok(())
    }

    /// A whole chunk's f32 values: land values rounded, `_FillValue` off land and on the rows
    /// of the last chunk beyond the grid.
    fn chunk_values<V: Copy + Into<f64>>(
        &self,
        g: &HistoryGrid,
        r0: usize,
        part: &[V],
        values: &mut Vec<f32>,
    ) {
        let mask = &g.land_mask[r0 * self.nx..r0 * self.nx + part.len()];
        values.clear();
        // f32 → f64 → f32 is exact, so f32 input is stored unchanged.
        values.extend(part.iter().zip(mask).map(
            |(&x, &land)| {
                if land {
                    x.into() as f32
                } else {
                    FILL_VALUE
                }
            },
        ));
        values.resize(self.rows_per_chunk * self.nx, FILL_VALUE);
    }

    /// The chunk's offset in variable `k`'s dataset.
    fn offset(&self, k: usize, c: &Chunk) -> Vec<u64> {
        let v = &self.vars[k];
        let n_layers = self.prepared[k].n_layers;
        let mut off = Vec::with_capacity(5);
        if v.with_time {
            off.push(0);
        }
        if v.members {
            off.push((c.slab / n_layers) as u64);
        }
        if v.layered {
            off.push((c.slab % n_layers) as u64);
        }
        off.push((c.block * self.rows_per_chunk) as u64);
        off.push(0);
        off
    }
}

/// HDF5's shuffle (4-byte elements) and deflate filters, in the order netCDF sets them, for
/// one chunk after another: the shuffled bytes, the compressed bytes and the compressor's
/// state are allocated once per field instead of once per chunk.
pub struct ChunkEncoder {
    deflate: Option<Deflater>,
    shuffle: bool,
    bytes: Vec<u8>,
    packed: Vec<u8>,
}

impl ChunkEncoder {
    /// An encoder for `comp` (deflate level 0: no deflate; levels above 9 are 9).
    pub fn new(comp: Compression) -> Self {
        ChunkEncoder {
            deflate: (comp.deflate_level > 0).then(|| Deflater::new(comp.deflate_level.min(9))),
            shuffle: comp.shuffle,
            bytes: Vec::new(),
            packed: Vec::new(),
        }
    }

    /// The chunk's stored bytes: the values little-endian, shuffled, then a zlib stream.
    pub fn encode(&mut self, values: &[f32]) -> std::io::Result<Vec<u8>> {
        if self.shuffle {
            shuffle4(values, &mut self.bytes);
        } else {
            self.bytes.clear();
            self.bytes
                .extend(values.iter().flat_map(|v| v.to_le_bytes()));
        }
        let Some(z) = self.deflate.as_mut() else {
            return Ok(self.bytes.clone());
        };
        let n = z.compress(&self.bytes, &mut self.packed)?;
        Ok(self.packed[..n].to_vec())
    }
}

/// The zlib-format deflate of one chunk, by the faster encoder for the level (on the 0.25°
/// history's shuffled chunks, 2026-12-03, docs/dependencies.md): level 1 by zlib-rs (its quick
/// strategy: 0.073 s for a 38 MB sample, where libdeflate's level 1 took 0.133 s), levels 2–9
/// by libdeflate (level 4: about 10 % less time per file in the cycle, 0.5 % smaller).
enum Deflater {
    Quick(flate2::Compress),
    Libdeflate(libdeflater::Compressor),
}

impl Deflater {
    fn new(level: u8) -> Self {
        if level <= 1 {
            return Deflater::Quick(flate2::Compress::new(flate2::Compression::new(1), true));
        }
        // 2–9 are always valid libdeflate levels (it takes 0–12).
        let lvl = libdeflater::CompressionLvl::new(i32::from(level)).unwrap_or_default();
        Deflater::Libdeflate(libdeflater::Compressor::new(lvl))
    }

    /// Compress `input` into `out` (resized to a bound, its memory reused): the stream's length.
    fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) -> std::io::Result<usize> {
        match self {
            Deflater::Libdeflate(z) => {
                out.resize(z.zlib_compress_bound(input.len()), 0);
                z.zlib_compress(input, out)
                    .map_err(|e| std::io::Error::other(format!("deflate: {e:?}")))
            }
            Deflater::Quick(z) => {
                // Above zlib-ng's bound for its quick strategy (literals of up to 9 bits: n/8
                // more), so the stream always fits.
                out.resize(input.len() + input.len() / 8 + 64, 0);
                z.reset();
                match z.compress(input, out, flate2::FlushCompress::Finish) {
                    Ok(flate2::Status::StreamEnd) => Ok(z.total_out() as usize),
                    Ok(status) => Err(std::io::Error::other(format!(
                        "deflate stopped early ({status:?})"
                    ))),
                    Err(e) => Err(std::io::Error::other(format!("deflate: {e}"))),
                }
            }
        }
    }
}

/// Byte `j` of element `i` goes to `j·n + i` (HDF5's H5Z shuffle for 4-byte elements), from
/// the values' little-endian bytes.
fn shuffle4(values: &[f32], out: &mut Vec<u8>) {
    let n = values.len();
    out.resize(4 * n, 0);
    for (j, plane) in out.chunks_exact_mut(n.max(1)).enumerate().take(4) {
        for (o, v) in plane.iter_mut().zip(values) {
            *o = (v.to_bits() >> (8 * j)) as u8;
        }
    }
}

/// Root: the file at `tmp` with everything but the data variables' chunks (`h` carries no
/// data and is the header `plan` was made from; `final_path` names the file in errors).
pub fn write_header(
    (tmp, final_path): (&Path, &Path),
    h: &HistoryWrite,
    plan: &ChunkPlan,
) -> Result<(), IoError> {
    hdf5::silence_errors(true);
    let final_path = final_path.to_path_buf();
    let c = Wctx::serial(&final_path, h.grid.ny);
    write_netcdf(tmp, &c, h, (&plan.prepared, plan.n_members), None)
        .map_err(|e| explain_out_of_space(&final_path, tmp, e))
}

/// Root: writes the chunks into the header file, one field at a time, in a fixed order.
pub struct ChunkWriter {
    file: hdf5::File,
    path: PathBuf,
    tmp: PathBuf,
}

impl ChunkWriter {
    pub fn open(tmp: &Path, final_path: &Path) -> Result<Self, IoError> {
        let file = hdf5::File::open_rw(tmp).map_err(|e| h5_err(final_path, "reopening", e))?;
        Ok(ChunkWriter {
            file,
            path: final_path.to_path_buf(),
            tmp: tmp.to_path_buf(),
        })
    }

    /// Write field `k`'s chunks (any order in; written sorted by slab and block). Every
    /// chunk of the field must be there exactly once.
    pub fn write_field(
        &self,
        plan: &ChunkPlan,
        k: usize,
        mut chunks: Vec<Chunk>,
    ) -> Result<(), IoError> {
        let (v, name) = (&plan.vars[k], &plan.prepared[k].var);
        chunks.sort_by_key(|c| (c.slab, c.block));
        let blocks = plan.ny.div_ceil(plan.rows_per_chunk);
        let complete = chunks.len() == plan.n_slabs(k) * blocks
            && chunks
                .iter()
                .enumerate()
                .all(|(i, c)| c.slab == i / blocks && c.block == i % blocks);
        if !complete {
            return Err(IoError::Invalid {
                path: self.path.clone(),
                msg: format!("variable {name}: chunks missing or repeated"),
            });
        }
        let ds = self
            .file
            .dataset(name)
            .map_err(|e| h5_err(&self.path, name, e))?;
        if v.with_time {
            let mut shape = ds.shape();
            shape[0] = 1;
            ds.resize(shape).map_err(|e| h5_err(&self.path, name, e))?;
        }
        for c in &chunks {
            self.put(&ds, &plan.offset(k, c), &c.bytes, name)
                .map_err(|e| explain_out_of_space(&self.path, &self.tmp, e))?;
        }
        Ok(())
    }

    fn put(
        &self,
        ds: &hdf5::Dataset,
        offset: &[u64],
        bytes: &[u8],
        var: &str,
    ) -> Result<(), IoError> {
        // SAFETY: a valid open dataset, an offset of its rank, a buffer of `bytes.len()` bytes;
        // the library lock is held.
        let rc = hdf5::sync::sync(|| unsafe {
            H5Dwrite_chunk(
                ds.id(),
                H5P_DEFAULT,
                0,
                offset.as_ptr(),
                bytes.len(),
                bytes.as_ptr().cast(),
            )
        });
        if rc < 0 {
            return Err(IoError::Invalid {
                path: self.path.clone(),
                msg: format!("writing a chunk of {var} at {offset:?} failed (H5Dwrite_chunk)"),
            });
        }
        Ok(())
    }

    /// Flush and close the file (still under its temporary name).
    pub fn close(self) -> Result<(), IoError> {
        let path = self.path.clone();
        self.file
            .flush()
            .map_err(|e| h5_err(&path, "flushing", e))?;
        self.file.close().map_err(|e| h5_err(&path, "closing", e))
    }
}

fn h5_err(path: &Path, what: &str, e: hdf5::Error) -> IoError {
    IoError::Invalid {
        path: path.to_path_buf(),
        msg: format!("HDF5 chunk writer, {what}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_groups_bytes_by_position() {
        let v = [
            f32::from_le_bytes([0, 1, 2, 3]),
            f32::from_le_bytes([4, 5, 6, 7]),
        ];
        let mut out = Vec::new();
        shuffle4(&v, &mut out);
        assert_eq!(out, vec![0, 4, 1, 5, 2, 6, 3, 7]);
    }

    #[test]
    fn uncompressed_chunk_is_the_little_endian_values() {
        let comp = Compression {
            deflate_level: 0,
            shuffle: false,
        };
        let bytes = ChunkEncoder::new(comp).encode(&[1.0, -2.5]).unwrap();
        let back: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(back, vec![1.0, -2.5]);
    }

    #[test]
    fn deflated_chunk_is_a_zlib_stream_of_the_shuffled_bytes() {
        use std::io::Read;
        let values: Vec<f32> = (0..3000).map(|i| (i as f32 * 0.01).sin()).collect();
        // Random-looking bytes too: the worst case of the output bound.
        let noise: Vec<f32> = (0..3000u32)
            .map(|i| f32::from_bits(i.wrapping_mul(2_654_435_761) >> 2))
            .collect();
        for level in [1, 4, 9] {
            let comp = Compression {
                deflate_level: level,
                shuffle: true,
            };
            let mut enc = ChunkEncoder::new(comp);
            for v in [&values, &noise] {
                let first = enc.encode(v).unwrap();
                // The same values again through the reused state give the same bytes.
                assert_eq!(enc.encode(v).unwrap(), first, "level {level}");
                let mut inflated = Vec::new();
                flate2::read::ZlibDecoder::new(&first[..])
                    .read_to_end(&mut inflated)
                    .unwrap();
                let mut shuffled = Vec::new();
                shuffle4(v, &mut shuffled);
                assert_eq!(inflated, shuffled, "level {level}");
            }
            assert!(enc.encode(&values).unwrap().len() < 4 * values.len());
        }
    }
}
