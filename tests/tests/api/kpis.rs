//! The operators' KPIs on a seeded set of bookings equal the hand-counted values, and the
//! coverage map shows the same requests.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{Res, TestApp};

fn start_in_days(days: i64, hh: u8) -> String {
    let d = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().checked_add(jiff::Span::new().days(days)).expect("date");
    format!("{d}T{hh:02}:00:00Z")
}

async fn book(app: &TestApp, customer: &str, helper: &str, start: &str) -> Res {
    let b = app
        .post(
            "/v1/bookings",
            Some(customer),
            json!({"service": "guest-wifi", "address": "Seefeldstrasse 9, 8008 Zürich", "start": start, "helper_id": helper}),
        )
        .await;
    assert_eq!(b.status, StatusCode::CREATED, "{}", b.text);
    b
}

async fn act(app: &TestApp, token: &str, id: &str, body: Value) {
    let r = app.post(&format!("/v1/bookings/{id}/transitions"), Some(token), body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{body}: {}", r.text);
}

/// Accepts, arrives and signs off; then the customer rates the helper.
async fn done(app: &TestApp, customer: &str, helper: &str, b: &Res, rating: u8) -> String {
    let id = b.body["id"].as_str().expect("id").to_owned();
    act(app, helper, &id, json!({"action": "accept"})).await;
    act(app, helper, &id, json!({"action": "arrive", "code": b.body["start_code"]})).await;
    let signoff = app.get(&format!("/v1/bookings/{id}"), Some(customer)).await.body["signoff_code"].clone();
    act(app, helper, &id, json!({"action": "complete", "code": signoff})).await;
    let r = app.post(&format!("/v1/bookings/{id}/review"), Some(customer), json!({"rating": rating, "text": "Good"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    id
}

/// Makes the booking look requested `ago` minutes ago and accepted `wait` minutes after that.
async fn backdate(app: &TestApp, id: &str, ago: i64, wait: Option<i64>) {
    let now = jiff::Timestamp::now().as_millisecond();
    let created = now - ago * 60_000;
    sqlx::query("UPDATE bookings SET created_at = $2 WHERE id = $1")
        .bind(id)
        .bind(created)
        .execute(app.store.pool())
        .await
        .expect("created");
    if let Some(w) = wait {
        let r = sqlx::query("UPDATE booking_events SET at = $2 WHERE booking_id = $1 AND action = 'accept'")
            .bind(id)
            .bind(created + w * 60_000)
            .execute(app.store.pool())
            .await
            .expect("accepted");
        assert_eq!(r.rows_affected(), 1, "one accept event");
    }
}

fn close(v: &Value, expected: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - expected).abs() < 1e-9)
}

both_backends! {
    async fn kpis_on_a_seeded_set_equal_the_hand_counted_values(app) {
        let (helper_id, helper, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let operator = app.operator().await;
        let empty = app.get("/v1/ops/metrics?weeks=2", Some(&operator)).await;
        assert_eq!(empty.status, StatusCode::OK, "{}", empty.text);
        assert_eq!(empty.body["overall"]["requests"], 0);
        assert!(empty.body["overall"]["fill_rate"].is_null(), "no rate without requests");

        // Five requests: done after 10 min (rated 5), cancelled after an accept at 50 min,
        // declined, still unanswered, and done after 180 min (rated 3, then disputed).
        let b1 = book(&app, &customer, &helper_id, &start_in_days(3, 8)).await;
        let id1 = done(&app, &customer, &helper, &b1, 5).await;
        let b2 = book(&app, &customer, &helper_id, &start_in_days(3, 11)).await;
        let id2 = b2.body["id"].as_str().expect("id").to_owned();
        act(&app, &helper, &id2, json!({"action": "accept"})).await;
        act(&app, &customer, &id2, json!({"action": "cancel"})).await;
        let b3 = book(&app, &customer, &helper_id, &start_in_days(3, 14)).await;
        let id3 = b3.body["id"].as_str().expect("id").to_owned();
        act(&app, &helper, &id3, json!({"action": "decline"})).await;
        let b4 = book(&app, &customer, &helper_id, &start_in_days(4, 8)).await;
        let id4 = b4.body["id"].as_str().expect("id").to_owned();
        let b5 = book(&app, &customer, &helper_id, &start_in_days(4, 12)).await;
        let id5 = done(&app, &customer, &helper, &b5, 3).await;
        let d = app.post(&format!("/v1/bookings/{id5}/dispute"), Some(&customer), json!({"reason": "poor_work", "text": "The Wi-Fi drops every hour."})).await;
        assert_eq!(d.status, StatusCode::CREATED, "{}", d.text);

        backdate(&app, &id1, 240, Some(10)).await;
        backdate(&app, &id2, 230, Some(50)).await;
        backdate(&app, &id3, 220, None).await;
        backdate(&app, &id4, 210, None).await;
        backdate(&app, &id5, 200, Some(180)).await;

        let m = app.get("/v1/ops/metrics?weeks=2", Some(&operator)).await;
        assert_eq!(m.status, StatusCode::OK, "{}", m.text);
        let k = &m.body["overall"];
        for (field, expected) in [("requests", 5), ("accepted", 3), ("completed", 2), ("cancelled", 1), ("no_shows", 0), ("disputes", 1), ("ratings", 2)] {
            assert_eq!(k[field], expected, "{field}: {k}");
        }
        for (field, expected) in [
            ("fill_rate", 0.6),
            ("accept_within_15m", 0.2),
            ("accept_within_1h", 0.4),
            ("accept_within_2h", 0.4),
            ("median_minutes_to_accept", 50.0),
            ("completion_rate", 2.0 / 3.0),
            ("cancellation_rate", 1.0 / 3.0),
            ("no_show_rate", 0.0),
            ("dispute_rate", 0.5),
            ("rating_avg", 4.0),
        ] {
            assert!(close(&k[field], expected), "{field}: expected {expected}, got {}", k[field]);
        }
        // The weeks add up to the whole, and every request is in the one neighbourhood of 8008.
        let weeks = m.body["weeks"].as_array().expect("weeks");
        assert!(!weeks.is_empty() && weeks.len() <= 2, "{weeks:?}");
        assert_eq!(weeks.iter().map(|w| w["requests"].as_i64().expect("n")).sum::<i64>(), 5);
        let areas = m.body["neighbourhoods"].as_array().expect("areas");
        assert_eq!(areas.len(), 1, "{areas:?}");
        assert_eq!(areas[0]["requests"], 5);
        assert!(areas[0]["name"].as_str().is_some_and(|n| !n.is_empty()), "a place name: {}", areas[0]);

        // The coverage map: the helper reaches that cell; two requests there went unfilled.
        let c = app.get("/v1/ops/coverage?weeks=2", Some(&operator)).await;
        assert_eq!(c.status, StatusCode::OK, "{}", c.text);
        let cell = c.body["cells"].as_array().expect("cells").iter().find(|x| x["cell"] == areas[0]["cell"]).cloned().expect("the cell");
        assert_eq!((cell["demand"].as_i64(), cell["unfilled"].as_i64()), (Some(5), Some(2)), "{cell}");
        assert!(cell["supply"].as_i64().expect("supply") >= 1);
        let svg = app.client.get(format!("{}/v1/ops/coverage.svg?weeks=2", app.base)).bearer_auth(&operator).send().await.expect("svg");
        assert_eq!(svg.headers()["content-type"].to_str().expect("type"), "image/svg+xml; charset=utf-8");
        let svg = svg.text().await.expect("text");
        assert!(svg.starts_with("<svg") && svg.contains("5 requests, 2 unfilled"), "{svg}");
        assert!(svg.matches("<polygon").count() >= 1);
        app.drain_outbox().await;
        app.finish().await;
    }
}
