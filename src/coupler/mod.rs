//! The `coupler` room (docs/coupling.md, ../shared/docs/COUPLING.md): how landcycle reaches
//! an atmosphere. Two seams, so the window runner never knows the transport:
//!
//! - **forcing**: a [`crate::forcing::RecordSource`] per mode (data files, a forecast archive,
//!   data files on an atmosphere grid through weights, an exchange directory); the time
//!   interpolation, zenith weighting and unit checks of `forcing::ForcingReader` are shared.
//!   MPMD's records arrive through a `parallel::PeerChannel` at each window start and are
//!   served from memory ([`mpmd::MpmdRecords`]).
//! - **export**: a [`LandExport`] receives the ensemble-mean land state on the root at the
//!   export time ([`LandFields`], global-id order, f32).
//!
//! A new mode adds a `CouplerMode` variant (config), a source and/or an exporter here, and
//! one arm in `cycle::forcing_stage::reader` and `cycle::export_stage::exporter`.
//! Formats stay in `io` (`io::xchg`), MPI in `parallel`, the composition in `cycle`.

mod atm_remap;
mod error;
pub mod exchange;
mod exchange_export;
mod export;
mod grid_check;
mod land_to_atm;
pub mod mpmd;
pub mod mpmd_atm;
pub mod replay;
mod weighted_files;
pub mod wrf;
pub mod wrf_export;

pub use atm_remap::AtmToLand;
pub use error::CouplerError;
pub use exchange::{accept_delivery, exchange_spec, ExchangeRecords, ExchangeSettings};
pub use exchange_export::ExchangeExport;
pub use export::{LandExport, LandFields};
pub use grid_check::check_grid;
pub use land_to_atm::{AtmField, LandToAtm};
pub use weighted_files::WeightedFileRecords;
