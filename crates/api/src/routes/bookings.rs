//! Booking a visit and moving it through its process.
//!
//! Every change goes through `quartier_booking::step` and commits the new state, the timeline
//! event and the outbox rows for the notices in one transaction.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use quartier_booking::{Action, Actor, Notice, Party, State as BookingState};
use quartier_domain::{BookingId, Role, Skill, UserId};
use quartier_notifications::BookingNoticeData;
use quartier_store::{StoreError, Tx, availability, bookings, catalog, helpers, outbox, users};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Body, Caller, Query};
use crate::routes::catalog::MoneyDto;
use crate::routes::helpers::page_limit;
use crate::state::{AppState, now_ms};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_booking, list_bookings))
        .routes(routes!(get_booking))
        .routes(routes!(transition))
        .routes(routes!(list_offers))
}

/// A request for a visit.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingRequest {
    /// Catalogue slug, e.g. `guest-wifi`.
    service: String,
    /// Where the visit takes place (street, number, postcode, town). Shown to the helper only
    /// once they accept.
    address: String,
    /// Start, RFC 3339 with offset.
    start: Timestamp,
    /// The chosen helper. Booking "any helper nearby" arrives with the booking issue.
    #[serde(default)]
    helper_id: Option<String>,
    /// Extra 30-minute units beyond the standard duration.
    #[serde(default)]
    extra_units: u32,
}

/// One entry of the timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEntry {
    at: Timestamp,
    /// customer, helper, operator or system.
    actor: String,
    action: String,
    from_state: Option<String>,
    to_state: String,
    note: Option<String>,
}

/// A booking as one of its parties (or an operator) sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct BookingDto {
    id: String,
    state: String,
    service: String,
    service_name: String,
    customer_id: String,
    helper_id: String,
    /// Start in the visit's zone, RFC 3339 with offset.
    starts_at: String,
    /// End in the visit's zone, RFC 3339 with offset.
    ends_at: String,
    time_zone: String,
    /// The address; `null` for a helper until they accept.
    address: Option<String>,
    /// The price locked when the booking was made.
    price: MoneyDto,
    created_at: Timestamp,
    /// Oldest first. Present on `GET /v1/bookings/{id}` and after a change.
    #[serde(skip_serializing_if = "Option::is_none")]
    timeline: Option<Vec<TimelineEntry>>,
}

fn local_rfc3339(ms: i64, zone: &str) -> String {
    let tz = TimeZone::get(zone).unwrap_or(TimeZone::UTC);
    Timestamp::from_millisecond(ms)
        .unwrap_or_default()
        .to_zoned(tz)
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

fn to_dto(
    b: bookings::BookingRow,
    viewer: &Caller,
    timeline: Option<Vec<bookings::EventRow>>,
) -> BookingDto {
    let viewer_id = viewer.id.to_string();
    let address_visible = viewer.role == Role::Operator
        || b.customer_id == viewer_id
        || (b.helper_id == viewer_id && matches!(b.state.as_str(), "accepted" | "done"));
    BookingDto {
        starts_at: local_rfc3339(b.starts_at, &b.time_zone),
        ends_at: local_rfc3339(b.ends_at, &b.time_zone),
        created_at: Timestamp::from_millisecond(b.created_at).unwrap_or_default(),
        address: address_visible.then_some(b.address),
        price: MoneyDto {
            amount_rappen: b.price_rappen,
            currency: "CHF",
        },
        timeline: timeline.map(|t| {
            t.into_iter()
                .map(|e| TimelineEntry {
                    at: Timestamp::from_millisecond(e.at).unwrap_or_default(),
                    actor: e.actor_role,
                    action: e.action,
                    from_state: e.from_state,
                    to_state: e.to_state,
                    note: e.note,
                })
                .collect()
        }),
        id: b.id,
        state: b.state,
        service: b.service_slug,
        service_name: b.service_name,
        customer_id: b.customer_id,
        helper_id: b.helper_id,
        time_zone: b.time_zone,
    }
}

/// Queues one e-mail per notice, inside the caller's transaction.
async fn queue_notices(
    tx: &mut Tx,
    app: &AppState,
    booking: &bookings::BookingRow,
    notices: &[(Party, Notice)],
) -> ApiResult<()> {
    if notices.is_empty() {
        return Ok(());
    }
    let customer = users::by_id(tx, &booking.customer_id).await?;
    let helper = users::by_id(tx, &booking.helper_id).await?;
    let (Some(customer), Some(helper)) = (customer, helper) else {
        return Err(ApiError::internal(anyhow::anyhow!(
            "booking {} refers to a missing user",
            booking.id
        )));
    };
    let now = now_ms();
    for (party, notice) in notices {
        let to = match party {
            Party::Customer => &customer,
            Party::Helper => &helper,
        };
        let data = BookingNoticeData {
            booking_id: booking.id.clone(),
            service_name: booking.service_name.clone(),
            starts_at: Timestamp::from_millisecond(booking.starts_at)
                .unwrap_or_default()
                .to_string(),
            time_zone: to.time_zone.clone(),
            customer_name: customer.name.clone(),
            helper_name: helper.name.clone(),
            recipient_name: to.name.clone(),
            link: format!(
                "{}/#/bookings/{}",
                app.config().public_url.trim_end_matches('/'),
                booking.id
            ),
        };
        outbox::insert(
            tx,
            &outbox::OutboxRow {
                id: UserId::new().to_string(),
                channel: "email".into(),
                template: notice.as_str().into(),
                recipient_id: Some(to.id.clone()),
                recipient_email: to.email.clone(),
                recipient_name: to.name.clone(),
                locale: to.locale.clone(),
                payload: serde_json::to_string(&data).map_err(ApiError::internal)?,
                state: "pending".into(),
                attempts: 0,
                next_attempt_at: now,
                last_error: None,
                created_at: now,
            },
        )
        .await?;
    }
    Ok(())
}

/// Book a chosen helper for a visit. The start must not overlap the helper's other bookings
/// (travel buffers included): the database refuses overlaps with 409 `slot_taken`.
#[utoipa::path(post, path = "/v1/bookings", tag = "bookings", request_body = BookingRequest, security(("bearer" = [])),
    responses((status = 201, body = BookingDto),
              (status = 409, body = Problem, description = "slot_taken, slot_unavailable"),
              (status = 400, body = Problem, description = "unknown_service, helper_required, unknown_helper, helper_lacks_skill, start_too_soon, invalid_address")))]
