use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::harness::TestApp;

fn application() -> serde_json::Value {
    json!({"legal_name": "Lea Keller", "birth_date": "1990-02-01", "iban": "CH58 0079 1123 0008 8901 2", "quiz_answers": [1, 1, 0, 1, 2]})
}

/// A helper with a profile and 24/7 hours who has not been vetted yet.
async fn unvetted(app: &TestApp) -> (String, String) {
    let (id, token, _) = app.signed_up("helper").await;
    let p = app
        .request(
            Method::PUT,
            "/v1/helper/profile",
            Some(&token),
            Some(json!({"skills": ["wifi"], "home": {"lat": 47.3769, "lon": 8.5417}, "travel_radius_km": 5})),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    let week: Vec<_> =
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].iter().map(|d| json!({"weekday": d, "start": "00:00", "end": "24:00"})).collect();
    let a = app.request(Method::PUT, "/v1/helper/availability", Some(&token), Some(json!({"rules": week, "min_notice_minutes": 0}))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    (id, token)
}

async fn found(app: &TestApp, customer: &str, helper: &str) -> bool {
    let d = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().checked_add(jiff::Span::new().days(3)).expect("date");
    let r = app
        .post("/v1/matches", Some(customer), json!({"service": "guest-wifi", "location": {"lat": 47.3779, "lon": 8.5403}, "window": {"from": format!("{d}T08:00:00Z"), "to": format!("{d}T18:00:00Z")}}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["items"].as_array().expect("items").iter().any(|m| m["helper"]["id"] == helper)
}

both_backends! {
    async fn only_approved_helpers_receive_offers(app) {
        let (helper, token) = unvetted(&app).await;
        let (_, customer, _) = app.signed_up("customer").await;
        assert!(!found(&app, &customer, &helper).await, "not vetted yet: not matched");
        for (body, code) in [
            (json!({"legal_name": "Lea Keller", "birth_date": "1990-02-01", "iban": "CH58 0079 1123 0008 8901 3", "quiz_answers": [1, 1, 0, 1, 2]}), "invalid_iban"),
            (json!({"legal_name": "Lea Keller", "birth_date": "1990-02-01", "iban": "CH58 0079 1123 0008 8901 2", "quiz_answers": [0, 1, 0, 1, 2]}), "quiz_failed"),
            (json!({"legal_name": "Lea Keller", "birth_date": "2015-02-01", "iban": "CH58 0079 1123 0008 8901 2", "quiz_answers": [1, 1, 0, 1, 2]}), "too_young"),
        ] {
            let r = app.post("/v1/helper/application", Some(&token), body).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
            assert_eq!(r.code(), code);
        }
        let applied = app.post("/v1/helper/application", Some(&token), application()).await;
        assert_eq!(applied.status, StatusCode::CREATED, "{}", applied.text);
        assert_eq!(applied.body["status"], "applied");
        assert_eq!(app.post("/v1/helper/application", Some(&token), application()).await.code(), "already_applied");
        let operator = app.operator().await;
        let queue = app.get("/v1/ops/helpers?status=applied", Some(&operator)).await;
        let item = queue.body["items"].as_array().expect("items").iter().find(|i| i["helper_id"] == helper.as_str()).cloned().expect("queued");
        assert_eq!(item["iban"], "••••9012", "the IBAN is masked");
        let ok = app.post(&format!("/v1/ops/helpers/{helper}/decision"), Some(&operator), json!({"decision": "approve", "reason": "Documents checked"})).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
        assert!(found(&app, &customer, &helper).await, "approved: matched");
        let suspended = app.post(&format!("/v1/ops/helpers/{helper}/decision"), Some(&operator), json!({"decision": "suspend", "reason": "Complaint under review"})).await;
        assert_eq!(suspended.body["status"], "suspended");
        assert!(!found(&app, &customer, &helper).await, "suspended: not matched");
        let mine = app.get("/v1/helper/application", Some(&token)).await;
        assert_eq!(mine.body["reason"], "Complaint under review", "the helper sees the reason");
        let mut conn = app.store.pool().acquire().await.expect("conn");
        let audit = quartier_store::vetting::audit_of(&mut conn, &helper).await.expect("audit");
        drop(conn);
        let actions: Vec<&str> = audit.iter().map(|(_, _, a, _)| a.as_str()).collect();
        assert_eq!(actions, ["helper.approve", "helper.suspend"]);
        app.finish().await;
    }

    async fn an_appeal_goes_to_another_operator_once(app) {
        let (helper, token) = unvetted(&app).await;
        assert_eq!(app.post("/v1/helper/application", Some(&token), application()).await.status, StatusCode::CREATED);
        let first = app.operator().await;
        let second = app.operator().await;
        let rejected = app.post(&format!("/v1/ops/helpers/{helper}/decision"), Some(&first), json!({"decision": "reject", "reason": "IBAN holder differs"})).await;
        assert_eq!(rejected.body["status"], "rejected");
        let appeal = app.post("/v1/helper/application/appeal", Some(&token), json!({"text": "The account is mine, here is why."})).await;
        assert_eq!(appeal.status, StatusCode::OK, "{}", appeal.text);
        assert_eq!(appeal.body["status"], "appealed");
        let same = app.post(&format!("/v1/ops/helpers/{helper}/decision"), Some(&first), json!({"decision": "approve", "reason": "Looks fine"})).await;
        assert_eq!(same.status, StatusCode::CONFLICT);
        assert_eq!(same.code(), "same_operator");
        let other = app.post(&format!("/v1/ops/helpers/{helper}/decision"), Some(&second), json!({"decision": "reject", "reason": "Still not matching"})).await;
        assert_eq!(other.body["status"], "rejected", "{}", other.text);
        let twice = app.post("/v1/helper/application/appeal", Some(&token), json!({"text": "Please look again at it."})).await;
        assert_eq!(twice.code(), "appeal_not_possible");
        app.finish().await;
    }

    async fn ops_routes_refuse_everyone_but_operators(app) {
        let (_, customer, _) = app.signed_up("customer").await;
        let (_, helper, _) = app.helper_with_profile(&["wifi"]).await;
        // Every operation under /v1/ops that the OpenAPI document describes, so a new route is
        // covered the day it is added.
        let doc = app.get("/openapi.json", None).await;
        assert_eq!(doc.status, StatusCode::OK, "{}", doc.text);
        let mut operations: Vec<(String, String)> = Vec::new();
        for (path, item) in doc.body["paths"].as_object().expect("paths") {
            if path != "/v1/ops" && !path.starts_with("/v1/ops/") {
                continue;
            }
            for method in item.as_object().expect("path item").keys() {
                if ["get", "put", "post", "delete", "patch", "head", "options", "trace"].contains(&method.as_str()) {
                    operations.push((method.clone(), path.clone()));
                }
            }
        }
        operations.sort();
        // Deleting or renaming one of these must not go unnoticed.
        let minimum = [
            ("get", "/v1/ops/helpers"),
            ("post", "/v1/ops/helpers/{id}/decision"),
            ("get", "/v1/ops/policies"),
            ("post", "/v1/ops/policies"),
            ("put", "/v1/ops/catalog/{slug}"),
            ("get", "/v1/ops/outbox"),
            ("post", "/v1/ops/outbox/{id}/retry"),
            ("get", "/v1/ops/disputes"),
            ("get", "/v1/ops/disputes/{id}"),
            ("post", "/v1/ops/disputes/{id}/resolve"),
            ("get", "/v1/ops/bookings"),
            ("get", "/v1/ops/audit"),
            ("get", "/v1/ops/metrics"),
            ("get", "/v1/ops/coverage"),
            ("get", "/v1/ops/coverage.svg"),
        ];
        for (method, path) in minimum {
            assert!(operations.iter().any(|(m, p)| m == method && p == path), "{method} {path} is missing from the OpenAPI document: {operations:?}");
        }
        assert!(operations.len() >= minimum.len(), "{operations:?}");
        let made_up = uuid::Uuid::new_v4().to_string();
        let mut wrong = Vec::new();
        for (method, path) in &operations {
            let concrete: Vec<String> = path
                .split('/')
                .map(|segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some("slug") => "guest-wifi".to_owned(),
                    Some(_) => made_up.clone(),
                    None => segment.to_owned(),
                })
                .collect();
            let concrete = concrete.join("/");
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let body = (!matches!(m, Method::GET | Method::HEAD | Method::DELETE | Method::OPTIONS)).then(|| json!({}));
            for (who, token, expected) in
                [("anonymous", None, StatusCode::UNAUTHORIZED), ("customer", Some(&customer), StatusCode::FORBIDDEN), ("helper", Some(&helper), StatusCode::FORBIDDEN)]
            {
                let r = app.request(m.clone(), &concrete, token.map(String::as_str), body.clone()).await;
                if r.status != expected {
                    wrong.push(format!("{method} {concrete} as {who}: expected {expected}, got {} {}", r.status, r.text));
                }
            }
        }
        assert!(wrong.is_empty(), "ops routes that do not refuse non-operators first:\n{}", wrong.join("\n"));
        app.finish().await;
    }
}
