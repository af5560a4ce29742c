//! The ALMA variables the ensemble driver writes to history files, and how each is
//! computed per member from the state and the fluxes accumulated over the output interval.

use crate::lsm::{LandModel, StepOutput};

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
    pub name: &'static str,
    pub long_name: &'static str,
    pub units: &'static str,
    pub standard_name: Option<&'static str>,
    /// True for variables with one value per soil layer.
    pub layered: bool,
    pub sampling: Sampling,
}

const fn var(
    name: &'static str,
    long_name: &'static str,
    units: &'static str,
    standard_name: Option<&'static str>,
    layered: bool,
    sampling: Sampling,
) -> HistoryVar {
    HistoryVar {
        name,
        long_name,
        units,
        standard_name,
        layered,
        sampling,
    }
}

/// Flux-type quantities accumulated each step (means over the output interval).
pub const FLUX_VARS: [HistoryVar; 9] = [
    var(
        "Qh",
        "sensible heat flux",
        "W m-2",
        Some("surface_upward_sensible_heat_flux"),
        false,
        Sampling::Mean,
    ),
    var(
        "Qle",
        "latent heat flux",
        "W m-2",
        Some("surface_upward_latent_heat_flux"),
        false,
        Sampling::Mean,
    ),
    var(
        "Qg",
        "ground heat flux",
        "W m-2",
        Some("downward_heat_flux_in_soil"),
        false,
        Sampling::Mean,
    ),
    var(
        "Qs",
        "surface runoff",
        "kg m-2 s-1",
        Some("surface_runoff_flux"),
        false,
        Sampling::Mean,
    ),
    var(
        "Qsb",
        "subsurface runoff",
        "kg m-2 s-1",
        Some("subsurface_runoff_flux"),
        false,
        Sampling::Mean,
    ),
    var(
        "Evap",
        "total evapotranspiration",
        "kg m-2 s-1",
        Some("water_evapotranspiration_flux"),
        false,
        Sampling::Mean,
    ),
    var(
        "Qsm",
        "snowmelt",
        "kg m-2 s-1",
        Some("surface_snow_melt_flux"),
        false,
        Sampling::Mean,
    ),
    var(
        "Rainf",
        "precipitation rate (perturbed forcing)",
        "kg m-2 s-1",
        Some("precipitation_flux"),
        false,
        Sampling::Mean,
    ),
    var(
        "SWdown",
        "downward shortwave radiation (perturbed forcing)",
        "W m-2",
        Some("surface_downwelling_shortwave_flux_in_air"),
        false,
        Sampling::Mean,
    ),
];

/// Instantaneous state variables.
pub const STATE_VARS: [HistoryVar; 7] = [
    var(
        "SoilMoist",
        "soil water content of each layer",
        "kg m-2",
        Some("mass_content_of_water_in_soil_layer"),
        true,
        Sampling::Point,
    ),
    var(
        "SoilMoistV",
        "volumetric soil moisture",
        "m3 m-3",
        Some("volume_fraction_of_condensed_water_in_soil"),
        true,
        Sampling::Point,
    ),
    var(
        "SoilTemp",
        "soil temperature",
        "K",
        Some("soil_temperature"),
        true,
        Sampling::Point,
    ),
    var(
        "AvgSurfT",
        "average surface (skin) temperature",
        "K",
        Some("surface_temperature"),
        false,
        Sampling::Point,
    ),
    var(
        "SWE",
        "snow water equivalent",
        "kg m-2",
        Some("surface_snow_amount"),
        false,
        Sampling::Point,
    ),
    var(
        "SnowDepth",
        "snow depth",
        "m",
        Some("surface_snow_thickness"),
        false,
        Sampling::Point,
    ),
    var(
        "CanopInt",
        "canopy interception storage",
        "kg m-2",
        Some("canopy_water_amount"),
        false,
        Sampling::Point,
    ),
];

/// Number of flux accumulators per member.
pub const N_FLUX: usize = FLUX_VARS.len();

/// Add one step's fluxes (and the forcing actually used) to a member's accumulator.
pub fn accumulate(acc: &mut [f64; N_FLUX], out: &StepOutput, precip: f64, swdown: f64) {
    let v = [
        out.qh, out.qle, out.qg, out.qs, out.qsb, out.evap, out.qsm, precip, swdown,
    ];
    for (a, x) in acc.iter_mut().zip(v) {
        *a += x;
    }
}

/// All history variables in output order: fluxes then states.
pub fn all_vars() -> Vec<HistoryVar> {
    FLUX_VARS.iter().chain(STATE_VARS.iter()).copied().collect()
}

/// Width (values per member and cell) of the packed output record for `nlayers` soil layers.
pub fn record_width(nlayers: usize) -> usize {
    all_vars()
        .iter()
        .map(|v| if v.layered { nlayers } else { 1 })
        .sum()
}

/// Pack one member's output record: flux means then state values, in [`all_vars`] order.
pub fn pack_record<M: LandModel>(
    model: &M,
    state: &M::State,
    acc: &[f64; N_FLUX],
    nsteps: usize,
    out: &mut Vec<f64>,
) {
    let n = nsteps.max(1) as f64;
    out.extend(acc.iter().map(|a| a / n));
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
}
