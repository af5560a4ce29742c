//! The CoLM point forcing: the per-step CSV of the Noah Bondville case as passed to the
//! physics (`forcing_as_used.csv`, plain or `.xz`): `step,date,...` with the columns
//! SFCSPD_m_s, SFCTMP_K, Q2_kg_kg, SFCPRS_Pa, SOLDN_W_m2, LWDOWN_W_m2, PRCP_kg_m2_s (others
//! ignored); the date `YYYYMMDDHHMM` (UTC) is the start of the step.

use super::PointError;
use crate::lsm::colm::column_step::Forcing;
use chrono::NaiveDateTime;
use std::io::Read;
use std::path::Path;

/// One record: its date, its line in the file (1-based) and the forcing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColmRecord {
    pub date: NaiveDateTime,
    pub line: usize,
    pub forcing: Forcing,
}

const COLUMNS: [&str; 7] = [
    "SFCTMP_K",
    "Q2_kg_kg",
    "SFCPRS_Pa",
    "LWDOWN_W_m2",
    "SOLDN_W_m2",
    "PRCP_kg_m2_s",
    "SFCSPD_m_s",
];

/// Reads the forcing file (decompressing `.xz`).
pub fn read_colm_forcing(path: &Path) -> Result<Vec<ColmRecord>, PointError> {
    let io = |source| PointError::Io {
        path: path.to_path_buf(),
        source,
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let mut text = String::new();
    if path.extension().is_some_and(|e| e == "xz") {
        xz2::read::XzDecoder::new(f)
            .read_to_string(&mut text)
            .map_err(io)?;
    } else {
        std::io::BufReader::new(f)
            .read_to_string(&mut text)
            .map_err(io)?;
    }
    parse_colm_forcing(&text, &path.display().to_string())
}

/// Parses the forcing text; `file` names it in errors.
pub fn parse_colm_forcing(text: &str, file: &str) -> Result<Vec<ColmRecord>, PointError> {
    let at = |line: usize, msg: String| PointError::ForcingFormat {
        file: file.to_string(),
        line,
        msg,
    };
    let mut lines = text.lines().enumerate();
    let (_, header) = lines.next().ok_or_else(|| at(1, "empty file".into()))?;
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    let find = |n: &str| {
        names
            .iter()
            .position(|h| *h == n)
            .ok_or_else(|| at(1, format!("no column {n} in the header")))
    };
    let date_col = find("date")?;
    let idx: Vec<usize> = COLUMNS.iter().map(|n| find(n)).collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for (i, l) in lines {
        if l.trim().is_empty() {
            continue;
        }
        let line = i + 1;
        let cells: Vec<&str> = l.split(',').map(str::trim).collect();
        if cells.len() != names.len() {
            return Err(at(
                line,
                format!("{} fields, the header has {}", cells.len(), names.len()),
            ));
        }
        let date = NaiveDateTime::parse_from_str(cells[date_col], "%Y%m%d%H%M").map_err(|_| {
            at(
                line,
                format!("date '{}' is not YYYYMMDDHHMM", cells[date_col]),
            )
        })?;
        let mut v = [0.0; 7];
        for (k, &c) in idx.iter().enumerate() {
            v[k] = cells[c]
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| {
                    at(
                        line,
                        format!("{} = '{}' is not a number", COLUMNS[k], cells[c]),
                    )
                })?;
        }
        let forcing = Forcing {
            t: v[0],
            q: v[1],
            psrf: v[2],
            frl: v[3],
            sw: v[4],
            prcp: v[5],
            wind: v[6],
        };
        check(&forcing).map_err(|m| at(line, m))?;
        out.push(ColmRecord {
            date,
            line,
            forcing,
        });
    }
    Ok(out)
}

/// Values no physical forcing has.
fn check(f: &Forcing) -> Result<(), String> {
    let bad = [
        ("SFCTMP_K", f.t, f.t > 100.0 && f.t < 400.0),
        ("Q2_kg_kg", f.q, (0.0..0.1).contains(&f.q)),
        ("SFCPRS_Pa", f.psrf, f.psrf > 1e4 && f.psrf < 1.2e5),
        ("LWDOWN_W_m2", f.frl, (0.0..1000.0).contains(&f.frl)),
        ("SOLDN_W_m2", f.sw, (0.0..1500.0).contains(&f.sw)),
        ("PRCP_kg_m2_s", f.prcp, (0.0..1.0).contains(&f.prcp)),
        ("SFCSPD_m_s", f.wind, (0.0..100.0).contains(&f.wind)),
    ];
    match bad.iter().find(|b| !b.2) {
        Some((n, v, _)) => Err(format!("{n} = {v} is outside its physical range")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "step,date,SFCSPD_m_s,SFCTMP_K,RH_frac,Q2_kg_kg,SFCPRS_Pa,SOLDN_W_m2,LWDOWN_W_m2,PRCP_kg_m2_s";

    #[test]
    fn reads_records_and_names_bad_lines() {
        let ok =
            format!("{HEAD}\n1,199801010630,5.63E+00,2.6395E+02,0.86,1.6E-03,1.002E+05,0,281,0\n");
        let r = parse_colm_forcing(&ok, "f.csv").unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].forcing.t, 263.95);
        assert_eq!(r[0].forcing.wind, 5.63);
        assert_eq!(r[0].date.format("%H%M").to_string(), "0630");
        let bad = format!("{HEAD}\n1,199801010630,5.63,263.95,0.86,1.6E-03,1.002E+05,0,281,x\n");
        let e = parse_colm_forcing(&bad, "f.csv").unwrap_err().to_string();
        assert!(
            e.starts_with("f.csv:2:") && e.contains("PRCP_kg_m2_s"),
            "{e}"
        );
        let neg = format!("{HEAD}\n1,199801010630,5.63,263.95,0.86,1.6E-03,1.002E+05,-5,281,0\n");
        let e = parse_colm_forcing(&neg, "f.csv").unwrap_err().to_string();
        assert!(e.contains("f.csv:2:") && e.contains("SOLDN"), "{e}");
        let e = parse_colm_forcing("step,date\n", "f.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("f.csv:1:") && e.contains("SFCTMP_K"), "{e}");
    }
}
