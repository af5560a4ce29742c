//! Data atmosphere: remap weights, GLDAS reading, time interpolation, zenith weighting,
//! errors, and the synthetic weather generator round trip.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use landcycle::forcing::{
    solar, zenith_factor, ForcingError, ForcingReader, ForcingRole, ForcingSpec,
};
use landcycle::grid::remap::{LatLonSource, RemapError, RemapMethod, RemapWeights};
use landcycle::synth::weather::{self, WeatherConfig};
use std::path::Path;

const GLDAS_CONUS: &str = "gldas/GLDAS_NOAH025_3H.A20150101.0000.021.CONUS_subset.nc4";
const GLDAS_TEMPLATE: &str = "GLDAS_NOAH025_3H.A%Y%m%d.%H%M.021.CONUS_subset.nc4";

fn t(y: i32, m: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_opt(h, mi, 0)
        .unwrap()
}

fn gldas_spec(path: &Path) -> ForcingSpec {
    let mut spec = ForcingSpec::gldas(path.parent().unwrap());
    spec.file_template = GLDAS_TEMPLATE.to_string();
    spec
}

fn rel_close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1e-30)
}

// ---------------------------------------------------------------- remap weights

#[test]
fn bilinear_reproduces_linear_field_and_weights_sum_to_one() {
    for descending in [false, true] {
        let mut lat: Vec<f64> = (0..20).map(|j| 30.0 + 0.5 * j as f64).collect();
        if descending {
            lat.reverse();
        }
        let lon: Vec<f64> = (0..30).map(|i| -110.0 + 0.5 * i as f64).collect();
        let src = LatLonSource::new(lat.clone(), lon.clone()).unwrap();
        let f = |la: f64, lo: f64| 2.0 * la - 3.0 * lo + 7.0;
        let targets: Vec<(f64, f64)> = (0..50)
            .map(|k| {
                let a = k as f64 * 0.618_033_988_75;
                (30.1 + 9.3 * a.fract(), -109.9 + 14.3 * (a * 1.7).fract())
            })
            .chain([(35.0, -100.0), (39.5, -95.5), (30.0, -110.0)])
            // Same points in the 0..360 convention.
            .chain([(35.0, 260.0), (31.3, 251.2)])
            .collect();
        let w = RemapWeights::new(&src, &targets, RemapMethod::Bilinear).unwrap();
        let slab = w.slab();
        assert!(slab.len() <= 20 * 30);
        let mut values = vec![0.0; slab.len()];
        for jj in 0..slab.lat_count {
            for ii in 0..slab.lon_count {
                values[jj * slab.lon_count + ii] =
                    f(lat[slab.lat_start + jj], lon[slab.lon_start + ii]);
            }
        }
        let out = w.apply(&values).unwrap();
        for (k, &(la, lo)) in targets.iter().enumerate() {
            let sum: f64 = w.entries(k).iter().map(|e| e.1).sum();
            assert!(
                (sum - 1.0).abs() < 1e-12,
                "weights of target {k} sum to {sum}"
            );
            let lo180 = if lo > 180.0 { lo - 360.0 } else { lo };
            assert!(
                (out[k] - f(la, lo180)).abs() < 1e-9,
                "target {k} ({la}, {lo}): {} vs {}",
                out[k],
                f(la, lo180)
            );
        }
    }
}

#[test]
fn nearest_picks_closest_point_and_hyperslab_is_minimal() {
    let lat: Vec<f64> = (0..100).map(|j| 25.125 + 0.25 * j as f64).collect();
    let lon: Vec<f64> = (0..236).map(|i| -124.875 + 0.25 * i as f64).collect();
    let src = LatLonSource::new(lat, lon).unwrap();
    let w =
        RemapWeights::new(&src, &[(40.13, -88.4), (40.6, -87.9)], RemapMethod::Nearest).unwrap();
    let s = w.slab();
    // Nearest points (40.125, -88.375) and (40.625, -87.875): 3 rows, 3 columns.
    assert_eq!((s.lat_start, s.lat_count), (60, 3));
    assert_eq!((s.lon_start, s.lon_count), (146, 3));
    let e = w.entries(0);
    assert_eq!(e[0].1, 1.0);
    assert_eq!(e[0].0 as usize, 0); // (40.125, -88.375) is slab corner (0, 0)
}

