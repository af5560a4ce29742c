//! Restrictions of the EnKF-like image analysis's deep and perturbation updates
//! (`da::image::DeepRestriction`, `keep_coarse_scales`, `mean_increments`, `depth_taper`):
//! - factor 1 with every scale reproduces `deep_layers = 'ensemble'` bit for bit, factor 0
//!   leaves the layer exactly as it is (`'model'`), and a factor in between scales the
//!   deep increment linearly;
//! - keeping the coarsest scales zeroes exactly the finer bands' gains, keeping every scale
//!   changes nothing, and the deep increment from the coarse scales only is smoother;
//! - mean-only increments keep each member's anomaly and move the mean as the full update;
//! - factors given per layer (`given_deep_factors`) come back as given, and a wrong count, a
//!   value outside [0, 1] or an analysed layer's factor other than 1 are refused.

use landcycle::da::image::{
    depth_taper, gaspari_cohn, given_deep_factors, keep_coarse_scales, mean_increments,
    CrossShrinkage, DeepRestriction, EnkfLikeConfig, EnkfLikeFields, EnkfLikeGain, ImageOptions,
    ImagePlan,
};

/// A small deterministic generator (the tests need no particular distribution).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) - 0.5
    }
}

const NY: usize = 16;
const NX: usize = 20;
const N: usize = 20;

/// Members with large-scale waves plus cell noise (`noise` sd-like amplitude).
fn members(seed: u64, noise: f64) -> Vec<Vec<f64>> {
    let mut r = Lcg(seed);
    (0..N)
        .map(|_| {
            let (a, b, ph) = (r.next(), r.next(), 6.0 * r.next());
            (0..NY * NX)
                .map(|c| {
                    let (j, i) = ((c / NX) as f64, (c % NX) as f64);
                    0.25 + 0.04 * a * (0.3 * i + ph).sin()
                        + 0.03 * b * (0.4 * j).cos()
                        + noise * r.next()
                })
                .collect()
        })
        .collect()
}

struct Case {
    plan: ImagePlan,
    top: Vec<Vec<f64>>,
    deep: Vec<Vec<f64>>,
    perturbed: Vec<Vec<f64>>,
    fo: Vec<f64>,
    gain: EnkfLikeGain,
}

fn case() -> Case {
    let plan = ImagePlan::new(NY, NX, &ImageOptions::default()).unwrap();
    let mut ws = plan.new_workspace();
    let top = members(1, 0.02);
    // A deeper layer related to the top one, with noise of its own at every scale.
    let mut r = Lcg(9);
    let deep: Vec<Vec<f64>> = top
        .iter()
        .map(|t| t.iter().map(|x| 0.1 + 0.6 * x + 0.01 * r.next()).collect())
        .collect();
    let perturbed: Vec<Vec<f64>> = (0..N)
        .map(|_| (0..NY * NX).map(|_| 0.3 + 0.136 * r.next()).collect())
        .collect();
    let fo: Vec<f64> = (0..NY * NX)
        .map(|c| 0.3 + 0.02 * ((c % NX) as f64 * 0.5).sin())
        .collect();
    let all = vec![true; NY * NX];
    let fields = EnkfLikeFields {
        observed: &fo,
        land: &all,
        analysed: &all,
    };
    let cfg = EnkfLikeConfig::default();
    let gain = EnkfLikeGain::estimate(&plan, &fields, &top, &perturbed, &cfg, &mut ws).unwrap();
    Case {
        plan,
        top,
        deep,
        perturbed,
        fo,
        gain,
    }
}

impl Case {
    /// The deep layer's members after the update with `restrict`.
    fn update(&self, restrict: DeepRestriction) -> Vec<Vec<f64>> {
        let mut ws = self.plan.new_workspace();
        let mut d = self.deep.clone();
        self.gain
            .update_deep_layer_restricted(
                &self.plan,
                &self.fo,
                &self.top,
                &mut d,
                &self.perturbed,
                (CrossShrinkage::None, restrict),
                &mut ws,
            )
            .unwrap();
        d
    }
    fn increments(&self, after: &[Vec<f64>]) -> Vec<Vec<f64>> {
        after
            .iter()
            .zip(&self.deep)
            .map(|(a, b)| a.iter().zip(b).map(|(x, y)| x - y).collect())
            .collect()
    }
}

fn restrict(factor: f64, coarse_scales: usize) -> DeepRestriction {
    DeepRestriction {
        factor,
        coarse_scales,
    }
}

