//! The three WPS map projections on a sphere (Snyder, *Map Projections — A Working Manual*,
//! USGS PP 1395, 1987: §15 Lambert conformal conic, §7 Mercator, §21 polar stereographic),
//! forward and inverse, with their CF grid-mapping names and attributes.
//!
//! Coordinates are in metres with no false easting or northing; WRF uses a sphere of
//! radius [`super::EARTH_RADIUS`].

use std::f64::consts::{FRAC_PI_2, FRAC_PI_4};

/// A conformal map projection of a sphere (angles in degrees).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MapProjection {
    /// WPS `MAP_PROJ = 1`.
    LambertConformal {
        truelat1: f64,
        truelat2: f64,
        stand_lon: f64,
        /// Latitude where y = 0.
        origin_lat: f64,
    },
    /// WPS `MAP_PROJ = 2`; the hemisphere is the sign of `truelat`.
    PolarStereographic { truelat: f64, stand_lon: f64 },
    /// WPS `MAP_PROJ = 3`.
    Mercator { truelat: f64, stand_lon: f64 },
}

/// tan(π/4 + φ/2), the isometric-latitude term shared by Lambert and Mercator.
fn t(phi: f64) -> f64 {
    (FRAC_PI_4 + 0.5 * phi).tan()
}

/// Lon − central lon folded into (−180°, 180°], in radians.
fn dlon(lon: f64, lon0: f64) -> f64 {
    crate::grid::lon_diff(lon0, lon).to_radians()
}

impl MapProjection {
    /// Lambert cone constant n and the scale term F (Snyder 15-3, 15-2; tangent cone when
    /// the true latitudes coincide).
    fn cone(truelat1: f64, truelat2: f64) -> (f64, f64) {
        let (p1, p2) = (truelat1.to_radians(), truelat2.to_radians());
        let n = if (truelat1 - truelat2).abs() < 1e-9 {
            p1.sin()
        } else {
            (p1.cos() / p2.cos()).ln() / (t(p2) / t(p1)).ln()
        };
        (n, p1.cos() * t(p1).powf(n) / n)
    }

    /// Projected (x, y) in metres of (lat, lon) in degrees.
    pub fn forward(&self, radius: f64, lat: f64, lon: f64) -> (f64, f64) {
        let phi = lat.to_radians();
        match *self {
            MapProjection::LambertConformal {
                truelat1,
                truelat2,
                stand_lon,
                origin_lat,
            } => {
                let (n, f) = Self::cone(truelat1, truelat2);
                let rho = radius * f / t(phi).powf(n);
                let rho0 = radius * f / t(origin_lat.to_radians()).powf(n);
                let theta = n * dlon(lon, stand_lon);
                (rho * theta.sin(), rho0 - rho * theta.cos())
            }
            MapProjection::PolarStereographic { truelat, stand_lon } => {
                let s = truelat.signum();
                let k = radius * (1.0 + (s * truelat).to_radians().sin());
                let rho = k * (FRAC_PI_4 - 0.5 * s * phi).tan();
                let l = dlon(lon, stand_lon);
                (rho * l.sin(), -s * rho * l.cos())
            }
            MapProjection::Mercator { truelat, stand_lon } => {
                let r = radius * truelat.to_radians().cos();
                (r * dlon(lon, stand_lon), r * t(phi).ln())
            }
        }
    }

    /// (lat, lon) in degrees of projected (x, y) in metres; longitudes in (−180°, 180°].
    pub fn inverse(&self, radius: f64, x: f64, y: f64) -> (f64, f64) {
        let (phi, lon) = match *self {
            MapProjection::LambertConformal {
                truelat1,
                truelat2,
                stand_lon,
                origin_lat,
            } => {
                let (n, f) = Self::cone(truelat1, truelat2);
                let rho0 = radius * f / t(origin_lat.to_radians()).powf(n);
                let s = n.signum();
                let rho = s * x.hypot(rho0 - y);
                let theta = (s * x).atan2(s * (rho0 - y));
                let phi = 2.0 * (radius * f / rho).powf(1.0 / n).atan() - FRAC_PI_2;
                (phi, stand_lon + (theta / n).to_degrees())
            }
            MapProjection::PolarStereographic { truelat, stand_lon } => {
                let s = truelat.signum();
                let k = radius * (1.0 + (s * truelat).to_radians().sin());
                let rho = x.hypot(y);
                let phi = s * (FRAC_PI_2 - 2.0 * (rho / k).atan());
                (phi, stand_lon + x.atan2(-s * y).to_degrees())
            }
            MapProjection::Mercator { truelat, stand_lon } => {
                let r = radius * truelat.to_radians().cos();
                let phi = 2.0 * (y / r).exp().atan() - FRAC_PI_2;
                (phi, stand_lon + (x / r).to_degrees())
            }
        };
        (phi.to_degrees(), lon_180(lon))
    }

