//! The analytic limits of IMAGE.md §8 for `da::image`: each test compares the analysis
//! with a closed form (or a dense solve) that a wrong operator, a crop in place of the
//! fold, a missing 1/m or a wrong gradient would break.

mod fields;
use fields::{noise, normals};
use landcycle::da::curvelet::{CurveletPlan, MaskedTransform};
use landcycle::da::image::*;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// A smooth soil-moisture-like field around 0.25.
fn smooth_field(ny: usize, nx: usize, phase: f64) -> Vec<f64> {
    (0..ny * nx)
        .map(|i| {
            let (r, c) = ((i / nx) as f64, (i % nx) as f64);
            0.25 + 0.05 * (0.3 * r + phase).sin() * (0.2 * c - phase).cos() + 0.02 * (0.7 * c).sin()
        })
        .collect()
}

/// Land everywhere except a corner "sea" and a diagonal strait.
fn land_mask(ny: usize, nx: usize) -> Vec<bool> {
    (0..ny * nx)
        .map(|i| {
            let (r, c) = (i / nx, i % nx);
            !((r < ny / 4 && c < nx / 4) || r == c)
        })
        .collect()
}

fn tight() -> VarConfig {
    VarConfig {
        tolerance: 1e-13,
        max_iter: 500,
        ..VarConfig::default()
    }
}

fn plan(ny: usize, nx: usize, keep: f64, periodic: bool) -> ImagePlan {
    let opts = ImageOptions {
        keep_fraction: keep,
        periodic_lon: periodic,
        ..ImageOptions::default()
    };
    ImagePlan::new(ny, nx, &opts).unwrap()
}

// Test 1: with λ = 0 and J_O on, the analysis is the per-cell OI update.
#[test]
fn oi_limit_image_weight_zero() {
    let (ny, nx) = (20, 24);
    let n = ny * nx;
    let p = plan(ny, nx, 0.5, false);
    let mut ws = p.new_workspace();
    let xb = smooth_field(ny, nx, 0.0);
    let fo = smooth_field(ny, nx, 1.0);
    let analysed = land_mask(ny, nx);
    let b: Vec<f64> = noise(n, 1).iter().map(|u| 1e-3 * (1.0 + u)).collect();
    let obs: Vec<PointObs> = (0..n)
        .step_by(7)
        .map(|c| PointObs {
            cell: c,
            value: xb[c] + 0.1 * noise(1, c as u64)[0],
            error_var: 4e-4 * (1.5 + noise(1, 1000 + c as u64)[0]),
        })
        .collect();
    let input = VarInput {
        background: &xb,
        observed: &fo,
        analysed: &analysed,
        b_var: &b,
        point_obs: &obs,
    };
    let cfg = VarConfig {
        weight: 0.0,
        ..tight()
    };
    let mut inc = vec![f64::NAN; n];
    let rep = analyse_var(&p, &input, &cfg, &mut ws, &mut inc).unwrap();
    let mut expected = vec![0.0; n];
    let mut used = 0;
    for o in &obs {
        if analysed[o.cell] {
            expected[o.cell] = b[o.cell] / (b[o.cell] + o.error_var) * (o.value - xb[o.cell]);
            used += 1;
        }
    }
    assert_eq!(rep.point_obs_used, used);
    assert!(
        used < obs.len(),
        "some observations must fall off the analysed cells"
    );
    for c in 0..n {
        assert!(
            (inc[c] - expected[c]).abs() < 1e-10,
            "cell {c}: {} vs {}",
            inc[c],
            expected[c]
        );
        if !analysed[c] {
            assert_eq!(inc[c], 0.0);
        }
    }
}

fn parseval_case(periodic: bool, m_expected: f64) {
    let (ny, nx) = (24, 32);
    let n = ny * nx;
    let p = plan(ny, nx, 1.0, periodic);
    assert_eq!(p.multiplicity(), m_expected);
    let mut ws = p.new_workspace();
    let xb = smooth_field(ny, nx, 0.3);
    let mut fo: Vec<f64> = smooth_field(ny, nx, 2.0)
        .iter()
        .zip(noise(n, 5))
        .map(|(f, u)| f + 0.03 * u)
        .collect();
    for c in (0..n).step_by(11) {
        fo[c] = f64::NAN; // gaps leave V
    }
    let analysed = land_mask(ny, nx);
    let (beta, sigma) = (9e-4, 0.05);
    let b = vec![beta; n];
    let input = VarInput {
        background: &xb,
        observed: &fo,
        analysed: &analysed,
        b_var: &b,
        point_obs: &[],
    };
    let cfg = VarConfig {
        sigma_i: sigma,
        ..tight()
    };
    let mut inc = vec![f64::NAN; n];
    let rep = analyse_var(&p, &input, &cfg, &mut ws, &mut inc).unwrap();
    assert_eq!(rep.kept_units, rep.total_units);
    let k = beta / (beta + sigma * sigma);
    for c in 0..n {
        let want = if analysed[c] && fo[c].is_finite() {
            k * (fo[c] - xb[c])
        } else {
            0.0
        };
        assert!(
            (inc[c] - want).abs() < 1e-10,
            "cell {c}: {} vs {want}",
            inc[c]
        );
    }
}

