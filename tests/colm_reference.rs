//! CoLM pieces against the Bondville 1998 reference of the CoLM2014 Fortran
//! (../shared/data/colm-bondville): geometry, parameters and initial state as the physics
//! received them, volumetric water as the reference computes it, and the aquifer routine
//! step by step over the year. (The reference is a full vegetated column: a whole-column
//! comparison needs the canopy and is not made here.)
#![allow(clippy::needless_range_loop)]

mod colm_common;
use colm_common::Table;

use landcycle::lsm::colm::constants::NSOIL;
use landcycle::lsm::colm::groundwater;
use landcycle::lsm::colm::hydraulics::column_water;
use landcycle::lsm::colm::layers::initial_from_profile;
use landcycle::lsm::colm::water::SoilWater;
use landcycle::lsm::colm::{parse_params, ParamsListing, SoilGeometry};

fn listing() -> Option<ParamsListing> {
    let dir = landcycle::testdata::require("colm-bondville")?;
    let text = std::fs::read_to_string(dir.join("params_bondville.txt")).unwrap();
    Some(parse_params(&text).unwrap())
}

type Reference = Table;

fn reference() -> Option<Reference> {
    Table::read("colm-bondville", "colm_ref_bondville_1998.csv.xz")
}

#[test]
fn geometry_matches_the_reference_layers() {
    let Some(l) = listing() else { return };
    let g = SoilGeometry::standard();
    for j in 0..NSOIL {
        for (ours, theirs, what) in [
            (g.z[j], l.geometry.z[j], "z"),
            (g.dz[j], l.geometry.dz[j], "dz"),
            (g.zi[j], l.geometry.zi[j], "zi"),
        ] {
            assert!(
                (ours - theirs).abs() <= 4e-16 * theirs,
                "{what}{}: {ours:e} vs {theirs:e}",
                j + 1
            );
        }
    }
}

#[test]
fn listed_parameters_are_the_documented_silty_clay_loam() {
    let Some(l) = listing() else { return };
    l.soil.validate().unwrap();
    for j in 0..NSOIL {
        assert!((l.soil.porsl[j] - 0.4687).abs() < 1e-4);
        assert!((l.soil.psi0[j] + 595.1).abs() < 0.05);
        assert!((l.soil.bsw[j] - 8.362).abs() < 1e-3);
        assert!((l.soil.hksati[j] - 1.1755e-3).abs() < 1e-7);
        assert!((l.soil.csol[j] - 2.330e6).abs() < 1e3);
        assert!(l.soil.dksatu[j] > 1.6155 && l.soil.dksatu[j] < 1.6215);
        assert!((l.soil.dkdry[j] - 0.1821).abs() < 1e-4);
        // The wilting point of COLM.md §7 (≈ 0.242).
        let wp = l.soil.wilting_point(j, -1.5e5);
        assert!((wp - 0.242).abs() < 1e-3, "wilting point {wp}");
    }
    assert_eq!(l.scalar("wtfact").unwrap(), 0.38);
    assert_eq!(l.scalar("pondmx").unwrap(), 10.0);
    assert_eq!(l.scalar("initial_wa").unwrap(), 4800.0);
    assert_eq!(l.raw.len(), 8);
}

#[test]
fn initial_state_from_the_noah_profile_matches_the_reference() {
    let Some(l) = listing() else { return };
    let g = SoilGeometry::standard();
    // case_bondville.nml: src_zbot, src_t, src_w.
    let (t, wliq, wice) = initial_from_profile(
        &g,
        &[0.1, 0.4, 1.0, 2.0],
        &[266.0995, 274.0445, 276.8954, 279.9152],
        &[0.2981597, 0.2940254, 0.2713114, 0.3070948],
    );
    for j in 0..NSOIL {
        assert!((t[j] - l.t0[j]).abs() < 1e-12, "T{}", j + 1);
        assert!(
            (wliq[j] - l.wliq0[j]).abs() <= 1e-13 * l.wliq0[j].max(1.0),
            "wliq{}",
            j + 1
        );
        assert!(
            (wice[j] - l.wice0[j]).abs() <= 1e-13 * l.wice0[j].max(1.0),
            "wice{}",
            j + 1
        );
    }
    let zwt = g.depth() + 1.0;
    assert!((zwt - l.scalar("initial_zwt").unwrap()).abs() < 1e-14);
}

/// h2osoi = wliq/(1000 dz) + wice/(917 dz) on every row and layer, to the 9 printed digits.
#[test]
fn volumetric_water_of_every_reference_row() {
    let Some(r) = reference() else { return };
    let g = SoilGeometry::standard();
    let (h0, l0, i0) = (r.col("h2osoi1"), r.col("wliq1"), r.col("wice1"));
    let mut worst = 0.0f64;
    for row in &r.rows {
        let st = SoilWater {
            wliq: std::array::from_fn(|j| row[l0 + j]),
            wice: std::array::from_fn(|j| row[i0 + j]),
            zwt: 0.0,
            wa: 0.0,
        };
        let h = st.h2osoi(&g);
        for j in 0..NSOIL {
            let d = (h[j] - row[h0 + j]).abs() / row[h0 + j];
            worst = worst.max(d);
        }
    }
    assert_eq!(r.rows.len(), 17520);
    assert!(worst < 2e-8, "worst relative difference {worst:e}");
}

