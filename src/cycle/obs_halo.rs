//! The halo of the localised analysis (issue 12): each accepted observation goes only to the
//! ranks with a cell centre within `da:localization_km` of it, not to every rank.
//!
//! Planned once per run (the decomposition does not change during a run): the sphere is cut
//! into latitude–longitude bins no smaller than the radius (at least [`MIN_BIN_DEG`]), and
//! every rank describes its cells by the bounding box of its cell centres in each bin it
//! touches; one allgather gives every rank every rank's boxes. At an analysis time an
//! observation goes to the ranks with a box that meets the bounding box of the spherical cap
//! around it (all longitudes when the cap holds a pole; longitudes compared modulo 360°, so
//! the date line needs no special case). The test is conservative: a rank that has a cell
//! within the radius always gets the observation, a few others may too. One all-to-all
//! moves the observations; the receiver orders them by (cell id, product) as the allgather
//! did, so every cell's analysis sees the same observations in the same order.
//! Tests: tests/obs_halo.rs (the rule on a global grid, across the date line and the poles;
//! the exchange in a cycle on 1–3 ranks).

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;

use super::analysis_1d::SharedObs;
use crate::parallel::{Communicator, ParallelError};

/// Sphere radius of [`crate::grid::geo::distance_km`] (km).
const EARTH_RADIUS_KM: f64 = 6371.0;
/// Smallest bin edge (degrees): keeps a rank's description compact for small radii.
pub const MIN_BIN_DEG: f64 = 1.0;
/// Relative widening of the radius, so that round-off never drops a rank that needs an
/// observation (the analysis drops observations at the radius anyway: weight 0).
const MARGIN: f64 = 1e-6;
/// Values per observation before its background ensemble.
const HEAD: usize = 6;
/// Values per (bin, box) in the plan's allgather.
const BOX_WIDTH: usize = 5;

/// The extent of one rank's cell centres in one bin (degrees; longitudes in [0, 360]).
#[derive(Debug, Clone, Copy, PartialEq)]
struct CellBox {
    lat: (f64, f64),
    lon: (f64, f64),
}

/// Bounding box of the spherical cap within the radius of a point: latitudes, and the
/// longitude interval around the point's longitude in [0, 360) (`None`: all longitudes).
struct CapBox {
    lat: (f64, f64),
    lon: Option<(f64, f64)>,
}

/// Longitude in [0, 360].
fn wrap(lon: f64) -> f64 {
    lon.rem_euclid(360.0)
}

/// The cap of `radius_km` around (lat, lon) (Bounding coordinates of a cap: its latitude
/// range ± r and, away from the poles, longitudes ± asin(sin r / cos lat)).
fn cap_box(lat: f64, lon: f64, radius_km: f64) -> CapBox {
    let r = radius_km * (1.0 + MARGIN) / EARTH_RADIUS_KM;
    let r_deg = r.to_degrees();
    let (south, north) = (lat - r_deg, lat + r_deg);
    let all = CapBox {
        lat: (south.max(-90.0), north.min(90.0)),
        lon: None,
    };
    if south <= -90.0 || north >= 90.0 {
        return all;
    }
    let s = r.sin() / lat.to_radians().cos();
    if s.is_nan() || s >= 1.0 {
        return all;
    }
    let half = s.asin().to_degrees() * (1.0 + MARGIN) + 1e-9;
    if half >= 180.0 {
        return all;
    }
    let c = wrap(lon);
    CapBox {
        lon: Some((c - half, c + half)),
        ..all
    }
}

impl CapBox {
    /// True when `b` may hold a point of the cap.
    fn meets(&self, b: &CellBox) -> bool {
        if b.lat.1 < self.lat.0 || b.lat.0 > self.lat.1 {
            return false;
        }
        let Some((lo, hi)) = self.lon else {
            return true;
        };
        // The cap's interval lies in (-180, 540): one turn either way covers it.
        [-360.0, 0.0, 360.0]
            .iter()
            .any(|k| b.lon.0 + k <= hi && lo <= b.lon.1 + k)
    }
}

/// The bins: `n_lat` bands of equal height, `n_lon` columns of equal width that tile 360°.
#[derive(Debug, Clone, Copy)]
struct Bins {
    n_lat: i64,
    n_lon: i64,
    dlat: f64,
    dlon: f64,
}

