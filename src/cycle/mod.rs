//! The driver that runs cycles (windows) of the ensemble, and its bookkeeping.

pub mod assim;
pub mod driver;
pub mod ensemble;
pub mod history_vars;
pub mod rundir;
