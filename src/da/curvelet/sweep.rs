//! The relaxation sweeps of [`super::fill_missing`]: over-relaxed Gauss–Seidel on the missing
//! cells with the bits of the row-major sweep, on a copy of the field stored as skewed
//! blocks of eight rows so that one anti-diagonal of a block is eight contiguous values.
//!
//! Why: the row-major sweep is one long dependency chain (each cell needs its left
//! neighbour's new value). In a block of eight rows the cells of an anti-diagonal t (row j,
//! column t − j) are independent, and each needs only the new values of diagonal t − 1 (its
//! upper and left neighbours) and the old ones of diagonal t + 1 (lower, right). Stored
//! skewed, diagonal t of block b is `skew[b·tile + 8t .. b·tile + 8t + 8]`, so a diagonal is
//! one vector operation (AVX-512) with plain loads and stores. Several blocks are swept in
//! lockstep, block b + 1 lagging `LAG` diagonals behind block b, which keeps every read at
//! the row-major sweep's version (checked below) and gives the processor independent chains.
//! Cells on the grid's edges, the periodic seam and the first and last diagonals of a block
//! are done one by one with explicit neighbour lists, in the same schedule.

/// Rows per block: the lanes of the vector kernel.
const LANES: usize = 8;
/// Diagonals by which block b + 1 lags block b in a lockstep group. Block b's lane 7 at
/// column c (its diagonal c + 7) must be new when block b + 1's lane 0 reads it (diagonal c)
/// and old when it is read the other way round: any lag ≥ 7 does both.
const LAG: usize = 8;
/// Blocks swept in lockstep (independent dependency chains).
const GROUP: usize = 4;

/// Mean of `values` over the neighbours `nb`, summed in list order (up, down, left, right,
/// those that exist). Dividing by 4 or 2 is multiplying by 0.25 or 0.5 exactly.
#[inline]
fn neighbour_mean(values: &[f64], nb: &[u32]) -> f64 {
    let v = |k: usize| values[nb[k] as usize];
    match nb.len() {
        4 => (((v(0) + v(1)) + v(2)) + v(3)) * 0.25,
        2 => (v(0) + v(1)) * 0.5,
        m => nb.iter().map(|&j| values[j as usize]).sum::<f64>() / m as f64,
    }
}

/// The sweep plan of one fill: the skewed layout, per block and diagonal either a lane mask
/// for the vector kernel or a list of cells done one by one.
pub(super) struct Sweeps {
    n2: usize,
    diags: usize,
    blocks: usize,
    /// Whether block b's diagonals LANES..=n2 − 2 go to the vector kernel (only with AVX-512).
    vector: Vec<bool>,
    /// Missing lanes per (block, diagonal) for vector blocks (bit j = row 8b + j).
    masks: Vec<u8>,
    /// Cells done one by one, per (block, diagonal): `cell_start[b·diags + t]..`.
    cell_start: Vec<u32>,
    /// Skewed index of each such cell and its neighbours (CSR in `nb_start`).
    cells: Vec<u32>,
    nb_start: Vec<u32>,
    nbs: Vec<u32>,
    /// Grid indices of the missing cells (for the copy back).
    missing: Vec<u32>,
}

impl Sweeps {
    /// Plan the sweeps of the missing cells of an `n1 × n2` grid; `neighbours` lists a cell's
    /// neighbours in the order up, down, left, right (those that exist). `vector` allows the
    /// AVX-512 kernel (used only when the processor has it).
    pub(super) fn new(
        missing: &[usize],
        n1: usize,
        n2: usize,
        neighbours: &impl Fn(usize, &mut [usize; 4]) -> usize,
        vector: bool,
    ) -> Self {
        let diags = n2 + LANES - 1;
        let blocks = n1.div_ceil(LANES);
        let vector_ok = vector && avx512_available() && n2 >= LANES + 2;
        // A block is vectorised when its rows and the rows next to it are interior.
        let vec_block: Vec<bool> = (0..blocks)
            .map(|b| vector_ok && b >= 1 && (b + 1) * LANES < n1)
            .collect();
        let mut masks = vec![0u8; blocks * diags];
        // Cells done one by one, keyed by (block, diagonal, lane): the lane order within a
        // diagonal is free (its cells are independent).
        let mut one_by_one: Vec<(usize, usize)> = Vec::new();
        for &i in missing {
            let (r, c) = (i / n2, i % n2);
            let (b, j) = (r / LANES, r % LANES);
            let t = c + j;
            if vec_block[b] && (LANES..=n2 - 2).contains(&t) {
                masks[b * diags + t] |= 1 << j;
            } else {
                one_by_one.push((b * diags + t, i));
            }
        }
        one_by_one.sort_unstable();
        let mut s = Self {
            n2,
            diags,
            blocks,
            vector: vec_block,
            masks,
            cell_start: Vec::with_capacity(blocks * diags + 1),
            cells: Vec::with_capacity(one_by_one.len()),
            nb_start: vec![0],
            nbs: Vec::new(),
            missing: missing.iter().map(|&i| i as u32).collect(),
        };
        let mut nb = [0usize; 4];
        let mut next = one_by_one.iter().peekable();
        for key in 0..blocks * diags {
            s.cell_start.push(s.cells.len() as u32);
            while let Some(&&(_, i)) = next.peek().filter(|(k, _)| *k == key) {
                next.next();
                s.cells.push(s.at(i) as u32);
                let m = neighbours(i, &mut nb);
                for &j in &nb[..m] {
                    let sj = s.at(j) as u32;
                    s.nbs.push(sj);
                }
                s.nb_start.push(s.nbs.len() as u32);
            }
        }
        s.cell_start.push(s.cells.len() as u32);
        s
    }

