//! Helpers' reputation in the open: the published levels and weights, each helper's own figures
//! (with how they are computed and the bookings behind them), contests, badges, the opt-in
//! neighbourhood ranking, and invitations to super-helpers.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use quartier_domain::{Role, UserId};
use quartier_matching::reputation::{self as rep, Level};
use quartier_store::{StoreError, reputation, users};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Body, Caller, Operator, Query};
use crate::reputation::ts;
use crate::state::{AppState, now_ms};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(levels))
        .routes(routes!(my_metrics))
        .routes(routes!(contest))
        .routes(routes!(ops_contests))
        .routes(routes!(decide_contest))
        .routes(routes!(set_ranking))
        .routes(routes!(ranking))
        .routes(routes!(invite))
}

/// A level's published thresholds.
#[derive(Debug, Serialize, ToSchema)]
pub struct LevelDto {
    /// `trusted` or `super` (`new` needs nothing).
    level: String,
    min_completed: u32,
    min_rating: f64,
    min_ratings: u32,
    max_response_minutes: Option<f64>,
    min_acceptance: Option<f64>,
    /// Helper cancellations, no-shows and failed visits on the helper's side, at most.
    max_incidents: u32,
    max_disputes_lost: u32,
}

/// A ranking weight.
#[derive(Debug, Serialize, ToSchema)]
pub struct WeightDto {
    name: String,
    weight: f64,
}

/// Everything about levels, badges and ranking that is public.
#[derive(Debug, Serialize, ToSchema)]
pub struct LevelsDoc {
    /// The figures' rolling window.
    window_days: i64,
    levels: Vec<LevelDto>,
    /// Signed-off jobs of a service for each badge tier.
    badge_tiers: Vec<u32>,
    /// The match ranking's components and weights (they sum to 1).
    ranking_weights: Vec<WeightDto>,
    /// Jobs below which a helper counts as new and gets the full fairness term.
    new_helper_jobs: u32,
    /// Who gets preview services.
    preview_services_for: String,
}

/// The published thresholds of each level, the badge tiers and the ranking weights.
#[utoipa::path(get, path = "/v1/levels", tag = "reputation", responses((status = 200, body = LevelsDoc)))]
async fn levels() -> Json<LevelsDoc> {
    Json(LevelsDoc {
        window_days: rep::WINDOW_DAYS,
        levels: rep::LEVELS
            .iter()
            .map(|t| LevelDto {
                level: t.level.as_str().into(),
                min_completed: t.min_completed,
                min_rating: t.min_rating,
                min_ratings: t.min_ratings,
                max_response_minutes: t.max_response_minutes,
                min_acceptance: t.min_acceptance,
                max_incidents: t.max_incidents,
                max_disputes_lost: t.max_disputes_lost,
            })
            .collect(),
        badge_tiers: rep::BADGE_TIERS.to_vec(),
        ranking_weights: quartier_matching::search::WEIGHTS.iter().map(|&(name, weight)| WeightDto { name: name.into(), weight }).collect(),
        new_helper_jobs: quartier_matching::search::NEW_HELPER_JOBS,
        preview_services_for: Level::Super.as_str().into(),
    })
}

/// An earned badge.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Badge {
    /// The service.
    service: String,
    service_name: String,
    skill: String,
    /// The tier reached (5, 20, 50, 100 signed-off jobs).
    tier: u32,
    /// Signed-off jobs of this service in all.
    jobs: i64,
    /// E.g. "Guest Wi-Fi: 20 set-ups".
    label: String,
}

/// A helper's badges, biggest first.
pub async fn badges(conn: &mut quartier_store::Conn, helper_id: &str) -> ApiResult<Vec<Badge>> {
    Ok(reputation::jobs_per_service(conn, helper_id)
        .await?
        .into_iter()
        .filter_map(|(slug, name, skill, n)| {
            let tier = rep::badge_tier(u32::try_from(n).unwrap_or(0))?;
            Some(Badge { label: format!("{name}: {tier} set-ups"), service: slug, service_name: name, skill, tier, jobs: n })
        })
        .collect())
}

/// One figure.
#[derive(Debug, Serialize, ToSchema)]
pub struct FigureDto {
    name: String,
    value: Option<f64>,
    /// How it is computed.
    definition: String,
    /// The bookings (or offered requests) it counts.
    bookings: Vec<String>,
}

