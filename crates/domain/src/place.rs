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

/// How far the helper travels, as the bucket helpers and customers see (never exact metres).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, Default)]
pub enum DistanceBucket {
    /// Under 1 km.
    #[default]
    #[serde(rename = "under_1km")]
    Under1Km,
    /// 1 to 2 km.
    #[serde(rename = "1_2km")]
    From1To2Km,
    /// 2 to 5 km.
    #[serde(rename = "2_5km")]
    From2To5Km,
    /// 5 to 10 km.
    #[serde(rename = "5_10km")]
    From5To10Km,
    /// More than 10 km.
    #[serde(rename = "over_10km")]
    Over10Km,
}

impl DistanceBucket {
    /// Every bucket, nearest first.
    pub const ALL: [DistanceBucket; 5] = [
        DistanceBucket::Under1Km,
        DistanceBucket::From1To2Km,
        DistanceBucket::From2To5Km,
        DistanceBucket::From5To10Km,
        DistanceBucket::Over10Km,
    ];

    /// The bucket a distance in metres falls into (edges at 1, 2, 5 and 10 km, each
    /// edge belonging to the farther bucket).
    pub fn of_metres(m: f64) -> Self {
        match m {
            m if m < 1_000.0 => Self::Under1Km,
            m if m < 2_000.0 => Self::From1To2Km,
            m if m < 5_000.0 => Self::From2To5Km,
            m if m < 10_000.0 => Self::From5To10Km,
            _ => Self::Over10Km,
        }
    }

    /// The wire name: `under_1km`, `1_2km`, `2_5km`, `5_10km` or `over_10km`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Under1Km => "under_1km",
            Self::From1To2Km => "1_2km",
            Self::From2To5Km => "2_5km",
            Self::From5To10Km => "5_10km",
            Self::Over10Km => "over_10km",
        }
    }

    /// The bucket with this wire name, if any.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.as_str() == s)
    }

    /// A short English label, e.g. `2-5 km`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Under1Km => "under 1 km",
            Self::From1To2Km => "1-2 km",
            Self::From2To5Km => "2-5 km",
            Self::From5To10Km => "5-10 km",
            Self::Over10Km => "over 10 km",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_have_the_documented_edges_and_names() {
        assert_eq!(DistanceBucket::of_metres(999.0), DistanceBucket::Under1Km);
        assert_eq!(DistanceBucket::of_metres(1_000.0), DistanceBucket::From1To2Km);
        assert_eq!(DistanceBucket::of_metres(10_000.0), DistanceBucket::Over10Km);
        for b in DistanceBucket::ALL {
            assert_eq!(DistanceBucket::parse(b.as_str()), Some(b));
        }
    }

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
