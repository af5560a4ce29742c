//! The `biascorr` room (see docs/architecture.md).
