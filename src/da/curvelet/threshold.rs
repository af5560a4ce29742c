//! Percentile hard thresholding and the masked transform "mask ∘ C" with its adjoint.
//!
//! Units: a cosine/sine pair is one unit with magnitude `sqrt(a² + b²)` (the energy of the
//! complex wedge coefficient and its mirror); a real coefficient (coarsest band, wavelet
//! finest band) is one unit with magnitude `|a|`. The kept count is `ceil(σ · n)` of the
//! ranked units; ties are broken by flat unit order (lower index kept first), so the
//! selection is deterministic and keeps exactly that many units.

use std::sync::Arc;

use super::coeffs::{BandInfo, BandKind, Coefficients, Layout};
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

/// The value whose [`total_order_key`] is `key`.
fn from_total_order_key(key: u64) -> f64 {
    f64::from_bits(if key >> 63 == 1 {
        key & !(1 << 63)
    } else {
        !key
    })
}

/// `f(flat index of the unit's first value, ranking key)` for every unit of `bands`, in flat
/// order. The key orders the squared magnitude a² (+ b² for a pair), which orders units as
/// their magnitudes do without a square root or `hypot` per unit.
fn for_each_unit(data: &[f64], bands: &[&BandInfo], mut f: impl FnMut(usize, u64)) {
    for b in bands {
        let (o, p) = (b.offset, b.positions());
        let a = &data[o..o + p];
        match b.kind {
            BandKind::Real => {
                for (i, x) in a.iter().enumerate() {
                    f(o + i, total_order_key(x * x));
                }
            }
            BandKind::Pair => {
                for (i, (x, y)) in a.iter().zip(&data[o + p..o + 2 * p]).enumerate() {
                    f(o + i, total_order_key(x * x + y * y));
                }
            }
        }
    }
}

/// Mark the first value of the `k` ≥ 1 largest units of `bands` kept (ties: lower flat index
/// first) and return the smallest kept magnitude. A histogram of the keys' top 16 bits finds
/// the bucket holding the k-th largest: units above it are kept outright and only that
/// bucket's units are ordered. Two passes over the coefficients and no per-unit array.
fn keep_largest(data: &[f64], bands: &[&BandInfo], k: usize, keep: &mut [bool]) -> f64 {
    let mut hist = vec![0usize; 1 << 16];
    for_each_unit(data, bands, |_, key| hist[(key >> 48) as usize] += 1);
    let (mut above, mut bucket) = (0, 0);
    for (b, &count) in hist.iter().enumerate().rev() {
        if above + count >= k {
            bucket = b as u64;
            break;
        }
        above += count;
    }
    let need = k - above;
    let mut ties: Vec<(u64, usize)> = Vec::new();
    for_each_unit(data, bands, |i, key| match (key >> 48).cmp(&bucket) {
        std::cmp::Ordering::Greater => keep[i] = true,
        std::cmp::Ordering::Equal => ties.push((!key, i)),
        std::cmp::Ordering::Less => {}
    });
    if need < ties.len() {
        ties.select_nth_unstable(need - 1);
    }
    let top = &ties[..need];
    for &(_, i) in top {
        keep[i] = true;
    }
    let smallest = top.iter().map(|&(nk, _)| !nk).min().unwrap_or(0);
    from_total_order_key(smallest).sqrt()
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
        let always = |b: &BandInfo| b.scale == 0 && coarse == CoarseTreatment::AlwaysKeep;
        let ranked: Vec<&BandInfo> = layout.bands.iter().filter(|b| !always(b)).collect();
        let n: usize = ranked.iter().map(|b| b.positions()).sum();
        let k = ((sigma * n as f64).ceil() as usize).clamp(usize::from(n > 0), n);
        let mut keep = vec![false; layout.total];
        for b in layout.bands.iter().filter(|b| always(b)) {
            keep[b.offset..b.offset + b.len()].fill(true);
        }
        let threshold = if k > 0 {
            keep_largest(c.as_slice(), &ranked, k, &mut keep)
        } else {
            0.0
        };
        // A pair keeps its sine with its cosine.
        for b in ranked.iter().filter(|b| b.kind == BandKind::Pair) {
            let p = b.positions();
            let (cos, sin) = keep[b.offset..b.offset + 2 * p].split_at_mut(p);
            sin.copy_from_slice(cos);
        }
        let kept_units = layout
            .bands
            .iter()
            .map(|b| {
                keep[b.offset..b.offset + b.positions()]
                    .iter()
                    .filter(|&&k| k)
                    .count()
            })
            .sum();
        let kept: Vec<u32> = (0..layout.total as u32)
            .filter(|&i| keep[i as usize])
            .collect();
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
