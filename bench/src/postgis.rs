//! The same world and the same query on PostGIS: a fresh database, COPY, GiST indexes, a prepared
//! statement, and a cross-check of its full answers against the in-process index.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Instant;

use anyhow::{Context as _, bail};
use h3o::LatLng;
use quartier_domain::UserId;
use quartier_matching::availability::ExceptionKind;
use quartier_matching::search::{AREA_RES, HelperRecord, MatchIndex, Query};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, Connection as _, Row as _};

use crate::stats::{self, Progress, Summary};
use crate::world::{self, BUFFER_MINUTES, Calendar, World};

/// What the PostGIS run measured.
pub struct Report {
    /// `PostgreSQL 15.x / PostGIS 3.x`.
    pub version: String,
    /// COPY of all tables, seconds.
    pub copy_s: f64,
    /// Index builds plus VACUUM ANALYZE, seconds.
    pub index_s: f64,
    /// Round-trip latency of the prepared query with `LIMIT 10` (client side).
    pub latency: Summary,
    /// Server-side execution time from `EXPLAIN ANALYZE` on a sample.
    pub server: Summary,
    /// Round-trip latency of the KNN-driven variant.
    pub knn: Summary,
    /// Queries where the variant's 10 equal the SQL's 10, and how many were compared.
    pub knn_same: (usize, usize),
    /// Queries whose full answer (no LIMIT) equals the index's, and how many were compared.
    pub validated: (usize, usize),
    /// Mean rows of the full answers compared.
    pub avg_eligible: f64,
    /// Where the plan of one query was written.
    pub plan_file: String,
}

/// The candidates: within 5 km of the place on the sphere (like the index), the helper's own
/// radius reaching the customer's area cell centre (as the index checks), the skill, not paused.
macro_rules! candidates {
    () => {
        "SELECT h.id, ST_Distance(h.geog, ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography, false) AS dist_m
  FROM helpers h
  WHERE ST_DWithin(h.geog, ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography, 5000, false)
    AND ST_DWithin(h.geog, ST_SetSRID(ST_MakePoint($3, $4), 4326)::geography, h.radius_m, false)
    AND h.skills & $5 <> 0
    AND NOT h.paused"
    };
}

/// Each candidate's earliest start: a start in 18:00-19:30 on the 15-minute grid with 90 minutes
/// inside the union of D's working time (weekday rules unless a day off, plus extra hours) and
/// no blocked booking range (booking ± buffers) overlapping the job ± buffers.
macro_rules! earliest_start {
    () => {
        "
CROSS JOIN LATERAL (
  SELECT range_agg(int4range(w.s, w.e)) AS work
  FROM (
    SELECT r.start_min::int AS s, r.end_min::int AS e FROM rules r
    WHERE r.helper_id = c.id AND r.weekday = $6
      AND NOT EXISTS (SELECT 1 FROM exceptions x
                      WHERE x.helper_id = c.id AND x.day = $7::date AND x.kind = 'off')
    UNION ALL
    SELECT x.start_min, x.end_min FROM exceptions x
    WHERE x.helper_id = c.id AND x.day = $7::date AND x.kind = 'extra'
  ) w
) wk
CROSS JOIN LATERAL (
  SELECT g.m
  FROM generate_series(1080, 1170, 15) AS g(m)
  WHERE int4range(g.m, g.m + 90) <@ wk.work
    AND NOT EXISTS (
      SELECT 1 FROM bookings b
      WHERE b.helper_id = c.id
        AND b.blocked && tstzrange($8::timestamptz + make_interval(mins => g.m - 15),
                                   $8::timestamptz + make_interval(mins => g.m + 105)))
  ORDER BY g.m
  LIMIT 1
) st"
    };
}

/// The query in SQL: every candidate within 5 km is checked, then the nearest `$9`.
const SQL: &str = concat!(
    "SELECT c.id, c.dist_m, st.m AS start_min\nFROM (\n  ",
    candidates!(),
    "\n) c",
    earliest_start!(),
    "\nORDER BY c.dist_m, c.id\nLIMIT $9"
);

/// A variant that walks the candidates in distance order (GiST KNN `<->`) and stops at the
/// `$9`-th free one: the cheapest SQL shape for "nearest free" (same answers, checked).
const SQL_KNN: &str = concat!(
    "SELECT c.id, c.dist_m, st.m AS start_min\nFROM (\n  ",
    candidates!(),
    "\n  ORDER BY h.geog <-> ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography\n) c",
    earliest_start!(),
    "\nLIMIT $9"
);

const SCHEMA: &str = "
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE TABLE helpers (id int NOT NULL, geog geography(Point, 4326) NOT NULL,
                      radius_m int NOT NULL, skills int NOT NULL, paused bool NOT NULL);
