//! The AR(1) perturbation generator and its state.

use chrono::NaiveDateTime;

use super::field::{FieldScratch, GaussianFieldPlan};
use super::linalg::{mat_vec, symmetric_eigen, symmetric_sqrt};
use super::rng::{keyed_normals4, Purpose};
use super::spec::{GroupRole, PerturbGroup, PerturbKind, PerturbTarget, ResolvedVar};
use super::{clock, PerturbError};
use crate::lsm::Forcing;

/// Smallest eigenvalue a correlation matrix may have to count as positive definite.
pub const MIN_CORRELATION_EIGENVALUE: f64 = 1e-10;

/// A validated perturbation group, ready to generate: the factor S of C = S Sᵀ, the AR(1)
/// coefficients, the key (seed, stream) of its random numbers and, with spatial correlation,
/// the FFT plan.
#[derive(Debug, Clone)]
pub struct PerturbGenerator {
    group: PerturbGroup,
    role: GroupRole,
    vars: Vec<ResolvedVar>,
    /// S (n×n, row-major), the symmetric square root of C.
    factor: Vec<f64>,
    eigenvalues: Vec<f64>,
    /// ρ = exp(−Δt_pert/τ) and √(1 − ρ²) per variable.
    rho: Vec<f64>,
    innovation_scale: Vec<f64>,
    seed: u64,
    stream: u32,
    field: Option<GaussianFieldPlan>,
}

/// AR(1) state x of one group for the cells a rank owns.
///
/// Layout: `x[(cell * n_members + member) * n_vars + var]` (variables fastest), `cell` the
/// local position in `cell_ids`. A cell's block of `n_members * n_vars` values is contiguous,
/// so restarts can store it under the cell's global id and a run can continue on any number
/// of ranks.
#[derive(Debug, Clone, PartialEq)]
pub struct PerturbState {
    cell_ids: Vec<u64>,
    n_members: usize,
    n_vars: usize,
    /// Perturbation time index the state belongs to.
    time_index: i64,
    x: Vec<f64>,
}

/// Perturbation values p for every (cell, member, var), same layout as [`PerturbState`].
#[derive(Debug, Clone, PartialEq)]
pub struct PerturbValues {
    pub n_cells: usize,
    pub n_members: usize,
    pub n_vars: usize,
    pub time_index: i64,
    pub values: Vec<f64>,
}

impl PerturbValues {
    /// Values of all variables for one (local cell, member).
    #[inline]
    pub fn get(&self, cell: usize, member: usize) -> &[f64] {
        let o = (cell * self.n_members + member) * self.n_vars;
        &self.values[o..o + self.n_vars]
    }
}

impl PerturbState {
    /// Rebuild a state from its packed values (see [`PerturbState::pack`]); bit-exact.
    pub fn from_packed(
        cell_ids: Vec<u64>,
        n_members: usize,
        n_vars: usize,
        time_index: i64,
        data: &[f64],
    ) -> Result<Self, PerturbError> {
        let expected = cell_ids.len() * n_members * n_vars;
        if data.len() != expected {
            return Err(PerturbError::State(format!(
                "packed perturbation state has {} values, expected {} cells × {} members × {} variables = {expected}",
                data.len(),
                cell_ids.len(),
                n_members,
                n_vars
            )));
        }
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(PerturbError::State(format!(
                "packed perturbation state value {i} (cell id {}) is not finite",
                cell_ids[i / (n_members * n_vars)]
            )));
        }
        Ok(PerturbState {
            cell_ids,
            n_members,
            n_vars,
            time_index,
            x: data.to_vec(),
        })
    }

    /// A state from its parts (the caller checked the length).
    pub(super) fn from_parts(
        cell_ids: Vec<u64>,
        n_members: usize,
        n_vars: usize,
        time_index: i64,
        x: Vec<f64>,
    ) -> Self {
        PerturbState {
            cell_ids,
            n_members,
            n_vars,
            time_index,
            x,
        }
    }

    pub(super) fn x_mut(&mut self) -> &mut [f64] {
        &mut self.x
    }

    pub(super) fn set_time_index(&mut self, k: i64) {
        self.time_index = k;
    }

    /// The AR(1) state as f64 values in the documented layout (restart field).
    pub fn pack(&self) -> Vec<f64> {
        self.x.clone()
    }

    /// Raw AR(1) state (same layout as [`PerturbState::pack`]).
    pub fn as_slice(&self) -> &[f64] {
        &self.x
    }

    /// Block of one local cell (n_members × n_vars values).
    pub fn cell_block(&self, cell: usize) -> &[f64] {
        let w = self.values_per_cell();
        &self.x[cell * w..(cell + 1) * w]
    }

    pub fn values_per_cell(&self) -> usize {
        self.n_members * self.n_vars
    }
    pub fn cell_ids(&self) -> &[u64] {
        &self.cell_ids
    }
    pub fn n_members(&self) -> usize {
        self.n_members
    }
    pub fn n_vars(&self) -> usize {
        self.n_vars
    }
    pub fn time_index(&self) -> i64 {
        self.time_index
    }
}

