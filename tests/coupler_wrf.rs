//! Coupler mode 2 (WRF) on the Rondônia WPS domain with generated `wrfout_d01_*` and
//! `wrfinput_d01` files: the WRF source against data files holding the equivalent fields,
//! RAINC, buckets, a WRF restart inside the window, missing files, the grid check, output
//! intervals of 3 h and 30 min, and the `wrfinput` export with its refusals.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use landcycle::coupler::wrf::{WrfForcing, WrfSource};
use landcycle::forcing::{
    ForcingReader, ForcingRole, ForcingSpec, RecordSource, TimeSampling, VariableSpec,
};
use landcycle::grid::remap::RemapMethod;
use landcycle::grid::statics::StaticFields;
use landcycle::grid::Grid;
use landcycle::io::wrf_input::{export_wrfinput, WrfLandState, ANALYSIS_TIME_ATTRIBUTE};
use landcycle::io::wrf_out::WrfOutFiles;
use landcycle::lsm::noah::tables::{ParameterTables, SOIL_STATSGO};
use landcycle::synth::wrf::{
    wrfout_fields, write_wrfinput, write_wrfout, write_wrfout_series, WrfDomain, WrfOutFields,
    WrfRun,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod common;
use common::{assert_identical, have_mpirun, run_ok};

const GEO_EM: &str = "wps-geo-em/geo_em.d01.nc";

fn t(h: u32, m: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 7, 1)
        .unwrap()
        .and_hms_opt(h, m, 0)
        .unwrap()
}

struct Case {
    domain: WrfDomain,
    grid: Grid,
}

fn case() -> Option<Case> {
    let path = landcycle::testdata::require(GEO_EM)?;
    Some(Case {
        domain: WrfDomain::from_geo_em(&path).unwrap(),
        grid: StaticFields::read_geo_em(&path).unwrap().grid,
    })
}

fn run(interval: Duration) -> WrfRun {
    WrfRun {
        start: t(0, 0),
        interval,
        bucket_mm: None,
        rainc: true,
        rainsh: false,
        times_variable: true,
    }
}

fn wrf_forcing(dir: &Path, interval: Duration) -> WrfForcing {
    WrfForcing {
        files: WrfOutFiles::wrf_default(dir, 1),
        interval_seconds: interval.num_seconds(),
        bucket_mm: None,
        forcing_height: 10.0,
    }
}

/// One land cell every third row, at a column that moves along the rows: distinct latitudes.
fn targets(grid: &Grid) -> Vec<u64> {
    let (ny, nx) = grid.dims();
    let mut out = Vec::new();
    for j in (0..ny).step_by(3) {
        if let Some(i) = (0..nx)
            .map(|d| (j * 7 + d) % nx)
            .find(|&i| grid.is_land(j, i))
        {
            out.push(grid.global_id(j, i));
        }
    }
    out
}

/// The seven forcing values (SI) of cell `k` from the generated WRF fields of a time (`now`)
/// and the time before it (`before`, None at the run start), computed as the WRF section of
/// docs/coupling.md says.
fn alma_values(now: &WrfOutFields, before: Option<&WrfOutFields>, dt: f64, k: usize) -> [f64; 7] {
    let acc = |f: &WrfOutFields| f.rainc[k] as f64 + f.rainnc[k] as f64;
    // No period of the run ends at its start: 0 there, never read.
    let rain = before.map_or(0.0, |p| (acc(now) - acc(p)) / dt);
    let q = now.q2[k] as f64;
    let (u, v) = (now.u10[k] as f64, now.v10[k] as f64);
    [
        now.t2[k] as f64,
        q / (1.0 + q),
        now.psfc[k] as f64,
        (u * u + v * v).sqrt(),
        rain,
        now.swdown[k] as f64,
        now.glw[k] as f64,
    ]
}

const ALMA: [(&str, &str); 7] = [
    ("Tair_f_inst", "K"),
    ("Qair_f_inst", "kg kg-1"),
    ("Psurf_f_inst", "Pa"),
    ("Wind_f_inst", "m s-1"),
    ("Rainf_f_tavg", "kg m-2 s-1"),
    ("SWdown_f_inst", "W m-2"),
    ("LWdown_f_inst", "W m-2"),
];

