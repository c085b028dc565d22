//! Booking a visit and moving it through its process.
//!
//! Every change goes through `quartier_booking::step` and commits the new state, the timeline
//! event and the outbox rows for the notices in one transaction.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use quartier_booking::{Action, Actor, State as BookingState};
use quartier_domain::{BookingId, Role, Skill, UserId};
use quartier_store::{StoreError, availability, bookings, catalog, helpers, users};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Body, Caller, Query};
use crate::process;
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
    /// The chosen helper (the start must be one of their free slots). Without it, the request is
    /// offered to the best few free helpers nearby at once and the first to accept gets it; give
    /// `location` or `postcode` then.
    #[serde(default)]
    helper_id: Option<String>,
    /// The place, for "any helper nearby".
    #[serde(default)]
    location: Option<crate::routes::helpers::Coordinates>,
    /// A postcode of the demo region, for "any helper nearby".
    #[serde(default)]
    postcode: Option<String>,
    /// Extra 30-minute units beyond the standard duration.
    #[serde(default)]
    extra_units: u32,
}

/// One line of a price.
#[derive(Debug, Serialize, ToSchema)]
pub struct PriceLine {
    /// `base`, `extra_units`, `travel`, `evening_surcharge`, `weekend_surcharge`, `urgent_surcharge`, `vat` or `platform_fee`.
    kind: &'static str,
    label: String,
    amount: MoneyDto,
}

fn breakdown(quote_json: &str) -> Vec<PriceLine> {
    serde_json::from_str::<quartier_pricing::Quote>(quote_json)
        .map(|q| q.lines.into_iter().map(|l| PriceLine { kind: l.kind.as_str(), label: l.label, amount: l.amount.into() }).collect())
        .unwrap_or_default()
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
    /// The helper; `null` while an "any helper nearby" request is being offered.
    helper_id: Option<String>,
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
    /// How the price is made up (locked when the booking was made; an approved change on site
    /// adds a line).
    price_breakdown: Vec<PriceLine>,
    /// The cancellation and no-show policy version pinned to this booking.
    policy_version: i64,
    /// Extra 30-minute units on top of the standard duration.
    extra_units: i64,
    /// The code the customer tells the helper on arrival (shown to the customer only).
    #[serde(skip_serializing_if = "Option::is_none")]
    start_code: Option<String>,
    /// The code the customer enters on the helper's phone to sign the job off (customer only).
    #[serde(skip_serializing_if = "Option::is_none")]
    signoff_code: Option<String>,
    /// Extra units the helper proposed, waiting for the customer's approval.
    pending_extra_units: Option<i64>,
    /// A proposed new start, waiting for the other party, RFC 3339.
    pending_start: Option<String>,
    /// Who proposed the pending change: `customer` or `helper`.
    pending_by: Option<String>,
    /// Why the visit failed, for a failed visit.
    failure_cause: Option<String>,
    /// How the customer paid (`cash`, `card`, `invoice`), once chosen.
    payment_method: Option<String>,
    /// When the payment was received.
    paid_at: Option<Timestamp>,
    /// When the visit was signed off.
    completed_at: Option<Timestamp>,
    /// Oldest first. Present on `GET /v1/bookings/{id}` and after a change.
    #[serde(skip_serializing_if = "Option::is_none")]
    timeline: Option<Vec<TimelineEntry>>,
}

