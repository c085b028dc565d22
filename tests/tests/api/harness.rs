//! `spawn_app(backend)`: a real Quartier on a free port, with its own SQLite file or its own
//! PostgreSQL database, sending mail to the real SMTP sink `make test` starts.

use std::path::PathBuf;
use std::time::Duration;

use quartier_server::{Application, Secret, Settings};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;
use tokio::sync::oneshot;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The key test apps sign tokens with, so tests can forge tokens on purpose.
pub const SIGNING_KEY: &str = "test-signing-key-0123456789abcdef0123456789";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub backend: Backend,
    pub store: quartier_store::Store,
    pub database_url: String,
    operator_token: tokio::sync::OnceCell<String>,
    pg: Option<(String, String)>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

fn pg_admin_url() -> String {
    std::env::var("QUARTIER_TEST_PG_URL").unwrap_or_else(|_| {
        panic!("QUARTIER_TEST_PG_URL is not set: run the suite with `make test`, which starts a PostgreSQL server, or point it at one (postgres://user@host:port/postgres)")
    })
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Every log line (INFO and above) the server wrote in this test process, as JSON lines.
static LOGS: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

struct LogSink;

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().map_err(|_| std::io::Error::other("log buffer poisoned"))?.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The server's log so far (each test runs in its own process under nextest).
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().map(|l| l.clone()).unwrap_or_default()).into_owned()
}

fn capture_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let subscriber = tracing_subscriber::fmt().json().with_max_level(tracing::Level::INFO).with_writer(|| LogSink).finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    capture_logs();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings {
        host: "127.0.0.1".into(),
        port: 0,
        data_dir: dir.path().to_path_buf(),
        signing_key: Some(Secret::new(SIGNING_KEY)),
        password_memory_kib: 1024,
        password_iterations: 1,
        outbox_poll_ms: 100,
        min_notice_minutes: 0,
        ..Settings::default()
    };
    if let (Ok(host), Ok(port)) = (std::env::var("QUARTIER_TEST_SMTP_HOST"), std::env::var("QUARTIER_TEST_SMTP_PORT")) {
        settings.smtp_url = Some(Secret::new(format!("smtp://{host}:{port}")));
    }
    let pg = match backend {
        Backend::Sqlite => {
            settings.database_url = Some(Secret::new(format!("sqlite://{}", dir.path().join("quartier.db").display())));
            None
        }
        Backend::Postgres => {
            let admin = pg_admin_url();
            let name = format!("quartier_test_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connect to the test PostgreSQL server");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.expect("create test database");
            conn.close().await.ok();
            let (base, _) = admin.rsplit_once('/').expect("admin URL has a database");
            settings.database_url = Some(Secret::new(format!("{base}/{name}")));
            Some((admin, name))
        }
    };
    tweak(&mut settings);
    let database_url = settings.database_url();
    let app = Application::build(settings).await.expect("application builds");
    let port = app.port();
    let store = app.store().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client"),
        backend,
        store,
        database_url,
        operator_token: tokio::sync::OnceCell::new(),
        pg,
        stop: Some(stop),
        server: Some(server),
        _dir: dir,
    }
}

