//! A set of grid cells (V, the analysed cells) and its zero-padding Z_V and restriction Z_Vᵀ.

use super::ImageError;

/// Cells of an `n`-cell grid in ascending flat order. The control vector of the
/// variational analysis lives on such a set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CellSet {
    n: usize,
    idx: Vec<u32>,
}

impl CellSet {
    /// The cells where `mask` is true.
    pub fn from_mask(mask: &[bool]) -> Self {
        let idx = (0..mask.len() as u32)
            .filter(|&i| mask[i as usize])
            .collect();
        Self { n: mask.len(), idx }
    }
    /// Number of cells in the set.
    pub fn len(&self) -> usize {
        self.idx.len()
    }
    /// True when the set is empty.
    pub fn is_empty(&self) -> bool {
        self.idx.is_empty()
    }
    /// Size of the grid the set lives on.
    pub fn grid_len(&self) -> usize {
        self.n
    }
    /// Flat cell indices, ascending.
    pub fn indices(&self) -> &[u32] {
        &self.idx
    }

    fn check(&self, set: usize, grid: usize) -> Result<(), ImageError> {
        if set != self.idx.len() {
            return Err(ImageError::SizeMismatch {
                what: "vector on the cell set",
                expected: self.idx.len(),
                got: set,
            });
        }
        if grid != self.n {
            return Err(ImageError::SizeMismatch {
                what: "grid field",
                expected: self.n,
                got: grid,
            });
        }
        Ok(())
    }

    /// Z_V: `grid` = `v` on the set, 0 elsewhere.
    pub fn pad_into(&self, v: &[f64], grid: &mut [f64]) -> Result<(), ImageError> {
        self.check(v.len(), grid.len())?;
        grid.fill(0.0);
        for (&i, &x) in self.idx.iter().zip(v) {
            grid[i as usize] = x;
        }
        Ok(())
    }

    /// Z_Vᵀ: `v` = `grid` on the set.
    pub fn restrict_into(&self, grid: &[f64], v: &mut [f64]) -> Result<(), ImageError> {
        self.check(v.len(), grid.len())?;
        for (&i, x) in self.idx.iter().zip(v.iter_mut()) {
            *x = grid[i as usize];
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Restrict after pad is the identity on the set; pad zeroes every other cell.
    #[test]
    fn pad_and_restrict() {
        let set = CellSet::from_mask(&[false, true, true, false, true]);
        assert_eq!(set.indices(), &[1, 2, 4]);
        let mut grid = [9.0; 5];
        set.pad_into(&[1.0, 2.0, 3.0], &mut grid).unwrap();
        assert_eq!(grid, [0.0, 1.0, 2.0, 0.0, 3.0]);
        let mut v = [0.0; 3];
        set.restrict_into(&grid, &mut v).unwrap();
        assert_eq!(v, [1.0, 2.0, 3.0]);
        assert!(set.pad_into(&[1.0], &mut grid).is_err());
    }
}
