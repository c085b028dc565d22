//! `quartier-bench notifications`: how fast the outbox drains into a local SMTP server, and whether
//! bookings notice when the SMTP server is down.
//!
//! 1. Sink capacity: N real notices (rendered and formatted as the worker does) over 8 connections
//!    by a minimal client with `TCP_NODELAY` that sends each message in one write, so what a sink
//!    can take is known; and the same through Quartier's own `Mailer` (lettre 0.11.23, which sends
//!    without `TCP_NODELAY` and pays a 40 ms Nagle/delayed-ACK stall per message per connection
//!    against a server that delays its ACKs, as Linux does).
//! 2. Outbox -> SMTP: N rows queued (not yet due), a real `Application` (its outbox worker with the
//!    configured batch and concurrency) started, the rows made due at once; timed until every row
//!    is `sent` in the database. Every Message-ID is counted at the sink (duplicates are reported).
//!    Sinks: the Rust sink with ordinary (delayed) ACKs, the Rust sink with quick ACKs (what the
//!    worker does once its SMTP client sets `TCP_NODELAY`), and the Python sink.
//! 3. Booking latency: `POST /v1/bookings` over HTTP against a running server (in this process),
//!    in blocks with the SMTP server up and down in ABBA order (so drift affects both alike);
//!    afterwards the sink is up again and the backlog must drain, each message once.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use quartier_server::{Application, Secret, Settings};
use quartier_store::Store;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::smtp::{PythonSink, RustSink, repo_root};
use crate::stats::{self, Progress, Summary, count, ns};

/// Arguments of `quartier-bench notifications`.
#[derive(clap::Args)]
pub struct NotificationsArgs {
    /// Messages per outbox run.
    #[arg(long, default_value_t = 5_000)]
    messages: usize,
    /// Messages per sink-capacity run.
    #[arg(long, default_value_t = 5_000)]
    sink_messages: usize,
    /// Timed bookings per condition (SMTP up, SMTP down).
    #[arg(long, default_value_t = 2_000)]
    bookings: usize,
    /// Concurrent booking clients.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Backends to run: sqlite, postgres (postgres needs --pg-url).
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    backends: Vec<String>,
    /// PostgreSQL server to create throwaway benchmark databases on.
    #[arg(long, env = "QUARTIER_BENCH_PG_URL", hide_env_values = true)]
    pg_url: Option<String>,
    /// Python with aiosmtpd for the Python sink (default: the test suite's .venv).
    #[arg(long)]
    python: Option<PathBuf>,
    /// Skip the Python sink.
    #[arg(long)]
    no_python: bool,
    /// Outbox batch size (default: the settings' default).
    #[arg(long)]
    batch: Option<u32>,
    /// Messages sent at the same time by the worker (default: the settings' default).
    #[arg(long)]
    concurrency: Option<u32>,
    /// Where to write the figures as JSON.
    #[arg(long, default_value = "target/bench/notifications.json")]
    json: String,
}

const GOAL_RATE: f64 = 500.0;
const GOAL_P99_RATIO: f64 = 1.20;
const CAPACITY_SENDERS: usize = 8;
const HELPERS: usize = 32;
const WARM_UP: usize = 100;
/// SMTP up (A) and down (B) in ABBA order, four times: drift affects both conditions alike.
const ORDER: [Smtp; 16] = {
    use Smtp::{Down as B, Up as A};
    [A, B, B, A, A, B, B, A, A, B, B, A, A, B, B, A]
};

/// Runs the benchmark.
pub fn notifications(args: &NotificationsArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(run(args))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SinkKind {
    Rust,
    RustQuick,
    Python,
}

impl SinkKind {
    fn label(self) -> &'static str {
        match self {
            SinkKind::Rust => "Rust sink",
            SinkKind::RustQuick => "Rust sink, quick ACKs",
            SinkKind::Python => "Python sink (aiosmtpd)",
        }
    }
}

/// A running sink of any kind.
enum AnySink {
    Rust(RustSink),
    Python(Box<PythonSink>),
}

impl AnySink {
    async fn start(kind: SinkKind, python: &std::path::Path, script: &std::path::Path) -> anyhow::Result<AnySink> {
        Ok(match kind {
            SinkKind::Rust => AnySink::Rust(RustSink::start(false).await?),
            SinkKind::RustQuick => AnySink::Rust(RustSink::start(true).await?),
            SinkKind::Python => AnySink::Python(Box::new(PythonSink::start(python, script).await?)),
        })
    }

    fn url(&self) -> String {
        match self {
            AnySink::Rust(s) => s.url(),
            AnySink::Python(s) => s.url(),
        }
    }

    fn port(&self) -> u16 {
        match self {
            AnySink::Rust(s) => s.port(),
            AnySink::Python(s) => s.port(),
        }
    }

    fn count(&self) -> u64 {
        match self {
            AnySink::Rust(s) => s.received().count(),
            AnySink::Python(s) => s.count(),
        }
    }

