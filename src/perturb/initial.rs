//! Initial ensemble spread at a cold start: one standard normal deviate per (cell, member),
//! keyed like every other deviate so it does not depend on the decomposition; independent
//! between cells, or drawn from one spatially correlated field per member. With a layer
//! correlation below 1, each soil layer gets its own deviates, an AR(1) sequence in the layer
//! index ([`initial_layer_deviates`]).

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
    let mut z = raw_field_deviates(plan, seed, cell_ids, n_members, time_index, 0);
    z.iter_mut().for_each(|v| *v = v.clamp(-clip, clip));
    if remove_mean {
        z.chunks_mut(n_members.max(1)).for_each(demean);
    }
    z
}

/// The raw (unclipped, not de-meaned) deviates of layer `var` of cell `cell_id`: layer 0 is
/// the draw of [`initial_member_deviates`].
fn raw_cell_deviates(
    seed: u64,
    cell_id: u64,
    n_members: usize,
    time_index: i64,
    var: u32,
) -> Vec<f64> {
    (0..n_members as u64)
        .map(|member| {
            DeviateKey {
                seed,
                stream: STREAM_INITIAL_STATE,
                purpose: Purpose::InitialCell,
                var,
                point: cell_id,
                member,
                time_index,
            }
            .normal()
        })
        .collect()
}

/// The raw deviates of layer `var` from one field per member (cell-major, as
/// [`initial_member_field_deviates`], whose draw is layer 0).
fn raw_field_deviates(
    plan: &GaussianFieldPlan,
    seed: u64,
    cell_ids: &[u64],
    n_members: usize,
    time_index: i64,
    var: u32,
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
            var,
            m as u64,
            time_index,
            &mut grid,
            &mut scratch,
        );
        for (c, &id) in cell_ids.iter().enumerate() {
            z[c * n_members + m] = grid[id as usize];
        }
    }
    z
}

/// Where the cold-start deviates come from: independent per cell, or one spatially correlated
/// field per member and layer.
#[derive(Clone, Copy)]
pub enum InitialSource<'a> {
    Cells,
    Field(&'a GaussianFieldPlan),
}

