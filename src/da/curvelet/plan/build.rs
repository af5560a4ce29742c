//! The pieces of [`CurveletPlan::new`](super::CurveletPlan::new): the checked scale and angle
//! counts, the coefficient layout, the FFT plans (one per length and direction), each wedge's
//! entries and FFTs, and the dense finest scale's weights.

use std::collections::HashMap;
use std::sync::Arc;

use rustfft::{Fft, FftPlanner};

use super::super::coeffs::{BandInfo, BandKind, Layout};
use super::super::window::lowpass_1d;
use super::super::CurveletError;
use super::{default_scales, max_scales, CurveletOptions, Dense, Proto, Stage, MIN_SIDE};

/// The number of scales and the angles per scale, or why the options do not fit the image.
pub(super) fn checked_scales(
    n1: usize,
    n2: usize,
    options: &CurveletOptions,
) -> Result<(usize, Vec<usize>), CurveletError> {
    if n1 < MIN_SIDE || n2 < MIN_SIDE {
        return Err(CurveletError::TooSmall {
            n1,
            n2,
            min: MIN_SIDE,
        });
    }
    if n1 * n2 > u32::MAX as usize / 2 {
        return Err(CurveletError::TooLarge { n1, n2 });
    }
    let ca = options.coarse_angles;
    if ca < 8 || !ca.is_multiple_of(4) {
        return Err(CurveletError::BadAngles(ca));
    }
    let jmax = max_scales(n1, n2);
    let j = match options.scales {
        None => default_scales(n1, n2).min(jmax.max(3)),
        Some(j) => j,
    };
    if j < 3 || j > jmax.max(3) {
        return Err(CurveletError::BadScales {
            requested: j,
            min: 3,
            max: jmax.max(3),
        });
    }
    let angles = (0..j)
        .map(|s| if s == 0 { 1 } else { ca << (s - 1).div_ceil(2) })
        .collect();
    Ok((j, angles))
}

/// The coefficient layout: the wedges' bands (`sizes` per wedge) scale by scale, the finest
/// scale one real `n1 × n2` band when it is dense.
pub(super) fn build_layout(
    (n1, n2): (usize, usize),
    protos: &[Proto],
    sizes: &[(usize, usize)],
    (j, dense_finest): (usize, bool),
) -> Layout {
    let mut bands = Vec::new();
    let mut scale_start = vec![0usize];
    let (mut offset, mut units) = (0usize, 0usize);
    let mut pi = 0;
    for s in 0..j {
        if s == j - 1 && dense_finest {
            bands.push(BandInfo {
                scale: s,
                angle: 0,
                offset,
                rows: n1,
                cols: n2,
                kind: BandKind::Real,
            });
            offset += n1 * n2;
            units += n1 * n2;
        } else {
            while pi < protos.len() && protos[pi].scale == s {
                let (p1, p2) = sizes[pi];
                let info = BandInfo {
                    scale: s,
                    angle: protos[pi].angle,
                    offset,
                    rows: p1,
                    cols: p2,
                    kind: protos[pi].kind,
                };
                offset += info.len();
                units += info.positions();
                bands.push(info);
                pi += 1;
            }
        }
        scale_start.push(bands.len());
    }
    Layout {
        n1,
        n2,
        bands,
        scale_start,
        total: offset,
        units,
    }
}

/// FFT plans by length and direction, each planned once and shared.
pub(super) struct FftCache {
    planner: FftPlanner<f64>,
    fwd: HashMap<usize, Arc<dyn Fft<f64>>>,
    inv: HashMap<usize, Arc<dyn Fft<f64>>>,
}

impl FftCache {
    pub(super) fn new() -> Self {
        FftCache {
            planner: FftPlanner::new(),
            fwd: HashMap::new(),
            inv: HashMap::new(),
        }
    }

    pub(super) fn get(&mut self, n: usize, forward: bool) -> Arc<dyn Fft<f64>> {
        let (map, planner) = if forward {
            (&mut self.fwd, &mut self.planner)
        } else {
            (&mut self.inv, &mut self.planner)
        };
        map.entry(n)
            .or_insert_with(|| {
                if forward {
                    planner.plan_fft_forward(n)
                } else {
                    planner.plan_fft_inverse(n)
                }
            })
            .clone()
    }
}

/// Every wedge's sparse entries, back to back: spectrum index, wedge index, weight.
#[derive(Default)]
pub(super) struct Entries {
    pub src: Vec<u32>,
    pub dst: Vec<u32>,
    pub w: Vec<f64>,
}

