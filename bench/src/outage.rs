//! `quartier-bench outage`: the reliability battery's R5 (SMTP outage), measured.
//!
//! A real `Application` (its outbox worker with the backoff given here) sends to
//! `scripts/smtp_sink.py`, the test suite's SMTP stub, driven through its control channel. Bookings
//! (`POST /v1/bookings` over HTTP) arrive at a steady rate, open loop (each at its scheduled time,
//! whether or not earlier ones have answered), through these phases:
//!
//! 1. SMTP up, half of the baseline;
//! 2. SMTP **down** for the outage window: the sink's port is closed;
//! 3. the sink answers `451 4.3.0` to every RCPT and DATA for a while;
//! 4. recovery: the sink accepts everything again except one recipient it refuses with `550 5.1.1`,
//!    whose message is queued right then; no more bookings until every notification is sent;
//! 5. SMTP up, the other half of the baseline (so drift affects the "up" figures before and
//!    after the outage alike).
//!
//! Measured: booking latency per phase (the API must not wait for SMTP: p99 during the outage
//! within 20 % of p99 with SMTP up), notifications queued and waiting at recovery, the time until
//! the last one is sent (limit: backoff cap + 60 s), Message-IDs at the sink (every notification
//! exactly once, 0 duplicates), attempts per message against the backoff schedule (no try sooner
//! than the backoff allows, no wait beyond the cap), and the 550 message (dead after exactly one
//! attempt, never retried, listed for operators). Figures go to a JSON file in the format of
//! `quartier-chaos table` (`figures` as pairs, `violations`, `pass`) plus the details per backend;
//! the exit status is non-zero when an invariant fails.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use quartier_store::Store;
use serde_json::{Value, json};

use crate::notifications::{Backend, Db, call, count_where, notice_data, populate, start_app};
use crate::smtp::{PythonSink, repo_root};
use crate::stats::{self, Summary, count, ns};

/// Arguments of `quartier-bench outage`.
#[derive(clap::Args)]
pub struct OutageArgs {
    /// How long the SMTP server is down (port closed), seconds.
    #[arg(long, default_value_t = 60)]
    window_secs: u64,
    /// How long it then answers 451 4.3.0, seconds.
    #[arg(long, default_value_t = 20)]
    tempfail_secs: u64,
    /// Bookings during the outage (down + 451), spread evenly over it; the baseline runs at the
    /// same rate.
    #[arg(long, default_value_t = 1_000)]
    bookings: usize,
    /// Seconds of bookings with SMTP up: half before the outage, half after the recovery.
    #[arg(long, default_value_t = 60)]
    baseline_secs: u64,
    /// Customers the bookings come from (round robin; many, so that no customer's open requests
    /// pile up into the thousands and slow their next booking down as the run goes on).
    #[arg(long, default_value_t = 64)]
    customers: usize,
    /// The outbox worker's first retry wait, milliseconds.
    #[arg(long, default_value_t = 1_000)]
    backoff_base_ms: u64,
    /// The outbox worker's longest retry wait, milliseconds.
    #[arg(long, default_value_t = 15_000)]
    backoff_cap_ms: u64,
    /// Backends to run: sqlite, postgres (postgres needs --pg-url).
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    backends: Vec<String>,
    /// PostgreSQL server to create throwaway databases on.
    #[arg(long, env = "QUARTIER_BENCH_PG_URL", hide_env_values = true)]
    pg_url: Option<String>,
    /// Python with aiosmtpd for scripts/smtp_sink.py (default: the test suite's .venv).
    #[arg(long)]
    python: Option<PathBuf>,
    /// Heading of the figures (e.g. in `make soak`'s table).
    #[arg(long)]
    label: Option<String>,
    /// Where to write the figures as JSON.
    #[arg(long, default_value = "target/bench/smtp-outage.json")]
    json: String,
}

const GOAL_P99_RATIO: f64 = 1.20;
/// Slack on top of the backoff cap for the last notification after recovery.
const DRAIN_SLACK: Duration = Duration::from_secs(60);
const WARM_UP: usize = 50;
/// Bookings per helper at most: one every 2 hours for 25 days, inside the matcher's horizon.
const SLOTS_PER_HELPER: usize = 300;

/// Runs the scenario on every backend asked for.
pub fn outage(args: &OutageArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let pass = rt.block_on(run(args))?;
    drop(rt);
    if !pass {
        // The figures say which invariant failed; an error here would only add a backtrace.
        eprintln!("R5 SMTP outage: an invariant failed (see above)");
        std::process::exit(1);
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    WarmUp,
    UpBefore,
    Down,
    TempFail,
    UpAfter,
}

impl Phase {
    fn label(self) -> &'static str {
        match self {
            Phase::WarmUp => "warm-up",
            Phase::UpBefore => "SMTP up (before)",
            Phase::Down => "SMTP down (port closed)",
            Phase::TempFail => "SMTP 451 4.3.0",
            Phase::UpAfter => "SMTP up (after)",
        }
    }
}

