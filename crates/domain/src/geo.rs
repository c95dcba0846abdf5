//! Coordinates (WGS-84) and great-circle distance.

use crate::error::FieldError;

/// A WGS-84 position. Chinese map tiles use GCJ-02; conversion for display happens in the
/// presentation layer, never in storage.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GeoPoint {
    pub lat: f64,
    pub lon: f64,
}

impl GeoPoint {
    pub fn new(lat: f64, lon: f64) -> Result<Self, FieldError> {
        if !(lat.is_finite()
            && lon.is_finite()
            && (-90.0..=90.0).contains(&lat)
            && (-180.0..=180.0).contains(&lon))
        {
            return Err(FieldError::new(
                "location",
                "coordinates",
                "坐标无效（纬度 -90~90，经度 -180~180）",
                "invalid coordinates (latitude -90..90, longitude -180..180)",
            ));
        }
        Ok(Self { lat, lon })
    }

    /// Haversine distance in metres.
    pub fn distance_m(self, other: GeoPoint) -> f64 {
        const R: f64 = 6_371_008.8;
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lon - self.lon).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * R * a.sqrt().asin()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_and_validation() {
        let a = GeoPoint::new(40.0769, 113.3001).unwrap();
        let b = GeoPoint::new(40.0869, 113.3001).unwrap();
        assert!((a.distance_m(b) - 1112.0).abs() < 2.0);
        assert!(GeoPoint::new(91.0, 0.0).is_err());
        assert!(GeoPoint::new(f64::NAN, 0.0).is_err());
    }
}