/// A level change.
#[derive(Debug, Serialize, ToSchema)]
pub struct LevelChangeDto {
    from: String,
    to: String,
    reason: String,
    at: Timestamp,
}

/// A contest.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContestDto {
    id: String,
    helper_id: String,
    figure: String,
    booking_id: Option<String>,
    text: String,
    /// open, accepted or rejected.
    status: String,
    answer: Option<String>,
    created_at: Timestamp,
    decided_at: Option<Timestamp>,
}

fn contest_dto(c: reputation::Contest) -> ContestDto {
    ContestDto {
        id: c.id,
        helper_id: c.helper_id,
        figure: c.figure,
        booking_id: c.booking_id,
        text: c.text,
        status: c.status,
        answer: c.answer,
        created_at: ts(c.created_at),
        decided_at: c.decided_at.map(ts),
    }
}

/// A helper's own reputation.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyMetrics {
    window_days: i64,
    figures: Vec<FigureDto>,
    /// `new`, `trusted` or `super`.
    level: String,
    /// Since when.
    level_since: Option<Timestamp>,
    /// What the next level still needs (`null` at the top).
    next_level: Option<String>,
    changes: Vec<LevelChangeDto>,
    badges: Vec<Badge>,
    contests: Vec<ContestDto>,
    /// Whether the helper appears in the neighbourhood ranking.
    ranking_opt_in: bool,
    /// The helper's own neighbourhood (of their home), for their leaderboard.
    neighbourhood: Option<Neighbourhood>,
}

/// A neighbourhood: an H3 resolution-7 cell and the nearest known place.
#[derive(Debug, Serialize, ToSchema)]
pub struct Neighbourhood {
    cell: String,
    name: String,
}

/// Your own figures over the last 90 days, each with how it is computed and the bookings it
/// counts; your level, what the next one needs, your level changes, badges and contests
/// (helpers; nobody else sees them).
#[utoipa::path(get, path = "/v1/helper/metrics", tag = "reputation", security(("bearer" = [])),
    responses((status = 200, body = MyMetrics), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn my_metrics(State(app): State<AppState>, caller: Caller) -> ApiResult<Json<MyMetrics>> {
    caller.require(Role::Helper)?;
    let me = caller.id.to_string();
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let (m, level, next) = crate::reputation::compute(&mut conn, &me, now_ms()).await?;
    let stored = reputation::level(&mut conn, &me).await?;
    Ok(Json(MyMetrics {
        window_days: rep::WINDOW_DAYS,
        figures: m
            .figures
            .into_iter()
            .map(|f| FigureDto { name: f.name.into(), value: f.value, definition: f.definition.into(), bookings: f.from })
            .collect(),
        level: stored.as_ref().map_or_else(|| level.as_str().to_owned(), |(l, ..)| l.clone()),
        level_since: stored.as_ref().map(|(_, since, _)| ts(*since)),
        next_level: next,
        changes: reputation::changes(&mut conn, &me)
            .await?
            .into_iter()
            .map(|c| LevelChangeDto { from: c.from_level, to: c.to_level, reason: c.reason, at: ts(c.at) })
            .collect(),
        badges: badges(&mut conn, &me).await?,
        contests: reputation::contests_of(&mut conn, &me).await?.into_iter().map(contest_dto).collect(),
        ranking_opt_in: reputation::ranking_opt_in(&mut conn, &me).await?,
        neighbourhood: quartier_store::helpers::get(&mut conn, &me)
            .await?
            .and_then(|p| quartier_domain::GeoPoint::new(p.home_lat, p.home_lon).ok())
            .and_then(crate::insights::neighbourhood)
            .map(|c| Neighbourhood { cell: c.to_string(), name: crate::insights::place_name(c) }),
    }))
}

/// Contesting a figure.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContestRequest {
    /// The figure's name, e.g. `no_shows`.
    figure: String,
    /// The booking counted wrongly, if it is about one.
    booking_id: Option<String>,
    /// Why, 10 to 2000 characters.
    text: String,
}

