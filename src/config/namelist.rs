//! Fortran namelist parser (the dialect f90nml accepts) and a serde `Deserializer` over a
//! parsed group, so typed configuration structs derive `Deserialize` and get
//! file:line:column errors for free.
//!
//! Supported syntax: groups `&name ... /`, `&name ... &end`, `$name ... $end` (or `$`);
//! case-insensitive group and key names; `!` comments; integers; reals with `e`/`d`
//! exponents; logicals (`.true.`, `.t.`, `T`, `true`, `.false.`, `F`, ...); quoted strings
//! (`'..'`, `".."`, a doubled quote is a literal quote); comma- or blank-separated arrays that
//! may continue over lines; repeat counts `r*v` and `r*` (r nulls); null values (`1,,3`);
//! indexed assignments `x(2) = 3` and `x(2:4) = 1, 2, 3`. Text outside groups is ignored,
//! as Fortran and f90nml do.

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::path::{Path, PathBuf};

/// A place in a namelist file (1-based line and column, in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// Errors from reading, parsing or deserializing a namelist. Every variant names the file
/// and, where one exists, the line and column.
#[derive(Debug, thiserror::Error)]
pub enum NamelistError {
    #[error("{}: cannot read namelist: {source}", file.display())]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{loc}: syntax error: {msg}")]
    Syntax { loc: Box<Location>, msg: String },
    #[error("{}: namelist group `&{group}` not found (groups present: {})", file.display(), list_or_none(available))]
    MissingGroup {
        file: PathBuf,
        group: String,
        available: Vec<String>,
    },
    #[error("{loc}: namelist group `&{group}` appears more than once")]
    DuplicateGroup { loc: Box<Location>, group: String },
    #[error(
        "{loc}: unknown key `{key}` in group `&{group}`{}",
        suggestion_text(suggestion, valid)
    )]
    UnknownKey {
        loc: Box<Location>,
        group: String,
        key: String,
        suggestion: Option<String>,
        valid: Vec<String>,
    },
    #[error("{loc}: group `&{group}` is missing required key `{key}`")]
    MissingKey {
        loc: Box<Location>,
        group: String,
        key: String,
    },
    #[error("{loc}: bad value for `{group}:{key}`: {msg}")]
    Value {
        loc: Box<Location>,
        group: String,
        key: String,
        msg: String,
    },
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".to_string()
    } else {
        v.iter()
            .map(|g| format!("&{g}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn suggestion_text(s: &Option<String>, valid: &[String]) -> String {
    match s {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None if !valid.is_empty() => format!(" (valid keys: {})", valid.join(", ")),
        None => String::new(),
    }
}

impl NamelistError {
    /// The file:line:column of the error, when it has one.
    pub fn location(&self) -> Option<&Location> {
        match self {
            NamelistError::Syntax { loc, .. }
            | NamelistError::DuplicateGroup { loc, .. }
            | NamelistError::UnknownKey { loc, .. }
            | NamelistError::MissingKey { loc, .. }
            | NamelistError::Value { loc, .. } => Some(loc),
            NamelistError::Io { .. } | NamelistError::MissingGroup { .. } => None,
        }
    }
}

/// Line and column of a token (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// A scalar namelist value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i128),
    Real(f64),
    Bool(bool),
    Str(String),
}

impl Value {
    fn describe(&self) -> String {
        match self {
            Value::Int(i) => format!("integer {i}"),
            Value::Real(r) => format!("real {r}"),
            Value::Bool(b) => format!("logical {}", if *b { ".true." } else { ".false." }),
            Value::Str(s) => format!("string '{s}'"),
        }
    }
}

/// One value with its position; `value: None` is a null value (`,,` or `r*`).
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub value: Option<Value>,
    pub pos: Pos,
}

/// One key of a group with all values assigned to it (element `i` is Fortran index `i+1`;
/// elements never assigned are nulls).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Lower-case key name.
    pub name: String,
    /// Position of the key's latest assignment.
    pub pos: Pos,
    pub values: Vec<Item>,
}

