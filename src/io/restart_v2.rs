//! Reading and verifying restart format versions 2 to 4: every block read is checked against
//! its stored digests (SHA-256, or XXH3-128 from version 4), and the stored digests against
//! the file checksum.

use super::restart::{
    checksum_error, corrupt, read_dataset_rows, wanted_rows, Header, RestartData, RestartField,
    GROUPS,
};
use super::restart_blocks::BLOCK_CELLS;
use super::restart_blocks::{block_digests, n_blocks, BlockDigest, BlockHash};
use super::restart_writer::row_lens_of;
use super::IoError;
use std::path::Path;

/// Blocks read at a time when streaming a whole file.
const STREAM_BLOCKS: usize = 16;

/// The stored digests of a version-2 file with `n` cells and `k` digests per block.
pub(super) fn read_stored_digests(
    file: &hdf5::File,
    path: &Path,
    (n, k): (usize, usize),
    hash: BlockHash,
) -> Result<Vec<BlockDigest>, IoError> {
    let bc = file
        .attr("block_cells")
        .and_then(|a| a.read_scalar::<u64>())
        .map_err(|e| corrupt(path, "attribute block_cells", e.to_string()))?;
    if bc != BLOCK_CELLS as u64 {
        return Err(corrupt(
            path,
            "attribute block_cells",
            format!("is {bc}, expected {BLOCK_CELLS}"),
        ));
    }
    let (name, len) = (hash.dataset(), hash.bytes());
    let what = format!("dataset {name}");
    let ds = file
        .dataset(name)
        .map_err(|e| corrupt(path, &what, e.to_string()))?;
    let nb = n_blocks(n);
    if ds.shape() != [nb, k, len] {
        return Err(corrupt(
            path,
            &what,
            format!("has shape {:?}, expected [{nb}, {k}, {len}]", ds.shape()),
        ));
    }
    let raw: Vec<u8> = ds
        .read_raw()
        .map_err(|e| corrupt(path, &what, e.to_string()))?;
    Ok(raw
        .chunks_exact(len)
        .map(|c| {
            let mut d = [0u8; 32];
            d[..len].copy_from_slice(c);
            d
        })
        .collect())
}

/// Names of the digests of one block: `cell_id`, then `group/field`.
fn digest_names(h: &Header) -> Vec<String> {
    let mut names = vec!["cell_id".to_string()];
    for (g, fields) in GROUPS.iter().zip(&h.fields) {
        names.extend(fields.iter().map(|(f, _)| format!("{g}/{f}")));
    }
    names
}

fn hash_of(h: &Header) -> BlockHash {
    BlockHash::of_version(h.version)
}

fn row_lens(h: &Header) -> Vec<usize> {
    row_lens_of(h.n_members, &h.fields)
}

/// Compare digests computed for the blocks starting at `first_block` with the stored ones.
fn check_blocks(
    path: &Path,
    h: &Header,
    first_block: usize,
    computed: &[BlockDigest],
) -> Result<(), IoError> {
    let k = 1 + h.fields[0].len() + h.fields[1].len();
    let stored = &h.digests[first_block * k..first_block * k + computed.len()];
    match computed.iter().zip(stored).position(|(a, b)| a != b) {
        None => Ok(()),
        Some(i) => {
            let b = first_block + i / k;
            let (a, e) = (
                b * BLOCK_CELLS,
                ((b + 1) * BLOCK_CELLS).min(h.cell_ids.len()),
            );
            Err(corrupt(
                path,
                format!("dataset {}", digest_names(h)[i % k]),
                format!(
                    "block {b} (rows {a}..{e}) fails its {} checksum: the file is corrupt",
                    hash_of(h).name()
                ),
            ))
        }
    }
}

/// The stored digests must give the stored file checksum.
fn check_file_checksum(path: &Path, h: &Header) -> Result<(), IoError> {
    let computed = h.layout().checksum_as(h.version, &h.digests);
    if computed != h.checksum {
        return Err(checksum_error(path, &h.checksum, computed));
    }
    Ok(())
}

/// Check a completely read version-2 file.
pub(super) fn verify_data_v2(
    path: &Path,
    h: &Header,
    groups: &[Vec<RestartField>; 2],
) -> Result<(), IoError> {
    check_file_checksum(path, h)?;
    let lens = row_lens(h);
    let fields: Vec<(&[f64], usize)> = groups
        .iter()
        .flatten()
        .map(|f| f.values.as_slice())
        .zip(lens)
        .collect();
    let n = h.cell_ids.len();
    let computed = block_digests(hash_of(h), 0..n, &h.cell_ids, &fields);
    check_blocks(path, h, 0, &computed)
}

