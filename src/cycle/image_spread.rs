//! The EnKF-like analysis with its members spread over the ranks (IMAGE.md §7). The root
//! holds the gathered ensemble; members go in blocks of [`MEMBER_BLOCK`], block j to rank
//! j mod P, which transforms and updates them. The per-coefficient sums Σ_i a_ik² and
//! Σ_i e_ik² are made on the rank owning coefficient slice k: in round j ranks 0..P sum
//! blocks jP..jP+P−1 on their own (`da::image` pass 1, nothing coefficient-sized stored per
//! member), send every owner its slice of the block sums, and the owner adds them in rank
//! order, i.e. in block order, which is the order one process adds them in. Every
//! coefficient therefore sees the same additions in the same order on any number of ranks,
//! so the gain, the members and everything after are bit-identical. No `allreduce` touches
//! member sums.

use super::error::{agree, CycleError};
use super::image_members::{owned, owner, Transit};
use crate::da::curvelet::{Coefficients, SumInto, ThresholdMask};
use crate::da::image::{
    ensemble_means, prior_spread, BlockSums, EnkfLikeConfig, EnkfLikeFields, EnkfLikeGain,
    EnkfLikeReport, EnkfLikeSetup, ImageError, ImagePlan, MemberPart, Workspace, MEMBER_BLOCK,
};
use crate::parallel::Communicator;

/// The root's side of one spread analysis.
pub struct RootEnsemble<'a> {
    pub fields: EnkfLikeFields<'a>,
    /// The layer's members (full grids), updated in place.
    pub members: &'a mut [Vec<f64>],
    /// Perturbed images, one per member.
    pub perturbed: &'a [Vec<f64>],
}

fn image_err(what: &str) -> impl Fn(crate::da::image::ImageError) -> CycleError + '_ {
    move |e| CycleError::Invalid(format!("{what}: {e}"))
}

/// Broadcast `v` (read on the root) to every rank.
fn broadcast_f64(comm: &dyn Communicator, v: Option<Vec<f64>>) -> Vec<f64> {
    let mut buf = v.unwrap_or_default();
    comm.broadcast_f64(&mut buf, 0);
    buf
}

/// Broadcast flags (read on the root) to every rank, a byte each.
fn broadcast_flags(comm: &dyn Communicator, v: Option<Vec<bool>>) -> Vec<bool> {
    let mut bytes: Vec<u8> = v.unwrap_or_default().into_iter().map(u8::from).collect();
    comm.broadcast_bytes(&mut bytes, 0);
    bytes.into_iter().map(|b| b == 1).collect()
}

/// Contiguous slice of `total` coefficients owned by rank `r` of `p`.
fn slice_of(total: usize, r: usize, p: usize) -> std::ops::Range<usize> {
    r * total / p..(r + 1) * total / p
}

