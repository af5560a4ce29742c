//! HDF5 dimension scales (the high-level H5DS API, which hdf5-metno does not wrap): the
//! convention netCDF-4 uses for dimensions, so netCDF readers (ncdump, xarray, CDO) see named
//! dimensions and coordinate variables in an HDF5 file landcycle writes directly.

use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_uint};

/// `hid_t` of HDF5 ≥ 1.10.
type Hid = i64;

#[link(name = "hdf5_hl")]
extern "C" {
    fn H5DSset_scale(dsid: Hid, dimname: *const c_char) -> c_int;
    fn H5DSattach_scale(did: Hid, dsid: Hid, idx: c_uint) -> c_int;
}

/// Make `ds` a dimension scale named `name` (its netCDF dimension name is the dataset's name).
pub(super) fn set_scale(ds: &hdf5::Dataset, name: &str) -> Result<(), String> {
    let c = CString::new(name).map_err(|e| e.to_string())?;
    // SAFETY: a valid open dataset id and a NUL-terminated string; the library lock is held.
    let rc = hdf5::sync::sync(|| unsafe { H5DSset_scale(ds.id(), c.as_ptr()) });
    if rc < 0 {
        return Err(format!("H5DSset_scale({name}) failed"));
    }
    Ok(())
}

/// Attach dimension scale `scale` to dimension `idx` of `ds`.
pub(super) fn attach(ds: &hdf5::Dataset, scale: &hdf5::Dataset, idx: usize) -> Result<(), String> {
    // SAFETY: valid open dataset ids; the library lock is held.
    let rc = hdf5::sync::sync(|| unsafe { H5DSattach_scale(ds.id(), scale.id(), idx as c_uint) });
    if rc < 0 {
        return Err(format!(
            "H5DSattach_scale({} to dimension {idx} of {}) failed",
            scale.name(),
            ds.name()
        ));
    }
    Ok(())
}
