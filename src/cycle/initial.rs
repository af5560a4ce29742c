//! The initial ensemble of a run: resume from the newest valid restart, start from a named
//! restart, or cold-start every member (with a keyed initial spread). The perturbation
//! states come from the same place, so a resumed run continues bit-identically.

use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;

use super::error::{agree, CycleError};
use super::perturb_share;
use super::perturber::grid_correlation;
use super::rundir::RunDir;
use crate::config::Config;
use crate::grid::Grid;
use crate::io::restart::{check_fingerprint, read_restart_cells, verify_restart, RestartData};
use crate::lsm::LandModel;
use crate::parallel::Communicator;
use crate::perturb::{
    initial_layer_deviates, FieldShare, GaussianFieldPlan, InitialSource, PerturbGenerator,
    PerturbState,
};

/// The start of a run: its time, the members of this rank's cells (`[cell][member]`) and
/// the perturbation states of the forcing and soil-moisture groups.
pub(super) struct Initial<S> {
    pub start: NaiveDateTime,
    pub states: Vec<S>,
    pub forcing: Option<PerturbState>,
    pub soil_moisture: Option<PerturbState>,
}

/// What the initial state is built for: this rank's cells and the run's generators.
pub(super) struct InitialInputs<'a, M: LandModel> {
    pub cfg: &'a Config,
    pub grid: &'a Grid,
    pub model: &'a M,
    pub ids: &'a [u64],
    pub params: &'a [M::CellParams],
    pub fgen: Option<&'a PerturbGenerator>,
    pub sgen: Option<&'a PerturbGenerator>,
    /// The field shares of spatially correlated groups (forcing, soil moisture).
    pub shares: [Option<&'a FieldShare>; 2],
}

/// The restart to start from: the newest valid one of the run directory (`resume`), the
/// namelist's `run:initial_restart`, or none (cold start). Collective.
pub(super) fn restart_to_use(
    comm: &dyn Communicator,
    cfg: &Config,
    rundir: &RunDir,
    resume: bool,
) -> Result<Option<PathBuf>, CycleError> {
    if !resume {
        return Ok(cfg.run.initial_restart.clone());
    }
    let mut buf = Vec::new();
    let found = if comm.rank() == 0 {
        match rundir.latest_restart() {
            Ok(Some(info)) => {
                buf = info.path.to_string_lossy().into_owned().into_bytes();
                Ok(())
            }
            Ok(None) => Err(CycleError::Invalid(format!(
                "--resume: no complete restart found in run directory {}",
                rundir.root.display()
            ))),
            Err(e) => Err(e.into()),
        }
    } else {
        Ok(())
    };
    agree(comm, found)?;
    comm.broadcast_bytes(&mut buf, 0);
    Ok(Some(PathBuf::from(
        String::from_utf8_lossy(&buf).into_owned(),
    )))
}

/// The initial ensemble from `restart`, or a cold start. Collective.
pub(super) fn initial_state<M: LandModel>(
    comm: &dyn Communicator,
    inp: &InitialInputs<M>,
    restart: Option<&Path>,
    resume: bool,
) -> Result<Initial<M::State>, CycleError> {
    let Some(path) = restart else {
        let mut init = agree(comm, cold_start(inp))?;
        shared_cold_starts(comm, inp, &mut init)?;
        return Ok(init);
    };
    let init = agree(comm, read_initial_restart(comm, inp, path))?;
    if !resume && init.start != inp.cfg.run.start {
        return Err(CycleError::Invalid(format!(
            "initial restart {} is valid at {}, but run:start is {}",
            path.display(),
            init.start,
            inp.cfg.run.start
        )));
    }
    Ok(init)
}

/// Standard normal deviates of the cold-start spread, `[layer][cell * n_members + member]`
/// (one layer shared by all when `run:cold_start_layer_correlation` is 1), or `None` when
/// `run:cold_start_soil_moisture_std` is unset or zero: independent per cell, or one spatially
/// correlated field per member (`run:cold_start_soil_moisture_corr_km`).
fn initial_spread_deviates(
    cfg: &Config,
    grid: &Grid,
    ids: &[u64],
    n_members: usize,
) -> Result<Option<Vec<Vec<f64>>>, CycleError> {
    let Some(sd) = &cfg.run.cold_start_soil_moisture_std else {
        return Ok(None);
    };
    if !sd.iter().any(|v| *v > 0.0) {
        return Ok(None);
    }
    let (seed, clip) = (cfg.run.seed, cfg.perturbation.std_normal_max);
    let time_index = cfg.run.start.and_utc().timestamp();
    let demean = cfg.perturbation.remove_ensemble_mean;
    let layers = (sd.len(), cfg.run.cold_start_layer_correlation);
    let length = cfg.run.cold_start_soil_moisture_corr_km;
    let plan = if length > 0.0 {
        let spec = grid_correlation(grid, length, "run:cold_start_soil_moisture_corr_km")?;
        Some(GaussianFieldPlan::new(&spec)?)
    } else {
        None
    };
    let source = plan
        .as_ref()
        .map_or(InitialSource::Cells, InitialSource::Field);
    Ok(Some(initial_layer_deviates(
        source, seed, ids, n_members, time_index, clip, demean, layers,
    )))
}