/// A response, read whole.
pub struct Res {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Res {
    /// The problem's `code`, asserting the problem+json content type.
    pub fn code(&self) -> &str {
        let ct = self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
        assert_eq!(ct, "application/problem+json", "expected a problem, got {} {}", self.status, self.text);
        self.body["code"].as_str().unwrap_or("")
    }
}

impl TestApp {
    pub async fn request(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Res {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        read(req.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Res {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Res {
        self.request(Method::POST, path, token, Some(body)).await
    }

    pub async fn raw_post(&self, path: &str, content_type: &str, body: Vec<u8>) -> Res {
        let req = self.client.post(format!("{}{path}", self.base)).header("content-type", content_type).body(body);
        read(req.send().await.expect("request sent")).await
    }

    pub async fn register(&self, email: &str, role: &str) -> Res {
        self.post(
            "/v1/auth/register",
            None,
            json!({"email": email, "password": "correct horse battery", "name": format!("Test {role}"), "role": role, "locale": "en"}),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Res {
        self.post("/v1/auth/login", None, json!({"email": email, "password": password})).await
    }

    /// Registers an account and returns (user id, access token, refresh token).
    pub async fn signed_up(&self, role: &str) -> (String, String, String) {
        let email = unique_email(role);
        let r = self.register(&email, role).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let l = self.login(&email, "correct horse battery").await;
        assert_eq!(l.status, StatusCode::OK, "{}", l.text);
        (
            r.body["id"].as_str().expect("id").to_owned(),
            l.body["access_token"].as_str().expect("access").to_owned(),
            l.body["refresh_token"].as_str().expect("refresh").to_owned(),
        )
    }

    /// A helper with a profile in central Zurich offering `skills`; returns (id, token, email).
    pub async fn helper_with_profile(&self, skills: &[&str]) -> (String, String, String) {
        let email = unique_email("helper");
        let r = self.register(&email, "helper").await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let token = self.login(&email, "correct horse battery").await.body["access_token"].as_str().expect("token").to_owned();
        let p = self
            .request(
                Method::PUT,
                "/v1/helper/profile",
                Some(&token),
                Some(json!({"skills": skills, "home": {"lat": 47.3769, "lon": 8.5417}, "travel_radius_km": 5, "bio": "Happy to help.", "languages": ["de", "en"]})),
            )
            .await;
        assert_eq!(p.status, StatusCode::OK, "{}", p.text);
        let all_week: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .iter()
            .map(|d| json!({"weekday": d, "start": "00:00", "end": "24:00"}))
            .collect();
        let a = self
            .request(Method::PUT, "/v1/helper/availability", Some(&token), Some(json!({"rules": all_week, "min_notice_minutes": 0})))
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        self.approve(&token, r.body["id"].as_str().expect("id")).await;
        (r.body["id"].as_str().expect("id").to_owned(), token, email)
    }

    /// Stops the server and its worker, checks that nothing was left undelivered, and drops the
    /// test database.
    pub async fn finish(mut self) {
        let counts = if self.store.pool().is_closed() {
            Vec::new()
        } else {
            let mut conn = self.store.pool().acquire().await.expect("connection");
            quartier_store::outbox::counts(&mut conn).await.expect("outbox counts")
        };
        let stuck: Vec<_> = counts.iter().filter(|(s, n)| s != "sent" && *n > 0).collect();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
        }
        self.store.close().await;
        if let Some((admin, name)) = self.pg.take()
            && let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await
        {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&mut conn).await;
        }
        assert!(stuck.is_empty(), "the test left undelivered outbox rows: {stuck:?}");
    }

    /// The helper applies (valid IBAN, right quiz answers) and an operator approves them: only
    /// approved helpers receive offers.
    pub async fn approve(&self, helper_token: &str, helper_id: &str) {
        let a = self
            .post(
                "/v1/helper/application",
                Some(helper_token),
                json!({"legal_name": "Test Helper", "birth_date": "1980-05-17", "iban": "CH58 0079 1123 0008 8901 2", "quiz_answers": [1, 1, 0, 1, 2]}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
        let operator = self.operator_token.get_or_init(|| self.operator()).await.clone();
        let d = self
            .post(
                &format!("/v1/ops/helpers/{helper_id}/decision"),
                Some(&operator),
                json!({"decision": "approve", "reason": "Identity and quiz checked"}),
            )
            .await;
        assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    }

    /// An operator account (operators are never self-registered); returns the access token.
    pub async fn operator(&self) -> String {
        let email = unique_email("operator");
        let settings = Settings { password_memory_kib: 1024, password_iterations: 1, ..Settings::default() };
        quartier_server::seed::create_operator(&self.store, &settings, &email, "Olivia Operator", "operator password 1")
            .await
            .expect("operator");
        let l = self.login(&email, "operator password 1").await;
        assert_eq!(l.status, StatusCode::OK, "{}", l.text);
        l.body["access_token"].as_str().expect("token").to_owned()
    }

    /// Waits until every queued message has been handled (bounded).
    pub async fn drain_outbox(&self) {
        for _ in 0..200 {
            let mut conn = self.store.pool().acquire().await.expect("connection");
            let counts = quartier_store::outbox::counts(&mut conn).await.expect("counts");
            if counts.iter().all(|(s, _)| s == "sent" || s == "dead") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the outbox did not drain within 10 s");
    }
}

async fn read(res: reqwest::Response) -> Res {
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Res { status, headers, body, text }
}

pub fn unique_email(role: &str) -> String {
    format!("{role}-{}@example.ch", uuid::Uuid::new_v4().simple())
}

/// Mail received by the SMTP sink for `to` whose subject contains `subject` (waits up to 15 s).
pub async fn wait_for_mail(to: &str, subject: &str) -> String {
    let dir = PathBuf::from(
        std::env::var("QUARTIER_TEST_MAILDIR")
            .unwrap_or_else(|_| panic!("QUARTIER_TEST_MAILDIR is not set: run the suite with `make test`, which starts the SMTP sink")),
    );
    for _ in 0..300 {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let Ok(text) = std::fs::read_to_string(e.path()) else {
                    continue;
                };
                let rcpt = text.lines().next().unwrap_or("");
                if rcpt.starts_with("X-Sink-Rcpt:") && rcpt.contains(to) && decoded_subject(&text).contains(subject) {
                    return text;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no mail to {to} with a subject containing {subject:?} arrived at the SMTP sink within 15 s");
}

/// The Subject header, decoding RFC 2047 UTF-8 words (lettre encodes only the words with
/// non-ASCII characters; the space between two encoded words is not part of the text, the space
/// between a plain and an encoded word is).
pub fn decoded_subject(raw: &str) -> String {
    use base64::Engine;
    let mut value = String::new();
    let mut in_subject = false;
    for line in raw.lines() {
        if line.is_empty() {
            break;
        }
        if let Some(rest) = line.strip_prefix("Subject:") {
            in_subject = true;
            value.push_str(rest);
        } else if in_subject && line.starts_with([' ', '\t']) {
            value.push_str(line);
        } else {
            in_subject = false;
        }
    }
    let mut out = String::new();
    let mut last_encoded = false;
    for (i, word) in value.split_whitespace().enumerate() {
        let lower = word.to_ascii_lowercase();
        let decoded = lower
            .starts_with("=?utf-8?b?")
            .then(|| word.get(10..word.len().saturating_sub(2)).filter(|_| word.ends_with("?=")))
            .flatten()
            .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        let encoded = decoded.is_some();
        if i > 0 && !(encoded && last_encoded) {
            out.push(' ');
        }
        out.push_str(decoded.as_deref().unwrap_or(word));
        last_encoded = encoded;
    }
    out
}

/// Declares each test twice: once on SQLite, once on PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($(async fn $name:ident($app:ident) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let $app = $crate::harness::spawn_app($crate::harness::Backend::Sqlite).await;
                    $body
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let $app = $crate::harness::spawn_app($crate::harness::Backend::Postgres).await;
                    $body
                }
            }
        )*
    };
}
