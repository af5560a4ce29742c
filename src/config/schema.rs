//! The namelist schema: every group and key with type, unit, default and meaning.
//!
//! This table is the single source of truth: [`super::Config::load`] fills defaults from
//! it, `landcycle check` prints keys in its order, the fingerprint covers the keys marked
//! here, and docs/namelist.md is generated from it ([`render_markdown`]; a test keeps the
//! file in step).

/// The default of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    /// The key must be given.
    Required,
    /// Default value in namelist syntax.
    Value(&'static str),
    /// The key may be left out; the text says what happens then.
    Unset(&'static str),
}

/// One key of the schema.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    pub group: &'static str,
    pub key: &'static str,
    /// Value type as a reader sees it ("integer", "real array", "'a' or 'b'", ...).
    pub kind: &'static str,
    /// Physical unit ("" when dimensionless or not a quantity).
    pub unit: &'static str,
    pub default: DefaultValue,
    pub meaning: &'static str,
    /// Whether the key enters [`super::Config::fingerprint`].
    pub fingerprint: bool,
}

/// One namelist group.
#[derive(Debug, Clone, Copy)]
pub struct GroupSpec {
    pub name: &'static str,
    /// Whether the group must be present (it has required keys).
    pub required: bool,
    pub meaning: &'static str,
}

pub const GROUPS: &[GroupSpec] = &[
    GroupSpec {
        name: "run",
        required: true,
        meaning: "Run period, cycling, ensemble, cold start and history output.",
    },
    GroupSpec {
        name: "domain",
        required: true,
        meaning: "The land domain: static fields file and land-model parameter tables.",
    },
    GroupSpec {
        name: "forcing",
        required: false,
        meaning: "The data atmosphere: gridded forcing files, variable names and units. \
                  Required with `coupler:mode = 'files'` (the default) and read by `landcycle \
                  atm replay`; in modes 'exchange', 'mpmd' and 'wrf' it may be left out \
                  (interval_hours, forcing_height and sw_zenith_weighting then take their \
                  defaults).",
    },
    GroupSpec {
        name: "perturbation",
        required: false,
        meaning: "Ensemble perturbations of forcing and soil-moisture state (AR(1) in time, \
                  cross-correlated, clipped, GMAO/LIS style). May be left out entirely.",
    },
    GroupSpec {
        name: "restart",
        required: false,
        meaning: "Restart files. May be left out entirely.",
    },
    GroupSpec {
        name: "bucket",
        required: false,
        meaning:
            "The bucket model (run:model = 'bucket', docs/bucket.md): a toy N-layer soil-water \
                  bucket without snow or energy balance, for interface and fast multi-layer \
                  assimilation tests, not for science. Read only when run:model = 'bucket'; its \
                  keys enter the fingerprint only then, so Noah fingerprints are unchanged.",
    },
    GroupSpec {
        name: "da",
        required: false,
        meaning: "Soil-moisture data assimilation inside the cycle (SMAP and ASCAT, 1-D EnKF per \
                  cell, docs/assimilation.md). May be left out entirely (open loop). No key of \
                  this group enters the fingerprint, so an open-loop spin-up restart can start an \
                  assimilation run and options can change between cycles.",
    },
    GroupSpec {
        name: "nrt",
        required: false,
        meaning: "Near-real-time scheduling of `landcycle nrt` (docs/operations.md): when a cycle \
                  may run, when its observation file list is frozen, and the limits of one \
                  invocation. Read only by `landcycle nrt`; operational, so no key of this group \
                  enters the fingerprint and existing namelists and restarts are unaffected.",
    },
    GroupSpec {
        name: "image",
        required: false,
        meaning: "Curvelet image analysis of the surface soil-moisture field at each window end \
                  (docs/image.md): the surface layer(s) of every member are gathered by global \
                  id, analysed against an observation image (variational or EnKF-like) and the \
                  increments scattered back. May be left out (no image analysis). As with \
                  `&da`, no key enters the fingerprint.",
    },
    GroupSpec {
        name: "coupler",
        required: false,
        meaning: "Coupling with an atmosphere (docs/coupling.md): where the forcing records come \
                  from (data files, possibly a forecast archive, or an exchange directory) and \
                  the land state exported to the atmosphere. May be left out (data files of \
                  `&forcing`, no export). Transport and timing only: no key enters the \
                  fingerprint.",
    },
];

/// Groups of the run namelist that other commands read (they are typed there, not here),
/// with the command that reads each: a group in neither list is a misspelling.
pub const OTHER_GROUPS: &[(&str, &str)] =
    &[("synth", "landcycle synth"), ("osse", "landcycle osse")];

use DefaultValue::{Required, Unset, Value};

const fn k(
    group: &'static str,
    key: &'static str,
    kind: &'static str,
    unit: &'static str,
    default: DefaultValue,
    meaning: &'static str,
    fingerprint: bool,
) -> KeySpec {
    KeySpec {
        group,
        key,
        kind,
        unit,
        default,
        meaning,
        fingerprint,
    }
}

