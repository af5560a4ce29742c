//! The retrievals image (`image:source = 'retrievals'`): the observations the 1-D EnKF
//! accepted in the last `retrieval_hours` of the window (bias-corrected, model QC passed,
//! m³ m⁻³), averaged per cell on the rank that owns the cell and placed by global id on the
//! root's grid. A cell's values are summed in analysis-time and product order on one rank,
//! so the image never depends on the decomposition. Nothing is carried past the window end:
//! the period is at most the window, so restarts need no extra state.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDateTime};

use super::analysis_1d::AcceptedRetrieval;
use crate::parallel::Communicator;

/// This rank's accepted retrievals of the window, per cell.
pub struct RetrievalImage {
    /// Per product (index in `da:sensors`): whether it makes the image.
    used: Vec<bool>,
    period: Duration,
    /// Per cell (global id): (analysis time, value) in the order accepted.
    cells: BTreeMap<u64, Vec<(NaiveDateTime, f64)>>,
}

impl RetrievalImage {
    pub fn new(used: Vec<bool>, period: Duration) -> Self {
        RetrievalImage {
            used,
            period,
            cells: BTreeMap::new(),
        }
    }

    /// Keep the retrievals accepted at analysis time `t` by the products that make the image.
    pub fn note(&mut self, t: NaiveDateTime, accepted: &[AcceptedRetrieval]) {
        for r in accepted {
            if self.used.get(r.product).copied().unwrap_or(false) {
                self.cells.entry(r.cell_id).or_default().push((t, r.value));
            }
        }
    }

    /// The image valid at `t` on the root (`n_grid` cells, NaN where no retrieval), from the
    /// retrievals accepted in (t − period, t]; forgets everything noted. Collective.
    pub fn gather(
        &mut self,
        comm: &dyn Communicator,
        t: NaiveDateTime,
        n_grid: usize,
    ) -> Option<Vec<f64>> {
        let since = t - self.period;
        let mut ids = Vec::new();
        let mut means = Vec::new();
        for (&id, values) in &self.cells {
            let recent: Vec<f64> = values
                .iter()
                .filter(|(at, _)| *at > since && *at <= t)
                .map(|&(_, v)| v)
                .collect();
            if !recent.is_empty() {
                ids.push(id);
                means.push(recent.iter().sum::<f64>() / recent.len() as f64);
            }
        }
        self.cells.clear();
        let ids = comm.gatherv_u64(&ids, 0);
        let means = comm.gatherv_f64(&means, 0);
        let (ids, means) = (ids?, means?);
        let mut image = vec![f64::NAN; n_grid];
        for (&id, &v) in ids.iter().flatten().zip(means.iter().flatten()) {
            if let Some(px) = image.get_mut(id as usize) {
                *px = v;
            }
        }
        Some(image)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parallel::SingleProcess;

    fn t(h: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2020, 6, 1)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
    }

    fn r(cell_id: u64, product: usize, value: f64) -> AcceptedRetrieval {
        AcceptedRetrieval {
            cell_id,
            product,
            value,
        }
    }

    #[test]
    fn image_is_the_per_cell_mean_of_the_used_products_in_the_period() {
        let mut img = RetrievalImage::new(vec![true, false], Duration::hours(3));
        img.note(t(1), &[r(2, 0, 0.9)]); // before the period: dropped
        img.note(t(4), &[r(2, 0, 0.2), r(2, 1, 0.5), r(5, 0, 0.3)]);
        img.note(t(6), &[r(2, 0, 0.4)]);
        let out = img.gather(&SingleProcess, t(6), 8).unwrap();
        assert!((out[2] - 0.3).abs() < 1e-15, "{out:?}");
        assert_eq!(out[5], 0.3);
        assert_eq!(out.iter().filter(|v| v.is_finite()).count(), 2);
        // Everything is forgotten at the analysis.
        let again = img.gather(&SingleProcess, t(6), 8).unwrap();
        assert!(again.iter().all(|v| v.is_nan()));
    }
}
