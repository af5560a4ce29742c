//! Soil-moisture increments on a CoLM column (COLM.md §7): an increment δθ_j of CoLM's total
//! water goes to liquid water, w_liq += ρ_w Δz δθ, with the liquid kept within
//! [max(0, θ_lo − θ_ice), max(0, θ_sat − θ_ice)] so the pores never hold more than θ_sat and
//! the layer does not dry below its lower bound; ice is never changed. A zero or non-finite
//! increment leaves the layer as it is (a ponded top layer keeps its pond).

use super::super::constants::{DENH2O, NSOIL};
use super::super::geometry::SoilGeometry;
use super::super::layers::soil;
use super::cell::ColmCell;
use super::state::ColmState;

/// Apply `increment` (m3 m-3 per layer); the change of h2osoi of each layer goes to
/// `applied` when given.
pub fn apply(
    cell: &ColmCell,
    g: &SoilGeometry,
    st: &mut ColmState,
    increment: &[f64],
    mut applied: Option<&mut [f64]>,
) {
    for j in 0..NSOIL.min(increment.len()) {
        let inc = increment[j];
        if !inc.is_finite() || inc == 0.0 {
            continue;
        }
        let before = st.total(g, j);
        let ice = st.ice(g, j);
        let (lo, hi) = cell.bounds[j];
        let liq_hi = (cell.soil.porsl[j] - ice).max(0.0);
        let liq_lo = (lo - ice).max(0.0).min(liq_hi);
        let liq = (st.liquid(g, j) + inc).clamp(liq_lo, liq_hi);
        st.column.layers.wliq[soil(j)] = liq * DENH2O * g.dz[j];
        settle(st, g, j, lo, hi);
        if let Some(a) = applied.as_deref_mut() {
            a[j] = st.total(g, j) - before;
        }
    }
}

/// Moves the liquid water by a few units in the last place where rounding left the layer's
/// total just outside its bounds.
fn settle(st: &mut ColmState, g: &SoilGeometry, j: usize, lo: f64, hi: f64) {
    for _ in 0..8 {
        let total = st.total(g, j);
        let w = &mut st.column.layers.wliq[soil(j)];
        if total < lo {
            *w = w.next_up();
        } else if total > hi && *w > 0.0 {
            *w = w.next_down().max(0.0);
        } else {
            return;
        }
    }
}
