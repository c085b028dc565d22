use jsonwebtoken::{EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::harness::{Backend, SIGNING_KEY, spawn_app_with, unique_email};

/// The key id the server puts in its tokens: the first 8 bytes of the key's SHA-256, in hex.
fn kid_of(key: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(key).iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// A token as the server makes them (right key id, audience and type), with `claims` changed.
fn forge_with(key: &[u8], kid: Option<String>, claims: serde_json::Value) -> String {
    let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = kid;
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(key)).expect("encode")
}

fn claims(sub: &str, role: &str, exp_offset_secs: i64) -> serde_json::Value {
    let now = jiff::Timestamp::now().as_second();
    json!({"sub": sub, "role": role, "iss": "quartier", "aud": "quartier-api", "typ": "access", "iat": now, "exp": now + exp_offset_secs})
}

fn forge(key: &[u8], sub: &str, role: &str, exp_offset_secs: i64) -> String {
    forge_with(key, Some(kid_of(SIGNING_KEY.as_bytes())), claims(sub, role, exp_offset_secs))
}

both_backends! {
    async fn registering_returns_the_user_without_secrets(app) {
        let email = unique_email("customer");
        let r = app.register(&email, "customer").await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.body["email"], email.as_str());
        assert_eq!(r.body["role"], "customer");
        assert_eq!(r.body["locale"], "en");
        assert_eq!(r.body["time_zone"], "Europe/Zurich");
        assert!(!r.text.contains("argon2") && !r.text.contains("password"), "{}", r.text);
        app.finish().await;
    }

    async fn the_same_email_cannot_register_twice_even_in_other_case(app) {
        let email = unique_email("helper");
        assert_eq!(app.register(&email, "helper").await.status, StatusCode::CREATED);
        let again = app.register(&email.to_uppercase(), "customer").await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert_eq!(again.code(), "email_taken");
        app.finish().await;
    }

    async fn nobody_registers_as_operator(app) {
        let r = app.register(&unique_email("op"), "operator").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.code(), "role_not_allowed");
        app.finish().await;
    }

    async fn a_short_password_is_refused(app) {
        let r = app.post("/v1/auth/register", None, json!({"email": unique_email("c"), "password": "short", "name": "A", "role": "customer"})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.code(), "weak_password");
        app.finish().await;
    }

    async fn login_gives_tokens_that_open_me(app) {
        let email = unique_email("customer");
        app.register(&email, "customer").await;
        let l = app.login(&email, "correct horse battery").await;
        assert_eq!(l.status, StatusCode::OK, "{}", l.text);
        assert_eq!(l.body["token_type"], "Bearer");
        assert_eq!(l.body["expires_in"], 900);
        let me = app.get("/v1/me", l.body["access_token"].as_str()).await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!(me.body["email"], email.as_str());
        app.finish().await;
    }

    async fn unknown_email_and_wrong_password_get_the_identical_response(app) {
        let email = unique_email("customer");
        app.register(&email, "customer").await;
        let wrong = app.login(&email, "not the password").await;
        let unknown = app.login(&unique_email("nobody"), "not the password").await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert_eq!(wrong.code(), "invalid_credentials");
        assert_eq!(wrong.status, unknown.status);
        assert_eq!(wrong.text, unknown.text);
        assert_eq!(wrong.headers.get("content-type"), unknown.headers.get("content-type"));
        app.finish().await;
    }

    async fn refresh_rotates_and_reuse_revokes_the_whole_family(app) {
        let (_, _, first) = app.signed_up("customer").await;
        let r1 = app.post("/v1/auth/refresh", None, json!({"refresh_token": first})).await;
        assert_eq!(r1.status, StatusCode::OK, "{}", r1.text);
        let second = r1.body["refresh_token"].as_str().expect("rotated").to_owned();
        assert_ne!(second, first);
        assert_eq!(app.get("/v1/me", r1.body["access_token"].as_str()).await.status, StatusCode::OK);

        // The first token again: a stolen copy. The family dies, including the newest token.
        let reuse = app.post("/v1/auth/refresh", None, json!({"refresh_token": first})).await;
        assert_eq!(reuse.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reuse.code(), "refresh_token_reused");
        let after = app.post("/v1/auth/refresh", None, json!({"refresh_token": second})).await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED);
        assert_eq!(after.code(), "invalid_refresh_token");
        app.finish().await;
    }

    async fn a_made_up_refresh_token_is_refused(app) {
        let r = app.post("/v1/auth/refresh", None, json!({"refresh_token": "made-up"})).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.code(), "invalid_refresh_token");
        app.finish().await;
    }

    async fn logout_ends_the_refresh_family(app) {
        let (_, access, refresh) = app.signed_up("helper").await;
        let out = app.post("/v1/auth/logout", Some(&access), json!({"refresh_token": refresh})).await;
        assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text);
        let r = app.post("/v1/auth/refresh", None, json!({"refresh_token": refresh})).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        app.finish().await;
    }

    async fn logout_without_a_body_ends_every_session(app) {
        let email = unique_email("customer");
        app.register(&email, "customer").await;
        let a = app.login(&email, "correct horse battery").await;
        let b = app.login(&email, "correct horse battery").await;
        let out = app.request(Method::POST, "/v1/auth/logout", a.body["access_token"].as_str(), None).await;
        assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text);
        for s in [a, b] {
            let r = app.post("/v1/auth/refresh", None, json!({"refresh_token": s.body["refresh_token"]})).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        }
        app.finish().await;
    }

    async fn me_can_be_changed(app) {
        let (_, access, _) = app.signed_up("customer").await;
        let r = app.request(Method::PATCH, "/v1/me", Some(&access), Some(json!({"name": "Anna Muster", "locale": "fr"}))).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["name"], "Anna Muster");
        assert_eq!(r.body["locale"], "fr");
        let bad = app.request(Method::PATCH, "/v1/me", Some(&access), Some(json!({"time_zone": "Mars/Olympus"}))).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert_eq!(bad.code(), "invalid_time_zone");
        assert_eq!(app.get("/v1/me", Some(&access)).await.body["name"], "Anna Muster");
        app.finish().await;
    }

    async fn requests_without_a_token_are_401(app) {
        let r = app.get("/v1/me", None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.code(), "unauthenticated");
        let garbage = app.get("/v1/me", Some("not.a.jwt")).await;
        assert_eq!(garbage.status, StatusCode::UNAUTHORIZED);
        assert_eq!(garbage.code(), "invalid_token");
        app.finish().await;
    }

    async fn expired_tokens_are_refused(app) {
        let (id, _, _) = app.signed_up("customer").await;
        let fresh = forge(SIGNING_KEY.as_bytes(), &id, "customer", 60);
        assert_eq!(app.get("/v1/me", Some(&fresh)).await.status, StatusCode::OK);
        let expired = forge(SIGNING_KEY.as_bytes(), &id, "customer", -120);
        let r = app.get("/v1/me", Some(&expired)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.code(), "invalid_token");
        assert!(r.body["detail"].as_str().unwrap_or("").contains("expired"));
        app.finish().await;
    }

    async fn tokens_signed_with_another_key_are_refused(app) {
        let (id, _, _) = app.signed_up("customer").await;
        let forged = forge(b"some-other-key-that-is-long-enough-000000", &id, "operator", 600);
        let r = app.get("/v1/me", Some(&forged)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.code(), "invalid_token");
        app.finish().await;
    }

    async fn unsigned_alg_none_tokens_are_refused(app) {
        use base64::Engine;
        let (id, _, _) = app.signed_up("customer").await;
        let b64 = |v: serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let now = jiff::Timestamp::now().as_second();
        let token = format!(
            "{}.{}.",
            b64(json!({"alg": "none", "typ": "JWT"})),
            b64(json!({"sub": id, "role": "operator", "iss": "quartier", "iat": now, "exp": now + 600}))
        );
        let r = app.get("/v1/me", Some(&token)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.code(), "invalid_token");
        app.finish().await;
    }

    async fn every_forged_or_misused_token_gets_the_same_401(app) {
        use base64::Engine;
        let (id, _, refresh) = app.signed_up("customer").await;
        let key = SIGNING_KEY.as_bytes();
        let kid = Some(kid_of(key));
        // The forger is right: a token made like this works.
        assert_eq!(app.get("/v1/me", Some(&forge(key, &id, "customer", 600))).await.status, StatusCode::OK);
        let b64 = |v: serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let now = jiff::Timestamp::now().as_second();
        let body = claims(&id, "operator", 600);
        let with = |field: &str, value: serde_json::Value| {
            let mut c = body.clone();
            c[field] = value;
            c
        };
        let without = |field: &str| {
            let mut c = body.clone();
            c.as_object_mut().expect("object").remove(field);
            c
        };
        let signed_part = |header: serde_json::Value| format!("{}.{}", b64(header), b64(body.clone()));
        let hs256_sig = |data: &str| {
            use hmac::Mac;
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("key");
            mac.update(data.as_bytes());
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        };
        let confused = |alg: &str| {
            // Our secret used as the "public key" of another algorithm: the classic confusion.
            let data = signed_part(json!({"alg": alg, "typ": "JWT", "kid": kid_of(key)}));
            format!("{data}.{}", hs256_sig(&data))
        };
        let cases: Vec<(&str, String)> = vec![
            ("alg none", format!("{}.", signed_part(json!({"alg": "none", "typ": "JWT", "kid": kid_of(key)})))),
            ("another key", forge_with(b"some-other-key-that-is-long-enough-000000", kid.clone(), body.clone())),
            ("EdDSA header, HMAC signature", confused("EdDSA")),
            ("RS256 header, HMAC signature", confused("RS256")),
            ("ES256 header, HMAC signature", confused("ES256")),
            ("no kid", forge_with(key, None, body.clone())),
            ("unknown kid", forge_with(key, Some("0000000000000000".into()), body.clone())),
            ("kid path traversal", forge_with(key, Some("../../dev/null".into()), body.clone())),
            ("kid SQL", forge_with(key, Some("' OR 1=1 --".into()), body.clone())),
            ("jku header", {
                let data = signed_part(json!({"alg": "HS256", "typ": "JWT", "kid": kid_of(key), "jku": "http://127.0.0.1:9/keys"}));
                format!("{data}.{}", hs256_sig(&data))
            }),
            ("expired past the leeway", forge_with(key, kid.clone(), with("exp", json!(now - 6)))),
            ("not yet valid", forge_with(key, kid.clone(), with("nbf", json!(now + 120)))),
            ("wrong audience", forge_with(key, kid.clone(), with("aud", json!("someone-else")))),
            ("no audience", forge_with(key, kid.clone(), without("aud"))),
            ("wrong issuer", forge_with(key, kid.clone(), with("iss", json!("quartier-link")))),
            ("link type", forge_with(key, kid.clone(), with("typ", json!("link")))),
            ("no type", forge_with(key, kid.clone(), without("typ"))),
            ("refresh token as access", refresh.clone()),
            ("garbage", "a.b.c".into()),
        ];
        let mut first_body: Option<serde_json::Value> = None;
        for (what, token) in cases {
            let r = app.get("/v1/me", Some(&token)).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {}", r.text);
            assert_eq!(r.code(), "invalid_token", "{what}");
            // One answer for all of them (except the expired one, which says so).
            if what != "expired past the leeway" {
                let mut b = r.body.clone();
                b.as_object_mut().expect("problem").remove("instance");
                match &first_body {
                    None => first_body = Some(b),
                    Some(f) => assert_eq!(&b, f, "{what}: a uniform answer"),
                }
            }
        }
        // A link the server itself signed is not an access token either.
        let cal = app.get("/v1/helper/calendar", Some(&app.signed_up("helper").await.1)).await;
        let link = cal.body["url"].as_str().expect("url").split("token=").nth(1).expect("token").to_owned();
        assert_eq!(app.get("/v1/me", Some(&link)).await.status, StatusCode::UNAUTHORIZED);
        app.finish().await;
    }

    async fn a_customer_token_cannot_do_helper_things(app) {
        let (_, access, _) = app.signed_up("customer").await;
        let r = app
            .request(Method::PUT, "/v1/helper/profile", Some(&access), Some(json!({"skills": ["wifi"], "home": {"lat": 47.37, "lon": 8.54}, "travel_radius_km": 3})))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(r.code(), "forbidden");
        let offers = app.get("/v1/offers", Some(&access)).await;
        assert_eq!(offers.status, StatusCode::FORBIDDEN);
        app.finish().await;
    }
}

