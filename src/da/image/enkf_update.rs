//! The EnKF-like analysis, second half (IMAGE.md §4 steps 6–8): the per-member update
//! x_i ← x_i + Z_AᵀE⁺C*(g ∘ C E Z_V(f_o + ε_i − x_i)), RTPS, the one-call analysis and
//! a helper that builds perturbed images from given standard-normal fields.

use super::cells::CellSet;
use super::enkf_deep::{apply_coefficient_gain, divide_by_multiplicity};
use super::enkf_like::{
    check_ensemble, member_mean, member_sums, transform_difference, updated_within, BandStats,
    EnkfLikeConfig, EnkfLikeFields, EnkfLikeGain, MemberPart, CELL_BLOCK,
};
use super::plan::{ImagePlan, OpScratch, Workspace};
use super::ImageError;
use crate::da::curvelet::{BandInfo, BandSlot};
use num_complex::Complex64 as C64;
use std::ops::Range;

/// What one EnKF-like analysis did.
#[derive(Clone, Debug, PartialEq)]
pub struct EnkfLikeReport {
    /// Members updated.
    pub members: usize,
    /// |V|: analysed cells with an observed pixel.
    pub observed_cells: usize,
    /// Kept units of the observed image's mask.
    pub kept_units: usize,
    /// All units of the extended grid's layout.
    pub total_units: usize,
    /// Per-band b, r, gain summaries.
    pub bands: Vec<BandStats>,
    /// Mean ensemble sd over the analysed cells before the update (field units).
    pub spread_before: f64,
    /// The same after the update (and RTPS).
    pub spread_after: f64,
}

impl EnkfLikeGain {
    /// op.grid holds Z_V d; leaves E⁺C*(g ∘ C E Z_V d) in op.grid.
    fn gain_increment(&self, plan: &ImagePlan, op: &mut OpScratch) -> Result<(), ImageError> {
        apply_coefficient_gain(plan, self.gain.as_slice(), op)
    }

    /// `increment` = G d = Z_AᵀE⁺C* diag(g) C E Z_V d: `innovation` is read on V only;
    /// `increment` is 0 off the analysed cells.
    pub fn apply(
        &self,
        plan: &ImagePlan,
        innovation: &[f64],
        increment: &mut [f64],
        ws: &mut Workspace,
    ) -> Result<(), ImageError> {
        plan.check_len("innovation", innovation.len(), plan.n_cells())?;
        plan.check_len("increment", increment.len(), plan.n_cells())?;
        let op = &mut ws.op;
        op.grid.fill(0.0);
        for &c in self.cells.obs.indices() {
            op.grid[c as usize] = innovation[c as usize];
        }
        self.gain_increment(plan, op)?;
        increment.fill(0.0);
        for &c in self.cells.analysed.indices() {
            increment[c as usize] = op.grid[c as usize];
        }
        Ok(())
    }

    /// Pass 2: update every member in place with its own perturbed innovation
    /// f_o + ε_i − x_i on V, ε_i = f_i − f̄ (de-meaned, so the mean obeys x̄_a = x̄ + G(f_o − x̄)).
    pub fn update_members<M, P>(
        &self,
        plan: &ImagePlan,
        observed: &[f64],
        members: &mut [M],
        perturbed: &[P],
        ws: &mut Workspace,
    ) -> Result<(), ImageError>
    where
        M: AsRef<[f64]> + AsMut<[f64]>,
        P: AsRef<[f64]>,
    {
        plan.check_len("observed image", observed.len(), plan.n_cells())?;
        check_ensemble(plan, &self.cells, members, perturbed)?;
        let Workspace { op, cg, .. } = ws;
        let fm = &mut cg[1];
        member_mean(perturbed, &self.cells.obs, fm);
        for (x, f) in members.iter_mut().zip(perturbed) {
            self.update_one(plan, observed, fm, x.as_mut(), f.as_ref(), op)?;
        }
        Ok(())
    }

    /// Pass 2 for one member `x` with its perturbed image `f`, given f̄ (`f_mean`, the
    /// member mean of the perturbed images on V): what [`EnkfLikeGain::update_members`]
    /// does to each member, for callers that spread members over processes.
    pub fn update_member(
        &self,
        plan: &ImagePlan,
        observed: &[f64],
        f_mean: &[f64],
        x: &mut [f64],
        f: &[f64],
        ws: &mut Workspace,
    ) -> Result<(), ImageError> {
        let n = plan.n_cells();
        plan.check_len("observed image", observed.len(), n)?;
        plan.check_len("perturbed-image mean", f_mean.len(), n)?;
        plan.check_len("member", x.len(), n)?;
        plan.check_len("perturbed image", f.len(), n)?;
        self.update_one(plan, observed, f_mean, x, f, &mut ws.op)
    }