/// One namelist group.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Lower-case group name.
    pub name: String,
    /// Position of the `&name` token.
    pub pos: Pos,
    pub entries: Vec<Entry>,
}

impl Group {
    /// The entry for `key` (case-insensitive).
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        let key = key.to_ascii_lowercase();
        self.entries.iter().find(|e| e.name == key)
    }
    /// Lower-case key names in file order.
    pub fn keys(&self) -> Vec<String> {
        self.entries.iter().map(|e| e.name.clone()).collect()
    }
}

/// A parsed namelist file: its groups in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Namelist {
    pub file: PathBuf,
    pub groups: Vec<Group>,
}

/// Read and parse a namelist file.
pub fn read_file(path: &Path) -> Result<Namelist, NamelistError> {
    let bytes = std::fs::read(path).map_err(|source| NamelistError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    parse_str(&super::precheck::decode(bytes, path)?, path)
}

/// Parse namelist text; `file` is used only in error messages.
pub fn parse_str(text: &str, file: &Path) -> Result<Namelist, NamelistError> {
    let mut p = Parser {
        chars: text.chars().collect(),
        i: 0,
        line: 1,
        col: 1,
        file,
    };
    let groups = p.parse_all()?;
    Ok(Namelist {
        file: file.to_path_buf(),
        groups,
    })
}

impl Namelist {
    /// The first group called `name` (case-insensitive).
    pub fn group(&self, name: &str) -> Option<&Group> {
        let name = name.to_ascii_lowercase();
        self.groups.iter().find(|g| g.name == name)
    }

    /// Lower-case group names in file order.
    pub fn group_names(&self) -> Vec<String> {
        self.groups.iter().map(|g| g.name.clone()).collect()
    }

    /// Location of a position in this namelist's file.
    pub fn location(&self, pos: Pos) -> Location {
        Location {
            file: self.file.clone(),
            line: pos.line,
            col: pos.col,
        }
    }

    /// Deserialize group `group` into `T`; a missing group is an error.
    pub fn deserialize_group<T: de::DeserializeOwned>(
        &self,
        group: &str,
    ) -> Result<T, NamelistError> {
        let lname = group.to_ascii_lowercase();
        let mut found = self.groups.iter().filter(|g| g.name == lname);
        let g = found.next().ok_or_else(|| NamelistError::MissingGroup {
            file: self.file.clone(),
            group: lname.clone(),
            available: self.group_names(),
        })?;
        if let Some(dup) = found.next() {
            return Err(NamelistError::DuplicateGroup {
                loc: Box::new(self.location(dup.pos)),
                group: lname,
            });
        }
        self.deserialize_group_value(g)
    }

    fn deserialize_group_value<T: de::DeserializeOwned>(
        &self,
        g: &Group,
    ) -> Result<T, NamelistError> {
        T::deserialize(GroupDeserializer { group: g }).map_err(|e| self.convert(g, e))
    }

    fn convert(&self, g: &Group, e: DeError) -> NamelistError {
        let pos = e.pos.unwrap_or(g.pos);
        let loc = Box::new(self.location(pos));
        let group = g.name.clone();
        match e.kind {
            DeKind::UnknownField { field, expected } => {
                let valid: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
                NamelistError::UnknownKey {
                    loc,
                    group,
                    suggestion: closest(&field, expected),
                    key: field,
                    valid,
                }
            }
            DeKind::MissingField(key) => NamelistError::MissingKey {
                loc,
                group,
                key: key.to_string(),
            },
            DeKind::Custom(msg) => NamelistError::Value {
                loc,
                group,
                key: e.key.unwrap_or_default(),
                msg,
            },
        }
    }
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a
/// plausible typo.
pub fn closest(word: &str, candidates: &[&str]) -> Option<String> {
    let w = word.to_ascii_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = edit_distance(&w, &c.to_ascii_lowercase());
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    let (d, c) = best?;
    // Allow roughly one edit per three characters, at least two.
    let limit = (w.chars().count().max(c.len()) / 3).max(2);
    (d <= limit).then(|| c.to_string())
}

/// Levenshtein distance with adjacent transpositions counting as one edit.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (n, m) = (a.len(), b.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, v) in d[0].iter_mut().enumerate() {
        *v = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[n][m]
}

// ---------------------------------------------------------------------------------------
// Parser

/// Largest array index or repeat count accepted (guards memory against typos like
/// `x(100000000)`).
const MAX_ELEMENTS: usize = 1_000_000;

struct Parser<'a> {
    chars: Vec<char>,
    i: usize,
    line: usize,
    col: usize,
    file: &'a Path,
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }
    fn peek_at(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).copied()
    }
    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: self.col,
        }
    }
    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }
    fn err<T>(&self, pos: Pos, msg: impl Into<String>) -> Result<T, NamelistError> {
        Err(NamelistError::Syntax {
            loc: Box::new(Location {
                file: self.file.to_path_buf(),
                line: pos.line,
                col: pos.col,
            }),
            msg: msg.into(),
        })
    }

    /// Skip blanks, newlines and `!` comments.
    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if c == '!' {
                while let Some(c) = self.peek() {
                    if c == '\n' {
                        break;
                    }
                    self.bump();
                }
            } else if c.is_whitespace() {
                self.bump();
            } else {
                break;
            }
        }
    }

    fn read_name(&mut self) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek() {
            if is_name_char(c) {
                s.push(c.to_ascii_lowercase());
                self.bump();
            } else {
                break;
            }
        }
        s
    }

    fn parse_all(&mut self) -> Result<Vec<Group>, NamelistError> {
        let mut groups = Vec::new();
        loop {
            // Outside a group: skip everything up to the next `&name` / `$name`.
            self.skip_ws();
            let Some(c) = self.peek() else { break };
            if (c == '&' || c == '$') && self.peek_at(1).is_some_and(is_name_start) {
                let pos = self.pos();
                self.bump();
                let name = self.read_name();
                if name == "end" {
                    return self.err(pos, format!("`{c}end` outside of any group"));
                }
                groups.push(self.parse_group(name, pos)?);
            } else {
                // Ignore the rest of this line (Fortran skips non-namelist records).
                while let Some(c) = self.peek() {
                    if c == '\n' {
                        break;
                    }
                    self.bump();
                }
            }
        }
        Ok(groups)
    }

    fn parse_group(&mut self, name: String, pos: Pos) -> Result<Group, NamelistError> {
        let mut group = Group {
            name,
            pos,
            entries: Vec::new(),
        };
        loop {
            self.skip_ws();
            let here = self.pos();
            match self.peek() {
                None => {
                    return self.err(
                        group.pos,
                        format!(
                            "group `&{}` is not terminated (expected `/` or `&end`)",
                            group.name
                        ),
                    )
                }
                Some('/') => {
                    self.bump();
                    return Ok(group);
                }
                Some(',') => {
                    // Stray separator between assignments: harmless.
                    self.bump();
                }
                Some(c @ ('&' | '$')) => {
                    self.bump();
                    let word = self.read_name();
                    if word == "end" || (c == '$' && word.is_empty()) {
                        return Ok(group);
                    }
                    return self.err(
                        here,
                        format!(
                            "group `&{}` is not terminated before `{c}{word}` (expected `/` or `&end`)",
                            group.name
                        ),
                    );
                }
                Some(c) if is_name_start(c) => self.parse_assignment(&mut group)?,
                Some(c) => {
                    return self.err(
                        here,
                        format!("expected a key name, `/` or `&end`, found `{c}`"),
                    )
                }
            }
        }
    }

    /// Parse `(i)` or `(i:j)` after a key; returns (start, optional end), 1-based.
    fn parse_index(&mut self, key: &str) -> Result<(usize, Option<usize>), NamelistError> {
        let open = self.pos();
        self.bump(); // '('
        let mut text = String::new();
        loop {
            match self.peek() {
                Some(')') => {
                    self.bump();
                    break;
                }
                Some('\n') | None => return self.err(open, "unclosed `(` in array index"),
                Some(c) => {
                    text.push(c);
                    self.bump();
                }
            }
        }
        let t: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if t.contains(',') {
            return self.err(
                open,
                format!("multi-dimensional index `{key}({text})` is not supported"),
            );
        }
        let parse_bound = |s: &str| -> Option<usize> {
            s.parse::<usize>()
                .ok()
                .filter(|&v| (1..=MAX_ELEMENTS).contains(&v))
        };
        let (start, end) = match t.split_once(':') {
            Some((a, b)) => {
                let a = parse_bound(a);
                let b = if b.is_empty() { None } else { parse_bound(b) };
                match a {
                    Some(a) if b.is_none_or(|b| b >= a) => (a, b),
                    _ => {
                        return self.err(
                            open,
                            format!(
                                "bad index range `{key}({text})` (use 1-based `i:j` with i <= j)"
                            ),
                        )
                    }
                }
            }
            None => match parse_bound(&t) {
                Some(a) => (a, None),
                None => {
                    return self.err(
                        open,
                        format!("bad index `{key}({text})` (use a 1-based integer)"),
                    )
                }
            },
        };
        // A single index assigns from that element on (Fortran allows a list there).
        Ok((start, end))
    }

    fn parse_assignment(&mut self, group: &mut Group) -> Result<(), NamelistError> {
        let key_pos = self.pos();
        let key = self.read_name();
        let mut start = 1usize;
        let mut end: Option<usize> = None;
        self.skip_blanks();
        if self.peek() == Some('(') {
            let (s, e) = self.parse_index(&key)?;
            start = s;
            end = e;
            self.skip_blanks();
        }
        if self.peek() == Some('%') {
            return self.err(
                self.pos(),
                format!("derived-type component `{key}%...` is not supported"),
            );
        }
        self.skip_ws();
        if self.peek() != Some('=') {
            let found = match self.peek() {
                Some(c) => format!("`{c}`"),
                None => "end of file".to_string(),
            };
            return self.err(
                self.pos(),
                format!("expected `=` after key `{key}`, found {found}"),
            );
        }
        self.bump();
        let items = self.parse_values()?;
        if let Some(end) = end {
            let room = end - start + 1;
            if items.len() > room {
                return self.err(
                    items[room].pos,
                    format!(
                        "{} values for `{key}({start}:{end})`, which has room for {room}",
                        items.len()
                    ),
                );
            }
        }
        let entry = match group.entries.iter_mut().find(|e| e.name == key) {
            Some(e) => {
                // Errors about the key point at its latest assignment.
                e.pos = key_pos;
                e
            }
            None => {
                group.entries.push(Entry {
                    name: key,
                    pos: key_pos,
                    values: Vec::new(),
                });
                group.entries.last_mut().expect("just pushed")
            }
        };
        // Fortran semantics: values land at start, start+1, ...; a null leaves the element
        // as it was; elements never assigned are nulls.
        for (k, item) in items.into_iter().enumerate() {
            let idx = start - 1 + k;
            while entry.values.len() <= idx {
                entry.values.push(Item {
                    value: None,
                    pos: item.pos,
                });
            }
            if item.value.is_some() || entry.values[idx].value.is_none() {
                entry.values[idx] = item;
            }
        }
        Ok(())
    }

    /// Skip blanks on the current line only (no comments, no newlines).
    fn skip_blanks(&mut self) {
        while let Some(c) = self.peek() {
            if c == ' ' || c == '\t' || c == '\r' {
                self.bump();
            } else {
                break;
            }
        }
    }

    /// True when the text at the cursor is a key name starting the next assignment
    /// (a name followed, perhaps after blanks, by `=`, `(` or `%`).
    fn at_next_key(&self) -> bool {
        if !self.peek().is_some_and(is_name_start) {
            return false;
        }
        let mut k = self.i;
        while k < self.chars.len() && is_name_char(self.chars[k]) {
            k += 1;
        }
        while k < self.chars.len() && self.chars[k].is_whitespace() {
            k += 1;
        }
        matches!(self.chars.get(k), Some('=' | '(' | '%'))
    }

    fn parse_values(&mut self) -> Result<Vec<Item>, NamelistError> {
        let mut items = Vec::new();
        // After a value, one comma is its separator; a further comma marks a null.
        let mut after_value = false;
        loop {
            self.skip_ws();
            let pos = self.pos();
            match self.peek() {
                None | Some('/' | '&' | '$') => break,
                Some(',') => {
                    self.bump();
                    if after_value {
                        after_value = false;
                    } else {
                        items.push(Item { value: None, pos });
                    }
                }
                Some(_) if self.at_next_key() => break,
                Some('(') => {
                    return self.err(pos, "complex values are not supported");
                }
                Some('=') => return self.err(pos, "unexpected `=` (missing key name?)"),
                Some(_) => {
                    self.parse_value_token(&mut items)?;
                    after_value = true;
                }
            }
        }
        Ok(items)
    }

    fn parse_quoted(&mut self) -> Result<String, NamelistError> {
        let start = self.pos();
        let q = self.bump().expect("quote");
        let mut s = String::new();
        loop {
            match self.peek() {
                None | Some('\n') => {
                    return self.err(start, format!("unterminated string (missing closing {q})"))
                }
                Some(c) if c == q => {
                    self.bump();
                    if self.peek() == Some(q) {
                        s.push(q);
                        self.bump();
                    } else {
                        return Ok(s);
                    }
                }
                Some(c) => {
                    s.push(c);
                    self.bump();
                }
            }
        }
    }

    /// One value token, possibly with a repeat count, pushed onto `items`.
    fn parse_value_token(&mut self, items: &mut Vec<Item>) -> Result<(), NamelistError> {
        let pos = self.pos();
        if matches!(self.peek(), Some('\'' | '"')) {
            let s = self.parse_quoted()?;
            items.push(Item {
                value: Some(Value::Str(s)),
                pos,
            });
            return self.check_token_end();
        }
        let mut word = String::new();
        while let Some(c) = self.peek() {
            if c.is_whitespace() || matches!(c, ',' | '/' | '!' | '\'' | '"' | '&' | '$') {
                break;
            }
            word.push(c);
            self.bump();
        }
        if let Some((count, rest)) = word.split_once('*') {
            let Ok(r) = count.parse::<usize>() else {
                return self.err(pos, format!("bad repeat count in `{word}`"));
            };
            if r == 0 {
                return self.err(pos, format!("repeat count must be positive in `{word}`"));
            }
            if r > MAX_ELEMENTS {
                return self.err(
                    pos,
                    format!("repeat count in `{word}` exceeds {MAX_ELEMENTS}"),
                );
            }
            let value = if !rest.is_empty() {
                Some(self.classify(rest, pos)?)
            } else if matches!(self.peek(), Some('\'' | '"')) {
                Some(Value::Str(self.parse_quoted()?))
            } else {
                None // `r*` : r nulls
            };
            for _ in 0..r {
                items.push(Item {
                    value: value.clone(),
                    pos,
                });
            }
            return self.check_token_end();
        }
        let v = self.classify(&word, pos)?;
        items.push(Item {
            value: Some(v),
            pos,
        });
        Ok(())
    }

    /// After a quoted string, the next character must be a separator.
    fn check_token_end(&mut self) -> Result<(), NamelistError> {
        match self.peek() {
            None => Ok(()),
            Some(c) if c.is_whitespace() || matches!(c, ',' | '/' | '!' | '&' | '$') => Ok(()),
            Some(c) => self.err(
                self.pos(),
                format!("unexpected `{c}` after value (missing separator?)"),
            ),
        }
    }

    fn classify(&self, word: &str, pos: Pos) -> Result<Value, NamelistError> {
        if let Some(v) = parse_number(word) {
            return Ok(v);
        }
        if let Some(b) = parse_logical(word) {
            return Ok(Value::Bool(b));
        }
        self.err(
            pos,
            format!("cannot read value `{word}` (not a number or logical; strings must be quoted)"),
        )
    }
}

