//! CoLM2014's pedotransfer rules (`lsm::colm::pedotransfer`) and soil colours: the Bondville
//! texture gives the listed per-layer parameters of the reference; properties over random
//! textures (ranges, the gravel and organic-matter rules, monotonicity); a cold, snowy year on
//! another soil from texture keeps every step's energy and water balance.
#![allow(clippy::needless_range_loop)]

mod colm_common;
use colm_common::{Lcg, Table};

use landcycle::lsm::colm::column_step::{initial_state, step, Clock, Column, Forcing};
use landcycle::lsm::colm::constants::NSOIL;
use landcycle::lsm::colm::energy_balance::ColumnParams;
use landcycle::lsm::colm::layers::{initial_from_profile, soil as soil_index};
use landcycle::lsm::colm::pedotransfer::{layer_params, soil_params_from_texture, Texture, NRAW};
use landcycle::lsm::colm::root_fractions::root_fractions;
use landcycle::lsm::colm::saturation::saturation;
use landcycle::lsm::colm::soil_colour::soil_albedo_for_usgs;
use landcycle::lsm::colm::vegetation_usgs::usgs;
use landcycle::lsm::colm::zenith::calendar_day;
use landcycle::lsm::colm::{parse_params, SoilGeometry, Tunables};

const BONDVILLE: Texture = Texture {
    sand: 10.0,
    clay: 34.0,
    soc: 1.0,
    bd: 1.40,
    gravel: 0.0,
};

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

#[test]
fn bondville_texture_gives_the_listed_parameters() {
    let Some(dir) = landcycle::testdata::require("colm-bondville") else {
        return;
    };
    let text = std::fs::read_to_string(dir.join("params_bondville.txt")).unwrap();
    let l = parse_params(&text).unwrap();
    // The listing's raw layers are the namelist's texture.
    for r in &l.raw {
        assert_eq!(&r[..5], &[10.0, 34.0, 1.0, 1.4, 0.0]);
    }
    let p = soil_params_from_texture(&[BONDVILLE; NRAW], &SoilGeometry::standard()).unwrap();
    let pairs = [
        ("porsl", p.porsl, l.soil.porsl),
        ("psi0", p.psi0, l.soil.psi0),
        ("bsw", p.bsw, l.soil.bsw),
        ("hksati", p.hksati, l.soil.hksati),
        ("csol", p.csol, l.soil.csol),
        ("dksatu", p.dksatu, l.soil.dksatu),
        ("dkdry", p.dkdry, l.soil.dkdry),
    ];
    let mut worst = 0.0f64;
    for (name, got, want) in pairs {
        for j in 0..NSOIL {
            let e = rel(got[j], want[j]);
            worst = worst.max(e);
            // The listing prints 17 significant digits.
            assert!(
                e < 1e-15,
                "{name} layer {}: {} against {}",
                j + 1,
                got[j],
                want[j]
            );
        }
    }
    eprintln!("Bondville: largest relative difference to the listing {worst:.2e}");
    let a = soil_albedo_for_usgs(2).unwrap();
    let line = text.lines().find(|t| t.starts_with("soil albedo")).unwrap();
    let v: Vec<f64> = line
        .split('=')
        .nth(1)
        .unwrap()
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    assert_eq!(
        [a.sat[0], a.dry[0], a.sat[1], a.dry[1]],
        [v[0], v[1], v[2], v[3]]
    );
}

fn random_texture(r: &mut Lcg) -> Texture {
    let sand = r.range(0.0, 100.0);
    Texture {
        sand,
        clay: r.range(0.0, 100.0 - sand),
        soc: r.range(0.0, 30.0),
        bd: r.range(0.3, 2.0),
        gravel: r.range(0.0, 80.0),
    }
}

#[test]
fn random_textures_give_usable_parameters_in_range() {
    let mut r = Lcg(7);
    let (kmin, kmax) = (0.1 * 10.0 / 86400.0, 900.0 * 10.0 / 86400.0);
    for _ in 0..3000 {
        let t = random_texture(&mut r);
        let depth = r.range(1.0, 150.0);
        let p = layer_params(&t, depth).unwrap();
        let g = 1.0 - t.gravel / 100.0;
        assert!(p.porsl > 0.0 && p.porsl <= 0.8 * g + 1e-15, "{t:?}: {p:?}");
        assert!(p.psi0 >= -3000.0 && p.psi0 < 0.0, "{t:?}: {p:?}");
        assert!(p.bsw >= 1.0 && p.bsw.is_finite(), "{t:?}: {p:?}");
        assert!(
            p.hksati >= kmin * g * (1.0 - 1e-12) && p.hksati < kmax * g,
            "{t:?}: {p:?}"
        );
        assert!(p.csol > 1.9e6 && p.csol < 2.6e6, "{t:?}: {p:?}");
        assert!(
            p.dkdry > 0.0 && p.dksatu > p.dkdry && p.dksatu < 8.8,
            "{t:?}: {p:?}"
        );
        // Gravel scales θ_s and K_s by its complement and leaves ψ_s, B and the
        // conductivities alone; its heat capacity is 2.01e6 J m-3 K-1.
        let p0 = layer_params(&Texture { gravel: 0.0, ..t }, depth).unwrap();
        assert!(rel(p.porsl, p0.porsl * g) < 1e-14 && rel(p.hksati, p0.hksati * g) < 1e-14);
        assert_eq!(
            (p.psi0, p.bsw, p.dksatu, p.dkdry),
            (p0.psi0, p0.bsw, p0.dksatu, p0.dkdry)
        );
        let c = t.gravel / 100.0 * 2.01e6 + g * p0.csol;
        assert!(rel(p.csol, c) < 1e-14);
    }
}

