//! The `da::image` room (see docs/architecture.md).
