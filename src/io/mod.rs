//! The `io` room (see docs/architecture.md).
pub mod gridded;
