//! Geometry across the Rust boundary: points and lines are bound as EWKB
//! (SRID 4326, longitude first), and geometries leave the API as GeoJSON text,
//! both through `geozero`, so no coordinates are ever formatted into SQL.

use geo_types::{Coord, Geometry, LineString, Point};
use geozero::ToJson;
use geozero::wkb::{Encode, Ewkb};

/// A WGS 84 point to bind where the SQL expects `geometry(Point, 4326)`:
/// `ST_SetSRID($1::geometry, 4326)`.
pub fn point(latitude: f64, longitude: f64) -> Encode<Geometry<f64>> {
    Encode(Geometry::Point(Point::new(longitude, latitude)))
}

/// A WGS 84 line through `(longitude, latitude)` pairs, to bind like [`point`].
pub fn line(path: &[(f64, f64)]) -> Encode<Geometry<f64>> {
    let coords: Vec<Coord<f64>> = path.iter().map(|&(x, y)| Coord { x, y }).collect();
    Encode(Geometry::LineString(LineString::new(coords)))
}

/// GeoJSON text of a geometry read as `ST_AsEWKB(geom)`; `None` when absent
/// or not decodable.
pub fn geojson(ewkb: Option<Vec<u8>>) -> Option<String> {
    Ewkb(ewkb?).to_json().ok()
}