impl PerturbGenerator {
    /// Validate `group` and prepare it. `seed` is the user seed, `stream` distinguishes the
    /// groups of one run (use e.g. [`super::STREAM_FORCING`], [`super::STREAM_SOIL_MOISTURE`]).
    pub fn new(group: PerturbGroup, seed: u64, stream: u32) -> Result<Self, PerturbError> {
        let (role, vars) = group.resolve()?;
        let n = vars.len();
        let (eigenvalues, vectors) = symmetric_eigen(&group.correlation, n);
        if eigenvalues[0] <= MIN_CORRELATION_EIGENVALUE {
            return Err(PerturbError::Config {
                group: group.name.clone(),
                message: format!(
                    "correlation matrix is not positive definite (eigenvalues {:?}); reduce the cross-correlations",
                    eigenvalues
                ),
            });
        }
        let factor = symmetric_sqrt(&eigenvalues, &vectors, n);
        let dt = group.interval_seconds as f64;
        let rho: Vec<f64> = group
            .vars
            .iter()
            .map(|v| {
                if v.tau_seconds == 0.0 {
                    0.0
                } else {
                    (-dt / v.tau_seconds).exp()
                }
            })
            .collect();
        let innovation_scale = rho.iter().map(|r| (1.0 - r * r).sqrt()).collect();
        let field = match &group.spatial {
            Some(sp) => Some(GaussianFieldPlan::new(sp).map_err(|e| match e {
                PerturbError::Config { message, .. } => PerturbError::Config {
                    group: group.name.clone(),
                    message,
                },
                other => other,
            })?),
            None => None,
        };
        Ok(PerturbGenerator {
            group,
            role,
            vars,
            factor,
            eigenvalues,
            rho,
            innovation_scale,
            seed,
            stream,
            field,
        })
    }

    pub fn group(&self) -> &PerturbGroup {
        &self.group
    }
    pub fn role(&self) -> GroupRole {
        self.role
    }
    pub fn n_vars(&self) -> usize {
        self.vars.len()
    }
    /// S with C = S Sᵀ (row-major n×n).
    pub fn factor(&self) -> &[f64] {
        &self.factor
    }
    /// Eigenvalues of C, ascending.
    pub fn correlation_eigenvalues(&self) -> &[f64] {
        &self.eigenvalues
    }
    /// AR(1) coefficient ρ = exp(−Δt_pert/τ) per variable.
    pub fn rho(&self) -> &[f64] {
        &self.rho
    }
    pub fn resolved_vars(&self) -> &[ResolvedVar] {
        &self.vars
    }
    pub fn field_plan(&self) -> Option<&GaussianFieldPlan> {
        self.field.as_ref()
    }

    /// Perturbation time index of a model time (see [`clock::time_index`]).
    pub fn time_index(&self, time: NaiveDateTime) -> i64 {
        // The interval was validated to be > 0 in `new`.
        clock::index_unchecked(time, self.group.interval_seconds)
    }

