//! The `da::enkf` room (see docs/architecture.md).
