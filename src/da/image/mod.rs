//! Image analysis of one 2-D field with the curvelet transform as the image observation
//! operator (IMAGE.md, SCIENCE.md §7). Pure math: no files, no MPI, no cycle.
//!
//! Build an [`ImagePlan`] once per grid (mirror extension E with EᵀE = mI, the curvelet
//! plan of the extended grid, the threshold options) and give each thread a
//! [`Workspace`]. Two analyses share them:
//! - variational ([`analyse_var`], [`VarProblem`]): J = J_B + J_O + J_I over δ = x − x_b on
//!   the analysed cells, the mask fixed on the observed image, solved by a
//!   control-variable transform and preconditioned linear CG;
//! - EnKF-like ([`analyse_enkf_like`], [`EnkfLikeGain`]): a diagonal Kalman update of
//!   every member in curvelet-coefficient space;
//! - the innovation-consistent scale of the variational analysis's B ([`innovation_b_scale`]);
//! - deeper soil layers by per-cell column regression on the top layer's increment
//!   ([`column_regression`], [`column_increment`]);
//! - restrictions of the deep update and of the perturbation update for an image on top of
//!   a 1-D filter ([`depth_taper`], [`keep_coarse_scales`], [`mean_increments`]).
//!
//! ```
//! use landcycle::da::image::{analyse_var, ImageOptions, ImagePlan, VarConfig, VarInput};
//! let (ny, nx) = (16, 20);
//! let plan = ImagePlan::new(ny, nx, &ImageOptions::default()).unwrap();
//! let mut ws = plan.new_workspace();
//! let xb = vec![0.25; ny * nx];
//! let fo: Vec<f64> = (0..ny * nx).map(|i| 0.25 + 0.05 * (i as f64 * 0.1).sin()).collect();
//! let analysed = vec![true; ny * nx];
//! let b_var = vec![0.03_f64.powi(2); ny * nx];
//! let input = VarInput { background: &xb, observed: &fo, analysed: &analysed, b_var: &b_var, point_obs: &[] };
//! let mut inc = vec![0.0; ny * nx];
//! let report = analyse_var(&plan, &input, &VarConfig::default(), &mut ws, &mut inc).unwrap();
//! // J falls from the background's value and the increment points towards the image.
//! let j = &report.iterations;
//! assert!(j.last().unwrap().cost < j[0].cost);
//! let d_dot_inc: f64 = (0..ny * nx).map(|i| (fo[i] - xb[i]) * inc[i]).sum();
//! assert!(d_dot_inc > 0.0);
//! ```

mod b_scale;
mod cells;
mod cg;
mod column;
mod deep_select;
mod enkf_deep;
mod enkf_like;
mod enkf_update;
mod error;
mod pass1;
mod plan;
mod var_ops;
mod var_solve;
mod variational;

pub use b_scale::{innovation_b_scale, BScale};
pub use cells::CellSet;
pub use cg::StopReason;
pub use column::{
    column_increment, column_regression, column_regression_with, rtps_increments,
    sampling_shrinkage, CrossShrinkage,
};
pub use deep_select::{
    depth_taper, gaspari_cohn, given_deep_factors, keep_coarse_scales, mean_increments,
    DeepRestriction,
};
pub use enkf_like::{
    accumulate_squares, ensemble_means, BandStats, EnkfLikeConfig, EnkfLikeFields, EnkfLikeGain,
    EnkfLikeSetup, MemberPart, UpdateCoefficients,
};
pub use enkf_update::{
    analyse_enkf_like, analyse_with_gain, analyse_with_parts, perturbed_images, prior_spread,
    EnkfLikeReport,
};
pub use error::ImageError;
pub use pass1::{BlockSums, MEMBER_BLOCK};
pub use plan::{ImageOptions, ImagePlan, Workspace};
pub use var_ops::{IterLog, VarReport};
pub use var_solve::analyse_var;
pub use variational::{GapPolicy, PointObs, VarConfig, VarInput, VarProblem};