    /// The key of the group's random numbers: (seed, stream).
    pub(super) fn key(&self) -> (u64, u32) {
        (self.seed, self.stream)
    }

    /// √(1 − ρ²) per variable.
    pub(super) fn innovation_scales(&self) -> &[f64] {
        &self.innovation_scale
    }

    /// With spatial correlation, every cell id must be a point of the grid.
    pub(super) fn check_cell_ids(&self, cell_ids: &[u64]) -> Result<(), PerturbError> {
        if let Some(plan) = &self.field {
            let (ny, nx) = plan.shape();
            let n = (ny * nx) as u64;
            if let Some(&bad) = cell_ids.iter().find(|&&c| c >= n) {
                return Err(PerturbError::State(format!(
                    "group '{}': cell id {bad} is outside the {ny}×{nx} grid of the spatial correlation",
                    self.group.name
                )));
            }
        }
        Ok(())
    }

    /// Cold start at `time_index`: x drawn from the stationary N(0, 1) (spatially correlated
    /// if configured), keyed by the time index so every decomposition gets the same state.
    pub fn cold_start(
        &self,
        cell_ids: &[u64],
        n_members: usize,
        time_index: i64,
    ) -> Result<PerturbState, PerturbError> {
        self.check_cell_ids(cell_ids)?;
        let n_vars = self.n_vars();
        let mut state = PerturbState {
            cell_ids: cell_ids.to_vec(),
            n_members,
            n_vars,
            time_index,
            x: vec![0.0; cell_ids.len() * n_members * n_vars],
        };
        self.draw_into(
            &state.cell_ids,
            n_members,
            time_index,
            Purpose::InitialCell,
            Purpose::InitialField,
            &mut state.x,
        );
        self.remove_mean(&mut state);
        Ok(state)
    }

    /// Standard normal deviates for every (cell, member, var) in state layout.
    fn draw_into(
        &self,
        cell_ids: &[u64],
        n_members: usize,
        time_index: i64,
        cell_purpose: Purpose,
        field_purpose: Purpose,
        out: &mut [f64],
    ) {
        let n_vars = self.n_vars();
        if cell_ids.is_empty() || n_members == 0 {
            // A rank without land cells has nothing to draw (and skips the FFTs).
            return;
        }
        match &self.field {
            None => {
                for (c, &id) in cell_ids.iter().enumerate() {
                    for m in 0..n_members {
                        let o = (c * n_members + m) * n_vars;
                        self.cell_deviates(
                            cell_purpose,
                            id,
                            m as u64,
                            time_index,
                            &mut out[o..o + n_vars],
                        );
                    }
                }
            }
            Some(plan) => {
                let (ny, nx) = plan.shape();
                let mut grid = vec![0.0; ny * nx];
                let mut scratch = FieldScratch::default();
                for m in 0..n_members {
                    for v in 0..n_vars {
                        plan.generate(
                            self.seed,
                            self.stream,
                            field_purpose,
                            v as u32,
                            m as u64,
                            time_index,
                            &mut grid,
                            &mut scratch,
                        );
                        for (c, &id) in cell_ids.iter().enumerate() {
                            out[(c * n_members + m) * n_vars + v] = grid[id as usize];
                        }
                    }
                }
            }
        }
    }

    /// The N(0, 1) deviates of every variable of one (cell, member, time): variable v is lane
    /// v % 4 of Philox block v / 4, so up to four variables cost one block call.
    #[inline]
    fn cell_deviates(
        &self,
        purpose: Purpose,
        point: u64,
        member: u64,
        time_index: i64,
        out: &mut [f64],
    ) {
        for (b, lanes) in out.chunks_mut(4).enumerate() {
            let z = keyed_normals4(
                self.seed,
                self.stream,
                purpose,
                b as u32,
                point,
                member,
                time_index,
            );
            lanes.copy_from_slice(&z[..lanes.len()]);
        }
    }

