//! `Idempotency-Key` on POST: replays, reuse with another request, per-user scope, concurrent
//! replays, stored client errors, malformed keys, and dead claims that may be taken over.

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{Res, TestApp};

/// A start time `days` from now at 14:00 UTC, RFC 3339.
fn start_in_days(days: i64) -> String {
    let d = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().checked_add(jiff::Span::new().days(days)).expect("date");
    format!("{d}T14:00:00Z")
}

fn booking(helper_id: &str, start: &str) -> Value {
    json!({"service": "guest-wifi", "address": "Langstrasse 21, 8004 Zürich", "start": start, "helper_id": helper_id})
}

/// POSTs `body` as JSON (the exact bytes of `serde_json::to_vec`), with an optional key.
async fn post_keyed(app: &TestApp, path: &str, token: Option<&str>, key: Option<&[u8]>, body: &Value) -> Res {
    let mut req = app
        .client
        .request(Method::POST, format!("{}{path}", app.base))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).expect("json"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(k) = key {
        req = req.header("idempotency-key", reqwest::header::HeaderValue::from_bytes(k).expect("header value"));
    }
    let res = req.send().await.expect("request sent");
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.expect("body");
    Res { status, headers, body: serde_json::from_str(&text).unwrap_or(Value::Null), text }
}

fn header<'a>(r: &'a Res, name: &str) -> Option<&'a str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

fn replayed(r: &Res) -> bool {
    header(r, "idempotent-replayed") == Some("true")
}

