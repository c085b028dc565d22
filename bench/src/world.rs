//! A deterministic synthetic world: helpers around Zurich with weekly rules, exceptions and
//! bookings over a 28-day horizon, and the customer queries of the benchmark.

use std::io::Write as _;

use anyhow::Context as _;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use quartier_domain::{GeoPoint, Locale, UserId};
use quartier_matching::availability::{Booking, Exception, ExceptionKind, Schedule, WeeklyRule};
use quartier_matching::search::{HelperRecord, HelperStats, Query};

/// Zurich HB, the centre of every world.
pub const CENTRE: (f64, f64) = (47.3779, 8.5403);
/// The ten skills of the marketplace.
pub const SKILLS: [&str; 10] = ["wifi", "router", "tv", "smartphone", "computer", "printer", "smart_home", "apps", "video_call", "email"];
/// Buffers of every helper, minutes before and after a job.
pub const BUFFER_MINUTES: u32 = 15;
/// Days in the horizon.
pub const HORIZON_DAYS: u16 = 28;
/// The query: 90 minutes inside 18:00-21:00 local on `D`, within 5 km, the 10 best.
pub const WINDOW_LOCAL: (i8, i8) = (18, 21);
/// Length of the job in minutes.
pub const DURATION_MINUTES: u32 = 90;
/// Maximum distance of the query in km.
pub const MAX_DISTANCE_KM: f64 = 5.0;
/// Results per query.
pub const LIMIT: usize = 10;
/// Kilometres per degree of latitude on the sphere of `GeoPoint::distance_m`.
const KM_PER_DEG: f64 = 6_371.008_8 * std::f64::consts::PI / 180.0;

/// SplitMix64: tiny, fast and deterministic.
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n (n > 0; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in lo..=hi.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
}

/// The size and place of one world.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Label, e.g. "100k".
    pub label: &'static str,
    /// Number of helpers.
    pub helpers: usize,
    /// Radius of the populated disc around Zurich HB, km.
    pub disc_km: f64,
    /// Seed of the generator.
    pub seed: u64,
}

/// The calendar of the benchmark: horizon, date D and the query window.
#[derive(Debug, Clone)]
pub struct Calendar {
    /// Europe/Zurich.
    pub zone: TimeZone,
    /// First local date of the horizon (2026-03-16, a Monday; the horizon holds the 2026-03-29
    /// spring-forward switch).
    pub first: Date,
    /// Date D of the query (2026-04-01, a Wednesday, after the switch).
    pub day_d: Date,
    /// Local midnight of every horizon day as read with that day's noon offset (UTC seconds):
    /// local minute m of day k (after 03:00 on the switch day) is `midnight[k] + 60 m`.
    pub midnight: Vec<i64>,
    /// 18:00 local on D.
    pub from: Timestamp,
    /// 21:00 local on D.
    pub to: Timestamp,
    /// "Now" for every query: the start of the horizon, so minimum notice never bites.
    pub now: Timestamp,
}

impl Calendar {
    /// The benchmark's calendar.
    pub fn new() -> anyhow::Result<Self> {
        let zone = TimeZone::get("Europe/Zurich").context("Europe/Zurich in the bundled tzdb")?;
        let first = Date::new(2026, 3, 16)?;
        let day_d = Date::new(2026, 4, 1)?;
        let mut midnight = Vec::with_capacity(usize::from(HORIZON_DAYS));
        for k in 0..i64::from(HORIZON_DAYS) {
            let day = first.checked_add(SignedDuration::from_hours(24 * k))?;
            let noon = day.at(12, 0, 0, 0).to_zoned(zone.clone())?;
            midnight.push(noon.timestamp().as_second() - 12 * 3600);
        }
        let local = |d: Date, h: i8| -> anyhow::Result<Timestamp> { Ok(d.at(h, 0, 0, 0).to_zoned(zone.clone())?.timestamp()) };
        Ok(Self {
            from: local(day_d, WINDOW_LOCAL.0)?,
            to: local(day_d, WINDOW_LOCAL.1)?,
            now: local(first, 0)?,
            zone,
            first,
            day_d,
            midnight,
        })
    }

    /// Horizon day index of D.
    pub fn d_index(&self) -> usize {
        let days = self.day_d.since(self.first).map_or(0, |s| s.get_days());
        usize::try_from(days).unwrap_or(0)
    }

    /// Local midnight of D (UTC seconds); D has no DST switch, so minute m is `+ 60 m`.
    pub fn d_midnight(&self) -> i64 {
        self.midnight.get(self.d_index()).copied().unwrap_or(0)
    }

    fn date(&self, k: u64) -> Date {
        self.first.checked_add(SignedDuration::from_hours(24 * k as i64)).unwrap_or(self.first)
    }
}

