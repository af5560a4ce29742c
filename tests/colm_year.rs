//! The whole column, free-running over the Bondville 1998 year from the reference's cold start
//! (`column_step::step`), against the CoLM2014 Fortran reference row by row: every step's
//! energy and water balance, and the achieved max/rms differences per quantity (printed; the
//! bounds asserted are the achieved ones with a margin, not the acceptance values).
#![allow(clippy::needless_range_loop)]

mod colm_common;
use colm_common::{Stat, Table};

use landcycle::lsm::colm::column_step::{initial_state, step, Clock, Column, Forcing};
use landcycle::lsm::colm::constants::NSOIL;
use landcycle::lsm::colm::energy_balance::ColumnParams;
use landcycle::lsm::colm::ground_albedo::SoilAlbedo;
use landcycle::lsm::colm::layers::soil;
use landcycle::lsm::colm::vegetation_usgs::usgs;
use landcycle::lsm::colm::zenith::calendar_day;
use landcycle::lsm::colm::{parse_params, Tunables};

const DT: f64 = 1800.0;
/// Seconds after 1998-01-01 00:00 UTC at which the first step starts.
const START: u32 = 23400;

/// Calendar day (UTC) at `secs` after the start of 1998, with CoLM's convention that
/// midnight is second 86400 of the ending day; 1998 and 1999 have 365 days.
fn calday(secs: u32) -> f64 {
    let day = (secs - 1) / 86400;
    let sec = secs - day * 86400;
    calendar_day(day % 365 + 1, sec)
}

