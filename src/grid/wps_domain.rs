//! The map projection of a WPS `geo_em` domain: the projection from the global attributes
//! (`MAP_PROJ`, `TRUELAT1/2`, `STAND_LON`, `MOAD_CEN_LAT`, `CEN_LAT/LON`, `DX/DY`), the
//! projection x/y coordinates of the mass points and the cell corners, so that output on
//! the domain can carry a CF grid mapping and cell bounds.
//!
//! The mass grid is regular in projection space: x_i = x_c + (i − (nx−1)/2)·DX with
//! (x_c, y_c) the projected domain centre. Reading checks that the projection reproduces
//! `XLAT_M`/`XLONG_M`, so a misread attribute cannot put the grid in the wrong place.

use super::projection::MapProjection;
use super::{GridError, EARTH_RADIUS};
use std::path::Path;

/// A WPS domain in projection space.
#[derive(Debug, Clone, PartialEq)]
pub struct WpsDomain {
    pub projection: MapProjection,
    /// Sphere radius (m).
    pub radius: f64,
    /// Projection x of the mass points (m), west to east, length nx.
    pub x: Vec<f64>,
    /// Projection y of the mass points (m), south to north, length ny.
    pub y: Vec<f64>,
    pub dx: f64,
    pub dy: f64,
}

/// Largest distance (fraction of DX) allowed between a projected `XLAT_M`/`XLONG_M`
/// centre and its place on the regular x/y grid (float32 coordinates are good to ~1 m).
const MAX_MISFIT: f64 = 0.05;

fn attr_err(path: &Path, attribute: &str, message: impl Into<String>) -> GridError {
    GridError::Attribute {
        path: path.to_path_buf(),
        attribute: attribute.to_string(),
        message: message.into(),
    }
}

fn global_f64(file: &netcdf::File, path: &Path, name: &str) -> Result<Option<f64>, GridError> {
    use netcdf::AttributeValue as V;
    let Some(a) = file.attribute(name) else {
        return Ok(None);
    };
    let v = a.value().map_err(|e| GridError::Netcdf {
        path: path.to_path_buf(),
        context: format!("reading attribute {name}"),
        source: e,
    })?;
    let x = match v {
        // float32 attributes by their shortest decimal (TRUELAT1 = -10.762, not -10.7620000839).
        V::Float(x) => x.to_string().parse().expect("a float prints as a number"),
        V::Double(x) => x,
        V::Int(x) => f64::from(x),
        V::Short(x) => f64::from(x),
        V::Floats(x) if x.len() == 1 => x[0]
            .to_string()
            .parse()
            .expect("a float prints as a number"),
        V::Doubles(x) if x.len() == 1 => x[0],
        V::Ints(x) if x.len() == 1 => f64::from(x[0]),
        other => {
            return Err(attr_err(
                path,
                name,
                format!("expected a number, found {other:?}"),
            ))
        }
    };
    if !x.is_finite() {
        return Err(attr_err(path, name, format!("value {x} is not finite")));
    }
    Ok(Some(x))
}

fn required(file: &netcdf::File, path: &Path, name: &str) -> Result<f64, GridError> {
    global_f64(file, path, name)?.ok_or_else(|| attr_err(path, name, "missing"))
}

/// `(ny, nx, values [y][x])` of the first time of a geo_em mass-point variable.
fn mass_field(
    file: &netcdf::File,
    path: &Path,
    name: &str,
) -> Result<(usize, usize, Vec<f64>), GridError> {
    let v = file
        .variable(name)
        .ok_or_else(|| GridError::MissingVariable {
            path: path.to_path_buf(),
            variable: name.to_string(),
        })?;
    let dims: Vec<usize> = v.dimensions().iter().map(|d| d.len()).collect();
    let [nt, ny, nx] = dims[..] else {
        return Err(GridError::Shape {
            path: path.to_path_buf(),
            variable: name.to_string(),
            expected: vec![1, 0, 0],
            found: dims,
        });
    };
    if nt == 0 {
        return Err(GridError::Variable {
            path: path.to_path_buf(),
            variable: name.to_string(),
            message: "has no time record".into(),
        });
    }
    let values = v
        .get_values::<f64, _>([0..1, 0..ny, 0..nx].as_slice())
        .map_err(|e| GridError::Netcdf {
            path: path.to_path_buf(),
            context: format!("reading {name}"),
            source: e,
        })?;
    Ok((ny, nx, values))
}

