//! The `synth` room (see docs/architecture.md).
pub mod obs_sim;
pub mod statics;
pub mod weather;
pub mod osse;
