//! Interpolation weights from a regular latitude-longitude source grid to arbitrary target
//! points (bilinear or nearest neighbour), stored as compact (index, weight) lists over the
//! smallest source hyperslab that covers the targets, so that a rank reads only that part of
//! a file.
//!
//! Conventions:
//! - The source grid is given by its 1-D cell-centre vectors. Latitude may be ascending or
//!   descending (and need not be evenly spaced); longitude must be evenly spaced and may use
//!   0..360 or -180..180 (targets are wrapped into the source convention).
//! - A grid whose longitudes span the full circle is periodic in longitude; at the poles of a
//!   global grid (beyond the outermost latitude centres) the edge row is used.
//! - A regional grid accepts targets inside the hull of its cell centres plus half a grid
//!   spacing (the outer half of the edge cells, where the edge values are held constant);
//!   anything further out is [`RemapError::OutsideSource`].
//! - Weights are renormalised at application time over the valid (non-NaN) source points of
//!   each target's stencil (entries are stored nearest first). A target whose weighted
//!   points are all invalid gets NaN: the caller turns that into an error naming the place
//!   (a land cell that coincides with a masked source point is a mask mismatch to report,
//!   not to paper over).

use thiserror::Error;

/// Errors building remapping weights.
#[derive(Debug, Error, PartialEq)]
pub enum RemapError {
    #[error("source grid: {0}")]
    BadGrid(String),
    #[error(
        "target point (lat {lat:.4}, lon {lon:.4}) lies outside the regional source grid \
         (lat {lat_min:.4}..{lat_max:.4}, lon {lon_min:.4}..{lon_max:.4})"
    )]
    OutsideSource {
        lat: f64,
        lon: f64,
        lat_min: f64,
        lat_max: f64,
        lon_min: f64,
        lon_max: f64,
    },
    #[error("target point {index} has a non-finite coordinate (lat {lat}, lon {lon})")]
    BadTarget { index: usize, lat: f64, lon: f64 },
    #[error("slab has {got} values, expected {expected}")]
    SlabSize { got: usize, expected: usize },
}

/// Interpolation method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemapMethod {
    #[default]
    Bilinear,
    Nearest,
}

/// A regular latitude-longitude source grid (cell centres, degrees).
#[derive(Debug, Clone, PartialEq)]
pub struct LatLonSource {
    lat: Vec<f64>,
    lon: Vec<f64>,
    lat_ascending: bool,
    dlon: f64,
    periodic: bool,
}

impl LatLonSource {
    /// Validate the axes: at least one point each, finite, strictly monotonic latitude within
    /// [-90, 90], evenly spaced increasing longitude.
    pub fn new(lat: Vec<f64>, lon: Vec<f64>) -> Result<Self, RemapError> {
        if lat.is_empty() || lon.is_empty() {
            return Err(RemapError::BadGrid(
                "empty latitude or longitude axis".into(),
            ));
        }
        if lat.iter().chain(lon.iter()).any(|v| !v.is_finite()) {
            return Err(RemapError::BadGrid("non-finite coordinate value".into()));
        }
        if lat.iter().any(|v| v.abs() > 90.0 + 1e-9) {
            return Err(RemapError::BadGrid("latitude outside [-90, 90]".into()));
        }
        let lat_ascending = lat.len() < 2 || lat[1] > lat[0];
        for w in lat.windows(2) {
            if (w[1] > w[0]) != lat_ascending || w[1] == w[0] {
                return Err(RemapError::BadGrid(
                    "latitude is not strictly monotonic".into(),
                ));
            }
        }
        let (dlon, periodic) = if lon.len() < 2 {
            (360.0, false)
        } else {
            let d = (lon[lon.len() - 1] - lon[0]) / (lon.len() - 1) as f64;
            if d <= 0.0 {
                return Err(RemapError::BadGrid(
                    "longitude must increase along its axis".into(),
                ));
            }
            for (i, v) in lon.iter().enumerate() {
                // Tolerance admits float32 coordinates of fine global grids (0.1 deg near 360).
                if (v - (lon[0] + d * i as f64)).abs() > 1e-3 * d {
                    return Err(RemapError::BadGrid(format!(
                        "longitude is not evenly spaced (index {i}: {v})"
                    )));
                }
            }
            let span = d * lon.len() as f64;
            if span > 360.0 + 1e-6 * 360.0 {
                return Err(RemapError::BadGrid(format!(
                    "longitude axis spans {span} degrees (> 360)"
                )));
            }
            (d, (span - 360.0).abs() < 1e-6 * 360.0)
        };
        Ok(Self {
            lat,
            lon,
            lat_ascending,
            dlon,
            periodic,
        })
    }

