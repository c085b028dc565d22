//! Every limit answers with its own code: open requests per customer, request timeout, page size,
//! search window and body size (the mail limit and hashing slots have their own tests or notes).

use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::harness::spawn_app_with;

fn start_in_days(days: i64, hh: u8) -> String {
    let d = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().checked_add(jiff::Span::new().days(days)).expect("date");
    format!("{d}T{hh:02}:00:00Z")
}

both_backends! {
    async fn a_customer_keeps_only_five_requests_waiting(app) {
        let (helper_id, helper, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let mut ids = Vec::new();
        for h in [6u8, 8, 10, 12, 14] {
            let b = app
                .post("/v1/bookings", Some(&customer), json!({"service": "guest-wifi", "address": "Seefeldstrasse 9, 8008 Zürich", "start": start_in_days(3, h), "helper_id": helper_id}))
                .await;
            assert_eq!(b.status, StatusCode::CREATED, "{}", b.text);
            ids.push(b.body["id"].as_str().expect("id").to_owned());
        }
        let sixth = app
            .post("/v1/bookings", Some(&customer), json!({"service": "guest-wifi", "address": "Seefeldstrasse 9, 8008 Zürich", "start": start_in_days(3, 16), "helper_id": helper_id}))
            .await;
        assert_eq!((sixth.status, sixth.code()), (StatusCode::TOO_MANY_REQUESTS, "too_many_open_requests"), "{}", sixth.text);
        assert!(sixth.headers.contains_key("retry-after"));
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bookings").fetch_one(app.store.pool()).await.expect("count");
        assert_eq!(count, 5, "the refused request wrote nothing");
        // An answer frees a place.
        let r = app.post(&format!("/v1/bookings/{}/transitions", ids[0]), Some(&helper), json!({"action": "accept"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let again = app
            .post("/v1/bookings", Some(&customer), json!({"service": "guest-wifi", "address": "Seefeldstrasse 9, 8008 Zürich", "start": start_in_days(3, 16), "helper_id": helper_id}))
            .await;
        assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn page_size_and_search_window_have_their_own_codes(app) {
        let (_, customer, _) = app.signed_up("customer").await;
        let big = app.get("/v1/bookings?limit=101", Some(&customer)).await;
        assert_eq!((big.status, big.code()), (StatusCode::BAD_REQUEST, "page_too_large"));
        let from = jiff::Timestamp::now().checked_add(jiff::SignedDuration::from_hours(24)).expect("from");
        let to = from.checked_add(jiff::SignedDuration::from_hours(24 * 40)).expect("to");
        let wide = app
            .post("/v1/matches", Some(&customer), json!({"service": "guest-wifi", "postcode": "8008", "window": {"from": from.to_string(), "to": to.to_string()}}))
            .await;
        assert_eq!((wide.status, wide.code()), (StatusCode::BAD_REQUEST, "window_too_long"), "{}", wide.text);
        let body = "x".repeat(70 * 1024);
        let huge = app.raw_post("/v1/auth/login", "application/json", format!("{{\"email\":\"{body}\"}}").into_bytes()).await;
        assert_eq!((huge.status, huge.code()), (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"));
        app.finish().await;
    }
}

mod timeout {
    use super::*;
    use crate::harness::Backend;

    /// With a 1 ms request timeout a registration (a password hash) does not answer in time:
    /// 503 `request_timeout` with `Retry-After`, never a hang.
    async fn slow_answers_are_cut_off(backend: Backend) {
        // A real password cost (64 MiB, 4 passes) takes far longer than the 1 ms allowed.
        let app = spawn_app_with(backend, |s| {
            s.request_timeout_ms = 1;
            s.password_memory_kib = 64 * 1024;
            s.password_iterations = 4;
        })
        .await;
        let r = app.post("/v1/auth/register", None, json!({"email": "slow@example.ch", "password": "correct horse battery", "name": "Slow", "role": "customer", "locale": "en"})).await;
        assert_eq!((r.status, r.code()), (StatusCode::SERVICE_UNAVAILABLE, "request_timeout"), "{}", r.text);
        assert_eq!(r.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
        app.finish().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_answers_are_cut_off_sqlite() {
        slow_answers_are_cut_off(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_answers_are_cut_off_postgres() {
        slow_answers_are_cut_off(Backend::Postgres).await;
    }
}
