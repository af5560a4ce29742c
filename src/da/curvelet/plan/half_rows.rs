//! The 2-D DFTs of a mirror extension from half as many rows.
//!
//! An image x of n1 = 2M rows that is symmetric under a half-sample row reflection
//! (row r equals row a − r mod n1, a = 2s − 1 odd, as [`super::CurveletPlan`]'s mirror maps
//! of an extension are) is, rotated by s rows (y_j = x_{j+s}), symmetric about −½:
//! y_{2m+1} = y_{2(M−1−m)}. A radix-2 split of its column DFT then needs only the even
//! rows' M-point DFT E: Y(k) = E(k) + ω^{−k} E(−k), Y(k + M) = E(k) − ω^{−k} E(−k)
//! (ω = e^{−2πi/n1}), and X(k) = ω^{sk} Y(k). So the row FFTs, the transpose and the column
//! FFTs of the forward run on M rows. The inverse back to such an image (or to the sum of
//! its two mirrored rows, the adjoint of the extension) likewise needs only the M even rows
//! of the rotated image: y_{2j} = Σ_{k<M} (S'(k) + S'(k + M)) ω_M^{−jk}, S'(k) = ω^{−sk} S(k).
//! Results equal the full-length transforms up to round-off.

use std::sync::Arc;

use num_complex::Complex64 as C64;
use rustfft::{Fft, FftPlanner};

use super::{transpose, CurveletError, CurveletPlan};

/// The half-length column FFTs and twiddles of an even row count n1.
pub(super) struct HalfRows {
    m: usize,
    fwd: Arc<dyn Fft<f64>>,
    inv: Arc<dyn Fft<f64>>,
    // tw[t] = e^{−2πi t/n1}, t < n1.
    tw: Vec<C64>,
}

impl HalfRows {
    /// For an even `n1` (else `None`).
    pub(super) fn new(n1: usize, planner: &mut FftPlanner<f64>) -> Option<Self> {
        if !n1.is_multiple_of(2) {
            return None;
        }
        let m = n1 / 2;
        let tw = (0..n1)
            .map(|t| {
                let (s, c) = (-2.0 * std::f64::consts::PI * t as f64 / n1 as f64).sin_cos();
                C64::new(c, s)
            })
            .collect();
        Some(Self {
            m,
            fwd: planner.plan_fft_forward(m),
            inv: planner.plan_fft_inverse(m),
            tw,
        })
    }

    /// In-place scratch both directions need.
    pub(super) fn scratch_len(&self) -> usize {
        self.fwd
            .get_inplace_scratch_len()
            .max(self.inv.get_inplace_scratch_len())
    }

    /// The rotation s of a checked reflection map with a = `mirror[0]` odd (a = 2s − 1).
    pub(super) fn shift(&self, mirror: &[u32]) -> Option<usize> {
        let a = *mirror.first()? as usize;
        (a % 2 == 1).then_some(a.div_ceil(2))
    }

    /// ω^{e·k} for k = 0, 1, … (exponents reduced exactly, without a division).
    fn powers(&self, e: usize) -> impl Iterator<Item = C64> + '_ {
        let n = self.tw.len();
        let e = e % n;
        std::iter::successors(Some(0usize), move |&t| {
            let t = t + e;
            Some(if t >= n { t - n } else { t })
        })
        .map(|t| self.tw[t])
    }
}

