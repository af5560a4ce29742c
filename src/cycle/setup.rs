//! Setup of a run, once, apart from running: static fields and decomposition, the land
//! model and its per-cell parameters, perturbation generators, the initial ensemble, and the
//! stages of a window. Every agreement of setup is made here, in the same order on every
//! rank.

use std::sync::Arc;

use chrono::Duration;

use super::analysis_1d::Assimilation;
use super::ensemble::CellEnsemble;
use super::error::{agree, CycleError};
use super::export_stage::ExportStage;
use super::forcing_stage::{ForcingStage, RankCells};
use super::history_output::HistoryOutput;
use super::image_retrievals::RetrievalImage;
use super::image_stage::ImageStage;
use super::initial::{initial_state, restart_to_use, InitialInputs};
use super::perturb_share;
use super::perturber::{perturbation_groups, Perturber};
use super::restart_output::RestartOutput;
use super::rundir::RunDir;
use super::timing::{stage, StageClock};
use super::window::{Perturbers, WindowRunner};
use crate::config::{Config, ImageConfig, ImageObsSource, StaticFormat};
use crate::grid::statics::StaticFields;
use crate::grid::{Decomposition, Grid};
use crate::io::writer::Output;
use crate::lsm::{BuildModel, CellStatics, ModelSetup};
use crate::parallel::Communicator;
use crate::perturb::{
    FieldShare, PerturbGenerator, PerturbState, STREAM_FORCING, STREAM_SOIL_MOISTURE,
};

/// How a run is set up beyond the namelist (from the command line).
#[derive(Debug, Clone, Default)]
pub struct SetupOptions {
    /// Continue from the newest valid restart of the run directory.
    pub resume: bool,
    /// With `resume`: continue from this restart instead of the newest valid one
    /// (`landcycle nrt`'s resume point; the same path on every rank).
    pub resume_from: Option<std::path::PathBuf>,
    /// Write output files on the main thread instead of the background writer.
    pub sync_output: bool,
}

/// The static side of this rank: the grid, the datasets, its cells and their statics.
struct LoadedStatics {
    grid: Grid,
    vegetation_dataset: String,
    soil_dataset: String,
    ids: Vec<u64>,
    cells: Vec<CellStatics>,
    /// Where every land cell lives (the observation stage routes by it).
    decomp: Arc<Decomposition>,
}

/// Load the grid (all ranks), decompose it, and read this rank's cell statics.
fn load_statics(cfg: &Config, comm: &dyn Communicator) -> Result<LoadedStatics, CycleError> {
    let path = &cfg.domain.static_file;
    let decompose = |grid: &Grid| -> Result<(Vec<u64>, Arc<Decomposition>), CycleError> {
        let d = Decomposition::new(grid, comm.size())?;
        Ok((d.cells_of(comm.rank()).to_vec(), Arc::new(d)))
    };
    let s = match cfg.domain.static_format {
        StaticFormat::Landcycle => {
            let grid = StaticFields::read_landcycle_grid(path)?;
            let (ids, decomp) = decompose(&grid)?;
            let cells = StaticFields::read_landcycle_cells(path, &ids)?;
            // Vegetation/soil datasets are global attributes: read them through a cheap open.
            let (vegetation_dataset, soil_dataset) = StaticFields::read_landcycle_datasets(path)?;
            LoadedStatics {
                grid,
                vegetation_dataset,
                soil_dataset,
                ids,
                cells,
                decomp,
            }
        }
        StaticFormat::GeoEm => {
            let f = StaticFields::read_geo_em(path)?;
            let (ids, decomp) = decompose(&f.grid)?;
            let cells = ids
                .iter()
                .map(|&id| f.try_cell_statics(id))
                .collect::<Result<Vec<_>, _>>()?;
            LoadedStatics {
                vegetation_dataset: f.vegetation_dataset.name().to_string(),
                grid: f.grid,
                soil_dataset: f.soil_dataset,
                ids,
                cells,
                decomp,
            }
        }
    };
    if let Some(want) = cfg.domain.vegetation_dataset {
        if want.name() != s.vegetation_dataset {
            return Err(CycleError::Invalid(format!(
                "domain:vegetation_dataset is {} but static file {} uses {}",
                want.name(),
                path.display(),
                s.vegetation_dataset
            )));
        }
    }
    Ok(s)
}