/// ALMA/GLDAS-style files on a regular lat-lon grid whose rows are the targets' latitudes,
/// each row holding its target's values, so nearest-neighbour remapping returns them exactly.
fn write_alma_files(dir: &Path, c: &Case, r: &WrfRun, ids: &[u64], end: NaiveDateTime) {
    let pts: Vec<(usize, usize)> = ids.iter().map(|&id| c.grid.index_of(id).unwrap()).collect();
    let mut rows: Vec<(f64, usize)> = pts
        .iter()
        .enumerate()
        .map(|(n, &(j, i))| (c.grid.lat(j, i), n))
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(
        rows.windows(2).all(|w| w[1].0 > w[0].0),
        "target latitudes repeat"
    );
    let lons: Vec<f64> = pts.iter().map(|&(j, i)| c.grid.lon(j, i)).collect();
    let lon0 = lons.iter().cloned().fold(f64::INFINITY, f64::min) - 0.5;
    let lon: Vec<f64> = (0..24).map(|i| lon0 + 0.25 * i as f64).collect();
    assert!(lon[23] > lons.iter().cloned().fold(f64::NEG_INFINITY, f64::max));
    let (mut time, mut before) = (r.start, None);
    let dt = r.interval.num_seconds() as f64;
    while time <= end {
        let now = wrfout_fields(&c.domain, r, time);
        let path = dir.join(format!("ALMA_{}.nc", time.format("%Y%m%d%H%M")));
        let mut f = netcdf::create(&path).unwrap();
        f.add_dimension("lat", rows.len()).unwrap();
        f.add_dimension("lon", lon.len()).unwrap();
        let lat: Vec<f64> = rows.iter().map(|r| r.0).collect();
        f.add_variable::<f64>("lat", &["lat"])
            .unwrap()
            .put_values(&lat, ..)
            .unwrap();
        f.add_variable::<f64>("lon", &["lon"])
            .unwrap()
            .put_values(&lon, ..)
            .unwrap();
        let vals: Vec<[f64; 7]> = rows
            .iter()
            .map(|&(_, n)| {
                let (j, i) = pts[n];
                alma_values(&now, before.as_ref(), dt, j * c.grid.nx() + i)
            })
            .collect();
        for (role, (name, units)) in ALMA.iter().enumerate() {
            let grid: Vec<f64> = vals.iter().flat_map(|v| vec![v[role]; lon.len()]).collect();
            let mut v = f.add_variable::<f64>(name, &["lat", "lon"]).unwrap();
            v.put_attribute("units", *units).unwrap();
            v.put_values(&grid, ..).unwrap();
        }
        before = Some(now);
        time += r.interval;
    }
}

fn alma_spec(dir: &Path, wrf: &WrfForcing) -> ForcingSpec {
    let mut spec = wrf.forcing_spec();
    spec.directory = dir.to_path_buf();
    spec.file_template = "ALMA_%Y%m%d%H%M.nc".into();
    for (role, (name, units)) in ForcingRole::ALL.iter().zip(ALMA) {
        *spec.variables.get_mut(*role) = VariableSpec::new(name, units);
    }
    assert_eq!(
        spec.variables.get(ForcingRole::Precipitation).sampling,
        TimeSampling::PeriodMean
    );
    spec.remap = RemapMethod::Nearest;
    (spec.lat_name, spec.lon_name) = ("lat".into(), "lon".into());
    spec
}