/// Fortran integer or real literal (`1`, `-2`, `1.5`, `.5`, `1.`, `1e3`, `1.0d-2`).
fn parse_number(w: &str) -> Option<Value> {
    let b = w.as_bytes();
    let mut k = 0;
    if k < b.len() && (b[k] == b'+' || b[k] == b'-') {
        k += 1;
    }
    let int_start = k;
    while k < b.len() && b[k].is_ascii_digit() {
        k += 1;
    }
    let int_digits = k - int_start;
    if k == b.len() {
        return if int_digits > 0 {
            w.parse::<i128>().ok().map(Value::Int)
        } else {
            None
        };
    }
    let mut frac_digits = 0;
    if b[k] == b'.' {
        k += 1;
        let fs = k;
        while k < b.len() && b[k].is_ascii_digit() {
            k += 1;
        }
        frac_digits = k - fs;
    }
    if int_digits + frac_digits == 0 {
        return None;
    }
    let mant_end = k;
    let mut exp = String::new();
    if k < b.len() && matches!(b[k], b'e' | b'E' | b'd' | b'D') {
        k += 1;
        let es = k;
        if k < b.len() && (b[k] == b'+' || b[k] == b'-') {
            k += 1;
        }
        let ds = k;
        while k < b.len() && b[k].is_ascii_digit() {
            k += 1;
        }
        if k == ds {
            return None;
        }
        exp = format!("e{}", &w[es..k]);
    }
    if k != b.len() {
        return None;
    }
    format!("{}{}", &w[..mant_end], exp)
        .parse::<f64>()
        .ok()
        .map(Value::Real)
}

