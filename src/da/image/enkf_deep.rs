//! Deeper layers in the EnKF-like analysis through ensemble cross-covariances in
//! coefficient space (IMAGE.md §4 step 7, `deep_layers = 'ensemble'`):
//! g^l_k = α_b Σ_i a^l_ik a_ik/((N − 1)(b_k + r_k)), x^l_i ← x^l_i + Z_AᵀE⁺C*(g^l ∘ e_i),
//! with e_i the top layer's perturbed innovation coefficients. The block-diagonal
//! multivariate update: each coefficient of a deeper layer regresses on the same
//! coefficient of the top layer only. `max_gain` does not apply to these gains.
//! With [`CrossShrinkage::SamplingError`] each g^l_k is multiplied by the factor of
//! [`sampling_shrinkage`] from the coefficient's sample correlation over the members;
//! with a [`DeepRestriction`] they are also scaled per layer (vertical localisation) and
//! kept on the coarsest scales only.

use super::column::{sampling_shrinkage, CrossShrinkage};
use super::deep_select::{keep_coarse_scales, DeepRestriction};
use super::enkf_like::{check_ensemble, member_mean, transform_difference, EnkfLikeGain};
use super::plan::{ImagePlan, OpScratch, Workspace};
use super::ImageError;

impl EnkfLikeGain {
    /// Update one deeper layer `deep` (members in the same order as `top`). `top` must be
    /// the top layer **before** [`EnkfLikeGain::update_members`] (its prior anomalies and
    /// innovations drive the update). Only cells of the analysed set are written.
    pub fn update_deep_layer<T, D, P>(
        &self,
        plan: &ImagePlan,
        observed: &[f64],
        top: &[T],
        deep: &mut [D],
        perturbed: &[P],
        ws: &mut Workspace,
    ) -> Result<(), ImageError>
    where
        T: AsRef<[f64]>,
        D: AsRef<[f64]> + AsMut<[f64]>,
        P: AsRef<[f64]>,
    {
        let none = CrossShrinkage::None;
        self.update_deep_layer_with(plan, observed, top, deep, perturbed, none, ws)
    }

    /// [`EnkfLikeGain::update_deep_layer`] with the cross-gains shrunk as `shrinkage` says.
    #[allow(clippy::too_many_arguments)]
    pub fn update_deep_layer_with<T, D, P>(
        &self,
        plan: &ImagePlan,
        observed: &[f64],
        top: &[T],
        deep: &mut [D],
        perturbed: &[P],
        shrinkage: CrossShrinkage,
        ws: &mut Workspace,
    ) -> Result<(), ImageError>
    where
        T: AsRef<[f64]>,
        D: AsRef<[f64]> + AsMut<[f64]>,
        P: AsRef<[f64]>,
    {
        let all = DeepRestriction::default();
        self.update_deep_layer_restricted(
            plan,
            observed,
            top,
            deep,
            perturbed,
            (shrinkage, all),
            ws,
        )
    }

    /// [`EnkfLikeGain::update_deep_layer_with`] with the cross-gains also times
    /// `restrict.factor` (vertical localisation; 0 leaves `deep` exactly as it is) and kept
    /// only on the coarsest `restrict.coarse_scales` scales.
    #[allow(clippy::too_many_arguments)]
    pub fn update_deep_layer_restricted<T, D, P>(
        &self,
        plan: &ImagePlan,
        observed: &[f64],
        top: &[T],
        deep: &mut [D],
        perturbed: &[P],
        (shrinkage, restrict): (CrossShrinkage, DeepRestriction),
        ws: &mut Workspace,
    ) -> Result<(), ImageError>
    where
        T: AsRef<[f64]>,
        D: AsRef<[f64]> + AsMut<[f64]>,
        P: AsRef<[f64]>,
    {
        if !(restrict.factor.is_finite() && (0.0..=1.0).contains(&restrict.factor)) {
            return Err(ImageError::BadParameter {
                what: "deep-layer factor",
                value: restrict.factor,
                why: "must lie in [0, 1]",
            });
        }
        if self.cross_factor.is_empty() {
            return Err(ImageError::BadParameter {
                what: "deep-layer gain",
                value: 0.0,
                why: "needs a gain from EnkfLikeGain::estimate (b and r), not a uniform one",
            });
        }
        plan.check_len("observed image", observed.len(), plan.n_cells())?;
        check_ensemble(plan, &self.cells, top, perturbed)?;
        check_ensemble(plan, &self.cells, deep, perturbed)?;
        if restrict.factor == 0.0 {
            return Ok(());
        }
        let mut cross = self.cross_gain(plan, top, deep, shrinkage, ws)?;
        if restrict.factor != 1.0 {
            cross.iter_mut().for_each(|g| *g *= restrict.factor);
        }
        keep_coarse_scales(self.gain.layout(), restrict.coarse_scales, &mut cross)?;
        let Workspace { op, cg, .. } = ws;
        let fm = &mut cg[1];
        member_mean(perturbed, &self.cells.obs, fm);
        for ((x, xl), f) in top.iter().zip(deep.iter_mut()).zip(perturbed) {
            let (x, xl, f) = (x.as_ref(), xl.as_mut(), f.as_ref());
            op.grid.fill(0.0);
            for &c in self.cells.obs.indices() {
                let c = c as usize;
                op.grid[c] = observed[c] + (f[c] - fm[c]) - x[c];
            }
            apply_coefficient_gain(plan, &cross, op)?;
            for &c in self.cells.analysed.indices() {
                xl[c as usize] += op.grid[c as usize];
            }
        }
        Ok(())
    }