#[test]
fn global_grid_wraps_in_longitude() {
    let lat: Vec<f64> = (0..720).map(|j| 89.875 - 0.25 * j as f64).collect();
    let lon: Vec<f64> = (0..1440).map(|i| 0.125 + 0.25 * i as f64).collect();
    let src = LatLonSource::new(lat.clone(), lon.clone()).unwrap();
    assert!(src.is_global_in_lon());
    // Across the 0/360 seam: between 359.875 and 0.125 (= 360.125).
    let target = (10.0, 0.0);
    let w = RemapWeights::new(&src, &[target], RemapMethod::Bilinear).unwrap();
    let slab = w.slab();
    let f = |lo: f64| (lo.to_radians()).cos();
    let mut values = vec![0.0; slab.len()];
    for jj in 0..slab.lat_count {
        for ii in 0..slab.lon_count {
            values[jj * slab.lon_count + ii] = f(lon[slab.lon_start + ii]);
        }
    }
    let out = w.apply(&values).unwrap();
    let expect = f(0.125); // symmetric neighbours: cos(-0.125) = cos(0.125)
    assert!((out[0] - expect).abs() < 1e-12);
    // Targets not touching the seam read a narrow slab.
    let w2 = RemapWeights::new(
        &src,
        &[(10.0, 200.0), (11.0, -150.0)],
        RemapMethod::Bilinear,
    )
    .unwrap();
    assert!(w2.slab().lon_count < 100, "{:?}", w2.slab());
    // Beyond the outermost latitude centre of a global grid the edge row is used.
    assert!(RemapWeights::new(&src, &[(89.95, 3.0), (-89.99, 3.0)], RemapMethod::Bilinear).is_ok());
}

#[test]
fn regional_grid_rejects_outside_targets_and_renormalises_over_fill() {
    let lat: Vec<f64> = vec![40.0, 41.0];
    let lon: Vec<f64> = vec![-100.0, -99.0];
    let src = LatLonSource::new(lat, lon).unwrap();
    match RemapWeights::new(&src, &[(45.0, -99.5)], RemapMethod::Bilinear) {
        Err(RemapError::OutsideSource { lat, .. }) => assert_eq!(lat, 45.0),
        other => panic!("expected OutsideSource, got {other:?}"),
    }
    let err = RemapWeights::new(&src, &[(40.5, -80.0)], RemapMethod::Bilinear).unwrap_err();
    assert!(
        err.to_string().contains("outside the regional source grid"),
        "{err}"
    );
    // Within half a cell of the edge centres is accepted (edge value held).
    assert!(RemapWeights::new(&src, &[(41.4, -98.6)], RemapMethod::Bilinear).is_ok());
    let w = RemapWeights::new(&src, &[(40.25, -99.5)], RemapMethod::Bilinear).unwrap();
    // Slab order [lat][lon]: (40,-100)=1, (40,-99)=3, (41,-100)=NaN (fill), (41,-99)=7.
    let out = w.apply(&[1.0, 3.0, f64::NAN, 7.0]).unwrap();
    // Weights 0.375, 0.375, 0.125, 0.125; valid sum 0.875.
    let expect = (0.375 * 1.0 + 0.375 * 3.0 + 0.125 * 7.0) / 0.875;
    assert!((out[0] - expect).abs() < 1e-12);
    // All stencil points invalid: NaN (the reader turns this into an error).
    assert!(w.apply(&[f64::NAN; 4]).unwrap()[0].is_nan());
}

// ---------------------------------------------------------------- real GLDAS file

/// Values checked independently with `ncdump -p 9,17 -v VAR` on the CONUS file
/// (row j, column i: lat = 25.125 + 0.25 j, lon = -124.875 + 0.25 i).
const NCDUMP_POINTS: [((f64, f64), [f64; 7]); 4] = [
    // j=60, i=146 (Champaign, Illinois)
    (
        (40.125, -88.375),
        [
            266.337402,
            0.000231495374,
            100101.188,
            5.80499983,
            0.0,
            38.3499985,
            193.408676,
        ],
    ),
    // j=58, i=80 (Colorado)
    (
        (39.625, -104.875),
        [
            257.65741,
            0.000991495326,
            82439.9844,
            2.00500011,
            0.0,
            104.370003,
            227.778671,
        ],
    ),
    // j=89, i=19 (Washington)
    (
        (47.375, -120.125),
        [
            262.177399,
            0.00125149533,
            96631.3906,
            0.504999995,
            0.0,
            126.43,
            201.818665,
        ],
    ),
    // j=61, i=147
    (
        (40.375, -88.125),
        [
            266.037415,
            0.000221495386,
            99983.9844,
            6.10500002,
            0.0,
            36.4599991,
            192.768677,
        ],
    ),
];

