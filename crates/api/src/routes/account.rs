//! A person's own data (export, erasure) and the helper's calendar feed.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use quartier_booking::State as BookingState;
use quartier_domain::Role;
use quartier_store::{StoreError, account, bookings, users};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Body, Caller, Query};
use crate::state::{AppState, now_ms};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export)).routes(routes!(calendar_link)).routes(routes!(calendar_feed))
}

/// Everything Quartier stores about you, table by table (secrets such as password hashes left
/// out), as a JSON download.
#[utoipa::path(get, path = "/v1/me/export", tag = "auth", security(("bearer" = [])),
    responses((status = 200, content_type = "application/json", body = Object), (status = 401, body = Problem)))]
async fn export(State(app): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let me = caller.id.to_string();
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let mut tables = account::export(&mut conn, app.store().backend(), &me).await?;
    // A helper's copy of a booking is what the booking page shows them: never the customer's
    // codes, and the address only once it is theirs to see.
    if let Some(rows) = tables.get_mut("bookings") {
        for row in rows.iter_mut().filter(|r| r.get("helper_id").and_then(|v| v.as_deref()) == Some(me.as_str())) {
            if row.get("customer_id").and_then(|v| v.as_deref()) == Some(me.as_str()) {
                continue;
            }
            row.remove("start_code");
            row.remove("signoff_code");
            let revealed = row
                .get("state")
                .and_then(|v| v.as_deref())
                .and_then(|s| s.parse::<BookingState>().ok())
                .is_some_and(BookingState::address_revealed);
            if !revealed {
                row.insert("address".to_owned(), None);
            }
        }
    }
    let body = serde_json::json!({ "exported_at": Timestamp::now(), "user_id": me, "tables": tables });
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"quartier-my-data.json\"".to_owned()),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        serde_json::to_string_pretty(&body).map_err(ApiError::internal)?,
    )
        .into_response())
}

/// Confirming an erasure.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseRequest {
    /// Your password, to confirm.
    password: String,
}

/// Erase your account: your name, e-mail, profile, schedule, application, bank details, messages
/// and every mention of you in others' records are removed; visits keep only ids and amounts for
/// the accounts the law requires. Refused while a visit or request is in progress or a dispute
/// is open. Your sessions end.
#[utoipa::path(delete, path = "/v1/me", tag = "auth", request_body = EraseRequest, security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem, description = "wrong_password"),
              (status = 409, body = Problem, description = "active_bookings, open_dispute")))]
pub(crate) async fn erase_me(State(app): State<AppState>, caller: Caller, Body(req): Body<EraseRequest>) -> ApiResult<StatusCode> {
    let me = caller.id.to_string();
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let user = users::by_id(&mut conn, &me).await?.ok_or_else(|| ApiError::invalid_token("This account no longer exists."))?;
    drop(conn);
    if !app.passwords().verify(req.password, Some(user.password_hash)).await? {
        return Err(ApiError::forbidden("The password is not right; erasure needs your current password.").with_code("wrong_password"));
    }
    let mut tx = app.store().begin().await?;
    match account::erase(&mut tx, &me, now_ms()).await? {
        Ok(()) => {}
        Err(account::EraseBlock::ActiveBookings) => {
            return Err(ApiError::conflict(
                "active_bookings",
                "You have visits or requests in progress; cancel or finish them first, then erase your account.",
            ));
        }
        Err(account::EraseBlock::OpenDispute) => {
            return Err(ApiError::conflict("open_dispute", "A dispute about one of your visits is open; it must be decided first."));
        }
    }
    quartier_store::availability::record_change(&mut tx, &me, now_ms()).await?;
    tx.commit().await.map_err(StoreError::from)?;
    if user.role == "helper" {
        app.refresh_helper(&me).await;
    }
    tracing::info!(user.id = %me, "account erased");
    Ok(StatusCode::NO_CONTENT)
}

/// Where a calendar app subscribes to your jobs.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarLink {
    /// A private address (valid a year): whoever has it sees your jobs and their addresses.
    url: String,
    /// When the address stops working.
    expires_at: Timestamp,
}

