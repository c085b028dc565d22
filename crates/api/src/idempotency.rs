//! `Idempotency-Key` on POST, with Stripe's semantics.
//!
//! A signed-in caller may send `Idempotency-Key: <1-255 printable ASCII>` with any POST. The first
//! request with a key runs and its response (status, `content-type`, `location`, `retry-after`,
//! exact body bytes) is stored with a fingerprint of the request (method, path, SHA-256 of the
//! body). A later request with the same key and fingerprint gets the stored response back, with
//! `Idempotent-Replayed: true`, and the handler does not run again. Keys are scoped per user (the
//! access token's subject); requests without a valid bearer token pass through untouched.
//!
//! - same key, other request: 422 `idempotency_key_reused`;
//! - same key while the first request still runs: 409 `idempotency_in_progress`, `Retry-After: 1`;
//! - a 5xx, a panicking handler or a claim older than a minute (the process died) frees the key
//!   for a retry; 4xx responses are stored and replayed like successes;
//! - a malformed key is 400 `invalid_idempotency_key`;
//! - rows expire after 24 h and are purged at most once a minute per process.
//!
//! Invariant: the handler runs on its own task, so a client that hangs up does not cancel it
//! half-way: the response is still stored and a retry gets the replay.
//!
//! A handler whose change must happen at most once per key (booking a visit) stores its answer
//! in its own transaction through [`HeldKey`] (a request extension): the answer then commits with
//! the change, so a process killed between the commit and the response still replays it, and a
//! handler whose claim was taken over meanwhile rolls back instead of changing anything twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use quartier_store::idempotency::{self as store, Begin, Claim, StoredResponse};
use quartier_store::{Store, StoreError, Tx};
use sha2::{Digest, Sha256};
use tracing::Instrument;

use crate::MAX_BODY_BYTES;
use crate::error::ApiError;
use crate::state::{AppState, now_ms};

/// The request header.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The header marking a replayed response.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// Largest response body stored for replays; POST responses are small JSON documents.
const MAX_STORED_RESPONSE_BYTES: usize = 1024 * 1024;

/// The response headers worth replaying.
const STORED_HEADERS: [HeaderName; 3] = [header::CONTENT_TYPE, header::LOCATION, header::RETRY_AFTER];

/// How often (ms) a process purges expired keys at most.
const PURGE_EVERY_MS: i64 = 60_000;

static LAST_PURGE: AtomicI64 = AtomicI64::new(0);

/// The middleware (`middleware::from_fn_with_state`).
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST || !req.headers().contains_key(&IDEMPOTENCY_KEY) {
        return next.run(req).await;
    }
    let key = match parse_key(req.headers()) {
        Ok(key) => key,
        Err(e) => return e.into_response(),
    };
    let Some(user) = caller_id(&state, req.headers()) else {
        // Not signed in: no scope for the key. The handler answers (401, or runs if public).
        return next.run(req).await;
    };

    // Photo uploads are the one kind of large body; the handler checks their own limit.
    let (limit, code) = if req.uri().path().ends_with("/photos") {
        (crate::routes::disputes::MAX_PHOTO_BYTES, "photo_too_large")
    } else {
        (MAX_BODY_BYTES, "body_too_large")
    };
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        // Over the limit (or the client went away mid-body, when nobody reads the answer).
        Err(_) => {
            return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, code, format!("The request body is larger than {} KiB.", limit / 1024))
                .into_response();
        }
    };
    let fingerprint = fingerprint(&parts.method, parts.uri.path(), &bytes);
    let req = Request::from_parts(parts, Body::from(bytes));

    let store = state.store().clone();
    let now = now_ms();
    maybe_purge(&store, now);
    let claim = match claim(&store, &user, &key, &fingerprint, now).await {
        Ok(Some(begin)) => begin,
        // The token's user no longer exists: nothing to scope the key to; the handler decides.
        Ok(None) => return next.run(req).await,
        Err(e) => return e.into_response(),
    };
    match claim {
        Begin::Started(claim) => run_and_store(store, user, key, claim, req, next).await,
        Begin::Replay(stored) => replay(stored),
        Begin::Mismatch => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "This Idempotency-Key was already used for a different request (method, path or body). \
             Use a new key for a new request.",
        )
        .into_response(),
        Begin::InProgress => {
            let mut res = ApiError::conflict(
                "idempotency_in_progress",
                "A request with this Idempotency-Key is still being processed. Try again in a moment.",
            )
            .into_response();
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            res
        }
    }
}

/// The key, if it is 1-255 printable ASCII characters and sent once.
fn parse_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let invalid = || {
        ApiError::bad_request("invalid_idempotency_key", "Idempotency-Key must be sent once and be 1 to 255 printable ASCII characters.")
    };
    let mut values = headers.get_all(&IDEMPOTENCY_KEY).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(invalid());
    };
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_KEY_LEN || !bytes.iter().all(|b| (0x20..=0x7e).contains(b)) {
        return Err(invalid());
    }
    // All printable ASCII, so this cannot fail.
    value.to_str().map(str::to_owned).map_err(|_| invalid())
}