/// Contest a figure (helpers): an operator reviews it; an accepted contest about a booking takes
/// that booking out of your figures.
#[utoipa::path(post, path = "/v1/helper/metrics/contest", tag = "reputation", request_body = ContestRequest, security(("bearer" = [])),
    responses((status = 201, body = ContestDto), (status = 400, body = Problem, description = "unknown_figure, invalid_text, unknown_booking"),
              (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn contest(
    State(app): State<AppState>,
    caller: Caller,
    Body(req): Body<ContestRequest>,
) -> ApiResult<(StatusCode, Json<ContestDto>)> {
    caller.require(Role::Helper)?;
    let me = caller.id.to_string();
    let known = rep::metrics(&[]).figures.iter().any(|f| f.name == req.figure) || req.figure == "level";
    if !known {
        return Err(ApiError::invalid("unknown_figure", "Name one of the figures of GET /v1/helper/metrics, or `level`."));
    }
    let text = req.text.trim();
    if !(10..=2000).contains(&text.chars().count()) {
        return Err(ApiError::invalid("invalid_text", "Explain in 10 to 2000 characters."));
    }
    let mut tx = app.store().begin().await?;
    if let Some(b) = &req.booking_id {
        let mine = quartier_store::bookings::get(&mut tx, b).await?.is_some_and(|x| x.helper_id == me);
        if !mine {
            return Err(ApiError::invalid("unknown_booking", "That is not one of your bookings."));
        }
    }
    let c = reputation::Contest {
        id: UserId::new().to_string(),
        helper_id: me,
        figure: req.figure,
        booking_id: req.booking_id,
        text: text.to_owned(),
        status: "open".into(),
        answer: None,
        decided_by: None,
        created_at: now_ms(),
        decided_at: None,
    };
    reputation::contest(&mut tx, &c).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok((StatusCode::CREATED, Json(contest_dto(c))))
}

/// The contest queue's filter.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ContestQuery {
    /// open (default), accepted or rejected.
    status: Option<String>,
    /// 1 to 100 (default 20).
    limit: Option<u32>,
}

/// A page of contests.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContestPage {
    items: Vec<ContestDto>,
    next_cursor: Option<String>,
}

/// Contested figures and levels, oldest first (operators).
#[utoipa::path(get, path = "/v1/ops/contests", tag = "ops", params(ContestQuery), security(("bearer" = [])),
    responses((status = 200, body = ContestPage), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn ops_contests(State(app): State<AppState>, _: Operator, Query(q): Query<ContestQuery>) -> ApiResult<Json<ContestPage>> {
    let status = q.status.as_deref().unwrap_or("open");
    if !matches!(status, "open" | "accepted" | "rejected") {
        return Err(ApiError::bad_request("invalid_query", "`status` is open, accepted or rejected."));
    }
    let limit = crate::routes::helpers::page_limit(q.limit)?;
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let items = reputation::contests(&mut conn, status, limit).await?.into_iter().map(contest_dto).collect();
    Ok(Json(ContestPage { items, next_cursor: None }))
}

/// An operator's decision on a contest.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContestDecision {
    /// Whether the helper is right.
    accept: bool,
    /// The answer the helper sees, 3 to 2000 characters.
    answer: String,
}

/// Decide a contest (operators): accepting one about a booking takes that booking out of the
/// helper's figures and recomputes the level at once. Audited.
#[utoipa::path(post, path = "/v1/ops/contests/{id}/decide", tag = "ops", request_body = ContestDecision, params(("id" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = ContestDto), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem, description = "contest_decided")))]
async fn decide_contest(
    State(app): State<AppState>,
    Operator(caller): Operator,
    Path(id): Path<String>,
    Body(req): Body<ContestDecision>,
) -> ApiResult<Json<ContestDto>> {
    let answer = req.answer.trim();
    if !(3..=2000).contains(&answer.chars().count()) {
        return Err(ApiError::invalid("reason_required", "Answer in 3 to 2000 characters; the helper sees it."));
    }
    let me = caller.id.to_string();
    let now = now_ms();
    let mut tx = app.store().begin().await?;
    let c = reputation::contest_by_id(&mut tx, &id).await?.ok_or_else(|| ApiError::not_found("contest"))?;
    let status = if req.accept { "accepted" } else { "rejected" };
    if !reputation::decide_contest(&mut tx, &id, status, answer, &me, now).await? {
        return Err(ApiError::conflict("contest_decided", "This contest has already been decided."));
    }
    quartier_store::vetting::audit(&mut tx, &UserId::new().to_string(), &me, &format!("contest.{status}"), &c.helper_id, answer, now)
        .await?;
    crate::reputation::refresh(&mut tx, &app, &c.helper_id).await?;
    let c = reputation::contest_by_id(&mut tx, &id).await?.ok_or_else(|| ApiError::not_found("contest"))?;
    tx.commit().await.map_err(StoreError::from)?;
    app.refresh_helper(&c.helper_id).await;
    app.wake_outbox();
    Ok(Json(contest_dto(c)))
}

