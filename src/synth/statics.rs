//! Synthetic land-surface static fields for the demo case.
//!
//! **Synthetic**: nothing here is observed data. The fields are built from smooth random
//! fields (sums of Fourier modes with a red, terrain-like spectrum) so that the demo has
//! plausible spatial structure: a western coastline and a few lakes, terrain rising
//! inland, soil-texture and vegetation patches, a seasonal green-vegetation cycle, and a
//! deep soil temperature that follows latitude and elevation. Deterministic for a seed.

use std::f64::consts::PI;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::grid::{Grid, GridError, StaticFields, VegetationDataset};
use crate::synth::land_mask::LandMask;

/// Environmental lapse rate (K m-1) used for deep soil temperature.
const LAPSE_RATE: f64 = 0.0065;

/// A smooth random field on `(ny, nx)` normalised to zero mean and unit variance: a sum
/// of `nmodes` plane waves with wavenumbers up to `kmax` cycles per domain and
/// amplitudes falling as `k^-slope` (slope ≈ 1.5–2 gives terrain-like roughness).
fn smooth_field(
    rng: &mut ChaCha8Rng,
    ny: usize,
    nx: usize,
    nmodes: usize,
    kmax: f64,
    slope: f64,
) -> Vec<f64> {
    let modes: Vec<(f64, f64, f64, f64)> = (0..nmodes)
        .map(|_| {
            // Log-uniform wavenumber magnitude, uniform direction.
            let k = (kmax.ln() * rng.random::<f64>()).exp().max(0.5);
            let theta = 2.0 * PI * rng.random::<f64>();
            let phase = 2.0 * PI * rng.random::<f64>();
            (k * theta.cos(), k * theta.sin(), phase, k.powf(-slope))
        })
        .collect();
    let l = ny.max(nx) as f64;
    let mut f = vec![0.0; ny * nx];
    for j in 0..ny {
        for i in 0..nx {
            let (x, y) = (i as f64 / l, j as f64 / l);
            f[j * nx + i] = modes
                .iter()
                .map(|&(kx, ky, ph, a)| a * (2.0 * PI * (kx * x + ky * y) + ph).cos())
                .sum();
        }
    }
    standardise(&mut f);
    f
}

fn standardise(f: &mut [f64]) {
    let n = f.len() as f64;
    let mean = f.iter().sum::<f64>() / n;
    let var = f.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    let sd = var.sqrt().max(1e-12);
    for v in f.iter_mut() {
        *v = (*v - mean) / sd;
    }
}

/// Empirical quantile (0..1) of every value among `f` (ties broken by index, so the
/// result is a permutation of evenly spaced ranks).
fn ranks(f: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..f.len()).collect();
    idx.sort_by(|&a, &b| f[a].total_cmp(&f[b]).then(a.cmp(&b)));
    let mut r = vec![0.0; f.len()];
    let n = f.len().max(2) as f64;
    for (pos, &k) in idx.iter().enumerate() {
        r[k] = pos as f64 / (n - 1.0);
    }
    r
}

/// STATSGO classes ordered from coarse to fine texture, with their share of land
/// (loams dominate, as in most temperate regions).
const SOIL_MIX: [(i32, f64); 12] = [
    (1, 0.04),  // sand
    (2, 0.05),  // loamy sand
    (3, 0.15),  // sandy loam
    (6, 0.25),  // loam
    (4, 0.18),  // silt loam
    (5, 0.01),  // silt
    (7, 0.04),  // sandy clay loam
    (9, 0.10),  // clay loam
    (8, 0.08),  // silty clay loam
    (10, 0.01), // sandy clay
    (11, 0.03), // silty clay
    (12, 0.06), // clay
];

fn pick_by_quantile(q: f64, mix: &[(i32, f64)]) -> i32 {
    let total: f64 = mix.iter().map(|m| m.1).sum();
    let mut acc = 0.0;
    for &(c, w) in mix {
        acc += w / total;
        if q <= acc {
            return c;
        }
    }
    mix[mix.len() - 1].0
}

/// Seasonal green-fraction range (min, max) of a USGS class.
fn green_range(class: i32) -> (f64, f64) {
    match class {
        2..=5 => (0.05, 0.80),   // croplands: bare after harvest
        6 => (0.20, 0.80),       // crop/wood mosaic
        7 => (0.15, 0.70),       // grassland
        8 | 9 => (0.10, 0.35),   // shrubland
        10 => (0.20, 0.60),      // savanna
        11 | 12 => (0.10, 0.90), // deciduous forest
        13 => (0.85, 0.95),      // evergreen broadleaf
        14 => (0.65, 0.80),      // evergreen needleleaf
        15 => (0.40, 0.90),      // mixed forest
        19 => (0.01, 0.06),      // barren
        _ => (0.0, 0.0),
    }
}