/// Step by step, the WRF source through the forcing reader gives the same forcing, bit for
/// bit, as the data-file reader on files holding the equivalent fields.
fn equivalence(interval: Duration, step: Duration) {
    let Some(c) = case() else { return };
    let (wrf_dir, alma_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let r = run(interval);
    write_wrfout_series(wrf_dir.path(), &c.domain, &r, t(6, 0)).unwrap();
    let ids = targets(&c.grid);
    assert!(ids.len() > 30);
    write_alma_files(alma_dir.path(), &c, &r, &ids, t(6, 0));
    let wrf = wrf_forcing(wrf_dir.path(), interval);
    let src = WrfSource::new(wrf.clone(), &c.grid, &ids).unwrap();
    let pts = src.target_points();
    let mut a = ForcingReader::with_source(
        Arc::new(wrf.forcing_spec()),
        Arc::new(pts.clone()),
        Box::new(src),
    )
    .unwrap();
    let mut b = ForcingReader::new(alma_spec(alma_dir.path(), &wrf), &pts).unwrap();
    let (mut t0, mut wet) = (t(0, 0), 0);
    while t0 < t(6, 0) {
        a.prefetch_step(t0, t0 + step);
        let fa = a.forcing_for_step(t0, t0 + step).unwrap();
        let fb = b.forcing_for_step(t0, t0 + step).unwrap();
        assert_eq!(fa, fb, "step {t0}");
        assert!(fa
            .iter()
            .all(|f| f.precipitation.is_finite() && f.air_temperature > 250.0));
        wet += fa.iter().filter(|f| f.precipitation > 0.0).count();
        t0 += step;
    }
    assert!(wet > 0, "no precipitation in the comparison");
}

#[test]
fn wrf_source_equals_data_files_3_hourly() {
    equivalence(Duration::hours(3), Duration::minutes(15));
}

#[test]
fn wrf_source_equals_data_files_30_minute() {
    equivalence(Duration::minutes(30), Duration::minutes(20));
}

fn record_values(src: &mut WrfSource, time: NaiveDateTime, role: ForcingRole) -> Vec<f64> {
    src.read_record(time).unwrap().values(role).to_vec()
}

#[test]
fn rainc_and_rainsh_are_added_when_present() {
    let Some(c) = case() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut r = run(Duration::hours(1));
    r.rainsh = true;
    write_wrfout_series(dir.path(), &c.domain, &r, t(2, 0)).unwrap();
    let ids = targets(&c.grid);
    let mut src = WrfSource::new(wrf_forcing(dir.path(), r.interval), &c.grid, &ids).unwrap();
    let rate = record_values(&mut src, t(2, 0), ForcingRole::Precipitation);
    let (f1, f2) = (
        wrfout_fields(&c.domain, &r, t(1, 0)),
        wrfout_fields(&c.domain, &r, t(2, 0)),
    );
    let mut convective = 0;
    for (k, &id) in ids.iter().enumerate() {
        let g = id as usize;
        let d_nc = f2.rainnc[g] as f64 - f1.rainnc[g] as f64;
        let d_c = f2.rainc[g] as f64 - f1.rainc[g] as f64;
        let d_sh = f2.rainsh[g] as f64 - f1.rainsh[g] as f64;
        assert_eq!(rate[k], (d_c + d_nc + d_sh) / 3600.0, "cell {id}");
        convective += usize::from(d_c > 0.0);
    }
    assert!(convective > 3, "RAINC must contribute at some targets");
}

#[test]
fn bucket_counters_restore_the_accumulation() {
    let Some(c) = case() else { return };
    let (plain, bucket) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut r = run(Duration::hours(1));
    write_wrfout_series(plain.path(), &c.domain, &r, t(6, 0)).unwrap();
    r.bucket_mm = Some(4.0);
    let files = write_wrfout_series(bucket.path(), &c.domain, &r, t(6, 0)).unwrap();
    let last = netcdf::open(files.last().unwrap()).unwrap();
    let counts: Vec<i32> = last.variable("I_RAINNC").unwrap().get_values(..).unwrap();
    assert!(counts.iter().any(|&n| n >= 2), "the bucket must tip");
    let ids = c.grid.land_cells();
    let new = |dir: &Path| WrfSource::new(wrf_forcing(dir, r.interval), &c.grid, &ids).unwrap();
    let (mut a, mut b) = (new(plain.path()), new(bucket.path()));
    for h in 1..=6 {
        let p = ForcingRole::Precipitation;
        assert_eq!(
            record_values(&mut a, t(h, 0), p),
            record_values(&mut b, t(h, 0), p)
        );
    }
    // A bucket_mm setting that contradicts the files' BUCKET_MM is refused.
    let mut wrong = wrf_forcing(bucket.path(), r.interval);
    wrong.bucket_mm = Some(100.0);
    let e = WrfSource::new(wrong, &c.grid, &ids)
        .unwrap()
        .read_record(t(3, 0))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("BUCKET_MM") && e.contains("wrfout_d01_2026-07-01_0"),
        "{e}"
    );
}

#[test]
fn wrf_restart_inside_the_window_is_reported() {
    let Some(c) = case() else { return };
    let dir = tempfile::tempdir().unwrap();
    let r = run(Duration::hours(1));
    let files = write_wrfout_series(dir.path(), &c.domain, &r, t(4, 0)).unwrap();
    let ids = c.grid.land_cells();
    let mut src = WrfSource::new(wrf_forcing(dir.path(), r.interval), &c.grid, &ids).unwrap();
    // Accumulations start again from zero at 03:00 in files that claim the same run.
    let restarted = wrfout_fields(&c.domain, &r, t(0, 0));
    write_wrfout(&files[3], &c.domain, &r, t(3, 0), &restarted).unwrap();
    let e = src.read_record(t(3, 0)).unwrap_err().to_string();
    assert!(e.contains("decreases") && e.contains("restarted"), "{e}");
    // A file of another run (started 02:00) is not differenced against this run's.
    let mut other = r.clone();
    other.start = t(2, 0);
    write_wrfout(
        &files[3],
        &c.domain,
        &other,
        t(3, 0),
        &wrfout_fields(&c.domain, &other, t(3, 0)),
    )
    .unwrap();
    let e = src.read_record(t(3, 0)).unwrap_err().to_string();
    assert!(e.contains("two WRF runs"), "{e}");
}

#[test]
fn missing_file_names_file_and_time() {
    let Some(c) = case() else { return };
    let dir = tempfile::tempdir().unwrap();
    let r = run(Duration::hours(1));
    let files = write_wrfout_series(dir.path(), &c.domain, &r, t(3, 0)).unwrap();
    std::fs::remove_file(&files[2]).unwrap();
    let ids = targets(&c.grid);
    let mut src = WrfSource::new(wrf_forcing(dir.path(), r.interval), &c.grid, &ids).unwrap();
    for time in [t(2, 0), t(3, 0)] {
        // 03:00 needs 02:00 for its precipitation: no earlier file is used instead.
        let e = src.read_record(time).unwrap_err().to_string();
        assert!(
            e.contains("wrfout_d01_2026-07-01_02:00:00") && e.contains("2026-07-01 02:00:00"),
            "{e}"
        );
    }
}