#[test]
fn gldas_values_match_ncdump_at_grid_points() {
    let Some(path) = landcycle::testdata::require(GLDAS_CONUS) else {
        return;
    };
    let targets: Vec<(f64, f64)> = NCDUMP_POINTS.iter().map(|p| p.0).collect();
    let mut reader = ForcingReader::new(gldas_spec(&path), &targets).unwrap();
    let rec = reader.record(t(2015, 1, 1, 0, 0)).unwrap();
    for (k, (_, expect)) in NCDUMP_POINTS.iter().enumerate() {
        for (r, role) in ForcingRole::ALL.iter().enumerate() {
            let got = rec.values(*role)[k];
            assert!(
                rel_close(got, expect[r], 1e-7) || (expect[r] == 0.0 && got == 0.0),
                "point {k} {role}: got {got}, ncdump {}",
                expect[r]
            );
        }
    }
    // The rank read only the hyperslab around its targets, not the 100 x 236 grid.
    let slab = reader.hyperslab().unwrap();
    assert_eq!((slab.lat_start, slab.lat_count), (58, 32));
    assert_eq!((slab.lon_start, slab.lon_count), (19, 129));

    // A rain point (j=44, i=123), ncdump 9.99999975e-06, given in the 0..360 convention.
    let mut r2 = ForcingReader::new(gldas_spec(&path), &[(36.125, 360.0 - 94.125)]).unwrap();
    let rec2 = r2.record(t(2015, 1, 1, 0, 0)).unwrap();
    assert!(rel_close(
        rec2.values(ForcingRole::Precipitation)[0],
        9.99999975e-06,
        1e-7
    ));
    let s2 = r2.hyperslab().unwrap();
    assert!(s2.len() <= 4, "{s2:?}");
}

/// Independent full-grid bilinear with renormalisation over fill, for comparison.
fn full_grid_bilinear(path: &Path, var: &str, targets: &[(f64, f64)]) -> Vec<f64> {
    let f = netcdf::open(path).unwrap();
    let v = f.variable(var).unwrap();
    let data: Vec<f32> = v.get_values::<f32, _>(..).unwrap();
    let (nlat, nlon) = (100usize, 236usize);
    assert_eq!(data.len(), nlat * nlon);
    targets
        .iter()
        .map(|&(la, lo)| {
            let y = (la - 25.125) / 0.25;
            let x = (lo + 124.875) / 0.25;
            let (j0, i0) = (y.floor() as usize, x.floor() as usize);
            let (ty, tx) = (y - j0 as f64, x - i0 as f64);
            let mut s = 0.0;
            let mut ws = 0.0;
            for (dj, di, w) in [
                (0, 0, (1.0 - ty) * (1.0 - tx)),
                (0, 1, (1.0 - ty) * tx),
                (1, 0, ty * (1.0 - tx)),
                (1, 1, ty * tx),
            ] {
                let v = data[(j0 + dj) * nlon + i0 + di];
                if v != -9999.0 && w > 0.0 {
                    s += w * v as f64;
                    ws += w;
                }
            }
            s / ws
        })
        .collect()
}

#[test]
fn gldas_hyperslab_read_equals_full_read() {
    let Some(path) = landcycle::testdata::require(GLDAS_CONUS) else {
        return;
    };
    // Points between grid points over the Great Plains and near the Gulf coast (fill nearby).
    let targets = [
        (38.9, -97.33),
        (41.07, -93.61),
        (36.2, -101.9),
        (29.9, -90.05),
        (30.45, -91.15),
        (44.01, -103.2),
    ];
    let mut reader = ForcingReader::new(gldas_spec(&path), &targets).unwrap();
    let rec = reader.record(t(2015, 1, 1, 0, 0)).unwrap();
    let slab = reader.hyperslab().unwrap();
    assert!(slab.len() < 100 * 236 / 2, "{slab:?}");
    for role in ForcingRole::ALL {
        let name = reader.spec().variables.get(role).name.clone();
        let full = full_grid_bilinear(&path, &name, &targets);
        for (k, want) in full.iter().enumerate() {
            let got = rec.values(role)[k];
            assert!(
                (got - want).abs() <= 1e-9 * want.abs().max(1e-12),
                "{name} target {k}: slab {got} vs full {want}"
            );
        }
    }
}

#[test]
fn gldas_missing_previous_file_is_named_with_its_time() {
    let Some(path) = landcycle::testdata::require(GLDAS_CONUS) else {
        return;
    };
    let mut reader = ForcingReader::new(gldas_spec(&path), &[(40.125, -88.375)]).unwrap();
    // The step 23:00-00:00 needs the 21Z file for the instantaneous fields.
    let err = reader
        .forcing_for_step(t(2014, 12, 31, 23, 0), t(2015, 1, 1, 0, 0))
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ForcingError::MissingFile { .. }), "{msg}");
    assert!(
        msg.contains("GLDAS_NOAH025_3H.A20141231.2100.021.CONUS_subset.nc4"),
        "{msg}"
    );
    assert!(msg.contains("2014-12-31 21:00:00"), "{msg}");
}

