//! Exactness of the curvelet transform: tight frame, reconstruction, adjoint, windows,
//! localisation of single curvelets, thresholding and masked operator, image preparation.

mod fields;
use fields::noise;
use landcycle::da::curvelet::window::{angular_weights, lowpass_1d, pseudo_angle, window_pair};
use landcycle::da::curvelet::*;
use num_complex::Complex64;
use rustfft::FftPlanner;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn all_options() -> Vec<CurveletOptions> {
    let mut v = Vec::new();
    for finest in [Finest::Wavelets, Finest::Curvelets] {
        for wrap in [WrapSize::Smooth, WrapSize::Minimal] {
            v.push(CurveletOptions {
                finest,
                wrap,
                ..Default::default()
            });
        }
    }
    v
}

fn check_exact(n1: usize, n2: usize, opts: &CurveletOptions, seed: u64) {
    let plan = CurveletPlan::new(n1, n2, opts).unwrap();
    let mut ws = plan.new_workspace();
    let x = noise(n1 * n2, seed);
    let mut c = plan.new_coefficients();
    plan.forward(&x, &mut c, &mut ws).unwrap();
    let ex = dot(&x, &x);
    let ec = c.norm_sq();
    assert!(
        ((ec - ex) / ex).abs() < 1e-12,
        "{n1}x{n2} {opts:?}: Parseval {ec} vs {ex}"
    );
    let mut y = vec![0.0; n1 * n2];
    plan.inverse(&c, &mut y, &mut ws).unwrap();
    let err: f64 = x
        .iter()
        .zip(&y)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        .sqrt();
    assert!(
        err / ex.sqrt() < 1e-12,
        "{n1}x{n2} {opts:?}: reconstruction {err}"
    );
    // Adjoint: <Cx, d> = <x, C* d> for random d.
    let d = Coefficients::from_vec(plan.layout().clone(), noise(c.len(), seed + 7)).unwrap();
    let mut xd = vec![0.0; n1 * n2];
    plan.inverse(&d, &mut xd, &mut ws).unwrap();
    let lhs = c.dot(&d);
    let rhs = dot(&x, &xd);
    let scale = (c.norm_sq() * d.norm_sq()).sqrt();
    assert!(
        (lhs - rhs).abs() / scale < 1e-12,
        "{n1}x{n2} {opts:?}: adjoint {lhs} vs {rhs}"
    );
}

#[test]
fn tight_frame_small_sizes_all_options() {
    for opts in all_options() {
        for (n1, n2) in [(45, 32), (100, 77), (16, 16), (32, 45), (64, 64)] {
            check_exact(n1, n2, &opts, (n1 * 1000 + n2) as u64);
        }
    }
}

#[test]
fn tight_frame_1440x600_all_options() {
    for opts in all_options() {
        check_exact(1440, 600, &opts, 3);
    }
}

#[test]
fn tight_frame_1024_all_options() {
    for opts in all_options() {
        check_exact(1024, 1024, &opts, 5);
    }
}

#[test]
fn windows_square_sum_to_one() {
    // Angular weights over the whole circle, several angle counts.
    for a in [16usize, 32, 64, 128] {
        for i in 0..4000 {
            let u = 8.0 * i as f64 / 4000.0;
            let w = angular_weights(u, a);
            let s: f64 = w.iter().map(|(_, x)| x * x).sum();
            assert!((s - 1.0).abs() < 1e-14, "a={a} u={u} s={s}");
            assert_ne!(w[0].0, w[1].0);
        }
    }
    // Radial: the periodic-extension taper's aliases and the telescoping low-passes.
    for n in [16usize, 45, 77, 600, 1024] {
        let big_l = 4.0 * n as f64 / 3.0;
        for k in -(n as i64) / 2..=(n as i64) / 2 {
            let s: f64 = (-2..=2)
                .map(|m| lowpass_1d((k + m * n as i64) as f64, big_l).powi(2))
                .sum();
            assert!((s - 1.0).abs() < 1e-14, "n={n} k={k} s={s}");
            // φ_L ≥ φ_{L/2} so every band window is real.
            assert!(lowpass_1d(k as f64, big_l / 2.0) <= lowpass_1d(k as f64, big_l));
        }
    }
    let (l, r) = window_pair(0.3);
    assert!((l * l + r * r - 1.0).abs() < 1e-15);
    // Plane waves: every single frequency keeps its energy (Σ over all windows² = 1).
    for opts in all_options() {
        let (n1, n2) = (40, 33);
        let plan = CurveletPlan::new(n1, n2, &opts).unwrap();
        let mut ws = plan.new_workspace();
        let mut c = plan.new_coefficients();
        for (k1, k2) in [
            (0, 0),
            (1, 0),
            (0, 16),
            (20, 16),
            (7, -5),
            (13, 3),
            (19, 11),
            (2, 9),
        ] {
            let x: Vec<f64> = (0..n1 * n2)
                .map(|i| {
                    let (a, b) = ((i / n2) as f64, (i % n2) as f64);
                    (2.0 * std::f64::consts::PI
                        * (k1 as f64 * a / n1 as f64 + k2 as f64 * b / n2 as f64)
                        + 0.3)
                        .cos()
                })
                .collect();
            plan.forward(&x, &mut c, &mut ws).unwrap();
            let ex = dot(&x, &x);
            assert!(
                ((c.norm_sq() - ex) / ex).abs() < 1e-12,
                "{opts:?} k=({k1},{k2})"
            );
        }
    }
}