/// Fortran logical: optional leading `.`, then `t`/`f`; without a dot only `t`, `f`,
/// `true`, `false` (so that ordinary words are not mistaken for logicals).
fn parse_logical(w: &str) -> Option<bool> {
    let l = w.to_ascii_lowercase();
    if let Some(rest) = l.strip_prefix('.') {
        // `.true.`, `.t.`, `.t`, `.false.`, `.f.`; Fortran reads only the first letter.
        let word = rest.trim_end_matches('.');
        return match word.chars().next()? {
            't' if "true".starts_with(word) => Some(true),
            'f' if "false".starts_with(word) => Some(false),
            _ => None,
        };
    }
    match l.as_str() {
        "t" | "true" => Some(true),
        "f" | "false" => Some(false),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// serde Deserializer

#[derive(Debug)]
enum DeKind {
    UnknownField {
        field: String,
        expected: &'static [&'static str],
    },
    MissingField(&'static str),
    Custom(String),
}

/// Internal deserialization error; converted to [`NamelistError`] with the file name.
#[derive(Debug)]
pub struct DeError {
    kind: DeKind,
    pos: Option<Pos>,
    key: Option<String>,
}

impl DeError {
    fn msg(m: impl Into<String>) -> Self {
        DeError {
            kind: DeKind::Custom(m.into()),
            pos: None,
            key: None,
        }
    }
    fn at(mut self, pos: Pos) -> Self {
        self.pos.get_or_insert(pos);
        self
    }
    fn with_key(mut self, key: &str) -> Self {
        self.key.get_or_insert_with(|| key.to_string());
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            DeKind::UnknownField { field, .. } => write!(f, "unknown key `{field}`"),
            DeKind::MissingField(k) => write!(f, "missing key `{k}`"),
            DeKind::Custom(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::msg(msg.to_string())
    }
    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        DeError {
            kind: DeKind::UnknownField {
                field: field.to_string(),
                expected,
            },
            pos: None,
            key: None,
        }
    }
    fn missing_field(field: &'static str) -> Self {
        DeError {
            kind: DeKind::MissingField(field),
            pos: None,
            key: None,
        }
    }
    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        DeError::msg(format!(
            "unknown value '{variant}' (valid: {})",
            expected
                .iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
    fn invalid_length(len: usize, exp: &dyn de::Expected) -> Self {
        DeError::msg(format!("{len} values given, expected {exp}"))
    }
}

struct GroupDeserializer<'a> {
    group: &'a Group,
}

impl<'de> de::Deserializer<'de> for GroupDeserializer<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor
            .visit_map(GroupMap {
                entries: &self.group.entries,
                next: 0,
            })
            .map_err(|e| e.at(self.group.pos))
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct enum identifier ignored_any
    }
}

struct GroupMap<'a> {
    entries: &'a [Entry],
    next: usize,
}

