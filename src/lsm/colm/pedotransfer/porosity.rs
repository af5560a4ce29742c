//! The 18 porosity (θ_s, cm3 cm-3) estimates of Dai et al. (2013, Table 2): each a published
//! regression on texture, bulk density and organic matter, `None` outside the domain CoLM2014
//! applies it in. Estimates with |θ_s| > 0.8 are dropped.

use super::Soil;

/// Particle density of the mineral solids (g cm-3).
const RHO_MINERAL: f64 = 2.65;

pub(crate) fn within(x: f64, lo: f64, hi: f64) -> bool {
    (lo..=hi).contains(&x)
}

/// The Saxton & Rawls (2006) moisture terms, unclamped: θ at −33 kPa, θ between saturation
/// and −33 kPa, θ at −1500 kPa (cm3 cm-3), from sand and clay fractions and organic matter %.
pub(crate) fn saxton_rawls_2006(s: &Soil) -> (f64, f64, f64) {
    let (sa, cl, om) = (s.sand / 100.0, s.clay / 100.0, s.som);
    let x = -0.251 * sa + 0.195 * cl + 0.011 * om + 0.006 * (sa * om) - 0.027 * (cl * om)
        + 0.452 * (sa * cl)
        + 0.299;
    let t33 = x + (1.283 * x * x - 0.374 * x - 0.015);
    let ts33 = -0.107
        + 1.636
            * (0.278 * sa + 0.034 * cl + 0.022 * om
                - 0.018 * (sa * om)
                - 0.027 * (cl * om)
                - 0.584 * (sa * cl)
                + 0.078);
    let t1500 = -0.02
        + 1.14
            * (0.024 * sa + 0.487 * cl + 0.006 * om + 0.005 * (sa * om) - 0.013 * (cl * om)
                + 0.068 * (sa * cl)
                + 0.031);
    (t33, ts33, t1500)
}

/// Saxton & Rawls (2006) domain: clay ≤ 60 %, organic matter ≤ 8 %, 1.0 ≤ BD ≤ 1.8.
pub(crate) fn in_saxton_rawls_domain(s: &Soil) -> bool {
    s.clay <= 60.0 && s.som <= 8.0 && within(s.bd, 1.0, 1.8)
}

/// Merdun (2010) UNSODA domain.
pub(crate) fn in_merdun_domain(s: &Soil) -> bool {
    within(s.sand, 2.0, 96.0)
        && within(s.silt, 1.0, 90.0)
        && within(s.clay, 0.1, 63.3)
        && within(s.som, 0.01, 21.4)
        && within(s.bd, 0.59, 1.76)
}

/// Li et al. (2007) Fengqiu domain.
pub(crate) fn in_li_domain(s: &Soil) -> bool {
    within(s.sand, 8.98, 93.03)
        && within(s.silt, 1.74, 79.5)
        && within(s.clay, 0.54, 27.12)
        && within(s.som, 0.12, 1.54)
        && within(s.bd, 1.2, 1.59)
}

/// Weynants et al. (2009) northern-Belgium domain (SOC as CoLM2014 tests it, in %).
pub(crate) fn in_weynants_domain(s: &Soil) -> bool {
    within(s.sand, 5.6, 97.8)
        && within(s.clay, 0.0, 54.5)
        && within(s.soc, 0.01, 6.6)
        && within(s.bd, 0.89, 1.77)
}

/// Saxton et al. (1986) domain: sand ≥ 5 %, 5 ≤ clay ≤ 60 %.
pub(crate) fn in_saxton_1986_domain(s: &Soil) -> bool {
    s.sand >= 5.0 && within(s.clay, 5.0, 60.0)
}

/// Saxton et al. (1986) saturated water content.
pub(crate) fn saxton_1986_theta_s(s: &Soil) -> f64 {
    0.332 - 0.0007251 * s.sand + 0.1276 * s.clay.log10()
}

/// HYPRES class porosities of Wösten et al. (1999, Table 4), coarse … very fine: the
/// published topsoil row, then the subsoil row. CoLM2014 indexes it with class + 5·topsoil,
/// so a topsoil takes the subsoil value and vice versa; kept to reproduce CoLM2014.
const HYPRES_THETA_S: [f64; 10] = [
    0.403, 0.439, 0.430, 0.520, 0.614, 0.366, 0.392, 0.412, 0.481, 0.538,
];

/// FAO texture class of the HYPRES table (1 coarse … 5 very fine).
fn fao_class(s: &Soil) -> usize {
    if s.clay > 60.0 {
        5
    } else if s.clay > 35.0 {
        4
    } else if s.sand < 15.0 {
        3
    } else if s.sand > 65.0 && s.clay < 18.0 {
        1
    } else {
        2
    }
}

fn wosten_1999_continuous(s: &Soil) -> f64 {
    let (cl, si, om, bd) = (s.clay, s.silt, s.som, s.bd);
    0.7919 + 0.001691 * cl - 0.29619 * bd - 0.000001491 * si * si
        + 0.0000821 * om * om
        + 0.02427 / cl
        + 0.01113 / si
        + 0.01472 * si.ln()
        - 0.0000733 * om * cl
        - 0.000619 * bd * cl
        - 0.001183 * bd * om
        - 0.0001664 * s.topsoil * si
}

