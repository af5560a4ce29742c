//! The one place a land model is chosen: `run:model` selects the type the runner is
//! monomorphised for (no registry, no trait objects on the hot path).

use super::error::CycleError;
use super::nrt::{nrt_model, NrtOptions, NrtReport};
use super::{run_model, RunOptions, RunSummary};
use crate::config::{Config, Model};
use crate::lsm::colm::ColmLsm;
use crate::lsm::{BucketLsm, NoahLsm};
use crate::parallel::Communicator;

/// Run the ensemble of the configured model (see [`super::run`]).
pub fn run(
    cfg: &Config,
    comm: &dyn Communicator,
    opts: &RunOptions,
) -> Result<RunSummary, CycleError> {
    match cfg.run.model {
        Model::Noah => run_model::<NoahLsm>(cfg, comm, opts),
        Model::Bucket => run_model::<BucketLsm>(cfg, comm, opts),
        Model::Colm => run_model::<ColmLsm>(cfg, comm, opts),
    }
}

/// One near-real-time invocation for the configured model (see [`super::nrt`]).
pub fn nrt(
    cfg: &Config,
    comm: &dyn Communicator,
    opts: &NrtOptions,
) -> Result<NrtReport, CycleError> {
    match cfg.run.model {
        Model::Noah => nrt_model::<NoahLsm>(cfg, comm, opts),
        Model::Bucket => nrt_model::<BucketLsm>(cfg, comm, opts),
        Model::Colm => nrt_model::<ColmLsm>(cfg, comm, opts),
    }
}

/// Bytes of one member's state of one cell of the configured model: the state type, plus
/// the per-layer vectors a model with configurable layers keeps on the heap.
pub fn member_state_bytes(cfg: &Config) -> usize {
    use crate::lsm::LandModel;
    match cfg.run.model {
        Model::Noah => std::mem::size_of::<<NoahLsm as LandModel>::State>(),
        Model::Colm => std::mem::size_of::<<ColmLsm as LandModel>::State>(),
        Model::Bucket => {
            let layers = cfg.layer_thickness().map_or(4, <[f64]>::len);
            std::mem::size_of::<<BucketLsm as LandModel>::State>() + 2 * 8 * layers
        }
    }
}
