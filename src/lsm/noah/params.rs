//! Per-cell parameters: the soil, vegetation and general table values one column needs,
//! plus the quantities Noah derives from them once (infiltration scale, frozen-soil factor,
//! root distribution, soil depths).

use super::constants::NSOIL;
use super::tables::ParameterTables;
use crate::lsm::LsmError;

/// Everything the column physics needs that does not change in time.
#[derive(Debug, Clone, PartialEq)]
pub struct NoahParams {
    // --- soil (SOILPARM) ---
    /// Clapp-Hornberger b exponent.
    pub bexp: f64,
    /// Saturated hydraulic conductivity (m s-1).
    pub dksat: f64,
    /// Saturated soil water diffusivity (m2 s-1).
    pub dwsat: f64,
    /// Porosity (m3 m-3).
    pub smcmax: f64,
    /// Wilting point (m3 m-3).
    pub smcwlt: f64,
    /// Reference (onset of transpiration stress) soil moisture (m3 m-3).
    pub smcref: f64,
    /// Air-dry soil moisture where direct evaporation stops (m3 m-3).
    pub smcdry: f64,
    /// Saturated matric potential (m).
    pub psisat: f64,
    /// Quartz fraction.
    pub quartz: f64,
    /// Derived constants of the soil thermal conductivity.
    pub thermal: super::soil_heat::ThermalConstants,
    // --- vegetation (VEGPARM) ---
    pub nroot: usize,
    pub rsmin: f64,
    pub rgl: f64,
    pub hs: f64,
    pub snup: f64,
    pub laimin: f64,
    pub laimax: f64,
    pub emissmin: f64,
    pub emissmax: f64,
    pub albedomin: f64,
    pub albedomax: f64,
    pub z0min: f64,
    pub z0max: f64,
    pub topt: f64,
    pub cmcmax: f64,
    pub cfactr: f64,
    pub rsmax: f64,
    /// The vegetation class is the dataset's bare-soil class (green fraction forced to 0).
    pub bare: bool,
    /// The vegetation class is a forest class of its dataset (observation QC).
    pub forest: bool,
    /// The vegetation class is the urban class (Noah's urban overrides apply).
    pub urban: bool,
    // --- general (GENPARM) ---
    pub slope: f64,
    pub sbeta: f64,
    pub fxexp: f64,
    pub csoil: f64,
    pub salp: f64,
    pub frzx: f64,
    pub kdt: f64,
    pub zbot: f64,
    pub czil: f64,
    pub lvcoef: f64,
    // --- cell ---
    /// Green vegetation fraction bounds of the cell.
    pub shdmin: f64,
    pub shdmax: f64,
    /// Maximum albedo over deep snow.
    pub snoalb: f64,
    /// Lower boundary (deep soil) temperature (K) at depth `zbot`.
    pub tbot: f64,
    /// Height of the forcing level (m).
    pub zlvl: f64,
    /// Monthly green vegetation fraction (valid on the 15th).
    pub green_fraction_monthly: [f64; 12],
    /// Monthly background albedo (used when `use_monthly_albedo`, and for the first step).
    pub albedo_monthly: [f64; 12],
    /// Monthly LAI (used when `use_monthly_lai`).
    pub lai_monthly: [f64; 12],
    pub use_monthly_albedo: bool,
    pub use_monthly_lai: bool,
    // --- layers ---
    /// Layer thicknesses (m), top first.
    pub sldpth: [f64; NSOIL],
    /// Depth of layer bottoms (m, negative).
    pub zsoil: [f64; NSOIL],
    /// Fraction of roots in each root layer.
    pub rtdis: [f64; NSOIL],
}

/// Which table entries and cell values to use.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSelection<'a> {
    pub soil_dataset: &'a str,
    pub vegetation_dataset: &'a str,
    pub soil_class: i32,
    pub vegetation_class: i32,
    pub slope_class: i32,
    /// The urban class of the vegetation dataset (Noah's ISURBAN).
    pub urban_class: i32,
    pub sldpth: [f64; NSOIL],
    pub shdmin: f64,
    pub shdmax: f64,
    pub snoalb: f64,
    pub tbot: f64,
    pub zlvl: f64,
    pub green_fraction_monthly: [f64; 12],
    pub albedo_monthly: [f64; 12],
    pub lai_monthly: [f64; 12],
    pub use_monthly_albedo: bool,
    pub use_monthly_lai: bool,
}

