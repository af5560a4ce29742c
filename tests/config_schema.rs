//! Typed configuration: defaults from the schema, validation errors with locations,
//! path resolution, fingerprint, `landcycle check` output, and docs/namelist.md in step
//! with the schema (regenerate with `LANDCYCLE_BLESS=1 cargo test --release --test config_schema`).

use landcycle::config::schema::{self, DefaultValue, GROUPS, SCHEMA};
use landcycle::config::*;
use std::path::{Path, PathBuf};

const MINIMAL: &str = "\
&run
  start = '2020-06-01_00:00:00'
  end = '2020-06-03_00:00:00'
/
&domain
  static_file = 'static.nc'
/
&forcing
  directory = 'forcing'
  file_template = 'f_%Y%m%d%H.nc'
/
";

fn load(text: &str) -> Result<Config, ConfigError> {
    Config::from_text(text, Path::new("/cases/a/run.nml"))
}

fn ok(text: &str) -> Config {
    load(text).unwrap_or_else(|e| panic!("{e}"))
}

/// Error text and its (line, col); panics when loading succeeds.
fn err(text: &str) -> (String, usize, usize) {
    match load(text) {
        Ok(_) => panic!("expected an error for\n{text}"),
        Err(e) => {
            let loc = e
                .location()
                .unwrap_or_else(|| panic!("no location: {e}"))
                .clone();
            assert_eq!(loc.file, Path::new("/cases/a/run.nml"));
            (e.to_string(), loc.line, loc.col)
        }
    }
}

/// MINIMAL with `extra` inserted before the `/` of `group` (adding the group if absent).
fn with(group: &str, extra: &str) -> String {
    with_in(MINIMAL, group, extra)
}

fn with_in(base: &str, group: &str, extra: &str) -> String {
    let head = format!("&{group}\n");
    if let Some(i) = base.find(&head) {
        let j = i + base[i..].find("/\n").unwrap();
        format!("{}{extra}\n{}", &base[..j], &base[j..])
    } else {
        format!("{base}&{group}\n{extra}\n/\n")
    }
}