#[test]
fn thermal_rules_follow_the_equations_and_organic_matter() {
    // Mineral soil at the lowest organic carbon CoLM allows (0.01 %).
    let t = Texture {
        sand: 60.0,
        clay: 20.0,
        soc: 0.0,
        bd: 1.5,
        gravel: 0.0,
    };
    let p = layer_params(&t, 10.0).unwrap();
    let f = 1.72 * 0.01 / 100.0 * 1.5 / 1.3;
    let c = (1.0 - f) * (2.128 * 60.0 + 2.385 * 20.0) / 80.0 * 1e6 + f * 2.51e6;
    assert!(rel(p.csol, c) < 1e-14, "{} {c}", p.csol);
    let kdry = (1.0 - f) * (0.135 * 1.5 + 0.0647) / (2.7 - 0.947 * 1.5) + f * 0.05;
    assert!(rel(p.dkdry, kdry) < 1e-14);
    let theta = (1.0 - f) * p.porsl + f * (0.93 - 0.1 * 0.1 / 0.5);
    let ks = ((1.0 - f) * (8.80 * 60.0 + 2.92 * 20.0) / 80.0 + f * 0.25).powf(1.0 - theta)
        * 0.57f64.powf(theta);
    assert!(rel(p.dksatu, ks) < 1e-14);
    // More organic carbon: more heat capacity, less conductivity, dry and saturated.
    let mut last = p;
    for soc in [1.0, 3.0, 8.0, 20.0] {
        let q = layer_params(&Texture { soc, ..t }, 10.0).unwrap();
        assert!(
            q.csol > last.csol && q.dkdry < last.dkdry,
            "soc {soc}: {q:?}"
        );
        last = q;
    }
    // The organic porosity reaches its sapric value at 50 cm: deeper layers are alike.
    let o = Texture { soc: 10.0, ..t };
    let (a, b) = (
        layer_params(&o, 60.0).unwrap(),
        layer_params(&o, 130.0).unwrap(),
    );
    assert_eq!(a.dksatu, b.dksatu);
    assert!(layer_params(&o, 5.0).unwrap().dksatu != layer_params(&o, 25.0).unwrap().dksatu);
}

#[test]
fn porosity_falls_with_bulk_density_and_branches_switch() {
    // Over 1.2–1.5 g cm-3 the set of valid estimators is fixed and each falls or stays with
    // bulk density, so their median does.
    let t = Texture {
        sand: 40.0,
        clay: 20.0,
        soc: 1.0,
        bd: 1.2,
        gravel: 0.0,
    };
    let mut last = f64::INFINITY;
    for i in 0..=30 {
        let bd = 1.2 + 0.01 * i as f64;
        let p = layer_params(&Texture { bd, ..t }, 10.0).unwrap();
        assert!(p.porsl <= last, "bd {bd}: {}", p.porsl);
        last = p.porsl;
    }
    // The topsoil flag (< 30 cm) moves estimates other than Bondville's medians: the
    // hydraulic parameters stay, as the listing has them in every layer.
    let top = layer_params(&BONDVILLE, 29.0).unwrap();
    let sub = layer_params(&BONDVILLE, 31.0).unwrap();
    assert_eq!(
        (top.porsl, top.bsw, top.hksati),
        (sub.porsl, sub.bsw, sub.hksati)
    );
    // Textures outside the narrower domains (heavy clay, organic, sand) still have medians.
    for (sand, clay, soc, bd) in [
        (5.0, 75.0, 1.0, 1.3),
        (30.0, 10.0, 20.0, 0.5),
        (92.0, 3.0, 0.2, 1.6),
    ] {
        let p = layer_params(
            &Texture {
                sand,
                clay,
                soc,
                bd,
                gravel: 0.0,
            },
            10.0,
        )
        .unwrap();
        assert!(p.porsl > 0.3 && p.porsl <= 0.8, "{p:?}");
    }
    // Bad input is an error, not a panic.
    for bad in [
        Texture { sand: -1.0, ..t },
        Texture {
            clay: f64::NAN,
            ..t
        },
        Texture { gravel: 100.0, ..t },
        Texture { bd: 2.7, ..t },
    ] {
        assert!(layer_params(&bad, 10.0).is_err());
    }
}