// Test 2: mask = everything, B = βI: x_a = x_b + β/(β + σ_I²) d on V (m = 4 regional).
#[test]
fn parseval_limit_regional() {
    parseval_case(false, 4.0);
}

// Test 2 on a grid periodic in longitude (m = 2).
#[test]
fn parseval_limit_periodic_longitude() {
    parseval_case(true, 2.0);
}

// Test 3: a constant innovation on an all-land grid gives β/(β + σ_I²)·c for any keep fraction.
#[test]
fn constant_innovation_gives_constant_increment() {
    let (ny, nx) = (20, 28);
    let n = ny * nx;
    for (keep, periodic) in [(0.1, false), (0.5, false), (0.3, true)] {
        let p = plan(ny, nx, keep, periodic);
        let mut ws = p.new_workspace();
        let xb: Vec<f64> = smooth_field(ny, nx, 0.7)
            .iter()
            .zip(noise(n, 9))
            .map(|(f, u)| f + 0.02 * u)
            .collect();
        let c0 = 0.037;
        let fo: Vec<f64> = xb.iter().map(|x| x + c0).collect();
        let analysed = vec![true; n];
        let (beta, sigma) = (4e-4, 0.03);
        let b = vec![beta; n];
        let input = VarInput {
            background: &xb,
            observed: &fo,
            analysed: &analysed,
            b_var: &b,
            point_obs: &[],
        };
        let cfg = VarConfig {
            sigma_i: sigma,
            ..tight()
        };
        let mut inc = vec![0.0; n];
        let rep = analyse_var(&p, &input, &cfg, &mut ws, &mut inc).unwrap();
        assert!(
            rep.kept_units < rep.total_units,
            "the mask must actually threshold"
        );
        let want = beta / (beta + sigma * sigma) * c0;
        for (c, v) in inc.iter().enumerate() {
            assert!(
                (v - want).abs() < 1e-11,
                "keep {keep}: cell {c}: {v} vs {want}"
            );
        }
    }
}

// Test 4: f_o = x_b on V gives δ = 0 exactly, also when innovations exist off land.
#[test]
fn zero_innovation_gives_zero_increment() {
    let (ny, nx) = (18, 22);
    let n = ny * nx;
    let p = plan(ny, nx, 0.5, false);
    let mut ws = p.new_workspace();
    let xb = smooth_field(ny, nx, 0.1);
    let analysed = land_mask(ny, nx);
    let fo: Vec<f64> = (0..n)
        .map(|c| if analysed[c] { xb[c] } else { xb[c] + 0.2 })
        .collect();
    let b = vec![1e-3; n];
    let input = VarInput {
        background: &xb,
        observed: &fo,
        analysed: &analysed,
        b_var: &b,
        point_obs: &[],
    };
    let mut inc = vec![f64::NAN; n];
    let rep = analyse_var(&p, &input, &VarConfig::default(), &mut ws, &mut inc).unwrap();
    assert_eq!(rep.stop, StopReason::ZeroRhs);
    assert!(inc.iter().all(|&v| v == 0.0));
}

/// Cholesky solve of a dense SPD system (row-major `a`, n × n).
fn cholesky_solve(mut a: Vec<f64>, mut b: Vec<f64>, n: usize) -> Vec<f64> {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        assert!(d > 0.0, "matrix not positive definite");
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
    }
    for i in 0..n {
        for k in 0..i {
            b[i] -= a[i * n + k] * b[k];
        }
        b[i] /= a[i * n + i];
    }
    for i in (0..n).rev() {
        for k in i + 1..n {
            b[i] -= a[k * n + i] * b[k];
        }
        b[i] /= a[i * n + i];
    }
    b
}

struct Case {
    xb: Vec<f64>,
    fo: Vec<f64>,
    analysed: Vec<bool>,
    b: Vec<f64>,
    obs: Vec<PointObs>,
}

fn full_case(ny: usize, nx: usize) -> Case {
    let n = ny * nx;
    let xb = smooth_field(ny, nx, 0.2);
    let fo: Vec<f64> = smooth_field(ny, nx, 1.3)
        .iter()
        .zip(noise(n, 21))
        .map(|(f, u)| f + 0.04 * u)
        .collect();
    let b = noise(n, 22).iter().map(|u| 1e-3 * (1.2 + u)).collect();
    let obs = (0..n)
        .step_by(13)
        .map(|c| PointObs {
            cell: c,
            value: fo[c] + 0.01,
            error_var: 1e-3,
        })
        .collect();
    Case {
        xb,
        fo,
        analysed: land_mask(ny, nx),
        b,
        obs,
    }
}

impl Case {
    fn input(&self) -> VarInput<'_> {
        VarInput {
            background: &self.xb,
            observed: &self.fo,
            analysed: &self.analysed,
            b_var: &self.b,
            point_obs: &self.obs,
        }
    }
}