#[test]
fn defaults_fill_in() {
    let c = ok(MINIMAL);
    let r = &c.run;
    assert_eq!(r.start, parse_datetime("2020060100").unwrap());
    assert_eq!(r.model, Model::Noah);
    assert_eq!(r.timestep, 900);
    assert_eq!(r.window_hours, 6);
    assert_eq!(r.ensemble_size, 20);
    assert_eq!(r.seed, 1);
    assert_eq!(r.rundir, PathBuf::from("/cases/a/rundir"));
    assert_eq!(r.initial_restart, None);
    assert_eq!(r.cold_start_soil_moisture, vec![0.3; 4]);
    assert_eq!(r.cold_start_temperature, 285.0);
    assert_eq!(r.cold_start_layer_correlation, 1.0);
    assert_eq!(r.history_interval_hours, 3);
    assert!(!r.history_members);
    assert_eq!(r.history_compression, 1);
    assert_eq!(r.window_count(), 8);
    assert_eq!(r.steps_per_window(), 24);
    let d = &c.domain;
    assert_eq!(d.static_file, PathBuf::from("/cases/a/static.nc"));
    assert_eq!(d.static_format, StaticFormat::Landcycle);
    assert_eq!(d.vegetation_dataset, None);
    assert_eq!(
        d.vegetation_dataset_or(Some(VegetationDataset::ModifiedIgbpModisNoah)),
        VegetationDataset::ModifiedIgbpModisNoah
    );
    assert_eq!(d.vegetation_dataset_or(None), VegetationDataset::Usgs);
    assert_eq!(d.parameter_tables, None);
    let f = &c.forcing;
    assert_eq!(f.directory, PathBuf::from("/cases/a/forcing"));
    assert_eq!(f.interval_hours, 3);
    assert_eq!(f.variable(ForcingVariable::Tair), ("Tair_f_inst", "K"));
    assert_eq!(f.variable(ForcingVariable::Qair), ("Qair_f_inst", "kg/kg"));
    assert_eq!(f.variable(ForcingVariable::Psurf), ("Psurf_f_inst", "Pa"));
    assert_eq!(f.variable(ForcingVariable::Wind), ("Wind_f_inst", "m/s"));
    assert_eq!(
        f.variable(ForcingVariable::Rainf),
        ("Rainf_f_tavg", "kg m-2 s-1")
    );
    assert_eq!(
        f.variable(ForcingVariable::Swdown),
        ("SWdown_f_tavg", "W m-2")
    );
    assert_eq!(
        f.variable(ForcingVariable::Lwdown),
        ("LWdown_f_tavg", "W m-2")
    );
    assert_eq!(f.forcing_height, 10.0);
    assert!(f.sw_zenith_weighting);
    assert_eq!(f.remap, Remap::Bilinear);
    assert_eq!(
        f.file_for(r.start),
        PathBuf::from("/cases/a/forcing/f_2020060100.nc")
    );
    let p = &c.perturbation;
    assert!(p.perturb_forcing && p.perturb_state && p.remove_ensemble_mean);
    assert_eq!(p.interval_seconds, 10800);
    assert_eq!(p.std_normal_max, 2.5);
    assert_eq!(
        p.forcing_vars,
        vec![
            ForcingVariable::Swdown,
            ForcingVariable::Lwdown,
            ForcingVariable::Rainf
        ]
    );
    assert_eq!(
        p.forcing_types,
        vec![
            PerturbationType::Multiplicative,
            PerturbationType::Additive,
            PerturbationType::Multiplicative
        ]
    );
    assert_eq!(p.forcing_std, vec![0.3, 50.0, 0.5]);
    assert_eq!(p.forcing_tau_hours, vec![24.0; 3]);
    assert_eq!(
        p.forcing_correlation(),
        vec![
            vec![1.0, -0.5, -0.8],
            vec![-0.5, 1.0, 0.5],
            vec![-0.8, 0.5, 1.0]
        ]
    );
    assert_eq!(p.spatial_corr_km, 0.0);
    assert_eq!(p.state_std, vec![0.01, 0.006, 0.003, 0.0015]);
    assert_eq!(p.state_tau_hours, 12.0);
    assert_eq!(p.state_correlation()[0], vec![1.0, 0.6, 0.4, 0.2]);
    assert_eq!(c.restart.keep, 4);
    assert_eq!(c.namelist_text, MINIMAL);
    assert_eq!(c.namelist_file, PathBuf::from("/cases/a/run.nml"));
}

#[test]
fn values_dates_enums_and_paths() {
    let text = MINIMAL
        .replace("'2020-06-01_00:00:00'", "'2020-06-01T00:00:00'")
        .replace("'2020-06-03_00:00:00'", "'2020060300'")
        .replace("'forcing'", "'/data/gldas'");
    let text = with_in(
        &text,
        "domain",
        "static_format = 'GEO_EM'\nvegetation_dataset = 'modified_igbp_modis_noah'\nparameter_tables = '../tables'",
    );
    let text = with_in(
        &text,
        "run",
        "initial_restart = 'restart/r.h5'\nseed = 18446744073709551615",
    );
    let c = ok(&text);
    assert_eq!(c.run.end, parse_datetime("2020-06-03_00:00:00").unwrap());
    assert_eq!(c.run.seed, u64::MAX);
    assert_eq!(
        c.run.initial_restart,
        Some(PathBuf::from("/cases/a/restart/r.h5"))
    );
    assert_eq!(c.domain.static_format, StaticFormat::GeoEm);
    assert_eq!(
        c.domain.vegetation_dataset,
        Some(VegetationDataset::ModifiedIgbpModisNoah)
    );
    // Lexically normalized.
    assert_eq!(
        c.domain.parameter_tables,
        Some(PathBuf::from("/cases/tables"))
    );
    assert_eq!(c.forcing.directory, PathBuf::from("/data/gldas"));
    assert_eq!(
        parse_datetime("202006010630"),
        parse_datetime("2020-06-01 06:30:00")
    );
    assert_eq!(
        parse_datetime("2020-06-01T06:00:00Z"),
        parse_datetime("2020060106")
    );
    assert!(parse_datetime("2020-13-01_00:00:00").is_none());
}

