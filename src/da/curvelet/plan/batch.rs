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

    /// `acc[j] += c_j²` over the band in flat order (`acc`: the band's slice of a
    /// coefficient-sized accumulator), the same operations as adding a stored band.
    pub fn add_squares(&self, acc: &mut [f64]) {
        match *self {
            Self::Dense(v) => add_squares(acc, v.iter().copied()),
            Self::Wedge {
                values,
                pair: false,
            } => add_squares(acc, values.iter().map(|v| v.re)),
            Self::Wedge { values, pair: true } => {
                let (c, s) = acc.split_at_mut(values.len());
                add_squares(c, values.iter().map(|v| v.re));
                add_squares(s, values.iter().map(|v| v.im));
            }
        }
    }
}

fn add_squares(acc: &mut [f64], values: impl Iterator<Item = f64>) {
    for (a, v) in acc.iter_mut().zip(values) {
        *a += v * v;
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
