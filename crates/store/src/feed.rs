//! The in-app feed.
//!
//! Invariant: feed rows are written in the same transaction as the state change they report, so
//! the feed and the stream never show a change that did not commit.

use crate::{Conn, StoreError};

/// A feed row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FeedRow {
    /// Sequence number (the stream's event id).
    pub seq: i64,
    /// The recipient.
    pub user_id: String,
    /// The notice's template key, e.g. `booking_requested`.
    pub kind: String,
    /// The booking (or request) it is about.
    pub booking_id: Option<String>,
    /// Title in the recipient's language.
    pub title: String,
    /// Text in the recipient's language.
    pub body: String,
    /// Epoch ms.
    pub created_at: i64,
    /// Epoch ms, once read.
    pub read_at: Option<i64>,
}

/// Adds a notice to a user's feed.
pub async fn insert(
    conn: &mut Conn,
    user_id: &str,
    kind: &str,
    booking_id: Option<&str>,
    title: &str,
    body: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO notifications (user_id, kind, booking_id, title, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(user_id)
        .bind(kind)
        .bind(booking_id)
        .bind(title)
        .bind(body)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

const COLUMNS: &str = "seq, user_id, kind, booking_id, title, body, created_at, read_at";

/// A page of a user's feed, newest first, before `before` (a seq), optionally unread only.
pub async fn page(conn: &mut Conn, user_id: &str, unread_only: bool, before: Option<i64>, limit: i64) -> Result<Vec<FeedRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM notifications WHERE user_id = $1 AND ($2 = 0 OR read_at IS NULL) AND ($3 IS NULL OR seq < $3)
         ORDER BY seq DESC LIMIT $4"
    ));
    Ok(sqlx::query_as(sql).bind(user_id).bind(i64::from(unread_only)).bind(before).bind(limit).fetch_all(conn).await?)
}

/// A user's feed rows after `seq`, oldest first (for the stream).
pub async fn after(conn: &mut Conn, user_id: &str, seq: i64, limit: i64) -> Result<Vec<FeedRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM notifications WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"));
    Ok(sqlx::query_as(sql).bind(user_id).bind(seq).bind(limit).fetch_all(conn).await?)
}

/// The newest sequence number of a user's feed (0 when empty).
pub async fn latest(conn: &mut Conn, user_id: &str) -> Result<i64, StoreError> {
    let (n,): (Option<i64>,) =
        sqlx::query_as("SELECT MAX(seq) FROM notifications WHERE user_id = $1").bind(user_id).fetch_one(conn).await?;
    Ok(n.unwrap_or(0))
}

/// Unread count.
pub async fn unread(conn: &mut Conn, user_id: &str) -> Result<i64, StoreError> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL").bind(user_id).fetch_one(conn).await?;
    Ok(n)
}

/// Marks notices read: the given ones, or all when `seqs` is empty. Returns how many changed.
pub async fn mark_read(conn: &mut Conn, user_id: &str, seqs: &[i64], now: i64) -> Result<u64, StoreError> {
    if seqs.is_empty() {
        let r = sqlx::query("UPDATE notifications SET read_at = $2 WHERE user_id = $1 AND read_at IS NULL")
            .bind(user_id)
            .bind(now)
            .execute(conn)
            .await?;
        return Ok(r.rows_affected());
    }
    let mut n = 0;
    for s in seqs {
        let r = sqlx::query("UPDATE notifications SET read_at = $3 WHERE user_id = $1 AND seq = $2 AND read_at IS NULL")
            .bind(user_id)
            .bind(s)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        n += r.rows_affected();
    }
    Ok(n)
}