    /// Length of a skewed block.
    fn tile(&self) -> usize {
        self.diags * LANES
    }

    /// Skewed index of grid cell `i`.
    fn at(&self, i: usize) -> usize {
        let (r, c) = (i / self.n2, i % self.n2);
        let (b, j) = (r / LANES, r % LANES);
        b * self.tile() + (c + j) * LANES + j
    }

    /// The field in skewed layout (lanes past the last row hold 0 and are never read).
    pub(super) fn skewed(&self, values: &[f64]) -> Vec<f64> {
        let mut skew = vec![0.0; self.blocks * self.tile()];
        for (i, &v) in values.iter().enumerate() {
            skew[self.at(i)] = v;
        }
        skew
    }

    /// Copy the missing cells back from the skewed layout.
    pub(super) fn unskew(&self, skew: &[f64], values: &mut [f64]) {
        for &i in &self.missing {
            values[i as usize] = skew[self.at(i as usize)];
        }
    }

    /// One over-relaxed sweep on the skewed field; returns the largest change (max is exact
    /// in any order).
    pub(super) fn relax(&self, skew: &mut [f64], omega: f64) -> f64 {
        assert_eq!(skew.len(), self.blocks * self.tile());
        #[cfg(target_arch = "x86_64")]
        if self.vector.iter().any(|&v| v) {
            // SAFETY: vector blocks exist only when AVX-512F is present (`new`).
            return unsafe { avx512::relax(self, skew, omega) };
        }
        let mut change = 0.0_f64;
        self.schedule(|b, t| change = change.max(self.cells_of(skew, b * self.diags + t, omega)));
        change
    }

    /// Visit every (block, diagonal) in sweep order: groups of `GROUP` blocks in lockstep,
    /// block g + q at diagonal s − q·LAG in step s, earlier blocks of a step first.
    #[inline(always)]
    fn schedule(&self, mut visit: impl FnMut(usize, usize)) {
        for g in (0..self.blocks).step_by(GROUP) {
            let k = GROUP.min(self.blocks - g);
            for s in 0..self.diags + LAG * (k - 1) {
                for q in 0..k {
                    let Some(t) = s.checked_sub(LAG * q) else {
                        break;
                    };
                    if t < self.diags {
                        visit(g + q, t);
                    }
                }
            }
        }
    }

    /// The cells of (block, diagonal) `key` done one by one; returns their largest change.
    #[inline(always)]
    fn cells_of(&self, skew: &mut [f64], key: usize, omega: f64) -> f64 {
        let mut change = 0.0_f64;
        let (c0, c1) = (self.cell_start[key], self.cell_start[key + 1]);
        for k in c0 as usize..c1 as usize {
            let (a, z) = (self.nb_start[k] as usize, self.nb_start[k + 1] as usize);
            let i = self.cells[k] as usize;
            let d = omega * (neighbour_mean(skew, &self.nbs[a..z]) - skew[i]);
            skew[i] += d;
            change = change.max(d.abs());
        }
        change
    }

    /// Where the vector kernel reads diagonal t (LANES ≤ t ≤ n2 − 2) of vector block b: the
    /// diagonal's start, lane 0's upper neighbour (block b − 1, lane 7, column t: its
    /// diagonal t + 7) and lane 7's lower one (block b + 1, lane 0, column t − 7).
    #[inline(always)]
    fn vector_sites(&self, b: usize, t: usize) -> (usize, usize, usize) {
        let tile = self.tile();
        let base = b * tile + t * LANES;
        let above = (b - 1) * tile + (t + LANES - 1) * LANES + LANES - 1;
        let below = (b + 1) * tile + (t + 1 - LANES) * LANES;
        (base, above, below)
    }
}

