//! Spatially correlated Gaussian random fields by FFT (circulant embedding on a padded grid).
//!
//! The (ny, nx) grid is embedded in a periodic (py, px) grid padded by several correlation
//! lengths. The covariance kernel c(r), evaluated at minimum-image distances on the torus, is
//! a circulant matrix whose eigenvalues λ are its 2-D DFT. White noise w (keyed per padded
//! point, so every rank builds the same field) is filtered as f = IDFT(√λ · DFT(w)) / N, which
//! has covariance exactly c on the torus (λ < 0 from truncation, if any, are set to 0 and λ is
//! renormalised so the point variance is exactly 1 in expectation). Pairs inside the (ny, nx)
//! block that are more than half a period apart see the wrapped distance instead of the true
//! one; the padding keeps their wrapped correlation ≤ about 0.011 (3 L for the Gaussian
//! shape, 4.5 L for the exponential one).
//!
//! Cost: two complex 2-D FFTs of py·px points per field, i.e. O(members × vars × Npad log Npad)
//! per perturbation time, spread over the ranks of a run by [`super::share`].

use std::sync::Arc;

use num_complex::Complex64;
use rustfft::{Fft, FftPlannerScalar};

use super::rng::{DeviateKey, Purpose};
use super::spec::{CovarianceShape, SpatialCorrelation};
use super::PerturbError;

/// A reusable plan for one grid and covariance.
#[derive(Clone)]
pub struct GaussianFieldPlan {
    ny: usize,
    nx: usize,
    py: usize,
    px: usize,
    /// √λ on the padded grid, stored transposed (x-major: index ix * py + iy) to match the
    /// layout during the column pass.
    amplitude_t: Vec<f64>,
    fwd_x: Arc<dyn Fft<f64>>,
    inv_x: Arc<dyn Fft<f64>>,
    fwd_y: Arc<dyn Fft<f64>>,
    inv_y: Arc<dyn Fft<f64>>,
    /// Smallest eigenvalue of the embedding relative to the largest, before clamping.
    min_relative_eigenvalue: f64,
}

impl std::fmt::Debug for GaussianFieldPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GaussianFieldPlan")
            .field("ny", &self.ny)
            .field("nx", &self.nx)
            .field("py", &self.py)
            .field("px", &self.px)
            .field("min_relative_eigenvalue", &self.min_relative_eigenvalue)
            .finish()
    }
}

/// Smallest n' ≥ n whose only prime factors are 2, 3 and 5 (fast FFT sizes).
fn smooth_size(n: usize) -> usize {
    let mut m = n.max(1);
    loop {
        let mut r = m;
        for p in [2, 3, 5] {
            while r.is_multiple_of(p) {
                r /= p;
            }
        }
        if r == 1 {
            return m;
        }
        m += 1;
    }
}

/// Padded length for n cells of spacing d with padding `pad_lengths` · L.
fn padded(n: usize, d_km: f64, length_km: f64, pad_lengths: f64) -> usize {
    let pad = (pad_lengths * length_km / d_km).ceil() as usize;
    // With pad ≥ n every in-grid distance is below half the period: the embedding is exact.
    smooth_size(n + pad.min(n).max(1))
}

impl GaussianFieldPlan {
    pub fn new(spec: &SpatialCorrelation) -> Result<Self, PerturbError> {
        let pad_lengths = match spec.shape {
            CovarianceShape::Gaussian => 3.0,
            CovarianceShape::Exponential => 4.5,
        };
        let py = padded(spec.ny, spec.dy_km, spec.length_km, pad_lengths);
        let px = padded(spec.nx, spec.dx_km, spec.length_km, pad_lengths);
        let npad = py
            .checked_mul(px)
            .filter(|&n| n < (1usize << 40))
            .ok_or_else(|| PerturbError::Config {
                group: "spatial".into(),
                message: format!("padded grid {py}×{px} is too large"),
            })?;
        // The scalar planner: its algorithm choice does not depend on the CPU's SIMD features, so
        // nodes of a mixed cluster compute bit-identical fields.
        let mut planner = FftPlannerScalar::<f64>::new();
        let fwd_x = planner.plan_fft_forward(px);
        let inv_x = planner.plan_fft_inverse(px);
        let fwd_y = planner.plan_fft_forward(py);
        let inv_y = planner.plan_fft_inverse(py);

        // Covariance kernel at minimum-image distances, row-major (iy, ix).
        let l = spec.length_km;
        let mut buf = vec![Complex64::new(0.0, 0.0); npad];
        for iy in 0..py {
            let dy = iy.min(py - iy) as f64 * spec.dy_km;
            for ix in 0..px {
                let dx = ix.min(px - ix) as f64 * spec.dx_km;
                let r2 = dy * dy + dx * dx;
                let c = match spec.shape {
                    CovarianceShape::Gaussian => (-0.5 * r2 / (l * l)).exp(),
                    CovarianceShape::Exponential => (-r2.sqrt() / l).exp(),
                };
                buf[iy * px + ix] = Complex64::new(c, 0.0);
            }
        }
        let mut plan = GaussianFieldPlan {
            ny: spec.ny,
            nx: spec.nx,
            py,
            px,
            amplitude_t: Vec::new(),
            fwd_x,
            inv_x,
            fwd_y,
            inv_y,
            min_relative_eigenvalue: 0.0,
        };
        let mut t = vec![Complex64::new(0.0, 0.0); npad];
        plan.forward_2d(&mut buf, &mut t);
        // t now holds the eigenvalues, transposed (ix * py + iy). The kernel is real and even,
        // so they are real up to round-off.
        let lam: Vec<f64> = t.iter().map(|z| z.re).collect();
        let max = lam.iter().cloned().fold(f64::MIN, f64::max);
        let min = lam.iter().cloned().fold(f64::MAX, f64::min);
        plan.min_relative_eigenvalue = min / max;
        let clamped: Vec<f64> = lam.iter().map(|&v| v.max(0.0)).collect();
        let sum: f64 = clamped.iter().sum();
        // Point variance = Σλ / N: scale so it is exactly 1.
        let scale = npad as f64 / sum;
        plan.amplitude_t = clamped.iter().map(|&v| (v * scale).sqrt()).collect();
        Ok(plan)
    }