#[test]
fn gldas_wrong_variable_and_units_are_errors() {
    let Some(path) = landcycle::testdata::require(GLDAS_CONUS) else {
        return;
    };
    let mut spec = gldas_spec(&path);
    spec.variables.wind_speed.name = "Wind_f_tavg".to_string();
    let mut r = ForcingReader::new(spec, &[(40.125, -88.375)]).unwrap();
    let msg = r.record(t(2015, 1, 1, 0, 0)).unwrap_err().to_string();
    assert!(msg.contains("variable Wind_f_tavg not found"), "{msg}");
    assert!(msg.contains("CONUS_subset.nc4"), "{msg}");

    // Map a role to a variable whose units do not fit it.
    let mut spec = gldas_spec(&path);
    spec.variables.precipitation.name = "Tair_f_inst".to_string();
    let mut r = ForcingReader::new(spec, &[(40.125, -88.375)]).unwrap();
    let err = r.record(t(2015, 1, 1, 0, 0)).unwrap_err();
    assert!(matches!(err, ForcingError::Units { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("Tair_f_inst") && msg.contains("\"K\""),
        "{msg}"
    );

    // A spec with units that are not recognised for the role is rejected up front.
    let mut spec = gldas_spec(&path);
    spec.variables.surface_pressure.units = "furlongs".into();
    let msg = ForcingReader::new(spec, &[(40.0, -90.0)])
        .err()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("furlongs") && msg.contains("Psurf_f_inst"),
        "{msg}"
    );
}

#[test]
fn gldas_ocean_point_is_a_missing_value_error() {
    let Some(path) = landcycle::testdata::require(GLDAS_CONUS) else {
        return;
    };
    // (25.125, -124.875) is fill (Pacific) in every field; the whole stencil is ocean.
    let mut r =
        ForcingReader::new(gldas_spec(&path), &[(40.125, -88.375), (25.2, -124.8)]).unwrap();
    let err = r.record(t(2015, 1, 1, 0, 0)).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ForcingError::MissingValue { .. }), "{msg}");
    assert!(
        msg.contains("lat 25.2000") && msg.contains("lon -124.8000"),
        "{msg}"
    );
    assert!(
        msg.contains("Tair_f_inst") && msg.contains("2015-01-01 00:00:00"),
        "{msg}"
    );
}

// ---------------------------------------------------------------- zenith weighting

#[test]
fn zenith_weighting_conserves_period_mean_and_is_zero_at_night() {
    let places = [
        (40.0, -88.4),
        (-33.9, 151.2),
        (69.6, 18.9),
        (0.0, 0.0),
        (78.0, 15.0),
    ];
    let days = [
        t(2015, 1, 1, 0, 0),
        t(2015, 3, 20, 0, 0),
        t(2015, 6, 21, 0, 0),
    ];
    let mut night_checked = 0;
    for &(lat, lon) in &places {
        for &day in &days {
            for p in 0..8 {
                let p0 = day + Duration::hours(3 * p);
                let p1 = p0 + Duration::hours(3);
                let reference = p0 + Duration::minutes(90);
                for step_min in [60i64, 30, 15, 20, 45, 7] {
                    let n = 180 / step_min + i64::from(180 % step_min != 0);
                    let mut total = 0.0;
                    for s in 0..n {
                        let o1 = p0 + Duration::minutes(s * step_min);
                        let o2 = (o1 + Duration::minutes(step_min)).min(p1);
                        let f = zenith_factor(p0, p1, o1, o2, lat, lon, reference);
                        assert!(f >= 0.0);
                        total += f * (o2 - o1).num_seconds() as f64;
                        let c1 = solar::cos_zenith(o1, lat, lon);
                        let c2 = solar::cos_zenith(o2, lat, lon);
                        let period_mean = solar::mean_cos_zenith(p0, p1, lat, lon, reference);
                        if c1 < -0.02 && c2 < -0.02 && period_mean > 0.01 {
                            assert_eq!(f, 0.0, "night step must get no shortwave");
                            night_checked += 1;
                        }
                    }
                    assert!(
                        (total - 10_800.0).abs() < 1e-8,
                        "({lat},{lon}) {p0} step {step_min}: {total}"
                    );
                }
            }
        }
    }
    assert!(
        night_checked > 10,
        "the night case was exercised {night_checked} times"
    );
}

// ---------------------------------------------------------------- synthetic weather

fn small_config(dir: &Path, seed: u64, n_files: usize) -> WeatherConfig {
    let lat: Vec<f64> = (0..6).map(|j| 38.125 + 0.25 * j as f64).collect();
    let lon: Vec<f64> = (0..8).map(|i| -90.875 + 0.25 * i as f64).collect();
    WeatherConfig::new(lat, lon, t(2015, 6, 1, 0, 0), n_files, dir, seed)
}

