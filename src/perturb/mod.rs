//! Ensemble perturbations of forcing and soil-moisture state (SCIENCE.md §2, GMAO/LIS style).
//!
//! Pure math: no I/O, no MPI, no global state. See docs/perturbations.md for the method.
//!
//! Flow per group (e.g. forcing SW/LW/P, or soil moisture layers 1–4):
//! 1. [`PerturbGenerator::new`] validates a [`PerturbGroup`] and factors its correlation
//!    matrix C = S Sᵀ (Jacobi eigen-decomposition, symmetric square root).
//! 2. [`PerturbGenerator::cold_start`] draws the stationary AR(1) state x ~ N(0, 1) for the
//!    cells a rank owns, or [`PerturbState::from_packed`] restores it from a restart.
//! 3. [`PerturbGenerator::advance_to_time`] moves x along x ← ρ x + √(1−ρ²) w, ρ = exp(−Δt/τ),
//!    one perturbation interval at a time, with w a keyed N(0, 1) deviate (or a keyed Gaussian
//!    random field) so results do not depend on decomposition or on how the run was split.
//! 4. [`PerturbGenerator::values`] gives p per (cell, member, var), held until the next
//!    perturbation time; [`PerturbGenerator::apply_forcing_perturbation`] and
//!    [`PerturbGenerator::soil_moisture_increment`] use them.
//!
//! [`FieldShare`] spreads the spatially correlated fields over ranks: each rank draws some
//! (member, variable) pairs for every rank's cells, the caller exchanges them.
//!
//! [`PerturbationSet`] bundles all groups of a run for one rank's cells (what the ensemble
//! driver holds), with restart content keyed by global cell id.

pub mod clock;
pub mod field;
pub mod generator;
pub mod initial;
pub mod linalg;
pub mod rng;
pub mod set;
pub mod share;
pub mod spec;

use thiserror::Error;

pub use field::{FieldScratch, GaussianFieldPlan};
pub use generator::{
    apply_forcing_perturbation, apply_forcing_perturbation_members, PerturbGenerator, PerturbState,
    PerturbValues, MIN_CORRELATION_EIGENVALUE,
};
pub use initial::{
    initial_layer_deviates, initial_member_deviates, initial_member_field_deviates, InitialSource,
};
pub use rng::{keyed_normal, keyed_normals4, DeviateKey, Purpose};
pub use set::{Advanced, GroupRestart, PerturbationSet};
pub use share::FieldShare;
pub use spec::{
    CovarianceShape, GroupRole, PerturbGroup, PerturbKind, PerturbTarget, PerturbVar, ResolvedVar,
    SpatialCorrelation,
};

/// Stream id conventionally used for the forcing perturbation group.
pub const STREAM_FORCING: u32 = 1;
/// Stream id conventionally used for the soil-moisture state perturbation group.
pub const STREAM_SOIL_MOISTURE: u32 = 2;
/// Stream id of the initial ensemble spread at a cold start (3 is the observation
/// perturbations of the analysis).
pub const STREAM_INITIAL_STATE: u32 = 4;

/// Errors of the perturbation room.
#[derive(Debug, Error)]
pub enum PerturbError {
    /// Invalid configuration of a perturbation group.
    #[error("perturbation group '{group}': {message}")]
    Config { group: String, message: String },
    /// A perturbation state that does not fit its group (restart, layout, time).
    #[error("perturbation state: {0}")]
    State(String),
}