/// Every member from the namelist's cold-start profile, spread by the keyed deviates.
fn cold_start<M: LandModel>(inp: &InitialInputs<M>) -> Result<Initial<M::State>, CycleError> {
    let (cfg, model) = (inp.cfg, inp.model);
    let n_members = cfg.run.ensemble_size as usize;
    let mut states = Vec::with_capacity(inp.ids.len() * n_members);
    let spread = initial_spread_deviates(cfg, inp.grid, inp.ids, n_members)?;
    for (c, p) in inp.params.iter().enumerate() {
        let s = model
            .cold_start(
                p,
                &cfg.run.cold_start_soil_moisture,
                cfg.run.cold_start_temperature,
            )
            .map_err(|source| CycleError::Cell {
                cell_id: inp.ids[c],
                source,
            })?;
        match (&cfg.run.cold_start_soil_moisture_std, &spread) {
            (Some(sd), Some(z)) => {
                for m in c * n_members..(c + 1) * n_members {
                    let mut member = s.clone();
                    let layer = |l: usize| &z[l.min(z.len() - 1)];
                    let inc: Vec<f64> = sd
                        .iter()
                        .enumerate()
                        .map(|(l, v)| v * layer(l)[m])
                        .collect();
                    model.apply_increment_in_place(p, &mut member, &inc);
                    states.push(member);
                }
            }
            _ => states.extend(std::iter::repeat_n(s, n_members)),
        }
    }
    let start = cfg.run.start;
    // Shared groups are drawn afterwards, together with the other ranks.
    let pert = |gen: Option<&PerturbGenerator>, share: Option<&FieldShare>| match (gen, share) {
        (Some(g), None) => g
            .cold_start(inp.ids, n_members, g.time_index(start))
            .map(Some),
        _ => Ok(None),
    };
    Ok(Initial {
        start,
        states,
        forcing: pert(inp.fgen, inp.shares[0])?,
        soil_moisture: pert(inp.sgen, inp.shares[1])?,
    })
}

/// The cold-start states of the spatially correlated groups, each rank drawing its share of
/// the fields. Collective.
fn shared_cold_starts<M: LandModel>(
    comm: &dyn Communicator,
    inp: &InitialInputs<M>,
    init: &mut Initial<M::State>,
) -> Result<(), CycleError> {
    let start = inp.cfg.run.start;
    let pert = |gen: Option<&PerturbGenerator>, share: Option<&FieldShare>| match (gen, share) {
        (Some(g), Some(sh)) => {
            perturb_share::cold_start(comm, g, sh, g.time_index(start)).map(Some)
        }
        _ => Ok(None),
    };
    if let Some(s) = pert(inp.fgen, inp.shares[0])? {
        init.forcing = Some(s);
    }
    if let Some(s) = pert(inp.sgen, inp.shares[1])? {
        init.soil_moisture = Some(s);
    }
    Ok(())
}

/// Read this rank's cells from a restart (verified once on the root).
fn read_initial_restart<M: LandModel>(
    comm: &dyn Communicator,
    inp: &InitialInputs<M>,
    path: &Path,
) -> Result<Initial<M::State>, CycleError> {
    let fingerprint = inp.cfg.fingerprint();
    let verified = if comm.rank() == 0 {
        verify_restart(path)
            .map_err(CycleError::from)
            .and_then(|info| {
                check_fingerprint(path, &info.config_fingerprint, fingerprint)?;
                check_restart_shape(inp, &info)
            })
    } else {
        Ok(())
    };
    agree(comm, verified)?;
    let d = read_restart_cells(path, inp.ids)?;
    check_fingerprint(path, &d.config_fingerprint, fingerprint)?;
    check_restart_kind(inp, path, &d)?;
    let states = unpack_members(inp, path, &d)?;
    Ok(Initial {
        start: d.valid_time,
        states,
        forcing: perturbation_state(inp, path, &d, inp.fgen, "forcing")?,
        soil_moisture: perturbation_state(inp, path, &d, inp.sgen, "soil_moisture")?,
    })
}