async fn booking_count(app: &TestApp, token: &str) -> usize {
    let r = app.get("/v1/bookings", Some(token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["items"].as_array().expect("items").len()
}

fn new_key() -> String {
    format!("key-{}", uuid::Uuid::new_v4())
}

both_backends! {
    async fn a_replayed_booking_returns_the_first_response_and_books_once(app) {
        let (helper_id, _, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let key = new_key();
        let body = booking(&helper_id, &start_in_days(3));

        let first = post_keyed(&app, "/v1/bookings", Some(&customer), Some(key.as_bytes()), &body).await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
        assert!(!replayed(&first), "the first response is not a replay");
        for _ in 0..2 {
            let again = post_keyed(&app, "/v1/bookings", Some(&customer), Some(key.as_bytes()), &body).await;
            assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
            assert_eq!(again.text, first.text, "a replay is the first response byte for byte");
            assert_eq!(header(&again, "content-type"), header(&first, "content-type"));
            assert_eq!(header(&again, "location"), header(&first, "location"));
            assert!(replayed(&again), "{:?}", again.headers);
        }
        assert_eq!(booking_count(&app, &customer).await, 1, "the handler ran once");
        // Without the key the same request runs again (and finds the slot taken).
        let unkeyed = post_keyed(&app, "/v1/bookings", Some(&customer), None, &body).await;
        assert_eq!(unkeyed.status, StatusCode::CONFLICT, "{}", unkeyed.text);
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn a_replayed_transition_returns_the_first_200_instead_of_409(app) {
        let (helper_id, _, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let booked = post_keyed(&app, "/v1/bookings", Some(&customer), None, &booking(&helper_id, &start_in_days(4))).await;
        assert_eq!(booked.status, StatusCode::CREATED, "{}", booked.text);
        let path = format!("/v1/bookings/{}/transitions", booked.body["id"].as_str().expect("id"));
        let cancel = json!({"action": "cancel"});
        let key = new_key();

        let first = post_keyed(&app, &path, Some(&customer), Some(key.as_bytes()), &cancel).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.text);
        assert_eq!(first.body["state"], "cancelled_by_customer");
        let again = post_keyed(&app, &path, Some(&customer), Some(key.as_bytes()), &cancel).await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text);
        assert_eq!(again.text, first.text);
        assert!(replayed(&again));
        // The transition itself is not repeatable: without the key it is refused.
        let unkeyed = post_keyed(&app, &path, Some(&customer), None, &cancel).await;
        assert_eq!(unkeyed.status, StatusCode::CONFLICT, "{}", unkeyed.text);
        assert_eq!(unkeyed.code(), "invalid_transition");
        let shown = app.get(&booked.body["id"].as_str().map(|id| format!("/v1/bookings/{id}")).expect("id"), Some(&customer)).await;
        let cancels = shown.body["timeline"].as_array().expect("timeline").iter().filter(|e| e["action"] == "cancel").count();
        assert_eq!(cancels, 1, "{}", shown.text);
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn the_same_key_for_another_request_is_422(app) {
        let (helper_id, _, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let key = new_key();
        let first = post_keyed(&app, "/v1/bookings", Some(&customer), Some(key.as_bytes()), &booking(&helper_id, &start_in_days(5))).await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);

        // Another body.
        let other = post_keyed(&app, "/v1/bookings", Some(&customer), Some(key.as_bytes()), &booking(&helper_id, &start_in_days(6))).await;
        assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", other.text);
        assert_eq!(other.code(), "idempotency_key_reused");
        assert!(!replayed(&other));
        // Another path with the same key.
        let path = format!("/v1/bookings/{}/transitions", first.body["id"].as_str().expect("id"));
        let elsewhere = post_keyed(&app, &path, Some(&customer), Some(key.as_bytes()), &json!({"action": "cancel"})).await;
        assert_eq!(elsewhere.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", elsewhere.text);
        assert_eq!(elsewhere.code(), "idempotency_key_reused");

        assert_eq!(booking_count(&app, &customer).await, 1);
        let shown = app.get(&format!("/v1/bookings/{}", first.body["id"].as_str().expect("id")), Some(&customer)).await;
        assert_eq!(shown.body["state"], "requested", "the reused key did not cancel");
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn keys_are_scoped_per_user(app) {
        let (helper_id, _, _) = app.helper_with_profile(&["wifi"]).await;
        let (alice_id, alice, _) = app.signed_up("customer").await;
        let (bob_id, bob, _) = app.signed_up("customer").await;
        let key = b"shared-key-1";
        let a = post_keyed(&app, "/v1/bookings", Some(&alice), Some(key), &booking(&helper_id, &start_in_days(7))).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
        // Same key, another user, another body: not a reuse, a request of its own.
        let b = post_keyed(&app, "/v1/bookings", Some(&bob), Some(key), &booking(&helper_id, &start_in_days(8))).await;
        assert_eq!(b.status, StatusCode::CREATED, "{}", b.text);
        assert!(!replayed(&b));
        assert_ne!(a.body["id"], b.body["id"]);
        assert_eq!(a.body["customer_id"], alice_id.as_str());
        assert_eq!(b.body["customer_id"], bob_id.as_str());
        assert_eq!(booking_count(&app, &alice).await, 1);
        assert_eq!(booking_count(&app, &bob).await, 1);
        // Each user's replay is their own first response.
        let a2 = post_keyed(&app, "/v1/bookings", Some(&alice), Some(key), &booking(&helper_id, &start_in_days(7))).await;
        assert_eq!((a2.status, replayed(&a2)), (StatusCode::CREATED, true));
        assert_eq!(a2.text, a.text);
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn concurrent_replays_run_the_request_once(app) {
        let (helper_id, _, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let key = new_key();
        let body = booking(&helper_id, &start_in_days(9));
        let results = join_all((0..8).map(|_| post_keyed(&app, "/v1/bookings", Some(&customer), Some(key.as_bytes()), &body))).await;
        let summary: Vec<_> = results.iter().map(|r| (r.status, r.text.clone())).collect();

        let created: Vec<&Res> = results.iter().filter(|r| r.status == StatusCode::CREATED).collect();
        assert!(!created.is_empty(), "{summary:?}");
        let first = created.iter().find(|r| !replayed(r)).expect("one response ran the handler");
        assert_eq!(created.iter().filter(|r| !replayed(r)).count(), 1, "{summary:?}");
        for r in &results {
            if r.status == StatusCode::CREATED {
                assert_eq!(r.text, first.text, "{summary:?}");
            } else {
                assert_eq!(r.status, StatusCode::CONFLICT, "{summary:?}");
                assert_eq!(r.code(), "idempotency_in_progress");
                assert_eq!(header(r, "retry-after"), Some("1"));
            }
        }
        assert_eq!(booking_count(&app, &customer).await, 1, "{summary:?}");
        // Once done, the key replays the one stored response.
        let later = post_keyed(&app, "/v1/bookings", Some(&customer), Some(key.as_bytes()), &body).await;
        assert_eq!((later.status, replayed(&later)), (StatusCode::CREATED, true));
        assert_eq!(later.text, first.text);
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn client_errors_are_stored_and_replayed(app) {
        let (helper_id, _, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let key = new_key();
        let mut body = booking(&helper_id, &start_in_days(10));
        body["service"] = json!("moon-landing");
        let first = post_keyed(&app, "/v1/bookings", Some(&customer), Some(key.as_bytes()), &body).await;
        assert_eq!(first.status, StatusCode::BAD_REQUEST, "{}", first.text);
        assert_eq!(first.code(), "unknown_service");
        let again = post_keyed(&app, "/v1/bookings", Some(&customer), Some(key.as_bytes()), &body).await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.text);
        assert_eq!(again.code(), "unknown_service");
        assert_eq!(again.text, first.text);
        assert!(replayed(&again));
        // The key is spent on the failed request: the corrected request needs a new key.
        body["service"] = json!("guest-wifi");
        let fixed = post_keyed(&app, "/v1/bookings", Some(&customer), Some(key.as_bytes()), &body).await;
        assert_eq!(fixed.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", fixed.text);
        assert_eq!(fixed.code(), "idempotency_key_reused");
        let fresh = post_keyed(&app, "/v1/bookings", Some(&customer), Some(new_key().as_bytes()), &body).await;
        assert_eq!(fresh.status, StatusCode::CREATED, "{}", fresh.text);
        assert_eq!(booking_count(&app, &customer).await, 1);
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn an_invalid_key_is_400(app) {
        let (helper_id, _, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let body = booking(&helper_id, &start_in_days(11));
        let too_long = "k".repeat(256);
        for bad in [&b""[..], too_long.as_bytes(), "clé".as_bytes(), b"tab\tkey"] {
            let r = post_keyed(&app, "/v1/bookings", Some(&customer), Some(bad), &body).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}: {}", String::from_utf8_lossy(bad), r.text);
            assert_eq!(r.code(), "invalid_idempotency_key");
        }
        assert_eq!(booking_count(&app, &customer).await, 0, "an invalid key never reaches the handler");
        // A body over 64 KiB is 413 before anything is claimed.
        let mut huge = body.clone();
        huge["address"] = json!("x".repeat(70 * 1024));
        let r = post_keyed(&app, "/v1/bookings", Some(&customer), Some(b"huge-body"), &huge).await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
        assert_eq!(r.code(), "body_too_large");
        // The longest key is fine.
        let longest = "k".repeat(255);
        let ok = post_keyed(&app, "/v1/bookings", Some(&customer), Some(longest.as_bytes()), &body).await;
        assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
        // Without a valid token the request passes through untouched: the handler says 401.
        for token in [None, Some("not-a-token")] {
            let anon = post_keyed(&app, "/v1/bookings", token, Some(b"anon-key"), &body).await;
            assert_eq!(anon.status, StatusCode::UNAUTHORIZED, "{}", anon.text);
            assert!(!replayed(&anon));
        }
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn live_claims_are_409_and_dead_claims_may_be_retried(app) {
        use quartier_store::idempotency::{self as idem, Begin};
        let (helper_id, _, _) = app.helper_with_profile(&["wifi"]).await;
        let (customer_id, customer, _) = app.signed_up("customer").await;
        let body = booking(&helper_id, &start_in_days(12));
        let bytes = serde_json::to_vec(&body).expect("json");
        let fingerprint = quartier_api::idempotency::fingerprint(&Method::POST, "/v1/bookings", &bytes);
        let now = jiff::Timestamp::now().as_millisecond();
        let mut conn = app.store.pool().acquire().await.expect("connection");

        // A request with this key is running (claimed just now): 409, and nothing runs.
        let live = new_key();
        assert!(matches!(idem::begin(&mut conn, &customer_id, &live, &fingerprint, now).await.expect("claim"), Begin::Started(_)));
        let busy = post_keyed(&app, "/v1/bookings", Some(&customer), Some(live.as_bytes()), &body).await;
        assert_eq!(busy.status, StatusCode::CONFLICT, "{}", busy.text);
        assert_eq!(busy.code(), "idempotency_in_progress");
        assert_eq!(header(&busy, "retry-after"), Some("1"));
        assert_eq!(booking_count(&app, &customer).await, 0);

        // A claim older than a minute belongs to a process that died: the retry runs.
        let stale = new_key();
        assert!(matches!(idem::begin(&mut conn, &customer_id, &stale, &fingerprint, now - 61_000).await.expect("claim"), Begin::Started(_)));
        let retried = post_keyed(&app, "/v1/bookings", Some(&customer), Some(stale.as_bytes()), &body).await;
        assert_eq!(retried.status, StatusCode::CREATED, "{}", retried.text);
        assert!(!replayed(&retried));
        let replay = post_keyed(&app, "/v1/bookings", Some(&customer), Some(stale.as_bytes()), &body).await;
        assert_eq!((replay.status, replay.text.as_str()), (StatusCode::CREATED, retried.text.as_str()));
        assert_eq!(booking_count(&app, &customer).await, 1);

        // A stored 5xx frees the key (the middleware deletes its claim; a stored one is dead too),
        // and so does a row older than a day, even before it is purged.
        for (key_age, status) in [(0, 503), (idem::RETAIN_MS + 1_000, 201)] {
            let key = new_key();
            let Begin::Started(claim) = idem::begin(&mut conn, &customer_id, &key, &fingerprint, now - key_age).await.expect("claim") else {
                panic!("a new key is free");
            };
            let stored = idem::StoredResponse { status, headers: "[]".into(), body: b"old".to_vec() };
            assert!(idem::complete(&mut conn, &customer_id, &key, claim, &stored, now - key_age).await.expect("complete"));
            let r = post_keyed(&app, "/v1/bookings", Some(&customer), Some(key.as_bytes()), &body).await;
            assert_ne!(r.text, "old", "a dead row is not replayed");
            assert!(!replayed(&r));
            // The booking exists already (slot taken): the request ran and its 409 is stored now.
            assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
            let again = post_keyed(&app, "/v1/bookings", Some(&customer), Some(key.as_bytes()), &body).await;
            assert_eq!((again.status, again.text.as_str(), replayed(&again)), (StatusCode::CONFLICT, r.text.as_str(), true));
        }
        // An abandoned claim frees the key at once.
        let released = new_key();
        let Begin::Started(claim) = idem::begin(&mut conn, &customer_id, &released, &fingerprint, now).await.expect("claim") else {
            panic!("a new key is free");
        };
        assert!(idem::abandon(&mut conn, &customer_id, &released, claim).await.expect("abandon"));
        assert!(matches!(idem::begin(&mut conn, &customer_id, &released, "other", now).await.expect("claim"), Begin::Started(_)));
        assert_eq!(booking_count(&app, &customer).await, 1);

        // Rows older than a day are purged.
        let purged = idem::purge(&mut conn, now + idem::RETAIN_MS).await.expect("purge");
        assert!(purged >= 5, "purged {purged}");
        assert_eq!(idem::purge(&mut conn, now + idem::RETAIN_MS).await.expect("purge"), 0);
        drop(conn);
        app.drain_outbox().await;
        app.finish().await;
    }
}
