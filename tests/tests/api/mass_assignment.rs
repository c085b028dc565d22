//! R9b, mass assignment: every write operation of the OpenAPI document that takes a JSON body is
//! sent its valid body plus one forbidden field at a time (price, status, helper_id, role,
//! verified, ...), by an actor allowed to call it. Each is refused with 400 `unknown_field` and
//! leaves every table exactly as it was; then the valid body alone succeeds, so it was the field
//! that was refused. A field the operation documents in its request schema (helper_id when
//! booking, role when registering) is not forbidden there and is left out.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Backend, Res, TestApp, spawn_app_with};

const PASSWORD: &str = "correct horse battery";

/// Fields no request body of the API accepts, with the value sent.
fn forbidden(helper: &str, customer: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("price", json!(1)),
        ("price_rappen", json!(1)),
        ("total", json!(1)),
        ("status", json!("approved")),
        ("state", json!("done")),
        ("helper_id", json!(helper)),
        ("customer_id", json!(customer)),
        ("role", json!("operator")),
        ("is_operator", json!(true)),
        ("verified", json!(true)),
        ("approved", json!(true)),
        ("paid_at", json!("2020-01-01T00:00:00Z")),
        ("created_at", json!("2020-01-01T00:00:00Z")),
        ("id", json!(uuid::Uuid::new_v4().to_string())),
        ("email", json!("intruder@example.ch")),
    ]
}

/// Operations whose request body is not JSON (or that read none): nothing to inject into.
const NO_JSON_BODY: [&str; 3] = ["POST /v1/disputes/{id}/photos", "POST /v1/links/{token}", "POST /v1/ops/outbox/{id}/retry"];

fn day(days: i64) -> jiff::civil::Date {
    jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().checked_add(jiff::Span::new().days(days)).expect("date")
}

fn start(days: i64, hh: u8) -> String {
    format!("{}T{hh:02}:00:00Z", day(days))
}

fn random_iban() -> String {
    let account = u64::from_str_radix(&uuid::Uuid::new_v4().simple().to_string()[..12], 16).expect("hex") % 1_000_000_000_000;
    let bban = format!("00762{account:012}");
    let rem = format!("{bban}121700").chars().fold(0u32, |r, c| (r * 10 + c.to_digit(10).expect("digit")) % 97);
    format!("CH{:02}{bban}", 98 - rem)
}

fn all_week() -> Value {
    let rules: Vec<Value> =
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].iter().map(|d| json!({"weekday": d, "start": "00:00", "end": "24:00"})).collect();
    json!({"rules": rules, "min_notice_minutes": 0})
}

fn policy() -> Value {
    json!({"customer_cancellation": [{"from_hours_before": null, "to_hours_before": 24, "fee_bps": 0}, {"from_hours_before": 24, "to_hours_before": 0, "fee_bps": 5000}],
        "helper_compensation_bps": 8000, "customer_no_show_fee_bps": 10000, "customer_no_show_helper_bps": 10000,
        "helper_no_show_penalty_rappen": 2000, "helper_no_show_refund_bps": 10000, "dispute_window_hours": 336})
}

fn ok(r: &Res, what: &str) {
    assert!(r.status.is_success(), "{what}: {} {}", r.status, r.text);
}