impl CurveletPlan {
    /// The spectrum (layout of `dft2`) of the symmetric image x, or with `fold` of the
    /// symmetric x_r + x_{a−r} of any image x; `rows` and `rowbuf` are scratch.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn dft2_half(
        &self,
        hr: &HalfRows,
        s: usize,
        image: &[f64],
        fold: bool,
        rowbuf: &mut [f64],
        rows: &mut [C64],
        spec: &mut [C64],
        sc: &mut [C64],
    ) -> Result<(), CurveletError> {
        let (n1, n2, h, m) = (self.n1, self.n2, self.h, hr.m);
        let (rw, cols) = rows.split_at_mut(m * h);
        for j in 0..m {
            let r = (s + 2 * j) % n1;
            let src = &image[r * n2..(r + 1) * n2];
            if fold {
                let q = (s + 2 * n1 - 1 - 2 * j) % n1;
                let other = &image[q * n2..(q + 1) * n2];
                for ((o, a), b) in rowbuf.iter_mut().zip(src).zip(other) {
                    *o = a + b;
                }
            } else {
                rowbuf.copy_from_slice(src);
            }
            self.r2c
                .process_with_scratch(rowbuf, &mut rw[j * h..(j + 1) * h], sc)
                .map_err(|_| CurveletError::Internal("r2c"))?;
        }
        let cols = &mut cols[..m * h];
        transpose(rw, cols, m, h);
        hr.fwd.process_with_scratch(cols, sc);
        let sign = if s.is_multiple_of(2) { 1.0 } else { -1.0 };
        let q_exp = (s + n1 - 1) % n1;
        for (e, x) in cols.chunks_exact(m).zip(spec.chunks_exact_mut(n1)) {
            let (lo, hi) = x.split_at_mut(m);
            // E(−k mod M): E(0), then E(M − 1), E(M − 2), …
            let e_neg = std::iter::once(&e[0]).chain(e[1..].iter().rev());
            let tw = hr.powers(s).zip(hr.powers(q_exp));
            for ((((l, u), ek), en), (p, q)) in lo.iter_mut().zip(hi).zip(e).zip(e_neg).zip(tw) {
                let a = ek * p;
                let b = en * q;
                *l = a + b;
                *u = (a - b) * sign;
            }
        }
        Ok(())
    }

    /// The inverse of [`CurveletPlan::dft2_half`]: the spectrum `spec` of a symmetric
    /// image into `out` (every row), or with `fold` the row-folded inverse (row r holds
    /// y_r + y_{a−r} when r < a − r mod n1, else 0) of any spectrum. `rows` is scratch.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn idft2_half(
        &self,
        hr: &HalfRows,
        s: usize,
        spec: &[C64],
        fold: bool,
        rows: &mut [C64],
        out: &mut [f64],
        sc: &mut [C64],
    ) -> Result<(), CurveletError> {
        let (n1, n2, h, m) = (self.n1, self.n2, self.h, hr.m);
        let (rw, cols) = rows.split_at_mut(m * h);
        let cols = &mut cols[..m * h];
        let sign = if s.is_multiple_of(2) { 1.0 } else { -1.0 };
        let (p_exp, q_exp) = ((n1 - s % n1) % n1, (s + n1 - 1) % n1);
        for (x, f) in spec.chunks_exact(n1).zip(cols.chunks_exact_mut(m)) {
            let (lo, hi) = x.split_at(m);
            for ((fk, (a, b)), p) in f.iter_mut().zip(lo.iter().zip(hi)).zip(hr.powers(p_exp)) {
                *fk = (a + b * sign) * p;
            }
            if fold {
                // S(−k) − σ S(M − k): S(0) − σ S(M), then S(n1 − k) − σ S(M − k) for k ≥ 1.
                let neg = std::iter::once(&x[0]).chain(hi[1..].iter().rev());
                let mid = lo[1..].iter().rev();
                let mid = std::iter::once(&hi[0]).chain(mid);
                for (((fk, a), b), q) in f.iter_mut().zip(neg).zip(mid).zip(hr.powers(q_exp)) {
                    *fk += (a - b * sign) * q;
                }
            }
        }
        hr.inv.process_with_scratch(cols, sc);
        transpose(cols, rw, h, m);
        let mirror_of = |r: usize| (2 * s + 2 * n1 - 1 - r) % n1;
        for j in 0..m {
            let r = (s + 2 * j) % n1;
            let t = if fold { r.min(mirror_of(r)) } else { r };
            let row = &mut rw[j * h..(j + 1) * h];
            row[0].im = 0.0;
            if n2.is_multiple_of(2) {
                row[h - 1].im = 0.0;
            }
            self.c2r
                .process_with_scratch(row, &mut out[t * n2..(t + 1) * n2], sc)
                .map_err(|_| CurveletError::Internal("c2r"))?;
        }
        // The rows not computed: zeros of the fold, or copies of their mirror.
        for j in 0..m {
            let r = (s + 2 * j + 1) % n1;
            let q = mirror_of(r);
            if fold {
                let t = r.max(q);
                out[t * n2..(t + 1) * n2].fill(0.0);
            } else {
                out.copy_within(q * n2..(q + 1) * n2, r * n2);
            }
        }
        Ok(())
    }
}