#[test]
fn namelist_level_errors_have_locations() {
    // Unknown key with suggestion.
    let (m, l, c) = err(&with("run", "  timestp = 1800"));
    assert!(m.contains("did you mean `timestep`?"), "{m}");
    assert_eq!((l, c), (4, 3), "{m}");
    // Wrong type points at the value.
    let (m, l, c) = err(&with("run", "  ensemble_size = 'twenty'"));
    assert!(m.contains("run:ensemble_size"), "{m}");
    assert_eq!((l, c), (4, 19), "{m}");
    // Bad date-time points at the value.
    let (m, l, c) = err(&MINIMAL.replace("'2020-06-03_00:00:00'", "'2020-06-31_00:00:00'"));
    assert!(m.contains("is not a date-time"), "{m}");
    assert_eq!((l, c), (3, 9), "{m}");
    // Unknown enum value lists the valid ones.
    let (m, l, _) = err(&with("forcing", "remap = 'conservative'"));
    assert!(m.contains("'bilinear', 'nearest'"), "{m}");
    assert_eq!(l, 11);
    let (m, _, _) = err(&with("perturbation", "forcing_vars = 'swdown', 'snowf'"));
    assert!(m.contains("'snowf'") && m.contains("'lwdown'"), "{m}");
    // Missing required key points at the group.
    let (m, l, c) = err(&MINIMAL.replace("  static_file = 'static.nc'\n", ""));
    assert!(m.contains("missing required key `static_file`"), "{m}");
    assert_eq!((l, c), (5, 1), "{m}");
    // Missing required group.
    let e = load("&run start='2020060100' end='2020060200' /").unwrap_err();
    assert!(e.to_string().contains("`&domain` not found"), "{e}");
    // Misspelled group, while foreign groups are left alone.
    let (m, l, c) = err(&format!("{MINIMAL}\n&perturbaton\n/\n"));
    assert!(m.contains("did you mean `&perturbation`?"), "{m}");
    assert_eq!((l, c), (13, 1), "{m}");
    ok(&format!("{MINIMAL}&synth nx = 64 /\n"));
    // Syntax error.
    let (m, l, c) = err(&MINIMAL.replace("'forcing'", "'forcing"));
    assert!(m.contains("unterminated string"), "{m}");
    assert_eq!((l, c), (9, 15), "{m}");
}

