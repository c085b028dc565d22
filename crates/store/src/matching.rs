//! Loading what the in-memory match index needs: profiles, schedules, exceptions, active
//! bookings and track records, for one helper or for all.

use std::collections::HashMap;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use quartier_domain::{GeoPoint, Locale, UserId};
use quartier_matching::availability::{Booking, Exception, ExceptionKind, Schedule, WeeklyRule};
use quartier_matching::search::{HelperRecord, HelperStats};

use crate::availability::{self, ExceptionRow, ScheduleRow};
use crate::helpers::{self, ProfileRow};
use crate::{Conn, StoreError};

/// A stored weekly rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredRule {
    /// `mon` ... `sun`.
    pub weekday: DayName,
    /// Minutes after local midnight.
    pub start_min: u16,
    /// Minutes after local midnight (up to 1440).
    pub end_min: u16,
}

/// A three-letter weekday name, stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DayName {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

impl DayName {
    /// The weekday.
    pub fn weekday(self) -> Weekday {
        match self {
            DayName::Mon => Weekday::Monday,
            DayName::Tue => Weekday::Tuesday,
            DayName::Wed => Weekday::Wednesday,
            DayName::Thu => Weekday::Thursday,
            DayName::Fri => Weekday::Friday,
            DayName::Sat => Weekday::Saturday,
            DayName::Sun => Weekday::Sunday,
        }
    }
}

/// The schedule a stored row describes, with its exceptions.
pub fn schedule_of(row: Option<&ScheduleRow>, exceptions: &[ExceptionRow], default_zone: &TimeZone, defaults: (u32, u32)) -> Schedule {
    let Some(row) = row else {
        // No availability given yet: no working time at all.
        return Schedule {
            zone: default_zone.clone(),
            rules: Vec::new(),
            exceptions: Vec::new(),
            holidays: Vec::new(),
            paused: false,
            min_notice_minutes: 0,
            max_jobs_per_day: None,
            buffer_before_minutes: defaults.0,
            buffer_after_minutes: defaults.1,
        };
    };
    let rules: Vec<StoredRule> = serde_json::from_str(&row.rules).unwrap_or_default();
    let mut out_exceptions = Vec::new();
    let mut holidays = Vec::new();
    for e in exceptions {
        let (Ok(from), Ok(to)) = (e.date_from.parse::<Date>(), e.date_to.parse::<Date>()) else {
            continue;
        };
        match (e.kind.as_str(), e.start_min, e.end_min) {
            ("off", ..) if from == to => out_exceptions.push(Exception { date: from, kind: ExceptionKind::DayOff }),
            ("off", ..) => holidays.push((from, to)),
            ("extra", Some(s), Some(en)) => {
                let (Ok(s), Ok(en)) = (u16::try_from(s), u16::try_from(en)) else {
                    continue;
                };
                out_exceptions.push(Exception { date: from, kind: ExceptionKind::ExtraHours { start_min: s, end_min: en } });
            }
            _ => {}
        }
    }
    Schedule {
        zone: TimeZone::get(&row.time_zone).unwrap_or_else(|_| default_zone.clone()),
        rules: rules.iter().map(|r| WeeklyRule { weekday: r.weekday.weekday(), start_min: r.start_min, end_min: r.end_min }).collect(),
        exceptions: out_exceptions,
        holidays,
        paused: row.paused != 0,
        min_notice_minutes: u32::try_from(row.min_notice_minutes).unwrap_or(0),
        max_jobs_per_day: row.max_jobs_per_day.and_then(|m| u8::try_from(m).ok()),
        buffer_before_minutes: u32::try_from(row.buffer_before_minutes).unwrap_or(0),
        buffer_after_minutes: u32::try_from(row.buffer_after_minutes).unwrap_or(0),
    }
}

/// Where the index's horizon lies and what to assume without a schedule.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// First local date of the horizon (ISO comparisons on exception dates).
    pub first_date: Date,
    /// Horizon start, epoch ms (bookings ending before are ignored).
    pub from_ms: i64,
    /// Horizon end, epoch ms.
    pub to_ms: i64,
    /// The present, epoch ms (for "recent offers").
    pub now_ms: i64,
    /// Zone for helpers without a schedule.
    pub default_zone: TimeZone,
    /// Buffers (before, after) for helpers without a schedule.
    pub default_buffers: (u32, u32),
}

