//! The plan (geometry, windows, index maps, FFT plans) and the forward/inverse transform.
//!
//! Conventions. The image is `n1 × n2`, row-major (axis 1 contiguous). Its unitary DFT
//! X̂(k) is kept as a half spectrum (k2 = 0..n2/2) in a column-major "spectrum layout"
//! (`index = k2 · n1 + k1`), which is what a row r2c FFT followed by column FFTs gives.
//! Every wedge is a list of (spectrum index, wrapped index, weight) entries; frequencies
//! outside the stored half are read as conjugates. The weights already contain the DFT
//! normalisations and the √2 of the cosine/sine pairs, so the transform does no scaling
//! passes and evaluates no transcendental function.

use std::collections::HashMap;
use std::sync::Arc;

use num_complex::Complex64 as C64;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftPlanner};

use super::coeffs::{BandKind, Coefficients, Layout};
use super::window::{angular_weights, lowpass_1d, next_smooth, pseudo_angle};
use super::CurveletError;

mod batch;
mod build;
mod half_rows;
mod runs;
mod source;
pub use batch::{square_sums, BandValues, SumInto};
use build::{build_layout, checked_scales, dense_weights, wedge_stage, Entries, FftCache};
use half_rows::HalfRows;
use runs::{build_runs, gather, scatter_add, Run};
pub use source::BandSlot;

/// What the finest scale holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finest {
    /// Curvelet wedges on a smooth periodic extension of the spectrum (redundancy ≈ 7).
    Curvelets,
    /// A single real wavelet band of the image size (redundancy ≈ 2.9).
    Wavelets,
}

/// How wrapping rectangles are sized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WrapSize {
    /// Smallest 2·3·5·7-smooth sizes that hold the wedge (fast FFTs).
    Smooth,
    /// Smallest sizes that hold the wedge.
    Minimal,
}

/// Options of a curvelet plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurveletOptions {
    /// Number of scales J including the coarsest; `None` = ⌈log2 min(n1, n2) − 3⌉, at least 3.
    pub scales: Option<usize>,
    /// Angles at the second coarsest scale (multiple of 4, ≥ 8); doubles every other scale.
    pub coarse_angles: usize,
    /// Finest-level option.
    pub finest: Finest,
    /// Wrap-size option.
    pub wrap: WrapSize,
}

impl Default for CurveletOptions {
    fn default() -> Self {
        Self {
            scales: None,
            coarse_angles: 16,
            finest: Finest::Wavelets,
            wrap: WrapSize::Smooth,
        }
    }
}

/// Smallest image side accepted.
pub const MIN_SIDE: usize = 16;

/// Default number of scales for an `n1 × n2` image.
pub fn default_scales(n1: usize, n2: usize) -> usize {
    let m = n1.min(n2).max(1) as f64;
    ((m.log2() - 3.0).ceil().max(3.0)) as usize
}

/// Largest number of scales that keeps a coarsest low-pass with a non-empty flat part.
pub fn max_scales(n1: usize, n2: usize) -> usize {
    // Coarsest L = (4 n / 3) / 2^(J−1) must be ≥ 4.
    let m = n1.min(n2) as f64;
    (1.0 + (m / 3.0).log2()).floor().max(1.0) as usize
}

struct Stage {
    band: usize,
    kind: BandKind,
    p1: usize,
    p2: usize,
    // Entry ranges: [e0, e1) direct interior, [e1, e2) direct on the k2 = 0 / Nyquist
    // columns, [e2, e3) conjugated.
    e0: usize,
    e1: usize,
    e2: usize,
    e3: usize,
    // The three entry ranges as runs (indices into the plan's runs).
    runs: [std::ops::Range<usize>; 3],
    row_inv: Arc<dyn Fft<f64>>,
    col_inv: Arc<dyn Fft<f64>>,
    row_fwd: Arc<dyn Fft<f64>>,
    col_fwd: Arc<dyn Fft<f64>>,
}

struct Dense {
    band: usize,
    // Weight per spectrum-layout index (includes 1/(n1 n2)).
    weight: Vec<f64>,
}

