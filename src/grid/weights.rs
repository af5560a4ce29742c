//! Remapping through precomputed weight files (SCRIP or ESMF, read by `io::weights`): one
//! sparse operator, [`WeightMatrix`], in compressed rows by destination cell, with the
//! source and destination grid descriptions of the file. docs/remap.md has the conventions.
//!
//! - Links keep their file order within a destination row, so every sum runs in one fixed
//!   order (the order CDO's `remap` uses as well): same file, same bits.
//! - Conservative weights are held in **fractional-area** form: a destination row sums to
//!   one over its covered part. `destarea` rows (which sum to the covered fraction,
//!   `dst_grid_frac` / `frac_b`) are divided by that fraction where it is > 0; `none` rows
//!   (overlap areas) by `dst_grid_area · dst_grid_frac`. A partly covered destination cell
//!   therefore gets the mean of its covered part whatever the file's normalisation.
//!   Other methods (bilinear, patch, nearest neighbour) are used as stored.
//! - [`WeightMatrix::check_source`] / [`WeightMatrix::check_destination`] compare the file
//!   with landcycle's grids (`weights_check.rs`); [`WeightMatrix::rows`] restricts the
//!   operator to a rank's destination cells and lists the source cells it needs
//!   (`weights_apply.rs`).

use std::fmt;
use std::path::{Path, PathBuf};

use thiserror::Error;

pub use super::weights_apply::RowSubset;
use crate::io::weights::{read_weights, GridCells, WeightFile, WeightFileError, WeightLayout};

/// Which grid of a weight file a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Source,
    Destination,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Source => "source",
            Side::Destination => "destination",
        })
    }
}

/// Errors building, checking or applying a weight matrix; every message names the file.
#[derive(Debug, Error)]
pub enum WeightsError {
    #[error(transparent)]
    File(#[from] WeightFileError),
    #[error("weight file {path}: normalization \"{found}\" is not none, fracarea or destarea")]
    Normalization { path: PathBuf, found: String },
    #[error("weight file {path}: {variable}[{link}] = {value} is outside 1..={size}")]
    Address {
        path: PathBuf,
        variable: &'static str,
        link: usize,
        value: i64,
        size: usize,
    },
    #[error("weight file {path}: weight of link {link} is {value}")]
    Weight {
        path: PathBuf,
        link: usize,
        value: f64,
    },
    #[error("weight file {path}: {normalization} conservative weights need the destination {needs}, which the file lacks")]
    NeedsVariable {
        path: PathBuf,
        normalization: &'static str,
        needs: &'static str,
    },
    #[error(
        "weight file {path}: {side} grid has {file} cells in the file, {grid} in landcycle's grid"
    )]
    Size {
        path: PathBuf,
        side: Side,
        file: usize,
        grid: usize,
    },
    #[error("weight file {path}: {side} grid dims {file:?} in the file, landcycle's grid is [nx, ny] = {grid:?}")]
    Dims {
        path: PathBuf,
        side: Side,
        file: Vec<usize>,
        grid: [usize; 2],
    },
    #[error("weight file {path}: {side} grid is lat/lon transposed: {detail}")]
    Transposed {
        path: PathBuf,
        side: Side,
        detail: String,
    },
    #[error(
        "weight file {path}: {side} cell {address} (j={j}, i={i}): centre (lat {file_lat:.6}, lon {file_lon:.6}) \
         in the file, (lat {grid_lat:.6}, lon {grid_lon:.6}) in landcycle's grid (tolerance {tolerance}°)"
    )]
    Centre {
        path: PathBuf,
        side: Side,
        /// 1-based file address.
        address: usize,
        j: usize,
        i: usize,
        file_lat: f64,
        file_lon: f64,
        grid_lat: f64,
        grid_lon: f64,
        tolerance: f64,
    },
    #[error("weight file {path}: destination cell {cell} is outside the {n} destination cells")]
    Destination { path: PathBuf, cell: u64, n: usize },
    #[error("weight file {path}: destination cell {cell} receives no weight")]
    NoWeight { path: PathBuf, cell: u64 },
    #[error("weight file {path}: destination cell {cell} uses source cell {source_cell}, which has no value")]
    MissingSource {
        path: PathBuf,
        cell: u64,
        source_cell: u64,
    },
    #[error("weight file {path}: land-to-atmosphere needs conservative weights, map_method is \"{method}\"")]
    NotConservative { path: PathBuf, method: String },
    #[error("weight file {path}: {what} has {got} values, expected {expected}")]
    Length {
        path: PathBuf,
        what: &'static str,
        got: usize,
        expected: usize,
    },
}

