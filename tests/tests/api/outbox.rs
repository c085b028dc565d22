//! The outbox under failure: SMTP outages, permanent rejections, dead workers, several workers on
//! one database, batches that outlast their lease, and the operators' view.
//!
//! Every test that needs mail runs its own SMTP sink (`scripts/smtp_sink.py` on a port of its
//! own, or a deliberately slow one written here), so switching a sink's mode never disturbs
//! another test running at the same time. Deliveries are counted per `Message-ID` (the outbox id).

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quartier_server::{Secret, Settings};
use quartier_store::outbox::{self, OutboxRow};
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

use crate::harness::{Backend, TestApp, spawn_app_with, unique_email};

// ------------------------------------------------------------------ sinks ----

/// `scripts/smtp_sink.py` in a process of its own: its own port, maildir and mode.
struct Sink {
    child: Child,
    port: u16,
    control: String,
    maildir: tempfile::TempDir,
    http: reqwest::Client,
}

impl Sink {
    async fn start() -> Sink {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let python = root.join(".venv/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run the suite through scripts/test-services.sh (make test), which installs aiosmtpd there",
            python.display()
        );
        let maildir = tempfile::tempdir().expect("maildir");
        let mut child = Command::new(python)
            .arg("-u")
            .arg(root.join("scripts/smtp_sink.py"))
            .args(["--host", "127.0.0.1", "--port", "0", "--control-port", "0", "--maildir"])
            .arg(maildir.path())
            .args(["--parent-pid", &std::process::id().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start smtp_sink.py");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let (mut port, mut control) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(20);
        while port.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = tokio::time::timeout(left, lines.next_line())
                .await
                .expect("smtp_sink.py did not start within 20 s")
                .expect("read smtp_sink.py output")
                .expect("smtp_sink.py exited at start");
            if let Some(url) = line.strip_prefix("smtp_sink control on ") {
                control = Some(url.trim().to_owned());
            } else if let Some(addr) = line.strip_prefix("smtp_sink listening on ") {
                port = addr.trim().rsplit(':').next().and_then(|p| p.parse().ok());
            }
        }
        // Keep reading its output so the pipe never fills up.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Sink {
            child,
            port: port.expect("port"),
            control: control.expect("smtp_sink.py printed no control address"),
            maildir,
            http: reqwest::Client::new(),
        }
    }

    fn url(&self) -> Secret {
        Secret::new(format!("smtp://127.0.0.1:{}", self.port))
    }

    /// `ok`, `tempfail`, `permfail:<address>` or `down`.
    async fn mode(&self, mode: &str) {
        let r = self.http.post(format!("{}/mode", self.control)).body(mode.to_owned()).send().await.expect("sink control");
        assert_eq!(r.status(), StatusCode::OK, "sink mode {mode}: {}", r.text().await.unwrap_or_default());
    }

    /// Messages received per outbox id (the left part of the Message-ID).
    fn deliveries(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for e in std::fs::read_dir(self.maildir.path()).expect("maildir").flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !name.ends_with(".eml") {
                continue;
            }
            let text = std::fs::read_to_string(e.path()).expect("read .eml");
            *out.entry(message_id(&text).unwrap_or_else(|| panic!("{name} has no Message-ID"))).or_insert(0) += 1;
        }
        out
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// The outbox id in a message's `Message-ID: <id@domain>` header.
fn message_id(raw: &str) -> Option<String> {
    raw.lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("message-id")).map(|(_, v)| v.trim().to_owned()))
        .and_then(|v| v.trim_start_matches('<').split('@').next().map(str::to_owned))
}

/// An SMTP server that waits `delay` before every reply, records Message-IDs, and accepts all.
struct SlowSmtp {
    port: u16,
    ids: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl SlowSmtp {
    async fn start(delay: Duration) -> SlowSmtp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let ids = Arc::new(Mutex::new(Vec::new()));
        let seen = ids.clone();
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let _ = slow_session(sock, delay, seen).await;
                });
            }
        });
        SlowSmtp { port, ids, task }
    }

    fn delivered(&self) -> Vec<String> {
        self.ids.lock().expect("ids").clone()
    }
}

