//! Forgotten passwords: one answer for every address, at most three mails per account and hour,
//! a link that works once, and every session ends.

use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::harness::{TestApp, unique_email, wait_for_mail};

/// The reset token out of a mail, whatever the transfer encoding did to long lines.
fn token_in(mail: &str) -> String {
    let unfolded = mail.replace("=\r\n", "").replace("=\n", "");
    let at = unfolded.find("#/reset/").expect("a reset link in the mail") + "#/reset/".len();
    unfolded[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')).collect()
}

fn mails_to(to: &str) -> usize {
    let dir = std::env::var("QUARTIER_TEST_MAILDIR").expect("QUARTIER_TEST_MAILDIR: run with make test");
    std::fs::read_dir(dir)
        .expect("maildir")
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter(|t| t.lines().next().and_then(|l| l.strip_prefix("X-Sink-Rcpt:")).is_some_and(|r| r.split(',').any(|x| x.trim() == to)))
        .count()
}

async fn ask(app: &TestApp, email: &str) -> (StatusCode, String) {
    let r = app.post("/v1/auth/password-reset", None, json!({ "email": email })).await;
    (r.status, r.text)
}

both_backends! {
    async fn a_reset_link_works_once_and_ends_every_session(app) {
        let email = unique_email("customer");
        assert_eq!(app.register(&email, "customer").await.status, StatusCode::CREATED);
        let login = app.login(&email, "correct horse battery").await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.text);
        let old_refresh = login.body["refresh_token"].as_str().expect("refresh").to_owned();

        // The same answer, byte for byte, for a known and an unknown address.
        let known = ask(&app, &email).await;
        let unknown = ask(&app, &unique_email("nobody")).await;
        assert_eq!(known.0, StatusCode::ACCEPTED, "{}", known.1);
        assert_eq!(known, unknown);
        let bad = app.post("/v1/auth/password-reset", None, json!({"email": "not an address"})).await;
        assert_eq!((bad.status, bad.code()), (StatusCode::BAD_REQUEST, "invalid_email"));

        let mail = wait_for_mail(&email, "Reset your password").await;
        let token = token_in(&mail);
        let weak = app.post("/v1/auth/password-reset/confirm", None, json!({"token": token, "password": "short"})).await;
        assert_eq!((weak.status, weak.code()), (StatusCode::BAD_REQUEST, "weak_password"));
        let ok = app.post("/v1/auth/password-reset/confirm", None, json!({"token": token, "password": "a brand new passphrase"})).await;
        assert_eq!(ok.status, StatusCode::NO_CONTENT, "{}", ok.text);
        assert_eq!(app.login(&email, "correct horse battery").await.status, StatusCode::UNAUTHORIZED, "the old password is gone");
        assert_eq!(app.login(&email, "a brand new passphrase").await.status, StatusCode::OK);
        let refreshed = app.post("/v1/auth/refresh", None, json!({"refresh_token": old_refresh})).await;
        assert_eq!(refreshed.status, StatusCode::UNAUTHORIZED, "sessions from before the reset end: {}", refreshed.text);

        // Once only, and only as what it is.
        let again = app.post("/v1/auth/password-reset/confirm", None, json!({"token": token, "password": "yet another passphrase"})).await;
        assert_eq!((again.status, again.code()), (StatusCode::UNAUTHORIZED, "invalid_link"), "{}", again.text);
        assert_eq!(app.get("/v1/me", Some(&token)).await.status, StatusCode::UNAUTHORIZED, "a reset link is no access token");
        let forged = app.post("/v1/auth/password-reset/confirm", None, json!({"token": "e30.e30.x", "password": "yet another passphrase"})).await;
        assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
        app.drain_outbox().await;
        app.finish().await;
    }

    async fn at_most_three_reset_mails_per_account_and_hour(app) {
        let email = unique_email("helper");
        assert_eq!(app.register(&email, "helper").await.status, StatusCode::CREATED);
        let first = ask(&app, &email).await;
        for _ in 0..19 {
            assert_eq!(ask(&app, &email).await, first, "every request gets the same answer");
        }
        app.drain_outbox().await;
        assert_eq!(mails_to(&email), 3, "three mails, not twenty");
        let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE recipient_email = $1")
            .bind(&email)
            .fetch_one(app.store.pool())
            .await
            .expect("count");
        assert_eq!(queued, 3);
        app.finish().await;
    }
}
