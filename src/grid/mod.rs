//! The `grid` room (see docs/architecture.md).
pub mod remap;
