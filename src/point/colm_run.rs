//! The CoLM point run: CoLM2014's offline point driver over the forcing records (clock,
//! daily phenology flag, cold start), the reference's CSV (85 columns, row k = state after
//! step k, dated at the start of step k) and the CF NetCDF series of the point mode.

use super::colm::ColmCase;
use super::colm_forcing::{read_colm_forcing, ColmRecord};
use super::series::{write_series, PointSeries, SeriesVar};
use super::PointError;
use crate::lsm::colm::column_step::{initial_state, step, Clock, Column, ColumnState, StepOutput};
use crate::lsm::colm::constants::NSOIL;
use crate::lsm::colm::energy_balance::ColumnParams;
use crate::lsm::colm::layers::soil;
use crate::lsm::colm::zenith::calendar_day;
use chrono::{Datelike, Duration, NaiveDateTime, Timelike};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Initial aquifer water (mm) and the depth of the water table below the column (m) of
/// CoLM's cold start.
const WA0: f64 = 4800.0;
const ZWT_BELOW: f64 = 1.0;

/// The reference CSV's columns after `step,date`.
pub const COLM_COLUMNS: [&str; 85] = [
    "t_grnd_K",
    "trad_K",
    "tlsun_K",
    "tlsha_K",
    "tsoi1_K",
    "tsoi2_K",
    "tsoi3_K",
    "tsoi4_K",
    "tsoi5_K",
    "tsoi6_K",
    "tsoi7_K",
    "tsoi8_K",
    "tsoi9_K",
    "tsoi10_K",
    "h2osoi1",
    "h2osoi2",
    "h2osoi3",
    "h2osoi4",
    "h2osoi5",
    "h2osoi6",
    "h2osoi7",
    "h2osoi8",
    "h2osoi9",
    "h2osoi10",
    "wliq1",
    "wliq2",
    "wliq3",
    "wliq4",
    "wliq5",
    "wliq6",
    "wliq7",
    "wliq8",
    "wliq9",
    "wliq10",
    "wice1",
    "wice2",
    "wice3",
    "wice4",
    "wice5",
    "wice6",
    "wice7",
    "wice8",
    "wice9",
    "wice10",
    "fsena_W_m2",
    "lfevpa_W_m2",
    "fgrnd_W_m2",
    "fevpa_mm_s",
    "fsenl_W_m2",
    "fseng_W_m2",
    "fevpl_mm_s",
    "etr_mm_s",
    "fevpg_mm_s",
    "rsur_mm_s",
    "rnof_mm_s",
    "qinfl_mm_s",
    "qdrip_mm_s",
    "qintr_mm_s",
    "qcharge_mm_s",
    "scv_mm",
    "snowdp_m",
    "snl",
    "fsno",
    "sag",
    "ldew_mm",
    "zwt_m",
    "wa_mm",
    "lai",
    "sai",
    "sigf",
    "sabvsun_W_m2",
    "sabvsha_W_m2",
    "sabg_W_m2",
    "sr_W_m2",
    "olrg_W_m2",
    "emis",
    "ustar_m_s",
    "rstfac",
    "rst_s_m",
    "assim",
    "tref_K",
    "qref_kg_kg",
    "coszen_next",
    "xerr_mm_s",
    "zerr_W_m2",
];

/// One output row: step number (1-based), the date of the step's start, the values after it
/// in [`COLM_COLUMNS`] order, and the incident longwave and shortwave (for the series).
#[derive(Debug, Clone, PartialEq)]
pub struct ColmRow {
    pub step: usize,
    pub date: NaiveDateTime,
    pub values: Vec<f64>,
    pub frl: f64,
    pub sw: f64,
}