#[rustfmt::skip]
pub const SCHEMA: &[KeySpec] = &[
    // &run
    k("run", "start", "date-time", "UTC", Required,
      "Start of the run: 'YYYY-MM-DD_HH:MM:SS', 'YYYY-MM-DDTHH:MM:SS' or 'YYYYMMDDHH'.", false),
    k("run", "end", "date-time", "UTC", Required,
      "End of the run (after start; the run length must be a whole number of windows).", false),
    k("run", "model", "'noah', 'colm' or 'bucket'", "", Value("'noah'"),
      "Land-surface model: Noah LSM 3.4.1 (4 soil layers), CoLM2014's soil-ground column \
       (10 fixed soil layers, USGS vegetation and STAS soil classes, docs/colm.md) or the toy \
       bucket of docs/bucket.md (layers from bucket:layer_thickness).", true),
    k("run", "timestep", "integer", "s", Value("900"),
      "Model time step; must divide the cycle window.", true),
    k("run", "window_hours", "integer", "h", Value("6"),
      "Length of one assimilation cycle window.", true),
    k("run", "ensemble_size", "integer", "", Value("20"), "Number of ensemble members (>= 1).", true),
    k("run", "seed", "integer (0 to 2^64-1)", "", Value("1"),
      "Seed of all random streams (perturbations).", true),
    k("run", "rundir", "path", "", Value("'rundir'"),
      "Run directory for history output and restarts.", false),
    k("run", "initial_restart", "path", "",
      Unset("cold start from the values below"),
      "Restart file to start from instead of a cold start.", false),
    k("run", "cold_start_soil_moisture", "real array (one per soil layer)", "m3 m-3",
      Value("0.30, 0.30, 0.30, 0.30"),
      "Volumetric soil moisture of each soil layer at a cold start (0 < value <= 1).", true),
    k("run", "cold_start_soil_moisture_std", "real array (one per soil layer)", "m3 m-3",
      Unset("no initial spread: every member starts from cold_start_soil_moisture"),
      "Initial ensemble spread at a cold start: member m of a cell starts from \
       cold_start_soil_moisture + std * z, one standard normal z per cell and member shared by \
       all layers (a profile-wide wetness error; see cold_start_layer_correlation), clipped at perturbation:std_normal_max, \
       de-meaned over the ensemble when perturbation:remove_ensemble_mean is on, and bounded \
       by the soil's dry limit and porosity. Keyed by (seed, cell id, member), so independent \
       of the decomposition.", true),
    k("run", "cold_start_soil_moisture_corr_km", "real", "km", Value("0.0"),
      "Correlation length of the initial spread between cells (Gaussian covariance, the \
       FFT field generator of the perturbations): 0 draws z independently per cell; > 0 \
       draws one spatially correlated field per member, so a cold start that is too wet or \
       too dry everywhere is an error the ensemble knows to be large-scale. On a WPS domain the \
       field uses the projection spacing DX, DY.", true),
    k("run", "cold_start_layer_correlation", "real", "", Value("1.0"),
      "Correlation of the initial spread between adjacent soil layers (0 <= value <= 1): layer \
       1 gets the deviate z_1 described under cold_start_soil_moisture_std, layer l the AR(1) \
       z_l = rho z_(l-1) + sqrt(1 - rho^2) w_l with w_l an independent deviate (or field, with \
       cold_start_soil_moisture_corr_km > 0) keyed by the layer index as well, so layers l and \
       l + k correlate rho^k. 1 is one profile-wide error per cell and member (the draw is then \
       exactly the single one); 0 makes the layers' initial errors independent. Not in the \
       fingerprint: it shapes only the cold start, and a restart carries the states.", false),
    k("run", "cold_start_temperature", "real", "K", Value("285.0"),
      "Soil, skin and canopy temperature at a cold start.", true),
    k("run", "history_interval_hours", "integer", "h", Value("3"),
      "Interval between history outputs (a multiple of the time step).", false),
    k("run", "history_members", "logical", "", Value(".false."),
      "Write every member to history; .false. writes ensemble mean and spread only.", false),
    k("run", "history_compression", "integer (0 to 9)", "", Value("1"),
      "Deflate level of history variables, with shuffle (0 = uncompressed). 1, the default as \
       in CMOR for CMIP6, deflates at about half the CPU of 4 for files about 10 % larger \
       (docs/io.md).", false),
    k("run", "history_variables", "string array", "", Unset("every variable of history_naming"),
      "Variables written to history (names of history_naming, docs/io.md); ensemble spread or \
       members follow history_members.", false),
    k("run", "history_naming", "'alma' or 'lis'", "", Value("'alma'"),
      "Names and dimensions of history files: ALMA (SoilMoist in kg m-2, SoilMoistV in m3 m-3) \
       or NASA LIS (SoilMoist_inst, SoilMoist_tavg in m^3 m-3, Qle_tavg, north_south, \
       east_west, SoilMoist_profiles).", false),
    // &domain
    k("domain", "static_file", "path", "", Required,
      "NetCDF file with the grid, land mask and static fields.", false),
    k("domain", "static_format", "'landcycle' or 'geo_em'", "", Value("'landcycle'"),
      "Layout of static_file: a landcycle static file or a WPS geo_em file.", true),
    k("domain", "vegetation_dataset", "'USGS' or 'MODIFIED_IGBP_MODIS_NOAH'", "",
      Unset("taken from the static file (geo_em MMINLU attribute), else 'USGS'"),
      "Vegetation classification of the vegetation classes in the static file.", true),
    k("domain", "parameter_tables", "path (directory)", "",
      Unset("the tables built into landcycle"),
      "Directory holding WRF/Noah VEGPARM.TBL, SOILPARM.TBL and GENPARM.TBL.", false),
    // &forcing
    k("forcing", "directory", "path (directory)", "",
      Unset("required with coupler:mode = 'files'; not read in the other modes"),
      "Directory holding the forcing files.", false),
    k("forcing", "file_template", "string (strftime pattern)", "",
      Unset("required with coupler:mode = 'files'; not read in the other modes"),
      "File name of the forcing valid at a time, e.g. 'GLDAS_NOAH025_3H.A%Y%m%d.%H%M.021.nc4'.", true),
    k("forcing", "interval_hours", "integer", "h", Value("3"), "Interval between forcing files.", true),
    k("forcing", "tair_var", "string", "", Value("'Tair_f_inst'"), "Variable name of air temperature.", true),
    k("forcing", "tair_units", "string", "", Value("'K'"), "Expected units of air temperature.", true),
    k("forcing", "qair_var", "string", "", Value("'Qair_f_inst'"), "Variable name of specific humidity.", true),
    k("forcing", "qair_units", "string", "", Value("'kg/kg'"), "Expected units of specific humidity.", true),
    k("forcing", "psurf_var", "string", "", Value("'Psurf_f_inst'"), "Variable name of surface pressure.", true),
    k("forcing", "psurf_units", "string", "", Value("'Pa'"), "Expected units of surface pressure.", true),
    k("forcing", "wind_var", "string", "", Value("'Wind_f_inst'"), "Variable name of wind speed.", true),
    k("forcing", "wind_units", "string", "", Value("'m/s'"), "Expected units of wind speed.", true),
    k("forcing", "rainf_var", "string", "", Value("'Rainf_f_tavg'"),
      "Variable name of total precipitation rate.", true),
    k("forcing", "rainf_units", "string", "", Value("'kg m-2 s-1'"),
      "Expected units of total precipitation rate.", true),
    k("forcing", "swdown_var", "string", "", Value("'SWdown_f_tavg'"),
      "Variable name of downward shortwave radiation.", true),
    k("forcing", "swdown_units", "string", "", Value("'W m-2'"),
      "Expected units of downward shortwave radiation.", true),
    k("forcing", "lwdown_var", "string", "", Value("'LWdown_f_tavg'"),
      "Variable name of downward longwave radiation.", true),
    k("forcing", "lwdown_units", "string", "", Value("'W m-2'"),
      "Expected units of downward longwave radiation.", true),
    k("forcing", "forcing_height", "real", "m", Value("10.0"),
      "Height above the surface of the forcing air temperature, humidity and wind.", true),
    k("forcing", "sw_zenith_weighting", "logical", "", Value(".true."),
      "Interpolate shortwave in time weighted by the cosine of the solar zenith angle.", true),
    k("forcing", "remap", "'bilinear' or 'nearest'", "", Value("'bilinear'"),
      "Remapping of forcing to the land grid.", true),
    // &perturbation
    k("perturbation", "perturb_forcing", "logical", "", Value(".true."), "Perturb the forcing.", true),
    k("perturbation", "perturb_state", "logical", "", Value(".true."),
      "Perturb the soil-moisture state.", true),
    k("perturbation", "interval_seconds", "integer", "s", Value("10800"),
      "Perturbation interval (a multiple of the time step); perturbations are held between \
       perturbation times and the AR(1) coefficient is exp(-interval/tau).", true),
    k("perturbation", "std_normal_max", "real", "", Value("2.5"),
      "Clip standard-normal perturbations to +- this value (> 0).", true),
    k("perturbation", "remove_ensemble_mean", "logical", "", Value(".true."),
      "Remove the ensemble mean of the perturbations in each cell.", true),
    k("perturbation", "forcing_vars", "string array: 'tair', 'qair', 'psurf', 'wind', 'rainf', \
       'swdown', 'lwdown'", "", Value("'swdown', 'lwdown', 'rainf'"),
      "Perturbed forcing variables (no repeats).", true),
    k("perturbation", "forcing_types", "string array: 'multiplicative' or 'additive'", "",
      Value("'multiplicative', 'additive', 'multiplicative'"),
      "Kind of perturbation of each forcing variable (multiplicative is lognormal with mean 1).", true),
    k("perturbation", "forcing_std", "real array", "variable's unit (additive), 1 (multiplicative)",
      Value("0.3, 50.0, 0.5"),
      "Standard deviation of the perturbation of each forcing variable (>= 0).", true),
    k("perturbation", "forcing_tau_hours", "real array", "h", Value("24.0, 24.0, 24.0"),
      "AR(1) time scale of each forcing variable (> 0).", true),
    k("perturbation", "forcing_corr", "real array (n x n, row-major)", "",
      Value("1.0, -0.5, -0.8, -0.5, 1.0, 0.5, -0.8, 0.5, 1.0"),
      "Cross-correlation of the forcing perturbations: symmetric, unit diagonal, positive definite.", true),
    k("perturbation", "spatial_corr_km", "real", "km", Value("0.0"),
      "Spatial correlation length of the perturbation fields (0 = spatially uncorrelated).", true),
    k("perturbation", "state_std", "real array (one per soil layer)", "m3 m-3 per day",
      Value("0.01, 0.006, 0.003, 0.0015"),
      "Standard deviation of the additive soil-moisture perturbation per layer, as a rate per \
       day (>= 0): each state perturbation time adds sigma * y * state_interval_seconds / 86400, \
       the GMAO/LIS reading of prognostic perturbations as a perturbation flux.", true),
    k("perturbation", "state_tau_hours", "real", "h", Value("12.0"),
      "AR(1) time scale of the soil-moisture perturbations (> 0).", true),
    k("perturbation", "state_interval_seconds", "integer", "s", Value("10800"),
      "Interval of the soil-moisture state perturbations (a multiple of the time step): one \
       additive increment per interval, AR(1) coefficient exp(-interval/tau) (GMAO/LIS use 3 h).", true),
    k("perturbation", "state_corr", "real array (layers x layers, row-major)", "",
      Value("1.0, 0.6, 0.4, 0.2, 0.6, 1.0, 0.6, 0.4, 0.4, 0.6, 1.0, 0.6, 0.2, 0.4, 0.6, 1.0"),
      "Vertical correlation of the soil-moisture perturbations: symmetric, unit diagonal, \
       positive definite.", true),
    // &restart
    k("restart", "keep", "integer", "", Value("4"),
      "Number of most recent restarts to keep in the run directory (0 = keep all).", false),
    // &bucket
    k("bucket", "layer_thickness", "real array (1 to 20 values)", "m",
      Unset("required when run:model = 'bucket', not read otherwise"),
      "Soil layer thicknesses of the bucket, top first (each > 0); their number is the layer \
       count, which cold_start_soil_moisture, cold_start_soil_moisture_std, \
       perturbation:state_std and perturbation:state_corr must match.", true),
    // &da
    k("da", "enabled", "logical", "", Value(".false."),
      "Assimilate soil-moisture observations; .false. runs the open loop.", false),
    k("da", "sensors", "string array: 'smap', 'ascat'", "", Value("'smap'"),
      "Sensors to assimilate (no repeats); their order is the order of sequential assimilation.", false),
    k("da", "smap_directory", "path (directory)", "", Value("'obs/smap'"),
      "Directory holding SMAP SPL2SMP granules. A missing directory or no matching file runs \
       the window as open loop with a warning.", false),
    k("da", "smap_pattern", "string (strftime pattern with * and ? wildcards)", "",
      Value("'SMAP_L2_SM_P_*_%Y%m%dT*.h5'"),
      "File names of SMAP granules. strftime fields are expanded for every day from the day \
       before the window start to the window end, then * and ? match any text or character; \
       only observations whose time falls in the window are used.", false),
    k("da", "smap_error_sd", "real", "m3 m-3", Value("0.02"),
      "Observation error standard deviation of SMAP (> 0).", false),
    k("da", "smap_bias_correction", "'none', 'cdf' or 'anomaly'", "", Value("'none'"),
      "Bias correction of SMAP: none, monthly CDF matching, or monthly anomaly correction.", false),
    k("da", "smap_climatology", "path", "", Unset("no climatology (bias correction must be 'none')"),
      "Climatology NetCDF (landcycle climatology) on the model grid for SMAP bias correction.", false),
    k("da", "smap_footprint_km", "real", "km", Value("0.0"),
      "Mapping of SMAP retrievals: 0 gives each retrieval to the model cell with the nearest \
       centre; a positive value gives it to every land cell whose centre lies inside the square \
       footprint of this half-width (18.0 for the 36 km EASE-Grid 2.0 cell), so a retrieval \
       coarser than the model grid informs all the cells it covers.", false),
    k("da", "smap_error_map", "path", "", Unset("smap_error_sd everywhere"),
      "Spatially varying SMAP observation errors: a triple-collocation map written by \
       `landcycle tca --maps` on the model grid (docs/assimilation.md, 'Observation errors \
       from triple collocation'). Where the map holds a positive error variance, its square \
       root replaces the SMAP error sd after bias correction; elsewhere (too few samples, not \
       significant, negative estimate, water) smap_error_sd is used. The variance must be in \
       the space of the assimilated (bias-corrected, volumetric) observations, as TCA of a \
       'diag:' dataset gives it.", false),
    k("da", "smap_error_map_variable", "string", "", Value("'smap_err_var'"),
      "Variable of smap_error_map holding the error variance (m6 m-6): <label>_err_var of the \
       tca dataset label.", false),
    k("da", "ascat_directory", "path (directory)", "", Value("'obs/ascat'"),
      "Directory holding ASCAT files: EUMETSAT SSM orbit files (NetCDF, 12.5 km SMR or 25 km \
       SMO) or H SAF BUFR segments (e.g. H16, H103); the format is recognised per file.", false),
    k("da", "ascat_pattern", "string (strftime pattern with * and ? wildcards)", "",
      Value("'ASCAT_*_%Y%m%d*_ssm_l2.nc'"),
      "File names of ASCAT files, expanded as smap_pattern (for H SAF BUFR segments e.g. \
       'h16_%Y%m%d_*.buf').", false),
    k("da", "ascat_error_sd", "real", "% saturation", Value("10.0"),
      "Observation error standard deviation of ASCAT in degree of saturation (> 0); rescaled \
       to m3 m-3 by the ratio of model and observation standard deviations after CDF matching \
       with a climatology in % saturation, otherwise by (porosity - wilting point) / 100.", false),
    k("da", "ascat_bias_correction", "'none', 'cdf' or 'anomaly'", "", Value("'none'"),
      "Bias correction of ASCAT (as smap_bias_correction).", false),
    k("da", "ascat_climatology", "path", "", Unset("no climatology (bias correction must be 'none')"),
      "Climatology NetCDF for ASCAT bias correction (observations in % saturation or m3 m-3).", false),
    k("da", "ascat_footprint_km", "real", "km", Value("0.0"),
      "Mapping of ASCAT nodes (as smap_footprint_km; 12.5 km nodes are denser than most model \
       grids, so the nearest cell is usual).", false),
    k("da", "ascat_error_map", "path", "", Unset("the rescaled ascat_error_sd everywhere"),
      "Spatially varying ASCAT observation errors (as smap_error_map): the map's error \
       variance (m6 m-6, in the space of the bias-corrected volumetric observations) replaces \
       the rescaled ascat_error_sd where it is positive.", false),
    k("da", "ascat_error_map_variable", "string", "", Value("'ascat_err_var'"),
      "Variable of ascat_error_map holding the error variance (m6 m-6).", false),
    k("da", "combine", "'average' or 'latest'", "", Value("'average'"),
      "Several observations of one sensor in one cell and analysis: their mean (mean error σ) \
       or the latest.", false),
    k("da", "mode", "'joint' or 'sequential'", "", Value("'joint'"),
      "Several sensors in one cell: one update with stacked observations, or one sensor after \
       the other.", false),
    k("da", "rtps_alpha", "real (0 to 1)", "", Value("0.0"),
      "Relaxation to prior spread (Whitaker and Hamill 2012): after each update the ensemble \
       spread of every layer is set to (1 - alpha) * analysis spread + alpha * background \
       spread, keeping the analysis mean; 0 switches it off. Keeps a small ensemble from \
       collapsing under repeated updates.", false),
    k("da", "localization_km", "real", "km", Value("0.0"),
      "0: 1-D EnKF, each cell uses only its own observations. A positive cut-off radius lets \
       every cell within it also use other cells' accepted observations, predicted by the \
       observed cell's top-layer ensemble, with Gaspari-Cohn R-localisation (error variance / \
       rho(distance)); cells without observations are then updated too unless their own state \
       fails the frozen, temperature or snow rules. The accepted observations are exchanged \
       between ranks (one gather and broadcast per analysis time).", false),
    k("da", "analysis_times", "'every_obs_time' or 'window_end'", "", Value("'every_obs_time'"),
      "Analyse at the end of the model step containing each observation time (as LIS), or once \
       at the end of the window with all its observations.", false),
    k("da", "qc_smap_quality", "logical", "", Value(".true."),
      "Keep only recommended-quality SMAP retrievals (retrieval_qual_flag bit 0 clear).", false),
    k("da", "qc_smap_vegetation", "logical", "", Value(".true."),
      "Reject SMAP retrievals with vegetation water content above 5 kg m-2.", false),
    k("da", "qc_ascat_error", "logical", "", Value(".true."),
      "Reject ASCAT with estimated soil-moisture error of 16 % or more.", false),
    k("da", "qc_ascat_topography", "logical", "", Value(".true."),
      "Reject ASCAT with topographic complexity of 20 % or more.", false),
    k("da", "qc_ascat_wetland", "logical", "", Value(".true."),
      "Reject ASCAT with wetland fraction of 15 % or more.", false),
    k("da", "qc_ascat_snow", "logical", "", Value(".true."),
      "Reject ASCAT with snow-cover probability above 10 %.", false),
    k("da", "qc_ascat_frozen", "logical", "", Value(".true."),
      "Reject ASCAT with frozen-soil probability above 10 %.", false),
    k("da", "qc_precipitation", "logical", "", Value(".true."),
      "Model QC: reject when the step's precipitation exceeds 3e-6 kg m-2 s-1.", false),
    k("da", "qc_frozen_soil", "logical", "", Value(".true."),
      "Model QC: reject when any layer's frozen water (total - liquid) exceeds 1e-4 m3 m-3.", false),
    k("da", "qc_temperature", "logical", "", Value(".true."),
      "Model QC: reject when skin or top-soil temperature is at or below 273.15 K.", false),
    k("da", "qc_swe", "logical", "", Value(".true."),
      "Model QC: reject when snow water equivalent exceeds 0.001 m.", false),
    k("da", "qc_snow_cover", "logical", "", Value(".true."),
      "Model QC: reject when snow cover exceeds 1e-4.", false),
    k("da", "qc_forest", "logical", "", Value(".true."),
      "Model QC: reject over forest land cover.", false),
    k("da", "qc_green_fraction", "logical", "", Value(".true."),
      "Model QC: reject when the green vegetation fraction exceeds 0.7.", false),
    k("da", "qc_near_bounds", "logical", "", Value(".true."),
      "Model QC: reject a (bias-corrected) value within 0.02 m3 m-3 of wilting point or \
       porosity.", false),
    k("da", "diagnostics", "logical", "", Value(".true."),
      "Write LC_DA_YYYYMMDDHHMM.nc diagnostics (innovations, increments, spread, counts) per \
       analysis time to <rundir>/<cycle>/diag.", false),
    // &image
    k("image", "enabled", "logical", "", Value(".false."),
      "Run the image analysis at every window end (needs run:ensemble_size >= 2).", false),
    k("image", "method", "'var' or 'enkf_like'", "", Value("'var'"),
      "var: minimise J_B + J_I (one increment for all members); enkf_like: Kalman update of \
       each kept curvelet coefficient of every member with perturbed observation images.", false),
    k("image", "source", "'gridded' or 'retrievals'", "", Value("'gridded'"),
      "What the observation image is made of: a gridded product (gridded_* keys), or the \
       window's retrievals the 1-D EnKF accepted (bias-corrected, model QC passed), averaged per \
       cell (needs &da on, image_order = 'after_1d' and obs_weight_split).", false),
    k("image", "retrieval_sensors", "string array: 'smap', 'ascat'", "", Unset("every da:sensors entry"),
      "Sensors whose accepted retrievals make the image (source = 'retrievals'), or, with a \
       gridded image and obs_weight_split, the 1-D sensors whose data the gridded image shares.", false),
    k("image", "retrieval_hours", "integer", "h", Unset("the window"),
      "source = 'retrievals': retrievals accepted in the last this many hours before the \
       analysis time make the image (1 to run:window_hours).", false),
    k("image", "obs_weight_split", "real", "", Unset("no split"),
      "s in (0, 1): data reaching the state through both the 1-D EnKF and the image enter the \
       1-D EnKF with error variance sigma^2/s and the image with sigma_I^2/(1 - s), so they \
       count once. Required with source = 'retrievals' (setup refuses to count data twice).", false),
    k("image", "gridded_directory", "path (directory)", "", Value("'obs/images'"),
      "Directory of the observation images (CF NetCDF fields on a regular lat-lon grid).", false),
    k("image", "gridded_pattern", "string (strftime pattern)", "",
      Value("'LC_IMGOBS_%Y%m%d%H%M.nc'"),
      "File name of the image for an analysis time (strftime fields of that time). A missing \
       file skips the analysis with a warning; the state is left exactly as it was.", false),
    k("image", "gridded_var", "string", "", Value("'sm_image'"),
      "Variable of the image (2-D, or with a leading time dimension).", false),
    k("image", "gridded_scale", "real", "", Value("1.0"),
      "Factor taking the file's values to m3 m-3 (e.g. 0.01 for GLDAS SoilMoi0_10cm_inst in \
       kg m-2 over 0.1 m).", false),
    k("image", "time_tolerance_min", "real", "min", Value("30.0"),
      "With a time coordinate in the file, the record nearest the analysis time is used if it \
       is at most this far from it; otherwise the analysis is skipped with a warning.", false),
    k("image", "sensing_depth_m", "real", "m", Value("0.05"),
      "Depth the image represents: the model layers overlapping [0, depth] are analysed, each \
       against the same image (Noah: the top 10 cm layer).", false),
    k("image", "min_coverage", "real", "", Value("0.5"),
      "Fewest analysed land cells holding an image pixel, as a fraction of the land cells \
       passing model QC; below it the analysis is skipped with a warning.", false),
    k("image", "error_sd", "real", "m3 m-3", Value("0.04"),
      "sigma_I, the image error sd: the J_I weight 1/sigma_I^2 (var) and the sd of the \
       perturbed observation images (enkf_like).", false),
    k("image", "error_corr_km", "real", "km", Value("0.0"),
      "Correlation length of the image perturbations (enkf_like; 0 = white noise).", false),
    k("image", "weight", "real", "", Value("1.0"),
      "lambda, a further factor on the image term of var (0 switches the term off).", false),
    k("image", "keep_fraction", "real", "", Value("0.5"),
      "Fraction of curvelet coefficient units of the observed image kept by the threshold mask \
       (the coarsest band is always kept); 1 keeps all.", false),
    k("image", "gap_policy", "'exclude' or 'fill'", "", Value("'exclude'"),
      "var: analysed cells without an image pixel are left out (exclude) or get an innovation \
       filled from observed neighbours (fill).", false),
    k("image", "b_source", "'innovation', 'ensemble' or 'constant'", "", Value("'innovation'"),
      "var: background error variance, one value everywhere estimated from the innovations \
       d = image - background as max(0, <d^2> - error_sd^2) over the analysed cells with a pixel \
       (innovation; b_scale does not apply), the ensemble variance (x b_inflation) or b_sd^2; \
       the last two are scaled by b_scale. A var cycle moves every member by one increment, so \
       its ensemble spread stays the open loop's and is not the error of its mean \
       (docs/image.md).", false),
    k("image", "b_sd", "real", "m3 m-3", Value("0.02"),
      "Constant background error sd with b_source = 'constant'.", false),
    k("image", "b_inflation", "real", "", Value("1.0"),
      "Factor on the ensemble background variance (var with b_source = 'ensemble'; enkf_like).", false),
    k("image", "b_scale", "'innovation' or 'none'", "", Value("'innovation'"),
      "var: the background variance (from b_source, x b_inflation) times alpha = (<d^2> - \
       error_sd^2)/<b>, means over the analysed cells with a pixel (innovation), so that it agrees \
       with the innovations d = image - background; or as given (none). The ensemble spread of a \
       var cycle is never reduced by its analyses and overstates the error of the mean \
       (docs/image.md).", false),
    k("image", "max_iter", "integer", "", Value("100"),
      "var: conjugate-gradient iteration limit.", false),
    k("image", "tolerance", "real", "", Value("1e-6"),
      "var: CG stops when the residual norm falls below this fraction of its start.", false),
    k("image", "update_coefficients", "'masked' or 'all'", "", Value("'masked'"),
      "enkf_like: update the coefficients kept by the mask, or all.", false),
    k("image", "max_gain", "real", "", Unset("no cap"),
      "enkf_like: upper bound on each coefficient's gain (0 to 1).", false),
    k("image", "deep_layers", "'model', 'ensemble' or 'regression'", "", Value("'model'"),
      "Layers below those analysed: left to the physics (model), updated through ensemble \
       cross-covariances with the top layer (ensemble: per coefficient for enkf_like, per cell \
       regression for var), or each member's top-layer increment carried down per cell by the \
       ensemble regression of the layer on the top layer (regression: the soil column).", false),
    k("image", "deep_shrinkage", "'none' or 'sampling'", "", Value("'none'"),
      "deep_layers 'ensemble' or 'regression': the ensemble regressions (per coefficient or per \
       cell) to the deeper layers as sampled (none), or each times max(0, 1 - 1/t^2), t its \
       t statistic over the members (sampling: sampling-error correction).", false),
    k("image", "deep_localization_m", "real", "m", Unset("no vertical localisation"),
      "deep_layers 'ensemble' or 'regression': half-width c of a Gaspari-Cohn taper of the deep \
       update in depth. Layer l's cross-gains (or regressions) are multiplied by GC(d_l/c), d_l \
       the distance from sensing_depth_m down to the layer's centre (1 at d = 0, 0.21 at d = c, \
       0 from d = 2c on).", false),
    k("image", "deep_factors", "real array (one per soil layer)", "", Unset("from deep_localization_m"),
      "deep_layers 'ensemble' or 'regression': factor per soil layer, top down, on the deep \
       update (cross-gains or regressions), 0 to 1, instead of the taper of \
       deep_localization_m (not both). The layers the image analyses (sensing_depth_m) take \
       the image's own update and must have 1; e.g. 1, 0.78, 0.058, 0.1 for Noah is the \
       0.5 m taper with layer 4 set apart.", false),
    k("image", "deep_scales", "integer", "", Value("0"),
      "enkf_like with deep_layers = 'ensemble': only the coefficients of the coarsest this many \
       curvelet scales update the deeper layers (0 = all scales; the top layer's update is not \
       affected).", false),
    k("image", "update_perturbations", "logical", "", Value(".true."),
      "enkf_like: .false. gives every member the ensemble-mean increment in each layer the image \
       changes, so the image moves the ensemble mean and leaves the perturbations (and the \
       vertical covariances a later 1-D analysis uses) as they were.", false),
    k("image", "rtps_alpha", "real", "", Value("0.0"),
      "enkf_like: relaxation of the analysis spread to the background's per cell (0 to 1), \
       in the top layer and in the deeper layers the image changes (deep_layers 'ensemble' or \
       'regression').", false),
    k("image", "image_order", "'after_1d' or 'before_1d'", "", Value("'after_1d'"),
      "At the window end, whether the image analysis runs after or before that step's 1-D \
       analysis.", false),
    k("image", "diagnostics", "logical", "", Value(".true."),
      "Write LC_IMG_YYYYMMDDHHMM.nc per image analysis to <rundir>/<cycle>/diag.", false),
    // &nrt
    k("nrt", "obs_latency_minutes", "integer", "min", Value("0"),
      "A cycle T runs no earlier than T + this (also without assimilation); with assimilation \
       it waits at least until the cut-off of every sensor it uses.", false),
    k("nrt", "obs_cutoff_minutes_smap", "integer", "min", Value("180"),
      "Cut-off of SMAP for cycle T: at T + this the cycle's SMAP file list is frozen into \
       obs_manifest.json (SMAP NRT latency is about 3 h). Files arriving later are not used.", false),
    k("nrt", "obs_cutoff_minutes_ascat", "integer", "min", Value("135"),
      "Cut-off of ASCAT for cycle T, as obs_cutoff_minutes_smap (ASCAT SSM NRT latency is \
       at most 135 min).", false),
    k("nrt", "max_windows_per_run", "integer", "", Value("4"),
      "Most cycles one `landcycle nrt` invocation runs (>= 1); a backlog is caught up in \
       batches of this size, one per invocation.", false),
    k("nrt", "max_backlog_windows", "integer", "", Value("28"),
      "More eligible cycles than this (7 days of 6 h windows) stop `landcycle nrt` with a \
       CRITICAL status until an operator runs it with --force.", false),
    k("nrt", "max_run_minutes", "integer", "min", Value("50"),
      "No new cycle starts once one invocation has run this long (the running one finishes).", false),
    k("nrt", "max_attempts", "integer", "", Value("3"),
      "Failed attempts of one cycle before `landcycle nrt` stops for an operator (--force \
       tries again). An attempt interrupted by a kill does not count as failed.", false),
    k("nrt", "retry_base_minutes", "integer", "min", Value("10"),
      "After the n-th failure of a cycle with a transient error (I/O, a missing or unreadable \
       input), the next attempt waits retry_base_minutes * 2^(n-1), at most \
       retry_max_minutes. Permanent errors (configuration fingerprint, corrupt static file, \
       a model failure) are not retried: `landcycle nrt` stops for an operator at once.", false),
    k("nrt", "retry_max_minutes", "integer", "min", Value("120"),
      "Longest wait between two attempts of a failed cycle.", false),
    k("nrt", "alert_command", "string", "", Unset("no alert command"),
      "Shell command (run with `sh -c`) that receives the status JSON of `landcycle status \
       --json` on stdin whenever the status level changes to WARNING or CRITICAL after an \
       invocation. Its failure is logged, never fatal; it is killed after 60 s.", false),
    k("nrt", "on_missing_forcing", "'wait', 'previous_cycle' or 'fail'", "", Value("'wait'"),
      "What cycle T does when a forcing file of its window (or, with coupler:mode = \
       'exchange', the atmosphere's atm2lnd/READY) is still missing at T + \
       forcing_deadline_minutes. wait: keep waiting, status WARNING naming the missing file. \
       previous_cycle: read the longer leads of an earlier atmosphere cycle (one window back, \
       then two, ...) while every lead is at most max_fallback_lead_hours; the cycle used is \
       recorded in cycle.json (forcing_fallback) and reused by every rerun; nothing within \
       the bound waits as 'wait'. Only with a forecast-archive forcing:file_template \
       ({init:..}, {lead_h..}); refused otherwise. fail: the cycle fails permanently (exit \
       11, CRITICAL) until an operator provides the file and runs `landcycle nrt --force`.", false),
    k("nrt", "forcing_deadline_minutes", "integer", "min", Value("360"),
      "Minutes after a cycle's end at which missing forcing is acted on (on_missing_forcing); \
       before it the cycle waits quietly.", false),
    k("nrt", "max_fallback_lead_hours", "integer", "h", Value("24"),
      "Longest forecast lead on_missing_forcing = 'previous_cycle' may read.", false),
    k("nrt", "verify_output_cycles", "integer", "", Value("8"),
      "Recovery verifies the SHA-256 and size recorded in cycle.json of every history, \
       diagnostics and export file of this many newest complete cycles (0: none); a changed or \
       truncated file is moved to trash/ and its cycle rerun from the previous restart.", false),
    // &coupler
    k("coupler", "mode", "'files', 'exchange', 'wrf' or 'mpmd'", "",
      Value("'files'"),
      "files: the data files of &forcing (file_template may name the issuing cycle and lead, \
       {init:%Y%m%d%H} and {lead_h:03}); exchange: records from <directory>/<cycle>/atm2lnd \
       on the atmosphere's grid, remapped with a2l_weights; wrf: wrfout files in <directory> \
       on the WRF domain itself (domain:static_format = 'geo_em'); mpmd: records over MPI \
       from an atmosphere started in the same mpirun (`mpirun -n A landcycle run NML : -n B \
       landcycle atm replay NML --mpmd`), remapped with a2l_weights.", false),
    k("coupler", "source_cycle_offset_hours", "integer", "h", Value("-6"),
      "Land cycle T is forced by the atmosphere cycle issued at T + this (leads 0 to -offset \
       h): the {init} and {lead_h} fields of a forecast-archive template.", false),
    k("coupler", "export_offset_hours", "integer", "h", Value("-3"),
      "The land state is exported at T + this (-window_hours to 0; -3 as KIM-LIS, 0 for an \
       atmosphere started at T).", false),
    k("coupler", "export_stat", "'mean' ('members' not built yet)", "", Value("'mean'"),
      "Exported statistic of the ensemble.", false),
    k("coupler", "export", "logical", "", Value(".false."),
      "Export the land state (mode 'exchange': <directory>/<cycle>/lnd2atm; mode 'mpmd': sent \
       to the atmosphere's root; mode 'wrf': into wrfinput_out).", false),
    k("coupler", "directory", "path (directory)", "", Value("'xchg'"),
      "Exchange directory of mode 'exchange' (one subdirectory per land cycle).", false),
    k("coupler", "deadline_seconds", "integer", "s", Value("600"),
      "Longest wait for the atmosphere's READY marker of a cycle (mode 'mpmd': for any record \
       of the other application); then the run stops with an error naming what is missing.",
      false),
    k("coupler", "poll_milliseconds", "integer", "ms", Value("200"),
      "Time between two looks for READY (mode 'mpmd': two nonblocking probes).", false),
    k("coupler", "a2l_weights", "path", "", Unset("built-in bilinear from a regular lat-lon grid"),
      "Atmosphere → land weights (SCRIP or ESMF, docs/remap.md). Modes 'exchange' and 'mpmd' need them; \
       with mode 'files' the data files are read on the weights' source grid (1-D ncol or 2-D) \
       and remapped through them.", false),
    k("coupler", "l2a_weights", "path", "", Unset("no export"),
      "Land → atmosphere first-order conservative weights (applied with the land mask).", false),
    k("coupler", "wrfout_template", "string (strftime pattern)", "",
      Value("'wrfout_d01_%Y-%m-%d_%H:%M:%S'"),
      "Mode 'wrf': name of the wrfout file of a valid time in <directory>.", false),
    k("coupler", "wrf_interval_minutes", "integer", "min", Value("60"),
      "Mode 'wrf': WRF's history interval (divides a day).", false),
    k("coupler", "wrf_bucket_mm", "real", "mm", Unset("the files' BUCKET_MM attribute"),
      "Mode 'wrf': bucket size of I_RAINC/I_RAINNC; a value contradicting the files is refused.", false),
    k("coupler", "wrfinput_in", "path (strftime pattern)", "", Unset("none"),
      "Mode 'wrf' with export: the wrfinput file valid at the export time (e.g. real.exe's \
       wrfinput_d01 for the next forecast).", false),
    k("coupler", "wrfinput_out", "path (strftime pattern)", "", Unset("none"),
      "Mode 'wrf' with export: where the updated copy is written atomically (SMOIS, SH2O, TSLB, \
       TSK, SNOW, SNOWH, CANWAT on land cells only; may equal wrfinput_in).", false),
];