/// A curvelet transform plan for one grid size. Immutable and `Sync`: share it between
/// threads and give each its own [`Workspace`].
pub struct CurveletPlan {
    n1: usize,
    n2: usize,
    h: usize,
    options: CurveletOptions,
    n_scales: usize,
    angles: Vec<usize>,
    layout: Arc<Layout>,
    stages: Vec<Stage>,
    dense: Option<Dense>,
    runs: Vec<Run>,
    w: Vec<f64>,
    r2c: Arc<dyn RealToComplex<f64>>,
    c2r: Arc<dyn ComplexToReal<f64>>,
    col_fwd: Arc<dyn Fft<f64>>,
    col_inv: Arc<dyn Fft<f64>>,
    // Half-length column transforms of mirror extensions (even n1).
    half: Option<HalfRows>,
    scratch_len: usize,
    max_wedge: usize,
}

/// Scratch memory for one thread using a plan.
pub struct Workspace {
    n1: usize,
    n2: usize,
    spec: Vec<C64>,
    rows: Vec<C64>,
    wbuf: Vec<C64>,
    tbuf: Vec<C64>,
    scratch: Vec<C64>,
    rowbuf: Vec<f64>,
    // The dense band of a batch transform (sized on first use).
    band_out: Vec<f64>,
}

impl Workspace {
    /// The spectrum, row, FFT scratch and real-row buffers of the full-grid 2-D DFTs.
    fn dft_buffers(&mut self) -> (&mut [C64], &mut [C64], &mut [C64], &mut [f64]) {
        (
            &mut self.spec,
            &mut self.rows,
            &mut self.scratch,
            &mut self.rowbuf,
        )
    }
}

// One wedge under construction: frequency (extended plane) and weight before normalisation.
struct Proto {
    scale: usize,
    angle: usize,
    kind: BandKind,
    rows_radial: bool,
    pts: Vec<(i64, i64, f64)>,
}

impl CurveletPlan {
    /// Build a plan for an `n1 × n2` image.
    pub fn new(n1: usize, n2: usize, options: &CurveletOptions) -> Result<Self, CurveletError> {
        let (j, angles) = checked_scales(n1, n2, options)?;
        let protos = build_protos(n1, n2, j, &angles, options.finest);
        let dense_finest = options.finest == Finest::Wavelets;
        let sizes: Vec<(usize, usize)> =
            protos.iter().map(|p| wrap_size(p, options.wrap)).collect();
        let layout = Arc::new(build_layout((n1, n2), &protos, &sizes, (j, dense_finest)));

        let mut ffts = FftCache::new();
        let h = n2 / 2 + 1;
        let col_fwd = ffts.get(n1, true);
        let col_inv = ffts.get(n1, false);
        let mut rplanner = RealFftPlanner::<f64>::new();
        let r2c = rplanner.plan_fft_forward(n2);
        let c2r = rplanner.plan_fft_inverse(n2);
        let half = HalfRows::new(n1, &mut FftPlanner::new());
        let mut scratch_len = half.as_ref().map_or(0, HalfRows::scratch_len);
        scratch_len = scratch_len
            .max(col_fwd.get_inplace_scratch_len())
            .max(col_inv.get_inplace_scratch_len())
            .max(r2c.get_scratch_len())
            .max(c2r.get_scratch_len());

        let mut entries = Entries::default();
        let mut stages = Vec::with_capacity(protos.len());
        let mut max_wedge = 0usize;
        for (pr, &size) in protos.iter().zip(&sizes) {
            let stage = wedge_stage(pr, size, &layout, &mut entries, &mut ffts)?;
            for f in [
                &stage.row_inv,
                &stage.col_inv,
                &stage.row_fwd,
                &stage.col_fwd,
            ] {
                scratch_len = scratch_len.max(f.get_inplace_scratch_len());
            }
            max_wedge = max_wedge.max(stage.p1 * stage.p2);
            stages.push(stage);
        }
        let dense = dense_finest.then(|| dense_weights(layout.scale_start[j - 1], (n1, n2)));
        let mut runs = Vec::new();
        for st in &mut stages {
            let idx = (entries.src.as_slice(), entries.dst.as_slice());
            st.runs = [
                build_runs(idx, st.e0..st.e1, false, &mut runs),
                build_runs(idx, st.e1..st.e2, false, &mut runs),
                build_runs(idx, st.e2..st.e3, true, &mut runs),
            ];
        }

        Ok(Self {
            n1,
            n2,
            h,
            options: options.clone(),
            n_scales: j,
            angles,
            layout,
            stages,
            dense,
            runs,
            w: entries.w,
            r2c,
            c2r,
            col_fwd,
            col_inv,
            half,
            scratch_len,
            max_wedge,
        })
    }

