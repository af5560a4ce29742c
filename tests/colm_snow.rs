//! CoLM snow layers (stage 5 of COLM.md §8): new snow, compaction, combination, division,
//! percolation, snow age and cover — conservation, published formulae at hand-computed
//! points, and the Bondville reference where a piece can be checked on its own.
#![allow(clippy::needless_range_loop)]

use std::io::Read;

mod colm_common;
use colm_common::Lcg;

use landcycle::lsm::colm::constants::{DENH2O, DENICE, MAXSNL, NLAYER, TFRZ};
use landcycle::lsm::colm::layers::{soil, Layers};
use landcycle::lsm::colm::new_snow::{add_snowfall, GroundPrecip};
use landcycle::lsm::colm::phase_change::ThinSnow;
use landcycle::lsm::colm::precip_phase::{
    liquid_fraction, new_snow_density, partition, precip_temperature,
};
use landcycle::lsm::colm::snow_age::snow_age;
use landcycle::lsm::colm::snow_combine::{combine, DZ_MIN};
use landcycle::lsm::colm::snow_compaction::{compact, rates};
use landcycle::lsm::colm::snow_cover::snow_cover;
use landcycle::lsm::colm::snow_divide::{divide, DZ_TARGET};
use landcycle::lsm::colm::snow_layers::{after_water, start_of_step};
use landcycle::lsm::colm::snow_slab::{combine_pair, surface_enthalpy, surface_water, SnowLayer};
use landcycle::lsm::colm::snow_water::{percolate, SnowSurfaceWater};
use landcycle::lsm::colm::{SoilGeometry, Tunables, NSOIL};

const DT: f64 = 1800.0;

/// A snow-free column on the standard geometry, soil at `t` with some water.
fn column(t: f64) -> Layers {
    let g = SoilGeometry::standard();
    let wliq: [f64; NSOIL] = std::array::from_fn(|j| 0.3 * g.dz[j] * DENH2O);
    Layers::soil_only(&g, &[t; NSOIL], &wliq, &[0.0; NSOIL])
}

/// A random snow pack of `n` layers: dry and cold or wet at T_f, layer by layer.
fn random_pack(r: &mut Lcg, n: usize) -> Vec<SnowLayer> {
    (0..n)
        .map(|_| {
            let dz = 0.002 + 0.3 * r.next();
            let wice = dz * (60.0 + 300.0 * r.next()) * if r.next() < 0.1 { 1e-3 } else { 1.0 };
            let wet = r.next() < 0.4;
            SnowLayer {
                dz,
                wice,
                wliq: if wet { 0.03 * wice * r.next() } else { 0.0 },
                t: if wet { TFRZ } else { TFRZ - 20.0 * r.next() },
            }
        })
        .collect()
}

fn put(l: &mut Layers, v: &[SnowLayer]) {
    let f = |g: fn(&SnowLayer) -> f64| v.iter().map(g).collect::<Vec<_>>();
    l.set_snow(&f(|s| s.dz), &f(|s| s.t), &f(|s| s.wliq), &f(|s| s.wice));
}

#[test]
fn new_snow_density_and_phase_partition() {
    assert_eq!(new_snow_density(TFRZ - 20.0), 50.0);
    assert!((new_snow_density(TFRZ) - (50.0 + 1.7 * 15f64.powf(1.5))).abs() < 1e-12);
    assert!((new_snow_density(TFRZ) - 148.7610753282891).abs() < 1e-9);
    assert!((new_snow_density(TFRZ - 10.0) - 69.0065778087482).abs() < 1e-9);
    assert!((new_snow_density(TFRZ + 1.0) - 158.8).abs() < 1e-9);
    assert_eq!(new_snow_density(TFRZ + 2.01), 169.0);
    assert_eq!(liquid_fraction(TFRZ - 1.0), 0.0);
    assert!((liquid_fraction(TFRZ + 1.0) - 0.2).abs() < 1e-9);
    assert_eq!(liquid_fraction(TFRZ + 2.2), 0.4);
    let tcrit = Tunables::default().tcrit;
    let p = partition(TFRZ + 1.0, 3e-4, 6e-4, tcrit);
    assert!((p.prc_rain - 0.6e-4).abs() < 1e-12 && (p.prl_snow - 4.8e-4).abs() < 1e-12);
    assert!((p.prc_rain + p.prc_snow - 3e-4).abs() < 1e-18);
    let warm = partition(TFRZ + tcrit + 0.01, 3e-4, 6e-4, tcrit);
    assert_eq!((warm.prc_snow, warm.prl_snow, warm.flfall), (0.0, 0.0, 1.0));
    let cold = partition(TFRZ - 5.0, 3e-4, 6e-4, tcrit);
    assert_eq!((cold.prc_rain, cold.prl_rain), (0.0, 0.0));
    // Precipitation temperature: wet bulb above 275.65 K (not below T_f), else from f_l.
    assert_eq!(precip_temperature(280.0, 277.0, 1.0), 277.0);
    assert_eq!(precip_temperature(276.0, 272.0, 1.0), TFRZ);
    assert_eq!(precip_temperature(270.0, 268.0, 0.0), 268.0);
    let f = 0.2;
    assert!((precip_temperature(274.0, 273.5, f) - (TFRZ - 0.02)).abs() < 1e-12);
}

