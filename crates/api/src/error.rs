//! The one error envelope: RFC 9457 problem+json with a stable snake_case `code`.
//!
//! Invariant: a 5xx response never carries internal detail; its cause chain is logged exactly
//! once, here, at the boundary.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use quartier_domain::DomainError;
use quartier_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Always `about:blank`: the `code` says what happened.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// A short, human summary of the problem class.
    pub title: &'static str,
    /// The HTTP status, repeated.
    pub status: u16,
    /// Stable machine-readable code, e.g. `slot_taken`.
    pub code: &'static str,
    /// What went wrong in this case, and what to do next.
    pub detail: String,
}

/// `Retry-After` seconds of the 503s for an unreachable database and a request timeout.
pub const DB_RETRY_AFTER_SECS: u64 = 1;

/// An error on its way to becoming a problem+json response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    detail: String,
    retry_after: Option<u64>,
    source: Option<anyhow::Error>,
}

impl ApiError {
    /// An error with a status, a code and a detail for the client.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self { status, code, title: title_of(status), detail: detail.into(), retry_after: None, source: None }
    }

    /// 400.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 401 with no credentials.
    pub fn unauthenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", "Sign in first: send `Authorization: Bearer <access token>`.")
    }

    /// 401 with credentials that are not valid.
    pub fn invalid_token(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_token", detail)
    }

    /// 403.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// 404.
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("No {what} with that id is visible to you."))
    }

    /// 409.
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    /// 400 for input that is well-formed but not acceptable (a bad e-mail, a reversed window, an
    /// unknown service): Quartier answers every kind of bad input with 400 and a stable code.
    pub fn invalid(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 429 with the seconds until the next try.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("Too many attempts. Try again in {retry_after_secs} seconds."),
        );
        e.retry_after = Some(retry_after_secs);
        e
    }

    /// 500: the client learns nothing internal; `source` is logged.
    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong on our side. It has been logged; please try again later.",
        );
        e.source = Some(source.into());
        e
    }

    /// 503.
    pub fn unavailable(code: &'static str, detail: impl Into<String>, source: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, code, detail);
        e.source = Some(source.into());
        e
    }

    /// The same error, telling the client when to try again (`Retry-After`).
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// 503 `database_unavailable` with `Retry-After`: the database is down or restarting, or no
    /// connection was free in time. Nothing was changed; the same request may be sent again.
    pub fn database_unavailable(source: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::unavailable(
            "database_unavailable",
            format!("The database is not reachable at the moment. Nothing was changed; try again in {DB_RETRY_AFTER_SECS} seconds."),
            source,
        );
        e.retry_after = Some(DB_RETRY_AFTER_SECS);
        e
    }

    /// 503 `request_timeout` with `Retry-After`: no answer within the request timeout.
    pub fn request_timeout(after: std::time::Duration) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "request_timeout",
            format!(
                "No answer within {} ms. With an Idempotency-Key, retry with the same key in {DB_RETRY_AFTER_SECS} seconds.",
                after.as_millis()
            ),
        );
        e.source = Some(anyhow::anyhow!("request timed out after {} ms", after.as_millis()));
        e.retry_after = Some(DB_RETRY_AFTER_SECS);
        e
    }

    /// The same error under another stable code.
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    /// The same error with another detail for the client.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    /// The detail for the client.
    pub fn detail(&self) -> String {
        self.detail.clone()
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

fn title_of(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "Bad request",
        401 => "Not signed in",
        403 => "Not allowed",
        404 => "Not found",
        405 => "Method not allowed",
        409 => "Conflict",
        413 => "Request body too large",
        415 => "Unsupported media type",
        422 => "Invalid input",
        429 => "Too many requests",
        503 => "Service unavailable",
        _ if status.is_server_error() => "Internal error",
        _ => "Error",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            match &self.source {
                Some(src) => tracing::error!(code = self.code, status = self.status.as_u16(), error = format!("{src:#}"), "request failed"),
                None => tracing::error!(code = self.code, status = self.status.as_u16(), "request failed"),
            }
        } else {
            tracing::debug!(code = self.code, status = self.status.as_u16(), "request refused");
        }
        let body = Problem { kind: "about:blank", title: self.title, status: self.status.as_u16(), code: self.code, detail: self.detail };
        let json = serde_json::to_vec(&body).unwrap_or_default();
        let mut res = (self.status, json).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(secs) = self.retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::SlotTaken => ApiError::conflict(
                "slot_taken",
                "The helper already has a booking at that time. Choose another start time or another helper.",
            ),
            StoreError::Duplicate(_) => ApiError::conflict("already_exists", "That record already exists."),
            StoreError::MissingReference(_) => {
                ApiError::invalid("invalid_reference", "The request refers to something that does not exist.")
            }
            other if other.is_unavailable() => ApiError::database_unavailable(other),
            other => ApiError::internal(other),
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        let code = match &e {
            DomainError::InvalidEmail(_) => "invalid_email",
            DomainError::InvalidCoordinates => "invalid_coordinates",
            DomainError::EmptyWindow => "invalid_window",
            DomainError::InvalidName => "invalid_name",
            DomainError::InvalidSkill(_) => "invalid_skill",
            DomainError::InvalidRole(_) => "invalid_role",
            DomainError::InvalidLocale(_) => "invalid_locale",
            DomainError::InvalidMoney => "invalid_amount",
            DomainError::InvalidId(_) => "invalid_id",
        };
        ApiError::invalid(code, e.to_string())
    }
}

/// Result type of handlers.
pub type ApiResult<T> = Result<T, ApiError>;