#[test]
fn factor_one_is_the_ensemble_update_and_factor_zero_is_the_model() {
    let c = case();
    let mut ws = c.plan.new_workspace();
    let mut plain = c.deep.clone();
    c.gain
        .update_deep_layer(&c.plan, &c.fo, &c.top, &mut plain, &c.perturbed, &mut ws)
        .unwrap();
    assert_ne!(
        plain, c.deep,
        "the unrestricted update must change the layer"
    );
    assert_eq!(c.update(restrict(1.0, 0)), plain);
    let n_scales = c.plan.curvelet().layout().n_scales();
    assert_eq!(c.update(restrict(1.0, n_scales)), plain);
    assert_eq!(c.update(restrict(0.0, 0)), c.deep);
    assert_eq!(c.update(restrict(0.0, 1)), c.deep);
    // Linear in the factor.
    let full = c.increments(&plain);
    let part = c.increments(&c.update(restrict(0.3, 0)));
    let scale = full.iter().flatten().fold(0.0_f64, |m, x| m.max(x.abs()));
    assert!(scale > 1e-4, "{scale}");
    for (f, p) in full.iter().flatten().zip(part.iter().flatten()) {
        assert!((0.3 * f - p).abs() < 1e-12 * scale, "{f} {p}");
    }
    // A factor outside [0, 1] is refused.
    let mut d = c.deep.clone();
    let bad = (CrossShrinkage::None, restrict(1.5, 0));
    let e = c.gain.update_deep_layer_restricted(
        &c.plan,
        &c.fo,
        &c.top,
        &mut d,
        &c.perturbed,
        bad,
        &mut ws,
    );
    assert!(e.is_err());
}

#[test]
fn coarse_scales_zero_exactly_the_finer_bands() {
    let c = case();
    let layout = c.plan.curvelet().layout().clone();
    let n_scales = layout.n_scales();
    assert!(n_scales >= 3, "{n_scales}");
    for k in 0..=n_scales {
        let mut g = vec![0.7; layout.total];
        keep_coarse_scales(&layout, k, &mut g).unwrap();
        for b in &layout.bands {
            let want = if k == 0 || b.scale < k { 0.7 } else { 0.0 };
            assert!(
                g[b.offset..b.offset + b.len()].iter().all(|&x| x == want),
                "k {k} band scale {} angle {}",
                b.scale,
                b.angle
            );
        }
    }
    assert!(keep_coarse_scales(&layout, 1, &mut [0.0; 3]).is_err());
}

/// Σ of squared differences of neighbouring cells over Σ of squares: small for smooth fields.
fn roughness(f: &[f64]) -> f64 {
    let mut d2 = 0.0;
    for j in 0..NY {
        for i in 0..NX - 1 {
            d2 += (f[j * NX + i + 1] - f[j * NX + i]).powi(2);
        }
    }
    d2 / f.iter().map(|x| x * x).sum::<f64>()
}

#[test]
fn deep_update_from_the_coarse_scales_is_smoother() {
    let c = case();
    let all = c.increments(&c.update(restrict(1.0, 0)));
    let coarse = c.increments(&c.update(restrict(1.0, 1)));
    let two = c.increments(&c.update(restrict(1.0, 2)));
    let mean = |inc: &[Vec<f64>]| -> Vec<f64> {
        (0..NY * NX)
            .map(|k| inc.iter().map(|d| d[k]).sum::<f64>() / N as f64)
            .collect()
    };
    let member = |inc: &[Vec<f64>]| inc[3].clone();
    for pick in [mean, member] {
        let (ra, r2, r1) = (
            roughness(&pick(&all)),
            roughness(&pick(&two)),
            roughness(&pick(&coarse)),
        );
        assert!(r1 < r2 && r2 < ra, "{r1} {r2} {ra}");
    }
    assert!(coarse.iter().flatten().any(|x| x.abs() > 1e-6));
}

#[test]
fn mean_only_increments_keep_every_anomaly() {
    let c = case();
    let after = c.update(restrict(1.0, 0));
    let mut inc = c.increments(&after);
    let mean_before: Vec<f64> = (0..NY * NX)
        .map(|k| inc.iter().map(|d| d[k]).sum::<f64>() / N as f64)
        .collect();
    mean_increments(&mut inc).unwrap();
    for d in &inc {
        assert_eq!(d, &mean_before);
    }
    // Each member's anomaly about the mean is unchanged (to round-off), the mean moved.
    let xa: Vec<Vec<f64>> = c
        .deep
        .iter()
        .zip(&inc)
        .map(|(x, d)| x.iter().zip(d).map(|(a, b)| a + b).collect())
        .collect();
    let mean_of = |e: &[Vec<f64>], k: usize| e.iter().map(|x| x[k]).sum::<f64>() / N as f64;
    for k in 0..NY * NX {
        let (mb, ma) = (mean_of(&c.deep, k), mean_of(&xa, k));
        assert!((ma - mb - mean_before[k]).abs() < 1e-14);
        for (b, a) in c.deep.iter().zip(&xa) {
            assert!(((a[k] - ma) - (b[k] - mb)).abs() < 1e-14);
        }
    }
}

