//! Physical constants of Noah 3.4.1, with the values the Fortran code uses (several routines
//! carry their own slightly different copies, e.g. two values of cp; we keep them distinct so
//! the fluxes match the reference).

/// Freezing point (K).
pub const TFREEZ: f64 = 273.15;
/// Latent heat of vaporisation (J kg-1).
pub const LVH2O: f64 = 2.501e6;
/// Latent heat of sublimation (J kg-1).
pub const LSUBS: f64 = 2.83e6;
/// Latent heat of fusion (J kg-1).
pub const LSUBF: f64 = 3.335e5;
/// Specific heat of air used for the sensible heat flux and canopy resistance (J kg-1 K-1).
pub const CP: f64 = 1004.5;
/// Specific heat of air inside the Penman routine (J kg-1 K-1).
pub const CP_PENMAN: f64 = 1004.6;
/// Gas constant of dry air (J kg-1 K-1).
pub const RD: f64 = 287.04;
/// Stefan-Boltzmann constant (W m-2 K-4).
pub const SIGMA: f64 = 5.67e-8;
/// Specific heat of liquid water (J kg-1 K-1).
pub const CPH2O: f64 = 4.218e3;
/// Specific heat of ice (J kg-1 K-1).
pub const CPICE: f64 = 2.106e3;
/// LVH2O / CP as used by Penman.
pub const ELCP: f64 = 2.4888e3;
/// Emissivity of snow.
pub const EMISSIVITY_SNOW: f64 = 0.95;
/// Number of soil layers of this implementation.
pub const NSOIL: usize = 4;
