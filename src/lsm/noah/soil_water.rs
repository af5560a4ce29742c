//! Soil water: canopy interception and drip, Schaake et al. (1996) infiltration with the
//! Koren et al. (1999) frozen-ground reduction, surface runoff, Richards-equation diffusion
//! and gravity drainage of liquid water (implicit, with a predictor-corrector pass for
//! heavy input), and gravitational drainage out of the bottom layer.

use super::constants::NSOIL;
use super::evaporation::Evaporation;
use super::params::NoahParams;
use super::tridiag;

/// Result of one soil-water step.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SoilWaterFluxes {
    /// Surface runoff (m s-1).
    pub runoff1: f64,
    /// Drainage out of the bottom layer (m s-1).
    pub runoff2: f64,
    /// Water in excess of porosity leaving the column, net of water added by the lower
    /// bound on soil moisture and canopy water (m per step).
    pub runoff3: f64,
    /// Canopy drip reaching the ground (m per step).
    pub drip: f64,
}

/// Soil water diffusivity (m2 s-1) and hydraulic conductivity (m s-1) at liquid water
/// content `theta`; ice anywhere in the column reduces diffusivity (`sicemax`).
#[inline]
pub fn diffusivity_conductivity(p: &NoahParams, theta: f64, sicemax: f64) -> (f64, f64) {
    let factr2 = theta / p.smcmax;
    // Both laws are powers of the same ratio: share its logarithm.
    let lnf = factr2.ln();
    let expon = p.bexp + 2.0;
    let mut wdf = p.dwsat * (expon * lnf).exp();
    if sicemax > 0.0 {
        let factr1 = (0.05 / p.smcmax).min(factr2);
        let vkwgt = 1.0 / (1.0 + (500.0 * sicemax).powi(3));
        wdf = vkwgt * wdf + (1.0 - vkwgt) * p.dwsat * factr1.powf(expon);
    }
    let wcnd = p.dksat * ((2.0 * p.bexp + 3.0) * lnf).exp();
    (wdf, wcnd)
}

struct Tendency {
    rhs: [f64; NSOIL],
    a: [f64; NSOIL],
    b: [f64; NSOIL],
    c: [f64; NSOIL],
    runoff1: f64,
    runoff2: f64,
}

