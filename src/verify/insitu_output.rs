//! Outputs of the in-situ verification: a text table, JSON, CSV (one row per station) and a
//! CF-1.8 discrete-sampling-geometry NetCDF file (`featureType = "timeSeries"`, orthogonal
//! multidimensional representation: every station on the common history valid times).

use std::path::Path;

use serde_json::{json, Value};

use super::insitu::{InsituReport, StationScore};
use super::maps::MAP_FILL;
use super::metrics::METRICS;
use super::VerifyError;

fn num(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        Value::Null
    }
}

fn layers_text(s: &StationScore) -> String {
    s.layers
        .iter()
        .map(|(k, w)| format!("{k}:{w:.3}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn station_json(s: &StationScore) -> Value {
    let metrics: serde_json::Map<String, Value> = METRICS
        .iter()
        .map(|d| (d.name.to_string(), num((d.get)(&s.metrics))))
        .collect();
    json!({
        "network": s.network, "station": s.station, "sensor": s.sensor,
        "file": s.file, "lat": s.lat, "lon": s.lon,
        "depth_from": s.depth_from, "depth_to": s.depth_to,
        "cell_row": s.cell.map(|c| c.0), "cell_col": s.cell.map(|c| c.1),
        "distance_km": num(s.distance_km),
        "layers": s.layers.iter().map(|(k, w)| json!({"layer": k, "weight": w})).collect::<Vec<_>>(),
        "n_records": s.n_records, "n_rejected": s.n_rejected,
        "status": s.status, "metrics": metrics,
    })
}

impl InsituReport {
    /// The report as JSON (NaN as null).
    pub fn to_json(&self) -> String {
        let fmt = |t: &chrono::NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let networks: Vec<Value> = self
            .networks
            .iter()
            .map(|n| {
                let m: Vec<Value> = n
                    .metrics
                    .iter()
                    .map(|m| json!({"name": m.name, "n_stations": m.n_cells, "mean": num(m.mean), "median": num(m.median)}))
                    .collect();
                json!({"network": n.network, "n_stations": n.n_stations, "n_scored": n.n_scored, "metrics": m})
            })
            .collect();
        let v = json!({
            "variable": self.variable, "units": self.units,
            "insitu_dir": self.insitu_dir, "run_dir": self.run_dir,
            "n_times": self.times.len(),
            "first_time": self.times.first().map(fmt), "last_time": self.times.last().map(fmt),
            "max_distance_km": self.options.max_distance_km,
            "window_minutes": self.options.window_minutes,
            "accepted_flags": self.options.flags.accept,
            "stations": self.stations.iter().map(station_json).collect::<Vec<_>>(),
            "networks": networks,
        });
        serde_json::to_string_pretty(&v).unwrap_or_default()
    }

    /// One CSV row per station: identification, match, status and every metric.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "network,station,sensor,lat,lon,depth_from,depth_to,cell_row,cell_col,distance_km,layers,n_records,n_rejected,status",
        );
        for d in METRICS {
            out.push(',');
            out.push_str(d.name);
        }
        out.push('\n');
        let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let f = |x: f64| {
            if x.is_finite() {
                format!("{x}")
            } else {
                String::new()
            }
        };
        for s in &self.stations {
            let (r, c) = s.cell.map_or((String::new(), String::new()), |(r, c)| {
                (r.to_string(), c.to_string())
            });
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{r},{c},{},{},{},{},{}",
                q(&s.network),
                q(&s.station),
                q(&s.sensor),
                s.lat,
                s.lon,
                s.depth_from,
                s.depth_to,
                f(s.distance_km),
                q(&layers_text(s)),
                s.n_records,
                s.n_rejected,
                q(&s.status)
            ));
            for d in METRICS {
                out.push(',');
                out.push_str(&f((d.get)(&s.metrics)));
            }
            out.push('\n');
        }
        out
    }

    /// A plain-text table: stations, then the network summaries.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{} ({}) against ISMN stations under {}: {} valid times, flags accepted {}, max distance {} km, window ±{} min\n",
            self.variable,
            self.units,
            self.insitu_dir.display(),
            self.times.len(),
            self.options.flags.accept.join(","),
            self.options.max_distance_km,
            0.5 * self.options.window_minutes
        );
        s.push_str(&format!(
            "{:<12} {:<16} {:>11} {:>7} {:>9} {:>5} {:>8} {:>8} {:>8} {:>7} {:>7}  status\n",
            "network",
            "station",
            "depth (m)",
            "layers",
            "dist km",
            "n",
            "rmse",
            "bias",
            "ubrmse",
            "r",
            "anom r"
        ));
        for x in &self.stations {
            let m = &x.metrics;
            s.push_str(&format!(
                "{:<12} {:<16} {:>5.2}-{:<5.2} {:>7} {:>9.2} {:>5} {:>8.4} {:>8.4} {:>8.4} {:>7.3} {:>7.3}  {}\n",
                x.network, x.station, x.depth_from, x.depth_to,
                x.layers.iter().map(|l| l.0.to_string()).collect::<Vec<_>>().join("+"),
                x.distance_km, m.n, m.rmse, m.bias, m.ubrmse, m.r, m.anomaly_r, x.status
            ));
        }
        s.push_str("per network (mean / median over scored stations):\n");
        for n in &self.networks {
            let get = |k: &str| {
                n.metrics
                    .iter()
                    .find(|m| m.name == k)
                    .map_or((f64::NAN, f64::NAN), |m| (m.mean, m.median))
            };
            let cols: Vec<String> = ["rmse", "bias", "ubrmse", "r", "anomaly_r"]
                .iter()
                .map(|k| {
                    let (a, b) = get(k);
                    format!("{k} {a:.4}/{b:.4}")
                })
                .collect();
            s.push_str(&format!(
                "{:<12} {}/{} scored  {}\n",
                n.network,
                n.n_scored,
                n.n_stations,
                cols.join("  ")
            ));
        }
        s
    }
}