/// The values of a row from the state after a step and what the step did.
pub fn row_values(st: &ColumnState, out: &StepOutput, dz: &[f64; NSOIL]) -> Vec<f64> {
    let (l, e, w, s) = (&st.layers, &out.energy, &out.water, &out.solar);
    let mut v = vec![l.t[l.top()], e.trad, st.canopy.tlsun, st.canopy.tlsha];
    v.extend((0..NSOIL).map(|j| l.t[soil(j)]));
    v.extend(
        (0..NSOIL).map(|j| l.wliq[soil(j)] / (1000.0 * dz[j]) + l.wice[soil(j)] / (917.0 * dz[j])),
    );
    v.extend((0..NSOIL).map(|j| l.wliq[soil(j)]));
    v.extend((0..NSOIL).map(|j| l.wice[soil(j)]));
    v.extend([
        e.fsena, e.lfevpa, e.fgrnd, e.fevpa, e.fsenl, e.fseng, e.fevpl, e.etr, e.fevpg,
    ]);
    v.extend([w.rsur, w.rnof, w.qinfl, out.qdrip, out.qintr, w.qcharge]);
    v.extend([
        st.snow.scv,
        st.snow.snowdp,
        -(l.nsnow as f64),
        st.fsno,
        st.sag,
        st.canopy.ldew,
        st.zwt,
        st.wa,
        st.lai,
        st.sai,
        st.sigf,
    ]);
    v.extend([s.sabvsun, s.sabvsha, s.sabg, s.sr, e.olrg, e.emis]);
    v.extend([e.surface.ustar, e.rstfac, e.rst, e.assim, e.tref, e.qref]);
    v.extend([st.coszen, out.water_error, e.errore]);
    debug_assert_eq!(v.len(), COLM_COLUMNS.len());
    v
}

/// CoLM's (day of year, seconds of day) of a UTC time, midnight being second 86400 of the
/// day that ends.
fn colm_day(t: NaiveDateTime) -> (u32, u32) {
    let sec = t.num_seconds_from_midnight();
    if sec == 0 {
        ((t - Duration::days(1)).ordinal(), 86400)
    } else {
        (t.ordinal(), sec)
    }
}

/// The clock of step `k` (0-based) starting at `t0`: calendar day at its end; phenology on
/// the first step and on the first step of each UTC day.
fn clock(k: usize, t0: NaiveDateTime, dt: f64) -> Clock {
    let t1 = t0 + Duration::seconds(dt as i64);
    let (d0, d1) = (colm_day(t0), colm_day(t1));
    Clock {
        calday_end: calendar_day(d1.0, d1.1),
        dolai: k == 0 || d0.0 != d1.0,
    }
}

/// The column of the case.
pub fn column(case: &ColmCase) -> Column<'_> {
    let c = &case.config;
    Column {
        params: ColumnParams {
            soil: &case.soil,
            rootfr: &case.rootfr,
            veg: &case.veg,
            tun: &case.tun,
        },
        geometry: &case.geometry,
        soil_albedo: case.soil_albedo,
        class: c.ivt as usize,
        lat: c.lat_deg.to_radians(),
        lon: c.lon_deg.to_radians(),
        height: c.hgt_u,
        co2: c.co2_ppm * 1e-6,
    }
}

/// Runs the case over `records` (record k must start step k), handing each row to `sink`.
pub fn run_colm_records(
    case: &ColmCase,
    records: &[ColmRecord],
    file: &str,
    mut sink: impl FnMut(ColmRow),
) -> Result<(), PointError> {
    let (c, dt) = (&case.config, case.dt());
    let n = c.nsteps as usize;
    if records.len() < n {
        return Err(PointError::Config {
            key: "nsteps".into(),
            msg: format!("{n} steps asked, {file} holds {} records", records.len()),
        });
    }
    let col = column(case);
    let init = (
        c.init_scv,
        c.init_snowdp,
        c.init_ldew,
        case.geometry.depth() + ZWT_BELOW,
        WA0,
    );
    let (d, s) = colm_day(case.start);
    let soil_state = (&case.t0, &case.wliq0, &case.wice0);
    let mut st = initial_state(&col, soil_state, init, calendar_day(d, s))?;
    for (k, r) in records[..n].iter().enumerate() {
        let t0 = case.start + Duration::seconds((k as f64 * dt) as i64);
        if r.date != t0 {
            return Err(PointError::ForcingFormat {
                file: file.to_string(),
                line: r.line,
                msg: format!(
                    "record dated {} where step {} starts at {t0}",
                    r.date,
                    k + 1
                ),
            });
        }
        let out = step(&mut st, &col, &r.forcing, &clock(k, t0, dt), dt).map_err(|e| {
            PointError::Step {
                step: k + 1,
                time: t0.to_string(),
                msg: e.to_string(),
            }
        })?;
        sink(ColmRow {
            step: k + 1,
            date: r.date,
            values: row_values(&st, &out, &case.geometry.dz),
            frl: r.forcing.frl,
            sw: r.forcing.sw,
        });
    }
    Ok(())
}