// Test 5: on 16×16, CG equals a dense Cholesky solve of ∇J = 0, and J falls monotonically.
#[test]
fn cg_equals_dense_solve_16x16() {
    let (ny, nx) = (16, 16);
    let case = full_case(ny, nx);
    let p = plan(ny, nx, 0.3, false);
    let mut ws = p.new_workspace();
    let cfg = VarConfig {
        sigma_i: 0.02,
        ..tight()
    };
    let mask = p.observation_mask(&case.fo, &mut ws).unwrap();
    let prob = VarProblem::new(&p, &case.input(), &cfg, mask, &mut ws).unwrap();
    let nv = prob.cells().len();
    // The Hessian column by column: ∇J is affine, so H e_j = ∇J(e_j) − ∇J(0).
    let zero = vec![0.0; nv];
    let mut g0 = vec![0.0; nv];
    prob.gradient(&zero, &mut g0, &mut ws).unwrap();
    let mut h = vec![0.0; nv * nv];
    let (mut e, mut g) = (vec![0.0; nv], vec![0.0; nv]);
    for j in 0..nv {
        e[j] = 1.0;
        prob.gradient(&e, &mut g, &mut ws).unwrap();
        e[j] = 0.0;
        for i in 0..nv {
            h[i * nv + j] = g[i] - g0[i];
        }
    }
    let asym = (0..nv * nv)
        .map(|k| (h[k] - h[(k % nv) * nv + k / nv]).abs())
        .fold(0.0, f64::max);
    let hmax = h.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    assert!(asym < 1e-10 * hmax, "Hessian asymmetry {asym}");
    let rhs: Vec<f64> = g0.iter().map(|v| -v).collect();
    let dense = cholesky_solve(h, rhs, nv);
    let mut delta = vec![0.0; nv];
    let rep = prob.solve(&mut delta, &mut ws).unwrap();
    assert_eq!(rep.stop, StopReason::Converged);
    let err: Vec<f64> = delta.iter().zip(&dense).map(|(a, b)| a - b).collect();
    assert!(
        norm(&err) < 1e-8 * norm(&dense),
        "CG vs dense: {}",
        norm(&err) / norm(&dense)
    );
    let costs: Vec<f64> = rep.iterations.iter().map(|l| l.cost).collect();
    assert!((costs[0] - prob.cost(&zero, &mut ws).unwrap()).abs() < 1e-10 * costs[0]);
    let jd = prob.cost(&dense, &mut ws).unwrap();
    assert!((costs.last().unwrap() - jd).abs() < 1e-9 * jd);
    for w in costs.windows(2) {
        assert!(w[1] <= w[0] * (1.0 + 1e-14), "J rose: {} → {}", w[0], w[1]);
    }
    assert!(rep.iterations.last().unwrap().grad_norm < 1e-9 * rep.iterations[0].grad_norm);
}

fn adjoint_rel(lhs: f64, rhs: f64, scale: f64) -> f64 {
    (lhs - rhs).abs() / scale
}

fn adjoint_case(ny: usize, nx: usize, periodic: bool) {
    let n = ny * nx;
    let p = plan(ny, nx, 0.4, periodic);
    let mut ws = p.new_workspace();
    let case = full_case(ny, nx);
    let tol = 1e-12;
    // Z_V.
    let cells = CellSet::from_mask(&case.analysed);
    let (v, g) = (noise(cells.len(), 31), noise(n, 32));
    let (mut zv, mut ztg) = (vec![0.0; n], vec![0.0; cells.len()]);
    cells.pad_into(&v, &mut zv).unwrap();
    cells.restrict_into(&g, &mut ztg).unwrap();
    let r = adjoint_rel(dot(&zv, &g), dot(&v, &ztg), norm(&zv) * norm(&g));
    assert!(r < tol, "Z_V {ny}x{nx}: {r}");
    // E and its fold.
    let ne = p.n_extended();
    let (x, y) = (noise(n, 33), noise(ne, 34));
    let (mut ex, mut ety) = (vec![0.0; ne], vec![0.0; n]);
    p.extend_into(&x, &mut ex).unwrap();
    p.fold_into(&y, &mut ety).unwrap();
    let r = adjoint_rel(dot(&ex, &y), dot(&x, &ety), norm(&ex) * norm(&y));
    assert!(r < tol, "E {ny}x{nx}: {r}");
    assert!((dot(&ex, &ex) - p.multiplicity() * dot(&x, &x)).abs() < 1e-12 * dot(&ex, &ex));
    // C.
    let cp: &CurveletPlan = p.curvelet();
    let mut cw = cp.new_workspace();
    let (mut cx, mut cy) = (cp.new_coefficients(), cp.new_coefficients());
    let xe = noise(ne, 35);
    cp.forward(&xe, &mut cx, &mut cw).unwrap();
    let ny_ = noise(cy.len(), 36);
    cy.as_mut_slice().copy_from_slice(&ny_);
    let mut cty = vec![0.0; ne];
    cp.inverse(&cy, &mut cty, &mut cw).unwrap();
    let r = adjoint_rel(
        cx.dot(&cy),
        dot(&xe, &cty),
        cx.norm_sq().sqrt() * cy.norm_sq().sqrt(),
    );
    assert!(r < tol, "C {ny}x{nx}: {r}");
    // M C (the mask as a gather of kept coefficients) and W = s·I.
    let mask = p.observation_mask(&case.fo, &mut ws).unwrap();
    let mt = MaskedTransform::new(cp, &mask).unwrap();
    let yk = noise(mt.output_len(), 37);
    let mut mcx = vec![0.0; mt.output_len()];
    let mut scratch = cp.new_coefficients();
    mt.apply(&xe, &mut mcx, &mut cw, &mut scratch).unwrap();
    mt.adjoint(&yk, &mut cty, &mut cw, &mut scratch).unwrap();
    let r = adjoint_rel(dot(&mcx, &yk), dot(&xe, &cty), norm(&mcx) * norm(&yk));
    assert!(r < tol, "MC {ny}x{nx}: {r}");
    // The whole chain W^{1/2} M C E Z_V.
    let prob = VarProblem::new(&p, &case.input(), &tight(), mask, &mut ws).unwrap();
    let s = prob.image_scale().sqrt();
    let nv = prob.cells().len();
    let v = noise(nv, 38);
    let mut lv = vec![0.0; prob.kept_len()];
    prob.image_forward(&v, &mut lv, &mut ws).unwrap();
    lv.iter_mut().for_each(|a| *a *= s);
    let yk = noise(prob.kept_len(), 39);
    let sy: Vec<f64> = yk.iter().map(|a| a * s).collect();
    let mut lty = vec![0.0; nv];
    prob.image_adjoint(&sy, &mut lty, &mut ws).unwrap();
    let r = adjoint_rel(dot(&lv, &yk), dot(&v, &lty), norm(&lv) * norm(&yk));
    assert!(r < tol, "chain {ny}x{nx}: {r}");
}