impl NoahParams {
    /// Looks the classes up in `tables` and derives the per-cell constants (Noah's REDPRM).
    pub fn from_tables(t: &ParameterTables, s: &ParamSelection) -> Result<Self, LsmError> {
        let perr = |e: super::tables::TableError| LsmError::Parameter(e.to_string());
        let soil = t.soil(s.soil_dataset, s.soil_class).map_err(perr)?;
        let vds = t.vegetation_dataset(s.vegetation_dataset).map_err(perr)?;
        let veg = t
            .vegetation(s.vegetation_dataset, s.vegetation_class)
            .map_err(perr)?;
        let slope = t.slope(s.slope_class).map_err(perr)?;
        let g = &t.general;
        if veg.nroot == 0 || veg.nroot > NSOIL {
            return Err(LsmError::Parameter(format!(
                "vegetation class {} has {} root layers; this column has {} soil layers",
                s.vegetation_class, veg.nroot, NSOIL
            )));
        }
        for (i, &d) in s.sldpth.iter().enumerate() {
            if !(d > 0.0 && d.is_finite()) {
                return Err(LsmError::Parameter(format!(
                    "soil layer {} thickness {} must be positive",
                    i + 1,
                    d
                )));
            }
        }
        if !(s.shdmin >= 0.0 && s.shdmax <= 1.0 && s.shdmin <= s.shdmax) {
            return Err(LsmError::Parameter(format!(
                "green fraction bounds {}..{} outside 0..1 or inverted",
                s.shdmin, s.shdmax
            )));
        }
        if !(veg.z0min > 0.0 && veg.z0max > 0.0) {
            return Err(LsmError::Parameter(format!(
                "vegetation class {} has non-positive roughness length ({}..{})",
                s.vegetation_class, veg.z0min, veg.z0max
            )));
        }
        let mut zsoil = [0.0; NSOIL];
        zsoil[0] = -s.sldpth[0];
        for k in 1..NSOIL {
            zsoil[k] = zsoil[k - 1] - s.sldpth[k];
        }
        let nroot = veg.nroot;
        let mut rtdis = [0.0; NSOIL];
        for k in 0..nroot {
            rtdis[k] = -s.sldpth[k] / zsoil[nroot - 1];
        }
        // Frozen-soil infiltration factor scaled to the soil's porosity/reference moisture.
        let frzfact = (soil.maxsmc / soil.refsmc) * (0.412 / 0.468);
        let mut p = NoahParams {
            bexp: soil.bb,
            dksat: soil.satdk,
            dwsat: soil.satdw,
            smcmax: soil.maxsmc,
            smcwlt: soil.wltsmc,
            smcref: soil.refsmc,
            smcdry: soil.drysmc,
            psisat: soil.satpsi,
            quartz: soil.qtz,
            thermal: super::soil_heat::ThermalConstants::new(soil.qtz, soil.maxsmc),
            nroot,
            rsmin: veg.rs,
            rgl: veg.rgl,
            hs: veg.hs,
            snup: veg.snup,
            laimin: veg.laimin,
            laimax: veg.laimax,
            emissmin: veg.emissmin,
            emissmax: veg.emissmax,
            albedomin: veg.albedomin,
            albedomax: veg.albedomax,
            z0min: veg.z0min,
            z0max: veg.z0max,
            topt: vds.topt,
            cmcmax: vds.cmcmax,
            cfactr: vds.cfactr,
            rsmax: vds.rsmax,
            bare: s.vegetation_class as usize == vds.bare,
            forest: super::qc_view::is_forest(s.vegetation_dataset, s.vegetation_class),
            urban: s.vegetation_class == s.urban_class,
            slope,
            sbeta: g.sbeta,
            fxexp: g.fxexp,
            csoil: g.csoil,
            salp: g.salp,
            frzx: g.frzk * frzfact,
            kdt: g.refkdt * soil.satdk / g.refdk,
            zbot: g.zbot,
            czil: g.czil,
            lvcoef: g.lvcoef,
            shdmin: s.shdmin,
            shdmax: s.shdmax,
            snoalb: s.snoalb,
            tbot: s.tbot,
            zlvl: s.zlvl,
            green_fraction_monthly: s.green_fraction_monthly,
            albedo_monthly: s.albedo_monthly,
            lai_monthly: s.lai_monthly,
            use_monthly_albedo: s.use_monthly_albedo,
            use_monthly_lai: s.use_monthly_lai,
            sldpth: s.sldpth,
            zsoil,
            rtdis,
        };
        if p.urban {
            // Noah's urban overrides (impervious, high resistance).
            p.rsmin = 400.0;
            p.smcmax = 0.45;
            p.smcref = 0.42;
            p.smcwlt = 0.40;
            p.smcdry = 0.40;
            p.thermal = super::soil_heat::ThermalConstants::new(p.quartz, p.smcmax);
        }
        Ok(p)
    }
}
