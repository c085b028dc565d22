//! Vetting: a helper applies (identity, IBAN, a short code-of-conduct quiz); operators approve,
//! reject, suspend or reinstate with a reason the helper sees; a helper may appeal once and the
//! appeal goes to a different operator. Only approved helpers receive offers.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use jiff::civil::Date;
use quartier_domain::{PersonName, Role, UserId};
use quartier_store::{StoreError, availability, users, vetting};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Body, Caller, Operator, Query};
use crate::routes::helpers::page_limit;
use crate::state::{AppState, now_ms};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(quiz))
        .routes(routes!(get_application, apply))
        .routes(routes!(appeal))
        .routes(routes!(queue))
        .routes(routes!(decide))
}

/// The code-of-conduct quiz: (question, options, index of the right answer).
const QUIZ: &[(&str, &[&str], usize)] = &[
    (
        "A customer gives you their Wi-Fi password. What do you do with it afterwards?",
        &["Keep it for next time", "Forget it and never write it down", "Share it with the next helper"],
        1,
    ),
    (
        "The job needs a part you do not have. What do you do?",
        &[
            "Buy it without asking and add it to the bill",
            "Explain it, and change the scope only with the customer's consent in the app",
            "Leave without saying anything",
        ],
        1,
    ),
    (
        "You will be late. What do you do?",
        &["Tell the customer in the booking's messages as soon as you know", "Nothing, they will wait", "Cancel without notice"],
        0,
    ),
    (
        "A customer offers you cash for an extra job outside Quartier. What do you do?",
        &["Accept and keep it off the platform", "Book the extra work through Quartier", "Ask for more money"],
        1,
    ),
    (
        "What do you do with photos of the customer's home you took for the job?",
        &["Post them online", "Keep them forever", "Only use them for the job and delete them afterwards"],
        2,
    ),
];

/// One question of the quiz.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuizQuestion {
    question: &'static str,
    options: Vec<&'static str>,
}

/// The code-of-conduct quiz a helper answers when applying.
#[utoipa::path(get, path = "/v1/helper/application/quiz", tag = "vetting", responses((status = 200, body = Vec<QuizQuestion>)))]
async fn quiz() -> Json<Vec<QuizQuestion>> {
    Json(QUIZ.iter().map(|(q, o, _)| QuizQuestion { question: q, options: o.to_vec() }).collect())
}

/// A helper's application.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationRequest {
    /// Name as on the identity document.
    legal_name: String,
    /// `YYYY-MM-DD`; helpers are at least 18.
    #[schema(value_type = String)]
    birth_date: Date,
    /// Swiss or Liechtenstein IBAN for payouts (checksum checked).
    iban: String,
    /// The index of the chosen option for each quiz question, in order.
    quiz_answers: Vec<usize>,
}

/// The state of an application, as the helper sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationDto {
    helper_id: String,
    /// applied, approved, rejected, suspended or appealed.
    status: String,
    legal_name: String,
    submitted_at: Timestamp,
    /// The operator's reason for the last decision.
    reason: Option<String>,
    /// Whether the one appeal has been used.
    appealed: bool,
}

fn dto(a: vetting::ApplicationRow) -> ApplicationDto {
    ApplicationDto {
        submitted_at: Timestamp::from_millisecond(a.submitted_at).unwrap_or_default(),
        appealed: a.appeal.is_some(),
        helper_id: a.user_id,
        status: a.status,
        legal_name: a.legal_name,
        reason: a.reason,
    }
}

/// The signed-in helper's application.
#[utoipa::path(get, path = "/v1/helper/application", tag = "vetting", security(("bearer" = [])),
    responses((status = 200, body = ApplicationDto), (status = 403, body = Problem, description = "forbidden: not a helper"), (status = 404, body = Problem)))]
async fn get_application(State(app): State<AppState>, caller: Caller) -> ApiResult<Json<ApplicationDto>> {
    caller.require(Role::Helper)?;
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let a = vetting::get(&mut conn, &caller.id.to_string())
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no_application", "You have not applied yet: POST /v1/helper/application."))?;
    Ok(Json(dto(a)))
}

/// Apply to be vetted (once; a rejected helper appeals instead).
#[utoipa::path(post, path = "/v1/helper/application", tag = "vetting", request_body = ApplicationRequest, security(("bearer" = [])),
    responses((status = 201, body = ApplicationDto), (status = 403, body = Problem, description = "forbidden: not a helper"), (status = 400, body = Problem, description = "invalid_iban, quiz_failed, too_young, invalid_name"),
              (status = 409, body = Problem, description = "already_applied")))]