async fn create_booking(
    State(app): State<AppState>,
    caller: Caller,
    Body(req): Body<BookingRequest>,
) -> ApiResult<(StatusCode, Json<BookingDto>)> {
    caller.require(Role::Customer)?;
    let address = req.address.trim();
    if !(5..=300).contains(&address.chars().count()) {
        return Err(ApiError::invalid(
            "invalid_address",
            "Give the full address (street, number, postcode, town), 5 to 300 characters.",
        ));
    }
    let helper_id: UserId = req
        .helper_id
        .as_deref()
        .ok_or_else(|| {
            ApiError::invalid(
                "helper_required",
                "Choose a helper (`helper_id`); GET /v1/helpers?skill= lists them.",
            )
        })?
        .parse()
        .map_err(|_| ApiError::invalid("unknown_helper", "There is no helper with that id."))?;
    let cfg = app.config();
    let now = now_ms();
    let earliest = now + i64::from(cfg.min_notice_minutes) * 60_000;
    if req.start.as_millisecond() < earliest {
        return Err(ApiError::invalid(
            "start_too_soon",
            format!(
                "A visit must start at least {} minutes from now.",
                cfg.min_notice_minutes
            ),
        ));
    }

    let mut tx = app.store().begin().await?;
    let service = catalog::get(&mut tx, &req.service).await?.ok_or_else(|| {
        ApiError::invalid(
            "unknown_service",
            format!(
                "`{}` is not in the catalogue; see GET /v1/catalog.",
                req.service
            ),
        )
    })?;
    let quote = quartier_pricing::quote(&service, req.extra_units)
        .map_err(|e| ApiError::invalid("invalid_extra_units", e.to_string()))?;
    let profile = helpers::get(&mut tx, &helper_id.to_string())
        .await?
        .ok_or_else(|| ApiError::invalid("unknown_helper", "There is no helper with that id."))?;
    let skill = Skill::parse(&service.skill)?;
    let skills: Vec<String> = serde_json::from_str(&profile.skills).unwrap_or_default();
    if !skills.iter().any(|s| s == skill.as_str()) {
        return Err(ApiError::invalid(
            "helper_lacks_skill",
            format!("This helper does not offer `{}`.", service.skill),
        ));
    }
    let customer = users::by_id(&mut tx, &caller.id.to_string())
        .await?
        .ok_or_else(|| ApiError::invalid_token("This account no longer exists."))?;

    let start = req.start.as_millisecond();
    let end = req
        .start
        .checked_add(SignedDuration::from_mins(i64::from(quote.duration_minutes)))
        .map_err(|_| ApiError::invalid("invalid_start", "The start is out of range."))?
        .as_millisecond();
    // The start must be one of the helper's free starts (their hours, notice, daily limit, and
    // the buffers around their other visits). The database still has the last word on overlaps.
    let free = app
        .matcher()
        .read(|i| {
            i.free_starts(
                helper_id,
                req.start,
                req.start
                    .checked_add(SignedDuration::from_mins(i64::from(quote.duration_minutes)))
                    .unwrap_or(req.start),
                quote.duration_minutes,
                Timestamp::now(),
            )
        })
        .unwrap_or_default();
    if !free.contains(&req.start) {
        return Err(ApiError::conflict(
            "slot_unavailable",
            format!(
                "The helper is not free at that time. GET /v1/helpers/{helper_id}/slots?service={}&from=...&to=... lists free starts.",
                service.slug
            ),
        ));
    }
    let schedule = availability::schedule(&mut tx, &profile.user_id).await?;
    let minutes = |m: Option<i64>| m.unwrap_or(i64::from(cfg.travel_buffer_minutes)) * 60_000;
    let (before, after) = (
        minutes(schedule.as_ref().map(|s| s.buffer_before_minutes)),
        minutes(schedule.as_ref().map(|s| s.buffer_after_minutes)),
    );
    let row = bookings::BookingRow {
        id: BookingId::new().to_string(),
        customer_id: customer.id.clone(),
        helper_id: profile.user_id.clone(),
        service_slug: service.slug.clone(),
        service_name: service.name.clone(),
        address: address.to_owned(),
        starts_at: start,
        ends_at: end,
        blocked_from: start - before,
        blocked_to: end + after,
        time_zone: customer.time_zone.clone(),
        state: BookingState::Requested.as_str().into(),
        price_rappen: quote.total.rappen(),
        created_at: now,
        updated_at: now,
    };
    bookings::insert(&mut tx, &row).await?;
    bookings::insert_event(
        &mut tx,
        &bookings::EventRow {
            id: UserId::new().to_string(),
            booking_id: row.id.clone(),
            at: now,
            actor_id: Some(customer.id.clone()),
            actor_role: Actor::Customer.as_str().into(),
            action: "request".into(),
            from_state: None,
            to_state: row.state.clone(),
            note: None,
        },
    )
    .await?;
    queue_notices(&mut tx, &app, &row, quartier_booking::ON_REQUEST).await?;
    availability::record_change(&mut tx, &row.helper_id, now).await?;
    let events = bookings::events(&mut tx, &row.id).await?;
    tx.commit().await.map_err(StoreError::from)?;
    app.refresh_helper(&row.helper_id).await;
    app.wake_outbox();
    tracing::info!(booking.id = %row.id, "booking requested");
    Ok((
        StatusCode::CREATED,
        Json(to_dto(row, &caller, Some(events))),
    ))
}

