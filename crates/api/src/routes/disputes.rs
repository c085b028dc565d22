//! Disputes: a party opens one within the pinned policy's window (with photos), the other party
//! answers, an operator sees everything on one page and decides; the ledger follows the decision
//! exactly and both parties are told. An open dispute holds the helper's payout.

use axum::Json;
use axum::body::Body as RawBody;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use quartier_booking::{Actor, Notice, Party, State as BookingState};
use quartier_domain::{Money, UserId};
use quartier_pricing::ledger::{self, PaymentMethod};
use quartier_store::{StoreError, Tx, bookings, conversation, disputes};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Body, Caller, Operator, Query};
use crate::routes::bookings::{BookingDto, to_dto, visible};
use crate::routes::catalog::MoneyDto;
use crate::state::{AppState, now_ms};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(open_dispute, get_dispute))
        .routes(routes!(add_statement))
        .routes(routes!(upload_photo))
        .routes(routes!(get_photo))
        .routes(routes!(ops_list))
        .routes(routes!(ops_case))
        .routes(routes!(ops_resolve))
}

/// Largest photo accepted (bytes).
pub const MAX_PHOTO_BYTES: usize = 5 * 1024 * 1024;
/// Photos per dispute.
pub const MAX_PHOTOS: i64 = 5;
/// Accepted photo types.
pub const PHOTO_TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/webp"];
/// Reasons a dispute can be opened for.
pub const REASONS: [&str; 7] = ["no_show", "poor_work", "damage", "overcharged", "unpaid", "behaviour", "other"];
/// States a visit can be disputed in.
const DISPUTABLE: [BookingState; 4] =
    [BookingState::Done, BookingState::FailedVisit, BookingState::NoShowCustomer, BookingState::NoShowHelper];

/// Opening a dispute.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenRequest {
    /// no_show, poor_work, damage, overcharged, unpaid, behaviour or other.
    reason: String,
    /// What happened, 10 to 4000 characters.
    text: String,
}

/// A party's statement.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatementRequest {
    /// 10 to 4000 characters.
    text: String,
}

/// A photo of a dispute.
#[derive(Debug, Serialize, ToSchema)]
pub struct PhotoDto {
    id: String,
    /// Where the bytes are (parties and operators, with the bearer token).
    url: String,
    /// customer or helper.
    uploaded_by: String,
    content_type: String,
    size_bytes: i64,
}

/// A dispute.
#[derive(Debug, Serialize, ToSchema)]
pub struct DisputeDto {
    id: String,
    booking_id: String,
    /// open or resolved.
    status: String,
    /// customer or helper.
    opened_by: String,
    reason: String,
    text: String,
    customer_statement: Option<String>,
    helper_statement: Option<String>,
    photos: Vec<PhotoDto>,
    /// payout, partial_refund or refund.
    outcome: Option<String>,
    refund_rappen: Option<i64>,
    penalty_rappen: Option<i64>,
    /// The operator's reasons, for both parties.
    decision_note: Option<String>,
    opened_at: Timestamp,
    resolved_at: Option<Timestamp>,
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or_default()
}

async fn dto(conn: &mut quartier_store::Conn, d: disputes::DisputeRow) -> ApiResult<DisputeDto> {
    let customer_of = bookings::get(conn, &d.booking_id).await?.map(|b| b.customer_id).unwrap_or_default();
    let photos = disputes::photos(conn, &d.id)
        .await?
        .into_iter()
        .map(|p| PhotoDto {
            url: format!("/v1/disputes/{}/photos/{}", d.id, p.id),
            uploaded_by: if p.uploaded_by == customer_of { "customer" } else { "helper" }.into(),
            id: p.id,
            content_type: p.content_type,
            size_bytes: p.size_bytes,
        })
        .collect();
    Ok(DisputeDto {
        photos,
        id: d.id,
        booking_id: d.booking_id,
        status: d.status,
        opened_by: d.opened_by,
        reason: d.reason,
        text: d.text,
        customer_statement: d.customer_statement,
        helper_statement: d.helper_statement,
        outcome: d.outcome,
        refund_rappen: d.refund_rappen,
        penalty_rappen: d.penalty_rappen,
        decision_note: d.decision_note,
        opened_at: ts(d.opened_at),
        resolved_at: d.resolved_at.map(ts),
    })
}

