//! The outbox: messages written in the same transaction as the change that caused them, delivered
//! later by a worker that claims rows with a lease.
//!
//! Invariant: a row is claimed by at most one worker at a time (PostgreSQL `FOR UPDATE SKIP
//! LOCKED`; SQLite's single writer), and a claim whose lease ran out may be taken again, so a
//! worker that dies never strands a message.

use sqlx::AnyConnection;

use crate::{Backend, StoreError};

/// An outbox row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxRow {
    /// UUIDv7; also the stable part of the e-mail's Message-ID.
    pub id: String,
    /// `email`.
    pub channel: String,
    /// Template key, e.g. `booking_accepted`.
    pub template: String,
    /// Recipient's user id.
    pub recipient_id: Option<String>,
    /// Where to send.
    pub recipient_email: String,
    /// Recipient's display name.
    pub recipient_name: String,
    /// Recipient's language.
    pub locale: String,
    /// JSON the template needs.
    pub payload: String,
    /// pending, sending, sent or dead.
    pub state: String,
    /// Tries so far.
    pub attempts: i64,
    /// Epoch ms.
    pub next_attempt_at: i64,
    /// Last error text (for operators).
    pub last_error: Option<String>,
    /// Epoch ms.
    pub created_at: i64,
}

/// Queues a message (inside the caller's transaction).
pub async fn insert(conn: &mut AnyConnection, r: &OutboxRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO outbox (id, channel, template, recipient_id, recipient_email, recipient_name, locale, payload,
             state, attempts, next_attempt_at, lease_until, last_error, created_at, sent_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $9, NULL, NULL, $10, NULL)",
    )
    .bind(&r.id)
    .bind(&r.channel)
    .bind(&r.template)
    .bind(&r.recipient_id)
    .bind(&r.recipient_email)
    .bind(&r.recipient_name)
    .bind(&r.locale)
    .bind(&r.payload)
    .bind(r.next_attempt_at)
    .bind(r.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

macro_rules! claim_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE outbox SET state = 'sending', lease_until = $1, attempts = attempts + 1
             WHERE id IN (
                 SELECT id FROM outbox
                 WHERE (state = 'pending' AND next_attempt_at <= $2) OR (state = 'sending' AND lease_until < $2)
                 ORDER BY next_attempt_at, id LIMIT $3 ",
            $lock,
            ")
             RETURNING id, channel, template, recipient_id, recipient_email, recipient_name, locale, payload,
                 state, attempts, next_attempt_at, last_error, created_at"
        )
    };
}

/// Claims up to `limit` due messages until `lease_until` (epoch ms).
pub async fn claim(
    conn: &mut AnyConnection,
    backend: Backend,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<OutboxRow>, StoreError> {
    let sql = match backend {
        Backend::Postgres => claim_sql!("FOR UPDATE SKIP LOCKED"),
        Backend::Sqlite => claim_sql!(""),
    };
    Ok(sqlx::query_as(sql).bind(lease_until).bind(now).bind(limit).fetch_all(conn).await?)
}

/// Records a delivery. Only the current claim holder's row is changed.
pub async fn mark_sent(conn: &mut AnyConnection, id: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE outbox SET state = 'sent', sent_at = $2, lease_until = NULL, last_error = NULL WHERE id = $1 AND state = 'sending'",
    )
    .bind(id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Schedules another try at `next_attempt_at`.
pub async fn mark_retry(conn: &mut AnyConnection, id: &str, next_attempt_at: i64, error: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE outbox SET state = 'pending', next_attempt_at = $2, lease_until = NULL, last_error = $3 WHERE id = $1 AND state = 'sending'")
        .bind(id)
        .bind(next_attempt_at)
        .bind(error)
        .execute(conn)
        .await?;
    Ok(())
}

/// Gives up on a message: it goes to the dead letters for an operator to look at.
pub async fn mark_dead(conn: &mut AnyConnection, id: &str, error: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE outbox SET state = 'dead', lease_until = NULL, last_error = $2 WHERE id = $1 AND state = 'sending'")
        .bind(id)
        .bind(error)
        .execute(conn)
        .await?;
    Ok(())
}

/// Messages by state: (state, count).
pub async fn counts(conn: &mut AnyConnection) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(sqlx::query_as("SELECT state, COUNT(*) FROM outbox GROUP BY state ORDER BY state").fetch_all(conn).await?)
}

/// The earliest time any pending message is due, if any.
pub async fn next_due(conn: &mut AnyConnection) -> Result<Option<i64>, StoreError> {
    let (t,): (Option<i64>,) = sqlx::query_as("SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'pending'").fetch_one(conn).await?;
    Ok(t)
}