CREATE TABLE rules (helper_id int NOT NULL, weekday smallint NOT NULL,
                    start_min smallint NOT NULL, end_min smallint NOT NULL);
CREATE TABLE exceptions (helper_id int NOT NULL, day date NOT NULL,
                         kind text NOT NULL CHECK (kind IN ('off', 'extra')),
                         start_min smallint, end_min smallint);
CREATE TABLE bookings (helper_id int NOT NULL, blocked tstzrange NOT NULL);";

const INDEXES: [(&str, &str); 6] = [
    ("helpers primary key", "ALTER TABLE helpers ADD PRIMARY KEY (id)"),
    ("GiST on helpers(geog)", "CREATE INDEX helpers_geog ON helpers USING gist (geog)"),
    ("btree on rules(helper_id, weekday)", "CREATE INDEX rules_helper ON rules (helper_id, weekday)"),
    ("btree on exceptions(helper_id, day)", "CREATE INDEX exceptions_helper ON exceptions (helper_id, day)"),
    ("GiST on bookings(helper_id, blocked)", "CREATE INDEX bookings_blocked ON bookings USING gist (helper_id, blocked)"),
    ("VACUUM ANALYZE", "VACUUM ANALYZE"),
];

/// Runs the PostGIS side for one world and always drops its database afterwards.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    url: &str,
    label: &str,
    world: &World,
    cal: &Calendar,
    index: &MatchIndex,
    queries: &[Query],
    n_queries: usize,
    plan_dir: &str,
) -> anyhow::Result<Report> {
    let base: PgConnectOptions = url.parse().context("QUARTIER_BENCH_PG_URL")?;
    let mut admin = PgConnection::connect_with(&base).await.with_context(|| format!("connecting to {url}"))?;
    let db = format!("quartier_bench_{label}_{}", std::process::id()).to_lowercase();
    sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db}"))).execute(&mut admin).await?;
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {db}"))).execute(&mut admin).await?;
    println!("  created database {db}");
    let result = async {
        let mut conn = PgConnection::connect_with(&base.clone().database(&db)).await?;
        let report = load_and_query(&mut conn, label, world, cal, index, queries, n_queries, plan_dir).await;
        let _ = conn.close().await;
        report
    }
    .await;
    let dropped = sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))).execute(&mut admin).await;
    match &dropped {
        Ok(_) => println!("  dropped database {db}"),
        Err(e) => println!("  could not drop database {db}: {e}"),
    }
    let _ = admin.close().await;
    result
}

