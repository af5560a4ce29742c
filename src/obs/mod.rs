//! The `obs` room (see docs/architecture.md).