/// The model from the run's setup and this rank's per-cell parameters.
fn build_model<M: BuildModel>(
    cfg: &Config,
    s: &LoadedStatics,
) -> Result<(M, Vec<M::CellParams>), CycleError> {
    let setup = ModelSetup {
        soil_dataset: &s.soil_dataset,
        vegetation_dataset: &s.vegetation_dataset,
        parameter_tables: cfg.domain.parameter_tables.as_deref(),
        layer_thickness: cfg.layer_thickness(),
    };
    let model = M::build(&setup).map_err(CycleError::Model)?;
    let params = s
        .ids
        .iter()
        .zip(&s.cells)
        .map(|(&cell_id, st)| {
            model
                .cell_params(st)
                .map_err(|source| CycleError::Cell { cell_id, source })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((model, params))
}

/// The forcing and soil-moisture perturbation generators.
fn generators(
    cfg: &Config,
    grid: &Grid,
    n_layers: usize,
) -> Result<[Option<PerturbGenerator>; 2], CycleError> {
    let (fgroup, sgroup) = perturbation_groups(cfg, grid, n_layers)?;
    let seed = cfg.run.seed;
    let f = fgroup
        .map(|g| PerturbGenerator::new(g, seed, STREAM_FORCING))
        .transpose()?;
    let s = sgroup
        .map(|g| PerturbGenerator::new(g, seed, STREAM_SOIL_MOISTURE))
        .transpose()?;
    Ok([f, s])
}

impl<'c, M: BuildModel> WindowRunner<'c, M> {
    /// Set up a run in `rundir` (whose lock the caller holds). Collective.
    pub fn setup(
        cfg: &Config,
        comm: &'c dyn Communicator,
        rundir: &RunDir,
        opts: SetupOptions,
    ) -> Result<Self, CycleError> {
        let clock = StageClock::default();
        let setup_stage = clock.start(stage::SETUP);
        let s = agree(comm, load_statics(cfg, comm))?;
        let (model, params) = agree(comm, build_model::<M>(cfg, &s))?;
        let gens = agree(comm, generators(cfg, &s.grid, model.n_soil_layers()))?;
        let shares = field_shares(comm, &s.ids, &gens, cfg.run.ensemble_size as usize)?;
        let [fgen, sgen] = gens;
        let restart = match (&opts.resume_from, opts.resume) {
            (Some(p), true) => Some(p.clone()),
            _ => restart_to_use(comm, cfg, rundir, opts.resume)?,
        };
        let inputs = InitialInputs {
            cfg,
            grid: &s.grid,
            model: &model,
            ids: &s.ids,
            params: &params,
            fgen: fgen.as_ref(),
            sgen: sgen.as_ref(),
            shares: [shares[0].as_deref(), shares[1].as_deref()],
        };
        let mut init = initial_state(comm, &inputs, restart.as_deref(), opts.resume)?;
        let states = (init.forcing.take(), init.soil_moisture.take());
        let perturbers = agree(comm, perturbers([fgen, sgen], states, init.start, shares))?;
        let rank_cells = RankCells {
            root: comm.rank() == 0,
            grid: &s.grid,
            ids: &s.ids,
            cells: &s.cells,
        };
        let forcing = agree(comm, ForcingStage::new(cfg, &rank_cells))?;
        let export = agree(comm, ExportStage::new(cfg, &s.grid, comm.rank() == 0))?;
        let n_members = cfg.run.ensemble_size as usize;
        let assim = cfg.da.enabled.then(|| {
            let dt = i64::from(cfg.run.timestep);
            Assimilation::new(
                &cfg.da,
                &s.grid,
                &s.ids,
                &model,
                cfg.run.seed,
                n_members,
                dt,
            )
            .map_err(CycleError::from)
        });
        let mut assim = agree(comm, assim.transpose())?;
        if let Some(a) = assim.as_mut() {
            a.analysis.plan_halo(comm);
            a.obs.route_by(Arc::clone(&s.decomp));
        }
        let image_cfg = split_image_weight(cfg, assim.as_mut());
        let image = cfg.image.enabled.then(|| {
            ImageStage::new(
                &image_cfg,
                &s.grid,
                &model,
                (cfg.run.seed, retrieval_image(cfg)),
                (comm.rank(), comm.size()),
            )
        });
        let image = agree(comm, image.transpose())?;
        let history = agree(
            comm,
            HistoryOutput::new(cfg, &s.grid, model.name(), model.soil_layer_thickness()),
        )?;
        let restart_out = RestartOutput::new(
            rundir.clone(),
            cfg.fingerprint(),
            cfg.restart.keep as usize,
            &s.grid,
        );
        let output = (comm.rank() == 0)
            .then(|| Output::new(opts.sync_output))
            .transpose();
        let output = agree(comm, output)?;
        let ens = CellEnsemble::new(s.ids, params, init.states, n_members);
        drop(setup_stage);
        Ok(WindowRunner {
            comm,
            model,
            ens,
            perturbers,
            forcing,
            export,
            assim,
            image,
            history,
            restart: restart_out,
            output,
            rundir: rundir.clone(),
            dt: i64::from(cfg.run.timestep),
            start: init.start,
            horizon: init.start,
            n_land: s.decomp.n_land(),
            clock,
            frozen_obs: None,
        })
    }
}

/// The field shares of the spatially correlated groups: each rank draws the fields of its
/// (member, variable) pairs for every rank. Collective.
fn field_shares(
    comm: &dyn Communicator,
    ids: &[u64],
    gens: &[Option<PerturbGenerator>; 2],
    n_members: usize,
) -> Result<[Option<Arc<FieldShare>>; 2], CycleError> {
    let cells = perturb_share::rank_cells(comm, ids, gens);
    let share = |g: Option<&PerturbGenerator>| {
        perturb_share::field_share(comm, g, cells.as_ref(), n_members)
    };
    let shares = share(gens[0].as_ref()).and_then(|f| Ok([f, share(gens[1].as_ref())?]));
    agree(comm, shares)
}

/// The perturbers of the groups the run has, from their initial states.
fn perturbers(
    [fgen, sgen]: [Option<PerturbGenerator>; 2],
    (fstate, sstate): (Option<PerturbState>, Option<PerturbState>),
    start: chrono::NaiveDateTime,
    [fshare, sshare]: [Option<Arc<FieldShare>>; 2],
) -> Result<Perturbers, CycleError> {
    let make = |g: Option<PerturbGenerator>, s: Option<PerturbState>, sh| match (g, s) {
        (Some(g), Some(s)) => Perturber::new(g, s, start, sh).map(Some),
        _ => Ok(None),
    };
    Ok(Perturbers {
        forcing: make(fgen, fstate, fshare)?,
        soil_moisture: make(sgen, sstate, sshare)?,
    })
}

/// Per `da:sensors` product: whether the image shares its retrievals.
fn shared_products(cfg: &Config) -> Vec<bool> {
    let shared = cfg.image.shared_sensors(&cfg.da);
    cfg.da.sensors.iter().map(|s| shared.contains(s)).collect()
}

/// With `image:obs_weight_split` s, the shared products enter the 1-D EnKF with error
/// variance σ²/s and the image with σ_I²/(1 − s): the returned `&image` settings carry the
/// image's error sd.
fn split_image_weight(cfg: &Config, assim: Option<&mut Assimilation>) -> ImageConfig {
    let mut image = cfg.image.clone();
    if let (Some(s), Some(a), true) = (
        cfg.image.obs_weight_split,
        assim,
        cfg.image.shares_with_1d(&cfg.da),
    ) {
        a.analysis.split_weight_with_image(&shared_products(cfg), s);
        image.error_sd /= (1.0 - s).sqrt();
    }
    image
}

/// The accumulator of a retrievals image (`image:source = 'retrievals'`).
fn retrieval_image(cfg: &Config) -> Option<RetrievalImage> {
    (cfg.image.source == ImageObsSource::Retrievals).then(|| {
        let hours = cfg.image.retrieval_hours.unwrap_or(cfg.run.window_hours);
        RetrievalImage::new(shared_products(cfg), Duration::hours(i64::from(hours)))
    })
}