    /// Image rows.
    pub fn n1(&self) -> usize {
        self.n1
    }
    /// Image columns.
    pub fn n2(&self) -> usize {
        self.n2
    }
    /// Options the plan was built with.
    pub fn options(&self) -> &CurveletOptions {
        &self.options
    }
    /// Number of scales J.
    pub fn n_scales(&self) -> usize {
        self.n_scales
    }
    /// Number of angles at scale `s` counted over the full circle (1 for the coarsest and
    /// for a wavelet finest band). Scale `s` stores half as many cosine/sine pair bands.
    pub fn angles(&self, s: usize) -> usize {
        if s + 1 == self.n_scales && self.dense.is_some() {
            1
        } else {
            self.angles[s]
        }
    }
    /// Coefficient layout.
    pub fn layout(&self) -> &Arc<Layout> {
        &self.layout
    }
    /// Real coefficients per pixel.
    pub fn redundancy(&self) -> f64 {
        self.layout.redundancy()
    }
    /// Zero coefficients of this plan's layout.
    pub fn new_coefficients(&self) -> Coefficients {
        Coefficients::zeros(self.layout.clone())
    }
    /// Scratch memory for one thread.
    pub fn new_workspace(&self) -> Workspace {
        let z = C64::new(0.0, 0.0);
        Workspace {
            n1: self.n1,
            n2: self.n2,
            spec: vec![z; self.h * self.n1],
            rows: vec![z; self.h * self.n1],
            wbuf: vec![z; self.max_wedge],
            tbuf: vec![z; self.max_wedge],
            scratch: vec![z; self.scratch_len],
            rowbuf: vec![0.0; self.n2],
            band_out: Vec::new(),
        }
    }

    fn check(
        &self,
        image_len: usize,
        c: &Coefficients,
        ws: &Workspace,
    ) -> Result<(), CurveletError> {
        if !Arc::ptr_eq(c.layout(), &self.layout) && **c.layout() != *self.layout {
            return Err(CurveletError::SizeMismatch {
                what: "coefficient layout",
                expected: self.layout.total,
                got: c.len(),
            });
        }
        self.check_image(image_len, ws)
    }

    /// An image of this grid and a workspace of this plan.
    fn check_image(&self, image_len: usize, ws: &Workspace) -> Result<(), CurveletError> {
        let n = self.n1 * self.n2;
        if image_len != n {
            return Err(CurveletError::SizeMismatch {
                what: "image",
                expected: n,
                got: image_len,
            });
        }
        if ws.n1 != self.n1 || ws.n2 != self.n2 || ws.wbuf.len() < self.max_wedge {
            return Err(CurveletError::SizeMismatch {
                what: "workspace",
                expected: n,
                got: ws.n1 * ws.n2,
            });
        }
        Ok(())
    }

    /// Forward transform of a row-major `n1 × n2` image into `out`.
    pub fn forward(
        &self,
        image: &[f64],
        out: &mut Coefficients,
        ws: &mut Workspace,
    ) -> Result<(), CurveletError> {
        self.forward_impl(image, None, out, ws)
    }

    /// [`CurveletPlan::forward`] of an image whose rows are symmetric under the reflection
    /// `mirror` (row r equals row `mirror[r]`, `mirror[r] = (a − r) mod n1` for a fixed a,
    /// as a mirror extension gives): the row FFTs of repeated rows are copied (same bits)
    /// and so are the wavelet band's mirrored rows (the band inherits the symmetry, since
    /// its window is even; equal up to round-off). About a sixth less work.
    pub fn forward_mirrored_rows(
        &self,
        image: &[f64],
        mirror: &[u32],
        out: &mut Coefficients,
        ws: &mut Workspace,
    ) -> Result<(), CurveletError> {
        self.check_mirror(mirror)?;
        self.forward_impl(image, Some(mirror), out, ws)
    }