impl<'de> MapAccess<'de> for GroupMap<'_> {
    type Error = DeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some(e) = self.entries.get(self.next) else {
            return Ok(None);
        };
        let de: de::value::StrDeserializer<'_, DeError> = e.name.as_str().into_deserializer();
        seed.deserialize(de)
            .map(Some)
            .map_err(|err| err.at(e.pos).with_key(&e.name))
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let e = &self.entries[self.next];
        self.next += 1;
        let de = EntryDeserializer { entry: e };
        // An error without a position (e.g. from a `deserialize_with` function) points at
        // the value when there is exactly one, else at the key.
        let pos = match de.assigned() {
            [only] => only.pos,
            _ => e.pos,
        };
        seed.deserialize(de)
            .map_err(|err| err.at(pos).with_key(&e.name))
    }
}

/// All values of one key.
struct EntryDeserializer<'a> {
    entry: &'a Entry,
}

impl<'a> EntryDeserializer<'a> {
    fn assigned(&self) -> &'a [Item] {
        // Trailing nulls carry no information.
        let v = &self.entry.values;
        let n = v
            .iter()
            .rposition(|i| i.value.is_some())
            .map_or(0, |p| p + 1);
        &v[..n]
    }
    fn single(&self) -> Result<ItemDeserializer<'a>, DeError> {
        let v = self.assigned();
        match v.len() {
            0 => Err(DeError::msg("no value given")),
            1 => Ok(ItemDeserializer { item: &v[0] }),
            n => {
                Err(DeError::msg(format!("expected a single value, found {n} values")).at(v[1].pos))
            }
        }
    }
}