/// One generated world.
pub struct World {
    /// The helpers; index i is helper i (its id in SQL).
    pub helpers: Vec<HelperRecord>,
    /// Total weekly rules.
    pub rules: usize,
    /// Total exceptions.
    pub exceptions: usize,
    /// Total bookings.
    pub bookings: usize,
}

/// A uniform point in a disc of `radius_km` around Zurich HB (equirectangular, fine at this
/// latitude and scale).
pub fn point_in_disc(rng: &mut Rng, radius_km: f64) -> (f64, f64) {
    let r = radius_km * rng.unit().sqrt();
    let theta = rng.unit() * std::f64::consts::TAU;
    let lat = CENTRE.0 + r * theta.cos() / KM_PER_DEG;
    let lon = CENTRE.1 + r * theta.sin() / (KM_PER_DEG * CENTRE.0.to_radians().cos());
    (lat, lon)
}

/// A helper id that depends only on the seed and the index.
pub fn helper_id(seed: u64, i: usize) -> UserId {
    UserId::from_uuid(uuid::Uuid::from_u64_pair(seed, i as u64))
}

fn weekday(rng: &mut Rng) -> Weekday {
    Weekday::from_monday_zero_offset(rng.below(7) as i8).unwrap_or(Weekday::Monday)
}

/// A shift of working time in minutes after local midnight, on the 15-minute grid: evening
/// shifts are the most common (it is a marketplace for after-work help).
fn shift(rng: &mut Rng) -> (u16, u16) {
    let u = rng.unit();
    let (start_h, len) = if u < 0.35 {
        (16 * 60 + rng.below(13) * 15, 120 + rng.below(13) * 15)
    } else if u < 0.60 {
        (7 * 60 + rng.below(13) * 15, 180 + rng.below(9) * 15)
    } else if u < 0.80 {
        (12 * 60 + rng.below(13) * 15, 180 + rng.below(9) * 15)
    } else {
        (8 * 60 + rng.below(9) * 15, 420 + rng.below(13) * 15)
    };
    let start = start_h as u16;
    (start, (start_h + len).min(1440) as u16)
}

/// Generates a world, printing progress every 10%.
pub fn generate(spec: &Spec, cal: &Calendar) -> World {
    let mut rng = Rng::new(spec.seed);
    let mut helpers = Vec::with_capacity(spec.helpers);
    let (mut rules_n, mut exceptions_n, mut bookings_n) = (0, 0, 0);
    let tenth = (spec.helpers / 10).max(1);
    let pad = i64::from(BUFFER_MINUTES) * 60;
    for i in 0..spec.helpers {
        if i > 0 && i % tenth == 0 {
            print!(" {}%", i / tenth * 10);
            let _ = std::io::stdout().flush();
        }
        let (lat, lon) = point_in_disc(&mut rng, spec.disc_km);
        let home = GeoPoint::new(lat, lon).unwrap_or_else(|_| centre_point());
        let radius_km = rng.range(1, 15) as u8;
        let want = rng.range(1, 4);
        let mut bits = 0u16;
        while u64::from(bits.count_ones()) < want {
            bits |= 1 << rng.below(SKILLS.len() as u64);
        }
        let skills: Vec<String> = SKILLS.iter().enumerate().filter(|(k, _)| bits >> k & 1 == 1).map(|(_, s)| (*s).to_owned()).collect();
        let mut languages = vec![match rng.below(20) {
            0..=11 => Locale::De,
            12..=14 => Locale::Fr,
            15..=16 => Locale::It,
            _ => Locale::En,
        }];
        if languages[0] != Locale::En && rng.below(5) < 2 {
            languages.push(Locale::En);
        }
        let rules: Vec<WeeklyRule> = (0..rng.range(2, 6))
            .map(|_| {
                let wd = weekday(&mut rng);
                let (start_min, end_min) = shift(&mut rng);
                WeeklyRule { weekday: wd, start_min, end_min }
            })
            .collect();
        let exceptions: Vec<Exception> = (0..if rng.below(3) == 0 { rng.range(1, 2) } else { 0 })
            .map(|_| {
                let date = cal.date(rng.below(u64::from(HORIZON_DAYS)));
                let kind = if rng.below(5) < 3 {
                    ExceptionKind::DayOff
                } else {
                    let start = 17 * 60 + rng.below(9) as u16 * 15;
                    ExceptionKind::ExtraHours { start_min: start, end_min: start + 120 + rng.below(9) as u16 * 15 }
                };
                Exception { date, kind }
            })
            .collect();
        // Bookings of 60-180 minutes between 08:00 and 23:00 local whose blocked ranges (the
        // booking widened by the buffers) do not overlap, as the EXCLUDE constraint requires.
        let want = rng.range(8, 24) as usize;
        let mut blocked: Vec<(i64, i64)> = Vec::with_capacity(want);
        for _ in 0..want * 2 {
            if blocked.len() == want {
                break;
            }
            let day = rng.below(u64::from(HORIZON_DAYS)) as usize;
            let start = cal.midnight.get(day).copied().unwrap_or(0) + (480 + rng.below(49) as i64 * 15) * 60;
            let end = start + (60 + rng.below(9) as i64 * 15) * 60;
            let (a, z) = (start - pad, end + pad);
            if blocked.iter().all(|&(s, e)| z <= s || a >= e) {
                blocked.push((a, z));
            }
        }
        let bookings: Vec<Booking> = blocked
            .iter()
            .filter_map(|&(a, z)| {
                Some(Booking { start: Timestamp::from_second(a + pad).ok()?, end: Timestamp::from_second(z - pad).ok()? })
            })
            .collect();
        rules_n += rules.len();
        exceptions_n += exceptions.len();
        bookings_n += bookings.len();
        let completed = rng.below(40) as u32;
        // Levels and badges follow the record, as the store derives them.
        let level = u8::from(completed >= 5) + u8::from(completed >= 20);
        let proven: Vec<String> = if completed >= 5 { skills.iter().take(1).cloned().collect() } else { Vec::new() };
        helpers.push(HelperRecord {
            id: helper_id(spec.seed, i),
            home,
            radius_km,
            skills,
            languages,
            schedule: Schedule {
                zone: cal.zone.clone(),
                rules,
                exceptions,
                holidays: Vec::new(),
                paused: rng.below(50) == 0,
                min_notice_minutes: 60,
                max_jobs_per_day: None,
                buffer_before_minutes: BUFFER_MINUTES,
                buffer_after_minutes: BUFFER_MINUTES,
            },
            bookings,
            stats: HelperStats {
                rating_sum: rng.below(60) as u32,
                rating_count: rng.below(15) as u32,
                completed,
                let_down: rng.below(3) as u32,
                recent_offers: rng.below(10) as u32,
                level,
            },
            proven,
        });
    }
    println!(" 100%");
    World { helpers, rules: rules_n, exceptions: exceptions_n, bookings: bookings_n }
}

