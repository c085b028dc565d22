//! Bookings and their timelines.
//!
//! Invariant: a helper never holds two overlapping bookings in a time-holding state; the database
//! enforces it (PostgreSQL exclusion constraint, SQLite trigger) and a violation surfaces as
//! [`StoreError::SlotTaken`].

use crate::{Conn, StoreError};

/// A booking row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BookingRow {
    /// UUIDv7.
    pub id: String,
    /// Who booked.
    pub customer_id: String,
    /// Who does the job.
    pub helper_id: String,
    /// Catalogue slug.
    pub service_slug: String,
    /// Service name at booking time.
    pub service_name: String,
    /// The customer's address; shown to the helper only once accepted.
    pub address: String,
    /// Epoch ms.
    pub starts_at: i64,
    /// Epoch ms.
    pub ends_at: i64,
    /// Start of the helper's busy time (travel buffer included), epoch ms.
    pub blocked_from: i64,
    /// End of the helper's busy time, epoch ms.
    pub blocked_to: i64,
    /// IANA zone of the visit.
    pub time_zone: String,
    /// `quartier_booking::State` name.
    pub state: String,
    /// Price locked at booking time.
    pub price_rappen: i64,
    /// Epoch ms.
    pub created_at: i64,
    /// Epoch ms.
    pub updated_at: i64,
    /// Extra 30-minute units booked (and approved on site).
    pub extra_units: i64,
    /// The code the customer gives the helper on arrival.
    pub start_code: String,
    /// The code the customer enters on the helper's phone to sign the job off.
    pub signoff_code: String,
    /// Extra units the helper proposed on site, awaiting the customer's approval.
    pub pending_extra_units: Option<i64>,
    /// A proposed new start (epoch ms), awaiting the other party.
    pub pending_start: Option<i64>,
    /// Who proposed the pending change (`customer` or `helper`).
    pub pending_by: Option<String>,
    /// Why a visit failed.
    pub failure_cause: Option<String>,
    /// The locked quote, JSON (`quartier_pricing::Quote`).
    pub quote: String,
    /// The policy version pinned at booking time.
    pub policy_version: i64,
    /// invoice, cash or card, once chosen.
    pub payment_method: Option<String>,
    /// Epoch ms, once paid.
    pub paid_at: Option<i64>,
    /// Epoch ms, once done.
    pub completed_at: Option<i64>,
}

const COLUMNS: &str = "id, customer_id, helper_id, service_slug, service_name, address, starts_at, ends_at,
    blocked_from, blocked_to, time_zone, state, price_rappen, created_at, updated_at, extra_units, start_code,
    signoff_code, pending_extra_units, pending_start, pending_by, failure_cause, quote, policy_version,
    payment_method, paid_at, completed_at";

/// Serialises a helper's booking writes for the rest of the transaction. On PostgreSQL an
/// advisory lock per helper, so concurrent overlapping bookings queue instead of waiting on each
/// other inside the exclusion constraint (which can deadlock); SQLite's `BEGIN IMMEDIATE` already
/// serialises every write.
pub async fn lock_helper(conn: &mut Conn, backend: crate::Backend, helper_id: &str) -> Result<(), StoreError> {
    if backend == crate::Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))").bind(helper_id).execute(conn).await?;
    }
    Ok(())
}

/// Inserts a booking; an overlap with the helper's other bookings is [`StoreError::SlotTaken`].
pub async fn insert(conn: &mut Conn, b: &BookingRow) -> Result<(), StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO bookings ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
             $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27)"
    ));
    sqlx::query(sql)
        .bind(&b.id)
        .bind(&b.customer_id)
        .bind(&b.helper_id)
        .bind(&b.service_slug)
        .bind(&b.service_name)
        .bind(&b.address)
        .bind(b.starts_at)
        .bind(b.ends_at)
        .bind(b.blocked_from)
        .bind(b.blocked_to)
        .bind(&b.time_zone)
        .bind(&b.state)
        .bind(b.price_rappen)
        .bind(b.created_at)
        .bind(b.updated_at)
        .bind(b.extra_units)
        .bind(&b.start_code)
        .bind(&b.signoff_code)
        .bind(b.pending_extra_units)
        .bind(b.pending_start)
        .bind(&b.pending_by)
        .bind(&b.failure_cause)
        .bind(&b.quote)
        .bind(b.policy_version)
        .bind(&b.payment_method)
        .bind(b.paid_at)
        .bind(b.completed_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// One booking.
pub async fn get(conn: &mut Conn, id: &str) -> Result<Option<BookingRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM bookings WHERE id = $1"));
    Ok(sqlx::query_as(sql).bind(id).fetch_optional(conn).await?)
}

