//! Namelist parser and deserializer: syntax features, errors with file:line:column,
//! suggestions, and real namelists from other models.

use landcycle::config::namelist::{self, parse_str, Namelist, NamelistError, Value};
use serde::Deserialize;
use std::path::Path;

fn parse(text: &str) -> Namelist {
    parse_str(text, Path::new("test.nml")).unwrap_or_else(|e| panic!("parse failed: {e}"))
}

fn values(nl: &Namelist, group: &str, key: &str) -> Vec<Option<Value>> {
    nl.group(group)
        .unwrap_or_else(|| panic!("no group {group}"))
        .entry(key)
        .unwrap_or_else(|| panic!("no key {key}"))
        .values
        .iter()
        .map(|i| i.value.clone())
        .collect()
}

fn syntax_err(text: &str) -> (usize, usize, String) {
    match parse_str(text, Path::new("bad.nml")) {
        Err(NamelistError::Syntax { loc, msg }) => {
            assert_eq!(loc.file, Path::new("bad.nml"));
            (loc.line, loc.col, msg)
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn scalars_logicals_numbers_strings() {
    let nl = parse(
        "&G\n a = 1, b = -2.5d0\n c=1.0E3 d = .5 e = 3. f=1d-2\n\
         L1=.true. L2=.T. L3=T L4=true L5=.FALSE. L6=F L7=.f L8=false L9=.False\n\
         s1='it''s' s2=\"say \"\"hi\"\"\" s3='a, b / c ! d'\n/\n",
    );
    assert_eq!(values(&nl, "g", "a"), vec![Some(Value::Int(1))]);
    assert_eq!(values(&nl, "g", "b"), vec![Some(Value::Real(-2.5))]);
    assert_eq!(values(&nl, "g", "c"), vec![Some(Value::Real(1000.0))]);
    assert_eq!(values(&nl, "g", "d"), vec![Some(Value::Real(0.5))]);
    assert_eq!(values(&nl, "g", "e"), vec![Some(Value::Real(3.0))]);
    assert_eq!(values(&nl, "g", "f"), vec![Some(Value::Real(0.01))]);
    for (k, want) in [
        ("l1", true),
        ("l2", true),
        ("l3", true),
        ("l4", true),
        ("l5", false),
        ("l6", false),
        ("l7", false),
        ("l8", false),
        ("l9", false),
    ] {
        assert_eq!(values(&nl, "g", k), vec![Some(Value::Bool(want))], "{k}");
    }
    assert_eq!(
        values(&nl, "g", "s1"),
        vec![Some(Value::Str("it's".into()))]
    );
    assert_eq!(
        values(&nl, "g", "s2"),
        vec![Some(Value::Str("say \"hi\"".into()))]
    );
    assert_eq!(
        values(&nl, "g", "s3"),
        vec![Some(Value::Str("a, b / c ! d".into()))]
    );
}

#[test]
fn arrays_repeats_nulls_continuation_and_indices() {
    let nl = parse(
        "! leading comment\n&grp ! trailing comment\n\
         x = 1, 2 3   ! blank separated too\n     4,\n  5\n\
         r = 3*0.5, 2*'ab', 1\n\
         n = 1, , 3, 2*, 6\n\
         y(3) = 30\n y(1) = 10\n\
         z(2:3) = 7, 8\n\
         w = 1, 2, 3\n w(2) = 20\n/\n",
    );
    let ints = |v: &[i128]| v.iter().map(|&i| Some(Value::Int(i))).collect::<Vec<_>>();
    assert_eq!(values(&nl, "grp", "x"), ints(&[1, 2, 3, 4, 5]));
    assert_eq!(
        values(&nl, "grp", "r"),
        vec![
            Some(Value::Real(0.5)),
            Some(Value::Real(0.5)),
            Some(Value::Real(0.5)),
            Some(Value::Str("ab".into())),
            Some(Value::Str("ab".into())),
            Some(Value::Int(1)),
        ]
    );
    assert_eq!(
        values(&nl, "grp", "n"),
        vec![
            Some(Value::Int(1)),
            None,
            Some(Value::Int(3)),
            None,
            None,
            Some(Value::Int(6))
        ]
    );
    assert_eq!(
        values(&nl, "grp", "y"),
        vec![Some(Value::Int(10)), None, Some(Value::Int(30))]
    );
    assert_eq!(
        values(&nl, "grp", "z"),
        vec![None, Some(Value::Int(7)), Some(Value::Int(8))]
    );
    assert_eq!(values(&nl, "grp", "w"), ints(&[1, 20, 3]));
}

#[test]
fn groups_terminators_and_case() {
    let nl = parse(
        "text outside groups is ignored\n\
         &First a=1 /\n\
         &SECOND\n  B = 'x'\n&END\n\
         $third c = T $end\n\
         $fourth d = 4 $\n",
    );
    assert_eq!(nl.group_names(), vec!["first", "second", "third", "fourth"]);
    assert!(nl.group("FIRST").is_some());
    assert_eq!(nl.group("Second").unwrap().entry("b").unwrap().name, "b");
    assert_eq!(values(&nl, "third", "C"), vec![Some(Value::Bool(true))]);
    assert_eq!(values(&nl, "fourth", "d"), vec![Some(Value::Int(4))]);
    assert!(nl.group("fifth").is_none());
}

#[test]
fn keys_named_like_logicals_are_keys() {
    // `t = ...` after a value must start a new assignment, not be read as `.true.`.
    let nl = parse("&g a = 1, 2\n t = 3 f = .t. /");
    assert_eq!(
        values(&nl, "g", "a"),
        vec![Some(Value::Int(1)), Some(Value::Int(2))]
    );
    assert_eq!(values(&nl, "g", "t"), vec![Some(Value::Int(3))]);
    assert_eq!(values(&nl, "g", "f"), vec![Some(Value::Bool(true))]);
}

#[test]
fn syntax_errors_point_at_the_problem() {
    let (l, c, m) = syntax_err("&g\n a = 1\n");
    assert_eq!((l, c), (1, 1), "{m}");
    assert!(m.contains("not terminated"), "{m}");

    let (l, c, m) = syntax_err("&g\n name = 'abc\n/\n");
    assert_eq!((l, c), (2, 9), "{m}");
    assert!(m.contains("unterminated string"), "{m}");

    let (l, c, m) = syntax_err("&g\n x = 1.2.3\n/");
    assert_eq!((l, c), (2, 6), "{m}");
    assert!(m.contains("1.2.3"), "{m}");

    let (l, c, m) = syntax_err("&g\n x = abc\n/");
    assert_eq!((l, c), (2, 6), "{m}");
    assert!(m.contains("quoted"), "{m}");

    let (l, c, m) = syntax_err("&g\n x 1\n/");
    assert_eq!((l, c), (2, 4), "{m}");
    assert!(m.contains("expected `=`"), "{m}");

    let (l, c, m) = syntax_err("&g\n x = 1\n&h y = 2 /");
    assert_eq!((l, c), (3, 1), "{m}");
    assert!(m.contains("not terminated"), "{m}");

    let (l, c, m) = syntax_err("&g\n x(0) = 1\n/");
    assert_eq!((l, c), (2, 3), "{m}");

    let (l, _, m) = syntax_err("&g\n x(1,2) = 1\n/");
    assert_eq!(l, 2);
    assert!(m.contains("multi-dimensional"), "{m}");

    let (l, c, m) = syntax_err("&g\n x(1:2) = 1, 2, 3\n/");
    assert_eq!((l, c), (2, 17), "{m}");

    let (_, _, m) = syntax_err("&g x = 0*3 /");
    assert!(m.contains("repeat count"), "{m}");

    let (l, c, m) = syntax_err("&g x = 'a''b'c /");
    assert_eq!((l, c), (1, 14), "{m}");

    let (l, c, m) = syntax_err("&g\n  = 3 /");
    assert_eq!((l, c), (2, 3), "{m}");

    let (l, c, m) = syntax_err("&g a%b = 3 /");
    assert_eq!((l, c), (1, 5), "{m}");
    assert!(m.contains("derived-type"), "{m}");

    let (l, c, m) = syntax_err("&g z = (1.0, 2.0) /");
    assert_eq!((l, c), (1, 8), "{m}");
    assert!(m.contains("complex"), "{m}");

    // Display carries file:line:col.
    let e = parse_str("&g\n x = abc\n/", Path::new("dir/bad.nml")).unwrap_err();
    assert!(e.to_string().starts_with("dir/bad.nml:2:6: "), "{e}");
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Remap {
    Bilinear,
    Nearest,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Typed {
    timestep: f64,
    count: u32,
    name: String,
    flag: bool,
    layers: Vec<f64>,
    #[serde(default)]
    one: Vec<i32>,
    fixed: [f64; 3],
    pair: (i32, String),
    maybe: Option<f64>,
    #[serde(default)]
    absent: Option<String>,
    remap: Remap,
    #[serde(default = "default_seed")]
    seed: u64,
    #[serde(default)]
    gaps: Vec<Option<i32>>,
}

fn default_seed() -> u64 {
    7
}

const TYPED: &str = "&typed\n\
    timestep = 900        ! an integer where a real is expected\n\
    count = 3, name = 'noah', flag = .t.\n\
    layers = 0.1 0.3\n 0.6 1.0\n\
    one = 5\n\
    fixed = 3*1.5\n\
    pair = 2, 'b'\n\
    maybe = 2.5d0\n\
    remap = 'Nearest'\n\
    gaps = 1,,3\n\
/\n";

#[test]
fn deserialize_typed_struct() {
    let nl = parse(TYPED);
    let t: Typed = nl.deserialize_group("TYPED").unwrap();
    assert_eq!(
        t,
        Typed {
            timestep: 900.0,
            count: 3,
            name: "noah".into(),
            flag: true,
            layers: vec![0.1, 0.3, 0.6, 1.0],
            one: vec![5],
            fixed: [1.5, 1.5, 1.5],
            pair: (2, "b".into()),
            maybe: Some(2.5),
            absent: None,
            remap: Remap::Nearest,
            seed: 7,
            gaps: vec![Some(1), None, Some(3)],
        }
    );
    // u64 beyond i64 range.
    #[derive(Deserialize)]
    struct Big {
        seed: u64,
    }
    let b: Big = parse("&b seed = 18446744073709551615 /")
        .deserialize_group("b")
        .unwrap();
    assert_eq!(b.seed, u64::MAX);
}

fn de_err(text: &str) -> NamelistError {
    parse_str(text, Path::new("t.nml"))
        .unwrap()
        .deserialize_group::<Typed>("typed")
        .unwrap_err()
}

fn line_col(e: &NamelistError) -> (usize, usize) {
    let l = e.location().unwrap_or_else(|| panic!("no location in {e}"));
    (l.line, l.col)
}

#[test]
fn unknown_key_suggests_closest() {
    let text = TYPED.replace("timestep = 900", "timestp = 900");
    let e = de_err(&text);
    match &e {
        NamelistError::UnknownKey {
            key,
            suggestion,
            group,
            ..
        } => {
            assert_eq!(key, "timestp");
            assert_eq!(group, "typed");
            assert_eq!(suggestion.as_deref(), Some("timestep"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(line_col(&e), (2, 1));
    assert!(e.to_string().contains("did you mean `timestep`?"), "{e}");
    assert!(e.to_string().starts_with("t.nml:2:1:"), "{e}");

    // Nothing close: list the valid keys instead.
    let e = de_err(&TYPED.replace("count = 3", "zzzzzzzz = 3"));
    assert!(matches!(
        &e,
        NamelistError::UnknownKey {
            suggestion: None,
            ..
        }
    ));
    assert!(e.to_string().contains("valid keys: timestep, count"), "{e}");
    assert_eq!(line_col(&e), (3, 1));

    assert_eq!(
        namelist::closest("ensembel_size", &["ensemble_size", "seed"]).as_deref(),
        Some("ensemble_size")
    );
    assert_eq!(namelist::edit_distance("kitten", "sitting"), 3);
    assert_eq!(namelist::edit_distance("ab", "ba"), 1);
}

#[test]
fn type_errors_point_at_the_value() {
    // String where a number is expected.
    let e = de_err(&TYPED.replace("count = 3", "count = 'three'"));
    assert!(
        matches!(&e, NamelistError::Value { key, .. } if key == "count"),
        "{e:?}"
    );
    assert_eq!(line_col(&e), (3, 9));
    assert!(
        e.to_string().contains("expected a non-negative integer"),
        "{e}"
    );

    // A bad element inside an array points at that element.
    let e = de_err(&TYPED.replace("0.6 1.0", "0.6 .true."));
    assert_eq!(line_col(&e), (5, 6), "{e}");
    assert!(e.to_string().contains("real"), "{e}");

    // Real where an integer is expected; negative into unsigned.
    let e = de_err(&TYPED.replace("count = 3", "count = 3.5"));
    assert_eq!(line_col(&e), (3, 9), "{e}");
    let e = de_err(&TYPED.replace("count = 3", "count = -3"));
    assert!(e.to_string().contains("out of range"), "{e}");

    // Two values where one is expected: points at the second.
    let e = de_err(&TYPED.replace("name = 'noah'", "name = 'noah', 'colm'"));
    assert_eq!(line_col(&e), (3, 27), "{e}");
    assert!(e.to_string().contains("single value"), "{e}");

    // Wrong length for a fixed array.
    let e = de_err(&TYPED.replace("3*1.5", "1.0, 2.0"));
    assert!(
        matches!(&e, NamelistError::Value { key, .. } if key == "fixed"),
        "{e:?}"
    );
    assert_eq!(line_col(&e).0, 7);
    let e = de_err(&TYPED.replace("3*1.5", "4*1.5"));
    assert!(e.to_string().contains("too many values"), "{e}");

    // Unknown enum value lists valid ones.
    let e = de_err(&TYPED.replace("'Nearest'", "'cubic'"));
    assert_eq!(line_col(&e), (10, 9), "{e}");
    assert!(e.to_string().contains("'bilinear', 'nearest'"), "{e}");

    // Logical where a string is expected.
    let e = de_err(&TYPED.replace("name = 'noah'", "name = T"));
    assert!(
        e.to_string()
            .contains("expected a quoted string, found logical .true."),
        "{e}"
    );
    // Null in a non-optional array element.
    let e = de_err(&TYPED.replace("layers = 0.1 0.3", "layers = 0.1,,0.3"));
    assert!(e.to_string().contains("null"), "{e}");
    assert_eq!(line_col(&e), (4, 14), "{e}");
}

#[test]
fn missing_key_and_group() {
    let e = de_err(&TYPED.replace("count = 3, ", ""));
    assert!(
        matches!(&e, NamelistError::MissingKey { key, .. } if key == "count"),
        "{e:?}"
    );
    assert_eq!(line_col(&e), (1, 1));
    assert!(
        e.to_string().contains("missing required key `count`"),
        "{e}"
    );

    let nl = parse("&other x = 1 /");
    let e = nl.deserialize_group::<Typed>("typed").unwrap_err();
    assert!(matches!(&e, NamelistError::MissingGroup { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("`&typed` not found (groups present: &other)"),
        "{e}"
    );

    let nl = parse("&typed /\n&typed /");
    let e = nl.deserialize_group::<Typed>("typed").unwrap_err();
    assert!(matches!(&e, NamelistError::DuplicateGroup { .. }), "{e:?}");
    assert_eq!(line_col(&e), (2, 1));

    let e = namelist::read_file(Path::new("/nonexistent/x.nml")).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/x.nml"), "{e}");
}

#[test]
fn real_noah_bondville_namelist() {
    let Some(p) = landcycle::testdata::require("noah-bondville/noah_bondville.nml") else {
        return;
    };
    let nl = namelist::read_file(&p).unwrap();
    assert_eq!(nl.group_names(), vec!["noah_point"]);
    #[derive(Deserialize)]
    struct Point {
        startdate: String,
        noahlsm_timestep: f64,
        soil_layer_thickness: Vec<f64>,
        soil_moisture: [f64; 4],
        canopy_water: f64,
        usemonalb_nml: bool,
        albedo_monthly: Vec<f64>,
        soil_type_index: i32,
        landuse_dataset: String,
    }
    let pt: Point = nl.deserialize_group("NOAH_POINT").unwrap();
    assert_eq!(pt.startdate, "199801010630");
    assert_eq!(pt.noahlsm_timestep, 1800.0);
    assert_eq!(pt.soil_layer_thickness, vec![0.1, 0.3, 0.6, 1.0]);
    assert_eq!(pt.soil_moisture[3], 0.3070948);
    assert_eq!(pt.canopy_water, 3.9353027E-04);
    assert!(!pt.usemonalb_nml);
    assert_eq!(pt.albedo_monthly.len(), 12);
    assert_eq!(pt.soil_type_index, 8);
    assert_eq!(pt.landuse_dataset, "USGS");
    assert_eq!(nl.group("noah_point").unwrap().entries.len(), 35);
}

#[test]
fn real_wps_namelist() {
    let Some(p) = landcycle::testdata::require("wps-geo-em/namelist.wps") else {
        return;
    };
    let nl = namelist::read_file(&p).unwrap();
    assert_eq!(
        nl.group_names(),
        vec!["share", "geogrid", "ungrib", "metgrid"]
    );
    #[derive(Deserialize)]
    struct Share {
        start_date: Vec<String>,
        max_dom: i32,
        interval_seconds: i64,
    }
    let s: Share = nl.deserialize_group("share").unwrap();
    assert_eq!(s.start_date, vec!["2006-08-16_12:00:00"; 2]);
    assert_eq!(s.max_dom, 1);
    assert_eq!(s.interval_seconds, 10800);
    #[derive(Deserialize)]
    struct Geogrid {
        e_we: Vec<i32>,
        dx: f64,
        map_proj: String,
        ref_lat: f64,
        stand_lon: f64,
        geog_data_res: Vec<String>,
        geog_data_path: String,
    }
    let g: Geogrid = nl.deserialize_group("geogrid").unwrap();
    assert_eq!(g.e_we, vec![130]);
    assert_eq!(g.dx, 4000.0);
    assert_eq!(g.map_proj, "lambert");
    assert_eq!(g.ref_lat, -10.762);
    assert_eq!(g.stand_lon, -64.8);
    assert_eq!(g.geog_data_res, vec!["default"]);
    assert_eq!(g.geog_data_path, "/glade/u/home/wrfhelp/WPS_GEOG/");
    // Position of a key in the file.
    let e = nl.group("geogrid").unwrap().entry("e_we").unwrap();
    assert_eq!((e.pos.line, e.pos.col), (14, 2));
}

#[test]
fn limits_and_no_panics_on_mangled_input() {
    let (_, _, m) = syntax_err("&g x(2000000) = 1 /");
    assert!(m.contains("bad index"), "{m}");
    let (_, _, m) = syntax_err("&g x = 2000000*1 /");
    assert!(m.contains("exceeds"), "{m}");
    // Every single-character deletion and several insertions at every position of a
    // namelist must give a result or an error, never a panic.
    let inserts = [
        '\'', '"', '&', '$', '/', '(', ')', '*', '=', ',', '!', '\n', '%', ':', 'x',
    ];
    let mut n_err = 0;
    let mut n = 0;
    let chars: Vec<char> = TYPED.chars().collect();
    for i in 0..=chars.len() {
        let mut variants = Vec::new();
        if i < chars.len() {
            let mut v = chars.clone();
            v.remove(i);
            variants.push(v);
        }
        for c in inserts {
            let mut v = chars.clone();
            v.insert(i, c);
            variants.push(v);
        }
        for v in variants {
            let text: String = v.into_iter().collect();
            n += 1;
            match parse_str(&text, Path::new("m.nml")) {
                Ok(nl) => {
                    if nl.deserialize_group::<Typed>("typed").is_err() {
                        n_err += 1;
                    }
                }
                Err(e) => {
                    n_err += 1;
                    assert!(e.to_string().starts_with("m.nml:"), "{e}");
                }
            }
        }
    }
    // Most mutations must be caught (a few are harmless, e.g. in comments).
    assert!(n_err * 2 > n, "{n_err} of {n} mutations rejected");
}
