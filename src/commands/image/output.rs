//! The diagnostics file of `landcycle image` (CF NetCDF).

use super::*;

pub(super) fn nc_err(path: &Path) -> impl Fn(netcdf::Error) -> anyhow::Error + '_ {
    move |e| anyhow::anyhow!("{}: writing NetCDF: {e}", path.display())
}

/// A 2-D (lat, lon) double field with `_FillValue` where NaN.
pub(super) fn put_map(
    f: &mut netcdf::FileMut,
    path: &Path,
    name: &str,
    long: &str,
    units: Option<&str>,
    v: &[f64],
    time: bool,
) -> anyhow::Result<()> {
    let e = nc_err(path);
    let mut var = f.add_variable::<f64>(name, &["lat", "lon"]).map_err(&e)?;
    var.set_fill_value(FILL).map_err(&e)?;
    var.put_attribute("long_name", long).map_err(&e)?;
    if let Some(u) = units {
        var.put_attribute("units", u).map_err(&e)?;
    }
    if time {
        var.put_attribute("coordinates", "time").map_err(&e)?;
    }
    let vals: Vec<f64> = v
        .iter()
        .map(|x| if x.is_finite() { *x } else { FILL })
        .collect();
    var.put_values(&vals, ..).map_err(&e)?;
    Ok(())
}

pub(super) fn put_flag_map(
    f: &mut netcdf::FileMut,
    path: &Path,
    name: &str,
    long: &str,
    meanings: &str,
    v: &[bool],
) -> anyhow::Result<()> {
    let e = nc_err(path);
    let mut var = f.add_variable::<i8>(name, &["lat", "lon"]).map_err(&e)?;
    var.put_attribute("long_name", long).map_err(&e)?;
    var.put_attribute("flag_values", vec![0i8, 1i8])
        .map_err(&e)?;
    var.put_attribute("flag_meanings", meanings).map_err(&e)?;
    let vals: Vec<i8> = v.iter().map(|&b| b as i8).collect();
    var.put_values(&vals, ..).map_err(&e)?;
    Ok(())
}

pub(super) fn put_scalar(
    f: &mut netcdf::FileMut,
    path: &Path,
    name: &str,
    long: &str,
    units: &str,
    v: f64,
) -> anyhow::Result<()> {
    let e = nc_err(path);
    let mut var = f.add_variable::<f64>(name, &[]).map_err(&e)?;
    var.set_fill_value(FILL).map_err(&e)?;
    var.put_attribute("long_name", long).map_err(&e)?;
    var.put_attribute("units", units).map_err(&e)?;
    var.put_value(if v.is_finite() { v } else { FILL }, ..)
        .map_err(&e)?;
    Ok(())
}

pub(super) fn put_series(
    f: &mut netcdf::FileMut,
    path: &Path,
    dim: &str,
    name: &str,
    long: &str,
    units: &str,
    v: &[f64],
) -> anyhow::Result<()> {
    let e = nc_err(path);
    let mut var = f.add_variable::<f64>(name, &[dim]).map_err(&e)?;
    var.put_attribute("long_name", long).map_err(&e)?;
    var.put_attribute("units", units).map_err(&e)?;
    var.put_values(v, ..).map_err(&e)?;
    Ok(())
}

pub(super) fn put_axis(
    f: &mut netcdf::FileMut,
    path: &Path,
    name: &str,
    std: &str,
    units: &str,
    axis: &str,
    v: &[f64],
) -> anyhow::Result<()> {
    let e = nc_err(path);
    let mut var = f.add_variable::<f64>(name, &[name]).map_err(&e)?;
    var.put_attribute("standard_name", std).map_err(&e)?;
    var.put_attribute("long_name", std).map_err(&e)?;
    var.put_attribute("units", units).map_err(&e)?;
    var.put_attribute("axis", axis).map_err(&e)?;
    var.put_values(v, ..).map_err(&e)?;
    Ok(())
}