#[test]
fn validation_errors_name_group_key_and_line() {
    let cases: &[(&str, &str, &str, &str, usize)] = &[
        // (group, inserted text, expected key, message fragment, line)
        (
            "run",
            "end = '2020-05-01_00:00:00'",
            "run:end",
            "is not after start",
            4,
        ),
        (
            "run",
            "timestep = 700",
            "run:timestep",
            "does not divide",
            4,
        ),
        (
            "run",
            "window_hours = 5",
            "run:end",
            "whole number of 5 h windows",
            3,
        ),
        (
            "run",
            "end = '2020-06-01_03:00:00'",
            "run:end",
            "whole number of 6 h windows",
            4,
        ),
        (
            "run",
            "ensemble_size = 0",
            "run:ensemble_size",
            "at least 1",
            4,
        ),
        (
            "run",
            "cold_start_soil_moisture = 0.3, 0.3, 0.3",
            "run:cold_start_soil_moisture",
            "4 soil layers",
            4,
        ),
        (
            "run",
            "cold_start_layer_correlation = 1.5",
            "run:cold_start_layer_correlation",
            "must be in [0, 1]",
            4,
        ),
        (
            "run",
            "cold_start_layer_correlation = -0.2",
            "run:cold_start_layer_correlation",
            "adjacent soil layers",
            4,
        ),
        (
            "run",
            "cold_start_temperature = 28.5",
            "run:cold_start_temperature",
            "plausible",
            4,
        ),
        (
            "run",
            "history_interval_hours = 0",
            "run:history_interval_hours",
            "multiple",
            4,
        ),
        (
            "run",
            "history_compression = 12",
            "run:history_compression",
            "0 to 9",
            4,
        ),
        (
            "forcing",
            "interval_hours = 0",
            "forcing:interval_hours",
            "positive",
            11,
        ),
        ("forcing", "tair_var = ''", "forcing:tair_var", "empty", 11),
        (
            "forcing",
            "forcing_height = -2",
            "forcing:forcing_height",
            "positive",
            11,
        ),
        (
            "perturbation",
            "interval_seconds = 1000",
            "perturbation:interval_seconds",
            "multiple of the 900 s",
            13,
        ),
        (
            "perturbation",
            "std_normal_max = 0",
            "perturbation:std_normal_max",
            "positive",
            13,
        ),
        (
            "perturbation",
            "forcing_vars = 'swdown', 'lwdown'",
            "perturbation:forcing_types",
            "names 2 variables",
            12,
        ),
        (
            "perturbation",
            "forcing_vars = 'swdown', 'swdown', 'rainf'",
            "perturbation:forcing_vars",
            "appears twice",
            13,
        ),
        (
            "perturbation",
            "forcing_std = 0.3, 50.0",
            "perturbation:forcing_std",
            "names 3 variables",
            13,
        ),
        (
            "perturbation",
            "forcing_tau_hours = 24, 0, 24",
            "perturbation:forcing_tau_hours",
            "must be positive",
            13,
        ),
        (
            "perturbation",
            "forcing_corr = 1, 0, 0, 1",
            "perturbation:forcing_corr",
            "3 x 3 matrix",
            13,
        ),
        (
            "perturbation",
            "forcing_corr = 1,0,0, 0.5,1,0, 0,0,1",
            "perturbation:forcing_corr",
            "not symmetric",
            13,
        ),
        (
            "perturbation",
            "forcing_corr = 1,0,0, 0,0.9,0, 0,0,1",
            "perturbation:forcing_corr",
            "not 1",
            13,
        ),
        (
            "perturbation",
            "forcing_corr = 1,0.9,-0.9, 0.9,1,0.9, -0.9,0.9,1",
            "perturbation:forcing_corr",
            "not positive definite",
            13,
        ),
        (
            "perturbation",
            "forcing_corr = 1,1.5,0, 1.5,1,0, 0,0,1",
            "perturbation:forcing_corr",
            "outside [-1, 1]",
            13,
        ),
        (
            "perturbation",
            "forcing_std = 0.3, -1, 0.5",
            "perturbation:forcing_std",
            "must be >= 0",
            13,
        ),
        (
            "perturbation",
            "spatial_corr_km = -1",
            "perturbation:spatial_corr_km",
            ">= 0",
            13,
        ),
        (
            "perturbation",
            "state_std = 0.01, 0.01",
            "perturbation:state_std",
            "4 soil layers",
            13,
        ),
        (
            "perturbation",
            "state_tau_hours = 0",
            "perturbation:state_tau_hours",
            "positive",
            13,
        ),
        (
            "perturbation",
            "state_corr = 1, 0, 0, 1",
            "perturbation:state_corr",
            "4 x 4",
            13,
        ),
    ];
    for &(group, extra, key, frag, line) in cases {
        let text = with(group, extra);
        let (m, l, _) = err(&text);
        assert!(m.contains(&format!("`{key}`")), "{extra}: {m}");
        assert!(m.contains(frag), "{extra}: {m}");
        assert_eq!(l, line, "{extra}: {m}");
        assert!(m.starts_with(&format!("/cases/a/run.nml:{line}:")), "{m}");
    }
    // Element-level location: the bad element of an array.
    let (m, l, c) = err(&with("perturbation", "forcing_std = 0.3, -1, 0.5"));
    assert_eq!((l, c), (13, 20), "{m}");
    // Defaults in a conflict are named as such.
    let (m, _, _) = err(&with("perturbation", "interval_seconds = 1000"));
    assert!(!m.contains("default value"), "{m}");
    let (m, _, _) = err(&with("run", "timestep = 7200"));
    assert!(m.contains("run:history_interval_hours"), "{m}");
    let (m, _, _) = err(&with("run", "timestep = 1000\n"));
    assert!(m.contains("run:timestep"), "{m}");
    let (m, _, _) = err(&with("run", "window_hours = 1\ntimestep = 2700"));
    assert!(m.contains("does not divide"), "{m}");
    let (m, _, _) = err(&with("run", "timestep = 7200\nhistory_interval_hours = 6"));
    assert!(
        m.contains("perturbation:interval_seconds") && m.contains("default value"),
        "{m}"
    );
}

