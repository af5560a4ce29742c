//! The EnKF-like analysis, first half (IMAGE.md §4): inputs, checks and the gain
//! g_k = b_k/(b_k + r_k) per curvelet coefficient of the extended grid, with b_k from the
//! members' anomaly coefficients and r_k from the perturbed images' coefficients. All
//! sums run over members in member order, so results do not depend on who computes them.

use crate::da::curvelet::{Coefficients, CurveletError, ThresholdMask};

use super::cells::CellSet;
use super::plan::{ImagePlan, OpScratch, Workspace};
use super::ImageError;

/// Which coefficients are updated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum UpdateCoefficients {
    /// Only those kept by the observed image's mask (coarsest band always).
    #[default]
    Masked,
    /// Every coefficient.
    All,
}

/// Settings of one EnKF-like analysis.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EnkfLikeConfig {
    /// α_b: multiplies every b_k (multiplicative inflation of the background variance).
    pub b_inflation: f64,
    /// Masked or all coefficients.
    pub update: UpdateCoefficients,
    /// Upper bound on every gain (None: no cap).
    pub max_gain: Option<f64>,
    /// RTPS α ∈ [0, 1]: relax the analysis spread per cell back towards the background's.
    pub rtps_alpha: f64,
}

impl Default for EnkfLikeConfig {
    fn default() -> Self {
        Self {
            b_inflation: 1.0,
            update: UpdateCoefficients::Masked,
            max_gain: None,
            rtps_alpha: 0.0,
        }
    }
}

/// The fields shared by all members, row-major `ny × nx`.
#[derive(Clone, Copy, Debug)]
pub struct EnkfLikeFields<'a> {
    /// f_o; a non-finite pixel is missing.
    pub observed: &'a [f64],
    /// Land cells L (where members hold values).
    pub land: &'a [bool],
    /// Cells that may receive an increment (land passing model QC), A ⊆ L.
    pub analysed: &'a [bool],
}

/// Per-band summary of b, r and the gain (diagnostics).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BandStats {
    /// Scale (0 = coarsest).
    pub scale: usize,
    /// Angle within the scale.
    pub angle: usize,
    /// Mean b_k over the band (units²).
    pub mean_b: f64,
    /// Mean r_k over the band (units²).
    pub mean_r: f64,
    /// Mean gain over the updated coefficients of the band (0 if none).
    pub mean_gain: f64,
    /// Updated real coefficients.
    pub updated: usize,
}

/// The cell sets of one EnKF-like analysis.
#[derive(Clone, Debug)]
pub(super) struct EnkfCells {
    pub land: CellSet,
    /// V: analysed cells with an observed pixel (innovations live here).
    pub obs: CellSet,
    pub analysed: CellSet,
}

/// The gain per coefficient with the cell sets it belongs to: the operator
/// G = Z_AᵀE⁺C* diag(g) C E Z_V.
#[derive(Clone, Debug)]
pub struct EnkfLikeGain {
    pub(super) gain: Coefficients,
    pub(super) cells: EnkfCells,
    pub(super) bands: Vec<BandStats>,
    pub(super) kept_units: usize,
    // α_b/((N − 1)(b_k + r_k)) on updated coefficients, 0 elsewhere: turns summed
    // cross-products into deep-layer gains. Empty for a uniform gain.
    pub(super) cross_factor: Vec<f64>,
    // The pass-2 shortcut of pass 1's coefficients (`MemberPart`), when V = L.
    pub(super) shortcut: Option<Shortcut>,
}

/// What pass 2 needs to update members from their [`MemberPart`]s: the updated
/// coefficients and x̄ (for the shared part C E Z_V(f_o − x̄)).
#[derive(Clone, Debug)]
pub(super) struct Shortcut {
    pub updated: Vec<u32>,
    pub x_mean: Vec<f64>,
}

/// One member's share of its perturbed innovation coefficients, p_i − a_i on the updated
/// coefficients (p_i = C E Z_V ε_i, a_i = C E Z_L(x_i − x̄)), kept from pass 1. When every
/// land cell is observed and analysed (V = L), linearity gives
/// e_i = C E Z_V(f_o + ε_i − x_i) = C E Z_V(f_o − x̄) + p_i − a_i, so pass 2 needs one
/// shared forward transform instead of one per member (equal up to round-off).
#[derive(Clone, Debug, Default)]
pub struct MemberPart(pub(super) Vec<f64>);

