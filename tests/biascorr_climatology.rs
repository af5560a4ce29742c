//! Climatology statistics built by the `climatology` command from a synthetic open-loop
//! history and SMAP-like granules; NetCDF round trip; CDF matching recovers a monotonic
//! transform; the `obs dump` command on the real files.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use landcycle::biascorr::{quantiles, BiasMethod, BiasRejection, ClimatologyBuilder};
use landcycle::commands::climatology::{build, read_history_surface, Args as ClimArgs};
use landcycle::commands::obs::{run as obs_run, Args as ObsArgs, DumpArgs, ObsCommand, Product};
use landcycle::io::climatology::{read_climatology, write_climatology};
use landcycle::synth::obs_sim::{write_smap_like_granule, SimSmapRetrieval};
use landcycle::testdata::require;
use std::path::Path;

const LAT: [f64; 2] = [40.0, 40.5];
const LON: [f64; 3] = [-100.0, -99.5, -99.0];

fn day(k: i64) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2021, 6, 1)
        .unwrap()
        .and_hms_opt(6, 0, 0)
        .unwrap()
        + Duration::days(k)
}

/// Model surface soil moisture of cell `c` on day `k` (deterministic, irregular).
fn model_sm(c: usize, k: i64) -> f64 {
    0.15 + 0.02 * c as f64 + 0.08 * (0.37 * k as f64 + c as f64).sin().powi(2)
}

/// The "sensor" sees a linear, biased and stretched version of the model.
fn obs_of(m: f64) -> f64 {
    0.05 + 1.6 * (m - 0.1)
}

/// A history file in the io helper's layout: SoilMoist(time, soil_layer, lat, lon).
fn write_history(path: &Path, days: std::ops::Range<i64>) {
    let mut f = netcdf::create(path).unwrap();
    f.add_unlimited_dimension("time").unwrap();
    f.add_dimension("soil_layer", 4).unwrap();
    f.add_dimension("lat", 2).unwrap();
    f.add_dimension("lon", 3).unwrap();
    let mut v = f.add_variable::<f64>("lat", &["lat"]).unwrap();
    v.put_values(&LAT, ..).unwrap();
    let mut v = f.add_variable::<f64>("lon", &["lon"]).unwrap();
    v.put_values(&LON, ..).unwrap();
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let times: Vec<f64> = days
        .clone()
        .map(|k| (day(k) - epoch).num_seconds() as f64)
        .collect();
    let mut v = f.add_variable::<f64>("time", &["time"]).unwrap();
    v.put_attribute("units", "seconds since 1970-01-01 00:00:00")
        .unwrap();
    v.put_values(&times, 0..times.len()).unwrap();
    let mut data = Vec::new();
    for k in days.clone() {
        for layer in 0..4 {
            for c in 0..6 {
                // Deeper layers are different on purpose: only layer 0 may be used.
                data.push(if layer == 0 { model_sm(c, k) } else { 0.4 });
            }
        }
    }
    let mut v = f
        .add_variable::<f32>("SoilMoist", &["time", "soil_layer", "lat", "lon"])
        .unwrap();
    let data32: Vec<f32> = data.iter().map(|x| *x as f32).collect();
    v.put_values(&data32, (0..times.len(), 0..4, 0..2, 0..3))
        .unwrap();
}

fn cell_latlon(c: usize) -> (f64, f64) {
    (LAT[c / 3], LON[c % 3])
}