/// Bookings a user is party to (all bookings for `None`), newest first, before `cursor`, optionally
/// in one state.
pub async fn list(
    conn: &mut Conn,
    party: Option<&str>,
    state: Option<&str>,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Vec<BookingRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM bookings
         WHERE ($1 IS NULL OR customer_id = $1 OR helper_id = $1)
           AND ($2 IS NULL OR state = $2)
           AND ($3 IS NULL OR id < $3)
         ORDER BY id DESC LIMIT $4"
    ));
    Ok(sqlx::query_as(sql).bind(party).bind(state).bind(cursor).bind(limit).fetch_all(conn).await?)
}

/// Requests of a customer still waiting for an answer: bookings asked of a chosen helper and
/// "any helper nearby" requests being offered.
pub async fn open_requests_of(conn: &mut Conn, customer_id: &str) -> Result<i64, StoreError> {
    let a: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bookings WHERE customer_id = $1 AND state = 'requested'")
        .bind(customer_id)
        .fetch_one(&mut *conn)
        .await?;
    let b: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM requests WHERE customer_id = $1 AND state = 'open'")
        .bind(customer_id)
        .fetch_one(conn)
        .await?;
    Ok(a + b)
}

/// A helper's bookings starting from `since` (epoch ms), by start.
pub async fn of_helper_since(conn: &mut Conn, helper_id: &str, since: i64) -> Result<Vec<BookingRow>, StoreError> {
    let sql =
        sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM bookings WHERE helper_id = $1 AND starts_at >= $2 ORDER BY starts_at, id"));
    Ok(sqlx::query_as(sql).bind(helper_id).bind(since).fetch_all(conn).await?)
}

/// Moves a booking from `from` to `to`. `false` when the booking was no longer in `from`
/// (someone else moved it first): the caller reports a conflict.
pub async fn set_state(conn: &mut Conn, id: &str, from: &str, to: &str, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query("UPDATE bookings SET state = $3, updated_at = $4 WHERE id = $1 AND state = $2")
        .bind(id)
        .bind(from)
        .bind(to)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Writes the fields a same-state step changes (proposals, approvals, reschedules, causes). The
/// state guard makes a concurrent change lose: `false` means the booking moved meanwhile.
pub async fn update_details(conn: &mut Conn, b: &BookingRow, expected_state: &str, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE bookings SET state = $3, starts_at = $4, ends_at = $5, blocked_from = $6, blocked_to = $7,
             price_rappen = $8, extra_units = $9, pending_extra_units = $10, pending_start = $11, pending_by = $12,
             failure_cause = $13, updated_at = $14, quote = $15, payment_method = $16, paid_at = $17, completed_at = $18,
             helper_id = $19
         WHERE id = $1 AND state = $2",
    )
    .bind(&b.id)
    .bind(expected_state)
    .bind(&b.state)
    .bind(b.starts_at)
    .bind(b.ends_at)
    .bind(b.blocked_from)
    .bind(b.blocked_to)
    .bind(b.price_rappen)
    .bind(b.extra_units)
    .bind(b.pending_extra_units)
    .bind(b.pending_start)
    .bind(&b.pending_by)
    .bind(&b.failure_cause)
    .bind(now)
    .bind(&b.quote)
    .bind(&b.payment_method)
    .bind(b.paid_at)
    .bind(b.completed_at)
    .bind(&b.helper_id)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// One entry of a booking's timeline.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    /// UUIDv7.
    pub id: String,
    /// The booking.
    pub booking_id: String,
    /// Epoch ms.
    pub at: i64,
    /// Who acted (a user id), if a person.
    pub actor_id: Option<String>,
    /// customer, helper, operator or system.
    pub actor_role: String,
    /// What was done (`request` or a transition's action).
    pub action: String,
    /// State before, if any.
    pub from_state: Option<String>,
    /// State after.
    pub to_state: String,
    /// Free text (a reason).
    pub note: Option<String>,
}

/// Appends to a booking's timeline.
pub async fn insert_event(conn: &mut Conn, e: &EventRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO booking_events (id, booking_id, at, actor_id, actor_role, action, from_state, to_state, note)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&e.id)
    .bind(&e.booking_id)
    .bind(e.at)
    .bind(&e.actor_id)
    .bind(&e.actor_role)
    .bind(&e.action)
    .bind(&e.from_state)
    .bind(&e.to_state)
    .bind(&e.note)
    .execute(conn)
    .await?;
    Ok(())
}

/// A booking's timeline, oldest first.
pub async fn events(conn: &mut Conn, booking_id: &str) -> Result<Vec<EventRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, booking_id, at, actor_id, actor_role, action, from_state, to_state, note
         FROM booking_events WHERE booking_id = $1 ORDER BY at, id",
    )
    .bind(booking_id)
    .fetch_all(conn)
    .await?)
}