/// One EnKF-like analysis with members spread over the ranks. Collective. The root passes
/// its ensemble and gets its members updated (with RTPS) and the report; every rank gets
/// the gain (the root uses it for deeper layers).
pub fn enkf_like_spread(
    comm: &dyn Communicator,
    plan: &ImagePlan,
    ws: &mut Workspace,
    mut root: Option<RootEnsemble<'_>>,
    cfg: &EnkfLikeConfig,
) -> Result<(EnkfLikeGain, Option<EnkfLikeReport>), CycleError> {
    let p = comm.size();
    let n_cells = plan.n_cells();
    let (n, head, land, analysed) = broadcast_fields(comm, n_cells, root.as_ref())?;
    let observed = &head[1..1 + n_cells];
    let fields = EnkfLikeFields {
        observed,
        land: &land,
        analysed: &analysed,
    };
    let transit = Transit::new(&land, &analysed);
    let (setup, means, packed, spread_before) =
        agreed_setup(comm, (plan, ws), (&root, &transit), &fields, cfg)?;
    // This rank's members: the root's stay in its ensemble, the others arrive as
    // (member, perturbed image) pairs of full grids.
    let mut grids = transit.distribute(comm, packed, n)?;
    let (xs, fs): (Vec<&[f64]>, Vec<&[f64]>) = match &root {
        Some(re) => owned(n, 0, p)
            .map(|i| (re.members[i].as_slice(), re.perturbed[i].as_slice()))
            .unzip(),
        None => grids
            .chunks_exact(2 * n_cells)
            .map(|pair| pair.split_at(n_cells))
            .unzip(),
    };
    let (b, r, parts) = slice_sums(comm, plan, ws, &setup, (&xs, &fs), n)?;
    drop((xs, fs));
    let (b, mut full_r) = gathered_sums(comm, plan, b, r)?;
    let f_mean = means[n_cells..].to_vec();
    let gain = EnkfLikeGain::from_sums(setup, b, &mut full_r, n, cfg);
    let mut theirs: Vec<(&mut [f64], &[f64])> = grids
        .chunks_exact_mut(2 * n_cells)
        .map(|pair| {
            let (x, f) = pair.split_at_mut(n_cells);
            (x, &*f)
        })
        .collect();
    let updated = update_mine(
        (&gain, plan, ws),
        (observed, &f_mean),
        root.as_mut(),
        &mut theirs,
        parts.as_deref(),
        p,
    );
    ws.recycle_parts(parts.unwrap_or_default());
    agree(comm, updated.map_err(image_err("EnKF-like update")))?;
    drop(theirs);
    let back = transit.collect(comm, grids, n)?;
    let report = match (root, back) {
        (Some(r), Some(back)) => {
            transit.return_members(r.members, &back, p);
            Some(gain.finish(plan, r.members, spread_before.unwrap_or(0.0), cfg, ws))
        }
        _ => None,
    };
    Ok((gain, report))
}

/// Member count, broadcast values (the observed image at `1..1 + n_cells`), land and
/// analysed flags.
type BroadcastFields = (usize, Vec<f64>, Vec<bool>, Vec<bool>);

/// The root's members for the other ranks in one buffer, and the values per rank.
type Packed = (Vec<f64>, Vec<usize>);

/// The set-up, the member means (x̄ then f̄), the packed members and (root) the members'
/// spread before the update.
type AgreedSetup = (EnkfLikeSetup, Vec<f64>, Packed, Option<f64>);

/// The root's member count, observed image and land/analysed flags, on every rank: the
/// broadcast values (the observed image at `1..1 + n_cells`) and the two flag sets.
fn broadcast_fields(
    comm: &dyn Communicator,
    n_cells: usize,
    root: Option<&RootEnsemble<'_>>,
) -> Result<BroadcastFields, CycleError> {
    let head = root.map(|r| [&[r.members.len() as f64], r.fields.observed].concat());
    let head = broadcast_f64(comm, head);
    let flags = root.map(|r| [r.fields.land, r.fields.analysed].concat());
    let mut land = broadcast_flags(comm, flags);
    let n = head.first().map_or(0, |&x| x as usize);
    if head.len() != 1 + n_cells || land.len() != 2 * n_cells {
        return Err(CycleError::Invalid(format!(
            "image analysis: {} broadcast values and {} flags for {n_cells} cells",
            head.len().saturating_sub(1),
            land.len()
        )));
    }
    let analysed = land.split_off(n_cells);
    Ok((n, head, land, analysed))
}

