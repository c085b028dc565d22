//! The outbox for operators: how many messages wait, are being sent, went out or are dead, a page
//! of them, and putting a dead-lettered message back in the queue.
//!
//! Recipients' addresses are masked (`a***@example.ch`), in the error texts too: operators see
//! that and why a message failed, not whom it was for.

use axum::Json;
use axum::extract::{Path, State};
use jiff::Timestamp;
use quartier_store::{StoreError, outbox};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Operator, Query};
use crate::routes::helpers::page_limit;
use crate::state::{AppState, now_ms};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_outbox)).routes(routes!(retry_message))
}

const STATES: [&str; 4] = ["pending", "sending", "sent", "dead"];

/// Filters and paging for the outbox.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    /// Only messages in this state: `pending`, `sending`, `sent` or `dead`.
    state: Option<String>,
    /// Page size, 1 to 100 (default 20).
    limit: Option<u32>,
    /// From a previous page's `next_cursor`.
    cursor: Option<String>,
}

/// Messages per state (all four always present).
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct OutboxCounts {
    /// Waiting for their first or next try.
    pending: i64,
    /// Claimed by a worker right now.
    sending: i64,
    /// Delivered to the mail server.
    sent: i64,
    /// Given up on: permanent failures, or still failing after the give-up time.
    dead: i64,
}

/// One message, for operators.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxMessageDto {
    /// Also the stable part of the e-mail's `Message-ID`.
    id: String,
    /// `pending`, `sending`, `sent` or `dead`.
    state: String,
    /// The notice, e.g. `booking_requested`.
    template: String,
    /// The recipient's address, masked: `a***@example.ch`.
    recipient: String,
    /// Tries so far.
    attempts: i64,
    /// Why the last try failed (addresses masked).
    last_error: Option<String>,
    /// When it is (or was) due next.
    next_attempt_at: Timestamp,
    /// When it was queued.
    created_at: Timestamp,
}

/// Counts by state and a page of messages, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxPage {
    counts: OutboxCounts,
    items: Vec<OutboxMessageDto>,
    next_cursor: Option<String>,
}

fn to_dto(r: outbox::OutboxRow) -> OutboxMessageDto {
    OutboxMessageDto {
        recipient: mask_email(&r.recipient_email),
        last_error: r.last_error.as_deref().map(mask_emails_in),
        next_attempt_at: Timestamp::from_millisecond(r.next_attempt_at).unwrap_or_default(),
        created_at: Timestamp::from_millisecond(r.created_at).unwrap_or_default(),
        id: r.id,
        state: r.state,
        template: r.template,
        attempts: r.attempts,
    }
}

/// The outbox (operators): counts by state and a page of messages, newest first.
#[utoipa::path(get, path = "/v1/ops/outbox", tag = "ops", params(OutboxQuery), security(("bearer" = [])),
    responses((status = 200, body = OutboxPage), (status = 400, body = Problem, description = "invalid_query"),
        (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_outbox(State(app): State<AppState>, _: Operator, Query(q): Query<OutboxQuery>) -> ApiResult<Json<OutboxPage>> {
    let limit = page_limit(q.limit)?;
    if let Some(s) = &q.state
        && !STATES.contains(&s.as_str())
    {
        return Err(ApiError::bad_request("invalid_query", "`state` is one of pending, sending, sent, dead."));
    }
    let cursor = match &q.cursor {
        Some(c) => Some(
            uuid::Uuid::parse_str(c)
                .map_err(|_| ApiError::bad_request("invalid_query", "`cursor` comes from a previous page's `next_cursor`."))?
                .to_string(),
        ),
        None => None,
    };
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let mut counts = OutboxCounts::default();
    for (state, n) in outbox::counts(&mut conn).await? {
        match state.as_str() {
            "pending" => counts.pending = n,
            "sending" => counts.sending = n,
            "sent" => counts.sent = n,
            "dead" => counts.dead = n,
            _ => {}
        }
    }
    let rows = outbox::list(&mut conn, q.state.as_deref(), cursor.as_deref(), limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let items: Vec<OutboxMessageDto> = rows.into_iter().take(limit as usize).map(to_dto).collect();
    let next_cursor = if more { items.last().map(|m| m.id.clone()) } else { None };
    Ok(Json(OutboxPage { counts, items, next_cursor }))
}

/// Put a dead-lettered message back in the queue (operators): attempts start again from zero and
/// it is due at once.
#[utoipa::path(post, path = "/v1/ops/outbox/{id}/retry", tag = "ops", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = OutboxMessageDto), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "not_dead: only dead-lettered messages are retried")))]
async fn retry_message(
    State(app): State<AppState>,
    Operator(caller): Operator,
    Path(id): Path<String>,
) -> ApiResult<Json<OutboxMessageDto>> {
    let id = uuid::Uuid::parse_str(&id).map_err(|_| ApiError::not_found("message"))?.to_string();
    let mut tx = app.store().begin().await?;
    let before = outbox::get(&mut tx, &id).await?.ok_or_else(|| ApiError::not_found("message"))?;
    if !outbox::retry_dead(&mut tx, &id, now_ms()).await? {
        return Err(ApiError::conflict(
            "not_dead",
            format!("The message is {}; only dead-lettered messages can be retried.", before.state),
        ));
    }
    let after = outbox::get(&mut tx, &id).await?.ok_or_else(|| ApiError::not_found("message"))?;
    tx.commit().await.map_err(StoreError::from)?;
    app.wake_outbox();
    // The audit table comes with the operators' work; until then the log records who did it.
    tracing::info!(
        operator = %caller.id,
        outbox.id = %id,
        template = %before.template,
        attempts_before = before.attempts,
        last_error = before.last_error.as_deref().map(mask_emails_in).unwrap_or_default(),
        "operator retried a dead-lettered message"
    );
    Ok(Json(to_dto(after)))
}

/// `anna@example.ch` -> `a***@example.ch`.
fn mask_email(email: &str) -> String {
    match email.rsplit_once('@') {
        Some((local, domain)) => format!("{}***@{domain}", local.chars().next().map(String::from).unwrap_or_default()),
        None => "***".to_owned(),
    }
}

/// Masks every address-looking word (`local@domain`) in a free text such as an SMTP reply.
fn mask_emails_in(text: &str) -> String {
    let is_local = |c: char| c.is_alphanumeric() || "._%+-=!#$&'*/?^`{|}~".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        let before = &rest[..at];
        let start = before.char_indices().rev().take_while(|&(_, c)| is_local(c)).last().map_or(at, |(i, _)| i);
        out.push_str(&before[..start]);
        if let Some(first) = before[start..at].chars().next() {
            out.push(first);
            out.push_str("***");
        }
        out.push('@');
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_masked() {
        assert_eq!(mask_email("anna.meier@example.ch"), "a***@example.ch");
        assert_eq!(mask_email("é@example.ch"), "é***@example.ch");
        assert_eq!(mask_email("@example.ch"), "***@example.ch");
        assert_eq!(mask_email("nonsense"), "***");
    }

    #[test]
    fn addresses_in_error_texts_are_masked() {
        assert_eq!(
            mask_emails_in("permanent error (550): 5.1.1 <bob.smith+x@example.ch>: Recipient address rejected"),
            "permanent error (550): 5.1.1 <b***@example.ch>: Recipient address rejected"
        );
        assert_eq!(mask_emails_in("a@b and c.d@e"), "a***@b and c***@e");
        assert_eq!(mask_emails_in("no address here"), "no address here");
        assert_eq!(mask_emails_in("trailing @ sign"), "trailing @ sign");
    }
}
