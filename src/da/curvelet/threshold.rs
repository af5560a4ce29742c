//! Percentile hard thresholding and the masked transform "mask ∘ C" with its adjoint.
//!
//! Units: a cosine/sine pair is one unit with magnitude `sqrt(a² + b²)` (the energy of the
//! complex wedge coefficient and its mirror); a real coefficient (coarsest band, wavelet
//! finest band) is one unit with magnitude `|a|`. The kept count is `ceil(σ · n)` of the
//! ranked units; ties are broken by flat unit order (lower index kept first), so the
//! selection is deterministic and keeps exactly that many units.

use std::sync::Arc;

use super::coeffs::{BandKind, Coefficients, Layout};
use super::plan::{CurveletPlan, Workspace};
use super::CurveletError;

/// How the coarsest (low-pass) band enters the ranking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CoarseTreatment {
    /// Always keep the coarsest band; rank only the other units (default: the large-scale
    /// mean pattern is never thresholded away).
    #[default]
    AlwaysKeep,
    /// Rank the coarsest band's coefficients with all others.
    Ranked,
}

/// A reusable selection of kept coefficients.
#[derive(Clone, Debug)]
pub struct ThresholdMask {
    layout: Arc<Layout>,
    keep: Vec<bool>,
    kept: Vec<u32>,
    kept_units: usize,
    ranked_units: usize,
    threshold: f64,
    sigma: f64,
}

/// An unsigned key ordered as `f64::total_cmp` orders the values.
fn total_order_key(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

impl ThresholdMask {
    /// Keep the fraction `sigma` ∈ (0, 1] of the largest unit magnitudes of `c`.
    pub fn top_fraction(
        c: &Coefficients,
        sigma: f64,
        coarse: CoarseTreatment,
    ) -> Result<Self, CurveletError> {
        if !(sigma > 0.0 && sigma <= 1.0) {
            return Err(CurveletError::BadFraction(sigma));
        }
        let layout = c.layout().clone();
        let mags = c.magnitudes();
        let mut keep_unit = vec![false; layout.units];
        // Ranked by (magnitude descending in total order, unit ascending) as one integer key
        // per unit: the selection compares keys in place instead of reading magnitudes at
        // random, and keeps the same units.
        let mut keys: Vec<(u64, u32)> = Vec::with_capacity(layout.units);
        let mut u0 = 0usize;
        for info in &layout.bands {
            let p = info.positions();
            if info.scale == 0 && coarse == CoarseTreatment::AlwaysKeep {
                keep_unit[u0..u0 + p].iter_mut().for_each(|k| *k = true);
            } else {
                keys.extend((u0..u0 + p).map(|u| (!total_order_key(mags[u]), u as u32)));
            }
            u0 += p;
        }
        let n = keys.len();
        let k = ((sigma * n as f64).ceil() as usize).clamp(usize::from(n > 0), n);
        let mut threshold = 0.0;
        if k > 0 {
            if k < n {
                keys.select_nth_unstable(k - 1);
            }
            let top = &keys[..k];
            threshold = top
                .iter()
                .map(|&(_, u)| mags[u as usize])
                .fold(f64::INFINITY, f64::min);
            for &(_, u) in top {
                keep_unit[u as usize] = true;
            }
        }
        // Expand units to real values.
        let mut keep = vec![false; layout.total];
        let mut u0 = 0usize;
        for info in &layout.bands {
            let p = info.positions();
            for i in 0..p {
                if keep_unit[u0 + i] {
                    keep[info.offset + i] = true;
                    if info.kind == BandKind::Pair {
                        keep[info.offset + p + i] = true;
                    }
                }
            }
            u0 += p;
        }
        let kept: Vec<u32> = keep
            .iter()
            .enumerate()
            .filter(|(_, k)| **k)
            .map(|(i, _)| i as u32)
            .collect();
        let kept_units = keep_unit.iter().filter(|k| **k).count();
        Ok(Self {
            layout,
            keep,
            kept,
            kept_units,
            ranked_units: n,
            threshold,
            sigma,
        })
    }

    /// Per real coefficient: kept or not.
    pub fn keep(&self) -> &[bool] {
        &self.keep
    }
    /// Flat indices of the kept real coefficients, ascending.
    pub fn kept_indices(&self) -> &[u32] {
        &self.kept
    }
    /// Number of kept units (pairs count once).
    pub fn kept_units(&self) -> usize {
        self.kept_units
    }
    /// Number of kept real values.
    pub fn kept_values(&self) -> usize {
        self.kept.len()
    }
    /// Number of units that took part in the ranking.
    pub fn ranked_units(&self) -> usize {
        self.ranked_units
    }
    /// Smallest kept ranked magnitude.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }
    /// The fraction σ the mask was built with.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }
    /// The layout the mask belongs to.
    pub fn layout(&self) -> &Arc<Layout> {
        &self.layout
    }

    /// The mask as bytes for another process: one byte per real coefficient (kept or not),
    /// then the threshold, σ and the ranked count (little-endian). [`ThresholdMask::from_bytes`]
    /// rebuilds the same mask.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out: Vec<u8> = self.keep.iter().map(|&k| u8::from(k)).collect();
        out.extend_from_slice(&self.threshold.to_le_bytes());
        out.extend_from_slice(&self.sigma.to_le_bytes());
        out.extend_from_slice(&(self.ranked_units as u64).to_le_bytes());
        out
    }

    /// The mask [`ThresholdMask::to_bytes`] wrote, on `layout` (the same grid and options).
    pub fn from_bytes(layout: Arc<Layout>, bytes: &[u8]) -> Result<Self, CurveletError> {
        let total = layout.total;
        if bytes.len() != total + 24 {
            return Err(CurveletError::SizeMismatch {
                what: "mask bytes",
                expected: total + 24,
                got: bytes.len(),
            });
        }
        let (flags, tail) = bytes.split_at(total);
        let word = |k: usize| <[u8; 8]>::try_from(&tail[8 * k..8 * k + 8]).unwrap_or_default();
        let keep: Vec<bool> = flags.iter().map(|&b| b == 1).collect();
        let mut kept_units = 0;
        for info in &layout.bands {
            let p = info.positions();
            let band = &keep[info.offset..info.offset + info.len()];
            // A pair keeps its cosine and sine together.
            if info.kind == BandKind::Pair && band[..p] != band[p..] {
                return Err(CurveletError::MaskMismatch);
            }
            kept_units += band[..p].iter().filter(|&&k| k).count();
        }
        let kept = (0..total as u32).filter(|&i| keep[i as usize]).collect();
        Ok(Self {
            layout,
            keep,
            kept,
            kept_units,
            ranked_units: u64::from_le_bytes(word(2)) as usize,
            threshold: f64::from_le_bytes(word(0)),
            sigma: f64::from_le_bytes(word(1)),
        })
    }

    fn check(&self, layout: &Arc<Layout>) -> Result<(), CurveletError> {
        if Arc::ptr_eq(layout, &self.layout) || **layout == *self.layout {
            Ok(())
        } else {
            Err(CurveletError::MaskMismatch)
        }
    }

    /// Zero every coefficient the mask does not keep.
    pub fn apply(&self, c: &mut Coefficients) -> Result<(), CurveletError> {
        self.check(c.layout())?;
        for (v, k) in c.as_mut_slice().iter_mut().zip(&self.keep) {
            if !k {
                *v = 0.0;
            }
        }
        Ok(())
    }
}

