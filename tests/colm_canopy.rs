//! CoLM canopy (stage 4 of COLM.md §8): interception, two-stream radiation, photosynthesis
//! and stomatal conductance — conservation, limits, hand-computed points, and the Bondville
//! reference where a piece can be checked on its own.
#![allow(clippy::needless_range_loop)]

mod colm_common;
use colm_common::{Lcg, Table};

use landcycle::lsm::colm::big_leaf::{big_leaf_factors, sunlit_shaded_lai};
use landcycle::lsm::colm::constants::TFRZ;
use landcycle::lsm::colm::ground_albedo::SoilAlbedo;
use landcycle::lsm::colm::interception::{
    intercept, storage_capacity, wetted_fraction, Canopy, CanopyPrecip,
};
use landcycle::lsm::colm::net_solar::net_solar;
use landcycle::lsm::colm::photosynthesis::{capacities, gross_assimilation, PhotoParams};
use landcycle::lsm::colm::precip_phase::partition;
use landcycle::lsm::colm::saturation::saturation;
use landcycle::lsm::colm::snow_cover::snow_cover;
use landcycle::lsm::colm::solar_split::split_shortwave;
use landcycle::lsm::colm::stomata::{molar_factor, next_guess, stomata, LeafEnv};
use landcycle::lsm::colm::surface_albedo::{surface_albedo, AlbedoState, VegOptics};
use landcycle::lsm::colm::two_stream::{
    mean_inverse_depth, two_stream, LeafOptics, TwoStream, DIF, DIR, NIR, VIS,
};
use landcycle::lsm::colm::{parse_params, Tunables};

const DT: f64 = 1800.0;

fn reference() -> Option<(Table, Table)> {
    let r = Table::read("colm-bondville", "colm_ref_bondville_1998.csv.xz")?;
    let f = Table::read("noah-bondville", "forcing_as_used.csv.xz")?;
    assert_eq!(r.rows.len(), f.rows.len());
    Some((r, f))
}

fn crop(sigf: f64, tlsun: f64) -> Canopy {
    Canopy {
        sigf,
        lai: 1.3,
        sai: 0.2,
        chil: -0.3,
        tlsun,
    }
}

fn rain(prc: f64, prl: f64) -> CanopyPrecip {
    CanopyPrecip {
        prc_rain: prc,
        prc_snow: 0.0,
        prl_rain: prl,
        prl_snow: 0.0,
    }
}

#[test]
fn interception_closes_the_canopy_water_balance() {
    let mut r = Lcg(7);
    let dewmx = Tunables::default().dewmx;
    let mut worst: f64 = 0.0;
    for _ in 0..20_000 {
        let c = Canopy {
            sigf: if r.next() < 0.1 { 0.0005 } else { r.next() },
            lai: 6.0 * r.next(),
            sai: 2.0 * r.next(),
            chil: 2.0 * r.next() - 1.0,
            tlsun: TFRZ - 5.0 + 10.0 * r.next(),
        };
        let scale = if r.next() < 0.3 {
            0.0
        } else {
            10f64.powf(-7.0 + 5.0 * r.next())
        };
        let p = CanopyPrecip {
            prc_rain: scale * r.next(),
            prc_snow: scale * r.next() * (r.next() < 0.3) as u8 as f64,
            prl_rain: scale * r.next(),
            prl_snow: scale * r.next() * (r.next() < 0.3) as u8 as f64,
        };
        let ldew = if c.sigf < 0.001 { 0.0 } else { 1.2 * r.next() };
        let out = intercept(&c, &p, ldew, DT, dewmx).unwrap();
        let p0 = (p.prc_rain + p.prc_snow + p.prl_rain + p.prl_snow) * DT;
        let err = (out.ldew + out.qdrip() * DT) - (ldew + p0);
        worst = worst.max(err.abs() / (1.0 + ldew + p0));
        assert!(out.ldew >= 0.0 && out.pg_rain >= 0.0 && out.pg_snow >= 0.0);
        // Old water above the capacity drips before interception and is not in qintr.
        let cap = storage_capacity(dewmx, c.sigf, c.lai, c.sai);
        let kept = if c.sigf < 0.001 {
            out.ldew
        } else {
            ldew.min(cap)
        };
        assert!((out.qintr * DT - (out.ldew - kept)).abs() < 1e-12 * (1.0 + p0));
        // Snow never drains as rain (snow drainage is zero, excess drips by leaf phase).
        if c.tlsun > TFRZ || c.sigf < 0.001 {
            assert!(out.pg_snow <= p.prc_snow + p.prl_snow + 1e-15);
        }
    }
    assert!(
        worst < 1e-15,
        "canopy water balance error {worst:e} (relative)"
    );
}

