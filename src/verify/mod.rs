//! The `verify` room (see docs/architecture.md).