/// The schema entry of `group`/`key` (lower case).
pub fn key_spec(group: &str, key: &str) -> Option<&'static KeySpec> {
    SCHEMA.iter().find(|s| s.group == group && s.key == key)
}

/// The keys of `group`, in schema order.
pub fn group_keys(group: &str) -> impl Iterator<Item = &'static KeySpec> + '_ {
    SCHEMA.iter().filter(move |s| s.group == group)
}

const DOC_INTRO: &str = "\
# landcycle namelist reference

<!-- Generated from src/config/schema.rs. Do not edit by hand: after changing the schema run
     LANDCYCLE_BLESS=1 cargo test --release --test config_schema
     to rewrite this file (the test fails while the two differ). -->

A landcycle run is configured by one Fortran namelist file (`landcycle run NAMELIST`).
`landcycle check NAMELIST` validates it and prints the effective configuration with every
default filled in. `namelists/demo.nml` is a complete example.

## Syntax

The parser reads Fortran namelists as `f90nml` does:

- groups `&name ... /` (also `&name ... &end` and `$name ... $end`); several groups in one file,
  in any order; text outside groups is ignored;
- group and key names are case-insensitive; `!` starts a comment;
- integers, reals (`1.5`, `.5`, `2.`, `1e3`, `1.0d-2`), logicals (`.true.`, `.t.`, `T`, `true`,
  `.false.`, `.f.`, `F`, `false`, any case), strings in `'...'` or `\"...\"` (a doubled quote is
  a literal quote); strings must be quoted;