/// Snow-free background albedo range (green season, dormant season) of a USGS class.
fn albedo_range(class: i32) -> (f64, f64) {
    match class {
        2..=6 => (0.17, 0.22),
        7 => (0.19, 0.23),
        8 | 9 => (0.22, 0.26),
        10 => (0.20, 0.22),
        11 | 12 => (0.15, 0.17),
        13 => (0.12, 0.12),
        14 => (0.12, 0.13),
        15 => (0.14, 0.16),
        19 => (0.30, 0.32),
        16 => (0.08, 0.08),
        _ => (0.18, 0.20),
    }
}

/// Maximum snow albedo of a USGS class (VEGPARM.TBL MAXALB).
fn max_snow_albedo(class: i32) -> f64 {
    VegetationDataset::Usgs
        .table_max_snow_albedo(class)
        .unwrap_or(0.7)
}

/// The synthetic coastline (about 12 % of the width from the west, meandering) with terrain
/// rising inland, then lakes in the lowlands (~4 % of land). Returns the land mask, the
/// elevation and the elevation quantiles before the lakes.
fn coast_and_lakes(
    ny: usize,
    nx: usize,
    relief: &[f64],
    stream: &dyn Fn(u64) -> ChaCha8Rng,
) -> (Vec<bool>, Vec<f64>, Vec<f64>) {
    let n = nx * ny;
    let coast_wiggle = smooth_field(&mut stream(2), ny, nx, 16, 6.0, 1.5);
    let lake_field = smooth_field(&mut stream(3), ny, nx, 48, 10.0, 1.0);
    let mut land_mask = vec![true; n];
    let mut elevation = vec![0.0; n];
    for j in 0..ny {
        for i in 0..nx {
            let k = j * nx + i;
            let x = (i as f64 + 0.5) / nx as f64;
            // Coastline at about 12 % of the width, meandering with the wiggle field.
            let coast = 0.12 + 0.05 * coast_wiggle[k];
            let inland = (x - coast).max(0.0);
            if x < coast {
                land_mask[k] = false;
                elevation[k] = 0.0;
            } else {
                let base = 20.0 + 900.0 * inland;
                let hills = 350.0 * (1.0 + 2.0 * inland) * (relief[k] + 1.5).max(0.0);
                elevation[k] = base + hills;
            }
        }
    }
    // Lakes: local maxima of the lake field in the lowlands (~4 % of land).
    let lq = ranks(&lake_field);
    let eq = ranks(&elevation);
    for k in 0..n {
        if land_mask[k] && lq[k] > 0.955 && eq[k] < 0.75 {
            land_mask[k] = false;
        }
    }
    for k in 0..n {
        if !land_mask[k] {
            // Water surfaces sit at (or just above) sea level here; lakes keep nearby
            // terrain height to stay plausible.
            elevation[k] = if elevation[k] > 0.0 {
                elevation[k] * 0.9
            } else {
                0.0
            };
        }
    }

    (land_mask, elevation, eq)
}

/// Terrain on a given land mask: the same red-spectrum relief without the coastal ramp;
/// water at sea level. Returns the mask, the elevation and its quantiles.
fn terrain_on_mask(mask: &[bool], relief: &[f64]) -> (Vec<bool>, Vec<f64>, Vec<f64>) {
    let elevation: Vec<f64> = mask
        .iter()
        .zip(relief)
        .map(|(&land, &r)| {
            if land {
                20.0 + 600.0 * (r + 1.5).max(0.0)
            } else {
                0.0
            }
        })
        .collect();
    let eq = ranks(&elevation);
    (mask.to_vec(), elevation, eq)
}

/// Synthetic static fields on a regular `ny × nx` grid whose south-west cell centre is
/// at (`lat0`, `lon0`) with spacing `resolution_deg`, USGS vegetation and STATSGO soils.
///
/// The same arguments always give bit-identical fields. Panics on arguments that
/// [`try_synth_statics`] rejects (callers with untrusted input use that one).
pub fn synth_statics(
    nx: usize,
    ny: usize,
    lat0: f64,
    lon0: f64,
    resolution_deg: f64,
    seed: u64,
) -> StaticFields {
    try_synth_statics(nx, ny, lat0, lon0, resolution_deg, seed)
        .unwrap_or_else(|e| panic!("synth_statics: {e}"))
}

