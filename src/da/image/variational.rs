//! The variational image analysis (IMAGE.md §3): its inputs, checks and the fixed-mask
//! quadratic problem J(δ) = J_B + J_O + J_I over δ = x − x_b on the analysed cells V.
//! The operators, cost, gradient and solver are in `var_ops.rs`.

use crate::da::curvelet::ThresholdMask;

use super::cells::CellSet;
use super::plan::{ImagePlan, Workspace};
use super::ImageError;

/// What land cells without an observed pixel do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum GapPolicy {
    /// They leave V: no control variable, zero increment.
    #[default]
    Exclude,
    /// They stay in V with an innovation filled smoothly from the observed cells
    /// (`fill_missing` on the innovation, never on the image).
    Fill,
}

/// One point observation of the analysed field (H = the cell's value), in the field's
/// units (m³ m⁻³ for soil moisture).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PointObs {
    /// Flat cell index (row-major).
    pub cell: usize,
    /// Observed value y.
    pub value: f64,
    /// Error variance σ_p² (units²), > 0.
    pub error_var: f64,
}

/// Settings of one variational analysis.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VarConfig {
    /// σ_I, the image error sd in field units (J_I weight λ/σ_I²).
    pub sigma_i: f64,
    /// λ ≥ 0, the image-term weight (0 switches J_I off).
    pub weight: f64,
    /// Cells without an observed pixel.
    pub gap_policy: GapPolicy,
    /// CG stops at ‖r_k‖ ≤ tolerance·‖r₀‖.
    pub tolerance: f64,
    /// CG iteration limit.
    pub max_iter: usize,
}

impl Default for VarConfig {
    fn default() -> Self {
        Self {
            sigma_i: 0.04,
            weight: 1.0,
            gap_policy: GapPolicy::Exclude,
            tolerance: 1e-6,
            max_iter: 100,
        }
    }
}

/// The fields of one variational analysis, all row-major `ny × nx`.
#[derive(Clone, Copy, Debug)]
pub struct VarInput<'a> {
    /// x_b, read on the analysed cells only (NaN elsewhere is fine).
    pub background: &'a [f64],
    /// f_o; a non-finite pixel is missing.
    pub observed: &'a [f64],
    /// Land cells passing model QC: the only cells that may receive an increment.
    pub analysed: &'a [bool],
    /// Diagonal of B (variance per cell, units²), ≥ 0, read on the analysed cells.
    pub b_var: &'a [f64],
    /// Point observations for J_O (empty: J_O off). Those off V are ignored.
    pub point_obs: &'a [PointObs],
}

/// The quadratic problem of one analysis once the mask is fixed. Vectors on V are in the
/// ascending cell order of [`VarProblem::cells`].
pub struct VarProblem<'p> {
    pub(super) plan: &'p ImagePlan,
    pub(super) mask: ThresholdMask,
    pub(super) cells: CellSet,
    pub(super) d: Vec<f64>,
    pub(super) sqrt_b: Vec<f64>,
    pub(super) obs_diag: Vec<f64>,
    pub(super) obs_rhs: Vec<f64>,
    pub(super) obs_j0: f64,
    pub(super) obs_used: usize,
    pub(super) scale: f64,
    pub(super) cfg: VarConfig,
}

fn non_finite(what: &'static str, cell: usize, nx: usize) -> ImageError {
    ImageError::NonFinite {
        what,
        cell,
        row: cell / nx,
        col: cell % nx,
    }
}

fn check_config(cfg: &VarConfig) -> Result<(), ImageError> {
    let bad = |what, value, why| Err(ImageError::BadParameter { what, value, why });
    if !(cfg.sigma_i.is_finite() && cfg.sigma_i > 0.0) {
        return bad("sigma_i", cfg.sigma_i, "must be positive and finite");
    }
    if !(cfg.weight.is_finite() && cfg.weight >= 0.0) {
        return bad("weight", cfg.weight, "must be ≥ 0 and finite");
    }
    if !(cfg.tolerance.is_finite() && cfg.tolerance >= 0.0) {
        return bad("tolerance", cfg.tolerance, "must be ≥ 0 and finite");
    }
    Ok(())
}

impl<'p> VarProblem<'p> {
    /// Set up the problem with a fixed `mask` (normally [`ImagePlan::observation_mask`]
    /// of the same observed image).
    pub fn new(
        plan: &'p ImagePlan,
        input: &VarInput<'_>,
        cfg: &VarConfig,
        mask: ThresholdMask,
        ws: &mut Workspace,
    ) -> Result<Self, ImageError> {
        check_config(cfg)?;
        let n = plan.n_cells();
        plan.check_len("background", input.background.len(), n)?;
        plan.check_len("observed image", input.observed.len(), n)?;
        plan.check_len("analysed mask", input.analysed.len(), n)?;
        plan.check_len("B variances", input.b_var.len(), n)?;
        let cells = control_cells(input, cfg.gap_policy);
        let d = innovation(plan, input, &cells, cfg.gap_policy, ws)?;
        let sqrt_b = sqrt_b(input, &cells, plan.nx())?;
        let mut p = Self {
            plan,
            mask,
            cells,
            d,
            sqrt_b,
            obs_diag: Vec::new(),
            obs_rhs: Vec::new(),
            obs_j0: 0.0,
            obs_used: 0,
            scale: cfg.weight / (plan.multiplicity() * cfg.sigma_i * cfg.sigma_i),
            cfg: *cfg,
        };
        p.add_point_obs(input)?;
        Ok(p)
    }