fn synth_spec(dir: &Path) -> ForcingSpec {
    let mut spec = ForcingSpec::gldas(dir);
    spec.file_template = weather::DEFAULT_TEMPLATE.to_string();
    spec
}

#[test]
fn synthetic_weather_round_trips_through_the_reader() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path(), 42, 9);
    let paths = weather::write_weather_files(&cfg).unwrap();
    assert_eq!(paths.len(), 9);
    assert!(paths[1].ends_with("SYNTH_FORCING_3H.A20150601.0300.nc4"));
    // No temporary files left behind.
    let leftovers = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with('.')
        })
        .count();
    assert_eq!(leftovers, 0);

    // Targets at grid points: the reader returns the written (f32) values exactly.
    let targets: Vec<(f64, f64)> = vec![(38.125, -90.875), (39.125, -89.125), (38.625, -89.625)];
    let idx = [(0usize, 0usize), (4, 7), (2, 5)];
    let mut reader = ForcingReader::new(synth_spec(dir.path()), &targets).unwrap();
    for k in [0usize, 3, 8] {
        let time = cfg.start + Duration::hours(3 * k as i64);
        let f = weather::weather_fields(&cfg, time).unwrap();
        let rec = reader.record(time).unwrap();
        for (p, &(j, i)) in idx.iter().enumerate() {
            let c = j * 8 + i;
            let pairs = [
                (ForcingRole::AirTemperature, f.tair[c]),
                (ForcingRole::SpecificHumidity, f.qair[c]),
                (ForcingRole::SurfacePressure, f.psurf[c]),
                (ForcingRole::WindSpeed, f.wind[c]),
                (ForcingRole::Precipitation, f.rainf[c]),
                (ForcingRole::ShortwaveDown, f.swdown[c]),
                (ForcingRole::LongwaveDown, f.lwdown[c]),
            ];
            for (role, want) in pairs {
                assert_eq!(
                    rec.values(role)[p],
                    want as f64,
                    "{role} at file {k}, point {p}"
                );
            }
        }
    }

    // Hourly steps over the day: instantaneous fields interpolate between files, period
    // means are held, and hourly zenith-weighted shortwave averages back to the file mean.
    let mut sw_sum = [0.0; 3];
    let mut night_zero = 0;
    for h in 0..24 {
        let s = cfg.start + Duration::hours(h);
        let forc = reader.forcing_for_step(s, s + Duration::hours(1)).unwrap();
        let file_end = cfg.start + Duration::hours(3 * (h / 3 + 1));
        let rec = reader.record(file_end).unwrap();
        for p in 0..3 {
            assert_eq!(
                forc[p].precipitation,
                rec.values(ForcingRole::Precipitation)[p]
            );
            assert_eq!(
                forc[p].longwave_down,
                rec.values(ForcingRole::LongwaveDown)[p]
            );
            assert_eq!(forc[p].forcing_height, 10.0);
            assert_eq!(
                forc[p].frozen_precip_fraction,
                if forc[p].air_temperature < 273.15 {
                    1.0
                } else {
                    0.0
                }
            );
            sw_sum[p] += forc[p].shortwave_down;
            if (h % 3) == 2 {
                let mean = rec.values(ForcingRole::ShortwaveDown)[p];
                assert!(
                    (sw_sum[p] / 3.0 - mean).abs() <= 1e-9 * mean.max(1.0),
                    "period ending {file_end}: {} vs {mean}",
                    sw_sum[p] / 3.0
                );
                sw_sum[p] = 0.0;
            }
            let (lat, lon) = targets[p];
            if solar::cos_zenith(s, lat, lon) < 0.0
                && solar::cos_zenith(s + Duration::hours(1), lat, lon) < 0.0
            {
                assert_eq!(forc[p].shortwave_down, 0.0);
                night_zero += 1;
            }
        }
        // Instantaneous temperature at the step midpoint (h + 0.5) between files.
        let ta = cfg.start + Duration::hours(3 * (h / 3));
        let ra = reader.record(ta).unwrap();
        let rb = reader.record(ta + Duration::hours(3)).unwrap();
        let w = ((h % 3) as f64 + 0.5) / 3.0;
        let want = (1.0 - w) * ra.values(ForcingRole::AirTemperature)[1]
            + w * rb.values(ForcingRole::AirTemperature)[1];
        assert!((forc[1].air_temperature - want).abs() < 1e-9);
    }
    assert!(night_zero > 10);
}