#[test]
fn depth_taper_follows_gaspari_cohn_of_the_distance_below_the_sensing_depth() {
    // Noah: 0.1, 0.3, 0.6, 1.0 m; centres 0.05, 0.25, 0.7, 1.5 m; image 0-5 cm.
    let t = [0.1, 0.3, 0.6, 1.0];
    let f = depth_taper(&t, 0.05, Some(1.0)).unwrap();
    let want = [
        1.0,
        gaspari_cohn(0.2),
        gaspari_cohn(0.65),
        gaspari_cohn(1.45),
    ];
    for (a, b) in f.iter().zip(want) {
        assert!((a - b).abs() < 1e-15, "{f:?}");
    }
    assert!(f.windows(2).all(|w| w[1] < w[0]), "{f:?}");
    assert!(f[3] > 0.0 && f[3] < 0.05);
    // A layer entirely above the sensing depth is not localised.
    let g = depth_taper(&t, 0.3, Some(0.1)).unwrap();
    assert_eq!(&g[..2], &[1.0, 1.0]);
    assert_eq!(g[3], 0.0);
}

#[test]
fn gaspari_cohn_is_continuous_monotone_and_compact() {
    assert_eq!(gaspari_cohn(0.0), 1.0);
    assert!((gaspari_cohn(1.0) - 0.208_333_333_333).abs() < 1e-9);
    let (below, above) = (gaspari_cohn(1.0 - 1e-9), gaspari_cohn(1.0 + 1e-9));
    assert!((below - above).abs() < 1e-8);
    assert!(gaspari_cohn(2.0 - 1e-6).abs() < 1e-12);
    assert_eq!(gaspari_cohn(2.0), 0.0);
    assert_eq!(gaspari_cohn(-0.5), gaspari_cohn(0.5));
    let mut last = 1.0;
    for k in 1..=200 {
        let g = gaspari_cohn(k as f64 * 0.01);
        assert!(g <= last && g >= 0.0, "{k}: {g}");
        last = g;
    }
}

#[test]
fn depth_taper_of_noah_layers_and_bad_input() {
    let t = [0.1, 0.3, 0.6, 1.0];
    assert_eq!(depth_taper(&t, 0.05, None).unwrap(), vec![1.0; 4]);
    let f = depth_taper(&t, 0.05, Some(0.5)).unwrap();
    // Centres 0.05, 0.25, 0.7, 1.5 m: distances 0, 0.2, 0.65, 1.45 m.
    assert_eq!(f[0], 1.0);
    assert!((f[1] - gaspari_cohn(0.4)).abs() < 1e-15);
    assert!((f[2] - gaspari_cohn(1.3)).abs() < 1e-15);
    assert_eq!(f[3], 0.0);
    assert!(depth_taper(&t, 0.05, Some(0.0)).is_err());
    assert!(depth_taper(&[0.1, -0.3], 0.05, None).is_err());
}

#[test]
fn mean_increments_edge_cases() {
    let mut inc = vec![vec![1.0, 0.0, -2.0], vec![3.0, 0.0, 2.0]];
    mean_increments(&mut inc).unwrap();
    assert_eq!(inc, vec![vec![2.0, 0.0, 0.0]; 2]);
    let mut bad = vec![vec![1.0], vec![1.0, 2.0]];
    assert!(mean_increments(&mut bad).is_err());
    let mut none: Vec<Vec<f64>> = Vec::new();
    mean_increments(&mut none).unwrap();
}

#[test]
fn given_deep_factors_are_used_as_given_and_checked() {
    let f = [1.0, 0.78, 0.058, 0.1];
    assert_eq!(given_deep_factors(&f, 4, 1).unwrap(), f.to_vec());
    // Two analysed layers, both 1; zeros and ones below are allowed.
    assert_eq!(
        given_deep_factors(&[1.0, 1.0, 0.0, 1.0], 4, 2).unwrap(),
        vec![1.0, 1.0, 0.0, 1.0]
    );
    // The taper spelled out is a valid list (its analysed layer is 1 on Noah's layers).
    let taper = depth_taper(&[0.1, 0.3, 0.6, 1.0], 0.05, Some(0.5)).unwrap();
    assert_eq!(given_deep_factors(&taper, 4, 1).unwrap(), taper);
    for (bad, n_analysed, words) in [
        (vec![1.0, 0.5, 0.2], 1, "4"),
        (vec![1.0, 0.5, 0.2, 1.5], 1, "[0, 1]"),
        (vec![1.0, 0.5, -0.1, 0.0], 1, "[0, 1]"),
        (vec![1.0, 0.5, f64::NAN, 0.0], 1, "[0, 1]"),
        (vec![0.9, 0.5, 0.2, 0.0], 1, "analyses"),
        (vec![1.0, 0.5, 0.2, 0.0], 2, "analyses"),
    ] {
        let e = given_deep_factors(&bad, 4, n_analysed)
            .err()
            .unwrap_or_else(|| panic!("accepted {bad:?}"))
            .to_string();
        assert!(e.contains(words), "{bad:?}: {e}");
    }
}