#[test]
fn first_snow_layer_at_one_centimetre_while_snowing() {
    let mut l = column(270.0);
    let (mut sag, mut fsno) = (0.3, 0.0);
    let mut snow = ThinSnow {
        scv: 0.5,
        snowdp: 0.005,
    };
    let fall = |s: f64| GroundPrecip {
        rain: 0.0,
        snow: s,
        bifall: 100.0,
        t_precip: 268.0,
    };
    // 0.4 mm falls: depth 0.009 m, no layer.
    assert!(!add_snowfall(
        &mut l,
        &mut snow,
        &mut sag,
        &mut fsno,
        fall(0.4 / DT),
        DT
    ));
    assert_eq!(l.nsnow, 0);
    assert!((snow.snowdp - 0.009).abs() < 1e-15 && (snow.scv - 0.9).abs() < 1e-15);
    // Depth ≥ 0.01 m but not snowing: still no layer.
    snow.snowdp = 0.0105;
    assert!(!add_snowfall(
        &mut l,
        &mut snow,
        &mut sag,
        &mut fsno,
        fall(0.0),
        DT
    ));
    assert_eq!(l.nsnow, 0);
    // Snowing: one layer holding the whole pack as ice, at min(T_f, T_precip), age 0.
    assert!(add_snowfall(
        &mut l,
        &mut snow,
        &mut sag,
        &mut fsno,
        fall(0.1 / DT),
        DT
    ));
    let k = l.top();
    assert_eq!((l.nsnow, k), (1, MAXSNL - 1));
    assert!((l.dz[k] - 0.0115).abs() < 1e-15 && l.wice[k] == snow.scv && l.wliq[k] == 0.0);
    assert!((l.zi[k] + 0.0115).abs() < 1e-15 && (l.z[k] + 0.00575).abs() < 1e-15);
    assert_eq!((l.t[k], sag), (268.0, 0.0));
    assert!((fsno - 0.01f64.tanh()).abs() < 1e-15);
    // More snow and rain on the layer: mass added, temperature the mixture, ≤ T_f.
    let c0 = l.wice[k] * 2117.27;
    let p = GroundPrecip {
        rain: 0.2 / DT,
        snow: 1.0 / DT,
        bifall: 100.0,
        t_precip: 273.0,
    };
    let t_mix = TFRZ
        + (c0 * (268.0 - TFRZ) + (0.2 * 4188.0 + 2117.27) * (273.0 - TFRZ))
            / (c0 + 0.2 * 4188.0 + 2117.27);
    add_snowfall(&mut l, &mut snow, &mut sag, &mut fsno, p, DT);
    assert!((l.t[k] - t_mix).abs() < 1e-9 && (l.wice[k] - 2.0).abs() < 1e-13);
    assert!((l.dz[k] - 0.0215).abs() < 1e-15 && (l.zi[k] + 0.0215).abs() < 1e-15);
}

