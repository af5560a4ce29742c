//! The `cycle` room (see docs/architecture.md).