// Test 9: ⟨Lx, y⟩ = ⟨x, Lᵀy⟩ for Z_V, E/fold, C, MC, W and the chain.
#[test]
fn adjoint_identities_45x32() {
    adjoint_case(45, 32, false);
    adjoint_case(45, 32, true);
}

#[test]
fn adjoint_identities_100x77() {
    adjoint_case(100, 77, false);
}

// The global 0.25° size of IMAGE.md test 9 (periodic longitude; ≈3 s in release).
#[test]
fn adjoint_identities_1440x600_global() {
    adjoint_case(600, 1440, true);
}

// Test 10: the Taylor remainder J(δ + hp) − J(δ) − h⟨∇J, p⟩ falls like h² (ratio 4 per
// halving; a wrong gradient leaves an O(h) remainder, ratio 2), and central differences
// match ⟨∇J, p⟩ (exactly, for a quadratic, up to round-off).
#[test]
fn gradient_test() {
    let (ny, nx) = (24, 20);
    let case = full_case(ny, nx);
    let p = plan(ny, nx, 0.5, false);
    let mut ws = p.new_workspace();
    let cfg = VarConfig {
        sigma_i: 0.03,
        ..VarConfig::default()
    };
    let mask = p.observation_mask(&case.fo, &mut ws).unwrap();
    let prob = VarProblem::new(&p, &case.input(), &cfg, mask, &mut ws).unwrap();
    let nv = prob.cells().len();
    let delta: Vec<f64> = noise(nv, 41).iter().map(|u| 0.02 * u).collect();
    let dir: Vec<f64> = noise(nv, 42).iter().map(|u| 0.02 * u).collect();
    let mut grad = vec![0.0; nv];
    prob.gradient(&delta, &mut grad, &mut ws).unwrap();
    let gp = dot(&grad, &dir);
    let j0 = prob.cost(&delta, &mut ws).unwrap();
    let shifted = |h: f64| -> Vec<f64> { delta.iter().zip(&dir).map(|(d, q)| d + h * q).collect() };
    let mut prev = None;
    for k in 0..7 {
        let h = 0.5f64.powi(k);
        let jh = prob.cost(&shifted(h), &mut ws).unwrap();
        let rem = (jh - j0 - h * gp).abs();
        assert!(
            rem > 1e-9 * j0,
            "remainder {rem} too close to round-off at h = {h}"
        );
        if let Some(r) = prev {
            let ratio: f64 = r / rem;
            assert!(
                (ratio - 4.0).abs() < 0.05,
                "h = {h}: remainder ratio {ratio}"
            );
        }
        prev = Some(rem);
    }
    for h in [1e-2, 1e-4] {
        let jp = prob.cost(&shifted(h), &mut ws).unwrap();
        let jm = prob.cost(&shifted(-h), &mut ws).unwrap();
        let fd = (jp - jm) / (2.0 * h);
        assert!(
            (fd - gp).abs() < 1e-7 * gp.abs(),
            "h = {h}: fd {fd} vs {gp}"
        );
    }
}

struct Ens {
    fields: (Vec<f64>, Vec<bool>, Vec<bool>),
    members: Vec<Vec<f64>>,
    perturbed: Vec<Vec<f64>>,
}

