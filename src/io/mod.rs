//! The `io` room (see docs/architecture.md).
