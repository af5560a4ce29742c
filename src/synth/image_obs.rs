//! Synthetic observation images of the nature run (docs/osse.md, "Image observations"): the
//! top soil layer on the model grid, y = scale × θ + offset + σ_o ε, with ε a unit-variance
//! field that is white (L_o = 0) or Gaussian-correlated over L_o (`perturb::field`), and
//! optional gaps: cells missing at random or north-south stripes like the gaps between swaths.
//! Every random number is keyed by (seed, valid time, grid point), so an image does not depend
//! on the run period, on other images or on the order they are made in.

use chrono::NaiveDateTime;

use crate::perturb::{
    CovarianceShape, DeviateKey, FieldScratch, GaussianFieldPlan, PerturbError, Purpose,
    SpatialCorrelation,
};

/// Stream id of the image errors and gaps (apart from the perturbation streams 1–4 and the
/// factor field's).
pub const STREAM_IMAGE_OBS: u32 = 0x0553_0002;

/// How cells go missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageGaps {
    None,
    /// Each land cell is kept with probability `coverage`, independently per time.
    Random,
    /// North-south stripes: in every `stripe_km` (east-west) a band of width
    /// (1 − coverage) × `stripe_km` is missing, at a random phase per time.
    Stripes,
}

impl ImageGaps {
    pub fn parse(s: &str) -> Option<ImageGaps> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Some(ImageGaps::None),
            "random" => Some(ImageGaps::Random),
            "stripes" => Some(ImageGaps::Stripes),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            ImageGaps::None => "none",
            ImageGaps::Random => "random",
            ImageGaps::Stripes => "stripes",
        }
    }
}

/// The image simulator's settings (the `image_*` keys of `&osse`).
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSpec {
    pub interval_hours: u32,
    /// σ_o (m3 m-3).
    pub error_sd: f64,
    /// L_o (km); 0 = white.
    pub error_corr_km: f64,
    pub scale: f64,
    pub offset: f64,
    pub seed: u64,
    pub gaps: ImageGaps,
    pub coverage: f64,
    pub stripe_km: f64,
    pub mask_frozen: bool,
}

/// A regular lat/lon grid: 1-D coordinates (degrees), row-major cells `j * nx + i`.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageGrid {
    pub lat: Vec<f64>,
    pub lon: Vec<f64>,
}

impl ImageGrid {
    pub fn ny(&self) -> usize {
        self.lat.len()
    }
    pub fn nx(&self) -> usize {
        self.lon.len()
    }
    fn step(v: &[f64]) -> f64 {
        if v.len() > 1 {
            v[1] - v[0]
        } else {
            1.0
        }
    }
    /// Gaussian correlation of length `km` on this grid (spacing at the middle latitude).
    pub fn correlation(&self, km: f64) -> SpatialCorrelation {
        SpatialCorrelation::from_lat_lon(
            km,
            CovarianceShape::Gaussian,
            self.ny(),
            self.nx(),
            Self::step(&self.lat),
            Self::step(&self.lon),
            self.lat[self.ny() / 2],
        )
    }
}

/// Valid times of the images in [t0, t1]: every `interval_hours` from 00 UTC.
pub fn image_times(
    t0: NaiveDateTime,
    t1: NaiveDateTime,
    interval_hours: u32,
) -> Vec<NaiveDateTime> {
    let step = i64::from(interval_hours.max(1)) * 3600;
    let s0 = crate::time::epoch_seconds(t0);
    let mut s = s0.div_euclid(step) * step;
    if s < s0 {
        s += step;
    }
    let mut v = Vec::new();
    while s <= crate::time::epoch_seconds(t1) {
        if let Some(t) = chrono::DateTime::from_timestamp(s, 0) {
            v.push(t.naive_utc());
        }
        s += step;
    }
    v
}

/// Builds images on one grid (holds the noise field's plan).
#[derive(Debug)]
pub struct ImageSimulator {
    spec: ImageSpec,
    grid: ImageGrid,
    plan: Option<GaussianFieldPlan>,
    scratch: FieldScratch,
}

fn key(seed: u64, purpose: Purpose, var: u32, point: u64, t: NaiveDateTime) -> DeviateKey {
    DeviateKey {
        seed,
        stream: STREAM_IMAGE_OBS,
        purpose,
        var,
        point,
        member: 0,
        time_index: crate::time::epoch_seconds(t).div_euclid(60),
    }
}

