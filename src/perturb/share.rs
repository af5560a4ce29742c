//! Spatially correlated deviates drawn by (member, variable) pairs spread over ranks.
//!
//! The field of one (member, variable, time) is a pure function of its key, so which rank
//! draws it changes nothing. Rank r draws the pairs q = member · n_vars + var with
//! q ≡ r (mod P), samples each field at the cells of every rank, and an all-to-all exchange
//! (the caller's: this room knows no MPI) gives every rank the values of its own cells. The
//! result is bit-identical to every rank drawing every field, at 1/P of the FFT work and
//! with one field's workspace per rank.

use std::sync::Arc;

use super::field::FieldScratch;
use super::generator::{PerturbGenerator, PerturbState};
use super::rng::Purpose;
use super::PerturbError;

/// Which fields of a group one rank draws and which cells every rank owns.
#[derive(Debug, Clone)]
pub struct FieldShare {
    rank: usize,
    n_members: usize,
    n_vars: usize,
    /// Global cell ids of every rank, indexed by rank, each in that rank's local order.
    cells: Arc<Vec<Vec<u64>>>,
}

impl FieldShare {
    /// The share of `rank` among `cells.len()` ranks (`cells[r]`: the cell ids of rank r).
    pub fn new(
        rank: usize,
        n_members: usize,
        n_vars: usize,
        cells: Arc<Vec<Vec<u64>>>,
    ) -> Result<Self, PerturbError> {
        if rank >= cells.len() {
            return Err(PerturbError::State(format!(
                "field share of rank {rank} among {} ranks",
                cells.len()
            )));
        }
        Ok(FieldShare {
            rank,
            n_members,
            n_vars,
            cells,
        })
    }

    fn size(&self) -> usize {
        self.cells.len()
    }

    /// The pairs q = member · n_vars + var that rank `r` draws, ascending.
    fn pairs_of(&self, r: usize) -> impl Iterator<Item = usize> {
        (r..self.n_members * self.n_vars).step_by(self.size())
    }

    fn n_pairs_of(&self, r: usize) -> usize {
        self.pairs_of(r).count()
    }

    /// This rank's cell ids (the order of its perturbation state).
    pub fn cell_ids(&self) -> &[u64] {
        &self.cells[self.rank]
    }

    /// Values this rank sends to each rank.
    pub fn send_counts(&self) -> Vec<usize> {
        let mine = self.n_pairs_of(self.rank);
        self.cells.iter().map(|c| mine * c.len()).collect()
    }

    /// Values this rank receives in all (from every rank, in rank order).
    pub fn recv_len(&self) -> usize {
        self.n_members * self.n_vars * self.cell_ids().len()
    }

    /// Call `f(i, w)` for every received deviate: `i` is its place in the state layout
    /// `(cell · n_members + member) · n_vars + var`. `recv` holds, rank after rank, the
    /// blocks of [`PerturbGenerator::draw_share`] meant for this rank.
    fn for_each_received(
        &self,
        recv: &[f64],
        mut f: impl FnMut(usize, f64),
    ) -> Result<(), PerturbError> {
        if recv.len() != self.recv_len() {
            return Err(PerturbError::State(format!(
                "received {} spatial deviates, expected {} members × {} variables × {} cells",
                recv.len(),
                self.n_members,
                self.n_vars,
                self.cell_ids().len()
            )));
        }
        let (nm, nv, nc) = (self.n_members, self.n_vars, self.cell_ids().len());
        if nc == 0 {
            return Ok(());
        }
        // Rank after rank, each rank's pairs ascending: one block of nc values per pair.
        let pairs = (0..self.size()).flat_map(|s| self.pairs_of(s));
        for (q, block) in pairs.zip(recv.chunks_exact(nc)) {
            let (m, v) = (q / nv, q % nv);
            for (c, &w) in block.iter().enumerate() {
                f((c * nm + m) * nv + v, w);
            }
        }
        Ok(())
    }
}

impl PerturbGenerator {
    fn check_share(&self, share: &FieldShare) -> Result<(), PerturbError> {
        if self.field_plan().is_none() || share.n_vars != self.n_vars() {
            return Err(PerturbError::State(format!(
                "group '{}': a field share needs spatial correlation and {} variables",
                self.group().name,
                self.n_vars()
            )));
        }
        share
            .cells
            .iter()
            .try_for_each(|ids| self.check_cell_ids(ids))
    }

    /// This rank's share of the spatial deviates of `purpose` at `time_index`, laid out for
    /// the exchange: the block for rank d holds, pair after pair (ascending), the field
    /// sampled at the cells of rank d in their order ([`FieldShare::send_counts`]).
    pub fn draw_share(
        &self,
        share: &FieldShare,
        purpose: Purpose,
        time_index: i64,
    ) -> Result<Vec<f64>, PerturbError> {
        self.check_share(share)?;
        let Some(plan) = self.field_plan() else {
            return Ok(Vec::new());
        };
        let counts = share.send_counts();
        let mut offsets = Vec::with_capacity(counts.len());
        let mut total = 0;
        for c in &counts {
            offsets.push(total);
            total += c;
        }
        let mut out = vec![0.0; total];
        let (ny, nx) = plan.shape();
        let mut grid = vec![0.0; ny * nx];
        let mut scratch = FieldScratch::default();
        let (seed, stream) = self.key();
        for (j, q) in share.pairs_of(share.rank).enumerate() {
            let (m, v) = (q / share.n_vars, q % share.n_vars);
            plan.generate(
                seed,
                stream,
                purpose,
                v as u32,
                m as u64,
                time_index,
                &mut grid,
                &mut scratch,
            );
            for (ids, &o) in share.cells.iter().zip(&offsets) {
                let block = &mut out[o + j * ids.len()..o + (j + 1) * ids.len()];
                for (b, &id) in block.iter_mut().zip(ids) {
                    *b = grid[id as usize];
                }
            }
        }
        Ok(out)
    }