/// Read rows `rows` (whole blocks) of every field, model fields first.
fn read_rows(
    file: &hdf5::File,
    path: &Path,
    h: &Header,
    rows: std::ops::Range<usize>,
) -> Result<Vec<Vec<f64>>, IoError> {
    let mut out = Vec::new();
    for (g, fields) in GROUPS.iter().zip(&h.fields) {
        for (name, _) in fields {
            out.push(read_dataset_rows(
                file,
                path,
                &format!("{g}/{name}"),
                rows.clone(),
            )?);
        }
    }
    Ok(out)
}

/// Digests of rows `rows` read from the file, checked against the stored ones.
fn read_checked(
    file: &hdf5::File,
    path: &Path,
    h: &Header,
    rows: std::ops::Range<usize>,
) -> Result<Vec<Vec<f64>>, IoError> {
    let vals = read_rows(file, path, h, rows.clone())?;
    let fields: Vec<(&[f64], usize)> = vals.iter().map(Vec::as_slice).zip(row_lens(h)).collect();
    let computed = block_digests(hash_of(h), rows.clone(), &h.cell_ids[rows.clone()], &fields);
    check_blocks(path, h, rows.start / BLOCK_CELLS, &computed)?;
    Ok(vals)
}

/// Stream a whole version-2 file, a few blocks at a time, checking every digest.
pub(super) fn verify_restart_v2(file: &hdf5::File, path: &Path, h: &Header) -> Result<(), IoError> {
    check_file_checksum(path, h)?;
    let n = h.cell_ids.len();
    let step = STREAM_BLOCKS * BLOCK_CELLS;
    for a in (0..n).step_by(step) {
        read_checked(file, path, h, a..(a + step).min(n))?;
    }
    Ok(())
}

/// The rows of `cell_ids` (requested order), reading and checking only the blocks they lie in.
pub(super) fn read_restart_cells_v2(
    file: &hdf5::File,
    path: &Path,
    h: Header,
    cell_ids: &[u64],
) -> Result<RestartData, IoError> {
    check_file_checksum(path, &h)?;
    let wanted = wanted_rows(path, &h, cell_ids)?;
    let lens = row_lens(&h);
    let mut out: Vec<Vec<f64>> = lens.iter().map(|l| vec![0.0; cell_ids.len() * l]).collect();
    let n = h.cell_ids.len();
    let mut i = 0;
    while i < wanted.len() {
        // Consecutive touched blocks are read together (at most STREAM_BLOCKS).
        let first = wanted[i].0 / BLOCK_CELLS;
        let mut end_block = first + 1;
        let mut j = i;
        while j < wanted.len() {
            let b = wanted[j].0 / BLOCK_CELLS;
            if b > end_block || b >= first + STREAM_BLOCKS {
                break;
            }
            end_block = b + 1;
            j += 1;
        }
        let a = first * BLOCK_CELLS;
        let vals = read_checked(file, path, &h, a..(end_block * BLOCK_CELLS).min(n))?;
        for &(row, pos) in &wanted[i..j] {
            let r = row - a;
            for ((dst, src), l) in out.iter_mut().zip(&vals).zip(&lens) {
                dst[pos * l..(pos + 1) * l].copy_from_slice(&src[r * l..(r + 1) * l]);
            }
        }
        i = j;
    }
    let mut values = out.into_iter();
    let mut take = |fields: &[(String, usize)]| -> Vec<RestartField> {
        fields
            .iter()
            .map(|(name, per_cell)| RestartField {
                name: name.clone(),
                per_cell: *per_cell,
                values: values.next().unwrap_or_default(),
            })
            .collect()
    };
    let groups = [take(&h.fields[0]), take(&h.fields[1])];
    let mut h = h;
    if let Some(m) = h.meta.as_mut().filter(|m| !m.lat.is_empty()) {
        // The coordinates of the requested cells, in the requested order.
        let (mut lat, mut lon) = (vec![0.0; cell_ids.len()], vec![0.0; cell_ids.len()]);
        for &(row, pos) in &wanted {
            (lat[pos], lon[pos]) = (m.lat[row], m.lon[row]);
        }
        (m.lat, m.lon) = (lat, lon);
    }
    Ok(h.into_data(cell_ids.to_vec(), groups))
}