/// Filters and paging for booking lists.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct BookingQuery {
    /// Only bookings in this state.
    state: Option<String>,
    /// Page size, 1 to 100 (default 20).
    limit: Option<u32>,
    /// From a previous page's `next_cursor`.
    cursor: Option<String>,
}

/// A page of bookings, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct BookingPage {
    items: Vec<BookingDto>,
    next_cursor: Option<String>,
}

async fn page(
    app: &AppState,
    caller: &Caller,
    party: Option<String>,
    state: Option<String>,
    q: &BookingQuery,
) -> ApiResult<BookingPage> {
    let limit = page_limit(q.limit)?;
    if let Some(s) = &state {
        s.parse::<BookingState>()
            .map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))?;
    }
    let mut conn = app
        .store()
        .pool()
        .acquire()
        .await
        .map_err(StoreError::from)?;
    let rows = bookings::list(
        &mut conn,
        party.as_deref(),
        state.as_deref(),
        q.cursor.as_deref(),
        limit + 1,
    )
    .await?;
    let more = rows.len() as i64 > limit;
    let items: Vec<BookingDto> = rows
        .into_iter()
        .take(limit as usize)
        .map(|b| to_dto(b, caller, None))
        .collect();
    let next_cursor = if more {
        items.last().map(|b| b.id.clone())
    } else {
        None
    };
    Ok(BookingPage { items, next_cursor })
}

/// The caller's bookings (an operator sees all).
#[utoipa::path(get, path = "/v1/bookings", tag = "bookings", params(BookingQuery), security(("bearer" = [])),
    responses((status = 200, body = BookingPage), (status = 401, body = Problem)))]
async fn list_bookings(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<BookingQuery>,
) -> ApiResult<Json<BookingPage>> {
    let party = (caller.role != Role::Operator).then(|| caller.id.to_string());
    Ok(Json(page(&app, &caller, party, q.state.clone(), &q).await?))
}

/// Requests waiting for the signed-in helper's answer.
#[utoipa::path(get, path = "/v1/offers", tag = "bookings", params(BookingQuery), security(("bearer" = [])),
    responses((status = 200, body = BookingPage), (status = 403, body = Problem)))]
async fn list_offers(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<BookingQuery>,
) -> ApiResult<Json<BookingPage>> {
    caller.require(Role::Helper)?;
    let state = Some(BookingState::Requested.as_str().to_owned());
    Ok(Json(
        page(&app, &caller, Some(caller.id.to_string()), state, &q).await?,
    ))
}