    /// A row reflection of this grid: `mirror[r] = (a − r) mod n1` for one a.
    fn check_mirror(&self, mirror: &[u32]) -> Result<(), CurveletError> {
        let n1 = self.n1;
        let a = mirror.first().map_or(0, |&m| m as usize);
        if mirror.len() != n1
            || mirror
                .iter()
                .enumerate()
                .any(|(r, &m)| m as usize != (a + n1 - r % n1) % n1)
        {
            return Err(CurveletError::SizeMismatch {
                what: "row reflection",
                expected: n1,
                got: mirror.len(),
            });
        }
        Ok(())
    }

    fn forward_impl(
        &self,
        image: &[f64],
        mirror: Option<&[u32]>,
        out: &mut Coefficients,
        ws: &mut Workspace,
    ) -> Result<(), CurveletError> {
        self.check(image.len(), out, ws)?;
        self.spectrum(image, mirror, ws)?;
        let data = out.as_mut_slice();
        for st in &self.stages {
            let tb = self.wedge(st, ws);
            let info = &self.layout.bands[st.band];
            let band = &mut data[info.offset..info.offset + info.len()];
            match st.kind {
                BandKind::Real => {
                    for (o, v) in band.iter_mut().zip(tb.iter()) {
                        *o = v.re;
                    }
                }
                BandKind::Pair => {
                    let (ca, sa) = band.split_at_mut(tb.len());
                    for ((c, s), v) in ca.iter_mut().zip(sa.iter_mut()).zip(tb.iter()) {
                        *c = v.re;
                        *s = v.im;
                    }
                }
            }
        }
        if let Some(d) = &self.dense {
            let info = &self.layout.bands[d.band];
            let band = &mut data[info.offset..info.offset + info.len()];
            self.dense_band(d, mirror, ws, band)?;
        }
        Ok(())
    }

    /// The image's spectrum into `ws.spec` (after refusing a non-finite pixel).
    fn spectrum(
        &self,
        image: &[f64],
        mirror: Option<&[u32]>,
        ws: &mut Workspace,
    ) -> Result<(), CurveletError> {
        if !all_finite(image) {
            let i = image.iter().position(|v| !v.is_finite()).unwrap_or(0);
            return Err(CurveletError::NonFinite {
                row: i / self.n2,
                col: i % self.n2,
            });
        }
        let (spec, rows, scratch, rowbuf) = ws.dft_buffers();
        let half = self.half_rows(mirror);
        match half {
            Some((hr, s)) => self.dft2_half(hr, s, image, false, rowbuf, rows, spec, scratch)?,
            None => self.dft2(image, rowbuf, rows, spec, scratch, mirror)?,
        }
        Ok(())
    }