/// The dispute if the caller is a party of its booking or an operator; otherwise 404.
async fn visible_dispute(conn: &mut quartier_store::Conn, caller: &Caller, id: &str) -> ApiResult<(disputes::DisputeRow, Actor)> {
    let d = disputes::get(conn, id).await?.ok_or_else(|| ApiError::not_found("dispute"))?;
    let (_, actor) = visible(conn, caller, &d.booking_id).await.map_err(|_| ApiError::not_found("dispute"))?;
    Ok((d, actor))
}

fn checked_text(text: &str) -> ApiResult<String> {
    let text = text.trim();
    let n = text.chars().count();
    if !(10..=4000).contains(&n) {
        return Err(ApiError::invalid("invalid_text", "Describe what happened in 10 to 4000 characters."));
    }
    Ok(text.to_owned())
}

async fn timeline_note(tx: &mut Tx, b: &bookings::BookingRow, who: &Caller, actor: Actor, action: &str, note: String) -> ApiResult<()> {
    bookings::insert_event(
        tx,
        &bookings::EventRow {
            id: UserId::new().to_string(),
            booking_id: b.id.clone(),
            at: now_ms(),
            actor_id: Some(who.id.to_string()),
            actor_role: actor.as_str().into(),
            action: action.into(),
            from_state: Some(b.state.clone()),
            to_state: b.state.clone(),
            note: Some(note),
        },
    )
    .await?;
    Ok(())
}

/// Open a dispute about a visit (its customer or helper), within the booking's dispute window
/// (the pinned policy's, 14 days after the visit by default). The helper's payout is held until
/// an operator decides. Both parties are notified.
#[utoipa::path(post, path = "/v1/bookings/{id}/dispute", tag = "disputes", request_body = OpenRequest,
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 201, body = DisputeDto), (status = 400, body = Problem, description = "invalid_reason, invalid_text"),
              (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "not_disputable, dispute_window_closed, dispute_exists")))]
async fn open_dispute(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(req): Body<OpenRequest>,
) -> ApiResult<(StatusCode, Json<DisputeDto>)> {
    if !REASONS.contains(&req.reason.as_str()) {
        return Err(ApiError::invalid("invalid_reason", format!("`reason` is one of: {}.", REASONS.join(", "))));
    }
    let text = checked_text(&req.text)?;
    let mut tx = app.store().begin().await?;
    let (b, actor) = visible(&mut tx, &caller, &id).await?;
    let opened_by = match actor {
        Actor::Customer => "customer",
        Actor::Helper => "helper",
        _ => return Err(ApiError::forbidden("Only the customer or the helper of a visit can open a dispute.").with_code("not_allowed")),
    };
    let state: BookingState = b.state.parse().map_err(ApiError::internal)?;
    if !DISPUTABLE.contains(&state) {
        return Err(ApiError::conflict("not_disputable", "Only a visit that took place, failed or had a no-show can be disputed."));
    }
    let policy = quartier_store::ledger::policy(&mut tx, b.policy_version).await?.unwrap_or_else(quartier_pricing::default_policy);
    let closes = b.completed_at.unwrap_or(b.ends_at) + policy.dispute_window().as_millis() as i64;
    let now = now_ms();
    if now > closes {
        return Err(ApiError::conflict(
            "dispute_window_closed",
            format!("Disputes about this visit were possible until {}; contact support for anything else.", ts(closes)),
        ));
    }
    let row = disputes::DisputeRow {
        id: UserId::new().to_string(),
        booking_id: b.id.clone(),
        opened_by: opened_by.into(),
        opened_by_user: caller.id.to_string(),
        reason: req.reason.clone(),
        customer_statement: (actor == Actor::Customer).then(|| text.clone()),
        helper_statement: (actor == Actor::Helper).then(|| text.clone()),
        text,
        status: "open".into(),
        outcome: None,
        refund_rappen: None,
        penalty_rappen: None,
        decision_note: None,
        decided_by: None,
        opened_at: now,
        resolved_at: None,
    };
    if !disputes::open(&mut tx, &row).await? {
        return Err(ApiError::conflict("dispute_exists", "This visit already has a dispute; add your statement or photos to it."));
    }
    timeline_note(&mut tx, &b, &caller, actor, "dispute_opened", format!("reason: {}", req.reason)).await?;
    crate::process::queue_notices(&mut tx, &app, &b, &[(Party::Customer, Notice::DisputeOpened), (Party::Helper, Notice::DisputeOpened)])
        .await?;
    let out = dto(&mut tx, row).await?;
    tx.commit().await.map_err(StoreError::from)?;
    app.wake_outbox();
    Ok((StatusCode::CREATED, Json(out)))
}

