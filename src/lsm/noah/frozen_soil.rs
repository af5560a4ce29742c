//! Frozen soil: supercooled liquid water in equilibrium with ice (Koren et al. 1999, eq. 17,
//! solved by Newton iteration with a Flerchinger explicit fallback) and the latent heat
//! source/sink of freezing or thawing limited by the available heat flux (eq. 18).

use super::constants::TFREEZ;
use super::params::NoahParams;

/// Equilibrium liquid water content (m3 m-3) at temperature `tkelv` for total water `smc`;
/// `sh2o` is the current liquid content (the iteration's first guess).
pub fn supercooled_liquid(p: &NoahParams, tkelv: f64, smc: f64, sh2o: f64) -> f64 {
    const CK: f64 = 8.0;
    const BLIM: f64 = 5.5;
    const ERROR: f64 = 0.005;
    const HLICE: f64 = 3.335e5;
    const GS: f64 = 9.81;
    let bx = p.bexp.min(BLIM);
    if tkelv > TFREEZ - 1.0e-3 {
        return smc;
    }
    let mut swl = (smc - sh2o).min(smc - 0.02).max(0.0);
    let mut converged = false;
    let mut nlog = 0;
    let rhs = (-(tkelv - TFREEZ) / tkelv).ln();
    while nlog < 10 && !converged {
        nlog += 1;
        let df = ((p.psisat * GS / HLICE)
            * (1.0 + CK * swl).powi(2)
            * (p.smcmax / (smc - swl)).powf(bx))
        .ln()
            - rhs;
        let denom = 2.0 * CK / (1.0 + CK * swl) + bx / (smc - swl);
        let swlk = (swl - df / denom).min(smc - 0.02).max(0.0);
        let dswl = (swlk - swl).abs();
        swl = swlk;
        if dswl <= ERROR {
            converged = true;
        }
    }
    if converged {
        smc - swl
    } else {
        // Explicit solution without the ice-impedance term (CK = 0).
        let fk =
            ((HLICE / (GS * (-p.psisat))) * ((tkelv - TFREEZ) / tkelv)).powf(-1.0 / bx) * p.smcmax;
        fk.max(0.02).min(smc)
    }
}

/// Phase change in a layer of thickness `dz` over `dt`: returns the latent heat released
/// (W m-2; positive when water freezes, negative when ice melts) and updates `sh2o`.
/// `qtot` is the net heat flux into the layer (W m-2), which bounds how much can change.
pub fn phase_change(
    p: &NoahParams,
    tavg: f64,
    smc: f64,
    sh2o: &mut f64,
    dz: f64,
    dt: f64,
    qtot: f64,
) -> f64 {
    const DH2O: f64 = 1000.0;
    const HLICE: f64 = 3.335e5;
    let free = supercooled_liquid(p, tavg, smc, *sh2o);
    let mut xh2o = *sh2o + qtot * dt / (DH2O * HLICE * dz);
    // Freezing may not go below equilibrium, thawing may not go above it.
    if xh2o < *sh2o && xh2o < free {
        xh2o = if free > *sh2o { *sh2o } else { free };
    }
    if xh2o > *sh2o && xh2o > free {
        xh2o = if free < *sh2o { *sh2o } else { free };
    }
    xh2o = xh2o.max(0.0).min(smc);
    let tsnsr = -DH2O * HLICE * dz * (xh2o - *sh2o) / dt;
    *sh2o = xh2o;
    tsnsr
}