/// The subject of a valid bearer token, as `Caller` would see it.
fn caller_id(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))?;
    let caller = state.tokens().verify_access(token.trim()).ok()?;
    Some(caller.id.to_string())
}

/// What a key is bound to: `POST /v1/bookings sha256=<hex of the body's SHA-256>`.
pub fn fingerprint(method: &Method, path: &str, body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{method} {path} sha256={hex}")
}

/// Claims the key in a short transaction of its own. `None` when the user does not exist.
async fn claim(store: &Store, user: &str, key: &str, fingerprint: &str, now: i64) -> Result<Option<Begin>, ApiError> {
    let mut tx = store.begin().await?;
    let begin = match store::begin(&mut tx, user, key, fingerprint, now).await {
        Ok(begin) => begin,
        Err(StoreError::MissingReference(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Some(begin))
}

/// The claim on the request's key, for a handler that stores its answer in its own transaction.
#[derive(Clone, Debug)]
pub struct HeldKey {
    user: String,
    key: String,
    claim: Claim,
    stored: Arc<AtomicBool>,
}

impl HeldKey {
    /// Stores `body` (JSON) with `status` as the key's answer inside `tx`, so it commits with the
    /// change it reports. When the claim was lost (the key was taken over), answers 409
    /// `idempotency_in_progress`: the caller must then roll back.
    pub async fn store_in(&self, tx: &mut Tx, status: StatusCode, body: &[u8]) -> Result<(), ApiError> {
        let stored = StoredResponse {
            status: status.as_u16(),
            headers: serde_json::to_string(&[["content-type", "application/json"]]).unwrap_or_else(|_| "[]".to_owned()),
            body: body.to_vec(),
        };
        if !store::complete(tx, &self.user, &self.key, self.claim, &stored, now_ms()).await? {
            return Err(in_progress());
        }
        self.stored.store(true, Ordering::SeqCst);
        Ok(())
    }
}

fn in_progress() -> ApiError {
    ApiError::conflict("idempotency_in_progress", "A request with this Idempotency-Key is still being processed. Try again in a moment.")
        .with_retry_after(1)
}

/// Runs the handler on its own task and stores what it answered.
async fn run_and_store(store: Store, user: String, key: String, claim: Claim, mut req: Request, next: Next) -> Response {
    let held = HeldKey { user: user.clone(), key: key.clone(), claim, stored: Arc::new(AtomicBool::new(false)) };
    let stored_by_handler = held.stored.clone();
    req.extensions_mut().insert(held);
    let task = {
        let (store, user, key) = (store.clone(), user.clone(), key.clone());
        tokio::spawn(
            async move {
                let res = next.run(req).await;
                // The handler stored its answer with its change (and committed, as it succeeded).
                if res.status().is_success() && stored_by_handler.load(Ordering::SeqCst) {
                    return res;
                }
                finish(&store, &user, &key, claim, res).await
            }
            .in_current_span(),
        )
    };
    match task.await {
        Ok(res) => res,
        Err(e) => {
            // The handler panicked: nothing was committed, so the key may be retried at once.
            release(&store, &user, &key, claim).await;
            ApiError::internal(anyhow::Error::new(e).context("handler panicked")).into_response()
        }
    }
}

/// Stores a response (or frees the key after a 5xx) and hands it on.
async fn finish(store: &Store, user: &str, key: &str, claim: Claim, res: Response) -> Response {
    if res.status().is_server_error() {
        release(store, user, key, claim).await;
        return res;
    }
    let (parts, body) = res.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_STORED_RESPONSE_BYTES).await {
        Ok(bytes) => bytes,
        Err(e) => {
            release(store, user, key, claim).await;
            return ApiError::internal(anyhow::Error::new(e).context("response body too large to store for idempotency")).into_response();
        }
    };
    let headers: Vec<(&str, &str)> = STORED_HEADERS
        .iter()
        .flat_map(|name| parts.headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).map(|v| (name.as_str(), v)))
        .collect();
    let stored = StoredResponse {
        status: parts.status.as_u16(),
        headers: serde_json::to_string(&headers).unwrap_or_else(|_| "[]".to_owned()),
        body: bytes.to_vec(),
    };
    match complete(store, user, key, claim, &stored).await {
        Ok(true) => {}
        Ok(false) => tracing::warn!("idempotency key was taken over while its request ran; the response is not stored"),
        Err(e) => tracing::error!(error = format!("{:#}", anyhow::Error::from(e)), "storing the response for an idempotency key failed"),
    }
    Response::from_parts(parts, Body::from(bytes))
}

