//! Finding helpers for a job: service areas on H3 cells, availability in local time, and a
//! ranked, explained search over an in-memory index. Knows neither HTTP nor SQL.
//!
//! Invariant: a helper's home location never leaves this crate's callers as an exact distance;
//! customers only ever see a [`DistanceBucket`].

use quartier_domain::GeoPoint;

pub mod availability;
pub mod postcodes;
pub mod reputation;
pub mod search;

pub use quartier_domain::DistanceBucket;

/// The distance component of a ranking score: nearer buckets score higher. Scores come from the
/// bucket so that a score never reveals more than the bucket does.
pub fn distance_score(b: DistanceBucket) -> f64 {
    match b {
        DistanceBucket::Under1Km => 1.0,
        DistanceBucket::From1To2Km => 0.85,
        DistanceBucket::From2To5Km => 0.6,
        DistanceBucket::From5To10Km => 0.3,
        DistanceBucket::Over10Km => 0.1,
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
    fn nearer_buckets_score_higher() {
        let scores: Vec<f64> = DistanceBucket::ALL.into_iter().map(distance_score).collect();
        assert!(scores.windows(2).all(|w| w[0] > w[1]), "{scores:?}");
    }

    #[test]
    fn reach_follows_the_radius() {
        let home = GeoPoint::new(47.3779, 8.5403).expect("valid");
        let oerlikon = GeoPoint::new(47.4113, 8.5441).expect("valid");
        assert!(within_reach(home, 5, oerlikon));
        assert!(!within_reach(home, 3, oerlikon));
    }
}
