//! Mode 3's land export: the fields remapped land → atmosphere (first-order conservative,
//! land mask as source mask, §4), written as `lnd2atm/LND_<time>.nc` with MANIFEST.json and
//! READY last. A rerun of a published cycle must reproduce the published file exactly.

use std::path::PathBuf;

use chrono::NaiveDateTime;

use super::land_to_atm::LandToAtm;
use super::{CouplerError, LandExport, LandFields};
use crate::grid::weights::WeightMatrix;
use crate::io::xchg::{
    describe_file, grid_id, land_file_name, publish, read_ready, sha256_file, time_text,
    write_record, CycleDirs, Manifest, RecordField, PROTOCOL,
};

/// Writes the land export into `<root>/<cycle>/lnd2atm/`.
pub struct ExchangeExport {
    root: PathBuf,
    l2a: LandToAtm,
    window_seconds: i64,
}

impl ExchangeExport {
    /// Export through conservative land → atmosphere `weights` (already checked against the
    /// land grid) into exchange root `root`.
    pub fn new(root: PathBuf, weights: &WeightMatrix, window_seconds: i64) -> Self {
        ExchangeExport {
            root,
            l2a: LandToAtm::new(weights),
            window_seconds,
        }
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
        let atm = self.l2a.fields(f)?;
        let fields: Vec<RecordField<'_>> = atm
            .iter()
            .map(|a| RecordField {
                name: a.name,
                units: a.units,
                long_name: a.long_name,
                layers: a.layers,
                period_mean: false,
                values: &a.values,
            })
            .collect();
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
        write_record(&target, self.l2a.grid(), time, &fields, title)?;
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
        let (lat, lon) = self.l2a.grid().centres();
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