/// The booking if the caller may see it; otherwise 404 (not 403: others' bookings do not exist
/// for them).
async fn visible(
    conn: &mut quartier_store::Conn,
    caller: &Caller,
    id: &str,
) -> ApiResult<(bookings::BookingRow, Actor)> {
    let id: BookingId = id.parse().map_err(|_| ApiError::not_found("booking"))?;
    let b = bookings::get(conn, &id.to_string())
        .await?
        .ok_or_else(|| ApiError::not_found("booking"))?;
    let me = caller.id.to_string();
    let actor = match caller.role {
        Role::Operator => Actor::Operator,
        Role::Customer if b.customer_id == me => Actor::Customer,
        Role::Helper if b.helper_id == me => Actor::Helper,
        _ => return Err(ApiError::not_found("booking")),
    };
    Ok((b, actor))
}

/// One booking with its timeline.
#[utoipa::path(get, path = "/v1/bookings/{id}", tag = "bookings", params(("id" = String, Path, description = "Booking id")),
    security(("bearer" = [])), responses((status = 200, body = BookingDto), (status = 404, body = Problem)))]
async fn get_booking(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<BookingDto>> {
    let mut conn = app
        .store()
        .pool()
        .acquire()
        .await
        .map_err(StoreError::from)?;
    let (b, _) = visible(&mut conn, &caller, &id).await?;
    let events = bookings::events(&mut conn, &b.id).await?;
    Ok(Json(to_dto(b, &caller, Some(events))))
}

/// A step in the booking's process.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    /// `accept`, `decline`, `cancel` or `complete`.
    action: String,
    /// Why (kept in the timeline), up to 500 characters.
    #[serde(default)]
    reason: Option<String>,
}

/// Move a booking along its process: the helper accepts, declines or completes; either party (or
/// an operator) cancels. A step not possible in the current state is 409 `invalid_transition`.
#[utoipa::path(post, path = "/v1/bookings/{id}/transitions", tag = "bookings", request_body = TransitionRequest,
    params(("id" = String, Path, description = "Booking id")), security(("bearer" = [])),
    responses((status = 200, body = BookingDto), (status = 403, body = Problem, description = "not_allowed"),
              (status = 404, body = Problem), (status = 409, body = Problem, description = "invalid_transition, slot_taken")))]
async fn transition(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(req): Body<TransitionRequest>,
) -> ApiResult<Json<BookingDto>> {
    let action: Action = req
        .action
        .parse()
        .map_err(|e: quartier_booking::BookingError| {
            ApiError::invalid("unknown_action", e.to_string())
        })?;
    if req.reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
        return Err(ApiError::invalid(
            "reason_too_long",
            "A reason can have at most 500 characters.",
        ));
    }
    let mut tx = app.store().begin().await?;
    let (b, actor) = visible(&mut tx, &caller, &id).await?;
    let from: BookingState = b.state.parse().map_err(ApiError::internal)?;
    let step = quartier_booking::step(from, action, actor).map_err(|e| match e {
        quartier_booking::BookingError::NotAllowed { .. } => {
            ApiError::forbidden(e.to_string()).with_code("not_allowed")
        }
        other => ApiError::conflict("invalid_transition", other.to_string()),
    })?;
    let now = now_ms();
    if !bookings::set_state(&mut tx, &b.id, from.as_str(), step.to.as_str(), now).await? {
        return Err(ApiError::conflict(
            "invalid_transition",
            "The booking changed meanwhile; reload it and try again.",
        ));
    }
    bookings::insert_event(
        &mut tx,
        &bookings::EventRow {
            id: UserId::new().to_string(),
            booking_id: b.id.clone(),
            at: now,
            actor_id: Some(caller.id.to_string()),
            actor_role: actor.as_str().into(),
            action: action.as_str().into(),
            from_state: Some(from.as_str().into()),
            to_state: step.to.as_str().into(),
            note: req
                .reason
                .map(|r| r.trim().to_owned())
                .filter(|r| !r.is_empty()),
        },
    )
    .await?;
    let updated = bookings::get(&mut tx, &b.id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("booking vanished")))?;
    queue_notices(&mut tx, &app, &updated, step.notify).await?;
    availability::record_change(&mut tx, &updated.helper_id, now).await?;
    let events = bookings::events(&mut tx, &b.id).await?;
    tx.commit().await.map_err(StoreError::from)?;
    app.refresh_helper(&updated.helper_id).await;
    app.wake_outbox();
    tracing::info!(booking.id = %updated.id, action = action.as_str(), to = step.to.as_str(), "booking moved");
    Ok(Json(to_dto(updated, &caller, Some(events))))
}
