//! Reader of WRF-format SOILPARM.TBL, VEGPARM.TBL and GENPARM.TBL.
//!
//! WRF reads these files with Fortran list-directed input: values are separated by commas
//! and/or blanks, strings are quoted, and a record may hold more values than are read (the
//! rest is ignored). The layout per dataset is: a title line, the dataset name, a line
//! `count, index, 'COLUMN NAMES'`, then one row per class `class, values..., 'description'`;
//! VEGPARM adds `NAME` / value line pairs (TOPT_DATA, ..., NATURAL, and in WRF 4.x CROP,
//! LCZ_*, URBAN) after each dataset. Datasets whose column header names another layout
//! (the RUC LSM's "STAS-RUC", "USGS-RUC", "MODI-RUC") are skipped.

use super::{
    GeneralParams, SoilDataset, SoilParams, TableError, VegetationDataset, VegetationParams,
};

/// Column names of the Noah soil layout, in the order WRF reads them.
pub(super) const SOIL_COLUMNS: [&str; 10] = [
    "bb", "drysmc", "f11", "maxsmc", "refsmc", "satpsi", "satdk", "satdw", "wltsmc", "qtz",
];
/// Column names of the Noah vegetation layout, in the order WRF reads them.
pub(super) const VEG_COLUMNS: [&str; 15] = [
    "shdfac",
    "nroot",
    "rs",
    "rgl",
    "hs",
    "snup",
    "maxalb",
    "laimin",
    "laimax",
    "emissmin",
    "emissmax",
    "albedomin",
    "albedomax",
    "z0min",
    "z0max",
];

/// One list-directed value: its text and whether it was quoted.
#[derive(Debug, Clone)]
struct Token {
    text: String,
    quoted: bool,
}

/// Splits one record into list-directed values. An unquoted `/` ends the record.
fn tokenize(line: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    // Whether the last separator was a comma with no value since: two commas in a row are a
    // Fortran "null value", which would leave the WRF variable undefined; reject it.
    let mut after_comma = false;
    loop {
        while matches!(chars.peek(), Some(c) if c.is_whitespace()) {
            chars.next();
        }
        match chars.peek().copied() {
            None | Some('/') => break,
            Some(',') => {
                if after_comma || out.is_empty() {
                    return Err("empty value between commas".into());
                }
                after_comma = true;
                chars.next();
            }
            Some(q @ ('\'' | '"')) => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return Err(format!("unterminated string starting with {q}")),
                        Some(c) if c == q => {
                            if chars.peek() == Some(&q) {
                                s.push(q);
                                chars.next();
                            } else {
                                break;
                            }
                        }
                        Some(c) => s.push(c),
                    }
                }
                out.push(Token {
                    text: s,
                    quoted: true,
                });
                after_comma = false;
            }
            Some(_) => {
                let mut s = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == ',' || c == '/' {
                        break;
                    }
                    s.push(c);
                    chars.next();
                }
                out.push(Token {
                    text: s,
                    quoted: false,
                });
                after_comma = false;
            }
        }
    }
    Ok(out)
}