fn avx512_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{Sweeps, LANES};

    /// One sweep ([`Sweeps::relax`]) with the vector kernel on the vector blocks' inner
    /// diagonals. Lane j of the diagonal at `base` is the cell (row j, column t − j) of its
    /// block. The previous diagonal (new values) gives each lane its left neighbour and,
    /// shifted by one lane, its upper one (lane 0: `above`); the next diagonal (old values)
    /// gives the right neighbour and, shifted, the lower one (lane 7: `below`). Each lane
    /// does the scalar operations in the scalar order: ((up + down) + left) + right, × ¼,
    /// d = ω(mean − v), v + d; lanes outside the mask (valid cells) keep their value.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn relax(s: &Sweeps, skew: &mut [f64], omega: f64) -> f64 {
        let up_from = _mm512_set_epi64(6, 5, 4, 3, 2, 1, 0, 8);
        let down_from = _mm512_set_epi64(8, 7, 6, 5, 4, 3, 2, 1);
        let (w, quarter) = (_mm512_set1_pd(omega), _mm512_set1_pd(0.25));
        let mut vchange = _mm512_setzero_pd();
        let mut change = 0.0_f64;
        let len = skew.len();
        s.schedule(|b, t| {
            let key = b * s.diags + t;
            let m = s.masks[key];
            if m != 0 {
                let (base, above, below) = s.vector_sites(b, t);
                assert!(base >= LANES && base + 2 * LANES <= len && above < len && below < len);
                // SAFETY: the kernel reads skew[base − 8 .. base + 16], skew[above] and
                // skew[below] and writes skew[base .. base + 8], all in bounds (asserted).
                let p = skew.as_mut_ptr().add(base);
                let prev = _mm512_loadu_pd(p.sub(LANES));
                let cur = _mm512_loadu_pd(p);
                let next = _mm512_loadu_pd(p.add(LANES));
                let up = _mm512_permutex2var_pd(prev, up_from, _mm512_set1_pd(skew[above]));
                let down = _mm512_permutex2var_pd(next, down_from, _mm512_set1_pd(skew[below]));
                let sum = _mm512_add_pd(_mm512_add_pd(_mm512_add_pd(up, down), prev), next);
                let d = _mm512_mul_pd(w, _mm512_sub_pd(_mm512_mul_pd(sum, quarter), cur));
                _mm512_storeu_pd(p, _mm512_mask_add_pd(cur, m, cur, d));
                vchange = _mm512_mask_max_pd(vchange, m, vchange, _mm512_abs_pd(d));
            }
            change = change.max(s.cells_of(skew, key, omega));
        });
        change.max(_mm512_reduce_max_pd(vchange))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn neighbours(
        n1: usize,
        n2: usize,
        periodic: bool,
    ) -> impl Fn(usize, &mut [usize; 4]) -> usize {
        move |i, out| {
            let (r, c) = (i / n2, i % n2);
            let mut k = 0;
            let mut push = |j| {
                out[k] = j;
                k += 1;
            };
            if r > 0 {
                push(i - n2);
            }
            if r + 1 < n1 {
                push(i + n2);
            }
            if c > 0 {
                push(i - 1);
            } else if periodic {
                push(i + n2 - 1);
            }
            if c + 1 < n2 {
                push(i + 1);
            } else if periodic {
                push(i + 1 - n2);
            }
            k
        }
    }

    // The vector kernel and the one-by-one path give the same bits, and both equal a plain
    // row-major Gauss–Seidel sweep (several lockstep groups, a partial last block).
    #[test]
    fn vector_and_scalar_sweeps_equal_the_row_major_sweep() {
        for (n1, n2, periodic) in [(61, 50, true), (61, 50, false), (44, 12, true)] {
            let n = n1 * n2;
            let missing: Vec<usize> = (0..n).filter(|i| (i * 7919 % 13) >= 3).collect();
            let field: Vec<f64> = (0..n).map(|i| ((i as f64) * 0.37).sin()).collect();
            let nbf = neighbours(n1, n2, periodic);
            let mut expect = field.clone();
            let mut nb = [0usize; 4];
            for _ in 0..5 {
                for &i in &missing {
                    let m = nbf(i, &mut nb);
                    let nb32: Vec<u32> = nb[..m].iter().map(|&j| j as u32).collect();
                    let d = 1.8 * (neighbour_mean(&expect, &nb32) - expect[i]);
                    expect[i] += d;
                }
            }
            for vector in [true, false] {
                let s = Sweeps::new(&missing, n1, n2, &nbf, vector);
                let mut skew = s.skewed(&field);
                for _ in 0..5 {
                    s.relax(&mut skew, 1.8);
                }
                let mut got = field.clone();
                s.unskew(&skew, &mut got);
                for (a, b) in got.iter().zip(&expect) {
                    assert_eq!(a.to_bits(), b.to_bits(), "{n1}x{n2} vector {vector}");
                }
            }
        }
    }
}