/// The positions in `up` (sorted updated coefficients, which index a [`MemberPart`]) of
/// the coefficients in the flat range `band`: a run, since `up` is sorted.
pub(super) fn updated_within(up: &[u32], band: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let at = |i: usize| up.partition_point(|&k| (k as usize) < i);
    at(band.start)..at(band.end)
}

pub(super) fn resolve_cells(
    plan: &ImagePlan,
    f: &EnkfLikeFields<'_>,
) -> Result<EnkfCells, ImageError> {
    let n = plan.n_cells();
    plan.check_len("observed image", f.observed.len(), n)?;
    plan.check_len("land mask", f.land.len(), n)?;
    plan.check_len("analysed mask", f.analysed.len(), n)?;
    if let Some(cell) = (0..n).find(|&i| f.analysed[i] && !f.land[i]) {
        return Err(ImageError::AnalysedOffLand { cell });
    }
    let v: Vec<bool> = (0..n)
        .map(|i| f.analysed[i] && f.observed[i].is_finite())
        .collect();
    Ok(EnkfCells {
        land: CellSet::from_mask(f.land),
        obs: CellSet::from_mask(&v),
        analysed: CellSet::from_mask(f.analysed),
    })
}

/// Members and perturbed images: equal counts ≥ 2, each of the grid's size, finite where read.
pub(super) fn check_ensemble<M: AsRef<[f64]>, P: AsRef<[f64]>>(
    plan: &ImagePlan,
    cells: &EnkfCells,
    members: &[M],
    perturbed: &[P],
) -> Result<(), ImageError> {
    check_shapes(plan, members, perturbed)?;
    check_values(plan, cells, members, perturbed)
}

/// Members finite on land and perturbed images finite on V (shapes already checked): the
/// first value that is not, member by member, then image by image.
fn check_values<M: AsRef<[f64]>, P: AsRef<[f64]>>(
    plan: &ImagePlan,
    cells: &EnkfCells,
    members: &[M],
    perturbed: &[P],
) -> Result<(), ImageError> {
    for m in members {
        finite_on(plan, "member", m.as_ref(), &cells.land)?;
    }
    for p in perturbed {
        finite_on(plan, "perturbed image", p.as_ref(), &cells.obs)?;
    }
    Ok(())
}

/// Equal member and image counts ≥ 2, each field of the grid's size.
fn check_shapes<M: AsRef<[f64]>, P: AsRef<[f64]>>(
    plan: &ImagePlan,
    members: &[M],
    perturbed: &[P],
) -> Result<(), ImageError> {
    if members.len() < 2 {
        return Err(ImageError::TooFewMembers(members.len()));
    }
    if perturbed.len() != members.len() {
        return Err(ImageError::MemberCount {
            members: members.len(),
            images: perturbed.len(),
        });
    }
    for m in members {
        plan.check_len("member", m.as_ref().len(), plan.n_cells())?;
    }
    for p in perturbed {
        plan.check_len("perturbed image", p.as_ref().len(), plan.n_cells())?;
    }
    Ok(())
}

/// x̄ on land and f̄ on V (member order) with the checks of [`check_ensemble`]: shapes
/// first, values ([`check_values`]) only if a mean is not finite (a non-finite value always makes its cell's
/// sum non-finite), so a valid ensemble is read once; the error is the one the check gives.
pub(super) fn checked_means<M: AsRef<[f64]>, P: AsRef<[f64]>>(
    plan: &ImagePlan,
    cells: &EnkfCells,
    (members, perturbed): (&[M], &[P]),
    x_mean: &mut [f64],
    f_mean: &mut [f64],
) -> Result<(), ImageError> {
    check_shapes(plan, members, perturbed)?;
    member_mean(members, &cells.land, x_mean);
    member_mean(perturbed, &cells.obs, f_mean);
    let bad = |v: &[f64], s: &CellSet| s.indices().iter().any(|&c| !v[c as usize].is_finite());
    if bad(x_mean, &cells.land) || bad(f_mean, &cells.obs) {
        check_values(plan, cells, members, perturbed)?;
    }
    Ok(())
}