/// A Fortran real constant (`2.00E+6`, `.10`, `200.`, `1.0D0`), finite.
pub(super) fn parse_real(text: &str) -> Option<f64> {
    let t = text.replace(['d', 'D'], "e");
    let first = t.chars().next()?;
    if !(first.is_ascii_digit() || matches!(first, '+' | '-' | '.')) {
        return None; // rejects inf/nan spellings
    }
    t.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn parse_int(text: &str) -> Option<i64> {
    text.parse::<i64>().ok()
}

/// Lines of one table file with 1-based numbers, blank lines dropped (list-directed reads
/// skip blank records while looking for values).
struct Lines<'a> {
    file: &'a str,
    lines: Vec<(usize, &'a str)>,
    pos: usize,
    last_line: usize,
}

impl<'a> Lines<'a> {
    fn new(file: &'a str, text: &'a str) -> Self {
        let all: Vec<&str> = text.lines().collect();
        let lines = all
            .iter()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| (i + 1, *l))
            .collect();
        Lines {
            file,
            lines,
            pos: 0,
            last_line: all.len(),
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.lines.len()
    }

    fn peek(&self) -> Option<(usize, &'a str)> {
        self.lines.get(self.pos).copied()
    }

    fn peek_at(&self, k: usize) -> Option<(usize, &'a str)> {
        self.lines.get(self.pos + k).copied()
    }

    /// Next non-blank line; `what` describes what was expected for the end-of-file error.
    fn next(&mut self, what: &str) -> Result<(usize, &'a str), TableError> {
        match self.peek() {
            Some(l) => {
                self.pos += 1;
                Ok(l)
            }
            None => Err(self.err(
                self.last_line + 1,
                format!("unexpected end of file: expected {what}"),
            )),
        }
    }

    fn next_tokens(&mut self, what: &str) -> Result<(usize, Vec<Token>), TableError> {
        let (n, l) = self.next(what)?;
        let toks = tokenize(l).map_err(|m| self.err(n, m))?;
        if toks.is_empty() {
            return Err(self.err(n, format!("expected {what}, found no value")));
        }
        Ok((n, toks))
    }

    fn err(&self, line: usize, message: impl Into<String>) -> TableError {
        TableError::Parse {
            file: self.file.to_string(),
            line,
            message: message.into(),
        }
    }
}

/// The dataset header shared by SOILPARM and VEGPARM: title (ignored, as WRF ignores it),
/// dataset name, class count and the optional quoted column-name list.
struct DatasetHeader {
    name: String,
    name_line: usize,
    count: usize,
    columns: Option<Vec<String>>,
}

fn read_dataset_header(lines: &mut Lines, kind: &str) -> Result<DatasetHeader, TableError> {
    lines.next(&format!("{kind} parameters title line"))?;
    let (name_line, toks) = lines.next_tokens(&format!("{kind} dataset name"))?;
    let name = toks[0].text.clone();
    let (n, toks) = lines.next_tokens(&format!("class count of {kind} dataset '{name}'"))?;
    let count = parse_int(&toks[0].text)
        .filter(|&c| c >= 1 && !toks[0].quoted)
        .ok_or_else(|| {
            lines.err(
                n,
                format!(
                    "bad class count '{}' of {kind} dataset '{name}'",
                    toks[0].text
                ),
            )
        })? as usize;
    let columns = toks.iter().find(|t| t.quoted).map(|t| {
        t.text
            .split_whitespace()
            .map(|s| s.to_ascii_lowercase())
            .collect()
    });
    Ok(DatasetHeader {
        name,
        name_line,
        count,
        columns,
    })
}

/// Whether a dataset uses the Noah layout: no column list (WRF reads by position) or one that
/// starts with the Noah columns.
fn is_noah_layout(columns: &Option<Vec<String>>, expected: &[&str]) -> bool {
    match columns {
        None => true,
        Some(c) => c.len() >= expected.len() && c.iter().zip(expected).all(|(a, b)| a == b),
    }
}

/// A class row: line number, the unquoted values after the class number, the description.
struct ClassRow {
    line: usize,
    values: Vec<String>,
    name: String,
}

/// One class row: checks the class number and returns the numeric values and the description.
fn read_class_row(
    lines: &mut Lines,
    dataset: &str,
    class: usize,
    count: usize,
    min_values: usize,
) -> Result<ClassRow, TableError> {
    let what = format!("row of class {class} of {count} in dataset '{dataset}'");
    let (n, toks) = lines.next_tokens(&what)?;
    match parse_int(&toks[0].text) {
        Some(c) if c == class as i64 && !toks[0].quoted => {}
        _ => {
            return Err(lines.err(
                n,
                format!(
                    "expected {what} starting with {class}, found '{}'",
                    toks[0].text
                ),
            ))
        }
    }
    let mut values = Vec::new();
    let mut name = String::new();
    for t in &toks[1..] {
        if t.quoted {
            name = t.text.trim().to_string();
            break;
        }
        values.push(t.text.clone());
    }
    if values.len() < min_values {
        return Err(lines.err(
            n,
            format!(
                "class {class} of dataset '{dataset}': expected {min_values} values, found {}",
                values.len()
            ),
        ));
    }
    Ok(ClassRow {
        line: n,
        values,
        name,
    })
}

fn real_at(
    lines: &Lines,
    n: usize,
    dataset: &str,
    class: usize,
    col: &str,
    text: &str,
) -> Result<f64, TableError> {
    parse_real(text).ok_or_else(|| {
        lines.err(
            n,
            format!(
                "bad number '{text}' for {} of class {class} in dataset '{dataset}'",
                col.to_ascii_uppercase()
            ),
        )
    })
}

/// Values past the Noah columns, named from the header (or `column_K`, 1-based after the class).
fn extra_values(
    lines: &Lines,
    n: usize,
    dataset: &str,
    class: usize,
    columns: &Option<Vec<String>>,
    values: &[String],
    skip: usize,
) -> Result<Vec<(String, f64)>, TableError> {
    let mut out = Vec::new();
    for (k, text) in values.iter().enumerate().skip(skip) {
        let name = columns
            .as_ref()
            .and_then(|c| c.get(k).cloned())
            .unwrap_or_else(|| format!("column_{}", k + 1));
        out.push((
            name.clone(),
            real_at(lines, n, dataset, class, &name, text)?,
        ));
    }
    Ok(out)
}

fn check_duplicate(lines: &Lines, names: &[&str], h: &DatasetHeader) -> Result<(), TableError> {
    if names.contains(&h.name.as_str()) {
        return Err(lines.err(h.name_line, format!("dataset '{}' appears twice", h.name)));
    }
    Ok(())
}

/// The header of the next dataset (not a repeat of one in `seen`) and whether it has the
/// Noah column layout `columns`.
fn next_dataset(
    lines: &mut Lines,
    kind: &str,
    seen: &[&str],
    columns: &[&str],
) -> Result<(DatasetHeader, bool), TableError> {
    let h = read_dataset_header(lines, kind)?;
    check_duplicate(lines, seen, &h)?;
    let noah = is_noah_layout(&h.columns, columns);
    Ok((h, noah))
}

/// The class rows of dataset `h`: `build(lines, row, class)` for each row of a Noah-layout
/// dataset (`n_columns` values at least); rows of another layout are read and skipped.
fn read_classes<C>(
    lines: &mut Lines,
    h: &DatasetHeader,
    noah: bool,
    n_columns: usize,
    mut build: impl FnMut(&Lines, ClassRow, usize) -> Result<C, TableError>,
) -> Result<Vec<C>, TableError> {
    let mut classes = Vec::with_capacity(h.count);
    let min = if noah { n_columns } else { 0 };
    for class in 1..=h.count {
        let row = read_class_row(lines, &h.name, class, h.count, min)?;
        if noah {
            classes.push(build(lines, row, class)?);
        }
    }
    Ok(classes)
}

/// Parses the text of a WRF SOILPARM.TBL; `file` names it in errors.
pub(super) fn parse_soilparm(file: &str, text: &str) -> Result<Vec<SoilDataset>, TableError> {
    let mut lines = Lines::new(file, text);
    let mut out: Vec<SoilDataset> = Vec::new();
    while !lines.at_end() {
        let seen: Vec<&str> = out.iter().map(|d| d.name.as_str()).collect();
        let (h, noah) = next_dataset(&mut lines, "soil", &seen, &SOIL_COLUMNS)?;
        let classes = read_classes(
            &mut lines,
            &h,
            noah,
            SOIL_COLUMNS.len(),
            |lines,
             ClassRow {
                 line: n,
                 values: v,
                 name,
             },
             class| {
                let mut x = [0.0; 10];
                for (k, col) in SOIL_COLUMNS.iter().enumerate() {
                    x[k] = real_at(lines, n, &h.name, class, col, &v[k])?;
                }
                Ok(SoilParams::from_columns(
                    name,
                    x,
                    extra_values(lines, n, &h.name, class, &h.columns, &v, SOIL_COLUMNS.len())?,
                ))
            },
        )?;
        if noah {
            out.push(SoilDataset {
                name: h.name,
                classes,
            });
        }
    }
    if out.is_empty() {
        return Err(TableError::Missing {
            file: file.to_string(),
            message: "no soil dataset with the Noah columns (BB DRYSMC F11 MAXSMC ...)".into(),
        });
    }
    Ok(out)
}

/// Parses the text of a WRF VEGPARM.TBL; `file` names it in errors.
pub(super) fn parse_vegparm(file: &str, text: &str) -> Result<Vec<VegetationDataset>, TableError> {
    let mut lines = Lines::new(file, text);
    let mut out: Vec<VegetationDataset> = Vec::new();
    while !lines.at_end() {
        let seen: Vec<&str> = out.iter().map(|d| d.name.as_str()).collect();
        let (h, noah) = next_dataset(&mut lines, "vegetation", &seen, &VEG_COLUMNS)?;
        let classes = read_classes(
            &mut lines,
            &h,
            noah,
            VEG_COLUMNS.len(),
            |lines,
             ClassRow {
                 line: n,
                 values: v,
                 name,
             },
             class| {
                let nroot = parse_int(&v[1]).filter(|&r| r >= 0).ok_or_else(|| {
                    lines.err(
                        n,
                        format!(
                            "bad integer '{}' for NROOT of class {class} in dataset '{}'",
                            v[1], h.name
                        ),
                    )
                })? as usize;
                let mut x = [0.0; 15];
                for (k, col) in VEG_COLUMNS.iter().enumerate() {
                    if k != 1 {
                        x[k] = real_at(lines, n, &h.name, class, col, &v[k])?;
                    }
                }
                Ok(VegetationParams::from_columns(
                    name,
                    x,
                    nroot,
                    extra_values(lines, n, &h.name, class, &h.columns, &v, VEG_COLUMNS.len())?,
                ))
            },
        )?;
        // Table-level scalars: NAME line then value line, until the next dataset title.
        let mut scalars: Vec<(String, f64, usize, String)> = Vec::new();
        while let (Some((n, name_line)), Some((vn, value_line))) = (lines.peek(), lines.peek_at(1))
        {
            let nt = tokenize(name_line).map_err(|m| lines.err(n, m))?;
            let is_name = nt.len() == 1 && !nt[0].quoted && parse_real(&nt[0].text).is_none();
            let vt = tokenize(value_line).map_err(|m| lines.err(vn, m))?;
            let value_is_number = vt
                .first()
                .map(|t| !t.quoted && parse_real(&t.text).is_some());
            if !(is_name && value_is_number == Some(true)) {
                break;
            }
            lines.pos += 2;
            scalars.push((
                nt[0].text.to_ascii_lowercase(),
                parse_real(&vt[0].text).unwrap_or(f64::NAN),
                vn,
                vt[0].text.clone(),
            ));
        }
        if !noah {
            continue;
        }
        let get = |key: &str| -> Result<&(String, f64, usize, String), TableError> {
            scalars.iter().find(|s| s.0 == key).ok_or_else(|| {
                lines.err(
                    h.name_line,
                    format!(
                        "vegetation dataset '{}' lacks {} (expected after its class rows)",
                        h.name,
                        key.to_ascii_uppercase()
                    ),
                )
            })
        };
        let class_number = |key: &str| -> Result<usize, TableError> {
            let s = get(key)?;
            parse_int(&s.3)
                .filter(|&c| c >= 1 && c as usize <= h.count)
                .map(|c| c as usize)
                .ok_or_else(|| {
                    lines.err(
                        s.2,
                        format!(
                            "{} of dataset '{}' must be a class number in 1..={}, found '{}'",
                            key.to_ascii_uppercase(),
                            h.name,
                            h.count,
                            s.3
                        ),
                    )
                })
        };
        const KNOWN: [&str; 6] = [
            "topt_data",
            "cmcmax_data",
            "cfactr_data",
            "rsmax_data",
            "bare",
            "natural",
        ];
        let ds = VegetationDataset {
            topt: get("topt_data")?.1,
            cmcmax: get("cmcmax_data")?.1,
            cfactr: get("cfactr_data")?.1,
            rsmax: get("rsmax_data")?.1,
            bare: class_number("bare")?,
            natural: class_number("natural")?,
            extra: scalars
                .iter()
                .filter(|s| !KNOWN.contains(&s.0.as_str()))
                .map(|s| (s.0.trim_end_matches("_data").to_string(), s.1))
                .collect(),
            name: h.name.clone(),
            classes,
        };
        out.push(ds);
    }
    if out.is_empty() {
        return Err(TableError::Missing {
            file: file.to_string(),
            message: "no vegetation dataset with the Noah columns (SHDFAC NROOT RS ...)".into(),
        });
    }
    Ok(out)
}

/// Parses the text of a WRF GENPARM.TBL; `file` names it in errors.
pub(super) fn parse_genparm(file: &str, text: &str) -> Result<GeneralParams, TableError> {
    let mut lines = Lines::new(file, text);
    lines.next("general parameters title line")?;
    let mut slope: Option<Vec<f64>> = None;
    let mut scalars: Vec<(String, f64)> = Vec::new();
    while !lines.at_end() {
        let (n, toks) = lines.next_tokens("parameter name")?;
        let key = toks[0].text.to_ascii_lowercase();
        if toks.len() != 1 || toks[0].quoted || parse_real(&key).is_some() {
            return Err(lines.err(
                n,
                format!("expected a parameter name, found '{}'", toks[0].text),
            ));
        }
        if scalars.iter().any(|s| s.0 == key) || (key == "slope_data" && slope.is_some()) {
            return Err(lines.err(n, format!("{} appears twice", toks[0].text)));
        }
        let mut value = |what: &str| -> Result<(usize, String), TableError> {
            let (vn, vt) = lines.next_tokens(what)?;
            Ok((vn, vt[0].text.clone()))
        };
        if key == "slope_data" {
            let (vn, t) = value("number of SLOPE_DATA values")?;
            let count = parse_int(&t)
                .filter(|&c| c >= 1)
                .ok_or_else(|| lines.err(vn, format!("bad SLOPE_DATA count '{t}'")))?;
            let mut v = Vec::with_capacity(count as usize);
            for k in 1..=count {
                let (vn, t) = lines
                    .next_tokens(&format!("SLOPE_DATA value {k} of {count}"))
                    .map(|(vn, vt)| (vn, vt[0].text.clone()))?;
                v.push(parse_real(&t).ok_or_else(|| {
                    lines.err(vn, format!("bad number '{t}' for SLOPE_DATA value {k}"))
                })?);
            }
            slope = Some(v);
        } else {
            let (vn, t) = value(&format!("value of {}", toks[0].text))?;
            let v = parse_real(&t)
                .ok_or_else(|| lines.err(vn, format!("bad number '{t}' for {}", toks[0].text)))?;
            scalars.push((key, v));
        }
    }
    let missing = |what: &str| TableError::Missing {
        file: file.to_string(),
        message: format!("{what} not found"),
    };
    let get = |key: &str| -> Result<f64, TableError> {
        scalars
            .iter()
            .find(|s| s.0 == key)
            .map(|s| s.1)
            .ok_or_else(|| missing(&key.to_ascii_uppercase()))
    };
    const KNOWN: [&str; 12] = [
        "sbeta_data",
        "fxexp_data",
        "csoil_data",
        "salp_data",
        "refdk_data",
        "refkdt_data",
        "frzk_data",
        "zbot_data",
        "czil_data",
        "smlow_data",
        "smhigh_data",
        "lvcoef_data",
    ];
    Ok(GeneralParams {
        slope_data: slope.ok_or_else(|| missing("SLOPE_DATA"))?,
        sbeta: get("sbeta_data")?,
        fxexp: get("fxexp_data")?,
        csoil: get("csoil_data")?,
        salp: get("salp_data")?,
        refdk: get("refdk_data")?,
        refkdt: get("refkdt_data")?,
        frzk: get("frzk_data")?,
        zbot: get("zbot_data")?,
        czil: get("czil_data")?,
        smlow: get("smlow_data")?,
        smhigh: get("smhigh_data")?,
        lvcoef: get("lvcoef_data")?,
        extra: scalars
            .iter()
            .filter(|s| !KNOWN.contains(&s.0.as_str()))
            .map(|s| (s.0.trim_end_matches("_data").to_string(), s.1))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_directed_tokens() {
        let t = tokenize("11      .60,   2,  55.97   0.015 , 'Permanent wetlands' x").unwrap();
        let texts: Vec<&str> = t.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "11",
                ".60",
                "2",
                "55.97",
                "0.015",
                "Permanent wetlands",
                "x"
            ]
        );
        assert!(t[5].quoted && !t[4].quoted);
        assert!(tokenize("1,,2").is_err());
        assert!(tokenize("1, 'abc").is_err());
        assert_eq!(tokenize("1 2 / 3").unwrap().len(), 2);
        assert_eq!(parse_real("2.00E+6"), Some(2.0e6));
        assert_eq!(parse_real("1.0D-3"), Some(1.0e-3));
        assert_eq!(parse_real("200."), Some(200.0));
        assert_eq!(parse_real("inf"), None);
        assert_eq!(parse_real("1.2.3"), None);
    }
}
