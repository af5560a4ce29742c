//! The restart fields of a CoLM member: the complete column state, snow layers included (a
//! resumed run continues bit for bit), in one fixed order. Temperatures, water and geometry of
//! the 15 snow + soil slots (CoLM's −4..10), the snow-layer count, layerless snow, canopy,
//! groundwater, snow age and cover, phenology, the zenith and the albedos and canopy
//! absorption factors carried to the next step, and the cold-start flag.

use super::super::column_step::ColumnState;
use super::super::constants::{MAXSNL, NLAYER};
use super::super::layers::Layers;
use super::super::phase_change::ThinSnow;
use super::super::surface_albedo::SurfaceAlbedo;
use super::super::two_stream::TwoStream;
use super::state::ColmState;
use crate::lsm::{FieldSpec, LsmError};

type Band = [[f64; 2]; 2];

/// (name, values per member, units, long name), in packing order.
pub const FIELDS: [(&str, usize, &str, &str); 34] = [
    (
        "layer_temperature",
        NLAYER,
        "K",
        "temperature of snow (slots 1-5) and soil layers",
    ),
    (
        "layer_liquid",
        NLAYER,
        "kg m-2",
        "liquid water of snow and soil layers",
    ),
    ("layer_ice", NLAYER, "kg m-2", "ice of snow and soil layers"),
    (
        "layer_node_depth",
        NLAYER,
        "m",
        "node depth (negative in snow)",
    ),
    ("layer_thickness", NLAYER, "m", "layer thickness"),
    (
        "layer_interface",
        NLAYER + 1,
        "m",
        "interface depths, top of slot 1 first",
    ),
    ("snow_layers", 1, "1", "number of snow layers"),
    ("swe", 1, "kg m-2", "snow water equivalent"),
    ("snow_depth", 1, "m", "snow depth"),
    ("t_sunlit", 1, "K", "sunlit leaf temperature"),
    ("t_shaded", 1, "K", "shaded leaf temperature"),
    ("canopy_water", 1, "kg m-2", "canopy intercepted water"),
    ("water_table", 1, "m", "depth of the water table"),
    (
        "aquifer_water",
        1,
        "kg m-2",
        "water in the unconfined aquifer",
    ),
    ("snow_age", 1, "1", "non-dimensional snow age"),
    ("snow_cover", 1, "1", "snow-covered fraction"),
    ("sigf", 1, "1", "vegetated fraction not buried by snow"),
    (
        "buried_fraction",
        1,
        "1",
        "fraction of vegetation buried by snow",
    ),
    ("lai", 1, "m2 m-2", "leaf area index"),
    ("sai", 1, "m2 m-2", "stem area index"),
    ("fveg", 1, "1", "vegetated fraction"),
    ("green", 1, "1", "green leaf fraction"),
    (
        "coszen",
        1,
        "1",
        "cosine of the zenith angle at the next step's start",
    ),
    ("albedo", 4, "1", "surface albedo [band][direct/diffuse]"),
    ("ground_albedo", 4, "1", "ground albedo"),
    ("canopy_albedo", 4, "1", "canopy albedo after snow burial"),
    ("two_stream_albedo", 4, "1", "two-stream canopy albedo"),
    (
        "two_stream_tranc",
        4,
        "1",
        "diffuse flux reaching the ground",
    ),
    ("two_stream_sunlit", 4, "1", "absorbed by sunlit leaves"),
    ("two_stream_shaded", 4, "1", "absorbed by shaded leaves"),
    ("extkb", 1, "1", "direct-beam extinction coefficient"),
    ("extkd", 1, "1", "diffuse extinction coefficient"),
    ("thermk", 1, "1", "longwave gap fraction"),
    (
        "cold_start_pending",
        1,
        "1",
        "1: zenith, phenology and albedos wait for the first step",
    ),
];

/// Values per member.
pub fn width() -> usize {
    FIELDS.iter().map(|f| f.1).sum()
}

pub fn field_specs() -> Vec<FieldSpec> {
    FIELDS
        .iter()
        .map(|&(name, len, units, long_name)| FieldSpec {
            name,
            len,
            units,
            long_name,
        })
        .collect()
}

