//! Partition of potential evaporation into direct soil evaporation, transpiration by root
//! layer and evaporation of canopy-intercepted water (all in m s-1 of water).

use super::constants::NSOIL;
use super::params::NoahParams;

/// Evaporation components (m s-1).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Evaporation {
    pub edir: f64,
    pub ec: f64,
    pub et: [f64; NSOIL],
    pub ett: f64,
}

impl Evaporation {
    pub fn total(&self) -> f64 {
        self.edir + self.ett + self.ec
    }
    pub fn scaled(&self, f: f64) -> Self {
        let mut et = self.et;
        for e in &mut et {
            *e *= f;
        }
        Evaporation {
            edir: self.edir * f,
            ec: self.ec * f,
            et,
            ett: self.ett * f,
        }
    }
}

/// Direct evaporation from the top layer: a power of its relative (total) wetness above
/// the air-dry point, over the non-vegetated fraction.
#[inline]
pub fn direct_soil(p: &NoahParams, etp1: f64, smc_top: f64, shdfac: f64) -> f64 {
    let sratio = (smc_top - p.smcdry) / (p.smcmax - p.smcdry);
    let fx = if sratio > 0.0 {
        sratio.powf(p.fxexp).clamp(0.0, 1.0)
    } else {
        0.0
    };
    fx * (1.0 - shdfac) * etp1
}

/// Transpiration per root layer: PC-scaled potential over the dry part of the canopy,
/// distributed by root fraction adjusted toward wetter layers.
pub fn transpiration(
    p: &NoahParams,
    etp1: f64,
    liquid: &[f64; NSOIL],
    cmc: f64,
    shdfac: f64,
    pc: f64,
) -> [f64; NSOIL] {
    let mut et = [0.0; NSOIL];
    let etp1a = if cmc != 0.0 {
        shdfac * pc * etp1 * (1.0 - (cmc / p.cmcmax).powf(p.cfactr))
    } else {
        shdfac * pc * etp1
    };
    let n = p.nroot;
    let mut gx = [0.0; NSOIL];
    let mut sgx = 0.0;
    for i in 0..n {
        gx[i] = ((liquid[i] - p.smcwlt) / (p.smcref - p.smcwlt)).clamp(0.0, 1.0);
        sgx += gx[i];
    }
    sgx /= n as f64;
    let mut denom = 0.0;
    for i in 0..n {
        let rtx = p.rtdis[i] + gx[i] - sgx;
        gx[i] *= rtx.max(0.0);
        denom += gx[i];
    }
    if denom <= 0.0 {
        denom = 1.0;
    }
    for i in 0..n {
        et[i] = etp1a * gx[i] / denom;
    }
    et
}

/// All evaporation components for positive potential evaporation `etp1` (m s-1).
/// Direct evaporation sees the total top-layer water, transpiration the liquid water.
#[allow(clippy::too_many_arguments)]
pub fn evaporation(
    p: &NoahParams,
    etp1: f64,
    smc: &[f64; NSOIL],
    liquid: &[f64; NSOIL],
    cmc: f64,
    shdfac: f64,
    pc: f64,
    dt: f64,
) -> Evaporation {
    let mut e = Evaporation::default();
    if etp1 > 0.0 {
        if shdfac < 1.0 {
            e.edir = direct_soil(p, etp1, smc[0], shdfac);
        }
        if shdfac > 0.0 {
            e.et = transpiration(p, etp1, liquid, cmc, shdfac, pc);
            e.ett = e.et.iter().sum();
            let ec = if cmc > 0.0 {
                shdfac * (cmc / p.cmcmax).powf(p.cfactr) * etp1
            } else {
                0.0
            };
            // Cannot evaporate more than the canopy holds.
            e.ec = ec.min(cmc / dt);
        }
    }
    e
}
