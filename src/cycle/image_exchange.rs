//! The image stage's data movement: every rank's soil moisture of the gathered layers (all
//! members) and its model-QC flag go to the root as whole-grid fields placed by global id;
//! the root's increments come back to the owning ranks in their local cell order. Fields
//! are assembled by global id, so what the analysis sees never depends on the
//! decomposition.

use chrono::NaiveDateTime;

use super::ensemble::CellEnsemble;
use super::error::CycleError;
use crate::lsm::LandModel;
use crate::obs::qc::{model_qc, ModelQcInput, ModelQcRules};
use crate::parallel::Communicator;

/// The gathered ensemble on the root: `layers[l][m]` is member m's layer l on the full grid
/// (`ny·nx`, NaN off land); `qc_ok[k]` marks land cells passing the model QC.
pub struct GatheredFields {
    pub layers: Vec<Vec<Vec<f64>>>,
    pub qc_ok: Vec<bool>,
    /// Global ids of every rank's cells, in their local order (for the scatter).
    pub rank_ids: Vec<Vec<u64>>,
}

/// Model QC of the image: frozen soil, temperature at or below freezing, snow (IMAGE.md §3).
pub fn image_qc_rules() -> ModelQcRules {
    let d = ModelQcRules::default();
    ModelQcRules {
        max_frozen: d.max_frozen,
        min_temperature: d.min_temperature,
        max_swe: d.max_swe,
        max_snow_cover: d.max_snow_cover,
        ..ModelQcRules::none()
    }
}

/// Whether local cell `c` passes the image's model QC at `t` (ensemble means).
fn passes_qc<M: LandModel>(model: &M, ens: &CellEnsemble<M>, c: usize, t: NaiveDateTime) -> bool {
    let q = model.qc_state(ens.params(c), ens.members(c), t);
    let input = ModelQcInput {
        frozen: q.frozen,
        skin_t: q.skin_temperature,
        top_soil_t: q.top_soil_temperature,
        swe: q.swe,
        snow_cover: q.snow_cover,
        ..ModelQcInput::default()
    };
    model_qc(f64::NAN, &input, &image_qc_rules()).is_none()
}

/// Gather layers `0..n_layers` of every member and the QC flag to the root. Collective;
/// `Some` on the root.
pub fn gather<M: LandModel>(
    comm: &dyn Communicator,
    (model, ens): (&M, &CellEnsemble<M>),
    n_layers: usize,
    t: NaiveDateTime,
    n_grid: usize,
) -> Option<GatheredFields> {
    let n = ens.n_members();
    let width = 1 + n_layers * n;
    let mut send = Vec::with_capacity(ens.n_cells() * width);
    let mut theta = Vec::new();
    for c in 0..ens.n_cells() {
        send.push(if passes_qc(model, ens, c, t) {
            1.0
        } else {
            0.0
        });
        let start = send.len();
        send.resize(start + n_layers * n, 0.0);
        for (m, s) in ens.members(c).iter().enumerate() {
            theta.clear();
            model.extend_soil_moisture(s, &mut theta);
            for l in 0..n_layers {
                send[start + l * n + m] = theta[l];
            }
        }
    }
    let ids = comm.gatherv_u64(ens.ids(), 0);
    let values = comm.gatherv_f64_owned(send, 0);
    let (rank_ids, values) = (ids?, values?);
    let mut layers = vec![vec![vec![f64::NAN; n_grid]; n]; n_layers];
    let mut qc_ok = vec![false; n_grid];
    for (ids, vals) in rank_ids.iter().zip(&values) {
        for (&id, rec) in ids.iter().zip(vals.chunks_exact(width)) {
            let k = id as usize;
            qc_ok[k] = rec[0] == 1.0;
            for (l, layer) in layers.iter_mut().enumerate() {
                for (m, member) in layer.iter_mut().enumerate() {
                    member[k] = rec[1 + l * n + m];
                }
            }
        }
    }
    Some(GatheredFields {
        layers,
        qc_ok,
        rank_ids,
    })
}

/// Root: the per-rank blocks of increments `inc[l][m]` (full-grid fields), each in that
/// rank's local cell order with layers × members per cell.
pub fn increment_blocks(rank_ids: &[Vec<u64>], inc: &[Vec<Vec<f64>>]) -> Vec<Vec<f64>> {
    let n_layers = inc.len();
    let n = inc.first().map_or(0, Vec::len);
    rank_ids
        .iter()
        .map(|ids| {
            let mut b = Vec::with_capacity(ids.len() * n_layers * n);
            for &id in ids {
                for layer in inc {
                    b.extend(layer.iter().map(|member| member[id as usize]));
                }
            }
            b
        })
        .collect()
}

/// Scatter the increment blocks and apply them to this rank's members through the model
/// (bounds kept). A member whose increment is zero in every layer is not touched, so a
/// cell the analysis did not reach stays bit-identical. Collective.
pub fn scatter_apply<M: LandModel>(
    comm: &dyn Communicator,
    (model, ens): (&M, &mut CellEnsemble<M>),
    blocks: Option<&[Vec<f64>]>,
    n_layers: usize,
) -> Result<(), CycleError> {
    let mine = comm.scatterv_f64(blocks, 0);
    let n = ens.n_members();
    let width = n_layers * n;
    if mine.len() != ens.n_cells() * width {
        return Err(CycleError::Invalid(format!(
            "image analysis: {} increment values for {} cells × {width}",
            mine.len(),
            ens.n_cells()
        )));
    }
    let mut inc = vec![0.0; model.n_soil_layers()];
    for (c, rec) in mine.chunks_exact(width.max(1)).enumerate() {
        let (params, members) = ens.cell_mut(c);
        for (m, state) in members.iter_mut().enumerate() {
            for (l, x) in inc.iter_mut().enumerate().take(n_layers) {
                *x = rec[l * n + m];
            }
            if inc.iter().all(|&x| x == 0.0) {
                continue;
            }
            model.apply_increment_in_place(params, state, &inc);
        }
    }
    Ok(())
}
