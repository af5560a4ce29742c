//! **Interim** per-layer soil parameters from texture, until CoLM2014's own pedotransfer rules
//! (`pedotransfer.rs`, the ensemble-median PTFs of COLM.md §4, being written on branch
//! `colmpoint`) are merged. Same signatures as agreed in the helpers' note, so the switch is a
//! change of `use` in `soil_class_texture.rs` and `land_model/cell.rs`.
//!
//! The rules are the CLM 3.0 ones (Oleson et al. 2004, NCAR/TN-461+STR, eqs. 7.90–7.94 after
//! Clapp & Hornberger 1978 and Cosby et al. 1984; eqs. 6.61–6.69 after Farouki 1981), the
//! predecessor of CoLM2014's rules, with sand and clay only (organic carbon, bulk density and
//! gravel are not used):
//! θ_sat = 0.489 − 0.00126 %sand; ψ_sat = −10·10^(1.88 − 0.0131 %sand) mm; B = 2.91 + 0.159
//! %clay; K_sat = 0.0070556·10^(−0.884 + 0.0153 %sand) mm s-1; c_s = (2.128 %sand + 2.385
//! %clay)/(%sand + %clay)·10⁶ J m-3 K-1; λ_s = (8.80 %sand + 2.92 %clay)/(%sand + %clay),
//! λ_sat = λ_s^(1−θ_sat) 0.57^θ_sat (0.57: the liquid conductivity of CoLM's frozen-soil
//! factor); λ_dry = (0.135 ρ_d + 64.7)/(2700 − 0.947 ρ_d), ρ_d = 2700 (1 − θ_sat) kg m-3.
//! For the Bondville silty clay loam (10 %, 34 %) they give θ_sat 0.476, ψ_sat −561 mm, B 8.32,
//! K_sat 1.31e-3 mm s-1, c_s 2.33e6, λ_sat 1.63, λ_dry 0.188 — within a few per cent of the
//! reference's CoLM2014 values (0.469, −595, 8.36, 1.18e-3, 2.33e6, 1.62, 0.182).
//! The soil albedo is that of CoLM's soil colour class 3 for every land cover (the
//! reference's class, COLM.md §10), in place of CoLM's colour guessed from land cover.

use super::constants::NSOIL;
use super::geometry::SoilGeometry;
use super::ground_albedo::SoilAlbedo;
use super::params::SoilParams;
use crate::lsm::LsmError;

/// One raw texture layer (the agreed fields and units).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Texture {
    /// Sand and clay, % weight of the fine earth.
    pub sand: f64,
    pub clay: f64,
    /// Organic carbon, % weight.
    pub soc: f64,
    /// Bulk density, g cm-3.
    pub bd: f64,
    /// Gravel, % volume.
    pub gravel: f64,
}

/// Parameters of one layer of texture `t` (interim CLM 3.0 rules, module doc).
fn layer(t: &Texture) -> [f64; 7] {
    let (sand, clay) = (t.sand.max(1.0), t.clay.max(1.0));
    let porsl = 0.489 - 0.00126 * sand;
    let psi0 = -10.0 * 10f64.powf(1.88 - 0.0131 * sand);
    let bsw = 2.91 + 0.159 * clay;
    let hksati = 0.0070556 * 10f64.powf(-0.884 + 0.0153 * sand);
    let csol = (2.128 * sand + 2.385 * clay) / (sand + clay) * 1e6;
    let tks = (8.80 * sand + 2.92 * clay) / (sand + clay);
    let dksatu = tks.powf(1.0 - porsl) * 0.57f64.powf(porsl);
    let bulk = 2700.0 * (1.0 - porsl);
    let dkdry = (0.135 * bulk + 64.7) / (2700.0 - 0.947 * bulk);
    [porsl, psi0, bsw, hksati, csol, dksatu, dkdry]
}

fn check(raw: &[Texture; 8]) -> Result<(), LsmError> {
    for (k, t) in raw.iter().enumerate() {
        let fields = [
            ("sand", t.sand),
            ("clay", t.clay),
            ("soc", t.soc),
            ("bd", t.bd),
        ];
        for (name, v) in fields {
            if !(v.is_finite() && v >= 0.0) {
                return Err(LsmError::Parameter(format!(
                    "texture of raw layer {}: {name} = {v} is not a non-negative number",
                    k + 1
                )));
            }
        }
        if !(t.gravel.is_finite() && (0.0..100.0).contains(&t.gravel)) {
            return Err(LsmError::Parameter(format!(
                "texture of raw layer {}: gravel = {} % outside 0..100",
                k + 1,
                t.gravel
            )));
        }
    }
    Ok(())
}

/// The 10 model layers' parameters from the 8 raw layers (model 1, 2 ← raw 1; j ← raw j − 1
/// for j = 3..9; 10 ← raw 8, COLM.md §4). The interim rules do not depend on depth, so
/// `_geometry` is unused; it is in the signature the final rules need.
pub fn soil_params_from_texture(
    raw: &[Texture; 8],
    _geometry: &SoilGeometry,
) -> Result<SoilParams, LsmError> {
    check(raw)?;
    let mut p = SoilParams::uniform(0.5, -100.0, 5.0, 1e-3, 2e6, 1.5, 0.2);
    for j in 0..NSOIL {
        let r = match j {
            0 | 1 => 0,
            9 => 7,
            _ => j - 1,
        };
        let v = layer(&raw[r]);
        p.porsl[j] = v[0];
        p.psi0[j] = v[1];
        p.bsw[j] = v[2];
        p.hksati[j] = v[3];
        p.csol[j] = v[4];
        p.dksatu[j] = v[5];
        p.dkdry[j] = v[6];
    }
    p.validate()?;
    Ok(p)
}

/// Soil albedos (interim: colour class 3 for every USGS class 1..=24).
pub fn soil_albedo_for_usgs(class: usize) -> Result<SoilAlbedo, LsmError> {
    if !(1..=24).contains(&class) {
        return Err(LsmError::Parameter(format!(
            "CoLM soil colour: USGS class {class} outside 1..24"
        )));
    }
    Ok(SoilAlbedo {
        sat: [0.22, 0.44],
        dry: [0.33, 0.55],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bondville_texture_is_close_to_the_reference() {
        let t = Texture {
            sand: 10.0,
            clay: 34.0,
            soc: 1.0,
            bd: 1.4,
            gravel: 0.0,
        };
        let p = soil_params_from_texture(&[t; 8], &SoilGeometry::standard()).unwrap();
        let near = |a: f64, b: f64, rel: f64| ((a - b) / b).abs() < rel;
        assert!(near(p.porsl[0], 0.4687, 0.02));
        assert!(near(p.psi0[0], -595.1, 0.07));
        assert!(near(p.bsw[0], 8.362, 0.01));
        assert!(near(p.hksati[0], 1.1755e-3, 0.12));
        assert!(near(p.csol[0], 2.330e6, 0.01));
        assert!(near(p.dksatu[0], 1.616, 0.02) && near(p.dkdry[0], 0.1821, 0.04));
        let bad = Texture {
            clay: f64::NAN,
            ..t
        };
        assert!(soil_params_from_texture(&[bad; 8], &SoilGeometry::standard()).is_err());
    }
}