/// Field units for variance-like quantities: CF needs a parseable unit string.
pub(super) fn squared_units(u: Option<&str>) -> Option<String> {
    u.map(|u| {
        if is_volumetric(u) {
            "1".to_string()
        } else {
            format!("({u})^2")
        }
    })
}

pub(super) fn is_volumetric(u: &str) -> bool {
    matches!(
        u.replace(' ', "").as_str(),
        "m3m-3" | "m**3m**-3" | "m3/m3" | "1"
    )
}

pub(super) fn write_output(path: &Path, a: &Args, d: &Diagnostics) -> anyhow::Result<()> {
    let e = nc_err(path);
    let mut f = netcdf::create(path).map_err(&e)?;
    let (bg, out) = (d.bg, d.out);
    let u = bg.units.as_deref();
    f.add_dimension("lat", bg.lat.len()).map_err(&e)?;
    f.add_dimension("lon", bg.lon.len()).map_err(&e)?;
    write_globals(&mut f, path, a, d)?;
    let ht = write_coords(&mut f, path, d)?;
    write_maps(&mut f, path, d, ht)?;
    write_scalars(&mut f, path, d)?;
    if let Some((log, stop, cg)) = &out.var {
        write_var_log(&mut f, path, log, *stop, *cg)?;
    }
    if let Some((bands, s0, s1)) = &out.enkf {
        put_map(
            &mut f,
            path,
            "background_spread",
            "background ensemble standard deviation",
            u,
            s0,
            ht,
        )?;
        put_map(
            &mut f,
            path,
            "analysis_spread",
            "analysis ensemble standard deviation",
            u,
            s1,
            ht,
        )?;
        write_bands(&mut f, path, bands, squared_units(u).as_deref())?;
    }
    Ok(())
}

/// Latitude and longitude axes and, when known, the image's valid time; whether it is known.
pub(super) fn write_coords(
    f: &mut netcdf::FileMut,
    path: &Path,
    d: &Diagnostics,
) -> anyhow::Result<bool> {
    let e = nc_err(path);
    let (bg, obs) = (d.bg, d.obs);
    put_axis(f, path, "lat", "latitude", "degrees_north", "Y", &bg.lat)?;
    put_axis(f, path, "lon", "longitude", "degrees_east", "X", &bg.lon)?;
    let time = obs.time.or(bg.time);
    if let Some(t) = time {
        let mut v = f.add_variable::<f64>("time", &[]).map_err(&e)?;
        v.put_attribute("standard_name", "time").map_err(&e)?;
        v.put_attribute("long_name", "valid time of the observed image")
            .map_err(&e)?;
        v.put_attribute("units", "seconds since 1970-01-01 00:00:00")
            .map_err(&e)?;
        v.put_attribute("calendar", "standard").map_err(&e)?;
        v.put_value(t.and_utc().timestamp() as f64, ..)
            .map_err(&e)?;
    }
    Ok(time.is_some())
}

/// The gridded fields: image, background, analysis, increment, innovation and masks.
pub(super) fn write_maps(
    f: &mut netcdf::FileMut,
    path: &Path,
    d: &Diagnostics,
    ht: bool,
) -> anyhow::Result<()> {
    let (bg, obs, out) = (d.bg, d.obs, d.out);
    let u = bg.units.as_deref();
    let xb = mean_of(&bg.members);
    let inc: Vec<f64> = out.analysis.iter().zip(&xb).map(|(x, b)| x - b).collect();
    let innov: Vec<f64> = (0..xb.len())
        .map(|i| {
            if d.cmp[i] {
                obs.values[i] - xb[i]
            } else {
                f64::NAN
            }
        })
        .collect();
    put_map(
        f,
        path,
        "background",
        "background (ensemble mean)",
        u,
        &xb,
        ht,
    )?;
    put_map(
        f,
        path,
        "analysis",
        "analysis (ensemble mean)",
        u,
        &out.analysis,
        ht,
    )?;
    put_map(
        f,
        path,
        "increment",
        "analysis increment (analysis - background)",
        u,
        &inc,
        ht,
    )?;
    put_map(
        f,
        path,
        "observed_image",
        "observed image on the background grid",
        u,
        &obs.values,
        ht,
    )?;
    put_map(
        f,
        path,
        "innovation",
        "innovation (image - background) on compared cells",
        u,
        &innov,
        ht,
    )?;
    put_flag_map(
        f,
        path,
        "land_mask",
        "analysed cells (finite background)",
        "not_land land",
        d.land,
    )?;
    put_flag_map(
        f,
        path,
        "image_mask",
        "land cells with a valid image pixel (compared)",
        "no_image image",
        d.cmp,
    )?;
    Ok(())
}

