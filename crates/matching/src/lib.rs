//! Finding helpers for a job: service areas on H3 cells, availability in local time, and a
//! ranked, explained search over an in-memory index. Knows neither HTTP nor SQL.
//!
//! Invariant: a helper's home location never leaves this crate's callers as an exact distance;
//! customers only ever see a [`DistanceBucket`].

use quartier_domain::GeoPoint;

pub mod availability;
pub mod postcodes;
pub mod search;

/// Distances as customers see them: a bucket, never the exact metres.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistanceBucket {
    /// Under 1 km.
    Under1Km,
    /// 1 to 2 km.
    From1To2Km,
    /// 2 to 5 km.
    From2To5Km,
    /// 5 to 10 km.
    From5To10Km,
    /// More than 10 km.
    Over10Km,
}

impl DistanceBucket {
    /// The bucket a distance in metres falls into.
    pub fn of_metres(m: f64) -> Self {
        match m {
            m if m < 1_000.0 => Self::Under1Km,
            m if m < 2_000.0 => Self::From1To2Km,
            m if m < 5_000.0 => Self::From2To5Km,
            m if m < 10_000.0 => Self::From5To10Km,
            _ => Self::Over10Km,
        }
    }

    /// The distance component of a ranking score: nearer buckets score higher. Scores come from
    /// the bucket so that a score never reveals more than the bucket does.
    pub fn score(self) -> f64 {
        match self {
            Self::Under1Km => 1.0,
            Self::From1To2Km => 0.85,
            Self::From2To5Km => 0.6,
            Self::From5To10Km => 0.3,
            Self::Over10Km => 0.1,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Under1Km => "under_1km",
            Self::From1To2Km => "1_2km",
            Self::From2To5Km => "2_5km",
            Self::From5To10Km => "5_10km",
            Self::Over10Km => "over_10km",
        }
    }
}

/// Whether a helper living at `home` with `radius_km` reaches `place`.
pub fn within_reach(home: GeoPoint, radius_km: u8, place: GeoPoint) -> bool {
    home.distance_m(place) <= f64::from(radius_km) * 1_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_have_the_documented_edges() {
        assert_eq!(DistanceBucket::of_metres(999.0), DistanceBucket::Under1Km);
        assert_eq!(DistanceBucket::of_metres(1_000.0), DistanceBucket::From1To2Km);
        assert_eq!(DistanceBucket::of_metres(4_999.0), DistanceBucket::From2To5Km);
        assert_eq!(DistanceBucket::of_metres(10_000.0), DistanceBucket::Over10Km);
    }

    #[test]
    fn reach_follows_the_radius() {
        let home = GeoPoint::new(47.3779, 8.5403).expect("valid");
        let oerlikon = GeoPoint::new(47.4113, 8.5441).expect("valid");
        assert!(within_reach(home, 5, oerlikon));
        assert!(!within_reach(home, 3, oerlikon));
    }
}
