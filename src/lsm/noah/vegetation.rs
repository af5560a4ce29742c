//! Seasonal surface properties from the green vegetation fraction: Noah interpolates
//! background emissivity, LAI, snow-free albedo and roughness linearly between the table
//! minimum (at SHDMIN) and maximum (at SHDMAX).

use super::params::NoahParams;

/// Snow-free surface properties of one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeasonalSurface {
    /// Background (snow-free) emissivity.
    pub emissivity: f64,
    /// Leaf area index.
    pub lai: f64,
    /// Snow-free albedo.
    pub albedo: f64,
    /// Background roughness length (m).
    pub z0: f64,
}

/// Interpolates the table ranges by green fraction `shdfac`. `monthly_albedo` and
/// `monthly_lai` replace the table-derived values when the cell uses monthly fields.
pub fn seasonal_surface(
    p: &NoahParams,
    shdfac: f64,
    monthly_albedo: Option<f64>,
    monthly_lai: Option<f64>,
) -> SeasonalSurface {
    let f = if shdfac >= p.shdmax {
        1.0
    } else if shdfac <= p.shdmin {
        0.0
    } else if p.shdmax > p.shdmin {
        ((shdfac - p.shdmin) / (p.shdmax - p.shdmin)).clamp(0.0, 1.0)
    } else {
        0.5
    };
    let lerp = |lo: f64, hi: f64| {
        if f == 1.0 {
            hi
        } else if f == 0.0 {
            lo
        } else {
            (1.0 - f) * lo + f * hi
        }
    };
    SeasonalSurface {
        emissivity: lerp(p.emissmin, p.emissmax),
        lai: monthly_lai.unwrap_or_else(|| lerp(p.laimin, p.laimax)),
        // Denser green vegetation is darker: albedo runs from max to min.
        albedo: monthly_albedo.unwrap_or_else(|| lerp(p.albedomax, p.albedomin)),
        z0: lerp(p.z0min, p.z0max),
    }
}
