//! CoLM soil hydrology with prescribed surface fluxes (stage 1 of COLM.md §8): water
//! conservation, analytic flow limits, saturation, ponding, the aquifer.
#![allow(clippy::needless_range_loop)]

use landcycle::lsm::colm::constants::{DENH2O, TFRZ};
use landcycle::lsm::colm::groundwater::{self, layers_above_table, specific_yield};
use landcycle::lsm::colm::hydraulics::{column_water, conductivity, layer_water};
use landcycle::lsm::colm::richards::{self, RichardsInput};
use landcycle::lsm::colm::water::{self, SoilWater, WaterInput};
use landcycle::lsm::colm::{SoilGeometry, SoilParams, Tunables, NSOIL};

const DT: f64 = 1800.0;

/// Bondville's silty clay loam (COLM.md §10).
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

fn column(g: &SoilGeometry, theta: f64) -> SoilWater {
    SoilWater {
        wliq: std::array::from_fn(|j| theta * g.dz[j] * DENH2O),
        wice: [0.0; NSOIL],
        zwt: g.depth() + 1.0,
        wa: 4800.0,
    }
}

fn roots() -> [f64; NSOIL] {
    let r = [
        0.0104, 0.0457, 0.12, 0.2165, 0.2501, 0.1845, 0.0983, 0.044, 0.0183, 0.0122,
    ];
    let s: f64 = r.iter().sum();
    r.map(|x| x / s)
}

/// A year-like sequence of storms, dry spells, dew and frost, with the top layers frozen for
/// a while: every step's storage change equals its net input to 1e-9 mm s-1.
#[test]
fn water_is_conserved_every_step() {
    let g = SoilGeometry::standard();
    let p = sicl();
    let tun = Tunables::default();
    let mut st = column(&g, 0.30);
    // Top three layers start frozen, as at Bondville on 1 January.
    for j in 0..3 {
        st.wice[j] = st.wliq[j];
        st.wliq[j] = 0.0;
    }
    let rootr = roots();
    let mut worst = 0.0f64;
    let (mut total_rsur, mut total_rsub) = (0.0, 0.0);
    for k in 0..4000 {
        let frozen = k < 600;
        let t_soil: [f64; NSOIL] =
            std::array::from_fn(|j| if frozen && j < 3 { TFRZ - 3.0 } else { 285.0 });
        if k == 600 {
            for j in 0..3 {
                st.wliq[j] += st.wice[j];
                st.wice[j] = 0.0;
            }
        }
        // Storms of 2–15 mm h-1 every 97 steps for 10 steps; evaporation and transpiration else.
        let storm = k % 97 < 10;
        let rain = if storm {
            (2.0 + (k % 13) as f64) / 3600.0
        } else {
            0.0
        };
        let evap = if storm {
            0.0
        } else {
            2e-5 * (1.0 + ((k % 48) as f64 / 8.0).sin()).max(0.0)
        };
        // CoLM limits soil evaporation to the top layer's liquid water.
        let evap = evap.min(st.wliq[0] / DT);
        let etr = if storm || frozen { 0.0 } else { 4e-5 };
        let inp = WaterInput {
            gwat: rain - evap,
            qsdew: if k % 48 == 5 { 1e-6 } else { 0.0 },
            qfros: if frozen && k % 48 == 7 { 2e-6 } else { 0.0 },
            qsubl: if frozen && k % 48 == 30 { 1e-6 } else { 0.0 },
            etr,
            rootr: &rootr,
        };
        let before = st.storage();
        let f = water::step(&p, &g, &tun, &mut st, &t_soil, &inp, DT);
        // Independent bookkeeping of the same balance.
        let net = inp.gwat + inp.qsdew + inp.qfros - inp.qsubl - inp.etr - f.rnof;
        let err = (st.storage() - before) / DT - net;
        assert_eq!(f.repair, 0.0, "step {k}: clipping added water");
        assert!(
            err.abs() < 1e-9,
            "step {k}: water balance error {err:e} mm/s"
        );
        assert!((f.balance_error - err).abs() < 1e-12);
        worst = worst.max(err.abs());
        total_rsur += f.rsur * DT;
        total_rsub += f.rsub * DT;
        for j in 0..NSOIL {
            assert!(st.wliq[j] >= 0.0 && st.wice[j] >= 0.0);
        }
    }
    eprintln!("worst water balance error {worst:e} mm/s; runoff {total_rsur:.2} mm surface, {total_rsub:.4} mm drainage");
    assert!(total_rsur > 1.0, "the storms must produce surface runoff");
}