/// Energy of the centred 2-D DFT of an image.
fn spectrum_energy(x: &[f64], n1: usize, n2: usize) -> Vec<f64> {
    let mut p = FftPlanner::<f64>::new();
    let f2 = p.plan_fft_forward(n2);
    let f1 = p.plan_fft_forward(n1);
    let mut a: Vec<Complex64> = x.iter().map(|&v| Complex64::new(v, 0.0)).collect();
    f2.process(&mut a);
    let mut t = vec![Complex64::new(0.0, 0.0); n1 * n2];
    for i in 0..n1 {
        for j in 0..n2 {
            t[j * n1 + i] = a[i * n2 + j];
        }
    }
    f1.process(&mut t);
    let mut e = vec![0.0; n1 * n2];
    for i in 0..n1 {
        for j in 0..n2 {
            e[i * n2 + j] = t[j * n1 + i].norm_sqr();
        }
    }
    e
}

#[test]
fn single_curvelet_is_localised_in_frequency() {
    let (n1, n2) = (96, 128);
    let opts = CurveletOptions::default();
    let plan = CurveletPlan::new(n1, n2, &opts).unwrap();
    let j = plan.n_scales();
    let mut ws = plan.new_workspace();
    let big_l = |m: usize, n: usize| 4.0 * n as f64 / 3.0 / 2f64.powi((j - m) as i32);
    for s in 1..j - 1 {
        let a = plan.angles(s);
        let delta = 8.0 / a as f64;
        for l in [0usize, a / 8, a / 4 - 1, a / 4, a / 2 - 1] {
            for use_sin in [false, true] {
                let mut c = plan.new_coefficients();
                {
                    let mut b = c.band_mut(s, l).unwrap();
                    let (r, q) = (b.cos.nrows() / 2, b.cos.ncols() / 3);
                    if use_sin {
                        b.sin.as_mut().unwrap()[[r, q]] = 1.0;
                    } else {
                        b.cos[[r, q]] = 1.0;
                    }
                }
                let mut x = vec![0.0; n1 * n2];
                plan.inverse(&c, &mut x, &mut ws).unwrap();
                // Spatially, coefficient (r, q) of a P1 × P2 band sits at pixel
                // (r·n1/P1, q·n2/P2) (periodic distance, within a few pixels).
                {
                    let b = c.band(s, l).unwrap();
                    let (p1, p2) = b.cos.dim();
                    let (r, q) = (p1 / 2, p2 / 3);
                    let imax = (0..n1 * n2)
                        .max_by(|&a, &b| x[a].abs().total_cmp(&x[b].abs()))
                        .unwrap();
                    let d = |a: f64, b: f64, n: f64| {
                        let t = (a - b).rem_euclid(n);
                        t.min(n - t)
                    };
                    let d1 = d(
                        (imax / n2) as f64,
                        r as f64 * n1 as f64 / p1 as f64,
                        n1 as f64,
                    );
                    let d2 = d(
                        (imax % n2) as f64,
                        q as f64 * n2 as f64 / p2 as f64,
                        n2 as f64,
                    );
                    let tol1 = 2.0 + n1 as f64 / p1 as f64;
                    let tol2 = 2.0 + n2 as f64 / p2 as f64;
                    assert!(
                        d1 <= tol1 && d2 <= tol2,
                        "scale {s} angle {l}: peak off by ({d1}, {d2})"
                    );
                }
                let e = spectrum_energy(&x, n1, n2);
                let total: f64 = e.iter().sum();
                let mut inside = 0.0;
                for i in 0..n1 {
                    for jj in 0..n2 {
                        let k1 = if i <= n1 / 2 {
                            i as f64
                        } else {
                            i as f64 - n1 as f64
                        };
                        let k2 = if jj <= n2 / 2 {
                            jj as f64
                        } else {
                            jj as f64 - n2 as f64
                        };
                        // Ring: outside the inner flat region, inside the outer support.
                        let ring = (k1.abs() > big_l(s, n1) / 4.0 || k2.abs() > big_l(s, n2) / 4.0)
                            && k1.abs() < big_l(s + 1, n1) / 2.0
                            && k2.abs() < big_l(s + 1, n2) / 2.0;
                        if !ring {
                            continue;
                        }
                        // Sector: the wedge or its mirror (u + 4).
                        let u = pseudo_angle(k1, k2);
                        let lo = l as f64 * delta - delta / 2.0;
                        let hi = (l + 1) as f64 * delta + delta / 2.0;
                        let in_sector = |v: f64| {
                            let d = (v - lo).rem_euclid(8.0);
                            d <= hi - lo + 1e-12
                        };
                        if in_sector(u) || in_sector((u + 4.0) % 8.0) {
                            inside += e[i * n2 + jj];
                        }
                    }
                }
                assert!(total > 0.0);
                assert!(
                    inside / total > 1.0 - 1e-12,
                    "scale {s} angle {l}: {} of the energy outside",
                    1.0 - inside / total
                );
            }
        }
    }
}