/// The dispute of a booking (its parties and operators).
#[utoipa::path(get, path = "/v1/bookings/{id}/dispute", tag = "disputes", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = DisputeDto), (status = 404, body = Problem)))]
async fn get_dispute(State(app): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<DisputeDto>> {
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let (b, _) = visible(&mut conn, &caller, &id).await?;
    let d = disputes::of_booking(&mut conn, &b.id).await?.ok_or_else(|| ApiError::not_found("dispute"))?;
    Ok(Json(dto(&mut conn, d).await?))
}

/// Give or replace your statement while the dispute is open (customer or helper).
#[utoipa::path(post, path = "/v1/disputes/{id}/statement", tag = "disputes", request_body = StatementRequest,
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = DisputeDto), (status = 400, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem, description = "dispute_not_open")))]
async fn add_statement(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(req): Body<StatementRequest>,
) -> ApiResult<Json<DisputeDto>> {
    let text = checked_text(&req.text)?;
    let mut tx = app.store().begin().await?;
    let (d, actor) = visible_dispute(&mut tx, &caller, &id).await?;
    let party = match actor {
        Actor::Customer => "customer",
        Actor::Helper => "helper",
        _ => return Err(ApiError::forbidden("Statements come from the customer or the helper.").with_code("not_allowed")),
    };
    if !disputes::set_statement(&mut tx, &d.id, party, &text).await? {
        return Err(ApiError::conflict("dispute_not_open", "The dispute has been decided; statements can no longer change."));
    }
    let b = bookings::get(&mut tx, &d.booking_id).await?.ok_or_else(|| ApiError::not_found("booking"))?;
    timeline_note(&mut tx, &b, &caller, actor, "dispute_statement", format!("{party} statement")).await?;
    let d = disputes::get(&mut tx, &d.id).await?.ok_or_else(|| ApiError::not_found("dispute"))?;
    let out = dto(&mut tx, d).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(out))
}

fn sniffed_type(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0xFF, 0xD8, 0xFF, ..] => Some("image/jpeg"),
        [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some("image/png"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some("image/webp"),
        _ => None,
    }
}

/// Add a photo to an open dispute (customer or helper): the image itself as the body, with
/// `Content-Type` image/jpeg, image/png or image/webp, at most 5 MiB; at most 5 photos.
#[utoipa::path(post, path = "/v1/disputes/{id}/photos", tag = "disputes", params(("id" = String, Path)), security(("bearer" = [])),
    request_body(description = "The image file itself, at most 5 MiB.", content(([u8] = "image/jpeg"), ([u8] = "image/png"), ([u8] = "image/webp"))),
    responses((status = 201, body = PhotoDto), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "dispute_not_open, too_many_photos"),
              (status = 413, body = Problem, description = "photo_too_large"),
              (status = 415, body = Problem, description = "unsupported_photo_type")))]
async fn upload_photo(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: RawBody,
) -> ApiResult<(StatusCode, Json<PhotoDto>)> {
    let declared = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").split(';').next().unwrap_or("").trim();
    if !PHOTO_TYPES.contains(&declared) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_photo_type",
            "Send a JPEG, PNG or WebP image with its Content-Type.",
        ));
    }
    let bytes = axum::body::to_bytes(body, MAX_PHOTO_BYTES).await.map_err(|_| {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "photo_too_large", "A photo can have at most 5 MiB; send a smaller one.")
    })?;
    // The bytes must be what the header says: nothing else is ever served back.
    if sniffed_type(&bytes) != Some(declared) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_photo_type",
            "The file is not a JPEG, PNG or WebP image of the type it declares.",
        ));
    }
    let mut tx = app.store().begin().await?;
    let (d, actor) = visible_dispute(&mut tx, &caller, &id).await?;
    if !matches!(actor, Actor::Customer | Actor::Helper) {
        return Err(ApiError::forbidden("Photos come from the customer or the helper.").with_code("not_allowed"));
    }
    if d.status != "open" {
        return Err(ApiError::conflict("dispute_not_open", "The dispute has been decided; no more photos can be added."));
    }
    let photo_id = UserId::new().to_string();
    let me = caller.id.to_string();
    if !disputes::add_photo(&mut tx, &photo_id, &d.id, &me, declared, &bytes, MAX_PHOTOS, now_ms()).await? {
        return Err(ApiError::conflict("too_many_photos", "A dispute can have at most 5 photos."));
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok((
        StatusCode::CREATED,
        Json(PhotoDto {
            url: format!("/v1/disputes/{}/photos/{photo_id}", d.id),
            id: photo_id,
            uploaded_by: if actor == Actor::Customer { "customer" } else { "helper" }.into(),
            content_type: declared.into(),
            size_bytes: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
        }),
    ))
}

