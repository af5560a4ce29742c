//! What the observation QC reads of a CoLM cell's ensemble (ensemble means, members summed in
//! order): frozen water per layer (the ice volume fraction), ground and top-soil temperature,
//! SWE and snow cover, the land cover's forest flag and the static file's green fraction (the
//! same seasonal view the Noah QC uses, so both models screen the same observations alike).

use chrono::NaiveDateTime;

use super::super::constants::NSOIL;
use super::super::geometry::SoilGeometry;
use super::cell::ColmCell;
use super::state::ColmState;
use crate::lsm::noah::qc_view::green_fraction_at;
use crate::lsm::QcState;

pub fn qc_state(
    cell: &ColmCell,
    g: &SoilGeometry,
    members: &[ColmState],
    t: NaiveDateTime,
) -> QcState {
    let inv = 1.0 / members.len().max(1) as f64;
    let mut frozen = vec![0.0; NSOIL];
    let (mut skin, mut tsoil, mut swe, mut cover) = (0.0, 0.0, 0.0, 0.0);
    for s in members {
        for (j, f) in frozen.iter_mut().enumerate() {
            *f += s.ice(g, j) * inv;
        }
        skin += s.ground_temperature() * inv;
        tsoil += s.soil_temperature(0) * inv;
        swe += s.column.snow.scv * 1e-3 * inv;
        cover += s.column.fsno * inv;
    }
    QcState {
        frozen,
        skin_temperature: skin,
        top_soil_temperature: tsoil,
        swe,
        snow_cover: cover,
        is_forest: cell.forest,
        green_fraction: green_fraction_at(&cell.green_fraction_monthly, t),
    }
}
