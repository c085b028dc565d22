//! Extractors whose rejections speak problem+json, and the signed-in caller.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use quartier_domain::{Role, UserId};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON body. Unknown fields (the DTOs deny them) and malformed JSON are 400, a body that does
/// not fit the schema is 400 `invalid_body`, a body over the limit is 413, a missing content type is 415.
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // Every body is a JSON object; serde would also take a struct from an array of its
        // fields in order (`[null, null]`), which the schema does not allow.
        let (parts, body) = req.into_parts();
        let bytes = axum::body::Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|e| json_rejection(JsonRejection::from(e)))?;
        let is_object = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        let has_nul = has_nul_escape(&bytes);
        match axum::Json::<T>::from_request(Request::from_parts(parts, axum::body::Body::from(bytes)), state).await {
            Ok(axum::Json(_)) if !is_object => Err(ApiError::invalid("invalid_body", "The body must be a JSON object.")),
            Ok(axum::Json(_)) if has_nul => Err(nul_character()),
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// A JSON body that may be absent (an empty body is `None`); otherwise treated like [`Body`].
pub struct OptionalBody<T>(pub Option<T>);

impl<S, T> FromRequest<S> for OptionalBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let has_body = req.headers().get(axum::http::header::CONTENT_LENGTH).is_none_or(|v| v.as_bytes() != b"0")
            && req.headers().contains_key(axum::http::header::CONTENT_TYPE);
        if !has_body {
            return Ok(OptionalBody(None));
        }
        Body::<T>::from_request(req, state).await.map(|Body(v)| OptionalBody(Some(v)))
    }
}

/// Whether a JSON text holds the escape `\u0000` (NUL) in a string. No text column takes NUL
/// (PostgreSQL refuses it), and no name, address or message needs it.
fn has_nul_escape(json: &[u8]) -> bool {
    json.windows(6).enumerate().any(|(i, w)| w == b"\\u0000" && json[..i].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 0)
}

/// 400 `invalid_character`: text with a NUL character, in the body, the path or the query.
pub(crate) fn nul_character() -> ApiError {
    ApiError::invalid("invalid_character", "Text must not contain the NUL character (U+0000).")
}

fn json_rejection(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::JsonDataError(e) => {
            let msg = e.body_text();
            if msg.contains("unknown field") {
                ApiError::bad_request("unknown_field", clean(&msg))
            } else {
                ApiError::invalid("invalid_body", clean(&msg))
            }
        }
        JsonRejection::JsonSyntaxError(e) => ApiError::bad_request("malformed_json", clean(&e.body_text())),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the body as JSON with `Content-Type: application/json`.",
        ),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "The request body is larger than 64 KiB.")
        }
        other => ApiError::bad_request("unreadable_body", clean(&other.body_text())),
    }
}

/// serde's messages are useful to clients, but axum prefixes them with its own words.
fn clean(msg: &str) -> String {
    msg.split_once(": ").map(|(_, rest)| rest).unwrap_or(msg).to_owned()
}

/// Query parameters; a malformed query is 400 `invalid_query`.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(|e: QueryRejection| ApiError::bad_request("invalid_query", clean(&e.body_text())))
    }
}

/// The person behind a valid access token.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    /// Their user id.
    pub id: UserId,
    /// Their role, as signed into the token.
    pub role: Role,
}

impl Caller {
    /// Refuses callers of any other role with 403.
    pub fn require(self, role: Role) -> Result<Self, ApiError> {
        if self.role == role {
            Ok(self)
        } else {
            Err(ApiError::forbidden(format!("Only a {role} may do this; you are signed in as a {}.", self.role)))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(axum::http::header::AUTHORIZATION).ok_or_else(ApiError::unauthenticated)?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .ok_or_else(|| ApiError::invalid_token("Use `Authorization: Bearer <access token>`."))?;
        let caller: Caller = state.tokens().verify_access(token.trim())?;
        // A token outlives nothing: an erased (or removed) account is signed out at once.
        let mut conn = state.store().pool().acquire().await.map_err(quartier_store::StoreError::from)?;
        if !quartier_store::account::is_active(&mut conn, &caller.id.to_string()).await? {
            return Err(ApiError::invalid_token("This account no longer exists; sign in with another one."));
        }
        Ok(caller)
    }
}

/// A caller who must be an operator: 401 without a token, 403 for any other role, decided
/// before the body is read (so a customer never learns what an operator body looks like).
#[derive(Debug, Clone, Copy)]
pub struct Operator(pub Caller);

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Caller::from_request_parts(parts, state).await?.require(Role::Operator).map(Operator)
    }
}

#[cfg(test)]
mod tests {
    use super::has_nul_escape;

    #[test]
    fn finds_nul_escapes_only() {
        assert!(has_nul_escape(br#"{"town": "\u0000"}"#));
        assert!(has_nul_escape(br#"{"town": "a\\\u0000"}"#));
        assert!(!has_nul_escape(br#"{"town": "a\\u0000"}"#));
        assert!(has_nul_escape(br#"{"town": "\u00001"}"#));
        assert!(!has_nul_escape(br#"{"town": "\u0001"}"#));
    }
}