fn ensemble(ny: usize, nx: usize, nm: usize, sigma: f64) -> Ens {
    let n = ny * nx;
    let land = land_mask(ny, nx);
    // Some land fails QC (frozen): analysed ⊂ land.
    let analysed: Vec<bool> = (0..n).map(|c| land[c] && c % 17 != 3).collect();
    let mut fo = smooth_field(ny, nx, 0.9);
    for c in (0..n).step_by(9) {
        fo[c] = f64::NAN;
    }
    let members: Vec<Vec<f64>> = (0..nm)
        .map(|i| {
            let f = smooth_field(ny, nx, 0.1 * i as f64);
            let u = noise(n, 100 + i as u64);
            (0..n)
                .map(|c| {
                    if land[c] {
                        f[c] + 0.03 * u[c]
                    } else {
                        f64::NAN
                    }
                })
                .collect()
        })
        .collect();
    let g: Vec<Vec<f64>> = (0..nm).map(|i| normals(n, 500 + i as u64)).collect();
    let perturbed = perturbed_images(&fo, sigma, &g).unwrap();
    Ens {
        fields: (fo, land, analysed),
        members,
        perturbed,
    }
}

impl Ens {
    fn fields(&self) -> EnkfLikeFields<'_> {
        EnkfLikeFields {
            observed: &self.fields.0,
            land: &self.fields.1,
            analysed: &self.fields.2,
        }
    }
}

// Test 6: a one-degree-of-freedom ensemble (constant fields: only the coarsest band is
// excited) gives the scalar Kalman update c_a = c_b + b/(b + r)(c_o + ε − c_b) per member,
// and at N = 2000 var(c_a) = (1 − g)b within 3 sampling sd of the cross term.
#[test]
fn enkf_like_one_coefficient_is_scalar_kalman() {
    let (ny, nx) = (16, 16);
    let n = ny * nx;
    let p = plan(ny, nx, 0.5, false);
    let mut ws = p.new_workspace();
    for (nm, b_true, r_true) in [(20, 4e-4_f64, 1e-4_f64), (2000, 9e-4, 4e-4)] {
        let alpha: Vec<f64> = normals(nm, 7).iter().map(|z| b_true.sqrt() * z).collect();
        let beta: Vec<f64> = normals(nm, 8).iter().map(|z| r_true.sqrt() * z).collect();
        let (xbar, co) = (0.22, 0.27);
        let mut members: Vec<Vec<f64>> = alpha.iter().map(|a| vec![xbar + a; n]).collect();
        let perturbed: Vec<Vec<f64>> = beta.iter().map(|e| vec![co + e; n]).collect();
        let fo = vec![co; n];
        let all = vec![true; n];
        let fields = EnkfLikeFields {
            observed: &fo,
            land: &all,
            analysed: &all,
        };
        let before: Vec<f64> = members.iter().map(|m| m[0]).collect();
        let rep = analyse_enkf_like(
            &p,
            &fields,
            &mut members,
            &perturbed,
            &EnkfLikeConfig::default(),
            &mut ws,
        )
        .unwrap();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let var = |v: &[f64]| {
            let m = mean(v);
            v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64
        };
        let (b, r) = (var(&before), var(&beta));
        let g = b / (b + r);
        let bm = mean(&beta);
        for (i, m) in members.iter().enumerate() {
            let want = before[i] + g * (co + (beta[i] - bm) - before[i]);
            for v in m {
                assert!((v - want).abs() < 1e-12, "N {nm} member {i}: {v} vs {want}");
            }
        }
        let after: Vec<f64> = members.iter().map(|m| m[0]).collect();
        assert!((rep.spread_after - var(&after).sqrt()).abs() < 1e-12);
        if nm == 2000 {
            let sd = 2.0 * g * (1.0 - g) * (b * r / (nm - 1) as f64).sqrt();
            let dev = var(&after) - (1.0 - g) * b;
            assert!(
                dev.abs() < 3.0 * sd,
                "var(c_a) off by {dev}, 3σ = {}",
                3.0 * sd
            );
        }
    }
}