#[test]
fn climatology_command_builds_statistics_that_match_direct_computation() {
    let dir = tempfile::tempdir().unwrap();
    let hist = dir.path().join("hist");
    let obs = dir.path().join("obs");
    std::fs::create_dir_all(&hist).unwrap();
    std::fs::create_dir_all(&obs).unwrap();
    write_history(&hist.join("LC_HIST_a.nc"), 0..15);
    write_history(&hist.join("LC_HIST_b.nc"), 15..30);
    for k in 0..30 {
        let mut rs = Vec::new();
        for c in 0..6 {
            let (lat, lon) = cell_latlon(c);
            let mut r =
                SimSmapRetrieval::at_ease_cell(100, 200, day(k), obs_of(model_sm(c, k))).unwrap();
            r.lat = lat + 0.1; // inside the cell, not at its centre
            r.lon = lon - 0.1;
            rs.push(r);
        }
        write_smap_like_granule(&obs.join(format!("SMAP_{k:03}.h5")), &rs).unwrap();
    }
    // An unreadable file in the archive is skipped and counted.
    std::fs::write(obs.join("SMAP_corrupt.h5"), b"truncated").unwrap();
    let out = dir.path().join("clim.nc");
    let args = ClimArgs {
        history: hist,
        obs: vec![obs],
        product: Product::Smap,
        out: out.clone(),
        quantiles: 21,
        min_samples: 10,
        footprint_km: 0.0,
    };
    let rep = build(&args).unwrap();
    assert_eq!(rep.history_files, 2);
    assert_eq!(rep.model_records, 30);
    assert_eq!(rep.obs_files, 31);
    assert_eq!(rep.obs_files_failed, 1);
    assert_eq!(rep.obs_samples, 180);

    assert_cf_clean(&out);
    // The climatological time axis (CF 7.4) covers June 2021: mid-June, bounds 1 June to 1 July.
    let f = netcdf::open(&out).unwrap();
    let month: Vec<f64> = f.variable("month").unwrap().get_values(..).unwrap();
    let bnds: Vec<f64> = f
        .variable("climatology_bounds")
        .unwrap()
        .get_values(..)
        .unwrap();
    assert_eq!((month[5], bnds[10], bnds[11]), (166.0, 151.0, 181.0));
    drop(f);
    let clim = read_climatology(&out).unwrap();
    assert_eq!(clim.lat, LAT.to_vec());
    assert!(clim.same_grid(&LAT, &LON));
    assert!(!clim.same_grid(&LAT, &LON[..2]));
    assert_eq!(clim.n_quantiles, 21);
    assert_eq!(clim.sensor, "smap");
    for c in 0..6 {
        let mut m: Vec<f64> = (0..30).map(|k| model_sm(c, k) as f32 as f64).collect();
        let mut o: Vec<f64> = (0..30)
            .map(|k| obs_of(model_sm(c, k)) as f32 as f64)
            .collect();
        m.sort_by(f64::total_cmp);
        o.sort_by(f64::total_cmp);
        assert_eq!(clim.model_quantiles(c, 6), quantiles(&m, 21).as_slice());
        assert_eq!(clim.obs_quantiles(c, 6), quantiles(&o, 21).as_slice());
        let k = 5 * 6 + c; // June
        assert_eq!(clim.model.count[k], 30);
        assert_eq!(clim.obs.count[k], 30);
        assert_eq!(clim.model.count[c], 0); // January: nothing
        let mean = m.iter().sum::<f64>() / 30.0;
        assert!((clim.model.mean[k] - mean).abs() < 1e-12);
        // obs = a + b·model: sd ratio is b = 1.6 (to float32 storage precision).
        assert!((clim.obs.std[k] / clim.model.std[k] - 1.6).abs() < 1e-5);
        // CDF matching inverts the monotonic transform at any value in the range.
        for k in 0..30 {
            let truth = model_sm(c, k);
            let got = clim.cdf_match(c, 6, obs_of(truth) as f32 as f64).unwrap();
            assert!(
                (got - truth).abs() < 2e-4,
                "cell {c} day {k}: {got} vs {truth}"
            );
        }
        // Anomaly correction with rescaling (observations in other units): the anomaly is
        // scaled by sd_model/sd_obs, which inverts the linear transform exactly.
        let (v, e) = clim
            .correct(c, 6, o[15], 0.04, BiasMethod::Anomaly, true)
            .unwrap();
        let scaled =
            clim.model.mean[k] + (o[15] - clim.obs.mean[k]) * clim.model.std[k] / clim.obs.std[k];
        assert!((v - scaled).abs() < 1e-12);
        // (o and m are sorted, and the transform is increasing: o[15] is m[15] observed.)
        assert!((v - m[15]).abs() < 2e-4, "{v} vs {}", m[15]);
        assert!((e - 0.04 / 1.6).abs() < 1e-6);
        // Without rescaling (same units): the plain anomaly correction.
        let (v, e) = clim
            .correct(c, 6, o[15], 0.04, BiasMethod::Anomaly, false)
            .unwrap();
        assert!((v - (clim.model.mean[k] + o[15] - clim.obs.mean[k])).abs() < 1e-12);
        assert_eq!(e, 0.04);
        assert_eq!(
            clim.cdf_match(c, 6, o[0] - 0.01),
            Err(BiasRejection::OutsideTrainingRange)
        );
        assert_eq!(
            clim.cdf_match(c, 7, o[0]),
            Err(BiasRejection::InsufficientSamples)
        );
    }
}

