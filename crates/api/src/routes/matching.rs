//! Availability, free slots and the ranked search for helpers.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use quartier_domain::{GeoPoint, Locale, Role, UserId};
use quartier_matching::availability::Schedule;
use quartier_matching::search::{MAX_RADIUS_KM, Query as MatchQuery};
use quartier_store::matching::{DayName, StoredRule, schedule_of};
use quartier_store::{StoreError, availability, catalog, helpers, users};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Body, Caller, Query};
use crate::routes::catalog::MoneyDto;
use crate::routes::helpers::{Coordinates, PublicHelper};
use crate::state::{AppState, now_ms};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_availability, put_availability))
        .routes(routes!(add_exception))
        .routes(routes!(delete_exception))
        .routes(routes!(slots))
        .routes(routes!(matches))
}

/// The longest search window.
pub const MAX_WINDOW_DAYS: i64 = 31;

/// The level a helper needs for preview services (super-helper).
pub const PREVIEW_LEVEL: u8 = 2;

/// A weekly rule in local time.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleDto {
    /// `mon`, `tue`, `wed`, `thu`, `fri`, `sat` or `sun`.
    #[schema(value_type = String, example = "mon")]
    weekday: DayName,
    /// Local start, `HH:MM`, on a quarter hour.
    #[schema(example = "09:00")]
    start: String,
    /// Local end, `HH:MM` (up to `24:00`), on a quarter hour.
    #[schema(example = "12:00")]
    end: String,
}

/// When a helper works.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityRequest {
    /// IANA zone of the rules; default the helper's own zone.
    #[serde(default)]
    time_zone: Option<String>,
    /// Weekly rules in local wall-clock time.
    rules: Vec<RuleDto>,
    /// Pause all offers (holiday, busy month).
    #[serde(default)]
    paused: bool,
    /// How long before a visit it can still be booked (default 120).
    #[serde(default)]
    min_notice_minutes: Option<u32>,
    /// At most this many visits per day.
    #[serde(default)]
    max_jobs_per_day: Option<u8>,
    /// Travel time kept free before each visit (quarter hours, default 15).
    #[serde(default)]
    buffer_before_minutes: Option<u32>,
    /// Time kept free after each visit (quarter hours, default 15).
    #[serde(default)]
    buffer_after_minutes: Option<u32>,
}

/// A day off, a holiday, or extra hours on a date.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExceptionRequest {
    /// `off` (no work from `date` to `until`) or `extra` (extra hours on `date`).
    kind: String,
    /// Local date, `YYYY-MM-DD`.
    #[schema(value_type = String, example = "2026-12-24")]
    date: Date,
    /// Last day off (inclusive), for `off`; default `date`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    until: Option<Date>,
    /// Start of extra hours, `HH:MM`.
    #[serde(default)]
    start: Option<String>,
    /// End of extra hours, `HH:MM`.
    #[serde(default)]
    end: Option<String>,
}

/// A stored exception.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExceptionDto {
    id: String,
    kind: String,
    date: String,
    until: String,
    start: Option<String>,
    end: Option<String>,
}

/// A helper's availability.
#[derive(Debug, Serialize, ToSchema)]
pub struct AvailabilityDto {
    time_zone: String,
    rules: Vec<RuleDto>,
    paused: bool,
    min_notice_minutes: i64,
    max_jobs_per_day: Option<i64>,
    buffer_before_minutes: i64,
    buffer_after_minutes: i64,
    /// Exceptions from today on.
    exceptions: Vec<ExceptionDto>,
}

fn hhmm(min: u16) -> String {
    format!("{:02}:{:02}", min / 60, min % 60)
}

fn parse_hhmm(s: &str) -> Result<u16, ApiError> {
    let bad = || ApiError::invalid("invalid_time", format!("`{s}` is not a time of day on a quarter hour (HH:MM, 00:00 to 24:00)."));
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    let total = h * 60 + m;
    if m >= 60 || total > 1440 || total % 15 != 0 {
        return Err(bad());
    }
    Ok(total)
}

fn exception_dto(e: availability::ExceptionRow) -> ExceptionDto {
    let t = |m: Option<i64>| m.and_then(|m| u16::try_from(m).ok()).map(hhmm);
    ExceptionDto { start: t(e.start_min), end: t(e.end_min), id: e.id, kind: e.kind, date: e.date_from, until: e.date_to }
}

