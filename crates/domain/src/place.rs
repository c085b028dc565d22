//! Places on the globe.

use crate::DomainError;

/// A WGS84 coordinate pair. Always finite and in range.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct GeoPoint {
    lat: f64,
    lon: f64,
}

impl GeoPoint {
    /// A point from latitude and longitude in degrees.
    pub fn new(lat: f64, lon: f64) -> Result<Self, DomainError> {
        if !lat.is_finite() || !lon.is_finite() || !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
            return Err(DomainError::InvalidCoordinates);
        }
        Ok(Self { lat, lon })
    }

    /// Latitude in degrees.
    pub fn lat(self) -> f64 {
        self.lat
    }

    /// Longitude in degrees.
    pub fn lon(self) -> f64 {
        self.lon
    }

    /// Great-circle distance in metres (haversine on a sphere of the Earth's mean radius).
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
    fn out_of_range_coordinates_are_refused() {
        assert!(GeoPoint::new(91.0, 8.0).is_err());
        assert!(GeoPoint::new(47.0, f64::NAN).is_err());
        assert!(GeoPoint::new(47.37, 8.54).is_ok());
    }

    #[test]
    fn zurich_hb_to_oerlikon_is_about_four_km() {
        let hb = GeoPoint::new(47.3779, 8.5403).expect("valid");
        let oerlikon = GeoPoint::new(47.4113, 8.5441).expect("valid");
        let d = hb.distance_m(oerlikon);
        assert!((3_600.0..3_900.0).contains(&d), "{d}");
    }
}
