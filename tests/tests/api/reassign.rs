//! Operators acting on a booking on someone's behalf: reassigning it to another approved helper,
//! cancelling it, completing it; always with a reason, which the audit log keeps.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{Res, TestApp};

fn start_in_days(days: i64, hh: u8) -> String {
    let d = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().checked_add(jiff::Span::new().days(days)).expect("date");
    format!("{d}T{hh:02}:00:00Z")
}

async fn book(app: &TestApp, customer: &str, helper_id: &str, start: &str) -> Res {
    let b = app
        .post(
            "/v1/bookings",
            Some(customer),
            json!({"service": "guest-wifi", "address": "Seefeldstrasse 9, 8008 Zürich", "start": start, "helper_id": helper_id}),
        )
        .await;
    assert_eq!(b.status, StatusCode::CREATED, "{}", b.text);
    b
}

async fn act(app: &TestApp, token: &str, id: &str, body: Value) -> Res {
    app.post(&format!("/v1/bookings/{id}/transitions"), Some(token), body).await
}

async fn state_of(app: &TestApp, id: &str) -> (String, String) {
    sqlx::query_as("SELECT state, helper_id FROM bookings WHERE id = $1").bind(id).fetch_one(app.store.pool()).await.expect("booking")
}

/// (operator_id, action, reason) of the audit entries about `subject`, in order.
async fn audit(app: &TestApp, subject: &str) -> Vec<(String, String, String)> {
    sqlx::query_as("SELECT operator_id, action, reason FROM audit_log WHERE subject_id = $1 ORDER BY at, id")
        .bind(subject)
        .fetch_all(app.store.pool())
        .await
        .expect("audit")
}

async fn notice_kinds(app: &TestApp, token: &str, booking: &str) -> Vec<String> {
    let f = app.get("/v1/notifications?limit=100", Some(token)).await;
    assert_eq!(f.status, StatusCode::OK, "{}", f.text);
    f.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|n| n["booking_id"] == booking)
        .map(|n| n["kind"].as_str().expect("kind").to_owned())
        .collect()
}

async fn me(app: &TestApp, token: &str) -> String {
    let m = app.get("/v1/me", Some(token)).await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.text);
    m.body["id"].as_str().expect("id").to_owned()
}