#[test]
fn compaction_rates_at_a_hand_computed_point() {
    // Dry snow at T_f − 5 K, ρ_i = 100 kg m-3 (no density damping), 10 kg m-2 above.
    let r = rates(0.05, 5.0, 0.0, TFRZ - 5.0, 10.0, false, 1.0, DT);
    let meta = -2.777e-6 * (-0.2f64).exp();
    let over = -10.0 * (-0.4f64 - 2.3).exp() / 9.0e5;
    assert!((r.metamorphism - -2.2736153012975555e-6).abs() < 1e-18);
    assert!((r.metamorphism - meta).abs() < 1e-20 && (r.overburden - over).abs() < 1e-20);
    assert!((r.overburden - -7.467279193305532e-7).abs() < 1e-18 && r.melt == 0.0);
    // Dense (150 kg m-3) wet snow at T_f − 2 K under 30 kg m-2, melting from f 1 to 0.8.
    let r = rates(0.04, 6.0, 1.5, TFRZ - 2.0, 30.0, true, 1.0, DT);
    assert!((r.metamorphism - -5.140259074924466e-7).abs() < 1e-18);
    assert!((r.overburden - -9.017282288783472e-7).abs() < 1e-18);
    assert!((r.melt - -0.2 / DT).abs() < 1e-18);
    // Applied to a column: thickness × (1 + rate Δt), water unchanged, burden accumulates.
    let mut l = column(270.0);
    put(
        &mut l,
        &[
            SnowLayer {
                dz: 0.1,
                wice: 10.0,
                wliq: 0.0,
                t: TFRZ - 5.0,
            },
            SnowLayer {
                dz: 0.05,
                wice: 5.0,
                wliq: 0.0,
                t: TFRZ - 5.0,
            },
        ],
    );
    let before = l;
    compact(&mut l, &[0; NLAYER], &[1.0; NLAYER], DT);
    let top = rates(0.1, 10.0, 0.0, TFRZ - 5.0, 0.0, false, 1.0, DT).total();
    let k = l.top();
    assert!((l.dz[k] - 0.1 * (1.0 + top * DT)).abs() < 1e-15);
    assert!((l.dz[k + 1] - 0.05 * (1.0 + (meta + over) * DT)).abs() < 1e-15);
    assert_eq!((l.wice, l.wliq, l.t), (before.wice, before.wliq, before.t));
}

#[test]
fn combination_of_two_slabs_conserves_enthalpy() {
    let cold = SnowLayer {
        dz: 0.02,
        wliq: 0.0,
        wice: 3.0,
        t: 265.0,
    };
    let cold2 = SnowLayer {
        dz: 0.03,
        wliq: 0.0,
        wice: 5.0,
        t: 255.0,
    };
    let (c, defect) = combine_pair(cold, cold2);
    assert!((c.t - (3.0 * 265.0 + 5.0 * 255.0) / 8.0).abs() < 1e-12 && defect.abs() < 1e-9);
    let wet = SnowLayer {
        dz: 0.02,
        wliq: 0.4,
        wice: 3.0,
        t: TFRZ,
    };
    let (c, defect) = combine_pair(wet, wet);
    assert_eq!((c.t, c.wliq, c.dz), (TFRZ, 0.8, 0.04));
    assert!(defect.abs() < 1e-9);
    // Cold dry snow on wet snow: CoLM keeps the liquid and clamps T at T_f; the cold content
    // it drops is the reported defect.
    let (c, defect) = combine_pair(wet, cold);
    let h = wet.enthalpy() + cold.enthalpy();
    assert!(h > 0.0 && c.t == TFRZ);
    assert!((defect - (c.enthalpy() - h)).abs() < 1e-9 && defect > 0.0);
}

