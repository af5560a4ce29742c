//! All perturbation groups of a run for the cells one rank owns: what the ensemble driver
//! holds between steps.

use chrono::NaiveDateTime;

use super::generator::{PerturbGenerator, PerturbState, PerturbValues};
use super::spec::{GroupRole, PerturbGroup};
use super::PerturbError;
use crate::lsm::Forcing;

/// The generators, AR(1) states and held perturbation values of every group.
///
/// Group `i` uses random stream `i + 1`, so the stream of a group depends only on its position
/// in the configuration.
#[derive(Debug, Clone)]
pub struct PerturbationSet {
    generators: Vec<PerturbGenerator>,
    states: Vec<PerturbState>,
    values: Vec<PerturbValues>,
}

/// Which groups moved to a new perturbation time in [`PerturbationSet::advance_to_time`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Advanced {
    /// A forcing group has new values (they are used automatically by `perturb_forcing`).
    pub forcing: bool,
    /// A soil-moisture group has new values: apply `soil_moisture_increment` to every member
    /// of every cell now, once.
    pub soil_moisture: bool,
}

/// The restart content of one group: its AR(1) state for the rank's cells.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRestart {
    pub group: String,
    pub time_index: i64,
    pub n_members: usize,
    pub n_vars: usize,
    /// Global cell ids, in the order of the blocks in `data`.
    pub cell_ids: Vec<u64>,
    /// `n_members * n_vars` values per cell (see [`PerturbState`]).
    pub data: Vec<f64>,
}

fn generators(groups: &[PerturbGroup], seed: u64) -> Result<Vec<PerturbGenerator>, PerturbError> {
    let mut names: Vec<&str> = Vec::new();
    for g in groups {
        if names.contains(&g.name.as_str()) {
            return Err(PerturbError::Config {
                group: g.name.clone(),
                message: "two perturbation groups have this name".into(),
            });
        }
        names.push(&g.name);
    }
    groups
        .iter()
        .enumerate()
        .map(|(i, g)| PerturbGenerator::new(g.clone(), seed, i as u32 + 1))
        .collect()
}

impl PerturbationSet {
    /// Cold start at model time `start` for the rank's cells (global ids) and `n_members`.
    pub fn cold_start(
        groups: &[PerturbGroup],
        seed: u64,
        cell_ids: &[u64],
        n_members: usize,
        start: NaiveDateTime,
    ) -> Result<Self, PerturbError> {
        let generators = generators(groups, seed)?;
        let states = generators
            .iter()
            .map(|g| g.cold_start(cell_ids, n_members, g.time_index(start)))
            .collect::<Result<Vec<_>, _>>()?;
        Self::assemble(generators, states)
    }

    /// Rebuild from restart content (one [`GroupRestart`] per group, matched by name). The
    /// cells of a restart may be any superset of `cell_ids`, in any order: a restart written on
    /// one number of ranks continues on another.
    pub fn from_restart(
        groups: &[PerturbGroup],
        seed: u64,
        cell_ids: &[u64],
        n_members: usize,
        restarts: &[GroupRestart],
    ) -> Result<Self, PerturbError> {
        let generators = generators(groups, seed)?;
        let mut states = Vec::with_capacity(generators.len());
        for g in &generators {
            let name = &g.group().name;
            let r = restarts.iter().find(|r| &r.group == name).ok_or_else(|| {
                PerturbError::State(format!("restart has no state for group '{name}'"))
            })?;
            if r.n_members != n_members || r.n_vars != g.n_vars() {
                return Err(PerturbError::State(format!(
                    "group '{name}': restart has {} members × {} variables, the run has {} × {}",
                    r.n_members,
                    r.n_vars,
                    n_members,
                    g.n_vars()
                )));
            }
            let whole = PerturbState::from_packed(
                r.cell_ids.clone(),
                r.n_members,
                r.n_vars,
                r.time_index,
                &r.data,
            )?;
            let mut position = std::collections::HashMap::with_capacity(r.cell_ids.len());
            for (i, &id) in r.cell_ids.iter().enumerate() {
                if position.insert(id, i).is_some() {
                    return Err(PerturbError::State(format!(
                        "group '{name}': restart lists cell id {id} twice"
                    )));
                }
            }
            let mut data = Vec::with_capacity(cell_ids.len() * whole.values_per_cell());
            for &id in cell_ids {
                let i = position.get(&id).ok_or_else(|| {
                    PerturbError::State(format!(
                        "group '{name}': restart has no perturbation state for cell id {id}"
                    ))
                })?;
                data.extend_from_slice(whole.cell_block(*i));
            }
            states.push(PerturbState::from_packed(
                cell_ids.to_vec(),
                n_members,
                g.n_vars(),
                r.time_index,
                &data,
            )?);
        }
        Self::assemble(generators, states)
    }

