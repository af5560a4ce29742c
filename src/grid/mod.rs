//! The `grid` room (see docs/architecture.md).
