//! The `forcing` room (see docs/architecture.md).
