//! Per-layer soil parameters from texture: the role of CoLM2014's surface-data preprocessing
//! (`rd_soil_properties`, `soil_parameters_readin`; Dai et al. 2013, J. Hydrometeor. 14, 869;
//! Shangguan et al. 2014, JAMES 6, 249; docs/colm.md "Parameters from texture").
//!
//! Each raw texture layer (sand, clay, organic carbon, bulk density, gravel) gives:
//! - θ_s, the **median** of up to 18 published porosity estimates ([`porosity`]);
//! - ψ_s and the pore-size index λ, medians of 7 Clapp–Hornberger/Brooks–Corey estimates
//!   evaluated with that θ_s ([`retention`]);
//! - K_s, the median of up to 20 estimates evaluated with those θ_s, ψ_s, λ ([`conductivity`]);
//! - solid heat capacity and the saturated and dry conductivities of Johansen's model with
//!   organic matter mixed in ([`thermal`]; Oleson et al. 2013, NCAR/TN-503, §6.3).
//!
//! An estimate outside its published domain, or outside the plausible range CoLM accepts,
//! takes no part in the median. Gravel (% volume) scales θ_s and K_s by (1 − gravel/100)
//! after the thermal parameters were computed from the gravel-free θ_s. Units of the column:
//! ψ_sat = 10 ψ_s mm, B = 1/λ, K_sat = K_s·10/86400 mm s-1 (K_s in cm day-1).
//!
//! Raw layer k is evaluated at the depth of model interface zi_k (CoLM's choice, which sets
//! the topsoil flag, < 30 cm, and the organic porosity); model layers 1 and 2 take raw layer
//! 1, layer j takes raw layer j − 1 (j = 3..9), layer 10 takes raw layer 8.

mod conductivity;
mod porosity;
mod retention;
mod thermal;

use super::geometry::SoilGeometry;
use super::params::SoilParams;
use crate::lsm::LsmError;

/// Number of raw texture layers of CoLM's soil data.
pub const NRAW: usize = 8;

/// One raw texture layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Texture {
    /// Sand and clay (% weight of the fine earth).
    pub sand: f64,
    pub clay: f64,
    /// Soil organic carbon (% weight).
    pub soc: f64,
    /// Bulk density (g cm-3).
    pub bd: f64,
    /// Gravel (% volume).
    pub gravel: f64,
}

/// The parameters of one layer in the column's units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerParams {
    /// Porosity (-), saturated potential (mm, negative), Clapp–Hornberger B (-), saturated
    /// conductivity (mm s-1).
    pub porsl: f64,
    pub psi0: f64,
    pub bsw: f64,
    pub hksati: f64,
    /// Solid heat capacity (J m-3 K-1), saturated and dry conductivity (W m-1 K-1).
    pub csol: f64,
    pub dksatu: f64,
    pub dkdry: f64,
}

/// A texture layer as the estimators see it: the cleaned texture and what derives from it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Soil {
    pub sand: f64,
    pub clay: f64,
    /// max(1, 100 − sand − clay) (%).
    pub silt: f64,
    pub soc: f64,
    /// Organic matter 1.72 SOC (% weight; van Bemmelen factor).
    pub som: f64,
    pub bd: f64,
    /// 1 in the topsoil (depth < 30 cm, the A/E horizons of the HYPRES functions), else 0.
    pub topsoil: f64,
}

/// CoLM's checks of a raw layer: sand and clay at least 1 %, together at most 96 % (both
/// rescaled), organic carbon within 0.01–58 %, bulk density at least 0.1 g cm-3. Missing
/// (negative or non-finite) values and gravel outside [0, 100) % are errors here.
pub fn checked(t: &Texture) -> Result<Texture, LsmError> {
    let fields = [
        ("sand", t.sand),
        ("clay", t.clay),
        ("soc", t.soc),
        ("bd", t.bd),
        ("gravel", t.gravel),
    ];
    for (name, v) in fields {
        if !(v.is_finite() && v >= 0.0) {
            return Err(LsmError::Parameter(format!(
                "soil texture: {name} = {v} (needs a finite value >= 0)"
            )));
        }
    }
    if t.gravel >= 100.0 || t.sand > 100.0 || t.clay > 100.0 || t.bd >= 2.65 {
        return Err(LsmError::Parameter(format!(
            "soil texture: sand {}, clay {} (% weight, <= 100), gravel {} (% volume, < 100), \
             bulk density {} (g cm-3, below the mineral density 2.65)",
            t.sand, t.clay, t.gravel, t.bd
        )));
    }
    let (mut sand, mut clay) = (t.sand.max(1.0), t.clay.max(1.0));
    let a = sand + clay;
    if a >= 96.0 {
        sand = sand * 96.0 / a;
        clay = clay * 96.0 / a;
    }
    Ok(Texture {
        sand,
        clay,
        soc: t.soc.clamp(0.01, 58.0),
        bd: t.bd.max(0.1),
        gravel: t.gravel,
    })
}

