//! Penman potential evaporation, linearised around the air temperature (Mahrt and Ek 1984),
//! with the sensible-heat exchange of falling precipitation and the latent heat of freezing
//! rain. Also returns the partial products the skin-temperature solutions reuse.

use super::constants::{CPH2O, CPICE, CP_PENMAN, ELCP, LSUBF, LSUBS, LVH2O, RD, SIGMA};

/// Inputs of the Penman step.
#[derive(Debug, Clone, Copy)]
pub struct PenmanInput {
    pub sfctmp: f64,
    pub sfcprs: f64,
    pub ch: f64,
    /// Virtual air temperature (K).
    pub t2v: f64,
    /// Potential air temperature at the forcing level (K).
    pub th2: f64,
    /// Precipitation (kg m-2 s-1).
    pub prcp: f64,
    /// Downward radiation absorbed, SOLNET + LWDN (W m-2).
    pub fdown: f64,
    /// Ground heat flux (W m-2, positive into the ground in this sign convention).
    pub ssoil: f64,
    pub q2: f64,
    pub q2sat: f64,
    pub dqsdt2: f64,
    pub snowing: bool,
    pub freezing_rain: bool,
    pub emissivity: f64,
    pub sncovr: f64,
}

/// Outputs of the Penman step.
#[derive(Debug, Clone, Copy)]
pub struct Penman {
    /// Potential evaporation (kg m-2 s-1).
    pub etp: f64,
    /// rho cp CH (W m-2 K-1).
    pub rch: f64,
    /// Potential evaporation in temperature units (K).
    pub epsca: f64,
    /// Radiative + precipitation heat exchange term (dimensionless).
    pub rr: f64,
    /// sfctmp^4.
    pub t24: f64,
    /// Latent heat released by freezing rain (W m-2, negative).
    pub flx2: f64,
}

pub fn potential_evaporation(i: &PenmanInput) -> Penman {
    // Over snow the latent heat is that of sublimation, weighted by cover.
    let elcp1 = (1.0 - i.sncovr) * ELCP + i.sncovr * ELCP * LSUBS / LVH2O;
    let lvs = (1.0 - i.sncovr) * LVH2O + i.sncovr * LSUBS;
    let delta = elcp1 * i.dqsdt2;
    let t24 = i.sfctmp * i.sfctmp * i.sfctmp * i.sfctmp;
    let mut rr = i.emissivity * t24 * 6.48e-8 / (i.sfcprs * i.ch) + 1.0;
    let rho = i.sfcprs / (RD * i.t2v);
    let rch = rho * CP_PENMAN * i.ch;
    if !i.snowing {
        if i.prcp > 0.0 {
            rr += CPH2O * i.prcp / rch;
        }
    } else {
        rr += CPICE * i.prcp / rch;
    }
    let mut fnet = i.fdown - i.emissivity * SIGMA * t24 - i.ssoil;
    let mut flx2 = 0.0;
    if i.freezing_rain {
        flx2 = -LSUBF * i.prcp;
        fnet -= flx2;
    }
    let rad = fnet / rch + i.th2 - i.sfctmp;
    let a = elcp1 * (i.q2sat - i.q2);
    let epsca = (a * rr + rad * delta) / (delta + rr);
    Penman {
        etp: epsca * rch / lvs,
        rch,
        epsca,
        rr,
        t24,
        flx2,
    }
}
