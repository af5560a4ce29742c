//! The `synth` room (see docs/architecture.md).
pub mod obs_sim;
pub mod osse;
pub mod statics;
pub mod weather;
