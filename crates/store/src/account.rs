//! A person's own data: export (every row about them, table by table, columns found at run time
//! so a new column is never forgotten) and erasure (their identity and every text they wrote or
//! that names them replaced; the ledger keeps its ids and amounts, as the law requires).
//!
//! Invariant: erasure runs in one transaction and refuses while the person has visits or requests
//! in progress or an open dispute, so no one else's running visit loses its data.

use std::collections::BTreeMap;

use sqlx::Row;

use crate::{Backend, Conn, StoreError};

/// The password hash of an erased account: matches no password, and marks the account as gone.
pub const ERASED: &str = "!erased";

/// Whether the account exists and has not been erased (checked on every signed-in request, so
/// an erased person's access token stops working at once).
pub async fn is_active(conn: &mut Conn, user_id: &str) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE id = $1 AND password_hash <> $2")
        .bind(user_id)
        .bind(ERASED)
        .fetch_one(conn)
        .await?;
    Ok(n > 0)
}

/// Columns never exported: secrets and raw bytes.
const HIDDEN: [&str; 4] = ["password_hash", "token_hash", "data", "body_bytes"];

/// Which rows of each table are the person's (`$1` is their id).
const OWN: [(&str, &str); 16] = [
    ("users", "id = $1"),
    ("helper_profiles", "user_id = $1"),
    ("helper_schedules", "user_id = $1"),
    ("helper_exceptions", "user_id = $1"),
    ("helper_applications", "user_id = $1"),
    ("helper_billing", "user_id = $1"),
    ("bookings", "customer_id = $1 OR helper_id = $1"),
    ("booking_events", "booking_id IN (SELECT id FROM bookings WHERE customer_id = $1 OR helper_id = $1)"),
    ("messages", "booking_id IN (SELECT id FROM bookings WHERE customer_id = $1 OR helper_id = $1)"),
    ("reviews", "author_id = $1"),
    ("requests", "customer_id = $1"),
    ("offers", "helper_id = $1"),
    ("notifications", "user_id = $1"),
    ("disputes", "booking_id IN (SELECT id FROM bookings WHERE customer_id = $1 OR helper_id = $1)"),
    ("dispute_photos", "uploaded_by = $1"),
    ("ledger_transactions", "booking_id IN (SELECT id FROM bookings WHERE customer_id = $1 OR helper_id = $1)"),
];

/// The column names of a table, in order.
pub async fn columns(conn: &mut Conn, backend: Backend, table: &str) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> = match backend {
        Backend::Sqlite => sqlx::query_as("SELECT name FROM pragma_table_info($1) ORDER BY cid").bind(table).fetch_all(conn).await?,
        Backend::Postgres => {
            sqlx::query_as(
                "SELECT CAST(column_name AS TEXT) FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            )
            .bind(table)
            .fetch_all(conn)
            .await?
        }
    };
    Ok(rows.into_iter().map(|(c,)| c).collect())
}

/// Every table of the schema (except the migrations' own).
pub async fn tables(conn: &mut Conn, backend: Backend) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> =
        match backend {
            Backend::Sqlite => sqlx::query_as(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%' ORDER BY name",
            )
            .fetch_all(conn)
            .await?,
            Backend::Postgres => {
                sqlx::query_as(
                    "SELECT CAST(table_name AS TEXT) FROM information_schema.tables
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name NOT LIKE '_sqlx%' ORDER BY table_name",
                )
                .fetch_all(conn)
                .await?
            }
        };
    Ok(rows.into_iter().map(|(t,)| t).collect())
}

