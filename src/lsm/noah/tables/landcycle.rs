//! landcycle's own parameter table format (format 1), described in docs/tables.md.
//!
//! ```text
//! # comment lines start with '#'
//! format = landcycle-table 1
//! table = vegetation              (soil | vegetation | general)
//! dataset = USGS                  (soil and vegetation only)
//! source = free text              (provenance, not interpreted)
//! topt [K] = 298                  (numeric scalars: name [unit] = value)
//! columns = class, shdfac [-], nroot [-], ..., name
//! 1, 0.1, 1, ..., Urban and Built-Up Land
//! ```
//!
//! Units are part of the file so that it describes itself; the reader checks them against the
//! units of the known parameters. Numbers are written in the shortest form that reads back to
//! the same f64, so writing and reading a table is lossless.

use super::wrf::{parse_real, SOIL_COLUMNS, VEG_COLUMNS};
use super::{
    GeneralParams, ParameterTables, SoilDataset, SoilParams, TableError, VegetationDataset,
    VegetationParams,
};
use std::fmt::Write as _;
use std::path::Path;

/// Units of the known soil columns (SOIL_COLUMNS order).
const SOIL_UNITS: [&str; 10] = [
    "-", "m3 m-3", "-", "m3 m-3", "m3 m-3", "m", "m s-1", "m2 s-1", "m3 m-3", "-",
];
/// Units of the known vegetation columns (VEG_COLUMNS order).
const VEG_UNITS: [&str; 15] = [
    "-", "-", "s m-1", "W m-2", "-", "m", "%", "m2 m-2", "m2 m-2", "-", "-", "-", "-", "m", "m",
];
/// Vegetation scalars and units.
const VEG_SCALARS: [(&str, &str); 6] = [
    ("topt", "K"),
    ("cmcmax", "m"),
    ("cfactr", "-"),
    ("rsmax", "s m-1"),
    ("bare", "class"),
    ("natural", "class"),
];
/// General scalars (after slope_data) and units.
const GENERAL_SCALARS: [(&str, &str); 12] = [
    ("sbeta", "-"),
    ("fxexp", "-"),
    ("csoil", "J m-3 K-1"),
    ("salp", "-"),
    ("refdk", "m s-1"),
    ("refkdt", "-"),
    ("frzk", "-"),
    ("zbot", "m"),
    ("czil", "-"),
    ("smlow", "-"),
    ("smhigh", "-"),
    ("lvcoef", "-"),
];

const FORMAT_TAG: &str = "landcycle-table 1";

/// Shortest text that reads back to the same f64.
fn num(v: f64) -> String {
    if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e7) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// `name [unit]` -> (name, Some(unit)); `name` -> (name, None).
fn split_unit(s: &str) -> (String, Option<String>) {
    let s = s.trim();
    match (s.find('['), s.ends_with(']')) {
        (Some(i), true) => (
            s[..i].trim().to_ascii_lowercase(),
            Some(s[i + 1..s.len() - 1].trim().to_string()),
        ),
        _ => (s.to_ascii_lowercase(), None),
    }
}

/// One parsed file before it is interpreted.
struct RawTable {
    file: String,
    kind: String,
    kind_line: usize,
    dataset: Option<(String, usize)>,
    /// (name, unit, value text, line)
    scalars: Vec<(String, Option<String>, String, usize)>,
    /// (name, unit)
    columns: Vec<(String, Option<String>)>,
    columns_line: usize,
    /// (line, fields)
    rows: Vec<(usize, Vec<String>)>,
    last_line: usize,
}

fn perr(file: &str, line: usize, message: impl Into<String>) -> TableError {
    TableError::Parse {
        file: file.to_string(),
        line,
        message: message.into(),
    }
}

