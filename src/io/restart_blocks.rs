//! Restart integrity by fixed blocks of cells (format versions 2 to 4).
//!
//! Cells are stored in global id order; block `b` holds rows `b·B .. (b+1)·B` (the last one
//! shorter), B = [`BLOCK_CELLS`]. Each block has one digest over its cell ids and one per
//! field over its rows of values (so a damaged byte is reported with its dataset): SHA-256 in
//! versions 2 and 3, XXH3-128 in version 4 (see [`BlockHash`]). The file checksum (SHA-256)
//! hashes the header and all digests, block by block. Neither depends on which rank wrote which rows, so ranks can
//! write and verify their own blocks and the result is the same on any rank count.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::ops::Range;
use xxhash_rust::xxh3::Xxh3;

/// Cells per integrity block (and the unit of the I/O decomposition). Small enough that a
/// rank reading a few cells reads little more, and that small domains still spread over
/// ranks; the digests cost 16 (version 4) or 32 bytes per field per block.
pub const BLOCK_CELLS: usize = 64;

/// One block digest, as held in memory: a SHA-256, or an XXH3-128 (little-endian) in the
/// first 16 bytes and zeros after. A block has `1 + n_fields` of them: cell ids, then each
/// field in stored order; lists of digests are block-major.
pub type BlockDigest = [u8; 32];

/// The hash of the block digests. The blocks are every value of the restart (1.2 GB per
/// rank-window at 0.25° with 20 members): SHA-256 of them took 0.29 s per 600 MB even with
/// the CPU's SHA extensions, on the writing thread that competes with the ranks for their
/// cores; XXH3-128 takes 0.03 s. The blocks guard against damage, not forgery (the file
/// checksum over them stays SHA-256), which a 128-bit XXH3 does as well.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockHash {
    /// Format versions 2 and 3: dataset `block_sha256`.
    Sha256,
    /// Format version 4: dataset `block_xxh3_128`.
    Xxh3_128,
}

impl BlockHash {
    /// The block hash of restart format `version` (2 or newer).
    pub fn of_version(version: u32) -> Self {
        if version >= 4 {
            BlockHash::Xxh3_128
        } else {
            BlockHash::Sha256
        }
    }
    /// Bytes of one digest as stored.
    pub fn bytes(self) -> usize {
        match self {
            BlockHash::Sha256 => 32,
            BlockHash::Xxh3_128 => 16,
        }
    }
    /// The dataset holding the stored digests.
    pub fn dataset(self) -> &'static str {
        match self {
            BlockHash::Sha256 => "block_sha256",
            BlockHash::Xxh3_128 => "block_xxh3_128",
        }
    }
    /// Its name in messages.
    pub fn name(self) -> &'static str {
        match self {
            BlockHash::Sha256 => "SHA-256",
            BlockHash::Xxh3_128 => "XXH3-128",
        }
    }
}

enum Hasher {
    Sha(Sha256),
    Xxh(Box<Xxh3>),
}

impl Hasher {
    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Sha(h) => h.update(b),
            Hasher::Xxh(h) => h.update(b),
        }
    }
}

/// Incremental hash (SHA-256 unless made for a block) over a canonical byte stream: integers
/// as u64 LE, values as f64 LE, strings as u64-LE length + UTF-8 bytes.
pub struct Canon(Hasher);

