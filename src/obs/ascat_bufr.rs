//! H SAF ASCAT surface soil moisture in BUFR (near-real-time segments such as H16 and H103:
//! BUFR edition 4, sequence 3 12 061, compressed), read through ecCodes.
//!
//! Every message of a file is unpacked; per subset (one swath node) the reader takes
//! `latitude`, `longitude`, `year` … `second`, `surfaceSoilMoisture` (% saturation),
//! `estimatedErrorInSurfaceSoilMoisture` (%), `topographicComplexity`,
//! `inundationAndWetlandFraction`, `snowCover`, `frozenLandSurfaceFraction` (all %),
//! `soilMoistureProcessingFlag`, `soilMoistureQuality` and `crossTrackCellNumber`. In a
//! compressed message a key whose value is the same in every subset comes back as one value
//! and is broadcast. Missing values are ecCodes' missing markers (−1e100 for doubles).
//!
//! The rules and their order are those of the EUMETSAT NetCDF reader, applied by the same
//! code (`ObsBatch::screen` in [`super::ascat`]), with the BUFR fractions in place of the
//! NetCDF probabilities: `missing_location`,
//! `missing_time`, `missing_value`, `estimated_error`, `topography`, `wetland`, `snow`,
//! `frozen`, `processing_flag` (only when asked), `out_of_range`. In the quality record,
//! `row` is the subset's running index in the file and `cell` its cross-track cell number.
//!
//! Built only with the `bufr` feature (default); without it the reader returns an error
//! that says so.

use super::ascat::AscatOptions;
#[cfg(feature = "bufr")]
use super::ascat::{Node, RULES};
#[cfg(feature = "bufr")]
use super::RejectCounts;
use super::{ObsBatch, ObsError};
use std::path::Path;

/// Read one H SAF ASCAT soil-moisture BUFR file (all its messages).
#[cfg(feature = "bufr")]
pub fn read_ascat_hsaf_bufr(path: &Path, opts: &AscatOptions) -> Result<ObsBatch, ObsError> {
    let mut out = ObsBatch {
        observations: Vec::new(),
        rejected: RejectCounts::with_rules(&RULES),
        n_records: 0,
    };
    let file = codes::BufrFile::open(path)?;
    let mut index = 0u32;
    let mut n_messages = 0;
    while let Some(msg) = file.next_message(path)? {
        n_messages += 1;
        msg.unpack(path)?;
        let n = msg.long(path, "numberOfSubsets")?;
        let n = usize::try_from(n)
            .map_err(|_| ObsError::var(path, "numberOfSubsets", format!("{n} is negative")))?;
        let get = |key: &str| msg.doubles(path, key, n);
        let lat = get("latitude")?;
        let lon = get("longitude")?;
        let time_keys = ["year", "month", "day", "hour", "minute", "second"];
        let mut time_parts = Vec::with_capacity(6);
        for k in time_keys {
            time_parts.push(get(k)?);
        }
        // ecCodes scales the packed integers in binary (204 × 0.1 = 20.400000000000002);
        // the descriptors have at most 6 decimals, so rounding there gives the decimal value.
        let decimal = |v: Vec<f64>| -> Vec<f64> {
            v.into_iter()
                .map(|x| {
                    if missing(x) {
                        x
                    } else {
                        (x * 1e6).round() / 1e6
                    }
                })
                .collect()
        };
        let sm = decimal(get("surfaceSoilMoisture")?);
        let err = decimal(get("estimatedErrorInSurfaceSoilMoisture")?);
        let topo = get("topographicComplexity")?;
        let wetland = get("inundationAndWetlandFraction")?;
        let snow = get("snowCover")?;
        let frozen = get("frozenLandSurfaceFraction")?;
        let proc_flag = get("soilMoistureProcessingFlag")?;
        let quality = get("soilMoistureQuality")?;
        let cell = get("crossTrackCellNumber")?;
        out.n_records += n;
        let present = |v: f64| (!missing(v)).then_some(v);
        for k in 0..n {
            let node = Node {
                location: present(lat[k]).zip(present(lon[k])),
                time: subset_time(&time_parts, k),
                value: present(sm[k]),
                product_error: present(err[k]),
                topography: present(topo[k]),
                wetland: present(wetland[k]),
                snow: present(snow[k]),
                frozen: present(frozen[k]),
                proc_flag1: as_u8(proc_flag[k]),
                aggregated_quality_flag: as_u8(quality[k]),
                row: index,
                cell: if missing(cell[k]) {
                    u32::MAX
                } else {
                    cell[k] as u32
                },
            };
            index += 1;
            out.screen(&node, opts);
        }
    }
    if n_messages == 0 {
        return Err(ObsError::format(path, "no BUFR message found"));
    }
    Ok(out)
}

