//! Durable timers: offer and request expiry, reminders. Stored with their due time and claimed with
//! a lease like the outbox, so they fire after a restart, once, and a worker that dies mid-way
//! never strands one.

use crate::{Backend, Conn, StoreError};

/// A timer row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TimerRow {
    /// UUIDv7.
    pub id: String,
    /// The booking it acts on.
    pub booking_id: String,
    /// `quartier_booking::Timer` name.
    pub kind: String,
    /// Epoch ms.
    pub due_at: i64,
    /// Tries so far.
    pub attempts: i64,
}

/// Schedules a timer (inside the caller's transaction).
pub async fn insert(conn: &mut Conn, id: &str, booking_id: &str, kind: &str, due_at: i64, now: i64) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO timers (id, booking_id, kind, due_at, state, attempts, created_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5)")
        .bind(id)
        .bind(booking_id)
        .bind(kind)
        .bind(due_at)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

macro_rules! claim_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE timers SET state = 'running', lease_until = $1, attempts = attempts + 1
             WHERE id IN (
                 SELECT id FROM timers
                 WHERE (state = 'pending' AND due_at <= $2) OR (state = 'running' AND lease_until < $2)
                 ORDER BY due_at, id LIMIT $3 ",
            $lock,
            ") RETURNING id, booking_id, kind, due_at, attempts"
        )
    };
}

/// Claims up to `limit` due timers until `lease_until`.
pub async fn claim(conn: &mut Conn, backend: Backend, now: i64, lease_until: i64, limit: i64) -> Result<Vec<TimerRow>, StoreError> {
    let sql = match backend {
        Backend::Postgres => claim_sql!("FOR UPDATE SKIP LOCKED"),
        Backend::Sqlite => claim_sql!(""),
    };
    Ok(sqlx::query_as(sql).bind(lease_until).bind(now).bind(limit).fetch_all(conn).await?)
}

/// Records a timer's outcome: `done` (it acted) or `skipped` (the booking had moved on). Only a
/// running claim is closed, so a timer is never closed twice.
pub async fn finish(conn: &mut Conn, id: &str, outcome: &str, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query("UPDATE timers SET state = $2, done_at = $3, lease_until = NULL WHERE id = $1 AND state = 'running'")
        .bind(id)
        .bind(outcome)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Puts a timer back for another try at `at`.
pub async fn retry(conn: &mut Conn, id: &str, at: i64, error: &str) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE timers SET state = 'pending', due_at = $2, lease_until = NULL, last_error = $3 WHERE id = $1 AND state = 'running'",
    )
    .bind(id)
    .bind(at)
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}

/// Skips every pending timer of a booking of the given kinds (e.g. old reminders after a reschedule).
pub async fn cancel_pending(conn: &mut Conn, booking_id: &str, kind: &str, now: i64) -> Result<u64, StoreError> {
    let r = sqlx::query("UPDATE timers SET state = 'skipped', done_at = $3 WHERE booking_id = $1 AND kind = $2 AND state = 'pending'")
        .bind(booking_id)
        .bind(kind)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(r.rows_affected())
}

/// Timers by state: (state, count).
pub async fn counts(conn: &mut Conn) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(sqlx::query_as("SELECT state, COUNT(*) FROM timers GROUP BY state ORDER BY state").fetch_all(conn).await?)
}

/// A booking's timers: (kind, state, due_at).
pub async fn of_booking(conn: &mut Conn, booking_id: &str) -> Result<Vec<(String, String, i64)>, StoreError> {
    Ok(sqlx::query_as("SELECT kind, state, due_at FROM timers WHERE booking_id = $1 ORDER BY due_at, id")
        .bind(booking_id)
        .fetch_all(conn)
        .await?)
}
