use reqwest::StatusCode;

use crate::both_backends;

both_backends! {
    async fn health_and_readiness_answer(app) {
        let h = app.get("/healthz", None).await;
        assert_eq!(h.status, StatusCode::OK);
        assert_eq!(h.body["status"], "ok");
        let r = app.get("/readyz", None).await;
        assert_eq!(r.status, StatusCode::OK);
        let expected = match app.backend {
            crate::harness::Backend::Sqlite => "sqlite",
            crate::harness::Backend::Postgres => "postgres",
        };
        assert_eq!(r.body["database"], expected);
        app.finish().await;
    }

    async fn readiness_fails_when_the_database_is_gone(app) {
        app.store.close().await;
        let r = app.get("/readyz", None).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.code(), "not_ready");
        assert!(!r.text.contains("pool"), "no internal detail: {}", r.text);
        app.finish().await;
    }

    async fn metrics_count_requests_by_route_and_status(app) {
        app.get("/v1/catalog", None).await;
        app.get("/v1/helpers/not-an-id", None).await;
        let m = app.get("/metrics", None).await;
        assert_eq!(m.status, StatusCode::OK);
        assert!(m.text.contains("http_requests_total"), "{}", m.text);
        assert!(m.text.contains("route=\"/v1/catalog\""), "{}", m.text);
        assert!(m.text.contains("route=\"/v1/helpers/{id}\""), "{}", m.text);
        assert!(m.text.contains("http_request_duration_seconds"), "{}", m.text);
        app.finish().await;
    }

    async fn the_openapi_document_describes_the_api(app) {
        let r = app.get("/openapi.json", None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body["openapi"].as_str().unwrap_or("").starts_with("3.1"), "{}", r.body["openapi"]);
        for path in ["/v1/auth/register", "/v1/auth/login", "/v1/auth/refresh", "/v1/auth/logout", "/v1/me", "/v1/catalog", "/v1/bookings", "/v1/bookings/{id}/transitions", "/v1/helper/profile", "/healthz", "/readyz"] {
            assert!(r.body["paths"].get(path).is_some(), "{path} missing from the OpenAPI document");
        }
        assert!(r.body["components"]["securitySchemes"]["bearer"].is_object());
        app.finish().await;
    }

    async fn swagger_ui_is_served_without_the_internet(app) {
        let r = app.client.get(format!("{}/docs/", app.base)).send().await.expect("docs");
        assert_eq!(r.status(), StatusCode::OK);
        let html = r.text().await.expect("html");
        assert!(html.contains("swagger-ui"), "{html}");
        assert!(!html.contains("https://"), "the docs page must not load anything from the internet");
        let bundle = app.client.get(format!("{}/docs/swagger-ui-bundle.js", app.base)).send().await.expect("bundle");
        assert_eq!(bundle.status(), StatusCode::OK);
        app.finish().await;
    }

    async fn the_front_page_and_its_assets_are_served(app) {
        let r = app.client.get(format!("{}/", app.base)).send().await.expect("page");
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers()["content-type"].to_str().unwrap_or("").starts_with("text/html"));
        assert!(r.headers().contains_key("content-security-policy"));
        let html = r.text().await.expect("html");
        assert!(html.contains("id=\"view\"") && html.contains("/app.js"), "{html}");
        // The three faces and the modules they load, each with its own type.
        for (path, kind) in [
            ("/app.js", "javascript"),
            ("/common.js", "javascript"),
            ("/helper.html", "text/html"),
            ("/helper.js", "javascript"),
            ("/sw.js", "javascript"),
            ("/ops.html", "text/html"),
            ("/ops.js", "javascript"),
            ("/charts.js", "javascript"),
            ("/app.css", "text/css"),
        ] {
            let res = app.client.get(format!("{}{path}", app.base)).send().await.expect("asset");
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            let ct = res.headers()["content-type"].to_str().unwrap_or("").to_owned();
            assert!(ct.contains(kind), "{path}: {ct}");
        }
        app.finish().await;
    }

    async fn the_catalogue_lists_priced_services(app) {
        let r = app.get("/v1/catalog", None).await;
        assert_eq!(r.status, StatusCode::OK);
        let items = r.body["items"].as_array().expect("items");
        assert!(items.len() >= 12);
        for s in items {
            let p = s["base_price"]["amount_rappen"].as_i64().expect("price");
            assert!((3_000..=10_000).contains(&p));
            assert_eq!(s["base_price"]["currency"], "CHF");
        }
        assert!(items.iter().any(|s| s["slug"] == "guest-wifi"));
        app.finish().await;
    }
}
