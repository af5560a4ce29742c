//! Noah parameter tables: WRF-format reader, built-in tables, landcycle format, errors.

use landcycle::lsm::noah::tables::{
    ParameterTables, TableError, SOIL_STATSGO, VEG_MODIS, VEG_USGS,
};
use std::path::Path;

const WRF341: &str = "noah-bondville/tables-wrf341";
const WRF471: &str = "noah-bondville/tables-wrf471";

/// Regenerates run/tables/ from the WRF 3.4.1 tables (run once by hand:
/// `LANDCYCLE_REGENERATE_TABLES=1 cargo test --release --test noah_tables -- --ignored`).
#[test]
#[ignore]
fn regenerate_builtin_tables() {
    if std::env::var_os("LANDCYCLE_REGENERATE_TABLES").is_none() {
        return;
    }
    let dir = landcycle::testdata::require(WRF341).expect("WRF 3.4.1 tables");
    let t = ParameterTables::from_wrf_dir(&dir).unwrap();
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("run/tables");
    t.write_landcycle_dir(
        &out,
        "WRF release 3.4.1 run/SOILPARM.TBL, VEGPARM.TBL, GENPARM.TBL (Noah LSM 3.4.1 set; \
         WRF public-domain notice); values unchanged",
    )
    .unwrap();
}

/// Every number of the tables as (path, f64 bits), and every class name, in a fixed order, so
/// that two sources compare bit for bit with a readable diff.
fn flatten(t: &ParameterTables) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut put = |k: String, v: f64| out.push((k, v.to_bits()));
    for d in &t.soil {
        for (i, c) in d.classes.iter().enumerate() {
            let p = format!("soil/{}/{}/", d.name, i + 1);
            put(format!("{p}{}", c.name), 0.0);
            for (n, v) in [
                ("bb", c.bb),
                ("drysmc", c.drysmc),
                ("f11", c.f11),
                ("maxsmc", c.maxsmc),
                ("refsmc", c.refsmc),
                ("satpsi", c.satpsi),
                ("satdk", c.satdk),
                ("satdw", c.satdw),
                ("wltsmc", c.wltsmc),
                ("qtz", c.qtz),
            ] {
                put(format!("{p}{n}"), v);
            }
            for (n, v) in &c.extra {
                put(format!("{p}extra/{n}"), *v);
            }
        }
    }
    for d in &t.vegetation {
        let p = format!("veg/{}/", d.name);
        for (n, v) in [
            ("topt", d.topt),
            ("cmcmax", d.cmcmax),
            ("cfactr", d.cfactr),
            ("rsmax", d.rsmax),
            ("bare", d.bare as f64),
            ("natural", d.natural as f64),
        ] {
            put(format!("{p}{n}"), v);
        }
        for (n, v) in &d.extra {
            put(format!("{p}extra/{n}"), *v);
        }
        for (i, c) in d.classes.iter().enumerate() {
            let p = format!("{p}{}/", i + 1);
            put(format!("{p}{}", c.name), 0.0);
            for (n, v) in [
                ("shdfac", c.shdfac),
                ("nroot", c.nroot as f64),
                ("rs", c.rs),
                ("rgl", c.rgl),
                ("hs", c.hs),
                ("snup", c.snup),
                ("maxalb", c.maxalb),
                ("laimin", c.laimin),
                ("laimax", c.laimax),
                ("emissmin", c.emissmin),
                ("emissmax", c.emissmax),
                ("albedomin", c.albedomin),
                ("albedomax", c.albedomax),
                ("z0min", c.z0min),
                ("z0max", c.z0max),
            ] {
                put(format!("{p}{n}"), v);
            }
            for (n, v) in &c.extra {
                put(format!("{p}extra/{n}"), *v);
            }
        }
    }
    let g = &t.general;
    for (i, v) in g.slope_data.iter().enumerate() {
        put(format!("general/slope_data/{}", i + 1), *v);
    }
    for (n, v) in [
        ("sbeta", g.sbeta),
        ("fxexp", g.fxexp),
        ("csoil", g.csoil),
        ("salp", g.salp),
        ("refdk", g.refdk),
        ("refkdt", g.refkdt),
        ("frzk", g.frzk),
        ("zbot", g.zbot),
        ("czil", g.czil),
        ("smlow", g.smlow),
        ("smhigh", g.smhigh),
        ("lvcoef", g.lvcoef),
    ] {
        put(format!("general/{n}"), v);
    }
    for (n, v) in &g.extra {
        put(format!("general/extra/{n}"), *v);
    }
    out
}