#[test]
fn xtime_alone_gives_the_same_records() {
    let Some(c) = case() else { return };
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut r = run(Duration::hours(3));
    write_wrfout_series(a_dir.path(), &c.domain, &r, t(6, 0)).unwrap();
    r.times_variable = false;
    write_wrfout_series(b_dir.path(), &c.domain, &r, t(6, 0)).unwrap();
    let ids = targets(&c.grid);
    let new = |d: &Path| WrfSource::new(wrf_forcing(d, r.interval), &c.grid, &ids).unwrap();
    let (mut a, mut b) = (new(a_dir.path()), new(b_dir.path()));
    for time in [t(3, 0), t(6, 0)] {
        for role in ForcingRole::ALL {
            assert_eq!(
                record_values(&mut a, time, role),
                record_values(&mut b, time, role)
            );
        }
    }
}

#[test]
fn another_domain_is_refused_naming_the_cell() {
    let Some(c) = case() else { return };
    let dir = tempfile::tempdir().unwrap();
    let r = run(Duration::hours(1));
    write_wrfout_series(dir.path(), &c.domain, &r, t(1, 0)).unwrap();
    let (ny, nx) = c.grid.dims();
    let land = c.grid.land_cells();
    let moved = land[land.len() / 2] as usize;
    let lat: Vec<f64> = (0..ny * nx)
        .map(|g| c.grid.lat(g / nx, g % nx) + if g == moved { 2e-4 } else { 0.0 })
        .collect();
    let lon: Vec<f64> = (0..ny * nx).map(|g| c.grid.lon(g / nx, g % nx)).collect();
    let grid = Grid::curvilinear(ny, nx, lat, lon, Some(c.grid.land_mask().to_vec())).unwrap();
    let mut src = WrfSource::new(wrf_forcing(dir.path(), r.interval), &grid, &land[..3]).unwrap();
    let e = src.read_record(t(1, 0)).unwrap_err().to_string();
    let cell = format!("j={}, i={} (global id {moved})", moved / nx, moved % nx);
    assert!(e.contains(&cell), "{e}");
}

// ------------------------------------------------------------------ wrfinput export

struct Export {
    cells: Vec<u64>,
    smois: Vec<f32>,
    sh2o: Vec<f32>,
    tslb: Vec<f32>,
    tsk: Vec<f32>,
    snow: Vec<f32>,
    snowh: Vec<f32>,
    canwat: Vec<f32>,
}

impl Export {
    fn new(cells: Vec<u64>) -> Self {
        let n = cells.len();
        let layered = |base: f32, step: f32| -> Vec<f32> {
            (0..4 * n)
                .map(|k| base + step * (k % 4) as f32 + 1e-4 * (k % 13) as f32)
                .collect()
        };
        Self {
            smois: layered(0.21, 0.02),
            sh2o: layered(0.20, 0.02),
            tslb: layered(297.0, 0.25),
            tsk: (0..n).map(|k| 303.0 + 0.01 * (k % 11) as f32).collect(),
            snow: vec![1.5; n],
            snowh: vec![0.005; n],
            canwat: (0..n).map(|k| 0.05 * (k % 5) as f32).collect(),
            cells,
        }
    }
    fn state(&self) -> WrfLandState<'_> {
        WrfLandState {
            smois: &self.smois,
            sh2o: &self.sh2o,
            tslb: &self.tslb,
            tsk: &self.tsk,
            snow: &self.snow,
            snowh: &self.snowh,
            canwat: &self.canwat,
        }
    }
    fn layered(&self, name: &str) -> Option<&[f32]> {
        match name {
            "SMOIS" => Some(&self.smois),
            "SH2O" => Some(&self.sh2o),
            "TSLB" => Some(&self.tslb),
            _ => None,
        }
    }
    fn surface(&self, name: &str) -> Option<&[f32]> {
        match name {
            "TSK" => Some(&self.tsk),
            "SNOW" => Some(&self.snow),
            "SNOWH" => Some(&self.snowh),
            "CANWAT" => Some(&self.canwat),
            _ => None,
        }
    }
}

fn porosity() -> Vec<f64> {
    let tables = ParameterTables::builtin();
    let soil = tables.soil_dataset(SOIL_STATSGO).unwrap();
    soil.classes.iter().map(|s| s.maxsmc).collect()
}

fn attributes<'a>(list: impl Iterator<Item = netcdf::Attribute<'a>>) -> Vec<(String, String)> {
    list.map(|a| (a.name().to_string(), format!("{:?}", a.value().unwrap())))
        .collect()
}

