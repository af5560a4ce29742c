//! Data assimilation: `enkf` (1-D analysis per cell), `curvelet` (the transform),
//! `image` (image analysis built on `curvelet`). Pure math, no I/O or MPI.
pub mod curvelet;
pub mod enkf;
pub(crate) mod huge_pages;
pub mod image;
pub mod localize;