impl Bins {
    fn new(radius_km: f64) -> Self {
        let deg = (radius_km / EARTH_RADIUS_KM).to_degrees().max(MIN_BIN_DEG);
        let n_lat = ((180.0 / deg).floor() as i64).max(1);
        let n_lon = ((360.0 / deg).floor() as i64).max(1);
        Bins {
            n_lat,
            n_lon,
            dlat: 180.0 / n_lat as f64,
            dlon: 360.0 / n_lon as f64,
        }
    }

    fn band(&self, lat: f64) -> i64 {
        ((lat + 90.0) / self.dlat).floor() as i64
    }

    fn column(&self, lon: f64) -> i64 {
        (lon / self.dlon).floor() as i64
    }

    /// Id of the bin at (band, column); bands clamp, columns wrap.
    fn id(&self, band: i64, column: i64) -> u64 {
        let b = band.clamp(0, self.n_lat - 1);
        (b * self.n_lon + column.rem_euclid(self.n_lon)) as u64
    }

    fn of(&self, lat: f64, lon: f64) -> u64 {
        self.id(self.band(lat), self.column(wrap(lon)))
    }

    /// Every bin that may hold a point of `cap`, one bin wider on each side (a centre on a
    /// bin edge may have been binned either way).
    fn covering(&self, cap: &CapBox) -> impl Iterator<Item = u64> + '_ {
        let b0 = (self.band(cap.lat.0) - 1).max(0);
        let b1 = (self.band(cap.lat.1) + 1).min(self.n_lat - 1);
        let (c0, c1) = match cap.lon {
            Some((lo, hi)) => (self.column(lo) - 1, self.column(hi) + 1),
            None => (0, self.n_lon - 1),
        };
        let (c0, c1) = if c1 - c0 + 1 >= self.n_lon {
            (0, self.n_lon - 1)
        } else {
            (c0, c1)
        };
        (b0..=b1).flat_map(move |b| (c0..=c1).map(move |c| self.id(b, c)))
    }

    /// Per bin, the box of `centres` in it (non-finite centres are never near anything).
    fn boxes(&self, centres: impl IntoIterator<Item = (f64, f64)>) -> BTreeMap<u64, CellBox> {
        let mut out: BTreeMap<u64, CellBox> = BTreeMap::new();
        for (lat, lon) in centres {
            if !(lat.is_finite() && lon.is_finite()) {
                continue;
            }
            let lon = wrap(lon);
            let b = out.entry(self.of(lat, lon)).or_insert(CellBox {
                lat: (lat, lat),
                lon: (lon, lon),
            });
            b.lat = (b.lat.0.min(lat), b.lat.1.max(lat));
            b.lon = (b.lon.0.min(lon), b.lon.1.max(lon));
        }
        out
    }
}

/// Observations one rank sent to other ranks at one analysis time, against what an
/// allgather of the same observations would have sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HaloCounts {
    pub sent: u64,
    pub allgather: u64,
    /// Values (f64) per observation on the wire.
    pub width: u64,
}

/// Where every rank's cells are, for the exchange of the localised analysis.
#[derive(Debug, Clone)]
pub struct ObsHalo {
    radius_km: f64,
    rank: usize,
    n_ranks: usize,
    bins: Bins,
    /// Per bin: every rank with cells in it and the box of those cells, ranks ascending.
    cells: HashMap<u64, Vec<(usize, CellBox)>>,
}

impl ObsHalo {
    /// The plan of this rank with cell centres `centres` (lat, lon in degrees): one
    /// allgather of every rank's boxes. Collective.
    pub fn plan(
        comm: &dyn Communicator,
        radius_km: f64,
        centres: impl IntoIterator<Item = (f64, f64)>,
    ) -> Self {
        let bins = Bins::new(radius_km);
        let mut send = Vec::new();
        for (id, b) in bins.boxes(centres) {
            send.extend([id as f64, b.lat.0, b.lat.1, b.lon.0, b.lon.1]);
        }
        let all = comm.allgatherv_f64(&send);
        let mut cells: HashMap<u64, Vec<(usize, CellBox)>> = HashMap::new();
        for (r, block) in all.iter().enumerate() {
            for v in block.chunks_exact(BOX_WIDTH) {
                let b = CellBox {
                    lat: (v[1], v[2]),
                    lon: (v[3], v[4]),
                };
                cells.entry(v[0] as u64).or_default().push((r, b));
            }
        }
        ObsHalo {
            radius_km,
            rank: comm.rank(),
            n_ranks: all.len(),
            bins,
            cells,
        }
    }