macro_rules! entry_scalar {
    ($($m:ident)*) => {$(
        fn $m<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            self.single()?.$m(visitor)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for EntryDeserializer<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.assigned().len() == 1 {
            self.single()?.deserialize_any(visitor)
        } else {
            self.deserialize_seq(visitor)
        }
    }
    entry_scalar! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_str
        deserialize_string deserialize_bytes deserialize_byte_buf deserialize_unit
        deserialize_identifier
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.single()?.deserialize_unit_struct(name, visitor)
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.single()?.deserialize_enum(name, variants, visitor)
    }
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.assigned().is_empty() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let items = self.assigned();
        let mut seq = ItemSeq { items, next: 0 };
        let v = visitor.visit_seq(&mut seq)?;
        if seq.next < items.len() {
            return Err(DeError::msg(format!(
                "too many values: {} given, {} expected",
                items.len(),
                seq.next
            ))
            .at(items[seq.next].pos));
        }
        Ok(v)
    }
    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }
    fn deserialize_map<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, DeError> {
        Err(DeError::msg(
            "nested groups (derived types) are not supported",
        ))
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

struct ItemSeq<'a> {
    items: &'a [Item],
    next: usize,
}

impl<'de> SeqAccess<'de> for ItemSeq<'_> {
    type Error = DeError;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some(item) = self.items.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        seed.deserialize(ItemDeserializer { item })
            .map(Some)
            .map_err(|e| e.at(item.pos))
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len() - self.next)
    }
}

