//! The coupled case of the coupler and NRT tests: the synthetic land case on a 0.25° grid,
//! synthetic weather on a 0.5° atmosphere grid around it, CDO weights (bilinear a→l,
//! conservative l→a; Debian `cdo`, installed by scripts/setup), namelist variants per
//! `&coupler` mode, and `landcycle atm replay` as the atmosphere.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDate;
use landcycle::io::gridded::{write_field, GriddedField};
use landcycle::synth::weather::{write_weather_files, WeatherConfig};

use super::{synth, write_case_namelist, BIN};

pub const START: &str = "2020-06-01_00:00:00";
/// 8 windows of 6 h.
pub const END: &str = "2020-06-03_00:00:00";
pub const ATM_TEMPLATE: &str = "atm_%Y%m%d%H.nc";
pub const LAND: (usize, usize, f64, f64, f64) = (8, 6, 38.0, -95.0, 0.25);
pub const ATM: (usize, usize, f64, f64, f64) = (9, 7, 36.75, -96.5, 0.5);

pub fn lonlat_txt(path: &Path, (nx, ny, y0, x0, d): (usize, usize, f64, f64, f64)) {
    let text = format!(
        "gridtype = lonlat\nxsize = {nx}\nysize = {ny}\nxfirst = {x0}\nxinc = {d}\nyfirst = {y0}\nyinc = {d}\n"
    );
    std::fs::write(path, text).unwrap();
}

pub fn axis(n: usize, first: f64, d: f64) -> Vec<f64> {
    (0..n).map(|k| first + k as f64 * d).collect()
}

pub fn cdo(dir: &Path, args: &[&str]) {
    let out = Command::new("cdo")
        .arg("-s")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cdo is not available ({e}): run scripts/setup"));
    assert!(
        out.status.success(),
        "cdo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A case directory: the synthetic land case (`landcycle synth`), synthetic weather on the
/// atmosphere grid in `atm/`, and CDO weights `w_a2l.nc`, `w_l2a.nc`.
pub fn coupled_case(dir: &Path) -> PathBuf {
    let (nx, ny, lat0, lon0, _) = LAND;
    let nml = write_case_namelist(dir, nx, ny, 4, START, END, (lat0, lon0));
    synth(&nml);
    let (ax, ay, alat0, alon0, ad) = ATM;
    let start = NaiveDate::from_ymd_opt(2020, 6, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let mut w = WeatherConfig::new(
        axis(ay, alat0, ad),
        axis(ax, alon0, ad),
        start,
        18,
        dir.join("atm"),
        5,
    );
    w.file_template = ATM_TEMPLATE.into();
    std::fs::create_dir_all(dir.join("atm")).unwrap();
    write_weather_files(&w).unwrap();
    lonlat_txt(&dir.join("land_grid.txt"), LAND);
    lonlat_txt(&dir.join("atm_grid.txt"), ATM);
    cdo(
        dir,
        &["genbil,land_grid.txt", "atm/atm_2020060100.nc", "w_a2l.nc"],
    );
    let land = GriddedField {
        name: "f".into(),
        units: None,
        long_name: None,
        lat_name: "lat".into(),
        lon_name: "lon".into(),
        lat: axis(ny, lat0, LAND.4),
        lon: axis(nx, lon0, LAND.4),
        values: vec![1.0; nx * ny],
    };
    write_field(&dir.join("land.nc"), &land, "test").unwrap();
    cdo(dir, &["gencon,atm_grid.txt", "land.nc", "w_l2a.nc"]);
    nml
}

/// `nml` with the forcing from `atm/` and `coupler` as the `&coupler` group, written as
/// `name`.
pub fn variant(nml: &Path, name: &str, coupler: &str) -> PathBuf {
    let text = std::fs::read_to_string(nml)
        .unwrap()
        .replace("directory = 'case/forcing'", "directory = 'atm'")
        .replace(
            "file_template = 'forcing_%Y%m%d%H.nc'",
            &format!("file_template = '{ATM_TEMPLATE}'"),
        );
    let p = nml.with_file_name(name);
    std::fs::write(&p, format!("{text}&coupler\n{coupler}\n/\n")).unwrap();
    p
}

pub const FILES: &str = "mode = 'files'\n a2l_weights = 'w_a2l.nc'";
pub fn exchange(export: bool, deadline_s: u32) -> String {
    format!(
        "mode = 'exchange'\n directory = 'xchg'\n a2l_weights = 'w_a2l.nc'\n l2a_weights = 'w_l2a.nc'\n \
         export = {}\n deadline_seconds = {deadline_s}\n poll_milliseconds = 20",
        if export { ".true." } else { ".false." }
    )
}

pub fn replay(nml: &Path, extra: &[&str]) -> std::process::Child {
    Command::new(BIN)
        .args(["atm", "replay"])
        .arg(nml)
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

pub fn finish(child: std::process::Child) -> String {
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "replay failed: {}{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}