impl Canon {
    pub(super) fn new() -> Self {
        Canon(Hasher::Sha(Sha256::new()))
    }
    /// A block digest's hasher.
    fn block(hash: BlockHash) -> Self {
        match hash {
            BlockHash::Sha256 => Self::new(),
            BlockHash::Xxh3_128 => Canon(Hasher::Xxh(Box::new(Xxh3::new()))),
        }
    }
    pub(super) fn u64(&mut self, x: u64) {
        self.0.update(&x.to_le_bytes());
    }
    pub(super) fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.0.update(s.as_bytes());
    }
    pub(super) fn bytes(&mut self, b: &[u8]) {
        self.0.update(b);
    }
    pub(super) fn f64s(&mut self, v: &[f64]) {
        self.words(v, |x| x.to_le_bytes());
    }
    pub(super) fn u64s(&mut self, v: &[u64]) {
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
    pub(super) fn digest(self) -> BlockDigest {
        match self.0 {
            Hasher::Sha(h) => h.finalize().into(),
            Hasher::Xxh(h) => {
                let mut d = [0u8; 32];
                d[..16].copy_from_slice(&h.digest128().to_le_bytes());
                d
            }
        }
    }
    pub(super) fn hex(self) -> String {
        self.digest().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Number of blocks of a file with `n_cells` cells.
pub fn n_blocks(n_cells: usize) -> usize {
    n_cells.div_ceil(BLOCK_CELLS)
}

/// Rows a rank writes: whole blocks, split as evenly as possible, in rank order (so rank
/// order is block order).
pub fn io_rows(n_cells: usize, rank: usize, n_ranks: usize) -> Range<usize> {
    let nb = n_blocks(n_cells);
    let first = |r: usize| (nb * r / n_ranks * BLOCK_CELLS).min(n_cells);
    first(rank)..first(rank + 1)
}

/// A field's stored rows as hashed: `f64` values, or their bytes as stored (little-endian).
pub trait StoredRows {
    #[doc(hidden)]
    fn hash_rows(&self, c: &mut Canon, range: Range<usize>);
}

impl StoredRows for [f64] {
    fn hash_rows(&self, c: &mut Canon, range: Range<usize>) {
        c.f64s(&self[range]);
    }
}

impl StoredRows for [u8] {
    fn hash_rows(&self, c: &mut Canon, range: Range<usize>) {
        c.bytes(&self[range]);
    }
}

/// Digests of the whole blocks in rows `rows` (which start on a block boundary and end on one
/// or at the last cell), block-major, `1 + fields.len()` per block: `ids` are the rows' cell
/// ids and `fields` each field's rows `[cell][member][per_cell]` with its row length
/// (members × per_cell), in stored order: values as `f64`, or their little-endian bytes
/// with the row length in bytes (the same digests).
pub fn block_digests<R: StoredRows + ?Sized>(
    hash: BlockHash,
    rows: Range<usize>,
    ids: &[u64],
    fields: &[(&R, usize)],
) -> Vec<BlockDigest> {
    debug_assert!(rows.start.is_multiple_of(BLOCK_CELLS));
    let n = rows.len();
    let mut out = Vec::with_capacity(n.div_ceil(BLOCK_CELLS) * (1 + fields.len()));
    for b in 0..n.div_ceil(BLOCK_CELLS) {
        let (a, e) = (b * BLOCK_CELLS, ((b + 1) * BLOCK_CELLS).min(n));
        let mut c = Canon::block(hash);
        c.u64s(&ids[a..e]);
        out.push(c.digest());
        for (values, row_len) in fields {
            let mut c = Canon::block(hash);
            values.hash_rows(&mut c, a * row_len..e * row_len);
            out.push(c.digest());
        }
    }
    out
}

/// What the file checksum covers besides the blocks.
pub struct ChecksumHeader<'a> {
    /// Format version (2 to 4).
    pub version: u32,
    pub valid_time: &'a str,
    pub fingerprint: &'a str,
    pub model_name: &'a str,
    pub n_members: usize,
    pub n_cells: usize,
    /// Per group (name, fields as (name, per_cell)), in stored order.
    pub groups: [(&'a str, &'a [(String, usize)]); 2],
    pub attributes: &'a BTreeMap<String, String>,
    /// Format version 3: the self-description (units, names, coordinates).
    pub meta: Option<&'a super::restart_meta::RestartMeta>,
}

/// The file checksum of format version 2 (hex SHA-256): `"landcycle-restart-v2"`, valid time,
/// fingerprint, model name, n_members, n_cells, block size; per group its name, field count and
/// each field's name and per-cell length; the attribute count and each (key, value) in key
/// order; the block count and the block digests in block order. Format version 3 starts with
/// `"landcycle-restart-v3"` and adds the self-description after the attributes
/// (`restart_meta::canon_meta`); version 4 starts with `"landcycle-restart-v4"` and hashes
/// the 16 bytes of each XXH3-128 block digest.
pub fn checksum_v2(h: &ChecksumHeader, digests: &[BlockDigest]) -> String {
    let mut c = Canon::new();
    c.str(&format!("landcycle-restart-v{}", h.version));
    c.str(h.valid_time);
    c.str(h.fingerprint);
    c.str(h.model_name);
    c.u64(h.n_members as u64);
    c.u64(h.n_cells as u64);
    c.u64(BLOCK_CELLS as u64);
    for (g, fields) in h.groups {
        c.str(g);
        c.u64(fields.len() as u64);
        for (name, per_cell) in fields {
            c.str(name);
            c.u64(*per_cell as u64);
        }
    }
    c.u64(h.attributes.len() as u64);
    for (k, v) in h.attributes {
        c.str(k);
        c.str(v);
    }
    if let Some(m) = h.meta {
        super::restart_meta::canon_meta(&mut c, m);
    }
    c.u64(digests.len() as u64);
    let len = BlockHash::of_version(h.version).bytes();
    for d in digests {
        c.bytes(&d[..len]);
    }
    c.hex()
}

/// Digests as u64 words (4 per digest, little-endian) for the collectives, and back.
pub fn digests_to_words(d: &[BlockDigest]) -> Vec<u64> {
    d.iter()
        .flat_map(|b| {
            b.chunks_exact(8)
                .map(|w| u64::from_le_bytes(w.try_into().unwrap()))
        })
        .collect()
}

/// Inverse of [`digests_to_words`]; `None` when the length is not a multiple of 4.
pub fn digests_from_words(w: &[u64]) -> Option<Vec<BlockDigest>> {
    if !w.len().is_multiple_of(4) {
        return None;
    }
    Some(
        w.chunks_exact(4)
            .map(|q| {
                let mut d = [0u8; 32];
                for (dst, x) in d.chunks_exact_mut(8).zip(q) {
                    dst.copy_from_slice(&x.to_le_bytes());
                }
                d
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_rows_cover_every_cell_once_on_block_boundaries() {
        for n in [0, 1, 1023, 1024, 1025, 5000, 100_000] {
            for p in 1..6 {
                let mut next = 0;
                for r in 0..p {
                    let rows = io_rows(n, r, p);
                    assert_eq!(rows.start, next);
                    assert!(rows.start.is_multiple_of(BLOCK_CELLS) || rows.start == n);
                    next = rows.end;
                }
                assert_eq!(next, n);
            }
        }
    }

    #[test]
    fn digests_do_not_depend_on_the_split() {
        for hash in [BlockHash::Sha256, BlockHash::Xxh3_128] {
            let n = 3 * BLOCK_CELLS + 17;
            let ids: Vec<u64> = (0..n as u64).map(|i| 3 * i + 1).collect();
            let vals: Vec<f64> = (0..2 * n).map(|i| i as f64 * 0.5).collect();
            let whole = block_digests(hash, 0..n, &ids, &[(vals.as_slice(), 2)]);
            let b = BLOCK_CELLS;
            let mut split = block_digests(hash, 0..b, &ids[..b], &[(&vals[..2 * b], 2)]);
            split.extend(block_digests(hash, b..n, &ids[b..], &[(&vals[2 * b..], 2)]));
            assert_eq!(whole, split);
            assert_eq!(whole.len(), 4 * 2);
            let mut changed = vals.clone();
            changed[2 * n - 1] += 1e-12;
            let other = block_digests(hash, 0..n, &ids, &[(changed.as_slice(), 2)]);
            assert_eq!(other[..7], whole[..7]);
            assert_ne!(other[7], whole[7]);
            assert_eq!(
                digests_from_words(&digests_to_words(&whole)).unwrap(),
                whole
            );
        }
    }

    #[test]
    fn block_digests_hash_the_stored_bytes() {
        // Values and their little-endian bytes give one digest; it is the one-shot hash of
        // those bytes (past the 64 KiB feeding buffer), SHA-256 or XXH3-128 + 16 zero bytes.
        let n = 2 * BLOCK_CELLS;
        let ids: Vec<u64> = (0..n as u64).collect();
        let vals: Vec<f64> = (0..n * 100).map(|i| (i as f64).sin()).collect();
        let bytes: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
        let rows = BLOCK_CELLS * 100;
        let block1 = &bytes[8 * rows..];
        for hash in [BlockHash::Sha256, BlockHash::Xxh3_128] {
            let of_values = block_digests(hash, 0..n, &ids, &[(vals.as_slice(), 100)]);
            let of_bytes = block_digests(hash, 0..n, &ids, &[(bytes.as_slice(), 800)]);
            assert_eq!(of_values, of_bytes);
            let mut want = [0u8; 32];
            match hash {
                BlockHash::Sha256 => want.copy_from_slice(&Sha256::digest(block1)),
                BlockHash::Xxh3_128 => {
                    want[..16].copy_from_slice(&xxhash_rust::xxh3::xxh3_128(block1).to_le_bytes())
                }
            }
            assert_eq!(of_values[3], want);
        }
        assert_ne!(
            block_digests(BlockHash::Sha256, 0..n, &ids, &[(vals.as_slice(), 100)]),
            block_digests(BlockHash::Xxh3_128, 0..n, &ids, &[(vals.as_slice(), 100)])
        );
    }
}