impl Soil {
    fn new(t: &Texture, depth_cm: f64) -> Self {
        Soil {
            sand: t.sand,
            clay: t.clay,
            silt: (100.0 - t.sand - t.clay).max(1.0),
            soc: t.soc,
            som: 1.72 * t.soc,
            bd: t.bd,
            topsoil: if depth_cm < 30.0 { 1.0 } else { 0.0 },
        }
    }
}

/// Median of the usable estimates (finite, |x| < 1e10); the mean of the middle two for an
/// even count. Errors when no estimate is usable.
pub fn ensemble_median(what: &str, estimates: &[Option<f64>]) -> Result<f64, LsmError> {
    let mut v: Vec<f64> = estimates
        .iter()
        .flatten()
        .copied()
        .filter(|x| x.is_finite() && x.abs() < 1e10)
        .collect();
    if v.is_empty() {
        return Err(LsmError::Parameter(format!(
            "soil texture: no pedotransfer estimate of {what} is valid"
        )));
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Ok(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The parameters of one raw layer evaluated at depth `depth_cm` (cm).
pub fn layer_params(t: &Texture, depth_cm: f64) -> Result<LayerParams, LsmError> {
    let t = checked(t)?;
    let s = Soil::new(&t, depth_cm);
    let theta_s = ensemble_median("porosity", &porosity::estimates(&s))?;
    let (psi_est, lambda_est) = retention::estimates(&s, theta_s);
    let psi_s = ensemble_median("saturated potential", &psi_est)?;
    let lambda = ensemble_median("pore-size index", &lambda_est)?;
    let k_s = ensemble_median(
        "saturated conductivity",
        &conductivity::estimates(&s, theta_s, psi_s, lambda),
    )?;
    let th = thermal::thermal(&t, theta_s, depth_cm);
    let gravel_free = 1.0 - t.gravel / 100.0;
    Ok(LayerParams {
        porsl: theta_s * gravel_free,
        psi0: psi_s * 10.0,
        bsw: 1.0 / lambda,
        hksati: k_s * gravel_free * 10.0 / 86400.0,
        csol: th.csol,
        dksatu: th.ksatu,
        dkdry: th.kdry,
    })
}

/// The raw layer that model layer `j` (0-based) takes.
pub fn raw_layer_of(j: usize) -> usize {
    match j {
        0 | 1 => 0,
        9 => NRAW - 1,
        _ => j - 1,
    }
}

/// The ten model layers' parameters from the eight raw layers (raw k at depth zi_k).
pub fn soil_params_from_texture(
    raw: &[Texture; NRAW],
    geometry: &SoilGeometry,
) -> Result<SoilParams, LsmError> {
    let mut per_raw = Vec::with_capacity(NRAW);
    for (k, t) in raw.iter().enumerate() {
        let p = layer_params(t, geometry.zi[k] * 100.0)
            .map_err(|e| LsmError::Parameter(format!("raw soil layer {}: {e}", k + 1)))?;
        per_raw.push(p);
    }
    let l = |j: usize| per_raw[raw_layer_of(j)];
    let sp = SoilParams {
        porsl: std::array::from_fn(|j| l(j).porsl),
        psi0: std::array::from_fn(|j| l(j).psi0),
        bsw: std::array::from_fn(|j| l(j).bsw),
        hksati: std::array::from_fn(|j| l(j).hksati),
        csol: std::array::from_fn(|j| l(j).csol),
        dksatu: std::array::from_fn(|j| l(j).dksatu),
        dkdry: std::array::from_fn(|j| l(j).dkdry),
    };
    sp.validate()?;
    Ok(sp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_skips_invalid_and_averages_the_middle_pair() {
        let m = ensemble_median("x", &[Some(3.0), None, Some(1.0), Some(f64::NAN)]).unwrap();
        assert_eq!(m, 2.0);
        let m = ensemble_median("x", &[Some(3.0), Some(-1e36), Some(1.0), Some(2.0)]).unwrap();
        assert_eq!(m, 2.0);
        assert!(ensemble_median("x", &[None, Some(1e12)]).is_err());
    }

    #[test]
    fn layer_mapping() {
        let m: Vec<usize> = (0..super::super::constants::NSOIL)
            .map(raw_layer_of)
            .collect();
        assert_eq!(m, vec![0, 0, 1, 2, 3, 4, 5, 6, 7, 7]);
    }

    #[test]
    fn texture_checks() {
        let t = Texture {
            sand: 0.0,
            clay: 99.0,
            soc: 100.0,
            bd: 0.0,
            gravel: 0.0,
        };
        let c = checked(&t).unwrap();
        assert_eq!((c.sand, c.soc, c.bd), (96.0 / 100.0, 58.0, 0.1));
        assert!((c.sand + c.clay - 96.0).abs() < 1e-12);
        for bad in [-1.0, f64::NAN] {
            assert!(checked(&Texture { sand: bad, ..t }).is_err());
        }
        assert!(checked(&Texture { gravel: 100.0, ..t }).is_err());
    }
}