#[test]
fn synthetic_weather_is_deterministic() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    let pa = weather::write_weather_files(&small_config(a.path(), 7, 3)).unwrap();
    let pb = weather::write_weather_files(&small_config(b.path(), 7, 3)).unwrap();
    let pc = weather::write_weather_files(&small_config(c.path(), 8, 3)).unwrap();
    for k in 0..3 {
        let (ba, bb, bc) = (
            std::fs::read(&pa[k]).unwrap(),
            std::fs::read(&pb[k]).unwrap(),
            std::fs::read(&pc[k]).unwrap(),
        );
        assert_eq!(ba, bb, "same seed must give identical files");
        assert_ne!(ba, bc, "another seed must give other weather");
    }
    // A run split into two calls gives the same files as one call.
    let d = tempfile::tempdir().unwrap();
    let mut cfg = small_config(d.path(), 7, 1);
    cfg.start += Duration::hours(6);
    let pd = weather::write_weather_files(&cfg).unwrap();
    assert_eq!(
        std::fs::read(&pd[0]).unwrap(),
        std::fs::read(&pa[2]).unwrap()
    );
}

#[test]
fn synthetic_weather_statistics_are_plausible() {
    let dir = tempfile::tempdir().unwrap();
    let lat: Vec<f64> = (0..12).map(|j| 35.0 + 0.5 * j as f64).collect();
    let lon: Vec<f64> = (0..16).map(|i| -100.0 + 0.5 * i as f64).collect();
    let cfg = WeatherConfig::new(lat, lon, t(2015, 4, 1, 3, 0), 1, dir.path(), 3);
    let (mut wet, mut n, mut rain_sum) = (0usize, 0usize, 0.0);
    let (mut tmin, mut tmax) = (f64::MAX, f64::MIN);
    let mut sw_day_max = 0.0f64;
    let mut psurf_range = (f64::MAX, f64::MIN);
    for k in 0..(60 * 8) {
        let time = cfg.start + Duration::hours(3 * k);
        let f = weather::weather_fields(&cfg, time).unwrap();
        for c in 0..f.tair.len() {
            let (tair, q, p) = (f.tair[c] as f64, f.qair[c] as f64, f.psurf[c] as f64);
            let e = q * p / (0.622 + 0.378 * q);
            assert!(
                e < weather::saturation_vapour_pressure(tair),
                "supersaturated"
            );
            assert!(q > 0.0);
            assert!((1.0..=10.0).contains(&f.wind[c]), "wind {}", f.wind[c]);
            assert!(f.swdown[c] >= 0.0 && f.swdown[c] < 1100.0);
            assert!((150.0..480.0).contains(&f.lwdown[c]), "lw {}", f.lwdown[c]);
            tmin = tmin.min(tair);
            tmax = tmax.max(tair);
            sw_day_max = sw_day_max.max(f.swdown[c] as f64);
            psurf_range = (psurf_range.0.min(p), psurf_range.1.max(p));
            n += 1;
            if f.rainf[c] > 0.0 {
                wet += 1;
            }
            rain_sum += f.rainf[c] as f64;
        }
    }
    let wet_fraction = wet as f64 / n as f64;
    let mm_per_day = rain_sum / n as f64 * 86_400.0;
    println!(
        "wet fraction {wet_fraction:.3}, mean {mm_per_day:.2} mm/day, T {tmin:.1}..{tmax:.1} K, \
         SW max {sw_day_max:.0}, p {:.0}..{:.0} Pa",
        psurf_range.0, psurf_range.1
    );
    assert!(
        (0.08..=0.25).contains(&wet_fraction),
        "wet fraction {wet_fraction}"
    );
    assert!(
        (1.5..=5.0).contains(&mm_per_day),
        "mean rain {mm_per_day} mm/day"
    );
    assert!(tmin > 250.0 && tmax < 315.0 && tmax - tmin > 15.0);
    assert!(sw_day_max > 500.0);
    assert!(psurf_range.1 - psurf_range.0 > 1000.0);
}

