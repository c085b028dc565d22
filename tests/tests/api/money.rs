use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{Res, TestApp};

/// The next Saturday at 20:00 Zurich time, at least two days ahead: evening and weekend.
fn saturday_evening() -> String {
    let zone = jiff::tz::TimeZone::get("Europe/Zurich").expect("zone");
    let mut d = jiff::Timestamp::now().to_zoned(zone.clone()).date().checked_add(jiff::Span::new().days(2)).expect("date");
    while d.weekday() != jiff::civil::Weekday::Saturday {
        d = d.checked_add(jiff::Span::new().days(1)).expect("date");
    }
    d.at(20, 0, 0, 0).to_zoned(zone).expect("time").timestamp().to_string()
}

fn quarter_hours_from_now(q: i64) -> String {
    let now = jiff::Timestamp::now().as_second();
    let next = (now / 900 + q) * 900;
    jiff::Timestamp::from_second(next).expect("ts").to_string()
}

async fn book(app: &TestApp, token: &str, helper: &str, start: &str) -> Res {
    app.post(
        "/v1/bookings",
        Some(token),
        json!({"service": "guest-wifi", "address": "Seefeldstrasse 9, 8008 Zürich", "start": start, "helper_id": helper}),
    )
    .await
}

async fn act(app: &TestApp, token: &str, id: &str, body: Value) -> Res {
    app.post(&format!("/v1/bookings/{id}/transitions"), Some(token), body).await
}

async fn complete(app: &TestApp, customer: &str, helper: &str, booking: &Res) -> String {
    let id = booking.body["id"].as_str().expect("id").to_owned();
    let code = booking.body["start_code"].as_str().expect("code").to_owned();
    assert_eq!(act(app, helper, &id, json!({"action": "accept"})).await.status, StatusCode::OK);
    assert_eq!(act(app, helper, &id, json!({"action": "arrive", "code": code})).await.status, StatusCode::OK);
    let signoff = app.get(&format!("/v1/bookings/{id}"), Some(customer)).await.body["signoff_code"].as_str().expect("signoff").to_owned();
    let done = act(app, helper, &id, json!({"action": "complete", "code": signoff})).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    id
}