fn parse_raw(file: &str, text: &str) -> Result<RawTable, TableError> {
    let mut t = RawTable {
        file: file.to_string(),
        kind: String::new(),
        kind_line: 0,
        dataset: None,
        scalars: Vec::new(),
        columns: Vec::new(),
        columns_line: 0,
        rows: Vec::new(),
        last_line: text.lines().count(),
    };
    let mut format_seen = false;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if t.columns_line > 0 {
            let fields: Vec<String> = line.split(',').map(|f| f.trim().to_string()).collect();
            t.rows.push((n, fields));
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(perr(
                file,
                n,
                format!("expected 'key = value' or a comment, found '{line}'"),
            ));
        };
        let (key, unit) = split_unit(key);
        let value = value.trim().to_string();
        match key.as_str() {
            "format" => {
                if value != FORMAT_TAG {
                    return Err(perr(
                        file,
                        n,
                        format!("unsupported format '{value}' (expected '{FORMAT_TAG}')"),
                    ));
                }
                format_seen = true;
            }
            "table" => {
                t.kind = value;
                t.kind_line = n;
            }
            "dataset" => t.dataset = Some((value, n)),
            "source" => {}
            "columns" => {
                t.columns = value.split(',').map(split_unit).collect();
                t.columns_line = n;
            }
            _ => {
                if t.scalars.iter().any(|s| s.0 == key) {
                    return Err(perr(file, n, format!("'{key}' appears twice")));
                }
                t.scalars.push((key, unit, value, n));
            }
        }
    }
    if !format_seen {
        return Err(perr(
            file,
            1,
            format!("missing 'format = {FORMAT_TAG}' line"),
        ));
    }
    if t.kind.is_empty() {
        return Err(perr(
            file,
            1,
            "missing 'table = soil|vegetation|general' line",
        ));
    }
    Ok(t)
}

impl RawTable {
    fn dataset_name(&self) -> Result<String, TableError> {
        match &self.dataset {
            Some((d, _)) if !d.is_empty() => Ok(d.clone()),
            _ => Err(perr(
                &self.file,
                self.kind_line,
                "missing 'dataset = NAME' line",
            )),
        }
    }

    fn check_unit(
        &self,
        line: usize,
        name: &str,
        unit: &Option<String>,
        expected: &str,
    ) -> Result<(), TableError> {
        match unit {
            Some(u) if u != expected => Err(perr(
                &self.file,
                line,
                format!("unit of '{name}' is [{u}], expected [{expected}]"),
            )),
            _ => Ok(()),
        }
    }

    fn scalar(&self, name: &str, unit: &str) -> Result<f64, TableError> {
        let s = self.scalars.iter().find(|s| s.0 == name).ok_or_else(|| {
            perr(
                &self.file,
                self.kind_line,
                format!("missing scalar '{name} [{unit}] = ...'"),
            )
        })?;
        self.check_unit(s.3, name, &s.1, unit)?;
        parse_real(&s.2).ok_or_else(|| {
            perr(
                &self.file,
                s.3,
                format!("bad number '{}' for '{name}'", s.2),
            )
        })
    }

    fn class_scalar(&self, name: &str, count: usize) -> Result<usize, TableError> {
        let v = self.scalar(name, "class")?;
        let line = self.scalars.iter().find(|s| s.0 == name).map_or(0, |s| s.3);
        if v.fract() != 0.0 || v < 1.0 || v > count as f64 {
            return Err(perr(
                &self.file,
                line,
                format!("'{name}' must be a class number in 1..={count}, found {v}"),
            ));
        }
        Ok(v as usize)
    }

    /// Extra numeric scalars (not in `known`), in file order.
    fn extra_scalars(&self, known: &[&str]) -> Result<Vec<(String, f64)>, TableError> {
        self.scalars
            .iter()
            .filter(|s| !known.contains(&s.0.as_str()))
            .map(|s| {
                parse_real(&s.2).map(|v| (s.0.clone(), v)).ok_or_else(|| {
                    perr(
                        &self.file,
                        s.3,
                        format!("bad number '{}' for '{}'", s.2, s.0),
                    )
                })
            })
            .collect()
    }

    /// Column positions of the class table: `class`, `name`, the known columns, the extras.
    fn layout(
        &self,
        known: &[&str],
        units: &[&str],
    ) -> Result<(usize, usize, Vec<usize>, Vec<usize>), TableError> {
        if self.columns_line == 0 {
            return Err(perr(
                &self.file,
                self.last_line.max(1),
                "missing 'columns = ...' line",
            ));
        }
        let find = |c: &str| self.columns.iter().position(|x| x.0 == c);
        let missing = |c: &str| {
            perr(
                &self.file,
                self.columns_line,
                format!("column '{c}' missing"),
            )
        };
        let class = find("class").ok_or_else(|| missing("class"))?;
        let name = find("name").ok_or_else(|| missing("name"))?;
        let mut pos = Vec::new();
        for (c, u) in known.iter().zip(units) {
            let p = find(c).ok_or_else(|| missing(c))?;
            self.check_unit(self.columns_line, c, &self.columns[p].1, u)?;
            pos.push(p);
        }
        let extra = (0..self.columns.len())
            .filter(|p| *p != class && *p != name && !pos.contains(p))
            .collect();
        for (i, c) in self.columns.iter().enumerate() {
            if self.columns[..i].iter().any(|x| x.0 == c.0) {
                return Err(perr(
                    &self.file,
                    self.columns_line,
                    format!("column '{}' appears twice", c.0),
                ));
            }
        }
        Ok((class, name, pos, extra))
    }

