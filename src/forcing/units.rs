//! Unit recognition and conversion of forcing variables to the SI units the land model uses.

use super::ForcingRole;

/// Linear conversion `si = value * scale + offset`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UnitConversion {
    pub scale: f64,
    pub offset: f64,
}

impl UnitConversion {
    pub const IDENTITY: Self = Self {
        scale: 1.0,
        offset: 0.0,
    };
    pub fn apply(&self, v: f64) -> f64 {
        v * self.scale + self.offset
    }
}

/// Canonical spelling: lower case, single spaces, no `**`/`^`, `/` and `.` turned into
/// spaced negative exponents where simple (`kg/m2/s` -> `kg m-2 s-1`).
pub fn canonical_units(u: &str) -> String {
    let mut s = u
        .trim()
        .to_ascii_lowercase()
        .replace("**", "")
        .replace('^', "");
    s = s.replace(['·', '*'], " ");
    // Turn "a/b/c" into "a b-1 c-1", "a/b2" into "a b-2".
    if s.contains('/') {
        let mut parts = s.split('/');
        let mut out = parts.next().unwrap_or("").trim().to_string();
        for p in parts {
            for tok in p.split_whitespace() {
                let (base, exp) = split_exponent(tok);
                let e = -exp;
                out.push(' ');
                out.push_str(&format!("{base}{e}"));
            }
        }
        s = out;
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn split_exponent(tok: &str) -> (&str, i32) {
    let pos = tok
        .find(|c: char| c.is_ascii_digit() || c == '-' || c == '+')
        .unwrap_or(tok.len());
    let (b, e) = tok.split_at(pos);
    (b, e.parse().unwrap_or(1))
}

/// Conversion from `units` to the SI unit of `role`, or None when not recognised.
pub fn conversion_to_si(role: ForcingRole, units: &str) -> Option<UnitConversion> {
    let c = canonical_units(units);
    let lin = |scale: f64| Some(UnitConversion { scale, offset: 0.0 });
    match role {
        ForcingRole::AirTemperature => match c.as_str() {
            "k" | "kelvin" | "degk" | "deg k" => lin(1.0),
            "degc" | "deg c" | "c" | "celsius" | "deg_c" | "degrees_celsius" | "degree_celsius"
            | "°c" => Some(UnitConversion {
                scale: 1.0,
                offset: 273.15,
            }),
            _ => None,
        },
        ForcingRole::SpecificHumidity => match c.as_str() {
            "kg kg-1" | "1" | "-" => lin(1.0),
            "g kg-1" => lin(1e-3),
            _ => None,
        },
        ForcingRole::SurfacePressure => match c.as_str() {
            "pa" => lin(1.0),
            "hpa" | "mb" | "mbar" | "millibar" | "millibars" => lin(100.0),
            "kpa" => lin(1000.0),
            _ => None,
        },
        ForcingRole::WindSpeed => match c.as_str() {
            "m s-1" => lin(1.0),
            "km h-1" | "km hr-1" => lin(1.0 / 3.6),
            _ => None,
        },
        ForcingRole::Precipitation => match c.as_str() {
            // 1 mm of water over 1 m2 is 1 kg.
            "kg m-2 s-1" | "mm s-1" | "kg s-1 m-2" => lin(1.0),
            "mm h-1" | "mm hr-1" | "kg m-2 h-1" => lin(1.0 / 3600.0),
            "mm day-1" | "mm d-1" | "kg m-2 day-1" => lin(1.0 / 86_400.0),
            "m s-1" => lin(1000.0),
            _ => None,
        },
        ForcingRole::ShortwaveDown | ForcingRole::LongwaveDown => match c.as_str() {
            "w m-2" => lin(1.0),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        assert_eq!(canonical_units("kg/m2/s"), "kg m-2 s-1");
        assert_eq!(canonical_units("W/m^2"), "w m-2");
        assert_eq!(canonical_units("kg m**-2 s**-1"), "kg m-2 s-1");
        assert_eq!(canonical_units(" m s-1 "), "m s-1");
        assert_eq!(canonical_units("g/kg"), "g kg-1");
    }

    #[test]
    fn conversions() {
        let c = conversion_to_si(ForcingRole::AirTemperature, "degC").unwrap();
        assert_eq!(c.apply(0.0), 273.15);
        assert_eq!(
            conversion_to_si(ForcingRole::SurfacePressure, "hPa")
                .unwrap()
                .apply(1013.25),
            101325.0
        );
        assert_eq!(
            conversion_to_si(ForcingRole::Precipitation, "mm/s").unwrap(),
            UnitConversion::IDENTITY
        );
        assert!(conversion_to_si(ForcingRole::Precipitation, "furlongs").is_none());
        assert!(conversion_to_si(ForcingRole::ShortwaveDown, "K").is_none());
    }
}