async fn availability_of(app: &AppState, conn: &mut quartier_store::Conn, helper: &str) -> ApiResult<AvailabilityDto> {
    let today = Timestamp::now().to_zoned(app.matcher_zone().clone()).date().to_string();
    let row = availability::schedule(conn, helper).await?;
    let exceptions = availability::exceptions(conn, helper, &today).await?.into_iter().map(exception_dto).collect();
    Ok(match row {
        Some(r) => AvailabilityDto {
            rules: serde_json::from_str::<Vec<StoredRule>>(&r.rules)
                .unwrap_or_default()
                .into_iter()
                .map(|x| RuleDto { weekday: x.weekday, start: hhmm(x.start_min), end: hhmm(x.end_min) })
                .collect(),
            time_zone: r.time_zone,
            paused: r.paused != 0,
            min_notice_minutes: r.min_notice_minutes,
            max_jobs_per_day: r.max_jobs_per_day,
            buffer_before_minutes: r.buffer_before_minutes,
            buffer_after_minutes: r.buffer_after_minutes,
            exceptions,
        },
        None => AvailabilityDto {
            time_zone: app.config().default_time_zone.clone(),
            rules: Vec::new(),
            paused: false,
            min_notice_minutes: 120,
            max_jobs_per_day: None,
            buffer_before_minutes: i64::from(app.config().travel_buffer_minutes),
            buffer_after_minutes: i64::from(app.config().travel_buffer_minutes),
            exceptions,
        },
    })
}

/// The signed-in helper's availability (no rules yet means no bookable time).
#[utoipa::path(get, path = "/v1/helper/availability", tag = "matching", security(("bearer" = [])),
    responses((status = 200, body = AvailabilityDto), (status = 403, body = Problem)))]
async fn get_availability(State(app): State<AppState>, caller: Caller) -> ApiResult<Json<AvailabilityDto>> {
    caller.require(Role::Helper)?;
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    Ok(Json(availability_of(&app, &mut conn, &caller.id.to_string()).await?))
}

/// Replace the weekly rules and settings. Rules are local wall-clock times in the zone: 09:00-12:00
/// stays 09:00-12:00 across daylight-saving changes.
#[utoipa::path(put, path = "/v1/helper/availability", tag = "matching", request_body = AvailabilityRequest, security(("bearer" = [])),
    responses((status = 200, body = AvailabilityDto), (status = 400, body = Problem), (status = 403, body = Problem)))]
async fn put_availability(
    State(app): State<AppState>,
    caller: Caller,
    Body(req): Body<AvailabilityRequest>,
) -> ApiResult<Json<AvailabilityDto>> {
    caller.require(Role::Helper)?;
    let id = caller.id.to_string();
    if req.rules.len() > 70 {
        return Err(ApiError::invalid("too_many_rules", "At most 70 weekly rules."));
    }
    let mut rules = Vec::new();
    for r in &req.rules {
        let (start_min, end_min) = (parse_hhmm(&r.start)?, parse_hhmm(&r.end)?);
        if start_min >= end_min {
            return Err(ApiError::invalid("invalid_rule", format!("A rule must end after it starts ({} to {}).", r.start, r.end)));
        }
        rules.push(StoredRule { weekday: r.weekday, start_min, end_min });
    }
    let notice = req.min_notice_minutes.unwrap_or(120);
    let before = req.buffer_before_minutes.unwrap_or(app.config().travel_buffer_minutes);
    let after = req.buffer_after_minutes.unwrap_or(app.config().travel_buffer_minutes);
    if notice > 14 * 24 * 60 {
        return Err(ApiError::invalid("invalid_notice", "The minimum notice can be at most 14 days."));
    }
    for b in [before, after] {
        if b > 240 || b % 15 != 0 {
            return Err(ApiError::invalid("invalid_buffer", "Buffers are quarter hours, at most 240 minutes."));
        }
    }
    if req.max_jobs_per_day.is_some_and(|m| !(1..=20).contains(&m)) {
        return Err(ApiError::invalid("invalid_max_jobs", "The daily maximum is 1 to 20 visits."));
    }
    let mut tx = app.store().begin().await?;
    let user = users::by_id(&mut tx, &id).await?.ok_or_else(|| ApiError::invalid_token("This account no longer exists."))?;
    let zone_name = req.time_zone.clone().unwrap_or(user.time_zone);
    TimeZone::get(&zone_name)
        .map_err(|_| ApiError::invalid("invalid_time_zone", format!("`{zone_name}` is not an IANA time zone such as Europe/Zurich.")))?;
    let row = availability::ScheduleRow {
        user_id: id.clone(),
        time_zone: zone_name,
        rules: serde_json::to_string(&rules).map_err(ApiError::internal)?,
        paused: i64::from(req.paused),
        min_notice_minutes: i64::from(notice),
        max_jobs_per_day: req.max_jobs_per_day.map(i64::from),
        buffer_before_minutes: i64::from(before),
        buffer_after_minutes: i64::from(after),
        updated_at: now_ms(),
    };
    let schedule: Schedule = schedule_of(Some(&row), &[], app.matcher_zone(), (before, after));
    schedule.validate().map_err(|e| ApiError::invalid("invalid_schedule", e.to_string()))?;
    availability::put_schedule(&mut tx, &row).await?;
    availability::record_change(&mut tx, &id, now_ms()).await?;
    let dto = availability_of(&app, &mut tx, &id).await?;
    tx.commit().await.map_err(StoreError::from)?;
    app.refresh_helper(&id).await;
    Ok(Json(dto))
}