#[test]
fn climatology_netcdf_round_trip_is_exact_and_atomic() {
    let mut b = ClimatologyBuilder::new(vec![1.0, 2.0], vec![10.0, 11.0, 12.0], 11);
    for i in 0..200 {
        let x = (i as f64 * 0.618).fract();
        b.add_model(i % 6, 1 + (i % 12) as u32, 0.1 + 0.3 * x);
        b.add_obs(i % 6, 1 + (i % 12) as u32, 20.0 + 50.0 * x * x);
    }
    let c = b.finish(3, "ascat", "percent saturation");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("clim.nc");
    std::fs::write(&p, b"old content").unwrap();
    write_climatology(&p, &c).unwrap();
    let r = read_climatology(&p).unwrap();
    let same = |a: &[f64], b: &[f64]| {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
    };
    assert!(same(&c.model.quantiles, &r.model.quantiles));
    assert!(same(&c.obs.quantiles, &r.obs.quantiles));
    assert!(same(&c.obs.mean, &r.obs.mean) && same(&c.model.std, &r.model.std));
    assert_eq!(c.obs.count, r.obs.count);
    assert_eq!(
        (r.sensor.as_str(), r.obs_units.as_str()),
        ("ascat", "percent saturation")
    );
    assert_eq!(r.min_samples, 3);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    // A missing file is an error naming it.
    let e = read_climatology(&dir.path().join("absent.nc")).unwrap_err();
    assert!(e.to_string().contains("absent.nc"));
}

/// The CF checker reports neither errors nor warnings (skipped, with a notice, without it).
fn assert_cf_clean(file: &Path) {
    let checker = landcycle::testdata::root().join("../tools/cf/cfcheck");
    if !checker.exists() {
        eprintln!("SKIPPED: CF checker {} not found", checker.display());
        return;
    }
    let out = std::process::Command::new(&checker)
        .arg(file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ERRORS detected: 0") && text.contains("WARNINGS given: 0"),
        "CF checker on {}:\n{text}",
        file.display()
    );
}

#[test]
fn climatology_file_is_cf_clean_and_old_layout_still_reads() {
    let mut b = ClimatologyBuilder::new(vec![1.0, 2.0], vec![10.0, 11.0, 12.0], 5);
    for i in 0..400 {
        let x = (i as f64 * 0.618).fract();
        b.add_model(i % 6, 1 + (i % 12) as u32, 0.1 + 0.3 * x);
        b.add_obs(i % 6, 1 + (i % 12) as u32, 20.0 + 50.0 * x * x);
    }
    // ASCAT (degree of saturation, no CF standard name) and no known years.
    let c = b.finish(3, "ascat", "percent saturation");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("clim.nc");
    write_climatology(&p, &c).unwrap();
    assert_cf_clean(&p);
    let f = netcdf::open(&p).unwrap();
    let units = |v: &str| match f.variable(v).unwrap().attribute_value("units") {
        Some(Ok(netcdf::AttributeValue::Str(s))) => s,
        other => panic!("{v}: units {other:?}"),
    };
    assert_eq!(
        (units("obs_mean"), units("model_mean")),
        ("percent".into(), "m3 m-3".into())
    );
    drop(f);

    // The layout written before the CF time axis (int month 1..12, no attributes) still reads.
    let old = dir.path().join("old.nc");
    let mut f = netcdf::create(&old).unwrap();
    for (d, n) in [("month", 12), ("lat", 2), ("lon", 3), ("quantile", 5)] {
        f.add_dimension(d, n).unwrap();
    }
    f.add_attribute("sensor", "ascat").unwrap();
    f.add_attribute("obs_units", "percent saturation").unwrap();
    f.add_attribute("min_samples", 3i32).unwrap();
    f.add_variable::<f64>("lat", &["lat"])
        .unwrap()
        .put_values(&c.lat, ..)
        .unwrap();
    f.add_variable::<f64>("lon", &["lon"])
        .unwrap()
        .put_values(&c.lon, ..)
        .unwrap();
    let months: Vec<i32> = (1..=12).collect();
    f.add_variable::<i32>("month", &["month"])
        .unwrap()
        .put_values(&months, ..)
        .unwrap();
    for (prefix, st) in [("model", &c.model), ("obs", &c.obs)] {
        let q = format!("{prefix}_quantiles");
        let dims = ["month", "lat", "lon", "quantile"];
        f.add_variable::<f64>(&q, &dims)
            .unwrap()
            .put_values(&st.quantiles, ..)
            .unwrap();
        for (sfx, data) in [("mean", &st.mean), ("std", &st.std)] {
            let n = format!("{prefix}_{sfx}");
            f.add_variable::<f64>(&n, &dims[..3])
                .unwrap()
                .put_values(data, ..)
                .unwrap();
        }
        let counts: Vec<i32> = st.count.iter().map(|x| *x as i32).collect();
        let n = format!("{prefix}_count");
        f.add_variable::<i32>(&n, &dims[..3])
            .unwrap()
            .put_values(&counts, ..)
            .unwrap();
    }
    drop(f);
    let (new, old) = (
        read_climatology(&p).unwrap(),
        read_climatology(&old).unwrap(),
    );
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<u64>>();
    for (a, b) in [(&new.model, &old.model), (&new.obs, &old.obs)] {
        assert_eq!(bits(&a.quantiles), bits(&b.quantiles));
        assert_eq!((bits(&a.mean), bits(&a.std)), (bits(&b.mean), bits(&b.std)));
        assert_eq!(a.count, b.count);
    }
    assert_eq!((new.sensor, new.obs_units), (old.sensor, old.obs_units));
}

