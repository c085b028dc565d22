//! Disputes about a visit and their photos.
//!
//! Invariant: at most one dispute per booking (unique), a decision only moves an open dispute
//! (a conditional update), and the caller writes its ledger entries and audit entry in the same
//! transaction.

use crate::{Conn, StoreError};

/// A dispute row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DisputeRow {
    /// Id.
    pub id: String,
    /// The booking disputed.
    pub booking_id: String,
    /// `customer` or `helper`.
    pub opened_by: String,
    /// The user who opened it.
    pub opened_by_user: String,
    /// A reason code.
    pub reason: String,
    /// The opener's text.
    pub text: String,
    /// The customer's statement (the opener's text when the customer opened it).
    pub customer_statement: Option<String>,
    /// The helper's statement.
    pub helper_statement: Option<String>,
    /// `open` or `resolved`.
    pub status: String,
    /// `payout`, `partial_refund` or `refund` once decided.
    pub outcome: Option<String>,
    /// What was refunded.
    pub refund_rappen: Option<i64>,
    /// The penalty charged to the helper.
    pub penalty_rappen: Option<i64>,
    /// The operator's note to both parties.
    pub decision_note: Option<String>,
    /// The deciding operator.
    pub decided_by: Option<String>,
    /// Epoch ms.
    pub opened_at: i64,
    /// Epoch ms.
    pub resolved_at: Option<i64>,
}

const COLUMNS: &str = "id, booking_id, opened_by, opened_by_user, reason, text, customer_statement, helper_statement, status, outcome, \
                       refund_rappen, penalty_rappen, decision_note, decided_by, opened_at, resolved_at";

/// Opens a dispute; `false` when the booking already has one.
pub async fn open(conn: &mut Conn, d: &DisputeRow) -> Result<bool, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO disputes ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', NULL, NULL, NULL, NULL, NULL, $9, NULL)
         ON CONFLICT (booking_id) DO NOTHING"
    ));
    let r = sqlx::query(sql)
        .bind(&d.id)
        .bind(&d.booking_id)
        .bind(&d.opened_by)
        .bind(&d.opened_by_user)
        .bind(&d.reason)
        .bind(&d.text)
        .bind(&d.customer_statement)
        .bind(&d.helper_statement)
        .bind(d.opened_at)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// One dispute.
pub async fn get(conn: &mut Conn, id: &str) -> Result<Option<DisputeRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM disputes WHERE id = $1"));
    Ok(sqlx::query_as(sql).bind(id).fetch_optional(conn).await?)
}

/// The dispute of a booking.
pub async fn of_booking(conn: &mut Conn, booking_id: &str) -> Result<Option<DisputeRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM disputes WHERE booking_id = $1"));
    Ok(sqlx::query_as(sql).bind(booking_id).fetch_optional(conn).await?)
}

/// Whether a booking has an open dispute (which holds the helper's payout).
pub async fn is_open_for(conn: &mut Conn, booking_id: &str) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM disputes WHERE booking_id = $1 AND status = 'open'")
        .bind(booking_id)
        .fetch_one(conn)
        .await?;
    Ok(n > 0)
}

/// Disputes in a status, oldest first, after `cursor` (an `opened_at|id` pair).
pub async fn list(conn: &mut Conn, status: &str, after: Option<(i64, String)>, limit: i64) -> Result<Vec<DisputeRow>, StoreError> {
    let (at, id) = after.unwrap_or((i64::MIN, String::new()));
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM disputes WHERE status = $1 AND (opened_at > $2 OR (opened_at = $2 AND id > $3))
         ORDER BY opened_at, id LIMIT $4"
    ));
    Ok(sqlx::query_as(sql).bind(status).bind(at).bind(id).bind(limit).fetch_all(conn).await?)
}

/// Records a party's statement while the dispute is open; `false` when it is not open.
pub async fn set_statement(conn: &mut Conn, id: &str, party: &str, text: &str) -> Result<bool, StoreError> {
    let sql = match party {
        "customer" => "UPDATE disputes SET customer_statement = $2 WHERE id = $1 AND status = 'open'",
        _ => "UPDATE disputes SET helper_statement = $2 WHERE id = $1 AND status = 'open'",
    };
    Ok(sqlx::query(sql).bind(id).bind(text).execute(conn).await?.rows_affected() == 1)
}

/// The decision; `false` when the dispute was no longer open.
#[allow(clippy::too_many_arguments)]
pub async fn resolve(
    conn: &mut Conn,
    id: &str,
    outcome: &str,
    refund_rappen: i64,
    penalty_rappen: i64,
    note: &str,
    operator: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE disputes SET status = 'resolved', outcome = $2, refund_rappen = $3, penalty_rappen = $4, decision_note = $5,
             decided_by = $6, resolved_at = $7
         WHERE id = $1 AND status = 'open'",
    )
    .bind(id)
    .bind(outcome)
    .bind(refund_rappen)
    .bind(penalty_rappen)
    .bind(note)
    .bind(operator)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// A photo's metadata.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PhotoMeta {
    /// Id.
    pub id: String,
    /// The dispute.
    pub dispute_id: String,
    /// The uploading user.
    pub uploaded_by: String,
    /// image/jpeg, image/png or image/webp.
    pub content_type: String,
    /// Bytes.
    pub size_bytes: i64,
    /// Epoch ms.
    pub created_at: i64,
}

/// Adds a photo unless the dispute has `max` already; `false` when full.
#[allow(clippy::too_many_arguments)]
pub async fn add_photo(
    conn: &mut Conn,
    id: &str,
    dispute_id: &str,
    uploaded_by: &str,
    content_type: &str,
    data: &[u8],
    max: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM dispute_photos WHERE dispute_id = $1").bind(dispute_id).fetch_one(&mut *conn).await?;
    if n >= max {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO dispute_photos (id, dispute_id, uploaded_by, content_type, size_bytes, data, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(dispute_id)
    .bind(uploaded_by)
    .bind(content_type)
    .bind(i64::try_from(data.len()).unwrap_or(i64::MAX))
    .bind(data.to_vec())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(true)
}

/// A dispute's photos, oldest first.
pub async fn photos(conn: &mut Conn, dispute_id: &str) -> Result<Vec<PhotoMeta>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, dispute_id, uploaded_by, content_type, size_bytes, created_at FROM dispute_photos
         WHERE dispute_id = $1 ORDER BY created_at, id",
    )
    .bind(dispute_id)
    .fetch_all(conn)
    .await?)
}

/// One photo's type and bytes, if it belongs to the dispute.
pub async fn photo(conn: &mut Conn, dispute_id: &str, photo_id: &str) -> Result<Option<(String, Vec<u8>)>, StoreError> {
    Ok(sqlx::query_as("SELECT content_type, data FROM dispute_photos WHERE id = $1 AND dispute_id = $2")
        .bind(photo_id)
        .bind(dispute_id)
        .fetch_optional(conn)
        .await?)
}
