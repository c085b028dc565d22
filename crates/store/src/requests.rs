//! Requests offered to several helpers at once ("any helper nearby") and their offers.
//!
//! Invariant: a request is taken at most once: the taking is a conditional update from `open`,
//! so of any number of simultaneous accepts exactly one changes the row.

use crate::{Backend, Conn, StoreError};

/// A request row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RequestRow {
    /// UUIDv7; the booking made from it gets the same id.
    pub id: String,
    /// Who asks.
    pub customer_id: String,
    /// Catalogue slug.
    pub service_slug: String,
    /// Service name at request time.
    pub service_name: String,
    /// Where (shown to a helper only once they accepted).
    pub address: String,
    /// The place, for finding more candidates.
    pub lat: f64,
    /// The place.
    pub lon: f64,
    /// Epoch ms.
    pub starts_at: i64,
    /// Length of the visit.
    pub duration_minutes: i64,
    /// Extra units included.
    pub extra_units: i64,
    /// Price quoted.
    pub price_rappen: i64,
    /// The customer's zone.
    pub time_zone: String,
    /// open, taken, expired or cancelled.
    pub state: String,
    /// Offer round, from 1.
    pub round: i64,
    /// The helper who took it.
    pub winner_id: Option<String>,
    /// When the current round's offers expire (epoch ms).
    pub due_at: i64,
    /// Epoch ms.
    pub created_at: i64,
    /// Epoch ms.
    pub updated_at: i64,
    /// The locked quote, JSON.
    pub quote: String,
    /// The policy version pinned at request time.
    pub policy_version: i64,
}

const COLUMNS: &str = "id, customer_id, service_slug, service_name, address, lat, lon, starts_at, duration_minutes,
    extra_units, price_rappen, time_zone, state, round, winner_id, due_at, created_at, updated_at, quote, policy_version";

/// Stores a new request.
pub async fn insert(conn: &mut Conn, r: &RequestRow) -> Result<(), StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO requests ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
    ));
    sqlx::query(sql)
        .bind(&r.id)
        .bind(&r.customer_id)
        .bind(&r.service_slug)
        .bind(&r.service_name)
        .bind(&r.address)
        .bind(r.lat)
        .bind(r.lon)
        .bind(r.starts_at)
        .bind(r.duration_minutes)
        .bind(r.extra_units)
        .bind(r.price_rappen)
        .bind(&r.time_zone)
        .bind(&r.state)
        .bind(r.round)
        .bind(&r.winner_id)
        .bind(r.due_at)
        .bind(r.created_at)
        .bind(r.updated_at)
        .bind(&r.quote)
        .bind(r.policy_version)
        .execute(conn)
        .await?;
    Ok(())
}

/// One request.
pub async fn get(conn: &mut Conn, id: &str) -> Result<Option<RequestRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM requests WHERE id = $1"));
    Ok(sqlx::query_as(sql).bind(id).fetch_optional(conn).await?)
}

/// A customer's requests still open (not yet bookings), newest first.
pub async fn open_for_customer(conn: &mut Conn, customer_id: &str) -> Result<Vec<RequestRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM requests WHERE customer_id = $1 AND state = 'open' ORDER BY id DESC"));
    Ok(sqlx::query_as(sql).bind(customer_id).fetch_all(conn).await?)
}

/// Takes an open request for `helper`: `true` for exactly one caller, `false` for everyone after.
pub async fn take(conn: &mut Conn, id: &str, helper: &str, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query("UPDATE requests SET state = 'taken', winner_id = $2, updated_at = $3 WHERE id = $1 AND state = 'open'")
        .bind(id)
        .bind(helper)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Ends an open request (`expired` or `cancelled`); `false` if it was no longer open.
pub async fn close(conn: &mut Conn, id: &str, state: &str, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query("UPDATE requests SET state = $2, updated_at = $3, lease_until = NULL WHERE id = $1 AND state = 'open'")
        .bind(id)
        .bind(state)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Starts the next round: new due time, round + 1. Only for an open request.
pub async fn next_round(conn: &mut Conn, id: &str, round: i64, due_at: i64, now: i64) -> Result<bool, StoreError> {
    let r =
        sqlx::query("UPDATE requests SET round = $2, due_at = $3, updated_at = $4, lease_until = NULL WHERE id = $1 AND state = 'open'")
            .bind(id)
            .bind(round)
            .bind(due_at)
            .bind(now)
            .execute(conn)
            .await?;
    Ok(r.rows_affected() == 1)
}

/// Makes an open request due now (every offer of the round was declined).
pub async fn due_now(conn: &mut Conn, id: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE requests SET due_at = $2 WHERE id = $1 AND state = 'open'").bind(id).bind(now).execute(conn).await?;
    Ok(())
}

macro_rules! claim_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE requests SET lease_until = $1
             WHERE id IN (
                 SELECT id FROM requests
                 WHERE state = 'open' AND due_at <= $2 AND (lease_until IS NULL OR lease_until < $2)
                 ORDER BY due_at, id LIMIT $3 ",
            $lock,
            ") RETURNING id"
        )
    };
}

