//! The `coupler` room (see docs/architecture.md).