/// `x` (of the grid's size) finite on `cells`, else the first cell where it is not.
fn finite_on(
    plan: &ImagePlan,
    what: &'static str,
    x: &[f64],
    cells: &CellSet,
) -> Result<(), ImageError> {
    match cells
        .indices()
        .iter()
        .find(|&&c| !x[c as usize].is_finite())
    {
        None => Ok(()),
        Some(&c) => Err(ImageError::NonFinite {
            what,
            cell: c as usize,
            row: c as usize / plan.nx(),
            col: c as usize % plan.nx(),
        }),
    }
}

/// Cells per block of the member sums: each member's values of a block are read in one
/// stretch (instead of one value from every member per cell).
pub(super) const CELL_BLOCK: usize = 512;

/// Σ over members of `f(member value, cell)` for each cell of `block`, in member order from
/// the empty sum (the bits of `.map(..).sum::<f64>()` per cell), into `acc`.
pub(super) fn member_sums<M: AsRef<[f64]>>(
    members: &[M],
    block: &[u32],
    acc: &mut [f64],
    f: impl Fn(f64, usize) -> f64,
) {
    let acc = &mut acc[..block.len()];
    acc.fill(std::iter::empty::<f64>().sum());
    for m in members {
        let m = m.as_ref();
        for (a, &c) in acc.iter_mut().zip(block) {
            *a += f(m[c as usize], c as usize);
        }
    }
}

/// `out` = mean over members on `cells` (member order); other cells untouched.
pub(super) fn member_mean<M: AsRef<[f64]>>(members: &[M], cells: &CellSet, out: &mut [f64]) {
    let inv = 1.0 / members.len() as f64;
    let mut acc = [0.0; CELL_BLOCK];
    for block in cells.indices().chunks(CELL_BLOCK) {
        member_sums(members, block, &mut acc, |x, _| x);
        for (a, &c) in acc.iter().zip(block) {
            out[c as usize] = a * inv;
        }
    }
}

/// Check the ensemble and take the member means x̄ (on land) and f̄ (on V), as
/// [`EnkfLikeSetup::compute_means`] does, without a mask: what the root of a spread analysis
/// does while another process chooses the mask.
pub fn ensemble_means<M: AsRef<[f64]>, P: AsRef<[f64]>>(
    plan: &ImagePlan,
    fields: &EnkfLikeFields<'_>,
    members: &[M],
    perturbed: &[P],
) -> Result<(Vec<f64>, Vec<f64>), ImageError> {
    let cells = resolve_cells(plan, fields)?;
    let n = plan.n_cells();
    let (mut x_mean, mut f_mean) = (vec![0.0; n], vec![0.0; n]);
    checked_means(plan, &cells, (members, perturbed), &mut x_mean, &mut f_mean)?;
    Ok((x_mean, f_mean))
}

/// op.coeffs = C E Z_S (a − b) on the cell set S.
pub(super) fn transform_difference(
    plan: &ImagePlan,
    cells: &CellSet,
    a: &[f64],
    b: &[f64],
    op: &mut OpScratch,
) -> Result<(), ImageError> {
    difference_into(cells, a, b, &mut op.grid);
    plan.extend_into(&op.grid, &mut op.ext)?;
    plan.forward_extended(&op.ext, &mut op.coeffs, &mut op.cw)?;
    Ok(())
}

/// grid = Z_S (a − b): a − b on the cell set S, 0 elsewhere.
pub(super) fn difference_into(cells: &CellSet, a: &[f64], b: &[f64], grid: &mut [f64]) {
    grid.fill(0.0);
    for &c in cells.indices() {
        let c = c as usize;
        grid[c] = a[c] - b[c];
    }
}

/// acc_k += c_k² for every coefficient: the per-member term of b_k and r_k. Callers that
/// split the coefficients between ranks add their slice of every member in member order,
/// which gives the same bits as one process adding whole members in member order.
pub fn accumulate_squares(acc: &mut [f64], c: &[f64]) {
    for (a, v) in acc.iter_mut().zip(c) {
        *a += v * v;
    }
}

/// Everything pass 1 needs before a member is transformed: the cell sets, the observed
/// image's mask and the member means x̄ (on land) and f̄ (on V). Built on every process that
/// transforms members (the mask is deterministic, so each builds the same one).
pub struct EnkfLikeSetup {
    pub(super) cells: EnkfCells,
    pub(super) mask: ThresholdMask,
    pub(super) x_mean: Vec<f64>,
    pub(super) f_mean: Vec<f64>,
    // Updated coefficients when V = L (member parts usable), else None.
    pub(super) updated: Option<Vec<u32>>,
}

