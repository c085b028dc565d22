//! Super-helpers: levels follow a seeded history exactly, contests, private figures, the opt-in
//! leaderboard, preview services, invitations and the published thresholds.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{Res, TestApp, unique_email, wait_for_mail};

/// The matching crate's reputation module, compiled from its own source (the test crate does not
/// depend on quartier-matching), so the published thresholds are compared with the code itself.
#[allow(dead_code)]
#[path = "../../../crates/matching/src/reputation.rs"]
mod code;

fn start_in_days(days: i64, hh: u8) -> String {
    let d = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().checked_add(jiff::Span::new().days(days)).expect("date");
    format!("{d}T{hh:02}:00:00Z")
}

/// The n-th distinct start of a test (three a day, from three days ahead).
fn slot(n: i64) -> String {
    start_in_days(3 + n / 3, 7 + 4 * (n % 3) as u8)
}

async fn book(app: &TestApp, customer: &str, helper: &str, start: &str) -> Res {
    let b = app
        .post(
            "/v1/bookings",
            Some(customer),
            json!({"service": "guest-wifi", "address": "Seestrasse 12, 8002 Zürich", "start": start, "helper_id": helper}),
        )
        .await;
    assert_eq!(b.status, StatusCode::CREATED, "{}", b.text);
    b
}

async fn act(app: &TestApp, token: &str, id: &str, body: Value) -> Res {
    let r = app.post(&format!("/v1/bookings/{id}/transitions"), Some(token), body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{body}: {}", r.text);
    r
}

fn id_of(r: &Res) -> String {
    r.body["id"].as_str().expect("booking id").to_owned()
}

/// Books, accepts, arrives and signs off; then the customer rates the visit (if `rating`).
async fn done(app: &TestApp, customer: &str, helper_id: &str, helper: &str, start: &str, rating: Option<u8>) -> String {
    let b = book(app, customer, helper_id, start).await;
    let id = id_of(&b);
    act(app, helper, &id, json!({"action": "accept"})).await;
    act(app, helper, &id, json!({"action": "arrive", "code": b.body["start_code"]})).await;
    let signoff = app.get(&format!("/v1/bookings/{id}"), Some(customer)).await.body["signoff_code"].clone();
    let r = act(app, helper, &id, json!({"action": "complete", "code": signoff})).await;
    assert_eq!(r.body["state"], "done", "{}", r.text);
    if let Some(rating) = rating {
        let r = app.post(&format!("/v1/bookings/{id}/review"), Some(customer), json!({"rating": rating, "text": "Good"})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    id
}

/// The helper accepts, then cancels.
async fn helper_cancels(app: &TestApp, customer: &str, helper_id: &str, helper: &str, start: &str) -> String {
    let id = id_of(&book(app, customer, helper_id, start).await);
    act(app, helper, &id, json!({"action": "accept"})).await;
    let r = act(app, helper, &id, json!({"action": "cancel", "reason": "Sick, sorry"})).await;
    assert_eq!(r.body["state"], "cancelled_by_helper", "{}", r.text);
    id
}

/// The helper accepts; the start passes; the customer reports that nobody came.
async fn helper_no_show(app: &TestApp, customer: &str, helper_id: &str, helper: &str, start: &str) -> String {
    let id = id_of(&book(app, customer, helper_id, start).await);
    act(app, helper, &id, json!({"action": "accept"})).await;
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
    let r = act(app, customer, &id, json!({"action": "mark_no_show"})).await;
    assert_eq!(r.body["state"], "no_show_helper", "{}", r.text);
    id
}

/// Makes the booking look requested `ago` minutes ago and answered (accept or decline) `wait`
/// minutes after that.
async fn backdate(app: &TestApp, id: &str, ago: i64, wait: i64) {
    let created = jiff::Timestamp::now().as_millisecond() - ago * 60_000;
    sqlx::query("UPDATE bookings SET created_at = $2 WHERE id = $1")
        .bind(id)
        .bind(created)
        .execute(app.store.pool())
        .await
        .expect("created");
    let r = sqlx::query("UPDATE booking_events SET at = $2 WHERE booking_id = $1 AND action IN ('accept', 'decline')")
        .bind(id)
        .bind(created + wait * 60_000)
        .execute(app.store.pool())
        .await
        .expect("answered");
    assert_eq!(r.rows_affected(), 1, "one answer of {id}");
}

async fn metrics(app: &TestApp, token: &str) -> Value {
    let m = app.get("/v1/helper/metrics", Some(token)).await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.text);
    m.body
}

fn figure<'a>(m: &'a Value, name: &str) -> &'a Value {
    m["figures"].as_array().expect("figures").iter().find(|f| f["name"] == name).unwrap_or_else(|| panic!("no figure {name}: {m}"))
}

fn value(m: &Value, name: &str) -> Option<f64> {
    figure(m, name)["value"].as_f64()
}

