//! [`MpiComm`]: the facade over an rsmpi intra-communicator (OpenMPI).

use std::mem::ManuallyDrop;

use mpi::collective::SystemOperation;
use mpi::datatype::{Equivalence, Partition, PartitionMut};
use mpi::environment::Universe;
use mpi::topology::{Color, SimpleCommunicator};
use mpi::traits::{Communicator as _, CommunicatorCollectives, Root};
use mpi::Count;

use super::error::{agree, check_block_count, check_flat_counts, check_ranges, check_split_args};
use super::mpmd::AppLayout;
use super::{Communicator, ParallelError};

/// An MPI communicator. The one made by [`MpiComm::init`] (or
/// [`MpiComm::init_split_by_appnum`]) holds the universe, so MPI is finalised when it is
/// dropped; communicators made by [`Communicator::split`] or [`MpiComm::wrap`] do not.
///
/// Dropping a communicator other than WORLD frees it (`MPI_Comm_free`, a collective on
/// that communicator): drop it on all of its ranks in the same order.
pub struct MpiComm {
    // ManuallyDrop: freeing a communicator after MPI_Finalize is an MPI error, so `Drop`
    // decides whether to free it (see below).
    comm: ManuallyDrop<SimpleCommunicator>,
    /// Where this process sits in an MPMD launch; set by `init_split_by_appnum` only.
    pub(super) layout: Option<AppLayout>,
    // Declared last: dropped (MPI_Finalize) after `comm` has been freed in `Drop::drop`.
    _universe: Option<Universe>,
}

impl Drop for MpiComm {
    fn drop(&mut self) {
        // A sub-communicator that outlives the world one cannot be freed any more: MPI has
        // already released it at finalisation, so it is forgotten instead.
        if !mpi::environment::is_finalized() {
            // SAFETY: `comm` is dropped exactly once, here, and never used afterwards.
            unsafe { ManuallyDrop::drop(&mut self.comm) }
        }
    }
}

impl MpiComm {
    /// The flat personalised exchange for any MPI value type (`alltoallv_flat_*`).
    fn alltoallv_flat<T: Equivalence + Copy + Default>(
        &self,
        send: &[T],
        counts: &[usize],
        recv: &mut Vec<T>,
    ) -> Result<Vec<usize>, ParallelError> {
        let local = check_flat_counts(send.len(), counts, self.size(), self.rank());
        agree(self, "alltoallv", local)?;
        let ranges: Vec<_> = counts
            .iter()
            .scan(0, |at, &c| {
                *at += c;
                Some(*at - c..*at)
            })
            .collect();
        self.exchange_ranges(send, &ranges, recv)
    }

    /// The exchange itself, on checked and agreed ranges of `send`.
    fn exchange_ranges<T: Equivalence + Copy + Default>(
        &self,
        send: &[T],
        ranges: &[std::ops::Range<usize>],
        recv: &mut Vec<T>,
    ) -> Result<Vec<usize>, ParallelError> {
        let send_counts: Vec<u64> = ranges.iter().map(|r| r.len() as u64).collect();
        let mut recv_counts = vec![0u64; self.size()];
        self.comm
            .all_to_all_into(&send_counts[..], &mut recv_counts[..]);
        let recv_counts: Vec<usize> = recv_counts.into_iter().map(|c| c as usize).collect();
        let sc: Vec<Count> = ranges.iter().map(|r| to_count(r.len())).collect();
        let sd: Vec<Count> = ranges.iter().map(|r| to_count(r.start)).collect();
        let (rc, rd) = counts_displs(&recv_counts);
        recv.resize(recv_counts.iter().sum(), T::default());
        self.comm.all_to_all_varcount_into(
            &Partition::new(send, sc, &sd[..]),
            &mut PartitionMut::new(&mut recv[..], rc, &rd[..]),
        );
        Ok(recv_counts)
    }

    /// Root's vector (length first) on every rank.
    fn broadcast_vec<T: Equivalence + Copy + Default>(&self, buf: &mut Vec<T>, root: usize) {
        let root_proc = self.comm.process_at_rank(root as i32);
        let mut n = buf.len() as u64;
        root_proc.broadcast_into(&mut n);
        buf.resize(n as usize, T::default());
        if n > 0 {
            root_proc.broadcast_into(&mut buf[..]);
        }
    }

    /// Initialise MPI (a binary started without `mpirun` runs as a singleton).
    /// Returns `None` when MPI was already initialised in this process.
    pub fn init() -> Option<MpiComm> {
        let universe = mpi::initialize()?;
        let world = universe.world();
        Some(MpiComm::owning(world, universe, None))
    }

    pub(super) fn owning(
        comm: SimpleCommunicator,
        universe: Universe,
        layout: Option<AppLayout>,
    ) -> MpiComm {
        MpiComm {
            comm: ManuallyDrop::new(comm),
            layout,
            _universe: Some(universe),
        }
    }