fn local_rfc3339(ms: i64, zone: &str) -> String {
    let tz = TimeZone::get(zone).unwrap_or(TimeZone::UTC);
    Timestamp::from_millisecond(ms).unwrap_or_default().to_zoned(tz).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

pub(crate) fn to_dto(b: bookings::BookingRow, viewer: &Caller, timeline: Option<Vec<bookings::EventRow>>) -> BookingDto {
    let viewer_id = viewer.id.to_string();
    let state: BookingState = b.state.parse().unwrap_or(BookingState::Requested);
    let is_customer = b.customer_id == viewer_id;
    let address_visible = viewer.role == Role::Operator || is_customer || (b.helper_id == viewer_id && state.address_revealed());
    let codes_visible = is_customer && !state.is_final();
    BookingDto {
        starts_at: local_rfc3339(b.starts_at, &b.time_zone),
        ends_at: local_rfc3339(b.ends_at, &b.time_zone),
        created_at: Timestamp::from_millisecond(b.created_at).unwrap_or_default(),
        address: address_visible.then_some(b.address),
        price: MoneyDto { amount_rappen: b.price_rappen, currency: "CHF" },
        price_breakdown: breakdown(&b.quote),
        policy_version: b.policy_version,
        extra_units: b.extra_units,
        start_code: codes_visible.then_some(b.start_code),
        signoff_code: (codes_visible && state == BookingState::OnSite).then_some(b.signoff_code),
        pending_extra_units: b.pending_extra_units,
        pending_start: b.pending_start.map(|ms| local_rfc3339(ms, &b.time_zone)),
        pending_by: b.pending_by,
        failure_cause: b.failure_cause,
        payment_method: b.payment_method,
        paid_at: b.paid_at.and_then(|ms| Timestamp::from_millisecond(ms).ok()),
        completed_at: b.completed_at.and_then(|ms| Timestamp::from_millisecond(ms).ok()),
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
        helper_id: Some(b.helper_id),
        time_zone: b.time_zone,
    }
}

/// An "any helper nearby" request that no helper has taken yet, as a booking in state `offered`
/// (or `expired` / `cancelled`). Helpers never see its address.
fn request_dto(r: quartier_store::requests::RequestRow, viewer: &Caller) -> BookingDto {
    let is_customer = r.customer_id == viewer.id.to_string() || viewer.role == Role::Operator;
    BookingDto {
        starts_at: local_rfc3339(r.starts_at, &r.time_zone),
        ends_at: local_rfc3339(r.starts_at + r.duration_minutes * 60_000, &r.time_zone),
        created_at: Timestamp::from_millisecond(r.created_at).unwrap_or_default(),
        address: is_customer.then_some(r.address),
        price: MoneyDto { amount_rappen: r.price_rappen, currency: "CHF" },
        price_breakdown: breakdown(&r.quote),
        policy_version: r.policy_version,
        extra_units: r.extra_units,
        start_code: None,
        signoff_code: None,
        pending_extra_units: None,
        pending_start: None,
        pending_by: None,
        failure_cause: None,
        payment_method: None,
        paid_at: None,
        completed_at: None,
        timeline: None,
        state: if r.state == "open" { "offered".into() } else { r.state },
        id: r.id,
        service: r.service_slug,
        service_name: r.service_name,
        customer_id: r.customer_id,
        helper_id: None,
        time_zone: r.time_zone,
    }
}

/// Book a chosen helper for a visit. The start must not overlap the helper's other bookings
/// (travel buffers included): the database refuses overlaps with 409 `slot_taken`.
#[utoipa::path(post, path = "/v1/bookings", tag = "bookings", request_body = BookingRequest, security(("bearer" = [])),
    responses((status = 201, body = BookingDto), (status = 403, body = Problem, description = "forbidden: not a customer"),
              (status = 409, body = Problem, description = "slot_taken, slot_unavailable"),
              (status = 429, body = Problem, description = "too_many_open_requests"),
              (status = 400, body = Problem, description = "unknown_service, helper_required, unknown_helper, helper_lacks_skill, start_too_soon, invalid_address")))]