/// The ranking opt-in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RankingChoice {
    opt_in: bool,
}

/// Appear in the neighbourhood ranking or not (helpers; off by default). Only your public name
/// and your neighbourhood's figures are shown.
#[utoipa::path(put, path = "/v1/helper/ranking", tag = "reputation", request_body = RankingChoice, security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem, description = "profile_required")))]
async fn set_ranking(State(app): State<AppState>, caller: Caller, Body(req): Body<RankingChoice>) -> ApiResult<StatusCode> {
    caller.require(Role::Helper)?;
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    if !reputation::set_ranking_opt_in(&mut conn, &caller.id.to_string(), req.opt_in).await? {
        return Err(ApiError::conflict("profile_required", "Set up your helper profile first (PUT /v1/helper/profile)."));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Which leaderboard.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RankingQuery {
    /// The neighbourhood: an H3 resolution-7 cell, or give `postcode`.
    cell: Option<String>,
    /// A postcode of the region (its neighbourhood).
    postcode: Option<String>,
    /// `YYYY-MM` (default: this month, Zurich time).
    month: Option<String>,
}

/// The name a leaderboard shows: the first name and the initial of the last ("Anna M.").
fn public_name(full: &str) -> String {
    let mut parts = full.split_whitespace();
    let first = parts.next().unwrap_or("");
    match parts.last().and_then(|l| l.chars().next()) {
        Some(initial) => format!("{first} {initial}."),
        None => first.to_owned(),
    }
}

/// A place on the leaderboard.
#[derive(Debug, Serialize, ToSchema)]
pub struct RankingEntry {
    rank: u32,
    /// The first name and the last name's initial only.
    name: String,
    jobs: i64,
    rating_avg: Option<f64>,
}

/// A neighbourhood's leaderboard.
#[derive(Debug, Serialize, ToSchema)]
pub struct Leaderboard {
    cell: String,
    /// The nearest known place.
    neighbourhood: String,
    month: String,
    items: Vec<RankingEntry>,
}

/// The neighbourhood's leaderboard for a month: opted-in helpers living there, by jobs done, then
/// rating. Nothing finer than the neighbourhood is ever shown.
#[utoipa::path(get, path = "/v1/rankings", tag = "reputation", params(RankingQuery),
    responses((status = 200, body = Leaderboard), (status = 400, body = Problem, description = "invalid_query, unknown_postcode")))]
async fn ranking(State(app): State<AppState>, Query(q): Query<RankingQuery>) -> ApiResult<Json<Leaderboard>> {
    let cell: h3o::CellIndex = match (&q.cell, &q.postcode) {
        (Some(c), _) => c
            .parse()
            .ok()
            .filter(|c: &h3o::CellIndex| c.resolution() == h3o::Resolution::Seven)
            .ok_or_else(|| ApiError::bad_request("invalid_query", "`cell` is an H3 resolution-7 cell."))?,
        (None, Some(pc)) => {
            let (_, p) = quartier_matching::postcodes::lookup(pc)
                .ok_or_else(|| ApiError::invalid("unknown_postcode", "That postcode is not in the region."))?;
            crate::insights::neighbourhood(p).ok_or_else(|| ApiError::invalid("unknown_postcode", "That postcode is not in the region."))?
        }
        (None, None) => return Err(ApiError::bad_request("invalid_query", "Give `cell` or `postcode`.")),
    };
    let zone = app.matcher_zone().clone();
    let month = match &q.month {
        Some(m) => jiff::civil::Date::strptime("%Y-%m-%d", format!("{m}-01"))
            .map_err(|_| ApiError::bad_request("invalid_query", "`month` is YYYY-MM."))?,
        None => Timestamp::now().to_zoned(zone.clone()).date().first_of_month(),
    };
    let from = month.to_zoned(zone.clone()).map_err(ApiError::internal)?.timestamp().as_millisecond();
    let to = month
        .checked_add(jiff::Span::new().months(1))
        .and_then(|d| d.to_zoned(zone.clone()))
        .map_err(ApiError::internal)?
        .timestamp()
        .as_millisecond();
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let mut rows: Vec<_> = reputation::ranking(&mut conn, from, to)
        .await?
        .into_iter()
        .filter(|r| quartier_domain::GeoPoint::new(r.home_lat, r.home_lon).ok().and_then(crate::insights::neighbourhood) == Some(cell))
        .collect();
    rows.sort_by(|a, b| {
        let ra = if a.ratings > 0 { a.rating_sum as f64 / a.ratings as f64 } else { 0.0 };
        let rb = if b.ratings > 0 { b.rating_sum as f64 / b.ratings as f64 } else { 0.0 };
        b.jobs.cmp(&a.jobs).then(rb.total_cmp(&ra)).then_with(|| a.name.cmp(&b.name))
    });
    let items = rows
        .into_iter()
        .enumerate()
        .map(|(i, r)| RankingEntry {
            rank: u32::try_from(i + 1).unwrap_or(u32::MAX),
            rating_avg: (r.ratings > 0).then(|| r.rating_sum as f64 / r.ratings as f64),
            name: public_name(&r.name),
            jobs: r.jobs,
        })
        .collect();
    Ok(Json(Leaderboard {
        neighbourhood: crate::insights::place_name(cell),
        cell: cell.to_string(),
        month: month.strftime("%Y-%m").to_string(),
        items,
    }))
}