// Test 7, bivariate half: a deeper layer correlated with the top one gets the scalar
// Kalman cross-update x²_a = x² + cov(x², x¹)/(b + r)·(c_o + ε' − x¹) (one degree of freedom).
#[test]
fn deep_layer_cross_update_is_scalar_kalman() {
    let (ny, nx) = (16, 20);
    let n = ny * nx;
    let p = plan(ny, nx, 0.5, false);
    let mut ws = p.new_workspace();
    let nm = 15;
    let alpha: Vec<f64> = normals(nm, 71).iter().map(|z| 0.02 * z).collect();
    let eta: Vec<f64> = normals(nm, 72).iter().map(|z| 0.005 * z).collect();
    let beta: Vec<f64> = normals(nm, 73).iter().map(|z| 0.01 * z).collect();
    let co = 0.3;
    let top: Vec<Vec<f64>> = alpha.iter().map(|a| vec![0.2 + a; n]).collect();
    let deep: Vec<Vec<f64>> = (0..nm)
        .map(|i| vec![0.25 + 0.6 * alpha[i] + eta[i]; n])
        .collect();
    let perturbed: Vec<Vec<f64>> = beta.iter().map(|e| vec![co + e; n]).collect();
    let fo = vec![co; n];
    let all = vec![true; n];
    let fields = EnkfLikeFields {
        observed: &fo,
        land: &all,
        analysed: &all,
    };
    let cfg = EnkfLikeConfig::default();
    let gain = EnkfLikeGain::estimate(&p, &fields, &top, &perturbed, &cfg, &mut ws).unwrap();
    let mut deep_a = deep.clone();
    gain.update_deep_layer(&p, &fo, &top, &mut deep_a, &perturbed, &mut ws)
        .unwrap();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let cov = |u: &[f64], v: &[f64]| {
        let (mu, mv) = (mean(u), mean(v));
        u.iter()
            .zip(v)
            .map(|(a, b)| (a - mu) * (b - mv))
            .sum::<f64>()
            / (u.len() - 1) as f64
    };
    let x1: Vec<f64> = top.iter().map(|m| m[0]).collect();
    let x2: Vec<f64> = deep.iter().map(|m| m[0]).collect();
    let (b, r, c12) = (cov(&x1, &x1), cov(&beta, &beta), cov(&x2, &x1));
    let bm = mean(&beta);
    for i in 0..nm {
        let want = x2[i] + c12 / (b + r) * (co + beta[i] - bm - x1[i]);
        for v in &deep_a[i] {
            assert!((v - want).abs() < 1e-12, "member {i}: {v} vs {want}");
        }
    }
    let uniform = EnkfLikeGain::uniform(&p, &fields, 0.5).unwrap();
    assert!(uniform
        .update_deep_layer(&p, &fo, &top, &mut deep_a, &perturbed, &mut ws)
        .is_err());
}

// Test 7: a uniform gain g reproduces the per-cell EnKF with H = I on V, leaves the other
// analysed cells unchanged (up to round-off) and never writes off the analysed cells.
#[test]
fn uniform_gain_is_the_1d_enkf() {
    let (ny, nx) = (30, 26);
    let n = ny * nx;
    let p = plan(ny, nx, 0.5, false);
    let mut ws = p.new_workspace();
    let ens = ensemble(ny, nx, 12, 0.04);
    let fields = ens.fields();
    let g = 0.3;
    let gain = EnkfLikeGain::uniform(&p, &fields, g).unwrap();
    let mut members = ens.members.clone();
    gain.update_members(&p, fields.observed, &mut members, &ens.perturbed, &mut ws)
        .unwrap();
    let nm = members.len() as f64;
    for c in 0..n {
        let fbar = ens.perturbed.iter().map(|f| f[c]).sum::<f64>() / nm;
        for (i, m) in members.iter().enumerate() {
            let x = ens.members[i][c];
            let in_v = fields.analysed[c] && fields.observed[c].is_finite();
            if in_v {
                let want = x + g * (fields.observed[c] + ens.perturbed[i][c] - fbar - x);
                assert!((m[c] - want).abs() < 1e-12, "cell {c} member {i}");
            } else if fields.analysed[c] {
                assert!((m[c] - x).abs() < 1e-12, "cell {c} member {i}");
            } else {
                assert!(m[c].to_bits() == x.to_bits(), "cell {c} written");
            }
        }
    }
}

// Test 8 and the mean update: G = Z_AᵀE⁺C* diag(g) C E Z_V is symmetric on V, and with
// de-meaned perturbations x̄_a = x̄ + G(f_o − x̄).
#[test]
fn mean_update_operator_is_symmetric() {
    let (ny, nx) = (28, 34);
    let n = ny * nx;
    for periodic in [false, true] {
        let p = plan(ny, nx, 0.5, periodic);
        let mut ws = p.new_workspace();
        let ens = ensemble(ny, nx, 10, 0.04);
        let fields = ens.fields();
        let cfg = EnkfLikeConfig::default();
        let gain = EnkfLikeGain::estimate(&p, &fields, &ens.members, &ens.perturbed, &cfg, &mut ws)
            .unwrap();
        let gs = gain.gain().as_slice();
        assert!(gs.iter().all(|&v| (0.0..=1.0).contains(&v)));
        assert!(gs.iter().any(|&v| v > 0.05) && gs.contains(&0.0));
        let in_v: Vec<bool> = (0..n)
            .map(|c| fields.analysed[c] && fields.observed[c].is_finite())
            .collect();
        let on_v = |x: Vec<f64>| -> Vec<f64> {
            x.iter()
                .zip(&in_v)
                .map(|(v, &k)| if k { *v } else { 0.0 })
                .collect()
        };
        let (a, b) = (on_v(noise(n, 61)), on_v(noise(n, 62)));
        let (mut ga, mut gb) = (vec![0.0; n], vec![0.0; n]);
        gain.apply(&p, &a, &mut ga, &mut ws).unwrap();
        gain.apply(&p, &b, &mut gb, &mut ws).unwrap();
        let (l, r) = (dot(&on_v(ga), &b), dot(&a, &on_v(gb)));
        assert!(
            (l - r).abs() < 1e-12 * norm(&a) * norm(&b),
            "⟨Ga,b⟩ {l} vs ⟨a,Gb⟩ {r}"
        );
        // Mean update.
        let nm = ens.members.len() as f64;
        let xbar: Vec<f64> = (0..n)
            .map(|c| ens.members.iter().map(|m| m[c]).sum::<f64>() / nm)
            .collect();
        let d: Vec<f64> = (0..n)
            .map(|c| {
                if in_v[c] {
                    fields.observed[c] - xbar[c]
                } else {
                    0.0
                }
            })
            .collect();
        let mut gd = vec![0.0; n];
        gain.apply(&p, &d, &mut gd, &mut ws).unwrap();
        let mut members = ens.members.clone();
        gain.update_members(&p, fields.observed, &mut members, &ens.perturbed, &mut ws)
            .unwrap();
        for c in (0..n).filter(|&c| fields.land[c]) {
            let xa = members.iter().map(|m| m[c]).sum::<f64>() / nm;
            assert!((xa - xbar[c] - gd[c]).abs() < 1e-12, "cell {c}");
        }
    }
}