impl EnkfLikeSetup {
    /// Check the settings and fields, choose the mask on the observed image.
    pub fn new(
        plan: &ImagePlan,
        fields: &EnkfLikeFields<'_>,
        cfg: &EnkfLikeConfig,
        ws: &mut Workspace,
    ) -> Result<Self, ImageError> {
        check_config(cfg)?;
        let cells = resolve_cells(plan, fields)?;
        let mask = plan.observation_mask(fields.observed, ws)?;
        Ok(Self::build(plan, cells, mask, cfg))
    }

    /// [`EnkfLikeSetup::new`] with the observed image's mask chosen elsewhere (by another
    /// process, from the same image: [`ImagePlan::observation_mask`]).
    pub fn with_mask(
        plan: &ImagePlan,
        fields: &EnkfLikeFields<'_>,
        cfg: &EnkfLikeConfig,
        mask: ThresholdMask,
    ) -> Result<Self, ImageError> {
        check_config(cfg)?;
        let cells = resolve_cells(plan, fields)?;
        if **mask.layout() != **plan.curvelet().layout() {
            return Err(ImageError::Curvelet(CurveletError::MaskMismatch));
        }
        Ok(Self::build(plan, cells, mask, cfg))
    }

    fn build(
        plan: &ImagePlan,
        cells: EnkfCells,
        mask: ThresholdMask,
        cfg: &EnkfLikeConfig,
    ) -> Self {
        let n = plan.n_cells();
        let updated = (cells.obs.indices() == cells.land.indices()).then(|| match cfg.update {
            UpdateCoefficients::Masked => mask.kept_indices().to_vec(),
            UpdateCoefficients::All => (0..mask.keep().len() as u32).collect(),
        });
        Self {
            cells,
            mask,
            x_mean: vec![0.0; n],
            f_mean: vec![0.0; n],
            updated,
        }
    }

    /// Whether members' [`MemberPart`]s can be kept (V = L): then pass 2 updates members
    /// with [`EnkfLikeGain::update_member_from_part`] and no forward transform per member.
    pub fn keeps_parts(&self) -> bool {
        self.updated.is_some()
    }

    /// Start member i's part from its anomaly coefficients a_i (call before
    /// [`EnkfLikeSetup::finish_part`]); nothing without [`EnkfLikeSetup::keeps_parts`].
    pub fn start_part(&self, a: &[f64], part: &mut MemberPart) {
        if let Some(up) = &self.updated {
            part.0.clear();
            crate::da::huge_pages::reserve_huge(&mut part.0, up.len());
            part.0.extend(up.iter().map(|&k| a[k as usize]));
        }
    }

    /// Finish member i's part with its perturbation coefficients p_i: p_i − a_i.
    pub fn finish_part(&self, p: &[f64], part: &mut MemberPart) {
        if let Some(up) = &self.updated {
            for (v, &k) in part.0.iter_mut().zip(up) {
                *v = p[k as usize] - *v;
            }
        }
    }

    /// Check the members and perturbed images ([`check_ensemble`]) and take x̄ and f̄ from
    /// all members (member order).
    pub fn checked_means<M: AsRef<[f64]>, P: AsRef<[f64]>>(
        &mut self,
        plan: &ImagePlan,
        members: &[M],
        perturbed: &[P],
    ) -> Result<(), ImageError> {
        let (xm, fm) = (&mut self.x_mean, &mut self.f_mean);
        checked_means(plan, &self.cells, (members, perturbed), xm, fm)
    }

    /// x̄ and f̄ as computed elsewhere (grid-sized; read on land and on V).
    pub fn set_means(&mut self, x_mean: &[f64], f_mean: &[f64]) -> Result<(), ImageError> {
        let n = self.x_mean.len();
        if x_mean.len() != n || f_mean.len() != n {
            return Err(ImageError::SizeMismatch {
                what: "member means",
                expected: n,
                got: x_mean.len().min(f_mean.len()),
            });
        }
        self.x_mean.copy_from_slice(x_mean);
        self.f_mean.copy_from_slice(f_mean);
        Ok(())
    }

    /// (x̄, f̄).
    pub fn means(&self) -> (&[f64], &[f64]) {
        (&self.x_mean, &self.f_mean)
    }