/// Infiltration, runoff and the tridiagonal system of the liquid-water equation.
/// Gradients use `sh2o`, conductivities use `sh2oa` (the predictor estimate or `sh2o`).
#[allow(clippy::too_many_arguments)]
fn tendency(
    p: &NoahParams,
    edir: f64,
    et: &[f64; NSOIL],
    sh2o: &[f64; NSOIL],
    sh2oa: &[f64; NSOIL],
    pcpdrp: f64,
    dt: f64,
    sice: &[f64; NSOIL],
) -> Tendency {
    const CVFRZ: i32 = 3;
    let z = &p.zsoil;
    let sicemax = sice.iter().fold(0.0f64, |m, &s| if s > m { s } else { m });
    let mut pddum = pcpdrp;
    let mut runoff1 = 0.0;
    if pcpdrp != 0.0 {
        // Schaake: infiltration capacity from the column's unfilled storage.
        let dt1 = dt / 86400.0;
        let smcav = p.smcmax - p.smcwlt;
        let mut dmax = -z[0] * smcav;
        let mut dice = -z[0] * sice[0];
        dmax *= 1.0 - (sh2oa[0] + sice[0] - p.smcwlt) / smcav;
        let mut dd = dmax;
        for k in 1..NSOIL {
            dice += (z[k - 1] - z[k]) * sice[k];
            let mut dm = (z[k - 1] - z[k]) * smcav;
            dm *= 1.0 - (sh2oa[k] + sice[k] - p.smcwlt) / smcav;
            dd += dm;
        }
        let val = 1.0 - (-p.kdt * dt1).exp();
        let ddt = dd * val;
        let px = (pcpdrp * dt).max(0.0);
        let mut infmax = (px * (ddt / (px + ddt))) / dt;
        // Frozen ground: fraction of the area still permeable (Koren et al. 1999).
        let mut fcr = 1.0;
        if dice > 1.0e-2 {
            let acrt = CVFRZ as f64 * p.frzx / dice;
            let mut sum = 1.0;
            let ialp1 = CVFRZ - 1;
            for j in 1..=ialp1 {
                let mut k = 1;
                for jj in (j + 1)..=ialp1 {
                    k *= jj;
                }
                sum += acrt.powi(CVFRZ - j) / k as f64;
            }
            fcr = 1.0 - (-acrt).exp() * sum;
        }
        infmax *= fcr;
        let (_, wcnd) = diffusivity_conductivity(p, sh2oa[0], sicemax);
        infmax = infmax.max(wcnd).min(px / dt);
        if pcpdrp > infmax {
            runoff1 = pcpdrp - infmax;
            pddum = infmax;
        }
    }

    let mut rhs = [0.0; NSOIL];
    let mut a = [0.0; NSOIL];
    let mut b = [0.0; NSOIL];
    let mut c = [0.0; NSOIL];
    let (mut wdf, mut wcnd) = diffusivity_conductivity(p, sh2oa[0], sicemax);
    let mut ddz = 1.0 / (-0.5 * z[1]);
    b[0] = wdf * ddz / (-z[0]);
    c[0] = -b[0];
    let mut dsmdz = (sh2o[0] - sh2o[1]) / (-0.5 * z[1]);
    rhs[0] = (wdf * dsmdz + wcnd - pddum + edir + et[0]) / z[0];
    let mut runoff2 = 0.0;
    for k in 1..NSOIL {
        let denom2 = z[k - 1] - z[k];
        let (wdf2, wcnd2, dsmdz2, slopx, ddz2);
        if k != NSOIL - 1 {
            slopx = 1.0;
            let (w, kk) = diffusivity_conductivity(p, sh2oa[k], sicemax);
            wdf2 = w;
            wcnd2 = kk;
            let denom = z[k - 1] - z[k + 1];
            dsmdz2 = (sh2o[k] - sh2o[k + 1]) / (denom * 0.5);
            ddz2 = 2.0 / denom;
            c[k] = -wdf2 * ddz2 / denom2;
        } else {
            // Bottom: free gravity drainage scaled by the slope class.
            slopx = p.slope;
            let (w, kk) = diffusivity_conductivity(p, sh2oa[k], sicemax);
            wdf2 = w;
            wcnd2 = kk;
            dsmdz2 = 0.0;
            ddz2 = ddz;
            c[k] = 0.0;
        }
        let numer = wdf2 * dsmdz2 + slopx * wcnd2 - wdf * dsmdz - wcnd + et[k];
        rhs[k] = numer / (-denom2);
        a[k] = -wdf * ddz / denom2;
        b[k] = -(a[k] + c[k]);
        if k == NSOIL - 1 {
            runoff2 = slopx * wcnd2;
        } else {
            wdf = wdf2;
            wcnd = wcnd2;
            dsmdz = dsmdz2;
            ddz = ddz2;
        }
    }
    Tendency {
        rhs,
        a,
        b,
        c,
        runoff1,
        runoff2,
    }
}

/// Relative saturation above which the soil-water step always uses two passes, by
/// porosity of the STATSGO classes (Noah's FAC2MIT).
fn wet_limit(smcmax: f64) -> f64 {
    let is = |v: &[f64]| v.contains(&smcmax);
    if is(&[0.395]) {
        0.59
    } else if is(&[0.434, 0.404]) {
        0.85
    } else if is(&[0.465, 0.406]) {
        0.86
    } else if is(&[0.476, 0.439]) {
        0.74
    } else if is(&[0.200, 0.464]) {
        0.80
    } else {
        0.90
    }
}