- arrays separated by commas or blanks and continued over lines; repeat counts `3*0.5`; null
  values `1, , 3` and `2*`; indexed assignments `x(2) = 3` and `x(2:3) = 1, 2`; a key
  assigned twice is overwritten element by element, as Fortran does;
- an integer is accepted where a real is expected, a single value where an array is expected,
  and names of choices (like `'Bilinear'`) in any case.

Errors name the file, line and column: syntax errors point at the offending character, type
errors at the offending value, unknown keys at the key (with the closest valid key suggested:
``did you mean `timestep`?``), missing required keys at the group. Invalid values (for example
a correlation matrix that is not positive definite, or a time step that does not divide the
window) name the group, the key and its line.

## Conventions

- **Paths.** A relative path in a namelist resolves against the directory of the namelist
  file, not the working directory; the configuration stores the resolved absolute paths
  (lexically normalized: `a/../b` becomes `b`).
- **Times** are UTC. Date-times are written `'YYYY-MM-DD_HH:MM:SS'`, `'YYYY-MM-DDTHH:MM:SS'`,
  `'YYYY-MM-DD HH:MM:SS'`, `'YYYYMMDDHH'` or `'YYYYMMDDHHMM'`.
- **Other groups.** Groups this table does not list (for example `&synth` for `landcycle
  synth`) are left to the commands that read them; a group whose name is a likely misspelling
  of one listed here is an error.
