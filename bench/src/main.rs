//! `quartier-bench matching`: the in-process match index against PostGIS on the same synthetic
//! world around Zurich (see docs and `make bench-matching`).
//!
//! `quartier-bench notifications`: outbox -> SMTP throughput and booking latency with the SMTP
//! server up and down (`make bench-notifications`; see `notifications.rs`).
//!
//! `quartier-bench outage`: the reliability battery's R5, an SMTP outage under bookings
//! (`scripts/smtp-outage.sh`; see `outage.rs`).
//!
//! The query: the 10 best helpers within 5 km who have the skill, whose own travel radius reaches
//! the customer, and who are free for 90 minutes between 18:00 and 21:00 (Europe/Zurich) on date
//! D, with 15-minute buffers around every booking.

mod notifications;
mod outage;
mod postgis;
mod smtp;
mod stats;
mod world;

use std::hint::black_box;
use std::time::Instant;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use quartier_matching::search::{MatchIndex, Query};

use crate::stats::{Progress, Summary, bytes, count, ns};
use crate::world::{Calendar, HORIZON_DAYS, Spec, World};

/// Queries compared with the brute-force scan.
const VALIDATE: usize = 500;
/// Queries compared between the bulk-loaded and the upserted index.
const COMPARE_BUILDS: usize = 200;
/// Untimed queries before the timed run.
const WARM_UP: usize = 1_000;

#[derive(Parser)]
#[command(name = "quartier-bench", about = "Quartier benchmarks")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// In-process match index vs PostGIS: "10 best helpers within 5 km free for 90 minutes
    /// between 18:00 and 21:00 on date D".
    Matching(MatchingArgs),
    /// Outbox -> local SMTP server in messages per second (and each sink's own capacity), and
    /// booking latency p50/p99 with the SMTP server up and down.
    Notifications(notifications::NotificationsArgs),
    /// The reliability battery's R5: bookings and notifications through an SMTP outage (port
    /// closed, then 451 4.3.0, then up with one 550 recipient).
    Outage(outage::OutageArgs),
}

#[derive(clap::Args)]
struct MatchingArgs {
    /// World sizes: 100k (30 km disc), 1m (150 km disc), or a number such as 250k.
    #[arg(long, value_delimiter = ',', default_value = "100k,1m")]
    sizes: Vec<String>,
    /// Timed in-process queries per size.
    #[arg(long, default_value_t = 10_000)]
    queries: usize,
    /// Timed PostGIS queries per size.
    #[arg(long, default_value_t = 500)]
    pg_queries: usize,
    /// Also load the 1M world (~16M bookings) into PostGIS; slow, so off by default.
    #[arg(long)]
    postgis_1m: bool,
    /// Skip PostGIS entirely.
    #[arg(long)]
    no_postgis: bool,
    /// PostgreSQL server to create the throwaway benchmark database on.
    #[arg(long, env = "QUARTIER_BENCH_PG_URL", hide_env_values = true)]
    pg_url: Option<String>,
    /// Seed of the synthetic worlds and queries.
    #[arg(long, default_value_t = 20_260_401)]
    seed: u64,
    /// Where to write the figures as JSON.
    #[arg(long, default_value = "target/bench/matching.json")]
    json: String,
}

/// In-process figures of one world.
struct InProcess {
    build_bulk_s: f64,
    build_upsert_s: f64,
    heap_bytes: usize,
    rss_delta: Option<i64>,
    latency: Summary,
    validated: (usize, usize),
    builds_agree: (usize, usize),
    avg_results: f64,
    avg_eligible: f64,
    threads: usize,
}

/// Everything measured for one world.
struct SizeResult {
    spec: Spec,
    helpers: usize,
    rules: usize,
    exceptions: usize,
    bookings: usize,
    generate_s: f64,
    mem: InProcess,
    pg: Option<postgis::Report>,
    pg_note: String,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().cmd {
        Cmd::Matching(args) => matching(&args),
        Cmd::Notifications(args) => notifications::notifications(&args),
        Cmd::Outage(args) => outage::outage(&args),
    }
}