    pub fn lat(&self) -> &[f64] {
        &self.lat
    }
    pub fn lon(&self) -> &[f64] {
        &self.lon
    }
    pub fn n_lat(&self) -> usize {
        self.lat.len()
    }
    pub fn n_lon(&self) -> usize {
        self.lon.len()
    }
    /// True when the longitudes cover the full circle (periodic).
    pub fn is_global_in_lon(&self) -> bool {
        self.periodic
    }

    fn outside(&self, lat: f64, lon: f64) -> RemapError {
        let (a, b) = (self.lat[0], self.lat[self.lat.len() - 1]);
        RemapError::OutsideSource {
            lat,
            lon,
            lat_min: a.min(b),
            lat_max: a.max(b),
            lon_min: self.lon[0],
            lon_max: self.lon[self.lon.len() - 1],
        }
    }

    /// Fractional latitude index (in storage order) of `lat`, or None when outside.
    /// Returns (j0, j1, t): value = (1-t) v[j0] + t v[j1].
    fn lat_stencil(&self, lat: f64) -> Option<(usize, usize, f64)> {
        let n = self.lat.len();
        // Work on an ascending view: index k in ascending order maps to storage index.
        let idx = |k: usize| if self.lat_ascending { k } else { n - 1 - k };
        let asc = |k: usize| self.lat[idx(k)];
        let (lo, hi) = (asc(0), asc(n - 1));
        let half_lo = if n > 1 {
            0.5 * (asc(1) - asc(0))
        } else {
            0.125
        };
        let half_hi = if n > 1 {
            0.5 * (asc(n - 1) - asc(n - 2))
        } else {
            0.125
        };
        // Global in latitude when the edge cells reach the poles.
        let reaches_south = lo - half_lo <= -90.0 + 1e-6;
        let reaches_north = hi + half_hi >= 90.0 - 1e-6;
        if lat < lo {
            if lat >= lo - half_lo - 1e-9 || reaches_south {
                return Some((idx(0), idx(0), 0.0));
            }
            return None;
        }
        if lat > hi {
            if lat <= hi + half_hi + 1e-9 || reaches_north {
                return Some((idx(n - 1), idx(n - 1), 0.0));
            }
            return None;
        }
        if n == 1 {
            return Some((0, 0, 0.0));
        }
        // Binary search for k with asc(k) <= lat <= asc(k+1).
        let (mut a, mut b) = (0usize, n - 1);
        while b - a > 1 {
            let m = (a + b) / 2;
            if asc(m) <= lat {
                a = m;
            } else {
                b = m;
            }
        }
        let t = (lat - asc(a)) / (asc(b) - asc(a));
        Some((idx(a), idx(b), t))
    }

    /// Longitude stencil (i0, i1, t), or None when outside a regional grid.
    fn lon_stencil(&self, lon: f64) -> Option<(usize, usize, f64)> {
        let n = self.lon.len();
        let x = (lon - self.lon[0]).rem_euclid(360.0) / self.dlon;
        if self.periodic {
            let f = x.floor();
            let i0 = (f as usize) % n;
            return Some((i0, (i0 + 1) % n, x - f));
        }
        let last = (n - 1) as f64;
        if x <= last {
            let i0 = (x.floor() as usize).min(n.saturating_sub(2));
            if n == 1 {
                return Some((0, 0, 0.0));
            }
            return Some((i0, i0 + 1, x - i0 as f64));
        }
        if x <= last + 0.5 + 1e-9 {
            return Some((n - 1, n - 1, 0.0));
        }
        // Just west of the first centre (x close to a full turn).
        if x >= 360.0 / self.dlon - 0.5 - 1e-9 {
            return Some((0, 0, 0.0));
        }
        None
    }
}