    /// a_i = C E Z_L(x_i − x̄), borrowed from the workspace until its next use.
    pub fn anomaly_coefficients<'w>(
        &self,
        plan: &ImagePlan,
        x: &[f64],
        ws: &'w mut Workspace,
    ) -> Result<&'w [f64], ImageError> {
        plan.check_len("member", x.len(), plan.n_cells())?;
        transform_difference(plan, &self.cells.land, x, &self.x_mean, &mut ws.op)?;
        Ok(ws.op.coeffs.as_slice())
    }

    /// C E Z_V(f_i − f̄), borrowed from the workspace until its next use.
    pub fn perturbation_coefficients<'w>(
        &self,
        plan: &ImagePlan,
        f: &[f64],
        ws: &'w mut Workspace,
    ) -> Result<&'w [f64], ImageError> {
        plan.check_len("perturbed image", f.len(), plan.n_cells())?;
        transform_difference(plan, &self.cells.obs, f, &self.f_mean, &mut ws.op)?;
        Ok(ws.op.coeffs.as_slice())
    }
}

impl EnkfLikeGain {
    /// Pass 1: b_k = α_b Σ_i a_ik²/(N − 1), a_i = C E Z_L(x_i − x̄), and
    /// r_k = Σ_i (C E Z_V ε_i)_k²/(N − 1), ε_i = f_i − f̄ (the perturbed images, de-meaned
    /// over members); then the gain on the updated coefficients.
    pub fn estimate<M: AsRef<[f64]>, P: AsRef<[f64]>>(
        plan: &ImagePlan,
        fields: &EnkfLikeFields<'_>,
        members: &[M],
        perturbed: &[P],
        cfg: &EnkfLikeConfig,
        ws: &mut Workspace,
    ) -> Result<Self, ImageError> {
        Self::estimate_pass1(plan, fields, members, perturbed, cfg, ws, false).map(|g| g.0)
    }

    /// Pass 1 as [`EnkfLikeGain::estimate`], also keeping each member's [`MemberPart`]
    /// when V = L (else `None`); for [`super::analyse_with_parts`].
    pub fn estimate_with_parts<M: AsRef<[f64]>, P: AsRef<[f64]>>(
        plan: &ImagePlan,
        fields: &EnkfLikeFields<'_>,
        members: &[M],
        perturbed: &[P],
        cfg: &EnkfLikeConfig,
        ws: &mut Workspace,
    ) -> Result<(Self, Option<Vec<MemberPart>>), ImageError> {
        Self::estimate_pass1(plan, fields, members, perturbed, cfg, ws, true)
    }

    fn estimate_pass1<M: AsRef<[f64]>, P: AsRef<[f64]>>(
        plan: &ImagePlan,
        fields: &EnkfLikeFields<'_>,
        members: &[M],
        perturbed: &[P],
        cfg: &EnkfLikeConfig,
        ws: &mut Workspace,
        keep_parts: bool,
    ) -> Result<(Self, Option<Vec<MemberPart>>), ImageError> {
        let mut setup = EnkfLikeSetup::new(plan, fields, cfg, ws)?;
        setup.checked_means(plan, members, perturbed)?;
        let mut b = plan.curvelet().new_coefficients();
        // r is summed in the workspace's kept-coefficient buffer (as long as a layout).
        let mut r = std::mem::take(&mut ws.op.kept);
        let total = b.len();
        r[..total].fill(0.0);
        let sums = (b.as_mut_slice(), &mut r[..total]);
        let parts = setup.add_members(plan, (members, perturbed), sums, keep_parts, ws);
        let gain = parts.map(|p| {
            let gain = Self::from_sums(setup, b, &mut r[..total], members.len(), cfg);
            (gain, p)
        });
        ws.op.kept = r;
        gain
    }

    /// The gain from the summed squares Σ_i a_ik² (`b_sum`, turned into the gain in place)
    /// and Σ_i e_ik² (`r_sum`, scaled to r_k in place) of `n_members` members.
    pub fn from_sums(
        setup: EnkfLikeSetup,
        mut b_sum: Coefficients,
        r_sum: &mut [f64],
        n_members: usize,
        cfg: &EnkfLikeConfig,
    ) -> Self {
        let n1 = (n_members.max(2) - 1) as f64;
        b_sum
            .as_mut_slice()
            .iter_mut()
            .for_each(|v| *v *= cfg.b_inflation / n1);
        r_sum.iter_mut().for_each(|v| *v /= n1);
        let cross_factor = cross_factors(b_sum.as_slice(), r_sum, &setup.mask, cfg, n1);
        let bands = finalize_gain(&mut b_sum, r_sum, &setup.mask, cfg);
        let shortcut = setup.updated.map(|updated| Shortcut {
            updated,
            x_mean: setup.x_mean,
        });
        Self {
            gain: b_sum,
            cells: setup.cells,
            bands,
            kept_units: setup.mask.kept_units(),
            cross_factor,
            shortcut,
        }
    }