    /// Checks the row count/numbering and yields (line, fields) per class, 1-based order.
    fn class_rows(&self, dataset: &str) -> Result<&[(usize, Vec<String>)], TableError> {
        if self.rows.is_empty() {
            return Err(perr(
                &self.file,
                self.last_line + 1,
                format!("dataset '{dataset}' has no class rows"),
            ));
        }
        for (n, f) in &self.rows {
            if f.len() != self.columns.len() {
                return Err(perr(
                    &self.file,
                    *n,
                    format!(
                        "expected {} fields (see 'columns'), found {}",
                        self.columns.len(),
                        f.len()
                    ),
                ));
            }
        }
        Ok(&self.rows)
    }

    fn real(&self, line: usize, class: usize, col: &str, text: &str) -> Result<f64, TableError> {
        parse_real(text).ok_or_else(|| {
            perr(
                &self.file,
                line,
                format!("bad number '{text}' for '{col}' of class {class}"),
            )
        })
    }
}

/// Parses every row's class number and checks that they run 1, 2, ..., N.
fn check_class_number(
    t: &RawTable,
    n: usize,
    field: &str,
    expected: usize,
) -> Result<(), TableError> {
    if field.parse::<usize>().ok() != Some(expected) {
        return Err(perr(
            &t.file,
            n,
            format!("expected class {expected}, found '{field}'"),
        ));
    }
    Ok(())
}

/// The values of the extra (non-Noah) columns at positions `extra` of a class row, named.
fn extra_values(
    t: &RawTable,
    line: usize,
    class: usize,
    row: &[String],
    extra: &[usize],
) -> Result<Vec<(String, f64)>, TableError> {
    extra
        .iter()
        .map(|&p| {
            Ok((
                t.columns[p].0.clone(),
                t.real(line, class, &t.columns[p].0, &row[p])?,
            ))
        })
        .collect()
}

fn soil_from_raw(t: &RawTable) -> Result<SoilDataset, TableError> {
    let name = t.dataset_name()?;
    let (ci, ni, pos, extra) = t.layout(&SOIL_COLUMNS, &SOIL_UNITS)?;
    let mut classes = Vec::new();
    for (k, (n, f)) in t.class_rows(&name)?.iter().enumerate() {
        let class = k + 1;
        check_class_number(t, *n, &f[ci], class)?;
        let mut x = [0.0; 10];
        for (j, c) in SOIL_COLUMNS.iter().enumerate() {
            x[j] = t.real(*n, class, c, &f[pos[j]])?;
        }
        classes.push(SoilParams::from_columns(
            f[ni].clone(),
            x,
            extra_values(t, *n, class, f, &extra)?,
        ));
    }
    Ok(SoilDataset { name, classes })
}

fn vegetation_from_raw(t: &RawTable) -> Result<VegetationDataset, TableError> {
    let name = t.dataset_name()?;
    let (ci, ni, pos, extra) = t.layout(&VEG_COLUMNS, &VEG_UNITS)?;
    let rows = t.class_rows(&name)?;
    let mut classes = Vec::new();
    for (k, (n, f)) in rows.iter().enumerate() {
        let class = k + 1;
        check_class_number(t, *n, &f[ci], class)?;
        let nroot = f[pos[1]].parse::<usize>().map_err(|_| {
            perr(
                &t.file,
                *n,
                format!("bad integer '{}' for 'nroot' of class {class}", f[pos[1]]),
            )
        })?;
        let mut x = [0.0; 15];
        for (j, c) in VEG_COLUMNS.iter().enumerate() {
            if j != 1 {
                x[j] = t.real(*n, class, c, &f[pos[j]])?;
            }
        }
        classes.push(VegetationParams::from_columns(
            f[ni].clone(),
            x,
            nroot,
            extra_values(t, *n, class, f, &extra)?,
        ));
    }
    let known: Vec<&str> = VEG_SCALARS.iter().map(|s| s.0).collect();
    Ok(VegetationDataset {
        topt: t.scalar("topt", "K")?,
        cmcmax: t.scalar("cmcmax", "m")?,
        cfactr: t.scalar("cfactr", "-")?,
        rsmax: t.scalar("rsmax", "s m-1")?,
        bare: t.class_scalar("bare", classes.len())?,
        natural: t.class_scalar("natural", classes.len())?,
        extra: t.extra_scalars(&known)?,
        name,
        classes,
    })
}