#[test]
fn cholesky_factor() {
    let a = [4.0, 2.0, 2.0, 3.0];
    let l = cholesky(&a, 2).unwrap();
    assert_eq!(l, vec![2.0, 0.0, 1.0, 2f64.sqrt()]);
    assert_eq!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2), Err(1));
}

#[test]
fn effective_namelist_round_trips_and_fingerprint_is_stable() {
    let a = ok(MINIMAL);
    let eff = a.effective_namelist();
    // Every schema key appears, either with a value or as an "unset" comment.
    for s in SCHEMA {
        assert!(
            eff.contains(&format!("  {}", s.key)) || eff.contains(&format!("! {} unset", s.key)),
            "{}",
            s.key
        );
    }
    let b = Config::from_text(&eff, Path::new("/elsewhere/eff.nml"))
        .unwrap_or_else(|e| panic!("{e}\n{eff}"));
    assert_eq!(a.run, b.run);
    assert_eq!(a.domain, b.domain);
    assert_eq!(a.forcing, b.forcing);
    assert_eq!(a.perturbation, b.perturbation);
    assert_eq!(a.restart, b.restart);
    assert_eq!(a.fingerprint(), b.fingerprint());
    assert_eq!(a.fingerprint().len(), 64);

    // Extending the run, moving paths or changing output keeps the fingerprint.
    let longer = MINIMAL
        .replace("2020-06-03", "2020-06-09")
        .replace("'static.nc'", "'/x/static.nc'");
    let longer = with_in(&longer, "run", "rundir = 'other'\nhistory_members = .true.");
    assert_eq!(ok(&longer).fingerprint(), a.fingerprint());
    // The cold start's layer correlation shapes only the initial draw (a restart carries the
    // states), so it stays out of the fingerprint and existing restarts keep theirs.
    let layered = with("run", "cold_start_layer_correlation = 0.5");
    assert_eq!(ok(&layered).fingerprint(), a.fingerprint());
    // Spelling of equal values does not matter.
    let spelled = with("run", "TIMESTEP = 900\nModel = 'NOAH'")
        .replace("'2020-06-01_00:00:00'", "'2020060100'");
    assert_eq!(ok(&spelled).fingerprint(), a.fingerprint());
    // Science changes change it.
    for extra in [
        ("run", "ensemble_size = 21"),
        ("run", "seed = 2"),
        ("run", "timestep = 1800"),
        ("forcing", "tair_var = 'T2'"),
        ("perturbation", "forcing_std = 0.3, 50.0, 0.6"),
        ("perturbation", "perturb_state = .false."),
    ] {
        assert_ne!(
            ok(&with(extra.0, extra.1)).fingerprint(),
            a.fingerprint(),
            "{extra:?}"
        );
    }
}