fn var_err(path: &Path, variable: &str) -> impl Fn(netcdf::Error) -> VerifyError + use<> {
    let (path, variable) = (path.to_path_buf(), variable.to_string());
    move |e| VerifyError::Variable {
        path: path.clone(),
        variable: variable.clone(),
        message: e.to_string(),
    }
}

/// Write the station time series and metrics as CF DSG NetCDF, atomically.
pub fn write_insitu_netcdf(path: &Path, r: &InsituReport) -> Result<(), VerifyError> {
    let final_path = path.to_path_buf();
    crate::io::atomic_write(path, |tmp| write_dsg(tmp, &final_path, r))
}

fn put_attrs(
    v: &mut netcdf::VariableMut,
    path: &Path,
    name: &str,
    attrs: &[(&str, &str)],
) -> Result<(), VerifyError> {
    for (k, val) in attrs {
        v.put_attribute(k, *val).map_err(var_err(path, name))?;
    }
    Ok(())
}

fn station_var(
    f: &mut netcdf::FileMut,
    path: &Path,
    name: &str,
    attrs: &[(&str, &str)],
    data: &[f64],
) -> Result<(), VerifyError> {
    let mut v = f
        .add_variable::<f64>(name, &["station"])
        .map_err(var_err(path, name))?;
    v.set_fill_value(MAP_FILL).map_err(var_err(path, name))?;
    put_attrs(&mut v, path, name, attrs)?;
    let d: Vec<f64> = data
        .iter()
        .map(|x| if x.is_finite() { *x } else { MAP_FILL })
        .collect();
    v.put_values(&d, ..).map_err(var_err(path, name))
}

