//! The one-process communicator: every collective is an identity.

use super::error::{agree, check_block_count, check_flat_counts, check_ranges, check_split_args};
use super::{Communicator, ParallelError};

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
    fn broadcast_f64(&self, _buf: &mut Vec<f64>, _root: usize) {}
    fn allgatherv_f64(&self, send: &[f64]) -> Vec<Vec<f64>> {
        vec![send.to_vec()]
    }
    fn allgatherv_flat_f64(&self, send: &[f64], recv: &mut Vec<f64>) -> Vec<usize> {
        recv.clear();
        recv.extend_from_slice(send);
        vec![send.len()]
    }
    fn allgatherv_u64(&self, send: &[u64]) -> Vec<Vec<u64>> {
        vec![send.to_vec()]
    }
    fn alltoallv_f64(&self, send: &[Vec<f64>]) -> Result<Vec<Vec<f64>>, ParallelError> {
        // Same checks as MPI so that a wrong call fails identically on one process.
        agree(self, "alltoallv", check_block_count(send.len(), 1, 0))?;
        Ok(send.to_vec())
    }
    fn alltoallv_flat_f64(
        &self,
        send: &[f64],
        counts: &[usize],
        recv: &mut Vec<f64>,
    ) -> Result<Vec<usize>, ParallelError> {
        flat_to_self(self, send, counts, recv)
    }
    fn alltoallv_ranges_f64(
        &self,
        send: &[f64],
        ranges: &[std::ops::Range<usize>],
        recv: &mut Vec<f64>,
    ) -> Result<Vec<usize>, ParallelError> {
        agree(self, "alltoallv", check_ranges(send.len(), ranges, 1, 0))?;
        recv.clear();
        recv.extend_from_slice(&send[ranges[0].clone()]);
        Ok(vec![recv.len()])
    }
    fn alltoallv_flat_f32(
        &self,
        send: &[f32],
        counts: &[usize],
        recv: &mut Vec<f32>,
    ) -> Result<Vec<usize>, ParallelError> {
        flat_to_self(self, send, counts, recv)
    }
    fn split(&self, color: u32, key: usize) -> Result<Box<dyn Communicator>, ParallelError> {
        agree(self, "split", check_split_args(color, key))?;
        Ok(Box::new(SingleProcess))
    }
}

/// The flat exchange of one process: the send buffer comes back, after the same checks as
/// MPI's so that a wrong call fails identically on one process.
fn flat_to_self<T: Copy>(
    comm: &SingleProcess,
    send: &[T],
    counts: &[usize],
    recv: &mut Vec<T>,
) -> Result<Vec<usize>, ParallelError> {
    agree(
        comm,
        "alltoallv",
        check_flat_counts(send.len(), counts, 1, 0),
    )?;
    recv.clear();
    recv.extend_from_slice(send);
    Ok(vec![send.len()])
}