    /// One wedge's coefficients from the spectrum in `ws.spec`: the gather of weighted
    /// samples into the wrap, its inverse 2-D FFT; row-major complex values in `ws.tbuf`.
    fn wedge<'w>(&self, st: &Stage, ws: &'w mut Workspace) -> &'w [C64] {
        let p = st.p1 * st.p2;
        let (spec, sc) = (&ws.spec, &mut ws.scratch[..]);
        let wb = &mut ws.wbuf[..p];
        let tb = &mut ws.tbuf[..p];
        wb.fill(C64::new(0.0, 0.0));
        let [direct, edge, conj] = &st.runs;
        gather(&self.runs[direct.clone()], spec, &self.w, wb, false);
        gather(&self.runs[edge.clone()], spec, &self.w, wb, false);
        gather(&self.runs[conj.clone()], spec, &self.w, wb, true);
        // The wrapped wedge is stored column-major (P2 × P1), so the column transforms
        // run on contiguous data and one transpose leaves the result row-major.
        st.col_inv.process_with_scratch(wb, sc);
        transpose(wb, tb, st.p2, st.p1);
        st.row_inv.process_with_scratch(tb, sc);
        tb
    }

    /// The dense finest band from the spectrum in `ws.spec` (overwritten) into `band`.
    fn dense_band(
        &self,
        d: &Dense,
        mirror: Option<&[u32]>,
        ws: &mut Workspace,
        band: &mut [f64],
    ) -> Result<(), CurveletError> {
        for (s, wt) in ws.spec.iter_mut().zip(&d.weight) {
            *s *= *wt;
        }
        self.spectrum_out(mirror, false, ws, band)
    }

    /// Inverse (= adjoint) transform of `coeffs` into a row-major `n1 × n2` image.
    pub fn inverse(
        &self,
        coeffs: &Coefficients,
        image: &mut [f64],
        ws: &mut Workspace,
    ) -> Result<(), CurveletError> {
        self.inverse_impl(coeffs, image, ws, None)
    }

    /// The inverse y = C* coeffs folded over the row reflection `mirror` (as in
    /// [`CurveletPlan::forward_mirrored_rows`]): row r of `image` holds y_r + y_mirror[r]
    /// when r < mirror[r], y_r when r = mirror[r], and 0 when r > mirror[r]. Summing the
    /// mirrored copies of an extension (its adjoint) gives the same as for y, up to
    /// round-off; the rows' spectra are added before their real FFT, so half of those
    /// are saved.
    pub fn inverse_row_folded(
        &self,
        coeffs: &Coefficients,
        mirror: &[u32],
        image: &mut [f64],
        ws: &mut Workspace,
    ) -> Result<(), CurveletError> {
        self.check_mirror(mirror)?;
        self.inverse_impl(coeffs, image, ws, Some(mirror))
    }

    fn inverse_impl(
        &self,
        coeffs: &Coefficients,
        image: &mut [f64],
        ws: &mut Workspace,
        fold: Option<&[u32]>,
    ) -> Result<(), CurveletError> {
        self.check(image.len(), coeffs, ws)?;
        let data = coeffs.as_slice();
        let dense = self.dense.as_ref().map(|d| {
            let info = &self.layout.bands[d.band];
            &data[info.offset..info.offset + info.len()]
        });
        self.dense_adjoint(dense, fold, ws)?;
        for st in &self.stages {
            let p = st.p1 * st.p2;
            let info = &self.layout.bands[st.band];
            let band = &data[info.offset..info.offset + info.len()];
            let tb = &mut ws.tbuf[..p];
            match st.kind {
                BandKind::Real => {
                    for (t, v) in tb.iter_mut().zip(band.iter()) {
                        *t = C64::new(*v, 0.0);
                    }
                }
                BandKind::Pair => {
                    let (ca, sa) = band.split_at(p);
                    for ((t, c), s) in tb.iter_mut().zip(ca).zip(sa) {
                        *t = C64::new(*c, *s);
                    }
                }
            }
            self.wedge_adjoint(st, ws);
        }
        self.spectrum_to_image(fold, ws, image)
    }

    /// Start the adjoint's spectrum in `ws.spec`: the dense finest band's share (its
    /// values `band`, with a plan that has one), else zeros.
    fn dense_adjoint(
        &self,
        band: Option<&[f64]>,
        fold: Option<&[u32]>,
        ws: &mut Workspace,
    ) -> Result<(), CurveletError> {
        let (spec, rows, sc, rowbuf) = ws.dft_buffers();
        let (Some(d), Some(band)) = (&self.dense, band) else {
            spec.fill(C64::new(0.0, 0.0));
            return Ok(());
        };
        match self.half_rows(fold) {
            // Only the fold of C* c is wanted, and the band's window is even in k1: its
            // rows folded first give twice its share of the fold's symmetric spectrum.
            Some((hr, s)) => {
                self.dft2_half(hr, s, band, true, rowbuf, rows, spec, sc)?;
                for (s, wt) in spec.iter_mut().zip(&d.weight) {
                    *s *= *wt * 0.5;
                }
            }
            None => {
                self.dft2(band, rowbuf, rows, spec, sc, None)?;
                for (s, wt) in spec.iter_mut().zip(&d.weight) {
                    *s *= *wt;
                }
            }
        }
        Ok(())
    }

    /// Add one wedge's share to the spectrum in `ws.spec`, from its row-major complex
    /// values in `ws.tbuf` (overwritten): the 2-D FFT, then the weighted scatter-add.
    fn wedge_adjoint(&self, st: &Stage, ws: &mut Workspace) {
        let (p1, p2) = (st.p1, st.p2);
        let p = p1 * p2;
        let (spec, sc) = (&mut ws.spec, &mut ws.scratch[..]);
        let wb = &mut ws.wbuf[..p];
        let tb = &mut ws.tbuf[..p];
        st.row_fwd.process_with_scratch(tb, sc);
        transpose(tb, wb, p1, p2);
        st.col_fwd.process_with_scratch(wb, sc);
        let runs = |r: &std::ops::Range<usize>| &self.runs[r.clone()];
        let [direct, edge, conj] = &st.runs;
        let w = &self.w[..];
        match st.kind {
            BandKind::Real => {
                // The band is Hermitian: the conjugated half is implied by the c2r.
                scatter_add(runs(direct), wb, (w, 1.0), spec, false);
                scatter_add(runs(edge), wb, (w, 1.0), spec, false);
            }
            BandKind::Pair => {
                // On the k2 = 0 and Nyquist columns both k and −k are stored; adding
                // twice the value and dropping the imaginary part after the column
                // transforms (below) equals adding the value and its mirror.
                scatter_add(runs(direct), wb, (w, 0.5), spec, false);
                scatter_add(runs(edge), wb, (w, 1.0), spec, false);
                scatter_add(runs(conj), wb, (w, 0.5), spec, true);
            }
        }
    }

    /// The adjoint's spectrum in `ws.spec` into the image (folded over `fold`).
    fn spectrum_to_image(
        &self,
        fold: Option<&[u32]>,
        ws: &mut Workspace,
        image: &mut [f64],
    ) -> Result<(), CurveletError> {
        self.spectrum_out(fold, true, ws, image)
    }

    /// The spectrum in `ws.spec` (overwritten) into `out`, over the row reflection
    /// `mirror`: rows copied from their mirror (a symmetric image) or, with `fold`, folded.
    fn spectrum_out(
        &self,
        mirror: Option<&[u32]>,
        fold: bool,
        ws: &mut Workspace,
        out: &mut [f64],
    ) -> Result<(), CurveletError> {
        let Workspace {
            spec,
            rows,
            scratch,
            ..
        } = ws;
        let rows_out = mirror.map(if fold { RowOut::Fold } else { RowOut::Copy });
        match self.half_rows(mirror) {
            Some((hr, s)) => self.idft2_half(hr, s, spec, fold, rows, out, scratch),
            None => self.idft2(spec, rows, out, scratch, rows_out),
        }
    }

    /// The half-length column transforms and rotation for a (checked) row reflection with
    /// an odd a on an even row count; `None`: full-length transforms.
    fn half_rows(&self, mirror: Option<&[u32]>) -> Option<(&HalfRows, usize)> {
        let hr = self.half.as_ref()?;
        Some((hr, hr.shift(mirror?)?))
    }

    /// 2-D DFT of the real row-major `n1 × n2` image into the spectrum layout (`rows` and
    /// `rowbuf` are scratch).
    /// With `mirror`, rows equal to an earlier row copy its FFT.
    fn dft2(
        &self,
        image: &[f64],
        rowbuf: &mut [f64],
        rows: &mut [C64],
        spec: &mut [C64],
        sc: &mut [C64],
        mirror: Option<&[u32]>,
    ) -> Result<(), CurveletError> {
        let (n1, n2, h) = (self.n1, self.n2, self.h);
        for i in 0..n1 {
            let m = mirror.map_or(i, |m| m[i] as usize);
            if m < i {
                rows.copy_within(m * h..(m + 1) * h, i * h);
                continue;
            }
            rowbuf.copy_from_slice(&image[i * n2..(i + 1) * n2]);
            self.r2c
                .process_with_scratch(rowbuf, &mut rows[i * h..(i + 1) * h], sc)
                .map_err(|_| CurveletError::Internal("r2c"))?;
        }
        transpose(rows, spec, n1, h);
        self.col_fwd.process_with_scratch(spec, sc);
        Ok(())
    }

    /// The inverse of [`CurveletPlan::dft2`]: the spectrum (overwritten) into the real
    /// row-major `n1 × n2` image `out` (`rows` is scratch), with rows copied or folded
    /// over a reflection as `rows_out` says.
    fn idft2(
        &self,
        spec: &mut [C64],
        rows: &mut [C64],
        out: &mut [f64],
        sc: &mut [C64],
        rows_out: Option<RowOut<'_>>,
    ) -> Result<(), CurveletError> {
        let (n1, n2, h) = (self.n1, self.n2, self.h);
        self.col_inv.process_with_scratch(spec, sc);
        transpose(spec, rows, h, n1);
        for i in 0..n1 {
            match rows_out {
                Some(RowOut::Copy(m)) if (m[i] as usize) < i => {
                    let m = m[i] as usize;
                    out.copy_within(m * n2..(m + 1) * n2, i * n2);
                    continue;
                }
                Some(RowOut::Fold(m)) if (m[i] as usize) < i => {
                    out[i * n2..(i + 1) * n2].fill(0.0);
                    continue;
                }
                Some(RowOut::Fold(m)) if (m[i] as usize) > i => {
                    let (head, tail) = rows.split_at_mut(m[i] as usize * h);
                    for (a, b) in head[i * h..(i + 1) * h].iter_mut().zip(&tail[..h]) {
                        *a += *b;
                    }
                }
                _ => {}
            }
            let r = &mut rows[i * h..(i + 1) * h];
            r[0].im = 0.0;
            if n2.is_multiple_of(2) {
                r[h - 1].im = 0.0;
            }
            self.c2r
                .process_with_scratch(r, &mut out[i * n2..(i + 1) * n2], sc)
                .map_err(|_| CurveletError::Internal("c2r"))?;
        }
        Ok(())
    }
}