async fn apply(
    State(app): State<AppState>,
    caller: Caller,
    Body(req): Body<ApplicationRequest>,
) -> ApiResult<(StatusCode, Json<ApplicationDto>)> {
    caller.require(Role::Helper)?;
    let name = PersonName::parse(&req.legal_name)?;
    let iban = crate::money::swiss_iban(&req.iban)?;
    let today = Timestamp::now().to_zoned(app.matcher_zone().clone()).date();
    let adult = req.birth_date.checked_add(jiff::Span::new().years(18)).is_ok_and(|d| d <= today);
    if !adult || req.birth_date.year() < 1900 {
        return Err(ApiError::invalid("too_young", "Helpers must be at least 18 years old."));
    }
    let wrong: Vec<usize> =
        QUIZ.iter().enumerate().filter(|(i, (_, _, right))| req.quiz_answers.get(*i) != Some(right)).map(|(i, _)| i + 1).collect();
    if req.quiz_answers.len() != QUIZ.len() || !wrong.is_empty() {
        return Err(ApiError::invalid(
            "quiz_failed",
            format!("Please read the code of conduct again: questions {wrong:?} are not answered right (GET /v1/helper/application/quiz)."),
        ));
    }
    let row = vetting::ApplicationRow {
        user_id: caller.id.to_string(),
        status: "applied".into(),
        legal_name: name.as_str().to_owned(),
        birth_date: req.birth_date.to_string(),
        iban,
        quiz: serde_json::to_string(&req.quiz_answers).map_err(ApiError::internal)?,
        submitted_at: now_ms(),
        decided_at: None,
        decided_by: None,
        reason: None,
        appeal: None,
        appealed_at: None,
        appeal_against: None,
    };
    let mut tx = app.store().begin().await?;
    match vetting::submit(&mut tx, &row).await {
        Err(StoreError::Duplicate(_)) => {
            return Err(ApiError::conflict("already_applied", "You have applied already; see GET /v1/helper/application."));
        }
        other => other?,
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok((StatusCode::CREATED, Json(dto(row))))
}

/// An appeal.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppealRequest {
    /// Why the decision should change, 10 to 2000 characters.
    text: String,
}

/// Appeal a rejection or suspension, once. A different operator decides.
#[utoipa::path(post, path = "/v1/helper/application/appeal", tag = "vetting", request_body = AppealRequest, security(("bearer" = [])),
    responses((status = 200, body = ApplicationDto), (status = 403, body = Problem, description = "forbidden: not a helper"), (status = 409, body = Problem, description = "appeal_not_possible")))]
async fn appeal(State(app): State<AppState>, caller: Caller, Body(req): Body<AppealRequest>) -> ApiResult<Json<ApplicationDto>> {
    caller.require(Role::Helper)?;
    let text = req.text.trim();
    if !(10..=2000).contains(&text.chars().count()) {
        return Err(ApiError::invalid("invalid_appeal", "An appeal has 10 to 2000 characters."));
    }
    let me = caller.id.to_string();
    let mut tx = app.store().begin().await?;
    if !vetting::appeal(&mut tx, &me, text, now_ms()).await? {
        return Err(ApiError::conflict("appeal_not_possible", "Only a rejection or a suspension can be appealed, and only once."));
    }
    let a = vetting::get(&mut tx, &me).await?.ok_or_else(|| ApiError::internal(anyhow::anyhow!("application vanished")))?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(dto(a)))
}

/// Which applications.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    /// applied (default), appealed, approved, rejected or suspended.
    status: Option<String>,
    /// 1 to 100 (default 20).
    limit: Option<u32>,
    /// From `next_cursor`.
    cursor: Option<String>,
}

/// An application in the operators' queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueItem {
    helper_id: String,
    name: String,
    email: String,
    status: String,
    legal_name: String,
    birth_date: String,
    /// Masked: only the last four digits.
    iban: String,
    submitted_at: Timestamp,
    reason: Option<String>,
    appeal: Option<String>,
    /// The operator whose decision is appealed; they may not decide the appeal.
    appeal_against: Option<String>,
}

/// A page of the queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuePage {
    items: Vec<QueueItem>,
    next_cursor: Option<String>,
}