    /// CF `grid_mapping_name` and attributes (CF conventions, appendix F).
    pub fn cf(&self, radius: f64) -> (&'static str, Vec<(String, Vec<f64>)>) {
        let p = |k: &str, v: Vec<f64>| (k.to_string(), v);
        let (name, mut attrs) = match *self {
            MapProjection::LambertConformal {
                truelat1,
                truelat2,
                stand_lon,
                origin_lat,
            } => {
                let parallels = if (truelat1 - truelat2).abs() < 1e-9 {
                    vec![truelat1]
                } else {
                    vec![truelat1, truelat2]
                };
                (
                    "lambert_conformal_conic",
                    vec![
                        p("standard_parallel", parallels),
                        p("longitude_of_central_meridian", vec![stand_lon]),
                        p("latitude_of_projection_origin", vec![origin_lat]),
                    ],
                )
            }
            MapProjection::PolarStereographic { truelat, stand_lon } => (
                "polar_stereographic",
                vec![
                    p(
                        "latitude_of_projection_origin",
                        vec![90f64.copysign(truelat)],
                    ),
                    p("straight_vertical_longitude_from_pole", vec![stand_lon]),
                    p("standard_parallel", vec![truelat]),
                ],
            ),
            MapProjection::Mercator { truelat, stand_lon } => (
                "mercator",
                vec![
                    p("longitude_of_projection_origin", vec![stand_lon]),
                    p("standard_parallel", vec![truelat]),
                ],
            ),
        };
        attrs.push(p("false_easting", vec![0.0]));
        attrs.push(p("false_northing", vec![0.0]));
        attrs.push(p("earth_radius", vec![radius]));
        (name, attrs)
    }
}

fn lon_180(lon: f64) -> f64 {
    let l = (lon + 180.0).rem_euclid(360.0) - 180.0;
    if l == -180.0 {
        180.0
    } else {
        l
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const R: f64 = 6_370_000.0;

    fn round_trip(p: MapProjection, points: &[(f64, f64)]) {
        for &(lat, lon) in points {
            let (x, y) = p.forward(R, lat, lon);
            let (la, lo) = p.inverse(R, x, y);
            assert!(
                (la - lat).abs() < 1e-9 && crate::grid::lon_diff(lon, lo).abs() < 1e-9,
                "{p:?}: ({lat}, {lon}) -> ({x}, {y}) -> ({la}, {lo})"
            );
        }
    }

    #[test]
    fn projections_invert() {
        let pts = [(-10.7, -62.3), (-30.0, -80.0), (5.0, -40.0)];
        round_trip(
            MapProjection::LambertConformal {
                truelat1: -10.762,
                truelat2: -10.762,
                stand_lon: -64.8,
                origin_lat: -10.762,
            },
            &pts,
        );
        let north = [(40.0, -100.0), (60.0, 10.0), (25.0, -150.0)];
        round_trip(
            MapProjection::LambertConformal {
                truelat1: 30.0,
                truelat2: 60.0,
                stand_lon: -98.0,
                origin_lat: 38.0,
            },
            &north,
        );
        round_trip(
            MapProjection::PolarStereographic {
                truelat: 60.0,
                stand_lon: -150.0,
            },
            &north,
        );
        round_trip(
            MapProjection::PolarStereographic {
                truelat: -71.0,
                stand_lon: 0.0,
            },
            &[(-60.0, 10.0), (-80.0, -120.0), (-45.0, 170.0)],
        );
        round_trip(
            MapProjection::Mercator {
                truelat: 10.0,
                stand_lon: 100.0,
            },
            &[(0.0, 100.0), (-20.0, 90.0), (30.0, 140.0)],
        );
    }

    /// Snyder's worked example 15-a scaled to a sphere: Lambert with parallels 33° and 45°,
    /// origin 23° N 96° W, point 35° N 75° W, R = 1 gives x = 0.2966785, y = 0.2462112.
    #[test]
    fn lambert_matches_snyder_example() {
        let p = MapProjection::LambertConformal {
            truelat1: 33.0,
            truelat2: 45.0,
            stand_lon: -96.0,
            origin_lat: 23.0,
        };
        let (x, y) = p.forward(1.0, 35.0, -75.0);
        assert!((x - 0.2966785).abs() < 1e-6, "x = {x}");
        assert!((y - 0.2462112).abs() < 1e-6, "y = {y}");
    }
}