#[test]
fn synthetic_file_with_nan_or_bad_units_gives_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path(), 5, 2);
    let paths = weather::write_weather_files(&cfg).unwrap();
    let time1 = cfg.start + Duration::hours(3);
    // NaN (not the declared fill) next to a target: an error naming file, variable, time, place.
    {
        let mut f = netcdf::append(&paths[1]).unwrap();
        let mut v = f.variable_mut("Tair_f_inst").unwrap();
        v.put_values(&[f32::NAN], [0..1, 2..3, 3..4]).unwrap();
    }
    let target = (38.7, -90.1); // between rows 2-3 and columns 3-4
    let mut r = ForcingReader::new(synth_spec(dir.path()), &[target]).unwrap();
    assert!(r.record(cfg.start).is_ok());
    let err = r.record(time1).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ForcingError::MissingValue { .. }), "{msg}");
    assert!(
        msg.contains("Tair_f_inst") && msg.contains("lat 38.7000"),
        "{msg}"
    );
    assert!(
        msg.contains("2015-06-01 03:00:00") && msg.contains("A20150601.0300"),
        "{msg}"
    );

    // Unknown units in the file.
    {
        let mut f = netcdf::append(&paths[0]).unwrap();
        let mut v = f.variable_mut("Psurf_f_inst").unwrap();
        v.put_attribute("units", "furlongs").unwrap();
    }
    let mut r = ForcingReader::new(synth_spec(dir.path()), &[target]).unwrap();
    let msg = r.record(cfg.start).unwrap_err().to_string();
    assert!(
        msg.contains("Psurf_f_inst") && msg.contains("furlongs"),
        "{msg}"
    );
    assert!(msg.contains("A20150601.0000"), "{msg}");

    // Convertible units are converted: hPa.
    {
        let mut f = netcdf::append(&paths[0]).unwrap();
        let mut v = f.variable_mut("Psurf_f_inst").unwrap();
        let p: Vec<f32> = v.get_values::<f32, _>(..).unwrap();
        let hpa: Vec<f32> = p.iter().map(|x| x / 100.0).collect();
        v.put_values(&hpa, ..).unwrap();
        v.put_attribute("units", "hPa").unwrap();
    }
    let mut r = ForcingReader::new(synth_spec(dir.path()), &[(38.125, -90.875)]).unwrap();
    let rec = r.record(cfg.start).unwrap();
    let want = weather::weather_fields(&cfg, cfg.start).unwrap().psurf[0];
    let got = rec.values(ForcingRole::SurfacePressure)[0];
    assert!((got - want as f64).abs() < 0.01 * 100.0, "{got} vs {want}");

    // Physically impossible: negative pressure.
    {
        let mut f = netcdf::append(&paths[0]).unwrap();
        let mut v = f.variable_mut("Psurf_f_inst").unwrap();
        v.put_values(&[-5.0f32], [0..1, 0..1, 0..1]).unwrap();
    }
    let mut r = ForcingReader::new(synth_spec(dir.path()), &[(38.125, -90.875)]).unwrap();
    let err = r.record(cfg.start).unwrap_err();
    assert!(matches!(err, ForcingError::Impossible { .. }), "{err}");
    assert!(err.to_string().contains("surface pressure"), "{err}");

    // A file whose time coordinate does not match its name.
    let mut r = ForcingReader::new(synth_spec(dir.path()), &[target]).unwrap();
    std::fs::copy(
        &paths[0],
        dir.path().join("SYNTH_FORCING_3H.A20150601.0600.nc4"),
    )
    .unwrap();
    let msg = r
        .record(cfg.start + Duration::hours(6))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("no record for valid time 2015-06-01 06:00:00"),
        "{msg}"
    );
}

#[test]
fn synthetic_grid_evaluation_matches_pointwise() {
    let g = weather::WeatherGenerator::new(11, 40.0, -95.0, t(2000, 1, 1, 0, 0));
    let lat = [38.0, 39.5, 41.25];
    let lon = [-97.0, -95.5, -93.0, -91.75];
    let time = t(2016, 7, 3, 18, 0);
    let grid = g.grid(&lat, &lon, None, time);
    for (j, &la) in lat.iter().enumerate() {
        for (i, &lo) in lon.iter().enumerate() {
            let p = g.point(la, lo, 0.0, time);
            let q = grid[j * lon.len() + i];
            assert!((p.air_temperature - q.air_temperature).abs() < 1e-6);
            assert!((p.precipitation - q.precipitation).abs() < 1e-12);
            assert!((p.cloud - q.cloud).abs() < 1e-9);
            assert!((p.surface_pressure - q.surface_pressure).abs() < 1e-5);
        }
    }
}