/// A photo's bytes: only for the dispute's parties and operators (anyone else: 404).
#[utoipa::path(get, path = "/v1/disputes/{id}/photos/{photo_id}", tag = "disputes",
    params(("id" = String, Path), ("photo_id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, content_type = "image/jpeg", body = Vec<u8>), (status = 404, body = Problem)))]
async fn get_photo(State(app): State<AppState>, caller: Caller, Path((id, photo_id)): Path<(String, String)>) -> ApiResult<Response> {
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let (d, _) = visible_dispute(&mut conn, &caller, &id).await?;
    let (kind, data) = disputes::photo(&mut conn, &d.id, &photo_id).await?.ok_or_else(|| ApiError::not_found("photo"))?;
    Ok((
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (header::CONTENT_DISPOSITION, "inline".to_owned()),
        ],
        data,
    )
        .into_response())
}

/// Filter of the operators' dispute queue.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// open (default) or resolved.
    status: Option<String>,
    /// At most 100 (default 20).
    limit: Option<u32>,
    /// From `next_cursor`.
    cursor: Option<String>,
}

/// One line of the queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct DisputeSummary {
    id: String,
    booking_id: String,
    status: String,
    opened_by: String,
    reason: String,
    opened_at: Timestamp,
    /// The service's name.
    service: String,
    /// What the visit cost.
    price: MoneyDto,
    outcome: Option<String>,
}

/// A page of the queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct DisputePage {
    items: Vec<DisputeSummary>,
    next_cursor: Option<String>,
}

/// The dispute queue, oldest first (operators).
#[utoipa::path(get, path = "/v1/ops/disputes", tag = "ops", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = DisputePage), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn ops_list(State(app): State<AppState>, _: Operator, Query(q): Query<ListQuery>) -> ApiResult<Json<DisputePage>> {
    let status = q.status.as_deref().unwrap_or("open");
    if !matches!(status, "open" | "resolved") {
        return Err(ApiError::bad_request("invalid_query", "`status` is open or resolved."));
    }
    let limit = crate::routes::helpers::page_limit(q.limit)?;
    let after = match q.cursor.as_deref() {
        None => None,
        Some(c) => {
            let (at, id) = c.split_once('_').ok_or_else(|| ApiError::bad_request("invalid_query", "Unknown cursor."))?;
            Some((at.parse::<i64>().map_err(|_| ApiError::bad_request("invalid_query", "Unknown cursor."))?, id.to_owned()))
        }
    };
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let rows = disputes::list(&mut conn, status, after, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let mut items = Vec::new();
    let mut next_cursor = None;
    for d in rows.into_iter().take(limit as usize) {
        let b = bookings::get(&mut conn, &d.booking_id).await?.ok_or_else(|| ApiError::not_found("booking"))?;
        let service = quartier_store::catalog::get(&mut conn, &b.service_slug).await?.map(|s| s.name).unwrap_or(b.service_slug.clone());
        next_cursor = Some(format!("{}_{}", d.opened_at, d.id));
        items.push(DisputeSummary {
            id: d.id,
            booking_id: d.booking_id,
            status: d.status,
            opened_by: d.opened_by,
            reason: d.reason,
            opened_at: ts(d.opened_at),
            service,
            price: MoneyDto { amount_rappen: b.price_rappen, currency: "CHF" },
            outcome: d.outcome,
        });
    }
    Ok(Json(DisputePage { items, next_cursor: if more { next_cursor } else { None } }))
}

/// A message as operators see it in a case.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseMessage {
    /// customer, helper or operator.
    author_role: String,
    body: String,
    sent_at: Timestamp,
}

/// A ledger line of the booking.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseLedgerLine {
    transaction_id: String,
    at: Timestamp,
    /// The transaction kind, e.g. booking_completed, partial_refund.
    kind: String,
    account: String,
    /// Debit positive, credit negative.
    amount_rappen: i64,
}

