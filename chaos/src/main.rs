//! `quartier-chaos`: fault injection against a real `quartier serve` child process (reliability
//! battery R3 and R4; see `scripts/test.sh` for the short tier and `make soak` for the long one).
//!
//! - `quartier-chaos r3`: N booking attempts with unique idempotency keys at 16-way concurrency
//!   while a seeded nemesis SIGKILLs the server at random 0.2-2 s intervals and restarts it; the
//!   client retries unanswered attempts with the same key. Then an SQL auditor: no acknowledged
//!   booking lost, no duplicate per key or per slot, no overlap, the ledger balances, every booking
//!   has its outbox rows.
//! - `quartier-chaos r4`: PostgreSQL restarted (`pg_ctl restart -m immediate`) during mixed
//!   reads and writes: every answer meanwhile is 503 with `Retry-After` (never a 500, never a hang
//!   past the request timeout), the first request succeeds within 5 s of the database accepting
//!   connections again, the server is never restarted, and the auditor finds nothing.
//! - `quartier-chaos table`: one table of the figures of several runs.
//!
//! It builds nothing: it runs the `quartier` binary it is given (default `target/debug/quartier`).

mod audit;
mod load;
mod pg;
mod report;
mod server;
mod world;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand, ValueEnum};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

use crate::load::{Journal, LoadSpec, Shared};
use crate::report::{Report, ms, percentile};
use crate::server::{Server, ServerSpec};

#[derive(Parser)]
#[command(name = "quartier-chaos", about = "Kill -9 and database restarts under load, with an SQL audit afterwards")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// R3: kill -9 of the server under booking load.
    R3(R3Args),
    /// R4: PostgreSQL restarted under mixed load.
    R4(R4Args),
    /// One table of the figures of several runs (their JSON files).
    Table {
        /// Run files written by r3/r4 (`--json`).
        files: Vec<String>,
        /// Another script's figures: `TITLE=FILE` (a JSON object); shown as "not run" when missing.
        #[arg(long)]
        extra: Vec<String>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BackendArg {
    Sqlite,
    Postgres,
}

impl BackendArg {
    fn label(self) -> &'static str {
        match self {
            BackendArg::Sqlite => "SQLite",
            BackendArg::Postgres => "PostgreSQL",
        }
    }
}

#[derive(clap::Args, Clone)]
struct Common {
    /// The server binary (built beforehand: `cargo build -p quartier-server`).
    #[arg(long, default_value = "target/debug/quartier")]
    bin: PathBuf,
    /// Parallel clients.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seed of the plan of attempts and of the nemesis.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Tries per idempotency key before the client gives up.
    #[arg(long, default_value_t = 20)]
    max_tries: u32,
    /// Approved helpers in the world.
    #[arg(long, default_value_t = 32)]
    helpers: usize,
    /// Customers in the world.
    #[arg(long, default_value_t = 48)]
    customers: usize,
    /// PostgreSQL server to create the run's database on (the throwaway cluster).
    #[arg(long, env = "QUARTIER_TEST_PG_URL", hide_env_values = true)]
    pg_url: Option<String>,
    /// Working directory of the run (data dir, journal, server log); default target/chaos/<run>.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Where to write the figures as JSON; default target/chaos/<run>.json.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(clap::Args)]
struct R3Args {
    #[command(flatten)]
    common: Common,
    /// sqlite or postgres.
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: BackendArg,
    /// Booking attempts (unique idempotency keys).
    #[arg(long, default_value_t = 2_000)]
    attempts: usize,
    /// Shortest time the server lives between kills, seconds.
    #[arg(long, default_value_t = 0.2)]
    kill_min: f64,
    /// Longest time the server lives between kills, seconds.
    #[arg(long, default_value_t = 2.0)]
    kill_max: f64,
}

#[derive(clap::Args)]
struct R4Args {
    #[command(flatten)]
    common: Common,
    /// PostgreSQL restarts.
    #[arg(long, default_value_t = 2)]
    restarts: usize,
    /// Load before the first restart, between restarts (after recovery) and after the last, seconds.
    #[arg(long, default_value_t = 6.0)]
    settle: f64,
    /// Share of reads in the load.
    #[arg(long, default_value_t = 0.5)]
    read_share: f64,
    /// The server's request timeout, ms (an answer slower than this plus 1 s is a hang).
    #[arg(long, default_value_t = 5_000)]
    request_timeout_ms: u64,
    /// Longest allowed time from the database accepting connections to the first success, seconds.
    #[arg(long, default_value_t = 5.0)]
    recovery_goal: f64,
}

fn main() {
    let cli = Cli::parse();
    let result = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(anyhow::Error::from).and_then(|rt| {
        rt.block_on(async {
            match cli.cmd {
                Cmd::R3(args) => r3(args).await,
                Cmd::R4(args) => r4(args).await,
                Cmd::Table { files, extra } => report::table(&files, &extra),
            }
        })
    });
    match result {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("quartier-chaos: error: {e:#}");
            std::process::exit(2);
        }
    }
}

