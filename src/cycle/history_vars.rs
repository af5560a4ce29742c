//! The variables the ensemble driver writes to history files (ALMA names, and LIS names on
//! request), and how each is computed per member from the state and the fluxes and forcing
//! accumulated over the output interval.

use crate::lsm::{Forcing, LandModel, StepOutput};

/// Whether a variable is an instantaneous state or a mean over the output interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampling {
    /// Value at the output time (`cell_methods = "time: point"`).
    Point,
    /// Mean over the output interval (`cell_methods = "time: mean"`).
    Mean,
}

/// Description of one history variable.
#[derive(Debug, Clone, Copy)]
pub struct HistoryVar {
    /// ALMA name; `None` for a variable offered only under LIS naming.
    pub name: Option<&'static str>,
    /// LIS name and units (`SoilMoist_inst`, `m^3 m-3`); `None` where LIS has no such output.
    pub lis: Option<(&'static str, &'static str)>,
    pub long_name: &'static str,
    pub units: &'static str,
    pub standard_name: Option<&'static str>,
    /// True for variables with one value per soil layer.
    pub layered: bool,
    pub sampling: Sampling,
}

const fn var(
    (name, lis): (&'static str, &'static str),
    long_name: &'static str,
    units: &'static str,
    standard_name: &'static str,
    layered: bool,
    sampling: Sampling,
) -> HistoryVar {
    HistoryVar {
        name: Some(name),
        lis: Some((lis, units)),
        long_name,
        units,
        standard_name: Some(standard_name),
        layered,
        sampling,
    }
}

use Sampling::{Mean, Point};

/// Interval means accumulated each step: model fluxes, then the (perturbed) forcing the
/// model saw. ALMA names and signs (Qh, Qle upward; Qg, SWnet, LWnet downward); LIS names
/// as in LIS's MODEL_OUTPUT_LIST.TBL (forcing echoes with `_f`).
#[rustfmt::skip]
pub const FLUX_VARS: [HistoryVar; 18] = [
    var(("Qh", "Qh_tavg"), "sensible heat flux", "W m-2", "surface_upward_sensible_heat_flux", false, Mean),
    var(("Qle", "Qle_tavg"), "latent heat flux", "W m-2", "surface_upward_latent_heat_flux", false, Mean),
    var(("Qg", "Qg_tavg"), "ground heat flux", "W m-2", "downward_heat_flux_in_soil", false, Mean),
    var(("Qs", "Qs_tavg"), "surface runoff", "kg m-2 s-1", "surface_runoff_flux", false, Mean),
    var(("Qsb", "Qsb_tavg"), "subsurface runoff", "kg m-2 s-1", "subsurface_runoff_flux", false, Mean),
    var(("Evap", "Evap_tavg"), "total evapotranspiration", "kg m-2 s-1", "water_evapotranspiration_flux", false, Mean),
    var(("Qsm", "Qsm_tavg"), "snowmelt", "kg m-2 s-1", "surface_snow_melt_flux", false, Mean),
    var(("SWnet", "Swnet_tavg"), "net shortwave radiation", "W m-2", "surface_net_downward_shortwave_flux", false, Mean),
    var(("LWnet", "Lwnet_tavg"), "net longwave radiation", "W m-2", "surface_net_downward_longwave_flux", false, Mean),
    var(("Albedo", "Albedo_tavg"), "surface albedo", "1", "surface_albedo", false, Mean),
    var(("Rainf", "Rainf_tavg"), "rainfall rate (perturbed forcing, liquid part)", "kg m-2 s-1", "rainfall_flux", false, Mean),
    var(("Snowf", "Snowf_tavg"), "snowfall rate (perturbed forcing, frozen part)", "kg m-2 s-1", "snowfall_flux", false, Mean),
    var(("Tair", "Tair_f_tavg"), "near-surface air temperature (forcing)", "K", "air_temperature", false, Mean),
    var(("Qair", "Qair_f_tavg"), "near-surface specific humidity (forcing)", "kg kg-1", "specific_humidity", false, Mean),
    var(("PSurf", "Psurf_f_tavg"), "surface pressure (forcing)", "Pa", "surface_air_pressure", false, Mean),
    var(("Wind", "Wind_f_tavg"), "near-surface wind speed (forcing)", "m s-1", "wind_speed", false, Mean),
    var(("SWdown", "SWdown_f_tavg"), "downward shortwave radiation (perturbed forcing)", "W m-2", "surface_downwelling_shortwave_flux_in_air", false, Mean),
    var(("LWdown", "LWdown_f_tavg"), "downward longwave radiation (perturbed forcing)", "W m-2", "surface_downwelling_longwave_flux_in_air", false, Mean),
];

