//! Curvelet coefficient storage: one flat vector of reals with views by scale and angle.

use std::sync::Arc;

use ndarray::{ArrayView2, ArrayViewMut2};

use super::CurveletError;

/// Whether a band holds plain real coefficients (coarsest band, wavelet finest band) or
/// cosine/sine pairs of real-valued curvelets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BandKind {
    /// One real array.
    Real,
    /// Two real arrays of equal shape: √2·Re and √2·Im of one complex wedge.
    Pair,
}

/// Where one band (a scale and an angle) lives in the flat coefficient vector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BandInfo {
    /// Scale index, 0 = coarsest.
    pub scale: usize,
    /// Angle index within the scale (a complex wedge for pair bands; 0 for real bands).
    pub angle: usize,
    /// Offset of the first (cosine or real) array in the flat vector.
    pub offset: usize,
    /// Rows of each array.
    pub rows: usize,
    /// Columns of each array.
    pub cols: usize,
    /// Real or cosine/sine pair.
    pub kind: BandKind,
}

impl BandInfo {
    /// Number of positions (rows × cols).
    pub fn positions(&self) -> usize {
        self.rows * self.cols
    }
    /// Number of real values the band occupies.
    pub fn len(&self) -> usize {
        match self.kind {
            BandKind::Real => self.positions(),
            BandKind::Pair => 2 * self.positions(),
        }
    }
    /// True when the band has no positions.
    pub fn is_empty(&self) -> bool {
        self.positions() == 0
    }
}

/// The shape of a coefficient set: bands per scale and the flat size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Image rows.
    pub n1: usize,
    /// Image columns.
    pub n2: usize,
    /// Bands, scale by scale, angle by angle (flat order).
    pub bands: Vec<BandInfo>,
    /// Index of the first band of each scale in `bands`, plus a final end marker.
    pub scale_start: Vec<usize>,
    /// Total number of real values.
    pub total: usize,
    /// Total number of magnitude units (pairs count once, real values once).
    pub units: usize,
}

impl Layout {
    /// Number of scales.
    pub fn n_scales(&self) -> usize {
        self.scale_start.len() - 1
    }
    /// Bands of scale `s`.
    pub fn scale_bands(&self, s: usize) -> &[BandInfo] {
        &self.bands[self.scale_start[s]..self.scale_start[s + 1]]
    }
    /// Real coefficients per pixel.
    pub fn redundancy(&self) -> f64 {
        self.total as f64 / (self.n1 * self.n2) as f64
    }
}

/// A view of one band: the real (or cosine) array and, for pairs, the sine array.
pub struct BandView<'a> {
    /// Band description.
    pub info: &'a BandInfo,
    /// Real or cosine part.
    pub cos: ArrayView2<'a, f64>,
    /// Sine part for pair bands.
    pub sin: Option<ArrayView2<'a, f64>>,
}

/// A mutable view of one band.
pub struct BandViewMut<'a> {
    /// Real or cosine part.
    pub cos: ArrayViewMut2<'a, f64>,
    /// Sine part for pair bands.
    pub sin: Option<ArrayViewMut2<'a, f64>>,
}

/// Curvelet coefficients of one image.
#[derive(Clone, Debug)]
pub struct Coefficients {
    layout: Arc<Layout>,
    data: Vec<f64>,
}

impl Coefficients {
    /// Zero coefficients with the given layout.
    pub fn zeros(layout: Arc<Layout>) -> Self {
        let mut data = vec![0.0; layout.total];
        // Zeroed by the allocator, untouched when it is a fresh mapping (as large ones are).
        crate::da::huge_pages::advise(data.as_mut_ptr().cast(), 8 * data.len());
        Self { layout, data }
    }

    /// Wrap a flat vector (its length must match the layout).
    pub fn from_vec(layout: Arc<Layout>, data: Vec<f64>) -> Result<Self, CurveletError> {
        if data.len() != layout.total {
            return Err(CurveletError::SizeMismatch {
                what: "coefficient vector",
                expected: layout.total,
                got: data.len(),
            });
        }
        Ok(Self { layout, data })
    }

    /// The layout.
    pub fn layout(&self) -> &Arc<Layout> {
        &self.layout
    }
    /// Flat access.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }
    /// Flat mutable access.
    pub fn as_mut_slice(&mut self) -> &mut [f64] {
        &mut self.data
    }
    /// Number of real values.
    pub fn len(&self) -> usize {
        self.data.len()
    }
    /// True when there are no coefficients (never for a valid plan).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    /// Consume into the flat vector.
    pub fn into_vec(self) -> Vec<f64> {
        self.data
    }

    /// Number of bands at scale `s`.
    pub fn n_angles(&self, s: usize) -> usize {
        self.layout.scale_bands(s).len()
    }

    /// View of band (`scale`, `angle`); `None` if out of range.
    pub fn band(&self, scale: usize, angle: usize) -> Option<BandView<'_>> {
        if scale >= self.layout.n_scales() {
            return None;
        }
        let info = self.layout.scale_bands(scale).get(angle)?;
        let p = info.positions();
        let shape = (info.rows, info.cols);
        let cos = ArrayView2::from_shape(shape, &self.data[info.offset..info.offset + p]).ok()?;
        let sin = match info.kind {
            BandKind::Real => None,
            BandKind::Pair => Some(
                ArrayView2::from_shape(shape, &self.data[info.offset + p..info.offset + 2 * p])
                    .ok()?,
            ),
        };
        Some(BandView { info, cos, sin })
    }

    /// Mutable view of band (`scale`, `angle`).
    pub fn band_mut(&mut self, scale: usize, angle: usize) -> Option<BandViewMut<'_>> {
        if scale >= self.layout.n_scales() {
            return None;
        }
        let info = self.layout.scale_bands(scale).get(angle)?.clone();
        let p = info.positions();
        let shape = (info.rows, info.cols);
        let slice = &mut self.data[info.offset..info.offset + info.len()];
        let (a, b) = slice.split_at_mut(p);
        let cos = ArrayViewMut2::from_shape(shape, a).ok()?;
        let sin = match info.kind {
            BandKind::Real => None,
            BandKind::Pair => Some(ArrayViewMut2::from_shape(shape, b).ok()?),
        };
        Some(BandViewMut { cos, sin })
    }

    /// Magnitude of every unit in flat unit order: `sqrt(a² + b²)` for a cosine/sine pair,
    /// `|a|` for a real coefficient. Units are ordered band by band, position by position.
    pub fn magnitudes(&self) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.layout.units);
        for info in &self.layout.bands {
            let p = info.positions();
            let a = &self.data[info.offset..info.offset + p];
            match info.kind {
                BandKind::Real => out.extend(a.iter().map(|v| v.abs())),
                BandKind::Pair => {
                    let b = &self.data[info.offset + p..info.offset + 2 * p];
                    out.extend(a.iter().zip(b).map(|(x, y)| (x * x + y * y).sqrt()));
                }
            }
        }
        out
    }

    /// Σ c² over all coefficients.
    pub fn norm_sq(&self) -> f64 {
        self.data.iter().map(|v| v * v).sum()
    }

    /// Euclidean inner product with another coefficient set of the same layout.
    pub fn dot(&self, other: &Coefficients) -> f64 {
        self.data.iter().zip(&other.data).map(|(a, b)| a * b).sum()
    }
}
