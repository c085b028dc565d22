//! Operators' KPIs, coverage map, booking list and audit log.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use quartier_store::{StoreError, insights};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Operator, Query};
use crate::insights::{Coverage, Dashboard, Demand};
use crate::routes::catalog::MoneyDto;
use crate::routes::helpers::page_limit;
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(metrics))
        .routes(routes!(coverage))
        .routes(routes!(coverage_svg))
        .routes(routes!(list_bookings))
        .routes(routes!(audit))
}

/// The period of the figures.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    /// Weeks back from now, 1 to 52 (default 8), starting on a Monday in Zurich.
    weeks: Option<u32>,
}

fn period(app: &AppState, weeks: Option<u32>) -> ApiResult<(Timestamp, Timestamp)> {
    let weeks = weeks.unwrap_or(8);
    if !(1..=52).contains(&weeks) {
        return Err(ApiError::bad_request("invalid_query", "`weeks` is 1 to 52."));
    }
    let to = Timestamp::now();
    let back = to.checked_sub(SignedDuration::from_hours(24 * 7 * i64::from(weeks - 1))).map_err(ApiError::internal)?;
    let zone = app.matcher_zone();
    let z = back.to_zoned(zone.clone());
    let monday = z
        .date()
        .checked_sub(jiff::Span::new().days(i64::from(z.weekday().to_monday_zero_offset())))
        .and_then(|d| d.to_zoned(zone.clone()))
        .map_err(ApiError::internal)?;
    Ok((monday.timestamp(), to))
}

async fn demand(app: &AppState, from: Timestamp, to: Timestamp) -> ApiResult<Vec<Demand>> {
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let rows = insights::demand(&mut conn, from.as_millisecond(), to.as_millisecond()).await?;
    Ok(rows
        .into_iter()
        .map(|r| Demand {
            created_at: r.created_at,
            place: match (r.lat, r.lon) {
                (Some(lat), Some(lon)) => quartier_domain::GeoPoint::new(lat, lon).ok(),
                _ => crate::money::place_of_address(&r.address),
            },
            accepted_at: r.accepted_at,
            state: r.state,
            rating: r.rating.and_then(|x| u8::try_from(x).ok()),
            disputed: r.disputed > 0,
        })
        .collect())
}

/// KPIs (operators): time from request to acceptance (shares within 15 minutes, 1 and 2 hours,
/// the median), fill rate, completion, cancellations, no-shows, disputes and ratings, overall,
/// per ISO week (Zurich) and per neighbourhood (H3 resolution 7). Definitions in
/// docs/ARCHITECTURE.md.
#[utoipa::path(get, path = "/v1/ops/metrics", tag = "ops", params(PeriodQuery), security(("bearer" = [])),
    responses((status = 200, body = Dashboard), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn metrics(State(app): State<AppState>, _: Operator, Query(q): Query<PeriodQuery>) -> ApiResult<Json<Dashboard>> {
    let (from, to) = period(&app, q.weeks)?;
    let items = demand(&app, from, to).await?;
    Ok(Json(crate::insights::dashboard(&items, from, to, app.matcher_zone())))
}

async fn coverage_of(app: &AppState, weeks: Option<u32>) -> ApiResult<Coverage> {
    let (from, to) = period(app, weeks)?;
    let items = demand(app, from, to).await?;
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let approved: std::collections::HashSet<String> = quartier_store::vetting::approved_ids(&mut conn).await?.into_iter().collect();
    let mut areas = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = quartier_store::helpers::list(&mut conn, None, cursor.as_deref(), 1000).await?;
        let done = page.len() < 1000;
        cursor = page.last().map(|p| p.user_id.clone());
        for p in page.into_iter().filter(|p| approved.contains(&p.user_id)) {
            if let Ok(home) = quartier_domain::GeoPoint::new(p.home_lat, p.home_lon) {
                areas.push(quartier_matching::search::service_area(home, u8::try_from(p.travel_radius_km).unwrap_or(1)));
            }
        }
        if done {
            break;
        }
    }
    Ok(crate::insights::coverage(&areas, &items, from, to))
}