/// Solves the implicit system and updates liquid and total water; excess over porosity
/// moves down and leaves the bottom as `wplus` (m). Returns (new liquid, new total,
/// water leaving at the bottom, water created by the lower bound), all in m.
fn advance(
    p: &NoahParams,
    t: &Tendency,
    sh2oin: &[f64; NSOIL],
    sice: &[f64; NSOIL],
    dt: f64,
) -> ([f64; NSOIL], [f64; NSOIL], f64, f64) {
    let mut a = [0.0; NSOIL];
    let mut b = [0.0; NSOIL];
    let mut c = [0.0; NSOIL];
    let mut d = [0.0; NSOIL];
    for k in 0..NSOIL {
        d[k] = t.rhs[k] * dt;
        a[k] = t.a[k] * dt;
        b[k] = 1.0 + t.b[k] * dt;
        c[k] = t.c[k] * dt;
    }
    let x = tridiag::solve(&a, &b, &c, &d);
    let z = &p.zsoil;
    let mut wplus = 0.0;
    let mut created = 0.0;
    let mut sh2o = [0.0; NSOIL];
    let mut smc = [0.0; NSOIL];
    for k in 0..NSOIL {
        let ddz = if k == 0 { -z[0] } else { z[k - 1] - z[k] };
        let liq = sh2oin[k] + x[k] + wplus / ddz;
        let stot = liq + sice[k];
        wplus = if stot > p.smcmax {
            (stot - p.smcmax) * ddz
        } else {
            0.0
        };
        smc[k] = stot.min(p.smcmax).max(0.02);
        if stot < 0.02 {
            created += (0.02 - stot) * ddz;
        }
        sh2o[k] = (smc[k] - sice[k]).max(0.0);
    }
    (sh2o, smc, wplus, created)
}

/// One soil-water step. `prcp1` is liquid input at the top of the canopy (m s-1: rain,
/// snowmelt, dew); `evap` the evaporation components (m s-1). Updates `cmc` (m), `smc`
/// and `sh2o` in place.
#[allow(clippy::too_many_arguments)]
pub fn soil_water_step(
    p: &NoahParams,
    prcp1: f64,
    evap: &Evaporation,
    shdfac: f64,
    dt: f64,
    cmc: &mut f64,
    smc: &mut [f64; NSOIL],
    sh2o: &mut [f64; NSOIL],
) -> SoilWaterFluxes {
    // Canopy interception: excess over capacity drips to the ground.
    let rhsct = shdfac * prcp1 - evap.ec;
    let excess = *cmc + dt * rhsct;
    let drip = if excess > p.cmcmax {
        excess - p.cmcmax
    } else {
        0.0
    };
    let pcpdrp = (1.0 - shdfac) * prcp1 + drip / dt;
    let mut sice = [0.0; NSOIL];
    for k in 0..NSOIL {
        sice[k] = smc[k] - sh2o[k];
    }
    let (t, new_sh2o, new_smc, wplus, created);
    // Wettest layer relative to saturation: near saturation the explicit conductivity
    // needs the predictor-corrector too (threshold depends on the soil's porosity).
    let fac2 = sh2o.iter().fold(0.0f64, |m, &w| m.max(w / p.smcmax));
    if pcpdrp * dt > 0.0001 * 1000.0 * (-p.zsoil[0]) * p.smcmax || fac2 > wet_limit(p.smcmax) {
        // Heavy input: predictor step, then conductivities from the mean state.
        let t0 = tendency(p, evap.edir, &evap.et, sh2o, sh2o, pcpdrp, dt, &sice);
        let (fg, _, _, _) = advance(p, &t0, sh2o, &sice, dt);
        let mut sh2oa = [0.0; NSOIL];
        for k in 0..NSOIL {
            sh2oa[k] = (sh2o[k] + fg[k]) * 0.5;
        }
        t = tendency(p, evap.edir, &evap.et, sh2o, &sh2oa, pcpdrp, dt, &sice);
    } else {
        t = tendency(p, evap.edir, &evap.et, sh2o, sh2o, pcpdrp, dt, &sice);
    }
    (new_sh2o, new_smc, wplus, created) = advance(p, &t, sh2o, &sice, dt);
    *sh2o = new_sh2o;
    *smc = new_smc;
    let mut canopy = *cmc + dt * rhsct;
    let mut created_total = created;
    if canopy < 1.0e-20 {
        created_total -= canopy;
        canopy = 0.0;
    }
    *cmc = canopy.min(p.cmcmax);
    SoilWaterFluxes {
        runoff1: t.runoff1,
        runoff2: t.runoff2,
        runoff3: wplus - created_total,
        drip,
    }
}
