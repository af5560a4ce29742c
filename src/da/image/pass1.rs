//! EnKF-like pass 1 over a block of members without storing their coefficients: the
//! anomalies and perturbations of the block are transformed together and consumed band by
//! band while each band is still in cache (their squares summed into b and r, the parts
//! taken), instead of writing coefficient vectors to memory and reading them back.
//!
//! The members are summed in fixed blocks of [`MEMBER_BLOCK`]: a block's squares are added
//! together first, and the block sums are added to b and r in block order. The order of the
//! additions is thus fixed by the members alone, so a process that sums one block and sends
//! it to the owner of a coefficient slice (the cycle's spread analysis) gives the same bits
//! as one process summing every block, and sends a block's sums instead of every member's
//! coefficients.

use crate::da::curvelet::{
    square_sums, BandInfo, BandValues, SumInto, Workspace as CurveletWorkspace,
};

use std::ops::Range;

use super::enkf_like::{difference_into, updated_within, EnkfLikeSetup, MemberPart};
use super::plan::{ImagePlan, Workspace};
use super::ImageError;

/// Members per block of pass 1 (see the module documentation). Part of what fixes the bits
/// of b and r, so it is a constant, not an option.
pub const MEMBER_BLOCK: usize = 2;

/// One more image's scratch of a batched transform (made on first use).
pub(super) struct BatchScratch {
    cw: CurveletWorkspace,
    ext: Vec<f64>,
}

impl BatchScratch {
    fn new(plan: &ImagePlan) -> Self {
        Self {
            cw: plan.curvelet().new_workspace(),
            ext: vec![0.0; plan.n_extended()],
        }
    }
}

/// Where one block's pass-1 sums go: of a_ik² (`b`) and of e_ik² (`r`), both over every
/// coefficient, combined by `into` (added to running sums, or stored as the block's own).
pub struct BlockSums<'a> {
    pub b: &'a mut [f64],
    pub r: &'a mut [f64],
    pub into: SumInto,
}

impl EnkfLikeSetup {
    /// Pass 1 of `members` and their perturbed images on this process, block by block
    /// ([`EnkfLikeSetup::add_block`], blocks of [`MEMBER_BLOCK`] from the first member):
    /// the terms added to `b` and `r` and, with `keep` and [`EnkfLikeSetup::keeps_parts`],
    /// the members' parts.
    pub fn add_members<M: AsRef<[f64]>, P: AsRef<[f64]>>(
        &self,
        plan: &ImagePlan,
        (members, perturbed): (&[M], &[P]),
        (b, r): (&mut [f64], &mut [f64]),
        keep: bool,
        ws: &mut Workspace,
    ) -> Result<Option<Vec<MemberPart>>, ImageError> {
        if perturbed.len() != members.len() {
            return Err(ImageError::MemberCount {
                members: members.len(),
                images: perturbed.len(),
            });
        }
        let keep = keep && self.keeps_parts();
        let mut parts = Vec::new();
        for (xs, fs) in members
            .chunks(MEMBER_BLOCK)
            .zip(perturbed.chunks(MEMBER_BLOCK))
        {
            let sums = BlockSums {
                b: &mut *b,
                r: &mut *r,
                into: SumInto::Add,
            };
            parts.extend(
                self.add_block(plan, (xs, fs), sums, keep, ws)?
                    .into_iter()
                    .flatten(),
            );
        }
        Ok(keep.then_some(parts))
    }

    /// One block's terms of pass 1 (1 ≤ members ≤ [`MEMBER_BLOCK`]): s_k = Σ_i a_ik² and
    /// t_k = Σ_i e_ik² over the block in member order, combined with `b` and `r` by
    /// `sums.into`; with `keep` and [`EnkfLikeSetup::keeps_parts`] each member's part
    /// e_i − a_i on the updated coefficients is returned (storage from the workspace's
    /// pool); a_i = C E Z_L(x_i − x̄),
    /// e_i = C E Z_V(f_i − f̄). A one-member block gives the same bits as
    /// [`EnkfLikeSetup::anomaly_coefficients`] and
    /// [`EnkfLikeSetup::perturbation_coefficients`] followed by
    /// [`super::accumulate_squares`] and the part's start and finish.
    pub fn add_block<M: AsRef<[f64]>, P: AsRef<[f64]>>(
        &self,
        plan: &ImagePlan,
        (xs, fs): (&[M], &[P]),
        sums: BlockSums<'_>,
        keep: bool,
        ws: &mut Workspace,
    ) -> Result<Option<Vec<MemberPart>>, ImageError> {
        let total = plan.curvelet().layout().total;
        if fs.len() != xs.len() {
            return Err(ImageError::MemberCount {
                members: xs.len(),
                images: fs.len(),
            });
        }
        for (x, f) in xs.iter().zip(fs) {
            plan.check_len("member", x.as_ref().len(), plan.n_cells())?;
            plan.check_len("perturbed image", f.as_ref().len(), plan.n_cells())?;
        }
        plan.check_len("b sums", sums.b.len(), total)?;
        plan.check_len("r sums", sums.r.len(), total)?;
        let keep = keep && self.keeps_parts();
        match xs.len() {
            1 => self.block_pass::<2>(plan, (xs, fs), sums, keep, ws),
            2 => self.block_pass::<4>(plan, (xs, fs), sums, keep, ws),
            n => Err(ImageError::SizeMismatch {
                what: "members of a pass-1 block",
                expected: MEMBER_BLOCK,
                got: n,
            }),
        }
    }