async fn create_booking(
    State(app): State<AppState>,
    caller: Caller,
    held: Option<Extension<crate::idempotency::HeldKey>>,
    Body(req): Body<BookingRequest>,
) -> ApiResult<(StatusCode, Json<BookingDto>)> {
    caller.require(Role::Customer)?;
    {
        // Requests hold helpers' time: a customer keeps only a few waiting at once.
        let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
        let open = bookings::open_requests_of(&mut conn, &caller.id.to_string()).await?;
        let max = i64::from(app.config().max_open_requests);
        if open >= max {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_open_requests",
                format!("You have {open} requests waiting for an answer (at most {max}); wait for an answer or cancel one first."),
            )
            .with_retry_after(60));
        }
    }
    let address = req.address.trim();
    if !(5..=300).contains(&address.chars().count()) {
        return Err(ApiError::invalid("invalid_address", "Give the full address (street, number, postcode, town), 5 to 300 characters."));
    }
    let Some(helper_ref) = req.helper_id.as_deref() else {
        return create_request(&app, &caller, &req, address).await;
    };
    let helper_id: UserId = Some(helper_ref)
        .ok_or_else(|| ApiError::invalid("helper_required", "Choose a helper (`helper_id`); GET /v1/helpers?skill= lists them."))?
        .parse()
        .map_err(|_| ApiError::invalid("unknown_helper", "There is no helper with that id."))?;
    let cfg = app.config();
    let now = now_ms();
    let earliest = now + i64::from(cfg.min_notice_minutes) * 60_000;
    if req.start.as_millisecond() < earliest {
        return Err(ApiError::invalid(
            "start_too_soon",
            format!("A visit must start at least {} minutes from now.", cfg.min_notice_minutes),
        ));
    }

    let mut tx = app.store().begin().await?;
    let service = catalog::get(&mut tx, &req.service)
        .await?
        .ok_or_else(|| ApiError::invalid("unknown_service", format!("`{}` is not in the catalogue; see GET /v1/catalog.", req.service)))?;
    quartier_pricing::quote(&service, req.extra_units).map_err(|e| ApiError::invalid("invalid_extra_units", e.to_string()))?;
    let profile = helpers::get(&mut tx, &helper_id.to_string())
        .await?
        .ok_or_else(|| ApiError::invalid("unknown_helper", "There is no helper with that id."))?;
    let skill = Skill::parse(&service.skill)?;
    let skills: Vec<String> = serde_json::from_str(&profile.skills).unwrap_or_default();
    if !skills.iter().any(|s| s == skill.as_str()) {
        return Err(ApiError::invalid("helper_lacks_skill", format!("This helper does not offer `{}`.", service.skill)));
    }
    if quartier_store::catalog::is_preview(&mut tx, &service.slug).await? {
        let level = quartier_store::reputation::level(&mut tx, &profile.user_id).await?.map(|(l, ..)| l);
        if level.as_deref() != Some("super") {
            return Err(ApiError::conflict(
                "preview_super_helpers_only",
                format!(
                    "`{}` is a preview service: only super-helpers offer it for now. Choose a super-helper from the matches.",
                    service.name
                ),
            ));
        }
    }
    let customer =
        users::by_id(&mut tx, &caller.id.to_string()).await?.ok_or_else(|| ApiError::invalid_token("This account no longer exists."))?;

    let place = match (&req.location, &req.postcode) {
        (Some(c), _) => Some(quartier_domain::GeoPoint::new(c.lat, c.lon)?),
        (None, Some(pc)) => quartier_matching::postcodes::lookup(pc).map(|(_, p)| p),
        (None, None) => crate::money::place_of_address(address),
    };
    let zone = jiff::tz::TimeZone::get(&customer.time_zone).unwrap_or_else(|_| app.matcher_zone().clone());
    let quote = crate::money::quote_for(
        &app,
        &mut tx,
        crate::money::Visit {
            service: &service,
            extra_units: req.extra_units,
            helper: Some(&profile.user_id),
            place,
            start: req.start,
            zone: &zone,
        },
    )
    .await?;
    let policy = crate::money::current_policy(&mut tx).await?;
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
                req.start.checked_add(SignedDuration::from_mins(i64::from(quote.duration_minutes))).unwrap_or(req.start),
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
    let (before, after) =
        (minutes(schedule.as_ref().map(|s| s.buffer_before_minutes)), minutes(schedule.as_ref().map(|s| s.buffer_after_minutes)));
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
        extra_units: i64::from(quote.extra_units),
        start_code: process::visit_code(),
        signoff_code: process::visit_code(),
        pending_extra_units: None,
        pending_start: None,
        pending_by: None,
        failure_cause: None,
        quote: serde_json::to_string(&quote).map_err(ApiError::internal)?,
        policy_version: i64::from(policy.version),
        payment_method: None,
        paid_at: None,
        completed_at: None,
    };
    bookings::lock_helper(&mut tx, app.store().backend(), &row.helper_id).await?;
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
    process::queue_notices(&mut tx, &app, &row, quartier_booking::ON_REQUEST).await?;
    process::set_timers(&mut tx, &row, &[quartier_booking::Timer::RequestExpiry], now, &app).await?;
    availability::record_change(&mut tx, &row.helper_id, now).await?;
    let events = bookings::events(&mut tx, &row.id).await?;
    let (booking_id, helper_id) = (row.id.clone(), row.helper_id.clone());
    let dto = to_dto(row, &caller, Some(events));
    // With an Idempotency-Key, the answer commits with the booking: a retry after a crash between
    // the commit and the response gets this 201, never a second booking or a 409 for its own slot.
    if let Some(Extension(held)) = &held {
        held.store_in(&mut tx, StatusCode::CREATED, &serde_json::to_vec(&dto).map_err(ApiError::internal)?).await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    app.refresh_helper(&helper_id).await;
    app.wake_outbox();
    tracing::info!(booking.id = %booking_id, "booking requested");
    Ok((StatusCode::CREATED, Json(dto)))
}

