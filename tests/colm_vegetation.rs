//! CoLM vegetation constants and root fractions (stage 6 of COLM.md §8): the USGS table and
//! the Schenk–Jackson root profile against the parameters the Bondville reference received.
#![allow(clippy::needless_range_loop)]

use landcycle::lsm::colm::root_fractions::root_fractions;
use landcycle::lsm::colm::vegetation_usgs::{surface_type, usgs, SurfaceType, NCLASS};
use landcycle::lsm::colm::{parse_params, SoilGeometry, NSOIL};

#[test]
fn dryland_cropland_matches_the_bondville_listing() {
    let Some(dir) = landcycle::testdata::require("colm-bondville") else {
        return;
    };
    let l =
        parse_params(&std::fs::read_to_string(dir.join("params_bondville.txt")).unwrap()).unwrap();
    let v = |n: &str| l.scalar(n).unwrap();
    let c = usgs(2).unwrap();
    let p = c.photo;
    let pairs = [
        (c.z0m, "z0m"),
        (c.displa, "displa"),
        (c.sqrtdi, "sqrtdi"),
        (p.effcon, "effcon"),
        (p.vmax25, "vmax25"),
        (p.slti, "slti"),
        (p.hlti, "hlti"),
        (p.shti, "shti"),
        (p.hhti, "hhti"),
        (p.trda, "trda"),
        (p.trdm, "trdm"),
        (p.trop, "trop"),
        (p.gradm, "gradm"),
        (p.binter, "binter"),
        (c.extkn, "extkn"),
        (c.optics.chil, "chil"),
    ];
    for (got, name) in pairs {
        assert!(
            (got - v(name)).abs() <= 1e-15 * got.abs(),
            "{name}: {got} vs {}",
            v(name)
        );
    }
    let leaf = c.optics.leaf;
    for iw in 0..2 {
        for life in 0..2 {
            let (r, t) = (
                v(&format!("ref({},{})", iw + 1, life + 1)),
                v(&format!("tran({},{})", iw + 1, life + 1)),
            );
            assert_eq!((leaf.rho[iw][life], leaf.tau[iw][life]), (r, t));
        }
    }
    // Root fractions from the listed interfaces reproduce the listed rootfr.
    let fr = root_fractions(&l.geometry.zi, c.d50, c.root_shape).unwrap();
    for j in 0..NSOIL {
        assert!(
            (fr[j] - l.rootfr[j]).abs() < 1e-15,
            "layer {}: {} vs {}",
            j + 1,
            fr[j],
            l.rootfr[j]
        );
    }
}

#[test]
fn root_profiles_are_fractions_with_the_documented_depths() {
    let g = SoilGeometry::standard();
    for class in 1..=NCLASS {
        let c = usgs(class).unwrap();
        let fr = root_fractions(&g.zi, c.d50, c.root_shape).unwrap();
        assert!(
            (fr.iter().sum::<f64>() - 1.0).abs() < 1e-14,
            "class {class}"
        );
        assert!(fr.iter().all(|f| *f >= 0.0));
        // Half the roots lie above d50: the cumulative profile crosses 0.5 there.
        let y = |d_cm: f64| 1.0 / (1.0 + (d_cm / c.d50).powf(c.root_shape));
        assert!((y(c.d50) - 0.5).abs() < 1e-15);
        // The table's d95 is not used by the profile; its shape puts 90.5 % (grassland,
        // herbaceous wetland) to 99.8 % (shrubland) of the roots above d95, 95 ± 0.6 % for
        // 15 of the 22 vegetated classes.
        if c.d95 > c.d50 {
            assert!(
                (0.90..0.998).contains(&y(c.d95)),
                "class {class}: {}",
                y(c.d95)
            );
        }
        assert!(c.optics.leaf.rho[0][0] + c.optics.leaf.tau[0][0] < 1.0);
        assert_eq!(c.photo.is_c3(), class < 20);
        c.photo.validate().unwrap();
    }
    assert_eq!(surface_type(2), SurfaceType::Soil);
    assert_eq!(surface_type(16), SurfaceType::Water);
    assert_eq!(surface_type(24), SurfaceType::LandIce);
    assert!(usgs(0).is_err() && usgs(25).is_err());
    assert!(root_fractions(&g.zi, 0.0, -1.8).is_err());
    assert!(root_fractions(&g.zi, 20.0, 1.8).is_err());
    let mut bad = g.zi;
    bad[3] = bad[2];
    assert!(root_fractions(&bad, 20.0, -1.8).is_err());
}
