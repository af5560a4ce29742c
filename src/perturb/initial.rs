//! Initial ensemble spread at a cold start: one standard normal deviate per (cell, member),
//! keyed like every other deviate so it does not depend on the decomposition.

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
    if remove_mean && n_members > 1 {
        let mean = z.iter().sum::<f64>() / n_members as f64;
        z.iter_mut().for_each(|v| *v -= mean);
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