    /// Wrap any intra-communicator of an already initialised MPI. The result does not own
    /// the universe: MPI stays up until the communicator made by `init` is dropped.
    pub fn wrap(comm: SimpleCommunicator) -> MpiComm {
        MpiComm {
            comm: ManuallyDrop::new(comm),
            layout: None,
            _universe: None,
        }
    }

    /// True when the process was started by an MPI launcher (mpirun/mpiexec/srun).
    pub fn launched_by_mpirun() -> bool {
        [
            "OMPI_COMM_WORLD_SIZE",
            "PMI_SIZE",
            "PMIX_RANK",
            "MPI_LOCALNRANKS",
        ]
        .iter()
        .any(|v| std::env::var_os(v).is_some())
    }

    /// Number of processes in `MPI_COMM_WORLD` (all applications of an MPMD launch).
    pub fn world_size(&self) -> usize {
        SimpleCommunicator::world().size() as usize
    }

    /// This process's rank in `MPI_COMM_WORLD`.
    pub fn world_rank(&self) -> usize {
        SimpleCommunicator::world().rank() as usize
    }

    fn all_counts(&self, n: usize) -> Vec<usize> {
        let mut all = vec![0u64; self.size()];
        self.comm.all_gather_into(&(n as u64), &mut all[..]);
        all.into_iter().map(|c| c as usize).collect()
    }

    fn gatherv<T>(&self, send: &[T], root: usize) -> Option<Vec<Vec<T>>>
    where
        T: Equivalence + Default + Clone,
    {
        let counts = self.all_counts(send.len());
        let root_proc = self.comm.process_at_rank(root as i32);
        if self.rank() != root {
            root_proc.gather_varcount_into(send);
            return None;
        }
        let mut buf = vec![T::default(); counts.iter().sum()];
        let (c, d) = counts_displs(&counts);
        root_proc.gather_varcount_into_root(send, &mut PartitionMut::new(&mut buf[..], c, &d[..]));
        Some(split_blocks(&buf, &counts))
    }

    fn allgatherv<T>(&self, send: &[T]) -> Vec<Vec<T>>
    where
        T: Equivalence + Default + Clone,
    {
        let mut buf = Vec::new();
        let counts = self.allgatherv_flat(send, &mut buf);
        split_blocks(&buf, &counts)
    }

    /// Every rank's block back to back in `recv` (resized); the block lengths.
    fn allgatherv_flat<T: Equivalence + Default + Clone>(
        &self,
        send: &[T],
        recv: &mut Vec<T>,
    ) -> Vec<usize> {
        let counts = self.all_counts(send.len());
        recv.resize(counts.iter().sum(), T::default());
        let (c, d) = counts_displs(&counts);
        self.comm
            .all_gather_varcount_into(send, &mut PartitionMut::new(&mut recv[..], c, &d[..]));
        counts
    }

    /// Receive counts of an all-to-all: what every rank sends to this one.
    fn exchange_counts(&self, send: &[Vec<f64>]) -> Vec<usize> {
        let send_counts: Vec<u64> = send.iter().map(|b| b.len() as u64).collect();
        let mut recv_counts = vec![0u64; self.size()];
        self.comm
            .all_to_all_into(&send_counts[..], &mut recv_counts[..]);
        recv_counts.into_iter().map(|c| c as usize).collect()
    }
}

/// A length or offset as an MPI count.
fn to_count(n: usize) -> Count {
    Count::try_from(n).expect("MPI message larger than 2^31 elements")
}

/// MPI counts and displacements of consecutive blocks.
fn counts_displs(counts: &[usize]) -> (Vec<Count>, Vec<Count>) {
    let displs = counts
        .iter()
        .scan(0usize, |off, &c| {
            let d = *off;
            *off += c;
            Some(to_count(d))
        })
        .collect();
    (counts.iter().map(|&c| to_count(c)).collect(), displs)
}

/// Cut a flat receive buffer into per-rank blocks.
fn split_blocks<T: Clone>(buf: &[T], counts: &[usize]) -> Vec<Vec<T>> {
    let mut rest = buf;
    counts
        .iter()
        .map(|&n| {
            let (block, tail) = rest.split_at(n);
            rest = tail;
            block.to_vec()
        })
        .collect()
}