#[test]
fn lis_history_surface_layer_is_read_tolerantly() {
    let Some(p) = require("lis-history/LIS_HIST_201704010000.d01.nc") else {
        return;
    };
    let h = read_history_surface(&p).unwrap();
    assert_eq!((h.lat.len(), h.lon.len()), (100, 50));
    assert_eq!(h.records.len(), 1);
    assert_eq!(h.records[0].0.to_string(), "2017-04-01 00:00:00");
    let v = &h.records[0].1;
    // ncdump: 2568 valid values in layer 0, 0.0764083713..0.430387974, [50][25] = 0.276654422
    assert_eq!(v.iter().filter(|x| x.is_finite()).count(), 2568);
    assert!((v[50 * 50 + 25] - 0.276_654_422).abs() < 1e-8);
    let max = v
        .iter()
        .cloned()
        .filter(|x| x.is_finite())
        .fold(0.0, f64::max);
    assert!((max - 0.430_387_974).abs() < 1e-8);
    assert!((h.lat[1] - h.lat[0] - 0.25).abs() < 1e-6);
}

#[test]
fn obs_dump_writes_csv_of_accepted_observations() {
    let (Some(s), Some(a)) = (
        require("smap-spl2smp/SMAP_L2_SM_P_02801_A_20150811T013002_R18290_001.h5"),
        require("ascat-eumetsat/ASCAT_SMO_250_METOPB_20180612035700_29742_ssm_l2.nc"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dump = |product, file: &Path, name: &str| {
        let csv = dir.path().join(name);
        let args = ObsArgs {
            command: ObsCommand::Dump(DumpArgs {
                product,
                file: file.to_path_buf(),
                csv: csv.clone(),
                max_vwc: 5.0,
                keep_not_recommended: false,
                smap_error: 0.02,
                max_error: 16.0,
                max_topography: 20.0,
                max_wetland: 15.0,
                max_snow: 10.0,
                max_frozen: 10.0,
                reject_proc_flag: false,
            }),
        };
        obs_run(&args).unwrap();
        std::fs::read_to_string(csv).unwrap()
    };
    let text = dump(Product::Smap, &s, "smap.csv");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 592);
    assert!(lines[0].starts_with("time,lat,lon,value,error_sd,units,retrieval_qual_flag"));
    assert!(
        lines[1].starts_with("2015-08-11T02:16:51.118018Z,69.294495,-161.514526,0.18274353"),
        "{}",
        lines[1]
    );
    let text = dump(Product::Ascat, &a, "ascat.csv");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 11_138);
    assert!(
        lines[1].starts_with(
            "2018-06-12T03:56:59.000000Z,64.066511,121.955718,69.11,10,percent saturation,2.53,"
        ),
        "{}",
        lines[1]
    );
    // A truncated file fails with the file named.
    let bytes = std::fs::read(&s).unwrap();
    let bad = dir.path().join("bad.h5");
    std::fs::write(&bad, &bytes[..bytes.len() / 3]).unwrap();
    let args = ObsArgs {
        command: ObsCommand::Dump(DumpArgs {
            product: Product::Smap,
            file: bad.clone(),
            csv: dir.path().join("bad.csv"),
            max_vwc: 5.0,
            keep_not_recommended: false,
            smap_error: 0.02,
            max_error: 16.0,
            max_topography: 20.0,
            max_wetland: 15.0,
            max_snow: 10.0,
            max_frozen: 10.0,
            reject_proc_flag: false,
        }),
    };
    let e = obs_run(&args).unwrap_err();
    assert!(format!("{e:#}").contains("bad.h5"));
    assert!(!dir.path().join("bad.csv").exists());
}

