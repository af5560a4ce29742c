//! CoLM canopy (stage 4 of COLM.md §8): interception, two-stream radiation, photosynthesis
//! and stomatal conductance — conservation, limits, hand-computed points, and the Bondville
//! reference where a piece can be checked on its own.
#![allow(clippy::needless_range_loop)]

use landcycle::lsm::colm::constants::TFRZ;
use landcycle::lsm::colm::interception::{
    intercept, storage_capacity, wetted_fraction, Canopy, CanopyPrecip,
};
use landcycle::lsm::colm::precip_phase::partition;
use landcycle::lsm::colm::Tunables;
use std::io::Read;

const DT: f64 = 1800.0;

/// Deterministic pseudo-random numbers in [0, 1).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A CSV table (header and numeric rows; the date column is skipped).
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<f64>>,
}

impl Table {
    fn read(rel: &str, file: &str) -> Option<Table> {
        let dir = landcycle::testdata::require(rel)?;
        let f = std::fs::File::open(dir.join(file)).unwrap();
        let mut s = String::new();
        xz2::read::XzDecoder::new(f).read_to_string(&mut s).unwrap();
        let mut lines = s.lines();
        let header = lines.next().unwrap().split(',').map(String::from).collect();
        let rows = lines
            .map(|l| {
                l.split(',')
                    .skip(2)
                    .map(|x| x.trim().parse::<f64>().unwrap())
                    .collect()
            })
            .collect();
        Some(Table { header, rows })
    }

    fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
            - 2
    }
}

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