mod rate_limits {
    use super::*;

    async fn failed_logins_per_account_are_limited(backend: Backend) {
        let app = spawn_app_with(backend, |s| s.login_failures_per_account = 3).await;
        let email = unique_email("customer");
        app.register(&email, "customer").await;
        for _ in 0..3 {
            assert_eq!(app.login(&email, "wrong password!").await.status, StatusCode::UNAUTHORIZED);
        }
        // Now even the right password waits: the account is cooling down.
        let limited = app.login(&email, "correct horse battery").await;
        assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(limited.code(), "rate_limited");
        let retry: u64 = limited.headers["retry-after"].to_str().expect("ascii").parse().expect("seconds");
        assert!((1..=900).contains(&retry), "{retry}");
        // An unknown address is limited the same way, so the limit reveals nothing.
        let ghost = unique_email("ghost");
        for _ in 0..3 {
            app.login(&ghost, "whatever123").await;
        }
        assert_eq!(app.login(&ghost, "whatever123").await.status, StatusCode::TOO_MANY_REQUESTS);
        // Another account is not affected.
        let other = unique_email("customer");
        app.register(&other, "customer").await;
        assert_eq!(app.login(&other, "correct horse battery").await.status, StatusCode::OK);
        app.finish().await;
    }

    async fn login_attempts_per_address_are_limited(backend: Backend) {
        let app = spawn_app_with(backend, |s| s.login_attempts_per_address = 4).await;
        for _ in 0..4 {
            assert_eq!(app.login(&unique_email("x"), "whatever123").await.status, StatusCode::UNAUTHORIZED);
        }
        let r = app.login(&unique_email("x"), "whatever123").await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(r.headers.contains_key("retry-after"));
        app.finish().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn per_account_sqlite() {
        failed_logins_per_account_are_limited(Backend::Sqlite).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn per_account_postgres() {
        failed_logins_per_account_are_limited(Backend::Postgres).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn per_address_sqlite() {
        login_attempts_per_address_are_limited(Backend::Sqlite).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn per_address_postgres() {
        login_attempts_per_address_are_limited(Backend::Postgres).await;
    }
}