#[test]
fn interception_at_hand_computed_points() {
    let dewmx = 0.1;
    // Light large-scale rain on a dry crop canopy: the sub-grid distribution never
    // overflows the store (x_s = 0), so the canopy keeps f_pi P with f_pi = 0.25 (1 −
    // e^{−(φ1+φ2)(L+S)}) σ_f; χ_L = −0.3: φ1 = 0.6602, φ2 = −0.2809908, f_pi = 0.1084508.
    let out = intercept(&crop(1.0, TFRZ + 10.0), &rain(0.0, 1e-5), 0.0, DT, dewmx).unwrap();
    assert!(
        (out.ldew - 0.001952115016502926).abs() < 1e-15,
        "{}",
        out.ldew
    );
    assert!((out.pg_rain - (1e-5 - 0.001952115016502926 / DT)).abs() < 1e-18);
    // Heavy large-scale rain fills the store to its capacity 0.1 (1.3 + 0.2) = 0.15 mm.
    let cap = storage_capacity(dewmx, 1.0, 1.3, 0.2);
    assert!((cap - 0.15).abs() < 1e-15);
    let out = intercept(&crop(1.0, TFRZ + 10.0), &rain(0.0, 1e-2), 0.0, DT, dewmx).unwrap();
    // Above capacity only by the tiny exponential tail of the distribution (a/b ≈ 5e-6).
    assert!(out.ldew <= cap + 2e-3 * 18.0 * 0.1085 && out.ldew > 0.999 * cap);
    // Convective rain is concentrated on a small area: less is held than large-scale rain.
    let conv = intercept(&crop(1.0, TFRZ + 10.0), &rain(1e-3, 0.0), 0.0, DT, dewmx).unwrap();
    let strat = intercept(&crop(1.0, TFRZ + 10.0), &rain(0.0, 1e-3), 0.0, DT, dewmx).unwrap();
    assert!(conv.ldew < strat.ldew);
    // A store above capacity drips its excess at once: as rain on warm leaves, as snow on
    // frozen ones.
    let warm = intercept(&crop(1.0, TFRZ + 1.0), &rain(0.0, 0.0), 0.25, DT, dewmx).unwrap();
    assert!((warm.ldew - cap).abs() < 1e-15 && (warm.pg_rain * DT - 0.1).abs() < 1e-14);
    let cold = intercept(&crop(1.0, TFRZ - 1.0), &rain(0.0, 0.0), 0.25, DT, dewmx).unwrap();
    assert!((cold.pg_snow * DT - 0.1).abs() < 1e-14 && cold.pg_rain == 0.0);
    // Without vegetation everything falls through.
    let bare = intercept(&crop(0.0, TFRZ), &rain(1e-4, 2e-4), 0.0, DT, dewmx).unwrap();
    assert!((bare.pg_rain - 3e-4).abs() < 1e-18 && (bare.qintr, bare.ldew) == (0.0, 0.0));
}

#[test]
fn wetted_fraction_and_bad_input() {
    // f_wet = (W/S)^(2/3): 1 at capacity, 1/4 at an eighth of it; f_dry on the leaves only.
    let (fw, fd) = wetted_fraction(1.0, 1.3, 0.2, 0.1, 0.15);
    assert!((fw - 1.0).abs() < 1e-9 && fd.abs() < 1e-9);
    let (fw, fd) = wetted_fraction(1.0, 1.3, 0.2, 0.1, 0.15 / 8.0);
    assert!((fw - 0.25).abs() < 1e-11, "{fw}");
    assert!((fd - 0.75 * 1.3 / 1.5).abs() < 1e-11);
    assert_eq!(wetted_fraction(1.0, 1.3, 0.2, 0.1, 0.0).0, 0.0);
    assert_eq!(wetted_fraction(1.0, 1.3, 0.2, 0.1, 1.0).0, 1.0);
    let c = crop(1.0, TFRZ);
    assert!(intercept(&c, &rain(-1e-5, 0.0), 0.0, DT, 0.1).is_err());
    assert!(intercept(&c, &rain(f64::NAN, 0.0), 0.0, DT, 0.1).is_err());
    assert!(intercept(&c, &rain(0.0, 0.0), -0.1, DT, 0.1).is_err());
    assert!(intercept(&crop(1.5, TFRZ), &rain(0.0, 0.0), 0.0, DT, 0.1).is_err());
    assert!(intercept(&c, &rain(0.0, 0.0), 0.0, 0.0, 0.1).is_err());
}