// RTPS with α = 1 restores the background spread exactly per cell; the spread before the
// update is the mean per-cell sd, also without a gain; inflation raises gains.
#[test]
fn enkf_like_rtps_and_inflation() {
    let (ny, nx) = (24, 24);
    let n = ny * nx;
    let p = plan(ny, nx, 0.5, false);
    let mut ws = p.new_workspace();
    let ens = ensemble(ny, nx, 8, 0.02);
    let fields = ens.fields();
    let sd = |ms: &[Vec<f64>], c: usize| {
        let m = ms.iter().map(|x| x[c]).sum::<f64>() / ms.len() as f64;
        (ms.iter().map(|x| (x[c] - m).powi(2)).sum::<f64>() / (ms.len() - 1) as f64).sqrt()
    };
    let cfg = EnkfLikeConfig {
        rtps_alpha: 1.0,
        ..EnkfLikeConfig::default()
    };
    let mut members = ens.members.clone();
    let rep = analyse_enkf_like(&p, &fields, &mut members, &ens.perturbed, &cfg, &mut ws).unwrap();
    assert!((rep.spread_after - rep.spread_before).abs() < 1e-12);
    // The spread taken before there is a gain (the spread analysis's root) is the same.
    let before = prior_spread(fields.analysed, &ens.members, &mut ws);
    assert_eq!(before.to_bits(), rep.spread_before.to_bits());
    let cells: Vec<usize> = (0..n).filter(|&c| fields.analysed[c]).collect();
    let mean_sd = cells.iter().map(|&c| sd(&ens.members, c)).sum::<f64>() / cells.len() as f64;
    assert!((before - mean_sd).abs() < 1e-12, "{before} {mean_sd}");
    for c in (0..n).filter(|&c| fields.analysed[c]) {
        assert!((sd(&members, c) - sd(&ens.members, c)).abs() < 1e-12);
    }
    let mut plain = ens.members.clone();
    let rep0 = analyse_enkf_like(
        &p,
        &fields,
        &mut plain,
        &ens.perturbed,
        &EnkfLikeConfig::default(),
        &mut ws,
    )
    .unwrap();
    assert!(rep0.spread_after < rep0.spread_before);
    let g1 = EnkfLikeGain::estimate(
        &p,
        &fields,
        &ens.members,
        &ens.perturbed,
        &EnkfLikeConfig::default(),
        &mut ws,
    )
    .unwrap();
    let inflated = EnkfLikeConfig {
        b_inflation: 2.0,
        max_gain: Some(0.9),
        ..EnkfLikeConfig::default()
    };
    let g2 = EnkfLikeGain::estimate(
        &p,
        &fields,
        &ens.members,
        &ens.perturbed,
        &inflated,
        &mut ws,
    )
    .unwrap();
    for (a, b) in g1.gain().as_slice().iter().zip(g2.gain().as_slice()) {
        assert!(*b <= 0.9 && (*b >= a.min(0.9) - 1e-15));
    }
}