/// The cold-start deviates of `n_layers` soil layers, `[layer][c * n_members + m]`, with
/// correlation `rho` between adjacent layers: z_1 = w_1, z_l = rho z_(l-1) + sqrt(1 - rho^2) w_l,
/// each w_l keyed by (seed, cell or grid point, member, time index, variable = layer index)
/// and so independent of ranks and of the order of cells. The AR(1) combination runs on the
/// raw draws; each layer is then clipped to ±`clip` and de-meaned, as a single draw is.
/// With `rho = 1` (or one layer) one layer of deviates is returned, shared by every layer:
/// exactly [`initial_member_deviates`] / [`initial_member_field_deviates`].
#[allow(clippy::too_many_arguments)]
pub fn initial_layer_deviates(
    source: InitialSource,
    seed: u64,
    cell_ids: &[u64],
    n_members: usize,
    time_index: i64,
    clip: f64,
    remove_mean: bool,
    (n_layers, rho): (usize, f64),
) -> Vec<Vec<f64>> {
    let draw = |var: u32| match source {
        InitialSource::Cells => cell_ids
            .iter()
            .flat_map(|&id| raw_cell_deviates(seed, id, n_members, time_index, var))
            .collect::<Vec<f64>>(),
        InitialSource::Field(plan) => {
            raw_field_deviates(plan, seed, cell_ids, n_members, time_index, var)
        }
    };
    let n = if rho == 1.0 { 1 } else { n_layers.max(1) };
    let mut layers: Vec<Vec<f64>> = Vec::with_capacity(n);
    let s = (1.0 - rho * rho).max(0.0).sqrt();
    for l in 0..n {
        let mut w = draw(l as u32);
        if let Some(prev) = layers.last() {
            w.iter_mut()
                .zip(prev)
                .for_each(|(w, p)| *w = rho * p + s * *w);
        }
        layers.push(w);
    }
    for z in &mut layers {
        z.iter_mut().for_each(|v| *v = v.clamp(-clip, clip));
        if remove_mean {
            z.chunks_mut(n_members.max(1)).for_each(demean);
        }
    }
    layers
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
    /// Pooled correlation of two layers over cells of `n` members each (each cell de-meaned).
    fn layer_corr(a: &[f64], b: &[f64]) -> f64 {
        let ab: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let aa: f64 = a.iter().map(|x| x * x).sum();
        let bb: f64 = b.iter().map(|x| x * x).sum();
        ab / (aa * bb).sqrt()
    }

    #[test]
    fn layer_correlation_one_reproduces_the_single_draw_bit_for_bit() {
        let ids: Vec<u64> = vec![3, 17, 400, 401, 1234];
        let args = |rho| (4, rho);
        let one =
            initial_layer_deviates(InitialSource::Cells, 9, &ids, 20, 77, 2.5, true, args(1.0));
        let today: Vec<f64> = ids
            .iter()
            .flat_map(|&id| initial_member_deviates(9, id, 20, 77, 2.5, true))
            .collect();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0], today);
        // Below 1 the top layer is still today's draw; deeper layers differ.
        let half =
            initial_layer_deviates(InitialSource::Cells, 9, &ids, 20, 77, 2.5, true, args(0.5));
        assert_eq!(half.len(), 4);
        assert_eq!(half[0], today);
        assert_ne!(half[1], today);
        // The field path likewise.
        use crate::perturb::{CovarianceShape, SpatialCorrelation};
        let spec = SpatialCorrelation {
            length_km: 100.0,
            shape: CovarianceShape::Gaussian,
            ny: 12,
            nx: 16,
            dy_km: 25.0,
            dx_km: 25.0,
        };
        let plan = GaussianFieldPlan::new(&spec).unwrap();
        let fids: Vec<u64> = vec![0, 5, 77, 191];
        let src = InitialSource::Field(&plan);
        let today = initial_member_field_deviates(&plan, 9, &fids, 20, 77, 2.5, true);
        let one = initial_layer_deviates(src, 9, &fids, 20, 77, 2.5, true, args(1.0));
        assert_eq!(one, vec![today.clone()]);
        let half = initial_layer_deviates(src, 9, &fids, 20, 77, 2.5, true, args(0.5));
        assert_eq!(half[0], today);
        // Any subset of cells (another rank's) gets the same values in every layer.
        let sub = initial_layer_deviates(src, 9, &fids[2..], 20, 77, 2.5, true, args(0.5));
        for l in 0..4 {
            assert_eq!(sub[l][..], half[l][2 * 20..]);
        }
    }

    #[test]
    fn layer_deviates_have_the_requested_adjacent_layer_correlation() {
        // 5000 cells x 20 members: about 95,000 degrees of freedom, so a sample correlation
        // has standard error (1 - rho^2)/sqrt(95,000) <= 0.0033; the bound is 5 of them.
        let ids: Vec<u64> = (0..5000).collect();
        let (n, dof) = (20, 5000.0 * 19.0);
        for rho in [0.0, 0.5, 0.8, -0.3] {
            let z =
                initial_layer_deviates(InitialSource::Cells, 5, &ids, n, 0, 10.0, true, (4, rho));
            let tol = |r: f64| 5.0 * (1.0 - r * r) / f64::sqrt(dof);
            for l in 0..3 {
                let r = layer_corr(&z[l], &z[l + 1]);
                assert!(
                    (r - rho).abs() < tol(rho),
                    "rho {rho}, layers {l}-{}: {r}",
                    l + 1
                );
            }
            // AR(1): two layers apart the correlation is rho^2.
            let r2 = layer_corr(&z[0], &z[2]);
            assert!(
                (r2 - rho * rho).abs() < tol(rho * rho),
                "rho {rho}, lag 2: {r2}"
            );
            for zl in &z {
                assert!(zl.chunks(n).all(|c| c.iter().sum::<f64>().abs() < 1e-9));
                let var = zl.iter().map(|x| x * x).sum::<f64>() / dof;
                assert!((var - 1.0).abs() < 0.03, "rho {rho}: variance {var}");
            }
        }
    }
}