/// Scores against the image and the mask's size.
pub(super) fn write_scalars(
    f: &mut netcdf::FileMut,
    path: &Path,
    d: &Diagnostics,
) -> anyhow::Result<()> {
    let (bg, out) = (d.bg, d.out);
    let u = bg.units.as_deref();
    let su = u.unwrap_or("1");
    put_scalar(
        f,
        path,
        "scc_background",
        "spatial correlation of background and image",
        "1",
        d.scc.0,
    )?;
    put_scalar(
        f,
        path,
        "scc_analysis",
        "spatial correlation of analysis and image",
        "1",
        d.scc.1,
    )?;
    put_scalar(
        f,
        path,
        "rmse_background",
        "RMSE of background against image",
        su,
        d.rmse.0,
    )?;
    put_scalar(
        f,
        path,
        "rmse_analysis",
        "RMSE of analysis against image",
        su,
        d.rmse.1,
    )?;
    put_scalar(
        f,
        path,
        "compared_cells",
        "cells compared (land with a valid image pixel)",
        "1",
        d.n_cmp as f64,
    )?;
    put_scalar(
        f,
        path,
        "kept_coefficients",
        "curvelet coefficient units kept by the image mask",
        "1",
        out.kept as f64,
    )?;
    put_scalar(
        f,
        path,
        "total_coefficients",
        "curvelet coefficient units of the extended grid",
        "1",
        out.total as f64,
    )?;
    Ok(())
}

pub(super) fn write_globals(
    f: &mut netcdf::FileMut,
    path: &Path,
    a: &Args,
    d: &Diagnostics,
) -> anyhow::Result<()> {
    let e = nc_err(path);
    let files: Vec<String> = a
        .background
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let method = match a.method {
        Method::Var => "var",
        Method::EnkfLike => "enkf_like",
    };
    let attrs: Vec<(&str, String)> = vec![
        ("Conventions", "CF-1.8".into()),
        ("title", format!("landcycle image analysis ({method})")),
        ("source", format!("landcycle {}", env!("CARGO_PKG_VERSION"))),
        ("history", std::env::args().collect::<Vec<_>>().join(" ")),
        ("method", method.into()),
        ("background_files", files.join(" ")),
        ("background_variable", d.bg.var.clone()),
        ("background_selection", d.bg.selection.join(", ")),
        ("background_members", d.bg.members.len().to_string()),
        ("observation_file", a.obs.display().to_string()),
        ("observation_variable", d.obs.var.clone()),
        ("observation_conversion", d.obs.conversion.clone()),
        (
            "observation_remapped",
            if d.obs.remapped {
                "bilinear"
            } else {
                "no (same grid)"
            }
            .into(),
        ),
        ("b_source", d.out.b_source.clone()),
        ("periodic_lon", d.periodic.to_string()),
        ("gap_policy", format!("{:?}", a.gap_policy).to_lowercase()),
    ];
    for (k, v) in attrs {
        f.add_attribute(k, v.as_str()).map_err(&e)?;
    }
    let nums: [(&str, f64); 5] = [
        ("error_sd", a.error_sd),
        ("keep_fraction", a.keep_fraction),
        ("weight", a.weight),
        ("b_inflation", a.b_inflation),
        ("error_corr_km", a.error_corr_km),
    ];
    for (k, v) in nums {
        f.add_attribute(k, v).map_err(&e)?;
    }
    Ok(())
}

