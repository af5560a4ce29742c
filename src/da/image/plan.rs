//! The image plan (grid, mirror extension, curvelet plan, threshold options) and the
//! per-thread workspace. Built once per run; every analysis reuses both.

use crate::da::curvelet::{
    fill_missing, BandInfo, BandSlot, CoarseTreatment, Coefficients, CurveletOptions, CurveletPlan,
    Extension, FillOptions, ThresholdMask, Workspace as CurveletWorkspace,
};

use super::ImageError;

/// Options fixed for a run.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageOptions {
    /// Columns wrap around (a global grid periodic in longitude): only rows are mirrored.
    pub periodic_lon: bool,
    /// Fraction σ ∈ (0, 1] of the observed image's coefficient units kept by the mask.
    pub keep_fraction: f64,
    /// Whether the coarsest band is always kept (IMAGE.md §3: it is).
    pub coarse: CoarseTreatment,
    /// Transform options (wavelets at the finest scale by default).
    pub curvelet: CurveletOptions,
    /// How missing pixels of the observed image (and innovations with `GapPolicy::Fill`) are filled.
    pub fill: FillOptions,
}

impl Default for ImageOptions {
    fn default() -> Self {
        Self {
            periodic_lon: false,
            keep_fraction: 0.5,
            coarse: CoarseTreatment::AlwaysKeep,
            curvelet: CurveletOptions::default(),
            fill: FillOptions::default(),
        }
    }
}

/// Everything that depends only on the grid: the mirror extension E as an index map, its
/// multiplicity m (EᵀE = mI) and the curvelet plan of the extended grid. Immutable and
/// `Sync`: share it between threads, each with its own [`Workspace`].
pub struct ImagePlan {
    ny: usize,
    nx: usize,
    opts: ImageOptions,
    ext: Extension,
    // Source row start of every extended row and source column of every extended column:
    // E is a gather (a row copy with a periodic longitude), Eᵀ the matching scatter-add.
    row_src: Vec<u32>,
    col_src: Vec<u32>,
    // Partner of every extended row under the extension's row reflection.
    row_mirror: Vec<u32>,
    multiplicity: f64,
    curvelet: CurveletPlan,
}

/// Scratch memory for one thread. Sized once from the plan, so analyses allocate only
/// their outputs and the per-analysis mask.
pub struct Workspace {
    pub(super) op: OpScratch,
    // CG vectors x, r, z, p, q (control length ≤ cells).
    pub(super) cg: [Vec<f64>; 5],
    // The further images of EnKF-like pass 1's batched transforms (made on first use).
    pub(super) batch: Vec<super::pass1::BatchScratch>,
    // Storage of earlier analyses' member parts, reused so that the hundreds of MB they
    // take are not faulted in afresh every analysis.
    pub(super) part_pool: Vec<Vec<f64>>,
}

/// Scratch of one operator application (kept apart from the CG vectors so both can be
/// borrowed at once).
pub(super) struct OpScratch {
    pub(super) cw: CurveletWorkspace,
    pub(super) coeffs: Coefficients,
    pub(super) kept: Vec<f64>,
    pub(super) ext: Vec<f64>,
    pub(super) grid: Vec<f64>,
}

fn reflect(j: i64, n: i64) -> usize {
    let r = j.rem_euclid(2 * n);
    (if r < n { r } else { 2 * n - 1 - r }) as usize
}

impl ImagePlan {
    /// Plan for an `ny × nx` field (row-major, rows = latitude, columns = longitude).
    pub fn new(ny: usize, nx: usize, opts: &ImageOptions) -> Result<Self, ImageError> {
        let kf = opts.keep_fraction;
        if !(kf > 0.0 && kf <= 1.0) {
            return Err(ImageError::BadParameter {
                what: "keep_fraction",
                value: kf,
                why: "must lie in (0, 1]",
            });
        }
        let ext = Extension::mirror(ny, nx, opts.periodic_lon);
        let (e1, e2) = ext.extended_shape();
        let curvelet = CurveletPlan::new(e1, e2, &opts.curvelet)?;
        if e1 * e2 > u32::MAX as usize {
            return Err(ImageError::Curvelet(
                crate::da::curvelet::CurveletError::TooLarge { n1: ny, n2: nx },
            ));
        }
        let row_src = (0..e1)
            .map(|r| (reflect(r as i64 - ext.top as i64, ny as i64) * nx) as u32)
            .collect();
        let col_src = (0..e2)
            .map(|c| reflect(c as i64 - ext.left as i64, nx as i64) as u32)
            .collect();
        // Doubling each mirrored axis makes every cell appear the same number of times.
        let multiplicity = (e1 * e2) as f64 / (ny * nx) as f64;
        // Half-sample reflection about row top − ½, periodic in the doubled axis.
        let a = (2 * ext.top + e1 - 1) % e1;
        let row_mirror = (0..e1).map(|r| ((a + e1 - r) % e1) as u32).collect();
        Ok(Self {
            ny,
            nx,
            opts: opts.clone(),
            ext,
            row_src,
            col_src,
            row_mirror,
            multiplicity,
            curvelet,
        })
    }