/// The agreed analysis set-up on every rank, the member means (x̄ then f̄), the root's
/// packed members for the other ranks and its members' spread. Rank 1 chooses the mask
/// while the root checks the ensemble, takes the means and the spread, and packs (on one
/// rank the root does all of it).
fn agreed_setup(
    comm: &dyn Communicator,
    (plan, ws): (&ImagePlan, &mut Workspace),
    (root, transit): (&Option<RootEnsemble<'_>>, &Transit),
    fields: &EnkfLikeFields<'_>,
    cfg: &EnkfLikeConfig,
) -> Result<AgreedSetup, CycleError> {
    let (p, n_cells, observed) = (comm.size(), plan.n_cells(), fields.observed);
    let mask_rank = usize::from(p > 1);
    let gain_err = image_err("EnKF-like gain");
    let mask = (comm.rank() == mask_rank).then(|| plan.observation_mask(observed, ws));
    let pre = root
        .as_ref()
        .map(|r| ensemble_means(plan, fields, r.members, r.perturbed));
    // The spread is taken here, while rank 1 is still choosing the mask.
    let (packed, spread_before) = match (&root, &pre) {
        (Some(r), Some(Ok(_))) => (
            transit.pack((r.members, r.perturbed), p),
            Some(prior_spread(fields.analysed, r.members, ws)),
        ),
        _ => ((Vec::new(), vec![0; p]), None),
    };
    let mask = agree(comm, mask.transpose().map_err(&gain_err))?;
    let pre = agree(comm, pre.transpose().map_err(&gain_err))?;
    let means = broadcast_f64(comm, pre.map(|(xm, fm)| [xm, fm].concat()));
    if means.len() != 2 * n_cells {
        return Err(CycleError::Invalid(
            "image analysis: member means lost".into(),
        ));
    }
    let mut bytes = Vec::new();
    if p > 1 {
        bytes = mask
            .as_ref()
            .map(ThresholdMask::to_bytes)
            .unwrap_or_default();
        comm.broadcast_bytes(&mut bytes, mask_rank);
    }
    let layout = plan.curvelet().layout().clone();
    let setup = match mask {
        Some(m) => Ok(m),
        None => ThresholdMask::from_bytes(layout, &bytes).map_err(ImageError::from),
    }
    .and_then(|m| EnkfLikeSetup::with_mask(plan, fields, cfg, m))
    .and_then(|mut s| {
        s.set_means(&means[..n_cells], &means[n_cells..])?;
        Ok(s)
    });
    drop(bytes);
    let setup = agree(comm, setup.map_err(&gain_err))?;
    Ok((setup, means, packed, spread_before))
}

/// Every rank's slices of the per-coefficient sums joined: b as coefficients, r as values.
fn gathered_sums(
    comm: &dyn Communicator,
    plan: &ImagePlan,
    b: Vec<f64>,
    r: Vec<f64>,
) -> Result<(Coefficients, Vec<f64>), CycleError> {
    let total = plan.curvelet().layout().total;
    let (mut full_b, mut full_r) = (Vec::new(), Vec::new());
    comm.allgatherv_flat_f64(&b, &mut full_b);
    comm.allgatherv_flat_f64(&r, &mut full_r);
    drop((b, r));
    if full_b.len() != total || full_r.len() != total {
        return Err(CycleError::Invalid(
            "image analysis: coefficient sums lost".into(),
        ));
    }
    let b = Coefficients::from_vec(plan.curvelet().layout().clone(), full_b)
        .map_err(|e| CycleError::Invalid(format!("image analysis: {e}")))?;
    Ok((b, full_r))
}

/// Pass 2 on this rank's members (root: its [`owned`] ones in its ensemble; others: `theirs`),
/// from the parts kept in pass 1 when there are any (one shared forward transform), else
/// with a forward transform per member. Every rank count takes the same branch (V = L is
/// decided on the broadcast fields), so the members' bits do not depend on it.
fn update_mine(
    (gain, plan, ws): (&EnkfLikeGain, &ImagePlan, &mut Workspace),
    (observed, f_mean): (&[f64], &[f64]),
    root: Option<&mut RootEnsemble<'_>>,
    theirs: &mut [(&mut [f64], &[f64])],
    parts: Option<&[MemberPart]>,
    p: usize,
) -> Result<(), ImageError> {
    let mut mine: Vec<(&mut [f64], &[f64])> = match root {
        Some(re) => re
            .members
            .iter_mut()
            .zip(re.perturbed)
            .enumerate()
            .filter(|(i, _)| owner(*i, p) == 0)
            .map(|(_, (x, f))| (x.as_mut_slice(), f.as_slice()))
            .collect(),
        None => theirs.iter_mut().map(|(x, f)| (&mut **x, *f)).collect(),
    };
    match (parts, gain.mean_innovation_part(plan, observed, ws)?) {
        (Some(parts), Some(shared)) if parts.len() == mine.len() => {
            let mut xs: Vec<&mut [f64]> = mine.into_iter().map(|(x, _)| x).collect();
            gain.update_members_from_parts(plan, &shared, parts, &mut xs, ws)?;
        }
        _ => {
            for (x, f) in mine.iter_mut() {
                gain.update_member(plan, observed, f_mean, x, f, ws)?;
            }
        }
    }
    Ok(())
}

/// One round's exchange of one kind of block sums (`c`, this rank's block's, when it has a
/// block this round): every other owner gets its slice straight from `c` and this rank's
/// own slice stays in place. Every block's slice is added to `acc` in rank order, i.e.
/// block order. Collective.
fn add_round(
    comm: &dyn Communicator,
    c: Option<&[f64]>,
    total: usize,
    acc: &mut [f64],
    recv: &mut Vec<f64>,
) -> Result<(), CycleError> {
    let (p, me) = (comm.size(), comm.rank());
    let ranges: Vec<_> = (0..p)
        .map(|s| match c {
            Some(_) if s != me => slice_of(total, s, p),
            _ => 0..0,
        })
        .collect();
    let got = comm
        .alltoallv_ranges_f64(c.unwrap_or_default(), &ranges, recv)
        .map_err(|e| CycleError::Invalid(format!("image analysis: coefficient slices: {e}")))?;
    let add = |acc: &mut [f64], s: &[f64]| acc.iter_mut().zip(s).for_each(|(a, s)| *a += s);
    let mut at = 0;
    for (s, len) in got.into_iter().enumerate() {
        match c {
            Some(c) if s == me => add(acc, &c[slice_of(total, me, p)]),
            _ if len > 0 => add(acc, &recv[at..at + len]),
            _ => {}
        }
        at += len;
    }
    Ok(())
}

/// Parts of this rank's members kept for pass 2 (`None` unless V = L).
type Parts = Option<Vec<MemberPart>>;

/// This rank's slice of Σ_i a_ik² and Σ_i e_ik², added in block order, and its members'
/// parts. Collective.
fn slice_sums(
    comm: &dyn Communicator,
    plan: &ImagePlan,
    ws: &mut Workspace,
    setup: &EnkfLikeSetup,
    (mine, perturbed): (&[&[f64]], &[&[f64]]),
    n: usize,
) -> Result<(Vec<f64>, Vec<f64>, Parts), CycleError> {
    let (p, me) = (comm.size(), comm.rank());
    let total = plan.curvelet().layout().total;
    let own = slice_of(total, me, p);
    let (mut b, mut r) = (vec![0.0; own.len()], vec![0.0; own.len()]);
    let err = image_err("EnKF-like gain");
    if p == 1 {
        // Every sum is this process's: the blocks go straight into b and r.
        let parts = setup.add_members(plan, (mine, perturbed), (&mut b, &mut r), true, ws);
        return Ok((b, r, parts.map_err(&err)?));
    }
    let keep = setup.keeps_parts();
    let (mut recv, mut parts) = (Vec::new(), Vec::with_capacity(mine.len()));
    // Stored over by every block (every coefficient is in one band).
    let (mut sb, mut sr) = (vec![0.0; total], vec![0.0; total]);
    let mut blocks = mine
        .chunks(MEMBER_BLOCK)
        .zip(perturbed.chunks(MEMBER_BLOCK));
    for _ in 0..n.div_ceil(MEMBER_BLOCK).div_ceil(p) {
        let block = blocks.next();
        let summed = block.map(|(xs, fs)| {
            let sums = BlockSums {
                b: &mut sb,
                r: &mut sr,
                into: SumInto::Store,
            };
            setup.add_block(plan, (xs, fs), sums, true, ws)
        });
        let summed = agree(comm, summed.transpose().map_err(&err))?;
        let has = summed.is_some();
        parts.extend(summed.flatten().into_iter().flatten());
        add_round(comm, has.then_some(&sb[..]), total, &mut b, &mut recv)?;
        add_round(comm, has.then_some(&sr[..]), total, &mut r, &mut recv)?;
    }
    Ok((b, r, keep.then_some(parts)))
}
