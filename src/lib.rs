//! landcycle: an MPI-parallel land data assimilation cycling system.
//!
//! Rooms follow docs/architecture.md: physics and math rooms (`lsm`, `da::enkf`,
//! `da::curvelet`, `perturb`, `biascorr`) know nothing of files, MPI or the cycle;
//! `cycle` composes them; `parallel` is the only room that names MPI.

pub mod biascorr;
pub mod commands;
pub mod config;
pub mod coupler;
pub mod cycle;
pub mod da;
pub mod forcing;
pub mod grid;
pub mod io;
pub mod lsm;
pub mod obs;
pub mod parallel;
pub mod perturb;
pub mod plot;
pub mod point;
pub mod synth;
pub mod testdata;
pub mod time;
pub mod verify;
