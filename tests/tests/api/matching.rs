use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{Backend, TestApp, spawn_app, spawn_app_with};

/// The Monday after next, as a local date in Zurich (always in the future, a full week away).
fn monday() -> jiff::civil::Date {
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::get("Europe/Zurich").expect("zone")).date();
    let mut d = today.checked_add(jiff::Span::new().days(7)).expect("date");
    while d.weekday() != jiff::civil::Weekday::Monday {
        d = d.checked_add(jiff::Span::new().days(1)).expect("date");
    }
    d
}

fn at(date: jiff::civil::Date, hh: i8, mm: i8) -> String {
    let z = date.at(hh, mm, 0, 0).to_zoned(jiff::tz::TimeZone::get("Europe/Zurich").expect("zone")).expect("exists");
    z.timestamp().to_string()
}

async fn helper_at(app: &TestApp, lat: f64, lon: f64, radius: u8, skills: &[&str], rules: Value) -> (String, String) {
    let (id, token, _) = app.signed_up("helper").await;
    let p = app
        .request(
            Method::PUT,
            "/v1/helper/profile",
            Some(&token),
            Some(json!({"skills": skills, "home": {"lat": lat, "lon": lon}, "travel_radius_km": radius, "bio": "Neighbour", "languages": ["de"]})),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    let a = app.request(Method::PUT, "/v1/helper/availability", Some(&token), Some(json!({"rules": rules, "min_notice_minutes": 0}))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    app.approve(&token, &id).await;
    (id, token)
}

fn mornings() -> Value {
    json!([{"weekday": "mon", "start": "09:00", "end": "12:00"}])
}

async fn slots(app: &TestApp, helper: &str, from: &str, to: &str) -> crate::harness::Res {
    app.get(&format!("/v1/helpers/{helper}/slots?service=guest-wifi&from={}&to={}", enc(from), enc(to)), None).await
}

fn enc(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

async fn search(app: &TestApp, token: &str, body: Value) -> crate::harness::Res {
    app.post("/v1/matches", Some(token), body).await
}

both_backends! {
    async fn availability_round_trips_in_local_time(app) {
        let (_, token) = helper_at(&app, 47.3769, 8.5417, 5, &["wifi"], mornings()).await;
        let got = app.get("/v1/helper/availability", Some(&token)).await;
        assert_eq!(got.status, StatusCode::OK);
        assert_eq!(got.body["time_zone"], "Europe/Zurich");
        assert_eq!(got.body["rules"], json!([{"weekday": "mon", "start": "09:00", "end": "12:00"}]));
        for (bad, code) in [
            (json!({"rules": [{"weekday": "mon", "start": "09:10", "end": "12:00"}]}), "invalid_time"),
            (json!({"rules": [{"weekday": "mon", "start": "12:00", "end": "09:00"}]}), "invalid_rule"),
            (json!({"rules": [{"weekday": "mon", "start": "25:00", "end": "26:00"}]}), "invalid_time"),
            (json!({"rules": [], "time_zone": "Europe/Atlantis"}), "invalid_time_zone"),
            (json!({"rules": [], "buffer_before_minutes": 10}), "invalid_buffer"),
        ] {
            let r = app.request(Method::PUT, "/v1/helper/availability", Some(&token), Some(bad)).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
            assert_eq!(r.code(), code);
        }
        let unknown_day = app.request(Method::PUT, "/v1/helper/availability", Some(&token), Some(json!({"rules": [{"weekday": "someday", "start": "09:00", "end": "10:00"}]}))).await;
        assert_eq!(unknown_day.status, StatusCode::BAD_REQUEST);
        assert_eq!(app.get("/v1/helper/availability", Some(&token)).await.body["rules"], got.body["rules"], "refused changes left the rules as they were");
        app.finish().await;
    }

    async fn slots_follow_the_rules_bookings_and_exceptions(app) {
        let (helper, token) = helper_at(&app, 47.3769, 8.5417, 5, &["wifi"], mornings()).await;
        let d = monday();
        let (from, to) = (at(d, 0, 0), at(d, 23, 59));
        let s = slots(&app, &helper, &from, &to).await;
        assert_eq!(s.status, StatusCode::OK, "{}", s.text);
        let list: Vec<String> = s.body["slots"].as_array().expect("slots").iter().map(|v| v.as_str().expect("str").to_owned()).collect();
        // 45-minute job inside 09:00-12:00: starts 09:00 ... 11:15, every quarter hour.
        assert_eq!(list.len(), 10, "{list:?}");
        assert!(list[0].starts_with(&format!("{d}T09:00:00")), "{list:?}");
        assert!(list[9].starts_with(&format!("{d}T11:15:00")), "{list:?}");
        assert_eq!(s.body["time_zone"], "Europe/Zurich");

        // A booking at 10:00-10:45 blocks 09:45-11:00 with its buffers; a new visit needs its own
        // 15 minutes before and after, so only 11:15 (blocked 11:00-12:15) is left.
        let (_, customer, _) = app.signed_up("customer").await;
        let b = app.post("/v1/bookings", Some(&customer), json!({"service": "guest-wifi", "address": "Langstrasse 1, 8004 Zürich", "start": at(d, 10, 0), "helper_id": helper})).await;
        assert_eq!(b.status, StatusCode::CREATED, "{}", b.text);
        let after: Vec<String> = slots(&app, &helper, &from, &to).await.body["slots"].as_array().expect("slots").iter().map(|v| v.as_str().expect("s").to_owned()).collect();
        assert_eq!(after.len(), 1, "{after:?}");
        assert!(after[0].starts_with(&format!("{d}T11:15:00")), "{after:?}");
        // Booking a start that is not free is refused before the database is asked.
        let busy = app.post("/v1/bookings", Some(&customer), json!({"service": "guest-wifi", "address": "Langstrasse 1, 8004 Zürich", "start": at(d, 10, 30), "helper_id": helper})).await;
        assert_eq!(busy.status, StatusCode::CONFLICT);
        assert_eq!(busy.code(), "slot_unavailable");
        let outside = app.post("/v1/bookings", Some(&customer), json!({"service": "guest-wifi", "address": "Langstrasse 1, 8004 Zürich", "start": at(d, 15, 0), "helper_id": helper})).await;
        assert_eq!(outside.code(), "slot_unavailable");

        // A day off empties the day; removing it brings the slots back.
        let off = app.post("/v1/helper/availability/exceptions", Some(&token), json!({"kind": "off", "date": d.to_string()})).await;
        assert_eq!(off.status, StatusCode::CREATED, "{}", off.text);
        assert!(slots(&app, &helper, &from, &to).await.body["slots"].as_array().expect("slots").is_empty());
        let id = off.body["id"].as_str().expect("id");
        let del = app.request(Method::DELETE, &format!("/v1/helper/availability/exceptions/{id}"), Some(&token), None).await;
        assert_eq!(del.status, StatusCode::NO_CONTENT);
        assert_eq!(slots(&app, &helper, &from, &to).await.body["slots"].as_array().expect("slots").len(), 1);
        // Extra hours on the Monday evening add slots.
        let extra = app.post("/v1/helper/availability/exceptions", Some(&token), json!({"kind": "extra", "date": d.to_string(), "start": "18:00", "end": "19:00"})).await;
        assert_eq!(extra.status, StatusCode::CREATED, "{}", extra.text);
        assert_eq!(slots(&app, &helper, &from, &to).await.body["slots"].as_array().expect("slots").len(), 1 + 2);
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn matches_are_ranked_explained_and_keep_homes_private(app) {
        let rules = json!([{"weekday": "mon", "start": "08:00", "end": "20:00"}]);
        // Near Zurich HB, a bit further, one without the skill, one too far away (Winterthur).
        let (near, _) = helper_at(&app, 47.3790, 8.5400, 5, &["wifi"], rules.clone()).await;
        let (further, _) = helper_at(&app, 47.3950, 8.5300, 8, &["wifi", "tv"], rules.clone()).await;
        let (_no_skill, _) = helper_at(&app, 47.3780, 8.5410, 5, &["tv"], rules.clone()).await;
        let (far, _) = helper_at(&app, 47.4990, 8.7240, 15, &["wifi"], rules.clone()).await;
        let (_, customer, _) = app.signed_up("customer").await;
        let d = monday();
        let body = json!({"service": "guest-wifi", "location": {"lat": 47.3779, "lon": 8.5403}, "window": {"from": at(d, 0, 0), "to": at(d, 23, 0)}});
        let r = search(&app, &customer, body).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let items = r.body["items"].as_array().expect("items");
        let ids: Vec<&str> = items.iter().map(|i| i["helper"]["id"].as_str().expect("id")).collect();
        assert_eq!(ids, [near.as_str(), further.as_str()], "{}", r.text);
        assert!(!ids.contains(&far.as_str()));
        assert_eq!(items[0]["distance"], "under_1km");
        assert_eq!(items[1]["distance"], "2_5km");
        assert!(items[0]["earliest_start"].as_str().expect("start").starts_with(&format!("{d}T08:00:00+01:00")) || items[0]["earliest_start"].as_str().expect("start").starts_with(&format!("{d}T08:00:00+02:00")));
        assert_eq!(items[0]["price"]["amount_rappen"], 4900);
        let comps = items[0]["explanation"]["components"].as_array().expect("components");
        let names: Vec<&str> = comps.iter().map(|c| c["name"].as_str().expect("name")).collect();
        assert_eq!(names, ["distance", "language", "rating", "reliability", "fairness", "level", "proven_skill"]);
        // The distance component comes from the bucket, so it reveals no more than the bucket.
        for item in items {
            let v = item["explanation"]["components"][0]["value"].as_f64().expect("value");
            assert!([1.0, 0.85, 0.6, 0.3, 0.1].contains(&v), "{v}");
        }
        let weights: f64 = comps.iter().map(|c| c["weight"].as_f64().expect("w")).sum();
        assert!((weights - 1.0).abs() < 1e-9);
        let score: f64 = comps.iter().map(|c| c["weight"].as_f64().expect("w") * c["value"].as_f64().expect("v")).sum();
        assert!((score - items[0]["explanation"]["score"].as_f64().expect("score")).abs() < 1e-9);
        for secret in ["47.379", "8.540", "47.395", "8.530", "home"] {
            assert!(!r.text.contains(secret), "the response leaks {secret}: {}", r.text);
        }
        // A postcode works as the place too; a tighter distance drops the further helper.
        let by_postcode = search(&app, &customer, json!({"service": "guest-wifi", "postcode": "8001", "window": {"from": at(d, 0, 0), "to": at(d, 23, 0)}, "max_distance_km": 2})).await;
        assert_eq!(by_postcode.status, StatusCode::OK, "{}", by_postcode.text);
        let ids: Vec<&str> = by_postcode.body["items"].as_array().expect("items").iter().map(|i| i["helper"]["id"].as_str().expect("id")).collect();
        assert_eq!(ids, [near.as_str()]);
        // Outside the helpers' hours nobody is free.
        let evening = search(&app, &customer, json!({"service": "guest-wifi", "location": {"lat": 47.3779, "lon": 8.5403}, "window": {"from": at(d, 20, 0), "to": at(d, 23, 0)}})).await;
        assert!(evening.body["items"].as_array().expect("items").is_empty());
        app.finish().await;
    }

    async fn bad_searches_get_400_with_a_code(app) {
        let (_, customer, _) = app.signed_up("customer").await;
        let d = monday();
        let ok_window = json!({"from": at(d, 8, 0), "to": at(d, 12, 0)});
        let cases = [
            (json!({"service": "guest-wifi", "location": {"lat": 95.0, "lon": 8.5}, "window": ok_window}), "invalid_coordinates"),
            (json!({"service": "guest-wifi", "location": {"lat": 47.3, "lon": 8.5}, "window": {"from": at(d, 12, 0), "to": at(d, 8, 0)}}), "invalid_window"),
            (json!({"service": "guest-wifi", "location": {"lat": 47.3, "lon": 8.5}, "window": {"from": at(d, 8, 0), "to": "2099-01-01T00:00:00Z"}}), "window_too_long"),
            (json!({"service": "space-walk", "location": {"lat": 47.3, "lon": 8.5}, "window": ok_window}), "unknown_service"),
            (json!({"service": "guest-wifi", "location": {"lat": 47.3, "lon": 8.5}, "window": ok_window, "max_distance_km": 40}), "invalid_radius"),
            (json!({"service": "guest-wifi", "postcode": "1234", "window": ok_window}), "unknown_postcode"),
            (json!({"service": "guest-wifi", "window": ok_window}), "place_required"),
        ];
        for (body, code) in cases {
            let r = search(&app, &customer, body).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
            assert_eq!(r.code(), code);
        }
        let (helper, _) = helper_at(&app, 47.3769, 8.5417, 5, &["wifi"], mornings()).await;
        let reversed = slots(&app, &helper, &at(d, 12, 0), &at(d, 8, 0)).await;
        assert_eq!(reversed.code(), "invalid_window");
        let (_, helper_token, _) = app.signed_up("helper").await;
        let radius = app.request(Method::PUT, "/v1/helper/profile", Some(&helper_token), Some(json!({"skills": ["wifi"], "home": {"lat": 47.3, "lon": 8.5}, "travel_radius_km": 0}))).await;
        assert_eq!(radius.status, StatusCode::BAD_REQUEST);
        assert_eq!(radius.code(), "invalid_radius");
        app.finish().await;
    }
}

/// Two servers on one database: a helper written through one is found through the other within
/// a second or two (the change feed), without restarting either.
async fn replicas_see_each_others_writes(backend: Backend) {
    let a = spawn_app(backend).await;
    let url = a.database_url.clone();
    let b = spawn_app_with(backend, |s| s.database_url = Some(quartier_server::Secret::new(url))).await;
    let (_, customer, _) = b.signed_up("customer").await;
    let d = monday();
    let body =
        json!({"service": "guest-wifi", "location": {"lat": 47.3779, "lon": 8.5403}, "window": {"from": at(d, 0, 0), "to": at(d, 23, 0)}});
    assert!(search(&b, &customer, body.clone()).await.body["items"].as_array().expect("items").is_empty());
    let (helper, _) = helper_at(&a, 47.3790, 8.5400, 5, &["wifi"], mornings()).await;
    let started = std::time::Instant::now();
    loop {
        let r = search(&b, &customer, body.clone()).await;
        if r.body["items"].as_array().is_some_and(|i| i.iter().any(|m| m["helper"]["id"] == helper.as_str())) {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "replica b never saw the helper written through a");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    b.finish().await;
    a.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_changes_sqlite() {
    replicas_see_each_others_writes(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_changes_postgres() {
    replicas_see_each_others_writes(Backend::Postgres).await;
}

both_backends! {
    async fn a_helpers_home_never_appears_in_what_others_see(app) {
        // Coordinates with digits that cannot appear by chance.
        let (lat, lon) = (47.361_237, 8.512_359);
        let (helper, helper_token) = helper_at(&app, lat, lon, 6, &["wifi"], json!([{"weekday": "mon", "start": "08:00", "end": "20:00"}])).await;
        let own = app.get("/v1/helper/profile", Some(&helper_token)).await;
        assert!(own.text.contains("361237"), "the helper sees their own home");
        assert!(!own.body["service_area"].as_array().expect("cells").is_empty());
        let (_, customer, _) = app.signed_up("customer").await;
        let d = monday();
        let window = json!({"from": at(d, 0, 0), "to": at(d, 23, 0)});
        let booking = app.post("/v1/bookings", Some(&customer), json!({"service": "guest-wifi", "address": "Birmensdorferstrasse 5, 8003 Zürich", "start": at(d, 9, 0), "helper_id": helper})).await;
        assert_eq!(booking.status, StatusCode::CREATED, "{}", booking.text);
        let id = booking.body["id"].as_str().expect("id");
        let seen = [
            app.get("/v1/helpers?skill=wifi&limit=100", None).await.text,
            app.get(&format!("/v1/helpers/{helper}"), None).await.text,
            slots(&app, &helper, &at(d, 0, 0), &at(d, 23, 0)).await.text,
            search(&app, &customer, json!({"service": "guest-wifi", "location": {"lat": 47.3700, "lon": 8.5200}, "window": window})).await.text,
            app.get("/v1/bookings", Some(&customer)).await.text,
            app.get(&format!("/v1/bookings/{id}"), Some(&customer)).await.text,
        ];
        for text in seen {
            assert!(!text.contains("361237") && !text.contains("512359") && !text.contains("47.3612") && !text.contains("8.5123"), "home leaked: {text}");
        }
        app.drain_outbox().await;
        app.finish().await;
    }
}