/// Bookings of one phase.
#[derive(Default)]
struct Bookings {
    latencies: Vec<u64>,
    failed: usize,
    first_failure: Option<String>,
}

/// Everything measured on one backend.
struct Run {
    backend: Backend,
    helpers: usize,
    rate: f64,
    phases: Vec<(Phase, Summary, usize, f64)>,
    failed: usize,
    first_failure: Option<String>,
    up: Summary,
    outage: Summary,
    down: Summary,
    tempfail: Summary,
    /// Notifications queued while the sink was down or answering 451.
    queued_in_outage: i64,
    /// Not sent when the sink came back.
    waiting_at_recovery: i64,
    /// Of those, with a 451 as their last error at recovery.
    last_error_451: i64,
    /// Arrived at the sink while it was down or answering 451 (must be 0).
    arrived_in_outage: u64,
    /// Notifications at the end (all phases, without the 550 one).
    notifications: usize,
    sent: usize,
    delivered_ids: usize,
    missing: usize,
    duplicates: usize,
    strangers: usize,
    /// Recovery to the last `sent_at` of a notification queued before it.
    drain: Option<Duration>,
    drain_limit: Duration,
    attempts: (i64, i64, i64),
    too_soon: usize,
    first_too_soon: Option<String>,
    longest_wait_ms: i64,
    bounce: Bounce,
}

#[derive(Default)]
struct Bounce {
    state: String,
    attempts: i64,
    state_later: String,
    attempts_later: i64,
    waited: Duration,
    last_error: String,
    arrived: u32,
    listed_for_operators: bool,
}

async fn run(args: &OutageArgs) -> anyhow::Result<bool> {
    let started = Instant::now();
    let mut backends = Vec::new();
    for b in &args.backends {
        match b.trim().to_lowercase().as_str() {
            "sqlite" => backends.push(Backend::Sqlite),
            "postgres" | "postgresql" => {
                if args.pg_url.is_some() {
                    backends.push(Backend::Postgres);
                } else {
                    println!("  PostgreSQL: skipped (QUARTIER_BENCH_PG_URL is not set; run scripts/smtp-outage.sh)");
                }
            }
            other => bail!("unknown backend {other:?} (sqlite, postgres)"),
        }
    }
    anyhow::ensure!(args.window_secs > 0 && args.bookings > 0, "--window-secs and --bookings must be positive");
    anyhow::ensure!(args.backoff_cap_ms >= args.backoff_base_ms, "--backoff-cap-ms must be at least --backoff-base-ms");
    let python = args.python.clone().unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    anyhow::ensure!(
        python.exists(),
        "{} is missing: run through scripts/smtp-outage.sh (scripts/test-services.sh installs aiosmtpd there) or pass --python",
        python.display()
    );
    let label = args.label.clone().unwrap_or_else(|| format!("R5 SMTP outage ({})", secs_label(args.window_secs)));
    let load_start = stats::loadavg();
    println!("quartier-bench outage: {label}");
    println!(
        "  SMTP stub (scripts/smtp_sink.py): up, then down (port closed) {}, then 451 4.3.0 for {}, then up (550 for one recipient)",
        secs_label(args.window_secs),
        secs_label(args.tempfail_secs)
    );
    println!(
        "  {} bookings during the outage ({:.1}/s, open loop, {} customers); {} with SMTP up at the same rate; outbox backoff base {}, cap {}",
        count(args.bookings),
        rate(args),
        args.customers,
        secs_label(args.baseline_secs),
        ns(args.backoff_base_ms as f64 * 1e6),
        ns(args.backoff_cap_ms as f64 * 1e6)
    );
    println!("  load average at start: {load_start} (other work on this machine skews timings)");

    let mut runs = Vec::new();
    for &backend in &backends {
        println!();
        println!("== {} ==", backend.label());
        runs.push(run_backend(args, backend, &python).await?);
    }
    let total_s = started.elapsed().as_secs_f64();
    let load = (load_start, stats::loadavg());

    let mut figures: Vec<(String, String)> = Vec::new();
    let mut violations = Vec::new();
    let prefix = |b: Backend| if runs.len() > 1 { format!("{}: ", b.label()) } else { String::new() };
    for r in &runs {
        let p = prefix(r.backend);
        for (k, v) in run_figures(r, args) {
            figures.push((format!("{p}{k}"), v));
        }
        violations.extend(run_violations(r).into_iter().map(|v| format!("{}{v}", prefix(r.backend))));
    }
    if runs.is_empty() {
        violations.push("no backend ran".to_owned());
    }
    figures.push((
        "schedule".to_owned(),
        format!(
            "down {}, 451 {}, backoff base {} cap {}",
            secs_label(args.window_secs),
            secs_label(args.tempfail_secs),
            ns(args.backoff_base_ms as f64 * 1e6),
            ns(args.backoff_cap_ms as f64 * 1e6)
        ),
    ));
    figures.push(("time".to_owned(), format!("{total_s:.0} s")));
    figures.push(("result".to_owned(), if violations.is_empty() { "PASS".to_owned() } else { format!("FAIL: {}", violations.join("; ")) }));

    println!();
    println!("== {label} ==");
    print_table(&runs, args);
    println!();
    if violations.is_empty() {
        println!("  PASS: every invariant holds");
    } else {
        for v in &violations {
            println!("  FAIL: {v}");
        }
    }
    println!();
    println!("total runtime: {total_s:.0} s; load average at start {}, at end {}", load.0, load.1);

    let out = json!({
        "kind": "r5",
        "label": label,
        "figures": figures.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
        "violations": violations,
        "pass": violations.is_empty(),
        "settings": {
            "window_s": args.window_secs,
            "tempfail_s": args.tempfail_secs,
            "bookings_in_outage": args.bookings,
            "baseline_s": args.baseline_secs,
            "rate_per_s": stats::round2(rate(args)),
            "customers": args.customers,
            "backoff": {"base_ms": args.backoff_base_ms, "cap_ms": args.backoff_cap_ms},
            "drain_limit_s": (Duration::from_millis(args.backoff_cap_ms) + DRAIN_SLACK).as_secs(),
        },
        "runs": runs.iter().map(run_json).collect::<Vec<_>>(),
        "total_runtime_s": stats::round2(total_s),
        "loadavg": {"start": load.0, "end": load.1},
    });
    if let Some(dir) = std::path::Path::new(&args.json).parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&args.json, serde_json::to_string_pretty(&out)? + "\n").with_context(|| format!("writing {}", args.json))?;
    println!("figures written to {}", args.json);
    Ok(violations.is_empty())
}