fn write_dsg(tmp: &Path, path: &Path, r: &InsituReport) -> Result<(), VerifyError> {
    let mut f =
        netcdf::create_with(tmp, netcdf::Options::NETCDF4).map_err(|e| VerifyError::Io {
            path: path.to_path_buf(),
            message: format!("cannot create: {e}"),
        })?;
    let g = var_err(path, "(global)");
    f.add_attribute("Conventions", "CF-1.8").map_err(&g)?;
    f.add_attribute("featureType", "timeSeries").map_err(&g)?;
    f.add_attribute(
        "title",
        "landcycle in-situ verification against ISMN stations",
    )
    .map_err(&g)?;
    f.add_attribute("run_dir", r.run_dir.display().to_string().as_str())
        .map_err(&g)?;
    f.add_attribute("insitu_dir", r.insitu_dir.display().to_string().as_str())
        .map_err(&g)?;
    f.add_attribute(
        "ismn_flags_accepted",
        r.options.flags.accept.join(",").as_str(),
    )
    .map_err(&g)?;
    let ns = r.stations.len();
    f.add_dimension("station", ns)
        .map_err(var_err(path, "station"))?;
    f.add_dimension("time", r.times.len())
        .map_err(var_err(path, "time"))?;
    let t0 = r.times.first().copied().unwrap_or_default();
    let mut v = f
        .add_variable::<f64>("time", &["time"])
        .map_err(var_err(path, "time"))?;
    let units = format!("hours since {}", t0.format("%Y-%m-%d %H:%M:%S"));
    put_attrs(
        &mut v,
        path,
        "time",
        &[
            ("standard_name", "time"),
            ("units", &units),
            ("calendar", "standard"),
            ("axis", "T"),
        ],
    )?;
    let hours: Vec<f64> = r
        .times
        .iter()
        .map(|t| (*t - t0).num_seconds() as f64 / 3600.0)
        .collect();
    v.put_values(&hours, ..).map_err(var_err(path, "time"))?;
    for (name, text) in [
        ("station_name", "timeseries_id"),
        ("network", ""),
        ("sensor", ""),
        ("status", ""),
    ] {
        let mut v = f
            .add_string_variable(name, &["station"])
            .map_err(var_err(path, name))?;
        if !text.is_empty() {
            v.put_attribute("cf_role", text)
                .map_err(var_err(path, name))?;
        }
        v.put_attribute("long_name", format!("station {name}").as_str())
            .map_err(var_err(path, name))?;
        for (k, s) in r.stations.iter().enumerate() {
            let val = match name {
                "station_name" => format!("{}/{}", s.network, s.station),
                "network" => s.network.clone(),
                "sensor" => s.sensor.clone(),
                _ => s.status.clone(),
            };
            v.put_string(&val, [k]).map_err(var_err(path, name))?;
        }
    }
    let col = |g: fn(&StationScore) -> f64| r.stations.iter().map(g).collect::<Vec<f64>>();
    station_var(
        &mut f,
        path,
        "lat",
        &[("standard_name", "latitude"), ("units", "degrees_north")],
        &col(|s| s.lat),
    )?;
    station_var(
        &mut f,
        path,
        "lon",
        &[("standard_name", "longitude"), ("units", "degrees_east")],
        &col(|s| s.lon),
    )?;
    station_var(
        &mut f,
        path,
        "depth_from",
        &[
            ("long_name", "sensor depth, top"),
            ("units", "m"),
            ("positive", "down"),
        ],
        &col(|s| s.depth_from),
    )?;
    station_var(
        &mut f,
        path,
        "depth_to",
        &[
            ("long_name", "sensor depth, bottom"),
            ("units", "m"),
            ("positive", "down"),
        ],
        &col(|s| s.depth_to),
    )?;
    station_var(
        &mut f,
        path,
        "distance_km",
        &[
            (
                "long_name",
                "distance from the station to the matched land-cell centre",
            ),
            ("units", "km"),
        ],
        &col(|s| s.distance_km),
    )?;
    let u = r.units.as_str();
    for d in METRICS {
        let units = d.units.unwrap_or(u);
        let data: Vec<f64> = r.stations.iter().map(|s| (d.get)(&s.metrics)).collect();
        let long = d
            .long_name
            .replace("reference", "station")
            .replace("run", "model");
        station_var(
            &mut f,
            path,
            d.name,
            &[
                ("long_name", &long),
                ("units", units),
                ("coordinates", "lat lon station_name"),
            ],
            &data,
        )?;
    }
    for (name, long, pick) in [
        (
            "sm_insitu",
            "in-situ soil moisture (ISMN, accepted flags), nearest in time",
            true,
        ),
        (
            "sm_model",
            "model soil moisture at the matched cell, weighted over the sensor's layers",
            false,
        ),
    ] {
        let mut v = f
            .add_variable::<f64>(name, &["station", "time"])
            .map_err(var_err(path, name))?;
        v.set_fill_value(MAP_FILL).map_err(var_err(path, name))?;
        put_attrs(
            &mut v,
            path,
            name,
            &[
                ("long_name", long),
                ("units", u),
                ("coordinates", "time lat lon station_name"),
            ],
        )?;
        let data: Vec<f64> = r
            .stations
            .iter()
            .flat_map(|s| {
                if pick {
                    s.insitu.clone()
                } else {
                    s.model.clone()
                }
            })
            .map(|x| if x.is_finite() { x } else { MAP_FILL })
            .collect();
        v.put_values(&data, ..).map_err(var_err(path, name))?;
    }
    f.close().map_err(var_err(path, "(close)"))
}
