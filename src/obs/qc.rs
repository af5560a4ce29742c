//! Model-based quality control (SCIENCE.md §3): an observation at a cell is rejected when
//! the background says the retrieval cannot be trusted there. A pure function over
//! per-cell model diagnostics; every rule can be switched off (`None` / `false`).

use super::RejectCounts;

/// Model diagnostics of one cell in the background (ensemble mean over the window).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelQcInput {
    /// Precipitation rate (kg m⁻² s⁻¹).
    pub precip: f64,
    /// Frozen water per layer, total − liquid soil moisture (m³ m⁻³).
    pub frozen: Vec<f64>,
    /// Skin temperature (K).
    pub skin_t: f64,
    /// Top soil layer temperature (K).
    pub top_soil_t: f64,
    /// Snow water equivalent (m).
    pub swe: f64,
    /// Snow-covered fraction (0–1).
    pub snow_cover: f64,
    /// Forest land cover.
    pub is_forest: bool,
    /// Green vegetation fraction (0–1).
    pub green_fraction: f64,
    /// Wilting point of the top layer (m³ m⁻³).
    pub wilting: f64,
    /// Porosity (saturation) of the top layer (m³ m⁻³).
    pub porosity: f64,
}

/// Thresholds of the model-based rules; `None`/`false` switches a rule off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelQcRules {
    /// Reject when precipitation exceeds this (3e-6 kg m⁻² s⁻¹).
    pub max_precip: Option<f64>,
    /// Reject when any layer's frozen water exceeds this (1e-4 m³ m⁻³).
    pub max_frozen: Option<f64>,
    /// Reject when skin or top-soil temperature is at or below this (273.15 K).
    pub min_temperature: Option<f64>,
    /// Reject when SWE exceeds this (0.001 m).
    pub max_swe: Option<f64>,
    /// Reject when snow cover exceeds this (1e-4).
    pub max_snow_cover: Option<f64>,
    /// Reject over forest.
    pub reject_forest: bool,
    /// Reject when green vegetation fraction exceeds this (0.7).
    pub max_green_fraction: Option<f64>,
    /// Reject a bias-corrected value within this of wilting point or porosity (0.02).
    pub bound_margin: Option<f64>,
}

impl Default for ModelQcRules {
    fn default() -> Self {
        ModelQcRules {
            max_precip: Some(3.0e-6),
            max_frozen: Some(1.0e-4),
            min_temperature: Some(273.15),
            max_swe: Some(0.001),
            max_snow_cover: Some(1.0e-4),
            reject_forest: true,
            max_green_fraction: Some(0.7),
            bound_margin: Some(0.02),
        }
    }
}

impl ModelQcRules {
    /// Every rule off.
    pub fn none() -> Self {
        ModelQcRules {
            max_precip: None,
            max_frozen: None,
            min_temperature: None,
            max_swe: None,
            max_snow_cover: None,
            reject_forest: false,
            max_green_fraction: None,
            bound_margin: None,
        }
    }
}

/// Rule names, in application order.
pub const RULES: [&str; 8] = [
    "model_precipitation",
    "model_frozen_soil",
    "model_temperature",
    "model_swe",
    "model_snow_cover",
    "model_forest",
    "model_green_fraction",
    "model_near_bounds",
];

/// The first rule that rejects an observation whose bias-corrected value is `value`
/// (m³ m⁻³), or `None` when it passes.
pub fn model_qc(value: f64, m: &ModelQcInput, rules: &ModelQcRules) -> Option<&'static str> {
    if let Some(p) = rules.max_precip {
        if m.precip > p {
            return Some(RULES[0]);
        }
    }
    if let Some(f) = rules.max_frozen {
        if m.frozen.iter().any(|x| *x > f) {
            return Some(RULES[1]);
        }
    }
    if let Some(t) = rules.min_temperature {
        if m.skin_t <= t || m.top_soil_t <= t {
            return Some(RULES[2]);
        }
    }
    if let Some(s) = rules.max_swe {
        if m.swe > s {
            return Some(RULES[3]);
        }
    }
    if let Some(s) = rules.max_snow_cover {
        if m.snow_cover > s {
            return Some(RULES[4]);
        }
    }
    if rules.reject_forest && m.is_forest {
        return Some(RULES[5]);
    }
    if let Some(g) = rules.max_green_fraction {
        if m.green_fraction > g {
            return Some(RULES[6]);
        }
    }
    if let Some(d) = rules.bound_margin {
        if !value.is_finite() || value < m.wilting + d || value > m.porosity - d {
            return Some(RULES[7]);
        }
    }
    None
}

/// Apply [`model_qc`] to `(value, diagnostics)` pairs: the pass mask and the counts.
pub fn apply_model_qc(
    items: &[(f64, &ModelQcInput)],
    rules: &ModelQcRules,
) -> (Vec<bool>, RejectCounts) {
    let mut counts = RejectCounts::with_rules(&RULES);
    let keep = items
        .iter()
        .map(|(v, m)| match model_qc(*v, m, rules) {
            Some(rule) => {
                counts.add(rule);
                false
            }
            None => true,
        })
        .collect();
    (keep, counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> ModelQcInput {
        ModelQcInput {
            precip: 0.0,
            frozen: vec![0.0; 4],
            skin_t: 290.0,
            top_soil_t: 288.0,
            swe: 0.0,
            snow_cover: 0.0,
            is_forest: false,
            green_fraction: 0.4,
            wilting: 0.08,
            porosity: 0.45,
        }
    }

    #[test]
    fn each_rule_fires_and_can_be_switched_off() {
        let r = ModelQcRules::default();
        assert_eq!(model_qc(0.25, &good(), &r), None);
        let cases: Vec<(ModelQcInput, f64, &str)> = vec![
            (
                ModelQcInput {
                    precip: 4e-6,
                    ..good()
                },
                0.25,
                "model_precipitation",
            ),
            (
                ModelQcInput {
                    frozen: vec![0.0, 2e-4, 0.0, 0.0],
                    ..good()
                },
                0.25,
                "model_frozen_soil",
            ),
            (
                ModelQcInput {
                    skin_t: 273.15,
                    ..good()
                },
                0.25,
                "model_temperature",
            ),
            (
                ModelQcInput {
                    top_soil_t: 270.0,
                    ..good()
                },
                0.25,
                "model_temperature",
            ),
            (
                ModelQcInput {
                    swe: 0.002,
                    ..good()
                },
                0.25,
                "model_swe",
            ),
            (
                ModelQcInput {
                    snow_cover: 0.01,
                    ..good()
                },
                0.25,
                "model_snow_cover",
            ),
            (
                ModelQcInput {
                    is_forest: true,
                    ..good()
                },
                0.25,
                "model_forest",
            ),
            (
                ModelQcInput {
                    green_fraction: 0.8,
                    ..good()
                },
                0.25,
                "model_green_fraction",
            ),
            (good(), 0.09, "model_near_bounds"),
            (good(), 0.44, "model_near_bounds"),
        ];
        for (m, v, rule) in &cases {
            assert_eq!(model_qc(*v, m, &r), Some(*rule));
            assert_eq!(model_qc(*v, m, &ModelQcRules::none()), None);
        }
        let items: Vec<(f64, &ModelQcInput)> = cases.iter().map(|(m, v, _)| (*v, m)).collect();
        let (keep, counts) = apply_model_qc(&items, &r);
        assert!(keep.iter().all(|k| !k));
        assert_eq!(counts.get("model_temperature"), 2);
        assert_eq!(counts.get("model_near_bounds"), 2);
        assert_eq!(counts.total(), cases.len());
    }
}