#[test]
fn plan_is_shareable_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<CurveletPlan>();
    shareable::<Coefficients>();
    shareable::<ThresholdMask>();
    // Two threads, one plan, one workspace each: identical results.
    let plan = CurveletPlan::new(50, 60, &CurveletOptions::default()).unwrap();
    let x = noise(50 * 60, 77);
    let run = || {
        let mut ws = plan.new_workspace();
        let mut c = plan.new_coefficients();
        plan.forward(&x, &mut c, &mut ws).unwrap();
        c.into_vec()
    };
    let (a, b) = std::thread::scope(|s| {
        let h1 = s.spawn(run);
        let h2 = s.spawn(run);
        (h1.join().unwrap(), h2.join().unwrap())
    });
    assert_eq!(a, b);
}

#[test]
fn layout_views_and_redundancy() {
    let plan = CurveletPlan::new(256, 256, &CurveletOptions::default()).unwrap();
    assert_eq!(plan.n_scales(), 5);
    assert_eq!(plan.angles(1), 16);
    assert_eq!(plan.angles(2), 32);
    assert_eq!(plan.angles(3), 32);
    assert_eq!(plan.angles(4), 1);
    let c = plan.new_coefficients();
    assert_eq!(c.n_angles(0), 1);
    assert_eq!(c.n_angles(1), 8);
    assert_eq!(c.n_angles(4), 1);
    let b = c.band(4, 0).unwrap();
    assert_eq!(b.cos.dim(), (256, 256));
    assert!(b.sin.is_none());
    assert!(c.band(1, 3).unwrap().sin.is_some());
    assert!(c.band(1, 8).is_none());
    let r = plan.redundancy();
    assert!(r > 2.0 && r < 3.6, "redundancy {r}");
    let pc = CurveletPlan::new(
        256,
        256,
        &CurveletOptions {
            finest: Finest::Curvelets,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(pc.angles(4), 64);
    assert!(pc.redundancy() > r);
    let pm = CurveletPlan::new(
        256,
        256,
        &CurveletOptions {
            wrap: WrapSize::Minimal,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(pm.redundancy() <= r);
    assert_eq!(c.magnitudes().len(), plan.layout().units);
    // Every smooth-mode wrap size has prime factors 2, 3, 5, 7 only.
    for bnd in &plan.layout().bands {
        for mut n in [bnd.rows, bnd.cols] {
            for p in [2, 3, 5, 7] {
                while n % p == 0 {
                    n /= p;
                }
            }
            assert_eq!(n, 1);
        }
    }
}

#[test]
fn bad_inputs_are_clear_errors() {
    let e = CurveletPlan::new(15, 40, &CurveletOptions::default())
        .err()
        .unwrap();
    assert!(matches!(e, CurveletError::TooSmall { .. }));
    assert!(e.to_string().contains("15×40"));
    let e = CurveletPlan::new(
        64,
        64,
        &CurveletOptions {
            scales: Some(2),
            ..Default::default()
        },
    );
    assert!(matches!(e, Err(CurveletError::BadScales { .. })));
    let e = CurveletPlan::new(
        64,
        64,
        &CurveletOptions {
            coarse_angles: 6,
            ..Default::default()
        },
    );
    assert!(matches!(e, Err(CurveletError::BadAngles(6))));
    let plan = CurveletPlan::new(20, 24, &CurveletOptions::default()).unwrap();
    assert_eq!(plan.n_scales(), 3);
    let mut ws = plan.new_workspace();
    let mut c = plan.new_coefficients();
    let mut x = noise(20 * 24, 1);
    x[3 * 24 + 5] = f64::NAN;
    let e = plan.forward(&x, &mut c, &mut ws).unwrap_err();
    assert_eq!(e, CurveletError::NonFinite { row: 3, col: 5 });
    assert!(e.to_string().contains("row 3, column 5"));
    let e = plan.forward(&x[..10], &mut c, &mut ws).unwrap_err();
    assert!(matches!(e, CurveletError::SizeMismatch { .. }));
    x[3 * 24 + 5] = 0.0;
    plan.forward(&x, &mut c, &mut ws).unwrap();
    for sigma in [0.0, -0.1, 1.5, f64::NAN] {
        let e = ThresholdMask::top_fraction(&c, sigma, CoarseTreatment::AlwaysKeep).unwrap_err();
        assert!(matches!(e, CurveletError::BadFraction(_)), "{sigma}");
    }
    let other = CurveletPlan::new(32, 32, &CurveletOptions::default()).unwrap();
    let m = ThresholdMask::top_fraction(&c, 0.5, CoarseTreatment::AlwaysKeep).unwrap();
    assert!(MaskedTransform::new(&other, &m).is_err());
}

#[test]
fn thresholding_mask_and_masked_operator() {
    let (n1, n2) = (64, 80);
    let plan = CurveletPlan::new(n1, n2, &CurveletOptions::default()).unwrap();
    let mut ws = plan.new_workspace();
    let x = noise(n1 * n2, 42);
    let mut c = plan.new_coefficients();
    plan.forward(&x, &mut c, &mut ws).unwrap();
    let coarse_units = plan.layout().scale_bands(0)[0].positions();
    let m = ThresholdMask::top_fraction(&c, 0.25, CoarseTreatment::AlwaysKeep).unwrap();
    let ranked = plan.layout().units - coarse_units;
    assert_eq!(m.ranked_units(), ranked);
    assert_eq!(
        m.kept_units(),
        coarse_units + (0.25 * ranked as f64).ceil() as usize
    );
    // Every kept ranked unit is at least as large as every dropped one; pairs move together.
    let mags = c.magnitudes();
    let mut kept_min = f64::INFINITY;
    let mut dropped_max: f64 = 0.0;
    let mut u = 0;
    for b in &plan.layout().bands {
        for i in 0..b.positions() {
            let k = m.keep()[b.offset + i];
            if b.kind == BandKind::Pair {
                assert_eq!(k, m.keep()[b.offset + b.positions() + i]);
            }
            if b.scale > 0 {
                if k {
                    kept_min = kept_min.min(mags[u]);
                } else {
                    dropped_max = dropped_max.max(mags[u]);
                }
            } else {
                assert!(k);
            }
            u += 1;
        }
    }
    assert!(kept_min >= dropped_max);
    assert_eq!(kept_min, m.threshold());
    // Ties: a constant-magnitude set keeps exactly ceil(σ n) units, lowest indices first.
    let mut flat = vec![1.0; c.len()];
    for b in &plan.layout().bands {
        if b.kind == BandKind::Pair {
            flat[b.offset + b.positions()..b.offset + b.len()].fill(0.0);
        }
    }
    let ones = Coefficients::from_vec(plan.layout().clone(), flat).unwrap();
    let mt = ThresholdMask::top_fraction(&ones, 0.1, CoarseTreatment::Ranked).unwrap();
    assert_eq!(
        mt.kept_units(),
        (0.1 * plan.layout().units as f64).ceil() as usize
    );
    assert!(mt.keep()[0]);
    assert!(!mt.keep()[c.len() - 1]);
    // σ = 1 keeps everything and reconstructs exactly.
    let all = ThresholdMask::top_fraction(&c, 1.0, CoarseTreatment::Ranked).unwrap();
    assert_eq!(all.kept_values(), c.len());
    // Masked operator and its adjoint.
    let op = MaskedTransform::new(&plan, &m).unwrap();
    let mut scratch = plan.new_coefficients();
    let mut y = vec![0.0; op.output_len()];
    op.apply(&x, &mut y, &mut ws, &mut scratch).unwrap();
    let z = noise(op.output_len(), 9);
    let mut xz = vec![0.0; n1 * n2];
    op.adjoint(&z, &mut xz, &mut ws, &mut scratch).unwrap();
    let lhs = dot(&y, &z);
    let rhs = dot(&x, &xz);
    assert!((lhs - rhs).abs() < 1e-12 * (dot(&y, &y) * dot(&z, &z)).sqrt());
    // The same mask applied to another image keeps the same positions.
    let x2 = noise(n1 * n2, 43);
    let mut c2 = plan.new_coefficients();
    plan.forward(&x2, &mut c2, &mut ws).unwrap();
    m.apply(&mut c2).unwrap();
    for (v, k) in c2.as_slice().iter().zip(m.keep()) {
        if !k {
            assert_eq!(*v, 0.0);
        }
    }
}

#[test]
fn fill_and_mirror_extension() {
    let (n1, n2) = (30, 40);
    let truth: Vec<f64> = (0..n1 * n2)
        .map(|i| (i / n2) as f64 * 0.1 + (i % n2) as f64 * 0.05)
        .collect();
    let mut f = truth.clone();
    let mut valid = vec![true; n1 * n2];
    for r in 10..20 {
        for c in 5..15 {
            valid[r * n2 + c] = false;
            f[r * n2 + c] = f64::NAN;
        }
    }
    let rep = fill_missing(
        &mut f,
        &valid,
        n1,
        n2,
        &FillOptions {
            tol: 1e-10,
            max_iter: 2000,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(rep.filled, 100);
    // A plane is harmonic: the diffusion fill reproduces it.
    for i in 0..n1 * n2 {
        assert!(
            (f[i] - truth[i]).abs() < 1e-6,
            "{i}: {} vs {}",
            f[i],
            truth[i]
        );
    }
    let e = fill_missing(
        &mut f,
        &vec![false; n1 * n2],
        n1,
        n2,
        &FillOptions::default(),
    );
    assert_eq!(e, Err(CurveletError::NoValidCells));

    // A large gap (an "ocean" covering most of a 400×500 field, periodic longitude) is
    // filled quickly, smoothly and within the range of the valid values.
    let (m1, m2) = (400, 500);
    let mut big_f: Vec<f64> = (0..m1 * m2)
        .map(|i| ((i % m2) as f64 * 0.02).sin())
        .collect();
    let big_valid: Vec<bool> = (0..m1 * m2)
        .map(|i| (i / m2) < 60 || (i % m2) < 40)
        .collect();
    for (v, ok) in big_f.iter_mut().zip(&big_valid) {
        if !ok {
            *v = f64::NAN;
        }
    }
    let t = std::time::Instant::now();
    let rep = fill_missing(
        &mut big_f,
        &big_valid,
        m1,
        m2,
        &FillOptions {
            periodic_lon: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(t.elapsed().as_secs_f64() < 5.0);
    assert_eq!(rep.filled, big_valid.iter().filter(|v| !**v).count());
    assert!(big_f.iter().all(|v| v.is_finite() && v.abs() <= 1.0 + 1e-9));

    let ext = Extension::mirror(n1, n2, false);
    assert_eq!(ext.extended_shape(), (60, 80));
    let big = extend(&truth, &ext).unwrap();
    // Half-sample symmetry at the edges and exact crop.
    assert_eq!(big[(ext.top - 1) * 80 + ext.left], truth[0]);
    assert_eq!(big[ext.top * 80 + ext.left - 1], truth[0]);
    assert_eq!(crop(&big, &ext).unwrap(), truth);
    // The extended field is continuous across the periodic wrap: cyclic neighbours are
    // neighbours (or the same cell) of the original.
    for r in 0..60 {
        for c in 0..80 {
            let a = big[r * 80 + c];
            let down = big[((r + 1) % 60) * 80 + c];
            let right = big[r * 80 + (c + 1) % 80];
            assert!((a - down).abs() <= 0.1 + 1e-12 && (a - right).abs() <= 0.05 + 1e-12);
        }
    }
    let per = Extension::mirror(n1, n2, true);
    assert_eq!(per.extended_shape(), (60, 40));
}

// The row-major over-relaxed sweep that the wavefront order must reproduce bit for bit.
fn reference_sweeps(v: &mut [f64], valid: &[bool], n1: usize, n2: usize, periodic: bool, k: usize) {
    for _ in 0..k {
        for i in 0..n1 * n2 {
            if valid[i] {
                continue;
            }
            let (r, c) = (i / n2, i % n2);
            let mut nb = Vec::new();
            if r > 0 {
                nb.push(i - n2);
            }
            if r + 1 < n1 {
                nb.push(i + n2);
            }
            if c > 0 {
                nb.push(i - 1);
            } else if periodic {
                nb.push(i + n2 - 1);
            }
            if c + 1 < n2 {
                nb.push(i + 1);
            } else if periodic {
                nb.push(i + 1 - n2);
            }
            let mean = nb.iter().map(|&j| v[j]).sum::<f64>() / nb.len() as f64;
            v[i] += 1.8 * (mean - v[i]);
        }
    }
}

#[test]
fn sweeps_equal_the_row_major_sweep_bit_for_bit() {
    for (n1, n2, periodic) in [
        (23, 37, true),
        (23, 37, false),
        (9, 5, true),
        (3, 17, false),
        // Several lockstep groups of vector blocks and a partial last block.
        (61, 50, true),
        (61, 50, false),
        (100, 77, true),
    ] {
        let n = n1 * n2;
        let valid: Vec<bool> = (0..n).map(|i| (i * 7919 % 13) < 4 || i % 31 == 0).collect();
        let field: Vec<f64> = (0..n).map(|i| ((i as f64) * 0.37).sin()).collect();
        let opts = |max_iter| FillOptions {
            max_iter,
            tol: 0.0,
            periodic_lon: periodic,
        };
        let mut front = field.clone();
        fill_missing(&mut front, &valid, n1, n2, &opts(0)).unwrap();
        let mut expect = front.clone();
        reference_sweeps(&mut expect, &valid, n1, n2, periodic, 7);
        let mut got = field.clone();
        fill_missing(&mut got, &valid, n1, n2, &opts(7)).unwrap();
        for (a, b) in got.iter().zip(&expect) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
    }
}

// The mirror-extension shortcuts: on an image symmetric under a row reflection the
// forward with the reflection equals the plain forward, and the row-folded inverse summed
// over each mirrored pair equals the plain inverse's pair sums (up to round-off); a map
// that is no reflection is refused.
#[test]
fn mirrored_rows_forward_and_folded_inverse() {
    for opts in all_options() {
        // Odd a on an even n1 takes the half-length column transforms (rotation s = (a+1)/2,
        // even and odd s); a = 0 the full-length path.
        for (n1, n2, a) in [
            (40, 36, 19),
            (34, 48, 0),
            (48, 20, 7),
            (44, 36, 21),
            (50, 40, 49),
            (36, 32, 1),
        ] {
            let plan = CurveletPlan::new(n1, n2, &opts).unwrap();
            let mut ws = plan.new_workspace();
            let mirror = reflection(n1, a);
            let base = noise(n1 * n2, 77);
            let sym: Vec<f64> = (0..n1 * n2)
                .map(|k| {
                    let (r, c) = (k / n2, k % n2);
                    base[k] + base[mirror[r] as usize * n2 + c]
                })
                .collect();
            let (mut c0, mut c1) = (plan.new_coefficients(), plan.new_coefficients());
            plan.forward(&sym, &mut c0, &mut ws).unwrap();
            plan.forward_mirrored_rows(&sym, &mirror, &mut c1, &mut ws)
                .unwrap();
            let scale = dot(c0.as_slice(), c0.as_slice()).sqrt();
            for (x, y) in c0.as_slice().iter().zip(c1.as_slice()) {
                assert!((x - y).abs() < 1e-13 * scale, "{opts:?} {n1}x{n2}");
            }
            let mut c = plan.new_coefficients();
            let v = noise(c.len(), 78);
            c.as_mut_slice().copy_from_slice(&v);
            let (mut y0, mut y1) = (vec![0.0; n1 * n2], vec![0.0; n1 * n2]);
            plan.inverse(&c, &mut y0, &mut ws).unwrap();
            plan.inverse_row_folded(&c, &mirror, &mut y1, &mut ws)
                .unwrap();
            let scale = dot(&y0, &y0).sqrt();
            for r in 0..n1 {
                let m = mirror[r] as usize;
                for col in 0..n2 {
                    let got = y1[r * n2 + col];
                    let want = match r.cmp(&m) {
                        std::cmp::Ordering::Less => y0[r * n2 + col] + y0[m * n2 + col],
                        std::cmp::Ordering::Equal => y0[r * n2 + col],
                        std::cmp::Ordering::Greater => 0.0,
                    };
                    assert!((got - want).abs() < 1e-13 * scale, "{opts:?} row {r}");
                }
            }
            let mut bad = mirror.clone();
            bad.swap(1, 2);
            assert!(plan
                .forward_mirrored_rows(&sym, &bad, &mut c1, &mut ws)
                .is_err());
            assert!(plan
                .inverse_row_folded(&c, &bad[..n1 - 1], &mut y1, &mut ws)
                .is_err());
        }
    }
}

// A mask sent as bytes to another process comes back equal in every field; a wrong length or
// a pair whose cosine and sine flags differ is refused.
#[test]
fn mask_bytes_round_trip() {
    let (n1, n2) = (48, 40);
    let plan = CurveletPlan::new(n1, n2, &CurveletOptions::default()).unwrap();
    let mut ws = plan.new_workspace();
    let mut c = plan.new_coefficients();
    plan.forward(&noise(n1 * n2, 5), &mut c, &mut ws).unwrap();
    for coarse in [CoarseTreatment::AlwaysKeep, CoarseTreatment::Ranked] {
        let m = ThresholdMask::top_fraction(&c, 0.3, coarse).unwrap();
        let bytes = m.to_bytes();
        let back = ThresholdMask::from_bytes(plan.layout().clone(), &bytes).unwrap();
        assert_eq!(back.keep(), m.keep());
        assert_eq!(back.kept_indices(), m.kept_indices());
        assert_eq!(back.kept_units(), m.kept_units());
        assert_eq!(back.ranked_units(), m.ranked_units());
        assert_eq!(back.threshold().to_bits(), m.threshold().to_bits());
        assert_eq!(back.sigma(), m.sigma());
        assert!(ThresholdMask::from_bytes(plan.layout().clone(), &bytes[1..]).is_err());
        let pair = plan
            .layout()
            .bands
            .iter()
            .find(|b| b.kind == BandKind::Pair)
            .unwrap();
        let mut bad = bytes.clone();
        bad[pair.offset] = 1 - bad[pair.offset];
        assert!(ThresholdMask::from_bytes(plan.layout().clone(), &bad).is_err());
    }
}

// The histogram selection keeps exactly the units a full sort by (magnitude descending, unit
// ascending) keeps, also with many exact ties straddling the threshold and for every σ.
#[test]
fn threshold_selection_equals_a_full_sort() {
    let plan = CurveletPlan::new(48, 40, &CurveletOptions::default()).unwrap();
    let layout = plan.layout().clone();
    // Magnitudes on a coarse grid of 7 levels (ties everywhere), some exact zeros.
    let data: Vec<f64> = noise(layout.total, 77)
        .iter()
        .map(|v| (v * 3.0).round() / 3.0)
        .collect();
    let c = Coefficients::from_vec(layout.clone(), data).unwrap();
    let mags = c.magnitudes();
    for coarse in [CoarseTreatment::AlwaysKeep, CoarseTreatment::Ranked] {
        let mut units: Vec<(usize, usize, bool)> = Vec::new(); // (unit, first value, coarse)
        let mut u = 0;
        for b in &layout.bands {
            for i in 0..b.positions() {
                units.push((u, b.offset + i, b.scale == 0));
                u += 1;
            }
        }
        let forced = |&(_, _, s): &(usize, usize, bool)| s && coarse == CoarseTreatment::AlwaysKeep;
        let mut ranked: Vec<(usize, usize, bool)> =
            units.iter().copied().filter(|x| !forced(x)).collect();
        ranked.sort_by(|a, b| mags[b.0].total_cmp(&mags[a.0]).then(a.0.cmp(&b.0)));
        for sigma in [0.01, 0.1, 0.33, 0.5, 0.9, 1.0] {
            let m = ThresholdMask::top_fraction(&c, sigma, coarse).unwrap();
            let k = (sigma * ranked.len() as f64).ceil() as usize;
            let mut want = vec![false; layout.total];
            for x in units.iter().filter(|x| forced(x)).chain(&ranked[..k]) {
                want[x.1] = true;
            }
            for b in &layout.bands {
                let p = b.positions();
                if b.kind == BandKind::Pair {
                    for i in 0..p {
                        want[b.offset + p + i] = want[b.offset + i];
                    }
                }
            }
            assert_eq!(m.keep(), &want[..], "sigma {sigma}, {coarse:?}");
            assert_eq!(m.threshold(), mags[ranked[k - 1].0], "sigma {sigma}");
            assert_eq!(m.ranked_units(), ranked.len());
        }
    }
}

/// The row reflection r ↦ (a − r) mod n1 (a mirror extension's, for the right a).
fn reflection(n1: usize, a: usize) -> Vec<u32> {
    (0..n1).map(|r| ((a + n1 - r) % n1) as u32).collect()
}

/// Band-by-band transform cases: (n1, n2, reflection a): the half-length path, no
/// reflection (an odd row count), the full-length path with a reflection.
const BAND_CASES: [(usize, usize, Option<usize>); 3] =
    [(40, 36, Some(19)), (33, 40, None), (36, 32, Some(0))];

/// Every option set over [`BAND_CASES`]: the options, the plan and the row reflection.
fn band_case_plans() -> Vec<(CurveletOptions, CurveletPlan, Option<Vec<u32>>)> {
    let mut cases = Vec::new();
    for opts in all_options() {
        for (n1, n2, a) in BAND_CASES {
            let plan = CurveletPlan::new(n1, n2, &opts).unwrap();
            cases.push((opts.clone(), plan, a.map(|a| reflection(n1, a))));
        }
    }
    cases
}

// The batch transform hands every band of every image to the consumer with the stored
// transform's exact bits (mirrored and plain, both finest treatments), covering each
// coefficient once in layout order; its square sums (two images summed first, stored or added,
// or one image at a time) equal those of the stored coefficients.
#[test]
fn batch_forward_equals_stored_forward_bit_for_bit() {
    for (opts, plan, mirror) in band_case_plans() {
        let (n1, n2) = (plan.n1(), plan.n2());
        let images: Vec<Vec<f64>> = (0..2)
            .map(|i| {
                let base = noise(n1 * n2, 90 + i);
                (0..n1 * n2)
                    .map(|k| match &mirror {
                        Some(m) => base[k] + base[m[k / n2] as usize * n2 + k % n2],
                        None => base[k],
                    })
                    .collect()
            })
            .collect();
        let mut ws = plan.new_workspace();
        let stored: Vec<Coefficients> = images
            .iter()
            .map(|x| {
                let mut c = plan.new_coefficients();
                match &mirror {
                    Some(m) => plan.forward_mirrored_rows(x, m, &mut c, &mut ws),
                    None => plan.forward(x, &mut c, &mut ws),
                }
                .unwrap();
                c
            })
            .collect();
        let total = plan.layout().total;
        let mut seen = vec![0u8; total];
        let (mut sq, mut next) = (vec![0.5; total], 0);
        let (mut stored_pair, mut single) = (vec![f64::NAN; total], vec![0.5; total]);
        let (mut w0, mut w1) = (plan.new_workspace(), plan.new_workspace());
        let imgs = [images[0].as_slice(), images[1].as_slice()];
        plan.forward_batch(imgs, mirror.as_deref(), [&mut w0, &mut w1], |info, vals| {
            assert_eq!(info.offset, next, "bands in layout order");
            next += info.len();
            for (m, v) in vals.iter().enumerate() {
                let want = &stored[m].as_slice()[info.offset..info.offset + info.len()];
                for (j, w) in want.iter().enumerate() {
                    assert_eq!(v.get(j).to_bits(), w.to_bits(), "{opts:?} {n1}x{n2}");
                }
            }
            for s in &mut seen[info.offset..info.offset + info.len()] {
                *s += 1;
            }
            let band = &mut sq[info.offset..info.offset + info.len()];
            square_sums(&vals, band, SumInto::Add);
            let pair = &mut stored_pair[info.offset..info.offset + info.len()];
            square_sums(&vals, pair, SumInto::Store);
            let one = &mut single[info.offset..info.offset + info.len()];
            square_sums(&vals[..1], one, SumInto::Add);
            square_sums(&vals[1..], one, SumInto::Add);
        })
        .unwrap();
        assert_eq!(next, total);
        assert!(seen.iter().all(|&s| s == 1));
        for (k, s) in sq.iter().enumerate() {
            let (a, b) = (stored[0].as_slice()[k], stored[1].as_slice()[k]);
            // Two images: their squares summed first, then added (or stored);
            // one image at a time: added one after the other.
            assert_eq!(s.to_bits(), (0.5 + (a * a + b * b)).to_bits());
            assert_eq!(stored_pair[k].to_bits(), (a * a + b * b).to_bits());
            assert_eq!(single[k].to_bits(), (0.5 + a * a + b * b).to_bits());
        }
    }
    let plan = CurveletPlan::new(40, 36, &CurveletOptions::default()).unwrap();
    let (mut w0, mut w1) = (plan.new_workspace(), plan.new_workspace());
    let (good, short) = (vec![0.0; 40 * 36], vec![0.0; 40 * 35]);
    let mut bad = vec![0.0; 40 * 36];
    bad[37] = f64::NAN;
    for imgs in [[&good[..], &short[..]], [&bad[..], &good[..]]] {
        let r = plan.forward_batch(imgs, None, [&mut w0, &mut w1], |_, _| {});
        assert!(r.is_err());
    }
}

// The inverse of coefficients written band by band equals the stored inverse bit for bit
// (plain and folded, both finest treatments), every band is asked for exactly once, and
// the dense band comes first.
#[test]
fn inverse_from_bands_equals_stored_inverse_bit_for_bit() {
    for (opts, plan, fold) in band_case_plans() {
        let (n1, n2) = (plan.n1(), plan.n2());
        let mut c = plan.new_coefficients();
        let v = noise(c.len(), 91);
        c.as_mut_slice().copy_from_slice(&v);
        let mut ws = plan.new_workspace();
        let (mut want, mut got) = (vec![0.0; n1 * n2], vec![1.0; n1 * n2]);
        match &fold {
            Some(m) => plan.inverse_row_folded(&c, m, &mut want, &mut ws),
            None => plan.inverse(&c, &mut want, &mut ws),
        }
        .unwrap();
        let (data, mut asked) = (c.as_slice(), vec![0u8; c.len()]);
        let mut first = None;
        let mut ws2 = plan.new_workspace();
        plan.inverse_from(fold.as_deref(), &mut got, &mut ws2, |info, slot| {
            let band = &data[info.offset..info.offset + info.len()];
            first.get_or_insert(matches!(slot, BandSlot::Dense(_)));
            for a in &mut asked[info.offset..info.offset + info.len()] {
                *a += 1;
            }
            match slot {
                BandSlot::Dense(v) => v.copy_from_slice(band),
                BandSlot::Wedge { values, pair } => {
                    let n = values.len();
                    for (j, v) in values.iter_mut().enumerate() {
                        let im = if pair { band[n + j] } else { 0.0 };
                        *v = Complex64::new(band[j], im);
                    }
                }
            }
        })
        .unwrap();
        assert_eq!(first, Some(opts.finest == Finest::Wavelets), "{opts:?}");
        assert!(asked.iter().all(|&a| a == 1));
        for (x, y) in want.iter().zip(&got) {
            assert_eq!(x.to_bits(), y.to_bits(), "{opts:?} {n1}x{n2}");
        }
    }
    let plan = CurveletPlan::new(40, 36, &CurveletOptions::default()).unwrap();
    let mut ws = plan.new_workspace();
    let mut short = vec![0.0; 40 * 35];
    assert!(plan
        .inverse_from(None, &mut short, &mut ws, |_, _| {})
        .is_err());
}
