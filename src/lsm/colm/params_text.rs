//! The per-layer parameter listing of a CoLM point case (the format of
//! `params_bondville.txt`): a table of the ten model layers (geometry, hydraulic and thermal
//! parameters, root fractions, initial temperature and water), a table of the raw texture
//! layers, and `names = values` lines of scalars. Text in, values out: the caller reads the
//! file and names it in errors.

use super::constants::NSOIL;
use super::geometry::SoilGeometry;
use super::params::SoilParams;
use std::collections::BTreeMap;
use thiserror::Error;

/// A line of the listing that cannot be used (1-based line number).
#[derive(Debug, Error, PartialEq)]
#[error("line {line}: {msg}")]
pub struct ParamsTextError {
    pub line: usize,
    pub msg: String,
}

/// Number of values on a model-layer row after the layer number.
const LAYER_COLUMNS: usize = 14;
/// Number of values on a raw-layer row after the layer number: sand, clay, soc, bd, gravel,
/// soil depth.
const RAW_COLUMNS: usize = 6;

/// Everything the listing holds.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamsListing {
    /// Layer geometry as listed (m).
    pub geometry: SoilGeometry,
    /// Hydraulic and thermal parameters per layer.
    pub soil: SoilParams,
    /// Root fraction per layer (-).
    pub rootfr: [f64; NSOIL],
    /// Initial temperature (K), liquid and ice water (kg m-2) per layer.
    pub t0: [f64; NSOIL],
    pub wliq0: [f64; NSOIL],
    pub wice0: [f64; NSOIL],
    /// Raw texture layers: sand, clay, organic carbon (% weight), bulk density (g cm-3),
    /// gravel (% volume), depth (cm).
    pub raw: Vec<[f64; RAW_COLUMNS]>,
    /// Scalars by name (`zwt`, `wa`, `wtfact`, `initial_lai`, `alb(1,1)`, ...).
    pub scalars: BTreeMap<String, f64>,
}

impl ParamsListing {
    /// A scalar that must be present.
    pub fn scalar(&self, name: &str) -> Result<f64, ParamsTextError> {
        self.scalars.get(name).copied().ok_or(ParamsTextError {
            line: 0,
            msg: format!("no value named '{name}' in the listing"),
        })
    }
}

fn numbers(tokens: &[&str], line: usize) -> Result<Vec<f64>, ParamsTextError> {
    tokens
        .iter()
        .map(|t| {
            // Fortran list output may write exponents as D.
            t.replace(['D', 'd'], "E")
                .parse::<f64>()
                .map_err(|_| ParamsTextError {
                    line,
                    msg: format!("'{t}' is not a number"),
                })
        })
        .collect()
}

/// `a b c = 1 2 3` → a=1, b=2, c=3. Bracketed unit tokens (`[m]`, `(USGS)`) are dropped; a
/// leading `initial` becomes a prefix. Lines whose names and values do not pair up one to one
/// carry no scalars this reader knows and are skipped.
fn scalar_line(
    text: &str,
    line: usize,
    out: &mut BTreeMap<String, f64>,
) -> Result<(), ParamsTextError> {
    if text.matches('=').count() != 1 {
        return Ok(());
    }
    let (lhs, rhs) = text.split_once('=').unwrap_or_default();
    let mut names: Vec<&str> = lhs
        .split_whitespace()
        .filter(|t| !t.starts_with('[') && !t.starts_with('('))
        .collect();
    let prefix = if names.first() == Some(&"initial") {
        names.remove(0);
        "initial_"
    } else {
        ""
    };
    let values = numbers(&rhs.split_whitespace().collect::<Vec<_>>(), line)?;
    if names.len() != values.len() {
        return Ok(());
    }
    for (n, v) in names.into_iter().zip(values) {
        out.insert(format!("{prefix}{n}"), v);
    }
    Ok(())
}

fn layer_row(vals: &[f64], j: usize, l: &mut ParamsListing) {
    l.geometry.z[j] = vals[0];
    l.geometry.dz[j] = vals[1];
    l.geometry.zi[j] = vals[2];
    l.soil.porsl[j] = vals[3];
    l.soil.psi0[j] = vals[4];
    l.soil.bsw[j] = vals[5];
    l.soil.hksati[j] = vals[6];
    l.soil.csol[j] = vals[7];
    l.soil.dksatu[j] = vals[8];
    l.soil.dkdry[j] = vals[9];
    l.rootfr[j] = vals[10];
    l.t0[j] = vals[11];
    l.wliq0[j] = vals[12];
    l.wice0[j] = vals[13];
}

