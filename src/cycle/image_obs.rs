//! The observation image of an analysis time (`&image source`): a gridded CF field read
//! with `io::gridded`, its record chosen by time, scaled to m³ m⁻³ and put on the model
//! grid (identity when the grids coincide, else bilinear over the valid pixels). A missing
//! file or record is not an error: the analysis is skipped and the reason recorded.

use std::path::PathBuf;

use chrono::NaiveDateTime;

use crate::config::ImageConfig;
use crate::grid::remap::{LatLonSource, RemapMethod, RemapWeights};
use crate::grid::Grid;
use crate::io::gridded::{read_field, time_axis, GriddedField, Selection};

/// Why no image is available for an analysis time (a warning, not an error).
#[derive(Debug, Clone, PartialEq)]
pub enum NoImage {
    Missing(PathBuf),
    NoRecord {
        path: PathBuf,
        nearest: Option<NaiveDateTime>,
    },
}

impl std::fmt::Display for NoImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoImage::Missing(p) => write!(f, "no observation image {}", p.display()),
            NoImage::NoRecord { path, nearest } => match nearest {
                Some(t) => write!(
                    f,
                    "{}: nearest record {t} is outside image:time_tolerance_min",
                    path.display()
                ),
                None => write!(f, "{}: no time record", path.display()),
            },
        }
    }
}

/// An observation image on the model grid: `ny × nx`, NaN where missing or off land.
pub struct ObservedImage {
    pub path: PathBuf,
    pub values: Vec<f64>,
}

/// Reads observation images onto the model grid (root rank only).
pub struct ImageSource {
    directory: PathBuf,
    pattern: String,
    var: String,
    scale: f64,
    tolerance_s: i64,
    /// Model cell centres (lat, lon) of every grid cell, row-major.
    centres: Vec<(f64, f64)>,
    land: Vec<bool>,
    regular: Option<(Vec<f64>, Vec<f64>)>,
}

impl ImageSource {
    pub fn new(cfg: &ImageConfig, grid: &Grid) -> Self {
        let (ny, nx) = grid.dims();
        let centres = (0..ny)
            .flat_map(|j| (0..nx).map(move |i| (j, i)))
            .map(|(j, i)| (grid.lat(j, i), grid.lon(j, i)))
            .collect();
        let regular = grid
            .lat_1d()
            .zip(grid.lon_1d())
            .map(|(a, b)| (a.to_vec(), b.to_vec()));
        ImageSource {
            directory: cfg.gridded_directory.clone(),
            pattern: cfg.gridded_pattern.clone(),
            var: cfg.gridded_var.clone(),
            scale: cfg.gridded_scale,
            tolerance_s: (cfg.time_tolerance_min * 60.0).round() as i64,
            centres,
            land: grid.land_mask().to_vec(),
            regular,
        }
    }

    /// The image valid at `t`, `Ok(Err(why))` when there is none.
    pub fn read(&self, t: NaiveDateTime) -> Result<Result<ObservedImage, NoImage>, String> {
        let path = self.directory.join(t.format(&self.pattern).to_string());
        if !path.is_file() {
            return Ok(Err(NoImage::Missing(path)));
        }
        let time_index = match self.record(&path, t)? {
            Ok(k) => k,
            Err(why) => return Ok(Err(why)),
        };
        let sel = Selection {
            time_index,
            ..Selection::default()
        };
        let field = read_field(&path, &self.var, &sel).map_err(|e| e.to_string())?;
        let mut values = self
            .on_model_grid(&field)
            .map_err(|e| format!("{}: variable '{}': {e}", path.display(), self.var))?;
        for (v, &land) in values.iter_mut().zip(&self.land) {
            *v = if land { *v * self.scale } else { f64::NAN };
        }
        Ok(Ok(ObservedImage { path, values }))
    }

    /// The record of `path` nearest `t` within the tolerance (`None`: no time dimension).
    fn record(
        &self,
        path: &std::path::Path,
        t: NaiveDateTime,
    ) -> Result<Result<Option<usize>, NoImage>, String> {
        let Some(times) = time_axis(path, &self.var).map_err(|e| e.to_string())? else {
            return Ok(Ok(None));
        };
        let nearest = times
            .iter()
            .enumerate()
            .min_by_key(|(_, &x)| ((x - t).num_seconds().abs(), x));
        match nearest {
            Some((k, &x)) if (x - t).num_seconds().abs() <= self.tolerance_s => Ok(Ok(Some(k))),
            other => Ok(Err(NoImage::NoRecord {
                path: path.to_path_buf(),
                nearest: other.map(|(_, &x)| x),
            })),
        }
    }

    /// The field at every model cell centre.
    fn on_model_grid(&self, f: &GriddedField) -> Result<Vec<f64>, String> {
        if let Some(v) = self.identity(f) {
            return Ok(v);
        }
        let src = LatLonSource::new(f.lat.clone(), f.lon.clone()).map_err(|e| e.to_string())?;
        let mut out = vec![f64::NAN; self.centres.len()];
        let targets: Vec<usize> = (0..out.len()).filter(|&k| self.land[k]).collect();
        let points: Vec<(f64, f64)> = targets.iter().map(|&k| self.centres[k]).collect();
        match RemapWeights::new(&src, &points, RemapMethod::Bilinear) {
            Ok(w) => {
                let vals = w.apply(&slab_values(f, &w)).map_err(|e| e.to_string())?;
                for (&k, v) in targets.iter().zip(vals) {
                    out[k] = v;
                }
            }
            // Some land cells lie outside a regional image: those stay missing.
            Err(_) => {
                for (&k, p) in targets.iter().zip(&points) {
                    if let Ok(w) = RemapWeights::new(&src, &[*p], RemapMethod::Bilinear) {
                        let v = w.apply(&slab_values(f, &w)).map_err(|e| e.to_string())?;
                        out[k] = v[0];
                    }
                }
            }
        }
        Ok(out)
    }

    /// The values in model order when the file's grid is the model's (either latitude order).
    fn identity(&self, f: &GriddedField) -> Option<Vec<f64>> {
        let (lat, lon) = self.regular.as_ref()?;
        let same = |a: &[f64], b: &[f64]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6)
        };
        if !same(lon, &f.lon) {
            return None;
        }
        let nx = lon.len();
        let flipped: Vec<f64> = f.lat.iter().rev().copied().collect();
        let rows: Box<dyn Fn(usize) -> usize> = if same(lat, &f.lat) {
            Box::new(|j| j)
        } else if same(lat, &flipped) {
            let ny = lat.len();
            Box::new(move |j| ny - 1 - j)
        } else {
            return None;
        };
        let mut v = Vec::with_capacity(lat.len() * nx);
        for j in 0..lat.len() {
            let r = rows(j);
            v.extend_from_slice(&f.values[r * nx..(r + 1) * nx]);
        }
        Some(v)
    }
}

/// The hyperslab of `f` the weights index into (longitudes wrap around).
fn slab_values(f: &GriddedField, w: &RemapWeights) -> Vec<f64> {
    let s = w.slab();
    let nx = f.lon.len();
    let mut v = Vec::with_capacity(s.len());
    for j in s.lat_start..s.lat_start + s.lat_count {
        for i in 0..s.lon_count {
            v.push(f.values[j * nx + (s.lon_start + i) % nx]);
        }
    }
    v
}
