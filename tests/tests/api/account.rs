//! A person's own data: the export holds everything about them and nothing about others or their
//! secrets; erasure leaves no trace of them in any table (scanned column by column, blobs byte by
//! byte) while the ledger, the bookings and the other side's ratings stay; the helper's calendar
//! feed works from its signed address alone.
//!
//! Every POST here carries an `Idempotency-Key`, as the web apps send one with every POST, so the
//! replies stored for retries are part of what erasure must reach.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{Res, SIGNING_KEY, TestApp};

const PASSWORD: &str = "correct horse battery";
const PNG: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

fn start_in_days(days: i64, hh: u8) -> String {
    let d = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().checked_add(jiff::Span::new().days(days)).expect("date");
    format!("{d}T{hh:02}:00:00Z")
}

/// A short random tag that makes a marker value unique to one test run.
fn tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_owned()
}

/// A random, valid Swiss IBAN (not a QR-IBAN): `CHkk 00762 <12 digits>`.
fn random_iban() -> String {
    let account = u64::from_str_radix(&uuid::Uuid::new_v4().simple().to_string()[..12], 16).expect("hex") % 1_000_000_000_000;
    let bban = format!("00762{account:012}");
    // Check digits: 98 - (BBAN + "CH00" with C = 12, H = 17) mod 97.
    let rem = format!("{bban}121700").chars().fold(0u32, |r, c| (r * 10 + c.to_digit(10).expect("digit")) % 97);
    format!("CH{:02}{bban}", 98 - rem)
}

/// The IBAN in groups of four, as people write it.
fn spaced(iban: &str) -> String {
    iban.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).expect("ascii")).collect::<Vec<_>>().join(" ")
}