#[derive(sqlx::FromRow)]
struct BusyRow {
    helper_id: String,
    starts_at: i64,
    ends_at: i64,
}

#[derive(sqlx::FromRow)]
struct RatingRow {
    subject_id: String,
    total: i64,
    n: i64,
}

const RATING_SQL: &str = "SELECT subject_id, SUM(rating) AS total, COUNT(*) AS n FROM reviews WHERE author_role = 'customer'";

#[derive(sqlx::FromRow)]
struct StatsRow {
    helper_id: String,
    completed: i64,
    let_down: i64,
    recent: i64,
}

const BUSY_SQL: &str = "SELECT helper_id, starts_at, ends_at FROM bookings
     WHERE state IN ('requested', 'accepted', 'confirmed', 'en_route', 'on_site') AND blocked_to > $1 AND blocked_from < $2";

const STATS_SQL: &str = "SELECT helper_id,
        SUM(CASE WHEN state = 'done' THEN 1 ELSE 0 END) AS completed,
        SUM(CASE WHEN state IN ('cancelled_by_helper', 'no_show_helper') THEN 1 ELSE 0 END) AS let_down,
        SUM(CASE WHEN created_at >= $1 THEN 1 ELSE 0 END) AS recent
     FROM bookings";

fn record(p: ProfileRow, schedule: Schedule, bookings: Vec<Booking>, stats: HelperStats, proven: Vec<String>) -> Option<HelperRecord> {
    let id: UserId = p.user_id.parse().ok()?;
    let home = GeoPoint::new(p.home_lat, p.home_lon).ok()?;
    let skills: Vec<String> = serde_json::from_str(&p.skills).unwrap_or_default();
    let languages: Vec<String> = serde_json::from_str(&p.languages).unwrap_or_default();
    Some(HelperRecord {
        id,
        home,
        radius_km: u8::try_from(p.travel_radius_km).unwrap_or(1),
        skills,
        languages: languages.iter().filter_map(|l| l.parse::<Locale>().ok()).collect(),
        schedule,
        bookings,
        stats,
        proven,
    })
}

fn level_rank(level: Option<&str>) -> u8 {
    level.and_then(quartier_matching::reputation::Level::parse).map_or(0, quartier_matching::reputation::Level::rank)
}

/// Signed-off jobs of one skill that earn its first badge (proven skill in matching).
fn first_badge() -> i64 {
    i64::from(quartier_matching::reputation::BADGE_TIERS[0])
}

fn busy(r: &BusyRow) -> Option<Booking> {
    Some(Booking { start: jiff::Timestamp::from_millisecond(r.starts_at).ok()?, end: jiff::Timestamp::from_millisecond(r.ends_at).ok()? })
}

fn stats_of(r: Option<&StatsRow>, rating: Option<&RatingRow>) -> HelperStats {
    let (rating_sum, rating_count) =
        rating.map(|r| (u32::try_from(r.total).unwrap_or(0), u32::try_from(r.n).unwrap_or(0))).unwrap_or((0, 0));
    r.map(|s| HelperStats {
        rating_sum,
        rating_count,
        completed: u32::try_from(s.completed).unwrap_or(0),
        let_down: u32::try_from(s.let_down).unwrap_or(0),
        recent_offers: u32::try_from(s.recent).unwrap_or(0),
        level: 0,
    })
    .unwrap_or(HelperStats { rating_sum, rating_count, ..HelperStats::default() })
}