fn mayr_jarvis_1999(s: &Soil) -> Option<f64> {
    // Not for organic soils of low density (SOC > 5 % and BD < 0.9), as CoLM2014 tests it.
    (s.soc < 5.0 || s.bd > 0.9).then(|| {
        0.2345971971 + 0.0046614221 * s.sand + 0.0088163314 * s.silt + 0.0064338641 * s.clay
            - 0.3028160229 * s.bd
            + 1.79762e-05 * s.sand * s.sand
            - 3.134631e-05 * s.silt * s.silt
    })
}

fn merdun_2010(s: &Soil) -> [Option<f64>; 2] {
    if !in_merdun_domain(s) {
        return [None, None];
    }
    let (c, bd, om) = (s.clay / 100.0, s.bd, s.som);
    let mlr = 1.391 - 0.289 * c - 1.007 * bd - 0.026 * om - 0.096 * c * c + 0.22 * bd * bd
        - 0.00039 * om * om
        + 0.3 * c * bd
        + 0.0233 * c * om
        + 0.0229 * bd * om;
    let sur = 1.419680 - 0.37696 * c - 1.04082 * bd - 0.02362 * om
        + 0.08548 * c * c
        + 0.23091 * bd * bd
        + 0.00002 * om * om
        + 0.32229 * c * bd
        + 0.004189 * c * om
        + 0.022525 * bd * om;
    [Some(mlr), Some(sur)]
}

fn saxton_rawls_2006_theta_s(s: &Soil) -> Option<f64> {
    if !in_saxton_rawls_domain(s) {
        return None;
    }
    let (t33, ts33, _) = saxton_rawls_2006(s);
    let ts = t33 + ts33 - 0.097 * s.sand / 100.0 + 0.043;
    // Saturation below the −33 kPa term is no retention curve.
    (ts > ts33).then_some(ts)
}

fn al_majou_2008(s: &Soil) -> Option<f64> {
    // CoLM2014 tests the upper silt bound on sand (kept); SOC in %.
    let ok = within(s.sand, 0.1, 90.1)
        && s.silt >= 2.8
        && s.sand <= 82.1
        && within(s.clay, 1.9, 92.9)
        && within(s.soc, 0.0, 2.88)
        && within(s.bd, 1.0, 1.84);
    let (cl, si, oc, bd) = (s.clay, s.silt, s.soc, s.bd);
    ok.then(|| {
        1.1658 - 0.0032 * cl - 0.4737 * bd + 2.0e-07 * si * si - 0.0001 * oc * oc
            + 0.0373 / oc
            + 0.0131 / si
            - 0.0072 * si.ln()
            + 0.00003 * oc * cl
            + 0.0022 * bd * cl
            - 0.0002 * bd * oc
            - 0.0001 * si
    })
}

/// All 18 estimates in Dai et al.'s order.
pub(crate) fn estimates(s: &Soil) -> [Option<f64>; 18] {
    let phi = 1.0 - s.bd / RHO_MINERAL;
    let [merdun_mlr, merdun_sur] = merdun_2010(s);
    let mut e = [
        // Total porosity; Williams et al. (1992); Jauhiainen (2004).
        Some(phi),
        Some(0.93 * phi),
        Some(0.928 * phi + 0.021),
        // Teepe et al. (2003), German forest soils.
        Some(0.9786 - 0.36686 * s.bd),
        // Cosby et al. (1984) univariate and multivariate.
        Some(0.489 - 0.00126 * s.sand),
        Some(0.505 - 0.00142 * s.sand - 0.00037 * s.clay),
        in_saxton_1986_domain(s).then(|| saxton_1986_theta_s(s)),
        // Vereecken et al. (1989).
        Some(0.81 - 0.28 * s.bd + 0.001 * s.clay),
        Some(wosten_1999_continuous(s)),
        Some(HYPRES_THETA_S[fao_class(s) - 1 + 5 * s.topsoil as usize]),
        mayr_jarvis_1999(s),
        merdun_mlr,
        merdun_sur,
        saxton_rawls_2006_theta_s(s),
        // Tomasella & Hodnett (1998), Amazonia.
        Some((37.937 + 2.24 * s.soc + 0.298 * s.silt + 0.159 * s.clay) / 100.0),
        // Li et al. (2007).
        in_li_domain(s).then(|| {
            (-1.531 + 0.212 * s.sand.ln() + 0.006 * s.silt - 0.051 * s.som - 0.566 * s.bd.ln())
                .exp()
        }),
        al_majou_2008(s),
        // Weynants et al. (2009).
        in_weynants_domain(s).then(|| 0.6355 + 0.0013 * s.clay - 0.1631 * s.bd),
    ];
    for x in e.iter_mut() {
        if x.is_some_and(|v| v.abs() > 0.8) {
            *x = None;
        }
    }
    e
}
