//! Raw rows for the operators' KPIs, coverage map, booking list and audit log. The figures are
//! computed in Rust from these rows (`quartier_api::insights`), so both backends count alike.

use crate::{Conn, StoreError};

/// One unit of demand: a request to a chosen helper (a booking) or to "any helper nearby".
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DemandRow {
    /// Booking or request id.
    pub id: String,
    /// When the customer asked (epoch ms).
    pub created_at: i64,
    /// The address (to place direct bookings); empty for broadcasts.
    pub address: String,
    /// Broadcast requests know their place.
    pub lat: Option<f64>,
    /// Broadcast requests know their place.
    pub lon: Option<f64>,
    /// When a helper accepted (epoch ms), if one did.
    pub accepted_at: Option<i64>,
    /// The booking's state, if a booking exists.
    pub state: Option<String>,
    /// The customer's rating of the helper, if given.
    pub rating: Option<i64>,
    /// Whether a dispute was opened.
    pub disputed: i64,
}

/// Demand created in `[from, to)`.
pub async fn demand(conn: &mut Conn, from: i64, to: i64) -> Result<Vec<DemandRow>, StoreError> {
    let mut rows: Vec<DemandRow> = sqlx::query_as(
        "SELECT r.id AS id, r.created_at AS created_at, '' AS address, r.lat AS lat, r.lon AS lon,
                b.created_at AS accepted_at, b.state AS state,
                (SELECT CAST(v.rating AS BIGINT) FROM reviews v WHERE v.booking_id = r.id AND v.author_role = 'customer') AS rating,
                (SELECT COUNT(*) FROM disputes d WHERE d.booking_id = r.id) AS disputed
         FROM requests r LEFT JOIN bookings b ON b.id = r.id
         WHERE r.created_at >= $1 AND r.created_at < $2",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await?;
    let direct: Vec<DemandRow> = sqlx::query_as(
        "SELECT b.id AS id, b.created_at AS created_at, b.address AS address, CAST(NULL AS DOUBLE PRECISION) AS lat,
                CAST(NULL AS DOUBLE PRECISION) AS lon,
                (SELECT MIN(e.at) FROM booking_events e WHERE e.booking_id = b.id AND e.action = 'accept') AS accepted_at,
                b.state AS state,
                (SELECT CAST(v.rating AS BIGINT) FROM reviews v WHERE v.booking_id = b.id AND v.author_role = 'customer') AS rating,
                (SELECT COUNT(*) FROM disputes d WHERE d.booking_id = b.id) AS disputed
         FROM bookings b
         WHERE b.created_at >= $1 AND b.created_at < $2 AND NOT EXISTS (SELECT 1 FROM requests r WHERE r.id = b.id)",
    )
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?;
    rows.extend(direct);
    rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(rows)
}

/// A booking as the operators' list shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BookingLine {
    /// Id.
    pub id: String,
    /// State.
    pub state: String,
    /// Service name.
    pub service_name: String,
    /// Customer id and name.
    pub customer_id: String,
    /// Customer's name.
    pub customer_name: String,
    /// Helper id.
    pub helper_id: String,
    /// Helper's name.
    pub helper_name: String,
    /// Epoch ms.
    pub starts_at: i64,
    /// Rappen.
    pub price_rappen: i64,
    /// Epoch ms.
    pub created_at: i64,
}

/// Bookings, newest start first, optionally in one state, before the cursor `(starts_at, id)`.
pub async fn bookings(
    conn: &mut Conn,
    state: Option<&str>,
    before: Option<(i64, String)>,
    limit: i64,
) -> Result<Vec<BookingLine>, StoreError> {
    let (at, id) = before.unwrap_or((i64::MAX, String::new()));
    Ok(sqlx::query_as(
        "SELECT b.id, b.state, b.service_name, b.customer_id, c.name AS customer_name, b.helper_id, h.name AS helper_name,
                b.starts_at, b.price_rappen, b.created_at
         FROM bookings b JOIN users c ON c.id = b.customer_id JOIN users h ON h.id = b.helper_id
         WHERE ($1 = '' OR b.state = $1) AND (b.starts_at < $2 OR (b.starts_at = $2 AND ($3 = '' OR b.id < $3)))
         ORDER BY b.starts_at DESC, b.id DESC LIMIT $4",
    )
    .bind(state.unwrap_or(""))
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// An audit entry with the operator's name.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditLine {
    /// Id (UUIDv7, so time-ordered).
    pub id: String,
    /// Epoch ms.
    pub at: i64,
    /// The operator.
    pub operator_id: String,
    /// Their name.
    pub operator_name: String,
    /// What, e.g. `helper.approve`, `booking.reassign`, `dispute.resolve`.
    pub action: String,
    /// The helper, booking or dispute acted on.
    pub subject_id: String,
    /// Why.
    pub reason: String,
}

/// Audit entries, newest first, before the cursor id.
pub async fn audit(conn: &mut Conn, before: Option<&str>, limit: i64) -> Result<Vec<AuditLine>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT a.id, a.at, a.operator_id, COALESCE(u.name, '') AS operator_name, a.action, a.subject_id, a.reason
         FROM audit_log a LEFT JOIN users u ON u.id = a.operator_id
         WHERE ($1 = '' OR a.id < $1) ORDER BY a.id DESC LIMIT $2",
    )
    .bind(before.unwrap_or(""))
    .bind(limit)
    .fetch_all(conn)
    .await?)
}