/// The aquifer step from each reference row's water table and store with the next row's
/// recharge reproduces the next row's water table, store and drainage.
#[test]
fn aquifer_steps_follow_the_reference_year() {
    let (Some(r), Some(l)) = (reference(), listing()) else {
        return;
    };
    let g = SoilGeometry::standard();
    let tun = landcycle::lsm::colm::Tunables::default();
    let (czwt, cwa, cq, crnof, crsur) = (
        r.col("zwt_m"),
        r.col("wa_mm"),
        r.col("qcharge_mm_s"),
        r.col("rnof_mm_s"),
        r.col("rsur_mm_s"),
    );
    let (l0, i0) = (r.col("wliq1"), r.col("wice1"));
    let (mut dz_max, mut dwa_max, mut drain_max) = (0.0f64, 0.0f64, 0.0f64);
    let mut start = (
        l.scalar("initial_zwt").unwrap(),
        l.scalar("initial_wa").unwrap(),
    );
    for row in &r.rows {
        // The step's end state is within the pore space, so the corrections add nothing.
        let mut wliq: [f64; NSOIL] = std::array::from_fn(|j| row[l0 + j]);
        let wice: [f64; NSOIL] = std::array::from_fn(|j| row[i0 + j]);
        let w = column_water(&l.soil, &g.dz, &wliq, &wice);
        let (mut zwt, mut wa) = start;
        let d = groundwater::step(
            &l.soil, &g, &w, row[cq], tun.pondmx, 1800.0, &mut wliq, &wice, &mut zwt, &mut wa,
        );
        dz_max = dz_max.max((zwt - row[czwt]).abs());
        dwa_max = dwa_max.max((wa - row[cwa]).abs());
        // rnof − rsur carries the printing error of both (9 significant digits).
        let printed = 5e-9 * (row[crnof].abs() + row[crsur].abs());
        drain_max = drain_max
            .max(((d.rsubst - (row[crnof] - row[crsur])).abs() - printed).max(0.0) / d.rsubst);
        start = (row[czwt], row[cwa]);
    }
    eprintln!(
        "aquifer vs reference: zwt {dz_max:e} m, wa {dwa_max:e} mm, drainage rel {drain_max:e}"
    );
    // Printed to 9 significant digits: 4.4e-9 m, 5e-6 mm; drainage beyond printing error.
    assert!(dz_max < 2e-8, "zwt {dz_max:e}");
    assert!(dwa_max < 2e-5, "wa {dwa_max:e}");
    assert!(drain_max < 1e-7, "drainage {drain_max:e}");
}