/// The run's directory, database and server.
struct Setup {
    dir: PathBuf,
    json: PathBuf,
    db_url: String,
    pg_db: Option<(String, String)>,
    server: Server,
}

async fn setup(common: &Common, backend: BackendArg, run: &str) -> anyhow::Result<Setup> {
    let bin = std::fs::canonicalize(&common.bin)
        .with_context(|| format!("{} not found: build it first (cargo build -p quartier-server)", common.bin.display()))?;
    let dir = common.dir.clone().unwrap_or_else(|| PathBuf::from("target/chaos").join(run));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir)?;
    let dir = std::fs::canonicalize(&dir)?;
    let json = common.json.clone().unwrap_or_else(|| PathBuf::from("target/chaos").join(format!("{run}.json")));
    let (database_url, pg_db) = match backend {
        BackendArg::Sqlite => (None, None),
        BackendArg::Postgres => {
            let admin = common.pg_url.clone().context("PostgreSQL needs QUARTIER_TEST_PG_URL (run under scripts/test-services.sh)")?;
            let name = format!("chaos_{}_{}", run.replace('-', "_"), std::process::id());
            let url = pg::create_database(&admin, &name).await?;
            (Some(url), Some((admin, name)))
        }
    };
    let db_url = database_url.clone().unwrap_or_else(|| format!("sqlite://{}", dir.join("data/quartier.db").display()));
    let server = Server::new(ServerSpec { bin, dir: dir.clone(), database_url, port: server::free_port()? }).await?;
    Ok(Setup { dir, json, db_url, pg_db, server })
}

async fn make_world(s: &mut Setup, common: &Common) -> anyhow::Result<Arc<world::World>> {
    let t = Instant::now();
    s.server.start().await?;
    print!("  world: {} approved helpers, {} customers...", common.helpers, common.customers);
    let w = world::create(&s.server, common.helpers, common.customers).await?;
    println!(" done in {:.1} s", t.elapsed().as_secs_f64());
    Ok(Arc::new(w))
}

fn progress_line(shared: &Shared, total: usize, kills: usize, extra: &str) {
    println!(
        "  [{:>4.0} s] sent {}/{}, settled {}, in flight {}, kills {}{}",
        shared.t0.elapsed().as_secs_f64(),
        total - shared.fresh_left.load(Ordering::SeqCst),
        total,
        shared.settled.load(Ordering::SeqCst),
        shared.in_flight.load(Ordering::SeqCst),
        kills,
        extra
    );
}

fn code_counts(records: &[load::Record], filter: impl Fn(&load::Record) -> bool) -> String {
    let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for r in records.iter().filter(|r| filter(r)) {
        *counts.entry(format!("{} {}", r.status, r.code)).or_default() += 1;
    }
    if counts.is_empty() {
        return "0".to_owned();
    }
    counts.iter().map(|(k, n)| format!("{n}x {k}")).collect::<Vec<_>>().join(", ")
}