    /// [`EnkfLikeSetup::add_block`] for a block of M/2 members: images 0..M/2 are the
    /// anomalies, M/2..M the perturbations, transformed as one batch.
    fn block_pass<const M: usize>(
        &self,
        plan: &ImagePlan,
        (xs, fs): (&[impl AsRef<[f64]>], &[impl AsRef<[f64]>]),
        sums: BlockSums<'_>,
        keep: bool,
        ws: &mut Workspace,
    ) -> Result<Option<Vec<MemberPart>>, ImageError> {
        let k = M / 2;
        let Workspace {
            op,
            batch,
            part_pool,
            ..
        } = ws;
        while batch.len() + 1 < M {
            batch.push(BatchScratch::new(plan));
        }
        let (cws, mut exts): (Vec<&mut CurveletWorkspace>, Vec<&mut Vec<f64>>) =
            std::iter::once((&mut op.cw, &mut op.ext))
                .chain(batch.iter_mut().map(|s| (&mut s.cw, &mut s.ext)))
                .take(M)
                .unzip();
        for (m, (x, f)) in xs.iter().zip(fs).enumerate() {
            difference_into(&self.cells.land, x.as_ref(), &self.x_mean, &mut op.grid);
            plan.extend_into(&op.grid, exts[m])?;
            difference_into(&self.cells.obs, f.as_ref(), &self.f_mean, &mut op.grid);
            plan.extend_into(&op.grid, exts[k + m])?;
        }
        let up = self.updated.as_deref().filter(|_| keep);
        let mut parts = up.map(|up| open_parts(up.len(), k, part_pool));
        let (b, r, into) = (sums.b, sums.r, sums.into);
        let sink = |info: &BandInfo, v: [BandValues<'_>; M]| {
            let band = info.offset..info.offset + info.len();
            let (a, e) = v.split_at(k);
            square_sums(a, &mut b[band.clone()], into);
            square_sums(e, &mut r[band.clone()], into);
            if let (Some(up), Some(parts)) = (up, parts.as_mut()) {
                for (m, part) in parts.iter_mut().enumerate() {
                    take_part(up, band.clone(), (&a[m], &e[m]), part);
                }
            }
        };
        let images: [&[f64]; M] = std::array::from_fn(|m| exts[m].as_slice());
        let got = cws.len();
        let wss: [&mut CurveletWorkspace; M] =
            cws.try_into().map_err(|_| ImageError::SizeMismatch {
                what: "batch workspaces",
                expected: M,
                got,
            })?;
        let mirror = Some(plan.row_mirror());
        plan.curvelet().forward_batch(images, mirror, wss, sink)?;
        Ok(parts.map(|p| p.into_iter().map(MemberPart).collect()))
    }
}

/// Storage for `k` parts of `len` values each, emptied: pooled storage of earlier analyses
/// where there is some.
fn open_parts(len: usize, k: usize, pool: &mut Vec<Vec<f64>>) -> Vec<Vec<f64>> {
    (0..k)
        .map(|_| {
            let mut part = pool.pop().unwrap_or_default();
            part.clear();
            crate::da::huge_pages::reserve_huge(&mut part, len);
            part
        })
        .collect()
}

