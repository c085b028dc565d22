//! Registration, sign-in, token rotation, sign-out and the caller's own profile.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use quartier_domain::{Email, Locale, PersonName, Role, UserId};
use quartier_store::{StoreError, users};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Body, Caller, OptionalBody};
use crate::security::{hash_refresh_token, new_refresh_token};
use crate::state::{AppState, now_ms};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(register)).routes(routes!(login)).routes(routes!(refresh)).routes(routes!(logout)).routes(routes!(
        me,
        update_me,
        crate::routes::account::erase_me
    ))
}

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Used to sign in; must be unique.
    email: String,
    /// 10 to 256 characters.
    password: String,
    /// Display name.
    name: String,
    /// `customer` or `helper` (operators are created by an administrator).
    role: String,
    /// `de`, `fr`, `it` or `en`; `de` when absent.
    #[serde(default)]
    locale: Option<String>,
}

/// A user as they see themselves.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserDto {
    id: String,
    email: String,
    name: String,
    role: String,
    locale: String,
    time_zone: String,
    created_at: jiff::Timestamp,
}

impl UserDto {
    pub(crate) fn from_row(u: users::UserRow) -> Self {
        Self {
            created_at: jiff::Timestamp::from_millisecond(u.created_at).unwrap_or_default(),
            id: u.id,
            email: u.email,
            name: u.name,
            role: u.role,
            locale: u.locale,
            time_zone: u.time_zone,
        }
    }
}

const MIN_PASSWORD_CHARS: usize = 10;
const MAX_PASSWORD_CHARS: usize = 256;

/// Register a customer or helper account.
#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = UserDto), (status = 409, body = Problem, description = "email_taken"),
              (status = 400, body = Problem, description = "invalid_email, weak_password, role_not_allowed, ...")))]
async fn register(State(app): State<AppState>, Body(req): Body<RegisterRequest>) -> ApiResult<(StatusCode, Json<UserDto>)> {
    let email = Email::parse(&req.email)?;
    let name = PersonName::parse(&req.name)?;
    let role: Role = req.role.parse()?;
    if role == Role::Operator {
        return Err(ApiError::invalid(
            "role_not_allowed",
            "Operator accounts are created with `quartier admin create-operator`; register as customer or helper.",
        ));
    }
    let locale: Locale = req.locale.as_deref().map(str::parse).transpose()?.unwrap_or_default();
    let n = req.password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&n) {
        return Err(ApiError::invalid(
            "weak_password",
            format!("The password must have {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters."),
        ));
    }
    let password_hash = app.passwords().hash(req.password).await?;
    let now = now_ms();
    let row = users::UserRow {
        id: UserId::new().to_string(),
        email: email.as_str().to_owned(),
        password_hash,
        name: name.as_str().to_owned(),
        role: role.as_str().to_owned(),
        locale: locale.as_str().to_owned(),
        time_zone: app.config().default_time_zone.clone(),
        created_at: now,
        updated_at: now,
    };
    let mut tx = app.store().begin().await?;
    match users::insert(&mut tx, &row).await {
        Ok(()) => {}
        Err(StoreError::Duplicate(_)) => {
            return Err(ApiError::conflict("email_taken", "An account with this e-mail exists already. Sign in instead."));
        }
        Err(e) => return Err(e.into()),
    }
    tx.commit().await.map_err(StoreError::from)?;
    tracing::info!(user.id = %row.id, user.role = %row.role, "user registered");
    Ok((StatusCode::CREATED, Json(UserDto::from_row(row))))
}

/// E-mail and password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    email: String,
    password: String,
}

/// A pair of tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    /// Short-lived bearer token for `Authorization`.
    access_token: String,
    /// One-time token for `POST /v1/auth/refresh`.
    refresh_token: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: u64,
}

async fn issue_pair(app: &AppState, tx: &mut quartier_store::Tx, user: &users::UserRow, family: Option<String>) -> ApiResult<TokenPair> {
    let id: UserId = user.id.parse()?;
    let role: Role = user.role.parse()?;
    let access_token = app.tokens().issue_access(id, role)?;
    let (refresh_token, hash) = new_refresh_token();
    let now = now_ms();
    let ttl = i64::try_from(app.config().refresh_ttl.as_millis()).unwrap_or(i64::MAX);
    users::insert_refresh(
        tx,
        &users::RefreshRow {
            id: UserId::new().to_string(),
            family_id: family.unwrap_or_else(|| UserId::new().to_string()),
            user_id: user.id.clone(),
            token_hash: hash,
            created_at: now,
            expires_at: now.saturating_add(ttl),
            used_at: None,
            revoked_at: None,
        },
    )
    .await?;
    Ok(TokenPair { access_token, refresh_token, token_type: "Bearer", expires_in: app.tokens().access_ttl().as_secs() })
}

fn invalid_credentials() -> ApiError {
    ApiError::invalid_token("The e-mail or the password is wrong.").with_code("invalid_credentials")
}

/// Sign in. An unknown e-mail and a wrong password get the identical answer. Limited per account
/// and per client address (429 with `Retry-After`).
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = Problem, description = "invalid_credentials"),
              (status = 429, body = Problem, description = "rate_limited")))]
