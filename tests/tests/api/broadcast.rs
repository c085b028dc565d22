use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::harness::{Backend, Res, TestApp, spawn_app_with, wait_for_mail};

fn start_in_days(days: i64) -> String {
    let d = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().checked_add(jiff::Span::new().days(days)).expect("date");
    format!("{d}T10:00:00Z")
}

async fn ask_anyone(app: &TestApp, token: &str, start: &str) -> Res {
    app.post(
        "/v1/bookings",
        Some(token),
        json!({"service": "guest-wifi", "address": "Limmatquai 3, 8001 Zürich", "start": start, "location": {"lat": 47.3725, "lon": 8.5430}}),
    )
    .await
}

async fn accept(app: &TestApp, token: &str, id: &str) -> Res {
    app.post(&format!("/v1/bookings/{id}/transitions"), Some(token), json!({"action": "accept"})).await
}

both_backends! {
    async fn the_first_helper_to_accept_gets_the_job(app) {
        let mut helpers = Vec::new();
        for _ in 0..3 {
            helpers.push(app.helper_with_profile(&["wifi"]).await);
        }
        let (_, customer, _) = app.signed_up("customer").await;
        let customer_email = app.get("/v1/me", Some(&customer)).await.body["email"].as_str().expect("email").to_owned();
        let r = ask_anyone(&app, &customer, &start_in_days(4)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.body["state"], "offered");
        assert!(r.body["helper_id"].is_null());
        let id = r.body["id"].as_str().expect("id").to_owned();
        // Every candidate sees the offer, without the address.
        for (_, token, email) in &helpers {
            let offers = app.get("/v1/offers", Some(token)).await;
            let offer = offers.body["items"].as_array().expect("items").iter().find(|o| o["id"] == id.as_str()).cloned().expect("offered");
            assert!(offer["address"].is_null(), "{offer}");
            wait_for_mail(email, "New request").await;
        }
        let (winner_id, winner, _) = &helpers[1];
        let won = accept(&app, winner, &id).await;
        assert_eq!(won.status, StatusCode::OK, "{}", won.text);
        assert_eq!(won.body["state"], "accepted");
        assert_eq!(won.body["helper_id"], winner_id.as_str());
        assert_eq!(won.body["address"], "Limmatquai 3, 8001 Zürich");
        let late = accept(&app, &helpers[0].1, &id).await;
        assert_eq!(late.status, StatusCode::CONFLICT);
        assert_eq!(late.code(), "already_taken");
        let mine = app.get(&format!("/v1/bookings/{id}"), Some(&customer)).await;
        assert_eq!(mine.body["helper_id"], winner_id.as_str());
        assert!(app.get("/v1/offers", Some(&helpers[2].1)).await.body["items"].as_array().expect("items").iter().all(|o| o["id"] != id.as_str()));
        wait_for_mail(&customer_email, "Confirmed: Guest Wi-Fi set-up").await;
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn nobody_nearby_is_a_clear_409(app) {
        let (_, customer, _) = app.signed_up("customer").await;
        let r = ask_anyone(&app, &customer, &start_in_days(4)).await;
        assert_eq!(r.status, StatusCode::CONFLICT);
        assert_eq!(r.code(), "no_helper_available");
        let none = app.get("/v1/bookings", Some(&customer)).await;
        assert!(none.body["items"].as_array().expect("items").is_empty(), "nothing half written");
        let nowhere = app.post("/v1/bookings", Some(&customer), json!({"service": "guest-wifi", "address": "Limmatquai 3, 8001 Zürich", "start": start_in_days(4)})).await;
        assert_eq!(nowhere.code(), "place_required");
        app.finish().await;
    }
}

/// 64 helpers get the same request and all accept at once: exactly one wins.
async fn sixty_four_accepts(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.broadcast_fanout = 64;
        s.login_attempts_per_address = 1_000;
    })
    .await;
    let mut helpers: Vec<String> = Vec::new();
    for _ in 0..64 {
        helpers.push(app.helper_with_profile(&["wifi"]).await.1);
    }
    let (_, customer, _) = app.signed_up("customer").await;
    let r = ask_anyone(&app, &customer, &start_in_days(5)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_str().expect("id").to_owned();
    let timed = join_all(helpers.iter().map(|h| {
        let (app, id) = (&app, &id);
        async move {
            let started = Instant::now();
            let r = accept(app, h, id).await;
            (r, started.elapsed())
        }
    }))
    .await;
    let winners = timed.iter().filter(|(r, _)| r.status == StatusCode::OK).count();
    let taken = timed.iter().filter(|(r, _)| r.status == StatusCode::CONFLICT && r.body["code"] == "already_taken").count();
    assert_eq!((winners, taken), (1, 63), "{:?}", timed.iter().map(|(r, _)| r.status).collect::<Vec<_>>());
    let mut latencies: Vec<Duration> = timed.iter().map(|(_, d)| *d).collect();
    latencies.sort();
    println!("64-way accept on {backend:?}: p50 {:?}, p99 {:?}", latencies[31], latencies[63]);
    let bookings: (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM bookings WHERE id = $1").bind(&id).fetch_one(app.store.pool()).await.expect("count");
    assert_eq!(bookings.0, 1);
    app.drain_outbox().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_helpers_accept_at_once_sqlite() {
    sixty_four_accepts(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_helpers_accept_at_once_postgres() {
    sixty_four_accepts(Backend::Postgres).await;
}

/// Unanswered offers expire, the next candidates get the request, and when nobody is left the
/// request expires with a message to the customer.
async fn rounds_then_expiry(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.broadcast_fanout = 1;
        s.offer_ttl_minutes = 0;
        s.timer_poll_ms = 50;
    })
    .await;
    let (first, _, _) = app.helper_with_profile(&["wifi"]).await;
    let (second, _, _) = app.helper_with_profile(&["wifi"]).await;
    let (_, customer, _) = app.signed_up("customer").await;
    let email = app.get("/v1/me", Some(&customer)).await.body["email"].as_str().expect("email").to_owned();
    let r = ask_anyone(&app, &customer, &start_in_days(6)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_str().expect("id").to_owned();
    let mut state = String::new();
    for _ in 0..200 {
        state = app.get(&format!("/v1/bookings/{id}"), Some(&customer)).await.body["state"].as_str().unwrap_or("").to_owned();
        if state == "expired" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state, "expired");
    let offered: Vec<(String, String)> = sqlx::query_as("SELECT helper_id, state FROM offers WHERE request_id = $1 ORDER BY round")
        .bind(&id)
        .fetch_all(app.store.pool())
        .await
        .expect("offers");
    let helpers: Vec<&str> = offered.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(helpers.len(), 2, "{offered:?}");
    assert!(helpers.contains(&first.as_str()) && helpers.contains(&second.as_str()));
    assert!(offered.iter().all(|(_, s)| s == "expired"));
    wait_for_mail(&email, "Request expired").await;
    app.drain_outbox().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_offers_move_on_then_expire_sqlite() {
    rounds_then_expiry(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_offers_move_on_then_expire_postgres() {
    rounds_then_expiry(Backend::Postgres).await;
}