    /// Remove the ensemble mean of x per (cell, var) when configured and n_members ≥ 2.
    pub(super) fn remove_mean(&self, state: &mut PerturbState) {
        let (nm, nv) = (state.n_members, state.n_vars);
        if !self.group.remove_ensemble_mean || nm < 2 {
            return;
        }
        for block in state.x.chunks_exact_mut(nm * nv) {
            for v in 0..nv {
                let mean = (0..nm).map(|m| block[m * nv + v]).sum::<f64>() / nm as f64;
                for m in 0..nm {
                    block[m * nv + v] -= mean;
                }
            }
        }
    }

    /// Advance the state by one perturbation interval (time index k → k + 1):
    /// x ← ρ x + √(1 − ρ²) w with w keyed by k + 1.
    pub fn advance(&self, state: &mut PerturbState) -> Result<(), PerturbError> {
        self.check_state(state)?;
        let k = state.time_index.checked_add(1).ok_or_else(|| {
            PerturbError::State("perturbation time index overflows i64".to_string())
        })?;
        let nv = state.n_vars;
        if self.field.is_none() {
            // Per-cell deviates: update x in place, block by block, without a buffer of w.
            let nm = state.n_members;
            for (c, &id) in state.cell_ids.iter().enumerate() {
                for m in 0..nm {
                    let o = (c * nm + m) * nv;
                    let xs = &mut state.x[o..o + nv];
                    for (b, xb) in xs.chunks_mut(4).enumerate() {
                        let w = keyed_normals4(
                            self.seed,
                            self.stream,
                            Purpose::InnovationCell,
                            b as u32,
                            id,
                            m as u64,
                            k,
                        );
                        for (j, (x, &wv)) in xb.iter_mut().zip(w.iter()).enumerate() {
                            let v = 4 * b + j;
                            *x = self.rho[v] * *x + self.innovation_scale[v] * wv;
                        }
                    }
                }
            }
        } else {
            let mut w = vec![0.0; state.x.len()];
            self.draw_into(
                &state.cell_ids,
                state.n_members,
                k,
                Purpose::InnovationCell,
                Purpose::InnovationField,
                &mut w,
            );
            for (xs, ws) in state.x.chunks_exact_mut(nv).zip(w.chunks_exact(nv)) {
                for v in 0..nv {
                    xs[v] = self.rho[v] * xs[v] + self.innovation_scale[v] * ws[v];
                }
            }
        }
        state.time_index = k;
        self.remove_mean(state);
        Ok(())
    }

    /// Advance until the state belongs to `time_index`. Going backwards is an error.
    pub fn advance_to(
        &self,
        state: &mut PerturbState,
        time_index: i64,
    ) -> Result<(), PerturbError> {
        if time_index < state.time_index {
            return Err(PerturbError::State(format!(
                "group '{}': cannot move the perturbation state back from time index {} to {}",
                self.group.name, state.time_index, time_index
            )));
        }
        while state.time_index < time_index {
            self.advance(state)?;
        }
        Ok(())
    }

    /// Advance to the perturbation time containing model time `time`; returns true when the
    /// state moved (i.e. the held perturbation values must be recomputed).
    pub fn advance_to_time(
        &self,
        state: &mut PerturbState,
        time: NaiveDateTime,
    ) -> Result<bool, PerturbError> {
        let k = self.time_index(time);
        let moved = k != state.time_index;
        self.advance_to(state, k)?;
        Ok(moved)
    }

    fn check_state(&self, state: &PerturbState) -> Result<(), PerturbError> {
        if state.n_vars != self.n_vars() {
            return Err(PerturbError::State(format!(
                "group '{}' has {} variables but the perturbation state has {}",
                self.group.name,
                self.n_vars(),
                state.n_vars
            )));
        }
        self.check_cell_ids(&state.cell_ids)
    }

