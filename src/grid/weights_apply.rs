//! Applying a [`WeightMatrix`] to a subset of destination cells: a rank remaps onto its own
//! cells only and reads only the source cells their rows use (`source_ids`, ascending, so a
//! reader can take the covering hyperslab or an index list).
//!
//! Two applications (COUPLING.md §4):
//! - [`RowSubset::remap`], atmosphere → land: `dst = Σ w·src` in file order; a destination
//!   without weight or using a missing source value is an error naming the cells.
//! - [`RowSubset::masked_mean`], land → atmosphere with conservative weights and the land
//!   mask as source mask: `dst = W(m∘f) / (W m)` where `W m` exceeds [`MIN_MASKED_WEIGHT`],
//!   i.e. the area-weighted mean of the cell's land part; destination cells without land
//!   keep their value.

use std::path::PathBuf;

use super::weights::{WeightMatrix, WeightsError};

/// Smallest land share `W m` (of a destination cell's covered area) that gives the cell a
/// land value; below it (no land, or slivers from round-off at touching edges) the cell
/// keeps its own value.
pub const MIN_MASKED_WEIGHT: f64 = 1e-9;

/// The rows of a [`WeightMatrix`] for a list of destination cells.
#[derive(Debug, Clone, PartialEq)]
pub struct RowSubset {
    path: PathBuf,
    conservative: bool,
    map_method: String,
    /// Destination cells (0-based), in the caller's order.
    destinations: Vec<u64>,
    /// Source cells (0-based) the rows use, ascending.
    sources: Vec<u64>,
    row_start: Vec<usize>,
    /// Index into `sources` of each link.
    col: Vec<u32>,
    weight: Vec<f64>,
}

impl RowSubset {
    pub(super) fn new(m: &WeightMatrix, destinations: &[u64]) -> Result<Self, WeightsError> {
        let n = m.n_destination();
        if let Some(&cell) = destinations.iter().find(|&&d| d >= n as u64) {
            return Err(WeightsError::Destination {
                path: m.path().to_path_buf(),
                cell,
                n,
            });
        }
        Ok(Self::build(m, destinations))
    }

    /// `destinations` already known to be in range.
    pub(super) fn build(m: &WeightMatrix, destinations: &[u64]) -> Self {
        let mut sources: Vec<u64> = destinations
            .iter()
            .flat_map(|&d| m.row(d as usize).0.iter().map(|&s| s as u64))
            .collect();
        sources.sort_unstable();
        sources.dedup();
        let mut row_start = Vec::with_capacity(destinations.len() + 1);
        let mut col = Vec::new();
        let mut weight = Vec::new();
        row_start.push(0);
        for &d in destinations {
            let (c, w) = m.row(d as usize);
            for &s in c {
                // Present by construction of `sources`.
                let local = sources.binary_search(&(s as u64)).unwrap_or(0);
                col.push(local as u32);
            }
            weight.extend_from_slice(w);
            row_start.push(col.len());
        }
        RowSubset {
            path: m.path().to_path_buf(),
            conservative: m.is_conservative(),
            map_method: m.map_method().to_string(),
            destinations: destinations.to_vec(),
            sources,
            row_start,
            col,
            weight,
        }
    }

    /// Destination cells (0-based), in the order given.
    pub fn destination_ids(&self) -> &[u64] {
        &self.destinations
    }
    /// Source cells (0-based, ascending) whose values [`remap`](Self::remap) and
    /// [`masked_mean`](Self::masked_mean) take, in this order.
    pub fn source_ids(&self) -> &[u64] {
        &self.sources
    }
    pub fn n_links(&self) -> usize {
        self.col.len()
    }

    fn check_len(
        &self,
        what: &'static str,
        got: usize,
        expected: usize,
    ) -> Result<(), WeightsError> {
        if got == expected {
            return Ok(());
        }
        Err(WeightsError::Length {
            path: self.path.clone(),
            what,
            got,
            expected,
        })
    }

    fn missing(&self, r: usize, local: u32) -> WeightsError {
        WeightsError::MissingSource {
            path: self.path.clone(),
            cell: self.destinations[r],
            source_cell: self.sources[local as usize],
        }
    }

    /// `dst[r] = Σ w·src` over row r in file order (`src` holds the values at
    /// [`source_ids`](Self::source_ids)). Every destination must receive weight and every
    /// weighted source value must be present (not NaN).
    pub fn remap(&self, src: &[f64]) -> Result<Vec<f64>, WeightsError> {
        self.check_len("source values", src.len(), self.sources.len())?;
        let mut out = Vec::with_capacity(self.destinations.len());
        for r in 0..self.destinations.len() {
            let (a, b) = (self.row_start[r], self.row_start[r + 1]);
            if a == b {
                return Err(WeightsError::NoWeight {
                    path: self.path.clone(),
                    cell: self.destinations[r],
                });
            }
            let mut sum = 0.0;
            for (&c, &w) in self.col[a..b].iter().zip(&self.weight[a..b]) {
                let v = src[c as usize];
                if v.is_nan() && w != 0.0 {
                    return Err(self.missing(r, c));
                }
                sum += w * v;
            }
            out.push(sum);
        }
        Ok(out)
    }

    /// Land → atmosphere: `dst[r] = Σ w·m·src / Σ w·m` where `Σ w·m` > [`MIN_MASKED_WEIGHT`]
    /// (the area-weighted mean of the land part of the cell), else `dst[r]` is left as it
    /// is. `src` and `mask` are given at [`source_ids`](Self::source_ids) (mask true = land;
    /// values off the mask are not read). Needs conservative weights. Returns the number of
    /// destination cells that received a land value.
    pub fn masked_mean(
        &self,
        src: &[f64],
        mask: &[bool],
        dst: &mut [f64],
    ) -> Result<usize, WeightsError> {
        if !self.conservative {
            return Err(WeightsError::NotConservative {
                path: self.path.clone(),
                method: self.map_method.clone(),
            });
        }
        self.check_len("source values", src.len(), self.sources.len())?;
        self.check_len("source mask", mask.len(), self.sources.len())?;
        self.check_len("destination values", dst.len(), self.destinations.len())?;
        let mut updated = 0;
        for (r, out) in dst.iter_mut().enumerate() {
            let (a, b) = (self.row_start[r], self.row_start[r + 1]);
            let (mut num, mut den) = (0.0, 0.0);
            for (&c, &w) in self.col[a..b].iter().zip(&self.weight[a..b]) {
                if !mask[c as usize] {
                    continue;
                }
                let v = src[c as usize];
                if v.is_nan() && w != 0.0 {
                    return Err(self.missing(r, c));
                }
                num += w * v;
                den += w;
            }
            if den > MIN_MASKED_WEIGHT {
                *out = num / den;
                updated += 1;
            }
        }
        Ok(updated)
    }
}