/// Asserts two flattened tables are identical (ignoring dataset order), showing a few differences.
fn assert_same(a: &ParameterTables, b: &ParameterTables) {
    let (mut a, mut b) = (flatten(a), flatten(b));
    a.sort();
    b.sort();
    let diff: Vec<_> = a.iter().zip(&b).filter(|(x, y)| x != y).take(5).collect();
    assert!(
        diff.is_empty() && a.len() == b.len(),
        "{} vs {} entries, first differences: {diff:?}",
        a.len(),
        b.len()
    );
}

/// (dataset name, class count) per dataset.
type DatasetList = Vec<(String, usize)>;

fn names(t: &ParameterTables) -> (DatasetList, DatasetList) {
    (
        t.soil
            .iter()
            .map(|d| (d.name.clone(), d.classes.len()))
            .collect(),
        t.vegetation
            .iter()
            .map(|d| (d.name.clone(), d.classes.len()))
            .collect(),
    )
}

#[test]
fn wrf341_tables_equal_builtin_bit_for_bit() {
    let Some(dir) = landcycle::testdata::require(WRF341) else {
        return;
    };
    let wrf = ParameterTables::from_wrf_dir(&dir).unwrap();
    let builtin = ParameterTables::builtin();
    let expected_sets = (
        vec![(SOIL_STATSGO.to_string(), 19)],
        vec![(VEG_USGS.to_string(), 27), (VEG_MODIS.to_string(), 20)],
    );
    assert_eq!(names(&wrf), expected_sets, "RUC datasets must be skipped");
    assert_eq!(names(&builtin), expected_sets);
    assert_eq!(
        flatten(&wrf).len(),
        19 * 11 + 6 + 27 * 16 + 6 + 20 * 16 + 9 + 12
    );
    assert_same(&wrf, &builtin);
    assert_eq!(wrf, builtin);

    // Spot values read from the WRF 3.4.1 files by eye.
    let s = builtin.soil(SOIL_STATSGO, 8).unwrap();
    assert_eq!(
        (s.name.as_str(), s.bb, s.satdk, s.satdw),
        ("SILTY CLAY LOAM", 8.72, 2.04e-6, 0.237e-4)
    );
    let v = builtin.vegetation(VEG_USGS, 7).unwrap();
    assert_eq!(
        (v.name.as_str(), v.nroot, v.rs, v.hs, v.z0max),
        ("Grassland", 3, 40.0, 36.35, 0.12)
    );
    // MODIS class 11 has blank-separated values in the WRF file ("55.97   0.015     59.,").
    let w = builtin.vegetation(VEG_MODIS, 11).unwrap();
    assert_eq!(
        (w.hs, w.snup, w.maxalb, w.laimin),
        (55.97, 0.015, 59.0, 1.75)
    );
    let u = builtin.vegetation_dataset(VEG_USGS).unwrap();
    assert_eq!(
        (u.topt, u.cmcmax, u.cfactr, u.rsmax, u.bare, u.natural),
        (298.0, 0.5e-3, 0.5, 5000.0, 19, 5)
    );
    let m = builtin.vegetation_dataset(VEG_MODIS).unwrap();
    assert_eq!((m.bare, m.natural), (16, 14));
    let g = &builtin.general;
    assert_eq!(
        g.slope_data,
        [0.1, 0.6, 1.0, 0.35, 0.55, 0.8, 0.63, 0.0, 0.0]
    );
    assert_eq!(
        (g.csoil, g.refdk, g.zbot, g.czil, g.lvcoef),
        (2.0e6, 2.0e-6, -8.0, 0.1, 0.5)
    );
    assert_eq!(builtin.slope(1).unwrap(), 0.1);
}