fn add_audit(rep: &mut Report, a: &audit::Audit) {
    rep.add("acked (201 / business 409)", format!("{} / {}", a.acked_created, a.acked_taken));
    rep.add("refused (other 4xx)", a.refused);
    rep.add("unresolved after max tries", a.unresolved);
    rep.add("bookings in the database", a.bookings);
    rep.add("lost acknowledged bookings", a.lost);
    rep.add("duplicates per key", a.dup_key + a.ack_mismatch);
    rep.add("bookings of keys answered 409", a.phantom);
    rep.add("duplicates per slot", a.dup_slot);
    rep.add("overlaps", a.overlaps);
    rep.add("ledger imbalance", format!("{} (total {} Rp)", a.unbalanced_tx, a.ledger_total));
    rep.add("orphans (booking w/o outbox / outbox w/o booking)", format!("{} / {}", a.orphan_bookings, a.orphan_outbox));
    rep.add("duplicate outbox rows", a.dup_outbox);
}

async fn finish(s: Setup, rep: Report) -> anyhow::Result<bool> {
    rep.print();
    rep.write(&s.json)?;
    println!("  figures written to {}; journal and server log in {}", s.json.display(), s.dir.display());
    if let Some((admin, name)) = &s.pg_db
        && rep.violations.is_empty()
    {
        pg::drop_database(admin, name).await;
    }
    Ok(rep.violations.is_empty())
}

