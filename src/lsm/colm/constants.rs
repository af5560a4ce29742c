//! Physical constants and tunable parameters of CoLM2014 (Dai et al. 2003; COLM.md §4).
//!
//! Values are those the reference build uses (double precision everywhere). The freezing
//! point is 273.16 K, not 273.15 K: CoLM's choice, kept so that phase change triggers where
//! the reference triggers it.

/// Freezing point of water (K).
pub const TFRZ: f64 = 273.16;
/// Latent heat of vaporisation (J kg-1).
pub const HVAP: f64 = 2.5104e6;
/// Latent heat of sublimation (J kg-1).
pub const HSUB: f64 = 2.8440e6;
/// Latent heat of fusion (J kg-1).
pub const HFUS: f64 = 0.3336e6;
/// Density of ice (kg m-3).
pub const DENICE: f64 = 917.0;
/// Density of liquid water (kg m-3).
pub const DENH2O: f64 = 1000.0;
/// Specific heat of ice (J kg-1 K-1).
pub const CPICE: f64 = 2117.27;
/// Specific heat of liquid water (J kg-1 K-1).
pub const CPLIQ: f64 = 4188.0;
/// Stefan–Boltzmann constant (W m-2 K-4).
pub const STEFNC: f64 = 5.67e-8;
/// von Kármán constant (-).
pub const VONKAR: f64 = 0.4;
/// Gravitational acceleration (m s-2).
pub const GRAV: f64 = 9.80616;
/// Thermal conductivity of air (W m-1 K-1).
pub const TKAIR: f64 = 0.023;
/// Thermal conductivity of ice (W m-1 K-1).
pub const TKICE: f64 = 2.290;
/// Thermal conductivity of liquid water (W m-1 K-1).
pub const TKWAT: f64 = 0.6;

/// Number of soil layers.
pub const NSOIL: usize = 10;
/// Maximum number of snow layers.
pub const MAXSNL: usize = 5;
/// Snow plus soil layers (CoLM's index range −4..10).
pub const NLAYER: usize = MAXSNL + NSOIL;

/// Tunable constants of CoLM2014 (`initialize.F90` §3.4 values as defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tunables {
    /// Roughness length of bare soil (m).
    pub zlnd: f64,
    /// Roughness length of snow (m).
    pub zsno: f64,
    /// Drag coefficient for soil under canopy (-).
    pub csoilc: f64,
    /// Maximum dew on leaves (mm per unit leaf area).
    pub dewmx: f64,
    /// Maximum saturated-area fraction of the TOPMODEL runoff (-).
    pub wtfact: f64,
    /// Factor that turns the first-layer temperature into a surface temperature (-).
    pub capr: f64,
    /// Weight of the old-time fluxes in the heat equation (0.5: Crank–Nicolson; the new-time
    /// fluxes get 1 − cnfac).
    pub cnfac: f64,
    /// Irreducible water saturation of snow (-).
    pub ssi: f64,
    /// Water impermeable when the effective porosity is below this (-).
    pub wimp: f64,
    /// Maximum ponding depth on the top soil layer (mm).
    pub pondmx: f64,
    /// Wilting-point matric potential (mm).
    pub smpmax: f64,
    /// Lower limit of the matric potential (mm).
    pub smpmin: f64,
    /// Maximum transpiration (mm s-1).
    pub trsmx0: f64,
    /// Rain/snow threshold above freezing (K).
    pub tcrit: f64,
}

impl Default for Tunables {
    fn default() -> Self {
        Self {
            zlnd: 0.01,
            zsno: 0.0024,
            csoilc: 0.004,
            dewmx: 0.1,
            wtfact: 0.38,
            capr: 0.34,
            cnfac: 0.5,
            ssi: 0.033,
            wimp: 0.05,
            pondmx: 10.0,
            smpmax: -1.5e5,
            smpmin: -1.0e8,
            trsmx0: 2.0e-4,
            tcrit: 2.5,
        }
    }
}

/// Specific heat of dry air at constant pressure (J kg-1 K-1).
pub const CPAIR: f64 = 1004.64;
/// Gas constant of dry air (J kg-1 K-1).
pub const RGAS: f64 = 287.04;
/// Gas constant of water vapour over gravity, R_w/g × 1000 (mm K-1): turns a matric
/// potential (mm) into a relative humidity exp(ψ/(R_w T/g)).
pub const ROVERG: f64 = 4.71047e4;
