//! One member's share of EnKF-like pass 1 without storing its coefficients: its anomaly
//! and its perturbation are transformed together and consumed band by band while each band
//! is still in cache (the squares added to b and r, the part taken), instead of writing two
//! coefficient vectors to memory and reading them back three times.

use crate::da::curvelet::{BandInfo, BandValues, Workspace as CurveletWorkspace};

use std::ops::Range;

use super::enkf_like::{difference_into, updated_within, EnkfLikeSetup, MemberPart};
use super::plan::{ImagePlan, Workspace};
use super::ImageError;

/// The second image's scratch of a paired transform (made on first use).
pub(super) struct PairScratch {
    cw: CurveletWorkspace,
    ext: Vec<f64>,
    grid: Vec<f64>,
}

impl PairScratch {
    fn new(plan: &ImagePlan) -> Self {
        Self {
            cw: plan.curvelet().new_workspace(),
            ext: vec![0.0; plan.n_extended()],
            grid: vec![0.0; plan.n_cells()],
        }
    }
}

/// Where one member's pass-1 terms go: Σ_i a_ik² (`b`), Σ_i e_ik² (`r`), both over every
/// coefficient, and the member's part when it is kept.
pub struct MemberSums<'a> {
    pub b: &'a mut [f64],
    pub r: &'a mut [f64],
    pub part: Option<&'a mut MemberPart>,
}

impl EnkfLikeSetup {
    /// Pass 1 of `members` and their perturbed images on this process, in member order:
    /// each one's terms added to `b` and `r` ([`EnkfLikeSetup::add_member`]) and, with
    /// `keep` and [`EnkfLikeSetup::keeps_parts`], their parts.
    pub fn add_members<M: AsRef<[f64]>, P: AsRef<[f64]>>(
        &self,
        plan: &ImagePlan,
        (members, perturbed): (&[M], &[P]),
        (b, r): (&mut [f64], &mut [f64]),
        keep: bool,
        ws: &mut Workspace,
    ) -> Result<Option<Vec<MemberPart>>, ImageError> {
        let keep = keep && self.keeps_parts();
        let mut parts = Vec::new();
        for (x, f) in members.iter().zip(perturbed) {
            let mut part = MemberPart::default();
            let sums = MemberSums {
                b: &mut *b,
                r: &mut *r,
                part: keep.then_some(&mut part),
            };
            self.add_member(plan, (x.as_ref(), f.as_ref()), sums, ws)?;
            if keep {
                parts.push(part);
            }
        }
        Ok(keep.then_some(parts))
    }

    /// Member i's terms of pass 1: b_k += a_ik², r_k += e_ik² and, with a part and
    /// [`EnkfLikeSetup::keeps_parts`], its part e_i − a_i on the updated coefficients;
    /// a_i = C E Z_L(x_i − x̄), e_i = C E Z_V(f_i − f̄). The same bits as
    /// [`EnkfLikeSetup::anomaly_coefficients`] and [`EnkfLikeSetup::perturbation_coefficients`]
    /// followed by [`super::accumulate_squares`] and the part's start and finish.
    pub fn add_member(
        &self,
        plan: &ImagePlan,
        (x, f): (&[f64], &[f64]),
        sums: MemberSums<'_>,
        ws: &mut Workspace,
    ) -> Result<(), ImageError> {
        let total = plan.curvelet().layout().total;
        plan.check_len("member", x.len(), plan.n_cells())?;
        plan.check_len("perturbed image", f.len(), plan.n_cells())?;
        plan.check_len("b sums", sums.b.len(), total)?;
        plan.check_len("r sums", sums.r.len(), total)?;
        let Workspace {
            op,
            pair,
            part_pool,
            ..
        } = ws;
        let pair = pair.get_or_insert_with(|| Box::new(PairScratch::new(plan)));
        difference_into(&self.cells.land, x, &self.x_mean, &mut op.grid);
        plan.extend_into(&op.grid, &mut op.ext)?;
        difference_into(&self.cells.obs, f, &self.f_mean, &mut pair.grid);
        plan.extend_into(&pair.grid, &mut pair.ext)?;
        let mut part = match (&self.updated, sums.part) {
            (Some(up), Some(part)) => {
                if part.0.capacity() < up.len() {
                    part.0 = part_pool.pop().unwrap_or_default();
                }
                part.0.clear();
                crate::da::huge_pages::reserve_huge(&mut part.0, up.len());
                Some((up.as_slice(), &mut part.0))
            }
            _ => None,
        };
        let (b, r) = (sums.b, sums.r);
        let sink = |info: &BandInfo, [a, e]: [BandValues<'_>; 2]| {
            let band = info.offset..info.offset + info.len();
            a.add_squares(&mut b[band.clone()]);
            e.add_squares(&mut r[band.clone()]);
            if let Some((up, part)) = part.as_mut() {
                take_part(up, band, (&a, &e), part);
            }
        };
        let mirror = Some(plan.row_mirror());
        let images = [op.ext.as_slice(), pair.ext.as_slice()];
        plan.curvelet()
            .forward_batch(images, mirror, [&mut op.cw, &mut pair.cw], sink)?;
        Ok(())
    }
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

    // The paired transform gives the sums and parts of the stored path bit for bit, with
    // V = L (parts kept) and with a gap in the observed image (V ≠ L: no parts).
    #[test]
    fn paired_member_terms_equal_the_stored_path() {
        let (ny, nx) = (20, 24);
        let n = ny * nx;
        let plan = ImagePlan::new(ny, nx, &ImageOptions::default()).unwrap();
        let land: Vec<bool> = (0..n).map(|i| i % 7 != 3).collect();
        let members: Vec<Vec<f64>> = (0..3).map(|m| field(n, m)).collect();
        let perturbed: Vec<Vec<f64>> = (0..3).map(|m| field(n, 10 + m)).collect();
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
            let (mut b0, mut r0) = (vec![0.0; total], vec![0.0; total]);
            let (mut b1, mut r1) = (vec![0.0; total], vec![0.0; total]);
            for (x, f) in members.iter().zip(&perturbed) {
                let mut p0 = MemberPart::default();
                let a = setup.anomaly_coefficients(&plan, x, &mut ws).unwrap();
                accumulate_squares(&mut b0, a);
                setup.start_part(a, &mut p0);
                let e = setup.perturbation_coefficients(&plan, f, &mut ws).unwrap();
                accumulate_squares(&mut r0, e);
                setup.finish_part(e, &mut p0);
                let mut p1 = ws.spare_part();
                let sums = MemberSums {
                    b: &mut b1,
                    r: &mut r1,
                    part: Some(&mut p1),
                };
                setup.add_member(&plan, (x, f), sums, &mut ws).unwrap();
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&b0), bits(&b1));
                assert_eq!(bits(&r0), bits(&r1));
                assert_eq!(bits(&p0.0), bits(&p1.0));
                assert_eq!(p1.0.is_empty(), gap);
                ws.recycle_parts(vec![p1]);
            }
            assert!(b1.iter().any(|&v| v > 0.0) && r1.iter().any(|&v| v > 0.0));
            let sums = MemberSums {
                b: &mut b1[1..],
                r: &mut r1,
                part: None,
            };
            let short = setup.add_member(&plan, (&members[0], &perturbed[0]), sums, &mut ws);
            assert!(matches!(short, Err(ImageError::SizeMismatch { .. })));
        }
    }
}