/// Rows of `table` matching `filter` (with `$1` bound to `arg`), every column as text.
pub async fn rows_as_text(
    conn: &mut Conn,
    backend: Backend,
    table: &str,
    filter: &str,
    arg: &str,
    skip: &[&str],
) -> Result<Vec<BTreeMap<String, Option<String>>>, StoreError> {
    let cols: Vec<String> = columns(conn, backend, table).await?.into_iter().filter(|c| !skip.contains(&c.as_str())).collect();
    if cols.is_empty() {
        return Ok(Vec::new());
    }
    let select = cols.iter().map(|c| format!("CAST({c} AS TEXT) AS {c}")).collect::<Vec<_>>().join(", ");
    let sql = sqlx::AssertSqlSafe(format!("SELECT {select} FROM {table} WHERE {filter}"));
    let rows = sqlx::query(sql).bind(arg).fetch_all(conn).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut m = BTreeMap::new();
        for (i, c) in cols.iter().enumerate() {
            m.insert(c.clone(), row.try_get::<Option<String>, _>(i)?);
        }
        out.push(m);
    }
    Ok(out)
}

/// Everything stored about the person, by table.
pub async fn export(
    conn: &mut Conn,
    backend: Backend,
    user_id: &str,
) -> Result<BTreeMap<String, Vec<BTreeMap<String, Option<String>>>>, StoreError> {
    let mut out = BTreeMap::new();
    for (table, filter) in OWN {
        out.insert(table.to_owned(), rows_as_text(conn, backend, table, filter, user_id, &HIDDEN).await?);
    }
    // Ledger lines of their bookings (amounts by account).
    let postings = rows_as_text(
        conn,
        backend,
        "ledger_postings",
        "transaction_id IN (SELECT t.id FROM ledger_transactions t JOIN bookings b ON b.id = t.booking_id WHERE b.customer_id = $1 OR b.helper_id = $1)",
        user_id,
        &HIDDEN,
    )
    .await?;
    out.insert("ledger_postings".to_owned(), postings);
    Ok(out)
}

/// Why erasure was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EraseBlock {
    /// A visit or request is still in progress.
    ActiveBookings,
    /// A dispute about one of their visits is open.
    OpenDispute,
}

/// Free-text columns where a person's name, e-mail or address may appear in others' rows.
const TEXT_COLUMNS: [(&str, &str); 16] = [
    ("outbox", "recipient_name"),
    ("outbox", "recipient_email"),
    ("outbox", "payload"),
    ("notifications", "title"),
    ("notifications", "body"),
    ("bookings", "address"),
    ("requests", "address"),
    ("booking_events", "note"),
    ("messages", "body"),
    ("reviews", "body"),
    ("disputes", "text"),
    ("disputes", "customer_statement"),
    ("disputes", "helper_statement"),
    ("disputes", "decision_note"),
    ("audit_log", "reason"),
    ("ledger_transactions", "detail"),
];

