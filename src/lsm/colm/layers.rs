//! The snow + soil layer column: CoLM's index range −4..10 stored as 0..15 (up to five snow
//! layers above ten soil layers), with node depths, thicknesses and interfaces (snow depths
//! negative, above the soil surface), temperatures and water; and the initial state of a
//! point case from a coarser source profile (COLM.md §10; the role of the soil part of
//! CoLM's `IniTimeVar`).

use super::constants::{DENH2O, MAXSNL, NLAYER, NSOIL, TFRZ};
use super::geometry::SoilGeometry;

/// Temperatures, water and geometry of the active snow and soil layers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layers {
    /// Number of snow layers (0..=5); layer k is active when k ≥ MAXSNL − nsnow.
    pub nsnow: usize,
    /// Temperature (K).
    pub t: [f64; NLAYER],
    /// Liquid water (kg m-2).
    pub wliq: [f64; NLAYER],
    /// Ice (kg m-2).
    pub wice: [f64; NLAYER],
    /// Node depth (m, negative in snow).
    pub z: [f64; NLAYER],
    /// Thickness (m).
    pub dz: [f64; NLAYER],
    /// Interface depths (m): zi[k] is the top and zi[k + 1] the bottom of layer k.
    pub zi: [f64; NLAYER + 1],
}

/// Array index of soil layer `j` (0-based, top first).
pub const fn soil(j: usize) -> usize {
    MAXSNL + j
}

impl Layers {
    /// A snow-free column on the soil geometry `g`.
    pub fn soil_only(
        g: &SoilGeometry,
        t: &[f64; NSOIL],
        wliq: &[f64; NSOIL],
        wice: &[f64; NSOIL],
    ) -> Self {
        let mut l = Self {
            nsnow: 0,
            t: [0.0; NLAYER],
            wliq: [0.0; NLAYER],
            wice: [0.0; NLAYER],
            z: [0.0; NLAYER],
            dz: [0.0; NLAYER],
            zi: [0.0; NLAYER + 1],
        };
        for j in 0..NSOIL {
            let k = soil(j);
            l.t[k] = t[j];
            l.wliq[k] = wliq[j];
            l.wice[k] = wice[j];
            l.z[k] = g.z[j];
            l.dz[k] = g.dz[j];
            l.zi[k + 1] = g.zi[j];
        }
        l
    }

    /// Index of the top active layer.
    pub fn top(&self) -> usize {
        MAXSNL - self.nsnow
    }

    /// Put snow layers of thickness `dz` (m, top first) with their temperatures and water on
    /// top of the soil; node depths and interfaces follow from the thicknesses.
    pub fn set_snow(&mut self, dz: &[f64], t: &[f64], wliq: &[f64], wice: &[f64]) {
        let n = dz.len().min(MAXSNL);
        self.nsnow = n;
        let top = self.top();
        let mut bottom = 0.0;
        for i in (0..n).rev() {
            let k = top + i;
            self.dz[k] = dz[i];
            self.zi[k + 1] = bottom;
            self.zi[k] = bottom - dz[i];
            self.z[k] = bottom - 0.5 * dz[i];
            self.t[k] = t[i];
            self.wliq[k] = wliq[i];
            self.wice[k] = wice[i];
            bottom -= dz[i];
        }
    }
}

/// Initial soil temperature and water from a source profile with layer bottoms `zbot` (m),
/// temperatures `t` (K) and volumetric water `w` (m3 m-3): each CoLM layer takes the source
/// layer that holds its node (the last source layer below the profile); its water is all ice
/// below T_f and all liquid otherwise (CoLM2014 has no supercooled soil water).
pub fn initial_from_profile(
    g: &SoilGeometry,
    zbot: &[f64],
    t: &[f64],
    w: &[f64],
) -> ([f64; NSOIL], [f64; NSOIL], [f64; NSOIL]) {
    let (mut t0, mut wliq, mut wice) = ([0.0; NSOIL], [0.0; NSOIL], [0.0; NSOIL]);
    let last = zbot.len() - 1;
    for j in 0..NSOIL {
        let s = zbot.iter().position(|&zb| g.z[j] <= zb).unwrap_or(last);
        t0[j] = t[s];
        let water = w[s] * g.dz[j] * DENH2O;
        if t[s] < TFRZ {
            wice[j] = water;
        } else {
            wliq[j] = water;
        }
    }
    (t0, wliq, wice)
}
