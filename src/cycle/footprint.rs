//! What a run will need before it starts: memory per rank and disk per cycle, from the
//! land-cell count, the ensemble size and the model's state size, so that `landcycle check`
//! refuses a configuration that cannot run (an ensemble of 100000 members) instead of `run`
//! aborting on an allocation.
//!
//! An estimate, not a measurement: the ensemble is counted three times (the states, the
//! background kept for the analysis, the packed copies of output and restarts), the root
//! rank also gathers one restart, and every rank holds the grid's static fields (about 16
//! values per grid cell) and, with spatially correlated perturbations, one padded field per
//! member and perturbed variable.

use crate::config::Config;

/// The estimate for one configuration on `ranks` ranks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Footprint {
    pub n_land: usize,
    pub ranks: usize,
    /// Bytes of one member's state of one cell.
    pub member_state_bytes: usize,
    /// Peak memory of the root rank (the largest), bytes.
    pub memory_per_rank: u64,
    /// Restart plus history files of one cycle, bytes.
    pub disk_per_cycle: u64,
    /// One restart file, bytes.
    pub restart_bytes: u64,
    /// The history files of one cycle, bytes.
    pub history_per_cycle: u64,
}

/// The estimate for `cfg` with `n_land` land cells of `n_grid` grid cells on `ranks` ranks.
pub fn estimate(cfg: &Config, n_land: usize, n_grid: usize, ranks: usize) -> Footprint {
    let ranks = ranks.max(1);
    let members = u64::from(cfg.run.ensemble_size);
    let state = super::select::member_state_bytes(cfg) as u64;
    let per_rank_cells = n_land.div_ceil(ranks) as u64;
    let ensemble = 3 * per_rank_cells * members * state;
    let restart = n_land as u64 * members * state;
    let statics = 16 * 8 * n_grid as u64;
    let p = &cfg.perturbation;
    let fields = if p.spatial_corr_km > 0.0 {
        let vars = (p.forcing_vars.len() + p.state_std.len()) as u64;
        4 * n_grid as u64 * members * vars * 8
    } else {
        0
    };
    // History: ensemble mean and spread of the state (f32) at every history time.
    let times = u64::from(cfg.run.window_hours / cfg.run.history_interval_hours.max(1)).max(1);
    let history = times * n_land as u64 * 2 * (state / 8) * 4;
    Footprint {
        n_land,
        ranks,
        member_state_bytes: state as usize,
        memory_per_rank: ensemble + restart + statics + fields,
        disk_per_cycle: restart + history,
        restart_bytes: restart,
        history_per_cycle: history,
    }
}

/// Bytes as "12.3 GiB".
pub fn human(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", units[u])
}