/// part[j] = e_k − a_k for the updated coefficients k = up[j] in the flat range `band`.
/// Bands arrive in layout order, so the part grows by appending (one write per value).
fn take_part(
    up: &[u32],
    band: Range<usize>,
    (a, e): (&BandValues<'_>, &BandValues<'_>),
    part: &mut Vec<f64>,
) {
    let start = band.start;
    let Range { start: lo, end: hi } = updated_within(up, band);
    let diff = |&k: &u32| e.get(k as usize - start) - a.get(k as usize - start);
    if lo == part.len() {
        part.extend(up[lo..hi].iter().map(diff));
    } else {
        part.resize(part.len().max(hi), 0.0);
        for (v, k) in part[lo..hi].iter_mut().zip(&up[lo..hi]) {
            *v = diff(k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::enkf_like::accumulate_squares;
    use super::super::{EnkfLikeConfig, EnkfLikeFields, ImageOptions};
    use super::*;

    fn field(n: usize, seed: u64) -> Vec<f64> {
        (0..n)
            .map(|i| 0.25 + 0.05 * ((i as u64 * 7919 + seed * 104_729) as f64 * 0.37).sin())
            .collect()
    }

    // A block's batched transforms give the stored path's sums and parts bit for bit, with
    // the block's squares summed before they join b and r; with V = L (parts kept) and with
    // a gap in the observed image (V ≠ L: no parts). Stored block sums equal added ones.
    #[test]
    fn block_terms_equal_the_stored_path() {
        let (ny, nx) = (20, 24);
        let n = ny * nx;
        let plan = ImagePlan::new(ny, nx, &ImageOptions::default()).unwrap();
        let land: Vec<bool> = (0..n).map(|i| i % 7 != 3).collect();
        let members: Vec<Vec<f64>> = (0..5).map(|m| field(n, m)).collect();
        let perturbed: Vec<Vec<f64>> = (0..5).map(|m| field(n, 10 + m)).collect();
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for gap in [false, true] {
            let mut observed = field(n, 99);
            if gap {
                observed[5] = f64::NAN;
            }
            let fields = EnkfLikeFields {
                observed: &observed,
                land: &land,
                analysed: &land,
            };
            let mut ws = plan.new_workspace();
            let cfg = EnkfLikeConfig::default();
            let mut setup = EnkfLikeSetup::new(&plan, &fields, &cfg, &mut ws).unwrap();
            setup.checked_means(&plan, &members, &perturbed).unwrap();
            assert_eq!(setup.keeps_parts(), !gap);
            let total = plan.curvelet().layout().total;
            // Stored path, block by block: squares of a block summed first.
            let (mut b0, mut r0, mut p0) = (vec![0.0; total], vec![0.0; total], Vec::new());
            for (xs, fs) in members
                .chunks(MEMBER_BLOCK)
                .zip(perturbed.chunks(MEMBER_BLOCK))
            {
                let (mut sb, mut sr) = (vec![0.0; total], vec![0.0; total]);
                for (x, f) in xs.iter().zip(fs) {
                    let mut part = MemberPart::default();
                    let a = setup.anomaly_coefficients(&plan, x, &mut ws).unwrap();
                    accumulate_squares(&mut sb, a);
                    setup.start_part(a, &mut part);
                    let e = setup.perturbation_coefficients(&plan, f, &mut ws).unwrap();
                    accumulate_squares(&mut sr, e);
                    setup.finish_part(e, &mut part);
                    p0.push(part);
                }
                b0.iter_mut().zip(&sb).for_each(|(b, s)| *b += s);
                r0.iter_mut().zip(&sr).for_each(|(r, s)| *r += s);
            }
            let (mut b1, mut r1) = (vec![0.0; total], vec![0.0; total]);
            let sums = (&mut b1[..], &mut r1[..]);
            let p1 = setup
                .add_members(&plan, (&members, &perturbed), sums, true, &mut ws)
                .unwrap();
            assert_eq!(bits(&b0), bits(&b1));
            assert_eq!(bits(&r0), bits(&r1));
            assert_eq!(p1.is_none(), gap);
            for (a, b) in p0.iter().zip(p1.iter().flatten()) {
                assert_eq!(bits(&a.0), bits(&b.0));
                assert!(!b.0.is_empty());
            }
            assert!(b1.iter().any(|&v| v > 0.0) && r1.iter().any(|&v| v > 0.0));
            // A block's own sums stored over garbage, then added: the same bits again.
            let (mut b2, mut r2) = (vec![0.0; total], vec![0.0; total]);
            let (mut sb, mut sr) = (vec![-7.0; total], vec![f64::NAN; total]);
            for (xs, fs) in members
                .chunks(MEMBER_BLOCK)
                .zip(perturbed.chunks(MEMBER_BLOCK))
            {
                let sums = BlockSums {
                    b: &mut sb,
                    r: &mut sr,
                    into: SumInto::Store,
                };
                setup
                    .add_block(&plan, (xs, fs), sums, false, &mut ws)
                    .unwrap();
                b2.iter_mut().zip(&sb).for_each(|(b, s)| *b += s);
                r2.iter_mut().zip(&sr).for_each(|(r, s)| *r += s);
            }
            assert_eq!(bits(&b0), bits(&b2));
            assert_eq!(bits(&r0), bits(&r2));
            // Refusals: a short sum buffer, a block too large (any error), images missing.
            type Refusal = fn(&ImageError) -> bool;
            let cases: [(usize, usize, usize, Refusal); 3] = [
                (1, 1, 1, |e| matches!(e, ImageError::SizeMismatch { .. })),
                (0, 3, 3, |_| true),
                (0, 2, 1, |e| matches!(e, ImageError::MemberCount { .. })),
            ];
            for (cut, k, j, refused) in cases {
                let sums = BlockSums {
                    b: &mut b2[cut..],
                    r: &mut r2,
                    into: SumInto::Add,
                };
                let xs = (&members[..k], &perturbed[..j]);
                let r = setup.add_block(&plan, xs, sums, false, &mut ws);
                assert!(
                    r.as_ref().is_err_and(refused),
                    "{k} members, {j} images: {r:?}"
                );
            }
        }
    }
}
