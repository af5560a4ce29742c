//! Mode 3's land export: the fields remapped land → atmosphere (first-order conservative,
//! land mask as source mask, §4), written as `lnd2atm/LND_<time>.nc` with MANIFEST.json and
//! READY last. A rerun of a published cycle must reproduce the published file exactly.

use std::path::PathBuf;

use chrono::NaiveDateTime;

use super::{CouplerError, LandExport, LandFields};
use crate::grid::weights::{RowSubset, WeightMatrix};
use crate::io::xchg::{
    describe_file, grid_id, land_file_name, publish, read_ready, sha256_file, time_text,
    write_record, AtmGrid, CycleDirs, Manifest, RecordField, PROTOCOL,
};

/// Writes the land export into `<root>/<cycle>/lnd2atm/`.
pub struct ExchangeExport {
    root: PathBuf,
    l2a: RowSubset,
    grid: AtmGrid,
    window_seconds: i64,
}

impl ExchangeExport {
    /// Export through conservative land → atmosphere `weights` (already checked against the
    /// land grid) into exchange root `root`.
    pub fn new(root: PathBuf, weights: &WeightMatrix, window_seconds: i64) -> Self {
        let d = weights.destination();
        ExchangeExport {
            root,
            l2a: weights.all_rows(),
            grid: atm_grid(&d.dims, &d.lat, &d.lon),
            window_seconds,
        }
    }

    /// One 2-D field on the atmosphere grid: the land-part mean, NaN where no land.
    fn remap(
        &self,
        fields: &LandFields,
        values: &[f32],
        width: usize,
        k: usize,
    ) -> Result<Vec<f32>, CouplerError> {
        let src_ids = self.l2a.source_ids();
        let mut src = Vec::with_capacity(src_ids.len());
        let mut mask = Vec::with_capacity(src_ids.len());
        for g in src_ids {
            match fields.ids.binary_search(g) {
                Ok(c) => {
                    src.push(f64::from(values[c * width + k]));
                    mask.push(true);
                }
                Err(_) => {
                    src.push(f64::NAN);
                    mask.push(false);
                }
            }
        }
        let mut atm = vec![f64::NAN; self.grid.n_cells()];
        self.l2a.masked_mean(&src, &mask, &mut atm)?;
        Ok(atm.iter().map(|&v| v as f32).collect())
    }

    /// A layered field, layer-major on the atmosphere grid.
    fn remap_layers(&self, f: &LandFields, values: &[f32]) -> Result<Vec<f32>, CouplerError> {
        let n = f.n_layers();
        let mut out = Vec::with_capacity(n * self.grid.n_cells());
        for k in 0..n {
            out.extend(self.remap(f, values, n, k)?);
        }
        Ok(out)
    }
}

/// A rank-2 destination with the centres of a regular lat-lon grid is written as such;
/// anything else (a cubed sphere) cell by cell.
fn atm_grid(dims: &[usize], lat: &[f64], lon: &[f64]) -> AtmGrid {
    if let [nx, ny] = *dims {
        let la: Vec<f64> = (0..ny).map(|j| lat[j * nx]).collect();
        let lo: Vec<f64> = lon[..nx].to_vec();
        let regular =
            (0..ny).all(|j| (0..nx).all(|i| lat[j * nx + i] == la[j] && lon[j * nx + i] == lo[i]));
        if regular {
            return AtmGrid::LatLon { lat: la, lon: lo };
        }
    }
    AtmGrid::Cells {
        lat: lat.to_vec(),
        lon: lon.to_vec(),
    }
}

impl LandExport for ExchangeExport {
    fn export(&mut self, time: NaiveDateTime, f: &LandFields) -> Result<(), CouplerError> {
        let end = {
            // The cycle whose window holds the export time: the first window end at or after it.
            let w = self.window_seconds;
            let ts = time.and_utc().timestamp();
            let e = (ts + w - 1).div_euclid(w) * w;
            chrono::DateTime::from_timestamp(e, 0)
                .expect("time in range")
                .naive_utc()
        };
        let dirs = CycleDirs::new(&self.root, end);
        std::fs::create_dir_all(&dirs.lnd2atm).map_err(|source| crate::io::IoError::Fs {
            path: dirs.lnd2atm.clone(),
            action: "create directory",
            source,
        })?;
        let sm = self.remap_layers(f, &f.soil_moisture)?;
        let sl = self.remap_layers(f, &f.soil_liquid)?;
        let st = self.remap_layers(f, &f.soil_temperature)?;
        let ts = self.remap(f, &f.skin_temperature, 1, 0)?;
        let swe = self.remap(f, &f.swe, 1, 0)?;
        let sd = self.remap(f, &f.snow_depth, 1, 0)?;
        let cw = self.remap(f, &f.canopy_water, 1, 0)?;
        let n = f.n_layers();
        let field = |name, units, long_name, layers, values| RecordField {
            name,
            units,
            long_name,
            layers,
            period_mean: false,
            values,
        };
        let fields = [
            field(
                "SoilMoistV",
                "m3 m-3",
                "volumetric soil moisture",
                n,
                &sm[..],
            ),
            field(
                "SoilLiqV",
                "m3 m-3",
                "volumetric liquid soil water",
                n,
                &sl[..],
            ),
            field("SoilTemp", "K", "soil temperature", n, &st[..]),
            field("AvgSurfT", "K", "surface skin temperature", 0, &ts[..]),
            field("SWE", "kg m-2", "snow water equivalent", 0, &swe[..]),
            field("SnowDepth", "m", "snow depth", 0, &sd[..]),
            field("CanopInt", "kg m-2", "canopy intercepted water", 0, &cw[..]),
        ];
        let name = land_file_name(time);
        let title = "landcycle land export (ensemble mean, land part of each atmosphere cell)";
        let published = read_ready(&dirs.lnd2atm)?.is_some();
        // A rerun writes beside the published file and compares: never a different file
        // under a published name.
        let target = if published {
            dirs.lnd2atm.join(format!(".{name}.rerun"))
        } else {
            dirs.lnd2atm.join(&name)
        };
        write_record(&target, &self.grid, time, &fields, title)?;
        if published {
            let (mine, _) = sha256_file(&target)?;
            let _ = std::fs::remove_file(&target);
            let (theirs, _) = sha256_file(&dirs.lnd2atm.join(&name))?;
            if mine != theirs {
                return Err(CouplerError::Protocol {
                    path: dirs.lnd2atm.join(&name),
                    msg: "published before with different content: a rerun of this cycle \
                          does not reproduce the export (not overwritten)"
                        .into(),
                });
            }
            return Ok(());
        }
        let (lat, lon) = self.grid.centres();
        let m = Manifest {
            protocol: PROTOCOL.into(),
            producer: format!("landcycle {}", env!("CARGO_PKG_VERSION")),
            cycle: end.format("%Y%m%d%H").to_string(),
            issue_time: time_text(time),
            interval_seconds: 0,
            period_mean_ending: vec![],
            grid_id: grid_id(&lat, &lon),
            files: vec![describe_file(&dirs.lnd2atm, &name, time)?],
        };
        publish(&dirs.lnd2atm, &m)?;
        Ok(())
    }
}
