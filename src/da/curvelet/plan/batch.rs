//! Forward transforms of several images at once, band by band, handed to a consumer
//! instead of stored: for per-coefficient statistics over an ensemble (sums of squares,
//! differences) that would otherwise write every image's coefficients to memory and read
//! them back. The values are those of [`CurveletPlan::forward`], bit for bit.

use num_complex::Complex64 as C64;

use super::super::coeffs::{BandInfo, BandKind};
use super::{CurveletError, CurveletPlan, Workspace};

/// One band of one image of a batch, valid until the consumer returns.
#[derive(Clone, Copy, Debug)]
pub enum BandValues<'a> {
    /// A wedge's row-major complex values: coefficient j of a real band is `values[j].re`;
    /// of a pair band, cosine j is `values[j].re` and sine j (flat position
    /// `positions + j` within the band) is `values[j].im`.
    Wedge { values: &'a [C64], pair: bool },
    /// The dense finest band, in flat order.
    Dense(&'a [f64]),
}

impl BandValues<'_> {
    /// Coefficient `j` of the band in flat order (0 ≤ j < the band's length).
    #[inline]
    pub fn get(&self, j: usize) -> f64 {
        match *self {
            Self::Dense(v) => v[j],
            Self::Wedge { values, .. } => match values.get(j) {
                Some(v) => v.re,
                None => values[j - values.len()].im,
            },
        }
    }
}

/// How [`square_sums`] combines its per-coefficient sum with the accumulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SumInto {
    /// `acc[j] += s_j`.
    Add,
    /// `acc[j] = s_j`: the same bits as adding to zeros (the sums are never negative), without
    /// clearing the accumulator first.
    Store,
}

/// For one band of several images (`bands`, all of the same band): the per-coefficient sum
/// of squares s_j = ((c_0j² + c_1j²) + …), summed in image order, then combined with
/// `acc` (the band's slice of a coefficient-sized accumulator, flat order) by `into`.
/// One image gives `acc[j] += c_j²`, the same operations as adding a stored band.
pub fn square_sums(bands: &[BandValues<'_>], acc: &mut [f64], into: SumInto) {
    let Some(first) = bands.first() else {
        return;
    };
    match *first {
        BandValues::Dense(_) => {
            let v: Vec<&[f64]> = bands.iter().map(|b| b.dense(acc.len())).collect();
            fold(acc, &v, |x| x, into);
        }
        BandValues::Wedge { values, pair } => {
            let n = values.len();
            let v: Vec<&[C64]> = bands.iter().map(|b| b.wedge(n)).collect();
            let (c, s) = acc.split_at_mut(if pair { n } else { acc.len() });
            fold(c, &v, |z| z.re, into);
            if pair {
                fold(s, &v, |z| z.im, into);
            }
        }
    }
}

impl<'a> BandValues<'a> {
    /// The dense values (at least `len`; empty for a wedge, which `square_sums` never mixes).
    fn dense(&self, len: usize) -> &'a [f64] {
        match *self {
            Self::Dense(v) => &v[..len.min(v.len())],
            Self::Wedge { .. } => &[],
        }
    }

    /// The wedge's `n` complex values (empty for a dense band).
    fn wedge(&self, n: usize) -> &'a [C64] {
        match *self {
            Self::Wedge { values, .. } => &values[..n.min(values.len())],
            Self::Dense(_) => &[],
        }
    }
}

/// `acc[j] (+)= Σ_m part(v_m[j])²` in image order; one or two images (the pass-1 cases)
/// get loops the compiler vectorises.
fn fold<T: Copy>(acc: &mut [f64], v: &[&[T]], part: impl Fn(T) -> f64, into: SumInto) {
    let put = |a: &mut f64, s: f64| match into {
        SumInto::Add => *a += s,
        SumInto::Store => *a = s,
    };
    match v {
        [x] => acc
            .iter_mut()
            .zip(*x)
            .for_each(|(a, &x)| put(a, part(x) * part(x))),
        [x, y] => acc
            .iter_mut()
            .zip(x.iter().zip(*y))
            .for_each(|(a, (&x, &y))| put(a, part(x) * part(x) + part(y) * part(y))),
        _ => {
            for (j, a) in acc.iter_mut().enumerate() {
                let s = v.iter().fold(None, |s: Option<f64>, x| {
                    let c = part(x[j]);
                    Some(s.map_or(c * c, |s| s + c * c))
                });
                put(a, s.unwrap_or(0.0));
            }
        }
    }
}

impl CurveletPlan {
    /// The forward transforms of `M` images (with the row reflection `mirror` as in
    /// [`CurveletPlan::forward_mirrored_rows`], or none), one workspace each, delivered
    /// band by band: `sink(info, values)` gets every image's values of one band (wedges in
    /// plan order, then the dense finest band). Nothing coefficient-sized is stored; the
    /// values equal the stored transform's bit for bit.
    pub fn forward_batch<const M: usize>(
        &self,
        images: [&[f64]; M],
        mirror: Option<&[u32]>,
        mut wss: [&mut Workspace; M],
        mut sink: impl FnMut(&BandInfo, [BandValues<'_>; M]),
    ) -> Result<(), CurveletError> {
        if let Some(m) = mirror {
            self.check_mirror(m)?;
        }
        for (image, ws) in images.iter().zip(wss.iter_mut()) {
            self.check_image(image.len(), ws)?;
            self.spectrum(image, mirror, ws)?;
        }
        for st in &self.stages {
            for ws in wss.iter_mut() {
                self.wedge(st, ws);
            }
            let (p, pair) = (st.p1 * st.p2, st.kind == BandKind::Pair);
            let values = std::array::from_fn(|m| BandValues::Wedge {
                values: &wss[m].tbuf[..p],
                pair,
            });
            sink(&self.layout.bands[st.band], values);
        }
        if let Some(d) = &self.dense {
            let info = &self.layout.bands[d.band];
            for ws in wss.iter_mut() {
                let mut band = std::mem::take(&mut ws.band_out);
                band.resize(info.len(), 0.0);
                let done = self.dense_band(d, mirror, ws, &mut band);
                ws.band_out = band;
                done?;
            }
            sink(
                info,
                std::array::from_fn(|m| BandValues::Dense(&wss[m].band_out[..info.len()])),
            );
        }
        Ok(())
    }
}