fn var_attributes(v: &netcdf::Variable<'_>) -> Vec<(String, String)> {
    v.attributes()
        .map(|a| (a.name().to_string(), format!("{:?}", a.value().unwrap())))
        .collect()
}

fn f32s(raw: &[u8]) -> Vec<f32> {
    raw.chunks(4)
        .map(|b| f32::from_ne_bytes(b.try_into().unwrap()))
        .collect()
}

fn no_temporaries(dir: &Path) {
    let left: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

#[test]
fn export_changes_only_the_seven_fields_on_land_cells() {
    let Some(c) = case() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (
        dir.path().join("wrfinput_d01"),
        dir.path().join("wrfinput_d01.lc"),
    );
    write_wrfinput(&input, &c.domain, t(6, 0)).unwrap();
    // landcycle land, plus two cells that are water in wrfinput (left alone).
    let water: Vec<u64> = (0..c.domain.landmask.len() as u64)
        .filter(|&g| c.domain.landmask[g as usize] != 1.0)
        .take(2)
        .collect();
    assert_eq!(water.len(), 2);
    let mut cells = c.grid.land_cells();
    cells.extend(&water);
    cells.sort_unstable();
    let ex = Export::new(cells);
    let s = export_wrfinput(
        &input,
        &output,
        t(6, 0),
        &ex.cells,
        &ex.state(),
        &porosity(),
    )
    .unwrap();
    assert_eq!(
        (s.cells_written, s.cells_water_in_wrf),
        (ex.cells.len() - 2, 2)
    );
    no_temporaries(dir.path());

    let (a, b) = (
        netcdf::open(&input).unwrap(),
        netcdf::open(&output).unwrap(),
    );
    let (ga, mut gb) = (attributes(a.attributes()), attributes(b.attributes()));
    let added = gb
        .iter()
        .position(|x| x.0 == ANALYSIS_TIME_ATTRIBUTE)
        .unwrap();
    assert_eq!(gb.remove(added).1, "Str(\"2026-07-01_06:00:00\")");
    assert_eq!(ga, gb);
    let dims = |f: &netcdf::File| -> Vec<(String, usize)> {
        f.dimensions().map(|d| (d.name(), d.len())).collect()
    };
    assert_eq!(dims(&a), dims(&b));
    let names: Vec<String> = a.variables().map(|v| v.name()).collect();
    assert_eq!(names, b.variables().map(|v| v.name()).collect::<Vec<_>>());
    let n = c.domain.ny * c.domain.nx;
    let mut written = vec![None; n];
    for (k, &g) in ex.cells.iter().enumerate() {
        if c.domain.landmask[g as usize] == 1.0 {
            written[g as usize] = Some(k);
        }
    }
    for name in &names {
        let (va, vb) = (a.variable(name).unwrap(), b.variable(name).unwrap());
        assert_eq!(
            var_attributes(&va),
            var_attributes(&vb),
            "attributes of {name}"
        );
        let (ra, rb) = (
            va.get_raw_values(..).unwrap(),
            vb.get_raw_values(..).unwrap(),
        );
        let (layers, src) = match (ex.layered(name), ex.surface(name)) {
            (Some(v), _) => (4, v),
            (None, Some(v)) => (1, v),
            (None, None) => {
                assert_eq!(ra, rb, "{name} changed");
                continue;
            }
        };
        let (xa, xb) = (f32s(&ra), f32s(&rb));
        for l in 0..layers {
            for g in 0..n {
                let (old, new) = (xa[l * n + g], xb[l * n + g]);
                match written[g] {
                    Some(k) => assert_eq!(new, src[layers * k + l], "{name} layer {l} cell {g}"),
                    None => assert_eq!(old.to_bits(), new.to_bits(), "{name} cell {g} changed"),
                }
            }
        }
    }
}

fn refusal(setup: impl FnOnce(&Path, &mut Export) -> NaiveDateTime, expect: &[&str]) {
    let Some(c) = case() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("wrfinput_d01"), dir.path().join("out"));
    write_wrfinput(&input, &c.domain, t(6, 0)).unwrap();
    let mut ex = Export::new(c.grid.land_cells());
    let time = setup(&input, &mut ex);
    let e = export_wrfinput(&input, &output, time, &ex.cells, &ex.state(), &porosity())
        .unwrap_err()
        .to_string();
    for x in expect {
        assert!(e.contains(x), "{e}");
    }
    assert!(!output.exists());
    no_temporaries(dir.path());
}

#[test]
fn export_refuses_other_soil_layers() {
    refusal(
        |input, _| {
            let mut f = netcdf::append(input).unwrap();
            let mut v = f.variable_mut("DZS").unwrap();
            v.put_values(&[0.05f32, 0.25, 0.7, 1.0], (0..1, ..))
                .unwrap();
            t(6, 0)
        },
        &["DZS", "wrfinput_d01"],
    );
    refusal(
        |input, _| {
            let mut f = netcdf::create(input).unwrap();
            f.add_dimension("soil_layers_stag", 10).unwrap();
            t(6, 0)
        },
        &["soil_layers_stag = 10"],
    );
}

