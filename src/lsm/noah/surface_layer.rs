//! Surface-layer exchange coefficients of Chen et al. (1997, Bound.-Layer Meteor. 85, 391-421):
//! Monin-Obukhov similarity with Paulson stability functions, Beljaars' free-convection
//! velocity, and the Zilitinkevich (1995) thermal roughness z0h = z0 exp(-k C_zil sqrt(Re*)).
//! Five fixed-point iterations on the inverse Obukhov length, starting from the previous
//! step's coefficients (which is why CM and CH are part of the column state).

/// Exchange coefficients for momentum (`cm`) and heat/moisture (`ch`), m s-1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exchange {
    pub cm: f64,
    pub ch: f64,
}

const WWST: f64 = 1.2;
const VKRM: f64 = 0.40;
const EXCM: f64 = 0.001;
const G: f64 = 9.8;
const BETA: f64 = 1.0 / 270.0;
const WOLD: f64 = 0.15;
const ITRMX: usize = 5;
const EPSU2: f64 = 1.0e-4;
const EPSUST: f64 = 0.07;
const ZTMIN: f64 = -5.0;
const ZTMAX: f64 = 1.0;
const HPBL: f64 = 1000.0;
const SQVISC: f64 = 258.2;
const PIHF: f64 = std::f64::consts::FRAC_PI_2;

/// Paulson (1970) unstable momentum function of x = (1 - 16 zeta)^(1/4).
#[inline]
fn psi_m_unstable(x: f64) -> f64 {
    -2.0 * ((x + 1.0) * 0.5).ln() - ((x * x + 1.0) * 0.5).ln() + 2.0 * x.atan() - PIHF
}
/// Paulson unstable heat function.
#[inline]
fn psi_h_unstable(x: f64) -> f64 {
    -2.0 * ((x * x + 1.0) * 0.5).ln()
}

/// Free-convection velocity scale squared (Beljaars 1995).
#[inline]
fn wstar2(akhs: f64, dthv: f64) -> f64 {
    let b = BETA * G * HPBL * akhs * dthv;
    if b != 0.0 {
        WWST * WWST * b.abs().powf(2.0 / 3.0)
    } else {
        0.0
    }
}

/// Exchange coefficients between the surface (virtual potential temperature `thv_sfc`) and
/// the forcing level `zlm` (virtual potential temperature `thv_air`, wind `wind`), for
/// momentum roughness `z0`. `prev` are the previous step's coefficients (iteration start).
pub fn exchange_coefficients(
    zlm: f64,
    z0: f64,
    thv_sfc: f64,
    thv_air: f64,
    wind: f64,
    czil: f64,
    prev: Exchange,
) -> Exchange {
    let mut akms = prev.cm;
    let mut akhs = prev.ch;
    let zilfc = -czil * VKRM * SQVISC;
    let zu = z0;
    let cxch = EXCM / zlm;
    let dthv = thv_air - thv_sfc;
    let du2 = (wind * wind).max(EPSU2);
    let elfc = VKRM * BETA * G;

    let mut ws2 = wstar2(akhs, dthv);
    let mut ustar = (akms * (du2 + ws2).sqrt()).sqrt().max(EPSUST);
    let mut zt = (zilfc * (ustar * z0).sqrt()).exp() * z0;
    let zslu = zlm + zu;
    let mut zslt = zlm + zt;
    let rlogu = (zslu / zu).ln();
    let mut rlogt = (zslt / zt).ln();
    let mut rlmo = elfc * akhs * dthv / ustar.powi(3);

    for _ in 0..ITRMX {
        let zetalt = (zslt * rlmo).max(ZTMIN);
        rlmo = zetalt / zslt;
        let zetalu = zslu * rlmo;
        let zetau = zu * rlmo;
        let zetat = zt * rlmo;
        let (simm, simh) = if rlmo < 0.0 {
            let xlu = (1.0 - 16.0 * zetalu).sqrt().sqrt();
            let xlt = (1.0 - 16.0 * zetalt).sqrt().sqrt();
            let xu = (1.0 - 16.0 * zetau).sqrt().sqrt();
            let xt = (1.0 - 16.0 * zetat).sqrt().sqrt();
            (
                psi_m_unstable(xlu) - psi_m_unstable(xu) + rlogu,
                psi_h_unstable(xlt) - psi_h_unstable(xt) + rlogt,
            )
        } else {
            let zetalu = zetalu.min(ZTMAX);
            let zetalt = zetalt.min(ZTMAX);
            (
                5.0 * zetalu - 5.0 * zetau + rlogu,
                5.0 * zetalt - 5.0 * zetat + rlogt,
            )
        };
        ustar = (akms * (du2 + ws2).sqrt()).sqrt().max(EPSUST);
        zt = (zilfc * (ustar * z0).sqrt()).exp() * z0;
        zslt = zlm + zt;
        rlogt = (zslt / zt).ln();
        let ustark = ustar * VKRM;
        akms = (ustark / simm).max(cxch);
        akhs = (ustark / simh).max(cxch);
        ws2 = wstar2(akhs, dthv);
        let rlmn = elfc * akhs * dthv / ustar.powi(3);
        rlmo = rlmo * WOLD + rlmn * (1.0 - WOLD);
    }
    Exchange { cm: akms, ch: akhs }
}