    /// The extension's row reflection (extended row r equals row `row_mirror()[r]`).
    pub fn row_mirror(&self) -> &[u32] {
        &self.row_mirror
    }

    /// coeffs = C ext for an extended field `ext` (from [`ImagePlan::extend_into`]).
    pub(super) fn forward_extended(
        &self,
        ext: &[f64],
        coeffs: &mut Coefficients,
        cw: &mut CurveletWorkspace,
    ) -> Result<(), ImageError> {
        self.curvelet
            .forward_mirrored_rows(ext, &self.row_mirror, coeffs, cw)?;
        Ok(())
    }

    /// field = Eᵀ C* coeffs (`ext` is scratch): the inverse folded over the extension.
    pub(super) fn inverse_folded(
        &self,
        coeffs: &Coefficients,
        ext: &mut [f64],
        field: &mut [f64],
        cw: &mut CurveletWorkspace,
    ) -> Result<(), ImageError> {
        self.curvelet
            .inverse_row_folded(coeffs, &self.row_mirror, ext, cw)?;
        self.fold_into(ext, field)
    }

    /// field = Eᵀ C* c for coefficients c that `source` writes band by band
    /// ([`CurveletPlan::inverse_from`]); `ext` is scratch.
    pub(super) fn inverse_folded_from(
        &self,
        ext: &mut [f64],
        field: &mut [f64],
        cw: &mut CurveletWorkspace,
        source: impl FnMut(&BandInfo, BandSlot<'_>),
    ) -> Result<(), ImageError> {
        self.curvelet
            .inverse_from(Some(&self.row_mirror), ext, cw, source)?;
        self.fold_into(ext, field)
    }

    /// Field rows.
    pub fn ny(&self) -> usize {
        self.ny
    }
    /// Field columns.
    pub fn nx(&self) -> usize {
        self.nx
    }
    /// Number of cells `ny · nx`.
    pub fn n_cells(&self) -> usize {
        self.ny * self.nx
    }
    /// Options the plan was built with.
    pub fn options(&self) -> &ImageOptions {
        &self.opts
    }
    /// The mirror extension.
    pub fn extension(&self) -> &Extension {
        &self.ext
    }
    /// Number of extended pixels.
    pub fn n_extended(&self) -> usize {
        self.row_src.len() * self.col_src.len()
    }
    /// m in EᵀE = mI: 4 on a regional grid, 2 with a periodic longitude.
    pub fn multiplicity(&self) -> f64 {
        self.multiplicity
    }
    /// The curvelet plan of the extended grid.
    pub fn curvelet(&self) -> &CurveletPlan {
        &self.curvelet
    }

    /// Scratch memory for one thread.
    pub fn new_workspace(&self) -> Workspace {
        let n = self.n_cells();
        let total = self.curvelet.layout().total;
        Workspace {
            op: OpScratch {
                cw: self.curvelet.new_workspace(),
                coeffs: self.curvelet.new_coefficients(),
                kept: vec![0.0; total],
                ext: vec![0.0; self.n_extended()],
                grid: vec![0.0; n],
            },
            cg: std::array::from_fn(|_| vec![0.0; n]),
            batch: Vec::new(),
            part_pool: Vec::new(),
        }
    }
}

impl Workspace {
    /// Keep the storage of `parts` (whose analysis is done) for the next analysis's parts.
    pub fn recycle_parts(&mut self, parts: Vec<super::MemberPart>) {
        self.part_pool.extend(parts.into_iter().map(|p| p.0));
    }
}

impl ImagePlan {
    pub(super) fn check_len(
        &self,
        what: &'static str,
        got: usize,
        expected: usize,
    ) -> Result<(), ImageError> {
        if got == expected {
            Ok(())
        } else {
            Err(ImageError::SizeMismatch {
                what,
                expected,
                got,
            })
        }
    }