/// Claims open requests whose round is over, until `lease_until`.
pub async fn claim_due(conn: &mut Conn, backend: Backend, now: i64, lease_until: i64, limit: i64) -> Result<Vec<String>, StoreError> {
    let sql = match backend {
        Backend::Postgres => claim_sql!("FOR UPDATE SKIP LOCKED"),
        Backend::Sqlite => claim_sql!(""),
    };
    let rows: Vec<(String,)> = sqlx::query_as(sql).bind(lease_until).bind(now).bind(limit).fetch_all(conn).await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// An offer row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OfferRow {
    /// The request.
    pub request_id: String,
    /// The helper offered it.
    pub helper_id: String,
    /// Round it was made in.
    pub round: i64,
    /// open, accepted, lost, declined or expired.
    pub state: String,
    /// Epoch ms.
    pub expires_at: i64,
}

/// Offers a request to a helper.
pub async fn insert_offer(
    conn: &mut Conn,
    request_id: &str,
    helper_id: &str,
    round: i64,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO offers (request_id, helper_id, round, state, created_at, expires_at) VALUES ($1, $2, $3, 'open', $4, $5)")
        .bind(request_id)
        .bind(helper_id)
        .bind(round)
        .bind(now)
        .bind(expires_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Every helper a request was ever offered to.
pub async fn offered_helpers(conn: &mut Conn, request_id: &str) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT helper_id FROM offers WHERE request_id = $1").bind(request_id).fetch_all(conn).await?;
    Ok(rows.into_iter().map(|(h,)| h).collect())
}

/// The open offer of a request for a helper.
pub async fn open_offer(conn: &mut Conn, request_id: &str, helper_id: &str) -> Result<Option<OfferRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT request_id, helper_id, round, state, expires_at FROM offers WHERE request_id = $1 AND helper_id = $2 AND state = 'open'",
    )
    .bind(request_id)
    .bind(helper_id)
    .fetch_optional(conn)
    .await?)
}

/// The state of a helper's offer of a request (`None` if it was never offered to them).
pub async fn offer_state(conn: &mut Conn, request_id: &str, helper_id: &str) -> Result<Option<String>, StoreError> {
    let row: Option<(String,)> = sqlx::query_as("SELECT state FROM offers WHERE request_id = $1 AND helper_id = $2")
        .bind(request_id)
        .bind(helper_id)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|(s,)| s))
}

/// A helper's open offers with their requests, soonest first.
pub async fn open_offers_for(conn: &mut Conn, helper_id: &str, now: i64) -> Result<Vec<RequestRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM requests r JOIN offers o ON o.request_id = r.id
         WHERE o.helper_id = $1 AND o.state = 'open' AND r.state = 'open' AND o.expires_at > $2 ORDER BY r.starts_at",
        COLUMNS.split(',').map(|c| format!("r.{}", c.trim())).collect::<Vec<_>>().join(", ")
    ));
    Ok(sqlx::query_as(sql).bind(helper_id).bind(now).fetch_all(conn).await?)
}

/// Sets one offer's state (`accepted`, `declined`) if it is open.
pub async fn answer_offer(conn: &mut Conn, request_id: &str, helper_id: &str, state: &str, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query("UPDATE offers SET state = $3, answered_at = $4 WHERE request_id = $1 AND helper_id = $2 AND state = 'open'")
        .bind(request_id)
        .bind(helper_id)
        .bind(state)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Closes every still-open offer of a request with `state` (`lost` or `expired`).
pub async fn close_offers(conn: &mut Conn, request_id: &str, state: &str, now: i64) -> Result<u64, StoreError> {
    let r = sqlx::query("UPDATE offers SET state = $2, answered_at = $3 WHERE request_id = $1 AND state = 'open'")
        .bind(request_id)
        .bind(state)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(r.rows_affected())
}

/// Open offers left in a request's current round.
pub async fn open_offer_count(conn: &mut Conn, request_id: &str) -> Result<i64, StoreError> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM offers WHERE request_id = $1 AND state = 'open'").bind(request_id).fetch_one(conn).await?;
    Ok(n)
}