async fn postings(app: &TestApp, booking: &str) -> Vec<(String, String, i64)> {
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

both_backends! {
    async fn a_quote_shows_every_line(app) {
        let q = app.post("/v1/quotes", None, json!({"service": "guest-wifi", "postcode": "8004", "start": saturday_evening(), "duration": 75})).await;
        assert_eq!(q.status, StatusCode::OK, "{}", q.text);
        let kinds: Vec<&str> = q.body["lines"].as_array().expect("lines").iter().map(|l| l["kind"].as_str().expect("kind")).collect();
        assert_eq!(kinds, ["base", "extra_units", "travel", "evening_surcharge", "weekend_surcharge"], "{}", q.text);
        let sum: i64 = q.body["lines"].as_array().expect("lines").iter().map(|l| l["amount"]["amount_rappen"].as_i64().expect("amount")).sum();
        assert_eq!(q.body["total"]["amount_rappen"], sum);
        // Base 49 + one extra unit 20 = 69; travel 10 (2-5 km, no helper yet); evening 20% and weekend 15% of 69.
        assert_eq!(sum, 4900 + 2000 + 1000 + 1380 + 1035);
        assert_eq!(q.body["policy"]["version"], 1);
        for (body, code) in [
            (json!({"service": "moon-landing", "start": saturday_evening()}), "unknown_service"),
            (json!({"service": "guest-wifi", "start": "2020-01-01T10:00:00Z"}), "start_in_past"),
            (json!({"service": "guest-wifi", "start": saturday_evening(), "duration": 10}), "invalid_duration"),
            (json!({"service": "guest-wifi", "start": saturday_evening(), "location": {"lat": 99.0, "lon": 8.0}}), "invalid_coordinates"),
        ] {
            let r = app.post("/v1/quotes", None, body).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
            assert_eq!(r.code(), code);
        }
        app.finish().await;
    }

    async fn bookings_keep_their_price_and_policy_when_operators_change_them(app) {
        let (helper_id, _, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let operator = app.operator().await;
        let b = book(&app, &customer, &helper_id, &saturday_evening()).await;
        assert_eq!(b.status, StatusCode::CREATED, "{}", b.text);
        let price = b.body["price"]["amount_rappen"].as_i64().expect("price");
        assert_eq!(b.body["policy_version"], 1);
        let changed = app.request(Method::PUT, "/v1/ops/catalog/guest-wifi", Some(&operator), Some(json!({"base_price_rappen": 5900}))).await;
        assert_eq!(changed.status, StatusCode::NO_CONTENT, "{}", changed.text);
        let policy = json!({"customer_cancellation": [{"from_hours_before": null, "to_hours_before": 48, "fee_bps": 0}, {"from_hours_before": 48, "to_hours_before": 0, "fee_bps": 10000}],
            "helper_compensation_bps": 8000, "customer_no_show_fee_bps": 10000, "customer_no_show_helper_bps": 10000,
            "helper_no_show_penalty_rappen": 2000, "helper_no_show_refund_bps": 10000, "dispute_window_hours": 72});
        let published = app.post("/v1/ops/policies", Some(&operator), policy).await;
        assert_eq!(published.status, StatusCode::CREATED, "{}", published.text);
        assert_eq!(published.body["version"], 2);
        let id = b.body["id"].as_str().expect("id");
        let again = app.get(&format!("/v1/bookings/{id}"), Some(&customer)).await;
        assert_eq!(again.body["price"]["amount_rappen"], price, "the locked price stays");
        assert_eq!(again.body["policy_version"], 1, "the pinned policy stays");
        let catalog = app.get("/v1/catalog", None).await;
        let wifi = catalog.body["items"].as_array().expect("items").iter().find(|s| s["slug"] == "guest-wifi").cloned().expect("wifi");
        assert_eq!(wifi["base_price"]["amount_rappen"], 5900);
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn operators_alone_publish_valid_policies(app) {
        let (_, customer, _) = app.signed_up("customer").await;
        let operator = app.operator().await;
        let overlapping = json!({"customer_cancellation": [{"from_hours_before": null, "to_hours_before": 24, "fee_bps": 0}, {"from_hours_before": 30, "to_hours_before": 0, "fee_bps": 5000}],
            "helper_compensation_bps": 8000, "customer_no_show_fee_bps": 10000, "customer_no_show_helper_bps": 10000,
            "helper_no_show_penalty_rappen": 2000, "helper_no_show_refund_bps": 10000, "dispute_window_hours": 72});
        let r = app.post("/v1/ops/policies", Some(&operator), overlapping.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
        assert_eq!(r.code(), "overlapping_windows");
        let mut negative = overlapping.clone();
        negative["helper_no_show_penalty_rappen"] = json!(-100);
        assert_eq!(app.post("/v1/ops/policies", Some(&operator), negative).await.code(), "negative_amount");
        assert_eq!(app.post("/v1/ops/policies", Some(&customer), overlapping.clone()).await.status, StatusCode::FORBIDDEN);
        assert_eq!(app.post("/v1/ops/policies", None, overlapping).await.status, StatusCode::UNAUTHORIZED);
        let bad_price = app.request(Method::PUT, "/v1/ops/catalog/guest-wifi", Some(&operator), Some(json!({"base_price_rappen": -1}))).await;
        assert_eq!(bad_price.code(), "negative_amount");
        assert_eq!(app.get("/v1/ops/policies", Some(&operator)).await.body["items"].as_array().expect("items").len(), 1);
        app.finish().await;
    }

    async fn a_completed_visit_posts_to_the_ledger_and_pays_out_after_the_window(app) {
        let operator = app.operator().await;
        // A policy whose dispute window is over at once, so the payout is released by the timer.
        let policy = json!({"customer_cancellation": [{"from_hours_before": null, "to_hours_before": 24, "fee_bps": 0}, {"from_hours_before": 24, "to_hours_before": 0, "fee_bps": 5000}],
            "helper_compensation_bps": 8000, "customer_no_show_fee_bps": 10000, "customer_no_show_helper_bps": 10000,
            "helper_no_show_penalty_rappen": 2000, "helper_no_show_refund_bps": 10000, "dispute_window_hours": 0});
        assert_eq!(app.post("/v1/ops/policies", Some(&operator), policy).await.status, StatusCode::CREATED);
        let (helper_id, helper, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let b = book(&app, &customer, &helper_id, &saturday_evening()).await;
        let total = b.body["price"]["amount_rappen"].as_i64().expect("total");
        let id = complete(&app, &customer, &helper, &b).await;
        let mut released = false;
        for _ in 0..100 {
            let p = postings(&app, &id).await;
            if p.iter().any(|(k, _, _)| k == "payout_released") {
                released = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(released, "{:?}", postings(&app, &id).await);
        let p = postings(&app, &id).await;
        assert!(p.contains(&("booking_completed".into(), "customer_receivable".into(), total)), "{p:?}");
        assert_eq!(ledger_total(&app).await, 0, "every transaction balances");

        // Cash on site, rounded to 5 Rappen.
        let paid = app.post(&format!("/v1/bookings/{id}/payment"), Some(&helper), json!({"method": "cash"})).await;
        assert_eq!(paid.status, StatusCode::OK, "{}", paid.text);
        let received = paid.body["received"]["amount_rappen"].as_i64().expect("received");
        assert_eq!(received % 5, 0);
        assert!((received - total).abs() <= 2);
        let twice = app.post(&format!("/v1/bookings/{id}/payment"), Some(&customer), json!({"method": "card"})).await;
        assert_eq!(twice.code(), "already_paid");
        assert_eq!(ledger_total(&app).await, 0);

        let earnings = app.get("/v1/helper/earnings", Some(&helper)).await;
        assert_eq!(earnings.status, StatusCode::OK, "{}", earnings.text);
        let earned: i64 = earnings.body["months"].as_array().expect("months").iter().map(|m| m["earned"]["amount_rappen"].as_i64().expect("e")).sum();
        let out: i64 = earnings.body["months"].as_array().expect("months").iter().map(|m| m["released"]["amount_rappen"].as_i64().expect("r")).sum();
        assert_eq!((earned, out), (total, total));
        assert_eq!(earnings.body["held"]["amount_rappen"], 0);
        let csv = app.client.get(format!("{}/v1/helper/earnings?format=csv", app.base)).bearer_auth(&helper).send().await.expect("csv");
        assert!(csv.headers()["content-type"].to_str().unwrap_or("").starts_with("text/csv"));
        let text = csv.text().await.expect("body");
        assert!(text.starts_with("month,earned_chf"), "{text}");
        assert_eq!(text.lines().count(), 13);
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn an_invoice_carries_a_qr_bill_to_the_helpers_account(app) {
        let (helper_id, helper, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let bad = app.request(Method::PUT, "/v1/helper/billing", Some(&helper), Some(json!({"iban": "CH5800791123000889013", "street": "Bahnhofstrasse", "postcode": "8001", "town": "Zürich"}))).await;
        assert_eq!(bad.code(), "invalid_iban");
        let ok = app.request(Method::PUT, "/v1/helper/billing", Some(&helper), Some(json!({"iban": "CH58 0079 1123 0008 8901 2", "street": "Bahnhofstrasse", "house_number": "1", "postcode": "8001", "town": "Zürich"}))).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
        let b = book(&app, &customer, &helper_id, &saturday_evening()).await;
        let id = b.body["id"].as_str().expect("id").to_owned();
        let early = app.get(&format!("/v1/bookings/{id}/invoice"), Some(&customer)).await;
        assert_eq!(early.code(), "not_completed");
        complete(&app, &customer, &helper, &b).await;
        let chose = app.post(&format!("/v1/bookings/{id}/payment"), Some(&customer), json!({"method": "invoice"})).await;
        assert_eq!(chose.status, StatusCode::OK, "{}", chose.text);
        assert!(chose.body["paid_at"].is_null());
        let page = app.client.get(format!("{}/v1/bookings/{id}/invoice", app.base)).bearer_auth(&customer).send().await.expect("invoice");
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.expect("html");
        assert!(html.contains("<svg") && html.contains("CH5800791123000889012") && html.contains("RF"), "{html}");
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn a_late_cancellation_costs_what_the_pinned_policy_says(app) {
        let (helper_id, helper, _) = app.helper_with_profile(&["wifi"]).await;
        let (_, customer, _) = app.signed_up("customer").await;
        // Three hours ahead: inside the 24 h to 2 h window of the default policy (50%).
        let b = book(&app, &customer, &helper_id, &quarter_hours_from_now(12)).await;
        assert_eq!(b.status, StatusCode::CREATED, "{}", b.text);
        let id = b.body["id"].as_str().expect("id").to_owned();
        let total = b.body["price"]["amount_rappen"].as_i64().expect("total");
        act(&app, &helper, &id, json!({"action": "accept"})).await;
        let cancelled = act(&app, &customer, &id, json!({"action": "cancel"})).await;
        assert_eq!(cancelled.body["state"], "cancelled_by_customer");
        let p = postings(&app, &id).await;
        let fee: i64 = p.iter().filter(|(k, a, _)| k == "cancellation_fee" && a == "customer_receivable").map(|(_, _, v)| v).sum();
        assert_eq!(fee, (total + 1) / 2, "{p:?}");
        assert_eq!(ledger_total(&app).await, 0);
        // Cancelling a week ahead costs nothing.
        let free = book(&app, &customer, &helper_id, &saturday_evening()).await;
        let free_id = free.body["id"].as_str().expect("id").to_owned();
        act(&app, &customer, &free_id, json!({"action": "cancel"})).await;
        assert!(postings(&app, &free_id).await.is_empty());
        app.drain_outbox().await;
        app.finish().await;
    }
}

both_backends! {
    async fn the_demo_city_has_priced_bookings_and_a_balanced_ledger(app) {
        let settings = quartier_server::Settings { password_memory_kib: 1024, password_iterations: 1, ..quartier_server::Settings::default() };
        let mut out = Vec::new();
        let outcome = quartier_server::seed::seed_demo(&app.store, &settings, 40, &mut out).await.expect("seed");
        assert_eq!(outcome, quartier_server::seed::SeedOutcome::Created { helpers: 40, customers: 5 });
        let printed = String::from_utf8(out).expect("utf8");
        assert!(printed.contains("helpers   40/40") && printed.contains("bookings 30"), "{printed}");
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT state, quote FROM bookings").fetch_all(app.store.pool()).await.expect("rows");
        let history = quartier_server::seed::HISTORY_WEEKS as usize * quartier_server::seed::HISTORY_PER_WEEK;
        assert_eq!(rows.len(), 30 + history, "the upcoming demo visits and the past requests");
        for (_, quote) in &rows {
            let q: serde_json::Value = serde_json::from_str(quote).expect("every demo booking carries its quote");
            assert!(!q["lines"].as_array().expect("lines").is_empty());
        }
        assert_eq!(ledger_total(&app).await, 0);
        let again = quartier_server::seed::seed_demo(&app.store, &settings, 40, &mut Vec::new()).await.expect("seed");
        assert_eq!(again, quartier_server::seed::SeedOutcome::AlreadyPopulated);
        // A demo helper can sign in and see earnings; a demo customer can open an invoice.
        let l = app.login("helper001@demo.quartier.ch", "quartier-demo").await;
        assert_eq!(l.status, StatusCode::OK, "{}", l.text);
        let page = app.client.get(format!("{}/v1/helper/earnings?format=html", app.base)).bearer_auth(l.body["access_token"].as_str().expect("t")).send().await.expect("page");
        assert!(page.text().await.expect("html").contains("Side income statement"));
        app.finish().await;
    }
}