/// One helper's record, or `None` when they have no profile.
pub async fn load_one(conn: &mut Conn, helper_id: &str, spec: &LoadSpec) -> Result<Option<HelperRecord>, StoreError> {
    // Only approved helpers are matched and receive offers.
    if !crate::vetting::is_approved(conn, helper_id).await? {
        return Ok(None);
    }
    let Some(profile) = helpers::get(conn, helper_id).await? else {
        return Ok(None);
    };
    let schedule_row = availability::schedule(conn, helper_id).await?;
    let exceptions = availability::exceptions(conn, helper_id, &spec.first_date.to_string()).await?;
    let sql = sqlx::AssertSqlSafe(format!("{BUSY_SQL} AND helper_id = $3"));
    let busy_rows: Vec<BusyRow> = sqlx::query_as(sql).bind(spec.from_ms).bind(spec.to_ms).bind(helper_id).fetch_all(&mut *conn).await?;
    let sql = sqlx::AssertSqlSafe(format!("{STATS_SQL} WHERE helper_id = $2 GROUP BY helper_id"));
    let stats: Option<StatsRow> = sqlx::query_as(sql).bind(spec.now_ms - 7 * 86_400_000).bind(helper_id).fetch_optional(&mut *conn).await?;
    let sql = sqlx::AssertSqlSafe(format!("{RATING_SQL} AND subject_id = $1 GROUP BY subject_id"));
    let rating: Option<RatingRow> = sqlx::query_as(sql).bind(helper_id).fetch_optional(&mut *conn).await?;
    let schedule = schedule_of(schedule_row.as_ref(), &exceptions, &spec.default_zone, spec.default_buffers);
    let mut stats = stats_of(stats.as_ref(), rating.as_ref());
    stats.level = level_rank(crate::reputation::level(conn, helper_id).await?.map(|(l, ..)| l).as_deref());
    let proven = crate::reputation::jobs_per_service(conn, helper_id)
        .await?
        .into_iter()
        .filter(|(.., n)| *n >= first_badge())
        .map(|(_, _, skill, _)| skill)
        .collect();
    Ok(record(profile, schedule, busy_rows.iter().filter_map(busy).collect(), stats, proven))
}

/// Every helper's record, in a handful of queries.
pub async fn load_all(conn: &mut Conn, spec: &LoadSpec) -> Result<Vec<HelperRecord>, StoreError> {
    let mut profiles = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = helpers::list(conn, None, cursor.as_deref(), 1000).await?;
        let done = page.len() < 1000;
        cursor = page.last().map(|p| p.user_id.clone());
        profiles.extend(page);
        if done {
            break;
        }
    }
    let approved: std::collections::HashSet<String> = crate::vetting::approved_ids(conn).await?.into_iter().collect();
    profiles.retain(|p| approved.contains(&p.user_id));
    let schedules: HashMap<String, ScheduleRow> =
        availability::all_schedules(conn).await?.into_iter().map(|s| (s.user_id.clone(), s)).collect();
    let mut exceptions: HashMap<String, Vec<ExceptionRow>> = HashMap::new();
    for e in availability::all_exceptions(conn, &spec.first_date.to_string()).await? {
        exceptions.entry(e.user_id.clone()).or_default().push(e);
    }
    let mut bookings: HashMap<String, Vec<Booking>> = HashMap::new();
    let rows: Vec<BusyRow> = sqlx::query_as(BUSY_SQL).bind(spec.from_ms).bind(spec.to_ms).fetch_all(&mut *conn).await?;
    for r in &rows {
        if let Some(b) = busy(r) {
            bookings.entry(r.helper_id.clone()).or_default().push(b);
        }
    }
    let sql = sqlx::AssertSqlSafe(format!("{STATS_SQL} GROUP BY helper_id"));
    let stats: HashMap<String, StatsRow> = sqlx::query_as::<_, StatsRow>(sql)
        .bind(spec.now_ms - 7 * 86_400_000)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|s| (s.helper_id.clone(), s))
        .collect();
    let sql = sqlx::AssertSqlSafe(format!("{RATING_SQL} GROUP BY subject_id"));
    let ratings: HashMap<String, RatingRow> =
        sqlx::query_as::<_, RatingRow>(sql).fetch_all(&mut *conn).await?.into_iter().map(|r| (r.subject_id.clone(), r)).collect();
    let levels: HashMap<String, String> = crate::reputation::levels(conn).await?.into_iter().collect();
    let mut proven: HashMap<String, Vec<String>> = HashMap::new();
    for (helper, skill) in crate::reputation::proven_skills(conn, first_badge()).await? {
        proven.entry(helper).or_default().push(skill);
    }
    Ok(profiles
        .into_iter()
        .filter_map(|p| {
            let id = p.user_id.clone();
            let schedule = schedule_of(
                schedules.get(&id),
                exceptions.get(&id).map(Vec::as_slice).unwrap_or(&[]),
                &spec.default_zone,
                spec.default_buffers,
            );
            let mut st = stats_of(stats.get(&id), ratings.get(&id));
            st.level = level_rank(levels.get(&id).map(String::as_str));
            record(p, schedule, bookings.remove(&id).unwrap_or_default(), st, proven.remove(&id).unwrap_or_default())
        })
        .collect())
}