fn rate(args: &OutageArgs) -> f64 {
    args.bookings as f64 / (args.window_secs + args.tempfail_secs).max(1) as f64
}

fn secs_label(s: u64) -> String {
    if s >= 60 && s.is_multiple_of(60) { format!("{} min", s / 60) } else { format!("{s} s") }
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Paced bookings: the k-th of a phase at `k / rate` seconds after its start.
struct Booker {
    client: reqwest::Client,
    base: String,
    customers: Vec<String>,
    helpers: Vec<String>,
    first: jiff::Timestamp,
    next: AtomicUsize,
    results: Mutex<HashMap<&'static str, Bookings>>,
}

impl Booker {
    /// The k-th booking's helper and start: helper k % n, 2 hours after that helper's previous one
    /// (a 45-minute visit and 15-minute buffers block 75 minutes).
    fn slot(&self, k: usize) -> (String, String) {
        let n = self.helpers.len();
        let start = self.first + jiff::SignedDuration::from_hours(2 * (k / n) as i64);
        (self.helpers[k % n].clone(), start.to_string())
    }

    async fn book(self: Arc<Self>, phase: Phase) {
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        let (helper, start) = self.slot(k);
        let token = &self.customers[k % self.customers.len()];
        let body = json!({"service": "guest-wifi", "address": "Langstrasse 21, 8004 Zürich", "start": start, "helper_id": helper});
        let t = Instant::now();
        let outcome = call(&self.client, reqwest::Method::POST, format!("{}/v1/bookings", self.base), Some(token), body).await;
        let took = t.elapsed().as_nanos() as u64;
        let mut results = self.results.lock().unwrap_or_else(PoisonError::into_inner);
        let b = results.entry(phase.label()).or_default();
        match outcome {
            Ok((201, _)) => b.latencies.push(took),
            Ok((s, body)) => {
                b.failed += 1;
                b.first_failure.get_or_insert_with(|| format!("{s} {body}"));
            }
            Err(e) => {
                b.failed += 1;
                b.first_failure.get_or_insert_with(|| e.to_string());
            }
        }
    }

    fn take(&self, phase: Phase) -> Bookings {
        self.results.lock().unwrap_or_else(PoisonError::into_inner).remove(phase.label()).unwrap_or_default()
    }

    fn done(&self, phase: Phase) -> (usize, usize) {
        self.results.lock().unwrap_or_else(PoisonError::into_inner).get(phase.label()).map_or((0, 0), |b| (b.latencies.len(), b.failed))
    }

    /// Books at `rate` per second for `secs` (open loop), printing progress, and waits for the
    /// last answers.
    async fn phase(self: &Arc<Self>, phase: Phase, secs: f64, rate: f64, watch: &Watch) -> Bookings {
        let n = (secs * rate).round() as usize;
        let t0 = Instant::now();
        let every = progress_every(secs);
        let mut next_progress = every;
        let mut tasks = Vec::with_capacity(n);
        println!("  {} for {secs:.0} s: {} bookings", phase.label(), count(n));
        for k in 0..n {
            let at = t0 + Duration::from_secs_f64(k as f64 / rate);
            loop {
                let now = Instant::now();
                if now >= at {
                    break;
                }
                let until_progress = (t0 + next_progress).saturating_duration_since(now);
                if until_progress.is_zero() {
                    self.progress(phase, t0, watch).await;
                    next_progress += every;
                    continue;
                }
                tokio::time::sleep(until_progress.min(at - now)).await;
            }
            tasks.push(tokio::spawn(self.clone().book(phase)));
        }
        let end = t0 + Duration::from_secs_f64(secs);
        while Instant::now() < end {
            let now = Instant::now();
            let until_progress = (t0 + next_progress).saturating_duration_since(now);
            if until_progress.is_zero() {
                self.progress(phase, t0, watch).await;
                next_progress += every;
                continue;
            }
            tokio::time::sleep(until_progress.min(end - now)).await;
        }
        for t in tasks {
            let _ = t.await;
        }
        let b = self.take(phase);
        let s = Summary::of(b.latencies.clone());
        println!(
            "  {}: {} bookings in {:.1} s, {} failed; p50 {}  p99 {}  max {}",
            phase.label(),
            count(b.latencies.len()),
            t0.elapsed().as_secs_f64(),
            b.failed,
            ns(s.p50),
            ns(s.p99),
            ns(s.max)
        );
        b
    }

    async fn progress(&self, phase: Phase, t0: Instant, watch: &Watch) {
        let (ok, failed) = self.done(phase);
        let states = watch.states().await;
        println!(
            "    [{:>4.0} s] {} bookings answered ({failed} failed); outbox {}; sink received {}",
            t0.elapsed().as_secs_f64(),
            count(ok + failed),
            states,
            count(watch.sink_count() as usize)
        );
    }
}

fn progress_every(secs: f64) -> Duration {
    Duration::from_secs_f64((secs / 6.0).clamp(5.0, 30.0))
}

/// What progress lines and the backoff check look at.
struct Watch {
    store: Store,
    sink: Arc<PythonSink>,
    /// Longest wait until the next try of a failed message, seen by sampling.
    longest_wait_ms: Arc<AtomicI64>,
    stop: Arc<AtomicBool>,
}

impl Watch {
    async fn states(&self) -> String {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetch_all(self.store.pool()).await.unwrap_or_default();
        let get = |s: &str| rows.iter().find(|r| r.0 == s).map_or(0, |r| r.1);
        format!("pending {}, sending {}, sent {}, dead {}", get("pending"), get("sending"), get("sent"), get("dead"))
    }

    fn sink_count(&self) -> u64 {
        self.sink.count()
    }

    /// Samples every 500 ms how far ahead failed messages are scheduled, until stopped.
    fn sample_waits(&self) -> tokio::task::JoinHandle<()> {
        let (store, longest, stop) = (self.store.clone(), self.longest_wait_ms.clone(), self.stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let now = now_ms();
                let max: Option<(Option<i64>,)> =
                    sqlx::query_as("SELECT MAX(next_attempt_at) FROM outbox WHERE state = 'pending' AND last_error IS NOT NULL")
                        .fetch_optional(store.pool())
                        .await
                        .ok()
                        .flatten();
                if let Some((Some(at),)) = max {
                    longest.fetch_max(at - now, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    }
}

async fn run_backend(args: &OutageArgs, backend: Backend, python: &std::path::Path) -> anyhow::Result<Run> {
    let rate = rate(args);
    let db = Db::create(backend, args.pg_url.as_deref()).await?;
    let sink = Arc::new(PythonSink::start_with_control(python, &repo_root().join("scripts/smtp_sink.py")).await?);
    let mut settings = db.settings(&sink.url());
    settings.outbox_backoff_base_ms = args.backoff_base_ms;
    settings.outbox_backoff_cap_ms = args.backoff_cap_ms;
    let cap = Duration::from_millis(args.backoff_cap_ms);
    let app = start_app(settings).await?;
    let client = reqwest::Client::new();
    let base = app.base.clone();

    let total_bookings = WARM_UP + args.bookings + (args.baseline_secs as f64 * rate).round() as usize + 2;
    let n_helpers = total_bookings.div_ceil(SLOTS_PER_HELPER).max(32);
    print!("  setting up {n_helpers} approved helpers and {} customers...", args.customers);
    let (operator, helpers, customers) = populate(&client, &base, &app.store, n_helpers, args.customers.max(1)).await?;
    println!(" done");
    let day0 = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().checked_add(jiff::Span::new().days(2))?;
    let booker = Arc::new(Booker {
        client: client.clone(),
        base: base.clone(),
        customers,
        helpers,
        first: day0.to_zoned(jiff::tz::TimeZone::UTC)?.timestamp(),
        next: AtomicUsize::new(0),
        results: Mutex::new(HashMap::new()),
    });
    let watch = Watch {
        store: app.store.clone(),
        sink: sink.clone(),
        longest_wait_ms: Arc::new(AtomicI64::new(0)),
        stop: Arc::new(AtomicBool::new(false)),
    };

    // Warm-up and the first half of the baseline, SMTP up.
    let warm_rate = rate.max(10.0);
    let warm = booker.phase(Phase::WarmUp, WARM_UP as f64 / warm_rate, warm_rate, &watch).await;
    let half = args.baseline_secs as f64 / 2.0;
    let up_before = booker.phase(Phase::UpBefore, half, rate, &watch).await;
    // The outage starts from an empty queue.
    wait_until(&app.store, Duration::from_secs(60), |c| c.pending + c.sending == 0).await?;

    // Down: the port is closed.
    sink.set_mode("down").await?;
    let outage_start = now_ms();
    let at_outage_start = sink.count();
    println!("  -- SMTP stub down (port closed) at {} --", jiff::Timestamp::now().strftime("%H:%M:%S"));
    let sampler = watch.sample_waits();
    let down = booker.phase(Phase::Down, args.window_secs as f64, rate, &watch).await;

    // 451 4.3.0 to every RCPT and DATA.
    sink.set_mode("tempfail").await?;
    println!("  -- SMTP stub answers 451 4.3.0 --");
    let tempfail = booker.phase(Phase::TempFail, args.tempfail_secs as f64, rate, &watch).await;

    // Recovery: everything is accepted again except the 550 recipient.
    let bounce_to = format!("bounce-{}@example.ch", uuid::Uuid::new_v4().simple());
    sink.set_mode(&format!("permfail:{bounce_to}")).await?;
    let recovery = now_ms();
    let recovered = Instant::now();
    let arrived_in_outage = sink.count().saturating_sub(at_outage_start);
    let (queued_in_outage,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE created_at >= $1").bind(outage_start).fetch_one(app.store.pool()).await?;
    let (waiting_at_recovery,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE state <> 'sent'").fetch_one(app.store.pool()).await?;
    let (last_error_451,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE state <> 'sent' AND last_error LIKE '%451%'").fetch_one(app.store.pool()).await?;
    println!(
        "  -- SMTP stub up again (550 for {bounce_to}): {} notifications waiting ({} last saw a 451), {} arrived during the outage --",
        count(waiting_at_recovery as usize),
        count(last_error_451 as usize),
        arrived_in_outage
    );
    let bounce_id = uuid::Uuid::now_v7().to_string();
    {
        let now = now_ms();
        let mut tx = app.store.begin().await?;
        quartier_store::outbox::insert(
            &mut tx,
            &quartier_store::outbox::OutboxRow {
                id: bounce_id.clone(),
                channel: "email".into(),
                template: "booking_requested".into(),
                recipient_id: None,
                recipient_email: bounce_to.clone(),
                recipient_name: "Bruno Bounce".into(),
                locale: "en".into(),
                payload: notice_data(0).to_string(),
                state: "pending".into(),
                attempts: 0,
                next_attempt_at: now,
                last_error: None,
                created_at: now,
            },
        )
        .await?;
        tx.commit().await?;
    }

    // Drain: every notification queued before the recovery is sent.
    let drain_limit = cap + DRAIN_SLACK;
    print!("  draining (limit: backoff cap {} + 60 s):", ns(cap.as_nanos() as f64));
    let mut progress = stats::Progress::new(waiting_at_recovery.max(0) as usize);
    let give_up = drain_limit + Duration::from_secs(60);
    let drained = loop {
        let (left,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE state <> 'sent' AND id <> $1 AND created_at < $2")
            .bind(&bounce_id)
            .bind(recovery)
            .fetch_one(app.store.pool())
            .await?;
        progress.at((waiting_at_recovery - left).max(0) as usize);
        if left == 0 {
            break true;
        }
        if recovered.elapsed() > give_up {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    watch.stop.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    let (last_sent,): (Option<i64>,) = sqlx::query_as("SELECT MAX(sent_at) FROM outbox WHERE created_at < $1 AND id <> $2")
        .bind(recovery)
        .bind(&bounce_id)
        .fetch_one(app.store.pool())
        .await?;
    let drain = drained.then(|| Duration::from_millis(last_sent.unwrap_or(recovery).saturating_sub(recovery).max(0) as u64));
    println!(
        "  {}",
        drain.map_or(format!("NOT drained within {} s", give_up.as_secs()), |d| format!(
            "last notification sent {:.1} s after recovery",
            d.as_secs_f64()
        ))
    );

    // The 550 message: dead after one try; still so several backoff periods later.
    let mut bounce = bounce_check(&app.store, &client, &base, &operator, &bounce_id, Duration::from_millis(args.backoff_base_ms)).await?;
    println!(
        "  550 recipient: {} after {} attempt(s); {} after {} attempt(s) {:.0} s later; {} at the sink; {}listed in GET /v1/ops/outbox?state=dead",
        bounce.state,
        bounce.attempts,
        bounce.state_later,
        bounce.attempts_later,
        bounce.waited.as_secs_f64(),
        bounce.arrived,
        if bounce.listed_for_operators { "" } else { "NOT " }
    );

    // The second half of the baseline, SMTP up.
    let up_after = booker.phase(Phase::UpAfter, half, rate, &watch).await;
    wait_until(&app.store, Duration::from_secs(60), |c| c.pending + c.sending == 0).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Every notification exactly once at the sink, by Message-ID (<outbox id@domain>).
    let ids_at_sink = sink.message_ids();
    let by_id: HashMap<String, u32> = ids_at_sink
        .iter()
        .map(|(k, &v)| (k.trim().trim_start_matches('<').split('@').next().unwrap_or_default().to_owned(), v))
        .fold(HashMap::new(), |mut m, (k, v)| {
            *m.entry(k).or_insert(0) += v;
            m
        });
    let rows: Vec<(String, String, i64, i64, Option<i64>)> =
        sqlx::query_as("SELECT id, state, attempts, created_at, sent_at FROM outbox WHERE id <> $1")
            .bind(&bounce_id)
            .fetch_all(app.store.pool())
            .await?;
    let notifications = rows.len();
    let sent = rows.iter().filter(|r| r.1 == "sent").count();
    let known: HashSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let missing = rows.iter().filter(|r| !by_id.contains_key(&r.0)).count();
    let delivered_ids = rows.iter().filter(|r| by_id.contains_key(&r.0)).count();
    let duplicates: usize = by_id.values().map(|&n| n.saturating_sub(1) as usize).sum();
    bounce.arrived = by_id.get(&bounce_id).copied().unwrap_or(0);
    let strangers = by_id.keys().filter(|k| **k != bounce_id && !known.contains(k.as_str())).count();

    // Attempts against the schedule: n tries need at least the n - 1 shortest waits in between.
    let backoff = quartier_server::worker::Backoff { base: Duration::from_millis(args.backoff_base_ms), cap };
    let mut attempts: Vec<i64> = Vec::new();
    let (mut too_soon, mut first_too_soon) = (0, None);
    for (id, state, n, created, sent_at) in &rows {
        if *created >= outage_start && *created < recovery {
            attempts.push(*n);
        }
        if state != "sent" {
            continue;
        }
        let span = sent_at.unwrap_or(*created) - created;
        let least: i64 = (1..*n).map(|k| backoff.delay_with(k, 1.0).as_millis() as i64).sum();
        if least > span + 5 {
            too_soon += 1;
            first_too_soon.get_or_insert_with(|| format!("{id}: {n} tries within {span} ms (the backoff needs {least} ms)"));
        }
    }
    attempts.sort_unstable();
    let attempts_fig = (
        attempts.first().copied().unwrap_or(0),
        attempts.get(attempts.len() / 2).copied().unwrap_or(0),
        attempts.last().copied().unwrap_or(0),
    );

    let n_helpers = booker.helpers.len();
    let longest_wait_ms = watch.longest_wait_ms.load(Ordering::Relaxed);
    drop((booker, watch));
    app.stop().await;
    db.drop_db().await;
    if let Ok(sink) = Arc::try_unwrap(sink) {
        sink.stop().await;
    }

    let all = [&warm, &up_before, &down, &tempfail, &up_after];
    let failed = all.iter().map(|b| b.failed).sum();
    let first_failure = all.iter().find_map(|b| b.first_failure.clone());
    let phases = [
        (Phase::WarmUp, &warm, WARM_UP as f64 / warm_rate),
        (Phase::UpBefore, &up_before, half),
        (Phase::Down, &down, args.window_secs as f64),
        (Phase::TempFail, &tempfail, args.tempfail_secs as f64),
        (Phase::UpAfter, &up_after, half),
    ]
    .iter()
    .map(|(p, b, secs)| (*p, Summary::of(b.latencies.clone()), b.failed, *secs))
    .collect();
    let cat = |bs: &[&Bookings]| Summary::of(bs.iter().flat_map(|b| b.latencies.iter().copied()).collect());
    Ok(Run {
        backend,
        helpers: n_helpers,
        rate,
        phases,
        failed,
        first_failure,
        up: cat(&[&up_before, &up_after]),
        outage: cat(&[&down, &tempfail]),
        down: cat(&[&down]),
        tempfail: cat(&[&tempfail]),
        queued_in_outage,
        waiting_at_recovery,
        last_error_451,
        arrived_in_outage,
        notifications,
        sent,
        delivered_ids,
        missing,
        duplicates,
        strangers,
        drain,
        drain_limit,
        attempts: attempts_fig,
        too_soon,
        first_too_soon,
        longest_wait_ms,
        bounce,
    })
}

#[derive(Clone, Copy)]
struct Counts {
    pending: i64,
    sending: i64,
}

async fn wait_until(store: &Store, limit: Duration, done: impl Fn(Counts) -> bool) -> anyhow::Result<()> {
    let t = Instant::now();
    loop {
        let c = Counts { pending: count_where(store, "pending").await?, sending: count_where(store, "sending").await? };
        if done(c) {
            return Ok(());
        }
        if t.elapsed() > limit {
            bail!("the outbox did not empty within {limit:?} ({} pending, {} sending)", c.pending, c.sending);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn bounce_check(
    store: &Store,
    client: &reqwest::Client,
    base: &str,
    operator: &str,
    id: &str,
    backoff_base: Duration,
) -> anyhow::Result<Bounce> {
    let row = |store: Store, id: String| async move {
        sqlx::query_as::<_, (String, i64, Option<String>)>("SELECT state, attempts, last_error FROM outbox WHERE id = $1")
            .bind(id)
            .fetch_one(store.pool())
            .await
    };
    let t = Instant::now();
    let (state, attempts, last_error) = loop {
        let r = row(store.clone(), id.to_owned()).await?;
        if r.0 == "dead" || r.0 == "sent" || t.elapsed() > Duration::from_secs(30) {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Long enough for several retries, had it been retried: four backoff bases and two polls.
    let wait = (backoff_base * 4 + Duration::from_secs(2)).max(Duration::from_secs(5));
    tokio::time::sleep(wait).await;
    let (state_later, attempts_later, _) = row(store.clone(), id.to_owned()).await?;
    let r = client.get(format!("{base}/v1/ops/outbox?state=dead")).bearer_auth(operator).send().await?;
    let listed: Value = r.json().await.unwrap_or(Value::Null);
    let listed_for_operators = listed["items"].as_array().is_some_and(|items| items.iter().any(|i| i["id"] == id));
    Ok(Bounce {
        state,
        attempts,
        state_later,
        attempts_later,
        waited: wait,
        last_error: last_error.unwrap_or_default(),
        arrived: 0,
        listed_for_operators,
    })
}

fn pct(a: usize, b: usize) -> String {
    if b == 0 { "-".to_owned() } else { format!("{:.1} %", a as f64 * 100.0 / b as f64) }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

fn run_figures(r: &Run, args: &OutageArgs) -> Vec<(String, String)> {
    let (d, t) = (r.phases.iter().find(|p| p.0 == Phase::Down), r.phases.iter().find(|p| p.0 == Phase::TempFail));
    let outage_failed = d.map_or(0, |p| p.2) + t.map_or(0, |p| p.2);
    vec![
        (
            "bookings during the outage".to_owned(),
            format!(
                "{} ({} port closed, {} at 451; {:.1}/s), {} failed",
                count(r.outage.n),
                count(r.down.n),
                count(r.tempfail.n),
                r.rate,
                outage_failed
            ),
        ),
        (
            "booking p99 SMTP up / outage".to_owned(),
            format!("{} / {} = {:.2}x (limit {GOAL_P99_RATIO:.2}x)", ns(r.up.p99), ns(r.outage.p99), ratio(r.outage.p99, r.up.p99)),
        ),
        ("booking p99 port closed / 451".to_owned(), format!("{} / {}", ns(r.down.p99), ns(r.tempfail.p99))),
        ("booking p50 SMTP up / outage".to_owned(), format!("{} / {}", ns(r.up.p50), ns(r.outage.p50))),
        (
            "notifications queued in the outage".to_owned(),
            format!(
                "{} ({} waiting at recovery, {} with a 451; {} arrived during the outage)",
                count(r.queued_in_outage as usize),
                count(r.waiting_at_recovery as usize),
                count(r.last_error_451 as usize),
                r.arrived_in_outage
            ),
        ),
        (
            "notifications delivered".to_owned(),
            format!(
                "{} of {} ({}), {} missing",
                count(r.delivered_ids),
                count(r.notifications),
                pct(r.delivered_ids, r.notifications),
                r.missing
            ),
        ),
        ("duplicates (Message-IDs at the sink)".to_owned(), format!("{} ({} unknown ids)", r.duplicates, r.strangers)),
        (
            "time to drain after recovery".to_owned(),
            format!(
                "{} (limit cap {} + 60 s = {} s)",
                r.drain.map_or("not drained".to_owned(), |d| format!("{:.1} s", d.as_secs_f64())),
                ns(args.backoff_cap_ms as f64 * 1e6),
                r.drain_limit.as_secs()
            ),
        ),
        (
            "attempts per queued message".to_owned(),
            format!(
                "min {} median {} max {}; {} sooner than the backoff; longest wait {} (cap {})",
                r.attempts.0,
                r.attempts.1,
                r.attempts.2,
                r.too_soon,
                ns(r.longest_wait_ms as f64 * 1e6),
                ns(args.backoff_cap_ms as f64 * 1e6)
            ),
        ),
        (
            "550 recipient".to_owned(),
            format!(
                "{} after {} attempt(s); {} after {} {:.0} s later; {}listed for operators",
                r.bounce.state,
                r.bounce.attempts,
                r.bounce.state_later,
                r.bounce.attempts_later,
                r.bounce.waited.as_secs_f64(),
                if r.bounce.listed_for_operators { "" } else { "NOT " }
            ),
        ),
    ]
}

fn run_violations(r: &Run) -> Vec<String> {
    let mut v = Vec::new();
    if r.failed > 0 {
        v.push(format!("{} bookings failed: {}", r.failed, r.first_failure.clone().unwrap_or_default()));
    }
    if r.outage.n == 0 || r.up.n == 0 {
        v.push("no bookings measured".to_owned());
    }
    let q = ratio(r.outage.p99, r.up.p99);
    if q > GOAL_P99_RATIO {
        v.push(format!("booking p99 during the outage {} is {q:.2}x the p99 with SMTP up {}", ns(r.outage.p99), ns(r.up.p99)));
    }
    if r.waiting_at_recovery == 0 || r.queued_in_outage == 0 {
        v.push("nothing waited for the SMTP server: was it down?".to_owned());
    }
    if r.arrived_in_outage > 0 {
        v.push(format!("{} messages arrived while the SMTP server was down or answering 451", r.arrived_in_outage));
    }
    if r.sent != r.notifications || r.missing > 0 || r.delivered_ids != r.notifications {
        v.push(format!(
            "{} of {} notifications sent, {} delivered, {} missing at the sink",
            r.sent, r.notifications, r.delivered_ids, r.missing
        ));
    }
    if r.duplicates > 0 || r.strangers > 0 {
        v.push(format!("{} duplicates, {} unknown Message-IDs at the sink", r.duplicates, r.strangers));
    }
    match r.drain {
        None => v.push("the backlog did not drain".to_owned()),
        Some(d) if d > r.drain_limit => {
            v.push(format!("the backlog drained in {:.1} s, beyond cap + 60 s = {} s", d.as_secs_f64(), r.drain_limit.as_secs()));
        }
        Some(_) => {}
    }
    if r.too_soon > 0 {
        v.push(format!(
            "{} messages were tried sooner than the backoff allows: {}",
            r.too_soon,
            r.first_too_soon.clone().unwrap_or_default()
        ));
    }
    if r.longest_wait_ms > r.drain_limit.saturating_sub(DRAIN_SLACK).as_millis() as i64 {
        v.push(format!("a retry was scheduled {} ms ahead, beyond the cap", r.longest_wait_ms));
    }
    let b = &r.bounce;
    if (b.state.as_str(), b.attempts, b.state_later.as_str(), b.attempts_later) != ("dead", 1, "dead", 1) {
        v.push(format!(
            "the 550 message is {} after {} attempt(s), {} after {} later (want dead after exactly 1): {}",
            b.state, b.attempts, b.state_later, b.attempts_later, b.last_error
        ));
    } else if !b.last_error.contains("550") {
        v.push(format!("the 550 message's error does not say 550: {}", b.last_error));
    }
    if b.arrived > 0 {
        v.push(format!("the 550 message arrived {} time(s)", b.arrived));
    }
    if !b.listed_for_operators {
        v.push("the 550 message is not in GET /v1/ops/outbox?state=dead".to_owned());
    }
    v
}

fn print_table(runs: &[Run], args: &OutageArgs) {
    // One block per backend (the values are long): name, value.
    for r in runs {
        let figures = run_figures(r, args);
        let name_w = figures.iter().map(|f| f.0.chars().count()).max().unwrap_or(0);
        println!("  {}", r.backend.label());
        for (k, v) in &figures {
            println!("    {k:<name_w$}  {v}");
        }
    }
    let mut bars = Vec::new();
    for r in runs {
        for (p, s, _, _) in r.phases.iter().filter(|p| p.0 != Phase::WarmUp) {
            bars.push((format!("{} {} p99", r.backend.label(), p.label()), s.p99));
        }
    }
    if !bars.is_empty() {
        println!();
        print!("{}", stats::log_bars("POST /v1/bookings p99 per phase (log scale):", &bars));
    }
}

fn run_json(r: &Run) -> Value {
    json!({
        "backend": r.backend.label(),
        "helpers": r.helpers,
        "rate_per_s": stats::round2(r.rate),
        "phases": r.phases.iter().map(|(p, s, failed, secs)| json!({
            "phase": p.label(), "seconds": secs, "latency_us": s.json_us(), "failed": failed,
        })).collect::<Vec<_>>(),
        "failed_bookings": r.failed,
        "first_failure": r.first_failure,
        "latency_smtp_up_us": r.up.json_us(),
        "latency_outage_us": r.outage.json_us(),
        "p99_ratio_outage_over_up": stats::round2(ratio(r.outage.p99, r.up.p99)),
        "queued_in_outage": r.queued_in_outage,
        "waiting_at_recovery": r.waiting_at_recovery,
        "waiting_with_451": r.last_error_451,
        "arrived_during_outage": r.arrived_in_outage,
        "notifications": r.notifications,
        "sent": r.sent,
        "delivered_message_ids": r.delivered_ids,
        "missing": r.missing,
        "duplicates": r.duplicates,
        "unknown_message_ids": r.strangers,
        "drain_after_recovery_s": r.drain.map(|d| stats::round2(d.as_secs_f64())),
        "drain_limit_s": r.drain_limit.as_secs(),
        "attempts": {"min": r.attempts.0, "median": r.attempts.1, "max": r.attempts.2, "sooner_than_backoff": r.too_soon},
        "longest_retry_wait_ms": r.longest_wait_ms,
        "bounce_550": {
            "state": r.bounce.state, "attempts": r.bounce.attempts,
            "state_later": r.bounce.state_later, "attempts_later": r.bounce.attempts_later,
            "checked_after_s": r.bounce.waited.as_secs(), "arrived": r.bounce.arrived,
            "listed_for_operators": r.bounce.listed_for_operators, "last_error": r.bounce.last_error,
        },
    })
}
