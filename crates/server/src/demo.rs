//! The demo city used by `quartier seed --demo`.
//!
//! A fictional community of helpers and customers spread over real
//! neighbourhoods of the city of Zurich and its agglomeration. Everything here
//! is pure and deterministic: the data comes from hand-written tables and a
//! small SplitMix64 generator seeded with a constant, so every run (and every
//! machine) produces the same demo city. No I/O, no external crates.

/// A neighbourhood of the demo region.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbourhood {
    /// Name of the quarter or town, e.g. "Altstetten".
    pub name: &'static str,
    /// Swiss four-digit postcode.
    pub postcode: &'static str,
    /// Latitude of the centre (WGS84).
    pub lat: f64,
    /// Longitude of the centre (WGS84).
    pub lon: f64,
}

const fn nb(name: &'static str, postcode: &'static str, lat: f64, lon: f64) -> Neighbourhood {
    Neighbourhood { name, postcode, lat, lon }
}

static NEIGHBOURHOODS: [Neighbourhood; 40] = [
    // City of Zurich, Kreis 1-12.
    nb("Altstadt", "8001", 47.3720, 8.5410),
    nb("Enge", "8002", 47.3640, 8.5310),
    nb("Wollishofen", "8038", 47.3460, 8.5300),
    nb("Leimbach", "8041", 47.3280, 8.5150),
    nb("Wiedikon", "8003", 47.3690, 8.5180),
    nb("Friesenberg", "8055", 47.3620, 8.5000),
    nb("Aussersihl", "8004", 47.3790, 8.5270),
    nb("Industriequartier", "8005", 47.3860, 8.5210),
    nb("Unterstrass", "8006", 47.3880, 8.5430),
    nb("Oberstrass", "8006", 47.3850, 8.5540),
    nb("Fluntern", "8044", 47.3780, 8.5620),
    nb("Hottingen", "8032", 47.3700, 8.5630),
    nb("Hirslanden", "8032", 47.3610, 8.5690),
    nb("Seefeld", "8008", 47.3560, 8.5550),
    nb("Witikon", "8053", 47.3570, 8.5920),
    nb("Wipkingen", "8037", 47.3940, 8.5290),
    nb("Höngg", "8049", 47.4030, 8.4970),
    nb("Altstetten", "8048", 47.3890, 8.4870),
    nb("Albisrieden", "8047", 47.3760, 8.4870),
    nb("Oerlikon", "8050", 47.4110, 8.5440),
    nb("Seebach", "8052", 47.4240, 8.5430),
    nb("Affoltern", "8046", 47.4200, 8.5100),
    nb("Schwamendingen", "8051", 47.4050, 8.5710),
    // Agglomeration.
    nb("Dübendorf", "8600", 47.3970, 8.6180),
    nb("Wallisellen", "8304", 47.4150, 8.5960),
    nb("Kloten", "8302", 47.4520, 8.5850),
    nb("Opfikon", "8152", 47.4310, 8.5680),
    nb("Bassersdorf", "8303", 47.4430, 8.6290),
    nb("Schlieren", "8952", 47.3970, 8.4470),
    nb("Dietikon", "8953", 47.4020, 8.4000),
    nb("Urdorf", "8902", 47.3850, 8.4260),
    nb("Regensdorf", "8105", 47.4340, 8.4680),
    nb("Adliswil", "8134", 47.3100, 8.5250),
    nb("Kilchberg", "8802", 47.3240, 8.5470),
    nb("Rüschlikon", "8803", 47.3070, 8.5560),
    nb("Thalwil", "8800", 47.2920, 8.5640),
    nb("Zollikon", "8702", 47.3400, 8.5740),
    nb("Küsnacht", "8700", 47.3190, 8.5830),
    nb("Uster", "8610", 47.3480, 8.7180),
    nb("Volketswil", "8604", 47.3900, 8.6910),
];

/// The demo region's neighbourhoods: real quarters of the city of Zurich and
/// nearby towns, with their postcodes and approximate centre coordinates.
pub fn neighbourhoods() -> &'static [Neighbourhood] {
    &NEIGHBOURHOODS
}