/// The restart holds at least as many land cells as this run and its ensemble size (else both shapes are
/// printed: a static file of another domain otherwise shows only as a missing cell id).
fn check_restart_shape<M: LandModel>(
    inp: &InitialInputs<M>,
    info: &crate::io::RestartInfo,
) -> Result<(), CycleError> {
    let n_land = inp.grid.n_land();
    let members = inp.cfg.run.ensemble_size as usize;
    // More cells than needed may be a larger domain holding this one: read_restart_cells
    // then finds each cell by its global id.
    if info.n_cells >= n_land && info.n_members == members {
        return Ok(());
    }
    Err(CycleError::Invalid(format!(
        "restart {} does not fit this run: it holds {} land cells x {} members, the domain of \
         {} ({} x {} grid) has {n_land} land cells and run:ensemble_size is {members}",
        info.path.display(),
        info.n_cells,
        info.n_members,
        inp.cfg.domain.static_file.display(),
        inp.grid.ny(),
        inp.grid.nx()
    )))
}

/// The restart was written by this model with this ensemble size.
fn check_restart_kind<M: LandModel>(
    inp: &InitialInputs<M>,
    path: &Path,
    d: &RestartData,
) -> Result<(), CycleError> {
    if d.model_name != inp.model.name() {
        return Err(CycleError::Invalid(format!(
            "restart {} was written by model {}, this run uses {}",
            path.display(),
            d.model_name,
            inp.model.name()
        )));
    }
    let n_members = inp.cfg.run.ensemble_size as usize;
    if d.n_members != n_members {
        return Err(CycleError::Invalid(format!(
            "restart {} has {} members, run:ensemble_size is {n_members}",
            path.display(),
            d.n_members
        )));
    }
    Ok(())
}

/// The model states of the restart's cells, `[cell][member]`.
fn unpack_members<M: LandModel>(
    inp: &InitialInputs<M>,
    path: &Path,
    d: &RestartData,
) -> Result<Vec<M::State>, CycleError> {
    let specs = inp.model.restart_fields();
    let invalid = |msg: String| CycleError::Invalid(format!("restart {}: {msg}", path.display()));
    let mut fields = Vec::with_capacity(specs.len());
    for s in &specs {
        let f = d
            .model_fields
            .iter()
            .find(|f| f.name == s.name)
            .ok_or_else(|| invalid(format!("model field {} is missing", s.name)))?;
        if f.per_cell != s.len {
            return Err(invalid(format!(
                "field {} has {} values per member, expected {}",
                s.name, f.per_cell, s.len
            )));
        }
        fields.push(&f.values);
    }
    let n_members = d.n_members;
    let mut states = Vec::with_capacity(inp.ids.len() * n_members);
    let mut buf = Vec::new();
    for k in 0..inp.ids.len() * n_members {
        buf.clear();
        for (s, values) in specs.iter().zip(&fields) {
            buf.extend_from_slice(&values[k * s.len..(k + 1) * s.len]);
        }
        let st = inp
            .model
            .unpack_state(&buf)
            .map_err(|source| CycleError::Cell {
                cell_id: inp.ids[k / n_members],
                source,
            })?;
        states.push(st);
    }
    Ok(states)
}

/// The perturbation state of group `name` stored in the restart, when the run has the group.
fn perturbation_state<M: LandModel>(
    inp: &InitialInputs<M>,
    path: &Path,
    d: &RestartData,
    gen: Option<&PerturbGenerator>,
    name: &str,
) -> Result<Option<PerturbState>, CycleError> {
    let Some(g) = gen else { return Ok(None) };
    let invalid = |msg: String| CycleError::Invalid(format!("restart {}: {msg}", path.display()));
    let f = d
        .perturbation_fields
        .iter()
        .find(|f| f.name == name)
        .ok_or_else(|| invalid(format!("perturbation state {name} is missing")))?;
    let ti: i64 = d
        .attributes
        .get(&format!("perturbation_{name}_time_index"))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid(format!("attribute perturbation_{name}_time_index missing")))?;
    Ok(Some(PerturbState::from_packed(
        inp.ids.to_vec(),
        d.n_members,
        g.n_vars(),
        ti,
        &f.values,
    )?))
}
