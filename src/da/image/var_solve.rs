//! Solving the variational problem: control-variable transform + preconditioned CG, with
//! J and ‖∇J‖ logged per iteration, and the one-call analysis `analyse_var`.

use super::cg::{dot, pcg, CgStop, CgVectors};
use super::plan::{ImagePlan, Workspace};
use super::var_ops::{IterLog, VarReport};
use super::variational::{VarConfig, VarInput, VarProblem};
use super::ImageError;

impl VarProblem<'_> {
    /// rhs = B^{1/2}[HᵀR⁻¹d_p + sLᵀLd] and J(δ = 0) = J_O(0) + (s/2)dᵀLᵀLd.
    fn rhs_and_j0(&self, ws: &mut Workspace) -> Result<(Vec<f64>, f64), ImageError> {
        let mut rhs = self.d.clone();
        self.normal_inplace(&mut rhs, &mut ws.op)?;
        let j0 = self.obs_j0 + 0.5 * self.scale * dot(&self.d, &rhs);
        for (j, v) in rhs.iter_mut().enumerate() {
            *v = self.sqrt_b[j] * (self.obs_rhs[j] + self.scale * *v);
        }
        Ok((rhs, j0))
    }

    /// Minimise J; writes the increment δ on V (cell order of [`VarProblem::cells`]).
    pub fn solve(&self, delta: &mut [f64], ws: &mut Workspace) -> Result<VarReport, ImageError> {
        let nv = self.cells.len();
        self.plan.check_len("increment on V", delta.len(), nv)?;
        let (s, sb) = (self.scale, &self.sqrt_b);
        let (rhs, j0) = self.rhs_and_j0(ws)?;
        let m_inv: Vec<f64> = (0..nv)
            .map(|j| 1.0 / (1.0 + sb[j] * sb[j] * self.obs_diag[j]))
            .collect();
        let mut log = Vec::with_capacity(self.cfg.max_iter + 1);
        let Workspace { op, cg, .. } = ws;
        let [x, r, z, p, q] = cg;
        let v = CgVectors {
            x: &mut x[..nv],
            r: &mut r[..nv],
            z: &mut z[..nv],
            p: &mut p[..nv],
            q: &mut q[..nv],
        };
        let apply = |p: &[f64], q: &mut [f64]| {
            for j in 0..nv {
                q[j] = sb[j] * p[j];
            }
            self.normal_inplace(q, op)?;
            for j in 0..nv {
                q[j] = p[j] + sb[j] * (self.obs_diag[j] * sb[j] * p[j] + s * q[j]);
            }
            Ok(())
        };
        // Quadratic: J(χ) = ½χᵀAχ − rhsᵀχ + J₀ = J₀ − ½χᵀ(rhs + r), so the log costs no
        // extra transform.
        let observe = |k: usize, x: &[f64], r: &[f64]| {
            let entry = IterLog {
                iteration: k,
                cost: j0 - 0.5 * (dot(x, &rhs) + dot(x, r)),
                grad_norm: delta_space_norm(r, sb),
                grad_norm_control: dot(r, r).sqrt(),
            };
            tracing::debug!(
                iteration = k,
                cost = entry.cost,
                grad_norm = entry.grad_norm,
                "image var CG"
            );
            log.push(entry);
        };
        let stop = CgStop {
            tolerance: self.cfg.tolerance,
            max_iter: self.cfg.max_iter,
        };
        let (why, k) = pcg(apply, &rhs, &m_inv, v, stop, observe)?;
        for j in 0..nv {
            delta[j] = sb[j] * x[j];
        }
        Ok(VarReport {
            iterations: log,
            stop: why,
            cg_iterations: k,
            control_cells: nv,
            point_obs_used: self.obs_used,
            kept_units: self.mask.kept_units(),
            total_units: self.mask.layout().units,
        })
    }
}

/// ‖∇_δ J‖ = ‖B^{-1/2} r‖ over cells with b > 0 (elsewhere δ is pinned at 0).
fn delta_space_norm(r: &[f64], sqrt_b: &[f64]) -> f64 {
    r.iter()
        .zip(sqrt_b)
        .filter(|(_, &s)| s > 0.0)
        .map(|(ri, s)| (ri / s) * (ri / s))
        .sum::<f64>()
        .sqrt()
}

/// One variational analysis: mask from the observed image, problem, CG. `increment`
/// (row-major, the whole grid) receives δ on V and 0 on every other cell.
pub fn analyse_var(
    plan: &ImagePlan,
    input: &VarInput<'_>,
    cfg: &VarConfig,
    ws: &mut Workspace,
    increment: &mut [f64],
) -> Result<VarReport, ImageError> {
    plan.check_len("increment", increment.len(), plan.n_cells())?;
    let mask = plan.observation_mask(input.observed, ws)?;
    let problem = VarProblem::new(plan, input, cfg, mask, ws)?;
    let mut delta = vec![0.0; problem.cells().len()];
    let report = problem.solve(&mut delta, ws)?;
    problem.cells().pad_into(&delta, increment)?;
    Ok(report)
}
