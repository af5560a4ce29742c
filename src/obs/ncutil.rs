//! Small NetCDF helpers shared by the readers: raw reads in the stored type, `_Unsigned`
//! reinterpretation, numeric and text attributes.

use super::ObsError;
use netcdf::types::NcVariableType;
use netcdf::{AttributeValue, Variable};
use std::path::Path;

/// The decimal a single-precision attribute was written as (0.01f → 0.01, not
/// 0.009999999776), so that scaled values are exact decimals.
pub fn f32_as_decimal(v: f32) -> f64 {
    format!("{v}").parse::<f64>().unwrap_or(v as f64)
}

/// A numeric attribute as f64 (first element of an array attribute).
pub fn attr_f64(var: &Variable, name: &str) -> Option<f64> {
    let v = var.attribute_value(name)?.ok()?;
    Some(match v {
        AttributeValue::Uchar(x) => x as f64,
        AttributeValue::Schar(x) => x as f64,
        AttributeValue::Ushort(x) => x as f64,
        AttributeValue::Short(x) => x as f64,
        AttributeValue::Uint(x) => x as f64,
        AttributeValue::Int(x) => x as f64,
        AttributeValue::Ulonglong(x) => x as f64,
        AttributeValue::Longlong(x) => x as f64,
        AttributeValue::Float(x) => f32_as_decimal(x),
        AttributeValue::Double(x) => x,
        AttributeValue::Floats(x) => f32_as_decimal(*x.first()?),
        AttributeValue::Doubles(x) => *x.first()?,
        AttributeValue::Shorts(x) => *x.first()? as f64,
        AttributeValue::Ints(x) => *x.first()? as f64,
        AttributeValue::Str(s) => s.trim().parse().ok()?,
        _ => return None,
    })
}

/// A text attribute.
pub fn attr_str(var: &Variable, name: &str) -> Option<String> {
    match var.attribute_value(name)?.ok()? {
        AttributeValue::Str(s) => Some(s),
        AttributeValue::Strs(v) => Some(v.join(" ")),
        _ => None,
    }
}

/// True when the variable carries `_Unsigned = "true"`.
pub fn is_unsigned_attr(var: &Variable) -> bool {
    attr_str(var, "_Unsigned")
        .map(|s| s.trim().eq_ignore_ascii_case("true"))
        .unwrap_or(false)
}

/// Look up a variable or fail naming file and variable.
pub fn require_var<'f>(
    file: &'f netcdf::File,
    path: &Path,
    name: &str,
) -> Result<Variable<'f>, ObsError> {
    file.variable(name)
        .ok_or_else(|| ObsError::var(path, name, "variable not found"))
}

/// Read a 16-bit variable as unsigned: NC_USHORT directly, NC_SHORT reinterpreted when it
/// carries `_Unsigned = "true"` (NetCDF-3 packing), so 65535 stays 65535.
pub fn read_u16(var: &Variable, path: &Path) -> Result<Vec<u16>, ObsError> {
    let name = var.name();
    match var.vartype() {
        NcVariableType::Int(netcdf::types::IntType::U16) => var
            .get_values::<u16, _>(..)
            .map_err(|e| ObsError::var(path, &name, e)),
        NcVariableType::Int(netcdf::types::IntType::I16) if is_unsigned_attr(var) => Ok(var
            .get_values::<i16, _>(..)
            .map_err(|e| ObsError::var(path, &name, e))?
            .into_iter()
            .map(|x| x as u16)
            .collect()),
        t => Err(ObsError::var(
            path,
            &name,
            format!("expected an unsigned 16-bit type, found {t:?}"),
        )),
    }
}

/// Read an 8-bit flag variable as unsigned (NC_UBYTE, or NC_BYTE with `_Unsigned`).
pub fn read_u8(var: &Variable, path: &Path) -> Result<Vec<u8>, ObsError> {
    let name = var.name();
    match var.vartype() {
        NcVariableType::Int(netcdf::types::IntType::U8) => var
            .get_values::<u8, _>(..)
            .map_err(|e| ObsError::var(path, &name, e)),
        NcVariableType::Int(netcdf::types::IntType::I8) if is_unsigned_attr(var) => Ok(var
            .get_values::<i8, _>(..)
            .map_err(|e| ObsError::var(path, &name, e))?
            .into_iter()
            .map(|x| x as u8)
            .collect()),
        t => Err(ObsError::var(
            path,
            &name,
            format!("expected an unsigned 8-bit type, found {t:?}"),
        )),
    }
}