#[derive(PartialEq)]
enum Section {
    Head,
    Layers,
    Raw,
}

/// Parse the listing. Every model layer 1..10 must appear exactly once.
pub fn parse_params(text: &str) -> Result<ParamsListing, ParamsTextError> {
    let zero = [0.0; NSOIL];
    let mut l = ParamsListing {
        geometry: SoilGeometry {
            z: zero,
            dz: zero,
            zi: zero,
        },
        soil: SoilParams::uniform(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
        rootfr: zero,
        t0: zero,
        wliq0: zero,
        wice0: zero,
        raw: Vec::new(),
        scalars: BTreeMap::new(),
    };
    let mut seen = [false; NSOIL];
    let mut section = Section::Head;
    for (i, raw_line) in text.lines().enumerate() {
        let line = i + 1;
        let t = raw_line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if t.starts_with("layer ") {
            section = Section::Layers;
            continue;
        }
        if t.starts_with("raw layer") {
            section = Section::Raw;
            continue;
        }
        let first_is_int = t
            .split_whitespace()
            .next()
            .is_some_and(|w| w.parse::<usize>().is_ok());
        if !first_is_int || t.contains('=') {
            section = Section::Head;
            scalar_line(t, line, &mut l.scalars)?;
            continue;
        }
        let tokens: Vec<&str> = t.split_whitespace().collect();
        let k: usize = tokens[0].parse().unwrap_or(0);
        let vals = numbers(&tokens[1..], line)?;
        match section {
            Section::Layers => {
                if vals.len() != LAYER_COLUMNS {
                    return Err(ParamsTextError {
                        line,
                        msg: format!(
                            "layer row needs {LAYER_COLUMNS} values, found {}",
                            vals.len()
                        ),
                    });
                }
                if !(1..=NSOIL).contains(&k) || seen[k - 1] {
                    return Err(ParamsTextError {
                        line,
                        msg: format!("layer {k} out of 1..{NSOIL} or repeated"),
                    });
                }
                seen[k - 1] = true;
                layer_row(&vals, k - 1, &mut l);
            }
            Section::Raw => {
                let row: [f64; RAW_COLUMNS] =
                    vals.as_slice().try_into().map_err(|_| ParamsTextError {
                        line,
                        msg: format!(
                            "raw-layer row needs {RAW_COLUMNS} values, found {}",
                            vals.len()
                        ),
                    })?;
                l.raw.push(row);
            }
            Section::Head => {
                return Err(ParamsTextError {
                    line,
                    msg: "a numbered row outside a table".into(),
                })
            }
        }
    }
    if let Some(j) = seen.iter().position(|s| !s) {
        return Err(ParamsTextError {
            line: 0,
            msg: format!("model layer {} is missing", j + 1),
        });
    }
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> String {
        let mut s =
            String::from("# header\nzlnd wtfact = 1.0E-2 3.8E-1\ninitial zwt wa = 4.4 4800\n");
        s.push_str("layer z dz zi ...\n");
        for j in 1..=NSOIL {
            s.push_str(&format!(
                "{j} 0.1 0.2 0.3 0.45 -500 8 1e-3 2.3e6 1.6 0.18 0.1 270 {} 0\n",
                j as f64
            ));
        }
        s.push_str("raw layer sand clay\n 1 10 34 1 1.4 0 1.75\n");
        s
    }

    #[test]
    fn reads_tables_and_scalars() {
        let l = parse_params(&sample()).unwrap();
        assert_eq!(l.scalar("wtfact").unwrap(), 0.38);
        assert_eq!(l.scalar("initial_wa").unwrap(), 4800.0);
        assert_eq!(l.wliq0[9], 10.0);
        assert_eq!(l.soil.psi0[3], -500.0);
        assert_eq!(l.raw.len(), 1);
    }

    #[test]
    fn bad_number_and_missing_layer_name_the_line() {
        let s = sample().replace("1e-3 2.3e6", "1e-3 x");
        let e = parse_params(&s).unwrap_err();
        assert_eq!(e.line, 5);
        let s: String = sample()
            .lines()
            .filter(|l| !l.starts_with("7 "))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(parse_params(&s).unwrap_err().msg.contains("layer 7"));
    }
}