impl Drop for SlowSmtp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn slow_session(sock: tokio::net::TcpStream, delay: Duration, ids: Arc<Mutex<Vec<String>>>) -> std::io::Result<()> {
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    async fn reply(w: &mut tokio::net::tcp::OwnedWriteHalf, delay: Duration, text: &str) -> std::io::Result<()> {
        tokio::time::sleep(delay).await;
        w.write_all(text.as_bytes()).await
    }
    reply(&mut w, delay, "220 slow.test ESMTP\r\n").await?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let cmd = String::from_utf8_lossy(&line).trim_end().to_ascii_uppercase();
        if cmd.starts_with("EHLO") {
            reply(&mut w, delay, "250-slow.test\r\n250 8BITMIME\r\n").await?;
        } else if cmd.starts_with("DATA") {
            reply(&mut w, delay, "354 go ahead\r\n").await?;
            let mut id = None;
            loop {
                line.clear();
                if r.read_until(b'\n', &mut line).await? == 0 {
                    return Ok(());
                }
                if line == b".\r\n" {
                    break;
                }
                if id.is_none() {
                    id = message_id(&String::from_utf8_lossy(&line));
                }
            }
            ids.lock().expect("ids").push(id.unwrap_or_default());
            reply(&mut w, delay, "250 OK\r\n").await?;
        } else if cmd.starts_with("QUIT") {
            reply(&mut w, delay, "221 bye\r\n").await?;
            return Ok(());
        } else {
            reply(&mut w, delay, "250 OK\r\n").await?;
        }
    }
}

// ---------------------------------------------------------------- helpers ----

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// A `booking_requested` notice for `email`, due now.
fn notice_to(email: &str) -> OutboxRow {
    notice_due(email, now_ms())
}

/// A `booking_requested` notice for `email`, due at `due` (epoch ms).
fn notice_due(email: &str, due: i64) -> OutboxRow {
    let now = now_ms();
    let data = json!({
        "booking_id": uuid::Uuid::now_v7().to_string(),
        "service_name": "Guest Wi-Fi set-up",
        "starts_at": "2026-12-01T14:00:00Z",
        "time_zone": "Europe/Zurich",
        "customer_name": "Cora Customer",
        "helper_name": "Hugo Helper",
        "recipient_name": "Hugo Helper",
        "link": "http://localhost/#/bookings/1",
    });
    OutboxRow {
        id: uuid::Uuid::now_v7().to_string(),
        channel: "email".into(),
        template: "booking_requested".into(),
        recipient_id: None,
        recipient_email: email.to_owned(),
        recipient_name: "Hugo Helper".into(),
        locale: "en".into(),
        payload: data.to_string(),
        state: "pending".into(),
        attempts: 0,
        next_attempt_at: due,
        last_error: None,
        created_at: now,
    }
}

/// Queues `n` notices to fresh addresses in one transaction; returns their ids.
async fn queue(app: &TestApp, n: usize) -> Vec<String> {
    queue_due(app, n, now_ms()).await
}

/// Queues `n` notices due at `due` (epoch ms).
async fn queue_due(app: &TestApp, n: usize, due: i64) -> Vec<String> {
    let mut tx = app.store.begin().await.expect("begin");
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let row = notice_due(&unique_email("helper"), due);
        outbox::insert(&mut tx, &row).await.expect("insert");
        ids.push(row.id);
    }
    tx.commit().await.expect("commit");
    ids
}

/// One outbox row as the database has it.
#[derive(Debug, Clone)]
struct Seen {
    state: String,
    attempts: i64,
    last_error: Option<String>,
    lease_owner: Option<String>,
    lease_until: Option<i64>,
    next_attempt_at: i64,
}

async fn rows(app: &TestApp) -> BTreeMap<String, Seen> {
    type Row = (String, String, i64, Option<String>, Option<String>, Option<i64>, i64);
    let all: Vec<Row> = sqlx::query_as("SELECT id, state, attempts, last_error, lease_owner, lease_until, next_attempt_at FROM outbox")
        .fetch_all(app.store.pool())
        .await
        .expect("outbox rows");
    all.into_iter()
        .map(|(id, state, attempts, last_error, lease_owner, lease_until, next_attempt_at)| {
            (id, Seen { state, attempts, last_error, lease_owner, lease_until, next_attempt_at })
        })
        .collect()
}