#[test]
fn demo_namelist_loads_and_check_prints_it() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("namelists/demo.nml");
    let c = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let dir = path.parent().unwrap();
    assert_eq!(c.domain.static_file, dir.join("demo/static.nc"));
    assert_eq!(c.forcing.directory, dir.join("demo/forcing"));
    assert_eq!(c.forcing.file_template, "demo_forcing_%Y%m%d%H.nc");
    assert_eq!(c.run.ensemble_size, 20);
    assert_eq!(c.run.timestep, 1800);
    assert_eq!(c.run.window_count(), 30 * 4);
    assert_eq!(c.perturbation.forcing_tau_hours, vec![24.0; 3]);
    let out = landcycle::commands::check::render(&c);
    assert!(out.contains(c.fingerprint()));
    assert!(out.contains("  timestep"));
    assert!(out.contains("'demo_forcing_%Y%m%d%H.nc'"));
    // The printed configuration is itself a valid namelist giving the same configuration.
    let again = Config::from_text(&out, Path::new("/tmp/printed.nml")).unwrap();
    assert_eq!(again.run, c.run);
    assert_eq!(again.perturbation, c.perturbation);
    let missing = landcycle::commands::check::missing_inputs(&ok(MINIMAL));
    assert!(
        missing
            .iter()
            .any(|m| m == "domain:static_file: file /cases/a/static.nc does not exist"),
        "{missing:?}"
    );
    // Running the command on a bad namelist is an error, not a panic.
    let dirt = tempfile::tempdir().unwrap();
    let bad = dirt.path().join("bad.nml");
    std::fs::write(&bad, MINIMAL.replace("start", "strat")).unwrap();
    let e = landcycle::commands::check::run(&landcycle::commands::check::Args {
        namelist: bad.clone(),
        ranks: 1,
        memory_per_rank_mib: None,
        preflight: false,
    })
    .unwrap_err();
    let m = format!("{e:#}");
    assert!(
        m.contains(&format!("{}:2:3", bad.display())) && m.contains("did you mean `start`?"),
        "{m}"
    );
    let e = Config::load(&dirt.path().join("missing.nml")).unwrap_err();
    assert!(e.to_string().contains("missing.nml"), "{e}");
}

#[test]
fn schema_matches_structs_and_defaults_are_valid() {
    let expect = |group: &str, fields: &[&str]| {
        let keys: Vec<&str> = schema::group_keys(group).map(|s| s.key).collect();
        assert_eq!(
            keys, fields,
            "schema keys of &{group} differ from the struct fields"
        );
    };
    expect("run", serde_fields::<RunConfig>());
    expect("domain", serde_fields::<DomainConfig>());
    expect("forcing", serde_fields::<ForcingConfig>());
    expect("perturbation", serde_fields::<PerturbationConfig>());
    expect("restart", serde_fields::<RestartConfig>());
    expect("bucket", serde_fields::<BucketConfig>());
    expect("da", serde_fields::<landcycle::config::DaConfig>());
    expect("nrt", serde_fields::<landcycle::config::NrtConfig>());
    expect("image", serde_fields::<landcycle::config::ImageConfig>());
    expect(
        "coupler",
        serde_fields::<landcycle::config::CouplerConfig>(),
    );
    assert_eq!(GROUPS.len(), 10);
    for s in SCHEMA {
        assert!(GROUPS.iter().any(|g| g.name == s.group), "{}", s.group);
        assert!(!s.meaning.is_empty() && !s.kind.is_empty());
        // Required keys only in required groups (optional groups may be left out).
        if s.default == DefaultValue::Required {
            assert!(
                GROUPS.iter().any(|g| g.name == s.group && g.required),
                "{}",
                s.key
            );
        }
    }
}