/// Outputs of a CoLM point run.
#[derive(Debug, Clone)]
pub struct ColmRun {
    pub rows: Vec<ColmRow>,
    pub csv_path: PathBuf,
    pub netcdf_path: PathBuf,
}

/// Runs a resolved case and writes the CSV (`output_file`) and the NetCDF beside it (`.nc`).
pub fn run_colm_case(case: &ColmCase) -> Result<ColmRun, PointError> {
    let fpath = case.resolve(&case.config.forcing_file);
    let records = read_colm_forcing(&fpath)?;
    let mut rows = Vec::with_capacity(case.config.nsteps as usize);
    run_colm_records(case, &records, &fpath.display().to_string(), |r| {
        rows.push(r)
    })?;
    let csv_path = case.resolve(&case.config.output_file);
    write_colm_csv(&csv_path, &rows)?;
    let netcdf_path = csv_path.with_extension("nc");
    write_series(&netcdf_path, &colm_series(case, &rows))?;
    Ok(ColmRun {
        rows,
        csv_path,
        netcdf_path,
    })
}

/// Fortran's ES16.8E3 as the reference writes it: ` 2.65524937E+002`, `-5.67257820E+001`.
pub fn fortran_es3(v: f64) -> String {
    let s = format!("{v:.8E}");
    let body = match s.split_once('E') {
        Some((m, e)) => {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            format!("{m}E{sign}{digits:0>3}")
        }
        None => s,
    };
    format!("{body:>16}")
}

/// Writes the rows in the reference's CSV layout (atomically).
pub fn write_colm_csv(path: &Path, rows: &[ColmRow]) -> Result<(), PointError> {
    crate::io::atomic::atomic_write(path, |tmp| {
        let io = |source| PointError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut w = std::io::BufWriter::new(std::fs::File::create(tmp).map_err(io)?);
        writeln!(w, "step,date,{}", COLM_COLUMNS.join(",")).map_err(io)?;
        for r in rows {
            let mut line = format!("{},{}", r.step, r.date.format("%Y%m%d%H%M"));
            for v in &r.values {
                line.push(',');
                line.push_str(&fortran_es3(*v));
            }
            writeln!(w, "{line}").map_err(io)?;
        }
        w.flush().map_err(io)
    })
}

/// Index of column `name` in [`COLM_COLUMNS`].
pub fn col_index(name: &str) -> usize {
    COLM_COLUMNS
        .iter()
        .position(|c| *c == name)
        .expect("a column of COLM_COLUMNS")
}

/// The CF series of the run with ALMA names and sign conventions.
pub fn colm_series(case: &ColmCase, rows: &[ColmRow]) -> PointSeries {
    let dt = case.dt();
    let times = rows
        .iter()
        .map(|r| (r.date - case.start).num_seconds() as f64 + dt)
        .collect();
    let g = &case.geometry;
    PointSeries {
        title: "landcycle CoLM2014 point run".into(),
        comment: "ALMA variable names and sign conventions (Qh, Qle upward; Qg into the soil; \
                  runoff out of the column); soil_layer is the node depth of CoLM's 10 layers"
            .into(),
        start: case.start,
        times,
        layer_depth: g.z.to_vec(),
        layer_bounds: (0..NSOIL).map(|j| (g.top(j), g.zi[j])).collect(),
        series: colm_surface_series(rows),
        layered: colm_layered_series(rows),
    }
}