/// Polls `rows` until `done` says yes; panics with the last rows after `limit`.
async fn wait_rows(app: &TestApp, limit: Duration, what: &str, done: impl Fn(&BTreeMap<String, Seen>) -> bool) -> BTreeMap<String, Seen> {
    let deadline = Instant::now() + limit;
    loop {
        let now = rows(app).await;
        if done(&now) {
            return now;
        }
        if Instant::now() > deadline {
            let mut states: BTreeMap<&str, usize> = BTreeMap::new();
            for r in now.values() {
                *states.entry(r.state.as_str()).or_insert(0) += 1;
            }
            panic!("not within {limit:?}: {what}; outbox states {states:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn all_sent(rows: &BTreeMap<String, Seen>) -> bool {
    !rows.is_empty() && rows.values().all(|r| r.state == "sent")
}

/// Every id delivered exactly once, and nothing else.
fn assert_exactly_once(delivered: &BTreeMap<String, usize>, ids: &[String]) {
    let twice: Vec<_> = delivered.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "messages delivered more than once: {twice:?}");
    let missing: Vec<_> = ids.iter().filter(|id| !delivered.contains_key(*id)).collect();
    assert!(missing.is_empty(), "{} of {} messages never arrived: {missing:?}", missing.len(), ids.len());
    assert_eq!(delivered.len(), ids.len(), "unexpected messages arrived");
}

/// Settings for a test: mail to `smtp`, a fast poll, a short backoff.
fn fast(s: &mut Settings, smtp: Secret) {
    s.smtp_url = Some(smtp);
    s.outbox_poll_ms = 50;
    s.outbox_backoff_base_ms = 200;
    s.outbox_backoff_cap_ms = 1_000;
}

/// Declares `scenario(backend)` as `<name>::sqlite` and `<name>::postgres`.
macro_rules! on_both {
    ($($name:ident => $scenario:ident;)*) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$scenario($crate::harness::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$scenario($crate::harness::Backend::Postgres).await
                }
            }
        )*
    };
}

on_both! {
    an_smtp_outage_then_451_then_recovery_delivers_everything_once => smtp_outage;
    a_550_recipient_is_dead_after_one_try_and_an_operator_can_retry_it => permanent_failure;
    a_worker_killed_mid_batch_is_taken_over_after_its_lease => killed_worker;
    two_apps_on_one_database_send_every_message_exactly_once => two_apps;
    a_batch_that_outlasts_the_lease_keeps_its_claim => renewal;
    a_stale_claim_can_neither_renew_nor_finish_a_taken_over_message => fence;
    concurrent_claims_never_share_a_message => concurrent_claims;
    operators_see_counts_masked_recipients_and_pages => operator_list;
}

// -------------------------------------------------------------- scenarios ----