/// Read a 32-bit signed integer variable in its stored type.
pub fn read_i32(var: &Variable, path: &Path) -> Result<Vec<i32>, ObsError> {
    let name = var.name();
    match var.vartype() {
        NcVariableType::Int(netcdf::types::IntType::I32) => var
            .get_values::<i32, _>(..)
            .map_err(|e| ObsError::var(path, &name, e)),
        t => Err(ObsError::var(
            path,
            &name,
            format!("expected a 32-bit integer, found {t:?}"),
        )),
    }
}

/// Read any numeric variable (or a hyperslab of it) as f64, with packing
/// (`scale_factor`/`add_offset`) applied and fill/missing values as NaN.
pub fn read_unpacked_f64<E>(var: &Variable, path: &Path, extents: E) -> Result<Vec<f64>, ObsError>
where
    E: TryInto<netcdf::Extents>,
    E::Error: Into<netcdf::Error>,
{
    use netcdf::types::{FloatType, IntType};
    let name = var.name();
    let err = |e: netcdf::Error| ObsError::var(path, &name, e);
    let unsigned = is_unsigned_attr(var);
    let raw: Vec<f64> = match var.vartype() {
        NcVariableType::Float(FloatType::F32) => var
            .get_values::<f32, _>(extents)
            .map_err(err)?
            .into_iter()
            .map(|x| x as f64)
            .collect(),
        NcVariableType::Float(FloatType::F64) => var.get_values::<f64, _>(extents).map_err(err)?,
        NcVariableType::Int(IntType::I16) if unsigned => var
            .get_values::<i16, _>(extents)
            .map_err(err)?
            .into_iter()
            .map(|x| x as u16 as f64)
            .collect(),
        NcVariableType::Int(IntType::I16) => var
            .get_values::<i16, _>(extents)
            .map_err(err)?
            .into_iter()
            .map(|x| x as f64)
            .collect(),
        NcVariableType::Int(IntType::U16) => var
            .get_values::<u16, _>(extents)
            .map_err(err)?
            .into_iter()
            .map(|x| x as f64)
            .collect(),
        NcVariableType::Int(IntType::I32) => var
            .get_values::<i32, _>(extents)
            .map_err(err)?
            .into_iter()
            .map(|x| x as f64)
            .collect(),
        NcVariableType::Int(IntType::I8) if unsigned => var
            .get_values::<i8, _>(extents)
            .map_err(err)?
            .into_iter()
            .map(|x| x as u8 as f64)
            .collect(),
        NcVariableType::Int(IntType::I8) => var
            .get_values::<i8, _>(extents)
            .map_err(err)?
            .into_iter()
            .map(|x| x as f64)
            .collect(),
        NcVariableType::Int(IntType::U8) => var
            .get_values::<u8, _>(extents)
            .map_err(err)?
            .into_iter()
            .map(|x| x as f64)
            .collect(),
        NcVariableType::Int(IntType::I64) => var
            .get_values::<i64, _>(extents)
            .map_err(err)?
            .into_iter()
            .map(|x| x as f64)
            .collect(),
        t => {
            return Err(ObsError::var(
                path,
                &name,
                format!("unsupported type {t:?}"),
            ))
        }
    };
    // Fill and missing values are compared in the stored (packed) units.
    let mut fills: Vec<f64> = Vec::new();
    for a in ["_FillValue", "missing_value"] {
        if let Some(mut f) = attr_f64(var, a) {
            if unsigned && f < 0.0 {
                f += match var.vartype() {
                    NcVariableType::Int(IntType::I16) => 65536.0,
                    _ => 256.0,
                };
            }
            fills.push(f);
        }
    }
    let scale = attr_f64(var, "scale_factor").unwrap_or(1.0);
    let offset = attr_f64(var, "add_offset").unwrap_or(0.0);
    Ok(raw
        .into_iter()
        .map(|x| {
            if x.is_nan()
                || fills
                    .iter()
                    .any(|f| *f == x || (f.is_finite() && (x - f).abs() <= f.abs() * 1e-6))
            {
                f64::NAN
            } else {
                x * scale + offset
            }
        })
        .collect())
}