/// Without ecCodes: a clear error.
#[cfg(not(feature = "bufr"))]
pub fn read_ascat_hsaf_bufr(path: &Path, _opts: &AscatOptions) -> Result<ObsBatch, ObsError> {
    Err(ObsError::format(
        path,
        "H SAF BUFR needs ecCodes: this landcycle was built without the `bufr` feature",
    ))
}

/// ecCodes' missing markers: −1e100 for doubles (and the long missing value 2³¹ − 1 when it
/// comes back as a double).
#[cfg_attr(not(feature = "bufr"), allow(dead_code))]
fn missing(v: f64) -> bool {
    !v.is_finite() || v <= -1e99 || v == 2_147_483_647.0
}

/// A percentage or flag as the u8 of the quality record (255 when missing or larger).
#[cfg_attr(not(feature = "bufr"), allow(dead_code))]
fn as_u8(v: f64) -> u8 {
    if missing(v) || !(0.0..255.0).contains(&v) {
        255
    } else {
        v.round() as u8
    }
}

/// Time of subset `k` from the year … second arrays (seconds may carry a fraction).
#[cfg_attr(not(feature = "bufr"), allow(dead_code))]
fn subset_time(parts: &[Vec<f64>], k: usize) -> Option<chrono::NaiveDateTime> {
    let v: Vec<f64> = parts.iter().map(|p| p[k]).collect();
    if v.iter().any(|&x| missing(x)) {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(v[0] as i32, v[1] as u32, v[2] as u32)?;
    let whole = v[5].floor();
    let micro = ((v[5] - whole) * 1e6).round() as u32;
    let t = date.and_hms_micro_opt(v[3] as u32, v[4] as u32, whole as u32, micro.min(999_999))?;
    Some(t)
}

/// The few ecCodes calls the reader needs, behind owning wrappers.
#[cfg(feature = "bufr")]
mod codes {
    use super::ObsError;
    use eccodes_sys as ec;
    use std::ffi::{CStr, CString};
    use std::path::Path;

    fn message(code: i32) -> String {
        // SAFETY: ecCodes returns a pointer to a static, NUL-terminated string for any code.
        let p = unsafe { ec::codes_get_error_message(code) };
        if p.is_null() {
            format!("ecCodes error {code}")
        } else {
            // SAFETY: checked non-null above; the string is static.
            unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
        }
    }

    fn key_c(path: &Path, key: &str) -> Result<CString, ObsError> {
        CString::new(key).map_err(|_| ObsError::var(path, key, "key contains NUL"))
    }

    /// An open file (closed on drop).
    pub struct BufrFile {
        f: *mut ec::FILE,
    }

    impl BufrFile {
        pub fn open(path: &Path) -> Result<Self, ObsError> {
            use std::os::unix::ffi::OsStrExt;
            let name = CString::new(path.as_os_str().as_bytes())
                .map_err(|_| ObsError::open(path, "path contains NUL"))?;
            let mode = c"rb";
            // SAFETY: both arguments are valid NUL-terminated strings.
            let f = unsafe { ec::fopen(name.as_ptr(), mode.as_ptr()) };
            if f.is_null() {
                return Err(ObsError::open(path, std::io::Error::last_os_error()));
            }
            Ok(BufrFile { f })
        }

        /// The next BUFR message, or `None` at the end of the file.
        pub fn next_message(&self, path: &Path) -> Result<Option<Message>, ObsError> {
            let mut err: i32 = 0;
            // SAFETY: `self.f` is an open FILE*; a null context selects the default one.
            let h = unsafe {
                ec::codes_handle_new_from_file(
                    std::ptr::null_mut(),
                    self.f,
                    ec::ProductKind_PRODUCT_BUFR,
                    &mut err,
                )
            };
            if err != 0 {
                if !h.is_null() {
                    // SAFETY: a handle returned by ecCodes, deleted once.
                    unsafe { ec::codes_handle_delete(h) };
                }
                return Err(ObsError::format(
                    path,
                    format!("BUFR message: {}", message(err)),
                ));
            }
            Ok((!h.is_null()).then_some(Message { h }))
        }
    }

    impl Drop for BufrFile {
        fn drop(&mut self) {
            // SAFETY: opened by fopen in `open`, closed once.
            unsafe { ec::fclose(self.f) };
        }
    }

    /// One message handle (deleted on drop).
    pub struct Message {
        h: *mut ec::codes_handle,
    }

    impl Message {
        /// Decode the data section (ecCodes needs `unpack = 1` before data keys exist).
        pub fn unpack(&self, path: &Path) -> Result<(), ObsError> {
            let key = key_c(path, "unpack")?;
            // SAFETY: valid handle and key.
            let rc = unsafe { ec::codes_set_long(self.h, key.as_ptr(), 1) };
            if rc != 0 {
                return Err(ObsError::format(
                    path,
                    format!("cannot unpack BUFR message: {}", message(rc)),
                ));
            }
            Ok(())
        }

        pub fn long(&self, path: &Path, key: &str) -> Result<i64, ObsError> {
            let k = key_c(path, key)?;
            let mut v: std::os::raw::c_long = 0;
            // SAFETY: valid handle, key and output pointer.
            let rc = unsafe { ec::codes_get_long(self.h, k.as_ptr(), &mut v) };
            if rc != 0 {
                return Err(ObsError::var(path, key, message(rc)));
            }
            Ok(v as i64)
        }

        /// The values of a data key for `n` subsets (a single value is broadcast).
        pub fn doubles(&self, path: &Path, key: &str, n: usize) -> Result<Vec<f64>, ObsError> {
            let k = key_c(path, key)?;
            let mut size: usize = 0;
            // SAFETY: valid handle, key and output pointer.
            let rc = unsafe { ec::codes_get_size(self.h, k.as_ptr(), &mut size) };
            if rc != 0 {
                return Err(ObsError::var(path, key, message(rc)));
            }
            if size != 1 && size != n {
                return Err(ObsError::var(
                    path,
                    key,
                    format!("{size} values for {n} subsets"),
                ));
            }
            let mut v = vec![0.0f64; size];
            let mut len = size;
            // SAFETY: `v` has room for `len` doubles; ecCodes writes at most `len`.
            let rc =
                unsafe { ec::codes_get_double_array(self.h, k.as_ptr(), v.as_mut_ptr(), &mut len) };
            if rc != 0 {
                return Err(ObsError::var(path, key, message(rc)));
            }
            v.truncate(len);
            if v.len() == 1 && n != 1 {
                v = vec![v[0]; n];
            }
            if v.len() != n {
                return Err(ObsError::var(
                    path,
                    key,
                    format!("{} values for {n} subsets", v.len()),
                ));
            }
            Ok(v)
        }
    }

    impl Drop for Message {
        fn drop(&mut self) {
            // SAFETY: a handle returned by ecCodes, deleted once.
            unsafe { ec::codes_handle_delete(self.h) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_markers_and_flag_conversion() {
        assert!(missing(-1e100) && missing(2_147_483_647.0) && missing(f64::NAN));
        assert!(!missing(0.0) && !missing(-32.4));
        assert_eq!(as_u8(12.4), 12);
        assert_eq!(as_u8(-1e100), 255);
        assert_eq!(as_u8(300.0), 255);
        let parts: Vec<Vec<f64>> = [2017.0, 2.0, 20.0, 11.0, 15.0, 7.5]
            .iter()
            .map(|&v| vec![v])
            .collect();
        let t = subset_time(&parts, 0).unwrap();
        assert_eq!(t.to_string(), "2017-02-20 11:15:07.500");
        let mut bad = parts.clone();
        bad[1][0] = 13.0;
        assert!(subset_time(&bad, 0).is_none());
        bad[1][0] = -1e100;
        assert!(subset_time(&bad, 0).is_none());
    }
}