async fn complete(store: &Store, user: &str, key: &str, claim: Claim, stored: &StoredResponse) -> Result<bool, StoreError> {
    let mut conn = store.pool().acquire().await?;
    store::complete(&mut conn, user, key, claim, stored, now_ms()).await
}

/// Frees the key after a failed attempt. The failure is often the database being unreachable,
/// and then so is this: it is tried again in the background for half a minute, so the key is free
/// soon after the database is back instead of when the claim turns stale. Trying again is safe:
/// only this claim's row is deleted, and only while it is unfinished.
async fn release(store: &Store, user: &str, key: &str, claim: Claim) {
    let attempt = move |store: Store, user: String, key: String| async move {
        let mut conn = store.pool().acquire().await?;
        store::abandon(&mut conn, &user, &key, claim).await
    };
    let Err(e) = attempt(store.clone(), user.to_owned(), key.to_owned()).await else { return };
    if !e.is_unavailable() {
        tracing::warn!(error = format!("{:#}", anyhow::Error::from(e)), "releasing an idempotency key failed");
        return;
    }
    let (store, user, key) = (store.clone(), user.to_owned(), key.to_owned());
    tokio::spawn(
        async move {
            let started = std::time::Instant::now();
            let mut wait = std::time::Duration::from_millis(250);
            loop {
                tokio::time::sleep(wait).await;
                match attempt(store.clone(), user.clone(), key.clone()).await {
                    Ok(_) => return,
                    Err(e) if e.is_unavailable() && started.elapsed() < std::time::Duration::from_secs(30) => {
                        wait = (wait * 2).min(std::time::Duration::from_secs(2));
                    }
                    Err(e) => {
                        tracing::warn!(error = format!("{:#}", anyhow::Error::from(e)), "releasing an idempotency key failed");
                        return;
                    }
                }
            }
        }
        .in_current_span(),
    );
}

/// The stored response again, marked as a replay.
fn replay(stored: StoredResponse) -> Response {
    let status = match StatusCode::from_u16(stored.status) {
        Ok(status) => status,
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let headers: Vec<(String, String)> = match serde_json::from_str(&stored.headers) {
        Ok(headers) => headers,
        Err(e) => {
            return ApiError::internal(anyhow::Error::new(e).context("stored idempotency headers are not valid JSON")).into_response();
        }
    };
    let mut res = Response::new(Body::from(stored.body));
    *res.status_mut() = status;
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
            res.headers_mut().append(name, value);
        }
    }
    res.headers_mut().insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    res
}

/// Deletes expired keys in the background, at most once a minute per process.
fn maybe_purge(store: &Store, now: i64) {
    let last = LAST_PURGE.load(Ordering::Relaxed);
    if now - last < PURGE_EVERY_MS || LAST_PURGE.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err() {
        return;
    }
    let store = store.clone();
    tokio::spawn(
        async move {
            let result = async {
                let mut conn = store.pool().acquire().await?;
                store::purge(&mut conn, now - store::RETAIN_MS).await
            }
            .await;
            match result {
                Ok(0) => {}
                Ok(n) => tracing::debug!(purged = n, "expired idempotency keys purged"),
                Err(e) => tracing::warn!(error = format!("{:#}", anyhow::Error::from(e)), "purging expired idempotency keys failed"),
            }
        }
        .in_current_span(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(IDEMPOTENCY_KEY, HeaderValue::from_bytes(v).expect("header value"));
        }
        h
    }

    #[test]
    fn keys_are_one_to_255_printable_ascii_sent_once() {
        assert_eq!(parse_key(&headers(&[b"order-42 retry"])).expect("valid"), "order-42 retry");
        let long = "k".repeat(255);
        assert!(parse_key(&headers(&[long.as_bytes()])).is_ok());
        let too_long = "k".repeat(256);
        for bad in [
            headers(&[b""]),
            headers(&[too_long.as_bytes()]),
            headers(&[b"tab\there"]),
            headers(&["caf\u{e9}".as_bytes()]),
            headers(&[b"a", b"b"]),
        ] {
            assert_eq!(parse_key(&bad).map_err(|e| e.code()), Err("invalid_idempotency_key"));
        }
    }

    #[test]
    fn the_fingerprint_covers_method_path_and_body() {
        let a = fingerprint(&Method::POST, "/v1/bookings", b"{}");
        assert_eq!(a, fingerprint(&Method::POST, "/v1/bookings", b"{}"));
        assert_ne!(a, fingerprint(&Method::POST, "/v1/bookings", b"{ }"));
        assert_ne!(a, fingerprint(&Method::POST, "/v1/quotes", b"{}"));
        assert_ne!(a, fingerprint(&Method::PUT, "/v1/bookings", b"{}"));
    }
}
