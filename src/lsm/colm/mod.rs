//! The CoLM2014 soil-ground column (Dai et al. 2003, BAMS 84, 1013; Dai et al. 2004,
//! J. Climate 17, 2281; the CLM 3.0 technical note, Oleson et al. 2004, NCAR/TN-461), written
//! from the published equations and docs/colm.md, one physical process per file:
//!
//! - [`constants`]: physical constants, layer counts, tunables,
//! - [`geometry`]: the exponential 10-layer soil geometry,
//! - [`params`]: per-layer hydraulic and thermal parameters, [`params_text`]: their listing,
//!   [`pedotransfer`]: the same from texture (CoLM2014's ensemble-median rules),
//!   [`soil_colour`]: soil albedos of the colour class guessed from land cover,
//! - [`hydraulics`]: Clapp–Hornberger ψ and K with ice impedance,
//! - [`runoff`]: SIMTOP surface runoff with the saturated fraction,
//! - [`richards`]: the linearised implicit Richards equation,
//! - [`groundwater`]: aquifer, water table, drainage and soil-water corrections,
//! - [`root_fractions`]: Schenk–Jackson root profile per layer, [`vegetation_usgs`]: the
//!   USGS vegetation constants,
//! - [`root_uptake`]: root water-uptake weights and the soil-water stress factor,
//! - [`water`]: one soil-water step with its water balance,
//! - [`thermal`]: heat capacity and Johansen/Jordan conductivity,
//! - [`heat`]: Crank–Nicolson snow–soil conduction with a linearised surface flux,
//! - [`phase_change`]: melting and freezing from the energy residual,
//! - [`layers`]: the snow + soil layer column (CoLM's −4..10 index range) and its
//!   initial state,
//! - [`surface_layer`]: Monin–Obukhov profile functions (Zeng et al. 1998),
//! - [`ground_fluxes`]: bare-ground sensible and latent heat with their derivatives,
//! - [`precip_phase`]: rain/snow partition, new-snow density, precipitation temperature,
//! - [`new_snow`]: snowfall added, the first snow layer,
//! - [`snow_slab`]: a snow layer's enthalpy and the combination of two layers,
//! - [`snow_water`]: liquid water and percolation in the snow,
//! - [`snow_compaction`]: destructive metamorphism, overburden and melt compaction,
//! - [`snow_combine`], [`snow_divide`]: removal, combination and division of snow layers,
//! - [`snow_layers`]: the snow-layer bookkeeping of a step,
//! - [`snow_age`]: BATS snow age, [`snow_cover`]: snow cover and buried vegetation,
//! - [`interception`]: canopy interception, throughfall, drip and the wetted leaf fraction,
//! - [`two_stream`]: two-stream canopy radiation, sunlit and shaded absorption,
//! - [`ground_albedo`]: soil and BATS snow albedo, [`surface_albedo`]: the patch albedos,
//! - [`solar_split`]: the point driver's shortwave split, [`net_solar`]: absorbed shortwave,
//! - [`photosynthesis`]: C3/C4 leaf biochemistry, [`stomata`]: Ball–Berry conductance coupled
//!   to it, [`big_leaf`]: sunlit/shaded leaf-to-canopy scaling,
//! - [`saturation`]: saturation vapour pressure and humidity (Flatau et al. 1992),
//! - [`leaf_fluxes`]: the canopy-air network and each big leaf's fluxes and derivatives,
//!   [`leaf_temperature`]: the two-big-leaf temperature iteration,
//! - [`ground_humidity`]: ground surface humidity, emissivity, latent heat,
//!   [`energy_balance`]: one step's energy balance (ground, leaves, conduction, phase change),
//! - [`wet_bulb`]: wet-bulb temperature, [`zenith`]: solar zenith angle, [`phenology`]:
//!   empirical daily LAI,
//! - [`column_step`]: one column step in CoLM's order and the cold start,
//! - [`soil_class_texture`]: texture of a STATSGO soil class,
//! - [`land_model`]: the column behind `LandModel` (`run:model = 'colm'`).
//!
//! Pure physics: no I/O, no global state, f64 throughout (docs/colm.md lists what is built
//! and what is not).

// Layer loops index several arrays at once; the physics reads better with indices.
#![allow(clippy::needless_range_loop, clippy::too_many_arguments)]

pub mod big_leaf;
pub mod column_step;
pub mod constants;
pub mod energy_balance;
pub mod geometry;
pub mod ground_albedo;
pub mod ground_fluxes;
pub mod ground_humidity;
pub mod groundwater;
pub mod heat;
pub mod hydraulics;
pub mod interception;
pub mod land_model;
pub mod layers;
pub mod leaf_fluxes;
pub mod leaf_temperature;
pub mod net_solar;
pub mod new_snow;
pub mod params;
pub mod params_text;
pub mod pedotransfer;
pub mod phase_change;
pub mod phenology;
pub mod photosynthesis;
pub mod precip_phase;
pub mod richards;
pub mod root_fractions;
pub mod root_uptake;
pub mod runoff;
pub mod saturation;
pub mod snow_age;
pub mod snow_combine;
pub mod snow_compaction;
pub mod snow_cover;
pub mod snow_divide;
pub mod snow_layers;
pub mod snow_slab;
pub mod snow_water;
pub mod soil_class_texture;
pub mod soil_colour;
pub mod solar_split;
pub mod stomata;
pub mod surface_albedo;
pub mod surface_layer;
pub mod thermal;
pub mod tridiag;
pub mod two_stream;
pub mod vegetation_usgs;
pub mod water;
pub mod wet_bulb;
pub mod zenith;

pub use constants::{Tunables, MAXSNL, NLAYER, NSOIL};
pub use geometry::SoilGeometry;
pub use land_model::{ColmCell, ColmLsm, ColmState};
pub use params::SoilParams;
pub use params_text::{parse_params, ParamsListing, ParamsTextError};
pub use water::{SoilWater, WaterFluxes, WaterInput};