/// How [`CurveletPlan::idft2`] writes the rows of an image with a row reflection.
#[derive(Clone, Copy)]
enum RowOut<'a> {
    /// The image is symmetric: a row past its mirror copies it.
    Copy(&'a [u32]),
    /// Fold: the first row of a pair gets both rows' sum, the second zeros.
    Fold(&'a [u32]),
}

/// Whether every value is finite: v·0 is 0 for a finite v and NaN otherwise, summed in
/// eight independent lanes (vectorised, no early exit).
fn all_finite(x: &[f64]) -> bool {
    let mut lanes = [0.0f64; 8];
    let chunks = x.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for (l, v) in lanes.iter_mut().zip(c) {
            *l += v * 0.0;
        }
    }
    lanes.iter().all(|l| *l == 0.0) && tail.iter().all(|v| v.is_finite())
}

/// Blocked transpose of a `rows × cols` matrix into `cols × rows`.
fn transpose(src: &[C64], dst: &mut [C64], rows: usize, cols: usize) {
    assert!(src.len() >= rows * cols && dst.len() >= rows * cols);
    const B: usize = 16;
    let mut i0 = 0;
    while i0 < rows {
        let i1 = (i0 + B).min(rows);
        let mut j0 = 0;
        while j0 < cols {
            let j1 = (j0 + B).min(cols);
            for i in i0..i1 {
                for j in j0..j1 {
                    // SAFETY: i < rows and j < cols, and both slices hold rows × cols items
                    // (asserted above).
                    unsafe {
                        *dst.get_unchecked_mut(j * rows + i) = *src.get_unchecked(i * cols + j);
                    }
                }
            }
            j0 = j1;
        }
        i0 = i1;
    }
}

