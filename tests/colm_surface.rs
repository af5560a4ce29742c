//! CoLM bare-ground surface layer and ground fluxes (stage 3 of COLM.md §8): neutral limit,
//! stability ordering, flux–derivative consistency, and a bare-ground energy balance closed
//! through the heat solve.
#![allow(clippy::needless_range_loop)]

use landcycle::lsm::colm::constants::{DENH2O, HVAP, NLAYER, VONKAR};
use landcycle::lsm::colm::ground_fluxes::{ground_fluxes, GroundFluxInput};
use landcycle::lsm::colm::heat::{conduct, energy_residual, ground_surface_flux};
use landcycle::lsm::colm::layers::Layers;
use landcycle::lsm::colm::phase_change::{melt_freeze, ThinSnow};
use landcycle::lsm::colm::{SoilGeometry, SoilParams, Tunables, NSOIL};

fn input(t_air: f64, t_grnd: f64, wind: f64) -> GroundFluxInput {
    let thm = t_air + 0.0098 * 6.0;
    GroundFluxInput {
        hu: 6.0,
        ht: 6.0,
        hq: 6.0,
        us: wind,
        vs: 0.0,
        ur: wind,
        qm: 0.005,
        rhoair: 1.2,
        thm,
        th: thm,
        thv: thm * (1.0 + 0.61 * 0.005),
        t_grnd,
        qg: 0.005,
        dqgdt: 3.5e-4,
        htvp: HVAP,
        fsno: 0.0,
        sigf: 0.0,
    }
}

#[test]
fn neutral_air_gives_the_log_law_and_no_fluxes() {
    let t = 285.0;
    let mut inp = input(t, t + 0.0098 * 6.0, 4.0);
    inp.t_grnd = inp.thm;
    let f = ground_fluxes(&inp, 0.01, 0.0024);
    assert_eq!(f.fseng, 0.0);
    assert_eq!(f.fevpg, 0.0);
    let ustar = VONKAR * 4.0 / (6.0f64 / 0.01).ln();
    assert!(
        (f.surface.ustar - ustar).abs() < 1e-5 * ustar,
        "{} vs {ustar}",
        f.surface.ustar
    );
    assert!(
        (f.taux + 1.2 * f.surface.ustar * f.surface.ustar).abs() < 1e-12,
        "τ = −ρ u*²"
    );
}

#[test]
fn fluxes_equal_derivative_times_difference() {
    for (tg, qg) in [(295.0, 0.012), (275.0, 0.003), (285.3, 0.0051)] {
        let mut inp = input(285.0, tg, 3.0);
        inp.qg = qg;
        let f = ground_fluxes(&inp, 0.01, 0.0024);
        assert!((f.fseng - f.cgrnds * (tg - inp.thm)).abs() < 1e-12 * f.fseng.abs().max(1.0));
        assert!((f.fevpg - f.cgrndl / inp.dqgdt * (qg - inp.qm)).abs() < 1e-15);
        assert!((f.cgrnd - (f.cgrnds + HVAP * f.cgrndl)).abs() < 1e-12);
        assert_eq!(
            f.fseng > 0.0,
            tg > inp.thm,
            "sensible heat leaves a warmer ground"
        );
    }
}

#[test]
fn instability_raises_and_stability_lowers_the_exchange() {
    let thm = 285.0 + 0.0098 * 6.0;
    let c = |tg: f64| ground_fluxes(&input(285.0, tg, 2.0), 0.01, 0.0024).cgrnds;
    let (unstable, neutral, stable) = (c(thm + 8.0), c(thm), c(thm - 8.0));
    assert!(
        unstable > 1.2 * neutral && neutral > 1.2 * stable,
        "{unstable} {neutral} {stable}"
    );
    // Free convection: exchange continues without wind.
    let calm = ground_fluxes(&input(285.0, thm + 10.0, 0.0), 0.01, 0.0024);
    assert!(calm.fseng > 5.0 && calm.surface.zol < 0.0);
    // Snow roughness lowers u*; the vegetated fraction scales the fluxes.
    let mut snow = input(270.0, 268.0, 3.0);
    let bare = ground_fluxes(&snow, 0.01, 0.0024);
    snow.fsno = 1.0;
    assert!(ground_fluxes(&snow, 0.01, 0.0024).surface.ustar < bare.surface.ustar);
    snow.fsno = 0.0;
    snow.sigf = 0.5;
    let half = ground_fluxes(&snow, 0.01, 0.0024);
    assert!((half.fseng - 0.5 * bare.fseng).abs() < 1e-12 * bare.fseng.abs());
}

/// A bare-soil day: fluxes from the previous temperature, heat solve with the linearised
/// balance, fluxes corrected by ΔT times their derivatives; the surface energy balance closes.
#[test]
fn bare_ground_energy_balance_closes() {
    let g = SoilGeometry::standard();
    let p = SoilParams::uniform(0.4687, -595.1, 8.362, 1.1755e-3, 2.33e6, 1.6157, 0.18212);
    let wl: [f64; NSOIL] = std::array::from_fn(|j| 0.3 * g.dz[j] * DENH2O);
    let mut l = Layers::soil_only(&g, &[283.0; NSOIL], &wl, &[0.0; NSOIL]);
    let tun = Tunables::default();
    let mut snow = ThinSnow::default();
    let (emg, frl) = (0.96, 320.0);
    for k in 0..96 {
        let hour = (k as f64) * 0.5;
        let sabg = (700.0 * (std::f64::consts::PI * (hour - 6.0) / 12.0).sin()).max(0.0);
        let t_air = 285.0 + 5.0 * (std::f64::consts::PI * (hour - 9.0) / 12.0).sin();
        let tg = l.t[l.top()];
        let mut inp = input(t_air, tg, 3.0);
        inp.qg = 0.004 + 3.5e-4 * (tg - 280.0);
        let f = ground_fluxes(&inp, tun.zlnd, tun.zsno);
        let sf = ground_surface_flux(
            sabg, 0.0, frl, 0.0, emg, tg, f.fseng, f.fevpg, HVAP, f.cgrnd,
        );
        let c = conduct(&mut l, &p, &tun, 0.0, sf, 1800.0);
        let pc = melt_freeze(&mut l, &c, sf, &mut snow, 1800.0);
        let dt = l.t[l.top()] - tg;
        // Corrected fluxes and the linearised emission at the new temperature.
        let fseng = f.fseng + f.cgrnds * dt;
        let fevpg = f.fevpg + f.cgrndl * dt;
        let olrg = emg * 5.67e-8 * tg.powi(4) + 4.0 * emg * 5.67e-8 * tg.powi(3) * dt;
        let storage: f64 = (l.top()..NLAYER)
            .map(|i| (l.t[i] - c.t_bef[i]) / c.fact[i])
            .sum();
        let closure = sabg + emg * frl - olrg - fseng - HVAP * fevpg - storage - pc.xmf;
        assert!(closure.abs() < 1e-6, "step {k}: {closure:e} W m-2");
        assert!(energy_residual(&l, &c, sf, pc.xmf).abs() < 1e-6);
    }
    assert!(l.t[l.top()] > 270.0 && l.t[l.top()] < 320.0);
}