async fn create_request(app: &AppState, caller: &Caller, req: &BookingRequest, address: &str) -> ApiResult<(StatusCode, Json<BookingDto>)> {
    let place = match (&req.location, &req.postcode) {
        (Some(c), None) => {
            quartier_domain::GeoPoint::new(c.lat, c.lon).map_err(|e| ApiError::invalid("invalid_coordinates", e.to_string()))?
        }
        (None, Some(pc)) => quartier_matching::postcodes::lookup(pc).map(|(_, p)| p).ok_or_else(|| {
            ApiError::invalid("unknown_postcode", format!("`{pc}` is not a postcode of the demo region; send `location` instead."))
        })?,
        _ => {
            return Err(ApiError::invalid(
                "place_required",
                "Choose a helper (`helper_id`), or give `location` {lat, lon} or `postcode` to ask any helper nearby.",
            ));
        }
    };
    if req.start.as_millisecond() < now_ms() + i64::from(app.config().min_notice_minutes) * 60_000 {
        return Err(ApiError::invalid(
            "start_too_soon",
            format!("A visit must start at least {} minutes from now.", app.config().min_notice_minutes),
        ));
    }
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let service = catalog::get(&mut conn, &req.service)
        .await?
        .ok_or_else(|| ApiError::invalid("unknown_service", format!("`{}` is not in the catalogue; see GET /v1/catalog.", req.service)))?;
    let customer =
        users::by_id(&mut conn, &caller.id.to_string()).await?.ok_or_else(|| ApiError::invalid_token("This account no longer exists."))?;
    let zone = jiff::tz::TimeZone::get(&customer.time_zone).unwrap_or_else(|_| app.matcher_zone().clone());
    // Nobody knows yet who will come: the travel fee is the typical 2-5 km one, locked now.
    let quote = crate::money::quote_for(
        app,
        &mut conn,
        crate::money::Visit {
            service: &service,
            extra_units: req.extra_units,
            helper: None,
            place: Some(place),
            start: req.start,
            zone: &zone,
        },
    )
    .await?;
    drop(conn);
    let row = crate::broadcast::create(
        app,
        &customer,
        crate::broadcast::Ask { service: &service, quote: &quote, address, place, start: req.start },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(request_dto(row, caller))))
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

async fn page(app: &AppState, caller: &Caller, party: Option<String>, state: Option<String>, q: &BookingQuery) -> ApiResult<BookingPage> {
    let limit = page_limit(q.limit)?;
    if let Some(s) = &state {
        s.parse::<BookingState>().map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))?;
    }
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let rows = bookings::list(&mut conn, party.as_deref(), state.as_deref(), q.cursor.as_deref(), limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let items: Vec<BookingDto> = rows.into_iter().take(limit as usize).map(|b| to_dto(b, caller, None)).collect();
    let next_cursor = if more { items.last().map(|b| b.id.clone()) } else { None };
    Ok(BookingPage { items, next_cursor })
}

/// The caller's bookings (an operator sees all).
#[utoipa::path(get, path = "/v1/bookings", tag = "bookings", params(BookingQuery), security(("bearer" = [])),
    responses((status = 200, body = BookingPage), (status = 401, body = Problem)))]