/// Interception of every Bondville step from the previous row's canopy (σ_f, LAI, SAI, sunlit
/// leaf temperature, canopy water) and the forcing's precipitation: CoLM's qintr and qdrip.
/// Between steps the leaf iteration evaporates or condenses fevpl − etr, which closes the
/// canopy store: ldew_k = ldew after interception − (fevpl − etr) Δt.
#[test]
fn interception_follows_the_bondville_reference() {
    let Some((r, f)) = reference() else { return };
    let tun = Tunables::default();
    let chil = -0.3;
    let [c_sigf, c_lai, c_sai, c_tl, c_ldew, c_qintr, c_qdrip, c_fevpl, c_etr] = [
        "sigf",
        "lai",
        "sai",
        "tlsun_K",
        "ldew_mm",
        "qintr_mm_s",
        "qdrip_mm_s",
        "fevpl_mm_s",
        "etr_mm_s",
    ]
    .map(|n| r.col(n));
    let (f_t, f_p) = (f.col("SFCTMP_K"), f.col("PRCP_kg_m2_s"));
    let (mut wet, mut worst_q, mut worst_w) = (0, 0.0f64, 0.0f64);
    for k in 1..r.rows.len() {
        let (prev, row, fr) = (&r.rows[k - 1], &r.rows[k], &f.rows[k]);
        let pr = fr[f_p];
        let ph = partition(
            fr[f_t].clamp(180.0, 326.0),
            pr * 1.0 / 3.0,
            pr * 2.0 / 3.0,
            tun.tcrit,
        );
        let p = CanopyPrecip {
            prc_rain: ph.prc_rain,
            prc_snow: ph.prc_snow,
            prl_rain: ph.prl_rain,
            prl_snow: ph.prl_snow,
        };
        let c = Canopy {
            sigf: prev[c_sigf],
            lai: prev[c_lai],
            sai: prev[c_sai],
            chil,
            tlsun: prev[c_tl],
        };
        let out = intercept(&c, &p, prev[c_ldew], DT, tun.dewmx).unwrap();
        // Relative to the largest rate of the step (9 printed digits).
        // The drip of old excess storage is a difference of two printed stores: their
        // printing precision over Δt counts too.
        let scale = pr.max(row[c_qdrip]).max(row[c_qintr].abs()) + 2.0 * prev[c_ldew] / DT;
        let dq = (out.qintr - row[c_qintr])
            .abs()
            .max((out.qdrip() - row[c_qdrip]).abs());
        assert!(
            dq < 1e-8 * scale + 1e-18,
            "row {}: qintr {} vs {}, qdrip {} vs {}",
            k + 1,
            out.qintr,
            row[c_qintr],
            out.qdrip(),
            row[c_qdrip]
        );
        worst_q = worst_q.max(dq / scale);
        let evap = (row[c_fevpl] - row[c_etr]) * DT;
        if out.ldew - evap > 1e-6 {
            let dw = (out.ldew - evap - row[c_ldew]).abs();
            assert!(
                dw < 1e-8,
                "row {}: ldew {} vs {}",
                k + 1,
                out.ldew - evap,
                row[c_ldew]
            );
            worst_w = worst_w.max(dw);
            wet += 1;
        }
    }
    eprintln!("interception: worst rate {worst_q:e} (relative), ldew {worst_w:e} mm on {wet} rows");
    assert!(wet > 5000);
}

/// CoLM2014's USGS class 2 leaves (dryland cropland): ρ, τ [band][live, dead].
fn crop_leaves() -> LeafOptics {
    LeafOptics {
        rho: [[0.105, 0.36], [0.58, 0.58]],
        tau: [[0.07, 0.22], [0.25, 0.38]],
    }
}

/// The two-stream coefficients (b, c, d, f, K, μ̄, ω) of the module doc, written out again
/// here for the independent numerical solution.
fn stream_coeffs(l: &LeafOptics, green: f64, chil: f64, mu_s: f64, iw: usize) -> [f64; 7] {
    let phi1 = 0.5 - 0.633 * chil - 0.33 * chil * chil;
    let phi2 = 0.877 * (1.0 - 2.0 * phi1);
    let mu = mean_inverse_depth(phi1, phi2);
    let g = phi1 + phi2 * mu_s;
    let k = g / mu_s;
    let rho = green * l.rho[iw][0] + (1.0 - green) * l.rho[iw][1];
    let tau = green * l.tau[iw][0] + (1.0 - green) * l.tau[iw][1];
    let w = rho + tau;
    let q = g + mu_s * phi2;
    let a_s = w / 2.0 * g / q * (1.0 - mu_s * phi1 / q * ((q + mu_s * phi1) / (mu_s * phi1)).ln());
    let wb = 0.5 * (w + (rho - tau) * ((1.0 + chil) / 2.0).powi(2));
    let d = (1.0 + mu * k) * a_s;
    [1.0 - w + wb, wb, d, w * mu * k - d, k, mu, w]
}

/// RK4 shooting solution of the two-stream equations over leaf area `lai` on `n` steps:
/// (albedo, diffuse flux at the ground, ∫(I↑ + I↓)dx, ∫(I↑ + I↓)e^{−Kx}dx) for unit direct
/// (`direct`) or diffuse incidence.
fn shoot(cf: &[f64; 7], lai: f64, albg: [f64; 2], direct: bool, n: usize) -> [f64; 4] {
    let [b, c, d, f, k, mu, _] = *cf;
    let (d, f) = if direct { (d, f) } else { (0.0, 0.0) };
    // y = (I↑, I↓, ∫(I↑+I↓), ∫(I↑+I↓)e^{−Kx}).
    let rhs = |x: f64, y: &[f64; 4]| -> [f64; 4] {
        let e = (-k * x).exp();
        [
            (b * y[0] - c * y[1] - d * e) / mu,
            (-b * y[1] + c * y[0] + f * e) / mu,
            y[0] + y[1],
            (y[0] + y[1]) * e,
        ]
    };
    let run = |up0: f64| -> [f64; 4] {
        let mut y = [up0, if direct { 0.0 } else { 1.0 }, 0.0, 0.0];
        let hs = lai / n as f64;
        for i in 0..n {
            let x = i as f64 * hs;
            let k1 = rhs(x, &y);
            let y2: [f64; 4] = std::array::from_fn(|j| y[j] + 0.5 * hs * k1[j]);
            let k2 = rhs(x + 0.5 * hs, &y2);
            let y3: [f64; 4] = std::array::from_fn(|j| y[j] + 0.5 * hs * k2[j]);
            let k3 = rhs(x + 0.5 * hs, &y3);
            let y4: [f64; 4] = std::array::from_fn(|j| y[j] + hs * k3[j]);
            let k4 = rhs(x + hs, &y4);
            y = std::array::from_fn(|j| {
                y[j] + hs / 6.0 * (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j])
            });
        }
        y
    };
    let s2 = if direct { (-k * lai).exp() } else { 0.0 };
    let miss = |y: &[f64; 4]| y[0] - albg[DIF] * y[1] - albg[DIR] * s2;
    let (y0, y1) = (run(0.0), run(1.0));
    let up0 = -miss(&y0) / (miss(&y1) - miss(&y0));
    let y = run(up0);
    [up0, y[1], y[2], y[3]]
}