/// Everything an operator needs to decide, on one page.
#[derive(Debug, Serialize, ToSchema)]
pub struct DisputeCase {
    dispute: DisputeDto,
    booking: BookingDto,
    customer_name: String,
    helper_name: String,
    messages: Vec<CaseMessage>,
    ledger: Vec<CaseLedgerLine>,
    /// Charged to the customer and not refunded yet (the most a refund can be).
    refundable_rappen: i64,
    /// Held for the helper until the decision.
    held_for_helper_rappen: i64,
}

/// One dispute with the booking's timeline, messages, ledger and both statements (operators).
#[utoipa::path(get, path = "/v1/ops/disputes/{id}", tag = "ops", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = DisputeCase), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn ops_case(State(app): State<AppState>, Operator(caller): Operator, Path(id): Path<String>) -> ApiResult<Json<DisputeCase>> {
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    Ok(Json(case_of(&mut conn, &caller, &id).await?))
}

async fn case_of(conn: &mut quartier_store::Conn, caller: &Caller, id: &str) -> ApiResult<DisputeCase> {
    let d = disputes::get(conn, id).await?.ok_or_else(|| ApiError::not_found("dispute"))?;
    let b = bookings::get(conn, &d.booking_id).await?.ok_or_else(|| ApiError::not_found("booking"))?;
    let events = bookings::events(conn, &b.id).await?;
    let customer_name = quartier_store::users::by_id(conn, &b.customer_id).await?.map(|u| u.name).unwrap_or_default();
    let helper_name = quartier_store::users::by_id(conn, &b.helper_id).await?.map(|u| u.name).unwrap_or_default();
    let messages = conversation::messages(conn, &b.id)
        .await?
        .into_iter()
        .map(|m| CaseMessage { author_role: m.author_role, body: m.body, sent_at: ts(m.created_at) })
        .collect();
    let rows = quartier_store::ledger::postings_of_booking(conn, &b.id).await?;
    let balances = quartier_store::ledger::balances(&rows)?;
    let ledger = rows
        .into_iter()
        .filter(|r| r.amount_rappen != 0)
        .map(|r| CaseLedgerLine {
            transaction_id: r.transaction_id,
            at: ts(r.created_at),
            kind: r.kind,
            account: r.account,
            amount_rappen: r.amount_rappen,
        })
        .collect();
    Ok(DisputeCase {
        dispute: dto(conn, d).await?,
        booking: to_dto(b, caller, Some(events)),
        customer_name,
        helper_name,
        messages,
        ledger,
        refundable_rappen: balances.charged().max(0),
        held_for_helper_rappen: balances.held_for_helper().max(0),
    })
}

/// An operator's decision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// payout (the helper keeps everything), partial_refund (with `refund_rappen`) or refund
    /// (everything charged goes back).
    outcome: String,
    /// For partial_refund: more than 0 and less than what was charged.
    refund_rappen: Option<i64>,
    /// Optional penalty charged to the helper (taken from the held payout first).
    penalty_rappen: Option<i64>,
    /// The reasons both parties see, 3 to 2000 characters.
    note: String,
}

/// Decide a dispute (operators): the ledger gets exactly the decision's entries (refund to the
/// customer, split between helper and platform as they were paid; the penalty; the payout
/// released), in the same transaction as the decision, the audit entry and both notices.
#[utoipa::path(post, path = "/v1/ops/disputes/{id}/resolve", tag = "ops", request_body = ResolveRequest,
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = DisputeCase), (status = 400, body = Problem, description = "invalid_outcome, invalid_refund, invalid_penalty, reason_required"),
              (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "dispute_not_open, refund_exceeds_charge")))]
