//! Checks of a namelist file before its groups are typed: the text is UTF-8 (else the line
//! of the first bad byte), every group is one some command reads (else the nearest known
//! group), and no array index leaves a hole (`x(6) = ..` with 4 layers).
//!
//! Why before typing: a misspelled group is otherwise silently ignored and the run does
//! something else, and a hole in an array is reported by the deserializer as a bare "null
//! value", which does not say that the index went beyond the layers.

use std::path::Path;

use super::namelist::{self, Location, Namelist, NamelistError};
use super::schema::{GROUPS, OTHER_GROUPS, SCHEMA};
use super::ConfigError;

/// The namelist text of `bytes` read from `file`; a non-UTF-8 byte is an error naming its
/// line and column (in bytes from the line start).
pub fn decode(bytes: Vec<u8>, file: &Path) -> Result<String, NamelistError> {
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = 1 + good.iter().filter(|&&b| b == b'\n').count();
        let start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let bad = e.as_bytes()[good.len()];
        NamelistError::Syntax {
            loc: Box::new(Location {
                file: file.to_path_buf(),
                line,
                col: good.len() - start + 1,
            }),
            msg: format!(
                "byte 0x{bad:02x} is not UTF-8 (save the namelist as UTF-8 or plain ASCII)"
            ),
        }
    })
}

/// Common misnamings that edit distance does not catch.
const ALIASES: &[(&str, &str)] = &[
    ("assim", "da"),
    ("assimilation", "da"),
    ("enkf", "da"),
    ("analysis", "da"),
    ("obs", "da"),
    ("perturb", "perturbation"),
    ("perturbations", "perturbation"),
    ("pert", "perturbation"),
    ("restarts", "restart"),
    ("atmosphere", "forcing"),
    ("met", "forcing"),
];

/// The known group nearest to `name`: an alias, a prefix either way, else edit distance.
pub fn nearest_group(name: &str) -> String {
    let known: Vec<&str> = GROUPS
        .iter()
        .map(|g| g.name)
        .chain(OTHER_GROUPS.iter().map(|(g, _)| *g))
        .collect();
    if let Some((_, g)) = ALIASES.iter().find(|(a, _)| *a == name) {
        return g.to_string();
    }
    let prefix = known
        .iter()
        .find(|k| name.len() >= 3 && (k.starts_with(name) || name.starts_with(*k)));
    if let Some(k) = prefix {
        return k.to_string();
    }
    known
        .iter()
        .min_by_key(|k| namelist::edit_distance(name, k))
        .map_or_else(|| "run".to_string(), |k| k.to_string())
}

/// Every group of the file is read by `landcycle run` or by another command.
pub fn check_group_names(nl: &Namelist) -> Result<(), ConfigError> {
    let ours = |n: &str| GROUPS.iter().any(|g| g.name == n);
    let others = |n: &str| OTHER_GROUPS.iter().any(|(g, _)| *g == n);
    match nl
        .groups
        .iter()
        .find(|g| !ours(&g.name) && !others(&g.name))
    {
        None => Ok(()),
        Some(g) => Err(ConfigError::UnknownGroup {
            loc: Box::new(nl.location(g.pos)),
            group: g.name.clone(),
            suggestion: nearest_group(&g.name),
        }),
    }
}

/// No array element is left unset before a set one; for per-layer keys the message says
/// that the index goes beyond the layers.
pub fn check_array_holes(nl: &Namelist) -> Result<(), ConfigError> {
    for g in &nl.groups {
        for e in &g.entries {
            let Some(hole) = e.values.iter().position(|v| v.value.is_none()) else {
                continue;
            };
            let Some(last) = e.values.iter().rposition(|v| v.value.is_some()) else {
                continue;
            };
            if last < hole {
                continue;
            }
            let per_layer = SCHEMA
                .iter()
                .any(|s| s.group == g.name && s.key == e.name && s.kind.contains("per soil layer"));
            let what = if per_layer {
                "is beyond the soil layers (one value per layer: Noah has 4, CoLM 10, the bucket \
                 as many as bucket:layer_thickness)"
            } else {
                "goes beyond the values before it"
            };
            return Err(ConfigError::Invalid {
                loc: Box::new(nl.location(e.values[last].pos)),
                group: g.name.clone(),
                key: e.name.clone(),
                msg: format!("index {} {what}; element {} is not set", last + 1, hole + 1),
            });
        }
    }
    Ok(())
}