/// Uniform wetness with infiltration equal to K(θ): unit-gradient flow, the column does not
/// change and the aquifer receives exactly K(θ).
#[test]
fn steady_gravity_drainage_is_exact() {
    let g = SoilGeometry::standard();
    let p = sicl();
    let tun = Tunables::default();
    let st = column(&g, 0.40);
    let w = column_water(&p, &g.dz, &st.wliq, &st.wice);
    let (k, _) = conductivity(&p, 0, w[0].vol_liq);
    let t = [290.0; NSOIL];
    let inp = RichardsInput {
        qinfl: k,
        etr: 0.0,
        rootr: &[0.1; NSOIL],
        t_soil: &t,
        water: &w,
    };
    let r = richards::solve(&p, &g, &inp, DT, tun.wimp, tun.smpmin);
    for j in 0..NSOIL {
        assert!(r.dwat[j].abs() < 1e-15, "layer {j}: {:e}", r.dwat[j]);
        assert!((r.q_new[j] - k).abs() < 1e-12 * k, "interface {j}");
    }
    assert!((r.qcharge - k).abs() < 1e-12 * k);
}

/// Hydrostatic equilibrium (ψ − z constant) above a free-draining bottom: no flow between
/// the upper layers; only the bottom layer loses its gravity drainage.
#[test]
fn hydrostatic_column_only_drains_at_the_bottom() {
    let g = SoilGeometry::standard();
    let p = sicl();
    let tun = Tunables::default();
    let psi_top = p.psi0[0] - 5000.0;
    let mut st = column(&g, 0.0);
    for j in 0..NSOIL {
        let psi = psi_top + (g.z[j] - g.z[0]) * 1000.0;
        let theta = p.porsl[j] * (psi / p.psi0[j]).powf(-1.0 / p.bsw[j]);
        st.wliq[j] = theta * g.dz[j] * DENH2O;
    }
    let w = column_water(&p, &g.dz, &st.wliq, &st.wice);
    let t = [290.0; NSOIL];
    let inp = RichardsInput {
        qinfl: 0.0,
        etr: 0.0,
        rootr: &[0.1; NSOIL],
        t_soil: &t,
        water: &w,
    };
    let r = richards::solve(&p, &g, &inp, DT, tun.wimp, tun.smpmin);
    let (k10, _) = conductivity(&p, NSOIL - 1, w[NSOIL - 1].vol_liq);
    // The implicit solve spreads the bottom's loss upward, decaying layer by layer.
    for j in 0..6 {
        assert!(r.dwat[j].abs() < 1e-12, "layer {j} moved: {:e}", r.dwat[j]);
    }
    for j in 0..NSOIL - 1 {
        assert!(r.dwat[j].abs() <= r.dwat[j + 1].abs() + 1e-15, "layer {j}");
    }
    let lost: f64 = (0..NSOIL).map(|j| -r.dwat[j] * g.dz[j] * 1000.0).sum();
    assert!(
        (lost - r.qcharge * DT).abs() < 1e-12,
        "column loss = recharge"
    );
    assert!(r.qcharge > 0.0 && r.qcharge <= k10 * 1.0000001);
}

/// A saturated column with the water table at the surface under rain above K_sat: surface
/// runoff follows the moving saturated fraction, no layer exceeds its pore space (the top
/// its pore space plus pondmx), water conserved.
#[test]
fn saturated_column_under_rain_stays_within_its_pores() {
    let g = SoilGeometry::standard();
    let p = sicl();
    let tun = Tunables::default();
    let mut st = column(&g, p.porsl[0]);
    st.zwt = 0.0; // water table at the surface
    let t = [290.0; NSOIL];
    let rootr = roots();
    let rain = 3.0e-3; // 10.8 mm/h, above K_sat (4.2 mm/h)
    let inp = WaterInput {
        gwat: rain,
        qsdew: 0.0,
        qfros: 0.0,
        qsubl: 0.0,
        etr: 0.0,
        rootr: &rootr,
    };
    for step in 0..20 {
        let fsat = tun.wtfact * (-0.25 * st.zwt).exp();
        let f = water::step(&p, &g, &tun, &mut st, &t, &inp, DT);
        assert!(f.balance_error.abs() < 1e-9);
        // Saturated fraction plus the excess over K_sat elsewhere.
        let want = fsat * rain + (1.0 - fsat) * (rain - p.hksati[0]);
        assert!(
            (f.rsur - want).abs() < 1e-15,
            "step {step}: rsur {}",
            f.rsur
        );
        for j in 1..NSOIL {
            assert!(st.wliq[j] <= p.porsl[j] * g.dz[j] * 1000.0 * (1.0 + 1e-12));
        }
        let top_cap = tun.pondmx + p.porsl[0] * g.dz[0] * 1000.0;
        assert!(st.wliq[0] <= top_cap * (1.0 + 1e-12));
    }
}