/// A request as the web apps send it: POSTs carry a fresh `Idempotency-Key`.
async fn web(app: &TestApp, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Res {
    let mut req = app.client.request(method.clone(), format!("{}{path}", app.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if method == Method::POST {
        req = req.header("Idempotency-Key", uuid::Uuid::new_v4().to_string());
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request sent");
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Res { status, headers, body, text }
}

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> Res {
    web(app, Method::POST, path, Some(token), Some(body)).await
}

async fn act(app: &TestApp, token: &str, id: &str, body: Value) -> Res {
    let r = post(app, &format!("/v1/bookings/{id}/transitions"), token, body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{body}: {}", r.text);
    r
}

/// Registers and signs in; returns (id, access token, refresh token).
async fn register(app: &TestApp, email: &str, name: &str, role: &str, locale: &str) -> (String, String, String) {
    let r = app
        .post("/v1/auth/register", None, json!({"email": email, "password": PASSWORD, "name": name, "role": role, "locale": locale}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let l = app.login(email, PASSWORD).await;
    assert_eq!(l.status, StatusCode::OK, "{}", l.text);
    (
        r.body["id"].as_str().expect("id").to_owned(),
        l.body["access_token"].as_str().expect("access").to_owned(),
        l.body["refresh_token"].as_str().expect("refresh").to_owned(),
    )
}

/// An approved helper in central Zurich, available around the clock, whose application carries
/// `legal_name` and `iban`; the operator's approval names them (as operators' notes do).
/// Returns (id, token).
async fn approved_helper(app: &TestApp, operator: &str, email: &str, name: &str, legal_name: &str, iban: &str) -> (String, String) {
    let (id, token, _) = register(app, email, name, "helper", "de").await;
    let p = app
        .request(
            Method::PUT,
            "/v1/helper/profile",
            Some(&token),
            Some(json!({"skills": ["wifi"], "home": {"lat": 47.3769, "lon": 8.5417}, "travel_radius_km": 5, "bio": format!("{name} hilft gern."), "languages": ["de", "en"]})),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    let all_week: Vec<Value> =
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].iter().map(|d| json!({"weekday": d, "start": "00:00", "end": "24:00"})).collect();
    let a =
        app.request(Method::PUT, "/v1/helper/availability", Some(&token), Some(json!({"rules": all_week, "min_notice_minutes": 0}))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let applied = post(
        app,
        "/v1/helper/application",
        &token,
        json!({"legal_name": legal_name, "birth_date": "1984-03-09", "iban": spaced(iban), "quiz_answers": [1, 1, 0, 1, 2]}),
    )
    .await;
    assert_eq!(applied.status, StatusCode::CREATED, "{}", applied.text);
    let d = post(
        app,
        &format!("/v1/ops/helpers/{id}/decision"),
        operator,
        json!({"decision": "approve", "reason": format!("Identity of {legal_name} checked against the ID card")}),
    )
    .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    (id, token)
}

async fn book(app: &TestApp, customer: &str, helper_id: &str, start: &str, address: &str) -> Res {
    let b =
        post(app, "/v1/bookings", customer, json!({"service": "guest-wifi", "address": address, "start": start, "helper_id": helper_id}))
            .await;
    assert_eq!(b.status, StatusCode::CREATED, "{}", b.text);
    b
}

/// Books, accepts, arrives and completes a visit; returns the booking as booked.
async fn done_visit(app: &TestApp, customer: &str, helper_id: &str, helper: &str, start: &str, address: &str) -> Res {
    let b = book(app, customer, helper_id, start, address).await;
    let id = b.body["id"].as_str().expect("id").to_owned();
    let code = b.body["start_code"].as_str().expect("start code").to_owned();
    act(app, helper, &id, json!({"action": "accept"})).await;
    act(app, helper, &id, json!({"action": "arrive", "code": code})).await;
    let signoff = app.get(&format!("/v1/bookings/{id}"), Some(customer)).await.body["signoff_code"].as_str().expect("signoff").to_owned();
    let done = act(app, helper, &id, json!({"action": "complete", "code": signoff})).await;
    assert_eq!(done.body["state"], "done", "{}", done.text);
    b
}

async fn ledger_total(app: &TestApp) -> i64 {
    let mut conn = app.store.pool().acquire().await.expect("conn");
    quartier_store::ledger::total(&mut conn).await.expect("total")
}

/// Columns holding raw bytes, which are searched as bytes rather than read as text, with the
/// column naming whose bytes they are.
const BLOBS: [(&str, &str, &str); 2] = [("idempotency_keys", "body", "user_id"), ("dispute_photos", "data", "uploaded_by")];

/// Every place in the database where one of `markers` occurs (case-insensitively): each text
/// column of every table, and the blob columns byte by byte. Returns "table.column: marker".
async fn traces(app: &TestApp, markers: &[String]) -> Vec<String> {
    let backend = app.store.backend();
    let mut conn = app.store.pool().acquire().await.expect("conn");
    let tables = quartier_store::account::tables(&mut conn, backend).await.expect("tables");
    assert!(tables.len() >= 20 && tables.iter().any(|t| t == "users") && tables.iter().any(|t| t == "outbox"), "{tables:?}");
    let lower: Vec<String> = markers.iter().map(|m| m.to_lowercase()).collect();
    let mut found = Vec::new();
    for table in &tables {
        let skip: Vec<&str> = BLOBS.iter().filter(|(t, _, _)| t == table).map(|(_, c, _)| *c).collect();
        let rows = quartier_store::account::rows_as_text(&mut conn, backend, table, "1 = 1", "", &skip)
            .await
            .unwrap_or_else(|e| panic!("read {table}: {e}"));
        for row in rows {
            for (column, value) in row {
                let Some(value) = value else { continue };
                let value = value.to_lowercase();
                for (m, l) in markers.iter().zip(&lower) {
                    if value.contains(l.as_str()) {
                        found.push(format!("{table}.{column}: {m}"));
                    }
                }
            }
        }
    }
    for (table, column, owner) in BLOBS {
        assert!(tables.iter().any(|t| t == table), "{table} is gone: update this test");
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT CAST(u.role AS TEXT), {column} FROM {table} LEFT JOIN users u ON u.id = {table}.{owner} WHERE {column} IS NOT NULL"
        ));
        let blobs: Vec<(Option<String>, Vec<u8>)> = sqlx::query_as(sql).fetch_all(&mut *conn).await.expect("blobs");
        for (role, bytes) in blobs {
            let bytes = bytes.to_ascii_lowercase();
            for (m, l) in markers.iter().zip(&lower) {
                if bytes.windows(l.len()).any(|w| w == l.as_bytes()) {
                    found.push(format!("{table}.{column} (bytes, of a {}): {m}", role.as_deref().unwrap_or("vanished user")));
                }
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// Asserts each marker occurs somewhere before erasure, so the scan afterwards can fail.
fn assert_all_present(before: &[String], markers: &[String]) {
    for m in markers {
        assert!(
            before.iter().any(|f| f.ends_with(&format!(": {m}"))),
            "marker {m:?} was never stored, so its absence proves nothing: {before:?}"
        );
    }
}

/// Every key of every object in `v`, recursively.
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

async fn erase(app: &TestApp, token: &str, password: &str) -> Res {
    app.request(Method::DELETE, "/v1/me", Some(token), Some(json!({"password": password}))).await
}

/// The path and query of the calendar address (the public base is not where the test server
/// listens).
fn calendar_path(url: &str) -> String {
    let at = url.find("/v1/helper/calendar.ics?token=").unwrap_or_else(|| panic!("not a calendar address: {url}"));
    url[at..].to_owned()
}

async fn fetch_calendar(app: &TestApp, path: &str) -> (StatusCode, String, String) {
    let res = app.client.get(format!("{}{path}", app.base)).send().await.expect("calendar");
    let status = res.status();
    let ct = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    (status, ct, res.text().await.expect("body"))
}

/// A link token signed with the test key, as the server would sign it.
fn forged_link(user: &str, booking: &str, action: &str) -> String {
    let exp = jiff::Timestamp::now().as_second() + 3600;
    let claims = json!({"sub": user, "booking": booking, "action": action, "iss": "quartier-link", "exp": exp});
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &jsonwebtoken::EncodingKey::from_secret(SIGNING_KEY.as_bytes()))
        .expect("sign")
}

both_backends! {
    async fn the_export_holds_my_rows_and_nobody_elses_or_any_secret(app) {
        let (helper_id, helper, _) = app.helper_with_profile(&["wifi"]).await;
        let email = format!("export-{}@example.ch", tag());
        let (me, customer, _) = register(&app, &email, "Erika Export", "customer", "de").await;
        let (_, other, _) = app.signed_up("customer").await;
        let mine = book(&app, &customer, &helper_id, &start_in_days(3, 9), "Exportgasse 3, 8004 Zürich").await;
        let mine_id = mine.body["id"].as_str().expect("id").to_owned();
        act(&app, &helper, &mine_id, json!({"action": "accept"})).await;
        let said = post(&app, &format!("/v1/bookings/{mine_id}/messages"), &helper, json!({"body": "Ich bringe ein Netzwerkkabel mit."})).await;
        assert_eq!(said.status, StatusCode::CREATED, "{}", said.text);
        let theirs = book(&app, &other, &helper_id, &start_in_days(4, 9), "Fremdweg 8, 8003 Zürich").await;
        let theirs_id = theirs.body["id"].as_str().expect("id").to_owned();

        let res = app.client.get(format!("{}/v1/me/export", app.base)).bearer_auth(&customer).send().await.expect("export");
        assert_eq!(res.status(), StatusCode::OK);
        let disposition = res.headers().get("content-disposition").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        assert!(disposition.starts_with("attachment"), "{disposition:?}");
        let ct = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        assert!(ct.starts_with("application/json"), "{ct}");
        let text = res.text().await.expect("body");
        let export: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(export["user_id"], me.as_str());
        let tables = &export["tables"];
        let users = tables["users"].as_array().expect("users");
        assert_eq!(users.len(), 1, "{text}");
        assert_eq!(users[0]["email"], email.as_str());
        assert_eq!(users[0]["name"], "Erika Export");
        let booking_ids: Vec<&str> = tables["bookings"].as_array().expect("bookings").iter().filter_map(|b| b["id"].as_str()).collect();
        assert_eq!(booking_ids, [mine_id.as_str()], "{text}");
        assert_eq!(tables["bookings"][0]["address"], "Exportgasse 3, 8004 Zürich");
        let messages: Vec<&str> = tables["messages"].as_array().expect("messages").iter().filter_map(|m| m["body"].as_str()).collect();
        assert_eq!(messages, ["Ich bringe ein Netzwerkkabel mit."], "the messages of my bookings, whoever wrote them");
        let kinds: Vec<&str> = tables["notifications"].as_array().expect("notifications").iter().filter_map(|n| n["kind"].as_str()).collect();
        assert!(kinds.contains(&"booking_accepted"), "{kinds:?}");
        let events = tables["booking_events"].as_array().expect("events");
        assert!(events.iter().all(|e| e["booking_id"] == mine_id.as_str()) && events.len() >= 2, "{events:?}");
        // Nobody else's booking, nor anything that points to it.
        assert!(!text.contains(&theirs_id), "another customer's booking leaked into the export");
        assert!(!text.contains("Fremdweg"), "another customer's address leaked into the export");
        // No secret, under any key, anywhere.
        let mut all = Vec::new();
        keys(&export, &mut all);
        for secret in ["password_hash", "token_hash"] {
            assert!(!all.iter().any(|k| k == secret), "the export has a {secret} key");
        }
        assert!(!text.contains("$argon2"), "a password hash leaked into the export");
        assert_eq!(app.get("/v1/me/export", None).await.status, StatusCode::UNAUTHORIZED);
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn erasing_a_customer_leaves_no_trace_but_keeps_the_books(app) {
        let operator = app.operator().await;
        let (helper_id, helper, _) = app.helper_with_profile(&["wifi"]).await;
        let t = tag();
        let name = format!("Mirjam Markerfeld{t}");
        let email = format!("mirjam.{t}@example.ch");
        let address = format!("Markerweg {}, 8004 Zürich", 100 + u32::from_str_radix(&t[..4], 16).expect("hex") % 900);
        let markers = vec![name.clone(), email.clone(), address.clone()];
        let (me, customer, refresh) = register(&app, &email, &name, "customer", "de").await;

        // A visit done, talked about both ways, reviewed both ways, disputed and decided.
        let b = done_visit(&app, &customer, &helper_id, &helper, &start_in_days(2, 10), &address).await;
        let id = b.body["id"].as_str().expect("id").to_owned();
        let price = b.body["price"]["amount_rappen"].as_i64().expect("price");
        for (token, body) in [
            (&customer, format!("Hier {name}, erreichbar unter {email}. Die Adresse ist {address}.")),
            (&helper, format!("Danke {name}, ich war gern an der {address}.")),
        ] {
            let m = post(&app, &format!("/v1/bookings/{id}/messages"), token, json!({"body": body})).await;
            assert_eq!(m.status, StatusCode::CREATED, "{}", m.text);
        }
        let r1 = post(&app, &format!("/v1/bookings/{id}/review"), &customer, json!({"rating": 4, "text": format!("Gute Arbeit. {name}")})).await;
        assert_eq!(r1.status, StatusCode::CREATED, "{}", r1.text);
        let r2 = post(&app, &format!("/v1/bookings/{id}/review"), &helper, json!({"rating": 5, "text": format!("{name} war sehr freundlich.")})).await;
        assert_eq!(r2.status, StatusCode::CREATED, "{}", r2.text);
        let d = post(&app, &format!("/v1/bookings/{id}/dispute"), &customer, json!({"reason": "poor_work", "text": format!("Das WLAN an der {address} fällt stündlich aus.")})).await;
        assert_eq!(d.status, StatusCode::CREATED, "{}", d.text);
        let dispute = d.body["id"].as_str().expect("dispute").to_owned();
        let mut photo = PNG.to_vec();
        photo.extend(format!("tEXtComment\0{name} {address}").as_bytes());
        photo.resize(512, 0);
        let up = app
            .client
            .post(format!("{}/v1/disputes/{dispute}/photos", app.base))
            .bearer_auth(&customer)
            .header("content-type", "image/png")
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
            .body(photo)
            .send()
            .await
            .expect("upload");
        assert_eq!(up.status(), StatusCode::CREATED);
        let stated = post(&app, &format!("/v1/disputes/{dispute}/statement"), &helper, json!({"text": format!("Bei {name} lief alles, als ich ging.")})).await;
        assert_eq!(stated.status, StatusCode::OK, "{}", stated.text);
        let blocked = erase(&app, &customer, PASSWORD).await;
        assert_eq!(blocked.status, StatusCode::CONFLICT, "{}", blocked.text);
        assert_eq!(blocked.code(), "open_dispute");
        let decided = post(&app, &format!("/v1/ops/disputes/{dispute}/resolve"), &operator, json!({"outcome": "partial_refund", "refund_rappen": 1000, "note": format!("Mit {name} telefoniert; Router an der {address} getauscht.")})).await;
        assert_eq!(decided.status, StatusCode::OK, "{}", decided.text);

        // A second visit still planned blocks the erasure until it is called off.
        let planned = book(&app, &customer, &helper_id, &start_in_days(6, 10), &address).await;
        let planned_id = planned.body["id"].as_str().expect("id").to_owned();
        act(&app, &helper, &planned_id, json!({"action": "accept"})).await;
        let wrong = erase(&app, &customer, "not my password at all").await;
        assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{}", wrong.text);
        assert_eq!(wrong.code(), "wrong_password");
        let active = erase(&app, &customer, PASSWORD).await;
        assert_eq!(active.status, StatusCode::CONFLICT, "{}", active.text);
        assert_eq!(active.code(), "active_bookings");
        act(&app, &customer, &planned_id, json!({"action": "cancel", "reason": format!("{name} zieht um")})).await;
        app.drain_outbox().await;
        let before = traces(&app, &markers).await;
        assert_all_present(&before, &markers);
        assert!(before.iter().any(|f| f.starts_with("dispute_photos.data")), "the photo's bytes carry the markers: {before:?}");
        assert!(before.iter().any(|f| f.starts_with("idempotency_keys.body")), "stored replies carry the markers: {before:?}");
        let total_before = ledger_total(&app).await;

        let gone = erase(&app, &customer, PASSWORD).await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.text);
        app.drain_outbox().await;

        // The person cannot come back in.
        assert_eq!(app.login(&email, PASSWORD).await.status, StatusCode::UNAUTHORIZED);
        let refreshed = app.post("/v1/auth/refresh", None, json!({"refresh_token": refresh})).await;
        assert_eq!(refreshed.status, StatusCode::UNAUTHORIZED, "{}", refreshed.text);
        // The books stay: the ledger balances, the visit keeps its price, the ratings stay.
        assert_eq!(total_before, 0);
        assert_eq!(ledger_total(&app).await, 0);
        let kept = app.get(&format!("/v1/bookings/{id}"), Some(&helper)).await;
        assert_eq!(kept.status, StatusCode::OK, "{}", kept.text);
        assert_eq!(kept.body["price"]["amount_rappen"], price);
        assert_eq!(kept.body["state"], "done");
        let (customer_id,): (String,) = sqlx::query_as("SELECT customer_id FROM bookings WHERE id = $1").bind(&id).fetch_one(app.store.pool()).await.expect("booking");
        assert_eq!(customer_id, me, "the booking still points to the (erased) account");
        let reviews = app.get(&format!("/v1/bookings/{id}/reviews"), Some(&helper)).await;
        let mut ratings: Vec<(String, i64)> = reviews.body["items"].as_array().expect("items").iter().map(|r| (r["author"].as_str().unwrap_or("").to_owned(), r["rating"].as_i64().unwrap_or(0))).collect();
        ratings.sort();
        assert_eq!(ratings, [("customer".to_owned(), 4), ("helper".to_owned(), 5)], "{}", reviews.text);

        let mut problems = Vec::new();
        let after = traces(&app, &markers).await;
        if !after.is_empty() {
            problems.push(format!("after erasing a customer their name, e-mail or address is still stored: {after:#?}"));
        }
        // "Your sessions end": the erased account's access token must not create new data either.
        let again = post(&app, "/v1/bookings", &customer, json!({"service": "guest-wifi", "address": "Nachherweg 1, 8004 Zürich", "start": start_in_days(8, 10), "helper_id": helper_id})).await;
        if again.status != StatusCode::UNAUTHORIZED {
            problems.push(format!("the erased customer's access token still works: POST /v1/bookings answered {} {}", again.status, again.text));
        }
        assert!(problems.is_empty(), "BUG: {}", problems.join("\nBUG: "));
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn erasing_a_helper_leaves_no_trace_and_takes_them_off_the_market(app) {
        let operator = app.operator().await;
        let t = tag();
        let name = format!("Hektor Helferli{t}");
        let legal_name = format!("Hektor Amadeus Legalis{t}");
        let email = format!("hektor.{t}@example.ch");
        let iban = random_iban();
        let street = format!("Bankgasse{t}");
        let markers = vec![name.clone(), legal_name.clone(), email.clone(), iban.clone(), spaced(&iban), street.clone()];
        let (helper_id, helper) = approved_helper(&app, &operator, &email, &name, &legal_name, &iban).await;
        let billing = app
            .request(Method::PUT, "/v1/helper/billing", Some(&helper), Some(json!({"iban": spaced(&iban), "street": street, "house_number": "4", "postcode": "8001", "town": "Zürich"})))
            .await;
        assert_eq!(billing.status, StatusCode::OK, "{}", billing.text);
        let link = app.get("/v1/helper/calendar", Some(&helper)).await;
        assert_eq!(link.status, StatusCode::OK, "{}", link.text);
        let calendar = calendar_path(link.body["url"].as_str().expect("url"));
        let (_, customer, _) = app.signed_up("customer").await;
        let b = done_visit(&app, &customer, &helper_id, &helper, &start_in_days(2, 11), "Kundenweg 5, 8005 Zürich").await;
        let id = b.body["id"].as_str().expect("id").to_owned();
        for (token, body) in [(&customer, format!("Danke, {name}!")), (&helper, format!("Gern geschehen, Grüsse {name} ({email})"))] {
            let m = post(&app, &format!("/v1/bookings/{id}/messages"), token, json!({"body": body})).await;
            assert_eq!(m.status, StatusCode::CREATED, "{}", m.text);
        }
        let r = post(&app, &format!("/v1/bookings/{id}/review"), &customer, json!({"rating": 5, "text": format!("{name} war top.")})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

        // Before: listed and matched.
        let listed = |text: &str| text.contains(&helper_id);
        let when = start_in_days(5, 10);
        let until = start_in_days(5, 16);
        let search = json!({"service": "guest-wifi", "location": {"lat": 47.3779, "lon": 8.5403}, "window": {"from": when, "to": until}});
        assert!(listed(&app.get("/v1/helpers?skill=wifi&limit=100", None).await.text), "the helper is listed before");
        let matched = post(&app, "/v1/matches", &customer, search.clone()).await;
        assert_eq!(matched.status, StatusCode::OK, "{}", matched.text);
        assert!(listed(&matched.text), "the helper is matched before: {}", matched.text);
        app.drain_outbox().await;
        let before = traces(&app, &markers).await;
        // The IBAN is stored without spaces; the spaced form is only searched for afterwards.
        assert_all_present(&before, &markers.iter().filter(|m| **m != spaced(&iban)).cloned().collect::<Vec<_>>());

        let gone = erase(&app, &helper, PASSWORD).await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.text);
        app.drain_outbox().await;
        assert_eq!(app.login(&email, PASSWORD).await.status, StatusCode::UNAUTHORIZED);
        assert!(!listed(&app.get("/v1/helpers?skill=wifi&limit=100", None).await.text), "an erased helper is not listed");
        let helper_page = app.get(&format!("/v1/helpers/{helper_id}"), None).await;
        assert_eq!(helper_page.status, StatusCode::NOT_FOUND, "{}", helper_page.text);
        let matched = post(&app, "/v1/matches", &customer, search).await;
        assert_eq!(matched.status, StatusCode::OK, "{}", matched.text);
        assert!(!listed(&matched.text), "an erased helper is not matched: {}", matched.text);
        let kept = app.get(&format!("/v1/bookings/{id}"), Some(&customer)).await;
        assert_eq!(kept.status, StatusCode::OK, "{}", kept.text);
        assert_eq!(kept.body["price"], b.body["price"]);
        assert_eq!(ledger_total(&app).await, 0);

        let mut problems = Vec::new();
        let after = traces(&app, &markers).await;
        if !after.is_empty() {
            problems.push(format!("after erasing a helper their name, legal name, e-mail, IBAN or billing street is still stored: {after:#?}"));
        }
        let (status, _, body) = fetch_calendar(&app, &calendar).await;
        if status != StatusCode::UNAUTHORIZED {
            problems.push(format!("the erased helper's calendar address still answers {status} with the jobs' addresses: {body}"));
        }
        assert!(problems.is_empty(), "BUG: {}", problems.join("\nBUG: "));
        app.finish().await;
    }

    async fn the_calendar_feed_shows_accepted_jobs_from_its_signed_address(app) {
        let (helper_id, helper, _) = app.helper_with_profile(&["wifi"]).await;
        let (customer_id, customer, _) = app.signed_up("customer").await;
        let link = app.get("/v1/helper/calendar", Some(&helper)).await;
        assert_eq!(link.status, StatusCode::OK, "{}", link.text);
        let expires: jiff::Timestamp = link.body["expires_at"].as_str().expect("expires_at").parse().expect("rfc3339");
        let now = jiff::Timestamp::now();
        assert!(expires > now.checked_add(jiff::SignedDuration::from_hours(300 * 24)).expect("ts"), "valid about a year: {expires}");
        let path = calendar_path(link.body["url"].as_str().expect("url"));

        let accepted = book(&app, &customer, &helper_id, &start_in_days(3, 9), "Kalenderweg 12, 8006 Zürich").await;
        let accepted_id = accepted.body["id"].as_str().expect("id").to_owned();
        act(&app, &helper, &accepted_id, json!({"action": "accept"})).await;
        let requested = book(&app, &customer, &helper_id, &start_in_days(4, 9), "Anfragestrasse 4, 8006 Zürich").await;
        let requested_id = requested.body["id"].as_str().expect("id").to_owned();

        let (status, ct, ics) = fetch_calendar(&app, &path).await;
        assert_eq!(status, StatusCode::OK, "{ics}");
        assert!(ct.starts_with("text/calendar"), "{ct}");
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\n") && ics.trim_end().ends_with("END:VCALENDAR"), "{ics}");
        assert_eq!(ics.matches("BEGIN:VEVENT").count(), 1, "{ics}");
        let event = &ics[ics.find("BEGIN:VEVENT").expect("event")..];
        assert!(event.contains(&format!("\r\nUID:{accepted_id}@quartier\r\n")), "{ics}");
        assert!(event.contains("\r\nLOCATION:Kalenderweg 12\\, 8006 Zürich\r\n"), "{ics}");
        let start = jiff::Timestamp::from_second(accepted.body["starts_at"].as_str().expect("start").parse::<jiff::Timestamp>().expect("ts").as_second()).expect("ts");
        assert!(event.contains(&format!("\r\nDTSTART:{}\r\n", start.strftime("%Y%m%dT%H%M%SZ"))), "{ics}");
        assert!(!ics.contains(&requested_id) && !ics.contains("Anfragestrasse"), "a request not accepted yet is not on the calendar: {ics}");

        // Only helpers have a calendar; the address is the only key, and it cannot be altered.
        let refused = app.get("/v1/helper/calendar", Some(&customer)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
        assert_eq!(app.get("/v1/helper/calendar", None).await.status, StatusCode::UNAUTHORIZED);
        let token = path.split("token=").nth(1).expect("token").to_owned();
        let mut tampered = token.clone().into_bytes();
        let i = tampered.len() / 2;
        tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("ascii");
        for bad in [
            tampered,
            format!("{token}x"),
            forged_link(&helper_id, &accepted_id, "accept"),
            forged_link(&customer_id, "", "calendar"),
        ] {
            let r = app.get(&format!("/v1/helper/calendar.ics?token={bad}"), None).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
            assert_eq!(r.code(), "invalid_link");
        }
        // A link signed like the server's works, which shows the refusals above are about the token.
        let (ok, _, _) = fetch_calendar(&app, &format!("/v1/helper/calendar.ics?token={}", forged_link(&helper_id, "", "calendar"))).await;
        assert_eq!(ok, StatusCode::OK);
        app.drain_outbox().await;
        app.finish().await;
    }
}
