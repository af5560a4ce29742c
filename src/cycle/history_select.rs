//! Which history variables a run writes and under which names: `run:history_variables`
//! picked from the ALMA or LIS names of [`super::history_vars::all_vars`].

use super::history_vars::{all_vars, HistoryVar};
use crate::config::HistoryNaming;

/// One variable to write: its index in [`all_vars`], name and units in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selected {
    pub index: usize,
    pub name: &'static str,
    pub units: &'static str,
}

/// Name and units of a variable under a naming, if it has one there.
fn named(v: &HistoryVar, naming: HistoryNaming) -> Option<(&'static str, &'static str)> {
    match naming {
        HistoryNaming::Alma => v.name.map(|n| (n, v.units)),
        HistoryNaming::Lis => v.lis,
    }
}

/// Every variable name of a naming, in output order.
pub fn names(naming: HistoryNaming) -> Vec<&'static str> {
    all_vars()
        .iter()
        .filter_map(|v| named(v, naming).map(|(n, _)| n))
        .collect()
}

/// The variables to write, in output order: all of the naming's when `wanted` is `None`.
/// An unknown name is an error listing the known ones.
pub fn select(naming: HistoryNaming, wanted: Option<&[String]>) -> Result<Vec<Selected>, String> {
    let vars = all_vars();
    if let Some(w) = wanted {
        let known = names(naming);
        if let Some(bad) = w.iter().find(|n| !known.contains(&n.as_str())) {
            let other = match naming {
                HistoryNaming::Alma => HistoryNaming::Lis,
                HistoryNaming::Lis => HistoryNaming::Alma,
            };
            let hint = if names(other).contains(&bad.as_str()) {
                format!(" ({bad} is a {other:?} name: set history_naming)")
            } else {
                String::new()
            };
            return Err(format!(
                "unknown history variable {bad:?} for history_naming = {naming:?}{hint}; known: {}",
                known.join(", ")
            ));
        }
    }
    Ok(vars
        .iter()
        .enumerate()
        .filter_map(|(index, v)| {
            let (name, units) = named(v, naming)?;
            let on = wanted.is_none_or(|w| w.iter().any(|n| n == name));
            on.then_some(Selected { index, name, units })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lis_names_select_volumetric_soil_moisture() {
        let w = vec!["SoilMoist_tavg".to_string(), "SoilMoist_inst".to_string()];
        let s = select(HistoryNaming::Lis, Some(&w)).unwrap();
        let got: Vec<_> = s.iter().map(|s| (s.name, s.units)).collect();
        assert_eq!(
            got,
            [("SoilMoist_inst", "m^3 m-3"), ("SoilMoist_tavg", "m^3 m-3")]
        );
        assert_eq!(all_vars()[s[0].index].name, Some("SoilMoistV"));
    }

    #[test]
    fn every_alma_variable_by_default_and_unknown_names_refused() {
        let all = select(HistoryNaming::Alma, None).unwrap();
        assert_eq!(all.len(), names(HistoryNaming::Alma).len());
        assert!(all.iter().any(|s| s.name == "Snowf"));
        assert!(!all.iter().any(|s| s.name.ends_with("_tavg")));
        let e = select(HistoryNaming::Alma, Some(&["SoilMoist_inst".to_string()])).unwrap_err();
        assert!(e.contains("Lis name"), "{e}");
    }
}
