use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;

both_backends! {
    async fn malformed_json_is_400_malformed_json(app) {
        let r = app.raw_post("/v1/auth/login", "application/json", b"{\"email\": ".to_vec()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.code(), "malformed_json");
        assert_eq!(r.body["status"], 400);
        app.finish().await;
    }

    async fn unknown_fields_are_400_unknown_field(app) {
        let r = app.post("/v1/auth/login", None, json!({"email": "a@b.ch", "password": "x", "remember_me": true})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.code(), "unknown_field");
        assert!(r.body["detail"].as_str().unwrap_or("").contains("remember_me"), "{}", r.text);
        app.finish().await;
    }

    async fn a_body_of_the_wrong_shape_is_400_invalid_body(app) {
        let r = app.post("/v1/auth/login", None, json!({"email": "a@b.ch"})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.code(), "invalid_body");
        app.finish().await;
    }

    async fn bodies_over_64_kib_are_413(app) {
        let big = json!({"email": "a@b.ch", "password": "x".repeat(70 * 1024)}).to_string().into_bytes();
        let r = app.raw_post("/v1/auth/login", "application/json", big).await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(r.code(), "body_too_large");
        app.finish().await;
    }

    async fn json_without_its_content_type_is_415(app) {
        let r = app.raw_post("/v1/auth/login", "text/plain", b"{}".to_vec()).await;
        assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(r.code(), "unsupported_media_type");
        app.finish().await;
    }

    async fn a_bad_email_is_400_invalid_email(app) {
        let r = app.post("/v1/auth/register", None, json!({"email": "not-an-email", "password": "long enough password", "name": "A", "role": "customer"})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.code(), "invalid_email");
        app.finish().await;
    }

    async fn unknown_paths_and_methods_get_problems(app) {
        let r = app.get("/v1/nothing-here", None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(r.code(), "not_found");
        let m = app.request(Method::DELETE, "/v1/catalog", None, None).await;
        assert_eq!(m.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(m.code(), "method_not_allowed");
        app.finish().await;
    }

    async fn bad_query_parameters_are_400(app) {
        let r = app.get("/v1/helpers?limit=500", None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.code(), "page_too_large");
        let z = app.get("/v1/helpers?limit=0", None).await;
        assert_eq!(z.status, StatusCode::BAD_REQUEST);
        assert_eq!(z.code(), "invalid_query");
        let t = app.get("/v1/helpers?limit=abc", None).await;
        assert_eq!(t.status, StatusCode::BAD_REQUEST);
        assert_eq!(t.code(), "invalid_query");
        app.finish().await;
    }

    async fn invalid_profile_values_are_refused_and_nothing_is_saved(app) {
        let (_, token, _) = app.signed_up("helper").await;
        let cases = [
            (json!({"skills": ["wifi"], "home": {"lat": 91.0, "lon": 8.5}, "travel_radius_km": 3}), "invalid_coordinates"),
            (json!({"skills": ["wifi"], "home": {"lat": 47.3, "lon": 8.5}, "travel_radius_km": 16}), "invalid_radius"),
            (json!({"skills": ["juggling"], "home": {"lat": 47.3, "lon": 8.5}, "travel_radius_km": 3}), "unknown_skill"),
            (json!({"skills": ["wifi"], "home": {"lat": 47.3, "lon": 8.5}, "travel_radius_km": 3, "languages": ["xx"]}), "invalid_locale"),
        ];
        for (body, code) in cases {
            let r = app.request(Method::PUT, "/v1/helper/profile", Some(&token), Some(body)).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
            assert_eq!(r.code(), code);
        }
        let own = app.get("/v1/helper/profile", Some(&token)).await;
        assert_eq!(own.status, StatusCode::NOT_FOUND);
        assert_eq!(own.code(), "profile_missing");
        app.finish().await;
    }
}