/// One demo helper.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoHelper {
    /// Display name, "First Last".
    pub name: String,
    /// Login e-mail, `helperNNN@demo.quartier.ch`.
    pub email: String,
    /// One friendly sentence about the helper.
    pub bio: String,
    /// 2-5 distinct entries of [`SKILLS`], in catalogue order.
    pub skills: Vec<&'static str>,
    /// 1-3 distinct language codes out of "de", "fr", "it", "en".
    pub languages: Vec<&'static str>,
    /// Home latitude (WGS84).
    pub lat: f64,
    /// Home longitude (WGS84).
    pub lon: f64,
    /// Name of the neighbourhood the helper lives in.
    pub neighbourhood: &'static str,
    /// How far the helper is willing to travel, in kilometres (1..=15).
    pub travel_radius_km: u8,
}

/// Skills a helper can have (exact strings used by the catalogue).
pub const SKILLS: &[&str] = &["wifi", "router", "tv", "smartphone", "computer", "printer", "smart_home", "apps", "video_call", "email"];

/// The demo password every demo account shares (printed by the seed command).
pub const DEMO_PASSWORD: &str = "quartier-demo";

/// The demo operator's e-mail.
pub const OPERATOR_EMAIL: &str = "operator@demo.quartier.ch";

const SEED: u64 = 0x5155_4152_5449_4552; // "QUARTIER"

/// SplitMix64: tiny, fast, and good enough for demo data.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (0 when `n == 0`).
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len()))
    }
}

/// A cultural name pool with typical spoken languages (code, percent chance).
struct NameGroup {
    weight: usize,
    first: &'static [&'static str],
    last: &'static [&'static str],
    languages: &'static [(&'static str, usize)],
}

#[rustfmt::skip]
static GROUPS: [NameGroup; 9] = [
    NameGroup {
        weight: 40,
        first: &["Anna", "Lukas", "Sarah", "Reto", "Beat", "Ursula", "Martin", "Daniela", "Thomas",
            "Nicole", "Urs", "Monika", "Stefan", "Barbara", "Jonas", "Laura", "Silvia", "Peter",
            "Regula", "Andrea", "Felix", "Claudia", "Simon", "Heidi", "Noah", "Lea"],
        last: &["Müller", "Meier", "Keller", "Brunner", "Baumann", "Huber", "Frei", "Zimmermann",
            "Fischer", "Weber", "Schneider", "Gerber", "Steiner", "Graf", "Widmer", "Suter",
            "Bachmann", "Wyss", "Moser", "Kälin", "Egli", "Hofmann", "Ammann", "Bosshard", "Rüegg"],
        languages: &[("de", 100), ("en", 60), ("fr", 25), ("it", 10)],
    },
    NameGroup {
        weight: 9,
        first: &["Camille", "Julien", "Mathieu", "Chloé", "Nathalie", "Olivier", "Sophie", "Luc",
            "Élodie", "Yves"],
        last: &["Dubois", "Favre", "Rochat", "Girard", "Perret", "Bonvin", "Morel", "Jaquet",
            "Mottier", "Rey"],
        languages: &[("fr", 100), ("de", 75), ("en", 40)],
    },
    NameGroup {
        weight: 10,
        first: &["Giulia", "Matteo", "Francesca", "Luca", "Chiara", "Alessandro", "Paola",
            "Giorgio", "Elena", "Davide"],
        last: &["Rossi", "Bernasconi", "Ferrari", "Bianchi", "Colombo", "Lombardi", "Galli",
            "Romano", "Pedrazzini", "Conti"],
        languages: &[("it", 100), ("de", 85), ("en", 30)],
    },
    NameGroup {
        weight: 8,
        first: &["João", "Ana", "Pedro", "Inês", "Tiago", "Mariana", "Rui", "Beatriz"],
        last: &["Silva", "Ferreira", "Santos", "Oliveira", "Pereira", "Costa", "Rodrigues",
            "Almeida"],
        languages: &[("de", 85), ("fr", 40), ("en", 40)],
    },
    NameGroup {
        weight: 8,
        first: &["Arben", "Besa", "Driton", "Valbona", "Flamur", "Albana", "Luan", "Blerta",
            "Ardit", "Elira"],
        last: &["Krasniqi", "Berisha", "Gashi", "Hoxha", "Shala", "Morina", "Kelmendi", "Rexhepi"],
        languages: &[("de", 95), ("en", 50), ("it", 15)],
    },
    NameGroup {
        weight: 7,
        first: &["Mehmet", "Ayşe", "Emre", "Elif", "Burak", "Zeynep", "Can", "Selin"],
        last: &["Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Aydın", "Öztürk", "Arslan"],
        languages: &[("de", 95), ("en", 55)],
    },
    NameGroup {
        weight: 6,
        first: &["Kavitha", "Suresh", "Priya", "Tharshan", "Nirmala", "Rajan", "Keerthana",
            "Sivakumar"],
        last: &["Sivalingam", "Thevarajah", "Kanagaratnam", "Selvarajah", "Balasubramaniam",
            "Murugesu", "Yogarajah", "Arumugam"],
        languages: &[("de", 90), ("en", 70)],
    },
    NameGroup {
        weight: 7,
        first: &["Ivana", "Marko", "Jelena", "Nikola", "Dragana", "Milan", "Maja", "Goran"],
        last: &["Petrović", "Jovanović", "Kovačević", "Horvat", "Babić", "Marić", "Nikolić",
            "Popović"],
        languages: &[("de", 95), ("en", 45)],
    },
    NameGroup {
        weight: 5,
        first: &["Lucía", "Javier", "Carmen", "Pablo", "Marta", "Diego"],
        last: &["García", "Fernández", "López", "Martínez", "Sánchez", "Navarro"],
        languages: &[("de", 75), ("en", 60), ("fr", 20)],
    },
];