/// [`synth_statics`] with its arguments checked: a non-empty grid, a positive finite
/// resolution, and latitudes inside (-90, 90).
pub fn try_synth_statics(
    nx: usize,
    ny: usize,
    lat0: f64,
    lon0: f64,
    resolution_deg: f64,
    seed: u64,
) -> Result<StaticFields, GridError> {
    if nx == 0 || ny == 0 {
        return Err(GridError::Invalid(format!(
            "synthetic grid {ny} x {nx} is empty"
        )));
    }
    if !(resolution_deg.is_finite() && resolution_deg > 0.0) {
        return Err(GridError::Invalid(format!(
            "synthetic grid resolution {resolution_deg} must be positive"
        )));
    }
    let lat_end = lat0 + (ny - 1) as f64 * resolution_deg;
    if !(lat0.is_finite() && lon0.is_finite()) || lat0 <= -90.0 || lat_end >= 90.0 {
        return Err(GridError::Invalid(format!(
            "synthetic grid latitudes {lat0}..{lat_end} must lie inside (-90, 90)"
        )));
    }
    build(nx, ny, lat0, lon0, resolution_deg, seed, None)
}

/// Synthetic static fields on the grid and land cells of a real land mask (see
/// [`crate::synth::land_mask`]): terrain, soils, vegetation and seasons as in
/// [`synth_statics`], but no synthetic coastline or lakes and no west-to-east dryness
/// gradient (there is no single coast to measure it from).
pub fn synth_statics_on_mask(mask: &LandMask, seed: u64) -> Result<StaticFields, GridError> {
    let (ny, nx) = (mask.lat.len(), mask.lon.len());
    if ny == 0 || nx == 0 || mask.land.len() != nx * ny {
        return Err(GridError::Invalid(format!(
            "land mask of {} values does not fill a {ny} x {nx} grid",
            mask.land.len()
        )));
    }
    if mask.lat[0] <= -90.0 || mask.lat[ny - 1] >= 90.0 {
        return Err(GridError::Invalid(format!(
            "land-mask latitudes {}..{} must lie inside (-90, 90)",
            mask.lat[0],
            mask.lat[ny - 1]
        )));
    }
    let (lat0, lon0) = (mask.lat[0], mask.lon[0]);
    build(nx, ny, lat0, lon0, mask.resolution, seed, Some(&mask.land))
}