    /// Perturbation values for the state's time: y = clip(S x, ±std_normal_max), then
    /// p = σ y (additive) or p = exp(μ + s y) (multiplicative, lognormal with mean 1).
    pub fn values(&self, state: &PerturbState) -> Result<PerturbValues, PerturbError> {
        let mut out = PerturbValues {
            n_cells: 0,
            n_members: 0,
            n_vars: 0,
            time_index: 0,
            values: Vec::new(),
        };
        self.values_into(state, &mut out)?;
        Ok(out)
    }

    /// As [`PerturbGenerator::values`], reusing the buffer of `out`.
    pub fn values_into(
        &self,
        state: &PerturbState,
        out: &mut PerturbValues,
    ) -> Result<(), PerturbError> {
        self.check_state(state)?;
        let nv = state.n_vars;
        out.n_cells = state.cell_ids.len();
        out.n_members = state.n_members;
        out.n_vars = nv;
        out.time_index = state.time_index;
        out.values.clear();
        out.values.resize(state.x.len(), 0.0);
        let mut y = vec![0.0; nv];
        let clip = self.group.std_normal_max;
        for (xs, ps) in state
            .x
            .chunks_exact(nv)
            .zip(out.values.chunks_exact_mut(nv))
        {
            mat_vec(&self.factor, xs, &mut y);
            for ((p, &yv), var) in ps.iter_mut().zip(&y).zip(&self.vars) {
                let yc = yv.clamp(-clip, clip);
                *p = match var.kind {
                    PerturbKind::Additive => var.std * yc,
                    PerturbKind::Multiplicative => (var.log_mu + var.log_s * yc).exp(),
                };
            }
        }
        Ok(())
    }

    /// The correlated, clipped standard-normal perturbations y (before the σ / lognormal
    /// transform), in state layout. For diagnostics and tests.
    pub fn standard_normal_values(&self, state: &PerturbState) -> Result<Vec<f64>, PerturbError> {
        self.check_state(state)?;
        let nv = state.n_vars;
        let clip = self.group.std_normal_max;
        let mut out = vec![0.0; state.x.len()];
        for (xs, ys) in state.x.chunks_exact(nv).zip(out.chunks_exact_mut(nv)) {
            mat_vec(&self.factor, xs, ys);
            for y in ys.iter_mut() {
                *y = y.clamp(-clip, clip);
            }
        }
        Ok(out)
    }

    /// One (cell, member)'s values `p` must belong to a group of `role`, one per variable.
    fn check_values(&self, role: GroupRole, p: &[f64]) -> Result<(), PerturbError> {
        if self.role != role {
            let what = |r: GroupRole| match r {
                GroupRole::Forcing => "forcing",
                GroupRole::SoilMoisture => "soil moisture",
            };
            return Err(PerturbError::State(format!(
                "group '{}' perturbs {}, not {}",
                self.group.name,
                what(self.role),
                what(role)
            )));
        }
        if p.len() != self.vars.len() {
            return Err(PerturbError::State(format!(
                "group '{}': {} perturbation values for {} variables",
                self.group.name,
                p.len(),
                self.vars.len()
            )));
        }
        Ok(())
    }

    /// Apply one (cell, member)'s perturbation values `p` (from [`PerturbValues::get`]) to a
    /// step of forcing, then clip each perturbed field to its physical bounds.
    pub fn apply_forcing_perturbation(
        &self,
        p: &[f64],
        forcing: &mut Forcing,
    ) -> Result<(), PerturbError> {
        self.check_values(GroupRole::Forcing, p)?;
        apply_forcing_perturbation(&self.vars, p, forcing);
        Ok(())
    }

    /// Soil-moisture increments (m³ m⁻³) per layer, top first, for one (cell, member)'s
    /// values `p`; layers the group does not perturb get 0. Apply them once per perturbation
    /// time through `LandModel::apply_increment`, which keeps each layer in bounds.
    pub fn soil_moisture_increment(
        &self,
        p: &[f64],
        n_layers: usize,
    ) -> Result<Vec<f64>, PerturbError> {
        let mut inc = vec![0.0; n_layers];
        self.soil_moisture_increment_into(p, &mut inc)?;
        Ok(inc)
    }

