//! Initial ensemble spread at a cold start: one standard normal deviate per (cell, member),
//! keyed like every other deviate so it does not depend on the decomposition; independent
//! between cells, or drawn from one spatially correlated field per member.

use super::field::{FieldScratch, GaussianFieldPlan};
use super::rng::{DeviateKey, Purpose};
use super::STREAM_INITIAL_STATE;

/// Standard normal deviates of the `n_members` members of cell `cell_id` for a cold start at
/// `time_index` (any fixed integer of the start time, e.g. epoch seconds): clipped to
/// ±`clip` and, when `remove_mean` and there are several members, de-meaned over the
/// ensemble (so the ensemble mean starts exactly at the cold-start state).
pub fn initial_member_deviates(
    seed: u64,
    cell_id: u64,
    n_members: usize,
    time_index: i64,
    clip: f64,
    remove_mean: bool,
) -> Vec<f64> {
    let mut z: Vec<f64> = (0..n_members as u64)
        .map(|member| {
            DeviateKey {
                seed,
                stream: STREAM_INITIAL_STATE,
                purpose: Purpose::InitialCell,
                var: 0,
                point: cell_id,
                member,
                time_index,
            }
            .normal()
            .clamp(-clip, clip)
        })
        .collect();
    if remove_mean {
        demean(&mut z);
    }
    z
}

fn demean(z: &mut [f64]) {
    if z.len() > 1 {
        let mean = z.iter().sum::<f64>() / z.len() as f64;
        z.iter_mut().for_each(|v| *v -= mean);
    }
}

/// As [`initial_member_deviates`] for several cells at once, with the deviates of each member
/// taken from one unit-variance Gaussian random field over the whole grid (`plan`; cell ids
/// are row-major grid indices), so neighbouring cells start with correlated errors. Every rank
/// builds the same fields. Returns cell-major values: `[c * n_members + m]`.
pub fn initial_member_field_deviates(
    plan: &GaussianFieldPlan,
    seed: u64,
    cell_ids: &[u64],
    n_members: usize,
    time_index: i64,
    clip: f64,
    remove_mean: bool,
) -> Vec<f64> {
    let mut z = vec![0.0; cell_ids.len() * n_members];
    if cell_ids.is_empty() {
        return z;
    }
    let (ny, nx) = plan.shape();
    let mut grid = vec![0.0; ny * nx];
    let mut scratch = FieldScratch::default();
    for m in 0..n_members {
        plan.generate(
            seed,
            STREAM_INITIAL_STATE,
            Purpose::InitialField,
            0,
            m as u64,
            time_index,
            &mut grid,
            &mut scratch,
        );
        for (c, &id) in cell_ids.iter().enumerate() {
            z[c * n_members + m] = grid[id as usize].clamp(-clip, clip);
        }
    }
    if remove_mean {
        z.chunks_mut(n_members.max(1)).for_each(demean);
    }
    z
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deviates_are_keyed_clipped_and_demeaned() {
        let a = initial_member_deviates(7, 123, 20, 0, 2.5, true);
        let b = initial_member_deviates(7, 123, 20, 0, 2.5, true);
        assert_eq!(a, b);
        assert!(a.iter().sum::<f64>().abs() < 1e-12);
        let c = initial_member_deviates(7, 124, 20, 0, 2.5, true);
        assert_ne!(a, c);
        // The first members do not depend on the ensemble size (before de-meaning).
        let raw10 = initial_member_deviates(7, 123, 10, 0, 9.0, false);
        let raw20 = initial_member_deviates(7, 123, 20, 0, 9.0, false);
        assert_eq!(raw10[..], raw20[..10]);
        let clipped = initial_member_deviates(7, 123, 2000, 0, 0.5, false);
        assert!(clipped.iter().all(|v| v.abs() <= 0.5));
    }

    #[test]
    fn field_deviates_are_correlated_between_neighbours_and_rank_independent() {
        use crate::perturb::{CovarianceShape, SpatialCorrelation};
        let (ny, nx) = (24, 32);
        let spec = |l| SpatialCorrelation {
            length_km: l,
            shape: CovarianceShape::Gaussian,
            ny,
            nx,
            dy_km: 25.0,
            dx_km: 25.0,
        };
        let plan = GaussianFieldPlan::new(&spec(150.0)).unwrap();
        let ids: Vec<u64> = (0..(ny * nx) as u64).collect();
        let n = 200;
        let z = initial_member_field_deviates(&plan, 3, &ids, n, 0, 10.0, true);
        // Any subset of cells (another rank's) gets the same values.
        let sub: Vec<u64> = vec![5, 77, 400];
        let zs = initial_member_field_deviates(&plan, 3, &sub, n, 0, 10.0, true);
        for (k, &id) in sub.iter().enumerate() {
            assert_eq!(
                zs[k * n..(k + 1) * n],
                z[id as usize * n..(id as usize + 1) * n]
            );
        }
        // De-meaned per cell; unit variance; correlation with the east neighbour at 25 km
        // close to exp(-(25/150)^2 / 2) = 0.986 (Gaussian shape), and small at 300 km.
        let cell = |j: usize, i: usize| &z[(j * nx + i) * n..(j * nx + i + 1) * n];
        let corr = |a: &[f64], b: &[f64]| {
            let ab: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            let aa: f64 = a.iter().map(|x| x * x).sum();
            let bb: f64 = b.iter().map(|x| x * x).sum();
            ab / (aa * bb).sqrt()
        };
        let mut var = 0.0;
        for j in 0..ny {
            for i in 0..nx {
                let c = cell(j, i);
                assert!(c.iter().sum::<f64>().abs() < 1e-9);
                var += c.iter().map(|x| x * x).sum::<f64>() / (n - 1) as f64;
            }
        }
        var /= (ny * nx) as f64;
        assert!((var - 1.0).abs() < 0.1, "variance {var}");
        let near = corr(cell(12, 10), cell(12, 11));
        let far = corr(cell(12, 4), cell(12, 16));
        assert!(near > 0.95, "neighbour correlation {near}");
        assert!(far.abs() < 0.3, "correlation at 300 km {far}");
        // Different seeds give different fields.
        let other = initial_member_field_deviates(&plan, 4, &sub, n, 0, 10.0, true);
        assert_ne!(other, zs);
    }

    #[test]
    fn deviates_are_standard_normal() {
        let n = 20_000;
        let mut s = 0.0;
        let mut s2 = 0.0;
        for cell in 0..n as u64 {
            let z = initial_member_deviates(11, cell, 1, 0, 10.0, false)[0];
            s += z;
            s2 += z * z;
        }
        let mean = s / n as f64;
        let var = s2 / n as f64 - mean * mean;
        assert!(mean.abs() < 0.03, "mean {mean}");
        assert!((var - 1.0).abs() < 0.04, "variance {var}");
    }
}