#[test]
fn landcycle_format_round_trips() {
    let run = Path::new(env!("CARGO_MANIFEST_DIR")).join("run/tables");
    let from_dir = ParameterTables::from_landcycle_dir(&run).unwrap();
    assert_same(&from_dir, &ParameterTables::builtin());

    // Write and read back the WRF 4.7.1 tables: extra columns and scalars survive bit for bit.
    let Some(dir) = landcycle::testdata::require(WRF471) else {
        return;
    };
    let t = ParameterTables::from_wrf_dir(&dir).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    t.write_landcycle_dir(tmp.path(), "test").unwrap();
    let back = ParameterTables::from_landcycle_dir(tmp.path()).unwrap();
    assert_eq!(back.vegetation.len(), 3);
    assert_same(&t, &back);
}

#[test]
fn wrf471_tables_parse_and_differ_where_they_should() {
    let Some(d341) = landcycle::testdata::require(WRF341) else {
        return;
    };
    let Some(d471) = landcycle::testdata::require(WRF471) else {
        return;
    };
    let old = ParameterTables::from_wrf_dir(&d341).unwrap();
    let new = ParameterTables::from_wrf_dir(&d471).unwrap();
    let (soil, veg) = names(&new);
    assert_eq!(soil, [(SOIL_STATSGO.to_string(), 19)]);
    assert_eq!(
        veg,
        [
            (VEG_USGS.to_string(), 27),
            (VEG_MODIS.to_string(), 20),
            ("NLCD40".to_string(), 40)
        ]
    );
    assert!(matches!(
        new.vegetation_dataset("USGS-RUC"),
        Err(TableError::UnknownDataset { .. })
    ));

    // STATSGO: 4.7.1 revised sand, silt and the conductivities (values from the files).
    let (o1, n1) = (
        old.soil(SOIL_STATSGO, 1).unwrap(),
        new.soil(SOIL_STATSGO, 1).unwrap(),
    );
    assert_eq!((o1.refsmc, o1.satdk, o1.satdw), (0.236, 1.07e-6, 0.608e-6));
    assert_eq!((n1.refsmc, n1.satdk, n1.satdw), (0.192, 4.66e-5, 2.65e-5));
    assert_eq!((o1.bb, o1.maxsmc), (n1.bb, n1.maxsmc));
    let n5 = new.soil(SOIL_STATSGO, 5).unwrap();
    assert_eq!((n5.bb, n5.maxsmc, n5.satpsi), (3.86, 0.484, 0.955));
    let (o8, n8) = (
        old.soil(SOIL_STATSGO, 8).unwrap(),
        new.soil(SOIL_STATSGO, 8).unwrap(),
    );
    assert_eq!((o8.satdk, n8.satdk, n8.satdw), (2.04e-6, 2.03e-6, 2.35e-5));
    assert_eq!((o8.bb, o8.refsmc, o8.wltsmc), (n8.bb, n8.refsmc, n8.wltsmc));
    let extra: Vec<&str> = n1.extra.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        extra,
        ["bvic", "axaj", "bxaj", "xxaj", "bdvic", "bbvic", "gdvic"]
    );
    assert_eq!(n1.extra[1].1, 0.009);
    assert!(o1.extra.is_empty());

    // Vegetation: same Noah columns for USGS, plus ZTOPV/ZBOTV columns and more scalars.
    let (o11, n11) = (
        old.vegetation(VEG_USGS, 11).unwrap(),
        new.vegetation(VEG_USGS, 11).unwrap(),
    );
    let base = |v: &landcycle::lsm::noah::tables::VegetationParams| {
        let mut v = v.clone();
        v.extra.clear();
        v
    };
    assert_eq!(base(o11), base(n11));
    assert_eq!(
        n11.extra,
        [("ztopv".to_string(), 20.0), ("zbotv".to_string(), 11.5)]
    );
    let nu = new.vegetation_dataset(VEG_USGS).unwrap();
    assert_eq!((nu.bare, nu.natural), (19, 5));
    assert_eq!(nu.extra.len(), 12);
    assert_eq!(nu.extra[0], ("crop".to_string(), 3.0));
    assert_eq!(nu.extra[11], ("lcz_11".to_string(), 61.0));
    let nm = new.vegetation_dataset(VEG_MODIS).unwrap();
    assert_eq!(nm.extra[0], ("crop".to_string(), 12.0));
    assert_eq!(new.vegetation(VEG_MODIS, 11).unwrap().snup, 0.015);
    assert_eq!(new.general, old.general);
}