#[test]
fn coupler_group_defaults_and_errors() {
    // Left out: data files, no export, the fingerprint of a namelist without the group.
    let c = ok(MINIMAL);
    assert_eq!(c.coupler.mode, CouplerMode::Files);
    assert_eq!(c.coupler.source_cycle_offset_hours, -6);
    assert_eq!(c.coupler.export_offset_hours, -3);
    assert!(!c.coupler.export);
    let x = ok(&with(
        "coupler",
        "mode = 'exchange'\n a2l_weights = 'w.nc'\n directory = 'x'",
    ));
    assert_eq!(x.fingerprint(), c.fingerprint());
    assert_eq!(x.coupler.directory, Path::new("/cases/a/x"));
    // Mode 'mpmd' needs the a→l weights, and the l→a weights to export, named at the group.
    let (e, line, _) = err(&with("coupler", "mode = 'mpmd'"));
    assert!(
        e.contains("coupler:a2l_weights") && e.contains("mode 'mpmd' needs"),
        "{e}"
    );
    assert!(line > 1);
    let (e, ..) = err(&with(
        "coupler",
        "mode = 'mpmd'\n a2l_weights = 'w.nc'\n export = .true.",
    ));
    assert!(e.contains("l2a_weights"), "{e}");
    let m = ok(&with("coupler", "mode = 'mpmd'\n a2l_weights = 'w.nc'"));
    assert_eq!(m.coupler.mode, CouplerMode::Mpmd);
    assert_eq!(m.fingerprint(), c.fingerprint());
    // Mode 'wrf': no weights, an interval dividing a day, both wrfinput paths to export.
    let (e, ..) = err(&with("coupler", "mode = 'wrf'\n  a2l_weights = 'w.nc'"));
    assert!(e.contains("a2l_weights") && e.contains("not built"), "{e}");
    let (e, ..) = err(&with("coupler", "mode = 'wrf'\n  wrf_interval_minutes = 7"));
    assert!(
        e.contains("wrf_interval_minutes") && e.contains("divide a day"),
        "{e}"
    );
    let (e, ..) = err(&with("coupler", "mode = 'wrf'\n  export = .true."));
    assert!(e.contains("wrfinput_in"), "{e}");
    let (e, ..) = err(&with("coupler", "mode = 'grib'"));
    assert!(e.contains("mode") && e.contains("grib"), "{e}");
    let (e, ..) = err(&with("coupler", "export_stat = 'members'"));
    assert!(e.contains("export_stat") && e.contains("not built"), "{e}");
    let (e, ..) = err(&with("coupler", "export_offset_hours = -6"));
    assert!(e.contains("outside the window"), "{e}");
    let (e, ..) = err(&with("coupler", "mode = 'exchange'"));
    assert!(e.contains("a2l_weights"), "{e}");
    let (e, ..) = err(&with(
        "coupler",
        "mode = 'exchange'\n a2l_weights = 'w.nc'\n export = .true.",
    ));
    assert!(e.contains("l2a_weights"), "{e}");
}

#[test]
fn docs_namelist_md_is_in_step_with_schema() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/namelist.md");
    let want = schema::render_markdown();
    if std::env::var("LANDCYCLE_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/namelist.md differs from the schema in src/config/schema.rs; regenerate it with\n  \
         LANDCYCLE_BLESS=1 cargo test --release --test config_schema"
    );
    for s in SCHEMA {
        assert!(have.contains(&format!("| `{}` |", s.key)), "{}", s.key);
    }
}

#[test]
fn forcing_group_is_needed_only_by_data_files() {
    let no_forcing = MINIMAL.replace(
        "&forcing\n  directory = 'forcing'\n  file_template = 'f_%Y%m%d%H.nc'\n/\n",
        "",
    );
    assert_ne!(no_forcing, MINIMAL);
    // Mode 'files' (the default) reads the data files of &forcing.
    let e = load(&no_forcing).unwrap_err().to_string();
    assert!(e.contains("forcing"), "{e}");
    let (e, ..) = err(&MINIMAL.replace("  file_template = 'f_%Y%m%d%H.nc'\n", ""));
    assert!(
        e.contains("forcing:file_template") && e.contains("mode = 'files'"),
        "{e}"
    );
    // The coupled modes read no data files: the group may be left out, the keys that still
    // apply take their defaults.
    for coupler in [
        "mode = 'exchange'\n a2l_weights = 'w.nc'",
        "mode = 'mpmd'\n a2l_weights = 'w.nc'",
        "mode = 'wrf'",
    ] {
        let c = ok(&with_in(&no_forcing, "coupler", coupler));
        assert_eq!(c.forcing.file_template, "", "{coupler}");
        assert_eq!(c.forcing.interval_hours, 3);
        assert_eq!(c.forcing.forcing_height, 10.0);
    }
}