    fn update_one(
        &self,
        plan: &ImagePlan,
        observed: &[f64],
        fm: &[f64],
        x: &mut [f64],
        f: &[f64],
        op: &mut OpScratch,
    ) -> Result<(), ImageError> {
        op.grid.fill(0.0);
        for &c in self.cells.obs.indices() {
            let c = c as usize;
            op.grid[c] = observed[c] + (f[c] - fm[c]) - x[c];
        }
        self.gain_increment(plan, op)?;
        for &c in self.cells.analysed.indices() {
            x[c as usize] += op.grid[c as usize];
        }
        Ok(())
    }

    /// The members' shared part of pass 2, C E Z_V(f_o − x̄) on the updated coefficients,
    /// when the gain was estimated with V = L (else `None`: update members directly).
    pub fn mean_innovation_part(
        &self,
        plan: &ImagePlan,
        observed: &[f64],
        ws: &mut Workspace,
    ) -> Result<Option<MemberPart>, ImageError> {
        let Some(sc) = &self.shortcut else {
            return Ok(None);
        };
        plan.check_len("observed image", observed.len(), plan.n_cells())?;
        let op = &mut ws.op;
        transform_difference(plan, &self.cells.obs, observed, &sc.x_mean, op)?;
        let c = op.coeffs.as_slice();
        Ok(Some(MemberPart(
            sc.updated.iter().map(|&k| c[k as usize]).collect(),
        )))
    }

    /// Pass 2 for one member from its part (kept in pass 1) and the shared part
    /// ([`EnkfLikeGain::mean_innovation_part`]): x ← x + Z_AᵀE⁺C*(g ∘ (shared + part)),
    /// the update of [`EnkfLikeGain::update_member`] up to round-off, with one inverse
    /// transform and no forward one.
    pub fn update_member_from_part(
        &self,
        plan: &ImagePlan,
        shared: &MemberPart,
        part: &MemberPart,
        x: &mut [f64],
        ws: &mut Workspace,
    ) -> Result<(), ImageError> {
        self.update_from_part(plan, shared, part, x, ws)
    }

    /// [`EnkfLikeGain::update_member_from_part`] for several members (in order).
    pub fn update_members_from_parts<M: AsMut<[f64]>>(
        &self,
        plan: &ImagePlan,
        shared: &MemberPart,
        parts: &[MemberPart],
        members: &mut [M],
        ws: &mut Workspace,
    ) -> Result<(), ImageError> {
        if parts.len() != members.len() {
            return Err(ImageError::MemberCount {
                members: members.len(),
                images: parts.len(),
            });
        }
        for (x, part) in members.iter_mut().zip(parts) {
            self.update_from_part(plan, shared, part, x.as_mut(), ws)?;
        }
        Ok(())
    }

    /// One member from its part: the inverse transform takes g ∘ (shared + part) band by
    /// band, so no coefficient vector is written (the same bits as writing one).
    fn update_from_part(
        &self,
        plan: &ImagePlan,
        shared: &MemberPart,
        part: &MemberPart,
        x: &mut [f64],
        ws: &mut Workspace,
    ) -> Result<(), ImageError> {
        plan.check_len("member", x.len(), plan.n_cells())?;
        let up = match &self.shortcut {
            Some(sc) if shared.0.len() == sc.updated.len() && part.0.len() == sc.updated.len() => {
                &sc.updated
            }
            _ => {
                return Err(ImageError::SizeMismatch {
                    what: "member part",
                    expected: self.shortcut.as_ref().map_or(0, |s| s.updated.len()),
                    got: part.0.len(),
                })
            }
        };
        let op = &mut ws.op;
        let g = self.gain.as_slice();
        let source = |info: &BandInfo, slot: BandSlot<'_>| {
            let band = info.offset..info.offset + info.len();
            gained_band(up, (&shared.0, &part.0), g, band, slot);
        };
        plan.inverse_folded_from(&mut op.ext, &mut op.grid, &mut op.cw, source)?;
        divide_by_multiplicity(plan, &mut op.grid);
        for &i in self.cells.analysed.indices() {
            x[i as usize] += op.grid[i as usize];
        }
        Ok(())
    }

    /// Mean ensemble sd over the analysed cells of the members before the update; the
    /// per-cell sd stays in the workspace for [`EnkfLikeGain::finish`] (RTPS).
    pub fn prior_spread<M: AsRef<[f64]>>(&self, members: &[M], ws: &mut Workspace) -> f64 {
        cell_spread(members, &self.cells.analysed, &mut ws.cg[2])
    }

    /// After the update of every member: RTPS (with the sd kept by
    /// [`EnkfLikeGain::prior_spread`]) and the report.
    pub fn finish<M: AsRef<[f64]> + AsMut<[f64]>>(
        &self,
        plan: &ImagePlan,
        members: &mut [M],
        spread_before: f64,
        cfg: &EnkfLikeConfig,
        ws: &mut Workspace,
    ) -> EnkfLikeReport {
        let analysed = &self.cells.analysed;
        if cfg.rtps_alpha > 0.0 {
            rtps(members, analysed, &ws.cg[2], cfg.rtps_alpha);
        }
        let spread_after = cell_spread(members, analysed, &mut ws.cg[3]);
        EnkfLikeReport {
            members: members.len(),
            observed_cells: self.cells.obs.len(),
            kept_units: self.kept_units,
            total_units: plan.curvelet().layout().units,
            bands: self.bands.clone(),
            spread_before,
            spread_after,
        }
    }
}