async fn list_bookings(State(app): State<AppState>, caller: Caller, Query(q): Query<BookingQuery>) -> ApiResult<Json<BookingPage>> {
    let party = (caller.role != Role::Operator).then(|| caller.id.to_string());
    let mut result = page(&app, &caller, party, q.state.clone(), &q).await?;
    if caller.role == Role::Customer && q.cursor.is_none() && q.state.as_deref().is_none_or(|s| s == "offered") {
        // Requests still being offered to helpers nearby come first.
        let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
        let open = quartier_store::requests::open_for_customer(&mut conn, &caller.id.to_string()).await?;
        let mut items: Vec<BookingDto> = open.into_iter().map(|r| request_dto(r, &caller)).collect();
        items.append(&mut result.items);
        result.items = items;
    }
    Ok(Json(result))
}

/// Requests waiting for the signed-in helper's answer.
#[utoipa::path(get, path = "/v1/offers", tag = "bookings", params(BookingQuery), security(("bearer" = [])),
    responses((status = 200, body = BookingPage), (status = 403, body = Problem)))]
async fn list_offers(State(app): State<AppState>, caller: Caller, Query(q): Query<BookingQuery>) -> ApiResult<Json<BookingPage>> {
    caller.require(Role::Helper)?;
    let state = Some(BookingState::Requested.as_str().to_owned());
    let mut result = page(&app, &caller, Some(caller.id.to_string()), state, &q).await?;
    if q.cursor.is_none() {
        // Open offers of "any helper nearby" requests: the first helper to accept gets the job.
        let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
        let offers = quartier_store::requests::open_offers_for(&mut conn, &caller.id.to_string(), now_ms()).await?;
        let mut items: Vec<BookingDto> = offers.into_iter().map(|r| request_dto(r, &caller)).collect();
        items.append(&mut result.items);
        result.items = items;
    }
    Ok(Json(result))
}

/// The booking if the caller may see it; otherwise 404 (not 403: others' bookings do not exist
/// for them).
pub(crate) async fn visible(conn: &mut quartier_store::Conn, caller: &Caller, id: &str) -> ApiResult<(bookings::BookingRow, Actor)> {
    let id: BookingId = id.parse().map_err(|_| ApiError::not_found("booking"))?;
    let b = bookings::get(conn, &id.to_string()).await?.ok_or_else(|| ApiError::not_found("booking"))?;
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
async fn get_booking(State(app): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<BookingDto>> {
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let (b, actor) = match visible(&mut conn, &caller, &id).await {
        Ok(found) => found,
        Err(e) if e.status() == StatusCode::NOT_FOUND => {
            return Ok(Json(visible_request(&mut conn, &caller, &id).await?));
        }
        Err(e) => return Err(e),
    };
    drop(conn);
    let revealed = actor == Actor::Helper && b.state.parse::<BookingState>().is_ok_and(BookingState::address_revealed);
    if revealed {
        // Every time the helper is shown the customer's address, the timeline says so.
        let mut tx = app.store().begin().await?;
        bookings::insert_event(
            &mut tx,
            &bookings::EventRow {
                id: UserId::new().to_string(),
                booking_id: b.id.clone(),
                at: now_ms(),
                actor_id: Some(caller.id.to_string()),
                actor_role: Actor::Helper.as_str().into(),
                action: "address_revealed".into(),
                from_state: Some(b.state.clone()),
                to_state: b.state.clone(),
                note: None,
            },
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
    }
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let events = bookings::events(&mut conn, &b.id).await?;
    Ok(Json(to_dto(b, &caller, Some(events))))
}

/// A request not yet taken, if the caller asked for it or was offered it.
async fn visible_request(conn: &mut quartier_store::Conn, caller: &Caller, id: &str) -> ApiResult<BookingDto> {
    let r = quartier_store::requests::get(conn, id).await?.ok_or_else(|| ApiError::not_found("booking"))?;
    let me = caller.id.to_string();
    let allowed = caller.role == Role::Operator
        || r.customer_id == me
        || (caller.role == Role::Helper && quartier_store::requests::offered_helpers(conn, id).await?.contains(&me));
    if !allowed {
        return Err(ApiError::not_found("booking"));
    }
    if r.state == "taken" {
        // A helper who was offered it, but another helper was first.
        return Err(ApiError::conflict("already_taken", "Another helper took this request first."));
    }
    Ok(request_dto(r, caller))
}

/// A step in the booking's process.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    /// `accept`, `decline`, `cancel`, `confirm`, `en_route`, `arrive` (with `code`: the start code),
    /// `propose_change` (with `extra_units`), `approve_change`, `reject_change`, `complete` (with
    /// `code`: the customer's sign-off code), `report_failed` (with `cause`), `mark_no_show`,
    /// `reschedule` (with `start`), `accept_reschedule`, `decline_reschedule`; operators also
    /// `reassign` (with `helper_id`). Operators always give a `reason`.
    action: String,
    /// Why (kept in the timeline), up to 500 characters.
    #[serde(default)]
    reason: Option<String>,
    /// The start code (`arrive`) or the sign-off code (`complete`).
    #[serde(default)]
    code: Option<String>,
    /// `line_not_active`, `device_faulty`, `material_missing`, `customer_not_there` or `other`.
    #[serde(default)]
    cause: Option<String>,
    /// Extra 30-minute units for `propose_change`.
    #[serde(default)]
    extra_units: Option<u32>,
    /// The proposed new start for `reschedule`, RFC 3339.
    #[serde(default)]
    start: Option<Timestamp>,
    /// The helper who takes the visit over, for `reassign` (operators only, with a `reason`).
    #[serde(default)]
    helper_id: Option<String>,
}

/// Move a booking along its process. A step not possible in the current state is 409
/// `invalid_transition`; a wrong code or a missing condition is 409 with its own code; a party
/// who may see the booking but not take this step gets 403 `not_allowed`; anyone else 404.
#[utoipa::path(post, path = "/v1/bookings/{id}/transitions", tag = "bookings", request_body = TransitionRequest,
    params(("id" = String, Path, description = "Booking id")), security(("bearer" = [])),
    responses((status = 200, body = BookingDto), (status = 403, body = Problem, description = "not_allowed"),
              (status = 404, body = Problem),
              (status = 409, body = Problem, description = "invalid_transition, slot_taken, wrong_start_code, wrong_signoff_code, no_change_pending, no_reschedule_pending, too_early_for_no_show")))]