/// Wedge `pr` wrapped to `p1 × p2`: its entries appended to `entries` (direct interior,
/// direct on the k2 = 0 / Nyquist columns, conjugated; each sorted) and its stage.
pub(super) fn wedge_stage(
    pr: &Proto,
    (p1, p2): (usize, usize),
    layout: &Layout,
    entries: &mut Entries,
    ffts: &mut FftCache,
) -> Result<Stage, CurveletError> {
    let (n1, n2) = (layout.n1, layout.n2);
    let band = layout
        .bands
        .iter()
        .position(|b| b.scale == pr.scale && b.angle == pr.angle)
        .ok_or(CurveletError::Internal("band missing from layout"))?;
    let norm = 1.0 / ((n1 * n2) as f64 * (p1 * p2) as f64).sqrt();
    let scale = match pr.kind {
        BandKind::Pair => std::f64::consts::SQRT_2 * norm,
        BandKind::Real => norm,
    };
    let cats = wedge_categories(pr, (p1, p2), (n1, n2), scale)?;
    let e0 = entries.src.len();
    let mut bounds = [0usize; 3];
    for (c, mut list) in cats.into_iter().enumerate() {
        list.sort_by_key(|e| (e.0, e.1));
        for (s, d, wt) in list {
            entries.src.push(s);
            entries.dst.push(d);
            entries.w.push(wt);
        }
        bounds[c] = entries.src.len();
    }
    Ok(Stage {
        band,
        kind: pr.kind,
        p1,
        p2,
        e0,
        e1: bounds[0],
        e2: bounds[1],
        e3: bounds[2],
        runs: [0..0, 0..0, 0..0],
        row_inv: ffts.get(p2, false),
        col_inv: ffts.get(p1, false),
        row_fwd: ffts.get(p2, true),
        col_fwd: ffts.get(p1, true),
    })
}

/// A wedge entry: spectrum index, wedge index, weight.
type Entry = (u32, u32, f64);

/// The wedge's points as (spectrum index, wedge index, weight × `scale`), split into the
/// direct interior, the direct k2 = 0 / Nyquist columns and the conjugated half.
fn wedge_categories(
    pr: &Proto,
    (p1, p2): (usize, usize),
    (n1, n2): (usize, usize),
    scale: f64,
) -> Result<[Vec<Entry>; 3], CurveletError> {
    let h = n2 / 2 + 1;
    let nyq = n2.is_multiple_of(2).then_some(n2 / 2);
    let mut used = vec![false; p1 * p2];
    let mut cats: [Vec<Entry>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for &(k1, k2, wt) in &pr.pts {
        let d = (k2.rem_euclid(p2 as i64) as usize) * p1 + k1.rem_euclid(p1 as i64) as usize;
        if used[d] {
            return Err(CurveletError::Internal("wrapping is not injective"));
        }
        used[d] = true;
        let b1 = k1.rem_euclid(n1 as i64) as usize;
        let b2 = k2.rem_euclid(n2 as i64) as usize;
        let (cat, s) = if b2 == 0 || Some(b2) == nyq {
            (1, b2 * n1 + b1)
        } else if b2 < h {
            (0, b2 * n1 + b1)
        } else {
            (2, (n2 - b2) * n1 + (n1 - b1) % n1)
        };
        cats[cat].push((s as u32, d as u32, wt * scale));
    }
    Ok(cats)
}

/// The dense finest scale (wavelets): band `band`'s weight per spectrum-layout index, the
/// complement of the coarser scales' low-pass (with 1/(n1 n2)).
pub(super) fn dense_weights(band: usize, (n1, n2): (usize, usize)) -> Dense {
    let h = n2 / 2 + 1;
    let nn = (n1 * n2) as f64;
    let l1 = 4.0 * n1 as f64 / 3.0 / 2.0;
    let l2 = 4.0 * n2 as f64 / 3.0 / 2.0;
    let mut weight = vec![0.0; h * n1];
    for b2 in 0..h {
        let f2 = lowpass_1d(b2 as f64, l2);
        for b1 in 0..n1 {
            let k1 = b1.min(n1 - b1) as f64;
            let phi = lowpass_1d(k1, l1) * f2;
            weight[b2 * n1 + b1] = (1.0 - phi * phi).max(0.0).sqrt() / nn;
        }
    }
    Dense { band, weight }
}
