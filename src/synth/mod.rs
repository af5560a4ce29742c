//! The `synth` room (see docs/architecture.md).

pub mod obs_sim;
