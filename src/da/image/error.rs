//! Errors of the image-analysis room.

use crate::da::curvelet::CurveletError;

/// Why an image analysis could not be set up or run. Every variant names the offending
/// input so the caller (the cycle's image stage) can report it without guessing.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ImageError {
    /// The transform room refused (grid too small, sizes, non-finite pixels…).
    #[error(transparent)]
    Curvelet(#[from] CurveletError),
    /// An array does not have the plan's size.
    #[error("{what} has {got} elements, the plan expects {expected}")]
    SizeMismatch {
        /// What was passed.
        what: &'static str,
        /// Expected length.
        expected: usize,
        /// Given length.
        got: usize,
    },
    /// A value that must be finite is not, on a cell the analysis reads.
    #[error("{what} is not finite at cell {cell} (row {row}, column {col})")]
    NonFinite {
        /// Which input.
        what: &'static str,
        /// Flat cell index.
        cell: usize,
        /// Row.
        row: usize,
        /// Column.
        col: usize,
    },
    /// A variance or weight outside its domain.
    #[error("{what} = {value} is invalid: {why}")]
    BadParameter {
        /// Which parameter.
        what: &'static str,
        /// Given value.
        value: f64,
        /// The rule it breaks.
        why: &'static str,
    },
    /// A point observation refers to a cell outside the grid.
    #[error("point observation {index} is at cell {cell}, the grid has {cells} cells")]
    ObsOutside {
        /// Position in the observation list.
        index: usize,
        /// Its cell.
        cell: usize,
        /// Grid size.
        cells: usize,
    },
    /// A cell is marked analysed but not land.
    #[error("cell {cell} is analysed but not land")]
    AnalysedOffLand {
        /// Flat cell index.
        cell: usize,
    },
    /// Too few members for an ensemble estimate.
    #[error("need at least 2 members, got {0}")]
    TooFewMembers(usize),
    /// The member and perturbed-image lists differ in length.
    #[error("{members} members but {images} perturbed images")]
    MemberCount {
        /// Members given.
        members: usize,
        /// Perturbed images given.
        images: usize,
    },
    /// The observed image has no valid pixel.
    #[error("the observed image has no valid pixel")]
    EmptyImage,
}
