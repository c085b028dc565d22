//! Forgotten passwords: a signed, single-use link by e-mail, at most a few per account and hour,
//! and the same answer whether or not the address has an account.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use quartier_domain::Email;
use quartier_store::{StoreError, users};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::Body;
use crate::state::{AppState, now_ms};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(request_reset)).routes(routes!(confirm_reset))
}

/// Reset mails per account and rolling hour; more requests get the same answer and no mail.
pub const RESETS_PER_HOUR: i64 = 3;
const LINK_VALID: Duration = Duration::from_secs(3600);
const ACTION: &str = "password_reset";

/// Asking for a reset link.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    email: String,
}

/// The same answer for every address.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResetAccepted {
    status: &'static str,
    message: &'static str,
}

/// Ties a link to the password it replaces, so it works once: after the change it no longer
/// matches.
fn fingerprint(hash: &str) -> String {
    let d = Sha256::digest(hash.as_bytes());
    d.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// Ask for a password-reset link by e-mail. The answer is the same whether or not the address
/// has an account; at most 3 mails per account and hour are sent.
#[utoipa::path(post, path = "/v1/auth/password-reset", tag = "auth", request_body = ResetRequest,
    responses((status = 202, body = ResetAccepted), (status = 400, body = Problem, description = "invalid_email")))]
async fn request_reset(State(app): State<AppState>, Body(req): Body<ResetRequest>) -> ApiResult<(StatusCode, Json<ResetAccepted>)> {
    let email = Email::parse(&req.email)?;
    let accepted = (
        StatusCode::ACCEPTED,
        Json(ResetAccepted {
            status: "accepted",
            message: "If an account uses this address, a link to choose a new password is on its way.",
        }),
    );
    let mut tx = app.store().begin().await?;
    let Some(user) = users::by_email(&mut tx, email.as_str()).await?.filter(|u| u.password_hash != quartier_store::account::ERASED) else {
        return Ok(accepted);
    };
    let now = now_ms();
    if users::mails_since(&mut tx, &user.id, quartier_notifications::PASSWORD_RESET, now - 3_600_000).await? >= RESETS_PER_HOUR {
        tracing::info!(user.id = %user.id, "password reset: hourly mail limit reached, no mail");
        return Ok(accepted);
    }
    let token = app.tokens().sign_link(&user.id, &fingerprint(&user.password_hash), ACTION, LINK_VALID)?;
    let data = quartier_notifications::PasswordResetData {
        recipient_name: user.name.clone(),
        link: format!("{}/#/reset/{token}", app.config().public_url.trim_end_matches('/')),
    };
    crate::process::queue_mail(&mut tx, &user, quartier_notifications::PASSWORD_RESET, &data, now).await?;
    tx.commit().await.map_err(StoreError::from)?;
    app.wake_outbox();
    Ok(accepted)
}

/// Choosing the new password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirm {
    /// The token from the mailed link.
    token: String,
    /// At least 10 characters.
    password: String,
}

/// Set a new password with the mailed link (once, within an hour). Every session ends.
#[utoipa::path(post, path = "/v1/auth/password-reset/confirm", tag = "auth", request_body = ResetConfirm,
    responses((status = 204), (status = 400, body = Problem, description = "weak_password"),
              (status = 401, body = Problem, description = "invalid_link, link_expired")))]
async fn confirm_reset(State(app): State<AppState>, Body(req): Body<ResetConfirm>) -> ApiResult<StatusCode> {
    if req.password.chars().count() < 10 || req.password.len() > 1024 {
        return Err(ApiError::invalid("weak_password", "Choose a password of at least 10 characters."));
    }
    let link = app.tokens().verify_link(&req.token)?;
    let used = || ApiError::invalid_token("This link was already used or is no longer valid; ask for a new one.").with_code("invalid_link");
    if link.action != ACTION {
        return Err(used());
    }
    let id = link.user.to_string();
    let hash = app.passwords().hash(req.password).await?;
    let mut tx = app.store().begin().await?;
    let user = users::by_id(&mut tx, &id).await?.ok_or_else(used)?;
    if user.password_hash == quartier_store::account::ERASED || fingerprint(&user.password_hash) != link.booking {
        return Err(used());
    }
    let now = now_ms();
    users::set_password(&mut tx, &id, &hash, now).await?;
    users::revoke_all_for_user(&mut tx, &id, now).await?;
    tx.commit().await.map_err(StoreError::from)?;
    tracing::info!(user.id = %id, "password reset");
    Ok(StatusCode::NO_CONTENT)
}
