//! The `coupler` room (see docs/architecture.md).

pub mod wrf;