// Bad inputs are refused with a fielded error, not a panic.
#[test]
fn invalid_inputs_are_refused() {
    let (ny, nx) = (16, 16);
    let n = ny * nx;
    let p = plan(ny, nx, 0.5, false);
    let mut ws = p.new_workspace();
    let case = full_case(ny, nx);
    let mut input = case.input();
    let cfg = VarConfig {
        sigma_i: 0.0,
        ..VarConfig::default()
    };
    let mut inc = vec![0.0; n];
    assert!(matches!(
        analyse_var(&p, &input, &cfg, &mut ws, &mut inc),
        Err(ImageError::BadParameter {
            what: "sigma_i",
            ..
        })
    ));
    let short = vec![0.0; n - 1];
    input.b_var = &short;
    assert!(matches!(
        analyse_var(&p, &input, &VarConfig::default(), &mut ws, &mut inc),
        Err(ImageError::SizeMismatch { .. })
    ));
    let bad_obs = [PointObs {
        cell: n,
        value: 0.2,
        error_var: 1e-3,
    }];
    let input = VarInput {
        point_obs: &bad_obs,
        ..case.input()
    };
    assert!(matches!(
        analyse_var(&p, &input, &VarConfig::default(), &mut ws, &mut inc),
        Err(ImageError::ObsOutside { .. })
    ));
    assert!(matches!(
        ImagePlan::new(
            ny,
            nx,
            &ImageOptions {
                keep_fraction: 0.0,
                ..ImageOptions::default()
            }
        ),
        Err(ImageError::BadParameter { .. })
    ));
    let ens = ensemble(ny, nx, 3, 0.04);
    let mut one = vec![ens.members[0].clone()];
    assert!(matches!(
        analyse_enkf_like(
            &p,
            &ens.fields(),
            &mut one,
            &ens.perturbed[..1],
            &EnkfLikeConfig::default(),
            &mut ws
        ),
        Err(ImageError::TooFewMembers(1))
    ));
    // A value that is not finite on a cell the analysis reads is named with its cell (the
    // members' NaN over the ocean are never read); a member before a perturbed image.
    let (fo, land, analysed) = &ens.fields;
    let m_cell = (0..n).rev().find(|&c| land[c]).unwrap();
    let v_cell = (0..n).find(|&c| analysed[c] && fo[c].is_finite()).unwrap();
    let mut members = ens.members.clone();
    let mut perturbed = ens.perturbed.clone();
    perturbed[1][v_cell] = f64::INFINITY;
    let mut run = |members: &mut [Vec<f64>], perturbed: &[Vec<f64>]| {
        analyse_enkf_like(
            &p,
            &ens.fields(),
            members,
            perturbed,
            &EnkfLikeConfig::default(),
            &mut ws,
        )
        .unwrap_err()
    };
    let e = run(&mut members, &perturbed);
    assert_eq!(
        e.to_string(),
        format!(
            "perturbed image is not finite at cell {v_cell} (row {}, column {})",
            v_cell / nx,
            v_cell % nx
        )
    );
    members[2][m_cell] = f64::NAN;
    let e = run(&mut members, &perturbed);
    assert!(
        matches!(e, ImageError::NonFinite { what: "member", cell, .. } if cell == m_cell),
        "{e}"
    );
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(&members[0]),
        bits(&ens.members[0]),
        "a refused analysis writes nothing"
    );
}

// Pass 2 from pass 1's coefficients (V = L: every land cell observed and analysed) equals
// the direct per-member update up to round-off, regional and periodic; with V ≠ L no
// parts are kept and the direct update runs.
#[test]
fn enkf_like_member_parts_equal_the_direct_update() {
    let (ny, nx) = (26, 32);
    for periodic in [false, true] {
        let p = plan(ny, nx, 0.5, periodic);
        let mut ws = p.new_workspace();
        let ens = ensemble(ny, nx, 9, 0.04);
        let land = ens.fields.1.clone();
        let fo: Vec<f64> = (0..ny * nx)
            .map(|c| {
                if land[c] {
                    ens.fields.0[c].max(0.1)
                } else {
                    f64::NAN
                }
            })
            .collect();
        let full = EnkfLikeFields {
            observed: &fo,
            land: &land,
            analysed: &land,
        };
        let g: Vec<Vec<f64>> = (0..9).map(|i| normals(ny * nx, 900 + i)).collect();
        let pert = perturbed_images(&fo, 0.04, &g).unwrap();
        let cfg = EnkfLikeConfig::default();
        let (gain, parts) =
            EnkfLikeGain::estimate_with_parts(&p, &full, &ens.members, &pert, &cfg, &mut ws)
                .unwrap();
        let parts = parts.expect("V = L keeps parts");
        assert_eq!(parts.len(), ens.members.len());
        let mut direct = ens.members.clone();
        analyse_with_gain(&gain, &p, &fo, &mut direct, &pert, &cfg, &mut ws).unwrap();
        let mut short = ens.members.clone();
        analyse_with_parts(
            &gain,
            Some(&parts),
            &p,
            &fo,
            &mut short,
            &pert,
            &cfg,
            &mut ws,
        )
        .unwrap();
        let mut moved = 0.0_f64;
        for (i, (a, b)) in direct.iter().zip(&short).enumerate() {
            for c in (0..ny * nx).filter(|&c| land[c]) {
                assert!((a[c] - b[c]).abs() < 1e-13, "member {i} cell {c}");
                moved = moved.max((a[c] - ens.members[i][c]).abs());
            }
        }
        assert!(moved > 1e-3, "the update moved the members");
        // V ≠ L (gaps, QC failures): no parts.
        let (_, none) = EnkfLikeGain::estimate_with_parts(
            &p,
            &ens.fields(),
            &ens.members,
            &ens.perturbed,
            &cfg,
            &mut ws,
        )
        .unwrap();
        assert!(none.is_none());
    }
}