/// Copies the WRF 3.4.1 tables into a temporary directory, edits one file, reads it back.
fn read_edited(file: &str, edit: impl Fn(&str) -> String) -> Option<TableError> {
    let dir = landcycle::testdata::require(WRF341)?;
    let tmp = tempfile::tempdir().unwrap();
    for f in ["SOILPARM.TBL", "VEGPARM.TBL", "GENPARM.TBL"] {
        let text = std::fs::read_to_string(dir.join(f)).unwrap();
        let text = if f == file { edit(&text) } else { text };
        std::fs::write(tmp.path().join(f), text).unwrap();
    }
    Some(ParameterTables::from_wrf_dir(tmp.path()).expect_err("edited table must be rejected"))
}

fn assert_parse_error(e: TableError, file: &str, line: usize, words: &[&str]) {
    let msg = e.to_string();
    match &e {
        TableError::Parse {
            file: f, line: l, ..
        } => {
            assert!(f.ends_with(file), "{msg}");
            assert_eq!(*l, line, "{msg}");
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
    for w in words {
        assert!(msg.contains(w), "'{msg}' lacks '{w}'");
    }
}

#[test]
fn malformed_wrf_tables_name_file_and_line() {
    // Bad number in STAS class 8 (line 11 of SOILPARM.TBL).
    let Some(e) = read_edited("SOILPARM.TBL", |t| {
        t.replacen("8,     8.72,", "8,     8.7x2,", 1)
    }) else {
        return;
    };
    assert_parse_error(e, "SOILPARM.TBL", 11, &["8.7x2", "BB", "class 8", "STAS"]);

    // Missing class row: USGS class 14 (line 17) deleted.
    let e = read_edited("VEGPARM.TBL", |t| {
        let mut l: Vec<&str> = t.lines().collect();
        assert!(l[16].starts_with("14,"));
        l.remove(16);
        l.join("\n")
    })
    .unwrap();
    assert_parse_error(e, "VEGPARM.TBL", 17, &["class 14 of 27", "USGS", "'15'"]);

    // Truncated file: VEGPARM cut after USGS class 7 (line 10).
    let e = read_edited("VEGPARM.TBL", |t| {
        t.lines().take(10).collect::<Vec<_>>().join("\n")
    })
    .unwrap();
    assert_parse_error(
        e,
        "VEGPARM.TBL",
        11,
        &["end of file", "class 8 of 27", "USGS"],
    );

    // Truncated inside a row: too few values.
    let e = read_edited("SOILPARM.TBL", |t| {
        let l: Vec<&str> = t.lines().collect();
        format!("{}\n{}", l[..5].join("\n"), &l[5][..20])
    })
    .unwrap();
    assert_parse_error(e, "SOILPARM.TBL", 6, &["class 3", "expected 10 values"]);

    // Integer NROOT that is not an integer.
    let e = read_edited("VEGPARM.TBL", |t| {
        t.replacen("7,      .80,   3,", "7,      .80,   3.5,", 1)
    })
    .unwrap();
    assert_parse_error(e, "VEGPARM.TBL", 10, &["NROOT", "3.5"]);

    // Bad general parameter value and a missing one.
    let e = read_edited("GENPARM.TBL", |t| t.replace("2.00E+6", "2.00F+6")).unwrap();
    assert_parse_error(e, "GENPARM.TBL", 18, &["2.00F+6", "CSOIL_DATA"]);
    let e = read_edited("GENPARM.TBL", |t| t.replace("CZIL_DATA\n0.1\n", "")).unwrap();
    let msg = e.to_string();
    assert!(
        matches!(e, TableError::Missing { .. })
            && msg.contains("GENPARM.TBL")
            && msg.contains("CZIL_DATA"),
        "{msg}"
    );

    // Missing file.
    let tmp = tempfile::tempdir().unwrap();
    let e = ParameterTables::from_wrf_dir(tmp.path()).unwrap_err();
    assert!(
        matches!(e, TableError::Io { .. }) && e.to_string().contains("SOILPARM.TBL"),
        "{e}"
    );
}

#[test]
fn malformed_landcycle_tables_name_file_and_line() {
    let run = Path::new(env!("CARGO_MANIFEST_DIR")).join("run/tables");
    let edit = |file: &str, f: &dyn Fn(&str) -> String| {
        let tmp = tempfile::tempdir().unwrap();
        for e in std::fs::read_dir(&run).unwrap() {
            let p = e.unwrap().path();
            let text = std::fs::read_to_string(&p).unwrap();
            let name = p.file_name().unwrap().to_str().unwrap().to_string();
            let text = if name == file { f(&text) } else { text };
            std::fs::write(tmp.path().join(&name), text).unwrap();
        }
        ParameterTables::from_landcycle_dir(tmp.path()).unwrap_err()
    };
    let line_of = |file: &str, prefix: &str| {
        let text = std::fs::read_to_string(run.join(file)).unwrap();
        text.lines().position(|l| l.starts_with(prefix)).unwrap() + 1
    };
    let e = edit("soil_STAS.txt", &|t| t.replacen("8, 8.72,", "8, 8.7x2,", 1));
    assert_parse_error(
        e,
        "soil_STAS.txt",
        line_of("soil_STAS.txt", "8, "),
        &["8.7x2", "bb", "class 8"],
    );
    let e = edit("vegetation_USGS.txt", &|t| {
        t.replacen("cmcmax [m]", "cmcmax [mm]", 1)
    });
    assert_parse_error(
        e,
        "vegetation_USGS.txt",
        line_of("vegetation_USGS.txt", "cmcmax"),
        &["[mm]", "[m]"],
    );
    let e = edit("vegetation_USGS.txt", &|t| {
        t.lines()
            .filter(|l| !l.starts_with("14, "))
            .collect::<Vec<_>>()
            .join("\n")
    });
    assert_parse_error(
        e,
        "vegetation_USGS.txt",
        line_of("vegetation_USGS.txt", "14, "),
        &["class 14", "'15'"],
    );
    let e = edit("general.txt", &|t| t.replace("czil [-] = 0.1\n", ""));
    assert!(
        e.to_string().contains("general.txt") && e.to_string().contains("czil"),
        "{e}"
    );
}

#[test]
fn unknown_class_or_dataset_is_a_clear_error() {
    let t = ParameterTables::builtin();
    for (class, ok) in [(0, false), (1, true), (19, true), (20, false), (-3, false)] {
        assert_eq!(t.soil(SOIL_STATSGO, class).is_ok(), ok, "class {class}");
    }
    let e = t.soil(SOIL_STATSGO, 20).unwrap_err().to_string();
    assert!(
        e.contains("soil class 20") && e.contains("STAS") && e.contains("1..=19"),
        "{e}"
    );
    let e = t.vegetation(VEG_USGS, 28).unwrap_err().to_string();
    assert!(
        e.contains("vegetation class 28") && e.contains("USGS") && e.contains("1..=27"),
        "{e}"
    );
    assert!(t.vegetation(VEG_MODIS, 20).is_ok() && t.vegetation(VEG_MODIS, 21).is_err());
    let e = t.vegetation("NLCD40", 1).unwrap_err().to_string();
    assert!(e.contains("'NLCD40'") && e.contains("USGS"), "{e}");
    let e = t.soil("STAS-RUC", 1).unwrap_err().to_string();
    assert!(e.contains("'STAS-RUC'"), "{e}");
    assert!(t.slope(9).is_ok() && t.slope(10).is_err());
}
