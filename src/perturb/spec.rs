//! Perturbation specifications (what the namelist configures) and their validation.

use serde::{Deserialize, Serialize};

use super::PerturbError;

/// How a perturbation value combines with the field it perturbs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PerturbKind {
    /// field + σ y (same unit as the field).
    Additive,
    /// field × exp(μ + s y), lognormal with mean 1 and standard deviation σ.
    Multiplicative,
}

/// One perturbed variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerturbVar {
    /// Which field is perturbed; see [`PerturbTarget::from_name`] for accepted names.
    pub name: String,
    pub kind: PerturbKind,
    /// Standard deviation σ of the perturbation (field unit for additive, fraction for
    /// multiplicative).
    pub std: f64,
    /// AR(1) time scale τ (s); 0 gives white noise in time.
    pub tau_seconds: f64,
    /// Lower physical bound of the perturbed field (overrides the target's default).
    #[serde(default)]
    pub lower: Option<f64>,
    /// Upper physical bound of the perturbed field (overrides the target's default).
    #[serde(default)]
    pub upper: Option<f64>,
}

/// Shape of the spatial covariance c(r).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CovarianceShape {
    /// c(r) = exp(−r² / (2 L²)).
    Gaussian,
    /// c(r) = exp(−r / L).
    Exponential,
}

/// Spatial correlation of the innovations over a regular (ny, nx) grid.
///
/// The global cell id of a cell must be its row-major index `j * nx + i` in this grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpatialCorrelation {
    /// Correlation length L (km).
    pub length_km: f64,
    pub shape: CovarianceShape,
    pub ny: usize,
    pub nx: usize,
    /// Cell spacing along y (rows) and x (columns), km.
    pub dy_km: f64,
    pub dx_km: f64,
}

impl SpatialCorrelation {
    /// Spacing of a regular latitude-longitude grid at a reference latitude (spherical Earth,
    /// radius 6371.0 km).
    pub fn from_lat_lon(
        length_km: f64,
        shape: CovarianceShape,
        ny: usize,
        nx: usize,
        dlat_deg: f64,
        dlon_deg: f64,
        reference_latitude_deg: f64,
    ) -> Self {
        let km_per_deg = 6371.0 * std::f64::consts::PI / 180.0;
        SpatialCorrelation {
            length_km,
            shape,
            ny,
            nx,
            dy_km: dlat_deg.abs() * km_per_deg,
            dx_km: dlon_deg.abs() * km_per_deg * reference_latitude_deg.to_radians().cos(),
        }
    }
}

/// A group of jointly (cross-)correlated perturbed variables sharing one perturbation clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerturbGroup {
    /// Name used in error messages (e.g. "forcing", "soil_moisture").
    pub name: String,
    pub vars: Vec<PerturbVar>,
    /// Cross-correlation matrix C (n×n, row-major), symmetric, unit diagonal, positive definite.
    pub correlation: Vec<f64>,
    /// Perturbation interval Δt_pert (s): values are held constant between perturbation times.
    pub interval_seconds: i64,
    /// Clip the standard-normal perturbation y to ±this value (default 2.5).
    #[serde(default = "default_std_normal_max")]
    pub std_normal_max: f64,
    /// Remove the ensemble mean of the AR(1) state per cell and variable (default true).
    #[serde(default = "default_true")]
    pub remove_ensemble_mean: bool,
    /// Spatially correlated innovations (off by default).
    #[serde(default)]
    pub spatial: Option<SpatialCorrelation>,
}

fn default_std_normal_max() -> f64 {
    2.5
}

fn default_true() -> bool {
    true
}

/// The field a perturbed variable acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PerturbTarget {
    ShortwaveDown,
    LongwaveDown,
    Precipitation,
    AirTemperature,
    SpecificHumidity,
    WindSpeed,
    /// Soil moisture of one layer (0-based, top first).
    SoilMoisture(usize),
}

impl PerturbTarget {
    /// Accepted names (case-insensitive): `swdown`/`shortwave_down`, `lwdown`/`longwave_down`,
    /// `rainf`/`precipitation`, `tair`/`air_temperature`, `qair`/`specific_humidity`,
    /// `wind`/`wind_speed`, `soil_moisture_<k>`/`soilmoist<k>` with k ≥ 1 the layer.
    pub fn from_name(name: &str) -> Option<Self> {
        let n = name.trim().to_ascii_lowercase();
        let t = match n.as_str() {
            "swdown" | "shortwave_down" => Self::ShortwaveDown,
            "lwdown" | "longwave_down" => Self::LongwaveDown,
            "rainf" | "precipitation" => Self::Precipitation,
            "tair" | "air_temperature" => Self::AirTemperature,
            "qair" | "specific_humidity" => Self::SpecificHumidity,
            "wind" | "wind_speed" => Self::WindSpeed,
            _ => {
                let layer = n
                    .strip_prefix("soil_moisture_")
                    .or_else(|| n.strip_prefix("soilmoist"))?;
                let k: usize = layer.parse().ok()?;
                if k == 0 {
                    return None;
                }
                Self::SoilMoisture(k - 1)
            }
        };
        Some(t)
    }

