//! The outbox: messages written in the same transaction as the change that caused them, delivered
//! later by a worker that claims rows with a lease.
//!
//! Invariant: a row is claimed by at most one worker at a time (PostgreSQL `FOR UPDATE SKIP
//! LOCKED`; SQLite's single writer), and a claim whose lease ran out may be taken again, so a
//! worker that dies never strands a message. Every claim carries a fresh token (`lease_owner`):
//! renewing the lease and recording the outcome require it, so a worker that stalled past its
//! lease and was taken over can neither extend nor finish the rows it lost.

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
            "UPDATE outbox SET state = 'sending', lease_until = $1, lease_owner = $4, attempts = attempts + 1
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

/// Claims up to `limit` due messages until `lease_until` (epoch ms) for `owner`, a token that
/// must be new for every claim (the fence: see [`renew`], [`mark_sent`]). Due are pending
/// messages whose time has come and messages whose claim ran out (their worker died or stalled);
/// each claim counts as an attempt.
pub async fn claim(
    conn: &mut AnyConnection,
    backend: Backend,
    now: i64,
    lease_until: i64,
    limit: i64,
    owner: &str,
) -> Result<Vec<OutboxRow>, StoreError> {
    let sql = match backend {
        Backend::Postgres => claim_sql!("FOR UPDATE SKIP LOCKED"),
        Backend::Sqlite => claim_sql!(""),
    };
    Ok(sqlx::query_as(sql).bind(lease_until).bind(now).bind(limit).bind(owner).fetch_all(conn).await?)
}

/// Extends the lease of every message `owner` still holds (claimed and not yet finished) to
/// `lease_until`; returns their ids. A message missing from the answer was taken over by another
/// worker after this claim ran out, and must not be sent by this one.
pub async fn renew(conn: &mut AnyConnection, owner: &str, lease_until: i64) -> Result<Vec<String>, StoreError> {
    let ids: Vec<(String,)> =
        sqlx::query_as("UPDATE outbox SET lease_until = $2 WHERE state = 'sending' AND lease_owner = $1 RETURNING id")
            .bind(owner)
            .bind(lease_until)
            .fetch_all(conn)
            .await?;
    Ok(ids.into_iter().map(|(id,)| id).collect())
}

/// Records a delivery. Only the current claim holder can: `false` when `owner` no longer holds
/// the message (its lease ran out and another worker took it over).
pub async fn mark_sent(conn: &mut AnyConnection, id: &str, owner: &str, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE outbox SET state = 'sent', sent_at = $3, lease_until = NULL, last_error = NULL
         WHERE id = $1 AND state = 'sending' AND lease_owner = $2",
    )
    .bind(id)
    .bind(owner)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Schedules another try at `next_attempt_at`; `false` when `owner` no longer holds the message.
pub async fn mark_retry(conn: &mut AnyConnection, id: &str, owner: &str, next_attempt_at: i64, error: &str) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE outbox SET state = 'pending', next_attempt_at = $3, lease_until = NULL, last_error = $4
         WHERE id = $1 AND state = 'sending' AND lease_owner = $2",
    )
    .bind(id)
    .bind(owner)
    .bind(next_attempt_at)
    .bind(error)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Gives up on a message: it goes to the dead letters for an operator to look at. `false` when
/// `owner` no longer holds the message.
pub async fn mark_dead(conn: &mut AnyConnection, id: &str, owner: &str, error: &str) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE outbox SET state = 'dead', lease_until = NULL, last_error = $3 WHERE id = $1 AND state = 'sending' AND lease_owner = $2",
    )
    .bind(id)
    .bind(owner)
    .bind(error)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Puts a dead-lettered message back in the queue, due at `now`, with its attempts reset (an
/// operator's retry). `false` when there is no such message or it is not dead.
pub async fn retry_dead(conn: &mut AnyConnection, id: &str, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = $2, lease_until = NULL, lease_owner = NULL
         WHERE id = $1 AND state = 'dead'",
    )
    .bind(id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

const COLUMNS: &str = "id, channel, template, recipient_id, recipient_email, recipient_name, locale, payload, state, attempts, \
     next_attempt_at, last_error, created_at";

/// One message by id.
pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<OutboxRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM outbox WHERE id = $1"));
    Ok(sqlx::query_as(sql).bind(id).fetch_optional(conn).await?)
}

/// Messages newest first (by id, a UUIDv7), optionally in one state, strictly older than
/// `cursor` (the last id of the previous page).
pub async fn list(conn: &mut AnyConnection, state: Option<&str>, cursor: Option<&str>, limit: i64) -> Result<Vec<OutboxRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM outbox WHERE ($1 IS NULL OR state = $1) AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
    ));
    Ok(sqlx::query_as(sql).bind(state).bind(cursor).bind(limit).fetch_all(conn).await?)
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