#[test]
fn packed_int16_with_scale_offset_fill_and_celsius_is_unpacked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("packed_2015010103.nc");
    {
        let mut f = netcdf::create(&path).unwrap();
        f.add_dimension("latitude", 2).unwrap();
        f.add_dimension("longitude", 3).unwrap();
        // Descending latitude, 0..360 longitudes, no time dimension.
        let mut v = f.add_variable::<f32>("latitude", &["latitude"]).unwrap();
        v.put_values(&[41.0f32, 40.0], ..).unwrap();
        let mut v = f.add_variable::<f32>("longitude", &["longitude"]).unwrap();
        v.put_values(&[260.0f32, 261.0, 262.0], ..).unwrap();
        let mut v = f
            .add_variable::<i16>("t2m", &["latitude", "longitude"])
            .unwrap();
        v.put_attribute("units", "degC").unwrap();
        v.put_attribute("scale_factor", 0.01f64).unwrap();
        v.put_attribute("add_offset", 10.0f64).unwrap();
        v.put_attribute("_FillValue", -32767i16).unwrap();
        // Row 41N: 10.00, 12.00, fill; row 40N: 8.00, 11.00, 9.50 (degC)
        v.put_values(&[0i16, 200, -32767, -200, 100, -50], ..)
            .unwrap();
        for (name, units, val) in [
            ("q", "g/kg", 5.0f32),
            ("sp", "hPa", 1000.0),
            ("ws", "m/s", 3.0),
            ("tp", "mm/h", 1.8),
            ("ssrd", "W/m^2", 300.0),
            ("strd", "W m**-2", 320.0),
        ] {
            let mut v = f
                .add_variable::<f32>(name, &["latitude", "longitude"])
                .unwrap();
            v.put_attribute("units", units).unwrap();
            v.put_values(&[val; 6], ..).unwrap();
        }
    }
    let mut spec = ForcingSpec::gldas(dir.path());
    spec.file_template = "packed_%Y%m%d%H.nc".into();
    spec.lat_name = "latitude".into();
    spec.lon_name = "longitude".into();
    for (role, name) in [
        (ForcingRole::AirTemperature, "t2m"),
        (ForcingRole::SpecificHumidity, "q"),
        (ForcingRole::SurfacePressure, "sp"),
        (ForcingRole::WindSpeed, "ws"),
        (ForcingRole::Precipitation, "tp"),
        (ForcingRole::ShortwaveDown, "ssrd"),
        (ForcingRole::LongwaveDown, "strd"),
    ] {
        spec.variables.get_mut(role).name = name.into();
    }
    // (40.5, -99.5): all four neighbours valid -> mean of 10, 12, 8, 11 = 10.25 degC.
    // (40.75, -98.0): on the east edge, rows 41/40 at 262 -> fill and 9.5: renormalised to 9.5.
    let targets = [(40.5, -99.5), (40.75, -98.0)];
    let mut r = ForcingReader::new(spec, &targets).unwrap();
    let rec = r.record(t(2015, 1, 1, 3, 0)).unwrap();
    let tair = rec.values(ForcingRole::AirTemperature);
    assert!((tair[0] - (10.25 + 273.15)).abs() < 1e-9, "{}", tair[0]);
    assert!((tair[1] - (9.5 + 273.15)).abs() < 1e-9, "{}", tair[1]);
    assert!((rec.values(ForcingRole::SpecificHumidity)[0] - 0.005).abs() < 1e-9);
    assert!((rec.values(ForcingRole::SurfacePressure)[0] - 100_000.0).abs() < 1e-6);
    assert!((rec.values(ForcingRole::Precipitation)[0] - 0.0005).abs() < 1e-9);
    assert_eq!(rec.values(ForcingRole::ShortwaveDown)[0], 300.0);
    assert_eq!(rec.values(ForcingRole::LongwaveDown)[1], 320.0);
}

#[test]
fn rank_without_cells_and_forward_stamped_periods() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path(), 9, 3);
    weather::write_weather_files(&cfg).unwrap();
    // A rank with no land cells reads nothing and gets no forcing.
    // (Its directory does not even exist.)
    let mut r = ForcingReader::new(synth_spec(&dir.path().join("absent")), &[]).unwrap();
    let f = r
        .forcing_for_step(cfg.start, cfg.start + Duration::hours(1))
        .unwrap();
    assert!(f.is_empty());

    // Forward-stamped period means: the step 00-01 takes the 00Z file's value.
    let target = [(38.375, -90.375)];
    let mut spec = synth_spec(dir.path());
    spec.period_alignment = landcycle::forcing::PeriodAlignment::Starting;
    spec.sw_zenith_weighting = false;
    let mut r = ForcingReader::new(spec, &target).unwrap();
    let f = r
        .forcing_for_step(
            cfg.start + Duration::hours(1),
            cfg.start + Duration::hours(2),
        )
        .unwrap();
    let rec0 = r.record(cfg.start).unwrap();
    assert_eq!(
        f[0].longwave_down,
        rec0.values(ForcingRole::LongwaveDown)[0]
    );
    assert_eq!(
        f[0].shortwave_down,
        rec0.values(ForcingRole::ShortwaveDown)[0]
    );
    // A step straddling two periods gets their time-weighted mean.
    let f = r
        .forcing_for_step(
            cfg.start + Duration::hours(2),
            cfg.start + Duration::hours(4),
        )
        .unwrap();
    let rec1 = r.record(cfg.start + Duration::hours(3)).unwrap();
    let want = 0.5
        * (rec0.values(ForcingRole::LongwaveDown)[0] + rec1.values(ForcingRole::LongwaveDown)[0]);
    assert!((f[0].longwave_down - want).abs() < 1e-9);
    // An empty or reversed step is an error.
    assert!(r.forcing_for_step(cfg.start, cfg.start).is_err());
}