impl Communicator for MpiComm {
    fn mpmd_peer(&self) -> Option<super::Peer<'_>> {
        self.peer()
    }
    fn file_comm(&self) -> Option<super::FileComm> {
        use mpi::raw::AsRaw;
        Some(super::FileComm::new(self.comm.as_raw()))
    }
    fn rank(&self) -> usize {
        self.comm.rank() as usize
    }
    fn size(&self) -> usize {
        self.comm.size() as usize
    }
    fn barrier(&self) {
        self.comm.barrier();
    }
    fn gatherv_f64(&self, send: &[f64], root: usize) -> Option<Vec<Vec<f64>>> {
        self.gatherv(send, root)
    }
    fn gatherv_u64(&self, send: &[u64], root: usize) -> Option<Vec<Vec<u64>>> {
        self.gatherv(send, root)
    }
    fn scatterv_f64(&self, blocks: Option<&[Vec<f64>]>, root: usize) -> Vec<f64> {
        // First tell every rank how much it receives.
        let mut counts = vec![0u64; self.size()];
        if self.rank() == root {
            if let Some(b) = blocks {
                for (c, blk) in counts.iter_mut().zip(b) {
                    *c = blk.len() as u64;
                }
            }
        }
        let root_proc = self.comm.process_at_rank(root as i32);
        root_proc.broadcast_into(&mut counts[..]);
        let mut recv = vec![0.0f64; counts[self.rank()] as usize];
        if self.rank() == root {
            let flat: Vec<f64> = blocks.unwrap_or(&[]).iter().flatten().copied().collect();
            let cu: Vec<usize> = counts.iter().map(|&c| c as usize).collect();
            let (c, d) = counts_displs(&cu);
            let part = Partition::new(&flat[..], c, &d[..]);
            root_proc.scatter_varcount_into_root(&part, &mut recv[..]);
        } else {
            root_proc.scatter_varcount_into(&mut recv[..]);
        }
        recv
    }
    fn allreduce_sum_f64(&self, x: f64) -> f64 {
        let mut y = 0.0;
        self.comm
            .all_reduce_into(&x, &mut y, SystemOperation::sum());
        y
    }
    fn allreduce_max_f64(&self, x: f64) -> f64 {
        let mut y = 0.0;
        self.comm
            .all_reduce_into(&x, &mut y, SystemOperation::max());
        y
    }
    fn allreduce_sum_u64(&self, x: u64) -> u64 {
        let mut y = 0u64;
        self.comm
            .all_reduce_into(&x, &mut y, SystemOperation::sum());
        y
    }
    fn broadcast_bytes(&self, buf: &mut Vec<u8>, root: usize) {
        self.broadcast_vec(buf, root);
    }
    fn broadcast_f64(&self, buf: &mut Vec<f64>, root: usize) {
        self.broadcast_vec(buf, root);
    }
    fn allgatherv_f64(&self, send: &[f64]) -> Vec<Vec<f64>> {
        self.allgatherv(send)
    }
    fn allgatherv_flat_f64(&self, send: &[f64], recv: &mut Vec<f64>) -> Vec<usize> {
        self.allgatherv_flat(send, recv)
    }
    fn allgatherv_u64(&self, send: &[u64]) -> Vec<Vec<u64>> {
        self.allgatherv(send)
    }
    fn alltoallv_f64(&self, send: &[Vec<f64>]) -> Result<Vec<Vec<f64>>, ParallelError> {
        let local = check_block_count(send.len(), self.size(), self.rank());
        agree(self, "alltoallv", local)?;
        let recv_counts = self.exchange_counts(send);
        let send_counts: Vec<usize> = send.iter().map(Vec::len).collect();
        let flat = send.concat();
        let (sc, sd) = counts_displs(&send_counts);
        let (rc, rd) = counts_displs(&recv_counts);
        let mut recv = vec![0.0f64; recv_counts.iter().sum()];
        self.comm.all_to_all_varcount_into(
            &Partition::new(&flat[..], sc, &sd[..]),
            &mut PartitionMut::new(&mut recv[..], rc, &rd[..]),
        );
        Ok(split_blocks(&recv, &recv_counts))
    }
    fn alltoallv_flat_f64(
        &self,
        send: &[f64],
        counts: &[usize],
        recv: &mut Vec<f64>,
    ) -> Result<Vec<usize>, ParallelError> {
        self.alltoallv_flat(send, counts, recv)
    }
    fn alltoallv_ranges_f64(
        &self,
        send: &[f64],
        ranges: &[std::ops::Range<usize>],
        recv: &mut Vec<f64>,
    ) -> Result<Vec<usize>, ParallelError> {
        let local = check_ranges(send.len(), ranges, self.size(), self.rank());
        agree(self, "alltoallv", local)?;
        self.exchange_ranges(send, ranges, recv)
    }
    fn alltoallv_flat_f32(
        &self,
        send: &[f32],
        counts: &[usize],
        recv: &mut Vec<f32>,
    ) -> Result<Vec<usize>, ParallelError> {
        self.alltoallv_flat(send, counts, recv)
    }
    fn split(&self, color: u32, key: usize) -> Result<Box<dyn Communicator>, ParallelError> {
        let (color, key) = agree(self, "split", check_split_args(color, key))?;
        let sub = self
            .comm
            .split_by_color_with_key(Color::with_value(color), key)
            .expect("MPI_Comm_split with a defined colour returns a communicator");
        Ok(Box::new(MpiComm::wrap(sub)))
    }
}