/// Add a day off, a holiday (a range of days off) or extra hours on a date.
#[utoipa::path(post, path = "/v1/helper/availability/exceptions", tag = "matching", request_body = ExceptionRequest, security(("bearer" = [])),
    responses((status = 201, body = ExceptionDto), (status = 400, body = Problem), (status = 403, body = Problem)))]
async fn add_exception(
    State(app): State<AppState>,
    caller: Caller,
    Body(req): Body<ExceptionRequest>,
) -> ApiResult<(StatusCode, Json<ExceptionDto>)> {
    caller.require(Role::Helper)?;
    let id = caller.id.to_string();
    let until = req.until.unwrap_or(req.date);
    let (start_min, end_min) = match req.kind.as_str() {
        "off" => {
            if req.start.is_some() || req.end.is_some() {
                return Err(ApiError::invalid("invalid_exception", "A day off has no hours; leave out start and end."));
            }
            if until < req.date || req.date.until(until).map(|s| s.get_days()).unwrap_or(0) > 366 {
                return Err(ApiError::invalid("invalid_exception", "`until` must be on or after `date`, at most a year later."));
            }
            (None, None)
        }
        "extra" => {
            let (Some(s), Some(e)) = (&req.start, &req.end) else {
                return Err(ApiError::invalid("invalid_exception", "Extra hours need `start` and `end`."));
            };
            let (s, e) = (parse_hhmm(s)?, parse_hhmm(e)?);
            if s >= e || until != req.date {
                return Err(ApiError::invalid("invalid_exception", "Extra hours are on one date and must end after they start."));
            }
            (Some(i64::from(s)), Some(i64::from(e)))
        }
        other => {
            return Err(ApiError::invalid("invalid_exception", format!("`{other}` is not a kind; use off or extra.")));
        }
    };
    let row = availability::ExceptionRow {
        id: UserId::new().to_string(),
        user_id: id.clone(),
        kind: req.kind.clone(),
        date_from: req.date.to_string(),
        date_to: until.to_string(),
        start_min,
        end_min,
        created_at: now_ms(),
    };
    let mut tx = app.store().begin().await?;
    availability::insert_exception(&mut tx, &row).await?;
    availability::record_change(&mut tx, &id, now_ms()).await?;
    tx.commit().await.map_err(StoreError::from)?;
    app.refresh_helper(&id).await;
    Ok((StatusCode::CREATED, Json(exception_dto(row))))
}

/// Remove an exception.
#[utoipa::path(delete, path = "/v1/helper/availability/exceptions/{id}", tag = "matching", params(("id" = String, Path)),
    security(("bearer" = [])), responses((status = 204), (status = 403, body = Problem, description = "forbidden: not a helper"), (status = 404, body = Problem)))]
async fn delete_exception(State(app): State<AppState>, caller: Caller, Path(exception): Path<String>) -> ApiResult<StatusCode> {
    caller.require(Role::Helper)?;
    let id = caller.id.to_string();
    let mut tx = app.store().begin().await?;
    if !availability::delete_exception(&mut tx, &id, &exception).await? {
        return Err(ApiError::not_found("exception"));
    }
    availability::record_change(&mut tx, &id, now_ms()).await?;
    tx.commit().await.map_err(StoreError::from)?;
    app.refresh_helper(&id).await;
    Ok(StatusCode::NO_CONTENT)
}

/// The window and service of a slot query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SlotQuery {
    /// Catalogue slug; its standard duration is used.
    service: String,
    /// Window start, RFC 3339.
    from: Timestamp,
    /// Window end, RFC 3339 (at most 31 days after `from`).
    to: Timestamp,
}