#[test]
fn combination_conserves_water_and_meets_the_minimum_thickness() {
    let mut r = Lcg(7);
    let (mut worst_m, mut worst_h, mut cases) = (0.0f64, 0.0f64, [0usize; 3]);
    for case in 0..2000 {
        let n = 1 + case % MAXSNL;
        let v = random_pack(&mut r, n);
        let mut l = column(TFRZ - 3.0 * r.next());
        put(&mut l, &v);
        let mut snow = ThinSnow {
            scv: v.iter().map(SnowLayer::mass).sum(),
            snowdp: v.iter().map(|s| s.dz).sum(),
        };
        let m0 = surface_water(&l, snow.scv);
        let h0 = surface_enthalpy(&l, snow.scv);
        let dh = combine(&mut l, &mut snow);
        let m1 = surface_water(&l, snow.scv);
        worst_m = worst_m.max((m1 - m0).abs() / m0);
        // Dry layers that all stay layers: enthalpy conserved to round-off.
        let dry = v.iter().all(|s| s.wliq == 0.0 && s.wice > 0.1);
        if dry && l.nsnow > 0 {
            worst_h = worst_h.max(dh.abs());
            assert!((surface_enthalpy(&l, snow.scv) - h0 - dh).abs() < 1e-9 * h0.abs());
        }
        for k in 0..l.top() {
            assert_eq!(
                l.wice[k] + l.wliq[k] + l.dz[k],
                0.0,
                "inactive slot {k} cleared"
            );
        }
        if l.nsnow == 0 {
            cases[0] += 1;
            continue;
        }
        cases[if l.nsnow == 1 { 1 } else { 2 }] += 1;
        let sum: f64 = (l.top()..MAXSNL).map(|k| l.wice[k] + l.wliq[k]).sum();
        assert!((snow.scv - sum).abs() < 1e-12 * sum);
        for k in l.top()..MAXSNL {
            assert!(l.wice[k] > 0.1, "ice-free layers removed");
            if l.nsnow > 1 {
                assert!(
                    l.dz[k] >= DZ_MIN[k - l.top()],
                    "case {case}: layer thinner than minimum"
                );
            }
            assert!((l.zi[k + 1] - l.zi[k] - l.dz[k]).abs() < 1e-15);
        }
        assert_eq!(l.zi[MAXSNL], 0.0);
    }
    eprintln!("combine: worst relative mass change {worst_m:.1e}, enthalpy change of dry packs {worst_h:.1e} J m-2, cases (none, one, several) {cases:?}");
    assert!(worst_m < 1e-14 && worst_h < 1e-6);
    assert!(cases.iter().all(|&c| c > 30));
}

#[test]
fn division_keeps_the_target_thicknesses() {
    // One 1-m layer: 2 → 3 → 4 → 5 layers, 0.02, 0.05, 0.11, 0.23 and the rest.
    let mut l = column(265.0);
    put(
        &mut l,
        &[SnowLayer {
            dz: 1.0,
            wice: 250.0,
            wliq: 0.0,
            t: 260.0,
        }],
    );
    let dh = divide(&mut l);
    assert_eq!(l.nsnow, 5);
    let dz: Vec<f64> = (0..MAXSNL).map(|k| l.dz[k]).collect();
    for (a, b) in dz.iter().zip([0.02, 0.05, 0.11, 0.23, 0.59]) {
        assert!((a - b).abs() < 1e-14, "{dz:?}");
    }
    assert!((0..MAXSNL).all(|k| (l.wice[k] / l.dz[k] - 250.0).abs() < 1e-10 && l.t[k] == 260.0));
    assert!(dh.abs() < 1e-9 && (l.zi[0] + 1.0).abs() < 1e-14);
    // Random packs: water conserved, targets kept above the deepest layer, at most five.
    let mut r = Lcg(11);
    let (mut worst_m, mut worst_h, mut worst_dry) = (0.0f64, 0.0f64, 0.0f64);
    for case in 0..2000 {
        let v = random_pack(&mut r, 1 + case % MAXSNL);
        if v.iter().any(|s| s.wice <= 0.1) {
            continue;
        }
        let mut l = column(265.0);
        put(&mut l, &v);
        let (m0, h0) = (surface_water(&l, 0.0), surface_enthalpy(&l, 0.0));
        let depth0: f64 = v.iter().map(|s| s.dz).sum();
        let dh = divide(&mut l);
        worst_m = worst_m.max((surface_water(&l, 0.0) - m0).abs() / m0);
        worst_h = worst_h.max((surface_enthalpy(&l, 0.0) - h0 - dh).abs());
        assert!(l.nsnow >= v.len() && l.nsnow <= MAXSNL);
        let depth: f64 = (l.top()..MAXSNL).map(|k| l.dz[k]).sum();
        assert!((depth - depth0).abs() < 1e-14);
        for i in 0..l.nsnow - 1 {
            assert!(l.dz[l.top() + i] <= DZ_TARGET[i] + 1e-15, "case {case}");
        }
        if v.iter().all(|s| s.wliq == 0.0) {
            worst_dry = worst_dry.max(dh.abs());
        }
    }
    eprintln!(
        "divide: worst relative mass change {worst_m:.1e}, enthalpy change of dry packs {worst_dry:.1e} J m-2 (bookkeeping {worst_h:.1e})"
    );
    // 1e-6 J m-2 is far below the per-step energy tolerance (1e-6 W m-2 × 1800 s).
    assert!(worst_m < 1e-14 && worst_h < 1e-6 && worst_dry < 1e-6);
}

