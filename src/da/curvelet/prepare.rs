//! Preparing geophysical fields for the transform: smooth filling of missing cells,
//! symmetric (mirror) extension across non-periodic edges, periodic longitude, crop.

use super::sweep::Sweeps;
use super::CurveletError;

/// Options of [`fill_missing`].
#[derive(Clone, Debug, PartialEq)]
pub struct FillOptions {
    /// Maximum relaxation sweeps after the initial front propagation.
    pub max_iter: usize,
    /// Stop when the largest change of a sweep is below `tol` × (range of valid values).
    pub tol: f64,
    /// Columns wrap around (global longitude).
    pub periodic_lon: bool,
}

impl Default for FillOptions {
    fn default() -> Self {
        Self {
            max_iter: 300,
            tol: 1e-5,
            periodic_lon: false,
        }
    }
}

/// What [`fill_missing`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct FillReport {
    /// Cells filled.
    pub filled: usize,
    /// Relaxation sweeps done.
    pub iterations: usize,
    /// Largest change in the last sweep.
    pub last_change: f64,
}

/// Fill the cells where `valid` is false smoothly from their valid neighbours: first a
/// front propagation (each new cell takes the mean of its already known 4-neighbours),
/// then successive over-relaxation of the discrete Laplace equation on the missing cells
/// (valid cells fixed, zero-gradient at non-periodic edges). Deterministic.
pub fn fill_missing(
    values: &mut [f64],
    valid: &[bool],
    n1: usize,
    n2: usize,
    opts: &FillOptions,
) -> Result<FillReport, CurveletError> {
    let n = n1 * n2;
    if values.len() != n || valid.len() != n {
        return Err(CurveletError::SizeMismatch {
            what: "field or mask",
            expected: n,
            got: values.len().min(valid.len()),
        });
    }
    if n > (u32::MAX / 4) as usize {
        return Err(CurveletError::TooLarge { n1, n2 });
    }
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for i in 0..n {
        if valid[i] {
            let v = values[i];
            if !v.is_finite() {
                return Err(CurveletError::NonFinite {
                    row: i / n2,
                    col: i % n2,
                });
            }
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    if lo > hi {
        return Err(CurveletError::NoValidCells);
    }
    let missing: Vec<usize> = (0..n).filter(|&i| !valid[i]).collect();
    if missing.is_empty() {
        return Ok(FillReport {
            filled: 0,
            iterations: 0,
            last_change: 0.0,
        });
    }
    let periodic = opts.periodic_lon;
    let neighbours = |i: usize, out: &mut [usize; 4]| -> usize {
        let (r, c) = (i / n2, i % n2);
        let mut k = 0;
        if r > 0 {
            out[k] = i - n2;
            k += 1;
        }
        if r + 1 < n1 {
            out[k] = i + n2;
            k += 1;
        }
        if c > 0 {
            out[k] = i - 1;
            k += 1;
        } else if periodic {
            out[k] = i + n2 - 1;
            k += 1;
        }
        if c + 1 < n2 {
            out[k] = i + 1;
            k += 1;
        } else if periodic {
            out[k] = i + 1 - n2;
            k += 1;
        }
        k
    };

    // Front propagation, layer by layer (breadth first, deterministic order): each cell of a
    // layer takes the mean of its neighbours known before that layer.
    let mut known = valid.to_vec();
    let mut queued = valid.to_vec();
    let mut nb = [0usize; 4];
    let mut layer: Vec<usize> = Vec::new();
    for &i in &missing {
        let m = neighbours(i, &mut nb);
        if nb[..m].iter().any(|&j| valid[j]) {
            layer.push(i);
            queued[i] = true;
        }
    }
    let mut vals: Vec<f64> = Vec::new();
    let mut next: Vec<usize> = Vec::new();
    let mut reached = 0usize;
    while !layer.is_empty() {
        vals.clear();
        for &i in &layer {
            let m = neighbours(i, &mut nb);
            let (mut s, mut c) = (0.0, 0usize);
            for &j in &nb[..m] {
                if known[j] {
                    s += values[j];
                    c += 1;
                }
            }
            vals.push(s / c.max(1) as f64);
        }
        next.clear();
        for (&i, &v) in layer.iter().zip(&vals) {
            values[i] = v;
            known[i] = true;
            let m = neighbours(i, &mut nb);
            for &j in &nb[..m] {
                if !queued[j] {
                    queued[j] = true;
                    next.push(j);
                }
            }
        }
        reached += layer.len();
        next.sort_unstable();
        std::mem::swap(&mut layer, &mut next);
    }
    if reached != missing.len() {
        return Err(CurveletError::Internal(
            "fill front did not reach every missing cell",
        ));
    }

    // Over-relaxed Gauss–Seidel sweeps of the Laplace equation on the missing cells, with
    // the bits of the row-major sweep (`sweep`: skewed blocks of eight rows, one
    // anti-diagonal at a time, several blocks in lockstep).
    let sweeps = Sweeps::new(&missing, n1, n2, &neighbours, true);
    let mut skew = sweeps.skewed(values);
    let omega = 1.8;
    let scale = (hi - lo).max(f64::MIN_POSITIVE);
    let mut iterations = 0;
    let mut last_change = 0.0;
    for _ in 0..opts.max_iter {
        iterations += 1;
        let change = sweeps.relax(&mut skew, omega);
        last_change = change;
        if change < opts.tol * scale {
            break;
        }
    }
    sweeps.unskew(&skew, values);
    Ok(FillReport {
        filled: missing.len(),
        iterations,
        last_change,
    })
}

/// A symmetric (mirror) extension of an `n1 × n2` field: `top`/`bottom` rows and
/// `left`/`right` columns are added by half-sample reflection. A periodic longitude axis
/// gets no column padding (it already wraps).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extension {
    /// Original rows.
    pub n1: usize,
    /// Original columns.
    pub n2: usize,
    /// Rows added above.
    pub top: usize,
    /// Rows added below.
    pub bottom: usize,
    /// Columns added left.
    pub left: usize,
    /// Columns added right.
    pub right: usize,
}

impl Extension {
    /// The default: each non-periodic axis is doubled (n/2 rows/columns mirrored on each
    /// side), which makes the extended field exactly the even, periodic and continuous
    /// extension of the original; the periodic longitude axis is left as is.
    pub fn mirror(n1: usize, n2: usize, periodic_lon: bool) -> Self {
        let (left, right) = if periodic_lon {
            (0, 0)
        } else {
            (n2 / 2, n2 - n2 / 2)
        };
        Self {
            n1,
            n2,
            top: n1 / 2,
            bottom: n1 - n1 / 2,
            left,
            right,
        }
    }

    /// Explicit padding on both sides of each axis (`pad_cols` must be 0 for a periodic
    /// longitude). Padding may not exceed the axis length.
    pub fn with_padding(
        n1: usize,
        n2: usize,
        pad_rows: usize,
        pad_cols: usize,
    ) -> Result<Self, CurveletError> {
        if pad_rows > n1 || pad_cols > n2 {
            return Err(CurveletError::BadExtension(format!(
                "padding {pad_rows}×{pad_cols} exceeds the field {n1}×{n2}"
            )));
        }
        Ok(Self {
            n1,
            n2,
            top: pad_rows,
            bottom: pad_rows,
            left: pad_cols,
            right: pad_cols,
        })
    }

    /// Shape of the extended field.
    pub fn extended_shape(&self) -> (usize, usize) {
        (
            self.n1 + self.top + self.bottom,
            self.n2 + self.left + self.right,
        )
    }
}

fn reflect(j: i64, n: i64) -> usize {
    let r = j.rem_euclid(2 * n);
    (if r < n { r } else { 2 * n - 1 - r }) as usize
}

/// Extend a row-major field.
pub fn extend(values: &[f64], ext: &Extension) -> Result<Vec<f64>, CurveletError> {
    let (n1, n2) = (ext.n1, ext.n2);
    if values.len() != n1 * n2 {
        return Err(CurveletError::SizeMismatch {
            what: "field",
            expected: n1 * n2,
            got: values.len(),
        });
    }
    if n1 == 0 || n2 == 0 || ext.top + ext.bottom > 2 * n1 || ext.left + ext.right > 2 * n2 {
        return Err(CurveletError::BadExtension(format!(
            "padding {}+{} rows, {}+{} columns for a {n1}×{n2} field",
            ext.top, ext.bottom, ext.left, ext.right
        )));
    }
    let (e1, e2) = ext.extended_shape();
    let cols: Vec<usize> = (0..e2)
        .map(|c| reflect(c as i64 - ext.left as i64, n2 as i64))
        .collect();
    let mut out = Vec::with_capacity(e1 * e2);
    for r in 0..e1 {
        let src = reflect(r as i64 - ext.top as i64, n1 as i64) * n2;
        out.extend(cols.iter().map(|&c| values[src + c]));
    }
    Ok(out)
}

/// Crop an extended field back to the original window.
pub fn crop(extended: &[f64], ext: &Extension) -> Result<Vec<f64>, CurveletError> {
    let (e1, e2) = ext.extended_shape();
    if extended.len() != e1 * e2 {
        return Err(CurveletError::SizeMismatch {
            what: "extended field",
            expected: e1 * e2,
            got: extended.len(),
        });
    }
    let mut out = Vec::with_capacity(ext.n1 * ext.n2);
    for r in 0..ext.n1 {
        let s = (r + ext.top) * e2 + ext.left;
        out.extend_from_slice(&extended[s..s + ext.n2]);
    }
    Ok(out)
}