/// The vetting queue (operators).
#[utoipa::path(get, path = "/v1/ops/helpers", tag = "ops", params(QueueQuery), security(("bearer" = [])),
    responses((status = 200, body = QueuePage), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn queue(State(app): State<AppState>, _: Operator, Query(q): Query<QueueQuery>) -> ApiResult<Json<QueuePage>> {
    let status = q.status.unwrap_or_else(|| "applied".into());
    if !["applied", "appealed", "approved", "rejected", "suspended"].contains(&status.as_str()) {
        return Err(ApiError::bad_request("invalid_query", "`status` is applied, appealed, approved, rejected or suspended."));
    }
    let limit = page_limit(q.limit)?;
    let after = match q.cursor.as_deref() {
        None => None,
        Some(c) => {
            let (at, id) = c.split_once('_').ok_or_else(|| ApiError::bad_request("invalid_query", "Unknown cursor."))?;
            Some((at.parse::<i64>().map_err(|_| ApiError::bad_request("invalid_query", "Unknown cursor."))?, id.to_owned()))
        }
    };
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let rows = vetting::by_status(&mut conn, &status, after, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let next_cursor = if more { rows.get(limit as usize - 1).map(|a| format!("{}_{}", a.submitted_at, a.user_id)) } else { None };
    let mut items = Vec::with_capacity(rows.len());
    for a in rows.into_iter().take(limit as usize) {
        let Some(u) = users::by_id(&mut conn, &a.user_id).await? else { continue };
        let tail: String = a.iban.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
        items.push(QueueItem {
            helper_id: a.user_id,
            name: u.name,
            email: u.email,
            status: a.status,
            legal_name: a.legal_name,
            birth_date: a.birth_date,
            iban: format!("••••{tail}"),
            submitted_at: Timestamp::from_millisecond(a.submitted_at).unwrap_or_default(),
            reason: a.reason,
            appeal: a.appeal,
            appeal_against: a.appeal_against,
        });
    }
    Ok(Json(QueuePage { items, next_cursor }))
}

/// An operator's decision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// approve, reject, suspend or reinstate.
    decision: String,
    /// Why; the helper sees it. 3 to 1000 characters.
    reason: String,
}

/// Approve, reject, suspend or reinstate a helper (operators). Every decision is audited.
#[utoipa::path(post, path = "/v1/ops/helpers/{id}/decision", tag = "ops", request_body = DecisionRequest, params(("id" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = ApplicationDto), (status = 403, body = Problem, description = "forbidden: not an operator"), (status = 404, body = Problem),
    (status = 409, body = Problem, description = "invalid_decision, same_operator")))]
async fn decide(
    State(app): State<AppState>,
    Operator(caller): Operator,
    Path(id): Path<String>,
    Body(req): Body<DecisionRequest>,
) -> ApiResult<Json<ApplicationDto>> {
    let reason = req.reason.trim();
    if !(3..=1000).contains(&reason.chars().count()) {
        return Err(ApiError::invalid("reason_required", "Give a reason of 3 to 1000 characters; the helper sees it."));
    }
    let helper: UserId = id.parse().map_err(|_| ApiError::not_found("helper"))?;
    let helper = helper.to_string();
    let me = caller.id.to_string();
    let now = now_ms();
    let mut tx = app.store().begin().await?;
    let a = vetting::get(&mut tx, &helper).await?.ok_or_else(|| ApiError::not_found("application"))?;
    let to = match (req.decision.as_str(), a.status.as_str()) {
        ("approve", "applied" | "appealed") => "approved",
        ("reject", "applied" | "appealed") => "rejected",
        ("suspend", "approved") => "suspended",
        ("reinstate", "suspended" | "appealed") => "approved",
        (d, s) if ["approve", "reject", "suspend", "reinstate"].contains(&d) => {
            return Err(ApiError::conflict("invalid_decision", format!("A helper who is {s} cannot be {d}d.")));
        }
        (d, _) => {
            return Err(ApiError::invalid(
                "unknown_decision",
                format!("`{d}` is not a decision; use approve, reject, suspend or reinstate."),
            ));
        }
    };
    if a.status == "appealed" && a.appeal_against.as_deref() == Some(me.as_str()) {
        return Err(ApiError::conflict("same_operator", "An appeal goes to a different operator than the one who decided."));
    }
    if !vetting::decide(&mut tx, &helper, &a.status, to, &me, reason, now).await? {
        return Err(ApiError::conflict("invalid_decision", "The application changed meanwhile; reload it."));
    }
    vetting::audit(&mut tx, &UserId::new().to_string(), &me, &format!("helper.{}", req.decision), &helper, reason, now).await?;
    availability::record_change(&mut tx, &helper, now).await?;
    let updated = vetting::get(&mut tx, &helper).await?.ok_or_else(|| ApiError::internal(anyhow::anyhow!("application vanished")))?;
    tx.commit().await.map_err(StoreError::from)?;
    app.refresh_helper(&helper).await;
    tracing::info!(operator.id = %me, helper.id = %helper, decision = %req.decision, "vetting decision");
    Ok(Json(dto(updated)))
}