/// Rectangular part of the source grid (storage indices) that a set of targets needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hyperslab {
    pub lat_start: usize,
    pub lat_count: usize,
    pub lon_start: usize,
    pub lon_count: usize,
}

impl Hyperslab {
    pub fn len(&self) -> usize {
        self.lat_count * self.lon_count
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Interpolation weights from a source hyperslab to target points.
#[derive(Debug, Clone, PartialEq)]
pub struct RemapWeights {
    slab: Hyperslab,
    /// Start of each target's entries in `entries` (length n_targets + 1).
    offsets: Vec<usize>,
    /// (index into the row-major slab [lat][lon], weight), nearest first per target.
    entries: Vec<(u32, f64)>,
}

impl RemapWeights {
    /// Weights for `targets` given as (lat, lon) in degrees.
    pub fn new(
        source: &LatLonSource,
        targets: &[(f64, f64)],
        method: RemapMethod,
    ) -> Result<Self, RemapError> {
        // First pass: global (j, i, w) stencils, sorted nearest first.
        let mut stencils: Vec<Vec<(usize, usize, f64, f64)>> = Vec::with_capacity(targets.len());
        for (index, &(lat, lon)) in targets.iter().enumerate() {
            if !lat.is_finite() || !lon.is_finite() || lat.abs() > 90.0 {
                return Err(RemapError::BadTarget { index, lat, lon });
            }
            let (j0, j1, ty) = source
                .lat_stencil(lat)
                .ok_or_else(|| source.outside(lat, lon))?;
            let (i0, i1, tx) = source
                .lon_stencil(lon)
                .ok_or_else(|| source.outside(lat, lon))?;
            // (j, i, weight, squared fractional distance)
            let mut s = vec![
                (j0, i0, (1.0 - ty) * (1.0 - tx), ty * ty + tx * tx),
                (j0, i1, (1.0 - ty) * tx, ty * ty + (1.0 - tx) * (1.0 - tx)),
                (j1, i0, ty * (1.0 - tx), (1.0 - ty) * (1.0 - ty) + tx * tx),
                (
                    j1,
                    i1,
                    ty * tx,
                    (1.0 - ty) * (1.0 - ty) + (1.0 - tx) * (1.0 - tx),
                ),
            ];
            // Nearest first; ties broken by storage index so the order is deterministic.
            s.sort_by(|a, b| a.3.total_cmp(&b.3).then((a.0, a.1).cmp(&(b.0, b.1))));
            // Merge duplicates (degenerate stencils at edges).
            let mut merged: Vec<(usize, usize, f64, f64)> = Vec::with_capacity(4);
            for e in s {
                if let Some(m) = merged.iter_mut().find(|m| m.0 == e.0 && m.1 == e.1) {
                    m.2 += e.2;
                } else {
                    merged.push(e);
                }
            }
            if method == RemapMethod::Nearest {
                merged.truncate(1);
                merged[0].2 = 1.0;
            }
            // Zero-weight points are not needed (and must not widen the hyperslab).
            merged.retain(|m| m.2 > 0.0);
            stencils.push(merged);
        }
        let slab = covering_slab(source, &stencils);
        let mut offsets = Vec::with_capacity(targets.len() + 1);
        let mut entries = Vec::with_capacity(4 * targets.len());
        offsets.push(0);
        let n_lon = source.n_lon();
        for s in &stencils {
            for &(j, i, w, _) in s {
                let jj = j - slab.lat_start;
                let ii = (i + n_lon - slab.lon_start) % n_lon;
                debug_assert!(jj < slab.lat_count && ii < slab.lon_count);
                entries.push(((jj * slab.lon_count + ii) as u32, w));
            }
            offsets.push(entries.len());
        }
        Ok(Self {
            slab,
            offsets,
            entries,
        })
    }

    /// The source hyperslab these weights index into.
    pub fn slab(&self) -> Hyperslab {
        self.slab
    }
    pub fn n_targets(&self) -> usize {
        self.offsets.len() - 1
    }
    /// (slab index, weight) entries of target `t`, nearest first.
    pub fn entries(&self, t: usize) -> &[(u32, f64)] {
        &self.entries[self.offsets[t]..self.offsets[t + 1]]
    }

    /// Interpolate a row-major slab (`slab().lat_count` x `slab().lon_count`, NaN = invalid)
    /// to the targets, renormalising over valid points. A target with no valid weighted point
    /// gets NaN.
    pub fn apply(&self, slab_values: &[f64]) -> Result<Vec<f64>, RemapError> {
        if slab_values.len() != self.slab.len() {
            return Err(RemapError::SlabSize {
                got: slab_values.len(),
                expected: self.slab.len(),
            });
        }
        let mut out = Vec::with_capacity(self.n_targets());
        for t in 0..self.n_targets() {
            let e = self.entries(t);
            let (mut sum, mut wsum) = (0.0, 0.0);
            for &(k, w) in e {
                let v = slab_values[k as usize];
                if v.is_nan() || w == 0.0 {
                    continue;
                }
                sum += w * v;
                wsum += w;
            }
            out.push(if wsum > 0.0 { sum / wsum } else { f64::NAN });
        }
        Ok(out)
    }
}

/// Smallest lat range and (possibly wrapping, for a periodic grid) lon range covering all
/// stencil points; a lon range that would wrap past the end of the axis becomes the full axis.
fn covering_slab(source: &LatLonSource, stencils: &[Vec<(usize, usize, f64, f64)>]) -> Hyperslab {
    let n_lon = source.n_lon();
    let mut jmin = usize::MAX;
    let mut jmax = 0;
    let mut used = vec![false; n_lon];
    for s in stencils {
        for &(j, i, _, _) in s {
            jmin = jmin.min(j);
            jmax = jmax.max(j);
            used[i] = true;
        }
    }
    if jmin == usize::MAX {
        return Hyperslab {
            lat_start: 0,
            lat_count: 0,
            lon_start: 0,
            lon_count: 0,
        };
    }
    // Longest run of unused columns (cyclic when periodic) is what we can skip.
    let (lon_start, lon_count) = if source.is_global_in_lon() {
        let mut best_gap = (0usize, 0usize); // (start, len)
        let mut k = 0;
        while k < 2 * n_lon {
            if !used[k % n_lon] {
                let start = k;
                while k < 2 * n_lon && !used[k % n_lon] && k - start < n_lon {
                    k += 1;
                }
                if k - start > best_gap.1 {
                    best_gap = (start % n_lon, k - start);
                }
            } else {
                k += 1;
            }
        }
        let start = (best_gap.0 + best_gap.1) % n_lon;
        let count = n_lon - best_gap.1;
        if start + count > n_lon {
            // A contiguous read would wrap around the seam: read the whole axis.
            (0, n_lon)
        } else {
            (start, count)
        }
    } else {
        let first = used.iter().position(|&u| u).unwrap_or(0);
        let last = used.iter().rposition(|&u| u).unwrap_or(0);
        (first, last - first + 1)
    };
    Hyperslab {
        lat_start: jmin,
        lat_count: jmax - jmin + 1,
        lon_start,
        lon_count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_wrap_and_descending_lat() {
        let lat: Vec<f64> = (0..180).map(|j| 89.5 - j as f64).collect();
        let lon: Vec<f64> = (0..360).map(|i| 0.5 + i as f64).collect();
        let src = LatLonSource::new(lat, lon).unwrap();
        assert!(src.is_global_in_lon());
        let w =
            RemapWeights::new(&src, &[(10.0, -0.2), (89.9, 179.0)], RemapMethod::Bilinear).unwrap();
        let s: f64 = w.entries(0).iter().map(|e| e.1).sum();
        assert!((s - 1.0).abs() < 1e-12);
        assert_eq!(w.slab().lon_count, 360);
    }
}