/// The `normalization` of conservative weights (SCRIP's names; ESMF's `--norm_type dstarea`
/// is `destarea`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalization {
    /// Weights are overlap areas (square radians).
    None,
    /// Weights are overlap area / covered area of the destination cell: rows sum to 1.
    FracArea,
    /// Weights are overlap area / destination cell area: rows sum to the covered fraction.
    DestArea,
}

impl Normalization {
    /// From the file's attribute; absent means ESMF's default (`destarea`) in an ESMF file
    /// and `none` in a SCRIP file.
    fn parse(w: &WeightFile) -> Result<Self, WeightsError> {
        match w.normalization.to_ascii_lowercase().as_str() {
            "none" => Ok(Self::None),
            "fracarea" => Ok(Self::FracArea),
            "destarea" | "dstarea" => Ok(Self::DestArea),
            "" if w.layout == WeightLayout::Esmf => Ok(Self::DestArea),
            "" => Ok(Self::None),
            other => Err(WeightsError::Normalization {
                path: w.path.clone(),
                found: other.to_string(),
            }),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::FracArea => "fracarea",
            Self::DestArea => "destarea",
        }
    }
}

/// A sparse remapping operator from a weight file, rows by destination cell (CSR).
#[derive(Debug, Clone, PartialEq)]
pub struct WeightMatrix {
    path: PathBuf,
    layout: WeightLayout,
    map_method: String,
    normalization: Normalization,
    src: GridCells,
    dst: GridCells,
    /// Start of each destination row in `col`/`weight` (length n_dst + 1).
    row_start: Vec<usize>,
    /// 0-based source cell of each link.
    col: Vec<u32>,
    /// Weights, conservative ones in fractional-area form.
    weight: Vec<f64>,
}

impl WeightMatrix {
    /// Read a SCRIP or ESMF weight file.
    pub fn read(path: &Path) -> Result<Self, WeightsError> {
        Self::from_file(read_weights(path)?)
    }

    /// Build the operator from a file's content: check the addresses and weights, sort the
    /// links into destination rows (stable, so file order within a row), bring
    /// conservative weights into fractional-area form.
    pub fn from_file(w: WeightFile) -> Result<Self, WeightsError> {
        let normalization = Normalization::parse(&w)?;
        let (n_src, n_dst) = (w.src.len(), w.dst.len());
        let src0 = zero_based(&w, "src_address", &w.src_address, n_src)?;
        let dst0 = zero_based(&w, "dst_address", &w.dst_address, n_dst)?;
        if let Some(link) = w.weight.iter().position(|x| !x.is_finite()) {
            return Err(WeightsError::Weight {
                path: w.path.clone(),
                link,
                value: w.weight[link],
            });
        }
        let mut row_start = vec![0usize; n_dst + 1];
        for &d in &dst0 {
            row_start[d as usize + 1] += 1;
        }
        for d in 0..n_dst {
            row_start[d + 1] += row_start[d];
        }
        let mut next = row_start.clone();
        let mut col = vec![0u32; src0.len()];
        let mut weight = vec![0f64; src0.len()];
        for (k, &d) in dst0.iter().enumerate() {
            let slot = &mut next[d as usize];
            col[*slot] = src0[k];
            weight[*slot] = w.weight[k];
            *slot += 1;
        }
        let mut m = WeightMatrix {
            path: w.path,
            layout: w.layout,
            map_method: w.map_method,
            normalization,
            src: w.src,
            dst: w.dst,
            row_start,
            col,
            weight,
        };
        m.normalise_to_fractional_area()?;
        Ok(m)
    }

