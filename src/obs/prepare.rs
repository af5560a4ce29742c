//! The per-cell observation chain of one analysis: bias correction (optional) and the
//! model-based QC, with rejections counted by rule. Input are the cells from
//! [`super::mapping::map_to_grid`]; output are the cells the EnKF assimilates.

use super::mapping::CellObs;
use super::qc::{model_qc, ModelQcInput, ModelQcRules, RULES as QC_RULES};
use super::RejectCounts;
use crate::biascorr::{BiasMethod, BiasRejection, Climatology};

/// Bias correction to apply before the model QC.
#[derive(Debug, Clone, Copy)]
pub struct BiasStep<'a> {
    pub climatology: &'a Climatology,
    pub method: BiasMethod,
    /// The observations are in other units than the model (ASCAT % saturation): rescale the
    /// error, and the anomaly of the anomaly correction, by sd_model / sd_obs.
    pub rescale_error: bool,
}

/// Rule name when the cycle has no model diagnostics for a cell (not on this rank).
pub const NO_MODEL_CELL: &str = "no_model_cell";

/// Bias-correct (when `bias` is given) and model-QC the cells of `month` (1–12).
/// `model(cell)` gives the background diagnostics of a cell. The bias-corrected value is
/// what the near-bounds rule tests.
pub fn prepare_cells<F>(
    cells: &[CellObs],
    month: u32,
    bias: Option<BiasStep>,
    rules: &ModelQcRules,
    model: F,
) -> (Vec<CellObs>, RejectCounts)
where
    F: Fn(usize) -> Option<ModelQcInput>,
{
    let mut names: Vec<&str> = vec![
        BiasRejection::InsufficientSamples.rule(),
        BiasRejection::DegenerateCdf.rule(),
        BiasRejection::OutsideTrainingRange.rule(),
        NO_MODEL_CELL,
    ];
    names.extend(QC_RULES);
    let mut counts = RejectCounts::with_rules(&names);
    let mut out = Vec::with_capacity(cells.len());
    for c in cells {
        let mut c = *c;
        if let Some(b) = bias {
            match b.climatology.correct(
                c.cell,
                month,
                c.value,
                c.error_sd,
                b.method,
                b.rescale_error,
            ) {
                Ok((v, e)) => {
                    c.value = v;
                    c.error_sd = e;
                }
                Err(r) => {
                    counts.add(r.rule());
                    continue;
                }
            }
        }
        let Some(m) = model(c.cell) else {
            counts.add(NO_MODEL_CELL);
            continue;
        };
        if let Some(rule) = model_qc(c.value, &m, rules) {
            counts.add(rule);
            continue;
        }
        out.push(c);
    }
    (out, counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::biascorr::ClimatologyBuilder;
    use chrono::NaiveDate;

    #[test]
    fn bias_then_model_qc_with_counts() {
        // One row of 3 cells; June statistics: model 0.2..0.3, obs 20..40 (% saturation).
        let mut b = ClimatologyBuilder::new(vec![0.0], vec![0.0, 1.0, 2.0], 11);
        for i in 0..=20 {
            for cell in 0..2 {
                b.add_model(cell, 6, 0.2 + 0.005 * i as f64);
                b.add_obs(cell, 6, 20.0 + i as f64);
            }
        }
        let clim = b.finish(10, "ascat", "percent saturation");
        let t = NaiveDate::from_ymd_opt(2020, 6, 1)
            .unwrap()
            .and_hms_opt(6, 0, 0)
            .unwrap();
        let cell = |cell: usize, value: f64| CellObs {
            cell,
            iy: 0,
            ix: cell,
            value,
            error_sd: 10.0,
            time: t,
            count: 1,
        };
        let cells = [cell(0, 30.0), cell(1, 45.0), cell(2, 30.0), cell(0, 20.0)];
        let good = ModelQcInput {
            precip: 0.0,
            frozen: vec![0.0],
            skin_t: 290.0,
            top_soil_t: 290.0,
            swe: 0.0,
            snow_cover: 0.0,
            is_forest: false,
            green_fraction: 0.3,
            wilting: 0.1,
            porosity: 0.45,
        };
        let step = BiasStep {
            climatology: &clim,
            method: BiasMethod::CdfMatching,
            rescale_error: true,
        };
        let (out, counts) = prepare_cells(&cells, 6, Some(step), &ModelQcRules::default(), |c| {
            (c < 2).then(|| good.clone())
        });
        assert_eq!(counts.get("bias_outside_training_range"), 1); // 45 %
        assert_eq!(counts.get("bias_insufficient_samples"), 1); // cell 2
        assert_eq!(out.len(), 2);
        assert!((out[0].value - 0.25).abs() < 1e-12);
        assert!((out[1].value - 0.20).abs() < 1e-12);
        // σ' = 10 % × sd_model / sd_obs = 10 × 0.005 = 0.05 m³ m⁻³.
        assert!((out[0].error_sd - 0.05).abs() < 1e-12);
        // With porosity 0.26 the 0.25 value lies within 0.02 of saturation.
        let near = ModelQcInput {
            porosity: 0.26,
            ..good.clone()
        };
        let (out, counts) =
            prepare_cells(&cells[..1], 6, Some(step), &ModelQcRules::default(), |_| {
                Some(near.clone())
            });
        assert!(out.is_empty());
        assert_eq!(counts.get("model_near_bounds"), 1);

        // Anomaly correction of % saturation observations: the anomaly is rescaled into
        // m³ m⁻³ (mean and variance matching). Obs mean 30 %, model mean 0.25, sd ratio 0.005:
        // 36 % → 0.25 + 6 × 0.005 = 0.28.
        let anomaly = BiasStep {
            method: BiasMethod::Anomaly,
            ..step
        };
        let (out, _) = prepare_cells(
            &[cell(0, 36.0), cell(1, 24.0)],
            6,
            Some(anomaly),
            &ModelQcRules::default(),
            |_| Some(good.clone()),
        );
        assert_eq!(out.len(), 2);
        assert!((out[0].value - 0.28).abs() < 1e-12, "{}", out[0].value);
        assert!((out[1].value - 0.22).abs() < 1e-12, "{}", out[1].value);
        assert!((out[0].error_sd - 0.05).abs() < 1e-12);
        // Same units (rescale off): the plain anomaly correction of SCIENCE.md section 4.
        let (v, e) = clim
            .correct(0, 6, 36.0, 10.0, BiasMethod::Anomaly, false)
            .unwrap();
        assert!((v - (0.25 + 6.0)).abs() < 1e-12 && e == 10.0, "{v} {e}");
    }
}
