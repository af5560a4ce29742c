//! Nearest point and points within a radius on the sphere: a static k-d tree over unit
//! vectors (3-D, so the date line and the poles need no special case). Distances are chord
//! lengths on the unit sphere, which order points exactly as great-circle distances do.
//! Ties go to the lowest point index, so a query's answer does not depend on the tree's
//! layout.

/// Points per leaf: below this a range is scanned rather than split.
const LEAF: usize = 8;

/// Unit vector of (lat, lon) in degrees.
pub fn unit_vector(lat: f64, lon: f64) -> [f64; 3] {
    let (la, lo) = (lat.to_radians(), lon.to_radians());
    [la.cos() * lo.cos(), la.cos() * lo.sin(), la.sin()]
}

fn chord2(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    let d = [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
    d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
}

/// Squared chord (unit sphere) of a great-circle distance (km, sphere of radius 6371 km as
/// [`super::geo::distance_km`]), widened slightly so round-off never drops a point that the
/// great-circle test keeps.
pub fn chord2_of_km(km: f64) -> f64 {
    let half_angle = (km / 6371.0 / 2.0).min(std::f64::consts::FRAC_PI_2);
    let c = 2.0 * half_angle.sin();
    c * c * (1.0 + 1e-9) + 1e-18
}

/// A static k-d tree over points on the sphere.
#[derive(Debug, Clone)]
pub struct PointIndex {
    xyz: Vec<[f64; 3]>,
    /// Point indices in tree order: the node of range `lo..hi` sits at its middle.
    order: Vec<usize>,
    /// Split axis of the node at each position of `order` (unused in leaves).
    axis: Vec<u8>,
}

impl PointIndex {
    /// The index of `points` (lat, lon in degrees); non-finite points are never found.
    pub fn new(points: impl IntoIterator<Item = (f64, f64)>) -> Self {
        let xyz: Vec<[f64; 3]> = points
            .into_iter()
            .map(|(la, lo)| unit_vector(la, lo))
            .collect();
        let mut order: Vec<usize> = (0..xyz.len())
            .filter(|&k| xyz[k].iter().all(|v| v.is_finite()))
            .collect();
        let mut axis = vec![0u8; order.len()];
        build(&xyz, &mut order, &mut axis);
        PointIndex { xyz, order, axis }
    }

    pub fn len(&self) -> usize {
        self.xyz.len()
    }
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
    /// Unit vector of point `k`.
    pub fn point(&self, k: usize) -> [f64; 3] {
        self.xyz[k]
    }

    /// The point nearest to unit vector `p` and its squared chord distance.
    pub fn nearest(&self, p: &[f64; 3]) -> Option<(usize, f64)> {
        let mut best = (usize::MAX, f64::INFINITY);
        self.search(0, self.order.len(), p, &mut best);
        (best.0 != usize::MAX).then_some(best)
    }

    fn consider(&self, k: usize, p: &[f64; 3], best: &mut (usize, f64)) {
        let d = chord2(&self.xyz[k], p);
        if d < best.1 || (d == best.1 && k < best.0) {
            *best = (k, d);
        }
    }

    fn search(&self, lo: usize, hi: usize, p: &[f64; 3], best: &mut (usize, f64)) {
        if hi - lo <= LEAF {
            for &k in &self.order[lo..hi] {
                self.consider(k, p, best);
            }
            return;
        }
        let mid = lo + (hi - lo) / 2;
        let k = self.order[mid];
        self.consider(k, p, best);
        let ax = usize::from(self.axis[mid]);
        let diff = p[ax] - self.xyz[k][ax];
        let (near, far) = if diff < 0.0 {
            ((lo, mid), (mid + 1, hi))
        } else {
            ((mid + 1, hi), (lo, mid))
        };
        self.search(near.0, near.1, p, best);
        // `<=`: an equally distant point on the far side may have a lower index.
        if diff * diff <= best.1 {
            self.search(far.0, far.1, p, best);
        }
    }

    /// Indices of the points within squared chord `r2` of `p`, ascending, into `out`
    /// (cleared first).
    pub fn within(&self, p: &[f64; 3], r2: f64, out: &mut Vec<usize>) {
        out.clear();
        self.collect(0, self.order.len(), p, r2, out);
        out.sort_unstable();
    }

    fn collect(&self, lo: usize, hi: usize, p: &[f64; 3], r2: f64, out: &mut Vec<usize>) {
        if hi - lo <= LEAF {
            out.extend(
                self.order[lo..hi]
                    .iter()
                    .filter(|&&k| chord2(&self.xyz[k], p) <= r2),
            );
            return;
        }
        let mid = lo + (hi - lo) / 2;
        let k = self.order[mid];
        if chord2(&self.xyz[k], p) <= r2 {
            out.push(k);
        }
        let ax = usize::from(self.axis[mid]);
        let diff = p[ax] - self.xyz[k][ax];
        if diff <= 0.0 || diff * diff <= r2 {
            self.collect(lo, mid, p, r2, out);
        }
        if diff >= 0.0 || diff * diff <= r2 {
            self.collect(mid + 1, hi, p, r2, out);
        }
    }
}

/// Arrange `order` as a balanced k-d tree: each range's median (along its widest axis) at
/// its middle, smaller coordinates before it.
fn build(xyz: &[[f64; 3]], order: &mut [usize], axis: &mut [u8]) {
    if order.len() <= LEAF {
        return;
    }
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for &k in order.iter() {
        for a in 0..3 {
            lo[a] = lo[a].min(xyz[k][a]);
            hi[a] = hi[a].max(xyz[k][a]);
        }
    }
    let ax = (0..3)
        .max_by(|&a, &b| (hi[a] - lo[a]).total_cmp(&(hi[b] - lo[b])))
        .unwrap_or(0);
    let mid = order.len() / 2;
    order.select_nth_unstable_by(mid, |&a, &b| {
        xyz[a][ax].total_cmp(&xyz[b][ax]).then(a.cmp(&b))
    });
    axis[mid] = ax as u8;
    let (left, rest) = order.split_at_mut(mid);
    let (laxis, raxis) = axis.split_at_mut(mid);
    build(xyz, left, laxis);
    build(xyz, &mut rest[1..], &mut raxis[1..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic scatter of points and queries over a patch and over the globe.
    fn scatter(n: usize, k: u64) -> Vec<(f64, f64)> {
        let mut s = k;
        let mut next = move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..n)
            .map(|_| (next() * 178.0 - 89.0, next() * 360.0 - 180.0))
            .collect()
    }

    #[test]
    fn nearest_and_within_agree_with_a_scan() {
        let pts = scatter(2000, 1);
        let idx = PointIndex::new(pts.iter().copied());
        let mut got = Vec::new();
        for (la, lo) in scatter(300, 2) {
            let p = unit_vector(la, lo);
            let scan = (0..pts.len())
                .map(|k| (k, chord2(&idx.point(k), &p)))
                .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
                .unwrap();
            assert_eq!(idx.nearest(&p), Some(scan));
            let r2 = chord2_of_km(900.0);
            idx.within(&p, r2, &mut got);
            let want: Vec<usize> = (0..pts.len())
                .filter(|&k| chord2(&idx.point(k), &p) <= r2)
                .collect();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn ties_go_to_the_lowest_index_and_empty_finds_nothing() {
        // Four copies of one point and a query exactly on it.
        let idx = PointIndex::new(std::iter::repeat_n((10.0, 20.0), 40));
        assert_eq!(idx.nearest(&unit_vector(10.0, 20.0)).map(|b| b.0), Some(0));
        let empty = PointIndex::new(std::iter::empty());
        assert!(empty.nearest(&unit_vector(0.0, 0.0)).is_none());
        // Across the date line: 179.9 E is next to 179.9 W.
        let idx = PointIndex::new([(0.0, 179.9), (0.0, 170.0), (0.0, -179.9)]);
        assert_eq!(
            idx.nearest(&unit_vector(0.0, -179.95)).map(|b| b.0),
            Some(2)
        );
        assert_eq!(idx.nearest(&unit_vector(0.0, 179.96)).map(|b| b.0), Some(0));
    }
}