impl WpsDomain {
    /// The projection of a geo_em file. `Ok(None)` for a projection CF cannot describe
    /// with these attributes (`MAP_PROJ = 6`, rotated latitude-longitude).
    pub fn read_geo_em(path: &Path) -> Result<Option<WpsDomain>, GridError> {
        let file = netcdf::open(path).map_err(|e| GridError::Netcdf {
            path: path.to_path_buf(),
            context: "opening geo_em file".into(),
            source: e,
        })?;
        let map_proj = required(&file, path, "MAP_PROJ")?;
        let truelat1 = required(&file, path, "TRUELAT1")?;
        let stand_lon = required(&file, path, "STAND_LON")?;
        let projection = match map_proj as i32 {
            1 => MapProjection::LambertConformal {
                truelat1,
                truelat2: global_f64(&file, path, "TRUELAT2")?.unwrap_or(truelat1),
                stand_lon,
                origin_lat: match global_f64(&file, path, "MOAD_CEN_LAT")? {
                    Some(v) => v,
                    None => required(&file, path, "CEN_LAT")?,
                },
            },
            2 => MapProjection::PolarStereographic {
                truelat: truelat1,
                stand_lon,
            },
            3 => MapProjection::Mercator {
                truelat: truelat1,
                stand_lon,
            },
            6 => return Ok(None),
            other => {
                return Err(attr_err(
                    path,
                    "MAP_PROJ",
                    format!("projection {other} is not a WPS projection (1, 2, 3 or 6)"),
                ))
            }
        };
        let (dx, dy) = (required(&file, path, "DX")?, required(&file, path, "DY")?);
        if !(dx > 0.0 && dy > 0.0) {
            return Err(attr_err(
                path,
                "DX/DY",
                format!("{dx} x {dy} m is not positive"),
            ));
        }
        let (cen_lat, cen_lon) = (
            required(&file, path, "CEN_LAT")?,
            required(&file, path, "CEN_LON")?,
        );
        let (ny, nx, lat) = mass_field(&file, path, "XLAT_M")?;
        let (_, _, lon) = mass_field(&file, path, "XLONG_M")?;
        if lon.len() != lat.len() {
            return Err(GridError::Variable {
                path: path.to_path_buf(),
                variable: "XLONG_M".into(),
                message: format!("has {} values, XLAT_M {}", lon.len(), lat.len()),
            });
        }
        let (xc, yc) = projection.forward(EARTH_RADIUS, cen_lat, cen_lon);
        let axis = |c: f64, d: f64, n: usize| -> Vec<f64> {
            (0..n)
                .map(|k| c + (k as f64 - 0.5 * (n as f64 - 1.0)) * d)
                .collect()
        };
        let domain = WpsDomain {
            projection,
            radius: EARTH_RADIUS,
            x: axis(xc, dx, nx),
            y: axis(yc, dy, ny),
            dx,
            dy,
        };
        domain.check_centres(path, &lat, &lon)?;
        Ok(Some(domain))
    }

    /// Refuse a projection that does not put the cell centres where `XLAT_M`/`XLONG_M` say.
    fn check_centres(&self, path: &Path, lat: &[f64], lon: &[f64]) -> Result<(), GridError> {
        let nx = self.x.len();
        for (k, (&la, &lo)) in lat.iter().zip(lon).enumerate() {
            let (x, y) = self.projection.forward(self.radius, la, lo);
            let (j, i) = (k / nx, k % nx);
            let misfit = (x - self.x[i]).hypot(y - self.y[j]);
            if misfit > MAX_MISFIT * self.dx.min(self.dy) {
                return Err(GridError::Variable {
                    path: path.to_path_buf(),
                    variable: "XLAT_M/XLONG_M".into(),
                    message: format!(
                        "cell (j={j}, i={i}) at ({la}, {lo}) lies {misfit:.0} m from where the \
                         projection attributes (MAP_PROJ, TRUELAT1/2, STAND_LON, CEN_LAT/LON, \
                         DX/DY) place it"
                    ),
                });
            }
        }
        Ok(())
    }

    /// Cell corners `[y][x][4]` (latitudes, longitudes), counter-clockwise from south-west,
    /// half a grid spacing from each centre in projection space. Corner longitudes stay
    /// within 180° of their centre's, so a cell on the date line is not torn apart.
    pub fn corners(&self) -> (Vec<f64>, Vec<f64>) {
        let n = 4 * self.x.len() * self.y.len();
        let (mut clat, mut clon) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let (hx, hy) = (0.5 * self.dx, 0.5 * self.dy);
        for &y in &self.y {
            for &x in &self.x {
                let (_, centre_lon) = self.projection.inverse(self.radius, x, y);
                for (sx, sy) in [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)] {
                    let (la, lo) = self
                        .projection
                        .inverse(self.radius, x + sx * hx, y + sy * hy);
                    clat.push(la);
                    clon.push(centre_lon + super::lon_diff(centre_lon, lo));
                }
            }
        }
        (clat, clon)
    }
}
