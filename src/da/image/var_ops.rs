//! The variational problem's operators, cost, gradient and CG solution.
//!
//! With L = M C E Z_V (control → kept coefficients) and s = λ/(mσ_I²):
//! J(δ) = ½δᵀB⁻¹δ + ½Σ(δ_c − d_p)²/σ_p² + (s/2)‖L(δ − d)‖². The control-variable
//! transform δ = B^{1/2}χ turns ∇J = 0 into Aχ = B^{1/2}[HᵀR⁻¹d_p + sLᵀLd] with
//! A = I + B^{1/2}(HᵀR⁻¹H + sLᵀL)B^{1/2}, solved by CG preconditioned with the exact
//! diagonal of the identity + J_O part (the image part has no cheap diagonal).

use crate::da::curvelet::MaskedTransform;

use super::cg::{dot, StopReason};
use super::plan::{OpScratch, Workspace};
use super::variational::VarProblem;
use super::ImageError;

/// One line of the minimisation log.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IterLog {
    /// CG iteration (0 = the background, δ = 0).
    pub iteration: usize,
    /// J at this iterate (dimensionless).
    pub cost: f64,
    /// ‖∇_δ J‖ in the field's inverse units (comparable with the paper's 1e-9 stop).
    pub grad_norm: f64,
    /// ‖∇_χ J‖ = ‖r‖, the CG residual in control space.
    pub grad_norm_control: f64,
}

/// What one variational analysis did.
#[derive(Clone, Debug, PartialEq)]
pub struct VarReport {
    /// J and ‖∇J‖ per iteration, from iteration 0.
    pub iterations: Vec<IterLog>,
    /// Why CG stopped.
    pub stop: StopReason,
    /// CG iterations done.
    pub cg_iterations: usize,
    /// |V|, the control cells.
    pub control_cells: usize,
    /// Point observations on V.
    pub point_obs_used: usize,
    /// Kept coefficient units of the mask.
    pub kept_units: usize,
    /// All coefficient units of the extended grid.
    pub total_units: usize,
}

impl VarProblem<'_> {
    fn masked(&self) -> Result<MaskedTransform<'_>, ImageError> {
        Ok(MaskedTransform::new(self.plan.curvelet(), &self.mask)?
            .with_row_mirror(self.plan.row_mirror()))
    }

    /// Number of kept real coefficients (the length of L's output).
    pub fn kept_len(&self) -> usize {
        self.mask.kept_values()
    }

    fn forward_op(&self, v: &[f64], op: &mut OpScratch) -> Result<usize, ImageError> {
        let nk = self.kept_len();
        self.cells.pad_into(v, &mut op.grid)?;
        self.plan.extend_into(&op.grid, &mut op.ext)?;
        let OpScratch {
            cw,
            coeffs,
            kept,
            ext,
            ..
        } = op;
        self.masked()?.apply(ext, &mut kept[..nk], cw, coeffs)?;
        Ok(nk)
    }

    fn adjoint_op(&self, op: &mut OpScratch, v: &mut [f64]) -> Result<(), ImageError> {
        let nk = self.kept_len();
        let OpScratch {
            cw,
            coeffs,
            kept,
            ext,
            grid,
        } = op;
        self.masked()?.adjoint(&kept[..nk], ext, cw, coeffs)?;
        self.plan.fold_into(ext, grid)?;
        self.cells.restrict_into(grid, v)
    }

    /// y = L v = M C E Z_V v (`y` has [`VarProblem::kept_len`] values).
    pub fn image_forward(
        &self,
        v: &[f64],
        y: &mut [f64],
        ws: &mut Workspace,
    ) -> Result<(), ImageError> {
        self.plan
            .check_len("kept coefficients", y.len(), self.kept_len())?;
        let nk = self.forward_op(v, &mut ws.op)?;
        y.copy_from_slice(&ws.op.kept[..nk]);
        Ok(())
    }

    /// v = Lᵀ y = Z_Vᵀ Eᵀ C* Mᵀ y.
    pub fn image_adjoint(
        &self,
        y: &[f64],
        v: &mut [f64],
        ws: &mut Workspace,
    ) -> Result<(), ImageError> {
        self.plan
            .check_len("kept coefficients", y.len(), self.kept_len())?;
        ws.op.kept[..y.len()].copy_from_slice(y);
        self.adjoint_op(&mut ws.op, v)
    }

    /// v ← LᵀL v: one masked forward and one adjoint transform.
    pub(super) fn normal_inplace(
        &self,
        v: &mut [f64],
        op: &mut OpScratch,
    ) -> Result<(), ImageError> {
        self.forward_op(v, op)?;
        self.adjoint_op(op, v)
    }

    /// J(δ) for δ on V. Cells with b = 0 must have δ = 0 (their J_B term is skipped).
    pub fn cost(&self, delta: &[f64], ws: &mut Workspace) -> Result<f64, ImageError> {
        self.plan
            .check_len("increment on V", delta.len(), self.cells.len())?;
        let mut jb = 0.0;
        let mut jo = self.obs_j0;
        let tmp = &mut ws.cg[0][..delta.len()];
        for (j, &x) in delta.iter().enumerate() {
            let b = self.sqrt_b[j] * self.sqrt_b[j];
            if b > 0.0 {
                jb += 0.5 * x * x / b;
            }
            jo += 0.5 * self.obs_diag[j] * x * x - self.obs_rhs[j] * x;
            tmp[j] = x - self.d[j];
        }
        let nk = self.forward_op(tmp, &mut ws.op)?;
        let ji = 0.5 * self.scale * dot(&ws.op.kept[..nk], &ws.op.kept[..nk]);
        Ok(jb + jo + ji)
    }

    /// ∇_δ J = B⁻¹δ + HᵀR⁻¹(Hδ − d_p) + s LᵀL(δ − d).
    pub fn gradient(
        &self,
        delta: &[f64],
        grad: &mut [f64],
        ws: &mut Workspace,
    ) -> Result<(), ImageError> {
        self.plan
            .check_len("increment on V", delta.len(), self.cells.len())?;
        self.plan
            .check_len("gradient on V", grad.len(), self.cells.len())?;
        for j in 0..delta.len() {
            grad[j] = delta[j] - self.d[j];
        }
        self.normal_inplace(grad, &mut ws.op)?;
        for (j, g) in grad.iter_mut().enumerate() {
            let b = self.sqrt_b[j] * self.sqrt_b[j];
            let jb = if b > 0.0 { delta[j] / b } else { 0.0 };
            *g = jb + self.obs_diag[j] * delta[j] - self.obs_rhs[j] + self.scale * *g;
        }
        Ok(())
    }
}