/// Instantaneous state variables. ALMA `SoilMoist` is the water mass per layer and has no
/// LIS counterpart here; LIS `SoilMoist_inst` is the volumetric `SoilMoistV`.
pub const STATE_VARS: [HistoryVar; 7] = [
    HistoryVar {
        lis: None,
        ..var(
            ("SoilMoist", ""),
            "soil water content of each layer",
            "kg m-2",
            "mass_content_of_water_in_soil_layer",
            true,
            Point,
        )
    },
    HistoryVar {
        lis: Some(("SoilMoist_inst", "m^3 m-3")),
        ..var(
            ("SoilMoistV", ""),
            "volumetric soil moisture",
            "m3 m-3",
            "volume_fraction_of_condensed_water_in_soil",
            true,
            Point,
        )
    },
    var(
        ("SoilTemp", "SoilTemp_inst"),
        "soil temperature",
        "K",
        "soil_temperature",
        true,
        Point,
    ),
    var(
        ("AvgSurfT", "AvgSurfT_inst"),
        "average surface (skin) temperature",
        "K",
        "surface_temperature",
        false,
        Point,
    ),
    var(
        ("SWE", "SWE_inst"),
        "snow water equivalent",
        "kg m-2",
        "surface_snow_amount",
        false,
        Point,
    ),
    var(
        ("SnowDepth", "SnowDepth_inst"),
        "snow depth",
        "m",
        "surface_snow_thickness",
        false,
        Point,
    ),
    var(
        ("CanopInt", "CanopInt_inst"),
        "canopy interception storage",
        "kg m-2",
        "canopy_water_amount",
        false,
        Point,
    ),
];

/// Layered interval means: volumetric soil moisture averaged over the output interval
/// (LIS `SoilMoist_tavg`).
pub const MEAN_STATE_VARS: [HistoryVar; 1] = [HistoryVar {
    name: None,
    lis: Some(("SoilMoist_tavg", "m^3 m-3")),
    long_name: "volumetric soil moisture",
    units: "m3 m-3",
    standard_name: Some("volume_fraction_of_condensed_water_in_soil"),
    layered: true,
    sampling: Mean,
}];

/// Number of flux accumulators per member.
pub const N_FLUX: usize = FLUX_VARS.len();

/// Add one step's fluxes and the forcing actually used to a member's accumulator.
pub fn accumulate(acc: &mut [f32; N_FLUX], out: &StepOutput, f: &Forcing) {
    let snow = f.precipitation * f.frozen_precip_fraction;
    let v = [
        out.qh,
        out.qle,
        out.qg,
        out.qs,
        out.qsb,
        out.evap,
        out.qsm,
        out.swnet,
        out.lwnet,
        out.albedo,
        f.precipitation - snow,
        snow,
        f.air_temperature,
        f.specific_humidity,
        f.surface_pressure,
        f.wind_speed,
        f.shortwave_down,
        f.longwave_down,
    ];
    for (a, x) in acc.iter_mut().zip(v) {
        *a += x as f32;
    }
}

/// All history variables in record order: fluxes, states, then layered means.
pub fn all_vars() -> Vec<HistoryVar> {
    FLUX_VARS
        .iter()
        .chain(STATE_VARS.iter())
        .chain(MEAN_STATE_VARS.iter())
        .copied()
        .collect()
}

/// Width (values per member and cell) of the packed output record for `nlayers` soil layers.
pub fn record_width(nlayers: usize) -> usize {
    all_vars()
        .iter()
        .map(|v| if v.layered { nlayers } else { 1 })
        .sum()
}

/// Pack one member's output record in [`all_vars`] order: flux means, state values, then
/// the interval mean of volumetric soil moisture from `sm_acc` (sums over `nsteps`).
pub fn pack_record<M: LandModel>(
    model: &M,
    state: &M::State,
    (acc, sm_acc): (&[f32; N_FLUX], &[f32]),
    nsteps: usize,
    out: &mut Vec<f64>,
) {
    let n = nsteps.max(1) as f64;
    out.extend(acc.iter().map(|&a| f64::from(a) / n));
    // ALMA SoilMoist is the water mass per layer: θ × thickness × ρ_water, then θ itself.
    // θ is appended twice and the first copy turned into mass (no temporary vectors: this
    // runs for every member of every cell at every output time).
    let start = out.len();
    model.extend_soil_moisture(state, out);
    let nl = out.len() - start;
    out.extend_from_within(start..start + nl);
    let dz = model.soil_layer_thickness();
    let n_mass = nl.min(dz.len());
    for l in 0..n_mass {
        out[start + l] = out[start + nl + l] * dz[l] * 1000.0;
    }
    if n_mass < nl {
        out.drain(start + n_mass..start + nl);
    }
    model.extend_soil_temperature(state, out);
    out.push(model.skin_temperature(state));
    out.push(model.swe(state));
    out.push(model.snow_depth(state));
    out.push(model.canopy_water(state));
    if nsteps == 0 {
        // No step in the interval yet (an output at the start time): the mean is the state.
        out.extend_from_within(start + n_mass..start + n_mass + nl);
    } else {
        out.extend(sm_acc.iter().map(|&a| f64::from(a) / n));
    }
}
