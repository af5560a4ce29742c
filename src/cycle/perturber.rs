//! Perturbations inside the cycle: the forcing and soil-moisture groups of the
//! `&perturbation` namelist group, and a [`Perturber`] per group that holds its rank-local
//! state and computes the next perturbation time's values on a helper thread. The state
//! perturbation reaches the model only through [`LandModel::apply_increment_in_place`].

use std::sync::Arc;

use chrono::NaiveDateTime;

use super::ensemble::CellEnsemble;
use super::error::CycleError;
use super::perturb_share::Drawn;
use crate::config::{Config, ForcingVariable, PerturbationType};
use crate::grid::Grid;
use crate::lsm::LandModel;
use crate::parallel::Communicator;
use crate::perturb::{
    FieldShare, PerturbError, PerturbGenerator, PerturbGroup, PerturbKind, PerturbState,
    PerturbValues, PerturbVar, SpatialCorrelation,
};

/// Upper bound of perturbed downward shortwave at the surface (W m-2).
pub const SOLAR_CONSTANT: f64 = 1361.0;

/// Gaussian spatial correlation of length `length_km` on the model grid's `(ny, nx)` index
/// space (`what` names the setting in the error). Regular latitude-longitude grids use their
/// axis steps at the middle latitude; other grids their [`Grid::spacing_km`] (a WPS grid
/// its projection spacing `DX`, `DY`).
pub(super) fn grid_correlation(
    grid: &Grid,
    length_km: f64,
    what: &str,
) -> Result<SpatialCorrelation, CycleError> {
    let shape = crate::perturb::CovarianceShape::Gaussian;
    if let (Some(lat), Some(lon)) = (grid.lat_1d(), grid.lon_1d()) {
        if lat.len() > 1 && lon.len() > 1 {
            let mid = lat[lat.len() / 2];
            return Ok(SpatialCorrelation::from_lat_lon(
                length_km,
                shape,
                grid.ny(),
                grid.nx(),
                lat[1] - lat[0],
                lon[1] - lon[0],
                mid,
            ));
        }
    }
    let (dy_km, dx_km) = grid.spacing_km().ok_or_else(|| {
        CycleError::Invalid(format!(
            "{what} > 0 needs a grid at least two cells wide along each axis"
        ))
    })?;
    Ok(SpatialCorrelation {
        length_km,
        shape,
        ny: grid.ny(),
        nx: grid.nx(),
        dy_km,
        dx_km,
    })
}

/// The forcing and soil-moisture perturbation groups of the `&perturbation` group.
pub fn perturbation_groups(
    cfg: &Config,
    grid: &Grid,
    n_layers: usize,
) -> Result<(Option<PerturbGroup>, Option<PerturbGroup>), CycleError> {
    let p = &cfg.perturbation;
    let spatial = if p.spatial_corr_km > 0.0 {
        Some(grid_correlation(
            grid,
            p.spatial_corr_km,
            "perturbation:spatial_corr_km",
        )?)
    } else {
        None
    };
    let forcing = if p.perturb_forcing && !p.forcing_vars.is_empty() {
        let vars = p
            .forcing_vars
            .iter()
            .enumerate()
            .map(|(k, v)| PerturbVar {
                name: v.name().to_string(),
                kind: match p.forcing_types[k] {
                    PerturbationType::Additive => PerturbKind::Additive,
                    PerturbationType::Multiplicative => PerturbKind::Multiplicative,
                },
                std: p.forcing_std[k],
                tau_seconds: p.forcing_tau_hours[k] * 3600.0,
                lower: None,
                // Perturbed shortwave never exceeds the solar constant.
                upper: (*v == ForcingVariable::Swdown).then_some(SOLAR_CONSTANT),
            })
            .collect();
        Some(PerturbGroup {
            name: "forcing".into(),
            vars,
            correlation: p.forcing_corr.clone(),
            interval_seconds: i64::from(p.interval_seconds),
            std_normal_max: p.std_normal_max,
            remove_ensemble_mean: p.remove_ensemble_mean,
            spatial: spatial.clone(),
        })
    } else {
        None
    };
    let state = if p.perturb_state && !p.state_std.is_empty() {
        if p.state_std.len() != n_layers {
            return Err(CycleError::Invalid(format!(
                "perturbation:state_std has {} values but the model has {n_layers} soil layers",
                p.state_std.len()
            )));
        }
        let vars = p
            .state_std
            .iter()
            .enumerate()
            .map(|(k, &s)| PerturbVar {
                name: format!("soil_moisture_{}", k + 1),
                kind: PerturbKind::Additive,
                std: s,
                tau_seconds: p.state_tau_hours * 3600.0,
                lower: None,
                upper: None,
            })
            .collect();
        Some(PerturbGroup {
            name: "soil_moisture".into(),
            vars,
            correlation: p.state_corr.clone(),
            interval_seconds: i64::from(p.state_interval_seconds),
            std_normal_max: p.std_normal_max,
            remove_ensemble_mean: p.remove_ensemble_mean,
            spatial,
        })
    } else {
        None
    };
    Ok((forcing, state))
}

/// The state and values of a perturbation group at the next perturbation time.
type Ahead = std::thread::JoinHandle<Result<(PerturbState, PerturbValues), PerturbError>>;