const CALENDAR_DAYS: u64 = 365;

/// Your private calendar address (helpers): subscribe to it in any calendar app.
#[utoipa::path(get, path = "/v1/helper/calendar", tag = "helpers", security(("bearer" = [])),
    responses((status = 200, body = CalendarLink), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn calendar_link(State(app): State<AppState>, caller: Caller) -> ApiResult<Json<CalendarLink>> {
    caller.require(Role::Helper)?;
    let valid = Duration::from_secs(CALENDAR_DAYS * 86_400);
    let token = app.tokens().sign_link(&caller.id.to_string(), "", "calendar", valid)?;
    let base = app.config().public_url.trim_end_matches('/').to_owned();
    let expires_at = Timestamp::now().checked_add(jiff::SignedDuration::from_secs(valid.as_secs() as i64)).map_err(ApiError::internal)?;
    Ok(Json(CalendarLink { url: format!("{base}/v1/helper/calendar.ics?token={token}"), expires_at }))
}

/// The calendar token.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CalendarQuery {
    /// From `GET /v1/helper/calendar`.
    token: String,
}

fn ics_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace(';', "\\;").replace(',', "\\,").replace('\n', "\\n").replace('\r', "")
}

fn ics_time(ms: i64) -> String {
    Timestamp::from_millisecond(ms).unwrap_or_default().strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// Your accepted jobs as an iCalendar feed (the token in the address is the key; no sign-in).
#[utoipa::path(get, path = "/v1/helper/calendar.ics", tag = "helpers", params(CalendarQuery),
    responses((status = 200, content_type = "text/calendar", body = String), (status = 401, body = Problem)))]
async fn calendar_feed(State(app): State<AppState>, Query(q): Query<CalendarQuery>) -> ApiResult<Response> {
    let link = app.tokens().verify_link(&q.token)?;
    if link.action != "calendar" {
        return Err(ApiError::invalid_token("This is not a calendar address.").with_code("invalid_link"));
    }
    let me = link.user.to_string();
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let user = users::by_id(&mut conn, &me).await?.filter(|u| u.role == "helper" && u.password_hash != account::ERASED);
    let approved = quartier_store::vetting::is_approved(&mut conn, &me).await?;
    let (Some(user), true) = (user, approved) else {
        return Err(ApiError::invalid_token("This calendar address no longer works.").with_code("invalid_link"));
    };
    let since = now_ms() - 30 * 86_400_000;
    let jobs = bookings::of_helper_since(&mut conn, &me, since).await?;
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//Quartier//Helper jobs//EN".to_owned(),
        "CALSCALE:GREGORIAN".to_owned(),
        format!("X-WR-CALNAME:{}", ics_escape(&format!("Quartier – {}", user.name))),
    ];
    let stamp = ics_time(now_ms());
    for b in jobs {
        let Ok(state) = b.state.parse::<BookingState>() else { continue };
        if !state.address_revealed() && state != BookingState::Done {
            continue;
        }
        lines.extend([
            "BEGIN:VEVENT".to_owned(),
            format!("UID:{}@quartier", b.id),
            format!("DTSTAMP:{stamp}"),
            format!("DTSTART:{}", ics_time(b.starts_at)),
            format!("DTEND:{}", ics_time(b.ends_at)),
            format!("SUMMARY:{}", ics_escape(&b.service_name)),
            format!("LOCATION:{}", ics_escape(&b.address)),
            format!("STATUS:{}", if state.is_final() && state != BookingState::Done { "CANCELLED" } else { "CONFIRMED" }),
            format!("URL:{}/helper.html#job/{}", app.config().public_url.trim_end_matches('/'), b.id),
            "END:VEVENT".to_owned(),
        ]);
    }
    lines.push("END:VCALENDAR".to_owned());
    Ok((
        [(header::CONTENT_TYPE, "text/calendar; charset=utf-8"), (header::CACHE_CONTROL, "private, max-age=300")],
        lines.join("\r\n") + "\r\n",
    )
        .into_response())
}
