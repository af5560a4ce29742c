//! Removal and combination of snow layers: the role of CoLM's `snowlayerscombine` (TN §7.2.4,
//! combination of snow layers; Dai et al. 2003).
//!
//! 1. A layer with 0.1 kg m-2 of ice or less gives its water to the layer below (the top
//!    soil layer under the bottom snow layer) and disappears; layers are visited top down,
//!    so a layer that received water is judged with it.
//! 2. The SWE and depth become the sums over the layers left; below 0.01 m of depth the
//!    layers go: their ice becomes snow without layers (SWE = ice), their liquid goes to the
//!    top soil layer.
//! 3. With two or more layers, a layer thinner than the minimum of its position from the top,
//!    0.010, 0.015, 0.025, 0.055, 0.115 m (the position counts the layers kept so far), is
//!    combined ([`combine_pair`]) with its neighbour: the one below for the top layer, the one
//!    above for the bottom layer, otherwise the one whose sum with it is thinner (below on a
//!    tie); the combined layer is judged again at the same position. Stops at one layer.
//!
//! Water is conserved to round-off (ice + liquid of snow, top soil layer and layerless snow); the
//! enthalpy change (water moved without its heat, layers dissolved into layerless snow,
//! [`combine_pair`]'s defect) is returned.

use super::constants::MAXSNL;
use super::layers::{soil, Layers};
use super::phase_change::ThinSnow;
use super::snow_slab::{self, combine_pair, surface_enthalpy, SnowLayer};

/// Minimum thickness (m) of a snow layer by its position from the top.
pub const DZ_MIN: [f64; MAXSNL] = [0.010, 0.015, 0.025, 0.055, 0.115];
/// Ice (kg m-2) at or below which a snow layer is removed.
pub const WICE_MIN: f64 = 0.1;
/// Depth (m) below which the snow keeps no layers.
pub const DEPTH_MIN: f64 = 0.01;

/// Remove and combine snow layers of `l`; `snow` receives the SWE (mm) and depth (m).
/// Returns the change of [`surface_enthalpy`] (J m-2).
pub fn combine(l: &mut Layers, snow: &mut ThinSnow) -> f64 {
    let h0 = surface_enthalpy(l, snow.scv);
    let mut v = snow_slab::read(l);
    remove_icefree(&mut v, l);
    if v.is_empty() {
        snow_slab::write(l, &v);
        snow.scv = 0.0;
        snow.snowdp = 0.0;
        return surface_enthalpy(l, snow.scv) - h0;
    }
    snow.scv = v.iter().map(SnowLayer::mass).sum();
    snow.snowdp = v.iter().map(|s| s.dz).sum();
    if snow.snowdp < DEPTH_MIN {
        let zwice: f64 = v.iter().map(|s| s.wice).sum();
        let zwliq: f64 = v.iter().map(|s| s.wliq).sum();
        snow_slab::write(l, &[]);
        snow.scv = zwice;
        if snow.scv <= 0.0 {
            snow.snowdp = 0.0;
        }
        l.wliq[soil(0)] += zwliq;
        return surface_enthalpy(l, snow.scv) - h0;
    }
    merge_thin(&mut v);
    snow_slab::write(l, &v);
    surface_enthalpy(l, snow.scv) - h0
}

/// Step 1: layers with too little ice pass their water down and vanish.
fn remove_icefree(v: &mut Vec<SnowLayer>, l: &mut Layers) {
    let mut i = 0;
    while i < v.len() {
        if v[i].wice > WICE_MIN {
            i += 1;
            continue;
        }
        let gone = v.remove(i);
        if let Some(below) = v.get_mut(i) {
            below.wliq += gone.wliq;
            below.wice += gone.wice;
        } else {
            l.wliq[soil(0)] += gone.wliq;
            l.wice[soil(0)] += gone.wice;
        }
    }
}

/// Step 3: thin layers merge with a neighbour until each meets its position's minimum.
fn merge_thin(v: &mut Vec<SnowLayer>) {
    let mut i = 0;
    let mut pos = 0;
    while i < v.len() && v.len() > 1 {
        if v[i].dz >= DZ_MIN[pos] {
            i += 1;
            pos += 1;
            continue;
        }
        // The neighbour above for the bottom layer, or when the pair above is thinner.
        let with_above =
            i > 0 && (i == v.len() - 1 || v[i - 1].dz + v[i].dz < v[i + 1].dz + v[i].dz);
        let upper = if with_above { i - 1 } else { i };
        let (c, _) = combine_pair(v[upper + 1], v[upper]);
        v[upper + 1] = c;
        v.remove(upper);
    }
}