    /// Accumulate J_O = ½Σ(δ_c − d_p)²/σ_p² as a diagonal, a linear term and a constant.
    fn add_point_obs(&mut self, input: &VarInput<'_>) -> Result<(), ImageError> {
        let n = self.plan.n_cells();
        let mut pos = vec![u32::MAX; n];
        for (j, &c) in self.cells.indices().iter().enumerate() {
            pos[c as usize] = j as u32;
        }
        self.obs_diag = vec![0.0; self.cells.len()];
        self.obs_rhs = vec![0.0; self.cells.len()];
        for (index, o) in input.point_obs.iter().enumerate() {
            check_obs(index, o, n)?;
            let j = pos[o.cell];
            if j == u32::MAX {
                continue;
            }
            let dp = o.value - input.background[o.cell];
            self.obs_diag[j as usize] += 1.0 / o.error_var;
            self.obs_rhs[j as usize] += dp / o.error_var;
            self.obs_j0 += 0.5 * dp * dp / o.error_var;
            self.obs_used += 1;
        }
        Ok(())
    }

    /// The control cells V.
    pub fn cells(&self) -> &CellSet {
        &self.cells
    }
    /// The image innovation d on V.
    pub fn innovation(&self) -> &[f64] {
        &self.d
    }
    /// The fixed mask.
    pub fn mask(&self) -> &ThresholdMask {
        &self.mask
    }
    /// λ/(m σ_I²), the factor of J_I = (factor/2)‖MCEZ_V(δ − d)‖².
    pub fn image_scale(&self) -> f64 {
        self.scale
    }
    /// Point observations that fell on V.
    pub fn point_obs_used(&self) -> usize {
        self.obs_used
    }
}

fn check_obs(index: usize, o: &PointObs, n: usize) -> Result<(), ImageError> {
    if o.cell >= n {
        return Err(ImageError::ObsOutside {
            index,
            cell: o.cell,
            cells: n,
        });
    }
    if !o.value.is_finite() {
        return Err(ImageError::BadParameter {
            what: "point observation value",
            value: o.value,
            why: "must be finite",
        });
    }
    if !(o.error_var.is_finite() && o.error_var > 0.0) {
        return Err(ImageError::BadParameter {
            what: "point observation error variance",
            value: o.error_var,
            why: "must be positive and finite",
        });
    }
    Ok(())
}

fn control_cells(input: &VarInput<'_>, gaps: GapPolicy) -> CellSet {
    let v: Vec<bool> = match gaps {
        GapPolicy::Exclude => input
            .analysed
            .iter()
            .zip(input.observed)
            .map(|(&a, o)| a && o.is_finite())
            .collect(),
        GapPolicy::Fill => input.analysed.to_vec(),
    };
    CellSet::from_mask(&v)
}

/// d = Z_Vᵀ(f_o − x_b); with `Fill`, unobserved cells of V take the filled innovation.
fn innovation(
    plan: &ImagePlan,
    input: &VarInput<'_>,
    cells: &CellSet,
    gaps: GapPolicy,
    ws: &mut Workspace,
) -> Result<Vec<f64>, ImageError> {
    let grid = &mut ws.op.grid;
    let mut valid = vec![false; plan.n_cells()];
    for &c in cells.indices() {
        let c = c as usize;
        let xb = input.background[c];
        if !xb.is_finite() {
            return Err(non_finite("background", c, plan.nx()));
        }
        let fo = input.observed[c];
        valid[c] = fo.is_finite();
        grid[c] = if valid[c] { fo - xb } else { 0.0 };
    }
    if gaps == GapPolicy::Fill && cells.indices().iter().any(|&c| !valid[c as usize]) {
        if !valid.iter().any(|&v| v) {
            return Err(ImageError::EmptyImage);
        }
        plan.fill(grid, &valid)?;
    }
    let mut d = vec![0.0; cells.len()];
    cells.restrict_into(grid, &mut d)?;
    Ok(d)
}

fn sqrt_b(input: &VarInput<'_>, cells: &CellSet, nx: usize) -> Result<Vec<f64>, ImageError> {
    cells
        .indices()
        .iter()
        .map(|&c| {
            let b = input.b_var[c as usize];
            if !b.is_finite() {
                Err(non_finite("B variance", c as usize, nx))
            } else if b < 0.0 {
                Err(ImageError::BadParameter {
                    what: "B variance",
                    value: b,
                    why: "must be ≥ 0",
                })
            } else {
                Ok(b.sqrt())
            }
        })
        .collect()
}