async fn login(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Body(req): Body<LoginRequest>,
) -> ApiResult<Json<TokenPair>> {
    let address = peer.ip().to_string();
    // Count under the normalised address whether or not it is registered, so the limit itself
    // does not reveal which addresses have accounts.
    let account = Email::parse(&req.email).map(|e| e.as_str().to_owned()).unwrap_or_else(|_| req.email.trim().to_lowercase());
    app.login_per_address().check(&address).map_err(ApiError::too_many_requests)?;
    app.login_per_address().hit(&address);
    app.login_per_account().check(&account).map_err(ApiError::too_many_requests)?;

    let user = users::by_email(&mut *app.store().pool().acquire().await.map_err(StoreError::from)?, &account).await?;
    let ok = app.passwords().verify(req.password, user.as_ref().map(|u| u.password_hash.clone())).await?;
    let Some(user) = user.filter(|_| ok) else {
        app.login_per_account().hit(&account);
        return Err(invalid_credentials());
    };
    app.login_per_account().reset(&account);
    let mut tx = app.store().begin().await?;
    let pair = issue_pair(&app, &mut tx, &user, None).await?;
    tx.commit().await.map_err(StoreError::from)?;
    tracing::info!(user.id = %user.id, "signed in");
    Ok(Json(pair))
}

/// A refresh token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    refresh_token: String,
}

/// Exchange a refresh token for a new pair. Each refresh token works once; presenting a used one
/// again revokes its whole family (every token descended from the same sign-in).
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair),
              (status = 401, body = Problem, description = "invalid_refresh_token or refresh_token_reused")))]
async fn refresh(State(app): State<AppState>, Body(req): Body<RefreshRequest>) -> ApiResult<Json<TokenPair>> {
    let invalid = || ApiError::invalid_token("The refresh token is not valid; sign in again.").with_code("invalid_refresh_token");
    let now = now_ms();
    let mut tx = app.store().begin().await?;
    let Some(row) = users::refresh_by_hash(&mut tx, &hash_refresh_token(&req.refresh_token)).await? else {
        return Err(invalid());
    };
    if row.revoked_at.is_some() || row.expires_at <= now {
        return Err(invalid());
    }
    if !users::use_refresh(&mut tx, &row.id, now).await? {
        // Second use of the same token: someone holds a copy. End every session of this family.
        let n = users::revoke_family(&mut tx, &row.family_id, now).await?;
        tx.commit().await.map_err(StoreError::from)?;
        tracing::warn!(user.id = %row.user_id, revoked = n, "refresh token reused; family revoked");
        return Err(ApiError::invalid_token(
            "This refresh token was used before, so every session it belongs to has been ended. Sign in again.",
        )
        .with_code("refresh_token_reused"));
    }
    let Some(user) = users::by_id(&mut tx, &row.user_id).await? else {
        return Err(invalid());
    };
    let pair = issue_pair(&app, &mut tx, &user, Some(row.family_id)).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(pair))
}

/// Optionally, the refresh token of the session to end.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    /// When given, only this token's family is revoked; otherwise every session of the caller.
    #[serde(default)]
    refresh_token: Option<String>,
}

/// Sign out: revoke the refresh family (or every family of the caller). Access tokens already
/// issued stay valid until they expire (at most 15 minutes).
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", request_body = LogoutRequest,
    security(("bearer" = [])), responses((status = 204), (status = 401, body = Problem)))]
async fn logout(State(app): State<AppState>, caller: Caller, body: OptionalBody<LogoutRequest>) -> ApiResult<StatusCode> {
    let req = body.0.unwrap_or_default();
    let now = now_ms();
    let mut tx = app.store().begin().await?;
    match req.refresh_token {
        Some(token) => {
            if let Some(row) = users::refresh_by_hash(&mut tx, &hash_refresh_token(&token)).await?
                && row.user_id == caller.id.to_string()
            {
                users::revoke_family(&mut tx, &row.family_id, now).await?;
            }
        }
        None => {
            users::revoke_all_for_user(&mut tx, &caller.id.to_string(), now).await?;
        }
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's own account.
#[utoipa::path(get, path = "/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserDto), (status = 401, body = Problem)))]
async fn me(State(app): State<AppState>, caller: Caller) -> ApiResult<Json<UserDto>> {
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let user =
        users::by_id(&mut conn, &caller.id.to_string()).await?.ok_or_else(|| ApiError::invalid_token("This account no longer exists."))?;
    Ok(Json(UserDto::from_row(user)))
}

/// Changes to the caller's own account; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMe {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    locale: Option<String>,
    /// IANA zone, e.g. `Europe/Zurich`.
    #[serde(default)]
    time_zone: Option<String>,
}

/// Change name, language or time zone.
#[utoipa::path(patch, path = "/v1/me", tag = "auth", request_body = UpdateMe, security(("bearer" = [])),
    responses((status = 200, body = UserDto), (status = 400, body = Problem)))]
async fn update_me(State(app): State<AppState>, caller: Caller, Body(req): Body<UpdateMe>) -> ApiResult<Json<UserDto>> {
    let name = req.name.as_deref().map(PersonName::parse).transpose()?;
    let locale = req.locale.as_deref().map(str::parse::<Locale>).transpose()?;
    if let Some(tz) = &req.time_zone
        && jiff::tz::TimeZone::get(tz).is_err()
    {
        return Err(ApiError::invalid("invalid_time_zone", format!("`{tz}` is not an IANA time zone such as Europe/Zurich.")));
    }
    let id = caller.id.to_string();
    let mut tx = app.store().begin().await?;
    let current = users::by_id(&mut tx, &id).await?.ok_or_else(|| ApiError::invalid_token("This account no longer exists."))?;
    let name = name.map(|n| n.as_str().to_owned()).unwrap_or(current.name);
    let locale = locale.map(|l| l.as_str().to_owned()).unwrap_or(current.locale);
    let tz = req.time_zone.unwrap_or(current.time_zone);
    users::update_profile(&mut tx, &id, &name, &locale, &tz, now_ms()).await?;
    let updated =
        users::by_id(&mut tx, &id).await?.ok_or_else(|| ApiError::internal(anyhow::anyhow!("user vanished in its own transaction")))?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(UserDto::from_row(updated)))
}
