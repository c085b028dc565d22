//! The in-app feed and the live stream (server-sent events) that pushes new offers and booking
//! changes to helpers' phones within a second and resumes after a reconnect (`Last-Event-ID`).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use jiff::Timestamp;
use quartier_store::{StoreError, feed};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Body, Caller, Query};
use crate::routes::helpers::page_limit;
use crate::state::{AppState, now_ms};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(mark_read)).routes(routes!(stream))
}

/// One notice.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NotificationDto {
    /// Sequence number; also the stream's event id.
    id: i64,
    /// e.g. `booking_requested`, `booking_accepted`.
    kind: String,
    booking_id: Option<String>,
    title: String,
    body: String,
    at: Timestamp,
    read: bool,
}

fn dto(r: feed::FeedRow) -> NotificationDto {
    NotificationDto {
        at: Timestamp::from_millisecond(r.created_at).unwrap_or_default(),
        read: r.read_at.is_some(),
        id: r.seq,
        kind: r.kind,
        booking_id: r.booking_id,
        title: r.title,
        body: r.body,
    }
}

/// Filters and paging.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// Only unread notices.
    unread: Option<bool>,
    /// 1 to 100 (default 20).
    limit: Option<u32>,
    /// From a previous page's `next_cursor`.
    cursor: Option<String>,
}

/// A page of the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedPage {
    items: Vec<NotificationDto>,
    next_cursor: Option<String>,
    unread_count: i64,
}

/// The caller's notices, newest first.
#[utoipa::path(get, path = "/v1/notifications", tag = "notifications", params(FeedQuery), security(("bearer" = [])),
    responses((status = 200, body = FeedPage), (status = 401, body = Problem)))]
async fn list(State(app): State<AppState>, caller: Caller, Query(q): Query<FeedQuery>) -> ApiResult<Json<FeedPage>> {
    let limit = page_limit(q.limit)?;
    let before =
        q.cursor.as_deref().map(str::parse::<i64>).transpose().map_err(|_| ApiError::bad_request("invalid_query", "Unknown cursor."))?;
    let me = caller.id.to_string();
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let rows = feed::page(&mut conn, &me, q.unread.unwrap_or(false), before, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let items: Vec<NotificationDto> = rows.into_iter().take(limit as usize).map(dto).collect();
    let next_cursor = if more { items.last().map(|n| n.id.to_string()) } else { None };
    Ok(Json(FeedPage { items, next_cursor, unread_count: feed::unread(&mut conn, &me).await? }))
}

/// Which notices to mark read.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadRequest {
    /// Notice ids; empty marks every notice read.
    #[serde(default)]
    ids: Vec<i64>,
}

/// How many notices changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadResult {
    marked: u64,
    unread_count: i64,
}

/// Mark notices read.
#[utoipa::path(post, path = "/v1/notifications/read", tag = "notifications", request_body = ReadRequest, security(("bearer" = [])),
    responses((status = 200, body = ReadResult), (status = 401, body = Problem)))]
async fn mark_read(State(app): State<AppState>, caller: Caller, Body(req): Body<ReadRequest>) -> ApiResult<Json<ReadResult>> {
    if req.ids.len() > 500 {
        return Err(ApiError::invalid("too_many_ids", "Mark at most 500 notices at once, or send no ids to mark all."));
    }
    let me = caller.id.to_string();
    let mut tx = app.store().begin().await?;
    let marked = feed::mark_read(&mut tx, &me, &req.ids, now_ms()).await?;
    let unread_count = feed::unread(&mut tx, &me).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(ReadResult { marked, unread_count }))
}

/// Authentication and resume point for the stream.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// For browsers' EventSource, which cannot send headers: the access token.
    access_token: Option<String>,
    /// Resume after this event id (the `Last-Event-ID` header wins).
    last_event_id: Option<i64>,
}

struct Cursor {
    app: AppState,
    user: String,
    last: i64,
    queue: VecDeque<feed::FeedRow>,
    changes: tokio::sync::watch::Receiver<u64>,
    closing: tokio::sync::watch::Receiver<bool>,
}

/// Live notices as server-sent events (`event: notification`, `id` = notice id, `data` = the
/// notice as JSON). New notices arrive within a second, also those written by other replicas.
/// Reconnect with `Last-Event-ID` to receive what was missed; without it the stream starts now.
#[utoipa::path(get, path = "/v1/stream", tag = "notifications", params(StreamQuery), security(("bearer" = [])),
    responses((status = 200, content_type = "text/event-stream", body = String), (status = 401, body = Problem)))]
async fn stream(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::to_owned)
        .or(q.access_token)
        .ok_or_else(ApiError::unauthenticated)?;
    let caller = app.tokens().verify_access(bearer.trim())?;
    let user = caller.id.to_string();
    {
        // As on every signed-in request: an erased account's token opens nothing.
        let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
        if !quartier_store::account::is_active(&mut conn, &user).await? {
            return Err(ApiError::invalid_token("This account no longer exists; sign in with another one."));
        }
    }
    let resume = headers.get("last-event-id").and_then(|h| h.to_str().ok()).and_then(|s| s.trim().parse::<i64>().ok()).or(q.last_event_id);
    let last = match resume {
        Some(id) => id,
        None => {
            let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
            feed::latest(&mut conn, &user).await?
        }
    };
    let changes = app.feed_changes();
    let closing = app.closing();
    let cursor = Cursor { app, user, last, queue: VecDeque::new(), changes, closing };
    let events = futures::stream::unfold(cursor, |mut c| async move {
        loop {
            if *c.closing.borrow() {
                return None;
            }
            if let Some(row) = c.queue.pop_front() {
                c.last = row.seq;
                let id = row.seq.to_string();
                let data = serde_json::to_string(&dto(row)).unwrap_or_default();
                return Some((Ok(Event::default().event("notification").id(id).data(data)), c));
            }
            let fetched = match c.app.store().pool().acquire().await {
                Ok(mut conn) => feed::after(&mut conn, &c.user, c.last, 100).await.ok(),
                Err(_) => None,
            };
            match fetched {
                Some(rows) if !rows.is_empty() => c.queue.extend(rows),
                _ => {
                    // Woken at once by commits in this process; other replicas' writes are found
                    // by the poll within a second.
                    let woken = tokio::select! {
                        r = tokio::time::timeout(Duration::from_millis(800), c.changes.changed()) => r.map(|r| r.is_ok()).unwrap_or(true),
                        _ = c.closing.changed() => true,
                    };
                    if !woken {
                        tokio::time::sleep(Duration::from_millis(800)).await;
                    }
                }
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
