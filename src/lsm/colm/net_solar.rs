//! Absorbed shortwave radiation of sunlit and shaded leaves and of the ground: the role of
//! CoLM's `netsolar` (Dai et al. 2004, J. Climate 17, 2281, §2; CLM 3.0 technical note §3.3).
//!
//! With incident fluxes S[band][dir/dif] (W m-2) and the previous step's albedos and
//! absorption factors: sunlit leaves σ_f Σ S ssun, shaded leaves σ_f Σ S ssha, the surface
//! Σ S (1 − α), the ground the surface's share less the leaves'; reflected Σ S α; the
//! photosynthetically active radiation of sunlit and shaded leaves from the visible band
//! (per unit vegetated area, not scaled by σ_f).

use super::surface_albedo::SurfaceAlbedo;
use super::two_stream::VIS;

/// Absorbed and reflected shortwave (W m-2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NetSolar {
    /// Absorbed by sunlit leaves (sabvsun).
    pub sabvsun: f64,
    /// Absorbed by shaded leaves (sabvsha).
    pub sabvsha: f64,
    /// Absorbed by the ground (sabg).
    pub sabg: f64,
    /// Reflected (sr).
    pub sr: f64,
    /// Absorbed visible light of sunlit leaves per unit vegetated area (parsun).
    pub parsun: f64,
    /// Absorbed visible light of shaded leaves per unit vegetated area (parsha).
    pub parsha: f64,
}

/// Partition incident shortwave `sw`[band][dir/dif] (W m-2) with vegetated fraction `sigf`.
pub fn net_solar(sw: &[[f64; 2]; 2], a: &SurfaceAlbedo, sigf: f64) -> NetSolar {
    let dot = |f: &[[f64; 2]; 2]| -> f64 {
        // CoLM's order: visible direct, near-infrared direct, visible diffuse, NIR diffuse.
        sw[0][0] * f[0][0] + sw[1][0] * f[1][0] + sw[0][1] * f[0][1] + sw[1][1] * f[1][1]
    };
    let mut n = NetSolar {
        sabvsun: 0.0,
        sabvsha: 0.0,
        sabg: 0.0,
        sr: dot(&a.alb),
        parsun: 0.0,
        parsha: 0.0,
    };
    if sw.iter().flatten().sum::<f64>() > 0.0 {
        let c = &a.canopy;
        n.parsun = c.ssun[VIS][0] * sw[VIS][0] + c.ssun[VIS][1] * sw[VIS][1];
        n.parsha = c.ssha[VIS][0] * sw[VIS][0] + c.ssha[VIS][1] * sw[VIS][1];
        n.sabvsun = sigf * dot(&c.ssun);
        n.sabvsha = sigf * dot(&c.ssha);
        let absorbed = dot(&a.alb.map(|b| b.map(|x| 1.0 - x)));
        n.sabg = absorbed - n.sabvsun - n.sabvsha;
    }
    n
}