#[test]
fn bondville_year_against_the_reference() {
    let Some(r) = Table::read("colm-bondville", "colm_ref_bondville_1998.csv.xz") else {
        return;
    };
    let f = Table::read("noah-bondville", "forcing_as_used.csv.xz").unwrap();
    let dir = landcycle::testdata::require("colm-bondville").unwrap();
    let text = std::fs::read_to_string(dir.join("params_bondville.txt")).unwrap();
    let l = parse_params(&text).unwrap();
    let line = text.lines().find(|t| t.starts_with("soil albedo")).unwrap();
    let a: Vec<f64> = line
        .split('=')
        .nth(1)
        .unwrap()
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    let (tun, veg) = (Tunables::default(), usgs(2).unwrap());
    let col = Column {
        params: ColumnParams {
            soil: &l.soil,
            rootfr: &l.rootfr,
            veg: &veg,
            tun: &tun,
        },
        geometry: &l.geometry,
        soil_albedo: SoilAlbedo {
            sat: [a[0], a[2]],
            dry: [a[1], a[3]],
        },
        class: 2,
        lat: 40.01f64.to_radians(),
        lon: (-88.37f64).to_radians(),
        height: 6.0,
        co2: 398.03e-6,
    };
    let s = |n: &str| l.scalar(n).unwrap();
    let init = (
        s("initial_scv"),
        s("initial_snowdp"),
        s("initial_ldew"),
        s("initial_zwt"),
        s("initial_wa"),
    );
    let mut st = initial_state(&col, (&l.t0, &l.wliq0, &l.wice0), init, calday(START)).unwrap();
    let fc = |n: &str| f.col(n);
    let (ft, fq, fp, fl, fs, fr, fu) = (
        fc("SFCTMP_K"),
        fc("Q2_kg_kg"),
        fc("SFCPRS_Pa"),
        fc("LWDOWN_W_m2"),
        fc("SOLDN_W_m2"),
        fc("PRCP_kg_m2_s"),
        fc("SFCSPD_m_s"),
    );
    let c = |n: &str| r.col(n);
    let names = [
        "t_grnd_K",
        "trad_K",
        "tlsun_K",
        "tlsha_K",
        "fsena_W_m2",
        "lfevpa_W_m2",
        "fgrnd_W_m2",
        "scv_mm",
        "lai",
        "zwt_m",
        "coszen_next",
    ];
    let cols = names.map(c);
    let mut stats = [Stat::default(); 11];
    let (mut tsoi, mut h2o, mut wl, mut wi) = (
        Stat::default(),
        Stat::default(),
        Stat::default(),
        Stat::default(),
    );
    let (mut worst_e, mut worst_w) = (0.0f64, 0.0f64);
    let (mut et, mut ro, mut et_ref, mut ro_ref) = (0.0, 0.0, 0.0, 0.0);
    let g = l.geometry;
    for k in 0..r.rows.len() {
        let fr_ = &f.rows[k];
        let forcing = Forcing {
            t: fr_[ft],
            q: fr_[fq],
            psrf: fr_[fp],
            frl: fr_[fl],
            sw: fr_[fs],
            prcp: fr_[fr],
            wind: fr_[fu],
        };
        let end = START + (k as u32 + 1) * 1800;
        let clk = Clock {
            calday_end: calday(end),
            dolai: k == 0 || end % 86400 == 1800,
        };
        let out = step(&mut st, &col, &forcing, &clk, DT).unwrap();
        worst_e = worst_e.max(out.energy.errore.abs());
        worst_w = worst_w.max(out.water_error.abs());
        let row = &r.rows[k];
        let ly = &st.layers;
        let got = [
            ly.t[ly.top()],
            out.energy.trad,
            st.canopy.tlsun,
            st.canopy.tlsha,
            out.energy.fsena,
            out.energy.lfevpa,
            out.energy.fgrnd,
            st.snow.scv,
            st.lai,
            st.zwt,
            st.coszen,
        ];
        for i in 0..got.len() {
            stats[i].add(got[i] - row[cols[i]], k + 1);
        }
        for j in 0..NSOIL {
            let (liq, ice) = (ly.wliq[soil(j)], ly.wice[soil(j)]);
            tsoi.add(ly.t[soil(j)] - row[c(&format!("tsoi{}_K", j + 1))], k + 1);
            let th = liq / (1000.0 * g.dz[j]) + ice / (917.0 * g.dz[j]);
            h2o.add(th - row[c(&format!("h2osoi{}", j + 1))], k + 1);
            wl.add(liq - row[c(&format!("wliq{}", j + 1))], k + 1);
            wi.add(ice - row[c(&format!("wice{}", j + 1))], k + 1);
        }
        et += out.energy.fevpa * DT;
        ro += out.water.rnof * DT;
        et_ref += row[c("fevpa_mm_s")] * DT;
        ro_ref += row[c("rnof_mm_s")] * DT;
    }
    eprintln!("Bondville 1998, {} steps: worst energy residual {worst_e:e} W m-2, water {worst_w:e} mm s-1", r.rows.len());
    for (i, s) in stats.iter().enumerate() {
        eprintln!(
            "  {:12} max {:.3e} (row {}) rms {:.3e}",
            names[i],
            s.max,
            s.at,
            s.rms()
        );
    }
    for (n, s) in [
        ("tsoi", &tsoi),
        ("h2osoi", &h2o),
        ("wliq", &wl),
        ("wice", &wi),
    ] {
        eprintln!(
            "  {:12} max {:.3e} (row {}) rms {:.3e}",
            n,
            s.max,
            s.at,
            s.rms()
        );
    }
    eprintln!("  ET {et:.6} mm (reference {et_ref:.6}), runoff {ro:.6} mm (reference {ro_ref:.6})");
    assert!(worst_e < 1e-6, "energy residual {worst_e}");
    assert!(worst_w < 1e-9, "water residual {worst_w}");
    // The acceptance (3x the spread of two valid builds of the Fortran).
    for i in 0..4 {
        assert!(stats[i].max < 0.1, "{}: {}", names[i], stats[i].max);
    }
    for i in 4..7 {
        assert!(
            stats[i].max < 2.0 && stats[i].rms() < 0.03,
            "{}: {} {}",
            names[i],
            stats[i].max,
            stats[i].rms()
        );
    }
    assert!(stats[7].max < 1e-3, "SWE {}", stats[7].max);
    assert!(tsoi.max < 0.1 && tsoi.rms() < 1e-3);
    assert!(h2o.max < 1e-4 && h2o.rms() < 5e-6);
    assert!(wl.max < 1e-2 && wi.max < 1e-2 && wl.rms() < 2e-3 && wi.rms() < 2e-3);
    assert!((et - et_ref).abs() < 1e-3 * et_ref && (ro - ro_ref).abs() < 1e-3 * ro_ref);
    assert!(stats[10].max < 1e-7, "coszen {}", stats[10].max);
}

