use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{TestApp, wait_for_mail};

/// A start time `days` from now at 14:00 UTC, RFC 3339.
fn start_in_days(days: i64) -> String {
    let d = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().checked_add(jiff::Span::new().days(days)).expect("date");
    format!("{d}T14:00:00Z")
}

async fn book(app: &TestApp, token: &str, helper_id: &str, start: &str) -> crate::harness::Res {
    app.post(
        "/v1/bookings",
        Some(token),
        json!({"service": "guest-wifi", "address": "Langstrasse 21, 8004 Zürich", "start": start, "helper_id": helper_id}),
    )
    .await
}

async fn act(app: &TestApp, token: &str, booking: &Value, action: &str) -> crate::harness::Res {
    let id = booking["id"].as_str().expect("booking id");
    app.post(&format!("/v1/bookings/{id}/transitions"), Some(token), json!({"action": action})).await
}

both_backends! {
    async fn a_booking_from_request_to_done_mails_both_parties(app) {
        // The helper signs up and describes themselves.
        let (helper_id, helper, helper_email) = app.helper_with_profile(&["wifi", "router"]).await;
        // The customer signs up, browses the catalogue and finds the helper.
        let customer_email = crate::harness::unique_email("customer");
        assert_eq!(app.register(&customer_email, "customer").await.status, StatusCode::CREATED);
        let customer = app.login(&customer_email, "correct horse battery").await.body["access_token"].as_str().expect("token").to_owned();
        let catalog = app.get("/v1/catalog", None).await;
        let wifi = catalog.body["items"].as_array().expect("items").iter().find(|s| s["slug"] == "guest-wifi").expect("wifi").clone();
        let found = app.get("/v1/helpers?skill=wifi&limit=100", None).await;
        assert!(found.body["items"].as_array().expect("items").iter().any(|h| h["id"] == helper_id.as_str()));
        assert!(!found.text.contains("47.3769"), "a helper's home location is private: {}", found.text);

        // The customer books; the price is the catalogue's.
        let booked = book(&app, &customer, &helper_id, &start_in_days(3)).await;
        assert_eq!(booked.status, StatusCode::CREATED, "{}", booked.text);
        assert_eq!(booked.body["state"], "requested");
        // The price is the catalogue's base plus the lines of the upfront quote, locked in.
        let lines = booked.body["price_breakdown"].as_array().expect("breakdown");
        assert_eq!(lines[0]["kind"], "base");
        assert_eq!(lines[0]["amount"], wifi["base_price"]);
        let sum: i64 = lines.iter().map(|l| l["amount"]["amount_rappen"].as_i64().expect("amount")).sum();
        assert_eq!(booked.body["price"]["amount_rappen"], sum);
        assert!(lines.iter().any(|l| l["kind"] == "travel"), "{lines:?}");
        assert!(booked.body["starts_at"].as_str().expect("start").ends_with("+01:00") || booked.body["starts_at"].as_str().expect("start").ends_with("+02:00"));

        // The helper sees the offer, without the address until they accept.
        let offers = app.get("/v1/offers", Some(&helper)).await;
        let offer = offers.body["items"].as_array().expect("items").iter().find(|o| o["id"] == booked.body["id"]).expect("offer").clone();
        assert!(offer["address"].is_null(), "{offer}");
        wait_for_mail(&helper_email, "New request: Guest Wi-Fi set-up").await;

        let accepted = act(&app, &helper, &booked.body, "accept").await;
        assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text);
        assert_eq!(accepted.body["state"], "accepted");
        assert_eq!(accepted.body["address"], "Langstrasse 21, 8004 Zürich");
        let confirmed = wait_for_mail(&customer_email, "Confirmed: Guest Wi-Fi set-up").await;
        assert!(confirmed.contains("Message-ID: <") || confirmed.contains("Message-Id: <"), "{confirmed}");

        // On site: the customer's start code opens the visit, their sign-off code closes it.
        let code = booked.body["start_code"].as_str().expect("start code").to_owned();
        let id = booked.body["id"].as_str().expect("id").to_owned();
        let arrived = app.post(&format!("/v1/bookings/{id}/transitions"), Some(&helper), json!({"action": "arrive", "code": code})).await;
        assert_eq!(arrived.status, StatusCode::OK, "{}", arrived.text);
        let signoff = app.get(&format!("/v1/bookings/{id}"), Some(&customer)).await.body["signoff_code"].as_str().expect("sign-off").to_owned();
        let done = app.post(&format!("/v1/bookings/{id}/transitions"), Some(&helper), json!({"action": "complete", "code": signoff})).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.text);
        assert_eq!(done.body["state"], "done");
        let to_customer = wait_for_mail(&customer_email, "Done: Guest Wi-Fi set-up").await;
        let to_helper = wait_for_mail(&helper_email, "Done: Guest Wi-Fi set-up").await;
        assert!(to_customer.contains("Hello Test customer"), "{to_customer}");
        assert!(to_helper.contains("Hello Test helper"), "{to_helper}");

        // Both see the whole timeline.
        let id = booked.body["id"].as_str().expect("id");
        for token in [&customer, &helper] {
            let b = app.get(&format!("/v1/bookings/{id}"), Some(token)).await;
            let steps: Vec<&str> = b.body["timeline"].as_array().expect("timeline").iter().map(|e| e["action"].as_str().unwrap_or("")).collect();
            let process: Vec<&str> = steps.iter().copied().filter(|s| *s != "address_revealed").collect();
            assert_eq!(process, ["request", "accept", "arrive", "complete"]);
            // The helper was shown the address, and the timeline records it.
            assert_eq!(steps.contains(&"address_revealed"), token == &helper, "{steps:?}");
        }
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn mail_comes_in_the_readers_language(app) {
        let (helper_id, _, helper_email) = app.helper_with_profile(&["wifi"]).await;
        // The helper prefers German.
        let helper_token = app.login(&helper_email, "correct horse battery").await.body["access_token"].as_str().expect("t").to_owned();
        app.request(Method::PATCH, "/v1/me", Some(&helper_token), Some(json!({"locale": "de"}))).await;
        let (_, customer, _) = app.signed_up("customer").await;
        assert_eq!(book(&app, &customer, &helper_id, &start_in_days(4)).await.status, StatusCode::CREATED);
        let mail = wait_for_mail(&helper_email, "Neue Anfrage").await;
        assert!(mail.contains("Gr=C3=BCezi") || mail.contains("Grüezi"), "{mail}");
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn an_overlapping_booking_of_the_same_helper_is_409_slot_taken(app) {
        let (helper_id, helper, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, a, _) = app.signed_up("customer").await;
        let (_, b, _) = app.signed_up("customer").await;
        let start = start_in_days(5);
        let first = book(&app, &a, &helper_id, &start).await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
        let second = book(&app, &b, &helper_id, &start).await;
        assert_eq!(second.status, StatusCode::CONFLICT, "{}", second.text);
        assert_eq!(second.code(), "slot_unavailable");
        // Within the travel buffer also counts: 45 min job + 15 min buffers on both visits.
        let near = book(&app, &b, &helper_id, &start.replace("14:00", "15:00")).await;
        assert_eq!(near.status, StatusCode::CONFLICT, "{}", near.text);
        let clear = book(&app, &b, &helper_id, &start.replace("14:00", "15:15")).await;
        assert_eq!(clear.status, StatusCode::CREATED, "{}", clear.text);
        assert_eq!(act(&app, &b, &clear.body, "cancel").await.status, StatusCode::OK);
        // Once the first is declined, the time is free again.
        assert_eq!(act(&app, &helper, &first.body, "decline").await.status, StatusCode::OK);
        let again = book(&app, &b, &helper_id, &start).await;
        assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
        let mine = app.get("/v1/bookings", Some(&b)).await;
        assert_eq!(mine.body["items"].as_array().expect("items").len(), 2, "the refused attempts left nothing behind");
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn concurrent_bookings_of_one_slot_let_exactly_one_through(app) {
        let (helper_id, _, _) = app.helper_with_profile(&["wifi"]).await;
        let mut customers = Vec::new();
        for _ in 0..8 {
            customers.push(app.signed_up("customer").await.1);
        }
        let start = start_in_days(6);
        let results = join_all(customers.iter().map(|c| book(&app, c, &helper_id, &start))).await;
        let created = results.iter().filter(|r| r.status == StatusCode::CREATED).count();
        // The loser sees either the database's verdict (`slot_taken`) or, if the winner had
        // already committed, the index's (`slot_unavailable`).
        let taken = results
            .iter()
            .filter(|r| r.status == StatusCode::CONFLICT && (r.body["code"] == "slot_taken" || r.body["code"] == "slot_unavailable"))
            .count();
        assert_eq!((created, taken), (1, 7), "{:?}", results.iter().map(|r| (r.status, r.text.clone())).collect::<Vec<_>>());
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn only_the_right_party_may_take_each_step(app) {
        let (helper_id, helper, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let (_, stranger, _) = app.signed_up("customer").await;
        let (_, other_helper, _) = app.helper_with_profile(&["wifi"]).await;
        let b = book(&app, &customer, &helper_id, &start_in_days(7)).await.body;

        let by_customer = act(&app, &customer, &b, "accept").await;
        assert_eq!(by_customer.status, StatusCode::FORBIDDEN);
        assert_eq!(by_customer.code(), "not_allowed");
        for outsider in [&stranger, &other_helper] {
            let r = act(&app, outsider, &b, "cancel").await;
            assert_eq!(r.status, StatusCode::NOT_FOUND);
            let id = b["id"].as_str().expect("id");
            assert_eq!(app.get(&format!("/v1/bookings/{id}"), Some(outsider)).await.status, StatusCode::NOT_FOUND);
        }
        let early = act(&app, &helper, &b, "complete").await;
        assert_eq!(early.status, StatusCode::CONFLICT);
        assert_eq!(early.code(), "invalid_transition");
        assert_eq!(act(&app, &helper, &b, "accept").await.status, StatusCode::OK);
        let twice = act(&app, &helper, &b, "accept").await;
        assert_eq!(twice.status, StatusCode::CONFLICT);
        assert_eq!(twice.code(), "invalid_transition");
        let unknown = act(&app, &helper, &b, "teleport").await;
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
        assert_eq!(unknown.code(), "unknown_action");
        let cancelled = act(&app, &customer, &b, "cancel").await;
        assert_eq!(cancelled.body["state"], "cancelled_by_customer");
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn bookings_check_their_inputs(app) {
        let (helper_id, _, _) = app.helper_with_profile(&["tv"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let start = start_in_days(8);
        let cases = [
            (json!({"service": "guest-wifi", "address": "Langstrasse 21, 8004 Zürich", "start": start, "helper_id": helper_id}), "helper_lacks_skill"),
            (json!({"service": "moon-landing", "address": "Langstrasse 21, 8004 Zürich", "start": start, "helper_id": helper_id}), "unknown_service"),
            (json!({"service": "tv-box", "address": "x", "start": start, "helper_id": helper_id}), "invalid_address"),
            (json!({"service": "tv-box", "address": "Langstrasse 21, 8004 Zürich", "start": start}), "place_required"),
            (json!({"service": "tv-box", "address": "Langstrasse 21, 8004 Zürich", "start": "2020-01-01T10:00:00Z", "helper_id": helper_id}), "start_too_soon"),
            (json!({"service": "tv-box", "address": "Langstrasse 21, 8004 Zürich", "start": start, "helper_id": uuid::Uuid::now_v7().to_string()}), "unknown_helper"),
        ];
        for (body, code) in cases {
            let r = app.post("/v1/bookings", Some(&customer), body).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
            assert_eq!(r.code(), code);
        }
        let bad_time = app.post("/v1/bookings", Some(&customer), json!({"service": "tv-box", "address": "Langstrasse 21", "start": "tomorrow", "helper_id": helper_id})).await;
        assert_eq!(bad_time.status, StatusCode::BAD_REQUEST);
        assert_eq!(bad_time.code(), "invalid_body");
        assert!(app.get("/v1/bookings", Some(&customer)).await.body["items"].as_array().expect("items").is_empty());
        app.finish().await;
    }
}
