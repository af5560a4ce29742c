//! Wet-bulb temperature of the air: the role of CoLM's `wetbulb` (psychrometric balance
//! c_p (T − T_w) = L_v (r_s(T_w) − r), solved by six averaged fixed-point steps starting at
//! T_w = T; mixing ratios r = q/(1 − q), the air taken as at most saturated).

use super::constants::{CPAIR, HVAP};
use super::saturation::saturation;

/// Wet-bulb temperature (K) of air at `t` (K), pressure `p` (Pa), humidity `q` (kg kg-1).
pub fn wet_bulb(t: f64, p: f64, q: f64) -> f64 {
    let qs = saturation(t, p).qs;
    let r = if q >= qs {
        qs / (1.0 - qs)
    } else {
        q / (1.0 - q)
    };
    let mut tw = t;
    for _ in 0..6 {
        let qs = saturation(tw, p).qs;
        let rws = qs / (1.0 - qs);
        tw = (tw + t + HVAP / CPAIR * (r - rws)) / 2.0;
    }
    tw
}