#[allow(clippy::too_many_arguments)]
async fn load_and_query(
    conn: &mut PgConnection,
    label: &str,
    world: &World,
    cal: &Calendar,
    index: &MatchIndex,
    queries: &[Query],
    n_queries: usize,
    plan_dir: &str,
) -> anyhow::Result<Report> {
    sqlx::raw_sql(SCHEMA).execute(&mut *conn).await.context("creating the schema (is postgresql-NN-postgis-3 installed?)")?;
    let version: String = sqlx::query(
        "SELECT 'PostgreSQL ' || current_setting('server_version') || ', PostGIS ' \
         || postgis_lib_version() || ', shared_buffers ' || current_setting('shared_buffers')",
    )
    .fetch_one(&mut *conn)
    .await?
    .try_get(0)?;
    println!("  server: {version}; session: jit = off, maintenance_work_mem = 1GB");
    sqlx::raw_sql("SET jit = off; SET maintenance_work_mem = '1GB'").execute(&mut *conn).await?;

    let t = Instant::now();
    let helpers = &world.helpers;
    copy(conn, "helpers", "id, geog, radius_m, skills, paused", helpers, |i, h, out| {
        let skills: i32 = h.skills.iter().map(|s| world::skill_bit(s)).fold(0, |a, b| a | b);
        let _ = writeln!(
            out,
            "{i}\tSRID=4326;POINT({} {})\t{}\t{skills}\t{}",
            h.home.lon(),
            h.home.lat(),
            u32::from(h.radius_km) * 1000,
            if h.schedule.paused { 't' } else { 'f' }
        );
    })
    .await?;
    copy(conn, "rules", "helper_id, weekday, start_min, end_min", helpers, |i, h, out| {
        for r in &h.schedule.rules {
            let _ = writeln!(out, "{i}\t{}\t{}\t{}", r.weekday.to_monday_one_offset(), r.start_min, r.end_min);
        }
    })
    .await?;
    copy(conn, "exceptions", "helper_id, day, kind, start_min, end_min", helpers, |i, h, out| {
        for e in &h.schedule.exceptions {
            let _ = match e.kind {
                ExceptionKind::DayOff => writeln!(out, "{i}\t{}\toff\t\\N\t\\N", e.date),
                ExceptionKind::ExtraHours { start_min, end_min } => {
                    writeln!(out, "{i}\t{}\textra\t{start_min}\t{end_min}", e.date)
                }
            };
        }
    })
    .await?;
    let pad = jiff::SignedDuration::from_mins(i64::from(BUFFER_MINUTES));
    copy(conn, "bookings", "helper_id, blocked", helpers, |i, h, out| {
        for b in &h.bookings {
            if let (Ok(a), Ok(z)) = (b.start.checked_sub(pad), b.end.checked_add(pad)) {
                let _ = writeln!(out, "{i}\t[\"{a}\",\"{z}\")");
            }
        }
    })
    .await?;
    let copy_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    for (what, sql) in INDEXES {
        let ti = Instant::now();
        print!("  {what} ...");
        let _ = std::io::stdout().flush();
        sqlx::raw_sql(sql).execute(&mut *conn).await?;
        println!(" {:.1} s", ti.elapsed().as_secs_f64());
    }
    let index_s = t.elapsed().as_secs_f64();

    // Cross-check: the full answers (no LIMIT) equal the index's full answers.
    let slot_of: HashMap<UserId, i32> = helpers.iter().enumerate().filter_map(|(i, h)| Some((h.id, i32::try_from(i).ok()?))).collect();
    let d_midnight = cal.d_midnight();
    let to_check = queries.len().min(30);
    let (mut same, mut rows_total) = (0, 0usize);
    for (k, q) in queries.iter().take(to_check).enumerate() {
        let mut sql_rows: Vec<(i32, i64)> =
            fetch(conn, SQL, q, cal, i64::from(i32::MAX)).await?.iter().map(|r| (r.0, i64::from(r.2))).collect();
        let mut all = q.clone();
        all.limit = usize::MAX;
        let mut mem: Vec<(i32, i64)> = index
            .search(&all)
            .iter()
            .map(|m| {
                let id = slot_of.get(&m.helper).copied().unwrap_or(-1);
                (id, (m.earliest_start.as_second() - d_midnight) / 60)
            })
            .collect();
        sql_rows.sort_unstable();
        mem.sort_unstable();
        rows_total += mem.len();
        if sql_rows == mem {
            same += 1;
        } else if same + 3 > k {
            let only_sql: Vec<_> = sql_rows.iter().filter(|r| !mem.contains(r)).take(5).collect();
            let only_mem: Vec<_> = mem.iter().filter(|r| !sql_rows.contains(r)).take(5).collect();
            println!(
                "  cross-check query {k} differs: SQL {} rows, index {} rows; only SQL {only_sql:?}, only index {only_mem:?}",
                sql_rows.len(),
                mem.len()
            );
        }
    }
    println!(
        "  cross-check without LIMIT: {same}/{to_check} queries return the same helpers and earliest starts as the index (avg {:.0} eligible)",
        rows_total as f64 / to_check.max(1) as f64
    );

    // Server-side time and one plan.
    let mut server = Vec::new();
    let mut plan_file = String::new();
    for (k, q) in queries.iter().take(20).enumerate() {
        let explain = format!("EXPLAIN (ANALYZE, BUFFERS) {SQL}");
        let rows = bind(sqlx::query(AssertSqlSafe(explain)), q, cal, 10).fetch_all(&mut *conn).await?;
        let lines: Vec<String> = rows.iter().filter_map(|r| r.try_get(0).ok()).collect();
        if let Some(ms) = lines.iter().find_map(|l| l.trim().strip_prefix("Execution Time: ")?.strip_suffix(" ms")?.parse::<f64>().ok()) {
            server.push((ms * 1e6) as u64);
        }
        if k == 19 {
            let knn = format!("EXPLAIN (ANALYZE, BUFFERS) {SQL_KNN}");
            let rows = bind(sqlx::query(AssertSqlSafe(knn)), q, cal, 10).fetch_all(&mut *conn).await?;
            let knn_lines: Vec<String> = rows.iter().filter_map(|r| r.try_get(0).ok()).collect();
            let path = format!("{plan_dir}/postgis-plan-{label}.txt");
            let text = format!(
                "{SQL}\n\n-- EXPLAIN (ANALYZE, BUFFERS), one warm query:\n{}\n\n-- KNN-driven variant:\n{SQL_KNN}\n\n{}\n",
                lines.join("\n"),
                knn_lines.join("\n")
            );
            if std::fs::write(&path, text).is_ok() {
                plan_file = path;
            }
        }
    }

    // The KNN-driven variant must give the same 10 helpers in the same order.
    let mut knn_same = 0;
    for q in queries.iter().take(to_check) {
        let ids = |rows: Vec<(i32, f64, i32)>| rows.iter().map(|r| (r.0, r.2)).collect::<Vec<_>>();
        if ids(fetch(conn, SQL, q, cal, 10).await?) == ids(fetch(conn, SQL_KNN, q, cal, 10).await?) {
            knn_same += 1;
        }
    }
    println!("  KNN-driven variant: {knn_same}/{to_check} queries return the same 10 helpers in the same order");

    let n = n_queries.min(queries.len());
    let latency = timed(conn, SQL, "the issue's SQL", queries, cal, n).await?;
    let knn = timed(conn, SQL_KNN, "KNN-driven variant", queries, cal, n).await?;
    Ok(Report {
        version,
        copy_s,
        index_s,
        latency,
        server: Summary::of(server),
        knn,
        knn_same: (knn_same, to_check),
        validated: (same, to_check),
        avg_eligible: rows_total as f64 / to_check.max(1) as f64,
        plan_file,
    })
}