#[test]
fn percolation_keeps_layers_within_their_pore_space() {
    let tun = Tunables::default();
    let mut r = Lcg(3);
    for case in 0..3000 {
        let n = 1 + case % MAXSNL;
        let mut v = random_pack(&mut r, n);
        for s in v.iter_mut() {
            s.wice = s.wice.max(0.2);
            let pore = (1.0 - (s.wice / (s.dz * DENICE)).min(1.0)).max(0.0) * s.dz * DENH2O;
            s.wliq = pore * r.next();
        }
        let mut l = column(TFRZ);
        put(&mut l, &v);
        let f = SnowSurfaceWater {
            rain: 2e-3 * r.next(),
            qseva: 1e-4 * r.next(),
            qsdew: 0.0,
            qsubl: 1e-5 * r.next(),
            qfros: 0.0,
        };
        let m0 = surface_water(&l, 0.0);
        let before = l;
        let out = percolate(&mut l, f, tun.ssi, tun.wimp, DT);
        let net = (f.rain - f.qseva - f.qsubl) * DT;
        let m1 = surface_water(&l, 0.0) + out.qout * DT;
        assert!(
            (m1 - m0 - net - out.clipped).abs() < 1e-12 * m0.max(1.0),
            "case {case}"
        );
        for k in l.top() + 1..MAXSNL {
            let cap =
                (1.0 - (l.wice[k] / (l.dz[k] * DENICE)).min(1.0)).max(0.01) * l.dz[k] * DENH2O;
            assert!(
                l.wliq[k] <= cap * (1.0 + 1e-12),
                "case {case}: layer {k} over its pore space"
            );
            let held = tun.ssi * cap;
            assert!(
                l.wliq[k] >= before.wliq[k].min(held) - 1e-12,
                "irreducible water kept"
            );
            assert!(l.wliq[k] >= 0.0);
        }
        assert!(out.qout >= 0.0);
    }
}

#[test]
fn snow_cover_and_age_at_hand_computed_points() {
    // 0.1 m of 200 kg m-3 snow, z0m 0.1 m, zlnd 0.01 m: f_sno = tanh(0.1/(2.5·0.01·2)).
    let c = snow_cover(1.0, 0.1, 0.01, 20.0, 0.1);
    assert!((c.fsno - 0.9640275800758169).abs() < 1e-15);
    assert!((c.wt - 1.0 / 11.0).abs() < 1e-15 && (c.sigf - 10.0 / 11.0).abs() < 1e-15);
    assert_eq!(snow_cover(1.0, 0.1, 0.01, 0.0, 0.0).fsno, 0.0);
    assert_eq!(snow_cover(1.0, 0.1, 0.01, 0.1, 1e-4).sigf, 1.0);
    assert_eq!(snow_cover(0.0, 0.1, 0.01, 20.0, 0.1).sigf, 0.0);
    // Age at T_g = T_f − 10 K: a = 5000 (1/T_f − 1/T_g) = −0.6955574755, Δτ = 1.4395e-3;
    // 2 mm of new snow refresh by 0.8.
    let d = 0.0014395492972832486;
    assert!((snow_age(DT, TFRZ - 10.0, 10.0, 10.0, 0.1) - (0.1 + d)).abs() < 1e-15);
    assert!((snow_age(DT, TFRZ - 10.0, 12.0, 10.0, 0.1) - 0.0811516394378266).abs() < 1e-15);
    // At T_f: r1 = r2 = 1, Δτ = 1e-6 Δt 2.3.
    assert!((snow_age(DT, TFRZ, 5.0, 6.0, 0.0) - 1e-6 * DT * 2.3).abs() < 1e-15);
    assert_eq!(snow_age(DT, 260.0, 0.0, 3.0, 0.5), 0.0);
    assert_eq!(snow_age(DT, 260.0, 900.0, 800.0, 0.5), 0.0);
    assert_eq!(snow_age(DT, 260.0, 30.0, 10.0, 0.5), 0.0);
}

