//! Errors of the communicator facade. Argument errors are agreed on across ranks before
//! any data moves (see [`agree`]), so every rank returns an error together and the
//! collective sequence stays in step.

use super::Communicator;

/// What can go wrong in a collective or at MPI start-up, with the offending values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParallelError {
    #[error("{op}: rank {rank} passed {got} send blocks, expected one per rank ({expected})")]
    BlockCount {
        op: &'static str,
        rank: usize,
        got: usize,
        expected: usize,
    },
    #[error("{op}: rank {rank} passed counts adding up to {counted} for {len} values")]
    CountSum {
        op: &'static str,
        rank: usize,
        counted: usize,
        len: usize,
    },
    #[error("{op}: rank {rank} passed block {start}..{end} of a {len}-value buffer")]
    BlockRange {
        op: &'static str,
        rank: usize,
        start: usize,
        end: usize,
        len: usize,
    },
    #[error("split: colour {color} is above the MPI limit {max}")]
    ColorOutOfRange { color: u32, max: u32 },
    #[error("split: key {key} is above the MPI limit {max}")]
    KeyOutOfRange { key: usize, max: usize },
    #[error("{op}: another rank passed invalid arguments (this rank's were valid)")]
    OtherRankFailed { op: &'static str },
    #[error("MPI was already initialised in this process")]
    AlreadyInitialised,
    #[error("world rank {world_rank} has MPI_APPNUM {appnum}; application numbers must be >= 0")]
    NegativeAppnum { world_rank: usize, appnum: i32 },
    #[error("{count} applications in MPI_COMM_WORLD; coupling supports at most 2")]
    TooManyApps { count: usize },
}

/// Largest colour or key MPI accepts (a C `int`).
const MPI_INT_MAX: u32 = i32::MAX as u32;

/// Agree on a locally checked result: `Ok` on every rank only when it is `Ok` on every rank.
/// One all-reduce, called by every rank, so a rank with bad arguments never leaves the
/// others blocked in the collective that follows.
pub(super) fn agree<C, T>(
    comm: &C,
    op: &'static str,
    local: Result<T, ParallelError>,
) -> Result<T, ParallelError>
where
    C: Communicator + ?Sized,
{
    let all_ok = comm.all_ok(local.is_ok());
    match local {
        Ok(_) if !all_ok => Err(ParallelError::OtherRankFailed { op }),
        other => other,
    }
}

/// Local check of an all-to-all send list: one block per rank.
pub(super) fn check_block_count(
    blocks: usize,
    size: usize,
    rank: usize,
) -> Result<(), ParallelError> {
    if blocks == size {
        Ok(())
    } else {
        Err(ParallelError::BlockCount {
            op: "alltoallv",
            rank,
            got: blocks,
            expected: size,
        })
    }
}

/// Local check of a flat all-to-all: one count per rank, adding up to the buffer length.
pub(super) fn check_flat_counts(
    len: usize,
    counts: &[usize],
    size: usize,
    rank: usize,
) -> Result<(), ParallelError> {
    check_block_count(counts.len(), size, rank)?;
    let counted: usize = counts.iter().sum();
    if counted == len {
        Ok(())
    } else {
        Err(ParallelError::CountSum {
            op: "alltoallv",
            rank,
            counted,
            len,
        })
    }
}

/// Local check of an all-to-all by ranges: one range per rank, each within the buffer.
pub(super) fn check_ranges(
    len: usize,
    ranges: &[std::ops::Range<usize>],
    size: usize,
    rank: usize,
) -> Result<(), ParallelError> {
    check_block_count(ranges.len(), size, rank)?;
    match ranges.iter().find(|r| r.start > r.end || r.end > len) {
        None => Ok(()),
        Some(r) => Err(ParallelError::BlockRange {
            op: "alltoallv",
            rank,
            start: r.start,
            end: r.end,
            len,
        }),
    }
}

/// Local check of split arguments: MPI takes colour and key as non-negative C ints.
pub(super) fn check_split_args(color: u32, key: usize) -> Result<(i32, i32), ParallelError> {
    let c = i32::try_from(color).map_err(|_| ParallelError::ColorOutOfRange {
        color,
        max: MPI_INT_MAX,
    })?;
    let k = i32::try_from(key).map_err(|_| ParallelError::KeyOutOfRange {
        key,
        max: MPI_INT_MAX as usize,
    })?;
    Ok((c, k))
}