    /// Waits (up to 10 s) until `want` messages arrived; then (received, distinct, duplicates).
    async fn settle(&self, want: u64) -> (u64, usize, usize) {
        let received = wait_count(|| self.count(), want, Duration::from_secs(10)).await;
        let (distinct, duplicates) = match self {
            AnySink::Rust(s) => s.received().distinct_and_duplicates(),
            AnySink::Python(s) => s.distinct_and_duplicates(),
        };
        (received, distinct, duplicates)
    }

    async fn stop(self) {
        match self {
            AnySink::Rust(s) => drop(s),
            AnySink::Python(s) => s.stop().await,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

struct Capacity {
    sink: SinkKind,
    client: &'static str,
    messages: usize,
    seconds: f64,
    received: u64,
    duplicates: usize,
}

struct Throughput {
    backend: Backend,
    sink: SinkKind,
    messages: usize,
    seconds: f64,
    delivered: u64,
    distinct: usize,
    duplicates: usize,
    retried: i64,
}

struct Latency {
    backend: Backend,
    up: Summary,
    down: Summary,
    failed: usize,
    first_failure: Option<String>,
    notifications: i64,
    waiting_after_down: i64,
    blocks: Vec<(Smtp, Summary)>,
    drained_s: Option<f64>,
    distinct: usize,
    duplicates: usize,
}

fn rate(n: usize, s: f64) -> f64 {
    if s > 0.0 { n as f64 / s } else { 0.0 }
}

async fn run(args: &NotificationsArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let defaults = Settings::default();
    let batch = args.batch.unwrap_or(defaults.outbox_batch_size);
    let concurrency = args.concurrency.unwrap_or(defaults.outbox_concurrency);
    let mut backends = Vec::new();
    for b in &args.backends {
        match b.trim().to_lowercase().as_str() {
            "sqlite" => backends.push(Backend::Sqlite),
            "postgres" | "postgresql" => {
                if args.pg_url.is_some() {
                    backends.push(Backend::Postgres);
                } else {
                    println!("  PostgreSQL: skipped (QUARTIER_BENCH_PG_URL is not set; run `make bench-notifications`)");
                }
            }
            other => bail!("unknown backend {other:?} (sqlite, postgres)"),
        }
    }
    let python = args.python.clone().unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    let script = repo_root().join("scripts/smtp_sink.py");
    let use_python = !args.no_python && python.exists();
    let load_start = stats::loadavg();
    println!("quartier-bench notifications");
    println!(
        "  {cores} cores; outbox batch {batch}, {concurrency} senders per worker; {} messages per outbox run; {} bookings per condition with {} clients",
        count(args.messages),
        count(args.bookings),
        args.clients
    );
    println!("  load average at start: {load_start} (other work on this machine skews timings)");
    if !use_python {
        println!(
            "  Python sink: skipped ({})",
            if args.no_python { "--no-python".to_owned() } else { format!("{} not found", python.display()) }
        );
    }

    let mut sinks = vec![SinkKind::Rust, SinkKind::RustQuick];
    if use_python {
        sinks.push(SinkKind::Python);
    }

    // 1. What the sinks can take.
    println!();
    println!(
        "== 1. SMTP sink capacity: {} rendered notices over {CAPACITY_SENDERS} connections, no database ==",
        count(args.sink_messages)
    );
    let wire = wire_messages(args.sink_messages)?;
    let mut capacity = Vec::new();
    for &kind in &sinks {
        let sink = AnySink::start(kind, &python, &script).await?;
        let c = raw_blast(sink.port(), &wire, kind).await?;
        let (received, _, duplicates) = sink.settle(c.messages as u64).await;
        capacity.push(Capacity { received, duplicates, ..c });
        sink.stop().await;
    }
    let lettre_n = (args.sink_messages / 5).max(100);
    for kind in [SinkKind::Rust, SinkKind::RustQuick] {
        let sink = AnySink::start(kind, &python, &script).await?;
        let c = mailer_blast(&sink.url(), lettre_n, kind).await?;
        let (received, _, duplicates) = sink.settle(c.messages as u64).await;
        capacity.push(Capacity { received, duplicates, ..c });
        sink.stop().await;
    }

    // 2. Outbox -> SMTP.
    let mut outbox_runs = Vec::new();
    for &backend in &backends {
        println!();
        println!("== 2. Outbox -> SMTP on {}: {} messages ==", backend.label(), count(args.messages));
        for &kind in &sinks {
            let sink = AnySink::start(kind, &python, &script).await?;
            let mut t = outbox_run(args, backend, &sink.url(), kind, batch, concurrency).await?;
            (t.delivered, t.distinct, t.duplicates) = sink.settle(t.messages as u64).await;
            outbox_runs.push(t);
            sink.stop().await;
        }
    }

    // 3. Booking latency with SMTP up and down.
    let mut latencies = Vec::new();
    for &backend in &backends {
        println!();
        println!(
            "== 3. Booking latency on {}: POST /v1/bookings, {} clients, {} per condition, SMTP up/down in ABBA blocks ==",
            backend.label(),
            args.clients,
            count(args.bookings)
        );
        latencies.push(latency_run(args, backend).await?);
    }

    let total_s = started.elapsed().as_secs_f64();
    let load = (load_start, stats::loadavg());
    let goals = goals(&outbox_runs, &latencies);
    print_summary(&capacity, &outbox_runs, &latencies, &goals, batch, concurrency, args);
    println!();
    println!("total runtime: {total_s:.0} s; load average at start {}, at end {}", load.0, load.1);
    let json = to_json(&capacity, &outbox_runs, &latencies, &goals, cores, batch, concurrency, args, total_s, &load);
    if let Some(dir) = std::path::Path::new(&args.json).parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&args.json, serde_json::to_string_pretty(&json)? + "\n").with_context(|| format!("writing {}", args.json))?;
    println!("figures written to {}", args.json);
    Ok(())
}

async fn wait_count(read: impl Fn() -> u64, want: u64, limit: Duration) -> u64 {
    let deadline = Instant::now() + limit;
    loop {
        let n = read();
        if n >= want || Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) fn notice_data(i: usize) -> Value {
    json!({
        "booking_id": uuid::Uuid::now_v7().to_string(),
        "service_name": "Guest Wi-Fi set-up",
        "starts_at": "2026-12-01T14:00:00Z",
        "time_zone": "Europe/Zurich",
        "customer_name": "Cora Customer",
        "helper_name": format!("Helper {i}"),
        "recipient_name": format!("Helper {i}"),
        "link": "http://localhost:8080/#/bookings/1",
    })
}

fn rendered_notice() -> anyhow::Result<quartier_notifications::Rendered> {
    let data: quartier_notifications::BookingNoticeData = serde_json::from_value(notice_data(0)).context("notice payload")?;
    Ok(quartier_notifications::render(quartier_booking::Notice::Requested, "en".parse().unwrap_or_default(), &data))
}

/// `n` notices as they go over the wire (formatted like the Mailer does; each its own Message-ID).
fn wire_messages(n: usize) -> anyhow::Result<Vec<Vec<u8>>> {
    use lettre::message::{Mailbox, Message, MultiPart};
    let msg = rendered_notice()?;
    let from: Mailbox = "Quartier <noreply@quartier.localhost>".parse()?;
    (0..n)
        .map(|i| {
            let to: Mailbox = format!("Hugo Helper <helper-{i}@example.ch>").parse()?;
            let email = Message::builder()
                .from(from.clone())
                .to(to)
                .subject(msg.subject.clone())
                .message_id(Some(format!("<capacity-{i}@bench.localhost>")))
                .multipart(MultiPart::alternative_plain_html(msg.text.clone(), msg.html.clone()))?;
            Ok(crate::smtp::wire_bytes(&email.formatted()))
        })
        .collect()
}

/// Prints progress while `done` grows to `n`, until `tasks` end.
async fn follow<T>(tasks: Vec<tokio::task::JoinHandle<anyhow::Result<T>>>, done: impl Fn() -> usize, n: usize) -> anyhow::Result<()> {
    let mut progress = Progress::new(n);
    while !tasks.iter().all(|t| t.is_finished()) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        progress.at(done());
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// The prepared messages over 8 connections of the minimal `TCP_NODELAY` client.
async fn raw_blast(port: u16, wire: &[Vec<u8>], sink: SinkKind) -> anyhow::Result<Capacity> {
    let n = wire.len();
    print!("  {} <- minimal client:", sink.label());
    let wire = Arc::new(wire.to_vec());
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let t = Instant::now();
    let tasks = (0..CAPACITY_SENDERS)
        .map(|_| {
            let (wire, next, done) = (wire.clone(), next.clone(), done.clone());
            tokio::spawn(async move { crate::smtp::raw_send_loop(port, &wire, &next, &done).await })
        })
        .collect();
    follow(tasks, || done.load(Ordering::Relaxed) as usize, n).await?;
    let seconds = t.elapsed().as_secs_f64();
    println!("  {} msg/s ({} messages in {seconds:.2} s)", count(rate(n, seconds) as usize), count(n));
    Ok(Capacity { sink, client: "minimal client, TCP_NODELAY", messages: n, seconds, received: 0, duplicates: 0 })
}

/// `n` notices through Quartier's Mailer (the worker's transport: lettre, pooled) with 8 senders.
async fn mailer_blast(url: &str, n: usize, sink: SinkKind) -> anyhow::Result<Capacity> {
    let mailer = quartier_notifications::Mailer::new(
        &quartier_notifications::MailerConfig::Smtp(url.to_owned()),
        "Quartier <noreply@quartier.localhost>",
        "bench.localhost",
    )?;
    let msg = Arc::new(rendered_notice()?);
    print!("  {} <- Quartier's Mailer (lettre):", sink.label());
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    let tasks = (0..CAPACITY_SENDERS)
        .map(|_| {
            let (mailer, msg, next, done) = (mailer.clone(), msg.clone(), next.clone(), done.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return Ok::<(), anyhow::Error>(());
                    }
                    mailer
                        .send("Hugo Helper", &format!("helper-{i}@example.ch"), &format!("capacity-{i}"), &msg)
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    follow(tasks, || done.load(Ordering::Relaxed), n).await?;
    let seconds = t.elapsed().as_secs_f64();
    println!("  {} msg/s ({} messages in {seconds:.2} s)", count(rate(n, seconds) as usize), count(n));
    Ok(Capacity { sink, client: "Quartier's Mailer (lettre 0.11.23, no TCP_NODELAY)", messages: n, seconds, received: 0, duplicates: 0 })
}

/// A database of its own for one run.
pub(crate) struct Db {
    url: String,
    pg: Option<(String, String)>,
    dir: tempfile::TempDir,
}

impl Db {
    pub(crate) async fn create(backend: Backend, pg_url: Option<&str>) -> anyhow::Result<Db> {
        use sqlx::Connection as _;
        let dir = tempfile::tempdir()?;
        Ok(match backend {
            Backend::Sqlite => Db { url: format!("sqlite://{}", dir.path().join("quartier.db").display()), pg: None, dir },
            Backend::Postgres => {
                let admin = pg_url.context("PostgreSQL needs QUARTIER_BENCH_PG_URL")?.to_owned();
                let name = format!("quartier_bench_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&admin).await.context("connecting to the benchmark PostgreSQL")?;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await?;
                conn.close().await.ok();
                let (base, _) = admin.rsplit_once('/').context("the PostgreSQL URL names a database")?;
                Db { url: format!("{base}/{name}"), pg: Some((admin, name)), dir }
            }
        })
    }

    pub(crate) async fn drop_db(self) {
        use sqlx::Connection as _;
        if let Some((admin, name)) = &self.pg
            && let Ok(mut conn) = sqlx::PgConnection::connect(admin).await
        {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&mut conn).await;
        }
    }

    pub(crate) fn settings(&self, smtp: &str) -> Settings {
        Settings {
            host: "127.0.0.1".into(),
            port: 0,
            data_dir: self.dir.path().to_path_buf(),
            database_url: Some(Secret::new(self.url.clone())),
            smtp_url: Some(Secret::new(smtp)),
            signing_key: Some(Secret::new("quartier-bench-signing-key-0123456789abcdef")),
            password_memory_kib: 1024,
            password_iterations: 1,
            login_attempts_per_address: 100_000,
            // Each bench customer has thousands of requests waiting for an answer.
            max_open_requests: u32::MAX,
            min_notice_minutes: 0,
            ..Settings::default()
        }
    }
}

/// A server running in this process.
pub(crate) struct Running {
    pub(crate) base: String,
    pub(crate) store: Store,
    stop: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

pub(crate) async fn start_app(settings: Settings) -> anyhow::Result<Running> {
    let app = Application::build(settings).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let store = app.store().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    Ok(Running { base, store, stop, server })
}

impl Running {
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(30), self.server).await;
    }
}

pub(crate) async fn count_where(store: &Store, state: &str) -> anyhow::Result<i64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE state = $1").bind(state).fetch_one(store.pool()).await?;
    Ok(n)
}

async fn outbox_run(
    args: &NotificationsArgs,
    backend: Backend,
    smtp: &str,
    sink: SinkKind,
    batch: u32,
    concurrency: u32,
) -> anyhow::Result<Throughput> {
    let db = Db::create(backend, args.pg_url.as_deref()).await?;
    let mut settings = db.settings(smtp);
    settings.outbox_batch_size = batch;
    settings.outbox_concurrency = concurrency;
    // Only the start waits for a poll: after a batch the worker claims the next one at once.
    settings.outbox_poll_ms = 50;
    let store = quartier_server::startup::open_store(&settings).await?;
    let later = jiff::Timestamp::now().as_millisecond() + 86_400_000;
    let n = args.messages;
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut tx = store.begin().await?;
        for &i in chunk {
            let now = jiff::Timestamp::now().as_millisecond();
            let row = quartier_store::outbox::OutboxRow {
                id: uuid::Uuid::now_v7().to_string(),
                channel: "email".into(),
                template: "booking_requested".into(),
                recipient_id: None,
                recipient_email: format!("helper-{i}@example.ch"),
                recipient_name: format!("Helper {i}"),
                locale: ["de", "fr", "it", "en"][i % 4].into(),
                payload: notice_data(i).to_string(),
                state: "pending".into(),
                attempts: 0,
                next_attempt_at: later,
                last_error: None,
                created_at: now,
            };
            quartier_store::outbox::insert(&mut tx, &row).await?;
        }
        tx.commit().await?;
    }
    store.close().await;
    let app = start_app(settings).await?;
    print!("  {} -> {}:", backend.label(), sink.label());
    let t = Instant::now();
    sqlx::query("UPDATE outbox SET next_attempt_at = 0").execute(app.store.pool()).await?;
    let mut progress = Progress::new(n);
    let limit = Duration::from_secs(60 + (n / 50) as u64);
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let sent = count_where(&app.store, "sent").await? as usize;
        progress.at(sent);
        if sent >= n {
            break;
        }
        if t.elapsed() > limit {
            let dead = count_where(&app.store, "dead").await?;
            bail!("{} -> {}: only {sent} of {n} messages sent after {limit:?} ({dead} dead)", backend.label(), sink.label());
        }
    }
    let seconds = t.elapsed().as_secs_f64();
    let (retried,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE attempts > 1").fetch_one(app.store.pool()).await?;
    println!("  {} msg/s ({} messages in {seconds:.2} s)", count(rate(n, seconds) as usize), count(n));
    app.stop().await;
    db.drop_db().await;
    Ok(Throughput { backend, sink, messages: n, seconds, delivered: 0, distinct: 0, duplicates: 0, retried })
}

/// One HTTP call; (status, body).
pub(crate) async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Value,
) -> anyhow::Result<(u16, Value)> {
    let mut req = client.request(method, url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await?;
    let status = res.status().as_u16();
    let text = res.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
}

async fn account(client: &reqwest::Client, base: &str, role: &str, k: usize) -> anyhow::Result<(String, String)> {
    let email = format!("{role}-{k}-{}@example.ch", uuid::Uuid::new_v4().simple());
    let body =
        json!({"email": email, "password": "correct horse battery", "name": format!("Bench {role} {k}"), "role": role, "locale": "en"});
    let (s, r) = call(client, reqwest::Method::POST, format!("{base}/v1/auth/register"), None, body).await?;
    anyhow::ensure!(s == 201, "register: {s} {r}");
    let (s, l) = call(
        client,
        reqwest::Method::POST,
        format!("{base}/v1/auth/login"),
        None,
        json!({"email": email, "password": "correct horse battery"}),
    )
    .await?;
    anyhow::ensure!(s == 200, "login: {s} {l}");
    Ok((r["id"].as_str().unwrap_or_default().to_owned(), l["access_token"].as_str().unwrap_or_default().to_owned()))
}

/// `n_helpers` approved helpers (wifi and router skills, free around the clock, at Zurich HB) and
/// `n_customers` customers on a running server: (operator token, helper ids, customer tokens).
pub(crate) async fn populate(
    client: &reqwest::Client,
    base: &str,
    store: &Store,
    n_helpers: usize,
    n_customers: usize,
) -> anyhow::Result<(String, Vec<String>, Vec<String>)> {
    let op_email = format!("operator-{}@example.ch", uuid::Uuid::new_v4().simple());
    let op_settings = Settings { password_memory_kib: 1024, password_iterations: 1, ..Settings::default() };
    quartier_server::seed::create_operator(store, &op_settings, &op_email, "Olivia Operator", "operator password 1").await?;
    let (s, l) = call(
        client,
        reqwest::Method::POST,
        format!("{base}/v1/auth/login"),
        None,
        json!({"email": op_email, "password": "operator password 1"}),
    )
    .await?;
    anyhow::ensure!(s == 200, "operator login: {s} {l}");
    let operator = l["access_token"].as_str().unwrap_or_default().to_owned();
    let mut helpers = Vec::new();
    for k in 0..n_helpers {
        let (id, token) = account(client, base, "helper", k).await?;
        let (s, b) = call(client, reqwest::Method::PUT, format!("{base}/v1/helper/profile"), Some(&token),
            json!({"skills": ["wifi", "router"], "home": {"lat": 47.3769, "lon": 8.5417}, "travel_radius_km": 5, "bio": "Happy to help.", "languages": ["de", "en"]})).await?;
        anyhow::ensure!(s == 200, "profile: {s} {b}");
        let week: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .iter()
            .map(|d| json!({"weekday": d, "start": "00:00", "end": "24:00"}))
            .collect();
        let (s, b) = call(
            client,
            reqwest::Method::PUT,
            format!("{base}/v1/helper/availability"),
            Some(&token),
            json!({"rules": week, "min_notice_minutes": 0}),
        )
        .await?;
        anyhow::ensure!(s == 200, "availability: {s} {b}");
        // Only approved helpers are matched: apply, and an operator approves.
        let (s, b) = call(client, reqwest::Method::POST, format!("{base}/v1/helper/application"), Some(&token),
            json!({"legal_name": format!("Bench Helper {k}"), "birth_date": "1980-05-17", "iban": "CH58 0079 1123 0008 8901 2", "quiz_answers": [1, 1, 0, 1, 2]})).await?;
        anyhow::ensure!(s == 201, "application: {s} {b}");
        let (s, b) = call(
            client,
            reqwest::Method::POST,
            format!("{base}/v1/ops/helpers/{id}/decision"),
            Some(&operator),
            json!({"decision": "approve", "reason": "Benchmark helper"}),
        )
        .await?;
        anyhow::ensure!(s == 200, "approval: {s} {b}");
        helpers.push(id);
    }
    let mut customers = Vec::new();
    for k in 0..n_customers {
        customers.push(account(client, base, "customer", k).await?.1);
    }
    Ok((operator, helpers, customers))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Smtp {
    Up,
    Down,
}

async fn latency_run(args: &NotificationsArgs, backend: Backend) -> anyhow::Result<Latency> {
    let db = Db::create(backend, args.pg_url.as_deref()).await?;
    let sink = RustSink::start(false).await?;
    let mut settings = db.settings(&sink.url());
    // The compressed schedule of the reliability battery's PR tier (R5): base 1 s, cap 15 s.
    settings.outbox_backoff_base_ms = 1_000;
    settings.outbox_backoff_cap_ms = 15_000;
    let app = start_app(settings).await?;
    let client = reqwest::Client::new();
    let base = app.base.clone();

    print!("  setting up {HELPERS} approved helpers and {} customers...", args.clients);
    let (_, helpers, customers) = populate(&client, &base, &app.store, HELPERS, args.clients.max(1)).await?;
    println!(" done");

    // Distinct slots: booking k goes to helper k % HELPERS, 2 hours after its previous one (a
    // 45-minute visit and 15-minute buffers block 75 minutes).
    let day0 = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().checked_add(jiff::Span::new().days(2))?;
    let first = day0.to_zoned(jiff::tz::TimeZone::UTC)?.timestamp();
    let slot = |k: usize| -> (String, String) {
        let start = first + jiff::SignedDuration::from_hours(2 * (k / HELPERS) as i64);
        (helpers[k % HELPERS].clone(), start.to_string())
    };
    let next = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(std::sync::Mutex::new((0usize, None::<String>)));
    let block = |n: usize| {
        let (client, base, customers, failures) = (client.clone(), base.clone(), customers.clone(), failures.clone());
        let from = next.fetch_add(n, Ordering::Relaxed);
        let slots: Vec<(String, String)> = (from..from + n).map(slot).collect();
        async move {
            let cursor = Arc::new(AtomicUsize::new(0));
            let slots = Arc::new(slots);
            let mut tasks = Vec::new();
            for token in customers {
                let (client, base, cursor, slots, failures) =
                    (client.clone(), base.clone(), cursor.clone(), slots.clone(), failures.clone());
                tasks.push(tokio::spawn(async move {
                    let mut lat = Vec::new();
                    loop {
                        let i = cursor.fetch_add(1, Ordering::Relaxed);
                        let Some((helper, start)) = slots.get(i) else {
                            return lat;
                        };
                        let body =
                            json!({"service": "guest-wifi", "address": "Langstrasse 21, 8004 Zürich", "start": start, "helper_id": helper});
                        let t = Instant::now();
                        let outcome = call(&client, reqwest::Method::POST, format!("{base}/v1/bookings"), Some(&token), body).await;
                        let took = t.elapsed().as_nanos() as u64;
                        match outcome {
                            Ok((201, _)) => lat.push(took),
                            Ok((s, b)) => {
                                let mut f = failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                                f.0 += 1;
                                f.1.get_or_insert_with(|| format!("{s} {b}"));
                            }
                            Err(e) => {
                                let mut f = failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                                f.0 += 1;
                                f.1.get_or_insert_with(|| e.to_string());
                            }
                        }
                    }
                }));
            }
            let mut all = Vec::new();
            for t in tasks {
                all.extend(t.await.unwrap_or_default());
            }
            all
        }
    };

    print!("  warm-up ({WARM_UP} bookings, SMTP up)...");
    block(WARM_UP).await;
    println!(" done");
    let per_block = args.bookings.div_ceil(ORDER.len() / 2).max(1);
    let order = ORDER;
    let (mut up, mut down) = (Vec::new(), Vec::new());
    let mut blocks = Vec::new();
    let mut waiting_after_down = 0;
    for (b, &mode) in order.iter().enumerate() {
        sink.set_down(mode == Smtp::Down);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let t = Instant::now();
        let lat = block(per_block).await;
        let s = Summary::of(lat.clone());
        println!(
            "  block {}/{} SMTP {:<4}: {} bookings in {:.1} s, p50 {}  p99 {}",
            b + 1,
            order.len(),
            if mode == Smtp::Up { "up" } else { "down" },
            lat.len(),
            t.elapsed().as_secs_f64(),
            ns(s.p50),
            ns(s.p99)
        );
        blocks.push((mode, s));
        match mode {
            Smtp::Up => up.extend(lat),
            Smtp::Down => down.extend(lat),
        }
        if mode == Smtp::Down && order.get(b + 1) != Some(&Smtp::Down) {
            // Proof that the server was really down: notifications wait.
            waiting_after_down =
                waiting_after_down.max(count_where(&app.store, "pending").await? + count_where(&app.store, "sending").await?);
        }
    }

    // The backlog of the down blocks drains once the server is back, each message once.
    sink.set_down(false);
    let t = Instant::now();
    print!("  SMTP up again; draining the backlog:");
    let total: i64 = sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM outbox").fetch_one(app.store.pool()).await?.0;
    let mut progress = Progress::new(total as usize);
    let drained_s = loop {
        let sent = count_where(&app.store, "sent").await?;
        progress.at(sent as usize);
        if sent >= total {
            break Some(t.elapsed().as_secs_f64());
        }
        if t.elapsed() > Duration::from_secs(120) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!(
        "  {}",
        drained_s.map_or("NOT drained within 120 s".to_owned(), |s| format!("{total} notifications sent, drained in {s:.1} s"))
    );
    let (distinct, duplicates) = sink.received().distinct_and_duplicates();
    let (failed, first_failure) = failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    app.stop().await;
    db.drop_db().await;
    Ok(Latency {
        backend,
        up: Summary::of(up),
        down: Summary::of(down),
        failed,
        first_failure,
        notifications: total,
        waiting_after_down,
        blocks,
        drained_s,
        distinct,
        duplicates,
    })
}

struct Goal {
    text: String,
    measured: String,
    pass: Option<bool>,
}

fn goals(outbox: &[Throughput], latencies: &[Latency]) -> Vec<Goal> {
    let mut out = Vec::new();
    for t in outbox.iter().filter(|t| t.sink != SinkKind::Python) {
        let r = rate(t.messages, t.seconds);
        let clean = t.duplicates == 0 && t.distinct == t.messages;
        let how = match t.sink {
            SinkKind::Rust => "delayed ACKs, as a Linux MTA",
            _ => "quick ACKs: no Nagle stall",
        };
        out.push(Goal {
            text: format!("{}: outbox -> SMTP >= {GOAL_RATE:.0} msg/s ({how})", t.backend.label()),
            measured: format!("{:.0} msg/s ({} delivered, {} duplicates)", r, count(t.delivered as usize), t.duplicates),
            pass: Some(r >= GOAL_RATE && clean),
        });
    }
    for l in latencies {
        let ratio = if l.up.p99 > 0.0 { l.down.p99 / l.up.p99 } else { 0.0 };
        out.push(Goal {
            text: format!("{}: booking p99 SMTP down within 20% of up", l.backend.label()),
            measured: format!("up {} / down {} = {:.2}x", ns(l.up.p99), ns(l.down.p99), ratio),
            pass: Some(ratio <= GOAL_P99_RATIO && l.failed == 0),
        });
        out.push(Goal {
            text: format!("{}: backlog delivered once after the outage", l.backend.label()),
            measured: format!(
                "{} of {} notifications ({} were waiting during an outage), {} duplicates{}",
                l.distinct,
                l.notifications,
                l.waiting_after_down,
                l.duplicates,
                l.drained_s.map_or(", not drained in 120 s".to_owned(), |s| format!(", drained in {s:.1} s"))
            ),
            pass: Some(l.drained_s.is_some() && l.duplicates == 0 && l.distinct as i64 == l.notifications && l.waiting_after_down > 0),
        });
    }
    out
}

fn bar(value: f64, max: f64, width: usize) -> String {
    let n = if max > 0.0 { ((value / max) * width as f64).round() as usize } else { 0 };
    "#".repeat(n.clamp(usize::from(value > 0.0), width))
}

fn print_summary(
    capacity: &[Capacity],
    outbox: &[Throughput],
    latencies: &[Latency],
    goals: &[Goal],
    batch: u32,
    concurrency: u32,
    args: &NotificationsArgs,
) {
    println!();
    println!("== Summary ==");
    let mut rows: Vec<(String, String, String)> = Vec::new();
    for c in capacity {
        rows.push((
            format!("sink capacity: {} <- {}", c.sink.label(), c.client),
            format!("{:.0} msg/s", rate(c.messages, c.seconds)),
            format!(
                "{} sent, {} received, {} duplicates, {} connections, no database",
                count(c.messages),
                count(c.received as usize),
                c.duplicates,
                CAPACITY_SENDERS
            ),
        ));
    }
    for t in outbox {
        rows.push((
            format!("outbox -> SMTP: {} -> {}", t.backend.label(), t.sink.label()),
            format!("{:.0} msg/s", rate(t.messages, t.seconds)),
            format!(
                "{} in {:.2} s; {} received, {} distinct, {} duplicates, {} retried; batch {batch}, {concurrency} senders",
                count(t.messages),
                t.seconds,
                count(t.delivered as usize),
                count(t.distinct),
                t.duplicates,
                t.retried
            ),
        ));
    }
    for l in latencies {
        for (cond, s) in [("up", &l.up), ("down", &l.down)] {
            rows.push((
                format!("booking latency: {} SMTP {cond}", l.backend.label()),
                format!("p99 {}", ns(s.p99)),
                format!("n {}, p50 {}, p90 {}, max {}, mean {}", s.n, ns(s.p50), ns(s.p90), ns(s.max), ns(s.mean)),
            ));
        }
        rows.push((
            format!("booking failures: {}", l.backend.label()),
            l.failed.to_string(),
            l.first_failure.clone().unwrap_or_else(|| format!("all 201; {} clients", args.clients)),
        ));
    }
    let w0 = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let w1 = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0);
    for (a, b, c) in &rows {
        println!("  {a:<w0$} | {b:>w1$} | {c}");
    }

    println!();
    let mut bars: Vec<(String, f64)> = capacity
        .iter()
        .map(|c| {
            let client = if c.client.starts_with("minimal") { "minimal client" } else { "Mailer (lettre)" };
            (format!("capacity {} <- {client}", c.sink.label()), rate(c.messages, c.seconds))
        })
        .collect();
    bars.extend(outbox.iter().map(|t| (format!("outbox {} -> {}", t.backend.label(), t.sink.label()), rate(t.messages, t.seconds))));
    let max = bars.iter().map(|b| b.1).fold(GOAL_RATE, f64::max);
    let lw = bars.iter().map(|b| b.0.chars().count()).max().unwrap_or(0);
    const WIDTH: usize = 50;
    println!("messages per second (linear; '|' marks the goal of {GOAL_RATE:.0} msg/s):");
    let goal_col = ((GOAL_RATE / max) * WIDTH as f64).round() as usize;
    for (label, v) in &bars {
        let mut b: Vec<char> = format!("{:<WIDTH$}", bar(*v, max, WIDTH)).chars().collect();
        if let Some(c) = b.get_mut(goal_col.min(WIDTH - 1)) {
            *c = if *c == '#' { '+' } else { '|' };
        }
        println!("  {label:<lw$} {} {:.0}", b.into_iter().collect::<String>(), v);
    }
    println!();
    let mut lat_bars = Vec::new();
    for l in latencies {
        for (cond, s) in [("up  ", &l.up), ("down", &l.down)] {
            lat_bars.push((format!("{} SMTP {cond} p50", l.backend.label()), s.p50));
            lat_bars.push((format!("{} SMTP {cond} p99", l.backend.label()), s.p99));
        }
    }
    if !lat_bars.is_empty() {
        print!("{}", stats::log_bars("POST /v1/bookings latency (log scale):", &lat_bars));
    }
    println!();
    println!("Goals:");
    for g in goals {
        let tag = match g.pass {
            Some(true) => "PASS",
            Some(false) => "MISS",
            None => "n/a ",
        };
        println!("  [{tag}] {:<55} measured {}", g.text, g.measured);
    }
    let cap = |kind: SinkKind, minimal: bool| {
        capacity.iter().find(|c| c.sink == kind && c.client.starts_with("minimal") == minimal).map(|c| rate(c.messages, c.seconds))
    };
    if let Some(rust) = cap(SinkKind::Rust, true) {
        println!("  note: the goal is measured against the Rust sink, which takes {rust:.0} msg/s on its own (minimal client).");
    }
    if let Some(py) = cap(SinkKind::Python, true) {
        println!(
            "  note: the Python aiosmtpd sink takes {py:.0} msg/s on its own{}.",
            if py < GOAL_RATE { ", below the goal: with it the sink is the limit" } else { "" }
        );
    }
    if let (Some(stalled), Some(quick)) = (cap(SinkKind::Rust, false), cap(SinkKind::RustQuick, false)) {
        println!(
            "  note: Quartier's Mailer alone (its own TCP_NODELAY connections handed to lettre): {stalled:.0} msg/s over {CAPACITY_SENDERS} connections against a server with delayed ACKs, {quick:.0} msg/s with quick ACKs{}.",
            if stalled * 2.0 < quick { "; the gap is a Nagle stall (about 40 ms per message and connection)" } else { "; no Nagle stall" }
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn to_json(
    capacity: &[Capacity],
    outbox: &[Throughput],
    latencies: &[Latency],
    goals: &[Goal],
    cores: usize,
    batch: u32,
    concurrency: u32,
    args: &NotificationsArgs,
    total_s: f64,
    load: &(String, String),
) -> Value {
    json!({
        "benchmark": "notifications",
        "cores": cores,
        "outbox_settings": {"batch_size": batch, "concurrency": concurrency, "poll_ms": 50},
        "sink_capacity": capacity.iter().map(|c| json!({
            "sink": c.sink.label(),
            "client": c.client,
            "messages": c.messages,
            "connections": CAPACITY_SENDERS,
            "seconds": stats::round2(c.seconds),
            "msg_per_s": stats::round2(rate(c.messages, c.seconds)),
            "received": c.received,
            "duplicates": c.duplicates,
        })).collect::<Vec<_>>(),
        "outbox_to_smtp": outbox.iter().map(|t| json!({
            "backend": t.backend.label(),
            "sink": t.sink.label(),
            "messages": t.messages,
            "seconds": stats::round2(t.seconds),
            "msg_per_s": stats::round2(rate(t.messages, t.seconds)),
            "received": t.delivered,
            "distinct_message_ids": t.distinct,
            "duplicates": t.duplicates,
            "retried": t.retried,
        })).collect::<Vec<_>>(),
        "booking_latency": latencies.iter().map(|l| json!({
            "backend": l.backend.label(),
            "clients": args.clients,
            "smtp_up_us": l.up.json_us(),
            "smtp_down_us": l.down.json_us(),
            "p99_ratio_down_over_up": stats::round2(if l.up.p99 > 0.0 { l.down.p99 / l.up.p99 } else { 0.0 }),
            "failed_bookings": l.failed,
            "first_failure": l.first_failure,
            "notifications": l.notifications,
            "most_notifications_waiting_at_the_end_of_a_down_block": l.waiting_after_down,
            "blocks": l.blocks.iter().map(|(m, s)| json!({"smtp": if *m == Smtp::Up { "up" } else { "down" }, "latency_us": s.json_us()})).collect::<Vec<_>>(),
            "drained_after_outage_s": l.drained_s.map(stats::round2),
            "distinct_message_ids": l.distinct,
            "duplicates": l.duplicates,
            "backoff": {"base_ms": 1000, "cap_ms": 15000},
        })).collect::<Vec<_>>(),
        "goals": goals.iter().map(|g| json!({"goal": g.text, "measured": g.measured, "pass": g.pass})).collect::<Vec<_>>(),
        "total_runtime_s": stats::round2(total_s),
        "loadavg": {"start": load.0, "end": load.1},
    })
}
