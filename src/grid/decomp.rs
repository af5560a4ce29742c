//! Decomposition of land cells over ranks.
//!
//! Land cells are ordered along a Hilbert curve over `(j, i)` on the smallest
//! power-of-two square that holds the grid (every cell has a distinct curve index, so
//! the order has no ties), then cut into `nranks` contiguous chunks whose land-cell
//! counts differ by at most one (the first `n_land % nranks` ranks get one more).
//! Ranks beyond the number of land cells get empty chunks. The result depends only on
//! the grid shape, its land mask and `nranks`.

use super::{Grid, GridError};

/// Hilbert-curve index of cell `(j, i)` on a square of side `side` (a power of two).
///
/// Iterative quadrant descent: at each level take the quadrant bits of `(x, y)`, add the
/// quadrant's offset along the curve, then rotate/flip the sub-square so the curve
/// inside it starts where the parent curve enters it.
pub fn hilbert_index(side: u64, j: u64, i: u64) -> u64 {
    debug_assert!(side.is_power_of_two() && j < side && i < side);
    let (mut x, mut y) = (i, j);
    let mut d = 0u64;
    let mut s = side / 2;
    while s > 0 {
        let rx = u64::from(x & s != 0);
        let ry = u64::from(y & s != 0);
        d += s * s * ((3 * rx) ^ ry);
        if ry == 0 {
            if rx == 1 {
                x = side - 1 - x;
                y = side - 1 - y;
            }
            std::mem::swap(&mut x, &mut y);
        }
        s /= 2;
    }
    d
}

/// Land cells of a grid assigned to ranks in contiguous Hilbert-curve chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decomposition {
    ny: usize,
    nx: usize,
    nranks: usize,
    /// Land-cell global ids in curve order.
    order: Vec<u64>,
    /// Curve index of each entry of `order` (ascending), for owner look-up.
    keys: Vec<u64>,
    /// Rank `r` owns `order[offsets[r]..offsets[r + 1]]`.
    offsets: Vec<usize>,
}

impl Decomposition {
    /// Decompose the land cells of `grid` over `nranks` ranks.
    pub fn new(grid: &Grid, nranks: usize) -> Result<Decomposition, GridError> {
        Self::from_land_cells(grid.ny(), grid.nx(), &grid.land_cells(), nranks)
    }

    /// Decompose an explicit set of land-cell global ids of an `(ny, nx)` grid.
    /// Duplicates and ids outside the grid are errors.
    pub fn from_land_cells(
        ny: usize,
        nx: usize,
        land_cells: &[u64],
        nranks: usize,
    ) -> Result<Decomposition, GridError> {
        if nranks == 0 {
            return Err(GridError::Invalid(
                "decomposition needs at least one rank".into(),
            ));
        }
        if ny == 0 || nx == 0 {
            return Err(GridError::Invalid(format!("empty grid ({ny} x {nx})")));
        }
        let ncells = (ny as u64) * (nx as u64);
        let side = (ny.max(nx) as u64).next_power_of_two();
        let mut keyed = Vec::with_capacity(land_cells.len());
        for &id in land_cells {
            if id >= ncells {
                return Err(GridError::GlobalId { id, ncells });
            }
            let (j, i) = (id / nx as u64, id % nx as u64);
            keyed.push((hilbert_index(side, j, i), id));
        }
        keyed.sort_unstable();
        if let Some(w) = keyed.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(GridError::Invalid(format!(
                "land cell {} listed twice",
                w[0].1
            )));
        }
        let n = keyed.len();
        let (base, extra) = (n / nranks, n % nranks);
        let mut offsets = Vec::with_capacity(nranks + 1);
        offsets.push(0);
        for r in 0..nranks {
            let size = base + usize::from(r < extra);
            offsets.push(offsets[r] + size);
        }
        let (keys, order) = keyed.into_iter().unzip();
        Ok(Decomposition {
            ny,
            nx,
            nranks,
            order,
            keys,
            offsets,
        })
    }

    pub fn nranks(&self) -> usize {
        self.nranks
    }
    /// Total number of land cells.
    pub fn n_land(&self) -> usize {
        self.order.len()
    }
    /// Grid shape `(ny, nx)` the decomposition was built for.
    pub fn dims(&self) -> (usize, usize) {
        (self.ny, self.nx)
    }
    /// All land cells in curve order (rank 0's chunk first).
    pub fn curve_order(&self) -> &[u64] {
        &self.order
    }

    /// Global ids owned by `rank`, in curve order (empty for ranks without land).
    /// Panics if `rank >= nranks` (a programming error).
    pub fn cells_of(&self, rank: usize) -> &[u64] {
        &self.order[self.offsets[rank]..self.offsets[rank + 1]]
    }

    /// Position range of `rank`'s chunk along the curve.
    pub fn range_of(&self, rank: usize) -> std::ops::Range<usize> {
        self.offsets[rank]..self.offsets[rank + 1]
    }

    /// Number of land cells on each rank.
    pub fn counts(&self) -> Vec<usize> {
        self.offsets.windows(2).map(|w| w[1] - w[0]).collect()
    }

    /// Rank owning a land cell, or `None` for a cell that is not a land cell of this
    /// decomposition (ocean or outside the grid).
    pub fn try_owner_of(&self, global_id: u64) -> Option<usize> {
        if global_id >= (self.ny as u64) * (self.nx as u64) {
            return None;
        }
        let side = (self.ny.max(self.nx) as u64).next_power_of_two();
        let key = hilbert_index(side, global_id / self.nx as u64, global_id % self.nx as u64);
        let pos = self.keys.binary_search(&key).ok()?;
        // The owner is the last rank whose chunk starts at or before `pos`; empty chunks
        // share their start with the next one, so take the upper partition point.
        Some(self.offsets.partition_point(|&o| o <= pos) - 1)
    }

    /// Rank owning a land cell. Panics when `global_id` is not a land cell of this
    /// decomposition (a programming error; use [`Decomposition::try_owner_of`] for
    /// untrusted ids).
    pub fn owner_of(&self, global_id: u64) -> usize {
        self.try_owner_of(global_id).unwrap_or_else(|| {
            panic!("global id {global_id} is not a land cell of this decomposition")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hilbert_is_a_bijection_with_unit_steps() {
        let side = 16u64;
        let mut pos = vec![(0u64, 0u64); (side * side) as usize];
        let mut seen = vec![false; (side * side) as usize];
        for j in 0..side {
            for i in 0..side {
                let d = hilbert_index(side, j, i) as usize;
                assert!(!seen[d]);
                seen[d] = true;
                pos[d] = (j, i);
            }
        }
        for w in pos.windows(2) {
            let dj = w[0].0.abs_diff(w[1].0);
            let di = w[0].1.abs_diff(w[1].1);
            assert_eq!(dj + di, 1, "curve jumps between {:?} and {:?}", w[0], w[1]);
        }
    }
}
