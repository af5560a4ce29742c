//! Members of the spread EnKF-like analysis on their way between the root, which holds the
//! gathered ensemble, and the ranks that transform and update them (`image_spread`).
//! Members go in blocks of [`MEMBER_BLOCK`], block j to rank j mod P, so that a rank sums
//! whole blocks in pass 1. Only what the analysis reads travels: a member and its perturbed
//! image on land cells (V ⊆ analysed ⊆ land), and back only the analysed cells, the only
//! ones the update changes.

use super::error::{agree, CycleError};
use crate::da::image::MEMBER_BLOCK;
use crate::parallel::Communicator;

/// The rank of `p` that transforms and updates member `i`: its block's.
pub fn owner(i: usize, p: usize) -> usize {
    (i / MEMBER_BLOCK) % p
}

/// Members of `n` owned by rank `r` of `p`, in member order.
pub fn owned(n: usize, r: usize, p: usize) -> impl Iterator<Item = usize> {
    (0..n).filter(move |&i| owner(i, p) == r)
}

/// The cells that travel: land cells out, analysed cells back.
pub struct Transit {
    land: Vec<usize>,
    analysed: Vec<usize>,
    n_cells: usize,
}

impl Transit {
    /// From the broadcast land and analysed flags (the same on every rank).
    pub fn new(land: &[bool], analysed: &[bool]) -> Self {
        let cells = |m: &[bool]| (0..m.len()).filter(|&c| m[c]).collect();
        Self {
            land: cells(land),
            analysed: cells(analysed),
            n_cells: land.len(),
        }
    }

    /// The root's send buffer of [`Transit::distribute`]: for every rank r > 0, its owned
    /// members' land values followed by their perturbed images' land values, member by
    /// member; and the counts per rank.
    pub fn pack(
        &self,
        (members, perturbed): (&[Vec<f64>], &[Vec<f64>]),
        p: usize,
    ) -> (Vec<f64>, Vec<usize>) {
        let n = members.len();
        let theirs = (0..n).filter(|&i| owner(i, p) != 0).count();
        let mut send = Vec::with_capacity(2 * theirs * self.land.len());
        let mut counts = vec![0; p];
        for (r, count) in counts.iter_mut().enumerate().skip(1) {
            let start = send.len();
            for i in owned(n, r, p) {
                send.extend(self.land.iter().map(|&c| members[i][c]));
                send.extend(self.land.iter().map(|&c| perturbed[i][c]));
            }
            *count = send.len() - start;
        }
        (send, counts)
    }

    /// Each rank's owned members with their perturbed images, from the root (its packed
    /// buffer) to the other ranks, unpacked onto full grids as
    /// (member, image) pairs back to back; empty on the root, whose members stay in its
    /// ensemble. Off-land cells are left as the pool had them: the analysis never reads
    /// them. Collective.
    pub fn distribute(
        &self,
        comm: &dyn Communicator,
        (send, counts): (Vec<f64>, Vec<usize>),
        n: usize,
    ) -> Result<Vec<f64>, CycleError> {
        let k = match comm.is_root() {
            true => 0,
            false => owned(n, comm.rank(), comm.size()).count(),
        };
        let mut block = Vec::new();
        comm.alltoallv_flat_f64(&send, &counts, &mut block)
            .map_err(|e| {
                CycleError::Invalid(format!("image analysis: member transposition: {e}"))
            })?;
        drop(send);
        agree(comm, self.unpack(&block, k))
    }

    /// `k` members and images of land values (`block`) onto full grids.
    fn unpack(&self, block: &[f64], k: usize) -> Result<Vec<f64>, CycleError> {
        let (nl, nc) = (self.land.len(), self.n_cells);
        if block.len() != 2 * k * nl {
            return Err(CycleError::Invalid(format!(
                "image analysis: {} member values arrived for {k} members of {nl} land cells",
                block.len()
            )));
        }
        // Off-land cells are never read; NaN makes any such read show.
        let mut grids = vec![f64::NAN; 2 * k * nc];
        for (packed, grid) in block
            .chunks_exact(nl.max(1))
            .zip(grids.chunks_exact_mut(nc))
        {
            for (&c, &v) in self.land.iter().zip(packed) {
                grid[c] = v;
            }
        }
        Ok(grids)
    }

    /// This rank's updated members (`grids` from [`Transit::distribute`], returned to the
    /// pool) back to the root on analysed cells: the root gets every other rank's values in
    /// rank order, each rank's in its owned members' order; the others get `None`.
    /// Collective.
    pub fn collect(
        &self,
        comm: &dyn Communicator,
        grids: Vec<f64>,
        n: usize,
    ) -> Result<Option<Vec<f64>>, CycleError> {
        let k = grids.len() / (2 * self.n_cells).max(1);
        let mut send = Vec::with_capacity(k * self.analysed.len());
        for pair in grids.chunks_exact(2 * self.n_cells) {
            send.extend(self.analysed.iter().map(|&c| pair[c]));
        }
        drop(grids);
        let mut counts = vec![0; comm.size()];
        if !comm.is_root() {
            counts[0] = send.len();
        }
        let p = comm.size();
        let (theirs, na) = (
            (1..p).flat_map(|r| owned(n, r, p)).count(),
            self.analysed.len(),
        );
        let mut back = Vec::new();
        comm.alltoallv_flat_f64(&send, &counts, &mut back)
            .map_err(|e| CycleError::Invalid(format!("image analysis: members back: {e}")))?;
        let checked = match comm.is_root() {
            true if back.len() != theirs * na => Err(CycleError::Invalid(format!(
                "image analysis: {} member values came back, {theirs} members of {na} \
                 analysed cells were sent",
                back.len()
            ))),
            true => Ok(Some(back)),
            false => Ok(None),
        };
        agree(comm, checked)
    }

    /// The other ranks' updated members ([`Transit::collect`] on the root, checked there)
    /// into the root's ensemble.
    pub fn return_members(&self, members: &mut [Vec<f64>], back: &[f64], p: usize) {
        let n = members.len();
        let theirs = (1..p).flat_map(|r| owned(n, r, p));
        for (i, values) in theirs.zip(back.chunks_exact(self.analysed.len().max(1))) {
            for (&c, &v) in self.analysed.iter().zip(values) {
                members[i][c] = v;
            }
        }
    }
}