async fn r3(args: R3Args) -> anyhow::Result<bool> {
    let started = Instant::now();
    let c = &args.common;
    let run = format!(
        "r3-{}-seed{}",
        match args.backend {
            BackendArg::Sqlite => "sqlite",
            BackendArg::Postgres => "postgres",
        },
        c.seed
    );
    println!(
        "quartier-chaos r3 on {}: {} booking attempts, {} clients, kill -9 every {}-{} s (seed {}), up to {} tries per key",
        args.backend.label(),
        args.attempts,
        c.concurrency,
        args.kill_min,
        args.kill_max,
        c.seed,
        c.max_tries
    );
    let mut s = setup(c, args.backend, &run).await?;
    let world = make_world(&mut s, c).await?;
    let intents = Arc::new(world::plan(args.attempts, world.helpers.len(), world.customers.len(), c.seed)?);
    let groups = intents.iter().map(|i| i.group).collect::<std::collections::HashSet<_>>().len();
    println!("  plan: {} attempts on {} slot groups ({} collide)", intents.len(), groups, intents.len() - groups);
    let journal_path = s.dir.join("journal.log");
    let journal = Journal::create(&journal_path)?;
    let shared = Arc::new(Shared {
        in_flight: 0.into(),
        fresh_left: intents.len().into(),
        settled: 0.into(),
        stop_fresh: false.into(),
        records: Default::default(),
        t0: Instant::now(),
    });
    let spec = LoadSpec {
        concurrency: c.concurrency,
        max_tries: c.max_tries,
        read_share: 0.0,
        key_prefix: format!("chaos-r3-{}-{}", c.seed, uuid::Uuid::new_v4().simple()),
        client_timeout: Duration::from_secs(15),
    };
    let load = tokio::spawn(load::run(spec, world.clone(), intents.clone(), s.server.base(), journal, shared.clone()));

    // The nemesis: kill at seeded random moments while fresh attempts remain, restart at once.
    let mut rng = StdRng::seed_from_u64(c.seed ^ 0x6e656d65);
    let mut restarts: Vec<Duration> = Vec::new();
    let mut in_flight_at_kill = 0usize;
    let mut last_progress = Instant::now();
    while shared.fresh_left.load(Ordering::SeqCst) > 0 && !load.is_finished() {
        let wait = Duration::from_secs_f64(rng.random_range(args.kill_min..=args.kill_max));
        let until = Instant::now() + wait;
        while Instant::now() < until && shared.fresh_left.load(Ordering::SeqCst) > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if shared.fresh_left.load(Ordering::SeqCst) == 0 {
            break;
        }
        in_flight_at_kill += shared.in_flight.load(Ordering::SeqCst);
        let t = Instant::now();
        s.server.kill().await?;
        s.server.start().await.with_context(|| format!("restart after kill {} (seed {})", restarts.len() + 1, c.seed))?;
        restarts.push(t.elapsed());
        if last_progress.elapsed() > Duration::from_secs(5) {
            last_progress = Instant::now();
            progress_line(&shared, intents.len(), restarts.len(), &format!(", last restart {}", ms(t.elapsed())));
        }
    }
    let load_done_at = Instant::now();
    println!("  every attempt sent after {} kills; waiting for the retries to settle", restarts.len());
    let mut ticker = tokio::time::interval(Duration::from_secs(5));
    ticker.tick().await;
    while !load.is_finished() {
        tokio::select! {
            _ = ticker.tick() => progress_line(&shared, intents.len(), restarts.len(), ""),
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
    let states = load.await??;
    let tail = load_done_at.elapsed();
    let load_time = shared.t0.elapsed();
    // The last crash: the auditor reads what a SIGKILL left behind.
    s.server.kill().await?;
    print!("  auditing...");
    let a = audit::audit(&s.db_url, &journal_path).await?;
    println!(" done");

    let records = shared.records.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    let mut sorted = restarts.clone();
    sorted.sort();
    let mut rep =
        Report { kind: "r3", label: format!("R3 {} seed {}", args.backend.label(), c.seed), figures: Vec::new(), violations: Vec::new() };
    rep.add("attempts (unique keys)", intents.len());
    rep.add("kills (SIGKILL)", restarts.len());
    rep.add(
        "restart to /healthz p50 / p95 / max",
        format!(
            "{} / {} / {}",
            ms(percentile(&sorted, 0.5)),
            ms(percentile(&sorted, 0.95)),
            ms(sorted.last().copied().unwrap_or_default())
        ),
    );
    rep.add("requests in flight at kills", in_flight_at_kill);
    rep.add("keys with a request left unanswered", a.cut_off_keys);
    rep.add("requests sent (with retries)", records.len());
    rep.add("409 idempotency_in_progress", records.iter().filter(|r| r.code == "idempotency_in_progress").count());
    rep.add("5xx answers", code_counts(&records, |r| r.status >= 500));
    rep.add("most tries for one key", states.iter().map(|k| k.tries).max().unwrap_or(0));
    add_audit(&mut rep, &a);
    rep.add(
        "load / retry tail / total",
        format!("{:.0} s / {:.0} s / {:.0} s", load_time.as_secs_f64(), tail.as_secs_f64(), started.elapsed().as_secs_f64()),
    );
    rep.violations = a.violations();
    let n500 = records.iter().filter(|r| r.status >= 500 && r.status != 503).count();
    if n500 > 0 {
        rep.violations.push(format!("{n500} answers were 5xx other than 503"));
    }
    if a.unresolved > 0 {
        rep.violations.push(format!("{} attempts got no final answer within {} tries", a.unresolved, c.max_tries));
    }
    if a.refused > 0 {
        rep.violations.push(format!(
            "{} attempts were refused (4xx other than a business 409): {}",
            a.refused,
            code_counts(&records, |r| (400..500).contains(&r.status) && r.status != 409)
        ));
    }
    if !rep.violations.is_empty() {
        rep.violations.push(format!("replay with --seed {}", c.seed));
    }
    finish(s, rep).await
}

/// One PostgreSQL restart as observed.
struct Outage {
    cmd_at: Duration,
    down_at: Duration,
    up_at: Duration,
    first_ok: Option<Duration>,
}

async fn r4(args: R4Args) -> anyhow::Result<bool> {
    let started = Instant::now();
    let c = &args.common;
    let run = format!("r4-postgres-seed{}", c.seed);
    let cluster = pg::Cluster::from_env()?;
    println!(
        "quartier-chaos r4: PostgreSQL restarted {} times (pg_ctl restart -m immediate) under mixed load ({} clients, {:.0} % reads), seed {}",
        args.restarts,
        c.concurrency,
        args.read_share * 100.0,
        c.seed
    );
    let mut s = setup(c, BackendArg::Postgres, &run).await?;
    let world = make_world(&mut s, c).await?;
    let pid = s.server.pid;
    let intents = Arc::new(world::plan(6_000, world.helpers.len(), world.customers.len(), c.seed)?);
    let journal_path = s.dir.join("journal.log");
    let journal = Journal::create(&journal_path)?;
    let shared = Arc::new(Shared {
        in_flight: 0.into(),
        fresh_left: intents.len().into(),
        settled: 0.into(),
        stop_fresh: false.into(),
        records: Default::default(),
        t0: Instant::now(),
    });
    let spec = LoadSpec {
        concurrency: c.concurrency,
        max_tries: c.max_tries,
        read_share: args.read_share,
        key_prefix: format!("chaos-r4-{}-{}", c.seed, uuid::Uuid::new_v4().simple()),
        client_timeout: Duration::from_secs(20),
    };
    let load = tokio::spawn(load::run(spec, world.clone(), intents.clone(), s.server.base(), journal, shared.clone()));

    // A probe that records when the database stops and starts accepting connections.
    let transitions: Arc<std::sync::Mutex<Vec<(Duration, bool)>>> = Default::default();
    let probe = {
        let (url, transitions, shared) = (s.db_url.clone(), transitions.clone(), shared.clone());
        tokio::spawn(async move {
            let mut last = true;
            loop {
                let up = pg::accepts(&url).await;
                if up != last {
                    transitions.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((shared.t0.elapsed(), up));
                    last = up;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let settle = Duration::from_secs_f64(args.settle);
    let first_ok_after = |from: Duration| -> Option<Duration> {
        let records = shared.records.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        records.iter().filter(|r| (200..300).contains(&r.status)).map(|r| r.sent + r.took).filter(|done| *done >= from).min()
    };
    tokio::time::sleep(settle).await;
    progress_line(&shared, intents.len(), 0, " (warm-up done)");
    let mut outages = Vec::new();
    for k in 0..args.restarts {
        let cmd_at = shared.t0.elapsed();
        cluster.restart_immediate().await.with_context(|| format!("restart {}", k + 1))?;
        let ctl_done = shared.t0.elapsed();
        // Wait for the probe to see the database up again, then for the first success.
        let deadline = Instant::now() + Duration::from_secs(60);
        let (down_at, up_at) = loop {
            let t = transitions.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
            let down = t.iter().find(|(at, up)| *at >= cmd_at && !up).map(|x| x.0);
            let up = down.and_then(|d| t.iter().find(|(at, up)| *at >= d && *up).map(|x| x.0));
            if let (Some(d), Some(u)) = (down, up) {
                break (d, u);
            }
            if down.is_none() && shared.t0.elapsed() > ctl_done + Duration::from_secs(1) {
                // Too quick for the probe to see: the window is the pg_ctl call.
                break (cmd_at, ctl_done);
            }
            if Instant::now() > deadline {
                bail!("PostgreSQL is not accepting connections 60 s after restart {}", k + 1);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let first_ok = loop {
            if let Some(ok) = first_ok_after(up_at) {
                break Some(ok);
            }
            if Instant::now() > deadline {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        println!(
            "  restart {}: database down at +{}, accepting again after {}, first success {} later",
            k + 1,
            ms(down_at),
            ms(up_at.saturating_sub(down_at)),
            first_ok.map_or("never (30 s)".to_owned(), |ok| ms(ok.saturating_sub(up_at)))
        );
        outages.push(Outage { cmd_at, down_at, up_at, first_ok });
        tokio::time::sleep(settle).await;
        progress_line(&shared, intents.len(), 0, "");
    }
    shared.stop_fresh.store(true, Ordering::SeqCst);
    println!("  load stopped; waiting for the retries to settle");
    let mut ticker = tokio::time::interval(Duration::from_secs(5));
    ticker.tick().await;
    while !load.is_finished() {
        tokio::select! {
            _ = ticker.tick() => progress_line(&shared, intents.len(), 0, ""),
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
    let _states = load.await??;
    probe.abort();
    let same_process = s.server.alive() && s.server.pid == pid;
    s.server.kill().await?;
    print!("  auditing...");
    let a = audit::audit(&s.db_url, &journal_path).await?;
    println!(" done");

    let records = shared.records.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    let hang = Duration::from_millis(args.request_timeout_ms + 1_000);
    let mut rep = Report { kind: "r4", label: format!("R4 PostgreSQL seed {}", c.seed), figures: Vec::new(), violations: Vec::new() };
    rep.add("database restarts (-m immediate)", outages.len());
    rep.add(
        "requests (reads / writes)",
        format!("{} / {}", records.iter().filter(|r| !r.write).count(), records.iter().filter(|r| r.write).count()),
    );
    let mut total_bad = 0usize;
    for (k, o) in outages.iter().enumerate() {
        let end = o.first_ok.unwrap_or(o.up_at + Duration::from_secs(30));
        let during: Vec<&load::Record> = records.iter().filter(|r| r.sent < end && r.sent + r.took > o.down_at).collect();
        let ok503 = during.iter().filter(|r| r.status == 503 && r.retry_after).count();
        let answered = during.iter().filter(|r| r.status > 0 && r.status < 500).count();
        let bad: Vec<&&load::Record> =
            during.iter().filter(|r| (r.status >= 500 && !(r.status == 503 && r.retry_after)) || r.status == 0).collect();
        let slow = during.iter().filter(|r| r.took > hang).count();
        let max_took = during.iter().map(|r| r.took).max().unwrap_or_default();
        total_bad += bad.len() + slow;
        let recovery = o.first_ok.map(|ok| ok.saturating_sub(o.up_at));
        rep.add(
            &format!("restart {}: outage (down -> accepting)", k + 1),
            format!("{} (pg_ctl took {})", ms(o.up_at.saturating_sub(o.down_at)), ms(o.up_at.saturating_sub(o.cmd_at))),
        );
        rep.add(
            &format!("restart {}: answers during outage", k + 1),
            format!("{}: {ok503} x 503+Retry-After, {answered} x 2xx/4xx, {} other; slowest {}", during.len(), bad.len(), ms(max_took)),
        );
        rep.add(&format!("restart {}: accepting -> first success", k + 1), recovery.map_or("never".to_owned(), ms));
        match recovery {
            Some(r) if r.as_secs_f64() <= args.recovery_goal => {}
            Some(r) => rep.violations.push(format!(
                "restart {}: first success {} after the database accepted connections (goal {} s)",
                k + 1,
                ms(r),
                args.recovery_goal
            )),
            None => rep.violations.push(format!("restart {}: no successful request within 30 s", k + 1)),
        }
    }
    let all_500 = records.iter().filter(|r| r.status >= 500 && r.status != 503).count();
    let no_ra = records.iter().filter(|r| r.status == 503 && !r.retry_after).count();
    let hangs = records.iter().filter(|r| r.took > hang).count();
    let no_answer = records.iter().filter(|r| r.status == 0).count();
    rep.add("5xx other than 503 (whole run)", all_500);
    rep.add("503 without Retry-After", no_ra);
    rep.add(
        &format!("answers slower than {}", ms(hang)),
        format!("{hangs} (slowest {})", ms(records.iter().map(|r| r.took).max().unwrap_or_default())),
    );
    rep.add("no answer (connection failed)", no_answer);
    rep.add("503 answers by code", code_counts(&records, |r| r.status == 503));
    rep.add("app restarted", if same_process { "no (same process throughout)" } else { "YES" });
    add_audit(&mut rep, &a);
    rep.add("total time", format!("{:.0} s", started.elapsed().as_secs_f64()));
    rep.violations.extend(a.violations());
    if total_bad > 0 || all_500 > 0 || no_ra > 0 || hangs > 0 || no_answer > 0 {
        rep.violations.push(format!(
            "answers other than 503+Retry-After during outages or slow: {total_bad}; 5xx other than 503: {all_500}; 503 without Retry-After: {no_ra}; hangs: {hangs}; no answer: {no_answer}"
        ));
    }
    if !same_process {
        rep.violations.push("the server process exited or was restarted".to_owned());
    }
    if a.unresolved > 0 {
        rep.violations.push(format!("{} write attempts got no final answer within {} tries", a.unresolved, c.max_tries));
    }
    finish(s, rep).await
}
