//! Mode 1 on an atmosphere grid: the data files of `&forcing` (valid-time or
//! forecast-archive names) hold fields on the source grid of `coupler:a2l_weights` and are
//! remapped through those weights, as the exchange directory's records are.

use std::sync::Arc;

use chrono::NaiveDateTime;

use super::AtmToLand;
use crate::forcing::{ForcingError, ForcingRecord, ForcingSpec, RecordSource};

/// Records of the data files of `spec`, remapped with a weight file.
#[derive(Clone)]
pub struct WeightedFileRecords {
    spec: Arc<ForcingSpec>,
    remap: Arc<AtmToLand>,
    cycle_end: Option<NaiveDateTime>,
}

impl WeightedFileRecords {
    pub fn new(spec: Arc<ForcingSpec>, remap: Arc<AtmToLand>) -> Self {
        WeightedFileRecords {
            spec,
            remap,
            cycle_end: None,
        }
    }
}

impl RecordSource for WeightedFileRecords {
    fn read_record(&mut self, time: NaiveDateTime) -> Result<ForcingRecord, ForcingError> {
        let path = self.spec.file_path_in_cycle(time, self.cycle_end)?;
        if !path.is_file() {
            return Err(ForcingError::MissingFile { path, time });
        }
        self.remap.record(&path, time, &self.spec)
    }

    fn fork(&self) -> Option<Box<dyn RecordSource>> {
        Some(Box::new(self.clone()))
    }

    fn begin_window(&mut self, end: NaiveDateTime) -> Result<bool, ForcingError> {
        self.cycle_end = Some(end);
        Ok(self.spec.names_cycle())
    }
}