/// Water above saturation moves up layer by layer; the top layer keeps at most `pondmx`
/// above its pore space and the rest leaves with the drainage.
#[test]
fn excess_water_moves_up_and_overflows_the_pond() {
    let g = SoilGeometry::standard();
    let p = sicl();
    let mut st = column(&g, p.porsl[0]);
    st.wliq[5] += 30.0;
    let w = column_water(&p, &g.dz, &st.wliq, &st.wice);
    let zwt = st.zwt;
    let d = groundwater::step(
        &p,
        &g,
        &w,
        0.0,
        10.0,
        DT,
        &mut st.wliq,
        &st.wice,
        &mut st.zwt,
        &mut st.wa,
    );
    for j in 1..NSOIL {
        assert!(
            (st.wliq[j] - p.porsl[j] * g.dz[j] * 1000.0).abs() < 1e-12,
            "layer {j}"
        );
    }
    assert!((st.wliq[0] - (10.0 + p.porsl[0] * g.dz[0] * 1000.0)).abs() < 1e-12);
    let drainage = 5.5e-3 * (-2.5 * zwt).exp();
    assert!((d.rsubst - (drainage + 20.0 / DT)).abs() < 1e-15);
}

/// Recharge below the column moves the water table by q Δt/S_y, and drainage follows
/// 5.5e-3 exp(−2.5 z_wt) mm s-1 (no ice).
#[test]
fn aquifer_and_water_table_follow_simtop() {
    let g = SoilGeometry::standard();
    let p = sicl();
    let mut st = column(&g, 0.35);
    let w = column_water(&p, &g.dz, &st.wliq, &st.wice);
    let zwt0 = 5.0;
    st.zwt = zwt0;
    assert_eq!(layers_above_table(&g, zwt0), NSOIL);
    let q = 1e-4;
    let sy = specific_yield(&p, NSOIL - 1, zwt0);
    let d = groundwater::step(
        &p,
        &g,
        &w,
        q,
        10.0,
        DT,
        &mut st.wliq,
        &st.wice,
        &mut st.zwt,
        &mut st.wa,
    );
    let z1 = zwt0 - q * DT / 1000.0 / sy;
    let drain = 5.5e-3 * (-2.5 * z1).exp();
    assert!((d.rsubst - drain).abs() < 1e-18);
    assert!((st.zwt - (z1 + drain * DT / 1000.0 / sy)).abs() < 1e-14);
    assert!((st.wa - (4800.0 + (q - drain) * DT)).abs() < 1e-10);
    // Water table inside the column: drainage takes water from the saturated layers.
    let mut st2 = column(&g, 0.35);
    for j in 6..NSOIL {
        st2.wliq[j] = p.porsl[j] * g.dz[j] * 1000.0;
    }
    st2.zwt = g.zi[5];
    let w2 = column_water(&p, &g.dz, &st2.wliq, &st2.wice);
    let before = st2.storage();
    let d2 = groundwater::step(
        &p,
        &g,
        &w2,
        0.0,
        10.0,
        DT,
        &mut st2.wliq,
        &st2.wice,
        &mut st2.zwt,
        &mut st2.wa,
    );
    assert!((before - st2.storage() - d2.rsubst * DT).abs() < 1e-9);
    assert!(st2.zwt > g.zi[5], "the table falls as the layers drain");
    assert!(st2.wliq[6] < p.porsl[6] * g.dz[6] * 1000.0);
}

/// Ice in the top layers cuts infiltration (10^(−6 f_ice) K_sat) and raises surface runoff.
#[test]
fn frozen_top_layers_impede_infiltration() {
    let g = SoilGeometry::standard();
    let p = sicl();
    let rain = 1.0e-3; // below K_sat
    let mut runoff = Vec::new();
    for frozen in [false, true] {
        let mut st = column(&g, 0.30);
        if frozen {
            st.wice[0] = 0.2 * g.dz[0] * 917.0;
        }
        let w = column_water(&p, &g.dz, &st.wliq, &st.wice);
        let fsat = 0.38 * (-0.25 * st.zwt).exp();
        let qmax = 10f64.powf(-6.0 * w[0].icefrac) * p.hksati[0];
        let r = landcycle::lsm::colm::runoff::surface_runoff(&p, &w, 0.38, 0.05, st.zwt, rain);
        assert!((r - (fsat * rain + (1.0 - fsat) * (rain - qmax).max(0.0))).abs() < 1e-18);
        runoff.push(r);
    }
    assert!(runoff[1] > 2.0 * runoff[0]);
    let lw = layer_water(0.4687, 0.0175, 0.0, 0.2 * 0.0175 * 917.0);
    assert!((lw.icefrac - 0.2 / 0.4687).abs() < 1e-12);
}