    pub fn is_forcing(self) -> bool {
        !matches!(self, Self::SoilMoisture(_))
    }

    /// Default physical bounds of the perturbed field (lower, upper).
    pub fn default_bounds(self) -> (Option<f64>, Option<f64>) {
        match self {
            Self::ShortwaveDown
            | Self::LongwaveDown
            | Self::Precipitation
            | Self::SpecificHumidity
            | Self::WindSpeed => (Some(0.0), None),
            // Absolute zero is the only universal bound; a tighter one is a user choice.
            Self::AirTemperature => (Some(0.0), None),
            // The model's own bounds apply through LandModel::apply_increment.
            Self::SoilMoisture(_) => (None, None),
        }
    }
}

/// Whether a group perturbs forcing or the soil-moisture state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupRole {
    Forcing,
    SoilMoisture,
}

fn group_err(group: &str, msg: String) -> PerturbError {
    PerturbError::Config {
        group: group.to_string(),
        message: msg,
    }
}

/// Validated per-variable facts derived from a [`PerturbVar`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResolvedVar {
    pub target: PerturbTarget,
    pub kind: PerturbKind,
    pub std: f64,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    /// Lognormal parameters (multiplicative only): s = √ln(1+σ²), μ = −s²/2.
    pub log_s: f64,
    pub log_mu: f64,
}

impl PerturbGroup {
    /// Check everything except the correlation matrix's definiteness (see
    /// `PerturbGenerator::new`), and resolve targets and bounds.
    pub(crate) fn resolve(&self) -> Result<(GroupRole, Vec<ResolvedVar>), PerturbError> {
        let g = self.name.as_str();
        let n = self.vars.len();
        if n == 0 {
            return Err(group_err(g, "no perturbed variables".into()));
        }
        if n > super::rng::MAX_VAR_INDEX as usize {
            return Err(group_err(g, format!("{n} variables is too many")));
        }
        if self.interval_seconds <= 0 {
            return Err(group_err(
                g,
                format!(
                    "interval_seconds must be > 0, got {}",
                    self.interval_seconds
                ),
            ));
        }
        if !(self.std_normal_max.is_finite() && self.std_normal_max > 0.0) {
            return Err(group_err(
                g,
                format!("std_normal_max must be > 0, got {}", self.std_normal_max),
            ));
        }
        let mut resolved = Vec::with_capacity(n);
        for v in &self.vars {
            let target = PerturbTarget::from_name(&v.name).ok_or_else(|| {
                group_err(g, format!("variable '{}': unknown perturbation target (expected swdown, lwdown, rainf, tair, qair, wind or soil_moisture_<layer>)", v.name))
            })?;
            if resolved.iter().any(|r: &ResolvedVar| r.target == target) {
                return Err(group_err(
                    g,
                    format!("variable '{}' is perturbed twice", v.name),
                ));
            }
            if !(v.std.is_finite() && v.std >= 0.0) {
                return Err(group_err(
                    g,
                    format!("variable '{}': std must be ≥ 0, got {}", v.name, v.std),
                ));
            }
            if !(v.tau_seconds.is_finite() && v.tau_seconds >= 0.0) {
                return Err(group_err(
                    g,
                    format!(
                        "variable '{}': tau_seconds must be finite and ≥ 0, got {}",
                        v.name, v.tau_seconds
                    ),
                ));
            }
            let (dl, du) = target.default_bounds();
            let lower = v.lower.or(dl);
            let upper = v.upper.or(du);
            for b in [lower, upper].into_iter().flatten() {
                if !b.is_finite() {
                    return Err(group_err(
                        g,
                        format!("variable '{}': bound {b} is not finite", v.name),
                    ));
                }
            }
            if let (Some(l), Some(u)) = (lower, upper) {
                if l > u {
                    return Err(group_err(
                        g,
                        format!("variable '{}': lower bound {l} > upper bound {u}", v.name),
                    ));
                }
            }
            if matches!(target, PerturbTarget::SoilMoisture(_))
                && v.kind == PerturbKind::Multiplicative
            {
                return Err(group_err(
                    g,
                    format!(
                        "variable '{}': soil moisture perturbations are additive increments",
                        v.name
                    ),
                ));
            }
            let s2 = (1.0 + v.std * v.std).ln();
            resolved.push(ResolvedVar {
                target,
                kind: v.kind,
                std: v.std,
                lower,
                upper,
                log_s: s2.sqrt(),
                log_mu: -0.5 * s2,
            });
        }
        let forcing = resolved.iter().filter(|r| r.target.is_forcing()).count();
        let role = if forcing == n {
            GroupRole::Forcing
        } else if forcing == 0 {
            GroupRole::SoilMoisture
        } else {
            return Err(group_err(
                g,
                "mixes forcing and soil-moisture variables; use one group for each".into(),
            ));
        };
        if self.correlation.len() != n * n {
            return Err(group_err(
                g,
                format!(
                    "correlation has {} entries, expected {n}×{n} = {}",
                    self.correlation.len(),
                    n * n
                ),
            ));
        }
        let c = &self.correlation;
        for i in 0..n {
            for j in 0..n {
                let cij = c[i * n + j];
                if !cij.is_finite() || cij.abs() > 1.0 + 1e-12 {
                    return Err(group_err(
                        g,
                        format!("correlation[{},{}] = {cij} is not in [-1, 1]", i + 1, j + 1),
                    ));
                }
                if (cij - c[j * n + i]).abs() > 1e-12 {
                    return Err(group_err(
                        g,
                        format!(
                            "correlation is not symmetric: [{},{}] = {cij} but [{},{}] = {}",
                            i + 1,
                            j + 1,
                            j + 1,
                            i + 1,
                            c[j * n + i]
                        ),
                    ));
                }
            }
            if (c[i * n + i] - 1.0).abs() > 1e-12 {
                return Err(group_err(
                    g,
                    format!(
                        "correlation diagonal [{},{}] = {} must be 1 (variable '{}')",
                        i + 1,
                        i + 1,
                        c[i * n + i],
                        self.vars[i].name
                    ),
                ));
            }
        }
        if let Some(sp) = &self.spatial {
            let ok = sp.length_km.is_finite()
                && sp.length_km > 0.0
                && sp.dx_km.is_finite()
                && sp.dx_km > 0.0
                && sp.dy_km.is_finite()
                && sp.dy_km > 0.0
                && sp.nx > 0
                && sp.ny > 0;
            if !ok {
                return Err(group_err(
                    g,
                    format!("spatial correlation needs length_km > 0, dx_km > 0, dy_km > 0, nx > 0, ny > 0; got {sp:?}"),
                ));
            }
        }
        Ok((role, resolved))
    }