/// Free start times of one helper.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlotsDto {
    helper_id: String,
    service: String,
    duration_minutes: u32,
    /// The zone the start times are shown in.
    time_zone: String,
    /// Free starts, ascending, RFC 3339 with the zone's offset.
    slots: Vec<String>,
}

fn check_window(from: Timestamp, to: Timestamp) -> ApiResult<()> {
    if to <= from {
        return Err(ApiError::invalid("invalid_window", "The window must end after it starts."));
    }
    if to.duration_since(from).as_secs() > MAX_WINDOW_DAYS * 86_400 {
        return Err(ApiError::invalid("window_too_long", format!("A window can span at most {MAX_WINDOW_DAYS} days.")));
    }
    Ok(())
}

async fn service(app: &AppState, slug: &str) -> ApiResult<quartier_pricing::Service> {
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    catalog::get(&mut conn, slug)
        .await?
        .ok_or_else(|| ApiError::invalid("unknown_service", format!("`{slug}` is not in the catalogue; see GET /v1/catalog.")))
}

fn local(ts: Timestamp, zone: &TimeZone) -> String {
    ts.to_zoned(zone.clone()).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// Free start times of a helper for a service inside a window, in the helper's zone.
#[utoipa::path(get, path = "/v1/helpers/{id}/slots", tag = "matching", params(("id" = String, Path), SlotQuery),
    responses((status = 200, body = SlotsDto), (status = 400, body = Problem), (status = 404, body = Problem)))]
async fn slots(State(app): State<AppState>, Path(id): Path<String>, Query(q): Query<SlotQuery>) -> ApiResult<Json<SlotsDto>> {
    check_window(q.from, q.to)?;
    let helper: UserId = id.parse().map_err(|_| ApiError::not_found("helper"))?;
    let svc = service(&app, &q.service).await?;
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let zone = availability::schedule(&mut conn, &helper.to_string())
        .await?
        .and_then(|s| TimeZone::get(&s.time_zone).ok())
        .unwrap_or_else(|| app.matcher_zone().clone());
    drop(conn);
    let starts = app
        .matcher()
        .read(|i| i.free_starts(helper, q.from, q.to, svc.duration_minutes, Timestamp::now()))
        .ok_or_else(|| ApiError::not_found("helper"))?;
    Ok(Json(SlotsDto {
        helper_id: helper.to_string(),
        service: svc.slug,
        duration_minutes: svc.duration_minutes,
        time_zone: zone.iana_name().unwrap_or("UTC").to_owned(),
        slots: starts.into_iter().map(|t| local(t, &zone)).collect(),
    }))
}

/// A time window.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowDto {
    from: Timestamp,
    to: Timestamp,
}

/// What the customer needs, where and when.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchRequest {
    /// Catalogue slug.
    service: String,
    /// The place as coordinates (e.g. from the browser's geolocation) ...
    #[serde(default)]
    location: Option<Coordinates>,
    /// ... or as a Swiss postcode of the demo region.
    #[serde(default)]
    postcode: Option<String>,
    /// The job must start and end inside this window (at most 31 days).
    window: WindowDto,
    /// Length of the job; default the service's standard duration.
    #[serde(default)]
    duration: Option<u32>,
    /// Only helpers at most this far, 1 to 15 km (default 15).
    #[serde(default)]
    max_distance_km: Option<f64>,
    /// How many results, 1 to 50 (default 10).
    #[serde(default)]
    limit: Option<u32>,
}

/// One component of the score.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComponentDto {
    /// `distance`, `skill_fit`, `rating`, `reliability` or `fairness`.
    name: &'static str,
    /// The helper's value, 0 to 1.
    value: f64,
    /// Its weight; the weights sum to 1.
    weight: f64,
}

/// Why a helper ranks where they do.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExplanationDto {
    /// Sum of value times weight.
    score: f64,
    components: Vec<ComponentDto>,
}

/// A ranked helper.
#[derive(Debug, Serialize, ToSchema)]
pub struct MatchDto {
    helper: PublicHelper,
    /// `under_1km`, `1_2km`, `2_5km`, `5_10km` or `over_10km`; never the exact distance.
    distance: &'static str,
    /// Earliest free start in the window, RFC 3339 in the customer's zone.
    earliest_start: String,
    /// The price of the job.
    price: MoneyDto,
    explanation: ExplanationDto,
}

/// Ranked matches.
#[derive(Debug, Serialize, ToSchema)]
pub struct MatchPage {
    items: Vec<MatchDto>,
    /// Always null: the search returns its best `limit` at once.
    next_cursor: Option<String>,
}