/// One band (flat range `band`) of g ∘ (shared + part) into `slot`: zero off the updated
/// coefficients `up`, which index the two parts.
fn gained_band(
    up: &[u32],
    (shared, part): (&[f64], &[f64]),
    g: &[f64],
    band: Range<usize>,
    slot: BandSlot<'_>,
) {
    let (start, run) = (band.start, updated_within(up, band));
    let kept = up[run.clone()]
        .iter()
        .zip(&shared[run.clone()])
        .zip(&part[run]);
    let values = kept.map(|((&k, s), p)| (k as usize, (s + p) * g[k as usize]));
    match slot {
        BandSlot::Dense(v) => {
            v.fill(0.0);
            values.for_each(|(k, x)| v[k - start] = x);
        }
        BandSlot::Wedge { values: w, .. } => {
            w.fill(C64::new(0.0, 0.0));
            let n = w.len();
            for (k, x) in values {
                match k - start {
                    j if j < n => w[j].re = x,
                    j => w[j - n].im = x,
                }
            }
        }
    }
}

/// [`EnkfLikeGain::prior_spread`] before there is a gain, on the cells `analysed` flags:
/// the same value and per-cell sd (kept for [`EnkfLikeGain::finish`]). The root of a spread
/// analysis takes it while another rank chooses the mask.
pub fn prior_spread<M: AsRef<[f64]>>(analysed: &[bool], members: &[M], ws: &mut Workspace) -> f64 {
    cell_spread(members, &CellSet::from_mask(analysed), &mut ws.cg[2])
}

/// Ensemble sd per cell of `cells` into `sd` (sums in member order); returns its mean.
fn cell_spread<M: AsRef<[f64]>>(members: &[M], cells: &CellSet, sd: &mut [f64]) -> f64 {
    let n = members.len() as f64;
    let mut total = 0.0;
    // Blocks of cells, each member read in one stretch; per cell the same sums in the same
    // order as a loop over members (the mean goes through `sd` until the variance is done).
    let mut acc = [0.0; CELL_BLOCK];
    for block in cells.indices().chunks(CELL_BLOCK) {
        member_sums(members, block, &mut acc, |x, _| x);
        for (a, &c) in acc.iter().zip(block) {
            sd[c as usize] = a / n;
        }
        member_sums(members, block, &mut acc, |x, c| (x - sd[c]).powi(2));
        for (a, &c) in acc.iter().zip(block) {
            let var = a / (n - 1.0);
            sd[c as usize] = var.sqrt();
            total += sd[c as usize];
        }
    }
    total / cells.len().max(1) as f64
}

/// RTPS (Whitaker & Hamill 2012): scale each cell's analysis anomalies by
/// 1 + α(σ_b − σ_a)/σ_a, restoring part of the spread the update removed.
fn rtps<M: AsRef<[f64]> + AsMut<[f64]>>(
    members: &mut [M],
    cells: &CellSet,
    sd_b: &[f64],
    alpha: f64,
) {
    let n = members.len() as f64;
    for &c in cells.indices() {
        let c = c as usize;
        let mean = members.iter().map(|m| m.as_ref()[c]).sum::<f64>() / n;
        let var = members
            .iter()
            .map(|m| (m.as_ref()[c] - mean).powi(2))
            .sum::<f64>()
            / (n - 1.0);
        let sd_a = var.sqrt();
        if sd_a > 0.0 {
            let f = 1.0 + alpha * (sd_b[c] - sd_a) / sd_a;
            for m in members.iter_mut() {
                let x = &mut m.as_mut()[c];
                *x = mean + (*x - mean) * f;
            }
        }
    }
}

