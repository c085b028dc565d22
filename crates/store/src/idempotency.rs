//! Idempotency keys: the first request with a (user, key) claims the row, runs, and stores its
//! response; later requests with the same key get that response back instead of running again.
//!
//! Invariants:
//! - At most one request holds a claim on a (user, key) at a time: the claim is an
//!   `INSERT ... ON CONFLICT DO NOTHING` or a conditional `UPDATE` that takes over a dead row, and
//!   both are atomic on either backend, so two concurrent first requests cannot both run.
//! - A claim is identified by its `created_at` stamp; [`complete`] and [`abandon`] touch the row
//!   only while it still carries that claim, so a request that lost its claim (it ran longer than
//!   the stale limit and another took over) cannot overwrite the newer one.
//! - A row is dead, and may be taken over by any request with the key, when it is a claim older
//!   than the stale limit (the process died), a stored 5xx, or older than the retention (expired
//!   even if [`purge`] has not run yet).

use sqlx::AnyConnection;

use crate::StoreError;

/// A `started` row older than this (ms) is taken to belong to a request whose process died.
pub const STALE_AFTER_MS: i64 = 60_000;

/// Rows are kept (and replayed) for this long (ms), then expire.
pub const RETAIN_MS: i64 = 24 * 60 * 60 * 1000;

/// A response stored for replays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The HTTP status.
    pub status: u16,
    /// The headers that matter, as JSON text: `[["content-type", "application/json"], ...]`.
    pub headers: String,
    /// The exact body bytes.
    pub body: Vec<u8>,
}

/// A claim on a key, held by the request that runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// The row's `created_at` as written by this claim.
    pub stamp: i64,
}

/// What [`begin`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// This request holds the key now: run it, then [`complete`] or [`abandon`].
    Started(Claim),
    /// The key's first request is done: answer with its response.
    Replay(StoredResponse),
    /// The key was used for a different request (method, path or body).
    Mismatch,
    /// The key's first request is still running.
    InProgress,
}

#[derive(sqlx::FromRow)]
struct Row {
    fingerprint: String,
    state: String,
    status: Option<i64>,
    headers: Option<String>,
    body: Option<Vec<u8>>,
}

/// Claims `key` for `user` at `now` (epoch ms), or says why not. Run it in its own short
/// transaction (`Store::begin`) and commit before the request runs, so the claim is visible to
/// concurrent requests while it runs.
pub async fn begin(conn: &mut AnyConnection, user: &str, key: &str, fingerprint: &str, now: i64) -> Result<Begin, StoreError> {
    // A row can disappear between the statements (abandoned or purged): then try again.
    for _ in 0..3 {
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (user_id, key, fingerprint, state, status, headers, body, created_at, completed_at)
             VALUES ($1, $2, $3, 'started', NULL, NULL, NULL, $4, NULL)
             ON CONFLICT (user_id, key) DO NOTHING",
        )
        .bind(user)
        .bind(key)
        .bind(fingerprint)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(Begin::Started(Claim { stamp: now }));
        }

        // Take over a dead row. The new stamp is later than the old one, so the previous holder's
        // claim no longer matches.
        let taken: Option<(i64,)> = sqlx::query_as(
            "UPDATE idempotency_keys
             SET fingerprint = $3, state = 'started', status = NULL, headers = NULL, body = NULL,
                 created_at = CASE WHEN created_at >= $4 THEN created_at + 1 ELSE $4 END,
                 completed_at = NULL
             WHERE user_id = $1 AND key = $2
               AND ((state = 'started' AND created_at < $5)
                    OR (state = 'done' AND status >= 500)
                    OR created_at < $6)
             RETURNING created_at",
        )
        .bind(user)
        .bind(key)
        .bind(fingerprint)
        .bind(now)
        .bind(now - STALE_AFTER_MS)
        .bind(now - RETAIN_MS)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some((stamp,)) = taken {
            return Ok(Begin::Started(Claim { stamp }));
        }

        let row: Option<Row> = sqlx::query_as(
            "SELECT fingerprint, state, status, headers, body FROM idempotency_keys
             WHERE user_id = $1 AND key = $2",
        )
        .bind(user)
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else { continue };
        if row.fingerprint != fingerprint {
            return Ok(Begin::Mismatch);
        }
        return match (row.state.as_str(), row.status, row.headers, row.body) {
            ("started", ..) => Ok(Begin::InProgress),
            ("done", Some(status), Some(headers), Some(body)) => {
                let status = u16::try_from(status).map_err(|_| StoreError::Corrupt(format!("idempotency status {status}")))?;
                Ok(Begin::Replay(StoredResponse { status, headers, body }))
            }
            (state, ..) => Err(StoreError::Corrupt(format!("idempotency row in state {state}"))),
        };
    }
    // Only reachable if the row vanished three times in a row under our feet.
    Ok(Begin::InProgress)
}

/// Stores the response of the request holding `claim`. `false` when the claim was lost (the
/// row was taken over or purged meanwhile); nothing is changed then.
pub async fn complete(
    conn: &mut AnyConnection,
    user: &str,
    key: &str,
    claim: Claim,
    response: &StoredResponse,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE idempotency_keys SET state = 'done', status = $4, headers = $5, body = $6, completed_at = $7
         WHERE user_id = $1 AND key = $2 AND state = 'started' AND created_at = $3",
    )
    .bind(user)
    .bind(key)
    .bind(claim.stamp)
    .bind(i64::from(response.status))
    .bind(&response.headers)
    .bind(&response.body)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Releases the key after a failed attempt (a 5xx or a crash of the handler), so it may be
/// retried at once. `false` when the claim was already lost.
pub async fn abandon(conn: &mut AnyConnection, user: &str, key: &str, claim: Claim) -> Result<bool, StoreError> {
    let gone = sqlx::query(
        "DELETE FROM idempotency_keys
         WHERE user_id = $1 AND key = $2 AND state = 'started' AND created_at = $3",
    )
    .bind(user)
    .bind(key)
    .bind(claim.stamp)
    .execute(conn)
    .await?;
    Ok(gone.rows_affected() == 1)
}

/// Frees every unfinished claim made before `before` (epoch ms); returns how many. For the start
/// of the one process that serves a SQLite database: a claim's request cannot outlive its
/// process, so those claims belong to a process that died, and their keys may be retried at once
/// instead of after [`STALE_AFTER_MS`]. (Not for PostgreSQL, where other replicas' requests run.)
pub async fn release_orphaned(conn: &mut AnyConnection, before: i64) -> Result<u64, StoreError> {
    Ok(sqlx::query("DELETE FROM idempotency_keys WHERE state = 'started' AND created_at < $1")
        .bind(before)
        .execute(conn)
        .await?
        .rows_affected())
}

/// Deletes every row created before `before` (epoch ms); returns how many.
pub async fn purge(conn: &mut AnyConnection, before: i64) -> Result<u64, StoreError> {
    Ok(sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1").bind(before).execute(conn).await?.rows_affected())
}
