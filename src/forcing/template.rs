//! The cycle fields of a file template, for a forecast archive used as forcing (one
//! directory per atmosphere cycle, COUPLING.md §3.1): `{init:FMT}` is the issuing cycle in
//! strftime format FMT, `{lead_h}` / `{lead_h:0N}` the lead time in whole hours (N digits,
//! zero padded). The names follow LIS's GFS and GALWEM readers. Everything else stays a
//! strftime field of the valid time.

use super::ForcingError;
use chrono::NaiveDateTime;

/// Whether `template` holds a cycle field.
pub(super) fn names_cycle(template: &str) -> bool {
    template.contains("{init") || template.contains("{lead_h")
}

/// `template` with its cycle fields replaced for valid time `time` issued at `init`.
pub(super) fn expand_cycle_fields(
    template: &str,
    time: NaiveDateTime,
    init: Option<NaiveDateTime>,
) -> Result<String, ForcingError> {
    if !template.contains('{') {
        return Ok(template.to_string());
    }
    let bad = |why: &str| ForcingError::Spec(format!("file template \"{template}\": {why}"));
    // Without a cycle the fields cannot be filled; an unknown field is reported either way.
    let init = match init {
        Some(i) => i,
        None if names_cycle(template) => {
            return Err(bad(
                "names the issuing cycle ({init}/{lead_h}), which only a cycle's read knows",
            ))
        }
        None => time,
    };
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| bad("a '{' without '}'"))?;
        let field = &rest[open + 1..open + close];
        out.push_str(&expand_field(field, time, init).ok_or_else(|| {
            bad(&format!(
                "unknown field {{{field}}} (known: {{init:FMT}}, {{lead_h}}, {{lead_h:0N}})"
            ))
        })?);
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn expand_field(field: &str, time: NaiveDateTime, init: NaiveDateTime) -> Option<String> {
    if let Some(fmt) = field.strip_prefix("init:") {
        use std::fmt::Write as _;
        let mut s = String::new();
        write!(s, "{}", init.format(fmt)).ok()?;
        return Some(s);
    }
    let lead = (time - init).num_seconds();
    // A lead that is not whole hours cannot be named by {lead_h}.
    if lead % 3600 != 0 {
        return None;
    }
    let lead_h = lead / 3600;
    match field {
        "lead_h" => Some(lead_h.to_string()),
        _ => {
            let width: usize = field.strip_prefix("lead_h:0")?.parse().ok()?;
            Some(format!("{lead_h:0width$}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(d: u32, h: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2020, 6, d)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
    }

    #[test]
    fn init_and_lead_fields() {
        let s = expand_cycle_fields(
            "fc/{init:%Y%m%d%H}/f{lead_h:03}_%H.nc",
            t(2, 3),
            Some(t(1, 18)),
        )
        .unwrap();
        assert_eq!(s, "fc/2020060118/f009_%H.nc");
        assert_eq!(
            expand_cycle_fields("a_%Y.nc", t(2, 3), None).unwrap(),
            "a_%Y.nc"
        );
    }

    #[test]
    fn unknown_field_and_missing_cycle_are_errors() {
        let e = expand_cycle_fields("{lead_m}", t(2, 3), Some(t(2, 0))).unwrap_err();
        assert!(e.to_string().contains("unknown field {lead_m}"), "{e}");
        let e = expand_cycle_fields("{lead_h}", t(2, 3), None).unwrap_err();
        assert!(e.to_string().contains("issuing cycle"), "{e}");
    }
}