#[test]
fn two_stream_solves_the_equations_and_conserves_energy() {
    let leaf = crop_leaves();
    let mut r = Lcg(11);
    let (mut worst, mut worst_e) = (0.0f64, 0.0f64);
    for case in 0..40 {
        let chil = -0.4 + r.next();
        let lai = 0.05 + 4.0 * r.next();
        let mu_s = 0.05 + 0.95 * r.next();
        let green = if case % 3 == 0 { r.next() } else { 1.0 };
        let albg = [
            [0.1 + 0.3 * r.next(), 0.1 + 0.3 * r.next()],
            [0.2 + 0.5 * r.next(), 0.3],
        ];
        let t = two_stream(&leaf, green, chil, lai, 0.5, mu_s, &albg).unwrap();
        for iw in [VIS, NIR] {
            let cf = stream_coeffs(&leaf, green, chil, mu_s, iw);
            let (k, mu, w) = (cf[4], cf[5], cf[6]);
            for (id, direct) in [(DIR, true), (DIF, false)] {
                let [alb, tr, int, int_sun] = shoot(&cf, lai, albg[iw], direct, 4000);
                let s2 = if direct { (-k * lai).exp() } else { 0.0 };
                let beam = if direct { 1.0 - s2 } else { 0.0 };
                // Leaves absorb (1 − ω) of what they intercept: the beam and the diffuse light.
                let absorbed = (1.0 - w) * (beam + int / mu);
                let sunlit = (1.0 - w) * (beam + int_sun / mu);
                let got = [
                    t.albv[iw][id],
                    t.tranc[iw][id],
                    t.ssun[iw][id] + t.ssha[iw][id],
                ];
                for (a, b) in got.iter().zip([alb, tr, absorbed]) {
                    worst = worst.max((a - b).abs());
                }
                worst = worst.max((t.ssun[iw][id] - sunlit).abs());
                // Energy: absorbed by leaves + reflected + absorbed by the ground = incident.
                let ground = (1.0 - albg[iw][DIR]) * s2 + (1.0 - albg[iw][DIF]) * tr;
                worst_e = worst_e.max((absorbed + alb + ground - 1.0).abs());

                assert!(t.ssun[iw][id] >= 0.0 && t.ssha[iw][id] >= 0.0);
            }
        }
    }
    eprintln!("two-stream against RK4: {worst:e}; energy of the RK4 solution {worst_e:e}");
    assert!(worst < 1e-12 && worst_e < 1e-12, "{worst:e} {worst_e:e}");
}

