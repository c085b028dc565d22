//! Swiss postcodes of the demo region (the city of Zurich and its agglomeration) with the
//! approximate centre of each, so a customer can search by postcode without an external geocoder.

use quartier_domain::GeoPoint;

/// (postcode, place, latitude, longitude)
const POSTCODES: &[(&str, &str, f64, f64)] = &[
    ("8001", "Altstadt", 47.3720, 8.5410),
    ("8002", "Enge", 47.3640, 8.5310),
    ("8003", "Wiedikon", 47.3690, 8.5180),
    ("8004", "Aussersihl", 47.3790, 8.5270),
    ("8005", "Industriequartier", 47.3860, 8.5210),
    ("8006", "Unterstrass", 47.3880, 8.5430),
    ("8008", "Seefeld", 47.3560, 8.5550),
    ("8032", "Hottingen", 47.3700, 8.5630),
    ("8037", "Wipkingen", 47.3940, 8.5290),
    ("8038", "Wollishofen", 47.3460, 8.5300),
    ("8041", "Leimbach", 47.3280, 8.5150),
    ("8044", "Fluntern", 47.3780, 8.5620),
    ("8045", "Zürich Alt-Wiedikon", 47.362, 8.52),
    ("8046", "Affoltern", 47.4200, 8.5100),
    ("8047", "Albisrieden", 47.3760, 8.4870),
    ("8048", "Altstetten", 47.3890, 8.4870),
    ("8049", "Höngg", 47.4030, 8.4970),
    ("8050", "Oerlikon", 47.4110, 8.5440),
    ("8051", "Schwamendingen", 47.4050, 8.5710),
    ("8052", "Seebach", 47.4240, 8.5430),
    ("8053", "Witikon", 47.3570, 8.5920),
    ("8055", "Friesenberg", 47.3620, 8.5000),
    ("8057", "Zürich Unterstrass", 47.396, 8.544),
    ("8105", "Regensdorf", 47.4340, 8.4680),
    ("8134", "Adliswil", 47.3100, 8.5250),
    ("8152", "Opfikon", 47.4310, 8.5680),
    ("8302", "Kloten", 47.4520, 8.5850),
    ("8303", "Bassersdorf", 47.4430, 8.6290),
    ("8304", "Wallisellen", 47.4150, 8.5960),
    ("8600", "Dübendorf", 47.3970, 8.6180),
    ("8604", "Volketswil", 47.3900, 8.6910),
    ("8610", "Uster", 47.3480, 8.7180),
    ("8700", "Küsnacht", 47.3190, 8.5830),
    ("8702", "Zollikon", 47.3400, 8.5740),
    ("8800", "Thalwil", 47.2920, 8.5640),
    ("8802", "Kilchberg", 47.3240, 8.5470),
    ("8803", "Rüschlikon", 47.3070, 8.5560),
    ("8902", "Urdorf", 47.3850, 8.4260),
    ("8952", "Schlieren", 47.3970, 8.4470),
    ("8953", "Dietikon", 47.4020, 8.4000),
];

/// The centre of a postcode of the demo region, with the place's name.
pub fn lookup(postcode: &str) -> Option<(&'static str, GeoPoint)> {
    let code = postcode.trim();
    POSTCODES.iter().find(|(pc, ..)| *pc == code).and_then(|&(_, name, lat, lon)| GeoPoint::new(lat, lon).ok().map(|p| (name, p)))
}

/// Every postcode the table knows, in ascending order.
pub fn all() -> impl Iterator<Item = &'static str> {
    POSTCODES.iter().map(|(pc, ..)| *pc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zurich_postcodes_resolve_inside_the_region() {
        let (name, p) = lookup("8004").expect("known");
        assert_eq!(name, "Aussersihl");
        assert!((47.3..47.5).contains(&p.lat()) && (8.4..8.7).contains(&p.lon()));
        assert!(lookup("9999").is_none());
    }

    #[test]
    fn the_table_is_sorted_and_unique() {
        let codes: Vec<_> = all().collect();
        assert!(codes.windows(2).all(|w| w[0] < w[1]));
        assert!(codes.len() >= 30);
    }
}