async fn transition(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(req): Body<TransitionRequest>,
) -> ApiResult<Json<BookingDto>> {
    let action: Action =
        req.action.parse().map_err(|e: quartier_booking::BookingError| ApiError::invalid("unknown_action", e.to_string()))?;
    if req.reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
        return Err(ApiError::invalid("reason_too_long", "A reason can have at most 500 characters."));
    }
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let (b, actor) = match visible(&mut conn, &caller, &id).await {
        Ok(found) => found,
        Err(e) if e.status() == StatusCode::NOT_FOUND => {
            // Not a booking (yet): perhaps a request offered to helpers nearby.
            let current = visible_request(&mut conn, &caller, &id).await?;
            drop(conn);
            let me = caller.id.to_string();
            return match (caller.role, action) {
                (Role::Helper, Action::Accept) => {
                    let booking = crate::broadcast::accept(&app, &id, &me).await?;
                    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
                    let events = bookings::events(&mut conn, &booking.id).await?;
                    Ok(Json(to_dto(booking, &caller, Some(events))))
                }
                (Role::Helper, Action::Decline) => {
                    crate::broadcast::decline(&app, &id, &me).await?;
                    Ok(Json(current))
                }
                (Role::Customer | Role::Operator, Action::Cancel) => {
                    crate::broadcast::cancel(&app, &id).await?;
                    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
                    Ok(Json(visible_request(&mut conn, &caller, &id).await?))
                }
                _ => Err(ApiError::conflict(
                    "invalid_transition",
                    format!("`{}` is not possible while the request is offered to helpers.", action.as_str()),
                )),
            };
        }
        Err(e) => return Err(e),
    };
    drop(conn);
    let who = process::Who { actor, id: Some(caller.id.to_string()) };
    let input = process::Input {
        reason: req.reason,
        code: req.code,
        cause: req.cause,
        extra_units: req.extra_units,
        start: req.start,
        helper_id: req.helper_id,
    };
    let updated = process::apply(&app, &b.id, &who, action, &input).await?;
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let events = bookings::events(&mut conn, &updated.id).await?;
    tracing::info!(booking.id = %updated.id, action = action.as_str(), to = %updated.state, "booking moved");
    Ok(Json(to_dto(updated, &caller, Some(events))))
}
