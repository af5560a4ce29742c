//! Reading the background and the observed image of `landcycle image`.

use super::*;

pub(super) fn first_present(path: &Path, names: &[&str], flag: &str) -> anyhow::Result<String> {
    let file = netcdf::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    names
        .iter()
        .find(|n| file.variable(n).is_some())
        .map(|n| n.to_string())
        .with_context(|| {
            format!(
                "{}: none of {names:?} found; name the variable with {flag} (variables: {})",
                path.display(),
                file.variables()
                    .map(|v| v.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

/// The selector, with the top layer chosen when the variable has an unselected vertical
/// dimension and no layer was given.
pub(super) fn selector(
    path: &Path,
    var: &str,
    t: Option<usize>,
    layer: Option<usize>,
    index: &[String],
) -> anyhow::Result<Selector> {
    let mut sel = Selector {
        time_index: t,
        layer,
        index: index.to_vec(),
    };
    if layer.is_none() {
        let (file, dims) = var_dims(path, var)?;
        let named = |d: &str| index.iter().any(|s| s.split('=').next() == Some(d));
        if dims
            .iter()
            .any(|(d, _)| crate::commands::plot::is_vertical(&file, d) && !named(d))
        {
            sel.layer = Some(0);
        }
    }
    Ok(sel)
}

pub(super) fn same_axis(a: &[f64], b: &[f64], lon: bool) -> bool {
    let d = if a.len() > 1 {
        ((a[a.len() - 1] - a[0]) / (a.len() - 1) as f64).abs()
    } else {
        1.0
    };
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            let diff = if lon {
                let r = (x - y).rem_euclid(360.0);
                r.min(360.0 - r)
            } else {
                (x - y).abs()
            };
            diff <= 1e-4 * d
        })
}

/// "100×236 cells, lat 25.125..49.875, lon -124.875..-66.125 (step 0.25×0.25)".
pub(super) fn describe_grid(lat: &[f64], lon: &[f64]) -> String {
    let step = |c: &[f64]| {
        if c.len() > 1 {
            ((c[c.len() - 1] - c[0]) / (c.len() - 1) as f64).abs()
        } else {
            0.0
        }
    };
    format!(
        "{}×{} cells, lat {}..{}, lon {}..{} (step {}×{} degrees)",
        lat.len(),
        lon.len(),
        lat[0],
        lat[lat.len() - 1],
        lon[0],
        lon[lon.len() - 1],
        step(lat),
        step(lon)
    )
}

pub(super) fn read_background(a: &Args) -> anyhow::Result<Background> {
    let first = &a.background[0];
    let var = match &a.bg_var {
        Some(v) => v.clone(),
        None => first_present(
            first,
            &["SoilMoistV_member", "SoilMoistV", "swvl1"],
            "--bg-var",
        )?,
    };
    let mut fields: Vec<SelectedField> = Vec::new();
    for path in &a.background {
        let sel = selector(path, &var, a.bg_time_index, a.bg_layer, &a.bg_index)?;
        let (file, dims) = var_dims(path, &var)?;
        let member_dim = dims.iter().find(|(d, _)| {
            a.member_dim
                .as_deref()
                .map_or_else(|| is_member_dim(&file, d), |m| m == d)
                && !sel
                    .index
                    .iter()
                    .any(|s| s.split('=').next() == Some(d.as_str()))
        });
        match member_dim {
            Some((d, n)) => {
                for k in 0..*n {
                    let mut s = sel.clone();
                    s.index.push(format!("{d}={k}"));
                    fields.push(read_selected(path, &var, &s)?);
                }
            }
            None => fields.push(read_selected(path, &var, &sel)?),
        }
    }
    let f0 = fields[0].field.clone();
    for (k, f) in fields.iter().enumerate() {
        if !same_axis(&f.field.lat, &f0.lat, false) || !same_axis(&f.field.lon, &f0.lon, true) {
            bail!(
                "background member {k} is on another grid ({}) than member 0 ({})",
                describe_grid(&f.field.lat, &f.field.lon),
                describe_grid(&f0.lat, &f0.lon)
            );
        }
    }
    let (scale, _) = unit_factor(&var, f0.units.as_deref(), None, first, "--bg-var")?;
    Ok(Background {
        units: if scale == 1.0 {
            f0.units.clone()
        } else {
            Some("m3 m-3".into())
        },
        time: fields[0].time,
        selection: fields[0].fixed.clone(),
        members: fields
            .into_iter()
            .map(|f| f.field.values.iter().map(|v| v * scale).collect())
            .collect(),
        var,
        lat: f0.lat,
        lon: f0.lon,
    })
}

/// Factor to m³ m⁻³ (or the background's units): the option, else GLDAS mass per layer
/// through `obs::gridded::layer_of` (kg m⁻² / (thickness × 1000 kg m⁻³)), else 1; a field
/// in kg m⁻² that is not a known layer is refused.
pub(super) fn unit_factor(
    var: &str,
    units: Option<&str>,
    given: Option<f64>,
    path: &Path,
    flag: &str,
) -> anyhow::Result<(f64, String)> {
    if let Some(s) = given {
        return Ok((s, format!("multiplied by {s} (--obs-scale)")));
    }
    if let Some((top, bottom, true, _)) = crate::obs::gridded::layer_of(var) {
        let f = 1.0 / ((bottom - top) * 1000.0);
        return Ok((
            f,
            format!(
                "kg m-2 divided by {} kg m-2 (layer {top}-{bottom} m of water)",
                (bottom - top) * 1000.0
            ),
        ));
    }
    let u = units.unwrap_or("").replace(' ', "").to_ascii_lowercase();
    if u == "kgm-2" || u == "kg/m2" || u == "kgm**-2" {
        bail!(
            "{}: '{var}' is in kg m-2 per layer; give the factor to m3 m-3 with --obs-scale \
             (1 / (layer thickness in m × 1000)) or choose a volumetric variable with {flag}",
            path.display()
        );
    }
    Ok((1.0, "none".into()))
}

pub(super) fn read_observed(a: &Args, bg: &Background) -> anyhow::Result<Observed> {
    let var = match &a.obs_var {
        Some(v) => v.clone(),
        None => first_present(
            &a.obs,
            &["swvl1", "SoilMoi0_10cm_inst", "SoilMoistV"],
            "--obs-var",
        )?,
    };
    let sel = selector(&a.obs, &var, a.obs_time_index, a.obs_layer, &a.obs_index)?;
    let sf = read_selected(&a.obs, &var, &sel)?;
    let (scale, conversion) = unit_factor(
        &var,
        sf.field.units.as_deref(),
        a.obs_scale,
        &a.obs,
        "--obs-var",
    )?;
    let f = &sf.field;
    let same = same_axis(&f.lat, &bg.lat, false) && same_axis(&f.lon, &bg.lon, true);
    let values = if same {
        f.values.clone()
    } else if a.remap == Some(Remap::Bilinear) {
        remap_bilinear(f, &bg.lat, &bg.lon).with_context(|| {
            format!(
                "remapping the image {} ({}) to the background grid ({})",
                a.obs.display(),
                describe_grid(&f.lat, &f.lon),
                describe_grid(&bg.lat, &bg.lon)
            )
        })?
    } else {
        bail!(
            "the grids differ: background {} is on {}, image {} '{var}' on {}; give --remap bilinear \
             to interpolate the image to the background grid",
            a.background[0].display(),
            describe_grid(&bg.lat, &bg.lon),
            a.obs.display(),
            describe_grid(&f.lat, &f.lon)
        )
    };
    Ok(Observed {
        var,
        values: values.iter().map(|v| v * scale).collect(),
        time: sf.time,
        conversion,
        remapped: !same,
    })
}

/// Bilinear interpolation (`grid::remap`, renormalised over valid pixels) to every cell.
pub(super) fn remap_bilinear(
    f: &GriddedField,
    lat: &[f64],
    lon: &[f64],
) -> anyhow::Result<Vec<f64>> {
    let src = LatLonSource::new(f.lat.clone(), f.lon.clone())?;
    let targets: Vec<(f64, f64)> = lat
        .iter()
        .flat_map(|&y| lon.iter().map(move |&x| (y, x)))
        .collect();
    let w = RemapWeights::new(&src, &targets, RemapMethod::Bilinear)?;
    let s = w.slab();
    let nx = f.n_lon();
    let mut slab = Vec::with_capacity(s.len());
    for j in 0..s.lat_count {
        for i in 0..s.lon_count {
            slab.push(f.values[(s.lat_start + j) * nx + (s.lon_start + i) % nx]);
        }
    }
    Ok(w.apply(&slab)?)
}
