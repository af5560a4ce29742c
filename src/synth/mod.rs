//! The `synth` room (see docs/architecture.md).
pub mod image_file;
pub mod image_obs;
pub mod land_mask;
pub mod obs_sim;
pub mod osse;
pub mod precip_field;
pub mod statics;
pub mod weather;
pub mod wrf;
