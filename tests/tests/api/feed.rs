use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{TestApp, wait_for_mail};

fn start_in_days(days: i64, hh: u8) -> String {
    let d = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().checked_add(jiff::Span::new().days(days)).expect("date");
    format!("{d}T{hh:02}:00:00Z")
}

async fn book(app: &TestApp, token: &str, helper: &str, start: &str) -> Value {
    let r = app
        .post(
            "/v1/bookings",
            Some(token),
            json!({"service": "guest-wifi", "address": "Seestrasse 12, 8002 Zürich", "start": start, "helper_id": helper}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

/// Reads server-sent events until `want` notifications arrived or `within` passed.
async fn read_events(resp: &mut reqwest::Response, want: usize, within: Duration) -> Vec<(i64, Value)> {
    let started = Instant::now();
    let mut buf = String::new();
    let mut events = Vec::new();
    while events.len() < want && started.elapsed() < within {
        let left = within.saturating_sub(started.elapsed());
        let Ok(Ok(Some(chunk))) = tokio::time::timeout(left, resp.chunk()).await else { break };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut id = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().parse::<i64>().ok();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = serde_json::from_str::<Value>(v.trim()).ok();
                }
            }
            if let (Some(id), Some(data)) = (id, data) {
                events.push((id, data));
            }
        }
    }
    events
}

async fn open_stream(app: &TestApp, token: &str, last: Option<i64>) -> reqwest::Response {
    let mut req = app.client.get(format!("{}/v1/stream", app.base)).bearer_auth(token);
    if let Some(id) = last {
        req = req.header("Last-Event-ID", id.to_string());
    }
    let resp = req.send().await.expect("stream");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap_or("").starts_with("text/event-stream"));
    resp
}

both_backends! {
    async fn notices_land_in_the_feed_in_the_readers_language(app) {
        let (helper_id, helper, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let b = book(&app, &customer, &helper_id, &start_in_days(3, 9)).await;
        let feed = app.get("/v1/notifications", Some(&helper)).await;
        assert_eq!(feed.status, StatusCode::OK, "{}", feed.text);
        assert_eq!(feed.body["unread_count"], 1);
        let item = &feed.body["items"][0];
        assert_eq!(item["kind"], "booking_requested");
        assert_eq!(item["booking_id"], b["id"]);
        assert!(item["title"].as_str().unwrap_or("").starts_with("New request"), "{item}");
        let read = app.post("/v1/notifications/read", Some(&helper), json!({"ids": [item["id"]]})).await;
        assert_eq!(read.body["marked"], 1);
        assert_eq!(read.body["unread_count"], 0);
        assert!(app.get("/v1/notifications?unread=true", Some(&helper)).await.body["items"].as_array().expect("items").is_empty());
        assert!(app.get("/v1/notifications", Some(&customer)).await.body["items"].as_array().expect("items").is_empty(), "the customer was told nothing yet");
        assert_eq!(app.get("/v1/notifications", None).await.status, StatusCode::UNAUTHORIZED);
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn the_stream_pushes_offers_and_replays_missed_events(app) {
        let (helper_id, helper, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let mut stream = open_stream(&app, &helper, None).await;
        let started = Instant::now();
        let first = book(&app, &customer, &helper_id, &start_in_days(3, 9)).await;
        let got = read_events(&mut stream, 1, Duration::from_secs(5)).await;
        assert_eq!(got.len(), 1, "the offer reached the phone");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(got[0].1["kind"], "booking_requested");
        assert_eq!(got[0].1["booking_id"], first["id"]);
        let last = got[0].0;
        drop(stream);
        // While the phone is away, two more requests arrive.
        let second = book(&app, &customer, &helper_id, &start_in_days(4, 9)).await;
        let third = book(&app, &customer, &helper_id, &start_in_days(5, 9)).await;
        let mut resumed = open_stream(&app, &helper, Some(last)).await;
        let missed = read_events(&mut resumed, 2, Duration::from_secs(5)).await;
        let ids: Vec<&Value> = missed.iter().map(|(_, e)| &e["booking_id"]).collect();
        assert_eq!(ids, [&second["id"], &third["id"]], "{missed:?}");
        assert!(missed[0].0 > last && missed[1].0 > missed[0].0);
        let bad = app.client.get(format!("{}/v1/stream?access_token=nonsense", app.base)).send().await.expect("stream");
        assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
        drop(resumed);
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn a_confirmation_mail_has_html_and_a_calendar_file(app) {
        let (helper_id, helper, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let email = app.get("/v1/me", Some(&customer)).await.body["email"].as_str().expect("email").to_owned();
        let b = book(&app, &customer, &helper_id, &start_in_days(3, 9)).await;
        let id = b["id"].as_str().expect("id");
        let r = app.post(&format!("/v1/bookings/{id}/transitions"), Some(&helper), json!({"action": "accept"})).await;
        assert_eq!(r.status, StatusCode::OK);
        let mail = wait_for_mail(&email, "Confirmed: Guest Wi-Fi set-up").await;
        assert!(mail.contains("multipart/alternative") && mail.contains("text/html"), "{mail}");
        assert!(mail.contains("text/calendar") && mail.contains("visit.ics"), "{mail}");
        app.drain_outbox().await;
        app.finish().await;
    }
}

/// The first `/v1/links/...` URL in a raw message, undoing quoted-printable soft line breaks.
fn link_in(mail: &str) -> String {
    let flat = mail.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=");
    let at = flat.find("/v1/links/").expect("the mail carries a signed link");
    flat[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '-' | '_')).collect()
}

both_backends! {
    async fn a_helper_accepts_from_the_signed_link_in_the_mail(app) {
        let (helper_id, _, helper_email) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let b = book(&app, &customer, &helper_id, &start_in_days(3, 9)).await;
        let mail = wait_for_mail(&helper_email, "New request").await;
        let path = link_in(&mail);
        // Opening the link (as a mail scanner would) changes nothing.
        let shown = app.client.get(format!("{}{path}", app.base)).send().await.expect("get");
        assert_eq!(shown.status(), StatusCode::OK);
        assert!(shown.text().await.expect("html").contains("<form method=\"post\""));
        let id = b["id"].as_str().expect("id");
        assert_eq!(app.get(&format!("/v1/bookings/{id}"), Some(&customer)).await.body["state"], "requested");
        let accepted = app.client.post(format!("{}{path}", app.base)).send().await.expect("post");
        assert_eq!(accepted.status(), StatusCode::OK);
        let now = app.get(&format!("/v1/bookings/{id}"), Some(&customer)).await;
        assert_eq!(now.body["state"], "accepted");
        let by_link = now.body["timeline"].as_array().expect("timeline").iter().any(|e| e["action"] == "accept" && e["actor"] == "helper");
        assert!(by_link, "{}", now.text);
        let again = app.client.post(format!("{}{path}", app.base)).send().await.expect("post");
        assert_eq!(again.status(), StatusCode::CONFLICT);
        let forged = app.client.post(format!("{}{}x", app.base, path)).send().await.expect("post");
        assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
        app.drain_outbox().await;
        app.finish().await;
    }
}
