//! The `synth` room (see docs/architecture.md).
