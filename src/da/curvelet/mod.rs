//! The `da::curvelet` room (see docs/architecture.md).