    fn assemble(
        generators: Vec<PerturbGenerator>,
        states: Vec<PerturbState>,
    ) -> Result<Self, PerturbError> {
        let values = generators
            .iter()
            .zip(&states)
            .map(|(g, s)| g.values(s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PerturbationSet {
            generators,
            states,
            values,
        })
    }

    /// Move every group to the perturbation time containing model time `time` (use the start
    /// of a model step) and recompute the held values of the groups that moved.
    pub fn advance_to_time(&mut self, time: NaiveDateTime) -> Result<Advanced, PerturbError> {
        let mut adv = Advanced::default();
        for ((g, s), v) in self
            .generators
            .iter()
            .zip(self.states.iter_mut())
            .zip(self.values.iter_mut())
        {
            if g.advance_to_time(s, time)? {
                g.values_into(s, v)?;
                match g.role() {
                    GroupRole::Forcing => adv.forcing = true,
                    GroupRole::SoilMoisture => adv.soil_moisture = true,
                }
            }
        }
        Ok(adv)
    }

    /// Perturb one step of forcing of (local cell, member) with the held values of every
    /// forcing group.
    pub fn perturb_forcing(
        &self,
        cell: usize,
        member: usize,
        forcing: &mut Forcing,
    ) -> Result<(), PerturbError> {
        for (g, v) in self.generators.iter().zip(&self.values) {
            if g.role() == GroupRole::Forcing {
                g.apply_forcing_perturbation(v.get(cell, member), forcing)?;
            }
        }
        Ok(())
    }

    /// Sum of the soil-moisture increments (m³ m⁻³ per layer) of every soil-moisture group for
    /// (local cell, member); None when no group perturbs soil moisture.
    pub fn soil_moisture_increment(
        &self,
        cell: usize,
        member: usize,
        n_layers: usize,
    ) -> Result<Option<Vec<f64>>, PerturbError> {
        let mut total: Option<Vec<f64>> = None;
        for (g, v) in self.generators.iter().zip(&self.values) {
            if g.role() == GroupRole::SoilMoisture {
                let inc = g.soil_moisture_increment(v.get(cell, member), n_layers)?;
                match &mut total {
                    None => total = Some(inc),
                    Some(t) => t.iter_mut().zip(&inc).for_each(|(a, b)| *a += b),
                }
            }
        }
        Ok(total)
    }

    /// Restart content of every group.
    pub fn restart(&self) -> Vec<GroupRestart> {
        self.generators
            .iter()
            .zip(&self.states)
            .map(|(g, s)| GroupRestart {
                group: g.group().name.clone(),
                time_index: s.time_index(),
                n_members: s.n_members(),
                n_vars: s.n_vars(),
                cell_ids: s.cell_ids().to_vec(),
                data: s.pack(),
            })
            .collect()
    }

    pub fn generators(&self) -> &[PerturbGenerator] {
        &self.generators
    }
    pub fn states(&self) -> &[PerturbState] {
        &self.states
    }
    /// Held perturbation values of each group.
    pub fn values(&self) -> &[PerturbValues] {
        &self.values
    }
}