/// Summer steps of the reference (all soil above freezing, no snow, evaporation rather than
/// dew): from the previous row's state, with the step's infiltration + surface runoff as the
/// water reaching the soil, its transpiration and root weights from `root_uptake`, the soil
/// water step reproduces the row's liquid water per layer, runoff, water table and aquifer.
/// The stress factor reproduces the reference's rstfac.
#[test]
fn summer_soil_water_steps_follow_the_reference() {
    use landcycle::lsm::colm::constants::TFRZ;
    use landcycle::lsm::colm::root_uptake::root_uptake;
    use landcycle::lsm::colm::water::{self, WaterInput};
    let (Some(r), Some(l)) = (reference(), listing()) else {
        return;
    };
    let g = SoilGeometry::standard();
    let tun = landcycle::lsm::colm::Tunables::default();
    let c = |n: &str| r.col(n);
    let (ct, cl, ci) = (c("tsoi1_K"), c("wliq1"), c("wice1"));
    let (mut n, mut dw, mut drsur, mut drnof, mut dzwt, mut dwa, mut drst) =
        (0, 0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for k in 1..r.rows.len() {
        let (prev, row) = (&r.rows[k - 1], &r.rows[k]);
        let warm = (0..NSOIL).all(|j| prev[ct + j] > TFRZ + 0.5 && row[ct + j] > TFRZ + 0.5);
        let snowless = prev[c("scv_mm")] == 0.0 && row[c("scv_mm")] == 0.0 && row[c("snl")] == 0.0;
        if !(warm && snowless && row[c("fevpg_mm_s")] >= 0.0) {
            continue;
        }
        let t: [f64; NSOIL] = std::array::from_fn(|j| prev[ct + j]);
        let mut st = SoilWater {
            wliq: std::array::from_fn(|j| prev[cl + j]),
            wice: std::array::from_fn(|j| prev[ci + j]),
            zwt: prev[c("zwt_m")],
            wa: prev[c("wa_mm")],
        };
        let ru = root_uptake(&l.soil, &l.rootfr, &g.dz, &t, &st.wliq, tun.trsmx0);
        drst = drst.max((ru.rstfac - row[c("rstfac")]).abs());
        let t_now: [f64; NSOIL] = std::array::from_fn(|j| row[ct + j]);
        let inp = WaterInput {
            gwat: row[c("qinfl_mm_s")] + row[c("rsur_mm_s")],
            qsdew: 0.0,
            qfros: 0.0,
            qsubl: 0.0,
            etr: row[c("etr_mm_s")],
            rootr: &ru.rootr,
        };
        let f = water::step(&l.soil, &g, &tun, &mut st, &t_now, &inp, 1800.0);
        assert!(f.balance_error.abs() < 1e-9);
        for j in 0..NSOIL {
            dw = dw.max((st.wliq[j] - row[cl + j]).abs());
        }
        drsur = drsur.max((f.rsur - row[c("rsur_mm_s")]).abs());
        drnof = drnof.max((f.rnof - row[c("rnof_mm_s")]).abs());
        dzwt = dzwt.max((st.zwt - row[c("zwt_m")]).abs());
        dwa = dwa.max((st.wa - row[c("wa_mm")]).abs());
        n += 1;
    }
    eprintln!(
        "{n} summer steps: wliq {dw:e} kg m-2, rsur {drsur:e}, rnof {drnof:e} mm s-1, zwt {dzwt:e} m, wa {dwa:e} mm, rstfac {drst:e}"
    );
    assert!(n > 3000, "only {n} summer steps");
    // Inputs and outputs are printed to 9 significant digits (w_liq up to ~350 kg m-2).
    assert!(dw < 5e-6, "wliq {dw:e}");
    assert!(drsur < 1e-10 && drnof < 1e-9, "runoff {drsur:e} {drnof:e}");
    assert!(dzwt < 5e-8 && dwa < 5e-5, "aquifer {dzwt:e} {dwa:e}");
    assert!(drst < 5e-8, "rstfac {drst:e}");
}

/// Warm, snow-free, ice-free steps of the reference: from the previous row's temperatures
/// and water, with the step's ground heat flux (fgrnd, the linearised surface flux at the new
/// temperature) as the surface input, the conduction solve reproduces the row's temperatures
/// in all layers. On 3 night steps of 10,303 the reference's own storage change differs from
/// its fgrnd by about 2 W m-2: canopy water above the storage capacity drips as snow from
/// frozen leaves (T_sunlit ≤ T_f) and melts on the warm ground within the step, a phase-change
/// term outside fgrnd (the step is checked whole in tests/colm_energy.rs). Only such steps
/// may differ.
#[test]
fn warm_heat_steps_follow_the_reference() {
    use landcycle::lsm::colm::constants::TFRZ;
    use landcycle::lsm::colm::heat::{conduct, SurfaceFlux};
    use landcycle::lsm::colm::layers::{soil, Layers};
    let (Some(r), Some(l)) = (reference(), listing()) else {
        return;
    };
    let g = SoilGeometry::standard();
    let tun = landcycle::lsm::colm::Tunables::default();
    let c = |n: &str| r.col(n);
    let (ct, cl, ci) = (c("tsoi1_K"), c("wliq1"), c("wice1"));
    let (mut n, mut outliers, mut worst) = (0, 0, 0.0f64);
    for k in 1..r.rows.len() {
        let (prev, row) = (&r.rows[k - 1], &r.rows[k]);
        // Well above freezing (no snowfall melting within the step, tcrit 2.5 K), no snow, no ice.
        let warm = (0..NSOIL).all(|j| prev[ct + j] > TFRZ + 5.0 && row[ct + j] > TFRZ + 5.0);
        let snowless = prev[c("scv_mm")] == 0.0 && row[c("scv_mm")] == 0.0;
        let ice_free = (0..NSOIL).all(|j| prev[ci + j] == 0.0 && row[ci + j] == 0.0);
        if !(warm && snowless && ice_free) {
            continue;
        }
        let t: [f64; NSOIL] = std::array::from_fn(|j| prev[ct + j]);
        let wliq: [f64; NSOIL] = std::array::from_fn(|j| prev[cl + j]);
        let mut lay = Layers::soil_only(&g, &t, &wliq, &[0.0; NSOIL]);
        let sf = SurfaceFlux {
            hs: row[c("fgrnd_W_m2")],
            dhsdt: 0.0,
        };
        conduct(&mut lay, &l.soil, &tun, 0.0, sf, 1800.0);
        let err = (0..NSOIL)
            .map(|j| (lay.t[soil(j)] - row[ct + j]).abs())
            .fold(0.0, f64::max);
        let capacity = 0.1 * prev[c("sigf")] * (prev[c("lai")] + prev[c("sai")]);
        let snow_drip = prev[c("ldew_mm")] > capacity && prev[c("tlsun_K")] <= TFRZ;
        if err > 1e-5 {
            assert!(snow_drip, "row {}: soil T off by {err} K", k + 1);
            outliers += 1;
        } else {
            worst = worst.max(err);
        }
        n += 1;
    }
    eprintln!("{n} warm steps: soil T within {worst:e} K on all but {outliers}");
    assert!(n > 10000, "only {n} warm steps");
    assert!(outliers <= 3, "{outliers} steps differ by more than 1e-5 K");
}