pub(super) fn write_var_log(
    f: &mut netcdf::FileMut,
    path: &Path,
    log: &[IterLog],
    stop: StopReason,
    cg: usize,
) -> anyhow::Result<()> {
    let e = nc_err(path);
    f.add_dimension("iteration", log.len()).map_err(&e)?;
    {
        let mut v = f
            .add_variable::<i32>("iteration", &["iteration"])
            .map_err(&e)?;
        v.put_attribute("long_name", "CG iteration (0 = background)")
            .map_err(&e)?;
        v.put_attribute("units", "1").map_err(&e)?;
        let it: Vec<i32> = log.iter().map(|l| l.iteration as i32).collect();
        v.put_values(&it, ..).map_err(&e)?;
    }
    let col = |g: fn(&IterLog) -> f64| log.iter().map(g).collect::<Vec<f64>>();
    put_series(
        f,
        path,
        "iteration",
        "cost",
        "cost function J",
        "1",
        &col(|l| l.cost),
    )?;
    put_series(
        f,
        path,
        "iteration",
        "grad_norm",
        "norm of the gradient of J with respect to the increment",
        "1",
        &col(|l| l.grad_norm),
    )?;
    put_series(
        f,
        path,
        "iteration",
        "grad_norm_control",
        "norm of the gradient of J in control space (CG residual)",
        "1",
        &col(|l| l.grad_norm_control),
    )?;
    let mut v = f.add_variable::<i8>("stop_reason", &[]).map_err(&e)?;
    v.put_attribute("long_name", "why the minimisation stopped")
        .map_err(&e)?;
    v.put_attribute("flag_values", vec![0i8, 1, 2])
        .map_err(&e)?;
    v.put_attribute("flag_meanings", "converged max_iter zero_rhs")
        .map_err(&e)?;
    v.put_attribute("cg_iterations", cg as i32).map_err(&e)?;
    let code = match stop {
        StopReason::Converged => 0i8,
        StopReason::MaxIter => 1,
        StopReason::ZeroRhs => 2,
    };
    v.put_value(code, ..).map_err(&e)?;
    Ok(())
}

pub(super) fn write_bands(
    f: &mut netcdf::FileMut,
    path: &Path,
    bands: &[BandStats],
    vu: Option<&str>,
) -> anyhow::Result<()> {
    let e = nc_err(path);
    f.add_dimension("band", bands.len()).map_err(&e)?;
    let col = |g: fn(&BandStats) -> f64| bands.iter().map(g).collect::<Vec<f64>>();
    let vu = vu.unwrap_or("1");
    put_series(
        f,
        path,
        "band",
        "band_scale",
        "curvelet scale of the band (0 = coarsest)",
        "1",
        &col(|b| b.scale as f64),
    )?;
    put_series(
        f,
        path,
        "band",
        "band_angle",
        "angle index of the band within its scale",
        "1",
        &col(|b| b.angle as f64),
    )?;
    put_series(
        f,
        path,
        "band",
        "band_mean_b",
        "mean background variance per coefficient",
        vu,
        &col(|b| b.mean_b),
    )?;
    put_series(
        f,
        path,
        "band",
        "band_mean_r",
        "mean image error variance per coefficient",
        vu,
        &col(|b| b.mean_r),
    )?;
    put_series(
        f,
        path,
        "band",
        "band_mean_gain",
        "mean gain over the updated coefficients",
        "1",
        &col(|b| b.mean_gain),
    )?;
    put_series(
        f,
        path,
        "band",
        "band_updated",
        "updated real coefficients",
        "1",
        &col(|b| b.updated as f64),
    )?;
    Ok(())
}
