//! The 20 saturated hydraulic conductivity estimates K_s (cm day-1) of Dai et al. (2013,
//! Table 4), given the ensemble porosity φ, ψ_s (cm) and λ. Effective porosity φ_e = φ − θ_33
//! with θ_33 = φ (ψ_s/(−330 cm))^λ from the Brooks–Corey curve. Estimates outside
//! [0.1, 900) cm day-1 are dropped.

use super::porosity::{
    in_li_domain, in_merdun_domain, in_saxton_1986_domain, in_saxton_rawls_domain,
    in_weynants_domain, saxton_1986_theta_s, saxton_rawls_2006, within,
};
use super::retention::{particle_size, rawls_lambda};
use super::Soil;

/// Brakensiek et al. (1984) regression on porosity, sand and clay (ln of cm h-1).
fn brakensiek_1984(s: &Soil, phi: f64) -> f64 {
    let (sa, cl) = (s.sand, s.clay);
    19.52348 * phi - 8.96847 - 0.028212 * cl + 0.00018107 * sa * sa
        - 0.0094125 * cl * cl
        - 8.395215 * phi * phi
        + 0.077718 * phi * sa
        - 0.00298 * (phi * sa) * (phi * sa)
        - 0.019492 * (phi * cl) * (phi * cl)
        + 0.0000173 * sa * sa * cl
        + 0.02733 * phi * cl * cl
        + 0.001434 * phi * sa * sa
        - 0.0000035 * cl * cl * sa
}

/// Campbell (1985): from the particle-size distribution and bulk density.
fn campbell_1985(s: &Soil) -> f64 {
    let (dg, sg) = particle_size(s);
    let b = 1.0 / dg.sqrt() + 0.2 * sg;
    339.0
        * (1.3 / s.bd).powf(1.3 * b)
        * (-6.88 * s.clay / 100.0 - 3.63 * s.silt / 100.0 - 0.025).exp()
}

fn wosten_1999(s: &Soil) -> f64 {
    let (si, cl, bd, om, top) = (s.silt, s.clay, s.bd, s.som, s.topsoil);
    (7.75 + 0.0352 * si + 0.93 * top - 0.967 * bd * bd - 0.000484 * cl * cl - 0.000322 * si * si
        + 0.001 / si
        - 0.0748 / om
        - 0.643 * si.ln()
        - 0.01398 * bd * cl
        - 0.1673 * bd * om
        + 0.02986 * top * cl
        - 0.03305 * top * si)
        .exp()
}

fn merdun_2010(s: &Soil) -> [Option<f64>; 2] {
    if !in_merdun_domain(s) {
        return [None, None];
    }
    let (si, bd, om) = (s.silt / 100.0, s.bd, s.som);
    let mlr = 9509.0 - 14437.0 * si - 8169.0 * bd - 860.1 * om
        + 2332.0 * si * si
        + 1620.0 * bd * bd
        + 9.113 * om * om
        + 7547.0 * si * bd
        + 985.1 * si * om
        + 381.4 * bd * om;
    let sur = 8777.937 - 12556.9 * si - 7849.05 * bd - 728.977 * om
        + 2100.45 * si * si
        + 1666.81 * bd * bd
        + 6.79971 * om * om
        + 6597.450 * si * bd
        + 736.149 * si * om
        + 371.5434 * bd * om;
    [Some(mlr), Some(sur)]
}

fn aimrun_amin_2009(s: &Soil) -> Option<f64> {
    let ok = within(s.silt, 19.84, 57.25)
        && within(s.clay, 32.22, 76.80)
        && within(s.som, 0.07, 29.35)
        && within(s.bd, 0.62, 1.91);
    ok.then(|| {
        let (dg, _) = particle_size(s);
        100.0
            * (-2.368 + 3.846 * s.bd + 0.091 * s.som
                - 6.203 * s.bd.ln()
                - 0.343 * s.som.ln()
                - 2.334 * s.clay.ln()
                - 0.411 * dg.ln())
            .exp()
    })
}

