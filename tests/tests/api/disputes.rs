//! Disputes: opened by a party within the pinned policy's window, photos only for the parties and
//! operators, the operator's decision posting exactly its ledger entries, the payout held while a
//! dispute is open, and both parties told at each step.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{Res, TestApp};

type Posting = (String, String, i64);

const PNG: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
const MAX_PHOTO_BYTES: usize = 5 * 1024 * 1024;

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

/// A visit booked with `helper_id` (starting `day` days ahead) and done; returns its id.
async fn done_visit(app: &TestApp, customer: &str, helper_id: &str, helper: &str, day: i64) -> String {
    let b = book(app, customer, helper_id, &start_in_days(day, 10)).await;
    let id = b.body["id"].as_str().expect("id").to_owned();
    let code = b.body["start_code"].as_str().expect("start code").to_owned();
    let accepted = act(app, helper, &id, json!({"action": "accept"})).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text);
    let arrived = act(app, helper, &id, json!({"action": "arrive", "code": code})).await;
    assert_eq!(arrived.status, StatusCode::OK, "{}", arrived.text);
    let signoff = app.get(&format!("/v1/bookings/{id}"), Some(customer)).await.body["signoff_code"].as_str().expect("signoff").to_owned();
    let done = act(app, helper, &id, json!({"action": "complete", "code": signoff})).await;
    assert_eq!(done.body["state"], "done", "{}", done.text);
    id
}

async fn open(app: &TestApp, token: &str, booking: &str) -> Res {
    app.post(
        &format!("/v1/bookings/{booking}/dispute"),
        Some(token),
        json!({"reason": "poor_work", "text": "The guest network still drops every hour."}),
    )
    .await
}

/// Opens a dispute (expecting 201) and returns its id.
async fn opened(app: &TestApp, token: &str, booking: &str) -> String {
    let d = open(app, token, booking).await;
    assert_eq!(d.status, StatusCode::CREATED, "{}", d.text);
    assert_eq!(d.body["status"], "open");
    d.body["id"].as_str().expect("dispute id").to_owned()
}

async fn resolve(app: &TestApp, operator: &str, dispute: &str, body: Value) -> Res {
    app.post(&format!("/v1/ops/disputes/{dispute}/resolve"), Some(operator), body).await
}

async fn postings(app: &TestApp, booking: &str) -> Vec<Posting> {
    let mut conn = app.store.pool().acquire().await.expect("conn");
    quartier_store::ledger::postings_of_booking(&mut conn, booking)
        .await
        .expect("postings")
        .into_iter()
        .map(|r| (r.kind, r.account, r.amount_rappen))
        .collect()
}

async fn ledger_total(app: &TestApp) -> i64 {
    let mut conn = app.store.pool().acquire().await.expect("conn");
    quartier_store::ledger::total(&mut conn).await.expect("total")
}

/// What the booking's completion charged: (total, platform fee, helper's part).
fn charged(p: &[Posting]) -> (i64, i64, i64) {
    let of = |account: &str| -> i64 { p.iter().filter(|(k, a, _)| k == "booking_completed" && a == account).map(|(_, _, v)| v).sum() };
    let total = of("customer_receivable");
    let fee = -of("platform_revenue");
    let helper = -of("helper_payout_held");
    assert!(total > 0 && helper > 0 && total == fee + helper, "{p:?}");
    (total, fee, helper)
}

fn balance(p: &[Posting], account: &str) -> i64 {
    p.iter().filter(|(_, a, _)| a == account).map(|(_, _, v)| v).sum()
}

/// The postings in `after` that were not in `before` (as a sorted multiset; every earlier posting
/// must still be there).
fn added(before: &[Posting], after: &[Posting]) -> Vec<Posting> {
    let mut rest = after.to_vec();
    for p in before {
        let i = rest.iter().position(|q| q == p).unwrap_or_else(|| panic!("posting {p:?} vanished: {after:?}"));
        rest.remove(i);
    }
    rest.sort();
    rest
}

/// Expected postings, zero amounts left out (transactions never carry them), sorted.
fn expect(lines: &[(&str, &str, i64)]) -> Vec<Posting> {
    let mut v: Vec<Posting> = lines.iter().filter(|(_, _, v)| *v != 0).map(|(k, a, v)| ((*k).to_owned(), (*a).to_owned(), *v)).collect();
    v.sort();
    v
}