const ROLES: &[&str] = &[
    "Retired telecom engineer",
    "Computer science student at ETH",
    "IT support technician by day",
    "Retired primary school teacher",
    "Electrician with a soft spot for gadgets",
    "Former phone shop advisor",
    "Apprentice IT specialist",
    "Self-taught tech enthusiast",
    "Retired bank IT project manager",
    "Nursing student who grew up fixing the family Wi-Fi",
    "Freelance web developer",
    "Audio-visual technician",
    "Grandparent who learned it all the hard way",
    "Librarian who runs digital-skills drop-ins",
    "Physics student at the University of Zurich",
    "Network administrator at a local hospital",
];

const TRAITS: &[&str] = &[
    "patient with beginners",
    "calm even when nothing works",
    "known for clear step-by-step explanations",
    "happy to write down every step for you",
    "never in a hurry",
    "good at untangling cable chaos",
    "used to explaining things without jargon",
    "punctual to the minute",
];

fn skill_phrase(skill: &str) -> &'static str {
    match skill {
        "wifi" => "guest Wi-Fi",
        "router" => "routers",
        "tv" => "TV boxes",
        "smartphone" => "new smartphones",
        "computer" => "laptops",
        "printer" => "printers",
        "smart_home" => "smart home gadgets",
        "apps" => "everyday apps",
        "video_call" => "video calls with family",
        "email" => "e-mail set-up",
        _ => "everyday tech",
    }
}

/// Skill counts and travel radii, weighted by repetition.
const SKILL_COUNTS: &[usize] = &[2, 2, 3, 3, 3, 4, 4, 5];
const RADII_KM: &[u8] = &[1, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 6, 6, 8, 10, 12, 15];
/// Maximum distance of a home from its neighbourhood centre, in metres.
const JITTER_M: f64 = 700.0;
const METRES_PER_DEG_LAT: f64 = 111_320.0;

fn round5(v: f64) -> f64 {
    (v * 100_000.0).round() / 100_000.0
}

fn pick_group(rng: &mut SplitMix64) -> &'static NameGroup {
    let total: usize = GROUPS.iter().map(|g| g.weight).sum();
    let mut r = rng.below(total);
    for group in &GROUPS {
        if r < group.weight {
            return group;
        }
        r -= group.weight;
    }
    &GROUPS[0]
}

/// A point within [`JITTER_M`] of `(lat, lon)`, uniform over the disc.
fn jitter(rng: &mut SplitMix64, lat: f64, lon: f64) -> (f64, f64) {
    let (mut x, mut y) = (0.0, 0.0);
    for _ in 0..32 {
        let (cx, cy) = (rng.unit() * 2.0 - 1.0, rng.unit() * 2.0 - 1.0);
        if cx * cx + cy * cy <= 1.0 {
            (x, y) = (cx, cy);
            break;
        }
    }
    let dlat = y * JITTER_M / METRES_PER_DEG_LAT;
    let dlon = x * JITTER_M / (METRES_PER_DEG_LAT * lat.to_radians().cos());
    (round5(lat + dlat), round5(lon + dlon))
}