fn parse_size(raw: &str, seed: u64) -> anyhow::Result<Spec> {
    let s = raw.trim().to_lowercase();
    let (label, helpers): (&'static str, usize) = match s.as_str() {
        "100k" => ("100k", 100_000),
        "1m" => ("1M", 1_000_000),
        other => {
            let (digits, mul) = if let Some(d) = other.strip_suffix('k') {
                (d, 1_000)
            } else if let Some(d) = other.strip_suffix('m') {
                (d, 1_000_000)
            } else {
                (other, 1)
            };
            let n: usize = digits.parse().with_context(|| format!("size {raw:?}: expected e.g. 100k or 1m"))?;
            (Box::leak(other.to_owned().into_boxed_str()), n * mul)
        }
    };
    if helpers == 0 {
        bail!("size {raw:?} has no helpers");
    }
    Ok(Spec {
        label,
        helpers,
        // The densities of matching.md §5: 100k in 30 km, 1M in 150 km.
        disc_km: if helpers <= 200_000 { 30.0 } else { 150.0 },
        seed: seed ^ helpers as u64,
    })
}

fn matching(args: &MatchingArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let specs: Vec<Spec> = args.sizes.iter().map(|s| parse_size(s, args.seed)).collect::<anyhow::Result<_>>()?;
    let cal = Calendar::new()?;
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    println!("quartier-bench matching");
    println!(
        "  query: the {} best helpers within {} km with the skill, whose radius reaches the customer, free for {} min between {:02}:00 and {:02}:00 Europe/Zurich on D = {} ({:?})",
        world::LIMIT,
        world::MAX_DISTANCE_KM,
        world::DURATION_MINUTES,
        world::WINDOW_LOCAL.0,
        world::WINDOW_LOCAL.1,
        cal.day_d,
        cal.day_d.weekday(),
    );
    println!(
        "  horizon: {} days from {} (includes the 2026-03-29 spring-forward switch), buffers {}/{} min, {} cores",
        HORIZON_DAYS,
        cal.first,
        world::BUFFER_MINUTES,
        world::BUFFER_MINUTES,
        threads
    );
    let load_start = stats::loadavg();
    println!("  load average at start: {load_start} (other work on this machine skews timings)");
    let pg_url = if args.no_postgis {
        println!("  PostGIS: skipped (--no-postgis)");
        None
    } else if let Some(url) = &args.pg_url {
        println!(
            "  PostGIS: 100k always; 1M {}",
            if args.postgis_1m { "too (--postgis-1m)" } else { "skipped (loading ~16M bookings takes long; pass --postgis-1m)" }
        );
        Some(url.clone())
    } else {
        println!("  PostGIS: skipped (QUARTIER_BENCH_PG_URL is not set; run `make bench-matching`)");
        None
    };
    let json_dir = std::path::Path::new(&args.json)
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| ".".to_owned());
    std::fs::create_dir_all(&json_dir).with_context(|| format!("creating {json_dir}"))?;

    let mut results = Vec::new();
    for spec in specs {
        results.push(run_size(spec, &cal, args, pg_url.as_deref(), &json_dir)?);
    }
    let total_s = started.elapsed().as_secs_f64();
    let goals = goals(&results);
    let load = (load_start, stats::loadavg());
    print_summary(&results, &goals, total_s, &load);
    let json = to_json(&results, &goals, &cal, total_s, threads, &load);
    std::fs::write(&args.json, serde_json::to_string_pretty(&json)? + "\n").with_context(|| format!("writing {}", args.json))?;
    println!("figures written to {}", args.json);
    Ok(())
}

