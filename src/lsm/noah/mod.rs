//! Noah LSM 3.4.1 single-column physics.
pub mod tables;