    /// Divide conservative `destarea` rows by the covered fraction and `none` rows by the
    /// covered area, so that every conservative row sums to one over its covered part.
    fn normalise_to_fractional_area(&mut self) -> Result<(), WeightsError> {
        if !self.is_conservative() || self.normalization == Normalization::FracArea {
            return Ok(());
        }
        let needs = |needs| WeightsError::NeedsVariable {
            path: self.path.clone(),
            normalization: self.normalization.name(),
            needs,
        };
        let frac = self
            .dst
            .frac
            .as_ref()
            .ok_or_else(|| needs("fraction (dst_grid_frac / frac_b)"))?;
        let divisor: Vec<f64> = match self.normalization {
            Normalization::DestArea => frac.clone(),
            _ => {
                let area = self
                    .dst
                    .area
                    .as_ref()
                    .ok_or_else(|| needs("area (dst_grid_area / area_b)"))?;
                area.iter().zip(frac).map(|(a, f)| a * f).collect()
            }
        };
        for (d, &div) in divisor.iter().enumerate() {
            if div > 0.0 {
                let (a, b) = (self.row_start[d], self.row_start[d + 1]);
                self.weight[a..b].iter_mut().for_each(|w| *w /= div);
            }
        }
        Ok(())
    }

    /// The file the weights came from.
    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn layout(&self) -> WeightLayout {
        self.layout
    }
    /// The file's `map_method` attribute.
    pub fn map_method(&self) -> &str {
        &self.map_method
    }
    /// The file's normalisation (the stored weights are in fractional-area form whatever it is).
    pub fn normalization(&self) -> Normalization {
        self.normalization
    }
    /// True for conservative weights (`map_method` names conservative remapping).
    pub fn is_conservative(&self) -> bool {
        self.map_method.to_ascii_lowercase().contains("conserv")
    }
    /// The source grid as the file describes it.
    pub fn source(&self) -> &GridCells {
        &self.src
    }
    /// The destination grid as the file describes it.
    pub fn destination(&self) -> &GridCells {
        &self.dst
    }
    pub fn n_source(&self) -> usize {
        self.src.len()
    }
    pub fn n_destination(&self) -> usize {
        self.dst.len()
    }
    pub fn n_links(&self) -> usize {
        self.col.len()
    }
    /// (0-based source cells, weights) of destination cell `d`, in file order.
    pub fn row(&self, d: usize) -> (&[u32], &[f64]) {
        let (a, b) = (self.row_start[d], self.row_start[d + 1]);
        (&self.col[a..b], &self.weight[a..b])
    }

    /// The operator restricted to `destinations` (0-based destination cells = landcycle
    /// global ids once checked), with the source cells those rows need.
    pub fn rows(&self, destinations: &[u64]) -> Result<RowSubset, WeightsError> {
        RowSubset::new(self, destinations)
    }

    /// Remap a whole source field (`n_source` values by 0-based cell) to every destination
    /// cell ([`RowSubset::remap`] over [`all_rows`](Self::all_rows)).
    pub fn remap(&self, src: &[f64]) -> Result<Vec<f64>, WeightsError> {
        if src.len() != self.n_source() {
            return Err(WeightsError::Length {
                path: self.path.clone(),
                what: "source field",
                got: src.len(),
                expected: self.n_source(),
            });
        }
        let rows = self.all_rows();
        let needed: Vec<f64> = rows.source_ids().iter().map(|&s| src[s as usize]).collect();
        rows.remap(&needed)
    }

    /// The whole operator (every destination cell).
    pub fn all_rows(&self) -> RowSubset {
        let all: Vec<u64> = (0..self.n_destination() as u64).collect();
        RowSubset::build(self, &all)
    }
}