#[test]
fn export_refuses_another_time() {
    refusal(
        |_, _| t(12, 0),
        &["Times", "2026-07-01_06:00:00", "2026-07-01_12:00:00"],
    );
}

#[test]
fn export_refuses_more_water_than_porosity() {
    refusal(
        |_, ex| {
            ex.smois[4 * 10 + 2] = 1.5; // above every class, water's 1.0 included
            t(6, 0)
        },
        &["SMOIS", "porosity", "layer 3"],
    );
    refusal(
        |_, ex| {
            ex.sh2o[4 * 5] = ex.smois[4 * 5] + 0.01;
            t(6, 0)
        },
        &["SH2O", "exceeds SMOIS"],
    );
}

#[test]
fn generated_wrfout_follows_wrf_conventions() {
    let Some(c) = case() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut r = run(Duration::hours(1));
    r.bucket_mm = Some(100.0);
    let files = write_wrfout_series(dir.path(), &c.domain, &r, t(1, 0)).unwrap();
    let f = netcdf::open(&files[1]).unwrap();
    let dims: Vec<(String, usize)> = f.dimensions().map(|d| (d.name(), d.len())).collect();
    for (name, len) in [
        ("Time", 1),
        ("DateStrLen", 19),
        ("south_north", 129),
        ("west_east", 129),
    ] {
        assert!(dims.contains(&(name.to_string(), len)), "{dims:?}");
    }
    assert!(f.dimension("Time").unwrap().is_unlimited());
    let times = f.variable("Times").unwrap();
    assert_eq!(times.vartype(), netcdf::types::NcVariableType::Char);
    assert_eq!(times.get_raw_values(..).unwrap(), b"2026-07-01_01:00:00");
    let text = |v: &netcdf::Variable<'_>, a: &str| match v.attribute_value(a) {
        Some(Ok(netcdf::AttributeValue::Str(s))) => s,
        other => panic!("{} {a}: {other:?}", v.name()),
    };
    for name in [
        "T2", "Q2", "PSFC", "U10", "V10", "SWDOWN", "GLW", "RAINC", "RAINNC", "I_RAINNC",
    ] {
        let v = f.variable(name).unwrap();
        let d: Vec<String> = v.dimensions().iter().map(|d| d.name()).collect();
        assert_eq!(d, ["Time", "south_north", "west_east"], "{name}");
        assert_eq!(text(&v, "MemoryOrder"), "XY ");
        assert_eq!(text(&v, "stagger"), "");
        assert!(!text(&v, "description").is_empty());
        assert!(v.attribute("FieldType").is_some() && v.attribute("units").is_some());
    }
    assert_eq!(text(&f.variable("Q2").unwrap(), "description"), "QV at 2 M");
    assert_eq!(text(&f.variable("RAINNC").unwrap(), "units"), "mm");
    let xtime: Vec<f32> = f.variable("XTIME").unwrap().get_values(..).unwrap();
    assert_eq!(xtime, [60.0]);
    let global = |a: &str| format!("{:?}", f.attribute(a).unwrap().value().unwrap());
    assert_eq!(
        global("SIMULATION_START_DATE"),
        "Str(\"2026-07-01_00:00:00\")"
    );
    assert_eq!(global("BUCKET_MM"), "Float(100.0)");
    assert_eq!(global("MAP_PROJ"), "Int(1)");
    // 64-bit offset netCDF, as WRF's io_form_history = 2 writes it.
    assert_eq!(&std::fs::read(&files[1]).unwrap()[..4], b"CDF\x02");
}

/// The namelist of a one-window Noah run on the WRF domain in mode 'wrf', exporting at the
/// window end into `out/wrfinput_d01_<YYYYMMDDHH>`.
fn wrf_run_namelist(dir: &Path, geo_em: &Path) -> PathBuf {
    let text = format!(
        "&run
  start = '2026-07-01_00:00:00'
  end   = '2026-07-01_06:00:00'
  timestep = 1800
  ensemble_size = 2
  seed = 7
  rundir = 'rundir'
  cold_start_soil_moisture = 0.30, 0.30, 0.28, 0.28
  cold_start_soil_moisture_std = 0.03, 0.02, 0.02, 0.01
  cold_start_temperature = 295.0
/
&domain
  static_file = '{}'
  static_format = 'geo_em'
/
&forcing
  directory = 'wrf'
  file_template = 'wrfout_d01_%Y-%m-%d_%H:%M:%S'
/
&perturbation
  interval_seconds = 3600
/
&restart
  keep = 0
/
&coupler
  mode = 'wrf'
  directory = 'wrf'
  wrf_interval_minutes = 60
  export = .true.
  export_offset_hours = 0
  wrfinput_in = 'wrfinput_d01_%Y%m%d%H'
  wrfinput_out = 'out/wrfinput_d01_%Y%m%d%H'
/
",
        geo_em.display()
    );
    let p = dir.join("wrf.nml");
    std::fs::write(&p, text).unwrap();
    p
}

