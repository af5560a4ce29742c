//! Soil heat: thermal conductivity (Johansen / Peters-Lidard et al. 1998), volumetric heat
//! capacity, and the implicit (backward Euler) conduction equation with
//! a fixed deep temperature at ZBOT and the phase-change source of frozen soil, which uses
//! the layer temperature averaged over its freezing front.

use super::constants::{NSOIL, TFREEZ};
use super::frozen_soil::phase_change;
use super::params::NoahParams;
use super::tridiag;

/// Thermal conductivity (W m-1 K-1) of soil with total water `smc` and liquid `sh2o`.
pub fn conductivity(p: &NoahParams, smc: f64, sh2o: f64) -> f64 {
    if p.urban {
        return 3.24;
    }
    let satratio = smc / p.smcmax;
    // Saturated conductivity: geometric mean of solids (precomputed per cell), ice and
    // water, k_s^(1-n) * 2.2^(n - xu) * 0.57^xu, evaluated as one exponential.
    let xu = (sh2o / smc) * p.smcmax;
    let thksat = p.thermal.solids_term * ((p.smcmax - xu) * THKICE.ln() + xu * THKW.ln()).exp();
    let thkdry = p.thermal.dry;
    // Kersten number: frozen soil uses the saturation ratio, unfrozen the "fine" formula.
    let ake = if sh2o + 0.0005 < smc {
        satratio
    } else if satratio > 0.1 {
        satratio.log10() + 1.0
    } else {
        0.0
    };
    ake * (thksat - thkdry) + thkdry
}

const THKICE: f64 = 2.2;
const THKW: f64 = 0.57;

/// Per-cell constants of the conductivity (Johansen): solids term and dry conductivity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThermalConstants {
    /// k_solids^(1 - porosity), k_solids = 7.7^quartz * 2.0^(1 - quartz).
    pub solids_term: f64,
    /// Dry soil conductivity from the dry density (W m-1 K-1).
    pub dry: f64,
}

impl ThermalConstants {
    pub fn new(quartz: f64, smcmax: f64) -> Self {
        const THKO: f64 = 2.0;
        const THKQTZ: f64 = 7.7;
        let thks = THKQTZ.powf(quartz) * THKO.powf(1.0 - quartz);
        let gammd = (1.0 - smcmax) * 2700.0;
        ThermalConstants {
            solids_term: thks.powf(1.0 - smcmax),
            dry: (0.135 * gammd + 64.7) / (2700.0 - 0.947 * gammd),
        }
    }
}

/// Temperature at the bottom interface of layer `k` interpolated between the layer
/// temperature `tu` and the next one `tb` (or the deep temperature below the last layer).
#[inline]
fn interface_temperature(z: &[f64; NSOIL], zbot: f64, k: usize, tu: f64, tb: f64) -> f64 {
    let zup = if k == 0 { 0.0 } else { z[k - 1] };
    let zb = if k == NSOIL - 1 {
        2.0 * zbot - z[k]
    } else {
        z[k + 1]
    };
    tu + (tb - tu) * (zup - z[k]) / (zup - zb)
}

/// Layer-mean temperature accounting for a freezing front crossing the layer (piecewise
/// linear profile through top `tup`, middle `tm` and bottom `tdn` temperatures).
fn layer_average_temperature(z: &[f64; NSOIL], k: usize, tup: f64, tm: f64, tdn: f64) -> f64 {
    let t0 = TFREEZ;
    let dz = if k == 0 { -z[0] } else { z[k - 1] - z[k] };
    let dzh = dz * 0.5;
    if tup < t0 {
        if tm < t0 {
            if tdn < t0 {
                (tup + 2.0 * tm + tdn) / 4.0
            } else {
                let x0 = (t0 - tm) * dzh / (tdn - tm);
                0.5 * (tup * dzh + tm * (dzh + x0) + t0 * (2.0 * dzh - x0)) / dz
            }
        } else if tdn < t0 {
            let xup = (t0 - tup) * dzh / (tm - tup);
            let xdn = dzh - (t0 - tm) * dzh / (tdn - tm);
            0.5 * (tup * xup + t0 * (2.0 * dz - xup - xdn) + tdn * xdn) / dz
        } else {
            let xup = (t0 - tup) * dzh / (tm - tup);
            0.5 * (tup * xup + t0 * (2.0 * dz - xup)) / dz
        }
    } else if tm < t0 {
        if tdn < t0 {
            let xup = dzh - (t0 - tup) * dzh / (tm - tup);
            0.5 * (t0 * (dz - xup) + tm * (dzh + xup) + tdn * dzh) / dz
        } else {
            let xup = dzh - (t0 - tup) * dzh / (tm - tup);
            let xdn = (t0 - tm) * dzh / (tdn - tm);
            0.5 * (t0 * (2.0 * dz - xup - xdn) + tm * (xup + xdn)) / dz
        }
    } else if tdn < t0 {
        let xdn = dzh - (t0 - tm) * dzh / (tdn - tm);
        (t0 * (dz - xdn) + 0.5 * (t0 + tdn) * xdn) / dz
    } else {
        (tup + 2.0 * tm + tdn) / 4.0
    }
}

