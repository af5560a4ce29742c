//! The `perturb` room (see docs/architecture.md).