type Coord = fn(&(i64, i64, f64)) -> i64;

/// Sizes of the wrapping rectangle of one wedge: large enough that wrapping is one-to-one.
fn wrap_size(pr: &Proto, mode: WrapSize) -> (usize, usize) {
    let (p1, p2) = if pr.kind == BandKind::Real {
        // Coarsest band: symmetric box around the origin.
        let m1 = pr.pts.iter().map(|p| p.0.unsigned_abs()).max().unwrap_or(0) as usize;
        let m2 = pr.pts.iter().map(|p| p.1.unsigned_abs()).max().unwrap_or(0) as usize;
        (2 * m1 + 1, 2 * m2 + 1)
    } else {
        // Rows-radial wedges: distinct rows stay distinct when the row count covers the
        // radial span, and each row's interval stays one-to-one when the column count
        // covers the widest row. Columns-radial wedges likewise with the axes swapped.
        let (radial, across): (Coord, Coord) = if pr.rows_radial {
            (|p| p.0, |p| p.1)
        } else {
            (|p| p.1, |p| p.0)
        };
        let mut spans: HashMap<i64, (i64, i64)> = HashMap::new();
        for p in &pr.pts {
            let e = spans.entry(radial(p)).or_insert((i64::MAX, i64::MIN));
            e.0 = e.0.min(across(p));
            e.1 = e.1.max(across(p));
        }
        let rmin = spans.keys().min().copied().unwrap_or(0);
        let rmax = spans.keys().max().copied().unwrap_or(0);
        let span = (rmax - rmin + 1).max(1) as usize;
        let width = spans
            .values()
            .map(|(a, b)| b - a + 1)
            .max()
            .unwrap_or(1)
            .max(1) as usize;
        if pr.rows_radial {
            (span, width)
        } else {
            (width, span)
        }
    };
    match mode {
        WrapSize::Minimal => (p1, p2),
        WrapSize::Smooth => (next_smooth(p1), next_smooth(p2)),
    }
}