/// One soil heat step. The surface boundary is written as T_sfc = (yy + (zz1 - 1) T_1) / zz1
/// (for snow-free ground yy and zz1 carry the linearised surface energy balance; under snow
/// zz1 = 1 and yy is the soil-top temperature). `df1` is the top layer's effective
/// conductivity. Updates `stc` and (through phase change) `sh2o`; returns the new surface
/// temperature and the heat flux into the soil (W m-2, Noah sign: negative into the soil).
#[allow(clippy::too_many_arguments)]
pub fn soil_heat_step(
    p: &NoahParams,
    stc: &mut [f64; NSOIL],
    smc: &[f64; NSOIL],
    sh2o: &mut [f64; NSOIL],
    yy: f64,
    zz1: f64,
    df1: f64,
    dt: f64,
) -> (f64, f64) {
    const CAIR: f64 = 1004.0;
    const CH2O: f64 = 4.2e6;
    const CICE: f64 = 2.106e6;
    let z = &p.zsoil;
    let csoil = if p.urban { 3.0e6 } else { p.csoil };
    let heat_capacity = |k: usize, sh2o: f64| {
        sh2o * CH2O + (1.0 - p.smcmax) * csoil + (p.smcmax - smc[k]) * CAIR + (smc[k] - sh2o) * CICE
    };
    let mut rhs = [0.0; NSOIL];
    let mut a = [0.0; NSOIL];
    let mut b = [0.0; NSOIL];
    let mut c = [0.0; NSOIL];

    // Top layer.
    let hcpct = heat_capacity(0, sh2o[0]);
    let mut ddz = 1.0 / (-0.5 * z[1]);
    c[0] = (df1 * ddz) / (z[0] * hcpct);
    b[0] = -c[0] + df1 / (0.5 * z[0] * z[0] * hcpct * zz1);
    let mut dtsdz = (stc[0] - stc[1]) / (-0.5 * z[1]);
    let ssoil = df1 * (stc[0] - yy) / (0.5 * z[0] * zz1);
    let denom = z[0] * hcpct;
    rhs[0] = (df1 * dtsdz - ssoil) / denom;
    let qtot = -rhs[0] * denom;
    let sice = smc[0] - sh2o[0];
    let tsurf = (yy + (zz1 - 1.0) * stc[0]) / zz1;
    let mut tbk = interface_temperature(z, p.zbot, 0, stc[0], stc[1]);
    if sice > 0.0 || stc[0] < TFREEZ || tsurf < TFREEZ || tbk < TFREEZ {
        let tavg = layer_average_temperature(z, 0, tsurf, stc[0], tbk);
        let tsnsr = phase_change(p, tavg, smc[0], &mut sh2o[0], -z[0], dt, qtot);
        rhs[0] -= tsnsr / denom;
    }

    // Remaining layers.
    let mut df1k = df1;
    for k in 1..NSOIL {
        let hcpct = heat_capacity(k, sh2o[k]);
        let df1n = conductivity(p, smc[k], sh2o[k]);
        let (dtsdz2, ddz2, tbk1);
        if k != NSOIL - 1 {
            let den = 0.5 * (z[k - 1] - z[k + 1]);
            dtsdz2 = (stc[k] - stc[k + 1]) / den;
            ddz2 = 2.0 / (z[k - 1] - z[k + 1]);
            c[k] = -df1n * ddz2 / ((z[k - 1] - z[k]) * hcpct);
            tbk1 = interface_temperature(z, p.zbot, k, stc[k], stc[k + 1]);
        } else {
            // Bottom layer conducts toward the fixed deep temperature at ZBOT.
            let den = 0.5 * (z[k - 1] + z[k]) - p.zbot;
            dtsdz2 = (stc[k] - p.tbot) / den;
            ddz2 = ddz;
            c[k] = 0.0;
            tbk1 = interface_temperature(z, p.zbot, k, stc[k], p.tbot);
        }
        let denom = (z[k] - z[k - 1]) * hcpct;
        rhs[k] = (df1n * dtsdz2 - df1k * dtsdz) / denom;
        let qtot = -denom * rhs[k];
        let sice = smc[k] - sh2o[k];
        if sice > 0.0 || stc[k] < TFREEZ || tbk < TFREEZ || tbk1 < TFREEZ {
            let tavg = layer_average_temperature(z, k, tbk, stc[k], tbk1);
            let tsnsr = phase_change(p, tavg, smc[k], &mut sh2o[k], z[k - 1] - z[k], dt, qtot);
            rhs[k] -= tsnsr / denom;
        }
        a[k] = -df1k * ddz / ((z[k - 1] - z[k]) * hcpct);
        b[k] = -(a[k] + c[k]);
        tbk = tbk1;
        df1k = df1n;
        dtsdz = dtsdz2;
        ddz = ddz2;
    }

    for k in 0..NSOIL {
        rhs[k] *= dt;
        a[k] *= dt;
        b[k] = 1.0 + b[k] * dt;
        c[k] *= dt;
    }
    let dtemp = tridiag::solve(&a, &b, &c, &rhs);
    for k in 0..NSOIL {
        stc[k] += dtemp[k];
    }
    let t1 = (yy + (zz1 - 1.0) * stc[0]) / zz1;
    let ssoil = df1 * (stc[0] - t1) / (0.5 * z[0]);
    (t1, ssoil)
}