fn saxton_rawls_2006_ks(s: &Soil) -> Option<f64> {
    in_saxton_rawls_domain(s).then(|| {
        let (t33, ts33, t1500) = saxton_rawls_2006(s);
        let ts = t33 + ts33 - 0.097 * s.sand / 100.0 + 0.043;
        let lambda = (t33.ln() - t1500.ln()) / (1500f64.ln() - 33f64.ln());
        4632.0 * (ts - t33).powf(3.0 - lambda)
    })
}

/// All 20 estimates (cm day-1) in Dai et al.'s order.
pub(crate) fn estimates(s: &Soil, phi: f64, psi_s: f64, lambda: f64) -> [Option<f64>; 20] {
    let (sa, si, cl, bd) = (s.sand, s.silt, s.clay, s.bd);
    let phi_e = phi - phi * (psi_s / (-33.0 * 10.0)).powf(lambda);
    let [merdun_mlr, merdun_sur] = merdun_2010(s);
    let mut e = [
        // Ahuja et al. (1989); Suleiman & Ritchie (2001); Spychalski et al. (2007, cm h-1 → d).
        Some(18348.0 * phi_e.powf(3.295)),
        Some(12303.0 * phi_e.powf(3.63)),
        Some(
            86400.0 / 10000.0
                * (-2.52 + 581.598 * phi_e.powf(1.5) - 6966.14 * phi_e.powf(2.5)
                    + 11693.78 * phi_e.powi(3)),
        ),
        // Cosby et al. (1984) multivariate and univariate (inch h-1 → cm d-1: 60.96).
        Some(60.96 * 10f64.powf(-0.6 + 0.0126 * sa - 0.0064 * cl)),
        Some(60.96 * 10f64.powf(-0.884 + 0.0153 * sa)),
        // Saxton et al. (1986), cm h-1.
        in_saxton_1986_domain(s).then(|| {
            24.0 * (12.012 - 0.0755 * sa
                + (-3.895 + 0.03671 * sa - 0.1103 * cl + 0.00087546 * cl * cl)
                    / saxton_1986_theta_s(s))
            .exp()
        }),
        // Dane & Puckett (1994); Jabro (1992).
        Some(729.16 * (-0.144 * cl).exp()),
        Some(24.0 * 10f64.powf(9.56 - 0.82 * si.log10() - 1.09 * cl.log10() - 4.64 * bd)),
        Some(24.0 * brakensiek_1984(s, phi).exp()),
        // Rawls et al. (1998): effective porosity and their λ.
        Some(4632.0 * phi_e.powf(3.0 - rawls_lambda(s, phi))),
        // Julià et al. (2004).
        Some(2.208 * (0.0491 * sa).exp()),
        Some(campbell_1985(s)),
        // Li et al. (2007).
        in_li_domain(s).then(|| {
            (13.262 - 1.914 * sa.ln() - 0.974 * si.ln() - 0.058 * cl - 1.709 * s.som.ln()
                + 2.885 * s.som
                - 8.026 * bd.ln())
            .exp()
        }),
        // Vereecken et al. (1990).
        (s.som > 0.01).then(|| {
            (20.62 - 0.96 * cl.ln() - 0.66 * sa.ln() - 0.46 * s.som.ln() - 8.43 * bd).exp()
        }),
        // Wösten et al. (1999); CoLM2014's domain test joins its bounds with "or", which
        // holds for every soil.
        Some(wosten_1999(s)),
        merdun_mlr,
        merdun_sur,
        aimrun_amin_2009(s),
        saxton_rawls_2006_ks(s),
        // Weynants et al. (2009) with SOC/10 (SOC in %), as CoLM2014 evaluates it.
        in_weynants_domain(s)
            .then(|| (1.9582 + 0.0308 * sa - 0.6142 * bd - 0.1566 * s.soc / 10.0).exp()),
    ];
    for x in e.iter_mut() {
        if !x.is_some_and(|v| (0.1..900.0).contains(&v)) {
            *x = None;
        }
    }
    e
}