fn bookings_of(m: &Value, name: &str) -> Vec<String> {
    let mut ids: Vec<String> =
        figure(m, name)["bookings"].as_array().expect("bookings").iter().map(|b| b.as_str().expect("id").to_owned()).collect();
    ids.sort();
    ids
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| (*s).clone()).collect();
    v.sort();
    v
}

/// The level changes that moved (from differs from to), newest first.
fn moves(m: &Value) -> Vec<Value> {
    m["changes"].as_array().expect("changes").iter().filter(|c| c["from"] != c["to"]).cloned().collect()
}

/// No stored level change leaves the level where it was.
async fn no_change_without_a_move(app: &TestApp) {
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT from_level, to_level, reason FROM level_changes WHERE from_level = to_level")
            .fetch_all(app.store.pool())
            .await
            .expect("level changes");
    assert!(rows.is_empty(), "level_changes holds changes that changed nothing: {rows:?}");
}

fn close(v: Option<f64>, expected: f64) -> bool {
    v.is_some_and(|x| (x - expected).abs() < 1e-9)
}

/// The caller's notices of one kind, newest first.
async fn notices(app: &TestApp, token: &str, kind: &str) -> Vec<Value> {
    let f = app.get("/v1/notifications?limit=100", Some(token)).await;
    assert_eq!(f.status, StatusCode::OK, "{}", f.text);
    assert!(f.body["next_cursor"].is_null(), "all notices on one page: {}", f.text);
    f.body["items"].as_array().expect("items").iter().filter(|n| n["kind"] == kind).cloned().collect()
}

/// Outbox rows of a template: their recipients.
async fn outbox_to(app: &TestApp, template: &str) -> Vec<String> {
    let mut r: Vec<String> = sqlx::query_scalar("SELECT recipient_id FROM outbox WHERE template = $1")
        .bind(template)
        .fetch_all(app.store.pool())
        .await
        .expect("outbox rows");
    r.sort();
    r
}

/// A mail's text with quoted-printable soft line breaks joined.
fn unfolded(raw: &str) -> String {
    raw.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=")
}

fn keys(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                out.push(k.clone());
                keys(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| keys(x, out)),
        _ => {}
    }
}

