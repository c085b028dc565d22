//! Helpers' weekly rules and exceptions, as stored. Rules are JSON text
//! (`[{"weekday":"mon","start_min":540,"end_min":720}]`) in local wall-clock minutes; the zone is
//! stored beside them.

use crate::{Conn, StoreError};

/// A helper's schedule row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ScheduleRow {
    /// The helper.
    pub user_id: String,
    /// IANA zone of the rules.
    pub time_zone: String,
    /// JSON array of rules.
    pub rules: String,
    /// 0/1.
    pub paused: i64,
    /// Minimum notice.
    pub min_notice_minutes: i64,
    /// Optional daily cap.
    pub max_jobs_per_day: Option<i64>,
    /// Travel buffer before each job.
    pub buffer_before_minutes: i64,
    /// Buffer after each job.
    pub buffer_after_minutes: i64,
    /// Epoch ms.
    pub updated_at: i64,
}

/// One exception row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExceptionRow {
    /// UUIDv7.
    pub id: String,
    /// The helper.
    pub user_id: String,
    /// `off` (no work on these dates) or `extra` (extra hours on that date).
    pub kind: String,
    /// First local date, ISO.
    pub date_from: String,
    /// Last local date (inclusive), ISO.
    pub date_to: String,
    /// Extra hours start, minutes after local midnight.
    pub start_min: Option<i64>,
    /// Extra hours end.
    pub end_min: Option<i64>,
    /// Epoch ms.
    pub created_at: i64,
}

/// Creates or replaces a schedule.
pub async fn put_schedule(conn: &mut Conn, s: &ScheduleRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO helper_schedules (user_id, time_zone, rules, paused, min_notice_minutes, max_jobs_per_day,
             buffer_before_minutes, buffer_after_minutes, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (user_id) DO UPDATE SET time_zone = excluded.time_zone, rules = excluded.rules,
             paused = excluded.paused, min_notice_minutes = excluded.min_notice_minutes,
             max_jobs_per_day = excluded.max_jobs_per_day, buffer_before_minutes = excluded.buffer_before_minutes,
             buffer_after_minutes = excluded.buffer_after_minutes, updated_at = excluded.updated_at",
    )
    .bind(&s.user_id)
    .bind(&s.time_zone)
    .bind(&s.rules)
    .bind(s.paused)
    .bind(s.min_notice_minutes)
    .bind(s.max_jobs_per_day)
    .bind(s.buffer_before_minutes)
    .bind(s.buffer_after_minutes)
    .bind(s.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

const SCHEDULE_COLUMNS: &str = "user_id, time_zone, rules, paused, min_notice_minutes, max_jobs_per_day,
    buffer_before_minutes, buffer_after_minutes, updated_at";

/// One helper's schedule.
pub async fn schedule(conn: &mut Conn, user_id: &str) -> Result<Option<ScheduleRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {SCHEDULE_COLUMNS} FROM helper_schedules WHERE user_id = $1"));
    Ok(sqlx::query_as(sql).bind(user_id).fetch_optional(conn).await?)
}

/// Every schedule (for building the index).
pub async fn all_schedules(conn: &mut Conn) -> Result<Vec<ScheduleRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {SCHEDULE_COLUMNS} FROM helper_schedules"));
    Ok(sqlx::query_as(sql).fetch_all(conn).await?)
}

/// Adds an exception.
pub async fn insert_exception(conn: &mut Conn, e: &ExceptionRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO helper_exceptions (id, user_id, kind, date_from, date_to, start_min, end_min, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&e.id)
    .bind(&e.user_id)
    .bind(&e.kind)
    .bind(&e.date_from)
    .bind(&e.date_to)
    .bind(e.start_min)
    .bind(e.end_min)
    .bind(e.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes one of a helper's exceptions; `false` if it was not theirs or did not exist.
pub async fn delete_exception(conn: &mut Conn, user_id: &str, id: &str) -> Result<bool, StoreError> {
    let r = sqlx::query("DELETE FROM helper_exceptions WHERE id = $1 AND user_id = $2").bind(id).bind(user_id).execute(conn).await?;
    Ok(r.rows_affected() == 1)
}

const EXCEPTION_COLUMNS: &str = "id, user_id, kind, date_from, date_to, start_min, end_min, created_at";

/// A helper's exceptions ending on or after `from_date` (ISO), oldest first.
pub async fn exceptions(conn: &mut Conn, user_id: &str, from_date: &str) -> Result<Vec<ExceptionRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {EXCEPTION_COLUMNS} FROM helper_exceptions WHERE user_id = $1 AND date_to >= $2 ORDER BY date_from, id"
    ));
    Ok(sqlx::query_as(sql).bind(user_id).bind(from_date).fetch_all(conn).await?)
}

/// Every exception ending on or after `from_date` (for building the index).
pub async fn all_exceptions(conn: &mut Conn, from_date: &str) -> Result<Vec<ExceptionRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {EXCEPTION_COLUMNS} FROM helper_exceptions WHERE date_to >= $1"));
    Ok(sqlx::query_as(sql).bind(from_date).fetch_all(conn).await?)
}

/// Notes that a helper's matching data changed (inside the writing transaction), so other
/// replicas reload that helper.
pub async fn record_change(conn: &mut Conn, helper_id: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO helper_changes (helper_id, at) VALUES ($1, $2)").bind(helper_id).bind(now).execute(conn).await?;
    Ok(())
}

/// Changes recorded at or after `since` (epoch ms): (sequence number, helper id).
pub async fn changed_since(conn: &mut Conn, since: i64) -> Result<Vec<(i64, String)>, StoreError> {
    Ok(sqlx::query_as("SELECT seq, helper_id FROM helper_changes WHERE at >= $1 ORDER BY seq").bind(since).fetch_all(conn).await?)
}

/// Forgets changes older than `before` (epoch ms).
pub async fn prune_changes(conn: &mut Conn, before: i64) -> Result<u64, StoreError> {
    Ok(sqlx::query("DELETE FROM helper_changes WHERE at < $1").bind(before).execute(conn).await?.rows_affected())
}