/// Erases a person: their identity, profile, schedule, application, billing details, sessions,
/// feed, stored replies, photos and texts; every mention of their name, e-mail or addresses in
/// other rows is replaced by `[erased]`. Bookings, reviews' ratings and the ledger stay with
/// their ids and amounts. Returns the ids of the other people whose rows were touched.
pub async fn erase(conn: &mut Conn, user_id: &str, now: i64) -> Result<Result<(), EraseBlock>, StoreError> {
    let active: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM bookings WHERE (customer_id = $1 OR helper_id = $1)
           AND state IN ('requested', 'accepted', 'confirmed', 'en_route', 'on_site')",
    )
    .bind(user_id)
    .fetch_one(&mut *conn)
    .await?;
    let open_requests: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM requests WHERE customer_id = $1 AND state = 'open'")
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await?;
    if active + open_requests > 0 {
        return Ok(Err(EraseBlock::ActiveBookings));
    }
    let disputes: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM disputes WHERE status = 'open'
           AND booking_id IN (SELECT id FROM bookings WHERE customer_id = $1 OR helper_id = $1)",
    )
    .bind(user_id)
    .fetch_one(&mut *conn)
    .await?;
    if disputes > 0 {
        return Ok(Err(EraseBlock::OpenDispute));
    }

    // What identifies them, to be swept from everyone's rows.
    let (email, name): (String, String) =
        sqlx::query_as("SELECT email, name FROM users WHERE id = $1").bind(user_id).fetch_one(&mut *conn).await?;
    let mut markers = vec![email, name];
    let addresses: Vec<(String,)> =
        sqlx::query_as("SELECT address FROM bookings WHERE customer_id = $1 UNION SELECT address FROM requests WHERE customer_id = $1")
            .bind(user_id)
            .fetch_all(&mut *conn)
            .await?;
    markers.extend(addresses.into_iter().map(|(a,)| a));
    let private: Option<(String, String)> = sqlx::query_as("SELECT legal_name, iban FROM helper_applications WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?;
    if let Some((legal, iban)) = private {
        markers.push(legal);
        markers.push(iban);
    }
    let billing: Option<(String,)> =
        sqlx::query_as("SELECT iban FROM helper_billing WHERE user_id = $1").bind(user_id).fetch_optional(&mut *conn).await?;
    markers.extend(billing.map(|(i,)| i));
    markers.retain(|m| m.trim().chars().count() >= 3);
    markers.sort_by_key(|m| std::cmp::Reverse(m.len()));
    markers.dedup();

    // Their own rows.
    for sql in [
        "DELETE FROM refresh_tokens WHERE user_id = $1",
        "DELETE FROM idempotency_keys WHERE user_id = $1",
        "DELETE FROM notifications WHERE user_id = $1",
        "DELETE FROM helper_exceptions WHERE user_id = $1",
        "DELETE FROM helper_schedules WHERE user_id = $1",
        "DELETE FROM helper_profiles WHERE user_id = $1",
        "DELETE FROM helper_applications WHERE user_id = $1",
        "DELETE FROM helper_billing WHERE user_id = $1",
        "DELETE FROM dispute_photos WHERE uploaded_by = $1",
        "DELETE FROM outbox WHERE recipient_id = $1 AND state <> 'sending'",
        "UPDATE messages SET body = '[erased]' WHERE author_id = $1",
        "UPDATE reviews SET body = '' WHERE author_id = $1",
        "UPDATE bookings SET start_code = '', signoff_code = '' WHERE customer_id = $1 OR helper_id = $1",
    ] {
        sqlx::query(sql).bind(user_id).execute(&mut *conn).await?;
    }
    // Stored replies of the people they dealt with may quote them (kept 24 h for retries).
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE user_id IN (
            SELECT helper_id FROM bookings WHERE customer_id = $1 UNION SELECT customer_id FROM bookings WHERE helper_id = $1)",
    )
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE users SET email = $2, name = 'Erased user', password_hash = '!erased', updated_at = $3 WHERE id = $1")
        .bind(user_id)
        .bind(format!("erased-{user_id}@erased.invalid"))
        .bind(now)
        .execute(&mut *conn)
        .await?;
    // Stored replies (kept 24 h for retries) are bytes: any that quotes them goes, whoever's it
    // was (an operator's decision on their dispute or application, say).
    let stored: Vec<(String, String, Vec<u8>)> =
        sqlx::query_as("SELECT user_id, key, body FROM idempotency_keys WHERE body IS NOT NULL").fetch_all(&mut *conn).await?;
    for (owner, key, body) in stored {
        if markers.iter().any(|m| body.windows(m.len()).any(|w| w == m.as_bytes())) {
            sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2").bind(owner).bind(key).execute(&mut *conn).await?;
        }
    }
    // Every mention elsewhere.
    for marker in &markers {
        for (table, column) in TEXT_COLUMNS {
            let sql = sqlx::AssertSqlSafe(format!(
                "UPDATE {table} SET {column} = REPLACE({column}, $1, '[erased]') WHERE {column} IS NOT NULL AND REPLACE({column}, $1, '[erased]') <> {column}"
            ));
            sqlx::query(sql).bind(marker).execute(&mut *conn).await?;
        }
    }
    Ok(Ok(()))
}