/// An approved helper with a public name, living at (lat, lon), free around the clock.
async fn helper_named(app: &TestApp, name: &str, lat: f64, lon: f64) -> (String, String, String) {
    let email = unique_email("helper");
    let r = app
        .post(
            "/v1/auth/register",
            None,
            json!({"email": email, "password": "correct horse battery", "name": name, "role": "helper", "locale": "en"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_str().expect("id").to_owned();
    let token = app.login(&email, "correct horse battery").await.body["access_token"].as_str().expect("token").to_owned();
    move_home(app, &token, lat, lon).await;
    let all_week: Vec<Value> =
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].iter().map(|d| json!({"weekday": d, "start": "00:00", "end": "24:00"})).collect();
    let a =
        app.request(Method::PUT, "/v1/helper/availability", Some(&token), Some(json!({"rules": all_week, "min_notice_minutes": 0}))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    app.approve(&token, &id).await;
    (id, token, email)
}

async fn move_home(app: &TestApp, token: &str, lat: f64, lon: f64) {
    let p = app
        .request(
            Method::PUT,
            "/v1/helper/profile",
            Some(token),
            Some(json!({"skills": ["wifi"], "home": {"lat": lat, "lon": lon}, "travel_radius_km": 5, "bio": "Happy to help.", "languages": ["de", "en"]})),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
}

/// Stores `super` for a helper directly and tells the match index (through the change feed).
async fn make_super(app: &TestApp, helper_id: &str) {
    let now = jiff::Timestamp::now().as_millisecond();
    sqlx::query(
        "INSERT INTO helper_levels (helper_id, level, since, reason, computed_at) VALUES ($1, 'super', $2, 'seeded by the test', $2)",
    )
    .bind(helper_id)
    .bind(now)
    .execute(app.store.pool())
    .await
    .expect("level");
    sqlx::query("INSERT INTO helper_changes (helper_id, at) VALUES ($1, $2)")
        .bind(helper_id)
        .bind(now)
        .execute(app.store.pool())
        .await
        .expect("change");
}

/// The Monday after next in Zurich, from 00:00 to 23:00, as a match window.
fn monday_window() -> Value {
    let zone = jiff::tz::TimeZone::get("Europe/Zurich").expect("zone");
    let mut d = jiff::Timestamp::now().to_zoned(zone.clone()).date().checked_add(jiff::Span::new().days(7)).expect("date");
    while d.weekday() != jiff::civil::Weekday::Monday {
        d = d.checked_add(jiff::Span::new().days(1)).expect("date");
    }
    let at = |h: i8| d.at(h, 0, 0, 0).to_zoned(zone.clone()).expect("time").timestamp().to_string();
    json!({"from": at(0), "to": at(23)})
}

async fn matches(app: &TestApp, customer: &str) -> Vec<Value> {
    let r = app
        .post(
            "/v1/matches",
            Some(customer),
            json!({"service": "guest-wifi", "location": {"lat": 47.3779, "lon": 8.5403}, "window": monday_window()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["items"].as_array().expect("items").clone()
}

fn match_ids(items: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|i| i["helper"]["id"].as_str().expect("id").to_owned()).collect();
    v.sort();
    v
}

fn level_component(items: &[Value], helper: &str) -> Option<f64> {
    let m = items.iter().find(|i| i["helper"]["id"] == helper)?;
    m["explanation"]["components"].as_array()?.iter().find(|c| c["name"] == "level")?["value"].as_f64()
}

async fn ask_anyone(app: &TestApp, token: &str, start: &str) -> Res {
    app.post(
        "/v1/bookings",
        Some(token),
        json!({"service": "guest-wifi", "address": "Limmatquai 3, 8001 Zürich", "start": start, "location": {"lat": 47.3725, "lon": 8.5430}}),
    )
    .await
}

async fn offer_ids(app: &TestApp, token: &str) -> Vec<String> {
    let o = app.get("/v1/offers", Some(token)).await;
    assert_eq!(o.status, StatusCode::OK, "{}", o.text);
    o.body["items"].as_array().expect("items").iter().map(|x| x["id"].as_str().expect("id").to_owned()).collect()
}

/// Five visits done and rated 5 (trusted), then a helper cancellation and a no-show (new again).
/// Returns (done ids, the cancellation, the no-show).
async fn trusted_then_dropped(app: &TestApp, customer: &str, helper_id: &str, helper: &str) -> (Vec<String>, String, String) {
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(done(app, customer, helper_id, helper, &slot(n), Some(5)).await);
    }
    assert_eq!(metrics(app, helper).await["level"], "trusted");
    let cancelled = helper_cancels(app, customer, helper_id, helper, &slot(5)).await;
    let no_show = helper_no_show(app, customer, helper_id, helper, &slot(6)).await;
    assert_eq!(metrics(app, helper).await["level"], "new");
    (ids, cancelled, no_show)
}

both_backends! {
    async fn levels_follow_a_seeded_history_exactly(app) {
        let (helper_id, helper, helper_email) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let fresh = metrics(&app, &helper).await;
        assert_eq!(fresh["level"], "new");
        assert_eq!(fresh["window_days"], 90);
        assert_eq!(fresh["next_level"], "trusted: 0 of 5 jobs completed in 90 days");

        // A declined request: answered, not accepted.
        let declined = id_of(&book(&app, &customer, &helper_id, &slot(0)).await);
        act(&app, &helper, &declined, json!({"action": "decline"})).await;

        // Four visits done and rated 5: still new, one job short.
        let mut done_ids = Vec::new();
        for n in 1..=4 {
            done_ids.push(done(&app, &customer, &helper_id, &helper, &slot(n), Some(5)).await);
            let m = metrics(&app, &helper).await;
            assert_eq!(m["level"], "new", "after {n} done: {m}");
            assert_eq!(m["next_level"], format!("trusted: {n} of 5 jobs completed in 90 days"));
        }
        let m = metrics(&app, &helper).await;
        assert_eq!(value(&m, "jobs_completed"), Some(4.0));
        assert_eq!(value(&m, "average_rating"), Some(5.0));
        assert!(moves(&m).is_empty(), "no level change yet: {}", m["changes"]);
        assert!(notices(&app, &helper, "level_changed").await.is_empty());
        assert!(outbox_to(&app, "level_changed").await.is_empty(), "no level mail while nothing changed");

        // The fifth, rated 4: trusted. 5 jobs, (4 * 5 + 4) / 5 = 4.8 over 5 ratings.
        done_ids.push(done(&app, &customer, &helper_id, &helper, &slot(5), Some(4)).await);
        let m = metrics(&app, &helper).await;
        assert_eq!(m["level"], "trusted", "{m}");
        assert_eq!(m["next_level"], "super: 5 of 20 jobs completed in 90 days");
        assert_eq!(value(&m, "jobs_completed"), Some(5.0));
        assert!(close(value(&m, "average_rating"), 4.8), "{}", figure(&m, "average_rating"));
        assert_eq!(value(&m, "ratings"), Some(5.0));
        let done_sorted = sorted(&done_ids.iter().collect::<Vec<_>>());
        assert_eq!(bookings_of(&m, "jobs_completed"), done_sorted);
        assert_eq!(bookings_of(&m, "average_rating"), done_sorted);
        assert_eq!(bookings_of(&m, "ratings"), done_sorted);
        for name in ["helper_cancellations", "no_shows", "failed_visits", "disputes_lost"] {
            assert_eq!(value(&m, name), Some(0.0), "{name}");
            assert!(bookings_of(&m, name).is_empty(), "{name}");
        }
        let changes = moves(&m);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!((changes[0]["from"].as_str(), changes[0]["to"].as_str()), (Some("new"), Some("trusted")));
        assert_eq!(changes[0]["reason"], "trusted thresholds met");
        let up = notices(&app, &helper, "level_changed").await;
        assert_eq!(up.len(), 1, "{up:?}");
        wait_for_mail(&helper_email, "Your level: Trusted").await;
        let public = app.get(&format!("/v1/helpers/{helper_id}"), None).await;
        assert_eq!(public.body["level"], "trusted", "{}", public.text);

        // One helper cancellation is allowed ...
        let cancelled = helper_cancels(&app, &customer, &helper_id, &helper, &slot(6)).await;
        let m = metrics(&app, &helper).await;
        assert_eq!(m["level"], "trusted", "one incident is within the threshold: {m}");
        assert_eq!(bookings_of(&m, "helper_cancellations"), vec![cancelled.clone()]);
        // ... a second incident, a no-show, is not.
        let no_show = helper_no_show(&app, &customer, &helper_id, &helper, &slot(7)).await;
        let m = metrics(&app, &helper).await;
        let reason = "trusted no longer met: 2 cancellations, no-shows or failed visits, more than 1";
        assert_eq!(m["level"], "new", "{m}");
        assert_eq!(m["next_level"], "trusted: 2 cancellations, no-shows or failed visits, more than 1");
        assert_eq!(bookings_of(&m, "no_shows"), vec![no_show.clone()]);
        assert_eq!(bookings_of(&m, "helper_cancellations"), vec![cancelled.clone()]);
        assert_eq!(value(&m, "jobs_completed"), Some(5.0));
        let changes = moves(&m);
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert_eq!((changes[0]["from"].as_str(), changes[0]["to"].as_str()), (Some("trusted"), Some("new")));
        assert_eq!(changes[0]["reason"], reason);
        let down = notices(&app, &helper, "level_changed").await;
        assert_eq!(down.len(), 2, "{down:?}");
        let mail = unfolded(&wait_for_mail(&helper_email, "Your level: New").await);
        assert!(mail.contains(reason), "the mail names the reason: {mail}");
        assert_eq!(outbox_to(&app, "level_changed").await, vec![helper_id.clone(), helper_id.clone()]);

        // Answer times fixed by hand: declined after 5 minutes, the done visits accepted after
        // 10, 20, 30, 40 and 50, the cancelled one after 60, the no-show after 70.
        backdate(&app, &declined, 600, 5).await;
        for (i, id) in done_ids.iter().enumerate() {
            backdate(&app, id, 590 - 10 * i as i64, 10 * (i as i64 + 1)).await;
        }
        backdate(&app, &cancelled, 500, 60).await;
        backdate(&app, &no_show, 490, 70).await;
        let m = metrics(&app, &helper).await;
        // Median of 5, 10, 20, 30, 40, 50, 60, 70 = (30 + 40) / 2; 7 of 8 accepted.
        assert!(close(value(&m, "response_minutes"), 35.0), "{}", figure(&m, "response_minutes"));
        assert!(close(value(&m, "acceptance_rate"), 7.0 / 8.0), "{}", figure(&m, "acceptance_rate"));
        let mut all: Vec<&String> = done_ids.iter().collect();
        all.extend([&declined, &cancelled, &no_show]);
        assert_eq!(bookings_of(&m, "response_minutes"), sorted(&all));
        assert_eq!(bookings_of(&m, "acceptance_rate"), sorted(&all));
        // Checked last so they do not hide the rest: the feed entry of a move down names its
        // reason like the mail, and a level that stayed is no change.
        let feed_text = format!("{} {}", down[0]["title"], down[0]["body"]);
        assert!(feed_text.contains(reason), "the feed entry names the reason: {}", down[0]);
        assert_eq!(m["changes"].as_array().expect("changes").len(), 2, "only the two real changes are listed: {}", m["changes"]);
        no_change_without_a_move(&app).await;
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn a_contest_accepted_by_an_operator_removes_the_booking_and_restores_the_level(app) {
        let (helper_id, helper, _) = app.helper_with_profile(&["wifi"]).await;
        let (other_id, other, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let operator = app.operator().await;
        let (_, cancelled, no_show) = trusted_then_dropped(&app, &customer, &helper_id, &helper).await;
        let others = done(&app, &customer, &other_id, &other, &slot(7), None).await;

        let not_mine = app.post("/v1/helper/metrics/contest", Some(&helper), json!({"figure": "no_shows", "booking_id": others, "text": "That was not my visit at all."})).await;
        assert_eq!(not_mine.status, StatusCode::BAD_REQUEST, "{}", not_mine.text);
        assert_eq!(not_mine.code(), "unknown_booking");
        let unknown = app.post("/v1/helper/metrics/contest", Some(&helper), json!({"figure": "karma", "text": "My karma is better than that."})).await;
        assert_eq!(unknown.code(), "unknown_figure");

        // A rejected contest changes nothing.
        let c1 = app.post("/v1/helper/metrics/contest", Some(&helper), json!({"figure": "helper_cancellations", "booking_id": cancelled, "text": "The customer asked me to cancel."})).await;
        assert_eq!(c1.status, StatusCode::CREATED, "{}", c1.text);
        let c2 = app.post("/v1/helper/metrics/contest", Some(&helper), json!({"figure": "no_shows", "booking_id": no_show, "text": "I rang twice; nobody opened the door."})).await;
        assert_eq!(c2.status, StatusCode::CREATED, "{}", c2.text);
        assert_eq!(c2.body["status"], "open");
        let (c1, c2) = (c1.body["id"].as_str().expect("id").to_owned(), c2.body["id"].as_str().expect("id").to_owned());
        let queue = app.get("/v1/ops/contests", Some(&operator)).await;
        assert_eq!(queue.status, StatusCode::OK, "{}", queue.text);
        let open: Vec<&str> = queue.body["items"].as_array().expect("items").iter().map(|c| c["id"].as_str().expect("id")).collect();
        assert_eq!(open, [c1.as_str(), c2.as_str()]);
        assert_eq!(app.get("/v1/ops/contests", Some(&helper)).await.status, StatusCode::FORBIDDEN);

        let rejected = app.post(&format!("/v1/ops/contests/{c1}/decide"), Some(&operator), json!({"accept": false, "answer": "The chat shows you cancelled."})).await;
        assert_eq!(rejected.status, StatusCode::OK, "{}", rejected.text);
        assert_eq!(rejected.body["status"], "rejected");
        let m = metrics(&app, &helper).await;
        assert_eq!(m["level"], "new");
        assert_eq!(bookings_of(&m, "helper_cancellations"), vec![cancelled.clone()]);
        assert_eq!(bookings_of(&m, "no_shows"), vec![no_show.clone()]);

        // Accepted: the no-show leaves the figures, one incident is left, trusted again.
        let accepted = app.post(&format!("/v1/ops/contests/{c2}/decide"), Some(&operator), json!({"accept": true, "answer": "The doorbell log shows you were there."})).await;
        assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text);
        assert_eq!(accepted.body["status"], "accepted");
        assert_eq!(accepted.body["answer"], "The doorbell log shows you were there.");
        let again = app.post(&format!("/v1/ops/contests/{c2}/decide"), Some(&operator), json!({"accept": false, "answer": "Changed my mind."})).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert_eq!(again.code(), "contest_decided");
        let m = metrics(&app, &helper).await;
        assert_eq!(m["level"], "trusted", "{m}");
        assert_eq!(value(&m, "no_shows"), Some(0.0));
        assert!(bookings_of(&m, "no_shows").is_empty());
        assert_eq!(bookings_of(&m, "helper_cancellations"), vec![cancelled.clone()]);
        assert!(!bookings_of(&m, "acceptance_rate").contains(&no_show), "the booking left every figure");
        let changes = moves(&m);
        assert_eq!(changes.len(), 3, "{changes:?}");
        assert_eq!((changes[0]["from"].as_str(), changes[0]["to"].as_str()), (Some("new"), Some("trusted")), "{changes:?}");
        assert_eq!(changes[0]["reason"], "trusted thresholds met");
        let statuses: Vec<(&str, &str)> = m["contests"].as_array().expect("contests").iter().map(|c| (c["id"].as_str().unwrap_or(""), c["status"].as_str().unwrap_or(""))).collect();
        assert!(statuses.contains(&(c1.as_str(), "rejected")) && statuses.contains(&(c2.as_str(), "accepted")), "{statuses:?}");
        assert_eq!(notices(&app, &helper, "level_changed").await.len(), 3, "up, down and up again, each announced");
        assert_eq!(outbox_to(&app, "level_changed").await, vec![helper_id.clone(); 3]);
        let audit: Vec<(String, String)> = sqlx::query_as("SELECT action, subject_id FROM audit_log WHERE action LIKE 'contest.%' ORDER BY at, id")
            .fetch_all(app.store.pool())
            .await
            .expect("audit");
        assert_eq!(audit, vec![("contest.rejected".to_owned(), helper_id.clone()), ("contest.accepted".to_owned(), helper_id.clone())]);
        no_change_without_a_move(&app).await;
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn helpers_never_see_each_others_figures(app) {
        let (a_id, a, _) = app.helper_with_profile(&["wifi"]).await;
        let (b_id, b, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let mut a_ids = Vec::new();
        for n in 0..5 {
            a_ids.push(done(&app, &customer, &a_id, &a, &slot(n), Some(5)).await);
        }
        let b_done = done(&app, &customer, &b_id, &b, &slot(5), Some(3)).await;
        let b_declined = id_of(&book(&app, &customer, &b_id, &slot(6)).await);
        act(&app, &b, &b_declined, json!({"action": "decline"})).await;

        assert_eq!(app.get("/v1/helper/metrics", Some(&customer)).await.status, StatusCode::FORBIDDEN);
        assert_eq!(app.get("/v1/helper/metrics", None).await.status, StatusCode::UNAUTHORIZED);
        let operator = app.operator().await;
        assert_eq!(app.get("/v1/helper/metrics", Some(&operator)).await.status, StatusCode::FORBIDDEN);
        let contest = app.post("/v1/helper/metrics/contest", Some(&customer), json!({"figure": "no_shows", "text": "Customers cannot contest."})).await;
        assert_eq!(contest.status, StatusCode::FORBIDDEN);

        let everything = |m: &Value| -> Vec<String> {
            let mut all: Vec<String> = m["figures"].as_array().expect("figures").iter().flat_map(|f| f["bookings"].as_array().expect("ids").iter().map(|x| x.as_str().expect("id").to_owned())).collect();
            all.sort();
            all.dedup();
            all
        };
        let ma = metrics(&app, &a).await;
        let mb = metrics(&app, &b).await;
        assert_eq!(everything(&ma), sorted(&a_ids.iter().collect::<Vec<_>>()));
        assert_eq!(everything(&mb), sorted(&[&b_done, &b_declined]));
        assert!(!ma.to_string().contains(&b_done) && !ma.to_string().contains(&b_declined));
        assert_eq!(value(&mb, "jobs_completed"), Some(1.0));
        assert_eq!(value(&mb, "average_rating"), Some(3.0));
        assert!(close(value(&mb, "acceptance_rate"), 0.5));

        // The public profile: level and badges, none of the private figures.
        let pa = app.get(&format!("/v1/helpers/{a_id}"), None).await;
        assert_eq!(pa.status, StatusCode::OK, "{}", pa.text);
        assert_eq!(pa.body["level"], "trusted", "{}", pa.text);
        let badges = pa.body["badges"].as_array().expect("badges");
        assert_eq!(badges.len(), 1, "{badges:?}");
        assert_eq!((badges[0]["service"].as_str(), badges[0]["tier"].as_u64(), badges[0]["jobs"].as_u64()), (Some("guest-wifi"), Some(5), Some(5)));
        let pb = app.get(&format!("/v1/helpers/{b_id}"), Some(&customer)).await;
        assert_eq!(pb.body["level"], "new");
        assert!(pb.body["badges"].as_array().expect("badges").is_empty(), "one job earns no badge: {}", pb.text);
        for p in [&pa, &pb] {
            let mut found = Vec::new();
            keys(&p.body, &mut found);
            for private in ["jobs_completed", "average_rating", "ratings", "response_minutes", "acceptance_rate", "no_shows", "helper_cancellations", "failed_visits", "disputes_lost", "figures", "bookings", "from", "home", "lat", "lon", "email"] {
                assert!(!found.iter().any(|k| k == private), "{private} on a public profile: {}", p.text);
            }
            for id in a_ids.iter().chain([&b_done, &b_declined]) {
                assert!(!p.text.contains(id.as_str()), "booking id {id} on a public profile: {}", p.text);
            }
        }
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn the_leaderboard_holds_only_opted_in_helpers(app) {
        // Both live at the centre of 8001 (one neighbourhood); a third, opted in, in Oerlikon.
        let (in_id, inn, in_email) = helper_named(&app, "Ida Inside", 47.3720, 8.5410).await;
        let (out_id, out, out_email) = helper_named(&app, "Otto Outside", 47.3720, 8.5410).await;
        let (_, far, _) = helper_named(&app, "Fritz Faraway", 47.4110, 8.5440).await;
        let (_, customer, _) = app.signed_up("customer").await;
        done(&app, &customer, &in_id, &inn, &slot(0), Some(4)).await;
        // The one who did not opt in did more, so would lead if shown.
        done(&app, &customer, &out_id, &out, &slot(1), Some(5)).await;
        done(&app, &customer, &out_id, &out, &slot(2), Some(5)).await;
        assert_eq!(metrics(&app, &inn).await["ranking_opt_in"], false, "off by default");
        for t in [&inn, &far] {
            let r = app.request(Method::PUT, "/v1/helper/ranking", Some(t), Some(json!({"opt_in": true}))).await;
            assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        }
        assert_eq!(app.request(Method::PUT, "/v1/helper/ranking", Some(&customer), Some(json!({"opt_in": true}))).await.status, StatusCode::FORBIDDEN);
        assert_eq!(metrics(&app, &inn).await["ranking_opt_in"], true);

        let month = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::get("Europe/Zurich").expect("zone")).strftime("%Y-%m").to_string();
        let board = app.get(&format!("/v1/rankings?postcode=8001&month={month}"), None).await;
        assert_eq!(board.status, StatusCode::OK, "{}", board.text);
        assert_eq!(board.body["month"], month.as_str());
        let items = board.body["items"].as_array().expect("items");
        assert_eq!(items.len(), 1, "{}", board.text);
        assert_eq!(items[0]["name"], "Ida I.", "the first name and the initial only");
        assert_eq!(items[0]["rank"], 1);
        assert_eq!(items[0]["jobs"], 1);
        assert!(close(items[0]["rating_avg"].as_f64(), 4.0), "{}", items[0]);
        let mut found = Vec::new();
        keys(&board.body, &mut found);
        for private in ["lat", "lon", "home", "home_lat", "home_lon", "email", "helper_id", "id", "location"] {
            assert!(!found.iter().any(|k| k == private), "{private} on the leaderboard: {}", board.text);
        }
        for secret in ["@", "47.372", "8.541", in_id.as_str(), out_id.as_str(), in_email.as_str(), out_email.as_str(), "Otto", "Fritz", "Inside"] {
            assert!(!board.text.contains(secret), "{secret} on the leaderboard: {}", board.text);
        }
        // The same board by its cell.
        let cell = board.body["cell"].as_str().expect("cell").to_owned();
        let by_cell = app.get(&format!("/v1/rankings?cell={cell}"), None).await;
        assert_eq!(by_cell.status, StatusCode::OK, "{}", by_cell.text);
        assert_eq!(by_cell.body["items"], board.body["items"]);
        assert_eq!(app.get("/v1/rankings?postcode=9999", None).await.status, StatusCode::BAD_REQUEST);

        // Opting out takes her off.
        let r = app.request(Method::PUT, "/v1/helper/ranking", Some(&inn), Some(json!({"opt_in": false}))).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        let after = app.get(&format!("/v1/rankings?postcode=8001&month={month}"), None).await;
        assert!(after.body["items"].as_array().expect("items").is_empty(), "{}", after.text);
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn preview_services_reach_super_helpers_only(app) {
        let (super_id, super_token, _) = app.helper_with_profile(&["wifi"]).await;
        let (new_id, new_token, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let operator = app.operator().await;
        make_super(&app, &super_id).await;
        // The match index follows the change feed.
        let mut items = Vec::new();
        for _ in 0..100 {
            items = matches(&app, &customer).await;
            if level_component(&items, &super_id).is_some_and(|v| v > 0.0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(close(level_component(&items, &super_id), 1.0), "the index knows the super-helper: {items:?}");
        assert_eq!(level_component(&items, &new_id), Some(0.0));
        let both = { let mut v = vec![super_id.clone(), new_id.clone()]; v.sort(); v };
        assert_eq!(match_ids(&items), both);

        let p = app.request(Method::PUT, "/v1/ops/catalog/guest-wifi", Some(&operator), Some(json!({"preview": true}))).await;
        assert_eq!(p.status, StatusCode::NO_CONTENT, "{}", p.text);
        let catalog = app.get("/v1/catalog", None).await;
        let wifi = catalog.body["items"].as_array().expect("items").iter().find(|s| s["slug"] == "guest-wifi").cloned().expect("wifi");
        assert_eq!(wifi["preview"], true, "{wifi}");
        assert_eq!(match_ids(&matches(&app, &customer).await), vec![super_id.clone()]);
        let refused = app.post("/v1/bookings", Some(&customer), json!({"service": "guest-wifi", "address": "Seestrasse 12, 8002 Zürich", "start": slot(0), "helper_id": new_id})).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
        assert_eq!(refused.code(), "preview_super_helpers_only");
        book(&app, &customer, &super_id, &slot(0)).await;
        let asked = ask_anyone(&app, &customer, &slot(3)).await;
        assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.text);
        assert_eq!(asked.body["state"], "offered");
        let request = id_of(&asked);
        assert!(offer_ids(&app, &super_token).await.contains(&request), "the super-helper is offered it");
        assert!(offer_ids(&app, &new_token).await.is_empty(), "the new helper is not");
        let offered: Vec<String> = sqlx::query_scalar("SELECT helper_id FROM offers WHERE request_id = $1").bind(&request).fetch_all(app.store.pool()).await.expect("offers");
        assert_eq!(offered, vec![super_id.clone()]);

        // Back to normal.
        let p = app.request(Method::PUT, "/v1/ops/catalog/guest-wifi", Some(&operator), Some(json!({"preview": false}))).await;
        assert_eq!(p.status, StatusCode::NO_CONTENT, "{}", p.text);
        assert_eq!(match_ids(&matches(&app, &customer).await), both);
        book(&app, &customer, &new_id, &slot(6)).await;
        let (_, other_customer, _) = app.signed_up("customer").await;
        let asked = ask_anyone(&app, &other_customer, &slot(9)).await;
        assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.text);
        assert!(offer_ids(&app, &new_token).await.contains(&id_of(&asked)), "the new helper is offered requests again");
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn invitations_reach_the_regions_super_helpers(app) {
        let (near_id, near, near_email) = app.helper_with_profile(&["wifi"]).await;
        let (new_id, new, _) = app.helper_with_profile(&["wifi"]).await;
        let (far_id, far, far_email) = app.helper_with_profile(&["wifi"]).await;
        move_home(&app, &far, 47.3480, 8.7180).await; // Uster, about 13 km away
        make_super(&app, &near_id).await;
        make_super(&app, &far_id).await;
        let operator = app.operator().await;
        let (_, customer, _) = app.signed_up("customer").await;
        let body = json!({"postcode": "8001", "radius_km": 3, "subject": "Meet-up at the Kreis 1 café", "text": "Coffee and the new mesh routers, Thursday at 18:00."});
        assert_eq!(app.post("/v1/ops/invitations", Some(&customer), body.clone()).await.status, StatusCode::FORBIDDEN);
        assert_eq!(app.post("/v1/ops/invitations", Some(&near), body.clone()).await.status, StatusCode::FORBIDDEN);
        assert_eq!(app.post("/v1/ops/invitations", None, body.clone()).await.status, StatusCode::UNAUTHORIZED);
        let sent = app.post("/v1/ops/invitations", Some(&operator), body).await;
        assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text);
        assert_eq!(sent.body["invited"], 1);
        let mail = wait_for_mail(&near_email, "Meet-up at the Kreis 1 café").await;
        assert!(unfolded(&mail).contains("Thursday at 18:00"), "{mail}");
        let feed = notices(&app, &near, "invitation").await;
        assert_eq!(feed.len(), 1, "{feed:?}");
        assert_eq!(feed[0]["title"], "Meet-up at the Kreis 1 café");
        for t in [&new, &far] {
            assert!(notices(&app, t, "invitation").await.is_empty());
        }
        assert_eq!(outbox_to(&app, "invitation").await, vec![near_id.clone()]);
        let audit: Vec<(String, String)> = sqlx::query_as("SELECT action, subject_id FROM audit_log WHERE action = 'invitation.send'")
            .fetch_all(app.store.pool())
            .await
            .expect("audit");
        assert_eq!(audit, vec![("invitation.send".to_owned(), "8001".to_owned())]);

        // A wider region reaches the far super-helper too, still not the new helper.
        let wide = app.post("/v1/ops/invitations", Some(&operator), json!({"postcode": "8001", "radius_km": 20, "subject": "Preview: mesh routers", "text": "Be the first to set up the new mesh routers."})).await;
        assert_eq!(wide.body["invited"], 2, "{}", wide.text);
        wait_for_mail(&far_email, "Preview: mesh routers").await;
        let mut expected = vec![near_id.clone(), near_id.clone(), far_id.clone()];
        expected.sort();
        assert_eq!(outbox_to(&app, "invitation").await, expected);
        assert!(notices(&app, &new, "invitation").await.is_empty());
        assert!(!outbox_to(&app, "invitation").await.contains(&new_id));
        let bad = app.post("/v1/ops/invitations", Some(&operator), json!({"postcode": "0000", "radius_km": 3, "subject": "Hello", "text": "Nobody lives here."})).await;
        assert_eq!(bad.code(), "unknown_postcode");
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn the_published_levels_match_the_code(app) {
        let doc = app.get("/v1/levels", None).await;
        assert_eq!(doc.status, StatusCode::OK, "{}", doc.text);
        let weights = doc.body["ranking_weights"].as_array().expect("weights");
        let sum: f64 = weights.iter().map(|w| w["weight"].as_f64().expect("weight")).sum();
        assert!((sum - 1.0).abs() < 1e-9, "weights sum to {sum}");
        let names: Vec<&str> = weights.iter().map(|w| w["name"].as_str().expect("name")).collect();
        for n in ["level", "proven_skill", "fairness"] {
            assert!(names.contains(&n), "{n} in {names:?}");
        }
        assert!(weights.iter().all(|w| w["weight"].as_f64().is_some_and(|x| x > 0.0)));
        assert_eq!(doc.body["window_days"], code::WINDOW_DAYS);
        assert_eq!(doc.body["badge_tiers"], json!(code::BADGE_TIERS));
        assert_eq!(doc.body["preview_services_for"], "super");
        let published = doc.body["levels"].as_array().expect("levels");
        assert_eq!(published.len(), code::LEVELS.len());
        for (p, t) in published.iter().zip(code::LEVELS.iter()) {
            assert_eq!(p["level"], t.level.as_str());
            assert_eq!(p["min_completed"], t.min_completed);
            assert!(close(p["min_rating"].as_f64(), t.min_rating), "{p}");
            assert_eq!(p["min_ratings"], t.min_ratings);
            assert_eq!(p["max_response_minutes"].as_f64(), t.max_response_minutes, "{p}");
            assert_eq!(p["min_acceptance"].as_f64(), t.min_acceptance, "{p}");
            assert_eq!(p["max_incidents"], t.max_incidents);
            assert_eq!(p["max_disputes_lost"], t.max_disputes_lost);
        }
        assert_eq!(published.iter().map(|p| p["level"].as_str().expect("level")).collect::<Vec<_>>(), ["trusted", "super"]);
        // Public: no token needed, and the same for everyone.
        let (_, customer, _) = app.signed_up("customer").await;
        assert_eq!(app.get("/v1/levels", Some(&customer)).await.body, doc.body);
        app.finish().await;
    }
}