fn centre_point() -> GeoPoint {
    GeoPoint::new(CENTRE.0, CENTRE.1).expect("Zurich HB is a valid coordinate")
}

/// `n` customer queries: places uniform in the populated disc, a random skill and language,
/// 90 minutes inside 18:00-21:00 on D, within 5 km, the 10 best.
pub fn queries(n: usize, spec: &Spec, cal: &Calendar, seed: u64) -> Vec<Query> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let (lat, lon) = point_in_disc(&mut rng, spec.disc_km);
            Query {
                place: GeoPoint::new(lat, lon).unwrap_or_else(|_| centre_point()),
                skill: SKILLS[rng.below(SKILLS.len() as u64) as usize].to_owned(),
                from: cal.from,
                to: cal.to,
                duration_minutes: DURATION_MINUTES,
                max_distance_km: Some(MAX_DISTANCE_KM),
                locale: Some([Locale::De, Locale::Fr, Locale::En][rng.below(3) as usize]),
                limit: LIMIT,
                now: cal.now,
                min_level: 0,
            }
        })
        .collect()
}

/// The index of a skill in [`SKILLS`] (the bit in SQL's bitmask).
pub fn skill_bit(name: &str) -> i32 {
    SKILLS.iter().position(|s| *s == name).map_or(0, |k| 1 << k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worlds_are_deterministic_and_sane() {
        let cal = Calendar::new().expect("calendar");
        let spec = Spec { label: "t", helpers: 500, disc_km: 30.0, seed: 9 };
        let a = generate(&spec, &cal);
        let b = generate(&spec, &cal);
        assert_eq!(a.bookings, b.bookings);
        assert_eq!(a.helpers[7].home, b.helpers[7].home);
        let per = a.bookings as f64 / 500.0;
        assert!((12.0..=17.0).contains(&per), "{per} bookings per helper");
        for h in &a.helpers {
            assert!(h.schedule.validate().is_ok());
            assert!(km_from_centre(h.home) <= 30.5);
            let mut b = h.bookings.clone();
            b.sort_by_key(|b| b.start);
            for w in b.windows(2) {
                let gap = w[1].start.duration_since(w[0].end).as_secs();
                assert!(gap >= 30 * 60, "buffers of neighbours must not overlap");
            }
        }
        assert_eq!(cal.day_d.weekday(), Weekday::Wednesday);
        assert_eq!(cal.to.duration_since(cal.from).as_hours(), 3);
    }

    fn km_from_centre(p: GeoPoint) -> f64 {
        centre_point().distance_m(p) / 1000.0
    }
}