- **Fingerprint.** The configuration fingerprint (SHA-256 over the canonical effective values
  of the keys marked *yes* in the *fp* column) is stored in restarts; a restart written with a
  different fingerprint is refused. Run length, paths, history and restart-retention keys are
  excluded, so a run can be extended, moved or given other output settings and still continue.
";

/// The text of docs/namelist.md.
pub fn render_markdown() -> String {
    let mut s = String::from(DOC_INTRO);
    for g in GROUPS {
        s.push_str(&format!("\n## `&{}`\n\n{}", g.name, g.meaning));
        if g.required {
            s.push_str(" This group is required.");
        }
        s.push_str("\n\n| key | type | unit | default | fp | meaning |\n");
        s.push_str("|---|---|---|---|---|---|\n");
        for spec in group_keys(g.name) {
            let default = match spec.default {
                Required => "**required**".to_string(),
                Value(v) => format!("`{v}`"),
                Unset(what) => format!("unset: {what}"),
            };
            let unit = if spec.unit.is_empty() { "-" } else { spec.unit };
            s.push_str(&format!(
                "| `{}` | {} | {} | {} | {} | {} |\n",
                spec.key,
                cell(spec.kind),
                cell(unit),
                cell(&default),
                if spec.fingerprint { "yes" } else { "no" },
                cell(spec.meaning),
            ));
        }
    }
    s
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}