fn read_f32(path: &Path, name: &str) -> Vec<f32> {
    let nc = netcdf::open(path).unwrap();
    nc.variable(name).unwrap().get_values::<f32, _>(..).unwrap()
}

/// Mode 'wrf' inside a run: hourly `wrfout` files force a Noah ensemble on the Rondônia
/// domain; the run is byte-identical on 1 and 2 ranks, and the land state at the window
/// end goes into a copy of `wrfinput` (land cells changed, water cells untouched).
#[test]
fn a_wrf_mode_run_is_forced_by_wrfout_and_exports_into_wrfinput() {
    let Some(path) = landcycle::testdata::require(GEO_EM) else {
        return;
    };
    assert!(have_mpirun(), "mpirun is required");
    let geo = std::fs::canonicalize(path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let domain = WrfDomain::from_geo_em(&geo).unwrap();
    let wrf = dir.path().join("wrf");
    std::fs::create_dir_all(&wrf).unwrap();
    std::fs::create_dir_all(dir.path().join("out")).unwrap();
    write_wrfout_series(&wrf, &domain, &run(Duration::hours(1)), t(6, 0)).unwrap();
    let input = dir.path().join("wrfinput_d01_2026070106");
    write_wrfinput(&input, &domain, t(6, 0)).unwrap();
    let nml = wrf_run_namelist(dir.path(), &geo);
    let (r1, r2) = (dir.path().join("r1"), dir.path().join("r2"));
    let out = dir.path().join("out/wrfinput_d01_2026070106");
    run_ok(&nml, 1, &r1, &[]);
    let first = std::fs::read(&out).unwrap();
    run_ok(&nml, 2, &r2, &[]);
    assert_identical(&r1, &r2);
    assert_eq!(
        first,
        std::fs::read(&out).unwrap(),
        "export differs on 2 ranks"
    );

    let (before, after) = (read_f32(&input, "SMOIS"), read_f32(&out, "SMOIS"));
    let n = domain.ny * domain.nx;
    let (mut land, mut changed) = (0, 0);
    for (k, &m) in domain.landmask.iter().enumerate() {
        for l in 0..4 {
            let (b, a) = (before[l * n + k], after[l * n + k]);
            if m == 1.0 {
                assert!(a > 0.0 && a < 0.6, "cell {k} layer {l}: SMOIS {a}");
                changed += usize::from(a != b);
                land += 1;
            } else {
                assert_eq!(a.to_bits(), b.to_bits(), "water cell {k} layer {l} changed");
            }
        }
    }
    assert!(
        land > 10_000 && changed > land * 9 / 10,
        "{changed} of {land}"
    );
    // Every other byte of meaning is the input's: spot-check a static field.
    assert_eq!(read_f32(&input, "HGT"), read_f32(&out, "HGT"));
}

/// A run namelist on the WRF domain whose `&forcing` names ALMA data files in `alma/`
/// holding the WRF source's fields (the same in both runs, so the configuration
/// fingerprints agree), with `coupler` as the `&coupler` group.
fn equivalent_run_namelist(dir: &Path, geo_em: &Path, name: &str, coupler: &str) -> PathBuf {
    let text = format!(
        "&run
  start = '2026-07-01_00:00:00'
  end   = '2026-07-01_06:00:00'
  timestep = 1800
  ensemble_size = 2
  seed = 7
  rundir = 'rundir'
  cold_start_soil_moisture = 0.30, 0.30, 0.28, 0.28
  cold_start_soil_moisture_std = 0.03, 0.02, 0.02, 0.01
  cold_start_temperature = 295.0
/
&domain
  static_file = '{}'
  static_format = 'geo_em'
/
&forcing
  directory = 'alma'
  file_template = 'ALMA_%Y%m%d%H%M.nc'
  interval_hours = 1
  tair_var = 'Tair_f_inst'
  tair_units = 'K'
  qair_var = 'Qair_f_inst'
  qair_units = 'kg kg-1'
  psurf_var = 'Psurf_f_inst'
  psurf_units = 'Pa'
  wind_var = 'Wind_f_inst'
  wind_units = 'm s-1'
  rainf_var = 'Rainf_f_tavg'
  rainf_units = 'kg m-2 s-1'
  swdown_var = 'SWdown_f_inst'
  swdown_units = 'W m-2'
  lwdown_var = 'LWdown_f_inst'
  lwdown_units = 'W m-2'
  forcing_height = 10.0
  sw_zenith_weighting = .false.
/
&perturbation
  interval_seconds = 3600
/
&restart
  keep = 0
/
&coupler
{coupler}
/
",
        geo_em.display()
    );
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Identity weights on the WRF domain (ESMF layout, centres in degrees): every land cell
/// takes its own cell's value with weight 1, so the remap returns the file's values exactly.
fn identity_weights(path: &Path, grid: &Grid, land: &[u64]) {
    use landcycle::io::weights::{write_weights, GridCells, WeightFile, WeightLayout};
    let (ny, nx) = grid.dims();
    let cells = GridCells {
        dims: vec![nx, ny],
        lat: (0..ny * nx).map(|g| grid.lat(g / nx, g % nx)).collect(),
        lon: (0..ny * nx).map(|g| grid.lon(g / nx, g % nx)).collect(),
        mask: None,
        area: None,
        frac: None,
    };
    let addr: Vec<i64> = land.iter().map(|&g| g as i64 + 1).collect();
    let w = WeightFile {
        path: path.to_path_buf(),
        layout: WeightLayout::Esmf,
        map_method: "neareststod".into(),
        normalization: "none".into(),
        src: cells.clone(),
        dst: cells,
        src_address: addr.clone(),
        dst_address: addr,
        weight: vec![1.0; land.len()],
    };
    write_weights(path, &w, WeightLayout::Esmf).unwrap();
}

/// ALMA files on the WRF domain (2-D, f64) holding at every land cell exactly the record
/// the WRF source gives there (0 elsewhere, never read). At the WRF run start no period
/// ends, so the source has no precipitation there (NaN); the file holds 0, which the
/// data-file reader checks but never uses (a period mean is read at the period's end).
fn write_equivalent_files(dir: &Path, src: &mut WrfSource, grid: &Grid, land: &[u64]) {
    let (ny, nx) = grid.dims();
    let mut time = t(0, 0);
    while time <= t(6, 0) {
        let rec = src.read_record(time).unwrap();
        let path = dir.join(format!("ALMA_{}.nc", time.format("%Y%m%d%H%M")));
        let mut f = netcdf::create(&path).unwrap();
        f.add_dimension("south_north", ny).unwrap();
        f.add_dimension("west_east", nx).unwrap();
        for (role, (name, units)) in ForcingRole::ALL.iter().zip(ALMA) {
            let mut field = vec![0.0f64; ny * nx];
            for (&g, &v) in land.iter().zip(rec.values(*role)) {
                field[g as usize] = if v.is_nan() && time == t(0, 0) {
                    0.0
                } else {
                    v
                };
            }
            let mut v = f
                .add_variable::<f64>(name, &["south_north", "west_east"])
                .unwrap();
            v.put_attribute("units", units).unwrap();
            v.put_values(&field, ..).unwrap();
        }
        time += Duration::hours(1);
    }
}

/// A whole WRF-mode run (hourly wrfout files, Noah, 2 members, perturbations, one window)
/// equals a data-file run fed the equivalent fields: data files on the WRF domain holding
/// exactly the WRF source's records, read through identity weights. Both namelists carry
/// the same `&forcing` (unused in mode 'wrf'), so the fingerprints agree and the restarts
/// are byte-identical; history files differ only in the `namelist` attribute.
#[test]
fn a_wrf_mode_run_equals_a_data_file_run_fed_the_same_fields() {
    let Some(path) = landcycle::testdata::require(GEO_EM) else {
        return;
    };
    assert!(have_mpirun(), "mpirun is required");
    let geo = std::fs::canonicalize(path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let domain = WrfDomain::from_geo_em(&geo).unwrap();
    let grid = StaticFields::read_geo_em(&geo).unwrap().grid;
    let (ny, nx) = grid.dims();
    let land: Vec<u64> = (0..ny * nx)
        .filter(|&g| grid.is_land(g / nx, g % nx))
        .map(|g| g as u64)
        .collect();
    for sub in ["wrf", "alma"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    let interval = Duration::hours(1);
    write_wrfout_series(&d.join("wrf"), &domain, &run(interval), t(6, 0)).unwrap();
    let mut src = WrfSource::new(wrf_forcing(&d.join("wrf"), interval), &grid, &land).unwrap();
    write_equivalent_files(&d.join("alma"), &mut src, &grid, &land);
    identity_weights(&d.join("ident.nc"), &grid, &land);
    let wrf = equivalent_run_namelist(
        d,
        &geo,
        "wrf.nml",
        "  mode = 'wrf'\n  directory = 'wrf'\n  wrf_interval_minutes = 60",
    );
    let files = equivalent_run_namelist(
        d,
        &geo,
        "files.nml",
        "  mode = 'files'\n  a2l_weights = 'ident.nc'",
    );
    run_ok(&wrf, 2, &d.join("r_wrf"), &[]);
    run_ok(&files, 2, &d.join("r_files"), &[]);
    common::assert_same_land_output(&d.join("r_wrf"), &d.join("r_files"), true);
}