/// The ALMA surface variables of a CoLM point run, one value per row.
fn colm_surface_series(rows: &[ColmRow]) -> Vec<SeriesVar> {
    let get = |name: &str| {
        let i = col_index(name);
        move |r: &ColmRow| r.values[i]
    };
    let var = |name, units, long_name, standard_name, f: &dyn Fn(&ColmRow) -> f64| SeriesVar {
        name,
        units,
        long_name,
        standard_name,
        values: rows.iter().map(f).collect(),
    };
    let (sun, sha, sabg) = (get("sabvsun_W_m2"), get("sabvsha_W_m2"), get("sabg_W_m2"));
    let (rsur, rnof, olrg) = (get("rsur_mm_s"), get("rnof_mm_s"), get("olrg_W_m2"));
    vec![
        var(
            "AvgSurfT",
            "K",
            "radiative surface temperature",
            Some("surface_temperature"),
            &get("trad_K"),
        ),
        var(
            "Qh",
            "W m-2",
            "sensible heat flux (upward)",
            Some("surface_upward_sensible_heat_flux"),
            &get("fsena_W_m2"),
        ),
        var(
            "Qle",
            "W m-2",
            "latent heat flux (upward)",
            Some("surface_upward_latent_heat_flux"),
            &get("lfevpa_W_m2"),
        ),
        var(
            "Qg",
            "W m-2",
            "ground heat flux (into the soil)",
            Some("downward_heat_flux_in_soil"),
            &get("fgrnd_W_m2"),
        ),
        var(
            "Qs",
            "kg m-2 s-1",
            "surface runoff",
            Some("surface_runoff_flux"),
            &rsur,
        ),
        var(
            "Qsb",
            "kg m-2 s-1",
            "subsurface runoff (drainage)",
            Some("subsurface_runoff_flux"),
            &|r| rnof(r) - rsur(r),
        ),
        var(
            "Evap",
            "kg m-2 s-1",
            "total evapotranspiration",
            Some("water_evapotranspiration_flux"),
            &get("fevpa_mm_s"),
        ),
        var(
            "TVeg",
            "kg m-2 s-1",
            "transpiration",
            Some("transpiration_flux"),
            &get("etr_mm_s"),
        ),
        var(
            "SWnet",
            "W m-2",
            "net shortwave radiation (downward)",
            Some("surface_net_downward_shortwave_flux"),
            &|r| sun(r) + sha(r) + sabg(r),
        ),
        var(
            "LWnet",
            "W m-2",
            "net longwave radiation (downward)",
            Some("surface_net_downward_longwave_flux"),
            &|r| r.frl - olrg(r),
        ),
        var(
            "SWE",
            "kg m-2",
            "snow water equivalent",
            Some("surface_snow_amount"),
            &get("scv_mm"),
        ),
        var(
            "SnowDepth",
            "m",
            "snow depth",
            Some("surface_snow_thickness"),
            &get("snowdp_m"),
        ),
        var(
            "CanopInt",
            "kg m-2",
            "canopy intercepted water",
            Some("canopy_water_amount"),
            &get("ldew_mm"),
        ),
        var(
            "SnowFrac",
            "1",
            "snow cover fraction",
            Some("surface_snow_area_fraction"),
            &get("fsno"),
        ),
        var(
            "LAI",
            "1",
            "leaf area index",
            Some("leaf_area_index"),
            &get("lai"),
        ),
        var(
            "WaterTableD",
            "m",
            "water table depth",
            Some("water_table_depth"),
            &get("zwt_m"),
        ),
    ]
}

/// The per-layer ALMA variables of a CoLM point run, row-major (row, layer).
fn colm_layered_series(rows: &[ColmRow]) -> Vec<SeriesVar> {
    let (liq, ice, tsoi): (Vec<usize>, Vec<usize>, Vec<usize>) = (
        (1..=NSOIL)
            .map(|j| col_index(&format!("wliq{j}")))
            .collect(),
        (1..=NSOIL)
            .map(|j| col_index(&format!("wice{j}")))
            .collect(),
        (1..=NSOIL)
            .map(|j| col_index(&format!("tsoi{j}_K")))
            .collect(),
    );
    let layer = |name, units, long_name, f: &dyn Fn(&ColmRow, usize) -> f64| SeriesVar {
        name,
        units,
        long_name,
        standard_name: None,
        values: rows
            .iter()
            .flat_map(|r| (0..NSOIL).map(move |j| (r, j)))
            .map(|(r, j)| f(r, j))
            .collect(),
    };
    vec![
        layer(
            "SoilMoist",
            "kg m-2",
            "soil water (liquid and ice) per layer",
            &|r, j| r.values[liq[j]] + r.values[ice[j]],
        ),
        layer("SoilTemp", "K", "soil temperature per layer", &|r, j| {
            r.values[tsoi[j]]
        }),
        layer(
            "SoilLiq",
            "kg m-2",
            "liquid soil water per layer",
            &|r, j| r.values[liq[j]],
        ),
        layer(
            "SoilIce",
            "kg m-2",
            "frozen soil water per layer",
            &|r, j| r.values[ice[j]],
        ),
    ]
}
