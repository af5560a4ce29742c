//! The forcing-source seam: where the records of atmospheric forcing come from. The data
//! files of `&forcing` are the first source ([`super::FileRecords`]); the coupler's sources
//! (forecast archives, WRF output, an exchange directory, an MPMD peer) sit behind the same
//! trait, so the time interpolation, zenith weighting and unit checks of
//! [`super::ForcingReader`] are shared by every mode.

use super::{ForcingError, ForcingRecord};
use crate::grid::remap::Hyperslab;
use chrono::NaiveDateTime;

/// Records of forcing at a fixed set of targets, in SI units.
pub trait RecordSource: Send {
    /// The record valid at `time` (a file time of the reader's spec).
    fn read_record(&mut self, time: NaiveDateTime) -> Result<ForcingRecord, ForcingError>;

    /// An independent copy that reads the same records with the same results on a
    /// read-ahead thread; `None` when the source cannot read ahead (yet).
    fn fork(&self) -> Option<Box<dyn RecordSource>>;

    /// The land cycle ending at `end` starts reading. Returns whether the records depend on
    /// the cycle (a forecast archive, an exchange directory): the reader then forgets the
    /// records and read ahead of the previous cycle, since the record valid at the window
    /// start is lead 0 of the new cycle, not lead 6 of the old one.
    fn begin_window(&mut self, _end: NaiveDateTime) -> Result<bool, ForcingError> {
        Ok(false)
    }

    /// The part of the source grid that is read, where the source has one.
    fn hyperslab(&self) -> Option<Hyperslab> {
        None
    }
}
