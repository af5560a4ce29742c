//! CoLM snow–soil heat conduction and phase change with a prescribed linearised surface flux
//! (stage 2 of COLM.md §8): energy conservation, analytic limits, freeze/thaw bookkeeping.
#![allow(clippy::needless_range_loop)]

use landcycle::lsm::colm::constants::{DENH2O, DENICE, HFUS, NLAYER, TFRZ};
use landcycle::lsm::colm::heat::{conduct, energy_residual, ground_surface_flux, SurfaceFlux};
use landcycle::lsm::colm::layers::{soil, Layers};
use landcycle::lsm::colm::phase_change::{melt_freeze, ThinSnow};
use landcycle::lsm::colm::{SoilGeometry, SoilParams, Tunables, NSOIL};

const DT: f64 = 1800.0;

fn sicl() -> SoilParams {
    SoilParams::uniform(
        0.468737664,
        -595.05525951,
        8.36174695,
        1.17550369e-3,
        2.33e6,
        1.6157,
        0.18212,
    )
}

fn wet(g: &SoilGeometry, theta: f64) -> [f64; NSOIL] {
    std::array::from_fn(|j| theta * g.dz[j] * DENH2O)
}

/// One full heat step: conduction, phase change, residual (W m-2).
fn step(l: &mut Layers, p: &SoilParams, sf: SurfaceFlux, snow: &mut ThinSnow) -> (f64, f64) {
    let tun = Tunables::default();
    let c = conduct(l, p, &tun, snow.scv, sf, DT);
    let pc = melt_freeze(l, &c, sf, snow, DT);
    (energy_residual(l, &c, sf, pc.xmf), pc.xmf)
}

/// A winter-to-spring sequence crossing freezing many times, with the surface flux of the
/// ground's energy balance: every step conserves energy to 1e-6 W m-2 and water per layer.
#[test]
fn energy_is_conserved_through_freeze_and_thaw() {
    let g = SoilGeometry::standard();
    let p = sicl();
    let (t0, wl, wi) = landcycle::lsm::colm::layers::initial_from_profile(
        &g,
        &[0.1, 0.4, 1.0, 2.0],
        &[266.0995, 274.0445, 276.8954, 279.9152],
        &[0.2981597, 0.2940254, 0.2713114, 0.3070948],
    );
    let mut l = Layers::soil_only(&g, &t0, &wl, &wi);
    let mut snow = ThinSnow::default();
    let (mut worst, mut phase_steps) = (0.0f64, 0);
    for k in 0..3000 {
        let day = (k % 48) as f64 / 48.0;
        let season = k as f64 / 3000.0;
        let sabg =
            (400.0 * (std::f64::consts::PI * (day - 0.25) * 2.0).sin()).max(0.0) * (0.3 + season);
        let ta = 262.0 + 20.0 * season + 6.0 * (2.0 * std::f64::consts::PI * (day - 0.4)).sin();
        let top = l.t[l.top()];
        let cgrnd = 15.0;
        let fseng = cgrnd * (top - ta);
        let sf = ground_surface_flux(sabg, 0.0, 280.0, 0.0, 0.96, top, fseng, 1e-5, 2.5e6, cgrnd);
        let mass: [f64; NLAYER] = std::array::from_fn(|i| l.wliq[i] + l.wice[i]);
        let (res, xmf) = step(&mut l, &p, sf, &mut snow);
        assert!(res.abs() < 1e-6, "step {k}: energy residual {res:e} W m-2");
        worst = worst.max(res.abs());
        if xmf != 0.0 {
            phase_steps += 1;
        }
        for i in l.top()..NLAYER {
            assert!((l.wliq[i] + l.wice[i] - mass[i]).abs() < 1e-12 * mass[i].max(1.0));
            // No supercooled water, no ice above freezing.
            assert!(
                !(l.wliq[i] > 0.0 && l.t[i] < TFRZ - 1e-9),
                "layer {i} supercooled"
            );
            assert!(
                !(l.wice[i] > 0.0 && l.t[i] > TFRZ + 1e-9),
                "layer {i} warm ice"
            );
        }
    }
    eprintln!("worst energy residual {worst:e} W m-2, phase change on {phase_steps} steps");
    assert!(phase_steps > 100, "the sequence must cross freezing");
}

/// Zero flux at top and bottom: the profile relaxes to the capacity-weighted mean.
#[test]
fn insulated_column_relaxes_to_its_mean() {
    let g = SoilGeometry::standard();
    let p = sicl();
    let t: [f64; NSOIL] = std::array::from_fn(|j| 280.0 + 10.0 * (j as f64 / 9.0));
    let mut l = Layers::soil_only(&g, &t, &wet(&g, 0.3), &[0.0; NSOIL]);
    let zero = SurfaceFlux {
        hs: 0.0,
        dhsdt: 0.0,
    };
    let mut snow = ThinSnow::default();
    let tun = Tunables::default();
    let c0 = conduct(&mut l.clone(), &p, &tun, 0.0, zero, DT);
    let weights: Vec<f64> = (soil(0)..NLAYER).map(|k| 1.0 / c0.fact[k]).collect();
    let mean =
        (soil(0)..NLAYER).map(|k| l.t[k] / c0.fact[k]).sum::<f64>() / weights.iter().sum::<f64>();
    for _ in 0..20000 {
        let (res, _) = step(&mut l, &p, zero, &mut snow);
        assert!(res.abs() < 1e-6);
    }
    for k in soil(0)..NLAYER {
        assert!(
            (l.t[k] - mean).abs() < 1e-6,
            "layer {k}: {} vs mean {mean}",
            l.t[k]
        );
    }
}