/// Snowfall, melt, rain, percolation, compaction, combination and division over many steps:
/// the water of snow, top soil layer and layerless snow changes only by what enters and
/// what percolates out, to round-off.
#[test]
fn water_is_conserved_through_a_snow_season() {
    let tun = Tunables::default();
    let mut r = Lcg(5);
    let mut l = column(270.0);
    let mut snow = ThinSnow::default();
    let (mut sag, mut fsno) = (0.0, 0.0);
    let (mut worst, mut max_layers, mut steps_with_layers) = (0.0f64, 0, 0);
    let (mut dh_sum, mut melt_outs) = (0.0, 0);
    for step in 0..3000 {
        let m0 = surface_water(&l, snow.scv);
        let fiold = start_of_step(&mut l);
        let warm = (step / 300) % 3 == 2;
        let t_air = if warm {
            TFRZ + 3.0 + 4.0 * r.next()
        } else {
            TFRZ - 12.0 * r.next()
        };
        let p = partition(
            t_air,
            1e-3 * r.next().powi(3),
            2e-3 * r.next().powi(3),
            tun.tcrit,
        );
        let (rain, fall) = (p.prc_rain + p.prl_rain, p.prc_snow + p.prl_snow);
        let gp = GroundPrecip {
            rain,
            snow: fall,
            bifall: p.bifall,
            t_precip: t_air.min(TFRZ),
        };
        add_snowfall(&mut l, &mut snow, &mut sag, &mut fsno, gp, DT);
        let mut imelt = [0u8; NLAYER];
        let mut qout = 0.0;
        let mut clipped = 0.0;
        // Rain without snow layers goes to the soil water step, outside this budget.
        let mut into_soil = rain * DT;
        let had_layers = l.nsnow > 0;
        if l.nsnow > 0 {
            into_soil = 0.0;
            steps_with_layers += 1;
            for k in l.top()..MAXSNL {
                // Phase change mimicked: melt at T_f when warm, freeze all liquid when cold.
                if warm {
                    let m = l.wice[k] * 0.2 * r.next();
                    l.wice[k] -= m;
                    l.wliq[k] += m;
                    l.t[k] = TFRZ;
                    imelt[k] = 1;
                } else {
                    l.wice[k] += l.wliq[k];
                    l.wliq[k] = 0.0;
                    l.t[k] = t_air.min(l.t[k]);
                }
            }
            let f = SnowSurfaceWater {
                rain,
                ..Default::default()
            };
            let out = percolate(&mut l, f, tun.ssi, tun.wimp, DT);
            qout = out.qout * DT;
            clipped = out.clipped;
        } else if warm && snow.scv > 0.0 {
            // Layerless snow melts into the soil (phase change's job, mimicked).
            let m = snow.scv * 0.1;
            snow.snowdp *= 1.0 - m / snow.scv;
            snow.scv -= m;
            l.wliq[soil(0)] += m;
        }
        let h_before = surface_enthalpy(&l, snow.scv);
        let dh = after_water(&mut l, &mut snow, &imelt, &fiold, DT);
        assert!((surface_enthalpy(&l, snow.scv) - h_before - dh).abs() < 1e-6);
        dh_sum += dh.abs();
        melt_outs += usize::from(had_layers && l.nsnow == 0);
        max_layers = max_layers.max(l.nsnow);
        let m1 = surface_water(&l, snow.scv) + qout;
        let input = fall * DT + (rain * DT - into_soil) + clipped;
        worst = worst.max((m1 - m0 - input).abs());
        // The percolated water leaves this test's budget to the soil (water.rs's input).
        l.wliq[soil(0)] += qout;
        if l.nsnow > 0 {
            let sum: f64 = (l.top()..MAXSNL).map(|k| l.wice[k] + l.wliq[k]).sum();
            assert!(
                (snow.scv - sum).abs() < 1e-9,
                "step {step}: SWE is the layers' water"
            );
        }
    }
    eprintln!("season: worst water residual {worst:.1e} kg m-2, up to {max_layers} layers, {steps_with_layers} steps with layers, {melt_outs} melt-outs, Σ|enthalpy defect| {dh_sum:.3e} J m-2");
    assert!(worst < 1e-10);
    assert_eq!(max_layers, MAXSNL);
    assert!(steps_with_layers > 500 && steps_with_layers < 2900 && melt_outs >= 3);
}

struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn read(path: &std::path::Path) -> Table {
        let f = std::fs::File::open(path).unwrap();
        let mut s = String::new();
        xz2::read::XzDecoder::new(f).read_to_string(&mut s).unwrap();
        let mut lines = s.lines();
        let header = lines.next().unwrap().split(',').map(String::from).collect();
        let rows = lines
            .map(|l| l.split(',').map(|x| x.trim().to_string()).collect())
            .collect();
        Table { header, rows }
    }
    fn get(&self, row: usize, name: &str) -> f64 {
        let c = self.header.iter().position(|h| h == name).unwrap();
        self.rows[row][c].parse().unwrap()
    }
}

