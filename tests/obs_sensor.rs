//! The observation products' conformance suite: every product behind `ObsProduct` passes
//! `obs::sensor::check_product` on the real product files of the shared data, and the
//! products of a `&da` group have distinct perturbation-key codes.

use landcycle::obs::ascat::AscatOptions;
use landcycle::obs::sensor::{check_product, AscatProduct, ObsProduct, SmapProduct};
use landcycle::obs::smap::SmapOptions;
use landcycle::testdata::require;

fn first_file(dir: &std::path::Path, suffix: &str) -> std::path::PathBuf {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    files.remove(0)
}

#[test]
fn smap_product_conforms() {
    let Some(dir) = require("smap-spl2smp") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let p = SmapProduct(SmapOptions::default());
    check_product(&p, Some(&first_file(&dir, ".h5")), work.path()).unwrap();
}

#[test]
fn ascat_product_conforms_for_netcdf_and_bufr() {
    let (Some(nc), Some(bufr)) = (require("ascat-eumetsat"), require("ascat-hsaf-bufr")) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let p = AscatProduct(AscatOptions::default());
    check_product(&p, Some(&first_file(&nc, ".nc")), work.path()).unwrap();
    check_product(&p, Some(&first_file(&bufr, ".buf")), work.path()).unwrap();
}

#[test]
fn product_codes_are_distinct_and_stable() {
    let smap = SmapProduct(SmapOptions::default());
    let ascat = AscatProduct(AscatOptions::default());
    // The codes key the observation perturbations: changing one changes every analysis.
    assert_eq!((smap.code(), ascat.code()), (0, 1));
    assert_ne!(smap.name(), ascat.name());
}