/// Round-trip latencies of `n` queries of a prepared statement with `LIMIT 10`, after a warm-up.
async fn timed(
    conn: &mut PgConnection,
    sql: &'static str,
    what: &str,
    queries: &[Query],
    cal: &Calendar,
    n: usize,
) -> anyhow::Result<Summary> {
    for q in queries.iter().skip(n).take(20) {
        fetch(conn, sql, q, cal, 10).await?;
    }
    print!("  {n} timed queries, {what} (prepared, LIMIT 10):");
    let mut progress = Progress::new(n);
    let mut lat = Vec::with_capacity(n);
    for (k, q) in queries.iter().take(n).enumerate() {
        let t = Instant::now();
        let rows = fetch(conn, sql, q, cal, 10).await?;
        lat.push(t.elapsed().as_nanos() as u64);
        if rows.len() > 10 {
            bail!("LIMIT 10 returned {} rows", rows.len());
        }
        progress.at(k + 1);
    }
    let s = Summary::of(lat);
    println!(" p50 {}, p99 {}", stats::ns(s.p50), stats::ns(s.p99));
    Ok(s)
}

/// COPY one table from rows written per helper, in chunks of about 1 MiB, with progress.
async fn copy(
    conn: &mut PgConnection,
    table: &str,
    columns: &str,
    helpers: &[HelperRecord],
    mut write: impl FnMut(usize, &HelperRecord, &mut String),
) -> anyhow::Result<u64> {
    let t = Instant::now();
    print!("  COPY {table}:");
    let _ = std::io::stdout().flush();
    let mut copy = conn.copy_in_raw(&format!("COPY {table} ({columns}) FROM STDIN")).await?;
    let mut buf = String::with_capacity(1 << 21);
    let mut progress = Progress::new(helpers.len());
    for (i, h) in helpers.iter().enumerate() {
        write(i, h, &mut buf);
        if buf.len() >= 1 << 20 {
            copy.send(buf.as_bytes()).await?;
            buf.clear();
        }
        progress.at(i + 1);
    }
    if !buf.is_empty() {
        copy.send(buf.as_bytes()).await?;
    }
    let rows = copy.finish().await?;
    println!(" -> {} rows in {:.1} s", stats::count(usize::try_from(rows).unwrap_or(0)), t.elapsed().as_secs_f64());
    Ok(rows)
}

type Args<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// Binds a query's parameters: place, area cell centre, skill bit, D's weekday and date, D's
/// local midnight and the limit.
fn bind<'q>(query: Args<'q>, q: &Query, cal: &Calendar, limit: i64) -> Args<'q> {
    let area = LatLng::new(q.place.lat(), q.place.lon())
        .map(|ll| LatLng::from(ll.to_cell(AREA_RES)))
        .unwrap_or_else(|_| LatLng::new(0.0, 0.0).expect("0/0 is valid"));
    let midnight = jiff::Timestamp::from_second(cal.d_midnight()).unwrap_or(cal.from).to_string();
    query
        .bind(q.place.lon())
        .bind(q.place.lat())
        .bind(area.lng())
        .bind(area.lat())
        .bind(world::skill_bit(&q.skill))
        .bind(i16::from(cal.day_d.weekday().to_monday_one_offset()))
        .bind(cal.day_d.to_string())
        .bind(midnight)
        .bind(limit)
}

/// Runs the prepared statement: rows of (helper, distance m, earliest start minute of D).
async fn fetch(conn: &mut PgConnection, sql: &'static str, q: &Query, cal: &Calendar, limit: i64) -> anyhow::Result<Vec<(i32, f64, i32)>> {
    let rows = bind(sqlx::query(sql), q, cal, limit).fetch_all(&mut *conn).await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect()
}