    /// Cold start at `time_index` from the exchanged deviates of
    /// [`Purpose::InitialField`]: the same state as [`PerturbGenerator::cold_start`].
    pub fn cold_start_shared(
        &self,
        share: &FieldShare,
        time_index: i64,
        recv: &[f64],
    ) -> Result<PerturbState, PerturbError> {
        self.check_share(share)?;
        let mut x = vec![0.0; share.recv_len()];
        share.for_each_received(recv, |i, w| x[i] = w)?;
        let ids = share.cell_ids().to_vec();
        let mut state =
            PerturbState::from_parts(ids, share.n_members, self.n_vars(), time_index, x);
        self.remove_mean(&mut state);
        Ok(state)
    }

    /// Advance by one interval with the exchanged innovations of the next time index
    /// ([`Purpose::InnovationField`]): the same arithmetic as [`PerturbGenerator::advance`].
    pub fn advance_shared(
        &self,
        state: &mut PerturbState,
        share: &FieldShare,
        recv: &[f64],
    ) -> Result<(), PerturbError> {
        self.check_share(share)?;
        if state.cell_ids() != share.cell_ids() || state.n_members() != share.n_members {
            return Err(PerturbError::State(format!(
                "group '{}': the perturbation state's cells or members are not the field share's",
                self.group().name
            )));
        }
        let k = state.time_index().checked_add(1).ok_or_else(|| {
            PerturbError::State("perturbation time index overflows i64".to_string())
        })?;
        let nv = self.n_vars();
        let (rho, scale) = (self.rho(), self.innovation_scales());
        let x = state.x_mut();
        share.for_each_received(recv, |i, w| {
            let v = i % nv;
            x[i] = rho[v] * x[i] + scale[v] * w;
        })?;
        state.set_time_index(k);
        self.remove_mean(state);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perturb::{CovarianceShape, PerturbGroup, SpatialCorrelation};

    fn generator() -> PerturbGenerator {
        let mut g = PerturbGroup::kim_lis_forcing();
        g.spatial = Some(SpatialCorrelation {
            length_km: 60.0,
            shape: CovarianceShape::Gaussian,
            ny: 12,
            nx: 16,
            dy_km: 25.0,
            dx_km: 25.0,
        });
        PerturbGenerator::new(g, 11, 1).unwrap()
    }

    /// What an all-to-all gives every rank: block d of every rank's share, in rank order.
    fn exchange(sent: &[Vec<f64>], shares: &[FieldShare]) -> Vec<Vec<f64>> {
        let counts: Vec<Vec<usize>> = shares.iter().map(|s| s.send_counts()).collect();
        (0..shares.len())
            .map(|d| {
                let mut recv = Vec::new();
                for (s, buf) in sent.iter().enumerate() {
                    let o: usize = counts[s][..d].iter().sum();
                    recv.extend_from_slice(&buf[o..o + counts[s][d]]);
                }
                recv
            })
            .collect()
    }

    #[test]
    fn shared_draws_equal_every_rank_drawing_everything() {
        let g = generator();
        let n_members = 5;
        // Three ranks, scattered cells, one rank without cells.
        let cells = Arc::new(vec![vec![7, 150, 3, 91], vec![], vec![0, 191, 64, 65, 100]]);
        let shares: Vec<FieldShare> = (0..3)
            .map(|r| FieldShare::new(r, n_members, 3, Arc::clone(&cells)).unwrap())
            .collect();
        let cold: Vec<Vec<f64>> = shares
            .iter()
            .map(|s| g.draw_share(s, Purpose::InitialField, 40).unwrap())
            .collect();
        let next: Vec<Vec<f64>> = shares
            .iter()
            .map(|s| g.draw_share(s, Purpose::InnovationField, 41).unwrap())
            .collect();
        let (cold, next) = (exchange(&cold, &shares), exchange(&next, &shares));
        for (r, share) in shares.iter().enumerate() {
            let mut want = g.cold_start(&cells[r], n_members, 40).unwrap();
            let mut got = g.cold_start_shared(share, 40, &cold[r]).unwrap();
            assert_eq!(got, want, "cold start, rank {r}");
            g.advance(&mut want).unwrap();
            g.advance_shared(&mut got, share, &next[r]).unwrap();
            assert_eq!(got, want, "advance, rank {r}");
        }
    }

    #[test]
    fn wrong_lengths_and_groups_are_errors() {
        let g = generator();
        let cells = Arc::new(vec![vec![1, 2]]);
        let share = FieldShare::new(0, 4, 3, Arc::clone(&cells)).unwrap();
        assert!(g.cold_start_shared(&share, 0, &[0.0; 5]).is_err());
        assert!(FieldShare::new(1, 4, 3, Arc::clone(&cells)).is_err());
        let outside = FieldShare::new(0, 4, 3, Arc::new(vec![vec![12 * 16]])).unwrap();
        assert!(g.draw_share(&outside, Purpose::InitialField, 0).is_err());
        let plain = PerturbGenerator::new(PerturbGroup::kim_lis_forcing(), 11, 1).unwrap();
        assert!(plain.draw_share(&share, Purpose::InitialField, 0).is_err());
    }
}