/// (a) The SMTP server is down, then answers 451, then is up: bookings go through meanwhile, and
/// afterwards every queued message has arrived exactly once, having been retried with backoff.
async fn smtp_outage(backend: Backend) {
    let sink = Sink::start().await;
    sink.mode("down").await;
    let app = spawn_app_with(backend, |s| fast(s, sink.url())).await;

    // Bookings do not wait for mail.
    let (helper_id, _, _) = app.helper_with_profile(&["wifi"]).await;
    let (_, customer, _) = app.signed_up("customer").await;
    for days in [3, 4] {
        let started = Instant::now();
        let d = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().checked_add(jiff::Span::new().days(days)).expect("date");
        let r = app
            .post(
                "/v1/bookings",
                Some(&customer),
                json!({"service": "guest-wifi", "address": "Langstrasse 21, 8004 Zürich", "start": format!("{d}T14:00:00Z"), "helper_id": helper_id}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert!(started.elapsed() < Duration::from_secs(2), "a booking took {:?} while SMTP was down", started.elapsed());
    }
    queue(&app, 40).await;
    let queued = rows(&app).await.len();
    assert!(queued >= 42, "40 queued notices and at least one per booking request, got {queued}");

    // How far ahead failed messages are scheduled (the backoff), the most seen.
    let ahead = std::cell::Cell::new(i64::MIN);
    let watch = |rows: &BTreeMap<String, Seen>| {
        let now = now_ms();
        for r in rows.values().filter(|r| r.state == "pending" && r.last_error.is_some()) {
            ahead.set(ahead.get().max(r.next_attempt_at - now));
        }
    };

    // Down for at least 2 s: every message is tried, fails and is tried again later.
    let outage = Instant::now();
    let down = wait_rows(&app, Duration::from_secs(10), "every message tried twice while SMTP is down", |rows| {
        watch(rows);
        rows.values().all(|r| r.attempts >= 2 && r.state != "sent" && r.state != "dead")
    })
    .await;
    assert!(down.values().all(|r| r.state == "pending" || r.state == "sending"));
    assert!(sink.deliveries().is_empty());
    tokio::time::sleep(Duration::from_secs(2).saturating_sub(outage.elapsed())).await;

    // 451 for at least 2 s: still nothing arrives; the error says why.
    sink.mode("tempfail").await;
    let tempfail = Instant::now();
    wait_rows(&app, Duration::from_secs(10), "a 451 recorded for every message", |rows| {
        watch(rows);
        rows.values().all(|r| r.state != "sent" && r.last_error.as_deref().is_some_and(|e| e.contains("451")))
    })
    .await;
    while tempfail.elapsed() < Duration::from_secs(2) {
        watch(&rows(&app).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(sink.deliveries().is_empty(), "nothing may arrive while the server answers 451");
    // Failed messages were put off (backoff), never beyond the 1 s cap.
    assert!(ahead.get() > 0, "no failed message was scheduled for later: is there a backoff?");
    assert!(ahead.get() <= 1_000, "a retry was scheduled {} ms ahead, beyond the 1 s cap", ahead.get());

    // Up: everything arrives within the backoff cap plus a little, once.
    sink.mode("ok").await;
    let up = Instant::now();
    let done = wait_rows(&app, Duration::from_secs(15), "all messages sent after recovery", all_sent).await;
    assert!(up.elapsed() < Duration::from_secs(8), "recovery took {:?} with a 1 s backoff cap", up.elapsed());
    let ids: Vec<String> = done.keys().cloned().collect();
    assert_eq!(ids.len(), queued);
    // A moment later, still exactly once (nothing is retried after it was sent).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_exactly_once(&sink.deliveries(), &ids);
    // The retries followed the backoff: at least down, 451 and success; far fewer than a worker
    // retrying every poll would make.
    for (id, r) in &done {
        assert!(r.attempts >= 3, "{id} was tried {} times", r.attempts);
        assert!(r.attempts <= 20, "{id} was tried {} times: is there a backoff?", r.attempts);
        assert!(r.last_error.is_none(), "a sent message keeps no error");
    }
    app.finish().await;
    sink.stop().await;
}

/// (b) A recipient the server rejects with 550 goes to the dead letters after one try and is never
/// retried; operators see it (masked) and can put it back in the queue, and then it arrives.
async fn permanent_failure(backend: Backend) {
    let sink = Sink::start().await;
    let bad = unique_email("bad");
    sink.mode(&format!("permfail:{bad}")).await;
    let app = spawn_app_with(backend, |s| fast(s, sink.url())).await;
    let good_row = notice_to(&unique_email("good"));
    let bad_row = notice_to(&bad);
    let (good, dead) = (good_row.id.clone(), bad_row.id.clone());
    let mut tx = app.store.begin().await.expect("begin");
    outbox::insert(&mut tx, &good_row).await.expect("insert");
    outbox::insert(&mut tx, &bad_row).await.expect("insert");
    tx.commit().await.expect("commit");

    wait_rows(&app, Duration::from_secs(10), "the good message sent and the bad one dead", |rows| {
        rows.get(&good).is_some_and(|r| r.state == "sent") && rows.get(&dead).is_some_and(|r| r.state == "dead")
    })
    .await;
    // Many backoff periods later it is still dead after exactly one try.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let now = rows(&app).await;
    let d = &now[&dead];
    assert_eq!((d.state.as_str(), d.attempts), ("dead", 1), "{d:?}");
    assert!(d.last_error.as_deref().is_some_and(|e| e.contains("550")), "{d:?}");
    let delivered = sink.deliveries();
    assert_eq!(delivered.get(&good), Some(&1));
    assert!(!delivered.contains_key(&dead));

    // Operators only.
    let operator = app.operator().await;
    let (_, customer, _) = app.signed_up("customer").await;
    assert_eq!(app.get("/v1/ops/outbox?state=dead", None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/v1/ops/outbox?state=dead", Some(&customer)).await.status, StatusCode::FORBIDDEN);
    let list = app.get("/v1/ops/outbox?state=dead", Some(&operator)).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_eq!(list.body["counts"]["dead"], 1);
    assert_eq!(list.body["counts"]["sent"], 1);
    assert_eq!(list.body["counts"]["pending"], 0);
    let items = list.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{}", list.text);
    assert_eq!(items[0]["id"], dead.as_str());
    assert_eq!(items[0]["state"], "dead");
    assert_eq!(items[0]["template"], "booking_requested");
    assert_eq!(items[0]["recipient"], "b***@example.ch");
    assert_eq!(items[0]["attempts"], 1);
    assert!(items[0]["last_error"].as_str().is_some_and(|e| e.contains("550")), "{}", items[0]);
    assert!(items[0]["next_attempt_at"].is_string() && items[0]["created_at"].is_string());
    assert!(!list.text.contains(&bad), "the operator view shows the recipient's address: {}", list.text);

    // Retrying: only dead messages, only operators.
    let retry = |id: &str| format!("/v1/ops/outbox/{id}/retry");
    assert_eq!(app.post(&retry(&dead), None, json!({})).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.post(&retry(&dead), Some(&customer), json!({})).await.status, StatusCode::FORBIDDEN);
    let sent = app.post(&retry(&good), Some(&operator), json!({})).await;
    assert_eq!((sent.status, sent.code()), (StatusCode::CONFLICT, "not_dead"), "{}", sent.text);
    let unknown = app.post(&retry(&uuid::Uuid::now_v7().to_string()), Some(&operator), json!({})).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.text);
    assert_eq!(app.post(&retry("not-an-id"), Some(&operator), json!({})).await.status, StatusCode::NOT_FOUND);
    assert_eq!(rows(&app).await[&dead].state, "dead", "refused retries changed nothing");

    // The address is fixed on the server's side; the operator retries; it arrives, once.
    sink.mode("ok").await;
    let r = app.post(&retry(&dead), Some(&operator), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["id"], dead.as_str());
    assert_eq!(r.body["attempts"], 0);
    let again = app.post(&retry(&dead), Some(&operator), json!({})).await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "not_dead"), "a retried message is no longer dead");
    let done =
        wait_rows(&app, Duration::from_secs(10), "the retried message sent", |rows| rows.get(&dead).is_some_and(|r| r.state == "sent"))
            .await;
    assert_eq!(done[&dead].attempts, 1, "attempts start again from zero");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_exactly_once(&sink.deliveries(), &[good, dead]);
    app.finish().await;
    sink.stop().await;
}

/// (c) A worker claims a batch and dies (its claim is made here through the store and never
/// finished); the running app's worker leaves the rows alone while the lease holds, then takes
/// them over and delivers every one, once. The dead worker's late completion is refused.
async fn killed_worker(backend: Backend) {
    let sink = Sink::start().await;
    let app = spawn_app_with(backend, |s| fast(s, sink.url())).await;
    let lease = Duration::from_secs(2);
    let mut tx = app.store.begin().await.expect("begin");
    let mut ids = Vec::new();
    for _ in 0..10 {
        let row = notice_to(&unique_email("helper"));
        outbox::insert(&mut tx, &row).await.expect("insert");
        ids.push(row.id);
    }
    let claimed_at = Instant::now();
    let now = now_ms();
    let claimed = outbox::claim(&mut tx, app.store.backend(), now, now + 2_000, 100, "killed-worker-1").await.expect("claim");
    tx.commit().await.expect("commit");
    assert_eq!(claimed.len(), 10);

    // While the dead worker's lease holds, nobody touches its rows.
    tokio::time::sleep(lease.mul_f64(0.6)).await;
    let held = rows(&app).await;
    assert!(held.values().all(|r| r.state == "sending" && r.lease_owner.as_deref() == Some("killed-worker-1")), "{held:?}");
    assert!(sink.deliveries().is_empty());

    let done = wait_rows(&app, Duration::from_secs(15), "the dead worker's batch delivered", all_sent).await;
    let took = claimed_at.elapsed();
    assert!(took >= lease, "taken over after {took:?}, before the lease of {lease:?} ran out");
    assert!(took < lease + Duration::from_secs(3), "taken over only after {took:?} (lease {lease:?}, poll 50 ms)");
    for r in done.values() {
        assert_eq!(r.attempts, 2, "one try by the dead worker, one by the one that took over");
        assert_ne!(r.lease_owner.as_deref(), Some("killed-worker-1"));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_exactly_once(&sink.deliveries(), &ids);

    // The dead worker comes back to life: it can neither renew nor record anything.
    let mut conn = app.store.pool().acquire().await.expect("conn");
    assert!(outbox::renew(&mut conn, "killed-worker-1", now_ms() + 60_000).await.expect("renew").is_empty());
    for id in &ids {
        assert!(!outbox::mark_retry(&mut conn, id, "killed-worker-1", now_ms(), "late").await.expect("mark"));
        assert!(!outbox::mark_dead(&mut conn, id, "killed-worker-1", "late").await.expect("mark"));
    }
    drop(conn);
    assert!(rows(&app).await.values().all(|r| r.state == "sent"));
    app.finish().await;
    sink.stop().await;
}

/// (d) Two apps (two workers) on one database and 200 queued messages: every message is delivered
/// exactly once, and both workers took part.
async fn two_apps(backend: Backend) {
    let sink = Sink::start().await;
    let settings = |s: &mut Settings| {
        fast(s, sink.url());
        s.outbox_batch_size = 10;
    };
    let a = spawn_app_with(backend, settings).await;
    let shared = a.database_url.clone();
    let b = spawn_app_with(backend, |s| {
        settings(s);
        s.database_url = Some(Secret::new(shared));
    })
    .await;
    let ids = queue(&a, 200).await;
    let done = wait_rows(&a, Duration::from_secs(60), "200 messages sent by two workers", all_sent).await;
    assert_eq!(done.len(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_exactly_once(&sink.deliveries(), &ids);
    assert!(done.values().all(|r| r.attempts == 1), "no message needed a second try");
    let mut per_worker: BTreeMap<String, usize> = BTreeMap::new();
    for r in done.values() {
        let token = r.lease_owner.clone().expect("the sender's claim token");
        *per_worker.entry(token.split('-').next().unwrap_or_default().to_owned()).or_insert(0) += 1;
    }
    assert_eq!(per_worker.len(), 2, "both workers should have sent some: {per_worker:?}");
    b.finish().await;
    a.finish().await;
    sink.stop().await;
}

/// A batch that takes longer than the lease (a slow SMTP server, one message at a time) keeps its
/// claim: the lease is renewed while the worker sends, so another claimer never gets those rows.
async fn renewal(backend: Backend) {
    let smtp = SlowSmtp::start(Duration::from_millis(80)).await;
    let app = spawn_app_with(backend, |s| {
        fast(s, Secret::new(format!("smtp://127.0.0.1:{}", smtp.port)));
        s.outbox_lease_secs = 3;
        s.outbox_batch_size = 12;
        s.outbox_concurrency = 1;
        // A message that failed would wait long; only a lost lease could make rows claimable.
        s.outbox_backoff_base_ms = 60_000;
        s.outbox_backoff_cap_ms = 60_000;
    })
    .await;
    let ids = queue(&app, 12).await;
    let claimed = wait_rows(&app, Duration::from_secs(10), "the batch claimed", |rows| rows.values().all(|r| r.state != "pending")).await;
    let started = Instant::now();
    let tokens: HashSet<Option<String>> = claimed.values().map(|r| r.lease_owner.clone()).collect();
    assert_eq!(tokens.len(), 1, "one claim took the whole batch: {tokens:?}");
    let token = tokens.into_iter().next().flatten().expect("claim token");
    let first_lease = claimed.values().filter_map(|r| r.lease_until).max().unwrap_or(0);

    // A second worker keeps trying to claim while the first one sends.
    let mut stolen = Vec::new();
    let mut renewed = false;
    loop {
        let now = rows(&app).await;
        renewed |= now.values().any(|r| r.lease_owner.as_ref() == Some(&token) && r.lease_until.is_some_and(|l| l > first_lease));
        if all_sent(&now) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the slow batch did not finish in 30 s");
        let mut tx = app.store.begin().await.expect("begin");
        let t = now_ms();
        stolen.extend(
            outbox::claim(&mut tx, app.store.backend(), t, t + 60_000, 100, "thief").await.expect("claim").into_iter().map(|r| r.id),
        );
        tx.commit().await.expect("commit");
        assert!(stolen.is_empty(), "rows taken over after {:?} while their worker was still sending them: {stolen:?}", started.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = started.elapsed();
    assert!(took > Duration::from_millis(3_500), "the batch took {took:?}; it must outlast the 3 s lease for this test to mean anything");
    assert!(stolen.is_empty(), "rows taken over while their worker was still sending them: {stolen:?}");
    assert!(renewed, "the claim's lease was never extended");
    let done = rows(&app).await;
    for (id, r) in &done {
        assert_eq!(r.lease_owner.as_ref(), Some(&token), "{id} was sent under another claim: the first one lost it");
        assert_eq!(r.attempts, 1, "{id} was claimed again");
    }
    let mut delivered = BTreeMap::new();
    for id in smtp.delivered() {
        *delivered.entry(id).or_insert(0) += 1;
    }
    assert_exactly_once(&delivered, &ids);
    app.finish().await;
}

/// Far enough ahead that the app's own worker (on the real clock) never finds these messages due
/// or their claims expired: the test claims them by hand on a clock of its own.
const AHEAD_MS: i64 = 3_600_000;

/// Claims up to `limit` messages for `owner` as if it were `at` (epoch ms), for `lease_ms`.
async fn claim_at(app: &TestApp, owner: &str, at: i64, lease_ms: i64, limit: i64) -> Vec<(String, i64)> {
    let mut tx = app.store.begin().await.expect("begin");
    let got = outbox::claim(&mut tx, app.store.backend(), at, at + lease_ms, limit, owner).await.expect("claim");
    tx.commit().await.expect("commit");
    got.into_iter().map(|r| (r.id, r.attempts)).collect()
}

/// R6's fence: once a claim ran out and another worker took the message, the first one can
/// neither renew it nor record an outcome; a live claim cannot be taken.
async fn fence(backend: Backend) {
    let app = crate::harness::spawn_app(backend).await;
    let t = now_ms() + AHEAD_MS;
    let id = queue_due(&app, 1, t).await.remove(0);
    assert!(claim_at(&app, "worker-a", t - 1, 1_000, 10).await.is_empty(), "not due yet");
    assert_eq!(claim_at(&app, "worker-a", t, 1_000, 10).await, [(id.clone(), 1)]);
    assert!(claim_at(&app, "worker-x", t + 999, 60_000, 10).await.is_empty(), "a live claim was taken");
    let mut conn = app.store.pool().acquire().await.expect("conn");
    assert_eq!(outbox::renew(&mut conn, "worker-a", t + 2_000).await.expect("renew"), std::slice::from_ref(&id), "a live claim renews");
    assert!(claim_at(&app, "worker-x", t + 1_500, 60_000, 10).await.is_empty(), "a renewed claim was taken");
    assert_eq!(claim_at(&app, "worker-b", t + 2_001, 60_000, 10).await, [(id.clone(), 2)], "an expired claim is taken over");
    assert!(outbox::renew(&mut conn, "worker-a", t + 90_000).await.expect("renew").is_empty());
    assert!(!outbox::mark_sent(&mut conn, &id, "worker-a", now_ms()).await.expect("mark"));
    assert!(!outbox::mark_retry(&mut conn, &id, "worker-a", now_ms(), "late").await.expect("mark"));
    assert!(!outbox::mark_dead(&mut conn, &id, "worker-a", "late").await.expect("mark"));
    let r = rows(&app).await[&id].clone();
    assert_eq!((r.state.as_str(), r.lease_owner.as_deref(), r.lease_until), ("sending", Some("worker-b"), Some(t + 2_001 + 60_000)));
    assert_eq!(outbox::renew(&mut conn, "worker-b", t + 90_000).await.expect("renew"), std::slice::from_ref(&id));
    assert!(outbox::mark_sent(&mut conn, &id, "worker-b", now_ms()).await.expect("mark"));
    assert!(!outbox::mark_sent(&mut conn, &id, "worker-b", now_ms()).await.expect("mark"), "finished once");
    assert!(outbox::renew(&mut conn, "worker-b", t + 90_000).await.expect("renew").is_empty(), "a sent message has no lease");
    drop(conn);
    assert_eq!(rows(&app).await[&id].state, "sent");
    app.finish().await;
}

/// Eight claimers at once over 100 due messages: every message claimed by exactly one.
async fn concurrent_claims(backend: Backend) {
    let app = crate::harness::spawn_app(backend).await;
    let t = now_ms() + AHEAD_MS;
    let ids = queue_due(&app, 100, t).await;
    let app = Arc::new(app);
    let claimers = (0..8).map(|k| {
        let app = app.clone();
        tokio::spawn(async move {
            let owner = format!("claimer-{k}");
            let mut mine = Vec::new();
            loop {
                let got = claim_at(&app, &owner, t, 60_000, 7).await;
                if got.is_empty() {
                    return (owner, mine);
                }
                mine.extend(got.into_iter().map(|(id, _)| id));
            }
        })
    });
    let results = futures::future::join_all(claimers).await;
    let app = Arc::into_inner(app).expect("claimers are done");
    let mut seen = HashSet::new();
    let mut conn = app.store.pool().acquire().await.expect("conn");
    let mut busy = 0;
    for r in results {
        let (owner, mine) = r.expect("claimer");
        busy += usize::from(!mine.is_empty());
        for id in mine {
            assert!(seen.insert(id.clone()), "{id} was claimed twice");
            assert!(outbox::mark_sent(&mut conn, &id, &owner, now_ms()).await.expect("mark"), "{owner} does not hold {id}");
        }
    }
    drop(conn);
    assert_eq!(seen.len(), ids.len(), "every message claimed");
    assert!(busy >= 2, "the claimers did not overlap");
    app.finish().await;
}

/// The operators' list: counts per state, filters, masking, pages, and its refusals.
async fn operator_list(backend: Backend) {
    let app = crate::harness::spawn_app(backend).await;
    let ids = queue_due(&app, 5, now_ms() + AHEAD_MS).await;
    let set = |id: &str, state: &str, error: Option<&str>| {
        let (id, state, error) = (id.to_owned(), state.to_owned(), error.map(str::to_owned));
        let pool = app.store.pool().clone();
        async move {
            sqlx::query("UPDATE outbox SET state = $2, last_error = $3 WHERE id = $1")
                .bind(id)
                .bind(state)
                .bind(error)
                .execute(&pool)
                .await
                .expect("update");
        }
    };
    set(&ids[0], "dead", Some("permanent error (550): 5.1.1 <zoe.secret@example.ch>: Recipient address rejected")).await;
    set(&ids[1], "dead", Some("unreadable payload")).await;
    set(&ids[2], "sent", None).await;
    let operator = app.operator().await;
    let (_, helper, _) = app.signed_up("helper").await;

    assert_eq!(app.get("/v1/ops/outbox", None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/v1/ops/outbox", Some(&helper)).await.status, StatusCode::FORBIDDEN);
    let all = app.get("/v1/ops/outbox", Some(&operator)).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    assert_eq!(all.body["counts"], json!({"pending": 2, "sending": 0, "sent": 1, "dead": 2}));
    let listed: Vec<&str> = all.body["items"].as_array().expect("items").iter().map(|i| i["id"].as_str().expect("id")).collect();
    let mut newest_first: Vec<&str> = ids.iter().map(String::as_str).collect();
    newest_first.reverse();
    assert_eq!(listed, newest_first);
    assert!(all.body["next_cursor"].is_null());
    assert!(all.body["items"].as_array().expect("items").iter().all(|i| i["recipient"] == "h***@example.ch"), "{}", all.text);
    assert!(!all.text.contains("helper-"), "an address is shown unmasked: {}", all.text);

    let dead = app.get("/v1/ops/outbox?state=dead", Some(&operator)).await;
    let items = dead.body["items"].as_array().expect("items");
    assert_eq!(items.iter().map(|i| i["id"].as_str().expect("id")).collect::<Vec<_>>(), [ids[1].as_str(), ids[0].as_str()]);
    assert!(items.iter().all(|i| i["state"] == "dead" && i["recipient"].as_str().is_some_and(|r| r.starts_with("h***@"))), "{}", dead.text);
    assert_eq!(items[1]["last_error"], "permanent error (550): 5.1.1 <z***@example.ch>: Recipient address rejected");
    assert!(!dead.text.contains("zoe.secret"));

    // Paging with limit and cursor walks every message once, newest first.
    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..5 {
        let path = match &cursor {
            Some(c) => format!("/v1/ops/outbox?limit=2&cursor={c}"),
            None => "/v1/ops/outbox?limit=2".to_owned(),
        };
        let page = app.get(&path, Some(&operator)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let items = page.body["items"].as_array().expect("items");
        assert!(items.len() <= 2);
        walked.extend(items.iter().map(|i| i["id"].as_str().expect("id").to_owned()));
        cursor = page.body["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(walked, newest_first);

    for bad in ["state=lost", "limit=0", "cursor=nonsense", "colour=red"] {
        let r = app.get(&format!("/v1/ops/outbox?{bad}"), Some(&operator)).await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_query"), "{bad}: {}", r.text);
    }
    let big = app.get("/v1/ops/outbox?limit=101", Some(&operator)).await;
    assert_eq!((big.status, big.code()), (StatusCode::BAD_REQUEST, "page_too_large"), "{}", big.text);
    let doc = app.get("/openapi.json", None).await;
    assert!(doc.body["paths"].get("/v1/ops/outbox").is_some() && doc.body["paths"].get("/v1/ops/outbox/{id}/retry").is_some());

    // Leave nothing undelivered behind.
    sqlx::query("UPDATE outbox SET state = 'sent'").execute(app.store.pool()).await.expect("update");
    app.finish().await;
}