/// `amount * numerator / denominator`, halves away from zero (all positive here).
fn ratio(amount: i64, numerator: i64, denominator: i64) -> i64 {
    (amount * numerator + denominator / 2) / denominator
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

async fn upload(app: &TestApp, token: Option<&str>, dispute: &str, content_type: &str, bytes: Vec<u8>) -> Res {
    let mut req = app.client.post(format!("{}/v1/disputes/{dispute}/photos", app.base)).header("content-type", content_type).body(bytes);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("upload sent");
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Res { status, headers, body, text }
}

/// (status, content type, bytes) of a photo.
async fn fetch(app: &TestApp, token: Option<&str>, url: &str) -> (StatusCode, String, Vec<u8>) {
    let mut req = app.client.get(format!("{}{url}", app.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("photo fetched");
    let status = res.status();
    let ct = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    (status, ct, res.bytes().await.expect("bytes").to_vec())
}

fn png(len: usize, fill: u8) -> Vec<u8> {
    let mut v = PNG.to_vec();
    v.resize(len.max(PNG.len()), fill);
    v
}

fn jpeg(len: usize) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0];
    v.extend((0..len.saturating_sub(4)).map(|i| (i % 251) as u8));
    v
}

fn webp() -> Vec<u8> {
    let mut v = b"RIFF\x24\x00\x00\x00WEBPVP8 ".to_vec();
    v.extend([7u8; 24]);
    v
}

async fn timer_state(app: &TestApp, booking: &str) -> String {
    let (state,): (String,) = sqlx::query_as("SELECT state FROM timers WHERE booking_id = $1 AND kind = 'payout_release'")
        .bind(booking)
        .fetch_one(app.store.pool())
        .await
        .expect("payout timer");
    state
}

fn policy(dispute_window_hours: i64) -> Value {
    json!({"customer_cancellation": [{"from_hours_before": null, "to_hours_before": 24, "fee_bps": 0}, {"from_hours_before": 24, "to_hours_before": 0, "fee_bps": 5000}],
        "helper_compensation_bps": 8000, "customer_no_show_fee_bps": 10000, "customer_no_show_helper_bps": 10000,
        "helper_no_show_penalty_rappen": 2000, "helper_no_show_refund_bps": 10000, "dispute_window_hours": dispute_window_hours})
}

both_backends! {
    async fn each_decision_posts_exactly_its_ledger_entries(app) {
        let (helper_id, helper, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let operator = app.operator().await;
        let note = json!("Photos and both statements checked");

        // payout: the helper keeps everything; only the held payout is released.
        let b1 = done_visit(&app, &customer, &helper_id, &helper, 2).await;
        let d1 = opened(&app, &customer, &b1).await;
        let before = postings(&app, &b1).await;
        let (total, fee, held) = charged(&before);
        let case = app.get(&format!("/v1/ops/disputes/{d1}"), Some(&operator)).await;
        assert_eq!(case.status, StatusCode::OK, "{}", case.text);
        assert_eq!((case.body["refundable_rappen"].as_i64(), case.body["held_for_helper_rappen"].as_i64()), (Some(total), Some(held)), "{}", case.text);
        // Refused decisions post nothing.
        for (body, code) in [
            (json!({"outcome": "payout", "note": ""}), "reason_required"),
            (json!({"outcome": "split", "note": note}), "invalid_outcome"),
            (json!({"outcome": "partial_refund", "refund_rappen": total, "note": note}), "invalid_refund"),
            (json!({"outcome": "partial_refund", "refund_rappen": 0, "note": note}), "invalid_refund"),
            (json!({"outcome": "payout", "refund_rappen": 100, "note": note}), "invalid_refund"),
            (json!({"outcome": "payout", "penalty_rappen": -1, "note": note}), "invalid_penalty"),
        ] {
            let r = resolve(&app, &operator, &d1, body.clone()).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
            assert_eq!(r.code(), code, "{body}");
        }
        assert_eq!(postings(&app, &b1).await, before, "a refused decision posts nothing");
        let r = resolve(&app, &operator, &d1, json!({"outcome": "payout", "note": note})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["dispute"]["status"], "resolved");
        assert_eq!(r.body["held_for_helper_rappen"], 0);
        assert_eq!(r.body["refundable_rappen"], total);
        let after = postings(&app, &b1).await;
        assert_eq!(
            added(&before, &after),
            expect(&[("payout_released", "helper_payout_held", held), ("payout_released", "helper_payable", -held)])
        );
        assert_eq!(balance(&after, "helper_payout_held"), 0);
        let again = resolve(&app, &operator, &d1, json!({"outcome": "refund", "note": note})).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
        assert_eq!(again.code(), "dispute_not_open");
        assert_eq!(postings(&app, &b1).await, after, "a second decision posts nothing");

        // partial_refund: a third back, split between helper and platform as they were charged;
        // the customer had not paid, so nothing is paid back; the rest of the payout is released.
        let b2 = done_visit(&app, &customer, &helper_id, &helper, 3).await;
        let d2 = opened(&app, &helper, &b2).await;
        let before = postings(&app, &b2).await;
        let (total, fee2, held) = charged(&before);
        assert_eq!(fee2, fee);
        let refund = total / 3;
        let platform_part = ratio(refund, fee, total);
        let helper_part = refund - platform_part;
        let r = resolve(&app, &operator, &d2, json!({"outcome": "partial_refund", "refund_rappen": refund, "note": note})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["dispute"]["outcome"], "partial_refund");
        assert_eq!(r.body["dispute"]["refund_rappen"], refund);
        assert_eq!(r.body["refundable_rappen"], total - refund);
        let after = postings(&app, &b2).await;
        assert_eq!(
            added(&before, &after),
            expect(&[
                ("partial_refund", "customer_receivable", -refund),
                ("partial_refund", "helper_payout_held", helper_part),
                ("partial_refund", "platform_revenue", platform_part),
                ("payout_released", "helper_payout_held", held - helper_part),
                ("payout_released", "helper_payable", -(held - helper_part)),
            ])
        );
        assert_eq!(balance(&after, "helper_payout_held"), 0);
        assert_eq!(balance(&after, "customer_receivable"), total - refund, "the customer owes the rest");

        // refund: everything charged goes back; nothing is left to release.
        let b3 = done_visit(&app, &customer, &helper_id, &helper, 4).await;
        let d3 = opened(&app, &customer, &b3).await;
        let before = postings(&app, &b3).await;
        let (total, fee, held) = charged(&before);
        let r = resolve(&app, &operator, &d3, json!({"outcome": "refund", "note": note})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["dispute"]["refund_rappen"], total);
        let after = postings(&app, &b3).await;
        assert_eq!(
            added(&before, &after),
            expect(&[
                ("full_refund", "customer_receivable", -total),
                ("full_refund", "helper_payout_held", held),
                ("full_refund", "platform_revenue", fee),
            ])
        );
        assert_eq!(balance(&after, "helper_payout_held"), 0);
        assert_eq!(balance(&after, "customer_receivable"), 0);
        let seen = app.get(&format!("/v1/bookings/{b3}/dispute"), Some(&customer)).await;
        assert_eq!(seen.body["status"], "resolved", "{}", seen.text);
        assert_eq!(seen.body["outcome"], "refund");
        assert_eq!(seen.body["decision_note"], note);
        assert_eq!(ledger_total(&app).await, 0);
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn a_penalty_comes_from_the_held_payout_and_beyond_it_is_claimed(app) {
        let (helper_id, helper, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let operator = app.operator().await;

        // payout with a penalty: taken from the held payout, the rest released.
        let b1 = done_visit(&app, &customer, &helper_id, &helper, 2).await;
        let d1 = opened(&app, &customer, &b1).await;
        let before = postings(&app, &b1).await;
        let (_, _, held) = charged(&before);
        let penalty = 1_500;
        assert!(penalty < held);
        let r = resolve(&app, &operator, &d1, json!({"outcome": "payout", "penalty_rappen": penalty, "note": "Left the router unconfigured"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["dispute"]["penalty_rappen"], penalty);
        let after = postings(&app, &b1).await;
        assert_eq!(
            added(&before, &after),
            expect(&[
                ("penalty", "helper_payout_held", penalty),
                ("penalty", "platform_revenue", -penalty),
                ("payout_released", "helper_payout_held", held - penalty),
                ("payout_released", "helper_payable", -(held - penalty)),
            ])
        );
        assert_eq!(balance(&after, "helper_payout_held"), 0);

        // refund with a penalty: nothing is left to take it from, so it becomes a claim.
        let b2 = done_visit(&app, &customer, &helper_id, &helper, 3).await;
        let d2 = opened(&app, &customer, &b2).await;
        let before = postings(&app, &b2).await;
        let (total, fee, held) = charged(&before);
        let r = resolve(&app, &operator, &d2, json!({"outcome": "refund", "penalty_rappen": 2_000, "note": "Damaged the customer's modem"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let after = postings(&app, &b2).await;
        assert_eq!(
            added(&before, &after),
            expect(&[
                ("full_refund", "customer_receivable", -total),
                ("full_refund", "helper_payout_held", held),
                ("full_refund", "platform_revenue", fee),
                ("penalty", "helper_receivable", 2_000),
                ("penalty", "platform_revenue", -2_000),
            ])
        );
        assert_eq!(balance(&after, "helper_payout_held"), 0);
        assert_eq!(ledger_total(&app).await, 0);
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn a_card_payment_is_paid_back_to_the_card_on_a_full_refund(app) {
        let (helper_id, helper, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let operator = app.operator().await;
        let b = done_visit(&app, &customer, &helper_id, &helper, 2).await;
        let paid = app.post(&format!("/v1/bookings/{b}/payment"), Some(&customer), json!({"method": "card"})).await;
        assert_eq!(paid.status, StatusCode::OK, "{}", paid.text);
        let d = opened(&app, &customer, &b).await;
        let before = postings(&app, &b).await;
        let (total, fee, held) = charged(&before);
        assert_eq!(balance(&before, "card_clearing"), total, "{before:?}");
        let r = resolve(&app, &operator, &d, json!({"outcome": "refund", "note": "Nothing worked after the visit"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["refundable_rappen"], 0);
        assert_eq!(r.body["held_for_helper_rappen"], 0);
        let after = postings(&app, &b).await;
        assert_eq!(
            added(&before, &after),
            expect(&[
                ("full_refund", "customer_receivable", -total),
                ("full_refund", "helper_payout_held", held),
                ("full_refund", "platform_revenue", fee),
                ("refund_paid", "customer_receivable", total),
                ("refund_paid", "card_clearing", -total),
            ])
        );
        for account in ["customer_receivable", "card_clearing", "helper_payout_held", "helper_payable"] {
            assert_eq!(balance(&after, account), 0, "{account}: {after:?}");
        }
        assert_eq!(ledger_total(&app).await, 0);
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn an_open_dispute_holds_the_payout_until_the_decision(app) {
        let operator = app.operator().await;
        let published = app.post("/v1/ops/policies", Some(&operator), policy(1)).await;
        assert_eq!(published.status, StatusCode::CREATED, "{}", published.text);
        let (helper_id, helper, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let disputed = done_visit(&app, &customer, &helper_id, &helper, 2).await;
        let control = done_visit(&app, &customer, &helper_id, &helper, 3).await;
        let d = opened(&app, &customer, &disputed).await;
        // The one-hour window is over for both visits and their payout timers are due.
        let now = jiff::Timestamp::now().as_millisecond();
        for id in [&disputed, &control] {
            sqlx::query("UPDATE bookings SET completed_at = completed_at - $1 WHERE id = $2")
                .bind(2 * 3_600_000_i64)
                .bind(id)
                .execute(app.store.pool())
                .await
                .expect("move completion back");
            let n = sqlx::query("UPDATE timers SET due_at = $1 WHERE booking_id = $2 AND kind = 'payout_release' AND state = 'pending'")
                .bind(now)
                .bind(id)
                .execute(app.store.pool())
                .await
                .expect("timer due")
                .rows_affected();
            assert_eq!(n, 1, "one pending payout timer for {id}");
        }
        let mut states = Vec::new();
        for _ in 0..150 {
            states = vec![timer_state(&app, &disputed).await, timer_state(&app, &control).await];
            if states.iter().all(|s| s == "done" || s == "skipped") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(states.iter().all(|s| s == "done" || s == "skipped"), "the payout timers ran: {states:?}");
        let released = |p: &[Posting]| p.iter().any(|(k, _, _)| k == "payout_released");
        assert!(released(&postings(&app, &control).await), "without a dispute the timer releases the payout");
        let before = postings(&app, &disputed).await;
        assert!(!released(&before), "an open dispute holds the payout: {before:?}");
        let (_, _, held) = charged(&before);
        assert_eq!(balance(&before, "helper_payout_held"), -held);
        let earnings = app.get("/v1/helper/earnings", Some(&helper)).await;
        assert_eq!(earnings.body["held"]["amount_rappen"], held, "{}", earnings.text);

        let r = resolve(&app, &operator, &d, json!({"outcome": "payout", "note": "The work was done as agreed"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let after = postings(&app, &disputed).await;
        assert_eq!(
            added(&before, &after),
            expect(&[("payout_released", "helper_payout_held", held), ("payout_released", "helper_payable", -held)])
        );
        assert_eq!(ledger_total(&app).await, 0);
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn dispute_photos_are_served_only_to_the_parties_and_operators(app) {
        let (helper_id, helper, _) = app.helper_with_profile(&["wifi"]).await;
        let (other_helper_id, other_helper, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let (_, other_customer, _) = app.signed_up("customer").await;
        let operator = app.operator().await;
        let b = done_visit(&app, &customer, &helper_id, &helper, 2).await;
        let d = opened(&app, &customer, &b).await;
        let photo = png(4096, 0x42);
        let up = upload(&app, Some(&customer), &d, "image/png", photo.clone()).await;
        assert_eq!(up.status, StatusCode::CREATED, "{}", up.text);
        assert_eq!(up.body["uploaded_by"], "customer");
        assert_eq!(up.body["size_bytes"], 4096);
        let url = up.body["url"].as_str().expect("url").to_owned();
        let helper_photo = jpeg(2048);
        let up2 = upload(&app, Some(&helper), &d, "image/jpeg", helper_photo.clone()).await;
        assert_eq!(up2.status, StatusCode::CREATED, "{}", up2.text);
        assert_eq!(up2.body["uploaded_by"], "helper");
        let url2 = up2.body["url"].as_str().expect("url").to_owned();

        for token in [&customer, &helper, &operator] {
            assert_eq!(fetch(&app, Some(token), &url).await, (StatusCode::OK, "image/png".to_owned(), photo.clone()));
            assert_eq!(fetch(&app, Some(token), &url2).await, (StatusCode::OK, "image/jpeg".to_owned(), helper_photo.clone()));
        }
        for token in [&other_customer, &other_helper] {
            for u in [&url, &url2] {
                let (status, _, bytes) = fetch(&app, Some(token), u).await;
                assert_eq!(status, StatusCode::NOT_FOUND, "{u}");
                assert!(!bytes.windows(PNG.len()).any(|w| w == PNG), "no image bytes leak");
            }
            let listed = app.get(&format!("/v1/bookings/{b}/dispute"), Some(token)).await;
            assert_eq!(listed.status, StatusCode::NOT_FOUND, "{}", listed.text);
            let added = upload(&app, Some(token), &d, "image/png", png(64, 1)).await;
            assert_eq!(added.status, StatusCode::NOT_FOUND, "{}", added.text);
        }
        assert_eq!(fetch(&app, None, &url).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(upload(&app, None, &d, "image/png", png(64, 1)).await.status, StatusCode::UNAUTHORIZED);

        // The parties of another dispute cannot reach this photo through their own dispute's URL.
        let other_b = done_visit(&app, &other_customer, &other_helper_id, &other_helper, 3).await;
        let other_d = opened(&app, &other_customer, &other_b).await;
        let photo_id = up.body["id"].as_str().expect("photo id");
        let crossed = format!("/v1/disputes/{other_d}/photos/{photo_id}");
        for token in [&other_customer, &other_helper] {
            assert_eq!(fetch(&app, Some(token), &crossed).await.0, StatusCode::NOT_FOUND);
        }
        let listed = app.get(&format!("/v1/bookings/{b}/dispute"), Some(&helper)).await;
        assert_eq!(listed.body["photos"].as_array().expect("photos").len(), 2, "{}", listed.text);
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn photo_uploads_are_checked_for_type_size_and_count(app) {
        let (helper_id, helper, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let b = done_visit(&app, &customer, &helper_id, &helper, 2).await;
        let d = opened(&app, &customer, &b).await;
        for (content_type, bytes) in [
            ("image/gif", b"GIF89a\x01\x00\x01\x00".to_vec()),
            ("text/plain", png(64, 0)),
            ("application/octet-stream", png(64, 0)),
            ("image/png", jpeg(64)),
            ("image/jpeg", png(64, 0)),
            ("image/webp", png(64, 0)),
            ("image/png", b"\x89PNG not really".to_vec()),
        ] {
            let r = upload(&app, Some(&customer), &d, content_type, bytes).await;
            assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type}: {}", r.text);
            assert_eq!(r.code(), "unsupported_photo_type");
        }
        let big = upload(&app, Some(&customer), &d, "image/png", png(MAX_PHOTO_BYTES + 1, 0x11)).await;
        assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", big.text);
        assert_eq!(big.code(), "photo_too_large");
        // Exactly 5 MiB is fine; so are the three types.
        let largest = png(MAX_PHOTO_BYTES, 0x22);
        let r = upload(&app, Some(&customer), &d, "image/png", largest.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let url = r.body["url"].as_str().expect("url").to_owned();
        assert_eq!(fetch(&app, Some(&helper), &url).await, (StatusCode::OK, "image/png".to_owned(), largest));
        for (token, content_type, bytes) in [
            (&helper, "image/jpeg", jpeg(100)),
            (&customer, "image/webp", webp()),
            (&helper, "image/png; charset=binary", png(100, 3)),
            (&customer, "image/jpeg", jpeg(200)),
        ] {
            let r = upload(&app, Some(token), &d, content_type, bytes).await;
            assert_eq!(r.status, StatusCode::CREATED, "{content_type}: {}", r.text);
        }
        let sixth = upload(&app, Some(&helper), &d, "image/png", png(100, 4)).await;
        assert_eq!(sixth.status, StatusCode::CONFLICT, "{}", sixth.text);
        assert_eq!(sixth.code(), "too_many_photos");
        let listed = app.get(&format!("/v1/bookings/{b}/dispute"), Some(&customer)).await;
        assert_eq!(listed.body["photos"].as_array().expect("photos").len(), 5, "rejected uploads are not kept");
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn disputes_open_once_and_only_within_the_window(app) {
        let (helper_id, helper, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let (_, stranger, _) = app.signed_up("customer").await;
        let operator = app.operator().await;

        // Not before the visit took place.
        let planned = book(&app, &customer, &helper_id, &start_in_days(6, 10)).await;
        let planned_id = planned.body["id"].as_str().expect("id").to_owned();
        act(&app, &helper, &planned_id, json!({"action": "accept"})).await;
        let early = open(&app, &customer, &planned_id).await;
        assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.text);
        assert_eq!(early.code(), "not_disputable");

        // Fifteen days after the visit the 14-day window is closed; thirteen days after it is not.
        let late = done_visit(&app, &customer, &helper_id, &helper, 2).await;
        let in_time = done_visit(&app, &customer, &helper_id, &helper, 3).await;
        for (id, days) in [(&late, 15_i64), (&in_time, 13)] {
            sqlx::query("UPDATE bookings SET completed_at = completed_at - $1 WHERE id = $2")
                .bind(days * 24 * 3_600_000)
                .bind(id)
                .execute(app.store.pool())
                .await
                .expect("move completion back");
        }
        let closed = open(&app, &customer, &late).await;
        assert_eq!(closed.status, StatusCode::CONFLICT, "{}", closed.text);
        assert_eq!(closed.code(), "dispute_window_closed");
        assert_eq!(app.get(&format!("/v1/bookings/{late}/dispute"), Some(&customer)).await.status, StatusCode::NOT_FOUND);

        // Only the parties; invalid input is refused; then one dispute per visit.
        assert_eq!(open(&app, &stranger, &in_time).await.status, StatusCode::NOT_FOUND);
        let by_operator = open(&app, &operator, &in_time).await;
        assert_eq!(by_operator.status, StatusCode::FORBIDDEN, "{}", by_operator.text);
        let bad_reason = app.post(&format!("/v1/bookings/{in_time}/dispute"), Some(&customer), json!({"reason": "boredom", "text": "Long enough text here."})).await;
        assert_eq!(bad_reason.code(), "invalid_reason");
        let short = app.post(&format!("/v1/bookings/{in_time}/dispute"), Some(&customer), json!({"reason": "other", "text": "too short"})).await;
        assert_eq!(short.code(), "invalid_text");
        let first = open(&app, &helper, &in_time).await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
        assert_eq!(first.body["opened_by"], "helper");
        assert_eq!(first.body["helper_statement"], "The guest network still drops every hour.");
        for token in [&customer, &helper] {
            let second = open(&app, token, &in_time).await;
            assert_eq!(second.status, StatusCode::CONFLICT, "{}", second.text);
            assert_eq!(second.code(), "dispute_exists");
        }
        // The other party answers with a statement instead.
        let d = first.body["id"].as_str().expect("id");
        let stated = app.post(&format!("/v1/disputes/{d}/statement"), Some(&customer), json!({"text": "It worked while the helper was here."})).await;
        assert_eq!(stated.status, StatusCode::OK, "{}", stated.text);
        assert_eq!(stated.body["customer_statement"], "It worked while the helper was here.");
        let queue = app.get("/v1/ops/disputes?status=open", Some(&operator)).await;
        let ids: Vec<&str> = queue.body["items"].as_array().expect("items").iter().filter_map(|i| i["id"].as_str()).collect();
        assert_eq!(ids, [d], "{}", queue.text);
        assert!(app.get("/v1/ops/disputes?status=resolved", Some(&operator)).await.body["items"].as_array().expect("items").is_empty());

        // A failed visit can be disputed too (its window runs from the planned end).
        let failed = book(&app, &customer, &helper_id, &start_in_days(4, 10)).await;
        let failed_id = failed.body["id"].as_str().expect("id").to_owned();
        act(&app, &helper, &failed_id, json!({"action": "accept"})).await;
        act(&app, &helper, &failed_id, json!({"action": "en_route"})).await;
        let f = act(&app, &helper, &failed_id, json!({"action": "report_failed", "cause": "line_not_active"})).await;
        assert_eq!(f.body["state"], "failed_visit", "{}", f.text);
        opened(&app, &customer, &failed_id).await;
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn both_parties_hear_of_the_dispute_and_the_decision(app) {
        let (helper_id, helper, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let operator = app.operator().await;
        let b = done_visit(&app, &customer, &helper_id, &helper, 2).await;
        for token in [&customer, &helper] {
            let kinds = notice_kinds(&app, token, &b).await;
            assert!(!kinds.iter().any(|k| k.starts_with("dispute_")), "{kinds:?}");
        }
        let d = opened(&app, &customer, &b).await;
        for token in [&customer, &helper] {
            let kinds = notice_kinds(&app, token, &b).await;
            assert!(kinds.contains(&"dispute_opened".to_owned()), "{kinds:?}");
            assert!(!kinds.contains(&"dispute_resolved".to_owned()), "{kinds:?}");
        }
        let r = resolve(&app, &operator, &d, json!({"outcome": "payout", "note": "The visit went as agreed"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        for token in [&customer, &helper] {
            let kinds = notice_kinds(&app, token, &b).await;
            assert_eq!(kinds.iter().filter(|k| *k == "dispute_opened").count(), 1, "{kinds:?}");
            assert_eq!(kinds.iter().filter(|k| *k == "dispute_resolved").count(), 1, "{kinds:?}");
        }
        // The decision is in the audit log and on the timeline.
        let mut conn = app.store.pool().acquire().await.expect("conn");
        let audit = quartier_store::vetting::audit_of(&mut conn, &d).await.expect("audit");
        drop(conn);
        assert_eq!(audit.len(), 1, "{audit:?}");
        assert_eq!(audit[0].2, "dispute.resolve");
        assert!(audit[0].3.contains("The visit went as agreed"), "{audit:?}");
        let timeline = app.get(&format!("/v1/bookings/{b}"), Some(&customer)).await;
        let steps: Vec<&str> = timeline.body["timeline"].as_array().expect("timeline").iter().filter_map(|e| e["action"].as_str()).collect();
        assert!(steps.ends_with(&["dispute_opened", "dispute_resolved"]), "{steps:?}");
        app.drain_outbox().await;
        app.finish().await;
    }
}