    /// g^l_k from the cross-products of the two layers' anomaly coefficients (member order).
    fn cross_gain<T: AsRef<[f64]>, D: AsRef<[f64]>>(
        &self,
        plan: &ImagePlan,
        top: &[T],
        deep: &[D],
        shrinkage: CrossShrinkage,
        ws: &mut Workspace,
    ) -> Result<Vec<f64>, ImageError> {
        let Workspace { op, cg, .. } = ws;
        let [xm, xlm, ..] = cg;
        member_mean(top, &self.cells.land, xm);
        member_mean(deep, &self.cells.land, xlm);
        let total = self.cross_factor.len();
        let mut cross = vec![0.0; total];
        let shrink = shrinkage == CrossShrinkage::SamplingError;
        // Σ a², Σ (a^l)² for the sample correlations (only when shrinking).
        let mut sq = vec![[0.0; 2]; if shrink { total } else { 0 }];
        for (x, xl) in top.iter().zip(deep) {
            transform_difference(plan, &self.cells.land, x.as_ref(), xm, op)?;
            op.kept[..total].copy_from_slice(op.coeffs.as_slice());
            transform_difference(plan, &self.cells.land, xl.as_ref(), xlm, op)?;
            for ((s, a), al) in cross
                .iter_mut()
                .zip(&op.kept[..total])
                .zip(op.coeffs.as_slice())
            {
                *s += a * al;
            }
            for ((q, a), al) in sq
                .iter_mut()
                .zip(&op.kept[..total])
                .zip(op.coeffs.as_slice())
            {
                q[0] += a * a;
                q[1] += al * al;
            }
        }
        for (k, (s, f)) in cross.iter_mut().zip(&self.cross_factor).enumerate() {
            let alpha = match sq.get(k) {
                Some(q) if q[0] * q[1] > 0.0 => {
                    sampling_shrinkage(*s * *s / (q[0] * q[1]), top.len())
                }
                Some(_) => 0.0,
                None => 1.0,
            };
            *s *= f * alpha;
        }
        Ok(cross)
    }
}

/// op.grid holds Z_V d; leaves E⁺C*(gain ∘ C E Z_V d) in op.grid. E⁺ = Eᵀ/m, the mean of
/// the mirrored copies, keeps the mean-update operator symmetric on V.
pub(super) fn apply_coefficient_gain(
    plan: &ImagePlan,
    gain: &[f64],
    op: &mut OpScratch,
) -> Result<(), ImageError> {
    plan.extend_into(&op.grid, &mut op.ext)?;
    plan.forward_extended(&op.ext, &mut op.coeffs, &mut op.cw)?;
    for (c, g) in op.coeffs.as_mut_slice().iter_mut().zip(gain) {
        *c *= g;
    }
    inverse_mean_fold(plan, op)
}

/// op.grid = E⁺C* op.coeffs (op.ext is scratch).
pub(super) fn inverse_mean_fold(plan: &ImagePlan, op: &mut OpScratch) -> Result<(), ImageError> {
    plan.inverse_folded(&op.coeffs, &mut op.ext, &mut op.grid, &mut op.cw)?;
    divide_by_multiplicity(plan, &mut op.grid);
    Ok(())
}

/// E⁺ after Eᵀ: a folded field divided by the extension's multiplicity m.
pub(super) fn divide_by_multiplicity(plan: &ImagePlan, field: &mut [f64]) {
    let inv_m = 1.0 / plan.multiplicity();
    field.iter_mut().for_each(|v| *v *= inv_m);
}
