//! Statistical and determinism properties of the perturbation room (fixed seeds; the
//! tolerances are a few standard errors, so a wrong ρ, σ, C or a biased generator fails).

use chrono::NaiveDate;
use landcycle::lsm::Forcing;
use landcycle::perturb::{
    keyed_normal, CovarianceShape, GaussianFieldPlan, PerturbError, PerturbGenerator, PerturbGroup,
    PerturbKind, PerturbState, PerturbVar, Purpose, SpatialCorrelation, STREAM_FORCING,
    STREAM_SOIL_MOISTURE,
};

const SEED: u64 = 20240611;

fn mean_var(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let v = x.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / (n - 1.0);
    (m, v)
}

fn corr(a: &[f64], b: &[f64]) -> f64 {
    let (ma, va) = mean_var(a);
    let (mb, vb) = mean_var(b);
    let n = a.len() as f64;
    let c = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - ma) * (y - mb))
        .sum::<f64>()
        / (n - 1.0);
    c / (va * vb).sqrt()
}

/// Standard normal CDF via erfc (Numerical-Recipes-style Chebyshev fit, |error| < 1.2e-7).
fn phi(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x);
    let poly = -x * x - 1.26551223
        + t * (1.00002368
            + t * (0.37409196
                + t * (0.09678418
                    + t * (-0.18628806
                        + t * (0.27886807
                            + t * (-1.13520398
                                + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    let erfc = t * poly.exp();
    if z >= 0.0 {
        1.0 - 0.5 * erfc
    } else {
        0.5 * erfc
    }
}

fn ks_statistic(x: &[f64]) -> f64 {
    let mut s = x.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len() as f64;
    s.iter()
        .enumerate()
        .map(|(i, &v)| {
            let f = phi(v);
            (f - i as f64 / n).abs().max(((i + 1) as f64 / n - f).abs())
        })
        .fold(0.0, f64::max)
}

fn chi2_uniform(x: &[f64], bins: usize) -> f64 {
    let mut counts = vec![0usize; bins];
    for &v in x {
        let u = phi(v);
        counts[((u * bins as f64) as usize).min(bins - 1)] += 1;
    }
    let e = x.len() as f64 / bins as f64;
    counts
        .iter()
        .map(|&c| (c as f64 - e) * (c as f64 - e) / e)
        .sum()
}

#[test]
fn keyed_deviates_are_standard_normal_and_uncorrelated() {
    let n = 100_000u64;
    let draw = |cell: u64, member: u64, var: u32, time: i64| {
        keyed_normal(SEED, 1, Purpose::InnovationCell, var, cell, member, time)
    };
    let base: Vec<f64> = (0..n).map(|c| draw(c, 3, 0, 400_000)).collect();
    let (m, v) = mean_var(&base);
    println!("keyed N(0,1): mean {m:.5} var {v:.5}");
    assert!(m.abs() < 0.012, "mean {m}");
    assert!((v - 1.0).abs() < 0.02, "var {v}");
    let d = ks_statistic(&base);
    // 1 % critical value 1.63/√n.
    println!("KS D = {d:.5} (crit {:.5})", 1.63 / (n as f64).sqrt());
    assert!(d < 1.63 / (n as f64).sqrt(), "KS D = {d}");
    let c2 = chi2_uniform(&base, 50);
    // χ²(49): 99.9 % quantile ≈ 85.4.
    println!("chi2(49) = {c2:.2}");
    assert!(c2 < 85.4, "chi2 = {c2}");

    // Neighbouring cells (lag 1 and a grid row of 1440), members, variables, times, seeds.
    let tol = 4.5 / (n as f64).sqrt();
    let lag1: Vec<f64> = (0..n).map(|c| draw(c + 1, 3, 0, 400_000)).collect();
    let lag_row: Vec<f64> = (0..n).map(|c| draw(c + 1440, 3, 0, 400_000)).collect();
    let member: Vec<f64> = (0..n).map(|c| draw(c, 4, 0, 400_000)).collect();
    let var: Vec<f64> = (0..n).map(|c| draw(c, 3, 1, 400_000)).collect();
    let time: Vec<f64> = (0..n).map(|c| draw(c, 3, 0, 400_001)).collect();
    let seed: Vec<f64> = (0..n)
        .map(|c| keyed_normal(SEED + 1, 1, Purpose::InnovationCell, 0, c, 3, 400_000))
        .collect();
    let stream: Vec<f64> = (0..n)
        .map(|c| keyed_normal(SEED, 2, Purpose::InnovationCell, 0, c, 3, 400_000))
        .collect();
    let purpose: Vec<f64> = (0..n)
        .map(|c| keyed_normal(SEED, 1, Purpose::InitialCell, 0, c, 3, 400_000))
        .collect();
    // Member index equal to cell index shifted: diagonal structure must not correlate either.
    let diag_a: Vec<f64> = (0..n).map(|c| draw(c, c, 0, 7)).collect();
    let diag_b: Vec<f64> = (0..n).map(|c| draw(c + 1, c + 1, 0, 7)).collect();
    for (name, other) in [
        ("cell+1", &lag1),
        ("cell+1440", &lag_row),
        ("member+1", &member),
        ("var+1", &var),
        ("time+1", &time),
        ("seed+1", &seed),
        ("stream", &stream),
        ("purpose", &purpose),
    ] {
        let r = corr(&base, other);
        println!("corr with {name}: {r:+.5}");
        assert!(r.abs() < tol, "{name}: r = {r}");
    }
    let r = corr(&diag_a, &diag_b);
    assert!(r.abs() < tol, "diagonal r = {r}");

    // Huge cell ids and negative times: no overflow, still N(0,1).
    let big: Vec<f64> = (0..20_000u64)
        .map(|c| {
            draw(
                u64::MAX - c,
                u64::MAX - 7,
                0x00ff_ffff,
                -1_000_000_000 - c as i64,
            )
        })
        .collect();
    assert!(big.iter().all(|v| v.is_finite()));
    let (m, v) = mean_var(&big);
    assert!(m.abs() < 0.03 && (v - 1.0).abs() < 0.05, "big ids: {m} {v}");
    // Pure function of the key.
    assert_eq!(
        draw(12345, 6, 2, 99).to_bits(),
        draw(12345, 6, 2, 99).to_bits()
    );
}

fn single_var_group(
    kind: PerturbKind,
    std: f64,
    tau: f64,
    interval: i64,
    clip: f64,
) -> PerturbGroup {
    PerturbGroup {
        name: "test".into(),
        vars: vec![PerturbVar {
            name: "lwdown".into(),
            kind,
            std,
            tau_seconds: tau,
            lower: None,
            upper: None,
        }],
        correlation: vec![1.0],
        interval_seconds: interval,
        std_normal_max: clip,
        remove_ensemble_mean: false,
        spatial: None,
    }
}

#[test]
fn ar1_is_stationary_with_lag_correlation_rho() {
    let g = PerturbGenerator::new(
        single_var_group(PerturbKind::Additive, 1.0, 86400.0, 10800, 50.0),
        SEED,
        STREAM_FORCING,
    )
    .unwrap();
    let rho = (-10800.0f64 / 86400.0).exp();
    assert_eq!(g.rho()[0], rho);
    let cells: Vec<u64> = (0..20_000).collect();
    let mut st = g.cold_start(&cells, 1, 500_000).unwrap();
    let mut series = vec![st.pack()];
    for _ in 0..20 {
        g.advance(&mut st).unwrap();
        series.push(st.pack());
    }
    let (_, v0) = mean_var(&series[0]);
    let (_, v20) = mean_var(&series[20]);
    let all: Vec<f64> = series.iter().flatten().copied().collect();
    let (m, v) = mean_var(&all);
    println!("AR(1): var(t0) {v0:.4} var(t20) {v20:.4} pooled mean {m:.4} var {v:.4}");
    assert!((v0 - 1.0).abs() < 0.045, "cold-start variance {v0}");
    assert!((v20 - 1.0).abs() < 0.045, "variance after 20 steps {v20}");
    assert!((v - 1.0).abs() < 0.025, "pooled variance {v}");
    assert!(m.abs() < 0.02);
    let lag = |k: usize| {
        let (mut num, mut den) = (0.0, 0.0);
        for t in 0..series.len() - k {
            for (a, b) in series[t].iter().zip(&series[t + k]) {
                num += a * b;
                den += a * a;
            }
        }
        num / den
    };
    let (r1, r2) = (lag(1), lag(2));
    println!(
        "lag-1 {r1:.5} (rho {rho:.5}), lag-2 {r2:.5} (rho² {:.5})",
        rho * rho
    );
    assert!(
        (r1 - rho).abs() < 0.006,
        "lag-1 autocorrelation {r1} vs {rho}"
    );
    assert!((r2 - rho * rho).abs() < 0.01, "lag-2 autocorrelation {r2}");
}

#[test]
fn rho_uses_the_perturbation_interval() {
    let g = PerturbGenerator::new(PerturbGroup::kim_lis_forcing(), SEED, STREAM_FORCING).unwrap();
    assert!(g.rho().iter().all(|&r| r == (-3600.0f64 / 86400.0).exp()));
    let g = PerturbGenerator::new(PerturbGroup::kim_lis_soil_moisture(), SEED, 2).unwrap();
    assert!(g.rho().iter().all(|&r| r == (-10800.0f64 / 43200.0).exp()));
    // τ = 0: white noise in time.
    let w = PerturbGenerator::new(
        single_var_group(PerturbKind::Additive, 1.0, 0.0, 3600, 50.0),
        SEED,
        1,
    )
    .unwrap();
    assert_eq!(w.rho()[0], 0.0);
}

#[test]
fn cross_correlation_matches_c_and_lognormal_moments() {
    let mut group = PerturbGroup::kim_lis_forcing();
    group.std_normal_max = 50.0;
    group.remove_ensemble_mean = false;
    let c = group.correlation.clone();
    let g = PerturbGenerator::new(group, SEED, STREAM_FORCING).unwrap();
    // S Sᵀ = C.
    let s = g.factor();
    for i in 0..3 {
        for j in 0..3 {
            let r: f64 = (0..3).map(|k| s[i * 3 + k] * s[j * 3 + k]).sum();
            assert!((r - c[i * 3 + j]).abs() < 1e-14);
        }
    }
    let cells: Vec<u64> = (0..40_000).collect();
    let mut st = g.cold_start(&cells, 1, 1_000).unwrap();
    g.advance(&mut st).unwrap();
    let y = g.standard_normal_values(&st).unwrap();
    let col = |v: usize| -> Vec<f64> { y.chunks_exact(3).map(|r| r[v]).collect() };
    let ys = [col(0), col(1), col(2)];
    for i in 0..3 {
        for j in 0..3 {
            let r = corr(&ys[i], &ys[j]);
            println!("corr(y{i}, y{j}) = {r:+.4} target {:+.2}", c[i * 3 + j]);
            assert!((r - c[i * 3 + j]).abs() < 0.015, "C[{i},{j}]: {r}");
        }
        let (m, v) = mean_var(&ys[i]);
        assert!(m.abs() < 0.02 && (v - 1.0).abs() < 0.03, "y{i}: {m} {v}");
    }
    // Values: SW multiplicative σ 0.3, LW additive σ 50, P multiplicative σ 0.5.
    let p = g.values(&st).unwrap();
    let pcol = |v: usize| -> Vec<f64> { p.values.chunks_exact(3).map(|r| r[v]).collect() };
    let (msw, vsw) = mean_var(&pcol(0));
    let (mlw, vlw) = mean_var(&pcol(1));
    let (mp, vp) = mean_var(&pcol(2));
    println!(
        "SW mean {msw:.4} sd {:.4}; LW mean {mlw:.3} sd {:.3}; P mean {mp:.4} sd {:.4}",
        vsw.sqrt(),
        vlw.sqrt(),
        vp.sqrt()
    );
    assert!((msw - 1.0).abs() < 0.006 && (vsw.sqrt() - 0.3).abs() < 0.008);
    assert!(mlw.abs() < 1.0 && (vlw.sqrt() - 50.0).abs() < 1.0);
    assert!((mp - 1.0).abs() < 0.01, "precip multiplicative mean {mp}");
    assert!(
        (vp.sqrt() - 0.5).abs() < 0.015,
        "precip multiplicative sd {}",
        vp.sqrt()
    );
    assert!(p.values.chunks_exact(3).all(|r| r[0] > 0.0 && r[2] > 0.0));

    // With the default clip (±2.5) the correlations and moments stay close.
    let mut group = PerturbGroup::kim_lis_forcing();
    group.remove_ensemble_mean = false;
    let g = PerturbGenerator::new(group, SEED, STREAM_FORCING).unwrap();
    let st = g.cold_start(&cells, 1, 1_000).unwrap();
    let p = g.values(&st).unwrap();
    let (mp, vp) = mean_var(&p.values.chunks_exact(3).map(|r| r[2]).collect::<Vec<_>>());
    println!("clipped ±2.5: P mean {mp:.4} sd {:.4}", vp.sqrt());
    assert!((mp - 1.0).abs() < 0.02 && (vp.sqrt() - 0.5).abs() < 0.04);
}

#[test]
fn clipping_in_standard_normal_space_and_physical_bounds() {
    let g = PerturbGenerator::new(
        single_var_group(PerturbKind::Additive, 80.0, 3600.0, 3600, 1.0),
        SEED,
        1,
    )
    .unwrap();
    let cells: Vec<u64> = (0..5_000).collect();
    let st = g.cold_start(&cells, 2, 0).unwrap();
    let y = g.standard_normal_values(&st).unwrap();
    assert!(y.iter().all(|v| v.abs() <= 1.0));
    let at_bound = y.iter().filter(|v| v.abs() == 1.0).count() as f64 / y.len() as f64;
    // P(|z| > 1) = 0.3173.
    assert!(
        (at_bound - 0.3173).abs() < 0.02,
        "fraction clipped {at_bound}"
    );
    let p = g.values(&st).unwrap();
    assert!(p.values.iter().all(|v| v.abs() <= 80.0));

    // Physical bounds on the forcing: LW ≥ 0 after a large negative additive perturbation.
    let mut forcing = Forcing {
        longwave_down: 30.0,
        ..Forcing::default()
    };
    g.apply_forcing_perturbation(&[-80.0], &mut forcing)
        .unwrap();
    assert_eq!(forcing.longwave_down, 0.0);
    g.apply_forcing_perturbation(&[40.0], &mut forcing).unwrap();
    assert_eq!(forcing.longwave_down, 40.0);

    // Full KIM-LIS group: SW, LW, P; a user upper bound on SW.
    let mut group = PerturbGroup::kim_lis_forcing();
    group.vars[0].upper = Some(1200.0);
    let g = PerturbGenerator::new(group, SEED, STREAM_FORCING).unwrap();
    let mut f = Forcing {
        shortwave_down: 1000.0,
        longwave_down: 300.0,
        precipitation: 1e-4,
        air_temperature: 290.0,
        ..Forcing::default()
    };
    g.apply_forcing_perturbation(&[1.5, -20.0, 0.5], &mut f)
        .unwrap();
    assert_eq!(f.shortwave_down, 1200.0);
    assert_eq!(f.longwave_down, 280.0);
    assert_eq!(f.precipitation, 0.5e-4);
    assert_eq!(f.air_temperature, 290.0, "unperturbed field untouched");
    assert!(g.apply_forcing_perturbation(&[1.0, 0.0], &mut f).is_err());
    assert!(g.soil_moisture_increment(&[0.0; 3], 4).is_err());

    // All members of a cell at once: bit for bit what each member gets on its own.
    let p = [1.5, -20.0, 0.5, 0.7, 900.0, 3.0, 1.0, -400.0, 0.0];
    let base = Forcing {
        shortwave_down: 1000.0,
        longwave_down: 300.0,
        precipitation: 1e-4,
        air_temperature: 290.0,
        ..Forcing::default()
    };
    let mut all = [base; 3];
    landcycle::perturb::apply_forcing_perturbation_members(g.resolved_vars(), &p, &mut all);
    for (m, got) in all.iter().enumerate() {
        let mut one = base;
        g.apply_forcing_perturbation(&p[3 * m..3 * m + 3], &mut one)
            .unwrap();
        assert_eq!(*got, one, "member {m}");
    }
}

#[test]
fn ensemble_mean_removal_is_exact() {
    let mut group = PerturbGroup::kim_lis_soil_moisture();
    group.std_normal_max = 50.0;
    let g = PerturbGenerator::new(group, SEED, STREAM_SOIL_MOISTURE).unwrap();
    let cells: Vec<u64> = (1000..1300).collect();
    let nm = 20;
    let mut st = g.cold_start(&cells, nm, 77).unwrap();
    for step in 0..4 {
        if step > 0 {
            g.advance(&mut st).unwrap();
        }
        let p = g.values(&st).unwrap();
        for c in 0..cells.len() {
            let block = st.cell_block(c);
            for v in 0..4 {
                let mx = (0..nm).map(|m| block[m * 4 + v]).sum::<f64>() / nm as f64;
                assert!(mx.abs() < 1e-15, "state mean {mx}");
                let mp = (0..nm).map(|m| p.get(c, m)[v]).sum::<f64>() / nm as f64;
                assert!(mp.abs() < 1e-17, "increment mean {mp}");
            }
        }
    }
    // Increments: per layer, σ 0.01..0.0015, layer order kept.
    let p = g.values(&st).unwrap();
    let inc = g.soil_moisture_increment(p.get(5, 3), 4).unwrap();
    assert_eq!(inc, p.get(5, 3).to_vec());
    let sd: Vec<f64> = (0..4)
        .map(|v| {
            let col: Vec<f64> = p.values.chunks_exact(4).map(|r| r[v]).collect();
            mean_var(&col).1.sqrt()
        })
        .collect();
    println!("soil moisture increment sd per layer: {sd:?}");
    for (s, t) in sd.iter().zip([0.01, 0.006, 0.003, 0.0015]) {
        assert!((s / t - 1.0).abs() < 0.06, "sd {s} vs {t}");
    }
    assert!(g.soil_moisture_increment(p.get(0, 0), 3).is_err());
}

fn assert_bits_eq(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(x.to_bits(), y.to_bits(), "value {i}: {x} vs {y}");
    }
}

fn spatial_group() -> PerturbGroup {
    let mut g = PerturbGroup::kim_lis_forcing();
    g.spatial = Some(SpatialCorrelation {
        length_km: 60.0,
        shape: CovarianceShape::Gaussian,
        ny: 10,
        nx: 10,
        dy_km: 25.0,
        dx_km: 25.0,
    });
    g
}

#[test]
fn decomposition_independence() {
    for group in [PerturbGroup::kim_lis_forcing(), spatial_group()] {
        let g = PerturbGenerator::new(group, SEED, STREAM_FORCING).unwrap();
        let nm = 12;
        let all: Vec<u64> = (0..100).collect();
        let mut whole = g.cold_start(&all, nm, 480_000).unwrap();
        g.advance_to(&mut whole, 480_005).unwrap();
        let pw = g.values(&whole).unwrap();
        // Three "ranks" with scrambled cell order.
        let chunks: [Vec<u64>; 3] = [
            (70..100).rev().collect(),
            (0..30).map(|i| (i * 7) % 30).collect(),
            (30..70).collect(),
        ];
        for chunk in &chunks {
            let mut st = g.cold_start(chunk, nm, 480_000).unwrap();
            for _ in 0..5 {
                g.advance(&mut st).unwrap();
            }
            let p = g.values(&st).unwrap();
            for (local, &id) in chunk.iter().enumerate() {
                assert_bits_eq(st.cell_block(local), whole.cell_block(id as usize));
                for m in 0..nm {
                    assert_bits_eq(p.get(local, m), pw.get(id as usize, m));
                }
            }
        }
    }
}

#[test]
fn split_run_and_restart_independence() {
    for group in [PerturbGroup::kim_lis_forcing(), spatial_group()] {
        let g = PerturbGenerator::new(group, SEED, STREAM_FORCING).unwrap();
        let cells: Vec<u64> = (0..100).collect();
        let t0 = NaiveDate::from_ymd_opt(2021, 6, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let k0 = g.time_index(t0);
        let mut a = g.cold_start(&cells, 8, k0).unwrap();
        for _ in 0..8 {
            g.advance(&mut a).unwrap();
        }
        let mut b = g.cold_start(&cells, 8, k0).unwrap();
        for _ in 0..4 {
            g.advance(&mut b).unwrap();
        }
        let packed = b.pack();
        let kb = b.time_index();
        drop(b);
        let mut r = PerturbState::from_packed(cells.clone(), 8, 3, kb, &packed).unwrap();
        // Continue by model time: 4 hourly intervals later, mid-interval.
        let moved = g
            .advance_to_time(&mut r, t0 + chrono::Duration::minutes(8 * 60 + 30))
            .unwrap();
        assert!(moved);
        assert_eq!(r.time_index(), a.time_index());
        assert_bits_eq(r.as_slice(), a.as_slice());
        assert_bits_eq(&g.values(&r).unwrap().values, &g.values(&a).unwrap().values);
        // Held within the interval.
        assert!(!g
            .advance_to_time(&mut r, t0 + chrono::Duration::minutes(8 * 60 + 59))
            .unwrap());
        // Restart on a different "rank": rebuild a subset from per-cell blocks.
        let subset = [97u64, 3, 50];
        let data: Vec<f64> = subset
            .iter()
            .flat_map(|&id| a.cell_block(id as usize).to_vec())
            .collect();
        let mut s =
            PerturbState::from_packed(subset.to_vec(), 8, 3, a.time_index(), &data).unwrap();
        g.advance(&mut s).unwrap();
        g.advance(&mut a).unwrap();
        for (local, &id) in subset.iter().enumerate() {
            assert_bits_eq(s.cell_block(local), a.cell_block(id as usize));
        }
        assert!(g.advance_to(&mut s, a.time_index() - 1).is_err());
    }
    // A packed state of the wrong size or with NaN is an error.
    assert!(PerturbState::from_packed(vec![1, 2], 2, 3, 0, &[0.0; 11]).is_err());
    let mut bad = vec![0.0; 12];
    bad[7] = f64::NAN;
    let e = PerturbState::from_packed(vec![1, 2], 2, 3, 0, &bad).unwrap_err();
    assert!(e.to_string().contains("cell id 2"), "{e}");
}

#[test]
fn invalid_groups_are_clear_errors() {
    let err = |g: PerturbGroup| -> String {
        match PerturbGenerator::new(g, SEED, 1) {
            Err(e @ PerturbError::Config { .. }) => e.to_string(),
            Err(e) => panic!("wrong error kind {e}"),
            Ok(_) => panic!("accepted an invalid group"),
        }
    };
    let mut g = PerturbGroup::kim_lis_forcing();
    // SW–LW −0.9, SW–P −0.9, LW–P +0.5: indefinite.
    g.correlation = vec![1.0, -0.9, -0.9, -0.9, 1.0, 0.5, -0.9, 0.5, 1.0];
    let e = err(g);
    println!("{e}");
    assert!(
        e.contains("forcing") && e.contains("not positive definite"),
        "{e}"
    );
    let mut g = PerturbGroup::kim_lis_forcing();
    g.correlation[1] = -0.4;
    assert!(err(g).contains("not symmetric"));
    let mut g = PerturbGroup::kim_lis_forcing();
    g.correlation[4] = 0.9;
    assert!(err(g).contains("diagonal"));
    let mut g = PerturbGroup::kim_lis_forcing();
    g.correlation.pop();
    assert!(err(g).contains("expected 3×3"));
    let mut g = PerturbGroup::kim_lis_forcing();
    g.vars[1].name = "lwdwn".into();
    assert!(err(g).contains("'lwdwn'"));
    let mut g = PerturbGroup::kim_lis_forcing();
    g.vars[2].tau_seconds = -1.0;
    assert!(err(g).contains("tau_seconds"));
    let mut g = PerturbGroup::kim_lis_forcing();
    g.interval_seconds = 0;
    assert!(err(g).contains("interval"));
    let mut g = PerturbGroup::kim_lis_soil_moisture();
    g.vars[0].name = "swdown".into();
    assert!(err(g).contains("mixes"));
    // Positive semi-definite (singular) is rejected too.
    let mut g = single_var_group(PerturbKind::Additive, 1.0, 1.0, 1, 2.5);
    g.vars.push(PerturbVar {
        name: "swdown".into(),
        ..g.vars[0].clone()
    });
    g.correlation = vec![1.0, 1.0, 1.0, 1.0];
    assert!(err(g).contains("not positive definite"));
    // The KIM-LIS defaults are valid; the soil-moisture vertical correlation is PD.
    let sm = PerturbGenerator::new(PerturbGroup::kim_lis_soil_moisture(), SEED, 2).unwrap();
    assert!(sm.correlation_eigenvalues()[0] > 0.1);
}

/// Empirical correlation at lags along x and y, pooled over fields.
fn lag_correlation(fields: &[Vec<f64>], ny: usize, nx: usize, lag: usize) -> (f64, f64) {
    let (mut sxy, mut sxx) = (0.0, 0.0);
    let (mut tx, mut ty) = (0.0, 0.0);
    for f in fields {
        for j in 0..ny {
            for i in 0..nx {
                let a = f[j * nx + i];
                if i + lag < nx {
                    sxy += a * f[j * nx + i + lag];
                    sxx += a * a;
                }
                if j + lag < ny {
                    tx += a * f[(j + lag) * nx + i];
                    ty += a * a;
                }
            }
        }
    }
    (sxy / sxx, tx / ty)
}

#[test]
fn spatial_fields_match_target_covariance() {
    for (shape, length_km, tol) in [
        (CovarianceShape::Gaussian, 100.0, 0.04),
        (CovarianceShape::Exponential, 75.0, 0.04),
    ] {
        let (ny, nx) = (48, 64);
        let spec = SpatialCorrelation {
            length_km,
            shape,
            ny,
            nx,
            dy_km: 25.0,
            dx_km: 25.0,
        };
        let plan = GaussianFieldPlan::new(&spec).unwrap();
        let mut scratch = Default::default();
        let fields: Vec<Vec<f64>> = (0..300u64)
            .map(|m| {
                let mut f = vec![0.0; ny * nx];
                plan.generate(
                    SEED,
                    9,
                    Purpose::InnovationField,
                    0,
                    m,
                    42,
                    &mut f,
                    &mut scratch,
                );
                f
            })
            .collect();
        let all: Vec<f64> = fields.iter().flatten().copied().collect();
        let (m, v) = mean_var(&all);
        println!(
            "{shape:?} L={length_km} km: padded {:?}, min λ/max λ {:.2e}, mean {m:.4} var {v:.4}",
            plan.padded_shape(),
            plan.min_relative_eigenvalue()
        );
        assert!(m.abs() < 0.05, "mean {m}");
        assert!((v - 1.0).abs() < 0.06, "variance {v}");
        for lag in [1usize, 2, 4, 6, 8, 12, 20] {
            let r = lag as f64 * 25.0;
            let target = match shape {
                CovarianceShape::Gaussian => (-0.5 * r * r / (length_km * length_km)).exp(),
                CovarianceShape::Exponential => (-r / length_km).exp(),
            };
            let (cx, cy) = lag_correlation(&fields, ny, nx, lag);
            println!("  lag {r:5.0} km: target {target:.3} x {cx:.3} y {cy:.3}");
            assert!((cx - target).abs() < tol, "x lag {lag}: {cx} vs {target}");
            assert!((cy - target).abs() < tol, "y lag {lag}: {cy} vs {target}");
        }
        // Pairs across the whole domain (wrap-around) are uncorrelated.
        let (cx, _) = lag_correlation(&fields, ny, nx, 60);
        assert!(cx.abs() < 0.05, "far-lag correlation {cx}");
    }
}

#[test]
fn group_deserialises_with_defaults() {
    let json = r#"{
        "name": "forcing",
        "vars": [
            {"name": "SWdown", "kind": "multiplicative", "std": 0.3, "tau_seconds": 86400},
            {"name": "LWdown", "kind": "additive", "std": 50, "tau_seconds": 86400, "lower": 50}
        ],
        "correlation": [1, -0.5, -0.5, 1],
        "interval_seconds": 3600
    }"#;
    let g: PerturbGroup = serde_json::from_str(json).unwrap();
    assert_eq!(g.std_normal_max, 2.5);
    assert!(g.remove_ensemble_mean);
    assert!(g.spatial.is_none());
    let gen = PerturbGenerator::new(g, SEED, STREAM_FORCING).unwrap();
    let mut f = Forcing {
        longwave_down: 100.0,
        ..Forcing::default()
    };
    gen.apply_forcing_perturbation(&[1.0, -90.0], &mut f)
        .unwrap();
    assert_eq!(
        f.longwave_down, 50.0,
        "user lower bound replaces the default 0"
    );
}

/// Throughput for docs/perturbations.md: `cargo test --release --test perturb_props -- --ignored --nocapture`.
#[test]
#[ignore]
fn timing_report() {
    use std::time::Instant;
    let g = PerturbGenerator::new(PerturbGroup::kim_lis_forcing(), SEED, STREAM_FORCING).unwrap();
    let cells: Vec<u64> = (0..10_000).collect();
    let mut st = g.cold_start(&cells, 20, 0).unwrap();
    let mut vals = g.values(&st).unwrap();
    let t = Instant::now();
    let reps = 10;
    for _ in 0..reps {
        g.advance(&mut st).unwrap();
        g.values_into(&st, &mut vals).unwrap();
    }
    let dt = t.elapsed().as_secs_f64() / reps as f64;
    let n = (cells.len() * 20 * 3) as f64;
    println!(
        "per-cell: 10000 cells × 20 members × 3 vars: {:.1} ms per perturbation time ({:.1} ns per value)",
        dt * 1e3,
        dt / n * 1e9
    );
    let mut group = PerturbGroup::kim_lis_forcing();
    group.spatial = Some(SpatialCorrelation::from_lat_lon(
        50.0,
        CovarianceShape::Gaussian,
        48,
        64,
        0.25,
        0.25,
        40.0,
    ));
    let g = PerturbGenerator::new(group, SEED, STREAM_FORCING).unwrap();
    let cells: Vec<u64> = (0..48 * 64).collect();
    let mut st = g.cold_start(&cells, 20, 0).unwrap();
    let t = Instant::now();
    for _ in 0..reps {
        g.advance(&mut st).unwrap();
    }
    let dt = t.elapsed().as_secs_f64() / reps as f64;
    println!(
        "spatial: 48×64 grid (padded {:?}) × 20 members × 3 vars: {:.1} ms per perturbation time",
        g.field_plan().unwrap().padded_shape(),
        dt * 1e3
    );
    let spec = SpatialCorrelation::from_lat_lon(
        50.0,
        CovarianceShape::Gaussian,
        720,
        1440,
        0.25,
        0.25,
        0.0,
    );
    let plan = GaussianFieldPlan::new(&spec).unwrap();
    let mut f = vec![0.0; 720 * 1440];
    let mut scratch = Default::default();
    let t = Instant::now();
    plan.generate(
        SEED,
        1,
        Purpose::InnovationField,
        0,
        0,
        0,
        &mut f,
        &mut scratch,
    );
    println!(
        "spatial: one global 0.25° field (padded {:?}): {:.0} ms",
        plan.padded_shape(),
        t.elapsed().as_secs_f64() * 1e3
    );
}

#[test]
fn perturbation_set_holds_values_and_restarts_on_other_ranks() {
    use landcycle::perturb::PerturbationSet;
    let groups = [
        PerturbGroup::kim_lis_forcing(),
        PerturbGroup::kim_lis_soil_moisture(),
    ];
    let t0 = NaiveDate::from_ymd_opt(2022, 4, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let cells: Vec<u64> = (0..40).collect();
    let step = chrono::Duration::minutes(15);
    let run = |set: &mut PerturbationSet, from: usize, to: usize, local: &[u64]| {
        let mut out = Vec::new();
        for k in from..to {
            let adv = set.advance_to_time(t0 + step * k as i32).unwrap();
            // Forcing changes on the hour, soil moisture every 3 h (never at the cold start).
            assert_eq!(adv.forcing, k % 4 == 0 && k > 0, "step {k}");
            assert_eq!(adv.soil_moisture, k % 12 == 0 && k > 0, "step {k}");
            for (c, &id) in local.iter().enumerate() {
                for m in 0..4 {
                    let mut f = Forcing {
                        shortwave_down: 500.0,
                        longwave_down: 300.0,
                        precipitation: 2e-5,
                        ..Forcing::default()
                    };
                    set.perturb_forcing(c, m, &mut f).unwrap();
                    out.push((
                        local[c],
                        m,
                        k,
                        f.shortwave_down,
                        f.longwave_down,
                        f.precipitation,
                    ));
                    if adv.soil_moisture {
                        let inc = set.soil_moisture_increment(c, m, 4).unwrap().unwrap();
                        out.push((id, m, k, inc[0], inc[1], inc[3]));
                    }
                }
            }
        }
        out
    };
    let mut whole = PerturbationSet::cold_start(&groups, SEED, &cells, 4, t0).unwrap();
    let mut a = run(&mut whole, 0, 48, &cells);
    // Same run in two pieces, the second on "another rank" with a scrambled subset of cells.
    let mut first = PerturbationSet::cold_start(&groups, SEED, &cells, 4, t0).unwrap();
    let _ = run(&mut first, 0, 20, &cells);
    let restart = first.restart();
    let subset: Vec<u64> = vec![33, 2, 17, 39, 0];
    let mut second = PerturbationSet::from_restart(&groups, SEED, &subset, 4, &restart).unwrap();
    let b = run(&mut second, 20, 48, &subset);
    a.retain(|r| r.2 >= 20 && subset.contains(&r.0));
    let key = |r: &(u64, usize, usize, f64, f64, f64)| (r.2, r.0, r.1);
    a.sort_by_key(key);
    let mut b = b;
    b.sort_by_key(key);
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(
            (x.0, x.1, x.2, x.3.to_bits(), x.4.to_bits(), x.5.to_bits()),
            (y.0, y.1, y.2, y.3.to_bits(), y.4.to_bits(), y.5.to_bits())
        );
    }
    // A restart missing a cell, or from a different ensemble size, is an error.
    let e = PerturbationSet::from_restart(&groups, SEED, &[40], 4, &restart).unwrap_err();
    assert!(e.to_string().contains("cell id 40"), "{e}");
    assert!(PerturbationSet::from_restart(&groups, SEED, &[1], 5, &restart).is_err());
    // Two groups with one name are a configuration error.
    let dup = [
        PerturbGroup::kim_lis_forcing(),
        PerturbGroup::kim_lis_forcing(),
    ];
    assert!(PerturbationSet::cold_start(&dup, SEED, &cells, 4, t0).is_err());
}

#[test]
fn ranks_without_cells_and_lat_lon_spacing() {
    use landcycle::perturb::PerturbationSet;
    let t0 = NaiveDate::from_ymd_opt(2022, 4, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let groups = [spatial_group(), PerturbGroup::kim_lis_soil_moisture()];
    let mut set = PerturbationSet::cold_start(&groups, SEED, &[], 20, t0).unwrap();
    let adv = set
        .advance_to_time(t0 + chrono::Duration::hours(7))
        .unwrap();
    assert!(adv.forcing && adv.soil_moisture);
    let r = set.restart();
    assert!(r.iter().all(|g| g.data.is_empty() && g.cell_ids.is_empty()));
    PerturbationSet::from_restart(&groups, SEED, &[], 20, &r).unwrap();

    let sp =
        SpatialCorrelation::from_lat_lon(50.0, CovarianceShape::Gaussian, 4, 4, 0.25, 0.25, 60.0);
    assert!((sp.dy_km - 27.799).abs() < 1e-3, "{}", sp.dy_km);
    assert!((sp.dx_km - 13.900).abs() < 1e-3, "{}", sp.dx_km);
    // Cell ids outside the spatial grid are an error, not a panic.
    let g = PerturbGenerator::new(spatial_group(), SEED, 1).unwrap();
    assert!(g.cold_start(&[100], 2, 0).is_err());
}
