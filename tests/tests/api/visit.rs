use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{Backend, Res, TestApp, spawn_app_with};

fn start_in_days(days: i64, hh: u8, mm: u8) -> String {
    let d = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().checked_add(jiff::Span::new().days(days)).expect("date");
    format!("{d}T{hh:02}:{mm:02}:00Z")
}

async fn book(app: &TestApp, token: &str, helper: &str, start: &str) -> Res {
    app.post(
        "/v1/bookings",
        Some(token),
        json!({"service": "guest-wifi", "address": "Seestrasse 12, 8002 Zürich", "start": start, "helper_id": helper}),
    )
    .await
}

async fn act(app: &TestApp, token: &str, id: &str, body: Value) -> Res {
    app.post(&format!("/v1/bookings/{id}/transitions"), Some(token), body).await
}

fn id_of(r: &Res) -> String {
    r.body["id"].as_str().expect("booking id").to_owned()
}

both_backends! {
    async fn a_visit_runs_from_request_to_reviews(app) {
        let (helper_id, helper, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let b = book(&app, &customer, &helper_id, &start_in_days(3, 9, 0)).await;
        assert_eq!(b.status, StatusCode::CREATED, "{}", b.text);
        let id = id_of(&b);
        let start_code = b.body["start_code"].as_str().expect("the customer sees the start code").to_owned();
        assert_eq!(start_code.len(), 4);
        assert!(b.body.get("signoff_code").is_none(), "the sign-off code appears only on site");

        for (action, state) in [("accept", "accepted"), ("confirm", "confirmed"), ("en_route", "en_route")] {
            let r = act(&app, &helper, &id, json!({"action": action})).await;
            assert_eq!(r.status, StatusCode::OK, "{action}: {}", r.text);
            assert_eq!(r.body["state"], state);
            assert!(r.body.get("start_code").is_none(), "the helper never sees the codes");
        }
        let wrong = act(&app, &helper, &id, json!({"action": "arrive", "code": "xxxx"})).await;
        assert_eq!(wrong.status, StatusCode::CONFLICT);
        assert_eq!(wrong.code(), "wrong_start_code");
        let arrived = act(&app, &helper, &id, json!({"action": "arrive", "code": start_code})).await;
        assert_eq!(arrived.body["state"], "on_site", "{}", arrived.text);

        // A change of scope needs the customer's consent, and then the price grows.
        let proposed = act(&app, &helper, &id, json!({"action": "propose_change", "extra_units": 2})).await;
        assert_eq!(proposed.body["pending_extra_units"], 2, "{}", proposed.text);
        let self_approve = act(&app, &helper, &id, json!({"action": "approve_change"})).await;
        assert_eq!(self_approve.status, StatusCode::FORBIDDEN);
        let approved = act(&app, &customer, &id, json!({"action": "approve_change"})).await;
        assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
        assert_eq!(approved.body["extra_units"], 2);
        let before = b.body["price"]["amount_rappen"].as_i64().expect("price");
        assert_eq!(approved.body["price"]["amount_rappen"], before + 2 * 2000);
        assert_eq!(approved.body["price_breakdown"].as_array().expect("lines").last().expect("line")["kind"], "extra_units");

        let on_site = app.get(&format!("/v1/bookings/{id}"), Some(&customer)).await;
        let signoff = on_site.body["signoff_code"].as_str().expect("the customer sees the sign-off code on site").to_owned();
        let bad = act(&app, &helper, &id, json!({"action": "complete", "code": "0000x"})).await;
        assert_eq!(bad.code(), "wrong_signoff_code");
        let done = act(&app, &helper, &id, json!({"action": "complete", "code": signoff})).await;
        assert_eq!(done.body["state"], "done", "{}", done.text);

        // Messages and reviews both ways; a review is hidden until both are in.
        let m = app.post(&format!("/v1/bookings/{id}/messages"), Some(&customer), json!({"body": "Thanks, all works!"})).await;
        assert_eq!(m.status, StatusCode::CREATED, "{}", m.text);
        let msgs = app.get(&format!("/v1/bookings/{id}/messages"), Some(&helper)).await;
        assert_eq!(msgs.body["items"][0]["body"], "Thanks, all works!");
        let r1 = app.post(&format!("/v1/bookings/{id}/review"), Some(&customer), json!({"rating": 5, "text": "Patient and quick."})).await;
        assert_eq!(r1.status, StatusCode::CREATED, "{}", r1.text);
        let twice = app.post(&format!("/v1/bookings/{id}/review"), Some(&customer), json!({"rating": 4})).await;
        assert_eq!(twice.code(), "already_reviewed");
        let helper_view = app.get(&format!("/v1/bookings/{id}/reviews"), Some(&helper)).await;
        assert!(helper_view.body["items"].as_array().expect("items").is_empty());
        assert_eq!(helper_view.body["hidden_from_you"], true);
        let r2 = app.post(&format!("/v1/bookings/{id}/review"), Some(&helper), json!({"rating": 5, "text": "Friendly customer."})).await;
        assert_eq!(r2.status, StatusCode::CREATED);
        let both = app.get(&format!("/v1/bookings/{id}/reviews"), Some(&helper)).await;
        assert_eq!(both.body["items"].as_array().expect("items").len(), 2);
        let bad_rating = app.post(&format!("/v1/bookings/{id}/review"), Some(&helper), json!({"rating": 9})).await;
        assert_eq!(bad_rating.code(), "invalid_rating");

        let timeline = app.get(&format!("/v1/bookings/{id}"), Some(&customer)).await;
        let steps: Vec<&str> = timeline.body["timeline"].as_array().expect("timeline").iter().map(|e| e["action"].as_str().unwrap_or("")).collect();
        assert_eq!(steps, ["request", "accept", "confirm", "en_route", "arrive", "propose_change", "approve_change", "complete"]);
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn a_failed_visit_records_its_cause(app) {
        let (helper_id, helper, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let id = id_of(&book(&app, &customer, &helper_id, &start_in_days(3, 10, 0)).await);
        act(&app, &helper, &id, json!({"action": "accept"})).await;
        act(&app, &helper, &id, json!({"action": "en_route"})).await;
        let no_cause = act(&app, &helper, &id, json!({"action": "report_failed", "cause": "bad_weather"})).await;
        assert_eq!(no_cause.code(), "invalid_failure_cause");
        let failed = act(&app, &helper, &id, json!({"action": "report_failed", "cause": "line_not_active"})).await;
        assert_eq!(failed.body["state"], "failed_visit", "{}", failed.text);
        assert_eq!(failed.body["failure_cause"], "line_not_active");
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn a_reschedule_needs_the_other_party(app) {
        let (helper_id, helper, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let id = id_of(&book(&app, &customer, &helper_id, &start_in_days(4, 9, 0)).await);
        act(&app, &helper, &id, json!({"action": "accept"})).await;
        let new_start = start_in_days(5, 13, 0);
        let proposed = act(&app, &customer, &id, json!({"action": "reschedule", "start": new_start})).await;
        assert_eq!(proposed.status, StatusCode::OK, "{}", proposed.text);
        assert_eq!(proposed.body["pending_by"], "customer");
        let own = act(&app, &customer, &id, json!({"action": "accept_reschedule"})).await;
        assert_eq!(own.code(), "no_reschedule_pending");
        let agreed = act(&app, &helper, &id, json!({"action": "accept_reschedule"})).await;
        assert_eq!(agreed.status, StatusCode::OK, "{}", agreed.text);
        let moved: jiff::Timestamp = agreed.body["starts_at"].as_str().expect("start").parse().expect("rfc3339");
        assert_eq!(moved, new_start.parse::<jiff::Timestamp>().expect("ts"));
        assert!(agreed.body["pending_start"].is_null());
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn a_no_show_can_be_reported_only_after_the_start(app) {
        let (helper_id, helper, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let id = id_of(&book(&app, &customer, &helper_id, &start_in_days(3, 11, 0)).await);
        act(&app, &helper, &id, json!({"action": "accept"})).await;
        let early = act(&app, &helper, &id, json!({"action": "mark_no_show"})).await;
        assert_eq!(early.code(), "too_early_for_no_show");
        // Let the visit's start lie 20 minutes in the past.
        let past = jiff::Timestamp::now().as_millisecond() - 20 * 60_000;
        sqlx::query("UPDATE bookings SET starts_at = $1, ends_at = $2, blocked_from = $3, blocked_to = $4 WHERE id = $5")
            .bind(past)
            .bind(past + 45 * 60_000)
            .bind(past - 15 * 60_000)
            .bind(past + 60 * 60_000)
            .bind(&id)
            .execute(app.store.pool())
            .await
            .expect("move the start");
        let r = act(&app, &customer, &id, json!({"action": "mark_no_show"})).await;
        assert_eq!(r.body["state"], "no_show_helper", "{}", r.text);
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn wrong_actors_change_nothing(app) {
        let (helper_id, helper, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let (_, stranger, _) = app.signed_up("customer").await;
        let (_, other_helper, _) = app.helper_with_profile(&["wifi"]).await;
        let id = id_of(&book(&app, &customer, &helper_id, &start_in_days(6, 9, 0)).await);
        let actions = ["accept", "decline", "cancel", "confirm", "en_route", "arrive", "propose_change", "approve_change", "reject_change", "complete", "report_failed", "mark_no_show", "reschedule", "accept_reschedule", "decline_reschedule"];
        for action in actions {
            for outsider in [&stranger, &other_helper] {
                let r = act(&app, outsider, &id, json!({"action": action})).await;
                assert_eq!(r.status, StatusCode::NOT_FOUND, "{action} by an outsider: {}", r.text);
            }
            // The customer may only cancel a request; everything else is refused.
            if action != "cancel" {
                let r = act(&app, &customer, &id, json!({"action": action})).await;
                assert!(r.status == StatusCode::FORBIDDEN || r.status == StatusCode::CONFLICT, "{action} by the customer: {}", r.text);
            }
        }
        let now = app.get(&format!("/v1/bookings/{id}"), Some(&customer)).await;
        assert_eq!(now.body["state"], "requested");
        assert_eq!(now.body["timeline"].as_array().expect("timeline").len(), 1, "nothing was recorded");
        let expire = act(&app, &helper, &id, json!({"action": "expire"})).await;
        assert_eq!(expire.code(), "unknown_action", "people cannot send the timers' action");
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn sixty_four_concurrent_bookings_of_one_slot_let_one_through(app) {
        let (helper_id, _, _) = app.helper_with_profile(&["wifi"]).await;
        let mut tokens = Vec::new();
        for _ in 0..16 {
            tokens.push(app.signed_up("customer").await.1);
        }
        let start = start_in_days(9, 14, 0);
        let results = join_all((0..64).map(|i| book(&app, &tokens[i % tokens.len()], &helper_id, &start))).await;
        let created = results.iter().filter(|r| r.status == StatusCode::CREATED).count();
        let refused = results.iter().filter(|r| r.status == StatusCode::CONFLICT).count();
        assert_eq!((created, refused), (1, 63), "{:?}", results.iter().map(|r| r.status).collect::<Vec<_>>());
        // Partly overlapping ranges: starts every 15 minutes across two hours.
        let day = start_in_days(10, 0, 0);
        let starts: Vec<String> = (0..64)
            .map(|i| {
                let minute = (i % 8) * 15;
                day.replace("T00:00", &format!("T{:02}:{:02}", 10 + minute / 60, minute % 60))
            })
            .collect();
        let results = join_all(starts.iter().enumerate().map(|(i, start)| book(&app, &tokens[i % tokens.len()], &helper_id, start))).await;
        assert!(
            results.iter().all(|r| r.status == StatusCode::CREATED || r.status == StatusCode::CONFLICT),
            "{:?}",
            results.iter().filter(|r| r.status != StatusCode::CREATED && r.status != StatusCode::CONFLICT).map(|r| r.text.clone()).collect::<Vec<_>>()
        );
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT blocked_from, blocked_to FROM bookings WHERE helper_id = $1 AND state IN ('requested', 'accepted', 'confirmed', 'en_route', 'on_site')",
        )
        .bind(&helper_id)
        .fetch_all(app.store.pool())
        .await
        .expect("rows");
        for (i, a) in rows.iter().enumerate() {
            for b in rows.iter().skip(i + 1) {
                assert!(a.1 <= b.0 || b.1 <= a.0, "overlap in the table: {a:?} {b:?}");
            }
        }
        assert!(rows.len() >= 2, "some of the partly overlapping requests fit");
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn reminders_are_stored_as_timers_at_their_due_times(app) {
        let (helper_id, helper, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let start = start_in_days(5, 15, 0);
        let id = id_of(&book(&app, &customer, &helper_id, &start).await);
        act(&app, &helper, &id, json!({"action": "accept"})).await;
        let mut conn = app.store.pool().acquire().await.expect("conn");
        let timers = quartier_store::timers::of_booking(&mut conn, &id).await.expect("timers");
        let start_ms = start.parse::<jiff::Timestamp>().expect("ts").as_millisecond();
        let kinds: Vec<(&str, &str, i64)> = timers.iter().map(|(k, s, d)| (k.as_str(), s.as_str(), *d)).collect();
        assert!(kinds.contains(&("reminder_24h", "pending", start_ms - 24 * 3_600_000)), "{kinds:?}");
        assert!(kinds.contains(&("reminder_1h", "pending", start_ms - 3_600_000)), "{kinds:?}");
        drop(conn);
        app.drain_outbox().await;
        app.finish().await;
    }
}

/// A request nobody answers expires, even when the server that took it stopped before the timer
/// was due: the next server finds the timer in the database and runs it once.
async fn unanswered_requests_expire_after_a_restart(backend: Backend) {
    // The first server never looks at timers (a poll of an hour).
    let first = spawn_app_with(backend, |s| {
        s.request_ttl_minutes = 0;
        s.timer_poll_ms = 3_600_000;
    })
    .await;
    let (helper_id, _, _) = first.helper_with_profile(&["wifi"]).await;
    let (_, customer, customer_email) = {
        let (id, token, _) = first.signed_up("customer").await;
        let me = first.get("/v1/me", Some(&token)).await;
        (id, token, me.body["email"].as_str().expect("email").to_owned())
    };
    let id = id_of(&book(&first, &customer, &helper_id, &start_in_days(3, 9, 0)).await);
    first.drain_outbox().await;
    let url = first.database_url.clone();
    // A second server on the same database, with a normal timer worker, takes over.
    let second = spawn_app_with(backend, |s| {
        s.database_url = Some(quartier_server::Secret::new(url));
        s.timer_poll_ms = 50;
    })
    .await;
    let mut state = String::new();
    for _ in 0..100 {
        state = second.get(&format!("/v1/bookings/{id}"), Some(&customer)).await.body["state"].as_str().unwrap_or("").to_owned();
        if state == "expired" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(state, "expired");
    crate::harness::wait_for_mail(&customer_email, "Request expired").await;
    let mut conn = second.store.pool().acquire().await.expect("conn");
    let timers = quartier_store::timers::of_booking(&mut conn, &id).await.expect("timers");
    assert_eq!(timers.iter().filter(|(k, s, _)| k == "request_expiry" && s == "done").count(), 1, "{timers:?}");
    drop(conn);
    second.drain_outbox().await;
    second.finish().await;
    first.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_survive_a_restart_sqlite() {
    unanswered_requests_expire_after_a_restart(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_survive_a_restart_postgres() {
    unanswered_requests_expire_after_a_restart(Backend::Postgres).await;
}