fn push_band(out: &mut Vec<f64>, b: &Band) {
    out.extend_from_slice(&[b[0][0], b[0][1], b[1][0], b[1][1]]);
}

/// Append `s` in [`FIELDS`] order.
pub fn pack(s: &ColmState, out: &mut Vec<f64>) {
    let c = &s.column;
    let l = &c.layers;
    for a in [&l.t, &l.wliq, &l.wice, &l.z, &l.dz] {
        out.extend_from_slice(a);
    }
    out.extend_from_slice(&l.zi);
    out.push(l.nsnow as f64);
    out.extend_from_slice(&[c.snow.scv, c.snow.snowdp]);
    out.extend_from_slice(&[c.canopy.tlsun, c.canopy.tlsha, c.canopy.ldew]);
    out.extend_from_slice(&[c.zwt, c.wa, c.sag, c.fsno, c.sigf, c.wt]);
    out.extend_from_slice(&[c.lai, c.sai, c.fveg, c.green, c.coszen]);
    let (a, tw) = (&c.albedo, &c.albedo.canopy);
    for b in [
        &a.alb, &a.albg, &a.albv, &tw.albv, &tw.tranc, &tw.ssun, &tw.ssha,
    ] {
        push_band(out, b);
    }
    out.extend_from_slice(&[tw.extkb, tw.extkd, tw.thermk]);
    out.push(if s.fresh { 1.0 } else { 0.0 });
}

/// Reads values in order.
struct Reader<'a> {
    d: &'a [f64],
    at: usize,
}

impl Reader<'_> {
    fn one(&mut self) -> f64 {
        self.at += 1;
        self.d[self.at - 1]
    }
    fn arr<const N: usize>(&mut self) -> [f64; N] {
        std::array::from_fn(|_| self.one())
    }
    fn band(&mut self) -> Band {
        let v: [f64; 4] = self.arr();
        [[v[0], v[1]], [v[2], v[3]]]
    }
}

fn read_layers(r: &mut Reader) -> Result<Layers, LsmError> {
    let (t, wliq, wice, z, dz) = (r.arr(), r.arr(), r.arr(), r.arr(), r.arr());
    let zi = r.arr();
    let n = r.one();
    if !(n >= 0.0 && n <= MAXSNL as f64 && n.fract() == 0.0) {
        return Err(LsmError::Restart(format!(
            "CoLM restart: snow layer count {n} is not an integer in 0..={MAXSNL}"
        )));
    }
    let nsnow = n as usize;
    Ok(Layers {
        nsnow,
        t,
        wliq,
        wice,
        z,
        dz,
        zi,
    })
}

fn read_albedo(r: &mut Reader) -> SurfaceAlbedo {
    let (alb, albg, albv) = (r.band(), r.band(), r.band());
    let (tv, tranc, ssun, ssha) = (r.band(), r.band(), r.band(), r.band());
    let canopy = TwoStream {
        albv: tv,
        tranc,
        ssun,
        ssha,
        extkb: r.one(),
        extkd: r.one(),
        thermk: r.one(),
    };
    SurfaceAlbedo {
        alb,
        albg,
        albv,
        canopy,
    }
}

/// Rebuild a state from `d` in [`FIELDS`] order.
pub fn unpack(d: &[f64]) -> Result<ColmState, LsmError> {
    if d.len() != width() {
        return Err(LsmError::Restart(format!(
            "CoLM restart vector has {} values, expected {}",
            d.len(),
            width()
        )));
    }
    let mut r = Reader { d, at: 0 };
    let layers = read_layers(&mut r)?;
    let snow = ThinSnow {
        scv: r.one(),
        snowdp: r.one(),
    };
    let canopy = super::super::energy_balance::CanopyState {
        tlsun: r.one(),
        tlsha: r.one(),
        ldew: r.one(),
    };
    let [zwt, wa, sag, fsno, sigf, wt, lai, sai, fveg, green, coszen] = r.arr();
    let albedo = read_albedo(&mut r);
    let fresh = r.one() != 0.0;
    let column = ColumnState {
        layers,
        snow,
        canopy,
        zwt,
        wa,
        sag,
        fsno,
        sigf,
        wt,
        lai,
        sai,
        fveg,
        green,
        coszen,
        albedo,
    };
    Ok(ColmState { column, fresh })
}
