//! The `synth` room (see docs/architecture.md).
pub mod weather;