/// 1-based file addresses to 0-based cells, refusing the first one outside 1..=size.
fn zero_based(
    w: &WeightFile,
    variable: &'static str,
    address: &[i64],
    size: usize,
) -> Result<Vec<u32>, WeightsError> {
    let variable = match (w.layout, variable) {
        (WeightLayout::Esmf, "src_address") => "col",
        (WeightLayout::Esmf, _) => "row",
        (WeightLayout::Scrip, v) => v,
    };
    let limit = size.min(u32::MAX as usize) as i64;
    address
        .iter()
        .enumerate()
        .map(|(link, &a)| {
            if a < 1 || a > limit {
                Err(WeightsError::Address {
                    path: w.path.clone(),
                    variable,
                    link,
                    value: a,
                    size,
                })
            } else {
                Ok((a - 1) as u32)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(n: usize, frac: Vec<f64>) -> GridCells {
        GridCells {
            dims: vec![n, 1],
            lat: vec![0.0; n],
            lon: (0..n).map(|i| i as f64).collect(),
            mask: None,
            area: Some(vec![2.0; n]),
            frac: Some(frac),
        }
    }

    /// Three source cells, three destination cells: destination 0 half covered by source
    /// 1, destination 1 covered by sources 2 and 0 (in that file order), destination 2 not
    /// covered at all.
    fn destarea() -> WeightFile {
        WeightFile {
            path: "w.nc".into(),
            layout: WeightLayout::Esmf,
            map_method: "Conservative remapping".into(),
            normalization: String::new(),
            src: cells(3, vec![1.0; 3]),
            dst: cells(3, vec![0.5, 1.0, 0.0]),
            src_address: vec![3, 2, 1],
            dst_address: vec![2, 1, 2],
            weight: vec![0.25, 0.5, 0.75],
        }
    }

    #[test]
    fn destarea_rows_become_fractional_area_rows_in_file_order() {
        let m = WeightMatrix::from_file(destarea()).unwrap();
        assert_eq!(m.normalization(), Normalization::DestArea);
        assert_eq!(m.row(0), (&[1u32][..], &[1.0][..]));
        assert_eq!(m.row(1), (&[2u32, 0][..], &[0.25, 0.75][..]));
        let rows = m.rows(&[1, 0]).unwrap();
        assert_eq!(rows.source_ids(), &[0, 1, 2]);
        assert_eq!(rows.remap(&[4.0, 8.0, 2.0]).unwrap(), vec![3.5, 8.0]);
        let err = m.remap(&[1.0; 3]).unwrap_err();
        assert!(
            matches!(err, WeightsError::NoWeight { cell: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn masked_mean_uses_the_land_part_and_keeps_cells_without_land() {
        let m = WeightMatrix::from_file(destarea()).unwrap();
        let rows = m.all_rows();
        let mut atm = vec![-1.0, -2.0, -3.0];
        let n = rows
            .masked_mean(&[4.0, f64::NAN, 2.0], &[false, false, true], &mut atm)
            .unwrap();
        assert_eq!((n, atm), (1, vec![-1.0, 2.0, -3.0]));
        let mut bil = destarea();
        bil.map_method = "Bilinear remapping".into();
        let rows = WeightMatrix::from_file(bil).unwrap().all_rows();
        let err = rows.masked_mean(&[1.0; 3], &[true; 3], &mut [0.0; 3]);
        assert!(matches!(err, Err(WeightsError::NotConservative { .. })));
    }

    #[test]
    fn none_normalisation_divides_by_covered_area_and_missing_sources_are_named() {
        let mut w = destarea();
        w.normalization = "none".into();
        w.weight = vec![0.5, 1.0, 1.5];
        let m = WeightMatrix::from_file(w).unwrap();
        assert_eq!(m.row(1).1, &[0.25, 0.75]);
        let err = m.rows(&[1]).unwrap().remap(&[1.0, f64::NAN]).unwrap_err();
        assert!(
            err.to_string()
                .contains("destination cell 1 uses source cell 2"),
            "{err}"
        );
        let mut w = destarea();
        w.normalization = "area".into();
        assert!(matches!(
            WeightMatrix::from_file(w),
            Err(WeightsError::Normalization { .. })
        ));
    }
}