/// Registers and signs in: (id, access token, refresh token).
async fn person(app: &TestApp, email: &str, role: &str) -> (String, String, String) {
    let r = app.post("/v1/auth/register", None, json!({"email": email, "password": PASSWORD, "name": "Mia Muster", "role": role})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let l = app.login(email, PASSWORD).await;
    assert_eq!(l.status, StatusCode::OK, "{}", l.text);
    (
        r.body["id"].as_str().expect("id").to_owned(),
        l.body["access_token"].as_str().expect("access").to_owned(),
        l.body["refresh_token"].as_str().expect("refresh").to_owned(),
    )
}

fn email(what: &str) -> String {
    format!("{what}-{}@example.ch", uuid::Uuid::new_v4().simple())
}

/// A helper with a profile in central Zurich, open around the clock (not vetted).
async fn helper(app: &TestApp) -> (String, String) {
    let (id, token, _) = person(app, &email("helper"), "helper").await;
    let p = app
        .request(
            Method::PUT,
            "/v1/helper/profile",
            Some(&token),
            Some(json!({"skills": ["wifi"], "home": {"lat": 47.3769, "lon": 8.5417}, "travel_radius_km": 5})),
        )
        .await;
    ok(&p, "profile");
    ok(&app.request(Method::PUT, "/v1/helper/availability", Some(&token), Some(all_week())).await, "availability");
    (id, token)
}

fn application() -> Value {
    json!({"legal_name": "Xaver Example", "birth_date": "1985-04-12", "iban": random_iban(), "quiz_answers": [1, 1, 0, 1, 2]})
}

async fn act(app: &TestApp, token: &str, id: &str, body: Value) {
    let r = app.post(&format!("/v1/bookings/{id}/transitions"), Some(token), body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{body}: {}", r.text);
}

async fn book(app: &TestApp, customer: &str, helper: &str, start: &str) -> (String, String) {
    let b = app
        .post(
            "/v1/bookings",
            Some(customer),
            json!({"service": "guest-wifi", "address": "Seefeldstrasse 9, 8008 Zürich", "start": start, "helper_id": helper}),
        )
        .await;
    assert_eq!(b.status, StatusCode::CREATED, "{}", b.text);
    (b.body["id"].as_str().expect("id").to_owned(), b.body["start_code"].as_str().expect("code").to_owned())
}

async fn done(app: &TestApp, customer: &str, helper_id: &str, helper: &str, days: i64) -> String {
    let (id, code) = book(app, customer, helper_id, &start(days, 10)).await;
    act(app, helper, &id, json!({"action": "accept"})).await;
    act(app, helper, &id, json!({"action": "arrive", "code": code})).await;
    let signoff = app.get(&format!("/v1/bookings/{id}"), Some(customer)).await.body["signoff_code"].as_str().expect("signoff").to_owned();
    act(app, helper, &id, json!({"action": "complete", "code": signoff})).await;
    id
}

/// The token of the password-reset link mailed to `to` (waits up to 15 s).
async fn reset_link(to: &str) -> String {
    let dir = std::env::var("QUARTIER_TEST_MAILDIR").expect("QUARTIER_TEST_MAILDIR is set by scripts/test-services.sh");
    for _ in 0..300 {
        for e in std::fs::read_dir(&dir).expect("maildir").flatten() {
            let Ok(raw) = std::fs::read_to_string(e.path()) else { continue };
            if !raw.lines().next().is_some_and(|l| l.starts_with("X-Sink-Rcpt:") && l.contains(to)) {
                continue;
            }
            let text = crate::authz::readable_mail(&raw);
            if let Some(token) = crate::authz::link_token(&text, "/#/reset/") {
                return token;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no password-reset mail to {to} arrived within 15 s");
}

/// Every table's rows as text, sorted (raw bytes left out).
async fn snapshot(app: &TestApp) -> BTreeMap<String, Vec<String>> {
    let backend = app.store.backend();
    let mut conn = app.store.pool().acquire().await.expect("conn");
    let tables = quartier_store::account::tables(&mut conn, backend).await.expect("tables");
    assert!(tables.len() >= 20, "{tables:?}");
    let mut out = BTreeMap::new();
    for table in tables {
        let skip: &[&str] = match table.as_str() {
            "dispute_photos" => &["data"],
            "idempotency_keys" => &["body"],
            _ => &[],
        };
        let rows = quartier_store::account::rows_as_text(&mut conn, backend, &table, "1 = 1", "", skip)
            .await
            .unwrap_or_else(|e| panic!("read {table}: {e}"));
        let mut rows: Vec<String> = rows.into_iter().map(|r| format!("{r:?}")).collect();
        rows.sort();
        out.insert(table, rows);
    }
    out
}

fn changed(before: &BTreeMap<String, Vec<String>>, after: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let mut out = Vec::new();
    for (table, rows) in after {
        let old = before.get(table).cloned().unwrap_or_default();
        if &old != rows {
            let added: Vec<&String> = rows.iter().filter(|r| !old.contains(r)).take(2).collect();
            out.push(format!("{table} ({} -> {} rows; new or changed: {added:?})", old.len(), rows.len()));
        }
    }
    out
}

/// One write operation with an actor allowed to call it and a body it accepts.
struct Entry {
    op: &'static str,
    url: String,
    token: Option<String>,
    body: Value,
}

fn entry(op: &'static str, url: impl Into<String>, token: Option<&str>, body: Value) -> Entry {
    Entry { op, url: url.into(), token: token.map(str::to_owned), body }
}

async fn mass_assignment(backend: Backend) {
    let started = std::time::Instant::now();
    let app = spawn_app_with(backend, |s| s.login_attempts_per_address = 1_000).await;
    let doc = app.get("/openapi.json", None).await;
    assert_eq!(doc.status, StatusCode::OK, "{}", doc.text);
    let has = |op: &str| {
        let (method, path) = op.split_once(' ').expect("op");
        doc.body["paths"][path].get(method.to_lowercase()).is_some()
    };
    let operator = app.operator().await;
    let (a_id, a, a_refresh) = person(&app, &email("customer"), "customer").await;
    let throwaway = email("throwaway");
    let (_, _, spare_refresh) = person(&app, &throwaway, "customer").await;
    let (_, leaving, _) = person(&app, &email("leaving"), "customer").await;
    let (h_id, h) = helper(&app).await;
    app.approve(&h, &h_id).await;
    let (x_id, x) = helper(&app).await;
    let (y_id, y) = helper(&app).await;
    ok(&app.post("/v1/helper/application", Some(&y), application()).await, "Y applies");
    ok(
        &app.post(
            &format!("/v1/ops/helpers/{y_id}/decision"),
            Some(&operator),
            json!({"decision": "reject", "reason": "IBAN holder differs"}),
        )
        .await,
        "Y rejected",
    );
    let (requested, _) = book(&app, &a, &h_id, &start(2, 10)).await;
    let finished = done(&app, &a, &h_id, &h, 3).await;
    let disputed = done(&app, &a, &h_id, &h, 4).await;
    let d = app
        .post(
            &format!("/v1/bookings/{disputed}/dispute"),
            Some(&a),
            json!({"reason": "poor_work", "text": "The guest network drops hourly."}),
        )
        .await;
    assert_eq!(d.status, StatusCode::CREATED, "{}", d.text);
    let dispute = d.body["id"].as_str().expect("dispute").to_owned();
    // A reset link for an account of its own (its password changes when the link is used).
    let resetter = email("resetter");
    person(&app, &resetter, "customer").await;
    let reset_token = if has("POST /v1/auth/password-reset/confirm") {
        let r = app.post("/v1/auth/password-reset", None, json!({"email": resetter})).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
        reset_link(&resetter).await
    } else {
        String::new()
    };
    let contest = if has("POST /v1/ops/contests/{id}/decide") {
        let c = app.post("/v1/helper/metrics/contest", Some(&h), json!({"figure": "level", "text": "Please count my jobs again."})).await;
        assert_eq!(c.status, StatusCode::CREATED, "{}", c.text);
        c.body["id"].as_str().expect("contest").to_owned()
    } else {
        String::new()
    };

    // In the order the valid bodies can succeed one after the other.
    let entries = vec![
        entry("POST /v1/auth/login", "/v1/auth/login", None, json!({"email": throwaway, "password": PASSWORD})),
        entry("POST /v1/auth/refresh", "/v1/auth/refresh", None, json!({"refresh_token": spare_refresh})),
        entry(
            "POST /v1/auth/register",
            "/v1/auth/register",
            None,
            json!({"email": email("new"), "password": PASSWORD, "name": "Nora Neu", "role": "customer", "locale": "en"}),
        ),
        entry("POST /v1/quotes", "/v1/quotes", None, json!({"service": "guest-wifi", "postcode": "8001", "start": start(9, 10)})),
        entry(
            "POST /v1/matches",
            "/v1/matches",
            Some(&a),
            json!({"service": "guest-wifi", "postcode": "8001", "window": {"from": start(2, 0), "to": start(9, 0)}}),
        ),
        entry(
            "POST /v1/bookings",
            "/v1/bookings",
            Some(&a),
            json!({"service": "guest-wifi", "address": "Matrixweg 1, 8001 Zürich", "start": start(7, 10), "helper_id": h_id}),
        ),
        entry("POST /v1/bookings/{id}/messages", format!("/v1/bookings/{requested}/messages"), Some(&a), json!({"body": "See you soon."})),
        entry("POST /v1/bookings/{id}/transitions", format!("/v1/bookings/{requested}/transitions"), Some(&h), json!({"action": "accept"})),
        entry("POST /v1/bookings/{id}/payment", format!("/v1/bookings/{finished}/payment"), Some(&a), json!({"method": "card"})),
        entry(
            "POST /v1/bookings/{id}/review",
            format!("/v1/bookings/{finished}/review"),
            Some(&a),
            json!({"rating": 5, "text": "Great help."}),
        ),
        entry(
            "POST /v1/bookings/{id}/dispute",
            format!("/v1/bookings/{finished}/dispute"),
            Some(&a),
            json!({"reason": "poor_work", "text": "Nothing works as it should."}),
        ),
        entry(
            "POST /v1/disputes/{id}/statement",
            format!("/v1/disputes/{dispute}/statement"),
            Some(&h),
            json!({"text": "Every device was tested twice."}),
        ),
        entry(
            "POST /v1/ops/disputes/{id}/resolve",
            format!("/v1/ops/disputes/{dispute}/resolve"),
            Some(&operator),
            json!({"outcome": "payout", "note": "Both statements checked"}),
        ),
        entry("POST /v1/helper/application", "/v1/helper/application", Some(&x), application()),
        entry(
            "POST /v1/ops/helpers/{id}/decision",
            format!("/v1/ops/helpers/{x_id}/decision"),
            Some(&operator),
            json!({"decision": "approve", "reason": "Documents checked"}),
        ),
        entry(
            "POST /v1/helper/application/appeal",
            "/v1/helper/application/appeal",
            Some(&y),
            json!({"text": "The account is mine, here is why."}),
        ),
        entry("PUT /v1/helper/availability", "/v1/helper/availability", Some(&h), all_week()),
        entry(
            "POST /v1/helper/availability/exceptions",
            "/v1/helper/availability/exceptions",
            Some(&h),
            json!({"kind": "off", "date": day(200).to_string()}),
        ),
        entry(
            "PUT /v1/helper/billing",
            "/v1/helper/billing",
            Some(&h),
            json!({"iban": random_iban(), "street": "Matrixweg", "house_number": "1", "postcode": "8001", "town": "Zürich"}),
        ),
        entry(
            "PUT /v1/helper/profile",
            "/v1/helper/profile",
            Some(&h),
            json!({"skills": ["wifi"], "home": {"lat": 47.3769, "lon": 8.5417}, "travel_radius_km": 5}),
        ),
        entry("PATCH /v1/me", "/v1/me", Some(&a), json!({"name": "Anna Neu"})),
        entry("POST /v1/notifications/read", "/v1/notifications/read", Some(&a), json!({"ids": []})),
        entry("PUT /v1/ops/catalog/{slug}", "/v1/ops/catalog/guest-wifi", Some(&operator), json!({"active": true})),
        entry("POST /v1/ops/policies", "/v1/ops/policies", Some(&operator), policy()),
        entry("POST /v1/auth/password-reset", "/v1/auth/password-reset", None, json!({"email": throwaway})),
        entry(
            "POST /v1/auth/password-reset/confirm",
            "/v1/auth/password-reset/confirm",
            None,
            json!({"token": reset_token, "password": "a new password 12"}),
        ),
        entry(
            "POST /v1/helper/metrics/contest",
            "/v1/helper/metrics/contest",
            Some(&h),
            json!({"figure": "level", "text": "Please recount my jobs."}),
        ),
        entry("PUT /v1/helper/ranking", "/v1/helper/ranking", Some(&h), json!({"opt_in": true})),
        entry(
            "POST /v1/ops/contests/{id}/decide",
            format!("/v1/ops/contests/{contest}/decide"),
            Some(&operator),
            json!({"accept": false, "answer": "The figures are right."}),
        ),
        entry(
            "POST /v1/ops/invitations",
            "/v1/ops/invitations",
            Some(&operator),
            json!({"postcode": "8001", "radius_km": 5.0, "subject": "Meet-up", "text": "Come to our helpers' meet-up."}),
        ),
        entry("POST /v1/auth/logout", "/v1/auth/logout", Some(&a), json!({"refresh_token": a_refresh})),
        entry("DELETE /v1/me", "/v1/me", Some(&leaving), json!({"password": PASSWORD})),
    ];

    // Coverage: every write operation of the document with a JSON body has an entry.
    let schemas = &doc.body["components"]["schemas"];
    let mut documented: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut uncovered = Vec::new();
    let mut writes = 0;
    for (path, item) in doc.body["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if !["post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            let key = format!("{} {path}", method.to_uppercase());
            let Some(schema) = op["requestBody"]["content"].get("application/json").map(|c| &c["schema"]) else {
                if method != "delete" {
                    writes += 1;
                    assert!(NO_JSON_BODY.contains(&key.as_str()), "{key} takes no JSON body and is not listed in NO_JSON_BODY");
                }
                continue;
            };
            writes += 1;
            let schema = match schema["$ref"].as_str() {
                Some(r) => &schemas[r.rsplit('/').next().expect("name")],
                None => schema,
            };
            let fields: Vec<String> = schema["properties"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default();
            assert!(!fields.is_empty(), "{key}: no documented fields in {schema}");
            if !entries.iter().any(|e| e.op == key) {
                uncovered.push(key.clone());
            }
            documented.insert(key, fields);
        }
    }
    assert!(uncovered.is_empty(), "write operations with a JSON body but no mass-assignment entry:\n{}", uncovered.join("\n"));

    app.drain_outbox().await;
    let fields = forbidden(&h_id, &a_id);
    let mut failures = Vec::new();
    let (mut injected, mut skipped) = (0usize, 0usize);
    let mut tried = 0usize;
    for e in &entries {
        // An entry for an operation the document does not (or no longer) describe is left out.
        let Some(own) = documented.get(e.op) else {
            println!("R9b: {} is not in the OpenAPI document; skipped", e.op);
            continue;
        };
        tried += 1;
        let (method, _) = e.op.split_once(' ').expect("method");
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        // The worker finishes what the previous control queued before the first picture.
        app.drain_outbox().await;
        let before = snapshot(&app).await;
        for (field, value) in &fields {
            if own.iter().any(|f| f == field) {
                skipped += 1;
                continue;
            }
            injected += 1;
            let mut body = e.body.clone();
            body.as_object_mut().expect("object body").insert((*field).to_owned(), value.clone());
            let r = app.request(method.clone(), &e.url, e.token.as_deref(), Some(body)).await;
            if r.status != StatusCode::BAD_REQUEST || r.body["code"] != "unknown_field" {
                let text: String = r.text.chars().take(200).collect();
                failures.push(format!("{} with `{field}`: expected 400 unknown_field, got {} {text}", e.op, r.status));
            }
        }
        let after = snapshot(&app).await;
        let diff = changed(&before, &after);
        if !diff.is_empty() {
            failures.push(format!("{} with forbidden fields changed: {}", e.op, diff.join("; ")));
        }
        // The body alone is accepted: the field was what was refused.
        let r = app.request(method, &e.url, e.token.as_deref(), Some(e.body.clone())).await;
        if !r.status.is_success() {
            failures.push(format!("{} control (valid body alone): {} {}", e.op, r.status, r.text));
        }
    }
    println!(
        "R9b on {backend:?}: {writes} write operations, {} with JSON bodies tried, {injected} injections checked ({skipped} documented fields skipped), {:?}",
        tried,
        started.elapsed()
    );
    assert!(failures.is_empty(), "mass assignment:\n{}", failures.join("\n"));
    app.drain_outbox().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mass_assignment_is_refused_sqlite() {
    mass_assignment(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mass_assignment_is_refused_postgres() {
    mass_assignment(Backend::Postgres).await;
}