/// A constant heat input G: after the transient every layer warms at G / ΣC.
#[test]
fn constant_flux_warms_the_column_uniformly() {
    let g = SoilGeometry::standard();
    let p = sicl();
    let mut l = Layers::soil_only(&g, &[285.0; NSOIL], &wet(&g, 0.3), &[0.0; NSOIL]);
    let gflux = 20.0;
    let sf = SurfaceFlux {
        hs: gflux,
        dhsdt: 0.0,
    };
    let mut snow = ThinSnow::default();
    let tun = Tunables::default();
    let c0 = conduct(&mut l.clone(), &p, &tun, 0.0, sf, DT);
    let ctot: f64 = (soil(0)..NLAYER).map(|k| DT / c0.fact[k]).sum();
    for _ in 0..40000 {
        step(&mut l, &p, sf, &mut snow);
    }
    let before = l.t;
    step(&mut l, &p, sf, &mut snow);
    let rate = gflux / ctot * DT;
    for k in soil(0)..NLAYER {
        let d = l.t[k] - before[k];
        assert!((d - rate).abs() < 1e-6 * rate, "layer {k}: {d} vs {rate}");
    }
}

/// A column at T_f holding ice and liquid everywhere: a surface input melts exactly
/// G Δt / L_f of ice and leaves every layer at T_f; a surface loss freezes as much.
#[test]
fn freeze_thaw_bookkeeping_at_the_freezing_point() {
    let g = SoilGeometry::standard();
    let p = sicl();
    let half_liq = wet(&g, 0.15);
    let half_ice: [f64; NSOIL] = std::array::from_fn(|j| 0.15 * g.dz[j] * DENICE);
    for gflux in [100.0, -100.0] {
        let mut l = Layers::soil_only(&g, &[TFRZ; NSOIL], &half_liq, &half_ice);
        let ice0: f64 = l.wice.iter().sum();
        let mut snow = ThinSnow::default();
        let (res, xmf) = step(
            &mut l,
            &p,
            SurfaceFlux {
                hs: gflux,
                dhsdt: -5.0,
            },
            &mut snow,
        );
        assert!(res.abs() < 1e-9);
        assert!((xmf - gflux).abs() < 1e-9, "xmf {xmf}");
        let melted = ice0 - l.wice.iter().sum::<f64>();
        assert!((melted - gflux * DT / HFUS).abs() < 1e-9);
        for k in soil(0)..NLAYER {
            assert_eq!(l.t[k], TFRZ);
        }
    }
}

/// Snow without a snow layer melts first; its depth shrinks in proportion.
#[test]
fn thin_snow_melts_before_soil_ice() {
    let g = SoilGeometry::standard();
    let p = sicl();
    let mut l = Layers::soil_only(&g, &[TFRZ; NSOIL], &wet(&g, 0.3), &[0.0; NSOIL]);
    let mut snow = ThinSnow {
        scv: 1.0,
        snowdp: 0.005,
    };
    let tun = Tunables::default();
    let sf = SurfaceFlux {
        hs: 100.0,
        dhsdt: 0.0,
    };
    let c = conduct(&mut l, &p, &tun, snow.scv, sf, DT);
    let pc = melt_freeze(&mut l, &c, sf, &mut snow, DT);
    // At most the surface input melts (0.54 mm < 1 mm of snow); part is conducted down.
    let melt = pc.sm * DT;
    assert!(melt > 0.1 && melt < 100.0 * DT / HFUS);
    assert!((snow.scv + melt - 1.0).abs() < 1e-14, "snow mass");
    assert!(
        (snow.snowdp - 0.005 * snow.scv).abs() < 1e-15,
        "depth in proportion"
    );
    assert!((pc.xmf - HFUS * pc.sm).abs() < 1e-9, "no soil ice to melt");
    assert_eq!(l.t[soil(0)], TFRZ);
    assert!(energy_residual(&l, &c, sf, pc.xmf).abs() < 1e-9);
}

/// Snow layers on top: Jordan conductivity, snow capacity, conservation on the −4..10 range.
#[test]
fn snow_layers_conduct_and_conserve() {
    let g = SoilGeometry::standard();
    let p = sicl();
    let mut l = Layers::soil_only(
        &g,
        &[272.0; NSOIL],
        &[0.0; NSOIL],
        &wet(&g, 0.3).map(|w| w * 0.917),
    );
    l.set_snow(&[0.03, 0.06], &[262.0, 266.0], &[0.0, 0.0], &[6.0, 15.0]);
    assert_eq!(l.top(), 3);
    assert!((l.zi[3] + 0.09).abs() < 1e-15 && l.zi[5] == 0.0);
    let mut snow = ThinSnow::default();
    for k in 0..500 {
        let sf = SurfaceFlux {
            hs: 30.0 * ((k as f64) / 8.0).sin(),
            dhsdt: -6.0,
        };
        let (res, _) = step(&mut l, &p, sf, &mut snow);
        assert!(res.abs() < 1e-6, "step {k}: {res:e}");
    }
    assert!(l.t[3] < TFRZ && l.t[3] > 240.0);
}