/// The command-line shape the coordinator wires into main.rs.
#[test]
fn command_arguments_parse_as_documented() {
    use clap::Parser;
    #[derive(clap::Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Cmd,
    }
    #[derive(clap::Subcommand)]
    enum Cmd {
        Obs(ObsArgs),
        Climatology(ClimArgs),
    }
    let cli = Cli::try_parse_from([
        "landcycle",
        "obs",
        "dump",
        "--product",
        "ascat",
        "in.nc",
        "--csv",
        "out.csv",
        "--max-snow",
        "0",
    ])
    .unwrap();
    match cli.command {
        Cmd::Obs(ObsArgs {
            command: ObsCommand::Dump(d),
        }) => {
            assert_eq!(d.product, Product::Ascat);
            assert_eq!(d.file, Path::new("in.nc"));
            assert_eq!(d.csv, Path::new("out.csv"));
            assert_eq!(d.ascat_options().max_snow_probability, 0.0);
            assert_eq!(d.ascat_options().max_error, 16.0);
            assert_eq!(d.smap_options().max_vegetation_water_content, 5.0);
        }
        _ => panic!("wrong command"),
    }
    let cli = Cli::try_parse_from([
        "landcycle",
        "climatology",
        "--history",
        "h",
        "--obs",
        "a",
        "b",
        "--product",
        "smap",
        "--out",
        "c.nc",
    ])
    .unwrap();
    match cli.command {
        Cmd::Climatology(a) => {
            assert_eq!(a.obs.len(), 2);
            assert_eq!((a.quantiles, a.min_samples), (101, 10));
        }
        _ => panic!("wrong command"),
    }
    assert!(Cli::try_parse_from(["landcycle", "obs", "dump", "--product", "bufr", "x"]).is_err());
}

/// A history file written by the io room (ALMA `SoilMoist` in kg m-2 per layer, time,
/// soil_layer, lat, lon) gives the top layer in m³ m⁻³, NaN off land.
#[test]
fn io_history_files_give_volumetric_surface_moisture() {
    use landcycle::io::{
        alma, write_history, Compression, EnsembleStat, HistoryGrid, HistoryMetadata, HistoryTime,
        HistoryWrite, TimeUnits,
    };
    let thick = [0.1, 0.3, 0.6, 1.0];
    let land: Vec<bool> = (0..6).map(|c| c != 4).collect();
    let grid = HistoryGrid::regular(LAT.to_vec(), LON.to_vec(), land.clone());
    let theta = |layer: usize, c: usize| 0.12 + 0.03 * c as f64 + 0.01 * layer as f64;
    let mut data = Vec::new();
    for (layer, dz) in thick.iter().enumerate() {
        for c in 0..6 {
            data.push(theta(layer, c) * dz * 1000.0);
        }
    }
    let sm = alma::lookup("SoilMoist").unwrap();
    let fields = [sm.field(EnsembleStat::Mean, &data)];
    let md = HistoryMetadata {
        title: "t".into(),
        ensemble_size: 4,
        ..HistoryMetadata::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("LC_HIST_202106010600.nc");
    write_history(
        &p,
        &HistoryWrite {
            grid: &grid,
            time: HistoryTime {
                reference: day(0) - Duration::hours(6),
                start: day(0) - Duration::hours(3),
                end: day(0),
                units: TimeUnits::Seconds,
            },
            soil_layer_thickness: &thick,
            fields: &fields,
            metadata: &md,
            compression: Compression::default(),
        },
    )
    .unwrap();
    let h = read_history_surface(&p).unwrap();
    assert_eq!(h.lat, LAT.to_vec());
    assert_eq!(h.lon, LON.to_vec());
    assert_eq!(h.records.len(), 1);
    assert_eq!(h.records[0].0, day(0));
    for (c, (&v, &is_land)) in h.records[0].1.iter().zip(&land).enumerate() {
        if is_land {
            // float32 storage of kg m-2 values
            assert!((v - theta(0, c)).abs() < 1e-6, "cell {c}: {v}");
        } else {
            assert!(v.is_nan());
        }
    }
}
