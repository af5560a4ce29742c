//! The `synth` room (see docs/architecture.md).
pub mod statics;
pub mod weather;