    /// The plan from every rank's cell centres at hand (`per_rank[r]` are rank r's), as
    /// [`ObsHalo::plan`] builds it: for tests and tools.
    pub fn from_rank_centres(radius_km: f64, rank: usize, per_rank: &[Vec<(f64, f64)>]) -> Self {
        let bins = Bins::new(radius_km);
        let mut cells: HashMap<u64, Vec<(usize, CellBox)>> = HashMap::new();
        for (r, centres) in per_rank.iter().enumerate() {
            for (id, b) in bins.boxes(centres.iter().copied()) {
                cells.entry(id).or_default().push((r, b));
            }
        }
        ObsHalo {
            radius_km,
            rank,
            n_ranks: per_rank.len(),
            bins,
            cells,
        }
    }

    /// Bins a rank's cells touch, summed over ranks: the size of the plan.
    pub fn n_boxes(&self) -> usize {
        self.cells.values().map(Vec::len).sum()
    }

    /// The ranks, ascending, that may have a cell centre within the radius of (lat, lon),
    /// into `out`: every rank that has one is among them. An observation without a finite
    /// position goes to every rank.
    pub fn destinations(&self, lat: f64, lon: f64, out: &mut Vec<usize>) {
        out.clear();
        if !(lat.is_finite() && lon.is_finite()) {
            out.extend(0..self.n_ranks);
            return;
        }
        let cap = cap_box(lat, lon, self.radius_km);
        for bin in self.bins.covering(&cap) {
            let Some(boxes) = self.cells.get(&bin) else {
                continue;
            };
            out.extend(boxes.iter().filter(|(_, b)| cap.meets(b)).map(|(r, _)| *r));
        }
        out.sort_unstable();
        out.dedup();
    }

    /// Send each of this rank's observations `mine` to the ranks that need it (one
    /// all-to-all) and return those this rank needs, ordered by (cell id, product) as
    /// an allgather of all of them would be after the same sort. Collective.
    pub fn exchange(
        &self,
        comm: &dyn Communicator,
        mine: &[SharedObs],
        n_members: usize,
    ) -> Result<(Vec<SharedObs>, HaloCounts), ParallelError> {
        let width = HEAD + n_members;
        let mut send = vec![Vec::new(); self.n_ranks];
        let mut to = Vec::new();
        let mut sent = 0u64;
        for o in mine {
            self.destinations(o.lat, o.lon, &mut to);
            for &r in &to {
                encode(o, &mut send[r]);
                sent += u64::from(r != self.rank);
            }
        }
        let recv = comm.alltoallv_f64(&send)?;
        let mut out: Vec<SharedObs> = recv
            .iter()
            .flat_map(|block| block.chunks_exact(width))
            .map(decode)
            .collect();
        // Stable: a cell lives on one rank, so equal keys come from one rank, in its order.
        out.sort_by_key(|o| (o.cell_id, o.sensor));
        let counts = HaloCounts {
            sent,
            allgather: mine.len() as u64 * (self.n_ranks.max(1) as u64 - 1),
            width: width as u64,
        };
        Ok((out, counts))
    }
}

impl HaloCounts {
    /// Sum over ranks and log on the root, once per analysis time (collective; nothing on
    /// one rank, where nothing leaves the rank).
    pub fn log(&self, comm: &dyn Communicator, t: NaiveDateTime) {
        if comm.size() < 2 {
            return;
        }
        let sent = comm.allreduce_sum_u64(self.sent);
        let allgather = comm.allreduce_sum_u64(self.allgather);
        if comm.is_root() {
            let mib = |n: u64| (n * self.width * 8) as f64 / (1024.0 * 1024.0);
            tracing::info!(
                halo_sent = sent,
                allgather_sent = allgather,
                "analysis at {t}: localised observations sent to other ranks: {sent} \
                 ({:.3} MiB) with the halo, {allgather} ({:.3} MiB) with an allgather",
                mib(sent),
                mib(allgather)
            );
        }
    }
}

/// One observation on the wire: cell id, product, position, value, error, background.
fn encode(o: &SharedObs, out: &mut Vec<f64>) {
    out.extend([
        o.cell_id as f64,
        f64::from(o.sensor),
        o.lat,
        o.lon,
        o.value,
        o.error_sd,
    ]);
    out.extend_from_slice(&o.background);
}

fn decode(r: &[f64]) -> SharedObs {
    SharedObs {
        cell_id: r[0] as u64,
        sensor: r[1] as u32,
        lat: r[2],
        lon: r[3],
        value: r[4],
        error_sd: r[5],
        background: r[HEAD..].to_vec(),
    }
}
