//! Messages inside a booking and reviews both ways.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use quartier_booking::Actor;
use quartier_domain::UserId;
use quartier_store::{StoreError, bookings, conversation};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Body, Caller};
use crate::routes::bookings::visible;
use crate::state::{AppState, now_ms};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(post_message, list_messages)).routes(routes!(post_review)).routes(routes!(list_reviews))
}

/// Days after which a review is shown even if the other side has not written theirs.
pub const REVIEW_REVEAL_DAYS: i64 = 7;

/// A new message.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageRequest {
    /// 1 to 2000 characters.
    body: String,
}

/// A message.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageDto {
    id: String,
    /// customer, helper or operator.
    author: String,
    body: String,
    at: Timestamp,
}

/// Messages of a booking.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessagePage {
    items: Vec<MessageDto>,
    next_cursor: Option<String>,
}

fn message_dto(m: conversation::MessageRow) -> MessageDto {
    MessageDto { at: Timestamp::from_millisecond(m.created_at).unwrap_or_default(), id: m.id, author: m.author_role, body: m.body }
}

/// Write a message in a booking (its parties and operators).
#[utoipa::path(post, path = "/v1/bookings/{id}/messages", tag = "bookings", request_body = MessageRequest,
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 201, body = MessageDto), (status = 400, body = Problem), (status = 404, body = Problem)))]
async fn post_message(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(req): Body<MessageRequest>,
) -> ApiResult<(StatusCode, Json<MessageDto>)> {
    let body = req.body.trim();
    if body.is_empty() || body.chars().count() > 2000 {
        return Err(ApiError::invalid("invalid_message", "A message has 1 to 2000 characters."));
    }
    let mut tx = app.store().begin().await?;
    let (b, actor) = visible(&mut tx, &caller, &id).await?;
    let row = conversation::MessageRow {
        id: UserId::new().to_string(),
        booking_id: b.id.clone(),
        author_id: caller.id.to_string(),
        author_role: actor.as_str().into(),
        body: body.to_owned(),
        created_at: now_ms(),
    };
    conversation::insert_message(&mut tx, &row).await?;
    // The other side's app hears of it at once (in the app only, no e-mail).
    let to: &[(quartier_booking::Party, quartier_booking::Notice)] = match actor {
        Actor::Customer => &[(quartier_booking::Party::Helper, quartier_booking::Notice::NewMessage)],
        Actor::Helper => &[(quartier_booking::Party::Customer, quartier_booking::Notice::NewMessage)],
        _ => &[
            (quartier_booking::Party::Customer, quartier_booking::Notice::NewMessage),
            (quartier_booking::Party::Helper, quartier_booking::Notice::NewMessage),
        ],
    };
    crate::process::queue_notices(&mut tx, &app, &b, to).await?;
    tx.commit().await.map_err(StoreError::from)?;
    app.wake_outbox();
    Ok((StatusCode::CREATED, Json(message_dto(row))))
}

/// A booking's messages, oldest first.
#[utoipa::path(get, path = "/v1/bookings/{id}/messages", tag = "bookings", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = MessagePage), (status = 404, body = Problem)))]
async fn list_messages(State(app): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<MessagePage>> {
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let (b, _) = visible(&mut conn, &caller, &id).await?;
    let items = conversation::messages(&mut conn, &b.id).await?.into_iter().map(message_dto).collect();
    Ok(Json(MessagePage { items, next_cursor: None }))
}

/// A review of the other party.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    /// 1 to 5.
    rating: u8,
    /// Up to 2000 characters.
    #[serde(default)]
    text: String,
}

/// A review.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewDto {
    /// `customer` (about the helper) or `helper` (about the customer).
    author: String,
    rating: i64,
    text: String,
    at: Timestamp,
}

/// The reviews of a booking the caller may see.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewsDto {
    /// Reviews shown: always your own; the other side's once both are in or after 7 days.
    items: Vec<ReviewDto>,
    /// Whether a review by the other side exists but is still hidden.
    hidden_from_you: bool,
}

/// Review the other party of a completed visit (once per side).
#[utoipa::path(post, path = "/v1/bookings/{id}/review", tag = "bookings", request_body = ReviewRequest,
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 201, body = ReviewDto), (status = 403, body = Problem, description = "forbidden: not allowed"), (status = 400, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "not_completed, already_reviewed")))]
async fn post_review(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(req): Body<ReviewRequest>,
) -> ApiResult<(StatusCode, Json<ReviewDto>)> {
    if !(1..=5).contains(&req.rating) {
        return Err(ApiError::invalid("invalid_rating", "A rating is 1 to 5."));
    }
    let text = req.text.trim();
    if text.chars().count() > 2000 {
        return Err(ApiError::invalid("invalid_review", "A review has at most 2000 characters."));
    }
    let mut tx = app.store().begin().await?;
    let (b, actor) = visible(&mut tx, &caller, &id).await?;
    let subject = match actor {
        Actor::Customer => b.helper_id.clone(),
        Actor::Helper => b.customer_id.clone(),
        _ => {
            return Err(ApiError::forbidden("Only the customer and the helper review a visit.").with_code("not_allowed"));
        }
    };
    if b.state != "done" {
        return Err(ApiError::conflict("not_completed", "A visit can be reviewed once it is done."));
    }
    let row = conversation::ReviewRow {
        booking_id: b.id.clone(),
        author_role: actor.as_str().into(),
        author_id: caller.id.to_string(),
        subject_id: subject.clone(),
        rating: i64::from(req.rating),
        body: text.to_owned(),
        created_at: now_ms(),
    };
    match conversation::insert_review(&mut tx, &row).await {
        Err(StoreError::Duplicate(_)) => {
            return Err(ApiError::conflict("already_reviewed", "You have reviewed this visit already."));
        }
        other => other?,
    }
    if actor == Actor::Customer {
        quartier_store::availability::record_change(&mut tx, &b.helper_id, row.created_at).await?;
        // A rating moves the helper's figures, so their level follows at once.
        crate::reputation::refresh(&mut tx, &app, &b.helper_id).await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    if actor == Actor::Customer {
        app.refresh_helper(&b.helper_id).await;
        app.wake_outbox();
    }
    Ok((
        StatusCode::CREATED,
        Json(ReviewDto {
            author: row.author_role,
            rating: row.rating,
            text: row.body,
            at: Timestamp::from_millisecond(row.created_at).unwrap_or_default(),
        }),
    ))
}

/// A booking's reviews: your own, and the other side's once both are in or 7 days have passed.
#[utoipa::path(get, path = "/v1/bookings/{id}/reviews", tag = "bookings", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = ReviewsDto), (status = 404, body = Problem)))]
async fn list_reviews(State(app): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<ReviewsDto>> {
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let (b, actor): (bookings::BookingRow, Actor) = visible(&mut conn, &caller, &id).await?;
    let all = conversation::reviews(&mut conn, &b.id).await?;
    let both_in = all.len() == 2;
    let window_over = now_ms() >= b.ends_at + REVIEW_REVEAL_DAYS * 86_400_000;
    let mut hidden = false;
    let items = all
        .into_iter()
        .filter(|r| {
            let show = actor == Actor::Operator || r.author_role == actor.as_str() || both_in || window_over;
            hidden |= !show;
            show
        })
        .map(|r| ReviewDto {
            author: r.author_role,
            rating: r.rating,
            text: r.body,
            at: Timestamp::from_millisecond(r.created_at).unwrap_or_default(),
        })
        .collect();
    Ok(Json(ReviewsDto { items, hidden_from_you: hidden }))
}
