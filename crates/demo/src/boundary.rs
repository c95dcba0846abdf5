//! The district outline: parsing the small GeoJSON polygon, point-in-polygon, and a local
//! metric projection for placing things a given number of metres apart.

/// The real outline of 平城区 (46 vertices, WGS-84 lon/lat); see `data/SOURCES.md`.
pub const BOUNDARY_GEOJSON: &str = include_str!("../data/pingcheng_boundary.geojson");

/// Metres per degree of latitude (mean Earth radius 6,371,008.8 m, as in `GeoPoint`).
const M_PER_DEG_LAT: f64 = 6_371_008.8 * std::f64::consts::PI / 180.0;

/// A polygon with optional holes, in (lon, lat) degrees, plus a local equirectangular
/// projection centred on it. At district scale (~20 km) the projection's error is far below
/// the outline's own precision.
#[derive(Debug, Clone, PartialEq)]
pub struct Boundary {
    /// Outer ring first, then holes; each ring closed or not (both work).
    rings: Vec<Vec<(f64, f64)>>,
    /// Planar centroid of the outer ring (lat, lon).
    centroid: (f64, f64),
    /// Metres per degree of longitude at the centroid's latitude.
    m_per_deg_lon: f64,
}

impl Boundary {
    /// Parses a GeoJSON FeatureCollection, Feature, Polygon or single-part MultiPolygon.
    /// Returns `None` when no polygon is found (the embedded file always has one).
    pub fn from_geojson(text: &str) -> Option<Boundary> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let geometry = match v.get("type")?.as_str()? {
            "FeatureCollection" => v.get("features")?.get(0)?.get("geometry")?,
            "Feature" => v.get("geometry")?,
            _ => &v,
        };
        let coords = geometry.get("coordinates")?;
        let polygon = match geometry.get("type")?.as_str()? {
            "Polygon" => coords,
            "MultiPolygon" => coords.get(0)?,
            _ => return None,
        };
        let rings: Vec<Vec<(f64, f64)>> = polygon
            .as_array()?
            .iter()
            .map(|ring| {
                ring.as_array()?
                    .iter()
                    .map(|p| Some((p.get(0)?.as_f64()?, p.get(1)?.as_f64()?)))
                    .collect::<Option<Vec<_>>>()
            })
            .collect::<Option<_>>()?;
        if rings.first().is_none_or(|r| r.len() < 3) {
            return None;
        }
        Some(Boundary::from_rings(rings))
    }

    fn from_rings(rings: Vec<Vec<(f64, f64)>>) -> Boundary {
        // Shoelace centroid of the outer ring.
        let outer = &rings[0];
        let (mut a, mut cx, mut cy) = (0.0, 0.0, 0.0);
        for i in 0..outer.len() {
            let (x0, y0) = outer[i];
            let (x1, y1) = outer[(i + 1) % outer.len()];
            let cross = x0 * y1 - x1 * y0;
            a += cross;
            cx += (x0 + x1) * cross;
            cy += (y0 + y1) * cross;
        }
        let (lon, lat) = (cx / (3.0 * a), cy / (3.0 * a));
        Boundary { rings, centroid: (lat, lon), m_per_deg_lon: M_PER_DEG_LAT * lat.to_radians().cos() }
    }

    /// The embedded Pingcheng outline.
    pub fn pingcheng() -> Boundary {
        Boundary::from_geojson(BOUNDARY_GEOJSON).expect("the embedded boundary is a valid polygon")
    }

    /// Even-odd ray casting over all rings, so holes are excluded.
    pub fn contains(&self, lat: f64, lon: f64) -> bool {
        let mut inside = false;
        for ring in &self.rings {
            let n = ring.len();
            let mut j = n - 1;
            for i in 0..n {
                let (xi, yi) = ring[i];
                let (xj, yj) = ring[j];
                if (yi > lat) != (yj > lat) && lon < (xj - xi) * (lat - yi) / (yj - yi) + xi {
                    inside = !inside;
                }
                j = i;
            }
        }
        inside
    }

    /// Inside, and so are the eight points `margin_m` away in the compass directions.
    pub fn contains_with_margin(&self, lat: f64, lon: f64, margin_m: f64) -> bool {
        const D: f64 = std::f64::consts::FRAC_1_SQRT_2;
        const DIRS: [(f64, f64); 8] =
            [(1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0), (D, D), (D, -D), (-D, D), (-D, -D)];
        self.contains(lat, lon)
            && DIRS.iter().all(|&(dx, dy)| {
                let (la, lo) = self.offset(lat, lon, dx * margin_m, dy * margin_m);
                self.contains(la, lo)
            })
    }

    /// The outline's planar centroid, (lat, lon).
    pub fn centroid(&self) -> (f64, f64) {
        self.centroid
    }

    /// Bounding box of the outer ring: (min_lat, min_lon, max_lat, max_lon).
    pub fn bbox(&self) -> (f64, f64, f64, f64) {
        self.rings[0].iter().fold(
            (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY),
            |(a, b, c, d), &(lon, lat)| (a.min(lat), b.min(lon), c.max(lat), d.max(lon)),
        )
    }

    /// The point `east_m` metres east and `north_m` metres north of (lat, lon).
    pub fn offset(&self, lat: f64, lon: f64, east_m: f64, north_m: f64) -> (f64, f64) {
        (lat + north_m / M_PER_DEG_LAT, lon + east_m / self.m_per_deg_lon)
    }

    /// Local planar coordinates in metres (east, north) relative to the centroid: cheap
    /// distances for nearest-neighbour searches.
    pub fn to_metres(&self, lat: f64, lon: f64) -> (f64, f64) {
        ((lon - self.centroid.1) * self.m_per_deg_lon, (lat - self.centroid.0) * M_PER_DEG_LAT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_outline_parses_and_contains_its_centre() {
        let b = Boundary::pingcheng();
        assert_eq!(b.rings[0].len(), 46);
        let (lat, lon) = b.centroid();
        assert!((lat - 40.085).abs() < 0.01 && (lon - 113.302).abs() < 0.01, "{lat} {lon}");
        assert!(b.contains(lat, lon));
        // Points north of the outline and far to the south-west are outside.
        assert!(!b.contains(40.20, 113.30));
        assert!(!b.contains(39.90, 113.10));
        let (min_lat, min_lon, max_lat, max_lon) = b.bbox();
        assert!((min_lat - 39.973154).abs() < 1e-9 && (max_lon - 113.396392).abs() < 1e-9);
        assert!(min_lon < max_lon && min_lat < max_lat);
    }

    #[test]
    fn holes_are_excluded_and_offsets_are_metric() {
        let square = |c: f64, r: f64| vec![(c - r, c - r), (c + r, c - r), (c + r, c + r), (c - r, c + r)];
        let b = Boundary::from_rings(vec![square(10.0, 1.0), square(10.0, 0.2)]);
        assert!(b.contains(10.5, 10.5));
        assert!(!b.contains(10.0, 10.0));
        assert!(!b.contains(12.0, 10.0));
        let p = Boundary::pingcheng();
        let (lat, lon) = p.centroid();
        let (la, lo) = p.offset(lat, lon, 300.0, 400.0);
        let d = zhulao_domain::GeoPoint { lat, lon }.distance_m(zhulao_domain::GeoPoint { lat: la, lon: lo });
        assert!((d - 500.0).abs() < 1.0, "{d}");
    }
}