/// Coverage per neighbourhood (operators): approved helpers reaching each H3 resolution-7 cell,
/// requests made there and those no helper took; cells with unfilled requests first.
#[utoipa::path(get, path = "/v1/ops/coverage", tag = "ops", params(PeriodQuery), security(("bearer" = [])),
    responses((status = 200, body = Coverage), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn coverage(State(app): State<AppState>, _: Operator, Query(q): Query<PeriodQuery>) -> ApiResult<Json<Coverage>> {
    Ok(Json(coverage_of(&app, q.weeks).await?))
}

/// The coverage as an SVG map (operators), drawn from the H3 cells themselves: no map tiles.
#[utoipa::path(get, path = "/v1/ops/coverage.svg", tag = "ops", params(PeriodQuery), security(("bearer" = [])),
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn coverage_svg(State(app): State<AppState>, _: Operator, Query(q): Query<PeriodQuery>) -> ApiResult<Response> {
    let c = coverage_of(&app, q.weeks).await?;
    Ok((
        [(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"), (header::CACHE_CONTROL, "private, no-store")],
        crate::insights::coverage_svg(&c),
    )
        .into_response())
}

/// Filter of the operators' booking list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct BookingsQuery {
    /// Only bookings in this state.
    state: Option<String>,
    /// 1 to 100 (default 20).
    limit: Option<u32>,
    /// From `next_cursor`.
    cursor: Option<String>,
}

/// A booking line for operators.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpsBooking {
    id: String,
    state: String,
    service: String,
    customer_id: String,
    customer_name: String,
    helper_id: String,
    helper_name: String,
    starts_at: Timestamp,
    price: MoneyDto,
    created_at: Timestamp,
}

/// A page of bookings.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpsBookingPage {
    items: Vec<OpsBooking>,
    next_cursor: Option<String>,
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or_default()
}

/// Every booking, latest start first (operators), to find one and act on it: cancel, complete
/// or reassign through `POST /v1/bookings/{id}/transitions` with a reason.
#[utoipa::path(get, path = "/v1/ops/bookings", tag = "ops", params(BookingsQuery), security(("bearer" = [])),
    responses((status = 200, body = OpsBookingPage), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_bookings(State(app): State<AppState>, _: Operator, Query(q): Query<BookingsQuery>) -> ApiResult<Json<OpsBookingPage>> {
    let limit = page_limit(q.limit)?;
    if let Some(s) = &q.state
        && s.parse::<quartier_booking::State>().is_err()
    {
        return Err(ApiError::bad_request("invalid_query", "Unknown `state`."));
    }
    let before = match q.cursor.as_deref() {
        None => None,
        Some(c) => {
            let (at, id) = c.split_once('_').ok_or_else(|| ApiError::bad_request("invalid_query", "Unknown cursor."))?;
            Some((at.parse::<i64>().map_err(|_| ApiError::bad_request("invalid_query", "Unknown cursor."))?, id.to_owned()))
        }
    };
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let rows = insights::bookings(&mut conn, q.state.as_deref(), before, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let items: Vec<OpsBooking> = rows
        .into_iter()
        .take(limit as usize)
        .map(|r| OpsBooking {
            id: r.id,
            state: r.state,
            service: r.service_name,
            customer_id: r.customer_id,
            customer_name: r.customer_name,
            helper_id: r.helper_id,
            helper_name: r.helper_name,
            starts_at: ts(r.starts_at),
            price: MoneyDto { amount_rappen: r.price_rappen, currency: "CHF" },
            created_at: ts(r.created_at),
        })
        .collect();
    let next_cursor = if more { items.last().map(|b| format!("{}_{}", b.starts_at.as_millisecond(), b.id)) } else { None };
    Ok(Json(OpsBookingPage { items, next_cursor }))
}

/// Paging of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// 1 to 100 (default 20).
    limit: Option<u32>,
    /// From `next_cursor`.
    cursor: Option<String>,
}

/// An audit entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    at: Timestamp,
    /// The operator's name.
    operator: String,
    operator_id: String,
    /// e.g. helper.approve, booking.reassign, dispute.resolve.
    action: String,
    /// The helper, booking or dispute acted on.
    subject: String,
    reason: String,
}

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    items: Vec<AuditEntry>,
    next_cursor: Option<String>,
}

/// Every operator action, newest first (operators): who, when, what and why.
#[utoipa::path(get, path = "/v1/ops/audit", tag = "ops", params(AuditQuery), security(("bearer" = [])),
    responses((status = 200, body = AuditPage), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn audit(State(app): State<AppState>, _: Operator, Query(q): Query<AuditQuery>) -> ApiResult<Json<AuditPage>> {
    let limit = page_limit(q.limit)?;
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let rows = insights::audit(&mut conn, q.cursor.as_deref(), limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let rows: Vec<_> = rows.into_iter().take(limit as usize).collect();
    let next_cursor = if more { rows.last().map(|r| r.id.clone()) } else { None };
    let items = rows
        .into_iter()
        .map(|r| AuditEntry {
            at: ts(r.at),
            operator: r.operator_name,
            operator_id: r.operator_id,
            action: r.action,
            subject: r.subject_id,
            reason: r.reason,
        })
        .collect();
    Ok(Json(AuditPage { items, next_cursor }))
}