fn helper(index: usize) -> DemoHelper {
    let mut rng = SplitMix64(SEED ^ (index as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
    let group = pick_group(&mut rng);
    let first = rng.pick(group.first).copied().unwrap_or("Alex");
    let last = rng.pick(group.last).copied().unwrap_or("Muster");

    let mut languages: Vec<&'static str> = Vec::new();
    for &(code, percent) in group.languages {
        if languages.len() < 3 && rng.chance(percent) {
            languages.push(code);
        }
    }
    if languages.is_empty() {
        languages.push("de");
    }

    let wanted = rng.pick(SKILL_COUNTS).copied().unwrap_or(3);
    let mut pool: Vec<&'static str> = SKILLS.to_vec();
    let mut skills = Vec::with_capacity(wanted);
    while skills.len() < wanted && !pool.is_empty() {
        let i = rng.below(pool.len());
        skills.push(pool.swap_remove(i));
    }
    let focus = skills.first().copied().unwrap_or("wifi");
    skills.sort_by_key(|s| SKILLS.iter().position(|k| k == s));

    let role = rng.pick(ROLES).copied().unwrap_or("Friendly neighbour");
    let trait_ = rng.pick(TRAITS).copied().unwrap_or("patient with beginners");
    let bio = format!("{role}, {trait_} and glad to help with {}.", skill_phrase(focus));

    let home = rng.pick(neighbourhoods()).unwrap_or(&NEIGHBOURHOODS[0]);
    let (lat, lon) = jitter(&mut rng, home.lat, home.lon);
    let travel_radius_km = rng.pick(RADII_KM).copied().unwrap_or(4);

    DemoHelper {
        name: format!("{first} {last}"),
        email: format!("helper{:03}@demo.quartier.ch", index + 1),
        bio,
        skills,
        languages,
        lat,
        lon,
        neighbourhood: home.name,
        travel_radius_km,
    }
}

/// `count` helpers, the same every time for the same count. Each helper only
/// depends on its index, so `helpers(n)` is a prefix of `helpers(m)` for `n <= m`.
pub fn helpers(count: usize) -> Vec<DemoHelper> {
    (0..count).map(helper).collect()
}

/// A demo customer account.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoCustomer {
    /// Display name, "First Last".
    pub name: String,
    /// Login e-mail, `customerN@demo.quartier.ch`.
    pub email: String,
    /// Home latitude (WGS84).
    pub lat: f64,
    /// Home longitude (WGS84).
    pub lon: f64,
    /// Name of the neighbourhood the customer lives in.
    pub neighbourhood: &'static str,
    /// Preferred UI locale ("de", "fr", "it" or "en").
    pub locale: &'static str,
}

/// (name, neighbourhood, offset north in degrees, offset east in degrees, locale).
const CUSTOMERS: &[(&str, &str, f64, f64, &str)] = &[
    ("Verena Schwarz", "Höngg", 0.0012, -0.0015, "de"),
    ("Hans-Peter Lüthi", "Wollishofen", -0.0021, 0.0008, "de"),
    ("Isabelle Renaud", "Fluntern", 0.0006, 0.0019, "fr"),
    ("Giovanni Russo", "Altstetten", -0.0009, -0.0024, "it"),
    ("Emily Carter", "Enge", 0.0015, 0.0011, "en"),
];

/// The five demo customers (`customer1@demo.quartier.ch` ...), fixed by hand.
pub fn customers() -> Vec<DemoCustomer> {
    CUSTOMERS
        .iter()
        .filter_map(|&(name, hood, dlat, dlon, locale)| {
            neighbourhoods().iter().find(|n| n.name == hood).map(|n| (name, n, dlat, dlon, locale))
        })
        .enumerate()
        .map(|(i, (name, n, dlat, dlon, locale))| DemoCustomer {
            name: name.to_owned(),
            email: format!("customer{}@demo.quartier.ch", i + 1),
            lat: round5(n.lat + dlat),
            lon: round5(n.lon + dlon),
            neighbourhood: n.name,
            locale,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
        let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
        let dp = (lat2 - lat1).to_radians();
        let dl = (lon2 - lon1).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * 6371.0 * a.sqrt().asin()
    }

    fn in_region(lat: f64, lon: f64) -> bool {
        (47.20..=47.55).contains(&lat) && (8.30..=8.80).contains(&lon)
    }

    fn centre(name: &str) -> Option<&'static Neighbourhood> {
        neighbourhoods().iter().find(|n| n.name == name)
    }

    #[test]
    fn deterministic_and_prefix_stable() {
        assert_eq!(helpers(200), helpers(200));
        assert_eq!(customers(), customers());
        assert_eq!(helpers(20).as_slice(), &helpers(200)[..20]);
        assert!(helpers(0).is_empty());
    }

    #[test]
    fn neighbourhoods_are_valid() {
        let all = neighbourhoods();
        assert!(all.len() >= 30);
        let names: HashSet<_> = all.iter().map(|n| n.name).collect();
        assert_eq!(names.len(), all.len(), "duplicate neighbourhood name");
        for n in all {
            assert_eq!(n.postcode.len(), 4, "{}", n.name);
            assert!(n.postcode.chars().all(|c| c.is_ascii_digit()), "{}", n.name);
            assert!(in_region(n.lat, n.lon), "{} outside region", n.name);
        }
    }

    #[test]
    fn helper_emails_are_unique_and_padded() {
        let hs = helpers(200);
        let emails: HashSet<_> = hs.iter().map(|h| h.email.as_str()).collect();
        assert_eq!(emails.len(), 200);
        assert_eq!(hs.first().map(|h| h.email.as_str()), Some("helper001@demo.quartier.ch"));
        assert_eq!(hs.last().map(|h| h.email.as_str()), Some("helper200@demo.quartier.ch"));
    }

    #[test]
    fn helper_fields_are_valid() {
        for h in helpers(200) {
            assert!((2..=5).contains(&h.skills.len()), "{h:?}");
            let distinct: HashSet<_> = h.skills.iter().collect();
            assert_eq!(distinct.len(), h.skills.len(), "{h:?}");
            assert!(h.skills.iter().all(|s| SKILLS.contains(s)), "{h:?}");

            assert!((1..=3).contains(&h.languages.len()), "{h:?}");
            let langs: HashSet<_> = h.languages.iter().collect();
            assert_eq!(langs.len(), h.languages.len(), "{h:?}");
            assert!(h.languages.iter().all(|l| ["de", "fr", "it", "en"].contains(l)), "{h:?}");

            assert!((1..=15).contains(&h.travel_radius_km), "{h:?}");
            assert!(h.name.contains(' ') && h.bio.ends_with('.'), "{h:?}");
            assert!(in_region(h.lat, h.lon), "{h:?}");
        }
    }

    #[test]
    fn homes_are_near_their_neighbourhood() {
        for h in helpers(200) {
            let Some(c) = centre(h.neighbourhood) else {
                panic!("unknown neighbourhood {}", h.neighbourhood);
            };
            let d = haversine_km(c.lat, c.lon, h.lat, h.lon);
            assert!(d <= 2.0, "{} is {d:.2} km from {}", h.email, c.name);
        }
    }

    #[test]
    fn german_is_most_common_and_radii_mostly_small() {
        let hs = helpers(200);
        let count = |code: &'static str| hs.iter().filter(|h| h.languages.contains(&code)).count();
        let de = count("de");
        assert!(["fr", "it", "en"].iter().all(|&l| de > count(l)));
        let small = hs.iter().filter(|h| (2..=6).contains(&h.travel_radius_km)).count();
        assert!(small * 2 > hs.len());
    }

    #[test]
    fn customers_are_valid() {
        let cs = customers();
        assert_eq!(cs.len(), 5);
        for (i, c) in cs.iter().enumerate() {
            assert_eq!(c.email, format!("customer{}@demo.quartier.ch", i + 1));
            assert!(["de", "fr", "it", "en"].contains(&c.locale));
            let Some(n) = centre(c.neighbourhood) else {
                panic!("unknown neighbourhood {}", c.neighbourhood);
            };
            assert!(haversine_km(n.lat, n.lon, c.lat, c.lon) <= 2.0);
            assert!(in_region(c.lat, c.lon));
        }
    }

    #[test]
    fn constants_are_sane() {
        assert_eq!(SKILLS.len(), 10);
        assert!(OPERATOR_EMAIL.ends_with("@demo.quartier.ch"));
        assert!(!DEMO_PASSWORD.chars().any(char::is_whitespace));
    }
}