/// The generator behind both entry points; `mask` replaces the synthetic coastline.
fn build(
    nx: usize,
    ny: usize,
    lat0: f64,
    lon0: f64,
    resolution_deg: f64,
    seed: u64,
    mask: Option<&[bool]>,
) -> Result<StaticFields, GridError> {
    let n = nx * ny;
    let lat: Vec<f64> = (0..ny).map(|j| lat0 + j as f64 * resolution_deg).collect();
    let lon: Vec<f64> = (0..nx).map(|i| lon0 + i as f64 * resolution_deg).collect();
    // Each field has its own stream so adding one does not change the others.
    let stream = |k: u64| {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        r.set_stream(k);
        r
    };

    // Terrain: red-spectrum relief, rising inland from the western coast.
    let relief = smooth_field(&mut stream(1), ny, nx, 64, 12.0, 1.8);
    // `eq`: elevation quantiles of the terrain before lakes are cut into it.
    let (land_mask, elevation, eq) = match mask {
        Some(m) => terrain_on_mask(m, &relief),
        None => coast_and_lakes(ny, nx, &relief, &stream),
    };

    // Soil: coarse-to-fine texture bands from a smooth field, patchy at small scales.
    let tex_large = smooth_field(&mut stream(4), ny, nx, 32, 6.0, 1.6);
    let tex_small = smooth_field(&mut stream(5), ny, nx, 48, 20.0, 1.0);
    let tex: Vec<f64> = (0..n).map(|k| tex_large[k] + 0.45 * tex_small[k]).collect();
    let tq = ranks(&tex);
    let soil_class: Vec<i32> = (0..n)
        .map(|k| {
            if land_mask[k] {
                pick_by_quantile(tq[k], &SOIL_MIX)
            } else {
                14
            }
        })
        .collect();

    // Vegetation from dryness (drier away from the coast), elevation and a patch field.
    let dry_noise = smooth_field(&mut stream(6), ny, nx, 32, 8.0, 1.5);
    let patch = smooth_field(&mut stream(7), ny, nx, 64, 24.0, 0.8);
    let dryness: Vec<f64> = (0..n)
        .map(|k| {
            // Drier away from the synthetic west coast; a real mask has no single coast.
            let x = if mask.is_some() {
                0.0
            } else {
                (k % nx) as f64 / nx as f64
            };
            1.2 * x + 0.6 * dry_noise[k]
        })
        .collect();
    let dq = ranks(&dryness);
    let pq = ranks(&patch);
    let vegetation_class: Vec<i32> = (0..n)
        .map(|k| {
            if !land_mask[k] {
                return 16;
            }
            let (d, e, p) = (dq[k], eq[k], pq[k]);
            let tropical = lat[k / nx].abs() < 20.0;
            if d > 0.93 {
                19 // barren
            } else if d > 0.80 {
                if p < 0.5 {
                    8
                } else {
                    9
                } // shrubland, mixed shrub/grass
            } else if e > 0.70 {
                // Forest on the high ground.
                match (tropical, p) {
                    (true, _) => 13,
                    (false, p) if p < 0.30 => 14,
                    (false, p) if p < 0.65 => 15,
                    (false, p) if p < 0.95 => 11,
                    _ => 12,
                }
            } else if d > 0.62 {
                if p < 0.75 {
                    7
                } else {
                    10
                } // grassland, savanna
            } else {
                // Lowland agriculture with mosaics.
                match p {
                    p if p < 0.35 => 2,
                    p if p < 0.45 => 3,
                    p if p < 0.65 => 4,
                    p if p < 0.85 => 5,
                    _ => 6,
                }
            }
        })
        .collect();

    // Seasonal cycle: peak in July (north) / January (south), damped in the tropics.
    let green_noise = smooth_field(&mut stream(8), ny, nx, 32, 16.0, 1.0);
    let mut green_fraction = vec![0.0; 12 * n];
    let mut albedo = vec![0.0; 12 * n];
    for k in 0..n {
        let la = lat[k / nx];
        let peak = if la >= 0.0 { 6.5 } else { 0.5 }; // mid-July / mid-January (0-based)
        let seasonality = (la.abs() / 30.0).clamp(0.15, 1.0);
        let (gmin, gmax) = green_range(vegetation_class[k]);
        let (agreen, adormant) = albedo_range(vegetation_class[k]);
        let local = 1.0 + 0.08 * green_noise[k];
        for m in 0..12 {
            let phase = 2.0 * PI * (m as f64 - peak) / 12.0;
            // Sharpened cosine: a short green season with a long dormant one.
            let s = (0.5 * (1.0 + phase.cos())).powf(1.5);
            let s = 1.0 - seasonality * (1.0 - s);
            let g = ((gmin + (gmax - gmin) * s) * local).clamp(0.0, 1.0);
            green_fraction[m * n + k] = g;
            let a = adormant + (agreen - adormant) * s;
            albedo[m * n + k] = a.clamp(0.0, 1.0);
        }
    }

    // Deep soil temperature ≈ annual mean surface temperature: warm tropics, cooler
    // poleward and aloft.
    let deep_soil_temperature: Vec<f64> = (0..n)
        .map(|k| {
            let la = lat[k / nx].abs();
            let sea_level = 300.5 - 0.0095 * la * la - 0.05 * la;
            sea_level - LAPSE_RATE * elevation[k].max(0.0)
        })
        .collect();
    let max_snow_albedo_f: Vec<f64> = vegetation_class
        .iter()
        .map(|&c| max_snow_albedo(c))
        .collect();

    // Slope class from the terrain gradient (GENPARM classes 1: 0-8 %, 2: 8-30 %, 3: >30 %).
    let dx_m = resolution_deg.abs() * 111_000.0;
    let slope_class: Vec<i32> = (0..n)
        .map(|k| {
            let (j, i) = (k / nx, k % nx);
            let e = |jj: usize, ii: usize| elevation[jj * nx + ii];
            let gx = if nx > 1 {
                (e(j, (i + 1).min(nx - 1)) - e(j, i.saturating_sub(1))) / (2.0 * dx_m)
            } else {
                0.0
            };
            let gy = if ny > 1 {
                (e((j + 1).min(ny - 1), i) - e(j.saturating_sub(1), i)) / (2.0 * dx_m)
            } else {
                0.0
            };
            let pct = 100.0 * (gx * gx + gy * gy).sqrt();
            if pct < 8.0 {
                1
            } else if pct < 30.0 {
                2
            } else {
                3
            }
        })
        .collect();

    let grid = Grid::regular(lat, lon, Some(land_mask))?;
    Ok(StaticFields {
        grid,
        vegetation_dataset: VegetationDataset::Usgs,
        soil_dataset: "STAS".into(),
        soil_class,
        vegetation_class,
        slope_class,
        green_fraction,
        albedo,
        deep_soil_temperature,
        elevation,
        max_snow_albedo: max_snow_albedo_f,
        soil_texture: None,
    })
}