/// Where K μ̄ = √(b² − c²) the particular solution resonates with e^{−hx} (σ = 0): the
/// bridged solution still solves the equations.
#[test]
fn two_stream_at_the_resonance() {
    let leaf = crop_leaves();
    let (chil, lai, albg) = (-0.3, 2.0, [[0.15, 0.2], [0.3, 0.35]]);
    let sigma = |mu_s: f64| {
        let [b, c, _, _, k, mu, _] = stream_coeffs(&leaf, 1.0, chil, mu_s, VIS);
        (mu * k).powi(2) + c * c - b * b
    };
    // Bisection for σ(μ) = 0 in the visible band (σ changes sign on (0.05, 1)).
    let (mut lo, mut hi) = (0.05, 1.0);
    assert!(sigma(lo) * sigma(hi) < 0.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if sigma(lo) * sigma(mid) <= 0.0 {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let mu_s = 0.5 * (lo + hi);
    assert!(sigma(mu_s).abs() < 1e-10);
    let t = two_stream(&leaf, 1.0, chil, lai, 0.0, mu_s, &albg).unwrap();
    let cf = stream_coeffs(&leaf, 1.0, chil, mu_s, VIS);
    let [alb, tr, int, int_sun] = shoot(&cf, lai, albg[VIS], true, 4000);
    let (k, mu, w) = (cf[4], cf[5], cf[6]);
    let beam = 1.0 - (-k * lai).exp();
    assert!(
        (t.albv[VIS][DIR] - alb).abs() < 1e-9,
        "{} {alb}",
        t.albv[VIS][DIR]
    );
    assert!((t.tranc[VIS][DIR] - tr).abs() < 1e-9);
    assert!((t.ssun[VIS][DIR] - (1.0 - w) * (beam + int_sun / mu)).abs() < 1e-9);
    let absorbed = (1.0 - w) * (beam + int / mu);
    assert!((t.ssun[VIS][DIR] + t.ssha[VIS][DIR] - absorbed).abs() < 1e-9);
}

#[test]
fn two_stream_limits_and_analytic_cases() {
    let leaf = crop_leaves();
    let albg = [[0.12, 0.2], [0.3, 0.35]];
    // No leaves: the canopy is the ground.
    let t = two_stream(&leaf, 1.0, -0.3, 1e-9, 0.0, 0.6, &albg).unwrap();
    for iw in [VIS, NIR] {
        assert!((t.albv[iw][DIF] - albg[iw][DIF]).abs() < 1e-8);
        assert!((t.albv[iw][DIR] - albg[iw][DIR]).abs() < 1e-8);
        assert!(t.ssun[iw][DIR].abs() + t.ssha[iw][DIR].abs() < 1e-8);
    }
    // Deep canopy of leaves with ρ = τ (β = 1/2): the diffuse albedo of a semi-infinite
    // two-stream medium, (1 − √(1 − ω))²/ω, whatever the ground.
    let even = LeafOptics {
        rho: [[0.1, 0.1], [0.4, 0.4]],
        tau: [[0.1, 0.1], [0.4, 0.4]],
    };
    let t = two_stream(&even, 1.0, 0.2, 60.0, 0.0, 0.5, &albg).unwrap();
    for (iw, w) in [(VIS, 0.2f64), (NIR, 0.8)] {
        let want = (1.0 - (1.0 - w).sqrt()).powi(2) / w;
        assert!(
            (t.albv[iw][DIF] - want).abs() < 1e-12,
            "{} {want}",
            t.albv[iw][DIF]
        );
    }
    // Nearly black leaves over black ground: the beam is absorbed as e^{−KL} predicts,
    // all by sunlit leaves; K = G(μ)/μ with G = φ1 + φ2 μ.
    let black = LeafOptics {
        rho: [[1e-7, 1e-7]; 2],
        tau: [[1e-7, 1e-7]; 2],
    };
    let t = two_stream(&black, 1.0, 0.0, 2.0, 0.0, 0.5, &[[0.0; 2]; 2]).unwrap();
    let k = (0.5 + 0.877 * 0.0 * 0.5) / 0.5;
    assert!((t.extkb - k).abs() < 1e-15);
    let want = 1.0 - (-2.0 * k).exp();
    assert!((t.ssun[VIS][DIR] - want).abs() < 1e-6 && t.ssha[VIS][DIR].abs() < 1e-6);
    // Spherical leaves (χ_L = 0): μ̄ = 1/(2φ1) = 1, so the longwave gap e^{−(L+S)}.
    assert!((t.thermk - (-2.0f64).exp()).abs() < 1e-12);
    // Outside the Ross-Goudriaan range or with opaque leaves: an error, not a panic.
    assert!(two_stream(&leaf, 1.0, 0.9, 1.0, 0.0, 0.5, &albg).is_err());
    assert!(two_stream(&black, 1.0, 0.0, -1.0, 0.0, 0.5, &albg).is_err());
    assert!(two_stream(&leaf, 1.0, 0.0, 1.0, 0.0, 0.0, &albg).is_err());
}

/// Absorbed and reflected shortwave of every sunlit Bondville step from the previous row's
/// state (LAI, SAI, snow, top-layer water, zenith) and the step's forcing split by the point
/// driver's rule: sunlit and shaded leaves, ground and reflected radiation.
#[test]
fn absorbed_shortwave_follows_the_bondville_reference() {
    let Some((r, f)) = reference() else { return };
    let dir = landcycle::testdata::require("colm-bondville").unwrap();
    let text = std::fs::read_to_string(dir.join("params_bondville.txt")).unwrap();
    let l = parse_params(&text).unwrap();
    let v = |n: &str| l.scalar(n).unwrap();
    // "soil albedo s_v d_v s_n d_n = ..." (the listing reader keeps only name = value pairs).
    let line = text.lines().find(|t| t.starts_with("soil albedo")).unwrap();
    let a: Vec<f64> = line
        .split('=')
        .nth(1)
        .unwrap()
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    let soil = SoilAlbedo {
        sat: [a[0], a[2]],
        dry: [a[1], a[3]],
    };
    let veg = VegOptics {
        leaf: LeafOptics {
            rho: [
                [v("ref(1,1)"), v("ref(1,2)")],
                [v("ref(2,1)"), v("ref(2,2)")],
            ],
            tau: [
                [v("tran(1,1)"), v("tran(1,2)")],
                [v("tran(2,1)"), v("tran(2,2)")],
            ],
        },
        chil: v("chil"),
    };
    let dz1 = l.geometry.dz[0];
    let names = ["sabvsun_W_m2", "sabvsha_W_m2", "sabg_W_m2", "sr_W_m2"];
    let cols = names.map(|n| r.col(n));
    let [c_lai, c_sai, c_cz, c_fsno, c_scv, c_dp, c_sag, c_wl] = [
        "lai",
        "sai",
        "coszen_next",
        "fsno",
        "scv_mm",
        "snowdp_m",
        "sag",
        "wliq1",
    ]
    .map(|n| r.col(n));
    let (c_sigf, f_sw) = (r.col("sigf"), f.col("SOLDN_W_m2"));
    let (mut n, mut worst) = (0, [0.0f64; 4]);
    for k in 1..r.rows.len() {
        let (p, row) = (&r.rows[k - 1], &r.rows[k]);
        let sw = split_shortwave(f.rows[k][f_sw], p[c_cz]);
        let cover = snow_cover(1.0, v("z0m"), v("zlnd"), p[c_scv], p[c_dp]);
        let st = AlbedoState {
            fveg: 1.0,
            green: 1.0,
            lai: p[c_lai],
            sai: p[c_sai],
            coszen: p[c_cz],
            wt: cover.wt,
            fsno: p[c_fsno],
            scv: p[c_scv],
            sag: p[c_sag],
            ssw: (p[c_wl] / (1000.0 * dz1)).min(1.0),
        };
        let a = surface_albedo(&soil, &veg, &st).unwrap();
        let ns = net_solar(&sw, &a, p[c_sigf]);
        let got = [ns.sabvsun, ns.sabvsha, ns.sabg, ns.sr];
        let total = f.rows[k][f_sw];
        for i in 0..4 {
            let e = (got[i] - row[cols[i]]).abs();
            assert!(
                e < 1e-7 * total + 1e-9,
                "row {}: {} {} vs {}",
                k + 1,
                names[i],
                got[i],
                row[cols[i]]
            );
            worst[i] = worst[i].max(e);
        }
        n += (total > 0.0) as usize;
    }
    eprintln!("absorbed shortwave on {n} lit rows: worst |error| {worst:?} W m-2");
    assert!(n > 8000);
}

#[test]
fn net_solar_partition_closes() {
    let leaf = crop_leaves();
    let soil = SoilAlbedo {
        sat: [0.1, 0.2],
        dry: [0.2, 0.4],
    };
    let st = AlbedoState {
        fveg: 1.0,
        green: 1.0,
        lai: 2.0,
        sai: 0.3,
        coszen: 0.7,
        wt: 0.2,
        fsno: 0.3,
        scv: 5.0,
        sag: 0.4,
        ssw: 0.25,
    };
    let veg = VegOptics { leaf, chil: -0.3 };
    let a = surface_albedo(&soil, &veg, &st).unwrap();
    let sw = split_shortwave(600.0, 0.7);
    assert!((sw.iter().flatten().sum::<f64>() - 600.0).abs() < 1e-12);
    let ns = net_solar(&sw, &a, 0.9);
    assert!((ns.sabvsun + ns.sabvsha + ns.sabg + ns.sr - 600.0).abs() < 1e-10);
    assert!(ns.sabvsun > 0.0 && ns.sabvsha > 0.0 && ns.sabg > 0.0 && ns.parsun > ns.parsha);
    // Night: no albedo, whatever light arrives is the ground's.
    let night = surface_albedo(&soil, &veg, &AlbedoState { coszen: -0.1, ..st }).unwrap();
    let ns = net_solar(&sw, &night, 0.9);
    assert_eq!((ns.sabvsun, ns.sr, ns.sabg), (0.0, 0.0, 600.0));
    let _: &TwoStream = &night.canopy;
}

/// CoLM2014's USGS class 2 (dryland cropland) photosynthesis constants (params_bondville.txt).
fn crop_photo() -> PhotoParams {
    PhotoParams {
        effcon: 0.08,
        vmax25: 5.7e-5,
        slti: 0.2,
        hlti: 281.0,
        shti: 0.3,
        hhti: 308.0,
        trda: 1.3,
        trdm: 328.0,
        trop: 298.0,
        gradm: 9.0,
        binter: 0.01,
    }
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-30)
}

#[test]
fn photosynthesis_at_hand_computed_points() {
    let p = crop_photo();
    let po2 = 0.209 * 1e5;
    // At T_opt (q_t = 0): K_c = 30 Pa, K_o = 30000 Pa, Γ* = ½ O₂/2600 = 4.0192 Pa,
    // K_c(1 + O₂/K_o) = 50.9 Pa, V_m = V_max25/(1 + e^{0.3(298 − 308)}) = 5.42967e-5,
    // R_d = 0.015 V_max25/(1 + e^{1.3(298 − 328)}) = 8.55e-7, J = 4.6e-6 · 100 · 0.08.
    let c = capacities(&p, 298.0, po2, 100.0, 1.0, &[1.0; 3]);
    assert!(close(c.gammas, 4.019230769230769, 1e-14));
    assert!(close(c.rrkk, 50.9, 1e-14));
    assert!(close(c.vm, 5.42967252288787e-5, 1e-13));
    assert!(close(c.epar, 3.68e-5, 1e-14));
    assert!(close(c.respc, 8.55e-7, 1e-12));
    assert!(close(c.omss, 2.757957925609417e-5, 1e-13));
    // Gross assimilation at c_i = 25 Pa (Rubisco 1.5009e-5, light 2.3369e-5, co-limited).
    assert!(close(
        gross_assimilation(&c, 25.0),
        1.248644729456589e-5,
        1e-12
    ));
    // Warmer leaf, brighter light: J limited by J_max's temperature response.
    let c = capacities(&p, 303.0, po2, 300.0, 1.0, &[1.0; 3]);
    assert!(close(c.gammas, 5.32360120435758, 1e-13));
    assert!(close(c.rrkk, 71.1222314391933, 1e-13));
    assert!(close(c.vm, 6.75323445897663e-5, 1e-13));
    assert!(close(c.epar, 1.104e-4, 1e-13));
    assert!(close(c.respc, 1.209152595828987e-6, 1e-12));
    assert!(close(
        gross_assimilation(&c, 25.0),
        1.301995329091498e-5,
        1e-12
    ));
    // Dark: no electron transport, no gross assimilation.
    let c = capacities(&p, 298.0, po2, 0.0, 1.0, &[1.0; 3]);
    assert_eq!(gross_assimilation(&c, 25.0), 0.0);
    // C4 (quantum efficiency 0.05): no compensation point, Rubisco limit V_m itself.
    let c4 = PhotoParams { effcon: 0.05, ..p };
    let c = capacities(&c4, 298.0, po2, 300.0, 1.0, &[1.0; 3]);
    assert!(!c.c3 && c.gammas == 0.0 && c.rrkk == 0.0);
    let vm = 5.7e-5 / ((1.0 + (0.2f64 * (281.0 - 298.0)).exp()) * (1.0 + (-3.0f64).exp()));
    assert!(close(c.vm, vm, 1e-13));
    assert!(close(
        c.respc,
        0.025 * 5.7e-5 / (1.0 + (1.3f64 * -30.0).exp()),
        1e-12
    ));
}

fn leaf_env(par: f64, rstfac: f64) -> LeafEnv {
    let psrf = 1e5;
    LeafEnv {
        psrf,
        po2m: 0.209 * psrf,
        pco2m: 398.03e-6 * psrf,
        pco2a: 398.03e-6 * psrf,
        ea: 0.6 * 3167.0,
        ei: 3167.0,
        tlef: 298.0,
        par,
        rb: 50.0,
        rstfac,
    }
}

#[test]
fn stomata_solve_ball_berry_and_the_boundary_layer() {
    let p = crop_photo();
    let (sun, _) = big_leaf_factors(2.0, 0.8, 0.719);
    for par in [30.0, 100.0, 300.0, 600.0] {
        let e = leaf_env(par, 0.9);
        let s = stomata(&p, &e, &sun).unwrap();
        assert!(s.residual.abs() < 0.1, "c_i search did not converge: {s:?}");
        // The returned conductance and assimilation satisfy Ball–Berry at the leaf surface,
        // with the surface humidity from the flux continuity across the boundary layer.
        let an = s.assim - s.respc;
        let gb = molar_factor(e.tlef, e.psrf) / e.rb;
        let cs = e.pco2a / e.psrf - 1.37 * an / gb;
        let es = (gb * e.ea + s.gs * e.ei) / (gb + s.gs);
        let bintc = p.binter * 0.9 * sun[2];
        let bb = p.gradm * an * (es / e.ei) / cs + bintc;
        assert!(
            close(s.gs, bb, 1e-9),
            "par {par}: g_s {} Ball-Berry {bb}",
            s.gs
        );
        // and the intercellular CO₂ from the diffusion through the stomata.
        let ci = (cs - 1.6 * an / s.gs) * e.psrf;
        assert!((ci - s.pco2i).abs() < 0.1);
        assert!(close(s.rst, molar_factor(e.tlef, e.psrf) / s.gs, 1e-12));
    }
    // More light, more assimilation and conductance; drought lowers both.
    let lo = stomata(&p, &leaf_env(100.0, 1.0), &sun).unwrap();
    let hi = stomata(&p, &leaf_env(400.0, 1.0), &sun).unwrap();
    let dry = stomata(&p, &leaf_env(400.0, 0.3), &sun).unwrap();
    assert!(hi.assim > lo.assim && hi.gs > lo.gs);
    assert!(dry.assim < hi.assim && dry.gs < hi.gs);
}

#[test]
fn stomata_in_the_dark_keep_the_minimum_conductance() {
    let p = crop_photo();
    let (sun, sha) = big_leaf_factors(3.0, 0.8, 0.719);
    for (cint, beta) in [(sun, 1.0), (sha, 0.5), (sha, 0.02)] {
        let e = leaf_env(0.0, beta);
        let s = stomata(&p, &e, &cint).unwrap();
        // No light: A = 0, A_n = −R_d < 0, and g_s falls to the intercept b max(0.1, β) c₃.
        let gmin = p.binter * beta.max(0.1) * cint[2];
        assert_eq!(s.assim, 0.0);
        // Above it only by the law's floor A_n ≥ 1e-12: m 1e-12 h_s/c_s ≤ 9e-12/4e-4 mol m-2 s-1.
        assert!(s.gs >= gmin && s.gs - gmin < 2.5e-8, "{} vs {gmin}", s.gs);
        assert!(close(s.rst, molar_factor(298.0, 1e5) / s.gs, 1e-12));
    }
}

#[test]
fn big_leaf_factors_and_the_ci_search() {
    // Sunlit plus shaded equals the canopy integral; sunlit LAI (1 − e^{−KL})/K.
    let (sun, sha) = big_leaf_factors(4.0, 0.6, 0.719);
    assert!(close(
        sun[0] + sha[0],
        (1.0 - (-0.44f64).exp()) / 0.11,
        1e-14
    ));
    assert!(close(
        sun[1] + sha[1],
        (1.0 - (-0.719f64 * 4.0).exp()) / 0.719,
        1e-14
    ));
    assert!(close(sun[2] + sha[2], 4.0, 1e-15));
    assert!(close(sun[2], (1.0 - (-2.4f64).exp()) / 0.6, 1e-15));
    assert_eq!(sunlit_shaded_lai(4.0, 0.6).0, sun[2]);
    // The search: first guesses Γ* + r/2, then 0.3 r towards the residual's sign, then the
    // secant; on a linear residual e(c) = c − 20 the secant lands on the root.
    let (range, gam) = (30.0, 4.0);
    let mut h: Vec<(f64, f64)> = Vec::new();
    let g1 = next_guess(&mut h, range, gam);
    assert_eq!(g1, 19.0);
    h.push((g1 - 20.0, g1));
    let g2 = next_guess(&mut h, range, gam);
    assert!(close(g2, 4.0 + 30.0 * 0.8, 1e-15));
    h.push((g2 - 20.0, g2));
    let g3 = next_guess(&mut h, range, gam);
    assert!((g3 - 20.0).abs() < 1e-8);
    // Later guesses never go below 0.01 Pa.
    let mut h = vec![(5.0, 3.0), (4.0, 2.0), (3.0, 1.0)];
    assert!(next_guess(&mut h, range, gam) >= 0.01);
    assert!(h.windows(2).all(|w| w[0].0 <= w[1].0));
}

#[test]
fn stomata_reject_bad_input() {
    let p = crop_photo();
    let c = [1.0; 3];
    assert!(stomata(
        &p,
        &LeafEnv {
            rb: 0.0,
            ..leaf_env(100.0, 1.0)
        },
        &c
    )
    .is_err());
    assert!(stomata(
        &p,
        &LeafEnv {
            par: f64::NAN,
            ..leaf_env(100.0, 1.0)
        },
        &c
    )
    .is_err());
    assert!(stomata(&p, &leaf_env(100.0, -0.1), &c).is_err());
    assert!(stomata(&PhotoParams { gradm: 1.0, ..p }, &leaf_env(100.0, 1.0), &c).is_err());
    assert!(stomata(&p, &leaf_env(100.0, 1.0), &[1.0, -1.0, 1.0]).is_err());
}

#[test]
fn saturation_follows_the_fits_and_their_derivatives() {
    // At T_f the water fit: 611.213476 Pa; just below, the ice fit (611.12 Pa).
    let s0 = saturation(TFRZ, 1e5);
    assert!((s0.es - 611.213476).abs() < 1e-9);
    assert!((saturation(TFRZ - 1e-9, 1e5).es - 611.123516).abs() < 1e-6);
    // Against Buck (1981) over water and ice within the fits' 0.1 % between −40 and 40 °C.
    for tc in [-40.0f64, -20.0, -5.0, 5.0, 20.0, 40.0] {
        let buck = if tc >= 0.0 {
            611.21 * ((18.678 - tc / 234.5) * (tc / (257.14 + tc))).exp()
        } else {
            611.15 * ((23.036 - tc / 333.7) * (tc / (279.82 + tc))).exp()
        };
        let s = saturation(TFRZ + tc, 1e5);
        assert!(
            (s.es / buck - 1.0).abs() < 1e-3,
            "{tc} C: {} vs {buck}",
            s.es
        );
        // The fitted derivative agrees with the fitted curve's slope (centred difference).
        let h = 1e-3;
        let fd =
            (saturation(TFRZ + tc + h, 1e5).es - saturation(TFRZ + tc - h, 1e5).es) / (2.0 * h);
        assert!(
            (s.esdt / fd - 1.0).abs() < 2e-3,
            "{tc} C: {} vs {fd}",
            s.esdt
        );
        // q_s = 0.622 e_s/(p − 0.378 e_s) and its derivative.
        assert!((s.qs - 0.622 * s.es / (1e5 - 0.378 * s.es)).abs() < 1e-15);
        let fq =
            (saturation(TFRZ + tc + h, 1e5).qs - saturation(TFRZ + tc - h, 1e5).qs) / (2.0 * h);
        assert!((s.qsdt / fq - 1.0).abs() < 2e-3);
    }
    // Outside −75…100 °C the fits are held at their ends.
    assert_eq!(saturation(TFRZ - 90.0, 1e5), saturation(TFRZ - 75.0, 1e5));
    assert_eq!(saturation(TFRZ + 120.0, 2e5), saturation(TFRZ + 100.0, 2e5));
}
