//! The inverse transform of coefficients that the caller writes band by band, for
//! coefficients made on the fly (an update of a few kept values per band): no
//! coefficient-sized vector is written and read back. The result equals the stored
//! inverse of the same values, bit for bit.

use num_complex::Complex64 as C64;

use super::super::coeffs::{BandInfo, BandKind};
use super::{CurveletError, CurveletPlan, Workspace};

/// Where the caller writes one band's coefficients; every value must be written.
#[derive(Debug)]
pub enum BandSlot<'a> {
    /// A wedge's row-major complex values: coefficient j of a real band goes to
    /// `values[j].re` (imaginary parts 0); of a pair band, cosine j to `values[j].re` and
    /// sine j (flat position `positions + j` within the band) to `values[j].im`.
    Wedge { values: &'a mut [C64], pair: bool },
    /// The dense finest band, in flat order.
    Dense(&'a mut [f64]),
}

impl CurveletPlan {
    /// [`CurveletPlan::inverse`] (no `fold`) or [`CurveletPlan::inverse_row_folded`] of the
    /// coefficients `source(info, slot)` writes band by band: the dense finest band first,
    /// then the wedges in plan order.
    pub fn inverse_from(
        &self,
        fold: Option<&[u32]>,
        image: &mut [f64],
        ws: &mut Workspace,
        mut source: impl FnMut(&BandInfo, BandSlot<'_>),
    ) -> Result<(), CurveletError> {
        if let Some(m) = fold {
            self.check_mirror(m)?;
        }
        self.check_image(image.len(), ws)?;
        let mut band = std::mem::take(&mut ws.band_out);
        let dense = self.dense.as_ref().map(|d| {
            let info = &self.layout.bands[d.band];
            band.resize(info.len(), 0.0);
            source(info, BandSlot::Dense(&mut band));
            &band[..]
        });
        let started = self.dense_adjoint(dense, fold, ws);
        ws.band_out = band;
        started?;
        for st in &self.stages {
            let (p, pair) = (st.p1 * st.p2, st.kind == BandKind::Pair);
            let values = &mut ws.tbuf[..p];
            source(
                &self.layout.bands[st.band],
                BandSlot::Wedge { values, pair },
            );
            self.wedge_adjoint(st, ws);
        }
        self.spectrum_to_image(fold, ws, image)
    }
}