both_backends! {
    async fn an_operator_reassigns_a_visit_to_another_approved_helper(app) {
        let (old_id, old, _) = app.helper_with_profile(&["wifi"]).await;
        let (new_id, new, _) = app.helper_with_profile(&["wifi"]).await;
        let (customer_id, customer, _) = app.signed_up("customer").await;
        let (unvetted_id, _, _) = app.signed_up("helper").await;
        let operator = app.operator().await;
        let operator_id = me(&app, &operator).await;
        let b = book(&app, &customer, &old_id, &start_in_days(3, 9)).await;
        let id = b.body["id"].as_str().expect("id").to_owned();
        let start_code = b.body["start_code"].as_str().expect("code").to_owned();
        let accepted = act(&app, &old, &id, json!({"action": "accept"})).await;
        assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text);
        assert!(!notice_kinds(&app, &old, &id).await.contains(&"booking_cancelled".to_owned()));

        // Parties cannot reassign; a helper who is not on it does not even see it.
        for token in [&customer, &old] {
            let r = act(&app, token, &id, json!({"action": "reassign", "helper_id": new_id, "reason": "I want someone else"})).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
            assert_eq!(r.code(), "not_allowed");
        }
        let r = act(&app, &new, &id, json!({"action": "reassign", "helper_id": new_id, "reason": "Let me take it"})).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);

        // Operators need a reason and an approved helper other than the current one.
        for body in [
            json!({"action": "reassign", "helper_id": new_id}),
            json!({"action": "reassign", "helper_id": new_id, "reason": "   "}),
        ] {
            let r = act(&app, &operator, &id, body).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
            assert_eq!(r.code(), "reason_required");
        }
        for not_approved in [&unvetted_id, &customer_id, &operator_id] {
            let r = act(&app, &operator, &id, json!({"action": "reassign", "helper_id": not_approved, "reason": "Helper is ill"})).await;
            assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
            assert_eq!(r.code(), "helper_not_approved");
        }
        let (tv_only, _, _) = app.helper_with_profile(&["tv"]).await;
        let unskilled = act(&app, &operator, &id, json!({"action": "reassign", "helper_id": tv_only, "reason": "Helper is ill"})).await;
        assert_eq!(unskilled.status, StatusCode::CONFLICT, "{}", unskilled.text);
        assert_eq!(unskilled.code(), "helper_lacks_skill");
        let same = act(&app, &operator, &id, json!({"action": "reassign", "helper_id": old_id, "reason": "Helper is ill"})).await;
        assert_eq!(same.status, StatusCode::BAD_REQUEST, "{}", same.text);
        assert_eq!(same.code(), "same_helper");
        assert_eq!(state_of(&app, &id).await, ("accepted".to_owned(), old_id.clone()), "refused attempts change nothing");
        assert!(audit(&app, &id).await.is_empty(), "refused attempts are not audited");

        let moved = act(&app, &operator, &id, json!({"action": "reassign", "helper_id": new_id, "reason": "Helper is ill"})).await;
        assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
        assert_eq!(moved.body["state"], "accepted");
        assert_eq!(moved.body["helper_id"], new_id.as_str());
        assert_eq!(state_of(&app, &id).await, ("accepted".to_owned(), new_id.clone()));
        let last = moved.body["timeline"].as_array().expect("timeline").last().cloned().expect("entry");
        assert_eq!((last["action"].as_str(), last["actor"].as_str(), last["note"].as_str()), (Some("reassign"), Some("operator"), Some("Helper is ill")));

        // The audit log says who, what and why.
        let entries = audit(&app, &id).await;
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!((entries[0].0.as_str(), entries[0].1.as_str()), (operator_id.as_str(), "booking.reassign"));
        assert!(entries[0].2.contains("Helper is ill") && entries[0].2.contains(&old_id) && entries[0].2.contains(&new_id), "{entries:?}");

        // The old helper is told and loses the booking; the new one has it and works it.
        assert!(notice_kinds(&app, &old, &id).await.contains(&"booking_cancelled".to_owned()));
        assert!(notice_kinds(&app, &customer, &id).await.contains(&"booking_reassigned".to_owned()));
        assert!(notice_kinds(&app, &new, &id).await.contains(&"booking_accepted".to_owned()));
        assert_eq!(app.get(&format!("/v1/bookings/{id}"), Some(&old)).await.status, StatusCode::NOT_FOUND);
        let gone = act(&app, &old, &id, json!({"action": "confirm"})).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.text);
        let seen = app.get(&format!("/v1/bookings/{id}"), Some(&new)).await;
        assert_eq!(seen.status, StatusCode::OK, "{}", seen.text);
        assert_eq!(seen.body["address"], "Seefeldstrasse 9, 8008 Zürich", "the new helper sees the address");
        let confirmed = act(&app, &new, &id, json!({"action": "confirm"})).await;
        assert_eq!(confirmed.body["state"], "confirmed", "{}", confirmed.text);
        let arrived = act(&app, &new, &id, json!({"action": "arrive", "code": start_code})).await;
        assert_eq!(arrived.body["state"], "on_site", "{}", arrived.text);
        let mine = app.get("/v1/bookings", Some(&new)).await;
        assert!(mine.body["items"].as_array().expect("items").iter().any(|i| i["id"] == id.as_str()), "{}", mine.text);
        let theirs = app.get("/v1/bookings", Some(&old)).await;
        assert!(!theirs.body["items"].as_array().expect("items").iter().any(|i| i["id"] == id.as_str()), "{}", theirs.text);

        // A request nobody accepted yet can be reassigned too: it is accepted for the new helper.
        let fresh = book(&app, &customer, &old_id, &start_in_days(4, 9)).await;
        let fresh_id = fresh.body["id"].as_str().expect("id").to_owned();
        let moved = act(&app, &operator, &fresh_id, json!({"action": "reassign", "helper_id": new_id, "reason": "Faster helper available"})).await;
        assert_eq!(moved.body["state"], "accepted", "{}", moved.text);
        assert_eq!(moved.body["helper_id"], new_id.as_str());
        // Done visits are not reassigned.
        let done = act(&app, &operator, &id, json!({"action": "complete", "reason": "Customer confirmed by phone"})).await;
        assert_eq!(done.body["state"], "done", "{}", done.text);
        let late = act(&app, &operator, &id, json!({"action": "reassign", "helper_id": old_id, "reason": "Too late"})).await;
        assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.text);
        assert_eq!(late.code(), "invalid_transition");
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn operators_cancel_and_complete_only_with_a_reason(app) {
        let (helper_id, helper, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let operator = app.operator().await;
        let operator_id = me(&app, &operator).await;

        // Cancel.
        let b = book(&app, &customer, &helper_id, &start_in_days(3, 9)).await;
        let id = b.body["id"].as_str().expect("id").to_owned();
        act(&app, &helper, &id, json!({"action": "accept"})).await;
        for body in [json!({"action": "cancel"}), json!({"action": "cancel", "reason": ""})] {
            let r = act(&app, &operator, &id, body).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
            assert_eq!(r.code(), "reason_required");
        }
        assert_eq!(state_of(&app, &id).await.0, "accepted");
        for token in [&customer, &helper] {
            assert!(!notice_kinds(&app, token, &id).await.contains(&"booking_cancelled".to_owned()));
        }
        let cancelled = act(&app, &operator, &id, json!({"action": "cancel", "reason": "Fraudulent booking reported"})).await;
        assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text);
        assert_eq!(cancelled.body["state"], "cancelled_by_operator");
        for token in [&customer, &helper] {
            assert!(notice_kinds(&app, token, &id).await.contains(&"booking_cancelled".to_owned()));
        }
        let entries = audit(&app, &id).await;
        assert_eq!(entries, [(operator_id.clone(), "booking.cancel".to_owned(), "Fraudulent booking reported".to_owned())]);

        // Complete, from on site, without the customer's code.
        let b = book(&app, &customer, &helper_id, &start_in_days(4, 9)).await;
        let id = b.body["id"].as_str().expect("id").to_owned();
        let code = b.body["start_code"].as_str().expect("code").to_owned();
        act(&app, &helper, &id, json!({"action": "accept"})).await;
        let on_site = act(&app, &helper, &id, json!({"action": "arrive", "code": code})).await;
        assert_eq!(on_site.body["state"], "on_site", "{}", on_site.text);
        let r = act(&app, &operator, &id, json!({"action": "complete"})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
        assert_eq!(r.code(), "reason_required");
        assert_eq!(state_of(&app, &id).await.0, "on_site");
        let no_code = act(&app, &helper, &id, json!({"action": "complete"})).await;
        assert_eq!(no_code.code(), "wrong_signoff_code", "helpers still need the code");
        let done = act(&app, &operator, &id, json!({"action": "complete", "reason": "Customer confirmed by phone"})).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.text);
        assert_eq!(done.body["state"], "done");
        let mut conn = app.store.pool().acquire().await.expect("conn");
        let p = quartier_store::ledger::postings_of_booking(&mut conn, &id).await.expect("postings");
        drop(conn);
        assert!(p.iter().any(|r| r.kind == "booking_completed"), "completion is charged");
        let entries = audit(&app, &id).await;
        assert_eq!(entries, [(operator_id, "booking.complete".to_owned(), "Customer confirmed by phone".to_owned())]);
        app.drain_outbox().await;
        app.finish().await;
    }
}