    /// A gain g on every coefficient (the H = I, 1-D EnKF limit; also a test oracle).
    pub fn uniform(
        plan: &ImagePlan,
        fields: &EnkfLikeFields<'_>,
        g: f64,
    ) -> Result<Self, ImageError> {
        let cells = resolve_cells(plan, fields)?;
        let mut gain = plan.curvelet().new_coefficients();
        gain.as_mut_slice().fill(g);
        Ok(Self {
            gain,
            cells,
            bands: Vec::new(),
            kept_units: plan.curvelet().layout().units,
            cross_factor: Vec::new(),
            shortcut: None,
        })
    }

    /// The gain per real coefficient (extended-grid layout).
    pub fn gain(&self) -> &Coefficients {
        &self.gain
    }
    /// Per-band b, r and gain summaries (empty for [`EnkfLikeGain::uniform`]).
    pub fn band_stats(&self) -> &[BandStats] {
        &self.bands
    }
    /// Kept units of the observed image's mask.
    pub fn kept_units(&self) -> usize {
        self.kept_units
    }
}

fn check_config(cfg: &EnkfLikeConfig) -> Result<(), ImageError> {
    let bad = |what, value, why| Err(ImageError::BadParameter { what, value, why });
    if !(cfg.b_inflation.is_finite() && cfg.b_inflation > 0.0) {
        return bad(
            "b_inflation",
            cfg.b_inflation,
            "must be positive and finite",
        );
    }
    if !(0.0..=1.0).contains(&cfg.rtps_alpha) {
        return bad("rtps_alpha", cfg.rtps_alpha, "must lie in [0, 1]");
    }
    match cfg.max_gain {
        Some(g) if !(g.is_finite() && g >= 0.0) => bad("max_gain", g, "must be ≥ 0 and finite"),
        _ => Ok(()),
    }
}

/// α_b/((N − 1)(b_k + r_k)) where the coefficient is updated (b already holds α_b Σa²/(N − 1)).
fn cross_factors(
    b: &[f64],
    r: &[f64],
    mask: &ThresholdMask,
    cfg: &EnkfLikeConfig,
    n1: f64,
) -> Vec<f64> {
    let keep = mask.keep();
    (0..b.len())
        .map(|k| {
            let updated = cfg.update == UpdateCoefficients::All || keep[k];
            if updated && b[k] + r[k] > 0.0 {
                cfg.b_inflation / (n1 * (b[k] + r[k]))
            } else {
                0.0
            }
        })
        .collect()
}

/// Turn b (in place) into the gain; summarise b, r and g per band on the way.
fn finalize_gain(
    b: &mut Coefficients,
    r: &[f64],
    mask: &ThresholdMask,
    cfg: &EnkfLikeConfig,
) -> Vec<BandStats> {
    let layout = b.layout().clone();
    let keep = mask.keep();
    let cap = cfg.max_gain.unwrap_or(f64::INFINITY);
    let g = b.as_mut_slice();
    let mut out = Vec::with_capacity(layout.bands.len());
    for info in &layout.bands {
        let range = info.offset..info.offset + info.len();
        let (mut sb, mut sr, mut sg, mut nu) = (0.0, 0.0, 0.0, 0usize);
        for k in range.clone() {
            let (bk, rk) = (g[k], r[k]);
            sb += bk;
            sr += rk;
            let updated = cfg.update == UpdateCoefficients::All || keep[k];
            g[k] = if updated && bk + rk > 0.0 {
                (bk / (bk + rk)).min(cap)
            } else {
                0.0
            };
            if updated {
                sg += g[k];
                nu += 1;
            }
        }
        let len = range.len().max(1) as f64;
        out.push(BandStats {
            scale: info.scale,
            angle: info.angle,
            mean_b: sb / len,
            mean_r: sr / len,
            mean_gain: if nu > 0 { sg / nu as f64 } else { 0.0 },
            updated: nu,
        });
    }
    out
}