/// Snow age and snow cover of every reference row from that row's ground temperature, SWE
/// and depth (and the previous row's SWE and age); new snow plus compaction reproduce the
/// depth on the steps with one snow layer.
#[test]
fn bondville_snow_age_cover_and_single_layer_depth() {
    let Some(dir) = landcycle::testdata::require("colm-bondville") else {
        return;
    };
    let Some(fdir) = landcycle::testdata::require("noah-bondville") else {
        return;
    };
    let t = Table::read(&dir.join("colm_ref_bondville_1998.csv.xz"));
    let forcing = Table::read(&fdir.join("forcing_as_used.csv.xz"));
    let (mut worst_age, mut worst_fsno, mut worst_sigf, mut with_snow) =
        (0.0f64, 0.0f64, 0.0f64, 0);
    for k in 1..t.rows.len() {
        let (scv, dp) = (t.get(k, "scv_mm"), t.get(k, "snowdp_m"));
        let sag0 = if t.get(k, "snl") == 0.0 {
            0.0
        } else {
            t.get(k - 1, "sag")
        };
        let sag = snow_age(DT, t.get(k, "t_grnd_K"), scv, t.get(k - 1, "scv_mm"), sag0);
        let want = t.get(k, "sag");
        worst_age = worst_age.max((sag - want).abs() / want.abs().max(1e-3));
        // Dryland cropland: fveg 1, z0m 0.1 m (params_bondville.txt), zlnd 0.01 m.
        let c = snow_cover(1.0, 0.1, Tunables::default().zlnd, scv, dp);
        worst_fsno = worst_fsno.max((c.fsno - t.get(k, "fsno")).abs());
        worst_sigf = worst_sigf.max((c.sigf - t.get(k, "sigf")).abs());
        with_snow += usize::from(scv > 0.0);
    }
    eprintln!("Bondville: {with_snow} rows with snow; snow age {worst_age:.1e} relative, fsno {worst_fsno:.1e}, sigf {worst_sigf:.1e}");
    assert!(with_snow > 900);
    assert!(worst_age < 1e-6 && worst_fsno < 1e-8 && worst_sigf < 1e-8);

    // Steps that start with no or one snow layer and end with snow layers: cold, all snow
    // (qdrip = snowfall on the ground), the layer at the row's t_grnd, its ice the row's SWE.
    let mut checked = 0;
    let mut worst = 0.0f64;
    for k in 1..t.rows.len() {
        let (snl0, snl1) = (t.get(k - 1, "snl"), t.get(k, "snl"));
        if snl1 == 0.0 || snl0 < -1.0 {
            continue;
        }
        let t_air = forcing.get(k, "SFCTMP_K");
        assert!(t_air < TFRZ, "row {k}: cold snowfall");
        let mut l = column(270.0);
        let mut snow = ThinSnow {
            scv: t.get(k - 1, "scv_mm"),
            snowdp: t.get(k - 1, "snowdp_m"),
        };
        if snl0 == -1.0 {
            let t0 = t.get(k - 1, "t_grnd_K");
            l.set_snow(&[snow.snowdp], &[t0], &[0.0], &[snow.scv]);
        }
        let (mut sag, mut fsno) = (0.0, 0.0);
        let gp = GroundPrecip {
            rain: 0.0,
            snow: t.get(k, "qdrip_mm_s"),
            bifall: new_snow_density(t_air),
            t_precip: t_air,
        };
        add_snowfall(&mut l, &mut snow, &mut sag, &mut fsno, gp, DT);
        let top = l.top();
        l.t[top] = t.get(k, "t_grnd_K");
        l.wice[top] = t.get(k, "scv_mm");
        compact(&mut l, &[0; NLAYER], &[1.0; NLAYER], DT);
        let want = t.get(k, "snowdp_m");
        worst = worst.max((l.dz[top] - want).abs() / want);
        checked += 1;
    }
    eprintln!("Bondville: snow depth on {checked} steps starting with ≤ 1 snow layer, worst {worst:.1e} relative");
    assert_eq!(checked, 4);
    assert!(worst < 1e-8);
}