fn general_from_raw(t: &RawTable) -> Result<GeneralParams, TableError> {
    if t.columns_line > 0 {
        return Err(perr(
            &t.file,
            t.columns_line,
            "a general table has no 'columns' line",
        ));
    }
    let s = t
        .scalars
        .iter()
        .find(|s| s.0 == "slope_data")
        .ok_or_else(|| {
            perr(
                &t.file,
                t.kind_line,
                "missing 'slope_data [-] = v1, v2, ...'",
            )
        })?;
    t.check_unit(s.3, "slope_data", &s.1, "-")?;
    let slope_data =
        s.2.split(',')
            .enumerate()
            .map(|(k, v)| {
                parse_real(v.trim()).ok_or_else(|| {
                    perr(
                        &t.file,
                        s.3,
                        format!("bad number '{}' for slope_data value {}", v.trim(), k + 1),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
    let g = |k: usize| t.scalar(GENERAL_SCALARS[k].0, GENERAL_SCALARS[k].1);
    let mut known: Vec<&str> = GENERAL_SCALARS.iter().map(|s| s.0).collect();
    known.push("slope_data");
    Ok(GeneralParams {
        slope_data,
        sbeta: g(0)?,
        fxexp: g(1)?,
        csoil: g(2)?,
        salp: g(3)?,
        refdk: g(4)?,
        refkdt: g(5)?,
        frzk: g(6)?,
        zbot: g(7)?,
        czil: g(8)?,
        smlow: g(9)?,
        smhigh: g(10)?,
        lvcoef: g(11)?,
        extra: t.extra_scalars(&known)?,
    })
}

/// Builds the tables from (file label, text) pairs of landcycle-format files.
pub(super) fn parse_files<'a>(
    files: impl IntoIterator<Item = (String, &'a str)>,
) -> Result<ParameterTables, TableError> {
    let mut soil: Vec<SoilDataset> = Vec::new();
    let mut vegetation: Vec<VegetationDataset> = Vec::new();
    let mut general: Option<GeneralParams> = None;
    let mut labels = Vec::new();
    for (label, text) in files {
        let raw = parse_raw(&label, text)?;
        let dup = |name: &str| {
            perr(
                &label,
                raw.dataset.as_ref().map_or(1, |d| d.1),
                format!("dataset '{name}' is defined twice"),
            )
        };
        match raw.kind.as_str() {
            "soil" => {
                let d = soil_from_raw(&raw)?;
                if soil.iter().any(|x| x.name == d.name) {
                    return Err(dup(&d.name));
                }
                soil.push(d);
            }
            "vegetation" => {
                let d = vegetation_from_raw(&raw)?;
                if vegetation.iter().any(|x| x.name == d.name) {
                    return Err(dup(&d.name));
                }
                vegetation.push(d);
            }
            "general" => {
                if general.is_some() {
                    return Err(perr(
                        &label,
                        raw.kind_line,
                        "a second 'table = general' file",
                    ));
                }
                general = Some(general_from_raw(&raw)?);
            }
            other => {
                return Err(perr(
                    &label,
                    raw.kind_line,
                    format!("unknown table kind '{other}' (expected soil, vegetation or general)"),
                ))
            }
        }
        labels.push(label);
    }
    let missing = |what: &str| TableError::Missing {
        file: labels.join(", "),
        message: format!("no {what} table among these files"),
    };
    if soil.is_empty() {
        return Err(missing("soil"));
    }
    if vegetation.is_empty() {
        return Err(missing("vegetation"));
    }
    Ok(ParameterTables {
        soil,
        vegetation,
        general: general.ok_or_else(|| missing("general"))?,
    })
}

fn header(out: &mut String, kind: &str, source: &str) {
    let _ = writeln!(
        out,
        "# landcycle parameter table: Noah LSM {kind} parameters (format: docs/tables.md)"
    );
    let _ = writeln!(out, "format = {FORMAT_TAG}");
    let _ = writeln!(out, "table = {kind}");
    let _ = writeln!(out, "source = {}", source.replace(['\n', '\r'], " "));
}

/// Dataset names become file names: keep them to a portable character set.
pub(super) fn check_dataset_name(name: &str) -> Result<(), TableError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(TableError::Missing {
            file: "(writing)".into(),
            message: format!("dataset name '{name}' is not usable as a file name"),
        });
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), TableError> {
    if name.contains(',') || name.contains('\n') {
        return Err(TableError::Missing {
            file: "(writing)".into(),
            message: format!("class name '{name}' contains a comma or newline"),
        });
    }
    Ok(())
}

/// The `columns = class, <col> [<unit>], ..., <extra names>, name` line of a dataset file.
fn columns_line(columns: &[&str], units: &[&str], extra: &[(String, f64)]) -> String {
    let mut cols: Vec<String> = vec!["class".into()];
    cols.extend(columns.iter().zip(units).map(|(c, u)| format!("{c} [{u}]")));
    cols.extend(extra.iter().map(|e| e.0.clone()));
    cols.push("name".into());
    format!("columns = {}", cols.join(", "))
}

/// Text of a soil dataset file.
pub(super) fn write_soil(d: &SoilDataset, source: &str) -> Result<String, TableError> {
    check_dataset_name(&d.name)?;
    let mut s = String::new();
    header(&mut s, "soil", source);
    let _ = writeln!(s, "dataset = {}", d.name);
    let extra = d.classes.first().map_or(&[][..], |c| &c.extra[..]);
    let _ = writeln!(s, "{}", columns_line(&SOIL_COLUMNS, &SOIL_UNITS, extra));
    for (k, c) in d.classes.iter().enumerate() {
        check_name(&c.name)?;
        let mut f = vec![(k + 1).to_string()];
        for v in [
            c.bb, c.drysmc, c.f11, c.maxsmc, c.refsmc, c.satpsi, c.satdk, c.satdw, c.wltsmc, c.qtz,
        ] {
            f.push(num(v));
        }
        f.extend(c.extra.iter().map(|e| num(e.1)));
        f.push(c.name.clone());
        let _ = writeln!(s, "{}", f.join(", "));
    }
    Ok(s)
}

/// Text of a vegetation dataset file.
pub(super) fn write_vegetation(d: &VegetationDataset, source: &str) -> Result<String, TableError> {
    check_dataset_name(&d.name)?;
    let mut s = String::new();
    header(&mut s, "vegetation", source);
    let _ = writeln!(s, "dataset = {}", d.name);
    let vals = [
        d.topt,
        d.cmcmax,
        d.cfactr,
        d.rsmax,
        d.bare as f64,
        d.natural as f64,
    ];
    for ((name, unit), v) in VEG_SCALARS.iter().zip(vals) {
        let _ = writeln!(s, "{name} [{unit}] = {}", num(v));
    }
    for (name, v) in &d.extra {
        let _ = writeln!(s, "{name} = {}", num(*v));
    }
    let extra = d.classes.first().map_or(&[][..], |c| &c.extra[..]);
    let _ = writeln!(s, "{}", columns_line(&VEG_COLUMNS, &VEG_UNITS, extra));
    for (k, c) in d.classes.iter().enumerate() {
        check_name(&c.name)?;
        let mut f = vec![(k + 1).to_string(), num(c.shdfac), c.nroot.to_string()];
        for v in [
            c.rs,
            c.rgl,
            c.hs,
            c.snup,
            c.maxalb,
            c.laimin,
            c.laimax,
            c.emissmin,
            c.emissmax,
            c.albedomin,
            c.albedomax,
            c.z0min,
            c.z0max,
        ] {
            f.push(num(v));
        }
        f.extend(c.extra.iter().map(|e| num(e.1)));
        f.push(c.name.clone());
        let _ = writeln!(s, "{}", f.join(", "));
    }
    Ok(s)
}

/// Text of the general parameter file.
pub(super) fn write_general(g: &GeneralParams, source: &str) -> String {
    let mut s = String::new();
    header(&mut s, "general", source);
    let slope: Vec<String> = g.slope_data.iter().map(|v| num(*v)).collect();
    let _ = writeln!(s, "slope_data [-] = {}", slope.join(", "));
    let vals = [
        g.sbeta, g.fxexp, g.csoil, g.salp, g.refdk, g.refkdt, g.frzk, g.zbot, g.czil, g.smlow,
        g.smhigh, g.lvcoef,
    ];
    for ((name, unit), v) in GENERAL_SCALARS.iter().zip(vals) {
        let _ = writeln!(s, "{name} [{unit}] = {}", num(v));
    }
    for (name, v) in &g.extra {
        let _ = writeln!(s, "{name} = {}", num(*v));
    }
    s
}

/// Reads every `*.txt` file of `dir` (sorted by name).
pub(super) fn read_dir(dir: &Path) -> Result<ParameterTables, TableError> {
    let io = |source| TableError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt") && p.is_file())
        .collect();
    paths.sort();
    let mut texts = Vec::new();
    for p in &paths {
        let text = std::fs::read_to_string(p).map_err(|source| TableError::Io {
            path: p.clone(),
            source,
        })?;
        texts.push((p.display().to_string(), text));
    }
    parse_files(texts.iter().map(|(l, t)| (l.clone(), t.as_str())))
}
