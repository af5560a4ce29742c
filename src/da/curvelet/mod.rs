//! Fast discrete curvelet transform via wrapping (SCIENCE.md §6), thresholding and image
//! preparation. Pure math: no I/O, no MPI.
//!
//! The transform is a tight frame on any `n1 × n2` grid (both sides ≥ 16): Σc² = ‖x‖²
//! and the inverse is the adjoint. Curvelets are real (cosine/sine pairs of a complex
//! wedge and its mirror). Build a [`CurveletPlan`] once per grid and reuse it with a
//! [`Workspace`] per thread; calls allocate nothing.
//!
//! ```
//! use landcycle::da::curvelet::{CurveletOptions, CurveletPlan};
//! let plan = CurveletPlan::new(32, 40, &CurveletOptions::default()).unwrap();
//! let mut ws = plan.new_workspace();
//! let mut c = plan.new_coefficients();
//! let x: Vec<f64> = (0..32 * 40).map(|i| (i as f64 * 0.37).sin()).collect();
//! plan.forward(&x, &mut c, &mut ws).unwrap();
//! let mut y = vec![0.0; x.len()];
//! plan.inverse(&c, &mut y, &mut ws).unwrap();
//! assert!(x.iter().zip(&y).all(|(a, b)| (a - b).abs() < 1e-12));
//! ```

mod coeffs;
mod plan;
mod prepare;
mod sweep;
mod threshold;
pub mod window;

pub use coeffs::{BandInfo, BandKind, BandView, BandViewMut, Coefficients, Layout};
pub use plan::{
    default_scales, max_scales, square_sums, BandSlot, BandValues, CurveletOptions, CurveletPlan,
    Finest, SumInto, Workspace, WrapSize, MIN_SIDE,
};
pub use prepare::{crop, extend, fill_missing, Extension, FillOptions, FillReport};
pub use threshold::{CoarseTreatment, MaskedTransform, ThresholdMask};

/// Errors of the curvelet room.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum CurveletError {
    /// Image below the minimum size.
    #[error("image {n1}×{n2} is too small for the curvelet transform (each side must be ≥ {min})")]
    TooSmall {
        /// Rows.
        n1: usize,
        /// Columns.
        n2: usize,
        /// Minimum side.
        min: usize,
    },
    /// Image too large for 32-bit index maps.
    #[error("image {n1}×{n2} is too large for the curvelet plan")]
    TooLarge {
        /// Rows.
        n1: usize,
        /// Columns.
        n2: usize,
    },
    /// Unsupported number of scales.
    #[error("number of scales {requested} is outside {min}..={max} for this grid")]
    BadScales {
        /// Requested J.
        requested: usize,
        /// Smallest allowed.
        min: usize,
        /// Largest allowed.
        max: usize,
    },
    /// Unsupported number of coarse angles.
    #[error("coarse angles {0}: must be a multiple of 4 and at least 8")]
    BadAngles(usize),
    /// Array size does not match the plan.
    #[error("{what} has {got} elements, the plan expects {expected}")]
    SizeMismatch {
        /// What was passed.
        what: &'static str,
        /// Expected size.
        expected: usize,
        /// Given size.
        got: usize,
    },
    /// A pixel is NaN or infinite and no mask was given.
    #[error("pixel (row {row}, column {col}) is not finite; fill or mask missing cells before transforming")]
    NonFinite {
        /// Row.
        row: usize,
        /// Column.
        col: usize,
    },
    /// Threshold fraction outside (0, 1].
    #[error("kept fraction σ = {0} is outside (0, 1]")]
    BadFraction(f64),
    /// Nothing to fill from.
    #[error("no valid cell to fill missing cells from")]
    NoValidCells,
    /// Invalid extension request.
    #[error("invalid extension: {0}")]
    BadExtension(String),
    /// Mask does not belong to the coefficient layout.
    #[error("threshold mask does not match the coefficient layout")]
    MaskMismatch,
    /// A broken invariant (a bug).
    #[error("internal curvelet error: {0}")]
    Internal(&'static str),
}