fn run_size(spec: Spec, cal: &Calendar, args: &MatchingArgs, pg_url: Option<&str>, json_dir: &str) -> anyhow::Result<SizeResult> {
    println!();
    println!("== {} helpers in a {} km disc around Zurich HB ==", spec.label, spec.disc_km);
    print!("  generating {} helpers:", count(spec.helpers));
    let t = Instant::now();
    let world = world::generate(&spec, cal);
    let generate_s = t.elapsed().as_secs_f64();
    let n = world.helpers.len();
    println!(
        "  generated in {:.1} s: {} helpers, {} weekly rules, {} exceptions, {} bookings ({:.1} per helper)",
        generate_s,
        count(n),
        count(world.rules),
        count(world.exceptions),
        count(world.bookings),
        world.bookings as f64 / n.max(1) as f64
    );
    let queries = world::queries(args.queries.max(VALIDATE), &spec, cal, spec.seed ^ 0x51);
    let (index, mem) = in_process(&world, cal, &queries, args.queries)?;

    let pg_wanted = spec.helpers < 1_000_000 || args.postgis_1m;
    let (pg, pg_note) = match pg_url {
        Some(url) if pg_wanted => {
            println!("  -- PostGIS on the same {} helpers --", spec.label);
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let report = rt.block_on(postgis::run(url, spec.label, &world, cal, &index, &queries, args.pg_queries, json_dir))?;
            print_pg(&report, &mem);
            (Some(report), String::new())
        }
        Some(_) => {
            println!("  PostGIS: skipped at this size (pass --postgis-1m)");
            (None, "skipped (pass --postgis-1m)".to_owned())
        }
        None => (None, "not run".to_owned()),
    };
    drop(index);
    Ok(SizeResult {
        spec,
        helpers: n,
        rules: world.rules,
        exceptions: world.exceptions,
        bookings: world.bookings,
        generate_s,
        mem,
        pg,
        pg_note,
    })
}

fn in_process(world: &World, cal: &Calendar, queries: &[Query], timed: usize) -> anyhow::Result<(MatchIndex, InProcess)> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let rss0 = stats::rss_bytes();
    let t = Instant::now();
    let mut index = MatchIndex::new(&cal.zone, cal.first, HORIZON_DAYS);
    index.bulk_load(&world.helpers);
    let build_bulk_s = t.elapsed().as_secs_f64();
    let rss_delta = stats::rss_bytes().zip(rss0).map(|(a, b)| a as i64 - b as i64);
    let heap_bytes = index.heap_bytes();
    println!(
        "  index build, bulk_load on {threads} threads: {:.0} ms; heap_bytes {} ({} B per helper); RSS +{}",
        build_bulk_s * 1e3,
        bytes(heap_bytes as f64),
        heap_bytes / world.helpers.len().max(1),
        rss_delta.map_or("n/a".to_owned(), |d| bytes(d as f64)),
    );
    if index.len() != world.helpers.len() {
        bail!("the index holds {} helpers, not {}", index.len(), world.helpers.len());
    }

    let t = Instant::now();
    let mut upserted = MatchIndex::new(&cal.zone, cal.first, HORIZON_DAYS);
    for h in &world.helpers {
        upserted.upsert(h);
    }
    let build_upsert_s = t.elapsed().as_secs_f64();
    let compare = queries.len().min(COMPARE_BUILDS);
    let agree = queries.iter().take(compare).filter(|q| index.search(q) == upserted.search(q)).count();
    drop(upserted);
    println!("  index build, one upsert per helper: {:.0} ms; bulk_load == upserts: {agree}/{compare} identical", build_upsert_s * 1e3);

    print!("  validating against search_brute_force:");
    let t = Instant::now();
    let check = queries.len().min(VALIDATE);
    let mut progress = Progress::new(check);
    let (mut same, mut eligible) = (0, 0usize);
    for (k, q) in queries.iter().take(check).enumerate() {
        if index.search(q) == index.search_brute_force(q) {
            same += 1;
        }
        let mut all = q.clone();
        all.limit = usize::MAX;
        eligible += index.search(&all).len();
        progress.at(k + 1);
    }
    println!(" ({:.1} s)", t.elapsed().as_secs_f64());
    println!("  validated: {same}/{check} identical");
    if same != check {
        println!("  WARNING: the index disagrees with the brute-force scan");
    }

    for q in queries.iter().cycle().take(WARM_UP) {
        black_box(index.search(q));
    }
    let n = timed.min(queries.len());
    print!("  {} timed queries:", count(n));
    let mut progress = Progress::new(n);
    let mut lat = Vec::with_capacity(n);
    let mut results = 0usize;
    for (k, q) in queries.iter().take(n).enumerate() {
        let t = Instant::now();
        let found = black_box(index.search(black_box(q)));
        lat.push(t.elapsed().as_nanos() as u64);
        results += found.len();
        progress.at(k + 1);
    }
    println!();
    let latency = Summary::of(lat);
    let mem = InProcess {
        build_bulk_s,
        build_upsert_s,
        heap_bytes,
        rss_delta,
        latency,
        validated: (same, check),
        builds_agree: (agree, compare),
        avg_results: results as f64 / n.max(1) as f64,
        avg_eligible: eligible as f64 / check.max(1) as f64,
        threads,
    };
    println!(
        "  search: p50 {}  p90 {}  p99 {}  max {}  (mean {}; {:.1} results, {:.0} eligible helpers per query)",
        ns(latency.p50),
        ns(latency.p90),
        ns(latency.p99),
        ns(latency.max),
        ns(latency.mean),
        mem.avg_results,
        mem.avg_eligible
    );
    Ok((index, mem))
}