/// An invitation to the super-helpers of a region.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationRequest {
    /// The region's centre: a postcode.
    postcode: String,
    /// How far around it, 1 to 30 km.
    radius_km: f64,
    /// 3 to 150 characters.
    subject: String,
    /// 10 to 4000 characters.
    text: String,
}

/// Who was invited.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationSent {
    /// Super-helpers invited.
    invited: u32,
}

/// Invite every super-helper living in a region (operators), e.g. to a meet-up: one mail each
/// through the outbox. Audited.
#[utoipa::path(post, path = "/v1/ops/invitations", tag = "ops", request_body = InvitationRequest, security(("bearer" = [])),
    responses((status = 201, body = InvitationSent), (status = 400, body = Problem, description = "unknown_postcode, invalid_radius, invalid_text"),
              (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn invite(
    State(app): State<AppState>,
    Operator(caller): Operator,
    Body(req): Body<InvitationRequest>,
) -> ApiResult<(StatusCode, Json<InvitationSent>)> {
    let (_, centre) = quartier_matching::postcodes::lookup(&req.postcode)
        .ok_or_else(|| ApiError::invalid("unknown_postcode", "That postcode is not in the region."))?;
    if !(1.0..=30.0).contains(&req.radius_km) {
        return Err(ApiError::invalid("invalid_radius", "`radius_km` is 1 to 30."));
    }
    let (subject, text) = (req.subject.trim(), req.text.trim());
    if !(3..=150).contains(&subject.chars().count()) || !(10..=4000).contains(&text.chars().count()) {
        return Err(ApiError::invalid("invalid_text", "A subject of 3 to 150 and a text of 10 to 4000 characters."));
    }
    let now = now_ms();
    let me = caller.id.to_string();
    let mut tx = app.store().begin().await?;
    let mut invited = 0u32;
    for (helper_id, lat, lon) in reputation::super_helpers(&mut tx).await? {
        let Ok(home) = quartier_domain::GeoPoint::new(lat, lon) else { continue };
        if home.distance_m(centre) > req.radius_km * 1000.0 {
            continue;
        }
        let Some(user) = users::by_id(&mut tx, &helper_id).await? else { continue };
        let data = quartier_notifications::InvitationData {
            recipient_name: user.name.clone(),
            subject: subject.to_owned(),
            text: text.to_owned(),
        };
        crate::process::queue_mail(&mut tx, &user, quartier_notifications::INVITATION, &data, now).await?;
        quartier_store::feed::insert(&mut tx, &user.id, quartier_notifications::INVITATION, None, subject, text, now).await?;
        invited += 1;
    }
    let why = format!("{subject} ({invited} super-helpers within {} km of {})", req.radius_km, req.postcode);
    quartier_store::vetting::audit(&mut tx, &UserId::new().to_string(), &me, "invitation.send", &req.postcode, &why, now).await?;
    tx.commit().await.map_err(StoreError::from)?;
    app.wake_outbox();
    Ok((StatusCode::CREATED, Json(InvitationSent { invited })))
}
