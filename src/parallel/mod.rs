//! The only room that names MPI: a small communicator facade (rank, size, gatherv,
//! scatterv, allreduce, broadcast, barrier) with a single-process implementation for
//! tests and tools.
//!
//! Every collective must be called by all ranks in the same order. Errors that one rank
//! detects are agreed on with [`Communicator::all_ok`] before the next collective, so a
//! failing rank never leaves the others waiting forever.

use mpi::collective::SystemOperation;
use mpi::datatype::{Partition, PartitionMut};
use mpi::traits::{Communicator as _, CommunicatorCollectives, Root};
use mpi::Count;

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
    /// True on every rank when `ok` is true on every rank.
    fn all_ok(&self, ok: bool) -> bool {
        self.allreduce_sum_u64(if ok { 0 } else { 1 }) == 0
    }
}

/// One process, no MPI: collectives are identities.
#[derive(Debug, Default, Clone, Copy)]
pub struct SingleProcess;

impl Communicator for SingleProcess {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn barrier(&self) {}
    fn gatherv_f64(&self, send: &[f64], _root: usize) -> Option<Vec<Vec<f64>>> {
        Some(vec![send.to_vec()])
    }
    fn gatherv_f64_owned(&self, send: Vec<f64>, _root: usize) -> Option<Vec<Vec<f64>>> {
        Some(vec![send])
    }
    fn gatherv_u64(&self, send: &[u64], _root: usize) -> Option<Vec<Vec<u64>>> {
        Some(vec![send.to_vec()])
    }
    fn scatterv_f64(&self, blocks: Option<&[Vec<f64>]>, _root: usize) -> Vec<f64> {
        blocks.and_then(|b| b.first().cloned()).unwrap_or_default()
    }
    fn allreduce_sum_f64(&self, x: f64) -> f64 {
        x
    }
    fn allreduce_max_f64(&self, x: f64) -> f64 {
        x
    }
    fn allreduce_sum_u64(&self, x: u64) -> u64 {
        x
    }
    fn broadcast_bytes(&self, _buf: &mut Vec<u8>, _root: usize) {}
}

/// MPI world communicator (OpenMPI through rsmpi). Holds the universe, so MPI is finalised
/// when this value is dropped.
pub struct MpiComm {
    world: mpi::topology::SimpleCommunicator,
    _universe: Option<mpi::environment::Universe>,
}

impl MpiComm {
    /// Initialise MPI (a binary started without `mpirun` runs as a singleton).
    /// Returns `None` when MPI was already initialised in this process.
    pub fn init() -> Option<MpiComm> {
        let universe = mpi::initialize()?;
        let world = universe.world();
        Some(MpiComm {
            world,
            _universe: Some(universe),
        })
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

    fn counts_displs(counts: &[usize]) -> (Vec<Count>, Vec<Count>) {
        let mut displs = Vec::with_capacity(counts.len());
        let mut off: usize = 0;
        for &c in counts {
            displs.push(Count::try_from(off).expect("MPI message larger than 2^31 elements"));
            off += c;
        }
        let counts = counts
            .iter()
            .map(|&c| Count::try_from(c).expect("MPI message larger than 2^31 elements"))
            .collect();
        (counts, displs)
    }

    fn all_counts(&self, n: usize) -> Vec<usize> {
        let mut all = vec![0u64; self.size()];
        self.world.all_gather_into(&(n as u64), &mut all[..]);
        all.into_iter().map(|c| c as usize).collect()
    }

    fn gatherv<T>(&self, send: &[T], root: usize) -> Option<Vec<Vec<T>>>
    where
        T: mpi::datatype::Equivalence + Default + Clone,
    {
        let counts = self.all_counts(send.len());
        let root_proc = self.world.process_at_rank(root as i32);
        if self.rank() == root {
            let total: usize = counts.iter().sum();
            let mut buf = vec![T::default(); total];
            let (c, d) = Self::counts_displs(&counts);
            {
                let mut part = PartitionMut::new(&mut buf[..], c, &d[..]);
                root_proc.gather_varcount_into_root(send, &mut part);
            }
            let mut out = Vec::with_capacity(counts.len());
            let mut off = 0;
            for &n in &counts {
                out.push(buf[off..off + n].to_vec());
                off += n;
            }
            Some(out)
        } else {
            root_proc.gather_varcount_into(send);
            None
        }
    }
}

impl Communicator for MpiComm {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }
    fn size(&self) -> usize {
        self.world.size() as usize
    }
    fn barrier(&self) {
        self.world.barrier();
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
        let root_proc = self.world.process_at_rank(root as i32);
        root_proc.broadcast_into(&mut counts[..]);
        let mine = counts[self.rank()] as usize;
        let mut recv = vec![0.0f64; mine];
        if self.rank() == root {
            let flat: Vec<f64> = blocks.unwrap_or(&[]).iter().flatten().copied().collect();
            let cu: Vec<usize> = counts.iter().map(|&c| c as usize).collect();
            let (c, d) = Self::counts_displs(&cu);
            let part = Partition::new(&flat[..], c, &d[..]);
            root_proc.scatter_varcount_into_root(&part, &mut recv[..]);
        } else {
            root_proc.scatter_varcount_into(&mut recv[..]);
        }
        recv
    }
    fn allreduce_sum_f64(&self, x: f64) -> f64 {
        let mut y = 0.0;
        self.world
            .all_reduce_into(&x, &mut y, SystemOperation::sum());
        y
    }
    fn allreduce_max_f64(&self, x: f64) -> f64 {
        let mut y = 0.0;
        self.world
            .all_reduce_into(&x, &mut y, SystemOperation::max());
        y
    }
    fn allreduce_sum_u64(&self, x: u64) -> u64 {
        let mut y = 0u64;
        self.world
            .all_reduce_into(&x, &mut y, SystemOperation::sum());
        y
    }
    fn broadcast_bytes(&self, buf: &mut Vec<u8>, root: usize) {
        let root_proc = self.world.process_at_rank(root as i32);
        let mut n = buf.len() as u64;
        root_proc.broadcast_into(&mut n);
        buf.resize(n as usize, 0);
        if n > 0 {
            root_proc.broadcast_into(&mut buf[..]);
        }
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
}