/// A perturbation group with its rank-local state and the values held until the next
/// perturbation time.
///
/// The state and values of the next perturbation time are computed on a helper thread while
/// the ensemble steps through the current one (the same calls as computing them when they
/// are due, so the numbers are identical); nothing is computed ahead for perturbation times
/// at or after `horizon`, the end of the run.
///
/// A spatially correlated group with a [`FieldShare`] draws only its share of the fields
/// ahead; the exchange, the AR(1) step and the values follow on the main thread when due
/// (cycle::perturb_share).
pub(super) struct Perturber {
    pub(super) gen: Arc<PerturbGenerator>,
    pub(super) state: PerturbState,
    pub(super) values: PerturbValues,
    pub(super) horizon: NaiveDateTime,
    ahead: Option<Ahead>,
    /// A values buffer for the next computation ahead.
    spare: Option<PerturbValues>,
    /// The fields this rank draws for every rank (spatial groups on a communicator).
    pub(super) share: Option<Arc<FieldShare>>,
    /// This rank's share of the next time's innovation fields, being drawn.
    pub(super) drawn: Option<Drawn>,
}

impl Perturber {
    pub(super) fn new(
        gen: PerturbGenerator,
        state: PerturbState,
        horizon: NaiveDateTime,
        share: Option<Arc<FieldShare>>,
    ) -> Result<Self, CycleError> {
        let values = gen.values(&state)?;
        Ok(Perturber {
            gen: Arc::new(gen),
            state,
            values,
            horizon,
            ahead: None,
            spare: None,
            share,
            drawn: None,
        })
    }

    /// Nothing is computed ahead for perturbation times at or after `horizon`.
    pub(super) fn set_horizon(&mut self, horizon: NaiveDateTime) {
        self.horizon = horizon;
    }

    /// Advance to the perturbation time containing `t`; true when the values changed.
    /// Collective (every rank, same `t`): a shared group exchanges its fields.
    pub(super) fn advance(
        &mut self,
        t: NaiveDateTime,
        comm: &dyn Communicator,
    ) -> Result<bool, CycleError> {
        if self.share.is_some() {
            return self.advance_shared(t, comm);
        }
        let k = self.gen.time_index(t);
        let current = self.state.time_index();
        let next = Some(k) == current.checked_add(1);
        let moved = if k == current {
            false
        } else {
            match self.ahead.take() {
                Some(h) if next => {
                    match h.join() {
                        Ok(r) => {
                            let (state, values) = r?;
                            self.state = state;
                            self.spare = Some(std::mem::replace(&mut self.values, values));
                        }
                        // The helper thread died: compute here (same result or the same error).
                        Err(_) => {
                            self.advance_here(t)?;
                        }
                    }
                    true
                }
                other => {
                    // Not the next perturbation time (a jump): the work ahead is of no use.
                    if let Some(h) = other {
                        let _ = h.join();
                    }
                    self.advance_here(t)?
                }
            }
        };
        self.compute_ahead();
        Ok(moved)
    }

    /// Advance on this thread (no work ahead is pending).
    fn advance_here(&mut self, t: NaiveDateTime) -> Result<bool, CycleError> {
        let moved = self.gen.advance_to_time(&mut self.state, t)?;
        if moved {
            self.gen.values_into(&self.state, &mut self.values)?;
        }
        Ok(moved)
    }

    /// Start computing the next perturbation time's state and values on a helper thread,
    /// unless that time is at or after the end of the run.
    fn compute_ahead(&mut self) {
        if self.ahead.is_some() {
            return;
        }
        let interval = self.gen.group().interval_seconds;
        let next_start = self
            .state
            .time_index()
            .checked_add(1)
            .and_then(|k| crate::perturb::clock::interval_start(k, interval));
        if !matches!(next_start, Some(t) if t < self.horizon) {
            return;
        }
        let gen = Arc::clone(&self.gen);
        let mut state = self.state.clone();
        let mut values = self.spare.take().unwrap_or_else(|| self.values.clone());
        let spawned = std::thread::Builder::new()
            .name("landcycle-perturb".into())
            .spawn(move || {
                gen.advance(&mut state)?;
                gen.values_into(&state, &mut values)?;
                Ok((state, values))
            });
        // Without a thread the values are computed when they are due.
        self.ahead = spawned.ok();
    }
}

impl Drop for Perturber {
    fn drop(&mut self) {
        if let Some(h) = self.ahead.take() {
            let _ = h.join();
        }
        if let Some(d) = self.drawn.take() {
            let _ = d.handle.join();
        }
    }
}

impl Perturber {
    /// State perturbation: at each new perturbation time, one additive soil-moisture
    /// increment per cell and member. `state_std` is a rate per day (GMAO/LIS treat
    /// prognostic perturbations as a perturbation flux): each time adds σ·y·Δt_pert/86400.
    pub(super) fn perturb_state<M: LandModel>(
        &self,
        model: &M,
        ens: &mut CellEnsemble<M>,
    ) -> Result<(), CycleError> {
        let mut inc = vec![0.0; model.n_soil_layers()];
        let scale = self.gen.group().interval_seconds as f64 / 86_400.0;
        for c in 0..ens.n_cells() {
            let (params, states) = ens.cell_mut(c);
            for (m, state) in states.iter_mut().enumerate() {
                self.gen
                    .soil_moisture_increment_into(self.values.get(c, m), &mut inc)?;
                inc.iter_mut().for_each(|x| *x *= scale);
                model.apply_increment_in_place(params, state, &inc);
            }
        }
        Ok(())
    }

    /// Free the held values (the state perturbation's, once applied); they are computed
    /// again at the next perturbation time.
    pub(super) fn release_values(&mut self) {
        self.values.values = Vec::new();
    }

    /// The forcing perturbation values of local cell `c` (all members).
    pub(super) fn cell_values(&self, c: usize) -> &[f64] {
        let per_cell = self.values.n_members * self.values.n_vars;
        &self.values.values[c * per_cell..(c + 1) * per_cell]
    }
}