    /// As [`PerturbGenerator::soil_moisture_increment`], into `inc` (one value per layer,
    /// overwritten), so the driver's loop over cells and members does not allocate.
    pub fn soil_moisture_increment_into(
        &self,
        p: &[f64],
        inc: &mut [f64],
    ) -> Result<(), PerturbError> {
        self.check_values(GroupRole::SoilMoisture, p)?;
        let n_layers = inc.len();
        inc.fill(0.0);
        for (var, &pv) in self.vars.iter().zip(p) {
            if let PerturbTarget::SoilMoisture(layer) = var.target {
                if layer >= n_layers {
                    return Err(PerturbError::State(format!(
                        "group '{}' perturbs soil layer {} but the model has {n_layers} layers",
                        self.group.name,
                        layer + 1
                    )));
                }
                let mut v = pv;
                if let Some(l) = var.lower {
                    v = v.max(l);
                }
                if let Some(u) = var.upper {
                    v = v.min(u);
                }
                inc[layer] = v;
            }
        }
        Ok(())
    }
}

/// [`apply_forcing_perturbation`] for all members of one cell: `p` holds the values of
/// member 0, then member 1, … (`vars.len()` each, the layout of one cell's block of
/// [`PerturbValues`]) and `forcings` one forcing per member. The loop runs over members
/// inside each variable, so the per-variable choices are made once per cell; the arithmetic
/// per member does not depend on how many members are passed.
pub fn apply_forcing_perturbation_members(
    vars: &[ResolvedVar],
    p: &[f64],
    forcings: &mut [Forcing],
) {
    let nv = vars.len();
    if nv == 0 {
        return;
    }
    for (v, var) in vars.iter().enumerate() {
        let members = forcings.iter_mut().zip(p.chunks_exact(nv));
        match var.target {
            PerturbTarget::ShortwaveDown => {
                perturb_field(var, v, members, |f| &mut f.shortwave_down)
            }
            PerturbTarget::LongwaveDown => perturb_field(var, v, members, |f| &mut f.longwave_down),
            PerturbTarget::Precipitation => {
                perturb_field(var, v, members, |f| &mut f.precipitation)
            }
            PerturbTarget::AirTemperature => {
                perturb_field(var, v, members, |f| &mut f.air_temperature)
            }
            PerturbTarget::SpecificHumidity => {
                perturb_field(var, v, members, |f| &mut f.specific_humidity)
            }
            PerturbTarget::WindSpeed => perturb_field(var, v, members, |f| &mut f.wind_speed),
            PerturbTarget::SoilMoisture(_) => {}
        }
    }
}

/// Variable `v` of every (forcing, member values) pair, on the field `field` selects: add or
/// multiply, then clip to the variable's bounds.
#[inline(always)]
fn perturb_field<'a>(
    var: &ResolvedVar,
    v: usize,
    members: impl Iterator<Item = (&'a mut Forcing, &'a [f64])>,
    field: impl Fn(&mut Forcing) -> &mut f64,
) {
    let (lower, upper) = (var.lower, var.upper);
    for (f, pm) in members {
        let x = field(f);
        let pv = pm[v];
        let mut y = match var.kind {
            PerturbKind::Additive => *x + pv,
            PerturbKind::Multiplicative => *x * pv,
        };
        if let Some(l) = lower {
            y = y.max(l);
        }
        if let Some(u) = upper {
            y = y.min(u);
        }
        *x = y;
    }
}

/// Apply perturbation values `p` (one per variable of `vars`, same order) to one step of
/// forcing: additive adds p, multiplicative multiplies by p; then each perturbed field is
/// clipped to its physical bounds (precipitation, shortwave, longwave ≥ 0 by default).
/// Soil-moisture variables in `vars` are ignored here.
pub fn apply_forcing_perturbation(vars: &[ResolvedVar], p: &[f64], forcing: &mut Forcing) {
    apply_forcing_perturbation_members(vars, p, std::slice::from_mut(forcing));
}