    /// KIM-LIS forcing perturbations (Kwon et al. 2026): SW multiplicative σ 0.3, LW additive
    /// σ 50 W m⁻², precipitation multiplicative σ 0.5, τ 24 h, cross-correlations SW–LW −0.5,
    /// SW–P −0.8, LW–P +0.5, clip ±2.5, ensemble mean removed, perturbed every hour.
    pub fn kim_lis_forcing() -> Self {
        let var = |name: &str, kind, std| PerturbVar {
            name: name.into(),
            kind,
            std,
            tau_seconds: 86400.0,
            lower: None,
            upper: None,
        };
        PerturbGroup {
            name: "forcing".into(),
            vars: vec![
                var("swdown", PerturbKind::Multiplicative, 0.3),
                var("lwdown", PerturbKind::Additive, 50.0),
                var("rainf", PerturbKind::Multiplicative, 0.5),
            ],
            correlation: vec![1.0, -0.5, -0.8, -0.5, 1.0, 0.5, -0.8, 0.5, 1.0],
            interval_seconds: 3600,
            std_normal_max: 2.5,
            remove_ensemble_mean: true,
            spatial: None,
        }
    }

    /// KIM-LIS soil-moisture state perturbations: additive σ 0.01, 0.006, 0.003, 0.0015 m³ m⁻³
    /// (layers 1–4), τ 12 h, vertical correlation 0.6 (adjacent layers), 0.4, 0.2; clip ±2.5,
    /// ensemble mean removed, applied every 3 h.
    pub fn kim_lis_soil_moisture() -> Self {
        let std = [0.01, 0.006, 0.003, 0.0015];
        let vars = std
            .iter()
            .enumerate()
            .map(|(k, &s)| PerturbVar {
                name: format!("soil_moisture_{}", k + 1),
                kind: PerturbKind::Additive,
                std: s,
                tau_seconds: 43200.0,
                lower: None,
                upper: None,
            })
            .collect();
        let lag = [1.0, 0.6, 0.4, 0.2];
        let mut correlation = vec![0.0; 16];
        for i in 0..4usize {
            for j in 0..4usize {
                correlation[i * 4 + j] = lag[i.abs_diff(j)];
            }
        }
        PerturbGroup {
            name: "soil_moisture".into(),
            vars,
            correlation,
            interval_seconds: 10800,
            std_normal_max: 2.5,
            remove_ensemble_mean: true,
            spatial: None,
        }
    }
}