/// A uniform number in [0, 1) from the first word of a key's block.
fn uniform(k: &DeviateKey) -> f64 {
    (k.bits()[0] >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

impl ImageSimulator {
    pub fn new(spec: ImageSpec, grid: ImageGrid) -> Result<Self, PerturbError> {
        let plan = if spec.error_corr_km > 0.0 {
            Some(GaussianFieldPlan::new(
                &grid.correlation(spec.error_corr_km),
            )?)
        } else {
            None
        };
        Ok(ImageSimulator {
            spec,
            grid,
            plan,
            scratch: FieldScratch::default(),
        })
    }

    pub fn grid(&self) -> &ImageGrid {
        &self.grid
    }

    /// The unit-variance error field ε at time `t` (row-major).
    pub fn noise(&mut self, t: NaiveDateTime) -> Vec<f64> {
        let n = self.grid.ny() * self.grid.nx();
        let mut e = vec![0.0; n];
        let tk = key(self.spec.seed, Purpose::InnovationField, 0, 0, t).time_index;
        match &self.plan {
            Some(p) => p.generate(
                self.spec.seed,
                STREAM_IMAGE_OBS,
                Purpose::InnovationField,
                0,
                0,
                tk,
                &mut e,
                &mut self.scratch,
            ),
            None => {
                for (k, v) in e.iter_mut().enumerate() {
                    *v = key(self.spec.seed, Purpose::InnovationCell, 0, k as u64, t).normal();
                }
            }
        }
        e
    }

    /// True where the gaps leave a cell missing at time `t`.
    pub fn gap_mask(&self, t: NaiveDateTime) -> Vec<bool> {
        let (ny, nx) = (self.grid.ny(), self.grid.nx());
        let c = self.spec.coverage;
        match self.spec.gaps {
            ImageGaps::None => vec![false; ny * nx],
            // Variable 4 lies in another Philox block than the noise's variable 0.
            ImageGaps::Random => (0..ny * nx)
                .map(|k| {
                    uniform(&key(
                        self.spec.seed,
                        Purpose::InnovationCell,
                        4,
                        k as u64,
                        t,
                    )) >= c
                })
                .collect(),
            ImageGaps::Stripes => {
                let dx = self.grid.correlation(1.0).dx_km;
                let period = ((self.spec.stripe_km / dx).round() as usize).max(2);
                let gap = ((1.0 - c) * period as f64).round() as usize;
                let u = uniform(&key(self.spec.seed, Purpose::InitialCell, 8, 0, t));
                let phase = ((u * period as f64) as usize).min(period - 1);
                let col = |i: usize| (i + phase) % period < gap;
                (0..ny * nx).map(|k| col(k % nx)).collect()
            }
        }
    }

    /// The image at `t` from the truth's top layer `truth` (row-major, NaN off land);
    /// `excluded` marks cells to leave out (snow or frozen soil when configured).
    pub fn image(&mut self, t: NaiveDateTime, truth: &[f64], excluded: &[bool]) -> Vec<f64> {
        let eps = self.noise(t);
        let gaps = self.gap_mask(t);
        let s = &self.spec;
        truth
            .iter()
            .enumerate()
            .map(|(k, &x)| {
                if !x.is_finite() || gaps[k] || excluded.get(k).copied().unwrap_or(false) {
                    f64::NAN
                } else {
                    s.scale * x + s.offset + s.error_sd * eps[k]
                }
            })
            .collect()
    }
}

/// Fraction of the finite cells of `truth` that have a value in `image`.
pub fn coverage(truth: &[f64], image: &[f64]) -> f64 {
    let land = truth.iter().filter(|x| x.is_finite()).count();
    let seen = truth
        .iter()
        .zip(image)
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .count();
    if land == 0 {
        f64::NAN
    } else {
        seen as f64 / land as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2020, 6, 1)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
    }

    fn spec() -> ImageSpec {
        ImageSpec {
            interval_hours: 6,
            error_sd: 0.04,
            error_corr_km: 0.0,
            scale: 1.0,
            offset: 0.0,
            seed: 1,
            gaps: ImageGaps::None,
            coverage: 1.0,
            stripe_km: 500.0,
            mask_frozen: false,
        }
    }

    fn grid(ny: usize, nx: usize) -> ImageGrid {
        ImageGrid {
            lat: (0..ny).map(|j| 35.0 + 0.25 * j as f64).collect(),
            lon: (0..nx).map(|i| -100.0 + 0.25 * i as f64).collect(),
        }
    }

    #[test]
    fn times_on_the_six_hour_grid() {
        let v = image_times(t(1), t(19), 6);
        assert_eq!(v, vec![t(6), t(12), t(18)]);
        assert_eq!(image_times(t(0), t(0), 6), vec![t(0)]);
    }

    #[test]
    fn white_noise_has_the_requested_moments() {
        let mut s = ImageSimulator::new(spec(), grid(60, 80)).unwrap();
        let truth = vec![0.25; 60 * 80];
        let y = s.image(t(6), &truth, &[]);
        let e: Vec<f64> = y.iter().map(|v| v - 0.25).collect();
        let n = e.len() as f64;
        let m = e.iter().sum::<f64>() / n;
        let sd = (e.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        assert!(m.abs() < 4.0 * 0.04 / n.sqrt(), "{m}");
        assert!((sd / 0.04 - 1.0).abs() < 0.05, "{sd}");
        // Another time, another draw; the same time, the same draw.
        assert_ne!(s.image(t(12), &truth, &[]), y);
        assert_eq!(s.image(t(6), &truth, &[]), y);
    }

    #[test]
    fn stripes_and_random_gaps_give_the_coverage() {
        for gaps in [ImageGaps::Random, ImageGaps::Stripes] {
            let sp = ImageSpec {
                gaps,
                coverage: 0.7,
                ..spec()
            };
            let mut s = ImageSimulator::new(sp, grid(40, 120)).unwrap();
            let truth = vec![0.3; 40 * 120];
            let c = coverage(&truth, &s.image(t(6), &truth, &[]));
            assert!((c - 0.7).abs() < 0.05, "{gaps:?} {c}");
        }
    }
}