/// Seconds after 1998-01-01 00:00 UTC at which the first step starts.
const START: u32 = 23400;

fn calday(secs: u32) -> f64 {
    let day = (secs - 1) / 86400;
    calendar_day(day % 365 + 1, secs - day * 86400)
}

/// The Bondville year 12 K colder at equal relative humidity with 1.5× precipitation, on a
/// gravelly sandy loam with organic topsoil under grassland, every parameter from texture.
#[test]
fn cold_snowy_year_on_a_soil_from_texture_keeps_its_balances() {
    let Some(f) = Table::read("noah-bondville", "forcing_as_used.csv.xz") else {
        return;
    };
    let g = SoilGeometry::standard();
    let soc = [4.0, 3.0, 2.0, 1.0, 0.6, 0.4, 0.3, 0.2];
    let gravel = [0.0, 0.0, 5.0, 10.0, 20.0, 30.0, 40.0, 40.0];
    let raw: [Texture; NRAW] = std::array::from_fn(|k| Texture {
        sand: 65.0,
        clay: 10.0,
        soc: soc[k],
        bd: 1.1 + 0.05 * k as f64,
        gravel: gravel[k],
    });
    let soil = soil_params_from_texture(&raw, &g).unwrap();
    assert!(soil.porsl[9] < soil.porsl[0] && soil.hksati[0] > 1.1755e-3);
    let (class, tun) = (7, Tunables::default());
    let veg = usgs(class).unwrap();
    let rootfr = root_fractions(&g.zi, veg.d50, veg.root_shape).unwrap();
    let col = Column {
        params: ColumnParams {
            soil: &soil,
            rootfr: &rootfr,
            veg: &veg,
            tun: &tun,
        },
        geometry: &g,
        soil_albedo: soil_albedo_for_usgs(class).unwrap(),
        class,
        lat: 40.01f64.to_radians(),
        lon: (-88.37f64).to_radians(),
        height: 6.0,
        co2: 398.03e-6,
    };
    let (t0, wl, wi) = initial_from_profile(
        &g,
        &[0.1, 0.4, 1.0, 2.0],
        &[266.0995 - 12.0, 274.0445 - 12.0, 276.8954 - 6.0, 279.9152],
        &[0.25, 0.24, 0.22, 0.2],
    );
    let init = (0.2, 1e-3, 0.3, g.depth() + 1.0, 4800.0);
    let mut st = initial_state(&col, (&t0, &wl, &wi), init, calday(START)).unwrap();
    let fc = |n: &str| f.col(n);
    let (mut worst_e, mut worst_w, mut layered, mut frozen) = (0.0f64, 0.0f64, 0, 0);
    for k in 0..f.rows.len() {
        let r = &f.rows[k];
        let (t, p) = (r[fc("SFCTMP_K")], r[fc("SFCPRS_Pa")]);
        let rh = r[fc("Q2_kg_kg")] / saturation(t, p).qs;
        let forcing = Forcing {
            t: t - 12.0,
            q: rh * saturation(t - 12.0, p).qs,
            psrf: p,
            frl: r[fc("LWDOWN_W_m2")],
            sw: r[fc("SOLDN_W_m2")],
            prcp: r[fc("PRCP_kg_m2_s")] * 1.5,
            wind: r[fc("SFCSPD_m_s")],
        };
        let end = START + (k as u32 + 1) * 1800;
        let clk = Clock {
            calday_end: calday(end),
            dolai: k == 0 || end % 86400 == 1800,
        };
        let out = step(&mut st, &col, &forcing, &clk, 1800.0).unwrap();
        worst_e = worst_e.max(out.energy.errore.abs());
        worst_w = worst_w.max(out.water_error.abs());
        let ly = &st.layers;
        layered += (ly.nsnow > 0) as usize;
        frozen += (ly.wice[soil_index(3)] > 0.0) as usize;
        for i in ly.top()..ly.t.len() {
            assert!(ly.wliq[i] >= 0.0 && ly.wice[i] >= 0.0, "step {k}");
            assert!(
                ly.t[i] > 200.0 && ly.t[i] < 340.0,
                "step {k}: T {}",
                ly.t[i]
            );
        }
    }
    eprintln!(
        "cold year from texture: energy residual {worst_e:e} W m-2, water {worst_w:e} mm s-1, \
         snow layers on {layered} steps, layer 4 frozen on {frozen}"
    );
    assert!(worst_e < 1e-6 && worst_w < 1e-9);
    assert!(
        layered > 2000 && frozen > 500,
        "{layered} layered, {frozen} frozen"
    );
}