/// The same year made cold and snowy (air 12 K colder at the same relative humidity, 1.5 times
/// the precipitation) and, separately, under grassland (USGS 7): no reference exists for
/// these, so the checks are the per-step energy and water balances, states within their
/// physical bounds, and that the cold year really builds and melts a layered snowpack.
#[test]
fn cold_snowy_year_and_grassland_keep_their_balances() {
    use landcycle::lsm::colm::saturation::saturation;
    let Some(f) = Table::read("noah-bondville", "forcing_as_used.csv.xz") else {
        return;
    };
    let dir = landcycle::testdata::require("colm-bondville").unwrap();
    let text = std::fs::read_to_string(dir.join("params_bondville.txt")).unwrap();
    let l = parse_params(&text).unwrap();
    let fc = |n: &str| f.col(n);
    let tun = Tunables::default();
    for (class, dt_air, pfac) in [(2, -12.0, 1.5), (7, 0.0, 1.0)] {
        let veg = usgs(class).unwrap();
        let col = Column {
            params: ColumnParams {
                soil: &l.soil,
                rootfr: &l.rootfr,
                veg: &veg,
                tun: &tun,
            },
            geometry: &l.geometry,
            soil_albedo: SoilAlbedo {
                sat: [0.22, 0.44],
                dry: [0.33, 0.55],
            },
            class,
            lat: 40.01f64.to_radians(),
            lon: (-88.37f64).to_radians(),
            height: 6.0,
            co2: 398.03e-6,
        };
        let s = |n: &str| l.scalar(n).unwrap();
        let init = (
            s("initial_scv"),
            s("initial_snowdp"),
            s("initial_ldew"),
            s("initial_zwt"),
            4800.0,
        );
        let mut st = initial_state(&col, (&l.t0, &l.wliq0, &l.wice0), init, calday(START)).unwrap();
        let (mut worst_e, mut worst_w, mut layered, mut most) = (0.0f64, 0.0f64, 0, 0);
        for k in 0..f.rows.len() {
            let r = &f.rows[k];
            let (t, p) = (r[fc("SFCTMP_K")], r[fc("SFCPRS_Pa")]);
            let rh = r[fc("Q2_kg_kg")] / saturation(t, p).qs;
            let forcing = Forcing {
                t: t + dt_air,
                q: rh * saturation(t + dt_air, p).qs,
                psrf: p,
                frl: r[fc("LWDOWN_W_m2")],
                sw: r[fc("SOLDN_W_m2")],
                prcp: r[fc("PRCP_kg_m2_s")] * pfac,
                wind: r[fc("SFCSPD_m_s")],
            };
            let end = START + (k as u32 + 1) * 1800;
            let clk = Clock {
                calday_end: calday(end),
                dolai: k == 0 || end % 86400 == 1800,
            };
            let out = step(&mut st, &col, &forcing, &clk, DT).unwrap();
            worst_e = worst_e.max(out.energy.errore.abs());
            worst_w = worst_w.max(out.water_error.abs());
            let ly = &st.layers;
            layered += (ly.nsnow > 0) as usize;
            most = most.max(ly.nsnow);
            for k in ly.top()..ly.t.len() {
                assert!(ly.wliq[k] >= 0.0 && ly.wice[k] >= 0.0 && ly.t[k].is_finite());
                assert!(
                    ly.t[k] > 200.0 && ly.t[k] < 340.0,
                    "step {k}: T {}",
                    ly.t[k]
                );
            }
            assert!(st.snow.scv >= 0.0 && st.canopy.ldew >= 0.0 && st.canopy.tlsun.is_finite());
        }
        eprintln!(
            "class {class}, air {dt_air:+} K: energy residual {worst_e:e} W m-2, water \
             {worst_w:e} mm s-1, snow layers on {layered} steps (up to {most})"
        );
        assert!(worst_e < 1e-6 && worst_w < 1e-9);
        if dt_air < 0.0 {
            assert!(
                layered > 2000 && most >= 3,
                "{layered} layered steps, at most {most}"
            );
        }
    }
}