fn print_pg(r: &postgis::Report, mem: &InProcess) {
    println!(
        "  PostGIS: p50 {}  p90 {}  p99 {}  max {}  (round trip, prepared; server-side EXPLAIN ANALYZE p50 {})",
        ns(r.latency.p50),
        ns(r.latency.p90),
        ns(r.latency.p99),
        ns(r.latency.max),
        ns(r.server.p50)
    );
    println!(
        "  ratio PostGIS / index: p50 {:.0}x, p99 {:.0}x (SQL ranks by distance, the index by score: the ratio compares the cost of the same filter, not the same ranking)",
        ratio(r.latency.p50, mem.latency.p50),
        ratio(r.latency.p99, mem.latency.p99)
    );
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// One goal of the issue and how it went.
struct Goal {
    text: String,
    measured: String,
    /// `None` when not measured in this run.
    pass: Option<bool>,
}

fn goals(results: &[SizeResult]) -> Vec<Goal> {
    let by = |label: &str| results.iter().find(|r| r.spec.label == label);
    let mut out = Vec::new();
    let mut latency_goal = |label: &str, what: &str, limit_ns: f64, pick: fn(&Summary) -> f64| {
        let r = by(label);
        out.push(Goal {
            text: format!("{label}: {what} <= {}", ns(limit_ns)),
            measured: r.map_or("not run".to_owned(), |r| ns(pick(&r.mem.latency))),
            pass: r.map(|r| pick(&r.mem.latency) <= limit_ns),
        });
    };
    latency_goal("100k", "p50", 150e3, |s| s.p50);
    latency_goal("100k", "p99", 1e6, |s| s.p99);
    latency_goal("1M", "p50", 1e6, |s| s.p50);
    let r = by("1M");
    out.push(Goal {
        text: "1M: index build <= 2 s".to_owned(),
        measured: r.map_or("not run".to_owned(), |r| {
            format!("{:.2} s (bulk_load; {:.2} s with one upsert per helper)", r.mem.build_bulk_s, r.mem.build_upsert_s)
        }),
        pass: r.map(|r| r.mem.build_bulk_s <= 2.0),
    });
    let with_pg: Vec<_> = results.iter().filter_map(|r| Some((r, r.pg.as_ref()?))).collect();
    out.push(Goal {
        text: "at least 50x faster than PostGIS (p50)".to_owned(),
        measured: if with_pg.is_empty() {
            "not run".to_owned()
        } else {
            with_pg
                .iter()
                .map(|(r, pg)| format!("{:.0}x at {}", ratio(pg.latency.p50, r.mem.latency.p50), r.spec.label))
                .collect::<Vec<_>>()
                .join(", ")
        },
        pass: (!with_pg.is_empty()).then(|| with_pg.iter().all(|(r, pg)| ratio(pg.latency.p50, r.mem.latency.p50) >= 50.0)),
    });
    out
}

fn print_summary(results: &[SizeResult], goals: &[Goal], total_s: f64, load: &(String, String)) {
    println!();
    println!("== Summary ==");
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |name: &str, f: &dyn Fn(&SizeResult) -> String| {
        rows.push((name.to_owned(), results.iter().map(f).collect()));
    };
    row("helpers", &|r| count(r.helpers));
    row("disc around Zurich HB", &|r| format!("{} km", r.spec.disc_km));
    row("weekly rules / exceptions", &|r| format!("{} / {}", count(r.rules), count(r.exceptions)));
    row("bookings", &|r| count(r.bookings));
    row("generate world", &|r| format!("{:.1} s", r.generate_s));
    row("index build (bulk_load)", &|r| format!("{:.0} ms on {} threads", r.mem.build_bulk_s * 1e3, r.mem.threads));
    row("index build (upserts)", &|r| format!("{:.0} ms", r.mem.build_upsert_s * 1e3));
    row("index heap_bytes", &|r| bytes(r.mem.heap_bytes as f64));
    row("RSS delta of the build", &|r| r.mem.rss_delta.map_or("n/a".to_owned(), |d| bytes(d as f64)));
    row("validated vs brute force", &|r| format!("{}/{} identical", r.mem.validated.0, r.mem.validated.1));
    row("bulk_load vs upserts", &|r| format!("{}/{} identical", r.mem.builds_agree.0, r.mem.builds_agree.1));
    row("eligible / returned", &|r| format!("{:.0} / {:.1}", r.mem.avg_eligible, r.mem.avg_results));
    row("index p50", &|r| ns(r.mem.latency.p50));
    row("index p90", &|r| ns(r.mem.latency.p90));
    row("index p99", &|r| ns(r.mem.latency.p99));
    row("index max", &|r| ns(r.mem.latency.max));
    let pg = |f: fn(&SizeResult, &postgis::Report) -> String| move |r: &SizeResult| r.pg.as_ref().map_or(r.pg_note.clone(), |p| f(r, p));
    row("PostGIS load (COPY + indexes)", &pg(|_, p| format!("{:.1} s + {:.1} s", p.copy_s, p.index_s)));
    row("PostGIS cross-check (no LIMIT)", &pg(|_, p| format!("{}/{} identical", p.validated.0, p.validated.1)));
    row("PostGIS p50", &pg(|_, p| ns(p.latency.p50)));
    row("PostGIS p99", &pg(|_, p| ns(p.latency.p99)));
    row("PostGIS server p50 (EXPLAIN)", &pg(|_, p| ns(p.server.p50)));
    row("ratio PostGIS/index p50", &pg(|r, p| format!("{:.0}x", ratio(p.latency.p50, r.mem.latency.p50))));
    row("ratio PostGIS/index p99", &pg(|r, p| format!("{:.0}x", ratio(p.latency.p99, r.mem.latency.p99))));
    row("PostGIS KNN variant p50 / p99", &pg(|_, p| format!("{} / {}", ns(p.knn.p50), ns(p.knn.p99))));
    row("ratio KNN variant/index p50", &pg(|r, p| format!("{:.0}x", ratio(p.knn.p50, r.mem.latency.p50))));
    let name_w = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let col_w: Vec<usize> = (0..results.len())
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.1.get(c).map(|v| v.chars().count()))
                .chain(results.get(c).map(|r| r.spec.label.len()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |name: &str, vals: &[String]| {
        let mut s = format!("  {name:<name_w$}");
        for (v, w) in vals.iter().zip(&col_w) {
            s.push_str(&format!(" | {v:>w$}"));
        }
        println!("{s}");
    };
    let labels: Vec<String> = results.iter().map(|r| r.spec.label.to_owned()).collect();
    line("", &labels);
    println!("  {}", "-".repeat(name_w + col_w.iter().map(|w| w + 3).sum::<usize>()));
    for (name, vals) in &rows {
        line(name, vals);
    }
    println!("  (SQL ranks by distance, the index by score: the ratio compares the cost of the query, not the same ranking)");
    println!();
    let mut bars = Vec::new();
    for r in results {
        bars.push((format!("index   {}", r.spec.label), r.mem.latency.p50));
        if let Some(p) = &r.pg {
            bars.push((format!("PostGIS {}", r.spec.label), p.latency.p50));
            bars.push((format!("PostGIS {} KNN variant", r.spec.label), p.knn.p50));
        }
    }
    print!("{}", stats::log_bars("p50 per query (log scale):", &bars));
    println!();
    println!("Goals:");
    for g in goals {
        let tag = match g.pass {
            Some(true) => "PASS",
            Some(false) => "MISS",
            None => "n/a ",
        };
        println!("  [{tag}] {:<40} measured {}", g.text, g.measured);
    }
    println!();
    println!("total runtime: {total_s:.0} s; load average at start {}, at end {}", load.0, load.1);
}

fn to_json(
    results: &[SizeResult],
    goals: &[Goal],
    cal: &Calendar,
    total_s: f64,
    threads: usize,
    load: &(String, String),
) -> serde_json::Value {
    use serde_json::json;
    let sizes: Vec<_> = results
        .iter()
        .map(|r| {
            json!({
                "label": r.spec.label,
                "helpers": r.helpers,
                "disc_km": r.spec.disc_km,
                "seed": r.spec.seed,
                "weekly_rules": r.rules,
                "exceptions": r.exceptions,
                "bookings": r.bookings,
                "generate_s": stats::round2(r.generate_s),
                "index": {
                    "build_bulk_load_ms": stats::round2(r.mem.build_bulk_s * 1e3),
                    "build_threads": r.mem.threads,
                    "build_upserts_ms": stats::round2(r.mem.build_upsert_s * 1e3),
                    "heap_bytes": r.mem.heap_bytes,
                    "rss_delta_bytes": r.mem.rss_delta,
                    "validated_vs_brute_force": [r.mem.validated.0, r.mem.validated.1],
                    "bulk_load_vs_upserts": [r.mem.builds_agree.0, r.mem.builds_agree.1],
                    "avg_eligible": stats::round2(r.mem.avg_eligible),
                    "avg_results": stats::round2(r.mem.avg_results),
                    "latency_us": r.mem.latency.json_us(),
                },
                "postgis": r.pg.as_ref().map(|p| json!({
                    "version": p.version,
                    "copy_s": stats::round2(p.copy_s),
                    "index_s": stats::round2(p.index_s),
                    "cross_check_no_limit": [p.validated.0, p.validated.1],
                    "avg_eligible": stats::round2(p.avg_eligible),
                    "latency_us": p.latency.json_us(),
                    "server_execution_us": p.server.json_us(),
                    "ratio_p50": stats::round2(ratio(p.latency.p50, r.mem.latency.p50)),
                    "ratio_p99": stats::round2(ratio(p.latency.p99, r.mem.latency.p99)),
                    "knn_variant": {
                        "same_top10_as_issue_sql": [p.knn_same.0, p.knn_same.1],
                        "latency_us": p.knn.json_us(),
                        "ratio_p50": stats::round2(ratio(p.knn.p50, r.mem.latency.p50)),
                        "ratio_p99": stats::round2(ratio(p.knn.p99, r.mem.latency.p99)),
                    },
                    "plan_file": p.plan_file,
                    "note": "SQL ranks by distance, the index by score: the ratio compares the query cost",
                })),
                "postgis_note": r.pg_note,
            })
        })
        .collect();
    json!({
        "benchmark": "matching",
        "query": {
            "limit": world::LIMIT,
            "max_distance_km": world::MAX_DISTANCE_KM,
            "duration_minutes": world::DURATION_MINUTES,
            "window_local": format!("{:02}:00-{:02}:00", world::WINDOW_LOCAL.0, world::WINDOW_LOCAL.1),
            "zone": "Europe/Zurich",
            "date": cal.day_d.to_string(),
            "horizon_first": cal.first.to_string(),
            "horizon_days": HORIZON_DAYS,
            "buffers_minutes": [world::BUFFER_MINUTES, world::BUFFER_MINUTES],
        },
        "cores": threads,
        "sizes": sizes,
        "goals": goals.iter().map(|g| json!({
            "goal": g.text,
            "measured": g.measured,
            "pass": g.pass,
        })).collect::<Vec<_>>(),
        "total_runtime_s": stats::round2(total_s),
        "loadavg": { "start": load.0, "end": load.1 },
    })
}
