//! One snow layer as a slab of ice and liquid water at one temperature, its enthalpy, and the
//! combination of two slabs into one (TN §7.2.4, the combination of snow layers; the role of
//! CoLM's `combo`), shared by [`super::snow_combine`] and [`super::snow_divide`]. Reading and
//! writing the active snow layers of a [`Layers`] column, top first.
//!
//! Enthalpy is counted from ice at T_f: H = (c_ice w_ice + c_liq w_liq)(T − T_f) + L_f w_liq
//! (J m-2). The combined temperature follows from H_1 + H_2 with CoLM's three branches: below
//! zero enthalpy T = T_f + H/C; between 0 and L_f w_liq, T = T_f; above, T = T_f + (H − L_f
//! w_liq)/C. The phases are not re-partitioned (phase change does that on the next step), so
//! the first two branches with liquid present do not conserve H exactly: the difference is
//! returned as an energy defect, never hidden.

use super::constants::{CPICE, CPLIQ, HFUS, MAXSNL, TFRZ};
use super::layers::Layers;

/// One snow layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SnowLayer {
    /// Thickness (m).
    pub dz: f64,
    /// Liquid water (kg m-2).
    pub wliq: f64,
    /// Ice (kg m-2).
    pub wice: f64,
    /// Temperature (K).
    pub t: f64,
}

impl SnowLayer {
    /// Heat capacity of the water and ice (J m-2 K-1).
    pub fn capacity(&self) -> f64 {
        CPICE * self.wice + CPLIQ * self.wliq
    }

    /// Enthalpy relative to ice at T_f (J m-2).
    pub fn enthalpy(&self) -> f64 {
        self.capacity() * (self.t - TFRZ) + HFUS * self.wliq
    }

    /// Water mass (kg m-2).
    pub fn mass(&self) -> f64 {
        self.wice + self.wliq
    }
}

/// Two slabs as one: thicknesses and masses add, the temperature follows from the summed
/// enthalpy. Returns the slab and its energy defect H_c − (H_1 + H_2) (J m-2).
pub fn combine_pair(a: SnowLayer, b: SnowLayer) -> (SnowLayer, f64) {
    let h = a.enthalpy() + b.enthalpy();
    let mut c = SnowLayer {
        dz: a.dz + b.dz,
        wliq: a.wliq + b.wliq,
        wice: a.wice + b.wice,
        t: TFRZ,
    };
    let cap = c.capacity();
    if h < 0.0 {
        c.t = TFRZ + h / cap;
    } else if h > HFUS * c.wliq {
        c.t = TFRZ + (h - HFUS * c.wliq) / cap;
    }
    let defect = c.enthalpy() - h;
    (c, defect)
}

/// The active snow layers of `l`, top first.
pub fn read(l: &Layers) -> Vec<SnowLayer> {
    (l.top()..MAXSNL)
        .map(|k| SnowLayer {
            dz: l.dz[k],
            wliq: l.wliq[k],
            wice: l.wice[k],
            t: l.t[k],
        })
        .collect()
}

/// Put `snow` (top first, at most [`MAXSNL`] layers) on the soil of `l`: node depths and
/// interfaces from the thicknesses, inactive snow slots cleared (CoLM recounts the layers
/// from their water, so empty slots must hold none).
pub fn write(l: &mut Layers, snow: &[SnowLayer]) {
    for k in 0..MAXSNL {
        l.t[k] = 0.0;
        l.wliq[k] = 0.0;
        l.wice[k] = 0.0;
        l.z[k] = 0.0;
        l.dz[k] = 0.0;
        l.zi[k] = 0.0;
    }
    let dz: Vec<f64> = snow.iter().map(|s| s.dz).collect();
    let t: Vec<f64> = snow.iter().map(|s| s.t).collect();
    let wliq: Vec<f64> = snow.iter().map(|s| s.wliq).collect();
    let wice: Vec<f64> = snow.iter().map(|s| s.wice).collect();
    l.zi[MAXSNL] = 0.0;
    l.set_snow(&dz, &t, &wliq, &wice);
}

/// Water in the snow layers plus the top soil layer, plus snow without layers (kg m-2): the
/// mass the snow-layer processes move around.
pub fn surface_water(l: &Layers, scv_layerless: f64) -> f64 {
    let k1 = MAXSNL;
    let snow: f64 = (l.top()..MAXSNL).map(|k| l.wice[k] + l.wliq[k]).sum();
    let layerless = if l.nsnow == 0 { scv_layerless } else { 0.0 };
    snow + l.wice[k1] + l.wliq[k1] + layerless
}

/// Enthalpy of the snow layers, of the top soil layer's water, and of snow without layers
/// counted at the top soil layer's temperature (J m-2; the soil matrix is left out, the
/// snow processes never change it).
pub fn surface_enthalpy(l: &Layers, scv_layerless: f64) -> f64 {
    let k1 = MAXSNL;
    let slab = |k: usize| SnowLayer {
        dz: l.dz[k],
        wliq: l.wliq[k],
        wice: l.wice[k],
        t: l.t[k],
    };
    let snow: f64 = (l.top()..MAXSNL).map(|k| slab(k).enthalpy()).sum();
    let layerless = if l.nsnow == 0 {
        CPICE * scv_layerless * (l.t[k1] - TFRZ)
    } else {
        0.0
    };
    snow + slab(k1).enthalpy() + layerless
}