async fn ops_resolve(
    State(app): State<AppState>,
    Operator(caller): Operator,
    Path(id): Path<String>,
    Body(req): Body<ResolveRequest>,
) -> ApiResult<Json<DisputeCase>> {
    let note = req.note.trim();
    if !(3..=2000).contains(&note.chars().count()) {
        return Err(ApiError::invalid(
            "reason_required",
            "Give the reasons for the decision in 3 to 2000 characters; both parties see them.",
        ));
    }
    let penalty = req.penalty_rappen.unwrap_or(0);
    if penalty < 0 {
        return Err(ApiError::invalid("invalid_penalty", "A penalty cannot be negative."));
    }
    let mut tx = app.store().begin().await?;
    let d = disputes::get(&mut tx, &id).await?.ok_or_else(|| ApiError::not_found("dispute"))?;
    if d.status != "open" {
        return Err(ApiError::conflict("dispute_not_open", "This dispute has already been decided."));
    }
    let b = bookings::get(&mut tx, &d.booking_id).await?.ok_or_else(|| ApiError::not_found("booking"))?;
    let mut balances = crate::money::balances(&mut tx, &b.id).await?;
    let charged = balances.charged().max(0);
    let post = async |tx: &mut Tx, balances: &mut ledger::Balances, t: ledger::Transaction| -> ApiResult<()> {
        balances.apply(&t).map_err(crate::money::ledger_error)?;
        crate::money::post(tx, &b.id, &b.helper_id, &t).await
    };
    let refund = match req.outcome.as_str() {
        "payout" => {
            if req.refund_rappen.is_some_and(|r| r != 0) {
                return Err(ApiError::invalid("invalid_refund", "A payout decision refunds nothing; leave out `refund_rappen`."));
            }
            0
        }
        "partial_refund" => {
            let amount = req.refund_rappen.unwrap_or(0);
            if amount <= 0 || amount >= charged {
                return Err(ApiError::invalid(
                    "invalid_refund",
                    format!("A partial refund is more than 0 and less than the {charged} Rappen charged; use `refund` for all of it."),
                ));
            }
            let money = Money::from_rappen(amount).map_err(|_| ApiError::invalid("invalid_refund", "Invalid amount."))?;
            let t = ledger::partial_refund(&balances, money).map_err(crate::money::ledger_error)?;
            post(&mut tx, &mut balances, t).await?;
            amount
        }
        "refund" => {
            if charged > 0 {
                let t = ledger::full_refund(&balances).map_err(crate::money::ledger_error)?;
                post(&mut tx, &mut balances, t).await?;
            }
            charged
        }
        _ => return Err(ApiError::invalid("invalid_outcome", "`outcome` is payout, partial_refund or refund.")),
    };
    if penalty > 0 {
        let money = Money::from_rappen(penalty).map_err(|_| ApiError::invalid("invalid_penalty", "Invalid amount."))?;
        let t = ledger::penalty(&balances, money).map_err(crate::money::ledger_error)?;
        post(&mut tx, &mut balances, t).await?;
    }
    // What the customer had paid and is now owed goes back the way it came (cash by transfer).
    let credit = balances.customer_credit();
    if credit > 0 && b.paid_at.is_some() {
        let method = match b.payment_method.as_deref() {
            Some("card") => PaymentMethod::Card,
            _ => PaymentMethod::Invoice,
        };
        let money = Money::from_rappen(credit).map_err(ApiError::internal)?;
        let t = ledger::refund_paid(&balances, money, method).map_err(crate::money::ledger_error)?;
        post(&mut tx, &mut balances, t).await?;
    }
    if balances.held_for_helper() > 0 {
        let t = ledger::release_decided(&balances).map_err(crate::money::ledger_error)?;
        post(&mut tx, &mut balances, t).await?;
    }
    let now = now_ms();
    let operator = caller.id.to_string();
    if !disputes::resolve(&mut tx, &d.id, &req.outcome, refund, penalty, note, &operator, now).await? {
        return Err(ApiError::conflict("dispute_not_open", "This dispute has just been decided by someone else."));
    }
    let why = format!("{} (refund {refund} Rappen, penalty {penalty} Rappen): {note}", req.outcome);
    quartier_store::vetting::audit(&mut tx, &UserId::new().to_string(), &operator, "dispute.resolve", &d.id, &why, now).await?;
    timeline_note(&mut tx, &b, &caller, Actor::Operator, "dispute_resolved", why).await?;
    crate::process::queue_notices(
        &mut tx,
        &app,
        &b,
        &[(Party::Customer, Notice::DisputeResolved), (Party::Helper, Notice::DisputeResolved)],
    )
    .await?;
    crate::reputation::refresh(&mut tx, &app, &b.helper_id).await?;
    let case = case_of(&mut tx, &caller, &d.id).await?;
    tx.commit().await.map_err(StoreError::from)?;
    tracing::info!(dispute.id = %d.id, outcome = %req.outcome, refund, penalty, "dispute resolved");
    app.refresh_helper(&b.helper_id).await;
    app.wake_outbox();
    Ok(Json(case))
}