/// Helpers within reach who have the skill and a free start of the job's length in the window,
/// ranked and explained.
#[utoipa::path(post, path = "/v1/matches", tag = "matching", request_body = MatchRequest, security(("bearer" = [])),
    responses((status = 200, body = MatchPage), (status = 403, body = Problem, description = "forbidden: not a customer"), (status = 400, body = Problem, description = "invalid_coordinates, invalid_window, window_too_long, unknown_service, invalid_radius, unknown_postcode")))]
async fn matches(State(app): State<AppState>, caller: Caller, Body(req): Body<MatchRequest>) -> ApiResult<Json<MatchPage>> {
    caller.require(Role::Customer)?;
    check_window(req.window.from, req.window.to)?;
    let place = match (&req.location, &req.postcode) {
        (Some(c), None) => GeoPoint::new(c.lat, c.lon).map_err(|e| ApiError::invalid("invalid_coordinates", e.to_string()))?,
        (None, Some(pc)) => quartier_matching::postcodes::lookup(pc).map(|(_, p)| p).ok_or_else(|| {
            ApiError::invalid("unknown_postcode", format!("`{pc}` is not a postcode of the demo region; send coordinates instead."))
        })?,
        _ => {
            return Err(ApiError::invalid("place_required", "Give either `location` {lat, lon} or `postcode`."));
        }
    };
    if let Some(d) = req.max_distance_km
        && !(d.is_finite() && (1.0..=f64::from(MAX_RADIUS_KM)).contains(&d))
    {
        return Err(ApiError::invalid("invalid_radius", "`max_distance_km` must be 1 to 15."));
    }
    let limit = match req.limit.unwrap_or(10) {
        n @ 1..=50 => n as usize,
        _ => {
            return Err(ApiError::invalid("invalid_limit", "`limit` must be 1 to 50."));
        }
    };
    let svc = service(&app, &req.service).await?;
    let duration = req.duration.unwrap_or(svc.duration_minutes);
    if !(15..=8 * 60).contains(&duration) {
        return Err(ApiError::invalid("invalid_duration", "`duration` must be 15 to 480 minutes."));
    }
    let extra_units = duration.saturating_sub(svc.duration_minutes).div_ceil(30);
    // Refuses impossible durations before searching; each match is then priced in full.
    quartier_pricing::quote(&svc, extra_units).map_err(|e| ApiError::invalid("invalid_duration", e.to_string()))?;
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let me =
        users::by_id(&mut conn, &caller.id.to_string()).await?.ok_or_else(|| ApiError::invalid_token("This account no longer exists."))?;
    let zone = TimeZone::get(&me.time_zone).unwrap_or_else(|_| app.matcher_zone().clone());
    // Preview services are a perk of super-helpers: nobody else is matched for them.
    let min_level = if quartier_store::catalog::is_preview(&mut conn, &svc.slug).await? { PREVIEW_LEVEL } else { 0 };
    let query = MatchQuery {
        place,
        skill: svc.skill.clone(),
        from: req.window.from,
        to: req.window.to,
        duration_minutes: duration,
        max_distance_km: req.max_distance_km,
        locale: me.locale.parse::<Locale>().ok(),
        limit,
        now: Timestamp::now(),
        min_level,
    };
    let found = app.matcher().read(|i| i.search(&query));
    let mut items = Vec::with_capacity(found.len());
    for m in found {
        let helper_id = m.helper.to_string();
        let Some(profile) = helpers::get(&mut conn, &helper_id).await? else {
            continue;
        };
        // The same full quote a booking of this helper at the earliest start locks: travel by
        // this helper's distance bucket, surcharges of that time, the helper's VAT.
        let quote = crate::money::quote_for(
            &app,
            &mut conn,
            crate::money::Visit {
                service: &svc,
                extra_units,
                helper: Some(&helper_id),
                place: Some(place),
                start: m.earliest_start,
                zone: &zone,
            },
        )
        .await?;
        items.push(MatchDto {
            helper: crate::routes::helpers::with_reputation(&mut conn, profile).await?,
            distance: m.distance.as_str(),
            earliest_start: local(m.earliest_start, &zone),
            price: quote.total.into(),
            explanation: ExplanationDto {
                score: m.score,
                components: m.explanation.iter().map(|c| ComponentDto { name: c.name, value: c.value, weight: c.weight }).collect(),
            },
        });
    }
    Ok(Json(MatchPage { items, next_cursor: None }))
}