    /// Padded grid shape (py, px).
    pub fn padded_shape(&self) -> (usize, usize) {
        (self.py, self.px)
    }

    /// Grid shape (ny, nx).
    pub fn shape(&self) -> (usize, usize) {
        (self.ny, self.nx)
    }

    /// Smallest/largest eigenvalue of the circulant embedding before clamping (≥ 0 means the
    /// embedding is exact).
    pub fn min_relative_eigenvalue(&self) -> f64 {
        self.min_relative_eigenvalue
    }

    /// Row FFTs of `buf` (row-major py×px), then transpose into `t` (px×py) and column FFTs.
    fn forward_2d(&self, buf: &mut [Complex64], t: &mut [Complex64]) {
        self.fwd_x.process(buf);
        transpose(buf, t, self.py, self.px);
        self.fwd_y.process(t);
    }

    /// One unit-variance field for (member, var, time) on the (ny, nx) grid, row-major, written
    /// to `out` (length ny·nx). `scratch` is resized as needed and may be reused between calls.
    #[allow(clippy::too_many_arguments)]
    pub fn generate(
        &self,
        seed: u64,
        stream: u32,
        purpose: Purpose,
        var: u32,
        member: u64,
        time_index: i64,
        out: &mut [f64],
        scratch: &mut FieldScratch,
    ) {
        let npad = self.py * self.px;
        scratch.a.resize(npad, Complex64::new(0.0, 0.0));
        scratch.b.resize(npad, Complex64::new(0.0, 0.0));
        let mut key = DeviateKey {
            seed,
            stream,
            purpose,
            var,
            point: 0,
            member,
            time_index,
        };
        for (p, z) in scratch.a.iter_mut().enumerate() {
            key.point = p as u64;
            *z = Complex64::new(key.normal(), 0.0);
        }
        self.forward_2d(&mut scratch.a, &mut scratch.b);
        for (z, &a) in scratch.b.iter_mut().zip(&self.amplitude_t) {
            *z *= a;
        }
        self.inv_y.process(&mut scratch.b);
        transpose(&scratch.b, &mut scratch.a, self.px, self.py);
        // Only the first ny rows are needed.
        let rows = &mut scratch.a[..self.ny * self.px];
        self.inv_x.process(rows);
        let norm = 1.0 / npad as f64;
        for j in 0..self.ny {
            for i in 0..self.nx {
                out[j * self.nx + i] = rows[j * self.px + i].re * norm;
            }
        }
    }
}

/// Reusable work buffers for [`GaussianFieldPlan::generate`].
#[derive(Debug, Default, Clone)]
pub struct FieldScratch {
    a: Vec<Complex64>,
    b: Vec<Complex64>,
}

/// `dst` (cols×rows) = transpose of `src` (rows×cols), both row-major.
fn transpose(src: &[Complex64], dst: &mut [Complex64], rows: usize, cols: usize) {
    const B: usize = 16;
    for r0 in (0..rows).step_by(B) {
        for c0 in (0..cols).step_by(B) {
            for r in r0..(r0 + B).min(rows) {
                for c in c0..(c0 + B).min(cols) {
                    dst[c * rows + r] = src[r * cols + c];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smooth_sizes() {
        assert_eq!(smooth_size(7), 8);
        assert_eq!(smooth_size(97), 100);
        assert_eq!(smooth_size(121), 125);
        assert_eq!(smooth_size(1), 1);
    }
}
