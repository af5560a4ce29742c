//! The only room that names MPI: a small communicator facade (rank, size, gatherv,
//! allgatherv, scatterv, alltoallv, allreduce, broadcast, barrier, split) with a
//! single-process implementation for tests and tools, plus MPMD start-up for coupling two
//! applications launched together.
//!
//! Contract: every collective is called by all ranks of the communicator in the same
//! order, with the same root. Errors that one rank detects are agreed on with
//! [`Communicator::all_ok`] before the next collective, so a failing rank never leaves the
//! others waiting forever; the collectives that validate arguments ([`Communicator::alltoallv_f64`],
//! [`Communicator::split`]) do this agreement themselves and fail on every rank together.
//! [`SingleProcess`] and a one-rank [`MpiComm`] give the same results.

mod error;
mod file_comm;
mod mpi_comm;
mod mpmd;
mod peer_record;
mod single;

pub use error::ParallelError;
pub use file_comm::FileComm;
pub use mpi_comm::MpiComm;
pub use mpmd::Peer;
pub use peer_record::{PeerChannel, PeerError, PeerRecord};
pub use single::SingleProcess;

/// Collective operations landcycle needs. Implemented by [`SingleProcess`] and [`MpiComm`].
pub trait Communicator {
    fn rank(&self) -> usize;
    fn size(&self) -> usize;
    fn is_root(&self) -> bool {
        self.rank() == 0
    }
    fn barrier(&self);
    /// Gather variable-length blocks on `root`: `Some(blocks indexed by rank)` there, `None` elsewhere.
    fn gatherv_f64(&self, send: &[f64], root: usize) -> Option<Vec<Vec<f64>>>;
    /// As [`Communicator::gatherv_f64`], taking the send buffer by value so that an
    /// implementation can hand it over without copying (a single process does).
    fn gatherv_f64_owned(&self, send: Vec<f64>, root: usize) -> Option<Vec<Vec<f64>>> {
        self.gatherv_f64(&send, root)
    }
    /// As [`Communicator::gatherv_f64`] for unsigned integers (cell ids, counts).
    fn gatherv_u64(&self, send: &[u64], root: usize) -> Option<Vec<Vec<u64>>>;
    /// Scatter variable-length blocks from `root` (`blocks` is read on root only).
    fn scatterv_f64(&self, blocks: Option<&[Vec<f64>]>, root: usize) -> Vec<f64>;
    fn allreduce_sum_f64(&self, x: f64) -> f64;
    fn allreduce_max_f64(&self, x: f64) -> f64;
    fn allreduce_sum_u64(&self, x: u64) -> u64;
    /// Broadcast a byte buffer from `root` (its length included).
    fn broadcast_bytes(&self, buf: &mut Vec<u8>, root: usize);
    /// As [`Communicator::broadcast_bytes`] for values: root's `buf` (length included) on
    /// every rank, moved as doubles (no conversion to bytes and back).
    fn broadcast_f64(&self, buf: &mut Vec<f64>, root: usize);
    /// True on every rank when `ok` is true on every rank.
    fn all_ok(&self, ok: bool) -> bool {
        self.allreduce_sum_u64(if ok { 0 } else { 1 }) == 0
    }
    /// Every rank receives every rank's block (lengths may differ), indexed by rank.
    fn allgatherv_f64(&self, send: &[f64]) -> Vec<Vec<f64>>;
    /// As [`Communicator::allgatherv_f64`] into one flat buffer: every rank's block in rank
    /// order, back to back in `recv` (resized, its memory reused); returns the block lengths.
    /// For large gathers: no block vectors and no joining copy.
    fn allgatherv_flat_f64(&self, send: &[f64], recv: &mut Vec<f64>) -> Vec<usize>;
    /// As [`Communicator::allgatherv_f64`] for unsigned integers.
    fn allgatherv_u64(&self, send: &[u64]) -> Vec<Vec<u64>>;
    /// Personalised exchange (cells <-> members transposition): `send[r]` goes to rank `r`;
    /// result `[r]` is the block rank `r` sent to this rank. Blocks may be empty.
    /// `send.len()` must equal [`Communicator::size`]; if it does not on some rank, every
    /// rank returns an error ([`ParallelError::BlockCount`] there,
    /// [`ParallelError::OtherRankFailed`] elsewhere) and no data moves.
    fn alltoallv_f64(&self, send: &[Vec<f64>]) -> Result<Vec<Vec<f64>>, ParallelError>;
    /// As [`Communicator::alltoallv_f64`] on flat buffers, for large repeated exchanges:
    /// `send` holds the blocks for ranks 0, 1, … back to back, `counts[r]` values for rank
    /// `r`; the blocks received are written back to back into `recv` (resized, its memory
    /// reused) and their lengths returned, indexed by sending rank. Errors as there (also
    /// when the counts do not add up to `send.len()`).
    fn alltoallv_flat_f64(
        &self,
        send: &[f64],
        counts: &[usize],
        recv: &mut Vec<f64>,
    ) -> Result<Vec<usize>, ParallelError>;
    /// As [`Communicator::alltoallv_flat_f64`] with the block for rank `r` read from
    /// `send[ranges[r]]`: blocks may leave parts of `send` out (e.g. this rank's own, kept
    /// in place), so a caller sends slices of a buffer it already has without copying them.
    /// Errors as there (also when a range lies outside `send`).
    fn alltoallv_ranges_f64(
        &self,
        send: &[f64],
        ranges: &[std::ops::Range<usize>],
        recv: &mut Vec<f64>,
    ) -> Result<Vec<usize>, ParallelError>;
    /// As [`Communicator::alltoallv_flat_f64`] for single-precision values (what history
    /// files store: half the bytes to move).
    fn alltoallv_flat_f32(
        &self,
        send: &[f32],
        counts: &[usize],
        recv: &mut Vec<f32>,
    ) -> Result<Vec<usize>, ParallelError>;
    /// `MPI_Comm_split`: ranks with the same `color` form a new communicator, ranked by
    /// `key` (ties by rank here). Collective; colour and key must fit a C `int`, otherwise
    /// every rank returns an error.
    fn split(&self, color: u32, key: usize) -> Result<Box<dyn Communicator>, ParallelError>;
    /// The handle for collective (MPI-IO) file access; `None` for a single process without
    /// MPI, which writes the same files serially.
    fn file_comm(&self) -> Option<FileComm> {
        None
    }
    /// The other application's root in an MPMD launch, seen from this application's root;
    /// `None` on other ranks and without a second application.
    fn mpmd_peer(&self) -> Option<Peer<'_>> {
        None
    }
}

