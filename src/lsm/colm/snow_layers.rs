//! The snow-layer bookkeeping of one step, in CoLM's order (COLM.md §2, steps 2, 6 and 7):
//! the snow-layer count recounted from the layers' water and the ice fractions at the step's
//! start (CoLM's `CLMMAIN` set-up), and, after the soil water, compaction
//! ([`super::snow_compaction`]), removal and combination ([`super::snow_combine`]) and
//! division ([`super::snow_divide`]) of the snow layers.

use super::constants::{MAXSNL, NLAYER};
use super::layers::Layers;
use super::phase_change::ThinSnow;
use super::snow_combine::combine;
use super::snow_compaction::compact;
use super::snow_divide::divide;
use super::snow_slab;

/// Recount the snow layers from water (liquid + ice > 0), restack them on the soil and return
/// each snow layer's ice fraction w_ice/(w_ice + w_liq) (0 elsewhere).
pub fn start_of_step(l: &mut Layers) -> [f64; NLAYER] {
    let n = (0..MAXSNL).filter(|&k| l.wliq[k] + l.wice[k] > 0.0).count();
    l.nsnow = n;
    let v = snow_slab::read(l);
    snow_slab::write(l, &v);
    let mut fiold = [0.0; NLAYER];
    for k in l.top()..MAXSNL {
        fiold[k] = l.wice[k] / (l.wliq[k] + l.wice[k]);
    }
    fiold
}

/// Compact, combine and divide the snow layers after the soil water step; `imelt` from the
/// phase change, `fiold` from [`start_of_step`]. Returns the enthalpy change of combination
/// and division (J m-2; see [`snow_slab::surface_enthalpy`]).
pub fn after_water(
    l: &mut Layers,
    snow: &mut ThinSnow,
    imelt: &[u8; NLAYER],
    fiold: &[f64; NLAYER],
    dt: f64,
) -> f64 {
    // Snow without layers is left alone (CoLM runs all three only with snow layers).
    if l.nsnow == 0 {
        return 0.0;
    }
    compact(l, imelt, fiold, dt);
    let mut dh = combine(l, snow);
    if l.nsnow > 0 {
        dh += divide(l);
    }
    dh
}