/// Window samples of φ_L on integer frequencies −m..=m (index k + m).
fn lowpass_table(m: i64, big_l: f64) -> Vec<f64> {
    (-m..=m).map(|k| lowpass_1d(k as f64, big_l)).collect()
}

/// All wedges (except a dense wavelet finest band) with their frequencies and window values.
fn build_protos(n1: usize, n2: usize, j: usize, angles: &[usize], finest: Finest) -> Vec<Proto> {
    // Boundary m (1 ≤ m ≤ J) uses L = (4N/3) / 2^(J−m); m = J is the outermost window.
    let big_l = |m: usize, n: usize| 4.0 * n as f64 / 3.0 / f64::powi(2.0, (j - m) as i32);
    let mut out = Vec::new();

    // Coarsest band: Φ_1.
    {
        let (la, lb) = (big_l(1, n1), big_l(1, n2));
        let (ma, mb) = ((la / 2.0).floor() as i64, (lb / 2.0).floor() as i64);
        let (ta, tb) = (lowpass_table(ma, la), lowpass_table(mb, lb));
        let mut pts = Vec::new();
        for k1 in -ma..=ma {
            for k2 in -mb..=mb {
                let v = ta[(k1 + ma) as usize] * tb[(k2 + mb) as usize];
                if v > 0.0 {
                    pts.push((k1, k2, v));
                }
            }
        }
        out.push(Proto {
            scale: 0,
            angle: 0,
            kind: BandKind::Real,
            rows_radial: true,
            pts,
        });
    }

    let last = match finest {
        Finest::Curvelets => j,
        Finest::Wavelets => j - 1,
    };
    for (s, &a) in angles.iter().enumerate().take(last).skip(1) {
        let half = a / 2;
        let delta = 8.0 / a as f64;
        // Outer window: Φ_{s+1}; for s = J−1 (curvelet finest) the periodic-extension taper
        // φ_{4N/3}, whose squared aliases sum to one.
        let (lo1, lo2) = (big_l(s + 1, n1), big_l(s + 1, n2));
        let (li1, li2) = (big_l(s, n1), big_l(s, n2));
        let (m1, m2) = ((lo1 / 2.0).floor() as i64, (lo2 / 2.0).floor() as i64);
        let (to1, to2) = (lowpass_table(m1, lo1), lowpass_table(m2, lo2));
        let (ti1, ti2) = (lowpass_table(m1, li1), lowpass_table(m2, li2));
        let mut wedges: Vec<Proto> = (0..half)
            .map(|l| Proto {
                scale: s,
                angle: l,
                kind: BandKind::Pair,
                rows_radial: (l as f64 + 0.5) * delta < 2.0,
                pts: Vec::new(),
            })
            .collect();
        for k1 in -m1..=m1 {
            let (o1, i1) = (to1[(k1 + m1) as usize], ti1[(k1 + m1) as usize]);
            for k2 in -m2..=m2 {
                let (o2, i2) = (to2[(k2 + m2) as usize], ti2[(k2 + m2) as usize]);
                let outer = o1 * o2;
                let inner = i1 * i2;
                let b2 = outer * outer - inner * inner;
                if b2 <= 0.0 {
                    continue;
                }
                let b = b2.sqrt();
                let u = pseudo_angle(k1 as f64, k2 as f64);
                for (l, aw) in angular_weights(u, a) {
                    if l < half && aw > 0.0 {
                        wedges[l].pts.push((k1, k2, b * aw));
                    }
                }
            }
        }
        out.extend(wedges);
    }
    out
}