/// One scalar value.
struct ItemDeserializer<'a> {
    item: &'a Item,
}

impl ItemDeserializer<'_> {
    fn value(&self) -> Result<&Value, DeError> {
        self.item
            .value
            .as_ref()
            .ok_or_else(|| DeError::msg("null value where a value is required").at(self.item.pos))
    }
    fn mismatch(&self, want: &str) -> DeError {
        let found = match &self.item.value {
            Some(v) => v.describe(),
            None => "a null value".to_string(),
        };
        DeError::msg(format!("expected {want}, found {found}")).at(self.item.pos)
    }
    fn int(&self, want: &str) -> Result<i128, DeError> {
        match self.value()? {
            Value::Int(i) => Ok(*i),
            _ => Err(self.mismatch(want)),
        }
    }
}

macro_rules! item_int {
    ($($m:ident $t:ty => $visit:ident, $want:expr;)*) => {$(
        fn $m<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            let i = self.int($want)?;
            let v = <$t>::try_from(i).map_err(|_| {
                DeError::msg(format!("integer {i} out of range for {}", $want)).at(self.item.pos)
            })?;
            visitor.$visit(v)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for ItemDeserializer<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.item.value {
            None => visitor.visit_none(),
            Some(Value::Int(i)) => {
                if let Ok(v) = i64::try_from(*i) {
                    visitor.visit_i64(v)
                } else if let Ok(v) = u64::try_from(*i) {
                    visitor.visit_u64(v)
                } else {
                    visitor.visit_i128(*i)
                }
            }
            Some(Value::Real(r)) => visitor.visit_f64(*r),
            Some(Value::Bool(b)) => visitor.visit_bool(*b),
            Some(Value::Str(s)) => visitor.visit_str(s),
        }
    }
    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value()? {
            Value::Bool(b) => visitor.visit_bool(*b),
            _ => Err(self.mismatch("a logical (.true. or .false.)")),
        }
    }
    item_int! {
        deserialize_i8 i8 => visit_i8, "an integer (8-bit)";
        deserialize_i16 i16 => visit_i16, "an integer (16-bit)";
        deserialize_i32 i32 => visit_i32, "an integer";
        deserialize_i64 i64 => visit_i64, "an integer";
        deserialize_i128 i128 => visit_i128, "an integer";
        deserialize_u8 u8 => visit_u8, "a non-negative integer (8-bit)";
        deserialize_u16 u16 => visit_u16, "a non-negative integer (16-bit)";
        deserialize_u32 u32 => visit_u32, "a non-negative integer";
        deserialize_u64 u64 => visit_u64, "a non-negative integer";
        deserialize_u128 u128 => visit_u128, "a non-negative integer";
    }
    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value()? {
            Value::Real(r) => visitor.visit_f32(*r as f32),
            Value::Int(i) => visitor.visit_f32(*i as f32),
            _ => Err(self.mismatch("a real number")),
        }
    }
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value()? {
            Value::Real(r) => visitor.visit_f64(*r),
            Value::Int(i) => visitor.visit_f64(*i as f64),
            _ => Err(self.mismatch("a real number")),
        }
    }
    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value()? {
            Value::Str(s) if s.chars().count() == 1 => {
                visitor.visit_char(s.chars().next().unwrap_or(' '))
            }
            _ => Err(self.mismatch("a one-character string")),
        }
    }
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value()? {
            Value::Str(s) => visitor.visit_str(s),
            _ => Err(self.mismatch("a quoted string")),
        }
    }
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }
    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.item.value {
            None => visitor.visit_none(),
            Some(_) => visitor.visit_some(self),
        }
    }
    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        // A scalar where a list is expected is a one-element list.
        let mut seq = ItemSeq {
            items: std::slice::from_ref(self.item),
            next: 0,
        };
        visitor.visit_seq(&mut seq)
    }
    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }
    fn deserialize_map<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, DeError> {
        Err(DeError::msg("nested groups (derived types) are not supported").at(self.item.pos))
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let s = match self.value()? {
            Value::Str(s) => s,
            _ => return Err(self.mismatch("a quoted string")),
        };
        // Match variant names case-insensitively; an unknown name is passed through so
        // serde reports it with the list of valid ones.
        let canonical = variants
            .iter()
            .find(|v| v.eq_ignore_ascii_case(s.trim()))
            .copied();
        let name: String = canonical.map_or_else(|| s.clone(), str::to_string);
        let de: de::value::StringDeserializer<DeError> = name.into_deserializer();
        visitor.visit_enum(de).map_err(|e| e.at(self.item.pos))
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}
