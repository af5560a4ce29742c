//! Division of thick snow layers: the role of CoLM's `snowlayersdivide` (TN §7.2.4,
//! subdivision of snow layers; Dai et al. 2003).
//!
//! The top layers are held at 0.02, 0.05, 0.11 and 0.23 m: going down, a layer thicker than
//! its target that has a layer below keeps exactly the target and passes the excess — the
//! same fraction of its ice and liquid, at its temperature — to the layer below, which takes
//! it with [`combine_pair`]. A new layer is made by halving the deepest layer (same
//! temperature, half of each water) when it is thicker than 0.03 m (single layer), 0.07,
//! 0.18 or 0.41 m (deepest of two, three or four layers), so that at most five exist.
//!
//! Water is conserved to round-off; the enthalpy change (only [`combine_pair`]'s defect, zero
//! when the layers are dry or all at T_f) is returned.

use super::constants::MAXSNL;
use super::layers::Layers;
use super::snow_slab::{self, combine_pair, SnowLayer};

/// Target thickness (m) of the layers above the deepest, top first.
pub const DZ_TARGET: [f64; MAXSNL - 1] = [0.02, 0.05, 0.11, 0.23];
/// Thickness (m) above which the deepest of n layers is halved (n = 1..4).
pub const DZ_SPLIT: [f64; MAXSNL - 1] = [0.03, 0.07, 0.18, 0.41];

/// Divide the snow layers of `l`. Returns the enthalpy change (J m-2).
pub fn divide(l: &mut Layers) -> f64 {
    let mut v = snow_slab::read(l);
    if v.is_empty() {
        return 0.0;
    }
    if v.len() == 1 {
        split_deepest(&mut v, 0);
    }
    let mut defect = 0.0;
    for i in 0..MAXSNL - 1 {
        if v.len() <= i + 1 || v[i].dz <= DZ_TARGET[i] {
            continue;
        }
        defect += pass_excess(&mut v, i);
        if i + 1 < MAXSNL - 1 && v.len() == i + 2 {
            split_deepest(&mut v, i + 1);
        }
    }
    snow_slab::write(l, &v);
    defect
}

/// Halve the deepest layer `n − 1` when thicker than its split thickness.
fn split_deepest(v: &mut Vec<SnowLayer>, n_minus_1: usize) {
    let d = v[n_minus_1];
    if d.dz > DZ_SPLIT[n_minus_1] {
        let half = SnowLayer {
            dz: d.dz / 2.0,
            wliq: d.wliq / 2.0,
            wice: d.wice / 2.0,
            t: d.t,
        };
        v[n_minus_1] = half;
        v.push(half);
    }
}

/// Cut layer `i` to its target and add the excess to layer `i + 1`.
fn pass_excess(v: &mut [SnowLayer], i: usize) -> f64 {
    let a = v[i];
    let target = DZ_TARGET[i];
    let drr = a.dz - target;
    let cut = drr / a.dz;
    let excess = SnowLayer {
        dz: drr,
        wliq: cut * a.wliq,
        wice: cut * a.wice,
        t: a.t,
    };
    let keep = target / a.dz;
    v[i] = SnowLayer {
        dz: target,
        wliq: keep * a.wliq,
        wice: keep * a.wice,
        t: a.t,
    };
    let (c, defect) = combine_pair(v[i + 1], excess);
    v[i + 1] = c;
    defect
}