/// Positions `(rank, k)` of gathered items in ascending global id order (`ids[r][k]` is the
/// global index of the `k`-th item of rank `r`): the order of [`merge_by_id`], without
/// copying the values.
pub fn order_by_id(ids: &[Vec<u64>]) -> Vec<(u64, usize, usize)> {
    let mut order: Vec<(u64, usize, usize)> = ids
        .iter()
        .enumerate()
        .flat_map(|(r, rank_ids)| rank_ids.iter().enumerate().map(move |(k, &id)| (id, r, k)))
        .collect();
    // (id, rank, k) ascending: equal ids (never produced by a decomposition) keep rank and
    // gather order.
    order.sort_unstable();
    order
}

/// Place values gathered per rank back into global order: `ids[r][k]` is the global index of
/// the `k`-th item of rank `r`, each item `width` values long. Returns `(index, values)` pairs
/// sorted by index, so the result is independent of the decomposition.
pub fn merge_by_id(ids: &[Vec<u64>], values: &[Vec<f64>], width: usize) -> Vec<(u64, Vec<f64>)> {
    order_by_id(ids)
        .into_iter()
        .map(|(id, r, k)| (id, values[r][k * width..(k + 1) * width].to_vec()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_process_collectives_are_identities() {
        let c = SingleProcess;
        assert_eq!(c.size(), 1);
        assert_eq!(c.gatherv_f64(&[1.0, 2.0], 0), Some(vec![vec![1.0, 2.0]]));
        assert_eq!(c.scatterv_f64(Some(&[vec![3.0]]), 0), vec![3.0]);
        assert_eq!(c.allreduce_sum_f64(2.5), 2.5);
        assert!(c.all_ok(true));
        assert!(!c.all_ok(false));
    }

    #[test]
    fn merge_orders_by_global_id() {
        let ids = vec![vec![5, 1], vec![3]];
        let vals = vec![vec![50.0, 51.0, 10.0, 11.0], vec![30.0, 31.0]];
        let m = merge_by_id(&ids, &vals, 2);
        assert_eq!(
            m,
            vec![
                (1, vec![10.0, 11.0]),
                (3, vec![30.0, 31.0]),
                (5, vec![50.0, 51.0])
            ]
        );
        assert_eq!(order_by_id(&ids), vec![(1, 0, 1), (3, 1, 0), (5, 0, 0)]);
        assert_eq!(
            SingleProcess.gatherv_f64_owned(vec![1.0, 2.0], 0),
            Some(vec![vec![1.0, 2.0]])
        );
    }

    #[test]
    fn single_process_new_collectives_are_identities() {
        let c = SingleProcess;
        assert_eq!(c.allgatherv_f64(&[1.5]), vec![vec![1.5]]);
        assert_eq!(c.allgatherv_u64(&[]), vec![Vec::<u64>::new()]);
        assert_eq!(c.alltoallv_f64(&[vec![2.0, 3.0]]), Ok(vec![vec![2.0, 3.0]]));
        let sub = c.split(7, 3).unwrap();
        assert_eq!((sub.rank(), sub.size()), (0, 1));
    }

    #[test]
    fn bad_arguments_are_errors_not_panics() {
        let c = SingleProcess;
        assert_eq!(
            c.alltoallv_f64(&[vec![], vec![]]),
            Err(ParallelError::BlockCount {
                op: "alltoallv",
                rank: 0,
                got: 2,
                expected: 1
            })
        );
        assert!(matches!(
            c.split(u32::MAX, 0),
            Err(ParallelError::ColorOutOfRange {
                color: u32::MAX,
                ..
            })
        ));
        assert!(matches!(
            c.split(0, usize::MAX),
            Err(ParallelError::KeyOutOfRange { .. })
        ));
    }
}