/// One EnKF-like analysis of the members' top field, in place: gain (pass 1), per-member
/// update (pass 2), optional RTPS. Cells off the analysed set are never written.
pub fn analyse_enkf_like<M, P>(
    plan: &ImagePlan,
    fields: &EnkfLikeFields<'_>,
    members: &mut [M],
    perturbed: &[P],
    cfg: &EnkfLikeConfig,
    ws: &mut Workspace,
) -> Result<EnkfLikeReport, ImageError>
where
    M: AsRef<[f64]> + AsMut<[f64]>,
    P: AsRef<[f64]>,
{
    let (gain, parts) =
        EnkfLikeGain::estimate_with_parts(plan, fields, members, perturbed, cfg, ws)?;
    // Pass 1 checked the ensemble.
    let ens = (members, perturbed);
    let report = pass2(
        &gain,
        parts.as_deref(),
        plan,
        fields.observed,
        ens,
        cfg,
        ws,
        true,
    );
    ws.recycle_parts(parts.unwrap_or_default());
    report
}

/// Pass 2, RTPS and the report with a gain already estimated from these members (so a
/// caller that also updates deeper layers estimates it once).
pub fn analyse_with_gain<M, P>(
    gain: &EnkfLikeGain,
    plan: &ImagePlan,
    observed: &[f64],
    members: &mut [M],
    perturbed: &[P],
    cfg: &EnkfLikeConfig,
    ws: &mut Workspace,
) -> Result<EnkfLikeReport, ImageError>
where
    M: AsRef<[f64]> + AsMut<[f64]>,
    P: AsRef<[f64]>,
{
    analyse_with_parts(gain, None, plan, observed, members, perturbed, cfg, ws)
}

/// [`analyse_with_gain`] with the members' parts from
/// [`EnkfLikeGain::estimate_with_parts`] (the same members, in the same order): pass 2 then
/// needs one inverse transform per member and no forward one. `None` updates directly.
#[allow(clippy::too_many_arguments)]
pub fn analyse_with_parts<M, P>(
    gain: &EnkfLikeGain,
    parts: Option<&[MemberPart]>,
    plan: &ImagePlan,
    observed: &[f64],
    members: &mut [M],
    perturbed: &[P],
    cfg: &EnkfLikeConfig,
    ws: &mut Workspace,
) -> Result<EnkfLikeReport, ImageError>
where
    M: AsRef<[f64]> + AsMut<[f64]>,
    P: AsRef<[f64]>,
{
    pass2(
        gain,
        parts,
        plan,
        observed,
        (members, perturbed),
        cfg,
        ws,
        false,
    )
}

/// [`analyse_with_parts`]; `checked`: pass 1 checked this ensemble already.
#[allow(clippy::too_many_arguments)]
fn pass2<M, P>(
    gain: &EnkfLikeGain,
    parts: Option<&[MemberPart]>,
    plan: &ImagePlan,
    observed: &[f64],
    (members, perturbed): (&mut [M], &[P]),
    cfg: &EnkfLikeConfig,
    ws: &mut Workspace,
    checked: bool,
) -> Result<EnkfLikeReport, ImageError>
where
    M: AsRef<[f64]> + AsMut<[f64]>,
    P: AsRef<[f64]>,
{
    let spread_before = gain.prior_spread(members, ws);
    match (parts, gain.mean_innovation_part(plan, observed, ws)?) {
        (Some(parts), Some(shared)) if parts.len() == members.len() => {
            if !checked {
                check_ensemble(plan, &gain.cells, members, perturbed)?;
            }
            gain.update_members_from_parts(plan, &shared, parts, members, ws)?
        }
        _ => gain.update_members(plan, observed, members, perturbed, ws)?,
    }
    Ok(gain.finish(plan, members, spread_before, cfg, ws))
}

/// Perturbed images f_i = f_o + σ_I(g_i − ḡ) from given standard-normal fields g_i (the
/// caller draws them from its keyed streams, optionally correlated). De-meaning over
/// members makes the perturbed images average exactly to f_o. Missing pixels stay missing.
pub fn perturbed_images<G: AsRef<[f64]>>(
    observed: &[f64],
    sigma_i: f64,
    normals: &[G],
) -> Result<Vec<Vec<f64>>, ImageError> {
    if normals.len() < 2 {
        return Err(ImageError::TooFewMembers(normals.len()));
    }
    if !(sigma_i.is_finite() && sigma_i >= 0.0) {
        return Err(ImageError::BadParameter {
            what: "sigma_i",
            value: sigma_i,
            why: "must be ≥ 0 and finite",
        });
    }
    let n = observed.len();
    if let Some(g) = normals.iter().find(|g| g.as_ref().len() != n) {
        return Err(ImageError::SizeMismatch {
            what: "standard-normal field",
            expected: n,
            got: g.as_ref().len(),
        });
    }
    let inv = 1.0 / normals.len() as f64;
    let mean: Vec<f64> = (0..n)
        .map(|c| normals.iter().map(|g| g.as_ref()[c]).sum::<f64>() * inv)
        .collect();
    Ok(normals
        .iter()
        .map(|g| {
            let g = g.as_ref();
            (0..n)
                .map(|c| observed[c] + sigma_i * (g[c] - mean[c]))
                .collect()
        })
        .collect())
}