    /// E: mirror-extend a field into `out` (extended, row-major).
    pub fn extend_into(&self, field: &[f64], out: &mut [f64]) -> Result<(), ImageError> {
        self.check_len("field", field.len(), self.n_cells())?;
        self.check_len("extended field", out.len(), self.n_extended())?;
        let (e2, periodic) = (self.col_src.len(), self.opts.periodic_lon);
        for (o, &row) in out.chunks_exact_mut(e2).zip(&self.row_src) {
            let src = &field[row as usize..row as usize + self.nx];
            if periodic {
                o.copy_from_slice(src);
            } else {
                for (o, &c) in o.iter_mut().zip(&self.col_src) {
                    *o = src[c as usize];
                }
            }
        }
        Ok(())
    }

    /// Eᵀ, the adjoint of the extension: each cell receives the sum of its m mirrored
    /// copies (a fold, not a crop). Summed in extended-pixel order, so deterministic (row
    /// by row: each cell's copies still arrive in that order).
    pub fn fold_into(&self, extended: &[f64], out: &mut [f64]) -> Result<(), ImageError> {
        self.check_len("extended field", extended.len(), self.n_extended())?;
        self.check_len("field", out.len(), self.n_cells())?;
        out.fill(0.0);
        let (e2, periodic) = (self.col_src.len(), self.opts.periodic_lon);
        for (e, &row) in extended.chunks_exact(e2).zip(&self.row_src) {
            let dst = &mut out[row as usize..row as usize + self.nx];
            if periodic {
                dst.iter_mut().zip(e).for_each(|(d, v)| *d += v);
            } else {
                for (v, &c) in e.iter().zip(&self.col_src) {
                    dst[c as usize] += v;
                }
            }
        }
        Ok(())
    }

    /// The mask M, chosen once per analysis on c_o = C E fill(f_o) at `keep_fraction`.
    /// Non-finite pixels of `observed` are missing and filled smoothly first, so gaps and
    /// coasts do not create spurious edges in the ranking.
    pub fn observation_mask(
        &self,
        observed: &[f64],
        ws: &mut Workspace,
    ) -> Result<ThresholdMask, ImageError> {
        self.check_len("observed image", observed.len(), self.n_cells())?;
        let valid: Vec<bool> = observed.iter().map(|v| v.is_finite()).collect();
        if !valid.iter().any(|&v| v) {
            return Err(ImageError::EmptyImage);
        }
        let op = &mut ws.op;
        op.grid.copy_from_slice(observed);
        self.fill(&mut op.grid, &valid)?;
        self.extend_into(&op.grid, &mut op.ext)?;
        self.forward_extended(&op.ext, &mut op.coeffs, &mut op.cw)?;
        Ok(ThresholdMask::top_fraction(
            &op.coeffs,
            self.opts.keep_fraction,
            self.opts.coarse,
        )?)
    }

    /// Fill the cells where `valid` is false smoothly from the valid ones (the curvelet
    /// room's diffusion fill, periodic in longitude when the grid is).
    pub fn fill(&self, field: &mut [f64], valid: &[bool]) -> Result<(), ImageError> {
        let mut fill = self.opts.fill.clone();
        fill.periodic_lon = self.opts.periodic_lon;
        fill_missing(field, valid, self.ny, self.nx, &fill)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every cell has exactly m copies in the extension, and the fold of E x is m x
    // (a crop would give x back and fail this).
    #[test]
    fn fold_of_extension_is_multiplicity_times_field() {
        for (periodic, m) in [(false, 4.0), (true, 2.0)] {
            let opts = ImageOptions {
                periodic_lon: periodic,
                ..ImageOptions::default()
            };
            let plan = ImagePlan::new(9, 17, &opts).unwrap();
            assert_eq!(plan.multiplicity(), m);
            let x: Vec<f64> = (0..9 * 17).map(|i| (i as f64 * 0.61).cos()).collect();
            let mut e = vec![0.0; plan.n_extended()];
            let mut back = vec![0.0; x.len()];
            plan.extend_into(&x, &mut e).unwrap();
            plan.fold_into(&e, &mut back).unwrap();
            for (a, b) in x.iter().zip(&back) {
                assert!((m * a - b).abs() < 1e-14);
            }
        }
    }

    #[test]
    fn keep_fraction_outside_unit_interval_is_refused() {
        for kf in [0.0, 1.5, f64::NAN] {
            let opts = ImageOptions {
                keep_fraction: kf,
                ..ImageOptions::default()
            };
            assert!(matches!(
                ImagePlan::new(16, 16, &opts),
                Err(ImageError::BadParameter {
                    what: "keep_fraction",
                    ..
                })
            ));
        }
    }
}