/// The linear operator `y = M C x` (kept coefficients of the transform, in
/// [`ThresholdMask::kept_indices`] order) and its adjoint `x = C* Mᵀ y`.
pub struct MaskedTransform<'a> {
    plan: &'a CurveletPlan,
    mask: &'a ThresholdMask,
    mirror: Option<&'a [u32]>,
}

impl<'a> MaskedTransform<'a> {
    /// Combine a plan and a mask of the same layout.
    pub fn new(plan: &'a CurveletPlan, mask: &'a ThresholdMask) -> Result<Self, CurveletError> {
        mask.check(plan.layout())?;
        Ok(Self {
            plan,
            mask,
            mirror: None,
        })
    }

    /// For inputs symmetric under a row reflection (a mirror extension): `apply` uses
    /// [`CurveletPlan::forward_mirrored_rows`] and `adjoint` returns the row-folded image
    /// of [`CurveletPlan::inverse_row_folded`] (the same once the extension is folded).
    pub fn with_row_mirror(self, mirror: &'a [u32]) -> Self {
        Self {
            mirror: Some(mirror),
            ..self
        }
    }
    /// Length of `y`.
    pub fn output_len(&self) -> usize {
        self.mask.kept_values()
    }
    /// Length of `x`.
    pub fn input_len(&self) -> usize {
        self.plan.n1() * self.plan.n2()
    }

    /// `y = M C x`; `scratch` holds the full coefficient set.
    pub fn apply(
        &self,
        x: &[f64],
        y: &mut [f64],
        ws: &mut Workspace,
        scratch: &mut Coefficients,
    ) -> Result<(), CurveletError> {
        if y.len() != self.output_len() {
            return Err(CurveletError::SizeMismatch {
                what: "masked output",
                expected: self.output_len(),
                got: y.len(),
            });
        }
        match self.mirror {
            Some(m) => self.plan.forward_mirrored_rows(x, m, scratch, ws)?,
            None => self.plan.forward(x, scratch, ws)?,
        }
        let c = scratch.as_slice();
        for (o, &i) in y.iter_mut().zip(self.mask.kept_indices()) {
            *o = c[i as usize];
        }
        Ok(())
    }

    /// `x = C* Mᵀ y`.
    pub fn adjoint(
        &self,
        y: &[f64],
        x: &mut [f64],
        ws: &mut Workspace,
        scratch: &mut Coefficients,
    ) -> Result<(), CurveletError> {
        if y.len() != self.output_len() {
            return Err(CurveletError::SizeMismatch {
                what: "masked input",
                expected: self.output_len(),
                got: y.len(),
            });
        }
        self.mask.check(scratch.layout())?;
        let c = scratch.as_mut_slice();
        c.fill(0.0);
        for (v, &i) in y.iter().zip(self.mask.kept_indices()) {
            c[i as usize] = *v;
        }
        match self.mirror {
            Some(m) => self.plan.inverse_row_folded(scratch, m, x, ws),
            None => self.plan.inverse(scratch, x, ws),
        }
    }
}
