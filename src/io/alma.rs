//! ALMA output variables with their CF metadata.
//!
//! Units follow ALMA (SI, fluxes per second, water in kg m-2). Standard names were checked
//! against the CF standard-name table (version 93). Soil moisture: ALMA's `SoilMoist` is the
//! water mass per layer in kg m-2, whose CF name is `mass_content_of_water_in_soil_layer`
//! (the layer is given by the `soil_layer` bounds). The volumetric form is offered as the
//! landcycle extension `SoilMoistV` (m3 m-3, `volume_fraction_of_condensed_water_in_soil`).

use super::history::{EnsembleStat, HistoryField, TimeMethod};

/// Metadata of one ALMA output variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlmaVariable {
    pub name: &'static str,
    pub long_name: &'static str,
    pub units: &'static str,
    pub standard_name: Option<&'static str>,
    /// States are instantaneous (`Point`), fluxes are interval means (`Mean`).
    pub time_method: TimeMethod,
    pub layered: bool,
}

impl AlmaVariable {
    /// A history field of this variable with the given statistic and full-grid data.
    pub fn field<'a>(&self, stat: EnsembleStat, data: &'a [f64]) -> HistoryField<'a> {
        HistoryField {
            name: self.name.to_string(),
            long_name: self.long_name.to_string(),
            units: self.units.to_string(),
            standard_name: self.standard_name.map(str::to_string),
            time_method: self.time_method,
            layered: self.layered,
            stat,
            data,
        }
    }
}

const fn v(
    name: &'static str,
    long_name: &'static str,
    units: &'static str,
    standard_name: Option<&'static str>,
    time_method: TimeMethod,
    layered: bool,
) -> AlmaVariable {
    AlmaVariable {
        name,
        long_name,
        units,
        standard_name,
        time_method,
        layered,
    }
}

use TimeMethod::{Mean, Point};

/// The variables landcycle writes (ALMA names; `SoilMoistV` is a landcycle extension).
#[rustfmt::skip]
pub const ALMA_VARIABLES: &[AlmaVariable] = &[
    // energy balance (interval means, ALMA signs: Qh, Qle upward; Qg into the ground)
    v("SWnet", "net shortwave radiation", "W m-2", Some("surface_net_downward_shortwave_flux"), Mean, false),
    v("LWnet", "net longwave radiation", "W m-2", Some("surface_net_downward_longwave_flux"), Mean, false),
    v("Qle", "latent heat flux", "W m-2", Some("surface_upward_latent_heat_flux"), Mean, false),
    v("Qh", "sensible heat flux", "W m-2", Some("surface_upward_sensible_heat_flux"), Mean, false),
    v("Qg", "ground heat flux", "W m-2", Some("downward_heat_flux_in_soil"), Mean, false),
    // water balance (interval means)
    v("Rainf", "rainfall rate", "kg m-2 s-1", Some("rainfall_flux"), Mean, false),
    v("Snowf", "snowfall rate", "kg m-2 s-1", Some("snowfall_flux"), Mean, false),
    v("Evap", "total evapotranspiration", "kg m-2 s-1", Some("water_evapotranspiration_flux"), Mean, false),
    v("Qs", "surface runoff", "kg m-2 s-1", Some("surface_runoff_flux"), Mean, false),
    v("Qsb", "subsurface runoff", "kg m-2 s-1", Some("subsurface_runoff_flux"), Mean, false),
    v("Qsm", "snowmelt", "kg m-2 s-1", Some("surface_snow_melt_flux"), Mean, false),
    // states (instantaneous at the valid time)
    v("AvgSurfT", "average surface temperature", "K", Some("surface_temperature"), Point, false),
    v("Albedo", "surface albedo", "1", Some("surface_albedo"), Mean, false),
    v("SWE", "snow water equivalent", "kg m-2", Some("surface_snow_amount"), Point, false),
    v("SnowDepth", "snow depth", "m", Some("surface_snow_thickness"), Point, false),
    v("CanopInt", "total canopy water storage", "kg m-2", Some("canopy_water_amount"), Point, false),
    v("SoilMoist", "soil moisture content of layer", "kg m-2", Some("mass_content_of_water_in_soil_layer"), Point, true),
    v("SoilMoistV", "volumetric soil moisture of layer", "m3 m-3", Some("volume_fraction_of_condensed_water_in_soil"), Point, true),
    v("SoilTemp", "soil temperature", "K", Some("soil_temperature"), Point, true),
    // forcing echoes (interval means of the forcing the model saw)
    v("Tair", "near-surface air temperature", "K", Some("air_temperature"), Mean, false),
    v("Qair", "near-surface specific humidity", "kg kg-1", Some("specific_humidity"), Mean, false),
    v("PSurf", "surface pressure", "Pa", Some("surface_air_pressure"), Mean, false),
    v("Wind", "near-surface wind speed", "m s-1", Some("wind_speed"), Mean, false),
    v("SWdown", "downward shortwave radiation", "W m-2", Some("surface_downwelling_shortwave_flux_in_air"), Mean, false),
    v("LWdown", "downward longwave radiation", "W m-2", Some("surface_downwelling_longwave_flux_in_air"), Mean, false),
];

/// Metadata of an ALMA variable by name.
pub fn lookup(name: &str) -> Option<&'static AlmaVariable> {
    ALMA_VARIABLES.iter().find(|v| v.name == name)
}
